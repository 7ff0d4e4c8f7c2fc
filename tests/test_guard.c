/* Guard regions: the GPU side never touches memory outside the ranges it was given, for any shape
 * and any lengths (0, the maxima, and invalid lengths past Sq / Skv that the shader must clamp).
 *
 * Each case gets ONE host-visible, coherent VkBuffer. Q, K, V, O, LSE, q_lens, kv_lens and the
 * mask lie in it at offsets that are not multiples of minStorageBufferOffsetAlignment, each
 * tensor with an exact declared size (its extent times the element size; the u8 mask rounded up
 * to 4 bytes, since it is read in 4-byte words) and at least 4 KiB of guard between and around
 * them. The whole buffer is filled with a byte pattern before the inputs are written. After the
 * dispatch every byte that is not an element of O or LSE must be what was there before: the
 * guards, the gaps inside a strided O, the inputs themselves. O and LSE are compared with the
 * CPU reference (empty rows exactly 0 / -inf), except for the invalid-length cases.
 *
 * Every case runs with two patterns (0xA5, and 0xFF, which is NaN in f32 and f16, so a read of a
 * guard or gap that reaches the result shows as a wrong value) and on a context per kernel
 * form (rowwise, split, the split-KV kernel with its merge pass and scratch, and coopmat where
 * the device and build have it: its f16 cases). The scratch lies between guards like the rest,
 * and the bytes it may change are all of its own. Form cases (paged K/V behind a shuffled page
 * table, texel views, the rows and heads forms, fast scores, the mask and softcap) also run on
 * runners that reach the other modules: keys shared by two invocations, a workgroup of two
 * subgroups, and f16 as 32-bit words (a borrowed context without 16-bit storage), whose
 * atomic half-word writes must keep the bytes beside O's odd ends. The last test lists the
 * build's modules (vkattn_modules) and fails for any that no case ran (vkattn_context_pipelines)
 * unless the device cannot run it, which it says with the reason.
 * The validation layer is on and any message fails. Exits 77 (SKIP) without a
 * Vulkan device. Vulkan is reached only through the context's get_instance_proc_addr.
 * VKATTN_GUARD_TIMES=1 prints each run's time (where a cold shader cache spends it). */
#define VK_NO_PROTOTYPES
#include <check.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rng.h"
#include "src/vk_table.h"
#include "src/half.h"
#include "vk_test.h"
#include "vkattn/vkattn.h"

#define MAX_B 4
#define GUARD 4096u      /* at least this many pattern bytes around every tensor */
#define PLACE_ALIGN 256u /* >= any minStorageBufferOffsetAlignment (the Vulkan maximum) */

/* ---------------------------------------------------------------------------------------------
 * Vulkan, through the context's loader entry point
 * ------------------------------------------------------------------------------------------- */


/* Which cases a runner takes: all of them, or the form cases only (the runners that exist to
 * reach the modules the main ones do not). Form cases name the roles of the runners that take
 * them, so that each new pipeline serves a module or a path (lavapipe compiles each for seconds
 * to a minute cold). */
enum { SCOPE_ALL, SCOPE_FORMS };
enum {
    ROLE_ATTN = 1,  /* attention.comp's forms and coopmat */
    ROLE_SG = 2,    /* the split-KV kernel in one subgroup: subgroup merge, texel views, rows */
    ROLE_OTHER = 4, /* the split-KV kernel's shuffle, shared-memory-merge and fast modules */
};

/* What a runner's context is: a forced kernel, invocations per key, a tuning for every class,
 * dtype and head size (workgroup 0 = built-in; WG_SUBGROUP = the device's fixed subgroup size,
 * WG_TWICE = twice it), and f16 as 32-bit words (a borrowed context without 16-bit storage). */
enum { WG_BUILTIN, WG_SUBGROUP, WG_TWICE };
/* The head size of the rows form case: no main case has it, so its one-row tuning touches
 * nothing else. A multiple of 8 (texel views). */
#define ROWS_D 16u
typedef struct runner_spec {
    const char *name;
    vkattn_kernel kernel;
    uint32_t parts;
    int wg;
    bool words;
    int scope;
    unsigned role;
    bool optional; /* refused where the device or build lacks it (coopmat): skipped */
} runner_spec;

static const runner_spec specs[] = {
    {"rowwise", VKATTN_KERNEL_ROWWISE, 0, WG_BUILTIN, false, SCOPE_ALL, ROLE_ATTN, false},
    {"tiled", VKATTN_KERNEL_TILED, 0, WG_BUILTIN, false, SCOPE_ALL, ROLE_ATTN, false},
    /* The split-KV kernel for every case (it then splits prefill by the device's size too, so
     * the merge pass and its scratch run between guards as well); a workgroup of one subgroup
     * where the size is fixed: the subgroup merge, texel and rows modules. */
    {"split-kv", VKATTN_KERNEL_SPLIT_KV, 0, WG_SUBGROUP, false, SCOPE_ALL, ROLE_SG, false},
    {"coopmat", VKATTN_KERNEL_COOPMAT, 0, WG_BUILTIN, false, SCOPE_ALL, ROLE_ATTN, true},
    /* Keys shared by two invocations (the shuffle modules) and a workgroup of two subgroups
     * (the shared-memory merge), each with the fast scores for FAST cases. */
    {"split-kv parts 2", VKATTN_KERNEL_SPLIT_KV, 2, WG_SUBGROUP, false, SCOPE_FORMS, ROLE_OTHER,
     false},
    {"split-kv wg 2x", VKATTN_KERNEL_SPLIT_KV, 0, WG_TWICE, false, SCOPE_FORMS, ROLE_OTHER, false},
    /* The same forms with f16 as 32-bit words. */
    {"f16w rowwise", VKATTN_KERNEL_ROWWISE, 0, WG_BUILTIN, true, SCOPE_FORMS, ROLE_ATTN, false},
    {"f16w split", VKATTN_KERNEL_TILED, 0, WG_BUILTIN, true, SCOPE_FORMS, ROLE_ATTN, false},
    {"f16w split-kv", VKATTN_KERNEL_SPLIT_KV, 0, WG_SUBGROUP, true, SCOPE_FORMS, ROLE_SG, false},
    {"f16w parts 2", VKATTN_KERNEL_SPLIT_KV, 2, WG_SUBGROUP, true, SCOPE_FORMS, ROLE_OTHER, false},
    {"f16w wg 2x", VKATTN_KERNEL_SPLIT_KV, 0, WG_TWICE, true, SCOPE_FORMS, ROLE_OTHER, false},
};
#define N_SPECS (sizeof specs / sizeof specs[0])

/* One context per runner spec, with what the test needs to run on its device. */
typedef struct runner {
    const char *name;
    const runner_spec *spec;
    vkattn_context ctx;
    vkattn_vulkan_handles h;
    vk_table vk;
    VkPhysicalDeviceMemoryProperties mem;
    VkDeviceSize align; /* minStorageBufferOffsetAlignment */
    VkCommandPool pool;
    VkCommandBuffer cmd;
    VkFence fence;
} runner;

static runner runners[N_SPECS];
static int nrunners;
static unsigned messages;

static void on_message(void *user, const char *message)
{
    (void)user;
    ++messages;
    fprintf(stderr, "validation: %s\n", message);
}

