/* f16 without 16-bit storage (issue #21): a borrowed context on the same device that says
 * storageBuffer16BitAccess is not enabled runs every f16 form through the "_f16w" modules (f16
 * read as 32-bit words, O written half a word at a time), and gives bitwise the same O and LSE
 * as the 16-bit modules on the default context, for each forced kernel form and for shapes whose
 * rows start mid-word (odd head sizes), which the words' atomics must keep apart. The words
 * context must also have created word modules only, and no 16-bit one. Validation on; exits 77
 * without a Vulkan device. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_test.h"

static vkattn_context ctx;

/* A context per form, on ctx's device: [0] the device's own (16-bit storage), [1] borrowed
 * without it. */
typedef struct form {
    const char *name;
    vkattn_kernel kernel;
    uint32_t parts;
    vkattn_context c[2];
} form;

static form forms[] = {
    {"auto", VKATTN_KERNEL_AUTO, 0, {NULL, NULL}},
    {"rowwise", VKATTN_KERNEL_ROWWISE, 0, {NULL, NULL}},
    {"tiled", VKATTN_KERNEL_TILED, 0, {NULL, NULL}},
    {"split-kv", VKATTN_KERNEL_SPLIT_KV, 0, {NULL, NULL}},
    {"split-kv parts 2", VKATTN_KERNEL_SPLIT_KV, 2, {NULL, NULL}},
};
#define N_FORMS (sizeof forms / sizeof forms[0])

static vkattn_context make(const form *f, bool words)
{
    vkattn_context_desc d = {.validation = true, .on_message = vk_test_on_message};
    if (words) {
        d = vk_test_borrowed_desc(ctx);
        d.storage_16bit_enabled = false;
    }
    d.kernel = f->kernel;
    d.decode_parts = f->parts;
    vkattn_context c = NULL;
    ck_assert_int_eq(vkattn_context_create(&d, &c), VKATTN_SUCCESS);
    return c;
}

typedef struct shape {
    const char *name;
    vkattn_problem p;
    bool lens;     /* q_lens / kv_lens below the maxima */
    bool mask;     /* a custom mask (every head its own) */
    bool paged;    /* K/V in 16-key pages, the table reversed */
} shape;

#define P(...) {.dtype = VKATTN_DTYPE_F16, .has_lse = true, __VA_ARGS__}
static const shape shapes[] = {
    {"dense D64", P(.batch = 2, .heads_q = 4, .heads_kv = 2, .seq_q = 33, .seq_kv = 47,
                    .head_dim = 64), false, false, false},
    {"causal D3 (rows start mid-word)", P(.batch = 2, .heads_q = 3, .heads_kv = 1, .seq_q = 17,
                    .seq_kv = 29, .head_dim = 3, .causal = true), false, false, false},
    {"lens window D1", P(.batch = 3, .heads_q = 2, .heads_kv = 2, .seq_q = 13, .seq_kv = 21,
                    .head_dim = 1, .window = true, .window_left = 4, .window_right = 1,
                    .has_q_lens = true, .has_kv_lens = true), true, false, false},
    {"mask softcap D128", P(.batch = 1, .heads_q = 2, .heads_kv = 1, .seq_q = 9, .seq_kv = 40,
                    .head_dim = 128, .softcap = 20.0f, .mask_batch = 1, .mask_heads = 2),
                    false, true, false},
    {"decode step Skv 1500 D64", P(.batch = 2, .heads_q = 8, .heads_kv = 2, .seq_q = 1,
                    .seq_kv = 1500, .head_dim = 64, .causal = true), false, false, false},
    {"paged split D5", P(.batch = 2, .heads_q = 4, .heads_kv = 2, .seq_q = 3, .seq_kv = 70,
                    .head_dim = 5, .causal = true, .page_size = 16, .num_pages = 10,
                    .kv_splits = 3), false, false, true},
};
#define N_SHAPES (sizeof shapes / sizeof shapes[0])

typedef struct outputs {
    uint16_t *o;
    float *lse;
} outputs;

static vkattn_result run(vkattn_context c, const shape *s, outputs *out)
{
    const vkattn_problem *p = &s->p;
    const size_t nq = vkattn_problem_extent(p, 'q'), nk = vkattn_problem_extent(p, 'k');
    const size_t no = vkattn_problem_extent(p, 'o'), nl = vkattn_problem_extent(p, 'l');
    uint16_t *q = malloc(nq * 2), *k = malloc(nk * 2), *v = malloc(nk * 2);
    out->o = malloc(no * 2);
    out->lse = malloc(nl * 4);
    uint32_t ql[4], kl[4], table[2 * 5];
    uint8_t *mask = NULL;
    ck_assert(q && k && v && out->o && out->lse);
    vk_test_fill_qkv(p->dtype, 21, q, nq, k, v, nk);
    /* Patterns in the outputs, so an element left unwritten cannot match by chance. */
    memset(out->o, 0x5A, no * 2);
    memset(out->lse, 0x5A, nl * 4);
    for (uint32_t b = 0; b < p->batch && b < 4; ++b) {
        ql[b] = (p->seq_q * (b + 1)) / (p->batch + 1);
        kl[b] = p->seq_kv - 3 * b;
    }
    if (s->mask) {
        const size_t nm = vkattn_problem_extent(p, 'm');
        mask = malloc(nm);
        ck_assert_ptr_nonnull(mask);
        for (size_t i = 0; i < nm; ++i)
            mask[i] = (uint8_t)((i * 2654435761u >> 7) % 3 != 0);
    }
    if (s->paged)
        for (uint32_t i = 0; i < 2 * 5; ++i)
            table[i] = 9 - i; /* reversed: neighbouring keys far apart in the pool */
    vkattn_host_tensors t = {.q = q, .k = k, .v = v, .out = out->o, .lse = out->lse,
                             .q_lens = s->lens ? ql : NULL, .kv_lens = s->lens ? kl : NULL,
                             .mask = mask, .page_table = s->paged ? table : NULL};
    vkattn_result res = vkattn_attention(c, p, &t);
    free(q), free(k), free(v), free(mask);
    return res;
}

