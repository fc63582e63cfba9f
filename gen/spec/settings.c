/* spec/settings.c — the training settings: model "name", train { ... },
 * the optimizers and schedules (one constructor per row of gen/optim.c's
 * tables, checked by name here and by value there), and the reading of the
 * globals the spec left (data, optimizer, schedule, their parameter
 * groups) once it has run. */
#include <assert.h>
#include <math.h>
#include <string.h>

#include "../escape.h"
#include "../optim.h"
#include "spec_int.h"

static int dsl_model(lua_State *L)
{
    spec_state *s = spec_state_of(L);
    size_t len;
    const char *name = luaL_checklstring(L, 1, &len);
    if (strlen(name) != len) return spec_error(L, "model: the name has a NUL byte");
    s->g->model_name = NULL;
    s->g->model_name = ir_c_name(s->g, name);
    s->g->model_typed = arena_strdup(s->g->A, name);
    const char *file;
    spec_where(L, &file, &s->g->model_line);
    return 0;
}

/* A tagged table: { kind = "...", file/line, options... } kept until the end. */
int spec_tagged(lua_State *L, const char *tag, const char *kind, const char *const *keys)
{
    if (!lua_isnoneornil(L, 1)) luaL_checktype(L, 1, LUA_TTABLE);
    spec_check_keys(L, 1, kind, keys);
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
    spec_where(L, &file, &line);
    lua_pushinteger(L, line);
    lua_setfield(L, -2, "__line");
    return 1;
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
    return spec_tagged(L, "__optim", d->name, keys);
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
    return spec_tagged(L, "__sched", d->name, keys);
}

/* sampling = "shuffle" | "replacement" and stop_grad_norm = eps: the
 * batch's rows drawn with replacement (torch's RandomSampler(replacement =
 * True)); training stopped when the full gradient's norm falls to eps (that
 * the batch is the full set is checked once the data's size is known, in
 * probe.c) */
static int train_sampling_stop(lua_State *L, ir_train *t)
{
    const char *sampling = spec_opt_string(L, 1, "sampling", "shuffle");
    if (strcmp(sampling, "shuffle") && strcmp(sampling, "replacement"))
        return spec_error(L,
                          "train: sampling = \"%s\"; it must be \"shuffle\" (each row once an "
                          "epoch) or \"replacement\" (rows drawn with replacement)",
                          sampling);
    t->sample_replace = !strcmp(sampling, "replacement");
    lua_getfield(L, 1, "shuffle");
    int no_shuffle = lua_isboolean(L, -1) && !lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (t->sample_replace && (no_shuffle || t->stratify))
        return spec_error(L,
                          "train: sampling = \"replacement\" draws the rows at random; it does "
                          "not go with %s",
                          no_shuffle ? "shuffle = false" : "stratify = true");
    lua_getfield(L, 1, "stop_grad_norm");
    int given = !lua_isnil(L, -1);
    lua_pop(L, 1);
    t->stop_grad_norm = spec_opt_number(L, 1, "stop_grad_norm", 0);
    if (given && !(t->stop_grad_norm > 0 && isfinite(t->stop_grad_norm)))
        return spec_error(L,
                          "train: stop_grad_norm = %g; it must be a number above 0 (the gradient "
                          "norm at which training stops)",
                          t->stop_grad_norm);
    return 0;
}

