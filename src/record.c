/* vkattn_cmd_attention and vkattn_cmd_merge: validate the call, take the plan (plan.c) and
 * record it into the app's command buffer. No Vulkan object is created here once the plan's
 * pipelines exist (vkattn_prepare), but for cached texel views. */
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

/* aligned: the binding starts at the offset rounded down to minStorageBufferOffsetAlignment
 * (so the element offset stays below it), else at 0 (descriptor sets, see below). */
static vkattn_result bind_at(vkattn_context ctx, const char *name, const vkattn_buffer *buf,
                             uint64_t elems, uint32_t elem_size, bool words, bool aligned,
                             binding *out)
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
    if (aligned && ctx->limits.minStorageBufferOffsetAlignment > 0)
        base = buf->offset - buf->offset % ctx->limits.minStorageBufferOffsetAlignment;
    uint64_t skip = buf->offset - base;
    if (skip + bytes > ctx->limits.maxStorageBufferRange)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_UNSUPPORTED,
                        "tensors->%s: %llu bytes from the bound offset, over the device's "
                        "maxStorageBufferRange of %u", name, (unsigned long long)(skip + bytes),
                        ctx->limits.maxStorageBufferRange);
    if ((skip + bytes) / elem_size > UINT32_MAX)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_INVALID_ARGUMENT,
                        "tensors->%s: more than 2^32 elements", name);
    out->info.buffer = buf->buffer;
    out->info.offset = base;
    out->info.range = (buf->size == 0 || buf->size == VK_WHOLE_SIZE || !ctx->push_descriptors)
                          ? VK_WHOLE_SIZE : skip + buf->size;
    /* The u8 mask, bf16, and f16 without 16-bit storage are read in 32-bit words (words): the
     * range must cover the whole last word (the header asks the caller for those bytes), or
     * drivers read that word as 0. */
    if (words && out->info.range != VK_WHOLE_SIZE)
        out->info.range = (out->info.range + 3) / 4 * 4;
    out->elem_offset = (uint32_t)(skip / elem_size);
    return VKATTN_SUCCESS;
}

static vkattn_result bind(vkattn_context ctx, const char *name, const vkattn_buffer *buf,
                          uint64_t elems, uint32_t elem_size, binding *out)
{
    return bind_at(ctx, name, buf, elems, elem_size, elem_size == 1, ctx->push_descriptors, out);
}

/* A tensor of dtype's elements (Q, K, V, O and the merge's), read in 32-bit words where the
 * kernels do so (bf16 always, f16 without 16-bit storage). */
static vkattn_result bind_tensor(vkattn_context ctx, const char *name, const vkattn_buffer *buf,
                                 uint64_t elems, vkattn_dtype dtype, binding *out)
{
    const bool words = dtype == VKATTN_DTYPE_BF16 ||
                       (dtype == VKATTN_DTYPE_F16 && !ctx->storage_16bit);
    return bind_at(ctx, name, buf, elems, vkattn__dtype_size(dtype), words, ctx->push_descriptors,
                   out);
}

/* One of the small f32/u32 arrays of the aux word (attn_params.h): bound from its offset
 * rounded down to the alignment on every path (descriptor sets too: they are then kept per
 * offset), so that its element offset fits the word's six bits. Returns its byte there. */
static vkattn_result bind_aux(vkattn_context ctx, const char *name, const vkattn_buffer *buf,
                              uint64_t elems, binding *out, uint32_t *aux_byte)
{
    vkattn_result res = bind_at(ctx, name, buf, elems, 4, false, true, out);
    if (res == VKATTN_SUCCESS && out->elem_offset > ATTN_AUX_OFF_MASK)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_UNSUPPORTED,
                                "tensors->%s: minStorageBufferOffsetAlignment of %llu bytes is "
                                "over Vulkan's limit of 256", name,
                                (unsigned long long)ctx->limits.minStorageBufferOffsetAlignment);
    *aux_byte = ATTN_AUX_ON | out->elem_offset;
    return res;
}

static uint32_t u32(uint64_t x)
{
    return (uint32_t)x; /* the problem check keeps every extent below 2^32 elements */
}

