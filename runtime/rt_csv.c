/* rt_csv.c — CSV data sets: the header (given or detected), the label column
 * (by name, index or last) and the feature columns (chosen or dropped), every
 * feature cell a finite number, labels as numbers or class names; errors
 * named by line and column. The records themselves come from rt_csv_rec.c. */
#include "rt.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* what a column is to the reader */
enum { COL_SKIP = -1, COL_LABEL = -2 }; /* else the feature's place in the row */

#define MAX_NAMES 65536 /* distinct labels collected */

typedef struct name_set {
    const char **names; /* names[0..n) */
    double *values;     /* each name as a number, NAN if it is not one */
    int n, cap, numeric_names;
    int32_t *slot; /* hash: index + 1, 0 empty */
    uint32_t mask;
    int owned; /* names are copies (collected) */
} name_set;

typedef struct csv_opts {
    const rt_source *src; /* sep, label, features, drop, class names */
    const char *path;
    int header;         /* 1 yes, 0 no, -1 detect */
    int32_t d_expected; /* <= 0: any */
    int32_t ylen;       /* 0 or 1 */
    int32_t classes;
    int store;          /* 0: probe, count rows and check them only */
    int like;           /* predict on a file shaped like src: the label optional */
    int label_required; /* ... unless this */
    name_set *collect;  /* inspect: the distinct labels go here */
    char sep;           /* the delimiter, given or detected (for messages) */
    rt_csv_info *info;
} csv_opts;

enum { CELL_OK, CELL_EMPTY, CELL_NAN, CELL_RANGE };

/* Only plain decimal numbers: strtod alone would also take "nan", "inf" and
 * hex. */
static int parse_cell(const rt_csv_cell *c, double *v)
{
    if (c->len == 0) return CELL_EMPTY;
    for (size_t i = 0; i < c->len; i++)
        if (!strchr("0123456789+-.eE", c->s[i])) return CELL_NAN;
    char *end;
    errno = 0;
    *v = strtod(c->s, &end);
    if (end != c->s + c->len) return CELL_NAN;
    /* ERANGE on underflow just gives a tiny value, which is fine */
    if (!(fabs(*v) <= RT_REAL_MAX)) return CELL_RANGE;
    return CELL_OK;
}

static int is_number(const rt_csv_cell *c)
{
    double v;
    return parse_cell(c, &v) == CELL_OK;
}

static int cell_error(rt_error *err, const char *path, long line, int64_t col,
                      const rt_csv_cell *c, int kind)
{
    if (kind == CELL_EMPTY)
        return rt_fail(err, "%s: line %ld: column %lld: empty cell", path, line, (long long)col);
    if (kind == CELL_RANGE)
        return rt_fail(err, "%s: line %ld: column %lld: '%.40s' is out of range for %s", path, line,
                       (long long)col, c->s, RT_REAL_NAME);
    return rt_fail(err, "%s: line %ld: column %lld: '%.40s' is not a number", path, line,
                   (long long)col, c->s);
}

/* ---- class names: a set of strings with a hash ---- */

