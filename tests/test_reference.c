/* The CPU reference (src/reference.c) against a naive float64 evaluation written straight from
 * SPEC sections 2-3, plus the half <-> float conversions it relies on. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/half.h"
#include "vkattn/vkattn.h"

static uint64_t rng_state;

static uint64_t rng_u64(void) /* splitmix64 */
{
    uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static double rng_uniform(void) /* (0, 1) */
{
    return ((double)(rng_u64() >> 11) + 0.5) / 9007199254740992.0;
}

static double rng_normal(void) /* Box-Muller */
{
    return sqrt(-2.0 * log(rng_uniform())) * cos(6.283185307179586 * rng_uniform());
}

/* ----------------------------------------------------------------------------------------- */

static float bits_to_float(uint32_t b)
{
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

START_TEST(half_round_trip)
{
    for (uint32_t h = 0; h < 65536; h++) {
        float f = half_to_float((uint16_t)h);
        uint16_t back = float_to_half(f);
        if ((h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0) {
            ck_assert(isnan(f));
            ck_assert_uint_eq(back & 0x7c00u, 0x7c00u);
            ck_assert_uint_ne(back & 0x3ffu, 0);
        } else {
            ck_assert_msg(back == h, "0x%04x -> %a -> 0x%04x", h, (double)f, back);
        }
    }
    ck_assert_float_eq(half_to_float(0x3c00), 1.0f);
    ck_assert_float_eq(half_to_float(0xc000), -2.0f);
    ck_assert_float_eq(half_to_float(0x7bff), 65504.0f);
    ck_assert_float_eq(half_to_float(0x0001), 0x1p-24f);
    ck_assert_float_eq(half_to_float(0x03ff), 0x3ffp-24f);
    ck_assert_float_eq(half_to_float(0x0400), 0x1p-14f);
    ck_assert(isinf(half_to_float(0xfc00)) && half_to_float(0xfc00) < 0);
    ck_assert(signbit(half_to_float(0x8000)));
}
END_TEST

START_TEST(bf16_rounding)
{
    /* SPEC 1: bf16 is the top half of an f32, rounded to nearest even. */
    ck_assert_uint_eq(float_to_bf16(1.0f), 0x3f80);
    ck_assert(bf16_to_float(0x3f80) == 1.0f);
    ck_assert_uint_eq(float_to_bf16(bits_to_float(0x3f808000u)), 0x3f80); /* tie: to even */
    ck_assert_uint_eq(float_to_bf16(bits_to_float(0x3f818000u)), 0x3f82); /* tie: to even */
    ck_assert_uint_eq(float_to_bf16(bits_to_float(0x3f808001u)), 0x3f81); /* above half */
    ck_assert_uint_eq(float_to_bf16(bits_to_float(0x3f807fffu)), 0x3f80); /* below half */
    ck_assert_uint_eq(float_to_bf16(-0.0f), 0x8000);
    ck_assert_uint_eq(float_to_bf16(bits_to_float(0x7f800000u)), 0x7f80); /* inf stays */
    ck_assert_uint_eq(float_to_bf16(bits_to_float(0x7f7fffffu)), 0x7f80); /* FLT_MAX: inf */
    ck_assert_uint_eq(float_to_bf16(bits_to_float(0x00010000u)), 0x0001); /* subnormals kept */
    const uint16_t nan = float_to_bf16(bits_to_float(0x7f800001u));
    ck_assert(isnan(bf16_to_float(nan))); /* a NaN whose payload is all below stays NaN */
    for (uint32_t b = 0; b < 0x10000u; b++) { /* every finite bf16 round-trips */
        const float f = bf16_to_float((uint16_t)b);
        if (!isnan(f))
            ck_assert_uint_eq(float_to_bf16(f), b);
    }
}
END_TEST

START_TEST(half_rounding)
{
    ck_assert_uint_eq(float_to_half(65519.0f), 0x7bff);
    ck_assert_uint_eq(float_to_half(65520.0f), 0x7c00); /* tie to even = inf */
    ck_assert_uint_eq(float_to_half(1e10f), 0x7c00);
    ck_assert_uint_eq(float_to_half(-INFINITY), 0xfc00);
    ck_assert_uint_eq(float_to_half(NAN) & 0x7e00u, 0x7e00u);
    ck_assert_uint_eq(float_to_half(1.0f + 0x1p-11f), 0x3c00);          /* tie, even below */
    ck_assert_uint_eq(float_to_half(1.0f + 3 * 0x1p-11f), 0x3c02);      /* tie, even above */
    ck_assert_uint_eq(float_to_half(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);
    ck_assert_uint_eq(float_to_half(0x1p-25f), 0x0000);                 /* tie to 0 */
    ck_assert_uint_eq(float_to_half(0x1.000002p-25f), 0x0001);
    ck_assert_uint_eq(float_to_half(0x3p-25f), 0x0002);                 /* 1.5 ulp: tie up */
    ck_assert_uint_eq(float_to_half(0x7ffp-25f), 0x0400);               /* carries to normal */
    ck_assert_uint_eq(float_to_half(-0x1p-30f), 0x8000);
    ck_assert_uint_eq(float_to_half(0x1p-14f), 0x0400);
    /* Against the compiler's own conversion where it has one. */
#ifdef __FLT16_MAX__
    rng_state = 99;
    for (int n = 0; n < 200000; n++) {
        uint32_t b = (uint32_t)rng_u64();
        if (n % 2) /* half of them near the half range, where the interesting cases are */
            b = (b & 0x80ffffffu) | ((uint32_t)(100 + rng_u64() % 45) << 23);
        float f = bits_to_float(b);
        if (isnan(f))
            continue;
        __extension__ _Float16 h = (_Float16)f;
        uint16_t want;
        memcpy(&want, &h, sizeof want);
        ck_assert_msg(float_to_half(f) == want, "%a: 0x%04x, compiler 0x%04x", (double)f,
                      float_to_half(f), want);
    }
#else
    (void)bits_to_float;
#endif
}
END_TEST

/* ----------------------------------------------------------------------------------------- */

enum { LAYOUT_BHSD, LAYOUT_BSHD, LAYOUT_PADDED };
enum { LENS_NONE = 0, LENS_Q = 1, LENS_KV = 2, LENS_BOTH = 3 };

typedef struct ref_case {
    uint32_t B, Hq, Hkv, Sq, Skv, D;
    vkattn_dtype dtype;
    int layout;
    bool causal;
    vkattn_align align;
    bool window;
    int32_t wl, wr;
    float scale, softcap;
    int lens;
    uint32_t mask_b, mask_h;
    double amp; /* input magnitude: N(0, amp^2) */
    int starts;  /* LENS_* bits: which start offsets (left padding) are given */
    bool sinks;
    vkattn_alibi alibi;
} ref_case;

#define F32 VKATTN_DTYPE_F32
#define F16 VKATTN_DTYPE_F16
#define BR VKATTN_ALIGN_BOTTOM_RIGHT
#define TL VKATTN_ALIGN_TOP_LEFT

static const ref_case cases[] = {
    /* B Hq Hkv Sq Skv D  dtype layout         causal align window wl wr scale softcap lens   mb mh amp */
    {1, 1, 1, 5, 7, 1, F32, LAYOUT_BHSD, false, BR, false, 0, 0, 0, 0, LENS_NONE, 0, 0, 1, LENS_NONE, false, 0},
    {2, 2, 2, 9, 13, 3, F32, LAYOUT_BHSD, true, BR, false, 0, 0, 0, 0, LENS_NONE, 0, 0, 1, LENS_NONE, false, 0},
    {1, 2, 1, 13, 6, 16, F32, LAYOUT_BHSD, true, TL, false, 0, 0, 0, 0, LENS_NONE, 0, 0, 1, LENS_NONE, false, 0},
    {1, 2, 2, 13, 6, 16, F32, LAYOUT_BSHD, true, BR, false, 0, 0, 0, 0, LENS_NONE, 0, 0, 1, LENS_NONE, false, 0},
    {2, 6, 2, 17, 23, 64, F32, LAYOUT_BSHD, false, BR, false, 0, 0, 0, 0, LENS_NONE, 0, 0, 1, LENS_NONE, false, 0},
    {1, 4, 1, 20, 20, 80, F32, LAYOUT_BHSD, false, BR, true, 3, 2, 0, 0, LENS_NONE, 0, 0, 1, LENS_NONE, false, 0},
    {1, 2, 1, 11, 30, 128, F32, LAYOUT_BHSD, true, BR, true, -1, 4, 0, 0, LENS_NONE, 0, 0, 1, LENS_NONE, false, 0},
    {1, 2, 2, 9, 9, 96, F32, LAYOUT_BHSD, false, TL, true, 2, -1, 0, 0, LENS_NONE, 0, 0, 1, LENS_NONE, false, 0},
    {3, 2, 1, 10, 12, 256, F32, LAYOUT_BHSD, true, BR, false, 0, 0, 0, 0, LENS_BOTH, 0, 0, 1, LENS_NONE, false, 0},
    {3, 2, 2, 8, 11, 32, F32, LAYOUT_BSHD, true, TL, true, 2, 1, 0, 0, LENS_BOTH, 0, 0, 1, LENS_NONE, false, 0},
    {2, 2, 2, 12, 8, 5, F32, LAYOUT_BHSD, false, BR, false, 0, 0, 0, 0, LENS_Q, 0, 0, 1, LENS_NONE, false, 0},
    {2, 2, 2, 6, 14, 7, F32, LAYOUT_PADDED, true, BR, false, 0, 0, 0, 0, LENS_KV, 0, 0, 1, LENS_NONE, false, 0},
    {2, 3, 3, 7, 9, 24, F32, LAYOUT_BHSD, false, BR, false, 0, 0, 0, 0, LENS_NONE, 1, 3, 1, LENS_NONE, false, 0},
    {2, 4, 2, 9, 10, 16, F32, LAYOUT_BSHD, true, BR, false, 0, 0, 0, 0, LENS_BOTH, 2, 1, 1, LENS_NONE, false, 0},
    {2, 2, 1, 5, 6, 8, F32, LAYOUT_PADDED, false, TL, true, 1, 1, 0, 0, LENS_NONE, 2, 2, 1, LENS_NONE, false, 0},
    {1, 2, 2, 10, 10, 1, F32, LAYOUT_BHSD, false, BR, false, 0, 0, 0, 0, LENS_NONE, 1, 1, 1, LENS_NONE, false, 0},
    {1, 2, 2, 12, 15, 64, F32, LAYOUT_BHSD, true, BR, false, 0, 0, 0.3f, 5, LENS_NONE, 0, 0, 1, LENS_NONE, false, 0},
    {1, 2, 2, 12, 15, 64, F32, LAYOUT_BHSD, true, BR, false, 0, 0, 0, 0, LENS_NONE, 0, 0, 30, LENS_NONE, false, 0},
    {1, 2, 1, 12, 15, 128, F32, LAYOUT_BSHD, false, BR, true, 4, 4, 0, 50, LENS_NONE, 0, 0, 30, LENS_NONE, false, 0},
    {1, 1, 1, 4, 200, 3, F32, LAYOUT_BHSD, false, BR, false, 0, 0, 2.0f, 0, LENS_NONE, 0, 0, 30, LENS_NONE, false, 0},
    /* f16: O_ref from the f16-rounded inputs */
    {2, 2, 2, 9, 13, 3, F16, LAYOUT_PADDED, true, BR, false, 0, 0, 0, 0, LENS_NONE, 0, 0, 1, LENS_NONE, false, 0},
    {1, 2, 1, 13, 6, 16, F16, LAYOUT_BHSD, true, TL, false, 0, 0, 0, 0, LENS_NONE, 0, 0, 1, LENS_NONE, false, 0},
    {2, 6, 2, 17, 23, 64, F16, LAYOUT_BSHD, true, BR, false, 0, 0, 0, 0, LENS_BOTH, 0, 0, 1, LENS_NONE, false, 0},
    {1, 4, 1, 20, 20, 80, F16, LAYOUT_BHSD, false, BR, true, 3, 2, 0, 0, LENS_NONE, 0, 0, 1, LENS_NONE, false, 0},
    {2, 2, 2, 9, 10, 128, F16, LAYOUT_BHSD, false, BR, false, 0, 0, 0, 0, LENS_NONE, 2, 1, 1, LENS_NONE, false, 0},
    {2, 2, 1, 10, 12, 256, F16, LAYOUT_BSHD, true, BR, false, 0, 0, 0, 0, LENS_KV, 0, 0, 1, LENS_NONE, false, 0},
    {1, 2, 2, 12, 15, 64, F16, LAYOUT_BHSD, true, BR, false, 0, 0, 0, 20, LENS_NONE, 0, 0, 30, LENS_NONE, false, 0},
    {1, 1, 1, 5, 7, 1, F16, LAYOUT_BHSD, false, BR, false, 0, 0, 0, 0, LENS_NONE, 1, 1, 1, LENS_NONE, false, 0},
    /* start offsets, sinks and ALiBi (SPEC 2 and 3), alone and with the rest */
    /* B Hq Hkv Sq Skv D  dtype layout         causal align window wl wr scale softcap lens   mb mh amp starts sinks alibi */
    {3, 2, 1, 10, 12, 16, F32, LAYOUT_BHSD, true, BR, false, 0, 0, 0, 0, LENS_NONE, 0, 0, 1, LENS_BOTH, false, 0},
    {3, 2, 2, 8, 11, 32, F32, LAYOUT_BSHD, true, TL, true, 2, 1, 0, 0, LENS_BOTH, 0, 0, 1, LENS_BOTH, false, 0},
    {2, 2, 2, 12, 8, 5, F32, LAYOUT_BHSD, false, BR, true, 3, -1, 0, 0, LENS_NONE, 0, 0, 1, LENS_Q, false, 0},
    {2, 4, 2, 9, 10, 16, F32, LAYOUT_PADDED, true, BR, false, 0, 0, 0, 0, LENS_KV, 2, 1, 1, LENS_KV, false, 0},
    {3, 2, 1, 9, 13, 8, F32, LAYOUT_BHSD, false, BR, false, 0, 0, 0, 0, LENS_BOTH, 0, 0, 1, LENS_NONE, true, 0},
    {2, 4, 2, 12, 15, 64, F32, LAYOUT_BHSD, true, BR, false, 0, 0, 0, 5, LENS_NONE, 0, 0, 1, LENS_NONE, false, VKATTN_ALIBI_HEADS},
    {2, 2, 1, 13, 6, 16, F32, LAYOUT_BSHD, false, TL, true, 2, 2, 0, 0, LENS_NONE, 0, 0, 1, LENS_NONE, false, VKATTN_ALIBI_BATCH_HEADS},
    {3, 4, 2, 10, 12, 24, F16, LAYOUT_BHSD, true, BR, false, 0, 0, 0, 0, LENS_BOTH, 1, 4, 1, LENS_BOTH, true, VKATTN_ALIBI_HEADS},
};

static vkattn_strides padded_strides(uint32_t heads, uint32_t seq, uint32_t d)
{
    vkattn_strides s = {.s = d + 3};
    s.h = s.s * seq + 5;
    s.b = s.h * heads + 1;
    return s;
}

static double load(const void *base, vkattn_dtype dt, uint64_t i)
{
    return dt == F16 ? half_to_float(((const uint16_t *)base)[i]) : ((const float *)base)[i];
}

/* Element offset of [b][h][s][0]. */
static uint64_t at(vkattn_strides st, uint64_t b, uint64_t h, uint64_t s)
{
    return b * st.b + h * st.h + s * st.s;
}

static void *random_tensor(uint64_t n, vkattn_dtype dt, double amp)
{
    void *p = malloc(n * (dt == F16 ? 2 : 4) + 1);
    for (uint64_t i = 0; i < n; i++) {
        float x = (float)(amp * rng_normal());
        if (dt == F16)
            ((uint16_t *)p)[i] = float_to_half(x);
        else
            ((float *)p)[i] = x;
    }
    return p;
}

/* The smallest gap between two f16 values around x (subnormal spacing below 2^-14). */
static double half_ulp(double x)
{
    int e;
    frexp(fabs(x), &e); /* |x| in [2^(e-1), 2^e) */
    return e - 1 < -14 ? 0x1p-24 : ldexp(1.0, e - 1 - 10);
}

static void run_case(int idx)
{
    const ref_case *c = &cases[idx];
    rng_state = 1000 + (uint64_t)idx;
    vkattn_problem p = {.batch = c->B, .heads_q = c->Hq, .heads_kv = c->Hkv, .seq_q = c->Sq,
                        .seq_kv = c->Skv, .head_dim = c->D, .dtype = c->dtype,
                        .causal = c->causal, .align = c->align, .window = c->window,
                        .window_left = c->wl, .window_right = c->wr, .scale = c->scale,
                        .softcap = c->softcap, .has_q_lens = c->lens & LENS_Q,
                        .has_kv_lens = c->lens & LENS_KV, .has_lse = true,
                        .mask_batch = c->mask_b, .mask_heads = c->mask_h,
                        .has_q_start = c->starts & LENS_Q, .has_kv_start = c->starts & LENS_KV,
                        .has_sinks = c->sinks, .alibi = c->alibi};
    if (c->layout == LAYOUT_BSHD) {
        p.q = p.out = vkattn_strides_bshd(c->Hq, c->Sq, c->D);
        p.k = p.v = vkattn_strides_bshd(c->Hkv, c->Skv, c->D);
    } else if (c->layout == LAYOUT_PADDED) {
        p.q = p.out = padded_strides(c->Hq, c->Sq, c->D);
        p.k = p.v = padded_strides(c->Hkv, c->Skv, c->D);
        p.out.s += 1; /* differs from q's */
        p.out.h = p.out.s * c->Sq + 2;
        p.out.b = p.out.h * c->Hq;
    }
    /* The naive side's own strides; BHSD stays all-zero in p to exercise the default. */
    vkattn_strides qs = p.q, ks = p.k, vs = p.v, os = p.out;
    if (c->layout == LAYOUT_BHSD) {
        const uint32_t hkv = c->Hkv ? c->Hkv : c->Hq;
        qs = os = (vkattn_strides){.b = (uint64_t)c->Hq * c->Sq * c->D,
                                   .h = (uint64_t)c->Sq * c->D, .s = c->D};
        ks = vs = (vkattn_strides){.b = (uint64_t)hkv * c->Skv * c->D,
                                   .h = (uint64_t)c->Skv * c->D, .s = c->D};
    }
    char msg[256];
    ck_assert_msg(vkattn_problem_check(&p, msg, sizeof msg) == VKATTN_SUCCESS, "case %d: %s", idx,
                  msg);
    const uint64_t nq = vkattn_problem_extent(&p, 'q'), nk = vkattn_problem_extent(&p, 'k');
    const uint64_t nv = vkattn_problem_extent(&p, 'v'), no = vkattn_problem_extent(&p, 'o');
    const uint64_t nl = vkattn_problem_extent(&p, 'l'), nm = vkattn_problem_extent(&p, 'm');
    const size_t es = c->dtype == F16 ? 2 : 4;
    void *q = random_tensor(nq, c->dtype, c->amp), *k = random_tensor(nk, c->dtype, c->amp);
    void *v = random_tensor(nv, c->dtype, c->amp);
    unsigned char *out = malloc(no * es);
    float *lse = malloc(nl * sizeof *lse);
    unsigned char *written = calloc(no, 1);
    memset(out, 0x7b, no * es); /* sentinel, to check the gaps stay untouched */
    for (uint64_t i = 0; i < nl; i++)
        lse[i] = 1234.0f;
    uint32_t q_lens[4], kv_lens[4];
    for (uint32_t b = 0; b < c->B; b++) { /* batch item 1 gets length 0 */
        q_lens[b] = b == 1 ? 0 : (uint32_t)(rng_u64() % (c->Sq + 1));
        kv_lens[b] = b == 1 ? 0 : (uint32_t)(rng_u64() % (c->Skv + 1));
    }
    if (c->lens == LENS_BOTH && c->B > 2) { /* and one with q_len 0 but keys, one vice versa */
        q_lens[2] = c->Sq;
        kv_lens[2] = 0;
        q_lens[0] = 0;
        kv_lens[0] = c->Skv;
    }
    /* Starts that fit beside the lengths (or, without lengths, anywhere up to the end). */
    uint32_t q_start[4], kv_start[4];
    for (uint32_t b = 0; b < c->B; b++) {
        const uint32_t qfree = c->Sq - (p.has_q_lens ? q_lens[b] : 0);
        const uint32_t kfree = c->Skv - (p.has_kv_lens ? kv_lens[b] : 0);
        q_start[b] = (uint32_t)(rng_u64() % (qfree + 1));
        kv_start[b] = (uint32_t)(rng_u64() % (kfree + 1));
    }
    float sinks[8], alibi[32];
    for (uint32_t h = 0; h < 8; h++)
        sinks[h] = (float)(2.0 * rng_normal());
    for (uint32_t e = 0; e < 32; e++)
        alibi[e] = (float)(0.5 * rng_uniform());
    uint8_t *mask = malloc(nm + 1);
    for (uint64_t i = 0; i < nm; i++)
        mask[i] = rng_u64() % 10 < 7 ? (uint8_t)(1 + rng_u64() % 255) : 0;
    if (nm > 0) /* one row that sees nothing */
        memset(mask + 2u * c->Skv, 0, c->Skv);

    vkattn_host_tensors t = {.q = q, .k = k, .v = v, .out = out, .lse = lse,
                             .q_lens = p.has_q_lens ? q_lens : NULL,
                             .kv_lens = p.has_kv_lens ? kv_lens : NULL, .mask = mask,
                             .q_start = p.has_q_start ? q_start : NULL,
                             .kv_start = p.has_kv_start ? kv_start : NULL, .sinks = sinks,
                             .alibi = alibi};
    ck_assert_msg(vkattn_reference(&p, &t, msg, sizeof msg) == VKATTN_SUCCESS, "case %d: %s", idx,
                  msg);

    const uint32_t Hkv = c->Hkv ? c->Hkv : c->Hq;
    const double scale = c->scale ? c->scale : 1.0 / sqrt((double)c->D);
    double *s = malloc(c->Skv * sizeof *s), *o = malloc(c->D * sizeof *o);
    for (uint32_t b = 0; b < c->B; b++) {
        const int64_t q0 = p.has_q_start ? q_start[b] : 0, k0 = p.has_kv_start ? kv_start[b] : 0;
        const int64_t ql = p.has_q_lens ? q_lens[b] : c->Sq - q0;
        const int64_t kl = p.has_kv_lens ? kv_lens[b] : c->Skv - k0;
        const int64_t off = c->align == TL ? 0 : kl - ql;
        for (uint32_t h = 0; h < c->Hq; h++) {
            const uint32_t hk = h / (c->Hq / Hkv);
            for (int64_t i = 0; i < c->Sq; i++) {
                double mx = -INFINITY;
                const double slope = c->alibi == VKATTN_ALIBI_BATCH_HEADS ? alibi[b * c->Hq + h]
                                     : c->alibi == VKATTN_ALIBI_HEADS      ? alibi[h]
                                                                           : 0.0;
                for (int64_t j = 0; j < c->Skv; j++) {
                    const int64_t pi = i - q0, rj = j - k0; /* positions (SPEC 2) */
                    bool vis = pi >= 0 && rj >= 0 && pi < ql && rj < kl;
                    if (c->causal && rj > pi + off)
                        vis = false;
                    if (c->window && c->wl != -1 && rj < pi + off - c->wl)
                        vis = false;
                    if (c->window && c->wr != -1 && rj > pi + off + c->wr)
                        vis = false;
                    if (c->mask_b) {
                        uint64_t mb = c->mask_b == 1 ? 0 : b, mh = c->mask_h == 1 ? 0 : h;
                        if (!mask[((mb * c->mask_h + mh) * c->Sq + i) * c->Skv + j])
                            vis = false;
                    }
                    s[j] = -INFINITY;
                    if (!vis)
                        continue;
                    double dot = 0;
                    for (uint32_t d = 0; d < c->D; d++)
                        dot += load(q, c->dtype, at(qs, b, h, i) + d) *
                               load(k, c->dtype, at(ks, b, hk, j) + d);
                    s[j] = scale * dot;
                    if (c->softcap > 0)
                        s[j] = c->softcap * tanh(s[j] / c->softcap);
                    s[j] -= slope * fabs((double)(pi + off - rj));
                    mx = fmax(mx, s[j]);
                }
                const bool seen = mx > -INFINITY;
                const double sink = c->sinks ? sinks[h] : -INFINITY;
                if (c->sinks)
                    mx = fmax(mx, sink);
                double sum = c->sinks ? exp(sink - mx) : 0;
                for (uint32_t d = 0; d < c->D; d++)
                    o[d] = 0;
                for (int64_t j = 0; j < c->Skv && mx > -INFINITY; j++) {
                    if (s[j] == -INFINITY)
                        continue;
                    double e = exp(s[j] - mx);
                    sum += e;
                    for (uint32_t d = 0; d < c->D; d++)
                        o[d] += e * load(v, c->dtype, at(vs, b, hk, j) + d);
                }
                const uint64_t oi = at(os, b, h, i);
                const float got_lse = lse[((uint64_t)b * c->Hq + h) * c->Sq + i];
                if (!seen && !c->sinks) {
                    ck_assert_msg(got_lse == -INFINITY, "case %d: LSE %g, want -inf", idx,
                                  (double)got_lse);
                } else {
                    double want = mx + log(sum);
                    ck_assert_msg(fabs(got_lse - want) <= 1e-5 * fmax(1.0, fabs(want)),
                                  "case %d b %u h %u i %lld: LSE %.9g, want %.9g", idx, b, h,
                                  (long long)i, (double)got_lse, want);
                }
                for (uint32_t d = 0; d < c->D; d++) {
                    written[oi + d] = 1;
                    double want = !seen ? 0.0 : o[d] / sum;
                    double got = load(out, c->dtype, oi + d);
                    ck_assert_msg(isfinite(got), "case %d: non-finite output", idx);
                    if (!seen) {
                        ck_assert_msg(got == 0.0 && !signbit(got), "case %d: empty row gives %g",
                                      idx, got);
                        continue;
                    }
                    /* f16: no more than one f16 step (the final rounding, from float64 via
                     * float), and SPEC's 5e-3 for N(0, 1) inputs. Large inputs give |O| of
                     * tens, where one f16 step alone is more than 5e-3. */
                    double tol = 1e-4;
                    if (c->dtype == F16)
                        tol = c->amp == 1 ? fmin(5e-3, half_ulp(want)) : half_ulp(want);
                    ck_assert_msg(fabs(got - want) <= tol,
                                  "case %d b %u h %u i %lld d %u: got %.9g, want %.9g", idx, b, h,
                                  (long long)i, d, got, want);
                }
            }
        }
    }
    for (uint64_t i = 0; i < no; i++)
        if (!written[i])
            for (size_t e = 0; e < es; e++)
                ck_assert_msg(out[i * es + e] == 0x7b, "case %d: gap %llu written", idx,
                              (unsigned long long)i);
    free(s);
    free(o);
    free(q);
    free(k);
    free(v);
    free(out);
    free(lse);
    free(written);
    free(mask);
}

START_TEST(against_float64)
{
    run_case(_i);
}
END_TEST

START_TEST(nothing_visible)
{
    /* Three ways to see no key at all: kv_lens 0, q_lens 0 (padding rows), an all-zero custom
     * mask. Each gives O = +0 exactly and LSE = -inf, for f32 and f16. */
    float q[2 * 3 * 4], k[2 * 5 * 4], v[2 * 5 * 4], out[2 * 3 * 4], lse[2 * 3];
    uint8_t mask[3 * 5] = {0};
    for (int i = 0; i < 40; i++)
        k[i] = v[i] = 1.0f + (float)i;
    for (int i = 0; i < 24; i++)
        q[i] = 0.5f;
    uint32_t lens[2] = {0, 0};
    char msg[128];
    for (int way = 0; way < 6; way++) {
        vkattn_problem p = {.batch = 2, .heads_q = 1, .seq_q = 3, .seq_kv = 5, .head_dim = 4,
                            .causal = way % 2, .has_lse = true};
        vkattn_host_tensors t = {.q = q, .k = k, .v = v, .out = out, .lse = lse};
        if (way / 2 == 0) {
            p.has_kv_lens = true;
            t.kv_lens = lens;
        } else if (way / 2 == 1) {
            p.has_q_lens = true;
            t.q_lens = lens;
        } else {
            p.mask_batch = p.mask_heads = 1;
            t.mask = mask;
        }
        memset(out, 0xff, sizeof out);
        memset(lse, 0, sizeof lse);
        ck_assert_int_eq(vkattn_reference(&p, &t, msg, sizeof msg), VKATTN_SUCCESS);
        for (int i = 0; i < 24; i++) {
            uint32_t bits;
            memcpy(&bits, &out[i], sizeof bits);
            ck_assert_uint_eq(bits, 0);
        }
        for (int i = 0; i < 6; i++)
            ck_assert(isinf(lse[i]) && lse[i] < 0);
        /* The same in f16 (the f32 arrays are large enough for the half data). */
        p.dtype = VKATTN_DTYPE_F16;
        uint16_t hq[24], hk[40], hv[40];
        for (int i = 0; i < 24; i++)
            hq[i] = float_to_half(q[i]);
        for (int i = 0; i < 40; i++)
            hk[i] = hv[i] = float_to_half(k[i]);
        t.q = hq;
        t.k = hk;
        t.v = hv;
        memset(out, 0xff, sizeof out);
        ck_assert_int_eq(vkattn_reference(&p, &t, msg, sizeof msg), VKATTN_SUCCESS);
        const uint16_t *ho = (const uint16_t *)out;
        for (int i = 0; i < 24; i++)
            ck_assert_uint_eq(ho[i], 0);
    }
}
END_TEST

START_TEST(huge_scores_stay_finite)
{
    /* Scores near 1e6 and spread over thousands: exp never sees them unshifted. */
    enum { S = 64, D = 16 };
    static float q[S * D], k[S * D], v[S * D], out[S * D], lse[S];
    rng_state = 5;
    for (int i = 0; i < S * D; i++) {
        q[i] = (float)(300.0 * rng_normal());
        k[i] = (float)(300.0 * rng_normal());
        v[i] = (float)rng_normal();
    }
    vkattn_problem p = {.batch = 1, .heads_q = 1, .seq_q = S, .seq_kv = S, .head_dim = D,
                        .causal = true, .has_lse = true};
    vkattn_host_tensors t = {.q = q, .k = k, .v = v, .out = out, .lse = lse};
    ck_assert_int_eq(vkattn_reference(&p, &t, NULL, 0), VKATTN_SUCCESS);
    for (int i = 0; i < S * D; i++)
        ck_assert(isfinite(out[i]) && fabsf(out[i]) < 10.0f);
    for (int i = 0; i < S; i++)
        ck_assert(isfinite(lse[i]));
    /* Row 0 sees only key 0: O is exactly v[0], LSE is the single score. */
    for (int d = 0; d < D; d++)
        ck_assert_float_eq_tol(out[d], v[d], 1e-6f);
}
END_TEST

START_TEST(packed_equals_items)
{
    /* SPEC 2.1: a packed batch is its items, each run on its own with positions from its first
     * row. Items of 9, 0, 1 and 6 queries over 4, 7, 0 and 11 keys (an empty item, a lone query,
     * an item without keys), with every rule that reads positions, against each item as a
     * one-item problem on the same memory (BSHD views of the token axis): bitwise equal. */
    enum { B = 4, HQ = 4, HKV = 2, D = 8, TQ = 16, TK = 22 };
    const uint32_t cu_q[B + 1] = {0, 9, 9, 10, 16}, cu_kv[B + 1] = {0, 4, 11, 11, 22};
    static float q[TQ * HQ * D], k[TK * HKV * D], v[TK * HKV * D];
    static float out[TQ * HQ * D], lse[HQ * TQ], one[TQ * HQ * D], one_lse[HQ * TQ];
    float sinks[HQ], alibi[B * HQ];
    rng_state = 77;
    for (int i = 0; i < TQ * HQ * D; i++)
        q[i] = (float)rng_normal();
    for (int i = 0; i < TK * HKV * D; i++) {
        k[i] = (float)rng_normal();
        v[i] = (float)rng_normal();
    }
    for (int i = 0; i < HQ; i++)
        sinks[i] = (float)rng_normal();
    for (int i = 0; i < B * HQ; i++)
        alibi[i] = 0.1f * (float)(i + 1);
    char msg[200];
    for (int variant = 0; variant < 3; variant++) {
        vkattn_problem p = {.batch = B, .heads_q = HQ, .heads_kv = HKV, .seq_q = TQ,
                            .seq_kv = TK, .head_dim = D, .has_lse = true, .packed = true,
                            .causal = variant != 1, .has_sinks = variant == 2,
                            .alibi = variant == 1 ? VKATTN_ALIBI_BATCH_HEADS : VKATTN_ALIBI_NONE};
        if (variant == 1) {
            p.window = true;
            p.window_left = 2;
            p.window_right = 1;
            p.align = VKATTN_ALIGN_TOP_LEFT;
        }
        vkattn_host_tensors t = {.q = q, .k = k, .v = v, .out = out, .lse = lse,
                                 .sinks = sinks, .alibi = alibi, .cu_seqlens_q = cu_q,
                                 .cu_seqlens_kv = cu_kv};
        memset(out, 0xff, sizeof out);
        ck_assert_msg(vkattn_reference(&p, &t, msg, sizeof msg) == VKATTN_SUCCESS, "%s", msg);
        for (uint32_t b = 0; b < B; b++) {
            const uint32_t ql = cu_q[b + 1] - cu_q[b], kl = cu_kv[b + 1] - cu_kv[b];
            if (ql == 0)
                continue;
            vkattn_problem ip = p;
            ip.packed = false;
            ip.batch = 1;
            ip.seq_q = ql;
            ip.seq_kv = kl ? kl : 1;
            ip.has_kv_lens = kl == 0; /* an item without keys: one key, none valid */
            const uint32_t zero = 0;
            ip.q = ip.out = (vkattn_strides){0, D, HQ * D};
            ip.k = ip.v = (vkattn_strides){0, D, HKV * D};
            ip.alibi = p.alibi ? VKATTN_ALIBI_HEADS : VKATTN_ALIBI_NONE;
            ip.has_lse = true;
            /* LSE of the one-item problem: [1, Hq, ql] */
            vkattn_host_tensors it = {.q = q + cu_q[b] * HQ * D, .k = k + cu_kv[b] * HKV * D,
                                      .v = v + cu_kv[b] * HKV * D, .out = one + cu_q[b] * HQ * D,
                                      .lse = one_lse, .kv_lens = &zero, .sinks = sinks,
                                      .alibi = alibi + b * HQ};
            if (kl == 0) { /* K/V must exist: point at any row */
                it.k = k;
                it.v = v;
            }
            ck_assert_msg(vkattn_reference(&ip, &it, msg, sizeof msg) == VKATTN_SUCCESS, "%s",
                          msg);
            for (uint32_t i = 0; i < ql * HQ * D; i++)
                ck_assert_msg(memcmp(&out[cu_q[b] * HQ * D + i], &one[cu_q[b] * HQ * D + i],
                                     sizeof(float)) == 0,
                              "variant %d item %u element %u: %g against %g", variant, b, i,
                              (double)out[cu_q[b] * HQ * D + i], (double)one[cu_q[b] * HQ * D + i]);
            for (uint32_t h = 0; h < HQ; h++)
                for (uint32_t i = 0; i < ql; i++)
                    ck_assert(memcmp(&lse[h * TQ + cu_q[b] + i], &one_lse[h * ql + i],
                                     sizeof(float)) == 0);
        }
    }
}
END_TEST

static Suite *reference_suite(void)
{
    Suite *s = suite_create("reference");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, half_round_trip);
    tcase_add_test(tc, half_rounding);
    tcase_add_test(tc, bf16_rounding);
    tcase_add_loop_test(tc, against_float64, 0, (int)(sizeof cases / sizeof cases[0]));
    tcase_add_test(tc, nothing_visible);
    tcase_add_test(tc, huge_scores_stay_finite);
    tcase_add_test(tc, packed_equals_items);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(reference_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
