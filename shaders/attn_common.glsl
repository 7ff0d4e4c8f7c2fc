// Helpers shared by attention.comp and decode.comp: the constants, the non-finite rules of
// SPEC 3 and the custom mask lookup. Needs pc (common fields) and mask_words.
const float NEG_INF = -1.0 / 0.0;
const float LN2 = 0.69314718055994531;
const float LOG2E = 1.4426950408889634;
const float FLT_MAX = 3.402823466e38;
#define F_NAN uintBitsToFloat(0x7fc00000u) // a quiet NaN (no constant form in GLSL)

// Non-finite inputs (SPEC 3): a NaN or Inf that reaches a row makes the whole row (O and LSE)
// NaN. Q and K values that are not finite are loaded as NaN, so every score they touch is NaN
// whatever the other factor (0 * Inf would be NaN, x * Inf would not); likewise V, so that
// p * v is NaN for any weight p. A row notes a NaN score (and drops it from the softmax, since
// max() with NaN is undefined), and at the end looks for a NaN in its accumulator (from V).
// Values are tested at load time only; the clamping below applies to finite inputs.
float finite_or_nan(float x)
{
    return isinf(x) ? F_NAN : x;
}

// q * scale, held inside f32's range so that a huge q times a zero k gives 0, not NaN.
float scaled(float x)
{
    return isnan(x) || isinf(x) ? F_NAN : clamp(x * pc.q_scale, -FLT_MAX, FLT_MAX);
}

bool custom_mask(uint b, uint h, uint i, uint j)
{
    uint mb = (pc.flags & ATTN_FLAG_MASK_BCAST_B) != 0u ? 0u : b;
    uint mh = (pc.flags & ATTN_FLAG_MASK_BCAST_H) != 0u ? 0u : h;
    uint hm = (pc.flags & ATTN_FLAG_MASK_BCAST_H) != 0u ? 1u : PC_HQ;
    uint idx = pc.mask_off + ((mb * hm + mh) * pc.Sq + i) * pc.Skv + j;
    return ((mask_words[idx >> 2] >> ((idx & 3u) * 8u)) & 0xffu) != 0u;
}


// The small arrays of SPEC 2 and 3: start offsets, sinks and ALiBi slopes (see ATTN_AUX_*).
layout(std430, binding = ATTN_BIND_QSTART) readonly buffer QStart { uint q_start[]; };
layout(std430, binding = ATTN_BIND_KVSTART) readonly buffer KvStart { uint kv_start[]; };
layout(std430, binding = ATTN_BIND_SINKS) readonly buffer Sinks { float sinks[]; };
layout(std430, binding = ATTN_BIND_ALIBI) readonly buffer Alibi { float alibi[]; };

uint aux_byte(uint which)
{
    return (pc.aux >> which) & 0xffu;
}

bool aux_on(uint which)
{
    return (aux_byte(which) & ATTN_AUX_ON) != 0u;
}

uint aux_off(uint which)
{
    return aux_byte(which) & ATTN_AUX_OFF_MASK;
}

// Packed batches (ATTN_FLAG_VARLEN): item b's first query row (cu_seqlens_q[b]) and key.
uint cu_q(uint b)
{
    return min(q_start[aux_off(ATTN_AUX_QSTART) + b], pc.Sq);
}

uint cu_kv(uint b)
{
    return min(kv_start[aux_off(ATTN_AUX_KVSTART) + b], pc.Skv);
}

// Batch item b's rule (SPEC 2 and 2.1). Starts and lengths past Sq/Skv are invalid input;
// clamping keeps every read inside the tensors anyway.
seq_rule seq_rule_for(uint b)
{
    seq_rule s;
    if ((pc.flags & ATTN_FLAG_VARLEN) != 0u) {
        s.q0 = int(cu_q(b));
        s.k0 = int(cu_kv(b));
        s.ql = max(int(cu_q(b + 1u)) - s.q0, 0);
        s.kl = max(int(cu_kv(b + 1u)) - s.k0, 0);
    } else {
        const uint q0 = aux_on(ATTN_AUX_QSTART) ? min(q_start[aux_off(ATTN_AUX_QSTART) + b], pc.Sq) : 0u;
        const uint k0 = aux_on(ATTN_AUX_KVSTART) ? min(kv_start[aux_off(ATTN_AUX_KVSTART) + b], pc.Skv) : 0u;
        s.q0 = int(q0);
        s.k0 = int(k0);
        s.ql = int((pc.flags & ATTN_FLAG_Q_LENS) != 0u ? min(q_lens[pc.qlens_off + b], pc.Sq - q0) : pc.Sq - q0);
        s.kl = int((pc.flags & ATTN_FLAG_KV_LENS) != 0u ? min(kv_lens[pc.kvlens_off + b], pc.Skv - k0) : pc.Skv - k0);
    }
    s.off = (pc.flags & ATTN_FLAG_TOP_LEFT) != 0u ? 0 : s.kl - s.ql;
    return s;
}

