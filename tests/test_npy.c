/* The .npy codec: round trips, the header variants numpy and others write, every malformed input
 * named precisely, and the atomic writer leaving nothing behind on failure. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "npy.h"

/* ---- helpers --------------------------------------------------------------------------------- */

static char tmpdir[64];

static void setup(void)
{
    strcpy(tmpdir, "/tmp/test_npy.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

/* Removes tmpdir and what the tests put there (files and empty directories, one level deep). */
static void teardown(void)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    char p[512];
    while (d && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
        if (unlink(p) != 0)
            rmdir(p);
    }
    if (d)
        closedir(d);
    rmdir(tmpdir);
}

static const char *tmp_path(const char *name)
{
    static char p[4][256];
    static int next;
    char *s = p[next++ % 4];
    snprintf(s, sizeof p[0], "%s/%s", tmpdir, name);
    return s;
}

static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void write_file(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static size_t read_file(const char *path, unsigned char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

/* A .npy of the given version: the dict as is (no padding), its length in the length field unless
 * hlen >= 0 overrides it, then data_len bytes of 0xab. Returns the total length. */
static size_t build(unsigned char *buf, size_t cap, int major, int minor, const char *dict,
                    long hlen, size_t data_len)
{
    size_t dlen = strlen(dict), pre = major == 1 ? 10 : 12;
    unsigned long field = hlen >= 0 ? (unsigned long)hlen : (unsigned long)dlen;
    ck_assert_uint_le(pre + dlen + data_len, cap);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = (unsigned char)minor;
    buf[8] = field & 0xff;
    buf[9] = (field >> 8) & 0xff;
    if (major != 1) {
        buf[10] = (field >> 16) & 0xff;
        buf[11] = (field >> 24) & 0xff;
    }
    memcpy(buf + pre, dict, dlen);
    memset(buf + pre + dlen, 0xab, data_len);
    return pre + dlen + data_len;
}

/* A header dict as numpy writes it. */
#define DICT(descr, order, shape) \
    "{'descr': " descr ", 'fortran_order': " order ", 'shape': " shape ", }"
#define F4_2 DICT("'<f4'", "False", "(2,)")

/* ---- round trips ----------------------------------------------------------------------------- */

static const char *const dtypes[] = {"<f4", "<f2", "|b1", "|u1", "<u4", "<i4"};

START_TEST(round_trip_dtypes)
{
    const char *dt = dtypes[_i];
    uint64_t shape[4] = {2, 3, 1, 5};
    size_t elem = npy_dtype_size(dt), n = 30 * elem;
    unsigned char data[30 * 4], file[1024];
    char err[256];
    npy_array a;
    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)(i * 37 + 1);
    const char *path = tmp_path("a.npy");
    ck_assert_int_eq(npy_write_atomic(path, dt, 4, shape, data, err, sizeof err), 0);
    ck_assert_int_eq(dir_entries(tmpdir), 1);

    /* What numpy writes: version 1.0, dict padded to 64 bytes in all, ending in '\n'. */
    size_t len = read_file(path, file, sizeof file);
    size_t hlen = file[8] | (size_t)file[9] << 8;
    ck_assert_int_eq(file[6], 1);
    ck_assert_int_eq(file[7], 0);
    ck_assert_uint_eq((10 + hlen) % 64, 0);
    ck_assert_int_eq(file[10 + hlen - 1], '\n');
    ck_assert_uint_eq(len, 10 + hlen + n);
    char expect[128];
    snprintf(expect, sizeof expect, DICT("'%s'", "False", "(2, 3, 1, 5)"), dt);
    ck_assert_mem_eq(file + 10, expect, strlen(expect));

    ck_assert_int_eq(npy_read(path, &a, err, sizeof err), 0);
    ck_assert_str_eq(a.dtype, dt);
    ck_assert_uint_eq(a.elem_size, elem);
    ck_assert_int_eq(a.ndim, 4);
    ck_assert_mem_eq(a.shape, shape, sizeof shape);
    ck_assert_uint_eq(a.nbytes, n);
    ck_assert_uint_eq(npy_count(&a), 30);
    ck_assert_mem_eq(a.data, data, n);
    npy_free(&a);
    ck_assert_ptr_null(a.data);

    /* The memory parser agrees with the file reader. */
    ck_assert_int_eq(npy_parse(file, len, "mem", &a, err, sizeof err), 0);
    ck_assert_mem_eq(a.data, data, n);
    npy_free(&a);
}
END_TEST

START_TEST(round_trip_shapes)
{
    static const struct {
        int ndim;
        uint64_t shape[3];
        const char *text;
    } cases[] = {
        {0, {0}, "()"}, {1, {7}, "(7,)"}, {2, {0, 3}, "(0, 3)"}, {3, {1, 1, 1}, "(1, 1, 1)"},
    };
    float data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    char err[256], text[64];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        npy_array a;
        const char *path = tmp_path("s.npy");
        npy_format_shape(cases[c].ndim, cases[c].shape, text, sizeof text);
        ck_assert_str_eq(text, cases[c].text);
        ck_assert_int_eq(npy_write_atomic(path, "<f4", cases[c].ndim, cases[c].shape, data, err,
                                          sizeof err), 0);
        ck_assert_int_eq(npy_read(path, &a, err, sizeof err), 0);
        ck_assert_int_eq(a.ndim, cases[c].ndim);
        ck_assert_mem_eq(a.shape, cases[c].shape, sizeof(uint64_t) * (size_t)a.ndim);
        ck_assert_uint_eq(a.nbytes, npy_count(&a) * 4);
        if (a.nbytes)
            ck_assert_mem_eq(a.data, data, a.nbytes);
        else
            ck_assert_ptr_null(a.data);
        npy_free(&a);
    }
}
END_TEST

/* Versions 2.0 and 3.0 have a 4-byte header length; numpy writes them for huge headers. */
START_TEST(read_versions_2_and_3)
{
    unsigned char buf[256];
    char err[256];
    for (int major = 2; major <= 3; major++) {
        npy_array a;
        size_t len = build(buf, sizeof buf, major, 0, F4_2 "      \n", -1, 8);
        ck_assert_int_eq(npy_parse(buf, len, NULL, &a, err, sizeof err), 0);
        ck_assert_str_eq(a.dtype, "<f4");
        ck_assert_int_eq(a.ndim, 1);
        ck_assert_uint_eq(a.shape[0], 2);
        ck_assert_int_eq(((unsigned char *)a.data)[7], 0xab);
        npy_free(&a);
        write_file(tmp_path("v.npy"), buf, len);
        ck_assert_int_eq(npy_read(tmp_path("v.npy"), &a, err, sizeof err), 0);
        ck_assert_uint_eq(a.nbytes, 8);
        npy_free(&a);
    }
}
END_TEST

/* ---- header variants that must parse --------------------------------------------------------- */

static const struct {
    const char *dict;
    size_t data;
    const char *dtype;
    int ndim;
} good[] = {
    {"{'shape': (2,), 'fortran_order': False, 'descr': '<f4'}", 8, "<f4", 1},
    {"{'fortran_order': False, 'descr': '<f4', 'shape': (2,)}", 8, "<f4", 1},
    {"{\"descr\":\"<f4\",\"fortran_order\":False,\"shape\":(2,)}", 8, "<f4", 1},
    {"{ 'descr' : '<f4' ,\n\t'fortran_order' : False , 'shape' : ( 2 , ) , }   \n", 8, "<f4", 1},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (2L,), }", 8, "<f4", 1},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }\n", 8, "<f4", 2},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2,), }\n", 8, "<f4", 2},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (), }\n", 4, "<f4", 0},
    {"{'descr': '<u1', 'fortran_order': False, 'shape': (3,), }", 3, "|u1", 1},
    {"{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", 3, "|b1", 1},
    {"{'descr': '<f2', 'fortran_order': False, 'shape': (3,), }", 6, "<f2", 1},
    {"{'descr': '<u4', 'fortran_order': False, 'shape': (0,), }", 0, "<u4", 1},
};

