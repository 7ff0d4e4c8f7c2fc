#version 450
// Memory bandwidth for `vkattn bench --peak`: a streaming copy of count vec4s, each read and
// written once; consecutive invocations touch consecutive vec4s (coalesced on a GPU, one vector
// load per SIMD row on a CPU device), and the grid strides over the rest.
#extension GL_GOOGLE_include_directive : require
#define PEAK_COPY
#include "peak_params.h"

layout(local_size_x = PEAK_WG) in;
layout(std430, binding = 0) readonly buffer Src { vec4 src[]; };
layout(std430, binding = 1) writeonly buffer Dst { vec4 dst[]; };

void main()
{
    const uint stride = gl_NumWorkGroups.x * PEAK_WG;
    for (uint i = gl_GlobalInvocationID.x; i < pc.count; i += stride)
        dst[i] = src[i];
}
