/* Non-finite inputs (SPEC 3): a NaN, +Inf or -Inf in Q, K or V gives NaN in exactly the rows it
 * reaches, and leaves every other row as it was.
 *
 * "Reaches" (the definition this test holds the kernels and the reference to):
 *   - a bad value in Q row i of (b, h) reaches row (b, h, i) when that row sees at least one key
 *     (a padding row, or a row with an empty window, reads no score and stays 0 / -inf);
 *   - a bad value in K or V row j of (b, kv head hk) reaches row (b, h, i) for every query head h
 *     that reads hk (h / (Hq / Hkv) == hk) and every i for which key j is visible (SPEC 2: lens,
 *     causal, window, custom mask). A key that no row can see (past kv_len, outside every window,
 *     masked out) reaches no row.
 * A reached row has all D elements of O NaN and LSE NaN. Every other row is bit-identical to the
 * run without the bad value (same runner), and finite where it sees a key.
 *
 * Runners: the CPU reference, and with a Vulkan device one context per kernel form (rowwise,
 * split, and coopmat where the device and build have it), with the validation layer on (any
 * message fails). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "src/half.h"
#include "vkattn/vkattn.h"

enum { B = 2, HQ = 4, HKV = 2, SQ = 20, SKV = 45, MAXD = 80 };
enum { NRUNNERS = 4 };
static const char *const runner_names[NRUNNERS] = {"reference", "rowwise", "tiled", "coopmat"};
static vkattn_context kernels[3];
static bool have_gpu, have_coopmat;

/* Whether the runner exists on this machine (the coopmat one needs the device's matrices). */
static bool runner_here(int runner)
{
    return runner == 0 || (have_gpu && (runner < 3 || have_coopmat));
}
static unsigned messages;

static void on_message(void *user, const char *message)
{
    (void)user;
    ++messages;
    fprintf(stderr, "validation: %s\n", message);
}

/* ---------------------------------------------------------------------------------------------
 * Problems
 * ------------------------------------------------------------------------------------------- */
typedef struct config {
    const char *name;
    vkattn_problem p;
    uint32_t q_lens[B], kv_lens[B];
    bool custom;
} config;

enum { NCONFIGS = 6 };

static config make_config(int idx, vkattn_dtype dtype)
{
    config c;
    memset(&c, 0, sizeof c);
    vkattn_problem *p = &c.p;
    p->batch = B;
    p->heads_q = HQ;
    p->heads_kv = HKV;
    p->seq_q = SQ;
    p->seq_kv = SKV;
    p->dtype = dtype;
    p->head_dim = dtype == VKATTN_DTYPE_F16 ? 80 : 24;
    p->has_lse = true;
    switch (idx) {
    case 0:
        c.name = "dense";
        break;
    case 1:
        c.name = "causal";
        p->causal = true;
        break;
    case 2:
        c.name = "causal+window top-left";
        p->causal = true;
        p->align = VKATTN_ALIGN_TOP_LEFT;
        p->window = true;
        p->window_left = 3;
        p->window_right = -1;
        break;
    case 3:
        c.name = "window (5, 2)";
        p->window = true;
        p->window_left = 5;
        p->window_right = 2;
        break;
    case 4:
        c.name = "varlen causal";
        p->causal = true;
        p->has_q_lens = p->has_kv_lens = true;
        c.q_lens[0] = 13;
        c.q_lens[1] = 20;
        c.kv_lens[0] = 30;
        c.kv_lens[1] = 41;
        break;
    default:
        c.name = "custom mask + varlen kv";
        p->has_kv_lens = true;
        c.kv_lens[0] = 45;
        c.kv_lens[1] = 17;
        p->mask_batch = B;
        p->mask_heads = HQ;
        c.custom = true;
        break;
    }
    return c;
}

static uint8_t mask_buf[B * HQ * SQ * SKV + 4];

