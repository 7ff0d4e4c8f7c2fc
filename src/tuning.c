/* Tuning: the built-in table of kernel shapes per kind of device, the app's overrides, and their
 * text form (vkattn_tuning_save / vkattn_tuning_load). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define ANY_VENDOR 0u
#define ANY_TYPE VK_PHYSICAL_DEVICE_TYPE_MAX_ENUM

#define MESA_VENDOR 0x10005u /* VK_VENDOR_ID_MESA: lavapipe */

/* The built-in table: the first row matching the device (vendor, type, driver version) and the
 * class and head size wins. Limits (workgroup size, subgroup shuffles, registers) are applied
 * afterwards, by the planner (plan.c). Rows are added only for devices measured; the last rows
 * are for any device. */
static const struct builtin {
    uint32_t vendor;
    VkPhysicalDeviceType type;
    uint32_t driver_min, driver_end; /* the driver's version in [min, end) (driver_version_of);
                                        0: any */
    uint32_t head_dim_min;           /* 0: any */
    vkattn_tuning_class cls;
    vkattn_tuning t;
} builtin_table[] = {
    /* lavapipe 25.0 (Debian 12's bookworm-backports): the split-KV kernel runs 3-9x slower
     * than on 22.3 there, and attention.comp's rowwise form wins prefill from D 128. B1 H8 f32,
     * `vkattn bench --shape ... --kernel split-kv|rowwise --repeat 5`, medians in ms: S256 D128
     * 125 vs 101, causal 64 vs 45; S1024 D128 1988 vs 1488, causal 1008 vs 750; S512 D256 996
     * vs 719, causal 508 vs 435; but S256 D64 28 vs 43, causal 15 vs 22 (the split-KV kernel's).
     * 22.3 and 26.1 keep the rows below (the split-KV kernel wins there at every size). */
    {.vendor = MESA_VENDOR, .type = VK_PHYSICAL_DEVICE_TYPE_CPU,
     .driver_min = VK_MAKE_VERSION(25, 0, 0), .driver_end = VK_MAKE_VERSION(26, 0, 0),
     .head_dim_min = 128, .cls = VKATTN_TUNING_PREFILL,
     .t = {.kernel = VKATTN_KERNEL_ROWWISE, .rows = 8, .workgroup = 0, .parts = 1,
           .split_target = 1, .f16_scores = 1, .texel = 2}},
    /* CPU drivers (lavapipe, SwiftShader) run a workgroup as SIMD loops on one thread, where
     * every load is a loop over the lanes: the split-KV kernel reads each key once per
     * invocation 16 bytes at a time and uses it for 8 rows (lavapipe, B1 H8 S512 D64: 0.8
     * GFLOP/s in attention.comp, 9.5 here). A workgroup of one SIMD row (workgroup 0 = the
     * subgroup size); no key sharing (shuffles cost more than they save there: D128 with 4
     * rows, 74 ms with parts 1, 260 ms with 2); 16 workgroups keep every core busy; prefill
     * never split, so it needs no scratch. K/V through texel views where the app allows them
     * (a texel fetch is a vector gather there, not a loop: S2048 D64 1100 -> 440 ms; GQA decode
     * step at Skv 32768, 69 -> 39 ms). */
    /* f16 arithmetic runs at a fifth of f32 there (the lavapipe measurements: 20
     * against 110 GFLOP/s), so precision FAST computes as EXACT.
     * Measured, for the planner's choices on these drivers (plan.c; lavapipe 22.3, alternating
     * runs):
     * - four keys per iteration (one invocation per key): S2048 D128 prefill 850 -> 774 ms, the
     *   GQA decode step at Skv 32768 27.6 -> 22.7 ms; one for element loads (head sizes not of
     *   whole 16-byte words): D 255 compiles cold in 10 s instead of 33 s (f16; f32 9.5 vs 31);
     * - the subgroup merge (workgroup 8 = the subgroup): B4 H8 S512 D64 causal 152 -> 117 ms,
     *   and 74 -> 40 ms with one query per sequence;
     * - invocations take KV heads (HEADS): S2048 prefill D64 0.86-0.96x, D128 0.62-0.90x the
     *   time; the varlen suite's quarter-token batches 0.47x -> 0.26x (D64) and 0.40x -> 0.22x
     *   (D128) of the full ones;
     * - invocations take query rows (ROWS) against HEADS, B1 H8 S2048: D128 0.79x the time (f16
     *   0.99x), causal S4096 D128 0.75x, D256 0.53x; at D64 0.96-1.11x (f16 1.12x), so not there;
     * - at most 512 accumulators per invocation (beyond, LLVM takes minutes to compile the
     *   unrolled loops), 256 for element loads: D = 255 at two rows took 90 s (f32) and 164 s
     *   (f16) to compile on lavapipe 22.3. */
    {.vendor = ANY_VENDOR, .type = VK_PHYSICAL_DEVICE_TYPE_CPU, .cls = VKATTN_TUNING_PREFILL,
     .t = {.kernel = VKATTN_KERNEL_SPLIT_KV, .rows = 8, .workgroup = 0, .parts = 1,
           .split_target = 1, .f16_scores = 1, .texel = 2}},
    {.vendor = ANY_VENDOR, .type = VK_PHYSICAL_DEVICE_TYPE_CPU, .cls = VKATTN_TUNING_DECODE,
     .t = {.kernel = VKATTN_KERNEL_SPLIT_KV, .rows = 0, .workgroup = 0, .parts = 1,
           .split_target = 16, .f16_scores = 1, .texel = 2}},
    /* GPUs: the cooperative-matrix kernel for f16 prefill where the device and build have it
     * (matrix cores: where all GPU attention speed lives), else attention.comp's tiled form;
     * decode steps split into enough 64-invocation workgroups for a few hundred in flight; f16
     * scores for precision FAST (mobile GPUs run f16 at twice the f32 rate); K/V as storage
     * buffers (loads are coalesced there; texel views unmeasured). */
    {.vendor = ANY_VENDOR, .type = ANY_TYPE, .cls = VKATTN_TUNING_PREFILL,
     .t = {.kernel = VKATTN_KERNEL_COOPMAT, .rows = 0, .workgroup = 64, .parts = 0,
           .split_target = 1, .f16_scores = 2, .texel = 1}},
    {.vendor = ANY_VENDOR, .type = ANY_TYPE, .cls = VKATTN_TUNING_DECODE,
     .t = {.kernel = VKATTN_KERNEL_SPLIT_KV, .rows = 0, .workgroup = 64, .parts = 0,
           .split_target = 512, .f16_scores = 2, .texel = 1}},
};

