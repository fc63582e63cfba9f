/* rt_file.c — files the trainer writes and reads back: atomic writes
 * (temporary file, fsync, rename, fsync of the directory) and NumPy .npy
 * arrays of float32/float64. */
#include "rt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- atomic writes ---- */

typedef struct part {
    const void *buf;
    size_t len;
} part;

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

/* Writes the parts one after the other to path, atomically: readers see the
 * old file or the whole new one, never a torn one. */
static int write_atomic_parts(const char *path, const part *parts, int nparts, rt_error *err)
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
    part p = {buf, len};
    return write_atomic_parts(path, &p, 1, err);
}

/* ---- .npy ---- */

static const char npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static void swap_bytes(void *data, size_t count, size_t size)
{
    unsigned char *p = data;
    for (size_t i = 0; i < count; i++, p += size)
        for (size_t j = 0; j < size / 2; j++) {
            unsigned char t = p[j];
            p[j] = p[size - 1 - j];
            p[size - 1 - j] = t;
        }
}

#define NPY_MAX_RANK 32

int rt_npy_write(const char *path, const real *data, int rank, const int64_t *dims, rt_error *err)
{
    if (rank < 0 || rank > NPY_MAX_RANK)
        return rt_fail(err, "%s: cannot write an array of rank %d", path, rank);
    /* v1.0 header: magic, version, uint16 little-endian length, then the dict
     * padded with spaces so the data starts at a multiple of 64 bytes. */
    char head[10 + 64 * 20];
    int len = snprintf(head + 10, sizeof head - 10,
                       "{'descr': '<f%d', 'fortran_order': False, 'shape': (", (int)sizeof(real));
    size_t count = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0)
            return rt_fail(err, "%s: dimension %d is negative (%lld)", path, i, (long long)dims[i]);
        if (dims[i] > 0 && count > SIZE_MAX / sizeof(real) / (size_t)dims[i])
            return rt_fail(err, "%s: array too large", path);
        count *= (size_t)dims[i];
        len += snprintf(head + 10 + len, sizeof head - 10 - (size_t)len, "%s%lld", i ? ", " : "",
                        (long long)dims[i]);
    }
    len +=
        snprintf(head + 10 + len, sizeof head - 10 - (size_t)len, "%s), }", rank == 1 ? "," : "");
    size_t total = 10 + (size_t)len + 1; /* + the final '\n' */
    size_t padded = (total + 63) / 64 * 64;
    memset(head + 10 + len, ' ', padded - total);
    head[padded - 1] = '\n';
    size_t hlen = padded - 10;
    memcpy(head, npy_magic, 6);
    head[6] = 1;
    head[7] = 0;
    head[8] = (char)(hlen & 0xff);
    head[9] = (char)(hlen >> 8);

    part parts[2] = {{head, padded}, {data, count * sizeof(real)}};
    if (host_is_little_endian()) return write_atomic_parts(path, parts, 2, err);
    real *le = malloc(count * sizeof(real) + 1);
    if (!le) return rt_fail(err, "%s: out of memory", path);
    memcpy(le, data, count * sizeof(real));
    swap_bytes(le, count, sizeof(real));
    parts[1].buf = le;
    int rc = write_atomic_parts(path, parts, 2, err);
    free(le);
    return rc;
}

/* The header is a Python dict literal; numpy writes exactly the keys descr,
 * fortran_order and shape. This parser accepts that form with any spacing
 * and either quote character, and nothing fancier. */
typedef struct npy_header {
    char descr[16];
    int fortran;
    int rank;
    int64_t dims[NPY_MAX_RANK];
    int have_descr, have_fortran, have_shape;
} npy_header;

static const char *skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
    return s;
}

static const char *parse_str(const char *s, char *out, size_t cap)
{
    char q = *s;
    if (q != '\'' && q != '"') return NULL;
    size_t n = 0;
    for (s++; *s && *s != q; s++) {
        if (n + 1 >= cap) return NULL;
        out[n++] = *s;
    }
    if (*s != q) return NULL;
    out[n] = '\0';
    return s + 1;
}

static const char *parse_shape(const char *s, npy_header *h)
{
    if (*s++ != '(') return NULL;
    h->rank = 0;
    for (;;) {
        s = skip_ws(s);
        if (*s == ')') return s + 1;
        if (*s < '0' || *s > '9' || h->rank == NPY_MAX_RANK) return NULL;
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno) return NULL;
        h->dims[h->rank++] = v;
        s = skip_ws(end);
        if (*s == ',')
            s++;
        else if (*s != ')')
            return NULL;
    }
}