static bool visible(const config *c, uint32_t b, uint32_t h, int64_t i, int64_t j)
{
    const vkattn_problem *p = &c->p;
    int64_t ql = p->has_q_lens ? c->q_lens[b] : p->seq_q;
    int64_t kl = p->has_kv_lens ? c->kv_lens[b] : p->seq_kv;
    int64_t off = p->align == VKATTN_ALIGN_TOP_LEFT ? 0 : kl - ql;
    if (i >= ql || j >= kl)
        return false;
    if (p->causal && j > i + off)
        return false;
    if (p->window && p->window_left >= 0 && j < i + off - p->window_left)
        return false;
    if (p->window && p->window_right >= 0 && j > i + off + p->window_right)
        return false;
    if (c->custom && !mask_buf[((b * HQ + h) * SQ + i) * SKV + j])
        return false;
    return true;
}

static bool row_sees_any(const config *c, uint32_t b, uint32_t h, int64_t i)
{
    for (int64_t j = 0; j < SKV; ++j)
        if (visible(c, b, h, i, j))
            return true;
    return false;
}

/* A bad value: tensor 'q', 'k' or 'v'; (b, head, row, col) in that tensor's dense BHSD layout. */
typedef struct placement {
    char tensor;
    uint32_t b, head, row, col;
} placement;

static bool reached(const config *c, const placement *pl, uint32_t b, uint32_t h, uint32_t i)
{
    if (b != pl->b)
        return false;
    if (pl->tensor == 'q')
        return h == pl->head && i == pl->row && row_sees_any(c, b, h, i);
    if (h / (HQ / HKV) != pl->head)
        return false;
    return visible(c, b, h, i, pl->row);
}

static unsigned count_reached(const config *c, const placement *pl)
{
    unsigned n = 0;
    for (uint32_t b = 0; b < B; ++b)
        for (uint32_t h = 0; h < HQ; ++h)
            for (uint32_t i = 0; i < SQ; ++i)
                n += reached(c, pl, b, h, i);
    return n;
}

/* ---------------------------------------------------------------------------------------------
 * Tensors and runs
 * ------------------------------------------------------------------------------------------- */
typedef struct bufs {
    float qf[B * HQ * SQ * MAXD], kf[B * HKV * SKV * MAXD], vf[B * HKV * SKV * MAXD];
    uint16_t qh[B * HQ * SQ * MAXD], kh[B * HKV * SKV * MAXD], vh[B * HKV * SKV * MAXD];
    float of[B * HQ * SQ * MAXD];
    uint16_t oh[B * HQ * SQ * MAXD];
    float lse[B * HQ * SQ];
} bufs;

static bufs clean, dirty;

static void fill(bufs *x, const config *c, uint64_t seed)
{
    rng g;
    rng_seed(&g, seed);
    const uint32_t d = c->p.head_dim;
    rng_fill_normal(&g, x->qf, (size_t)B * HQ * SQ * d);
    rng_fill_normal(&g, x->kf, (size_t)B * HKV * SKV * d);
    rng_fill_normal(&g, x->vf, (size_t)B * HKV * SKV * d);
    for (size_t e = 0; e < (size_t)B * HQ * SQ * d; ++e)
        x->qh[e] = float_to_half(x->qf[e]);
    for (size_t e = 0; e < (size_t)B * HKV * SKV * d; ++e) {
        x->kh[e] = float_to_half(x->kf[e]);
        x->vh[e] = float_to_half(x->vf[e]);
    }
    if (c->custom)
        for (size_t e = 0; e < sizeof mask_buf; ++e)
            mask_buf[e] = rng_below(&g, 3) != 0; /* two thirds attend */
}

static void poke(bufs *x, const config *c, const placement *pl, float value)
{
    const uint32_t d = c->p.head_dim;
    uint32_t heads = pl->tensor == 'q' ? HQ : HKV, seq = pl->tensor == 'q' ? SQ : SKV;
    size_t e = (((size_t)pl->b * heads + pl->head) * seq + pl->row) * d + pl->col;
    float *f = pl->tensor == 'q' ? x->qf : pl->tensor == 'k' ? x->kf : x->vf;
    uint16_t *hh = pl->tensor == 'q' ? x->qh : pl->tensor == 'k' ? x->kh : x->vh;
    f[e] = value;
    hh[e] = float_to_half(value);
}

