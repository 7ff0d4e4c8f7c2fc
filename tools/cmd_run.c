/* vkattn run: one attention on .npy files (SPEC section 4). Exit 0 on success, 2 on bad usage or
 * input (one line on stderr), 1 when the device fails. Outputs appear complete or not at all. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "npy.h"

#define CMD "run"

typedef struct run_opts {
    const char *q, *k, *v, *out, *lse, *mask, *pages, *sinks, *alibi;
    const char *cu_q, *cu_kv; /* --cu-seqlens-q/-kv texts: a packed batch (SPEC 2.1) */
    uint32_t splits; /* --splits: 0 = automatic */
    vkattn_precision precision;
    cli_mask_flags mask_flags;
    float scale, softcap;
    cli_layout layout;
    bool layout_given;
    bool bf16; /* --dtype bf16: Q, K, V are <u2 or <i2 holding bf16 bits */
    const char *dtype_given; /* --dtype's text, or NULL */
    vkattn_context_desc device;
} run_opts;

static void run_help(void)
{
    printf(
        "usage: vkattn run --q Q.npy --k K.npy --v V.npy --out O.npy [options]\n"
        "\n"
        "One attention on NumPy .npy files (format 1.0 or 2.0, C order, little-endian).\n"
        "Q, K and V are all <f4 or all <f2; O is written with Q's dtype and layout.\n"
        "\n"
        "  --q, --k, --v FILE  Q [B, Hq, Sq, D], K [B, Hkv, Skv, D], V [B, Hkv, Skv, Dv]; Hq a\n"
        "                      multiple of Hkv; Dv may differ from D (D <= 576, Dv <= 512)\n"
        "  --out FILE          O [B, Hq, Sq, Dv]\n"
        "  --lse FILE          also write the log-sum-exp [B, Hq, Sq] as <f4\n"
        "  --q-lens N,...      valid query rows per batch item (B values, each <= Sq)\n"
        "  --kv-lens N,...     valid keys per batch item (B values, each <= Skv)\n"
        "  --q-start N,...     first valid query row per batch item (left padding; B values):\n"
        "                      rows start..start+len-1 are valid, len from --q-lens or Sq-start;\n"
        "                      the causal and window rules and ALiBi count from the start\n"
        "  --kv-start N,...    first valid key per batch item, likewise\n"
        "  --causal            query i sees keys j <= i + off\n"
        "  --align A           bottom-right (default: off = kv_len - q_len) or top-left (off = 0)\n"
        "  --window L,R        query i sees keys i+off-L <= j <= i+off+R; -1 = unbounded side\n"
        "  --scale X           score scale, > 0 (default 1/sqrt(D))\n"
        "  --softcap X         scores become X * tanh(s / X) (default off)\n"
        "  --sinks FILE        <f4 [Hq]: attention sinks, one logit per query head that joins\n"
        "                      every row's softmax denominator (gpt-oss)\n"
        "  --alibi FILE        <f4 [Hq] or [B, Hq]: ALiBi slopes; scores get\n"
        "                      -slope * |p + off - r| (FlashAttention-2's rule)\n"
        "  --cu-seqlens-q N,...   a packed batch (FlashAttention-2's varlen form): B + 1\n"
        "  --cu-seqlens-kv N,...  offsets from 0 to Tq (Tk); Q, O are then [Tq, Hq, D], K, V\n"
        "                      [Tk, Hkv, D] and LSE [Hq, Tq]; item b has the rows\n"
        "                      cu[b]..cu[b+1]-1, and the rules count from its first row (not\n"
        "                      with the lens, starts, --mask, --page-table or --layout)\n"
        "  --mask FILE         |b1 or |u1 [Bm, Hm, Sq, Skv], Bm 1 or B, Hm 1 or Hq;\n"
        "                      nonzero = attend\n"
        "  --dtype T           bf16: Q, K and V are <u2 or <i2 holding bfloat16 bits (what\n"
        "                      t.view(torch.int16).numpy() gives), O is written so too;\n"
        "                      f32 or f16: as the files' <f4 or <f2 say (the default)\n"
        "  --layout L          bhsd (default) or bshd: Q, K, V, O as [B, S, H, D]; the mask and\n"
        "                      LSE keep their shapes\n"
        "  --page-table FILE   paged KV cache: <u4 or <i4 [B, P] page numbers; K and V are then\n"
        "                      [num_pages, page_size, Hkv, D] (page_size 1..1024), key j of\n"
        "                      item b is row j %% page_size of page\n"
        "                      table[b][j / page_size], and Skv = P * page_size (--kv-lens for\n"
        "                      shorter sequences)\n"
        "  --precision P       exact (default: f32 arithmetic) or fast (f16 scores where the\n"
        "                      device and its tuning allow; see vkattn.h for the bound)\n"
        "  --splits N          split the keys into N ranges (split-KV kernel; 1..256); default:\n"
        "                      chosen by the library\n"
        "  --device D          a Vulkan device index (see vkattn info) or cpu; default: the\n"
        "                      VKATTN_DEVICE variable, else the first GPU, else any Vulkan\n"
        "                      device, else cpu\n"
        "\n"
        "Exit status: 0 success, 2 bad usage or input, 1 the device failed.\n");
}

