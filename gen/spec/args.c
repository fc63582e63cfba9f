/* spec/args.c — reading what a spec passes: the spec position of the line
 * running now and the errors that name it (file:line), option tables read
 * by key (numbers, whole numbers in a range, booleans, strings), unknown
 * keys refused with the closest known one as a suggestion, layer names and
 * shapes. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "spec_int.h"
#include "../escape.h"

/* ---- positions and errors ---- */

/* The global name of the function of frame ar (a layer's function, called
 * from C, has no name in the frame), or NULL */
static const char *global_name(lua_State *L, lua_Debug *ar)
{
    const char *name = NULL;
    lua_getinfo(L, "f", ar);
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    for (lua_pushnil(L); !name && lua_next(L, -2); lua_pop(L, 1))
        if (lua_type(L, -2) == LUA_TSTRING && lua_rawequal(L, -1, -4)) name = lua_tostring(L, -2);
    lua_pop(L, name ? 3 : 2); /* the function, the globals and, when found, the key */
    return name;
}

/* The innermost frame that is spec code (C DSL functions have no line;
 * prelude functions are passed through, the innermost one kept in *via
 * when via is not NULL). */
static void where(lua_State *L, const char **file, int *line, const char **via)
{
    lua_Debug ar;
    *file = spec_state_of(L)->path;
    *line = 0;
    if (via) *via = NULL;
    for (int level = 0; lua_getstack(L, level, &ar); level++) {
        lua_getinfo(L, "Sln", &ar);
        if (ar.currentline <= 0) continue;
        if (!strcmp(ar.source, SPEC_PRELUDE_CHUNK)) {
            if (via && !*via) {
                const char *name = ar.name ? ar.name : global_name(L, &ar);
                *via = arena_printf(spec_state_of(L)->g->A, "%s%s%s:%d", name ? name : "",
                                    name ? " at " : "", SPEC_PRELUDE_NAME, ar.currentline);
            }
            continue;
        }
        *line = ar.currentline;
        return;
    }
}

void spec_where(lua_State *L, const char **file, int *line)
{
    where(L, file, line, NULL);
}

void spec_where_via(lua_State *L, const char **file, int *line, const char **via)
{
    where(L, file, line, via);
}

int spec_error(lua_State *L, const char *fmt, ...)
{
    const char *file;
    int line;
    spec_where(L, &file, &line);
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lua_pushfstring(L, "%s:%d: %s", file, line, msg);
    return lua_error(L);
}

/* An error at the spec's line LINE (0: none) rather than the line running
 * now: for the settings read once the spec has run. */
void spec_setting_error(lua_State *L, int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0)
        lua_pushfstring(L, "%s:%d: %s", spec_state_of(L)->path, line, msg);
    else
        lua_pushfstring(L, "%s: %s", spec_state_of(L)->path, msg);
    lua_error(L);
}

/* ---- reading options from tables ---- */

double spec_opt_number(lua_State *L, int t, const char *key, double dflt)
{
    if (lua_type(L, t) != LUA_TTABLE) return dflt;
    lua_getfield(L, t, key);
    double v = dflt;
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TNUMBER) {
            lua_pop(L, 1);
            return spec_error(L, "option '%s' must be a number", key);
        }
        v = lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

/* t[key] (t an absolute index) where a count goes: a whole number in
 * [lo, hi], or dflt when absent (dflt may lie outside, meaning "none").
 * Anything else is an error naming WHAT, the key, the value and the range, at
 * the line running now (line < 0) or at the spec's line LINE (settings read
 * after the spec ran). Spec numbers are doubles: one outside an int's range
 * must be refused before it becomes one. */
double spec_opt_whole(lua_State *L, int t, int line, const char *what, const char *key, double dflt,
                      double lo, double hi)
{
    if (lua_type(L, t) != LUA_TTABLE) return dflt;
    int absent = lua_getfield(L, t, key) == LUA_TNIL;
    lua_pop(L, 1);
    if (absent) return dflt;
    double v = spec_opt_number(L, t, key, dflt);
    if (v >= lo && v <= hi && v == floor(v)) return v;
    int e;
    char top[32], msg[256];
    if (frexp(hi, &e) == 0.5 && e > 20) /* 2^20 and up as powers */
        snprintf(top, sizeof top, "2^%d", e - 1);
    else
        snprintf(top, sizeof top, "%.0f", hi);
    snprintf(msg, sizeof msg, "%s: %s = %.10g; it must be a whole number from %.0f to %s", what,
             key, v, lo, top);
    if (line < 0) return spec_error(L, "%s", msg);
    spec_setting_error(L, line, "%s", msg);
    return v;
}

int spec_opt_bool(lua_State *L, int t, const char *key, int dflt)
{
    if (lua_type(L, t) != LUA_TTABLE) return dflt;
    lua_getfield(L, t, key);
    int v = dflt;
    if (!lua_isnil(L, -1)) {
        if (!lua_isboolean(L, -1)) {
            lua_pop(L, 1);
            return spec_error(L, "option '%s' must be true or false", key);
        }
        v = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

const char *spec_opt_string(lua_State *L, int t, const char *key, const char *dflt)
{
    if (lua_type(L, t) != LUA_TTABLE) return dflt;
    lua_getfield(L, t, key);
    const char *v = dflt;
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING) {
            lua_pop(L, 1);
            spec_error(L, "option '%s' must be a string", key);
            return NULL;
        }
        size_t len;
        const char *text = lua_tolstring(L, -1, &len);
        if (strlen(text) != len) {
            lua_pop(L, 1);
            spec_error(L, "option '%s' has a NUL byte", key);
            return NULL;
        }
        v = arena_strdup(spec_state_of(L)->g->A, text);
    }
    lua_pop(L, 1);
    return v;
}

