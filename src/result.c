#include "vkattn/vkattn.h"

const char *vkattn_result_string(vkattn_result result)
{
    switch (result) {
    case VKATTN_SUCCESS: return "success";
    case VKATTN_ERROR_INVALID_ARGUMENT: return "invalid argument";
    case VKATTN_ERROR_UNSUPPORTED: return "unsupported by the device";
    case VKATTN_ERROR_OUT_OF_HOST_MEMORY: return "out of host memory";
    case VKATTN_ERROR_OUT_OF_DEVICE_MEMORY: return "out of device memory";
    case VKATTN_ERROR_DEVICE_LOST: return "device lost";
    case VKATTN_ERROR_NO_DEVICE: return "no Vulkan device";
    case VKATTN_ERROR_VULKAN: return "Vulkan error";
    }
    return "unknown result";
}

const char *vkattn_kernel_name(vkattn_kernel kernel)
{
    static const char *const names[] = {"auto", "rowwise", "tiled", "split-kv", "coopmat"};
    return (unsigned)kernel < sizeof names / sizeof names[0] ? names[kernel] : "?";
}