/* The spec's tuning, for every class, dtype and head size. */
static int runner_tune(runner *r)
{
    vkattn_device_info info;
    vkattn_context_device_info(r->ctx, &info);
    const bool fixed = info.min_subgroup_size == info.max_subgroup_size;
    vkattn_tuning t = {.f16_scores = 2, .texel = 2};
    if (r->spec->wg == WG_SUBGROUP && fixed && info.subgroup_size <= 64)
        t.workgroup = info.subgroup_size;
    else if (r->spec->wg == WG_TWICE)
        t.workgroup = info.max_subgroup_size < 64 ? 2 * info.max_subgroup_size : 32;
    for (int cls = 0; cls < 2; ++cls)
        for (int dt = 0; dt < 2; ++dt)
            for (uint32_t d = 1; d <= 256; ++d) {
                vkattn_tuning td = t;
                if (d == ROWS_D && cls == VKATTN_TUNING_PREFILL)
                    td.rows = 1; /* the rows form at D = ROWS_D */
                if (vkattn_tuning_set(r->ctx, (vkattn_tuning_class)cls, (vkattn_dtype)dt, d, &td) !=
                    VKATTN_SUCCESS) {
                    fprintf(stderr, "%s: vkattn_tuning_set: %s\n", r->name,
                            vkattn_context_message(r->ctx));
                    return 1;
                }
            }
    return 0;
}

/* Creates the runner of spec; word runners borrow owner's device. */
static int runner_init(runner *r, const runner_spec *spec, vkattn_context owner)
{
    vkattn_context_desc desc = {0};
    desc.validation = true;
    if (spec->words) {
        desc = vk_test_borrowed_desc(owner);
        desc.storage_16bit_enabled = false;
    }
    desc.on_message = on_message;
    desc.kernel = spec->kernel;
    desc.decode_parts = spec->parts;
    r->name = spec->name;
    r->spec = spec;
    const char *name = spec->name;
    if (vkattn_context_create(&desc, &r->ctx) != VKATTN_SUCCESS || vkattn_context_is_cpu(r->ctx))
        return 77;
    if (spec->wg != WG_BUILTIN && runner_tune(r))
        return 1;
    if (vkattn_context_vulkan(r->ctx, &r->h) != VKATTN_SUCCESS)
        return 77;
    const char *missing =
        vkattn__vk_table_load(&r->vk, r->h.get_instance_proc_addr, r->h.instance, r->h.device);
    if (missing) {
        fprintf(stderr, "%s: the Vulkan loader gives no %s\n", name, missing);
        return 1;
    }
    r->vk.vkGetPhysicalDeviceMemoryProperties(r->h.physical_device, &r->mem);
    VkPhysicalDeviceProperties props;
    r->vk.vkGetPhysicalDeviceProperties(r->h.physical_device, &props);
    r->align = props.limits.minStorageBufferOffsetAlignment;

    VkCommandPoolCreateInfo pci = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
        .queueFamilyIndex = r->h.queue_family,
    };
    if (r->vk.vkCreateCommandPool(r->h.device, &pci, r->h.allocator, &r->pool) != VK_SUCCESS)
        return 1;
    VkCommandBufferAllocateInfo cai = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
        .commandPool = r->pool,
        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
        .commandBufferCount = 1,
    };
    if (r->vk.vkAllocateCommandBuffers(r->h.device, &cai, &r->cmd) != VK_SUCCESS)
        return 1;
    VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    if (r->vk.vkCreateFence(r->h.device, &fci, r->h.allocator, &r->fence) != VK_SUCCESS)
        return 1;
    return 0;
}

static void runner_destroy(runner *r)
{
    if (r->h.device) {
        if (r->fence)
            r->vk.vkDestroyFence(r->h.device, r->fence, r->h.allocator);
        if (r->pool)
            r->vk.vkDestroyCommandPool(r->h.device, r->pool, r->h.allocator);
    }
    vkattn_context_destroy(r->ctx);
    memset(r, 0, sizeof *r);
}

/* ---------------------------------------------------------------------------------------------
 * Cases
 * ------------------------------------------------------------------------------------------- */

enum { LAYOUT_BHSD, LAYOUT_BSHD };
enum {
    OUT_SAME,       /* O has Q's strides */
    OUT_EVERY_OTHER,/* BHSD O in every other row of a [B, H, 2*Sq, D] region */
    OUT_ODD_ROWS,   /* BSHD O whose rows are Hq*D + 3 elements apart */
};

typedef struct gcase {
    char name[128];
    vkattn_problem p;
    int layout;
    int out_mode;
    bool kv_gaps;      /* K and V rows D + 5 elements apart (gaps hold the pattern) */
    bool invalid;      /* lengths past Sq / Skv: only the guards are checked */
    bool texel;        /* K/V flagged VKATTN_BUFFER_TEXEL, Q/K/V rows on 16 bytes */
    unsigned form;     /* a form case: the ROLE_* of the runners that take it (0: a main case) */
    uint32_t ql[MAX_B], kl[MAX_B];
    uint32_t qs[MAX_B], ks[MAX_B]; /* start offsets (p.has_q_start / has_kv_start) */
    uint32_t cq[MAX_B + 1], ck[MAX_B + 1]; /* cu_seqlens (p.packed) */
    uint64_t seed;
} gcase;

typedef struct case_list {
    gcase *v;
    size_t n, cap;
} case_list;

static gcase *add(case_list *l, const char *name, uint32_t B, uint32_t Hq, uint32_t Hkv,
                  uint32_t Sq, uint32_t Skv, uint32_t D, vkattn_dtype dt)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        gcase *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
        l->v = v;
        l->cap = cap;
    }
    gcase *c = &l->v[l->n++];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s %s B%u Hq%u Hkv%u Sq%u Skv%u D%u", name,
             dt == VKATTN_DTYPE_F16 ? "f16" : dt == VKATTN_DTYPE_BF16 ? "bf16" : "f32", B, Hq, Hkv,
             Sq, Skv, D);
    c->p.batch = B;
    c->p.heads_q = Hq;
    c->p.heads_kv = Hkv;
    c->p.seq_q = Sq;
    c->p.seq_kv = Skv;
    c->p.head_dim = D;
    c->p.dtype = dt;
    c->p.has_lse = true;
    c->seed = 7000 + l->n;
    return c;
}

static void starts(gcase *c, const uint32_t *qs, const uint32_t *ks)
{
    for (uint32_t b = 0; b < c->p.batch; ++b) {
        if (qs)
            c->qs[b] = qs[b];
        if (ks)
            c->ks[b] = ks[b];
    }
    c->p.has_q_start = qs != NULL;
    c->p.has_kv_start = ks != NULL;
}

/* A packed batch (SPEC 2.1) of these query and key counts; Sq, Skv become the totals. */
static void packed(gcase *c, const uint32_t *ql, const uint32_t *kl)
{
    c->p.packed = true;
    for (uint32_t b = 0; b < c->p.batch; ++b) {
        c->cq[b + 1] = c->cq[b] + ql[b];
        c->ck[b + 1] = c->ck[b] + kl[b];
    }
    c->p.seq_q = c->cq[c->p.batch];
    c->p.seq_kv = c->ck[c->p.batch];
}

static void lens(gcase *c, const uint32_t *ql, const uint32_t *kl)
{
    for (uint32_t b = 0; b < c->p.batch; ++b) {
        if (ql)
            c->ql[b] = ql[b];
        if (kl)
            c->kl[b] = kl[b];
    }
    c->p.has_q_lens = ql != NULL;
    c->p.has_kv_lens = kl != NULL;
}

static void window(gcase *c, int32_t wl, int32_t wr, vkattn_align align)
{
    c->p.window = true;
    c->p.window_left = wl;
    c->p.window_right = wr;
    c->p.align = align;
}

