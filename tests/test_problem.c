/* Problem validation, defaults, extents and length checks (src/problem.c). */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/problem.h"

static vkattn_problem good(void)
{
    vkattn_problem p = {.batch = 2, .heads_q = 4, .heads_kv = 2, .seq_q = 5, .seq_kv = 7,
                        .head_dim = 64};
    return p;
}

static void expect_ok(const vkattn_problem *p)
{
    char msg[256] = "junk";
    vkattn_result r = vkattn_problem_check(p, msg, sizeof msg);
    ck_assert_msg(r == VKATTN_SUCCESS, "rejected: %s", msg);
    ck_assert_str_eq(msg, "");
}

static void expect_bad(const vkattn_problem *p, const char *field, int line)
{
    char msg[256] = "";
    vkattn_result r = vkattn_problem_check(p, msg, sizeof msg);
    ck_assert_msg(r == VKATTN_ERROR_INVALID_ARGUMENT, "line %d: accepted (%s)", line, field);
    ck_assert_msg(strstr(msg, field) != NULL, "line %d: message \"%s\" lacks \"%s\"", line, msg,
                  field);
    ck_assert_uint_eq(vkattn_problem_extent(p, 'q'), 0);
}

/* BAD(statement, "field"): the good problem changed by statement is rejected naming field. */
#define BAD(stmt, field)                                                                           \
    do {                                                                                           \
        vkattn_problem p = good();                                                                 \
        stmt;                                                                                      \
        expect_bad(&p, field, __LINE__);                                                           \
    } while (0)

START_TEST(accepts_good)
{
    vkattn_problem p = good();
    expect_ok(&p);
    p.heads_kv = 0;
    expect_ok(&p);
    p.heads_kv = 1;
    p.dtype = VKATTN_DTYPE_F16;
    p.causal = true;
    p.align = VKATTN_ALIGN_TOP_LEFT;
    p.window = true;
    p.window_left = -1;
    p.window_right = 0;
    p.scale = 0.5f;
    p.softcap = 30.0f;
    p.mask_batch = 1;
    p.mask_heads = 4;
    p.has_lse = true;
    expect_ok(&p);
    p.mask_batch = 2;
    p.mask_heads = 1;
    expect_ok(&p);

    /* Layouts: BSHD, padded rows, broadcast (stride 0) inputs. */
    p = good();
    p.q = p.out = vkattn_strides_bshd(4, 5, 64);
    p.k = p.v = vkattn_strides_bshd(2, 7, 64);
    expect_ok(&p);
    p.out.s = 64 * 4 + 16;
    p.out.b = p.out.s * 5;
    p.k.b = 0;
    expect_ok(&p);

    /* Window sides only matter when the window is on. */
    p = good();
    p.window_left = -7;
    expect_ok(&p);
    p = good();
    p.head_dim = 256;
    p.seq_q = p.seq_kv = 1;
    p.batch = p.heads_q = p.heads_kv = 1;
    expect_ok(&p);
    ck_assert_int_eq(vkattn_problem_check(&p, NULL, 0), VKATTN_SUCCESS);
}
END_TEST

