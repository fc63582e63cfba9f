/* spec.c — the sandboxed Lua state and the DSL (see spec.h). Tensors are
 * userdata holding a node id; their metamethods and the DSL functions make
 * IR nodes through ir_make, so every shape rule lives in gen/ops/. Errors are
 * raised the Lua way and carry the spec file and line. */
#include "spec.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "../runtime/rt.h"
#include "ops.h"
#include "optim.h"

#define TENSOR_MT "trainc.tensor"

typedef struct spec_state {
    ir_graph *g;
    const char *path;
    const char *dir; /* the spec's folder: data paths are relative to it */
    size_t mem_used, mem_limit;
    int limit_hit; /* a limit stopped the spec: nothing may catch that */
    long steps, step_limit;
    int minimized;
    int counters[OP_COUNT];
    int linear_count, param_count, conv_count;
    int bn_count, dropout_count; /* batch_norm layers; dropout masks (their noise streams) */
} spec_state;

typedef struct spec_tensor {
    int id;
} spec_tensor;

static spec_state *state(lua_State *L)
{
    spec_state *s;
    lua_getallocf(L, (void **)&s);
    return s;
}

/* ---- positions and errors ---- */

/* The innermost frame that is spec code (C DSL functions have no line). */
static void where(lua_State *L, const char **file, int *line)
{
    lua_Debug ar;
    *file = state(L)->path;
    *line = 0;
    for (int level = 0; lua_getstack(L, level, &ar); level++) {
        lua_getinfo(L, "Sl", &ar);
        if (ar.currentline > 0) {
            *line = ar.currentline;
            return;
        }
    }
}

static int spec_error(lua_State *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int spec_error(lua_State *L, const char *fmt, ...)
{
    const char *file;
    int line;
    where(L, &file, &line);
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lua_pushfstring(L, "%s:%d: %s", file, line, msg);
    return lua_error(L);
}

/* ---- tensors ---- */

static void push_tensor(lua_State *L, int id)
{
    spec_tensor *t = lua_newuserdatauv(L, sizeof *t, 0);
    t->id = id;
    luaL_setmetatable(L, TENSOR_MT);
}

static int is_tensor(lua_State *L, int idx)
{
    return luaL_testudata(L, idx, TENSOR_MT) != NULL;
}

/* A tensor argument; numbers become constants. */
static int check_tensor(lua_State *L, int idx, const char *fname)
{
    spec_tensor *t = luaL_testudata(L, idx, TENSOR_MT);
    if (t) return t->id;
    if (lua_type(L, idx) == LUA_TNUMBER) return ir_const(state(L)->g, lua_tonumber(L, idx));
    return spec_error(L, "bad argument #%d to '%s' (tensor expected, got %s)", idx, fname,
                      luaL_typename(L, idx));
}

/* Names a node after its op ("relu3") and stamps its spec position. */
static int finish(lua_State *L, int id, const char *base)
{
    spec_state *s = state(L);
    ir_node *n = ir_get(s->g, id);
    where(L, &n->file, &n->line);
    n->phase = PH_FORWARD;
    if (!n->name) {
        char buf[64];
        snprintf(buf, sizeof buf, "%s%d", base ? base : ir_op_name(n->op), ++s->counters[n->op]);
        n->name = ir_c_name(s->g, buf);
    }
    return id;
}

static int make(lua_State *L, ir_op op, const ir_args *a, const char *fname)
{
    char err[512];
    int id = ir_make(state(L)->g, op, a, err, sizeof err);
    if (id < 0) {
        size_t fl = strlen(fname);
        /* shape rules may already name the op */
        if (!strncmp(err, fname, fl) && err[fl] == ':') return spec_error(L, "%s", err);
        return spec_error(L, "%s: %s", fname, err);
    }
    return finish(L, id, NULL);
}

static int push_op(lua_State *L, ir_op op, const ir_args *a, const char *fname)
{
    push_tensor(L, make(L, op, a, fname));
    return 1;
}

static int binary(lua_State *L, ir_op op, const char *fname)
{
    ir_args a = {.nin = 2};
    a.in[0] = check_tensor(L, 1, fname);
    a.in[1] = check_tensor(L, 2, fname);
    return push_op(L, op, &a, fname);
}

static int t_add(lua_State *L)
{
    return binary(L, OP_ADD, "+");
}
static int t_sub(lua_State *L)
{
    return binary(L, OP_SUB, "-");
}
static int t_mul(lua_State *L)
{
    return binary(L, OP_MUL, "*");
}
static int t_div(lua_State *L)
{
    return binary(L, OP_DIV, "/");
}

static int t_pow(lua_State *L)
{
    if (!is_tensor(L, 1)) {
        /* c ^ x = e^(x ln c) */
        double c = luaL_checknumber(L, 1);
        if (c <= 0) return spec_error(L, "^: base %g must be positive for a tensor exponent", c);
        ir_args m = {.nin = 2, .in = {check_tensor(L, 2, "^"), ir_const(state(L)->g, log(c))}};
        ir_args e = {.nin = 1, .in = {make(L, OP_MUL, &m, "^")}};
        return push_op(L, OP_EXP, &e, "^");
    }
    if (lua_type(L, 2) != LUA_TNUMBER)
        return spec_error(L, "^: the exponent must be a number, got %s", luaL_typename(L, 2));
    ir_args a = {.nin = 1, .in = {check_tensor(L, 1, "^")}, .f = {lua_tonumber(L, 2)}};
    return push_op(L, OP_POW, &a, "^");
}

static int t_unm(lua_State *L)
{
    ir_args a = {.nin = 1, .in = {check_tensor(L, 1, "-")}};
    return push_op(L, OP_NEG, &a, "-");
}

static int t_tostring(lua_State *L)
{
    spec_tensor *t = luaL_checkudata(L, 1, TENSOR_MT);
    ir_node *n = ir_get(state(L)->g, t->id);
    char buf[64];
    lua_pushfstring(L, "tensor %s %s", n->label ? n->label : n->name,
                    ir_shape_str(n, buf, sizeof buf));
    return 1;
}

/* x:shape() -> { "B", 256 } */
static int t_shape(lua_State *L)
{
    spec_tensor *t = luaL_checkudata(L, 1, TENSOR_MT);
    ir_node *n = ir_get(state(L)->g, t->id);
    lua_createtable(L, n->rank, 0);
    for (int i = 0; i < n->rank; i++) {
        if (n->dim[i] == IR_BATCH)
            lua_pushliteral(L, "B");
        else
            lua_pushinteger(L, n->dim[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* ---- reading options from tables ---- */

static double opt_number(lua_State *L, int t, const char *key, double dflt)
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

static void setting_error(lua_State *L, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* t[key] (t an absolute index) where a count goes: a whole number in
 * [lo, hi], or dflt when absent (dflt may lie outside, meaning "none").
 * Anything else is an error naming WHAT, the key, the value and the range, at
 * the line running now (line < 0) or at the spec's line LINE (settings read
 * after the spec ran). Spec numbers are doubles: one outside an int's range
 * must be refused before it becomes one. */
static double opt_whole(lua_State *L, int t, int line, const char *what, const char *key,
                        double dflt, double lo, double hi)
{
    if (lua_type(L, t) != LUA_TTABLE) return dflt;
    int absent = lua_getfield(L, t, key) == LUA_TNIL;
    lua_pop(L, 1);
    if (absent) return dflt;
    double v = opt_number(L, t, key, dflt);
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
    setting_error(L, line, "%s", msg);
    return v;
}

static int opt_bool(lua_State *L, int t, const char *key, int dflt)
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

static const char *opt_string(lua_State *L, int t, const char *key, const char *dflt)
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
        v = arena_strdup(state(L)->g->A, lua_tostring(L, -1));
    }
    lua_pop(L, 1);
    return v;
}

static int edit_distance(const char *a, const char *b)
{
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 40 || lb > 40) return 99;
    int d[41][41];
    for (int i = 0; i <= la; i++) d[i][0] = i;
    for (int j = 0; j <= lb; j++) d[0][j] = j;
    for (int i = 1; i <= la; i++)
        for (int j = 1; j <= lb; j++) {
            int c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < c) c = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < c) c = d[i][j - 1] + 1;
            d[i][j] = c;
        }
    return d[la][lb];
}

static const char *closest(const char *word, const char *const *known)
{
    const char *best = NULL;
    int bestd = 3;
    for (int i = 0; known[i]; i++) {
        int dd = edit_distance(word, known[i]);
        if (dd < bestd) bestd = dd, best = known[i];
    }
    return best;
}

/* Pushes t[key], or nil when t is not a table. */
static void get_opt(lua_State *L, int t, const char *key)
{
    if (lua_istable(L, t))
        lua_getfield(L, t, key);
    else
        lua_pushnil(L);
}

/* Every key of an option table must be known: a typo is an error, with a
 * suggestion, rather than a silently ignored setting. */
static void check_keys(lua_State *L, int t, const char *fname, const char *const *known)
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
            const char *hint = closest(key, known);
            if (hint)
                spec_error(L, "%s: unknown option '%s' (did you mean '%s'?)", fname, key, hint);
            spec_error(L, "%s: unknown option '%s'", fname, key);
        }
    }
}

/* A layer or parameter name as the user wrote it, made safe for comments
 * and file names (export writes <name>.npy): letters, digits, '_', '.'
 * and '-' stay, anything else becomes '_'; no leading '.'. */
static const char *safe_label(lua_State *L, const char *text)
{
    char *t = arena_strdup(state(L)->g->A, text && *text ? text : "_");
    for (char *p = t; *p; p++) {
        unsigned char c = (unsigned char)*p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-' || (c == '.' && p != t);
        if (!ok) *p = '_';
    }
    if (strlen(t) > 64) t[64] = 0;
    return t;
}

/* Positional integers of a table: { 784 } or { 28, 28 }. */
static int dims_of(lua_State *L, int t, const char *fname, int *dim, int max)
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

/* ---- leaves: input, labels, param ---- */

