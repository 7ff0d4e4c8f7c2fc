/* The problems of `vkattn bench` and `vkattn tune`: --shape problems (with the mask flags and
 * --decode-variants) and the named suites, and random host tensors for them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_cases.h"
#include "rng.h"
#include "src/half.h"

void bench_free_cases(bench_case *cases, size_t n)
{
    for (size_t i = 0; i < n; ++i) {
        free(cases[i].q_lens);
        free(cases[i].kv_lens);
        free(cases[i].q_start);
        free(cases[i].kv_start);
        free(cases[i].cu_q);
        free(cases[i].cu_kv);
        free(cases[i].sinks);
        free(cases[i].alibi);
    }
    free(cases);
}

vkattn_host_tensors bench_case_tensors(const bench_case *c, const host_data *h)
{
    return (vkattn_host_tensors){
        .q = h->q, .k = h->k, .v = h->v, .out = h->out, .q_lens = c->q_lens,
        .kv_lens = c->kv_lens, .page_table = c->p.page_size ? h->pages : NULL,
        .q_start = c->q_start, .kv_start = c->kv_start, .sinks = c->sinks, .alibi = c->alibi,
        .cu_seqlens_q = c->cu_q, .cu_seqlens_kv = c->cu_kv,
    };
}

/* A malloc'd copy of n values (NULL for NULL); false on out of memory. */
static bool copy_list(const void *src, size_t bytes, void *dst)
{
    void *d = NULL;
    if (src && (d = malloc(bytes)))
        memcpy(d, src, bytes);
    memcpy(dst, &d, sizeof d);
    return !src || d;
}

/* Appends a copy of p (and of the per-batch lists of s, which may be NULL) to *cases; -1 on out
 * of memory (not printed). */
static int add_case(bench_case **cases, size_t *n, const vkattn_problem *p, const cli_seqs *s)
{
    bench_case *grown = realloc(*cases, (*n + 1) * sizeof *grown);
    if (!grown)
        return -1;
    *cases = grown;
    bench_case *c = &grown[*n];
    memset(c, 0, sizeof *c);
    c->p = *p;
    ++*n;
    const cli_seqs none = {0};
    s = s ? s : &none;
    const size_t bytes = p->batch * sizeof(uint32_t);
    const bool ok = copy_list(s->q_lens, bytes, &c->q_lens) &&
                    copy_list(s->kv_lens, bytes, &c->kv_lens) &&
                    copy_list(s->q_start, bytes, &c->q_start) &&
                    copy_list(s->kv_start, bytes, &c->kv_start);
    c->p.has_q_lens = c->q_lens != NULL;
    c->p.has_kv_lens = c->kv_lens != NULL;
    c->p.has_q_start = c->q_start != NULL;
    c->p.has_kv_start = c->kv_start != NULL;
    return ok ? 0 : -1;
}

/* Gives case c sinks drawn from N(0, 1) and ALiBi's standard slopes 2^(-8 (h + 1) / Hq), as
 * asked; -1 on out of memory. */
static int add_logits(bench_case *c, bool sinks, bool alibi, uint64_t seed)
{
    const uint32_t hq = c->p.heads_q;
    if (sinks) {
        rng g;
        rng_seed(&g, seed);
        if (!(c->sinks = malloc(hq * sizeof *c->sinks)))
            return -1;
        for (uint32_t h = 0; h < hq; ++h)
            c->sinks[h] = rng_normal(&g);
        c->p.has_sinks = true;
    }
    if (alibi) {
        if (!(c->alibi = malloc(hq * sizeof *c->alibi)))
            return -1;
        for (uint32_t h = 0; h < hq; ++h)
            c->alibi[h] = exp2f(-8.0f * (float)(h + 1) / (float)hq);
        c->p.alibi = VKATTN_ALIBI_HEADS;
    }
    return 0;
}

uint64_t bench_largest_tensor(const vkattn_problem *p)
{
    static const char which[4] = {'q', 'k', 'v', 'o'};
    uint64_t es = p->dtype == VKATTN_DTYPE_F32 ? 4 : 2, most = 0;
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
    p->k = p->v = (vkattn_strides){0, 0, 0}; /* the pool's layout */
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
            if (add_case(cases, n, &p, NULL))
                return -1;
        }
    /* Decoding one token against a KV cache, grouped-query heads (4 query heads per kv head). */
    p = make_problem(1, 16, 4, 1, 512, 128, dt, true);
    if (add_case(cases, n, &p, NULL))
        return -1;
    p = make_problem(4, 4, 4, 256, 256, 64, dt, true);
    const cli_seqs seqs = {.q_lens = (uint32_t *)lens, .kv_lens = (uint32_t *)lens};
    return add_case(cases, n, &p, &seqs);
}

