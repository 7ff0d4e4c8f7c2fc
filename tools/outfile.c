#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Records the first failure only: later steps fail because of it. */
static int failed(outfile *f, const char *step, int error)
{
    if (!f->error) {
        f->step = step;
        f->error = error ? error : EIO;
    }
    return -1;
}

/* Closes and removes the temporary file and frees the names; step and error stay. */
static void release(outfile *f)
{
    if (f->fp)
        fclose(f->fp);
    if (f->temp)
        unlink(f->temp);
    free(f->temp);
    free(f->path);
    f->fp = NULL;
    f->temp = f->path = NULL;
}

int outfile_begin(outfile *f, const char *path)
{
    memset(f, 0, sizeof *f);
    size_t n = strlen(path);
    f->path = malloc(n + 1);
    char *temp = malloc(n + 8);
    if (!f->path || !temp) {
        free(temp);
        release(f);
        return failed(f, NULL, ENOMEM);
    }
    memcpy(f->path, path, n + 1);
    memcpy(temp, path, n);
    memcpy(temp + n, ".XXXXXX", 8);
    int fd = mkstemp(temp);
    if (fd < 0) {
        failed(f, "create", errno);
        free(temp);
        release(f);
        return -1;
    }
    f->temp = temp;
    /* mkstemp makes the file 0600; give it the mode a plain creat() would have. */
    mode_t mask = umask(022);
    umask(mask);
    if (fchmod(fd, 0666 & ~mask) != 0)
        failed(f, "chmod", errno);
    else if (!(f->fp = fdopen(fd, "wb")))
        failed(f, "open", errno);
    if (!f->fp)
        close(fd);
    if (f->error) {
        release(f);
        return -1;
    }
    return 0;
}

int outfile_write(outfile *f, const void *buf, size_t n)
{
    if (f->error || !f->fp)
        return failed(f, "write", EBADF);
    if (n && fwrite(buf, 1, n, f->fp) != n)
        return failed(f, "write", errno);
    return 0;
}

int outfile_finish(outfile *f)
{
    if (!f->fp)
        return failed(f, "write", EBADF);
    if (ferror(f->fp))
        failed(f, "write", EIO);
    if (!f->error && fflush(f->fp) != 0)
        failed(f, "write", errno);
    if (!f->error && fsync(fileno(f->fp)) != 0)
        failed(f, "sync", errno);
    if (fclose(f->fp) != 0)
        failed(f, "close", errno);
    f->fp = NULL;
    if (f->error) {
        release(f);
        return -1;
    }
    return 0;
}

/* Makes the rename durable; best effort, the data itself is already synced. */
static void sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir)
        return;
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

int outfile_commit(outfile *f)
{
    if (!f->temp)
        return failed(f, "move into place", EINVAL);
    if (f->fp && outfile_finish(f))
        return -1;
    int rc = 0;
    if (rename(f->temp, f->path) != 0) {
        rc = failed(f, "move into place", errno);
    } else {
        sync_dir(f->path);
        free(f->temp);
        f->temp = NULL;
    }
    release(f);
    return rc;
}

void outfile_discard(outfile *f)
{
    if (f)
        release(f);
}
