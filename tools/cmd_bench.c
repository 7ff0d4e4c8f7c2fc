/* vkattn bench: times attention (SPEC section 4). On a Vulkan context each run is one submission
 * of [timestamp, vkattn_cmd_attention, timestamp], waited for with a fence, after warm-up runs;
 * --cpu adds wall-clock rows of the CPU reference. Prints a table; --json / --csv write the same
 * rows, each file complete or not at all. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "bench_gpu.h"
#include "cli.h"
#include "commands.h"
#include "outfile.h"
#include "rng.h"
#include "src/half.h"
#include "src/mask.h"

#ifndef VKATTN_GIT
#define VKATTN_GIT "unknown"
#endif

#define CMD "bench"
#define CPU_REPEATS 3 /* the CPU is slow: at most this many timed runs, no warm-up */

/* ---------------------------------------------------------------------------------------------
 * Problems and rows
 * ------------------------------------------------------------------------------------------- */
typedef struct bench_case {
    vkattn_problem p;              /* dense BHSD, no LSE, no custom mask */
    uint32_t *q_lens, *kv_lens;    /* p.batch values each, or NULL; malloc'd */
} bench_case;

typedef struct bench_row {
    size_t case_index;
    const char *variant, *device, *timer;
    double ms_median, ms_min, ms_max;
    int repeats;
    uint64_t visible_pairs;        /* per head, summed over the batch items */
    double gflops_visible, gflops_dense, gbps;
} bench_row;

typedef struct bench_opts {
    vkattn_context_desc device;
    int warmup, repeat;
    bool cpu, suite_quick, suite_prefill;
    const char *json, *csv;
    vkattn_dtype dtype;
    uint32_t (*shapes)[6];         /* --shape B,Hq,Hkv,Sq,Skv,D, in order */
    size_t n_shapes;
    cli_mask_flags mask;           /* they apply to the --shape problems only */
} bench_opts;

