/* libFuzzer harness for the .npy reader (tools/npy.c): any bytes go to npy_parse. On success the
 * array must describe exactly the bytes after the header; on failure the message must be one
 * NUL-terminated line and nothing may be left allocated (ASan's leak check sees that). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ERR_SIZE 512

static void die(const char *what)
{
    fprintf(stderr, "fuzz_npy: invariant broken: %s\n", what);
    abort();
}

static void check_success(const npy_array *a, const uint8_t *data, size_t size)
{
    if (a->ndim < 0 || a->ndim > NPY_MAX_DIMS)
        die("ndim outside 0..8");
    if (a->elem_size == 0 || a->elem_size != npy_dtype_size(a->dtype))
        die("elem_size does not match dtype");
    uint64_t count = 1;
    for (int i = 0; i < a->ndim; i++)
        if (__builtin_mul_overflow(count, a->shape[i], &count))
            count = UINT64_MAX; /* only allowed when another dimension is 0 */
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] == 0)
            count = 0;
    uint64_t bytes;
    if (__builtin_mul_overflow(count, (uint64_t)a->elem_size, &bytes) || bytes != a->nbytes)
        die("elem_size * product(shape) != nbytes");
    if (count != npy_count(a))
        die("npy_count disagrees with the shape");
    if (a->nbytes > size)
        die("nbytes larger than the input");
    if ((a->nbytes == 0) != (a->data == NULL))
        die("data is NULL exactly when nbytes is 0 (broken)");
    if (a->nbytes && memcmp(a->data, data + size - a->nbytes, a->nbytes) != 0)
        die("data is not the tail of the input");
    char shape[64]; /* deliberately short: npy_format_shape must truncate, not overflow */
    npy_format_shape(a->ndim, a->shape, shape, sizeof shape);
    if (!memchr(shape, '\0', sizeof shape))
        die("npy_format_shape left its buffer unterminated");
}

static void check_failure(const npy_array *a, const char *err, size_t errsz)
{
    static const npy_array zero;
    if (memcmp(a, &zero, sizeof zero) != 0)
        die("out is not zeroed after a failure");
    const char *nul = memchr(err, '\0', errsz);
    if (!nul)
        die("error message is not NUL-terminated");
    if (nul == err)
        die("error message is empty");
    if (memchr(err, '\n', (size_t)(nul - err)))
        die("error message is more than one line");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly size bytes, so that ASan sees any read past the end. */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    if (size)
        memcpy(buf, data, size);

    npy_array a;
    char *err = malloc(ERR_SIZE);
    if (!err)
        abort();
    memset(err, 0x55, ERR_SIZE);
    int rc = npy_parse(buf, size, "fuzz.npy", &a, err, ERR_SIZE);
    if (rc == 0)
        check_success(&a, buf, size);
    else if (rc == -1)
        check_failure(&a, err, ERR_SIZE);
    else
        die("npy_parse returned neither 0 nor -1");
    npy_free(&a);
    static const npy_array zero;
    if (memcmp(&a, &zero, sizeof zero) != 0)
        die("npy_free did not zero the array");

    /* The same bytes without an error buffer, and with one too short for any message: the
     * outcome must not change and nothing may be written past errsz. */
    int rc2 = npy_parse(buf, size, NULL, &a, NULL, 0);
    npy_free(&a);
    char small[7];
    memset(small, 0x55, sizeof small);
    int rc3 = npy_parse(buf, size, NULL, &a, small, sizeof small);
    npy_free(&a);
    if (rc2 != rc || rc3 != rc)
        die("the outcome depends on the error buffer");
    if (rc3 != 0 && !memchr(small, '\0', sizeof small))
        die("a short error buffer is left unterminated");

    free(err);
    free(buf);
    return 0;
}
