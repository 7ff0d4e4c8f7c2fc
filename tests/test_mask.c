/* The mask rules (src/mask.c) against hand-written grids and brute force. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "src/mask.h"

static uint64_t rng_state;

static uint32_t rng_u32(void) /* splitmix64 */
{
    uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return (uint32_t)((z ^ (z >> 31)) >> 32);
}

static int64_t rng_range(int64_t lo, int64_t hi) /* inclusive */
{
    return lo + (int64_t)(rng_u32() % (uint32_t)(hi - lo + 1));
}

static mask_rule rule(int64_t ql, int64_t kl, int64_t off, bool causal, bool window, int64_t wl,
                      int64_t wr)
{
    mask_rule r = {.ql = ql, .kl = kl, .off = off, .causal = causal, .window = window,
                   .wl = wl, .wr = wr};
    return r;
}

/* rows[i][j] == '1' where query i sees key j; rows past the list and keys past each string must
 * be invisible. NULL-terminated. */
static void check_grid(const mask_rule *r, const char *const *rows)
{
    int64_t n = 0;
    for (; rows[n]; n++) {
        int64_t w = (int64_t)strlen(rows[n]);
        for (int64_t j = -1; j <= w + 1; j++) {
            bool want = j >= 0 && j < w && rows[n][j] == '1';
            ck_assert_msg(mask_visible(r, n, j) == want, "row %lld key %lld: expected %d",
                          (long long)n, (long long)j, want);
        }
    }
    for (int64_t j = -1; j < 20; j++) {
        ck_assert(!mask_visible(r, -1, j));
        ck_assert(!mask_visible(r, n, j));
    }
}

START_TEST(causal_alignments)
{
    /* ql = 3, kl = 5: bottom-right puts the last query on the last key. */
    mask_rule br = rule(3, 5, 2, true, false, -1, -1);
    check_grid(&br, (const char *const[]){"11100", "11110", "11111", NULL});
    mask_rule tl = rule(3, 5, 0, true, false, -1, -1);
    check_grid(&tl, (const char *const[]){"10000", "11000", "11100", NULL});
    /* ql = 5, kl = 3, bottom-right: the first two queries see nothing. */
    mask_rule br2 = rule(5, 3, -2, true, false, -1, -1);
    check_grid(&br2, (const char *const[]){"000", "000", "100", "110", "111", NULL});
    mask_rule tl2 = rule(5, 3, 0, true, false, -1, -1);
    check_grid(&tl2, (const char *const[]){"100", "110", "111", "111", "111", NULL});
    mask_rule none = rule(2, 3, 1, false, false, -1, -1);
    check_grid(&none, (const char *const[]){"111", "111", NULL});
}
END_TEST

START_TEST(windows)
{
    mask_rule left = rule(4, 4, 0, false, true, 1, -1); /* j >= i - 1 */
    check_grid(&left, (const char *const[]){"1111", "1111", "0111", "0011", NULL});
    mask_rule right = rule(4, 4, 0, false, true, -1, 1); /* j <= i + 1 */
    check_grid(&right, (const char *const[]){"1100", "1110", "1111", "1111", NULL});
    mask_rule both = rule(4, 6, 0, true, true, 1, 0); /* top-left causal, i - 1 <= j <= i */
    check_grid(&both, (const char *const[]){"100000", "110000", "011000", "001100", NULL});
    mask_rule open = rule(2, 3, 1, false, true, -1, -1);
    check_grid(&open, (const char *const[]){"111", "111", NULL});
    /* Bottom-right window (2, 1) with ql = 3, kl = 6: off = 3. */
    mask_rule br = rule(3, 6, 3, false, true, 2, 1);
    check_grid(&br, (const char *const[]){"011110", "001111", "000111", NULL});
    /* A window past the last key: nothing visible for the late rows. */
    mask_rule late = rule(4, 2, 0, false, true, 0, 0);
    check_grid(&late, (const char *const[]){"10", "01", "00", "00", NULL});
}
END_TEST