static int dsl_input(lua_State *L)
{
    spec_state *s = state(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    static const char *const keys[] = {"name", NULL};
    check_keys(L, 1, "input", keys);
    if (s->g->input >= 0) return spec_error(L, "input: the spec already has an input");
    ir_args a = {.rank = 1, .dim = {IR_BATCH}};
    int n = dims_of(L, 1, "input", a.dim + 1, IR_MAX_RANK - 1);
    if (n == 0) return spec_error(L, "input: give the features per row, e.g. input { 784 }");
    a.rank += n;
    int id = make(L, OP_INPUT, &a, "input");
    ir_node *x = ir_get(s->g, id);
    x->kind = K_INPUT;
    x->name = "x";
    x->label = safe_label(L, opt_string(L, 1, "name", "input"));
    s->g->input = id;
    push_tensor(L, id);
    return 1;
}

static int dsl_labels(lua_State *L)
{
    spec_state *s = state(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    static const char *const keys[] = {"classes", "name", NULL};
    check_keys(L, 1, "labels", keys);
    if (s->g->labels >= 0) return spec_error(L, "labels: the spec already has labels");
    ir_args a = {.rank = 1, .dim = {IR_BATCH}};
    int classes = (int)opt_whole(L, 1, -1, "labels", "classes", 0, 2, 1 << 24);
    int n = dims_of(L, 1, "labels", a.dim + 1, IR_MAX_RANK - 1);
    if (classes && n) return spec_error(L, "labels: give either classes = K or a shape, not both");
    if (!classes && !n)
        return spec_error(L, "labels: give classes = K (class indices) or a shape such as { 1 }");
    a.rank += n;
    int id = make(L, OP_LABELS, &a, "labels");
    ir_node *y = ir_get(s->g, id);
    y->kind = K_LABEL;
    y->name = "y";
    y->label = safe_label(L, opt_string(L, 1, "name", "labels"));
    s->g->labels = id;
    s->g->classes = classes;
    s->g->label_len = classes ? 1 : (int)ir_numel(y, 1);
    push_tensor(L, id);
    return 1;
}

/* ---- initialisers: tables { init = kind, ... } resolved against the fans ---- */

static int make_init(lua_State *L, const char *kind, int nargs, const char *const *names)
{
    lua_newtable(L);
    lua_pushstring(L, kind);
    lua_setfield(L, -2, "init");
    if (lua_type(L, 1) == LUA_TTABLE) { /* kind { a = 1, ... } */
        lua_pushnil(L);
        while (lua_next(L, 1)) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_settable(L, -4);
        }
    } else { /* kind(1, 2) */
        for (int i = 0; i < nargs && names[i]; i++)
            if (!lua_isnoneornil(L, i + 1)) {
                lua_pushvalue(L, i + 1);
                lua_setfield(L, -2, names[i]);
            }
    }
    return 1;
}

static int dsl_zeros(lua_State *L)
{
    return make_init(L, "zeros", 0, NULL);
}
static int dsl_ones(lua_State *L)
{
    static const char *const n[] = {NULL};
    make_init(L, "constant", 0, n);
    lua_pushnumber(L, 1);
    lua_setfield(L, -2, "value");
    return 1;
}
static int dsl_constant(lua_State *L)
{
    static const char *const n[] = {"value", NULL};
    return make_init(L, "constant", 1, n);
}
static int dsl_normal(lua_State *L)
{
    static const char *const n[] = {"mean", "std", NULL};
    return make_init(L, "normal", 2, n);
}
static int dsl_uniform(lua_State *L)
{
    static const char *const n[] = {"a", "b", NULL};
    return make_init(L, "uniform", 2, n);
}
static int dsl_xavier_uniform(lua_State *L)
{
    static const char *const n[] = {"gain", NULL};
    return make_init(L, "xavier_uniform", 1, n);
}
static int dsl_xavier_normal(lua_State *L)
{
    static const char *const n[] = {"gain", NULL};
    return make_init(L, "xavier_normal", 1, n);
}
static int dsl_kaiming_uniform(lua_State *L)
{
    static const char *const n[] = {"a", "mode", "nonlinearity", NULL};
    return make_init(L, "kaiming_uniform", 3, n);
}
static int dsl_orthogonal(lua_State *L)
{
    static const char *const n[] = {"gain", NULL};
    return make_init(L, "orthogonal", 1, n);
}
/* Defazio and Bottou's variance c / (fan_in * fan_out): normal(0, that) */
static int dsl_defazio_bottou(lua_State *L)
{
    static const char *const n[] = {"c", NULL};
    return make_init(L, "defazio_bottou", 1, n);
}
static int dsl_kaiming_normal(lua_State *L)
{
    static const char *const n[] = {"a", "mode", "nonlinearity", NULL};
    return make_init(L, "kaiming_normal", 3, n);
}

/* torch.nn.init.calculate_gain, in the same arithmetic */
static double calculate_gain(lua_State *L, const char *nl, double param, int has_param)
{
    if (!strcmp(nl, "linear") || !strcmp(nl, "conv2d") || !strcmp(nl, "sigmoid") ||
        !strcmp(nl, "conv1d") || !strcmp(nl, "conv3d"))
        return 1;
    if (!strcmp(nl, "tanh")) return 5.0 / 3;
    if (!strcmp(nl, "relu")) return sqrt(2.0);
    if (!strcmp(nl, "leaky_relu")) {
        double slope = has_param ? param : 0.01;
        return sqrt(2.0 / (1 + pow(slope, 2)));
    }
    if (!strcmp(nl, "selu")) return 3.0 / 4;
    return spec_error(
        L, "unsupported nonlinearity '%s' (linear, sigmoid, tanh, relu, leaky_relu, selu)", nl);
}

/* calculate_gain("tanh") = 5/3, as torch.nn.init.calculate_gain */
static int dsl_calculate_gain(lua_State *L)
{
    const char *nl = luaL_checkstring(L, 1);
    lua_pushnumber(L, calculate_gain(L, nl, luaL_optnumber(L, 2, 0.01), !lua_isnoneornil(L, 2)));
    return 1;
}

/* Resolves the init table at index t for a parameter of the given shape. */
static ir_init resolve_init(lua_State *L, int t, const ir_node *p)
{
    ir_init in = {0};
    arena *A = state(L)->g->A;
    const char *kind = opt_string(L, t, "init", NULL);
    if (!kind) spec_error(L, "init: expected an initialiser such as zeros() or xavier_uniform()");
    long fan_in = 1, fan_out = 1;
    int fans_ok = p->rank >= 2;
    if (fans_ok) {
        long receptive = 1;
        for (int i = 2; i < p->rank; i++) receptive *= p->dim[i];
        fan_in = p->dim[1] * receptive;
        fan_out = p->dim[0] * receptive;
    }
    if (!strcmp(kind, "zeros")) {
        in.kind = INIT_ZEROS;
        in.what = "zeros";
    } else if (!strcmp(kind, "constant")) {
        in.kind = INIT_CONSTANT;
        in.a = opt_number(L, t, "value", NAN);
        if (isnan(in.a)) spec_error(L, "constant: give the value, e.g. constant(0.1)");
        in.what = arena_printf(A, "constant(%g)", in.a);
    } else if (!strcmp(kind, "uniform")) {
        in.kind = INIT_UNIFORM;
        in.a = opt_number(L, t, "a", 0);
        in.b = opt_number(L, t, "b", 1);
        if (!(in.a < in.b)) spec_error(L, "uniform: a = %g must be below b = %g", in.a, in.b);
        in.what = arena_printf(A, "uniform(%g, %g)", in.a, in.b);
    } else if (!strcmp(kind, "normal")) {
        in.kind = INIT_NORMAL;
        in.a = opt_number(L, t, "mean", 0);
        in.b = opt_number(L, t, "std", 1);
        if (!(in.b >= 0)) spec_error(L, "normal: std = %g must not be negative", in.b);
        in.what = arena_printf(A, "normal(%g, %g)", in.a, in.b);
    } else if (!strcmp(kind, "orthogonal") || !strcmp(kind, "defazio_bottou")) {
        if (!fans_ok) spec_error(L, "%s: needs a tensor of at least 2 dimensions", kind);
        if (kind[0] == 'o') {
            in.kind = INIT_ORTHOGONAL;
            in.a = opt_number(L, t, "gain", 1);
            in.what = arena_printf(A, "orthogonal(gain=%g): QR of N(0, 1) draws, as torch", in.a);
        } else {
            double c = opt_number(L, t, "c", 1);
            in.kind = INIT_NORMAL;
            in.a = 0;
            in.b = sqrt(c / ((double)fan_in * (double)fan_out));
            in.what =
                arena_printf(A, "defazio_bottou(c=%g): N(0, c / (%ld * %ld))", c, fan_in, fan_out);
        }
    } else if (!strncmp(kind, "xavier_", 7) || !strncmp(kind, "kaiming_", 8)) {
        if (!fans_ok)
            spec_error(L,
                       "%s: fan in and fan out cannot be computed for a tensor with fewer than 2 "
                       "dimensions",
                       kind);
        double gain, std;
        int uniform = strstr(kind, "uniform") != NULL;
        if (kind[0] == 'x') {
            gain = opt_number(L, t, "gain", 1);
            std = gain * sqrt(2.0 / (double)(fan_in + fan_out));
            in.what = arena_printf(A, "%s(gain=%g): fan_in=%ld, fan_out=%ld", kind, gain, fan_in,
                                   fan_out);
        } else {
            lua_getfield(L, t, "a");
            int has_a = !lua_isnil(L, -1);
            lua_pop(L, 1);
            double a = opt_number(L, t, "a", 0);
            const char *mode = opt_string(L, t, "mode", "fan_in");
            const char *nl = opt_string(L, t, "nonlinearity", "leaky_relu");
            if (strcmp(mode, "fan_in") && strcmp(mode, "fan_out"))
                spec_error(L, "%s: mode must be 'fan_in' or 'fan_out', got '%s'", kind, mode);
            long fan = !strcmp(mode, "fan_in") ? fan_in : fan_out;
            gain = calculate_gain(L, nl, a, has_a || 1);
            std = gain / sqrt((double)fan);
            in.what =
                arena_printf(A, "%s(a=%g, %s=%ld, %s): gain %.6g", kind, a, mode, fan, nl, gain);
        }
        if (uniform) {
            in.kind = INIT_UNIFORM;
            double bound = sqrt(3.0) * std;
            in.a = -bound;
            in.b = bound;
        } else {
            in.kind = INIT_NORMAL;
            in.a = 0;
            in.b = std;
        }
    } else {
        spec_error(L, "unknown initialiser '%s'", kind);
    }
    return in;
}

static int new_param(lua_State *L, const ir_args *a, const char *label, const char *cname)
{
    spec_state *s = state(L);
    for (int i = 0; i < s->g->n; i++) {
        const ir_node *q = ir_get(s->g, i);
        if (q->kind == K_PARAM && !strcmp(q->label, label))
            return spec_error(L, "two parameters are named '%s' (from line %d); names must differ",
                              label, q->line);
    }
    int id = make(L, OP_PARAM, a, "param");
    ir_node *p = ir_get(s->g, id);
    p->kind = K_PARAM;
    p->label = label;
    p->name = ir_c_name(s->g, cname);
    p->offset = s->g->n_params;
    s->g->n_params += ir_numel(p, 1);
    if (s->g->n_params > (1L << 31)) spec_error(L, "param: more than 2^31 parameters in all");
    return id;
}

/* param { 500, 1, init = zeros(), name = "w" } */
static int dsl_param(lua_State *L)
{
    spec_state *s = state(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    static const char *const keys[] = {"init", "name", "frozen", NULL};
    check_keys(L, 1, "param", keys);
    ir_args a = {0};
    a.rank = dims_of(L, 1, "param", a.dim, IR_MAX_RANK);
    if (a.rank == 0) return spec_error(L, "param: give its shape, e.g. param { 500, 1 }");
    char defname[32];
    snprintf(defname, sizeof defname, "param%d", ++s->param_count);
    const char *label = safe_label(L, opt_string(L, 1, "name", defname));
    int id = new_param(L, &a, label, label);
    ir_node *p = ir_get(s->g, id);
    p->trainable = !opt_bool(L, 1, "frozen", 0);
    lua_getfield(L, 1, "init");
    if (lua_isnil(L, -1)) {
        p->init.kind = INIT_ZEROS;
        p->init.what = "zeros (default)";
    } else {
        if (lua_type(L, -1) != LUA_TTABLE)
            return spec_error(L, "param: init must be an initialiser such as normal(0, 0.01)");
        p->init = resolve_init(L, lua_gettop(L), p);
    }
    lua_pop(L, 1);
    push_tensor(L, id);
    return 1;
}

/* ---- layers and functions ---- */

static int dsl_matmul(lua_State *L)
{
    return binary(L, OP_MATMUL, "matmul");
}

static int dsl_transpose(lua_State *L)
{
    ir_args a = {.nin = 1, .in = {check_tensor(L, 1, "transpose")}};
    return push_op(L, OP_TRANSPOSE, &a, "transpose");
}

/* ---- normalisation and regularisation: batch_norm, dropout, dropconnect
 * (the ops are in gen/ops/norm.c) ---- */

/* x kept with probability 1 - p and scaled by 1/(1-p) in training, x itself
 * in evaluation; each dropout has a mask of its own (its noise stream). */
static int make_dropout(lua_State *L, int x, double p, const char *fname, const char *name)
{
    spec_state *s = state(L);
    if (ir_get(s->g, x)->kind == K_CONST)
        return spec_error(L, "%s: needs a tensor, not a number", fname);
    if (!(p >= 0 && p < 1)) return spec_error(L, "%s: p = %g; it must be in [0, 1)", fname, p);
    if (p == 0) return x; /* nothing dropped, nothing scaled */
    ir_args a = {.nin = 1, .in = {x}, .f = {p}, .i = {++s->dropout_count}};
    int y = make(L, OP_DROPOUT, &a, fname);
    ir_get(s->g, y)->name = NULL;
    ir_get(s->g, y)->name =
        ir_c_name(s->g, name ? name : arena_printf(s->g->A, "%s%d", fname, s->dropout_count));
    return y;
}

/* dropout(x, p = 0.5), torch.nn.Dropout */
static int dsl_dropout(lua_State *L)
{
    int x = check_tensor(L, 1, "dropout");
    push_tensor(L, make_dropout(L, x, luaL_optnumber(L, 2, 0.5), "dropout", NULL));
    return 1;
}

/* dropconnect(w, p = 0.5): dropout of a weight tensor, one mask per step
 * for the whole batch (linear { dropconnect = p } does it to its weight) */
static int dsl_dropconnect(lua_State *L)
{
    int w = check_tensor(L, 1, "dropconnect");
    if (ir_is_batched(ir_get(state(L)->g, w)))
        return spec_error(L, "dropconnect: drops weights, not activations (use dropout)");
    push_tensor(L, make_dropout(L, w, luaL_optnumber(L, 2, 0.5), "dropconnect", NULL));
    return 1;
}

/* A parameter of a layer: label "<layer>.<what>", constant init; c values,
 * or one scalar (rank 0) when c is 0. */
static int layer_param(lua_State *L, const char *layer, const char *what, int c, double value,
                       const char *init_text)
{
    spec_state *s = state(L);
    ir_args a = {.rank = c > 0, .dim = {c}};
    int id = new_param(L, &a, arena_printf(s->g->A, "%s.%s", layer, what),
                       arena_printf(s->g->A, "%s_%s", layer, what));
    ir_get(s->g, id)->init = (ir_init){INIT_CONSTANT, value, 0, init_text};
    return id;
}

/* batch_norm(x, { eps = 1e-5, momentum = 0.1 | "cumulative", affine = true, name = "bn1" }):
 * torch.nn.BatchNorm1d over the features of [rows x features] (or channels
 * of [rows x C x L]) and BatchNorm2d over the channels of [rows x C x H x W]. */
static int dsl_batch_norm(lua_State *L)
{
    spec_state *s = state(L);
    lua_settop(L, 2);
    int x = check_tensor(L, 1, "batch_norm");
    static const char *const keys[] = {"eps", "momentum", "affine", "name", NULL};
    if (!lua_isnil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
    check_keys(L, 2, "batch_norm", keys);
    const ir_node *xn = ir_get(s->g, x);
    char sh[64];
    if (xn->rank < 2 || xn->dim[1] == IR_BATCH)
        return spec_error(L,
                          "batch_norm: input must be [rows x features] or [rows x channels x ...], "
                          "got %s",
                          ir_shape_str(xn, sh, sizeof sh));
    double eps = opt_number(L, 2, "eps", 1e-5), momentum = BN_CUMULATIVE;
    if (!(eps > 0)) return spec_error(L, "batch_norm: eps = %g; it must be > 0", eps);
    /* momentum = "cumulative" is torch's momentum=None (a Lua table cannot
     * hold None): the running statistics average every batch so far */
    if (lua_istable(L, 2) && lua_getfield(L, 2, "momentum") == LUA_TSTRING) {
        if (strcmp(lua_tostring(L, -1), "cumulative") != 0)
            return spec_error(L,
                              "batch_norm: momentum = \"%s\"; it must be a number in [0, 1] or "
                              "\"cumulative\"",
                              lua_tostring(L, -1));
    } else {
        momentum = opt_number(L, 2, "momentum", 0.1);
        if (!(momentum >= 0 && momentum <= 1))
            return spec_error(
                L, "batch_norm: momentum = %g; it must be in [0, 1] or \"cumulative\"", momentum);
    }
    lua_settop(L, 2);
    int affine = opt_bool(L, 2, "affine", 1);
    char defname[32];
    snprintf(defname, sizeof defname, "batch_norm%d", ++s->bn_count);
    const char *name = safe_label(L, opt_string(L, 2, "name", defname));
    int c = xn->dim[1], rank = xn->rank;

    int gamma = -1, beta = -1;
    if (affine) { /* torch's order: weight, bias, running_mean, running_var */
        gamma = layer_param(L, name, "weight", c, 1, "ones (torch's BatchNorm weight)");
        beta = layer_param(L, name, "bias", c, 0, "zeros (torch's BatchNorm bias)");
    }
    int rm = layer_param(L, name, "running_mean", c, 0, "zeros (running statistic)");
    int rv = layer_param(L, name, "running_var", c, 1, "ones (running statistic)");
    /* torch's num_batches_tracked: the training batches normalised so far,
     * a scalar in the element type (exact to 2^24 batches in float) */
    int nb = layer_param(L, name, "num_batches_tracked", 0, 0, "zero (batches counted)");
    ir_get(s->g, nb)->count = 1;
    for (int k = 0; k < 3; k++) {
        ir_node *r = ir_get(s->g, k == 0 ? rm : k == 1 ? rv : nb);
        r->trainable = 0;
        r->buffer = 1;
    }
    ir_args sa = {.nin = 4, .in = {x, rm, rv, nb}, .f = {eps, momentum}};
    int stats = make(L, OP_BN_STATS, &sa, "batch_norm");
    ir_get(s->g, stats)->name = ir_c_name(s->g, arena_printf(s->g->A, "%s_stats", name));
    ir_args na = {.nin = 2, .in = {x, stats}};
    int y = make(L, OP_BN_NORM, &na, "batch_norm");
    ir_get(s->g, y)->name = ir_c_name(s->g, affine ? arena_printf(s->g->A, "%s_xhat", name) : name);
    if (affine) {
        /* gamma and beta [C] broadcast over the axes after the channel's */
        for (int k = 0; k < 2 && rank > 2; k++) {
            ir_args va = {.nin = 1, .in = {k ? beta : gamma}, .rank = rank - 1, .dim = {c, 1, 1}};
            int view = make(L, OP_RESHAPE, &va, "batch_norm");
            ir_get(s->g, view)->name =
                ir_c_name(s->g, arena_printf(s->g->A, "%s_%s_c", name, k ? "bias" : "weight"));
            if (k)
                beta = view;
            else
                gamma = view;
        }
        ir_args ma = {.nin = 2, .in = {y, gamma}};
        y = make(L, OP_MUL, &ma, "batch_norm");
        ir_get(s->g, y)->name = ir_c_name(s->g, arena_printf(s->g->A, "%s_scaled", name));
        ir_args aa = {.nin = 2, .in = {y, beta}};
        y = make(L, OP_ADD, &aa, "batch_norm");
        ir_get(s->g, y)->name = ir_c_name(s->g, name);
    }
    push_tensor(L, y);
    return 1;
}

/* linear(x, out, { bias = true, name = "fc1", init = ..., bias_init = ... }):
 * y = x Wᵀ + b with W [out x in], as torch.nn.Linear (and its default init). */
static int dsl_linear(lua_State *L)
{
    spec_state *s = state(L);
    lua_settop(L, 3);
    int x = check_tensor(L, 1, "linear");
    lua_Integer out = luaL_checkinteger(L, 2);
    static const char *const keys[] = {"bias",   "name",        "init", "bias_init",
                                       "frozen", "dropconnect", NULL};
    check_keys(L, 3, "linear", keys);
    const ir_node *xn = ir_get(s->g, x);
    char sh[64];
    if (xn->rank != 2)
        return spec_error(L, "linear: input must be [rows x features], got %s (flatten it first)",
                          ir_shape_str(xn, sh, sizeof sh));
    if (out <= 0 || out > (1 << 24))
        return spec_error(L, "linear: %lld output features; it must be between 1 and 2^24",
                          (long long)out);
    int in = xn->dim[1];
    if (in == IR_BATCH) return spec_error(L, "linear: input features cannot be the batch");
    char defname[32];
    snprintf(defname, sizeof defname, "linear%d", ++s->linear_count);
    const char *name = safe_label(L, opt_string(L, 3, "name", defname));
    int bias = opt_bool(L, 3, "bias", 1);

    ir_args wa = {.rank = 2, .dim = {(int)out, in}};
    int w = new_param(L, &wa, arena_printf(s->g->A, "%s.weight", name),
                      arena_printf(s->g->A, "%s_weight", name));
    ir_node *wn = ir_get(s->g, w);
    double bound = 1 / sqrt((double)in);
    get_opt(L, 3, "init");
    if (lua_istable(L, -1)) {
        wn->init = resolve_init(L, lua_gettop(L), wn);
    } else {
        /* kaiming_uniform(a = √5): torch's arithmetic, bound = 1/√in */
        double a = sqrt(5.0), gain = sqrt(2.0 / (1 + pow(a, 2)));
        double std = gain / sqrt((double)in), wb = sqrt(3.0) * std;
        wn->init = (ir_init){INIT_UNIFORM, -wb, wb,
                             arena_printf(s->g->A,
                                          "torch default: kaiming_uniform(a=√5) = U(-1/√%d, 1/√%d)",
                                          in, in)};
    }
    lua_pop(L, 1);

    int frozen = opt_bool(L, 3, "frozen", 0);
    ir_get(s->g, w)->trainable = !frozen;
    /* dropconnect = p: the weight is dropped out in training (one mask a step) */
    double dc = opt_number(L, 3, "dropconnect", 0);
    int wused = dc != 0 ? make_dropout(L, w, dc, "dropconnect",
                                       arena_printf(s->g->A, "%s_weight_dropped", name))
                        : w;
    ir_args ma = {.nin = 2, .in = {x, wused}, .i = {0, 1}};
    int y = make(L, OP_MATMUL, &ma, "linear");
    ir_get(s->g, y)->name = ir_c_name(s->g, name);
    if (bias) {
        ir_args ba = {.rank = 1, .dim = {(int)out}};
        int b = new_param(L, &ba, arena_printf(s->g->A, "%s.bias", name),
                          arena_printf(s->g->A, "%s_bias", name));
        ir_node *bn = ir_get(s->g, b);
        bn->trainable = !frozen;
        get_opt(L, 3, "bias_init");
        if (lua_istable(L, -1))
            bn->init = resolve_init(L, lua_gettop(L), bn);
        else
            bn->init = (ir_init){INIT_UNIFORM, -bound, bound,
                                 arena_printf(s->g->A, "torch default: U(-1/√%d, 1/√%d)", in, in)};
        lua_pop(L, 1);
        ir_args aa = {.nin = 2, .in = {y, b}};
        y = make(L, OP_ADD, &aa, "linear");
        ir_get(s->g, y)->name = ir_c_name(s->g, arena_printf(s->g->A, "%s_out", name));
    }
    push_tensor(L, y);
    return 1;
}

static int unary(lua_State *L, ir_op op, const char *fname, double p)
{
    if (lua_type(L, 1) == LUA_TNUMBER && op != OP_RELU) {
        /* plain numbers keep working: exp(1) is a number */
        double x = lua_tonumber(L, 1), r;
        switch (op) {
        case OP_EXP:
            r = exp(x);
            break;
        case OP_LOG:
            r = log(x);
            break;
        case OP_SQRT:
            r = sqrt(x);
            break;
        case OP_ABS:
            r = fabs(x);
            break;
        case OP_TANH:
            r = tanh(x);
            break;
        case OP_SIGMOID:
            r = 1 / (1 + exp(-x));
            break;
        default:
            goto tensor;
        }
        lua_pushnumber(L, r);
        return 1;
    }
tensor:;
    ir_args a = {.nin = 1, .in = {check_tensor(L, 1, fname)}, .f = {p}};
    return push_op(L, op, &a, fname);
}

static int dsl_exp(lua_State *L)
{
    return unary(L, OP_EXP, "exp", 0);
}
static int dsl_log(lua_State *L)
{
    return unary(L, OP_LOG, "log", 0);
}
static int dsl_sqrt(lua_State *L)
{
    return unary(L, OP_SQRT, "sqrt", 0);
}
static int dsl_abs(lua_State *L)
{
    return unary(L, OP_ABS, "abs", 0);
}
static int dsl_relu(lua_State *L)
{
    return unary(L, OP_RELU, "relu", 0);
}
static int dsl_sigmoid(lua_State *L)
{
    return unary(L, OP_SIGMOID, "sigmoid", 0);
}
static int dsl_tanh(lua_State *L)
{
    return unary(L, OP_TANH, "tanh", 0);
}
static int dsl_leaky_relu(lua_State *L)
{
    return unary(L, OP_LEAKY_RELU, "leaky_relu", luaL_optnumber(L, 2, 0.01));
}

/* An activation's numeric options, torch's names and defaults, given either
 * positionally, f(x, 1.5, 10), or by name, f(x, { beta = 1.5 }). */
static void act_options(lua_State *L, const char *fname, const char *const *keys,
                        const double *dflt, double *f)
{
    int named = lua_istable(L, 2);
    if (named) check_keys(L, 2, fname, keys);
    for (int k = 0; keys[k]; k++) {
        int idx = 2 + k;
        if (named) {
            f[k] = opt_number(L, 2, keys[k], dflt[k]);
        } else if (lua_isnoneornil(L, idx)) {
            f[k] = dflt[k];
        } else if (lua_type(L, idx) != LUA_TNUMBER) {
            spec_error(L, "bad argument #%d to '%s' (%s: number expected, got %s)", idx, fname,
                       keys[k], luaL_typename(L, idx));
        } else {
            f[k] = lua_tonumber(L, idx);
        }
        if (!isfinite(f[k])) spec_error(L, "%s: %s = %g must be finite", fname, keys[k], f[k]);
    }
}

static int activation(lua_State *L, ir_op op, const char *fname, const double *f)
{
    ir_args a = {.nin = 1, .in = {check_tensor(L, 1, fname)}, .f = {f[0], f[1]}};
    return push_op(L, op, &a, fname);
}

/* elu(x, alpha = 1) */
static int dsl_elu(lua_State *L)
{
    static const char *const keys[] = {"alpha", NULL};
    static const double dflt[] = {1};
    double f[2] = {0};
    act_options(L, "elu", keys, dflt, f);
    return activation(L, OP_ELU, "elu", f);
}

/* softplus(x, beta = 1, threshold = 20) */
static int dsl_softplus(lua_State *L)
{
    static const char *const keys[] = {"beta", "threshold", NULL};
    static const double dflt[] = {1, 20};
    double f[2] = {0};
    act_options(L, "softplus", keys, dflt, f);
    if (f[0] == 0) return spec_error(L, "softplus: beta must not be 0");
    return activation(L, OP_SOFTPLUS, "softplus", f);
}

/* hardtanh(x, min_val = -1, max_val = 1) */
static int dsl_hardtanh(lua_State *L)
{
    static const char *const keys[] = {"min_val", "max_val", NULL};
    static const double dflt[] = {-1, 1};
    double f[2] = {0};
    act_options(L, "hardtanh", keys, dflt, f);
    if (!(f[0] < f[1]))
        return spec_error(L, "hardtanh: min_val = %g must be below max_val = %g", f[0], f[1]);
    return activation(L, OP_HARDTANH, "hardtanh", f);
}

/* gelu(x), gelu(x, "tanh") or gelu(x, { approximate = "tanh" }): the exact
 * x Φ(x) unless approximate = "tanh" */
static int dsl_gelu(lua_State *L)
{
    const char *approx = "none";
    if (lua_istable(L, 2)) {
        static const char *const keys[] = {"approximate", NULL};
        check_keys(L, 2, "gelu", keys);
        approx = opt_string(L, 2, "approximate", "none");
    } else if (lua_type(L, 2) == LUA_TSTRING) {
        approx = lua_tostring(L, 2);
    } else if (!lua_isnoneornil(L, 2)) {
        return spec_error(
            L, "bad argument #2 to 'gelu' (approximate: \"none\" or \"tanh\" expected, got %s)",
            luaL_typename(L, 2));
    }
    if (strcmp(approx, "none") && strcmp(approx, "tanh"))
        return spec_error(L, "gelu: approximate must be \"none\" or \"tanh\", got '%s'", approx);
    static const double none[2] = {0};
    return activation(L, strcmp(approx, "tanh") ? OP_GELU : OP_GELU_TANH, "gelu", none);
}

static int softmax_like(lua_State *L, ir_op op, const char *fname)
{
    int x = check_tensor(L, 1, fname);
    const ir_node *n = ir_get(state(L)->g, x);
    lua_Integer dim = luaL_optinteger(L, 2, -1);
    if (dim != -1 && dim != n->rank - 1)
        return spec_error(L, "%s: only the last dimension (dim = -1) is supported, got %lld", fname,
                          (long long)dim);
    ir_args a = {.nin = 1, .in = {x}};
    return push_op(L, op, &a, fname);
}

static int dsl_softmax(lua_State *L)
{
    return softmax_like(L, OP_SOFTMAX, "softmax");
}
static int dsl_log_softmax(lua_State *L)
{
    return softmax_like(L, OP_LOG_SOFTMAX, "log_softmax");
}

/* sum(x [, dim [, keepdim]]) and mean: over everything, or one dimension
 * (PyTorch's numbering from 0, negative from the end). */
static int reduce(lua_State *L, int mean, const char *fname)
{
    spec_state *s = state(L);
    int x = check_tensor(L, 1, fname);
    const ir_node *n = ir_get(s->g, x);
    ir_args a = {.nin = 1, .in = {x}, .i = {mean}};
    if (lua_isnoneornil(L, 2)) {
        a.rank = 0;
        return push_op(L, OP_SUM_TO, &a, fname);
    }
    lua_Integer dim = luaL_checkinteger(L, 2);
    int keep = lua_toboolean(L, 3);
    if (dim < 0) dim += n->rank;
    if (dim < 0 || dim >= n->rank)
        return spec_error(L, "%s: dim %lld out of range for a tensor of %d dimensions", fname,
                          (long long)luaL_checkinteger(L, 2), n->rank);
    a.rank = n->rank;
    memcpy(a.dim, n->dim, sizeof a.dim);
    a.dim[dim] = 1;
    int r = make(L, OP_SUM_TO, &a, fname);
    if (!keep) {
        const ir_node *rn = ir_get(s->g, r);
        ir_args v = {.nin = 1, .in = {r}, .rank = 0};
        for (int i = 0; i < rn->rank; i++)
            if (i != dim) v.dim[v.rank++] = rn->dim[i];
        r = make(L, OP_RESHAPE, &v, fname);
    }
    push_tensor(L, r);
    return 1;
}

static int dsl_sum(lua_State *L)
{
    return reduce(L, 0, "sum");
}
static int dsl_mean(lua_State *L)
{
    return reduce(L, 1, "mean");
}

/* reshape(x, { 28, 28 }): a batched tensor keeps its batch dimension first */
static int dsl_reshape(lua_State *L)
{
    int x = check_tensor(L, 1, "reshape");
    luaL_checktype(L, 2, LUA_TTABLE);
    const ir_node *n = ir_get(state(L)->g, x);
    ir_args a = {.nin = 1, .in = {x}};
    int b = ir_is_batched(n) ? 1 : 0;
    if (b) a.dim[0] = IR_BATCH;
    a.rank = b + dims_of(L, 2, "reshape", a.dim + b, IR_MAX_RANK - b);
    return push_op(L, OP_RESHAPE, &a, "reshape");
}

static int dsl_flatten(lua_State *L)
{
    int x = check_tensor(L, 1, "flatten");
    const ir_node *n = ir_get(state(L)->g, x);
    ir_args a = {.nin = 1, .in = {x}};
    if (ir_is_batched(n)) {
        if (n->dim[0] != IR_BATCH)
            return spec_error(L, "flatten: the batch must be the first dimension");
        a.rank = 2;
        a.dim[0] = IR_BATCH;
        a.dim[1] = (int)(ir_numel(n, 1));
    } else {
        a.rank = 1;
        a.dim[0] = (int)ir_numel(n, 1);
    }
    return push_op(L, OP_RESHAPE, &a, "flatten");
}

/* ---- convolution and pooling over images [B x C x H x W] ---- */

/* The images a layer reads: a clear error for anything else. */
static const ir_node *check_images(lua_State *L, int x, const char *fname)
{
    const ir_node *n = ir_get(state(L)->g, x);
    char sh[64];
    if (n->rank != 4 || n->dim[0] != IR_BATCH)
        spec_error(L,
                   "%s: input must be images [B x C x H x W], got %s (use input { C, H, W } or "
                   "reshape)",
                   fname, ir_shape_str(n, sh, sizeof sh));
    return n;
}

/* t[key]: a size for both axes (k) or one per axis ({ kh, kw }), each at
 * least lo; dflt (two values) when absent, or an error when dflt is NULL */
static void pair_opt(lua_State *L, int t, const char *fname, const char *key, int lo,
                     const int *dflt, int *out)
{
    get_opt(L, t, key);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        if (!dflt) spec_error(L, "%s: give the %s size, e.g. { %s = 3 }", fname, key, key);
        out[0] = dflt[0], out[1] = dflt[1];
        return;
    }
    int n = lua_istable(L, -1) ? (int)lua_rawlen(L, -1) : 1;
    if (lua_istable(L, -1) && n != 2)
        spec_error(L, "%s: %s must be a number or a pair { h, w }, got %d values", fname, key, n);
    for (int k = 0; k < 2; k++) {
        if (lua_istable(L, -1))
            lua_rawgeti(L, -1, k + 1);
        else
            lua_pushvalue(L, -1);
        int isnum;
        lua_Integer v = lua_tointegerx(L, -1, &isnum);
        lua_pop(L, 1);
        if (!isnum) spec_error(L, "%s: %s must be an integer or a pair of integers", fname, key);
        if (v < lo || v > 65535)
            spec_error(L, "%s: %s %lld must be between %d and 65535", fname, key, (long long)v, lo);
        out[k] = (int)v;
    }
    lua_pop(L, 1);
}

/* conv2d(x, out_channels, { kernel = k or { kh, kw }, stride = 1, padding = 0,
 * dilation = 1, groups = 1, bias = true, name, init, bias_init, frozen }):
 * torch.nn.Conv2d with its default init (weight [OC x C/G x kh x kw]). */
static int dsl_conv2d(lua_State *L)
{
    spec_state *s = state(L);
    lua_settop(L, 3);
    int x = check_tensor(L, 1, "conv2d");
    lua_Integer oc = luaL_checkinteger(L, 2);
    static const char *const keys[] = {"kernel",    "stride", "padding", "dilation",
                                       "groups",    "bias",   "name",    "init",
                                       "bias_init", "frozen", "algo",    NULL};
    check_keys(L, 3, "conv2d", keys);
    const ir_node *xn = check_images(L, x, "conv2d");
    int C = xn->dim[1], H = xn->dim[2], W = xn->dim[3];
    if (oc <= 0 || oc > (1 << 24))
        return spec_error(L, "conv2d: %lld output channels; it must be between 1 and 2^24",
                          (long long)oc);
    static const int one[2] = {1, 1}, zero[2] = {0, 0};
    int k[2], st[2], pad[2], dil[2];
    pair_opt(L, 3, "conv2d", "kernel", 1, NULL, k);
    pair_opt(L, 3, "conv2d", "stride", 1, one, st);
    pair_opt(L, 3, "conv2d", "padding", 0, zero, pad);
    pair_opt(L, 3, "conv2d", "dilation", 1, one, dil);
    int G = (int)opt_whole(L, 3, -1, "conv2d", "groups", 1, 1, 65535);
    if (C % G || oc % G)
        return spec_error(L,
                          "conv2d: groups = %d must divide the input channels (%d) and the output "
                          "channels (%lld)",
                          G, C, (long long)oc);
    int oh = conv_out_size(H, k[0], st[0], pad[0], dil[0]);
    int ow = conv_out_size(W, k[1], st[1], pad[1], dil[1]);
    if (oh <= 0 || ow <= 0)
        return spec_error(L,
                          "conv2d: kernel %dx%d (dilation %dx%d) is larger than the padded input "
                          "%dx%d (%dx%d, padding %dx%d)",
                          k[0], k[1], dil[0], dil[1], H + 2 * pad[0], W + 2 * pad[1], H, W, pad[0],
                          pad[1]);
    char defname[32];
    snprintf(defname, sizeof defname, "conv%d", ++s->conv_count);
    const char *name = safe_label(L, opt_string(L, 3, "name", defname));
    int bias = opt_bool(L, 3, "bias", 1), frozen = opt_bool(L, 3, "frozen", 0);
    long fan_in = (long)(C / G) * k[0] * k[1];

    ir_args wa = {.rank = 4, .dim = {(int)oc, C / G, k[0], k[1]}};
    int w = new_param(L, &wa, arena_printf(s->g->A, "%s.weight", name),
                      arena_printf(s->g->A, "%s_weight", name));
    ir_node *wn = ir_get(s->g, w);
    wn->trainable = !frozen;
    get_opt(L, 3, "init");
    if (lua_istable(L, -1)) {
        wn->init = resolve_init(L, lua_gettop(L), wn);
    } else {
        /* kaiming_uniform(a = √5) as torch.nn.Conv2d: bound = 1/√fan_in */
        double a = sqrt(5.0), gain = sqrt(2.0 / (1 + pow(a, 2)));
        double wb = sqrt(3.0) * (gain / sqrt((double)fan_in));
        wn->init = (ir_init){
            INIT_UNIFORM, -wb, wb,
            arena_printf(s->g->A, "torch default: kaiming_uniform(a=√5) = U(-1/√%ld, 1/√%ld)",
                         fan_in, fan_in)};
    }
    lua_pop(L, 1);

    /* the patches; a 1x1 kernel at stride 1 without padding reads x itself;
     * an x that needs no gradient, when the cost model of conv.c finds it
     * cheaper or algo = "direct" asks for it: no patches at all */
    const char *algo = opt_string(L, 3, "algo", "auto");
    conv_sizes cz = {C, (int)oc, k[0], k[1], st[0], st[1], pad[0], pad[1], oh, ow, G};
    int direct;
    if (!strcmp(algo, "auto")) {
        direct = conv_direct_possible(s->g, x, &cz) && conv_direct_cheaper(&cz);
    } else if (!strcmp(algo, "direct")) {
        direct = 1;
        if (!conv_direct_possible(s->g, x, &cz))
            return spec_error(L,
                              "conv2d: algo = \"direct\" needs groups = 1, an input that depends "
                              "on no parameter and at most %d values of dW rows per image",
                              CONV_DIRECT_MAX_ROWS);
    } else if (!strcmp(algo, "im2col")) {
        direct = 0;
    } else {
        return spec_error(L, "conv2d: algo = \"%s\"; it must be \"auto\", \"direct\" or \"im2col\"",
                          algo);
    }
    int col;
    if (direct) {
        col = x;
    } else if (k[0] == 1 && k[1] == 1 && st[0] == 1 && st[1] == 1 && !pad[0] && !pad[1]) {
        ir_args v = {.nin = 1, .in = {x}, .rank = 3, .dim = {IR_BATCH, C, H * W}};
        col = make(L, OP_RESHAPE, &v, "conv2d");
    } else {
        ir_args c = {.nin = 1,
                     .in = {x},
                     .i = {k[0], k[1], st[0], st[1]},
                     .f = {pad[0], pad[1], dil[0], dil[1]}};
        col = make(L, OP_IM2COL, &c, "conv2d");
    }
    if (!direct) ir_get(s->g, col)->name = ir_c_name(s->g, arena_printf(s->g->A, "%s_col", name));
    ir_args ca = {
        .nin = 2, .in = {col, w}, .i = {G}, .rank = 4, .dim = {IR_BATCH, (int)oc, oh, ow}};
    if (direct) {
        int geom_i[4] = {k[0], k[1], st[0], st[1]}, geom_f[4] = {pad[0], pad[1], dil[0], dil[1]};
        for (int q = 0; q < 4; q++) ca.i[q] = geom_i[q], ca.f[q] = geom_f[q];
    }
    if (bias) {
        ir_args ba = {.rank = 1, .dim = {(int)oc}};
        int b = new_param(L, &ba, arena_printf(s->g->A, "%s.bias", name),
                          arena_printf(s->g->A, "%s_bias", name));
        ir_node *bn = ir_get(s->g, b);
        bn->trainable = !frozen;
        get_opt(L, 3, "bias_init");
        if (lua_istable(L, -1))
            bn->init = resolve_init(L, lua_gettop(L), bn);
        else
            bn->init = (ir_init){
                INIT_UNIFORM, -1 / sqrt((double)fan_in), 1 / sqrt((double)fan_in),
                arena_printf(s->g->A, "torch default: U(-1/√%ld, 1/√%ld)", fan_in, fan_in)};
        lua_pop(L, 1);
        ca.nin = 3;
        ca.in[2] = b;
    }
    int y = make(L, direct ? OP_CONV2D_DIRECT : OP_CONV2D, &ca, "conv2d");
    ir_get(s->g, y)->name = ir_c_name(s->g, name);
    push_tensor(L, y);
    return 1;
}

/* max_pool2d(x, k) or max_pool2d(x, { kernel = k, stride = k, padding = 0 }),
 * and avg_pool2d the same (count_include_pad = True, as torch) */
static int pool(lua_State *L, ir_op op, const char *fname)
{
    lua_settop(L, 2);
    int x = check_tensor(L, 1, fname);
    const ir_node *xn = check_images(L, x, fname);
    int k[2], st[2], pad[2];
    static const int zero[2] = {0, 0};
    if (lua_type(L, 2) == LUA_TNUMBER) {
        lua_newtable(L);
        lua_pushvalue(L, 2);
        lua_setfield(L, -2, "kernel");
        lua_replace(L, 2);
    } else if (!lua_istable(L, 2)) {
        return spec_error(L, "%s: give the kernel size, e.g. %s(x, 2) or %s(x, { kernel = 2 })",
                          fname, fname, fname);
    }
    static const char *const keys[] = {"kernel", "stride", "padding", NULL};
    check_keys(L, 2, fname, keys);
    pair_opt(L, 2, fname, "kernel", 1, NULL, k);
    pair_opt(L, 2, fname, "stride", 1, k, st);
    pair_opt(L, 2, fname, "padding", 0, zero, pad);
    if (2 * pad[0] > k[0] || 2 * pad[1] > k[1])
        return spec_error(L, "%s: padding %dx%d must be at most half the kernel %dx%d", fname,
                          pad[0], pad[1], k[0], k[1]);
    int H = xn->dim[2], W = xn->dim[3];
    if (conv_out_size(H, k[0], st[0], pad[0], 1) <= 0 ||
        conv_out_size(W, k[1], st[1], pad[1], 1) <= 0)
        return spec_error(L,
                          "%s: kernel %dx%d is larger than the padded input %dx%d (%dx%d, "
                          "padding %dx%d)",
                          fname, k[0], k[1], H + 2 * pad[0], W + 2 * pad[1], H, W, pad[0], pad[1]);
    ir_args a = {.nin = 1, .in = {x}, .i = {k[0], k[1], st[0], st[1]}, .f = {pad[0], pad[1], 1, 1}};
    return push_op(L, op, &a, fname);
}

static int dsl_max_pool2d(lua_State *L)
{
    return pool(L, OP_MAX_POOL2D, "max_pool2d");
}
static int dsl_avg_pool2d(lua_State *L)
{
    return pool(L, OP_AVG_POOL2D, "avg_pool2d");
}

/* global_avg_pool(x): [B x C x H x W] -> [B x C], the mean of each channel */
static int dsl_global_avg_pool(lua_State *L)
{
    int x = check_tensor(L, 1, "global_avg_pool");
    const ir_node *n = check_images(L, x, "global_avg_pool");
    int C = n->dim[1], HW = n->dim[2] * n->dim[3];
    ir_args v = {.nin = 1, .in = {x}, .rank = 3, .dim = {IR_BATCH, C, HW}};
    int flat = make(L, OP_RESHAPE, &v, "global_avg_pool");
    ir_args m = {.nin = 1, .in = {flat}, .i = {1}, .rank = 3, .dim = {IR_BATCH, C, 1}};
    int mean = make(L, OP_SUM_TO, &m, "global_avg_pool");
    ir_args r = {.nin = 1, .in = {mean}, .rank = 2, .dim = {IR_BATCH, C}};
    return push_op(L, OP_RESHAPE, &r, "global_avg_pool");
}

/* ---- losses ---- */

static void set_task(lua_State *L, int pred, ir_task task)
{
    spec_state *s = state(L);
    if (s->g->output < 0) {
        s->g->output = pred;
        s->g->task = task;
    }
}

/* A loss's options table (argument 3): its keys checked, or nothing. */
static void loss_options(lua_State *L, const char *fname, const char *const *keys)
{
    if (!lua_isnoneornil(L, 3) && !lua_istable(L, 3))
        spec_error(L, "bad argument #3 to '%s' (options table expected, got %s)", fname,
                   luaL_typename(L, 3));
    check_keys(L, 3, fname, keys);
}

enum { RED_MEAN, RED_SUM, RED_BATCHMEAN };

/* reduction = "mean" | "sum" (| "batchmean" for kl_div), as torch */
static int reduction_of(lua_State *L, const char *fname, int dflt, int batchmean)
{
    const char *r = opt_string(L, 3, "reduction", NULL);
    if (!r) return dflt;
    if (!strcmp(r, "mean")) return RED_MEAN;
    if (!strcmp(r, "sum")) return RED_SUM;
    if (batchmean && !strcmp(r, "batchmean")) return RED_BATCHMEAN;
    return spec_error(L, "%s: reduction must be \"mean\"%s or \"sum\", got '%s'", fname,
                      batchmean ? ", \"batchmean\"" : "", r);
}

/* f[0], i[0]: the loss's parameter and reduction (see gen/ops/loss.c) */
static int fused_loss_with(lua_State *L, ir_op op, const char *fname, ir_task task, double f0,
                           int i0)
{
    ir_args a = {.nin = 2,
                 .in = {check_tensor(L, 1, fname), check_tensor(L, 2, fname)},
                 .f = {f0},
                 .i = {i0}};
    int id = make(L, op, &a, fname);
    set_task(L, a.in[0], task);
    ir_get(state(L)->g, id)->phase = PH_LOSS;
    push_tensor(L, id);
    return 1;
}

static int fused_loss(lua_State *L, ir_op op, const char *fname, ir_task task)
{
    return fused_loss_with(L, op, fname, task, 0, 0);
}

/* the loss on top of the stack reads [rows x C] against labels { classes = K } */
static int check_classes(lua_State *L, const char *fname, const char *what)
{
    spec_state *s = state(L);
    spec_tensor *t = luaL_checkudata(L, -1, TENSOR_MT);
    const ir_node *z = ir_get(s->g, ir_get(s->g, t->id)->in[0]);
    if (s->g->classes && z->rank == 2 && z->dim[1] != s->g->classes)
        return spec_error(L, "%s: the %s have %d columns but labels have %d classes", fname, what,
                          z->dim[1], s->g->classes);
    return 1;
}

/* cross_entropy(z, y, { label_smoothing = 0, reduction = "mean" }) */
static int dsl_cross_entropy(lua_State *L)
{
    static const char *const keys[] = {"label_smoothing", "reduction", NULL};
    loss_options(L, "cross_entropy", keys);
    double eps = opt_number(L, 3, "label_smoothing", 0);
    if (!(eps >= 0 && eps <= 1))
        return spec_error(L, "cross_entropy: label_smoothing = %g must be in [0, 1]", eps);
    int red = reduction_of(L, "cross_entropy", RED_MEAN, 0);
    fused_loss_with(L, OP_CROSS_ENTROPY, "cross_entropy", TASK_CLASSIFY, eps, red);
    return check_classes(L, "cross_entropy", "logits");
}

/* nll(lp, y, { reduction = "mean" }): lp log-probabilities [rows x C] */
static int dsl_nll(lua_State *L)
{
    static const char *const keys[] = {"reduction", NULL};
    loss_options(L, "nll", keys);
    int red = reduction_of(L, "nll", RED_MEAN, 0);
    fused_loss_with(L, OP_NLL, "nll", TASK_CLASSIFY, 0, red);
    return check_classes(L, "nll", "log-probabilities");
}

static int dsl_bce(lua_State *L)
{
    return fused_loss(L, OP_BCE, "bce", TASK_BINARY);
}
static int dsl_bce_with_logits(lua_State *L)
{
    return fused_loss(L, OP_BCE_LOGITS, "bce_with_logits", TASK_LOGIT);
}
static int dsl_logistic(lua_State *L)
{
    return fused_loss(L, OP_LOGISTIC, "logistic", TASK_SIGN);
}

/* Prediction and target of one shape; returns x and sets *y. */
static int same_shape_pair(lua_State *L, const char *fname, int *y)
{
    spec_state *s = state(L);
    int x = check_tensor(L, 1, fname);
    *y = check_tensor(L, 2, fname);
    const ir_node *xn = ir_get(s->g, x), *yn = ir_get(s->g, *y);
    if (!ir_same_shape(xn, yn)) {
        char a[64], b[64];
        return spec_error(L, "%s: prediction %s and target %s differ in shape", fname,
                          ir_shape_str(xn, a, sizeof a), ir_shape_str(yn, b, sizeof b));
    }
    return x;
}

/* The loss from its per-element terms: their mean, sum, or sum over
 * everything but the first dimension averaged over it (batchmean). */
static int reduce_loss(lua_State *L, int term, int red, const char *fname)
{
    spec_state *s = state(L);
    const ir_node *tn = ir_get(s->g, term);
    if (red == RED_BATCHMEAN && tn->rank >= 2) {
        ir_args rows = {.nin = 1, .in = {term}, .rank = tn->rank};
        rows.dim[0] = tn->dim[0];
        for (int i = 1; i < tn->rank; i++) rows.dim[i] = 1;
        term = make(L, OP_SUM_TO, &rows, fname);
    }
    ir_args m = {.nin = 1, .in = {term}, .i = {red != RED_SUM}, .rank = 0};
    int id = make(L, OP_SUM_TO, &m, fname);
    ir_get(s->g, id)->phase = PH_LOSS;
    return id;
}

/* mse, l1, huber and smooth_l1 are the expressions themselves: the mean (or
 * sum) of a term: (x - y)^2, |x - y|, huber(x, y; delta), ... */
static int pairwise(lua_State *L, ir_op op, const char *fname, double param, int red)
{
    int y, x = same_shape_pair(L, fname, &y);
    ir_args t = {.nin = 2, .in = {x, y}, .f = {param}};
    if (op == OP_POW || op == OP_ABS) { /* of x - y */
        ir_args d = {.nin = 2, .in = {x, y}};
        t = (ir_args){.nin = 1, .in = {make(L, OP_SUB, &d, fname)}, .f = {param}};
    }
    int id = reduce_loss(L, make(L, op, &t, fname), red, fname);
    set_task(L, x, TASK_REGRESS);
    push_tensor(L, id);
    return 1;
}

static int dsl_mse(lua_State *L)
{
    static const char *const keys[] = {"reduction", NULL};
    loss_options(L, "mse", keys);
    return pairwise(L, OP_POW, "mse", 2, reduction_of(L, "mse", RED_MEAN, 0));
}
static int dsl_l1(lua_State *L)
{
    static const char *const keys[] = {"reduction", NULL};
    loss_options(L, "l1", keys);
    return pairwise(L, OP_ABS, "l1", 0, reduction_of(L, "l1", RED_MEAN, 0));
}

/* huber(x, y, { delta = 1 }) and smooth_l1(x, y, { beta = 1 }): torch's
 * HuberLoss and SmoothL1Loss; huber = beta * smooth_l1 for delta = beta */
static int dsl_huber(lua_State *L)
{
    static const char *const keys[] = {"delta", "reduction", NULL};
    loss_options(L, "huber", keys);
    double delta = opt_number(L, 3, "delta", 1);
    if (!(delta > 0 && isfinite(delta)))
        return spec_error(L, "huber: delta = %g must be positive", delta);
    return pairwise(L, OP_HUBER, "huber", delta, reduction_of(L, "huber", RED_MEAN, 0));
}
static int dsl_smooth_l1(lua_State *L)
{
    static const char *const keys[] = {"beta", "reduction", NULL};
    loss_options(L, "smooth_l1", keys);
    double beta = opt_number(L, 3, "beta", 1);
    if (!(beta >= 0 && isfinite(beta)))
        return spec_error(L, "smooth_l1: beta = %g must not be negative", beta);
    return pairwise(L, OP_SMOOTH_L1, "smooth_l1", beta, reduction_of(L, "smooth_l1", RED_MEAN, 0));
}

/* kl_div(input, target, { reduction = "batchmean", log_target = false }):
 * input log-probabilities, target probabilities (log-probabilities with
 * log_target), torch's terms t ln t - t x (0 at t = 0) or e^t (t - x).
 * The default is batchmean, the KL divergence itself; torch 1.13's default
 * 'mean' (also divided by the classes, with a warning) is reduction = "mean".
 * An input [rows x C] is read as classes (accuracy by argmax), else values. */
static int dsl_kl_div(lua_State *L)
{
    spec_state *s = state(L);
    static const char *const keys[] = {"reduction", "log_target", NULL};
    loss_options(L, "kl_div", keys);
    int red = reduction_of(L, "kl_div", RED_BATCHMEAN, 1);
    int log_target = opt_bool(L, 3, "log_target", 0);
    int t, x = same_shape_pair(L, "kl_div", &t);
    ir_args tx = {.nin = 2, .in = {t, x}};
    int term;
    if (log_target) {
        ir_args e = {.nin = 1, .in = {t}};
        ir_args m = {.nin = 2,
                     .in = {make(L, OP_EXP, &e, "kl_div"), make(L, OP_SUB, &tx, "kl_div")}};
        term = make(L, OP_MUL, &m, "kl_div");
    } else {
        ir_args e = {.nin = 1, .in = {t}};
        ir_args d = {.nin = 2,
                     .in = {make(L, OP_XLOGX, &e, "kl_div"), make(L, OP_MUL, &tx, "kl_div")}};
        term = make(L, OP_SUB, &d, "kl_div");
    }
    int id = reduce_loss(L, term, red, "kl_div");
    const ir_node *xn = ir_get(s->g, x);
    set_task(L, x, xn->rank == 2 && xn->dim[1] >= 2 ? TASK_CLASSIFY : TASK_REGRESS);
    push_tensor(L, id);
    return 1;
}

/* l2_penalty() = Σ w² and l1_penalty() = Σ |w| over the trainable weights
 * made so far (parameters of two or more dimensions: biases usually go
 * unregularised); l2_penalty { biases = true } includes the rest. Add them
 * to the objective: minimize(loss + 1e-4 * l2_penalty()). */
static int regulariser(lua_State *L, int l1, const char *fname)
{
    spec_state *s = state(L);
    static const char *const keys[] = {"biases", NULL};
    check_keys(L, 1, fname, keys);
    int biases = opt_bool(L, 1, "biases", 0), total = -1, n = s->g->n;
    for (int i = 0; i < n; i++) {
        const ir_node *p = ir_get(s->g, i);
        if (p->kind != K_PARAM || !p->trainable || (p->rank < 2 && !biases)) continue;
        ir_args t = {.nin = 1, .in = {i}, .f = {2}};
        int term = l1 ? make(L, OP_ABS, &t, fname) : make(L, OP_POW, &t, fname);
        ir_args r = {.nin = 1, .in = {term}, .rank = 0};
        int sum = make(L, OP_SUM_TO, &r, fname);
        if (total < 0) {
            total = sum;
        } else {
            ir_args a = {.nin = 2, .in = {total, sum}};
            total = make(L, OP_ADD, &a, fname);
        }
    }
    if (total < 0) return spec_error(L, "%s: there are no weights to regularise yet", fname);
    push_tensor(L, total);
    return 1;
}

static int dsl_l2_penalty(lua_State *L)
{
    return regulariser(L, 0, "l2_penalty");
}
static int dsl_l1_penalty(lua_State *L)
{
    return regulariser(L, 1, "l1_penalty");
}

static int dsl_minimize(lua_State *L)
{
    spec_state *s = state(L);
    int id = check_tensor(L, 1, "minimize");
    const ir_node *n = ir_get(s->g, id);
    char sh[64];
    if (n->rank != 0 && (ir_is_batched(n) || ir_numel(n, 1) != 1))
        return spec_error(L, "minimize: the objective must be a scalar, got %s (take sum or mean)",
                          ir_shape_str(n, sh, sizeof sh));
    if (s->minimized) return spec_error(L, "minimize: the spec already has an objective");
    s->minimized = 1;
    s->g->loss = id;
    /* an objective over data should have its output recorded; a bare one is TASK_NONE */
    return 0;
}

/* output(t): the node predict writes (defaults to the loss's prediction) */
static int dsl_output(lua_State *L)
{
    spec_state *s = state(L);
    s->g->output = check_tensor(L, 1, "output");
    if (lua_isstring(L, 2)) {
        const char *t = lua_tostring(L, 2);
        s->g->task = !strcmp(t, "classify") ? TASK_CLASSIFY
                     : !strcmp(t, "values") ? TASK_REGRESS
                                            : TASK_NONE;
    }
    return 0;
}

/* ---- sequential { f1, f2, ... }: a function applying each in turn.
 * Layer makers (Linear(256), ReLU()) return such functions. */

static int seq_call(lua_State *L)
{
    int n = (int)lua_rawlen(L, lua_upvalueindex(1));
    lua_pushvalue(L, 2); /* argument after the callable table itself */
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, lua_upvalueindex(1), i);
        lua_insert(L, -2);
        lua_call(L, 1, 1);
    }
    return 1;
}

