/*
 * The Lua sandbox (lua_sandbox.h): each library is opened into a table of its own and only the
 * names listed below are copied into the globals a filter sees. The lists say what is let in, so a
 * name a library gains in a later Lua release stays out until someone adds it here (and to
 * sdk/lua-api.md, "The sandbox", and to the test that checks the two agree).
 */
#include "lua_sandbox.h"
#include "lua_bounded.h"

#include <lauxlib.h>
#include <lualib.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the allow-list ---- */

/*
 * Base: the language's own functions. Left out: load, loadfile and dofile (they compile code
 * outside the text-only load, load even bytecode, and read files) and collectgarbage (a filter
 * could stop the collector its memory cap relies on, and a full collection costs one instruction
 * of the budget). _G is not copied: the library's _G is the table holding everything; the
 * sandbox's _G is set to its own globals. print and setmetatable are let in wrapped (wraps[]).
 * warn stays: a state made by lua_newstate has no warning function, so it does nothing.
 */
static const char *const base_names[] = {
    "_VERSION",     "assert",   "error",    "getmetatable", "ipairs", "next",   "pairs",
    "pcall",        "print",    "rawequal", "rawget",       "rawlen", "rawset", "select",
    "setmetatable", "tonumber", "tostring", "type",         "warn",   "xpcall", NULL,
};

/* String: text handling. Left out: dump, the way to bytecode (which Lua does not verify). */
static const char *const string_names[] = {
    "byte", "char",     "find", "format",  "gmatch", "gsub",   "len",   "lower", "match",
    "pack", "packsize", "rep",  "reverse", "sub",    "unpack", "upper", NULL,
};

/* Table: all of it; it touches nothing outside the tables it is given. */
static const char *const table_names[] = {
    "concat", "insert", "move", "pack", "remove", "sort", "unpack", NULL,
};

/*
 * Math: all of it; random's state is the sandbox's own. The last eight (atan2 to tanh) are Lua
 * 5.3's, there when Lua is built with LUA_COMPAT_MATHLIB (Debian's is); a build without them
 * skips them.
 */
static const char *const math_names[] = {
    "abs",   "acos",   "asin",       "atan",  "ceil",       "cos", "deg",        "exp",  "floor",
    "fmod",  "huge",   "log",        "max",   "maxinteger", "min", "mininteger", "modf", "pi",
    "rad",   "random", "randomseed", "sin",   "sqrt",       "tan", "tointeger",  "type", "ult",
    "atan2", "cosh",   "frexp",      "ldexp", "log10",      "pow", "sinh",       "tanh", NULL,
};

/* UTF-8: all of it, for names and text in alerts. */
static const char *const utf8_names[] = {
    "char", "charpattern", "codepoint", "codes", "len", "offset", NULL,
};

/*
 * OS: reading the clock only. Left out: execute, exit, getenv, remove, rename, tmpname (the
 * process and its files), setlocale (process-wide: it would change how the whole broker formats
 * numbers), date and difftime (filters compute with MJDs; they were never offered).
 */
static const char *const os_names[] = {"clock", "time", NULL};

/*
 * Not opened at all: io (files), package and require (load files and C libraries), debug (reaches
 * upvalues and the registry, and can remove the budget's hook) and coroutine (a thread of its own
 * under the budget's hook, never reviewed for it).
 */
typedef struct library {
    const char *global; /* the table's global name; NULL for base, whose names are globals */
    lua_CFunction open;
    const char *const *names;
} library;

static const library libraries[] = {
    {NULL, luaopen_base, base_names},
    {LUA_STRLIBNAME, luaopen_string, string_names},
    {LUA_TABLIBNAME, luaopen_table, table_names},
    {LUA_MATHLIBNAME, luaopen_math, math_names},
    {LUA_UTF8LIBNAME, luaopen_utf8, utf8_names},
    {LUA_OSLIBNAME, luaopen_os, os_names},
};

static int no_op(lua_State *L)
{
    (void)L;
    return 0;
}

/* Finalizers run with hooks off, out of the budget's reach: refuse metatables that have one
 * (a __gc added later does not mark the object, so checking here is enough). */
static int safe_setmetatable(lua_State *L)
{
    lua_settop(L, 2);
    if (lua_type(L, 2) == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL)
            return luaL_error(L, "setmetatable: __gc metamethods are not available to filters");
        lua_pop(L, 1);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, 2, 1);
    return 1;
}

/* Allowed globals held in a wrapper, which gets the library's function as its upvalue 1. */
static const luaL_Reg wraps[] = {
    {"print", no_op}, /* filters have no stdout; scripts that print keep working */
    {"setmetatable", safe_setmetatable},
    {NULL, NULL},
};

/* ---- opening ---- */

/* Copy @p names from the table at @p from to the table at @p to; a name the library lacks (a
 * compatibility function of another build) is skipped. Indices are absolute. */
static void copy_allowed(lua_State *L, int from, int to, const char *const *names)
{
    for (; *names; names++) {
        if (lua_getfield(L, from, *names) == LUA_TNIL)
            lua_pop(L, 1);
        else
            lua_setfield(L, to, *names);
    }
}

