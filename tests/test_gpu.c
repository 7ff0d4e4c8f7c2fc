/* The GPU against the CPU reference over the harness matrix, with the validation layer on (any
 * message fails), plus the recording API's error paths. Exits 77 (SKIP) with no Vulkan device. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* One context per kernel form, so both are checked whichever the device would pick. */
static vkattn_context ctx, kernels[2];
static const char *const kernel_names[2] = {"rowwise", "tiled"};
static unsigned messages;

static void on_message(void *user, const char *message)
{
    ++messages;
    fprintf(stderr, "validation: %s\n", message);
}

static harness_case *cases;
static size_t ncases;

START_TEST(matrix_case)
{
    harness_result r;
    unsigned before = messages;
    const harness_case *c = &cases[_i % ncases];
    const char *kn = kernel_names[_i / ncases];
    int ran = harness_run(kernels[_i / ncases], c, &r);
    ck_assert_msg(ran == 0, "%s [%s]: could not run: %s", c->name, kn, r.why);
    ck_assert_msg(r.pass, "%s [%s]: %s", c->name, kn, r.why);
    ck_assert_msg(messages == before, "%s [%s]: %u validation message(s)", c->name, kn,
                  messages - before);
}
END_TEST

/* A dense problem for the error-path tests. */
static vkattn_problem small_problem(void)
{
    vkattn_problem p = {0};
    p.batch = 1;
    p.heads_q = 2;
    p.seq_q = 5;
    p.seq_kv = 7;
    p.head_dim = 16;
    return p;
}

START_TEST(invalid_problem_names_field)
{
    vkattn_problem p = small_problem();
    p.head_dim = 600; /* above 576 */
    float buf[4096] = {0};
    vkattn_host_tensors t = {.q = buf, .k = buf, .v = buf, .out = buf + 2048};
    ck_assert_int_eq(vkattn_attention(ctx, &p, &t), VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(vkattn_context_message(ctx), "head_dim"));
}
END_TEST

START_TEST(missing_tensor_names_it)
{
    vkattn_problem p = small_problem();
    p.has_lse = true;
    float buf[4096] = {0};
    vkattn_host_tensors t = {.q = buf, .k = buf, .v = buf, .out = buf + 2048};
    ck_assert_int_eq(vkattn_attention(ctx, &p, &t), VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(vkattn_context_message(ctx), "lse"));
}
END_TEST

START_TEST(lens_past_sequence_rejected_and_out_untouched)
{
    vkattn_problem p = small_problem();
    p.has_kv_lens = true;
    uint32_t kl[1] = {8}; /* Skv is 7 */
    float in[4096] = {0}, out[160];
    for (int i = 0; i < 160; ++i)
        out[i] = 42.0f;
    vkattn_host_tensors t = {.q = in, .k = in, .v = in, .out = out, .kv_lens = kl};
    ck_assert_int_eq(vkattn_attention(ctx, &p, &t), VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(vkattn_context_message(ctx), "kv_lens[0]"));
    for (int i = 0; i < 160; ++i)
        ck_assert_float_eq(out[i], 42.0f);
}
END_TEST