static int add_suite_prefill(bench_case **cases, size_t *n, vkattn_dtype dt)
{
    static const uint32_t seqs[] = {512, 1024, 2048, 4096, 8192}, dims[] = {64, 128};
    for (size_t s = 0; s < sizeof seqs / sizeof seqs[0]; ++s)
        for (size_t d = 0; d < sizeof dims / sizeof dims[0]; ++d)
            for (int causal = 0; causal < 2; ++causal) {
                vkattn_problem p = make_problem(1, 8, 8, seqs[s], seqs[s], dims[d], dt, causal);
                if (add_case(cases, n, &p, NULL))
                    return -1;
            }
    return 0;
}

static bool has_dtype(const bench_selection *o, vkattn_dtype dt)
{
    for (size_t i = 0; i < o->n_dtypes; ++i)
        if (o->dtypes[i] == dt)
            return true;
    return false;
}

/* Generating tokens against a KV cache: one new token, and four (a speculative or chunked
 * step), for one sequence and a batch of 8, with 32 query heads on 32 kv heads (MHA), 8 (GQA)
 * and one (MQA), against caches of 1024, 8192 and 32768 keys, D=128. Causal with the
 * bottom-right alignment: the new tokens see the whole cache. Each problem runs with contiguous
 * K/V and then paged (tag "paged64": 64-key pages, the table reversing the pool).
 * Streaming the cache dominates, so these rows are memory-bound. Without --dtype both storage
 * types are timed (f16 halves the bytes); any problem whose K or V spans more than the
 * device's maxStorageBufferRange is left out. */
static int add_suite_decode(bench_case **cases, size_t *n, const bench_selection *o)
{
    static const uint32_t batch[] = {1, 8}, hkv[] = {32, 8, 1}, sq[] = {1, 4},
                          skv[] = {1024, 8192, 32768};
    static const vkattn_dtype dts[] = {VKATTN_DTYPE_F32, VKATTN_DTYPE_F16};
    for (size_t t = 0; t < 2; ++t) {
        if (o->n_dtypes && !has_dtype(o, dts[t]))
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
                            if (add_case(cases, n, &p, NULL))
                                return -1;
                            bench_case *c = &(*cases)[*n - 1];
                            if (paged) {
                                snprintf(c->tag, sizeof c->tag, "paged64");
                                c->with_prev = true;
                            }
                        }
    }
    return 0;
}

/* The 4 lengths of lens as a packed batch (SPEC 2.1) like p, timed with the case before it. */
static int add_packed(bench_case **cases, size_t *n, vkattn_problem p, const uint32_t lens[4])
{
    p.packed = true;
    p.batch = 4;
    p.seq_q = p.seq_kv = lens[0] + lens[1] + lens[2] + lens[3];
    if (add_case(cases, n, &p, NULL))
        return -1;
    bench_case *c = &(*cases)[*n - 1];
    c->with_prev = true;
    if (!(c->cu_q = malloc(5 * sizeof *c->cu_q)) || !(c->cu_kv = malloc(5 * sizeof *c->cu_kv)))
        return -1;
    c->cu_q[0] = 0;
    for (int b = 0; b < 4; ++b)
        c->cu_q[b + 1] = c->cu_q[b] + lens[b];
    memcpy(c->cu_kv, c->cu_q, 5 * sizeof *c->cu_kv);
    return 0;
}

/* A batch of uneven sequences padded to S (lengths that are no multiple of a tile, summing to
 * a quarter of B x S, as after packing requests of different lengths), each next to the same
 * batch padded on the left (start offsets, as batched generation pads prompts), packed end to
 * end (cu_seqlens) and in full: the ratios show how much of the padding the kernel skips, what
 * the starts cost and what packing saves. Then one long sequence with three short ones
 * (1000, 24, 24, 24), padded with lengths, packed and in full (4 x 1000). About a minute on
 * lavapipe, nearly all of it in the full batches. */
