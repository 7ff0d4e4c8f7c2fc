/* vkattn test: the verification harness on one device (SPEC section 4). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "harness.h"
#include "prepare.h"

#define MAX_WORKERS 8

/* A case's result, written by the worker that ran it. */
typedef struct outcome {
    harness_result r;
    int ran;           /* harness_run's return */
    unsigned messages; /* validation messages during the case */
    bool done;
} outcome;

/* The cases, shared by the workers. A CPU driver compiles a pipeline at its first dispatch, for
 * the device it runs on: the cases that share a pipeline (a group, from their plans: the first
 * case of the group is its leader) run on one worker, the one that took the leader, once the
 * leader is done. Leaders start, costliest first, on whichever worker is free, so the workers
 * compile different pipelines side by side and each pipeline once. */
typedef struct pool {
    const harness_case *cases;
    size_t n;
    const bool *runs_here;
    const size_t *leader; /* per case: the first case that needs its pipelines (itself: new) */
    int *owner;           /* per leader: the worker that ran it (-1: not taken yet) */
    unsigned char *state; /* per case: 0 not taken, 1 taken, 2 done */
    outcome *out;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* a case is done */
} pool;

typedef struct worker {
    pool *pool;
    int id;
    vkattn_context ctx;
    unsigned *messages; /* this context's validation messages (its on_message counts there) */
    unsigned own;       /* where they are counted for the contexts made here */
    pthread_t thread;
    bool started;
} worker;

/* What compiling case i's pipelines costs, roughly: the widest head size, four times that where
 * the rows are not whole 16-byte words (element loads: D 255 took 32 s cold, D 256 4 s), twice
 * for bf16. */
static unsigned compile_weight(const vkattn_problem *p)
{
    const unsigned d = p->head_dim_v > p->head_dim ? p->head_dim_v : p->head_dim;
    const unsigned epw = p->dtype == VKATTN_DTYPE_F16 ? 8 : 4;
    return d * (p->head_dim % epw ? 4 : 1) * (p->dtype == VKATTN_DTYPE_BF16 ? 2 : 1);
}

/* The next case for worker id (p->lock held): one of a group this worker leads whose leader is
 * done (cheap: its pipelines are made), else the costliest leader not taken (the longest
 * compiles start first, so that none is left alone at the end); n when none is left; n + 1
 * when the rest must wait. */
static size_t pick(const pool *p, int id)
{
    bool left = false;
    size_t best = p->n;
    for (size_t i = 0; i < p->n; ++i) {
        if (!p->runs_here[i] || p->state[i] != 0)
            continue;
        left = true;
        const size_t g = p->leader[i];
        if (g != i && p->state[g] == 2 && p->owner[g] == id)
            return i;
        if (g == i && (best == p->n ||
                       compile_weight(&p->cases[i].p) > compile_weight(&p->cases[best].p)))
            best = i;
    }
    return best < p->n ? best : left ? p->n + 1 : p->n;
}

static void *run_cases(void *arg)
{
    worker *w = arg;
    pool *p = w->pool;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        size_t i;
        while ((i = pick(p, w->id)) == p->n + 1)
            pthread_cond_wait(&p->cond, &p->lock);
        if (i < p->n) {
            p->state[i] = 1;
            if (p->leader[i] == i)
                p->owner[i] = w->id;
        }
        pthread_mutex_unlock(&p->lock);
        if (i == p->n)
            return NULL;
        outcome o = {0};
        const unsigned before = *w->messages;
        o.ran = harness_run(w->ctx, &p->cases[i], &o.r);
        o.messages = *w->messages - before;
        o.done = true;
        pthread_mutex_lock(&p->lock);
        p->out[i] = o;
        p->state[i] = 2;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
    }
}

/* Whether two plans run the same pipelines. */
static bool same_pipelines(const vkattn_plan *a, const vkattn_plan *b)
{
    return strcmp(a->module, b->module) == 0 && a->constant_count == b->constant_count &&
           memcmp(a->constants, b->constants, a->constant_count * sizeof a->constants[0]) == 0 &&
           (a->merge_module == NULL) == (b->merge_module == NULL);
}

/* leader[i] for the cases that run here: the first case that needs the same pipelines as case
 * i (i itself when none before it does); problems[] holds those cases' problems in order. From
 * the plans alone: nothing is compiled here, the workers compile at once. */
