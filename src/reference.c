/* The CPU reference: SPEC sections 1-3, one query row at a time, float64 arithmetic.
 * Memory is O(D) on the stack; no Sq x Skv buffer exists. */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>

#include "half.h"
#include "mask.h"
#include "problem.h"

#define MAX_HEAD_DIM 576 /* D; Dv is at most 512 */

/* Element offset of [b][h][s][0] of a tensor with strides st. */
static uint64_t offset_of(vkattn_strides st, uint64_t b, uint64_t h, uint64_t s)
{
    return b * st.b + h * st.h + s * st.s;
}

/* Element offset of key j's row of K or V (strides st) for KV head hk of batch item b, through
 * the page table when the problem is paged. */
static uint64_t kv_offset(const vkattn_problem *p, vkattn_strides st, const uint32_t *pages,
                          uint32_t b, uint32_t hk, uint64_t j)
{
    if (p->page_size == 0)
        return offset_of(st, b, hk, j);
    uint32_t page = pages[(uint64_t)b * p->pages_per_seq + j / p->page_size];
    return offset_of(st, page, hk, j % p->page_size);
}

static void load_row(const void *base, vkattn_dtype dtype, uint64_t off, uint32_t d, double *row)
{
    if (dtype == VKATTN_DTYPE_BF16) {
        const uint16_t *x = (const uint16_t *)base + off;
        for (uint32_t c = 0; c < d; c++)
            row[c] = bf16_to_float(x[c]);
    } else if (dtype == VKATTN_DTYPE_F16) {
        const uint16_t *x = (const uint16_t *)base + off;
        for (uint32_t c = 0; c < d; c++)
            row[c] = half_to_float(x[c]);
    } else {
        const float *x = (const float *)base + off;
        for (uint32_t c = 0; c < d; c++)
            row[c] = x[c];
    }
}

static void store_row(void *base, vkattn_dtype dtype, uint64_t off, uint32_t d, const double *row)
{
    if (dtype == VKATTN_DTYPE_BF16) {
        uint16_t *x = (uint16_t *)base + off;
        for (uint32_t c = 0; c < d; c++)
            x[c] = float_to_bf16((float)row[c]);
    } else if (dtype == VKATTN_DTYPE_F16) {
        uint16_t *x = (uint16_t *)base + off;
        for (uint32_t c = 0; c < d; c++)
            x[c] = float_to_half((float)row[c]);
    } else {
        float *x = (float *)base + off;
        for (uint32_t c = 0; c < d; c++)
            x[c] = (float)row[c];
    }
}

static double dot_row(const void *base, vkattn_dtype dtype, uint64_t off, uint32_t d,
                      const double *q)
{
    double s = 0.0;
    if (dtype == VKATTN_DTYPE_BF16) {
        const uint16_t *x = (const uint16_t *)base + off;
        for (uint32_t c = 0; c < d; c++)
            s += q[c] * bf16_to_float(x[c]);
    } else if (dtype == VKATTN_DTYPE_F16) {
        const uint16_t *x = (const uint16_t *)base + off;
        for (uint32_t c = 0; c < d; c++)
            s += q[c] * half_to_float(x[c]);
    } else {
        const float *x = (const float *)base + off;
        for (uint32_t c = 0; c < d; c++)
            s += q[c] * x[c];
    }
    return s;
}

/* Byte ranges [a, a + na) and [b, b + nb) intersect (flat address space assumed). */
static bool overlaps(const void *a, uint64_t na, const void *b, uint64_t nb)
{
    uintptr_t pa = (uintptr_t)a, pb = (uintptr_t)b;
    return na > 0 && nb > 0 && pa < pb + nb && pb < pa + na;
}