static int add_suite_varlen(bench_case **cases, size_t *n, vkattn_dtype dt)
{
    static const uint32_t lens[4] = {300, 120, 70, 22}, uneven[4] = {1000, 24, 24, 24};
    static const uint32_t dims[] = {64, 128};
    const uint32_t S = 512;
    uint32_t starts[4];
    for (int b = 0; b < 4; ++b)
        starts[b] = S - lens[b];
    const cli_seqs right = {.q_lens = (uint32_t *)lens, .kv_lens = (uint32_t *)lens};
    const cli_seqs left = {.q_start = starts, .kv_start = starts};
    const cli_seqs one_long = {.q_lens = (uint32_t *)uneven, .kv_lens = (uint32_t *)uneven};
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; ++d) {
        vkattn_problem p = make_problem(4, 8, 8, S, S, dims[d], dt, true);
        if (add_case(cases, n, &p, &right) || add_case(cases, n, &p, &left))
            return -1;
        (*cases)[*n - 1].with_prev = true;
        if (add_packed(cases, n, p, lens) || add_case(cases, n, &p, NULL))
            return -1;
        (*cases)[*n - 1].with_prev = true;
    }
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; ++d) {
        vkattn_problem p = make_problem(4, 8, 8, 1000, 1000, dims[d], dt, true);
        if (add_case(cases, n, &p, &one_long) || add_packed(cases, n, p, uneven) ||
            add_case(cases, n, &p, NULL))
            return -1;
        (*cases)[*n - 1].with_prev = true;
    }
    return 0;
}

/* The problems of the options, in order: the --shape problems, then the suites. */
int bench_build_cases(const char *cmd, const bench_selection *o, bench_case **cases, size_t *n)
{
    const vkattn_dtype f32_only[1] = {VKATTN_DTYPE_F32};
    const vkattn_dtype *dts = o->n_dtypes ? o->dtypes : f32_only;
    const size_t n_dts = o->n_dtypes ? o->n_dtypes : 1;
    for (size_t i = 0; i < o->n_shapes * n_dts; ++i) {
        const uint32_t *s = o->shapes[i / n_dts];
        /* With two types, each problem's second is timed in turn with its first (unless the
         * decode variants already make a group of each). */
        const bool twin = i % n_dts != 0;
        vkattn_problem p = make_problem(s[0], s[1], s[2], s[3], s[4], s[5], dts[i % n_dts], false);
        p.head_dim_v = s[6];
        const uint32_t dv = s[6] ? s[6] : s[5];
        const bool bshd = o->layout == CLI_LAYOUT_BSHD;
        if (bshd) {
            p.q = vkattn_strides_bshd(s[1], s[3], s[5]);
            p.out = vkattn_strides_bshd(s[1], s[3], dv);
            p.k = vkattn_strides_bshd(s[2], s[4], s[5]);
            p.v = vkattn_strides_bshd(s[2], s[4], dv);
        }
        cli_seqs seqs = {0};
        char msg[512];
        int rc = -1;
        if (cli_mask_apply(cmd, &o->mask, &p, &seqs))
            goto next;
        p.has_sinks = o->sinks;
        p.alibi = o->alibi ? VKATTN_ALIBI_HEADS : VKATTN_ALIBI_NONE;
        if (vkattn_problem_check(&p, msg, sizeof msg) != VKATTN_SUCCESS) {
            cli_error(cmd, "--shape %u,%u,%u,%u,%u,%u: %s", s[0], s[1], s[2], s[3], s[4], s[5],
                      msg);
            goto next;
        }
        if ((rc = add_case(cases, n, &p, &seqs)) != 0 ||
            (rc = add_logits(&(*cases)[*n - 1], o->sinks, o->alibi, 7000 + i)) != 0) {
            cli_error(cmd, "out of memory");
        } else {
            (*cases)[*n - 1].bshd = bshd;
            (*cases)[*n - 1].with_prev = twin && !o->decode_variants;
        }
        for (int v = 0; rc == 0 && o->decode_variants && v < 3; ++v) {
            vkattn_problem pv = p;
            static const char *const tags[3] = {"splits=1", "no-pack", "paged64"};
            if (v == 0)
                pv.kv_splits = 1;
            else if (v == 1)
                pv.no_gqa_packing = true;
            else
                set_paged64(&pv);
            if ((rc = add_case(cases, n, &pv, &seqs)) == 0 &&
                (rc = add_logits(&(*cases)[*n - 1], o->sinks, o->alibi, 7000 + i)) == 0) {
                snprintf((*cases)[*n - 1].tag, sizeof (*cases)[*n - 1].tag, "%s", tags[v]);
                (*cases)[*n - 1].with_prev = true;
                (*cases)[*n - 1].bshd = bshd;
            }
            else
                cli_error(cmd, "out of memory");
        }
    next:
        cli_seqs_free(&seqs);
        if (rc)
            return -1;
    }
    unsigned suites = o->suites || o->n_shapes ? o->suites : SUITE_QUICK;
    for (size_t t = 0; t < n_dts; ++t)
        if (((suites & SUITE_QUICK) && add_suite_quick(cases, n, dts[t])) ||
            ((suites & SUITE_PREFILL) && add_suite_prefill(cases, n, dts[t])))
            return cli_error(cmd, "out of memory");
    if ((suites & SUITE_DECODE) && add_suite_decode(cases, n, o))
        return cli_error(cmd, "out of memory");
    for (size_t t = 0; t < n_dts; ++t)
        if ((suites & SUITE_VARLEN) && add_suite_varlen(cases, n, dts[t]))
            return cli_error(cmd, "out of memory");
    for (size_t i = 0; i < *n; ++i)
        (*cases)[i].p.precision = o->precision;
    return 0;
}

