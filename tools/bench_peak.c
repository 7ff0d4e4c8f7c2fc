/* The peak micro-kernels of `vkattn bench --peak` (see bench_peak.h). Each kernel fills the
 * device with workgroups; the FMA kernel's loop count is scaled until one run takes about
 * TARGET_MS, and each peak is the best of a few timed runs (GPU timestamps, by bench_gpu). The
 * bandwidth is the higher of a streaming read (through a texel view, as the kernels read K and V
 * on CPU drivers) and a streaming copy (storage buffers). */
#include "bench_peak.h"
#include "src/vk_table.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_gpu.h"
#include "shaders/peak_params.h"

static const uint32_t peak_fma_f32_spv[] =
#include "shaders/peak_fma_f32.spv.h"
    ;
static const uint32_t peak_fma_f16_spv[] =
#include "shaders/peak_fma_f16.spv.h"
    ;
static const uint32_t peak_copy_spv[] =
#include "shaders/peak_copy.spv.h"
    ;
static const uint32_t peak_read_spv[] =
#include "shaders/peak_read.spv.h"
    ;

#define TARGET_MS 20.0   /* one timed run: long against the ~50 us of a submit and wait */
#define FMA_GROUPS 8192  /* 512 Ki invocations: enough to fill any GPU */
#define FMA_GROUPS_CPU 256 /* a CPU device runs a workgroup per thread, at a cost per workgroup */
#define FMA_RUNS 3
#define COPY_RUNS 5
#define COPY_GROUPS_MAX 16384

/* The second device: the context's physical device and queue family, with shaderFloat16 enabled
 * when the device has it. */
typedef struct peak_device {
    vkattn_vulkan_handles h;
    vk_table vk;                   /* the instance's functions, then this device's */
    bool f16;
    const char *f16_missing;       /* why f16 is false */
    uint32_t max_texels;           /* maxTexelBufferElements */
} peak_device;

static bool has_extension(const VkExtensionProperties *e, uint32_t n, const char *name)
{
    for (uint32_t i = 0; i < n; ++i)
        if (strcmp(e[i].extensionName, name) == 0)
            return true;
    return false;
}

static int device_create(vkattn_context ctx, peak_device *d, char *err, size_t err_size)
{
    memset(d, 0, sizeof *d);
    if (vkattn_context_vulkan(ctx, &d->h) != VKATTN_SUCCESS) {
        snprintf(err, err_size, "the context has no Vulkan handles: %s",
                 vkattn_context_message(ctx));
        return -1;
    }
    vkattn_device_info info;
    vkattn_context_device_info(ctx, &info);
    /* The instance's functions only: the device is made here. */
    const char *missing =
        vkattn__vk_table_load(&d->vk, d->h.get_instance_proc_addr, d->h.instance, VK_NULL_HANDLE);
    if (missing) {
        snprintf(err, err_size, "the Vulkan loader gives no %s", missing);
        return -1;
    }
    const PFN_vkEnumerateDeviceExtensionProperties enum_ext =
        d->vk.vkEnumerateDeviceExtensionProperties;
    const PFN_vkCreateDevice create = d->vk.vkCreateDevice;

    VkPhysicalDeviceProperties pdp;
    d->vk.vkGetPhysicalDeviceProperties(d->h.physical_device, &pdp);
    d->max_texels = pdp.limits.maxTexelBufferElements;

    /* shaderFloat16 is core in 1.2 and VK_KHR_shader_float16_int8 before; the extension is
     * enabled whenever the device lists it, which is valid either way. */
    uint32_t n = 0;
    VkExtensionProperties *exts = NULL;
    if (enum_ext(d->h.physical_device, NULL, &n, NULL) == VK_SUCCESS && n &&
        (exts = calloc(n, sizeof *exts)) &&
        enum_ext(d->h.physical_device, NULL, &n, exts) != VK_SUCCESS)
        n = 0;
    const char *ext_name = VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME;
    bool ext = exts && has_extension(exts, n, ext_name);
    free(exts);
    d->f16 = info.fp16_arithmetic && (ext || info.api_version >= VK_API_VERSION_1_2);
    if (!d->f16)
        d->f16_missing = "the device has no shaderFloat16";

    float prio = 1.0f;
    VkDeviceQueueCreateInfo qci = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                   .queueFamilyIndex = d->h.queue_family, .queueCount = 1,
                                   .pQueuePriorities = &prio};
    VkPhysicalDeviceShaderFloat16Int8Features f16 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES,
        .shaderFloat16 = VK_TRUE};
    VkDeviceCreateInfo dci = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
                              .pNext = d->f16 ? &f16 : NULL, .queueCreateInfoCount = 1,
                              .pQueueCreateInfos = &qci,
                              .enabledExtensionCount = d->f16 && ext ? 1 : 0,
                              .ppEnabledExtensionNames = &ext_name};
    VkDevice dev = VK_NULL_HANDLE;
    VkResult vr = create(d->h.physical_device, &dci, d->h.allocator, &dev);
    if (vr != VK_SUCCESS && d->f16) { /* then without f16 */
        d->f16 = false;
        d->f16_missing = "vkCreateDevice failed with shaderFloat16 enabled";
        dci.pNext = NULL;
        dci.enabledExtensionCount = 0;
        vr = create(d->h.physical_device, &dci, d->h.allocator, &dev);
    }
    if (vr != VK_SUCCESS) {
        snprintf(err, err_size, "vkCreateDevice for the peak kernels failed (%d)", (int)vr);
        return -1;
    }
    d->h.device = dev;
    missing = vkattn__vk_table_load_device(&d->vk, dev);
    if (missing) {
        snprintf(err, err_size, "vkGetDeviceProcAddr gives no %s", missing);
        if (d->vk.vkDestroyDevice)
            d->vk.vkDestroyDevice(dev, d->h.allocator);
        return -1;
    }
    d->vk.vkGetDeviceQueue(dev, d->h.queue_family, 0, &d->h.queue);
    return 0;
}