/* 0: run; 1: help was printed; -1: error printed. */
/* Whether two output paths name one file: the same directory (after resolving links and
 * "..") and the same name, whether or not the file exists yet. */
static bool same_file(const char *a, const char *b)
{
    char *ra = NULL, *rb = NULL;
    const char *na = strrchr(a, '/'), *nb = strrchr(b, '/');
    char *da = na ? strndup(a, (size_t)(na - a) + 1) : strdup(".");
    char *db = nb ? strndup(b, (size_t)(nb - b) + 1) : strdup(".");
    bool same = strcmp(a, b) == 0;
    if (!same && da && db && (ra = realpath(da, NULL)) && (rb = realpath(db, NULL)))
        same = strcmp(ra, rb) == 0 && strcmp(na ? na + 1 : a, nb ? nb + 1 : b) == 0;
    free(ra), free(rb), free(da), free(db);
    return same;
}

static int parse_args(int argc, char **argv, run_opts *o)
{
    cli c;
    int r, m;
    memset(o, 0, sizeof *o);
    cli_init(&c, CMD, argc, argv);
    while ((r = cli_next(&c)) > 0) {
        const char **path = cli_is(&c, "--q") ? &o->q : cli_is(&c, "--k") ? &o->k
                          : cli_is(&c, "--v") ? &o->v : cli_is(&c, "--out") ? &o->out
                          : cli_is(&c, "--lse") ? &o->lse : cli_is(&c, "--mask") ? &o->mask
                          : cli_is(&c, "--page-table") ? &o->pages
                          : cli_is(&c, "--sinks") ? &o->sinks : cli_is(&c, "--alibi") ? &o->alibi
                          : cli_is(&c, "--cu-seqlens-q") ? &o->cu_q
                          : cli_is(&c, "--cu-seqlens-kv") ? &o->cu_kv
                          : NULL;
        if (path) {
            if (!(*path = cli_value(&c)))
                return -1;
            if (!**path)
                return cli_error(CMD, "%s: expected a value, got ''", c.flag);
        } else if (cli_is(&c, "--help") || cli_is(&c, "-h")) {
            run_help();
            return 1;
        } else if ((m = cli_mask_flag(&c, &o->mask_flags)) != 0) {
            if (m < 0)
                return -1;
        } else if (cli_is(&c, "--scale") || cli_is(&c, "--softcap")) {
            bool scale = cli_is(&c, "--scale");
            const char *text = cli_value(&c);
            float x;
            if (cli_parse_float(&c, text, &x))
                return -1;
            if (scale ? !(x > 0.0f) : !(x >= 0.0f))
                return cli_error(CMD, "%s: expected a finite number %s 0, got '%s'", c.flag,
                                 scale ? ">" : ">=", text);
            *(scale ? &o->scale : &o->softcap) = x;
        } else if (cli_is(&c, "--splits")) {
            const char *text = cli_value(&c);
            char *end = NULL;
            unsigned long n = text ? strtoul(text, &end, 10) : 0;
            if (!text)
                return -1;
            if (!*text || *end || text[0] == '-' || n < 1 || n > 256)
                return cli_error(CMD, "--splits: expected an integer in 1..256, got '%s'", text);
            o->splits = (uint32_t)n;
        } else if (cli_is(&c, "--precision")) {
            if (cli_parse_precision(&c, cli_value(&c), &o->precision))
                return -1;
        } else if (cli_is(&c, "--dtype")) {
            const char *text = cli_value(&c);
            if (!text)
                return -1;
            if (strcmp(text, "bf16") != 0 && strcmp(text, "f32") != 0 && strcmp(text, "f16") != 0)
                return cli_error(CMD, "--dtype: expected f32, f16 or bf16, got '%s'", text);
            o->bf16 = strcmp(text, "bf16") == 0;
            o->dtype_given = text;
        } else if (cli_is(&c, "--layout")) {
            if (cli_parse_layout(&c, cli_value(&c), &o->layout))
                return -1;
            o->layout_given = true;
        } else if (cli_is(&c, "--device")) {
            if (cli_parse_device(&c, cli_value(&c), &o->device))
                return -1;
        } else {
            return cli_unknown(&c);
        }
    }
    if (r < 0)
        return -1;
    const char *missing = !o->q ? "--q" : !o->k ? "--k" : !o->v ? "--v" : !o->out ? "--out" : NULL;
    if (missing)
        return cli_error(CMD, "missing %s (required: --q, --k, --v and --out; see vkattn run "
                         "--help)", missing);
    if (o->cu_q || o->cu_kv) {
        const char *given = o->cu_q ? "--cu-seqlens-q" : "--cu-seqlens-kv";
        if (!o->cu_q || !o->cu_kv)
            return cli_error(CMD, "%s: given without %s (a packed batch needs both)", given,
                             o->cu_q ? "--cu-seqlens-kv" : "--cu-seqlens-q");
        const char *other = o->mask_flags.q_lens ? "--q-lens" : o->mask_flags.kv_lens ? "--kv-lens"
                          : o->mask_flags.q_start ? "--q-start"
                          : o->mask_flags.kv_start ? "--kv-start" : o->mask ? "--mask"
                          : o->pages ? "--page-table" : o->layout_given ? "--layout" : NULL;
        if (other)
            return cli_error(CMD, "%s: not with --cu-seqlens-q (a packed batch takes its rows "
                             "from cu_seqlens, its tensors are [T, H, D])", other);
    }
    if (o->lse && same_file(o->lse, o->out))
        return cli_error(CMD, "--lse: '%s' names the same file as --out ('%s')", o->lse, o->out);
    return 0;
}