const char bench_selection_help[] =
    "  --shape B,Hq,Hkv,Sq,Skv,D[,Dv]\n"
    "                             a problem (repeatable); Hq a multiple of Hkv; Dv, the\n"
    "                             head size of V and O, defaults to D\n"
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
    "  --dtype f32|f16|bf16|f32,f16\n"
    "                             storage type of Q, K, V and O (default f32; the decode\n"
    "                             suite has both unless --dtype is given); with both,\n"
    "                             every problem runs in each, and each --shape problem's\n"
    "                             second type is timed in turn with its first\n"
    "  --precision exact|fast     exact (default): f32 arithmetic; fast: f16 scores where the\n"
    "                             device and its tuning allow (see vkattn.h)\n"
    "  --causal, --align A, --window L,R, --q-lens N,..., --kv-lens N,...,\n"
    "  --q-start N,..., --kv-start N,...\n"
    "                             the mask of the --shape problems, as for vkattn run\n"
    "  --sinks, --alibi           the --shape problems with attention sinks (N(0,1)) and\n"
    "                             ALiBi's standard slopes 2^(-8 (h+1) / Hq) per head\n"
    "  --layout bhsd|bshd         of the --shape problems' Q, K, V and O (default bhsd;\n"
    "                             paged K/V are always [pages, 64, Hkv, D])\n"
    "  --decode-variants          each --shape problem also with split-KV off (splits=1),\n"
    "                             GQA packing off (no-pack) and paged K/V (paged64: pages\n"
    "                             of 64 keys, in reverse order), timed in turn with it\n"
    "                             (a repeat of each, then the next): ratios that hold on a\n"
    "                             noisy machine. So are the decode suite's paged rows and\n"
    "                             the varlen suite's full batches with their twins\n";