/* One tensor's bytes in its buffer, from its offset: what the kernels may read or write. */
typedef struct span {
    const char *name;
    const vkattn_buffer *buf;
    uint64_t bytes; /* 0: the tensor is absent */
    bool written;
} span;

/* Whether two spans share a byte of one VkBuffer. */
static bool spans_overlap(const span *a, const span *b)
{
    return a->bytes && b->bytes && a->buf->buffer == b->buf->buffer &&
           a->buf->offset < b->buf->offset + b->bytes && b->buf->offset < a->buf->offset + a->bytes;
}

/* A written span must not share bytes with any other (inputs may share with each other). The
 * extents are the real ones, first to last element, whatever the declared sizes. Aliasing
 * through different VkBuffers bound to one memory cannot be seen here; the header asks the
 * caller to avoid it. */
static vkattn_result check_spans(vkattn_context ctx, const span *s, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < n; ++j)
            if (i != j && s[i].written && (j > i || !s[j].written) && spans_overlap(&s[i], &s[j]))
                return vkattn__ctx_fail(ctx, VKATTN_ERROR_INVALID_ARGUMENT,
                                        "tensors->%s overlaps tensors->%s in the same buffer",
                                        s[i].name, s[j].name);
    return VKATTN_SUCCESS;
}

/* Every tensor of the problem, the scratch (scratch_bytes, 0 when none) included. */
static vkattn_result check_overlap(vkattn_context ctx, const vkattn_problem *p,
                                   const vkattn_device_tensors *t, uint32_t esize,
                                   uint64_t scratch_bytes)
{
    const span s[] = {
        {"out", &t->out, vkattn_problem_extent(p, 'o') * esize, true},
        {"lse", &t->lse, p->has_lse ? 4 * vkattn_problem_extent(p, 'l') : 0, true},
        {"scratch", &t->scratch, scratch_bytes, true},
        {"q", &t->q, vkattn_problem_extent(p, 'q') * esize, false},
        {"k", &t->k, vkattn_problem_extent(p, 'k') * esize, false},
        {"v", &t->v, vkattn_problem_extent(p, 'v') * esize, false},
        {"q_lens", &t->q_lens, p->has_q_lens ? 4ull * p->batch : 0, false},
        {"kv_lens", &t->kv_lens, p->has_kv_lens ? 4ull * p->batch : 0, false},
        {"mask", &t->mask, p->mask_batch ? vkattn_problem_extent(p, 'm') : 0, false},
        {"page_table", &t->page_table, p->page_size ? 4 * vkattn_problem_extent(p, 'p') : 0,
         false},
        {"q_start", &t->q_start, p->has_q_start ? 4ull * p->batch : 0, false},
        {"kv_start", &t->kv_start, p->has_kv_start ? 4ull * p->batch : 0, false},
        {"sinks", &t->sinks, p->has_sinks ? 4ull * p->heads_q : 0, false},
        {"alibi", &t->alibi, 4 * vkattn__problem_alibi_count(p), false},
        {"cu_seqlens_q", &t->cu_seqlens_q, p->packed ? 4ull * (p->batch + 1ull) : 0, false},
        {"cu_seqlens_kv", &t->cu_seqlens_kv, p->packed ? 4ull * (p->batch + 1ull) : 0, false},
    };
    return check_spans(ctx, s, sizeof s / sizeof s[0]);
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

/* The common fields of every attention kernel's push constants, for attn_params and
 * decode_params alike (a macro, since they are two C types with the same field names). */
#define FILL_COMMON(pc, p, b, flags, aux)                                                         \
    do {                                                                                          \
        (pc).heads = (p).heads_q | ((p).heads_q / (p).heads_kv) << 16;                            \
        (pc).Sq = (p).seq_q, (pc).Skv = (p).seq_kv;                                               \
        (pc).q_sb = u32((p).q.b), (pc).q_sh = u32((p).q.h), (pc).q_ss = u32((p).q.s);             \
        (pc).k_sb = u32((p).k.b), (pc).k_sh = u32((p).k.h), (pc).k_ss = u32((p).k.s);             \
        (pc).v_sb = u32((p).v.b), (pc).v_sh = u32((p).v.h), (pc).v_ss = u32((p).v.s);             \
        (pc).q_off = (b)[ATTN_BIND_Q].elem_offset, (pc).k_off = (b)[ATTN_BIND_K].elem_offset;     \
        (pc).v_off = (b)[ATTN_BIND_V].elem_offset;                                                \
        (pc).lse_off = (p).has_lse ? (b)[ATTN_BIND_LSE].elem_offset : 0;                          \
        /* packed: B (attn_params.h, ATTN_FLAG_VARLEN) */                                        \
        (pc).qlens_off = (p).packed ? (p).batch : (b)[ATTN_BIND_QLENS].elem_offset;               \
        (pc).kvlens_off = (b)[ATTN_BIND_KVLENS].elem_offset;                                      \
        (pc).mask_off = (b)[ATTN_BIND_MASK].elem_offset;                                          \
        (pc).flags = (flags);                                                                     \
        (pc).wl = window_side(&(p), (p).window_left), (pc).wr = window_side(&(p), (p).window_right); \
        /* exp2 with log2(e) folded into the scale; with a softcap tanh needs natural units. */   \
        (pc).q_scale = (p).softcap > 0 ? (p).scale : (p).scale * 1.4426950408889634f;             \
        (pc).softcap = (p).softcap;                                                               \
        (pc).aux = (aux);                                                                         \
    } while (0)

/* The small arrays of the aux word, each in its byte. A packed batch's cu_seqlens take the
 * starts' places (the shaders read item b's rows from entries b and b + 1). */
static vkattn_result bind_small_arrays(vkattn_context ctx, const vkattn_problem *pp,
                                       const vkattn_device_tensors *tensors, binding *b,
                                       uint32_t *aux_out)
{
    const vkattn_problem p = *pp;
    vkattn_result res;
    const uint64_t cu = p.batch + 1ull;
    const struct { const char *name; const vkattn_buffer *buf; uint64_t elems; int slot;
                   uint32_t shift; } aux[] = {
        {p.packed ? "cu_seqlens_q" : "q_start", p.packed ? &tensors->cu_seqlens_q : &tensors->q_start,
         p.packed ? cu : p.has_q_start ? p.batch : 0, ATTN_BIND_QSTART, ATTN_AUX_QSTART},
        {p.packed ? "cu_seqlens_kv" : "kv_start",
         p.packed ? &tensors->cu_seqlens_kv : &tensors->kv_start,
         p.packed ? cu : p.has_kv_start ? p.batch : 0, ATTN_BIND_KVSTART, ATTN_AUX_KVSTART},
        {"sinks", &tensors->sinks, p.has_sinks ? p.heads_q : 0, ATTN_BIND_SINKS, ATTN_AUX_SINKS},
        {"alibi", &tensors->alibi, vkattn__problem_alibi_count(&p), ATTN_BIND_ALIBI,
         ATTN_AUX_ALIBI},
    };
    *aux_out = 0;
    for (size_t i = 0; i < sizeof aux / sizeof aux[0]; ++i) {
        uint32_t byte = 0;
        if (aux[i].elems &&
            (res = bind_aux(ctx, aux[i].name, aux[i].buf, aux[i].elems, &b[aux[i].slot], &byte)))
            return res;
        *aux_out |= byte << aux[i].shift;
    }
    if (p.alibi == VKATTN_ALIBI_BATCH_HEADS)
        *aux_out |= ATTN_AUX_BATCH << ATTN_AUX_ALIBI;
    return VKATTN_SUCCESS;
}

/* Binds every tensor of the problem (absent optional ones to out's range: the shaders never
 * touch them) and gathers the flags. */
static vkattn_result bind_all(vkattn_context ctx, const vkattn_problem *pp,
                              const vkattn_device_tensors *tensors, const vkattn__plan *plan,
                              binding *b, uint32_t *flags_out, uint32_t *aux_out)
{
    const vkattn_problem p = *pp;
    uint32_t esize = vkattn__dtype_size(p.dtype);
    vkattn_result res;
    memset(b, 0, sizeof(binding) * ATTN_BIND_COUNT);
    if ((res = bind_tensor(ctx, "q", &tensors->q, vkattn_problem_extent(&p, 'q'), p.dtype, &b[ATTN_BIND_Q])) ||
        (res = bind_tensor(ctx, "k", &tensors->k, vkattn_problem_extent(&p, 'k'), p.dtype, &b[ATTN_BIND_K])) ||
        (res = bind_tensor(ctx, "v", &tensors->v, vkattn_problem_extent(&p, 'v'), p.dtype, &b[ATTN_BIND_V])) ||
        (res = bind_tensor(ctx, "out", &tensors->out, vkattn_problem_extent(&p, 'o'), p.dtype, &b[ATTN_BIND_O])))
        return res;
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
    if (p.page_size) {
        if ((res = bind(ctx, "page_table", &tensors->page_table, vkattn_problem_extent(&p, 'p'), 4,
                        &b[ATTN_BIND_PAGES])))
            return res;
        flags |= ATTN_FLAG_PAGED;
    }
    if ((res = bind_small_arrays(ctx, &p, tensors, b, aux_out)))
        return res;
    if (plan->merge) {
        if ((res = bind(ctx, "scratch", &tensors->scratch, plan->scratch_bytes / 4, 4,
                        &b[ATTN_BIND_SCRATCH])))
            return res;
    }
    if ((res = check_overlap(ctx, &p, tensors, esize, plan->scratch_bytes)))
        return res;
    if (plan->form == VKATTN_KERNEL_SPLIT_KV && !p.no_gqa_packing)
        flags |= ATTN_FLAG_PACK;
    if (p.causal)
        flags |= ATTN_FLAG_CAUSAL;
    if (p.align == VKATTN_ALIGN_TOP_LEFT)
        flags |= ATTN_FLAG_TOP_LEFT;
    if (p.window)
        flags |= ATTN_FLAG_WINDOW;
    if (p.softcap > 0)
        flags |= ATTN_FLAG_SOFTCAP;
    if (p.packed)
        flags |= ATTN_FLAG_VARLEN;
    *flags_out = flags;
    return VKATTN_SUCCESS;
}

/* Pushes (or binds the cached set of) the descriptors b; with texel views (push descriptors
 * only), K and V are those, for the texel layout. */
static vkattn_result bind_descriptors(vkattn_context ctx, VkCommandBuffer cmd, const binding *b,
                                      const VkBufferView *views)
{
    VkWriteDescriptorSet writes[ATTN_BIND_COUNT];
    VkDescriptorBufferInfo infos[ATTN_BIND_COUNT];
    for (uint32_t i = 0; i < ATTN_BIND_COUNT; ++i) {
        infos[i] = b[i].info;
        const bool texel = views && (i == ATTN_BIND_K || i == ATTN_BIND_V);
        writes[i] = (VkWriteDescriptorSet){
            .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
            .dstBinding = i,
            .descriptorCount = 1,
            .descriptorType = texel ? VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER
                                    : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .pBufferInfo = texel ? NULL : &infos[i],
            .pTexelBufferView = texel ? &views[i == ATTN_BIND_V] : NULL,
        };
    }
    if (ctx->push_descriptors) {
        ctx->vk.vkCmdPushDescriptorSetKHR(cmd, VK_PIPELINE_BIND_POINT_COMPUTE,
                                          views ? ctx->pipeline_layout_texel : ctx->pipeline_layout,
                                          0, ATTN_BIND_COUNT, writes);
        return VKATTN_SUCCESS;
    }
    VkDescriptorSet set = VK_NULL_HANDLE;
    vkattn_result res = vkattn__descriptor_set_get(ctx, infos, &set);
    if (res == VKATTN_SUCCESS)
        ctx->vk.vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, ctx->pipeline_layout,
                                        0, 1, &set, 0, NULL);
    return res;
}

