#version 450
// The engine's own compute work around vkattn's attention: it fills Q, K and V in place from a
// hash of the element index (so the host can compute the same numbers bit for bit), and reads O
// back out doubled, as a later pass of an engine would consume it, followed by LSE. One dispatch
// writes the whole readback buffer: synchronisation validation counts every dispatch as writing
// all of each writable binding, so two dispatches there would need a barrier between them.
// Binding 0 is the engine's arena (tensors sub-allocated at word offsets), binding 1 the
// host-visible readback buffer.
layout(local_size_x = 64) in;

layout(set = 0, binding = 0) buffer Arena { uint arena[]; };
layout(set = 0, binding = 1) buffer Readback { float readback[]; };

// Must match struct prepare_push in engine.c.
layout(push_constant) uniform Push {
    uint mode;  // 0 fill f32, 1 fill f16 (two per word), 2 O f32 -> 2*O, 3 O f16 -> 2*O
    uint count; // elements
    uint src;   // word offset in arena (modes 2, 3)
    uint dst;   // word offset in arena (0, 1) or float offset in readback (2, 3)
    uint seed;
    uint lse_src;   // word offset in arena of LSE (modes 2, 3)
    uint lse_count; // LSE values, copied to readback after 2*O (modes 2, 3)
} pc;

// lowbias32 (Chris Wellons); engine.c has the same function.
uint hash(uint x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

// k / 1024 for k in -1024..1023: exact in f32 and in f16, so packHalf2x16 cannot round.
float value(uint i)
{
    uint h = hash(pc.seed * 0x9e3779b9u + i);
    return float(int(h & 0x7ffu) - 1024) * (1.0 / 1024.0);
}

void main()
{
    uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    if (pc.mode == 0u) {
        for (uint i = gl_GlobalInvocationID.x; i < pc.count; i += stride)
            arena[pc.dst + i] = floatBitsToUint(value(i));
    } else if (pc.mode == 1u) {
        for (uint w = gl_GlobalInvocationID.x; w < (pc.count + 1u) / 2u; w += stride)
            arena[pc.dst + w] = packHalf2x16(vec2(value(2u * w), value(2u * w + 1u)));
    } else {
        for (uint i = gl_GlobalInvocationID.x; i < pc.count; i += stride)
            readback[pc.dst + i] = 2.0 * (pc.mode == 2u ? uintBitsToFloat(arena[pc.src + i])
                                                        : unpackHalf2x16(arena[pc.src + i / 2u])[i & 1u]);
        for (uint i = gl_GlobalInvocationID.x; i < pc.lse_count; i += stride)
            readback[pc.dst + pc.count + i] = uintBitsToFloat(arena[pc.lse_src + i]);
    }
}
