/* rt_data.c — the data readers: IDX files (raw or gzip), NumPy .npy files
 * (their header parsed in rt_file.c), numeric CSV, the
 * synthetic sources (xor, spirals, linreg), and the in-memory transforms the
 * trainer applies afterwards (scale, standardize, split, gather).
 *
 * Every reader checks sizes against the file and against RT_DATA_MAX_BYTES
 * before allocating, so a lying header gives a message, not a crash. */
#include "rt.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* Largest dataset (features + labels, as real) we agree to allocate. */
#define RT_DATA_MAX_BYTES ((uint64_t)8 << 30)
/* deflate cannot expand input more than ~1032:1; a gzip file claiming more
 * than this many bytes per compressed byte is truncated or lying. */
#define GZ_MAX_RATIO 1032

#ifdef TRAINC_DOUBLE
#define REAL_MAX DBL_MAX
#else
#define REAL_MAX FLT_MAX
#endif

static const double PI = 3.14159265358979323846;

/* ---- shared helpers ---- */

/* Allocates out->x [n][d] and out->y [n][ylen]; name is for the message. */
static int ds_alloc(rt_dataset *out, int64_t n, int64_t d, int32_t ylen, const char *name,
                    rt_error *err)
{
    uint64_t elems = (uint64_t)n * (uint64_t)d + (uint64_t)n * (uint64_t)ylen;
    if (elems > RT_DATA_MAX_BYTES / sizeof(real) || elems > SIZE_MAX / sizeof(real))
        return rt_fail(err,
                       "%s: %lld rows x %lld features need %.1f GiB, more than the %d GiB limit",
                       name, (long long)n, (long long)d, (double)elems * sizeof(real) / (1 << 30),
                       (int)(RT_DATA_MAX_BYTES >> 30));
    memset(out, 0, sizeof *out);
    out->x = malloc((size_t)n * (size_t)d * sizeof(real) + 1);
    out->y = ylen > 0 ? malloc((size_t)n * (size_t)ylen * sizeof(real) + 1) : NULL;
    if (!out->x || (ylen > 0 && !out->y)) {
        free(out->x);
        free(out->y);
        memset(out, 0, sizeof *out);
        return rt_fail(err, "%s: out of memory for %lld rows x %lld features", name, (long long)n,
                       (long long)d);
    }
    out->n = (int32_t)n;
    out->d = (int32_t)d;
    out->ylen = ylen;
    return 0;
}

/* Every label must be an exact integer in [0, classes); rows are named by
 * 0-based index (CSV checks its labels while parsing, by line instead). */
static int check_labels(const rt_dataset *ds, int32_t classes, const char *name, rt_error *err)
{
    if (classes <= 0 || ds->ylen <= 0) return 0;
    size_t count = (size_t)ds->n * (size_t)ds->ylen;
    for (size_t i = 0; i < count; i++) {
        double v = ds->y[i];
        if (v != floor(v))
            return rt_fail(err, "%s: index %zu: label %g is not an integer class in [0, %d)", name,
                           i / (size_t)ds->ylen, v, (int)classes);
        if (v < 0 || v >= classes)
            return rt_fail(err, "%s: index %zu: label %g out of range [0, %d)", name,
                           i / (size_t)ds->ylen, v, (int)classes);
    }
    return 0;
}

static int check_d(const char *name, int64_t d, int32_t d_expected, rt_error *err)
{
    if (d_expected > 0 && d != d_expected)
        return rt_fail(err, "%s: %lld features per row, the model expects %d", name, (long long)d,
                       (int)d_expected);
    return 0;
}