START_TEST(rule_from_problem)
{
    vkattn_problem p = {.batch = 2, .heads_q = 1, .seq_q = 4, .seq_kv = 5, .head_dim = 8,
                        .causal = true, .window_left = 3, .window_right = 4};
    const uint32_t ql[2] = {2, 0}, kl[2] = {3, 5};
    const vkattn__seq_arrays lens = {ql, kl, NULL, NULL, NULL, NULL}, none = {0}, kv_only = {NULL, kl, NULL, NULL, NULL, NULL};
    mask_rule r = vkattn__mask_rule_for(&p, &lens, 0);
    ck_assert_int_eq(r.ql, 2);
    ck_assert_int_eq(r.kl, 3);
    ck_assert_int_eq(r.off, 1);
    ck_assert(r.causal && !r.window);
    ck_assert_int_eq(r.wl, -1); /* window fields only count when window is set */
    ck_assert_int_eq(r.wr, -1);
    check_grid(&r, (const char *const[]){"11000", "11100", "00000", "00000", NULL});
    mask_rule r1 = vkattn__mask_rule_for(&p, &lens, 1); /* q_len 0: nothing */
    check_grid(&r1, (const char *const[]){"00000", NULL});
    ck_assert_uint_eq(vkattn__mask_visible_pairs(&r1), 0);

    p.align = VKATTN_ALIGN_TOP_LEFT;
    p.window = true;
    r = vkattn__mask_rule_for(&p, &none, 1);
    ck_assert_int_eq(r.ql, 4);
    ck_assert_int_eq(r.kl, 5);
    ck_assert_int_eq(r.off, 0);
    ck_assert(r.window && r.wl == 3 && r.wr == 4);

    p.align = VKATTN_ALIGN_BOTTOM_RIGHT;
    r = vkattn__mask_rule_for(&p, &kv_only, 0);
    ck_assert_int_eq(r.off, 3 - 4);
}
END_TEST

/* Start offsets (left padding): the rules read positions counted from the starts. */
START_TEST(starts)
{
    vkattn_problem p = {.batch = 2, .heads_q = 1, .seq_q = 4, .seq_kv = 5, .head_dim = 8,
                        .causal = true};
    const uint32_t qs[2] = {2, 0}, ks[2] = {1, 5}, kl[2] = {3, 0};
    const vkattn__seq_arrays a = {NULL, NULL, qs, ks, NULL, NULL};
    /* Item 0: queries 2..3 (ql 2), keys 1..4 (kl 4), bottom-right: off = 2. */
    mask_rule r = vkattn__mask_rule_for(&p, &a, 0);
    ck_assert_int_eq(r.q0, 2);
    ck_assert_int_eq(r.k0, 1);
    ck_assert_int_eq(r.ql, 2);
    ck_assert_int_eq(r.kl, 4);
    ck_assert_int_eq(r.off, 2);
    check_grid(&r, (const char *const[]){"00000", "00000", "01110", "01111", NULL});
    ck_assert_uint_eq(vkattn__mask_visible_pairs(&r), 7);
    int64_t j0, j1;
    vkattn__mask_key_range(&r, 0, 3, &j0, &j1);
    ck_assert_int_eq(j0, 1);
    ck_assert_int_eq(j1, 4);
    ck_assert_int_eq(mask_alibi_distance(&r, 2, 1), 2); /* p 0 + off 2 - r 0 */
    ck_assert_int_eq(mask_alibi_distance(&r, 3, 4), 0);
    /* Item 1: every key before the start (kv_start = Skv): nothing visible. */
    r = vkattn__mask_rule_for(&p, &a, 1);
    ck_assert_int_eq(r.kl, 0);
    ck_assert_uint_eq(vkattn__mask_visible_pairs(&r), 0);
    /* With lengths: keys 1..3 of item 0, and the window in positions too. */
    const vkattn__seq_arrays b = {NULL, kl, qs, ks, NULL, NULL};
    p.causal = false;
    p.window = true;
    p.window_left = 0;
    p.window_right = 0;
    r = vkattn__mask_rule_for(&p, &b, 0);
    ck_assert_int_eq(r.off, 1);
    check_grid(&r, (const char *const[]){"00000", "00000", "00100", "00010", NULL});
}
END_TEST

START_TEST(empty_keys)
{
    mask_rule r = rule(4, 0, -4, true, false, -1, -1);
    int64_t j0, j1;
    for (int64_t i = -1; i < 6; i++)
        for (int64_t j = -1; j < 6; j++)
            ck_assert(!mask_visible(&r, i, j));
    vkattn__mask_key_range(&r, 0, 4, &j0, &j1);
    ck_assert_int_ge(j0, j1);
    ck_assert_uint_eq(vkattn__mask_visible_pairs(&r), 0);
    mask_rule open = rule(3, 0, 0, false, false, -1, -1);
    vkattn__mask_key_range(&open, 0, 3, &j0, &j1);
    ck_assert_int_ge(j0, j1);
    ck_assert_uint_eq(vkattn__mask_visible_pairs(&open), 0);
}
END_TEST

static mask_rule random_rule(void)
{
    int64_t ql = rng_range(0, 12), kl = rng_range(0, 12);
    int64_t off;
    switch (rng_u32() % 3) {
    case 0: off = kl - ql; break;
    case 1: off = 0; break;
    default: off = rng_range(-14, 14); break;
    }
    int64_t wide[] = {-1, 0, 1, 2, 3, 5, 40, 2147483647};
    int64_t wl = wide[rng_u32() % 8], wr = wide[rng_u32() % 8];
    mask_rule r = rule(ql, kl, off, rng_u32() % 2, rng_u32() % 2, wl, wr);
    /* Half of them with start offsets. */
    if (rng_u32() % 2) {
        r.q0 = rng_range(0, 4);
        r.k0 = rng_range(0, 4);
    }
    return r;
}

