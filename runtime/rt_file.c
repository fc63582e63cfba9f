/* rt_file.c — files the trainer writes and reads back: atomic writes
 * (temporary file, fsync, rename, fsync of the directory) and NumPy .npy
 * arrays of float32/float64. */
#include "rt.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef TRAINC_DOUBLE
#define REAL_MAX DBL_MAX
#else
#define REAL_MAX FLT_MAX
#endif

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

/* ---- metrics CSV files ---- */

/* the value of column col of a CSV line, or NaN */
static double csv_column(const char *line, int col)
{
    for (int k = 0; k < col && line; k++) {
        line = strchr(line, ',');
        if (line) line++;
    }
    if (!line) return NAN;
    char *end;
    double v = strtod(line, &end);
    return end != line && (*end == ',' || *end == '\n' || *end == 0) ? v : NAN;
}

/* the rows of an existing metrics file whose column key_col is at most
 * keep_through (with the header), into *kept; 1 if the file has this
 * header, 0 if not or absent */
static int metrics_kept_rows(const char *path, const char *header, int key_col,
                             long long keep_through, char **kept, size_t *len, double *seconds)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t cap = 0;
    ssize_t got;
    char *line = NULL;
    int ours = 0;
    FILE *out = open_memstream(kept, len);
    if (!out) {
        fclose(f);
        return 0;
    }
    for (long row = 0; (got = getline(&line, &cap, f)) > 0; row++) {
        if (row == 0) {
            ours = (size_t)got == strlen(header) + 1 && !strncmp(line, header, strlen(header));
            if (!ours) break;
            fputs(line, out);
            continue;
        }
        double key = csv_column(line, key_col);
        if (line[got - 1] != '\n' || !(key <= (double)keep_through)) continue;
        fputs(line, out);
        const char *last = strrchr(line, ',');
        if (last) *seconds = strtod(last + 1, NULL);
    }
    free(line);
    fclose(f);
    fclose(out);
    return ours;
}

