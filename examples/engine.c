/* engine: vkattn embedded in an application that owns its Vulkan device, as a game or inference
 * engine would use it. Uses only <vkattn/vkattn.h> and plain Vulkan (linked to the loader).
 *
 * The program creates its own instance (with the validation layer when installed, and fails on any
 * warning or error it reports), device, buffers and compute pipeline, and records vkattn's
 * attention into its own command buffers between its own dispatches:
 *   1. one command buffer: generate Q/K/V -> attention -> consume O -> host; one submit;
 *   2. two command buffers recorded before either is submitted, submitted together;
 *   3. four threads recording on one vkattn context, each into its own command buffer, with the
 *      first use of several head sizes happening concurrently.
 * Every result is checked against vkattn_reference() on inputs the host computes bit for bit.
 *
 * Usage: engine [--no-push-descriptors]
 * Exit: 0 all checks passed and the validation layer stayed silent; 1 otherwise; 77 no usable
 * Vulkan device (or vkattn does not support the device as created), so that meson reports SKIP.
 *
 * Build: glslc --target-env=vulkan1.1 -mfmt=c -o prepare.spv.h prepare.comp, then
 *        cc engine.c -I<dir of prepare.spv.h> $(pkg-config --cflags --libs vkattn) -pthread -lm */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vkattn/vkattn.h>
#include <vulkan/vulkan.h>

static const uint32_t prepare_spv[] =
#include "prepare.spv.h"
    ;

/* Must match the push constants of prepare.comp. */
enum { MODE_FILL_F32 = 0, MODE_FILL_F16 = 1, MODE_READ_F32 = 2, MODE_READ_F16 = 3 };
typedef struct prepare_push {
    uint32_t mode, count, src, dst, seed, lse_src, lse_count;
} prepare_push;

#define EXIT_SKIP 77
#define MAX_JOBS 16
#define THREADS 4
#define JOBS_PER_THREAD 3

/* ---------------------------------------------------------------------------------------------
 * Inputs the host and prepare.comp compute identically
 * ------------------------------------------------------------------------------------------- */
static uint32_t hash(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

static float value(uint32_t seed, uint32_t i)
{
    uint32_t h = hash(seed * 0x9e3779b9u + i);
    return (float)((int32_t)(h & 0x7ffu) - 1024) * (1.0f / 1024.0f);
}

/* f16 bits of k / 1024 (|k| <= 1024), which f16 represents exactly: no rounding to get wrong. */
static uint16_t half_exact(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000u;
    if ((x & 0x7fffffffu) == 0)
        return (uint16_t)sign;
    uint32_t e = ((x >> 23) & 0xffu) - 127u + 15u;
    return (uint16_t)(sign | e << 10 | (x & 0x7fffffu) >> 13);
}

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    float f;
    if (e == 0) {
        f = ldexpf((float)m, -24);
        return sign ? -f : f;
    }
    uint32_t x = e == 31 ? sign | 0x7f800000u | m << 13 : sign | (e - 15u + 127u) << 23 | m << 13;
    memcpy(&f, &x, sizeof f);
    return f;
}

/* ---------------------------------------------------------------------------------------------
 * Validation messages: any warning or error fails the run. The callback may come from the
 * recording threads at once.
 * ------------------------------------------------------------------------------------------- */
static atomic_int validation_messages;

static VKAPI_ATTR VkBool32 VKAPI_CALL on_validation(
    VkDebugUtilsMessageSeverityFlagBitsEXT severity, VkDebugUtilsMessageTypeFlagsEXT type,
    const VkDebugUtilsMessengerCallbackDataEXT *data, void *user)
{
    (void)type;
    (void)user;
    if (severity & (VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                    VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT)) {
        atomic_fetch_add(&validation_messages, 1);
        fprintf(stderr, "validation: %s\n", data->pMessage ? data->pMessage : "(no message)");
    }
    return VK_FALSE;
}

/* ---------------------------------------------------------------------------------------------
 * The engine's own Vulkan objects
 * ------------------------------------------------------------------------------------------- */
typedef struct engine {
    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;
    PFN_vkDestroyDebugUtilsMessengerEXT destroy_messenger;
    VkPhysicalDevice physical_device;
    VkPhysicalDeviceMemoryProperties mem;
    VkDevice device;
    uint32_t family;
    VkQueue queue;
    bool fp16;
    bool push;             /* VK_KHR_push_descriptor enabled on the device */
    VkPipelineCache cache;
    VkDescriptorSetLayout set_layout;
    VkPipelineLayout layout;
    VkPipeline pipeline;
    VkDescriptorPool descriptor_pool;
    VkCommandPool command_pool;
    vkattn_context ctx;
} engine;

/* One attention with its inputs, outputs and the engine's passes around it. The arena is a
 * device buffer holding Q, K, V, O, LSE and the lengths at 4-byte aligned offsets that are not
 * multiples of minStorageBufferOffsetAlignment, as an engine's sub-allocator would place them. */
typedef struct job {
    char name[96];
    vkattn_problem p;
    uint32_t seed;
    uint32_t q_lens[2], kv_lens[2];
    bool skipped; /* f16 without storageBuffer16BitAccess */

    uint64_t n_q, n_k, n_v, n_o, n_lse;
    VkDeviceSize off_q, off_k, off_v, off_o, off_lse, off_q_lens, off_kv_lens, arena_size;
    VkDeviceSize readback_size; /* 2 * O as f32, then LSE */
    VkBuffer arena, readback;
    VkDeviceMemory arena_mem, readback_mem;
    float *mapped;
    VkDescriptorSet set;

    vkattn_result recorded; /* what vkattn_cmd_attention returned */
    char message[256];
} job;

