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

/* The cases, shared by the workers. A CPU driver compiles a pipeline at its first dispatch (and
 * caches it on disk), so two workers that start cases of one pipeline at once both compile it:
 * a case that makes new pipelines (its 'first' flag, found by preparing the cases in order) may
 * start at any time, and any other case only once every such case before it is done, by which
 * time the pipelines it uses are compiled. The workers thus compile different pipelines side by
 * side, and fill the waits with the cases those have made ready. */
typedef struct pool {
    const harness_case *cases;
    size_t n;
    const bool *runs_here;
    const bool *first;   /* the case makes pipelines that no case before it makes */
    unsigned char *state; /* per case: 0 not taken, 1 taken, 2 done */
    outcome *out;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* a case is done */
} pool;

typedef struct worker {
    pool *pool;
    vkattn_context ctx;
    unsigned *messages; /* this context's validation messages (its on_message counts there) */
    unsigned own;       /* where they are counted for the contexts made here */
    pthread_t thread;
    bool started;
} worker;

/* The next case for a worker (p->lock held): the first not taken that makes new pipelines or
 * follows only done cases that do; n when none is left; n + 1 when the rest must wait. */
static size_t pick(const pool *p)
{
    bool left = false, ready = true; /* ready: every first case so far is done */
    for (size_t i = 0; i < p->n; ++i) {
        if (!p->runs_here[i])
            continue;
        if (p->state[i] == 0) {
            left = true;
            if (p->first[i] || ready)
                return i;
        }
        if (p->first[i] && p->state[i] != 2)
            ready = false;
    }
    return left ? p->n + 1 : p->n;
}

static void *run_cases(void *arg)
{
    worker *w = arg;
    pool *p = w->pool;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        size_t i;
        while ((i = pick(p)) == p->n + 1)
            pthread_cond_wait(&p->cond, &p->lock);
        if (i < p->n)
            p->state[i] = 1;
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

/* first[i] for the cases that run here: whether case i is the first to need one of its
 * pipelines; problems[] holds those cases' problems in order. From the plans alone (nothing is
 * compiled here: the workers compile at once). */
static void find_first_cases(vkattn_context ctx, const vkattn_problem *problems,
                             const bool *runs_here, size_t n, bool *first)
{
    vkattn_plan *seen = malloc(n * sizeof *seen);
    size_t n_seen = 0;
    for (size_t i = 0, k = 0; i < n; ++i) {
        if (!runs_here[i])
            continue;
        vkattn_plan plan;
        first[i] = true; /* without a plan (never for a checked case): as if new */
        if (vkattn_problem_plan(ctx, &problems[k++], VKATTN_BUFFER_TEXEL, &plan) != VKATTN_SUCCESS)
            continue;
        for (size_t j = 0; j < n_seen && first[i]; ++j)
            first[i] = !same_pipelines(&seen[j], &plan);
        if (first[i] && seen)
            seen[n_seen++] = plan;
    }
    free(seen);
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
        else if (cli_is(&c, "--validation"))
            rc = cli_switch(&c), desc.validation = true;
        else if (cli_is(&c, "--device"))
            rc = cli_parse_device(&c, cli_value(&c), &desc);
        else if (cli_is(&c, "--kernel"))
            rc = cli_parse_kernel(&c, cli_value(&c), &desc);
        else if (cli_is(&c, "--parts"))
            rc = cli_parse_parts(&c, cli_value(&c), &desc);
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
    bool *first = calloc(n ? n : 1, sizeof *first);
    unsigned char *state = calloc(n ? n : 1, 1);
    if (!runs_here || !problems || !out || !first || !state) {
        free(runs_here), free(problems), free(out), free(first), free(state), free(cases);
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
    if (want > 1)
        find_first_cases(ctx, problems, runs_here, n, first);
    else
        tool_prepare(ctx, problems, np, VKATTN_BUFFER_TEXEL);
    free(problems);

    pool pl = {.cases = cases, .n = n, .runs_here = runs_here, .first = first, .state = state,
               .out = out,
               .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    worker w[MAX_WORKERS] = {{.pool = &pl, .ctx = ctx, .messages = &messages}};
    size_t nw = 1;
    while (nw < want) {
        w[nw] = (worker){.pool = &pl};
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
                    first[i] ? " (compiling its pipelines)" : "");
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
    free(first);
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