static void make_cases(case_list *l)
{
    static const uint32_t dims[] = {1, 3, 64, 128, 256};
    const vkattn_align BR = VKATTN_ALIGN_BOTTOM_RIGHT, TL = VKATTN_ALIGN_TOP_LEFT;
    for (int t = 0; t < 2; ++t) {
        vkattn_dtype dt = (vkattn_dtype)t;
        gcase *c;
        /* Head sizes; sizes that are multiples of no tile. */
        for (size_t i = 0; i < sizeof dims / sizeof dims[0]; ++i) {
            add(l, "dense", 2, 2, 1, 7, 11, dims[i], dt);
            c = add(l, "causal", 1, 3, 3, 13, 9, dims[i], dt);
            c->p.causal = true;
        }
        /* One row, one key. */
        c = add(l, "Sq=1", 2, 4, 2, 1, 37, 64, dt);
        c->p.causal = true;
        c = add(l, "Sq=1 top-left", 2, 2, 1, 1, 37, 3, dt);
        c->p.causal = true;
        c->p.align = TL;
        c = add(l, "Skv=1 causal", 2, 2, 1, 9, 1, 64, dt);
        c->p.causal = true;
        c = add(l, "Skv=1 causal top-left", 1, 2, 2, 9, 1, 1, dt);
        c->p.causal = true;
        c->p.align = TL;
        add(l, "Sq=Skv=1", 1, 1, 1, 1, 1, 3, dt);
        add(l, "Sq=Skv=1", 3, 2, 1, 1, 1, 256, dt);
        /* Lengths 0 and the maxima. */
        {
            uint32_t z[] = {0, 0, 0}, qmax[] = {19, 19, 19}, kmax[] = {23, 23, 23};
            uint32_t qmix[] = {0, 19, 5}, kmix[] = {23, 0, 1};
            c = add(l, "q_lens=kv_lens=0", 3, 2, 1, 19, 23, 64, dt);
            lens(c, z, z);
            c = add(l, "kv_lens=0", 3, 2, 1, 19, 23, 3, dt);
            lens(c, NULL, z);
            c = add(l, "q_lens=0 causal", 3, 2, 2, 19, 23, 128, dt);
            lens(c, z, NULL);
            c->p.causal = true;
            c = add(l, "lens=max", 3, 2, 1, 19, 23, 64, dt);
            lens(c, qmax, kmax);
            c = add(l, "lens=max causal", 3, 4, 2, 19, 23, 1, dt);
            lens(c, qmax, kmax);
            c->p.causal = true;
            c = add(l, "lens mixed 0/max causal", 3, 2, 1, 19, 23, 64, dt);
            lens(c, qmix, kmix);
            c->p.causal = true;
            c = add(l, "lens mixed 0/max window 2,1 top-left", 3, 2, 1, 19, 23, 3, dt);
            lens(c, qmix, kmix);
            window(c, 2, 1, TL);
            c = add(l, "lens mixed 0/max no lse", 3, 2, 1, 19, 23, 64, dt);
            lens(c, qmix, kmix);
            c->p.has_lse = false;
        }
        /* Causal, both alignments, Sq < Skv and Sq > Skv; several tiles. */
        for (int a = 0; a < 2; ++a) {
            vkattn_align al = a ? TL : BR;
            const char *an = a ? "top-left" : "bottom-right";
            char nm[64];
            snprintf(nm, sizeof nm, "causal %s", an);
            c = add(l, nm, 2, 2, 1, 21, 70, 64, dt);
            c->p.causal = true;
            c->p.align = al;
            c = add(l, nm, 1, 2, 2, 70, 21, 3, dt);
            c->p.causal = true;
            c->p.align = al;
            snprintf(nm, sizeof nm, "window 3,2 %s", an);
            c = add(l, nm, 2, 2, 1, 17, 29, 64, dt);
            window(c, 3, 2, al);
            snprintf(nm, sizeof nm, "window -1,0 %s", an);
            c = add(l, nm, 1, 2, 1, 29, 17, 1, dt);
            window(c, -1, 0, al);
            snprintf(nm, sizeof nm, "window 0,-1 %s", an);
            c = add(l, nm, 1, 2, 1, 17, 29, 128, dt);
            window(c, 0, -1, al);
            snprintf(nm, sizeof nm, "causal+window 4,-1 %s", an);
            c = add(l, nm, 2, 2, 2, 23, 31, 64, dt);
            c->p.causal = true;
            window(c, 4, -1, al);
        }
        c = add(l, "empty window 0,0 top-left Sq>Skv", 1, 2, 1, 30, 5, 64, dt);
        window(c, 0, 0, TL);
        /* Custom masks: every broadcast; Sq*Skv not a multiple of 4. */
        {
            static const uint32_t bc[][2] = {{1, 1}, {2, 1}, {1, 4}, {2, 4}};
            for (int m = 0; m < 4; ++m) {
                c = add(l, "custom mask", 2, 4, 2, 5, 7, 64, dt);
                c->p.mask_batch = bc[m][0];
                c->p.mask_heads = bc[m][1];
                snprintf(c->name + strlen(c->name), sizeof c->name - strlen(c->name),
                         " mask %ux%u", bc[m][0], bc[m][1]);
            }
            uint32_t ql[] = {3, 13}, kl[] = {0, 11};
            c = add(l, "custom mask+causal+varlen", 2, 4, 1, 13, 11, 3, dt);
            c->p.mask_batch = 2;
            c->p.mask_heads = 1;
            c->p.causal = true;
            lens(c, ql, kl);
            c = add(l, "custom mask Sq=Skv=1", 1, 1, 1, 1, 1, 1, dt);
            c->p.mask_batch = 1;
            c->p.mask_heads = 1;
        }
        /* GQA / MQA. */
        add(l, "GQA", 2, 6, 2, 11, 19, 64, dt);
        add(l, "MQA", 1, 4, 1, 11, 19, 128, dt);
        /* Strided layouts. */
        c = add(l, "GQA bshd", 2, 6, 2, 11, 19, 64, dt);
        c->layout = LAYOUT_BSHD;
        c = add(l, "causal bshd", 2, 2, 1, 17, 17, 3, dt);
        c->layout = LAYOUT_BSHD;
        c->p.causal = true;
        c = add(l, "O every other row", 2, 3, 1, 9, 14, 64, dt);
        c->out_mode = OUT_EVERY_OTHER;
        c = add(l, "O every other row causal", 1, 2, 2, 33, 20, 3, dt);
        c->out_mode = OUT_EVERY_OTHER;
        c->p.causal = true;
        c = add(l, "O every other row", 1, 2, 1, 5, 6, 256, dt);
        c->out_mode = OUT_EVERY_OTHER;
        c = add(l, "bshd O rows Hq*D+3 apart", 2, 2, 1, 9, 14, 64, dt);
        c->layout = LAYOUT_BSHD;
        c->out_mode = OUT_ODD_ROWS;
        c = add(l, "bshd O rows Hq*D+3 apart", 1, 3, 3, 7, 5, 1, dt);
        c->layout = LAYOUT_BSHD;
        c->out_mode = OUT_ODD_ROWS;
        c = add(l, "K/V rows D+5 apart", 2, 2, 1, 9, 14, 3, dt);
        c->kv_gaps = true;
        c = add(l, "K/V rows D+5 apart", 1, 2, 2, 9, 40, 64, dt);
        c->kv_gaps = true;
        c->p.causal = true;
        /* Invalid: lengths past Sq / Skv in the device buffers (clamped by the shader). */
        {
            uint32_t qbig[] = {20, 0xffffffffu, 5}, kbig[] = {24, 1000, 0xffffffffu};
            c = add(l, "INVALID lens > S", 3, 2, 1, 19, 23, 64, dt);
            lens(c, qbig, kbig);
            c->invalid = true;
            c = add(l, "INVALID lens > S causal", 3, 2, 2, 19, 23, 3, dt);
            lens(c, qbig, kbig);
            c->p.causal = true;
            c->invalid = true;
            c = add(l, "INVALID lens > S window 2,3 top-left", 3, 2, 1, 19, 23, 128, dt);
            lens(c, qbig, kbig);
            window(c, 2, 3, TL);
            c->invalid = true;
            c = add(l, "INVALID lens > S mask+causal", 3, 4, 2, 6, 9, 64, dt);
            lens(c, qbig, kbig);
            c->p.mask_batch = 3;
            c->p.mask_heads = 4;
            c->p.causal = true;
            c->invalid = true;
            c = add(l, "INVALID q_lens > Sq mask bcast", 3, 2, 1, 6, 9, 1, dt);
            lens(c, qbig, NULL);
            c->p.mask_batch = 1;
            c->p.mask_heads = 1;
            c->invalid = true;
            c = add(l, "INVALID kv_lens > Skv Sq=1 bshd O odd rows", 3, 2, 1, 1, 9, 256, dt);
            lens(c, NULL, kbig);
            c->layout = LAYOUT_BSHD;
            c->out_mode = OUT_ODD_ROWS;
            c->invalid = true;
            c = add(l, "INVALID lens > S O every other row no lse", 3, 2, 1, 19, 23, 64, dt);
            lens(c, qbig, kbig);
            c->out_mode = OUT_EVERY_OTHER;
            c->p.has_lse = false;
            c->invalid = true;
            c = add(l, "INVALID starts + lens > S causal", 3, 2, 1, 19, 23, 64, dt);
            lens(c, qbig, kbig);
            starts(c, (const uint32_t[]){18, 0xfffffff0u, 40}, (const uint32_t[]){5, 1, 0});
            c->p.causal = true;
            c->invalid = true;
        }
        /* Start offsets, sinks and ALiBi slopes: the small arrays at unaligned offsets. */
        c = add(l, "starts+sinks+alibi causal", 3, 4, 2, 19, 23, 32, dt);
        starts(c, (const uint32_t[]){0, 5, 19}, (const uint32_t[]){2, 0, 23});
        c->p.causal = true;
        c->p.has_sinks = true;
        c->p.alibi = VKATTN_ALIBI_BATCH_HEADS;
        c = add(l, "starts+lens+sinks decode", 2, 8, 2, 1, 300, 16, dt);
        starts(c, NULL, (const uint32_t[]){7, 100});
        lens(c, NULL, (const uint32_t[]){250, 17});
        c->p.has_sinks = true;
        c->p.alibi = VKATTN_ALIBI_HEADS;
        /* Packed batches: cu_seqlens at unaligned offsets, each item writing only its rows. */
        c = add(l, "packed causal+alibi", 4, 4, 2, 0, 0, 32, dt);
        packed(c, (const uint32_t[]){19, 0, 1, 8}, (const uint32_t[]){23, 4, 0, 30});
        c->p.causal = true;
        c->p.alibi = VKATTN_ALIBI_BATCH_HEADS;
        c = add(l, "packed decode", 3, 8, 2, 0, 0, 16, dt);
        packed(c, (const uint32_t[]){1, 1, 2}, (const uint32_t[]){300, 17, 40});
        c->p.has_sinks = true;
    }
}

