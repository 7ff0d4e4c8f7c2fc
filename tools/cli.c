#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "vkattn %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return -1;
}

void cli_init(cli *c, const char *cmd, int argc, char **argv)
{
    memset(c, 0, sizeof *c);
    c->cmd = cmd;
    c->argc = argc;
    c->argv = argv;
    c->next = 1;
}

int cli_next(cli *c)
{
    c->flag[0] = '\0';
    c->attached = NULL;
    if (c->next >= c->argc)
        return 0;
    const char *a = c->argv[c->next++];
    if (a[0] != '-' || a[1] == '\0' || strcmp(a, "--") == 0)
        return cli_error(c->cmd, "unexpected argument '%s' (see vkattn %s --help)", a, c->cmd);
    const char *eq = strchr(a, '=');
    size_t n = eq ? (size_t)(eq - a) : strlen(a);
    if (n >= sizeof c->flag)
        n = sizeof c->flag - 1;
    memcpy(c->flag, a, n);
    c->flag[n] = '\0';
    c->attached = eq ? eq + 1 : NULL;
    return 1;
}

bool cli_is(const cli *c, const char *name)
{
    return strcmp(c->flag, name) == 0;
}

const char *cli_value(cli *c)
{
    if (c->attached)
        return c->attached;
    /* "--q --k k.npy" is a forgotten value, not a file named "--k". */
    if (c->next < c->argc && strncmp(c->argv[c->next], "--", 2) != 0)
        return c->argv[c->next++];
    cli_error(c->cmd, "%s: missing value", c->flag);
    return NULL;
}

int cli_switch(const cli *c)
{
    if (c->attached)
        return cli_error(c->cmd, "%s: takes no value, got '%s'", c->flag, c->attached);
    return 0;
}

int cli_unknown(const cli *c)
{
    return cli_error(c->cmd, "unknown option '%s' (see vkattn %s --help)", c->flag, c->cmd);
}