static int load(const char *flag, const char *path, npy_array *a)
{
    char err[512];
    if (npy_read(path, a, err, sizeof err))
        return cli_error(CMD, "%s: %s", flag, err);
    return 0;
}

/* [B, H, S, D] of a rank-4 tensor in the given layout, each fitting in u32. */
static int dims(const char *flag, const char *path, const npy_array *a, cli_layout layout,
                uint32_t d[4])
{
    char s[256];
    npy_format_shape(a->ndim, a->shape, s, sizeof s);
    if (a->ndim != 4)
        return cli_error(CMD, "%s: %s has shape %s (expected 4 dimensions: %s)", flag, path, s,
                         layout == CLI_LAYOUT_BSHD ? "[B, S, H, D] for --layout bshd"
                                                   : "[B, H, S, D] for --layout bhsd");
    for (int i = 0; i < 4; i++)
        if (a->shape[i] > UINT32_MAX)
            return cli_error(CMD, "%s: %s has shape %s (a dimension is larger than %u)", flag,
                             path, s, (unsigned)UINT32_MAX);
    d[0] = (uint32_t)a->shape[0];
    d[1] = (uint32_t)a->shape[layout == CLI_LAYOUT_BSHD ? 2 : 1];
    d[2] = (uint32_t)a->shape[layout == CLI_LAYOUT_BSHD ? 1 : 2];
    d[3] = (uint32_t)a->shape[3];
    return 0;
}

