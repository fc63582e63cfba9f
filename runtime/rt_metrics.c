/* rt_metrics.c — the metrics CSV: opening it for the rows of a run (a
 * resumed run keeps the rows its checkpoint holds) and reading it back by
 * column names (the curves picture, `trainc plot`). Both read a file through
 * one reader: its text whole, then line by line. */
#include "rt.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define METRICS_MAX_BYTES (256L << 20)
#define METRICS_MAX_COLS 256

/* ---- the reader: a file's text, then its lines ---- */

enum { TEXT_OK, TEXT_TOO_LARGE, TEXT_READ_ERROR };

/* All of f into *text, NUL-terminated; limit: bytes at most (0: any) */
static int read_text(FILE *f, size_t limit, char **text, size_t *len)
{
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (cap - n < 4096) {
            cap = cap ? cap * 2 : 1 << 16;
            char *nb = limit && cap > limit + 4096 ? NULL : realloc(buf, cap + 1);
            if (!nb) {
                free(buf);
                return TEXT_TOO_LARGE;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        free(buf);
        return TEXT_READ_ERROR;
    }
    buf[n] = 0;
    *text = buf;
    *len = n;
    return TEXT_OK;
}

typedef struct lines {
    char *next, *end;
    long lineno;
} lines;

/* The next line, its '\n' replaced by a NUL (*ended: it had one); NULL at
 * the end of the text. */
static char *next_line(lines *l, size_t *len, int *ended)
{
    if (l->next >= l->end) return NULL;
    char *line = l->next;
    char *nl = memchr(line, '\n', (size_t)(l->end - line));
    *ended = nl != NULL;
    if (nl) *nl = 0;
    *len = (size_t)((nl ? nl : l->end) - line);
    l->next = nl ? nl + 1 : l->end;
    l->lineno++;
    return line;
}

/* ---- the rows of a run ---- */

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
    char *text;
    size_t n;
    int rc = read_text(f, 0, &text, &n);
    fclose(f);
    if (rc != TEXT_OK) return 0;
    FILE *out = open_memstream(kept, len);
    if (!out) {
        free(text);
        return 0;
    }
    lines l = {text, text + n, 0};
    int ours = 0, ended;
    size_t ll;
    for (char *line; (line = next_line(&l, &ll, &ended));) {
        if (l.lineno == 1) {
            ours = ended && ll == strlen(header) && !memcmp(line, header, ll);
            if (!ours) break;
        } else {
            /* a torn last row, or one after the checkpoint, is dropped */
            double key = csv_column(line, key_col);
            if (!ended || !(key <= (double)keep_through)) continue;
            const char *last = strrchr(line, ',');
            if (last) *seconds = strtod(last + 1, NULL);
        }
        fwrite(line, 1, ll, out);
        fputc('\n', out);
    }
    free(text);
    fclose(out);
    return ours;
}