/* Open @p lib into a table of its own and let its allowed names into the globals at @p g. */
static void open_library(lua_State *L, int g, const library *lib)
{
    lua_pushcfunction(L, lib->open);
    lua_call(L, 0, 1); /* base fills the state's first globals table, which is dropped below */
    int from = lua_gettop(L);
    if (lib->global) {
        lua_newtable(L);
        copy_allowed(L, from, from + 1, lib->names);
        lua_setfield(L, g, lib->global);
    } else {
        copy_allowed(L, from, g, lib->names);
    }
    lua_pop(L, 1);
}

static void wrap_globals(lua_State *L, int g)
{
    for (const luaL_Reg *w = wraps; w->name; w++) {
        lua_getfield(L, g, w->name);
        lua_pushcclosure(L, w->func, 1);
        lua_setfield(L, g, w->name);
    }
    ssl_bounded_wrap(L, g);
}

/* Strings index their library through their metatable ("":dump()): point it at the allowed table,
 * not at the library's own. */
static void point_strings_at(lua_State *L, int g)
{
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_getfield(L, g, LUA_STRLIBNAME);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 2);
}

/* Protected: build the allowed globals and make them the state's. */
static int open_allowed(lua_State *L)
{
    lua_newtable(L);
    int g = lua_gettop(L);
    for (size_t i = 0; i < sizeof libraries / sizeof *libraries; i++)
        open_library(L, g, &libraries[i]);
    wrap_globals(L, g);
    lua_pushvalue(L, g);
    lua_setfield(L, g, LUA_GNAME);
    point_strings_at(L, g);
    /* Chunks loaded from now on get these as their _ENV: the full base library is unreachable. */
    lua_rawseti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    return 0;
}

/* ---- limits ---- */

/* The count hook fires every HOOK_STEP instructions: often enough for a tight budget, rarely
 * enough to cost nothing measurable. */
#define HOOK_STEP 1000

typedef struct sandbox {
    void *user;
    size_t mem_used, mem_cap;
    int mem_refused; /* the last growth was refused: a memory error is the cap's doing */
    uint64_t budget, spent;
    int step;
    int over_budget;
    uint32_t time_ms;  /* wall-clock limit per armed call; 0: none */
    uint64_t deadline; /* CLOCK_MONOTONIC nanoseconds when the armed call must stop */
    int over_time;
    int refused; /* a library call was refused as too costly (ssl_sandbox_refuse()) */
} sandbox;

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static sandbox *sandbox_of(lua_State *L)
{
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return ud;
}

/* Whether the armed call is past its deadline; marks it so. Every hook raises from then on. */
static int past_deadline(sandbox *sb)
{
    if (sb->time_ms && !sb->over_time && now_ns() >= sb->deadline)
        sb->over_time = 1;
    return sb->over_time;
}

/* Growths this big come from library calls that copy (string.rep, table.concat): past the
 * deadline they are refused, so a loop of such calls, few instructions apart, stops too. */
#define BIG_GROWTH ((size_t)64 << 10)

static void *cap_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    sandbox *sb = ud;
    size_t old = ptr ? osize : 0; /* for a new block osize is the object's type */
    if (nsize == 0) {
        free(ptr);
        sb->mem_used -= old;
        return NULL;
    }
    if (nsize > old && nsize - old >= BIG_GROWTH && past_deadline(sb))
        return NULL; /* "not enough memory", which ssl_sandbox_limit() reports as the time's */
    if (nsize > old && nsize - old > sb->mem_cap - sb->mem_used) {
        sb->mem_refused = 1;
        return NULL; /* Lua collects garbage, retries once, then raises "not enough memory" */
    }
    void *p = realloc(ptr, nsize);
    if (!p)
        return NULL;
    sb->mem_used = sb->mem_used - old + nsize;
    if (nsize > old)
        sb->mem_refused = 0;
    return p;
}

static void budget_hook(lua_State *L, lua_Debug *ar)
{
    sandbox *sb = sandbox_of(L);
    if (!sb->over_budget && !sb->over_time) {
        sb->spent += (uint64_t)sb->step;
        if (sb->spent >= sb->budget)
            sb->over_budget = 1;
        else if (sb->time_ms && now_ns() >= sb->deadline)
            sb->over_time = 1;
        else
            return;
        /* From now on every line and every instruction raises again, so a pcall in the script
         * cannot catch the error and keep going (Redis does the same). */
        lua_sethook(L, budget_hook, LUA_MASKLINE | LUA_MASKCOUNT, 1);
    }
    /* Hooks run without a call frame of their own: name the script's position ourselves. */
    if (lua_getinfo(L, "Sl", ar) && ar->currentline > 0)
        lua_pushfstring(L, "%s:%d: ", ar->short_src, ar->currentline);
    else
        lua_pushliteral(L, "");
    if (sb->over_budget)
        lua_pushfstring(L, "instruction budget of %I exceeded", (lua_Integer)sb->budget);
    else
        lua_pushfstring(L, "time limit of %d ms exceeded", (int)sb->time_ms);
    lua_concat(L, 2);
    lua_error(L);
}

/* ---- the API ---- */

