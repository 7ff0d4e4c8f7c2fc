/* The planner (issue #18). Two parts:
 * - "Which kernel runs" in include/vkattn/vkattn.h, read from the header itself and checked
 *   against the pure planner on made-up devices of each class (a CPU driver, a GPU, a GPU with
 *   cooperative matrices), so the table cannot drift from the code;
 * - on the real device, for each form forced by the desc: the plan query names exactly the
 *   pipelines that a call then makes (module and merge), and the tiles vkattn_kernel_tiles
 *   gives are the plan's. Validation on; exits 77 without a Vulkan device. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/internal.h"
#include "src/problem.h"
#include "vk_test.h"

#ifndef VKATTN_HEADER
#error "VKATTN_HEADER: the path of the public header (tests/meson.build)"
#endif

static vkattn_context ctx;

enum { CLASS_CPU, CLASS_GPU, CLASS_COOPMAT, N_CLASSES };
static const char *const class_names[N_CLASSES] = {"CPU driver", "GPU", "GPU + coopmat"};

/* A made-up device of each class: lavapipe's shape, a 32-wide GPU, the same with matrices. */
static plan_device device_of(int cls)
{
    plan_device d = {
        .limits = {.maxComputeWorkGroupInvocations = 1024,
                   .maxComputeWorkGroupSize = {1024, 1024, 64},
                   .maxComputeWorkGroupCount = {65535, 65535, 65535},
                   .maxComputeSharedMemorySize = cls == CLASS_CPU ? 32768 : 49152,
                   .maxTexelBufferElements = 1u << 27,
                   .minTexelBufferOffsetAlignment = 16},
        .storage_16bit = true,
        .float16 = true,
        .texel_layout = true,
    };
    d.info.type = cls == CLASS_CPU ? VK_PHYSICAL_DEVICE_TYPE_CPU
                                   : VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU;
    d.info.subgroup_size = d.info.min_subgroup_size = d.info.max_subgroup_size =
        cls == CLASS_CPU ? 8 : 32;
    d.info.subgroup_shuffle = d.info.subgroup_reduce = true;
    if (cls == CLASS_COOPMAT) {
        d.coopmat = true;
        d.info.coopmat_f16 = true;
        d.info.coopmat_m = d.info.coopmat_n = d.info.coopmat_k = 16;
    }
    return d;
}

/* The table's problems, by the text of their first column. */
static bool problem_of(const char *label, vkattn_problem *out)
{
    vkattn_problem p = {.batch = 1, .heads_q = 8, .heads_kv = 8, .seq_q = 512, .seq_kv = 512,
                        .head_dim = 64, .dtype = VKATTN_DTYPE_F16};
    if (strcmp(label, "D above 256 or Dv != D") == 0) {
        p.head_dim = 576;
        p.head_dim_v = 512;
    } else if (strcmp(label, "bf16") == 0) {
        p.dtype = VKATTN_DTYPE_BF16;
    } else if (strcmp(label, "paged K/V, kv_splits or no_gqa_packing") == 0) {
        p.page_size = 16;
        p.num_pages = 32;
    } else if (strcmp(label, "decode step (Sq <= 16, Skv >= 1024)") == 0) {
        p.seq_q = 1;
        p.seq_kv = 4096;
    } else if (strcmp(label, "other f32") == 0) {
        p.dtype = VKATTN_DTYPE_F32;
    } else if (strcmp(label, "other f16") != 0) {
        return false;
    }
    *out = vkattn__problem_resolved(&p);
    return true;
}

static bool kernel_of(const char *word, vkattn_kernel *out)
{
    for (int k = VKATTN_KERNEL_ROWWISE; k <= VKATTN_KERNEL_COOPMAT; ++k) {
        char upper[16];
        const char *name = vkattn_kernel_name((vkattn_kernel)k);
        size_t i = 0;
        for (; name[i] && i + 1 < sizeof upper; ++i)
            upper[i] = name[i] == '-' ? '_' : (char)(name[i] - 'a' + 'A');
        upper[i] = '\0';
        if (strcmp(word, upper) == 0) {
            *out = (vkattn_kernel)k;
            return true;
        }
    }
    return false;
}