static void paged(gcase *c, uint32_t page_size);

/* bf16 (read and written as 32-bit words on every device, out's halves with atomics): odd head
 * sizes and O rows an odd number of elements apart put its elements beside other tensors'
 * bytes and the guards. */
static void bf16_cases(case_list *l)
{
    const vkattn_dtype bf = VKATTN_DTYPE_BF16;
    gcase *c;
    c = add(l, "bf16 dense bshd O odd rows", 2, 2, 1, 7, 11, 3, bf);
    c->layout = LAYOUT_BSHD;
    c->out_mode = OUT_ODD_ROWS;
    c = add(l, "bf16 causal O every other row", 1, 3, 3, 13, 9, 64, bf);
    c->p.causal = true;
    c->out_mode = OUT_EVERY_OTHER;
    c = add(l, "bf16 lens mixed 0/max window no lse", 3, 2, 1, 19, 23, 1, bf);
    lens(c, (const uint32_t[]){0, 19, 5}, (const uint32_t[]){23, 0, 1});
    window(c, 2, 1, VKATTN_ALIGN_TOP_LEFT);
    c->p.has_lse = false;
    c = add(l, "bf16 packed causal+sinks", 3, 4, 2, 0, 0, 3, bf);
    packed(c, (const uint32_t[]){5, 0, 6}, (const uint32_t[]){7, 2, 6});
    c->p.causal = true;
    c->p.has_sinks = true;
    c = add(l, "bf16 mask kv gaps", 2, 4, 2, 5, 7, 64, bf);
    c->p.mask_batch = 2;
    c->p.mask_heads = 1;
    c->kv_gaps = true;
    /* attention.comp's page table walk (bf16's paged K/V). */
    c = add(l, "bf16 paged 3 causal", 2, 4, 2, 3, 40, 3, bf);
    paged(c, 3);
    c->p.causal = true;
}

static void paged(gcase *c, uint32_t page_size)
{
    c->p.page_size = page_size;
    c->p.pages_per_seq = (c->p.seq_kv + page_size - 1) / page_size;
    c->p.num_pages = c->p.batch * c->p.pages_per_seq + 3; /* pages no row uses, too */
}

/* The cases every runner takes: together they reach each module the planner can pick (the
 * test at the end checks), with paged K/V behind a shuffled page table, texel views, LSE, the
 * mask, the merge pass and its scratch. Small head sizes: the modules are the same for any (a
 * specialization constant), and lavapipe compiles a split-KV pipeline at D = 64 for 20 to 60 s
 * cold. The rows form, which the planner takes only where D leaves an invocation fewer rows
 * than the workgroup has, is reached at ROWS_D through a tuning of one row (runner_tune). */
static void make_form_cases(case_list *l)
{
    const unsigned SG = ROLE_SG, ANY_KV = ROLE_SG | ROLE_OTHER;
    for (int t = 0; t < 2; ++t) {
        vkattn_dtype dt = (vkattn_dtype)t;
        gcase *c;
        c = add(l, "form: paged 16 shuffled, 3 splits, causal", 2, 4, 2, 3, 70, 8, dt);
        paged(c, 16);
        c->p.kv_splits = 3;
        c->p.causal = true;
        c->form = ANY_KV;
        c = add(l, "form: paged 32 shuffled, lens", 2, 2, 1, 2, 45, 3, dt);
        paged(c, 32);
        {
            uint32_t ql[] = {1, 2}, kl[] = {45, 17};
            lens(c, ql, kl);
        }
        c->form = SG;
        c = add(l, "form: texel decode step", 2, 8, 2, 1, 1100, 8, dt);
        c->texel = true;
        c->p.causal = true;
        c->form = SG;
        c = add(l, "form: texel prefill (rows)", 1, 2, 1, 16, 40, ROWS_D, dt);
        c->texel = true;
        c->form = SG;
        c = add(l, "form: texel paged mask", 1, 4, 2, 4, 50, 8, dt);
        c->texel = true;
        paged(c, 16);
        c->p.mask_batch = 1;
        c->p.mask_heads = 4;
        c->form = SG;
        c = add(l, "form: KV heads side by side (heads)", 1, 8, 8, 1, 1100, 8, dt);
        c->texel = true;
        c->form = SG;
        c = add(l, "form: softcap mask window, O odd rows", 2, 4, 2, 5, 37, 3, dt);
        c->p.softcap = 30.0f;
        c->p.mask_batch = 2;
        c->p.mask_heads = 1;
        window(c, 6, 2, VKATTN_ALIGN_BOTTOM_RIGHT);
        c->layout = LAYOUT_BSHD;
        c->out_mode = OUT_ODD_ROWS;
        c->form = ROLE_ATTN | ANY_KV;
        /* Fast scores: the one-subgroup runner then runs decode_fast (no subgroup merge), the
         * shuffle runner decode_shuffle_fast. */
        c = add(l, "form: precision fast, 2 splits", 1, 4, 1, 4, 600, 8, dt);
        c->p.precision = VKATTN_PRECISION_FAST;
        c->p.kv_splits = 2;
        c->form = ANY_KV;
    }
}

