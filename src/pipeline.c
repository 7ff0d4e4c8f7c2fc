/* The attention pipelines: one layout per context (push descriptors + push constants), the
 * attention.comp pipelines per (dtype, head size, form) and the split-KV ones per specialization,
 * created on first use with the shapes the tuning (tuning.c) and the device's limits give. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "modules.h"
#include "problem.h"
#include "shaders/attn_params.h"

#define MAX3(a, b, c) ((a) > (b) ? ((a) > (c) ? (a) : (c)) : ((b) > (c) ? (b) : (c)))
/* One pipeline layout serves the three kernels: its push-constant range is the largest block. */
#define PUSH_SIZE MAX3(sizeof(attn_params), sizeof(decode_params), sizeof(merge_params))
_Static_assert(PUSH_SIZE <= 128, "push constants beyond the guaranteed 128 bytes");

/* A set layout and pipeline layout with K and V bound as kv_type. */
static vkattn_result layouts_create(vkattn_context ctx, VkDescriptorType kv_type,
                                    VkDescriptorSetLayout *set_out, VkPipelineLayout *out)
{
    VkDescriptorSetLayoutBinding bindings[ATTN_BIND_COUNT];
    for (uint32_t i = 0; i < ATTN_BIND_COUNT; ++i)
        bindings[i] = (VkDescriptorSetLayoutBinding){
            .binding = i,
            .descriptorType = i == ATTN_BIND_K || i == ATTN_BIND_V
                                  ? kv_type : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .descriptorCount = 1,
            .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
        };
    VkDescriptorSetLayoutCreateInfo sci = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
        .flags = ctx->push_descriptors ? VK_DESCRIPTOR_SET_LAYOUT_CREATE_PUSH_DESCRIPTOR_BIT_KHR : 0,
        .bindingCount = ATTN_BIND_COUNT,
        .pBindings = bindings,
    };
    /* Handles are kept only on success (a failed call's outputs are undefined). */
    VkDescriptorSetLayout set_layout;
    VkResult vr = ctx->vk.vkCreateDescriptorSetLayout(ctx->device, &sci, ctx->alloc, &set_layout);
    if (vr != VK_SUCCESS)
        return vkattn__ctx_vk_fail(ctx, vr, "vkCreateDescriptorSetLayout");
    *set_out = set_layout;
    VkPushConstantRange range = {
        .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
        .size = PUSH_SIZE,
    };
    VkPipelineLayoutCreateInfo lci = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
        .setLayoutCount = 1,
        .pSetLayouts = set_out,
        .pushConstantRangeCount = 1,
        .pPushConstantRanges = &range,
    };
    VkPipelineLayout layout;
    vr = ctx->vk.vkCreatePipelineLayout(ctx->device, &lci, ctx->alloc, &layout);
    if (vr != VK_SUCCESS)
        return vkattn__ctx_vk_fail(ctx, vr, "vkCreatePipelineLayout");
    *out = layout;
    return VKATTN_SUCCESS;
}

vkattn_result vkattn__pipeline_layout_create(vkattn_context ctx)
{
    vkattn_result res = layouts_create(ctx, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, &ctx->set_layout,
                                       &ctx->pipeline_layout);
    if (res != VKATTN_SUCCESS)
        return res;
    /* Texel views of K/V are pushed with the split-KV dispatch only (the views are cached, a
     * set per view combination would be one more cache), and need the format's support. */
    VkFormatProperties fp;
    ctx->vk.vkGetPhysicalDeviceFormatProperties(ctx->physical_device, TEXEL_FORMAT, &fp);
    if (!ctx->push_descriptors ||
        !(fp.bufferFeatures & VK_FORMAT_FEATURE_UNIFORM_TEXEL_BUFFER_BIT))
        return VKATTN_SUCCESS;
    return layouts_create(ctx, VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, &ctx->set_layout_texel,
                          &ctx->pipeline_layout_texel);
}

void vkattn__pipelines_destroy(vkattn_context ctx)
{
    while (ctx->wide) {
        wide_pipeline *w = ctx->wide;
        ctx->wide = w->next;
        ctx->vk.vkDestroyPipeline(ctx->device, w->p.pipeline, ctx->alloc);
        free(w);
    }
    for (int t = 0; t < 3; ++t)
        for (int d = 0; d < 256; ++d)
            for (int k = 0; k < 3; ++k)
                if (ctx->pipelines[t][d][k].pipeline)
                    ctx->vk.vkDestroyPipeline(ctx->device, ctx->pipelines[t][d][k].pipeline,
                                              ctx->alloc);
    for (uint32_t i = 0; i < ctx->n_decode; ++i)
        ctx->vk.vkDestroyPipeline(ctx->device, ctx->decode[i].pipeline, ctx->alloc);
    free(ctx->decode);
    ctx->decode = NULL;
    ctx->n_decode = ctx->cap_decode = 0;
    for (int t = 0; t < 3; ++t)
        if (ctx->merge[t])
            ctx->vk.vkDestroyPipeline(ctx->device, ctx->merge[t], ctx->alloc);
    if (ctx->pipeline_layout)
        ctx->vk.vkDestroyPipelineLayout(ctx->device, ctx->pipeline_layout, ctx->alloc);
    if (ctx->set_layout)
        ctx->vk.vkDestroyDescriptorSetLayout(ctx->device, ctx->set_layout, ctx->alloc);
    if (ctx->pipeline_layout_texel)
        ctx->vk.vkDestroyPipelineLayout(ctx->device, ctx->pipeline_layout_texel, ctx->alloc);
    if (ctx->set_layout_texel)
        ctx->vk.vkDestroyDescriptorSetLayout(ctx->device, ctx->set_layout_texel, ctx->alloc);
}