static double best(const double *ms, int n)
{
    double b = ms[0];
    for (int i = 1; i < n; ++i)
        if (ms[i] < b)
            b = ms[i];
    return b;
}

/* GFLOP/s of one variant of peak_fma.comp on groups workgroups. */
static int measure_fma(bench_gpu *g, const uint32_t *code, size_t code_size, uint32_t groups,
                       double *gflops, char *err, size_t err_size)
{
    VkDeviceSize sink = (VkDeviceSize)groups * PEAK_WG * sizeof(float);
    bench_kernel *k;
    if (bench_kernel_create(g, code, code_size, 1, &sink, 0, sizeof(peak_fma_push), &k, err,
                            err_size))
        return -1;
    peak_fma_push push = {.iterations = 16, .a = 0.999f, .b = 0.001f, .never = -1.0f};
    double ms[FMA_RUNS];
    int rc = -1;
    /* Scale the loop count until a run takes about TARGET_MS, so that the cost of starting the
     * workgroups is small beside the loop's (the first run also warms up). */
    for (int step = 0;; ++step) {
        if (bench_kernel_time(g, k, &push, groups, step == 0, 1, ms, err, err_size))
            goto done;
        if (ms[0] >= 0.5 * TARGET_MS || step == 8 || push.iterations >= (1u << 24))
            break;
        double scale = ms[0] > 0.0 ? TARGET_MS / ms[0] : 64.0;
        push.iterations = (uint32_t)(push.iterations * (scale < 2.0 ? 2.0 : scale > 64.0 ? 64.0
                                                                                        : scale));
    }
    if (bench_kernel_time(g, k, &push, groups, 0, FMA_RUNS, ms, err, err_size))
        goto done;
    double flops = (double)groups * PEAK_WG * push.iterations * PEAK_FLOPS_PER_ITERATION;
    double b = best(ms, FMA_RUNS);
    *gflops = b > 0.0 ? flops / (b * 1e-3) * 1e-9 : 0.0;
    rc = 0;
done:
    bench_kernel_destroy(g, k);
    return rc;
}

/* Times k (push, groups workgroups) COPY_RUNS times after a warm-up and sets *gbps to bytes over
 * the best run; destroys k either way. */
static int time_bandwidth(bench_gpu *g, bench_kernel *k, const void *push, uint32_t groups,
                          double bytes, double *gbps, char *err, size_t err_size)
{
    double ms[COPY_RUNS];
    int rc = bench_kernel_time(g, k, push, groups, 1, COPY_RUNS, ms, err, err_size);
    if (rc == 0) {
        double b = best(ms, COPY_RUNS);
        *gbps = b > 0.0 ? bytes / (b * 1e-3) * 1e-9 : 0.0;
    }
    bench_kernel_destroy(g, k);
    return rc;
}

/* GB/s of peak_copy.comp over two buffers of 64 MiB (a CPU device, whose caches are smaller) or
 * 256 MiB (past any GPU's last-level cache), halved while they cannot be allocated. */
