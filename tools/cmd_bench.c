/* vkattn bench: times attention (SPEC section 4). On a Vulkan context each run is one submission
 * of [timestamp, vkattn_cmd_attention, timestamp], waited for with a fence, after warm-up runs;
 * --cpu adds wall-clock rows of the CPU reference, --peak measures the device's peaks first and
 * puts each row on its roofline. Prints a table; --json / --csv write the same rows, each file
 * complete or not at all. --compare puts such JSON files side by side (bench_report.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_cases.h"
#include "bench_gpu.h"
#include "bench_peak.h"
#include "bench_report.h"
#include "cli.h"
#include "commands.h"
#include "outfile.h"
#include "ref_threads.h"
#include "src/mask.h"

#define CMD "bench"
#define CPU_REPEATS 3 /* the CPU is slow: at most this many timed runs, no warm-up */

/* ---------------------------------------------------------------------------------------------
 * Options and problems
 * ------------------------------------------------------------------------------------------- */

typedef struct bench_opts {
    vkattn_context_desc device;
    int warmup, repeat;
    bool cpu, peak;
    bench_selection sel;
    const char *json, *csv;
    const char *tuning;            /* --tuning FILE */
    const char **compare;          /* --compare FILE...: argv entries (malloc'd array) */
    int n_compare;
    char other[64];                /* the first option that is not --compare, or "" */
    int threads;                   /* --cpu: threads of the CPU reference; 0 = every CPU */
} bench_opts;

static void bench_help(void)
{
    printf(
        "usage: vkattn bench [--shape B,Hq,Hkv,Sq,Skv,D]... [--suite NAME]... [options]\n"
        "       vkattn bench --compare A.json B.json [C.json ...]\n"
        "\n"
        "Times attention on a device: GPU timestamps around each run (after warm-up), median,\n"
        "min and max of the repeats, GFLOP/s (4 * Hq * D * visible pairs, and the dense count\n"
        "4 * B * Hq * Sq * Skv * D) and GB/s (Q, K, V and O moved once). Q, K, V are N(0,1).\n"
        "\n"
        "%s"
        "  --warmup N                 untimed runs before the timed ones (default 2)\n"
        "  --repeat N                 timed runs (default 10)\n"
        "  --peak                     first measure the device's f32 and f16 FMA throughput and\n"
        "                             its memory bandwidth with micro-kernels (about a second),\n"
        "                             then give each row as a percentage of its roofline: rows\n"
        "                             above the ridge point (FLOPs per byte) against the f32\n"
        "                             FLOP/s (the kernels compute in f32), the others against\n"
        "                             the bandwidth (the higher of a streaming read through a\n"
        "                             texel view and a streaming copy)\n"
        "  --cpu                      also time the CPU reference (wall clock, at most %d runs,\n"
        "                             no warm-up; the CPU device's rows already are the CPU)\n"
        "  --threads N                --cpu: the CPU reference on N threads (default: one per\n"
        "                             online CPU; the CPU device always runs on one)\n"
        "  --device D                 a Vulkan device index (see vkattn info) or cpu; on the CPU\n"
        "                             vkattn_attention is timed by the wall clock\n"
        "  --parts N                  N invocations (1, 2, 4, 8) share each key in the split-KV\n"
        "                             kernel, where the device allows (default: per device)\n"
        "  --kernel K                 auto (default), rowwise, split or decode: the kernel for\n"
        "                             every problem (decode: the split-KV kernel, even for\n"
        "                             prefill)\n"
        "  --tuning FILE              kernel shapes from vkattn tune (the lines for this\n"
        "                             device; --kernel and --parts still win)\n"
        "  --validation               enable VK_LAYER_KHRONOS_validation (when installed); any\n"
        "                             message makes the exit status 1\n"
        "  --json FILE, --csv FILE    write the rows with the device, driver and build\n"
        "  --compare FILE...          read the --json files of earlier runs and print their\n"
        "                             rows side by side, matched by problem, with the ratio of\n"
        "                             each file's median to the first file's ('-': no such row)\n"
        "\n"
        "Exit status: 0 success, 1 a problem failed to run (the other rows are still written),\n"
        "2 bad usage or input, or an output file that could not be written.\n",
        bench_selection_help, CPU_REPEATS);
}


