/* Context creation: the app's borrowed device, or an instance and device of our own (the
 * convenience layer the tool uses), or the CPU when no Vulkan device exists. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The loader's entry point; only the standalone path uses it. */
extern VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL vkGetInstanceProcAddr(VkInstance, const char *);

#define VALIDATION_LAYER "VK_LAYER_KHRONOS_validation"

bool vkattn_context_is_cpu(vkattn_context ctx)
{
    return ctx && ctx->cpu;
}

vkattn_result vkattn_pipeline_cache_data(vkattn_context ctx, void *data, size_t *size)
{
    if (!ctx || !size)
        return VKATTN_ERROR_INVALID_ARGUMENT;
    if (ctx->cpu) {
        *size = 0;
        return VKATTN_SUCCESS;
    }
    /* Pipelines may be created into the cache meanwhile: VkPipelineCache is internally
     * synchronised. */
    VkResult vr = ctx->vk.vkGetPipelineCacheData(ctx->device, ctx->pipeline_cache, size, data);
    if (vr == VK_INCOMPLETE)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_INVALID_ARGUMENT,
                        "size = %zu bytes: too small for the pipeline cache", *size);
    if (vr != VK_SUCCESS)
        return vkattn__ctx_vk_fail(ctx, vr, "vkGetPipelineCacheData");
    return VKATTN_SUCCESS;
}

vkattn_result vkattn_context_vulkan(vkattn_context ctx, vkattn_vulkan_handles *out)
{
    if (!ctx || !out)
        return VKATTN_ERROR_INVALID_ARGUMENT;
    if (ctx->cpu)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_UNSUPPORTED, "a CPU context has no Vulkan objects");
    *out = (vkattn_vulkan_handles){ctx->instance, ctx->physical_device, ctx->device,
                                   ctx->queue_family, ctx->queue, ctx->vk.vkGetInstanceProcAddr,
                                   ctx->alloc};
    return VKATTN_SUCCESS;
}

void vkattn_context_device_info(vkattn_context ctx, vkattn_device_info *info)
{
    if (ctx && info)
        *info = ctx->info;
}

static VKAPI_ATTR VkBool32 VKAPI_CALL on_debug(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                               VkDebugUtilsMessageTypeFlagsEXT types,
                                               const VkDebugUtilsMessengerCallbackDataEXT *data,
                                               void *user)
{
    vkattn_context ctx = user;
    if (ctx->on_message && data && data->pMessage)
        ctx->on_message(ctx->user, data->pMessage);
    return VK_FALSE;
}

static bool layer_available(const char *name)
{
    PFN_vkEnumerateInstanceLayerProperties enum_layers =
        (PFN_vkEnumerateInstanceLayerProperties)vkGetInstanceProcAddr(
            NULL, "vkEnumerateInstanceLayerProperties");
    uint32_t n = 0;
    if (!enum_layers || enum_layers(&n, NULL) != VK_SUCCESS || n == 0)
        return false;
    VkLayerProperties *props = calloc(n, sizeof *props);
    bool found = false;
    if (props && enum_layers(&n, props) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; ++i)
            found = strcmp(props[i].layerName, name) == 0;
    free(props);
    return found;
}

