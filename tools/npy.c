/* The .npy codec: see npy.h. The format:
 * https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html */
#include "npy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

static const struct {
    const char *descr;
    size_t size;
} npy_dtypes[] = {
    {"<f4", 4}, {"<f2", 2}, {"|b1", 1}, {"|u1", 1}, {"<u4", 4}, {"<i4", 4}, {"<u2", 2}, {"<i2", 2},
};
#define NPY_DTYPE_LIST "'<f4', '<f2', '|b1', '|u1', '<u4', '<i4', '<u2' or '<i2'"

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static int fail(char *err, size_t errsz, const char *name, const char *fmt, ...)
{
    if (err && errsz) {
        int n = snprintf(err, errsz, "%s: ", name);
        if (n >= 0 && (size_t)n < errsz) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err + n, errsz - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

size_t npy_dtype_size(const char *descr)
{
    for (size_t i = 0; descr && i < sizeof npy_dtypes / sizeof npy_dtypes[0]; i++)
        if (strcmp(descr, npy_dtypes[i].descr) == 0)
            return npy_dtypes[i].size;
    return 0;
}

uint64_t npy_count(const npy_array *a)
{
    uint64_t n = 1;
    for (int i = 0; i < a->ndim; i++)
        n *= a->shape[i];
    return n;
}

void npy_format_shape(int ndim, const uint64_t *shape, char *buf, size_t bufsz)
{
    size_t n = 0;
    buf[0] = '\0';
    n += (size_t)snprintf(buf, bufsz, "(");
    for (int i = 0; i < ndim && n < bufsz; i++)
        n += (size_t)snprintf(buf + n, bufsz - n, "%s%llu", i ? ", " : "",
                              (unsigned long long)shape[i]);
    if (n < bufsz)
        snprintf(buf + n, bufsz - n, ndim == 1 ? ",)" : ")");
}

/* Element count and byte size of a shape; -1 when the byte size does not fit in size_t. */
static int shape_bytes(const uint64_t *shape, int ndim, size_t elem, size_t *nbytes)
{
    uint64_t count = 1;
    for (int i = 0; i < ndim; i++)
        if (shape[i] == 0)
            count = 0;
    for (int i = 0; i < ndim && count; i++) {
        if (count > UINT64_MAX / shape[i])
            return -1;
        count *= shape[i];
    }
    if (count > SIZE_MAX / elem)
        return -1;
    *nbytes = (size_t)(count * elem);
    return 0;
}

/* ---- the header: a Python dict literal ---------------------------------------------------- */

typedef struct hparse {
    const char *p, *end;
} hparse;

static void skip_ws(hparse *h)
{
    while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' || *h->p == '\r'))
        h->p++;
}

static bool accept(hparse *h, char c)
{
    skip_ws(h);
    if (h->p < h->end && *h->p == c) {
        h->p++;
        return true;
    }
    return false;
}

static bool peek(hparse *h, char c)
{
    skip_ws(h);
    return h->p < h->end && *h->p == c;
}

/* A quoted string without escapes ('...' or "..."), at most bufsz - 1 bytes. Control characters
 * are refused too: the string may be echoed in an error message, which must stay one line. */
static bool parse_str(hparse *h, char *buf, size_t bufsz)
{
    skip_ws(h);
    if (h->p >= h->end || (*h->p != '\'' && *h->p != '"'))
        return false;
    char q = *h->p++;
    size_t n = 0;
    while (h->p < h->end && *h->p != q) {
        unsigned char c = (unsigned char)*h->p;
        if (c == '\\' || c < 0x20 || c == 0x7f || n + 1 >= bufsz)
            return false;
        buf[n++] = *h->p++;
    }
    if (h->p >= h->end)
        return false;
    h->p++;
    buf[n] = '\0';
    return true;
}

static bool parse_word(hparse *h, const char *word)
{
    size_t n = strlen(word);
    skip_ws(h);
    if ((size_t)(h->end - h->p) < n || memcmp(h->p, word, n) != 0)
        return false;
    h->p += n;
    return true;
}

/* A tuple of non-negative integers; Python 2 era files may write 3L. */
static int parse_shape(hparse *h, npy_array *a, const char *name, char *err, size_t errsz)
{
    if (!accept(h, '('))
        return fail(err, errsz, name, "'shape' is not a tuple of integers (expected e.g. (2, 3))");
    a->ndim = 0;
    while (!accept(h, ')')) {
        skip_ws(h);
        if (h->p >= h->end || *h->p < '0' || *h->p > '9')
            return fail(err, errsz, name,
                        "'shape' holds something other than a non-negative integer "
                        "(expected e.g. (2, 3))");
        uint64_t v = 0;
        while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
            unsigned d = (unsigned)(*h->p++ - '0');
            if (v > (UINT64_MAX - d) / 10)
                return fail(err, errsz, name, "a dimension of 'shape' does not fit in 64 bits");
            v = v * 10 + d;
        }
        if (h->p < h->end && *h->p == 'L')
            h->p++;
        if (a->ndim == NPY_MAX_DIMS)
            return fail(err, errsz, name, "'shape' has more than %d dimensions", NPY_MAX_DIMS);
        a->shape[a->ndim++] = v;
        if (!accept(h, ',') && !peek(h, ')'))
            return fail(err, errsz, name, "'shape' is not a tuple of integers "
                                          "(expected ',' or ')' after a dimension)");
    }
    return 0;
}

static int parse_descr(hparse *h, npy_array *a, const char *name, char *err, size_t errsz)
{
    char d[32];
    if (peek(h, '['))
        return fail(err, errsz, name, "structured dtypes are not supported (expected one of "
                                      NPY_DTYPE_LIST ")");
    if (!parse_str(h, d, sizeof d))
        return fail(err, errsz, name, "'descr' is not a short quoted string (expected one of "
                                      NPY_DTYPE_LIST ")");
    /* Byte order means nothing for one-byte types; numpy writes '|' but accepts any. */
    if (strlen(d) == 3 && d[2] == '1' && strchr("<>=|", d[0]))
        d[0] = '|';
    if (strlen(d) == 3 && d[0] == '=' && strchr("fiu", d[1]))
        return fail(err, errsz, name, "dtype '%s' does not say its byte order (expected '<%s')",
                    d, d + 1);
    if (strlen(d) == 3 && (d[0] == '>' || d[0] == '!') && strchr("fiu", d[1]))
        return fail(err, errsz, name, "dtype '%s' is not little-endian (expected '<%s', e.g. "
                                      "saved with arr.astype('<%s'))", d, d + 1, d + 1);
    a->elem_size = npy_dtype_size(d);
    if (!a->elem_size)
        return fail(err, errsz, name, "unsupported dtype '%s' (expected one of " NPY_DTYPE_LIST ")",
                    d);
    memcpy(a->dtype, d, 4);
    return 0;
}

static int parse_dict(const char *text, size_t len, const char *name, npy_array *a, char *err,
                      size_t errsz)
{
    hparse h = {text, text + len};
    bool seen_descr = false, seen_order = false, seen_shape = false;
    if (!accept(&h, '{'))
        return fail(err, errsz, name, "header is not a Python dict (expected it to start with "
                                      "'{')");
    while (!accept(&h, '}')) {
        char key[32];
        if (!parse_str(&h, key, sizeof key))
            return fail(err, errsz, name, "header dict is malformed (expected a quoted key or "
                                          "'}')");
        if (!accept(&h, ':'))
            return fail(err, errsz, name, "header dict is malformed (expected ':' after '%s')",
                        key);
        bool *seen;
        if (strcmp(key, "descr") == 0) {
            seen = &seen_descr;
            if (parse_descr(&h, a, name, err, errsz))
                return -1;
        } else if (strcmp(key, "fortran_order") == 0) {
            seen = &seen_order;
            if (parse_word(&h, "True"))
                return fail(err, errsz, name, "fortran_order is True: Fortran-ordered arrays are "
                            "not supported (expected C order, e.g. np.ascontiguousarray)");
            if (!parse_word(&h, "False"))
                return fail(err, errsz, name, "'fortran_order' is not True or False");
        } else if (strcmp(key, "shape") == 0) {
            seen = &seen_shape;
            if (parse_shape(&h, a, name, err, errsz))
                return -1;
        } else {
            return fail(err, errsz, name, "unexpected key '%s' in the header (expected 'descr', "
                                          "'fortran_order' and 'shape')", key);
        }
        if (*seen)
            return fail(err, errsz, name, "key '%s' appears twice in the header", key);
        *seen = true;
        if (!accept(&h, ',') && !peek(&h, '}'))
            return fail(err, errsz, name, "header dict is malformed (expected ',' or '}' after "
                                          "the value of '%s')", key);
    }
    skip_ws(&h);
    if (h.p != h.end)
        return fail(err, errsz, name, "unexpected text after the header dict");
    if (!seen_descr || !seen_order || !seen_shape)
        return fail(err, errsz, name, "header lacks '%s' (expected 'descr', 'fortran_order' and "
                    "'shape')", !seen_descr ? "descr" : !seen_order ? "fortran_order" : "shape");
    if (shape_bytes(a->shape, a->ndim, a->elem_size, &a->nbytes)) {
        char s[256];
        npy_format_shape(a->ndim, a->shape, s, sizeof s);
        return fail(err, errsz, name, "shape %s of '%s' is too large: its byte size overflows",
                    s, a->dtype);
    }
    return 0;
}

/* Magic and version from the first bytes (at least 12 when the file has them): the offset and
 * length of the header dict. */
static int parse_prefix(const unsigned char *b, size_t len, const char *name, size_t *hstart,
                        size_t *hlen, char *err, size_t errsz)
{
    if (memcmp(b, npy_magic, len < 6 ? len : 6) != 0)
        return fail(err, errsz, name, "not a .npy file (expected the magic bytes \\x93NUMPY)");
    if (len < 8)
        return fail(err, errsz, name, "truncated: %zu bytes is too short for a .npy header", len);
    if ((b[6] != 1 && b[6] != 2 && b[6] != 3) || b[7] != 0)
        return fail(err, errsz, name, "unsupported .npy format version %u.%u (expected 1.0, 2.0 "
                                      "or 3.0)", b[6], b[7]);
    *hstart = b[6] == 1 ? 10 : 12;
    if (len < *hstart)
        return fail(err, errsz, name, "truncated: %zu bytes is too short for a version %u.0 "
                                      "header", len, b[6]);
    uint32_t n = (uint32_t)b[8] | (uint32_t)b[9] << 8;
    if (b[6] != 1)
        n |= (uint32_t)b[10] << 16 | (uint32_t)b[11] << 24;
    if (n > NPY_MAX_HEADER)
        return fail(err, errsz, name, "header of %lu bytes is too large (at most %d accepted)",
                    (unsigned long)n, NPY_MAX_HEADER);
    *hlen = n;
    return 0;
}

static int size_mismatch(const npy_array *a, const char *name, uint64_t have, char *err,
                         size_t errsz)
{
    char s[256];
    npy_format_shape(a->ndim, a->shape, s, sizeof s);
    if (have < a->nbytes)
        return fail(err, errsz, name, "data truncated: shape %s of '%s' needs %zu bytes, the file "
                    "has %llu", s, a->dtype, a->nbytes, (unsigned long long)have);
    return fail(err, errsz, name, "%llu unexpected bytes after the data: shape %s of '%s' needs "
                "%zu bytes", (unsigned long long)(have - a->nbytes), s, a->dtype, a->nbytes);
}

int npy_parse(const void *buf, size_t len, const char *name, npy_array *out, char *err,
              size_t errsz)
{
    const unsigned char *b = buf;
    npy_array a = {0};
    size_t hstart, hlen;
    if (!name)
        name = "<memory>";
    memset(out, 0, sizeof *out);
    if (parse_prefix(b, len < 12 ? len : 12, name, &hstart, &hlen, err, errsz))
        return -1;
    if (len - hstart < hlen)
        return fail(err, errsz, name, "header truncated: it should be %zu bytes, the file has %zu",
                    hlen, len - hstart);
    if (parse_dict((const char *)b + hstart, hlen, name, &a, err, errsz))
        return -1;
    size_t have = len - hstart - hlen;
    if (have != a.nbytes)
        return size_mismatch(&a, name, have, err, errsz);
    if (a.nbytes) {
        a.data = malloc(a.nbytes);
        if (!a.data)
            return fail(err, errsz, name, "out of memory for %zu bytes of data", a.nbytes);
        memcpy(a.data, b + hstart + hlen, a.nbytes);
    }
    *out = a;
    return 0;
}

/* read() until n bytes or end of file; the count read, or -1 with errno. */
static ssize_t read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

int npy_read(const char *path, npy_array *out, char *err, size_t errsz)
{
    npy_array a = {0};
    unsigned char *hdr = NULL;
    struct stat st;
    size_t hstart, hlen;
    ssize_t n;
    int rc = -1;
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return fail(err, errsz, path, "cannot open: %s", strerror(errno));
    if (fstat(fd, &st) != 0) {
        fail(err, errsz, path, "cannot stat: %s", strerror(errno));
        goto done;
    }
    if (S_ISDIR(st.st_mode)) {
        fail(err, errsz, path, "is a directory (expected a .npy file)");
        goto done;
    }
    hdr = malloc(12 + NPY_MAX_HEADER);
    if (!hdr) {
        fail(err, errsz, path, "out of memory");
        goto done;
    }
    /* Read exactly the prefix (8 bytes, then the 2- or 4-byte length), never into the data. */
    if ((n = read_full(fd, hdr, 8)) == 8) {
        size_t more = hdr[6] == 1 ? 2 : hdr[6] == 2 || hdr[6] == 3 ? 4 : 0;
        ssize_t m = read_full(fd, hdr + 8, more);
        n = m < 0 ? -1 : n + m;
    }
    if (n < 0) {
        fail(err, errsz, path, "cannot read: %s", strerror(errno));
        goto done;
    }
    if (parse_prefix(hdr, (size_t)n, path, &hstart, &hlen, err, errsz))
        goto done;
    size_t want = hstart + hlen - (size_t)n; /* n == hstart: parse_prefix checked */
    ssize_t m = read_full(fd, hdr + n, want);
    if (m < 0) {
        fail(err, errsz, path, "cannot read: %s", strerror(errno));
        goto done;
    }
    if ((size_t)m < want) {
        fail(err, errsz, path, "header truncated: it should be %zu bytes, the file has %zu", hlen,
             (size_t)n + (size_t)m - hstart);
        goto done;
    }
    if (parse_dict((const char *)hdr + hstart, hlen, path, &a, err, errsz))
        goto done;
    /* Check the size before allocating, so a bogus shape cannot ask for a huge buffer. */
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size != (uint64_t)(hstart + hlen) + a.nbytes) {
        uint64_t size = (uint64_t)st.st_size;
        size_mismatch(&a, path, size > hstart + hlen ? size - hstart - hlen : 0, err, errsz);
        goto done;
    }
    if (a.nbytes && !(a.data = malloc(a.nbytes))) {
        fail(err, errsz, path, "out of memory for %zu bytes of data", a.nbytes);
        goto done;
    }
    if ((n = read_full(fd, a.data, a.nbytes)) < 0) {
        fail(err, errsz, path, "cannot read: %s", strerror(errno));
        goto done;
    }
    unsigned char extra;
    ssize_t e = (size_t)n == a.nbytes ? read_full(fd, &extra, 1) : 0;
    if (e < 0) {
        fail(err, errsz, path, "cannot read: %s", strerror(errno));
        goto done;
    }
    if ((size_t)n != a.nbytes || e > 0) {
        size_mismatch(&a, path, (uint64_t)n + (uint64_t)e, err, errsz);
        goto done;
    }
    *out = a;
    a.data = NULL;
    rc = 0;
done:
    free(a.data);
    free(hdr);
    close(fd);
    return rc;
}

