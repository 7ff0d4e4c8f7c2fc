/* The context's error message: every failing call records what failed, in one line, for
 * vkattn_context_message. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

vkattn_result vkattn__ctx_fail(vkattn_context ctx, vkattn_result code, const char *fmt, ...)
{
    if (ctx) {
        char msg[CTX_MESSAGE_SIZE];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        pthread_mutex_lock(&ctx->msg_lock);
        memcpy(ctx->message, msg, sizeof msg);
        pthread_mutex_unlock(&ctx->msg_lock);
    }
    return code;
}

const char *vkattn__vk_result_name(VkResult vr)
{
    switch (vr) {
#define N(x) case x: return #x;
    N(VK_SUCCESS) N(VK_NOT_READY) N(VK_TIMEOUT) N(VK_INCOMPLETE)
    N(VK_ERROR_OUT_OF_HOST_MEMORY) N(VK_ERROR_OUT_OF_DEVICE_MEMORY)
    N(VK_ERROR_INITIALIZATION_FAILED) N(VK_ERROR_DEVICE_LOST) N(VK_ERROR_MEMORY_MAP_FAILED)
    N(VK_ERROR_LAYER_NOT_PRESENT) N(VK_ERROR_EXTENSION_NOT_PRESENT)
    N(VK_ERROR_FEATURE_NOT_PRESENT) N(VK_ERROR_INCOMPATIBLE_DRIVER)
    N(VK_ERROR_TOO_MANY_OBJECTS) N(VK_ERROR_UNKNOWN)
#undef N
    default: return "VkResult";
    }
}

vkattn_result vkattn__ctx_vk_fail(vkattn_context ctx, VkResult vr, const char *what)
{
    vkattn_result code = VKATTN_ERROR_VULKAN;
    if (vr == VK_ERROR_OUT_OF_HOST_MEMORY)
        code = VKATTN_ERROR_OUT_OF_HOST_MEMORY;
    else if (vr == VK_ERROR_OUT_OF_DEVICE_MEMORY)
        code = VKATTN_ERROR_OUT_OF_DEVICE_MEMORY;
    else if (vr == VK_ERROR_DEVICE_LOST)
        code = VKATTN_ERROR_DEVICE_LOST;
    return vkattn__ctx_fail(ctx, code, "%s failed: %s (%d)", what, vkattn__vk_result_name(vr), (int)vr);
}

const char *vkattn_context_message(vkattn_context ctx)
{
    return ctx ? ctx->message : "";
}