/* [1, H, T, D] of a packed batch's rank-3 tensor [T, H, D], each fitting in u32. */
static int packed_dims(const char *flag, const char *path, const npy_array *a, uint32_t d[4])
{
    char s[256];
    npy_format_shape(a->ndim, a->shape, s, sizeof s);
    if (a->ndim != 3)
        return cli_error(CMD, "%s: %s has shape %s (expected 3 dimensions, [T, H, D], with "
                         "--cu-seqlens-q)", flag, path, s);
    for (int i = 0; i < 3; i++)
        if (a->shape[i] > UINT32_MAX)
            return cli_error(CMD, "%s: %s has shape %s (a dimension is larger than %u)", flag,
                             path, s, (unsigned)UINT32_MAX);
    d[0] = 1;
    d[1] = (uint32_t)a->shape[1];
    d[2] = (uint32_t)a->shape[0];
    d[3] = (uint32_t)a->shape[2];
    return 0;
}

/* Fills the problem's sizes from the loaded tensors, checking that they agree. */
/* A paged K/V ([num_pages, page_size, Hkv, D]) and its page table [B, P] as dims of the
 * logical K: dk = {B, Hkv, P * page_size, D}; the paging fields go into p. */
static int paged_dims(const run_opts *o, const npy_array *k, const npy_array *t, uint32_t dk[4],
                      vkattn_problem *p)
{
    char s[256];
    npy_format_shape(t->ndim, t->shape, s, sizeof s);
    if (strcmp(t->dtype, "<u4") != 0 && strcmp(t->dtype, "<i4") != 0)
        return cli_error(CMD, "--page-table: %s has dtype '%s' (expected '<u4' or '<i4')",
                         o->pages, t->dtype);
    if (t->ndim != 2 || t->shape[0] == 0 || t->shape[1] == 0 || t->shape[1] > UINT32_MAX)
        return cli_error(CMD, "--page-table: %s has shape %s (expected [B, pages per sequence])",
                         o->pages, s);
    npy_format_shape(k->ndim, k->shape, s, sizeof s);
    if (k->ndim != 4 || k->shape[0] == 0 || k->shape[0] > UINT32_MAX || k->shape[1] > 1024 ||
        k->shape[1] == 0 || k->shape[2] > UINT32_MAX || k->shape[3] > UINT32_MAX)
        return cli_error(CMD, "--k: %s has shape %s (expected [num_pages, page_size, Hkv, D] with "
                         "--page-table, page_size 1..1024)", o->k, s);
    const uint64_t skv = t->shape[1] * k->shape[1];
    if (skv > VKATTN_MAX_SEQ)
        return cli_error(CMD, "--page-table: %s: %llu pages of %llu keys exceed %u keys", o->pages,
                         (unsigned long long)t->shape[1], (unsigned long long)k->shape[1],
                         (unsigned)VKATTN_MAX_SEQ);
    const int32_t *e = t->data;
    for (uint64_t i = 0; i < t->shape[0] * t->shape[1]; ++i)
        if (e[i] < 0 && strcmp(t->dtype, "<i4") == 0)
            return cli_error(CMD, "--page-table: %s: entry [%llu][%llu] = %d (expected a page "
                             "number >= 0)", o->pages, (unsigned long long)(i / t->shape[1]),
                             (unsigned long long)(i % t->shape[1]), e[i]);
    dk[0] = (uint32_t)t->shape[0];
    dk[1] = (uint32_t)k->shape[2];
    dk[2] = (uint32_t)skv;
    dk[3] = (uint32_t)k->shape[3];
    p->page_size = (uint32_t)k->shape[1];
    p->num_pages = (uint32_t)k->shape[0];
    p->pages_per_seq = (uint32_t)t->shape[1];
    return 0;
}