static void bench_help(void)
{
    printf(
        "usage: vkattn bench [--shape B,Hq,Hkv,Sq,Skv,D]... [--suite quick|prefill] [options]\n"
        "\n"
        "Times attention on a device: GPU timestamps around each run (after warm-up), median,\n"
        "min and max of the repeats, GFLOP/s (4 * Hq * D * visible pairs, and the dense count\n"
        "4 * B * Hq * Sq * Skv * D) and GB/s (Q, K, V and O moved once). Q, K, V are N(0,1).\n"
        "\n"
        "  --shape B,Hq,Hkv,Sq,Skv,D  a problem (repeatable); Hq a multiple of Hkv\n"
        "  --suite quick|prefill      quick: S=256 prefill, decode and varlen problems that take\n"
        "                             seconds on a software device (lavapipe);\n"
        "                             prefill: B=1, H=8, S 512..4096, D 64 and 128, causal and\n"
        "                             not. Without --shape or --suite: quick\n"
        "  --dtype f32|f16            storage type of Q, K, V and O (default f32)\n"
        "  --causal, --align A, --window L,R, --q-lens N,..., --kv-lens N,...\n"
        "                             the mask of the --shape problems, as for vkattn run\n"
        "  --warmup N                 untimed runs before the timed ones (default 2)\n"
        "  --repeat N                 timed runs (default 10)\n"
        "  --cpu                      also time the CPU reference (wall clock, at most %d runs,\n"
        "                             no warm-up; the CPU device's rows already are the CPU)\n"
        "  --device D                 a Vulkan device index (see vkattn info) or cpu; on the CPU\n"
        "                             vkattn_attention is timed by the wall clock\n"
        "  --validation               enable VK_LAYER_KHRONOS_validation (when installed); any\n"
        "                             message makes the exit status 1\n"
        "  --json FILE, --csv FILE    write the rows with the device, driver and build\n"
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
    static const uint32_t seqs[] = {512, 1024, 2048, 4096}, dims[] = {64, 128};
    for (size_t s = 0; s < sizeof seqs / sizeof seqs[0]; ++s)
        for (size_t d = 0; d < sizeof dims / sizeof dims[0]; ++d)
            for (int causal = 0; causal < 2; ++causal) {
                vkattn_problem p = make_problem(1, 8, 8, seqs[s], seqs[s], dims[d], dt, causal);
                if (add_case(cases, n, &p, NULL, NULL))
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
    next:
        free(ql);
        free(kl);
        if (rc)
            return -1;
    }
    if (o->suite_quick || (!o->suite_prefill && o->n_shapes == 0))
        if (add_suite_quick(cases, n, o->dtype))
            return -1;
    if (o->suite_prefill && add_suite_prefill(cases, n, o->dtype))
        return -1;
    return 0;
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
        } else if (cli_is(&c, "--shape")) {
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
            if (strcmp(text, "quick") == 0)
                o->suite_quick = true;
            else if (strcmp(text, "prefill") == 0)
                o->suite_prefill = true;
            else
                return cli_error(CMD, "--suite: expected quick or prefill, got '%s'", text);
        } else if (cli_is(&c, "--dtype")) {
            if (!(text = cli_value(&c)))
                return -1;
            if (strcmp(text, "f32") == 0)
                o->dtype = VKATTN_DTYPE_F32;
            else if (strcmp(text, "f16") == 0)
                o->dtype = VKATTN_DTYPE_F16;
            else
                return cli_error(CMD, "--dtype: expected f32 or f16, got '%s'", text);
        } else if ((m = cli_mask_flag(&c, &o->mask)) != 0) {
            if (m < 0)
                return -1;
        } else if (cli_is(&c, "--warmup")) {
            if (cli_parse_int(&c, cli_value(&c), 0, 1000000, &o->warmup))
                return -1;
        } else if (cli_is(&c, "--repeat")) {
            if (cli_parse_int(&c, cli_value(&c), 1, 1000000, &o->repeat))
                return -1;
        } else if (cli_is(&c, "--cpu")) {
            if (cli_switch(&c))
                return -1;
            o->cpu = true;
        } else if (cli_is(&c, "--validation")) {
            if (cli_switch(&c))
                return -1;
            o->device.validation = true;
        } else if (cli_is(&c, "--device")) {
            if (cli_parse_device(&c, cli_value(&c), &o->device))
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
    if (o->mask.first && o->n_shapes == 0)
        return cli_error(CMD, "%s: applies to the --shape problems (the suites set their own "
                         "masks); give a --shape", o->mask.first);
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
} host_data;

static void host_free(host_data *h)
{
    free(h->q);
    free(h->k);
    free(h->v);
    free(h->out);
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
        if (t == 3)
            break;
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

/* The row of a case from its n timed runs (ms is sorted in place). */
static void fill_row(bench_row *row, const bench_case *c, double *ms, int n)
{
    const vkattn_problem *p = &c->p;
    qsort(ms, (size_t)n, sizeof *ms, cmp_double);
    row->ms_min = ms[0];
    row->ms_max = ms[n - 1];
    row->ms_median = n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
    row->repeats = n;
    uint64_t pairs = 0;
    for (uint32_t b = 0; b < p->batch; ++b) {
        mask_rule rule = mask_rule_for(p, c->q_lens, c->kv_lens, b);
        pairs += mask_visible_pairs(&rule);
    }
    row->visible_pairs = pairs;
    double flops_visible = 4.0 * p->heads_q * p->head_dim * (double)pairs;
    double flops_dense = 4.0 * p->batch * p->heads_q * (double)p->seq_q * p->seq_kv * p->head_dim;
    double bytes = (double)elem_size(p->dtype) *
                   (double)(vkattn_problem_extent(p, 'q') + vkattn_problem_extent(p, 'k') +
                            vkattn_problem_extent(p, 'v') + vkattn_problem_extent(p, 'o'));
    double per_s = row->ms_median > 0.0 ? 1e3 / row->ms_median : 0.0;
    row->gflops_visible = flops_visible * per_s * 1e-9;
    row->gflops_dense = flops_dense * per_s * 1e-9;
    row->gbps = bytes * per_s * 1e-9;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* Times the CPU reference (ctx NULL) or vkattn_attention on a CPU context by the wall clock. */
static int cpu_time(vkattn_context ctx, const vkattn_problem *p, const vkattn_host_tensors *t,
                    int runs, double *ms, char *err, size_t err_size)
{
    for (int r = 0; r < runs; ++r) {
        double t0 = now_ms();
        vkattn_result res = ctx ? vkattn_attention(ctx, p, t)
                                : vkattn_reference(p, t, err, err_size);
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
 * Output: the table, JSON and CSV
 * ------------------------------------------------------------------------------------------- */
static void appendf(char *buf, size_t size, size_t *pos, const char *fmt, ...)
{
    va_list ap;
    if (*pos >= size)
        return;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *pos, size - *pos, fmt, ap);
    va_end(ap);
    if (k > 0)
        *pos += (size_t)k;
}

static void case_name(const bench_case *c, char *buf, size_t size)
{
    const vkattn_problem *p = &c->p;
    size_t pos = 0;
    buf[0] = '\0';
    appendf(buf, size, &pos, "B%u H%u", p->batch, p->heads_q);
    if (p->heads_kv != p->heads_q)
        appendf(buf, size, &pos, "/%u", p->heads_kv);
    appendf(buf, size, &pos, " S%u", p->seq_q);
    if (p->seq_kv != p->seq_q)
        appendf(buf, size, &pos, "x%u", p->seq_kv);
    appendf(buf, size, &pos, " D%u %s", p->head_dim, p->dtype == VKATTN_DTYPE_F16 ? "f16" : "f32");
    if (p->causal)
        appendf(buf, size, &pos, " causal");
    if (p->window)
        appendf(buf, size, &pos, " window %d,%d", p->window_left, p->window_right);
    if ((p->causal || p->window) && p->align == VKATTN_ALIGN_TOP_LEFT)
        appendf(buf, size, &pos, " top-left");
    if (c->q_lens || c->kv_lens)
        appendf(buf, size, &pos, " varlen");
}

/* width: of the case column, the longest case name. */
static void print_header(int width)
{
    printf("%-*s %30s %10s %10s %9s  %s\n", width, "case", "ms median (min, max)", "GFLOP/s",
           "dense", "GB/s", "variant");
}

static void print_row(int width, const bench_case *c, const bench_row *r)
{
    char name[160], ms[64];
    case_name(c, name, sizeof name);
    snprintf(ms, sizeof ms, "%.3f (%.3f, %.3f)", r->ms_median, r->ms_min, r->ms_max);
    printf("%-*s %30s %10.2f %10.2f %9.3f  %s\n", width, name, ms, r->gflops_visible,
           r->gflops_dense, r->gbps, r->variant);
    fflush(stdout);
}

static const char *type_name(VkPhysicalDeviceType t)
{
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated";
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
    default: return "other";
    }
}

/* Six significant digits: timings are not more precise than that. */
static double sig6(double x)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%.6g", x);
    return strtod(buf, NULL);
}

typedef struct run_meta {
    const vkattn_device_info *info;
    char api[32];
    char date[32];
} run_meta;

static cJSON *json_u32_list(const uint32_t *v, uint32_t n)
{
    if (!v)
        return cJSON_CreateNull();
    cJSON *a = cJSON_CreateArray();
    for (uint32_t i = 0; a && i < n; ++i)
        if (!cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]))) {
            cJSON_Delete(a);
            return NULL;
        }
    return a;
}

