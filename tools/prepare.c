/* tool_prepare: vkattn_prepare over a list of problems on every core. */
#include "prepare.h"

#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#define MAX_THREADS 64

typedef struct work {
    vkattn_context ctx;
    const vkattn_problem *problems;
    size_t n, next, done;
    uint32_t kv_flags;
    int progress;
    pthread_mutex_t lock;
} work;

static void *worker(void *arg)
{
    work *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->lock);
        const size_t i = w->next < w->n ? w->next++ : w->n;
        pthread_mutex_unlock(&w->lock);
        if (i == w->n)
            return NULL;
        (void)vkattn_prepare(w->ctx, &w->problems[i], 1, w->kv_flags);
        pthread_mutex_lock(&w->lock);
        ++w->done;
        if (w->progress)
            fprintf(stderr, "\rcompiling pipelines %zu/%zu", w->done, w->n);
        pthread_mutex_unlock(&w->lock);
    }
}

void tool_prepare(vkattn_context ctx, const vkattn_problem *problems, size_t n, uint32_t kv_flags)
{
    if (n == 0 || vkattn_context_is_cpu(ctx))
        return;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t threads = cpus < 1 ? 1 : cpus > MAX_THREADS ? MAX_THREADS : (size_t)cpus;
    if (threads > n)
        threads = n;
    work w = {ctx, problems, n, 0, 0, kv_flags, isatty(2), PTHREAD_MUTEX_INITIALIZER};
    pthread_t t[MAX_THREADS];
    size_t started = 0;
    /* This thread works too; where a thread cannot be started, the others take its share. */
    while (started + 1 < threads && pthread_create(&t[started], NULL, worker, &w) == 0)
        ++started;
    worker(&w);
    for (size_t i = 0; i < started; ++i)
        pthread_join(t[i], NULL);
    if (w.progress)
        fprintf(stderr, "\r\033[K");
}