static void find_leaders(vkattn_context ctx, const vkattn_problem *problems,
                         const bool *runs_here, size_t n, size_t *leader)
{
    vkattn_plan *plans = malloc((n ? n : 1) * sizeof *plans);
    size_t *at = malloc((n ? n : 1) * sizeof *at); /* the case of each plan kept */
    size_t kept = 0;
    for (size_t i = 0, k = 0; i < n; ++i) {
        leader[i] = i;
        if (!runs_here[i])
            continue;
        vkattn_plan plan; /* without a plan (never for a checked case): a group of its own */
        if (vkattn_problem_plan(ctx, &problems[k++], VKATTN_BUFFER_TEXEL, &plan) != VKATTN_SUCCESS)
            continue;
        size_t j = 0;
        while (j < kept && !same_pipelines(&plans[j], &plan))
            ++j;
        if (j < kept) {
            leader[i] = at[j];
        } else if (plans && at) {
            plans[kept] = plan;
            at[kept++] = i;
        }
    }
    free(plans);
    free(at);
}

static int usage(void)
{
    printf("usage: vkattn test [--quick] [--device N|cpu] [--validation] [--filter TEXT]\n"
           "                   [--kernel auto|rowwise|tiled|split-kv|coopmat] [--parts N] [--tuning FILE]\n"
           "Runs a matrix of attention problems on the device and compares each with the CPU\n"
           "reference: one line per case, then 'N passed, N failed'. Exit 1 if any failed.\n"
           "--validation enables VK_LAYER_KHRONOS_validation (when installed); any message fails.\n"
           "--parts N (1, 2, 4, 8) makes N invocations share each key in the split-KV kernel\n"
           "(where the device and head size allow; default: chosen per device).\n"
           "--tuning FILE runs with the kernel shapes of a vkattn tune file (this device's lines).\n");
    return 0;
}

