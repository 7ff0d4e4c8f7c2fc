/* The Vulkan side of `vkattn bench`: device buffers, one command buffer, a timestamp query pool
 * and a fence on a context's own device, all made through the context's vkGetInstanceProcAddr
 * (the tool links no Vulkan symbol of its own). Not thread-safe; one bench_gpu per context. */
#ifndef VKATTN_TOOL_BENCH_GPU_H
#define VKATTN_TOOL_BENCH_GPU_H

#include <stdbool.h>
#include <stddef.h>

#include "vkattn/vkattn.h"

typedef struct bench_gpu bench_gpu;

/* Opens the timing objects on a Vulkan context (not a CPU one). 0 and *out on success; -1 with
 * err set (one line) and *out NULL on failure. */
int bench_gpu_open(vkattn_context ctx, bench_gpu **out, char *err, size_t err_size);

/* Destroys what bench_gpu_open made; NULL is a no-op. The context must still be alive. */
void bench_gpu_close(bench_gpu *g);

/* Whether the context's queue writes timestamps. When it does not, bench_gpu_time measures the
 * wall clock around each submit and wait instead. */
bool bench_gpu_has_timestamps(const bench_gpu *g);

/* Uploads t's q, k, v, q_lens and kv_lens (t->out, lse and mask are not used; p has no LSE or
 * custom mask), records [timestamp, vkattn_cmd_attention, timestamp] once and submits it
 * warmup + n times, waiting for each. ms[0..n) receives the n timed runs in milliseconds.
 * Every buffer is freed before returning. 0 on success; -1 with err set on failure. */
int bench_gpu_time(bench_gpu *g, vkattn_context ctx, const vkattn_problem *p,
                   const vkattn_host_tensors *t, int warmup, int n, double *ms, char *err,
                   size_t err_size);

#endif
