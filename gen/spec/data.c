/* spec/data.c — the data a spec trains on: idx { ... }, npy { ... },
 * csv { ... } and the synthetic xor, spirals and linreg { ... } make tagged
 * tables; once the spec has run, spec_read_data turns the global data into
 * the graph's ir_data, with paths relative to the spec's folder. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../runtime/rt.h"
#include "spec_int.h"

static int dsl_idx(lua_State *L)
{
    static const char *const keys[] = {"train", "test", "scale", "standardize", "valid", NULL};
    return spec_tagged(L, "__data", "idx", keys);
}
static int dsl_npy(lua_State *L)
{
    static const char *const keys[] = {"train", "test", "scale", "standardize", "valid", NULL};
    return spec_tagged(L, "__data", "npy", keys);
}
static int dsl_csv(lua_State *L)
{
    static const char *const keys[] = {"train", "test",        "label", "header", "sep",
                                       "features", "drop", "scale", "standardize", "valid", NULL};
    return spec_tagged(L, "__data", "csv", keys);
}
static int dsl_xor(lua_State *L)
{
    static const char *const keys[] = {"n", "noise", "test", "seed", "valid", NULL};
    return spec_tagged(L, "__data", "xor", keys);
}
static int dsl_spirals(lua_State *L)
{
    static const char *const keys[] = {"n", "noise", "test", "seed", "standardize", "valid", NULL};
    return spec_tagged(L, "__data", "spirals", keys);
}
static int dsl_linreg(lua_State *L)
{
    static const char *const keys[] = {"n",           "d",     "noise", "test", "seed",
                                       "standardize", "scale", "valid", NULL};
    return spec_tagged(L, "__data", "linreg", keys);
}

const luaL_Reg spec_data_lib[] = {
    {"idx", dsl_idx},         {"csv", dsl_csv},       {"npy", dsl_npy}, {"xor", dsl_xor},
    {"spirals", dsl_spirals}, {"linreg", dsl_linreg}, {NULL, NULL},
};

/* ---- reading the global data once the spec has run ---- */

static const char *field_string(lua_State *L, int t, const char *key)
{
    lua_getfield(L, t, key);
    const char *v =
        lua_isstring(L, -1) ? arena_strdup(spec_state_of(L)->g->A, lua_tostring(L, -1)) : NULL;
    lua_pop(L, 1);
    return v;
}

/* Data paths are relative to the spec's folder; the generated trainer gets
 * them absolute, since it runs from its own folder. */
static const char *data_path(lua_State *L, const char *p)
{
    spec_state *s = spec_state_of(L);
    if (!p || p[0] == '/') return p;
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) return p;
    if (!s->dir[0]) return arena_printf(s->g->A, "%s/%s", cwd, p);
    if (s->dir[0] == '/') return arena_printf(s->g->A, "%s/%s", s->dir, p);
    return arena_printf(s->g->A, "%s/%s/%s", cwd, s->dir, p);
}

/* idx { train = { images = ..., labels = ... }, test = { ... } } */
static void read_idx(lua_State *L, int t, int line, ir_data *d)
{
    d->kind = RT_SRC_IDX;
    lua_getfield(L, t, "train");
    if (!lua_istable(L, -1))
        spec_setting_error(L, line, "idx: give train = { images = \"...\", labels = \"...\" }");
    d->train_images = data_path(L, field_string(L, lua_gettop(L), "images"));
    d->train_labels = data_path(L, field_string(L, lua_gettop(L), "labels"));
    if (!d->train_images || !d->train_labels)
        spec_setting_error(L, line, "idx: train needs both images and labels");
    lua_pop(L, 1);
    lua_getfield(L, t, "test");
    if (!d->test_split && lua_istable(L, -1)) {
        d->test_images = data_path(L, field_string(L, lua_gettop(L), "images"));
        d->test_labels = data_path(L, field_string(L, lua_gettop(L), "labels"));
        if (!d->test_images || !d->test_labels)
            spec_setting_error(L, line, "idx: test needs both images and labels");
    }
    lua_pop(L, 1);
}

