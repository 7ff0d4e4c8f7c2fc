/* The verification harness: a matrix of attention problems run on a context and compared with
 * the CPU reference. Shared by `vkattn test` and the GPU unit test. */
#ifndef VKATTN_TOOL_HARNESS_H
#define VKATTN_TOOL_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vkattn/vkattn.h"

#define HARNESS_MAX_BATCH 8

typedef struct harness_case {
    char name[96];
    vkattn_problem p;                        /* strides are set from bshd below */
    bool bshd;                               /* BSHD layout for Q, K, V and O */
    uint32_t q_lens[HARNESS_MAX_BATCH];      /* used when p.has_q_lens */
    uint32_t kv_lens[HARNESS_MAX_BATCH];     /* used when p.has_kv_lens */
    uint32_t q_start[HARNESS_MAX_BATCH];     /* used when p.has_q_start */
    uint32_t kv_start[HARNESS_MAX_BATCH];    /* used when p.has_kv_start */
    uint32_t cu_q[HARNESS_MAX_BATCH + 1];    /* used when p.packed: cu_seqlens_q */
    uint32_t cu_kv[HARNESS_MAX_BATCH + 1];   /* and cu_seqlens_kv */
    /* p.has_sinks: sinks drawn from N(0, 4); p.alibi: ALiBi's standard slopes 2^(-8 (h+1) / Hq),
     * per batch item scaled by (b + 1) / B */
    float magnitude;                         /* Q and K are drawn from N(0, magnitude^2) */
    uint64_t seed;
} harness_case;

typedef struct harness_result {
    double max_err;     /* max |O - O_ref| */
    double lse_err;     /* max |LSE - LSE_ref| over finite reference values */
    double bound;       /* the bound max_err is held to */
    bool pass;
    bool unsupported;   /* the device cannot run the case (VKATTN_ERROR_UNSUPPORTED: a tensor
                           past its buffer range): a skip */
    char why[320];      /* for a failure or a skip: what went wrong */
} harness_result;

/* The matrix; quick gives a short subset. Returns the number of cases; *out is malloc'd. */
size_t harness_cases(bool quick, harness_case **out);

/* The problem harness_run runs for c: its strides set from the layout. */
vkattn_problem harness_problem(const harness_case *c);

/* Fills the case's tensors, runs it on ctx and on the CPU reference (ref_parallel, on every
 * online CPU) and compares them: O within SPEC's bound (looser for scores in the thousands, where
 * f32 rounding of the scores dominates), LSE within 1e-3 relative, and exact 0 / -inf where the
 * reference row sees no key. Returns 0 when it ran (r says pass or fail), -1 when the case could
 * not run (r->why says why; r->unsupported when the device cannot run it). */
int harness_run(vkattn_context ctx, const harness_case *c, harness_result *r);

#endif