static int find_memory(const engine *e, uint32_t bits, VkMemoryPropertyFlags need,
                       VkMemoryPropertyFlags prefer)
{
    for (int pass = 0; pass < 2; ++pass)
        for (uint32_t i = 0; i < e->mem.memoryTypeCount; ++i) {
            VkMemoryPropertyFlags f = e->mem.memoryTypes[i].propertyFlags;
            VkMemoryPropertyFlags want = pass == 0 ? need | prefer : need;
            if ((bits & (1u << i)) && (f & want) == want)
                return (int)i;
        }
    return -1;
}

static VkResult buffer_create(const engine *e, VkDeviceSize size, VkBufferUsageFlags usage,
                              VkMemoryPropertyFlags need, VkMemoryPropertyFlags prefer,
                              VkBuffer *buf, VkDeviceMemory *mem)
{
    VkBufferCreateInfo bci = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = size,
        .usage = usage,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    VkResult vr = vkCreateBuffer(e->device, &bci, NULL, buf);
    if (vr != VK_SUCCESS)
        return vr;
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(e->device, *buf, &req);
    int type = find_memory(e, req.memoryTypeBits, need, prefer);
    if (type < 0)
        return VK_ERROR_OUT_OF_DEVICE_MEMORY;
    VkMemoryAllocateInfo mai = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
        .allocationSize = req.size,
        .memoryTypeIndex = (uint32_t)type,
    };
    vr = vkAllocateMemory(e->device, &mai, NULL, mem);
    if (vr != VK_SUCCESS)
        return vr;
    return vkBindBufferMemory(e->device, *buf, *mem, 0);
}

static VkDeviceSize place(VkDeviceSize *cursor, uint64_t bytes)
{
    VkDeviceSize at = *cursor;
    *cursor += (bytes + 3) / 4 * 4 + 4; /* a word of gap keeps the next offset unaligned */
    return at;
}

/* Allocates the job's buffers and descriptor set (on the main thread: the descriptor pool is
 * not synchronised). */
static VkResult job_create(engine *e, job *j)
{
    vkattn_problem *p = &j->p;
    uint32_t esize = p->dtype == VKATTN_DTYPE_F16 ? 2 : 4;
    j->n_q = vkattn_problem_extent(p, 'q');
    j->n_k = vkattn_problem_extent(p, 'k');
    j->n_v = vkattn_problem_extent(p, 'v');
    j->n_o = vkattn_problem_extent(p, 'o');
    j->n_lse = p->has_lse ? vkattn_problem_extent(p, 'l') : 0;
    VkDeviceSize cursor = 12;
    j->off_q = place(&cursor, j->n_q * esize);
    j->off_k = place(&cursor, j->n_k * esize);
    j->off_v = place(&cursor, j->n_v * esize);
    j->off_o = place(&cursor, j->n_o * esize);
    j->off_lse = place(&cursor, j->n_lse * 4);
    j->off_q_lens = place(&cursor, p->batch * 4);
    j->off_kv_lens = place(&cursor, p->batch * 4);
    j->arena_size = cursor;
    j->readback_size = (j->n_o + j->n_lse) * 4;

    VkResult vr = buffer_create(e, j->arena_size,
                                VK_BUFFER_USAGE_STORAGE_BUFFER_BIT |
                                    VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                                0, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, &j->arena, &j->arena_mem);
    if (vr == VK_SUCCESS)
        vr = buffer_create(e, j->readback_size,
                           VK_BUFFER_USAGE_STORAGE_BUFFER_BIT,
                           VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                               VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
                           VK_MEMORY_PROPERTY_HOST_CACHED_BIT, &j->readback, &j->readback_mem);
    if (vr == VK_SUCCESS)
        vr = vkMapMemory(e->device, j->readback_mem, 0, VK_WHOLE_SIZE, 0, (void **)&j->mapped);
    if (vr != VK_SUCCESS)
        return vr;

    VkDescriptorSetAllocateInfo dai = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
        .descriptorPool = e->descriptor_pool,
        .descriptorSetCount = 1,
        .pSetLayouts = &e->set_layout,
    };
    vr = vkAllocateDescriptorSets(e->device, &dai, &j->set);
    if (vr != VK_SUCCESS)
        return vr;
    /* The lengths, last in the arena, are written by vkCmdUpdateBuffer: leaving them out of the
     * engine's binding keeps synchronisation validation from taking the fill pass (which it
     * counts as writing all of its binding) for a write to them. */
    VkDescriptorBufferInfo infos[2] = {
        {j->arena, 0, j->off_q_lens},
        {j->readback, 0, VK_WHOLE_SIZE},
    };
    VkWriteDescriptorSet writes[2];
    for (uint32_t i = 0; i < 2; ++i)
        writes[i] = (VkWriteDescriptorSet){
            .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
            .dstSet = j->set,
            .dstBinding = i,
            .descriptorCount = 1,
            .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .pBufferInfo = &infos[i],
        };
    vkUpdateDescriptorSets(e->device, 2, writes, 0, NULL);
    return VK_SUCCESS;
}

static void job_destroy(const engine *e, job *j)
{
    /* vkattn may keep a descriptor set naming the buffer (no push descriptors); a later buffer
     * can get the same handle, so the set is released first. The sets go with the pool. */
    if (e->ctx)
        vkattn_release_buffer(e->ctx, j->arena);
    vkDestroyBuffer(e->device, j->arena, NULL);
    vkDestroyBuffer(e->device, j->readback, NULL);
    vkFreeMemory(e->device, j->arena_mem, NULL);
    vkFreeMemory(e->device, j->readback_mem, NULL);
}

static void dispatch(VkCommandBuffer cb, const engine *e, prepare_push pc, uint32_t invocations)
{
    uint32_t groups = (invocations + 63) / 64;
    if (groups > 1024)
        groups = 1024; /* the shader loops over the rest */
    if (groups == 0)
        return;
    vkCmdPushConstants(cb, e->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof pc, &pc);
    vkCmdDispatch(cb, groups, 1, 1);
}

