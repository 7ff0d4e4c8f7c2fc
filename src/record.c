/* vkattn_cmd_attention: validates the call and records one dispatch into the app's command
 * buffer. No Vulkan object is created here once the pipeline for (dtype, D) exists. */
#include <string.h>

#include "internal.h"
#include "problem.h"
#include "shaders/attn_params.h"

/* One binding: where it is, and the element offset the shader adds (descriptor offsets must be
 * multiples of minStorageBufferOffsetAlignment; the caller's offsets need not be). */
typedef struct binding {
    VkDescriptorBufferInfo info;
    uint32_t elem_offset;
} binding;

static vkattn_result bind(vkattn_context ctx, const char *name, const vkattn_buffer *buf,
                          uint64_t elems, uint32_t elem_size, binding *out)
{
    if (buf->buffer == VK_NULL_HANDLE)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_INVALID_ARGUMENT, "tensors->%s.buffer is VK_NULL_HANDLE",
                        name);
    if (buf->offset % elem_size != 0)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_INVALID_ARGUMENT,
                        "tensors->%s.offset = %llu: expected a multiple of %u bytes", name,
                        (unsigned long long)buf->offset, elem_size);
    uint64_t bytes = elems * elem_size;
    if (buf->size != 0 && buf->size != VK_WHOLE_SIZE && buf->size < bytes)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_INVALID_ARGUMENT,
                        "tensors->%s.size = %llu bytes: the problem needs %llu", name,
                        (unsigned long long)buf->size, (unsigned long long)bytes);
    /* Descriptor sets (no push descriptors) bind whole buffers so offsets do not multiply
     * them; everything then travels as an element offset. */
    VkDeviceSize base = 0;
    if (ctx->push_descriptors && ctx->limits.minStorageBufferOffsetAlignment > 0)
        base = buf->offset - buf->offset % ctx->limits.minStorageBufferOffsetAlignment;
    uint64_t skip = buf->offset - base;
    if ((skip + bytes) / elem_size > UINT32_MAX)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_INVALID_ARGUMENT,
                        "tensors->%s: more than 2^32 elements", name);
    out->info.buffer = buf->buffer;
    out->info.offset = base;
    out->info.range = (buf->size == 0 || buf->size == VK_WHOLE_SIZE || !ctx->push_descriptors)
                          ? VK_WHOLE_SIZE : skip + buf->size;
    /* The u8 mask is read in 32-bit words: its range must cover the whole last word (the
     * header asks the caller for those bytes), or drivers read that word as 0. */
    if (elem_size == 1 && out->info.range != VK_WHOLE_SIZE)
        out->info.range = (out->info.range + 3) / 4 * 4;
    out->elem_offset = (uint32_t)(skip / elem_size);
    return VKATTN_SUCCESS;
}

static uint32_t u32(uint64_t x)
{
    return (uint32_t)x; /* the problem check keeps every extent below 2^32 elements */
}

/* The outputs must not share bytes with an input or each other in the same VkBuffer (the
 * spans are conservative: first to last element). Aliasing through different VkBuffers bound to
 * one memory cannot be seen here; the header asks the caller to avoid it. */
static vkattn_result check_overlap(vkattn_context ctx, const vkattn_problem *p,
                                   const vkattn_device_tensors *t, uint32_t esize)
{
    const struct { const char *name; const vkattn_buffer *buf; uint64_t bytes; } in[] = {
        {"q", &t->q, vkattn_problem_extent(p, 'q') * esize},
        {"k", &t->k, vkattn_problem_extent(p, 'k') * esize},
        {"v", &t->v, vkattn_problem_extent(p, 'v') * esize},
        {"q_lens", &t->q_lens, p->has_q_lens ? 4ull * p->batch : 0},
        {"kv_lens", &t->kv_lens, p->has_kv_lens ? 4ull * p->batch : 0},
        {"mask", &t->mask, vkattn_problem_extent(p, 'm')},
        {"lse", &t->lse, p->has_lse ? 4 * vkattn_problem_extent(p, 'l') : 0},
    };
    const uint64_t out_bytes = vkattn_problem_extent(p, 'o') * esize;
    for (size_t o = 0; o < 2; ++o) {
        const vkattn_buffer *ob = o == 0 ? &t->out : &t->lse;
        uint64_t obytes = o == 0 ? out_bytes : in[6].bytes;
        if (obytes == 0)
            continue;
        for (size_t i = 0; i < sizeof in / sizeof in[0] - o; ++i)
            if (in[i].bytes && in[i].buf->buffer == ob->buffer &&
                in[i].buf->offset < ob->offset + obytes && ob->offset < in[i].buf->offset + in[i].bytes)
                return vkattn__ctx_fail(ctx, VKATTN_ERROR_INVALID_ARGUMENT,
                                        "tensors->%s overlaps tensors->%s in the same buffer",
                                        o == 0 ? "out" : "lse", in[i].name);
    }
    return VKATTN_SUCCESS;
}

