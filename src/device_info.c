/* What a physical device offers, for device choice, tile sizes and `vkattn info`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coopmat_shapes.h"
#include "internal.h"

extern VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL vkGetInstanceProcAddr(VkInstance, const char *);

static bool has_extension(const VkExtensionProperties *exts, uint32_t n, const char *name)
{
    for (uint32_t i = 0; i < n; ++i)
        if (strcmp(exts[i].extensionName, name) == 0)
            return true;
    return false;
}

uint32_t vkattn__coopmat_pick(const VkCooperativeMatrixPropertiesKHR *props, uint32_t n)
{
    /* The first shape of the kernel's list (in order of preference) the device offers. */
    static const uint32_t kernel_shapes[][3] = {
#define SHAPE(m, n, k) {m, n, k},
        VKATTN_COOPMAT_SHAPES(SHAPE)
#undef SHAPE
    };
    for (size_t s = 0; s < sizeof kernel_shapes / sizeof kernel_shapes[0]; ++s)
        for (uint32_t i = 0; i < n; ++i) {
            const VkCooperativeMatrixPropertiesKHR *c = &props[i];
            if (c->AType == VK_COMPONENT_TYPE_FLOAT16_KHR &&
                c->BType == VK_COMPONENT_TYPE_FLOAT16_KHR &&
                c->CType == VK_COMPONENT_TYPE_FLOAT32_KHR &&
                c->ResultType == VK_COMPONENT_TYPE_FLOAT32_KHR && c->scope == VK_SCOPE_SUBGROUP_KHR &&
                !c->saturatingAccumulation && c->MSize == kernel_shapes[s][0] &&
                c->NSize == kernel_shapes[s][1] && c->KSize == kernel_shapes[s][2])
                return i;
        }
    return UINT32_MAX;
}

vkattn_result vkattn__coopmat_query(const vk_table *vk, VkPhysicalDevice pd,
                                    VkCooperativeMatrixPropertiesKHR **out, uint32_t *n)
{
    *out = NULL;
    *n = 0;
    if (!vk->vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR)
        return VKATTN_SUCCESS;
    uint32_t count = 0;
    if (vk->vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR(pd, &count, NULL) != VK_SUCCESS)
        return VKATTN_ERROR_VULKAN;
    if (count == 0)
        return VKATTN_SUCCESS;
    VkCooperativeMatrixPropertiesKHR *props = calloc(count, sizeof *props);
    if (!props)
        return VKATTN_ERROR_OUT_OF_HOST_MEMORY;
    for (uint32_t i = 0; i < count; ++i)
        props[i].sType = VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_KHR;
    VkResult vr = vk->vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR(pd, &count, props);
    if (vr != VK_SUCCESS && vr != VK_INCOMPLETE) {
        free(props);
        return VKATTN_ERROR_VULKAN;
    }
    *out = props;
    *n = count;
    return VKATTN_SUCCESS;
}

/* The cooperative-matrix fields of info (the extension is known to be there). */
static void coopmat_fill(const vk_table *vk, VkPhysicalDevice pd, vkattn_device_info *info)
{
    VkCooperativeMatrixPropertiesKHR *props;
    uint32_t n;
    if (vkattn__coopmat_query(vk, pd, &props, &n) != VKATTN_SUCCESS)
        return;
    info->coopmat_shapes = n;
    const uint32_t pick = vkattn__coopmat_pick(props, n);
    if (pick != UINT32_MAX) {
        info->coopmat_f16 = true;
        info->coopmat_m = props[pick].MSize;
        info->coopmat_n = props[pick].NSize;
        info->coopmat_k = props[pick].KSize;
    }
    free(props);
}

