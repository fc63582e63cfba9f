/* about.c — the block of bytes that says what a trainer was made from (see
 * about.h). Its layout, text lines then the spec's bytes:
 *
 *   TRAINC-SPEC 1
 *   version <n>:<n bytes>
 *   path <n>:<n bytes>
 *   hash <16 hex digits>
 *   dtype float|double
 *   fuse 0|1
 *   hvp 0|1
 *   set <n>:<n bytes>          (one per --set, in order)
 *   spec <n>
 *   <n bytes: the spec>
 *
 * Strings carry their length, so a path or a --set value may hold any
 * byte; the hash is checked on reading, so a cut or altered block is never
 * generated from. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "about.h"

static const char MARK[] = "TRAINC-SPEC 1\n";

void about_hash(const char *text, size_t len, const char *const *sets, int nsets, char out[17])
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) h = (h ^ (uint64_t)(unsigned char)text[i]) * 1099511628211ull;
    for (int i = 0; i < nsets; i++)
        for (const char *s = sets[i];; s++) {
            h = (h ^ (uint64_t)(unsigned char)*s) * 1099511628211ull;
            if (!*s) break;
        }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

const char *about_header(arena *A, const about *a)
{
    char *h = arena_printf(A, "%sversion %zu:%s\npath %zu:%s\nhash %s\ndtype %s\nfuse %d\nhvp %d\n",
                           MARK, strlen(a->version), a->version, strlen(a->path), a->path, a->hash,
                           a->dbl ? "double" : "float", a->fuse, a->hvp);
    for (int i = 0; i < a->nsets; i++)
        h = arena_printf(A, "%sset %zu:%s\n", h, strlen(a->sets[i]), a->sets[i]);
    return arena_printf(A, "%sspec %zu\n", h, a->len);
}

const char *about_c_bytes(arena *A, const about *a, long *count, long *spec_at)
{
    const char *h = about_header(A, a);
    size_t hl = strlen(h), n = hl + a->len;
    char *out = arena_alloc(A, n * 5 + n / 16 * 6 + 8), *w = out;
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)(i < hl ? h[i] : a->text[i - hl]);
        w += sprintf(w, "%s%u,", i % 16 ? " " : i ? "\n    " : "    ", b);
    }
    *w = 0;
    *count = (long)n;
    *spec_at = (long)hl;
    return out;
}

/* A reader over the block: each field checks that it fits in the file */
typedef struct cursor {
    const char *at, *end;
} cursor;

static int word(cursor *c, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(c->end - c->at) < n + 1 || memcmp(c->at, w, n) || c->at[n] != ' ') return -1;
    c->at += n + 1;
    return 0;
}

static int number(cursor *c, char stop, size_t *v)
{
    *v = 0;
    const char *start = c->at;
    while (c->at < c->end && *c->at >= '0' && *c->at <= '9' && c->at - start < 12)
        *v = *v * 10 + (size_t)(*c->at++ - '0');
    if (c->at == start || c->at >= c->end || *c->at != stop) return -1;
    /* the way about_header writes it: no leading zero (fuzz_about: "spec 03"
     * read as 3 was a block that is not the one about_header writes) */
    if (*start == '0' && c->at - start > 1) return -1;
    c->at++;
    return 0;
}

/* "NAME <n>:<n bytes>\n" as a string of the arena */
static const char *string(arena *A, cursor *c, const char *name)
{
    size_t n;
    if (word(c, name) || number(c, ':', &n) || (size_t)(c->end - c->at) < n + 1 || c->at[n] != '\n')
        return NULL;
    char *s = arena_alloc(A, n + 1);
    memcpy(s, c->at, n);
    s[n] = 0;
    c->at += n + 1;
    return memchr(s, 0, n) ? NULL : s;
}

/* "NAME <digit>\n" */
static int flag(cursor *c, const char *name, int *v)
{
    size_t n;
    if (word(c, name) || number(c, '\n', &n) || n > 1) return -1;
    *v = (int)n;
    return 0;
}

static int parse(arena *A, cursor *c, about *a)
{
    c->at += strlen(MARK);
    if (!(a->version = string(A, c, "version")) || !(a->path = string(A, c, "path"))) return -1;
    if (word(c, "hash") || c->end - c->at < 17 || c->at[16] != '\n') return -1;
    memcpy(a->hash, c->at, 16);
    a->hash[16] = 0;
    c->at += 17;
    if (word(c, "dtype")) return -1;
    if (c->end - c->at >= 6 && !memcmp(c->at, "float\n", 6))
        a->dbl = 0, c->at += 6;
    else if (c->end - c->at >= 7 && !memcmp(c->at, "double\n", 7))
        a->dbl = 1, c->at += 7;
    else
        return -1;
    if (flag(c, "fuse", &a->fuse) || flag(c, "hvp", &a->hvp)) return -1;
    for (a->nsets = 0; c->end - c->at > 4 && !memcmp(c->at, "set ", 4); a->nsets++)
        if (a->nsets == ABOUT_MAX_SETS || !(a->sets[a->nsets] = string(A, c, "set"))) return -1;
    if (word(c, "spec") || number(c, '\n', &a->len) || (size_t)(c->end - c->at) < a->len)
        return -1;
    a->text = c->at;
    return 0;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0, got;
    char *s = malloc(cap);
    while (s && (got = fread(s + n, 1, cap - n, f)) > 0)
        if ((n += got) == cap) {
            char *t = realloc(s, cap *= 2);
            if (!t) free(s);
            s = t;
        }
    int bad = ferror(f);
    fclose(f);
    if (bad || !s) {
        free(s);
        if (!bad) errno = ENOMEM;
        return NULL;
    }
    *len = n;
    return s;
}

int about_spec_file(arena *A, const char *path, about *a, char *err, size_t errsize)
{
    memset(a, 0, sizeof *a);
    size_t n;
    char *bytes = read_all(path, &n);
    if (!bytes) {
        snprintf(err, errsize, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char *text = arena_alloc(A, n + 1);
    memcpy(text, bytes, n);
    free(bytes);
    a->path = path, a->text = text, a->len = n;
    return 0;
}

int about_read(arena *A, const char *binary, about *a, char *err, size_t errsize)
{
    size_t n;
    char *bytes = read_all(binary, &n);
    if (!bytes) {
        snprintf(err, errsize, "%s: cannot read: %s", binary, strerror(errno));
        return -1;
    }
    /* the first block that reads whole and whose hash holds */
    const char *found = NULL, *end = bytes + n;
    for (const char *p = bytes; (p = memchr(p, 'T', (size_t)(end - p))) != NULL; p++) {
        if ((size_t)(end - p) < strlen(MARK) || memcmp(p, MARK, strlen(MARK))) continue;
        found = p;
        cursor c = {p, end};
        memset(a, 0, sizeof *a);
        if (parse(A, &c, a)) continue;
        char hash[17];
        about_hash(a->text, a->len, a->sets, a->nsets, hash);
        if (strcmp(hash, a->hash)) continue;
        char *text = arena_alloc(A, a->len + 1); /* the file's bytes are freed below */
        memcpy(text, a->text, a->len);
        text[a->len] = 0;
        a->text = text;
        free(bytes);
        return 0;
    }
    free(bytes);
    snprintf(err, errsize,
             found ? "%s: the spec inside it is cut short or altered (its hash does not match): "
                     "generate from the spec file instead"
                   : "%s: no spec inside it: not a trainer trainc built, or one built before "
                     "trainers carried their spec",
             binary);
    return -1;
}
