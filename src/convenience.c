/* vkattn_attention: the convenience call for the tool and quick users. Host tensors go into one
 * host-visible buffer (kept and grown between calls), one command buffer is recorded, submitted
 * and waited for, and the results are copied back. Apps with their own device use
 * vkattn_cmd_attention and their own memory instead. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "problem.h"

/* Host-visible memory, reused between calls and grown on demand. */
typedef struct host_arena {
    VkBuffer buffer;
    VkDeviceMemory memory;
    VkDeviceSize size;
    void *mapped;
    bool coherent;
} host_arena;

/* What the convenience call keeps on a context between calls (ctx->conv). */
struct convenience_state {
    VkCommandPool pool;
    VkCommandBuffer cmd;
    VkFence fence;
    host_arena arena;
};

/* Sections of the arena, in the order of vkattn_device_tensors. */
enum { SEC_Q, SEC_K, SEC_V, SEC_O, SEC_LSE, SEC_QLENS, SEC_KVLENS, SEC_MASK, SEC_PAGES,
       SEC_SCRATCH, SEC_QSTART, SEC_KVSTART, SEC_SINKS, SEC_ALIBI, SEC_CUQ, SEC_CUKV,
       SEC_COUNT };

static VkDeviceSize round_up(VkDeviceSize x, VkDeviceSize a)
{
    return (x + a - 1) / a * a;
}

/* The smallest power of two >= x and >= min (min a power of two). */
static VkDeviceSize pow2_at_least(VkDeviceSize x, VkDeviceSize min)
{
    VkDeviceSize p = min;
    while (p < x && p <= (VkDeviceSize)-1 / 2)
        p *= 2;
    return p < x ? x : p;
}

static void arena_free(vkattn_context ctx)
{
    host_arena *a = &ctx->conv->arena;
    if (a->mapped)
        ctx->vk.vkUnmapMemory(ctx->device, a->memory);
    if (a->buffer)
        ctx->vk.vkDestroyBuffer(ctx->device, a->buffer, ctx->alloc);
    if (a->memory)
        ctx->vk.vkFreeMemory(ctx->device, a->memory, ctx->alloc);
    memset(a, 0, sizeof *a);
}

/* Host-visible memory, preferring device-local (unified memory, resizable BAR), then cached. */
static int find_memory_type(const VkPhysicalDeviceMemoryProperties *mp, uint32_t bits)
{
    static const VkMemoryPropertyFlags prefs[] = {
        VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT |
            VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT,
        VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_CACHED_BIT,
        VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT,
    };
    int type = -1;
    for (size_t p = 0; p < sizeof prefs / sizeof prefs[0] && type < 0; ++p)
        type = vkattn__memory_type(mp, bits, prefs[p]);
    return type;
}

static vkattn_result arena_reserve(vkattn_context ctx, VkDeviceSize size)
{
    host_arena *a = &ctx->conv->arena;
    if (a->buffer && a->size >= size)
        return VKATTN_SUCCESS;
    arena_free(ctx);
    /* On CPU drivers a power of two from 1 MiB: lavapipe (llvmpipe) keys a shader's compiled
     * code on whether the size of a buffer read through a texel view is a power of two, so an
     * arena whose size only sometimes is one would compile each pipeline twice (once per
     * answer, in whichever calls follow the arena's growth). Elsewhere whole MiB, not up to
     * twice the memory. */
    size = ctx->info.type == VK_PHYSICAL_DEVICE_TYPE_CPU ? pow2_at_least(size, 1 << 20)
                                                         : round_up(size, 1 << 20);
    VkBufferCreateInfo bci = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = size,
        /* Texel usage: K/V may be read through texel views (VKATTN_BUFFER_TEXEL). */
        .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    /* Outputs of a failed Vulkan call are undefined: handles are kept only on success. */
    VkBuffer buffer;
    VkResult vr = ctx->vk.vkCreateBuffer(ctx->device, &bci, ctx->alloc, &buffer);
    if (vr != VK_SUCCESS)
        return vkattn__ctx_vk_fail(ctx, vr, "vkCreateBuffer");
    a->buffer = buffer;
    VkMemoryRequirements req;
    ctx->vk.vkGetBufferMemoryRequirements(ctx->device, a->buffer, &req);
    int type = find_memory_type(&ctx->mem_props, req.memoryTypeBits);
    if (type < 0) {
        arena_free(ctx);
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_UNSUPPORTED, "no host-visible memory for buffers");
    }
    VkMemoryAllocateInfo mai = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
        .allocationSize = req.size,
        .memoryTypeIndex = (uint32_t)type,
    };
    const char *call = "vkAllocateMemory (host-visible)";
    VkDeviceMemory memory;
    vr = ctx->vk.vkAllocateMemory(ctx->device, &mai, ctx->alloc, &memory);
    if (vr == VK_SUCCESS) {
        a->memory = memory;
        call = "vkBindBufferMemory";
        vr = ctx->vk.vkBindBufferMemory(ctx->device, a->buffer, a->memory, 0);
    }
    if (vr == VK_SUCCESS) {
        call = "vkMapMemory";
        void *mapped;
        vr = ctx->vk.vkMapMemory(ctx->device, a->memory, 0, VK_WHOLE_SIZE, 0, &mapped);
        if (vr == VK_SUCCESS)
            a->mapped = mapped;
    }
    if (vr != VK_SUCCESS) {
        arena_free(ctx);
        return vkattn__ctx_vk_fail(ctx, vr, call);
    }
    a->size = size;
    a->coherent = (ctx->mem_props.memoryTypes[type].propertyFlags &
                   VK_MEMORY_PROPERTY_HOST_COHERENT_BIT) != 0;
    return VKATTN_SUCCESS;
}