/* npy { train = { x = ..., y = ... }, test = { ... } }: x and y as images
 * and labels (the readers take both the same way) */
static void read_npy(lua_State *L, int t, int line, ir_data *d)
{
    d->kind = RT_SRC_NPY;
    lua_getfield(L, t, "train");
    if (!lua_istable(L, -1))
        spec_setting_error(L, line, "npy: give train = { x = \"x.npy\", y = \"y.npy\" }");
    d->train_images = data_path(L, field_string(L, lua_gettop(L), "x"));
    d->train_labels = data_path(L, field_string(L, lua_gettop(L), "y"));
    if (!d->train_images) spec_setting_error(L, line, "npy: train needs x (the features file)");
    lua_pop(L, 1);
    lua_getfield(L, t, "test");
    if (d->test_split) {
        /* a fraction of the training file (read_holdout) */
    } else if (lua_istable(L, -1)) {
        d->test_images = data_path(L, field_string(L, lua_gettop(L), "x"));
        d->test_labels = data_path(L, field_string(L, lua_gettop(L), "y"));
        if (!d->test_images) spec_setting_error(L, line, "npy: test needs x (the features file)");
        if (!d->test_labels != !d->train_labels)
            spec_setting_error(L, line, "npy: give y for both train and test, or for neither");
    } else if (!lua_isnil(L, -1)) {
        spec_setting_error(L, line, "npy: give test = { x = \"x.npy\", y = \"y.npy\" }");
    }
    lua_pop(L, 1);
}

/* A list of columns { "name", 3, ... } (key of table t): names or 0-based
 * indices; *n of them. */
