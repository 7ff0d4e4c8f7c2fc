/* The mask rules of SPEC section 2, the one C place they live (the CPU reference, the host-side
 * tile planner and `vkattn mask` use them). shaders/mask.glsl is the GLSL twin: keep them equal. */
#ifndef VKATTN_MASK_H
#define VKATTN_MASK_H

#include <stdbool.h>
#include <stdint.h>

#include "vkattn/vkattn.h"

/* The mask of one batch item: lengths, diagonal offset and window. */
typedef struct mask_rule {
    int64_t ql, kl;   /* valid query rows and keys */
    int64_t off;      /* diagonal offset: kl - ql (bottom-right) or 0 (top-left) */
    bool causal, window;
    int64_t wl, wr;   /* window sides, -1 = unbounded */
} mask_rule;

/* The rule for batch item b (q_lens/kv_lens may be NULL when the problem has none). */
mask_rule vkattn__mask_rule_for(const vkattn_problem *p, const uint32_t *q_lens, const uint32_t *kv_lens,
                        uint32_t b);

/* Conditions 1-3 of SPEC section 2 (the custom mask is applied by the caller). */
static inline bool mask_visible(const mask_rule *r, int64_t i, int64_t j)
{
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

/* Keys that any row of [i0, i1) may see, as the half-open range [*j0, *j1); empty (j0 >= j1)
 * when the rows see nothing. Exact for conditions 1-3: the bounds are monotonic in i, so the
 * first row gives the lower and the last row the upper bound. */
void vkattn__mask_key_range(const mask_rule *r, int64_t i0, int64_t i1, int64_t *j0, int64_t *j1);

/* Number of visible (i, j) pairs of one batch item under conditions 1-3. */
uint64_t vkattn__mask_visible_pairs(const mask_rule *r);

#endif
