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

#include "bench_gpu.h"
#include "bench_peak.h"
#include "bench_report.h"
#include "cli.h"
#include "commands.h"
#include "outfile.h"
#include "ref_threads.h"
#include "rng.h"
#include "src/half.h"
#include "src/mask.h"

#define CMD "bench"
#define CPU_REPEATS 3 /* the CPU is slow: at most this many timed runs, no warm-up */

/* ---------------------------------------------------------------------------------------------
 * Options and problems
 * ------------------------------------------------------------------------------------------- */
enum {
    SUITE_QUICK = 1,
    SUITE_PREFILL = 2,
    SUITE_DECODE = 4,
    SUITE_VARLEN = 8,
    SUITE_ALL = SUITE_QUICK | SUITE_PREFILL | SUITE_DECODE | SUITE_VARLEN,
};

typedef struct bench_opts {
    vkattn_context_desc device;
    int warmup, repeat;
    bool cpu, peak, dtype_given;
    unsigned suites;               /* SUITE_* */
    const char *json, *csv;
    vkattn_dtype dtype;
    uint32_t (*shapes)[6];         /* --shape B,Hq,Hkv,Sq,Skv,D, in order */
    size_t n_shapes;
    cli_mask_flags mask;           /* they apply to the --shape problems only */
    bool decode_variants;          /* each --shape problem also with splits=1, no-pack, paged */
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
        "  --shape B,Hq,Hkv,Sq,Skv,D  a problem (repeatable); Hq a multiple of Hkv\n"
        "  --suite NAME               problems by name (repeatable); without --shape or\n"
        "                             --suite: quick\n"
        "      quick     S=256 prefill, decode and varlen problems that take seconds on a\n"
        "                software device (lavapipe)\n"
        "      prefill   B=1, H=8, S 512..8192, D 64 and 128, causal and not\n"
        "      decode    B 1 and 8, Sq 1 and 4 against a KV cache of 1024, 8192 and 32768,\n"
        "                Hq=32 with Hkv 32, 8 and 1 (MHA, GQA, MQA), D=128, f32 and f16,\n"
        "                contiguous and paged (64-key pages); problems too large for the\n"
        "                device's buffers are left out\n"
        "      varlen    B=4 with uneven q_lens/kv_lens summing to a quarter of B x S, beside\n"
        "                the same batch in full\n"
        "      all       every suite\n"
        "  --dtype f32|f16            storage type of Q, K, V and O (default f32; the decode\n"
        "                             suite has both unless --dtype is given)\n"
        "  --causal, --align A, --window L,R, --q-lens N,..., --kv-lens N,...\n"
        "                             the mask of the --shape problems, as for vkattn run\n"
        "  --warmup N                 untimed runs before the timed ones (default 2)\n"
        "  --repeat N                 timed runs (default 10)\n"
        "  --decode-variants          each --shape problem also with split-KV off (splits=1),\n"
        "                             GQA packing off (no-pack) and paged K/V (paged64: pages\n"
        "                             of 64 keys, in reverse order), side by side in one run\n"
        "  --peak                     first measure the device's f32 and f16 FMA throughput and\n"
        "                             its memory bandwidth with micro-kernels (about a second),\n"
        "                             then give each row as a percentage of its roofline: rows\n"
        "                             above the ridge point (FLOPs per byte) against the f32\n"
        "                             FLOP/s (the kernels compute in f32), the others against\n"
        "                             the bandwidth\n"
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
        "  --validation               enable VK_LAYER_KHRONOS_validation (when installed); any\n"
        "                             message makes the exit status 1\n"
        "  --json FILE, --csv FILE    write the rows with the device, driver and build\n"
        "  --compare FILE...          read the --json files of earlier runs and print their\n"
        "                             rows side by side, matched by problem, with the ratio of\n"
        "                             each file's median to the first file's ('-': no such row)\n"
        "\n"
        "Exit status: 0 success, 1 a problem failed to run (the other rows are still written),\n"
        "2 bad usage or input, or an output file that could not be written.\n", CPU_REPEATS);
}

static void free_cases(bench_case *cases, size_t n)
{
    for (size_t i = 0; i < n; ++i) {
        free(cases[i].q_lens);
        free(cases[i].kv_lens);
    }
    free(cases);
}

