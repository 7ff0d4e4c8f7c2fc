/* The CPU reference on several cores, for the tool and the tests: the library starts no threads
 * of its own (engines link it), so the tool splits the (batch, head) pairs over its threads with
 * vkattn_reference_heads. */
#ifndef VKATTN_TOOL_REF_THREADS_H
#define VKATTN_TOOL_REF_THREADS_H

#include <stddef.h>

#include "vkattn/vkattn.h"

/* The number of threads ref_parallel runs p on: threads, or the number of online CPUs for 0, but
 * no more than p has (batch, head) pairs, and at least 1. */
unsigned ref_threads(const vkattn_problem *p, unsigned threads);

/* vkattn_reference on ref_threads(p, threads) threads (the caller's among them), each taking the
 * next unclaimed (batch, head) pair until none is left; the output is bit for bit that of
 * vkattn_reference. Invalid input gives the same result and message as vkattn_reference and
 * writes nothing. Returns a vkattn_result. */
int ref_parallel(const vkattn_problem *p, const vkattn_host_tensors *t, unsigned threads,
                 char *msg, size_t msg_size);

#endif