static uint32_t pow2_floor(uint32_t x)
{
    uint32_t p = 1;
    while (p * 2 <= x)
        p *= 2;
    return p;
}

/* Tiles for head sizes d (Q, K) and dv (V, O) on this device. TPR invocations share a row so
 * that each keeps at most 16 accumulators; the workgroup has 128 invocations where the device
 * allows; the K/V tile is as long as shared memory permits beside the Q tile (rows padded to
 * d + 1 floats). (D = 576, Dv = 512 in 16 KiB: one row and two keys a tile; in 32 KiB four.) */
attn_tiles vkattn__choose_tiles(const VkPhysicalDeviceLimits *lim, vkattn_kernel kernel,
                                uint32_t d, uint32_t dv)
{
    attn_tiles t;
    /* Rowwise: a row per invocation keeps every K/V read a broadcast and needs no Q tile (on CPU
     * drivers registers spill to cached stack, cheaply). Split: a row is shared so that no
     * invocation holds more than 16 accumulators (GPU registers). */
    if (kernel == VKATTN_KERNEL_ROWWISE)
        t.tpr = 1;
    else
        t.tpr = dv <= 32 ? 2 : dv <= 64 ? 4 : dv <= 128 ? 8 : dv <= 256 ? 16 : 32;
    uint32_t wg = 128;
    if (wg > lim->maxComputeWorkGroupInvocations)
        wg = pow2_floor(lim->maxComputeWorkGroupInvocations);
    if (wg > lim->maxComputeWorkGroupSize[0])
        wg = pow2_floor(lim->maxComputeWorkGroupSize[0]);
    if (t.tpr > wg)
        t.tpr = wg;
    t.br = wg / t.tpr;
    if (t.tpr == 1 && t.br > 64)
        t.br = 64;
    uint32_t words = lim->maxComputeSharedMemorySize / 4;
    uint32_t rs = t.tpr == 1 ? d : d + 1, rsv = t.tpr == 1 ? dv : dv + 1; /* RS, RSV */
    for (;;) {
        /* What attention.comp declares: the Q tile and the rows' flags (rowwise: a 1-word
         * stand-in each), then per key the K and V rows and a score per row. */
        uint32_t used = t.tpr == 1 ? 2 : t.br * rs + t.br;
        uint32_t per_key = rs + rsv + t.br;
        uint32_t bc = used < words ? (words - used) / per_key : 0;
        if ((bc >= 8 || t.br == 1) && bc >= 1) {
            t.bc = pow2_floor(bc < 64 ? bc : 64);
            return t;
        }
        t.br /= 2;
        if (t.br == 0) { /* cannot happen on a conformant device (16 KiB at least) */
            t.br = 1;
            t.bc = 1;
            return t;
        }
    }
}

/* The most specialization constants a kernel has (the split-KV kernel's). */
enum { MAX_SPEC = 8 };

/* A compute pipeline of the context's layout from embedded SPIR-V and specialization data
 * (n <= MAX_SPEC 32-bit constants with the given ids). */
static vkattn_result make_pipeline(vkattn_context ctx, VkPipelineLayout layout,
                                   const uint32_t *code, size_t code_size,
                                   const uint32_t *ids, const uint32_t *values, uint32_t n,
                                   uint32_t subgroup_size, VkPipeline *out)
{
    /* subgroup_size != 0: pinned, in full subgroups (the coopmat kernel's layout). */
    VkPipelineShaderStageRequiredSubgroupSizeCreateInfo pin = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_REQUIRED_SUBGROUP_SIZE_CREATE_INFO,
        .requiredSubgroupSize = subgroup_size,
    };
    VkSpecializationMapEntry entries[MAX_SPEC];
    for (uint32_t i = 0; i < n; ++i)
        entries[i] = (VkSpecializationMapEntry){ids[i], i * 4, 4};
    VkSpecializationInfo spec = {n, entries, n * sizeof(uint32_t), values};
    VkShaderModuleCreateInfo mci = {
        .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
        .codeSize = code_size,
        .pCode = code,
    };
    VkShaderModule module;
    VkResult vr = ctx->vk.vkCreateShaderModule(ctx->device, &mci, ctx->alloc, &module);
    if (vr != VK_SUCCESS)
        return vkattn__ctx_vk_fail(ctx, vr, "vkCreateShaderModule");
    VkComputePipelineCreateInfo pci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {
            .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
            .pNext = subgroup_size ? &pin : NULL,
            .flags = subgroup_size ? VK_PIPELINE_SHADER_STAGE_CREATE_REQUIRE_FULL_SUBGROUPS_BIT : 0,
            .stage = VK_SHADER_STAGE_COMPUTE_BIT,
            .module = module,
            .pName = "main",
            .pSpecializationInfo = n ? &spec : NULL,
        },
        .layout = layout,
    };
    vr = ctx->vk.vkCreateComputePipelines(ctx->device, ctx->pipeline_cache, 1, &pci, ctx->alloc,
                                          out);
    ctx->vk.vkDestroyShaderModule(ctx->device, module, ctx->alloc);
    if (vr != VK_SUCCESS) {
        *out = VK_NULL_HANDLE;
        return vkattn__ctx_vk_fail(ctx, vr, "vkCreateComputePipelines");
    }
    return VKATTN_SUCCESS;
}