static int dsl_sequential(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    int n = (int)lua_rawlen(L, 1);
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, i);
        if (!lua_isfunction(L, -1) && !luaL_getmetafield(L, -1, "__call"))
            return spec_error(L, "sequential: entry %d is a %s, not a layer", i,
                              luaL_typename(L, -1));
        lua_settop(L, 1);
    }
    lua_newtable(L); /* callable object */
    lua_newtable(L); /* its metatable */
    lua_pushvalue(L, 1);
    lua_pushcclosure(L, seq_call, 1);
    lua_setfield(L, -2, "__call");
    lua_setmetatable(L, -2);
    return 1;
}

static int layer_linear_call(lua_State *L)
{
    lua_pushcfunction(L, dsl_linear);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_call(L, 3, 1);
    return 1;
}

/* Linear(out, opts) for sequential */
static int dsl_Linear(lua_State *L)
{
    luaL_checkinteger(L, 1);
    lua_settop(L, 2);
    lua_pushcclosure(L, layer_linear_call, 2);
    return 1;
}

static int layer_with_arg_call(lua_State *L)
{
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_call(L, 2, 1);
    return 1;
}

/* BatchNorm(opts), Dropout(p) for sequential */
static int dsl_BatchNorm(lua_State *L)
{
    lua_settop(L, 1);
    lua_pushcfunction(L, dsl_batch_norm);
    lua_insert(L, 1);
    lua_pushcclosure(L, layer_with_arg_call, 2);
    return 1;
}
static int dsl_Dropout(lua_State *L)
{
    lua_settop(L, 1);
    lua_pushcfunction(L, dsl_dropout);
    lua_insert(L, 1);
    lua_pushcclosure(L, layer_with_arg_call, 2);
    return 1;
}

