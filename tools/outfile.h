/* Output files that appear complete or not at all: the contents go to a temporary file beside the
 * final path (so that the rename stays on one file system), which is fsync'd, closed and then
 * renamed onto the path. Used by the .npy writer and the tool's outputs (--json, --csv, --png).
 *
 * Every function returns 0 on success and -1 on failure. On failure it sets f->step and f->error
 * (callers word their own messages from them), removes the temporary file and releases f, so that
 * nothing is left behind. outfile_begin reads the process umask (to give the file the mode fopen()
 * would), so call it from one thread. */
#ifndef VKATTN_TOOL_OUTFILE_H
#define VKATTN_TOOL_OUTFILE_H

#include <stddef.h>
#include <stdio.h>

typedef struct outfile {
    char *path;       /* the final path (malloc'd) */
    char *temp;       /* the temporary file beside it (malloc'd); NULL once committed or released */
    FILE *fp;         /* the temporary file, open from outfile_begin to outfile_finish */
    const char *step; /* what failed: "create", "chmod", "open", "write", "sync", "close" or
                       * "move into place"; NULL when memory ran out */
    int error;        /* the errno value of the failure; 0 while nothing has failed */
} outfile;

/* Creates the temporary file beside path (path + ".XXXXXX") and opens it as f->fp. */
int outfile_begin(outfile *f, const char *path);

/* Writes n bytes of buf to f->fp. A failure is kept in f->step and f->error but f stays open:
 * outfile_finish (or outfile_commit) then reports it. */
int outfile_write(outfile *f, const void *buf, size_t n);

/* Flushes, fsyncs and closes the temporary file; it stays pending until outfile_commit or
 * outfile_discard. Fails on any earlier write failure, including ones made through f->fp. */
int outfile_finish(outfile *f);

/* Finishes f if it is still open, then renames the temporary file onto the path and syncs the
 * directory (best effort). Either way f is released. */
int outfile_commit(outfile *f);

/* Closes and removes the temporary file and releases f. NULL and released outfiles are fine. */
void outfile_discard(outfile *f);

#endif
