/* vkattn_prepare (issue #20): after it, an app's calls for the prepared problems create no
 * pipeline (vkattn_context_pipelines counts them) and still agree with the reference; threads
 * preparing at once on one context make each pipeline once; bad arguments are refused with
 * nothing made. Validation on; exits 77 without a Vulkan device. */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "src/half.h"
#include "vk_test.h"

static vkattn_context ctx;

#define P(...) {.batch = 2, .heads_q = 4, .heads_kv = 2, .has_lse = true, __VA_ARGS__}
/* One of each kind of call (small head sizes: lavapipe compiles each pipeline for seconds). */
static const vkattn_problem problems[] = {
    P(.seq_q = 33, .seq_kv = 47, .head_dim = 16, .dtype = VKATTN_DTYPE_F32, .causal = true),
    P(.seq_q = 33, .seq_kv = 47, .head_dim = 16, .dtype = VKATTN_DTYPE_F16),
    P(.seq_q = 1, .seq_kv = 1100, .head_dim = 8, .dtype = VKATTN_DTYPE_F16, .causal = true),
    P(.seq_q = 3, .seq_kv = 70, .head_dim = 8, .dtype = VKATTN_DTYPE_F32, .kv_splits = 3),
    P(.seq_q = 5, .seq_kv = 40, .head_dim = 3, .dtype = VKATTN_DTYPE_F32, .softcap = 20.0f,
      .mask_batch = 1, .mask_heads = 1),
    P(.seq_q = 2, .seq_kv = 50, .head_dim = 8, .dtype = VKATTN_DTYPE_F16, .page_size = 16,
      .num_pages = 8),
};
#define N_PROBLEMS (sizeof problems / sizeof problems[0])

/* Runs problem i through vkattn_attention and returns max |O - O_ref|. */
static double run_one(vkattn_context c, size_t i)
{
    const vkattn_problem *p = &problems[i];
    const size_t es = p->dtype == VKATTN_DTYPE_F16 ? 2 : 4;
    const size_t nq = vkattn_problem_extent(p, 'q'), nk = vkattn_problem_extent(p, 'k');
    const size_t no = vkattn_problem_extent(p, 'o'), nl = vkattn_problem_extent(p, 'l');
    const size_t nm = vkattn_problem_extent(p, 'm'), np = vkattn_problem_extent(p, 'p');
    void *q = malloc(nq * es), *k = malloc(nk * es), *v = malloc(nk * es);
    void *o = malloc(no * es), *o_ref = malloc(no * es);
    float *lse = malloc(nl * 4), *lse_ref = malloc(nl * 4);
    uint8_t *mask = malloc(nm ? nm : 1);
    uint32_t *pages = malloc((np ? np : 1) * 4);
    ck_assert(q && k && v && o && o_ref && lse && lse_ref && mask && pages);
    vk_test_fill_qkv(p->dtype, 5 + i, q, nq, k, v, nk);
    for (size_t j = 0; j < nm; ++j)
        mask[j] = j % 3 != 1;
    for (size_t j = 0; j < np; ++j)
        pages[j] = (uint32_t)((np - 1 - j) % p->num_pages);
    vkattn_host_tensors t = {.q = q, .k = k, .v = v, .out = o_ref, .lse = lse_ref,
                             .mask = nm ? mask : NULL, .page_table = np ? pages : NULL};
    char msg[256];
    ck_assert_int_eq(vkattn_reference(p, &t, msg, sizeof msg), VKATTN_SUCCESS);
    t.out = o;
    t.lse = lse;
    ck_assert_msg(vkattn_attention(c, p, &t) == VKATTN_SUCCESS, "problem %zu: %s", i,
                  vkattn_context_message(c));
    double err = 0;
    for (size_t j = 0; j < no; ++j) {
        const double a = es == 2 ? half_to_float(((uint16_t *)o)[j]) : ((float *)o)[j];
        const double b = es == 2 ? half_to_float(((uint16_t *)o_ref)[j]) : ((float *)o_ref)[j];
        err = fmax(err, fabs(a - b));
    }
    free(q), free(k), free(v), free(o), free(o_ref), free(lse), free(lse_ref), free(mask);
    free(pages);
    return err;
}

