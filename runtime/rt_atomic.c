/* rt_atomic.c — atomic file writes: a temporary file beside the target,
 * fsync, rename, fsync of the directory; readers see the old file or the
 * whole new one, never a torn one. Every file the runtime writes goes
 * through here. */
#include "rt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* fsync of the directory makes the rename itself durable; some file
 * systems cannot fsync a directory (EINVAL), which is not an error here. */
static int sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    if (!slash) {
        dir = strdup(".");
    } else if (slash == path) {
        dir = strdup("/");
    } else {
        dir = strndup(path, (size_t)(slash - path));
    }
    if (!dir) return -1;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    if (rc != 0 && saved != EINVAL) {
        errno = saved;
        return -1;
    }
    return 0;
}

int rt_write_atomic_parts(const char *path, const rt_part *parts, int nparts, rt_error *err)
{
    size_t tlen = strlen(path) + 32;
    char *tmp = malloc(tlen);
    if (!tmp) return rt_fail(err, "%s: out of memory", path);
    snprintf(tmp, tlen, "%s.tmp.%ld", path, (long)getpid());

    const char *what = "write";
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int saved = errno;
        free(tmp);
        return rt_fail(err, "%s: create temporary file: %s", path, strerror(saved));
    }
    /* Each step runs only if the ones before it worked; the first failure
     * names itself in `what` and keeps its errno in `saved`. */
    int ok = 1, saved = 0;
    for (int i = 0; ok && i < nparts; i++) ok = write_all(fd, parts[i].buf, parts[i].len) == 0;
    if (ok && fsync(fd) != 0) {
        ok = 0;
        what = "fsync";
    }
    if (!ok) saved = errno;
    if (close(fd) != 0 && ok) {
        ok = 0;
        what = "close";
        saved = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = 0;
        what = "rename";
        saved = errno;
    }
    if (!ok) {
        unlink(tmp);
        free(tmp);
        return rt_fail(err, "%s: %s: %s", path, what, strerror(saved));
    }
    free(tmp);
    /* The data is in place; a failed directory sync only weakens durability
     * after a crash, but the caller asked to know. */
    if (sync_dir(path) != 0)
        return rt_fail(err, "%s: fsync of directory: %s", path, strerror(errno));
    return 0;
}

int rt_write_atomic(const char *path, const void *buf, size_t len, rt_error *err)
{
    rt_part p = {buf, len};
    return rt_write_atomic_parts(path, &p, 1, err);
}
