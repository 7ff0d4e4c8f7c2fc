/* The context and the helpers the library's files share. Not installed. */
#ifndef VKATTN_INTERNAL_H
#define VKATTN_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>

#include "plan.h"
#include "shaders/attn_params.h"
#include "vk_table.h"
#include "vkattn/vkattn.h"

#define CTX_MESSAGE_SIZE 512

/* A pipeline made, under its key (pipeline.c). */
typedef struct pipeline_entry {
    pipeline_key key;
    VkPipeline pipeline;
} pipeline_entry;

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
    pthread_mutex_t lock;       /* guards pipelines (created on first use), desc and views */
    pthread_mutex_t msg_lock;   /* guards message; taken inside lock by failing creations */
    pipeline_entry *pipelines;       /* made so far, in order (guarded by lock) */
    uint32_t n_pipelines, cap_pipelines;
    uint32_t max_shared_memory;      /* the desc's (0: the device's) */
    tuning_table tuning;             /* vkattn_tuning_set/load */
    plan_device dev;                 /* what the planner knows of the device (set once made) */

    /* The convenience call's state (convenience.c), made on its first use; it frees it through
     * the hook, so the core context knows nothing of it. */
    struct convenience_state *conv;
    void (*conv_destroy)(vkattn_context ctx);

    char message[CTX_MESSAGE_SIZE];
};

/* Records a message naming the problem on ctx and returns code (for `return vkattn__ctx_fail(...)`). */
vkattn_result vkattn__ctx_fail(vkattn_context ctx, vkattn_result code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Maps a VkResult to a vkattn_result, recording what failed. */
vkattn_result vkattn__ctx_vk_fail(vkattn_context ctx, VkResult vr, const char *what);

/* pipeline.c: the pipeline of key, created on first use. Thread-safe. */
vkattn_result vkattn__pipeline_of(vkattn_context ctx, const pipeline_key *key, VkPipeline *out);
vkattn_result vkattn__pipeline_layout_create(vkattn_context ctx);
void vkattn__pipelines_destroy(vkattn_context ctx);
/* Texel views of K and V are widened to a multiple of this many bytes where the bound range
 * allows. lavapipe (Mesa 22.3's llvmpipe) keys a shader's compiled code on bits 8 to 15 of
 * each bound view's size (a buffer view's size aliases a texture view's last mip level there):
 * views of arbitrary sizes would compile each pipeline again for about every other problem. */
#define VKATTN__VIEW_QUANTUM ((VkDeviceSize)1 << 16)
/* context.c: fills ctx->dev once the device is made. */
void vkattn__plan_device_fill(vkattn_context ctx);

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

#endif