static void barrier(VkCommandBuffer cb, VkPipelineStageFlags src_stage, VkAccessFlags src,
                    VkPipelineStageFlags dst_stage, VkAccessFlags dst)
{
    VkMemoryBarrier mb = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = src,
        .dstAccessMask = dst,
    };
    vkCmdPipelineBarrier(cb, src_stage, dst_stage, 0, 1, &mb, 0, NULL, 0, NULL);
}

/* Records the engine's generate pass, vkattn's attention and the engine's consume pass. */
static void job_record(const engine *e, VkCommandBuffer cb, job *j)
{
    if (j->skipped)
        return;
    const vkattn_problem *p = &j->p;
    bool f16 = p->dtype == VKATTN_DTYPE_F16;
    vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, e->pipeline);
    vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, e->layout, 0, 1, &j->set, 0, NULL);
    const VkDeviceSize offs[3] = {j->off_q, j->off_k, j->off_v};
    const uint64_t counts[3] = {j->n_q, j->n_k, j->n_v};
    for (uint32_t t = 0; t < 3; ++t) {
        prepare_push pc = {f16 ? MODE_FILL_F16 : MODE_FILL_F32, (uint32_t)counts[t], 0,
                           (uint32_t)(offs[t] / 4), j->seed * 3 + t, 0, 0};
        dispatch(cb, e, pc, f16 ? (pc.count + 1) / 2 : pc.count);
    }
    if (p->has_q_lens)
        vkCmdUpdateBuffer(cb, j->arena, j->off_q_lens, p->batch * 4, j->q_lens);
    if (p->has_kv_lens)
        vkCmdUpdateBuffer(cb, j->arena, j->off_kv_lens, p->batch * 4, j->kv_lens);
    /* Q, K, V and the lengths, written by this pass and the transfers, are read by vkattn. */
    barrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
            VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
            VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT);

    uint32_t esize = f16 ? 2 : 4;
    vkattn_device_tensors t = {
        .q = {j->arena, j->off_q, j->n_q * esize},
        .k = {j->arena, j->off_k, j->n_k * esize},
        .v = {j->arena, j->off_v, j->n_v * esize},
        .out = {j->arena, j->off_o, j->n_o * esize},
    };
    if (p->has_lse)
        t.lse = (vkattn_buffer){j->arena, j->off_lse, j->n_lse * 4, 0};
    if (p->has_q_lens)
        t.q_lens = (vkattn_buffer){j->arena, j->off_q_lens, p->batch * 4, 0};
    if (p->has_kv_lens)
        t.kv_lens = (vkattn_buffer){j->arena, j->off_kv_lens, p->batch * 4, 0};
    j->recorded = vkattn_cmd_attention(e->ctx, cb, p, &t);
    if (j->recorded != VKATTN_SUCCESS)
        snprintf(j->message, sizeof j->message, "%s", vkattn_context_message(e->ctx));

    /* O and LSE, written by vkattn, are read by the consume pass. */
    barrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
            VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT);
    /* vkattn changed the pipeline, set 0 and the push constants. */
    vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, e->pipeline);
    vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, e->layout, 0, 1, &j->set, 0, NULL);
    prepare_push pc = {f16 ? MODE_READ_F16 : MODE_READ_F32, (uint32_t)j->n_o,
                       (uint32_t)(j->off_o / 4), 0, 0, (uint32_t)(j->off_lse / 4),
                       (uint32_t)j->n_lse};
    dispatch(cb, e, pc, pc.count);
    barrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
            VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
}

/* ---------------------------------------------------------------------------------------------
 * Checks
 * ------------------------------------------------------------------------------------------- */
static int passed, failed;

static void report(bool ok, const char *name, const char *detail)
{
    if (ok)
        ++passed;
    else
        ++failed;
    printf("%s %s: %s\n", ok ? "ok  " : "FAIL", name, detail);
    fflush(stdout);
}

static bool close_enough(float got, float want, double tol)
{
    if (isinf(want) || isinf(got))
        return got == want;
    return isfinite(got) && fabs((double)got - want) <= tol;
}

/* Computes the same inputs on the host, runs vkattn_reference() and compares with what the
 * engine read back. */