/* Creates our own instance (Vulkan 1.1 at least), with the validation layer when asked. */
static vkattn_result create_instance(vkattn_context ctx, bool validation)
{
    PFN_vkEnumerateInstanceVersion enum_version =
        (PFN_vkEnumerateInstanceVersion)vkGetInstanceProcAddr(NULL, "vkEnumerateInstanceVersion");
    PFN_vkCreateInstance create =
        (PFN_vkCreateInstance)vkGetInstanceProcAddr(NULL, "vkCreateInstance");
    uint32_t version = VK_API_VERSION_1_0;
    if (!create)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_NO_DEVICE, "no Vulkan loader");
    if (enum_version)
        enum_version(&version);
    if (version < VK_API_VERSION_1_1)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_UNSUPPORTED, "Vulkan instance version below 1.1");
    ctx->instance_version = version < VK_API_VERSION_1_3 ? version : VK_API_VERSION_1_3;

    bool use_layer = validation && layer_available(VALIDATION_LAYER);
    const char *layers[] = {VALIDATION_LAYER};
    const char *exts[] = {VK_EXT_DEBUG_UTILS_EXTENSION_NAME};
    VkApplicationInfo app = {
        .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
        .pApplicationName = "vkattn",
        .pEngineName = "vkattn",
        .engineVersion = VKATTN_VERSION,
        .apiVersion = version < VK_API_VERSION_1_3 ? version : VK_API_VERSION_1_3,
    };
    VkDebugUtilsMessengerCreateInfoEXT dbg = {
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
        .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
        .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
        .pfnUserCallback = on_debug,
        .pUserData = ctx,
    };
    VkInstanceCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
        .pNext = use_layer ? &dbg : NULL,
        .pApplicationInfo = &app,
        .enabledLayerCount = use_layer ? 1 : 0,
        .ppEnabledLayerNames = layers,
        .enabledExtensionCount = use_layer ? 1 : 0,
        .ppEnabledExtensionNames = exts,
    };
    VkResult vr = create(&ci, ctx->alloc, &ctx->instance);
    if (vr == VK_ERROR_INCOMPATIBLE_DRIVER)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_NO_DEVICE, "no Vulkan driver");
    if (vr != VK_SUCCESS)
        return vkattn__ctx_vk_fail(ctx, vr, "vkCreateInstance");
    ctx->owns_instance = true;
    const char *missing = vkattn__vk_table_load_instance(&ctx->vk, vkGetInstanceProcAddr, ctx->instance);
    if (missing)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_UNSUPPORTED, "Vulkan function %s missing", missing);
    if (use_layer && ctx->vk.vkCreateDebugUtilsMessengerEXT) {
        VkDebugUtilsMessengerEXT messenger; /* kept only on success */
        vr = ctx->vk.vkCreateDebugUtilsMessengerEXT(ctx->instance, &dbg, ctx->alloc, &messenger);
        if (vr != VK_SUCCESS)
            return vkattn__ctx_vk_fail(ctx, vr, "vkCreateDebugUtilsMessengerEXT");
        ctx->messenger = messenger;
    }
    return VKATTN_SUCCESS;
}

/* The default choice: VKATTN_DEVICE ("cpu" or an index), else the first GPU, else device 0. */
static vkattn_result pick_device(vkattn_context ctx, const vkattn_context_desc *d,
                                 VkPhysicalDevice *out, bool *use_cpu)
{
    vkattn_device_kind kind = d->kind;
    uint32_t index = d->device_index;
    const char *env = getenv("VKATTN_DEVICE");
    if (kind == VKATTN_DEVICE_DEFAULT && env && *env) {
        char *end = NULL;
        unsigned long v = strtoul(env, &end, 10);
        if (strcmp(env, "cpu") == 0) {
            *use_cpu = true;
            return VKATTN_SUCCESS;
        }
        if (*end != '\0' || end == env || v > UINT32_MAX)
            return vkattn__ctx_fail(ctx, VKATTN_ERROR_INVALID_ARGUMENT,
                            "VKATTN_DEVICE = '%s': expected a device index or 'cpu'", env);
        kind = VKATTN_DEVICE_INDEX;
        index = (uint32_t)v;
    }
    uint32_t n = 0;
    VkResult vr = ctx->vk.vkEnumeratePhysicalDevices(ctx->instance, &n, NULL);
    if (vr != VK_SUCCESS)
        return vkattn__ctx_vk_fail(ctx, vr, "vkEnumeratePhysicalDevices");
    if (n == 0)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_NO_DEVICE, "no Vulkan device");
    VkPhysicalDevice *pds = calloc(n, sizeof *pds);
    if (!pds)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    vr = ctx->vk.vkEnumeratePhysicalDevices(ctx->instance, &n, pds);
    if (vr != VK_SUCCESS && vr != VK_INCOMPLETE) {
        free(pds);
        return vkattn__ctx_vk_fail(ctx, vr, "vkEnumeratePhysicalDevices");
    }
    vkattn_result res = VKATTN_SUCCESS;
    if (kind == VKATTN_DEVICE_INDEX) {
        if (index >= n)
            res = vkattn__ctx_fail(ctx, VKATTN_ERROR_NO_DEVICE,
                           "device index %u: only %u Vulkan device(s)", index, n);
        else
            *out = pds[index];
    } else {
        *out = pds[0];
        for (uint32_t i = 0; i < n; ++i) {
            VkPhysicalDeviceProperties p;
            ctx->vk.vkGetPhysicalDeviceProperties(pds[i], &p);
            if (p.deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU ||
                p.deviceType == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU ||
                p.deviceType == VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU) {
                *out = pds[i];
                break;
            }
        }
    }
    free(pds);
    return res;
}

