/* vk_tool.h: one loader for the tool and the tests. */
#include "vk_tool.h"

#include <stdio.h>
#include <string.h>

int vk_tool_load(vk_table *t, const vkattn_vulkan_handles *h, char *err, size_t err_size)
{
    memset(t, 0, sizeof *t);
    const char *missing =
        vkattn__vk_table_load_instance(t, h->get_instance_proc_addr, h->instance);
    if (!missing && h->device)
        missing = vkattn__vk_table_load_device(t, h->device);
    if (missing) {
        snprintf(err, err_size, "the Vulkan loader gives no %s", missing);
        return -1;
    }
    return 0;
}

int vk_tool_load_context(vk_table *t, vkattn_context ctx, vkattn_vulkan_handles *h, char *err,
                         size_t err_size)
{
    if (vkattn_context_vulkan(ctx, h) != VKATTN_SUCCESS) {
        snprintf(err, err_size, "the context has no Vulkan handles: %s",
                 vkattn_context_message(ctx));
        return -1;
    }
    return vk_tool_load(t, h, err, err_size);
}
