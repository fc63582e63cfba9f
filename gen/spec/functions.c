/* spec/functions.c — the tensor functions without parameters: matmul and
 * transpose, the activations (exp ... gelu, with plain numbers staying
 * numbers), softmax and log_softmax, sum and mean, reshape and flatten; the
 * tensor methods (x:shape(), x:sum(), ...) and the activations' layer
 * makers for sequential (ReLU(), GELU("tanh"), ...). */
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
    ir_args a = {.nin = 1, .in = {spec_check_tensor(L, 1, fname)}, .f = {p}};
    return spec_push_op(L, op, &a, fname);
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
    if (named) spec_check_keys(L, 2, fname, keys);
    for (int k = 0; keys[k]; k++) {
        int idx = 2 + k;
        if (named) {
            f[k] = spec_opt_number(L, 2, keys[k], dflt[k]);
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
    ir_args a = {.nin = 1, .in = {spec_check_tensor(L, 1, fname)}, .f = {f[0], f[1]}};
    return spec_push_op(L, op, &a, fname);
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

/* the layer makers for sequential: ReLU() is relu itself */
static int dsl_ReLU(lua_State *L)
{
    return spec_layer_of(L, dsl_relu);
}
static int dsl_Sigmoid(lua_State *L)
{
    return spec_layer_of(L, dsl_sigmoid);
}
static int dsl_Tanh(lua_State *L)
{
    return spec_layer_of(L, dsl_tanh);
}
/* ELU(alpha), GELU(approximate), Softplus(beta, threshold),
 * Hardtanh(min_val, max_val): the layer applies f(x, <the arguments given>) */
static int dsl_ELU(lua_State *L)
{
    return spec_layer_with_args(L, dsl_elu, "ELU");
}
static int dsl_GELU(lua_State *L)
{
    return spec_layer_with_args(L, dsl_gelu, "GELU");
}
static int dsl_Softplus(lua_State *L)
{
    return spec_layer_with_args(L, dsl_softplus, "Softplus");
}
static int dsl_Hardtanh(lua_State *L)
{
    return spec_layer_with_args(L, dsl_hardtanh, "Hardtanh");
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
    {"ReLU", dsl_ReLU},
    {"Sigmoid", dsl_Sigmoid},
    {"Tanh", dsl_Tanh},
    {"Flatten", dsl_Flatten},
    {"Softmax", dsl_Softmax},
    {"LogSoftmax", dsl_LogSoftmax},
    {NULL, NULL},
};

const luaL_Reg spec_tensor_methods[] = {
    {"shape", t_shape},   {"reshape", dsl_reshape}, {"flatten", dsl_flatten},
    {"t", dsl_transpose}, {"sum", dsl_sum},         {"mean", dsl_mean},
    {NULL, NULL}};
