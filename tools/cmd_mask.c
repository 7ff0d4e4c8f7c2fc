/* vkattn mask: which keys each query sees (SPEC section 2), with the kernel's tiles and the tiles
 * it skips, as a character grid on stdout and optionally a PNG (SPEC section 4). Exit 0 on
 * success, 2 on bad usage or input (one line on stderr), 1 when the device cannot be used. */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "commands.h"
#include "outfile.h"
#include "src/mask.h"

#define CMD "mask"
#define MAX_SEQ (1u << 24)  /* keeps the O(Sq) passes quick; far beyond what a picture shows */
#define MAX_GRID 256        /* rows or columns of the text grid */
#define MAX_PIXELS 2048     /* pairs per side drawn one to a pixel; beyond, blocks are averaged */
#define MIN_PIXELS 512      /* smaller masks are drawn with a square of pixels per pair */
#define MIN_TILE_PIXELS 16 /* narrower tiles get no inner boundary lines (they would hide all) */
#define NOMINAL_TILE 64     /* the tile shown for the CPU reference, which has no kernel tiles */

typedef struct mask_opts {
    uint32_t sq, skv, batch, item, head, head_dim;
    bool has_head;
    vkattn_dtype dtype;
    const char *png;
    bool has_device;
    cli_mask_flags mask;
    uint32_t tile_rows, tile_keys; /* --tiles; 0 = ask the device */
    vkattn_context_desc device;
} mask_opts;

/* What is drawn: one batch item's rule and, per row block, the key tiles the kernel computes. */
typedef struct mask_plan {
    mask_rule rule;
    uint32_t br, bc;          /* tile: query rows x keys */
    int64_t sq, skv;
    int64_t row_blocks, key_blocks;
    int64_t *kt0, *kt1;       /* row block rb computes key tiles [kt0[rb], kt1[rb]) */
    uint64_t tiles_computed;
} mask_plan;

static void mask_help(void)
{
    printf(
        "usage: vkattn mask --sq N --skv N [options]\n"
        "\n"
        "Shows which keys each query sees (SPEC section 2) for one batch item, with the kernel's\n"
        "tiles: '#' visible, '.' masked in a tile the kernel computes, blank in a tile it skips;\n"
        "'|' and '-' are the tile boundaries. The grid is printed up to %d rows and columns.\n"
        "\n"
        "  --sq N, --skv N     query rows and keys (required, 1..%u)\n"
        "  --batch B           batch size (default 1); --q-lens/--kv-lens then take B values\n"
        "  --item b            the batch item to show (default 0)\n"
        "  --head h            the query head to show (default 0; the causal, window and length\n"
        "                      rules are the same for every head)\n"
        "  --q-lens N,...      valid query rows per batch item (B values, each <= Sq)\n"
        "  --kv-lens N,...     valid keys per batch item (B values, each <= Skv)\n"
        "  --q-start N,...     first valid query row per batch item (left padding; B values)\n"
        "  --kv-start N,...    first valid key per batch item (B values)\n"
        "  --causal            query i sees keys j <= i + off\n"
        "  --align A           bottom-right (default: off = kv_len - q_len) or top-left (off = 0)\n"
        "  --window L,R        query i sees keys i+off-L <= j <= i+off+R; -1 = unbounded side\n"
        "  --head-dim D        head size, 1..256 (default 64); the tile shape depends on it\n"
        "  --dtype T           f32 (default) or f16\n"
        "  --device D          the device whose kernel tiles are shown: an index (see vkattn\n"
        "                      info) or cpu (nominal %dx%d tiles: the CPU reference has none);\n"
        "                      default as for vkattn run\n"
        "  --tiles R,C         show R query rows x C keys tiles instead of a device's\n"
        "  --png FILE          also draw the mask as a PNG: one pixel per pair up to %d per side\n"
        "                      (averaged blocks beyond, larger squares for small masks); blue\n"
        "                      visible, gray masked in a computed tile, white skipped, red tile\n"
        "                      boundaries. With --png a grid too large to print is left out.\n"
        "\n"
        "Exit status: 0 success, 2 bad usage or input, 1 the device failed.\n",
        MAX_GRID, MAX_SEQ, NOMINAL_TILE, NOMINAL_TILE, MAX_PIXELS);
}