static vkattn_result check_grid(vkattn_context ctx, uint64_t x, uint64_t y, uint64_t z)
{
    const VkPhysicalDeviceLimits *lim = &ctx->limits;
    if (x > lim->maxComputeWorkGroupCount[0] || y > lim->maxComputeWorkGroupCount[1] ||
        z > lim->maxComputeWorkGroupCount[2])
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_UNSUPPORTED,
                                "grid %llu x %llu x %llu exceeds maxComputeWorkGroupCount",
                                (unsigned long long)x, (unsigned long long)y, (unsigned long long)z);
    return VKATTN_SUCCESS;
}

/* Workgroups of the merge pass (64 rows each), checked against the device's grid limit. */
static vkattn_result merge_groups(vkattn_context ctx, uint64_t rows, uint32_t *groups)
{
    uint64_t g = (rows + 63) / 64;
    vkattn_result res = check_grid(ctx, g, 1, 1);
    *groups = (uint32_t)g;
    return res;
}

/* The merge pass over the decode kernel's splits (also vkattn_cmd_merge's, without them).
 * Records only: everything that can fail was checked before the first command. */
static void record_merge(vkattn_context ctx, VkCommandBuffer cmd, VkPipeline pipeline,
                         const merge_params *mp, uint32_t groups)
{
    ctx->vk.vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline);
    ctx->vk.vkCmdPushConstants(cmd, ctx->pipeline_layout, VK_SHADER_STAGE_COMPUTE_BIT, 0,
                               sizeof *mp, mp);
    ctx->vk.vkCmdDispatch(cmd, groups, 1, 1);
}