static void job_check(job *j)
{
    char detail[320];
    if (j->skipped) {
        printf("skip %s: the device lacks storageBuffer16BitAccess\n", j->name);
        return;
    }
    if (j->recorded != VKATTN_SUCCESS) {
        snprintf(detail, sizeof detail, "vkattn_cmd_attention: %s: %s",
                 vkattn_result_string(j->recorded), j->message);
        report(false, j->name, detail);
        return;
    }
    const vkattn_problem *p = &j->p;
    bool f16 = p->dtype == VKATTN_DTYPE_F16;
    size_t esize = f16 ? 2 : 4;
    void *in[3] = {malloc(j->n_q * esize), malloc(j->n_k * esize), malloc(j->n_v * esize)};
    void *out = malloc(j->n_o * esize);
    float *lse = malloc((j->n_lse ? j->n_lse : 1) * sizeof(float));
    const uint64_t counts[3] = {j->n_q, j->n_k, j->n_v};
    if (!in[0] || !in[1] || !in[2] || !out || !lse) {
        report(false, j->name, "out of host memory");
        goto done;
    }
    for (uint32_t t = 0; t < 3; ++t)
        for (uint64_t i = 0; i < counts[t]; ++i) {
            float x = value(j->seed * 3 + t, (uint32_t)i);
            if (f16)
                ((uint16_t *)in[t])[i] = half_exact(x);
            else
                ((float *)in[t])[i] = x;
        }
    vkattn_host_tensors ht = {
        .q = in[0], .k = in[1], .v = in[2], .out = out,
        .lse = p->has_lse ? lse : NULL,
        .q_lens = p->has_q_lens ? j->q_lens : NULL,
        .kv_lens = p->has_kv_lens ? j->kv_lens : NULL,
    };
    char msg[256];
    vkattn_result r = vkattn_reference(p, &ht, msg, sizeof msg);
    if (r != VKATTN_SUCCESS) {
        snprintf(detail, sizeof detail, "vkattn_reference: %s: %s", vkattn_result_string(r), msg);
        report(false, j->name, detail);
        goto done;
    }
    double tol = f16 ? 5e-3 : 1e-4;
    double max_o = 0, max_l = 0;
    uint64_t bad = 0, first_bad = 0;
    for (uint64_t i = 0; i < j->n_o; ++i) {
        float want = f16 ? half_to_float(((uint16_t *)out)[i]) : ((float *)out)[i];
        float got = j->mapped[i] * 0.5f; /* the consume pass doubled it */
        if (!close_enough(got, want, tol) && bad++ == 0)
            first_bad = i;
        if (isfinite(got))
            max_o = fmax(max_o, fabs((double)got - want));
    }
    for (uint64_t i = 0; i < j->n_lse; ++i) {
        float want = lse[i], got = j->mapped[j->n_o + i];
        if (!close_enough(got, want, tol * fmax(1.0, fabs((double)want))) && bad++ == 0)
            first_bad = j->n_o + i;
        if (isfinite(want) && isfinite(got))
            max_l = fmax(max_l, fabs((double)got - want));
    }
    if (bad)
        snprintf(detail, sizeof detail, "%llu wrong values, the first at %s[%llu]; max |dO| = %.3g",
                 (unsigned long long)bad, first_bad < j->n_o ? "O" : "LSE",
                 (unsigned long long)(first_bad < j->n_o ? first_bad : first_bad - j->n_o), max_o);
    else
        snprintf(detail, sizeof detail, "max |dO| = %.3g, max |dLSE| = %.3g", max_o, max_l);
    report(bad == 0, j->name, detail);
done:
    for (int t = 0; t < 3; ++t)
        free(in[t]);
    free(out);
    free(lse);
}

/* ---------------------------------------------------------------------------------------------
 * Setup
 * ------------------------------------------------------------------------------------------- */
static bool has_extension(const VkExtensionProperties *exts, uint32_t n, const char *name)
{
    for (uint32_t i = 0; i < n; ++i)
        if (strcmp(exts[i].extensionName, name) == 0)
            return true;
    return false;
}

static bool has_layer(const char *name)
{
    uint32_t n = 0;
    if (vkEnumerateInstanceLayerProperties(&n, NULL) != VK_SUCCESS || n == 0)
        return false;
    VkLayerProperties *layers = calloc(n, sizeof *layers);
    bool found = false;
    if (layers && vkEnumerateInstanceLayerProperties(&n, layers) == VK_SUCCESS)
        for (uint32_t i = 0; i < n; ++i)
            found = found || strcmp(layers[i].layerName, name) == 0;
    free(layers);
    return found;
}

static VkExtensionProperties *instance_extensions(const char *layer, uint32_t *n)
{
    *n = 0;
    if (vkEnumerateInstanceExtensionProperties(layer, n, NULL) != VK_SUCCESS || *n == 0)
        return NULL;
    VkExtensionProperties *exts = calloc(*n, sizeof *exts);
    if (exts && vkEnumerateInstanceExtensionProperties(layer, n, exts) != VK_SUCCESS)
        *n = 0;
    return exts;
}

