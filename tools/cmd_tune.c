/* vkattn tune: searches the kernel shapes (vkattn_tuning) on the current device for the problems
 * of the bench suites, keeps a shape only where it beats the built-in choice on the sum of its
 * rows without losing on any of them, then times built-in and tuned side by side, row by row, and
 * writes the winners as a tuning file (vkattn_tuning_save) for `--tuning` and apps to load. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_cases.h"
#include "bench_gpu.h"
#include "cli.h"
#include "commands.h"
#include "outfile.h"

#define CMD "tune"
/* A shape is kept when it takes less than 97% of the best time so far over its rows and no row
 * takes more than 105% of that row's best: timings on shared machines move by a few percent. */
#define GAIN 0.97
#define SLACK 1.05

typedef struct tune_opts {
    vkattn_context_desc device;
    int warmup, repeat;
    bench_selection sel;
    const char *out;
} tune_opts;

static void tune_help(void)
{
    printf(
        "usage: vkattn tune [--shape B,Hq,Hkv,Sq,Skv,D]... [--suite NAME]... [options]\n"
        "\n"
        "Searches the kernel shapes (kernel, rows per workgroup, workgroup size, invocations\n"
        "per key, key split) on the device for the chosen problems, one parameter at a time,\n"
        "grouped by class (prefill or decode step), dtype and head size. A shape is kept when\n"
        "its rows take under %.0f%% of the best time so far and none takes over %.0f%% of its\n"
        "own best. Then every row is timed with the built-in and the tuned shapes side by side\n"
        "(a group whose shape is more than %.0f%% slower there on any row keeps the built-in\n"
        "one), and the winners are written as a tuning file (vkattn_tuning_save) for vkattn\n"
        "bench --tuning and vkattn_tuning_load.\n"
        "\n"
        "%s"
        "  --warmup N                 untimed runs before the timed ones (default 1)\n"
        "  --repeat N                 timed runs per shape and row (default 5; medians)\n"
        "  --device D                 a Vulkan device index (see vkattn info)\n"
        "  --validation               enable VK_LAYER_KHRONOS_validation (when installed)\n"
        "  --out FILE                 write the tuning file (complete or not at all); without\n"
        "                             it the text goes to stdout\n"
        "\n"
        "Exit status: 0 success, 1 a problem failed to run, 2 bad usage or an output file that\n"
        "could not be written.\n",
        100 * GAIN, 100 * SLACK, 100 * (SLACK - 1), bench_selection_help);
}

/* 0: run; 1: help was printed; -1: error printed. */
static int parse_args(int argc, char **argv, tune_opts *o)
{
    cli c;
    int r, m;
    cli_init(&c, CMD, argc, argv);
    while ((r = cli_next(&c)) > 0) {
        if (cli_is(&c, "--help") || cli_is(&c, "-h")) {
            tune_help();
            return 1;
        }
        if ((m = bench_selection_option(&c, &o->sel)) != 0) {
            if (m < 0)
                return -1;
        } else if ((m = bench_timing_option(&c, &o->warmup, &o->repeat)) != 0) {
            if (m < 0)
                return -1;
        } else if (cli_is(&c, "--validation")) {
            if (cli_switch(&c))
                return -1;
            o->device.validation = true;
        } else if (cli_is(&c, "--device")) {
            if (cli_parse_device(&c, cli_value(&c), &o->device))
                return -1;
            if (o->device.kind == VKATTN_DEVICE_CPU)
                return cli_error(CMD, "--device cpu: the CPU reference has no kernels to tune");
        } else if (cli_is(&c, "--out")) {
            if (!(o->out = cli_value(&c)) || cli_check_output(CMD, "--out", o->out))
                return -1;
        } else {
            return cli_unknown(&c);
        }
    }
    if (r < 0)
        return -1;
    return bench_selection_check(CMD, &o->sel);
}

/* One group: the rows that share a tuning slot. */
typedef struct group {
    vkattn_tuning_class cls;
    vkattn_dtype dtype;
    uint32_t head_dim;
    size_t *rows;          /* case indices */
    size_t n;
    vkattn_tuning best;    /* all zero: the built-in shape */
} group;

typedef struct tuner {
    tune_opts *o;
    vkattn_context ctx;
    bench_gpu *g;
    bench_case *cases;
    host_data *host;       /* per case */
    double *ms;            /* warmup + repeat */
} tuner;