/* The texel views of K and V the plan reads (its kv.texel: the planner found that the buffers
 * take them, and the ranges they cover) and the element offsets past their starts; each view
 * widened to whole VKATTN__VIEW_QUANTUM where the bound range (a nonzero size) holds it. Fails
 * only where a view cannot be made. */
static vkattn_result texel_views(vkattn_context ctx, const vkattn_problem *p,
                                 const vkattn_device_tensors *t, const plan_buffers *facts,
                                 const split_kv_shape *kv, VkBufferView *views, uint32_t *offs)
{
    const uint32_t esize = vkattn__dtype_size(p->dtype);
    const vkattn_buffer *bufs[2] = {&t->k, &t->v};
    vkattn_result res = VKATTN_SUCCESS;
    for (int i = 0; i < 2 && res == VKATTN_SUCCESS; ++i) {
        const VkDeviceSize skip = facts->kv_skip[i], base = bufs[i]->offset - skip;
        const VkDeviceSize q = VKATTN__VIEW_QUANTUM, r = (kv->view_range[i] + q - 1) / q * q;
        VkDeviceSize range = kv->view_range[i];
        if (bufs[i]->size && r <= skip + bufs[i]->size &&
            r / 16 <= ctx->limits.maxTexelBufferElements)
            range = r;
        offs[i] = (uint32_t)(skip / esize);
        res = vkattn__texel_view_get(ctx, bufs[i]->buffer, base, range, &views[i]);
    }
    return res;
}

