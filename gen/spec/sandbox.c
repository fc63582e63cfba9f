/* spec/sandbox.c — the sandbox a spec runs in: Lua's base, math, string,
 * table and utf8 libraries without files, processes or code loading; a
 * memory limit (the allocator) and an instruction limit (a count hook) that
 * pcall cannot catch; pattern functions refused a pattern that could
 * backtrack for hours; and unknown globals as errors with the closest known
 * name as a suggestion. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lualib.h>

#include "spec_int.h"

/* The Lua state's allocator: at most mem_limit bytes in all. Allocating
 * counts as work too (a step per ALLOC_BYTES_PER_STEP bytes), so that a
 * loop whose C calls make big strings and drop them, ('x'):rep(1e5) a
 * billion times, meets the instruction limit though it runs few
 * instructions and holds little memory. Past the limit the count hook is
 * made to run at the next instruction: left to its every 10000th, such a
 * loop would allocate gigabytes more first (a fuzzed spec took minutes
 * under AddressSanitizer). */
#define ALLOC_BYTES_PER_STEP 8
void *spec_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
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
    if (nsize > old) s->steps += (long)((nsize - old) / ALLOC_BYTES_PER_STEP);
    if (s->steps > s->step_limit && s->L) lua_sethook(s->L, spec_count_hook, LUA_MASKCOUNT, 1);
    return p;
}

/* Called every 10000 instructions: the spec stops past step_limit. */
void spec_count_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    spec_state *s = spec_state_of(L);
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
    if (spec_state_of(L)->limit_hit || st == LUA_ERRMEM) {
        spec_state_of(L)->limit_hit = 1;
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

/* string.rep also loops in C, once per repetition even when there is
 * nothing to copy: (''):rep(1e5) in a loop ran for minutes (fuzz_spec),
 * allocating nothing the allocator could count. An empty result is given
 * at once; other calls allocate what they copy, which counts as work. */
static int guarded_rep(lua_State *L)
{
    size_t l, lsep = 0;
    luaL_checklstring(L, 1, &l);
    luaL_checkinteger(L, 2);
    luaL_optlstring(L, 3, "", &lsep);
    if (l + lsep == 0) {
        lua_pushliteral(L, "");
        return 1;
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

static const char *const forbidden[] = {
    "os",     "io",      "require", "load",           "loadfile",
    "dofile", "debug",   "package", "collectgarbage", "loadstring",
    "module", "setfenv", "getfenv", "coroutine",      NULL};

/* How far name is from key, closest first: edits (two swapped neighbours
 * one), then edits letter case aside, then whether the first letters'
 * case differs */
static int far(const char *key, const char *name)
{
    int first = islower((unsigned char)key[0]) != islower((unsigned char)name[0]);
    return spec_distance(key, name, SPEC_TRANSPOSE) * 100 +
           spec_distance(key, name, SPEC_TRANSPOSE | SPEC_FOLD_CASE) * 2 + first;
}

/* The global (table at 1) closest to key within 2 edits, or NULL: every
 * name in place counts (the DSL's, the op rows', the prelude's, the base
 * library's, and those the spec set); a tie goes to the first in
 * alphabetical order ("rleu": relu; "Relu": relu; "inear": linear) */
static const char *closest_global(lua_State *L, const char *key)
{
    const char *best = NULL;
    int bestf = 300;
    for (lua_pushnil(L); lua_next(L, 1); lua_pop(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING) continue;
        const char *name = lua_tostring(L, -2);
        int f = far(key, name);
        if (f < bestf || (f == bestf && best && strcmp(name, best) < 0)) {
            best = name;
            bestf = f;
        }
    }
    return best;
}

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
    const char *hint = closest_global(L, key);
    if (hint) return spec_error(L, "unknown name '%s' (did you mean '%s'?)", key, hint);
    return spec_error(L, "unknown name '%s'", key);
}

/* The base, math, string, table and utf8 libraries without what reaches
 * outside (files, processes, code loading), with the guards above. Leaves
 * the global table on the stack, for the DSL's names. */
void spec_open_sandbox(lua_State *L)
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
    lua_getfield(L, -1, "rep");
    lua_pushcclosure(L, guarded_rep, 1);
    lua_setfield(L, -2, "rep");
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
}

/* From here on reading an unknown global (the global table on top of the
 * stack) is an error: set once every name is in place. */
void spec_seal_globals(lua_State *L)
{
    lua_newtable(L);
    lua_pushcfunction(L, env_index);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
}