static int dsl_train(lua_State *L)
{
    spec_state *s = spec_state_of(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    static const char *const keys[] = {
        "batch",           "epochs",         "seed",           "shuffle", "drop_last",
        "clip_grad_norm",  "clip_grad_value", "early_stopping", "stratify", "augment",
        "sampling",        "stop_grad_norm", "shards",         "hvp",     "track_sharpness",
        NULL};
    spec_check_keys(L, 1, "train", keys);
    ir_train *t = &s->g->train;
    const char *file;
    spec_where(L, &file, &t->line);
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
    t->epochs = (int)spec_opt_whole(L, 1, -1, "train", "epochs", 1, 0, 1e9);
    t->seed = (uint32_t)spec_opt_whole(L, 1, -1, "train", "seed", 1, 0, 4294967295.0);
    t->shuffle = spec_opt_bool(L, 1, "shuffle", 1);
    t->drop_last = spec_opt_bool(L, 1, "drop_last", 0);
    t->clip_grad_norm = spec_opt_number(L, 1, "clip_grad_norm", 0);
    t->clip_grad_value = spec_opt_number(L, 1, "clip_grad_value", 0);
    /* early_stopping = { patience = 5, min_delta = 0, restore_best = true, monitor = "valid_loss" }
     */
    lua_getfield(L, 1, "early_stopping");
    if (!lua_isnil(L, -1)) {
        int es = lua_gettop(L);
        if (!lua_istable(L, es))
            return spec_error(L, "train: early_stopping must be a table such as { patience = 5 }");
        static const char *const es_keys[] = {"patience", "min_delta", "restore_best", "monitor",
                                              NULL};
        spec_check_keys(L, es, "early_stopping", es_keys);
        t->early_stop = 1;
        t->es_patience =
            (int)spec_opt_whole(L, es, -1, "early_stopping", "patience", 5, 1, 1 << 30);
        t->es_min_delta = spec_opt_number(L, es, "min_delta", 0);
        t->es_restore = spec_opt_bool(L, es, "restore_best", 1);
        const char *monitor = spec_opt_string(L, es, "monitor", "valid_loss");
        if (strcmp(monitor, "valid_loss") && strcmp(monitor, "loss"))
            return spec_error(
                L, "early_stopping: monitor must be \"valid_loss\" or \"loss\", not '%s'", monitor);
        t->es_monitor_loss = !strcmp(monitor, "loss");
        if (t->es_min_delta < 0)
            return spec_error(L, "early_stopping: min_delta = %g must not be negative",
                              t->es_min_delta);
    }
    lua_pop(L, 1);
    t->stratify = spec_opt_bool(L, 1, "stratify", 0);
    /* shards = S: the step's batch split in S shards (gen/shards.c) */
    lua_getfield(L, 1, "shards");
    int auto_shards = lua_type(L, -1) == LUA_TSTRING && !strcmp(lua_tostring(L, -1), "auto");
    if (lua_type(L, -1) == LUA_TSTRING && !auto_shards)
        return spec_error(
            L, "train: shards = '%s'; it must be a whole number from 1 to 4096 or \"auto\"",
            esc_visible(s->g->A, lua_tostring(L, -1), 40));
    lua_pop(L, 1);
    t->shards =
        auto_shards ? IR_SHARDS_AUTO : (int)spec_opt_whole(L, 1, -1, "train", "shards", 0, 1, 4096);
    t->hvp = spec_opt_bool(L, 1, "hvp", 0); /* model_hvp (gen/hvp.c) */
    /* track_sharpness = N: λmax by Lanczos on model_hvp every N epochs */
    t->track_sharpness =
        (int)spec_opt_whole(L, 1, -1, "train", "track_sharpness", 0, 1, 1e9);
    if (t->track_sharpness) t->hvp = 1;
    /* augment = { crop = 4, flip = true }: images of training batches only */
    lua_getfield(L, 1, "augment");
    if (!lua_isnil(L, -1)) {
        int au = lua_gettop(L);
        if (!lua_istable(L, au))
            return spec_error(L,
                              "train: augment must be a table such as { crop = 4, flip = true }");
        static const char *const au_keys[] = {"crop", "flip", NULL};
        spec_check_keys(L, au, "augment", au_keys);
        t->aug_crop = (int)spec_opt_whole(L, au, -1, "augment", "crop", 0, 0, 4096);
        t->aug_flip = spec_opt_bool(L, au, "flip", 0);
    }
    lua_pop(L, 1);
    if (t->clip_grad_norm < 0 || t->clip_grad_value < 0)
        return spec_error(L, "train: clip_grad_norm and clip_grad_value must be positive");
    return train_sampling_stop(L, t);
}

/* ---- reading the globals the spec left, once it has run ---- */

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
    ir_graph *g = spec_state_of(L)->g;
    if (!lua_istable(L, t))
        spec_setting_error(L, line, "%s: groups must be a list of { params = ..., ... }", kind);
    int n = (int)lua_rawlen(L, t);
    char *taken = arena_alloc(g->A, (size_t)g->n + 1);
    for (int k = 1; k <= n; k++) {
        lua_rawgeti(L, t, k);
        int grp = lua_gettop(L);
        if (!lua_istable(L, grp))
            spec_setting_error(L, line, "%s: groups[%d] must be a table", kind, k);
        lua_pushnil(L);
        while (lua_next(L, grp)) {
            const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
            if (strcmp(key, "params") && strcmp(key, "lr") && strcmp(key, "weight_decay"))
                spec_setting_error(L, line,
                                   "%s: groups[%d]: unknown option '%s' (params, lr, weight_decay)",
                                   kind, k, key);
            lua_pop(L, 1);
        }
        lua_getfield(L, grp, "params");
        int params = lua_gettop(L);
        if (!lua_isstring(L, params) && !lua_istable(L, params))
            spec_setting_error(L, line,
                               "%s: groups[%d] needs params = a name pattern or a list of names",
                               kind, k);
        double lr = spec_opt_number(L, grp, "lr", NAN),
               wd = spec_opt_number(L, grp, "weight_decay", NAN);
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
        if (!matched) spec_setting_error(L, line, "%s: groups[%d] matches no parameter", kind, k);
        lua_settop(L, grp - 1);
    }
}