START_TEST(rejects_each_field)
{
    BAD(p.batch = 0, "batch");
    BAD(p.heads_q = 0, "heads_q");
    BAD(p.seq_q = 0, "seq_q");
    BAD(p.seq_kv = 0, "seq_kv");
    BAD(p.head_dim = 0, "head_dim");
    BAD(p.head_dim = 577, "head_dim = 577: expected 1..576");
    BAD(p.head_dim_v = 513, "head_dim_v = 513: expected 1..512");
    BAD(p.head_dim = 520, "head_dim_v = 0 (head_dim = 520)");
    BAD(p.heads_kv = 3, "heads_kv = 3");
    BAD(p.heads_kv = 8, "heads_kv");
    BAD(p.dtype = (vkattn_dtype)7, "dtype = 7");
    BAD(p.align = (vkattn_align)5, "align = 5");
    BAD((p.window = true, p.window_left = -2), "window_left = -2");
    BAD((p.window = true, p.window_right = -5), "window_right = -5");
    BAD(p.scale = -1.0f, "scale");
    BAD(p.scale = NAN, "scale");
    BAD(p.scale = INFINITY, "scale");
    BAD(p.softcap = -1.0f, "softcap");
    BAD(p.softcap = NAN, "softcap");
    BAD(p.softcap = INFINITY, "softcap");
    BAD((p.mask_batch = 3, p.mask_heads = 1), "mask_batch = 3");
    BAD((p.mask_batch = 1, p.mask_heads = 3), "mask_heads = 3");
    BAD((p.mask_batch = 1, p.mask_heads = 0), "mask_heads");
    BAD((p.mask_batch = 0, p.mask_heads = 4), "mask_batch");
    /* O overlapping itself: rows closer than D, a zero stride, two dims on one stride. */
    BAD(p.out = ((vkattn_strides){.b = 4 * 5 * 64, .h = 5 * 64, .s = 32}), "out.s = 32");
    BAD(p.out = ((vkattn_strides){.b = 0, .h = 5 * 64, .s = 64}), "out.b = 0");
    BAD(p.out = ((vkattn_strides){.b = 4 * 5 * 64, .h = 64, .s = 64}), "out.");
    BAD(p.out = ((vkattn_strides){.b = 4 * 5 * 64, .h = 64 * 4, .s = 64 * 3}), "out.");
    /* 32-bit indexing and 64-bit overflow. */
    BAD((p.seq_kv = 1u << 24, p.head_dim = 256), "k spans");
    BAD(p.v.b = UINT64_MAX / 2, "v spans");
    BAD((p.seq_q = p.seq_kv = 70000, p.head_dim = 8, p.mask_batch = p.mask_heads = 1), "mask");
    BAD((p.batch = 65536, p.heads_q = p.heads_kv = 256, p.seq_q = 256, p.head_dim = 1,
         p.seq_kv = 1),
        "spans");
    BAD(p.out = ((vkattn_strides){.b = UINT64_MAX, .h = 5 * 64, .s = 64}), "out.b");

    char msg[64] = "junk";
    ck_assert_int_eq(vkattn_problem_check(NULL, msg, sizeof msg), VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(msg, "problem"));
    ck_assert_uint_eq(vkattn_problem_extent(NULL, 'q'), 0);
}
END_TEST

