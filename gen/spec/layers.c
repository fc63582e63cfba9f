/* spec/layers.c — the layers that hold parameters or state: input and
 * labels, param, linear, batch_norm, dropout and dropconnect; and
 * sequential { ... } with the layer makers it takes (Linear(256),
 * BatchNorm(), Dropout(0.5); the other families add theirs). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../../runtime/rt.h"
#include "../probe.h"
#include "spec_int.h"

/* ---- leaves: input, labels, param ---- */

static int dsl_input(lua_State *L)
{
    spec_state *s = spec_state_of(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    static const char *const keys[] = {"name", NULL};
    spec_check_keys(L, 1, "input", keys);
    if (s->g->input >= 0) return spec_error(L, "input: the spec already has an input");
    ir_args a = {.rank = 1, .dim = {IR_BATCH}};
    int n = spec_dims_of(L, 1, "input", a.dim + 1, IR_MAX_RANK - 1);
    if (n == 0) return spec_error(L, "input: give the features per row, e.g. input { 784 }");
    a.rank += n;
    int id = spec_make(L, OP_INPUT, &a, "input");
    ir_node *x = ir_get(s->g, id);
    x->kind = K_INPUT;
    x->name = "x";
    x->label = spec_safe_label(L, spec_opt_string(L, 1, "name", "input"));
    s->g->input = id;
    spec_push_tensor(L, id);
    return 1;
}

/* labels { classes = { "a", "b", "c" } }: the names, class 0 first; K */
static int class_list(lua_State *L)
{
    spec_state *s = spec_state_of(L);
    lua_getfield(L, 1, "classes");
    int k = (int)luaL_len(L, -1);
    if (k < 2 || k > 1 << 24)
        return spec_error(L, "labels: classes = { ... } needs 2 or more class names, not %d", k);
    const char **names = arena_alloc(s->g->A, (size_t)k * sizeof *names);
    for (int i = 0; i < k; i++) {
        lua_rawgeti(L, -1, i + 1);
        if (lua_type(L, -1) != LUA_TSTRING || !lua_rawlen(L, -1))
            return spec_error(L, "labels: classes[%d] must be a class name (a string), not %s",
                              i + 1, luaL_tolstring(L, -1, NULL));
        names[i] = arena_strdup(s->g->A, lua_tostring(L, -1));
        for (int j = 0; j < i; j++)
            if (!strcmp(names[j], names[i]))
                return spec_error(L, "labels: class '%s' is named twice (classes[%d] and [%d])",
                                  names[i], j + 1, i + 1);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    s->g->class_names = names;
    s->g->n_class_names = k;
    return k;
}

/* labels { }: the classes are the distinct labels of the CSV the spec set as
 * its data (read now: the spec's shapes need K); K. Data errors are left
 * for the probe, which reads the file again and names them (exit 1). */
static int classes_of_data(lua_State *L)
{
    spec_state *s = spec_state_of(L);
    ir_data d;
    if (spec_csv_data(L, &d))
        return spec_error(L, "labels: give classes = K, classes = { \"a\", \"b\", ... } or a shape "
                             "such as { 1 }; or set data = csv { ... } before labels { } to take "
                             "the classes from its label column");
    s->g->classes_from_data = 1;
    rt_source src;
    probe_csv_source(s->g->A, &d, &src);
    rt_csv_info info;
    rt_error err;
    if (rt_csv_inspect(&src, 1, &info, &err)) return 0;
    int k = info.n_names;
    const char **names = arena_alloc(s->g->A, (size_t)(k ? k : 1) * sizeof *names);
    for (int i = 0; i < k; i++) names[i] = arena_strdup(s->g->A, info.names[i]);
    rt_csv_info_free(&info);
    if (k < 2)
        return spec_error(L, "labels { }: the label column of %s has %d class%s; a classifier "
                             "needs 2 or more",
                          d.train_path, k, k == 1 ? "" : "es");
    s->g->class_names = names;
    s->g->n_class_names = k;
    return k;
}

static int dsl_labels(lua_State *L)
{
    spec_state *s = spec_state_of(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    static const char *const keys[] = {"classes", "name", NULL};
    spec_check_keys(L, 1, "labels", keys);
    if (s->g->labels >= 0) return spec_error(L, "labels: the spec already has labels");
    ir_args a = {.rank = 1, .dim = {IR_BATCH}};
    lua_getfield(L, 1, "classes");
    int listed = lua_istable(L, -1);
    lua_pop(L, 1);
    int classes = listed ? class_list(L) : (int)spec_opt_whole(L, 1, -1, "labels", "classes", 0, 2, 1 << 24);
    int n = spec_dims_of(L, 1, "labels", a.dim + 1, IR_MAX_RANK - 1);
    if (classes && n) return spec_error(L, "labels: give either classes = K or a shape, not both");
    if (!classes && !n) classes = classes_of_data(L);
    a.rank += n;
    int id = spec_make(L, OP_LABELS, &a, "labels");
    ir_node *y = ir_get(s->g, id);
    y->kind = K_LABEL;
    y->name = "y";
    y->label = spec_safe_label(L, spec_opt_string(L, 1, "name", "labels"));
    s->g->labels = id;
    s->g->classes = classes;
    s->g->label_len = classes ? 1 : (int)ir_numel(y, 1);
    spec_push_tensor(L, id);
    return 1;
}

/* y:classes(), of labels: K, the number of classes (labels { } counted them
 * in the data; a file that could not be read is named now) */
int spec_labels_classes(lua_State *L)
{
    spec_state *s = spec_state_of(L);
    spec_tensor *t = luaL_checkudata(L, 1, TENSOR_MT);
    if (t->id != s->g->labels)
        return spec_error(L, "classes(): only labels { ... } have classes");
    if (!s->g->classes && s->g->classes_from_data) {
        ir_data d;
        rt_source src;
        rt_csv_info info;
        rt_error err;
        spec_csv_data(L, &d);
        probe_csv_source(s->g->A, &d, &src);
        if (rt_csv_inspect(&src, 1, &info, &err))
            return spec_error(L, "classes(): the classes come from the data: %s", err.msg);
        rt_csv_info_free(&info);
    }
    if (!s->g->classes)
        return spec_error(L, "classes(): these labels are values, not classes");
    lua_pushinteger(L, s->g->classes);
    return 1;
}

static int new_param(lua_State *L, const ir_args *a, const char *label, const char *cname)
{
    spec_state *s = spec_state_of(L);
    for (int i = 0; i < s->g->n; i++) {
        const ir_node *q = ir_get(s->g, i);
        if (q->kind == K_PARAM && !strcmp(q->label, label)) {
            const char *typed = spec_typed_label(s->g, label);
            if (strcmp(typed, label))
                return spec_error(L,
                                  "two parameters are named '%s' (from line %d; both written "
                                  "'%s'); names must differ",
                                  typed, q->line, label);
            return spec_error(L, "two parameters are named '%s' (from line %d); names must differ",
                              label, q->line);
        }
    }
    int id = spec_make(L, OP_PARAM, a, "param");
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
    spec_state *s = spec_state_of(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    static const char *const keys[] = {"init", "name", "frozen", NULL};
    spec_check_keys(L, 1, "param", keys);
    ir_args a = {0};
    a.rank = spec_dims_of(L, 1, "param", a.dim, IR_MAX_RANK);
    if (a.rank == 0) return spec_error(L, "param: give its shape, e.g. param { 500, 1 }");
    char defname[32];
    snprintf(defname, sizeof defname, "param%d", ++s->param_count);
    const char *label = spec_safe_label(L, spec_opt_string(L, 1, "name", defname));
    int id = new_param(L, &a, label, label);
    ir_node *p = ir_get(s->g, id);
    p->trainable = !spec_opt_bool(L, 1, "frozen", 0);
    lua_getfield(L, 1, "init");
    if (lua_isnil(L, -1)) {
        p->init.kind = INIT_ZEROS;
        p->init.what = "zeros (default)";
    } else {
        if (lua_type(L, -1) != LUA_TTABLE)
            return spec_error(L, "param: init must be an initialiser such as normal(0, 0.01)");
        p->init = spec_resolve_init(L, lua_gettop(L), p);
    }
    lua_pop(L, 1);
    spec_push_tensor(L, id);
    return 1;
}

/* ---- normalisation and regularisation: batch_norm, dropout, dropconnect
 * (the ops are in gen/ops/norm.c) ---- */

/* x kept with probability 1 - p and scaled by 1/(1-p) in training, x itself
 * in evaluation; each dropout has a mask of its own (its noise stream). */
static int make_dropout(lua_State *L, int x, double p, const char *fname, const char *name)
{
    spec_state *s = spec_state_of(L);
    if (ir_get(s->g, x)->kind == K_CONST)
        return spec_error(L, "%s: needs a tensor, not a number", fname);
    if (!(p >= 0 && p < 1)) return spec_error(L, "%s: p = %g; it must be in [0, 1)", fname, p);
    if (p == 0) return x; /* nothing dropped, nothing scaled */
    ir_args a = {.nin = 1, .in = {x}, .f = {p}, .i = {++s->dropout_count}};
    int y = spec_make(L, OP_DROPOUT, &a, fname);
    ir_get(s->g, y)->name = NULL;
    ir_get(s->g, y)->name =
        ir_c_name(s->g, name ? name : arena_printf(s->g->A, "%s%d", fname, s->dropout_count));
    return y;
}

/* dropout(x, p = 0.5), torch.nn.Dropout */
static int dsl_dropout(lua_State *L)
{
    int x = spec_check_tensor(L, 1, "dropout");
    spec_push_tensor(L, make_dropout(L, x, luaL_optnumber(L, 2, 0.5), "dropout", NULL));
    return 1;
}

/* dropconnect(w, p = 0.5): dropout of a weight tensor, one mask per step
 * for the whole batch (linear { dropconnect = p } does it to its weight) */
static int dsl_dropconnect(lua_State *L)
{
    int w = spec_check_tensor(L, 1, "dropconnect");
    if (ir_is_batched(ir_get(spec_state_of(L)->g, w)))
        return spec_error(L, "dropconnect: drops weights, not activations (use dropout)");
    spec_push_tensor(L, make_dropout(L, w, luaL_optnumber(L, 2, 0.5), "dropconnect", NULL));
    return 1;
}

/* A parameter of a layer: label "<layer>.<what>", constant init; c values,
 * or one scalar (rank 0) when c is 0. */
static int layer_param(lua_State *L, const char *layer, const char *what, int c, double value,
                       const char *init_text)
{
    spec_state *s = spec_state_of(L);
    ir_args a = {.rank = c > 0, .dim = {c}};
    int id = new_param(L, &a, arena_printf(s->g->A, "%s.%s", layer, what),
                       arena_printf(s->g->A, "%s_%s", layer, what));
    ir_get(s->g, id)->init = (ir_init){INIT_CONSTANT, value, 0, init_text};
    return id;
}

/* batch_norm's momentum: a number in [0, 1], or "cumulative" (torch's
 * momentum=None, which a Lua table cannot hold): the running statistics
 * average every batch so far */
static double bn_momentum(lua_State *L)
{
    double momentum = BN_CUMULATIVE;
    if (lua_istable(L, 2) && lua_getfield(L, 2, "momentum") == LUA_TSTRING) {
        if (strcmp(lua_tostring(L, -1), "cumulative") != 0)
            return spec_error(L,
                              "batch_norm: momentum = \"%s\"; it must be a number in [0, 1] or "
                              "\"cumulative\"",
                              lua_tostring(L, -1));
    } else {
        momentum = spec_opt_number(L, 2, "momentum", 0.1);
        if (!(momentum >= 0 && momentum <= 1))
            return spec_error(
                L, "batch_norm: momentum = %g; it must be in [0, 1] or \"cumulative\"", momentum);
    }
    lua_settop(L, 2);
    return momentum;
}

/* y * gamma + beta, gamma and beta [C] broadcast over the axes after the
 * channel's */
static int bn_affine(lua_State *L, const char *name, int y, int gamma, int beta, int c, int rank)
{
    spec_state *s = spec_state_of(L);
    for (int k = 0; k < 2 && rank > 2; k++) {
        ir_args va = {.nin = 1, .in = {k ? beta : gamma}, .rank = rank - 1, .dim = {c, 1, 1}};
        int view = spec_make(L, OP_RESHAPE, &va, "batch_norm");
        ir_get(s->g, view)->name =
            ir_c_name(s->g, arena_printf(s->g->A, "%s_%s_c", name, k ? "bias" : "weight"));
        if (k)
            beta = view;
        else
            gamma = view;
    }
    ir_args ma = {.nin = 2, .in = {y, gamma}};
    y = spec_make(L, OP_MUL, &ma, "batch_norm");
    ir_get(s->g, y)->name = ir_c_name(s->g, arena_printf(s->g->A, "%s_scaled", name));
    ir_args aa = {.nin = 2, .in = {y, beta}};
    y = spec_make(L, OP_ADD, &aa, "batch_norm");
    ir_get(s->g, y)->name = ir_c_name(s->g, name);
    return y;
}

/* batch_norm(x, { eps = 1e-5, momentum = 0.1 | "cumulative", affine = true, name = "bn1" }):
 * torch.nn.BatchNorm1d over the features of [rows x features] (or channels
 * of [rows x C x L]) and BatchNorm2d over the channels of [rows x C x H x W]. */
static int dsl_batch_norm(lua_State *L)
{
    spec_state *s = spec_state_of(L);
    lua_settop(L, 2);
    int x = spec_check_tensor(L, 1, "batch_norm");
    static const char *const keys[] = {"eps", "momentum", "affine", "name", NULL};
    if (!lua_isnil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
    spec_check_keys(L, 2, "batch_norm", keys);
    const ir_node *xn = ir_get(s->g, x);
    char sh[64];
    if (xn->rank < 2 || xn->dim[1] == IR_BATCH)
        return spec_error(L,
                          "batch_norm: input must be [rows x features] or [rows x channels x ...], "
                          "got %s",
                          ir_shape_str(xn, sh, sizeof sh));
    double eps = spec_opt_number(L, 2, "eps", 1e-5);
    if (!(eps > 0)) return spec_error(L, "batch_norm: eps = %g; it must be > 0", eps);
    double momentum = bn_momentum(L);
    int affine = spec_opt_bool(L, 2, "affine", 1);
    char defname[32];
    snprintf(defname, sizeof defname, "batch_norm%d", ++s->bn_count);
    const char *name = spec_safe_label(L, spec_opt_string(L, 2, "name", defname));
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
    int stats = spec_make(L, OP_BN_STATS, &sa, "batch_norm");
    ir_get(s->g, stats)->name = ir_c_name(s->g, arena_printf(s->g->A, "%s_stats", name));
    ir_args na = {.nin = 2, .in = {x, stats}};
    int y = spec_make(L, OP_BN_NORM, &na, "batch_norm");
    ir_get(s->g, y)->name = ir_c_name(s->g, affine ? arena_printf(s->g->A, "%s_xhat", name) : name);
    if (affine) y = bn_affine(L, name, y, gamma, beta, c, rank);
    spec_push_tensor(L, y);
    return 1;
}

/* A layer's weight <name>.weight of the given shape: opts.init (opts an
 * absolute index), or torch's default kaiming_uniform(a = √5), a bound of
 * 1/√fan_in. */
int spec_layer_weight(lua_State *L, int opts, const char *name, const ir_args *shape, long fan_in)
{
    spec_state *s = spec_state_of(L);
    int w = new_param(L, shape, arena_printf(s->g->A, "%s.weight", name),
                      arena_printf(s->g->A, "%s_weight", name));
    ir_node *wn = ir_get(s->g, w);
    spec_get_opt(L, opts, "init");
    if (lua_istable(L, -1)) {
        wn->init = spec_resolve_init(L, lua_gettop(L), wn);
    } else {
        double a = sqrt(5.0), gain = sqrt(2.0 / (1 + pow(a, 2)));
        double std = gain / sqrt((double)fan_in), wb = sqrt(3.0) * std;
        wn->init = (ir_init){
            INIT_UNIFORM, -wb, wb,
            arena_printf(s->g->A, "torch default: kaiming_uniform(a=√5) = U(-1/√%ld, 1/√%ld)",
                         fan_in, fan_in)};
    }
    lua_pop(L, 1);
    return w;
}

/* A layer's bias <name>.bias of n values: opts.bias_init, or torch's
 * default U(-1/√fan_in, 1/√fan_in). */
int spec_layer_bias(lua_State *L, int opts, const char *name, int n, long fan_in, int frozen)
{
    spec_state *s = spec_state_of(L);
    ir_args ba = {.rank = 1, .dim = {n}};
    int b = new_param(L, &ba, arena_printf(s->g->A, "%s.bias", name),
                      arena_printf(s->g->A, "%s_bias", name));
    ir_node *bn = ir_get(s->g, b);
    bn->trainable = !frozen;
    spec_get_opt(L, opts, "bias_init");
    if (lua_istable(L, -1)) {
        bn->init = spec_resolve_init(L, lua_gettop(L), bn);
    } else {
        double bound = 1 / sqrt((double)fan_in);
        bn->init =
            (ir_init){INIT_UNIFORM, -bound, bound,
                      arena_printf(s->g->A, "torch default: U(-1/√%ld, 1/√%ld)", fan_in, fan_in)};
    }
    lua_pop(L, 1);
    return b;
}

/* linear(x, out, { bias = true, name = "fc1", init = ..., bias_init = ... }):
 * y = x Wᵀ + b with W [out x in], as torch.nn.Linear (and its default init). */
static int dsl_linear(lua_State *L)
{
    spec_state *s = spec_state_of(L);
    lua_settop(L, 3);
    int x = spec_check_tensor(L, 1, "linear");
    lua_Integer out = luaL_checkinteger(L, 2);
    static const char *const keys[] = {"bias",   "name",        "init", "bias_init",
                                       "frozen", "dropconnect", NULL};
    spec_check_keys(L, 3, "linear", keys);
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
    const char *name = spec_safe_label(L, spec_opt_string(L, 3, "name", defname));
    int bias = spec_opt_bool(L, 3, "bias", 1);

    ir_args wa = {.rank = 2, .dim = {(int)out, in}};
    int w = spec_layer_weight(L, 3, name, &wa, in);
    int frozen = spec_opt_bool(L, 3, "frozen", 0);
    ir_get(s->g, w)->trainable = !frozen;
    /* dropconnect = p: the weight is dropped out in training (one mask a step) */
    double dc = spec_opt_number(L, 3, "dropconnect", 0);
    int wused = dc != 0 ? make_dropout(L, w, dc, "dropconnect",
                                       arena_printf(s->g->A, "%s_weight_dropped", name))
                        : w;
    ir_args ma = {.nin = 2, .in = {x, wused}, .i = {0, 1}};
    int y = spec_make(L, OP_MATMUL, &ma, "linear");
    ir_get(s->g, y)->name = ir_c_name(s->g, name);
    if (bias) {
        int b = spec_layer_bias(L, 3, name, (int)out, in, frozen);
        ir_args aa = {.nin = 2, .in = {y, b}};
        y = spec_make(L, OP_ADD, &aa, "linear");
        ir_get(s->g, y)->name = ir_c_name(s->g, arena_printf(s->g->A, "%s_out", name));
    }
    spec_push_tensor(L, y);
    return 1;
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

static int layer_with_arg(lua_State *L, lua_CFunction f)
{
    lua_settop(L, 1);
    lua_pushcfunction(L, f);
    lua_insert(L, 1);
    lua_pushcclosure(L, layer_with_arg_call, 2);
    return 1;
}

/* BatchNorm(opts), Dropout(p) for sequential */
static int dsl_BatchNorm(lua_State *L)
{
    return layer_with_arg(L, dsl_batch_norm);
}
static int dsl_Dropout(lua_State *L)
{
    return layer_with_arg(L, dsl_dropout);
}

int spec_layer_of(lua_State *L, lua_CFunction f)
{
    lua_pushcfunction(L, f);
    return 1;
}

/* the layer of a maker given arguments, ELU(2) or Conv2d(16, { kernel = 3 }):
 * f(x, <the arguments given>) */
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

int spec_layer_apply(lua_State *L, const char *fname)
{
    int n = lua_gettop(L) - 1;
    if (n > 2) return spec_error(L, "%s: at most 2 arguments, got %d", fname, n);
    lua_pushinteger(L, n);
    lua_insert(L, 1);
    lua_insert(L, 2); /* the function, after n */
    lua_pushcclosure(L, layer_args_call, n + 2);
    return 1;
}

int spec_layer_with_args(lua_State *L, lua_CFunction f, const char *fname)
{
    lua_pushcfunction(L, f);
    return spec_layer_apply(L, fname);
}

const luaL_Reg spec_layers_lib[] = {
    {"input", dsl_input},
    {"labels", dsl_labels},
    {"param", dsl_param},
    {"linear", dsl_linear},
    {"sequential", dsl_sequential},
    {"Linear", dsl_Linear},
    {"batch_norm", dsl_batch_norm},
    {"dropout", dsl_dropout},
    {"dropconnect", dsl_dropconnect},
    {"BatchNorm", dsl_BatchNorm},
    {"Dropout", dsl_Dropout},
    {NULL, NULL},
};
