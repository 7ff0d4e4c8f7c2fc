/* The planner (plan.c): which kernel runs a problem on a device, and how. It is decided once,
 * before any Vulkan object is made, from three inputs: what the device can do and how it is
 * tuned (plan_device), the resolved and checked problem, and facts about the call's buffers
 * (plan_buffers). The recorder follows the plan and decides nothing of its own. */
#ifndef VKATTN_PLAN_H
#define VKATTN_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "modules.h"
#include "vkattn/vkattn.h"

/* The most specialization constants a kernel has (the split-KV kernel's). */
enum { PLAN_MAX_SPEC = 8 };

/* Tile shape of one attention.comp or coopmat pipeline. */
typedef struct attn_tiles {
    uint32_t br, bc, tpr; /* query rows, keys per tile, invocations per row */
    uint32_t wg, dp;      /* coopmat: invocations per workgroup, D padded to the matrix shape */
} attn_tiles;

/* The tunings set on a context, [class][dtype][head_dim - 1] (all zero = built-in). */
typedef vkattn_tuning tuning_table[2][2][256];

/* What the planner knows of a device: filled once when the context is made. */
typedef struct plan_device {
    vkattn_device_info info;
    VkPhysicalDeviceLimits limits; /* shared memory held to the desc's max_shared_memory */
    bool storage_16bit;            /* f16 read as such (else as 32-bit words) */
    bool float16;                  /* f16 arithmetic (precision FAST) */
    bool coopmat;                  /* the coopmat kernel can run (build, device, features) */
    bool coopmat_pin;              /* its pipelines pin the subgroup size */
    uint32_t coopmat_max_subgroups;
    bool texel_layout;             /* K/V can be bound as texel views (push descriptors, format) */
    vkattn_kernel kernel;          /* the desc's (AUTO: the tuning's) */
    uint32_t decode_parts;         /* the desc's (0: the tuning's) */
    const tuning_table *tuning;    /* the context's set tunings (NULL: none) */
} plan_device;

/* Facts about a call's buffers that decide a form. */
typedef struct plan_buffers {
    uint64_t qkv_offs;   /* element offsets of the bound Q, K and V, ORed together */
    bool kv_texel;       /* K and V both have VKATTN_BUFFER_TEXEL */
    uint64_t kv_skip[2]; /* bytes K and V start past an offset aligned for texel views */
} plan_buffers;

/* A pipeline: its module and specialization. Equal keys are one pipeline. */
typedef struct pipeline_key {
    const vkattn__module *module;
    uint32_t n;                      /* specialization constants */
    uint32_t ids[PLAN_MAX_SPEC], values[PLAN_MAX_SPEC];
    bool texel;                      /* the layout with K/V as texel views */
    uint32_t subgroup;               /* pinned subgroup size (full subgroups); 0: the driver's */
} pipeline_key;

/* The split-KV kernel's shape (decode.comp; see its top). */
typedef struct split_kv_shape {
    uint32_t wg;          /* invocations per workgroup */
    uint32_t rp_log2;     /* query rows each invocation holds (RP) = 1 << rp_log2 */
    uint32_t parts_log2;  /* invocations per key = 1 << parts_log2 (each D >> parts_log2 dims) */
    uint32_t keys;        /* keys per invocation and iteration: 2 or 4 */
    bool vec;             /* K/V rows read as 16-byte words */
    uint32_t width;       /* the head size compiled for: head_dim with vec, else rounded up to
                             a multiple of 8 (decode.comp reads the dimensions past it as 0) */
    bool texel;           /* K/V through texel views */
    uint64_t view_range[2]; /* with texel: the bytes K's and V's views cover, from the aligned
                               offset below their starts (vkattn__texel_fits) */
    bool fast;            /* f16 scores (precision FAST where it applies) */
    bool sg;              /* the workgroup is one subgroup, merged by subgroup reductions */
    uint32_t feat;        /* optional code in the pipeline, ATTN_FEAT_* bits */
    bool heads;           /* the invocations take KV heads, not keys (HEADS) */
    bool rows;            /* the invocations take query rows and share each key (ROWS) */
    uint32_t kv_groups;   /* workgroups along the KV heads: Hkv, or Hkv / wg rounded up */
    uint32_t blocks;      /* row blocks per KV head */
    uint32_t splits, split_len; /* key ranges and keys per range (a multiple of wg) */
} split_kv_shape;

/* How vkattn_cmd_attention runs one problem: complete and immutable once made. */
typedef struct vkattn__plan {
    vkattn_kernel form;   /* ROWWISE or TILED (attention.comp), COOPMAT, SPLIT_KV (decode.comp) */
    const char *reason;   /* why this form, in one line */
    module_store store;   /* how the tensors' elements are read */
    attn_tiles tiles;     /* ROWWISE, TILED, COOPMAT */
    split_kv_shape kv;    /* SPLIT_KV */
    pipeline_key pipeline;
    bool merge;           /* SPLIT_KV with more than one range: merge.comp runs after it */
    pipeline_key merge_pipeline;
    uint32_t groups[3];   /* the kernel's dispatch */
    uint64_t scratch_bytes; /* 0 without a merge */
} vkattn__plan;

/* merge.comp's pipeline for dtype on dev (the split-KV kernel's merge, and vkattn_cmd_merge). */
pipeline_key vkattn__merge_key(const plan_device *dev, vkattn_dtype dtype);
/* The plan for p (resolved and checked) on dev with buffers buf; never fails. */
void vkattn__plan_make(const plan_device *dev, const vkattn_problem *p, const plan_buffers *buf,
                       vkattn__plan *out);
/* The facts of a call whose tensors start on 16 bytes with K/V flags kv_flags (what
 * vkattn_prepare and the plan query assume). */
plan_buffers vkattn__plan_buffers_aligned(uint32_t kv_flags);
/* How the modules read dtype's elements: f16 as 32-bit words where 16-bit storage is off. */
module_store vkattn__module_store(const plan_device *dev, vkattn_dtype dtype);
/* Whether texel views of K and V can serve p, their rows read in words, each K/V row of
 * head_dim >> parts_log2 elements, the bound ranges starting skip[i] bytes past an aligned
 * offset: rows on 16 bytes from there, whole texels, at most maxTexelBufferElements (range out,
 * bytes). */
bool vkattn__texel_fits(const VkPhysicalDeviceLimits *lim, const vkattn_problem *p,
                        uint32_t parts_log2, const uint64_t *skip, uint64_t *range);
/* attention.comp's tiles (ROWWISE or TILED) for head sizes d and dv within the limits' shared
 * memory (every array the shader declares counted). */
attn_tiles vkattn__choose_tiles(const VkPhysicalDeviceLimits *lim, vkattn_kernel form, uint32_t d,
                                uint32_t dv);
/* The coopmat kernel's tiles for head_dim; false where it cannot run or they do not fit. */
bool vkattn__coopmat_tiles(const plan_device *dev, uint32_t head_dim, attn_tiles *out);
/* The tuning that applies to (cls, dtype, head_dim) on dev (tuning.c): the set one over the
 * built-in table's row, every field resolved except rows (0 = by the problem's shape) and
 * parts (0 = grow on demand). */
vkattn_tuning vkattn__tuning_resolved(const plan_device *dev, vkattn_tuning_class cls,
                                      vkattn_dtype dtype, uint32_t head_dim);
/* Elements of dtype per 16-byte word (decode.comp's word loads and texel views). */
static inline uint32_t vkattn__elems_per_word(vkattn_dtype dtype)
{
    return dtype == VKATTN_DTYPE_F16 ? 8 : 4;
}

#endif
