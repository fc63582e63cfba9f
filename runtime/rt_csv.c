/* rt_csv.c — the numeric CSV reader: an optional header (or detected), the
 * label column by name or index, every cell a finite number, errors named by
 * line and column. */
#include "rt.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    if (!(fabs(*v) <= RT_REAL_MAX)) return CELL_RANGE;
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

/* The first row decides the columns: *ncols of them, the label column *lab
 * (-1: none), *d features; *is_header: the row is a header, not data. */
static int first_row(const csv_opts *o, char *s, long lineno, int64_t *ncols, int64_t *lab,
                     int64_t *d, int *is_header, rt_error *err)
{
    const char *path = o->path;
    *ncols = count_cells(s);
    *is_header = o->header == 1 || (o->header == -1 && !row_is_numeric(s));
    if (o->label) {
        if (!*is_header)
            return rt_fail(err, "%s: label column '%s' needs a header row, but line %ld is numeric",
                           path, o->label, lineno);
        *lab = find_column(s, o->label);
        if (*lab < 0)
            return rt_fail(err, "%s: line %ld: no column named '%s' in the header", path, lineno,
                           o->label);
    } else if (o->label_col >= 0) {
        *lab = o->label_col;
        if (*lab >= *ncols)
            return rt_fail(err, "%s: label column %lld out of range: rows have %lld columns", path,
                           (long long)*lab, (long long)*ncols);
    }
    if (o->ylen > 0 && *lab < 0)
        return rt_fail(err, "%s: no label column given, but the model expects labels", path);
    *d = *ncols - (*lab >= 0);
    if (*d == 0) return rt_fail(err, "%s: no feature columns", path);
    return rt_data_check_features(path, *d, o->d_expected, err);
}

/* Room for row n in *x (d features a row) and *y (a label a row when the
 * model has labels), within the allocation limit. */
static int grow_rows(const csv_opts *o, long lineno, int64_t n, int64_t d, int64_t *rows_cap,
                     real **x, real **y, rt_error *err)
{
    const char *path = o->path;
    /* rows (features + label) that fit under the allocation limit */
    int64_t max_rows = (int64_t)(RT_DATA_MAX_BYTES / sizeof(real) / (uint64_t)(d + 1));
    if (n >= max_rows)
        return rt_fail(
            err, "%s: line %ld: %lld rows x %lld features are more than the %d GiB limit", path,
            lineno, (long long)n + 1, (long long)d, (int)(RT_DATA_MAX_BYTES >> 30));
    int64_t ncap = *rows_cap ? *rows_cap * 2 : 256;
    if (ncap > max_rows) ncap = max_rows;
    if (ncap > INT32_MAX) ncap = INT32_MAX;
    real *nx = realloc(*x, (size_t)ncap * (size_t)d * sizeof(real));
    if (nx) *x = nx;
    real *ny = o->ylen > 0 ? realloc(*y, (size_t)ncap * sizeof(real)) : *y;
    if (ny) *y = ny;
    if (!nx || (o->ylen > 0 && !ny))
        return rt_fail(err, "%s: line %ld: out of memory", path, lineno);
    *rows_cap = ncap;
    return 0;
}

/* A data row's cells: its features into xr (NULL: not kept), its label,
 * checked, into *yv (NULL: not kept). */
static int parse_row(const csv_opts *o, char *s, long lineno, int64_t lab, real *xr, real *yv,
                     rt_error *err)
{
    const char *path = o->path;
    char *cur = s;
    for (int64_t col = 0; cur; col++) {
        char *ce, *cs = next_cell(&cur, &ce);
        double v;
        int kind = parse_cell(cs, ce, &v);
        if (kind != CELL_OK) return cell_error(err, path, lineno, col + 1, cs, kind);
        if (col == lab) {
            if (o->ylen == 0) continue; /* the caller wants no labels */
            if (o->classes > 0 && v != floor(v))
                return rt_fail(err, "%s: line %ld: label %g is not an integer class in [0, %d)",
                               path, lineno, v, (int)o->classes);
            if (o->classes > 0 && (v < 0 || v >= o->classes))
                return rt_fail(err, "%s: line %ld: label %g out of range [0, %d)", path, lineno, v,
                               (int)o->classes);
            if (yv) *yv = (real)v;
        } else if (xr) {
            *xr++ = (real)v;
        }
    }
    return 0;
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
            int is_header;
            if (first_row(o, s, lineno, &ncols, &lab, &d, &is_header, err)) goto done;
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
        if (o->store && n == rows_cap && grow_rows(o, lineno, n, d, &rows_cap, &x, &y, err))
            goto done;
        if (parse_row(o, s, lineno, lab, o->store ? x + (size_t)n * (size_t)d : NULL,
                      o->store && o->ylen > 0 ? y + n : NULL, err))
            goto done;
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

int rt_csv_probe(const rt_source *src, int32_t *n, int32_t *d, rt_error *err)
{
    if (!src->path) return rt_fail(err, "csv source: no path given");
    csv_opts o = csv_opts_of(src);
    return csv_read(&o, n, d, NULL, err);
}

int rt_csv_load(const rt_source *src, int32_t d_expected, int32_t ylen, int32_t classes,
                rt_dataset *out, rt_error *err)
{
    if (!src->path) return rt_fail(err, "csv source: no path given");
    csv_opts o = csv_opts_of(src);
    o.d_expected = d_expected;
    o.ylen = ylen;
    o.classes = classes;
    o.store = 1;
    return csv_read(&o, NULL, NULL, out, err);
}