int spec_distance(const char *a, const char *b, int how)
{
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 40 || lb > 40) return 99;
    int d[41][41];
    for (int i = 0; i <= la; i++) d[i][0] = i;
    for (int j = 0; j <= lb; j++) d[0][j] = j;
    for (int i = 1; i <= la; i++)
        for (int j = 1; j <= lb; j++) {
            int ca = a[i - 1], cb = b[j - 1];
            if (how & SPEC_FOLD_CASE) ca = tolower(ca), cb = tolower(cb);
            int c = d[i - 1][j - 1] + (ca != cb);
            if (d[i - 1][j] + 1 < c) c = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < c) c = d[i][j - 1] + 1;
            /* two neighbours swapped: one edit */
            int pa = i > 1 ? a[i - 2] : 0, pb = j > 1 ? b[j - 2] : 0;
            if (how & SPEC_FOLD_CASE) pa = tolower(pa), pb = tolower(pb);
            if ((how & SPEC_TRANSPOSE) && i > 1 && j > 1 && ca == pb && pa == cb && ca != cb &&
                d[i - 2][j - 2] + 1 < c)
                c = d[i - 2][j - 2] + 1;
            d[i][j] = c;
        }
    return d[la][lb];
}

const char *spec_closest(const char *word, const char *const *known)
{
    const char *best = NULL;
    int bestd = 3;
    for (int i = 0; known[i]; i++) {
        int dd = spec_distance(word, known[i], 0);
        if (dd < bestd) bestd = dd, best = known[i];
    }
    return best;
}

/* Pushes t[key], or nil when t is not a table. */
void spec_get_opt(lua_State *L, int t, const char *key)
{
    if (lua_istable(L, t))
        lua_getfield(L, t, key);
    else
        lua_pushnil(L);
}

/* Every key of an option table must be known: a typo is an error, with a
 * suggestion, rather than a silently ignored setting. */
void spec_check_keys(lua_State *L, int t, const char *fname, const char *const *known)
{
    if (lua_type(L, t) != LUA_TTABLE) return;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TNUMBER) continue; /* positional entries */
        const char *key = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?";
        int ok = 0;
        for (int i = 0; known[i]; i++)
            if (!strcmp(key, known[i])) ok = 1;
        if (!ok) {
            const char *hint = spec_closest(key, known);
            if (hint)
                spec_error(L, "%s: unknown option '%s' (did you mean '%s'?)", fname, key, hint);
            spec_error(L, "%s: unknown option '%s'", fname, key);
        }
    }
}

/* A layer or parameter name as the user wrote it, made safe for comments
 * and file names (export writes <name>.npy): letters, digits, '_', '.'
 * and '-' stay, anything else becomes '_'; no leading '.'; 64 bytes at
 * most. A name written otherwise is recorded (a warning, and `info`). */
const char *spec_safe_label(lua_State *L, const char *text)
{
    ir_graph *g = spec_state_of(L)->g;
    char *t = arena_strdup(g->A, text && *text ? text : "_");
    for (char *p = t; *p; p++) {
        unsigned char c = (unsigned char)*p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-' || (c == '.' && p != t);
        if (!ok) *p = '_';
    }
    if (strlen(t) > 64) t[64] = 0;
    if (text && strcmp(text, t)) {
        const char *file;
        int line;
        spec_where(L, &file, &line);
        ir_renamed(g, "layer", text, t, file, line);
    }
    return t;
}

const char *spec_typed_label(ir_graph *g, const char *label)
{
    /* the latest first: the call being made */
    for (int i = (g->nrenames < IR_MAX_RENAMES ? g->nrenames : IR_MAX_RENAMES) - 1; i >= 0; i--) {
        const ir_rename *r = &g->renames[i];
        size_t n = strlen(r->written);
        if (!strcmp(r->what, "layer") && !strncmp(label, r->written, n) &&
            (label[n] == 0 || label[n] == '.'))
            return esc_visible(g->A, arena_printf(g->A, "%s%s", r->typed, label + n), 100);
    }
    return label;
}

/* Positional integers of a table: { 784 } or { 28, 28 }. */
int spec_dims_of(lua_State *L, int t, const char *fname, int *dim, int max)
{
    int n = (int)lua_rawlen(L, t);
    if (n > max) return spec_error(L, "%s: at most %d dimensions, got %d", fname, max, n);
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, t, i + 1);
        int isnum;
        lua_Integer v = lua_tointegerx(L, -1, &isnum);
        lua_pop(L, 1);
        if (!isnum) return spec_error(L, "%s: dimension %d must be an integer", fname, i + 1);
        if (v <= 0 || v > (1 << 30))
            return spec_error(L, "%s: dimension %d is %lld; it must be between 1 and 2^30", fname,
                              i + 1, (long long)v);
        dim[i] = (int)v;
    }
    return n;
}
