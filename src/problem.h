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

/* Checks q_lens[b] <= seq_q and kv_lens[b] <= seq_kv for every batch item; either array may be
 * NULL (not given). p must have passed vkattn_problem_check. */
vkattn_result vkattn__problem_check_lens(const vkattn_problem *p, const uint32_t *q_lens,
                                 const uint32_t *kv_lens, char *msg, size_t msg_size);

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
