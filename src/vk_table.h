/* The Vulkan functions vkattn calls, loaded per context through the app's (or the loader's)
 * vkGetInstanceProcAddr, so the library never clashes with an engine that loads Vulkan itself. */
#ifndef VKATTN_VK_TABLE_H
#define VKATTN_VK_TABLE_H

#include <vulkan/vulkan_core.h>

#include "coopmat_vk.h"

/* Functions of the instance (loaded with the instance). */
#define VK_INSTANCE_FUNCS(X)                      \
    X(vkDestroyInstance)                          \
    X(vkEnumeratePhysicalDevices)                 \
    X(vkGetPhysicalDeviceProperties)              \
    X(vkGetPhysicalDeviceProperties2)             \
    X(vkGetPhysicalDeviceFeatures2)               \
    X(vkGetPhysicalDeviceQueueFamilyProperties)   \
    X(vkGetPhysicalDeviceMemoryProperties)        \
    X(vkGetPhysicalDeviceFormatProperties)        \
    X(vkEnumerateDeviceExtensionProperties)       \
    X(vkCreateDevice)                             \
    X(vkGetDeviceProcAddr)

/* Optional instance functions (debug messenger, cooperative-matrix shapes). */
#define VK_INSTANCE_OPT_FUNCS(X)                  \
    X(vkCreateDebugUtilsMessengerEXT)             \
    X(vkDestroyDebugUtilsMessengerEXT)            \
    X(vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR)

/* Functions of the device (loaded with vkGetDeviceProcAddr). */
#define VK_DEVICE_FUNCS(X)                        \
    X(vkDestroyDevice)                            \
    X(vkGetDeviceQueue)                           \
    X(vkCreateShaderModule)                       \
    X(vkDestroyShaderModule)                      \
    X(vkCreateBufferView)                         \
    X(vkDestroyBufferView)                        \
    X(vkCreateDescriptorSetLayout)                \
    X(vkDestroyDescriptorSetLayout)               \
    X(vkCreatePipelineLayout)                     \
    X(vkDestroyPipelineLayout)                    \
    X(vkCreateComputePipelines)                   \
    X(vkDestroyPipeline)                          \
    X(vkCreatePipelineCache)                      \
    X(vkDestroyPipelineCache)                     \
    X(vkGetPipelineCacheData)                     \
    X(vkCreateDescriptorPool)                     \
    X(vkDestroyDescriptorPool)                    \
    X(vkAllocateDescriptorSets)                   \
    X(vkFreeDescriptorSets)                       \
    X(vkUpdateDescriptorSets)                     \
    X(vkCmdBindDescriptorSets)                    \
    X(vkCmdBindPipeline)                          \
    X(vkCmdPushConstants)                         \
    X(vkCmdDispatch)                              \
    X(vkCmdPipelineBarrier)                       \
    X(vkCmdCopyBuffer)                            \
    X(vkCreateBuffer)                             \
    X(vkDestroyBuffer)                            \
    X(vkGetBufferMemoryRequirements)              \
    X(vkAllocateMemory)                           \
    X(vkFreeMemory)                               \
    X(vkBindBufferMemory)                         \
    X(vkMapMemory)                                \
    X(vkUnmapMemory)                              \
    X(vkFlushMappedMemoryRanges)                  \
    X(vkInvalidateMappedMemoryRanges)             \
    X(vkCreateCommandPool)                        \
    X(vkDestroyCommandPool)                       \
    X(vkAllocateCommandBuffers)                   \
    X(vkFreeCommandBuffers)                       \
    X(vkBeginCommandBuffer)                       \
    X(vkEndCommandBuffer)                         \
    X(vkResetCommandPool)                         \
    X(vkQueueSubmit)                              \
    X(vkCreateFence)                              \
    X(vkDestroyFence)                             \
    X(vkWaitForFences)                            \
    X(vkResetFences)

/* Optional device functions: NULL when the device does not have (or enable) the extension. */
#define VK_DEVICE_OPT_FUNCS(X)                    \
    X(vkCmdPushDescriptorSetKHR)

/* Device functions the library never calls and the tool and its tests do (timestamps, fills,
 * waiting for the queue): in the same table, so that they have one loader too. NULL if missing. */
#define VK_DEVICE_TOOL_FUNCS(X)                   \
    X(vkCreateQueryPool)                          \
    X(vkDestroyQueryPool)                         \
    X(vkGetQueryPoolResults)                      \
    X(vkCmdResetQueryPool)                        \
    X(vkCmdWriteTimestamp)                        \
    X(vkCmdFillBuffer)                            \
    X(vkResetCommandBuffer)                       \
    X(vkQueueWaitIdle)

#define VK_DECLARE_PFN(name) PFN_##name name;

typedef struct vk_table {
    PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr;
    VK_INSTANCE_FUNCS(VK_DECLARE_PFN)
    VK_INSTANCE_OPT_FUNCS(VK_DECLARE_PFN)
    VK_DEVICE_FUNCS(VK_DECLARE_PFN)
    VK_DEVICE_OPT_FUNCS(VK_DECLARE_PFN)
    VK_DEVICE_TOOL_FUNCS(VK_DECLARE_PFN)
} vk_table;

/* Loads the instance functions; returns the name of the first one missing, or NULL. */
const char *vkattn__vk_table_load_instance(vk_table *t, PFN_vkGetInstanceProcAddr gipa, VkInstance inst);
/* Loads the device functions; returns the name of the first one missing, or NULL. */
const char *vkattn__vk_table_load_device(vk_table *t, VkDevice dev);
/* VkResult's name ("VK_ERROR_DEVICE_LOST"; "VkResult" for others): error.c. */
const char *vkattn__vk_result_name(VkResult vr);
/* Both, on inst and (when not VK_NULL_HANDLE) dev: for the tool and the tests, which load the
 * functions of a context's handles (vkattn_context_vulkan). */
const char *vkattn__vk_table_load(vk_table *t, PFN_vkGetInstanceProcAddr gipa, VkInstance inst,
                                  VkDevice dev);
/* The first memory type among bits with every flag of want, or -1. */
int vkattn__memory_type(const VkPhysicalDeviceMemoryProperties *mp, uint32_t bits,
                        VkMemoryPropertyFlags want);

#endif