/* A decimal integer with an optional '-', nothing else (no spaces, no '+', no hex). */
static bool parse_i64(const char *s, const char **end, int64_t *out)
{
    bool neg = *s == '-';
    uint64_t v = 0;
    if (neg)
        s++;
    if (*s < '0' || *s > '9')
        return false;
    while (*s >= '0' && *s <= '9') {
        uint64_t d = (uint64_t)(*s++ - '0');
        if (v > ((uint64_t)INT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *end = s;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return true;
}

static bool parse_whole_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    const char *end;
    return parse_i64(s, &end, out) && *end == '\0' && *out >= min && *out <= max;
}

int cli_parse_int(const cli *c, const char *text, int min, int max, int *out)
{
    int64_t v;
    if (!text)
        return -1;
    if (!parse_whole_i64(text, min, max, &v))
        return cli_error(c->cmd, "%s: expected an integer from %d to %d, got '%s'", c->flag, min,
                         max, text);
    *out = (int)v;
    return 0;
}

int cli_parse_u32(const cli *c, const char *text, uint32_t min, uint32_t max, uint32_t *out)
{
    int64_t v;
    if (!text)
        return -1;
    if (!parse_whole_i64(text, min, max, &v))
        return cli_error(c->cmd, "%s: expected an integer from %u to %u, got '%s'", c->flag,
                         (unsigned)min, (unsigned)max, text);
    *out = (uint32_t)v;
    return 0;
}

int cli_parse_float(const cli *c, const char *text, float *out)
{
    char *end;
    if (!text)
        return -1;
    float v = 0.0f;
    bool ok = (text[0] >= '0' && text[0] <= '9') || text[0] == '-' || text[0] == '.';
    if (ok) {
        v = strtof(text, &end);
        ok = end != text && *end == '\0' && isfinite(v);
    }
    if (!ok)
        return cli_error(c->cmd, "%s: expected a finite number, got '%s'", c->flag, text);
    *out = v;
    return 0;
}

int cli_parse_window(const cli *c, const char *text, int32_t *left, int32_t *right)
{
    const char *end;
    int64_t l, r;
    if (!text)
        return -1;
    if (!parse_i64(text, &end, &l) || *end != ',' || !parse_whole_i64(end + 1, -1, INT32_MAX, &r)
        || l < -1 || l > INT32_MAX)
        return cli_error(c->cmd, "%s: expected L,R with integers >= -1 (-1 = unbounded), got '%s'",
                         c->flag, text);
    *left = (int32_t)l;
    *right = (int32_t)r;
    return 0;
}

/* The index of text among n names (then *out = its value), or the error naming them all. */
static int parse_choice(const cli *c, const char *text, const char *const *names, size_t n,
                        int *out)
{
    if (!text)
        return -1;
    for (size_t i = 0; i < n; ++i)
        if (strcmp(text, names[i]) == 0) {
            *out = (int)i;
            return 0;
        }
    char list[160] = "";
    for (size_t i = 0; i < n; ++i)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", names[i],
                 i + 2 < n ? ", " : i + 1 < n ? " or " : "");
    return cli_error(c->cmd, "%s: expected %s, got '%s'", c->flag, list, text);
}

int cli_parse_align(const cli *c, const char *text, vkattn_align *out)
{
    static const char *const names[] = {"bottom-right", "top-left"}; /* enum order */
    int i = 0, rc = parse_choice(c, text, names, 2, &i);
    *out = rc == 0 ? (vkattn_align)i : *out;
    return rc;
}

int cli_parse_layout(const cli *c, const char *text, cli_layout *out)
{
    static const char *const names[] = {"bhsd", "bshd"};
    int i = 0, rc = parse_choice(c, text, names, 2, &i);
    *out = rc == 0 ? (i ? CLI_LAYOUT_BSHD : CLI_LAYOUT_BHSD) : *out;
    return rc;
}

int cli_parse_device(const cli *c, const char *text, vkattn_context_desc *desc)
{
    int64_t v;
    if (!text)
        return -1;
    if (strcmp(text, "cpu") == 0) {
        desc->kind = VKATTN_DEVICE_CPU;
        desc->device_index = 0;
    } else if (parse_whole_i64(text, 0, UINT32_MAX, &v)) {
        desc->kind = VKATTN_DEVICE_INDEX;
        desc->device_index = (uint32_t)v;
    } else {
        return cli_error(c->cmd, "%s: expected a device index (see vkattn info) or cpu, got '%s'",
                         c->flag, text);
    }
    return 0;
}

const char *cli_device_type_name(VkPhysicalDeviceType t)
{
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated";
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
    default: return "other";
    }
}

int cli_parse_parts(const cli *c, const char *text, vkattn_context_desc *desc)
{
    int64_t v;
    if (!text)
        return -1;
    if (!parse_whole_i64(text, 1, 8, &v) || (v & (v - 1)) != 0)
        return cli_error(c->cmd, "%s: expected 1, 2, 4 or 8, got '%s'", c->flag, text);
    desc->decode_parts = (uint32_t)v;
    return 0;
}

int cli_parse_kernel(const cli *c, const char *text, vkattn_context_desc *desc)
{
    /* (The names before 0.x too: split for tiled, decode for split-kv.) */
    static const char *const old[] = {"split", "decode"};
    const char *names[VKATTN_KERNEL_COOPMAT + 1];
    for (int k = VKATTN_KERNEL_AUTO; k <= VKATTN_KERNEL_COOPMAT; ++k)
        names[k] = vkattn_kernel_name((vkattn_kernel)k);
    for (int k = 0; text && k < 2; ++k)
        if (strcmp(text, old[k]) == 0)
            text = names[VKATTN_KERNEL_TILED + k];
    int k = 0, rc = parse_choice(c, text, names, VKATTN_KERNEL_COOPMAT + 1, &k);
    desc->kernel = rc == 0 ? (vkattn_kernel)k : desc->kernel;
    return rc;
}