/* 0: run; 1: help was printed; -1: error printed. */
static int parse_args(int argc, char **argv, bench_opts *o)
{
    cli c;
    int r, m;
    cli_init(&c, CMD, argc, argv);
    while ((r = cli_next(&c)) > 0) {
        const char *text;
        if (cli_is(&c, "--help") || cli_is(&c, "-h")) {
            bench_help();
            return 1;
        }
        if (cli_is(&c, "--compare")) {
            /* The files are the arguments up to the next option. */
            if (o->compare)
                return cli_error(CMD, "--compare: given twice");
            if (!(o->compare = calloc((size_t)argc, sizeof *o->compare)))
                return cli_error(CMD, "out of memory");
            if (c.attached)
                o->compare[o->n_compare++] = c.attached;
            while (c.next < c.argc && strncmp(c.argv[c.next], "--", 2) != 0)
                o->compare[o->n_compare++] = c.argv[c.next++];
            continue;
        }
        if (!o->other[0])
            snprintf(o->other, sizeof o->other, "%s", c.flag);
        if ((m = bench_selection_option(&c, &o->sel)) != 0) {
            if (m < 0)
                return -1;
        } else if ((m = bench_timing_option(&c, &o->warmup, &o->repeat)) != 0) {
            if (m < 0)
                return -1;
        } else if (cli_is(&c, "--cpu") || cli_is(&c, "--peak")) {
            if (cli_switch(&c))
                return -1;
            *(cli_is(&c, "--cpu") ? &o->cpu : &o->peak) = true;
        } else if ((m = cli_context_option(&c, &o->device)) != 0) {
            if (m < 0)
                return -1;
        } else if (cli_is(&c, "--tuning")) {
            if (!(o->tuning = cli_value(&c)))
                return -1;
        } else if (cli_is(&c, "--threads")) {
            if (cli_parse_int(&c, cli_value(&c), 1, 1024, &o->threads))
                return -1;
        } else if (cli_is(&c, "--json") || cli_is(&c, "--csv")) {
            if (!(text = cli_value(&c)))
                return -1;
            *(cli_is(&c, "--json") ? &o->json : &o->csv) = text;
        } else {
            return cli_unknown(&c);
        }
    }
    if (r < 0)
        return -1;
    if (o->compare) {
        if (o->other[0])
            return cli_error(CMD, "--compare: takes no other option (got '%s')", o->other);
        if (o->n_compare < 2)
            return cli_error(CMD, "--compare: expected two or more JSON files, got %d",
                             o->n_compare);
        return 0;
    }
    if (bench_selection_check(CMD, &o->sel))
        return -1;
    if (o->threads && !o->cpu)
        return cli_error(CMD, "--threads: applies to the CPU reference rows; give --cpu");
    if (o->json && o->csv && strcmp(o->json, o->csv) == 0)
        return cli_error(CMD, "--csv: names the same file as --json ('%s')", o->json);
    if ((o->json && cli_check_output(CMD, "--json", o->json))
        || (o->csv && cli_check_output(CMD, "--csv", o->csv)))
        return -1;
    return 0;
}

/* The row of a case from its n timed runs (ms is sorted in place), on the roofline of peak
 * when there is one. */
