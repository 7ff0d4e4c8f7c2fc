/* Problem validation, defaults and extents (SPEC sections 1-2). */
#include "problem.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

/* The shaders index every tensor with 32-bit uints, so no tensor may span more elements. */
#define MAX_EXTENT UINT64_C(0xffffffff)

static void vformat(char *msg, size_t msg_size, const char *fmt, va_list ap)
{
    if (!msg || msg_size == 0)
        return;
    if (vsnprintf(msg, msg_size, fmt, ap) < 0)
        msg[0] = '\0';
}

void vkattn__problem_format(char *msg, size_t msg_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vformat(msg, msg_size, fmt, ap);
    va_end(ap);
}

vkattn_result vkattn__problem_fail(char *msg, size_t msg_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vformat(msg, msg_size, fmt, ap);
    va_end(ap);
    return VKATTN_ERROR_INVALID_ARGUMENT;
}

static bool strides_zero(vkattn_strides s)
{
    return s.b == 0 && s.h == 0 && s.s == 0;
}

static vkattn_strides strides_bhsd(uint32_t heads, uint32_t seq, uint32_t head_dim)
{
    vkattn_strides s = {.s = head_dim};
    s.h = (uint64_t)seq * head_dim;
    s.b = (uint64_t)heads * s.h;
    return s;
}

vkattn_strides vkattn_strides_bshd(uint32_t heads, uint32_t seq, uint32_t head_dim)
{
    vkattn_strides s = {.h = head_dim};
    s.s = (uint64_t)heads * head_dim;
    s.b = (uint64_t)seq * s.s;
    return s;
}

/* Packed batches: [T, H, D] with no batch dimension. */
static vkattn_strides strides_packed(uint32_t heads, uint32_t head_dim)
{
    vkattn_strides s = {.h = head_dim};
    s.s = (uint64_t)heads * head_dim;
    return s;
}

vkattn_problem vkattn__problem_resolved(const vkattn_problem *p)
{
    vkattn_problem r = *p;
    if (r.heads_kv == 0)
        r.heads_kv = r.heads_q;
    if (r.head_dim_v == 0)
        r.head_dim_v = r.head_dim;
    const uint32_t dv = r.head_dim_v;
    if (r.packed) {
        if (strides_zero(r.q))
            r.q = strides_packed(r.heads_q, r.head_dim);
        if (strides_zero(r.out))
            r.out = strides_packed(r.heads_q, dv);
        if (strides_zero(r.k))
            r.k = strides_packed(r.heads_kv, r.head_dim);
        if (strides_zero(r.v))
            r.v = strides_packed(r.heads_kv, dv);
    }
    if (strides_zero(r.q))
        r.q = strides_bhsd(r.heads_q, r.seq_q, r.head_dim);
    if (strides_zero(r.out))
        r.out = strides_bhsd(r.heads_q, r.seq_q, dv);
    if (r.page_size != 0) {
        /* [num_pages, page_size, Hkv, D] (V: Dv): b is the page stride. */
        if (r.pages_per_seq == 0)
            r.pages_per_seq = (r.seq_kv + r.page_size - 1) / r.page_size;
        uint64_t row = (uint64_t)r.heads_kv * r.head_dim, vrow = (uint64_t)r.heads_kv * dv;
        r.k = (vkattn_strides){.b = row * r.page_size, .h = r.head_dim, .s = row};
        r.v = (vkattn_strides){.b = vrow * r.page_size, .h = dv, .s = vrow};
    }
    if (strides_zero(r.k))
        r.k = strides_bhsd(r.heads_kv, r.seq_kv, r.head_dim);
    if (strides_zero(r.v))
        r.v = strides_bhsd(r.heads_kv, r.seq_kv, dv);
    if (r.scale == 0.0f && r.head_dim > 0)
        r.scale = 1.0f / sqrtf((float)r.head_dim);
    return r;
}