/* A window side for the shader. One of Sq + Skv or more never excludes a key (i + off - w < 0
 * and i + off + w >= Skv), so it is passed as -1, which keeps the shader's int arithmetic far
 * from overflow. */
static int32_t window_side(const vkattn_problem *p, int32_t w)
{
    if (!p->window || w < 0 || (int64_t)w >= (int64_t)p->seq_q + p->seq_kv)
        return -1;
    return w;
}

vkattn_result vkattn_cmd_attention(vkattn_context ctx, VkCommandBuffer cmd,
                                   const vkattn_problem *problem,
                                   const vkattn_device_tensors *tensors)
{
    if (!ctx)
        return VKATTN_ERROR_INVALID_ARGUMENT;
    if (ctx->cpu)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_UNSUPPORTED, "a CPU context records no commands");
    if (!cmd || !problem || !tensors)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_INVALID_ARGUMENT, "%s is NULL",
                        !cmd ? "cmd" : !problem ? "problem" : "tensors");
    char msg[CTX_MESSAGE_SIZE];
    vkattn_result res = vkattn_problem_check(problem, msg, sizeof msg);
    if (res != VKATTN_SUCCESS)
        return vkattn__ctx_fail(ctx, res, "%s", msg);
    vkattn_problem p = vkattn__problem_resolved(problem);
    if (p.dtype == VKATTN_DTYPE_F16 && !ctx->storage_16bit)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_UNSUPPORTED,
                        "dtype = f16: storageBuffer16BitAccess is not %s on device '%s'",
                        ctx->info.fp16_storage ? "enabled" : "available", ctx->info.name);
    const VkPhysicalDeviceLimits *lim = &ctx->limits;

    const attn_pipeline *pl;
    res = vkattn__pipeline_get(ctx, p.dtype, p.head_dim, &pl);
    if (res != VKATTN_SUCCESS)
        return res;
    uint32_t groups_x = (p.seq_q + pl->tiles.br - 1) / pl->tiles.br;
    if (groups_x > lim->maxComputeWorkGroupCount[0] || p.heads_q > lim->maxComputeWorkGroupCount[1] ||
        p.batch > lim->maxComputeWorkGroupCount[2])
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_UNSUPPORTED,
                        "grid %u x %u x %u exceeds maxComputeWorkGroupCount", groups_x,
                        p.heads_q, p.batch);

    uint32_t esize = p.dtype == VKATTN_DTYPE_F16 ? 2 : 4;
    binding b[ATTN_BIND_COUNT];
    memset(b, 0, sizeof b);
    if ((res = bind(ctx, "q", &tensors->q, vkattn_problem_extent(&p, 'q'), esize, &b[ATTN_BIND_Q])) ||
        (res = bind(ctx, "k", &tensors->k, vkattn_problem_extent(&p, 'k'), esize, &b[ATTN_BIND_K])) ||
        (res = bind(ctx, "v", &tensors->v, vkattn_problem_extent(&p, 'v'), esize, &b[ATTN_BIND_V])) ||
        (res = bind(ctx, "out", &tensors->out, vkattn_problem_extent(&p, 'o'), esize, &b[ATTN_BIND_O])))
        return res;
    if ((res = check_overlap(ctx, &p, tensors, esize)) != VKATTN_SUCCESS)
        return res;
    /* Absent optional tensors are bound to out's range: the shader never touches them. */
    for (int i = ATTN_BIND_LSE; i < ATTN_BIND_COUNT; ++i)
        b[i] = b[ATTN_BIND_O];
    uint32_t flags = 0;
    if (p.has_lse) {
        if ((res = bind(ctx, "lse", &tensors->lse, vkattn_problem_extent(&p, 'l'), 4, &b[ATTN_BIND_LSE])))
            return res;
        flags |= ATTN_FLAG_LSE;
    }
    if (p.has_q_lens) {
        if ((res = bind(ctx, "q_lens", &tensors->q_lens, p.batch, 4, &b[ATTN_BIND_QLENS])))
            return res;
        flags |= ATTN_FLAG_Q_LENS;
    }
    if (p.has_kv_lens) {
        if ((res = bind(ctx, "kv_lens", &tensors->kv_lens, p.batch, 4, &b[ATTN_BIND_KVLENS])))
            return res;
        flags |= ATTN_FLAG_KV_LENS;
    }
    if (p.mask_batch) {
        if ((res = bind(ctx, "mask", &tensors->mask, vkattn_problem_extent(&p, 'm'), 1, &b[ATTN_BIND_MASK])))
            return res;
        flags |= ATTN_FLAG_MASK;
        if (p.mask_batch == 1)
            flags |= ATTN_FLAG_MASK_BCAST_B;
        if (p.mask_heads == 1)
            flags |= ATTN_FLAG_MASK_BCAST_H;
    }
    if (p.causal)
        flags |= ATTN_FLAG_CAUSAL;
    if (p.align == VKATTN_ALIGN_TOP_LEFT)
        flags |= ATTN_FLAG_TOP_LEFT;
    if (p.window)
        flags |= ATTN_FLAG_WINDOW;
    if (p.softcap > 0)
        flags |= ATTN_FLAG_SOFTCAP;

    attn_params pc = {
        .Hq = p.heads_q, .group = p.heads_q / p.heads_kv, .Sq = p.seq_q, .Skv = p.seq_kv,
        .q_sb = u32(p.q.b), .q_sh = u32(p.q.h), .q_ss = u32(p.q.s),
        .k_sb = u32(p.k.b), .k_sh = u32(p.k.h), .k_ss = u32(p.k.s),
        .v_sb = u32(p.v.b), .v_sh = u32(p.v.h), .v_ss = u32(p.v.s),
        .o_sb = u32(p.out.b), .o_sh = u32(p.out.h), .o_ss = u32(p.out.s),
        .q_off = b[ATTN_BIND_Q].elem_offset, .k_off = b[ATTN_BIND_K].elem_offset,
        .v_off = b[ATTN_BIND_V].elem_offset, .o_off = b[ATTN_BIND_O].elem_offset,
        .lse_off = b[ATTN_BIND_LSE].elem_offset, .qlens_off = b[ATTN_BIND_QLENS].elem_offset,
        .kvlens_off = b[ATTN_BIND_KVLENS].elem_offset, .mask_off = b[ATTN_BIND_MASK].elem_offset,
        .flags = flags,
        .wl = window_side(&p, p.window_left),
        .wr = window_side(&p, p.window_right),
        /* exp2 with log2(e) folded into the scale; with a softcap the tanh needs natural units. */
        .q_scale = p.softcap > 0 ? p.scale : p.scale * 1.4426950408889634f,
        .softcap = p.softcap,
    };
    if (!p.has_lse)
        pc.lse_off = 0;

    VkWriteDescriptorSet writes[ATTN_BIND_COUNT];
    for (uint32_t i = 0; i < ATTN_BIND_COUNT; ++i)
        writes[i] = (VkWriteDescriptorSet){
            .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
            .dstBinding = i,
            .descriptorCount = 1,
            .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .pBufferInfo = &b[i].info,
        };
    VkDescriptorSet set = VK_NULL_HANDLE;
    if (!ctx->push_descriptors) {
        VkDescriptorBufferInfo infos[ATTN_BIND_COUNT];
        for (uint32_t i = 0; i < ATTN_BIND_COUNT; ++i)
            infos[i] = b[i].info;
        if ((res = vkattn__descriptor_set_get(ctx, infos, &set)) != VKATTN_SUCCESS)
            return res;
    }
    ctx->vk.vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pl->pipeline);
    if (ctx->push_descriptors)
        ctx->vk.vkCmdPushDescriptorSetKHR(cmd, VK_PIPELINE_BIND_POINT_COMPUTE,
                                          ctx->pipeline_layout, 0, ATTN_BIND_COUNT, writes);
    else
        ctx->vk.vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, ctx->pipeline_layout,
                                        0, 1, &set, 0, NULL);
    ctx->vk.vkCmdPushConstants(cmd, ctx->pipeline_layout, VK_SHADER_STAGE_COMPUTE_BIT, 0,
                               sizeof pc, &pc);
    ctx->vk.vkCmdDispatch(cmd, groups_x, p.heads_q, p.batch);
    return VKATTN_SUCCESS;
}