/* Creates our own device with a compute queue, and 16-bit storage and VK_KHR_push_descriptor
 * where the device has them. */
/* Whether compute pipelines may ask for a subgroup size (and how many subgroups a workgroup may
 * then hold, into ctx->coopmat_max_subgroups). */
static bool pinnable_subgroups(vkattn_context ctx)
{
    if (ctx->info.api_version < VK_API_VERSION_1_3)
        return false;
    VkPhysicalDeviceSubgroupSizeControlProperties sp = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES,
    };
    VkPhysicalDeviceProperties2 p = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                     .pNext = &sp};
    ctx->vk.vkGetPhysicalDeviceProperties2(ctx->physical_device, &p);
    ctx->coopmat_max_subgroups = sp.maxComputeWorkgroupSubgroups;
    return (sp.requiredSubgroupSizeStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
           sp.maxComputeWorkgroupSubgroups > 0;
}

/* What the coopmat kernel needs of a device vkattn creates, and whether it has it all. */
typedef struct coopmat_features {
    bool enable;
    VkPhysicalDeviceCooperativeMatrixFeaturesKHR coopmat;
    VkPhysicalDeviceSubgroupSizeControlFeatures sizes; /* wanted where the size can be pinned */
    /* glslang's coopmat SPIR-V uses the memory model; once it is on, the other kernels' atomics
     * (device scope, as GLSL writes them) need its device scope too. */
    VkPhysicalDeviceVulkanMemoryModelFeatures memory_model;
    VkPhysicalDeviceMaintenance4Features maintenance4; /* SPIR-V 1.6 sizes workgroups by id */
} coopmat_features;

static void coopmat_features_want(vkattn_context ctx, bool f16_math, coopmat_features *cm)
{
    memset(cm, 0, sizeof *cm);
    cm->coopmat.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_KHR;
    cm->sizes.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES;
    cm->memory_model.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES;
    cm->maintenance4.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_4_FEATURES;
    /* The module is SPIR-V for Vulkan 1.3; its shared tiles are f16 (shaderFloat16). */
    if (!vkattn_build_has_coopmat() || !ctx->info.coopmat_f16 || !f16_math ||
        !ctx->info.fp16_storage || ctx->instance_version < VK_API_VERSION_1_3 ||
        ctx->info.api_version < VK_API_VERSION_1_3)
        return;
    cm->coopmat.pNext = &cm->sizes;
    cm->sizes.pNext = &cm->memory_model;
    cm->memory_model.pNext = &cm->maintenance4;
    VkPhysicalDeviceFeatures2 f = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
        .pNext = &cm->coopmat,
    };
    ctx->vk.vkGetPhysicalDeviceFeatures2(ctx->physical_device, &f);
    cm->coopmat.pNext = cm->sizes.pNext = cm->memory_model.pNext = cm->maintenance4.pNext = NULL;
    cm->coopmat.cooperativeMatrixRobustBufferAccess = VK_FALSE;
    cm->memory_model.vulkanMemoryModelAvailabilityVisibilityChains = VK_FALSE;
    /* Pinned to the subgroup size the shapes are reported for, with full subgroups, where the
     * device can; where it cannot and the size may vary, the kernel cannot know its layout. */
    const bool pin = cm->sizes.subgroupSizeControl && cm->sizes.computeFullSubgroups &&
                     pinnable_subgroups(ctx);
    cm->sizes.subgroupSizeControl = cm->sizes.computeFullSubgroups = pin;
    cm->enable = cm->coopmat.cooperativeMatrix && cm->memory_model.vulkanMemoryModel &&
                 cm->memory_model.vulkanMemoryModelDeviceScope &&
                 cm->maintenance4.maintenance4 &&
                 (pin || ctx->info.min_subgroup_size == ctx->info.max_subgroup_size);
}

