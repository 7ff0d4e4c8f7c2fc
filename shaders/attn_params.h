/* The push-constant blocks of the attention kernels, shared by C (src/record.c) and GLSL so the two can
 * never disagree. Every field is 4 bytes, so std430 and C agree on offsets; each struct at most 128 bytes
 * (Vulkan guarantees 128). Offsets are in elements (bytes for the mask) past the bound range's
 * start, because descriptor offsets must be aligned and the caller's need not be. */
#ifndef VKATTN_ATTN_PARAMS_H
#define VKATTN_ATTN_PARAMS_H

#define ATTN_FLAG_CAUSAL      1u
#define ATTN_FLAG_TOP_LEFT    2u
#define ATTN_FLAG_WINDOW      4u
#define ATTN_FLAG_Q_LENS      8u
#define ATTN_FLAG_KV_LENS    16u
#define ATTN_FLAG_LSE        32u
#define ATTN_FLAG_MASK       64u
#define ATTN_FLAG_MASK_BCAST_B 128u /* custom mask has one batch item for all */
#define ATTN_FLAG_MASK_BCAST_H 256u /* custom mask has one head for all */
#define ATTN_FLAG_SOFTCAP   512u
#define ATTN_FLAG_PAGED    1024u /* K/V rows found through the page table */
#define ATTN_FLAG_PACK     2048u /* decode: a workgroup's rows span the heads of a KV group */
#define ATTN_FLAG_DIRECT   4096u /* decode: one split, O and LSE written directly (no merge) */
/* Packed batches (SPEC 2.1): the q_start / kv_start bindings hold cu_seqlens_q / _kv (B + 1
 * values each), qlens_off holds B (packed problems have no q_lens), the tensors have no batch
 * dimension (batch strides 0, grid z = 1), and the row blocks are laid out item by item (see
 * varlen_block in attn_common.glsl): a workgroup writes only rows of its own item. */
#define ATTN_FLAG_VARLEN   8192u
/* ATTN_FLAG_PAGED: the page size (at most 1024) is (flags >> ATTN_PAGE_SHIFT) & ATTN_PAGE_MASK. */
#define ATTN_PAGE_SHIFT      16u
#define ATTN_PAGE_MASK    0x7ffu
/* decode: the pipeline's D less the problem's head size (0..7; see decode.comp) is
 * flags >> ATTN_PAD_SHIFT. */
#define ATTN_PAD_SHIFT       27u
/* The aux word of the common fields: one byte per small array (q_start, kv_start, sinks, alibi,
 * from the low byte up): ATTN_AUX_ON when bound, ATTN_AUX_BATCH for slopes per batch item
 * ([B, Hq], alibi only), and the array's element offset past its bound start in the low six
 * bits (below 64: the bound start is the caller's offset rounded down to
 * minStorageBufferOffsetAlignment, which is at most 256 bytes). */
#define ATTN_AUX_QSTART   0u
#define ATTN_AUX_KVSTART  8u
#define ATTN_AUX_SINKS   16u
#define ATTN_AUX_ALIBI   24u
#define ATTN_AUX_ON    0x80u
#define ATTN_AUX_BATCH 0x40u
#define ATTN_AUX_OFF_MASK 0x3fu
#define MERGE_FLAG_LSE        1u /* merge: write LSE */
#define MERGE_FLAG_SPLITS     2u /* merge: the parts are the decode kernel's scratch */

/* Specialization constant ids. */
#define ATTN_SPEC_D   0
#define ATTN_SPEC_BR  1 /* query rows per workgroup */
#define ATTN_SPEC_BC  2 /* keys per K/V tile */
#define ATTN_SPEC_TPR 3 /* invocations per query row */
#define ATTN_SPEC_WG  4 /* workgroup size = BR * TPR */
#define ATTN_SPEC_RP  5 /* decode: query rows per workgroup */
#define ATTN_SPEC_VEC 6 /* decode: K/V rows read as 16-byte words */
#define ATTN_SPEC_PARTS 7 /* decode: invocations per key (each with D / PARTS dimensions) */
#define ATTN_SPEC_KEYS 8 /* decode: keys per invocation and iteration */
#define ATTN_SPEC_FEAT 9 /* decode: the optional code in the pipeline, ATTN_FEAT_* bits */
#define ATTN_FEAT_PAGED 1u /* the page table walk */
#define ATTN_FEAT_EXTRA 2u /* per-score extras: softcap, the custom mask, ALiBi */
#define ATTN_SPEC_HEADS 10 /* decode: invocations take KV heads, not keys */
#define ATTN_SPEC_DP 11   /* coopmat: D padded to a multiple of N and K */
#define ATTN_SPEC_DV 12   /* attention.comp: Dv, the head size of V and O */