// Row blocks of a packed batch (ATTN_FLAG_VARLEN). A block holds bs slots; a query row takes
// unit slots (the KV group's heads where they share a block, else 1). Item b's blocks start at
// block b + cu_q(b) * unit / bs, so no two items share one and ceil(Tq * unit / bs) + B blocks
// hold them all: the work follows the token count, not B x the longest item. Finds the item b
// of block blk and the block's slots [v0, v1) (v1: the item's end); false for a block past its
// item's slots (at most B such blocks, which do nothing). Within an item the blocks go in
// zigzag order (0, last, 1, last - 1, ...): under a causal mask a block's cost grows with its
// place in the item, and a CPU driver hands each thread a contiguous range of workgroups
// (decode.comp's zigzag over the whole grid would pair a long item's costly blocks with the
// short items' cheap ones).
bool varlen_block(uint blk, uint unit, uint bs, out uint b, out uint v0, out uint v1)
{
    const uint n = pc.qlens_off; // B
    uint lo = 0u, hi = n - 1u;
    while (lo < hi) { // the last item whose first block is at or before blk
        const uint mid = (lo + hi + 1u) >> 1u;
        if (mid + cu_q(mid) * unit / bs <= blk)
            lo = mid;
        else
            hi = mid - 1u;
    }
    b = lo;
    const uint first = cu_q(b) * unit;
    v1 = cu_q(b + 1u) * unit;
    const uint nk = v1 > first ? (v1 - first + bs - 1u) / bs : 0u; // the item's blocks
    uint k = blk - (b + first / bs);
    if (k < nk)
        k = (k & 1u) == 0u ? k >> 1u : nk - 1u - (k >> 1u);
    v0 = first + k * bs;
    return v0 < v1;
}

// The ALiBi slope of query head h of batch item b in log2 units (the scores' units), 0 without.
// A biased score is held inside f32's range like any score (alibi_bias).
float alibi_slope(uint b, uint h)
{
    if (!aux_on(ATTN_AUX_ALIBI))
        return 0.0;
    const uint per_b = (aux_byte(ATTN_AUX_ALIBI) & ATTN_AUX_BATCH) != 0u ? b * PC_HQ : 0u;
    return clamp(alibi[aux_off(ATTN_AUX_ALIBI) + per_b + h] * LOG2E, -FLT_MAX, FLT_MAX);
}

// The sink of head h joins a row's softmax (SPEC 3) as one more score with no value: mx and l
// are the row's max (-inf when it saw no key) and sum of exp2(s - mx). Updates both and returns
// the factor by which the row's accumulator (relative to the old mx) is to be scaled; 1 and
// nothing changed without sinks.
float sink_join(uint h, inout float mx, inout float l)
{
    if (!aux_on(ATTN_AUX_SINKS))
        return 1.0;
    // (Held inside f32's range, as scores are: a finite sink never makes inf - inf.)
    const float s = clamp(sinks[aux_off(ATTN_AUX_SINKS) + h] * LOG2E, -FLT_MAX, FLT_MAX);
    const float m2 = max(mx, s);
    const float f = mx == NEG_INF ? 0.0 : exp2(mx - m2);
    l = l * f + exp2(s - m2);
    mx = m2;
    return f;
}

// Score s (log2 units, finite) less ALiBi's bias slope * |p + off - r| for query row i and key
// row j, held inside f32's range so that an extreme finite slope neither reads as masked (-inf)
// nor makes inf - inf.
float alibi_bias(float s, float slope, int i, int j, seq_rule sr)
{
    return clamp(s - slope * mask_alibi_distance(i, j, sr), -FLT_MAX, FLT_MAX);
}
