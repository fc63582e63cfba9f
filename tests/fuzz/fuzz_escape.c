/* fuzz_escape — trainc's escaping (gen/escape.c): any name or path must
 * come out as text its context reads back as exactly those bytes, never as
 * code. Input: the bytes of a name (up to the first NUL).
 *
 * Checked: esc_c_string is one C string literal (trigraphs and all, as
 * -std=c11 reads it) whose value is the input; esc_c_comment never ends or
 * opens a comment, has no control byte or invalid UTF-8, and decodes back
 * to the input; so does esc_visible; esc_ninja_path is NULL exactly for a
 * control byte, else has no bare ' ', ':' or '$' and decodes back. */
#include "arena.h"
#include "escape.h"
#include "fuzz.h"

static int is_octal(int c)
{
    return c >= '0' && c <= '7';
}

/* The value of the C string literal lit as a C11 compiler reads it:
 * phase 1 (trigraphs) must change nothing, then the escapes. Writes it to
 * out (room for strlen(lit)); returns its length, or -1 if lit is not
 * one well-formed literal of printable ASCII. */
static long c_literal_value(const char *lit, char *out)
{
    size_t n = strlen(lit);
    if (n < 2 || lit[0] != '"' || lit[n - 1] != '"') return -1;
    if (strstr(lit, "??")) return -1; /* a trigraph could start here */
    long k = 0;
    for (size_t i = 1; i < n - 1; i++) {
        unsigned char c = (unsigned char)lit[i];
        if (c < 0x20 || c >= 0x7f || c == '"') return -1;
        if (c != '\\') {
            out[k++] = (char)c;
            continue;
        }
        c = (unsigned char)lit[++i];
        if (i >= n - 1) return -1; /* the closing quote escaped */
        const char *simple = strchr("\"\\?'abfnrtv", c);
        if (c && simple) {
            static const char values[] = "\"\\?'\a\b\f\n\r\t\v";
            out[k++] = values[simple - "\"\\?'abfnrtv"];
        } else if (is_octal(c)) {
            int v = 0, d = 0;
            while (d < 3 && i < n - 1 && is_octal(lit[i])) v = v * 8 + (lit[i++] - '0'), d++;
            i--;
            if (v > 255) return -1;
            out[k++] = (char)v;
        } else {
            return -1; /* \x and others: esc_c_string writes none */
        }
    }
    return k;
}

/* Decodes esc_visible's and esc_c_comment's text: \\ \n \t \xNN, and \*
 * \/ (the comment's split "* /" and "/ *"); -1 if malformed. */
static long visible_value(const char *s, char *out)
{
    long k = 0;
    for (size_t i = 0; s[i]; i++) {
        if (s[i] != '\\') {
            out[k++] = s[i];
            continue;
        }
        char c = s[++i];
        if (c == '\\' || c == '*' || c == '/')
            out[k++] = c;
        else if (c == 'n')
            out[k++] = '\n';
        else if (c == 't')
            out[k++] = '\t';
        else if (c == 'x' && s[i + 1] && s[i + 2]) {
            char hex[3] = {s[i + 1], s[i + 2], 0};
            char *end;
            long v = strtol(hex, &end, 16);
            if (*end) return -1;
            out[k++] = (char)v;
            i += 2;
        } else
            return -1;
    }
    return k;
}

/* No control byte (DEL included) and only valid UTF-8 (as esc_visible
 * keeps it) */
static int clean_text(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) return 0;
        if (*p < 0x80) continue;
        int n = *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : *p >= 0xc0 ? 2 : 0;
        if (!n) return 0;
        for (int i = 1; i < n; i++)
            if ((p[i] & 0xc0) != 0x80) return 0;
        p += n - 1;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) return 0;
    char *in = malloc(size + 1);
    memcpy(in, data, size);
    in[size] = 0;
    size_t n = strlen(in);
    char *out = malloc(4 * n + 64);
    arena A = {0};

    long k = c_literal_value(esc_c_string(&A, in), out);
    FUZZ_REQUIRE(k == (long)n && !memcmp(out, in, n), "esc_c_string: not a literal of the input");

    const char *comment = esc_c_comment(&A, in);
    FUZZ_REQUIRE(!strstr(comment, "*/") && !strstr(comment, "/*"),
                 "esc_c_comment: the text ends or opens a comment");
    FUZZ_REQUIRE(clean_text(comment), "esc_c_comment: a control byte or invalid UTF-8");
    k = visible_value(comment, out);
    FUZZ_REQUIRE(k == (long)n && !memcmp(out, in, n), "esc_c_comment: does not decode back");

    const char *shown = esc_visible(&A, in, 0);
    FUZZ_REQUIRE(clean_text(shown), "esc_visible: a control byte or invalid UTF-8");
    k = visible_value(shown, out);
    FUZZ_REQUIRE(k == (long)n && !memcmp(out, in, n), "esc_visible: does not decode back");
    FUZZ_REQUIRE(!strcmp(esc_ninja_comment(&A, in), shown), "esc_ninja_comment: not esc_visible");

    int control = 0;
    for (size_t i = 0; i < n; i++) control |= (unsigned char)in[i] < 0x20 || in[i] == 0x7f;
    const char *path = esc_ninja_path(&A, in);
    FUZZ_REQUIRE((path == NULL) == control, "esc_ninja_path: NULL is for control bytes only");
    if (path) {
        k = 0;
        for (size_t i = 0; path[i]; i++) {
            if (path[i] == '$') {
                i++;
                FUZZ_REQUIRE(path[i] == '$' || path[i] == ' ' || path[i] == ':',
                             "esc_ninja_path: a bad $ escape");
            } else {
                FUZZ_REQUIRE(path[i] != ' ' && path[i] != ':', "esc_ninja_path: a bare ' ' or ':'");
            }
            out[k++] = path[i];
        }
        FUZZ_REQUIRE(k == (long)n && !memcmp(out, in, n), "esc_ninja_path: does not decode back");
    }
    arena_free(&A);
    free(out);
    free(in);
    return 0;
}
