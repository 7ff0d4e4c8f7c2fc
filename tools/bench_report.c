/* The table's case names, the JSON and CSV files of vkattn bench, and --compare (see
 * bench_report.h). */
#include "bench_report.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"

#ifndef VKATTN_GIT
#define VKATTN_GIT "unknown"
#endif

/* ---------------------------------------------------------------------------------------------
 * Case names
 * ------------------------------------------------------------------------------------------- */
static void appendf(char *buf, size_t size, size_t *pos, const char *fmt, ...)
{
    va_list ap;
    if (*pos >= size)
        return;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *pos, size - *pos, fmt, ap);
    va_end(ap);
    if (k > 0)
        *pos += (size_t)k;
}

/* The fields of a name, from a problem or from a row of a JSON file. */
typedef struct name_fields {
    uint32_t b, hq, hkv, sq, skv, d, dv; /* dv 0: = d */
    const char *dtype;
    bool causal, window, top_left, varlen, left_pad, sinks, alibi, packed;
    int wl, wr;
} name_fields;

static size_t problem_name(const name_fields *f, char *buf, size_t size)
{
    size_t pos = 0;
    buf[0] = '\0';
    appendf(buf, size, &pos, "B%u H%u", f->b, f->hq);
    if (f->hkv != f->hq)
        appendf(buf, size, &pos, "/%u", f->hkv);
    appendf(buf, size, &pos, " S%u", f->sq);
    if (f->skv != f->sq)
        appendf(buf, size, &pos, "x%u", f->skv);
    appendf(buf, size, &pos, " D%u", f->d);
    if (f->dv && f->dv != f->d)
        appendf(buf, size, &pos, " Dv%u", f->dv);
    appendf(buf, size, &pos, " %s", f->dtype);
    if (f->causal)
        appendf(buf, size, &pos, " causal");
    if (f->window)
        appendf(buf, size, &pos, " window %d,%d", f->wl, f->wr);
    if ((f->causal || f->window) && f->top_left)
        appendf(buf, size, &pos, " top-left");
    if (f->varlen)
        appendf(buf, size, &pos, " varlen");
    if (f->left_pad)
        appendf(buf, size, &pos, " left-pad");
    if (f->packed)
        appendf(buf, size, &pos, " packed");
    if (f->sinks)
        appendf(buf, size, &pos, " sinks");
    if (f->alibi)
        appendf(buf, size, &pos, " alibi");
    return pos;
}

static const char *dtype_name(vkattn_dtype dt)
{
    return dt == VKATTN_DTYPE_F16 ? "f16" : dt == VKATTN_DTYPE_BF16 ? "bf16" : "f32";
}

static const char *layout_name(const bench_case *c)
{
    return c->bshd ? "bshd" : "bhsd";
}

void bench_case_name(const bench_case *c, char *buf, size_t size)
{
    const vkattn_problem *p = &c->p;
    name_fields f = {p->batch, p->heads_q, p->heads_kv, p->seq_q, p->seq_kv, p->head_dim,
                     p->head_dim_v, dtype_name(p->dtype), p->causal, p->window,
                     p->align == VKATTN_ALIGN_TOP_LEFT, c->q_lens || c->kv_lens,
                     c->q_start || c->kv_start, p->has_sinks, p->alibi != VKATTN_ALIBI_NONE,
                     p->packed, p->window_left, p->window_right};
    problem_name(&f, buf, size);
    if (c->bshd && strlen(buf) + 1 < size)
        snprintf(buf + strlen(buf), size - strlen(buf), " bshd");
    if (p->precision == VKATTN_PRECISION_FAST && strlen(buf) + 1 < size)
        snprintf(buf + strlen(buf), size - strlen(buf), " fast");
    if (c->tag[0] && strlen(buf) + 1 < size)
        snprintf(buf + strlen(buf), size - strlen(buf), " %s", c->tag);
}