static int check_inputs(const run_opts *o, const npy_array *q, const npy_array *k,
                        const npy_array *v, const npy_array *m, const npy_array *t,
                        vkattn_problem *p)
{
    uint32_t dq[4], dk[4];
    vkattn_problem paged = {0};
    char sk[256], sv[256];
    if (o->bf16 && strcmp(q->dtype, "<u2") != 0 && strcmp(q->dtype, "<i2") != 0)
        return cli_error(CMD, "--q: %s has dtype '%s' (expected '<u2' or '<i2' holding bf16 bits "
                         "with --dtype bf16)", o->q, q->dtype);
    if (!o->bf16 && strcmp(q->dtype, "<f4") != 0 && strcmp(q->dtype, "<f2") != 0)
        return cli_error(CMD, "--q: %s has dtype '%s' (expected '<f4' or '<f2'%s)", o->q, q->dtype,
                         strcmp(q->dtype, "<u2") == 0 || strcmp(q->dtype, "<i2") == 0
                             ? ", or --dtype bf16 for bf16 bits" : "");
    if (o->dtype_given && !o->bf16 &&
        strcmp(q->dtype, strcmp(o->dtype_given, "f32") == 0 ? "<f4" : "<f2") != 0)
        return cli_error(CMD, "--dtype %s: %s has dtype '%s'", o->dtype_given, o->q, q->dtype);
    if (strcmp(k->dtype, q->dtype) != 0)
        return cli_error(CMD, "--k: %s has dtype '%s' but Q has '%s' (Q, K and V must have the "
                         "same dtype)", o->k, k->dtype, q->dtype);
    if (strcmp(v->dtype, q->dtype) != 0)
        return cli_error(CMD, "--v: %s has dtype '%s' but Q has '%s' (Q, K and V must have the "
                         "same dtype)", o->v, v->dtype, q->dtype);
    if (o->cu_q ? packed_dims("--q", o->q, q, dq) || packed_dims("--k", o->k, k, dk)
                : dims("--q", o->q, q, o->layout, dq) ||
                      (o->pages ? paged_dims(o, k, t, dk, &paged) : dims("--k", o->k, k, o->layout, dk)))
        return -1;
    npy_format_shape(k->ndim, k->shape, sk, sizeof sk);
    npy_format_shape(v->ndim, v->shape, sv, sizeof sv);
    /* V is K's shape but for its last dimension, Dv (SPEC 1). */
    if (v->ndim != k->ndim || memcmp(v->shape, k->shape, (size_t)(k->ndim - 1) * sizeof k->shape[0]) != 0 ||
        v->shape[v->ndim - 1] == 0 || v->shape[v->ndim - 1] > UINT32_MAX)
        return cli_error(CMD, "--v: %s has shape %s but K has %s (V must have K's shape but "
                         "for its last dimension, Dv)", o->v, sv, sk);
    if (dk[0] != dq[0])
        return cli_error(CMD, "%s: %s has B = %u but Q has B = %u", o->pages ? "--page-table" : "--k",
                         o->pages ? o->pages : o->k, dk[0], dq[0]);
    if (dk[3] != dq[3])
        return cli_error(CMD, "--k: %s has D = %u but Q has D = %u", o->k, dk[3], dq[3]);
    if (dk[1] == 0 || dq[1] % dk[1] != 0)
        return cli_error(CMD, "--k: Q's Hq = %u is not a multiple of K's Hkv = %u", dq[1], dk[1]);

    memset(p, 0, sizeof *p);
    p->batch = dq[0];
    p->heads_q = dq[1];
    p->seq_q = dq[2];
    p->head_dim = dq[3];
    p->heads_kv = dk[1];
    p->seq_kv = dk[2];
    p->head_dim_v = (uint32_t)v->shape[v->ndim - 1];
    p->dtype = o->bf16 ? VKATTN_DTYPE_BF16
               : strcmp(q->dtype, "<f2") == 0 ? VKATTN_DTYPE_F16 : VKATTN_DTYPE_F32;
    p->page_size = paged.page_size;
    p->num_pages = paged.num_pages;
    p->pages_per_seq = paged.pages_per_seq;
    p->kv_splits = o->splits;
    p->precision = o->precision;
    if (o->cu_q) { /* [T, H, D]; B from the offsets (set by the caller) */
        p->packed = true;
        p->seq_q = dq[2];
        p->seq_kv = dk[2];
    } else if (o->layout == CLI_LAYOUT_BSHD) {
        p->q = p->out = vkattn_strides_bshd(p->heads_q, p->seq_q, p->head_dim);
        p->out = vkattn_strides_bshd(p->heads_q, p->seq_q, p->head_dim_v);
        if (!o->pages) {
            p->k = vkattn_strides_bshd(p->heads_kv, p->seq_kv, p->head_dim);
            p->v = vkattn_strides_bshd(p->heads_kv, p->seq_kv, p->head_dim_v);
        }
    }
    if (o->mask) {
        char sm[256];
        npy_format_shape(m->ndim, m->shape, sm, sizeof sm);
        if (strcmp(m->dtype, "|b1") != 0 && strcmp(m->dtype, "|u1") != 0)
            return cli_error(CMD, "--mask: %s has dtype '%s' (expected '|b1' or '|u1')", o->mask,
                             m->dtype);
        if (m->ndim != 4 || (m->shape[0] != 1 && m->shape[0] != p->batch)
            || (m->shape[1] != 1 && m->shape[1] != p->heads_q) || m->shape[2] != p->seq_q
            || m->shape[3] != p->seq_kv)
            return cli_error(CMD, "--mask: %s has shape %s (expected [1 or B, 1 or Hq, Sq, Skv] "
                             "= [%s%u, %s%u, %u, %u])", o->mask, sm, p->batch > 1 ? "1 or " : "",
                             p->batch, p->heads_q > 1 ? "1 or " : "", p->heads_q, p->seq_q,
                             p->seq_kv);
        p->mask_batch = (uint32_t)m->shape[0];
        p->mask_heads = (uint32_t)m->shape[1];
    }
    return 0;
}

