/* escape.c — strings from a spec or a path made safe for the generated
 * file or message they reach (see escape.h): C string literals, C
 * comments, ninja comments and paths, terminal messages. */
#include "escape.h"

#include <stdio.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (no overlong form, surrogate or
 * code point past U+10FFFF) with its code point in *cp; 0 if invalid. */
static int utf8_len(const unsigned char *s, unsigned *cp)
{
    int n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
    if (n == 0 || s[0] > 0xf4) return 0;
    unsigned c = s[0] & (0x7f >> n);
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        c = c << 6 | (s[i] & 0x3f);
    }
    static const unsigned least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < least[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
    *cp = c;
    return n;
}

/* Code points that display otherwise than they read: C1 controls, zero
 * widths and direction marks ("Trojan Source"), line separators, BOM. */
static int invisible(unsigned c)
{
    return (c >= 0x80 && c <= 0x9f) || c == 0x061c || (c >= 0x200b && c <= 0x200f) ||
           (c >= 0x2028 && c <= 0x202e) || (c >= 0x2060 && c <= 0x206f) || c == 0xfeff;
}

/* Appends s's bytes to out as esc_visible shows them; returns the end.
 * comment: also splits the "* /" and "/ *" of C comments. out has room for
 * 4 bytes per byte of s. */
static char *visible(char *out, const char *s, size_t n, int comment)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    char *o = out;
    while (p < end) {
        unsigned c = *p, cp;
        int len;
        if (c == '\\') {
            o += sprintf(o, "\\\\");
        } else if (c == '\n') {
            o += sprintf(o, "\\n");
        } else if (c == '\t') {
            o += sprintf(o, "\\t");
        } else if (c < 0x20 || c == 0x7f) {
            o += sprintf(o, "\\x%02x", c);
        } else if (c < 0x80) {
            if (comment && o > out && ((c == '/' && o[-1] == '*') || (c == '*' && o[-1] == '/')))
                *o++ = '\\';
            *o++ = (char)c;
        } else if ((len = utf8_len(p, &cp)) > 0 && p + len <= end && !invisible(cp)) {
            memcpy(o, p, (size_t)len);
            o += len;
            p += len;
            continue;
        } else {
            o += sprintf(o, "\\x%02x", c);
        }
        p++;
    }
    *o = 0;
    return o;
}

const char *esc_c_string(arena *A, const char *s)
{
    if (!s) return "NULL";
    char *out = arena_alloc(A, 4 * strlen(s) + 3), *o = out;
    *o++ = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\' || *p == '?') {
            *o++ = '\\';
            *o++ = (char)*p;
        } else if (*p == '\n') {
            o += sprintf(o, "\\n");
        } else if (*p < 0x20 || *p >= 0x7f) {
            /* octal: always 3 digits, so a digit after it cannot extend it
             * (a \x escape would swallow every hex digit that follows) */
            o += sprintf(o, "\\%03o", *p);
        } else {
            *o++ = (char)*p;
        }
    }
    *o++ = '"';
    *o = 0;
    return out;
}

const char *esc_c_comment(arena *A, const char *s)
{
    size_t n = strlen(s);
    /* "*\/" takes 3 bytes for 2: within the 4 per byte */
    char *out = arena_alloc(A, 4 * n + 1);
    visible(out, s, n, 1);
    return out;
}

const char *esc_ninja_comment(arena *A, const char *s)
{
    return esc_visible(A, s, 0);
}

const char *esc_ninja_path(arena *A, const char *s)
{
    char *out = arena_alloc(A, 2 * strlen(s) + 1), *o = out;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) return NULL;
        if (*p == '$' || *p == ' ' || *p == ':') *o++ = '$';
        *o++ = (char)*p;
    }
    *o = 0;
    return out;
}

const char *esc_visible(arena *A, const char *s, size_t max)
{
    size_t n = strlen(s), shown = max && n > max ? max : n;
    char *out = arena_alloc(A, 4 * shown + 48);
    char *o = visible(out, s, shown, 0);
    if (shown < n) sprintf(o, "... (%zu bytes)", n);
    return out;
}