/* ---------------------------------------------------------------------------------------------
 * JSON and CSV
 * ------------------------------------------------------------------------------------------- */
double bench_sig6(double x)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%.6g", x);
    return strtod(buf, NULL);
}

static cJSON *json_u32_list(const uint32_t *v, uint32_t n)
{
    if (!v)
        return cJSON_CreateNull();
    cJSON *a = cJSON_CreateArray();
    for (uint32_t i = 0; a && i < n; ++i)
        if (!cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]))) {
            cJSON_Delete(a);
            return NULL;
        }
    return a;
}

/* A number with six significant digits, or null when not known (has is false). */
static cJSON *json_opt(bool has, double x)
{
    return has ? cJSON_CreateNumber(bench_sig6(x)) : cJSON_CreateNull();
}

/* Adds item to o under key; false (item freed) on failure. */
static bool json_add(cJSON *o, const char *key, cJSON *item)
{
    if (item && cJSON_AddItemToObject(o, key, item))
        return true;
    cJSON_Delete(item);
    return false;
}

static bool json_row(cJSON *rows, const bench_case *c, const bench_row *r)
{
    const vkattn_problem *p = &c->p;
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToArray(rows, o)) {
        cJSON_Delete(o);
        return false;
    }
    int window[2] = {p->window ? p->window_left : -1, p->window ? p->window_right : -1};
    return cJSON_AddNumberToObject(o, "B", p->batch) &&
           cJSON_AddNumberToObject(o, "Hq", p->heads_q) &&
           cJSON_AddNumberToObject(o, "Hkv", p->heads_kv) &&
           cJSON_AddNumberToObject(o, "Sq", p->seq_q) &&
           cJSON_AddNumberToObject(o, "Skv", p->seq_kv) &&
           cJSON_AddNumberToObject(o, "D", p->head_dim) &&
           cJSON_AddNumberToObject(o, "Dv", p->head_dim_v ? p->head_dim_v : p->head_dim) &&
           cJSON_AddStringToObject(o, "dtype", dtype_name(p->dtype)) &&
           cJSON_AddStringToObject(o, "layout", layout_name(c)) &&
           cJSON_AddBoolToObject(o, "causal", p->causal) &&
           cJSON_AddStringToObject(o, "align", p->align == VKATTN_ALIGN_TOP_LEFT
                                                   ? "top-left" : "bottom-right") &&
           json_add(o, "window", cJSON_CreateIntArray(window, 2)) &&
           json_add(o, "q_lens", json_u32_list(c->q_lens, p->batch)) &&
           json_add(o, "kv_lens", json_u32_list(c->kv_lens, p->batch)) &&
           json_add(o, "q_start", json_u32_list(c->q_start, p->batch)) &&
           json_add(o, "kv_start", json_u32_list(c->kv_start, p->batch)) &&
           json_add(o, "cu_seqlens_q", json_u32_list(c->cu_q, p->batch + 1)) &&
           json_add(o, "cu_seqlens_kv", json_u32_list(c->cu_kv, p->batch + 1)) &&
           cJSON_AddBoolToObject(o, "sinks", p->has_sinks) &&
           cJSON_AddStringToObject(o, "alibi", p->alibi == VKATTN_ALIBI_NONE ? "none"
                                               : p->alibi == VKATTN_ALIBI_HEADS ? "heads"
                                                                                : "batch_heads") &&
           cJSON_AddBoolToObject(o, "paged", c->p.page_size != 0) &&
           cJSON_AddStringToObject(o, "precision", p->precision ? "fast" : "exact") &&
           cJSON_AddStringToObject(o, "variant", r->variant) &&
           json_add(o, "splits", r->splits ? cJSON_CreateNumber(r->splits) : cJSON_CreateNull()) &&
           cJSON_AddNumberToObject(o, "ms_median", bench_sig6(r->ms_median)) &&
           cJSON_AddNumberToObject(o, "ms_min", bench_sig6(r->ms_min)) &&
           cJSON_AddNumberToObject(o, "ms_max", bench_sig6(r->ms_max)) &&
           cJSON_AddNumberToObject(o, "repeats", r->repeats) &&
           cJSON_AddNumberToObject(o, "visible_pairs", (double)r->visible_pairs) &&
           cJSON_AddNumberToObject(o, "gflops_visible", bench_sig6(r->gflops_visible)) &&
           cJSON_AddNumberToObject(o, "gflops_dense", bench_sig6(r->gflops_dense)) &&
           cJSON_AddNumberToObject(o, "gbps", bench_sig6(r->gbps)) &&
           cJSON_AddNumberToObject(o, "flop_per_byte", bench_sig6(r->flop_per_byte)) &&
           json_add(o, "pct_of_peak", json_opt(r->bound != NULL, r->pct_of_peak)) &&
           json_add(o, "bound", r->bound ? cJSON_CreateString(r->bound) : cJSON_CreateNull()) &&
           cJSON_AddStringToObject(o, "device", r->device) &&
           cJSON_AddStringToObject(o, "timer", r->timer) &&
           json_add(o, "threads", json_opt(r->threads > 0, r->threads));
}