vkattn_tuning_class vkattn_tuning_class_of(const vkattn_problem *p)
{
    return p->seq_q <= 16 && p->seq_kv >= 1024 ? VKATTN_TUNING_DECODE : VKATTN_TUNING_PREFILL;
}

/* The driver's version for the table: Mesa's from its driver string ("... Mesa 25.0.7 ...",
 * as VK_MAKE_VERSION: lavapipe reports driverVersion 1), else driverVersion. */
static uint32_t driver_version_of(const vkattn_device_info *info)
{
    const char *m = info->vendor_id == MESA_VENDOR ? strstr(info->driver, "Mesa ") : NULL;
    unsigned major = 0, minor = 0, patch = 0;
    if (m && sscanf(m + 5, "%u.%u.%u", &major, &minor, &patch) >= 2)
        return VK_MAKE_VERSION(major, minor, patch);
    return info->driver_version;
}

static vkattn_tuning builtin_for(const vkattn_device_info *info, vkattn_tuning_class cls,
                                 uint32_t head_dim)
{
    const uint32_t version = driver_version_of(info);
    for (size_t i = 0; i < sizeof builtin_table / sizeof builtin_table[0]; ++i) {
        const struct builtin *b = &builtin_table[i];
        if (b->cls == cls && (b->vendor == ANY_VENDOR || b->vendor == info->vendor_id) &&
            (b->type == ANY_TYPE || b->type == info->type) &&
            (!b->driver_end ||
             (version >= b->driver_min && version < b->driver_end)) &&
            head_dim >= b->head_dim_min)
            return b->t;
    }
    return (vkattn_tuning){0}; /* unreachable: the last rows match any device */
}