/* --cu-seqlens-q/-kv: B + 1 values each (the library checks that they run from 0 to the
 * token counts); sets B. */
static int parse_cu(const run_opts *o, vkattn_problem *p, uint32_t **cu_q, uint32_t **cu_kv)
{
    size_t nq = 0, nk = 0;
    if (cli_parse_u32_list(CMD, "--cu-seqlens-q", o->cu_q, 0, cu_q, &nq))
        return -1;
    if (nq < 2)
        return cli_error(CMD, "--cu-seqlens-q: expected B + 1 >= 2 values (0 and the offset past "
                         "each batch item), got '%s'", o->cu_q);
    if (nq - 1 > UINT32_MAX - 1)
        return cli_error(CMD, "--cu-seqlens-q: too many values");
    if (cli_parse_u32_list(CMD, "--cu-seqlens-kv", o->cu_kv, 0, cu_kv, &nk))
        return -1;
    if (nk != nq)
        return cli_error(CMD, "--cu-seqlens-kv: expected B + 1 = %zu values, as --cu-seqlens-q "
                         "has, got %zu in '%s'", nq, nk, o->cu_kv);
    p->batch = (uint32_t)(nq - 1);
    return 0;
}

/* --sinks ([Hq]) and --alibi ([Hq] or [B, Hq]): <f4 of those shapes. */
static int check_logits(const run_opts *o, const npy_array *sinks, const npy_array *alibi,
                        vkattn_problem *p)
{
    char s[256];
    if (o->sinks) {
        npy_format_shape(sinks->ndim, sinks->shape, s, sizeof s);
        if (strcmp(sinks->dtype, "<f4") != 0)
            return cli_error(CMD, "--sinks: %s has dtype '%s' (expected '<f4')", o->sinks,
                             sinks->dtype);
        if (sinks->ndim != 1 || sinks->shape[0] != p->heads_q)
            return cli_error(CMD, "--sinks: %s has shape %s (expected [Hq] = [%u])", o->sinks, s,
                             p->heads_q);
        p->has_sinks = true;
    }
    if (o->alibi) {
        npy_format_shape(alibi->ndim, alibi->shape, s, sizeof s);
        if (strcmp(alibi->dtype, "<f4") != 0)
            return cli_error(CMD, "--alibi: %s has dtype '%s' (expected '<f4')", o->alibi,
                             alibi->dtype);
        if (alibi->ndim == 1 && alibi->shape[0] == p->heads_q)
            p->alibi = VKATTN_ALIBI_HEADS;
        else if (alibi->ndim == 2 && alibi->shape[0] == p->batch && alibi->shape[1] == p->heads_q)
            p->alibi = VKATTN_ALIBI_BATCH_HEADS;
        else
            return cli_error(CMD, "--alibi: %s has shape %s (expected [Hq] = [%u] or [B, Hq] = "
                             "[%u, %u])", o->alibi, s, p->heads_q, p->batch, p->heads_q);
    }
    return 0;
}

