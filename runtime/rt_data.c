/* rt_data.c — datasets: the data sources told apart and read (IDX in
 * rt_idx.c, CSV in rt_csv.c, NumPy .npy files here, through rt_npy.c's
 * header reader; mapped, not read, by rt_data_open), the synthetic sources
 * (xor, spirals, linreg), views of a dataset's rows, and the gathering of
 * rows into batches: converted from the stored type (rt_store.c), scaled
 * and standardised there, not in place.
 *
 * Every reader checks sizes against the file and against RT_DATA_MAX_BYTES
 * before allocating, so a lying header gives a message, not a crash. */
#include "rt.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double PI = 3.14159265358979323846;

/* ---- shared helpers ---- */

/* Allocates out->x [n][d] and out->y [n][ylen]; name is for the message. */
int rt_data_alloc(rt_dataset *out, int64_t n, int64_t d, int32_t ylen, const char *name,
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
int rt_data_check_labels(const rt_dataset *ds, int32_t classes, const char *name, rt_error *err)
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

int rt_data_check_features(const char *name, int64_t d, int32_t d_expected, rt_error *err)
{
    if (d_expected > 0 && d != d_expected)
        return rt_fail(err, "%s: %lld features per row, the model expects %d", name, (long long)d,
                       (int)d_expected);
    return 0;
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
                     rt_data_check_labels(&ds, src->classes, src->labels, err);
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
    if (rt_data_check_features(src->images, d, d_expected, err)) goto fail;
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
    if (rt_data_alloc(out, n, d, ylen, src->images, err)) goto fail;
    if (rt_npy_read_values(&x, out->x, d, err)) goto fail;
    if (ylen > 0) {
        if (rt_npy_read_values(&y, out->y, ylen, err)) goto fail;
        if (rt_data_check_labels(out, classes, src->labels, err)) goto fail;
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

/* The labels file of an npy source into out->y (n rows), checked. */
static int npy_read_labels(const rt_source *src, int64_t n, int32_t ylen, int32_t classes,
                           rt_dataset *out, rt_error *err)
{
    rt_npy y;
    int64_t per_label;
    if (npy_open_labels(src, &y, n, &per_label, err)) return -1;
    int rc = -1;
    if (per_label != ylen) {
        char shape[256];
        rt_npy_shape(&y, shape, sizeof shape);
        rt_fail(err, "%s: shape %s: %lld label values per row, the model expects %d", src->labels,
                shape, (long long)per_label, (int)ylen);
    } else if (!(out->y = malloc((size_t)n * (size_t)ylen * sizeof(real) + 1))) {
        rt_fail(err, "%s: out of memory", src->labels);
    } else {
        rc = rt_npy_read_values(&y, out->y, ylen, err) ||
                     rt_data_check_labels(out, classes, src->labels, err)
                 ? -1
                 : 0;
    }
    rt_npy_close(&y);
    return rc;
}

/* npy_load with the features file mapped, not read: any dtype, no copy. A
 * file that is no regular file, or holds a value that is no finite real,
 * goes through npy_load (which reads it, or says where the bad value is). */
static int npy_open_mapped(const rt_source *src, int32_t d_expected, int32_t ylen, int32_t classes,
                           rt_dataset *out, rt_error *err)
{
    if (!src->images) return rt_fail(err, "npy source: no x file given");
    rt_npy x;
    int64_t n, d;
    if (npy_open_rows(&x, src->images, &n, &d, err)) return -1;
    rt_npy_close(&x);
    if (x.file_size < 0) return npy_load(src, d_expected, ylen, classes, out, err);
    if (rt_data_check_features(src->images, d, d_expected, err)) return -1;
    if (ylen > 0 && !src->labels)
        return rt_fail(err, "%s: no y file given, but the model expects labels", src->images);
    out->n = (int32_t)n, out->d = (int32_t)d, out->ylen = ylen;
    if ((ylen > 0 && npy_read_labels(src, n, ylen, classes, out, err)) ||
        rt_store_map(&out->xs, src->images, x.data_off, n, d, x.kind, x.esize, x.swap, 1, err)) {
        rt_data_free(out);
        return -1;
    }
    int64_t bad = rt_store_first_bad_row(&out->xs, n);
    if (bad == -1) return 0;
    if (bad == -2) rt_fail(err, "%s", out->xs.read_err->msg);
    rt_data_free(out);
    return bad == -2 ? -1 : npy_load(src, d_expected, ylen, classes, out, err);
}

/* ---- features only, of any format (predict) ---- */

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

int rt_read_features(const char *path, int32_t d_expected, rt_dataset *out, rt_error *err)
{
    return rt_read_features_like(path, d_expected, NULL, 0, out, err);
}

int rt_read_features_like(const char *path, int32_t d_expected, const rt_source *like,
                          int label_required, rt_dataset *out, rt_error *err)
{
    memset(out, 0, sizeof *out);
    unsigned char head[6] = {0};
    FILE *fp = fopen(path, "rb");
    if (!fp) return rt_fail(err, "%s: cannot open: %s", path, strerror(errno));
    size_t got = fread(head, 1, sizeof head, fp);
    fclose(fp);
    int is_npy = (got == 6 && memcmp(head, "\x93NUMPY", 6) == 0) || ends_with(path, ".npy");
    /* IDX starts with two zero bytes; gzip with 1f 8b (rt_idx.c says so if
     * what it holds is no IDX) */
    int is_idx = !is_npy && got >= 2 &&
                 ((head[0] == 0 && head[1] == 0) || (head[0] == 0x1f && head[1] == 0x8b));
    if (is_npy) {
        rt_npy a;
        int64_t n, d;
        if (npy_open_rows(&a, path, &n, &d, err)) return -1;
        int rc = rt_data_check_features(path, d, d_expected, err) ||
                 rt_data_alloc(out, n, d, 0, path, err) || rt_npy_read_values(&a, out->x, d, err);
        rt_npy_close(&a);
        if (rc) rt_data_free(out);
        return rc ? -1 : 0;
    }
    if (is_idx) return rt_idx_read_features(path, d_expected, out, err);
    if (memchr(head, 0, got))
        return rt_fail(err, "%s: not a CSV, .npy or IDX file (binary data, magic %02x %02x)", path,
                       head[0], head[1]);
    if (like) return rt_csv_read_like(path, like, label_required, d_expected, out, err);
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
    int32_t n = 0, d = 0; /* set by synth_shape (GCC -O3 cannot see it) */
    if (synth_shape(src, &n, &d, err)) return -1;
    if (rt_data_check_features(name, d, d_expected, err)) return -1;
    if (ylen > 1)
        return rt_fail(err, "%s: 1 label value per row, the model expects %d", name, (int)ylen);
    if (rt_data_alloc(out, n, d, ylen, name, err)) return -1;

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
    if (rt_data_check_labels(out, classes, name, err)) {
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
        return rt_idx_probe(src, n, d, err);
    case RT_SRC_NPY:
        return npy_probe(src, n, d, err);
    case RT_SRC_CSV:
        return rt_csv_probe(src, n, d, err);
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
        return rt_idx_load(src, d_expected, ylen, classes, out, err);
    case RT_SRC_NPY:
        return npy_load(src, d_expected, ylen, classes, out, err);
    case RT_SRC_CSV:
        return rt_csv_load(src, d_expected, ylen, classes, out, err);
    case RT_SRC_XOR:
    case RT_SRC_SPIRALS:
    case RT_SRC_LINREG:
        return synth_load(src, d_expected, ylen, classes, out, err);
    default:
        return rt_fail(err, "data source kind %d is not known", src->kind);
    }
}

int rt_data_open(const rt_source *src, int32_t d_expected, int32_t ylen, int32_t classes,
                 rt_dataset *out, rt_error *err)
{
    memset(out, 0, sizeof *out);
    if (ylen < 0) return rt_fail(err, "label values per row must be >= 0 (got %d)", (int)ylen);
    if (src->kind == RT_SRC_IDX) return rt_idx_open(src, d_expected, ylen, classes, out, err);
    if (src->kind == RT_SRC_NPY) return npy_open_mapped(src, d_expected, ylen, classes, out, err);
    return rt_data_load(src, d_expected, ylen, classes, out, err);
}

int rt_data_load_labels(const rt_source *src, int32_t ylen, int32_t classes, real **y, int32_t *n,
                        rt_error *err)
{
    rt_dataset ds;
    memset(&ds, 0, sizeof ds);
    *y = NULL;
    int rc;
    if (src->kind == RT_SRC_IDX && src->labels && ylen > 0) {
        rc = rt_idx_load_labels(src, ylen, classes, &ds, err);
    } else if (src->kind == RT_SRC_NPY && src->labels && ylen > 0) {
        rt_npy x;
        int64_t nx, per_row;
        rc = npy_open_rows(&x, src->images, &nx, &per_row, err);
        if (!rc) {
            rt_npy_close(&x);
            ds.n = (int32_t)nx, ds.ylen = ylen;
            rc = npy_read_labels(src, nx, ylen, classes, &ds, err);
        }
    } else {
        rc = rt_data_load(src, 0, ylen, classes, &ds, err);
    }
    if (rc) {
        rt_data_free(&ds);
        return -1;
    }
    *y = ds.y;
    *n = ds.n;
    ds.y = NULL;
    rt_data_free(&ds);
    return 0;
}

void rt_data_free(rt_dataset *ds)
{
    if (!ds->view) {
        free(ds->x);
        free(ds->y);
        rt_store_free(&ds->xs);
    }
    memset(ds, 0, sizeof *ds);
}

void rt_data_scale(rt_dataset *ds, double scale)
{
    size_t count = (size_t)ds->n * (size_t)ds->d;
    for (size_t i = 0; i < count; i++) ds->x[i] = (real)(ds->x[i] * scale);
}

/* Columns are processed in blocks so the sums live on the stack (no
 * allocation that could fail) while rows are still read in order. */
#define STD_BLOCK 256

/* Features j0 .. j0 + m of row i as gathered, scaled but not standardised. */
static void row_part(const rt_dataset *ds, int32_t i, int64_t j0, int64_t m, real *out)
{
    size_t r = (size_t)(ds->rows ? ds->rows[i] : i), d = (size_t)ds->d;
    if (ds->x)
        memcpy(out, ds->x + r * d + (size_t)j0, (size_t)m * sizeof(real));
    else
        rt_store_row(&ds->xs, (int64_t)r, j0, m, out);
    if (ds->scale != 0)
        for (int64_t j = 0; j < m; j++) out[j] = (real)(out[j] * ds->scale);
}

void rt_standardize_fit(const rt_dataset *ds, real *mean, real *std)
{
    size_t n = (size_t)ds->n, d = (size_t)ds->d;
    real row[STD_BLOCK];
    for (size_t j0 = 0; j0 < d; j0 += STD_BLOCK) {
        size_t nb = d - j0 < STD_BLOCK ? d - j0 : STD_BLOCK;
        double sum[STD_BLOCK] = {0}, ss[STD_BLOCK] = {0};
        for (size_t i = 0; i < n; i++) {
            row_part(ds, (int32_t)i, (int64_t)j0, (int64_t)nb, row);
            for (size_t j = 0; j < nb; j++) sum[j] += row[j];
        }
        for (size_t j = 0; j < nb; j++) sum[j] = n ? sum[j] / (double)n : 0;
        /* two passes: the sum of squared deviations does not cancel */
        for (size_t i = 0; i < n; i++) {
            row_part(ds, (int32_t)i, (int64_t)j0, (int64_t)nb, row);
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

rt_dataset rt_data_view(const rt_dataset *ds, const int32_t *rows, int32_t n)
{
    rt_dataset v = *ds;
    v.view = 1;
    v.n = n;
    v.rows = rows;
    return v;
}

void rt_data_prepare(rt_dataset *ds, double scale, const real *mean, const real *std)
{
    ds->scale = scale;
    ds->mean = mean;
    ds->std = std;
}

int rt_data_plain(const rt_dataset *ds)
{
    return ds->x && !ds->rows && ds->scale == 0 && !ds->mean;
}

/* row i's stored bytes on their way to the caches (rt_data_gather) */
static void prefetch_row(const rt_dataset *ds, int32_t i)
{
    const size_t r = (size_t)(ds->rows ? ds->rows[i] : i), d = (size_t)ds->d;
    if (ds->x)
        for (size_t o = 0; o < d; o += 16) __builtin_prefetch(ds->x + r * d + o);
    else
        rt_store_prefetch_row(&ds->xs, (int64_t)r);
}

void rt_data_row(const rt_dataset *ds, int32_t i, real *out)
{
    row_part(ds, i, 0, ds->d, out);
    if (ds->mean)
        for (int32_t j = 0; j < ds->d; j++) out[j] = (out[j] - ds->mean[j]) / ds->std[j];
}

/* rows fetched this far ahead of their conversion: a batch's rows are
 * scattered over the data set (shuffled), and left to the hardware each
 * row's first bytes wait on memory (perf: 88% of the conversion's time on
 * its first load; with the shards' sums vectorised, LeNet's "other" in the
 * profile went 50 -> 29 us a step) */
#define GATHER_AHEAD 4

void rt_data_gather(const rt_dataset *ds, const int32_t *idx, int32_t b, real *x, real *y)
{
    size_t d = (size_t)ds->d, yl = (size_t)ds->ylen;
    for (int32_t k = 0; k < b && k < GATHER_AHEAD; k++) prefetch_row(ds, idx[k]);
    for (int32_t k = 0; k < b; k++) {
        if (k + GATHER_AHEAD < b) prefetch_row(ds, idx[k + GATHER_AHEAD]);
        rt_data_row(ds, idx[k], x + (size_t)k * d);
        if (yl && y) memcpy(y + (size_t)k * yl, rt_data_label(ds, idx[k]), yl * sizeof(real));
    }
}

const rt_error *rt_data_read_error(const rt_dataset *ds)
{
    return ds->xs.read_err && ds->xs.read_err->msg[0] ? ds->xs.read_err : NULL;
}
