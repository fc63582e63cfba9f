/* spec/init.c — the initialisers: zeros(), normal(0, 0.01), xavier_uniform(),
 * kaiming_normal { mode = "fan_out" }, ... make tables { init = kind, ... }
 * that resolve_init turns into a parameter's ir_init against its fans, in
 * torch.nn.init's arithmetic (calculate_gain included). */
#include <math.h>
#include <string.h>

#include "spec_int.h"

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
ir_init spec_resolve_init(lua_State *L, int t, const ir_node *p)
{
    ir_init in = {0};
    arena *A = spec_state_of(L)->g->A;
    const char *kind = spec_opt_string(L, t, "init", NULL);
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
        in.a = spec_opt_number(L, t, "value", NAN);
        if (isnan(in.a)) spec_error(L, "constant: give the value, e.g. constant(0.1)");
        in.what = arena_printf(A, "constant(%g)", in.a);
    } else if (!strcmp(kind, "uniform")) {
        in.kind = INIT_UNIFORM;
        in.a = spec_opt_number(L, t, "a", 0);
        in.b = spec_opt_number(L, t, "b", 1);
        if (!(in.a < in.b)) spec_error(L, "uniform: a = %g must be below b = %g", in.a, in.b);
        in.what = arena_printf(A, "uniform(%g, %g)", in.a, in.b);
    } else if (!strcmp(kind, "normal")) {
        in.kind = INIT_NORMAL;
        in.a = spec_opt_number(L, t, "mean", 0);
        in.b = spec_opt_number(L, t, "std", 1);
        if (!(in.b >= 0)) spec_error(L, "normal: std = %g must not be negative", in.b);
        in.what = arena_printf(A, "normal(%g, %g)", in.a, in.b);
    } else if (!strcmp(kind, "orthogonal") || !strcmp(kind, "defazio_bottou")) {
        if (!fans_ok) spec_error(L, "%s: needs a tensor of at least 2 dimensions", kind);
        if (kind[0] == 'o') {
            in.kind = INIT_ORTHOGONAL;
            in.a = spec_opt_number(L, t, "gain", 1);
            in.what = arena_printf(A, "orthogonal(gain=%g): QR of N(0, 1) draws, as torch", in.a);
        } else {
            double c = spec_opt_number(L, t, "c", 1);
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
            gain = spec_opt_number(L, t, "gain", 1);
            std = gain * sqrt(2.0 / (double)(fan_in + fan_out));
            in.what = arena_printf(A, "%s(gain=%g): fan_in=%ld, fan_out=%ld", kind, gain, fan_in,
                                   fan_out);
        } else {
            lua_getfield(L, t, "a");
            int has_a = !lua_isnil(L, -1);
            lua_pop(L, 1);
            double a = spec_opt_number(L, t, "a", 0);
            const char *mode = spec_opt_string(L, t, "mode", "fan_in");
            const char *nl = spec_opt_string(L, t, "nonlinearity", "leaky_relu");
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

const luaL_Reg spec_init_lib[] = {
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
    {NULL, NULL},
};
