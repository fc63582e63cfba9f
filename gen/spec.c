/* spec.c — runs a spec (see spec.h): the state of a running spec, tensors
 * as userdata holding a node id with their metatable, and the join of the
 * DSL's families (gen/spec/: one file and one luaL_Reg table each, as Lua's
 * linit.c joins its libraries). DSL functions make IR nodes through
 * ir_make, so every shape rule lives in gen/ops/. Errors are raised the Lua
 * way and carry the spec file and line. */
#include "spec.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "prelude.h"
#include "spec/spec_int.h"

/* The families of the DSL, each a luaL_Reg table of its own (gen/spec/). */
const luaL_Reg *const spec_libs[] = {
    spec_layers_lib, spec_functions_lib, spec_conv_lib,     spec_loss_lib,
    spec_init_lib,   spec_data_lib,      spec_settings_lib, NULL};

void spec_push_tensor(lua_State *L, int id)
{
    spec_tensor *t = lua_newuserdatauv(L, sizeof *t, 0);
    t->id = id;
    luaL_setmetatable(L, TENSOR_MT);
}

static int is_tensor(lua_State *L, int idx)
{
    return luaL_testudata(L, idx, TENSOR_MT) != NULL;
}

int spec_check_tensor(lua_State *L, int idx, const char *fname)
{
    spec_tensor *t = luaL_testudata(L, idx, TENSOR_MT);
    if (t) return t->id;
    if (lua_type(L, idx) == LUA_TNUMBER) return ir_const(spec_state_of(L)->g, lua_tonumber(L, idx));
    return spec_error(L, "bad argument #%d to '%s' (tensor expected, got %s)", idx, fname,
                      luaL_typename(L, idx));
}

/* Names a node after its op ("relu3") and stamps its spec position. */
static int finish(lua_State *L, int id, const char *base)
{
    spec_state *s = spec_state_of(L);
    ir_node *n = ir_get(s->g, id);
    spec_where_via(L, &n->file, &n->line, &n->via);
    n->phase = PH_FORWARD;
    if (!n->name) {
        char buf[64];
        snprintf(buf, sizeof buf, "%s%d", base ? base : ir_op_name(n->op), ++s->counters[n->op]);
        n->name = ir_c_name(s->g, buf);
    }
    return id;
}

int spec_make(lua_State *L, ir_op op, const ir_args *a, const char *fname)
{
    char err[512];
    int id = ir_make(spec_state_of(L)->g, op, a, err, sizeof err);
    if (id < 0) {
        size_t fl = strlen(fname);
        /* shape rules may already name the op */
        if (!strncmp(err, fname, fl) && err[fl] == ':') return spec_error(L, "%s", err);
        return spec_error(L, "%s: %s", fname, err);
    }
    return finish(L, id, NULL);
}

int spec_push_op(lua_State *L, ir_op op, const ir_args *a, const char *fname)
{
    spec_push_tensor(L, spec_make(L, op, a, fname));
    return 1;
}

int spec_binary(lua_State *L, ir_op op, const char *fname)
{
    ir_args a = {.nin = 2};
    a.in[0] = spec_check_tensor(L, 1, fname);
    a.in[1] = spec_check_tensor(L, 2, fname);
    return spec_push_op(L, op, &a, fname);
}

static int t_add(lua_State *L)
{
    return spec_binary(L, OP_ADD, "+");
}
static int t_sub(lua_State *L)
{
    return spec_binary(L, OP_SUB, "-");
}
static int t_mul(lua_State *L)
{
    return spec_binary(L, OP_MUL, "*");
}
static int t_div(lua_State *L)
{
    return spec_binary(L, OP_DIV, "/");
}

static int t_pow(lua_State *L)
{
    if (!is_tensor(L, 1)) {
        /* c ^ x = e^(x ln c) */
        double c = luaL_checknumber(L, 1);
        if (c <= 0) return spec_error(L, "^: base %g must be positive for a tensor exponent", c);
        ir_args m = {.nin = 2,
                     .in = {spec_check_tensor(L, 2, "^"), ir_const(spec_state_of(L)->g, log(c))}};
        ir_args e = {.nin = 1, .in = {spec_make(L, OP_MUL, &m, "^")}};
        return spec_push_op(L, OP_EXP, &e, "^");
    }
    if (lua_type(L, 2) != LUA_TNUMBER)
        return spec_error(L, "^: the exponent must be a number, got %s", luaL_typename(L, 2));
    ir_args a = {.nin = 1, .in = {spec_check_tensor(L, 1, "^")}, .f = {lua_tonumber(L, 2)}};
    return spec_push_op(L, OP_POW, &a, "^");
}

static int t_unm(lua_State *L)
{
    ir_args a = {.nin = 1, .in = {spec_check_tensor(L, 1, "-")}};
    return spec_push_op(L, OP_NEG, &a, "-");
}

static int t_tostring(lua_State *L)
{
    spec_tensor *t = luaL_checkudata(L, 1, TENSOR_MT);
    ir_node *n = ir_get(spec_state_of(L)->g, t->id);
    char buf[64];
    lua_pushfstring(L, "tensor %s %s", n->label ? n->label : n->name,
                    ir_shape_str(n, buf, sizeof buf));
    return 1;
}

/* The globals: the sandbox, every family's functions, the optimizers and
 * schedules, and the tensors' metatable. */