START_TEST(header_variants)
{
    unsigned char buf[256];
    char err[256];
    npy_array a;
    size_t len = build(buf, sizeof buf, 1, 0, good[_i].dict, -1, good[_i].data);
    int rc = npy_parse(buf, len, "x.npy", &a, err, sizeof err);
    ck_assert_msg(rc == 0, "%s: %s", good[_i].dict, err);
    ck_assert_str_eq(a.dtype, good[_i].dtype);
    ck_assert_int_eq(a.ndim, good[_i].ndim);
    ck_assert_uint_eq(a.nbytes, good[_i].data);
    npy_free(&a);
}
END_TEST

/* ---- malformed input: each error names the file and the problem ------------------------------ */

static const struct {
    int major, minor;
    const char *dict;
    long hlen; /* -1: the dict's length */
    size_t data;
    const char *expect;
} bad[] = {
    {4, 0, F4_2, -1, 8, "version 4.0"},
    {1, 1, F4_2, -1, 8, "version 1.1"},
    {2, 0, F4_2, 70000, 8, "too large"},
    {1, 0, F4_2, 200, 0, "header truncated"},
    {1, 0, DICT("'<f4'", "True", "(2,)"), -1, 8, "fortran_order is True"},
    {1, 0, DICT("'<f4'", "maybe", "(2,)"), -1, 8, "True or False"},
    {1, 0, DICT("'>f4'", "False", "(2,)"), -1, 8, "not little-endian"},
    {1, 0, DICT("'=f4'", "False", "(2,)"), -1, 8, "byte order"},
    {1, 0, DICT("'<f8'", "False", "(2,)"), -1, 16, "unsupported dtype '<f8'"},
    {1, 0, DICT("[('a', '<f4')]", "False", "(2,)"), -1, 8, "structured"},
    {1, 0, DICT("'<f4'", "False", "(1099511627776, 1099511627776)"), -1, 0, "overflows"},
    {1, 0, DICT("'<f4'", "False", "(99999999999999999999,)"), -1, 0, "64 bits"},
    {1, 0, F4_2, -1, 7, "data truncated"},
    {1, 0, F4_2, -1, 0, "data truncated"},
    {1, 0, F4_2, -1, 9, "1 unexpected bytes after the data"},
    {1, 0, "{'descr': '<f4', 'fortran_order': False}", -1, 8, "lacks 'shape'"},
    {1, 0, "{'descr': '<f4', 'shape': (2,)}", -1, 8, "lacks 'fortran_order'"},
    {1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", -1, 8,
     "unexpected key 'x'"},
    {1, 0, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", -1, 8,
     "twice"},
    {1, 0, F4_2 " junk", -1, 8, "after the header dict"},
    {1, 0, DICT("'<f4'", "False", "(-1,)"), -1, 8, "non-negative"},
    {1, 0, DICT("'<f4'", "False", "(1,1,1,1,1,1,1,1,2)"), -1, 8, "more than 8"},
    {1, 0, DICT("'<f4'", "False", "2"), -1, 8, "not a tuple"},
    {1, 0, DICT("'<f4'", "False", "(2 3)"), -1, 8, "expected ',' or ')'"},
    {1, 0, "{'descr': '<f4' 'fortran_order': False, 'shape': (2,), }", -1, 8,
     "expected ',' or '}'"},
    {1, 0, "{'descr: '<f4', 'fortran_order': False, 'shape': (2,), }", -1, 8, "malformed"},
    {1, 0, "[1, 2]", -1, 8, "Python dict"},
    {1, 0, "", -1, 8, "Python dict"},
};