static int parse_header(const char *s, npy_header *h)
{
    memset(h, 0, sizeof *h);
    s = skip_ws(s);
    if (*s++ != '{') return -1;
    for (;;) {
        char key[32];
        s = skip_ws(s);
        if (*s == '}') break;
        if (!(s = parse_str(s, key, sizeof key))) return -1;
        s = skip_ws(s);
        if (*s++ != ':') return -1;
        s = skip_ws(s);
        if (strcmp(key, "descr") == 0) {
            if (!(s = parse_str(s, h->descr, sizeof h->descr))) return -1;
            h->have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (strncmp(s, "True", 4) == 0)
                h->fortran = 1, s += 4;
            else if (strncmp(s, "False", 5) == 0)
                h->fortran = 0, s += 5;
            else
                return -1;
            h->have_fortran = 1;
        } else if (strcmp(key, "shape") == 0) {
            if (!(s = parse_shape(s, h))) return -1;
            h->have_shape = 1;
        } else {
            return -1;
        }
        s = skip_ws(s);
        if (*s == ',')
            s++;
        else if (*s != '}')
            return -1;
    }
    return h->have_descr && h->have_fortran && h->have_shape ? 0 : -1;
}

static int npy_read_file(FILE *f, const char *path, real *data, int64_t count, rt_error *err)
{
    unsigned char pre[12];
    if (fread(pre, 1, 8, f) != 8 || memcmp(pre, npy_magic, 6) != 0)
        return rt_fail(err, "%s: not a .npy file (bad magic)", path);
    int major = pre[6];
    size_t hlen;
    long data_off;
    if (major == 1) {
        if (fread(pre + 8, 1, 2, f) != 2) return rt_fail(err, "%s: truncated .npy header", path);
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
        data_off = 10 + (long)hlen;
    } else if (major == 2) {
        if (fread(pre + 8, 1, 4, f) != 4) return rt_fail(err, "%s: truncated .npy header", path);
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
        data_off = 12 + (long)hlen;
        if (hlen > (1u << 20)) return rt_fail(err, "%s: .npy header too long", path);
    } else {
        return rt_fail(err, "%s: unsupported .npy version %d.%d", path, major, pre[7]);
    }
    char *text = malloc(hlen + 1);
    if (!text) return rt_fail(err, "%s: out of memory", path);
    if (fread(text, 1, hlen, f) != hlen) {
        free(text);
        return rt_fail(err, "%s: truncated .npy header", path);
    }
    text[hlen] = '\0';
    npy_header h;
    int bad = parse_header(text, &h);
    free(text);
    if (bad) return rt_fail(err, "%s: malformed .npy header", path);

    size_t esize;
    if (strcmp(h.descr, "<f4") == 0)
        esize = 4;
    else if (strcmp(h.descr, "<f8") == 0)
        esize = 8;
    else
        return rt_fail(err, "%s: unsupported dtype '%s' (want '<f4' or '<f8')", path, h.descr);
    if (h.fortran)
        return rt_fail(err, "%s: Fortran-order arrays are not supported (save in C order)", path);
    int64_t n = 1;
    for (int i = 0; i < h.rank; i++) {
        if (h.dims[i] != 0 && n > INT64_MAX / h.dims[i])
            return rt_fail(err, "%s: array too large", path);
        n *= h.dims[i];
    }
    if (n != count)
        return rt_fail(err, "%s: has %lld elements, expected %lld", path, (long long)n,
                       (long long)count);

    /* Read in chunks and convert to real; the common case (same type,
     * little-endian host) reads straight into data. */
    int swap = !host_is_little_endian();
    if (esize == sizeof(real) && !swap) {
        size_t got = fread(data, esize, (size_t)count, f);
        if (got != (size_t)count)
            return rt_fail(err, "%s: truncated: %lld of %lld elements after offset %ld", path,
                           (long long)got, (long long)count, data_off);
    } else {
        unsigned char buf[8 * 1024];
        int64_t done = 0;
        while (done < count) {
            size_t want = sizeof buf / esize;
            if ((int64_t)want > count - done) want = (size_t)(count - done);
            size_t got = fread(buf, esize, want, f);
            if (swap) swap_bytes(buf, got, esize);
            for (size_t i = 0; i < got; i++) {
                if (esize == 4) {
                    float v;
                    memcpy(&v, buf + 4 * i, 4);
                    data[done + (int64_t)i] = (real)v;
                } else {
                    double v;
                    memcpy(&v, buf + 8 * i, 8);
                    data[done + (int64_t)i] = (real)v;
                }
            }
            done += (int64_t)got;
            if (got != want)
                return rt_fail(err, "%s: truncated: %lld of %lld elements after offset %ld", path,
                               (long long)done, (long long)count, data_off);
        }
    }
    if (ferror(f)) return rt_fail(err, "%s: read error: %s", path, strerror(errno));
    if (fgetc(f) != EOF) return rt_fail(err, "%s: unexpected bytes after the array data", path);
    return 0;
}

int rt_npy_read(const char *path, real *data, int64_t count, rt_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return rt_fail(err, "%s: cannot open: %s", path, strerror(errno));
    int rc = npy_read_file(f, path, data, count, err);
    fclose(f);
    return rc;
}
