/* diff.c — trainc diff (see diff.h). Both folders are made by this trainc
 * itself (gen, as a child process), then read back: model.c in the chunks
 * explain.c finds (op blocks and the code between them), compared after
 * the spec references ("spec.lua:15") are taken out, so that a line moved
 * in the spec is no change in the code. Chunks and lines are aligned by
 * their longest common subsequence. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../runtime/rt.h"
#include "arena.h"
#include "diff.h"
#include "escape.h"
#include "explain.h"
#include "writer.h"

/* The longest common subsequence of a[0..na) and b[0..nb): match[i] is the
 * b index a[i] is paired with, or -1. Past ~4M cells nothing is paired
 * (everything shows as changed), so a huge chunk cannot exhaust memory. */
static int *lcs(arena *A, const char *const *a, int na, const char *const *b, int nb)
{
    int *match = arena_alloc(A, sizeof *match * (size_t)(na + 1));
    for (int i = 0; i < na; i++) match[i] = -1;
    if ((double)(na + 1) * (nb + 1) > 4e6) return match;
    int *t = calloc((size_t)(na + 1) * (size_t)(nb + 1), sizeof *t);
    if (!t) return match;
#define T(i, j) t[(size_t)(i) * (size_t)(nb + 1) + (size_t)(j)]
    for (int i = na - 1; i >= 0; i--)
        for (int j = nb - 1; j >= 0; j--)
            T(i, j) = !strcmp(a[i], b[j])         ? T(i + 1, j + 1) + 1
                      : T(i + 1, j) > T(i, j + 1) ? T(i + 1, j)
                                                  : T(i, j + 1);
    for (int i = 0, j = 0; i < na && j < nb;) {
        if (!strcmp(a[i], b[j]))
            match[i++] = j++;
        else if (T(i + 1, j) >= T(i, j + 1))
            i++;
        else
            j++;
    }
#undef T
    free(t);
    return match;
}

/* A chunk's text with its spec references ("KEY:15") made "spec:#", and a
 * block head that a longer spec path wrapped (its "-- KEY:15" on the next
 * line) joined again: neither a moved line nor a renamed spec is a change */
static const char *normalised(arena *A, const ex_chunk *c, const char *key)
{
    const char *out = "";
    size_t kl = strlen(key);
    for (int i = 0; i < c->n; i++) {
        const char *l = c->text[i], *p, *t = l + strspn(l, " ");
        const char *line = "";
        while ((p = strstr(l, key)) && p[kl] == ':') {
            line = arena_printf(A, "%s%.*sspec:#", line, (int)(p - l), l);
            l = p + kl + 1;
            while (*l >= '0' && *l <= '9') l++;
        }
        line = arena_printf(A, "%s%s", line, l);
        if (i > 0 && !strncmp(t, "*   -- ", 7) && *out)
            out = arena_printf(A, "%.*s  %s\n", (int)strlen(out) - 1, out,
                               line + (t - c->text[i]) + 4);
        else
            out = arena_printf(A, "%s%s\n", out, line);
    }
    return out;
}

typedef struct side {
    const char *spec_path, *key; /* as given; as model.c's comments write it */
    const char *spec;            /* the spec's bytes (spec.lua of the folder) */
    const char **spec_lines;
    int nspec;
    ex_chunk *ch;
    int nc;
    const char **norm;  /* per chunk */
    char *spec_changed; /* per spec line (from 1): not in the other spec */
} side;

static int read_side(arena *A, const char *dir, const char *spec_path, side *s)
{
    char *code = ex_slurp(arena_printf(A, "%s/model.c", dir));
    char *spec = ex_slurp(arena_printf(A, "%s/spec.lua", dir));
    if (!code || !spec) {
        fprintf(stderr, "trainc: diff: %s: cannot read what gen wrote: %s\n", dir, strerror(errno));
        free(code);
        free(spec);
        return -1;
    }
    s->spec_path = spec_path;
    s->key = esc_c_comment(A, spec_path);
    s->spec = arena_strdup(A, spec);
    s->nspec = ex_lines(A, s->spec, &s->spec_lines);
    s->nc = ex_chunks(A, arena_strdup(A, code), s->key, &s->ch);
    s->norm = arena_alloc(A, sizeof *s->norm * (size_t)(s->nc + 1));
    for (int k = 0; k < s->nc; k++) s->norm[k] = normalised(A, &s->ch[k], s->key);
    s->spec_changed = arena_alloc(A, (size_t)s->nspec + 2);
    free(code);
    free(spec);
    return 0;
}

/* The spec side by side: each line, marked when the other spec lacks it */
static void spec_panes(writer *w, arena *A, const side *a, const side *b)
{
    wr_raw(w, "<div id=\"panes\">");
    const side *s[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        wr_raw(w, arena_printf(A, "<pre class=\"spec\"><b>%s</b>\n",
                               ex_html(A, s[k]->spec_path, strlen(s[k]->spec_path))));
        for (int i = 0; i < s[k]->nspec; i++)
            wr_raw(w,
                   arena_printf(
                       A,
                       "<span id=\"%c%d\" class=\"sl%s\"><span class=\"ln\">%4d</span> %s\n</span>",
                       "ab"[k], i + 1, s[k]->spec_changed[i + 1] ? " chg" : "", i + 1,
                       ex_html(A, s[k]->spec_lines[i], strlen(s[k]->spec_lines[i]))));
        wr_raw(w, "</pre>");
    }
    wr_raw(w, "</div>\n");
}

