/* The Vulkan function table's loader (vk_table.h), shared by the library, the tool and the
 * tests, and the memory-type search they share. */
#include "vk_table.h"

#include <stddef.h>

const char *vkattn__vk_table_load_instance(vk_table *t, PFN_vkGetInstanceProcAddr gipa, VkInstance inst)
{
    t->vkGetInstanceProcAddr = gipa;
#define LOAD(name)                                                  \
    t->name = (PFN_##name)gipa(inst, #name);                        \
    if (!t->name)                                                   \
        return #name;
    VK_INSTANCE_FUNCS(LOAD)
#undef LOAD
#define LOAD_OPT(name) t->name = (PFN_##name)gipa(inst, #name);
    VK_INSTANCE_OPT_FUNCS(LOAD_OPT)
#undef LOAD_OPT
    return NULL;
}

const char *vkattn__vk_table_load_device(vk_table *t, VkDevice dev)
{
#define LOAD(name)                                                  \
    t->name = (PFN_##name)t->vkGetDeviceProcAddr(dev, #name);       \
    if (!t->name)                                                   \
        return #name;
    VK_DEVICE_FUNCS(LOAD)
#undef LOAD
#define LOAD_OPT(name) t->name = (PFN_##name)t->vkGetDeviceProcAddr(dev, #name);
    VK_DEVICE_OPT_FUNCS(LOAD_OPT)
    VK_DEVICE_TOOL_FUNCS(LOAD_OPT)
#undef LOAD_OPT
    return NULL;
}

const char *vkattn__vk_table_load(vk_table *t, PFN_vkGetInstanceProcAddr gipa, VkInstance inst,
                                  VkDevice dev)
{
    const char *missing = vkattn__vk_table_load_instance(t, gipa, inst);
    return missing || !dev ? missing : vkattn__vk_table_load_device(t, dev);
}

int vkattn__memory_type(const VkPhysicalDeviceMemoryProperties *mp, uint32_t bits,
                        VkMemoryPropertyFlags want)
{
    for (uint32_t i = 0; i < mp->memoryTypeCount; ++i)
        if ((bits & (1u << i)) && (mp->memoryTypes[i].propertyFlags & want) == want)
            return (int)i;
    return -1;
}
