/* VKATTN_PRECISION_FAST (issue #7): f16 scores where the tuning enables them and the device has
 * shaderFloat16, within the header's bound (5e-3 on O and LSE, N(0,1) inputs) against the
 * float64 reference; bitwise EXACT wherever FAST does not apply (f32 storage, tuning off).
 * Validation on; exits 77 without a device. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "src/half.h"
#include "vk_test.h"

#define FAST_BOUND 5e-3

static vkattn_context ctx;

typedef struct run_out {
    void *o;
    float *lse;
} run_out;

/* Runs p on the context (or the reference when ref) over the same seeded inputs. */
static run_out run(const vkattn_problem *p, bool ref)
{
    const size_t es = p->dtype == VKATTN_DTYPE_F16 ? 2 : 4;
    const size_t nq = vkattn_problem_extent(p, 'q'), nk = vkattn_problem_extent(p, 'k');
    const size_t nl = vkattn_problem_extent(p, 'l');
    void *q = malloc(nq * es), *k = malloc(nk * es), *v = malloc(nk * es);
    run_out r = {calloc(nq, es), calloc(nl, 4)};
    vk_test_fill_qkv(p->dtype, 11, q, nq, k, v, nk);
    vkattn_host_tensors t = {.q = q, .k = k, .v = v, .out = r.o, .lse = r.lse};
    char msg[256] = "";
    vkattn_result res = ref ? vkattn_reference(p, &t, msg, sizeof msg) : vkattn_attention(ctx, p, &t);
    ck_assert_msg(res == VKATTN_SUCCESS, "%s %s", msg, vkattn_context_message(ctx));
    free(q), free(k), free(v);
    return r;
}

static double value(const run_out *r, vkattn_dtype dt, size_t i)
{
    return dt == VKATTN_DTYPE_F16 ? half_to_float(((const uint16_t *)r->o)[i]) : ((const float *)r->o)[i];
}

/* Max |a - b| over O and over LSE. */
static void errors(const vkattn_problem *p, const run_out *a, const run_out *b, double *eo,
                   double *el)
{
    *eo = *el = 0;
    for (size_t i = 0; i < vkattn_problem_extent(p, 'o'); ++i)
        *eo = fmax(*eo, fabs(value(a, p->dtype, i) - value(b, p->dtype, i)));
    for (size_t i = 0; i < vkattn_problem_extent(p, 'l'); ++i)
        *el = fmax(*el, fabs((double)a->lse[i] - b->lse[i]));
}

static bool same(const vkattn_problem *p, const run_out *a, const run_out *b)
{
    const size_t es = p->dtype == VKATTN_DTYPE_F16 ? 2 : 4;
    return memcmp(a->o, b->o, vkattn_problem_extent(p, 'o') * es) == 0 &&
           memcmp(a->lse, b->lse, vkattn_problem_extent(p, 'l') * 4) == 0;
}

static void release(run_out *r)
{
    free(r->o);
    free(r->lse);
}

/* Prefill-shaped and decode-shaped problems, D 64 and 128 (and one odd D that takes the
 * unvectorised path), causal, GQA, with LSE. */
static const uint32_t shapes[][3] = {
    /* Sq, Skv, D */
    {37, 300, 64}, {1, 2048, 128}, {9, 1100, 40},
};