vkattn_tuning vkattn__tuning_resolved(const plan_device *dev, vkattn_tuning_class cls,
                                      vkattn_dtype dtype, uint32_t head_dim)
{
    vkattn_tuning t = builtin_for(&dev->info, cls, head_dim);
    static const vkattn_tuning none = {0};
    /* (The table has rows for head sizes 1..256 and f32/f16: wide heads and bf16 have none.) */
    const vkattn_tuning *set = dev->tuning && head_dim <= 256 && dtype != VKATTN_DTYPE_BF16
                                   ? &(*dev->tuning)[cls][dtype == VKATTN_DTYPE_F16][head_dim - 1]
                                   : &none;
    if (set->kernel)
        t.kernel = set->kernel;
    if (set->rows)
        t.rows = set->rows;
    if (set->workgroup)
        t.workgroup = set->workgroup;
    if (set->parts)
        t.parts = set->parts;
    if (set->split_target)
        t.split_target = set->split_target;
    if (set->f16_scores)
        t.f16_scores = set->f16_scores;
    if (set->texel)
        t.texel = set->texel;
    if (t.workgroup == 0) /* built-in "one SIMD row" */
        t.workgroup = dev->info.subgroup_size ? dev->info.subgroup_size : 8;
    return t;
}

static bool pow2_upto(uint32_t x, uint32_t max)
{
    return x == 0 || (x <= max && (x & (x - 1)) == 0);
}

/* Writes why t is out of range into msg (empty when it is fine); against ctx's device limits
 * unless ctx is NULL (a tuning for another device). */
static void check_tuning(vkattn_context ctx, const vkattn_tuning *t, char *msg, size_t size)
{
    const uint32_t max_wg = ctx ? ctx->limits.maxComputeWorkGroupInvocations : 64;
    msg[0] = '\0';
    if ((unsigned)t->kernel > VKATTN_KERNEL_COOPMAT)
        snprintf(msg, size, "kernel = %d: expected 0 (auto) to 4 (coopmat)", (int)t->kernel);
    else if (!pow2_upto(t->rows, 8))
        snprintf(msg, size, "rows = %" PRIu32 ": expected 0 (built-in), 1, 2, 4 or 8", t->rows);
    else if (!pow2_upto(t->workgroup, 64) || t->workgroup > max_wg ||
             (ctx && t->workgroup > ctx->limits.maxComputeWorkGroupSize[0]))
        snprintf(msg, size, "workgroup = %" PRIu32 ": expected 0 (built-in) or a power of two up "
                 "to 64 and the device's %" PRIu32 " invocations", t->workgroup, max_wg);
    else if (!pow2_upto(t->parts, 8))
        snprintf(msg, size, "parts = %" PRIu32 ": expected 0 (built-in), 1, 2, 4 or 8", t->parts);
    else if (t->split_target > 65536)
        snprintf(msg, size, "split_target = %" PRIu32 ": expected 0 (built-in) to 65536",
                 t->split_target);
    else if (t->f16_scores > 2)
        snprintf(msg, size, "f16_scores = %" PRIu32 ": expected 0 (built-in), 1 (no) or 2 (yes)",
                 t->f16_scores);
    else if (t->texel > 2)
        snprintf(msg, size, "texel = %" PRIu32 ": expected 0 (built-in), 1 (no) or 2 (yes)",
                 t->texel);
}

/* The slot of (cls, dtype, head_dim) in table, or NULL with the context's message set. */
static vkattn_tuning *slot_of(vkattn_context ctx, tuning_table *table, vkattn_tuning_class cls,
                              vkattn_dtype dtype, uint32_t head_dim, const char *fn)
{
    if ((unsigned)cls > VKATTN_TUNING_DECODE || (dtype != VKATTN_DTYPE_F32 && dtype != VKATTN_DTYPE_F16) ||
        head_dim < 1 || head_dim > 256) {
        vkattn__ctx_fail(ctx, VKATTN_ERROR_INVALID_ARGUMENT,
                         "%s: cls = %d, dtype = %d, head_dim = %" PRIu32 ": expected a class, a "
                         "dtype and 1..256", fn, (int)cls, (int)dtype, head_dim);
        return NULL;
    }
    return &(*table)[cls][dtype == VKATTN_DTYPE_F16][head_dim - 1];
}

static vkattn_result check_ctx(vkattn_context ctx, const char *fn)
{
    if (!ctx)
        return VKATTN_ERROR_INVALID_ARGUMENT;
    if (ctx->cpu)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_UNSUPPORTED, "%s: a CPU context has no kernels "
                                "to tune", fn);
    return VKATTN_SUCCESS;
}