static vkattn_result create_device(vkattn_context ctx)
{
    uint32_t nq = 0;
    ctx->vk.vkGetPhysicalDeviceQueueFamilyProperties(ctx->physical_device, &nq, NULL);
    VkQueueFamilyProperties qf[16];
    if (nq > 16)
        nq = 16;
    ctx->vk.vkGetPhysicalDeviceQueueFamilyProperties(ctx->physical_device, &nq, qf);
    uint32_t family = UINT32_MAX;
    for (uint32_t i = 0; i < nq && family == UINT32_MAX; ++i)
        if (qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT)
            family = i;
    if (family == UINT32_MAX)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_UNSUPPORTED, "device '%s' has no compute queue",
                        ctx->info.name);

    float prio = 1.0f;
    VkDeviceQueueCreateInfo qci = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
        .queueFamilyIndex = family,
        .queueCount = 1,
        .pQueuePriorities = &prio,
    };
    /* shaderFloat16 for VKATTN_PRECISION_FAST (a Vulkan 1.2 feature, or VK_KHR_shader_float16_int8
     * before; the device info reports it only where the query succeeded). */
    const bool f16_math = ctx->info.fp16_arithmetic && ctx->instance_version >= VK_API_VERSION_1_2 &&
                          ctx->info.api_version >= VK_API_VERSION_1_2;
    VkPhysicalDeviceShaderFloat16Int8Features float16 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES,
        .shaderFloat16 = VK_TRUE,
    };
    VkPhysicalDevice16BitStorageFeatures storage16 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES,
        .pNext = f16_math ? &float16 : NULL,
        .storageBuffer16BitAccess = ctx->info.fp16_storage,
    };
    VkPhysicalDeviceFeatures2 features = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
        .pNext = &storage16,
    };
    const char *exts[2];
    uint32_t n_exts = 0;
    if (ctx->info.push_descriptors)
        exts[n_exts++] = VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME;
    coopmat_features cm;
    coopmat_features_want(ctx, f16_math, &cm);
    if (cm.enable) {
        exts[n_exts++] = VK_KHR_COOPERATIVE_MATRIX_EXTENSION_NAME;
        cm.coopmat.pNext = features.pNext;
        cm.memory_model.pNext = &cm.coopmat;
        cm.maintenance4.pNext = &cm.memory_model;
        features.pNext = &cm.maintenance4;
        if (cm.sizes.subgroupSizeControl) {
            cm.sizes.pNext = features.pNext;
            features.pNext = &cm.sizes;
        }
    }
    VkDeviceCreateInfo dci = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
        .pNext = &features,
        .queueCreateInfoCount = 1,
        .pQueueCreateInfos = &qci,
        .enabledExtensionCount = n_exts,
        .ppEnabledExtensionNames = exts,
    };
    VkResult vr = ctx->vk.vkCreateDevice(ctx->physical_device, &dci, ctx->alloc, &ctx->device);
    if (vr != VK_SUCCESS)
        return vkattn__ctx_vk_fail(ctx, vr, "vkCreateDevice");
    ctx->owns_device = true;
    ctx->float16 = f16_math;
    ctx->coopmat = cm.enable;
    ctx->coopmat_pin = cm.enable && cm.sizes.subgroupSizeControl;
    ctx->queue_family = family;
    return VKATTN_SUCCESS;
}

/* Why the coopmat kernel cannot run on this context (for the error of a context that forces it). */
static const char *coopmat_missing(vkattn_context ctx, const vkattn_context_desc *d)
{
    if (!vkattn_build_has_coopmat())
        return "this build has no cooperative-matrix kernel (its glslc could not compile "
               "GL_KHR_cooperative_matrix)";
    if (!ctx->info.coopmat_shapes)
        return "the device has no VK_KHR_cooperative_matrix";
    if (!ctx->info.coopmat_f16)
        return "the device offers no f16 x f16 + f32 -> f32 shape at subgroup scope";
    if (ctx->info.api_version < VK_API_VERSION_1_3 || (ctx->owns_device && ctx->instance_version < VK_API_VERSION_1_3))
        return "the device or the instance is below Vulkan 1.3";
    if (!ctx->owns_device && !d->cooperative_matrix_enabled)
        return "the borrowed device does not say cooperative_matrix_enabled";
    return "the device lacks shaderFloat16, 16-bit storage, the cooperativeMatrix or "
           "vulkanMemoryModel (with device scope) or maintenance4 feature, or a fixed (or pinnable) subgroup size";
}

