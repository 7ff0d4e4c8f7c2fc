#version 450
// Read bandwidth for `vkattn bench --peak`: each invocation XORs 16-byte words of a uniform texel
// buffer and stores the result only when it equals never (which it does not), so the reads stay
// and nothing is written. Through a texel view because that is how the kernels read K and V on
// CPU drivers, where a texel fetch is one vector gather and a storage buffer load a loop over the
// lanes. Two orders: grid-stride (consecutive invocations read consecutive words: coalesced on a
// GPU), or, with per_inv, a block of per_inv consecutive words per invocation, which a CPU
// device needs (it runs a workgroup's SIMD rows one after the other, so in grid-stride order each
// row read 128 bytes per 256 KiB: latency, not bandwidth, at a quarter of what the decode
// kernels read at).
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_samplerless_texture_functions : require
#extension GL_EXT_control_flow_attributes : require
#define PEAK_READ
#include "peak_params.h"

layout(local_size_x = PEAK_WG) in;
layout(binding = 0) uniform utextureBuffer src;
layout(std430, binding = 1) writeonly buffer Sink { uint sink[]; };

void main()
{
    // The host makes count a multiple of PEAK_READ_UNROLL x the invocations: no tail.
    const bool block = pc.per_inv != 0u;
    const uint stride = block ? 1u : gl_NumWorkGroups.x * PEAK_WG;
    const uint first = block ? gl_GlobalInvocationID.x * pc.per_inv : gl_GlobalInvocationID.x;
    const uint end = block ? first + pc.per_inv : pc.count;
    uvec4 acc = uvec4(0u);
    for (uint i = first; i < end; i += PEAK_READ_UNROLL * stride)
        [[unroll]] for (uint u = 0u; u < PEAK_READ_UNROLL; ++u)
            acc ^= texelFetch(src, int(i + u * stride));
    const uint x = acc.x ^ acc.y ^ acc.z ^ acc.w;
    if (x == pc.never)
        sink[gl_GlobalInvocationID.x] = x;
}