/* The command pool, command buffer and fence, and the arena: gone with the context (its hook). */
static void destroy_submit(vkattn_context ctx);

static void convenience_destroy(vkattn_context ctx)
{
    arena_free(ctx);
    destroy_submit(ctx);
    free(ctx->conv);
    ctx->conv = NULL;
}

/* ctx->conv, made on the first call. */
static vkattn_result state_get(vkattn_context ctx)
{
    if (ctx->conv)
        return VKATTN_SUCCESS;
    ctx->conv = calloc(1, sizeof *ctx->conv);
    if (!ctx->conv)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    ctx->conv_destroy = convenience_destroy;
    return VKATTN_SUCCESS;
}

/* The command pool, command buffer and fence, made on the first call. */
static vkattn_result submit_objects(vkattn_context ctx)
{
    if (ctx->conv->fence)
        return VKATTN_SUCCESS;
    destroy_submit(ctx); /* what an earlier failed attempt left */
    if (ctx->queue == VK_NULL_HANDLE)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_INVALID_ARGUMENT,
                        "vkattn_attention needs the context's queue (desc->queue)");
    VkCommandPoolCreateInfo pci = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        .flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT,
        .queueFamilyIndex = ctx->queue_family,
    };
    /* Handles are kept only on success (a failed call's outputs are undefined). */
    VkCommandPool pool;
    VkResult vr = ctx->vk.vkCreateCommandPool(ctx->device, &pci, ctx->alloc, &pool);
    if (vr != VK_SUCCESS)
        return vkattn__ctx_vk_fail(ctx, vr, "vkCreateCommandPool");
    ctx->conv->pool = pool;
    VkCommandBufferAllocateInfo cai = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
        .commandPool = ctx->conv->pool,
        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
        .commandBufferCount = 1,
    };
    VkCommandBuffer cmd;
    vr = ctx->vk.vkAllocateCommandBuffers(ctx->device, &cai, &cmd);
    if (vr != VK_SUCCESS)
        return vkattn__ctx_vk_fail(ctx, vr, "vkAllocateCommandBuffers");
    ctx->conv->cmd = cmd;
    VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VkFence fence;
    vr = ctx->vk.vkCreateFence(ctx->device, &fci, ctx->alloc, &fence);
    if (vr != VK_SUCCESS)
        return vkattn__ctx_vk_fail(ctx, vr, "vkCreateFence");
    ctx->conv->fence = fence;
    return VKATTN_SUCCESS;
}

static void destroy_submit(vkattn_context ctx)
{
    if (ctx->conv->fence)
        ctx->vk.vkDestroyFence(ctx->device, ctx->conv->fence, ctx->alloc);
    if (ctx->conv->pool)
        ctx->vk.vkDestroyCommandPool(ctx->device, ctx->conv->pool, ctx->alloc);
    ctx->conv->fence = VK_NULL_HANDLE;
    ctx->conv->pool = VK_NULL_HANDLE;
    ctx->conv->cmd = VK_NULL_HANDLE; /* freed with its pool */
}