int cli_context_option(cli *c, vkattn_context_desc *desc)
{
    int rc = 0;
    if (cli_is(c, "--validation"))
        rc = cli_switch(c), desc->validation = true;
    else if (cli_is(c, "--device"))
        rc = cli_parse_device(c, cli_value(c), desc);
    else if (cli_is(c, "--kernel"))
        rc = cli_parse_kernel(c, cli_value(c), desc);
    else if (cli_is(c, "--parts"))
        rc = cli_parse_parts(c, cli_value(c), desc);
    else
        return 0;
    return rc < 0 ? -1 : 1;
}

int cli_parse_precision(const cli *c, const char *text, vkattn_precision *out)
{
    static const char *const names[] = {"exact", "fast"}; /* enum order */
    int i = 0, rc = parse_choice(c, text, names, 2, &i);
    *out = rc == 0 ? (vkattn_precision)i : *out;
    return rc;
}

int cli_parse_u32_list(const char *cmd, const char *flag, const char *text, size_t expect,
                       uint32_t **out, size_t *count)
{
    if (!text)
        return -1;
    size_t n = 1;
    for (const char *p = text; *p; p++)
        n += *p == ',';
    uint32_t *v = malloc(n * sizeof *v);
    if (!v)
        return cli_error(cmd, "%s: out of memory", flag);
    const char *p = text;
    for (size_t i = 0; i < n; i++) {
        const char *end;
        int64_t x;
        if (*p == '-' || !parse_i64(p, &end, &x) || x > UINT32_MAX
            || *end != (i + 1 < n ? ',' : '\0')) {
            free(v);
            return cli_error(cmd, "%s: expected comma-separated integers >= 0 such as 5,3, "
                             "got '%s'", flag, text);
        }
        v[i] = (uint32_t)x;
        p = end + 1;
    }
    if (expect && n != expect) {
        free(v);
        return cli_error(cmd, "%s: expected exactly %zu value%s (one per batch item), got %zu in "
                         "'%s'", flag, expect, expect == 1 ? "" : "s", n, text);
    }
    *out = v;
    *count = n;
    return 0;
}

int cli_parse_lens(const char *cmd, const char *flag, const char *text, uint32_t batch,
                   uint32_t limit, const char *what, uint32_t **out)
{
    size_t n;
    *out = NULL;
    if (cli_parse_u32_list(cmd, flag, text, batch, out, &n))
        return -1;
    for (size_t b = 0; b < n; b++)
        if ((*out)[b] > limit) {
            cli_error(cmd, "%s: %u (batch item %zu) is larger than %s = %u", flag, (*out)[b], b,
                      what, limit);
            free(*out);
            *out = NULL;
            return -1;
        }
    return 0;
}

int cli_check_output(const char *cmd, const char *flag, const char *path)
{
    struct stat st;
    if (!*path)
        return cli_error(cmd, "%s: expected a file name, got ''", flag);
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return cli_error(cmd, "%s: '%s' is a directory (expected a file name)", flag, path);
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir)
        return cli_error(cmd, "out of memory");
    int ok = access(dir, W_OK | X_OK) == 0;
    int e = errno;
    if (!ok)
        cli_error(cmd, "%s: cannot write into directory '%s': %s", flag, dir, strerror(e));
    free(dir);
    return ok ? 0 : -1;
}

