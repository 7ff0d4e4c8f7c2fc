/* The pipelines: one layout per context (push descriptors + push constants; a second with K/V
 * as texel views), and one pipeline per pipeline_key the planner (plan.c) names, created on
 * first use (or by vkattn_prepare) and kept in a list. */
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
    for (uint32_t i = 0; i < ctx->n_pipelines; ++i)
        ctx->vk.vkDestroyPipeline(ctx->device, ctx->pipelines[i].pipeline, ctx->alloc);
    free(ctx->pipelines);
    ctx->pipelines = NULL;
    ctx->n_pipelines = ctx->cap_pipelines = 0;
    if (ctx->pipeline_layout)
        ctx->vk.vkDestroyPipelineLayout(ctx->device, ctx->pipeline_layout, ctx->alloc);
    if (ctx->set_layout)
        ctx->vk.vkDestroyDescriptorSetLayout(ctx->device, ctx->set_layout, ctx->alloc);
    if (ctx->pipeline_layout_texel)
        ctx->vk.vkDestroyPipelineLayout(ctx->device, ctx->pipeline_layout_texel, ctx->alloc);
    if (ctx->set_layout_texel)
        ctx->vk.vkDestroyDescriptorSetLayout(ctx->device, ctx->set_layout_texel, ctx->alloc);
}

/* A compute pipeline of key's module, specialization and layout. */
static vkattn_result make_pipeline(vkattn_context ctx, const pipeline_key *key, VkPipeline *out)
{
    /* subgroup != 0: pinned, in full subgroups (the coopmat kernel's layout). */
    VkPipelineShaderStageRequiredSubgroupSizeCreateInfo pin = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_REQUIRED_SUBGROUP_SIZE_CREATE_INFO,
        .requiredSubgroupSize = key->subgroup,
    };
    VkSpecializationMapEntry entries[PLAN_MAX_SPEC];
    for (uint32_t i = 0; i < key->n; ++i)
        entries[i] = (VkSpecializationMapEntry){key->ids[i], i * 4, 4};
    VkSpecializationInfo spec = {key->n, entries, key->n * sizeof(uint32_t), key->values};
    VkShaderModuleCreateInfo mci = {
        .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
        .codeSize = key->module->size,
        .pCode = key->module->code,
    };
    VkShaderModule module;
    VkResult vr = ctx->vk.vkCreateShaderModule(ctx->device, &mci, ctx->alloc, &module);
    if (vr != VK_SUCCESS)
        return vkattn__ctx_vk_fail(ctx, vr, "vkCreateShaderModule");
    VkComputePipelineCreateInfo pci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {
            .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
            .pNext = key->subgroup ? &pin : NULL,
            .flags = key->subgroup ? VK_PIPELINE_SHADER_STAGE_CREATE_REQUIRE_FULL_SUBGROUPS_BIT : 0,
            .stage = VK_SHADER_STAGE_COMPUTE_BIT,
            .module = module,
            .pName = "main",
            .pSpecializationInfo = key->n ? &spec : NULL,
        },
        .layout = key->texel ? ctx->pipeline_layout_texel : ctx->pipeline_layout,
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

static bool key_equal(const pipeline_key *a, const pipeline_key *b)
{
    if (a->module != b->module || a->n != b->n || a->texel != b->texel ||
        a->subgroup != b->subgroup)
        return false;
    for (uint32_t i = 0; i < a->n; ++i)
        if (a->ids[i] != b->ids[i] || a->values[i] != b->values[i])
            return false;
    return true;
}

/* The pipeline of key, or VK_NULL_HANDLE (ctx->lock held). */
static VkPipeline find(vkattn_context ctx, const pipeline_key *key)
{
    for (uint32_t i = 0; i < ctx->n_pipelines; ++i)
        if (key_equal(&ctx->pipelines[i].key, key))
            return ctx->pipelines[i].pipeline;
    return VK_NULL_HANDLE;
}

/* Keeps made under key unless another thread kept one meanwhile (ctx->lock held); *out is the
 * one kept, made is left for the caller to destroy when it is not. */
static vkattn_result keep(vkattn_context ctx, const pipeline_key *key, VkPipeline made,
                          VkPipeline *out)
{
    *out = find(ctx, key);
    if (*out)
        return VKATTN_SUCCESS;
    if (ctx->n_pipelines == ctx->cap_pipelines) {
        const uint32_t cap = ctx->cap_pipelines ? 2 * ctx->cap_pipelines : 16;
        pipeline_entry *grown = realloc(ctx->pipelines, cap * sizeof *grown);
        if (!grown)
            return VKATTN_ERROR_OUT_OF_HOST_MEMORY;
        ctx->pipelines = grown;
        ctx->cap_pipelines = cap;
    }
    ctx->pipelines[ctx->n_pipelines++] = (pipeline_entry){*key, made};
    *out = made;
    return VKATTN_SUCCESS;
}

vkattn_result vkattn__pipeline_of(vkattn_context ctx, const pipeline_key *key, VkPipeline *out)
{
    if (!key->module) /* cannot happen: the planner names only modules the build has */
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_UNSUPPORTED, "no module for this plan");
    pthread_mutex_lock(&ctx->lock);
    *out = find(ctx, key);
    pthread_mutex_unlock(&ctx->lock);
    if (*out)
        return VKATTN_SUCCESS;
    /* Compiled without the lock, so that threads preparing other pipelines compile at once
     * (the pipeline cache is internally synchronised); a pipeline another thread made
     * meanwhile wins, and this one is dropped. */
    VkPipeline made;
    vkattn_result res = make_pipeline(ctx, key, &made);
    if (res != VKATTN_SUCCESS)
        return res;
    pthread_mutex_lock(&ctx->lock);
    res = keep(ctx, key, made, out);
    pthread_mutex_unlock(&ctx->lock);
    if (*out != made)
        ctx->vk.vkDestroyPipeline(ctx->device, made, ctx->alloc);
    if (res != VKATTN_SUCCESS)
        return vkattn__ctx_fail(ctx, res, "out of host memory for the pipeline list");
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

uint32_t vkattn_context_pipelines(vkattn_context ctx, const char **modules, uint32_t capacity)
{
    if (!ctx || ctx->cpu)
        return 0;
    pthread_mutex_lock(&ctx->lock);
    const uint32_t n = ctx->n_pipelines;
    for (uint32_t i = 0; modules && i < n && i < capacity; ++i)
        modules[i] = ctx->pipelines[i].key.module->name;
    pthread_mutex_unlock(&ctx->lock);
    return n;
}