static vkattn_result run_once(vkattn_context ctx, const vkattn_problem *p,
                              const vkattn_device_tensors *dt)
{
    VkCommandBufferBeginInfo bi = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
        .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
    };
    VkResult vr = ctx->vk.vkResetCommandPool(ctx->device, ctx->conv->pool, 0);
    if (vr == VK_SUCCESS)
        vr = ctx->vk.vkBeginCommandBuffer(ctx->conv->cmd, &bi);
    if (vr != VK_SUCCESS)
        return vkattn__ctx_vk_fail(ctx, vr, "vkBeginCommandBuffer");
    /* Host writes are made visible by the submission itself; the results need a barrier to the
     * host before the fence makes them available. */
    vkattn_result res = vkattn_cmd_attention(ctx, ctx->conv->cmd, p, dt);
    VkMemoryBarrier to_host = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_HOST_READ_BIT,
    };
    if (res == VKATTN_SUCCESS)
        ctx->vk.vkCmdPipelineBarrier(ctx->conv->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                                     VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &to_host, 0, NULL, 0, NULL);
    vr = ctx->vk.vkEndCommandBuffer(ctx->conv->cmd);
    if (res != VKATTN_SUCCESS)
        return res;
    if (vr != VK_SUCCESS)
        return vkattn__ctx_vk_fail(ctx, vr, "vkEndCommandBuffer");
    VkSubmitInfo si = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
        .commandBufferCount = 1,
        .pCommandBuffers = &ctx->conv->cmd,
    };
    vr = ctx->vk.vkQueueSubmit(ctx->queue, 1, &si, ctx->conv->fence);
    if (vr != VK_SUCCESS)
        return vkattn__ctx_vk_fail(ctx, vr, "vkQueueSubmit");
    vr = ctx->vk.vkWaitForFences(ctx->device, 1, &ctx->conv->fence, VK_TRUE, UINT64_MAX);
    VkResult vr2 = ctx->vk.vkResetFences(ctx->device, 1, &ctx->conv->fence);
    if (vr != VK_SUCCESS)
        return vkattn__ctx_vk_fail(ctx, vr, "vkWaitForFences");
    if (vr2 != VK_SUCCESS)
        return vkattn__ctx_vk_fail(ctx, vr2, "vkResetFences");
    return VKATTN_SUCCESS;
}

/* The problem and the host arrays it reads, checked as the reference checks them. */
static vkattn_result check_host(vkattn_context ctx, const vkattn_problem *problem,
                                const vkattn_host_tensors *t)
{
    if (!problem || !t)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_INVALID_ARGUMENT, "%s is NULL",
                        !problem ? "problem" : "tensors");
    char msg[CTX_MESSAGE_SIZE];
    vkattn_result res = vkattn_problem_check(problem, msg, sizeof msg);
    if (res != VKATTN_SUCCESS)
        return vkattn__ctx_fail(ctx, res, "%s", msg);
    const vkattn_problem p = vkattn__problem_resolved(problem);
    const char *missing = vkattn__host_tensors_missing(&p, t);
    if (missing)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_INVALID_ARGUMENT, "tensors->%s is NULL", missing);
    const vkattn__seq_arrays seqs = vkattn__seq_arrays_of(&p, t);
    res = vkattn__problem_check_seqs(&p, &seqs, msg, sizeof msg);
    if (res == VKATTN_SUCCESS)
        res = vkattn__problem_check_logits(&p, p.has_sinks ? t->sinks : NULL,
                                           p.alibi ? t->alibi : NULL, msg, sizeof msg);
    if (res == VKATTN_SUCCESS && p.page_size)
        res = vkattn__problem_check_pages(&p, t->page_table, msg, sizeof msg);
    if (res != VKATTN_SUCCESS)
        return vkattn__ctx_fail(ctx, res, "%s", msg);
    return VKATTN_SUCCESS;
}