static uint32_t hash_of(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* index of s, or -1; *at: its slot or the empty one where it would go */
static int set_find(const name_set *ns, const char *s, uint32_t *at)
{
    uint32_t i = hash_of(s) & ns->mask;
    while (ns->slot[i] && strcmp(ns->names[ns->slot[i] - 1], s)) i = (i + 1) & ns->mask;
    if (at) *at = i;
    return ns->slot[i] - 1;
}

/* Room for n names (slots for twice that); 0, or -1 out of memory. */
static int set_reserve(name_set *ns, int n)
{
    if (n <= ns->cap) return 0;
    int cap = ns->cap ? ns->cap * 2 : 16;
    while (cap < n) cap *= 2;
    const char **nn = realloc(ns->names, (size_t)cap * sizeof *nn);
    if (nn) ns->names = nn;
    double *nv = realloc(ns->values, (size_t)cap * sizeof *nv);
    if (nv) ns->values = nv;
    int32_t *slot = calloc((size_t)cap * 2, sizeof *slot);
    if (!nn || !nv || !slot) {
        free(slot);
        return -1;
    }
    free(ns->slot);
    ns->slot = slot;
    ns->mask = (uint32_t)cap * 2 - 1;
    ns->cap = cap;
    for (int k = 0; k < ns->n; k++) {
        uint32_t at;
        set_find(ns, ns->names[k], &at);
        ns->slot[at] = k + 1;
    }
    return 0;
}

/* Adds s (a copy when owned) unless there; -1 out of memory. */
static int set_add(name_set *ns, const char *s)
{
    if (ns->cap && set_find(ns, s, NULL) >= 0) return 0;
    if (set_reserve(ns, ns->n + 1)) return -1;
    uint32_t at;
    set_find(ns, s, &at);
    const char *name = ns->owned ? strdup(s) : s;
    if (!name) return -1;
    rt_csv_cell c = {(char *)name, strlen(name), 0};
    double v;
    ns->values[ns->n] = parse_cell(&c, &v) == CELL_OK ? v : NAN;
    ns->numeric_names += ns->values[ns->n] == ns->values[ns->n];
    ns->names[ns->n++] = name;
    ns->slot[at] = ns->n;
    return 0;
}

static void set_free(name_set *ns)
{
    if (ns->owned)
        for (int k = 0; k < ns->n; k++) free((char *)ns->names[k]);
    free(ns->names);
    free(ns->values);
    free(ns->slot);
    memset(ns, 0, sizeof *ns);
}

/* "a, b, c" (the first names, for messages) */
static void list_names(const char *const *names, int n, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int k = 0; k < n && len + 8 < size; k++) {
        int w = snprintf(buf + len, size - len, "%s%.40s", k ? ", " : "", names[k]);
        if (w < 0) break;
        len += (size_t)w;
        if (k == 7 && n > 8) {
            snprintf(buf + len, size - len, ", ... (%d in all)", n);
            break;
        }
    }
    if (len >= size) buf[size - 1] = '\0';
}

/* The class index of a label cell: its name, else a number equal to a
 * numeric name's, else (no name is a number) the index itself. */
static int class_of(const name_set *ns, const rt_csv_cell *c, double *cls)
{
    int k = set_find(ns, c->s, NULL);
    double v;
    if (k < 0 && parse_cell(c, &v) == CELL_OK) {
        for (int i = 0; i < ns->n && k < 0; i++)
            if (ns->values[i] == v) k = i;
        if (k < 0 && !ns->numeric_names && v == floor(v) && v >= 0 && v < ns->n) k = (int)v;
    }
    *cls = k;
    return k >= 0 ? 0 : -1;
}

/* ---- the header and the columns ---- */

/* The first record decides the columns; the second, where there is one,
 * helps decide whether the first is a header: it is when one of its cells
 * is not a number where the next row has one (so a row of data whose label
 * is a class name is not taken for a header), or when it names the label
 * column. */
static int looks_like_header(const csv_opts *o, const rt_csv_cell *r1, int64_t n1,
                             const rt_csv_cell *r2, int64_t n2)
{
    for (int64_t j = 0; j < n1; j++) {
        if (o->src->label && !strcmp(r1[j].s, o->src->label)) return 1;
        if (!is_number(&r1[j]) && (!r2 || (j < n2 && is_number(&r2[j])))) return 1;
    }
    return 0;
}

static const char *column_text(const rt_column *c, char *buf, size_t size)
{
    if (c->name) snprintf(buf, size, "'%.200s'", c->name);
    else if (c->index == RT_CSV_LAST) snprintf(buf, size, "last");
    else snprintf(buf, size, "%d", c->index);
    return buf;
}

/* The index of column c (what: "label", "feature", "drop") in rows of ncols
 * cells; hdr is the header's cells, or NULL. -1 with err set (when
 * optional: -2 and no error for a name the header lacks). */
static int64_t find_column(const csv_opts *o, const rt_column *c, const char *what,
                           const rt_csv_cell *hdr, int64_t ncols, long line, int optional,
                           rt_error *err)
{
    char buf[256];
    if (!c->name) {
        int64_t j = c->index == RT_CSV_LAST ? ncols - 1 : c->index;
        if (j < 0 || j >= ncols)
            return rt_fail(err, "%s: %s column %s out of range: rows have %lld columns", o->path,
                           what, column_text(c, buf, sizeof buf), (long long)ncols);
        return j;
    }
    if (!hdr) {
        if (optional) return -2;
        return rt_fail(err,
                       "%s: %s column '%s' needs a header row, but line %ld looks like data "
                       "(header = true makes it the header)",
                       o->path, what, c->name, line);
    }
    for (int64_t j = 0; j < ncols; j++)
        if (!strcmp(hdr[j].s, c->name)) return j;
    if (optional) return -2;
    const char *names[9] = {0};
    int k = 0;
    for (; k < 9 && k < ncols; k++) names[k] = hdr[k].s;
    list_names(names, k, buf, sizeof buf);
    return rt_fail(err, "%s: line %ld: no column named '%s' in the header (%s%s)", o->path, line,
                   c->name, buf, ncols > 9 ? ", ..." : "");
}

