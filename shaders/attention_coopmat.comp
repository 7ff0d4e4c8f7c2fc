#version 450
// FlashAttention-2 forward on cooperative matrices (VK_KHR_cooperative_matrix, subgroup scope).
// A workgroup of NSG subgroups owns BR = NSG * M query rows of one (batch, head); each subgroup
// owns M of them. Per K/V tile of BC keys:
//   1. K (f16, rows padded to DP dims with zeros) into shared memory;
//   2. S = Q K^T on f16 x f16 -> f32 matrices, stored to shared memory;
//   3. per row, the online softmax in f32 (masks, softcap, NaN rules as attention.comp),
//      P = exp2(S - m) rounded to f16 and the rescale factor of the row; V replaces K;
//   4. O (f32, in shared memory) rescaled per row;
//   5. O += P V on f16 x f16 -> f32 matrices.
// Tiles that no row of the workgroup can see are not loaded; tiles every row sees whole (no
// custom mask) skip the per-element mask test. f16 storage only: the inputs are f16 already, so
// loading them into f16 matrices is exact; only P is rounded (SPEC 3's f16 bound covers it).
//
// q: [B, Hq, Sq, D]   k, v: [B, Hkv, Skv, D]   o: [B, Hq, Sq, D]   lse: [B, Hq, Sq]  (strided)
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#define STORE_T float16_t

#include "attn_params.h"
#include "mask.glsl"

layout(constant_id = ATTN_SPEC_D) const uint D = 64;
layout(constant_id = ATTN_SPEC_BR) const uint BR = 16;   // NSG * M
layout(constant_id = ATTN_SPEC_BC) const uint BC = 32;   // a multiple of N and K
layout(constant_id = ATTN_SPEC_WG) const uint WG = 32;   // NSG * the subgroup size
// The matrix shape, one module each (src/coopmat_shapes.h): plain constants, not
// specialization ones, so that validation and every driver see the shape as offered.
const uint M = CM_M;
const uint N = CM_N;
const uint K = CM_K;
layout(constant_id = ATTN_SPEC_DP) const uint DP = 64;   // D padded to a multiple of N and K
layout(local_size_x_id = ATTN_SPEC_WG) in;

layout(std430, binding = ATTN_BIND_Q) readonly buffer QBuf { STORE_T q[]; };
layout(std430, binding = ATTN_BIND_K) readonly buffer KBuf { STORE_T k[]; };
layout(std430, binding = ATTN_BIND_V) readonly buffer VBuf { STORE_T v[]; };
layout(std430, binding = ATTN_BIND_O) writeonly buffer OBuf { STORE_T o[]; };
layout(std430, binding = ATTN_BIND_LSE) writeonly buffer LseBuf { float lse[]; };
layout(std430, binding = ATTN_BIND_QLENS) readonly buffer QLens { uint q_lens[]; };
layout(std430, binding = ATTN_BIND_KVLENS) readonly buffer KvLens { uint kv_lens[]; };
layout(std430, binding = ATTN_BIND_MASK) readonly buffer MaskBuf { uint mask_words[]; };

#include "attn_common.glsl"

// Row strides of the score and weight tiles: padded by 16 bytes (the matrices' alignment stays)
// so that the invocations of the softmax, one row each, do not all hit one memory bank.
const uint SS = BC + 4u;
const uint PS = BC + 8u;
const uint NSG = BR / M; // the row blocks of M rows; gl_NumSubgroups subgroups take them in turn

shared float16_t sQ[BR * DP];
shared float16_t sKV[BC * DP]; // K, then V, of the current tile
shared float sS[BR * SS];      // scores (-inf: not seen, NaN: a NaN score), kept for step 5
shared float16_t sP[BR * PS];  // weights (0 where not seen)
shared float sO[BR * DP];      // the output accumulator
shared float sM[BR], sL[BR], sAlpha[BR];
shared uint sBad[BR];          // a NaN score or a non-finite visible V reached the row
shared uint sVBad;             // the V tile holds a non-finite value (step 5 then runs scalar)

// One K or V tile into sKV: keys from k_end on and dimensions past D are 0; Inf is loaded as NaN.
void load_kv(bool is_v, uint base, uint ss, int kt, int k_end)
{
    for (uint e = gl_LocalInvocationID.x; e < BC * DP; e += WG) {
        uint c = e / DP, d = e % DP;
        int key = kt + int(c);
        float x = 0.0;
        if (key < k_end && d < D)
            x = finite_or_nan(float(is_v ? v[base + uint(key) * ss + d] : k[base + uint(key) * ss + d]));
        if (is_v && isnan(x))
            atomicOr(sVBad, 1u);
        sKV[e] = float16_t(x);
    }
}

