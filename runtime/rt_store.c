/* rt_store.c — a data file's features kept in the file's own element type
 * (uint8 pixels stay bytes, a .npy file stays on disk, mapped), converted to
 * real a row at a time as batches are gathered: the data costs its file's
 * size in memory, or nothing but page cache when mapped. */
#include "rt.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

double rt_elem_value(char kind, int esize, const unsigned char *p)
{
    switch (kind * 16 + esize) {
    case 'f' * 16 + 4: {
        float v;
        memcpy(&v, p, 4);
        return v;
    }
    case 'f' * 16 + 8: {
        double v;
        memcpy(&v, p, 8);
        return v;
    }
    case 'i' * 16 + 1:
        return (int8_t)p[0];
    case 'i' * 16 + 2: {
        int16_t v;
        memcpy(&v, p, 2);
        return v;
    }
    case 'i' * 16 + 4: {
        int32_t v;
        memcpy(&v, p, 4);
        return v;
    }
    case 'i' * 16 + 8: {
        int64_t v;
        memcpy(&v, p, 8);
        return (double)v;
    }
    case 'u' * 16 + 1:
        return p[0];
    case 'u' * 16 + 2: {
        uint16_t v;
        memcpy(&v, p, 2);
        return v;
    }
    case 'u' * 16 + 4: {
        uint32_t v;
        memcpy(&v, p, 4);
        return v;
    }
    default: {
        uint64_t v;
        memcpy(&v, p, 8);
        return (double)v;
    }
    }
}

int rt_store_alloc(rt_store *s, int64_t n, int64_t d, char kind, int esize, const char *name,
                   rt_error *err)
{
    memset(s, 0, sizeof *s);
    uint64_t bytes = (uint64_t)n * (uint64_t)d * (uint64_t)esize;
    if (bytes > RT_DATA_MAX_BYTES || bytes > SIZE_MAX - 1)
        return rt_fail(err, "%s: %lld rows x %lld values need %.1f GiB, more than the %d GiB limit",
                       name, (long long)n, (long long)d, (double)bytes / (1 << 30),
                       (int)(RT_DATA_MAX_BYTES >> 30));
    if (!(s->mem = malloc((size_t)bytes + 1)))
        return rt_fail(err, "%s: out of memory for %lld rows x %lld values", name, (long long)n,
                       (long long)d);
    s->p = s->mem;
    s->kind = kind;
    s->esize = esize;
    s->d = d;
    s->path = name;
    return 0;
}

int rt_store_map(rt_store *s, const char *path, int64_t off, int64_t n, int64_t d, char kind,
                 int esize, int swap, int try_map, rt_error *err)
{
    memset(s, 0, sizeof *s);
    s->kind = kind, s->esize = esize, s->swap = swap, s->d = d, s->path = path, s->off = off;
    s->fd = open(path, O_RDONLY);
    if (s->fd < 0) {
        s->kind = 0;
        return rt_fail(err, "%s: cannot open: %s", path, strerror(errno));
    }
    uint64_t len = (uint64_t)off + (uint64_t)n * (uint64_t)d * (uint64_t)esize;
    void *m = try_map && len <= SIZE_MAX ? mmap(NULL, (size_t)len, PROT_READ, MAP_PRIVATE, s->fd, 0)
                                         : MAP_FAILED;
    if (m != MAP_FAILED) {
        close(s->fd);
        s->map = m;
        s->map_len = (size_t)len;
        s->p = (const unsigned char *)m + off;
        return 0;
    }
    /* no room for the mapping in the address space (ulimit -v) or a file
     * that cannot be mapped: rows are read when they are needed */
    if (!(s->read_err = calloc(1, sizeof *s->read_err))) {
        close(s->fd);
        s->kind = 0;
        return rt_fail(err, "%s: out of memory", path);
    }
    return 0;
}

