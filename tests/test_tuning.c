/* Tuning (issue #7): a tuning changes the kernel the library runs and its shape, never the
 * numbers; the text form round-trips; only the sections naming this device apply; bad input is
 * refused whole, naming the line and the field. Validation on; exits 77 without a device. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "src/internal.h"
#include "vk_test.h"

static vkattn_context ctx;

/* The saved text of c (malloc'd). */
static char *saved(vkattn_context c)
{
    size_t size = 0;
    ck_assert_int_eq(vkattn_tuning_save(c, NULL, &size), VKATTN_SUCCESS);
    char *text = malloc(size);
    ck_assert_int_eq(vkattn_tuning_save(c, text, &size), VKATTN_SUCCESS);
    ck_assert_uint_eq(strlen(text) + 1, size);
    return text;
}

static vkattn_context fresh(void)
{
    vkattn_context c = NULL;
    vkattn_context_desc desc = {.validation = true, .on_message = vk_test_on_message};
    ck_assert_int_eq(vkattn_context_create(&desc, &c), VKATTN_SUCCESS);
    return c;
}

START_TEST(tuning_picks_the_kernel)
{
    const vkattn_problem p = {.batch = 1, .heads_q = 2, .heads_kv = 2, .seq_q = 64,
                              .seq_kv = 2048, .head_dim = 64};
    vkattn_kernel built_in, k;
    uint32_t built_in_splits, splits;
    ck_assert_int_eq(vkattn_problem_kernel(ctx, &p, &built_in, &built_in_splits), VKATTN_SUCCESS);
    ck_assert_uint_eq(built_in_splits, 1); /* prefill is not split without being asked */

    ck_assert_int_eq(vkattn_tuning_class_of(&p), VKATTN_TUNING_PREFILL);
    const vkattn_problem step = {.batch = 1, .heads_q = 2, .seq_q = 16, .seq_kv = 1024,
                                 .head_dim = 64};
    ck_assert_int_eq(vkattn_tuning_class_of(&step), VKATTN_TUNING_DECODE);

    /* The effective tuning names a kernel and a workgroup size even where none is set, and
     * a set field shows through it. */
    vkattn_tuning eff, eff2;
    ck_assert_int_eq(vkattn_tuning_effective(ctx, VKATTN_TUNING_PREFILL, VKATTN_DTYPE_F32, 64, &eff),
                     VKATTN_SUCCESS);
    ck_assert_int_ne(eff.kernel, VKATTN_KERNEL_AUTO);
    ck_assert_uint_ne(eff.workgroup, 0);
    const vkattn_tuning rows2 = {.rows = 2};
    ck_assert_int_eq(vkattn_tuning_set(ctx, VKATTN_TUNING_PREFILL, VKATTN_DTYPE_F32, 64, &rows2),
                     VKATTN_SUCCESS);
    ck_assert_int_eq(vkattn_tuning_effective(ctx, VKATTN_TUNING_PREFILL, VKATTN_DTYPE_F32, 64, &eff2),
                     VKATTN_SUCCESS);
    ck_assert_uint_eq(eff2.rows, 2);
    ck_assert_int_eq(eff2.kernel, eff.kernel);
    ck_assert_int_eq(vkattn_tuning_effective(ctx, VKATTN_TUNING_PREFILL, VKATTN_DTYPE_F32, 64, NULL),
                     VKATTN_ERROR_INVALID_ARGUMENT);

    vkattn_tuning t = {.kernel = VKATTN_KERNEL_ROWWISE};
    ck_assert_int_eq(vkattn_tuning_set(ctx, VKATTN_TUNING_PREFILL, VKATTN_DTYPE_F32, 64, &t),
                     VKATTN_SUCCESS);
    ck_assert_int_eq(vkattn_problem_kernel(ctx, &p, &k, &splits), VKATTN_SUCCESS);
    ck_assert_int_eq(k, VKATTN_KERNEL_ROWWISE);
    /* Only (prefill, f32, 64) is tuned. */
    vkattn_problem other = p;
    other.head_dim = 32;
    ck_assert_int_eq(vkattn_problem_kernel(ctx, &other, &k, &splits), VKATTN_SUCCESS);
    ck_assert_int_eq(k, built_in);

    /* Rows 2 of 64 query rows: 32 blocks; aiming at 1024 workgroups asks for 16 splits,
     * capped at one per 256 keys: 8. */
    t = (vkattn_tuning){.kernel = VKATTN_KERNEL_SPLIT_KV, .rows = 2, .workgroup = 16,
                        .split_target = 1024};
    ck_assert_int_eq(vkattn_tuning_set(ctx, VKATTN_TUNING_PREFILL, VKATTN_DTYPE_F32, 64, &t),
                     VKATTN_SUCCESS);
    ck_assert_int_eq(vkattn_problem_kernel(ctx, &p, &k, &splits), VKATTN_SUCCESS);
    ck_assert_int_eq(k, VKATTN_KERNEL_SPLIT_KV);
    ck_assert_uint_eq(splits, 8);
    uint64_t bytes = 0;
    ck_assert_int_eq(vkattn_scratch_size(ctx, &p, &bytes), VKATTN_SUCCESS);
    ck_assert_uint_eq(bytes, 8ull * 2 * 64 * 65 * 4);
    vkattn_tuning got;
    ck_assert_int_eq(vkattn_tuning_get(ctx, VKATTN_TUNING_PREFILL, VKATTN_DTYPE_F32, 64, &got),
                     VKATTN_SUCCESS);
    ck_assert_mem_eq(&got, &t, sizeof t);

    ck_assert_int_eq(vkattn_tuning_set(ctx, VKATTN_TUNING_PREFILL, VKATTN_DTYPE_F32, 64, NULL),
                     VKATTN_SUCCESS);
    ck_assert_int_eq(vkattn_problem_kernel(ctx, &p, &k, &splits), VKATTN_SUCCESS);
    ck_assert_int_eq(k, built_in);
    ck_assert_uint_eq(splits, built_in_splits);
}
END_TEST