/* role[j] of each column: the label, a feature (its place), or skipped;
 * *d features. use_label 0: no label column (predict on features). */
static int plan_columns(const csv_opts *o, const rt_csv_cell *hdr, int64_t ncols, long line,
                        int use_label, int *role, int64_t *d, rt_error *err)
{
    const rt_source *s = o->src;
    rt_column lc = {s->label, s->label_col};
    int has_label = use_label && (s->label || s->label_col != -1);
    int64_t lab = -1;
    if (has_label) {
        lab = find_column(o, &lc, "label", hdr, ncols, line, o->like && !o->label_required, err);
        if (lab == -1) return -1;
        if (lab < 0) lab = -1; /* predict: the file has no label column */
    }
    if (o->ylen > 0 && lab < 0)
        return rt_fail(err, "%s: no label column given, but the model expects labels", o->path);
    for (int64_t j = 0; j < ncols; j++) role[j] = s->n_features ? COL_SKIP : 0;
    if (lab >= 0) role[lab] = COL_LABEL;
    for (int k = 0; k < s->n_drop; k++) {
        /* predict: a file without the column has nothing to drop */
        int64_t j = find_column(o, &s->drop[k], "dropped", hdr, ncols, line, o->like, err);
        if (j == -1) return -1;
        if (j >= 0 && role[j] == 0) role[j] = COL_SKIP;
    }
    for (int k = 0; k < s->n_features; k++) {
        char buf[256];
        int64_t j = find_column(o, &s->features[k], "feature", hdr, ncols, line, 0, err);
        if (j < 0) return -1;
        if (role[j] != COL_SKIP)
            return rt_fail(err, "%s: feature column %s is %s", o->path,
                           column_text(&s->features[k], buf, sizeof buf),
                           role[j] == COL_LABEL ? "the label column" : "listed twice");
        role[j] = k;
    }
    *d = s->n_features; /* in the list's order */
    for (int64_t j = 0; j < ncols && !s->n_features; j++)
        if (role[j] >= 0) role[j] = (int)(*d)++;
    if (*d == 0 && ncols == 1)
        return rt_fail(err, "%s: no feature columns (rows have 1 column split at %s)", o->path,
                       rt_csv_sep_name(o->sep));
    if (*d == 0) return rt_fail(err, "%s: no feature columns", o->path);
    return 0;
}

/* The columns of a predict file shaped like the training file: the same
 * choice of columns, the label dropped when there is one. */
static int plan_like(const csv_opts *o, const rt_csv_cell *hdr, int64_t ncols, long line, int *role,
                     int64_t *d, rt_error *err)
{
    if (!hdr && !o->label_required && ncols == o->d_expected) { /* features as they are */
        for (int64_t j = 0; j < ncols; j++) role[j] = (int)j;
        *d = ncols;
        return 0;
    }
    const rt_source *s = o->src;
    /* a label by index is there when the count says so */
    int by_index = !o->label_required && !s->label && s->label_col != -1;
    int rc = plan_columns(o, hdr, ncols, line, 1, role, d, err);
    if (!by_index || (rc == 0 && (o->d_expected <= 0 || *d == o->d_expected))) return rc;
    return plan_columns(o, hdr, ncols, line, 0, role, d, err);
}

/* ---- rows ---- */

static int ragged_error(const csv_opts *o, rt_csv_reader *r, int64_t ncols, long first_line,
                        long prev_line, int64_t prev_n, rt_error *err);

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