int cmd_test(int argc, char **argv)
{
    cli c;
    cli_init(&c, "test", argc, argv);
    vkattn_context_desc desc = {0};
    bool quick = false;
    const char *filter = NULL, *tuning = NULL;
    unsigned messages = 0;
    int rc;
    while ((rc = cli_next(&c)) == 1) {
        if (cli_is(&c, "--help"))
            return usage();
        else if (cli_is(&c, "--quick"))
            rc = cli_switch(&c), quick = true;
        else if ((rc = cli_context_option(&c, &desc)) != 0)
            rc = rc < 0 ? -1 : 0;
        else if (cli_is(&c, "--tuning"))
            rc = (tuning = cli_value(&c)) ? 0 : -1;
        else if (cli_is(&c, "--filter"))
            rc = (filter = cli_value(&c)) ? 0 : -1;
        else
            rc = cli_unknown(&c);
        if (rc < 0)
            return 2;
    }
    if (rc < 0)
        return 2;
    desc.on_message = cli_count_message;
    desc.user = &messages;
    char msg[512];
    desc.message = msg;
    desc.message_size = sizeof msg;
    vkattn_context ctx;
    vkattn_result res = vkattn_context_create(&desc, &ctx);
    if (res != VKATTN_SUCCESS) {
        cli_error("test", "cannot open the device: %s%s%s", vkattn_result_string(res),
                  msg[0] ? ": " : "", msg);
        return res == VKATTN_ERROR_NO_DEVICE || res == VKATTN_ERROR_INVALID_ARGUMENT ? 2 : 1;
    }
    if (tuning && cli_load_tuning("test", ctx, tuning)) {
        vkattn_context_destroy(ctx);
        return 2;
    }
    vkattn_device_info info;
    vkattn_context_device_info(ctx, &info);
    printf("device: %s (%s)\n", info.name, info.driver);

    harness_case *cases;
    size_t n = harness_cases(quick, &cases);
    /* The cases to run: the filter's, and with a forced coopmat kernel the f16 problems
     * without paging or forced splits (the others would run another kernel, which is not what
     * was asked to be tested: reported as skips). */
    bool *runs_here = calloc(n ? n : 1, sizeof *runs_here);
    vkattn_problem *problems = malloc((n ? n : 1) * sizeof *problems);
    outcome *out = calloc(n ? n : 1, sizeof *out);
    size_t *leader = calloc(n ? n : 1, sizeof *leader);
    int *owner = calloc(n ? n : 1, sizeof *owner);
    unsigned char *state = calloc(n ? n : 1, 1);
    if (!runs_here || !problems || !out || !leader || !owner || !state) {
        free(runs_here), free(problems), free(out), free(leader), free(owner), free(state);
        free(cases);
        vkattn_context_destroy(ctx);
        cli_error("test", "out of memory");
        return 1;
    }
    size_t np = 0;
    for (size_t i = 0; i < n; ++i) {
        if (filter && !strstr(cases[i].name, filter))
            continue;
        vkattn_kernel runs = VKATTN_KERNEL_AUTO;
        runs_here[i] = !(desc.kernel == VKATTN_KERNEL_COOPMAT &&
                         vkattn_problem_kernel(ctx, &cases[i].p, &runs, NULL) == VKATTN_SUCCESS &&
                         runs != VKATTN_KERNEL_COOPMAT);
        if (runs_here[i])
            problems[np++] = harness_problem(&cases[i]);
    }
    /* The cases run on one context per core where the device is lavapipe-like (a CPU
     * driver), each context its own VkDevice: such a driver compiles a pipeline's code at its
     * first dispatch, on the queue's one thread, so only several devices compile at once. The
     * lines still come in case order. (Not with --tuning: its lines go to the first context.)
     * Elsewhere every pipeline is made first, on every core (the harness binds K/V as
     * texel-capable buffers, through vkattn_attention). */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t want = info.type == VK_PHYSICAL_DEVICE_TYPE_CPU && !tuning && cpus > 1
                      ? (cpus > MAX_WORKERS ? MAX_WORKERS : (size_t)cpus) : 1;
    for (size_t i = 0; i < n; ++i) {
        leader[i] = i;
        owner[i] = -1;
    }
    if (want > 1)
        find_leaders(ctx, problems, runs_here, n, leader);
    else
        tool_prepare(ctx, problems, np, VKATTN_BUFFER_TEXEL);
    free(problems);

    pool pl = {.cases = cases, .n = n, .runs_here = runs_here, .leader = leader, .owner = owner, .state = state,
               .out = out,
               .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    worker w[MAX_WORKERS] = {{.pool = &pl, .id = 0, .ctx = ctx, .messages = &messages}};
    size_t nw = 1;
    while (nw < want) {
        w[nw] = (worker){.pool = &pl, .id = (int)nw};
        w[nw].messages = &w[nw].own;
        vkattn_context_desc d = desc;
        d.user = w[nw].messages;
        d.message = NULL;
        d.message_size = 0;
        if (vkattn_context_create(&d, &w[nw].ctx) != VKATTN_SUCCESS)
            break;
        ++nw;
    }
    size_t started = 0;
    for (size_t k = 0; k < nw; ++k)
        if (pthread_create(&w[k].thread, NULL, run_cases, &w[k]) == 0)
            w[k].started = true, ++started;
    if (started == 0) /* no thread: this one runs them */
        run_cases(&w[0]);

    const bool progress = isatty(2);
    unsigned passed = 0, failed = 0, skipped = 0;
    size_t done = 0;
    for (size_t i = 0; i < n; ++i) {
        if (filter && !strstr(cases[i].name, filter))
            continue;
        if (!runs_here[i]) {
            printf("%-4s %-64s (runs another kernel: coopmat takes f16 without paging or "
                   "kv_splits)\n", "skip", cases[i].name);
            ++skipped;
            continue;
        }
        if (progress) {
            fprintf(stderr, "[%zu/%zu] %s%s ...", ++done, np, cases[i].name,
                    leader[i] == i ? " (compiling its pipelines)" : "");
            fflush(stderr);
        }
        pthread_mutex_lock(&pl.lock);
        while (!out[i].done)
            pthread_cond_wait(&pl.cond, &pl.lock);
        pthread_mutex_unlock(&pl.lock);
        if (progress)
            fprintf(stderr, "\r\033[K");
        harness_result *r = &out[i].r;
        const int ran = out[i].ran;
        const unsigned msgs = out[i].messages;
        if (ran != 0 && r->unsupported && msgs == 0) {
            printf("%-4s %-64s (%s)\n", "skip", cases[i].name, r->why);
            ++skipped;
            continue;
        }
        bool ok = ran == 0 && r->pass && msgs == 0;
        if (ran == 0 && r->pass && msgs != 0)
            snprintf(r->why, sizeof r->why, "%u validation message(s)", msgs);
        printf("%-4s %-64s max_err %.2e (bound %.1e)%s%s\n", ok ? "ok" : "FAIL", cases[i].name,
               r->max_err, r->bound, ok ? "" : "  ", ok ? "" : r->why);
        fflush(stdout);
        ok ? ++passed : ++failed;
    }
    for (size_t k = 0; k < nw; ++k) {
        if (w[k].started)
            pthread_join(w[k].thread, NULL);
        if (k > 0)
            vkattn_context_destroy(w[k].ctx);
    }
    free(cases);
    free(runs_here);
    free(out);
    free(leader);
    free(owner);
    free(state);
    vkattn_context_destroy(ctx);
    /* SPEC 4's closing line; the skips (cases this device or kernel cannot take) only where
     * there are any. */
    if (skipped)
        printf("%u passed, %u failed, %u skipped\n", passed, failed, skipped);
    else
        printf("%u passed, %u failed\n", passed, failed);
    return failed ? 1 : 0;
}