/* Every shape a tuning can ask for computes the same attention: B=2, Hq=4, Hkv=2 (GQA), a
 * causal mask, Skv not a multiple of any workgroup, against the CPU reference. */
static const vkattn_tuning shapes[] = {
    {.kernel = VKATTN_KERNEL_ROWWISE},
    {.kernel = VKATTN_KERNEL_TILED},
    {.kernel = VKATTN_KERNEL_SPLIT_KV, .rows = 1, .workgroup = 4, .split_target = 1},
    {.kernel = VKATTN_KERNEL_SPLIT_KV, .rows = 8, .workgroup = 32, .split_target = 64},
};

/* Runs p (f32) on c and on the CPU reference with N(0, 1) inputs from seed; returns the largest
 * difference of O and LSE. */
static double error_against_reference(vkattn_context c, const vkattn_problem *p, uint64_t seed)
{
    const size_t nq = vkattn_problem_extent(p, 'q'), nk = vkattn_problem_extent(p, 'k');
    const size_t nv = vkattn_problem_extent(p, 'v'), no = vkattn_problem_extent(p, 'o');
    const size_t nl = vkattn_problem_extent(p, 'l');
    float *q = malloc(nq * 4), *k = malloc(nk * 4), *v = malloc(nv * 4), *o = malloc(no * 4);
    float *ref = malloc(no * 4), *lse = malloc(nl * 4), *lref = malloc(nl * 4);
    rng g;
    rng_seed(&g, seed);
    for (size_t i = 0; i < nq; ++i)
        q[i] = (float)rng_normal(&g);
    for (size_t i = 0; i < nk; ++i)
        k[i] = (float)rng_normal(&g);
    for (size_t i = 0; i < nv; ++i)
        v[i] = (float)rng_normal(&g);
    vkattn_host_tensors t = {.q = q, .k = k, .v = v, .out = ref, .lse = lref};
    ck_assert_int_eq(vkattn_reference(p, &t, NULL, 0), VKATTN_SUCCESS);
    t.out = o;
    t.lse = lse;
    ck_assert_msg(vkattn_attention(c, p, &t) == VKATTN_SUCCESS, "%s", vkattn_context_message(c));
    double worst = 0;
    for (size_t i = 0; i < no; ++i)
        worst = fmax(worst, fabs((double)o[i] - ref[i]));
    for (size_t i = 0; i < nl; ++i)
        worst = fmax(worst, fabs((double)lse[i] - lref[i]));
    free(q), free(k), free(v), free(o), free(ref), free(lse), free(lref);
    return worst;
}