void vkattn__device_info_fill(const vk_table *vk, VkPhysicalDevice pd, vkattn_device_info *info)
{
    memset(info, 0, sizeof *info);
    VkPhysicalDeviceDriverProperties driver = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES,
    };
    VkPhysicalDeviceSubgroupProperties subgroup = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES,
    };
    VkPhysicalDeviceProperties2 props = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
        .pNext = &subgroup,
    };
    uint32_t next = 0;
    VkExtensionProperties *exts = NULL;
    if (vk->vkEnumerateDeviceExtensionProperties(pd, NULL, &next, NULL) == VK_SUCCESS && next)
        exts = calloc(next, sizeof *exts);
    if (exts && vk->vkEnumerateDeviceExtensionProperties(pd, NULL, &next, exts) != VK_SUCCESS)
        next = 0;
    if (!exts)
        next = 0;
    /* The chain holds only structs the device knows: driver properties are core in 1.2 and
     * subgroup size control in 1.3, extensions before. */
    VkPhysicalDeviceSubgroupSizeControlProperties sizes = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES,
    };
    VkPhysicalDeviceProperties base;
    vk->vkGetPhysicalDeviceProperties(pd, &base);
    void **tail = &subgroup.pNext;
    if (base.apiVersion >= VK_API_VERSION_1_2 ||
        has_extension(exts, next, VK_KHR_DRIVER_PROPERTIES_EXTENSION_NAME)) {
        *tail = &driver;
        tail = &driver.pNext;
    }
    if (base.apiVersion >= VK_API_VERSION_1_3 ||
        has_extension(exts, next, VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME))
        *tail = &sizes;
    vk->vkGetPhysicalDeviceProperties2(pd, &props);

    VkPhysicalDeviceShaderFloat16Int8Features f16 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES,
    };
    VkPhysicalDevice16BitStorageFeatures storage16 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES,
    };
    VkPhysicalDeviceFeatures2 features = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
        .pNext = &storage16,
    };
    if (props.properties.apiVersion >= VK_API_VERSION_1_2 ||
        has_extension(exts, next, VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME))
        storage16.pNext = &f16;
    vk->vkGetPhysicalDeviceFeatures2(pd, &features);

    const VkPhysicalDeviceProperties *p = &props.properties;
    snprintf(info->name, sizeof info->name, "%s", p->deviceName);
    if (driver.driverName[0])
        snprintf(info->driver, sizeof info->driver, "%.120s %.120s", driver.driverName,
                 driver.driverInfo);
    else
        snprintf(info->driver, sizeof info->driver, "driver 0x%x", p->driverVersion);
    info->type = p->deviceType;
    info->vendor_id = p->vendorID;
    info->device_id = p->deviceID;
    info->api_version = p->apiVersion;
    info->driver_version = p->driverVersion;
    info->subgroup_size = subgroup.subgroupSize;
    info->min_subgroup_size = sizes.minSubgroupSize ? sizes.minSubgroupSize : subgroup.subgroupSize;
    info->max_subgroup_size = sizes.maxSubgroupSize ? sizes.maxSubgroupSize : subgroup.subgroupSize;
    info->shared_memory = p->limits.maxComputeSharedMemorySize;
    info->max_buffer_range = p->limits.maxStorageBufferRange;
    info->subgroup_shuffle = (subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                             (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_SHUFFLE_BIT);
    info->subgroup_reduce = (subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                            (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT) &&
                            (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_VOTE_BIT);
    info->fp16_storage = storage16.storageBuffer16BitAccess;
    info->fp16_arithmetic = f16.shaderFloat16;
    info->push_descriptors = has_extension(exts, next, VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME);
    info->cooperative_matrix = has_extension(exts, next, "VK_KHR_cooperative_matrix") ||
                               has_extension(exts, next, "VK_NV_cooperative_matrix");
    if (has_extension(exts, next, VK_KHR_COOPERATIVE_MATRIX_EXTENSION_NAME))
        coopmat_fill(vk, pd, info);
    free(exts);
}

vkattn_result vkattn_enumerate_devices(vkattn_device_info *infos, uint32_t *count)
{
    if (!count)
        return VKATTN_ERROR_INVALID_ARGUMENT;
    uint32_t cap = infos ? *count : 0;
    *count = 0;
    PFN_vkCreateInstance create =
        (PFN_vkCreateInstance)vkGetInstanceProcAddr(NULL, "vkCreateInstance");
    if (!create)
        return VKATTN_ERROR_NO_DEVICE;
    VkApplicationInfo app = {
        .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
        .pEngineName = "vkattn",
        .apiVersion = VK_API_VERSION_1_1,
    };
    VkInstanceCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
        .pApplicationInfo = &app,
    };
    VkInstance inst;
    if (create(&ci, NULL, &inst) != VK_SUCCESS)
        return VKATTN_ERROR_NO_DEVICE;
    vk_table vk;
    vkattn_result res = VKATTN_SUCCESS;
    uint32_t n = 0;
    VkPhysicalDevice *pds = NULL;
    if (vkattn__vk_table_load_instance(&vk, vkGetInstanceProcAddr, inst) != NULL) {
        PFN_vkDestroyInstance destroy =
            (PFN_vkDestroyInstance)vkGetInstanceProcAddr(inst, "vkDestroyInstance");
        if (destroy)
            destroy(inst, NULL);
        return VKATTN_ERROR_UNSUPPORTED;
    }
    if (vk.vkEnumeratePhysicalDevices(inst, &n, NULL) != VK_SUCCESS || n == 0) {
        res = VKATTN_ERROR_NO_DEVICE;
    } else if (!(pds = calloc(n, sizeof *pds))) {
        res = VKATTN_ERROR_OUT_OF_HOST_MEMORY;
    } else {
        VkResult vr = vk.vkEnumeratePhysicalDevices(inst, &n, pds);
        if (vr != VK_SUCCESS && vr != VK_INCOMPLETE) {
            res = VKATTN_ERROR_VULKAN;
        } else {
            for (uint32_t i = 0; i < n && i < cap; ++i)
                vkattn__device_info_fill(&vk, pds[i], &infos[i]);
            *count = n;
        }
    }
    free(pds);
    vk.vkDestroyInstance(inst, NULL);
    return res;
}

vkattn_result vkattn_coopmat_shapes(vkattn_context ctx, vkattn_coopmat_shape *shapes,
                                    uint32_t *count)
{
    if (!ctx || !count)
        return VKATTN_ERROR_INVALID_ARGUMENT;
    const uint32_t cap = shapes ? *count : 0;
    *count = 0;
    if (ctx->cpu || !ctx->info.coopmat_shapes)
        return VKATTN_SUCCESS;
    VkCooperativeMatrixPropertiesKHR *props;
    uint32_t n;
    vkattn_result res = vkattn__coopmat_query(&ctx->vk, ctx->physical_device, &props, &n);
    if (res != VKATTN_SUCCESS)
        return vkattn__ctx_fail(ctx, res, "vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR failed");
    const uint32_t used = ctx->coopmat ? vkattn__coopmat_pick(props, n) : UINT32_MAX;
    for (uint32_t i = 0; i < n && i < cap; ++i)
        shapes[i] = (vkattn_coopmat_shape){
            .m = props[i].MSize, .n = props[i].NSize, .k = props[i].KSize,
            .a_type = (uint32_t)props[i].AType, .b_type = (uint32_t)props[i].BType,
            .c_type = (uint32_t)props[i].CType, .result_type = (uint32_t)props[i].ResultType,
            .scope = (uint32_t)props[i].scope, .used = i == used,
        };
    *count = n;
    free(props);
    return VKATTN_SUCCESS;
}