/* A label cell: collected (inspect), a class name, a class index or a value. */
static int parse_label(const csv_opts *o, const name_set *given, const rt_csv_cell *c, long line,
                       int64_t col, real *yv, rt_error *err)
{
    const char *path = o->path;
    double v;
    int numeric = parse_cell(c, &v) == CELL_OK;
    if (o->info && !numeric) o->info->labels_numeric = 0;
    if (o->collect) {
        if (c->len == 0) return cell_error(err, path, line, col + 1, c, CELL_EMPTY);
        if (o->collect->n >= MAX_NAMES && set_find(o->collect, c->s, NULL) < 0)
            return rt_fail(err, "%s: line %ld: more than %d distinct labels", path, line,
                           MAX_NAMES);
        if (set_add(o->collect, c->s)) return rt_fail(err, "%s: out of memory", path);
        return 0;
    }
    if (o->ylen == 0) return 0;
    if (given) {
        if (class_of(given, c, &v)) {
            char buf[512];
            list_names(given->names, given->n, buf, sizeof buf);
            return rt_fail(err, "%s: line %ld: label '%.40s' is not one of the %d classes (%s)",
                           path, line, c->s, given->n, buf);
        }
    } else {
        int kind = parse_cell(c, &v);
        if (kind != CELL_OK) return cell_error(err, path, line, col + 1, c, kind);
        if (o->classes > 0 && v != floor(v))
            return rt_fail(err, "%s: line %ld: label %g is not an integer class in [0, %d)", path,
                           line, v, (int)o->classes);
        if (o->classes > 0 && (v < 0 || v >= o->classes))
            return rt_fail(err, "%s: line %ld: label %g out of range [0, %d)", path, line, v,
                           (int)o->classes);
    }
    if (yv) *yv = (real)v;
    return 0;
}

/* A data row's cells: its features into xr (NULL: not kept), its label into
 * *yv (NULL: not kept). */
static int parse_row(const csv_opts *o, const rt_csv_cell *cells, int64_t n, long line,
                     const int *role, const name_set *given, real *xr, real *yv, rt_error *err)
{
    for (int64_t j = 0; j < n; j++) {
        const rt_csv_cell *c = &cells[j];
        if (role[j] == COL_SKIP) continue;
        if (role[j] == COL_LABEL) {
            if (parse_label(o, given, c, line, j, yv, err)) return -1;
            continue;
        }
        double v;
        int kind = parse_cell(c, &v);
        if (kind != CELL_OK) return cell_error(err, o->path, line, j + 1, c, kind);
        if (xr) xr[role[j]] = (real)v;
    }
    return 0;
}

/* A row with another number of cells than the first: the message says how
 * many the rows around it have, reading on a little. */
#define LOOK_AHEAD 1000
static int ragged_error(const csv_opts *o, rt_csv_reader *r, int64_t ncols, long first_line,
                        long prev_line, int64_t prev_n, rt_error *err)
{
    long line = r->rec_line;
    int64_t n = r->n_cells;
    rt_error ignored;
    long last_same = line, rows = 0;
    int all_same = 1;
    int64_t next_n = -1;
    long next_line = 0;
    while (rows < LOOK_AHEAD && rt_csv_next(r, &ignored) == 1) {
        if (next_n < 0) next_n = r->n_cells, next_line = r->rec_line;
        if (r->n_cells != n) all_same = 0;
        if (!all_same) break;
        last_same = r->rec_line;
        rows++;
    }
    if (prev_line == first_line && all_same && rows >= 1)
        return rt_fail(err,
                       "%s: line %ld: %lld cells, expected %lld: line %ld has %lld cells, but "
                       "lines %ld to %ld have %lld (is line %ld a title rather than the header, "
                       "or is the delimiter not %s?)",
                       o->path, line, (long long)n, (long long)ncols, first_line,
                       (long long)ncols, line, last_same, (long long)n, first_line,
                       rt_csv_sep_name(r->sep));
    char after[96] = "no line after it";
    if (next_n >= 0)
        snprintf(after, sizeof after, "line %ld after it has %lld", next_line, (long long)next_n);
    return rt_fail(err, "%s: line %ld: %lld cells, expected %lld (line %ld before it has %lld, %s)",
                   o->path, line, (long long)n, (long long)ncols, prev_line, (long long)prev_n,
                   after);
}

/* The first record, kept while the second is read */
typedef struct saved_row {
    rt_csv_cell *cells;
    char *text;
    int64_t n;
    long line;
} saved_row;

static int save_row(const rt_csv_reader *r, saved_row *s)
{
    size_t len = 0;
    for (int64_t j = 0; j < r->n_cells; j++) len += r->cells[j].len + 1;
    s->cells = malloc((size_t)r->n_cells * sizeof *s->cells);
    s->text = malloc(len + 1);
    if (!s->cells || !s->text) return -1;
    char *p = s->text;
    for (int64_t j = 0; j < r->n_cells; j++) {
        memcpy(p, r->cells[j].s, r->cells[j].len + 1);
        s->cells[j] = r->cells[j];
        s->cells[j].s = p;
        p += r->cells[j].len + 1;
    }
    s->n = r->n_cells;
    s->line = r->rec_line;
    return 0;
}