vkattn_result vkattn_tuning_set(vkattn_context ctx, vkattn_tuning_class cls, vkattn_dtype dtype,
                                uint32_t head_dim, const vkattn_tuning *tuning)
{
    vkattn_result res = check_ctx(ctx, "vkattn_tuning_set");
    if (res != VKATTN_SUCCESS)
        return res;
    vkattn_tuning *slot = slot_of(ctx, &ctx->tuning, cls, dtype, head_dim, "vkattn_tuning_set");
    if (!slot)
        return VKATTN_ERROR_INVALID_ARGUMENT;
    if (!tuning) {
        memset(slot, 0, sizeof *slot);
        return VKATTN_SUCCESS;
    }
    char why[200];
    check_tuning(ctx, tuning, why, sizeof why);
    if (why[0])
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_INVALID_ARGUMENT, "tuning->%s", why);
    *slot = *tuning;
    return VKATTN_SUCCESS;
}

/* vkattn_tuning_get and _effective: the checks, then the set or the resolved tuning. */
static vkattn_result tuning_query(vkattn_context ctx, vkattn_tuning_class cls, vkattn_dtype dtype,
                                  uint32_t head_dim, vkattn_tuning *out, bool effective,
                                  const char *fn)
{
    vkattn_result res = check_ctx(ctx, fn);
    if (res != VKATTN_SUCCESS)
        return res;
    if (!out)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_INVALID_ARGUMENT, "%s: out is NULL", fn);
    const vkattn_tuning *slot = slot_of(ctx, &ctx->tuning, cls, dtype, head_dim, fn);
    if (!slot)
        return VKATTN_ERROR_INVALID_ARGUMENT;
    *out = effective ? vkattn__tuning_resolved(&ctx->dev, cls, dtype, head_dim) : *slot;
    return VKATTN_SUCCESS;
}

vkattn_result vkattn_tuning_get(vkattn_context ctx, vkattn_tuning_class cls, vkattn_dtype dtype,
                                uint32_t head_dim, vkattn_tuning *out)
{
    return tuning_query(ctx, cls, dtype, head_dim, out, false, "vkattn_tuning_get");
}

vkattn_result vkattn_tuning_effective(vkattn_context ctx, vkattn_tuning_class cls,
                                      vkattn_dtype dtype, uint32_t head_dim, vkattn_tuning *out)
{
    return tuning_query(ctx, cls, dtype, head_dim, out, true, "vkattn_tuning_effective");
}

/* ---------------------------------------------------------------------------------------------
 * The text form:
 *   vkattn-tuning 1
 *   device <vendor id> <device id> "<name>"
 *   <prefill|decode> <f32|f16> <head_dim> kernel=<auto|rowwise|split|decode|coopmat> rows=N
 *       workgroup=N parts=N split_target=N f16_scores=N texel=N
 * (texel may be absent: files written before it existed load with 0, built-in)
 * Lines starting with '#' and blank lines are ignored. Quotes and backslashes in the name are
 * written with a backslash before them.
 * ------------------------------------------------------------------------------------------- */
#define TUNING_HEADER "vkattn-tuning 1"

static const char *const class_names[2] = {"prefill", "decode"};
static const char *const dtype_names[2] = {"f32", "f16"};
/* (vkattn_kernel_name's, and those files saved before 0.x have, in enum order.) */
static const char *const old_kernel_names[5] = {"auto", "rowwise", "split", "decode", "coopmat"};

