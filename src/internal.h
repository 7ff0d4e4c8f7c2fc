/* The context and the helpers the library's files share. Not installed. */
#ifndef VKATTN_INTERNAL_H
#define VKATTN_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>

#include "shaders/attn_params.h"
#include "vk_table.h"
#include "vkattn/vkattn.h"

#define CTX_MESSAGE_SIZE 512

/* Tile shape of one attention pipeline (see pipeline.c for how it is chosen). */
typedef struct attn_tiles {
    uint32_t br, bc, tpr; /* query rows, keys per tile, invocations per row */
    uint32_t wg, dp;      /* coopmat: invocations per workgroup, D padded to the matrix shape */
} attn_tiles;

/* How vkattn_cmd_attention runs one problem on one context (record.c, pipeline.c). */
typedef struct decode_plan {
    bool use;             /* the split-KV kernel runs (else attention.comp or the coopmat one) */
    vkattn_kernel kernel; /* the form when !use: ROWWISE or SPLIT (attention.comp) or COOPMAT
                             (attention_coopmat.comp) */
    attn_tiles tiles;     /* COOPMAT: its tiles */
    uint32_t rp_log2;     /* query rows each invocation holds (RP) = 1 << rp_log2 */
    bool vec;             /* K/V rows read as 16-byte words (set by the recorder: alignment) */
    uint32_t width;       /* the head size the pipeline is compiled for (set with vec): head_dim
                             with vec, else head_dim rounded up to a multiple of 8 (decode.comp
                             reads the dimensions past head_dim as 0) */
    bool texel;           /* K/V through texel views (the tuning's wish; the recorder clears it
                             unless both buffers have VKATTN_BUFFER_TEXEL and vec holds) */
    bool fast;            /* f16 scores (VKATTN_PRECISION_FAST where it applies) */
    bool sg;              /* the workgroup is one subgroup, merged by subgroup reductions
                             (decode.comp's VKATTN_SG_MERGE modules; the texel ones always) */
    uint32_t keys;        /* keys per invocation and iteration: 2 or 4 */
    uint32_t feat;        /* optional code in the pipeline, ATTN_FEAT_* bits (set by the
                             recorder from its flags) */
    bool heads;           /* the invocations take KV heads, not keys (decode.comp's HEADS) */
    bool rows;            /* the invocations take query rows and share each key (decode.comp's
                             VKATTN_ROWS modules; texel views and vec only) */
    uint32_t kv_groups;   /* workgroups along the KV heads: Hkv, or Hkv / wg rounded up */
    uint32_t parts_log2;  /* invocations per key = 1 << parts_log2 (each D >> parts_log2 dims) */
    uint32_t wg;          /* invocations per workgroup */
    uint32_t blocks;      /* row blocks per KV head */
    uint32_t splits, split_len;
    bool direct;          /* one split: O and LSE written without a merge */
    uint64_t scratch_bytes; /* 0 when direct */
} decode_plan;

typedef struct attn_pipeline {
    VkPipeline pipeline; /* VK_NULL_HANDLE until first use */
    attn_tiles tiles;
    const char *module;  /* its SPIR-V module's name (src/modules.h) */
} attn_pipeline;

/* attention.comp's split form for wide head sizes (D above 256, or Dv != D): too many (D, Dv)
 * pairs for a table of slots, so a list whose nodes never move (callers keep pointers). */
typedef struct wide_pipeline {
    struct wide_pipeline *next;
    uint32_t dtype, d, dv;
    attn_pipeline p;
} wide_pipeline;

/* A split-KV pipeline and its module and specialization (dtype, head size, rows, vec, parts,
 * workgroup, fast, texel, keys, subgroup merge, features, heads, rows form), packed into one key
 * (decode_key): tunings make too many combinations for a table of slots. */
typedef struct decode_pipeline {
    uint32_t key;
    VkPipeline pipeline;
    const char *module;
} decode_pipeline;

/* The tunings set on a context, [class][dtype][head_dim - 1] (all zero = built-in). */
typedef vkattn_tuning tuning_table[2][2][256];

/* Host-visible memory for the convenience call, reused between calls and grown on demand. */
typedef struct host_arena {
    VkBuffer buffer;
    VkDeviceMemory memory;
    VkDeviceSize size;
    void *mapped;
    bool coherent;
} host_arena;