static int parse_dtype(const cli *c, const char *text, vkattn_dtype *out)
{
    if (!text)
        return -1;
    if (strcmp(text, "f32") == 0)
        *out = VKATTN_DTYPE_F32;
    else if (strcmp(text, "f16") == 0)
        *out = VKATTN_DTYPE_F16;
    else
        return cli_error(CMD, "%s: expected f32 or f16, got '%s'", c->flag, text);
    return 0;
}

/* "R,C", each 1..MAX_SEQ. */
static int parse_tiles(const cli *c, const char *text, uint32_t *rows, uint32_t *keys)
{
    if (!text)
        return -1;
    const char *comma = strchr(text, ',');
    char first[16];
    size_t n = comma ? (size_t)(comma - text) : 0;
    /* The u32 parser names the flag; the shape of the whole value is the clearer message. */
    if (!comma || n == 0 || n >= sizeof first || text[0] < '0' || text[0] > '9'
        || comma[1] < '0' || comma[1] > '9')
        goto bad;
    memcpy(first, text, n);
    first[n] = '\0';
    char *end;
    unsigned long a = strtoul(first, &end, 10), b;
    if (*end || a < 1 || a > MAX_SEQ)
        goto bad;
    b = strtoul(comma + 1, &end, 10);
    if (*end || b < 1 || b > MAX_SEQ)
        goto bad;
    *rows = (uint32_t)a;
    *keys = (uint32_t)b;
    return 0;
bad:
    return cli_error(CMD, "%s: expected R,C (query rows, keys) with integers from 1 to %u, got "
                     "'%s'", c->flag, MAX_SEQ, text);
}

/* 0: go on; 1: help was printed; -1: error printed. */
static int parse_args(int argc, char **argv, mask_opts *o)
{
    cli c;
    int r, m;
    memset(o, 0, sizeof *o);
    o->batch = 1;
    o->head_dim = 64;
    cli_init(&c, CMD, argc, argv);
    while ((r = cli_next(&c)) > 0) {
        uint32_t *num = cli_is(&c, "--sq") ? &o->sq : cli_is(&c, "--skv") ? &o->skv
                      : cli_is(&c, "--batch") ? &o->batch : NULL;
        if (cli_is(&c, "--png")) {
            if (!(o->png = cli_value(&c)))
                return -1;
            if (!*o->png)
                return cli_error(CMD, "%s: expected a value, got ''", c.flag);
        } else if (num) {
            if (cli_parse_u32(&c, cli_value(&c), 1, MAX_SEQ, num))
                return -1;
        } else if (cli_is(&c, "--help") || cli_is(&c, "-h")) {
            mask_help();
            return 1;
        } else if (cli_is(&c, "--item")) {
            if (cli_parse_u32(&c, cli_value(&c), 0, MAX_SEQ - 1, &o->item))
                return -1;
        } else if (cli_is(&c, "--head")) {
            if (cli_parse_u32(&c, cli_value(&c), 0, UINT32_MAX - 1, &o->head))
                return -1;
            o->has_head = true;
        } else if (cli_is(&c, "--head-dim")) {
            if (cli_parse_u32(&c, cli_value(&c), 1, 256, &o->head_dim))
                return -1;
        } else if (cli_is(&c, "--dtype")) {
            if (parse_dtype(&c, cli_value(&c), &o->dtype))
                return -1;
        } else if ((m = cli_mask_flag(&c, &o->mask)) != 0) {
            if (m < 0)
                return -1;
        } else if (cli_is(&c, "--device")) {
            if (cli_parse_device(&c, cli_value(&c), &o->device))
                return -1;
            o->has_device = true;
        } else if (cli_is(&c, "--tiles")) {
            if (parse_tiles(&c, cli_value(&c), &o->tile_rows, &o->tile_keys))
                return -1;
        } else {
            return cli_unknown(&c);
        }
    }
    if (r < 0)
        return -1;
    if (!o->sq || !o->skv)
        return cli_error(CMD, "missing %s (required: --sq and --skv; see vkattn mask --help)",
                         !o->sq ? "--sq" : "--skv");
    if (o->item >= o->batch)
        return cli_error(CMD, "--item: %u is not a batch item (--batch is %u, items 0..%u)",
                         o->item, o->batch, o->batch - 1);
    if (o->tile_rows && o->has_device)
        return cli_error(CMD, "--tiles and --device: give one (--tiles replaces the device's "
                         "tiles)");
    if (!o->png && (o->sq > MAX_GRID || o->skv > MAX_GRID))
        return cli_error(CMD, "--sq %u --skv %u: the grid would be larger than %d x %d characters "
                         "(use --png FILE for a picture)", o->sq, o->skv, MAX_GRID, MAX_GRID);
    return 0;
}