FILE *rt_metrics_open(const char *path, const char *header, int key_col, long long keep_through,
                      double *seconds, rt_error *err)
{
    *seconds = 0;
    char *kept = NULL;
    size_t len = 0;
    int ours = 0;
    if (keep_through >= 0) {
        struct stat st;
        int exists = !stat(path, &st);
        ours = metrics_kept_rows(path, header, key_col, keep_through, &kept, &len, seconds);
        if (exists && !ours && S_ISREG(st.st_mode))
            fprintf(stderr, "note: %s is not a metrics file of this trainer: starting it afresh\n",
                    path);
        /* a regular file only: --metrics /dev/stdout cannot be rewritten */
        if (ours && S_ISREG(st.st_mode) && rt_write_atomic(path, kept, len, err)) {
            free(kept);
            return NULL;
        }
    }
    free(kept);
    FILE *f = fopen(path, ours ? "a" : "w");
    if (!f) {
        rt_fail(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    if (!ours) fprintf(f, "%s\n", header);
    if (!ours) *seconds = 0;
    return f;
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

/* data: count elements of kind 'f' or 'i' and esize bytes, in host order */
static int npy_write(const char *path, const void *data, char kind, int esize, int rank,
                     const int64_t *dims, rt_error *err)
{
    if (rank < 0 || rank > RT_NPY_MAX_RANK)
        return rt_fail(err, "%s: cannot write an array of rank %d", path, rank);
    /* v1.0 header: magic, version, uint16 little-endian length, then the dict
     * padded with spaces so the data starts at a multiple of 64 bytes. */
    char head[10 + 64 * 20];
    int len = snprintf(head + 10, sizeof head - 10,
                       "{'descr': '<%c%d', 'fortran_order': False, 'shape': (", kind, esize);
    size_t count = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0)
            return rt_fail(err, "%s: dimension %d is negative (%lld)", path, i, (long long)dims[i]);
        if (dims[i] > 0 && count > SIZE_MAX / (size_t)esize / (size_t)dims[i])
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

    part parts[2] = {{head, padded}, {data, count * (size_t)esize}};
    if (host_is_little_endian()) return write_atomic_parts(path, parts, 2, err);
    void *le = malloc(count * (size_t)esize + 1);
    if (!le) return rt_fail(err, "%s: out of memory", path);
    memcpy(le, data, count * (size_t)esize);
    swap_bytes(le, count, (size_t)esize);
    parts[1].buf = le;
    int rc = write_atomic_parts(path, parts, 2, err);
    free(le);
    return rc;
}

int rt_npy_write(const char *path, const real *data, int rank, const int64_t *dims, rt_error *err)
{
    return npy_write(path, data, 'f', (int)sizeof(real), rank, dims, err);
}

/* A count (batch norm's batches) is a whole number from 0 to 2^53, so it is
 * exact in a double and in an int64; loading refuses others, writing clamps */
#define COUNT_MAX 9007199254740992.0
#define COUNT_RULE "a count is a whole number from 0 to 2^53"
static int64_t count_value(real v)
{
    double d = (double)v;
    return d >= 0 ? (int64_t)(d <= COUNT_MAX ? floor(d + 0.5) : COUNT_MAX) : 0;
}

int rt_npy_write_int64(const char *path, const real *data, int rank, const int64_t *dims,
                       rt_error *err)
{
    size_t count = 1;
    for (int i = 0; i < rank && i < RT_NPY_MAX_RANK; i++)
        count *= dims[i] > 0 ? (size_t)dims[i] : 0;
    int64_t *v = malloc(count * sizeof *v + 1);
    if (!v) return rt_fail(err, "%s: out of memory", path);
    for (size_t i = 0; i < count; i++) v[i] = count_value(data[i]);
    int rc = npy_write(path, v, 'i', 8, rank, dims, err);
    free(v);
    return rc;
}

/* The header is a Python dict literal; numpy writes exactly the keys descr,
 * fortran_order and shape. This parser accepts that form with any spacing
 * and either quote character, and nothing fancier. */
typedef struct npy_header {
    char descr[16];
    int fortran;
    int rank;
    int64_t dims[RT_NPY_MAX_RANK];
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
        if (*s < '0' || *s > '9' || h->rank == RT_NPY_MAX_RANK) return NULL;
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

/* Past the bracketed list at s, nested brackets and quoted strings
 * included; NULL when it does not end. */
static const char *skip_list(const char *s)
{
    int depth = 0;
    char quote = 0;
    for (; *s; s++) {
        if (quote) {
            if (*s == quote) quote = 0;
        } else if (*s == '\'' || *s == '"') {
            quote = *s;
        } else if (*s == '[' || *s == '(') {
            depth++;
        } else if ((*s == ']' || *s == ')') && --depth == 0) {
            return s + 1;
        }
    }
    return NULL;
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
        if (strcmp(key, "descr") == 0 && *s == '[') {
            /* a structured dtype: a list of fields, refused by name later */
            if (!(s = skip_list(s))) return -1;
            strcpy(h->descr, "[...]");
            h->have_descr = 1;
        } else if (strcmp(key, "descr") == 0) {
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

/* descr is '<f4', '>i8', '|u1' ...: a byte order, a kind and a size. */
static int npy_dtype(rt_npy *a, const char *descr, rt_error *err)
{
    if (descr[0] == '[')
        return rt_fail(err, "%s: structured arrays are not supported (numbers only)", a->path);
    char order = descr[0], kind = descr[1];
    if (kind == 'O' || (order != '<' && order != '>' && order != '|' && order != '='))
        return rt_fail(err, "%s: object arrays are not supported (dtype '%s'); save numbers",
                       a->path, descr);
    char *end;
    long size = strtol(descr + 2, &end, 10);
    int ok = *end == '\0' &&
             ((kind == 'f' && (size == 4 || size == 8)) ||
              ((kind == 'i' || kind == 'u') && (size == 1 || size == 2 || size == 4 || size == 8)));
    if (!ok)
        return rt_fail(err,
                       "%s: unsupported dtype '%s' (float32/64, int8/16/32/64 or uint8/16/32/64)",
                       a->path, descr);
    a->kind = kind;
    a->esize = (int)size;
    /* '|' (no order) is for single bytes; '=' is native */
    int big = order == '>';
    a->swap = size > 1 && (order == '<' || order == '>') && big == host_is_little_endian();
    return 0;
}

int rt_npy_open(rt_npy *a, const char *path, rt_error *err)
{
    memset(a, 0, sizeof *a);
    a->path = path;
    a->f = fopen(path, "rb");
    if (!a->f) return rt_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    memset(&st, 0, sizeof st);
    if (fstat(fileno(a->f), &st) == 0 && S_ISDIR(st.st_mode)) {
        rt_npy_close(a);
        return rt_fail(err, "%s: cannot open: Is a directory", path);
    }
    unsigned char pre[12];
    size_t hlen;
    char *text = NULL;
    if (fread(pre, 1, 8, a->f) != 8 || memcmp(pre, npy_magic, 6) != 0) {
        rt_fail(err, "%s: not a .npy file (bad magic)", path);
        goto fail;
    }
    int major = pre[6];
    if (major == 1) {
        if (fread(pre + 8, 1, 2, a->f) != 2) goto truncated;
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
        a->data_off = 10 + (long)hlen;
    } else if (major == 2 || major == 3) { /* 3.0 only allows UTF-8 in the dict */
        if (fread(pre + 8, 1, 4, a->f) != 4) goto truncated;
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
        if (hlen > (1u << 20)) {
            rt_fail(err, "%s: .npy header too long (%zu bytes)", path, hlen);
            goto fail;
        }
        a->data_off = 12 + (long)hlen;
    } else {
        rt_fail(err, "%s: unsupported .npy version %d.%d", path, major, pre[7]);
        goto fail;
    }
    text = malloc(hlen + 1);
    if (!text) {
        rt_fail(err, "%s: out of memory", path);
        goto fail;
    }
    if (fread(text, 1, hlen, a->f) != hlen) goto truncated;
    text[hlen] = '\0';
    npy_header h;
    if (strlen(text) != hlen || parse_header(text, &h)) {
        rt_fail(err, "%s: malformed .npy header", path);
        goto fail;
    }
    free(text);
    text = NULL;
    memcpy(a->descr, h.descr, sizeof a->descr);
    if (npy_dtype(a, h.descr, err)) goto fail;
    if (h.fortran) {
        rt_fail(err, "%s: Fortran-order arrays are not supported (save in C order)", path);
        goto fail;
    }
    a->rank = h.rank;
    a->count = 1;
    for (int i = 0; i < h.rank; i++) {
        a->dims[i] = h.dims[i];
        if (h.dims[i] != 0 && a->count > INT64_MAX / 8 / h.dims[i]) {
            rt_fail(err, "%s: array too large", path);
            goto fail;
        }
        a->count *= h.dims[i];
    }
    /* a lying shape is caught here, before anyone allocates for it */
    a->file_size = S_ISREG(st.st_mode) ? (int64_t)st.st_size : -1;
    if (S_ISREG(st.st_mode)) {
        int64_t need = a->count * a->esize, have = (int64_t)st.st_size - a->data_off;
        if (have < need) {
            rt_fail(err, "%s: truncated: the header promises %lld bytes of data, the file has %lld",
                    path, (long long)need, (long long)(have > 0 ? have : 0));
            goto fail;
        }
    }
    return 0;
truncated:
    rt_fail(err, "%s: truncated .npy header", path);
fail:
    free(text);
    rt_npy_close(a);
    return -1;
}

void rt_npy_close(rt_npy *a)
{
    if (a->f) fclose(a->f);
    a->f = NULL;
}

void rt_npy_shape(const rt_npy *a, char *buf, size_t size)
{
    int k = snprintf(buf, size, "(");
    for (int i = 0; i < a->rank && k < (int)size; i++)
        k += snprintf(buf + k, size - (size_t)k, "%s%lld", i ? ", " : "", (long long)a->dims[i]);
    if (k < (int)size) snprintf(buf + k, size - (size_t)k, a->rank == 1 ? ",)" : ")");
}

/* One element of the file's dtype (already in host byte order) as a double. */
static double npy_value(const rt_npy *a, const unsigned char *p)
{
    switch (a->kind * 16 + a->esize) {
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

static int not_finite(const rt_npy *a, int64_t i, int64_t per_row, rt_error *err)
{
    if (per_row > 0 && per_row < a->count)
        return rt_fail(err, "%s: row %lld: a value is not a finite %s", a->path,
                       (long long)(i / per_row), RT_REAL_NAME);
    return rt_fail(err, "%s: element %lld is not a finite %s", a->path, (long long)i, RT_REAL_NAME);
}

/* Bytes after the data mean the header lies about the shape. */
static int at_end(rt_npy *a, rt_error *err)
{
    if (fgetc(a->f) == EOF) return 0;
    char shape[256];
    rt_npy_shape(a, shape, sizeof shape);
    return rt_fail(err, "%s: unexpected bytes after the array data (shape %s)", a->path, shape);
}

int rt_npy_read_values(rt_npy *a, real *dst, int64_t per_row, rt_error *err)
{
    /* the common case (same float type, same byte order) reads in place */
    if (a->kind == 'f' && a->esize == (int)sizeof(real) && !a->swap) {
        size_t got = fread(dst, sizeof(real), (size_t)a->count, a->f);
        if (got != (size_t)a->count) goto short_read;
        for (int64_t i = 0; i < a->count; i++)
            if (!(fabs((double)dst[i]) <= REAL_MAX)) return not_finite(a, i, per_row, err);
        return at_end(a, err);
    }
    unsigned char buf[1 << 15]; /* a multiple of every element size */
    for (int64_t done = 0; done < a->count;) {
        size_t want = sizeof buf / (size_t)a->esize;
        if ((int64_t)want > a->count - done) want = (size_t)(a->count - done);
        if (fread(buf, (size_t)a->esize, want, a->f) != want) goto short_read;
        if (a->swap) swap_bytes(buf, want, (size_t)a->esize);
        for (size_t i = 0; i < want; i++) {
            double v = npy_value(a, buf + i * (size_t)a->esize);
            if (!(fabs(v) <= REAL_MAX)) return not_finite(a, done + (int64_t)i, per_row, err);
            dst[done + (int64_t)i] = (real)v;
        }
        done += (int64_t)want;
    }
    return at_end(a, err);
short_read:
    if (ferror(a->f)) return rt_fail(err, "%s: read error: %s", a->path, strerror(errno));
    return rt_fail(err, "%s: truncated: fewer than %lld elements after offset %ld", a->path,
                   (long long)a->count, a->data_off);
}

/* *at gets the first value of v that is not a count (see COUNT_MAX) */
static int counts_whole(const real *v, int64_t n, int64_t *at)
{
    for (*at = 0; *at < n; (*at)++)
        if (!(v[*at] >= 0 && v[*at] <= COUNT_MAX && v[*at] == floor(v[*at]))) return 0;
    return 1;
}

/* Parameters are floating point: an integer array is a mistake, but for a
 * count (torch keeps num_batches_tracked as int64). */
static int npy_params(rt_npy *a, real *data, int count, rt_error *err)
{
    if (a->kind != 'f' && !count)
        return rt_fail(err, "%s: unsupported dtype '%s' (want '<f4' or '<f8')", a->path, a->descr);
    if (rt_npy_read_values(a, data, a->count, err)) return -1;
    int64_t at;
    if (count && !counts_whole(data, a->count, &at))
        return rt_fail(err, "%s: element %lld is %g; " COUNT_RULE, a->path, (long long)at,
                       (double)data[at]);
    return 0;
}

int rt_npy_read_shaped(const char *path, real *data, int rank, const int64_t *dims, int count,
                       rt_error *err)
{
    rt_npy a;
    if (rt_npy_open(&a, path, err)) return -1;
    int same = a.rank == rank;
    for (int i = 0; same && i < rank; i++) same = a.dims[i] == dims[i];
    if (!same) {
        char got[256], want[256];
        rt_npy_shape(&a, got, sizeof got);
        rt_npy a2 = {.rank = rank};
        for (int i = 0; i < rank && i < RT_NPY_MAX_RANK; i++) a2.dims[i] = dims[i];
        rt_npy_shape(&a2, want, sizeof want);
        rt_npy_close(&a);
        return rt_fail(err, "%s: shape %s, the model's is %s", path, got, want);
    }
    int rc = npy_params(&a, data, count, err);
    rt_npy_close(&a);
    return rc;
}

int rt_npy_read(const char *path, real *data, int64_t count, rt_error *err)
{
    rt_npy a;
    if (rt_npy_open(&a, path, err)) return -1;
    int rc = -1;
    if (a.count != count)
        rt_fail(err, "%s: has %lld elements, expected %lld", path, (long long)a.count,
                (long long)count);
    else
        rc = npy_params(&a, data, 0, err);
    rt_npy_close(&a);
    return rc;
}

/* ---- parameters by name: a folder of .npy files, or one safetensors file ---- */

static void param_dims(const rt_param_info *p, int64_t *dims)
{
    for (int k = 0; k < p->rank; k++) dims[k] = p->dim[k];
}

int rt_params_load_npy_dir(const char *dir, const rt_param_info *params, int n, real *buf,
                           int *loaded, rt_error *err)
{
    *loaded = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        int64_t dims[4];
        if (snprintf(path, sizeof path, "%s/%s.npy", dir, params[i].name) >= (int)sizeof path)
            return rt_fail(err, "%s: path too long", dir);
        if (access(path, F_OK)) continue; /* transfer learning: only what is there */
        param_dims(&params[i], dims);
        if (rt_npy_read_shaped(path, buf + params[i].offset, params[i].rank, dims, params[i].count,
                               err))
            return -1;
        (*loaded)++;
    }
    return 0;
}

/* safetensors (the format of Hugging Face's safetensors library): an 8-byte
 * little-endian header length N, N bytes of JSON
 *   {"__metadata__": {"k": "v"}, "fc1.bias": {"dtype": "F32", "shape": [256],
 *    "data_offsets": [begin, end]}, ...}
 * then the tensors' bytes, little-endian, C order; offsets count from the end
 * of the header. We write the tensors sorted by name, contiguous, the header
 * padded with spaces so the data starts at a multiple of 8 bytes. */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n >= 0) sb_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void sb_json_string(sbuf *b, const char *s)
{
    sb_add(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            sb_printf(b, "\\%c", c);
        else if (c < 0x20)
            sb_printf(b, "\\u%04x", c);
        else
            sb_add(b, s, 1);
    }
    sb_add(b, "\"", 1);
}

/* orders pointers to parameters by name */
static int by_name(const void *a, const void *b)
{
    return strcmp((*(const rt_param_info *const *)a)->name,
                  (*(const rt_param_info *const *)b)->name);
}

int rt_safetensors_save(const char *path, const rt_param_info *params, int n, const real *buf,
                        const char *const *meta, rt_error *err)
{
    const rt_param_info **order = malloc(sizeof *order * (size_t)(n > 0 ? n : 1));
    part *parts = malloc(sizeof(part) * (size_t)(n + 2));
    void *copy = NULL;
    sbuf h = {0};
    int rc = -1;
    if (!order || !parts) {
        rt_fail(err, "%s: out of memory", path);
        goto done;
    }
    for (int i = 0; i < n; i++) order[i] = &params[i];
    qsort(order, (size_t)n, sizeof *order, by_name);

    sb_add(&h, "{", 1);
    if (meta && meta[0]) {
        sb_add(&h, "\"__metadata__\":{", 16);
        for (int k = 0; meta[k] && meta[k + 1]; k += 2) {
            if (k) sb_add(&h, ",", 1);
            sb_json_string(&h, meta[k]);
            sb_add(&h, ":", 1);
            sb_json_string(&h, meta[k + 1]);
        }
        sb_add(&h, "}", 1);
    }
    uint64_t offset = 0;
    for (int j = 0; j < n; j++) {
        const rt_param_info *p = order[j];
        if (j || (meta && meta[0])) sb_add(&h, ",", 1);
        sb_json_string(&h, p->name);
        sb_printf(&h, ":{\"dtype\":\"%s\",\"shape\":[",
                  p->count            ? "I64"
                  : sizeof(real) == 4 ? "F32"
                                      : "F64");
        for (int k = 0; k < p->rank; k++) sb_printf(&h, "%s%d", k ? "," : "", p->dim[k]);
        uint64_t bytes = (uint64_t)p->numel * (p->count ? 8 : sizeof(real));
        sb_printf(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)offset,
                  (unsigned long long)(offset + bytes));
        offset += bytes;
    }
    sb_add(&h, "}", 1);
    while (!h.oom && h.len % 8) sb_add(&h, " ", 1);
    if (h.oom) {
        rt_fail(err, "%s: out of memory", path);
        goto done;
    }
    unsigned char len8[8];
    for (int k = 0; k < 8; k++) len8[k] = (unsigned char)((uint64_t)h.len >> (8 * k));
    parts[0] = (part){len8, 8};
    parts[1] = (part){h.p, h.len};
    /* the tensors in place, but for those that need converting (counts to
     * int64) or swapping (a big-endian host), which go through copy */
    int swap = !host_is_little_endian();
    size_t need = 0;
    for (int j = 0; j < n; j++)
        if (order[j]->count || swap) need += (size_t)order[j]->numel * 8;
    if (!(copy = malloc(need + 1))) {
        rt_fail(err, "%s: out of memory", path);
        goto done;
    }
    size_t at = 0;
    for (int j = 0; j < n; j++) {
        const rt_param_info *p = order[j];
        size_t esize = p->count ? 8 : sizeof(real), bytes = (size_t)p->numel * esize;
        if (!p->count && !swap) {
            parts[2 + j] = (part){buf + p->offset, bytes};
            continue;
        }
        char *dst = (char *)copy + at;
        if (p->count)
            for (long i = 0; i < p->numel; i++) {
                int64_t v = count_value(buf[p->offset + i]);
                memcpy(dst + 8 * (size_t)i, &v, 8);
            }
        else
            memcpy(dst, buf + p->offset, bytes);
        if (swap) swap_bytes(dst, (size_t)p->numel, esize);
        parts[2 + j] = (part){dst, bytes};
        at += bytes;
    }
    rc = write_atomic_parts(path, parts, n + 2, err);
done:
    free(order);
    free(parts);
    free(copy);
    free(h.p);
    return rc;
}

/* ---- reading: a JSON parser for exactly what a safetensors header holds ---- */

typedef struct st_tensor {
    char name[256];
    char dtype[8];
    int rank;
    int64_t dims[8];
    uint64_t begin, end;
} st_tensor;

typedef struct jp {
    const char *s, *e;
} jp;

static void jp_ws(jp *j)
{
    while (j->s < j->e && (*j->s == ' ' || *j->s == '\t' || *j->s == '\n' || *j->s == '\r')) j->s++;
}

static int jp_lit(jp *j, char c)
{
    jp_ws(j);
    if (j->s < j->e && *j->s == c) {
        j->s++;
        return 1;
    }
    return 0;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* A string into out (UTF-8, escapes decoded); -1 when malformed or longer
 * than cap - 1 bytes. out may be NULL to skip. */
static int jp_string(jp *j, char *out, size_t cap)
{
    if (!jp_lit(j, '"')) return -1;
    size_t n = 0;
    while (j->s < j->e && *j->s != '"') {
        unsigned c = (unsigned char)*j->s++;
        char enc[4];
        size_t len = 1;
        enc[0] = (char)c;
        if (c < 0x20) return -1;
        if (c == '\\') {
            if (j->s >= j->e) return -1;
            char e = *j->s++;
            static const char escapes[] = "\"\\/bfnrtu", map[] = "\"\\/\b\f\n\r\t";
            const char *which = strchr(escapes, e);
            if (!which || !e) return -1;
            if (e != 'u') {
                enc[0] = map[which - escapes];
            } else {
                if (j->e - j->s < 4) return -1;
                unsigned u = 0;
                for (int k = 0; k < 4; k++) {
                    int h = hexval(*j->s++);
                    if (h < 0) return -1;
                    u = u << 4 | (unsigned)h;
                }
                /* surrogates would need a pair; names never have them */
                if (u >= 0xD800 && u < 0xE000) return -1;
                if (u < 0x80) {
                    enc[0] = (char)u;
                } else if (u < 0x800) {
                    enc[0] = (char)(0xC0 | u >> 6);
                    enc[1] = (char)(0x80 | (u & 0x3F));
                    len = 2;
                } else {
                    enc[0] = (char)(0xE0 | u >> 12);
                    enc[1] = (char)(0x80 | (u >> 6 & 0x3F));
                    enc[2] = (char)(0x80 | (u & 0x3F));
                    len = 3;
                }
            }
        }
        if (out) {
            if (n + len >= cap) return -1;
            memcpy(out + n, enc, len);
        }
        n += len;
    }
    if (j->s >= j->e) return -1;
    j->s++;
    if (out) out[n] = '\0';
    return 0;
}

static int jp_uint(jp *j, uint64_t *v)
{
    jp_ws(j);
    if (j->s >= j->e || *j->s < '0' || *j->s > '9') return -1;
    uint64_t x = 0;
    while (j->s < j->e && *j->s >= '0' && *j->s <= '9') {
        unsigned d = (unsigned)(*j->s++ - '0');
        if (x > (UINT64_MAX - d) / 10) return -1;
        x = x * 10 + d;
    }
    *v = x;
    return 0;
}

/* [u, u, ...] into v[0..max); the count in *count */
static int jp_uints(jp *j, uint64_t *v, int max, int *count)
{
    *count = 0;
    if (!jp_lit(j, '[')) return -1;
    if (jp_lit(j, ']')) return 0;
    do {
        if (*count == max || jp_uint(j, &v[*count])) return -1;
        (*count)++;
    } while (jp_lit(j, ','));
    return jp_lit(j, ']') ? 0 : -1;
}

/* __metadata__: an object of string values */
static int jp_metadata(jp *j)
{
    if (!jp_lit(j, '{')) return -1;
    if (jp_lit(j, '}')) return 0;
    do {
        if (jp_string(j, NULL, 0) || !jp_lit(j, ':') || jp_string(j, NULL, 0)) return -1;
    } while (jp_lit(j, ','));
    return jp_lit(j, '}') ? 0 : -1;
}

/* {"dtype": ..., "shape": [...], "data_offsets": [b, e]} */
static int jp_tensor(jp *j, st_tensor *t)
{
    int have = 0;
    if (!jp_lit(j, '{')) return -1;
    if (jp_lit(j, '}')) return -1;
    do {
        char key[16];
        jp_ws(j);
        if (jp_string(j, key, sizeof key) || !jp_lit(j, ':')) return -1;
        jp_ws(j);
        uint64_t v[8];
        int count;
        if (!strcmp(key, "dtype") && !(have & 1)) {
            if (jp_string(j, t->dtype, sizeof t->dtype)) return -1;
            have |= 1;
        } else if (!strcmp(key, "shape") && !(have & 2)) {
            if (jp_uints(j, v, 8, &count)) return -1;
            t->rank = count;
            for (int k = 0; k < count; k++) {
                if (v[k] > INT32_MAX) return -1;
                t->dims[k] = (int64_t)v[k];
            }
            have |= 2;
        } else if (!strcmp(key, "data_offsets") && !(have & 4)) {
            if (jp_uints(j, v, 2, &count) || count != 2) return -1;
            t->begin = v[0];
            t->end = v[1];
            have |= 4;
        } else {
            return -1;
        }
    } while (jp_lit(j, ','));
    return jp_lit(j, '}') && have == 7 ? 0 : -1;
}

static int dtype_size(const char *dtype)
{
    static const struct {
        const char *name;
        int size;
    } known[] = {{"F64", 8}, {"F32", 4}, {"F16", 2},  {"BF16", 2},    {"I64", 8},
                 {"I32", 4}, {"I16", 2}, {"I8", 1},   {"U64", 8},     {"U32", 4},
                 {"U16", 2}, {"U8", 1},  {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
        if (!strcmp(dtype, known[k].name)) return known[k].size;
    return 0;
}

/* Parses the header text into *out (malloc'd, *count entries). */
static int st_parse(const char *path, const char *text, size_t len, st_tensor **out, int *count,
                    rt_error *err)
{
    jp j = {text, text + len};
    st_tensor *ts = NULL;
    int n = 0, cap = 0, meta = 0;
    *out = NULL;
    *count = 0;
    if (!jp_lit(&j, '{')) goto malformed;
    if (!jp_lit(&j, '}')) {
        do {
            char name[256];
            jp_ws(&j);
            if (jp_string(&j, name, sizeof name) || !jp_lit(&j, ':')) goto malformed;
            if (!strcmp(name, "__metadata__")) {
                if (meta++ || jp_metadata(&j)) goto malformed;
                continue;
            }
            for (int k = 0; k < n; k++)
                if (!strcmp(ts[k].name, name)) {
                    free(ts);
                    return rt_fail(err, "%s: tensor '%s' appears twice in the header", path, name);
                }
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                st_tensor *nt = realloc(ts, sizeof *ts * (size_t)cap);
                if (!nt) {
                    free(ts);
                    return rt_fail(err, "%s: out of memory", path);
                }
                ts = nt;
            }
            memset(&ts[n], 0, sizeof ts[n]);
            memcpy(ts[n].name, name, sizeof name);
            if (jp_tensor(&j, &ts[n])) {
                free(ts);
                return rt_fail(err,
                               "%s: malformed header entry for tensor '%s' (want dtype, shape "
                               "and data_offsets)",
                               path, name);
            }
            n++;
        } while (jp_lit(&j, ','));
        if (!jp_lit(&j, '}')) goto malformed;
    }
    jp_ws(&j);
    if (j.s != j.e) goto malformed;
    *out = ts;
    *count = n;
    return 0;
malformed:
    free(ts);
    return rt_fail(err, "%s: malformed safetensors header (JSON) near byte %ld", path,
                   8 + (long)(j.s - text));
}

static void shape_text(char *buf, size_t size, int rank, const int64_t *dims)
{
    int k = snprintf(buf, size, "[");
    for (int i = 0; i < rank && k < (int)size; i++)
        k += snprintf(buf + k, size - (size_t)k, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (k < (int)size) snprintf(buf + k, size - (size_t)k, "]");
}

int rt_safetensors_load(const char *path, const rt_param_info *params, int n, real *buf,
                        int *loaded, rt_error *err)
{
    *loaded = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return rt_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    char *text = NULL;
    st_tensor *ts = NULL;
    int nts = 0, rc = -1;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        rt_fail(err, "%s: not a regular file", path);
        goto done;
    }
    unsigned char len8[8];
    if (fread(len8, 1, 8, f) != 8) {
        rt_fail(err, "%s: not a safetensors file (only %lld bytes)", path, (long long)st.st_size);
        goto done;
    }
    uint64_t hlen = 0;
    for (int k = 7; k >= 0; k--) hlen = hlen << 8 | len8[k];
    uint64_t size = (uint64_t)st.st_size;
    if (hlen < 2 || hlen > size - 8 || hlen > (100u << 20)) {
        rt_fail(err,
                "%s: not a safetensors file, or truncated: the header length says %llu bytes, "
                "the file has %llu after it",
                path, (unsigned long long)hlen, (unsigned long long)(size - 8));
        goto done;
    }
    text = malloc((size_t)hlen + 1);
    if (!text) {
        rt_fail(err, "%s: out of memory", path);
        goto done;
    }
    if (fread(text, 1, (size_t)hlen, f) != hlen) {
        rt_fail(err, "%s: read error: %s", path, strerror(errno));
        goto done;
    }
    text[hlen] = '\0';
    if (text[0] != '{') {
        rt_fail(err, "%s: not a safetensors file (the header is not a JSON object)", path);
        goto done;
    }
    if (st_parse(path, text, (size_t)hlen, &ts, &nts, err)) goto done;

    uint64_t data_len = size - 8 - hlen;
    /* check everything before changing any parameter */
    int *which = malloc(sizeof(int) * (size_t)(nts > 0 ? nts : 1));
    if (!which) {
        rt_fail(err, "%s: out of memory", path);
        goto done;
    }
    for (int k = 0; k < nts; k++) {
        const st_tensor *t = &ts[k];
        int es = dtype_size(t->dtype);
        uint64_t numel = 1;
        for (int d = 0; d < t->rank; d++)
            numel *= (uint64_t)t->dims[d]; /* each < 2^31, rank <= 8 */
        if (!es) {
            rt_fail(err, "%s: tensor '%s': unknown dtype '%s'", path, t->name, t->dtype);
            goto bad;
        }
        if (t->begin > t->end || t->end > data_len) {
            rt_fail(err,
                    "%s: tensor '%s': data_offsets [%llu, %llu] outside the %llu bytes of data "
                    "(truncated?)",
                    path, t->name, (unsigned long long)t->begin, (unsigned long long)t->end,
                    (unsigned long long)data_len);
            goto bad;
        }
        if (numel > UINT64_MAX / 8 || t->end - t->begin != numel * (uint64_t)es) {
            rt_fail(err,
                    "%s: tensor '%s': data_offsets span %llu bytes, its shape and dtype need %llu",
                    path, t->name, (unsigned long long)(t->end - t->begin),
                    (unsigned long long)(numel * (uint64_t)es));
            goto bad;
        }
        which[k] = -1;
        for (int i = 0; i < n; i++)
            if (!strcmp(params[i].name, t->name)) which[k] = i;
        if (which[k] < 0) {
            sbuf names = {0};
            for (int i = 0; i < n && names.len < 600; i++)
                sb_printf(&names, "%s%s", i ? ", " : "", params[i].name);
            rt_fail(err, "%s: tensor '%s' is not a parameter of this model (it has %s)", path,
                    t->name, names.p ? names.p : "none");
            free(names.p);
            goto bad;
        }
        const rt_param_info *p = &params[which[k]];
        int64_t want[4];
        param_dims(p, want);
        int same = t->rank == p->rank;
        for (int d = 0; same && d < p->rank; d++) same = t->dims[d] == want[d];
        if (!same) {
            char got_s[128], want_s[128];
            shape_text(got_s, sizeof got_s, t->rank, t->dims);
            shape_text(want_s, sizeof want_s, p->rank, want);
            rt_fail(err, "%s: tensor '%s' has shape %s, the model's is %s", path, t->name, got_s,
                    want_s);
            goto bad;
        }
        if (strcmp(t->dtype, "F32") && strcmp(t->dtype, "F64") &&
            !(p->count && !strcmp(t->dtype, "I64"))) {
            rt_fail(err, "%s: tensor '%s' has dtype %s; %s load from F32 or F64%s", path, t->name,
                    t->dtype, p->count ? "counts" : "parameters", p->count ? " or I64" : "");
            goto bad;
        }
    }
    if (nts == 0) {
        rt_fail(err, "%s: holds no tensors", path);
        goto bad;
    }
    /* read each into its parameter, converting to real */
    for (int k = 0; k < nts; k++) {
        const st_tensor *t = &ts[k];
        const rt_param_info *p = &params[which[k]];
        size_t es = (size_t)dtype_size(t->dtype);
        if (fseek(f, (long)(8 + hlen + t->begin), SEEK_SET) != 0) {
            rt_fail(err, "%s: seek: %s", path, strerror(errno));
            goto bad;
        }
        real *dst = buf + p->offset;
        unsigned char chunk[1 << 14];
        for (long done = 0; done < p->numel;) {
            size_t want = sizeof chunk / es;
            if ((long)want > p->numel - done) want = (size_t)(p->numel - done);
            if (fread(chunk, es, want, f) != want) {
                rt_fail(err, "%s: tensor '%s': read error", path, t->name);
                goto bad;
            }
            if (!host_is_little_endian()) swap_bytes(chunk, want, es);
            for (size_t i = 0; i < want; i++) {
                double v;
                if (es == 4) {
                    float fv;
                    memcpy(&fv, chunk + 4 * i, 4);
                    v = fv;
                } else if (t->dtype[0] == 'I') {
                    int64_t iv;
                    memcpy(&iv, chunk + 8 * i, 8);
                    v = (double)iv;
                } else {
                    memcpy(&v, chunk + 8 * i, 8);
                }
                if (!(fabs(v) <= REAL_MAX)) {
                    rt_fail(err, "%s: tensor '%s': element %ld is not a finite %s", path, t->name,
                            done + (long)i, RT_REAL_NAME);
                    goto bad;
                }
                dst[done + (long)i] = (real)v;
            }
            done += (long)want;
        }
        int64_t at;
        if (p->count && !counts_whole(dst, p->numel, &at)) {
            rt_fail(err, "%s: tensor '%s': element %lld is %g; " COUNT_RULE, path, t->name,
                    (long long)at, (double)dst[at]);
            goto bad;
        }
    }
    *loaded = nts;
    rc = 0;
bad:
    free(which);
done:
    free(ts);
    free(text);
    fclose(f);
    return rc;
}
