/* The NumPy .npy codec of the tool and the tests.
 *
 * Reads format versions 1.0, 2.0 and 3.0 (C order, little-endian) of the dtypes below, and writes
 * version 1.0 the way numpy does (header padded to a multiple of 64 bytes, ending in '\n').
 * Every function returns 0 on success and -1 on failure; on failure err (when not NULL) holds one
 * NUL-terminated line naming the file, what is wrong and what was expected, and nothing is left
 * allocated or written. Little-endian hosts only (data is copied as is). The writers read the
 * process umask (to give the file the mode fopen() would), so call them from one thread. */
#ifndef VKATTN_TOOL_NPY_H
#define VKATTN_TOOL_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "outfile.h"

#define NPY_MAX_DIMS 8
#define NPY_MAX_HEADER 65536 /* bytes of header dict accepted on read */

typedef struct npy_array {
    char dtype[8];      /* canonical descr: "<f4" "<f2" "|b1" "|u1" "<u4" "<i4" */
    size_t elem_size;   /* bytes per element */
    int ndim;           /* 0..NPY_MAX_DIMS; 0 = a scalar (one element) */
    uint64_t shape[NPY_MAX_DIMS];
    void *data;         /* malloc'd, nbytes long (NULL when nbytes is 0); owned, npy_free() */
    size_t nbytes;
} npy_array;

/* Element size of a supported descr, or 0 when it is not one of the canonical dtypes above. */
size_t npy_dtype_size(const char *descr);

/* Number of elements of a (product of the shape; 1 for ndim 0). */
uint64_t npy_count(const npy_array *a);

/* Writes shape as numpy prints it: "()", "(3,)", "(2, 3)". */
void npy_format_shape(int ndim, const uint64_t *shape, char *buf, size_t bufsz);

/* Parses a whole .npy file held in memory (buf, len). name is used in messages (NULL = "<memory>").
 * On success *out owns a copy of the data. */
int npy_parse(const void *buf, size_t len, const char *name, npy_array *out, char *err,
              size_t errsz);

/* Reads the file at path; the file size must match the shape exactly. */
int npy_read(const char *path, npy_array *out, char *err, size_t errsz);

/* Frees a's data and zeroes it. NULL and zeroed arrays are fine. */
void npy_free(npy_array *a);

/* An output written to a temporary file beside its final path, not yet renamed into place
 * (path: the final path, temp: the temporary file; see outfile.h). */
typedef outfile npy_pending;

/* Writes a complete, fsync'd .npy of descr (a supported dtype) and shape (ndim 0..8) to a
 * temporary file in path's directory. data holds the product of shape elements. */
int npy_write_pending(const char *path, const char *descr, int ndim, const uint64_t *shape,
                      const void *data, npy_pending *out, char *err, size_t errsz);

/* Renames the temporary file onto its path. On failure the temporary file is removed.
 * Either way p is released (zeroed). */
int npy_commit(npy_pending *p, char *err, size_t errsz);

/* Removes the temporary file and releases p. NULL and zeroed (or committed) pendings are fine. */
void npy_discard(npy_pending *p);

/* npy_write_pending + npy_commit: the file at path either appears complete or is untouched. */
int npy_write_atomic(const char *path, const char *descr, int ndim, const uint64_t *shape,
                     const void *data, char *err, size_t errsz);

#endif