FILE *rt_metrics_open(const char *path, const char *header, int key_col, long long keep_through,
                      double *seconds, int *afresh, rt_error *err)
{
    *seconds = 0;
    *afresh = 0;
    char *kept = NULL;
    size_t len = 0;
    int ours = 0;
    if (keep_through >= 0) {
        struct stat st;
        int exists = !stat(path, &st);
        ours = metrics_kept_rows(path, header, key_col, keep_through, &kept, &len, seconds);
        *afresh = exists && !ours && S_ISREG(st.st_mode);
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

/* ---- reading it back ---- */

static char *read_all(const char *path, size_t *len, rt_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        rt_fail(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    /* a folder, or a pipe the trainer itself writes (--metrics /dev/stdout),
     * would fail or never end */
    struct stat st;
    if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
        fclose(f);
        rt_fail(err, "%s: not a regular file", path);
        return NULL;
    }
    char *text = NULL;
    int rc = read_text(f, (size_t)METRICS_MAX_BYTES, &text, len);
    fclose(f);
    if (rc == TEXT_TOO_LARGE)
        rt_fail(err, "%s: too large for a metrics file (or out of memory)", path);
    else if (rc == TEXT_READ_ERROR)
        rt_fail(err, "%s: cannot read", path);
    return text;
}

static int blank_line(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t') return 0;
    return 1;
}

/* Splits line at commas in place; cells are trimmed of spaces. */
static int split_cells(char *line, char **cells, int max)
{
    int n = 0;
    for (char *p = line;;) {
        char *end = strchr(p, ',');
        if (end) *end = 0;
        while (*p == ' ' || *p == '\t') p++;
        char *q = p + strlen(p);
        while (q > p && (q[-1] == ' ' || q[-1] == '\t')) *--q = 0;
        if (n < max) cells[n] = p;
        n++;
        if (!end) break;
        p = end + 1;
    }
    return n;
}

void rt_metrics_free(rt_metrics *m)
{
    if (m->names)
        for (int c = 0; c < m->cols; c++) free(m->names[c]);
    free(m->names);
    free(m->v);
    memset(m, 0, sizeof *m);
}

/* The header's names, and the x axis: epoch (--metrics: epoch,step,...) or
 * step (--step-metrics: step,epoch,...), whichever comes first. */
static int read_header(rt_metrics *m, char **cells, int n, const char *path, long lineno,
                       rt_error *err)
{
    m->cols = n;
    m->names = calloc((size_t)n, sizeof *m->names);
    if (!m->names) return rt_fail(err, "%s: out of memory", path);
    for (int c = 0; c < n; c++)
        if (!(m->names[c] = strdup(cells[c]))) return rt_fail(err, "%s: out of memory", path);
    int e = rt_metrics_column(m, "epoch"), s = rt_metrics_column(m, "step");
    m->x_col = e >= 0 && (s < 0 || e < s) ? e : s;
    if (m->x_col < 0) {
        char list[300];
        size_t k = 0;
        list[0] = 0;
        for (int c = 0; c < n && k + 1 < sizeof list; c++)
            k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", c ? "," : "", m->names[c]);
        return rt_fail(err,
                       "%s:%ld: no 'epoch' or 'step' column in the header (it has: %s); the "
                       "curves need one of them, and loss, accuracy or lr",
                       path, lineno, list);
    }
    m->x_name = m->x_col == e ? "epoch" : "step";
    return 0;
}

int rt_metrics_read(const char *path, rt_metrics *m, rt_error *err)
{
    memset(m, 0, sizeof *m);
    size_t len;
    char *text = read_all(path, &len, err);
    if (!text) return -1;
    if (memchr(text, 0, len)) {
        free(text);
        return rt_fail(err, "%s: not a text file (it holds a NUL byte)", path);
    }
    char *cells[METRICS_MAX_COLS];
    size_t cap_rows = 0;
    int rc = -1;
    lines l = {text, text + len, 0};
    if (!strncmp(l.next, "\xef\xbb\xbf", 3)) l.next += 3; /* a UTF-8 byte order mark */
    size_t ll;
    int ended;
    for (char *line; (line = next_line(&l, &ll, &ended));) {
        long lineno = l.lineno;
        if (ll && line[ll - 1] == '\r') line[--ll] = 0;
        if (blank_line(line) || line[0] == '#') continue; /* blank lines and comments */
        int n = split_cells(line, cells, METRICS_MAX_COLS);
        if (n > METRICS_MAX_COLS) {
            rt_fail(err, "%s:%ld: %d columns, more than the %d a metrics file may have", path,
                    lineno, n, METRICS_MAX_COLS);
            goto fail;
        }
        if (!m->names) { /* the header */
            if (read_header(m, cells, n, path, lineno, err)) goto fail;
            continue;
        }
        if (n != m->cols) {
            rt_fail(err, "%s:%ld: %d values, but the header has %d columns", path, lineno, n,
                    m->cols);
            goto fail;
        }
        if ((size_t)m->rows == cap_rows) {
            cap_rows = cap_rows ? cap_rows * 2 : 64;
            double *nv = realloc(m->v, cap_rows * (size_t)m->cols * sizeof *nv);
            if (!nv) goto oom;
            m->v = nv;
        }
        double *row = m->v + (size_t)m->rows * (size_t)m->cols;
        for (int c = 0; c < n; c++) {
            char *end;
            if (!cells[c][0]) { /* an empty cell: no value (a gap in the curve) */
                row[c] = NAN;
                continue;
            }
            row[c] = strtod(cells[c], &end); /* nan, inf and overflows are gaps */
            if (end == cells[c] || *end) {
                rt_fail(err, "%s:%ld: column '%s': '%.40s' is not a number", path, lineno,
                        m->names[c], cells[c]);
                goto fail;
            }
        }
        if (!isfinite(row[m->x_col])) {
            rt_fail(err, "%s:%ld: the %s is '%s', not a finite number", path, lineno, m->x_name,
                    cells[m->x_col]);
            goto fail;
        }
        m->rows++;
    }
    if (!m->names) {
        rt_fail(err, "%s: empty: no header line (expected columns such as epoch,loss,lr)", path);
        goto fail;
    }
    if (m->rows == 0) {
        rt_fail(err, "%s: a header but no rows: no %s was recorded", path, m->x_name);
        goto fail;
    }
    rc = 0;
    goto done;
oom:
    rt_fail(err, "%s: out of memory", path);
fail:
    rt_metrics_free(m);
done:
    free(text);
    return rc;
}

int rt_metrics_column(const rt_metrics *m, const char *name)
{
    for (int c = 0; c < m->cols; c++)
        if (!strcmp(m->names[c], name)) return c;
    return -1;
}