static void set_strides(const gcase *c, vkattn_problem *p)
{
    uint64_t Hq = p->heads_q, Hkv = p->heads_kv ? p->heads_kv : p->heads_q;
    uint64_t Sq = p->seq_q, Skv = p->seq_kv, D = p->head_dim;
    if (p->packed) { /* [T, H, D] */
        p->q = p->out = (vkattn_strides){0, D, Hq * D};
        p->k = p->v = (vkattn_strides){0, D, Hkv * D};
    } else if (c->layout == LAYOUT_BSHD) {
        p->q = p->out = vkattn_strides_bshd((uint32_t)Hq, (uint32_t)Sq, (uint32_t)D);
        p->k = p->v = vkattn_strides_bshd((uint32_t)Hkv, (uint32_t)Skv, (uint32_t)D);
    } else {
        p->q = p->out = (vkattn_strides){Hq * Sq * D, Sq * D, D};
        p->k = p->v = (vkattn_strides){Hkv * Skv * D, Skv * D, D};
    }
    if (c->kv_gaps) {
        uint64_t rs = D + 5;
        p->k = p->v = (vkattn_strides){Hkv * Skv * rs, Skv * rs, rs};
    }
    if (p->page_size) /* the pool is dense */
        p->k = p->v = (vkattn_strides){0, 0, 0};
    if (c->out_mode == OUT_EVERY_OTHER)
        p->out = (vkattn_strides){Hq * 2 * Sq * D, 2 * Sq * D, 2 * D};
    else if (c->out_mode == OUT_ODD_ROWS) {
        uint64_t rs = Hq * D + 3;
        p->out = (vkattn_strides){Sq * rs, D, rs};
    }
}

/* ---------------------------------------------------------------------------------------------
 * Running one case
 * ------------------------------------------------------------------------------------------- */

enum { T_Q, T_K, T_V, T_O, T_LSE, T_QL, T_KL, T_M, T_P, T_S, T_QS, T_KS, T_SINKS, T_ALIBI,
       T_CQ, T_CK, T_COUNT };
static const char *const tnames[T_COUNT] = {"Q",       "K",        "V",     "O",
                                            "LSE",     "q_lens",   "kv_lens", "mask",
                                            "page_table", "scratch", "q_start", "kv_start",
                                            "sinks",   "alibi",    "cu_seqlens_q",
                                            "cu_seqlens_kv"};

typedef struct placed {
    bool present;
    uint64_t off;   /* bytes from the start of the VkBuffer */
    uint64_t size;  /* declared bytes (what vkattn_buffer.size says) */
} placed;

/* Names where byte x of the buffer lies, for a failure message. */
static void describe(const placed *pl, uint64_t x, char *out, size_t n)
{
    int before = -1, after = -1;
    for (int t = 0; t < T_COUNT; ++t) {
        if (!pl[t].present)
            continue;
        if (x >= pl[t].off && x < pl[t].off + pl[t].size) {
            snprintf(out, n, "inside %s's range, byte %" PRIu64 " of %" PRIu64, tnames[t],
                     x - pl[t].off, pl[t].size);
            return;
        }
        if (pl[t].off + pl[t].size <= x &&
            (before < 0 || pl[t].off + pl[t].size > pl[before].off + pl[before].size))
            before = t;
        if (pl[t].off > x && (after < 0 || pl[t].off < pl[after].off))
            after = t;
    }
    char a[64] = "the start of the buffer", b[64] = "the end of the buffer";
    if (before >= 0)
        snprintf(a, sizeof a, "%s (%" PRIu64 " bytes past its end)", tnames[before],
                 x - (pl[before].off + pl[before].size));
    if (after >= 0)
        snprintf(b, sizeof b, "%s (%" PRIu64 " bytes before its start)", tnames[after],
                 pl[after].off - x);
    snprintf(out, n, "guard between %s and %s", a, b);
}

static double elem(const void *x, uint64_t i, vkattn_dtype dt)
{
    return dt == VKATTN_DTYPE_F16    ? half_to_float(((const uint16_t *)x)[i])
           : dt == VKATTN_DTYPE_BF16 ? bf16_to_float(((const uint16_t *)x)[i])
                                     : ((const float *)x)[i];
}

typedef struct run_state {
    VkBuffer buffer;
    VkDeviceMemory memory;
    void *map;
    uint8_t *image, *o_bytes; /* expected bytes; 1 where O/LSE may be written */
    void *q, *k, *v, *o_ref;
    float *lse_ref, *logits; /* sinks, then slopes */
    uint8_t *mask;
    uint32_t *pages;
} run_state;

static void run_state_free(runner *r, run_state *s)
{
    if (s->map)
        r->vk.vkUnmapMemory(r->h.device, s->memory);
    if (s->buffer)
        r->vk.vkDestroyBuffer(r->h.device, s->buffer, r->h.allocator);
    if (s->memory)
        r->vk.vkFreeMemory(r->h.device, s->memory, r->h.allocator);
    free(s->image), free(s->o_bytes), free(s->q), free(s->k), free(s->v), free(s->o_ref);
    free(s->lse_ref), free(s->mask), free(s->pages), free(s->logits);
}

static uint64_t round_up(uint64_t x, uint64_t a)
{
    return (x + a - 1) / a * a;
}

/* Element e of a tensor of dtype dt set to x (rounded to the dtype). */
static void set_elem(void *dst, uint64_t e, float x, vkattn_dtype dt)
{
    if (dt == VKATTN_DTYPE_F16)
        ((uint16_t *)dst)[e] = float_to_half(x);
    else if (dt == VKATTN_DTYPE_BF16)
        ((uint16_t *)dst)[e] = float_to_bf16(x);
    else
        ((float *)dst)[e] = x;
}

/* Runs case c on runner r with guard byte pattern pat. Returns NULL on success, else a message
 * (static buffer). */