static int all_numbers(const rt_csv_cell *c, int64_t n)
{
    for (int64_t j = 0; j < n; j++)
        if (!is_number(&c[j])) return 0;
    return 1;
}

/* The reading that csv_read does after the header: every row, stored or
 * checked; *n rows. */
typedef struct csv_table {
    rt_csv_reader r;
    saved_row first;
    int is_header, *role;
    int64_t ncols, d, n, rows_cap;
    real *x, *y;
    name_set given;
} csv_table;

static int take_row(const csv_opts *o, csv_table *t, const rt_csv_cell *cells, int64_t ncells,
                    long line, rt_error *err)
{
    if (t->n >= INT32_MAX) return rt_fail(err, "%s: more than %d rows", o->path, INT32_MAX);
    if (o->store && t->n == t->rows_cap &&
        grow_rows(o, line, t->n, t->d, &t->rows_cap, &t->x, &t->y, err))
        return -1;
    real *xr = o->store ? t->x + (size_t)t->n * (size_t)t->d : NULL;
    real *yv = o->store && o->ylen > 0 ? t->y + t->n : NULL;
    if (parse_row(o, cells, ncells, line, t->role, t->given.n ? &t->given : NULL, xr, yv, err))
        return -1;
    t->n++;
    return 0;
}

/* The first rows: the header decided, the columns planned. */
static int start_table(const csv_opts *o, csv_table *t, int *more, rt_error *err)
{
    int rc = rt_csv_next(&t->r, err);
    if (rc < 0) return -1;
    if (rc == 0) return rt_fail(err, "%s: no data rows", o->path);
    if (save_row(&t->r, &t->first)) return rt_fail(err, "%s: out of memory", o->path);
    *more = rt_csv_next(&t->r, err);
    if (*more < 0) return -1;
    if (*more && t->r.n_cells != t->first.n) /* before anything is made of line 1 */
        return ragged_error(o, &t->r, t->first.n, t->first.line, t->first.line, t->first.n, err);
    const rt_csv_cell *r1 = t->first.cells, *r2 = *more ? t->r.cells : NULL;
    t->ncols = t->first.n;
    t->is_header = o->header == 1 || (o->header == -1 && looks_like_header(o, r1, t->ncols, r2,
                                                                           *more ? t->r.n_cells : 0));
    if (o->info) {
        o->info->header = t->is_header;
        o->info->header_numeric = o->header == 1 && all_numbers(r1, t->ncols);
        o->info->header_line = t->first.line;
        o->info->columns = (int32_t)t->ncols;
        o->info->sep = t->r.sep;
    }
    if (!(t->role = malloc((size_t)t->ncols * sizeof *t->role)))
        return rt_fail(err, "%s: out of memory", o->path);
    const rt_csv_cell *hdr = t->is_header ? r1 : NULL;
    if (o->like ? plan_like(o, hdr, t->ncols, t->first.line, t->role, &t->d, err)
                : plan_columns(o, hdr, t->ncols, t->first.line, 1, t->role, &t->d, err))
        return -1;
    return rt_data_check_features(o->path, t->d, o->d_expected, err);
}

static int read_table(const csv_opts *opts, csv_table *t, rt_error *err)
{
    const rt_source *s = opts->src;
    if (rt_csv_open(&t->r, opts->path, s->sep, err)) return -1;
    csv_opts with_sep = *opts;
    with_sep.sep = t->r.sep;
    const csv_opts *o = &with_sep;
    for (int k = 0; k < s->n_class_names && o->ylen > 0; k++)
        if (set_add(&t->given, s->class_names[k])) return rt_fail(err, "%s: out of memory", o->path);
    int more = 0;
    if (start_table(o, t, &more, err)) return -1;
    long prev_line = t->first.line;
    int64_t prev_n = t->ncols;
    if (!t->is_header && take_row(o, t, t->first.cells, t->ncols, t->first.line, err)) return -1;
    for (; more == 1; more = rt_csv_next(&t->r, err)) {
        if (t->r.n_cells != t->ncols)
            return ragged_error(o, &t->r, t->ncols, t->first.line, prev_line, prev_n, err);
        if (take_row(o, t, t->r.cells, t->r.n_cells, t->r.rec_line, err)) return -1;
        prev_line = t->r.rec_line;
        prev_n = t->r.n_cells;
    }
    if (more < 0) return -1;
    if (t->n == 0) return rt_fail(err, "%s: no data rows", o->path);
    return 0;
}