/* How this context's modules store dtype's elements: f16 as 32-bit words where the device's
 * 16-bit storage is not enabled. */
static module_store store_of(vkattn_context ctx, vkattn_dtype dtype)
{
    return dtype == VKATTN_DTYPE_F32    ? STORE_F32
           : dtype == VKATTN_DTYPE_BF16 ? STORE_BF16W
           : ctx->storage_16bit         ? STORE_F16
                                        : STORE_F16W;
}

static vkattn_result create_pipeline(vkattn_context ctx, vkattn_dtype dtype, uint32_t d,
                                     uint32_t dv, vkattn_kernel kernel, attn_pipeline *out)
{
    attn_tiles tiles = vkattn__choose_tiles(&ctx->limits, kernel, d, dv);
    const uint32_t values[6] = {d, tiles.br, tiles.bc, tiles.tpr, tiles.br * tiles.tpr, dv};
    static const uint32_t ids[6] = {ATTN_SPEC_D, ATTN_SPEC_BR, ATTN_SPEC_BC, ATTN_SPEC_TPR,
                                    ATTN_SPEC_WG, ATTN_SPEC_DV};
    const vkattn__module *mod = vkattn__module_of(FORM_ATTN, store_of(ctx, dtype));
    VkPipeline pipeline;
    vkattn_result res = make_pipeline(ctx, ctx->pipeline_layout, mod->code, mod->size, ids,
                                      values, 6, 0, &pipeline);
    if (res != VKATTN_SUCCESS)
        return res;
    out->tiles = tiles;
    out->pipeline = pipeline;
    out->module = mod->name;
    return VKATTN_SUCCESS;
}

/* The coopmat kernel's tiles: NSG subgroups of M rows each share every K/V tile of BC keys
 * (a multiple of N and K, 32 or more where shared memory allows). Its shared memory: Q, K or V,
 * P in f16, the scores and O in f32 (see attention_coopmat.comp); 4 subgroups where the
 * workgroup and memory allow, fewer (then shorter tiles) where not. */
bool vkattn__coopmat_tiles(vkattn_context ctx, uint32_t head_dim, attn_tiles *out)
{
    if (!ctx->coopmat)
        return false;
    const uint32_t m = ctx->info.coopmat_m, n = ctx->info.coopmat_n, k = ctx->info.coopmat_k;
    const uint32_t sg = ctx->info.subgroup_size, step = n > k ? n : k;
    const uint32_t dp = (head_dim + step - 1) / step * step;
    for (uint32_t nsg = 4; nsg >= 1; nsg /= 2) {
        if (nsg * sg > ctx->limits.maxComputeWorkGroupInvocations ||
            nsg * sg > ctx->limits.maxComputeWorkGroupSize[0] ||
            (ctx->coopmat_pin && nsg > ctx->coopmat_max_subgroups))
            continue;
        const uint32_t br = nsg * m;
        for (uint32_t bc = step < 32 ? 32 : step; bc >= step; bc /= 2) {
            /* As the shader declares them (sQ, sKV, sS, sP, sO, the row statistics, sVBad),
             * each rounded to 16 bytes, and 64 bytes to spare for a driver's own layout. */
#define R16(x) (((uint64_t)(x) + 15) / 16 * 16)
            const uint64_t bytes = R16(br * dp * 2) + R16(bc * dp * 2) + R16(br * (bc + 4) * 4) +
                                   R16(br * (bc + 8) * 2) + R16(br * dp * 4) + 4 * R16(br * 4) +
                                   16 + 64;
#undef R16
            if (bytes <= ctx->limits.maxComputeSharedMemorySize) {
                *out = (attn_tiles){.br = br, .bc = bc, .tpr = 0, .wg = nsg * sg, .dp = dp};
                return true;
            }
        }
    }
    return false;
}

