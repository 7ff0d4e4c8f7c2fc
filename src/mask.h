/* The mask rules of SPEC section 2, the one C place they live (the CPU reference, the host-side
 * tile planner and `vkattn mask` use them). shaders/mask.glsl is the GLSL twin: keep them equal. */
#ifndef VKATTN_MASK_H
#define VKATTN_MASK_H

#include <stdbool.h>
#include <stdint.h>

#include "problem.h"
#include "vkattn/vkattn.h"

/* The mask of one batch item: starts, lengths, diagonal offset and window. Rules 1-3 read
 * positions: query row i has position i - q0 and key row j position j - k0 (SPEC 2's start
 * offsets; both 0 without them). */
typedef struct mask_rule {
    int64_t ql, kl;   /* valid query rows and keys */
    int64_t off;      /* diagonal offset: kl - ql (bottom-right) or 0 (top-left) */
    int64_t q0, k0;   /* first valid query row and key (start offsets) */
    bool causal, window;
    int64_t wl, wr;   /* window sides, -1 = unbounded */
} mask_rule;

/* The rule for batch item b (the arrays NULL where the problem has none). */
mask_rule vkattn__mask_rule_for(const vkattn_problem *p, const vkattn__seq_arrays *a, uint32_t b);

/* Conditions 1-3 of SPEC section 2 for query row i and key row j (the custom mask is applied by
 * the caller). */
static inline bool mask_visible(const mask_rule *r, int64_t i, int64_t j)
{
    i -= r->q0;
    j -= r->k0;
    if (i < 0 || j < 0 || i >= r->ql || j >= r->kl)
        return false;
    if (r->causal && j > i + r->off)
        return false;
    if (r->window && r->wl >= 0 && j < i + r->off - r->wl)
        return false;
    if (r->window && r->wr >= 0 && j > i + r->off + r->wr)
        return false;
    return true;
}

/* Whether every row of [i0, i1) sees every key of [j0, j1) under conditions 1-3 (a kernel then
 * skips the per-element test there). Both ranges non-empty; the bounds are monotonic in i, so
 * the first row decides the right edge and the last row the left one. */
static inline bool mask_block_full(const mask_rule *r, int64_t i0, int64_t i1, int64_t j0,
                                   int64_t j1)
{
    i0 -= r->q0, i1 -= r->q0, j0 -= r->k0, j1 -= r->k0;
    if (i0 < 0 || j0 < 0 || i1 > r->ql || j1 > r->kl)
        return false;
    if (r->causal && j1 - 1 > i0 + r->off)
        return false;
    if (r->window && r->wl >= 0 && j0 < i1 - 1 + r->off - r->wl)
        return false;
    if (r->window && r->wr >= 0 && j1 - 1 > i0 + r->off + r->wr)
        return false;
    return true;
}

/* Keys (rows of K) that any query row of [i0, i1) may see, as the half-open range [*j0, *j1);
 * empty (j0 >= j1) when the rows see nothing. Exact for conditions 1-3: the bounds are monotonic in i, so the
 * first row gives the lower and the last row the upper bound. */
void vkattn__mask_key_range(const mask_rule *r, int64_t i0, int64_t i1, int64_t *j0, int64_t *j1);

/* The ALiBi distance |p + off - r| of query row i and key row j (positions p, r; SPEC 3). */
static inline int64_t mask_alibi_distance(const mask_rule *r, int64_t i, int64_t j)
{
    const int64_t d = (i - r->q0) + r->off - (j - r->k0);
    return d < 0 ? -d : d;
}

/* Number of visible (i, j) pairs of one batch item under conditions 1-3. */
uint64_t vkattn__mask_visible_pairs(const mask_rule *r);

#endif