static const char *run_case(runner *r, const gcase *c, uint8_t pat)
{
    static char why[1024];
    run_state s = {0};
    const char *fail = NULL;
#define FAIL(...)                                   \
    do {                                            \
        snprintf(why, sizeof why, __VA_ARGS__);     \
        fail = why;                                 \
        goto done;                                  \
    } while (0)

    vkattn_problem p = c->p;
    set_strides(c, &p);
    char msg[256];
    if (vkattn_problem_check(&p, msg, sizeof msg) != VKATTN_SUCCESS)
        FAIL("bad case: %s", msg);
    const vkattn_dtype dt = p.dtype;
    const uint64_t es = dt == VKATTN_DTYPE_F32 ? 4 : 2;
    /* B: the tensors' batch dimension (packed: none, the items lie along Sq); items: B. */
    const uint32_t B = p.packed ? 1 : p.batch, items = p.batch, Hq = p.heads_q, Sq = p.seq_q,
                   D = p.head_dim;

    uint64_t n[T_COUNT] = {0},
             esz[T_COUNT] = {es, es, es, es, 4, 4, 4, 1, 4, 4, 4, 4, 4, 4, 4, 4};
    n[T_Q] = vkattn_problem_extent(&p, 'q');
    n[T_K] = vkattn_problem_extent(&p, 'k');
    n[T_V] = vkattn_problem_extent(&p, 'v');
    n[T_O] = vkattn_problem_extent(&p, 'o');
    n[T_LSE] = p.has_lse ? vkattn_problem_extent(&p, 'l') : 0;
    n[T_QL] = p.has_q_lens ? B : 0;
    n[T_KL] = p.has_kv_lens ? B : 0;
    n[T_M] = vkattn_problem_extent(&p, 'm');
    n[T_P] = p.page_size ? vkattn_problem_extent(&p, 'p') : 0;
    n[T_QS] = p.has_q_start ? B : 0;
    n[T_KS] = p.has_kv_start ? B : 0;
    n[T_SINKS] = p.has_sinks ? Hq : 0;
    n[T_ALIBI] = p.alibi == VKATTN_ALIBI_BATCH_HEADS ? (uint64_t)items * Hq : p.alibi ? Hq : 0;
    n[T_CQ] = n[T_CK] = p.packed ? items + 1 : 0;
    uint64_t scratch = 0; /* the split-KV kernel's partial rows, where it splits the keys */
    if (vkattn_scratch_size(r->ctx, &p, &scratch) != VKATTN_SUCCESS)
        FAIL("vkattn_scratch_size: %s", vkattn_context_message(r->ctx));
    n[T_S] = scratch / 4;

    /* Placement: each tensor at (a multiple of PLACE_ALIGN) + an odd multiple of its element
     * size, at least GUARD bytes after the previous one; GUARD bytes before the first and after
     * the last. Texel cases put Q, K and V rows on 16 bytes instead (the views need it). */
    placed pl[T_COUNT] = {{0}};
    uint64_t cursor = 0;
    for (int t = 0; t < T_COUNT; ++t) {
        if (n[t] == 0)
            continue;
        pl[t].present = true;
        const bool on16 = c->texel && t <= T_V;
        pl[t].off = round_up(cursor + GUARD, PLACE_ALIGN) +
                    (uint64_t)(2 * t + 1) * (on16 ? 16 : esz[t]);
        pl[t].size = n[t] * esz[t];
        if (t == T_M)
            pl[t].size = round_up(pl[t].size, 4); /* the mask is read in 4-byte words */
        cursor = pl[t].off + pl[t].size;
        if (!on16 && r->align > esz[t] && pl[t].off % r->align == 0)
            FAIL("placement of %s is aligned (test bug)", tnames[t]);
    }
    const uint64_t total = round_up(cursor + GUARD, 4);

    /* Host tensors, and the expected image of the whole buffer. */
    s.image = malloc(total);
    s.o_bytes = calloc(total, 1);
    s.q = malloc(n[T_Q] * es);
    s.k = malloc(n[T_K] * es);
    s.v = malloc(n[T_V] * es);
    s.o_ref = malloc(n[T_O] * es);
    uint64_t nl = (uint64_t)B * Hq * Sq;
    s.lse_ref = malloc(nl * sizeof(float));
    s.mask = malloc(n[T_M] ? n[T_M] : 1);
    s.pages = malloc(n[T_P] ? n[T_P] * 4 : 1);
    s.logits = malloc((Hq + (uint64_t)items * Hq) * sizeof(float));
    if (!s.image || !s.o_bytes || !s.q || !s.k || !s.v || !s.o_ref || !s.lse_ref || !s.mask ||
        !s.pages || !s.logits)
        FAIL("out of host memory");
    memset(s.image, pat, total);
    /* Inputs: the pattern stays in the gaps of strided tensors (NaN with 0xFF). */
    memset(s.q, pat, n[T_Q] * es);
    memset(s.k, pat, n[T_K] * es);
    memset(s.v, pat, n[T_V] * es);
    rng g;
    rng_seed(&g, c->seed);
    if (p.page_size) {
        /* The whole pool (pages no row uses hold values too), and a table that is a shuffled
         * permutation of the pool's pages. */
        for (int t = 0; t < 2; ++t)
            for (uint64_t e = 0; e < n[T_K]; ++e) {
                set_elem(t ? s.v : s.k, e, (float)rng_normal(&g), dt);
            }
        uint32_t *perm = malloc(p.num_pages * sizeof *perm);
        if (!perm)
            FAIL("out of host memory");
        for (uint32_t i = 0; i < p.num_pages; ++i)
            perm[i] = i;
        for (uint32_t i = p.num_pages; i > 1; --i) {
            uint32_t j = (uint32_t)rng_below(&g, i), x = perm[i - 1];
            perm[i - 1] = perm[j];
            perm[j] = x;
        }
        for (uint64_t i = 0; i < n[T_P]; ++i)
            s.pages[i] = perm[i % p.num_pages];
        free(perm);
    }
    {
        uint32_t Hkv = p.heads_kv ? p.heads_kv : Hq;
        struct { void *dst; vkattn_strides st; uint32_t H, S; } in[3] = {
            {s.q, p.q, Hq, Sq}, {s.k, p.k, Hkv, p.seq_kv}, {s.v, p.v, Hkv, p.seq_kv}};
        for (int t = 0; t < (p.page_size ? 1 : 3); ++t)
            for (uint32_t b = 0; b < B; ++b)
                for (uint32_t h = 0; h < in[t].H; ++h)
                    for (uint32_t i = 0; i < in[t].S; ++i)
                        for (uint32_t d = 0; d < D; ++d) {
                            uint64_t e = b * in[t].st.b + h * in[t].st.h + i * in[t].st.s + d;
                            set_elem(in[t].dst, e, (float)rng_normal(&g), dt);
                        }
    }
    for (uint64_t i = 0; i < n[T_M]; ++i) /* a third masked out, every 5th row entirely */
        s.mask[i] = (uint8_t)(((rng_below(&g, 3) != 0) && ((i / p.seq_kv) % 5 != 2)) ? 1 + rng_below(&g, 255) : 0);
    memcpy(s.image + pl[T_Q].off, s.q, n[T_Q] * es);
    memcpy(s.image + pl[T_K].off, s.k, n[T_K] * es);
    memcpy(s.image + pl[T_V].off, s.v, n[T_V] * es);
    if (pl[T_QL].present)
        memcpy(s.image + pl[T_QL].off, c->ql, B * 4);
    if (pl[T_KL].present)
        memcpy(s.image + pl[T_KL].off, c->kl, B * 4);
    if (pl[T_M].present)
        memcpy(s.image + pl[T_M].off, s.mask, n[T_M]);
    if (pl[T_P].present)
        memcpy(s.image + pl[T_P].off, s.pages, n[T_P] * 4);
    for (uint64_t e = 0; e < Hq + (uint64_t)items * Hq; ++e) /* sinks N(0, 4), slopes in [0, 0.5) */
        s.logits[e] = e < Hq ? 2.0f * (float)rng_normal(&g) : 0.5f * (float)rng_uniform(&g);
    const struct { int t; const void *src; } small[] = {
        {T_QS, c->qs}, {T_KS, c->ks}, {T_SINKS, s.logits}, {T_ALIBI, s.logits + Hq},
        {T_CQ, c->cq}, {T_CK, c->ck}};
    for (size_t i = 0; i < sizeof small / sizeof small[0]; ++i)
        if (pl[small[i].t].present)
            memcpy(s.image + pl[small[i].t].off, small[i].src, n[small[i].t] * 4);
    /* The bytes the GPU may change: the elements of O and of LSE. */
    for (uint32_t b = 0; b < B; ++b)
        for (uint32_t h = 0; h < Hq; ++h)
            for (uint32_t i = 0; i < Sq; ++i) {
                uint64_t e = b * p.out.b + h * p.out.h + i * p.out.s;
                memset(s.o_bytes + pl[T_O].off + e * es, 1, (size_t)(D * es));
            }
    if (pl[T_LSE].present)
        memset(s.o_bytes + pl[T_LSE].off, 1, pl[T_LSE].size);
    if (pl[T_S].present) /* the split pass writes it, the merge reads it back */
        memset(s.o_bytes + pl[T_S].off, 1, pl[T_S].size);

    /* The reference (LSE always, to find the empty rows). */
    if (!c->invalid) {
        vkattn_problem pref = p;
        pref.has_lse = true;
        vkattn_host_tensors ht = {
            .q = s.q, .k = s.k, .v = s.v, .out = s.o_ref, .lse = s.lse_ref,
            .q_lens = p.has_q_lens ? c->ql : NULL, .kv_lens = p.has_kv_lens ? c->kl : NULL,
            .mask = n[T_M] ? s.mask : NULL, .page_table = n[T_P] ? s.pages : NULL,
            .q_start = n[T_QS] ? c->qs : NULL, .kv_start = n[T_KS] ? c->ks : NULL,
            .sinks = n[T_SINKS] ? s.logits : NULL, .alibi = n[T_ALIBI] ? s.logits + Hq : NULL,
            .cu_seqlens_q = n[T_CQ] ? c->cq : NULL, .cu_seqlens_kv = n[T_CK] ? c->ck : NULL,
        };
        if (vkattn_reference(&pref, &ht, msg, sizeof msg) != VKATTN_SUCCESS)
            FAIL("reference: %s", msg);
    }

    /* The buffer. */
    VkDevice dev = r->h.device;
    VkBufferCreateInfo bci = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = total,
        .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    if (r->vk.vkCreateBuffer(dev, &bci, r->h.allocator, &s.buffer) != VK_SUCCESS)
        FAIL("vkCreateBuffer failed");
    VkMemoryRequirements req;
    r->vk.vkGetBufferMemoryRequirements(dev, s.buffer, &req);
    const VkMemoryPropertyFlags want =
        VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    uint32_t type = UINT32_MAX;
    for (uint32_t i = 0; i < r->mem.memoryTypeCount && type == UINT32_MAX; ++i)
        if ((req.memoryTypeBits & (1u << i)) && (r->mem.memoryTypes[i].propertyFlags & want) == want)
            type = i;
    if (type == UINT32_MAX)
        FAIL("no host-visible coherent memory type");
    VkMemoryAllocateInfo mai = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
        .allocationSize = req.size,
        .memoryTypeIndex = type,
    };
    if (r->vk.vkAllocateMemory(dev, &mai, r->h.allocator, &s.memory) != VK_SUCCESS)
        FAIL("vkAllocateMemory failed");
    if (r->vk.vkBindBufferMemory(dev, s.buffer, s.memory, 0) != VK_SUCCESS)
        FAIL("vkBindBufferMemory failed");
    if (r->vk.vkMapMemory(dev, s.memory, 0, VK_WHOLE_SIZE, 0, &s.map) != VK_SUCCESS)
        FAIL("vkMapMemory failed");
    uint8_t *mapped = s.map;
    memset(mapped, pat, total); /* the whole buffer first, then the inputs */
    memcpy(mapped, s.image, total);

    vkattn_device_tensors dtn = {0};
    vkattn_buffer *bufs[T_COUNT] = {&dtn.q,      &dtn.k,       &dtn.v,    &dtn.out,
                                    &dtn.lse,    &dtn.q_lens,  &dtn.kv_lens, &dtn.mask,
                                    &dtn.page_table, &dtn.scratch, &dtn.q_start,
                                    &dtn.kv_start, &dtn.sinks, &dtn.alibi,
                                    &dtn.cu_seqlens_q, &dtn.cu_seqlens_kv};
    for (int t = 0; t < T_COUNT; ++t)
        if (pl[t].present)
            *bufs[t] = (vkattn_buffer){s.buffer, pl[t].off, pl[t].size,
                                       c->texel && (t == T_K || t == T_V) ? VKATTN_BUFFER_TEXEL : 0};

    /* Record, submit, wait. Host writes before vkQueueSubmit are visible to the device. */
    if (r->vk.vkResetCommandBuffer(r->cmd, 0) != VK_SUCCESS)
        FAIL("vkResetCommandBuffer failed");
    VkCommandBufferBeginInfo cbi = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
        .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
    };
    if (r->vk.vkBeginCommandBuffer(r->cmd, &cbi) != VK_SUCCESS)
        FAIL("vkBeginCommandBuffer failed");
    vkattn_result res = vkattn_cmd_attention(r->ctx, r->cmd, &p, &dtn);
    if (res != VKATTN_SUCCESS) {
        r->vk.vkEndCommandBuffer(r->cmd);
        FAIL("vkattn_cmd_attention: %s: %s", vkattn_result_string(res),
             vkattn_context_message(r->ctx));
    }
    VkBufferMemoryBarrier bar = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_HOST_READ_BIT,
        .srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
        .dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
        .buffer = s.buffer,
        .offset = 0,
        .size = VK_WHOLE_SIZE,
    };
    r->vk.vkCmdPipelineBarrier(r->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                             VK_PIPELINE_STAGE_HOST_BIT, 0, 0, NULL, 1, &bar, 0, NULL);
    if (r->vk.vkEndCommandBuffer(r->cmd) != VK_SUCCESS)
        FAIL("vkEndCommandBuffer failed");
    VkSubmitInfo si = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
        .commandBufferCount = 1,
        .pCommandBuffers = &r->cmd,
    };
    if (r->vk.vkResetFences(dev, 1, &r->fence) != VK_SUCCESS)
        FAIL("vkResetFences failed");
    if (r->vk.vkQueueSubmit(r->h.queue, 1, &si, r->fence) != VK_SUCCESS)
        FAIL("vkQueueSubmit failed");
    if (r->vk.vkWaitForFences(dev, 1, &r->fence, VK_TRUE, UINT64_MAX) != VK_SUCCESS) /* meson's timeout catches a hang */
        FAIL("vkWaitForFences failed or timed out");

    /* 1. Every byte that is not an element of O or LSE is as it was. */
    {
        uint64_t changed = 0, first = 0;
        for (uint64_t x = 0; x < total; ++x)
            if (!s.o_bytes[x] && mapped[x] != s.image[x]) {
                if (changed++ == 0)
                    first = x;
            }
        if (changed) {
            char where[200];
            describe(pl, first, where, sizeof where);
            FAIL("%" PRIu64 " byte(s) outside O/LSE changed; first at buffer byte %" PRIu64
                 " (%s): 0x%02x, expected 0x%02x",
                 changed, first, where, mapped[first], s.image[first]);
        }
    }
    if (c->invalid)
        goto done; /* invalid input: no values promised */

    /* 2. O and LSE against the reference; empty rows exactly 0 / -inf. */
    {
        const void *o = mapped + pl[T_O].off;
        const float *lse = p.has_lse ? (const float *)(mapped + pl[T_LSE].off) : NULL;
        const double bound = dt == VKATTN_DTYPE_F16 ? 5e-3 : dt == VKATTN_DTYPE_BF16 ? 2e-2 : 1e-4;
        for (uint32_t b = 0; b < B; ++b)
            for (uint32_t h = 0; h < Hq; ++h)
                for (uint32_t i = 0; i < Sq; ++i) {
                    uint64_t base = b * p.out.b + h * p.out.h + i * p.out.s;
                    uint64_t li = ((uint64_t)b * Hq + h) * Sq + i;
                    bool empty = isinf(s.lse_ref[li]) && s.lse_ref[li] < 0;
                    for (uint32_t d = 0; d < D; ++d) {
                        double got = elem(o, base + d, dt), ref = elem(s.o_ref, base + d, dt);
                        if (empty ? got != 0.0 : !(fabs(got - ref) <= bound))
                            FAIL("O[%u,%u,%u,%u] = %.9g, reference %.9g%s", b, h, i, d, got,
                                 ref, empty ? " (a row that sees no key must be 0)" : "");
                    }
                    if (!lse)
                        continue;
                    float got;
                    memcpy(&got, &lse[li], sizeof got);
                    float ref = s.lse_ref[li];
                    if (empty ? !(isinf(got) && got < 0)
                              : !(fabs((double)got - ref) <= bound * (1.0 + fabs(ref))))
                        FAIL("LSE[%u,%u,%u] = %.9g, reference %.9g", b, h, i, got, ref);
                }
    }
