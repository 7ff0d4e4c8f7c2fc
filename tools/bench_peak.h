/* `vkattn bench --peak`: the device's f32 and f16 FMA throughput and its memory bandwidth,
 * measured with micro-kernels (shaders/peak_fma.comp, peak_read.comp, peak_copy.comp), and the roofline
 * that puts an attention row against them. */
#ifndef VKATTN_TOOL_BENCH_PEAK_H
#define VKATTN_TOOL_BENCH_PEAK_H

#include <stdbool.h>
#include <stddef.h>

#include "vkattn/vkattn.h"

typedef struct bench_peak {
    double f32_gflops;        /* f32 fma throughput, GFLOP/s */
    double f16_gflops;        /* f16 (float16_t arithmetic) throughput; 0 when not measured */
    double bandwidth_gbps;    /* the higher of read_gbps and copy_gbps: the roofline's */
    double read_gbps;         /* streaming read through a texel view, bytes read per second;
                                 0 when the device's texel buffers are too small (< 16 MiB) */
    double copy_gbps;         /* streaming copy, bytes read + bytes written per second */
    const char *f16_missing;  /* why f16_gflops is 0 ("no shaderFloat16"), or NULL */
} bench_peak;

/* Measures the peaks of a Vulkan context's physical device, each the best of a few runs of a
 * few tens of milliseconds (about a second in all on lavapipe). The kernels run on a second
 * VkDevice made on the context's instance, so that float16 arithmetic can be enabled where the
 * device has shaderFloat16 (the context's own device does not enable it); the device is
 * destroyed before returning. 0 and *out on success; -1 with err set (one line) on failure. */
int bench_peak_measure(vkattn_context ctx, bench_peak *out, char *err, size_t err_size);

/* The roofline of a row that does flops useful FLOPs and moves bytes (each tensor once) at
 * gflops GFLOP/s and gbps GB/s: above the ridge point (f32_gflops / bandwidth_gbps FLOPs per
 * byte) the row is compute-bound and measured against f32_gflops (the attention kernels compute
 * in f32 for either storage type), else memory-bound and measured against bandwidth_gbps.
 * Returns the percentage and sets *bound to "compute" or "memory". */
double bench_peak_percent(const bench_peak *pk, double flops, double bytes, double gflops,
                          double gbps, const char **bound);

#endif
