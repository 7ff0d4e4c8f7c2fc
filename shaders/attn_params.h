/* The push-constant block of attention.comp, shared by C (src/record.c) and GLSL so the two can
 * never disagree. Every field is 4 bytes, so std430 and C agree on offsets; 116 bytes in all
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

/* Specialization constant ids. */
#define ATTN_SPEC_D   0
#define ATTN_SPEC_BR  1 /* query rows per workgroup */
#define ATTN_SPEC_BC  2 /* keys per K/V tile */
#define ATTN_SPEC_TPR 3 /* invocations per query row */
#define ATTN_SPEC_WG  4 /* workgroup size = BR * TPR */

/* Descriptor bindings. */
#define ATTN_BIND_Q 0
#define ATTN_BIND_K 1
#define ATTN_BIND_V 2
#define ATTN_BIND_O 3
#define ATTN_BIND_LSE 4
#define ATTN_BIND_QLENS 5
#define ATTN_BIND_KVLENS 6
#define ATTN_BIND_MASK 7
#define ATTN_BIND_COUNT 8

#if defined(VULKAN) || defined(GL_core_profile)
#define ATTN_U32 uint
#define ATTN_I32 int
#define ATTN_F32 float
#define ATTN_PARAMS_BEGIN layout(push_constant) uniform attn_params {
#define ATTN_PARAMS_END } pc;
#else
#include <stdint.h>
#define ATTN_U32 uint32_t
#define ATTN_I32 int32_t
#define ATTN_F32 float
#define ATTN_PARAMS_BEGIN typedef struct attn_params {
#define ATTN_PARAMS_END } attn_params;
#endif

ATTN_PARAMS_BEGIN
    ATTN_U32 Hq, group, Sq, Skv;            /* group = Hq / Hkv */
    ATTN_U32 q_sb, q_sh, q_ss;              /* element strides of batch, head, row */
    ATTN_U32 k_sb, k_sh, k_ss;
    ATTN_U32 v_sb, v_sh, v_ss;
    ATTN_U32 o_sb, o_sh, o_ss;
    ATTN_U32 q_off, k_off, v_off, o_off, lse_off, qlens_off, kvlens_off, mask_off;
    ATTN_U32 flags;
    ATTN_I32 wl, wr;                        /* window sides, -1 = unbounded */
    ATTN_F32 q_scale;                       /* scale * log2(e), or scale when softcapping */
    ATTN_F32 softcap;                       /* softcap (natural units), 0 = off */
ATTN_PARAMS_END

#endif