static void open_dsl(lua_State *L)
{
    spec_open_sandbox(L);
    for (int i = 0; spec_libs[i]; i++) luaL_setfuncs(L, spec_libs[i], 0);
    spec_open_ops(L);
    spec_open_choices(L);
    spec_seal_globals(L);
    lua_pop(L, 1);

    luaL_newmetatable(L, TENSOR_MT);
    static const luaL_Reg meta[] = {{"__add", t_add},           {"__sub", t_sub}, {"__mul", t_mul},
                                    {"__div", t_div},           {"__pow", t_pow}, {"__unm", t_unm},
                                    {"__tostring", t_tostring}, {NULL, NULL}};
    luaL_setfuncs(L, meta, 0);
    lua_newtable(L);
    luaL_setfuncs(L, spec_tensor_methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
}

/* tensor(x, fname), for the prelude: x as a tensor */
static int prelude_tensor(lua_State *L)
{
    spec_push_tensor(L, spec_check_tensor(L, 1, luaL_checkstring(L, 2)));
    return 1;
}

/* Runs gen/prelude.lua (embedded) in the sandbox, with its helpers */
static int run_prelude(lua_State *L)
{
    int st =
        luaL_loadbufferx(L, (const char *)prelude_lua, prelude_lua_len, SPEC_PRELUDE_CHUNK, "t");
    if (st != LUA_OK) return lua_error(L);
    lua_newtable(L);
    lua_pushcfunction(L, prelude_tensor);
    lua_setfield(L, -2, "tensor");
    lua_call(L, 1, 0);
    return 0;
}

static int traceback(lua_State *L)
{
    /* errors already carry file:line; keep the message as it is */
    if (!lua_isstring(L, 1))
        lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    return 1;
}

static int args_next(lua_State *L)
{
    lua_settop(L, 2);
    return lua_next(L, 1) ? 2 : (lua_pushnil(L), 1);
}

/* args.KEY through the proxy: marks the --set options of KEY read */
static void mark_read(const spec_options *opt, const char *key, size_t len)
{
    for (int i = 0; i < opt->nsets; i++)
        if (key && !strncmp(opt->sets[i], key, len) && opt->sets[i][len] == '=')
            opt->sets_read[i] = 1;
}

static int args_index(lua_State *L)
{
    const spec_options *opt = lua_touserdata(L, lua_upvalueindex(2));
    if (lua_type(L, 2) == LUA_TSTRING) {
        size_t len;
        const char *key = lua_tolstring(L, 2, &len);
        mark_read(opt, key, len);
    }
    lua_pushvalue(L, 2);
    lua_gettable(L, lua_upvalueindex(1));
    return 1;
}

/* pairs(args): every key counts as read */
static int args_pairs(lua_State *L)
{
    const spec_options *opt = lua_touserdata(L, lua_upvalueindex(2));
    for (int i = 0; i < opt->nsets; i++) opt->sets_read[i] = 1;
    lua_getglobal(L, "next");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushcfunction(L, args_next);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushnil(L);
    return 3;
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
    if (opt && opt->sets_read) { /* reads go through a proxy that marks them */
        lua_newtable(L);                  /* the proxy */
        lua_newtable(L);                  /* its metatable */
        lua_pushvalue(L, -3);             /* the values */
        lua_pushlightuserdata(L, (void *)opt);
        lua_pushcclosure(L, args_index, 2);
        lua_setfield(L, -2, "__index");
        lua_pushvalue(L, -3);
        lua_pushlightuserdata(L, (void *)opt);
        lua_pushcclosure(L, args_pairs, 2);
        lua_setfield(L, -2, "__pairs");
        lua_setmetatable(L, -2);
        lua_remove(L, -2);
    }
    lua_setglobal(L, "args");
}

/* The spec's bytes read already, loaded as luaL_loadfilex loads a file: a
 * UTF-8 byte-order mark skipped, a first line starting with '#' (#!) left
 * out but its newline kept, so the line numbers stay the file's */
static int load_text(lua_State *L, const char *text, size_t len, const char *chunk)
{
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) text += 3, len -= 3;
    if (len && text[0] == '#') {
        const char *nl = memchr(text, '\n', len);
        len = nl ? len - (size_t)(nl - text) : 1;
        text = nl ? nl : "\n";
    }
    return luaL_loadbufferx(L, text, len, chunk, "t");
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

    lua_State *L = lua_newstate(spec_alloc, &s);
    if (!L) {
        snprintf(err, errsize, "%s: cannot create a Lua state", path);
        return -1;
    }
    s.L = L;
    lua_atpanic(L, NULL);
    open_dsl(L);
    push_args(L, lim);
    lua_sethook(L, spec_count_hook, LUA_MASKCOUNT, 10000);

    /* the model name defaults to the spec's file name */
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    char *stem = arena_strdup(g->A, base);
    char *dot = strrchr(stem, '.');
    if (dot) *dot = 0;
    g->model_name = ir_c_name(g, stem);
    g->model_typed = stem;
    g->model_line = 0;

    int rc = -1;
    FILE *f = lim && lim->text ? NULL : fopen(path, "rb");
    if (!f && !(lim && lim->text)) {
        snprintf(err, errsize, "%s: cannot open: %s", path, strerror(errno));
        goto done;
    }
    if (f) fclose(f);
    lua_pushcfunction(L, traceback);
    const char *chunk = arena_printf(g->A, "@%s", path); /* as luaL_loadfilex names it */
    lua_pushcfunction(L, run_prelude);
    int st = lua_pcall(L, 0, 0, 1);
    /* text only: a binary chunk would bypass the sandbox's checks */
    if (st == LUA_OK) st = lim && lim->text ? load_text(L, lim->text, lim->text_len, chunk)
                                            : luaL_loadfilex(L, path, "t");
    if (st == LUA_OK) st = lua_pcall(L, 0, 0, 1);
    if (st == LUA_OK) {
        lua_pushcfunction(L, spec_read_settings);
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
    if (strcmp(g->model_typed, g->model_name))
        ir_renamed(g, "model", g->model_typed, g->model_name, path, g->model_line);
    rc = 0;
done:
    lua_close(L);
    return rc;
}