static int csv_read(const csv_opts *o, int32_t *n_out, int32_t *d_out, rt_dataset *out,
                    rt_error *err)
{
    if (out) memset(out, 0, sizeof *out);
    if (o->ylen > 1)
        return rt_fail(err, "%s: CSV has at most one label value per row, the model expects %d",
                       o->path, (int)o->ylen);
    csv_table t;
    memset(&t, 0, sizeof t);
    int rc = read_table(o, &t, err);
    if (rc == 0) {
        if (n_out) *n_out = (int32_t)t.n;
        if (d_out) *d_out = (int32_t)t.d;
        if (o->info) o->info->rows = (int32_t)t.n, o->info->features = (int32_t)t.d;
        if (out) {
            out->n = (int32_t)t.n;
            out->d = (int32_t)t.d;
            out->ylen = o->ylen;
            out->x = t.x;
            out->y = t.y;
            t.x = t.y = NULL;
        }
    }
    free(t.x);
    free(t.y);
    free(t.role);
    free(t.first.cells);
    free(t.first.text);
    set_free(&t.given);
    rt_csv_close(&t.r);
    return rc;
}

static csv_opts csv_opts_of(const rt_source *src)
{
    /* probing with classes checks the labels too */
    csv_opts o = {.src = src, .path = src->path, .header = src->header, .ylen = src->classes > 0,
                  .classes = src->classes};
    return o;
}

int rt_csv_read_features(const char *path, int32_t d_expected, rt_dataset *out, rt_error *err)
{
    rt_source src = {.kind = RT_SRC_CSV, .path = path, .header = -1, .label_col = -1};
    csv_opts o = {.src = &src, .path = path, .header = -1, .d_expected = d_expected, .store = 1};
    return csv_read(&o, NULL, NULL, out, err);
}

int rt_csv_read_like(const char *path, const rt_source *like, int label_required,
                     int32_t d_expected, rt_dataset *out, rt_error *err)
{
    csv_opts o = {.src = like, .path = path, .header = -1, .d_expected = d_expected, .store = 1,
                  .like = 1, .label_required = label_required};
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

/* sorting the collected names: by value or bytewise, no state outside */
typedef struct sort_key {
    double value;
    const char *name;
    int k;
} sort_key;
static int by_value(const void *a, const void *b)
{
    double x = ((const sort_key *)a)->value, y = ((const sort_key *)b)->value;
    return (x > y) - (x < y);
}
static int by_bytes(const void *a, const void *b)
{
    return strcmp(((const sort_key *)a)->name, ((const sort_key *)b)->name);
}

/* info->names: the set's names sorted, equal numbers once */
static int sorted_names(name_set *ns, rt_csv_info *info)
{
    sort_key *key = malloc((size_t)(ns->n + 1) * sizeof *key);
    info->names = calloc((size_t)ns->n + 1, sizeof *info->names);
    if (!key || !info->names) {
        free(key);
        return -1;
    }
    for (int k = 0; k < ns->n; k++) key[k] = (sort_key){ns->values[k], ns->names[k], k};
    qsort(key, (size_t)ns->n, sizeof *key, info->labels_numeric ? by_value : by_bytes);
    for (int k = 0; k < ns->n; k++) {
        if (info->labels_numeric && info->n_names && key[k].value == key[k - 1].value) continue;
        info->names[info->n_names++] = (char *)ns->names[key[k].k];
        ns->names[key[k].k] = NULL; /* now info's */
    }
    free(key);
    return 0;
}

int rt_csv_inspect(const rt_source *src, int names, rt_csv_info *info, rt_error *err)
{
    memset(info, 0, sizeof *info);
    if (!src->path) return rt_fail(err, "csv source: no path given");
    name_set ns = {.owned = 1};
    csv_opts o = csv_opts_of(src);
    o.info = info;
    info->labels_numeric = 1;
    if (names) {
        o.collect = &ns;
        o.ylen = 1;
        o.classes = 0;
    }
    int rc = csv_read(&o, NULL, NULL, NULL, err);
    if (rc == 0 && names && sorted_names(&ns, info)) rc = rt_fail(err, "%s: out of memory", src->path);
    for (int k = 0; k < ns.n; k++) free((char *)ns.names[k]);
    ns.owned = 0;
    set_free(&ns);
    if (rc) rt_csv_info_free(info);
    return rc;
}

void rt_csv_info_free(rt_csv_info *info)
{
    for (int k = 0; k < info->n_names; k++) free(info->names[k]);
    free(info->names);
    info->names = NULL;
    info->n_names = 0;
}