/* The tile shape from the chosen device (or --tiles); describes where it came from in what.
 * 0 on success, else the exit status. */
static int find_tiles(const mask_opts *o, const vkattn_problem *p, uint32_t *br, uint32_t *bc,
                      char *what, size_t size)
{
    if (o->tile_rows) {
        *br = o->tile_rows;
        *bc = o->tile_keys;
        snprintf(what, size, "tiles %ux%u (query rows x keys) as given by --tiles", *br, *bc);
        return 0;
    }
    vkattn_context ctx = NULL;
    vkattn_result res = VKATTN_SUCCESS;
    if (o->device.kind != VKATTN_DEVICE_CPU)
        res = vkattn_context_create(&o->device, &ctx);
    if (res != VKATTN_SUCCESS) {
        bool input = res == VKATTN_ERROR_NO_DEVICE || res == VKATTN_ERROR_INVALID_ARGUMENT;
        const char *env = getenv("VKATTN_DEVICE");
        if (o->device.kind == VKATTN_DEVICE_INDEX)
            cli_error(CMD, "--device %u: cannot use this device: %s%s", o->device.device_index,
                      vkattn_result_string(res), input ? " (see vkattn info)" : "");
        else if (env && *env)
            cli_error(CMD, "VKATTN_DEVICE=%s: cannot use this device: %s%s", env,
                      vkattn_result_string(res), input ? " (expected cpu or an index, see "
                      "vkattn info)" : "");
        else
            cli_error(CMD, "cannot create a context on the default device: %s",
                      vkattn_result_string(res));
        return input ? 2 : 1;
    }
    if (!ctx || vkattn_context_is_cpu(ctx)) {
        *br = *bc = NOMINAL_TILE;
        snprintf(what, size, "nominal tiles %ux%u: the CPU reference has no kernel tiles", *br,
                 *bc);
        vkattn_context_destroy(ctx);
        return 0;
    }
    vkattn_device_info info;
    vkattn_context_device_info(ctx, &info);
    /* The tiles of the kernel that runs this problem there (its plan). */
    vkattn_plan plan;
    res = vkattn_problem_plan(ctx, p, VKATTN_BUFFER_TEXEL, &plan);
    if (res != VKATTN_SUCCESS) {
        cli_error(CMD, "cannot get the kernel tiles of %s: %s: %s", info.name,
                  vkattn_result_string(res), vkattn_context_message(ctx));
        vkattn_context_destroy(ctx);
        return 1;
    }
    *br = plan.query_rows;
    *bc = plan.kv_keys;
    snprintf(what, size, "tiles %ux%u (query rows x keys%s) of the %s kernel on %s, %s, D %u",
             *br, *bc, plan.kernel == VKATTN_KERNEL_SPLIT_KV ? " per key range" : "",
             vkattn_kernel_name(plan.kernel), info.name,
             o->dtype == VKATTN_DTYPE_F16 ? "f16" : "f32", o->head_dim);
    vkattn_context_destroy(ctx);
    return 0;
}

/* Mirrors attention.comp: a workgroup owns query rows [r0, r0 + BR) and loops over the key tiles
 * from floor(j0 / BC) to j1, where [j0, j1) are the keys its valid rows may see. */