// Step 2: row block sg's M x BC scores, unscaled, into sS.
void scores(uint sg)
{
    for (uint nb = 0u; nb < BC; nb += N) {
        coopmat<float, gl_ScopeSubgroup, M, N, gl_MatrixUseAccumulator> acc =
            coopmat<float, gl_ScopeSubgroup, M, N, gl_MatrixUseAccumulator>(0.0);
        for (uint kb = 0u; kb < DP; kb += K) {
            coopmat<float16_t, gl_ScopeSubgroup, M, K, gl_MatrixUseA> a;
            coopmat<float16_t, gl_ScopeSubgroup, K, N, gl_MatrixUseB> bm;
            coopMatLoad(a, sQ, sg * M * DP + kb, DP, gl_CooperativeMatrixLayoutRowMajor);
            // K^T: element (kk, nn) is key nb + nn, dimension kb + kk.
            coopMatLoad(bm, sKV, nb * DP + kb, DP, gl_CooperativeMatrixLayoutColumnMajor);
            acc = coopMatMulAdd(a, bm, acc);
        }
        coopMatStore(acc, sS, sg * M * SS + nb, SS, gl_CooperativeMatrixLayoutRowMajor);
    }
}

// Step 3 for row r (global i): the scores' rules, the new running max and sum, the weights.
void softmax_row(uint r, uint i, int kt, bool full, seq_rule sr, float slope, uint b, uint h)
{
    const bool softcap = (pc.flags & ATTN_FLAG_SOFTCAP) != 0u;
    float mt = NEG_INF;
    for (uint c = 0u; c < BC; ++c) {
        int key = kt + int(c);
        float s = NEG_INF;
        if (full || (mask_visible(int(i), key, sr, pc.flags, pc.wl, pc.wr) &&
                     ((pc.flags & ATTN_FLAG_MASK) == 0u || custom_mask(b, h, i, uint(key))))) {
            float dot = sS[r * SS + c] * pc.q_scale;
            // As attention.comp: scores held inside f32, tanh clamped, NaN kept.
            float cd = clamp(dot, -FLT_MAX, FLT_MAX);
            s = isnan(dot) ? F_NAN
                : softcap ? pc.softcap * LOG2E * tanh(clamp(cd / pc.softcap, -10.0, 10.0))
                          : cd;
            if (slope != 0.0 && !isnan(s))
                s = alibi_bias(s, slope, int(i), key, sr);
        }
        if (isnan(s))
            sBad[r] = 1u;
        sS[r * SS + c] = s;
        mt = s > mt ? s : mt; // NaN scores are skipped like masked ones
    }
    const float m = sM[r];
    const float mnew = max(m, mt);
    float alpha = 1.0;
    float l = sL[r];
    if (mnew != NEG_INF) { // a row that has seen nothing yet must not compute -inf - -inf
        alpha = exp2(m - mnew); // m = -inf gives 0: nothing accumulated yet
        l *= alpha;
        sM[r] = mnew;
    }
    for (uint c = 0u; c < BC; ++c) {
        float s = sS[r * SS + c];
        float16_t p = float16_t(0.0);
        if (s > NEG_INF) { // masked (-inf) and NaN scores add nothing
            p = float16_t(exp2(s - mnew));
            l += float(p); // the sum of the weights P V really uses
        }
        sP[r * PS + c] = p;
    }
    sL[r] = l;
    sAlpha[r] = alpha;
}

// Step 5: row block sg's O rows += P V.
void accumulate(uint sg)
{
    for (uint nb = 0u; nb < DP; nb += N) {
        coopmat<float, gl_ScopeSubgroup, M, N, gl_MatrixUseAccumulator> acc;
        coopMatLoad(acc, sO, sg * M * DP + nb, DP, gl_CooperativeMatrixLayoutRowMajor);
        for (uint kb = 0u; kb < BC; kb += K) {
            coopmat<float16_t, gl_ScopeSubgroup, M, K, gl_MatrixUseA> a;
            coopmat<float16_t, gl_ScopeSubgroup, K, N, gl_MatrixUseB> bm;
            coopMatLoad(a, sP, sg * M * PS + kb, PS, gl_CooperativeMatrixLayoutRowMajor);
            coopMatLoad(bm, sKV, kb * DP + nb, DP, gl_CooperativeMatrixLayoutRowMajor);
            acc = coopMatMulAdd(a, bm, acc);
        }
        coopMatStore(acc, sO, sg * M * DP + nb, DP, gl_CooperativeMatrixLayoutRowMajor);
    }
}

// Step 5 where the V tile holds a NaN: only the keys a row sees may reach it (0 * NaN must
// not), so the weights are applied one by one, for the keys whose score is a number.
void accumulate_scalar()
{
    for (uint e = gl_LocalInvocationID.x; e < BR * D; e += WG) {
        uint r = e / D, d = e % D;
        float acc = sO[r * DP + d];
        for (uint c = 0u; c < BC; ++c)
            if (sS[r * SS + c] > NEG_INF)
                acc += float(sP[r * PS + c]) * float(sKV[c * DP + d]);
        sO[r * DP + d] = acc;
    }
}