START_TEST(prepared_calls_make_no_pipeline)
{
    ck_assert_uint_eq(vkattn_context_pipelines(ctx, NULL, 0), 0);
    ck_assert_int_eq(vkattn_prepare(ctx, problems, N_PROBLEMS, VKATTN_BUFFER_TEXEL),
                     VKATTN_SUCCESS);
    const uint32_t made = vkattn_context_pipelines(ctx, NULL, 0);
    ck_assert_uint_gt(made, 0);
    /* Preparing again makes nothing. */
    ck_assert_int_eq(vkattn_prepare(ctx, problems, N_PROBLEMS, VKATTN_BUFFER_TEXEL),
                     VKATTN_SUCCESS);
    ck_assert_uint_eq(vkattn_context_pipelines(ctx, NULL, 0), made);
    for (size_t i = 0; i < N_PROBLEMS; ++i) {
        const double err = run_one(ctx, i);
        ck_assert_msg(err <= (problems[i].dtype == VKATTN_DTYPE_F16 ? 5e-3 : 1e-4),
                      "problem %zu: max error %g", i, err);
        ck_assert_msg(vkattn_context_pipelines(ctx, NULL, 0) == made,
                      "problem %zu made a pipeline on its first call after vkattn_prepare", i);
    }
}
END_TEST

static void *prepare_all(void *c)
{
    return (void *)(intptr_t)vkattn_prepare(c, problems, N_PROBLEMS, VKATTN_BUFFER_TEXEL);
}

START_TEST(threads_prepare_each_pipeline_once)
{
    vkattn_context_desc d = vk_test_borrowed_desc(ctx);
    vkattn_context c;
    ck_assert_int_eq(vkattn_context_create(&d, &c), VKATTN_SUCCESS);
    pthread_t t[3];
    for (int i = 0; i < 3; ++i)
        ck_assert_int_eq(pthread_create(&t[i], NULL, prepare_all, c), 0);
    for (int i = 0; i < 3; ++i) {
        void *res;
        pthread_join(t[i], &res);
        ck_assert_int_eq((int)(intptr_t)res, VKATTN_SUCCESS);
    }
    /* The same pipelines as one thread made (the default context of the test above). */
    vkattn_context one;
    ck_assert_int_eq(vkattn_context_create(&d, &one), VKATTN_SUCCESS);
    ck_assert_int_eq((int)(intptr_t)prepare_all(one), VKATTN_SUCCESS);
    ck_assert_uint_eq(vkattn_context_pipelines(c, NULL, 0), vkattn_context_pipelines(one, NULL, 0));
    vkattn_context_destroy(one);
    vkattn_context_destroy(c);
}
END_TEST

START_TEST(bad_arguments_make_nothing)
{
    vkattn_context_desc d = vk_test_borrowed_desc(ctx);
    vkattn_context c;
    ck_assert_int_eq(vkattn_context_create(&d, &c), VKATTN_SUCCESS);
    ck_assert_int_eq(vkattn_prepare(NULL, problems, 1, 0), VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(vkattn_prepare(c, NULL, 2, 0), VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(vkattn_prepare(c, NULL, 0, 0), VKATTN_SUCCESS);
    ck_assert_int_eq(vkattn_prepare(c, problems, 1, 0x80), VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(vkattn_context_message(c), "kv_flags"));
    vkattn_problem bad[2] = {problems[0], problems[1]};
    bad[1].heads_kv = 3; /* does not divide heads_q */
    ck_assert_int_eq(vkattn_prepare(c, bad, 2, 0), VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(vkattn_context_message(c), "problems[1]"));
    ck_assert_uint_eq(vkattn_context_pipelines(c, NULL, 0), 0);
    vkattn_context_destroy(c);
    /* A CPU context has nothing to make. */
    vkattn_context_desc cd = {.kind = VKATTN_DEVICE_CPU};
    ck_assert_int_eq(vkattn_context_create(&cd, &c), VKATTN_SUCCESS);
    ck_assert_int_eq(vkattn_prepare(c, problems, N_PROBLEMS, 0), VKATTN_SUCCESS);
    ck_assert_uint_eq(vkattn_context_pipelines(c, NULL, 0), 0);
    vkattn_context_destroy(c);
}
END_TEST

int main(void)
{
    if (!(ctx = vk_test_context()))
        return 77;
    Suite *s = suite_create("prepare");
    TCase *tc = tcase_create("prepare");
    tcase_set_timeout(tc, 1800);
    tcase_add_test(tc, prepared_calls_make_no_pipeline);
    tcase_add_test(tc, threads_prepare_each_pipeline_once);
    tcase_add_test(tc, bad_arguments_make_nothing);
    suite_add_tcase(s, tc);
    return vk_test_run(s, ctx);
}
