/* The plan's queries (vkattn_problem_plan and the older ones it answers) and vkattn_prepare,
 * which makes the pipelines a plan names before any command is recorded. */
#include <stdio.h>

#include "internal.h"
#include "problem.h"

/* The plan of a checked problem for a call whose tensors start on 16 bytes with K/V bound with
 * kv_flags. out_name names the caller's output argument (NULL-checked as out). */
static vkattn_result query(vkattn_context ctx, const vkattn_problem *problem, uint32_t kv_flags,
                           const void *out, const char *out_name, vkattn__plan *plan)
{
    if (!ctx)
        return VKATTN_ERROR_INVALID_ARGUMENT;
    if (ctx->cpu)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_UNSUPPORTED,
                                "a CPU context runs the reference (no kernels, no scratch)");
    if (!problem || !out)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_INVALID_ARGUMENT, "%s is NULL",
                                !problem ? "problem" : out_name);
    if (kv_flags & ~VKATTN_BUFFER_TEXEL)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_INVALID_ARGUMENT,
                                "kv_flags = 0x%x: expected 0 or VKATTN_BUFFER_TEXEL", kv_flags);
    char msg[CTX_MESSAGE_SIZE];
    vkattn_result res = vkattn_problem_check(problem, msg, sizeof msg);
    if (res != VKATTN_SUCCESS)
        return vkattn__ctx_fail(ctx, res, "%s", msg);
    const vkattn_problem p = vkattn__problem_resolved(problem);
    const plan_buffers facts = vkattn__plan_buffers_aligned(kv_flags);
    vkattn__plan_make(&ctx->dev, &p, &facts, plan);
    return VKATTN_SUCCESS;
}

vkattn_result vkattn_problem_plan(vkattn_context ctx, const vkattn_problem *problem,
                                  uint32_t kv_flags, vkattn_plan *out)
{
    vkattn__plan plan;
    vkattn_result res = query(ctx, problem, kv_flags, out, "plan", &plan);
    if (res != VKATTN_SUCCESS)
        return res;
    *out = (vkattn_plan){
        .kernel = plan.form,
        .reason = plan.reason,
        .module = plan.pipeline.module ? plan.pipeline.module->name : "",
        .constant_count = plan.pipeline.n,
        .query_rows = plan.tiles.br,
        .kv_keys = plan.tiles.bc,
        .workgroup = plan.form == VKATTN_KERNEL_SPLIT_KV || plan.form == VKATTN_KERNEL_COOPMAT
                         ? plan.tiles.wg : plan.tiles.br * plan.tiles.tpr,
        .groups = {plan.groups[0], plan.groups[1], plan.groups[2]},
        .splits = plan.form == VKATTN_KERNEL_SPLIT_KV ? plan.kv.splits : 1,
        .merge_module = plan.merge ? plan.merge_pipeline.module->name : NULL,
        .scratch_bytes = plan.scratch_bytes,
    };
    for (uint32_t i = 0; i < plan.pipeline.n; ++i)
        out->constants[i] = plan.pipeline.values[i];
    return VKATTN_SUCCESS;
}

vkattn_result vkattn_scratch_size(vkattn_context ctx, const vkattn_problem *problem,
                                  uint64_t *bytes)
{
    vkattn__plan plan;
    vkattn_result res = query(ctx, problem, 0, bytes, "bytes", &plan);
    if (res == VKATTN_SUCCESS)
        *bytes = plan.scratch_bytes;
    return res;
}

vkattn_result vkattn_problem_kernel(vkattn_context ctx, const vkattn_problem *problem,
                                    vkattn_kernel *kernel, uint32_t *splits)
{
    vkattn__plan plan;
    vkattn_result res = query(ctx, problem, 0, kernel, "kernel", &plan);
    if (res != VKATTN_SUCCESS)
        return res;
    *kernel = plan.form;
    if (splits)
        *splits = plan.form == VKATTN_KERNEL_SPLIT_KV ? plan.kv.splits : 1;
    return VKATTN_SUCCESS;
}

vkattn_result vkattn_kernel_tiles(vkattn_context ctx, vkattn_dtype dtype, uint32_t head_dim,
                                  uint32_t *query_rows, uint32_t *kv_keys)
{
    if (!ctx)
        return VKATTN_ERROR_INVALID_ARGUMENT;
    if (!query_rows || !kv_keys || head_dim < 1 || head_dim > 256 ||
        (unsigned)dtype > VKATTN_DTYPE_BF16)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_INVALID_ARGUMENT,
                        "vkattn_kernel_tiles: head_dim = %u (expected 1..256), dtype = %d, "
                        "outputs %s", head_dim, (int)dtype,
                        query_rows && kv_keys ? "given" : "NULL");
    if (ctx->cpu)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_UNSUPPORTED, "a CPU context has no kernel tiles");
    const vkattn_problem p = {.batch = 1, .heads_q = 1, .heads_kv = 1, .seq_q = 1024,
                              .seq_kv = 1024, .head_dim = head_dim, .dtype = dtype};
    vkattn_plan plan;
    vkattn_result res = vkattn_problem_plan(ctx, &p, VKATTN_BUFFER_TEXEL, &plan);
    if (res == VKATTN_SUCCESS) {
        *query_rows = plan.query_rows;
        *kv_keys = plan.kv_keys;
    }
    return res;
}

vkattn_result vkattn_prepare(vkattn_context ctx, const vkattn_problem *problems, uint32_t count,
                             uint32_t kv_flags)
{
    if (!ctx)
        return VKATTN_ERROR_INVALID_ARGUMENT;
    if (!problems && count)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_INVALID_ARGUMENT, "problems is NULL, count = %u",
                                count);
    if (kv_flags & ~VKATTN_BUFFER_TEXEL)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_INVALID_ARGUMENT,
                                "kv_flags = 0x%x: expected 0 or VKATTN_BUFFER_TEXEL", kv_flags);
    char msg[CTX_MESSAGE_SIZE];
    for (uint32_t i = 0; i < count; ++i)
        if (vkattn_problem_check(&problems[i], msg, sizeof msg) != VKATTN_SUCCESS)
            return vkattn__ctx_fail(ctx, VKATTN_ERROR_INVALID_ARGUMENT, "problems[%u]: %s", i, msg);
    if (ctx->cpu) /* the reference needs nothing made */
        return VKATTN_SUCCESS;
    const plan_buffers facts = vkattn__plan_buffers_aligned(kv_flags);
    for (uint32_t i = 0; i < count; ++i) {
        const vkattn_problem p = vkattn__problem_resolved(&problems[i]);
        vkattn__plan plan;
        vkattn__plan_make(&ctx->dev, &p, &facts, &plan);
        VkPipeline made;
        vkattn_result res = vkattn__pipeline_of(ctx, &plan.pipeline, &made);
        if (res == VKATTN_SUCCESS && plan.merge)
            res = vkattn__pipeline_of(ctx, &plan.merge_pipeline, &made);
        if (res != VKATTN_SUCCESS)
            return res;
    }
    return VKATTN_SUCCESS;
}