/* Everything after the device exists: the function table, the queue, the pipeline layout. */
static vkattn_result finish_device(vkattn_context ctx, const vkattn_context_desc *d)
{
    const char *missing = vkattn__vk_table_load_device(&ctx->vk, ctx->device);
    if (missing)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_UNSUPPORTED, "device function %s missing", missing);
    /* Only the app knows what its device enabled (some loaders hand out pointers for
     * extensions that are not enabled), so a borrowed device says so in the desc. */
    ctx->push_descriptors = ctx->info.push_descriptors && ctx->vk.vkCmdPushDescriptorSetKHR &&
                            (ctx->owns_device || d->push_descriptors_enabled);
    ctx->storage_16bit = ctx->info.fp16_storage && (ctx->owns_device || d->storage_16bit_enabled);
    if (!ctx->owns_device)
        ctx->float16 = ctx->info.fp16_arithmetic && d->float16_enabled;
    if (!ctx->owns_device) { /* the app vouches for the features (see the desc) */
        /* A size that may vary is pinned: the app enabled size control for it. */
        ctx->coopmat_pin = ctx->info.min_subgroup_size != ctx->info.max_subgroup_size;
        ctx->coopmat = vkattn_build_has_coopmat() && ctx->info.coopmat_f16 &&
                       d->cooperative_matrix_enabled && ctx->float16 && ctx->storage_16bit &&
                       ctx->info.api_version >= VK_API_VERSION_1_3 &&
                       (!ctx->coopmat_pin || pinnable_subgroups(ctx));
    }
    if (ctx->kernel == VKATTN_KERNEL_COOPMAT && !ctx->coopmat)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_UNSUPPORTED,
                                "kernel = coopmat: %s", coopmat_missing(ctx, d));
    if (ctx->owns_device)
        ctx->vk.vkGetDeviceQueue(ctx->device, ctx->queue_family, 0, &ctx->queue);
    VkPhysicalDeviceProperties props;
    ctx->vk.vkGetPhysicalDeviceProperties(ctx->physical_device, &props);
    ctx->limits = props.limits;
    /* Every tile is sized from this limit (plan.c), so a lower one makes the device look
     * smaller to all of them. */
    if (ctx->max_shared_memory && ctx->max_shared_memory < ctx->limits.maxComputeSharedMemorySize)
        ctx->limits.maxComputeSharedMemorySize = ctx->max_shared_memory;
    /* Every kernel's set binds ATTN_BIND_COUNT storage buffers (Vulkan promises only 4). */
    if (ctx->limits.maxPerStageDescriptorStorageBuffers < ATTN_BIND_COUNT ||
        ctx->limits.maxPerStageResources < ATTN_BIND_COUNT)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_UNSUPPORTED,
                                "device '%s' binds %u storage buffers per shader stage: the kernels "
                                "need %u", ctx->info.name,
                                ctx->limits.maxPerStageDescriptorStorageBuffers, ATTN_BIND_COUNT);
    ctx->vk.vkGetPhysicalDeviceMemoryProperties(ctx->physical_device, &ctx->mem_props);
    if (d->pipeline_cache != VK_NULL_HANDLE) {
        ctx->pipeline_cache = d->pipeline_cache;
    } else {
        /* A blob from vkattn_pipeline_cache_data() of an earlier run; drivers ignore one made
         * by another device or driver version. */
        VkPipelineCacheCreateInfo pci = {
            .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
            .initialDataSize = d->pipeline_cache_data ? d->pipeline_cache_size : 0,
            .pInitialData = d->pipeline_cache_data,
        };
        VkResult vr = ctx->vk.vkCreatePipelineCache(ctx->device, &pci, ctx->alloc,
                                                    &ctx->pipeline_cache);
        if (vr != VK_SUCCESS)
            return vkattn__ctx_vk_fail(ctx, vr, "vkCreatePipelineCache");
        ctx->owns_pipeline_cache = true;
    }
    vkattn_result res = vkattn__pipeline_layout_create(ctx);
    if (res == VKATTN_SUCCESS)
        vkattn__plan_device_fill(ctx);
    return res;
}

