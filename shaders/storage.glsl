// How a kernel's tensors hold their elements: f32, f16 through GL_EXT_shader_16bit_storage,
// (VKATTN_F16_WORDS) f16 as 32-bit words for devices without storageBuffer16BitAccess (SwiftShader,
// many phones), or (VKATTN_BF16) bf16 as 32-bit words. The same module source serves all four:
//   ELEM_T        the type a tensor buffer is declared with
//   OUT_ACCESS    the qualifier of an output buffer (words are read back by the atomics below)
//   AT(buf, i)    element i of buf as a float
//   PUT(buf, i, x) writes float x to element i of buf (converted to the storage type)
// A binding starts on 4 bytes (descriptor offsets are aligned), so element i of an f16 binding is
// half i & 1 of word i >> 1. Both f16 forms convert with the device's own f16 conversions
// (unpack/packHalf2x16 here, OpFConvert there); tests/test_f16_words.c checks on each device it
// runs on that the bits agree (lavapipe 22.3 and 26.1: they do).
#if defined(VKATTN_BF16)
// bf16 (SPEC 1: the top half of an f32) as 32-bit words on every device: reading is a shift,
// writing a rounding, so 16-bit storage would buy nothing but a second module.
#define ELEM_T uint
#define OUT_ACCESS
float bf16_of(uint w, uint i)
{
    return uintBitsToFloat((i & 1u) == 0u ? w << 16u : w & 0xffff0000u);
}
#define AT(buf, i) bf16_of(buf[(i) >> 1u], (i))
// x rounded to the nearest bf16, ties to even; a NaN stays a (quiet) NaN.
uint bf16_bits(float x)
{
    const uint u = floatBitsToUint(x);
    return isnan(x) ? (u >> 16u) | 0x40u : (u + 0x7fffu + ((u >> 16u) & 1u)) >> 16u;
}
// As for f16 words: each write clears and sets its own half only, atomically.
#define PUT(buf, i, x)                                                                            \
    do {                                                                                          \
        const uint put_i = (i), put_s = (put_i & 1u) * 16u;                                       \
        atomicAnd(buf[put_i >> 1u], ~(0xffffu << put_s));                                         \
        atomicOr(buf[put_i >> 1u], bf16_bits(x) << put_s);                                        \
    } while (false)
#elif defined(VKATTN_F16_WORDS)
#ifndef VKATTN_F16
#error VKATTN_F16_WORDS is a form of VKATTN_F16
#endif
#define ELEM_T uint
#define OUT_ACCESS
float half_of(uint w, uint i)
{
    const vec2 h = unpackHalf2x16(w);
    return (i & 1u) == 0u ? h.x : h.y;
}
#define AT(buf, i) half_of(buf[(i) >> 1u], (i))
// The two halves of a word can be two invocations' elements (or one of ours and one of another
// tensor's), so each write clears and sets its own half only, atomically.
#define PUT(buf, i, x)                                                                            \
    do {                                                                                          \
        const uint put_i = (i), put_s = (put_i & 1u) * 16u;                                       \
        atomicAnd(buf[put_i >> 1u], ~(0xffffu << put_s));                                         \
        atomicOr(buf[put_i >> 1u], (packHalf2x16(vec2((x), 0.0)) & 0xffffu) << put_s);            \
    } while (false)
#elif defined(VKATTN_F16)
#extension GL_EXT_shader_16bit_storage : require
#define ELEM_T float16_t
#define OUT_ACCESS writeonly
#define AT(buf, i) float(buf[i])
#define PUT(buf, i, x) buf[i] = float16_t(x)
#else
#define ELEM_T float
#define OUT_ACCESS writeonly
#define AT(buf, i) buf[i]
#define PUT(buf, i, x) buf[i] = (x)
#endif