/* Links to the spec lines a chunk names, the changed ones marked */
static const char *line_links(arena *A, const side *s, const ex_chunk *c, char which)
{
    const char *out = "";
    for (const char *p = c->lines; *p;) {
        int n = atoi(p);
        if (n > 0)
            out =
                arena_printf(A, "%s <a href=\"#%c%d\"%s>%c:%d</a>", out, which, n,
                             n <= s->nspec && s->spec_changed[n] ? " class=\"chg\"" : "", which, n);
        p += strspn(p, " ");
        p += strspn(p, "0123456789");
        p += strspn(p, " ");
    }
    return out;
}

/* One side of a changed pair: its lines, those the other side lacks marked */
static const char *chunk_lines(arena *A, const ex_chunk *c, const int *kept, const char *mark)
{
    const char *out = "";
    for (int i = 0; i < c->n; i++)
        out = arena_printf(A, "%s<span class=\"%s\">%s\n</span>", out,
                           kept && kept[i] >= 0 ? "" : mark,
                           ex_html(A, c->text[i], strlen(c->text[i])));
    return out;
}

static const char *first_line(arena *A, const ex_chunk *c)
{
    for (int i = 0; i < c->n; i++) {
        const char *t = c->text[i] + strspn(c->text[i], " ");
        if (*t) return ex_html(A, t, strlen(t));
    }
    return "(blank lines)";
}

static const char **line_norms(arena *A, const ex_chunk *c, const char *key)
{
    const char **out = arena_alloc(A, sizeof *out * (size_t)(c->n + 1));
    for (int i = 0; i < c->n; i++) {
        ex_chunk one = {0, "", "", c->text + i, 1};
        out[i] = normalised(A, &one, key);
    }
    return out;
}

/* A chunk that changed (both), went (b NULL) or came (a NULL) */
static void one_change(writer *w, arena *A, const side *sa, const ex_chunk *a, const side *sb,
                       const ex_chunk *b)
{
    const char *kind = a && b ? "changed" : a ? "removed" : "added";
    const ex_chunk *c = b ? b : a;
    int *ka = NULL, *kb = NULL;
    if (a && b) {
        const char **na = line_norms(A, a, sa->key), **nb = line_norms(A, b, sb->key);
        ka = lcs(A, na, a->n, nb, b->n);
        kb = lcs(A, nb, b->n, na, a->n);
    }
    wr_raw(w, arena_printf(
                  A,
                  "<div class=\"change %s %s%s\" data-a=\"%s\" data-b=\"%s\">"
                  "<div class=\"head\">%s %s: <code>%s</code>%s%s%s%s</div><div class=\"sides\">",
                  kind, c->section, c->block ? " blk" : "", a ? a->lines : "", b ? b->lines : "",
                  kind, c->block ? "op block" : "code", first_line(A, c),
                  a && a->block ? " — A" : "", a && a->block ? line_links(A, sa, a, 'a') : "",
                  b && b->block ? " — B" : "", b && b->block ? line_links(A, sb, b, 'b') : ""));
    wr_raw(w, arena_printf(A, "<pre>%s</pre><pre>%s</pre></div></div>\n",
                           a ? chunk_lines(A, a, ka, "del") : "",
                           b ? chunk_lines(A, b, kb, "add") : ""));
}

static const char STYLE[] =
    "body{font-family:sans-serif;margin:0 1em}#panes,.sides{display:flex;gap:1em}"
    "#panes pre,.sides pre{flex:1;overflow:auto;margin:0;border:1px solid #ccc;padding:.3em;"
    "font-size:12px}#panes pre{max-height:45vh;white-space:pre-wrap}.sl{display:block}"
    ".ln{color:#999}.chg{background:#fff3a8}.del{background:#fdd}.add{background:#dfd}"
    ":target{outline:2px solid #d94a4a}.change{margin:.6em 0;border-left:4px solid #ddd;"
    "padding-left:6px}.change.forward{border-color:#4a90d9}.change.loss{border-color:#d9a84a}"
    ".change.backward{border-color:#d94a4a}.change.update{border-color:#4ad96b}"
    ".head{font-size:13px;margin:.2em 0}a.chg{font-weight:bold}details{color:#777;font-size:12px}";