/* Returns 0, 1 (error) or EXIT_SKIP (no Vulkan). */
static int create_instance(engine *e)
{
    uint32_t version = 0;
    if (vkEnumerateInstanceVersion(&version) != VK_SUCCESS || version < VK_API_VERSION_1_1) {
        fprintf(stderr, "engine: no Vulkan 1.1 loader\n");
        return EXIT_SKIP;
    }
    static const char layer_name[] = "VK_LAYER_KHRONOS_validation";
    bool validation = has_layer(layer_name);
    uint32_t n_ext = 0, n_layer_ext = 0;
    VkExtensionProperties *exts = instance_extensions(NULL, &n_ext);
    VkExtensionProperties *layer_exts = validation ? instance_extensions(layer_name, &n_layer_ext)
                                                   : NULL;
    bool debug_utils = has_extension(exts, n_ext, VK_EXT_DEBUG_UTILS_EXTENSION_NAME) ||
                       has_extension(layer_exts, n_layer_ext, VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    bool features = has_extension(layer_exts, n_layer_ext, VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME);
    free(exts);
    free(layer_exts);
    if (!validation)
        printf("note: %s is not installed; running without it\n", layer_name);

    const char *enabled[2];
    uint32_t n_enabled = 0;
    if (debug_utils)
        enabled[n_enabled++] = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
    if (validation && features)
        enabled[n_enabled++] = VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME;
    const char *layers[] = {layer_name};

    VkDebugUtilsMessengerCreateInfoEXT mci = {
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
        .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
        .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
        .pfnUserCallback = on_validation,
    };
    /* Synchronisation validation checks the barriers of both the engine and vkattn. */
    static const VkValidationFeatureEnableEXT sync[] = {
        VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT};
    VkValidationFeaturesEXT vf = {
        .sType = VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT,
        .pNext = debug_utils ? &mci : NULL,
        .enabledValidationFeatureCount = 1,
        .pEnabledValidationFeatures = sync,
    };
    VkApplicationInfo app = {
        .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
        .pApplicationName = "vkattn engine example",
        .apiVersion = VK_API_VERSION_1_1,
    };
    VkInstanceCreateInfo ici = {
        .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
        .pNext = validation && features ? (const void *)&vf
                 : debug_utils          ? (const void *)&mci
                                        : NULL,
        .pApplicationInfo = &app,
        .enabledLayerCount = validation ? 1 : 0,
        .ppEnabledLayerNames = layers,
        .enabledExtensionCount = n_enabled,
        .ppEnabledExtensionNames = enabled,
    };
    VkResult vr = vkCreateInstance(&ici, NULL, &e->instance);
    if (vr == VK_ERROR_INCOMPATIBLE_DRIVER) {
        fprintf(stderr, "engine: no Vulkan driver\n");
        return EXIT_SKIP;
    }
    if (vr != VK_SUCCESS) {
        fprintf(stderr, "engine: vkCreateInstance failed (%d)\n", (int)vr);
        return 1;
    }
    if (debug_utils) {
        PFN_vkCreateDebugUtilsMessengerEXT create = (PFN_vkCreateDebugUtilsMessengerEXT)
            vkGetInstanceProcAddr(e->instance, "vkCreateDebugUtilsMessengerEXT");
        e->destroy_messenger = (PFN_vkDestroyDebugUtilsMessengerEXT)vkGetInstanceProcAddr(
            e->instance, "vkDestroyDebugUtilsMessengerEXT");
        if (create && e->destroy_messenger &&
            create(e->instance, &mci, NULL, &e->messenger) != VK_SUCCESS)
            e->messenger = VK_NULL_HANDLE;
    }
    return 0;
}

/* The first device with a compute queue. Returns 0, 1 or EXIT_SKIP. */
static int create_device(engine *e, bool push_descriptors)
{
    uint32_t n = 0;
    if (vkEnumeratePhysicalDevices(e->instance, &n, NULL) != VK_SUCCESS || n == 0) {
        fprintf(stderr, "engine: no Vulkan device\n");
        return EXIT_SKIP;
    }
    VkPhysicalDevice *devs = calloc(n, sizeof *devs);
    if (!devs || vkEnumeratePhysicalDevices(e->instance, &n, devs) < 0) {
        free(devs);
        return 1;
    }
    e->family = UINT32_MAX;
    for (uint32_t d = 0; d < n && e->family == UINT32_MAX; ++d) {
        VkPhysicalDeviceProperties props;
        vkGetPhysicalDeviceProperties(devs[d], &props);
        if (props.apiVersion < VK_API_VERSION_1_1)
            continue;
        uint32_t nf = 0;
        vkGetPhysicalDeviceQueueFamilyProperties(devs[d], &nf, NULL);
        VkQueueFamilyProperties fams[16];
        if (nf > 16)
            nf = 16;
        vkGetPhysicalDeviceQueueFamilyProperties(devs[d], &nf, fams);
        for (uint32_t f = 0; f < nf; ++f)
            if (fams[f].queueFlags & VK_QUEUE_COMPUTE_BIT) {
                e->physical_device = devs[d];
                e->family = f;
                printf("device %u: %s\n", d, props.deviceName);
                break;
            }
    }
    free(devs);
    if (e->family == UINT32_MAX) {
        fprintf(stderr, "engine: no Vulkan 1.1 device with a compute queue\n");
        return EXIT_SKIP;
    }
    vkGetPhysicalDeviceMemoryProperties(e->physical_device, &e->mem);

    VkPhysicalDevice16BitStorageFeatures s16 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES,
    };
    VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
                                    .pNext = &s16};
    vkGetPhysicalDeviceFeatures2(e->physical_device, &f2);
    e->fp16 = s16.storageBuffer16BitAccess;
    /* Enable only what the engine and vkattn use. */
    VkPhysicalDevice16BitStorageFeatures s16_on = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES,
        .storageBuffer16BitAccess = e->fp16,
    };
    VkPhysicalDeviceFeatures2 f2_on = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
                                       .pNext = &s16_on};

    uint32_t n_ext = 0;
    vkEnumerateDeviceExtensionProperties(e->physical_device, NULL, &n_ext, NULL);
    VkExtensionProperties *exts = calloc(n_ext ? n_ext : 1, sizeof *exts);
    if (!exts)
        return 1;
    vkEnumerateDeviceExtensionProperties(e->physical_device, NULL, &n_ext, exts);
    bool push = push_descriptors &&
                has_extension(exts, n_ext, VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME);
    free(exts);
    e->push = push;
    printf("device features: storageBuffer16BitAccess %s, VK_KHR_push_descriptor %s\n",
           e->fp16 ? "on" : "off", push ? "on" : "off");

    const char *enabled[] = {VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME};
    float priority = 1.0f;
    VkDeviceQueueCreateInfo qci = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
        .queueFamilyIndex = e->family,
        .queueCount = 1,
        .pQueuePriorities = &priority,
    };
    VkDeviceCreateInfo dci = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
        .pNext = &f2_on,
        .queueCreateInfoCount = 1,
        .pQueueCreateInfos = &qci,
        .enabledExtensionCount = push ? 1 : 0,
        .ppEnabledExtensionNames = enabled,
    };
    VkResult vr = vkCreateDevice(e->physical_device, &dci, NULL, &e->device);
    if (vr != VK_SUCCESS) {
        fprintf(stderr, "engine: vkCreateDevice failed (%d)\n", (int)vr);
        return 1;
    }
    vkGetDeviceQueue(e->device, e->family, 0, &e->queue);
    return 0;
}