static bool json_peak(cJSON *root, const bench_peak *pk)
{
    cJSON *o = cJSON_AddObjectToObject(root, "peak");
    bool has = pk != NULL;
    double ridge = has && pk->bandwidth_gbps > 0.0 ? pk->f32_gflops / pk->bandwidth_gbps : 0.0;
    return o && json_add(o, "f32_gflops", json_opt(has, has ? pk->f32_gflops : 0.0)) &&
           json_add(o, "f16_gflops", json_opt(has && !pk->f16_missing,
                                               has ? pk->f16_gflops : 0.0)) &&
           json_add(o, "bandwidth_gbps", json_opt(has, has ? pk->bandwidth_gbps : 0.0)) &&
           json_add(o, "read_gbps", json_opt(has && pk->read_gbps > 0.0,
                                             has ? pk->read_gbps : 0.0)) &&
           json_add(o, "copy_gbps", json_opt(has, has ? pk->copy_gbps : 0.0)) &&
           json_add(o, "ridge_flop_per_byte", json_opt(has, ridge));
}

char *bench_json_text(const bench_meta *m, const bench_case *cases, const bench_row *rows,
                      size_t n)
{
    char *text = NULL;
    cJSON *root = cJSON_CreateObject(), *o, *arr;
    if (!root)
        return NULL;
    bool ok = (o = cJSON_AddObjectToObject(root, "vkattn")) &&
              cJSON_AddStringToObject(o, "version", VKATTN_VERSION_STRING) &&
              cJSON_AddStringToObject(o, "git", VKATTN_GIT) &&
              (o = cJSON_AddObjectToObject(root, "device")) &&
              cJSON_AddStringToObject(o, "name", m->info->name) &&
              cJSON_AddStringToObject(o, "type", cli_device_type_name(m->info->type)) &&
              cJSON_AddNumberToObject(o, "vendor_id", m->info->vendor_id) &&
              cJSON_AddStringToObject(o, "driver", m->info->driver) &&
              cJSON_AddStringToObject(o, "api_version", m->api) &&
              cJSON_AddStringToObject(root, "date", m->date) &&
              (!m->peak_asked || json_peak(root, m->peak)) &&
              (arr = cJSON_AddArrayToObject(root, "rows"));
    for (size_t i = 0; ok && i < n; ++i)
        ok = json_row(arr, &cases[rows[i].case_index], &rows[i]);
    if (ok && (text = cJSON_Print(root))) {
        size_t len = strlen(text);
        char *nl = realloc(text, len + 2); /* end the file with a newline */
        if (nl) {
            text = nl;
            memcpy(text + len, "\n", 2);
        }
    }
    cJSON_Delete(root);
    return text;
}