static int layer_of(lua_State *L, lua_CFunction f)
{
    lua_pushcfunction(L, f);
    return 1;
}
static int dsl_ReLU(lua_State *L)
{
    return layer_of(L, dsl_relu);
}
static int dsl_Sigmoid(lua_State *L)
{
    return layer_of(L, dsl_sigmoid);
}
static int dsl_Tanh(lua_State *L)
{
    return layer_of(L, dsl_tanh);
}
/* ELU(alpha), GELU(approximate), Softplus(beta, threshold),
 * Hardtanh(min_val, max_val): the layer applies f(x, <the arguments given>) */
static int layer_args_call(lua_State *L)
{
    int n = (int)lua_tointeger(L, lua_upvalueindex(1));
    lua_settop(L, 1);
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_insert(L, 1);
    for (int i = 0; i < n; i++) lua_pushvalue(L, lua_upvalueindex(3 + i));
    lua_call(L, 1 + n, 1);
    return 1;
}

static int layer_with_args(lua_State *L, lua_CFunction f, const char *fname)
{
    int n = lua_gettop(L);
    if (n > 2) return spec_error(L, "%s: at most 2 arguments, got %d", fname, n);
    lua_pushinteger(L, n);
    lua_insert(L, 1);
    lua_pushcfunction(L, f);
    lua_insert(L, 2);
    lua_pushcclosure(L, layer_args_call, n + 2);
    return 1;
}
static int dsl_ELU(lua_State *L)
{
    return layer_with_args(L, dsl_elu, "ELU");
}
static int dsl_GELU(lua_State *L)
{
    return layer_with_args(L, dsl_gelu, "GELU");
}
static int dsl_Softplus(lua_State *L)
{
    return layer_with_args(L, dsl_softplus, "Softplus");
}
static int dsl_Hardtanh(lua_State *L)
{
    return layer_with_args(L, dsl_hardtanh, "Hardtanh");
}
static int dsl_Flatten(lua_State *L)
{
    return layer_of(L, dsl_flatten);
}
static int dsl_Softmax(lua_State *L)
{
    return layer_of(L, dsl_softmax);
}
static int dsl_LogSoftmax(lua_State *L)
{
    return layer_of(L, dsl_log_softmax);
}