START_TEST(header_table_matches_planner)
{
    FILE *f = fopen(VKATTN_HEADER, "r");
    ck_assert_msg(f != NULL, "cannot open %s", VKATTN_HEADER);
    char line[512];
    bool in_table = false;
    int rows = 0;
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, " *   problem ")) {
            in_table = true;
            continue;
        }
        if (!in_table)
            continue;
        if (strncmp(line, " *   ", 5) != 0)
            break;
        /* "label   FORM [(n)]   FORM   FORM": the label ends at a run of two spaces. */
        char *text = line + 5, *end = strstr(text, "  ");
        ck_assert_msg(end != NULL, "table row without columns: %s", line);
        *end = '\0';
        vkattn_problem p;
        ck_assert_msg(problem_of(text, &p), "a table row this test does not know: '%s'", text);
        char *rest = end + 1, *save = NULL;
        int cls = 0;
        for (char *w = strtok_r(rest, " \n", &save); w; w = strtok_r(NULL, " \n", &save)) {
            if (w[0] == '(')
                continue; /* a footnote mark */
            vkattn_kernel want;
            ck_assert_msg(kernel_of(w, &want), "row '%s': '%s' is no kernel", text, w);
            ck_assert_int_lt(cls, N_CLASSES);
            const plan_device dev = device_of(cls);
            const plan_buffers buf = vkattn__plan_buffers_aligned(VKATTN_BUFFER_TEXEL);
            vkattn__plan plan;
            vkattn__plan_make(&dev, &p, &buf, &plan);
            ck_assert_msg(plan.form == want, "'%s' on a %s: the table says %s, the planner %s",
                          text, class_names[cls], w, vkattn_kernel_name(plan.form));
            ck_assert_ptr_nonnull(plan.reason);
            ++cls;
        }
        ck_assert_int_eq(cls, N_CLASSES);
        ++rows;
    }
    fclose(f);
    ck_assert_int_eq(rows, 6);
}
END_TEST

START_TEST(lavapipe_25_prefill_is_rowwise_from_d128)
{
    /* The table's footnote (2): a driver-version row of the built-in tuning. */
    plan_device dev = device_of(CLASS_CPU);
    dev.info.vendor_id = 0x10005; /* Mesa */
    const plan_buffers buf = vkattn__plan_buffers_aligned(VKATTN_BUFFER_TEXEL);
    /* (lavapipe reports driverVersion 1: the version is read from the driver string.) */
    static const struct { const char *driver; uint32_t d; vkattn_kernel want; } rows[] = {
        {"llvmpipe Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6)", 128, VKATTN_KERNEL_ROWWISE},
        {"llvmpipe Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6)", 256, VKATTN_KERNEL_ROWWISE},
        {"llvmpipe Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6)", 64, VKATTN_KERNEL_SPLIT_KV},
        {"llvmpipe Mesa 22.3.6 (LLVM 15.0.6)", 128, VKATTN_KERNEL_SPLIT_KV},
        {"llvmpipe Mesa 26.1.6 (LLVM 19.1.7)", 128, VKATTN_KERNEL_SPLIT_KV},
        {"llvmpipe", 128, VKATTN_KERNEL_SPLIT_KV},
    };
    dev.info.driver_version = 1;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; ++i) {
        snprintf(dev.info.driver, sizeof dev.info.driver, "%s", rows[i].driver);
        vkattn_problem p;
        ck_assert(problem_of("other f16", &p));
        p.head_dim = p.head_dim_v = rows[i].d;
        p = vkattn__problem_resolved(&p);
        vkattn__plan plan;
        vkattn__plan_make(&dev, &p, &buf, &plan);
        ck_assert_msg(plan.form == rows[i].want, "row %zu: %s", i, vkattn_kernel_name(plan.form));
        /* A decode step stays with the split-KV kernel on every version. */
        p.seq_q = 1;
        p.seq_kv = 4096;
        p = vkattn__problem_resolved(&p);
        vkattn__plan_make(&dev, &p, &buf, &plan);
        ck_assert_int_eq(plan.form, VKATTN_KERNEL_SPLIT_KV);
    }
}
END_TEST