/* Bitwise, but any NaN matches any NaN (a NaN's payload is the driver's). */
static bool same_half(uint16_t a, uint16_t b)
{
    const bool na = (a & 0x7c00u) == 0x7c00u && (a & 0x3ffu), nb = (b & 0x7c00u) == 0x7c00u && (b & 0x3ffu);
    return na || nb ? na && nb : a == b;
}

START_TEST(words_match_16bit)
{
    const shape *s = &shapes[_i % N_SHAPES];
    form *f = &forms[_i / N_SHAPES];
    for (int w = 0; w < 2; ++w)
        if (!f->c[w])
            f->c[w] = make(f, w == 1);
    outputs a, b;
    vkattn_result ra = run(f->c[0], s, &a), rb = run(f->c[1], s, &b);
    ck_assert_msg(ra == VKATTN_SUCCESS && rb == VKATTN_SUCCESS, "%s [%s]: 16-bit %d (%s), words %d (%s)",
                  s->name, f->name, ra, vkattn_context_message(f->c[0]), rb,
                  vkattn_context_message(f->c[1]));
    const size_t no = vkattn_problem_extent(&s->p, 'o'), nl = vkattn_problem_extent(&s->p, 'l');
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < no; ++i)
        if (!same_half(a.o[i], b.o[i]) && !bad++)
            first = i;
    ck_assert_msg(bad == 0, "%s [%s]: %zu of %zu O elements differ, first %zu: 0x%04x vs 0x%04x",
                  s->name, f->name, bad, no, first, a.o[first], b.o[first]);
    ck_assert_msg(memcmp(a.lse, b.lse, nl * 4) == 0, "%s [%s]: LSE differs", s->name, f->name);
    free(a.o), free(a.lse), free(b.o), free(b.lse);
}
END_TEST

/* What the words contexts compiled: "_f16w" modules, never a 16-bit one (which the device
 * without the feature could not run), and the 16-bit contexts the reverse. */
START_TEST(words_contexts_use_word_modules)
{
    unsigned words = 0;
    for (size_t i = 0; i < N_FORMS; ++i)
        for (int w = 0; w < 2; ++w) {
            if (!forms[i].c[w])
                continue;
            const char *names[64];
            uint32_t n = vkattn_context_pipelines(forms[i].c[w], names, 64);
            ck_assert_uint_le(n, 64);
            ck_assert_uint_gt(n, 0);
            for (uint32_t j = 0; j < n; ++j) {
                const size_t len = strlen(names[j]);
                const bool is_words = len > 5 && strcmp(names[j] + len - 5, "_f16w") == 0;
                ck_assert_msg(is_words == (w == 1), "%s context [%s] made %s",
                              w ? "words" : "16-bit", forms[i].name, names[j]);
                words += is_words;
            }
        }
    ck_assert_uint_gt(words, 0);
}
END_TEST

int main(void)
{
    if (!(ctx = vk_test_context()))
        return 77;
    vkattn_device_info info;
    vkattn_context_device_info(ctx, &info);
    if (!info.fp16_storage) { /* every context here runs words: nothing to compare them with */
        fprintf(stderr, "no 16-bit storage on this device: skipped\n");
        vkattn_context_destroy(ctx);
        return 77;
    }
    Suite *s = suite_create("f16_words");
    TCase *tc = tcase_create("f16_words");
    tcase_set_timeout(tc, 1800);
    tcase_add_loop_test(tc, words_match_16bit, 0, (int)(N_FORMS * N_SHAPES));
    tcase_add_test(tc, words_contexts_use_word_modules);
    suite_add_tcase(s, tc);
    /* In this process (no fork): the contexts persist across the tests. The borrowed ones go
     * before ctx, whose device they use. */
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    const int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    for (size_t i = 0; i < N_FORMS; ++i)
        for (int w = 0; w < 2; ++w)
            vkattn_context_destroy(forms[i].c[w]);
    vkattn_context_destroy(ctx);
    return failed == 0 && vk_test_messages == 0 ? 0 : 1;
}
