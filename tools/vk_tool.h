/* The tool's and the tests' Vulkan functions: the library's table (src/vk_table.h), loaded on
 * the handles of a context, so that no file of theirs keeps a loader of its own. */
#ifndef VKATTN_TOOLS_VK_TOOL_H
#define VKATTN_TOOLS_VK_TOOL_H

#include <stddef.h>

#include "src/vk_table.h"
#include "vkattn/vkattn.h"

/* Loads t on h's instance and device (the device functions only where h.device is set).
 * Returns 0, or -1 with err naming the function missing. */
int vk_tool_load(vk_table *t, const vkattn_vulkan_handles *h, char *err, size_t err_size);

/* The functions of ctx's device (vkattn_context_vulkan): 0, or -1 with err. */
int vk_tool_load_context(vk_table *t, vkattn_context ctx, vkattn_vulkan_handles *h, char *err,
                         size_t err_size);

#endif