/* Descriptor bindings. */
#define ATTN_BIND_Q 0
#define ATTN_BIND_K 1
#define ATTN_BIND_V 2
#define ATTN_BIND_O 3
#define ATTN_BIND_LSE 4
#define ATTN_BIND_QLENS 5
#define ATTN_BIND_KVLENS 6
#define ATTN_BIND_MASK 7
#define ATTN_BIND_PAGES 8    /* decode: u32 page table [B, pages_per_seq] */
#define ATTN_BIND_SCRATCH 9  /* decode writes, merge reads: f32 partial O and LSE */
#define ATTN_BIND_QSTART 10  /* u32 [B] start offsets (left padding) */
#define ATTN_BIND_KVSTART 11
#define ATTN_BIND_SINKS 12   /* f32 [Hq] attention sinks */
#define ATTN_BIND_ALIBI 13   /* f32 [Hq] or [B, Hq] ALiBi slopes */
#define ATTN_BIND_COUNT 14
/* merge.comp reuses the set: parts A, B at Q, K; their LSEs at QLENS, KVLENS. */
#define MERGE_BIND_A ATTN_BIND_Q
#define MERGE_BIND_B ATTN_BIND_K
#define MERGE_BIND_LA ATTN_BIND_QLENS
#define MERGE_BIND_LB ATTN_BIND_KVLENS

#if defined(VULKAN) || defined(GL_core_profile)
#define ATTN_U32 uint
#define ATTN_I32 int
#define ATTN_F32 float
#define PC_HQ (pc.heads & 0xffffu)
#define PC_GROUP (pc.heads >> 16u)
#define ATTN_PARAMS_BEGIN layout(push_constant) uniform attn_params {
#define ATTN_PARAMS_END } pc;
#define ATTN_PARAMS_BEGIN_NAMED(n) layout(push_constant) uniform n {
#define ATTN_PARAMS_END_NAMED(n) } pc;
#else
#include <stdint.h>
#define ATTN_U32 uint32_t
#define ATTN_I32 int32_t
#define ATTN_F32 float
#define ATTN_PARAMS_BEGIN typedef struct attn_params {
#define ATTN_PARAMS_END } attn_params;
#define ATTN_PARAMS_BEGIN_NAMED(n) typedef struct n {
#define ATTN_PARAMS_END_NAMED(n) } n;
#endif

/* The fields every kernel of the attention set reads, in one place so that the C filler in
 * src/record.c serves both layouts. */
#define ATTN_COMMON_FIELDS                                                                        \
    ATTN_U32 heads, Sq, Skv;                /* Hq | (Hq / Hkv) << 16: PC_HQ, PC_GROUP */         \
    ATTN_U32 q_sb, q_sh, q_ss;              /* element strides of batch, head, row */            \
    ATTN_U32 k_sb, k_sh, k_ss;              /* paged: k_sb is the page stride */                 \
    ATTN_U32 v_sb, v_sh, v_ss;                                                                   \
    ATTN_U32 q_off, k_off, v_off, lse_off, qlens_off, kvlens_off, mask_off;                      \
    ATTN_U32 flags;                                                                              \
    ATTN_I32 wl, wr;                        /* window sides, -1 = unbounded */                   \
    ATTN_F32 q_scale;                       /* scale * log2(e), or scale when softcapping */     \
    ATTN_F32 softcap;                       /* softcap (natural units), 0 = off */               \
    ATTN_U32 aux;                           /* the small arrays: ATTN_AUX_* */

#if !defined(ATTN_DECODE) && !defined(ATTN_MERGE)
/* attention.comp */
ATTN_PARAMS_BEGIN
    ATTN_COMMON_FIELDS
    ATTN_U32 o_sb, o_sh, o_ss, o_off;
    ATTN_U32 pages_per_seq, num_pages, pages_off; /* ATTN_FLAG_PAGED, as decode.comp's */
ATTN_PARAMS_END
#endif

#if defined(ATTN_DECODE) || !defined(VULKAN)
/* decode.comp: partial results of split s for row (b, h, i) go to scratch, O at
 * scratch_off + (s * rows + (b * Hq + h) * Sq + i) * D, LSE (natural log) after all the O parts
 * at scratch_off + n_splits * rows * D + s * rows + row, where rows = B * Hq * Sq.
 * With ATTN_FLAG_DIRECT (one split) the kernel writes O and LSE itself, and the split fields hold
 * O's layout: n_splits, split_len, scratch_off = o_sb, o_sh, o_off (o_ss has its own field). */
ATTN_PARAMS_BEGIN_NAMED(decode_params)
    ATTN_COMMON_FIELDS
    ATTN_U32 pages_per_seq, num_pages, pages_off; /* paged KV: table row, pool size, table offset */
    ATTN_U32 n_splits, split_len, scratch_off; /* keys per split: a multiple of the workgroup size */
    ATTN_U32 o_ss;                          /* ATTN_FLAG_DIRECT: O's row stride */
ATTN_PARAMS_END_NAMED(decode_params)
#endif

#if defined(ATTN_MERGE) || !defined(VULKAN)
/* merge.comp: O/LSE of row (b, h, i) from n parts, either the decode kernel's scratch
 * (MERGE_FLAG_SPLITS) or two tensors A, B with out's strides and LSE_A, LSE_B dense. */
ATTN_PARAMS_BEGIN_NAMED(merge_params)
    ATTN_U32 Hq, Sq, D, rows, n_parts;
    ATTN_U32 o_sb, o_sh, o_ss;
    ATTN_U32 a_off, b_off, la_off, lb_off, scratch_off, o_off, lse_off;
    ATTN_U32 flags;
ATTN_PARAMS_END_NAMED(merge_params)
#endif
#endif
