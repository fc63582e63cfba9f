/* rt_idx.c — the IDX reader (MNIST's format), raw or gzip: images and
 * labels files, their headers checked against the file size and the
 * allocation limit before anything is allocated. */
#include "rt.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* deflate cannot expand input more than ~1032:1; a gzip file claiming more
 * than this many bytes per compressed byte is truncated or lying. */
#define GZ_MAX_RATIO 1032

typedef struct idx_file {
    const char *path;
    gzFile gz;
    int type;        /* IDX type byte: 0x08 ubyte ... 0x0E float64 */
    int esize;       /* bytes per element */
    int64_t n;       /* first dimension: rows */
    int64_t per_row; /* product of the other dimensions */
} idx_file;

static int idx_esize(int type)
{
    switch (type) {
    case 0x08: /* unsigned byte */
    case 0x09: /* signed byte */
        return 1;
    case 0x0B: /* int16 */
        return 2;
    case 0x0C: /* int32 */
    case 0x0D: /* float32 */
        return 4;
    case 0x0E: /* float64 */
        return 8;
    default:
        return 0;
    }
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The size an IDX header claims checked against the allocation limit and
 * the file (a gzip file can hold ~1032 times its size at most); hlen: the
 * header's bytes. */
static int idx_fits(const idx_file *f, const struct stat *st, int hlen, const char *what,
                    rt_error *err)
{
    const char *path = f->path;
    /* n and per_row are below 2^31, so their product fits in 62 bits. */
    uint64_t elems = (uint64_t)f->n * (uint64_t)f->per_row;
    if (elems > RT_DATA_MAX_BYTES / sizeof(real))
        return rt_fail(err,
                       "%s: header claims %lld rows x %lld values (%.1f GiB), more than the %d GiB "
                       "limit",
                       path, (long long)f->n, (long long)f->per_row,
                       (double)elems * sizeof(real) / (1 << 30), (int)(RT_DATA_MAX_BYTES >> 30));
    int64_t need = (int64_t)elems * f->esize;
    if (S_ISREG(st->st_mode)) {
        if (gzdirect(f->gz)) {
            int64_t have = (int64_t)st->st_size - hlen;
            if (have < need)
                return rt_fail(err, "%s: truncated: expected %lld bytes of %s, file has %lld", path,
                               (long long)need, what, (long long)have);
        } else if ((uint64_t)need > (uint64_t)st->st_size * GZ_MAX_RATIO) {
            return rt_fail(err,
                           "%s: truncated: expected %lld bytes of %s, more than a %lld-byte gzip "
                           "file can hold",
                           path, (long long)need, what, (long long)st->st_size);
        }
    }
    return 0;
}

/* Opens an IDX file and reads its header; `what` names the payload in the
 * truncation message ("pixels", "labels"). Checks the claimed size against the
 * allocation limit and the file size before anyone allocates. */
static int idx_open(idx_file *f, const char *path, const char *what, rt_error *err)
{
    memset(f, 0, sizeof *f);
    f->path = path;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return rt_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return rt_fail(err, "%s: cannot open: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return rt_fail(err, "%s: cannot open: Is a directory", path);
    }
    /* gzdopen reads gzip and passes raw files through unchanged. */
    f->gz = gzdopen(fd, "rb");
    if (!f->gz) {
        close(fd);
        return rt_fail(err, "%s: cannot open: out of memory", path);
    }
    gzbuffer(f->gz, 1 << 17);

    unsigned char hdr[4 + 4 * 255];
    int got = gzread(f->gz, hdr, 4);
    if (got < 4) {
        rt_fail(err, "%s: not an IDX file (only %d bytes)", path, got < 0 ? 0 : got);
        goto fail;
    }
    uint32_t magic = be32(hdr);
    int rank = hdr[3];
    f->type = hdr[2];
    f->esize = idx_esize(f->type);
    if (hdr[0] != 0 || hdr[1] != 0 || f->esize == 0 || rank < 1) {
        rt_fail(err, "%s: not an IDX file (magic 0x%08x)", path, (unsigned)magic);
        goto fail;
    }
    int hlen = 4 + 4 * rank;
    got = gzread(f->gz, hdr + 4, (unsigned)(4 * rank));
    if (got < 4 * rank) {
        rt_fail(err, "%s: truncated: expected %d bytes of header, file has %d", path, hlen,
                4 + (got < 0 ? 0 : got));
        goto fail;
    }
    f->n = be32(hdr + 4);
    if (f->n > INT32_MAX) {
        rt_fail(err, "%s: header claims %lld rows, more than the limit of %d", path,
                (long long)f->n, INT32_MAX);
        goto fail;
    }
    if (f->n == 0) {
        rt_fail(err, "%s: no rows", path);
        goto fail;
    }
    f->per_row = 1;
    for (int i = 1; i < rank; i++) {
        int64_t dim = be32(hdr + 4 + 4 * i);
        if (dim != 0 && f->per_row > INT32_MAX / dim) {
            rt_fail(err, "%s: header claims more than %d values per row", path, INT32_MAX);
            goto fail;
        }
        f->per_row *= dim;
    }
    if (f->per_row == 0) {
        rt_fail(err, "%s: header claims 0 values per row", path);
        goto fail;
    }
    if (idx_fits(f, &st, hlen, what, err)) goto fail;
    return 0;
fail:
    gzclose(f->gz);
    f->gz = NULL;
    return -1;
}

static void idx_close(idx_file *f)
{
    if (f->gz) gzclose(f->gz);
    f->gz = NULL;
}

/* Converts count big-endian elements; returns the index of the first value
 * that is not a finite real, or -1. */
static int64_t idx_convert(const unsigned char *p, int type, int64_t count, real *dst)
{
    for (int64_t i = 0; i < count; i++) {
        double v;
        switch (type) {
        case 0x08:
            v = p[i];
            break;
        case 0x09:
            v = (int8_t)p[i];
            break;
        case 0x0B:
            v = (int16_t)(uint16_t)((unsigned)p[2 * i] << 8 | p[2 * i + 1]);
            break;
        case 0x0C:
            v = (int32_t)be32(p + 4 * i);
            break;
        case 0x0D: {
            uint32_t u = be32(p + 4 * i);
            float fl;
            memcpy(&fl, &u, 4);
            v = fl;
            break;
        }
        default: { /* 0x0E */
            uint64_t u = (uint64_t)be32(p + 8 * i) << 32 | be32(p + 8 * i + 4);
            memcpy(&v, &u, 8);
            break;
        }
        }
        if (!(fabs(v) <= RT_REAL_MAX)) return i; /* also catches NaN */
        dst[i] = (real)v;
    }
    return -1;
}

/* Why gzread gave fewer bytes than asked: a read error, corrupt data or a
 * file that ends early. */
static int short_read(idx_file *f, const char *what, int64_t total, int64_t done, int got,
                      rt_error *err)
{
    int errnum = Z_OK;
    const char *msg = gzerror(f->gz, &errnum);
    if (errnum == Z_ERRNO) return rt_fail(err, "%s: read error: %s", f->path, strerror(errno));
    if (errnum != Z_OK && errnum != Z_BUF_ERROR)
        return rt_fail(err, "%s: corrupt gzip data: %s", f->path, msg);
    return rt_fail(err, "%s: truncated: expected %lld bytes of %s, file has %lld", f->path,
                   (long long)total, what, (long long)(done + (got > 0 ? got : 0)));
}

/* Reads the whole payload into dst, streaming through a small buffer so a
 * float64 file never needs a second full-size copy. */
static int idx_read(idx_file *f, real *dst, const char *what, rt_error *err)
{
    unsigned char buf[1 << 16]; /* a multiple of every element size */
    int64_t total = f->n * f->per_row * f->esize, done = 0;
    while (done < total) {
        int64_t left = total - done;
        unsigned want = left < (int64_t)sizeof buf ? (unsigned)left : (unsigned)sizeof buf;
        int got = gzread(f->gz, buf, want);
        if (got < (int)want) return short_read(f, what, total, done, got, err);
        int64_t first = done / f->esize;
        int64_t bad = idx_convert(buf, f->type, got / f->esize, dst + first);
        if (bad >= 0)
            return rt_fail(err, "%s: index %lld: value is not a finite %s", f->path,
                           (long long)((first + bad) / f->per_row), RT_REAL_NAME);
        done += got;
    }
    return 0;
}

int rt_idx_probe(const rt_source *src, int32_t *n, int32_t *d, rt_error *err)
{
    if (!src->images) return rt_fail(err, "idx source: no images file given");
    idx_file im, lb;
    if (idx_open(&im, src->images, "pixels", err)) return -1;
    idx_close(&im);
    if (src->labels) {
        if (idx_open(&lb, src->labels, "labels", err)) return -1;
        idx_close(&lb);
        if (lb.n != im.n)
            return rt_fail(err, "%s: %lld labels, but %s has %lld images", src->labels,
                           (long long)lb.n, src->images, (long long)im.n);
    }
    *n = (int32_t)im.n;
    *d = (int32_t)im.per_row;
    return 0;
}

/* Opens the labels file of src for n images of ylen values a row. */
static int idx_open_labels(const rt_source *src, idx_file *lb, int64_t n, int32_t ylen,
                           rt_error *err)
{
    if (!src->labels)
        return rt_fail(err, "%s: no labels file given, but the model expects labels", src->images);
    if (idx_open(lb, src->labels, "labels", err)) return -1;
    if (lb->n != n) {
        rt_fail(err, "%s: %lld labels, but %s has %lld images", src->labels, (long long)lb->n,
                src->images, (long long)n);
        idx_close(lb);
        return -1;
    }
    if (lb->per_row != ylen) {
        rt_fail(err, "%s: %lld label values per row, the model expects %d", src->labels,
                (long long)lb->per_row, (int)ylen);
        idx_close(lb);
        return -1;
    }
    return 0;
}

/* The payload read as it is stored (bytes: raw or gunzipped). */
static int idx_read_raw(idx_file *f, unsigned char *dst, const char *what, rt_error *err)
{
    int64_t total = f->n * f->per_row * f->esize, done = 0;
    while (done < total) {
        int64_t left = total - done;
        unsigned want = left < (1 << 30) ? (unsigned)left : (1u << 30);
        int got = gzread(f->gz, dst + done, want);
        if (got < (int)want) return short_read(f, what, total, done, got, err);
        done += got;
    }
    return 0;
}

/* rt_idx_load and rt_idx_open: images of bytes (stored) stay bytes when
 * keep_bytes is set; every other type becomes real. */
static int idx_load(const rt_source *src, int32_t d_expected, int32_t ylen, int32_t classes,
                    int keep_bytes, rt_dataset *out, rt_error *err)
{
    if (!src->images) return rt_fail(err, "idx source: no images file given");
    idx_file im, lb;
    memset(&lb, 0, sizeof lb);
    memset(out, 0, sizeof *out);
    if (idx_open(&im, src->images, "pixels", err)) return -1;
    if (rt_data_check_features(src->images, im.per_row, d_expected, err)) goto fail;
    if (ylen > 0 && idx_open_labels(src, &lb, im.n, ylen, err)) goto fail;
    if (keep_bytes && im.esize == 1) {
        if (rt_store_alloc(&out->xs, im.n, im.per_row, im.type == 0x08 ? 'u' : 'i', 1, src->images,
                           err))
            goto fail;
        out->n = (int32_t)im.n, out->d = (int32_t)im.per_row, out->ylen = ylen;
        if (ylen > 0 && !(out->y = malloc((size_t)im.n * (size_t)ylen * sizeof(real) + 1))) {
            rt_fail(err, "%s: out of memory", src->labels);
            goto fail;
        }
        if (idx_read_raw(&im, out->xs.mem, "pixels", err)) goto fail;
    } else {
        if (rt_data_alloc(out, im.n, im.per_row, ylen, src->images, err)) goto fail;
        if (idx_read(&im, out->x, "pixels", err)) goto fail;
    }
    if (ylen > 0) {
        if (idx_read(&lb, out->y, "labels", err)) goto fail;
        if (rt_data_check_labels(out, classes, src->labels, err)) goto fail;
    }
    idx_close(&im);
    idx_close(&lb);
    return 0;
fail:
    idx_close(&im);
    idx_close(&lb);
    rt_data_free(out);
    return -1;
}

int rt_idx_load(const rt_source *src, int32_t d_expected, int32_t ylen, int32_t classes,
                rt_dataset *out, rt_error *err)
{
    return idx_load(src, d_expected, ylen, classes, 0, out, err);
}

int rt_idx_open(const rt_source *src, int32_t d_expected, int32_t ylen, int32_t classes,
                rt_dataset *out, rt_error *err)
{
    return idx_load(src, d_expected, ylen, classes, 1, out, err);
}

int rt_idx_load_labels(const rt_source *src, int32_t ylen, int32_t classes, rt_dataset *out,
                       rt_error *err)
{
    idx_file im, lb;
    memset(out, 0, sizeof *out);
    if (idx_open(&im, src->images, "pixels", err)) return -1;
    idx_close(&im);
    if (idx_open_labels(src, &lb, im.n, ylen, err)) return -1;
    out->n = (int32_t)lb.n, out->ylen = ylen;
    int rc = -1;
    if (!(out->y = malloc((size_t)lb.n * (size_t)ylen * sizeof(real) + 1)))
        rt_fail(err, "%s: out of memory", src->labels);
    else
        rc = idx_read(&lb, out->y, "labels", err) ||
                     rt_data_check_labels(out, classes, src->labels, err)
                 ? -1
                 : 0;
    idx_close(&lb);
    return rc;
}

int rt_idx_read_features(const char *path, int32_t d_expected, rt_dataset *out, rt_error *err)
{
    idx_file f;
    if (idx_open(&f, path, "values", err)) return -1;
    int rc = rt_data_check_features(path, f.per_row, d_expected, err) ||
             rt_data_alloc(out, f.n, f.per_row, 0, path, err) ||
             idx_read(&f, out->x, "values", err);
    idx_close(&f);
    if (rc) rt_data_free(out);
    return rc ? -1 : 0;
}
