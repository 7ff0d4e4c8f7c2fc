/* The attention pipelines: one layout per context (push descriptors + push constants) and one
 * pipeline per (dtype, head size), created on first use with tile sizes fitted to the device. */
#include <string.h>

#include "internal.h"
#include "shaders/attn_params.h"

static const uint32_t attn_f32_spv[] =
#include "shaders/attn_f32.spv.h"
    ;
static const uint32_t attn_f16_spv[] =
#include "shaders/attn_f16.spv.h"
    ;

_Static_assert(sizeof(attn_params) <= 128, "push constants beyond the guaranteed 128 bytes");

vkattn_result vkattn__pipeline_layout_create(vkattn_context ctx)
{
    VkDescriptorSetLayoutBinding bindings[ATTN_BIND_COUNT];
    for (uint32_t i = 0; i < ATTN_BIND_COUNT; ++i)
        bindings[i] = (VkDescriptorSetLayoutBinding){
            .binding = i,
            .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .descriptorCount = 1,
            .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
        };
    VkDescriptorSetLayoutCreateInfo sci = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
        .flags = ctx->push_descriptors ? VK_DESCRIPTOR_SET_LAYOUT_CREATE_PUSH_DESCRIPTOR_BIT_KHR : 0,
        .bindingCount = ATTN_BIND_COUNT,
        .pBindings = bindings,
    };
    VkResult vr = ctx->vk.vkCreateDescriptorSetLayout(ctx->device, &sci, ctx->alloc,
                                                      &ctx->set_layout);
    if (vr != VK_SUCCESS)
        return vkattn__ctx_vk_fail(ctx, vr, "vkCreateDescriptorSetLayout");
    VkPushConstantRange range = {
        .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
        .size = sizeof(attn_params),
    };
    VkPipelineLayoutCreateInfo lci = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
        .setLayoutCount = 1,
        .pSetLayouts = &ctx->set_layout,
        .pushConstantRangeCount = 1,
        .pPushConstantRanges = &range,
    };
    vr = ctx->vk.vkCreatePipelineLayout(ctx->device, &lci, ctx->alloc, &ctx->pipeline_layout);
    if (vr != VK_SUCCESS)
        return vkattn__ctx_vk_fail(ctx, vr, "vkCreatePipelineLayout");
    return VKATTN_SUCCESS;
}

void vkattn__pipelines_destroy(vkattn_context ctx)
{
    for (int t = 0; t < 2; ++t)
        for (int d = 0; d < 256; ++d)
            if (ctx->pipelines[t][d].pipeline)
                ctx->vk.vkDestroyPipeline(ctx->device, ctx->pipelines[t][d].pipeline, ctx->alloc);
    if (ctx->pipeline_layout)
        ctx->vk.vkDestroyPipelineLayout(ctx->device, ctx->pipeline_layout, ctx->alloc);
    if (ctx->set_layout)
        ctx->vk.vkDestroyDescriptorSetLayout(ctx->device, ctx->set_layout, ctx->alloc);
}

static uint32_t pow2_floor(uint32_t x)
{
    uint32_t p = 1;
    while (p * 2 <= x)
        p *= 2;
    return p;
}

/* Tiles for head size d on this device. TPR invocations share a row so that each keeps at most
 * 16 accumulators; the workgroup has 128 invocations where the device allows; the K/V tile is as
 * long as shared memory permits beside the Q tile (rows padded to d + 1 floats). */