static vkattn_result check_tensors(const vkattn_problem *p, const vkattn_host_tensors *t,
                                   char *msg, size_t msg_size)
{
    if (!t)
        return vkattn__problem_fail(msg, msg_size, "tensors = NULL: expected vkattn_host_tensors");
    const char *missing = vkattn__host_tensors_missing(p, t);
    if (missing)
        return vkattn__problem_fail(msg, msg_size, "tensors.%s = NULL: required by this problem",
                                    missing);
    uint64_t es = vkattn__dtype_size(p->dtype);
    uint64_t no = vkattn_problem_extent(p, 'o') * es;
    const struct { const char *name; const void *ptr; uint64_t bytes; } in[] = {
        {"q", t->q, vkattn_problem_extent(p, 'q') * es},
        {"k", t->k, vkattn_problem_extent(p, 'k') * es},
        {"v", t->v, vkattn_problem_extent(p, 'v') * es},
        {"lse", p->has_lse ? t->lse : NULL, vkattn_problem_extent(p, 'l') * 4},
    };
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
        if (in[i].ptr && overlaps(t->out, no, in[i].ptr, in[i].bytes))
            return vkattn__problem_fail(msg, msg_size, "tensors.out overlaps tensors.%s", in[i].name);
    vkattn_result res = vkattn__problem_check_logits(p, p->has_sinks ? t->sinks : NULL,
                                                     p->alibi ? t->alibi : NULL, msg, msg_size);
    if (res == VKATTN_SUCCESS && p->page_size != 0)
        res = vkattn__problem_check_pages(p, t->page_table, msg, msg_size);
    return res;
}

/* Scores beyond f32's range (finite inputs of extreme magnitude) still give a finite LSE. */
static float lse_to_float(double x)
{
    return x > FLT_MAX ? FLT_MAX : x < -FLT_MAX ? -FLT_MAX : (float)x;
}

/* Rows 0..Sq-1 of query head h of batch item b: O and (when asked for) LSE. Writes nothing
 * else, so that disjoint (b, h) pairs may run at the same time (vkattn_reference_heads). */