/* A CSV field, quoted (with "" for ") when it holds a comma, quote or line break. */
static void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; ++s) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void csv_lens(FILE *f, const uint32_t *v, uint32_t n)
{
    if (!v)
        return;
    fputc('"', f);
    for (uint32_t i = 0; i < n; ++i)
        fprintf(f, "%s%u", i ? "," : "", v[i]);
    fputc('"', f);
}

/* ",x" with six significant digits, or "," alone when x is not known. */
static void csv_opt(FILE *f, bool has, double x)
{
    if (has)
        fprintf(f, ",%.6g", x);
    else
        fputc(',', f);
}

char *bench_csv_text(const bench_meta *m, const bench_case *cases, const bench_row *rows,
                     size_t n, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    if (!f)
        return NULL;
    fputs("B,Hq,Hkv,Sq,Skv,D,dtype,layout,causal,align,window,q_lens,kv_lens,paged,precision,variant,"
          "ms_median,ms_min,ms_max,repeats,visible_pairs,gflops_visible,gflops_dense,gbps,"
          "flop_per_byte,pct_of_peak,bound,device,timer,threads,driver,api_version,"
          "vkattn_version,git,date,peak_f32_gflops,peak_f16_gflops,peak_bandwidth_gbps,"
          "q_start,kv_start,sinks,alibi,cu_seqlens_q,cu_seqlens_kv,Dv,splits\n", f);
    const bench_peak *pk = m->peak;
    for (size_t i = 0; i < n; ++i) {
        const bench_row *r = &rows[i];
        const bench_case *c = &cases[r->case_index];
        const vkattn_problem *p = &c->p;
        fprintf(f, "%u,%u,%u,%u,%u,%u,%s,%s,%s,%s,\"%d,%d\",", p->batch, p->heads_q,
                p->heads_kv, p->seq_q, p->seq_kv, p->head_dim, dtype_name(p->dtype), layout_name(c),
                p->causal ? "true" : "false",
                p->align == VKATTN_ALIGN_TOP_LEFT ? "top-left" : "bottom-right",
                p->window ? p->window_left : -1, p->window ? p->window_right : -1);
        csv_lens(f, c->q_lens, p->batch);
        fputc(',', f);
        csv_lens(f, c->kv_lens, p->batch);
        fputs(p->page_size ? ",true," : ",false,", f);
        fputs(p->precision ? "fast," : "exact,", f);
        csv_field(f, r->variant);
        fprintf(f, ",%.6g,%.6g,%.6g,%d,%llu,%.6g,%.6g,%.6g,%.6g", r->ms_median, r->ms_min,
                r->ms_max, r->repeats, (unsigned long long)r->visible_pairs, r->gflops_visible,
                r->gflops_dense, r->gbps, r->flop_per_byte);
        csv_opt(f, r->bound != NULL, r->pct_of_peak);
        fprintf(f, ",%s,", r->bound ? r->bound : "");
        csv_field(f, r->device);
        fputc(',', f);
        csv_field(f, r->timer);
        csv_opt(f, r->threads > 0, r->threads);
        fputc(',', f);
        csv_field(f, m->info->driver);
        fprintf(f, ",%s,%s,", m->api, VKATTN_VERSION_STRING);
        csv_field(f, VKATTN_GIT);
        fprintf(f, ",%s", m->date);
        csv_opt(f, pk != NULL, pk ? pk->f32_gflops : 0.0);
        csv_opt(f, pk && !pk->f16_missing, pk ? pk->f16_gflops : 0.0);
        csv_opt(f, pk != NULL, pk ? pk->bandwidth_gbps : 0.0);
        fputc(',', f);
        csv_lens(f, c->q_start, p->batch);
        fputc(',', f);
        csv_lens(f, c->kv_start, p->batch);
        fprintf(f, ",%s,%s,", p->has_sinks ? "true" : "false",
                p->alibi == VKATTN_ALIBI_NONE ? "none"
                : p->alibi == VKATTN_ALIBI_HEADS ? "heads" : "batch_heads");
        csv_lens(f, c->cu_q, p->batch + 1);
        fputc(',', f);
        csv_lens(f, c->cu_kv, p->batch + 1);
        fprintf(f, ",%u,", p->head_dim_v ? p->head_dim_v : p->head_dim);
        if (r->splits)
            fprintf(f, "%u", r->splits);
        fputc('\n', f);
    }
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* ---------------------------------------------------------------------------------------------
 * --compare
 * ------------------------------------------------------------------------------------------- */
typedef struct cmp_row {
    char *key;                     /* the problem, every field that identifies it (malloc'd) */
    char name[192];                /* as in the table */
    const char *variant;           /* in the file's cJSON document */
    double ms;                     /* ms_median */
    bool used;                     /* matched to a line */
} cmp_row;

typedef struct cmp_file {
    const char *path;
    cJSON *doc;
    const char *device, *date;     /* in doc; "?" when absent */
    cmp_row *rows;
    size_t n;
} cmp_file;

static void cmp_file_free(cmp_file *f)
{
    for (size_t i = 0; i < f->n; ++i)
        free(f->rows[i].key);
    free(f->rows);
    cJSON_Delete(f->doc);
}

/* The whole file as a NUL-terminated string (malloc'd), or NULL with errno set. */
static char *read_text(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 4096) {
            char *grown = realloc(text, cap = cap * 2 + 65536);
            if (!grown) {
                free(text);
                fclose(fp);
                errno = ENOMEM;
                return NULL;
            }
            text = grown;
        }
        size_t k = fread(text + len, 1, cap - len - 1, fp);
        len += k;
        if (k == 0)
            break;
    }
    int failed = ferror(fp), saved = errno;
    fclose(fp);
    if (failed) {
        free(text);
        errno = saved ? saved : EIO;
        return NULL;
    }
    text[len] = '\0';
    return text;
}