static int make_plan(const vkattn_problem *p, const cli_seqs *seqs,
                     uint32_t item, uint32_t br, uint32_t bc, mask_plan *m)
{
    memset(m, 0, sizeof *m);
    const vkattn__seq_arrays a = {seqs->q_lens, seqs->kv_lens, seqs->q_start, seqs->kv_start,
                                  NULL, NULL};
    m->rule = vkattn__mask_rule_for(p, &a, item);
    m->br = br;
    m->bc = bc;
    m->sq = p->seq_q;
    m->skv = p->seq_kv;
    m->row_blocks = (m->sq + br - 1) / br;
    m->key_blocks = (m->skv + bc - 1) / bc;
    m->kt0 = malloc((size_t)m->row_blocks * sizeof *m->kt0);
    m->kt1 = malloc((size_t)m->row_blocks * sizeof *m->kt1);
    if (!m->kt0 || !m->kt1)
        return cli_error(CMD, "out of memory");
    for (int64_t rb = 0; rb < m->row_blocks; rb++) {
        int64_t j0, j1;
        vkattn__mask_key_range(&m->rule, rb * br, rb * br + br, &j0, &j1);
        m->kt0[rb] = m->kt1[rb] = 0;
        if (j0 < j1) {
            m->kt0[rb] = j0 / bc;
            m->kt1[rb] = (j1 + bc - 1) / bc;
        }
        m->tiles_computed += (uint64_t)(m->kt1[rb] - m->kt0[rb]);
    }
    return 0;
}

static void free_plan(mask_plan *m)
{
    free(m->kt0);
    free(m->kt1);
}

/* Whether the kernel computes the tile holding pair (i, j). */
static bool computed(const mask_plan *m, int64_t i, int64_t j)
{
    int64_t rb = i / m->br, kb = j / m->bc;
    return kb >= m->kt0[rb] && kb < m->kt1[rb];
}

/* Prints line[0..n) without its trailing blanks. */
static void put_line(const char *line, size_t n)
{
    while (n > 0 && line[n - 1] == ' ')
        n--;
    fwrite(line, 1, n, stdout);
    putchar('\n');
}

static void print_grid(const mask_plan *m)
{
    int w = 1;
    for (int64_t x = m->sq - 1; x >= 10; x /= 10)
        w++;
    size_t cap = (size_t)w + 1 + (size_t)m->skv * 2 + 2;
    char *line = malloc(cap);
    if (!line) {
        printf("(out of memory for the grid)\n");
        return;
    }
    /* Rulers: the tens digit above every tenth key, then the units digit of every key. */
    for (int ruler = m->skv > 10 ? 0 : 1; ruler < 2; ruler++) {
        size_t n = 0;
        memset(line, ' ', (size_t)w + 1);
        n = (size_t)w + 1;
        for (int64_t j = 0; j < m->skv; j++) {
            if (j > 0 && j % m->bc == 0)
                line[n++] = '|';
            if (ruler == 0)
                line[n++] = j % 10 == 0 ? (char)('0' + j / 10 % 10) : ' ';
            else
                line[n++] = (char)('0' + j % 10);
        }
        put_line(line, n);
    }
    for (int64_t i = 0; i < m->sq; i++) {
        size_t n;
        if (i > 0 && i % m->br == 0) {
            memset(line, ' ', (size_t)w + 1);
            n = (size_t)w + 1;
            for (int64_t j = 0; j < m->skv; j++) {
                if (j > 0 && j % m->bc == 0)
                    line[n++] = '+';
                line[n++] = '-';
            }
            put_line(line, n);
        }
        n = (size_t)snprintf(line, cap, "%*lld ", w, (long long)i);
        for (int64_t j = 0; j < m->skv; j++) {
            if (j > 0 && j % m->bc == 0)
                line[n++] = '|';
            line[n++] = mask_visible(&m->rule, i, j) ? '#' : computed(m, i, j) ? '.' : ' ';
        }
        put_line(line, n);
    }
    free(line);
}

/* ---- PNG ---------------------------------------------------------------------------------- */

typedef struct png_geometry {
    int64_t f;              /* pairs per pixel side (>= 1) when scaling down */
    int64_t u;              /* pixels per pair side (>= 1) when scaling up */
    int64_t rows, cols;     /* data pixels (before the scale-up) */
    bool *row_line, *col_line; /* [rows + 1], [cols + 1]: a red line before data row/col k */
    uint32_t width, height; /* of the image, lines included */
    bool row_tiles, col_tiles; /* whether the inner tile boundaries are drawn */
} png_geometry;