/* Adds item to o under key; false (item freed) on failure. */
static bool json_add(cJSON *o, const char *key, cJSON *item)
{
    if (item && cJSON_AddItemToObject(o, key, item))
        return true;
    cJSON_Delete(item);
    return false;
}

static bool json_row(cJSON *rows, const bench_case *c, const bench_row *r)
{
    const vkattn_problem *p = &c->p;
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToArray(rows, o)) {
        cJSON_Delete(o);
        return false;
    }
    int window[2] = {p->window ? p->window_left : -1, p->window ? p->window_right : -1};
    return cJSON_AddNumberToObject(o, "B", p->batch) &&
           cJSON_AddNumberToObject(o, "Hq", p->heads_q) &&
           cJSON_AddNumberToObject(o, "Hkv", p->heads_kv) &&
           cJSON_AddNumberToObject(o, "Sq", p->seq_q) &&
           cJSON_AddNumberToObject(o, "Skv", p->seq_kv) &&
           cJSON_AddNumberToObject(o, "D", p->head_dim) &&
           cJSON_AddStringToObject(o, "dtype", p->dtype == VKATTN_DTYPE_F16 ? "f16" : "f32") &&
           cJSON_AddStringToObject(o, "layout", "bhsd") &&
           cJSON_AddBoolToObject(o, "causal", p->causal) &&
           cJSON_AddStringToObject(o, "align", p->align == VKATTN_ALIGN_TOP_LEFT
                                                   ? "top-left" : "bottom-right") &&
           json_add(o, "window", cJSON_CreateIntArray(window, 2)) &&
           json_add(o, "q_lens", json_u32_list(c->q_lens, p->batch)) &&
           json_add(o, "kv_lens", json_u32_list(c->kv_lens, p->batch)) &&
           cJSON_AddBoolToObject(o, "paged", false) &&
           cJSON_AddStringToObject(o, "variant", r->variant) &&
           cJSON_AddNumberToObject(o, "ms_median", sig6(r->ms_median)) &&
           cJSON_AddNumberToObject(o, "ms_min", sig6(r->ms_min)) &&
           cJSON_AddNumberToObject(o, "ms_max", sig6(r->ms_max)) &&
           cJSON_AddNumberToObject(o, "repeats", r->repeats) &&
           cJSON_AddNumberToObject(o, "visible_pairs", (double)r->visible_pairs) &&
           cJSON_AddNumberToObject(o, "gflops_visible", sig6(r->gflops_visible)) &&
           cJSON_AddNumberToObject(o, "gflops_dense", sig6(r->gflops_dense)) &&
           cJSON_AddNumberToObject(o, "gbps", sig6(r->gbps)) &&
           cJSON_AddStringToObject(o, "device", r->device) &&
           cJSON_AddStringToObject(o, "timer", r->timer);
}