static void check_err(const char *err, const char *name, const char *expect)
{
    ck_assert_msg(strncmp(err, name, strlen(name)) == 0, "'%s' does not start with %s", err, name);
    ck_assert_msg(strstr(err, expect) != NULL, "'%s' does not mention '%s'", err, expect);
}

START_TEST(malformed_headers)
{
    unsigned char buf[256];
    char err[256] = "";
    npy_array a;
    size_t len = build(buf, sizeof buf, bad[_i].major, bad[_i].minor, bad[_i].dict, bad[_i].hlen,
                       bad[_i].data);
    ck_assert_int_eq(npy_parse(buf, len, "mem.npy", &a, err, sizeof err), -1);
    check_err(err, "mem.npy: ", bad[_i].expect);
    ck_assert_ptr_null(a.data);

    /* The file reader has its own path through the prefix, header and data. */
    const char *path = tmp_path("bad.npy");
    write_file(path, buf, len);
    err[0] = '\0';
    ck_assert_int_eq(npy_read(path, &a, err, sizeof err), -1);
    check_err(err, path, bad[_i].expect);
    ck_assert_ptr_null(a.data);
}
END_TEST

static const struct {
    const char *bytes;
    size_t len;
    const char *expect;
} bad_prefix[] = {
    {"", 0, "too short"},
    {"\x93NUM", 4, "too short"},
    {"\x89PNG\r\n\x1a\n\0\0\0\0", 12, "magic"},
    {"\x93NUMPX\x01\x00\x00\x00", 10, "magic"},
    {"\x93NUMPY\x01", 7, "too short"},
    {"\x93NUMPY\x01\x00\x05", 9, "version 1.0 header"},
    {"\x93NUMPY\x02\x00\x05\x00\x00", 11, "version 2.0 header"},
};

START_TEST(malformed_prefix)
{
    char err[256] = "";
    npy_array a;
    ck_assert_int_eq(npy_parse(bad_prefix[_i].bytes, bad_prefix[_i].len, "p.npy", &a, err,
                               sizeof err), -1);
    check_err(err, "p.npy: ", bad_prefix[_i].expect);
    const char *path = tmp_path("p.npy");
    write_file(path, bad_prefix[_i].bytes, bad_prefix[_i].len);
    err[0] = '\0';
    ck_assert_int_eq(npy_read(path, &a, err, sizeof err), -1);
    check_err(err, path, bad_prefix[_i].expect);
}
END_TEST