/* Conv2d(out_channels, opts), MaxPool2d(k or opts), AvgPool2d(k or opts),
 * GlobalAvgPool() for sequential */
static int dsl_Conv2d(lua_State *L)
{
    luaL_checkinteger(L, 1);
    return layer_with_args(L, dsl_conv2d, "Conv2d");
}
static int dsl_MaxPool2d(lua_State *L)
{
    return layer_with_args(L, dsl_max_pool2d, "MaxPool2d");
}
static int dsl_AvgPool2d(lua_State *L)
{
    return layer_with_args(L, dsl_avg_pool2d, "AvgPool2d");
}
static int dsl_GlobalAvgPool(lua_State *L)
{
    return layer_of(L, dsl_global_avg_pool);
}

/* ---- settings: model, data, optimizer, train ---- */

static int dsl_model(lua_State *L)
{
    spec_state *s = state(L);
    const char *name = luaL_checkstring(L, 1);
    s->g->model_name = NULL;
    s->g->model_name = ir_c_name(s->g, name);
    return 0;
}

/* A tagged table: { kind = "...", file/line, options... } kept until the end. */
static int tagged(lua_State *L, const char *tag, const char *kind, const char *const *keys)
{
    if (!lua_isnoneornil(L, 1)) luaL_checktype(L, 1, LUA_TTABLE);
    check_keys(L, 1, kind, keys);
    lua_newtable(L);
    if (lua_istable(L, 1)) {
        lua_pushnil(L);
        while (lua_next(L, 1)) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_settable(L, -4);
        }
    }
    lua_pushstring(L, kind);
    lua_setfield(L, -2, tag);
    const char *file;
    int line;
    where(L, &file, &line);
    lua_pushinteger(L, line);
    lua_setfield(L, -2, "__line");
    return 1;
}