/* Lines before the data pixel holding each tile's first pair; inner ones only when tiles are
 * at least MIN_TILE_PIXELS wide, so that the picture is not all red. The frame is always drawn. */
static bool *tile_lines(int64_t n, int64_t pixels, int64_t tile, int64_t f, int64_t u,
                        bool *drawn)
{
    bool *line = calloc((size_t)pixels + 1, sizeof *line);
    if (!line)
        return NULL;
    *drawn = tile * u / f >= MIN_TILE_PIXELS;
    for (int64_t t = tile; *drawn && t < n; t += tile)
        line[t / f] = true;
    line[0] = line[pixels] = true;
    return line;
}

static int png_geometry_make(const mask_plan *m, png_geometry *g)
{
    memset(g, 0, sizeof *g);
    int64_t big = m->sq > m->skv ? m->sq : m->skv;
    g->f = (big + MAX_PIXELS - 1) / MAX_PIXELS;
    g->u = g->f == 1 ? MIN_PIXELS / big : 1;
    if (g->u < 1)
        g->u = 1;
    if (g->u > 16)
        g->u = 16;
    g->rows = (m->sq + g->f - 1) / g->f;
    g->cols = (m->skv + g->f - 1) / g->f;
    g->row_line = tile_lines(m->sq, g->rows, m->br, g->f, g->u, &g->row_tiles);
    g->col_line = tile_lines(m->skv, g->cols, m->bc, g->f, g->u, &g->col_tiles);
    if (!g->row_line || !g->col_line)
        return -1;
    int64_t h = g->rows * g->u, w = g->cols * g->u;
    for (int64_t k = 0; k <= g->rows; k++)
        h += g->row_line[k];
    for (int64_t k = 0; k <= g->cols; k++)
        w += g->col_line[k];
    g->width = (uint32_t)w;
    g->height = (uint32_t)h;
    return 0;
}

static void png_geometry_free(png_geometry *g)
{
    free(g->row_line);
    free(g->col_line);
}

/* Adds the pairs of keys [a, b) to the per-pixel counts: the end pixels directly, the full
 * pixels between them through the difference array (so a row costs O(1), not O(width)). */
static void add_range(uint64_t *acc, int64_t *diff, int64_t a, int64_t b, int64_t f)
{
    if (a >= b)
        return;
    int64_t pa = a / f, pb = (b - 1) / f;
    if (pa == pb) {
        acc[pa] += (uint64_t)(b - a);
        return;
    }
    acc[pa] += (uint64_t)((pa + 1) * f - a);
    acc[pb] += (uint64_t)(b - pb * f);
    diff[pa + 1] += f;
    diff[pb] -= f;
}

typedef struct png_sink {
    char message[256];
} png_sink;

