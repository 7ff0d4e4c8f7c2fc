#version 450
// FMA throughput for `vkattn bench --peak`: PEAK_ACC independent vec4 (f16vec4 with PEAK_F16)
// accumulators, PEAK_UNROLL fma steps per loop iteration, nothing read or written. The f16
// variant needs shaderFloat16 enabled on the device.
#extension GL_GOOGLE_include_directive : require
#ifdef PEAK_F16
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#define VEC f16vec4
#else
#define VEC vec4
#endif
#define PEAK_FMA
#include "peak_params.h"

layout(local_size_x = PEAK_WG) in;
layout(std430, binding = 0) writeonly buffer Sink { float sink[]; };

// One step on each of the PEAK_ACC (3) accumulators.
#define STEP                                                                                     \
    x0 = fma(x0, a, b);                                                                          \
    x1 = fma(x1, a, b);                                                                          \
    x2 = fma(x2, a, b);
#define STEP4 STEP STEP STEP STEP

void main()
{
    const VEC a = VEC(pc.a), b = VEC(pc.b);
    // Distinct starting values per lane and accumulator, so that no two chains can be merged.
    const float s = float(gl_LocalInvocationID.x) * (1.0 / PEAK_WG);
    VEC x0 = VEC(s, s + 0.1, s + 0.2, s + 0.3), x1 = x0 + VEC(0.01), x2 = x0 + VEC(0.02);
    for (uint i = 0; i < pc.iterations; ++i) {
        STEP4 STEP4 STEP4 STEP4 // PEAK_UNROLL = 16
    }
    const VEC x = (x0 + x1) + x2;
    const float t = float(x.x) + float(x.y) + float(x.z) + float(x.w);
    if (t == pc.never)
        sink[gl_GlobalInvocationID.x] = t;
}
