/* The CPU reference split over threads by (batch, head) pair. Pairs are handed out one at a time
 * from a shared counter rather than in fixed blocks: with per-batch lengths the pairs of one
 * batch item can cost far more than another's. Each pair is computed by the same code whatever
 * the thread, so the output does not depend on the split. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ref_threads.h"

typedef struct ref_work {
    const vkattn_problem *p;
    const vkattn_host_tensors *t;
    uint32_t pairs;             /* B * Hq */
    atomic_uint_fast32_t next;  /* the next unclaimed pair */
} ref_work;

typedef struct ref_worker {
    ref_work *work;
    pthread_t thread;
    vkattn_result res;
    char msg[256];              /* its own: the checks write msg even when they pass */
} ref_worker;

static void *ref_worker_main(void *arg)
{
    ref_worker *w = arg;
    ref_work *k = w->work;
    w->res = VKATTN_SUCCESS;
    w->msg[0] = '\0';
    /* Relaxed: the pairs share no data; joining the threads orders their writes before the
     * caller's reads. */
    for (;;) {
        uint_fast32_t i = atomic_fetch_add_explicit(&k->next, 1, memory_order_relaxed);
        if (i >= k->pairs)
            break;
        w->res = vkattn_reference_heads(k->p, k->t, (uint32_t)i, 1, w->msg, sizeof w->msg);
        if (w->res != VKATTN_SUCCESS)
            break;
    }
    return NULL;
}

unsigned ref_threads(const vkattn_problem *p, unsigned threads)
{
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (unsigned)n : 1;
    }
    const uint64_t pairs = (uint64_t)p->batch * p->heads_q;
    return pairs == 0 ? 1 : pairs < threads ? (unsigned)pairs : threads;
}

int ref_parallel(const vkattn_problem *p, const vkattn_host_tensors *t, unsigned threads,
                 char *msg, size_t msg_size)
{
    /* Checked once here, so that invalid input is reported exactly as vkattn_reference does and
     * no worker writes anything. */
    vkattn_result res = vkattn_reference_heads(p, t, 0, 0, msg, msg_size);
    if (res != VKATTN_SUCCESS)
        return res;
    ref_work work = {.p = p, .t = t, .pairs = p->batch * p->heads_q};
    atomic_init(&work.next, 0);
    unsigned n = ref_threads(p, threads);
    ref_worker *w = calloc(n, sizeof *w);
    if (!w) /* no memory for the bookkeeping: one thread needs none */
        return vkattn_reference(p, t, msg, msg_size);
    for (unsigned i = 0; i < n; ++i)
        w[i].work = &work;
    /* The caller's thread is worker 0. A thread that cannot be started leaves its share to the
     * others, so the result is the same with fewer threads. */
    unsigned started = 1;
    while (started < n && pthread_create(&w[started].thread, NULL, ref_worker_main,
                                         &w[started]) == 0)
        ++started;
    ref_worker_main(&w[0]);
    for (unsigned i = 1; i < started; ++i)
        pthread_join(w[i].thread, NULL);
    for (unsigned i = 0; i < started && res == VKATTN_SUCCESS; ++i)
        if ((res = w[i].res) != VKATTN_SUCCESS && msg)
            snprintf(msg, msg_size, "%s", w[i].msg);
    free(w);
    return res;
}