/* Appends a copy of p (and of the lengths) to *cases; -1 on out of memory. */
static int add_case(bench_case **cases, size_t *n, const vkattn_problem *p, const uint32_t *q_lens,
                    const uint32_t *kv_lens)
{
    bench_case *grown = realloc(*cases, (*n + 1) * sizeof *grown);
    if (!grown)
        return cli_error(CMD, "out of memory");
    *cases = grown;
    bench_case *c = &grown[*n];
    memset(c, 0, sizeof *c);
    c->p = *p;
    size_t bytes = p->batch * sizeof(uint32_t);
    if (q_lens && (c->q_lens = malloc(bytes)))
        memcpy(c->q_lens, q_lens, bytes);
    if (kv_lens && (c->kv_lens = malloc(bytes)))
        memcpy(c->kv_lens, kv_lens, bytes);
    c->p.has_q_lens = c->q_lens != NULL;
    c->p.has_kv_lens = c->kv_lens != NULL;
    ++*n;
    if ((q_lens && !c->q_lens) || (kv_lens && !c->kv_lens))
        return cli_error(CMD, "out of memory");
    return 0;
}

/* Bytes of the largest of Q, K, V and O (what one storage-buffer binding must span). */
static uint64_t largest_tensor(const vkattn_problem *p)
{
    static const char which[4] = {'q', 'k', 'v', 'o'};
    uint64_t es = p->dtype == VKATTN_DTYPE_F16 ? 2 : 4, most = 0;
    for (int i = 0; i < 4; ++i) {
        uint64_t bytes = vkattn_problem_extent(p, which[i]) * es;
        most = bytes > most ? bytes : most;
    }
    return most;
}

/* K and V in 64-key pages, as many pages as the batch needs (the table is made by host_make). */
static void set_paged64(vkattn_problem *p)
{
    p->page_size = 64;
    p->num_pages = p->batch * ((p->seq_kv + 63) / 64);
}

static vkattn_problem make_problem(uint32_t b, uint32_t hq, uint32_t hkv, uint32_t sq, uint32_t skv,
                                   uint32_t d, vkattn_dtype dtype, bool causal)
{
    vkattn_problem p = {.batch = b, .heads_q = hq, .heads_kv = hkv, .seq_q = sq, .seq_kv = skv,
                        .head_dim = d, .dtype = dtype, .causal = causal};
    return p;
}

/* Small enough to finish in seconds on a software device (lavapipe), big enough to leave the
 * tile edges and the causal skip a visible share of the work. */
static int add_suite_quick(bench_case **cases, size_t *n, vkattn_dtype dt)
{
    /* A varlen batch with lengths that are not multiples of a tile, one of them a single row. */
    static const uint32_t lens[4] = {256, 150, 77, 1};
    static const uint32_t sizes[][6] = {{1, 8, 8, 256, 256, 64}, {1, 2, 2, 256, 256, 128}};
    vkattn_problem p;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; ++s)
        for (int causal = 0; causal < 2; ++causal) {
            const uint32_t *z = sizes[s];
            p = make_problem(z[0], z[1], z[2], z[3], z[4], z[5], dt, causal);
            if (add_case(cases, n, &p, NULL, NULL))
                return -1;
        }
    /* Decoding one token against a KV cache, grouped-query heads (4 query heads per kv head). */
    p = make_problem(1, 16, 4, 1, 512, 128, dt, true);
    if (add_case(cases, n, &p, NULL, NULL))
        return -1;
    p = make_problem(4, 4, 4, 256, 256, 64, dt, true);
    return add_case(cases, n, &p, lens, lens);
}

static int add_suite_prefill(bench_case **cases, size_t *n, vkattn_dtype dt)
{
    static const uint32_t seqs[] = {512, 1024, 2048, 4096, 8192}, dims[] = {64, 128};
    for (size_t s = 0; s < sizeof seqs / sizeof seqs[0]; ++s)
        for (size_t d = 0; d < sizeof dims / sizeof dims[0]; ++d)
            for (int causal = 0; causal < 2; ++causal) {
                vkattn_problem p = make_problem(1, 8, 8, seqs[s], seqs[s], dims[d], dt, causal);
                if (add_case(cases, n, &p, NULL, NULL))
                    return -1;
            }
    return 0;
}