START_TEST(tuned_results_match_the_reference)
{
    const vkattn_problem p = {.batch = 2, .heads_q = 4, .heads_kv = 2, .seq_q = 37,
                              .seq_kv = 300, .head_dim = 32, .causal = true, .has_lse = true};
    ck_assert_int_eq(vkattn_tuning_set(ctx, VKATTN_TUNING_PREFILL, VKATTN_DTYPE_F32, 32, &shapes[_i]),
                     VKATTN_SUCCESS);
    vkattn_kernel kern;
    ck_assert_int_eq(vkattn_problem_kernel(ctx, &p, &kern, NULL), VKATTN_SUCCESS);
    ck_assert_int_eq(kern, shapes[_i].kernel);
    const double worst = error_against_reference(ctx, &p, 7 + (uint64_t)_i);
    ck_assert_int_eq(vkattn_tuning_set(ctx, VKATTN_TUNING_PREFILL, VKATTN_DTYPE_F32, 32, NULL),
                     VKATTN_SUCCESS);
    ck_assert_msg(worst <= 1e-4, "shape %d: max error %g", _i, worst);
}
END_TEST

START_TEST(text_round_trips)
{
    vkattn_context a = fresh(), b = fresh();
    const vkattn_tuning t1 = {.kernel = VKATTN_KERNEL_SPLIT_KV, .rows = 4, .workgroup = 16,
                              .parts = 1, .split_target = 32};
    const vkattn_tuning t2 = {.split_target = 7}; /* the rest built-in */
    ck_assert_int_eq(vkattn_tuning_set(a, VKATTN_TUNING_PREFILL, VKATTN_DTYPE_F16, 128, &t1),
                     VKATTN_SUCCESS);
    ck_assert_int_eq(vkattn_tuning_set(a, VKATTN_TUNING_DECODE, VKATTN_DTYPE_F32, 80, &t2),
                     VKATTN_SUCCESS);
    char *text = saved(a);
    ck_assert_ptr_nonnull(strstr(text, "prefill f16 128 kernel=split-kv rows=4 workgroup=16"));
    uint32_t applied = 99;
    ck_assert_int_eq(vkattn_tuning_load(b, text, strlen(text), &applied), VKATTN_SUCCESS);
    ck_assert_uint_eq(applied, 2);
    char *again = saved(b);
    ck_assert_str_eq(again, text);
    vkattn_tuning got;
    ck_assert_int_eq(vkattn_tuning_get(b, VKATTN_TUNING_DECODE, VKATTN_DTYPE_F32, 80, &got),
                     VKATTN_SUCCESS);
    ck_assert_mem_eq(&got, &t2, sizeof got);

    /* A too-small buffer is refused and left alone. */
    char small[8];
    memset(small, 'x', sizeof small);
    size_t size = sizeof small;
    ck_assert_int_eq(vkattn_tuning_save(a, small, &size), VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(vkattn_context_message(a), "size = 8 bytes"));
    for (size_t i = 0; i < sizeof small; ++i)
        ck_assert_int_eq(small[i], 'x');
    free(text);
    free(again);
    vkattn_context_destroy(a);
    vkattn_context_destroy(b);
}
END_TEST