static void run(int runner, const config *c, bufs *x)
{
    const bool f16 = c->p.dtype == VKATTN_DTYPE_F16;
    vkattn_host_tensors t = {0};
    t.q = f16 ? (const void *)x->qh : (const void *)x->qf;
    t.k = f16 ? (const void *)x->kh : (const void *)x->kf;
    t.v = f16 ? (const void *)x->vh : (const void *)x->vf;
    t.out = f16 ? (void *)x->oh : (void *)x->of;
    t.lse = x->lse;
    t.q_lens = c->q_lens;
    t.kv_lens = c->kv_lens;
    t.mask = mask_buf;
    vkattn_result r;
    char msg[256] = "";
    if (runner == 0)
        r = vkattn_reference(&c->p, &t, msg, sizeof msg);
    else
        r = vkattn_attention(kernels[runner - 1], &c->p, &t);
    ck_assert_msg(r == VKATTN_SUCCESS, "%s [%s]: %s %s", c->name, runner_names[runner],
                  vkattn_result_string(r),
                  runner == 0 ? msg : vkattn_context_message(kernels[runner - 1]));
}

static float out_at(const bufs *x, const config *c, size_t e)
{
    return c->p.dtype == VKATTN_DTYPE_F16 ? half_to_float(x->oh[e]) : x->of[e];
}

/* Compares dirty with clean for one placement; returns the number of NaN rows seen. */
static unsigned check_rows(int runner, const config *c, const placement *pl, float value)
{
    const uint32_t d = c->p.head_dim;
    unsigned nan_rows = 0;
    for (uint32_t b = 0; b < B; ++b)
        for (uint32_t h = 0; h < HQ; ++h)
            for (uint32_t i = 0; i < SQ; ++i) {
                const bool want_nan = reached(c, pl, b, h, i);
                const size_t row = ((size_t)b * HQ + h) * SQ + i;
                for (uint32_t col = 0; col < d; ++col) {
                    float got = out_at(&dirty, c, row * d + col);
                    float ref = out_at(&clean, c, row * d + col);
                    if (want_nan)
                        ck_assert_msg(isnan(got),
                                      "%s %s [%s]: %g in %c[%u][%u][%u][%u]: O[%u][%u][%u][%u] = "
                                      "%g, want NaN", c->name, c->p.dtype ? "f16" : "f32",
                                      runner_names[runner], value, pl->tensor, pl->b, pl->head,
                                      pl->row, pl->col, b, h, i, col, got);
                    else
                        ck_assert_msg(isfinite(got) && memcmp(&got, &ref, sizeof got) == 0,
                                      "%s %s [%s]: %g in %c[%u][%u][%u][%u]: O[%u][%u][%u][%u] = "
                                      "%g, want %g (the clean run)", c->name,
                                      c->p.dtype ? "f16" : "f32", runner_names[runner], value,
                                      pl->tensor, pl->b, pl->head, pl->row, pl->col, b, h, i, col,
                                      got, ref);
                }
                float lg = dirty.lse[row], lr = clean.lse[row];
                if (want_nan)
                    ck_assert_msg(isnan(lg), "%s [%s]: %g in %c[%u][%u][%u]: LSE[%u][%u][%u] = %g, "
                                  "want NaN", c->name, runner_names[runner], value, pl->tensor,
                                  pl->b, pl->head, pl->row, b, h, i, lg);
                else
                    ck_assert_msg(!isnan(lg) && memcmp(&lg, &lr, sizeof lg) == 0,
                                  "%s [%s]: %g in %c[%u][%u][%u]: LSE[%u][%u][%u] = %g, want %g",
                                  c->name, runner_names[runner], value, pl->tensor, pl->b,
                                  pl->head, pl->row, b, h, i, lg, lr);
                nan_rows += want_nan;
            }
    return nan_rows;
}