void vkattn__plan_device_fill(vkattn_context ctx)
{
    ctx->dev = (plan_device){
        .info = ctx->info,
        .limits = ctx->limits,
        .storage_16bit = ctx->storage_16bit,
        .float16 = ctx->float16,
        .coopmat = ctx->coopmat,
        .coopmat_pin = ctx->coopmat_pin,
        .coopmat_max_subgroups = ctx->coopmat_max_subgroups,
        .texel_layout = ctx->pipeline_layout_texel != VK_NULL_HANDLE,
        .kernel = ctx->kernel,
        .decode_parts = ctx->decode_parts,
        .tuning = &ctx->tuning,
    };
}

/* Sets *use_cpu (and returns success) where the default choice falls back to the CPU: asked for
 * through VKATTN_DEVICE=cpu, or no Vulkan loader, driver or device at all. */
static vkattn_result create_standalone(vkattn_context ctx, const vkattn_context_desc *d,
                                       bool *use_cpu)
{
    const char *env = getenv("VKATTN_DEVICE");
    bool may_fall_back = d->kind == VKATTN_DEVICE_DEFAULT && !env;
    if (d->kind == VKATTN_DEVICE_DEFAULT && env && strcmp(env, "cpu") == 0) {
        *use_cpu = true; /* no Vulkan needed, nor wanted */
        return VKATTN_SUCCESS;
    }
    vkattn_result res = create_instance(ctx, d->validation);
    if (res == VKATTN_SUCCESS)
        res = pick_device(ctx, d, &ctx->physical_device, use_cpu);
    if (*use_cpu || (res == VKATTN_ERROR_NO_DEVICE && may_fall_back)) {
        *use_cpu = true;
        return VKATTN_SUCCESS;
    }
    if (res != VKATTN_SUCCESS)
        return res;
    vkattn__device_info_fill(&ctx->vk, ctx->physical_device, &ctx->info);
    if (ctx->info.api_version < VK_API_VERSION_1_1)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_UNSUPPORTED, "device '%s' is below Vulkan 1.1",
                        ctx->info.name);
    res = create_device(ctx);
    if (res != VKATTN_SUCCESS)
        return res;
    return finish_device(ctx, d);
}

static vkattn_result create_borrowed(vkattn_context ctx, const vkattn_context_desc *d)
{
    if (!d->instance || !d->physical_device || !d->device || !d->get_instance_proc_addr)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_INVALID_ARGUMENT,
                        "borrowed context: instance, physical_device, device and "
                        "get_instance_proc_addr are all required");
    ctx->instance = d->instance;
    ctx->physical_device = d->physical_device;
    ctx->device = d->device;
    ctx->queue_family = d->queue_family;
    ctx->queue = d->queue;
    const char *missing = vkattn__vk_table_load_instance(&ctx->vk, d->get_instance_proc_addr, d->instance);
    if (missing)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_INVALID_ARGUMENT,
                        "get_instance_proc_addr gives no %s", missing);
    vkattn__device_info_fill(&ctx->vk, ctx->physical_device, &ctx->info);
    return finish_device(ctx, d);
}

static void cpu_info(vkattn_device_info *info)
{
    memset(info, 0, sizeof *info);
    snprintf(info->name, sizeof info->name, "cpu");
    snprintf(info->driver, sizeof info->driver, "vkattn CPU reference");
    info->type = VK_PHYSICAL_DEVICE_TYPE_CPU;
    info->fp16_storage = true;
    info->max_buffer_range = UINT32_MAX;
}

static void release(vkattn_context ctx)
{
    if (ctx->device) {
        if (ctx->conv_destroy)
            ctx->conv_destroy(ctx);
        vkattn__descriptors_destroy(ctx);
        vkattn__pipelines_destroy(ctx);
        if (ctx->owns_pipeline_cache)
            ctx->vk.vkDestroyPipelineCache(ctx->device, ctx->pipeline_cache, ctx->alloc);
        if (ctx->owns_device)
            ctx->vk.vkDestroyDevice(ctx->device, ctx->alloc);
    }
    if (ctx->messenger)
        ctx->vk.vkDestroyDebugUtilsMessengerEXT(ctx->instance, ctx->messenger, ctx->alloc);
    if (ctx->owns_instance)
        ctx->vk.vkDestroyInstance(ctx->instance, ctx->alloc);
    pthread_mutex_destroy(&ctx->lock);
    pthread_mutex_destroy(&ctx->msg_lock);
    free(ctx);
}