START_TEST(cpu_prefill_is_not_split)
{
    /* The table's footnote (1). */
    const plan_device dev = device_of(CLASS_CPU);
    vkattn_problem p;
    ck_assert(problem_of("other f16", &p));
    const plan_buffers buf = vkattn__plan_buffers_aligned(0);
    vkattn__plan plan;
    vkattn__plan_make(&dev, &p, &buf, &plan);
    ck_assert_int_eq(plan.form, VKATTN_KERNEL_SPLIT_KV);
    ck_assert_uint_eq(plan.kv.splits, 1);
    ck_assert(!plan.merge);
    ck_assert_uint_eq(plan.scratch_bytes, 0);
}
END_TEST

/* Runs p once through vkattn_attention on c (random data; the results are the harness's and
 * the other tests' business). */
static void run(vkattn_context c, const vkattn_problem *p)
{
    const size_t es = p->dtype == VKATTN_DTYPE_F16 ? 2 : 4;
    const size_t nq = vkattn_problem_extent(p, 'q'), nk = vkattn_problem_extent(p, 'k');
    void *q = malloc(nq * es), *k = malloc(nk * es), *v = malloc(nk * es);
    void *o = malloc(vkattn_problem_extent(p, 'o') * es);
    vk_test_fill_qkv(p->dtype, 7, q, nq, k, v, nk);
    const vkattn_host_tensors t = {.q = q, .k = k, .v = v, .out = o};
    ck_assert_msg(vkattn_attention(c, p, &t) == VKATTN_SUCCESS, "%s", vkattn_context_message(c));
    free(q), free(k), free(v), free(o);
}