/* Positions for one config: a few random ones per tensor, plus, where the config has them, a
 * K row, a V row and a Q row that no query reaches. */
static size_t placements(const config *c, uint64_t seed, placement *out)
{
    rng g;
    rng_seed(&g, seed);
    size_t n = 0;
    const char tensors[3] = {'q', 'k', 'v'};
    for (int t = 0; t < 3; ++t) {
        for (int r = 0; r < 3; ++r) {
            placement pl = {tensors[t], rng_below(&g, B), rng_below(&g, tensors[t] == 'q' ? HQ : HKV),
                            rng_below(&g, tensors[t] == 'q' ? SQ : SKV), rng_below(&g, c->p.head_dim)};
            out[n++] = pl;
        }
        /* A dead one: the first (from the end, so past-the-length keys come first) that reaches
         * nothing. */
        bool found = false;
        for (uint32_t b = 0; b < B && !found; ++b)
            for (int64_t row = (tensors[t] == 'q' ? SQ : SKV) - 1; row >= 0 && !found; --row) {
                placement pl = {tensors[t], b, 0, (uint32_t)row, c->p.head_dim - 1};
                if (count_reached(c, &pl) == 0) {
                    out[n++] = pl;
                    found = true;
                }
            }
    }
    return n;
}

START_TEST(nonfinite_case)
{
    const int runner = _i / (2 * NCONFIGS);
    const int ci = _i % NCONFIGS;
    const vkattn_dtype dtype = (_i / NCONFIGS) % 2 ? VKATTN_DTYPE_F16 : VKATTN_DTYPE_F32;
    if (!runner_here(runner))
        return;
    unsigned before = messages;
    const config c = make_config(ci, dtype);
    const uint64_t seed = 1000 + (uint64_t)ci * 2 + dtype;
    fill(&clean, &c, seed);
    run(runner, &c, &clean);
    /* The clean run is sane: finite, 0 / -inf exactly where a row sees nothing. */
    const uint32_t d = c.p.head_dim;
    for (uint32_t b = 0; b < B; ++b)
        for (uint32_t h = 0; h < HQ; ++h)
            for (uint32_t i = 0; i < SQ; ++i) {
                size_t row = ((size_t)b * HQ + h) * SQ + i;
                bool sees = row_sees_any(&c, b, h, i);
                ck_assert_msg(sees ? isfinite(clean.lse[row]) : clean.lse[row] == -INFINITY,
                              "%s [%s]: clean LSE[%zu] = %g", c.name, runner_names[runner], row,
                              clean.lse[row]);
                for (uint32_t col = 0; col < d; ++col) {
                    float o = out_at(&clean, &c, row * d + col);
                    ck_assert(isfinite(o) && (sees || o == 0.0f));
                }
            }

    placement pls[16];
    size_t npl = placements(&c, seed * 7 + 1, pls);
    const float values[3] = {NAN, INFINITY, -INFINITY};
    unsigned dead = 0, live = 0;
    for (size_t k = 0; k < npl; ++k)
        for (int vi = 0; vi < 3; ++vi) {
            memcpy(&dirty, &clean, sizeof dirty);
            memset(dirty.of, 0x5a, sizeof dirty.of);
            memset(dirty.oh, 0x5a, sizeof dirty.oh);
            memset(dirty.lse, 0x5a, sizeof dirty.lse);
            poke(&dirty, &c, &pls[k], values[vi]);
            run(runner, &c, &dirty);
            unsigned n = check_rows(runner, &c, &pls[k], values[vi]);
            *(n ? &live : &dead) += 1;
        }
    ck_assert_msg(live > 0, "%s: no placement reached a row", c.name);
    if (ci >= 2) /* these configs have keys nobody sees */
        ck_assert_msg(dead > 0, "%s: no dead placement", c.name);
    ck_assert_msg(messages == before, "%s [%s]: %u validation message(s)", c.name,
                  runner_names[runner], messages - before);
}
END_TEST