START_TEST(cmd_attention_checks_buffers)
{
    vkattn_problem p = small_problem();
    vkattn_device_tensors dt = {0};
    /* A non-null dummy command buffer handle: validation must fail before it is touched. */
    VkCommandBuffer fake = (VkCommandBuffer)(uintptr_t)0x1;
    ck_assert_int_eq(vkattn_cmd_attention(ctx, fake, &p, &dt), VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(vkattn_context_message(ctx), "tensors->q"));
    ck_assert_int_eq(vkattn_cmd_attention(ctx, fake, NULL, &dt), VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(vkattn_context_message(ctx), "problem"));
    /* Declared ranges are checked before anything is recorded: too small, or misaligned. */
    vkattn_buffer whole = {(VkBuffer)(uintptr_t)0x10, 0, 0, 0};
    dt.q = dt.k = dt.v = whole;
    dt.out = (vkattn_buffer){(VkBuffer)(uintptr_t)0x20, 0, 0, 0};
    dt.q.size = 4 * 2 * 5 * 16 - 4; /* one float short of Q's extent */
    ck_assert_int_eq(vkattn_cmd_attention(ctx, fake, &p, &dt), VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(vkattn_context_message(ctx), "tensors->q.size"));
    dt.q = whole;
    dt.v.offset = 6; /* not a multiple of 4 bytes */
    ck_assert_int_eq(vkattn_cmd_attention(ctx, fake, &p, &dt), VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(vkattn_context_message(ctx), "tensors->v.offset"));
    dt.v = whole;
    vkattn_buffer own_out = dt.out;
    dt.out = whole;
    dt.out.offset = 64; /* out inside q's bytes in the same buffer */
    ck_assert_int_eq(vkattn_cmd_attention(ctx, fake, &p, &dt), VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(vkattn_context_message(ctx), "tensors->out overlaps tensors->q"));
    dt.out = own_out;
    p.has_lse = true; /* and an LSE with no buffer */
    ck_assert_int_eq(vkattn_cmd_attention(ctx, fake, &p, &dt), VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(vkattn_context_message(ctx), "tensors->lse"));
}
END_TEST

START_TEST(pipeline_cache_round_trip)
{
    /* After a pipeline exists the cache has data; a context created from it works. */
    harness_result r;
    ck_assert_int_eq(harness_run(ctx, &cases[0], &r), 0);
    size_t size = 0;
    ck_assert_int_eq(vkattn_pipeline_cache_data(ctx, NULL, &size), VKATTN_SUCCESS);
    ck_assert_uint_gt(size, 0);
    void *blob = malloc(size);
    ck_assert_ptr_nonnull(blob);
    size_t small = size > 1 ? 1 : 0;
    if (small)
        ck_assert_int_eq(vkattn_pipeline_cache_data(ctx, blob, &small),
                         VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(vkattn_pipeline_cache_data(ctx, blob, &size), VKATTN_SUCCESS);
    vkattn_context_desc d = {0};
    d.pipeline_cache_data = blob;
    d.pipeline_cache_size = size;
    vkattn_context c2;
    ck_assert_int_eq(vkattn_context_create(&d, &c2), VKATTN_SUCCESS);
    ck_assert_int_eq(harness_run(c2, &cases[0], &r), 0);
    ck_assert_msg(r.pass, "%s", r.why);
    vkattn_context_destroy(c2);
    free(blob);
}
END_TEST

START_TEST(tiles_and_handles)
{
    uint32_t rows = 0, keys = 0;
    ck_assert_int_eq(vkattn_kernel_tiles(ctx, VKATTN_DTYPE_F32, 64, &rows, &keys), VKATTN_SUCCESS);
    ck_assert_uint_gt(rows, 0);
    ck_assert_uint_gt(keys, 0);
    ck_assert_int_eq(vkattn_kernel_tiles(ctx, VKATTN_DTYPE_F32, 257, &rows, &keys),
                     VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(vkattn_context_message(ctx), "head_dim = 257"));
    vkattn_vulkan_handles h;
    ck_assert_int_eq(vkattn_context_vulkan(ctx, &h), VKATTN_SUCCESS);
    ck_assert_ptr_nonnull(h.device);
    ck_assert_ptr_nonnull(h.queue);
    ck_assert_ptr_nonnull(h.get_instance_proc_addr);
}
END_TEST

START_TEST(huge_finite_inputs_stay_finite)
{
    /* SPEC 3: finite inputs never give a non-finite output, whatever the scores' magnitude. */
    enum { S = 9, D = 1 };
    float q[S], k[S], v[S], o[S], lse[S];
    for (int i = 0; i < S; ++i) {
        q[i] = 3e38f;
        k[i] = i % 2 ? 1e20f : 0.0f;
        v[i] = 1.0f;
    }
    vkattn_problem p = {0};
    p.batch = p.heads_q = 1;
    p.seq_q = p.seq_kv = S;
    p.head_dim = D;
    p.has_lse = true;
    p.scale = 1.0f;
    vkattn_host_tensors t = {.q = q, .k = k, .v = v, .out = o, .lse = lse};
    for (int kind = 0; kind < 2; ++kind) {
        ck_assert_int_eq(vkattn_attention(kernels[kind], &p, &t), VKATTN_SUCCESS);
        for (int i = 0; i < S; ++i) {
            ck_assert_msg(isfinite(o[i]) && isfinite(lse[i]), "[%s] row %d: O %g LSE %g",
                          kernel_names[kind], i, o[i], lse[i]);
            ck_assert_float_eq_tol(o[i], 1.0f, 1e-6f);
        }
    }
}
END_TEST

/* An allocator that can be told to fail, to drive creation failures inside the library. */
static int alloc_fail;
static void *VKAPI_CALL test_alloc(void *u, size_t size, size_t align, VkSystemAllocationScope s)
{
    if (alloc_fail)
        return NULL;
    void *p = NULL;
    return posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size) ? NULL : p;
}
static void *VKAPI_CALL test_realloc(void *u, void *old, size_t size, size_t align,
                                     VkSystemAllocationScope s)
{
    if (alloc_fail)
        return NULL;
    return realloc(old, size); /* drivers here ask for no more than malloc's alignment */
}
static void VKAPI_CALL test_free(void *u, void *p)
{
    free(p);
}