START_TEST(only_this_device_applies)
{
    vkattn_context c = fresh();
    const char *text =
        "vkattn-tuning 1\n"
        "# a phone's section\n"
        "device 0x5143 0x43050a01 \"Adreno (TM) 740\"\n"
        "prefill f16 64 kernel=split rows=0 workgroup=64 parts=0 split_target=0\n"
        "decode f16 128 kernel=decode rows=0 workgroup=128 parts=4 split_target=0\n";
    uint32_t applied = 99;
    /* workgroup=128 is beyond what vkattn takes, but it belongs to another device: not checked
     * against this one's limits, and not applied. */
    ck_assert_int_eq(vkattn_tuning_load(c, text, strlen(text), &applied),
                     VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(vkattn_context_message(c), "line 5"));
    ck_assert_ptr_nonnull(strstr(vkattn_context_message(c), "workgroup = 128"));
    const char *fine =
        "vkattn-tuning 1\n"
        "device 0x5143 0x43050a01 \"Adreno (TM) 740\"\n"
        "prefill f16 64 kernel=split workgroup=64\n";
    ck_assert_int_eq(vkattn_tuning_load(c, fine, strlen(fine), &applied), VKATTN_SUCCESS);
    ck_assert_uint_eq(applied, 0);
    vkattn_tuning got, zero = {0};
    ck_assert_int_eq(vkattn_tuning_get(c, VKATTN_TUNING_PREFILL, VKATTN_DTYPE_F16, 64, &got),
                     VKATTN_SUCCESS);
    ck_assert_mem_eq(&got, &zero, sizeof got);

    /* The other device's section, then this one's: only this one's line applies. */
    vkattn_tuning mine = {.rows = 2};
    vkattn_context other = fresh();
    ck_assert_int_eq(vkattn_tuning_set(other, VKATTN_TUNING_DECODE, VKATTN_DTYPE_F32, 64, &mine),
                     VKATTN_SUCCESS);
    char *own = saved(other);
    size_t n = strlen(fine) + strlen(own) + 1;
    char *both = malloc(n);
    snprintf(both, n, "%s%s", fine, own);
    ck_assert_int_eq(vkattn_tuning_load(c, both, strlen(both), &applied), VKATTN_SUCCESS);
    ck_assert_uint_eq(applied, 1);
    ck_assert_int_eq(vkattn_tuning_get(c, VKATTN_TUNING_DECODE, VKATTN_DTYPE_F32, 64, &got),
                     VKATTN_SUCCESS);
    ck_assert_mem_eq(&got, &mine, sizeof got);
    free(own);
    free(both);
    vkattn_context_destroy(other);
    vkattn_context_destroy(c);
}
END_TEST