static int new_failed(lua_State *L, int status, ss_err *err)
{
    int rc = ssl_sandbox_limit(L, status, err);
    if (!rc)
        rc = ss_err_set(err, SS_EINVAL, "opening the Lua libraries: %s",
                        lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "failed");
    ssl_sandbox_close(L);
    return rc;
}

int ssl_sandbox_new(size_t memory_bytes, uint64_t instructions, void *user, lua_State **out,
                    ss_err *err)
{
    sandbox *sb = calloc(1, sizeof *sb);
    if (!sb)
        return ss_err_set(err, SS_ENOMEM, "out of memory");
    sb->user = user;
    sb->mem_cap = memory_bytes ? memory_bytes : SSL_DEFAULT_MEMORY;
    sb->budget = instructions ? instructions : SSL_DEFAULT_INSTRUCTIONS;
    sb->step = sb->budget < HOOK_STEP ? (int)sb->budget : HOOK_STEP;
    lua_State *L = lua_newstate(cap_alloc, sb);
    if (!L) {
        int refused = sb->mem_refused;
        free(sb);
        if (refused)
            return ss_err_set(err, SS_ELIMIT, "memory limit too small for Lua");
        return ss_err_set(err, SS_ENOMEM, "out of memory");
    }
    ssl_sandbox_arm(L);
    lua_pushcfunction(L, open_allowed); /* a light function: pushing it allocates nothing */
    int status = lua_pcall(L, 0, 0, 0);
    if (status != LUA_OK)
        return new_failed(L, status, err);
    *out = L;
    return 0;
}

void *ssl_sandbox_user(lua_State *L)
{
    return sandbox_of(L)->user;
}

void ssl_sandbox_arm(lua_State *L)
{
    sandbox *sb = sandbox_of(L);
    sb->spent = 0;
    sb->over_budget = sb->over_time = sb->refused = 0;
    sb->mem_refused = 0;
    sb->deadline = sb->time_ms ? now_ns() + (uint64_t)sb->time_ms * 1000000u : 0;
    lua_sethook(L, budget_hook, LUA_MASKCOUNT, sb->step);
}

int ssl_sandbox_limit(lua_State *L, int status, ss_err *err)
{
    sandbox *sb = sandbox_of(L);
    /* Only a string is read: converting another value could run a metamethod or allocate,
     * outside any protected call. */
    const char *msg =
        status != LUA_OK && lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    if (sb->over_budget && msg && strstr(msg, "instruction budget"))
        return ss_err_set(err, SS_ELIMIT, "%s", msg);
    if (sb->over_budget) /* raising the budget's error ran out of memory, or a handler failed */
        return ss_err_set(err, SS_ELIMIT, "instruction budget of %llu exceeded",
                          (unsigned long long)sb->budget);
    if (sb->over_time && msg && strstr(msg, "time limit of"))
        return ss_err_set(err, SS_ELIMIT, "%s", msg);
    if (sb->over_time)
        return ss_err_set(err, SS_ELIMIT, "time limit of %u ms exceeded", (unsigned)sb->time_ms);
    if (status != LUA_OK && sb->refused && msg)
        return ss_err_set(err, SS_ELIMIT, "%s", msg);
    if (status != LUA_OK && (status == LUA_ERRMEM || sb->mem_refused))
        return ss_err_set(err, SS_ELIMIT, "memory limit of %zu bytes exceeded (%s)", sb->mem_cap,
                          msg ? msg : "not enough memory");
    return 0;
}

void ssl_sandbox_reclaim(lua_State *L, int status)
{
    if (status == LUA_ERRMEM || sandbox_of(L)->mem_refused)
        lua_gc(L, LUA_GCCOLLECT);
}

int ssl_sandbox_load(lua_State *L, const char *buf, size_t len, const char *name)
{
    return luaL_loadbufferx(L, buf, len, name, "t");
}

void ssl_sandbox_usage(lua_State *L, ssl_usage *out)
{
    const sandbox *sb = sandbox_of(L);
    *out = (ssl_usage){sb->mem_used, sb->mem_cap,     sb->mem_refused, sb->budget,
                       sb->spent,    sb->over_budget, sb->time_ms,     sb->over_time};
}

void ssl_sandbox_time_limit(lua_State *L, uint32_t ms)
{
    sandbox_of(L)->time_ms = ms;
}

void ssl_sandbox_check_time(lua_State *L)
{
    sandbox *sb = sandbox_of(L);
    if (past_deadline(sb)) {
        lua_sethook(L, budget_hook, LUA_MASKLINE | LUA_MASKCOUNT, 1); /* pcall cannot keep it */
        luaL_error(L, "time limit of %d ms exceeded", (int)sb->time_ms);
    }
}

void ssl_sandbox_refuse(lua_State *L)
{
    sandbox_of(L)->refused = 1;
}

void ssl_sandbox_close(lua_State *L)
{
    if (!L)
        return;
    sandbox *sb = sandbox_of(L);
    sb->time_ms = 0; /* closing runs pending __close handlers: the budget alone bounds them */
    ssl_sandbox_arm(L);
    lua_close(L);
    free(sb);
}