void npy_free(npy_array *a)
{
    if (!a)
        return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

/* ---- writing -------------------------------------------------------------------------------- */

/* numpy's version 1.0 header: magic, version, length, dict padded with spaces to a multiple of
 * 64 bytes and ending in '\n'. Returns its total length. */
static size_t build_header(char *buf, size_t bufsz, const char *descr, int ndim,
                           const uint64_t *shape)
{
    char s[256];
    npy_format_shape(ndim, shape, s, sizeof s);
    int n = snprintf(buf + 10, bufsz - 10, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                     descr, s);
    size_t total = 10 + (size_t)n + 1;
    total = (total + 63) / 64 * 64;
    memset(buf + 10 + n, ' ', total - 10 - (size_t)n - 1);
    buf[total - 1] = '\n';
    memcpy(buf, npy_magic, 6);
    buf[6] = 1;
    buf[7] = 0;
    buf[8] = (char)((total - 10) & 0xff);
    buf[9] = (char)((total - 10) >> 8);
    return total;
}

int npy_write_pending(const char *path, const char *descr, int ndim, const uint64_t *shape,
                      const void *data, npy_pending *out, char *err, size_t errsz)
{
    size_t elem = npy_dtype_size(descr), nbytes;
    struct stat st;
    memset(out, 0, sizeof *out);
    if (!elem)
        return fail(err, errsz, path, "cannot write dtype '%s' (expected one of " NPY_DTYPE_LIST
                    ")", descr ? descr : "(null)");
    if (ndim < 0 || ndim > NPY_MAX_DIMS || (ndim && !shape))
        return fail(err, errsz, path, "cannot write %d dimensions (expected 0 to %d)", ndim,
                    NPY_MAX_DIMS);
    if (shape_bytes(shape, ndim, elem, &nbytes))
        return fail(err, errsz, path, "cannot write: the byte size of the shape overflows");
    if (nbytes && !data)
        return fail(err, errsz, path, "cannot write: no data");
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return fail(err, errsz, path, "is a directory (expected a file name to write)");

    char hdr[512];
    size_t hlen = build_header(hdr, sizeof hdr, descr, ndim, shape);
    outfile f;
    if (outfile_begin(&f, path) == 0 && outfile_write(&f, hdr, hlen) == 0
        && outfile_write(&f, data, nbytes) == 0 && outfile_finish(&f) == 0) {
        *out = f;
        return 0;
    }
    outfile_discard(&f);
    if (!f.step)
        return fail(err, errsz, path, "out of memory");
    if (strcmp(f.step, "create") == 0)
        return fail(err, errsz, path, "cannot create: %s", strerror(f.error));
    return fail(err, errsz, path, "cannot %s the temporary file: %s", f.step, strerror(f.error));
}

int npy_commit(npy_pending *p, char *err, size_t errsz)
{
    if (!p->temp) {
        fail(err, errsz, p->path ? p->path : "(null)", "nothing to commit");
        outfile_discard(p);
        return -1;
    }
    char *path = strdup(p->path);
    if (outfile_commit(p) == 0) {
        free(path);
        return 0;
    }
    fail(err, errsz, path ? path : "(null)", "cannot move the written file into place: %s",
         strerror(p->error));
    free(path);
    return -1;
}

void npy_discard(npy_pending *p)
{
    outfile_discard(p);
}

int npy_write_atomic(const char *path, const char *descr, int ndim, const uint64_t *shape,
                     const void *data, char *err, size_t errsz)
{
    npy_pending p;
    if (npy_write_pending(path, descr, ndim, shape, data, &p, err, errsz))
        return -1;
    return npy_commit(&p, err, errsz);
}