vkattn_result vkattn_attention(vkattn_context ctx, const vkattn_problem *problem,
                               const vkattn_host_tensors *t)
{
    if (!ctx)
        return VKATTN_ERROR_INVALID_ARGUMENT;
    if (ctx->cpu) {
        char msg[CTX_MESSAGE_SIZE];
        vkattn_result res = vkattn_reference(problem, t, msg, sizeof msg);
        return res == VKATTN_SUCCESS ? res : vkattn__ctx_fail(ctx, res, "%s", msg);
    }
    vkattn_result res = check_host(ctx, problem, t);
    if (res != VKATTN_SUCCESS)
        return res;
    const vkattn_problem p = vkattn__problem_resolved(problem);
    uint64_t scratch = 0;
    if ((res = vkattn_scratch_size(ctx, problem, &scratch)) != VKATTN_SUCCESS)
        return res;

    uint64_t esize = vkattn__dtype_size(p.dtype);
    uint64_t bytes[SEC_COUNT] = {
        vkattn_problem_extent(&p, 'q') * esize, vkattn_problem_extent(&p, 'k') * esize,
        vkattn_problem_extent(&p, 'v') * esize, vkattn_problem_extent(&p, 'o') * esize,
        p.has_lse ? vkattn_problem_extent(&p, 'l') * 4 : 0,
        p.has_q_lens ? p.batch * 4ull : 0, p.has_kv_lens ? p.batch * 4ull : 0,
        /* the shader reads the u8 mask in whole 32-bit words */
        p.mask_batch ? round_up(vkattn_problem_extent(&p, 'm'), 4) : 0,
        vkattn_problem_extent(&p, 'p') * 4, scratch,
        p.has_q_start ? p.batch * 4ull : 0, p.has_kv_start ? p.batch * 4ull : 0,
        p.has_sinks ? p.heads_q * 4ull : 0, vkattn__problem_alibi_count(&p) * 4,
        p.packed ? (p.batch + 1ull) * 4 : 0, p.packed ? (p.batch + 1ull) * 4 : 0,
    };
    /* out too: the shader writes only its elements, so gaps of a strided out keep their bytes */
    const void *src[SEC_COUNT] = {t->q, t->k, t->v, t->out, NULL, t->q_lens, t->kv_lens, t->mask,
                                  t->page_table, NULL, t->q_start, t->kv_start, t->sinks,
                                  t->alibi, t->cu_seqlens_q, t->cu_seqlens_kv};
    VkDeviceSize align = ctx->limits.minStorageBufferOffsetAlignment;
    if (align < 16)
        align = 16;
    VkDeviceSize off[SEC_COUNT], total = 0;
    /* K and V get sections of whole 64 KiB, bound whole: their texel views then cover them
     * (see texel_views in record.c), whatever the problem's size. */
    VkDeviceSize span[SEC_COUNT];
    for (int i = 0; i < SEC_COUNT; ++i) {
        span[i] = (i == SEC_K || i == SEC_V) ? round_up(bytes[i], VKATTN__VIEW_QUANTUM) : bytes[i];
        off[i] = total;
        total = round_up(total + span[i], align);
    }
    if ((res = state_get(ctx)) || (res = submit_objects(ctx)) || (res = arena_reserve(ctx, total)))
        return res;

    char *base = ctx->conv->arena.mapped;
    for (int i = 0; i < SEC_COUNT; ++i)
        if (src[i] && bytes[i])
            memcpy(base + off[i], src[i], i == SEC_MASK ? vkattn_problem_extent(&p, 'm') : bytes[i]);
    VkMappedMemoryRange range = {
        .sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE,
        .memory = ctx->conv->arena.memory,
        .size = VK_WHOLE_SIZE,
    };
    if (!ctx->conv->arena.coherent)
        ctx->vk.vkFlushMappedMemoryRanges(ctx->device, 1, &range);

    vkattn_device_tensors dt;
    vkattn_buffer *slots[SEC_COUNT] = {&dt.q, &dt.k, &dt.v, &dt.out, &dt.lse, &dt.q_lens,
                                       &dt.kv_lens, &dt.mask, &dt.page_table, &dt.scratch,
                                       &dt.q_start, &dt.kv_start, &dt.sinks, &dt.alibi,
                                       &dt.cu_seqlens_q, &dt.cu_seqlens_kv};
    memset(&dt, 0, sizeof dt);
    for (int i = 0; i < SEC_COUNT; ++i)
        if (bytes[i])
            *slots[i] = (vkattn_buffer){ctx->conv->arena.buffer, off[i], span[i],
                                        i == SEC_K || i == SEC_V ? VKATTN_BUFFER_TEXEL : 0};
    res = run_once(ctx, problem, &dt); /* as given: a paged K/V's strides stay unset */
    /* The views of this call's ranges are not kept: the next call's offsets differ. */
    vkattn_release_buffer(ctx, ctx->conv->arena.buffer);
    if (res != VKATTN_SUCCESS)
        return res;
    if (!ctx->conv->arena.coherent)
        ctx->vk.vkInvalidateMappedMemoryRanges(ctx->device, 1, &range);
    memcpy(t->out, base + off[SEC_O], bytes[SEC_O]);
    if (p.has_lse)
        memcpy(t->lse, base + off[SEC_LSE], bytes[SEC_LSE]);
    return VKATTN_SUCCESS;
}
