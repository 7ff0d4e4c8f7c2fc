/* Descriptor sets for devices without VK_KHR_push_descriptor, and the texel views of K/V.
 * Each distinct combination of bound buffers gets a set on first use, written once and kept for
 * the context's lifetime: a set is
 * never updated after it is written, so command buffers in flight that use it stay valid, and an
 * app that records with the same buffers every frame creates nothing in steady state. The
 * bindings span whole buffers (offsets travel in push constants) so that offsets do not multiply
 * the sets; only the small arrays of the aux word (start offsets, sinks, slopes) are bound at
 * their aligned offsets, which are then part of the set's key. The app releases a buffer's sets before destroying it (vkattn_release_buffer): a
 * new buffer may get the old handle, and the old set would then read the old memory. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define SETS_PER_POOL 64

static vkattn_result grow_pools(vkattn_context ctx)
{
    VkDescriptorPool *pools = realloc(ctx->desc.pools, (ctx->desc.npools + 1) * sizeof *pools);
    if (!pools)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    ctx->desc.pools = pools;
    VkDescriptorPoolSize size = {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, SETS_PER_POOL * ATTN_BIND_COUNT};
    VkDescriptorPoolCreateInfo pci = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
        .flags = VK_DESCRIPTOR_POOL_CREATE_FREE_DESCRIPTOR_SET_BIT, /* vkattn_release_buffer */
        .maxSets = SETS_PER_POOL,
        .poolSizeCount = 1,
        .pPoolSizes = &size,
    };
    VkResult vr = ctx->vk.vkCreateDescriptorPool(ctx->device, &pci, ctx->alloc,
                                                 &pools[ctx->desc.npools]);
    if (vr != VK_SUCCESS)
        return vkattn__ctx_vk_fail(ctx, vr, "vkCreateDescriptorPool");
    ctx->desc.npools++;
    ctx->desc.left_in_pool = SETS_PER_POOL;
    return VKATTN_SUCCESS;
}

static vkattn_result make_set(vkattn_context ctx, const VkDescriptorBufferInfo *infos,
                              VkDescriptorSet *out)
{
    if (ctx->desc.count == ctx->desc.cap) {
        uint32_t cap = ctx->desc.cap ? ctx->desc.cap * 2 : 16;
        desc_entry *e = realloc(ctx->desc.entries, cap * sizeof *e);
        if (!e)
            return vkattn__ctx_fail(ctx, VKATTN_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
        ctx->desc.entries = e;
        ctx->desc.cap = cap;
    }
    vkattn_result res;
    /* Freed sets are not reused (pools only grow); releases are rare (buffer destruction). */
    if (ctx->desc.left_in_pool == 0 && (res = grow_pools(ctx)) != VKATTN_SUCCESS)
        return res;
    VkDescriptorSetAllocateInfo ai = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
        .descriptorPool = ctx->desc.pools[ctx->desc.npools - 1],
        .descriptorSetCount = 1,
        .pSetLayouts = &ctx->set_layout,
    };
    VkDescriptorSet set;
    VkResult vr = ctx->vk.vkAllocateDescriptorSets(ctx->device, &ai, &set);
    if (vr != VK_SUCCESS)
        return vkattn__ctx_vk_fail(ctx, vr, "vkAllocateDescriptorSets");
    ctx->desc.left_in_pool--;
    VkWriteDescriptorSet writes[ATTN_BIND_COUNT];
    for (uint32_t i = 0; i < ATTN_BIND_COUNT; ++i)
        writes[i] = (VkWriteDescriptorSet){
            .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
            .dstSet = set,
            .dstBinding = i,
            .descriptorCount = 1,
            .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .pBufferInfo = &infos[i],
        };
    ctx->vk.vkUpdateDescriptorSets(ctx->device, ATTN_BIND_COUNT, writes, 0, NULL);
    desc_entry *e = &ctx->desc.entries[ctx->desc.count++];
    for (uint32_t i = 0; i < ATTN_BIND_COUNT; ++i) {
        e->buffers[i] = infos[i].buffer;
        e->offsets[i] = infos[i].offset;
    }
    e->set = set;
    e->pool = ai.descriptorPool;
    *out = set;
    return VKATTN_SUCCESS;
}

