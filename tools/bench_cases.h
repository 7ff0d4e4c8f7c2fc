/* The problems `vkattn bench` and `vkattn tune` run: the --shape problems and the named suites,
 * the options that select them, and their host tensors. */
#ifndef VKATTN_TOOL_BENCH_CASES_H
#define VKATTN_TOOL_BENCH_CASES_H

#include "bench_report.h"
#include "cli.h"

enum {
    SUITE_QUICK = 1,
    SUITE_PREFILL = 2,
    SUITE_DECODE = 4,
    SUITE_VARLEN = 8,
    SUITE_ALL = SUITE_QUICK | SUITE_PREFILL | SUITE_DECODE | SUITE_VARLEN,
};

/* The options that choose the problems. */
typedef struct bench_selection {
    unsigned suites;               /* SUITE_* */
    vkattn_dtype dtypes[2];        /* --dtype's types, in order (--dtype f32,f16: both) */
    size_t n_dtypes;               /* 0 without --dtype: f32 (the decode suite: both) */
    uint32_t (*shapes)[7];         /* --shape B,Hq,Hkv,Sq,Skv,D[,Dv], in order (malloc'd; Dv 0
                                    * when not given) */
    size_t n_shapes;
    cli_mask_flags mask;           /* they apply to the --shape problems only */
    bool sinks, alibi;             /* --sinks, --alibi: likewise */
    cli_layout layout;             /* of the --shape problems' Q, K, V and O */
    bool layout_given;
    bool decode_variants;          /* each --shape problem also with splits=1, no-pack, paged */
    vkattn_precision precision;    /* --precision, for every problem */
} bench_selection;

/* The help lines of those options (for a command's --help). */
extern const char bench_selection_help[];

/* 1 when c's current option is one of them (parsed into s), 0 when it is not, -1 (error printed)
 * when its value is bad. */
int bench_selection_option(cli *c, bench_selection *s);

/* --warmup N (0..1000000) and --repeat N (1..1000000): 1 when c's current option is one of them
 * (parsed), 0 when it is not, -1 (error printed) on a bad value. */
int bench_timing_option(cli *c, int *warmup, int *repeat);

/* Checks after the last option (a mask flag without a --shape); -1 with the error printed. */
int bench_selection_check(const char *cmd, const bench_selection *s);

/* The problems of s, in order: the --shape problems, then the suites (quick when s names none).
 * -1 with the error printed (the cases built so far stay in *cases). */
int bench_build_cases(const char *cmd, const bench_selection *s, bench_case **cases, size_t *n);
void bench_free_cases(bench_case *cases, size_t n);

/* Bytes of the largest of Q, K, V and O (what one storage-buffer binding must span). */
uint64_t bench_largest_tensor(const vkattn_problem *p);

/* Host tensors of a problem. */
typedef struct host_data {
    void *q, *k, *v, *out;
    uint32_t *pages;   /* paged problems: the pool in reverse order */
} host_data;

/* The host tensors of case c with the data of h. */
vkattn_host_tensors bench_case_tensors(const bench_case *c, const host_data *h);

/* Q, K and V drawn from N(0, 1) (rounded to f16 for f16), O zeroed. -1 on out of memory. */
int host_make(const vkattn_problem *p, uint64_t seed, host_data *h);
void host_free(host_data *h);

/* Sorts the n > 0 timings of ms in place and returns their median. */
double bench_sort_median(double *ms, int n);

#endif
