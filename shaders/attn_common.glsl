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
    uint hm = (pc.flags & ATTN_FLAG_MASK_BCAST_H) != 0u ? 1u : pc.Hq;
    uint idx = pc.mask_off + ((mb * hm + mh) * pc.Sq + i) * pc.Skv + j;
    return ((mask_words[idx >> 2] >> ((idx & 3u) * 8u)) & 0xffu) != 0u;
}

