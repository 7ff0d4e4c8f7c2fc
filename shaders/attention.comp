#version 450
// FlashAttention-2 forward. One workgroup owns BR query rows of one (batch, head); K/V tiles of BC
// keys stream through shared memory; per row a running max and sum (f32) rescale the output
// accumulator, and O (and LSE) are written once at the end. TPR invocations share a query row:
// each owns every TPR-th element of the row's D outputs, so the accumulator stays in registers.
//
// q: [B, Hq, Sq, D]   k: [B, Hkv, Skv, D]   v: [B, Hkv, Skv, DV]   o: [B, Hq, Sq, DV]
// lse: [B, Hq, Sq]  (strided;
// packed batches: B = 1 here, batch strides 0, and the items' rows along Sq)
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "storage.glsl"

#include "attn_params.h"
#include "mask.glsl"

layout(constant_id = ATTN_SPEC_D) const uint D = 64;
layout(constant_id = ATTN_SPEC_BR) const uint BR = 16;
layout(constant_id = ATTN_SPEC_BC) const uint BC = 16;
layout(constant_id = ATTN_SPEC_TPR) const uint TPR = 4;
// The head size of V and O (MLA: D = 576, DV = 512); the host sets it to D where they agree.
layout(constant_id = ATTN_SPEC_DV) const uint DV = 64;
layout(local_size_x_id = ATTN_SPEC_WG) in;

layout(std430, binding = ATTN_BIND_Q) readonly buffer QBuf { ELEM_T q[]; };
layout(std430, binding = ATTN_BIND_K) readonly buffer KBuf { ELEM_T k[]; };
layout(std430, binding = ATTN_BIND_V) readonly buffer VBuf { ELEM_T v[]; };
layout(std430, binding = ATTN_BIND_O) OUT_ACCESS buffer OBuf { ELEM_T o[]; };
layout(std430, binding = ATTN_BIND_LSE) writeonly buffer LseBuf { float lse[]; };
layout(std430, binding = ATTN_BIND_QLENS) readonly buffer QLens { uint q_lens[]; };
layout(std430, binding = ATTN_BIND_KVLENS) readonly buffer KvLens { uint kv_lens[]; };
layout(std430, binding = ATTN_BIND_MASK) readonly buffer MaskBuf { uint mask_words[]; };
layout(std430, binding = ATTN_BIND_PAGES) readonly buffer Pages { uint pages[]; };

#include "attn_common.glsl"

// The element offset of key j's row of K or V (strides sb, sh, ss) for KV head hk of batch item
// b, whose contiguous rows start at base: through the page table where the K/V are paged (bf16
// and the wide head sizes run here; the split-KV kernel has its own walk), the page the outer
// index. A page number past the pool is invalid input; clamping keeps the read inside K/V.
uint kv_row(uint base, uint b, uint hk, uint j, uint sb, uint sh, uint ss)
{
    if ((pc.flags & ATTN_FLAG_PAGED) == 0u)
        return base + j * ss;
    const uint page_size = (pc.flags >> ATTN_PAGE_SHIFT) & ATTN_PAGE_MASK;
    const uint pg = j / page_size;
    const uint page = min(pages[pc.pages_off + b * pc.pages_per_seq + pg], pc.num_pages - 1u);
    return base + (page - b) * sb + (j - pg * page_size) * ss; // (the page in place of item b)
}

const uint WG = BR * TPR;
const uint NACC = (DV + TPR - 1) / TPR; // output elements per invocation
// TPR == 1 (chosen for CPU devices): each invocation owns a whole row with q and the accumulator
// in private memory, so the K/V reads are uniform across the SIMD lanes (broadcasts, never
// gathers). Otherwise Q goes through shared memory. Loops that index private arrays are
// unrolled so the arrays live in registers: lavapipe miscompiles them as indexed scratch
// arrays across barriers (wrong results past 15 K/V tiles, seen with Mesa 22.3).
const bool ROWWISE = TPR == 1u;
// Padded row stride of the shared tiles (no bank conflicts); rowwise reads are broadcasts.
const uint RS = ROWWISE ? D : D + 1u;
const uint RSV = ROWWISE ? DV : DV + 1u; // V's

shared float sQ[ROWWISE ? 1u : BR * RS];
shared float sK[BC * RS];
shared float sV[BC * RSV];
shared float sS[BR * BC];
shared uint sBad[ROWWISE ? 1u : BR]; // split: a row's invocations pool their 'poisoned' flags