START_TEST(messages)
{
    vkattn_problem p = good();
    p.head_dim = 600;
    ck_assert_int_eq(vkattn_problem_check(&p, NULL, 0), VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(vkattn_problem_check(&p, NULL, 100), VKATTN_ERROR_INVALID_ARGUMENT);
    char msg[10];
    memset(msg, 'x', sizeof msg);
    vkattn_problem_check(&p, msg, 0); /* size 0: untouched */
    ck_assert_int_eq(msg[0], 'x');
    vkattn_problem_check(&p, msg, 1);
    ck_assert_int_eq(msg[0], '\0');
    vkattn_problem_check(&p, msg, sizeof msg);
    ck_assert_str_eq(msg, "head_dim ");

    char buf[32];
    ck_assert_int_eq(vkattn__problem_fail(buf, sizeof buf, "x = %d", 3), VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_str_eq(buf, "x = 3");
    vkattn__problem_format(buf, sizeof buf, "%s", "");
    ck_assert_str_eq(buf, "");
    vkattn__problem_format(NULL, 5, "%d", 1);
}
END_TEST

START_TEST(extents)
{
    vkattn_problem p = good(); /* B 2, Hq 4, Hkv 2, Sq 5, Skv 7, D 64 */
    ck_assert_uint_eq(vkattn_problem_extent(&p, 'q'), 2 * 4 * 5 * 64);
    ck_assert_uint_eq(vkattn_problem_extent(&p, 'o'), 2 * 4 * 5 * 64);
    ck_assert_uint_eq(vkattn_problem_extent(&p, 'k'), 2 * 2 * 7 * 64);
    ck_assert_uint_eq(vkattn_problem_extent(&p, 'v'), 2 * 2 * 7 * 64);
    ck_assert_uint_eq(vkattn_problem_extent(&p, 'l'), 2 * 4 * 5);
    ck_assert_uint_eq(vkattn_problem_extent(&p, 'm'), 0);
    ck_assert_uint_eq(vkattn_problem_extent(&p, 'x'), 0);
    p.mask_batch = 1;
    p.mask_heads = 4;
    ck_assert_uint_eq(vkattn_problem_extent(&p, 'm'), 4 * 5 * 7);

    vkattn_strides s = vkattn_strides_bshd(4, 5, 64);
    ck_assert_uint_eq(s.b, 5 * 4 * 64);
    ck_assert_uint_eq(s.h, 64);
    ck_assert_uint_eq(s.s, 4 * 64);
    p = good();
    p.q = p.out = s;
    p.k = p.v = vkattn_strides_bshd(2, 7, 64);
    ck_assert_uint_eq(vkattn_problem_extent(&p, 'q'), 2 * 4 * 5 * 64);
    ck_assert_uint_eq(vkattn_problem_extent(&p, 'k'), 2 * 2 * 7 * 64);

    /* Padded rows: the last row ends D after its start, not a full stride. */
    p = good();
    p.q = (vkattn_strides){.b = 4 * 5 * 80, .h = 5 * 80, .s = 80};
    ck_assert_uint_eq(vkattn_problem_extent(&p, 'q'), 1 * 1600 + 3 * 400 + 4 * 80 + 64);
    p.k.b = 0; /* broadcast over batch; h and s zero still mean "given", not default */
    p.k.h = 7 * 64;
    p.k.s = 64;
    ck_assert_uint_eq(vkattn_problem_extent(&p, 'k'), 2 * 7 * 64);
}
END_TEST

START_TEST(resolved_defaults)
{
    vkattn_problem p = good();
    p.heads_kv = 0;
    vkattn_problem r = vkattn__problem_resolved(&p);
    ck_assert_uint_eq(r.heads_kv, 4);
    ck_assert_uint_eq(r.q.b, 4 * 5 * 64);
    ck_assert_uint_eq(r.q.h, 5 * 64);
    ck_assert_uint_eq(r.q.s, 64);
    ck_assert_uint_eq(r.k.b, 4 * 7 * 64);
    ck_assert_uint_eq(r.v.h, 7 * 64);
    ck_assert_uint_eq(r.out.b, r.q.b);
    ck_assert_float_eq(r.scale, 0.125f);

    p = good();
    p.scale = 2.0f;
    p.k = vkattn_strides_bshd(2, 7, 64);
    r = vkattn__problem_resolved(&p);
    ck_assert_uint_eq(r.heads_kv, 2);
    ck_assert_uint_eq(r.k.s, 128);
    ck_assert_uint_eq(r.v.s, 64);
    ck_assert_uint_eq(r.k.b, 2 * 7 * 64);
    ck_assert_float_eq(r.scale, 2.0f);
}
END_TEST

START_TEST(lens)
{
    vkattn_problem p = good();
    p.seq_q = 8;
    const uint32_t ok_q[2] = {8, 0}, bad_q[2] = {3, 9}, ok_kv[2] = {7, 7}, bad_kv[2] = {8, 1};
    char msg[160];
    vkattn__seq_arrays a = {ok_q, ok_kv, NULL, NULL, NULL, NULL};
    ck_assert_int_eq(vkattn__problem_check_seqs(&p, &a, msg, sizeof msg), VKATTN_SUCCESS);
    a = (vkattn__seq_arrays){0};
    ck_assert_int_eq(vkattn__problem_check_seqs(&p, &a, msg, sizeof msg), VKATTN_SUCCESS);
    a.q_lens = bad_q;
    ck_assert_int_eq(vkattn__problem_check_seqs(&p, &a, msg, sizeof msg),
                     VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_str_eq(msg, "q_lens[1] = 9: larger than seq_q = 8");
    a = (vkattn__seq_arrays){ok_q, bad_kv, NULL, NULL, NULL, NULL};
    ck_assert_int_eq(vkattn__problem_check_seqs(&p, &a, msg, sizeof msg),
                     VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_str_eq(msg, "kv_lens[0] = 8: larger than seq_kv = 7");

    /* Start offsets: within the sequence, and with their length too. */
    const uint32_t st_ok[2] = {0, 8}, st_far[2] = {9, 0}, st_len[2] = {1, 0};
    a = (vkattn__seq_arrays){ok_q, NULL, st_ok, NULL, NULL, NULL};
    ck_assert_int_eq(vkattn__problem_check_seqs(&p, &a, msg, sizeof msg), VKATTN_SUCCESS);
    a = (vkattn__seq_arrays){NULL, NULL, st_far, NULL, NULL, NULL};
    ck_assert_int_eq(vkattn__problem_check_seqs(&p, &a, msg, sizeof msg),
                     VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_str_eq(msg, "q_start[0] = 9: larger than seq_q = 8");
    a = (vkattn__seq_arrays){ok_q, NULL, st_len, NULL, NULL, NULL};
    ck_assert_int_eq(vkattn__problem_check_seqs(&p, &a, msg, sizeof msg),
                     VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_str_eq(msg, "q_start[0] + q_lens[0] = 1 + 8: past seq_q = 8");
    a = (vkattn__seq_arrays){NULL, ok_kv, NULL, st_len, NULL, NULL};
    ck_assert_int_eq(vkattn__problem_check_seqs(&p, &a, msg, sizeof msg),
                     VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_str_eq(msg, "kv_start[0] + kv_lens[0] = 1 + 7: past seq_kv = 7");
}
END_TEST

START_TEST(packed)
{
    /* SPEC 2.1: [T, H, D] tensors, LSE [Hq, Tq], cu_seqlens from 0 to the totals. */
    vkattn_problem p = good(); /* B 2, Hq 4, Hkv 2, "Sq" 5 -> Tq, "Skv" 7 -> Tk, D 64 */
    p.packed = true;
    expect_ok(&p);
    vkattn_problem r = vkattn__problem_resolved(&p);
    ck_assert_uint_eq(r.q.b, 0);
    ck_assert_uint_eq(r.q.h, 64);
    ck_assert_uint_eq(r.q.s, 4 * 64);
    ck_assert_uint_eq(r.k.s, 2 * 64);
    ck_assert_uint_eq(r.out.s, 4 * 64);
    ck_assert_uint_eq(vkattn__tensor_batch(&p), 1);
    ck_assert_uint_eq(vkattn_problem_extent(&p, 'q'), 5 * 4 * 64);
    ck_assert_uint_eq(vkattn_problem_extent(&p, 'v'), 7 * 2 * 64);
    ck_assert_uint_eq(vkattn_problem_extent(&p, 'l'), 4 * 5);

    /* Nothing that has its own rows or batch dimension goes with it. */
    const char *fields[] = {"has_q_lens", "has_kv_lens", "has_q_start", "has_kv_start",
                            "mask_batch", "page_size", "q.b", "out.b"};
    for (int f = 0; f < 8; f++) {
        p = good();
        p.packed = true;
        switch (f) {
        case 0: p.has_q_lens = true; break;
        case 1: p.has_kv_lens = true; break;
        case 2: p.has_q_start = true; break;
        case 3: p.has_kv_start = true; break;
        case 4: p.mask_batch = p.mask_heads = 1; break;
        case 5: p.page_size = 16, p.num_pages = 4; break;
        case 6: p.q = (vkattn_strides){320, 64, 256}; break;
        default: p.out = (vkattn_strides){320, 64, 256}; break;
        }
        expect_bad(&p, fields[f], __LINE__);
    }

    p = good();
    p.packed = true;
    char msg[200];
    const uint32_t ok_q[3] = {0, 5, 5}, ok_kv[3] = {0, 3, 7};
    vkattn__seq_arrays a = {.cu_q = ok_q, .cu_kv = ok_kv};
    ck_assert_int_eq(vkattn__problem_check_seqs(&p, &a, msg, sizeof msg), VKATTN_SUCCESS);
    const uint32_t first[3] = {1, 5, 5}, down[3] = {0, 4, 3}, last[3] = {0, 3, 6};
    a.cu_kv = first;
    ck_assert_int_eq(vkattn__problem_check_seqs(&p, &a, msg, sizeof msg),
                     VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_str_eq(msg, "cu_seqlens_kv[0] = 1: expected 0");
    a.cu_kv = ok_kv;
    a.cu_q = down;
    ck_assert_int_eq(vkattn__problem_check_seqs(&p, &a, msg, sizeof msg),
                     VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_str_eq(msg, "cu_seqlens_q[2] = 3: less than cu_seqlens_q[1] = 4 (expected "
                          "non-decreasing)");
    a.cu_q = ok_q;
    a.cu_kv = last;
    ck_assert_int_eq(vkattn__problem_check_seqs(&p, &a, msg, sizeof msg),
                     VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_str_eq(msg, "cu_seqlens_kv[2] = 6: expected seq_kv = 7 (the last entry is the "
                          "token count)");

    /* The host tensors name the missing arrays. */
    float x[4 * 5 * 64] = {0};
    vkattn_host_tensors t = {.q = x, .k = x, .v = x, .out = x, .cu_seqlens_q = ok_q};
    ck_assert_str_eq(vkattn__host_tensors_missing(&p, &t), "cu_seqlens_kv");
}
END_TEST

START_TEST(head_dim_v)
{
    /* SPEC 1: V and O have their own head size Dv (MLA: D 576, Dv 512). */
    vkattn_problem p = good(); /* B 2, Hq 4, Hkv 2, Sq 5, Skv 7 */
    p.head_dim = 576;
    p.head_dim_v = 512;
    expect_ok(&p);
    ck_assert_uint_eq(vkattn_problem_extent(&p, 'q'), 2 * 4 * 5 * 576);
    ck_assert_uint_eq(vkattn_problem_extent(&p, 'k'), 2 * 2 * 7 * 576);
    ck_assert_uint_eq(vkattn_problem_extent(&p, 'v'), 2 * 2 * 7 * 512);
    ck_assert_uint_eq(vkattn_problem_extent(&p, 'o'), 2 * 4 * 5 * 512);
    vkattn_problem r = vkattn__problem_resolved(&p);
    ck_assert_uint_eq(r.head_dim_v, 512);
    ck_assert_uint_eq(r.v.s, 512);
    ck_assert_uint_eq(r.out.h, 5 * 512);
    ck_assert_uint_eq(r.k.s, 576);
    ck_assert(vkattn__wide_heads(&p));
    /* O's rows hold Dv: a row stride below it overlaps. */
    p.out = (vkattn_strides){4 * 5 * 512, 5 * 512, 511};
    expect_bad(&p, "out.s = 511", __LINE__);
    /* Packed and paged layouts take Dv for V and O too. */
    p = good();
    p.head_dim = 32;
    p.head_dim_v = 16;
    p.packed = true;
    r = vkattn__problem_resolved(&p);
    ck_assert_uint_eq(r.v.s, 2 * 16);
    ck_assert_uint_eq(r.out.s, 4 * 16);
    ck_assert_uint_eq(r.q.s, 4 * 32);
    p = good();
    p.head_dim = 32;
    p.head_dim_v = 16;
    p.page_size = 16;
    p.num_pages = 3;
    expect_ok(&p);
    r = vkattn__problem_resolved(&p);
    ck_assert_uint_eq(r.v.b, 16 * 2 * 16);
    ck_assert_uint_eq(r.k.b, 16 * 2 * 32);
    ck_assert_uint_eq(vkattn_problem_extent(&p, 'v'), 3 * 16 * 2 * 16);
    p = good();
    p.head_dim_v = 64; /* = D: not wide */
    ck_assert(!vkattn__wide_heads(&p));
}
END_TEST

START_TEST(new_fields)
{
    vkattn_problem p = good();
    char msg[160];
    p.heads_q = 65536;
    p.heads_kv = 1;
    ck_assert_int_eq(vkattn_problem_check(&p, msg, sizeof msg), VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_str_eq(msg, "heads_q = 65536: expected at most 65535");
    p = good();
    p.alibi = (vkattn_alibi)3;
    ck_assert_int_eq(vkattn_problem_check(&p, msg, sizeof msg), VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(msg, "alibi = 3"));
    p.alibi = VKATTN_ALIBI_BATCH_HEADS;
    ck_assert_int_eq(vkattn_problem_check(&p, msg, sizeof msg), VKATTN_SUCCESS);
    ck_assert_uint_eq(vkattn__problem_alibi_count(&p), (uint64_t)p.batch * p.heads_q);

    /* Non-finite sinks and slopes are named. */
    float sinks[64] = {0}, slopes[512] = {0};
    p.has_sinks = true;
    sinks[1] = NAN;
    ck_assert_int_eq(vkattn__problem_check_logits(&p, sinks, slopes, msg, sizeof msg),
                     VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_str_eq(msg, "sinks[1] = nan: expected finite");
    sinks[1] = 0;
    slopes[p.batch * p.heads_q - 1] = INFINITY;
    ck_assert_int_eq(vkattn__problem_check_logits(&p, sinks, slopes, msg, sizeof msg),
                     VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(msg, "alibi["));
}
END_TEST

START_TEST(reference_rejects)
{
    vkattn_problem p = {.batch = 2, .heads_q = 1, .seq_q = 4, .seq_kv = 3, .head_dim = 2,
                        .has_q_lens = true, .has_kv_lens = true, .has_lse = true};
    float q[16] = {0}, k[12] = {0}, v[12] = {0}, out[16], lse[8];
    uint32_t q_lens[2] = {4, 5}, kv_lens[2] = {3, 3};
    for (int i = 0; i < 16; i++)
        out[i] = 42.0f;
    for (int i = 0; i < 8; i++)
        lse[i] = 42.0f;
    vkattn_host_tensors t = {.q = q, .k = k, .v = v, .out = out, .lse = lse, .q_lens = q_lens,
                             .kv_lens = kv_lens};
    char msg[128];
    ck_assert_int_eq(vkattn_reference(&p, &t, msg, sizeof msg), VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_str_eq(msg, "q_lens[1] = 5: larger than seq_q = 4");
    q_lens[1] = 4;
    kv_lens[0] = 4;
    ck_assert_int_eq(vkattn_reference(&p, &t, msg, sizeof msg), VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(msg, "kv_lens[0]"));
    for (int i = 0; i < 16; i++)
        ck_assert_float_eq(out[i], 42.0f);
    for (int i = 0; i < 8; i++)
        ck_assert_float_eq(lse[i], 42.0f);
    kv_lens[0] = 3;

    /* Missing pointers are named. */
    t.lse = NULL;
    ck_assert_int_eq(vkattn_reference(&p, &t, msg, sizeof msg), VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(msg, "lse"));
    t.lse = lse;
    t.k = NULL;
    ck_assert_int_eq(vkattn_reference(&p, &t, msg, sizeof msg), VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(msg, "tensors.k"));
    t.k = k;
    t.q_lens = NULL;
    ck_assert_int_eq(vkattn_reference(&p, &t, msg, sizeof msg), VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(msg, "q_lens"));
    t.q_lens = q_lens;
    p.mask_batch = p.mask_heads = 1;
    ck_assert_int_eq(vkattn_reference(&p, &t, msg, sizeof msg), VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(msg, "mask"));
    p.mask_batch = p.mask_heads = 0;
    ck_assert_int_eq(vkattn_reference(&p, NULL, msg, sizeof msg), VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(msg, "tensors"));
    ck_assert_int_eq(vkattn_reference(NULL, &t, msg, sizeof msg), VKATTN_ERROR_INVALID_ARGUMENT);

    /* out overlapping an input (would read what it just wrote). */
    t.out = q;
    ck_assert_int_eq(vkattn_reference(&p, &t, msg, sizeof msg), VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(msg, "overlaps tensors.q"));
    t.out = out;
    p.head_dim = 0;
    ck_assert_int_eq(vkattn_reference(&p, &t, msg, sizeof msg), VKATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(msg, "head_dim"));
    for (int i = 0; i < 16; i++)
        ck_assert_float_eq(out[i], 42.0f);

    p.head_dim = 2;
    ck_assert_int_eq(vkattn_reference(&p, &t, msg, sizeof msg), VKATTN_SUCCESS);
    ck_assert_float_eq(out[0], 0.0f);
}
END_TEST

static Suite *problem_suite(void)
{
    Suite *s = suite_create("problem");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, accepts_good);
    tcase_add_test(tc, rejects_each_field);
    tcase_add_test(tc, messages);
    tcase_add_test(tc, extents);
    tcase_add_test(tc, resolved_defaults);
    tcase_add_test(tc, lens);
    tcase_add_test(tc, new_fields);
    tcase_add_test(tc, packed);
    tcase_add_test(tc, head_dim_v);
    tcase_add_test(tc, reference_rejects);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(problem_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