/* The options of an optimizer or schedule table as written; optim.c fills in
 * the defaults and checks them. */
static void read_choice(lua_State *L, int t, const char *kind, int line, ir_choice *c)
{
    spec_state *s = spec_state_of(L);
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
                    spec_setting_error(L, line, "%s: %s must list 1 to %d numbers", kind, key,
                                       IR_MAX_LIST);
                for (int i = 0; i < n; i++) {
                    lua_rawgeti(L, -1, i + 1);
                    if (lua_type(L, -1) != LUA_TNUMBER)
                        spec_setting_error(L, line, "%s: %s must list numbers", kind, key);
                    v[i] = lua_tonumber(L, -1);
                    lua_pop(L, 1);
                }
                c->set_len[k] = n;
            } else {
                spec_setting_error(L, line, "%s: %s cannot be a %s", kind, key,
                                   luaL_typename(L, -1));
            }
            c->set_key[c->nset++] = arena_strdup(s->g->A, key);
        }
        lua_pop(L, 1);
    }
}

/* The global NAME (an optimizer or a schedule, tagged TAG) into c; G is
 * the global table's index. Returns 0 when the spec does not set it. */
static int read_tagged(lua_State *L, int G, const char *name, const char *tag, const char *what,
                       ir_choice *c)
{
    lua_getfield(L, G, name);
    int set = !lua_isnil(L, -1);
    if (set) {
        int t = lua_gettop(L);
        if (!lua_istable(L, t) || (lua_getfield(L, t, tag), lua_isnil(L, -1)))
            spec_setting_error(L, 0, "%s must be %s", name, what);
        const char *kind = lua_tostring(L, -1);
        lua_pop(L, 1);
        lua_getfield(L, t, "__line");
        int line = (int)lua_tointeger(L, -1);
        lua_pop(L, 1);
        read_choice(L, t, kind, line, c);
    }
    lua_pop(L, 1);
    return set;
}

/* data, optimizer and schedule, as the spec left them in its globals */
int spec_read_settings(lua_State *L)
{
    ir_graph *g = spec_state_of(L)->g;
    lua_pushglobaltable(L);
    int G = lua_gettop(L);
    spec_read_data(L, G);
    if (!read_tagged(L, G, "optimizer", "__optim", "an optimizer such as sgd { lr = 0.1 }",
                     &g->opt.c))
        spec_setting_error(L, 0, "the spec sets no optimizer (e.g. optimizer = sgd { lr = 0.1 })");
    read_tagged(L, G, "schedule", "__sched", "a schedule such as step_lr { step_size = 10 }",
                &g->sched.c);
    lua_pop(L, 1);
    return 0;
}

/* sgd, adam, ...; step_lr, cosine, ...: optimizer and schedule names share
 * the globals (on top of the stack) with the DSL */
void spec_open_choices(lua_State *L)
{
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
}

const luaL_Reg spec_settings_lib[] = {
    {"model", dsl_model},
    {"train", dsl_train},
    {NULL, NULL},
};
