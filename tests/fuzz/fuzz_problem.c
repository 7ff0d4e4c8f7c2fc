/* libFuzzer harness for the argument validation: the bytes become a vkattn_problem (raw, and
 * with some fields folded into small ranges so that valid problems are common), which goes to
 * vkattn_problem_check and vkattn_problem_extent; valid problems small enough to run cheaply
 * go on to vkattn_reference with per-batch lengths and a mask also taken from the bytes, and
 * packed batches (SPEC 2.1) with cu_seqlens taken from them too (valid or broken on purpose).
 * head_dim_v (Dv, the head size of V and O) is set too: 0 (= D), small, 512, equal to D, or out
 * of range; V and O rows are Dv long everywhere below. The dtype is f32, f16 or bf16 (2-byte
 * elements for both 16-bit types; bf16 written with float_to_bf16 and read with bf16_to_float),
 * now and then an invalid one (3, or raw); a bf16 problem is also run as f32 on the same values
 * (exact in bf16), and the two O must agree within SPEC 3's bounds.
 *
 * Input layout: byte 0 = mode bits (below), then sizeof(vkattn_problem) bytes copied over the
 * struct (missing bytes are zero), then the rest: message size, data seed, page table,
 * cu_seqlens, lengths, starts, sinks and slopes, mask bits. */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/half.h"
#include "vkattn/vkattn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
    MODE_SIZES = 1,   /* batch, heads, seqs, head_dim (up to 576) and head_dim_v folded into
                         small valid-ish ranges */
    MODE_STRIDES = 2, /* each tensor's strides: dense, BSHD, raw % 1024 or raw (packed:
                         fold_strides_packed) */
    MODE_MASK = 4,    /* mask_batch / mask_heads from {0, 1, B or Hq, raw} */
    MODE_WINDOW = 8,  /* window sides in -2..17, scale and softcap small or raw */
    MODE_ENUMS = 16,  /* dtype folded to f32, f16, bf16 (now and then 3, invalid), align to
                         its valid values */
    MODE_PAGED = 32,  /* page_size in {0, 1, 3, 16, 48}, small pool, table wide enough */
    MODE_PACKED = 64, /* packed, with the fields packing excludes cleared (now and then kept) */
};

#define MAX_EXTENT (UINT64_C(1) << 16) /* elements per tensor worth running */
#define MAX_WORK (UINT64_C(1) << 19)   /* B * Hq * Sq * Skv * (D + Dv) worth running */

typedef struct reader {
    const uint8_t *p;
    size_t n;
} reader;

/* The next byte, or 0 past the end. */
static uint8_t next_u8(reader *r)
{
    if (r->n == 0)
        return 0;
    r->n--;
    return *r->p++;
}

static uint32_t next_u32(reader *r)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)next_u8(r) << (8 * i);
    return v;
}

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "fuzz_problem: invariant broken: %s (message: \"%s\")\n", what,
            msg ? msg : "");
    abort();
}

/* Whether msg starts with the name of a problem field or tensor (followed by a non-name char). */
static bool names_a_field(const char *msg)
{
    static const char *const names[] = {
        "batch", "heads_q", "heads_kv", "seq_q", "seq_kv", "head_dim", "head_dim_v", "dtype",
        "align",
        "window_left", "window_right", "scale", "softcap", "mask_batch", "mask_heads",
        "out.b", "out.h", "out.s", "q", "k", "v", "out", "lse", "mask", "q_lens", "kv_lens",
        "page_size", "num_pages", "pages_per_seq", "kv_splits", "page_table", "precision",
        "q_start", "kv_start", "sinks", "alibi", "tensors", "problem",
        "has_q_lens", "has_kv_lens", "has_q_start", "has_kv_start", "cu_seqlens_q",
        "cu_seqlens_kv", "packed",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t n = strlen(names[i]);
        if (strncmp(msg, names[i], n) == 0 &&
            (msg[n] == ' ' || msg[n] == '[' || msg[n] == '.' || msg[n] == ','))
            return true;
    }
    return false;
}

static void check_message(vkattn_result res, const char *msg, size_t msg_size)
{
    const char *nul = memchr(msg, '\0', msg_size);
    if (!nul)
        die("message not NUL-terminated", NULL);
    if (res == VKATTN_SUCCESS)
        return;
    if (res != VKATTN_ERROR_INVALID_ARGUMENT)
        die("neither SUCCESS nor INVALID_ARGUMENT", msg);
    if (nul == msg && msg_size > 1)
        die("empty message on failure", msg);
    /* Only a message that had room to say which field is held to naming it. */
    if (msg_size >= 64 && !names_a_field(msg))
        die("the message names no field", msg);
}