START_TEST(query_names_what_runs)
{
    /* Each form forced by the desc (coopmat where the device has it), a prefill and a decode
     * step that splits: the pipelines a call makes are exactly those the plan names. */
    vkattn_device_info info;
    vkattn_context_device_info(ctx, &info);
    for (int k = VKATTN_KERNEL_AUTO; k <= VKATTN_KERNEL_COOPMAT; ++k) {
        vkattn_context c = NULL;
        vkattn_context_desc desc = {.validation = true, .on_message = vk_test_on_message,
                                    .kernel = (vkattn_kernel)k};
        if (vkattn_context_create(&desc, &c) != VKATTN_SUCCESS) {
            ck_assert_int_eq(k, VKATTN_KERNEL_COOPMAT); /* every other form runs everywhere */
            continue;
        }
        const vkattn_problem probs[2] = {
            {.batch = 1, .heads_q = 4, .heads_kv = 2, .seq_q = 40, .seq_kv = 40,
             .head_dim = 32, .dtype = VKATTN_DTYPE_F16, .causal = true},
            {.batch = 1, .heads_q = 4, .heads_kv = 2, .seq_q = 1, .seq_kv = 1100,
             .head_dim = 32, .dtype = VKATTN_DTYPE_F32, .kv_splits = 3},
        };
        for (int i = 0; i < 2; ++i) {
            vkattn_plan plan;
            ck_assert_int_eq(vkattn_problem_plan(c, &probs[i], VKATTN_BUFFER_TEXEL, &plan),
                             VKATTN_SUCCESS);
            if (k != VKATTN_KERNEL_AUTO && i == 0)
                ck_assert_msg(plan.kernel == (vkattn_kernel)k || k == VKATTN_KERNEL_COOPMAT,
                              "forced %s, planned %s", vkattn_kernel_name((vkattn_kernel)k),
                              vkattn_kernel_name(plan.kernel));
            if (i == 1) /* forced splits: the split-KV kernel and its merge on every device */
                ck_assert(plan.kernel == VKATTN_KERNEL_SPLIT_KV && plan.splits == 3 &&
                          plan.merge_module != NULL && plan.scratch_bytes > 0);
            vkattn_kernel kern;
            uint32_t splits;
            ck_assert_int_eq(vkattn_problem_kernel(c, &probs[i], &kern, &splits), VKATTN_SUCCESS);
            ck_assert_int_eq(kern, plan.kernel);
            ck_assert_uint_eq(splits, plan.splits);
            const uint32_t before = vkattn_context_pipelines(c, NULL, 0);
            run(c, &probs[i]);
            const char *made[4] = {NULL};
            const uint32_t n = vkattn_context_pipelines(c, made, 4);
            ck_assert_uint_eq(n - before, plan.merge_module ? 2 : 1);
            ck_assert_str_eq(made[before], plan.module);
            if (plan.merge_module)
                ck_assert_str_eq(made[before + 1], plan.merge_module);
        }
        /* The tiles of the prefill kernel that runs. */
        uint32_t rows = 0, keys = 0;
        vkattn_plan plan;
        const vkattn_problem tp = {.batch = 1, .heads_q = 1, .heads_kv = 1, .seq_q = 1024,
                                   .seq_kv = 1024, .head_dim = 80, .dtype = VKATTN_DTYPE_F16};
        ck_assert_int_eq(vkattn_kernel_tiles(c, VKATTN_DTYPE_F16, 80, &rows, &keys),
                         VKATTN_SUCCESS);
        ck_assert_int_eq(vkattn_problem_plan(c, &tp, VKATTN_BUFFER_TEXEL, &plan), VKATTN_SUCCESS);
        ck_assert_uint_eq(rows, plan.query_rows);
        ck_assert_uint_eq(keys, plan.kv_keys);
        ck_assert(rows >= 1 && keys >= 1);
        vkattn_context_destroy(c);
    }
}
END_TEST

START_TEST(query_refuses_bad_arguments)
{
    vkattn_plan plan;
    const vkattn_problem p = {.batch = 1, .heads_q = 1, .heads_kv = 1, .seq_q = 4, .seq_kv = 4,
                              .head_dim = 8};
    ck_assert_int_eq(vkattn_problem_plan(NULL, &p, 0, &plan), VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(vkattn_problem_plan(ctx, NULL, 0, &plan), VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(vkattn_context_message(ctx), "problem"));
    ck_assert_int_eq(vkattn_problem_plan(ctx, &p, 0, NULL), VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(vkattn_context_message(ctx), "plan"));
    ck_assert_int_eq(vkattn_problem_plan(ctx, &p, 8, &plan), VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(vkattn_context_message(ctx), "kv_flags"));
    vkattn_problem bad = p;
    bad.head_dim = 0;
    ck_assert_int_eq(vkattn_problem_plan(ctx, &bad, 0, &plan), VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(vkattn_context_message(ctx), "head_dim"));
    ck_assert_str_eq(vkattn_kernel_name((vkattn_kernel)99), "?");
}
END_TEST

int main(void)
{
    ctx = vk_test_context();
    if (!ctx)
        return 77;
    Suite *s = suite_create("plan");
    TCase *tc = tcase_create("plan");
    tcase_set_timeout(tc, 0);
    tcase_add_test(tc, header_table_matches_planner);
    tcase_add_test(tc, cpu_prefill_is_not_split);
    tcase_add_test(tc, lavapipe_25_prefill_is_rowwise_from_d128);
    tcase_add_test(tc, query_names_what_runs);
    tcase_add_test(tc, query_refuses_bad_arguments);
    suite_add_tcase(s, tc);
    return vk_test_run(s, ctx);
}