done:
    run_state_free(r, &s);
    return fail;
#undef FAIL
}

/* ---------------------------------------------------------------------------------------------
 * The suite
 * ------------------------------------------------------------------------------------------- */

static gcase *cases;
static size_t ncases;
static const uint8_t patterns[2] = {0xA5, 0xFF};

/* One run: a case on a runner with a pattern. */
typedef struct job {
    uint32_t c, r, pat;
} job;
static job *jobs;
static size_t njobs;

/* Whether runner r takes case c. */
static bool takes(const runner *r, const gcase *c)
{
    if (r->spec->words && c->p.dtype != VKATTN_DTYPE_F16)
        return false;
    if (c->form)
        return (c->form & r->spec->role) != 0;
    if (r->spec->scope == SCOPE_FORMS)
        return false;
    /* The split-KV runner takes head sizes up to 64 of the main cases (1, 3 and 64: every case
     * but a few): CPU drivers compile its larger pipelines for minutes cold, which CI pays
     * twice (test_decode, test_texel and the harness cover D = 128 and 256 there). */
    if (r->spec->kernel == VKATTN_KERNEL_SPLIT_KV && !c->form && c->p.head_dim > 64)
        return false;
    return true;
}

START_TEST(guard_case)
{
    const job *j = &jobs[_i];
    runner *r = &runners[j->r];
    const gcase *c = &cases[j->c];
    const uint8_t pat = patterns[j->pat];
    unsigned before = messages;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    const char *why = run_case(r, c, pat);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (getenv("VKATTN_GUARD_TIMES")) /* where a cold run spends its time */
        fprintf(stderr, "%8.3f s  %s [%s, 0x%02X]\n",
                (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec),
                c->name, r->name, pat);
    ck_assert_msg(why == NULL, "%s [%s, pattern 0x%02X]: %s", c->name, r->name, pat, why);
    ck_assert_msg(messages == before, "%s [%s, pattern 0x%02X]: %u validation message(s)",
                  c->name, r->name, pat, messages - before);
}
END_TEST