/* An integer in [0, 2^32) under key of o, else a message in why. */
static bool get_u32(const cJSON *o, const char *key, uint32_t *out, char *why, size_t size)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(x) || x->valuedouble < 0.0 || x->valuedouble > 4294967295.0 ||
        x->valuedouble != floor(x->valuedouble)) {
        snprintf(why, size, "\"%s\" is %s", key, x ? "not an integer >= 0" : "missing");
        return false;
    }
    *out = (uint32_t)x->valuedouble;
    return true;
}

static const char *get_string(const cJSON *o, const char *key, char *why, size_t size)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(x)) {
        snprintf(why, size, "\"%s\" is %s", key, x ? "not a string" : "missing");
        return NULL;
    }
    return x->valuestring;
}

static bool get_bool(const cJSON *o, const char *key, bool *out, char *why, size_t size)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsBool(x)) {
        snprintf(why, size, "\"%s\" is %s", key, x ? "not true or false" : "missing");
        return false;
    }
    *out = cJSON_IsTrue(x);
    return true;
}

/* Appends the integer list under key (null, or an array of integers) to the key text. */
static bool key_list(FILE *k, const cJSON *o, const char *key, bool *given, char *why,
                     size_t size)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key), *e;
    *given = cJSON_IsArray(x);
    if (cJSON_IsNull(x)) {
        fprintf(k, " %s=null", key);
        return true;
    }
    if (!*given) {
        snprintf(why, size, "\"%s\" is %s", key, x ? "not null or a list" : "missing");
        return false;
    }
    fprintf(k, " %s=", key);
    cJSON_ArrayForEach(e, x) {
        if (!cJSON_IsNumber(e) || e->valuedouble != floor(e->valuedouble)) {
            snprintf(why, size, "\"%s\" holds a value that is not an integer", key);
            return false;
        }
        fprintf(k, "%.0f,", e->valuedouble);
    }
    return true;
}

