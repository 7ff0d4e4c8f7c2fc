/* vkattn-soak: thousands of vkattn_attention calls with varied small problems in one process, to
 * show leaks (host memory, Vulkan objects backed by host memory) as growth of the resident set.
 *
 *   vkattn-soak [--calls N] [--warmup N] [--every N] [--max-growth-mib X] [--seed S]
 *
 * One context on the default device. Problems come from a fixed-seed RNG: dtype, head size (a
 * few distinct values, all of them used in the first calls), batch, GQA groups, lengths, causal /
 * window / alignment, q_lens / kv_lens, custom masks, softcap, LSE, BSHD layout. Every 50th call
 * is an invalid problem that must be rejected with VKATTN_ERROR_INVALID_ARGUMENT, so leaks on
 * error paths show too. The calls after the warm-up replay its problems, in turn: every pipeline
 * and every buffer size they need exists by then, so what grows is what leaks. (Drawing new
 * problems there made a pipeline first compiled after the warm-up, whose compiler memory the
 * process keeps, look like a leak: +6 MiB in CI with an empty shader cache.)
 *
 * RSS (/proc/self/statm) and the C heap in use (glibc's mallinfo2) are sampled at the end of the
 * warm-up and every --every calls after it. Exit status: 0 when the growth of both from the
 * warm-up's end to the last call is at most --max-growth-mib (default 4), 1 when it is more, 2
 * when a call failed. */
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "rng.h"
#include "src/half.h"
#include "vkattn/vkattn.h"

enum { MAX_B = 3, MAX_HQ = 6, MAX_S = 64, MAX_D = 256 };
#define MAX_ELEMS ((size_t)MAX_B * MAX_HQ * MAX_S * MAX_D)

