/* spec/functions.c — the tensor functions without parameters that need
 * more than an op row says (spec/ops.c makes the rest: exp, relu, elu...):
 * matmul and transpose, gelu (its option picks the op), softmax and
 * log_softmax, sum and mean, reshape and flatten; the tensor methods
 * (x:shape(), x:sum(), ...) and the layer makers GELU, Flatten, Softmax and
 * LogSoftmax for sequential. */
#include <math.h>
#include <string.h>

#include "spec_int.h"

static int dsl_matmul(lua_State *L)
{
    return spec_binary(L, OP_MATMUL, "matmul");
}

static int dsl_transpose(lua_State *L)
{
    ir_args a = {.nin = 1, .in = {spec_check_tensor(L, 1, "transpose")}};
    return spec_push_op(L, OP_TRANSPOSE, &a, "transpose");
}

static int activation(lua_State *L, ir_op op, const char *fname, const double *f)
{
    ir_args a = {.nin = 1, .in = {spec_check_tensor(L, 1, fname)}, .f = {f[0], f[1]}};
    return spec_push_op(L, op, &a, fname);
}

/* gelu(x), gelu(x, "tanh") or gelu(x, { approximate = "tanh" }): the exact
 * x Φ(x) unless approximate = "tanh" */
static int dsl_gelu(lua_State *L)
{
    const char *approx = "none";
    if (lua_istable(L, 2)) {
        static const char *const keys[] = {"approximate", NULL};
        spec_check_keys(L, 2, "gelu", keys);
        approx = spec_opt_string(L, 2, "approximate", "none");
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
    int x = spec_check_tensor(L, 1, fname);
    const ir_node *n = ir_get(spec_state_of(L)->g, x);
    lua_Integer dim = luaL_optinteger(L, 2, -1);
    if (dim != -1 && dim != n->rank - 1)
        return spec_error(L, "%s: only the last dimension (dim = -1) is supported, got %lld", fname,
                          (long long)dim);
    ir_args a = {.nin = 1, .in = {x}};
    return spec_push_op(L, op, &a, fname);
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
    spec_state *s = spec_state_of(L);
    int x = spec_check_tensor(L, 1, fname);
    const ir_node *n = ir_get(s->g, x);
    ir_args a = {.nin = 1, .in = {x}, .i = {mean}};
    if (lua_isnoneornil(L, 2)) {
        a.rank = 0;
        return spec_push_op(L, OP_SUM_TO, &a, fname);
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
    int r = spec_make(L, OP_SUM_TO, &a, fname);
    if (!keep) {
        const ir_node *rn = ir_get(s->g, r);
        ir_args v = {.nin = 1, .in = {r}, .rank = 0};
        for (int i = 0; i < rn->rank; i++)
            if (i != dim) v.dim[v.rank++] = rn->dim[i];
        r = spec_make(L, OP_RESHAPE, &v, fname);
    }
    spec_push_tensor(L, r);
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
    int x = spec_check_tensor(L, 1, "reshape");
    luaL_checktype(L, 2, LUA_TTABLE);
    const ir_node *n = ir_get(spec_state_of(L)->g, x);
    ir_args a = {.nin = 1, .in = {x}};
    int b = ir_is_batched(n) ? 1 : 0;
    if (b) a.dim[0] = IR_BATCH;
    a.rank = b + spec_dims_of(L, 2, "reshape", a.dim + b, IR_MAX_RANK - b);
    return spec_push_op(L, OP_RESHAPE, &a, "reshape");
}

static int dsl_flatten(lua_State *L)
{
    int x = spec_check_tensor(L, 1, "flatten");
    const ir_node *n = ir_get(spec_state_of(L)->g, x);
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
    return spec_push_op(L, OP_RESHAPE, &a, "flatten");
}

/* x:shape() -> { "B", 256 } */
static int t_shape(lua_State *L)
{
    spec_tensor *t = luaL_checkudata(L, 1, TENSOR_MT);
    ir_node *n = ir_get(spec_state_of(L)->g, t->id);
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

/* GELU(approximate): the layer applies gelu(x, <the argument given>) */
static int dsl_GELU(lua_State *L)
{
    return spec_layer_with_args(L, dsl_gelu, "GELU");
}
static int dsl_Flatten(lua_State *L)
{
    return spec_layer_of(L, dsl_flatten);
}
static int dsl_Softmax(lua_State *L)
{
    return spec_layer_of(L, dsl_softmax);
}
static int dsl_LogSoftmax(lua_State *L)
{
    return spec_layer_of(L, dsl_log_softmax);
}

const luaL_Reg spec_functions_lib[] = {
    {"matmul", dsl_matmul},
    {"transpose", dsl_transpose},
    {"gelu", dsl_gelu},
    {"GELU", dsl_GELU},
    {"softmax", dsl_softmax},
    {"log_softmax", dsl_log_softmax},
    {"sum", dsl_sum},
    {"mean", dsl_mean},
    {"reshape", dsl_reshape},
    {"flatten", dsl_flatten},
    {"Flatten", dsl_Flatten},
    {"Softmax", dsl_Softmax},
    {"LogSoftmax", dsl_LogSoftmax},
    {NULL, NULL},
};

const luaL_Reg spec_tensor_methods[] = {
    {"shape", t_shape},   {"reshape", dsl_reshape}, {"flatten", dsl_flatten},
    {"t", dsl_transpose}, {"sum", dsl_sum},         {"mean", dsl_mean},
    {"classes", spec_labels_classes},
    {NULL, NULL}};