static void reference_head(const vkattn_problem *p, const vkattn_host_tensors *t,
                           const mask_rule *rule, uint32_t b, uint32_t h)
{
    const uint32_t d = p->head_dim, dv = p->head_dim_v, hk = h / (p->heads_q / p->heads_kv);
    const double scale = p->scale, softcap = p->softcap;
    const double slope = p->alibi == VKATTN_ALIBI_NONE ? 0.0
                         : t->alibi[(p->alibi == VKATTN_ALIBI_BATCH_HEADS ? b * p->heads_q : 0) + h];
    double q[MAX_HEAD_DIM], acc[MAX_HEAD_DIM];
    const uint8_t *mrow = NULL;
    if (p->mask_batch != 0)
        mrow = t->mask + ((uint64_t)(p->mask_batch == 1 ? 0 : b) * p->mask_heads +
                          (p->mask_heads == 1 ? 0 : h)) * p->seq_q * p->seq_kv;
    /* A packed batch's item owns only its rows (SPEC 2.1); the others are other items'. */
    const uint32_t i_begin = p->packed ? (uint32_t)rule->q0 : 0;
    const uint32_t i_end = p->packed ? (uint32_t)(rule->q0 + rule->ql) : p->seq_q;
    const uint32_t bt = p->packed ? 0 : b; /* the tensors' batch index */
    for (uint32_t i = i_begin; i < i_end; i++) {
        int64_t j0, j1;
        vkattn__mask_key_range(rule, i, (int64_t)i + 1, &j0, &j1);
        load_row(t->q, p->dtype, offset_of(p->q, bt, h, i), d, q);
        for (uint32_t c = 0; c < dv; c++)
            acc[c] = 0.0;
        /* Online softmax: m is the running max of the scores seen, l the sum of
         * exp(s - m); m starts at -inf and only ever meets finite scores, so
         * exp(m - s) never sees -inf - -inf. */
        double m = -INFINITY, l = 0.0;
        /* A NaN or Inf that reaches the row (in q, or in the k or v of a visible key)
         * makes all of it NaN (SPEC 3). In float64 a score of finite f32 inputs is
         * always finite, so a non-finite score means a non-finite q or k; a non-finite
         * v shows as a non-finite accumulator (e * v with e in [0, 1]). */
        bool poisoned = false;
        for (int64_t j = j0; j < j1; j++) {
            if (!mask_visible(rule, i, j))
                continue;
            if (mrow && !mrow[(uint64_t)i * p->seq_kv + (uint64_t)j])
                continue;
            double s = scale * dot_row(t->k, p->dtype,
                                       kv_offset(p, p->k, t->page_table, b, hk, (uint64_t)j), d, q);
            if (!isfinite(s)) {
                poisoned = true;
                continue;
            }
            if (softcap > 0.0)
                s = softcap * tanh(s / softcap);
            s -= slope * (double)mask_alibi_distance(rule, i, j);
            if (s > m) {
                double f = exp(m - s);
                l *= f;
                for (uint32_t c = 0; c < dv; c++)
                    acc[c] *= f;
                m = s;
            }
            double e = exp(s - m);
            l += e;
            const uint64_t vo = kv_offset(p, p->v, t->page_table, b, hk, (uint64_t)j);
            if (p->dtype == VKATTN_DTYPE_BF16) {
                const uint16_t *vr = (const uint16_t *)t->v + vo;
                for (uint32_t c = 0; c < dv; c++)
                    acc[c] += e * bf16_to_float(vr[c]);
            } else if (p->dtype == VKATTN_DTYPE_F16) {
                const uint16_t *vr = (const uint16_t *)t->v + vo;
                for (uint32_t c = 0; c < dv; c++)
                    acc[c] += e * half_to_float(vr[c]);
            } else {
                const float *vr = (const float *)t->v + vo;
                for (uint32_t c = 0; c < dv; c++)
                    acc[c] += e * vr[c];
            }
        }
        /* The sink joins the denominator as one more score with no value (SPEC 3). */
        if (p->has_sinks) {
            const double sink = t->sinks[h], mx = sink > m ? sink : m;
            const double f = exp(m - mx); /* m = -inf (no key): 0 */
            for (uint32_t c = 0; c < dv; c++)
                acc[c] *= f;
            l = l * f + exp(sink - mx);
            m = mx;
        }
        /* No visible key (and no sink): O = 0 exactly (acc is all zero), LSE = -inf. */
        const double inv = l > 0.0 ? 1.0 / l : 0.0;
        for (uint32_t c = 0; c < dv; c++) {
            acc[c] *= inv;
            if (!isfinite(acc[c]))
                poisoned = true;
        }
        if (poisoned)
            for (uint32_t c = 0; c < dv; c++)
                acc[c] = NAN;
        store_row(t->out, p->dtype, offset_of(p->out, bt, h, i), dv, acc);
        if (p->has_lse)
            t->lse[((uint64_t)bt * p->heads_q + h) * p->seq_q + i] =
                poisoned ? NAN : l > 0.0 ? lse_to_float(m + log(l)) : -INFINITY;
    }
}

/* The checks of vkattn_reference, then the (b, h) pairs b * Hq + h in [first, first + count),
 * or all of them when whole. */