/* Appends printf output at *len when it fits in size (counting always). */
static void emit(char *text, size_t size, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void emit(char *text, size_t size, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text && *len < size ? text + *len : NULL,
                      text && *len < size ? size - *len : 0, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len += (size_t)n;
}

vkattn_result vkattn_tuning_save(vkattn_context ctx, char *text, size_t *size)
{
    vkattn_result res = check_ctx(ctx, "vkattn_tuning_save");
    if (res != VKATTN_SUCCESS)
        return res;
    if (!size)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_INVALID_ARGUMENT, "vkattn_tuning_save: size is NULL");
    /* Two passes: count, then (when it fits) write, so that nothing is half-written. */
    for (int pass = text ? 0 : 1; pass < 2; ++pass) {
        char *out = pass == 0 ? NULL : text;
        size_t cap = pass == 0 ? 0 : *size, len = 0;
        emit(out, cap, &len, TUNING_HEADER "\ndevice 0x%" PRIx32 " 0x%" PRIx32 " \"",
             ctx->info.vendor_id, ctx->info.device_id);
        for (const char *c = ctx->info.name; *c; ++c)
            emit(out, cap, &len, "%s%c", *c == '"' || *c == '\\' ? "\\" : "", *c);
        emit(out, cap, &len, "\"\n");
        for (int c = 0; c < 2; ++c)
            for (int t = 0; t < 2; ++t)
                for (int d = 0; d < 256; ++d) {
                    const vkattn_tuning *x = &ctx->tuning[c][t][d];
                    if (!x->kernel && !x->rows && !x->workgroup && !x->parts && !x->split_target &&
                        !x->f16_scores && !x->texel)
                        continue;
                    emit(out, cap, &len, "%s %s %d kernel=%s rows=%" PRIu32 " workgroup=%" PRIu32
                         " parts=%" PRIu32 " split_target=%" PRIu32 " f16_scores=%" PRIu32
                         " texel=%" PRIu32 "\n",
                         class_names[c], dtype_names[t], d + 1, vkattn_kernel_name(x->kernel), x->rows,
                         x->workgroup, x->parts, x->split_target, x->f16_scores, x->texel);
                }
        if (pass == 0) {
            if (len + 1 > *size)
                return vkattn__ctx_fail(ctx, VKATTN_ERROR_INVALID_ARGUMENT,
                                        "vkattn_tuning_save: size = %zu bytes, the text needs %zu",
                                        *size, len + 1);
        } else {
            *size = len + 1;
        }
    }
    return VKATTN_SUCCESS;
}

/* A parser over one line (NUL-terminated copy). */
typedef struct line_reader {
    char *p;
} line_reader;

static char *next_word(line_reader *r)
{
    while (*r->p == ' ' || *r->p == '\t')
        r->p++;
    if (!*r->p)
        return NULL;
    char *w = r->p;
    while (*r->p && *r->p != ' ' && *r->p != '\t')
        r->p++;
    if (*r->p)
        *r->p++ = '\0';
    return w;
}

static int index_of(const char *const *names, int n, const char *w)
{
    for (int i = 0; w && i < n; ++i)
        if (strcmp(names[i], w) == 0)
            return i;
    return -1;
}