/* Generating tokens against a KV cache: one new token, and four (a speculative or chunked
 * step), for one sequence and a batch of 8, with 32 query heads on 32 kv heads (MHA), 8 (GQA)
 * and one (MQA), against caches of 1024, 8192 and 32768 keys, D=128. Causal with the
 * bottom-right alignment: the new tokens see the whole cache. Each problem runs with contiguous
 * K/V and then paged (tag "paged64": 64-key pages, the table reversing the pool).
 * Streaming the cache dominates, so these rows are memory-bound. Without --dtype both storage
 * types are timed (f16 halves the bytes); f16 is left out on a device without 16-bit storage,
 * and so is any problem whose K or V spans more than the device's maxStorageBufferRange. */
static int add_suite_decode(bench_case **cases, size_t *n, const bench_opts *o)
{
    static const uint32_t batch[] = {1, 8}, hkv[] = {32, 8, 1}, sq[] = {1, 4},
                          skv[] = {1024, 8192, 32768};
    static const vkattn_dtype dts[] = {VKATTN_DTYPE_F32, VKATTN_DTYPE_F16};
    for (size_t t = 0; t < 2; ++t) {
        if (o->dtype_given && dts[t] != o->dtype)
            continue;
        for (size_t b = 0; b < sizeof batch / sizeof batch[0]; ++b)
            for (size_t h = 0; h < sizeof hkv / sizeof hkv[0]; ++h)
                for (size_t q = 0; q < sizeof sq / sizeof sq[0]; ++q)
                    for (size_t s = 0; s < sizeof skv / sizeof skv[0]; ++s)
                        for (int paged = 0; paged < 2; ++paged) {
                            vkattn_problem p = make_problem(batch[b], 32, hkv[h], sq[q], skv[s],
                                                            128, dts[t], true);
                            if (paged)
                                set_paged64(&p);
                            if (add_case(cases, n, &p, NULL, NULL))
                                return -1;
                            bench_case *c = &(*cases)[*n - 1];
                            c->f16_optional = !o->dtype_given;
                            if (paged)
                                snprintf(c->tag, sizeof c->tag, "paged64");
                        }
    }
    return 0;
}

/* A batch of uneven sequences padded to S (lengths that are no multiple of a tile, summing to
 * a quarter of B x S, as after packing requests of different lengths), each next to the same
 * batch in full: the ratio of the two shows how much of the padding the kernel skips. About
 * 30 s on lavapipe, nearly all of it in the full batches. */
static int add_suite_varlen(bench_case **cases, size_t *n, vkattn_dtype dt)
{
    static const uint32_t lens[4] = {300, 120, 70, 22}, dims[] = {64, 128};
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; ++d) {
        vkattn_problem p = make_problem(4, 8, 8, 512, 512, dims[d], dt, true);
        if (add_case(cases, n, &p, lens, lens) || add_case(cases, n, &p, NULL, NULL))
            return -1;
    }
    return 0;
}

/* The problems of the options, in order: the --shape problems, then the suites. */
static int build_cases(const bench_opts *o, bench_case **cases, size_t *n)
{
    for (size_t i = 0; i < o->n_shapes; ++i) {
        const uint32_t *s = o->shapes[i];
        vkattn_problem p = make_problem(s[0], s[1], s[2], s[3], s[4], s[5], o->dtype, false);
        uint32_t *ql = NULL, *kl = NULL;
        char msg[512];
        int rc = -1;
        if (cli_mask_apply(CMD, &o->mask, &p, &ql, &kl))
            goto next;
        if (vkattn_problem_check(&p, msg, sizeof msg) != VKATTN_SUCCESS) {
            cli_error(CMD, "--shape %u,%u,%u,%u,%u,%u: %s", s[0], s[1], s[2], s[3], s[4], s[5],
                      msg);
            goto next;
        }
        rc = add_case(cases, n, &p, ql, kl);
        for (int v = 0; rc == 0 && o->decode_variants && v < 3; ++v) {
            vkattn_problem pv = p;
            static const char *const tags[3] = {"splits=1", "no-pack", "paged64"};
            if (v == 0)
                pv.kv_splits = 1;
            else if (v == 1)
                pv.no_gqa_packing = true;
            else
                set_paged64(&pv);
            if ((rc = add_case(cases, n, &pv, ql, kl)) == 0)
                snprintf((*cases)[*n - 1].tag, sizeof (*cases)[*n - 1].tag, "%s", tags[v]);
        }
    next:
        free(ql);
        free(kl);
        if (rc)
            return -1;
    }
    unsigned suites = o->suites || o->n_shapes ? o->suites : SUITE_QUICK;
    if ((suites & SUITE_QUICK) && add_suite_quick(cases, n, o->dtype))
        return -1;
    if ((suites & SUITE_PREFILL) && add_suite_prefill(cases, n, o->dtype))
        return -1;
    if ((suites & SUITE_DECODE) && add_suite_decode(cases, n, o))
        return -1;
    if ((suites & SUITE_VARLEN) && add_suite_varlen(cases, n, o->dtype))
        return -1;
    return 0;
}