/* The JSON document (malloc'd text), or NULL on out of memory. */
static char *json_text(const run_meta *m, const bench_case *cases, const bench_row *rows,
                       size_t n)
{
    char *text = NULL;
    cJSON *root = cJSON_CreateObject(), *o, *arr;
    if (!root)
        return NULL;
    bool ok = (o = cJSON_AddObjectToObject(root, "vkattn")) &&
              cJSON_AddStringToObject(o, "version", VKATTN_VERSION_STRING) &&
              cJSON_AddStringToObject(o, "git", VKATTN_GIT) &&
              (o = cJSON_AddObjectToObject(root, "device")) &&
              cJSON_AddStringToObject(o, "name", m->info->name) &&
              cJSON_AddStringToObject(o, "type", type_name(m->info->type)) &&
              cJSON_AddNumberToObject(o, "vendor_id", m->info->vendor_id) &&
              cJSON_AddStringToObject(o, "driver", m->info->driver) &&
              cJSON_AddStringToObject(o, "api_version", m->api) &&
              cJSON_AddStringToObject(root, "date", m->date) &&
              (arr = cJSON_AddArrayToObject(root, "rows"));
    for (size_t i = 0; ok && i < n; ++i)
        ok = json_row(arr, &cases[rows[i].case_index], &rows[i]);
    if (ok && (text = cJSON_Print(root))) {
        size_t len = strlen(text);
        char *nl = realloc(text, len + 2); /* end the file with a newline */
        if (nl) {
            text = nl;
            memcpy(text + len, "\n", 2);
        }
    }
    cJSON_Delete(root);
    return text;
}

/* A CSV field, quoted (with "" for ") when it holds a comma, quote or line break, or when
 * quote is set. */
static void csv_field(FILE *f, const char *s, bool quote)
{
    quote = quote || strpbrk(s, ",\"\r\n") != NULL;
    if (!quote) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; ++s) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void csv_lens(FILE *f, const uint32_t *v, uint32_t n)
{
    if (!v)
        return;
    fputc('"', f);
    for (uint32_t i = 0; i < n; ++i)
        fprintf(f, "%s%u", i ? "," : "", v[i]);
    fputc('"', f);
}

/* The CSV document (malloc'd text, *len bytes), or NULL on out of memory. The columns are the
 * JSON row fields, then the device, driver and build of the run. */