/* A descriptor set of the no-push-descriptor path and the buffers it binds. */
typedef struct desc_entry {
    VkBuffer buffers[ATTN_BIND_COUNT];
    VkDeviceSize offsets[ATTN_BIND_COUNT]; /* 0 but for the aux arrays (record.c, bind_aux) */
    VkDescriptorSet set;
    VkDescriptorPool pool;      /* the pool it came from */
} desc_entry;

/* Texel views of K/V made so far (descriptors.c), kept until the buffer is released. */
typedef struct view_entry {
    VkBuffer buffer;
    VkDeviceSize offset, range;
    VkBufferView view;
} view_entry;

typedef struct view_cache {
    view_entry *entries;
    uint32_t count, cap;
} view_cache;

/* The texel format of K/V views: 16 bytes, 4 f32 or 8 f16 elements. */
#define TEXEL_FORMAT VK_FORMAT_R32G32B32A32_UINT

typedef struct desc_cache {
    VkDescriptorPool *pools;
    uint32_t npools, left_in_pool;
    desc_entry *entries;
    uint32_t count, cap;
} desc_cache;

struct vkattn_context_T {
    bool cpu;           /* no Vulkan: the CPU reference runs everything */
    bool owns_instance, owns_device;
    vk_table vk;
    VkInstance instance;
    VkPhysicalDevice physical_device;
    VkDevice device;
    uint32_t queue_family;
    VkQueue queue;
    const VkAllocationCallbacks *alloc;
    VkDebugUtilsMessengerEXT messenger;
    vkattn_message_fn on_message;
    void *user;

    vkattn_kernel kernel; /* as asked for in the desc (AUTO resolved per pipeline) */
    uint32_t decode_parts; /* as asked for in the desc (0 = automatic) */
    vkattn_device_info info;
    VkPhysicalDeviceLimits limits;
    VkPhysicalDeviceMemoryProperties mem_props;

    bool push_descriptors;      /* VK_KHR_push_descriptor enabled; else desc below */
    bool storage_16bit;         /* storageBuffer16BitAccess enabled: f16 can run */
    bool float16;               /* shaderFloat16 enabled: precision FAST can use f16 math */
    bool coopmat;               /* the coopmat kernel can run (build, device, features) */
    bool coopmat_pin;           /* its pipelines pin the subgroup size (size control enabled) */
    uint32_t coopmat_max_subgroups; /* maxComputeWorkgroupSubgroups, where pinned */
    uint32_t instance_version;  /* the API version of an instance vkattn made (else 0) */
    desc_cache desc;            /* guarded by lock */
    VkDescriptorSetLayout set_layout;
    VkPipelineLayout pipeline_layout;
    /* K and V as uniform texel buffers (split-KV kernel); VK_NULL_HANDLE where the device
     * lacks push descriptors or the format. */
    VkDescriptorSetLayout set_layout_texel;
    VkPipelineLayout pipeline_layout_texel;
    view_cache views;           /* guarded by lock */
    VkPipelineCache pipeline_cache;
    bool owns_pipeline_cache;
    pthread_mutex_t lock;       /* guards pipelines[] (created on first use) and desc */
    pthread_mutex_t msg_lock;   /* guards message; taken inside lock by failing creations */
    attn_pipeline pipelines[3][256][3]; /* [dtype][head_dim - 1][rowwise, split, coopmat] */
    wide_pipeline *wide;             /* the wide head sizes' (guarded by lock) */
    uint32_t max_shared_memory;      /* the desc's (0: the device's) */
    decode_pipeline *decode;         /* made so far, in order of first use */
    uint32_t n_decode, cap_decode;
    tuning_table tuning;             /* vkattn_tuning_set/load */
    VkPipeline merge[3];             /* [dtype] */
    const char *merge_module[3];     /* their modules' names */

    /* Convenience call (vkattn_attention) state, created on first use. */
    VkCommandPool pool;
    VkCommandBuffer cmd;
    VkFence fence;
    host_arena arena;

    char message[CTX_MESSAGE_SIZE];
};