static vkattn_result create_coopmat_pipeline(vkattn_context ctx, uint32_t d, attn_pipeline *out)
{
    attn_tiles t;
    if (!vkattn__coopmat_tiles(ctx, d, &t)) /* the planner asks only where they fit */
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_UNSUPPORTED,
                                "head_dim = %u: the coopmat kernel's tiles do not fit", d);
    const vkattn__module *mod = vkattn__coopmat_module(ctx->info.coopmat_m, ctx->info.coopmat_n,
                                                       ctx->info.coopmat_k);
    if (!mod) /* cannot happen: the device info picks from the same list (and the build's) */
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_UNSUPPORTED, "no coopmat module for %ux%ux%u",
                                ctx->info.coopmat_m, ctx->info.coopmat_n, ctx->info.coopmat_k);
    static const uint32_t ids[5] = {ATTN_SPEC_D, ATTN_SPEC_BR, ATTN_SPEC_BC, ATTN_SPEC_WG,
                                    ATTN_SPEC_DP};
    const uint32_t values[5] = {d, t.br, t.bc, t.wg, t.dp};
    VkPipeline pipeline;
    vkattn_result res = make_pipeline(ctx, ctx->pipeline_layout, mod->code, mod->size, ids,
                                      values, 5, ctx->coopmat_pin ? ctx->info.subgroup_size : 0,
                                      &pipeline);
    if (res != VKATTN_SUCCESS)
        return res;
    out->tiles = t;
    out->pipeline = pipeline;
    out->module = mod->name;
    return VKATTN_SUCCESS;
}

bool vkattn_build_has_coopmat(void)
{
#ifdef VKATTN_HAVE_COOPMAT
    return true;
#else
    return false;
#endif
}

/* The wide head sizes' split-form pipeline (vkattn__pipeline_get's, for those). */
static vkattn_result wide_pipeline_get(vkattn_context ctx, vkattn_dtype dtype, uint32_t d,
                                       uint32_t dv, const attn_pipeline **out)
{
    const uint32_t dt = (uint32_t)dtype;
    pthread_mutex_lock(&ctx->lock);
    const wide_pipeline *w = ctx->wide;
    while (w && !(w->dtype == dt && w->d == d && w->dv == dv))
        w = w->next;
    pthread_mutex_unlock(&ctx->lock);
    if (w) {
        *out = &w->p;
        return VKATTN_SUCCESS;
    }
    wide_pipeline *made = calloc(1, sizeof *made);
    if (!made)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    *made = (wide_pipeline){.dtype = dt, .d = d, .dv = dv};
    vkattn_result res = create_pipeline(ctx, dtype, d, dv, VKATTN_KERNEL_SPLIT, &made->p);
    if (res != VKATTN_SUCCESS) {
        free(made);
        return res;
    }
    /* As below: a pipeline another thread made meanwhile wins. */
    pthread_mutex_lock(&ctx->lock);
    for (w = ctx->wide; w && !(w->dtype == dt && w->d == d && w->dv == dv);)
        w = w->next;
    if (!w) {
        made->next = ctx->wide;
        ctx->wide = made;
        w = made;
        made = NULL;
    }
    pthread_mutex_unlock(&ctx->lock);
    if (made) {
        ctx->vk.vkDestroyPipeline(ctx->device, made->p.pipeline, ctx->alloc);
        free(made);
    }
    *out = &w->p;
    return VKATTN_SUCCESS;
}

vkattn_result vkattn__pipeline_get(vkattn_context ctx, vkattn_dtype dtype, uint32_t head_dim,
                                   uint32_t head_dim_v, vkattn_kernel kernel,
                                   const attn_pipeline **out)
{
    if (head_dim > 256 || head_dim_v != head_dim)
        return wide_pipeline_get(ctx, dtype, head_dim, head_dim_v, out);
    const int form = kernel == VKATTN_KERNEL_COOPMAT ? 2 : kernel != VKATTN_KERNEL_ROWWISE;
    attn_pipeline *slot = &ctx->pipelines[dtype][head_dim - 1][form];
    *out = slot;
    pthread_mutex_lock(&ctx->lock);
    const bool have = slot->pipeline != VK_NULL_HANDLE;
    pthread_mutex_unlock(&ctx->lock);
    if (have)
        return VKATTN_SUCCESS;
    /* Compiled without the lock, so that threads preparing other pipelines compile at once
     * (the pipeline cache is internally synchronised); a pipeline another thread made
     * meanwhile wins, and this one is dropped. */
    attn_pipeline made = {0};
    vkattn_result res = form == 2 ? create_coopmat_pipeline(ctx, head_dim, &made)
                                  : create_pipeline(ctx, dtype, head_dim, head_dim,
                                                    form ? VKATTN_KERNEL_SPLIT
                                                         : VKATTN_KERNEL_ROWWISE, &made);
    if (res != VKATTN_SUCCESS)
        return res;
    pthread_mutex_lock(&ctx->lock);
    const bool first = slot->pipeline == VK_NULL_HANDLE;
    if (first)
        *slot = made;
    pthread_mutex_unlock(&ctx->lock);
    if (!first)
        ctx->vk.vkDestroyPipeline(ctx->device, made.pipeline, ctx->alloc);
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
    /* The tiles of the kernel a prefill problem of this shape runs (the split-KV kernel has
     * none: it reads every key of its range). */
    vkattn_problem p = {.batch = 1, .heads_q = 1, .heads_kv = 1, .seq_q = 1024, .seq_kv = 1024,
                        .head_dim = head_dim, .dtype = dtype};
    p = vkattn__problem_resolved(&p);
    const decode_plan plan = vkattn__decode_plan(ctx, &p, true);
    attn_tiles t;
    if (plan.kernel == VKATTN_KERNEL_COOPMAT)
        t = plan.tiles;
    else
        t = vkattn__choose_tiles(&ctx->limits, plan.kernel, head_dim, head_dim);
    *query_rows = t.br;
    *kv_keys = t.bc;
    return VKATTN_SUCCESS;
}