/* The facts about the call's buffers that the planner takes. */
static plan_buffers buffer_facts(vkattn_context ctx, const vkattn_problem *p,
                                 const vkattn_device_tensors *t)
{
    const uint32_t esize = vkattn__dtype_size(p->dtype);
    const VkDeviceSize align = ctx->limits.minTexelBufferOffsetAlignment
                                   ? ctx->limits.minTexelBufferOffsetAlignment : 1;
    return (plan_buffers){
        .qkv_offs = t->q.offset / esize | t->k.offset / esize | t->v.offset / esize,
        .kv_texel = (t->k.flags & VKATTN_BUFFER_TEXEL) && (t->v.flags & VKATTN_BUFFER_TEXEL),
        .kv_skip = {t->k.offset % align, t->v.offset % align},
    };
}

/* The split-KV path: pipelines, scratch span and both grids are checked before anything is
 * recorded, so a failure leaves cmd untouched. */
static vkattn_result cmd_split_kv(vkattn_context ctx, VkCommandBuffer cmd,
                                  const vkattn_problem *pp, const vkattn__plan *pl,
                                  const binding *b, uint32_t flags, uint32_t aux,
                                  const VkBufferView *plan_views, const uint32_t *texel_offs)
{
    const vkattn_problem p = *pp;
    const split_kv_shape *plan = &pl->kv;
    VkPipeline dpl, mpl = VK_NULL_HANDLE;
    vkattn_result res;
    if ((res = vkattn__pipeline_of(ctx, &pl->pipeline, &dpl)) ||
        (pl->merge && (res = vkattn__pipeline_of(ctx, &pl->merge_pipeline, &mpl))))
        return res;
    const uint32_t nb = vkattn__tensor_batch(&p);
    const uint64_t rows = (uint64_t)nb * p.heads_q * p.seq_q;
    if (pl->merge &&
        (uint64_t)plan->splits * rows * (p.head_dim + 1) + b[ATTN_BIND_SCRATCH].elem_offset > UINT32_MAX)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_INVALID_ARGUMENT,
                                "kv_splits = %u: the scratch would span more than 2^32 floats",
                                plan->splits);
    const uint64_t gx = (uint64_t)plan->blocks * plan->splits;
    uint32_t mgroups = 0;
    if ((res = check_grid(ctx, gx, plan->kv_groups, nb)) ||
        (pl->merge && (res = merge_groups(ctx, rows, &mgroups))) ||
        (res = bind_descriptors(ctx, cmd, b, plan->texel ? plan_views : NULL)))
        return res;
    decode_params dp;
    memset(&dp, 0, sizeof dp);
    FILL_COMMON(dp, p, b, flags, aux);
    dp.flags |= (plan->width - p.head_dim) << ATTN_PAD_SHIFT;
    if (p.page_size) {
        dp.flags |= p.page_size << ATTN_PAGE_SHIFT;
        dp.pages_per_seq = p.pages_per_seq;
        dp.num_pages = p.num_pages;
        dp.pages_off = b[ATTN_BIND_PAGES].elem_offset;
    }
    if (plan->texel) { /* element offsets past the views' starts */
        dp.k_off = texel_offs[0];
        dp.v_off = texel_offs[1];
    }
    dp.n_splits = plan->splits;
    dp.split_len = plan->split_len;
    dp.scratch_off = b[ATTN_BIND_SCRATCH].elem_offset;
    if (!pl->merge) { /* O's layout in the split fields (see attn_params.h) */
        dp.flags |= ATTN_FLAG_DIRECT;
        dp.n_splits = u32(p.out.b);
        dp.split_len = u32(p.out.h);
        dp.o_ss = u32(p.out.s);
        dp.scratch_off = b[ATTN_BIND_O].elem_offset;
    }
    ctx->vk.vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, dpl);
    ctx->vk.vkCmdPushConstants(cmd, plan->texel ? ctx->pipeline_layout_texel : ctx->pipeline_layout,
                               VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof dp, &dp);
    ctx->vk.vkCmdDispatch(cmd, (uint32_t)gx, plan->kv_groups, nb);
    if (!pl->merge)
        return VKATTN_SUCCESS;
    /* The merge's layout binds storage buffers only (pushing cannot fail). */
    if (plan->texel)
        bind_descriptors(ctx, cmd, b, NULL);
    /* The merge reads what the splits wrote. */
    VkMemoryBarrier mb = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_SHADER_READ_BIT,
    };
    ctx->vk.vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                                 VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb, 0, NULL, 0, NULL);
    merge_params mp = {
        .Hq = p.heads_q, .Sq = p.seq_q, .D = p.head_dim, .rows = (uint32_t)rows,
        .n_parts = plan->splits,
        .o_sb = u32(p.out.b), .o_sh = u32(p.out.h), .o_ss = u32(p.out.s),
        .scratch_off = b[ATTN_BIND_SCRATCH].elem_offset, .o_off = b[ATTN_BIND_O].elem_offset,
        .lse_off = p.has_lse ? b[ATTN_BIND_LSE].elem_offset : 0,
        .flags = MERGE_FLAG_SPLITS | (p.has_lse ? MERGE_FLAG_LSE : 0u),
    };
    record_merge(ctx, cmd, mpl, &mp, mgroups);
    return VKATTN_SUCCESS;
}

