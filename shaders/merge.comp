#version 450
// Combines partial attention results over disjoint key sets: O = sum_s w_s O_s / sum_s w_s and
// LSE = M + ln(sum_s w_s), with w_s = exp(LSE_s - M) and M the largest LSE_s. The parts are
// either the decode kernel's splits in scratch (f32) or two tensors A and B of the caller
// (vkattn_cmd_merge). One invocation per row. A part with LSE = -inf saw no key and weighs 0;
// a NaN LSE (a non-finite input reached that part) makes the row NaN; no part with a key gives
// O = 0 and LSE = -inf, as for attention itself.
#extension GL_GOOGLE_include_directive : require
#include "storage.glsl"

#define ATTN_MERGE
#include "attn_params.h"

layout(local_size_x = 64) in;
layout(std430, binding = MERGE_BIND_A) readonly buffer ABuf { ELEM_T a[]; };
layout(std430, binding = MERGE_BIND_B) readonly buffer BBuf { ELEM_T bpart[]; };
layout(std430, binding = MERGE_BIND_LA) readonly buffer LaBuf { float la[]; };
layout(std430, binding = MERGE_BIND_LB) readonly buffer LbBuf { float lb[]; };
layout(std430, binding = ATTN_BIND_SCRATCH) readonly buffer Scratch { float scratch[]; };
layout(std430, binding = ATTN_BIND_O) OUT_ACCESS buffer OBuf { ELEM_T o[]; };
layout(std430, binding = ATTN_BIND_LSE) writeonly buffer LseBuf { float lse[]; };

const float NEG_INF = -1.0 / 0.0;
#define F_NAN uintBitsToFloat(0x7fc00000u)

bool splits_mode()
{
    return (pc.flags & MERGE_FLAG_SPLITS) != 0u;
}

float part_lse(uint s, uint row)
{
    if (splits_mode())
        return scratch[pc.scratch_off + pc.n_parts * pc.rows * pc.D + s * pc.rows + row];
    return s == 0u ? la[pc.la_off + row] : lb[pc.lb_off + row];
}

float part_o(uint s, uint row, uint ob, uint d)
{
    if (splits_mode())
        return scratch[pc.scratch_off + (s * pc.rows + row) * pc.D + d];
    return s == 0u ? AT(a, pc.a_off + ob + d) : AT(bpart, pc.b_off + ob + d);
}

void main()
{
    const uint row = gl_GlobalInvocationID.x;
    if (row >= pc.rows)
        return;
    const uint i = row % pc.Sq;
    const uint h = (row / pc.Sq) % pc.Hq;
    const uint b = row / (pc.Sq * pc.Hq);
    const uint ob = b * pc.o_sb + h * pc.o_sh + i * pc.o_ss;

    float mx = NEG_INF;
    bool bad = false;
    for (uint s = 0u; s < pc.n_parts; ++s) {
        float x = part_lse(s, row);
        bad = bad || isnan(x);
        mx = isnan(x) ? mx : max(mx, x);
    }
    float wsum = 0.0;
    for (uint s = 0u; s < pc.n_parts; ++s) {
        float x = part_lse(s, row);
        wsum += x > NEG_INF ? exp(x - mx) : 0.0;
    }
    const bool seen = wsum > 0.0 && !bad;
    const float inv = seen ? 1.0 / wsum : 0.0;
    for (uint d = 0u; d < pc.D; ++d) {
        float acc = 0.0;
        for (uint s = 0u; s < pc.n_parts; ++s) {
            float x = part_lse(s, row);
            if (x > NEG_INF)
                acc += exp(x - mx) * part_o(s, row, ob, d);
        }
        PUT(o, pc.o_off + ob + d, bad ? F_NAN : acc * inv);
    }
    if ((pc.flags & MERGE_FLAG_LSE) != 0u)
        lse[pc.lse_off + row] = bad ? F_NAN : seen ? mx + log(wsum) : NEG_INF;
}