START_TEST(key_range_brute_force)
{
    rng_state = 12345;
    for (int n = 0; n < 600; n++) {
        mask_rule r = random_rule();
        for (int64_t i0 = -2; i0 <= r.q0 + r.ql + 1; i0++)
            for (int64_t i1 = i0; i1 <= r.q0 + r.ql + 2; i1++) {
                int64_t lo = INT64_MAX, hi = INT64_MIN;
                for (int64_t i = i0; i < i1; i++)
                    for (int64_t j = -2; j <= r.k0 + r.kl + 2; j++)
                        if (mask_visible(&r, i, j)) {
                            lo = j < lo ? j : lo;
                            hi = j + 1 > hi ? j + 1 : hi;
                        }
                int64_t j0 = -99, j1 = -99;
                vkattn__mask_key_range(&r, i0, i1, &j0, &j1);
                if (lo == INT64_MAX) {
                    ck_assert_msg(j0 >= j1, "rule %d rows [%lld, %lld): expected empty, got "
                                  "[%lld, %lld)", n, (long long)i0, (long long)i1,
                                  (long long)j0, (long long)j1);
                } else {
                    ck_assert_msg(j0 == lo && j1 == hi, "rule %d (ql %lld kl %lld off %lld "
                                  "causal %d window %d %lld %lld) rows [%lld, %lld): expected "
                                  "[%lld, %lld), got [%lld, %lld)", n, (long long)r.ql,
                                  (long long)r.kl, (long long)r.off, r.causal, r.window,
                                  (long long)r.wl, (long long)r.wr, (long long)i0,
                                  (long long)i1, (long long)lo, (long long)hi, (long long)j0,
                                  (long long)j1);
                }
            }
    }
}
END_TEST

START_TEST(visible_pairs_brute_force)
{
    rng_state = 777;
    for (int n = 0; n < 2000; n++) {
        mask_rule r = random_rule();
        uint64_t want = 0;
        for (int64_t i = 0; i < r.q0 + r.ql; i++)
            for (int64_t j = 0; j < r.k0 + r.kl; j++)
                want += mask_visible(&r, i, j);
        ck_assert_uint_eq(vkattn__mask_visible_pairs(&r), want);
    }
    /* Large sizes stay O(ql): a full causal square. */
    mask_rule big = rule(100000, 100000, 0, true, false, -1, -1);
    ck_assert_uint_eq(vkattn__mask_visible_pairs(&big), UINT64_C(100000) * 100001 / 2);
}
END_TEST

/* The full-block test (kernels skip the per-element mask there) is exact: every pair of a block
 * it calls full is visible, and every block whose pairs are all visible is called full. */
START_TEST(block_full_brute_force)
{
    rng_state = 4242;
    for (int n = 0; n < 300; n++) {
        mask_rule r = random_rule();
        for (int64_t i0 = 0; i0 < r.q0 + r.ql; i0++)
            for (int64_t i1 = i0 + 1; i1 <= r.q0 + r.ql + 1; i1 += 1 + (i1 - i0) / 3)
                for (int64_t j0 = 0; j0 < r.k0 + r.kl; j0++)
                    for (int64_t j1 = j0 + 1; j1 <= r.k0 + r.kl + 1; j1 += 1 + (j1 - j0) / 3) {
                        bool all = true;
                        for (int64_t i = i0; i < i1 && all; i++)
                            for (int64_t j = j0; j < j1 && all; j++)
                                all = mask_visible(&r, i, j);
                        ck_assert_msg(mask_block_full(&r, i0, i1, j0, j1) == all,
                                      "rule %d (ql %lld kl %lld off %lld causal %d window %d "
                                      "%lld %lld) block [%lld, %lld) x [%lld, %lld): expected %d",
                                      n, (long long)r.ql, (long long)r.kl, (long long)r.off,
                                      r.causal, r.window, (long long)r.wl, (long long)r.wr,
                                      (long long)i0, (long long)i1, (long long)j0,
                                      (long long)j1, all);
                    }
    }
}
END_TEST

static Suite *mask_suite(void)
{
    Suite *s = suite_create("mask");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, causal_alignments);
    tcase_add_test(tc, windows);
    tcase_add_test(tc, rule_from_problem);
    tcase_add_test(tc, starts);
    tcase_add_test(tc, empty_keys);
    tcase_add_test(tc, key_range_brute_force);
    tcase_add_test(tc, visible_pairs_brute_force);
    tcase_add_test(tc, block_full_brute_force);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(mask_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