/* Overflow-checked a * b + c in uint64; false on overflow. */
static bool mul_add_u64(uint64_t a, uint64_t b, uint64_t c, uint64_t *r)
{
    if (a != 0 && b > UINT64_MAX / a)
        return false;
    uint64_t m = a * b;
    if (m > UINT64_MAX - c)
        return false;
    *r = m + c;
    return true;
}

/* The logical shape [B, H, S] (D apart) of a tensor of a resolved problem. */
static void tensor_dims(const vkattn_problem *r, char which, uint32_t dims[3], vkattn_strides *s)
{
    bool kv = which == 'k' || which == 'v';
    bool paged = kv && r->page_size != 0; /* [num_pages, page_size, Hkv, D] */
    dims[0] = paged ? r->num_pages : vkattn__tensor_batch(r);
    dims[1] = kv ? r->heads_kv : r->heads_q;
    dims[2] = paged ? r->page_size : kv ? r->seq_kv : r->seq_q;
    *s = which == 'q' ? r->q : which == 'k' ? r->k : which == 'v' ? r->v : r->out;
}

/* 1 + sum (dim - 1) * stride, D contiguous; false on uint64 overflow. */
static bool strided_extent(const vkattn_problem *r, char which, uint64_t *extent)
{
    uint32_t dims[3];
    vkattn_strides s;
    tensor_dims(r, which, dims, &s);
    uint64_t strides[3] = {s.b, s.h, s.s};
    /* 1 + (D - 1) * 1; V and O rows hold Dv */
    uint64_t e = which == 'v' || which == 'o' ? vkattn__head_dim_v(r) : r->head_dim;
    for (int i = 0; i < 3; i++)
        if (!mul_add_u64(dims[i] - 1u, strides[i], e, &e))
            return false;
    *extent = e;
    return true;
}

/* Dense products (LSE, mask); false on overflow. */
static bool dense_extent(const vkattn_problem *r, char which, uint64_t *extent)
{
    uint64_t e;
    if (which == 'l')
        return mul_add_u64((uint64_t)vkattn__tensor_batch(r) * r->heads_q, r->seq_q, 0, extent);
    if (which == 'p')
        return mul_add_u64(r->batch, r->page_size ? r->pages_per_seq : 0, 0, extent);
    if (r->mask_batch == 0) {
        *extent = 0;
        return true;
    }
    if (!mul_add_u64((uint64_t)r->mask_batch * r->mask_heads, r->seq_q, 0, &e))
        return false;
    return mul_add_u64(e, r->seq_kv, 0, extent);
}

/* A sufficient rule for O not overlapping itself: take the dims B, H, S of size > 1 in order of
 * increasing stride; each stride must be at least the span (1 + sum (n - 1) * stride) of D and
 * the dims before it. Dense BHSD and BSHD pass, as do padded rows; a stride of 0 on a dim of
 * size > 1 fails. Some exotic non-overlapping interleavings are rejected too, which is fine. */