/* ---- IDX ---- */

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
    /* n and per_row are below 2^31, so their product fits in 62 bits. */
    uint64_t elems = (uint64_t)f->n * (uint64_t)f->per_row;
    if (elems > RT_DATA_MAX_BYTES / sizeof(real)) {
        rt_fail(err,
                "%s: header claims %lld rows x %lld values (%.1f GiB), more than the %d GiB "
                "limit",
                path, (long long)f->n, (long long)f->per_row,
                (double)elems * sizeof(real) / (1 << 30), (int)(RT_DATA_MAX_BYTES >> 30));
        goto fail;
    }
    int64_t need = (int64_t)elems * f->esize;
    if (S_ISREG(st.st_mode)) {
        if (gzdirect(f->gz)) {
            int64_t have = (int64_t)st.st_size - hlen;
            if (have < need) {
                rt_fail(err, "%s: truncated: expected %lld bytes of %s, file has %lld", path,
                        (long long)need, what, (long long)have);
                goto fail;
            }
        } else if ((uint64_t)need > (uint64_t)st.st_size * GZ_MAX_RATIO) {
            rt_fail(err,
                    "%s: truncated: expected %lld bytes of %s, more than a %lld-byte gzip file "
                    "can hold",
                    path, (long long)need, what, (long long)st.st_size);
            goto fail;
        }
    }
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
        if (!(fabs(v) <= REAL_MAX)) return i; /* also catches NaN */
        dst[i] = (real)v;
    }
    return -1;
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
        if (got < (int)want) {
            int errnum = Z_OK;
            const char *msg = gzerror(f->gz, &errnum);
            if (errnum == Z_ERRNO)
                return rt_fail(err, "%s: read error: %s", f->path, strerror(errno));
            if (errnum != Z_OK && errnum != Z_BUF_ERROR)
                return rt_fail(err, "%s: corrupt gzip data: %s", f->path, msg);
            return rt_fail(err, "%s: truncated: expected %lld bytes of %s, file has %lld", f->path,
                           (long long)total, what, (long long)(done + (got > 0 ? got : 0)));
        }
        int64_t first = done / f->esize;
        int64_t bad = idx_convert(buf, f->type, got / f->esize, dst + first);
        if (bad >= 0)
            return rt_fail(err, "%s: index %lld: value is not a finite %s", f->path,
                           (long long)((first + bad) / f->per_row), RT_REAL_NAME);
        done += got;
    }
    return 0;
}

static int idx_probe(const rt_source *src, int32_t *n, int32_t *d, rt_error *err)
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