/* Bools come from single bits: copying arbitrary bytes over a bool is undefined behaviour. */
static void set_bools(vkattn_problem *p, const uint8_t *raw)
{
    p->causal = raw[offsetof(vkattn_problem, causal)] & 1;
    p->window = raw[offsetof(vkattn_problem, window)] & 1;
    p->has_q_lens = raw[offsetof(vkattn_problem, has_q_lens)] & 1;
    p->has_kv_lens = raw[offsetof(vkattn_problem, has_kv_lens)] & 1;
    p->has_lse = raw[offsetof(vkattn_problem, has_lse)] & 1;
    p->no_gqa_packing = raw[offsetof(vkattn_problem, no_gqa_packing)] & 1;
    p->has_q_start = raw[offsetof(vkattn_problem, has_q_start)] & 1;
    p->has_kv_start = raw[offsetof(vkattn_problem, has_kv_start)] & 1;
    p->has_sinks = raw[offsetof(vkattn_problem, has_sinks)] & 1;
    p->packed = raw[offsetof(vkattn_problem, packed)] & 1;
}

static void fold_sizes(vkattn_problem *p)
{
    p->batch = 1 + p->batch % 3;
    p->heads_kv %= 4; /* 0 = heads_q */
    uint32_t hk = p->heads_kv ? p->heads_kv : 1;
    p->heads_q = hk * (1 + p->heads_q % 3);
    p->seq_q = 1 + p->seq_q % 23;
    p->seq_kv = 1 + p->seq_kv % 23;
    /* bit 16: up to 256; bits 16 and 17: up to 576 (above 512 only with Dv set) */
    const uint32_t hd = p->head_dim;
    p->head_dim = 1 + hd % ((hd >> 16) & 1 ? (hd >> 17) & 1 ? 576 : 256 : 48);
    /* Dv: mostly 0 (= D) or a valid size of its own; now and then out of range. */
    const uint32_t hv = p->head_dim_v, arg = hv >> 3;
    switch (hv & 7) {
    case 0: case 1: case 2:
        p->head_dim_v = 0;
        break;
    case 3:
        p->head_dim_v = 1 + arg % 48;
        break;
    case 4:
        p->head_dim_v = 1 + arg % 512;
        break;
    case 5: /* D spelled out (invalid where D > 512), or D +- 1 */
        p->head_dim_v = p->head_dim + arg % 3 - (p->head_dim > 1 ? 1 : 0);
        break;
    case 6: /* 512 (MLA's Dv) or just past it */
        p->head_dim_v = 512 + arg % 3;
        break;
    default:
        p->head_dim_v = arg & 1 ? hv : 0;
        break;
    }
}

/* Dv as the library reads it: head_dim_v, or head_dim where it is 0. */
static uint32_t dv_of(const vkattn_problem *p)
{
    return p->head_dim_v ? p->head_dim_v : p->head_dim;
}

/* O's strides with the defaults filled in (dense [B, Hq, Sq, Dv], or [T, Hq, Dv] packed). */
static vkattn_strides out_strides(const vkattn_problem *p)
{
    vkattn_strides os = p->out;
    const uint64_t dv = dv_of(p);
    if (os.b == 0 && os.h == 0 && os.s == 0 && p->packed) {
        os.h = dv;
        os.s = (uint64_t)p->heads_q * dv;
    } else if (os.b == 0 && os.h == 0 && os.s == 0) {
        os.s = dv;
        os.h = (uint64_t)p->seq_q * os.s;
        os.b = (uint64_t)p->heads_q * os.h;
    }
    return os;
}

static void fold_strides(vkattn_strides *s, uint32_t heads, uint32_t seq, uint32_t head_dim)
{
    switch (s->b & 3) {
    case 0:
        *s = (vkattn_strides){0, 0, 0};
        break;
    case 1:
        *s = vkattn_strides_bshd(heads, seq, head_dim);
        break;
    case 2:
        s->b = (s->b >> 2) % 1024;
        s->h %= 1024;
        s->s %= 1024;
        break;
    default:
        break;
    }
}

/* A packed batch's tensors ([T, H, D], b = 0): dense (0), [T, H, D] spelled out, head-major
 * [H, T, D], or raw h and s % 1024 with b now and then nonzero (rejected). */
static void fold_strides_packed(vkattn_strides *s, uint32_t heads, uint32_t seq,
                                uint32_t head_dim)
{
    switch (s->b & 3) {
    case 0:
        *s = (vkattn_strides){0, 0, 0};
        break;
    case 1:
        *s = (vkattn_strides){0, head_dim, (uint64_t)heads * head_dim};
        break;
    case 2:
        *s = (vkattn_strides){0, (uint64_t)seq * head_dim, head_dim};
        break;
    default:
        s->b = (s->b >> 2) & 1 ? (s->b >> 3) % 1024 : 0;
        s->h %= 1024;
        s->s %= 1024;
        break;
    }
}

/* Packed (SPEC 2.1): the fields it excludes (lengths, starts, mask, paging) and the batch
 * strides cleared, unless bit 1 of the raw packed byte keeps them (then rejected, mostly). */
