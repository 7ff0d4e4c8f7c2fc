/* The rows of `vkattn bench` and their files (SPEC section 4): the case names of the table, the
 * JSON and CSV writers, and --compare, which reads the JSON files back and puts them side by
 * side. Writer and reader live together so that the field names cannot drift apart. */
#ifndef VKATTN_TOOL_BENCH_REPORT_H
#define VKATTN_TOOL_BENCH_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench_peak.h"
#include "vkattn/vkattn.h"

typedef struct bench_case {
    vkattn_problem p;              /* dense (BHSD unless bshd), no LSE, no custom mask */
    uint32_t *q_lens, *kv_lens;    /* p.batch values each, or NULL; malloc'd */
    uint32_t *q_start, *kv_start;  /* likewise (left padding) */
    uint32_t *cu_q, *cu_kv;        /* p.packed: cu_seqlens, p.batch + 1 values each */
    float *sinks, *alibi;          /* p.heads_q (alibi: per head) values, or NULL; malloc'd */
    char tag[32];                  /* --decode-variants: "splits=1", "no-pack", "paged64" */
    bool with_prev;                /* timed in turn with the case before it (and its group):
                                    * a variant next to its base problem */
    bool bshd;                     /* Q, K, V, O in BSHD (bench --layout bshd; paged K/V keep
                                    * the pool's layout) */
} bench_case;

typedef struct bench_row {
    size_t case_index;
    const char *variant, *device, *timer;
    double ms_median, ms_min, ms_max;
    int repeats;
    uint64_t visible_pairs;        /* per head, summed over the batch items */
    double gflops_visible, gflops_dense, gbps;
    double flop_per_byte;          /* visible FLOPs / bytes of Q, K, V and O */
    double pct_of_peak;            /* with a measured peak: bench_peak_percent */
    const char *bound;             /* "compute" or "memory"; NULL without a measured peak */
    unsigned threads;              /* CPU rows: the threads that ran it; 0 (null) on a device */
    unsigned splits;               /* key ranges the kernel ran (split-kv: more than 1 merged);
                                      0 (null) for CPU rows */
} bench_row;

/* What a run records beside its rows. */
typedef struct bench_meta {
    const vkattn_device_info *info;
    char api[32];                  /* "1.3.230" */
    char date[32];                 /* UTC, ISO 8601 */
    bool peak_asked;               /* --peak: the JSON has a "peak" object */
    const bench_peak *peak;        /* the measured peak, or NULL (not asked, or not measured) */
} bench_meta;

/* x to six significant digits: timings are not more precise than that. The rows hold such
 * values, so that the table, the JSON and the CSV show the same numbers. */
double bench_sig6(double x);

/* "B1 H32/8 S1x4096 D128 f16 causal varlen": the case column of the table. */
void bench_case_name(const bench_case *c, char *buf, size_t size);

/* The JSON document of SPEC section 4 (malloc'd text ending in a newline), or NULL when memory
 * runs out. */
char *bench_json_text(const bench_meta *m, const bench_case *cases, const bench_row *rows,
                      size_t n);

/* The CSV document (malloc'd text of *len bytes), or NULL when memory runs out: a header line
 * with the JSON row fields' names, then the run's device, driver, build and peak columns. */
char *bench_csv_text(const bench_meta *m, const bench_case *cases, const bench_row *rows,
                     size_t n, size_t *len);

/* `vkattn bench --compare`: reads the n >= 1 JSON files, matches their rows by problem and
 * prints one line per problem with the median of each file and its ratio to the first. Returns
 * the exit status: 0, or 2 (one line on stderr naming the file) for a file that cannot be read,
 * is not JSON or has not the shape of SPEC section 4. */
int bench_compare(const char *cmd, const char *const *files, int n);

#endif
