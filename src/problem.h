/* Internal helpers around vkattn_problem: defaults, length checks and error messages. */
#ifndef VKATTN_PROBLEM_H
#define VKATTN_PROBLEM_H

#include <stddef.h>
#include <stdint.h>

#include "vkattn/vkattn.h"

#if defined(__GNUC__)
#define VKATTN_PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define VKATTN_PRINTF_LIKE(f, a)
#endif

/* A copy of *p with the zero-means-default fields filled in: heads_kv (0 -> heads_q), strides
 * (all zero -> dense BHSD; q and out with Hq, Sq, k and v with Hkv, Skv) and scale
 * (0 -> 1/sqrt(D)). Does not validate; call vkattn_problem_check first. */
vkattn_problem vkattn__problem_resolved(const vkattn_problem *p);

/* The per-batch u32 arrays of SPEC 2 that decide which rows and keys are valid; NULL where the
 * problem has none. */
typedef struct vkattn__seq_arrays {
    const uint32_t *q_lens, *kv_lens, *q_start, *kv_start;
    const uint32_t *cu_q, *cu_kv; /* packed batches: cu_seqlens_q / _kv, B + 1 each */
} vkattn__seq_arrays;

/* The batch dimension of the problem's tensors and grids: 1 for a packed batch (its items lie
 * along the token axis), else B. */
static inline uint32_t vkattn__tensor_batch(const vkattn_problem *p)
{
    return p->packed ? 1u : p->batch;
}

/* Bytes per element of Q, K, V and O. */
static inline uint32_t vkattn__dtype_size(vkattn_dtype dtype)
{
    return dtype == VKATTN_DTYPE_F32 ? 4 : 2;
}

/* Dv, the head size of V and O (head_dim_v, or head_dim where it is 0). */
static inline uint32_t vkattn__head_dim_v(const vkattn_problem *p)
{
    return p->head_dim_v ? p->head_dim_v : p->head_dim;
}

/* Whether the problem's head sizes need the wide tiles of attention.comp's tiled form (D above
 * 256, or Dv != D): the one form that has them. */
static inline bool vkattn__wide_heads(const vkattn_problem *p)
{
    return p->head_dim > 256 || vkattn__head_dim_v(p) != p->head_dim;
}

/* The arrays of t that the problem says are given (the others NULL). */
vkattn__seq_arrays vkattn__seq_arrays_of(const vkattn_problem *p, const vkattn_host_tensors *t);

/* Checks, for every batch item, start <= seq and start + len <= seq for queries (seq_q) and
 * keys (seq_kv), len being the given length or 0; any array may be NULL (not given). For a
 * packed problem, instead, that both cu_seqlens run non-decreasing from 0 to seq_q / seq_kv.
 * p must have passed vkattn_problem_check. */
vkattn_result vkattn__problem_check_seqs(const vkattn_problem *p, const vkattn__seq_arrays *a,
                                         char *msg, size_t msg_size);

/* Checks that the sinks and ALiBi slopes the problem has are finite (either may be NULL when
 * the problem has none). */
vkattn_result vkattn__problem_check_logits(const vkattn_problem *p, const float *sinks,
                                           const float *alibi, char *msg, size_t msg_size);

/* The name of the first pointer of t that the problem needs and that is NULL ("q", "lse", ...),
 * or NULL when none is missing. */
const char *vkattn__host_tensors_missing(const vkattn_problem *p, const vkattn_host_tensors *t);

/* Number of ALiBi slopes (Hq or B * Hq; 0 without ALiBi). */
uint64_t vkattn__problem_alibi_count(const vkattn_problem *p);

/* Checks that every page number of a paged problem's table is below num_pages. */
vkattn_result vkattn__problem_check_pages(const vkattn_problem *p, const uint32_t *table,
                                          char *msg, size_t msg_size);

/* snprintf into msg; nothing when msg is NULL or msg_size is 0, else always NUL-terminated
 * (truncated if need be). The one place messages are formatted, so they all read alike. */
void vkattn__problem_format(char *msg, size_t msg_size, const char *fmt, ...) VKATTN_PRINTF_LIKE(3, 4);

/* vkattn__problem_format, then returns VKATTN_ERROR_INVALID_ARGUMENT: `return vkattn__problem_fail(...);`. */
vkattn_result vkattn__problem_fail(char *msg, size_t msg_size, const char *fmt, ...)
    VKATTN_PRINTF_LIKE(3, 4);

#endif