static void fold_packed(vkattn_problem *p, uint8_t raw_packed)
{
    p->packed = true;
    if (raw_packed & 2)
        return;
    p->has_q_lens = p->has_kv_lens = p->has_q_start = p->has_kv_start = false;
    p->mask_batch = p->mask_heads = 0;
    p->page_size = 0;
    p->q.b = p->k.b = p->v.b = p->out.b = 0;
}

static void fold_paged(vkattn_problem *p)
{
    static const uint32_t sizes[5] = {0, 1, 3, 16, 48};
    p->page_size = sizes[p->page_size % 5];
    if (p->page_size == 0)
        return;
    p->num_pages = 1 + p->num_pages % 5;
    uint32_t need = (p->seq_kv + p->page_size - 1) / p->page_size;
    p->pages_per_seq = p->pages_per_seq % 3 == 0 ? 0 : need + p->pages_per_seq % 3 - 1;
    p->k = p->v = (vkattn_strides){0, 0, 0};
    p->kv_splits %= 300; /* now and then above the limit of 256 */
}

static uint32_t fold_mask_dim(uint32_t raw, uint32_t full)
{
    switch (raw & 3) {
    case 0: return 0;
    case 1: return 1;
    case 2: return full;
    default: return raw >> 2;
    }
}

static float finite_or_raw(float raw, float small)
{
    uint32_t bits;
    memcpy(&bits, &raw, sizeof bits);
    return bits & 1 ? raw : small;
}

/* A small exactly-representable value (multiples of 1/16 in [-1, 1]) for element i. */
static float fill_value(uint64_t i, uint32_t seed)
{
    uint32_t x = (uint32_t)(i * 2654435761u) ^ seed;
    x ^= x >> 13;
    return (float)((int)(x % 33) - 16) / 16.0f;
}

/* Bytes per element of a (valid) dtype: 2 for f16 and bf16, 4 for f32. */
static size_t elem_size(vkattn_dtype dtype)
{
    switch (dtype) {
    case VKATTN_DTYPE_F32:
        return 4;
    case VKATTN_DTYPE_F16:
    case VKATTN_DTYPE_BF16:
        return 2;
    default:
        die("elem_size of an invalid dtype (the problem should have been rejected)", NULL);
        return 0;
    }
}

/* Element i of buf (of the given dtype) as f32. */
static float value_at(const void *buf, vkattn_dtype dtype, uint64_t i)
{
    switch (dtype) {
    case VKATTN_DTYPE_F16:
        return half_to_float(((const uint16_t *)buf)[i]);
    case VKATTN_DTYPE_BF16:
        return bf16_to_float(((const uint16_t *)buf)[i]);
    default:
        return ((const float *)buf)[i];
    }
}

static void *alloc_tensor(uint64_t count, size_t es, vkattn_dtype dtype, uint32_t seed, bool fill)
{
    if (es != elem_size(dtype))
        die("a tensor allocated with the wrong element size", NULL);
    void *buf = malloc(count * es != 0 ? count * es : 1);
    if (!buf)
        abort();
    for (uint64_t i = 0; i < count; i++) {
        float f = fill ? fill_value(i, seed) : NAN; /* outputs start as NaN: unwritten shows */
        if (dtype == VKATTN_DTYPE_F16)
            ((uint16_t *)buf)[i] = float_to_half(f);
        else if (dtype == VKATTN_DTYPE_BF16)
            ((uint16_t *)buf)[i] = float_to_bf16(f);
        else
            ((float *)buf)[i] = f;
    }
    return buf;
}

static bool is_finite_at(const void *buf, vkattn_dtype dtype, uint64_t i)
{
    return isfinite(value_at(buf, dtype, i));
}

