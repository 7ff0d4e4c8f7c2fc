/* K/V through texel views (VKATTN_BUFFER_TEXEL, tuning texel=2): the split-KV kernel reads the
 * same words through another descriptor type, so every result must be bitwise the one of the
 * storage-buffer path (texel=1), which the other suites hold to the reference; except where
 * texel views bring the kernel's ROWS form (CPU drivers' prefill with D above 64: invocations
 * take query rows, not keys or heads, another order of the sums), held to the reference's bound
 * instead. The convenience call flags its K/V, so both paths run here whatever the device's
 * built-in choice. Shapes cover prefill and decode classes, f32 and f16, GQA, causal, paged K/V
 * (the view spans the page pool), splits (the merge pass re-binds storage buffers after the
 * texel dispatch) and head sizes whose rows are not whole 16-byte words (the storage path must
 * be kept there, also where the ROWS form was planned). Validation on; exits 77 without a
 * device. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "src/half.h"
#include "vk_test.h"

static vkattn_context ctx;

typedef struct shape {
    uint32_t b, hq, hkv, sq, skv, d;
    vkattn_dtype dtype;
    uint32_t page_size, splits;
} shape;

static const shape shapes[] = {
    {1, 4, 4, 200, 200, 64, VKATTN_DTYPE_F32, 0, 0},   /* prefill, one split */
    {2, 8, 2, 1, 1500, 128, VKATTN_DTYPE_F16, 0, 0},   /* decode step, GQA, split */
    {2, 4, 1, 3, 1100, 64, VKATTN_DTYPE_F32, 32, 0},   /* paged, shuffled table */
    {1, 2, 2, 40, 600, 128, VKATTN_DTYPE_F16, 0, 3},   /* forced splits */
    {1, 2, 1, 17, 300, 36, VKATTN_DTYPE_F16, 0, 0},    /* rows of 72 bytes: no words */
    {1, 8, 2, 37, 300, 128, VKATTN_DTYPE_F32, 0, 0},   /* GQA-packed rows, a partial block */
    {1, 4, 2, 40, 300, 128, VKATTN_DTYPE_F32, 32, 0},  /* paged prefill */
    {1, 2, 1, 17, 300, 100, VKATTN_DTYPE_F16, 0, 0},   /* ROWS wanted, no words: its fallback */
};

typedef struct run_out {
    void *o;
    float *lse;
} run_out;

/* Runs s with the tuning's texel field set to texel (0: the reference) over seeded inputs. */
static run_out run(const shape *s, uint32_t texel)
{
    vkattn_problem p = {.batch = s->b, .heads_q = s->hq, .heads_kv = s->hkv, .seq_q = s->sq,
                        .seq_kv = s->skv, .head_dim = s->d, .dtype = s->dtype, .causal = true,
                        .has_lse = true, .kv_splits = s->splits};
    uint32_t *table = NULL;
    if (s->page_size) {
        p.page_size = s->page_size;
        p.pages_per_seq = (s->skv + s->page_size - 1) / s->page_size;
        p.num_pages = s->b * p.pages_per_seq;
        table = malloc(p.num_pages * sizeof *table);
        for (uint32_t i = 0; i < p.num_pages; ++i) /* a permutation: 11 is prime to 70 pages */
            table[i] = (i * 11 + 3) % p.num_pages;
    }
    const size_t es = s->dtype == VKATTN_DTYPE_F16 ? 2 : 4;
    const size_t nq = vkattn_problem_extent(&p, 'q'), nk = vkattn_problem_extent(&p, 'k');
    const size_t nl = vkattn_problem_extent(&p, 'l');
    void *q = malloc(nq * es), *k = malloc(nk * es), *v = malloc(nk * es);
    run_out r = {calloc(nq, es), calloc(nl, 4)};
    vk_test_fill_qkv(s->dtype, 5, q, nq, k, v, nk);
    vkattn_host_tensors t = {.q = q, .k = k, .v = v, .out = r.o, .lse = r.lse,
                             .page_table = table};
    char msg[256] = "";
    vkattn_result res;
    if (texel == 0) {
        res = vkattn_reference(&p, &t, msg, sizeof msg);
    } else {
        const vkattn_tuning tu = {.texel = texel};
        res = vkattn_tuning_set(ctx, vkattn_tuning_class_of(&p), p.dtype, p.head_dim, &tu);
        if (res == VKATTN_SUCCESS)
            res = vkattn_attention(ctx, &p, &t);
    }
    ck_assert_msg(res == VKATTN_SUCCESS, "%s %s", msg, vkattn_context_message(ctx));
    free(q), free(k), free(v), free(table);
    return r;
}

/* Whether the texel path of s runs decode.comp's ROWS form: pipeline.c's rule under the built-in
 * tuning (CPU drivers' prefill: a workgroup of one fixed-size subgroup, 8 rows per invocation
 * within 512 values), which the storage path never does. */