/* Reads one row of a file into r; false with why set when it lacks a field. */
static bool parse_row(const cJSON *o, cmp_row *r, char *why, size_t size)
{
    name_fields f = {0};
    bool paged, ok, ql = false, kl = false;
    const char *layout = NULL, *align = NULL;
    if (!cJSON_IsObject(o)) {
        snprintf(why, size, "not an object");
        return false;
    }
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "window");
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(o, "ms_median");
    const cJSON *variant = cJSON_GetObjectItemCaseSensitive(o, "variant");
    /* Added after the first files were written: absent means exact. */
    const cJSON *prec = cJSON_GetObjectItemCaseSensitive(o, "precision");
    const bool fast = cJSON_IsString(prec) && strcmp(prec->valuestring, "fast") == 0;
    ok = get_u32(o, "B", &f.b, why, size) && get_u32(o, "Hq", &f.hq, why, size) &&
         get_u32(o, "Hkv", &f.hkv, why, size) && get_u32(o, "Sq", &f.sq, why, size) &&
         get_u32(o, "Skv", &f.skv, why, size) && get_u32(o, "D", &f.d, why, size) &&
         (f.dtype = get_string(o, "dtype", why, size)) &&
         (layout = get_string(o, "layout", why, size)) &&
         get_bool(o, "causal", &f.causal, why, size) &&
         (align = get_string(o, "align", why, size)) &&
         get_bool(o, "paged", &paged, why, size);
    if (!ok)
        return false;
    if (!cJSON_IsArray(w) || cJSON_GetArraySize(w) != 2 ||
        !cJSON_IsNumber(cJSON_GetArrayItem(w, 0)) || !cJSON_IsNumber(cJSON_GetArrayItem(w, 1))) {
        snprintf(why, size, "\"window\" is %s", w ? "not a list [L, R]" : "missing");
        return false;
    }
    if (!cJSON_IsNumber(ms)) {
        snprintf(why, size, "\"ms_median\" is %s", ms ? "not a number" : "missing");
        return false;
    }
    r->ms = ms->valuedouble;
    r->variant = cJSON_IsString(variant) ? variant->valuestring : "";
    f.wl = (int)cJSON_GetArrayItem(w, 0)->valuedouble;
    f.wr = (int)cJSON_GetArrayItem(w, 1)->valuedouble;
    f.window = f.wl != -1 || f.wr != -1;
    f.top_left = strcmp(align, "top-left") == 0;

    size_t len = 0;
    FILE *k = open_memstream(&r->key, &len);
    if (!k) {
        snprintf(why, size, "out of memory");
        return false;
    }
    fprintf(k, "B=%u Hq=%u Hkv=%u Sq=%u Skv=%u D=%u dtype=%s layout=%s causal=%d align=%s "
            "window=%d,%d paged=%d fast=%d", f.b, f.hq, f.hkv, f.sq, f.skv, f.d, f.dtype, layout,
            f.causal, align, f.wl, f.wr, paged, fast);
    ok = key_list(k, o, "q_lens", &ql, why, size) && key_list(k, o, "kv_lens", &kl, why, size);
    /* Added later: absent (older files) reads as null / none. */
    bool qs = false, ks = false;
    if (ok && cJSON_GetObjectItemCaseSensitive(o, "q_start"))
        ok = key_list(k, o, "q_start", &qs, why, size) && key_list(k, o, "kv_start", &ks, why, size);
    const cJSON *sinks = cJSON_GetObjectItemCaseSensitive(o, "sinks");
    const cJSON *alibi = cJSON_GetObjectItemCaseSensitive(o, "alibi");
    f.sinks = cJSON_IsTrue(sinks);
    f.alibi = cJSON_IsString(alibi) && strcmp(alibi->valuestring, "none") != 0;
    f.left_pad = qs || ks;
    if (ok && (f.sinks || f.alibi))
        fprintf(k, " sinks=%d alibi=%s", f.sinks, f.alibi ? alibi->valuestring : "none");
    const cJSON *dvj = cJSON_GetObjectItemCaseSensitive(o, "Dv"); /* added later: absent = D */
    f.dv = cJSON_IsNumber(dvj) ? (uint32_t)dvj->valuedouble : 0;
    if (ok && f.dv && f.dv != f.d)
        fprintf(k, " Dv=%u", f.dv);
    /* Added later, and in the key only when given: rows of older files (no field) and newer
     * ones (null) of the same problem compare. */
    bool cq = false, ck = false;
    if (ok && cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(o, "cu_seqlens_q")))
        ok = key_list(k, o, "cu_seqlens_q", &cq, why, size) &&
             key_list(k, o, "cu_seqlens_kv", &ck, why, size);
    f.packed = cq;
    if (fclose(k) != 0 && ok) {
        snprintf(why, size, "out of memory");
        ok = false;
    }
    if (!ok)
        return false;
    f.varlen = ql || kl;
    size_t pos = problem_name(&f, r->name, sizeof r->name);
    if (strcmp(layout, "bhsd") != 0)
        appendf(r->name, sizeof r->name, &pos, " %s", layout);
    if (paged)
        appendf(r->name, sizeof r->name, &pos, " paged");
    if (fast)
        appendf(r->name, sizeof r->name, &pos, " fast");
    return true;
}

