/* spec_int.h — what the files of the spec stage share: the state of a
 * running spec, tensors as Lua values, the error helpers and option
 * readers, and the luaL_Reg table of each family of DSL functions (joined
 * in gen/spec.c, as Lua's linit.c joins its libraries). */
#ifndef SPEC_INT_H
#define SPEC_INT_H

#include <stddef.h>

#include <lauxlib.h>
#include <lua.h>

#include "../ir.h"
#include "../ops.h"

#define TENSOR_MT "trainc.tensor"

typedef struct spec_state {
    ir_graph *g;
    const char *path;
    const char *dir; /* the spec's folder: data paths are relative to it */
    size_t mem_used, mem_limit;
    int limit_hit; /* a limit stopped the spec: nothing may catch that */
    long steps, step_limit;
    lua_State *L; /* once made: the allocator hastens the count hook past step_limit */
    int minimized;
    int counters[OP_COUNT];
    int linear_count, param_count, conv_count;
    int bn_count, dropout_count; /* batch_norm layers; dropout masks (their noise streams) */
} spec_state;

typedef struct spec_tensor {
    int id;
} spec_tensor;

/* the state lives in the Lua state's allocator data (see spec.c) */
static inline spec_state *spec_state_of(lua_State *L)
{
    spec_state *s;
    lua_getallocf(L, (void **)&s);
    return s;
}

/* ---- the families: one table each ---- */
extern const luaL_Reg spec_layers_lib[];    /* spec/layers.c */
extern const luaL_Reg spec_functions_lib[]; /* spec/functions.c */
extern const luaL_Reg spec_conv_lib[];      /* spec/conv.c */
extern const luaL_Reg spec_loss_lib[];      /* spec/loss.c */
extern const luaL_Reg spec_init_lib[];      /* spec/init.c */
extern const luaL_Reg spec_data_lib[];      /* spec/data.c */
extern const luaL_Reg spec_settings_lib[];  /* spec/settings.c */
/* every table above, NULL-ended (spec.c) */
extern const luaL_Reg *const spec_libs[];
/* x:shape(), x:reshape(...), ...: the tensor methods (spec/functions.c) */
extern const luaL_Reg spec_tensor_methods[];

/* ---- tensors (spec.c) ---- */
void spec_push_tensor(lua_State *L, int id);
/* A tensor argument; numbers become constants. */
int spec_check_tensor(lua_State *L, int idx, const char *fname);
/* ir_make, named after its op and stamped with the spec line; errors raised */
int spec_make(lua_State *L, ir_op op, const ir_args *a, const char *fname);
int spec_push_op(lua_State *L, ir_op op, const ir_args *a, const char *fname);
int spec_binary(lua_State *L, ir_op op, const char *fname);

/* ---- positions, errors and option readers (spec/args.c) ---- */
void spec_where(lua_State *L, const char **file, int *line);
/* the same, and the prelude function and line that made the node (NULL:
 * the spec itself) */
void spec_where_via(lua_State *L, const char **file, int *line, const char **via);
/* the prelude's chunk name: gen/prelude.lua, run before every spec */
#define SPEC_PRELUDE_NAME "gen/prelude.lua"
#define SPEC_PRELUDE_CHUNK "@" SPEC_PRELUDE_NAME
/* raises "file:line: message" at the spec line running now */
int spec_error(lua_State *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* raises "file:line: message" at LINE (settings read after the spec ran) */
void spec_setting_error(lua_State *L, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
double spec_opt_number(lua_State *L, int t, const char *key, double dflt);
double spec_opt_whole(lua_State *L, int t, int line, const char *what, const char *key, double dflt,
                      double lo, double hi);
int spec_opt_bool(lua_State *L, int t, const char *key, int dflt);
const char *spec_opt_string(lua_State *L, int t, const char *key, const char *dflt);
/* Levenshtein distance (99 beyond 40 characters); with SPEC_TRANSPOSE two
 * neighbours swapped count one edit, with SPEC_FOLD_CASE letter case aside */
#define SPEC_TRANSPOSE 1
#define SPEC_FOLD_CASE 2
int spec_distance(const char *a, const char *b, int how);
const char *spec_closest(const char *word, const char *const *known);
void spec_get_opt(lua_State *L, int t, const char *key);
void spec_check_keys(lua_State *L, int t, const char *fname, const char *const *known);
const char *spec_safe_label(lua_State *L, const char *text);
/* A label as the spec typed it, for messages (the layer name before
 * spec_safe_label rewrote it, the latest such, shown by esc_visible) */
const char *spec_typed_label(ir_graph *g, const char *label);
int spec_dims_of(lua_State *L, int t, const char *fname, int *dim, int max);

/* ---- shared by the families ---- */
ir_init spec_resolve_init(lua_State *L, int t, const ir_node *p); /* spec/init.c */
/* spec/layers.c: a layer's weight and bias (torch's default init unless
 * opts says init/bias_init) and the makers sequential takes */
int spec_layer_weight(lua_State *L, int opts, const char *name, const ir_args *shape, long fan_in);
int spec_layer_bias(lua_State *L, int opts, const char *name, int n, long fan_in, int frozen);
int spec_layer_of(lua_State *L, lua_CFunction f);
int spec_layer_with_args(lua_State *L, lua_CFunction f, const char *fname);
/* the same for the function on top of the stack, above the arguments */
int spec_layer_apply(lua_State *L, const char *fname);
/* spec/ops.c: the functions and layer makers of the op rows (op_def.dsl) */
void spec_open_ops(lua_State *L);
/* spec/settings.c: { kind = "...", __line, options... } kept until the end */
int spec_tagged(lua_State *L, const char *tag, const char *kind, const char *const *keys);
void spec_open_choices(lua_State *L); /* sgd, adam, ..., step_lr, ... */
int spec_read_settings(lua_State *L);
void spec_read_data(lua_State *L, int G); /* spec/data.c: the global data */
/* spec/data.c: the csv { ... } the global data holds so far, or -1 */
int spec_csv_data(lua_State *L, ir_data *d);
/* spec/layers.c: y:classes(), the labels' number of classes */
int spec_labels_classes(lua_State *L);

/* ---- the sandbox (spec/sandbox.c) ---- */
void *spec_alloc(void *ud, void *ptr, size_t osize, size_t nsize);
void spec_count_hook(lua_State *L, lua_Debug *ar);
void spec_open_sandbox(lua_State *L); /* base libraries, limits and guards */
void spec_seal_globals(lua_State *L); /* unknown globals are errors from here on */

#endif