/* attention.comp's form for (dtype, head_dim) when it runs: the desc's choice, else the prefill
 * tuning's, else rowwise on CPU drivers and split on GPUs. */
vkattn_kernel vkattn__attn_kernel(vkattn_context ctx, vkattn_dtype dtype, uint32_t head_dim)
{
    vkattn_kernel k = ctx->kernel;
    if (k != VKATTN_KERNEL_ROWWISE && k != VKATTN_KERNEL_SPLIT)
        k = vkattn__tuning_resolved(ctx, VKATTN_TUNING_PREFILL, dtype, head_dim).kernel;
    if (k != VKATTN_KERNEL_ROWWISE && k != VKATTN_KERNEL_SPLIT)
        k = ctx->info.type == VK_PHYSICAL_DEVICE_TYPE_CPU ? VKATTN_KERNEL_ROWWISE
                                                          : VKATTN_KERNEL_SPLIT;
    return k;
}

/* decode.comp's shared memory, its merge block (wg x (wg + 1) floats) and the rows' statistics
 * (3 x RP x wg), within the device's: fewer rows where a tuning asks for more than fit. */
static void hold_rows(vkattn_context ctx, decode_plan *plan)
{
    while (plan->rp_log2 > 0 &&
           ((uint64_t)plan->wg * (plan->wg + 1) + 3ull * (plan->wg << plan->rp_log2)) * 4 >
               ctx->limits.maxComputeSharedMemorySize)
        plan->rp_log2--;
}

/* Row blocks per KV head of rp rows each: per query head (no packing) or per KV group. */
static uint32_t row_blocks(const vkattn_problem *p, uint32_t group, uint64_t per_kv, uint32_t rp)
{
    /* A packed batch's items each start a block afresh: up to B more per head (varlen_block). */
    const uint32_t extra = p->packed ? p->batch : 0;
    return p->no_gqa_packing ? group * ((p->seq_q + rp - 1) / rp + extra)
                             : (uint32_t)((per_kv + rp - 1) / rp + extra);
}

/* The split-KV kernel's shape, from the tuning of the problem's class (tuning.c: the built-in
 * table gives the reasons per kind of device) fitted to the device's limits. A split covers at
 * least 256 keys (shorter ones cost more in the merge than they save). Packed rows: the group's
 * heads times Sq, in blocks of up to 4 unless the tuning says otherwise. */