/* The engine's own pipeline, descriptor pool, command pool and pipeline cache. */
static VkResult create_engine_objects(engine *e)
{
    VkPipelineCacheCreateInfo pcci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
    VkResult vr = vkCreatePipelineCache(e->device, &pcci, NULL, &e->cache);
    if (vr != VK_SUCCESS)
        return vr;
    VkDescriptorSetLayoutBinding bindings[2];
    for (uint32_t i = 0; i < 2; ++i)
        bindings[i] = (VkDescriptorSetLayoutBinding){
            .binding = i,
            .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .descriptorCount = 1,
            .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
        };
    VkDescriptorSetLayoutCreateInfo dslci = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
        .bindingCount = 2,
        .pBindings = bindings,
    };
    if ((vr = vkCreateDescriptorSetLayout(e->device, &dslci, NULL, &e->set_layout)) != VK_SUCCESS)
        return vr;
    VkPushConstantRange range = {VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(prepare_push)};
    VkPipelineLayoutCreateInfo plci = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
        .setLayoutCount = 1,
        .pSetLayouts = &e->set_layout,
        .pushConstantRangeCount = 1,
        .pPushConstantRanges = &range,
    };
    if ((vr = vkCreatePipelineLayout(e->device, &plci, NULL, &e->layout)) != VK_SUCCESS)
        return vr;
    VkShaderModuleCreateInfo smci = {
        .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
        .codeSize = sizeof prepare_spv,
        .pCode = prepare_spv,
    };
    VkShaderModule module;
    if ((vr = vkCreateShaderModule(e->device, &smci, NULL, &module)) != VK_SUCCESS)
        return vr;
    VkComputePipelineCreateInfo cpci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {
            .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
            .stage = VK_SHADER_STAGE_COMPUTE_BIT,
            .module = module,
            .pName = "main",
        },
        .layout = e->layout,
    };
    vr = vkCreateComputePipelines(e->device, e->cache, 1, &cpci, NULL, &e->pipeline);
    vkDestroyShaderModule(e->device, module, NULL);
    if (vr != VK_SUCCESS)
        return vr;
    VkDescriptorPoolSize size = {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 2 * MAX_JOBS};
    VkDescriptorPoolCreateInfo dpci = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
        .maxSets = MAX_JOBS,
        .poolSizeCount = 1,
        .pPoolSizes = &size,
    };
    if ((vr = vkCreateDescriptorPool(e->device, &dpci, NULL, &e->descriptor_pool)) != VK_SUCCESS)
        return vr;
    VkCommandPoolCreateInfo cpoci = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        .queueFamilyIndex = e->family,
    };
    return vkCreateCommandPool(e->device, &cpoci, NULL, &e->command_pool);
}

static void destroy_engine(engine *e)
{
    if (e->device) {
        vkattn_context_destroy(e->ctx);
        vkDestroyCommandPool(e->device, e->command_pool, NULL);
        vkDestroyDescriptorPool(e->device, e->descriptor_pool, NULL);
        vkDestroyPipeline(e->device, e->pipeline, NULL);
        vkDestroyPipelineLayout(e->device, e->layout, NULL);
        vkDestroyDescriptorSetLayout(e->device, e->set_layout, NULL);
        vkDestroyPipelineCache(e->device, e->cache, NULL);
        vkDestroyDevice(e->device, NULL);
    }
    if (e->messenger)
        e->destroy_messenger(e->instance, e->messenger, NULL);
    if (e->instance)
        vkDestroyInstance(e->instance, NULL);
}

/* ---------------------------------------------------------------------------------------------
 * Command buffers
 * ------------------------------------------------------------------------------------------- */
static VkResult begin(const engine *e, VkCommandPool pool, VkCommandBuffer *cb)
{
    VkCommandBufferAllocateInfo cbai = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
        .commandPool = pool,
        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
        .commandBufferCount = 1,
    };
    VkResult vr = vkAllocateCommandBuffers(e->device, &cbai, cb);
    if (vr != VK_SUCCESS)
        return vr;
    VkCommandBufferBeginInfo bi = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
        .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
    };
    return vkBeginCommandBuffer(*cb, &bi);
}

/* One vkQueueSubmit of n command buffers, then a wait. */
static VkResult submit_and_wait(const engine *e, const VkCommandBuffer *cbs, uint32_t n)
{
    VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VkFence fence;
    VkResult vr = vkCreateFence(e->device, &fci, NULL, &fence);
    if (vr != VK_SUCCESS)
        return vr;
    VkSubmitInfo si = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
        .commandBufferCount = n,
        .pCommandBuffers = cbs,
    };
    vr = vkQueueSubmit(e->queue, 1, &si, fence);
    if (vr == VK_SUCCESS)
        vr = vkWaitForFences(e->device, 1, &fence, VK_TRUE, UINT64_MAX);
    vkDestroyFence(e->device, fence, NULL);
    return vr;
}

static bool vk_ok(VkResult vr, const char *what)
{
    if (vr == VK_SUCCESS)
        return true;
    char detail[64];
    snprintf(detail, sizeof detail, "VkResult %d", (int)vr);
    report(false, what, detail);
    return false;
}

/* ---------------------------------------------------------------------------------------------
 * The three cases
 * ------------------------------------------------------------------------------------------- */
static job jobs[MAX_JOBS];
static uint32_t job_count;

static job *job_add(engine *e, const char *name, vkattn_problem p)
{
    job *j = &jobs[job_count];
    memset(j, 0, sizeof *j);
    snprintf(j->name, sizeof j->name, "%s", name);
    j->p = p;
    j->seed = ++job_count;
    j->skipped = p.dtype == VKATTN_DTYPE_F16 && !e->fp16;
    return j;
}

static void case_one_command_buffer(engine *e)
{
    job *j = job_add(e, "one command buffer: B2 Hq8 Hkv2 Sq77 Skv130 D64 causal f32 lse",
                     (vkattn_problem){.batch = 2, .heads_q = 8, .heads_kv = 2, .seq_q = 77,
                                      .seq_kv = 130, .head_dim = 64, .causal = true,
                                      .has_lse = true});
    VkCommandBuffer cb = VK_NULL_HANDLE;
    if (!vk_ok(job_create(e, j), "one command buffer: buffers") ||
        !vk_ok(begin(e, e->command_pool, &cb), "one command buffer: begin"))
        return;
    job_record(e, cb, j);
    if (vk_ok(vkEndCommandBuffer(cb), "one command buffer: end") &&
        vk_ok(submit_and_wait(e, &cb, 1), "one command buffer: submit"))
        job_check(j);
    vkFreeCommandBuffers(e->device, e->command_pool, 1, &cb);
}