static int dsl_idx(lua_State *L)
{
    static const char *const keys[] = {"train", "test", "scale", "standardize", "valid", NULL};
    return tagged(L, "__data", "idx", keys);
}
static int dsl_npy(lua_State *L)
{
    static const char *const keys[] = {"train", "test", "scale", "standardize", "valid", NULL};
    return tagged(L, "__data", "npy", keys);
}
static int dsl_csv(lua_State *L)
{
    static const char *const keys[] = {"train", "test",        "label", "header",
                                       "scale", "standardize", "valid", NULL};
    return tagged(L, "__data", "csv", keys);
}
static int dsl_xor(lua_State *L)
{
    static const char *const keys[] = {"n", "noise", "test", "seed", "valid", NULL};
    return tagged(L, "__data", "xor", keys);
}
static int dsl_spirals(lua_State *L)
{
    static const char *const keys[] = {"n", "noise", "test", "seed", "standardize", "valid", NULL};
    return tagged(L, "__data", "spirals", keys);
}
static int dsl_linreg(lua_State *L)
{
    static const char *const keys[] = {"n",           "d",     "noise", "test", "seed",
                                       "standardize", "scale", "valid", NULL};
    return tagged(L, "__data", "linreg", keys);
}
/* sgd { lr = 0.1, ... }, adam { ... }, ...: one constructor per row of
 * opt_defs (gen/optim.c); the options are checked by name here and by value
 * when optim.c resolves them. */
static int dsl_optimizer(lua_State *L)
{
    const opt_def *d = lua_touserdata(L, lua_upvalueindex(1));
    const char *keys[IR_MAX_OPT + 2];
    int k = 0;
    for (; d->options[k].name && k < IR_MAX_OPT; k++) keys[k] = d->options[k].name;
    keys[k++] = "groups"; /* per-parameter options, read with the settings */
    keys[k] = NULL;
    return tagged(L, "__optim", d->name, keys);
}

/* step_lr { step_size = 10 }, cosine { warmup = 1 }, ...: one per row of
 * sched_defs (gen/optim.c) */
static int dsl_schedule(lua_State *L)
{
    const sched_def *d = lua_touserdata(L, lua_upvalueindex(1));
    const char *keys[IR_MAX_OPT + 1];
    int k = 0;
    for (; d->options[k].name && k < IR_MAX_OPT; k++) keys[k] = d->options[k].name;
    keys[k] = NULL;
    return tagged(L, "__sched", d->name, keys);
}

static int dsl_train(lua_State *L)
{
    spec_state *s = state(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    static const char *const keys[] = {
        "batch",           "epochs",         "seed",     "shuffle", "drop_last", "clip_grad_norm",
        "clip_grad_value", "early_stopping", "stratify", "augment", NULL};
    check_keys(L, 1, "train", keys);
    ir_train *t = &s->g->train;
    const char *file;
    where(L, &file, &t->line);
    (void)file;
    lua_getfield(L, 1, "batch");
    if (lua_type(L, -1) == LUA_TSTRING && !strcmp(lua_tostring(L, -1), "full"))
        t->batch = 0;
    else if (!lua_isnil(L, -1)) {
        int isnum;
        lua_Integer b = lua_tointegerx(L, -1, &isnum);
        if (!isnum || b < 0 || b > (1 << 24))
            return spec_error(L, "train: batch must be a positive integer or \"full\"");
        t->batch = (int)b;
    }
    lua_pop(L, 1);
    t->epochs = (int)opt_whole(L, 1, -1, "train", "epochs", 1, 0, 1e9);
    t->seed = (uint32_t)opt_whole(L, 1, -1, "train", "seed", 1, 0, 4294967295.0);
    t->shuffle = opt_bool(L, 1, "shuffle", 1);
    t->drop_last = opt_bool(L, 1, "drop_last", 0);
    t->clip_grad_norm = opt_number(L, 1, "clip_grad_norm", 0);
    t->clip_grad_value = opt_number(L, 1, "clip_grad_value", 0);
    /* early_stopping = { patience = 5, min_delta = 0, restore_best = true, monitor = "valid_loss" }
     */
    lua_getfield(L, 1, "early_stopping");
    if (!lua_isnil(L, -1)) {
        int es = lua_gettop(L);
        if (!lua_istable(L, es))
            return spec_error(L, "train: early_stopping must be a table such as { patience = 5 }");
        static const char *const es_keys[] = {"patience", "min_delta", "restore_best", "monitor",
                                              NULL};
        check_keys(L, es, "early_stopping", es_keys);
        t->early_stop = 1;
        t->es_patience = (int)opt_whole(L, es, -1, "early_stopping", "patience", 5, 1, 1 << 30);
        t->es_min_delta = opt_number(L, es, "min_delta", 0);
        t->es_restore = opt_bool(L, es, "restore_best", 1);
        const char *monitor = opt_string(L, es, "monitor", "valid_loss");
        if (strcmp(monitor, "valid_loss") && strcmp(monitor, "loss"))
            return spec_error(
                L, "early_stopping: monitor must be \"valid_loss\" or \"loss\", not '%s'", monitor);
        t->es_monitor_loss = !strcmp(monitor, "loss");
        if (t->es_min_delta < 0)
            return spec_error(L, "early_stopping: min_delta = %g must not be negative",
                              t->es_min_delta);
    }
    lua_pop(L, 1);
    t->stratify = opt_bool(L, 1, "stratify", 0);
    /* augment = { crop = 4, flip = true }: images of training batches only */
    lua_getfield(L, 1, "augment");
    if (!lua_isnil(L, -1)) {
        int au = lua_gettop(L);
        if (!lua_istable(L, au))
            return spec_error(L,
                              "train: augment must be a table such as { crop = 4, flip = true }");
        static const char *const au_keys[] = {"crop", "flip", NULL};
        check_keys(L, au, "augment", au_keys);
        t->aug_crop = (int)opt_whole(L, au, -1, "augment", "crop", 0, 0, 4096);
        t->aug_flip = opt_bool(L, au, "flip", 0);
    }
    lua_pop(L, 1);
    if (t->clip_grad_norm < 0 || t->clip_grad_value < 0)
        return spec_error(L, "train: clip_grad_norm and clip_grad_value must be positive");
    return 0;
}

/* ---- the sandbox ---- */

static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    spec_state *s = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        s->mem_used -= old;
        free(ptr);
        return NULL;
    }
    if (nsize > old && s->mem_used - old + nsize > s->mem_limit) {
        s->limit_hit = 1;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (p) s->mem_used = s->mem_used - old + nsize;
    return p;
}