decode_plan vkattn__decode_plan(vkattn_context ctx, const vkattn_problem *p, bool allow_rows)
{
    decode_plan plan = {0};
    /* Wide head sizes (D above 256, Dv != D) exist only in attention.comp's split form, whose
     * tiles are sized for them (and the tuning table has no rows for them); the recorder
     * refuses them with what that form lacks. */
    if (vkattn__wide_heads(p)) {
        plan.kernel = VKATTN_KERNEL_SPLIT;
        return plan;
    }
    /* bf16 has attention.comp's modules only (storage.glsl; the recorder refuses what they
     * lack, as above). */
    if (p->dtype == VKATTN_DTYPE_BF16) {
        plan.kernel = vkattn__attn_kernel(ctx, p->dtype, p->head_dim);
        return plan;
    }
    const bool cpu = ctx->info.type == VK_PHYSICAL_DEVICE_TYPE_CPU;
    const uint32_t group = p->heads_q / p->heads_kv;
    const uint64_t per_kv = p->no_gqa_packing ? p->seq_q : (uint64_t)group * p->seq_q;
    const bool decoding = vkattn_tuning_class_of(p) == VKATTN_TUNING_DECODE;
    const vkattn_tuning tu = vkattn__tuning_resolved(
        ctx, decoding ? VKATTN_TUNING_DECODE : VKATTN_TUNING_PREFILL, p->dtype, p->head_dim);
    vkattn_kernel kernel = ctx->kernel != VKATTN_KERNEL_AUTO ? ctx->kernel : tu.kernel;
    /* Paging, forced splits and unpacked heads exist only in the split-KV kernel. */
    const bool needs_split_kv = p->page_size != 0 || p->kv_splits != 0 || p->no_gqa_packing;
    if (kernel == VKATTN_KERNEL_COOPMAT) {
        /* f16 only (its matrices' inputs), and where its tiles fit; else as under AUTO. */
        if (!needs_split_kv && p->dtype == VKATTN_DTYPE_F16 &&
            vkattn__coopmat_tiles(ctx, p->head_dim, &plan.tiles)) {
            plan.kernel = VKATTN_KERNEL_COOPMAT;
            return plan;
        }
        /* The tuning's other choice, or the built-in one of the class: the split-KV kernel
         * for decode steps, attention.comp's form otherwise. */
        kernel = tu.kernel != VKATTN_KERNEL_COOPMAT ? tu.kernel
                 : decoding                         ? VKATTN_KERNEL_DECODE : VKATTN_KERNEL_AUTO;
    }
    plan.use = kernel == VKATTN_KERNEL_DECODE || needs_split_kv;
    plan.kernel = vkattn__attn_kernel(ctx, p->dtype, p->head_dim);
    if (!plan.use)
        return plan;
    plan.wg = tu.workgroup;
    if (plan.wg > ctx->limits.maxComputeWorkGroupInvocations)
        plan.wg = ctx->limits.maxComputeWorkGroupInvocations;
    if (plan.wg > 64) /* the shared merge block is wg x (wg + 1) floats */
        plan.wg = 64;
    /* That block and the rows' statistics (3 x RP x wg floats, RP up to 8) in shared memory (a
     * 16 KiB device takes 32; RP is held to the memory again below). */
    while (plan.wg > 8 && (plan.wg * (plan.wg + 1) + 24 * plan.wg) * 4 >
                              ctx->limits.maxComputeSharedMemorySize)
        plan.wg /= 2;
    /* Each invocation keeps RP * D / PARTS accumulators and as many query values: at most 512
     * of each on CPU drivers (beyond that LLVM takes minutes to compile the unrolled loops),
     * 256 there for head sizes that cannot be read as 16-byte words (the element loads' code
     * is larger: D = 255 at two rows took 90 s (f32) and 164 s (f16) to compile on lavapipe
     * 22.3), 128 on GPUs (registers). Without a tuned parts count, GPUs share a key among
     * invocations before they give up rows. */
    const uint32_t epw = vkattn__elems_per_word(p->dtype);
    const uint32_t max_values = cpu ? (p->head_dim % epw == 0 ? 512 : 256) : 128;
    uint32_t max_parts = ctx->info.subgroup_shuffle ? ctx->info.min_subgroup_size : 1;
    if (max_parts > 8)
        max_parts = 8;
    if (max_parts > plan.wg)
        max_parts = plan.wg;
    if (tu.rows)
        while ((2u << plan.rp_log2) <= tu.rows)
            plan.rp_log2++;
    else
        plan.rp_log2 = per_kv >= 4 ? 2 : per_kv >= 2 ? 1 : 0;
    hold_rows(ctx, &plan);
    plan.parts_log2 = 0;
    const uint32_t forced = ctx->decode_parts ? ctx->decode_parts : tu.parts;
    if (forced > 1 && forced <= max_parts && p->head_dim % forced == 0)
        while ((1u << plan.parts_log2) < forced)
            plan.parts_log2++;
    while ((p->head_dim << plan.rp_log2 >> plan.parts_log2) > max_values) {
        if (!forced && (2u << plan.parts_log2) <= max_parts &&
            p->head_dim % (2u << plan.parts_log2) == 0)
            plan.parts_log2++;
        else if (plan.rp_log2 > 0)
            plan.rp_log2--;
        else
            break;
    }
    /* Four keys per iteration on CPU drivers with one invocation per key (their shape), where
     * the accumulators live in memory and each trip through it serves every key (S2048 D128
     * prefill 850 -> 774 ms, the GQA decode step at Skv 32768 27.6 -> 22.7 ms, alternating
     * runs); two elsewhere (registers), which the shared-key tests keep covered on CPUs. */
    plan.keys = cpu && plan.parts_log2 == 0 && p->head_dim % epw == 0 ? 4 : 2;
    /* (The fast scores take f16 values as such: 16-bit storage only.) */
    plan.fast = p->precision == VKATTN_PRECISION_FAST && p->dtype == VKATTN_DTYPE_F16 &&
                ctx->float16 && ctx->storage_16bit && tu.f16_scores == 2;
    /* A workgroup of exactly one subgroup (a fixed size) merges its invocations' partial rows
     * by subgroup reductions, without shared memory or barriers: on lavapipe (workgroup 8 = the
     * subgroup) B4 H8 S512 D64 causal 152 -> 117 ms, and 74 -> 40 ms with one query per
     * sequence (alternating runs).
     * One invocation per key and exact scores: the modules built for it (the CPU drivers'). */
    plan.sg = ctx->info.subgroup_reduce && plan.wg == ctx->info.min_subgroup_size &&
              plan.wg == ctx->info.max_subgroup_size && plan.parts_log2 == 0 && !plan.fast;
    /* Wanted; the recorder keeps it only where the buffers and their alignment allow. */
    plan.texel = tu.texel == 2 && ctx->pipeline_layout_texel && plan.sg;
    /* On CPU drivers whose workgroup is one subgroup (plan.sg: 8 invocations on lavapipe) the
     * invocations take that many KV heads, each every key, instead of keys of one head:
     * nothing to merge across invocations, a dead row block (past q_lens) costs one workgroup
     * per wg heads, and where the heads sit side by side within a key (paged, BSHD) a fetch
     * across the workgroup reads neighbouring rows. On lavapipe, alternating runs: S2048
     * prefill D64 0.86-0.96x, D128 0.62-0.90x the time; the varlen suite's quarter-token
     * batches 0.47x -> 0.26x (D64) and 0.40x -> 0.22x (D128) of the full ones. */
    plan.heads = cpu && plan.sg && p->heads_kv >= plan.wg;
    plan.kv_groups = plan.heads ? (p->heads_kv + plan.wg - 1) / plan.wg : p->heads_kv;
    plan.blocks = row_blocks(p, group, per_kv, 1u << plan.rp_log2);
    /* The key split is sized on this grid even where the ROWS form below runs: the recorder
     * falls back to this form where the buffers take no texel views (it knows only then), and
     * the split, the scratch size the app was told and the bindings must not depend on that. */
    const uint64_t grid = (uint64_t)plan.blocks * plan.kv_groups * vkattn__tensor_batch(p);
    /* For prefill on those drivers, where the register budget leaves an invocation fewer rows
     * than the workgroup has invocations (D above 64), the invocations take query rows instead
     * (ROWS): one row each, a whole subgroup of them per key, each texel fetch serving all of
     * them (shuffles hand its words on). Lavapipe, B1 H8 S2048, alternating runs against the
     * HEADS form: D128 0.79x the time (f16 0.99x), causal S4096 D128 0.75x, D256 0.53x; at D64,
     * where HEADS keeps 8 rows, 0.96-1.11x (f16 1.12x), so not there. The tuning's rows count
     * the workgroup's (RP = rows / wg, at least 1). */
    plan.rows = allow_rows && cpu && plan.texel && ctx->info.subgroup_shuffle && !decoding &&
                plan.parts_log2 == 0 && per_kv >= plan.wg && (1u << plan.rp_log2) < plan.wg;
    if (plan.rows) {
        plan.heads = false;
        plan.rp_log2 = 0;
        while ((2u << plan.rp_log2) * plan.wg <= (tu.rows ? tu.rows : 1u) &&
               (p->head_dim << (plan.rp_log2 + 1)) <= max_values)
            plan.rp_log2++;
        hold_rows(ctx, &plan);
        plan.kv_groups = p->heads_kv;
        plan.blocks = row_blocks(p, group, per_kv, (1u << plan.rp_log2) * plan.wg);
    }
    uint32_t splits = p->kv_splits;
    /* A desc-forced split-KV kernel splits prefill by the device's size too (for tests). */
    uint64_t target = tu.split_target;
    if (ctx->kernel == VKATTN_KERNEL_DECODE && !decoding)
        target = vkattn__tuning_resolved(ctx, VKATTN_TUNING_DECODE, p->dtype, p->head_dim)
                     .split_target;
    if (splits == 0) {
        const uint64_t by_keys = (p->seq_kv + 255) / 256;
        uint64_t want = grid >= target ? 1 : (target + grid - 1) / grid;
        if (want > by_keys)
            want = by_keys;
        splits = want < 1 ? 1 : want > 256 ? 256 : (uint32_t)want;
    }
    uint32_t len = (p->seq_kv + splits - 1) / splits;
    len = (len + plan.wg - 1) / plan.wg * plan.wg;
    plan.split_len = len;
    plan.splits = p->kv_splits ? splits : (p->seq_kv + len - 1) / len;
    plan.direct = plan.splits == 1;
    plan.scratch_bytes = plan.direct ? 0 : (uint64_t)plan.splits * vkattn__tensor_batch(p) * p->heads_q *
                                               p->seq_q * (p->head_dim + 1) * sizeof(float);
    return plan;
}

