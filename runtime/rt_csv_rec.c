/* rt_csv_rec.c — CSV records as RFC 4180 writes them: cells in double quotes
 * may hold the delimiter, line ends and doubled quotes; the delimiter is
 * given or detected from the first lines. Cells only: what they mean (numbers,
 * labels, which columns) is rt_csv.c's.
 *
 * Hand-written rather than libcsv (Debian's libcsv3): the runtime is copied
 * into every trainer, which must build with a C compiler, OpenBLAS and zlib
 * alone, and link statically. */
#include "rt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define READ_AHEAD 65536
/* lines the delimiter is detected from */
#define DETECT_LINES 20

const char *rt_csv_sep_name(char sep)
{
    static char name[8];
    if (sep == '\t') return "tab";
    snprintf(name, sizeof name, "'%c'", sep);
    return name;
}

static int fill(rt_csv_reader *r)
{
    if (r->pos < r->end) memmove(r->buf, r->buf + r->pos, r->end - r->pos);
    r->end -= r->pos;
    r->pos = 0;
    while (!r->eof && r->end < READ_AHEAD) {
        size_t got = fread(r->buf + r->end, 1, READ_AHEAD - r->end, r->f);
        r->end += got;
        if (got == 0) r->eof = 1;
    }
    return ferror(r->f) ? -1 : 0;
}

static int next_char(rt_csv_reader *r)
{
    if (r->pos == r->end) {
        if (r->eof) return EOF;
        fill(r);
        if (r->pos == r->end) return EOF;
    }
    return r->buf[r->pos++];
}

static int peek_char(rt_csv_reader *r)
{
    if (r->pos == r->end) {
        if (r->eof) return EOF;
        fill(r);
        if (r->pos == r->end) return EOF;
    }
    return r->buf[r->pos];
}

/* The delimiter of the first lines in buf[0..len): see rt.h. */
static char detect_sep(const unsigned char *buf, size_t len, int whole)
{
    static const char cand[3] = {';', ',', '\t'};
    long count[3] = {0}, first[3] = {-1, -1, -1};
    int same[3] = {1, 1, 1}, lines = 0, quoted = 0, blank = 1;
    for (size_t i = 0; i <= len && lines < DETECT_LINES; i++) {
        int end = i == len, c = end ? '\n' : buf[i];
        if (end && !whole && lines > 0) break; /* a line cut by the read-ahead */
        if (c == '"') quoted = !quoted;
        if (quoted && !end) continue;
        if (c != '\n') {
            for (int k = 0; k < 3; k++) count[k] += c == cand[k];
            if (c != ' ' && c != '\t' && c != '\r') blank = 0;
            continue;
        }
        if (!blank) {
            for (int k = 0; k < 3; k++) {
                if (first[k] < 0) first[k] = count[k];
                same[k] &= count[k] == first[k];
            }
            lines++;
        }
        memset(count, 0, sizeof count);
        blank = 1;
        quoted = 0;
    }
    int best = -1;
    for (int k = 0; k < 3; k++)
        if (same[k] && first[k] > 0 && (best < 0 || first[k] > first[best])) best = k;
    if (best < 0) /* no count the same on every line: the most on the first */
        for (int k = 0; k < 3; k++)
            if (first[k] > 0 && (best < 0 || first[k] > first[best])) best = k;
    return best < 0 ? ',' : cand[best];
}

int rt_csv_open(rt_csv_reader *r, const char *path, char sep, rt_error *err)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    r->f = fopen(path, "rb");
    if (!r->f) return rt_fail(err, "%s: cannot open: %s", path, strerror(errno));
    r->buf = malloc(READ_AHEAD);
    if (!r->buf) {
        rt_csv_close(r);
        return rt_fail(err, "%s: out of memory", path);
    }
    if (fill(r)) {
        rt_fail(err, "%s: read error: %s", path, strerror(errno));
        rt_csv_close(r);
        return -1;
    }
    if (r->end >= 3 && !memcmp(r->buf, "\xEF\xBB\xBF", 3))
        r->pos = 3; /* UTF-8 byte order mark from spreadsheet exports */
    r->sep = sep ? sep : detect_sep(r->buf + r->pos, r->end - r->pos, r->eof);
    return 0;
}

void rt_csv_close(rt_csv_reader *r)
{
    if (r->f) fclose(r->f);
    free(r->buf);
    free(r->text);
    free(r->cells);
    free(r->offs);
    memset(r, 0, sizeof *r);
}