void main()
{
    const uint tid = gl_LocalInvocationID.x;
    const uint h = gl_WorkGroupID.y;
    const uint hk = h / PC_GROUP;
    // Packed batches: the block's item and first row (a block past its item's rows has none).
    const bool varlen = (pc.flags & ATTN_FLAG_VARLEN) != 0u;
    uint b = gl_WorkGroupID.z, r0 = gl_WorkGroupID.x * BR, rend;
    if (varlen)
        varlen_block(gl_WorkGroupID.x, 1u, BR, b, r0, rend);
    const uint bt = varlen ? 0u : b; // the batch index of the tensors (packed: none)

    const seq_rule sr = seq_rule_for(b);
    const int k_end = sr.k0 + sr.kl; // keys past it are not loaded (rows before k0 are masked)
    const float slope = alibi_slope(b, h);

    // Keys any valid row of this block can see; tiles outside [j0, j1) are never loaded.
    int j0, j1;
    mask_key_range(int(r0), int(r0 + BR), sr, pc.flags, pc.wl, pc.wr, j0, j1);

    const uint qbase = pc.q_off + bt * pc.q_sb + h * pc.q_sh;
    const uint kbase = pc.k_off + bt * pc.k_sb + hk * pc.k_sh;
    const uint vbase = pc.v_off + bt * pc.v_sb + hk * pc.v_sh;

    for (uint e = tid; e < BR * DP; e += WG) {
        uint rr = e / DP, d = e % DP;
        uint row = r0 + rr;
        const bool ok = int(row) >= sr.q0 && int(row) < sr.q0 + sr.ql;
        float x = ok && d < D ? finite_or_nan(float(q[qbase + row * pc.q_ss + d])) : 0.0;
        sQ[e] = float16_t(x);
        sO[e] = 0.0;
    }
    for (uint r = tid; r < BR; r += WG) {
        sM[r] = NEG_INF;
        sL[r] = 0.0;
        sBad[r] = 0u;
    }

    for (int kt = (j0 / int(BC)) * int(BC); kt < j1; kt += int(BC)) {
        // Every row of the block sees every key of the tile: no per-element mask test.
        const bool full = (pc.flags & ATTN_FLAG_MASK) == 0u &&
                          mask_block_full(int(r0), int(r0 + BR), kt, kt + int(BC), sr, pc.flags,
                                          pc.wl, pc.wr);
        barrier(); // the previous tile's sKV and sP are no longer read
        if (tid == 0u)
            sVBad = 0u;
        load_kv(false, kbase, pc.k_ss, kt, k_end);
        barrier();
        // The subgroups take the row blocks in turn, however many the driver made.
        for (uint sg = gl_SubgroupID; sg < NSG; sg += gl_NumSubgroups)
            scores(sg);
        barrier(); // sS written, sKV (K) read
        load_kv(true, vbase, pc.v_ss, kt, k_end);
        for (uint r = tid; r < BR; r += WG)
            softmax_row(r, r0 + r, kt, full, sr, slope, b, h);
        barrier();
        for (uint e = tid; e < BR * DP; e += WG)
            sO[e] *= sAlpha[e / DP];
        barrier();
        if (sVBad != 0u)
            accumulate_scalar();
        else
            for (uint sg = gl_SubgroupID; sg < NSG; sg += gl_NumSubgroups)
                accumulate(sg);
    }
    barrier();

    // A NaN in the accumulator came from a non-finite V of a visible key (columns past D are 0).
    for (uint e = tid; e < BR * D; e += WG)
        if (isnan(sO[(e / D) * DP + e % D]))
            atomicOr(sBad[e / D], 1u);
    barrier();

    // The sinks join each row's softmax (sAlpha: the factor of the row's accumulator).
    for (uint r = tid; r < BR; r += WG) {
        float mx = sM[r], l = sL[r];
        sAlpha[r] = sink_join(h, mx, l);
        sM[r] = mx;
        sL[r] = l;
    }
    barrier();

    // A row that saw no key (padding, empty window, kl = 0) gets exactly 0 and LSE = -inf (the
    // sink, with sinks); a row that a non-finite input reached gets NaN throughout.
    for (uint e = tid; e < BR * D; e += WG) {
        uint r = e / D, d = e % D;
        uint i = r0 + r;
        if (i >= pc.Sq || (varlen && int(i) >= sr.q0 + sr.ql)) // packed: other items' rows
            continue;
        const float l = sL[r];
        const bool seen = l > 0.0;
        const float x = sBad[r] != 0u ? F_NAN : seen ? sO[r * DP + d] * sAlpha[r] / l : 0.0;
        o[pc.o_off + bt * pc.o_sb + h * pc.o_sh + i * pc.o_ss + d] = STORE_T(x);
    }
    if ((pc.flags & ATTN_FLAG_LSE) != 0u)
        for (uint r = tid; r < BR; r += WG) {
            uint i = r0 + r;
            if (i >= pc.Sq || (varlen && int(i) >= sr.q0 + sr.ql))
                continue;
            const float l = sL[r];
            lse[pc.lse_off + (bt * PC_HQ + h) * pc.Sq + i] =
                sBad[r] != 0u ? F_NAN : l > 0.0 ? (sM[r] + log2(l)) * LN2 : NEG_INF;
        }
}