static void fill_row(bench_row *row, const bench_case *c, double *ms, int n,
                     const bench_peak *peak)
{
    const vkattn_problem *p = &c->p;
    row->ms_median = bench_sig6(bench_sort_median(ms, n));
    row->ms_min = bench_sig6(ms[0]);
    row->ms_max = bench_sig6(ms[n - 1]);
    row->repeats = n;
    uint64_t pairs = 0;
    double dense = 0.0; /* pairs of the items' Sq x Skv rectangles (packed: their own) */
    for (uint32_t b = 0; b < p->batch; ++b) {
        const vkattn__seq_arrays a = {c->q_lens, c->kv_lens, c->q_start, c->kv_start, c->cu_q,
                                      c->cu_kv};
        mask_rule rule = vkattn__mask_rule_for(p, &a, b);
        pairs += vkattn__mask_visible_pairs(&rule);
        dense += p->packed ? (double)rule.ql * rule.kl : (double)p->seq_q * p->seq_kv;
    }
    row->visible_pairs = pairs;
    /* 2 D per score, 2 Dv per P V product */
    const double dd = p->head_dim + (p->head_dim_v ? p->head_dim_v : p->head_dim);
    double flops_visible = 2.0 * p->heads_q * dd * (double)pairs;
    double flops_dense = 2.0 * p->heads_q * dense * dd;
    double bytes = (p->dtype == VKATTN_DTYPE_F32 ? 4.0 : 2.0) *
                   (double)(vkattn_problem_extent(p, 'q') + vkattn_problem_extent(p, 'k') +
                            vkattn_problem_extent(p, 'v') + vkattn_problem_extent(p, 'o'));
    double per_s = row->ms_median > 0.0 ? 1e3 / row->ms_median : 0.0;
    row->gflops_visible = bench_sig6(flops_visible * per_s * 1e-9);
    row->gflops_dense = bench_sig6(flops_dense * per_s * 1e-9);
    row->gbps = bench_sig6(bytes * per_s * 1e-9);
    row->flop_per_byte = bench_sig6(bytes > 0.0 ? flops_visible / bytes : 0.0);
    row->bound = NULL;
    if (peak)
        row->pct_of_peak = bench_sig6(bench_peak_percent(peak, flops_visible, bytes,
                                                         row->gflops_visible, row->gbps,
                                                         &row->bound));
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* Times the CPU reference on threads threads (ctx NULL) or vkattn_attention on a CPU context by
 * the wall clock. */
static int cpu_time(vkattn_context ctx, const vkattn_problem *p, const vkattn_host_tensors *t,
                    unsigned threads, int runs, double *ms, char *err, size_t err_size)
{
    for (int r = 0; r < runs; ++r) {
        double t0 = now_ms();
        vkattn_result res = ctx ? vkattn_attention(ctx, p, t)
                                : (vkattn_result)ref_parallel(p, t, threads, err, err_size);
        ms[r] = now_ms() - t0;
        if (res != VKATTN_SUCCESS) {
            if (ctx)
                snprintf(err, err_size, "%s: %s", vkattn_result_string(res),
                         vkattn_context_message(ctx));
            return -1;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Output: the table, and the files (bench_report.c writes their text)
 * ------------------------------------------------------------------------------------------- */
/* width: of the case column, the longest case name; peak: the roofline columns. */
static void print_header(int width, bool peak)
{
    printf("%-*s %30s %10s %10s %9s", width, "case", "ms median (min, max)", "GFLOP/s", "dense",
           "GB/s");
    if (peak)
        printf(" %7s %-7s", "% peak", "bound");
    printf("  %s\n", "variant");
}

static void print_row(int width, const bench_case *c, const bench_row *r, bool peak)
{
    char name[160], ms[64];
    bench_case_name(c, name, sizeof name);
    snprintf(ms, sizeof ms, "%.3f (%.3f, %.3f)", r->ms_median, r->ms_min, r->ms_max);
    printf("%-*s %30s %10.2f %10.2f %9.3f", width, name, ms, r->gflops_visible, r->gflops_dense,
           r->gbps);
    if (peak && r->bound)
        printf(" %6.1f%% %-7s", r->pct_of_peak, r->bound);
    else if (peak)
        printf(" %7s %-7s", "-", "-");
    printf("  %s", r->variant);
    if (r->threads)
        printf(" (%u thread%s)", r->threads, r->threads > 1 ? "s" : "");
    printf("\n");
    fflush(stdout);
}

static void print_peak(const bench_peak *pk)
{
    printf("peak: f32 %.1f GFLOP/s, f16 ", pk->f32_gflops);
    if (pk->f16_missing)
        printf("not measured (%s)", pk->f16_missing);
    else
        printf("%.1f GFLOP/s", pk->f16_gflops);
    printf(", bandwidth %.2f GB/s (read ", pk->bandwidth_gbps);
    if (pk->read_gbps > 0.0) /* 0: the device's texel views cannot span the read buffer */
        printf("%.2f", pk->read_gbps);
    else
        printf("not measured");
    printf(", copy %.2f); ridge point %.1f FLOP/byte\n", pk->copy_gbps,
           pk->bandwidth_gbps > 0.0 ? pk->f32_gflops / pk->bandwidth_gbps : 0.0);
}

/* Writes text to a fsync'd temporary file beside path, to be renamed by outfile_commit. */
static int write_pending(const char *flag, const char *path, const char *text, size_t len,
                         outfile *out)
{
    if (outfile_begin(out, path) == 0 && outfile_write(out, text, len) == 0
        && outfile_finish(out) == 0)
        return 0;
    outfile_discard(out);
    if (!out->step)
        return cli_error(CMD, "%s: out of memory", flag);
    if (strcmp(out->step, "create") == 0)
        return cli_error(CMD, "%s: cannot create a file beside '%s': %s", flag, path,
                         strerror(out->error));
    return cli_error(CMD, "%s: cannot write '%s': %s", flag, path, strerror(out->error));
}

/* Writes the requested files: both appear complete, or neither. */
static int write_outputs(const bench_opts *o, const bench_meta *m, const bench_case *cases,
                         const bench_row *rows, size_t n)
{
    outfile pj = {0}, pc = {0};
    int rc = -1;
    char *jtext = NULL, *ctext = NULL;
    size_t clen = 0;
    if (o->json) {
        if (!(jtext = bench_json_text(m, cases, rows, n))) {
            cli_error(CMD, "--json: out of memory");
            goto done;
        }
        if (write_pending("--json", o->json, jtext, strlen(jtext), &pj))
            goto done;
    }
    if (o->csv) {
        if (!(ctext = bench_csv_text(m, cases, rows, n, &clen))) {
            cli_error(CMD, "--csv: out of memory");
            goto done;
        }
        if (write_pending("--csv", o->csv, ctext, clen, &pc))
            goto done;
    }
    if (o->json && outfile_commit(&pj)) {
        cli_error(CMD, "--json: %s: cannot move the written file into place: %s", o->json,
                  strerror(pj.error));
        goto done;
    }
    if (o->csv && outfile_commit(&pc)) {
        if (o->json)
            unlink(o->json);
        cli_error(CMD, "--csv: %s: cannot move the written file into place: %s%s", o->csv,
                  strerror(pc.error), o->json ? " (the --json file was removed again)" : "");
        goto done;
    }
    rc = 0;
done:
    outfile_discard(&pj);
    outfile_discard(&pc);
    free(jtext);
    free(ctext);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * The command
 * ------------------------------------------------------------------------------------------- */
/* One problem of a group timed in turn (see with_prev in bench_report.h). */
#define GROUP_MAX 4
typedef struct group_item {
    char name[160];
    uint64_t largest;              /* bytes of its largest tensor */
    bool made, ok;                 /* host tensors made; prepared and timed without an error */
    host_data h;
    vkattn_host_tensors t;
    bench_work *w;                 /* Vulkan contexts: its buffers */
    double *ms;                    /* warm-up + repeat timings */
    char error[512];
} group_item;

int cmd_bench(int argc, char **argv)
{
    bench_opts o = {.warmup = 2, .repeat = 10};
    bench_case *cases = NULL;
    bench_row *rows = NULL;
    size_t n_cases = 0, n_rows = 0;
    vkattn_context ctx = NULL;
    bench_gpu *g = NULL;
    bench_peak peak;
    unsigned messages = 0, failed = 0, too_big = 0;
    char msg[512];
    int status = 2;

    int r = parse_args(argc, argv, &o);
    if (r || o.compare) {
        if (r == 0)
            status = bench_compare(CMD, o.compare, o.n_compare);
        free(o.sel.shapes);
        free(o.compare);
        return r > 0 ? 0 : r < 0 ? 2 : status;
    }
    if (bench_build_cases(CMD, &o.sel, &cases, &n_cases))
        goto done;
    rows = calloc(2 * n_cases, sizeof *rows);
    if (!rows) {
        cli_error(CMD, "out of memory");
        goto done;
    }

    o.device.on_message = cli_count_message;
    o.device.user = &messages;
    msg[0] = '\0';
    o.device.message = msg;
    o.device.message_size = sizeof msg;
    vkattn_result res = vkattn_context_create(&o.device, &ctx);
    if (res != VKATTN_SUCCESS) {
        cli_error(CMD, "cannot open the device: %s%s%s", vkattn_result_string(res),
                  msg[0] ? ": " : "", msg);
        status = res == VKATTN_ERROR_NO_DEVICE || res == VKATTN_ERROR_INVALID_ARGUMENT ? 2 : 1;
        goto done;
    }
    if (o.tuning && cli_load_tuning(CMD, ctx, o.tuning))
        goto done; /* status 2: the file is bad input */
    vkattn_device_info info;
    vkattn_context_device_info(ctx, &info);
    bench_meta meta = {.info = &info, .peak_asked = o.peak};
    snprintf(meta.api, sizeof meta.api, "%u.%u.%u", VK_API_VERSION_MAJOR(info.api_version),
             VK_API_VERSION_MINOR(info.api_version), VK_API_VERSION_PATCH(info.api_version));
    time_t now = time(NULL);
    struct tm tm;
    if (!gmtime_r(&now, &tm) || !strftime(meta.date, sizeof meta.date, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(meta.date, sizeof meta.date, "unknown");
    bool cpu_ctx = vkattn_context_is_cpu(ctx);
    if (!cpu_ctx) {
        if (bench_gpu_open(ctx, &g, msg, sizeof msg)) {
            cli_error(CMD, "%s", msg);
            status = 1;
            goto done;
        }
    }
    printf("device: %s (%s)%s\n", info.name, info.driver,
           cpu_ctx ? " -- no Vulkan device: timing vkattn_attention by the wall clock"
           : bench_gpu_has_timestamps(g) ? ""
           : " -- the queue has no timestamps: wall clock around submit and wait");
    if (o.peak && cpu_ctx) {
        printf("peak: not measured (the micro-kernels need a Vulkan device)\n");
    } else if (o.peak) {
        if (isatty(2))
            fprintf(stderr, "measuring the peaks ...\r");
        int pr = bench_peak_measure(ctx, &peak, msg, sizeof msg);
        if (isatty(2))
            fprintf(stderr, "\r\033[K");
        if (pr == 0) {
            peak.f32_gflops = bench_sig6(peak.f32_gflops);
            peak.f16_gflops = bench_sig6(peak.f16_gflops);
            peak.bandwidth_gbps = bench_sig6(peak.bandwidth_gbps);
            peak.read_gbps = bench_sig6(peak.read_gbps);
            peak.copy_gbps = bench_sig6(peak.copy_gbps);
            meta.peak = &peak;
            print_peak(&peak);
        } else {
            cli_error(CMD, "--peak: %s", msg);
            ++failed;
        }
    }
    int width = 4;
    for (size_t i = 0; i < n_cases; ++i) {
        char name[160];
        bench_case_name(&cases[i], name, sizeof name);
        if ((int)strlen(name) > width)
            width = (int)strlen(name);
    }
    print_header(width, o.peak);

    bool progress = isatty(2);
    int cpu_runs = o.repeat < CPU_REPEATS ? o.repeat : CPU_REPEATS;
    /* A case with with_prev is timed with the ones before it in turn: a repeat of each, then
     * the next (their warm-ups first), so that their ratios do not hang on the minute each ran
     * in. Rows and the CPU reference come after, in order. */
    for (size_t i = 0; i < n_cases;) {
        size_t end = i + 1;
        while (end < n_cases && end - i < GROUP_MAX && cases[end].with_prev)
            ++end;
        group_item items[GROUP_MAX];
        memset(items, 0, sizeof items);
        size_t live = 0;
        for (size_t k = i; k < end; ++k) {
            group_item *it = &items[k - i];
            const bench_case *c = &cases[k];
            bench_case_name(c, it->name, sizeof it->name);
            it->largest = bench_largest_tensor(&c->p);
            if (!cpu_ctx && it->largest > info.max_buffer_range) {
                ++too_big;
                continue;
            }
            if (progress)
                fprintf(stderr, "[%zu/%zu] %s ...\r", k + 1, n_cases, it->name);
            it->ms = calloc((size_t)(o.warmup + o.repeat), sizeof *it->ms);
            if (!it->ms || host_make(&c->p, 1000 + k, &it->h)) {
                snprintf(it->error, sizeof it->error, "out of memory for the host tensors");
                continue;
            }
            it->made = true;
            it->t = bench_case_tensors(c, &it->h);
            if (!cpu_ctx && bench_gpu_prepare(g, ctx, &c->p, &it->t, &it->w, it->error,
                                              sizeof it->error))
                continue;
            it->ok = true;
            ++live;
        }
        if (cpu_ctx) {
            for (size_t k = i; k < end; ++k)
                if (items[k - i].ok)
                    items[k - i].ok = cpu_time(ctx, &cases[k].p, &items[k - i].t, 0, cpu_runs,
                                               items[k - i].ms, items[k - i].error,
                                               sizeof items[k - i].error) == 0;
        } else {
            if (progress && live > 1)
                fprintf(stderr, "[%zu/%zu] %zu problems in turn ...\r", end, n_cases, live);
            const int turns = live > 1 ? o.repeat : 0;
            for (int turn = -1; turn < turns; ++turn)
                for (size_t k = 0; k < end - i; ++k) {
                    group_item *it = &items[k];
                    if (!it->ok)
                        continue;
                    /* Turn -1 is the warm-up (and, alone, the whole timing). */
                    const int warm = turn < 0 ? o.warmup : 0;
                    const int n = turn < 0 ? (live > 1 ? 0 : o.repeat) : 1;
                    it->ok = bench_gpu_run(g, it->w, warm, n, it->ms + (turn < 0 ? 0 : turn),
                                           it->error, sizeof it->error) == 0;
                }
        }
        if (progress)
            fprintf(stderr, "\r\033[K");
        for (size_t k = i; k < end; ++k) {
            group_item *it = &items[k - i];
            const bench_case *c = &cases[k];
            if (!cpu_ctx && it->largest > info.max_buffer_range) {
                printf("%-*s  left out: a tensor of %.0f MB, over the device's buffer range of "
                       "%.0f MB\n", width, it->name, (double)it->largest / 1e6,
                       (double)info.max_buffer_range / 1e6);
                continue;
            }
            bench_row *row = &rows[n_rows];
            row->case_index = k;
            if (cpu_ctx) {
                row->variant = "cpu-attention-wallclock";
                row->device = "cpu";
                row->threads = 1; /* the library starts no threads */
                row->timer = "wall-clock";
                if (it->ok)
                    fill_row(row, c, it->ms, cpu_runs, NULL);
            } else {
                vkattn_kernel kernel = VKATTN_KERNEL_AUTO;
                uint32_t splits = 1;
                vkattn_problem_kernel(ctx, &c->p, &kernel, &splits); /* the run checked it */
                row->variant = vkattn_kernel_name(kernel);
                row->splits = splits;
                row->device = info.name;
                row->timer = bench_gpu_has_timestamps(g) ? "gpu-timestamps" : "wall-clock";
                if (it->ok)
                    fill_row(row, c, it->ms, o.repeat, meta.peak);
            }
            if (it->ok) {
                print_row(width, c, &rows[n_rows++], o.peak);
            } else {
                cli_error(CMD, "%s: %s", it->name, it->error);
                ++failed;
            }
            if (o.cpu && !cpu_ctx && it->made) {
                row = &rows[n_rows];
                row->case_index = k;
                row->variant = "cpu-reference";
                row->device = "cpu";
                row->timer = "wall-clock";
                row->threads = ref_threads(&c->p, (unsigned)o.threads);
                if (progress)
                    fprintf(stderr, "[%zu/%zu] %s (CPU reference) ...\r", k + 1, n_cases,
                            it->name);
                bool ok = cpu_time(NULL, &c->p, &it->t, row->threads, cpu_runs, it->ms, msg,
                                   sizeof msg) == 0;
                if (progress)
                    fprintf(stderr, "\r\033[K");
                if (ok) {
                    /* The CPU reference is not the device whose peaks were measured. */
                    fill_row(row, c, it->ms, cpu_runs, NULL);
                    print_row(width, c, &rows[n_rows++], o.peak);
                } else {
                    cli_error(CMD, "%s (CPU reference): %s", it->name, msg);
                    ++failed;
                }
            }
        }
        for (size_t k = 0; k < end - i; ++k) {
            bench_gpu_release(g, items[k].w);
            if (items[k].made)
                host_free(&items[k].h);
            free(items[k].ms);
        }
        i = end;
    }
    if (too_big)
        printf("(%u problem(s) left out: larger than one buffer of the device can be)\n",
               too_big);
    if (messages)
        cli_error(CMD, "%u validation message(s)", messages);
    if (write_outputs(&o, &meta, cases, rows, n_rows))
        goto done;
    status = failed || messages ? 1 : 0;
done:
    bench_gpu_close(g);
    vkattn_context_destroy(ctx);
    bench_free_cases(cases, n_cases);
    free(rows);
    free(o.sel.shapes);
    free(o.compare);
    return status;
}
