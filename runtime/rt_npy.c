/* rt_npy.c — NumPy .npy arrays: writing float32/float64 (and int64 counts)
 * atomically, and opening, checking and reading the header and values of
 * any version 1.0-3.0 file of floats or integers. */
#include "rt.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

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

    rt_part parts[2] = {{head, padded}, {data, count * (size_t)esize}};
    if (rt_host_little_endian()) return rt_write_atomic_parts(path, parts, 2, err);
    void *le = malloc(count * (size_t)esize + 1);
    if (!le) return rt_fail(err, "%s: out of memory", path);
    memcpy(le, data, count * (size_t)esize);
    rt_swap_bytes(le, count, (size_t)esize);
    parts[1].buf = le;
    int rc = rt_write_atomic_parts(path, parts, 2, err);
    free(le);
    return rc;
}

int rt_npy_write(const char *path, const real *data, int rank, const int64_t *dims, rt_error *err)
{
    return npy_write(path, data, 'f', (int)sizeof(real), rank, dims, err);
}

int rt_npy_write_int64(const char *path, const real *data, int rank, const int64_t *dims,
                       rt_error *err)
{
    size_t count = 1;
    for (int i = 0; i < rank && i < RT_NPY_MAX_RANK; i++)
        count *= dims[i] > 0 ? (size_t)dims[i] : 0;
    int64_t *v = malloc(count * sizeof *v + 1);
    if (!v) return rt_fail(err, "%s: out of memory", path);
    for (size_t i = 0; i < count; i++) v[i] = rt_count_value(data[i]);
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
    a->swap = size > 1 && (order == '<' || order == '>') && big == rt_host_little_endian();
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
    return rt_elem_value(a->kind, a->esize, p);
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
            if (!(fabs((double)dst[i]) <= RT_REAL_MAX)) return not_finite(a, i, per_row, err);
        return at_end(a, err);
    }
    unsigned char buf[1 << 15]; /* a multiple of every element size */
    for (int64_t done = 0; done < a->count;) {
        size_t want = sizeof buf / (size_t)a->esize;
        if ((int64_t)want > a->count - done) want = (size_t)(a->count - done);
        if (fread(buf, (size_t)a->esize, want, a->f) != want) goto short_read;
        if (a->swap) rt_swap_bytes(buf, want, (size_t)a->esize);
        for (size_t i = 0; i < want; i++) {
            double v = npy_value(a, buf + i * (size_t)a->esize);
            if (!(fabs(v) <= RT_REAL_MAX)) return not_finite(a, done + (int64_t)i, per_row, err);
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

/* Parameters are floating point: an integer array is a mistake, but for a
 * count (torch keeps num_batches_tracked as int64). */
static int npy_params(rt_npy *a, real *data, int count, rt_error *err)
{
    if (a->kind != 'f' && !count)
        return rt_fail(err, "%s: unsupported dtype '%s' (want '<f4' or '<f8')", a->path, a->descr);
    if (rt_npy_read_values(a, data, a->count, err)) return -1;
    int64_t at;
    if (count && !rt_counts_whole(data, a->count, &at))
        return rt_fail(err, "%s: element %lld is %g; " RT_COUNT_RULE, a->path, (long long)at,
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
