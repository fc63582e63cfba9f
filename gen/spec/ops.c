/* spec/ops.c — the spec functions the op rows declare (op_def.dsl): for
 * every row with a name, name(x, options...) makes the op of x, with its
 * numeric options given positionally or by name and checked as the row
 * says; a plain number gives a number where the row allows it (exp(1));
 * and the row's layer maker for sequential (ReLU(), ELU(0.5)). Adding such
 * an op touches no file here. */
#include <math.h>
#include <stdio.h>

#include "spec_int.h"

static const op_dsl *dsl_of(lua_State *L, ir_op *op)
{
    *op = (ir_op)lua_tointeger(L, lua_upvalueindex(1));
    return &op_get(*op)->dsl;
}

/* The options into f, torch's names and defaults, given either
 * positionally, f(x, 1.5, 10), or by name, f(x, { beta = 1.5 }); finite. */
static void read_options(lua_State *L, const op_dsl *d, double *f)
{
    const char *keys[3] = {d->opt[0].name, d->opt[1].name, NULL};
    if (!keys[0]) return;
    int named = lua_istable(L, 2);
    if (named) spec_check_keys(L, 2, d->name, keys);
    for (int k = 0; keys[k]; k++) {
        int idx = 2 + k;
        if (named) {
            f[k] = spec_opt_number(L, 2, keys[k], d->opt[k].dflt);
        } else if (lua_isnoneornil(L, idx)) {
            f[k] = d->opt[k].dflt;
        } else if (lua_type(L, idx) != LUA_TNUMBER) {
            spec_error(L, "bad argument #%d to '%s' (%s: number expected, got %s)", idx, d->name,
                       keys[k], luaL_typename(L, idx));
        } else {
            f[k] = lua_tonumber(L, idx);
        }
        if (!isfinite(f[k])) spec_error(L, "%s: %s = %g must be finite", d->name, keys[k], f[k]);
    }
}

/* name(x, options...): upvalue 1 is the op */
static int op_function(lua_State *L)
{
    ir_op op;
    const op_dsl *d = dsl_of(L, &op);
    if (d->number && lua_type(L, 1) == LUA_TNUMBER) {
        lua_pushnumber(L, d->number(lua_tonumber(L, 1)));
        return 1;
    }
    double f[2] = {0};
    read_options(L, d, f);
    char msg[256];
    if (d->check && d->check(f, msg, sizeof msg)) return spec_error(L, "%s: %s", d->name, msg);
    ir_args a = {.nin = 1, .in = {spec_check_tensor(L, 1, d->name)}, .f = {f[0], f[1]}};
    return spec_push_op(L, op, &a, d->name);
}

/* Layer(options...): the op's function itself when it has no options, else
 * a layer applying it with the arguments given */
static int op_layer(lua_State *L)
{
    ir_op op;
    const op_dsl *d = dsl_of(L, &op);
    lua_pushinteger(L, op);
    lua_pushcclosure(L, op_function, 1);
    if (!d->opt[0].name) return 1;
    return spec_layer_apply(L, d->layer);
}

void spec_open_ops(lua_State *L)
{
    for (int op = 0; op < OP_COUNT; op++) {
        const op_dsl *d = &op_get((ir_op)op)->dsl;
        if (!d->name) continue;
        lua_pushinteger(L, op);
        lua_pushcclosure(L, op_function, 1);
        lua_setfield(L, -2, d->name);
        if (!d->layer) continue;
        lua_pushinteger(L, op);
        lua_pushcclosure(L, op_layer, 1);
        lua_setfield(L, -2, d->layer);
    }
}