static int idx_load(const rt_source *src, int32_t d_expected, int32_t ylen, int32_t classes,
                    rt_dataset *out, rt_error *err)
{
    if (!src->images) return rt_fail(err, "idx source: no images file given");
    idx_file im, lb;
    memset(&lb, 0, sizeof lb);
    if (idx_open(&im, src->images, "pixels", err)) return -1;
    if (check_d(src->images, im.per_row, d_expected, err)) goto fail;
    if (ylen > 0) {
        if (!src->labels) {
            rt_fail(err, "%s: no labels file given, but the model expects labels", src->images);
            goto fail;
        }
        if (idx_open(&lb, src->labels, "labels", err)) goto fail;
        if (lb.n != im.n) {
            rt_fail(err, "%s: %lld labels, but %s has %lld images", src->labels, (long long)lb.n,
                    src->images, (long long)im.n);
            goto fail;
        }
        if (lb.per_row != ylen) {
            rt_fail(err, "%s: %lld label values per row, the model expects %d", src->labels,
                    (long long)lb.per_row, (int)ylen);
            goto fail;
        }
    }
    if (ds_alloc(out, im.n, im.per_row, ylen, src->images, err)) goto fail;
    if (idx_read(&im, out->x, "pixels", err)) goto fail;
    if (ylen > 0) {
        if (idx_read(&lb, out->y, "labels", err)) goto fail;
        if (check_labels(out, classes, src->labels, err)) goto fail;
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

/* ---- NPY ---- */

/* Rows are the first dimension, a row the product of the others (a 1-D
 * array has one value per row). Checks the limits before anyone allocates. */
static int npy_rows(const rt_npy *a, int64_t *n, int64_t *per_row, rt_error *err)
{
    char shape[256];
    rt_npy_shape(a, shape, sizeof shape);
    if (a->rank < 1)
        return rt_fail(err, "%s: shape (): a single number, not rows of values", a->path);
    *n = a->dims[0];
    *per_row = 1;
    for (int i = 1; i < a->rank; i++) {
        if (a->dims[i] != 0 && *per_row > INT32_MAX / a->dims[i])
            return rt_fail(err, "%s: shape %s: more than %d values per row", a->path, shape,
                           INT32_MAX);
        *per_row *= a->dims[i];
    }
    if (*n == 0) return rt_fail(err, "%s: shape %s: no rows", a->path, shape);
    if (*n > INT32_MAX)
        return rt_fail(err, "%s: shape %s: more than %d rows", a->path, shape, INT32_MAX);
    if (*per_row == 0) return rt_fail(err, "%s: shape %s: 0 values per row", a->path, shape);
    /* data files must be exactly their header's size (rt_npy_open checked it
     * is not smaller): more means the shape is wrong */
    if (a->file_size > a->data_off + a->count * a->esize)
        return rt_fail(err, "%s: shape %s, but %lld more bytes follow the data", a->path, shape,
                       (long long)(a->file_size - a->data_off - a->count * a->esize));
    if ((uint64_t)a->count > RT_DATA_MAX_BYTES / sizeof(real))
        return rt_fail(err, "%s: shape %s is %.1f GiB as %s, more than the %d GiB limit", a->path,
                       shape, (double)a->count * sizeof(real) / (1 << 30), RT_REAL_NAME,
                       (int)(RT_DATA_MAX_BYTES >> 30));
    return 0;
}

static int npy_open_rows(rt_npy *a, const char *path, int64_t *n, int64_t *per_row, rt_error *err)
{
    if (rt_npy_open(a, path, err)) return -1;
    if (npy_rows(a, n, per_row, err)) {
        rt_npy_close(a);
        return -1;
    }
    return 0;
}

/* Opens the labels file of src and checks it has a label per row of x. */
static int npy_open_labels(const rt_source *src, rt_npy *lb, int64_t n_x, int64_t *per_row,
                           rt_error *err)
{
    int64_t n;
    if (npy_open_rows(lb, src->labels, &n, per_row, err)) return -1;
    if (n != n_x) {
        rt_npy_close(lb);
        return rt_fail(err, "%s: %lld rows of labels, but %s has %lld rows", src->labels,
                       (long long)n, src->images, (long long)n_x);
    }
    return 0;
}

static int npy_probe(const rt_source *src, int32_t *n_out, int32_t *d_out, rt_error *err)
{
    if (!src->images) return rt_fail(err, "npy source: no x file given");
    rt_npy x, y;
    int64_t n, d, ylen;
    if (npy_open_rows(&x, src->images, &n, &d, err)) return -1;
    rt_npy_close(&x);
    if (src->labels) {
        if (npy_open_labels(src, &y, n, &ylen, err)) return -1;
        /* the labels are small: class indices are checked now, at generation */
        int rc = 0;
        char shape[256];
        rt_npy_shape(&y, shape, sizeof shape);
        if (src->classes > 0 && ylen != 1) {
            rc = rt_fail(err, "%s: shape %s: labels { classes = %d } are one class index a row",
                         src->labels, shape, src->classes);
        } else if (src->ylen > 0 && ylen != src->ylen) {
            rc = rt_fail(err, "%s: shape %s: %lld label values per row, the model expects %d",
                         src->labels, shape, (long long)ylen, src->ylen);
        } else if (src->classes > 0) {
            rt_dataset ds = {.n = (int32_t)n, .ylen = (int32_t)ylen};
            if (!(ds.y = malloc((size_t)n * sizeof(real) + 1)))
                rc = rt_fail(err, "%s: out of memory", src->labels);
            else
                rc = rt_npy_read_values(&y, ds.y, 1, err) ||
                     check_labels(&ds, src->classes, src->labels, err);
            free(ds.y);
        }
        rt_npy_close(&y);
        if (rc) return -1;
    }
    *n_out = (int32_t)n;
    *d_out = (int32_t)d;
    return 0;
}

static int npy_load(const rt_source *src, int32_t d_expected, int32_t ylen, int32_t classes,
                    rt_dataset *out, rt_error *err)
{
    if (!src->images) return rt_fail(err, "npy source: no x file given");
    rt_npy x, y;
    int64_t n, d, per_label = 0;
    memset(&y, 0, sizeof y);
    if (npy_open_rows(&x, src->images, &n, &d, err)) return -1;
    if (check_d(src->images, d, d_expected, err)) goto fail;
    if (ylen > 0) {
        if (!src->labels) {
            rt_fail(err, "%s: no y file given, but the model expects labels", src->images);
            goto fail;
        }
        if (npy_open_labels(src, &y, n, &per_label, err)) goto fail;
        if (per_label != ylen) {
            char shape[256];
            rt_npy_shape(&y, shape, sizeof shape);
            rt_fail(err, "%s: shape %s: %lld label values per row, the model expects %d",
                    src->labels, shape, (long long)per_label, (int)ylen);
            goto fail;
        }
    }
    if (ds_alloc(out, n, d, ylen, src->images, err)) goto fail;
    if (rt_npy_read_values(&x, out->x, d, err)) goto fail;
    if (ylen > 0) {
        if (rt_npy_read_values(&y, out->y, ylen, err)) goto fail;
        if (check_labels(out, classes, src->labels, err)) goto fail;
    }
    rt_npy_close(&x);
    rt_npy_close(&y);
    return 0;
fail:
    rt_npy_close(&x);
    rt_npy_close(&y);
    rt_data_free(out);
    return -1;
}

/* ---- CSV ---- */

typedef struct csv_opts {
    const char *path;
    int header;         /* 1 yes, 0 no, -1 detect */
    const char *label;  /* label column by name, or NULL */
    int label_col;      /* by index when label is NULL; -1 none */
    int32_t d_expected; /* <= 0: any */
    int32_t ylen;       /* 0 or 1 */
    int32_t classes;
    int store; /* 0: probe, count rows and check them only */
} csv_opts;

enum { CELL_OK, CELL_EMPTY, CELL_NAN, CELL_RANGE };

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Trims [*s, *e) in place of the pointers. */
static void trim(char **s, char **e)
{
    while (*s < *e && is_space(**s)) (*s)++;
    while (*e > *s && is_space((*e)[-1])) (*e)--;
}

/* Parses the NUL-terminated cell s (already trimmed to [s, e)). Only plain
 * decimal numbers: strtod alone would also take "nan", "inf" and hex. */
static int parse_cell(const char *s, const char *e, double *v)
{
    if (s == e) return CELL_EMPTY;
    for (const char *p = s; p < e; p++)
        if (!strchr("0123456789+-.eE", *p)) return CELL_NAN;
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    if (end != e) return CELL_NAN;
    /* ERANGE on underflow just gives a tiny value, which is fine */
    if (!(fabs(*v) <= REAL_MAX)) return CELL_RANGE;
    return CELL_OK;
}

/* Returns the next cell of the line at *cur, trimmed and NUL-terminated in
 * place, and advances *cur past its comma (NULL after the last cell). */
static char *next_cell(char **cur, char **cell_end)
{
    char *s = *cur, *comma = strchr(s, ',');
    char *e = comma ? comma : s + strlen(s);
    *cur = comma ? comma + 1 : NULL;
    char *ts = s, *te = e;
    trim(&ts, &te);
    *te = '\0'; /* safe: te <= e, and *e is ',' or the line's NUL */
    *cell_end = te;
    return ts;
}

static int64_t count_cells(const char *line)
{
    int64_t k = 1;
    for (const char *p = line; *p; p++) k += *p == ',';
    return k;
}

static int cell_error(rt_error *err, const char *path, long line, int64_t col, const char *cell,
                      int kind)
{
    if (kind == CELL_EMPTY)
        return rt_fail(err, "%s: line %ld: column %lld: empty cell", path, line, (long long)col);
    if (kind == CELL_RANGE)
        return rt_fail(err, "%s: line %ld: column %lld: '%.40s' is out of range for %s", path, line,
                       (long long)col, cell, RT_REAL_NAME);
    return rt_fail(err, "%s: line %ld: column %lld: '%.40s' is not a number", path, line,
                   (long long)col, cell);
}

/* Whether every cell of the (copied) line parses as a number. */
static int row_is_numeric(const char *line)
{
    char *copy = strdup(line);
    if (!copy) return 1;
    int numeric = 1;
    char *cur = copy;
    while (cur && numeric) {
        char *e, *s = next_cell(&cur, &e);
        double v;
        numeric = parse_cell(s, e, &v) == CELL_OK;
    }
    free(copy);
    return numeric;
}

/* Finds the label column by name in the header line (names may be quoted). */
static int64_t find_column(char *line, const char *name)
{
    char *cur = line;
    for (int64_t col = 0; cur; col++) {
        char *e, *s = next_cell(&cur, &e);
        if (e - s >= 2 && *s == '"' && e[-1] == '"') {
            s++;
            e[-1] = '\0';
        }
        if (strcmp(s, name) == 0) return col;
    }
    return -1;
}

static int csv_read(const csv_opts *o, int32_t *n_out, int32_t *d_out, rt_dataset *out,
                    rt_error *err)
{
    const char *path = o->path;
    if (out) memset(out, 0, sizeof *out);
    if (o->ylen > 1)
        return rt_fail(err, "%s: CSV has at most one label value per row, the model expects %d",
                       path, (int)o->ylen);
    FILE *fp = fopen(path, "r");
    if (!fp) return rt_fail(err, "%s: cannot open: %s", path, strerror(errno));

    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    int64_t ncols = 0, lab = -1, d = 0, n = 0, rows_cap = 0;
    int started = 0;
    real *x = NULL, *y = NULL;
    int rc = -1;

    while ((len = getline(&line, &cap, fp)) != -1) {
        lineno++;
        char *s = line;
        if (lineno == 1 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB &&
            (unsigned char)s[2] == 0xBF)
            s += 3; /* UTF-8 byte order mark from spreadsheet exports */
        if ((ssize_t)strlen(s) != len - (s - line)) {
            rt_fail(err, "%s: line %ld: contains a NUL byte", path, lineno);
            goto done;
        }
        char *e = s + strlen(s);
        trim(&s, &e);
        if (s == e) continue; /* blank lines (e.g. trailing) are skipped */
        *e = '\0';

        if (!started) {
            started = 1;
            ncols = count_cells(s);
            int is_header = o->header == 1 || (o->header == -1 && !row_is_numeric(s));
            if (o->label) {
                if (!is_header) {
                    rt_fail(err,
                            "%s: label column '%s' needs a header row, but line %ld is "
                            "numeric",
                            path, o->label, lineno);
                    goto done;
                }
                lab = find_column(s, o->label);
                if (lab < 0) {
                    rt_fail(err, "%s: line %ld: no column named '%s' in the header", path, lineno,
                            o->label);
                    goto done;
                }
            } else if (o->label_col >= 0) {
                lab = o->label_col;
                if (lab >= ncols) {
                    rt_fail(err, "%s: label column %lld out of range: rows have %lld columns", path,
                            (long long)lab, (long long)ncols);
                    goto done;
                }
            }
            if (o->ylen > 0 && lab < 0) {
                rt_fail(err, "%s: no label column given, but the model expects labels", path);
                goto done;
            }
            d = ncols - (lab >= 0);
            if (d == 0) {
                rt_fail(err, "%s: no feature columns", path);
                goto done;
            }
            if (check_d(path, d, o->d_expected, err)) goto done;
            if (is_header) continue;
        }

        int64_t cells = count_cells(s);
        if (cells != ncols) {
            rt_fail(err, "%s: line %ld: %lld cells, expected %lld", path, lineno, (long long)cells,
                    (long long)ncols);
            goto done;
        }
        if (n >= INT32_MAX) {
            rt_fail(err, "%s: more than %d rows", path, INT32_MAX);
            goto done;
        }
        if (o->store && n == rows_cap) {
            /* rows (features + label) that fit under the allocation limit */
            int64_t max_rows = (int64_t)(RT_DATA_MAX_BYTES / sizeof(real) / (uint64_t)(d + 1));
            if (n >= max_rows) {
                rt_fail(
                    err, "%s: line %ld: %lld rows x %lld features are more than the %d GiB limit",
                    path, lineno, (long long)n + 1, (long long)d, (int)(RT_DATA_MAX_BYTES >> 30));
                goto done;
            }
            int64_t ncap = rows_cap ? rows_cap * 2 : 256;
            if (ncap > max_rows) ncap = max_rows;
            if (ncap > INT32_MAX) ncap = INT32_MAX;
            real *nx = realloc(x, (size_t)ncap * (size_t)d * sizeof(real));
            if (nx) x = nx;
            real *ny = o->ylen > 0 ? realloc(y, (size_t)ncap * sizeof(real)) : y;
            if (ny) y = ny;
            if (!nx || (o->ylen > 0 && !ny)) {
                rt_fail(err, "%s: line %ld: out of memory", path, lineno);
                goto done;
            }
            rows_cap = ncap;
        }
        char *cur = s;
        real *xr = o->store ? x + (size_t)n * (size_t)d : NULL;
        for (int64_t col = 0; cur; col++) {
            char *ce, *cs = next_cell(&cur, &ce);
            double v;
            int kind = parse_cell(cs, ce, &v);
            if (kind != CELL_OK) {
                cell_error(err, path, lineno, col + 1, cs, kind);
                goto done;
            }
            if (col == lab) {
                if (o->ylen == 0) continue; /* the caller wants no labels */
                if (o->classes > 0 && v != floor(v)) {
                    rt_fail(err, "%s: line %ld: label %g is not an integer class in [0, %d)", path,
                            lineno, v, (int)o->classes);
                    goto done;
                }
                if (o->classes > 0 && (v < 0 || v >= o->classes)) {
                    rt_fail(err, "%s: line %ld: label %g out of range [0, %d)", path, lineno, v,
                            (int)o->classes);
                    goto done;
                }
                if (o->store) y[n] = (real)v;
            } else if (xr) {
                *xr++ = (real)v;
            }
        }
        n++;
    }
    if (ferror(fp)) {
        rt_fail(err, "%s: read error: %s", path, strerror(errno));
        goto done;
    }
    if (n == 0) {
        rt_fail(err, "%s: no data rows", path);
        goto done;
    }
    if (n_out) *n_out = (int32_t)n;
    if (d_out) *d_out = (int32_t)d;
    if (out) {
        out->n = (int32_t)n;
        out->d = (int32_t)d;
        out->ylen = o->ylen;
        out->x = x;
        out->y = y;
        x = y = NULL;
    }
    rc = 0;
done:
    free(x);
    free(y);
    free(line);
    fclose(fp);
    return rc;
}

static csv_opts csv_opts_of(const rt_source *src)
{
    /* probing with classes checks the labels too */
    csv_opts o = {src->path, src->header,      src->label,   src->label_col,
                  0,         src->classes > 0, src->classes, 0};
    return o;
}

int rt_csv_read_features(const char *path, int32_t d_expected, rt_dataset *out, rt_error *err)
{
    csv_opts o = {path, -1, NULL, -1, d_expected, 0, 0, 1};
    return csv_read(&o, NULL, NULL, out, err);
}

/* ---- features only, of any format (predict) ---- */

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

int rt_read_features(const char *path, int32_t d_expected, rt_dataset *out, rt_error *err)
{
    memset(out, 0, sizeof *out);
    unsigned char head[6] = {0};
    FILE *fp = fopen(path, "rb");
    if (!fp) return rt_fail(err, "%s: cannot open: %s", path, strerror(errno));
    size_t got = fread(head, 1, sizeof head, fp);
    fclose(fp);
    int is_npy = (got == 6 && memcmp(head, "\x93NUMPY", 6) == 0) || ends_with(path, ".npy");
    /* IDX starts with two zero bytes; gzip with 1f 8b (idx_open says so if
     * what it holds is no IDX) */
    int is_idx = !is_npy && got >= 2 &&
                 ((head[0] == 0 && head[1] == 0) || (head[0] == 0x1f && head[1] == 0x8b));
    if (is_npy) {
        rt_npy a;
        int64_t n, d;
        if (npy_open_rows(&a, path, &n, &d, err)) return -1;
        int rc = check_d(path, d, d_expected, err) || ds_alloc(out, n, d, 0, path, err) ||
                 rt_npy_read_values(&a, out->x, d, err);
        rt_npy_close(&a);
        if (rc) rt_data_free(out);
        return rc ? -1 : 0;
    }
    if (is_idx) {
        idx_file f;
        if (idx_open(&f, path, "values", err)) return -1;
        int rc = check_d(path, f.per_row, d_expected, err) ||
                 ds_alloc(out, f.n, f.per_row, 0, path, err) || idx_read(&f, out->x, "values", err);
        idx_close(&f);
        if (rc) rt_data_free(out);
        return rc ? -1 : 0;
    }
    if (memchr(head, 0, got))
        return rt_fail(err, "%s: not a CSV, .npy or IDX file (binary data, magic %02x %02x)", path,
                       head[0], head[1]);
    return rt_csv_read_features(path, d_expected, out, err);
}

/* ---- synthetic sources ----
 * Draw order (tests and other tools reproduce it):
 *   xor     n > 4: row i is point i % 4; per row two normals, x0 noise then x1.
 *   spirals per row two normals, x noise then y noise.
 *   linreg  w*[0..d) = rt_rng_normal from a generator seeded with wseed, kept
 *           in double; then from seed, per row: d normals for x_i (rounded to
 *           real), then one normal e_i; y_i = (real)(sum_j (double)x_ij w*_j
 *           + noise * e_i), summed in j order. */

static const char *synth_name(int kind)
{
    return kind == RT_SRC_XOR ? "xor" : kind == RT_SRC_SPIRALS ? "spirals" : "linreg";
}

static int synth_shape(const rt_source *src, int32_t *n, int32_t *d, rt_error *err)
{
    const char *name = synth_name(src->kind);
    if (src->kind == RT_SRC_XOR) {
        *n = src->n <= 4 ? 4 : src->n;
        *d = 2;
        return 0;
    }
    if (src->n <= 0) return rt_fail(err, "%s: n must be positive (got %d)", name, src->n);
    *n = src->n;
    *d = 2;
    if (src->kind == RT_SRC_LINREG) {
        if (src->d <= 0) return rt_fail(err, "%s: d must be positive (got %d)", name, src->d);
        *d = src->d;
    }
    if (!(src->noise >= 0))
        return rt_fail(err, "%s: noise must be >= 0 (got %g)", name, src->noise);
    return 0;
}

static int synth_load(const rt_source *src, int32_t d_expected, int32_t ylen, int32_t classes,
                      rt_dataset *out, rt_error *err)
{
    const char *name = synth_name(src->kind);
    int32_t n, d;
    if (synth_shape(src, &n, &d, err)) return -1;
    if (check_d(name, d, d_expected, err)) return -1;
    if (ylen > 1)
        return rt_fail(err, "%s: 1 label value per row, the model expects %d", name, (int)ylen);
    if (ds_alloc(out, n, d, ylen, name, err)) return -1;

    rt_rng rng;
    rt_rng_seed(&rng, src->seed);
    real *x = out->x;
    if (src->kind == RT_SRC_XOR) {
        static const double pts[4][3] = {{0, 0, 0}, {0, 1, 1}, {1, 0, 1}, {1, 1, 0}};
        for (int32_t i = 0; i < n; i++) {
            const double *p = pts[i % 4];
            double e0 = 0, e1 = 0;
            if (n > 4) {
                e0 = rt_rng_normal(&rng);
                e1 = rt_rng_normal(&rng);
            }
            x[2 * i] = (real)(p[0] + src->noise * e0);
            x[2 * i + 1] = (real)(p[1] + src->noise * e1);
            if (ylen) out->y[i] = (real)p[2];
        }
    } else if (src->kind == RT_SRC_SPIRALS) {
        /* class c = i % 2 on arm k = i / 2; t runs from pi/4 to 3pi (1.4 turns)
         * and r = t / 3pi, so neighbouring arms are 1/3 apart radially. */
        int32_t per_class = (n + 1) / 2;
        for (int32_t i = 0; i < n; i++) {
            int c = i % 2;
            int32_t k = i / 2;
            double t = PI / 4 + (3 * PI - PI / 4) * k / (per_class > 1 ? per_class - 1 : 1);
            double r = t / (3 * PI);
            double e0 = rt_rng_normal(&rng), e1 = rt_rng_normal(&rng);
            x[2 * i] = (real)(r * cos(t + c * PI) + src->noise * e0);
            x[2 * i + 1] = (real)(r * sin(t + c * PI) + src->noise * e1);
            if (ylen) out->y[i] = (real)c;
        }
    } else {
        double *w = malloc((size_t)d * sizeof *w);
        if (!w) {
            rt_data_free(out);
            return rt_fail(err, "%s: out of memory", name);
        }
        rt_rng wr;
        rt_rng_seed(&wr, src->wseed);
        for (int32_t j = 0; j < d; j++) w[j] = rt_rng_normal(&wr);
        for (int32_t i = 0; i < n; i++) {
            real *xi = x + (size_t)i * (size_t)d;
            double dot = 0;
            for (int32_t j = 0; j < d; j++) {
                xi[j] = (real)rt_rng_normal(&rng);
                dot += (double)xi[j] * w[j];
            }
            double e = rt_rng_normal(&rng);
            if (ylen) out->y[i] = (real)(dot + src->noise * e);
        }
        free(w);
    }
    if (check_labels(out, classes, name, err)) {
        rt_data_free(out);
        return -1;
    }
    return 0;
}

/* ---- the API ---- */

int rt_data_probe(const rt_source *src, int32_t *n, int32_t *d, rt_error *err)
{
    switch (src->kind) {
    case RT_SRC_IDX:
        return idx_probe(src, n, d, err);
    case RT_SRC_NPY:
        return npy_probe(src, n, d, err);
    case RT_SRC_CSV: {
        if (!src->path) return rt_fail(err, "csv source: no path given");
        csv_opts o = csv_opts_of(src);
        return csv_read(&o, n, d, NULL, err);
    }
    case RT_SRC_XOR:
    case RT_SRC_SPIRALS:
    case RT_SRC_LINREG:
        return synth_shape(src, n, d, err);
    default:
        return rt_fail(err, "data source kind %d is not known", src->kind);
    }
}

int rt_data_load(const rt_source *src, int32_t d_expected, int32_t ylen, int32_t classes,
                 rt_dataset *out, rt_error *err)
{
    memset(out, 0, sizeof *out);
    if (ylen < 0) return rt_fail(err, "label values per row must be >= 0 (got %d)", (int)ylen);
    switch (src->kind) {
    case RT_SRC_IDX:
        return idx_load(src, d_expected, ylen, classes, out, err);
    case RT_SRC_NPY:
        return npy_load(src, d_expected, ylen, classes, out, err);
    case RT_SRC_CSV: {
        if (!src->path) return rt_fail(err, "csv source: no path given");
        csv_opts o = csv_opts_of(src);
        o.d_expected = d_expected;
        o.ylen = ylen;
        o.classes = classes;
        o.store = 1;
        return csv_read(&o, NULL, NULL, out, err);
    }
    case RT_SRC_XOR:
    case RT_SRC_SPIRALS:
    case RT_SRC_LINREG:
        return synth_load(src, d_expected, ylen, classes, out, err);
    default:
        return rt_fail(err, "data source kind %d is not known", src->kind);
    }
}

void rt_data_free(rt_dataset *ds)
{
    free(ds->x);
    free(ds->y);
    memset(ds, 0, sizeof *ds);
}

void rt_data_scale(rt_dataset *ds, double scale)
{
    size_t count = (size_t)ds->n * (size_t)ds->d;
    for (size_t i = 0; i < count; i++) ds->x[i] = (real)(ds->x[i] * scale);
}

/* Columns are processed in blocks so the sums live on the stack (no
 * allocation that could fail) while rows are still read contiguously. */
#define STD_BLOCK 256

void rt_standardize_fit(const rt_dataset *ds, real *mean, real *std)
{
    size_t n = (size_t)ds->n, d = (size_t)ds->d;
    for (size_t j0 = 0; j0 < d; j0 += STD_BLOCK) {
        size_t nb = d - j0 < STD_BLOCK ? d - j0 : STD_BLOCK;
        double sum[STD_BLOCK] = {0}, ss[STD_BLOCK] = {0};
        for (size_t i = 0; i < n; i++) {
            const real *row = ds->x + i * d + j0;
            for (size_t j = 0; j < nb; j++) sum[j] += row[j];
        }
        for (size_t j = 0; j < nb; j++) sum[j] = n ? sum[j] / (double)n : 0;
        /* two passes: the sum of squared deviations does not cancel */
        for (size_t i = 0; i < n; i++) {
            const real *row = ds->x + i * d + j0;
            for (size_t j = 0; j < nb; j++) {
                double dev = row[j] - sum[j];
                ss[j] += dev * dev;
            }
        }
        for (size_t j = 0; j < nb; j++) {
            real s = (real)(n ? sqrt(ss[j] / (double)n) : 0);
            mean[j0 + j] = (real)sum[j];
            std[j0 + j] = s > 0 ? s : 1;
        }
    }
}

void rt_standardize_apply(rt_dataset *ds, const real *mean, const real *std)
{
    size_t n = (size_t)ds->n, d = (size_t)ds->d;
    for (size_t i = 0; i < n; i++) {
        real *row = ds->x + i * d;
        for (size_t j = 0; j < d; j++) row[j] = (row[j] - mean[j]) / std[j];
    }
}

int rt_data_split(rt_dataset *ds, int32_t count, rt_dataset *valid, rt_error *err)
{
    memset(valid, 0, sizeof *valid);
    if (count <= 0 || count >= ds->n)
        return rt_fail(err, "cannot split %d validation rows off %d rows (need 0 < count < %d)",
                       (int)count, (int)ds->n, (int)ds->n);
    int32_t keep = ds->n - count;
    size_t d = (size_t)ds->d, yl = (size_t)ds->ylen;
    if (ds_alloc(valid, count, ds->d, ds->ylen, "validation split", err)) return -1;
    memcpy(valid->x, ds->x + (size_t)keep * d, (size_t)count * d * sizeof(real));
    if (yl) memcpy(valid->y, ds->y + (size_t)keep * yl, (size_t)count * yl * sizeof(real));
    ds->n = keep;
    /* shrinking; if realloc refuses, the larger block is still valid */
    real *nx = realloc(ds->x, (size_t)keep * d * sizeof(real));
    if (nx) ds->x = nx;
    if (yl) {
        real *ny = realloc(ds->y, (size_t)keep * yl * sizeof(real));
        if (ny) ds->y = ny;
    }
    return 0;
}

void rt_data_gather(const rt_dataset *ds, const int32_t *idx, int32_t b, real *x, real *y)
{
    size_t d = (size_t)ds->d, yl = (size_t)ds->ylen;
    for (int32_t k = 0; k < b; k++) {
        size_t r = (size_t)idx[k];
        memcpy(x + (size_t)k * d, ds->x + r * d, d * sizeof(real));
        if (yl && y) memcpy(y + (size_t)k * yl, ds->y + r * yl, yl * sizeof(real));
    }
}