/* m elements at src (the store's type) as real */
static void convert(const rt_store *s, const unsigned char *src, int64_t m, real *out)
{
    if (s->kind == 'u' && s->esize == 1) {
        for (int64_t j = 0; j < m; j++) out[j] = (real)src[j];
    } else if (s->kind == 'f' && s->esize == (int)sizeof(real) && !s->swap) {
        memcpy(out, src, (size_t)m * sizeof(real));
    } else {
        unsigned char e[8];
        for (int64_t j = 0; j < m; j++) {
            memcpy(e, src + j * s->esize, (size_t)s->esize);
            if (s->swap) rt_swap_bytes(e, 1, (size_t)s->esize);
            out[j] = (real)rt_elem_value(s->kind, s->esize, e);
        }
    }
}

/* pread of m elements at element offset at, through a buffer on the stack */
static void read_elems(const rt_store *s, int64_t at, int64_t m, real *out)
{
    unsigned char buf[1 << 12]; /* a multiple of every element size */
    int64_t per = (int64_t)sizeof buf / s->esize;
    for (int64_t done = 0; done < m;) {
        int64_t k = m - done < per ? m - done : per;
        size_t want = (size_t)(k * s->esize);
        ssize_t got = pread(s->fd, buf, want, (off_t)(s->off + (at + done) * s->esize));
        if (got != (ssize_t)want) {
            if (!s->read_err->msg[0])
                rt_fail(s->read_err, "%s: %s at byte %lld (the file changed while in use?)",
                        s->path, got < 0 ? strerror(errno) : "cannot read",
                        (long long)(s->off + (at + done) * s->esize));
            for (int64_t j = done; j < m; j++) out[j] = (real)NAN;
            return;
        }
        convert(s, buf, k, out + done);
        done += k;
    }
}

void rt_store_prefetch_row(const rt_store *s, int64_t r)
{
    if (!s->p) return;
    const unsigned char *row = s->p + r * s->d * s->esize;
    for (int64_t o = 0; o < s->d * s->esize; o += 64) __builtin_prefetch(row + o);
}

void rt_store_row(const rt_store *s, int64_t r, int64_t j0, int64_t m, real *out)
{
    if (s->p)
        convert(s, s->p + (r * s->d + j0) * s->esize, m, out);
    else
        read_elems(s, r * s->d + j0, m, out);
}

/* an element that is not a finite real, in double as the readers check it */
static int bad_elem(const rt_store *s, const unsigned char *src)
{
    if (s->esize == 4 && !s->swap) { /* the common case, float32 */
        float f;
        memcpy(&f, src, 4);
        return !(fabsf(f) <= FLT_MAX); /* finite in float is finite in double */
    }
    unsigned char e[8];
    memcpy(e, src, (size_t)s->esize);
    if (s->swap) rt_swap_bytes(e, 1, (size_t)s->esize);
    return !(fabs(rt_elem_value(s->kind, s->esize, e)) <= RT_REAL_MAX);
}

int64_t rt_store_first_bad_row(const rt_store *s, int64_t n)
{
    if (s->kind != 'f') return -1; /* integers are finite in every real */
    size_t row = (size_t)(s->d * s->esize);
    unsigned char *buf = s->p ? NULL : malloc(row);
    if (!s->p && !buf) {
        rt_fail(s->read_err, "%s: out of memory", s->path);
        return -2;
    }
    int64_t bad = -1;
    for (int64_t r = 0; r < n && bad == -1; r++) {
        const unsigned char *src = s->p ? s->p + (size_t)r * row : buf;
        if (!s->p && pread(s->fd, buf, row, (off_t)(s->off + r * (int64_t)row)) != (ssize_t)row) {
            rt_fail(s->read_err, "%s: cannot read row %lld: %s", s->path, (long long)r,
                    strerror(errno));
            bad = -2;
            break;
        }
        for (int64_t j = 0; j < s->d; j++)
            if (bad_elem(s, src + j * s->esize)) {
                bad = r;
                break;
            }
    }
    free(buf);
    return bad;
}

void rt_store_free(rt_store *s)
{
    if (s->map) munmap(s->map, s->map_len);
    if (s->kind && !s->p) close(s->fd);
    free(s->mem);
    free(s->read_err);
    memset(s, 0, sizeof *s);
}