/* Loads and checks one file; -1 with one line printed on failure. */
static int cmp_load(const char *cmd, const char *path, cmp_file *f)
{
    char why[160];
    memset(f, 0, sizeof *f);
    f->path = path;
    char *text = read_text(path);
    if (!text)
        return cli_error(cmd, "--compare: cannot read '%s': %s", path, strerror(errno));
    f->doc = cJSON_Parse(text);
    if (!f->doc) {
        const char *at = cJSON_GetErrorPtr();
        size_t line = 1;
        for (const char *s = text; at && s < at && *s; ++s)
            line += *s == '\n';
        free(text);
        return cli_error(cmd, "--compare: %s: not JSON (a syntax error on line %zu)", path, line);
    }
    free(text);
    const cJSON *rows = cJSON_IsObject(f->doc)
                            ? cJSON_GetObjectItemCaseSensitive(f->doc, "rows") : NULL, *r;
    if (!cJSON_IsArray(rows))
        return cli_error(cmd, "--compare: %s: not a vkattn bench file (no \"rows\" list)", path);
    const cJSON *dev = cJSON_GetObjectItemCaseSensitive(f->doc, "device");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(dev, "name");
    const cJSON *date = cJSON_GetObjectItemCaseSensitive(f->doc, "date");
    f->device = cJSON_IsString(name) ? name->valuestring : "?";
    f->date = cJSON_IsString(date) ? date->valuestring : "?";
    int n = cJSON_GetArraySize(rows);
    if (n > 0 && !(f->rows = calloc((size_t)n, sizeof *f->rows)))
        return cli_error(cmd, "--compare: %s: out of memory", path);
    cJSON_ArrayForEach(r, rows) {
        if (!parse_row(r, &f->rows[f->n], why, sizeof why)) {
            free(f->rows[f->n].key);
            return cli_error(cmd, "--compare: %s: rows[%zu]: %s", path, f->n, why);
        }
        ++f->n;
    }
    return 0;
}

/* The unused row of g for the problem of r: with the same variant when exact, else any. */
static long cmp_find(const cmp_file *g, const cmp_row *r, bool exact)
{
    for (size_t i = 0; i < g->n; ++i)
        if (!g->rows[i].used && strcmp(g->rows[i].key, r->key) == 0 &&
            (!exact || strcmp(g->rows[i].variant, r->variant) == 0))
            return (long)i;
    return -1;
}