START_TEST(read_not_a_file)
{
    char err[256];
    npy_array a;
    ck_assert_int_eq(npy_read(tmp_path("missing.npy"), &a, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "missing.npy: cannot open"));
    ck_assert_int_eq(npy_read(tmpdir, &a, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "is a directory"));
}
END_TEST

/* ---- the atomic writer ----------------------------------------------------------------------- */

START_TEST(write_missing_dir)
{
    char err[256];
    uint64_t shape[1] = {2};
    float data[2] = {1, 2};
    ck_assert_int_eq(npy_write_atomic(tmp_path("nope/o.npy"), "<f4", 1, shape, data, err,
                                      sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "nope/o.npy"));
    ck_assert_ptr_nonnull(strstr(err, strerror(ENOENT)));
    ck_assert_int_eq(dir_entries(tmpdir), 0);
}
END_TEST

START_TEST(write_onto_directory)
{
    char err[256];
    uint64_t shape[1] = {2};
    float data[2] = {1, 2};
    const char *d = tmp_path("d");
    ck_assert_int_eq(mkdir(d, 0755), 0);
    ck_assert_int_eq(npy_write_atomic(d, "<f4", 1, shape, data, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "directory"));
    ck_assert_int_eq(dir_entries(tmpdir), 1);
    ck_assert_int_eq(dir_entries(d), 0);

    /* A directory appearing between writing and renaming: the rename fails, the temp goes. */
    npy_pending p;
    const char *path = tmp_path("late.npy");
    ck_assert_int_eq(npy_write_pending(path, "<f4", 1, shape, data, &p, err, sizeof err), 0);
    ck_assert_int_eq(dir_entries(tmpdir), 2);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    ck_assert_int_eq(npy_commit(&p, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "late.npy"));
    ck_assert_ptr_null(p.temp);
    ck_assert_int_eq(dir_entries(tmpdir), 2); /* d and late.npy/, no temporary file */
}
END_TEST

START_TEST(write_bad_arguments)
{
    char err[256];
    uint64_t shape[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    float data[1] = {1};
    const char *o = tmp_path("o.npy");
    ck_assert_int_eq(npy_write_atomic(o, "<f8", 1, shape, data, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "'<f8'"));
    ck_assert_int_eq(npy_write_atomic(o, "<f4", 9, shape, data, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "9 dimensions"));
    ck_assert_int_eq(npy_write_atomic(o, "<f4", 1, shape, NULL, err, sizeof err), -1);
    ck_assert_int_eq(dir_entries(tmpdir), 0);
}
END_TEST

START_TEST(write_pending_discard_and_replace)
{
    char err[256];
    uint64_t shape[1] = {2};
    float one[2] = {1, 1}, two[2] = {2, 2};
    npy_pending p;
    npy_array a;
    const char *path = tmp_path("o.npy");
    ck_assert_int_eq(npy_write_pending(path, "<f4", 1, shape, one, &p, err, sizeof err), 0);
    ck_assert_int_eq(access(path, F_OK), -1); /* not visible until committed */
    npy_discard(&p);
    npy_discard(&p); /* twice is harmless */
    ck_assert_int_eq(dir_entries(tmpdir), 0);

    mode_t old = umask(022);
    ck_assert_int_eq(npy_write_atomic(path, "<f4", 1, shape, one, err, sizeof err), 0);
    ck_assert_int_eq(npy_write_atomic(path, "<f4", 1, shape, two, err, sizeof err), 0);
    umask(old);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0644); /* as a plain fopen() would have made it */
    ck_assert_int_eq(npy_read(path, &a, err, sizeof err), 0);
    ck_assert_mem_eq(a.data, two, sizeof two);
    npy_free(&a);
    ck_assert_int_eq(dir_entries(tmpdir), 1);
}
END_TEST

static Suite *npy_suite(void)
{
    Suite *s = suite_create("npy");
    TCase *tc = tcase_create("round_trip");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, round_trip_dtypes, 0, (int)(sizeof dtypes / sizeof dtypes[0]));
    tcase_add_test(tc, round_trip_shapes);
    tcase_add_test(tc, read_versions_2_and_3);
    suite_add_tcase(s, tc);

    tc = tcase_create("header");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, header_variants, 0, (int)(sizeof good / sizeof good[0]));
    tcase_add_loop_test(tc, malformed_headers, 0, (int)(sizeof bad / sizeof bad[0]));
    tcase_add_loop_test(tc, malformed_prefix, 0, (int)(sizeof bad_prefix / sizeof bad_prefix[0]));
    tcase_add_test(tc, read_not_a_file);
    suite_add_tcase(s, tc);

    tc = tcase_create("write");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, write_missing_dir);
    tcase_add_test(tc, write_onto_directory);
    tcase_add_test(tc, write_bad_arguments);
    tcase_add_test(tc, write_pending_discard_and_replace);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(npy_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