static int put(rt_csv_reader *r, char c)
{
    if (r->text_len == r->text_cap) {
        size_t cap = r->text_cap ? r->text_cap * 2 : 256;
        char *t = realloc(r->text, cap);
        if (!t) return -1;
        r->text = t;
        r->text_cap = cap;
    }
    r->text[r->text_len++] = c;
    return 0;
}

/* Starts a cell at the text's end. */
static int new_cell(rt_csv_reader *r)
{
    if (r->n_cells == r->cells_cap) {
        int64_t cap = r->cells_cap ? r->cells_cap * 2 : 64;
        rt_csv_cell *c = realloc(r->cells, (size_t)cap * sizeof *c);
        if (c) r->cells = c;
        size_t *o = realloc(r->offs, (size_t)cap * sizeof *o);
        if (o) r->offs = o;
        if (!c || !o) return -1;
        r->cells_cap = cap;
    }
    r->offs[r->n_cells] = r->text_len;
    r->cells[r->n_cells].quoted = 0;
    r->n_cells++;
    return 0;
}

static int is_blank(const rt_csv_reader *r, int c)
{
    return c != r->sep && (c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f');
}

/* The quoted part of a cell, after its opening quote; returns the character
 * after the closing quote, or -2 with err set. */
static int quoted_cell(rt_csv_reader *r, rt_error *err)
{
    long opened = r->line + 1;
    r->cells[r->n_cells - 1].quoted = 1;
    for (;;) {
        int c = next_char(r);
        if (c == EOF) {
            rt_fail(err, "%s: line %ld: the quoted cell that starts here is not closed", r->path,
                    opened);
            return -2;
        }
        if (c == '"') {
            if (peek_char(r) != '"') break;
            next_char(r);
        }
        if (c == '\0') {
            rt_fail(err, "%s: line %ld: contains a NUL byte", r->path, r->line + 1);
            return -2;
        }
        if (c == '\n') r->line++;
        if (put(r, (char)c)) return -3;
    }
    int c = next_char(r);
    while (is_blank(r, c) && c != '\r') c = next_char(r);
    if (c != r->sep && c != '\n' && c != '\r' && c != EOF) {
        rt_fail(err, "%s: line %ld: column %lld: text after the closing quote (a quote inside a "
                     "quoted cell is written \"\")",
                r->path, r->line + 1, (long long)r->n_cells);
        return -2;
    }
    return c;
}

/* One record; 1, 0 at the end of the file, -1 with err set. */
static int record(rt_csv_reader *r, rt_error *err)
{
    r->n_cells = 0;
    r->text_len = 0;
    r->rec_line = r->line + 1;
    int c = next_char(r);
    if (c == EOF) return 0;
    for (;;) {
        if (new_cell(r)) goto oom;
        while (is_blank(r, c)) c = next_char(r);
        if (c == '"') {
            c = quoted_cell(r, err);
            if (c == -2) return -1;
            if (c == -3) goto oom;
        } else {
            while (c != r->sep && c != '\n' && c != EOF) {
                if (c == '\0')
                    return rt_fail(err, "%s: line %ld: contains a NUL byte", r->path, r->line + 1);
                if (put(r, (char)c)) goto oom;
                c = next_char(r);
            }
            size_t start = r->offs[r->n_cells - 1];
            while (r->text_len > start && is_blank(r, r->text[r->text_len - 1])) r->text_len--;
        }
        if (c == '\r') { /* CRLF, or an old Mac line end */
            if (peek_char(r) == '\n') next_char(r);
            c = '\n';
        }
        if (put(r, '\0')) goto oom;
        if (c != r->sep) break;
        c = next_char(r);
    }
    if (c == '\n') r->line++;
    for (int64_t i = 0; i < r->n_cells; i++) {
        r->cells[i].s = r->text + r->offs[i];
        r->cells[i].len = strlen(r->cells[i].s);
    }
    return 1;
oom:
    return rt_fail(err, "%s: line %ld: out of memory", r->path, r->line + 1);
}

int rt_csv_next(rt_csv_reader *r, rt_error *err)
{
    for (;;) {
        int rc = record(r, err);
        if (rc <= 0) {
            if (rc == 0 && ferror(r->f))
                return rt_fail(err, "%s: read error: %s", r->path, strerror(errno));
            return rc;
        }
        /* blank lines (e.g. trailing) are skipped */
        if (r->n_cells == 1 && !r->cells[0].quoted && r->cells[0].len == 0) continue;
        return 1;
    }
}