START_TEST(bad_input_is_refused_whole)
{
    vkattn_context c = fresh();
    vkattn_device_info info;
    vkattn_context_device_info(c, &info);
    const vkattn_tuning bad[] = {{.rows = 3}, {.workgroup = 48}, {.parts = 16},
                                 {.kernel = (vkattn_kernel)9}, {.split_target = 70000}};
    const char *const names[] = {"rows = 3", "workgroup = 48", "parts = 16", "kernel = 9",
                                 "split_target = 70000"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        ck_assert_int_eq(vkattn_tuning_set(c, VKATTN_TUNING_PREFILL, VKATTN_DTYPE_F32, 64, &bad[i]),
                         VKATTN_ERROR_INVALID_ARGUMENT);
        ck_assert_msg(strstr(vkattn_context_message(c), names[i]), "%s", vkattn_context_message(c));
    }
    ck_assert_int_eq(vkattn_tuning_set(c, VKATTN_TUNING_PREFILL, VKATTN_DTYPE_F32, 257, &bad[0]),
                     VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(vkattn_context_message(c), "head_dim = 257"));

    /* A good line, then a bad one: nothing applies. */
    char text[1024];
    snprintf(text, sizeof text,
             "vkattn-tuning 1\ndevice 0x%x 0x%x \"%s\"\n"
             "prefill f32 64 rows=2\n"
             "decode f32 64 rows=2 colour=blue\n",
             info.vendor_id, info.device_id, info.name);
    ck_assert_int_eq(vkattn_tuning_load(c, text, strlen(text), NULL), VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(vkattn_context_message(c), "line 4"));
    ck_assert_ptr_nonnull(strstr(vkattn_context_message(c), "colour"));
    vkattn_tuning got, zero = {0};
    ck_assert_int_eq(vkattn_tuning_get(c, VKATTN_TUNING_PREFILL, VKATTN_DTYPE_F32, 64, &got),
                     VKATTN_SUCCESS);
    ck_assert_mem_eq(&got, &zero, sizeof got);
    const char *no_header = "prefill f32 64 rows=2\n";
    ck_assert_int_eq(vkattn_tuning_load(c, no_header, strlen(no_header), NULL),
                     VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(vkattn_context_message(c), "header"));
    const char *orphan = "vkattn-tuning 1\nprefill f32 64 rows=2\n";
    ck_assert_int_eq(vkattn_tuning_load(c, orphan, strlen(orphan), NULL),
                     VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(vkattn_context_message(c), "before any device line"));
    ck_assert_int_eq(vkattn_tuning_load(c, NULL, 0, NULL), VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(vkattn_tuning_get(c, VKATTN_TUNING_PREFILL, VKATTN_DTYPE_F32, 64, NULL),
                     VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(vkattn_tuning_save(c, NULL, NULL), VKATTN_ERROR_INVALID_ARGUMENT);
    vkattn_context_destroy(c);

    /* A CPU context has nothing to tune. */
    vkattn_context cpu = NULL;
    vkattn_context_desc d = {.kind = VKATTN_DEVICE_CPU};
    ck_assert_int_eq(vkattn_context_create(&d, &cpu), VKATTN_SUCCESS);
    ck_assert_int_eq(vkattn_tuning_set(cpu, VKATTN_TUNING_PREFILL, VKATTN_DTYPE_F32, 64, &zero),
                     VKATTN_ERROR_UNSUPPORTED);
    vkattn_context_destroy(cpu);
}
END_TEST

START_TEST(small_shared_memory)
{
    /* A context held to 16 KiB of shared memory (Vulkan's minimum, some phones' size) sizes every
     * kernel's tiles to it: attention.comp's forms, the wide head sizes (DeepSeek's MLA,
     * D 576 / Dv 512) among them, and the split-KV kernel's merge block; and the results are
     * right. */
    vkattn_context small = NULL;
    vkattn_context_desc desc = {.validation = true, .on_message = vk_test_on_message,
                                .max_shared_memory = 16384};
    ck_assert_int_eq(vkattn_context_create(&desc, &small), VKATTN_SUCCESS);
    static const uint32_t dims[][2] = {{576, 512}, {192, 128}, {256, 256}, {64, 64}, {32, 100}};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; ++i) {
        const uint32_t d = dims[i][0], dv = dims[i][1];
        const vkattn_problem pd = {.batch = 1, .heads_q = 1, .heads_kv = 1, .seq_q = 8,
                                   .seq_kv = 8, .head_dim = d, .head_dim_v = dv};
        ck_assert_int_eq(vkattn_prepare(small, &pd, 1, 0), VKATTN_SUCCESS);
        for (int form = 0; form < 2; ++form) {
            const vkattn_kernel k = form ? VKATTN_KERNEL_TILED : VKATTN_KERNEL_ROWWISE;
            /* attention.comp's shared arrays: sQ (not rowwise), sK, sV, sS, sBad. */
            const attn_tiles t = vkattn__choose_tiles(&small->dev.limits, k, d, dv);
            const bool rowwise = t.tpr == 1;
            const uint64_t rs = rowwise ? d : d + 1, rsv = rowwise ? dv : dv + 1;
            const uint64_t words = (rowwise ? 1 : t.br * rs) + t.bc * (rs + rsv) + t.br * t.bc +
                                   (rowwise ? 1 : t.br);
            ck_assert_msg(words * 4 <= 16384, "D %u Dv %u: %llu bytes (br %u, bc %u, tpr %u)", d,
                          dv, (unsigned long long)(words * 4), t.br, t.bc, t.tpr);
        }
    }
    /* Every head size pair on devices of 16, 32 and 48 KiB, as attention.comp declares its
     * arrays (sQ, sK, sV, sS and sBad; rowwise: 1-word sQ and sBad). */
    static const uint32_t limits[] = {16384, 32768, 49152};
    for (size_t li = 0; li < 3; ++li) {
        VkPhysicalDeviceLimits lim = {.maxComputeWorkGroupInvocations = 1024,
                                      .maxComputeWorkGroupSize = {1024, 1024, 64},
                                      .maxComputeSharedMemorySize = limits[li]};
        for (uint32_t d = 1; d <= 576; ++d) {
            const uint32_t dvs[] = {d <= 512 ? d : 512, 1, 24, 108, 512};
            for (size_t vi = 0; vi < 5; ++vi)
                for (int form = 0; form < 2; ++form) {
                    const uint32_t dv = dvs[vi];
                    const attn_tiles t = vkattn__choose_tiles(
                        &lim, form ? VKATTN_KERNEL_TILED : VKATTN_KERNEL_ROWWISE, d, dv);
                    const bool rw = t.tpr == 1;
                    const uint64_t rs = rw ? d : d + 1, rsv = rw ? dv : dv + 1;
                    const uint64_t words = (rw ? 1 : t.br * rs) + t.bc * (rs + rsv) +
                                           t.br * t.bc + (rw ? 1 : t.br);
                    ck_assert_msg(words * 4 <= limits[li] && t.br >= 1 && t.bc >= 1,
                                  "%u bytes: D %u Dv %u %s: %llu bytes", limits[li], d, dv,
                                  form ? "tiled" : "rowwise", (unsigned long long)(words * 4));
                }
        }
    }
    /* The split-KV kernel's merge block and row statistics, a tuning asking for 8 rows too. */
    const vkattn_problem step = {.batch = 1, .heads_q = 8, .heads_kv = 2, .seq_q = 1,
                                 .seq_kv = 4096, .head_dim = 128};
    const plan_buffers facts = vkattn__plan_buffers_aligned(0);
    vkattn__plan plan;
    vkattn__plan_make(&small->dev, &step, &facts, &plan);
    const split_kv_shape *kv = &plan.kv;
    if (plan.form == VKATTN_KERNEL_SPLIT_KV)
        ck_assert_uint_le((kv->wg * (kv->wg + 1) + 3 * (kv->wg << kv->rp_log2)) * 4, 16384);
    vkattn_context mid = NULL;
    vkattn_context_desc mdesc = desc;
    mdesc.max_shared_memory = 20480;
    ck_assert_int_eq(vkattn_context_create(&mdesc, &mid), VKATTN_SUCCESS);
    const vkattn_tuning rows8 = {.kernel = VKATTN_KERNEL_SPLIT_KV, .rows = 8, .workgroup = 64};
    ck_assert_int_eq(vkattn_tuning_set(mid, VKATTN_TUNING_DECODE, VKATTN_DTYPE_F32, 128, &rows8),
                     VKATTN_SUCCESS);
    vkattn__plan_make(&mid->dev, &step, &facts, &plan);
    ck_assert_int_eq(plan.form, VKATTN_KERNEL_SPLIT_KV);
    ck_assert_uint_le((kv->wg * (kv->wg + 1) + 3 * (kv->wg << kv->rp_log2)) * 4, 20480);
    vkattn_context_destroy(mid);

    /* MLA decode and prefill on it, against the reference. */
    for (int c = 0; c < 2; ++c) {
        const vkattn_problem p = {.batch = 1, .heads_q = c ? 2 : 16, .heads_kv = 1,
                                  .seq_q = c ? 21 : 1, .seq_kv = c ? 21 : 200, .head_dim = 576,
                                  .head_dim_v = 512, .causal = true, .has_lse = true};
        const double worst = error_against_reference(small, &p, 31 + (uint64_t)c);
        ck_assert_msg(worst <= 1e-4, "case %d: max error %g", c, worst);
    }
    vkattn_context_destroy(small);

    desc.max_shared_memory = 1000;
    ck_assert_int_eq(vkattn_context_create(&desc, &small), VKATTN_ERROR_INVALID_ARGUMENT);
}
END_TEST

int main(void)
{
    if (!(ctx = vk_test_context()))
        return 77;
    Suite *s = suite_create("tuning");
    TCase *tc = tcase_create("tuning");
    tcase_set_timeout(tc, 0);
    tcase_add_test(tc, tuning_picks_the_kernel);
    tcase_add_loop_test(tc, tuned_results_match_the_reference, 0,
                        (int)(sizeof shapes / sizeof shapes[0]));
    tcase_add_test(tc, text_round_trips);
    tcase_add_test(tc, only_this_device_applies);
    tcase_add_test(tc, bad_input_is_refused_whole);
    tcase_add_test(tc, small_shared_memory);
    suite_add_tcase(s, tc);
    return vk_test_run(s, ctx);
}