/* The median time of case i with whatever tuning the context has now; -1 on failure (printed). */
static int time_case(tuner *t, size_t i, double *median)
{
    const bench_case *c = &t->cases[i];
    const host_data *h = &t->host[i];
    vkattn_host_tensors ht = bench_case_tensors(c, h);
    char msg[512], name[160];
    if (bench_gpu_time(t->g, t->ctx, &c->p, &ht, t->o->warmup, t->o->repeat, t->ms, msg,
                       sizeof msg)) {
        bench_case_name(c, name, sizeof name);
        return cli_error(CMD, "%s: %s", name, msg);
    }
    *median = bench_sort_median(t->ms, t->o->repeat);
    return 0;
}

/* Times every row of gr with tuning tu (NULL: built-in) into ms[]; 1 when the library refuses
 * tu on this device (not an error: that shape is skipped), -1 on failure. */
static int time_group(tuner *t, const group *gr, const vkattn_tuning *tu, double *ms)
{
    if (vkattn_tuning_set(t->ctx, gr->cls, gr->dtype, gr->head_dim, tu) != VKATTN_SUCCESS)
        return 1;
    for (size_t r = 0; r < gr->n; ++r)
        if (time_case(t, gr->rows[r], &ms[r]))
            return -1;
    return 0;
}

static double sum(const double *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; ++i)
        s += x[i];
    return s;
}

static void print_tuning(const char *label, const vkattn_tuning *t, double total)
{
    printf("    %-9s kernel=%s rows=%u workgroup=%u parts=%u split_target=%u texel=%u: %.3f ms\n",
           label, t->kernel ? vkattn_kernel_name(t->kernel) : "built-in", t->rows, t->workgroup, t->parts, t->split_target, t->texel,
           total);
}

/* The effective tuning of gr's slot with tu set, with the split counts of its rows in place of
 * split_target (which matters only through them); false when the library refuses tu. */
static bool plan_of(tuner *t, const group *gr, const vkattn_tuning *tu, vkattn_tuning *eff,
                    uint32_t *splits)
{
    if (vkattn_tuning_set(t->ctx, gr->cls, gr->dtype, gr->head_dim, tu) != VKATTN_SUCCESS ||
        vkattn_tuning_effective(t->ctx, gr->cls, gr->dtype, gr->head_dim, eff) != VKATTN_SUCCESS)
        return false;
    eff->split_target = 0;
    for (size_t r = 0; r < gr->n; ++r) {
        vkattn_kernel k;
        splits[r] = 0;
        vkattn_problem_kernel(t->ctx, &t->cases[gr->rows[r]].p, &k, &splits[r]);
    }
    return true;
}

/* Whether cand runs every row of gr as the best shape so far does. */
static bool same_plan(tuner *t, const group *gr, const vkattn_tuning *cand)
{
    vkattn_tuning a, b;
    uint32_t *sa = calloc(2 * gr->n, sizeof *sa);
    bool same = sa && plan_of(t, gr, &gr->best, &a, sa) && plan_of(t, gr, cand, &b, sa + gr->n) &&
                memcmp(&a, &b, sizeof a) == 0 && memcmp(sa, sa + gr->n, gr->n * sizeof *sa) == 0;
    free(sa);
    return same;
}

/* Coordinate search from the built-in shape: each parameter in turn over its values, the
 * others held at the best so far. */
