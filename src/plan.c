/* The planner (plan.h): each decision is a small function whose comment says why; the measured
 * figures behind its choices live beside the built-in tuning rows (tuning.c, "Measured"). */
#include "plan.h"

#include "problem.h"
#include "shaders/attn_params.h"

static uint32_t pow2_floor(uint32_t x)
{
    uint32_t p = 1;
    while (p * 2 <= x)
        p *= 2;
    return p;
}

static bool is_cpu(const plan_device *dev)
{
    return dev->info.type == VK_PHYSICAL_DEVICE_TYPE_CPU;
}

/* Tiles for head sizes d (Q, K) and dv (V, O) on this device. TPR invocations share a row so
 * that each keeps at most 16 accumulators; the workgroup has 128 invocations where the device
 * allows; the K/V tile is as long as shared memory permits beside the Q tile (rows padded to
 * d + 1 floats). (D = 576, Dv = 512 in 16 KiB: one row and two keys a tile; in 32 KiB four.) */
attn_tiles vkattn__choose_tiles(const VkPhysicalDeviceLimits *lim, vkattn_kernel form, uint32_t d,
                                uint32_t dv)
{
    attn_tiles t = {0};
    /* Rowwise: a row per invocation keeps every K/V read a broadcast and needs no Q tile (on CPU
     * drivers registers spill to cached stack, cheaply). Tiled: a row is shared so that no
     * invocation holds more than 16 accumulators (GPU registers). */
    if (form == VKATTN_KERNEL_ROWWISE)
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
    const uint32_t words = lim->maxComputeSharedMemorySize / 4;
    const uint32_t rs = t.tpr == 1 ? d : d + 1, rsv = t.tpr == 1 ? dv : dv + 1; /* RS, RSV */
    for (;;) {
        /* What attention.comp declares: the Q tile and the rows' flags (rowwise: a 1-word
         * stand-in each), then per key the K and V rows and a score per row. */
        const uint32_t used = t.tpr == 1 ? 2 : t.br * rs + t.br;
        const uint32_t per_key = rs + rsv + t.br;
        const uint32_t bc = used < words ? (words - used) / per_key : 0;
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

/* The coopmat kernel's tiles: NSG subgroups of M rows each share every K/V tile of BC keys
 * (a multiple of N and K, 32 or more where shared memory allows). Its shared memory: Q, K or V,
 * P in f16, the scores and O in f32 (see attention_coopmat.comp); 4 subgroups where the
 * workgroup and memory allow, fewer (then shorter tiles) where not. */
bool vkattn__coopmat_tiles(const plan_device *dev, uint32_t head_dim, attn_tiles *out)
{
    if (!dev->coopmat)
        return false;
    const uint32_t m = dev->info.coopmat_m, n = dev->info.coopmat_n, k = dev->info.coopmat_k;
    const uint32_t sg = dev->info.subgroup_size, step = n > k ? n : k;
    const uint32_t dp = (head_dim + step - 1) / step * step;
    for (uint32_t nsg = 4; nsg >= 1; nsg /= 2) {
        if (nsg * sg > dev->limits.maxComputeWorkGroupInvocations ||
            nsg * sg > dev->limits.maxComputeWorkGroupSize[0] ||
            (dev->coopmat_pin && nsg > dev->coopmat_max_subgroups))
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
            if (bytes <= dev->limits.maxComputeSharedMemorySize) {
                *out = (attn_tiles){.br = br, .bc = bc, .tpr = 0, .wg = nsg * sg, .dp = dp};
                return true;
            }
        }
    }
    return false;
}

bool vkattn__texel_fits(const VkPhysicalDeviceLimits *lim, const vkattn_problem *p,
                        uint32_t parts_log2, const uint64_t *skip, uint64_t *range)
{
    const uint32_t esize = vkattn__dtype_size(p->dtype), epw = vkattn__elems_per_word(p->dtype);
    const vkattn_strides *st[2] = {&p->k, &p->v};
    for (int i = 0; i < 2; ++i) {
        range[i] = skip[i] + vkattn_problem_extent(p, i ? 'v' : 'k') * esize;
        const uint64_t all = skip[i] / esize | (uint64_t)(p->head_dim >> parts_log2) | st[i]->b |
                             st[i]->h | st[i]->s;
        if (skip[i] % esize || all % epw || range[i] % 16 ||
            range[i] / 16 > lim->maxTexelBufferElements || range[i] / esize > UINT32_MAX)
            return false;
    }
    return true;
}

plan_buffers vkattn__plan_buffers_aligned(uint32_t kv_flags)
{
    return (plan_buffers){.kv_texel = (kv_flags & VKATTN_BUFFER_TEXEL) != 0};
}

module_store vkattn__module_store(const plan_device *dev, vkattn_dtype dtype)
{
    return dtype == VKATTN_DTYPE_F32    ? STORE_F32
           : dtype == VKATTN_DTYPE_BF16 ? STORE_BF16W
           : dev->storage_16bit         ? STORE_F16
                                        : STORE_F16W;
}

/* attention.comp's form: the desc's choice, else the prefill tuning's, else rowwise on CPU
 * drivers (a row per invocation: K/V reads are broadcasts) and tiled on GPUs (registers). */
static vkattn_kernel attn_form(const plan_device *dev, vkattn_dtype dtype, uint32_t head_dim)
{
    vkattn_kernel k = dev->kernel;
    if (k != VKATTN_KERNEL_ROWWISE && k != VKATTN_KERNEL_TILED)
        k = vkattn__tuning_resolved(dev, VKATTN_TUNING_PREFILL, dtype, head_dim).kernel;
    if (k != VKATTN_KERNEL_ROWWISE && k != VKATTN_KERNEL_TILED)
        k = is_cpu(dev) ? VKATTN_KERNEL_ROWWISE : VKATTN_KERNEL_TILED;
    return k;
}

/* The form that runs p, and why. */
static vkattn_kernel choose_form(const plan_device *dev, const vkattn_problem *p,
                                 const vkattn_tuning *tu, attn_tiles *coop, const char **why)
{
    if (vkattn__wide_heads(p)) {
        *why = "D above 256 or Dv != D: only attention.comp's tiled form is sized for them";
        return VKATTN_KERNEL_TILED;
    }
    if (p->dtype == VKATTN_DTYPE_BF16) {
        *why = "bf16: attention.comp's modules only";
        return attn_form(dev, p->dtype, p->head_dim);
    }
    const bool decoding = vkattn_tuning_class_of(p) == VKATTN_TUNING_DECODE;
    vkattn_kernel k = dev->kernel != VKATTN_KERNEL_AUTO ? dev->kernel : tu->kernel;
    const bool needs_split_kv = p->page_size != 0 || p->kv_splits != 0 || p->no_gqa_packing;
    if (k == VKATTN_KERNEL_COOPMAT) {
        if (!needs_split_kv && p->dtype == VKATTN_DTYPE_F16 &&
            vkattn__coopmat_tiles(dev, p->head_dim, coop)) {
            *why = "f16 with matrix cores: the cooperative-matrix kernel";
            return VKATTN_KERNEL_COOPMAT;
        }
        /* The tuning's other choice, or the built-in one of the class. */
        k = tu->kernel != VKATTN_KERNEL_COOPMAT ? tu->kernel
            : decoding                          ? VKATTN_KERNEL_SPLIT_KV : VKATTN_KERNEL_AUTO;
    }
    if (needs_split_kv) {
        *why = "paged K/V, forced kv_splits or no GQA packing: the split-KV kernel only";
        return VKATTN_KERNEL_SPLIT_KV;
    }
    if (k == VKATTN_KERNEL_SPLIT_KV) {
        *why = decoding ? "a decode step: keys split across workgroups"
                        : "the tuning's choice for this device (the split-KV kernel)";
        return VKATTN_KERNEL_SPLIT_KV;
    }
    *why = "attention.comp, in the form the desc or tuning gives for this device";
    return attn_form(dev, p->dtype, p->head_dim);
}

/* The workgroup: the tuning's, within the device, at most 64 (the shared merge block is
 * wg x (wg + 1) floats), halved until that block and the rows' statistics (3 x RP x wg, RP up
 * to 8) fit shared memory (a 16 KiB device takes 32). */
static uint32_t kv_workgroup(const plan_device *dev, const vkattn_tuning *tu)
{
    uint32_t wg = tu->workgroup;
    if (wg > dev->limits.maxComputeWorkGroupInvocations)
        wg = dev->limits.maxComputeWorkGroupInvocations;
    if (wg > 64)
        wg = 64;
    while (wg > 8 && (wg * (wg + 1) + 24 * wg) * 4 > dev->limits.maxComputeSharedMemorySize)
        wg /= 2;
    return wg;
}

/* Fewer rows where a tuning asks for more than fit beside the merge block (see kv_workgroup). */
static void hold_rows(const plan_device *dev, split_kv_shape *s)
{
    while (s->rp_log2 > 0 &&
           ((uint64_t)s->wg * (s->wg + 1) + 3ull * (s->wg << s->rp_log2)) * 4 >
               dev->limits.maxComputeSharedMemorySize)
        s->rp_log2--;
}

/* Each invocation keeps RP * D / PARTS accumulators and as many query values: at most 512 of
 * each on CPU drivers (beyond, compiles take minutes), 256 there for element loads (their code
 * is larger), 128 on GPUs (registers). (Measured: tuning.c.) */
static uint32_t max_values(const plan_device *dev, const vkattn_problem *p)
{
    if (!is_cpu(dev))
        return 128;
    return p->head_dim % vkattn__elems_per_word(p->dtype) == 0 ? 512 : 256;
}

/* Rows and parts: the tuning's rows (else up to 4, as many as the KV head has), then parts
 * (invocations per key) forced by the desc or tuning, and both traded until the values fit
 * max_values. Without a forced parts count, GPUs share a key among invocations before they
 * give up rows. */
static void rows_and_parts(const plan_device *dev, const vkattn_problem *p,
                           const vkattn_tuning *tu, uint64_t per_kv, split_kv_shape *s)
{
    uint32_t max_parts = dev->info.subgroup_shuffle ? dev->info.min_subgroup_size : 1;
    if (max_parts > 8)
        max_parts = 8;
    if (max_parts > s->wg)
        max_parts = s->wg;
    if (tu->rows)
        while ((2u << s->rp_log2) <= tu->rows)
            s->rp_log2++;
    else
        s->rp_log2 = per_kv >= 4 ? 2 : per_kv >= 2 ? 1 : 0;
    hold_rows(dev, s);
    const uint32_t forced = dev->decode_parts ? dev->decode_parts : tu->parts;
    if (forced > 1 && forced <= max_parts && p->head_dim % forced == 0)
        while ((1u << s->parts_log2) < forced)
            s->parts_log2++;
    const uint32_t most = max_values(dev, p);
    while ((p->head_dim << s->rp_log2 >> s->parts_log2) > most) {
        if (!forced && (2u << s->parts_log2) <= max_parts &&
            p->head_dim % (2u << s->parts_log2) == 0)
            s->parts_log2++;
        else if (s->rp_log2 > 0)
            s->rp_log2--;
        else
            break;
    }
}

/* Row blocks per KV head of rp rows each: per query head (no packing) or per KV group. */
static uint32_t row_blocks(const vkattn_problem *p, uint32_t group, uint64_t per_kv, uint32_t rp)
{
    /* A packed batch's items each start a block afresh: up to B more per head (varlen_block). */
    const uint32_t extra = p->packed ? p->batch : 0;
    return p->no_gqa_packing ? group * ((p->seq_q + rp - 1) / rp + extra)
                             : (uint32_t)((per_kv + rp - 1) / rp + extra);
}

/* The key split: forced, or enough ranges of at least 256 keys (shorter ones cost more in the
 * merge than they save) for the tuning's target of workgroups in flight. A desc-forced split-KV
 * kernel splits prefill by the device's size too (for tests). */
static void key_split(const plan_device *dev, const vkattn_problem *p, const vkattn_tuning *tu,
                      uint64_t grid, split_kv_shape *s)
{
    uint32_t splits = p->kv_splits;
    uint64_t target = tu->split_target;
    if (dev->kernel == VKATTN_KERNEL_SPLIT_KV &&
        vkattn_tuning_class_of(p) != VKATTN_TUNING_DECODE)
        target = vkattn__tuning_resolved(dev, VKATTN_TUNING_DECODE, p->dtype, p->head_dim)
                     .split_target;
    if (splits == 0) {
        const uint64_t by_keys = (p->seq_kv + 255) / 256;
        uint64_t want = grid >= target ? 1 : (target + grid - 1) / grid;
        if (want > by_keys)
            want = by_keys;
        splits = want < 1 ? 1 : want > 256 ? 256 : (uint32_t)want;
    }
    uint32_t len = (p->seq_kv + splits - 1) / splits;
    len = (len + s->wg - 1) / s->wg * s->wg;
    s->split_len = len;
    s->splits = p->kv_splits ? splits : (p->seq_kv + len - 1) / len;
}

/* Whether the problem needs the optional per-score code (ATTN_FEAT_EXTRA): softcap, the custom
 * mask or ALiBi. PAGED alone, or everything: at most three pipelines per shape. */
static uint32_t kv_features(const vkattn_problem *p)
{
    const bool extra =
        p->softcap > 0 || p->mask_batch != 0 || p->alibi != VKATTN_ALIBI_NONE;
    return extra ? ATTN_FEAT_PAGED | ATTN_FEAT_EXTRA : p->page_size ? ATTN_FEAT_PAGED : 0u;
}

/* How K/V are read: 16-byte words when every Q, K and V row starts on one and D fills whole
 * words; texel views where the tuning wants them, the layout exists and the buffers allow. */
static void kv_loads(const plan_device *dev, const vkattn_problem *p, const vkattn_tuning *tu,
                     const plan_buffers *buf, split_kv_shape *s)
{
    const uint32_t epw = vkattn__elems_per_word(p->dtype);
    const uint64_t all = (uint64_t)(p->head_dim >> s->parts_log2) | buf->qkv_offs | p->k.b |
                         p->k.h | p->k.s | p->v.b | p->v.h | p->v.s | p->q.b | p->q.h | p->q.s;
    s->vec = all % epw == 0;
    /* Element loads take any compiled width: a few widths serve every head size (one pipeline
     * for 1..8, and D = 255 compiled as 256 in a tenth of the time). Word loads stay at the
     * head size (their rows are whole words already). */
    s->width = s->vec ? p->head_dim : (p->head_dim + 7) / 8 * 8;
    /* The texel modules exist for one invocation per key, exact scores and the subgroup merge
     * only (the CPU drivers' shape). */
    s->texel = tu->texel == 2 && dev->texel_layout && s->sg && buf->kv_texel &&
               vkattn__texel_fits(&dev->limits, p, s->parts_log2, buf->kv_skip, s->view_range);
}

/* On CPU drivers whose workgroup is one subgroup the invocations take that many KV heads, each
 * every key, instead of keys of one head: nothing to merge across invocations, a dead row block
 * (past q_lens) costs one workgroup per wg heads, and where the heads sit side by side within a
 * key (paged, BSHD) a fetch across the workgroup reads neighbouring rows. */
static bool kv_heads(const plan_device *dev, const vkattn_problem *p, const split_kv_shape *s)
{
    return is_cpu(dev) && s->sg && p->heads_kv >= s->wg;
}

/* For prefill on those drivers, where the register budget leaves an invocation fewer rows than
 * the workgroup has invocations (D above 64; at D64 HEADS keeps 8 rows and wins), the
 * invocations take query rows instead (ROWS): one row each, a whole subgroup of them per key,
 * each texel fetch serving all of them (shuffles hand its words on). Whole words through texel
 * views only. */
static bool kv_rows(const plan_device *dev, const vkattn_problem *p, const split_kv_shape *s,
                    uint64_t per_kv)
{
    return is_cpu(dev) && s->texel && s->vec && dev->info.subgroup_shuffle &&
           vkattn_tuning_class_of(p) != VKATTN_TUNING_DECODE && s->parts_log2 == 0 &&
           per_kv >= s->wg && (1u << s->rp_log2) < s->wg;
}

/* The split-KV kernel's shape from the tuning of the problem's class fitted to the device. */
static void plan_split_kv(const plan_device *dev, const vkattn_problem *p, const vkattn_tuning *tu,
                          const plan_buffers *buf, split_kv_shape *s)
{
    const uint32_t group = p->heads_q / p->heads_kv;
    const uint64_t per_kv = p->no_gqa_packing ? p->seq_q : (uint64_t)group * p->seq_q;
    s->wg = kv_workgroup(dev, tu);
    rows_and_parts(dev, p, tu, per_kv, s);
    /* Four keys per iteration on CPU drivers with one invocation per key, where each trip of the
     * accumulators through memory then serves every key; one there for element loads (their
     * unrolled code is what a cold compile pays for); two elsewhere (registers). */
    const bool words = p->head_dim % vkattn__elems_per_word(p->dtype) == 0;
    s->keys = !is_cpu(dev) ? 2 : !words ? 1 : s->parts_log2 == 0 ? 4 : 2;
    /* (The fast scores take f16 values as such: 16-bit storage only.) */
    s->fast = p->precision == VKATTN_PRECISION_FAST && p->dtype == VKATTN_DTYPE_F16 &&
              dev->float16 && dev->storage_16bit && tu->f16_scores == 2;
    /* A workgroup of exactly one subgroup (a fixed size) merges its invocations' partial rows
     * by subgroup reductions, without shared memory or barriers (one invocation per key and
     * exact scores only). */
    s->sg = dev->info.subgroup_reduce && s->wg == dev->info.min_subgroup_size &&
            s->wg == dev->info.max_subgroup_size && s->parts_log2 == 0 && !s->fast;
    s->heads = kv_heads(dev, p, s);
    s->kv_groups = s->heads ? (p->heads_kv + s->wg - 1) / s->wg : p->heads_kv;
    s->blocks = row_blocks(p, group, per_kv, 1u << s->rp_log2);
    /* The key split is sized on this grid even where ROWS runs below: it (and so the scratch
     * size the app is told before it has buffers) must not depend on the buffers. */
    key_split(dev, p, tu, (uint64_t)s->blocks * s->kv_groups * vkattn__tensor_batch(p), s);
    kv_loads(dev, p, tu, buf, s);
    s->feat = kv_features(p);
    s->rows = kv_rows(dev, p, s, per_kv);
    if (s->rows) {
        const uint32_t most = max_values(dev, p);
        s->heads = false;
        s->rp_log2 = 0;
        while ((2u << s->rp_log2) * s->wg <= (tu->rows ? tu->rows : 1u) &&
               (p->head_dim << (s->rp_log2 + 1)) <= most)
            s->rp_log2++;
        hold_rows(dev, s);
        s->kv_groups = p->heads_kv;
        s->blocks = row_blocks(p, group, per_kv, (1u << s->rp_log2) * s->wg);
    }
}

/* decode.comp's module: the compile-time form its options select. Modules that use shuffles or
 * subgroup reductions are only given to devices that have them (the planner asks for no other). */
static module_form split_kv_module(const split_kv_shape *s)
{
    const bool sh = s->parts_log2 > 0;
    return s->rows    ? FORM_DECODE_ROWS
           : s->texel ? FORM_DECODE_TEXEL
           : s->fast  ? (sh ? FORM_DECODE_SHUFFLE_FAST : FORM_DECODE_FAST)
           : s->sg    ? FORM_DECODE_SG
           : sh       ? FORM_DECODE_SHUFFLE
                      : FORM_DECODE;
}

static void key_set(pipeline_key *k, const vkattn__module *mod, const uint32_t *ids,
                    const uint32_t *values, uint32_t n)
{
    *k = (pipeline_key){.module = mod, .n = n};
    for (uint32_t i = 0; i < n; ++i) {
        k->ids[i] = ids[i];
        k->values[i] = values[i];
    }
}

pipeline_key vkattn__merge_key(const plan_device *dev, vkattn_dtype dtype)
{
    const module_store store = vkattn__module_store(dev, dtype);
    return (pipeline_key){.module = vkattn__module_of(FORM_MERGE, store)};
}

static void finish_split_kv(const plan_device *dev, const vkattn_problem *p,
                            vkattn__plan *out)
{
    const split_kv_shape *s = &out->kv;
    static const uint32_t ids[PLAN_MAX_SPEC] = {ATTN_SPEC_D,     ATTN_SPEC_RP,   ATTN_SPEC_WG,
                                                ATTN_SPEC_VEC,   ATTN_SPEC_PARTS, ATTN_SPEC_KEYS,
                                                ATTN_SPEC_FEAT,  ATTN_SPEC_HEADS};
    const uint32_t values[PLAN_MAX_SPEC] = {s->width, 1u << s->rp_log2, s->wg, s->vec,
                                            1u << s->parts_log2, s->keys, s->feat, s->heads};
    key_set(&out->pipeline, vkattn__module_of(split_kv_module(s), out->store), ids, values,
            PLAN_MAX_SPEC);
    out->pipeline.texel = s->texel;
    out->tiles = (attn_tiles){.br = s->rows ? (s->wg << s->rp_log2) : 1u << s->rp_log2,
                              .bc = s->split_len, .wg = s->wg};
    out->groups[0] = s->blocks * s->splits;
    out->groups[1] = s->kv_groups;
    out->groups[2] = vkattn__tensor_batch(p);
    out->merge = s->splits > 1;
    if (out->merge) {
        out->merge_pipeline = vkattn__merge_key(dev, p->dtype);
        out->scratch_bytes = (uint64_t)s->splits * vkattn__tensor_batch(p) * p->heads_q *
                             p->seq_q * (p->head_dim + 1) * sizeof(float);
    }
}

/* attention.comp's or the coopmat kernel's pipeline and grid. */
static void finish_tiled(const plan_device *dev, const vkattn_problem *p, vkattn__plan *out)
{
    if (out->form == VKATTN_KERNEL_COOPMAT) {
        static const uint32_t ids[5] = {ATTN_SPEC_D, ATTN_SPEC_BR, ATTN_SPEC_BC, ATTN_SPEC_WG,
                                        ATTN_SPEC_DP};
        const attn_tiles t = out->tiles;
        const uint32_t values[5] = {p->head_dim, t.br, t.bc, t.wg, t.dp};
        key_set(&out->pipeline,
                vkattn__coopmat_module(dev->info.coopmat_m, dev->info.coopmat_n,
                                       dev->info.coopmat_k),
                ids, values, 5);
        out->pipeline.subgroup = dev->coopmat_pin ? dev->info.subgroup_size : 0;
    } else {
        const uint32_t dv = vkattn__head_dim_v(p);
        const attn_tiles t = out->tiles = vkattn__choose_tiles(&dev->limits, out->form,
                                                               p->head_dim, dv);
        static const uint32_t ids[6] = {ATTN_SPEC_D,   ATTN_SPEC_BR, ATTN_SPEC_BC,
                                        ATTN_SPEC_TPR, ATTN_SPEC_WG, ATTN_SPEC_DV};
        const uint32_t values[6] = {p->head_dim, t.br, t.bc, t.tpr, t.br * t.tpr, dv};
        key_set(&out->pipeline, vkattn__module_of(FORM_ATTN, out->store), ids, values, 6);
    }
    /* Packed: each item's blocks start afresh, so up to B more (see varlen_block). */
    out->groups[0] = (p->seq_q + out->tiles.br - 1) / out->tiles.br + (p->packed ? p->batch : 0);
    out->groups[1] = p->heads_q;
    out->groups[2] = vkattn__tensor_batch(p);
}

void vkattn__plan_make(const plan_device *dev, const vkattn_problem *p, const plan_buffers *buf,
                       vkattn__plan *out)
{
    *out = (vkattn__plan){.store = vkattn__module_store(dev, p->dtype)};
    const vkattn_tuning_class cls = vkattn_tuning_class_of(p);
    const vkattn_tuning tu = vkattn__tuning_resolved(dev, cls, p->dtype, p->head_dim);
    out->form = choose_form(dev, p, &tu, &out->tiles, &out->reason);
    if (out->form == VKATTN_KERNEL_SPLIT_KV) {
        plan_split_kv(dev, p, &tu, buf, &out->kv);
        finish_split_kv(dev, p, out);
    } else {
        finish_tiled(dev, p, out);
    }
}