static int cmp_u32(const void *a, const void *b)
{
    const uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* cu_seqlens for a packed batch of the given token count (SPEC 2.1): B + 1 offsets, mostly
 * valid (cut points from the bytes, sorted, 0 first and total last, empty items common), now
 * and then broken: a wrong first or last entry, a decrease, unsorted cut points, huge values.
 * *ok says whether the result is valid, judged from the values alone. */
static uint32_t *make_cu(reader *r, uint32_t batch, uint32_t total, bool *ok)
{
    uint32_t *cu = malloc(((size_t)batch + 1) * sizeof *cu);
    if (!cu)
        abort();
    const uint8_t how = next_u8(r);
    cu[0] = 0;
    cu[batch] = total;
    for (uint32_t b = 1; b < batch; b++) {
        uint32_t x = next_u8(r);
        cu[b] = how % 8 == 4 ? x % (total + 2) : x % (total + 1); /* 4: maybe past the end */
    }
    if (how % 8 != 4 && batch > 2) /* sorted: a valid cut */
        qsort(cu + 1, batch - 1, sizeof *cu, cmp_u32);
    const uint32_t arg = how >> 3;
    switch (how % 8) {
    case 0: /* a wrong first entry */
        cu[0] = 1 + arg % (total + 1);
        break;
    case 1: /* a wrong last entry: one or a few past the token count, or short of it */
        cu[batch] = arg & 1 ? total + 1 + (arg >> 1) % 3 : (arg >> 1) % (total + 1);
        break;
    case 2: /* a decrease at b + 1 (or, for one item, a last entry of 0 after 0) */
        if (batch >= 2) {
            uint32_t b = 1 + arg % (batch - 1);
            cu[b] = cu[b + 1] + 1 + (arg >> 4);
        } else {
            cu[1] = arg & 1 ? 0 : total;
        }
        break;
    case 3: /* the largest offsets */
        cu[batch] = UINT32_MAX;
        if (batch >= 2 && (arg & 1))
            cu[batch - 1] = UINT32_MAX;
        break;
    default: /* 4: unsorted cut points; 5..7: valid */
        break;
    }
    *ok = cu[0] == 0 && cu[batch] == total;
    for (uint32_t b = 1; b <= batch; b++)
        *ok = *ok && cu[b] >= cu[b - 1];
    return cu;
}

/* Item b of a packed batch run as the padded problem SPEC 2.1 says it is: one batch item over
 * the whole token axis with starts cu[b] and lengths the item's counts (and its own slopes).
 * Its rows of O and LSE must equal those of the packed run bit for bit (the same reference
 * arithmetic). */
static void check_item_as_padded(const vkattn_problem *p, const vkattn_host_tensors *t,
                                 const uint32_t *cu_q, const uint32_t *cu_kv, uint32_t b,
                                 uint64_t eo, uint64_t el, size_t es)
{
    vkattn_problem u = *p;
    u.packed = false;
    u.batch = 1;
    u.has_q_lens = u.has_kv_lens = u.has_q_start = u.has_kv_start = true;
    /* [T, H, D] strides as a batch of one; zero strides meant dense [T, H, D] (V and O:
     * [T, H, Dv]) when packed. */
    const uint32_t hk = p->heads_kv ? p->heads_kv : p->heads_q, dv = dv_of(p);
    const vkattn_strides dq = {0, p->head_dim, (uint64_t)p->heads_q * p->head_dim};
    const vkattn_strides dk = {0, p->head_dim, (uint64_t)hk * p->head_dim};
    const vkattn_strides dvs = {0, dv, (uint64_t)hk * dv};
    const vkattn_strides dout = {0, dv, (uint64_t)p->heads_q * dv};
    vkattn_strides *st[4] = {&u.q, &u.k, &u.v, &u.out};
    const vkattn_strides *dense[4] = {&dq, &dk, &dvs, &dout};
    for (int i = 0; i < 4; i++)
        if (st[i]->b == 0 && st[i]->h == 0 && st[i]->s == 0)
            *st[i] = *dense[i];
    u.alibi = p->alibi ? VKATTN_ALIBI_HEADS : VKATTN_ALIBI_NONE;
    const uint32_t q_start = cu_q[b], kv_start = cu_kv[b];
    const uint32_t q_len = cu_q[b + 1] - cu_q[b], kv_len = cu_kv[b + 1] - cu_kv[b];
    if (vkattn_problem_extent(&u, 'o') != eo)
        die("a packed item as a padded batch of one has another O extent", NULL);
    void *out = malloc(eo * es);
    float *lse = p->has_lse ? malloc(el * sizeof *lse) : NULL;
    if (!out || (p->has_lse && !lse))
        abort();
    memset(out, 0xA5, eo * es);
    vkattn_host_tensors ut = *t;
    ut.out = out;
    ut.lse = lse;
    ut.cu_seqlens_q = ut.cu_seqlens_kv = NULL;
    ut.q_lens = &q_len;
    ut.kv_lens = &kv_len;
    ut.q_start = &q_start;
    ut.kv_start = &kv_start;
    ut.alibi = p->alibi == VKATTN_ALIBI_BATCH_HEADS ? t->alibi + (uint64_t)b * p->heads_q
                                                     : t->alibi;
    char msg[256];
    if (vkattn_reference(&u, &ut, msg, sizeof msg) != VKATTN_SUCCESS)
        die("a packed item as a padded batch of one rejected", msg);
    const vkattn_strides os = u.out;
    for (uint32_t h = 0; h < p->heads_q; h++)
        for (uint32_t i = q_start; i < q_start + q_len; i++) {
            const uint64_t o = h * os.h + i * os.s;
            if (memcmp((const char *)t->out + o * es, (const char *)out + o * es,
                       (size_t)dv * es) != 0)
                die("a packed item's O differs from the same item padded (SPEC 2.1)", NULL);
            const uint64_t l = (uint64_t)h * p->seq_q + i;
            if (lse && memcmp(&t->lse[l], &lse[l], sizeof *lse) != 0)
                die("a packed item's LSE differs from the same item padded (SPEC 2.1)", NULL);
        }
    free(out);
    free(lse);
}

/* A bf16 problem run again as f32 on the same values (multiples of 1/16 in [-1, 1]: exact in
 * both) must write the same elements of O, within 2e-2 + 1e-4 of each other (SPEC 3: bf16 within
 * 2e-2 and f32 within 1e-4 of the same float64 value), and put LSE = -inf on the same rows with
 * the rest within 1e-3. Only for a finite |scale| <= 1 and a finite softcap, which keep the
 * scores in SPEC 3's range. */
static void check_bf16_as_f32(const vkattn_problem *p, const vkattn_host_tensors *t,
                              uint64_t eq, uint64_t ek, uint64_t ev, uint64_t eo, uint64_t el)
{
    if (p->dtype != VKATTN_DTYPE_BF16 || !isfinite(p->scale) || fabsf(p->scale) > 1.0f ||
        !isfinite(p->softcap))
        return;
    vkattn_problem w = *p;
    w.dtype = VKATTN_DTYPE_F32;
    const void *in[3] = {t->q, t->k, t->v};
    const uint64_t n[3] = {eq, ek, ev};
    float *wide[3];
    for (int i = 0; i < 3; i++) {
        wide[i] = malloc(n[i] * sizeof(float));
        if (!wide[i])
            abort();
        for (uint64_t e = 0; e < n[i]; e++)
            wide[i][e] = bf16_to_float(((const uint16_t *)in[i])[e]);
    }
    float *out = alloc_tensor(eo, 4, VKATTN_DTYPE_F32, 0, false);
    float *lse = p->has_lse ? alloc_tensor(el, 4, VKATTN_DTYPE_F32, 0, false) : NULL;
    vkattn_host_tensors wt = *t;
    wt.q = wide[0];
    wt.k = wide[1];
    wt.v = wide[2];
    wt.out = out;
    wt.lse = lse;
    char msg[256];
    if (vkattn_reference(&w, &wt, msg, sizeof msg) != VKATTN_SUCCESS)
        die("a valid bf16 problem rejected as f32", msg);
    for (uint64_t e = 0; e < eo; e++) {
        const float a = bf16_to_float(((const uint16_t *)t->out)[e]), b = out[e];
        if (isnan(a) != isnan(b))
            die("bf16 and f32 write different elements of O", NULL);
        if (!isnan(a) && !(fabsf(a - b) <= 2e-2f + 1e-4f))
            die("bf16's O is farther than 2e-2 + 1e-4 from f32's on the same values", NULL);
    }
    for (uint64_t e = 0; lse && e < el; e++) {
        const float a = t->lse[e], b = lse[e];
        if ((a == -INFINITY) != (b == -INFINITY))
            die("bf16 and f32 put LSE = -inf on different rows", NULL);
        if (a != -INFINITY && !(fabsf(a - b) <= 1e-3f * (1.0f + fabsf(b))))
            die("bf16's LSE differs from f32's on the same values", NULL);
    }
    for (int i = 0; i < 3; i++)
        free(wide[i]);
    free(out);
    free(lse);
}

/* The extents of tensors with default strides, from SPEC 1 (V and O rows hold Dv): Q [B, Hq,
 * Sq, D], K [B, Hkv, Skv, D], V [B, Hkv, Skv, Dv], O [B, Hq, Sq, Dv]; packed, B is 1 (the token
 * axis holds the batch); paged, K and V are [num_pages, page_size, Hkv, D or Dv]. */
static void check_dense_extents(const vkattn_problem *p, uint64_t eq, uint64_t ek, uint64_t ev,
                                uint64_t eo)
{
    const uint64_t b = p->packed ? 1 : p->batch, dv = dv_of(p);
    const uint64_t hk = p->heads_kv ? p->heads_kv : p->heads_q;
    const uint64_t kv_rows = p->page_size ? (uint64_t)p->num_pages * p->page_size
                                          : b * p->seq_kv;
    const struct { const vkattn_strides *s; uint64_t got, want; const char *what; } t[4] = {
        {&p->q, eq, b * p->heads_q * p->seq_q * p->head_dim, "Q's extent is not B*Hq*Sq*D"},
        {&p->k, ek, kv_rows * hk * p->head_dim, "K's extent is not B*Hkv*Skv*D"},
        {&p->v, ev, kv_rows * hk * dv, "V's extent is not B*Hkv*Skv*Dv"},
        {&p->out, eo, b * p->heads_q * p->seq_q * dv, "O's extent is not B*Hq*Sq*Dv"},
    };
    for (int i = 0; i < 4; i++)
        if (t[i].s->b == 0 && t[i].s->h == 0 && t[i].s->s == 0 && t[i].got != t[i].want)
            die(t[i].what, NULL);
}

static void run_reference(const vkattn_problem *p, reader *r)
{
    uint64_t eq = vkattn_problem_extent(p, 'q'), ek = vkattn_problem_extent(p, 'k');
    uint64_t ev = vkattn_problem_extent(p, 'v'), eo = vkattn_problem_extent(p, 'o');
    uint64_t el = vkattn_problem_extent(p, 'l'), em = vkattn_problem_extent(p, 'm');
    if (eq == 0 || ek == 0 || ev == 0 || eo == 0 || el == 0)
        die("a valid problem has an empty tensor", NULL);
    if ((em == 0) != (p->mask_batch == 0))
        die("mask extent disagrees with mask_batch", NULL);
    const uint64_t ep = p->page_size != 0 ? vkattn_problem_extent(p, 'p') : 0;
    check_dense_extents(p, eq, ek, ev, eo);
    if (eq > MAX_EXTENT || ek > MAX_EXTENT || ev > MAX_EXTENT || eo > MAX_EXTENT ||
        el > MAX_EXTENT || em > MAX_EXTENT || ep > MAX_EXTENT)
        return;
    const uint32_t dv = dv_of(p);
    uint64_t work = (uint64_t)p->batch * p->heads_q * p->seq_q * p->seq_kv *
                    ((uint64_t)p->head_dim + dv);
    if (work > MAX_WORK)
        return;

    const size_t es = elem_size(p->dtype);
    const uint32_t seed = next_u32(r);
    uint32_t *q_lens = NULL, *kv_lens = NULL, *pages = NULL, *q_start = NULL, *kv_start = NULL;
    bool pages_ok = true;
    if (p->page_size != 0) {
        if (ep == 0)
            die("a valid paged problem has no page table", NULL);
        pages = malloc(ep * sizeof *pages);
        for (uint64_t e = 0; e < ep; e++) {
            pages[e] = next_u8(r) % (p->num_pages + 1); /* now and then past the pool */
            pages_ok = pages_ok && pages[e] < p->num_pages;
        }
    }
    /* Packed: cu_seqlens for queries and keys, each valid or broken on purpose. */
    uint32_t *cu_q = NULL, *cu_kv = NULL;
    bool cu_q_ok = true, cu_kv_ok = true;
    if (p->packed) {
        cu_q = make_cu(r, p->batch, p->seq_q, &cu_q_ok);
        cu_kv = make_cu(r, p->batch, p->seq_kv, &cu_kv_ok);
    }
    uint8_t *mask = NULL;
    bool lens_ok = true;
    if (p->has_q_lens) {
        q_lens = malloc(p->batch * sizeof *q_lens);
        for (uint32_t b = 0; b < p->batch; b++) {
            q_lens[b] = next_u8(r) % (p->seq_q + 2); /* now and then one too many */
            lens_ok = lens_ok && q_lens[b] <= p->seq_q;
        }
    }
    if (p->has_kv_lens) {
        kv_lens = malloc(p->batch * sizeof *kv_lens);
        for (uint32_t b = 0; b < p->batch; b++) {
            kv_lens[b] = next_u8(r) % (p->seq_kv + 2);
            lens_ok = lens_ok && kv_lens[b] <= p->seq_kv;
        }
    }
    /* Starts: within the sequence beside the length now and then one too far. */
    uint32_t **starts[2] = {p->has_q_start ? &q_start : NULL, p->has_kv_start ? &kv_start : NULL};
    for (int side = 0; side < 2; side++) {
        if (!starts[side])
            continue;
        const uint32_t seq = side ? p->seq_kv : p->seq_q;
        const uint32_t *lens = side ? kv_lens : q_lens;
        uint32_t *st = *starts[side] = malloc(p->batch * sizeof *st);
        for (uint32_t b = 0; b < p->batch; b++) {
            const uint32_t len = lens && lens[b] <= seq ? lens[b] : 0;
            st[b] = next_u8(r) % (seq - len + 2);
            lens_ok = lens_ok && st[b] + len <= seq;
        }
    }
    /* Sinks and slopes: finite, but now and then one that is not. */
    float *sinks = malloc(p->heads_q * sizeof *sinks);
    const uint64_t n_slopes = (uint64_t)p->batch * p->heads_q;
    float *slopes = malloc(n_slopes * sizeof *slopes);
    bool logits_ok = true;
    for (uint32_t h = 0; h < p->heads_q; h++) {
        const uint8_t x = next_u8(r);
        sinks[h] = x == 255 ? INFINITY : ((float)x - 128.0f) / 16.0f;
        logits_ok = logits_ok && (!p->has_sinks || x != 255);
    }
    for (uint64_t e = 0; e < n_slopes; e++) {
        const uint8_t x = next_u8(r);
        slopes[e] = x == 255 ? NAN : (float)x / 64.0f;
        logits_ok = logits_ok && (e >= (p->alibi == VKATTN_ALIBI_BATCH_HEADS ? n_slopes
                                        : p->alibi == VKATTN_ALIBI_HEADS ? p->heads_q : 0) ||
                                  x != 255);
    }
    if (em) {
        mask = malloc(em);
        uint8_t bits = 0;
        for (uint64_t i = 0; i < em; i++) {
            if (i % 8 == 0)
                bits = r->n ? next_u8(r) : (uint8_t)(seed >> (i / 8 % 4 * 8));
            mask[i] = (bits >> (i % 8)) & 1;
        }
    }
    vkattn_host_tensors t = {
        .q = alloc_tensor(eq, es, p->dtype, seed, true),
        .k = alloc_tensor(ek, es, p->dtype, seed ^ 0x5bd1e995u, true),
        .v = alloc_tensor(ev, es, p->dtype, seed ^ 0x9e3779b9u, true),
        .out = alloc_tensor(eo, es, p->dtype, 0, false),
        .lse = p->has_lse ? alloc_tensor(el, 4, VKATTN_DTYPE_F32, 0, false) : NULL,
        .q_lens = q_lens,
        .kv_lens = kv_lens,
        .mask = mask,
        .page_table = pages,
        .q_start = q_start,
        .kv_start = kv_start,
        .sinks = p->has_sinks ? sinks : NULL,
        .alibi = p->alibi ? slopes : NULL,
        .cu_seqlens_q = cu_q,
        .cu_seqlens_kv = cu_kv,
    };

    char msg[256];
    memset(msg, 0x55, sizeof msg);
    vkattn_result res = vkattn_reference(p, &t, msg, sizeof msg);
    check_message(res, msg, sizeof msg);
    if (!logits_ok) { /* sinks and slopes are checked first, then pages, then lengths */
        if (res != VKATTN_ERROR_INVALID_ARGUMENT)
            die("a non-finite sink or slope accepted", msg);
        if (strncmp(msg, "sinks[", 6) != 0 && strncmp(msg, "alibi[", 6) != 0)
            die("a bad sink or slope rejected without naming it", msg);
    } else if (!pages_ok) {
        if (res != VKATTN_ERROR_INVALID_ARGUMENT)
            die("a page number past num_pages accepted", msg);
        if (strncmp(msg, "page_table[", 11) != 0)
            die("a bad page rejected without naming the page table", msg);
    } else if (!lens_ok) {
        if (res != VKATTN_ERROR_INVALID_ARGUMENT)
            die("lengths beyond seq_q / seq_kv accepted", msg);
        if (strncmp(msg, "q_lens[", 7) != 0 && strncmp(msg, "kv_lens[", 8) != 0 &&
            strncmp(msg, "q_start[", 8) != 0 && strncmp(msg, "kv_start[", 9) != 0)
            die("a bad length or start rejected without naming it", msg);
    } else if (!cu_q_ok || !cu_kv_ok) { /* queries' offsets are checked before the keys' */
        if (res != VKATTN_ERROR_INVALID_ARGUMENT)
            die("cu_seqlens that are not non-decreasing from 0 to seq_q / seq_kv accepted", msg);
        if (!cu_q_ok ? strncmp(msg, "cu_seqlens_q[", 13) != 0
                     : strncmp(msg, "cu_seqlens_kv[", 14) != 0)
            die("bad cu_seqlens rejected without naming the first bad array", msg);
    } else if (res != VKATTN_SUCCESS) {
        die("a valid problem with valid tensors rejected", msg);
    } else {
        /* Every row of O (started as NaN) is written (its Dv elements) and finite, and nothing
         * between the rows is: those elements keep their NaN. LSE may be -inf (no key). A
         * packed batch's tensors have one batch index (its token axis) and LSE is [Hq, Tq]. */
        const uint32_t tensor_batch = p->packed ? 1 : p->batch;
        const vkattn_strides os = out_strides(p);
        uint8_t *in_row = calloc(eo, 1);
        if (!in_row)
            abort();
        for (uint32_t b = 0; b < tensor_batch; b++)
            for (uint32_t h = 0; h < p->heads_q; h++)
                for (uint32_t i = 0; i < p->seq_q; i++) {
                    uint64_t o = b * os.b + h * os.h + i * os.s;
                    if (o + dv > eo)
                        die("a row of O lies past O's extent", NULL);
                    for (uint32_t c = 0; c < dv; c++) {
                        if (!is_finite_at(t.out, p->dtype, o + c))
                            die("an output is not finite for finite inputs", NULL);
                        in_row[o + c] = 1;
                    }
                    if (p->has_lse) {
                        float l = t.lse[((uint64_t)b * p->heads_q + h) * p->seq_q + i];
                        if (isnan(l) || l == INFINITY)
                            die("an LSE is NaN or +inf", NULL);
                    }
                }
        for (uint64_t e = 0; e < eo; e++)
            if (!in_row[e] && is_finite_at(t.out, p->dtype, e))
                die("an element of O between its rows was written", NULL);
        free(in_row);
        /* Each item of a packed batch is the padded problem SPEC 2.1 says it is. */
        for (uint32_t b = 0; p->packed && b < p->batch && b < 8; b++)
            check_item_as_padded(p, &t, cu_q, cu_kv, b, eo, el, es);
        check_bf16_as_f32(p, &t, eq, ek, ev, eo, el);
    }
    free((void *)t.q);
    free((void *)t.k);
    free((void *)t.v);
    free(t.out);
    free(t.lse);
    free(q_lens);
    free(kv_lens);
    free(q_start);
    free(kv_start);
    free(sinks);
    free(slopes);
    free(mask);
    free(pages);
    free(cu_q);
    free(cu_kv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t mode = data[0];
    uint8_t raw[sizeof(vkattn_problem)] = {0};
    size_t n = size - 1 < sizeof raw ? size - 1 : sizeof raw;
    memcpy(raw, data + 1, n);
    reader r = {data + 1 + n, size - 1 - n};

    vkattn_problem p;
    memcpy(&p, raw, sizeof p);
    set_bools(&p, raw);
    if (mode & MODE_SIZES)
        fold_sizes(&p);
    if (mode & MODE_PACKED)
        fold_packed(&p, raw[offsetof(vkattn_problem, packed)]);
    if (mode & MODE_STRIDES) {
        uint32_t hk = p.heads_kv ? p.heads_kv : p.heads_q;
        void (*fold)(vkattn_strides *, uint32_t, uint32_t, uint32_t) =
            p.packed ? fold_strides_packed : fold_strides;
        fold(&p.q, p.heads_q, p.seq_q, p.head_dim);
        fold(&p.k, hk, p.seq_kv, p.head_dim);
        fold(&p.v, hk, p.seq_kv, dv_of(&p));
        fold(&p.out, p.heads_q, p.seq_q, dv_of(&p));
    }
    if (mode & MODE_MASK) {
        uint32_t sel = p.mask_batch;
        p.mask_batch = fold_mask_dim(sel, p.batch);
        p.mask_heads = fold_mask_dim(p.mask_heads, p.heads_q);
        if ((sel & 3) == 0)
            p.mask_heads = 0; /* mostly paired, so "no mask" stays common */
    }
    if (mode & MODE_WINDOW) {
        p.window_left = (int32_t)((uint32_t)p.window_left % 20) - 2;
        p.window_right = (int32_t)((uint32_t)p.window_right % 20) - 2;
        p.scale = finite_or_raw(p.scale, 0.0f);
        p.softcap = finite_or_raw(p.softcap, (float)(p.window_right + 2) * 0.5f);
    }
    if (mode & MODE_ENUMS) {
        const unsigned d = (unsigned)p.dtype % 8; /* f32, f16, bf16 alike; 7: 3, invalid */
        p.dtype = (vkattn_dtype)(d < 7 ? d % 3 : 3);
        p.align = (vkattn_align)((unsigned)p.align & 1);
        p.alibi = (vkattn_alibi)((unsigned)p.alibi % 3);
    }
    if (mode & MODE_PAGED)
        fold_paged(&p);

    /* The message buffer is exactly msg_size bytes on the heap, so ASan sees any overrun. */
    size_t msg_size = next_u8(&r);
    char *msg = malloc(msg_size ? msg_size : 1);
    if (!msg)
        abort();
    memset(msg, 0x55, msg_size ? msg_size : 1);
    vkattn_result res = vkattn_problem_check(&p, msg_size ? msg : NULL, msg_size);
    if (msg_size)
        check_message(res, msg, msg_size);
    char full[256];
    vkattn_result res2 = vkattn_problem_check(&p, full, sizeof full);
    if (res2 != res)
        die("the outcome depends on the message buffer", full);
    check_message(res2, full, sizeof full);
    free(msg);
    /* SPEC 1: D in 1..576, Dv in 1..512 (0 = D). */
    if (res == VKATTN_SUCCESS &&
        (p.head_dim < 1 || p.head_dim > 576 || p.head_dim_v > 512 || dv_of(&p) > 512))
        die("a head_dim or head_dim_v out of range accepted", NULL);
    /* SPEC 1: f32, f16 or bf16; anything else (3, raw bytes) is refused. */
    if (res == VKATTN_SUCCESS && (unsigned)p.dtype > VKATTN_DTYPE_BF16)
        die("an invalid dtype accepted", NULL);

    if (res != VKATTN_SUCCESS) {
        static const char which[] = "qkvolm";
        for (int i = 0; which[i]; i++)
            if (vkattn_problem_extent(&p, which[i]) != 0)
                die("an invalid problem has a nonzero extent", full);
        /* The reference must refuse before touching any tensor (all NULL here). */
        vkattn_host_tensors none = {0};
        char msg2[256];
        if (vkattn_reference(&p, &none, msg2, sizeof msg2) != VKATTN_ERROR_INVALID_ARGUMENT ||
            strcmp(msg2, full) != 0)
            die("vkattn_reference disagrees with vkattn_problem_check", msg2);
        return 0;
    }
    run_reference(&p, &r);
    return 0;
}