static int measure_copy(bench_gpu *g, bool cpu, double *gbps, char *err, size_t err_size)
{
    VkDeviceSize size = (VkDeviceSize)(cpu ? 64 : 256) << 20;
    bench_kernel *k = NULL;
    while (bench_kernel_create(g, peak_copy_spv, sizeof peak_copy_spv, 2,
                               (VkDeviceSize[2]){size, size}, 0, sizeof(peak_copy_push), &k, err,
                               err_size)) {
        if (size <= (16u << 20))
            return -1;
        size /= 2;
    }
    peak_copy_push push = {.count = (uint32_t)(size / 16)};
    uint32_t groups = (push.count + PEAK_WG - 1) / PEAK_WG;
    if (groups > COPY_GROUPS_MAX)
        groups = COPY_GROUPS_MAX;
    return time_bandwidth(g, k, &push, groups, 2.0 * (double)size, gbps, err, err_size);
}

/* GB/s of peak_read.comp over one buffer of 64 MiB (a CPU device) or 256 MiB, at most
 * max_texels 16-byte words; 0 without an error where that is under 16 MiB (a buffer that small
 * would measure a cache) or the buffer cannot be allocated. */
static int measure_read(bench_gpu *g, bool cpu, uint32_t max_texels, double *gbps, char *err,
                        size_t err_size)
{
    *gbps = 0.0;
    VkDeviceSize size = (VkDeviceSize)(cpu ? 64 : 256) << 20;
    while (size / 16 > max_texels)
        size /= 2;
    const uint32_t groups_max = cpu ? FMA_GROUPS_CPU : COPY_GROUPS_MAX;
    bench_kernel *k = NULL;
    char why[256];
    for (;; size /= 2) {
        if (size < (16u << 20))
            return 0;
        VkDeviceSize sink = (VkDeviceSize)groups_max * PEAK_WG * sizeof(uint32_t);
        if (bench_kernel_create(g, peak_read_spv, sizeof peak_read_spv, 2,
                                (VkDeviceSize[2]){size, sink}, 1u, sizeof(peak_read_push), &k,
                                why, sizeof why) == 0)
            break;
    }
    const uint32_t words = (uint32_t)(size / 16);
    uint32_t groups = words / (PEAK_READ_UNROLL * PEAK_WG);
    if (groups > groups_max)
        groups = groups_max;
    const uint32_t pass = PEAK_READ_UNROLL * PEAK_WG * groups; /* words per grid pass */
    /* A CPU device reads a block per invocation (see peak_read.comp), a GPU in grid-stride. */
    peak_read_push push = {.count = words / pass * pass, .never = 0xffffffffu};
    push.per_inv = cpu ? push.count / (PEAK_WG * groups) : 0;
    return time_bandwidth(g, k, &push, groups, 16.0 * push.count, gbps, err, err_size);
}

int bench_peak_measure(vkattn_context ctx, bench_peak *out, char *err, size_t err_size)
{
    peak_device d;
    bench_gpu *g = NULL;
    int rc = -1;
    memset(out, 0, sizeof *out);
    if (device_create(ctx, &d, err, err_size))
        return -1;
    vkattn_device_info info;
    vkattn_context_device_info(ctx, &info);
    if (bench_gpu_open_handles(&d.h, &g, err, err_size))
        goto done;
    bool cpu = info.type == VK_PHYSICAL_DEVICE_TYPE_CPU;
    uint32_t groups = cpu ? FMA_GROUPS_CPU : FMA_GROUPS;
    if (measure_fma(g, peak_fma_f32_spv, sizeof peak_fma_f32_spv, groups, &out->f32_gflops, err,
                    err_size))
        goto done;
    if (!d.f16)
        out->f16_missing = d.f16_missing;
    else if (measure_fma(g, peak_fma_f16_spv, sizeof peak_fma_f16_spv, groups,
                         &out->f16_gflops, err, err_size))
        goto done;
    if (measure_read(g, cpu, d.max_texels, &out->read_gbps, err, err_size) ||
        measure_copy(g, cpu, &out->copy_gbps, err, err_size))
        goto done;
    out->bandwidth_gbps = out->read_gbps > out->copy_gbps ? out->read_gbps : out->copy_gbps;
    rc = 0;
done:
    bench_gpu_close(g);
    d.vk.vkDestroyDevice(d.h.device, d.h.allocator);
    return rc;
}

double bench_peak_percent(const bench_peak *pk, double flops, double bytes, double gflops,
                          double gbps, const char **bound)
{
    double ridge = pk->bandwidth_gbps > 0.0 ? pk->f32_gflops / pk->bandwidth_gbps : 0.0;
    if (bytes > 0.0 && flops / bytes > ridge && pk->f32_gflops > 0.0) {
        *bound = "compute";
        return 100.0 * gflops / pk->f32_gflops;
    }
    *bound = "memory";
    return pk->bandwidth_gbps > 0.0 ? 100.0 * gbps / pk->bandwidth_gbps : 0.0;
}