/* Both are recorded before either is submitted, with the same (dtype, head size): whatever
 * vkattn binds for the first must survive the recording of the second. */
static void case_two_command_buffers(engine *e)
{
    job *a = job_add(e, "two command buffers, first: B1 Hq4 Sq100 Skv100 D64 causal top-left",
                     (vkattn_problem){.batch = 1, .heads_q = 4, .seq_q = 100, .seq_kv = 100,
                                      .head_dim = 64, .causal = true,
                                      .align = VKATTN_ALIGN_TOP_LEFT});
    job *b = job_add(e, "two command buffers, second: B2 Hq8 Hkv2 Sq64 Skv200 D64 window 32,0 "
                        "lens lse",
                     (vkattn_problem){.batch = 2, .heads_q = 8, .heads_kv = 2, .seq_q = 64,
                                      .seq_kv = 200, .head_dim = 64, .window = true,
                                      .window_left = 32, .window_right = 0, .has_lse = true,
                                      .has_q_lens = true, .has_kv_lens = true});
    b->q_lens[0] = 64, b->q_lens[1] = 40;
    b->kv_lens[0] = 200, b->kv_lens[1] = 150;
    VkCommandBuffer cbs[2] = {VK_NULL_HANDLE, VK_NULL_HANDLE};
    if (!vk_ok(job_create(e, a), "two command buffers: buffers") ||
        !vk_ok(job_create(e, b), "two command buffers: buffers") ||
        !vk_ok(begin(e, e->command_pool, &cbs[0]), "two command buffers: begin") ||
        !vk_ok(begin(e, e->command_pool, &cbs[1]), "two command buffers: begin"))
        goto done;
    job_record(e, cbs[0], a);
    job_record(e, cbs[1], b);
    if (vk_ok(vkEndCommandBuffer(cbs[0]), "two command buffers: end") &&
        vk_ok(vkEndCommandBuffer(cbs[1]), "two command buffers: end") &&
        vk_ok(submit_and_wait(e, cbs, 2), "two command buffers: submit")) {
        job_check(a);
        job_check(b);
    }
done:
    for (int i = 0; i < 2; ++i)
        if (cbs[i])
            vkFreeCommandBuffers(e->device, e->command_pool, 1, &cbs[i]);
}

typedef struct worker {
    engine *e;
    job *jobs[JOBS_PER_THREAD];
    pthread_barrier_t *start;
    VkCommandPool pool;
    VkCommandBuffer cb;
    VkResult vr;
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    VkCommandPoolCreateInfo cpci = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        .queueFamilyIndex = w->e->family,
    };
    w->vr = vkCreateCommandPool(w->e->device, &cpci, NULL, &w->pool);
    if (w->vr == VK_SUCCESS)
        w->vr = begin(w->e, w->pool, &w->cb);
    /* All threads reach vkattn_cmd_attention together, so that pipelines are created in a race. */
    pthread_barrier_wait(w->start);
    if (w->vr != VK_SUCCESS)
        return NULL;
    for (int i = 0; i < JOBS_PER_THREAD; ++i)
        job_record(w->e, w->cb, w->jobs[i]);
    w->vr = vkEndCommandBuffer(w->cb);
    return NULL;
}