static bool parse_u32(const char *w, uint32_t *out)
{
    if (!w || !*w || *w == '-' || *w == '+')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(w, &end, 0);
    if (errno || *end || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* "device <vendor> <device> "<name>"": whether it names this context's device. */
static bool parse_device(vkattn_context ctx, line_reader *r, bool *matches)
{
    uint32_t vendor, device;
    if (!parse_u32(next_word(r), &vendor) || !parse_u32(next_word(r), &device))
        return false;
    while (*r->p == ' ' || *r->p == '\t')
        r->p++;
    if (*r->p++ != '"')
        return false;
    char name[sizeof ctx->info.name];
    size_t n = 0;
    for (; *r->p && *r->p != '"'; ++r->p) {
        if (*r->p == '\\' && r->p[1])
            ++r->p;
        if (n + 1 >= sizeof name)
            return false;
        name[n++] = *r->p;
    }
    name[n] = '\0';
    if (*r->p++ != '"' || next_word(r))
        return false;
    *matches = vendor == ctx->info.vendor_id && device == ctx->info.device_id &&
               strcmp(name, ctx->info.name) == 0;
    return true;
}

/* One tuning line after its class word; fills t, or writes why into why (ctx: as check_tuning). */
static void parse_entry(vkattn_context ctx, line_reader *r, int *dtype, uint32_t *head_dim,
                        vkattn_tuning *t, char *why, size_t why_size)
{
    *dtype = index_of(dtype_names, 2, next_word(r));
    if (*dtype < 0 || !parse_u32(next_word(r), head_dim) || *head_dim < 1 || *head_dim > 256) {
        snprintf(why, why_size, "expected f32 or f16 and a head size 1..256 after the class");
        return;
    }
    memset(t, 0, sizeof *t);
    for (char *w; (w = next_word(r));) {
        char *eq = strchr(w, '=');
        if (!eq) {
            snprintf(why, why_size, "'%.40s': expected key=value", w);
            return;
        }
        *eq++ = '\0';
        uint32_t v = 0;
        bool ok = true;
        if (strcmp(w, "kernel") == 0) {
            int k = index_of(old_kernel_names, 5, eq);
            for (int i = 0; i < 5 && k < 0; ++i)
                if (strcmp(eq, vkattn_kernel_name((vkattn_kernel)i)) == 0)
                    k = i;
            ok = k >= 0;
            t->kernel = (vkattn_kernel)(k < 0 ? 0 : k);
        } else if ((ok = parse_u32(eq, &v)) && strcmp(w, "rows") == 0) {
            t->rows = v;
        } else if (ok && strcmp(w, "workgroup") == 0) {
            t->workgroup = v;
        } else if (ok && strcmp(w, "parts") == 0) {
            t->parts = v;
        } else if (ok && strcmp(w, "split_target") == 0) {
            t->split_target = v;
        } else if (ok && strcmp(w, "f16_scores") == 0) {
            t->f16_scores = v;
        } else if (ok && strcmp(w, "texel") == 0) {
            t->texel = v;
        } else if (ok) {
            snprintf(why, why_size, "'%.40s': expected kernel, rows, workgroup, parts, "
                     "split_target, f16_scores or texel", w);
            return;
        }
        if (!ok) {
            snprintf(why, why_size, "%.40s = '%.40s': not a valid value", w, eq);
            return;
        }
    }
    check_tuning(ctx, t, why, why_size);
}

vkattn_result vkattn_tuning_load(vkattn_context ctx, const char *text, size_t size,
                                 uint32_t *applied)
{
    vkattn_result res = check_ctx(ctx, "vkattn_tuning_load");
    if (res != VKATTN_SUCCESS)
        return res;
    if (!text)
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_INVALID_ARGUMENT, "vkattn_tuning_load: text is NULL");
    /* Parsed into a copy, applied only when every line is good. */
    tuning_table *next = malloc(sizeof *next);
    if (!next)
        return VKATTN_ERROR_OUT_OF_HOST_MEMORY;
    memcpy(next, &ctx->tuning, sizeof *next);
    uint32_t count = 0, line_no = 0;
    bool header = false, in_device = false, matches = false;
    char why[200] = "", line[512];
    size_t pos = 0;
    while (pos < size && text[pos] && !why[0]) {
        size_t end = pos;
        while (end < size && text[end] && text[end] != '\n')
            end++;
        line_no++;
        size_t n = end - pos;
        if (n > 0 && text[pos + n - 1] == '\r')
            n--;
        if (n >= sizeof line) {
            snprintf(why, sizeof why, "longer than %zu characters", sizeof line - 1);
            break;
        }
        memcpy(line, text + pos, n);
        line[n] = '\0';
        pos = end + 1;
        line_reader r = {line};
        char *w = next_word(&r);
        if (!w || w[0] == '#')
            continue;
        int cls;
        if (!header) {
            char *version = next_word(&r);
            if (strcmp(w, "vkattn-tuning") != 0 || !version || strcmp(version, "1") != 0 ||
                next_word(&r))
                snprintf(why, sizeof why, "expected the header '" TUNING_HEADER "'");
            header = true;
        } else if (strcmp(w, "vkattn-tuning") == 0) {
            char *version = next_word(&r); /* concatenated files repeat the header */
            if (!version || strcmp(version, "1") != 0 || next_word(&r))
                snprintf(why, sizeof why, "expected the header '" TUNING_HEADER "'");
        } else if (strcmp(w, "device") == 0) {
            if (!parse_device(ctx, &r, &matches))
                snprintf(why, sizeof why, "expected: device <vendor id> <device id> \"<name>\"");
            in_device = true;
        } else if ((cls = index_of(class_names, 2, w)) >= 0) {
            int dt = 0;
            uint32_t d = 1;
            vkattn_tuning t;
            if (!in_device)
                snprintf(why, sizeof why, "a tuning before any device line");
            else
                parse_entry(matches ? ctx : NULL, &r, &dt, &d, &t, why, sizeof why);
            if (!why[0] && matches) {
                (*next)[cls][dt][d - 1] = t;
                count++;
            }
        } else {
            snprintf(why, sizeof why, "'%.40s': expected vkattn-tuning, device, prefill or decode", w);
        }
    }
    if (!why[0] && !header)
        snprintf(why, sizeof why, "no '" TUNING_HEADER "' header");
    if (why[0]) {
        free(next);
        return vkattn__ctx_fail(ctx, VKATTN_ERROR_INVALID_ARGUMENT, "tuning text, line %" PRIu32
                                ": %s", line_no, why);
    }
    memcpy(&ctx->tuning, next, sizeof *next);
    free(next);
    if (applied)
        *applied = count;
    return VKATTN_SUCCESS;
}