static bool rows_form(const shape *s)
{
    vkattn_device_info info;
    vkattn_context_device_info(ctx, &info);
    const vkattn_problem p = {.seq_q = s->sq, .seq_kv = s->skv};
    const uint32_t wg = info.min_subgroup_size, epw = s->dtype == VKATTN_DTYPE_F16 ? 8 : 4;
    uint32_t rp = 8;
    while (rp > 1 && s->d * rp > 512)
        rp /= 2;
    return info.type == VK_PHYSICAL_DEVICE_TYPE_CPU && info.subgroup_shuffle &&
           info.subgroup_reduce && wg == info.max_subgroup_size &&
           vkattn_tuning_class_of(&p) == VKATTN_TUNING_PREFILL && s->d % epw == 0 &&
           s->hq / s->hkv * s->sq >= wg && rp < wg;
}

static double value(const shape *s, const run_out *r, size_t i)
{
    return s->dtype == VKATTN_DTYPE_F16 ? half_to_float(((const uint16_t *)r->o)[i])
                                        : ((const float *)r->o)[i];
}

START_TEST(texel_bitwise_storage)
{
    const shape *s = &shapes[_i];
    run_out tex = run(s, 2), sto = run(s, 1), ref = run(s, 0);
    const size_t es = s->dtype == VKATTN_DTYPE_F16 ? 2 : 4;
    const size_t no = (size_t)s->b * s->hq * s->sq * s->d, nl = (size_t)s->b * s->hq * s->sq;
    if (!rows_form(s)) {
        ck_assert_msg(memcmp(tex.o, sto.o, no * es) == 0, "shape %d: O differs between the paths",
                      _i);
        ck_assert_msg(memcmp(tex.lse, sto.lse, nl * 4) == 0, "shape %d: LSE differs", _i);
    }
    /* And both are right (SPEC's f16 storage bound is the looser one; f32 is far inside it). */
    double eo = 0, el = 0;
    for (size_t i = 0; i < no; ++i)
        eo = fmax(eo, fabs(value(s, &tex, i) - value(s, &ref, i)));
    for (size_t i = 0; i < nl; ++i)
        el = fmax(el, fabs((double)tex.lse[i] - ref.lse[i]));
    ck_assert_msg(eo < 2e-3 && el < 1e-3, "shape %d: O error %g, LSE error %g", _i, eo, el);
    free(tex.o), free(tex.lse), free(sto.o), free(sto.lse), free(ref.o), free(ref.lse);
}
END_TEST

START_TEST(texel_tuning_field)
{
    /* The built-in rows (head size 80: no test above set it): texel on CPU drivers, storage
     * buffers on GPUs; 3 is refused whole. */
    vkattn_device_info info;
    vkattn_context_device_info(ctx, &info);
    vkattn_tuning eff;
    ck_assert_int_eq(vkattn_tuning_effective(ctx, VKATTN_TUNING_PREFILL, VKATTN_DTYPE_F32, 80,
                                             &eff), VKATTN_SUCCESS);
    ck_assert_uint_eq(eff.texel, (info.type == VK_PHYSICAL_DEVICE_TYPE_CPU ? 2u : 1u));
    const vkattn_tuning bad = {.texel = 3};
    ck_assert_int_eq(vkattn_tuning_set(ctx, VKATTN_TUNING_DECODE, VKATTN_DTYPE_F16, 128, &bad),
                     VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(vkattn_context_message(ctx), "texel = 3"));
    /* The text form carries it. */
    const vkattn_tuning on = {.texel = 2};
    ck_assert_int_eq(vkattn_tuning_set(ctx, VKATTN_TUNING_DECODE, VKATTN_DTYPE_F16, 96, &on),
                     VKATTN_SUCCESS);
    char text[4096];
    size_t size = sizeof text;
    ck_assert_int_eq(vkattn_tuning_save(ctx, text, &size), VKATTN_SUCCESS);
    ck_assert_ptr_nonnull(strstr(text, "decode f16 96 "));
    ck_assert_ptr_nonnull(strstr(strstr(text, "decode f16 96 "), "texel=2"));
    ck_assert_int_eq(vkattn_tuning_set(ctx, VKATTN_TUNING_DECODE, VKATTN_DTYPE_F16, 96, NULL),
                     VKATTN_SUCCESS);
    ck_assert_int_eq(vkattn_tuning_load(ctx, text, size, NULL), VKATTN_SUCCESS);
    vkattn_tuning got;
    ck_assert_int_eq(vkattn_tuning_get(ctx, VKATTN_TUNING_DECODE, VKATTN_DTYPE_F16, 96, &got),
                     VKATTN_SUCCESS);
    ck_assert_uint_eq(got.texel, 2);
}
END_TEST

int main(void)
{
    ctx = vk_test_context();
    if (!ctx)
        return 77;
    Suite *s = suite_create("texel");
    TCase *tc = tcase_create("texel");
    tcase_set_timeout(tc, 1200);
    tcase_add_loop_test(tc, texel_bitwise_storage, 0, (int)(sizeof shapes / sizeof shapes[0]));
    tcase_add_test(tc, texel_tuning_field);
    suite_add_tcase(s, tc);
    return vk_test_run(s, ctx);
}