/* 0: run; 1: help was printed; -1: error printed. */
static int parse_args(int argc, char **argv, bench_opts *o)
{
    static const struct {
        const char *name;
        unsigned bits;
    } suites[] = {{"quick", SUITE_QUICK}, {"prefill", SUITE_PREFILL}, {"decode", SUITE_DECODE},
                  {"varlen", SUITE_VARLEN}, {"all", SUITE_ALL}};
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
        if (cli_is(&c, "--shape")) {
            uint32_t *v;
            size_t n;
            if (!(text = cli_value(&c)) || cli_parse_u32_list(CMD, c.flag, text, 0, &v, &n))
                return -1;
            if (n != 6) {
                free(v);
                return cli_error(CMD, "--shape: expected B,Hq,Hkv,Sq,Skv,D (6 integers), got "
                                 "'%s'", text);
            }
            void *grown = realloc(o->shapes, (o->n_shapes + 1) * sizeof *o->shapes);
            if (!grown) {
                free(v);
                return cli_error(CMD, "out of memory");
            }
            o->shapes = grown;
            memcpy(o->shapes[o->n_shapes++], v, sizeof o->shapes[0]);
            free(v);
        } else if (cli_is(&c, "--suite")) {
            if (!(text = cli_value(&c)))
                return -1;
            size_t s = 0;
            while (s < sizeof suites / sizeof suites[0] && strcmp(text, suites[s].name) != 0)
                ++s;
            if (s == sizeof suites / sizeof suites[0])
                return cli_error(CMD, "--suite: expected quick, prefill, decode, varlen or all, "
                                 "got '%s'", text);
            o->suites |= suites[s].bits;
        } else if (cli_is(&c, "--dtype")) {
            if (!(text = cli_value(&c)))
                return -1;
            if (strcmp(text, "f32") == 0)
                o->dtype = VKATTN_DTYPE_F32;
            else if (strcmp(text, "f16") == 0)
                o->dtype = VKATTN_DTYPE_F16;
            else
                return cli_error(CMD, "--dtype: expected f32 or f16, got '%s'", text);
            o->dtype_given = true;
        } else if ((m = cli_mask_flag(&c, &o->mask)) != 0) {
            if (m < 0)
                return -1;
        } else if (cli_is(&c, "--warmup")) {
            if (cli_parse_int(&c, cli_value(&c), 0, 1000000, &o->warmup))
                return -1;
        } else if (cli_is(&c, "--repeat")) {
            if (cli_parse_int(&c, cli_value(&c), 1, 1000000, &o->repeat))
                return -1;
        } else if (cli_is(&c, "--cpu") || cli_is(&c, "--peak")) {
            if (cli_switch(&c))
                return -1;
            *(cli_is(&c, "--cpu") ? &o->cpu : &o->peak) = true;
        } else if (cli_is(&c, "--decode-variants")) {
            if (cli_switch(&c))
                return -1;
            o->decode_variants = true;
        } else if (cli_is(&c, "--validation")) {
            if (cli_switch(&c))
                return -1;
            o->device.validation = true;
        } else if (cli_is(&c, "--device")) {
            if (cli_parse_device(&c, cli_value(&c), &o->device))
                return -1;
        } else if (cli_is(&c, "--parts")) {
            if (cli_parse_parts(&c, cli_value(&c), &o->device))
                return -1;
        } else if (cli_is(&c, "--kernel")) {
            if (cli_parse_kernel(&c, cli_value(&c), &o->device))
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
    if (o->mask.first && o->n_shapes == 0)
        return cli_error(CMD, "%s: applies to the --shape problems (the suites set their own "
                         "masks); give a --shape", o->mask.first);
    if (o->threads && !o->cpu)
        return cli_error(CMD, "--threads: applies to the CPU reference rows; give --cpu");
    if (o->json && o->csv && strcmp(o->json, o->csv) == 0)
        return cli_error(CMD, "--csv: names the same file as --json ('%s')", o->json);
    if ((o->json && cli_check_output(CMD, "--json", o->json))
        || (o->csv && cli_check_output(CMD, "--csv", o->csv)))
        return -1;
    return 0;
}
/* ---------------------------------------------------------------------------------------------
 * Host data and statistics
 * ------------------------------------------------------------------------------------------- */
typedef struct host_data {
    void *q, *k, *v, *out;
    uint32_t *pages;   /* paged problems: the pool in reverse order */
} host_data;

static void host_free(host_data *h)
{
    free(h->q);
    free(h->k);
    free(h->v);
    free(h->out);
    free(h->pages);
    memset(h, 0, sizeof *h);
}

static size_t elem_size(vkattn_dtype dt)
{
    return dt == VKATTN_DTYPE_F16 ? 2 : 4;
}

/* Q, K and V drawn from N(0, 1) (rounded to f16 for f16), O zeroed. -1 on out of memory. */
static int host_make(const vkattn_problem *p, uint64_t seed, host_data *h)
{
    static const char which[4] = {'q', 'k', 'v', 'o'};
    void **ptr[4] = {&h->q, &h->k, &h->v, &h->out};
    size_t es = elem_size(p->dtype);
    rng r;
    rng_seed(&r, seed);
    memset(h, 0, sizeof *h);
    for (int t = 0; t < 4; ++t) {
        size_t n = (size_t)vkattn_problem_extent(p, which[t]);
        if (!(*ptr[t] = calloc(n ? n : 1, es)))
            goto oom;
        if (t == 3) {
            uint64_t np = vkattn_problem_extent(p, 'p');
            if (!(h->pages = malloc((np ? np : 1) * sizeof *h->pages)))
                goto oom;
            for (uint64_t i = 0; i < np; ++i)
                h->pages[i] = (uint32_t)(np - 1 - i); /* reversed: no page where it would be */
            break;
        }
        float *x = es == 4 ? *ptr[t] : malloc(n * sizeof *x);
        if (!x)
            goto oom;
        rng_fill_normal(&r, x, n);
        if (es == 2) {
            for (size_t i = 0; i < n; ++i)
                ((uint16_t *)*ptr[t])[i] = float_to_half(x[i]);
            free(x);
        }
    }
    return 0;
oom:
    host_free(h);
    return -1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The row of a case from its n timed runs (ms is sorted in place), on the roofline of peak
 * when there is one. */
static void fill_row(bench_row *row, const bench_case *c, double *ms, int n,
                     const bench_peak *peak)
{
    const vkattn_problem *p = &c->p;
    qsort(ms, (size_t)n, sizeof *ms, cmp_double);
    row->ms_min = bench_sig6(ms[0]);
    row->ms_max = bench_sig6(ms[n - 1]);
    row->ms_median = bench_sig6(n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]));
    row->repeats = n;
    uint64_t pairs = 0;
    for (uint32_t b = 0; b < p->batch; ++b) {
        mask_rule rule = vkattn__mask_rule_for(p, c->q_lens, c->kv_lens, b);
        pairs += vkattn__mask_visible_pairs(&rule);
    }
    row->visible_pairs = pairs;
    double flops_visible = 4.0 * p->heads_q * p->head_dim * (double)pairs;
    double flops_dense = 4.0 * p->batch * p->heads_q * (double)p->seq_q * p->seq_kv * p->head_dim;
    double bytes = (double)elem_size(p->dtype) *
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
    printf(", bandwidth %.2f GB/s; ridge point %.1f FLOP/byte\n", pk->bandwidth_gbps,
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
static void count_message(void *user, const char *message)
{
    ++*(unsigned *)user;
    fprintf(stderr, "validation: %s\n", message);
}

int cmd_bench(int argc, char **argv)
{
    bench_opts o = {.warmup = 2, .repeat = 10};
    bench_case *cases = NULL;
    bench_row *rows = NULL;
    double *ms = NULL;
    size_t n_cases = 0, n_rows = 0;
    vkattn_context ctx = NULL;
    bench_gpu *g = NULL;
    bench_peak peak;
    unsigned messages = 0, failed = 0, skipped = 0, too_big = 0;
    char msg[512];
    int status = 2;

    int r = parse_args(argc, argv, &o);
    if (r || o.compare) {
        if (r == 0)
            status = bench_compare(CMD, o.compare, o.n_compare);
        free(o.shapes);
        free(o.compare);
        return r > 0 ? 0 : r < 0 ? 2 : status;
    }
    if (build_cases(&o, &cases, &n_cases))
        goto done;
    rows = calloc(2 * n_cases, sizeof *rows);
    ms = calloc((size_t)(o.warmup + o.repeat), sizeof *ms);
    if (!rows || !ms) {
        cli_error(CMD, "out of memory");
        goto done;
    }

    o.device.on_message = count_message;
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
    for (size_t i = 0; i < n_cases; ++i) {
        const bench_case *c = &cases[i];
        char name[160];
        host_data h;
        if (c->f16_optional && c->p.dtype == VKATTN_DTYPE_F16 && !info.fp16_storage) {
            ++skipped;
            continue;
        }
        bench_case_name(c, name, sizeof name);
        const uint64_t largest = largest_tensor(&c->p);
        if (!cpu_ctx && largest > info.max_buffer_range) {
            printf("%-*s  left out: a tensor of %.0f MB, over the device's buffer range of "
                   "%.0f MB\n", width, name, (double)largest / 1e6,
                   (double)info.max_buffer_range / 1e6);
            ++too_big;
            continue;
        }
        if (progress)
            fprintf(stderr, "[%zu/%zu] %s ...\r", i + 1, n_cases, name);
        if (host_make(&c->p, 1000 + i, &h)) {
            if (progress)
                fprintf(stderr, "\r\033[K");
            cli_error(CMD, "%s: out of memory for the host tensors", name);
            ++failed;
            continue;
        }
        bench_row *row = &rows[n_rows];
        row->case_index = i;
        bool ok, wall = true;
        vkattn_host_tensors t = {.q = h.q, .k = h.k, .v = h.v, .out = h.out,
                                 .q_lens = c->q_lens, .kv_lens = c->kv_lens,
                                 .page_table = c->p.page_size ? h.pages : NULL};
        if (cpu_ctx) {
            ok = cpu_time(ctx, &c->p, &t, 0, cpu_runs, ms, msg, sizeof msg) == 0;
            row->variant = "cpu-attention-wallclock";
            row->device = "cpu";
            row->threads = 1; /* the library starts no threads */
            if (ok)
                fill_row(row, c, ms, cpu_runs, NULL);
        } else {
            ok = bench_gpu_time(g, ctx, &c->p, &t, o.warmup, o.repeat, ms, msg, sizeof msg) == 0;
            wall = !bench_gpu_has_timestamps(g);
            vkattn_kernel kernel = VKATTN_KERNEL_AUTO;
            uint32_t splits = 1;
            vkattn_problem_kernel(ctx, &c->p, &kernel, &splits); /* the run checked the problem */
            row->variant = kernel != VKATTN_KERNEL_DECODE ? "fa2-tiled"
                           : splits > 1                  ? "split-kv" : "split-kv-1";
            row->device = info.name;
            if (ok)
                fill_row(row, c, ms, o.repeat, meta.peak);
        }
        row->timer = wall ? "wall-clock" : "gpu-timestamps";
        if (progress)
            fprintf(stderr, "\r\033[K");
        if (ok) {
            print_row(width, c, &rows[n_rows++], o.peak);
        } else {
            cli_error(CMD, "%s: %s", name, msg);
            ++failed;
        }
        if (o.cpu && !cpu_ctx) {
            row = &rows[n_rows];
            row->case_index = i;
            row->variant = "cpu-reference";
            row->device = "cpu";
            row->timer = "wall-clock";
            row->threads = ref_threads(&c->p, (unsigned)o.threads);
            if (progress)
                fprintf(stderr, "[%zu/%zu] %s (CPU reference) ...\r", i + 1, n_cases, name);
            ok = cpu_time(NULL, &c->p, &t, row->threads, cpu_runs, ms, msg, sizeof msg) == 0;
            if (progress)
                fprintf(stderr, "\r\033[K");
            if (ok) {
                /* The CPU reference is not the device whose peaks were measured. */
                fill_row(row, c, ms, cpu_runs, NULL);
                print_row(width, c, &rows[n_rows++], o.peak);
            } else {
                cli_error(CMD, "%s (CPU reference): %s", name, msg);
                ++failed;
            }
        }
        host_free(&h);
    }
    if (skipped)
        printf("(%u f16 problem(s) left out: the device has no 16-bit storage)\n", skipped);
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
    free_cases(cases, n_cases);
    free(rows);
    free(ms);
    free(o.shapes);
    free(o.compare);
    return status;
}