static void png_on_error(png_structp png, png_const_charp msg)
{
    png_sink *s = png_get_error_ptr(png);
    snprintf(s->message, sizeof s->message, "%s", msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static const unsigned char COLOR_VISIBLE[3] = {30, 60, 170};
static const unsigned char COLOR_MASKED[3] = {205, 205, 205};
static const unsigned char COLOR_SKIPPED[3] = {255, 255, 255};
static const unsigned char COLOR_LINE[3] = {220, 30, 30};

/* Fills the pixels of one image row that shows data row r (line pixels included). */
static void fill_row(const png_geometry *g, const uint64_t *vis, const uint64_t *comp,
                     uint64_t rows_here, int64_t skv, unsigned char *px)
{
    size_t x = 0;
    for (int64_t c = 0; c <= g->cols; c++) {
        if (g->col_line[c]) {
            memcpy(px + 3 * x, COLOR_LINE, 3);
            x++;
        }
        if (c == g->cols)
            break;
        int64_t k0 = c * g->f, k1 = k0 + g->f < skv ? k0 + g->f : skv;
        double cells = (double)rows_here * (double)(k1 - k0);
        double v = (double)vis[c] / cells, mk = (double)(comp[c] - vis[c]) / cells;
        double s = 1.0 - v - mk;
        unsigned char rgb[3];
        for (int ch = 0; ch < 3; ch++)
            rgb[ch] = (unsigned char)(v * COLOR_VISIBLE[ch] + mk * COLOR_MASKED[ch]
                                      + s * COLOR_SKIPPED[ch] + 0.5);
        for (int64_t k = 0; k < g->u; k++, x++)
            memcpy(px + 3 * x, rgb, 3);
    }
}

/* Writes the picture to fp; 0, or -1 with why in s->message. The rows are streamed: memory is
 * O(width), time O(Sq + pixels). */
static int png_stream(FILE *fp, const mask_plan *m, const png_geometry *g, png_sink *s)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, s, png_on_error,
                                              png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    size_t ncols = (size_t)g->cols;
    uint64_t *vis = calloc(ncols, sizeof *vis), *comp = calloc(ncols, sizeof *comp);
    int64_t *dvis = calloc(ncols + 1, sizeof *dvis), *dcomp = calloc(ncols + 1, sizeof *dcomp);
    unsigned char *px = malloc((size_t)g->width * 3), *red = malloc((size_t)g->width * 3);
    /* Set before setjmp and only read after it: no locals change between the two. */
    volatile int rc = -1;
    if (!png || !info || !vis || !comp || !dvis || !dcomp || !px || !red) {
        snprintf(s->message, sizeof s->message, "out of memory");
        goto done;
    }
    if (setjmp(png_jmpbuf(png)))
        goto done;
    for (uint32_t x = 0; x < g->width; x++)
        memcpy(red + 3 * x, COLOR_LINE, 3);
    png_init_io(png, fp);
    png_set_IHDR(png, info, g->width, g->height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int64_t r = 0; r <= g->rows; r++) {
        if (g->row_line[r])
            png_write_row(png, red);
        if (r == g->rows)
            break;
        memset(vis, 0, ncols * sizeof *vis);
        memset(comp, 0, ncols * sizeof *comp);
        memset(dvis, 0, (ncols + 1) * sizeof *dvis);
        memset(dcomp, 0, (ncols + 1) * sizeof *dcomp);
        int64_t i0 = r * g->f, i1 = i0 + g->f < m->sq ? i0 + g->f : m->sq;
        for (int64_t i = i0; i < i1; i++) {
            int64_t a, b, rb = i / m->br;
            vkattn__mask_key_range(&m->rule, i, i + 1, &a, &b);
            add_range(vis, dvis, a, b, g->f);
            int64_t c1 = m->kt1[rb] * m->bc;
            add_range(comp, dcomp, m->kt0[rb] * m->bc, c1 < m->skv ? c1 : m->skv, g->f);
        }
        int64_t run_v = 0, run_c = 0;
        for (size_t c = 0; c < ncols; c++) {
            run_v += dvis[c];
            run_c += dcomp[c];
            vis[c] += (uint64_t)run_v;
            comp[c] += (uint64_t)run_c;
        }
        fill_row(g, vis, comp, (uint64_t)(i1 - i0), m->skv, px);
        for (int64_t k = 0; k < g->u; k++)
            png_write_row(png, px);
    }
    png_write_end(png, NULL);
    rc = 0;
done:
    if (png)
        png_destroy_write_struct(&png, info ? &info : NULL);
    free(vis);
    free(comp);
    free(dvis);
    free(dcomp);
    free(px);
    free(red);
    return rc;
}

/* Writes the PNG to a temporary file beside path and renames it into place, so that the file
 * appears complete or not at all. */
static int write_png(const char *path, const mask_plan *m, const png_geometry *g)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return cli_error(CMD, "--png: '%s' is a directory (expected a file name)", path);
    outfile f;
    png_sink sink = {{0}};
    if (outfile_begin(&f, path) == 0 && png_stream(f.fp, m, g, &sink) != 0) {
        outfile_discard(&f);
        return cli_error(CMD, "--png: cannot write '%s': %s", path, sink.message);
    }
    if (!f.error && outfile_commit(&f) == 0)
        return 0;
    if (!f.step)
        return cli_error(CMD, "out of memory");
    return cli_error(CMD, "--png: cannot %s '%s': %s", f.step, path, strerror(f.error));
}