int bench_selection_option(cli *c, bench_selection *o)
{
    static const struct {
        const char *name;
        unsigned bits;
    } suites[] = {{"quick", SUITE_QUICK}, {"prefill", SUITE_PREFILL}, {"decode", SUITE_DECODE},
                  {"varlen", SUITE_VARLEN}, {"all", SUITE_ALL}};
    const char *text;
    int m;
    if (cli_is(c, "--shape")) {
        uint32_t *v;
        size_t n;
        if (!(text = cli_value(c)) || cli_parse_u32_list(c->cmd, c->flag, text, 0, &v, &n))
            return -1;
        if (n != 6 && n != 7) {
            free(v);
            return cli_error(c->cmd, "--shape: expected B,Hq,Hkv,Sq,Skv,D or B,Hq,Hkv,Sq,Skv,D,Dv "
                             "(6 or 7 integers), got '%s'", text);
        }
        void *grown = realloc(o->shapes, (o->n_shapes + 1) * sizeof *o->shapes);
        if (!grown) {
            free(v);
            return cli_error(c->cmd, "out of memory");
        }
        o->shapes = grown;
        memset(o->shapes[o->n_shapes], 0, sizeof o->shapes[0]);
        memcpy(o->shapes[o->n_shapes++], v, n * sizeof *v);
        free(v);
    } else if (cli_is(c, "--suite")) {
        if (!(text = cli_value(c)))
            return -1;
        size_t s = 0;
        while (s < sizeof suites / sizeof suites[0] && strcmp(text, suites[s].name) != 0)
            ++s;
        if (s == sizeof suites / sizeof suites[0])
            return cli_error(c->cmd, "--suite: expected quick, prefill, decode, varlen or all, "
                             "got '%s'", text);
        o->suites |= suites[s].bits;
    } else if (cli_is(c, "--dtype")) {
        if (!(text = cli_value(c)))
            return -1;
        /* f32, f16, or both in either order (each once): the given order is the rows'. */
        static const struct {
            const char *text;
            vkattn_dtype list[2];
            size_t n;
        } forms[] = {{"f32", {VKATTN_DTYPE_F32}, 1},
                     {"f16", {VKATTN_DTYPE_F16}, 1},
                     {"f32,f16", {VKATTN_DTYPE_F32, VKATTN_DTYPE_F16}, 2},
                     {"f16,f32", {VKATTN_DTYPE_F16, VKATTN_DTYPE_F32}, 2},
                     {"bf16", {VKATTN_DTYPE_BF16}, 1},
                     {"f32,bf16", {VKATTN_DTYPE_F32, VKATTN_DTYPE_BF16}, 2},
                     {"f16,bf16", {VKATTN_DTYPE_F16, VKATTN_DTYPE_BF16}, 2}};
        size_t f = 0;
        while (f < sizeof forms / sizeof forms[0] && strcmp(text, forms[f].text) != 0)
            ++f;
        if (f == sizeof forms / sizeof forms[0])
            return cli_error(c->cmd, "--dtype: expected f32, f16, bf16 or two of them (f32,f16), got '%s'",
                             text);
        memcpy(o->dtypes, forms[f].list, sizeof o->dtypes);
        o->n_dtypes = forms[f].n;
    } else if (cli_is(c, "--sinks") || cli_is(c, "--alibi")) {
        bool *flag = cli_is(c, "--sinks") ? &o->sinks : &o->alibi;
        if (cli_switch(c))
            return -1;
        *flag = true;
    } else if ((m = cli_mask_flag(c, &o->mask)) != 0) {
        return m;
    } else if (cli_is(c, "--precision")) {
        if (cli_parse_precision(c, cli_value(c), &o->precision))
            return -1;
    } else if (cli_is(c, "--layout")) {
        if (cli_parse_layout(c, cli_value(c), &o->layout))
            return -1;
        o->layout_given = true;
    } else if (cli_is(c, "--decode-variants")) {
        if (cli_switch(c))
            return -1;
        o->decode_variants = true;
    } else {
        return 0;
    }
    return 1;
}

int bench_timing_option(cli *c, int *warmup, int *repeat)
{
    const bool w = cli_is(c, "--warmup");
    if (!w && !cli_is(c, "--repeat"))
        return 0;
    return cli_parse_int(c, cli_value(c), w ? 0 : 1, 1000000, w ? warmup : repeat) ? -1 : 1;
}

int bench_selection_check(const char *cmd, const bench_selection *o)
{
    if (o->layout_given && o->n_shapes == 0)
        return cli_error(cmd, "--layout: applies to the --shape problems (the suites are "
                         "BHSD); give a --shape");
    if ((o->sinks || o->alibi) && o->n_shapes == 0)
        return cli_error(cmd, "%s: applies to the --shape problems; give a --shape",
                         o->sinks ? "--sinks" : "--alibi");
    if (o->mask.first && o->n_shapes == 0)
        return cli_error(cmd, "%s: applies to the --shape problems (the suites set their own "
                         "masks); give a --shape", o->mask.first);
    return 0;
}

void host_free(host_data *h)
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
    return dt == VKATTN_DTYPE_F32 ? 4 : 2;
}

int host_make(const vkattn_problem *p, uint64_t seed, host_data *h)
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
                ((uint16_t *)*ptr[t])[i] = p->dtype == VKATTN_DTYPE_BF16 ? float_to_bf16(x[i])
                                                                         : float_to_half(x[i]);
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

double bench_sort_median(double *ms, int n)
{
    qsort(ms, (size_t)n, sizeof *ms, cmp_double);
    return n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
}