int bench_compare(const char *cmd, const char *const *paths, int n)
{
    cmp_file *files = calloc((size_t)n, sizeof *files);
    long *lines = NULL;            /* n row indices (-1 = missing) per line */
    size_t n_lines = 0, cap = 0;
    int status = 2;
    if (!files) {
        cli_error(cmd, "out of memory");
        return 2;
    }
    for (int i = 0; i < n; ++i)
        if (cmp_load(cmd, paths[i], &files[i]))
            goto done;
    for (size_t i = 0; i < (size_t)n; ++i)
        cap += files[i].n;
    if (cap && !(lines = malloc(cap * (size_t)n * sizeof *lines))) {
        cli_error(cmd, "out of memory");
        goto done;
    }
    /* One line per row of the first file, in its order; every later file fills in its rows:
     * first those of the same problem and variant, then those of the same problem (another
     * variant, e.g. another kernel), and the rows left over make new lines. */
    for (int g = 0; g < n; ++g) {
        cmp_file *fg = &files[g];
        for (int exact = 1; exact >= 0; --exact)
            for (size_t l = 0; l < n_lines; ++l) {
                long *line = &lines[l * (size_t)n];
                if (line[g] >= 0)
                    continue;
                int first = 0;
                while (line[first] < 0)
                    ++first;
                long i = cmp_find(fg, &files[first].rows[line[first]], exact);
                if (i >= 0) {
                    line[g] = i;
                    fg->rows[i].used = true;
                }
            }
        for (size_t i = 0; i < fg->n; ++i)
            if (!fg->rows[i].used) {
                long *line = &lines[n_lines++ * (size_t)n];
                for (int h = 0; h < n; ++h)
                    line[h] = h == g ? (long)i : -1;
                fg->rows[i].used = true;
            }
    }

    int width = 4, vwidth = 7;
    for (size_t l = 0; l < n_lines; ++l)
        for (int g = 0; g < n; ++g) {
            long i = lines[l * (size_t)n + g];
            if (i >= 0) {
                const cmp_row *r = &files[g].rows[i];
                if ((int)strlen(r->name) > width)
                    width = (int)strlen(r->name);
                if ((int)strlen(r->variant) > vwidth)
                    vwidth = (int)strlen(r->variant);
                break;
            }
        }
    for (int g = 0; g < n; ++g)
        printf("[%d] %s: %s, %s, %zu rows\n", g + 1, files[g].path, files[g].device,
               files[g].date, files[g].n);
    printf("ratio [k]/[1]: the median time of file k over that of file 1 (below 1: faster)\n\n");
    printf("%-*s  %-*s", width, "case", vwidth, "variant");
    for (int g = 0; g < n; ++g) {
        char h[24];
        snprintf(h, sizeof h, "ms [%d]", g + 1);
        printf(" %12s", h);
    }
    for (int g = 1; g < n; ++g) {
        char h[24];
        snprintf(h, sizeof h, "[%d]/[1]", g + 1);
        printf(" %9s", h);
    }
    putchar('\n');
    for (size_t l = 0; l < n_lines; ++l) {
        const long *line = &lines[l * (size_t)n];
        int first = 0;
        while (line[first] < 0)
            ++first;
        const cmp_row *r = &files[first].rows[line[first]];
        printf("%-*s  %-*s", width, r->name, vwidth, r->variant);
        for (int g = 0; g < n; ++g) {
            if (line[g] < 0)
                printf(" %12s", "-");
            else
                printf(" %12.3f", files[g].rows[line[g]].ms);
        }
        for (int g = 1; g < n; ++g) {
            double base = line[0] >= 0 ? files[0].rows[line[0]].ms : 0.0;
            char ratio[32] = "-";
            if (line[g] >= 0 && base > 0.0)
                snprintf(ratio, sizeof ratio, "x%.2f", files[g].rows[line[g]].ms / base);
            printf(" %9s", ratio);
        }
        putchar('\n');
    }
    status = 0;
done:
    for (int i = 0; i < n; ++i)
        cmp_file_free(&files[i]);
    free(files);
    free(lines);
    return status;
}