/* What every recording entry point checks first. */
static vkattn_result check_call(vkattn_context ctx, VkCommandBuffer cmd, const void *problem,
                                const void *tensors)
{
    if (ctx->cpu)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_UNSUPPORTED, "a CPU context records no commands");
    if (!cmd || !problem || !tensors)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_INVALID_ARGUMENT, "%s is NULL",
                        !cmd ? "cmd" : !problem ? "problem" : "tensors");
    return VKATTN_SUCCESS;
}

static vkattn_result check_problem(vkattn_context ctx, const vkattn_problem *problem)
{
    char msg[CTX_MESSAGE_SIZE];
    vkattn_result res = vkattn_problem_check(problem, msg, sizeof msg);
    if (res != VKATTN_SUCCESS)
        return vkattn__ctx_fail(ctx, res, "%s", msg);
    return VKATTN_SUCCESS;
}

/* attention.comp's or the coopmat kernel's dispatch. */
static vkattn_result cmd_tiled(vkattn_context ctx, VkCommandBuffer cmd, const vkattn_problem *pp,
                               const vkattn__plan *plan, const binding *b, uint32_t flags,
                               uint32_t aux)
{
    const vkattn_problem p = *pp;
    VkPipeline pl;
    vkattn_result res = vkattn__pipeline_of(ctx, &plan->pipeline, &pl);
    if (res == VKATTN_SUCCESS)
        res = check_grid(ctx, plan->groups[0], plan->groups[1], plan->groups[2]);
    if (res != VKATTN_SUCCESS)
        return res;
    attn_params pc;
    memset(&pc, 0, sizeof pc);
    FILL_COMMON(pc, p, b, flags, aux);
    pc.o_sb = u32(p.out.b), pc.o_sh = u32(p.out.h), pc.o_ss = u32(p.out.s);
    pc.o_off = b[ATTN_BIND_O].elem_offset;
    if (p.page_size) { /* bf16 and the wide head sizes walk the page table here */
        pc.flags |= p.page_size << ATTN_PAGE_SHIFT;
        pc.pages_per_seq = p.pages_per_seq;
        pc.num_pages = p.num_pages;
        pc.pages_off = b[ATTN_BIND_PAGES].elem_offset;
    }
    if ((res = bind_descriptors(ctx, cmd, b, NULL)) != VKATTN_SUCCESS)
        return res;
    ctx->vk.vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pl);
    ctx->vk.vkCmdPushConstants(cmd, ctx->pipeline_layout, VK_SHADER_STAGE_COMPUTE_BIT, 0,
                               sizeof pc, &pc);
    ctx->vk.vkCmdDispatch(cmd, plan->groups[0], plan->groups[1], plan->groups[2]);
    return VKATTN_SUCCESS;
}