static int search(tuner *t, group *gr, const vkattn_device_info *info)
{
    double *best = calloc(gr->n, sizeof *best), *ms = calloc(gr->n, sizeof *ms);
    int rc = -1;
    if (!best || !ms) {
        cli_error(CMD, "out of memory");
        goto done;
    }
    memset(&gr->best, 0, sizeof gr->best);
    if (time_group(t, gr, NULL, best))
        goto done;
    print_tuning("start", &gr->best, sum(best, gr->n));
    enum { KERNEL, ROWS, WORKGROUP, PARTS, SPLIT, TEXEL, FIELDS };
    static const uint32_t values[FIELDS][5] = {
        {VKATTN_KERNEL_ROWWISE, VKATTN_KERNEL_TILED, VKATTN_KERNEL_SPLIT_KV, VKATTN_KERNEL_COOPMAT},
        {1, 2, 4, 8}, {8, 16, 32, 64}, {1, 2, 4, 8}, {1, 16, 64, 256, 1024}, {1, 2}};
    for (int f = 0; f < FIELDS; ++f) {
        /* The split-KV parameters only matter where the split-KV kernel runs. */
        vkattn_kernel kern = VKATTN_KERNEL_AUTO;
        vkattn_tuning_set(t->ctx, gr->cls, gr->dtype, gr->head_dim, &gr->best);
        vkattn_problem_kernel(t->ctx, &t->cases[gr->rows[0]].p, &kern, NULL);
        if (f > KERNEL && kern != VKATTN_KERNEL_SPLIT_KV)
            break;
        if (f == PARTS && !info->subgroup_shuffle)
            continue;
        for (int v = 0; v < 5 && values[f][v]; ++v) {
            vkattn_tuning cand = gr->best;
            const uint32_t x = values[f][v];
            if (f == KERNEL) {
                if (cand.kernel == (vkattn_kernel)x)
                    continue;
                cand.kernel = (vkattn_kernel)x;
            } else {
                uint32_t *field = f == ROWS ? &cand.rows : f == WORKGROUP ? &cand.workgroup
                                : f == PARTS ? &cand.parts : f == SPLIT ? &cand.split_target
                                : &cand.texel;
                if (*field == x)
                    continue;
                *field = x;
            }
            /* A shape the planner would run the same way as the best so far is not timed again
             * (it could only win by noise). */
            if (same_plan(t, gr, &cand))
                continue;
            int r = time_group(t, gr, &cand, ms);
            if (r < 0)
                goto done;
            if (r > 0)
                continue;
            bool keep = sum(ms, gr->n) < GAIN * sum(best, gr->n);
            for (size_t i = 0; keep && i < gr->n; ++i)
                keep = ms[i] <= SLACK * best[i];
            print_tuning(keep ? "kept" : "tried", &cand, sum(ms, gr->n));
            if (keep) {
                gr->best = cand;
                memcpy(best, ms, gr->n * sizeof *ms);
            }
        }
    }
    /* A winner that runs every row as the built-in shape does is the built-in shape. */
    const vkattn_tuning builtin = {0};
    if (same_plan(t, gr, &builtin))
        gr->best = builtin;
    rc = 0;
done:
    free(best);
    free(ms);
    return rc;
}

static bool is_builtin(const vkattn_tuning *t)
{
    const vkattn_tuning zero = {0};
    return memcmp(t, &zero, sizeof zero) == 0;
}

/* Every row with the built-in and the tuned shape, alternately, as bench would time them. The
 * check that decides: a group whose tuned shape is slower than SLACK x the built-in one on any
 * row here keeps the built-in shape (the search's timings can be noise; these are side by
 * side). */
static int compare(tuner *t, group *groups, size_t n_groups)
{
    printf("\n%-44s %12s %12s %7s\n", "case", "built-in ms", "tuned ms", "ratio");
    for (size_t k = 0; k < n_groups; ++k) {
        group *gr = &groups[k];
        bool lost = false;
        for (size_t r = 0; r < gr->n; ++r) {
            double base, tuned;
            char name[160];
            bench_case_name(&t->cases[gr->rows[r]], name, sizeof name);
            if (is_builtin(&gr->best)) {
                printf("%-44s %33s\n", name, "built-in kept: nothing beat it");
                continue;
            }
            vkattn_tuning_set(t->ctx, gr->cls, gr->dtype, gr->head_dim, NULL);
            if (time_case(t, gr->rows[r], &base))
                return -1;
            vkattn_tuning_set(t->ctx, gr->cls, gr->dtype, gr->head_dim, &gr->best);
            if (time_case(t, gr->rows[r], &tuned))
                return -1;
            printf("%-44s %12.3f %12.3f %7.3f\n", name, base, tuned, tuned / base);
            lost = lost || tuned > SLACK * base;
        }
        if (lost) {
            printf("%-44s %33s\n", "", "slower on a row: built-in kept");
            memset(&gr->best, 0, sizeof gr->best);
        }
    }
    return 0;
}

static int write_tuning(const tune_opts *o, vkattn_context ctx)
{
    size_t size = 0;
    char *text = NULL;
    int rc = -1;
    if (vkattn_tuning_save(ctx, NULL, &size) != VKATTN_SUCCESS || !(text = malloc(size)) ||
        vkattn_tuning_save(ctx, text, &size) != VKATTN_SUCCESS) {
        cli_error(CMD, "cannot save the tuning: %s", vkattn_context_message(ctx));
        goto done;
    }
    if (!o->out) {
        printf("\n%s", text);
        rc = 0;
        goto done;
    }
    outfile f;
    if (outfile_begin(&f, o->out) || outfile_write(&f, text, size - 1) || outfile_commit(&f)) {
        cli_error(CMD, "--out: %s: cannot %s it: %s", o->out, f.step ? f.step : "write",
                  f.error ? strerror(f.error) : "out of memory");
        goto done;
    }
    printf("\nwrote %s\n", o->out);
    rc = 0;
done:
    free(text);
    return rc;
}

