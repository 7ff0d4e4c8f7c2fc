/* The push constants and sizes of the peak micro-kernels (peak_fma.comp, peak_copy.comp) that
 * `vkattn bench --peak` runs, shared by C (tools/bench_peak.c) and GLSL so the two cannot
 * disagree. Every field is 4 bytes, so std430 and C agree on offsets. */
#ifndef VKATTN_PEAK_PARAMS_H
#define VKATTN_PEAK_PARAMS_H

#define PEAK_WG 64     /* invocations per workgroup: within every device's limit (128) */
#define PEAK_ACC 3     /* independent vec4 accumulators per invocation: one dependent chain
                        * leaves a pipelined FMA unit idle for most of its latency, while four
                        * (16 SIMD registers on a CPU device, with a and b) spill on AVX2 */
#define PEAK_UNROLL 16 /* FMA steps per loop iteration, so that the loop's own work is noise
                        * (without unrolling lavapipe reaches a fifth of its peak) */

/* FLOPs per invocation per loop iteration: each step is one fma (2 FLOPs) on each component of
 * each of the PEAK_ACC accumulators. */
#define PEAK_FLOPS_PER_ITERATION (PEAK_UNROLL * PEAK_ACC * 4 * 2)

#if defined(VULKAN) || defined(GL_core_profile)
#define PEAK_GLSL 1
#define PEAK_U32 uint
#define PEAK_PUSH_BEGIN(name) layout(push_constant) uniform name {
#define PEAK_PUSH_END(name) } pc;
#else
#include <stdint.h>
#define PEAK_GLSL 0
#define PEAK_U32 uint32_t
#define PEAK_PUSH_BEGIN(name) typedef struct name {
#define PEAK_PUSH_END(name) } name;
#endif

/* peak_fma.comp: x = fma(x, a, b), iterations * PEAK_UNROLL times on each accumulator. With
 * 0 < a < 1 the values converge to b / (1 - a): never an overflow, never a subnormal. The sum is
 * stored only when it equals never (which it does not), so that the compiler keeps the loop and
 * the kernel moves no memory. */
#if !PEAK_GLSL || defined(PEAK_FMA) /* GLSL: one push-constant block per shader */
PEAK_PUSH_BEGIN(peak_fma_push)
    PEAK_U32 iterations;
    float a, b, never;
PEAK_PUSH_END(peak_fma_push)
#endif

/* peak_copy.comp: dst[i] = src[i] for i < count (vec4s), grid-stride. */
#if !PEAK_GLSL || defined(PEAK_COPY)
PEAK_PUSH_BEGIN(peak_copy_push)
    PEAK_U32 count;
PEAK_PUSH_END(peak_copy_push)
#endif

/* peak_read.comp: XOR of count 16-byte words (a multiple of PEAK_READ_UNROLL x the grid's
 * invocations) through a texel view, stored at sink[invocation] only when it equals never;
 * per_inv 0: grid-stride, else per_inv consecutive words per invocation (count / invocations). */
#define PEAK_READ_UNROLL 4
#if !PEAK_GLSL || defined(PEAK_READ)
PEAK_PUSH_BEGIN(peak_read_push)
    PEAK_U32 count;
    PEAK_U32 never;
    PEAK_U32 per_inv;
PEAK_PUSH_END(peak_read_push)
#endif

#endif