/* Check, plan, bind, record: the plan decides everything, once. */
vkattn_result vkattn_cmd_attention(vkattn_context ctx, VkCommandBuffer cmd,
                                   const vkattn_problem *problem,
                                   const vkattn_device_tensors *tensors)
{
    if (!ctx)
        return VKATTN_ERROR_INVALID_ARGUMENT;
    vkattn_result res = check_call(ctx, cmd, problem, tensors);
    if (res == VKATTN_SUCCESS)
        res = check_problem(ctx, problem);
    if (res != VKATTN_SUCCESS)
        return res;
    const vkattn_problem p = vkattn__problem_resolved(problem);
    const plan_buffers facts = buffer_facts(ctx, &p, tensors);
    vkattn__plan plan;
    vkattn__plan_make(&ctx->dev, &p, &facts, &plan);
    binding b[ATTN_BIND_COUNT];
    uint32_t flags = 0, aux = 0;
    if ((res = bind_all(ctx, &p, tensors, &plan, b, &flags, &aux)) != VKATTN_SUCCESS)
        return res;
    if (plan.form != VKATTN_KERNEL_SPLIT_KV)
        return cmd_tiled(ctx, cmd, &p, &plan, b, flags, aux);
    VkBufferView views[2] = {VK_NULL_HANDLE, VK_NULL_HANDLE};
    uint32_t texel_offs[2] = {0, 0};
    if (plan.kv.texel &&
        (res = texel_views(ctx, &p, tensors, &facts, &plan.kv, views, texel_offs)))
        return res;
    return cmd_split_kv(ctx, cmd, &p, &plan, b, flags, aux, views, texel_offs);
}