static void case_threads(engine *e)
{
    /* The first job of threads 0 and 3 shares (f32, 32); the head sizes 32, 48, 80, 96 and 128
     * are first used here, each by more than one thread. */
    static const struct {
        const char *name;
        vkattn_problem p;
    } specs[THREADS][JOBS_PER_THREAD] = {
        {{"thread 0: B2 Hq4 Sq50 Skv90 D32 causal f32",
          {.batch = 2, .heads_q = 4, .seq_q = 50, .seq_kv = 90, .head_dim = 32, .causal = true}},
         {"thread 0: B1 Hq8 Hkv2 Sq33 Skv70 D80 f16",
          {.batch = 1, .heads_q = 8, .heads_kv = 2, .seq_q = 33, .seq_kv = 70, .head_dim = 80,
           .dtype = VKATTN_DTYPE_F16}},
         {"thread 0: B1 Hq4 Hkv2 Sq40 Skv40 D128 bshd causal lse",
          {.batch = 1, .heads_q = 4, .heads_kv = 2, .seq_q = 40, .seq_kv = 40, .head_dim = 128,
           .causal = true, .has_lse = true}}},
        {{"thread 1: B1 Hq2 Sq60 Skv60 D32 f16 window 16,16",
          {.batch = 1, .heads_q = 2, .seq_q = 60, .seq_kv = 60, .head_dim = 32,
           .dtype = VKATTN_DTYPE_F16, .window = true, .window_left = 16, .window_right = 16}},
         {"thread 1: B2 Hq3 Sq21 Skv45 D96 softcap 5 scale 0.3",
          {.batch = 2, .heads_q = 3, .seq_q = 21, .seq_kv = 45, .head_dim = 96, .softcap = 5.0f,
           .scale = 0.3f}},
         {"thread 1: B1 Hq2 Sq30 Skv80 D80 causal top-left lse",
          {.batch = 1, .heads_q = 2, .seq_q = 30, .seq_kv = 80, .head_dim = 80, .causal = true,
           .align = VKATTN_ALIGN_TOP_LEFT, .has_lse = true}}},
        {{"thread 2: B1 Hq2 Sq45 Skv64 D128 f16 causal",
          {.batch = 1, .heads_q = 2, .seq_q = 45, .seq_kv = 64, .head_dim = 128,
           .dtype = VKATTN_DTYPE_F16, .causal = true}},
         {"thread 2: B1 Hq2 Sq17 Skv99 D96 f16 lse",
          {.batch = 1, .heads_q = 2, .seq_q = 17, .seq_kv = 99, .head_dim = 96,
           .dtype = VKATTN_DTYPE_F16, .has_lse = true}},
         {"thread 2: B2 Hq4 Hkv1 Sq25 Skv50 D48 mqa",
          {.batch = 2, .heads_q = 4, .heads_kv = 1, .seq_q = 25, .seq_kv = 50, .head_dim = 48}}},
        {{"thread 3: B2 Hq4 Hkv2 Sq31 Skv31 D32 bshd",
          {.batch = 2, .heads_q = 4, .heads_kv = 2, .seq_q = 31, .seq_kv = 31, .head_dim = 32}},
         {"thread 3: B1 Hq2 Sq70 Skv70 D80 window -1,8 lse",
          {.batch = 1, .heads_q = 2, .seq_q = 70, .seq_kv = 70, .head_dim = 80, .window = true,
           .window_left = -1, .window_right = 8, .has_lse = true}},
         {"thread 3: B2 Hq2 Sq20 Skv60 D48 f16 causal kv_lens",
          {.batch = 2, .heads_q = 2, .seq_q = 20, .seq_kv = 60, .head_dim = 48,
           .dtype = VKATTN_DTYPE_F16, .causal = true, .has_kv_lens = true}}},
    };
    worker workers[THREADS];
    pthread_t threads[THREADS];
    pthread_barrier_t start;
    memset(workers, 0, sizeof workers);
    for (int t = 0; t < THREADS; ++t) {
        workers[t].e = e;
        workers[t].start = &start;
        for (int i = 0; i < JOBS_PER_THREAD; ++i) {
            job *j = job_add(e, specs[t][i].name, specs[t][i].p);
            if (strstr(j->name, "bshd")) {
                vkattn_problem *p = &j->p;
                uint32_t hkv = p->heads_kv ? p->heads_kv : p->heads_q;
                p->q = p->out = vkattn_strides_bshd(p->heads_q, p->seq_q, p->head_dim);
                p->k = p->v = vkattn_strides_bshd(hkv, p->seq_kv, p->head_dim);
            }
            j->kv_lens[0] = 60, j->kv_lens[1] = 13;
            if (!vk_ok(job_create(e, j), "threads: buffers"))
                return;
            workers[t].jobs[i] = j;
        }
    }
    if (pthread_barrier_init(&start, NULL, THREADS) != 0) {
        report(false, "threads", "pthread_barrier_init failed");
        return;
    }
    int started = 0;
    for (; started < THREADS; ++started)
        if (pthread_create(&threads[started], NULL, worker_main, &workers[started]) != 0)
            break;
    if (started < THREADS) {
        /* The barrier would never open; nothing sensible to do but stop. */
        fprintf(stderr, "engine: pthread_create failed\n");
        exit(1);
    }
    for (int t = 0; t < THREADS; ++t)
        pthread_join(threads[t], NULL);
    pthread_barrier_destroy(&start);

    VkCommandBuffer cbs[THREADS];
    bool recorded = true;
    for (int t = 0; t < THREADS; ++t) {
        recorded = recorded && vk_ok(workers[t].vr, "threads: recording");
        cbs[t] = workers[t].cb;
    }
    if (recorded && vk_ok(submit_and_wait(e, cbs, THREADS), "threads: submit"))
        for (int t = 0; t < THREADS; ++t)
            for (int i = 0; i < JOBS_PER_THREAD; ++i)
                job_check(workers[t].jobs[i]);
    for (int t = 0; t < THREADS; ++t)
        vkDestroyCommandPool(e->device, workers[t].pool, NULL);
}

int main(int argc, char **argv)
{
    bool push_descriptors = true;
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--no-push-descriptors") == 0) {
            push_descriptors = false;
        } else {
            fprintf(stderr, "usage: %s [--no-push-descriptors]\n", argv[0]);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);

    engine e;
    memset(&e, 0, sizeof e);
    int status = create_instance(&e);
    if (status == 0)
        status = create_device(&e, push_descriptors);
    if (status == 0) {
        VkResult vr = create_engine_objects(&e);
        if (vr != VK_SUCCESS) {
            fprintf(stderr, "engine: creating its pipeline failed (%d)\n", (int)vr);
            status = 1;
        }
    }
    if (status == 0) {
        char msg[256] = "";
        vkattn_context_desc cd = {
            .kind = VKATTN_DEVICE_BORROWED,
            .instance = e.instance,
            .physical_device = e.physical_device,
            .device = e.device,
            .queue_family = e.family,
            .queue = e.queue,
            .get_instance_proc_addr = vkGetInstanceProcAddr,
            .pipeline_cache = e.cache,
            .push_descriptors_enabled = e.push,
            .storage_16bit_enabled = e.fp16,
            .message = msg,
            .message_size = sizeof msg,
        };
        vkattn_result r = vkattn_context_create(&cd, &e.ctx);
        if (r != VKATTN_SUCCESS) {
            fprintf(stderr, "engine: vkattn_context_create: %s: %s\n", vkattn_result_string(r),
                    msg);
            status = r == VKATTN_ERROR_UNSUPPORTED ? EXIT_SKIP : 1;
        }
    }
    if (status == 0) {
        case_one_command_buffer(&e);
        case_two_command_buffers(&e);
        case_threads(&e);
        vkDeviceWaitIdle(e.device);
    }
    for (uint32_t i = 0; i < job_count; ++i)
        job_destroy(&e, &jobs[i]);
    destroy_engine(&e);
    if (status != 0)
        return status;

    int messages = atomic_load(&validation_messages);
    char detail[64];
    snprintf(detail, sizeof detail, "%d warnings or errors", messages);
    report(messages == 0, "validation layer", detail);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