/* Records a message naming the problem on ctx and returns code (for `return vkattn__ctx_fail(...)`). */
vkattn_result vkattn__ctx_fail(vkattn_context ctx, vkattn_result code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Maps a VkResult to a vkattn_result, recording what failed. */
vkattn_result vkattn__ctx_vk_fail(vkattn_context ctx, VkResult vr, const char *what);
const char *vkattn__vk_result_name(VkResult vr);

/* pipeline.c: the pipeline for (dtype, head_dim, head_dim_v), created on first use (wide head
 * sizes, see vkattn__wide_heads: the split form whatever kernel says). Thread-safe. */
vkattn_result vkattn__pipeline_get(vkattn_context ctx, vkattn_dtype dtype, uint32_t head_dim,
                                   uint32_t head_dim_v,
                                   vkattn_kernel kernel, const attn_pipeline **out);
/* attention.comp's tiles (rowwise or split form) for head sizes d and dv within the limits'
 * shared memory (every array the shader declares counted). */
attn_tiles vkattn__choose_tiles(const VkPhysicalDeviceLimits *lim, vkattn_kernel kernel,
                                uint32_t d, uint32_t dv);
/* The coopmat kernel's tiles for head_dim on this context; false where it cannot run or its
 * tiles do not fit shared memory. */
bool vkattn__coopmat_tiles(vkattn_context ctx, uint32_t head_dim, attn_tiles *out);
/* attention.comp's form (ROWWISE or SPLIT) for (dtype, head_dim) on this context. */
vkattn_kernel vkattn__attn_kernel(vkattn_context ctx, vkattn_dtype dtype, uint32_t head_dim);
vkattn_result vkattn__pipeline_layout_create(vkattn_context ctx);
/* The split-KV plan for a resolved, checked problem (pure: depends on shape and device only).
 * allow_rows false: without decode.comp's ROWS form (for buffers that cannot take texel views,
 * which the recorder finds out only afterwards). */
decode_plan vkattn__decode_plan(vkattn_context ctx, const vkattn_problem *p, bool allow_rows);
/* Elements of dtype per 16-byte word (decode.comp's word loads and texel views). */
static inline uint32_t vkattn__elems_per_word(vkattn_dtype dtype)
{
    return dtype == VKATTN_DTYPE_F16 ? 8 : 4;
}
/* Texel views of K and V are widened to a multiple of this many bytes where the bound range
 * allows. lavapipe (Mesa 22.3's llvmpipe) keys a shader's compiled code on bits 8 to 15 of
 * each bound view's size (a buffer view's size aliases a texture view's last mip level there):
 * views of arbitrary sizes would compile each pipeline again for about every other problem. */
#define VKATTN__VIEW_QUANTUM ((VkDeviceSize)1 << 16)
/* The split-KV pipeline of a finished plan (its width, not the problem's head size, is D). */
vkattn_result vkattn__decode_pipeline_get(vkattn_context ctx, vkattn_dtype dtype,
                                          const decode_plan *plan, VkPipeline *out);
vkattn_result vkattn__merge_pipeline_get(vkattn_context ctx, vkattn_dtype dtype, VkPipeline *out);
void vkattn__pipelines_destroy(vkattn_context ctx);

/* tuning.c: the tuning that applies to (cls, dtype, head_dim): the set one over the built-in
 * table's row for this device, every field resolved except rows (0 = by the problem's shape)
 * and parts (0 = grow on demand). */
vkattn_tuning vkattn__tuning_resolved(vkattn_context ctx, vkattn_tuning_class cls,
                                      vkattn_dtype dtype, uint32_t head_dim);

/* descriptors.c: the set binding these buffers (whole buffers), made on first use. */
vkattn_result vkattn__descriptor_set_get(vkattn_context ctx, const VkDescriptorBufferInfo *infos,
                                 VkDescriptorSet *out);
void vkattn__descriptors_destroy(vkattn_context ctx);
/* descriptors.c: the uniform texel view (TEXEL_FORMAT) of buffer's [offset, offset + range),
 * made on first use and kept until vkattn_release_buffer(buffer) or the context's end. */
vkattn_result vkattn__texel_view_get(vkattn_context ctx, VkBuffer buffer, VkDeviceSize offset,
                                     VkDeviceSize range, VkBufferView *out);

/* device_info.c: fills info from a physical device. */
void vkattn__device_info_fill(const vk_table *vk, VkPhysicalDevice pd, vkattn_device_info *info);
/* device_info.c: the device's cooperative-matrix shapes (*out malloc'ed, NULL when none), and
 * the index of the one the coopmat kernel uses (UINT32_MAX: none fits). */
vkattn_result vkattn__coopmat_query(const vk_table *vk, VkPhysicalDevice pd,
                                    VkCooperativeMatrixPropertiesKHR **out, uint32_t *n);
uint32_t vkattn__coopmat_pick(const VkCooperativeMatrixPropertiesKHR *props, uint32_t n);
/* convenience.c: frees the convenience call's objects. */
void vkattn__convenience_destroy(vkattn_context ctx);
void vkattn__convenience_destroy_submit(vkattn_context ctx);

#endif