static void count_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    spec_state *s = state(L);
    s->steps += 10000;
    if (s->steps > s->step_limit) {
        s->limit_hit = 1;
        spec_error(L, "the spec ran for more than %ld Lua instructions (an endless loop?)",
                   s->step_limit);
    }
}

/* pcall and xpcall, except that once a limit is hit the error goes on up:
 * a spec cannot catch its way past the sandbox's limits. */
static int safe_pcall(lua_State *L)
{
    int xp = lua_toboolean(L, lua_upvalueindex(1));
    int nargs = lua_gettop(L) - (xp ? 2 : 1), handler = 0;
    luaL_checkany(L, 1);
    if (xp) {
        luaL_checktype(L, 2, LUA_TFUNCTION);
        lua_pushvalue(L, 1); /* f, handler -> handler, f */
        lua_copy(L, 2, 1);
        lua_replace(L, 2);
        handler = 1;
    }
    int base = xp ? 2 : 1;
    int st = lua_pcall(L, nargs, LUA_MULTRET, handler);
    if (state(L)->limit_hit || st == LUA_ERRMEM) {
        state(L)->limit_hit = 1;
        return lua_error(L);
    }
    lua_pushboolean(L, st == LUA_OK);
    lua_insert(L, base);
    return lua_gettop(L) - base + 1;
}

static int no_string_dump(lua_State *L)
{
    return spec_error(L, "'string.dump' is not available in a spec: specs run in a sandbox without "
                         "files, processes or code loading");
}

/* Lua's pattern matcher runs in C, out of reach of the instruction count:
 * with q repetitions (* + - ?) it may backtrack some n^(q+1) times over an
 * n-byte string ("(.-)(.-)b" on 20000 bytes runs for hours). The pattern
 * functions refuse a pattern whose bound passes this budget (about seconds). */
#define PATTERN_BUDGET 1e9

static int guarded_pattern(lua_State *L)
{
    const char *name = lua_tostring(L, lua_upvalueindex(2));
    size_t n, plen;
    luaL_checklstring(L, 1, &n);
    const char *p = luaL_checklstring(L, 2, &plen);
    int plain = !strcmp(name, "find") && lua_toboolean(L, 4);
    int q = 0;
    for (size_t i = 0; i < plen && !plain; i++) {
        if (p[i] == '%')
            i++; /* an escape: the next character is literal */
        else if (strchr("*+-?", p[i]))
            q++;
    }
    if (!plain && pow((double)n + 1, q + 1) > PATTERN_BUDGET)
        return spec_error(L,
                          "string.%s: a pattern with %d repetitions over %zu characters could run "
                          "for hours; the spec sandbox refuses it",
                          name, q, n);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

static const char *const forbidden[] = {
    "os",     "io",      "require", "load",           "loadfile",
    "dofile", "debug",   "package", "collectgarbage", "loadstring",
    "module", "setfenv", "getfenv", "coroutine",      NULL};

static const luaL_Reg dsl[] = {
    {"model", dsl_model},
    {"input", dsl_input},
    {"labels", dsl_labels},
    {"param", dsl_param},
    {"linear", dsl_linear},
    {"matmul", dsl_matmul},
    {"transpose", dsl_transpose},
    {"exp", dsl_exp},
    {"log", dsl_log},
    {"sqrt", dsl_sqrt},
    {"abs", dsl_abs},
    {"relu", dsl_relu},
    {"leaky_relu", dsl_leaky_relu},
    {"sigmoid", dsl_sigmoid},
    {"tanh", dsl_tanh},
    {"softplus", dsl_softplus},
    {"elu", dsl_elu},
    {"gelu", dsl_gelu},
    {"hardtanh", dsl_hardtanh},
    {"nll", dsl_nll},
    {"kl_div", dsl_kl_div},
    {"huber", dsl_huber},
    {"smooth_l1", dsl_smooth_l1},
    {"ELU", dsl_ELU},
    {"GELU", dsl_GELU},
    {"Softplus", dsl_Softplus},
    {"Hardtanh", dsl_Hardtanh},
    {"softmax", dsl_softmax},
    {"log_softmax", dsl_log_softmax},
    {"sum", dsl_sum},
    {"mean", dsl_mean},
    {"reshape", dsl_reshape},
    {"flatten", dsl_flatten},
    {"conv2d", dsl_conv2d},
    {"max_pool2d", dsl_max_pool2d},
    {"avg_pool2d", dsl_avg_pool2d},
    {"global_avg_pool", dsl_global_avg_pool},
    {"mse", dsl_mse},
    {"l1", dsl_l1},
    {"bce", dsl_bce},
    {"bce_with_logits", dsl_bce_with_logits},
    {"cross_entropy", dsl_cross_entropy},
    {"logistic", dsl_logistic},
    {"minimize", dsl_minimize},
    {"l2_penalty", dsl_l2_penalty},
    {"l1_penalty", dsl_l1_penalty},
    {"output", dsl_output},
    {"sequential", dsl_sequential},
    {"Linear", dsl_Linear},
    {"ReLU", dsl_ReLU},
    {"Sigmoid", dsl_Sigmoid},
    {"Tanh", dsl_Tanh},
    {"Flatten", dsl_Flatten},
    {"Softmax", dsl_Softmax},
    {"LogSoftmax", dsl_LogSoftmax},
    {"Conv2d", dsl_Conv2d},
    {"MaxPool2d", dsl_MaxPool2d},
    {"AvgPool2d", dsl_AvgPool2d},
    {"GlobalAvgPool", dsl_GlobalAvgPool},
    {"zeros", dsl_zeros},
    {"ones", dsl_ones},
    {"constant", dsl_constant},
    {"normal", dsl_normal},
    {"uniform", dsl_uniform},
    {"xavier_uniform", dsl_xavier_uniform},
    {"xavier_normal", dsl_xavier_normal},
    {"kaiming_uniform", dsl_kaiming_uniform},
    {"kaiming_normal", dsl_kaiming_normal},
    {"orthogonal", dsl_orthogonal},
    {"calculate_gain", dsl_calculate_gain},
    {"defazio_bottou", dsl_defazio_bottou},
    {"idx", dsl_idx},
    {"csv", dsl_csv},
    {"npy", dsl_npy},
    {"xor", dsl_xor},
    {"spirals", dsl_spirals},
    {"linreg", dsl_linreg},
    {"train", dsl_train},
    /* normalisation and regularisation */
    {"batch_norm", dsl_batch_norm},
    {"dropout", dsl_dropout},
    {"dropconnect", dsl_dropconnect},
    {"BatchNorm", dsl_BatchNorm},
    {"Dropout", dsl_Dropout},
    {NULL, NULL},
};

/* Reading an unknown global is an error with a suggestion; the names the
 * sandbox removed say so. Globals the spec sets itself are plain reads. */
static int env_index(lua_State *L)
{
    const char *key = lua_tostring(L, 2);
    if (!key) return 0;
    for (int i = 0; forbidden[i]; i++)
        if (!strcmp(key, forbidden[i]))
            return spec_error(L,
                              "'%s' is not available in a spec: specs run in a sandbox without "
                              "files, processes or code loading",
                              key);
    /* settings the spec may leave unset */
    if (!strcmp(key, "data") || !strcmp(key, "optimizer") || !strcmp(key, "schedule")) return 0;
    static const char *names[sizeof dsl / sizeof *dsl + 24];
    int k = 0;
    for (const luaL_Reg *r = dsl; r->name; r++) names[k++] = r->name;
    static const char *const base[] = {"math",   "string", "table",    "print",    "pairs",
                                       "ipairs", "type",   "tostring", "tonumber", "error",
                                       "assert", "select", "pcall",    "next",     NULL};
    for (int i = 0; base[i]; i++) names[k++] = base[i];
    names[k] = NULL;
    const char *hint = closest(key, names);
    if (hint) return spec_error(L, "unknown name '%s' (did you mean '%s'?)", key, hint);
    return spec_error(L, "unknown name '%s'", key);
}

static void open_sandbox(lua_State *L)
{
    luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
    luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
    luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
    luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
    lua_settop(L, 0);
    lua_pushglobaltable(L);
    for (int i = 0; forbidden[i]; i++) {
        lua_pushnil(L);
        lua_setfield(L, -2, forbidden[i]);
    }
    /* string.dump would hand out bytecode; math.random must stay
     * reproducible, so it is seeded from nothing the machine varies */
    lua_getglobal(L, "string");
    lua_pushcfunction(L, no_string_dump);
    lua_setfield(L, -2, "dump");
    static const char *const pattern_fns[] = {"find", "match", "gmatch", "gsub", NULL};
    for (int i = 0; pattern_fns[i]; i++) {
        lua_getfield(L, -1, pattern_fns[i]);
        lua_pushstring(L, pattern_fns[i]);
        lua_pushcclosure(L, guarded_pattern, 2);
        lua_setfield(L, -2, pattern_fns[i]);
    }
    lua_pop(L, 1);
    lua_pushboolean(L, 0);
    lua_pushcclosure(L, safe_pcall, 1);
    lua_setglobal(L, "pcall");
    lua_pushboolean(L, 1);
    lua_pushcclosure(L, safe_pcall, 1);
    lua_setglobal(L, "xpcall");
    lua_getglobal(L, "math");
    lua_getfield(L, -1, "randomseed");
    lua_pushinteger(L, 1);
    lua_call(L, 1, 0);
    lua_pop(L, 1);
    luaL_setfuncs(L, dsl, 0);
    /* optimizer and schedule names share the globals with the DSL */
    for (const opt_def *d = opt_defs; d->name; d++) {
        lua_getfield(L, -1, d->name);
        assert(lua_isnil(L, -1) && "an optimizer's name is taken");
        lua_pop(L, 1);
        lua_pushlightuserdata(L, (void *)d);
        lua_pushcclosure(L, dsl_optimizer, 1);
        lua_setfield(L, -2, d->name);
    }
    for (const sched_def *d = sched_defs; d->name; d++) {
        lua_getfield(L, -1, d->name);
        assert(lua_isnil(L, -1) && "a schedule's name is taken");
        lua_pop(L, 1);
        lua_pushlightuserdata(L, (void *)d);
        lua_pushcclosure(L, dsl_schedule, 1);
        lua_setfield(L, -2, d->name);
    }
    lua_newtable(L);
    lua_pushcfunction(L, env_index);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    lua_pop(L, 1);

    luaL_newmetatable(L, TENSOR_MT);
    static const luaL_Reg meta[] = {{"__add", t_add},           {"__sub", t_sub}, {"__mul", t_mul},
                                    {"__div", t_div},           {"__pow", t_pow}, {"__unm", t_unm},
                                    {"__tostring", t_tostring}, {NULL, NULL}};
    luaL_setfuncs(L, meta, 0);
    static const luaL_Reg methods[] = {
        {"shape", t_shape},   {"reshape", dsl_reshape}, {"flatten", dsl_flatten},
        {"t", dsl_transpose}, {"sum", dsl_sum},         {"mean", dsl_mean},
        {NULL, NULL}};
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
}

static int traceback(lua_State *L)
{
    /* errors already carry file:line; keep the message as it is */
    if (!lua_isstring(L, 1))
        lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    return 1;
}

/* ---- reading the settings the spec left in globals ---- */

static const char *field_string(lua_State *L, int t, const char *key)
{
    lua_getfield(L, t, key);
    const char *v = lua_isstring(L, -1) ? arena_strdup(state(L)->g->A, lua_tostring(L, -1)) : NULL;
    lua_pop(L, 1);
    return v;
}

/* Data paths are relative to the spec's folder; the generated trainer gets
 * them absolute, since it runs from its own folder. */
static const char *data_path(lua_State *L, const char *p)
{
    spec_state *s = state(L);
    if (!p || p[0] == '/') return p;
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) return p;
    if (!s->dir[0]) return arena_printf(s->g->A, "%s/%s", cwd, p);
    if (s->dir[0] == '/') return arena_printf(s->g->A, "%s/%s", s->dir, p);
    return arena_printf(s->g->A, "%s/%s/%s", cwd, s->dir, p);
}

static void setting_error(lua_State *L, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void setting_error(lua_State *L, int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0)
        lua_pushfstring(L, "%s:%d: %s", state(L)->path, line, msg);
    else
        lua_pushfstring(L, "%s: %s", state(L)->path, msg);
    lua_error(L);
}

/* Does the parameter `label` belong to the group's `params`: a list of
 * names, or a Lua pattern ("%.bias$")? */
static int group_has(lua_State *L, int params, const char *label)
{
    if (lua_type(L, params) == LUA_TSTRING) {
        lua_getglobal(L, "string");
        lua_getfield(L, -1, "find");
        lua_pushstring(L, label);
        lua_pushvalue(L, params);
        lua_call(L, 2, 1);
        int found = !lua_isnil(L, -1);
        lua_pop(L, 2);
        return found;
    }
    int n = (int)lua_rawlen(L, params), found = 0;
    for (int i = 1; i <= n && !found; i++) {
        lua_rawgeti(L, params, i);
        found = lua_isstring(L, -1) && !strcmp(lua_tostring(L, -1), label);
        lua_pop(L, 1);
    }
    return found;
}

/* groups = { { params = "%.bias$", weight_decay = 0 }, { params = { "fc3.weight" }, lr = 0.01 } }:
 * per-parameter options as torch's parameter groups; the first group that
 * names a parameter sets its lr and weight decay. */