vkattn_result vkattn_context_create(const vkattn_context_desc *desc, vkattn_context *out)
{
    static const vkattn_context_desc defaults = {0};
    const vkattn_context_desc *d = desc ? desc : &defaults;
    if (d->message && d->message_size > 0)
        d->message[0] = '\0';
    if (!out)
        return VKATTN_ERROR_INVALID_ARGUMENT;
    *out = NULL;
    if ((unsigned)d->kind > VKATTN_DEVICE_BORROWED || (unsigned)d->kernel > VKATTN_KERNEL_COOPMAT) {
        if (d->message && d->message_size > 0)
            snprintf(d->message, d->message_size, "%s = %d: out of range",
                     (unsigned)d->kernel > VKATTN_KERNEL_COOPMAT ? "kernel" : "kind",
                     (unsigned)d->kernel > VKATTN_KERNEL_COOPMAT ? (int)d->kernel : (int)d->kind);
        return VKATTN_ERROR_INVALID_ARGUMENT;
    }
    if (d->decode_parts > 8 || (d->decode_parts & (d->decode_parts - 1)) != 0) {
        if (d->message && d->message_size > 0)
            snprintf(d->message, d->message_size,
                     "decode_parts = %u: expected 0 (automatic), 1, 2, 4 or 8", d->decode_parts);
        return VKATTN_ERROR_INVALID_ARGUMENT;
    }
    if (d->max_shared_memory != 0 && d->max_shared_memory < 16384) {
        if (d->message && d->message_size > 0)
            snprintf(d->message, d->message_size,
                     "max_shared_memory = %u: expected 0 (the device's) or at least 16384",
                     d->max_shared_memory);
        return VKATTN_ERROR_INVALID_ARGUMENT;
    }

    vkattn_context ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return VKATTN_ERROR_OUT_OF_HOST_MEMORY;
    if (pthread_mutex_init(&ctx->lock, NULL) != 0) {
        free(ctx);
        return VKATTN_ERROR_OUT_OF_HOST_MEMORY;
    }
    if (pthread_mutex_init(&ctx->msg_lock, NULL) != 0) {
        pthread_mutex_destroy(&ctx->lock);
        free(ctx);
        return VKATTN_ERROR_OUT_OF_HOST_MEMORY;
    }
    ctx->alloc = d->allocator;
    ctx->kernel = d->kernel;
    ctx->decode_parts = d->decode_parts;
    ctx->max_shared_memory = d->max_shared_memory;
    ctx->on_message = d->on_message;
    ctx->user = d->user;

    vkattn_result res = VKATTN_SUCCESS;
    bool use_cpu = d->kind == VKATTN_DEVICE_CPU;
    if (d->kind == VKATTN_DEVICE_BORROWED)
        res = create_borrowed(ctx, d);
    else if (!use_cpu)
        res = create_standalone(ctx, d, &use_cpu);
    if (res == VKATTN_SUCCESS && use_cpu) {
        /* The CPU reference: drop whatever Vulkan state was made on the way. */
        if (ctx->messenger)
            ctx->vk.vkDestroyDebugUtilsMessengerEXT(ctx->instance, ctx->messenger, ctx->alloc);
        if (ctx->owns_instance)
            ctx->vk.vkDestroyInstance(ctx->instance, ctx->alloc);
        memset(&ctx->vk, 0, sizeof ctx->vk);
        ctx->messenger = VK_NULL_HANDLE;
        ctx->instance = VK_NULL_HANDLE;
        ctx->owns_instance = false;
        ctx->physical_device = VK_NULL_HANDLE;
        ctx->cpu = true;
        cpu_info(&ctx->info);
        ctx->message[0] = '\0';
        if (ctx->kernel == VKATTN_KERNEL_COOPMAT)
            res = vkattn__ctx_fail(ctx, VKATTN_ERROR_UNSUPPORTED,
                                   "kernel = coopmat: a CPU context runs the reference, no kernels");
    }
    if (res != VKATTN_SUCCESS) {
        if (d->message && d->message_size > 0)
            snprintf(d->message, d->message_size, "%s", ctx->message);
        release(ctx);
        return res;
    }
    *out = ctx;
    return VKATTN_SUCCESS;
}

void vkattn_context_destroy(vkattn_context ctx)
{
    if (ctx)
        release(ctx);
}