static char *csv_text(const run_meta *m, const bench_case *cases, const bench_row *rows, size_t n,
                      size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    if (!f)
        return NULL;
    fputs("B,Hq,Hkv,Sq,Skv,D,dtype,layout,causal,align,window,q_lens,kv_lens,paged,variant,"
          "ms_median,ms_min,ms_max,repeats,visible_pairs,gflops_visible,gflops_dense,gbps,"
          "device,timer,driver,api_version,vkattn_version,git,date\n", f);
    for (size_t i = 0; i < n; ++i) {
        const bench_row *r = &rows[i];
        const bench_case *c = &cases[r->case_index];
        const vkattn_problem *p = &c->p;
        fprintf(f, "%u,%u,%u,%u,%u,%u,%s,bhsd,%s,%s,\"%d,%d\",", p->batch, p->heads_q,
                p->heads_kv, p->seq_q, p->seq_kv, p->head_dim,
                p->dtype == VKATTN_DTYPE_F16 ? "f16" : "f32", p->causal ? "true" : "false",
                p->align == VKATTN_ALIGN_TOP_LEFT ? "top-left" : "bottom-right",
                p->window ? p->window_left : -1, p->window ? p->window_right : -1);
        csv_lens(f, c->q_lens, p->batch);
        fputc(',', f);
        csv_lens(f, c->kv_lens, p->batch);
        fputs(",false,", f);
        csv_field(f, r->variant, false);
        fprintf(f, ",%.6g,%.6g,%.6g,%d,%llu,%.6g,%.6g,%.6g,", r->ms_median, r->ms_min, r->ms_max,
                r->repeats, (unsigned long long)r->visible_pairs, r->gflops_visible,
                r->gflops_dense, r->gbps);
        csv_field(f, r->device, false);
        fputc(',', f);
        csv_field(f, r->timer, false);
        fputc(',', f);
        csv_field(f, m->info->driver, false);
        fprintf(f, ",%s,%s,", m->api, VKATTN_VERSION_STRING);
        csv_field(f, VKATTN_GIT, false);
        fprintf(f, ",%s\n", m->date);
    }
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
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
static int write_outputs(const bench_opts *o, const run_meta *m, const bench_case *cases,
                         const bench_row *rows, size_t n)
{
    outfile pj = {0}, pc = {0};
    int rc = -1;
    char *jtext = NULL, *ctext = NULL;
    size_t clen = 0;
    if (o->json) {
        if (!(jtext = json_text(m, cases, rows, n))) {
            cli_error(CMD, "--json: out of memory");
            goto done;
        }
        if (write_pending("--json", o->json, jtext, strlen(jtext), &pj))
            goto done;
    }
    if (o->csv) {
        if (!(ctext = csv_text(m, cases, rows, n, &clen))) {
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
    unsigned messages = 0, failed = 0;
    char msg[512];
    int status = 2;

    int r = parse_args(argc, argv, &o);
    if (r) {
        free(o.shapes);
        return r > 0 ? 0 : 2;
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
    run_meta meta = {.info = &info};
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
    int width = 4;
    for (size_t i = 0; i < n_cases; ++i) {
        char name[160];
        case_name(&cases[i], name, sizeof name);
        if ((int)strlen(name) > width)
            width = (int)strlen(name);
    }
    print_header(width);

    bool progress = isatty(2);
    int cpu_runs = o.repeat < CPU_REPEATS ? o.repeat : CPU_REPEATS;
    for (size_t i = 0; i < n_cases; ++i) {
        const bench_case *c = &cases[i];
        char name[160];
        host_data h;
        case_name(c, name, sizeof name);
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
                                 .q_lens = c->q_lens, .kv_lens = c->kv_lens};
        if (cpu_ctx) {
            ok = cpu_time(ctx, &c->p, &t, cpu_runs, ms, msg, sizeof msg) == 0;
            row->variant = "cpu-attention-wallclock";
            row->device = "cpu";
            if (ok)
                fill_row(row, c, ms, cpu_runs);
        } else {
            ok = bench_gpu_time(g, ctx, &c->p, &t, o.warmup, o.repeat, ms, msg, sizeof msg) == 0;
            wall = !bench_gpu_has_timestamps(g);
            row->variant = "fa2-tiled";
            row->device = info.name;
            if (ok)
                fill_row(row, c, ms, o.repeat);
        }
        row->timer = wall ? "wall-clock" : "gpu-timestamps";
        if (progress)
            fprintf(stderr, "\r\033[K");
        if (ok) {
            print_row(width, c, &rows[n_rows++]);
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
            if (progress)
                fprintf(stderr, "[%zu/%zu] %s (CPU reference) ...\r", i + 1, n_cases, name);
            ok = cpu_time(NULL, &c->p, &t, cpu_runs, ms, msg, sizeof msg) == 0;
            if (progress)
                fprintf(stderr, "\r\033[K");
            if (ok) {
                fill_row(row, c, ms, cpu_runs);
                print_row(width, c, &rows[n_rows++]);
            } else {
                cli_error(CMD, "%s (CPU reference): %s", name, msg);
                ++failed;
            }
        }
        host_free(&h);
    }
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
    return status;
}
