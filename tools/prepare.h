/* Pipelines made before the work that needs them, on every core (vkattn_prepare from threads of
 * the tool's own: the library starts none). */
#ifndef VKATTN_TOOL_PREPARE_H
#define VKATTN_TOOL_PREPARE_H

#include <stddef.h>

#include "vkattn/vkattn.h"

/* Prepares the n problems on ctx (K/V bound with kv_flags) from as many threads as there are
 * online CPUs (at most n), each taking the next problem not yet taken, and shows "compiling
 * pipelines i/n" on stderr while it runs when stderr is a terminal. A problem that fails is left
 * for the call that runs it to report. */
void tool_prepare(vkattn_context ctx, const vkattn_problem *problems, size_t n, uint32_t kv_flags);

#endif