static void read_groups(lua_State *L, int t, const char *kind, int line)
{
    ir_graph *g = state(L)->g;
    if (!lua_istable(L, t))
        setting_error(L, line, "%s: groups must be a list of { params = ..., ... }", kind);
    int n = (int)lua_rawlen(L, t);
    char *taken = arena_alloc(g->A, (size_t)g->n + 1);
    for (int k = 1; k <= n; k++) {
        lua_rawgeti(L, t, k);
        int grp = lua_gettop(L);
        if (!lua_istable(L, grp)) setting_error(L, line, "%s: groups[%d] must be a table", kind, k);
        lua_pushnil(L);
        while (lua_next(L, grp)) {
            const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
            if (strcmp(key, "params") && strcmp(key, "lr") && strcmp(key, "weight_decay"))
                setting_error(L, line,
                              "%s: groups[%d]: unknown option '%s' (params, lr, weight_decay)",
                              kind, k, key);
            lua_pop(L, 1);
        }
        lua_getfield(L, grp, "params");
        int params = lua_gettop(L);
        if (!lua_isstring(L, params) && !lua_istable(L, params))
            setting_error(L, line,
                          "%s: groups[%d] needs params = a name pattern or a list of names", kind,
                          k);
        double lr = opt_number(L, grp, "lr", NAN), wd = opt_number(L, grp, "weight_decay", NAN);
        int matched = 0;
        for (int i = 0; i < g->n; i++) {
            ir_node *p = ir_get(g, i);
            /* running statistics (batch_norm) are never trained: no group takes them */
            if (p->kind != K_PARAM || p->buffer || taken[i] || !group_has(L, params, p->label))
                continue;
            taken[i] = 1;
            matched++;
            p->group_lr = lr;
            p->group_wd = wd;
        }
        if (!matched) setting_error(L, line, "%s: groups[%d] matches no parameter", kind, k);
        lua_settop(L, grp - 1);
    }
}

/* The options of an optimizer or schedule table as written; optim.c fills in
 * the defaults and checks them. */
static void read_choice(lua_State *L, int t, const char *kind, int line, ir_choice *c)
{
    spec_state *s = state(L);
    c->name = arena_strdup(s->g->A, kind);
    c->file = s->path;
    c->line = line;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        if (key && !strcmp(key, "groups")) {
            read_groups(L, lua_gettop(L), kind, line);
        } else if (key && strncmp(key, "__", 2) && c->nset < IR_MAX_OPT) {
            int k = c->nset;
            double *v = c->set_value[k];
            c->set_len[k] = 1;
            if (lua_isboolean(L, -1)) {
                v[0] = lua_toboolean(L, -1);
            } else if (lua_type(L, -1) == LUA_TNUMBER) {
                v[0] = lua_tonumber(L, -1);
            } else if (lua_type(L, -1) == LUA_TSTRING) {
                c->set_word[k] = arena_strdup(s->g->A, lua_tostring(L, -1));
            } else if (lua_istable(L, -1)) {
                int n = (int)lua_rawlen(L, -1);
                if (n < 1 || n > IR_MAX_LIST)
                    setting_error(L, line, "%s: %s must list 1 to %d numbers", kind, key,
                                  IR_MAX_LIST);
                for (int i = 0; i < n; i++) {
                    lua_rawgeti(L, -1, i + 1);
                    if (lua_type(L, -1) != LUA_TNUMBER)
                        setting_error(L, line, "%s: %s must list numbers", kind, key);
                    v[i] = lua_tonumber(L, -1);
                    lua_pop(L, 1);
                }
                c->set_len[k] = n;
            } else {
                setting_error(L, line, "%s: %s cannot be a %s", kind, key, luaL_typename(L, -1));
            }
            c->set_key[c->nset++] = arena_strdup(s->g->A, key);
        }
        lua_pop(L, 1);
    }
}

static int read_settings(lua_State *L)
{
    spec_state *s = state(L);
    ir_graph *g = s->g;
    lua_pushglobaltable(L);
    int G = lua_gettop(L);

    lua_rawgetp(L, LUA_REGISTRYINDEX, (void *)s);
    lua_pop(L, 1);

    lua_getfield(L, G, "data");
    if (!lua_isnil(L, -1)) {
        int t = lua_gettop(L);
        if (!lua_istable(L, t) || (lua_getfield(L, t, "__data"), lua_isnil(L, -1)))
            setting_error(L, 0,
                          "data must be a data source such as idx { ... }, npy { ... } or "
                          "csv { ... }");
        const char *kind = lua_tostring(L, -1);
        lua_pop(L, 1);
        lua_getfield(L, t, "__line");
        int line = (int)lua_tointeger(L, -1);
        lua_pop(L, 1);
        ir_data *d = &g->data;
        g->has_data = 1;
        d->line = line;
        d->file = s->path;
        d->scale = opt_number(L, t, "scale", 0);
        d->standardize = opt_bool(L, t, "standardize", 0);
        d->valid = opt_number(L, t, "valid", 0);
        if (d->valid < 0 || d->valid >= 1)
            setting_error(L, line, "%s: valid = %g; it must be a fraction in [0, 1)", kind,
                          d->valid);
        d->header = -1;
        d->label_col = -1;
        if (!strcmp(kind, "idx")) {
            d->kind = RT_SRC_IDX;
            lua_getfield(L, t, "train");
            if (!lua_istable(L, -1))
                setting_error(L, line, "idx: give train = { images = \"...\", labels = \"...\" }");
            d->train_images = data_path(L, field_string(L, lua_gettop(L), "images"));
            d->train_labels = data_path(L, field_string(L, lua_gettop(L), "labels"));
            if (!d->train_images || !d->train_labels)
                setting_error(L, line, "idx: train needs both images and labels");
            lua_pop(L, 1);
            lua_getfield(L, t, "test");
            if (lua_istable(L, -1)) {
                d->test_images = data_path(L, field_string(L, lua_gettop(L), "images"));
                d->test_labels = data_path(L, field_string(L, lua_gettop(L), "labels"));
                if (!d->test_images || !d->test_labels)
                    setting_error(L, line, "idx: test needs both images and labels");
            }
            lua_pop(L, 1);
        } else if (!strcmp(kind, "npy")) {
            /* x and y as images and labels: the readers take both the same way */
            d->kind = RT_SRC_NPY;
            lua_getfield(L, t, "train");
            if (!lua_istable(L, -1))
                setting_error(L, line, "npy: give train = { x = \"x.npy\", y = \"y.npy\" }");
            d->train_images = data_path(L, field_string(L, lua_gettop(L), "x"));
            d->train_labels = data_path(L, field_string(L, lua_gettop(L), "y"));
            if (!d->train_images) setting_error(L, line, "npy: train needs x (the features file)");
            lua_pop(L, 1);
            lua_getfield(L, t, "test");
            if (lua_istable(L, -1)) {
                d->test_images = data_path(L, field_string(L, lua_gettop(L), "x"));
                d->test_labels = data_path(L, field_string(L, lua_gettop(L), "y"));
                if (!d->test_images)
                    setting_error(L, line, "npy: test needs x (the features file)");
                if (!d->test_labels != !d->train_labels)
                    setting_error(L, line, "npy: give y for both train and test, or for neither");
            } else if (!lua_isnil(L, -1)) {
                setting_error(L, line, "npy: give test = { x = \"x.npy\", y = \"y.npy\" }");
            }
            lua_pop(L, 1);
        } else if (!strcmp(kind, "csv")) {
            d->kind = RT_SRC_CSV;
            d->train_path = data_path(L, field_string(L, t, "train"));
            d->test_path = data_path(L, field_string(L, t, "test"));
            if (!d->train_path) setting_error(L, line, "csv: give train = \"file.csv\"");
            lua_getfield(L, t, "label");
            if (lua_type(L, -1) == LUA_TNUMBER)
                d->label_col = (int)opt_whole(L, t, line, "csv", "label", -1, 0, 1 << 24);
            else if (lua_type(L, -1) == LUA_TSTRING)
                d->label = arena_strdup(g->A, lua_tostring(L, -1));
            lua_pop(L, 1);
            lua_getfield(L, t, "header");
            if (lua_isboolean(L, -1)) d->header = lua_toboolean(L, -1);
            lua_pop(L, 1);
        } else {
            d->kind = !strcmp(kind, "xor")       ? RT_SRC_XOR
                      : !strcmp(kind, "spirals") ? RT_SRC_SPIRALS
                                                 : RT_SRC_LINREG;
            d->n =
                (int)opt_whole(L, t, line, kind, "n", d->kind == RT_SRC_XOR ? 4 : 1000, 1, 1 << 26);
            d->n_test = (int)opt_whole(L, t, line, kind, "test", 0, 0, 1 << 26);
            d->d = (int)opt_whole(L, t, line, kind, "d", 2, 1, 1 << 20);
            d->noise = opt_number(L, t, "noise", d->kind == RT_SRC_SPIRALS ? 0.1 : 0);
            double seed = opt_whole(L, t, line, kind, "seed", -1, 0, 4294967295.0);
            if (seed != -1) {
                d->seed = (uint32_t)seed;
                d->has_seed = 1;
            }
            if ((double)d->n * d->d > 4e8)
                setting_error(L, line, "%s: %d x %d is more data than a synthetic set may have",
                              kind, d->n, d->d);
        }
    }
    lua_pop(L, 1);

    lua_getfield(L, G, "optimizer");
    if (!lua_isnil(L, -1)) {
        int t = lua_gettop(L);
        if (!lua_istable(L, t) || (lua_getfield(L, t, "__optim"), lua_isnil(L, -1)))
            setting_error(L, 0, "optimizer must be an optimizer such as sgd { lr = 0.1 }");
        const char *kind = lua_tostring(L, -1);
        lua_pop(L, 1);
        lua_getfield(L, t, "__line");
        int line = (int)lua_tointeger(L, -1);
        lua_pop(L, 1);
        read_choice(L, t, kind, line, &g->opt.c);
    } else {
        setting_error(L, 0, "the spec sets no optimizer (e.g. optimizer = sgd { lr = 0.1 })");
    }
    lua_pop(L, 1);

    lua_getfield(L, G, "schedule");
    if (!lua_isnil(L, -1)) {
        int t = lua_gettop(L);
        if (!lua_istable(L, t) || (lua_getfield(L, t, "__sched"), lua_isnil(L, -1)))
            setting_error(L, 0, "schedule must be a schedule such as step_lr { step_size = 10 }");
        const char *kind = lua_tostring(L, -1);
        lua_pop(L, 1);
        lua_getfield(L, t, "__line");
        int line = (int)lua_tointeger(L, -1);
        lua_pop(L, 1);
        read_choice(L, t, kind, line, &g->sched.c);
    }
    lua_pop(L, 2);
    return 0;
}

/* args = { key = value, ... } from --set key=value; numbers become numbers */
static void push_args(lua_State *L, const spec_options *opt)
{
    lua_newtable(L);
    for (int i = 0; opt && i < opt->nsets; i++) {
        const char *kv = opt->sets[i], *eq = strchr(kv, '=');
        lua_pushlstring(L, kv, (size_t)(eq - kv));
        const char *v = eq + 1;
        char *end;
        double d = strtod(v, &end);
        if (*v && !*end)
            lua_pushnumber(L, d);
        else if (!strcmp(v, "true") || !strcmp(v, "false"))
            lua_pushboolean(L, !strcmp(v, "true"));
        else
            lua_pushstring(L, v);
        if (lua_isnumber(L, -1) && d == (double)(lua_Integer)d) {
            lua_pop(L, 1);
            lua_pushinteger(L, (lua_Integer)d);
        }
        lua_settable(L, -3);
    }
    lua_setglobal(L, "args");
}

int spec_run(const char *path, ir_graph *g, const spec_options *lim, char *err, size_t errsize)
{
    spec_state s = {.g = g, .path = path};
    s.mem_limit = lim && lim->memory ? lim->memory : (size_t)256 << 20;
    s.step_limit = lim && lim->instructions ? lim->instructions : 200000000L;
    char *dir = arena_strdup(g->A, path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    else
        dir[0] = 0;
    s.dir = dir;
    g->spec_path = path;

    lua_State *L = lua_newstate(limited_alloc, &s);
    if (!L) {
        snprintf(err, errsize, "%s: cannot create a Lua state", path);
        return -1;
    }
    lua_atpanic(L, NULL);
    open_sandbox(L);
    push_args(L, lim);
    lua_sethook(L, count_hook, LUA_MASKCOUNT, 10000);

    /* the model name defaults to the spec's file name */
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    char stem[128];
    snprintf(stem, sizeof stem, "%s", base);
    char *dot = strrchr(stem, '.');
    if (dot) *dot = 0;
    g->model_name = ir_c_name(g, stem);

    int rc = -1;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errsize, "%s: cannot open: %s", path, strerror(errno));
        goto done;
    }
    fclose(f);
    lua_pushcfunction(L, traceback);
    char chunk[600];
    snprintf(chunk, sizeof chunk, "@%s", path);
    /* text only: a binary chunk would bypass the sandbox's checks */
    int st = luaL_loadfilex(L, path, "t");
    if (st == LUA_OK) st = lua_pcall(L, 0, 0, 1);
    if (st == LUA_OK) {
        lua_pushcfunction(L, read_settings);
        st = lua_pcall(L, 0, 0, 1);
    }
    if (st != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        if (st == LUA_ERRMEM || !msg)
            snprintf(err, errsize, "%s: the spec used more than %zu MiB of memory", path,
                     s.mem_limit >> 20);
        else
            snprintf(err, errsize, "%s", msg);
        goto done;
    }
    if (!s.minimized) {
        snprintf(err, errsize, "%s: the spec has no objective: call minimize(loss)", path);
        goto done;
    }
    rc = 0;
done:
    lua_close(L);
    return rc;
}