START_TEST(failed_pipeline_creation_returns)
{
    /* Pipelines are created under the context's lock; a failure there must come back as a
     * code (this hung once: the error path took the same lock). */
    VkAllocationCallbacks cb = {NULL, test_alloc, test_realloc, test_free, NULL, NULL};
    vkattn_context_desc d = {0};
    d.allocator = &cb;
    vkattn_context c;
    alloc_fail = 0;
    ck_assert_int_eq(vkattn_context_create(&d, &c), VKATTN_SUCCESS);
    if (vkattn_context_is_cpu(c)) {
        vkattn_context_destroy(c);
        return;
    }
    alloc_fail = 1;
    float buf[4096] = {0};
    vkattn_problem p = small_problem();
    p.head_dim = 5;
    vkattn_host_tensors t = {.q = buf, .k = buf, .v = buf, .out = buf + 2048};
    vkattn_result r = vkattn_attention(c, &p, &t);
    alloc_fail = 0;
    ck_assert_int_ne(r, VKATTN_SUCCESS);
    ck_assert_str_ne(vkattn_context_message(c), "");
    /* The context stays usable once memory is back. */
    ck_assert_int_eq(vkattn_attention(c, &p, &t), VKATTN_SUCCESS);
    vkattn_context_destroy(c);
}
END_TEST

START_TEST(tensor_past_buffer_range_is_unsupported)
{
    /* K one row longer than one binding of the device may span: refused with UNSUPPORTED and
     * the limit named, before the (dummy) command buffer or buffers are touched. */
    vkattn_device_info info;
    vkattn_context_device_info(ctx, &info);
    vkattn_problem p = small_problem();
    p.seq_q = 32; /* the tiled kernel: no scratch needed */
    p.head_dim = 256;
    p.heads_q = p.heads_kv = 1;
    p.seq_kv = info.max_buffer_range / (256u * 4u) + 1u;
    vkattn_device_tensors dt = {0};
    dt.q = (vkattn_buffer){(VkBuffer)(uintptr_t)0x10, 0, 0, 0};
    dt.k = (vkattn_buffer){(VkBuffer)(uintptr_t)0x20, 0, 0, 0};
    dt.v = (vkattn_buffer){(VkBuffer)(uintptr_t)0x30, 0, 0, 0};
    dt.out = (vkattn_buffer){(VkBuffer)(uintptr_t)0x40, 0, 0, 0};
    VkCommandBuffer fake = (VkCommandBuffer)(uintptr_t)0x1;
    ck_assert_int_eq(vkattn_cmd_attention(ctx, fake, &p, &dt), VKATTN_ERROR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(vkattn_context_message(ctx), "tensors->k"));
    ck_assert_ptr_nonnull(strstr(vkattn_context_message(ctx), "maxStorageBufferRange"));
}
END_TEST