/* One NaN score at the very start of a long row, the rest huge and finite: the running max must
 * not lose the NaN, and finite rows beside it keep their clamped finite values. */
START_TEST(nan_among_huge_scores)
{
    enum { S = 40, D = 4 };
    float q[2 * D], k[S * D], v[S * D], o[2 * D], lse[2];
    for (int e = 0; e < 2 * D; ++e)
        q[e] = 3e38f;
    for (int e = 0; e < S * D; ++e) {
        k[e] = 1e20f;
        v[e] = 1.0f;
    }
    k[0] = NAN; /* key 0, seen by both rows */
    vkattn_problem p = {0};
    p.batch = 1;
    p.heads_q = 1;
    p.seq_q = 2;
    p.seq_kv = S;
    p.head_dim = D;
    p.has_lse = true;
    p.scale = 1.0f;
    vkattn_host_tensors t = {.q = q, .k = k, .v = v, .out = o, .lse = lse};
    for (int runner = 0; runner < NRUNNERS; ++runner) {
        if (!runner_here(runner))
            continue;
        char msg[256];
        vkattn_result r = runner == 0 ? vkattn_reference(&p, &t, msg, sizeof msg)
                                      : vkattn_attention(kernels[runner - 1], &p, &t);
        ck_assert_int_eq(r, VKATTN_SUCCESS);
        for (int e = 0; e < 2 * D; ++e)
            ck_assert_msg(isnan(o[e]), "[%s] O[%d] = %g", runner_names[runner], e, o[e]);
        ck_assert(isnan(lse[0]) && isnan(lse[1]));
        /* The same without the NaN: finite. */
        k[0] = 1e20f;
        r = runner == 0 ? vkattn_reference(&p, &t, msg, sizeof msg)
                        : vkattn_attention(kernels[runner - 1], &p, &t);
        ck_assert_int_eq(r, VKATTN_SUCCESS);
        for (int e = 0; e < 2 * D; ++e)
            ck_assert_msg(isfinite(o[e]), "[%s] O[%d] = %g", runner_names[runner], e, o[e]);
        k[0] = NAN;
    }
}
END_TEST

int main(void)
{
    vkattn_context_desc desc = {0};
    desc.validation = true;
    desc.on_message = on_message;
    vkattn_context probe = NULL;
    if (vkattn_context_create(&desc, &probe) == VKATTN_SUCCESS && !vkattn_context_is_cpu(probe)) {
        have_gpu = true;
        for (int k = 0; k < 2; ++k) {
            desc.kernel = k == 0 ? VKATTN_KERNEL_ROWWISE : VKATTN_KERNEL_TILED;
            if (vkattn_context_create(&desc, &kernels[k]) != VKATTN_SUCCESS) {
                fprintf(stderr, "cannot create the %s context\n", runner_names[k + 1]);
                return 1;
            }
        }
        desc.kernel = VKATTN_KERNEL_COOPMAT; /* UNSUPPORTED where it cannot run */
        have_coopmat = vkattn_context_create(&desc, &kernels[2]) == VKATTN_SUCCESS;
        if (!have_coopmat)
            fprintf(stderr, "no coopmat kernel here: its runner is skipped\n");
    } else {
        fprintf(stderr, "no Vulkan device: the CPU reference only\n");
    }
    vkattn_context_destroy(probe);

    Suite *s = suite_create("nonfinite");
    TCase *tc = tcase_create("rows");
    tcase_set_timeout(tc, 0);
    tcase_add_loop_test(tc, nonfinite_case, 0, NRUNNERS * 2 * NCONFIGS);
    tcase_add_test(tc, nan_among_huge_scores);
    suite_add_tcase(s, tc);

    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    vkattn_context_destroy(kernels[0]);
    vkattn_context_destroy(kernels[1]);
    vkattn_context_destroy(kernels[2]);
    if (messages)
        fprintf(stderr, "%u validation message(s)\n", messages);
    return failed == 0 && messages == 0 ? 0 : 1;
}