static vkattn_result reference_pairs(const vkattn_problem *problem, const vkattn_host_tensors *t,
                                     bool whole, uint32_t first, uint32_t count, char *msg,
                                     size_t msg_size)
{
    vkattn_result res = vkattn_problem_check(problem, msg, msg_size);
    if (res != VKATTN_SUCCESS)
        return res;
    /* A valid problem has B * Hq < 2^32 (O spans at most 2^32 - 1 elements); uint64 anyway. */
    const uint64_t pairs = (uint64_t)problem->batch * problem->heads_q;
    if (whole)
        count = (uint32_t)pairs;
    else if ((uint64_t)first + count > pairs)
        return vkattn__problem_fail(msg, msg_size,
                                    "first = %" PRIu32 ", count = %" PRIu32 ": expected first + "
                                    "count <= batch * heads_q = %" PRIu64, first, count, pairs);
    res = check_tensors(problem, t, msg, msg_size);
    if (res != VKATTN_SUCCESS)
        return res;
    const vkattn__seq_arrays seqs = vkattn__seq_arrays_of(problem, t);
    res = vkattn__problem_check_seqs(problem, &seqs, msg, msg_size);
    if (res != VKATTN_SUCCESS)
        return res;

    const vkattn_problem p = vkattn__problem_resolved(problem);
    for (uint64_t f = first; f < (uint64_t)first + count; f++) {
        const uint32_t b = (uint32_t)(f / p.heads_q), h = (uint32_t)(f % p.heads_q);
        const mask_rule rule = vkattn__mask_rule_for(&p, &seqs, b);
        reference_head(&p, t, &rule, b, h);
    }
    return VKATTN_SUCCESS;
}

vkattn_result vkattn_reference(const vkattn_problem *problem, const vkattn_host_tensors *t,
                               char *msg, size_t msg_size)
{
    return reference_pairs(problem, t, true, 0, 0, msg, msg_size);
}

vkattn_result vkattn_reference_heads(const vkattn_problem *problem, const vkattn_host_tensors *t,
                                     uint32_t first, uint32_t count, char *msg, size_t msg_size)
{
    return reference_pairs(problem, t, false, first, count, msg, msg_size);
}

vkattn_result vkattn_merge_reference(const vkattn_problem *problem, const vkattn_merge_host *t,
                                     char *msg, size_t msg_size)
{
    vkattn_result res = vkattn_problem_check(problem, msg, msg_size);
    if (res != VKATTN_SUCCESS)
        return res;
    if (!t || !t->o1 || !t->o2 || !t->lse1 || !t->lse2 || !t->out)
        return vkattn__problem_fail(msg, msg_size, "%s = NULL: required by the merge",
                                    !t ? "tensors" : !t->o1 ? "tensors.o1" : !t->o2 ? "tensors.o2"
                                    : !t->lse1 ? "tensors.lse1" : !t->lse2 ? "tensors.lse2"
                                    : "tensors.out");
    const vkattn_problem p = vkattn__problem_resolved(problem);
    const uint32_t d = p.head_dim_v; /* O's rows */
    double o1[MAX_HEAD_DIM], o2[MAX_HEAD_DIM];
    for (uint32_t b = 0; b < vkattn__tensor_batch(&p); b++) /* packed: one, the token axis */
        for (uint32_t h = 0; h < p.heads_q; h++)
            for (uint32_t i = 0; i < p.seq_q; i++) {
                const uint64_t row = ((uint64_t)b * p.heads_q + h) * p.seq_q + i;
                const uint64_t off = offset_of(p.out, b, h, i);
                const double l1 = t->lse1[row], l2 = t->lse2[row];
                load_row(t->o1, p.dtype, off, d, o1);
                load_row(t->o2, p.dtype, off, d, o2);
                const bool bad = isnan(l1) || isnan(l2);
                const double mx = l1 > l2 ? l1 : l2;
                /* A part with LSE = -inf saw no key: it weighs 0 (never exp(-inf - -inf)). */
                const double w1 = l1 > -INFINITY ? exp(l1 - mx) : 0.0;
                const double w2 = l2 > -INFINITY ? exp(l2 - mx) : 0.0;
                const double ws = w1 + w2;
                for (uint32_t c = 0; c < d; c++)
                    o1[c] = bad ? NAN : ws > 0.0 ? (w1 * (w1 > 0 ? o1[c] : 0.0) +
                                                    w2 * (w2 > 0 ? o2[c] : 0.0)) / ws : 0.0;
                store_row(t->out, p.dtype, off, d, o1);
                if (t->lse)
                    t->lse[row] = bad ? NAN : ws > 0.0 ? lse_to_float(mx + log(ws)) : -INFINITY;
            }
    return VKATTN_SUCCESS;
}
