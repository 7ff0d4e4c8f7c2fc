/* The CPU reference split by (batch, head) pair: vkattn_reference_heads over disjoint ranges, in
 * any order, and the tool's ref_parallel on several threads give exactly vkattn_reference's
 * bits; a range past B * Hq is refused naming first and count, and refused calls write nothing.
 * Also run under ThreadSanitizer (scripts/test-sanitizers.sh). */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref_threads.h"
#include "rng.h"
#include "src/half.h"
#include "vkattn/vkattn.h"

/* Sizes that are not multiples of any tile; B * Hq = 8 pairs. */
enum { B = 2, HQ = 4, HKV = 2, SQ = 37, SKV = 53, D = 40, PAIRS = B * HQ };
#define SENTINEL 0xa5 /* every byte of out and lse before a run */

typedef struct fixture {
    vkattn_problem p;
    void *q, *k, *v, *out, *want; /* want: one vkattn_reference call */
    float lse[PAIRS * SQ], want_lse[PAIRS * SQ];
    uint8_t mask[B * HQ * SQ * SKV];
    uint32_t q_lens[B], kv_lens[B];
    size_t out_bytes;
    vkattn_host_tensors t;        /* writes into out and lse */
} fixture;

static fixture f;

/* N(0,1) data of the problem's dtype. */
static void *random_tensor(rng *g, uint64_t n, vkattn_dtype dt)
{
    float *x = malloc(n * sizeof *x);
    ck_assert_ptr_nonnull(x);
    rng_fill_normal(g, x, n);
    if (dt == VKATTN_DTYPE_F32)
        return x;
    uint16_t *h = malloc(n * sizeof *h);
    ck_assert_ptr_nonnull(h);
    for (uint64_t i = 0; i < n; ++i)
        h[i] = float_to_half(x[i]);
    free(x);
    return h;
}

/* Every mask kind at once (causal, window, custom mask per batch item and head, lengths) and
 * LSE, so that each pair has rows of its own to get right; fills want and want_lse. */
static void setup(vkattn_dtype dt)
{
    memset(&f, 0, sizeof f);
    f.p = (vkattn_problem){.batch = B, .heads_q = HQ, .heads_kv = HKV, .seq_q = SQ,
                           .seq_kv = SKV, .head_dim = D, .dtype = dt, .causal = true,
                           .window = true, .window_left = 30, .window_right = -1,
                           .has_lse = true, .has_q_lens = true, .has_kv_lens = true,
                           .mask_batch = B, .mask_heads = HQ};
    f.q_lens[0] = SQ;
    f.q_lens[1] = 29;
    f.kv_lens[0] = 41;
    f.kv_lens[1] = SKV;
    rng g;
    rng_seed(&g, 7);
    f.q = random_tensor(&g, vkattn_problem_extent(&f.p, 'q'), dt);
    f.k = random_tensor(&g, vkattn_problem_extent(&f.p, 'k'), dt);
    f.v = random_tensor(&g, vkattn_problem_extent(&f.p, 'v'), dt);
    for (size_t i = 0; i < sizeof f.mask; ++i)
        f.mask[i] = rng_below(&g, 4) != 0;
    f.out_bytes = vkattn_problem_extent(&f.p, 'o') * (dt == VKATTN_DTYPE_F16 ? 2 : 4);
    f.out = malloc(f.out_bytes);
    f.want = malloc(f.out_bytes);
    ck_assert(f.out && f.want);
    f.t = (vkattn_host_tensors){.q = f.q, .k = f.k, .v = f.v, .out = f.want, .lse = f.want_lse,
                                .q_lens = f.q_lens, .kv_lens = f.kv_lens, .mask = f.mask};
    char msg[256];
    ck_assert_msg(vkattn_reference(&f.p, &f.t, msg, sizeof msg) == VKATTN_SUCCESS, "%s", msg);
    f.t.out = f.out;
    f.t.lse = f.lse;
    memset(f.out, SENTINEL, f.out_bytes);
    memset(f.lse, SENTINEL, sizeof f.lse);
}

static void teardown(void)
{
    free(f.q);
    free(f.k);
    free(f.v);
    free(f.out);
    free(f.want);
}

/* Whether pair's rows of out and lse (dense BHSD: contiguous) are the reference's bits (done) or
 * still all sentinel (not done). */
static void expect_pair(uint32_t pair, bool done)
{
    const size_t ob = f.out_bytes / PAIRS, lb = sizeof f.lse / PAIRS;
    const unsigned char *o = (const unsigned char *)f.out + pair * ob;
    const unsigned char *l = (const unsigned char *)f.lse + pair * lb;
    if (done) {
        ck_assert_msg(memcmp(o, (const unsigned char *)f.want + pair * ob, ob) == 0,
                      "pair %" PRIu32 ": O differs from vkattn_reference", pair);
        ck_assert_msg(memcmp(l, (const unsigned char *)f.want_lse + pair * lb, lb) == 0,
                      "pair %" PRIu32 ": LSE differs from vkattn_reference", pair);
        return;
    }
    for (size_t i = 0; i < ob; ++i)
        ck_assert_msg(o[i] == SENTINEL, "pair %" PRIu32 ": O byte %zu written", pair, i);
    for (size_t i = 0; i < lb; ++i)
        ck_assert_msg(l[i] == SENTINEL, "pair %" PRIu32 ": LSE byte %zu written", pair, i);
}