/* ---- the command -------------------------------------------------------------------------- */

static void print_header(const mask_opts *o, const mask_plan *m)
{
    const mask_rule *r = &m->rule;
    const cli_mask_flags *f = &o->mask;
    printf("Sq %lld, Skv %lld, batch item %u of %u", (long long)m->sq, (long long)m->skv, o->item,
           o->batch);
    if (o->has_head)
        printf(", head %u", o->head);
    printf(": ql %lld, kl %lld, off %lld (%s)", (long long)r->ql, (long long)r->kl,
           (long long)r->off, f->align == VKATTN_ALIGN_TOP_LEFT ? "top-left" : "bottom-right");
    if (f->causal)
        printf(", causal");
    if (f->window)
        printf(", window %d,%d", (int)f->window_left, (int)f->window_right);
    if (!f->causal && !f->window)
        printf(", no causal or window mask");
    printf("\n");
}

static void print_summary(const mask_plan *m)
{
    uint64_t pairs = vkattn__mask_visible_pairs(&m->rule);
    uint64_t dense = (uint64_t)m->sq * (uint64_t)m->skv;
    uint64_t tiles = (uint64_t)m->row_blocks * (uint64_t)m->key_blocks;
    printf("visible pairs %llu of %llu (%.1f%%), tiles computed %llu of %llu (%.1f%%), "
           "tile %ux%u\n", (unsigned long long)pairs, (unsigned long long)dense,
           100.0 * (double)pairs / (double)dense,
           (unsigned long long)m->tiles_computed, (unsigned long long)tiles,
           100.0 * (double)m->tiles_computed / (double)tiles, m->br, m->bc);
}

int cmd_mask(int argc, char **argv)
{
    mask_opts o;
    int status = 2, r = parse_args(argc, argv, &o);
    if (r)
        return r > 0 ? 0 : 2;

    cli_seqs seqs = {0};
    mask_plan m = {0};
    png_geometry g = {0};
    char msg[512], tiles[512];
    uint32_t br, bc;

    vkattn_problem p = {
        .batch = o.batch, .heads_q = 1, .seq_q = o.sq, .seq_kv = o.skv,
        .head_dim = o.head_dim, .dtype = o.dtype,
    };
    if (cli_mask_apply(CMD, &o.mask, &p, &seqs))
        goto done;
    if (vkattn_problem_check(&p, msg, sizeof msg) != VKATTN_SUCCESS) {
        cli_error(CMD, "%s", msg);
        goto done;
    }
    if ((r = find_tiles(&o, &p, &br, &bc, tiles, sizeof tiles)) != 0) {
        status = r;
        goto done;
    }
    if (make_plan(&p, &seqs, o.item, br, bc, &m))
        goto done;
    if (o.png) {
        if (png_geometry_make(&m, &g)) {
            cli_error(CMD, "out of memory");
            goto done;
        }
        if (write_png(o.png, &m, &g))
            goto done;
    }

    print_header(&o, &m);
    bool grid = o.sq <= MAX_GRID && o.skv <= MAX_GRID;
    if (grid) {
        print_grid(&m);
        printf("# visible, . masked in a computed tile, blank: a skipped tile; %s\n", tiles);
    } else {
        printf("%s\n", tiles);
    }
    print_summary(&m);
    if (o.png) {
        printf("wrote %s: %ux%u pixels, ", o.png, g.width, g.height);
        if (g.f > 1)
            printf("%lldx%lld pairs per pixel (averaged)", (long long)g.f, (long long)g.f);
        else if (g.u > 1)
            printf("%lldx%lld pixels per pair", (long long)g.u, (long long)g.u);
        else
            printf("one pixel per pair");
        printf("; blue visible, gray masked in a computed tile, white skipped, red tile "
               "boundaries");
        if (!g.row_tiles || !g.col_tiles)
            printf(" (inner ones left out where tiles are under %d pixels at this scale)",
                   MIN_TILE_PIXELS);
        printf("\n");
    }
    status = 0;
done:
    png_geometry_free(&g);
    free_plan(&m);
    cli_seqs_free(&seqs);
    return status;
}