/* The page: the specs, then model.c's chunks in order, unchanged runs folded */
static char *page(arena *A, side *a, side *b, int counts[4])
{
    int *sm = lcs(A, a->spec_lines, a->nspec, b->spec_lines, b->nspec);
    char *bkept = arena_alloc(A, (size_t)b->nspec + 1);
    for (int i = 0; i < a->nspec; i++) {
        a->spec_changed[i + 1] = sm[i] < 0;
        if (sm[i] >= 0) bkept[sm[i]] = 1;
    }
    for (int j = 0; j < b->nspec; j++) b->spec_changed[j + 1] = !bkept[j];
    int *m = lcs(A, a->norm, a->nc, b->norm, b->nc);
    writer body;
    wr_init(&body);
    memset(counts, 0, 4 * sizeof *counts);
    for (int i = 0, j = 0; i < a->nc || j < b->nc;) {
        int same = 0;
        while (i < a->nc && j < b->nc && m[i] == j) same++, i++, j++;
        if (same)
            wr_raw(&body,
                   arena_printf(A, "<details><summary>%d unchanged</summary></details>\n", same));
        counts[0] += same;
        /* the run up to the next pair: the removed and the added, paired in order */
        int i1 = i, j1 = j;
        while (i1 < a->nc && m[i1] < 0) i1++;
        j1 = i1 < a->nc ? m[i1] : b->nc;
        for (int k = 0; i + k < i1 || j + k < j1; k++) {
            const ex_chunk *ca = i + k < i1 ? &a->ch[i + k] : NULL,
                           *cb = j + k < j1 ? &b->ch[j + k] : NULL;
            one_change(&body, A, a, ca, b, cb);
            counts[ca && cb ? 1 : ca ? 2 : 3]++;
        }
        i = i1, j = j1;
    }
    char *changes = wr_take(&body);
    writer w;
    wr_init(&w);
    wr_raw(&w,
           arena_printf(A,
                        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                        "<title>trainc diff</title><style>%s</style></head>\n<body>"
                        "<p id=\"summary\">trainc diff %s %s: %d changed, %d removed, %d added, "
                        "%d unchanged: model.c's op blocks and the code between them, "
                        "compared without the spec line numbers in their comments (a line moved "
                        "in the spec changes no op block)</p>\n",
                        STYLE, ex_html(A, a->spec_path, strlen(a->spec_path)),
                        ex_html(A, b->spec_path, strlen(b->spec_path)), counts[1], counts[2],
                        counts[3], counts[0]));
    spec_panes(&w, A, a, b);
    wr_raw(&w, changes);
    free(changes);
    wr_raw(&w, "</body></html>\n");
    return wr_take(&w);
}

/* gen SPEC -o DIR by this trainc itself: 0, or its exit status */
static int gen(const char *self, const char *spec, const char *dir, int dbl)
{
    char *argv[] = {(char *)self, "gen", "-q",        "--force",
                    (char *)spec, "-o",  (char *)dir, dbl ? "--dtype" : NULL,
                    "double",     NULL};
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) {
        execv(self, argv);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0) return 1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int usage_error(const char *msg)
{
    fprintf(stderr,
            "trainc: diff: %s\nusage: trainc diff A.lua B.lua [-o DIR] [--dtype double] [-q]\n",
            msg);
    return 2;
}

int diff_main(int argc, char **argv)
{
    const char *spec[2] = {NULL, NULL}, *dir = "out/diff";
    int dbl = 0, quiet = 0, n = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "-o") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--dtype") && i + 1 < argc && !strcmp(argv[i + 1], "double"))
            dbl = 1, i++;
        else if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet"))
            quiet = 1;
        else if (argv[i][0] == '-' || n == 2) {
            char msg[600];
            snprintf(msg, sizeof msg, "unexpected argument '%.500s'", argv[i]);
            return usage_error(msg);
        } else
            spec[n++] = argv[i];
    }
    if (n < 2) return usage_error("give two specs, A and B");
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) return usage_error("cannot find this program's own file (/proc/self/exe)");
    self[len] = 0;
    arena A = {0};
    side s[2];
    int rc = 0;
    if ((mkdir(dir, 0777) && errno != EEXIST)) {
        fprintf(stderr, "trainc: diff: %s: cannot create: %s\n", dir, strerror(errno));
        return 1;
    }
    for (int k = 0; k < 2 && !rc; k++) {
        const char *sub = arena_printf(&A, "%s/%c", dir, "ab"[k]);
        if ((rc = gen(self, spec[k], sub, dbl)))
            fprintf(stderr, "trainc: diff: generating %s failed (exit %d)\n", spec[k], rc);
        else if (read_side(&A, sub, spec[k], &s[k]))
            rc = 1;
    }
    if (!rc) {
        int counts[4];
        char *text = page(&A, &s[0], &s[1], counts);
        rt_error e;
        const char *path = arena_printf(&A, "%s/diff.html", dir);
        if (rt_write_atomic(path, text, strlen(text), &e)) {
            fprintf(stderr, "trainc: diff: %s\n", e.msg);
            rc = 1;
        } else if (!quiet) {
            printf("trainc: %d changed, %d removed, %d added, %d unchanged: %s\n", counts[1],
                   counts[2], counts[3], counts[0], path);
        }
        free(text);
    }
    arena_free(&A);
    return rc;
}