// The K/V tile of keys [kt, kt + BC) into shared memory, keys from k_end on as zeros (not
// loaded), non-finite values as NaN (finite_or_nan).
void load_kv_tile(int kt, uint tid, uint bt, uint hk, int k_end, uint kbase, uint vbase)
{
    for (uint e = tid; e < BC * D; e += WG) {
        uint c = e / D, d = e % D;
        uint key = uint(kt) + c;
        bool valid = int(key) < k_end;
        const uint kr = valid ? kv_row(kbase, bt, hk, key, pc.k_sb, pc.k_sh, pc.k_ss) : 0u;
        sK[c * RS + d] = valid ? finite_or_nan(AT(k, kr + d)) : 0.0;
        if (DV == D) {
            const uint vr = valid ? kv_row(vbase, bt, hk, key, pc.v_sb, pc.v_sh, pc.v_ss) : 0u;
            sV[c * RSV + d] = valid ? finite_or_nan(AT(v, vr + d)) : 0.0;
        }
    }
    if (DV != D) // (a constant: one of the two loops is compiled)
        for (uint e = tid; e < BC * DV; e += WG) {
            uint c = e / DV, d = e % DV;
            uint key = uint(kt) + c;
            bool valid = int(key) < k_end;
            const uint vr = valid ? kv_row(vbase, bt, hk, key, pc.v_sb, pc.v_sh, pc.v_ss) : 0u;
            sV[c * RSV + d] = valid ? finite_or_nan(AT(v, vr + d)) : 0.0;
        }
}