/* The split-KV pipeline of key, or VK_NULL_HANDLE (ctx->lock held). */
static VkPipeline decode_find(vkattn_context ctx, uint32_t key)
{
    for (uint32_t i = 0; i < ctx->n_decode; ++i)
        if (ctx->decode[i].key == key)
            return ctx->decode[i].pipeline;
    return VK_NULL_HANDLE;
}

/* The key of a split-KV pipeline (see decode_pipeline). */
static uint32_t decode_key(bool f16, uint32_t head_dim, const decode_plan *plan)
{
    uint32_t wg_log2 = 0;
    while ((2u << wg_log2) <= plan->wg)
        wg_log2++;
    return (uint32_t)f16 | (head_dim - 1) << 1 | plan->rp_log2 << 9 | (uint32_t)plan->vec << 11 |
           plan->parts_log2 << 12 | wg_log2 << 14 | (uint32_t)plan->fast << 17 |
           (uint32_t)plan->texel << 18 | (uint32_t)(plan->keys == 4) << 19 |
           (uint32_t)plan->sg << 20 | plan->feat << 21 | (uint32_t)plan->heads << 23 |
           (uint32_t)plan->rows << 24;
}

vkattn_result vkattn__decode_pipeline_get(vkattn_context ctx, vkattn_dtype dtype,
                                          const decode_plan *plan, VkPipeline *out)
{
    const bool f16 = dtype == VKATTN_DTYPE_F16;
    const uint32_t head_dim = plan->width;
    const uint32_t key = decode_key(f16, head_dim, plan);
    pthread_mutex_lock(&ctx->lock);
    *out = decode_find(ctx, key);
    pthread_mutex_unlock(&ctx->lock);
    if (*out)
        return VKATTN_SUCCESS;
    static const uint32_t ids[MAX_SPEC] = {ATTN_SPEC_D,     ATTN_SPEC_RP,    ATTN_SPEC_WG,
                                           ATTN_SPEC_VEC,   ATTN_SPEC_PARTS, ATTN_SPEC_KEYS,
                                           ATTN_SPEC_FEAT,  ATTN_SPEC_HEADS};
    const uint32_t values[MAX_SPEC] = {head_dim,   1u << plan->rp_log2,
                                       plan->wg,   plan->vec,
                                       1u << plan->parts_log2, plan->keys,
                                       plan->feat, plan->heads};
    /* Modules that use shuffles or subgroup reductions are only given to devices that have
     * them. The texel modules exist for one invocation per key, exact scores and the subgroup
     * merge only (the CPU drivers' shape; the planner asks for nothing else). */
    const bool sh = plan->parts_log2 > 0;
    const module_form form = plan->rows    ? FORM_DECODE_ROWS
                             : plan->texel ? FORM_DECODE_TEXEL
                             : plan->fast  ? (sh ? FORM_DECODE_SHUFFLE_FAST : FORM_DECODE_FAST)
                             : plan->sg    ? FORM_DECODE_SG
                             : sh          ? FORM_DECODE_SHUFFLE
                                           : FORM_DECODE;
    const vkattn__module *mod = vkattn__module_of(form, store_of(ctx, dtype));
    /* Compiled without the lock, as in vkattn__pipeline_get. */
    VkPipeline made;
    vkattn_result res =
        make_pipeline(ctx, plan->texel ? ctx->pipeline_layout_texel : ctx->pipeline_layout,
                      mod->code, mod->size, ids, values, MAX_SPEC, 0, &made);
    if (res != VKATTN_SUCCESS)
        return res;
    pthread_mutex_lock(&ctx->lock);
    *out = decode_find(ctx, key);
    if (!*out && ctx->n_decode == ctx->cap_decode) {
        uint32_t cap = ctx->cap_decode ? 2 * ctx->cap_decode : 8;
        decode_pipeline *grown = realloc(ctx->decode, cap * sizeof *grown);
        if (grown) {
            ctx->decode = grown;
            ctx->cap_decode = cap;
        } else {
            res = VKATTN_ERROR_OUT_OF_HOST_MEMORY;
        }
    }
    const bool keep = !*out && res == VKATTN_SUCCESS;
    if (keep) {
        ctx->decode[ctx->n_decode++] = (decode_pipeline){key, made, mod->name};
        *out = made;
    }
    pthread_mutex_unlock(&ctx->lock);
    if (!keep)
        ctx->vk.vkDestroyPipeline(ctx->device, made, ctx->alloc);
    if (res != VKATTN_SUCCESS)
        return vkattn__ctx_fail(ctx, res, "out of host memory for the pipeline list");
    return VKATTN_SUCCESS;
}