static void expect_pairs(uint32_t done_mask)
{
    for (uint32_t pair = 0; pair < PAIRS; ++pair)
        expect_pair(pair, (done_mask >> pair) & 1u);
}

/* Disjoint ranges covering all pairs, in an order that is neither forward nor backward, with an
 * empty range among them; after each, exactly the pairs run so far are written. */
START_TEST(heads_ranges_equal_whole)
{
    setup(_i ? VKATTN_DTYPE_F16 : VKATTN_DTYPE_F32);
    static const uint32_t ranges[][2] = {{5, 2}, {0, 1}, {3, 0}, {7, 1}, {1, 4}};
    uint32_t done = 0;
    char msg[256];
    for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; ++r) {
        const uint32_t first = ranges[r][0], count = ranges[r][1];
        ck_assert_msg(vkattn_reference_heads(&f.p, &f.t, first, count, msg, sizeof msg) ==
                      VKATTN_SUCCESS, "[%" PRIu32 ", +%" PRIu32 "): %s", first, count, msg);
        done |= ((1u << count) - 1u) << first;
        expect_pairs(done);
    }
    ck_assert_uint_eq(done, (1u << PAIRS) - 1u);
    teardown();
}
END_TEST

START_TEST(heads_out_of_range)
{
    setup(VKATTN_DTYPE_F32);
    static const uint32_t bad[][2] = {{8, 1}, {7, 2}, {0, 9}, {9, 0}, {UINT32_MAX, 2}};
    for (size_t r = 0; r < sizeof bad / sizeof bad[0]; ++r) {
        char msg[256] = "";
        ck_assert_int_eq(vkattn_reference_heads(&f.p, &f.t, bad[r][0], bad[r][1], msg,
                                                sizeof msg), VKATTN_ERROR_INVALID_ARGUMENT);
        ck_assert_msg(strstr(msg, "first") && strstr(msg, "count") && strstr(msg, "= 8"),
                      "message \"%s\" names neither the range nor B * Hq = 8", msg);
        expect_pairs(0);
    }
    /* Otherwise the checks are vkattn_reference's, with its message. */
    f.kv_lens[1] = SKV + 1;
    char want[256], got[256];
    ck_assert_int_eq(vkattn_reference(&f.p, &f.t, want, sizeof want),
                     VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(vkattn_reference_heads(&f.p, &f.t, 0, 1, got, sizeof got),
                     VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_str_eq(got, want);
    expect_pairs(0);
    ck_assert_int_eq(vkattn_reference_heads(NULL, &f.t, 0, 0, NULL, 0),
                     VKATTN_ERROR_INVALID_ARGUMENT);
    teardown();
}
END_TEST

/* 3 threads over 8 pairs (uneven shares), every CPU, and more threads than pairs. */
START_TEST(parallel_equals_reference)
{
    setup(_i ? VKATTN_DTYPE_F16 : VKATTN_DTYPE_F32);
    static const unsigned threads[] = {3, 0, 1, 100};
    ck_assert_uint_eq(ref_threads(&f.p, 3), 3);
    ck_assert_uint_ge(ref_threads(&f.p, 0), 1);
    ck_assert_uint_eq(ref_threads(&f.p, 100), PAIRS);
    for (size_t i = 0; i < sizeof threads / sizeof threads[0]; ++i) {
        char msg[256];
        memset(f.out, SENTINEL, f.out_bytes);
        memset(f.lse, SENTINEL, sizeof f.lse);
        ck_assert_msg(ref_parallel(&f.p, &f.t, threads[i], msg, sizeof msg) == VKATTN_SUCCESS,
                      "%u threads: %s", threads[i], msg);
        ck_assert_str_eq(msg, "");
        expect_pairs((1u << PAIRS) - 1u);
    }
    teardown();
}
END_TEST

/* Invalid input: vkattn_reference's result and message, and no thread writes anything. */
START_TEST(parallel_refuses_like_reference)
{
    setup(VKATTN_DTYPE_F32);
    f.q_lens[0] = SQ + 1;
    char want[256], got[256] = "";
    ck_assert_int_eq(vkattn_reference(&f.p, &f.t, want, sizeof want),
                     VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(ref_parallel(&f.p, &f.t, 3, got, sizeof got), VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_str_eq(got, want);
    f.q_lens[0] = SQ;
    f.t.k = NULL;
    ck_assert_int_eq(vkattn_reference(&f.p, &f.t, want, sizeof want),
                     VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(ref_parallel(&f.p, &f.t, 3, got, sizeof got), VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_str_eq(got, want);
    expect_pairs(0);
    teardown();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ref_threads");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, heads_ranges_equal_whole, 0, 2); /* f32, f16 */
    tcase_add_test(tc, heads_out_of_range);
    tcase_add_loop_test(tc, parallel_equals_reference, 0, 2);
    tcase_add_test(tc, parallel_refuses_like_reference);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