static const uint32_t head_dims[] = {1, 7, 32, 64, 80, 128, 256};
#define NDIMS (sizeof head_dims / sizeof head_dims[0])

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Resident set size in bytes (second field of /proc/self/statm, in pages); 0 if unreadable. */
static uint64_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    unsigned long size = 0, resident = 0;
    int n = fscanf(f, "%lu %lu", &size, &resident);
    fclose(f);
    return n == 2 ? (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

/* Bytes the C heap has handed out and not taken back (malloc'd blocks and mmapped chunks); 0
 * without glibc. A leak shows here even when freed heap pages, still resident after the
 * compiler's peak, absorb it and the RSS does not move. */
static uint64_t heap_bytes(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    struct mallinfo2 mi = mallinfo2();
    return (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd;
#else
    return 0;
#endif
}

static double mib(uint64_t bytes)
{
    return (double)bytes / (1024.0 * 1024.0);
}

static int parse_u32(const char *flag, const char *text, uint32_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long v = text ? strtoul(text, &end, 10) : 0;
    if (!text || errno || end == text || *end || v > UINT32_MAX) {
        fprintf(stderr, "vkattn-soak: %s: expected a non-negative integer, got '%s'\n", flag,
                text ? text : "");
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

/* A valid random problem (lengths in ql / kl, start offsets in qs / ks, mask bytes, sinks and
 * slopes in the shared buffers). */
static void draw_problem(rng *g, uint32_t call, vkattn_problem *p, uint32_t *ql, uint32_t *kl,
                         uint32_t *qs, uint32_t *ks)
{
    memset(p, 0, sizeof *p);
    /* The first calls visit every (dtype, head size) so pipelines are made during warm-up. */
    if (call < 2 * NDIMS) {
        p->dtype = call % 2 ? VKATTN_DTYPE_F16 : VKATTN_DTYPE_F32;
        p->head_dim = head_dims[call / 2];
    } else {
        p->dtype = rng_below(g, 2) ? VKATTN_DTYPE_F16 : VKATTN_DTYPE_F32;
        p->head_dim = head_dims[rng_below(g, NDIMS)];
    }
    p->batch = 1 + rng_below(g, MAX_B);
    p->heads_kv = 1 + rng_below(g, 2);
    p->heads_q = p->heads_kv * (1 + rng_below(g, MAX_HQ / 2));
    p->seq_q = 1 + rng_below(g, p->head_dim >= 128 ? 24 : MAX_S);
    p->seq_kv = 1 + rng_below(g, MAX_S);
    p->causal = rng_below(g, 2);
    p->align = rng_below(g, 2) ? VKATTN_ALIGN_TOP_LEFT : VKATTN_ALIGN_BOTTOM_RIGHT;
    if (rng_below(g, 3) == 0) {
        p->window = true;
        p->window_left = (int32_t)rng_below(g, 20) - 1;
        p->window_right = (int32_t)rng_below(g, 20) - 1;
    }
    if (rng_below(g, 4) == 0)
        p->softcap = 5.0f + (float)rng_below(g, 30);
    if (rng_below(g, 4) == 0)
        p->scale = 0.05f + (float)rng_uniform(g);
    p->has_lse = rng_below(g, 2);
    p->has_q_lens = rng_below(g, 3) == 0;
    p->has_kv_lens = rng_below(g, 3) == 0;
    for (uint32_t b = 0; b < p->batch; ++b) {
        ql[b] = rng_below(g, p->seq_q + 1);
        kl[b] = rng_below(g, p->seq_kv + 1);
    }
    p->has_q_start = rng_below(g, 4) == 0;
    p->has_kv_start = rng_below(g, 4) == 0;
    for (uint32_t b = 0; b < p->batch; ++b) {
        qs[b] = rng_below(g, p->seq_q - (p->has_q_lens ? ql[b] : 0) + 1);
        ks[b] = rng_below(g, p->seq_kv - (p->has_kv_lens ? kl[b] : 0) + 1);
    }
    p->has_sinks = rng_below(g, 4) == 0;
    p->alibi = (vkattn_alibi)(rng_below(g, 4) == 0 ? 1 + rng_below(g, 2) : 0);
    if (rng_below(g, 5) == 0) {
        p->mask_batch = rng_below(g, 2) ? p->batch : 1;
        p->mask_heads = rng_below(g, 2) ? p->heads_q : 1;
    }
    if (rng_below(g, 3) == 0) {
        p->q = vkattn_strides_bshd(p->heads_q, p->seq_q, p->head_dim);
        p->out = p->q;
        p->k = vkattn_strides_bshd(p->heads_kv, p->seq_kv, p->head_dim);
        p->v = p->k;
    }
}

/* Turns a valid problem into one of several invalid ones. Returns a word for messages. */
static const char *spoil(rng *g, vkattn_problem *p, uint32_t *ql, uint32_t *kl)
{
    switch (rng_below(g, 6)) {
    case 0:
        p->head_dim = 577 + rng_below(g, 100);
        return "head_dim";
    case 1:
        p->heads_kv = 2;
        p->heads_q = 3;
        return "heads";
    case 2:
        p->has_kv_lens = true;
        kl[0] = p->seq_kv + 1 + rng_below(g, 5);
        return "kv_lens past Skv";
    case 3:
        p->has_q_lens = true;
        ql[0] = p->seq_q + 1;
        return "q_lens past Sq";
    case 4:
        p->window = true;
        p->window_left = -2;
        return "window";
    default:
        p->softcap = -1.0f;
        return "softcap";
    }
}

int main(int argc, char **argv)
{
    uint32_t calls = 2000, warmup = 200, every = 200, max_growth_mib = 4, seed = 1;
    for (int a = 1; a < argc; ++a) {
        const char *f = argv[a], *val = a + 1 < argc ? argv[a + 1] : NULL;
        uint32_t *dst = !strcmp(f, "--calls")            ? &calls
                        : !strcmp(f, "--warmup")         ? &warmup
                        : !strcmp(f, "--every")          ? &every
                        : !strcmp(f, "--max-growth-mib") ? &max_growth_mib
                        : !strcmp(f, "--seed")           ? &seed
                                                         : NULL;
        if (!strcmp(f, "--help") || !strcmp(f, "-h")) {
            printf("usage: vkattn-soak [--calls N] [--warmup N] [--every N] "
                   "[--max-growth-mib X] [--seed S]\n");
            return 0;
        }
        if (!dst) {
            fprintf(stderr, "vkattn-soak: unknown option '%s'\n", f);
            return 2;
        }
        if (parse_u32(f, val, dst))
            return 2;
        ++a;
    }
    if (every == 0)
        every = 1;
    if (warmup >= calls)
        warmup = calls / 2;
    if (warmup == 0)
        warmup = 1;

    vkattn_context ctx = NULL;
    char cmsg[256] = "";
    vkattn_context_desc desc = {0};
    desc.message = cmsg;
    desc.message_size = sizeof cmsg;
    vkattn_result r = vkattn_context_create(&desc, &ctx);
    if (r != VKATTN_SUCCESS) {
        fprintf(stderr, "vkattn-soak: no context: %s: %s\n", vkattn_result_string(r), cmsg);
        return 2;
    }
    vkattn_device_info info;
    vkattn_context_device_info(ctx, &info);
    printf("soak: %u calls on %s (%s), warm-up %u, sample every %u, seed %u\n", calls, info.name,
           vkattn_context_is_cpu(ctx) ? "cpu" : "vulkan", warmup, every, seed);

    /* Inputs are filled once (the values do not matter for leaks); outputs are reused. */
    float *q = malloc(MAX_ELEMS * 4), *k = malloc(MAX_ELEMS * 4), *v = malloc(MAX_ELEMS * 4);
    float *o = malloc(MAX_ELEMS * 4), *lse = malloc((size_t)MAX_B * MAX_HQ * MAX_S * 4);
    uint16_t *qh = malloc(MAX_ELEMS * 2), *kh = malloc(MAX_ELEMS * 2), *vh = malloc(MAX_ELEMS * 2);
    uint8_t *mask = malloc((size_t)MAX_B * MAX_HQ * MAX_S * MAX_S + 4);
    if (!q || !k || !v || !o || !lse || !qh || !kh || !vh || !mask) {
        fprintf(stderr, "vkattn-soak: out of memory\n");
        return 2;
    }
    rng g, pg; /* the tensors', the problems' (restarted every warmup calls) */
    rng_seed(&g, seed);
    rng_fill_normal(&g, q, MAX_ELEMS);
    rng_fill_normal(&g, k, MAX_ELEMS);
    rng_fill_normal(&g, v, MAX_ELEMS);
    for (size_t e = 0; e < MAX_ELEMS; ++e) {
        qh[e] = float_to_half(q[e]);
        kh[e] = float_to_half(k[e]);
        vh[e] = float_to_half(v[e]);
    }
    for (size_t e = 0; e < (size_t)MAX_B * MAX_HQ * MAX_S * MAX_S + 4; ++e)
        mask[e] = rng_below(&g, 4) != 0;
    float logits[MAX_B * MAX_HQ]; /* ALiBi slopes (the sinks are q's first values) */
    for (size_t e = 0; e < MAX_B * MAX_HQ; ++e)
        logits[e] = (float)rng_uniform(&g) * 0.5f;

    uint32_t invalid = 0, unsupported = 0, ok = 0;
    uint64_t rss_start = 0, rss_last = 0, heap_start = 0, heap_last = 0;
    double t0 = now_s(), t_warm = t0;
    int status = 0;
    for (uint32_t call = 0; call < calls; ++call) {
        vkattn_problem p;
        uint32_t ql[MAX_B], kl[MAX_B], qs[MAX_B], ks[MAX_B];
        const uint32_t c = call % warmup; /* after the warm-up, its problems again */
        if (c == 0)
            rng_seed(&pg, seed + 1);
        draw_problem(&pg, c, &p, ql, kl, qs, ks);
        const bool bad = c % 50 == 49;
        const char *what = bad ? spoil(&pg, &p, ql, kl) : NULL;
        const bool f16 = p.dtype == VKATTN_DTYPE_F16;
        vkattn_host_tensors t = {
            .q = f16 ? (const void *)qh : q, .k = f16 ? (const void *)kh : k,
            .v = f16 ? (const void *)vh : v, .out = o, .lse = p.has_lse ? lse : NULL,
            .q_lens = p.has_q_lens ? ql : NULL, .kv_lens = p.has_kv_lens ? kl : NULL,
            .mask = p.mask_batch ? mask : NULL, .q_start = p.has_q_start ? qs : NULL,
            .kv_start = p.has_kv_start ? ks : NULL, .sinks = p.has_sinks ? q : NULL,
            .alibi = p.alibi ? logits : NULL,
        };
        r = vkattn_attention(ctx, &p, &t);
        if (bad) {
            if (r != VKATTN_ERROR_INVALID_ARGUMENT) {
                fprintf(stderr, "vkattn-soak: call %u: invalid problem (%s) gave %s\n", call,
                        what, vkattn_result_string(r));
                status = 2;
                break;
            }
            ++invalid;
        } else if (r == VKATTN_ERROR_UNSUPPORTED && p.dtype == VKATTN_DTYPE_F16) {
            ++unsupported;
        } else if (r != VKATTN_SUCCESS) {
            fprintf(stderr, "vkattn-soak: call %u (B%u Hq%u Hkv%u Sq%u Skv%u D%u %s): %s: %s\n",
                    call, p.batch, p.heads_q, p.heads_kv, p.seq_q, p.seq_kv, p.head_dim,
                    p.dtype ? "f16" : "f32", vkattn_result_string(r), vkattn_context_message(ctx));
            status = 2;
            break;
        } else {
            ++ok;
        }
        const uint32_t done = call + 1;
        if (done == warmup) {
            rss_start = rss_last = rss_bytes();
            heap_start = heap_last = heap_bytes();
            t_warm = now_s();
            printf("calls %6u  rss %8.2f MiB  heap %8.2f MiB  (warm-up done, %.1f s)\n", done,
                   mib(rss_start), mib(heap_start), t_warm - t0);
            fflush(stdout);
        } else if (done > warmup && ((done - warmup) % every == 0 || done == calls)) {
            rss_last = rss_bytes();
            heap_last = heap_bytes();
            printf("calls %6u  rss %8.2f MiB  %+8.2f MiB  heap %+8.2f MiB  (%.1f s)\n", done,
                   mib(rss_last), mib(rss_last) - mib(rss_start),
                   mib(heap_last) - mib(heap_start), now_s() - t0);
            fflush(stdout);
        }
    }
    const double t1 = now_s();
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    vkattn_context_destroy(ctx);
    free(q);
    free(k);
    free(v);
    free(o);
    free(lse);
    free(qh);
    free(kh);
    free(vh);
    free(mask);
    if (status)
        return status;

    const double growth = mib(rss_last) - mib(rss_start);
    printf("soak: %u calls in %.1f s (%u ok, %u invalid rejected, %u f16 unsupported); "
           "%.1f calls/s after warm-up\n", calls, t1 - t0, ok, invalid, unsupported,
           calls > warmup ? (calls - warmup) / (t1 - t_warm) : 0.0);
    printf("soak: RSS after warm-up %.2f MiB, final %.2f MiB, growth %+.2f MiB (limit %u MiB); "
           "peak %.2f MiB\n", mib(rss_start), mib(rss_last), growth, max_growth_mib,
           (double)ru.ru_maxrss / 1024.0);
    const double heap_growth = mib(heap_last) - mib(heap_start);
    printf("soak: heap in use after warm-up %.2f MiB, final %.2f MiB, growth %+.2f MiB "
           "(limit %u MiB)\n", mib(heap_start), mib(heap_last), heap_growth, max_growth_mib);
    if (growth > (double)max_growth_mib || heap_growth > (double)max_growth_mib) {
        printf("soak: FAIL: %s grew by more than %u MiB\n",
               growth > (double)max_growth_mib ? "resident memory" : "the heap in use",
               max_growth_mib);
        return 1;
    }
    printf("soak: ok\n");
    return 0;
}