int cli_mask_flag(cli *c, cli_mask_flags *m)
{
    static const char *const names[] = {"--causal", "--align", "--window", "--q-lens",
                                        "--kv-lens", "--q-start", "--kv-start"};
    size_t i = 0;
    while (i < sizeof names / sizeof names[0] && !cli_is(c, names[i]))
        i++;
    if (i == sizeof names / sizeof names[0])
        return 0;
    if (!m->first)
        m->first = names[i];
    if (i == 0) {
        if (cli_switch(c))
            return -1;
        m->causal = true;
    } else if (i == 1) {
        if (cli_parse_align(c, cli_value(c), &m->align))
            return -1;
    } else if (i == 2) {
        if (cli_parse_window(c, cli_value(c), &m->window_left, &m->window_right))
            return -1;
        m->window = true;
    } else {
        const char *text = cli_value(c);
        if (!text)
            return -1;
        if (!*text)
            return cli_error(c->cmd, "%s: expected a value, got ''", c->flag);
        const char **lists[] = {&m->q_lens, &m->kv_lens, &m->q_start, &m->kv_start};
        *lists[i - 3] = text;
    }
    return 1;
}

void cli_seqs_free(cli_seqs *s)
{
    free(s->q_lens);
    free(s->kv_lens);
    free(s->q_start);
    free(s->kv_start);
    memset(s, 0, sizeof *s);
}

/* Each item's start plus its length (given, else none) within the sequence. */
static int check_starts(const char *cmd, const char *side, const uint32_t *start,
                        const uint32_t *lens, uint32_t batch, uint32_t seq, const char *what)
{
    for (uint32_t b = 0; start && lens && b < batch; b++)
        if ((uint64_t)start[b] + lens[b] > seq)
            return cli_error(cmd, "--%s-start: %u plus --%s-lens %u (batch item %u) is past %s = %u",
                             side, start[b], side, lens[b], b, what, seq);
    return 0;
}

int cli_mask_apply(const char *cmd, const cli_mask_flags *m, vkattn_problem *p, cli_seqs *s)
{
    memset(s, 0, sizeof *s);
    p->causal = m->causal;
    p->align = m->align;
    p->window = m->window;
    p->window_left = m->window_left;
    p->window_right = m->window_right;
    if ((m->q_lens && cli_parse_lens(cmd, "--q-lens", m->q_lens, p->batch, p->seq_q, "Sq",
                                     &s->q_lens)) ||
        (m->kv_lens && cli_parse_lens(cmd, "--kv-lens", m->kv_lens, p->batch, p->seq_kv, "Skv",
                                      &s->kv_lens)) ||
        (m->q_start && cli_parse_lens(cmd, "--q-start", m->q_start, p->batch, p->seq_q, "Sq",
                                      &s->q_start)) ||
        (m->kv_start && cli_parse_lens(cmd, "--kv-start", m->kv_start, p->batch, p->seq_kv, "Skv",
                                       &s->kv_start)) ||
        check_starts(cmd, "q", s->q_start, s->q_lens, p->batch, p->seq_q, "Sq") ||
        check_starts(cmd, "kv", s->kv_start, s->kv_lens, p->batch, p->seq_kv, "Skv"))
        return -1;
    p->has_q_lens = s->q_lens != NULL;
    p->has_kv_lens = s->kv_lens != NULL;
    p->has_q_start = s->q_start != NULL;
    p->has_kv_start = s->kv_start != NULL;
    return 0;
}

int cli_load_tuning(const char *cmd, vkattn_context ctx, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return cli_error(cmd, "--tuning: %s: %s", path, strerror(errno));
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 > cap) {
            char *grown = realloc(text, cap = len + 65536);
            if (!grown) {
                free(text);
                fclose(f);
                return cli_error(cmd, "--tuning: %s: out of memory", path);
            }
            text = grown;
        }
        size_t n = fread(text + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(text);
        return cli_error(cmd, "--tuning: %s: cannot read it", path);
    }
    uint32_t applied = 0;
    vkattn_result res = vkattn_tuning_load(ctx, text, len, &applied);
    free(text);
    if (res != VKATTN_SUCCESS)
        return cli_error(cmd, "--tuning: %s: %s", path, vkattn_context_message(ctx));
    printf("tuning: %s (%u line(s) for this device)\n", path, applied);
    return 0;
}

void cli_count_message(void *user, const char *message)
{
    ++*(unsigned *)user;
    fprintf(stderr, "validation: %s\n", message);
}