START_TEST(destroy_null_is_noop)
{
    vkattn_context_destroy(NULL);
    ck_assert_str_eq(vkattn_context_message(NULL), "");
}
END_TEST

/* The coopmat kernel: a context that forces it is refused (UNSUPPORTED, saying why) where the
 * build or device lacks it; where it exists, the plan query names it for f16 prefill and tiled
 * problems only, its tiles are whole matrices, and AUTO takes it on GPUs only. */
START_TEST(coopmat_plan)
{
    vkattn_device_info info;
    vkattn_context_device_info(ctx, &info);
    char why[256] = "";
    vkattn_context_desc d = {.validation = true, .kernel = VKATTN_KERNEL_COOPMAT,
                             .message = why, .message_size = sizeof why};
    vkattn_context cm = NULL;
    vkattn_result res = vkattn_context_create(&d, &cm);
    /* Without the build or a shape it is refused; with them it may still be (Vulkan 1.3 and
     * the features it needs), always saying why. */
    if (!vkattn_build_has_coopmat() || !info.coopmat_f16)
        ck_assert_int_eq(res, VKATTN_ERROR_UNSUPPORTED);
    if (res != VKATTN_SUCCESS) {
        ck_assert_int_eq(res, VKATTN_ERROR_UNSUPPORTED);
        ck_assert_ptr_null(cm);
        ck_assert_ptr_nonnull(strstr(why, "kernel = coopmat: "));
        return;
    }
    ck_assert_int_eq(res, VKATTN_SUCCESS);
    vkattn_problem p = {.batch = 1, .heads_q = 8, .heads_kv = 2, .seq_q = 300, .seq_kv = 300,
                        .head_dim = 80, .dtype = VKATTN_DTYPE_F16, .causal = true};
    vkattn_kernel k = VKATTN_KERNEL_AUTO;
    uint32_t splits = 0;
    ck_assert_int_eq(vkattn_problem_kernel(cm, &p, &k, &splits), VKATTN_SUCCESS);
    ck_assert_int_eq(k, VKATTN_KERNEL_COOPMAT);
    ck_assert_uint_eq(splits, 1);
    uint32_t rows = 0, keys = 0;
    ck_assert_int_eq(vkattn_kernel_tiles(cm, VKATTN_DTYPE_F16, 80, &rows, &keys), VKATTN_SUCCESS);
    ck_assert_uint_eq(rows % info.coopmat_m, 0);
    ck_assert_uint_eq(keys % info.coopmat_n, 0);
    ck_assert_uint_eq(keys % info.coopmat_k, 0);
    /* What it does not take runs as under AUTO: a decode step in f32 on the split-KV kernel. */
    p.dtype = VKATTN_DTYPE_F32;
    ck_assert_int_eq(vkattn_problem_kernel(cm, &p, &k, NULL), VKATTN_SUCCESS);
    ck_assert_int_ne(k, VKATTN_KERNEL_COOPMAT);
    vkattn_problem step = {.batch = 1, .heads_q = 8, .heads_kv = 2, .seq_q = 1, .seq_kv = 4096,
                           .head_dim = 64, .dtype = VKATTN_DTYPE_F32};
    ck_assert_int_eq(vkattn_problem_kernel(cm, &step, &k, NULL), VKATTN_SUCCESS);
    ck_assert_int_eq(k, VKATTN_KERNEL_SPLIT_KV);
    p.dtype = VKATTN_DTYPE_F16;
    p.kv_splits = 3;
    ck_assert_int_eq(vkattn_problem_kernel(cm, &p, &k, &splits), VKATTN_SUCCESS);
    ck_assert_int_eq(k, VKATTN_KERNEL_SPLIT_KV);
    ck_assert_uint_eq(splits, 3);
    p.kv_splits = 0;
    /* AUTO: the matrices on GPUs, not on CPU drivers (lavapipe's are loops). */
    ck_assert_int_eq(vkattn_problem_kernel(ctx, &p, &k, NULL), VKATTN_SUCCESS);
    if (info.type == VK_PHYSICAL_DEVICE_TYPE_CPU)
        ck_assert_int_ne(k, VKATTN_KERNEL_COOPMAT);
    else
        ck_assert_int_eq(k, VKATTN_KERNEL_COOPMAT);
    /* The shapes: the one used is the device info's. */
    uint32_t n = 0;
    ck_assert_int_eq(vkattn_coopmat_shapes(cm, NULL, &n), VKATTN_SUCCESS);
    ck_assert_uint_eq(n, info.coopmat_shapes);
    vkattn_coopmat_shape shapes[64];
    n = 64;
    ck_assert_int_eq(vkattn_coopmat_shapes(cm, shapes, &n), VKATTN_SUCCESS);
    int used = 0;
    for (uint32_t i = 0; i < n && i < 64; ++i)
        if (shapes[i].used) {
            ++used;
            ck_assert_uint_eq(shapes[i].m, info.coopmat_m);
            ck_assert_uint_eq(shapes[i].n, info.coopmat_n);
            ck_assert_uint_eq(shapes[i].k, info.coopmat_k);
            ck_assert_uint_eq(shapes[i].a_type, 0); /* f16 */
            ck_assert_uint_eq(shapes[i].c_type, 1); /* f32 */
        }
    ck_assert_int_eq(used, 1);
    vkattn_context_destroy(cm);
}
END_TEST

