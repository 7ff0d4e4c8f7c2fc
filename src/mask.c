/* The mask rules of SPEC section 2: per-batch rule, key ranges of row blocks, visible pairs. */
#include "mask.h"

mask_rule vkattn__mask_rule_for(const vkattn_problem *p, const vkattn__seq_arrays *a, uint32_t b)
{
    mask_rule r;
    if (p->packed) { /* SPEC 2.1: the item's rows of the token axis */
        r.q0 = a->cu_q[b];
        r.k0 = a->cu_kv[b];
        r.ql = (int64_t)a->cu_q[b + 1] - r.q0;
        r.kl = (int64_t)a->cu_kv[b + 1] - r.k0;
    } else {
        r.q0 = a->q_start ? a->q_start[b] : 0;
        r.k0 = a->kv_start ? a->kv_start[b] : 0;
        r.ql = a->q_lens ? a->q_lens[b] : p->seq_q - r.q0;
        r.kl = a->kv_lens ? a->kv_lens[b] : p->seq_kv - r.k0;
    }
    r.off = p->align == VKATTN_ALIGN_TOP_LEFT ? 0 : r.kl - r.ql;
    r.causal = p->causal;
    r.window = p->window;
    r.wl = p->window ? p->window_left : -1;
    r.wr = p->window ? p->window_right : -1;
    return r;
}

/* Row i sees keys [lo(i), hi(i)) of the unbounded key axis (before clamping to [0, kl)); both
 * are nondecreasing in i and, when bounded, lo(i) <= i + off < hi(i), so every row's unclamped
 * range holds its diagonal key. */
static bool has_lo(const mask_rule *r)
{
    return r->window && r->wl >= 0;
}

static int64_t lo_shift(const mask_rule *r) /* lo(i) = i + off - wl */
{
    return -r->wl;
}

static bool has_hi(const mask_rule *r)
{
    return r->causal || (r->window && r->wr >= 0);
}

static int64_t hi_shift(const mask_rule *r) /* hi(i) = i + off + shift */
{
    int64_t s = INT64_MAX;
    if (r->causal)
        s = 1;
    if (r->window && r->wr >= 0 && r->wr + 1 < s)
        s = r->wr + 1;
    return s;
}

/* The rows of [i0, i1) that see at least one key, as [*a, *b); false when there are none.
 * Row i sees a key iff i < ql, kl > 0, lo(i) < kl and hi(i) > 0; as lo(i) < hi(i) always, these
 * conditions are the whole story, and each bounds i on one side. */
static bool seeing_rows(const mask_rule *r, int64_t i0, int64_t i1, int64_t *a, int64_t *b)
{
    if (r->kl <= 0)
        return false;
    if (i0 < 0)
        i0 = 0;
    if (i1 > r->ql)
        i1 = r->ql;
    if (has_hi(r) && i0 < 1 - r->off - hi_shift(r)) /* hi(i) > 0 */
        i0 = 1 - r->off - hi_shift(r);
    if (has_lo(r) && i1 > r->kl - r->off - lo_shift(r)) /* lo(i) < kl */
        i1 = r->kl - r->off - lo_shift(r);
    *a = i0;
    *b = i1;
    return i0 < i1;
}

static int64_t row_lo(const mask_rule *r, int64_t i)
{
    int64_t lo = has_lo(r) ? i + r->off + lo_shift(r) : 0;
    return lo > 0 ? lo : 0;
}

static int64_t row_hi(const mask_rule *r, int64_t i)
{
    int64_t hi = has_hi(r) ? i + r->off + hi_shift(r) : r->kl;
    return hi < r->kl ? hi : r->kl;
}

void vkattn__mask_key_range(const mask_rule *r, int64_t i0, int64_t i1, int64_t *j0, int64_t *j1)
{
    int64_t a, b;
    if (!seeing_rows(r, i0 - r->q0, i1 - r->q0, &a, &b)) {
        *j0 = 0;
        *j1 = 0;
        return;
    }
    /* The seeing rows are consecutive and their ranges shift by at most one key per row while
     * each holding at least one key, so the union is the single range [lo(a), hi(b - 1)). */
    *j0 = row_lo(r, a) + r->k0;
    *j1 = row_hi(r, b - 1) + r->k0;
}

uint64_t vkattn__mask_visible_pairs(const mask_rule *r)
{
    int64_t a, b;
    if (!seeing_rows(r, 0, r->ql, &a, &b))
        return 0;
    uint64_t n = 0;
    for (int64_t i = a; i < b; i++)
        n += (uint64_t)(row_hi(r, i) - row_lo(r, i));
    return n;
}