/* Writes O and LSE to temporary files, then renames both into place: if any step fails, no
 * output is left (an O already renamed is removed again). */
static int write_outputs(const run_opts *o, const npy_array *q, const vkattn_problem *p,
                         const void *out, const float *lse)
{
    char err[512];
    npy_pending po, pl = {0};
    /* LSE: [B, Hq, Sq], or [Hq, Tq] for a packed batch */
    uint64_t lshape[3] = {p->batch, p->heads_q, p->seq_q};
    const uint64_t *ls = p->packed ? lshape + 1 : lshape;
    /* O: Q's shape with V's head size Dv last */
    uint64_t oshape[NPY_MAX_DIMS];
    memcpy(oshape, q->shape, (size_t)q->ndim * sizeof oshape[0]);
    oshape[q->ndim - 1] = p->head_dim_v;
    if (npy_write_pending(o->out, q->dtype, q->ndim, oshape, out, &po, err, sizeof err))
        return cli_error(CMD, "--out: %s", err);
    if (o->lse && npy_write_pending(o->lse, "<f4", p->packed ? 2 : 3, ls, lse, &pl, err, sizeof err)) {
        npy_discard(&po);
        return cli_error(CMD, "--lse: %s", err);
    }
    if (npy_commit(&po, err, sizeof err)) {
        npy_discard(&pl);
        return cli_error(CMD, "--out: %s", err);
    }
    if (o->lse && npy_commit(&pl, err, sizeof err)) {
        unlink(o->out);
        return cli_error(CMD, "--lse: %s (the --out file was removed again)", err);
    }
    return 0;
}