static const ir_column *read_columns(lua_State *L, int t, int line, const char *key, int *n)
{
    arena *A = spec_state_of(L)->g->A;
    *n = 0;
    lua_getfield(L, t, key);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return NULL;
    }
    if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER) {
        lua_newtable(L); /* one column: { it } */
        lua_insert(L, -2);
        lua_rawseti(L, -2, 1);
    }
    if (!lua_istable(L, -1) || luaL_len(L, -1) < 1)
        spec_setting_error(L, line, "csv: %s = { \"name\", 3, ... }: give column names or 0-based "
                                    "indices",
                           key);
    int len = (int)luaL_len(L, -1);
    if (len > 1 << 20) spec_setting_error(L, line, "csv: %s: more than 2^20 columns", key);
    ir_column *c = arena_alloc(A, (size_t)len * sizeof *c);
    for (int i = 0; i < len; i++) {
        lua_rawgeti(L, -1, i + 1);
        double v = lua_tonumber(L, -1);
        if (lua_type(L, -1) == LUA_TSTRING) {
            c[i].name = arena_strdup(A, lua_tostring(L, -1));
        } else if (lua_type(L, -1) == LUA_TNUMBER && v == (int)v && v >= 0 && v < 1 << 24) {
            c[i].index = (int)v;
        } else {
            spec_setting_error(L, line, "csv: %s[%d] must be a column name or a 0-based index, not %s",
                               key, i + 1, luaL_tolstring(L, -1, NULL));
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    *n = len;
    return c;
}

/* csv { train = "file.csv", test = ..., label = column or name, header = ...,
 * sep = ";", features = { ... } or drop = { ... } } */
static void read_csv(lua_State *L, int t, int line, ir_data *d)
{
    d->kind = RT_SRC_CSV;
    d->train_path = data_path(L, field_string(L, t, "train"));
    if (!d->test_split) d->test_path = data_path(L, field_string(L, t, "test"));
    if (!d->train_path) spec_setting_error(L, line, "csv: give train = \"file.csv\"");
    lua_getfield(L, t, "label");
    if (lua_type(L, -1) == LUA_TNUMBER && lua_tonumber(L, -1) == -1)
        d->label_col = RT_CSV_LAST; /* Python's -1 */
    else if (lua_type(L, -1) == LUA_TNUMBER)
        d->label_col = (int)spec_opt_whole(L, t, line, "csv", "label", -1, 0, 1 << 24);
    else if (lua_type(L, -1) == LUA_TSTRING && !strcmp(lua_tostring(L, -1), "last"))
        d->label_col = RT_CSV_LAST;
    else if (lua_type(L, -1) == LUA_TSTRING)
        d->label = arena_strdup(spec_state_of(L)->g->A, lua_tostring(L, -1));
    lua_pop(L, 1);
    lua_getfield(L, t, "header");
    if (lua_isboolean(L, -1)) d->header = lua_toboolean(L, -1);
    lua_pop(L, 1);
    const char *sep = spec_opt_string(L, t, "sep", NULL);
    if (sep && (strlen(sep) != 1 || strchr("\"\r\n", sep[0])))
        spec_setting_error(L, line,
                           "csv: sep = \"%s\"; give one character such as \",\", \";\" or \"\\t\"",
                           sep);
    d->sep = sep ? sep[0] : 0;
    d->features = read_columns(L, t, line, "features", &d->n_features);
    d->drop = read_columns(L, t, line, "drop", &d->n_drop);
    if (d->features && d->drop)
        spec_setting_error(L, line, "csv: give features = { ... } or drop = { ... }, not both");
}

/* The CSV source the spec's data global names so far (labels { } reads its
 * class names while the spec runs): 0 with *d filled, or -1 when data is
 * not a csv { ... } yet. */
int spec_csv_data(lua_State *L, ir_data *d)
{
    memset(d, 0, sizeof *d);
    d->header = -1;
    d->label_col = -1;
    lua_pushglobaltable(L);
    lua_pushstring(L, "data");
    lua_rawget(L, -2); /* raw: reading an unset global is an error in a spec */
    lua_remove(L, -2);
    int t = lua_gettop(L), is_csv = 0;
    if (lua_istable(L, t)) {
        lua_getfield(L, t, "__data");
        is_csv = lua_isstring(L, -1) && !strcmp(lua_tostring(L, -1), "csv");
        lua_pop(L, 1);
    }
    if (is_csv) {
        lua_getfield(L, t, "__line");
        d->line = (int)lua_tointeger(L, -1);
        lua_pop(L, 1);
        read_csv(L, t, d->line, d);
    }
    lua_pop(L, 1);
    return is_csv ? 0 : -1;
}

/* xor, spirals and linreg { n, d, noise, test, seed } */
static void read_synthetic(lua_State *L, int t, int line, const char *kind, ir_data *d)
{
    d->kind = !strcmp(kind, "xor")       ? RT_SRC_XOR
              : !strcmp(kind, "spirals") ? RT_SRC_SPIRALS
                                         : RT_SRC_LINREG;
    d->n = (int)spec_opt_whole(L, t, line, kind, "n", d->kind == RT_SRC_XOR ? 4 : 1000, 1, 1 << 26);
    d->n_test = (int)spec_opt_whole(L, t, line, kind, "test", 0, 0, 1 << 26);
    d->d = (int)spec_opt_whole(L, t, line, kind, "d", 2, 1, 1 << 20);
    d->noise = spec_opt_number(L, t, "noise", d->kind == RT_SRC_SPIRALS ? 0.1 : 0);
    double seed = spec_opt_whole(L, t, line, kind, "seed", -1, 0, 4294967295.0);
    if (seed != -1) {
        d->seed = (uint32_t)seed;
        d->has_seed = 1;
    }
    if ((double)d->n * d->d > 4e8)
        spec_setting_error(L, line, "%s: %d x %d is more data than a synthetic set may have", kind,
                           d->n, d->d);
}

/* valid = 0.1 or valid = { fraction = 0.1, order = "random" | "tail", seed = S }
 * (and test likewise): the fraction of the training file held out, and how
 * the rows are chosen. Returns 0 when t[key] is neither (absent, or for test
 * a file). */
static int read_holdout(lua_State *L, int t, int line, const char *kind, const char *key,
                        double *frac, int *tail, ir_data *d)
{
    int type = lua_getfield(L, t, key), v = lua_gettop(L), table = 0;
    if (type == LUA_TTABLE) {
        table = lua_getfield(L, v, "fraction") != LUA_TNIL;
        lua_pop(L, 1);
    }
    if (type != LUA_TNUMBER && !table) {
        lua_pop(L, 1);
        /* test may be a file instead: the source's reader takes it */
        if (type != LUA_TNIL && strcmp(key, "test"))
            spec_setting_error(L, line,
                               "%s: %s must be a fraction such as 0.1 or { fraction = 0.1, order = "
                               "\"tail\" }",
                               kind, key);
        return 0;
    }
    if (table) {
        static const char *const keys[] = {"fraction", "order", "seed", NULL};
        for (lua_pushnil(L); lua_next(L, v); lua_pop(L, 1)) {
            int known = 0;
            for (int i = 0; keys[i] && lua_type(L, -2) == LUA_TSTRING; i++)
                known |= !strcmp(keys[i], lua_tostring(L, -2));
            if (!known)
                spec_setting_error(L, line, "%s: %s has no option '%s' (fraction, order, seed)",
                                   kind, key,
                                   lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?");
        }
        *frac = spec_opt_number(L, v, "fraction", 0);
        const char *order = spec_opt_string(L, v, "order", "random");
        if (strcmp(order, "random") && strcmp(order, "tail"))
            spec_setting_error(L, line, "%s: %s: order = \"%s\"; it must be \"random\" or \"tail\"",
                               kind, key, order);
        *tail = !strcmp(order, "tail");
        double seed = spec_opt_whole(L, v, line, kind, "seed", -1, 0, 4294967295.0);
        /* one draw holds out both parts: one seed */
        if (seed >= 0 && d->has_split_seed && d->split_seed != (uint32_t)seed)
            spec_setting_error(
                L, line, "%s: test and valid draw their rows together: give them one seed", kind);
        if (seed >= 0) d->split_seed = (uint32_t)seed, d->has_split_seed = 1;
        if (!(*frac > 0 && *frac < 1))
            spec_setting_error(L, line, "%s: %s = { fraction = %g }; it must be in (0, 1)", kind,
                               key, *frac);
    } else {
        *frac = lua_tonumber(L, v);
        if (!(*frac >= 0 && *frac < 1))
            spec_setting_error(L, line, "%s: %s = %g; it must be a fraction in [0, 1)", kind, key,
                               *frac);
    }
    lua_pop(L, 1);
    return 1;
}

/* The rows held out of the training file: validation for every source,
 * testing for the file sources (the synthetic ones draw a test set). */
static void read_holdouts(lua_State *L, int t, int line, const char *kind, ir_data *d)
{
    d->split_seed = spec_state_of(L)->g->train.seed;
    read_holdout(L, t, line, kind, "valid", &d->valid, &d->valid_tail, d);
    if (strcmp(kind, "idx") && strcmp(kind, "npy") && strcmp(kind, "csv")) return;
    d->test_split = read_holdout(L, t, line, kind, "test", &d->test_frac, &d->test_tail, d);
    if (d->test_frac + d->valid >= 1)
        spec_setting_error(L, line,
                           "%s: test = %g and valid = %g hold out every row; together they must "
                           "be below 1",
                           kind, d->test_frac, d->valid);
}

/* The global data (G the global table's index), when the spec sets it. */
void spec_read_data(lua_State *L, int G)
{
    spec_state *s = spec_state_of(L);
    ir_graph *g = s->g;
    lua_getfield(L, G, "data");
    if (!lua_isnil(L, -1)) {
        int t = lua_gettop(L);
        if (!lua_istable(L, t) || (lua_getfield(L, t, "__data"), lua_isnil(L, -1)))
            spec_setting_error(L, 0,
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
        d->scale = spec_opt_number(L, t, "scale", 0);
        d->standardize = spec_opt_bool(L, t, "standardize", 0);
        read_holdouts(L, t, line, kind, d);
        d->header = -1;
        d->label_col = -1;
        if (!strcmp(kind, "idx"))
            read_idx(L, t, line, d);
        else if (!strcmp(kind, "npy"))
            read_npy(L, t, line, d);
        else if (!strcmp(kind, "csv"))
            read_csv(L, t, line, d);
        else
            read_synthetic(L, t, line, kind, d);
    }
    lua_pop(L, 1);
}
