/* The Vulkan side of `vkattn bench`: device buffers, one command buffer, a timestamp query pool
 * and a fence on a context's own device, all made through the context's vkGetInstanceProcAddr
 * (the tool links no Vulkan symbol of its own). It times vkattn_cmd_attention, and kernels of the
 * tool's own (the peak micro-kernels of bench_peak.c). Not thread-safe; one bench_gpu per device. */
#ifndef VKATTN_TOOL_BENCH_GPU_H
#define VKATTN_TOOL_BENCH_GPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vkattn/vkattn.h"

typedef struct bench_gpu bench_gpu;

/* Opens the timing objects on a Vulkan context (not a CPU one). 0 and *out on success; -1 with
 * err set (one line) and *out NULL on failure. */
int bench_gpu_open(vkattn_context ctx, bench_gpu **out, char *err, size_t err_size);

/* The same on handles of the caller's (e.g. a device made with features the context's device
 * lacks). The handles are copied; the objects they name must outlive the bench_gpu. */
int bench_gpu_open_handles(const vkattn_vulkan_handles *h, bench_gpu **out, char *err,
                           size_t err_size);

/* Destroys what bench_gpu_open made; NULL is a no-op. The device must still be alive. */
void bench_gpu_close(bench_gpu *g);

/* Whether the queue writes timestamps. When it does not, the timing functions measure the wall
 * clock around each submit and wait instead. */
bool bench_gpu_has_timestamps(const bench_gpu *g);

/* Uploads t's q, k, v, page table and per-batch and per-head arrays (t->out, lse and mask are
 * not used; p has no LSE or custom mask), records [timestamp, vkattn_cmd_attention, timestamp] once and submits it
 * warmup + n times, waiting for each. ms[0..n) receives the n timed runs in milliseconds.
 * Every buffer is freed before returning. 0 on success; -1 with err set on failure. */
int bench_gpu_time(bench_gpu *g, vkattn_context ctx, const vkattn_problem *p,
                   const vkattn_host_tensors *t, int warmup, int n, double *ms, char *err,
                   size_t err_size);

/* The same in three steps, so that problems can be timed in turn (a repeat of each, then the
 * next repeat), which spreads a noisy machine's slow minutes over all of them alike.
 * bench_gpu_prepare uploads as above into buffers of its own: 0 and *out on success; -1 with err
 * set and *out NULL on failure. bench_gpu_run records [timestamp, vkattn_cmd_attention,
 * timestamp] and submits it warmup + n times, waiting for each (ms[0..n) as above); the context
 * must be the one it was prepared with, and alive. bench_gpu_release frees a prepared problem's
 * buffers (and the context's views and sets of them); NULL is a no-op. */
typedef struct bench_work bench_work;
int bench_gpu_prepare(bench_gpu *g, vkattn_context ctx, const vkattn_problem *p,
                      const vkattn_host_tensors *t, bench_work **out, char *err, size_t err_size);
int bench_gpu_run(bench_gpu *g, bench_work *w, int warmup, int n, double *ms, char *err,
                  size_t err_size);
void bench_gpu_release(bench_gpu *g, bench_work *w);

/* A compute kernel of the tool's own: one SPIR-V module (code_size bytes, entry point "main"),
 * n_buffers device-local buffers at bindings 0..n_buffers-1 of set 0, buffer i of sizes[i] bytes
 * and filled with the f32 1.0 pattern: a uniform texel buffer (an R32G32B32A32_UINT view of the
 * whole buffer) where bit i of texel_mask is set, else a storage buffer; and push_size bytes of
 * push constants (0 = none). 0 and *out on success; -1 with err set and *out NULL on failure. */
#define BENCH_KERNEL_MAX_BUFFERS 4
typedef struct bench_kernel bench_kernel;
int bench_kernel_create(bench_gpu *g, const uint32_t *code, size_t code_size, uint32_t n_buffers,
                        const VkDeviceSize *sizes, uint32_t texel_mask, uint32_t push_size,
                        bench_kernel **out, char *err, size_t err_size);

/* Destroys k (made on g), its buffers included; NULL is a no-op. */
void bench_kernel_destroy(bench_gpu *g, bench_kernel *k);

/* Records [timestamp, vkCmdDispatch(groups, 1, 1) with push (push_size bytes), timestamp] once
 * and submits it warmup + n times, waiting for each; ms[0..n) receives the timed runs in
 * milliseconds. 0 on success; -1 with err set on failure. */
int bench_kernel_time(bench_gpu *g, bench_kernel *k, const void *push, uint32_t groups,
                      int warmup, int n, double *ms, char *err, size_t err_size);

#endif