vkattn_result vkattn_cmd_merge(vkattn_context ctx, VkCommandBuffer cmd,
                               const vkattn_problem *problem, const vkattn_merge_tensors *t)
{
    if (!ctx)
        return VKATTN_ERROR_INVALID_ARGUMENT;
    vkattn_result res = check_call(ctx, cmd, problem, t);
    if (res == VKATTN_SUCCESS)
        res = check_problem(ctx, problem);
    if (res != VKATTN_SUCCESS)
        return res;
    vkattn_problem p = vkattn__problem_resolved(problem);
    const uint32_t esize = vkattn__dtype_size(p.dtype);
    const uint64_t oe = vkattn_problem_extent(&p, 'o'), le = vkattn_problem_extent(&p, 'l');
    binding b[ATTN_BIND_COUNT];
    memset(b, 0, sizeof b);
    if ((res = bind_tensor(ctx, "o1", &t->o1, oe, p.dtype, &b[MERGE_BIND_A])) ||
        (res = bind_tensor(ctx, "o2", &t->o2, oe, p.dtype, &b[MERGE_BIND_B])) ||
        (res = bind(ctx, "lse1", &t->lse1, le, 4, &b[MERGE_BIND_LA])) ||
        (res = bind(ctx, "lse2", &t->lse2, le, 4, &b[MERGE_BIND_LB])) ||
        (res = bind_tensor(ctx, "out", &t->out, oe, p.dtype, &b[ATTN_BIND_O])))
        return res;
    const bool has_lse = t->lse.buffer != VK_NULL_HANDLE;
    b[ATTN_BIND_LSE] = b[ATTN_BIND_O];
    if (has_lse && (res = bind(ctx, "lse", &t->lse, le, 4, &b[ATTN_BIND_LSE])))
        return res;
    const span spans[] = {
        {"out", &t->out, oe * esize, true}, {"lse", &t->lse, has_lse ? le * 4 : 0, true},
        {"o1", &t->o1, oe * esize, false},  {"o2", &t->o2, oe * esize, false},
        {"lse1", &t->lse1, le * 4, false},  {"lse2", &t->lse2, le * 4, false},
    };
    if ((res = check_spans(ctx, spans, sizeof spans / sizeof spans[0])))
        return res;
    for (int i = 0; i < ATTN_BIND_COUNT; ++i)
        if (!b[i].info.buffer)
            b[i] = b[ATTN_BIND_O];
    const pipeline_key key = vkattn__merge_key(&ctx->dev, p.dtype);
    VkPipeline mpl;
    if ((res = vkattn__pipeline_of(ctx, &key, &mpl)) != VKATTN_SUCCESS)
        return res;
    const uint64_t rows = (uint64_t)vkattn__tensor_batch(&p) * p.heads_q * p.seq_q;
    if (rows > UINT32_MAX)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_INVALID_ARGUMENT, "more than 2^32 rows");
    uint32_t groups;
    if ((res = merge_groups(ctx, rows, &groups)) || (res = bind_descriptors(ctx, cmd, b, NULL)))
        return res;
    merge_params mp = {
        .Hq = p.heads_q, .Sq = p.seq_q, .D = p.head_dim_v, /* O's rows */
        .rows = (uint32_t)rows, .n_parts = 2,
        .o_sb = u32(p.out.b), .o_sh = u32(p.out.h), .o_ss = u32(p.out.s),
        .a_off = b[MERGE_BIND_A].elem_offset, .b_off = b[MERGE_BIND_B].elem_offset,
        .la_off = b[MERGE_BIND_LA].elem_offset, .lb_off = b[MERGE_BIND_LB].elem_offset,
        .o_off = b[ATTN_BIND_O].elem_offset,
        .lse_off = has_lse ? b[ATTN_BIND_LSE].elem_offset : 0,
        .flags = has_lse ? MERGE_FLAG_LSE : 0u,
    };
    record_merge(ctx, cmd, mpl, &mp, groups);
    return VKATTN_SUCCESS;
}