vkattn_result vkattn__merge_pipeline_get(vkattn_context ctx, vkattn_dtype dtype, VkPipeline *out)
{
    const int t = (int)dtype;
    VkPipeline *slot = &ctx->merge[t];
    pthread_mutex_lock(&ctx->lock);
    *out = *slot;
    pthread_mutex_unlock(&ctx->lock);
    if (*out)
        return VKATTN_SUCCESS;
    /* Compiled without the lock, as in vkattn__pipeline_get. */
    const vkattn__module *mod = vkattn__module_of(FORM_MERGE, store_of(ctx, dtype));
    VkPipeline made;
    vkattn_result res = make_pipeline(ctx, ctx->pipeline_layout, mod->code, mod->size, NULL, NULL,
                                      0, 0, &made);
    if (res != VKATTN_SUCCESS)
        return res;
    pthread_mutex_lock(&ctx->lock);
    const bool first = *slot == VK_NULL_HANDLE;
    if (first) {
        *slot = made;
        ctx->merge_module[t] = mod->name;
    }
    *out = *slot;
    pthread_mutex_unlock(&ctx->lock);
    if (!first)
        ctx->vk.vkDestroyPipeline(ctx->device, made, ctx->alloc);
    return VKATTN_SUCCESS;
}

uint32_t vkattn_context_pipelines(vkattn_context ctx, const char **modules, uint32_t capacity)
{
    if (!ctx || ctx->cpu)
        return 0;
    uint32_t n = 0;
#define NOTE(name)                                                                                 \
    do {                                                                                           \
        if (modules && n < capacity)                                                               \
            modules[n] = (name);                                                                   \
        n++;                                                                                       \
    } while (0)
    pthread_mutex_lock(&ctx->lock);
    for (int t = 0; t < 3; ++t)
        for (int d = 0; d < 256; ++d)
            for (int k = 0; k < 3; ++k)
                if (ctx->pipelines[t][d][k].pipeline)
                    NOTE(ctx->pipelines[t][d][k].module);
    for (const wide_pipeline *w = ctx->wide; w; w = w->next)
        NOTE(w->p.module);
    for (uint32_t i = 0; i < ctx->n_decode; ++i)
        NOTE(ctx->decode[i].module);
    for (int t = 0; t < 3; ++t)
        if (ctx->merge[t])
            NOTE(ctx->merge_module[t]);
    pthread_mutex_unlock(&ctx->lock);
#undef NOTE
    return n;
}