/* Why this device cannot run module m under any runner (NULL: it can, so some case must). */
static const char *unreachable(const char *m, const vkattn_device_info *x, bool coopmat)
{
    static char why[160];
    if (strncmp(m, "attn_coopmat_", 13) == 0) {
        if (!coopmat)
            return "no coopmat kernel on this device and build";
        snprintf(why, sizeof why, "the device's matrix shape is %ux%ux%u", x->coopmat_m,
                 x->coopmat_n, x->coopmat_k);
        char own[64];
        snprintf(own, sizeof own, "attn_coopmat_%ux%ux%u_f16", x->coopmat_m, x->coopmat_n,
                 x->coopmat_k);
        return strcmp(m, own) == 0 ? NULL : why;
    }
    if (strcmp(m, "merge_bf16w") == 0) /* bf16 never takes the split-KV kernel */
        return "bf16's merge runs in vkattn_cmd_merge only (tests/test_decode.c runs it)";
    const size_t len = strlen(m);
    if (len > 4 && strcmp(m + len - 4, "_f16") == 0 && !x->fp16_storage)
        return "no 16-bit storage (f16 runs as 32-bit words)";
    if (strstr(m, "_fast_") && !x->fp16_arithmetic)
        return "no shaderFloat16 (the fast scores)";
    if (strstr(m, "_shuffle") && (!x->subgroup_shuffle || x->min_subgroup_size < 2))
        return "no subgroup shuffles";
    const bool one_subgroup = x->subgroup_reduce && x->min_subgroup_size == x->max_subgroup_size &&
                              x->subgroup_size <= 64;
    const bool texel = strstr(m, "_texel_") || strstr(m, "_rows_");
    if ((strstr(m, "_sg_") || texel) && !one_subgroup)
        return "no fixed subgroup size with reductions (the subgroup merge)";
    if (texel && !x->push_descriptors)
        return "no push descriptors (texel views are pushed)";
    if (strstr(m, "_rows_") && (x->type != VK_PHYSICAL_DEVICE_TYPE_CPU || !x->subgroup_shuffle))
        return "the rows form is for CPU drivers with shuffles";
    return NULL;
}

/* Every module of the build ran between guard bytes on some runner, or cannot run here (said
 * on stderr with the reason). */
START_TEST(every_module_has_a_guard_case)
{
    const char *all[128], *made[512];
    const uint32_t n = vkattn_modules(all, 128);
    ck_assert_uint_le(n, 128);
    uint32_t nmade = 0;
    for (int i = 0; i < nrunners; ++i) {
        const uint32_t k = vkattn_context_pipelines(runners[i].ctx, made + nmade, 512 - nmade);
        ck_assert_uint_le(nmade + k, 512);
        nmade += k;
    }
    vkattn_device_info x;
    vkattn_context_device_info(runners[0].ctx, &x);
    bool coopmat = false;
    for (int i = 0; i < nrunners; ++i)
        coopmat = coopmat || runners[i].spec->kernel == VKATTN_KERNEL_COOPMAT;
    unsigned missing = 0, covered = 0;
    for (uint32_t i = 0; i < n; ++i) {
        bool ran = false;
        for (uint32_t j = 0; j < nmade && !ran; ++j)
            ran = strcmp(made[j], all[i]) == 0;
        const char *why = unreachable(all[i], &x, coopmat);
        if (ran) {
            covered++;
        } else if (why) {
            fprintf(stderr, "module %s: not run here: %s\n", all[i], why);
        } else {
            fprintf(stderr, "module %s: no guard case ran it\n", all[i]);
            missing++;
        }
    }
    fprintf(stderr, "%u of %u modules ran between guard bytes\n", covered, n);
    ck_assert_msg(missing == 0, "%u module(s) without a guard case (listed above)", missing);
}
END_TEST

int main(void)
{
    int rc = runner_init(&runners[0], &specs[0], NULL);
    if (rc != 0) {
        if (rc == 77)
            fprintf(stderr, "no Vulkan device: skipped\n");
        runner_destroy(&runners[0]);
        return rc;
    }
    nrunners = 1;
    for (size_t i = 1; i < N_SPECS; ++i) {
        rc = runner_init(&runners[nrunners], &specs[i], runners[0].ctx);
        if (rc == 0) {
            nrunners++;
            continue;
        }
        /* The coopmat context is refused where the device or build lacks the kernel. */
        runner_destroy(&runners[nrunners]);
        if (!specs[i].optional) {
            fprintf(stderr, "runner %s: cannot be made\n", specs[i].name);
            for (int k = nrunners - 1; k >= 0; --k)
                runner_destroy(&runners[k]);
            return 1;
        }
        fprintf(stderr, "no %s kernel here: its runs are skipped\n", specs[i].name);
    }
    case_list l = {0};
    make_cases(&l);
    bf16_cases(&l);
    make_form_cases(&l);
    cases = l.v;
    ncases = l.n;
    jobs = malloc(2 * (size_t)nrunners * ncases * sizeof *jobs);
    if (!jobs) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (uint32_t pat = 0; pat < 2; ++pat)
        for (int r = 0; r < nrunners; ++r)
            for (size_t c = 0; c < ncases; ++c)
                if (takes(&runners[r], &cases[c]))
                    jobs[njobs++] = (job){(uint32_t)c, (uint32_t)r, pat};

    Suite *s = suite_create("guard");
    TCase *tc = tcase_create("guards");
    tcase_set_timeout(tc, 0);
    tcase_add_loop_test(tc, guard_case, 0, (int)njobs);
    tcase_add_test(tc, every_module_has_a_guard_case);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK); /* the contexts are shared by every case */
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    free(cases);
    free(jobs);
    /* The borrowed runners before the owner of their device. */
    for (int i = nrunners - 1; i >= 0; --i)
        runner_destroy(&runners[i]);
    if (messages)
        fprintf(stderr, "%u validation message(s)\n", messages);
    return failed == 0 && messages == 0 ? 0 : 1;
}