int cmd_tune(int argc, char **argv)
{
    tune_opts o = {.warmup = 1, .repeat = 5};
    bench_case *cases = NULL;
    size_t n_cases = 0, n_groups = 0;
    group *groups = NULL;
    host_data *host = NULL;
    vkattn_context ctx = NULL;
    bench_gpu *g = NULL;
    double *ms = NULL;
    unsigned messages = 0;
    char msg[512] = "";
    int status = 2;

    int r = parse_args(argc, argv, &o);
    if (r) {
        free(o.sel.shapes);
        return r > 0 ? 0 : 2;
    }
    if (bench_build_cases(CMD, &o.sel, &cases, &n_cases))
        goto done;
    status = 1;
    o.device.on_message = cli_count_message;
    o.device.user = &messages;
    o.device.message = msg;
    o.device.message_size = sizeof msg;
    vkattn_result res = vkattn_context_create(&o.device, &ctx);
    if (res != VKATTN_SUCCESS || vkattn_context_is_cpu(ctx)) {
        cli_error(CMD, "cannot open a Vulkan device: %s%s%s",
                  res ? vkattn_result_string(res) : "only the CPU reference is here",
                  msg[0] ? ": " : "", msg);
        status = res == VKATTN_ERROR_NO_DEVICE || res == VKATTN_ERROR_INVALID_ARGUMENT ? 2 : 1;
        goto done;
    }
    if (bench_gpu_open(ctx, &g, msg, sizeof msg)) {
        cli_error(CMD, "%s", msg);
        goto done;
    }
    vkattn_device_info info;
    vkattn_context_device_info(ctx, &info);
    printf("device: %s (%s)\n", info.name, info.driver);
    groups = calloc(n_cases, sizeof *groups);
    host = calloc(n_cases, sizeof *host);
    ms = calloc((size_t)(o.warmup + o.repeat), sizeof *ms);
    if (!groups || !host || !ms) {
        cli_error(CMD, "out of memory");
        goto done;
    }
    /* The rows by tuning slot, in order of first appearance. */
    for (size_t i = 0; i < n_cases; ++i) {
        const vkattn_problem *p = &cases[i].p;
        if (bench_largest_tensor(p) > info.max_buffer_range)
            continue;
        if (host_make(p, 1000 + i, &host[i])) {
            cli_error(CMD, "out of memory for the host tensors");
            goto done;
        }
        const vkattn_tuning_class cls = vkattn_tuning_class_of(p);
        size_t k = 0;
        while (k < n_groups && !(groups[k].cls == cls && groups[k].dtype == p->dtype &&
                                 groups[k].head_dim == p->head_dim))
            ++k;
        if (k == n_groups) {
            groups[n_groups++] = (group){.cls = cls, .dtype = p->dtype, .head_dim = p->head_dim};
            if (!(groups[k].rows = calloc(n_cases, sizeof *groups[k].rows))) {
                cli_error(CMD, "out of memory");
                goto done;
            }
        }
        groups[k].rows[groups[k].n++] = i;
    }
    tuner t = {&o, ctx, g, cases, host, ms};
    for (size_t k = 0; k < n_groups; ++k) {
        printf("%s %s D%u (%zu row(s)):\n", groups[k].cls ? "decode" : "prefill",
               groups[k].dtype == VKATTN_DTYPE_F16 ? "f16" : "f32", groups[k].head_dim,
               groups[k].n);
        fflush(stdout);
        if (search(&t, &groups[k], &info))
            goto done;
    }
    if (compare(&t, groups, n_groups))
        goto done;
    for (size_t k = 0; k < n_groups; ++k)
        vkattn_tuning_set(ctx, groups[k].cls, groups[k].dtype, groups[k].head_dim,
                          is_builtin(&groups[k].best) ? NULL : &groups[k].best);
    if (messages) {
        cli_error(CMD, "%u validation message(s)", messages);
        goto done;
    }
    status = write_tuning(&o, ctx) ? 2 : 0;
done:
    for (size_t k = 0; k < n_groups; ++k)
        free(groups[k].rows);
    free(groups);
    for (size_t i = 0; host && i < n_cases; ++i)
        host_free(&host[i]);
    free(host);
    free(ms);
    bench_gpu_close(g);
    vkattn_context_destroy(ctx);
    bench_free_cases(cases, n_cases);
    free(o.sel.shapes);
    return status;
}