START_TEST(fast_within_its_bound)
{
    vkattn_problem p = {.batch = 2, .heads_q = 4, .heads_kv = 2, .seq_q = shapes[_i][0],
                        .seq_kv = shapes[_i][1], .head_dim = shapes[_i][2],
                        .dtype = VKATTN_DTYPE_F16, .causal = true, .has_lse = true};
    const vkattn_tuning_class cls = vkattn_tuning_class_of(&p);
    vkattn_device_info info;
    vkattn_context_device_info(ctx, &info);
    run_out ref = run(&p, true), exact = run(&p, false);
    /* The built-in choice on this device; on CPU drivers FAST computes as EXACT. */
    p.precision = VKATTN_PRECISION_FAST;
    run_out builtin = run(&p, false);
    if (info.type == VK_PHYSICAL_DEVICE_TYPE_CPU)
        ck_assert_msg(same(&p, &builtin, &exact), "CPU driver: FAST is not EXACT");
    /* Tuned on: f16 scores wherever the device has them. */
    vkattn_tuning on = {.f16_scores = 2}, off = {.f16_scores = 1};
    ck_assert_int_eq(vkattn_tuning_set(ctx, cls, p.dtype, p.head_dim, &on), VKATTN_SUCCESS);
    run_out fast = run(&p, false);
    double eo, el, xo, xl;
    errors(&p, &fast, &ref, &eo, &el);
    errors(&p, &exact, &ref, &xo, &xl);
    fprintf(stderr, "Sq %u Skv %u D %u: exact %.2e / %.2e, fast %.2e / %.2e (O / LSE)\n",
            p.seq_q, p.seq_kv, p.head_dim, xo, xl, eo, el);
    ck_assert_msg(eo <= FAST_BOUND && el <= FAST_BOUND, "fast: O %g, LSE %g", eo, el);
    if (info.fp16_arithmetic)
        ck_assert_msg(!same(&p, &fast, &exact), "f16 scores asked for, but EXACT's numbers came");
    ck_assert_int_eq(vkattn_tuning_set(ctx, cls, p.dtype, p.head_dim, &off), VKATTN_SUCCESS);
    run_out tuned_off = run(&p, false);
    ck_assert_msg(same(&p, &tuned_off, &exact), "f16_scores=1 is not EXACT");
    ck_assert_int_eq(vkattn_tuning_set(ctx, cls, p.dtype, p.head_dim, NULL), VKATTN_SUCCESS);
    release(&ref), release(&exact), release(&builtin), release(&fast), release(&tuned_off);
}
END_TEST

START_TEST(fast_is_exact_for_f32_and_checked)
{
    vkattn_problem p = {.batch = 1, .heads_q = 2, .heads_kv = 1, .seq_q = 5, .seq_kv = 200,
                        .head_dim = 64, .has_lse = true};
    vkattn_tuning on = {.f16_scores = 2};
    ck_assert_int_eq(vkattn_tuning_set(ctx, VKATTN_TUNING_PREFILL, p.dtype, 64, &on), VKATTN_SUCCESS);
    run_out exact = run(&p, false);
    p.precision = VKATTN_PRECISION_FAST;
    run_out fast = run(&p, false);
    ck_assert_msg(same(&p, &fast, &exact), "f32 storage: FAST is not EXACT");
    ck_assert_int_eq(vkattn_tuning_set(ctx, VKATTN_TUNING_PREFILL, p.dtype, 64, NULL), VKATTN_SUCCESS);
    release(&exact), release(&fast);

    char msg[128];
    p.precision = (vkattn_precision)2;
    ck_assert_int_eq(vkattn_problem_check(&p, msg, sizeof msg), VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(msg, "precision = 2"));
    vkattn_tuning bad = {.f16_scores = 3};
    ck_assert_int_eq(vkattn_tuning_set(ctx, VKATTN_TUNING_PREFILL, p.dtype, 64, &bad),
                     VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(vkattn_context_message(ctx), "f16_scores = 3"));
}
END_TEST

int main(void)
{
    if (!(ctx = vk_test_context()))
        return 77;
    Suite *s = suite_create("precision");
    TCase *tc = tcase_create("precision");
    tcase_set_timeout(tc, 0);
    tcase_add_loop_test(tc, fast_within_its_bound, 0, (int)(sizeof shapes / sizeof shapes[0]));
    tcase_add_test(tc, fast_is_exact_for_f32_and_checked);
    suite_add_tcase(s, tc);
    return vk_test_run(s, ctx);
}
