/* writer.c — the indenting text writer and the template filler. */
#include "writer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wr_init(writer *w)
{
    memset(w, 0, sizeof *w);
}

void wr_free(writer *w)
{
    free(w->buf);
    memset(w, 0, sizeof *w);
}

static void put(writer *w, const char *s, size_t n)
{
    if (w->len + n + 1 > w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 4096;
        while (cap < w->len + n + 1) cap *= 2;
        char *buf = realloc(w->buf, cap);
        if (!buf) {
            fputs("trainc: out of memory\n", stderr);
            abort();
        }
        w->buf = buf;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = 0;
}

void wr_raw(writer *w, const char *s)
{
    put(w, s, strlen(s));
}

void wr_commented(writer *w, int indent, const char *code, const char *comment)
{
    if ((size_t)indent + strlen(code) + 1 + strlen(comment) <= 100)
        wr_line(w, "%s %s", code, comment);
    else
        wr_line(w, "%s\n%s", comment, code);
}

void wr_blank(writer *w)
{
    put(w, "\n", 1);
}

void wr_line(writer *w, const char *fmt, ...)
{
    char stack[1024], *line = stack;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(stack, sizeof stack, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof stack) {
        line = malloc((size_t)n + 1);
        if (!line) abort();
        va_start(ap, fmt);
        vsnprintf(line, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    if (line[0] == '}' && w->indent > 0) w->indent--;
    for (int i = 0; i < w->indent; i++) put(w, "    ", 4);
    put(w, line, (size_t)n);
    put(w, "\n", 1);
    if (n > 0 && line[n - 1] == '{') w->indent++;
    if (line != stack) free(line);
}

char *wr_take(writer *w)
{
    char *s = w->buf ? w->buf : calloc(1, 1);
    memset(w, 0, sizeof *w);
    return s;
}

char *tpl_fill(const char *text, const tpl_var *vars, int nvars, const char **missing)
{
    writer w;
    wr_init(&w);
    const char *p = text;
    for (;;) {
        const char *open = strstr(p, "{{");
        if (!open) break;
        const char *close = strstr(open + 2, "}}");
        if (!close) break;
        put(&w, p, (size_t)(open - p));
        size_t klen = (size_t)(close - open - 2);
        const char *value = NULL;
        for (int i = 0; i < nvars; i++)
            if (strlen(vars[i].key) == klen && !strncmp(vars[i].key, open + 2, klen)) {
                value = vars[i].value;
                break;
            }
        if (!value) {
            static char name[64];
            snprintf(name, sizeof name, "%.*s", (int)klen, open + 2);
            *missing = name;
            wr_free(&w);
            return NULL;
        }
        wr_raw(&w, value);
        p = close + 2;
    }
    wr_raw(&w, p);
    return wr_take(&w);
}