static vkattn_result check_out_strides(const vkattn_problem *r, char *msg, size_t msg_size)
{
    static const char *const names[3] = {"out.b", "out.h", "out.s"};
    uint32_t dims[3];
    vkattn_strides s;
    tensor_dims(r, 'o', dims, &s);
    uint64_t strides[3] = {s.b, s.h, s.s};
    int order[3] = {0, 1, 2};
    for (int i = 1; i < 3; i++) /* insertion sort by stride */
        for (int j = i; j > 0 && strides[order[j]] < strides[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    uint64_t span = vkattn__head_dim_v(r);
    for (int i = 0; i < 3; i++) {
        int d = order[i];
        if (dims[d] == 1)
            continue;
        if (strides[d] < span)
            return vkattn__problem_fail(msg, msg_size,
                                "%s = %" PRIu64 ": O would overlap itself (the stride must be at "
                                "least %" PRIu64 ", the span of the dimensions inside it)",
                                names[d], strides[d], span);
        if (!mul_add_u64(dims[d] - 1u, strides[d], span, &span))
            return vkattn__problem_fail(msg, msg_size, "%s = %" PRIu64 ": out spans more than 2^64 elements",
                                names[d], strides[d]);
    }
    return VKATTN_SUCCESS;
}

static vkattn_result check_extents(const vkattn_problem *r, char *msg, size_t msg_size)
{
    static const char which[7] = {'q', 'k', 'v', 'o', 'l', 'm', 'p'};
    static const char *const names[7] = {"q", "k", "v", "out", "lse", "mask", "page_table"};
    for (int i = 0; i < 7; i++) {
        uint64_t e = 0;
        bool ok = i < 4 ? strided_extent(r, which[i], &e) : dense_extent(r, which[i], &e);
        if (!ok)
            return vkattn__problem_fail(msg, msg_size,
                                "%s spans more than 2^64 elements: the shaders index with 32 bits",
                                names[i]);
        if (e > MAX_EXTENT)
            return vkattn__problem_fail(msg, msg_size,
                                "%s spans %" PRIu64 " elements: at most 2^32 - 1 (the shaders "
                                "index with 32 bits)",
                                names[i], e);
    }
    return VKATTN_SUCCESS;
}

static vkattn_result check_sizes(const vkattn_problem *p, char *msg, size_t msg_size)
{
    const struct { const char *name; uint32_t value; } ge1[] = {
        {"batch", p->batch}, {"heads_q", p->heads_q}, {"seq_q", p->seq_q}, {"seq_kv", p->seq_kv},
    };
    for (size_t i = 0; i < sizeof ge1 / sizeof ge1[0]; i++)
        if (ge1[i].value < 1)
            return vkattn__problem_fail(msg, msg_size, "%s = %" PRIu32 ": expected >= 1", ge1[i].name,
                                ge1[i].value);
    /* The shader does the mask arithmetic (i + off +- window) in 32-bit ints. */
    if (p->seq_q > VKATTN_MAX_SEQ || p->seq_kv > VKATTN_MAX_SEQ)
        return vkattn__problem_fail(msg, msg_size, "%s = %" PRIu32 ": expected at most %u",
                                    p->seq_q > VKATTN_MAX_SEQ ? "seq_q" : "seq_kv",
                                    p->seq_q > VKATTN_MAX_SEQ ? p->seq_q : p->seq_kv,
                                    (unsigned)VKATTN_MAX_SEQ);
    /* Hq (and Hq / Hkv) travel in 16 bits to the shaders; grids have 65535 heads at least. */
    if (p->heads_q > 65535)
        return vkattn__problem_fail(msg, msg_size, "heads_q = %" PRIu32 ": expected at most 65535",
                                    p->heads_q);
    if (p->head_dim < 1 || p->head_dim > 576)
        return vkattn__problem_fail(msg, msg_size, "head_dim = %" PRIu32 ": expected 1..576", p->head_dim);
    if (p->head_dim_v > 512)
        return vkattn__problem_fail(msg, msg_size,
                                    "head_dim_v = %" PRIu32 ": expected 1..512 (0 = head_dim)",
                                    p->head_dim_v);
    if (p->head_dim_v == 0 && p->head_dim > 512)
        return vkattn__problem_fail(msg, msg_size,
                                    "head_dim_v = 0 (head_dim = %" PRIu32 "): V and O take at "
                                    "most 512; set head_dim_v", p->head_dim);
    /* (Unpacked, O's extent implies it; a packed batch's tensors do not grow with B.) */
    if ((uint64_t)p->batch * p->heads_q > UINT32_MAX)
        return vkattn__problem_fail(msg, msg_size,
                                    "batch = %" PRIu32 ", heads_q = %" PRIu32 ": batch * heads_q "
                                    "must stay below 2^32", p->batch, p->heads_q);
    if (p->heads_kv != 0 && p->heads_q % p->heads_kv != 0)
        return vkattn__problem_fail(msg, msg_size,
                            "heads_kv = %" PRIu32 ": expected a divisor of heads_q = %" PRIu32,
                            p->heads_kv, p->heads_q);
    if ((unsigned)p->dtype > VKATTN_DTYPE_BF16)
        return vkattn__problem_fail(msg, msg_size,
                                    "dtype = %d: expected VKATTN_DTYPE_F32, _F16 or _BF16",
                                    (int)p->dtype);
    return VKATTN_SUCCESS;
}

static vkattn_result check_mask_fields(const vkattn_problem *p, char *msg, size_t msg_size)
{
    if (p->align != VKATTN_ALIGN_BOTTOM_RIGHT && p->align != VKATTN_ALIGN_TOP_LEFT)
        return vkattn__problem_fail(msg, msg_size,
                            "align = %d: expected VKATTN_ALIGN_BOTTOM_RIGHT or _TOP_LEFT",
                            (int)p->align);
    if (p->window && p->window_left < -1)
        return vkattn__problem_fail(msg, msg_size, "window_left = %" PRId32 ": expected >= -1",
                            p->window_left);
    if (p->window && p->window_right < -1)
        return vkattn__problem_fail(msg, msg_size, "window_right = %" PRId32 ": expected >= -1",
                            p->window_right);
    if (p->scale != 0.0f && !(isfinite(p->scale) && p->scale > 0.0f))
        return vkattn__problem_fail(msg, msg_size,
                            "scale = %g: expected finite and > 0 (or 0 for 1/sqrt(head_dim))",
                            (double)p->scale);
    if (!(isfinite(p->softcap) && p->softcap >= 0.0f))
        return vkattn__problem_fail(msg, msg_size, "softcap = %g: expected finite and >= 0 (0 = off)",
                            (double)p->softcap);
    if ((unsigned)p->alibi > VKATTN_ALIBI_BATCH_HEADS)
        return vkattn__problem_fail(msg, msg_size,
                                    "alibi = %d: expected VKATTN_ALIBI_NONE, _HEADS or _BATCH_HEADS",
                                    (int)p->alibi);
    if (p->mask_batch != 0 && p->mask_batch != 1 && p->mask_batch != p->batch)
        return vkattn__problem_fail(msg, msg_size,
                            "mask_batch = %" PRIu32 ": expected 1 or batch = %" PRIu32
                            " (0 = no mask)",
                            p->mask_batch, p->batch);
    if (p->mask_heads != 0 && p->mask_heads != 1 && p->mask_heads != p->heads_q)
        return vkattn__problem_fail(msg, msg_size,
                            "mask_heads = %" PRIu32 ": expected 1 or heads_q = %" PRIu32
                            " (0 = no mask)",
                            p->mask_heads, p->heads_q);
    if ((p->mask_batch == 0) != (p->mask_heads == 0))
        return vkattn__problem_fail(msg, msg_size,
                            "mask_batch = %" PRIu32 ", mask_heads = %" PRIu32
                            ": both zero (no mask) or both nonzero",
                            p->mask_batch, p->mask_heads);
    return VKATTN_SUCCESS;
}

/* Packed batches (SPEC 2.1) take their rows from cu_seqlens alone, and have no batch
 * dimension in their tensors. */
static vkattn_result check_packed_fields(const vkattn_problem *p, char *msg, size_t msg_size)
{
    if (!p->packed)
        return VKATTN_SUCCESS;
    const struct { const char *name; bool set; } excl[] = {
        {"has_q_lens", p->has_q_lens},     {"has_kv_lens", p->has_kv_lens},
        {"has_q_start", p->has_q_start},   {"has_kv_start", p->has_kv_start},
        {"mask_batch", p->mask_batch != 0}, {"page_size", p->page_size != 0},
    };
    for (size_t i = 0; i < sizeof excl / sizeof excl[0]; i++)
        if (excl[i].set)
            return vkattn__problem_fail(msg, msg_size,
                                        "%s is set with packed: a packed batch takes its rows from "
                                        "cu_seqlens alone (SPEC 2.1)", excl[i].name);
    const struct { const char *name; uint64_t b; } st[] = {
        {"q.b", p->q.b}, {"k.b", p->k.b}, {"v.b", p->v.b}, {"out.b", p->out.b},
    };
    for (size_t i = 0; i < sizeof st / sizeof st[0]; i++)
        if (st[i].b != 0)
            return vkattn__problem_fail(msg, msg_size,
                                        "%s = %" PRIu64 ": expected 0 with packed (its tensors are "
                                        "[T, H, D], no batch dimension)", st[i].name, st[i].b);
    return VKATTN_SUCCESS;
}

static vkattn_result check_paged_fields(const vkattn_problem *p, char *msg, size_t msg_size)
{
    if ((unsigned)p->precision > VKATTN_PRECISION_FAST)
        return vkattn__problem_fail(msg, msg_size, "precision = %d: expected 0 (exact) or 1 (fast)",
                                    (int)p->precision);
    if (p->kv_splits > 256)
        return vkattn__problem_fail(msg, msg_size,
                                    "kv_splits = %" PRIu32 ": expected 0 (automatic) or 1..256",
                                    p->kv_splits);
    if (p->page_size == 0)
        return VKATTN_SUCCESS;
    if (p->page_size > 1024)
        return vkattn__problem_fail(msg, msg_size,
                                    "page_size = %" PRIu32 ": expected 1..1024 (0 = contiguous "
                                    "K/V)", p->page_size);
    if (p->num_pages == 0)
        return vkattn__problem_fail(msg, msg_size, "num_pages = 0: a paged K/V needs >= 1 page");
    /* The layout is fixed; strides may be left 0 or spell it out (as resolved problems do). */
    const uint64_t hkv = p->heads_kv ? p->heads_kv : p->heads_q, dv = vkattn__head_dim_v(p);
    for (int t = 0; t < 2; t++) {
        const uint64_t d = t ? dv : p->head_dim, row = hkv * d;
        const vkattn_strides paged = {row * p->page_size, d, row};
        const vkattn_strides *s = t ? &p->v : &p->k;
        if (!strides_zero(*s) && (s->b != paged.b || s->h != paged.h || s->s != paged.s))
            return vkattn__problem_fail(msg, msg_size,
                                        "%s strides are set: a paged K/V has the fixed layout "
                                        "[num_pages, page_size, Hkv, D] (leave them 0)",
                                        t ? "v" : "k");
    }
    if (p->pages_per_seq != 0 && (uint64_t)p->pages_per_seq * p->page_size < p->seq_kv)
        return vkattn__problem_fail(msg, msg_size,
                                    "pages_per_seq = %" PRIu32 ": %" PRIu32 " pages of %" PRIu32
                                    " keys cannot hold seq_kv = %" PRIu32,
                                    p->pages_per_seq, p->pages_per_seq, p->page_size, p->seq_kv);
    return VKATTN_SUCCESS;
}

vkattn_result vkattn_problem_check(const vkattn_problem *p, char *msg, size_t msg_size)
{
    if (!p)
        return vkattn__problem_fail(msg, msg_size, "problem = NULL: expected a vkattn_problem");
    vkattn_result res = check_sizes(p, msg, msg_size);
    if (res == VKATTN_SUCCESS)
        res = check_mask_fields(p, msg, msg_size);
    if (res == VKATTN_SUCCESS)
        res = check_paged_fields(p, msg, msg_size);
    if (res == VKATTN_SUCCESS)
        res = check_packed_fields(p, msg, msg_size);
    if (res != VKATTN_SUCCESS)
        return res;
    vkattn_problem r = vkattn__problem_resolved(p);
    res = check_out_strides(&r, msg, msg_size);
    if (res == VKATTN_SUCCESS)
        res = check_extents(&r, msg, msg_size);
    if (res == VKATTN_SUCCESS)
        vkattn__problem_format(msg, msg_size, "%s", "");
    return res;
}

uint64_t vkattn_problem_extent(const vkattn_problem *p, char which)
{
    if (vkattn_problem_check(p, NULL, 0) != VKATTN_SUCCESS)
        return 0;
    vkattn_problem r = vkattn__problem_resolved(p);
    uint64_t e = 0;
    switch (which) {
    case 'q': case 'k': case 'v': case 'o':
        strided_extent(&r, which, &e);
        break;
    case 'l': case 'm': case 'p':
        dense_extent(&r, which, &e);
        break;
    default:
        break;
    }
    return e;
}

vkattn__seq_arrays vkattn__seq_arrays_of(const vkattn_problem *p, const vkattn_host_tensors *t)
{
    vkattn__seq_arrays a = {
        .q_lens = p->has_q_lens ? t->q_lens : NULL,
        .kv_lens = p->has_kv_lens ? t->kv_lens : NULL,
        .q_start = p->has_q_start ? t->q_start : NULL,
        .kv_start = p->has_kv_start ? t->kv_start : NULL,
        .cu_q = p->packed ? t->cu_seqlens_q : NULL,
        .cu_kv = p->packed ? t->cu_seqlens_kv : NULL,
    };
    return a;
}

/* One side (queries or keys) of item b: start + len within seq. */
static vkattn_result check_side(const char *side, uint32_t b, const uint32_t *lens,
                                const uint32_t *start, uint32_t seq, const char *seq_name,
                                char *msg, size_t msg_size)
{
    const uint64_t st = start ? start[b] : 0, len = lens ? lens[b] : 0;
    if (start && st > seq)
        return vkattn__problem_fail(msg, msg_size,
                                    "%s_start[%" PRIu32 "] = %" PRIu64 ": larger than %s = %" PRIu32,
                                    side, b, st, seq_name, seq);
    if (lens && st + len > seq) {
        if (start)
            return vkattn__problem_fail(msg, msg_size,
                                        "%s_start[%" PRIu32 "] + %s_lens[%" PRIu32 "] = %" PRIu64
                                        " + %" PRIu64 ": past %s = %" PRIu32,
                                        side, b, side, b, st, len, seq_name, seq);
        return vkattn__problem_fail(msg, msg_size,
                                    "%s_lens[%" PRIu32 "] = %" PRIu64 ": larger than %s = %" PRIu32,
                                    side, b, len, seq_name, seq);
    }
    return VKATTN_SUCCESS;
}

/* cu_seqlens (SPEC 2.1): B + 1 values, non-decreasing from 0 to total. */
static vkattn_result check_cu(const char *name, const uint32_t *cu, uint32_t batch,
                              uint32_t total, const char *total_name, char *msg, size_t msg_size)
{
    if (cu[0] != 0)
        return vkattn__problem_fail(msg, msg_size, "%s[0] = %" PRIu32 ": expected 0", name, cu[0]);
    for (uint64_t b = 1; b <= batch; b++)
        if (cu[b] < cu[b - 1])
            return vkattn__problem_fail(msg, msg_size,
                                        "%s[%" PRIu64 "] = %" PRIu32 ": less than %s[%" PRIu64
                                        "] = %" PRIu32 " (expected non-decreasing)",
                                        name, b, cu[b], name, b - 1, cu[b - 1]);
    if (cu[batch] != total)
        return vkattn__problem_fail(msg, msg_size,
                                    "%s[%" PRIu32 "] = %" PRIu32 ": expected %s = %" PRIu32
                                    " (the last entry is the token count)",
                                    name, batch, cu[batch], total_name, total);
    return VKATTN_SUCCESS;
}

vkattn_result vkattn__problem_check_seqs(const vkattn_problem *p, const vkattn__seq_arrays *a,
                                         char *msg, size_t msg_size)
{
    if (p->packed) {
        vkattn_result res = check_cu("cu_seqlens_q", a->cu_q, p->batch, p->seq_q, "seq_q", msg,
                                     msg_size);
        return res ? res : check_cu("cu_seqlens_kv", a->cu_kv, p->batch, p->seq_kv, "seq_kv", msg,
                                    msg_size);
    }
    vkattn_result res = VKATTN_SUCCESS;
    for (uint32_t b = 0; b < p->batch && res == VKATTN_SUCCESS; b++) {
        res = check_side("q", b, a->q_lens, a->q_start, p->seq_q, "seq_q", msg, msg_size);
        if (res == VKATTN_SUCCESS)
            res = check_side("kv", b, a->kv_lens, a->kv_start, p->seq_kv, "seq_kv", msg, msg_size);
    }
    return res;
}

const char *vkattn__host_tensors_missing(const vkattn_problem *p, const vkattn_host_tensors *t)
{
    const struct { const char *name; const void *ptr; bool needed; } req[] = {
        {"q", t->q, true}, {"k", t->k, true}, {"v", t->v, true}, {"out", t->out, true},
        {"lse", t->lse, p->has_lse}, {"q_lens", t->q_lens, p->has_q_lens},
        {"kv_lens", t->kv_lens, p->has_kv_lens}, {"mask", t->mask, p->mask_batch != 0},
        {"page_table", t->page_table, p->page_size != 0},
        {"q_start", t->q_start, p->has_q_start}, {"kv_start", t->kv_start, p->has_kv_start},
        {"sinks", t->sinks, p->has_sinks}, {"alibi", t->alibi, p->alibi != VKATTN_ALIBI_NONE},
        {"cu_seqlens_q", t->cu_seqlens_q, p->packed},
        {"cu_seqlens_kv", t->cu_seqlens_kv, p->packed},
    };
    for (size_t i = 0; i < sizeof req / sizeof req[0]; i++)
        if (req[i].needed && !req[i].ptr)
            return req[i].name;
    return NULL;
}

uint64_t vkattn__problem_alibi_count(const vkattn_problem *p)
{
    return p->alibi == VKATTN_ALIBI_HEADS         ? p->heads_q
           : p->alibi == VKATTN_ALIBI_BATCH_HEADS ? (uint64_t)p->batch * p->heads_q
                                                  : 0;
}

vkattn_result vkattn__problem_check_logits(const vkattn_problem *p, const float *sinks,
                                           const float *alibi, char *msg, size_t msg_size)
{
    for (uint32_t h = 0; sinks && h < p->heads_q; h++)
        if (!isfinite(sinks[h]))
            return vkattn__problem_fail(msg, msg_size, "sinks[%" PRIu32 "] = %g: expected finite",
                                        h, (double)sinks[h]);
    const uint64_t n = alibi ? vkattn__problem_alibi_count(p) : 0;
    for (uint64_t e = 0; e < n; e++)
        if (!isfinite(alibi[e]))
            return vkattn__problem_fail(msg, msg_size, "alibi[%" PRIu64 "] = %g: expected finite",
                                        e, (double)alibi[e]);
    return VKATTN_SUCCESS;
}

vkattn_result vkattn__problem_check_pages(const vkattn_problem *p, const uint32_t *table,
                                          char *msg, size_t msg_size)
{
    vkattn_problem r = vkattn__problem_resolved(p);
    for (uint64_t e = 0; e < (uint64_t)r.batch * r.pages_per_seq; e++)
        if (table[e] >= r.num_pages)
            return vkattn__problem_fail(msg, msg_size,
                                        "page_table[%" PRIu64 "][%" PRIu64 "] = %" PRIu32
                                        ": expected a page below num_pages = %" PRIu32,
                                        e / r.pages_per_seq, e % r.pages_per_seq, table[e],
                                        r.num_pages);
    return VKATTN_SUCCESS;
}