vkattn_result vkattn__descriptor_set_get(vkattn_context ctx, const VkDescriptorBufferInfo *infos,
                                 VkDescriptorSet *out)
{
    vkattn_result res = VKATTN_SUCCESS;
    pthread_mutex_lock(&ctx->lock);
    uint32_t i = 0;
    for (; i < ctx->desc.count; ++i) {
        uint32_t b = 0;
        while (b < ATTN_BIND_COUNT && ctx->desc.entries[i].buffers[b] == infos[b].buffer &&
               ctx->desc.entries[i].offsets[b] == infos[b].offset)
            ++b;
        if (b == ATTN_BIND_COUNT)
            break;
    }
    if (i < ctx->desc.count)
        *out = ctx->desc.entries[i].set;
    else
        res = make_set(ctx, infos, out);
    pthread_mutex_unlock(&ctx->lock);
    return res;
}

/* Texel views live as long as the sets above, for the same reason: a command buffer in flight
 * may use one. Few per buffer (one per bound range), found by a linear search. */
vkattn_result vkattn__texel_view_get(vkattn_context ctx, VkBuffer buffer, VkDeviceSize offset,
                                     VkDeviceSize range, VkBufferView *out)
{
    vkattn_result res = VKATTN_SUCCESS;
    pthread_mutex_lock(&ctx->lock);
    view_cache *c = &ctx->views;
    uint32_t i = 0;
    while (i < c->count && !(c->entries[i].buffer == buffer && c->entries[i].offset == offset &&
                             c->entries[i].range == range))
        ++i;
    if (i == c->count) {
        if (c->count == c->cap) {
            uint32_t cap = c->cap ? c->cap * 2 : 8;
            view_entry *e = realloc(c->entries, cap * sizeof *e);
            if (!e)
                res = vkattn__ctx_fail(ctx, VKATTN_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
            else
                c->entries = e, c->cap = cap;
        }
        VkBufferViewCreateInfo vci = {
            .sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO,
            .buffer = buffer,
            .format = TEXEL_FORMAT,
            .offset = offset,
            .range = range,
        };
        VkBufferView view;
        VkResult vr = VK_SUCCESS;
        if (res == VKATTN_SUCCESS &&
            (vr = ctx->vk.vkCreateBufferView(ctx->device, &vci, ctx->alloc, &view)) != VK_SUCCESS)
            res = vkattn__ctx_vk_fail(ctx, vr, "vkCreateBufferView");
        if (res == VKATTN_SUCCESS)
            c->entries[c->count++] = (view_entry){buffer, offset, range, view};
    }
    if (res == VKATTN_SUCCESS)
        *out = c->entries[i].view;
    pthread_mutex_unlock(&ctx->lock);
    return res;
}

vkattn_result vkattn_release_buffer(vkattn_context ctx, VkBuffer buffer)
{
    if (!ctx)
        return VKATTN_ERROR_INVALID_ARGUMENT;
    pthread_mutex_lock(&ctx->lock);
    uint32_t kept = 0;
    for (uint32_t i = 0; i < ctx->desc.count; ++i) {
        desc_entry *e = &ctx->desc.entries[i];
        bool uses = false;
        for (uint32_t b = 0; b < ATTN_BIND_COUNT; ++b)
            uses = uses || e->buffers[b] == buffer;
        if (!uses) {
            ctx->desc.entries[kept++] = *e;
            continue;
        }
        ctx->vk.vkFreeDescriptorSets(ctx->device, e->pool, 1, &e->set);
    }
    ctx->desc.count = kept;
    kept = 0;
    for (uint32_t i = 0; i < ctx->views.count; ++i) {
        if (ctx->views.entries[i].buffer != buffer)
            ctx->views.entries[kept++] = ctx->views.entries[i];
        else
            ctx->vk.vkDestroyBufferView(ctx->device, ctx->views.entries[i].view, ctx->alloc);
    }
    ctx->views.count = kept;
    pthread_mutex_unlock(&ctx->lock);
    return VKATTN_SUCCESS;
}

void vkattn__descriptors_destroy(vkattn_context ctx)
{
    for (uint32_t i = 0; i < ctx->desc.npools; ++i)
        ctx->vk.vkDestroyDescriptorPool(ctx->device, ctx->desc.pools[i], ctx->alloc);
    free(ctx->desc.pools);
    free(ctx->desc.entries);
    memset(&ctx->desc, 0, sizeof ctx->desc);
    for (uint32_t i = 0; i < ctx->views.count; ++i)
        ctx->vk.vkDestroyBufferView(ctx->device, ctx->views.entries[i].view, ctx->alloc);
    free(ctx->views.entries);
    memset(&ctx->views, 0, sizeof ctx->views);
}