static attn_tiles choose_tiles(const VkPhysicalDeviceLimits *lim, VkPhysicalDeviceType type,
                               vkattn_kernel kernel, uint32_t d)
{
    attn_tiles t;
    /* CPU drivers run invocations as SIMD lanes: a row per invocation keeps every K/V read a
     * broadcast and needs no Q tile (registers spill to cached stack there, cheaply). GPUs
     * split a row so that no invocation holds more than 16 accumulators. */
    if (kernel == VKATTN_KERNEL_AUTO)
        kernel = type == VK_PHYSICAL_DEVICE_TYPE_CPU ? VKATTN_KERNEL_ROWWISE : VKATTN_KERNEL_SPLIT;
    if (kernel == VKATTN_KERNEL_ROWWISE)
        t.tpr = 1;
    else
        t.tpr = d <= 32 ? 2 : d <= 64 ? 4 : d <= 128 ? 8 : 16;
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
    uint32_t rs = t.tpr == 1 ? d : d + 1; /* as RS in attention.comp */
    for (;;) {
        /* Q tile and score tile (none when rowwise), then the K and V tiles. */
        uint32_t used = t.tpr == 1 ? 1 : t.br * rs; /* rowwise: a 1-float stand-in */
        uint32_t per_key = 2 * rs + t.br;
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

static vkattn_result create_pipeline(vkattn_context ctx, vkattn_dtype dtype, uint32_t d,
                                     attn_pipeline *out)
{
    attn_tiles tiles = choose_tiles(&ctx->limits, ctx->info.type, ctx->kernel, d);
    uint32_t spec_data[5] = {d, tiles.br, tiles.bc, tiles.tpr, tiles.br * tiles.tpr};
    VkSpecializationMapEntry entries[5];
    static const uint32_t ids[5] = {ATTN_SPEC_D, ATTN_SPEC_BR, ATTN_SPEC_BC, ATTN_SPEC_TPR,
                                    ATTN_SPEC_WG};
    for (uint32_t i = 0; i < 5; ++i)
        entries[i] = (VkSpecializationMapEntry){ids[i], i * 4, 4};
    VkSpecializationInfo spec = {5, entries, sizeof spec_data, spec_data};

    VkShaderModuleCreateInfo mci = {
        .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
        .codeSize = dtype == VKATTN_DTYPE_F16 ? sizeof attn_f16_spv : sizeof attn_f32_spv,
        .pCode = dtype == VKATTN_DTYPE_F16 ? attn_f16_spv : attn_f32_spv,
    };
    VkShaderModule module;
    VkResult vr = ctx->vk.vkCreateShaderModule(ctx->device, &mci, ctx->alloc, &module);
    if (vr != VK_SUCCESS)
        return vkattn__ctx_vk_fail(ctx, vr, "vkCreateShaderModule");
    VkComputePipelineCreateInfo pci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {
            .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
            .stage = VK_SHADER_STAGE_COMPUTE_BIT,
            .module = module,
            .pName = "main",
            .pSpecializationInfo = &spec,
        },
        .layout = ctx->pipeline_layout,
    };
    VkPipeline pipeline;
    vr = ctx->vk.vkCreateComputePipelines(ctx->device, ctx->pipeline_cache, 1, &pci, ctx->alloc,
                                          &pipeline);
    ctx->vk.vkDestroyShaderModule(ctx->device, module, ctx->alloc);
    if (vr != VK_SUCCESS)
        return vkattn__ctx_vk_fail(ctx, vr, "vkCreateComputePipelines");
    out->tiles = tiles;
    out->pipeline = pipeline;
    return VKATTN_SUCCESS;
}

vkattn_result vkattn__pipeline_get(vkattn_context ctx, vkattn_dtype dtype, uint32_t head_dim,
                           const attn_pipeline **out)
{
    attn_pipeline *slot = &ctx->pipelines[dtype == VKATTN_DTYPE_F16][head_dim - 1];
    vkattn_result res = VKATTN_SUCCESS;
    pthread_mutex_lock(&ctx->lock);
    if (!slot->pipeline)
        res = create_pipeline(ctx, dtype, head_dim, slot);
    pthread_mutex_unlock(&ctx->lock);
    *out = slot;
    return res;
}

vkattn_result vkattn_kernel_tiles(vkattn_context ctx, vkattn_dtype dtype, uint32_t head_dim,
                                  uint32_t *query_rows, uint32_t *kv_keys)
{
    if (!ctx)
        return VKATTN_ERROR_INVALID_ARGUMENT;
    if (!query_rows || !kv_keys || head_dim < 1 || head_dim > 256 ||
        (dtype != VKATTN_DTYPE_F32 && dtype != VKATTN_DTYPE_F16))
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_INVALID_ARGUMENT,
                        "vkattn_kernel_tiles: head_dim = %u (expected 1..256), dtype = %d, "
                        "outputs %s", head_dim, (int)dtype,
                        query_rows && kv_keys ? "given" : "NULL");
    if (ctx->cpu)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_UNSUPPORTED, "a CPU context has no kernel tiles");
    attn_tiles t = choose_tiles(&ctx->limits, ctx->info.type, ctx->kernel, head_dim);
    *query_rows = t.br;
    *kv_keys = t.bc;
    return VKATTN_SUCCESS;
}