void main()
{
    const uint tid = gl_LocalInvocationID.x;
    const uint r = tid / TPR;   // this invocation's row within the block
    const uint t = tid % TPR;   // and its slot within the row
    const uint h = gl_WorkGroupID.y;
    const uint hk = h / PC_GROUP;
    // Packed batches: the block's item and first row (a block past its item's rows has none).
    const bool varlen = (pc.flags & ATTN_FLAG_VARLEN) != 0u;
    uint b = gl_WorkGroupID.z, r0 = gl_WorkGroupID.x * BR, rend;
    if (varlen)
        varlen_block(gl_WorkGroupID.x, 1u, BR, b, r0, rend);
    const uint bt = varlen ? 0u : b; // the batch index of the tensors (packed: none)
    const uint i = r0 + r;

    const seq_rule sr = seq_rule_for(b);
    const bool row_ok = int(i) >= sr.q0 && int(i) < sr.q0 + sr.ql;
    const int k_end = sr.k0 + sr.kl; // keys past it are not loaded (rows before k0 are masked)
    const float slope = alibi_slope(b, h);

    // Keys any valid row of this block can see; tiles outside [j0, j1) are never loaded.
    int j0, j1;
    mask_key_range(int(r0), int(r0 + BR), sr, pc.flags, pc.wl, pc.wr, j0, j1);

    const uint qbase = pc.q_off + bt * pc.q_sb + h * pc.q_sh;
    const uint kbase = pc.k_off + bt * pc.k_sb + hk * pc.k_sh;
    const uint vbase = pc.v_off + bt * pc.v_sb + hk * pc.v_sh;
    const bool softcap = (pc.flags & ATTN_FLAG_SOFTCAP) != 0u;

    float acc[NACC];
    float qr[ROWWISE ? D : 1u];  // rowwise: this row of Q
    [[unroll]] for (uint a = 0u; a < NACC; ++a)
        acc[a] = 0.0;
    float m = NEG_INF; // running max of the scores, in log2 units
    float l = 0.0;     // running sum of exp2(s - m)
    bool poisoned = false; // a NaN score reached this row
    if (!ROWWISE && t == 0u)
        sBad[r] = 0u; // read after the barriers at the end

    if (j0 < j1) {
        // Q is scaled once here (scale * log2(e), folded so the softmax can use exp2).
        if (ROWWISE) {
            [[unroll]] for (uint d = 0u; d < D; ++d)
                qr[d] = row_ok ? scaled(AT(q, qbase + i * pc.q_ss + d)) : 0.0;
        } else {
            for (uint e = tid; e < BR * D; e += WG) {
                uint rr = e / D, d = e % D;
                uint row = r0 + rr;
                const bool ok = int(row) >= sr.q0 && int(row) < sr.q0 + sr.ql;
                sQ[rr * RS + d] = ok ? scaled(AT(q, qbase + row * pc.q_ss + d)) : 0.0;
            }
        }
        for (int kt = (j0 / int(BC)) * int(BC); kt < j1; kt += int(BC)) {
            barrier(); // the previous tile's sK/sV/sS are no longer read
            load_kv_tile(kt, tid, bt, hk, k_end, kbase, vbase);
            barrier();

            for (uint c = t; c < BC; c += TPR) {
                int key = kt + int(c);
                float s = NEG_INF;
                if (mask_visible(int(i), key, sr, pc.flags, pc.wl, pc.wr) &&
                    ((pc.flags & ATTN_FLAG_MASK) == 0u || custom_mask(b, h, i, uint(key)))) {
                    float dot = 0.0;
                    [[unroll]] for (uint d = 0u; d < D; ++d)
                        dot += (ROWWISE ? qr[d] : sQ[r * RS + d]) * sK[c * RS + d];
                    // tanh saturates to +-1 in f32 beyond |x| = 10; clamping keeps drivers that
                    // evaluate it through exp from producing inf/inf.
                    // Scores past f32's range (finite inputs of extreme magnitude) are held at
                    // its edge, so they neither turn into inf - inf nor read as "masked".
                    // A NaN dot (a non-finite input) stays NaN: clamp() of NaN is undefined.
                    float cd = clamp(dot, -FLT_MAX, FLT_MAX);
                    s = isnan(dot) ? F_NAN
                        : softcap ? pc.softcap * LOG2E * tanh(clamp(cd / pc.softcap, -10.0, 10.0))
                                  : cd;
                    if (slope != 0.0 && !isnan(s))
                        s = alibi_bias(s, slope, int(i), key, sr);
                }
                sS[r * BC + c] = s;
            }
            if (!ROWWISE) // rowwise, each invocation reads back only the scores it wrote
                barrier();

            // Every invocation of a row derives the same statistics from the scores (cheaper
            // than a barrier to share them).
            // NaN scores are noted and then skipped like masked ones (s > x is false for NaN).
            float mt = NEG_INF;
            for (uint c = 0u; c < BC; ++c) {
                float s = sS[r * BC + c];
                if (isnan(s))
                    poisoned = true;
                mt = s > mt ? s : mt;
            }
            float mnew = max(m, mt);
            if (mnew != NEG_INF) { // a row that has seen nothing yet must not compute -inf - -inf
                float alpha = exp2(m - mnew); // m = -inf gives 0: nothing accumulated yet
                l *= alpha;
                [[unroll]] for (uint a = 0u; a < NACC; ++a)
                    acc[a] *= alpha;
                for (uint c = 0u; c < BC; ++c) {
                    float s = sS[r * BC + c];
                    // Masked keys (-inf) and NaN scores add nothing: not even 0 * v, which
                    // would let a NaN in the V of a key this row cannot see reach it.
                    if (!(s > NEG_INF))
                        continue;
                    float p = exp2(s - mnew);
                    l += p;
                    [[unroll]] for (uint a = 0u; a < NACC; ++a) {
                        uint d = t + a * TPR;
                        if (d < DV)
                            acc[a] += p * sV[c * RSV + d];
                    }
                }
                m = mnew;
            }
        }
    }

    // A NaN in the accumulator came from a non-finite V of a visible key (acc[a] past DV stays 0).
    [[unroll]] for (uint a = 0u; a < NACC; ++a)
        if (isnan(acc[a]))
            poisoned = true;
    if (!ROWWISE) { // the row's invocations each saw part of its V columns
        barrier();
        if (poisoned)
            atomicOr(sBad[r], 1u);
        barrier();
        poisoned = sBad[r] != 0u;
    }

    if (i >= pc.Sq || (varlen && !row_ok)) // packed: the rows of other items are theirs
        return;
    // A row that saw no key (padding, empty window, kl = 0) gets exactly 0 and LSE = -inf (the
    // sink, with sinks); a row that a non-finite input reached gets NaN throughout.
    const float fs = sink_join(h, m, l);
    const bool seen = l > 0.0;
    const float inv = seen ? fs / l : 0.0;
    const uint obase = pc.o_off + bt * pc.o_sb + h * pc.o_sh + i * pc.o_ss;
    [[unroll]] for (uint a = 0u; a < NACC; ++a) {
        uint d = t + a * TPR;
        if (d < DV)
            PUT(o, obase + d, poisoned ? F_NAN : seen ? acc[a] * inv : 0.0);
    }
    if ((pc.flags & ATTN_FLAG_LSE) != 0u && t == 0u)
        lse[pc.lse_off + (bt * PC_HQ + h) * pc.Sq + i] =
            poisoned ? F_NAN : seen ? (m + log2(l)) * LN2 : NEG_INF;
}