int cmd_run(int argc, char **argv)
{
    run_opts o;
    int status = 2, r = parse_args(argc, argv, &o);
    if (r)
        return r > 0 ? 0 : 2;

    npy_array q = {0}, k = {0}, v = {0}, m = {0}, pt = {0}, sk = {0}, al = {0};
    cli_seqs seqs = {0};
    uint32_t *cu_q = NULL, *cu_kv = NULL;
    void *out = NULL;
    float *lse = NULL;
    vkattn_context ctx = NULL;
    vkattn_problem p;
    char msg[512];

    if (cli_check_output(CMD, "--out", o.out) || (o.lse && cli_check_output(CMD, "--lse", o.lse)))
        goto done;
    if (load("--q", o.q, &q) || load("--k", o.k, &k) || load("--v", o.v, &v)
        || (o.mask && load("--mask", o.mask, &m)) || (o.pages && load("--page-table", o.pages, &pt))
        || (o.sinks && load("--sinks", o.sinks, &sk)) || (o.alibi && load("--alibi", o.alibi, &al)))
        goto done;
    if (check_inputs(&o, &q, &k, &v, &m, &pt, &p) || (o.cu_q && parse_cu(&o, &p, &cu_q, &cu_kv)) ||
        check_logits(&o, &sk, &al, &p))
        goto done;
    if (cli_mask_apply(CMD, &o.mask_flags, &p, &seqs))
        goto done;
    p.scale = o.scale;
    p.softcap = o.softcap;
    p.has_lse = o.lse != NULL;
    if (vkattn_problem_check(&p, msg, sizeof msg) != VKATTN_SUCCESS) {
        cli_error(CMD, "%s", msg);
        goto done;
    }

    /* O has Q's shape (with Dv last) and dtype; LSE is [B, Hq, Sq] (packed: [Hq, Tq]) f32. */
    out = malloc(vkattn_problem_extent(&p, 'o') * (p.dtype == VKATTN_DTYPE_F32 ? 4 : 2));
    lse = o.lse ? malloc((size_t)vkattn_problem_extent(&p, 'l') * sizeof *lse) : NULL;
    if (!out || (o.lse && !lse)) {
        cli_error(CMD, "out of memory for the outputs");
        goto done;
    }

    vkattn_result res = vkattn_context_create(&o.device, &ctx);
    if (res != VKATTN_SUCCESS) {
        /* A device index that does not exist is bad input; anything else the device's fault. */
        bool input = res == VKATTN_ERROR_NO_DEVICE || res == VKATTN_ERROR_INVALID_ARGUMENT;
        const char *env = getenv("VKATTN_DEVICE");
        if (o.device.kind == VKATTN_DEVICE_INDEX)
            cli_error(CMD, "--device %u: cannot use this device: %s%s", o.device.device_index,
                      vkattn_result_string(res), input ? " (see vkattn info)" : "");
        else if (o.device.kind == VKATTN_DEVICE_DEFAULT && env && *env)
            cli_error(CMD, "VKATTN_DEVICE=%s: cannot use this device: %s%s", env,
                      vkattn_result_string(res), input ? " (expected cpu or an index, see "
                      "vkattn info)" : "");
        else
            cli_error(CMD, "cannot create a context on %s: %s", o.device.kind == VKATTN_DEVICE_CPU
                      ? "the CPU" : "the default device", vkattn_result_string(res));
        status = input ? 2 : 1;
        goto done;
    }

    vkattn_host_tensors t = {
        .q = q.data, .k = k.data, .v = v.data, .out = out, .lse = lse,
        .q_lens = seqs.q_lens, .kv_lens = seqs.kv_lens, .mask = m.data, .page_table = pt.data,
        .q_start = seqs.q_start, .kv_start = seqs.kv_start, .sinks = sk.data, .alibi = al.data,
        .cu_seqlens_q = cu_q, .cu_seqlens_kv = cu_kv,
    };
    res = vkattn_attention(ctx, &p, &t);
    if (res != VKATTN_SUCCESS) {
        const char *why = vkattn_context_message(ctx);
        /* UNSUPPORTED: what this device or kernel cannot take (SPEC 4: exit 2, saying why). */
        bool input = res == VKATTN_ERROR_INVALID_ARGUMENT || res == VKATTN_ERROR_UNSUPPORTED;
        cli_error(CMD, "%s%s%s%s", input ? "" : "the device failed: ", vkattn_result_string(res),
                  why && *why ? ": " : "", why && *why ? why : "");
        status = input ? 2 : 1;
        goto done;
    }
    if (write_outputs(&o, &q, &p, out, lse))
        goto done;
    status = 0;
done:
    vkattn_context_destroy(ctx);
    free(out);
    free(lse);
    cli_seqs_free(&seqs);
    free(cu_q);
    free(cu_kv);
    npy_free(&q);
    npy_free(&k);
    npy_free(&v);
    npy_free(&m);
    npy_free(&pt);
    npy_free(&sk);
    npy_free(&al);
    return status;
}