int main(void)
{
    vkattn_context_desc desc = {0};
    desc.validation = true;
    desc.on_message = on_message;
    if (vkattn_context_create(&desc, &ctx) != VKATTN_SUCCESS || vkattn_context_is_cpu(ctx)) {
        fprintf(stderr, "no Vulkan device: skipped\n");
        vkattn_context_destroy(ctx);
        return 77;
    }
    for (int k = 0; k < 2; ++k) {
        desc.kernel = k == 0 ? VKATTN_KERNEL_ROWWISE : VKATTN_KERNEL_TILED;
        if (vkattn_context_create(&desc, &kernels[k]) != VKATTN_SUCCESS) {
            fprintf(stderr, "cannot create the %s context\n", kernel_names[k]);
            return 1;
        }
    }
    ncases = harness_cases(getenv("VKATTN_TEST_QUICK") != NULL, &cases);

    Suite *s = suite_create("gpu");
    TCase *tc = tcase_create("matrix");
    tcase_set_timeout(tc, 0);
    tcase_add_loop_test(tc, matrix_case, 0, (int)(2 * ncases));
    suite_add_tcase(s, tc);
    TCase *api = tcase_create("api");
    tcase_add_test(api, invalid_problem_names_field);
    tcase_add_test(api, missing_tensor_names_it);
    tcase_add_test(api, lens_past_sequence_rejected_and_out_untouched);
    tcase_add_test(api, cmd_attention_checks_buffers);
    tcase_add_test(api, tensor_past_buffer_range_is_unsupported);
    tcase_add_test(api, destroy_null_is_noop);
    tcase_add_test(api, huge_finite_inputs_stay_finite);
    tcase_add_test(api, failed_pipeline_creation_returns);
    tcase_add_test(api, pipeline_cache_round_trip);
    tcase_add_test(api, tiles_and_handles);
    tcase_add_test(api, coopmat_plan);
    suite_add_tcase(s, api);

    SRunner *sr = srunner_create(s);
    /* One process: the context and its device are shared by every case. */
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    free(cases);
    vkattn_context_destroy(kernels[0]);
    vkattn_context_destroy(kernels[1]);
    vkattn_context_destroy(ctx);
    if (messages)
        fprintf(stderr, "%u validation message(s)\n", messages);
    return failed == 0 && messages == 0 ? 0 : 1;
}
