/*
 * Bounded library functions (lua_bounded.h). The pattern functions' bound follows the shape of
 * Lua's backtracking matcher: an item quantified with *, + or - scans up to n bytes and then tries
 * the rest of the pattern up to n + 1 times; ? tries it twice; %b and back-references scan up to n
 * bytes; every other item costs one step. Each item is reached at most the product of the earlier
 * items' factors times, so one start position costs at most the sum of reach * scan over the items.
 */
#include "lua_bounded.h"
#include "lua_sandbox.h"

#include <lauxlib.h>
#include <lualib.h>

#include <limits.h>
#include <string.h>

enum { PF_FIND, PF_MATCH, PF_GMATCH, PF_GSUB };

static const char *const pf_names[] = {"find", "match", "gmatch", "gsub", NULL};

/* Skip one single-byte class at @p q (a %x escape, a [set] or one byte). */
static const char *class_end(const char *q, const char *end)
{
    if (*q == '%')
        return q + 2 <= end ? q + 2 : end;
    if (*q != '[')
        return q + 1;
    q++;
    if (q < end && *q == '^')
        q++;
    do { /* the set's first byte is a member even when it is ']' */
        if (q < end && *q == '%')
            q++;
        q++;
    } while (q < end && *q != ']');
    return q < end ? q + 1 : end;
}

/* The item at *p: advances *p past it, sets *scan to its cost per reach and returns how many
 * times it may try the rest of the pattern. */
static double item_factor(const char **p, const char *end, double n, double *scan)
{
    const char *q = *p;
    *scan = 1;
    if (*q == '%' && q + 1 < end && (q[1] == 'b' || (q[1] >= '0' && q[1] <= '9'))) {
        *scan = n;
        *p = q[1] == 'b' ? (q + 4 <= end ? q + 4 : end) : q + 2;
        return 1;
    }
    if (*q == '%' && q + 1 < end && q[1] == 'f') { /* a frontier: a set follows, no quantifier */
        *p = q + 2 < end ? class_end(q + 2, end) : end;
        return 1;
    }
    q = class_end(q, end);
    if (q < end && (*q == '*' || *q == '+' || *q == '-')) {
        *p = q + 1;
        *scan = n;
        return n + 1;
    }
    *p = q < end && *q == '?' ? q + 1 : q;
    return q < end && *q == '?' ? 2 : 1;
}

/* Upper bound of the matcher's steps for one start position over @p n bytes. */
static double start_cost(const char *p, size_t plen, size_t n)
{
    const char *end = p + plen;
    double reach = 1, cost = 0, scan;
    while (p < end && cost <= SSL_PATTERN_STEPS) {
        if (*p == '(' || *p == ')' || (*p == '$' && p + 1 == end)) {
            p++;
            cost += reach;
            continue;
        }
        double f = item_factor(&p, end, (double)n, &scan);
        cost += reach * scan;
        reach *= f;
    }
    return cost + reach;
}

static int has_specials(const char *p, size_t plen)
{
    for (size_t i = 0; i < plen; i++)
        if (p[i] && strchr("^$*+?.([%-", p[i]))
            return 1;
    return 0;
}

static int too_costly(lua_State *L, int kind, size_t n, double cost)
{
    ssl_sandbox_refuse(L);
    return luaL_error(L,
                      "string.%s: pattern too costly for a subject of %I bytes (up to %f matcher "
                      "steps, the limit is %f): simplify the pattern or shorten the subject",
                      pf_names[kind], (lua_Integer)n, cost, (double)SSL_PATTERN_STEPS);
}

/* The library's own function on the arguments as given. */
static int call_library(lua_State *L)
{
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* Argument 3, a start position, as the library reads it: 1-based, negative from the end. */
static lua_Integer start_arg(lua_State *L, size_t n)
{
    lua_Integer i = luaL_optinteger(L, 3, 1), len = (lua_Integer)n;
    if (i > 0)
        return i;
    return i == 0 || i < -len ? 1 : len + i + 1;
}

/* Push "^" .. pattern: the library then tries the given start position only. */
static void push_anchored(lua_State *L, const char *p, size_t plen)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addchar(&b, '^');
    luaL_addlstring(&b, p, plen);
    luaL_pushresult(&b);
}

/* Call the library's @p fn (find or match) at start @p i with the anchored pattern at @p ap.
 * @return how many results it left on the top, 0 (and nothing left) when it found none. */
static int try_at(lua_State *L, int fn, int s, int ap, lua_Integer i)
{
    ssl_sandbox_check_time(L);
    int base = lua_gettop(L);
    lua_pushvalue(L, fn);
    lua_pushvalue(L, s);
    lua_pushvalue(L, ap);
    lua_pushinteger(L, i);
    lua_call(L, 3, LUA_MULTRET);
    int got = lua_gettop(L) - base;
    if (got > 0 && !lua_isnil(L, base + 1))
        return got;
    lua_settop(L, base);
    return 0;
}

/* find or match, one start position per library call: the same results as one call. */
static int sliced_search(lua_State *L, size_t n, const char *p, size_t plen)
{
    lua_Integer i = start_arg(L, n);
    lua_settop(L, 2);
    if (i > (lua_Integer)n + 1) {
        lua_pushnil(L);
        return 1;
    }
    push_anchored(L, p, plen);
    lua_pushvalue(L, lua_upvalueindex(1));
    for (; i <= (lua_Integer)n + 1; i++) {
        int got = try_at(L, 4, 1, 3, i);
        if (got)
            return got;
    }
    lua_pushnil(L);
    return 1;
}

/* gmatch's iterator, sliced: upvalues subject, anchored pattern, string.find, next start, end of
 * the last match (a match may not end there again: Lua's rule against repeated empty matches). */
static int sliced_gmatch_step(lua_State *L)
{
    size_t n;
    const char *s = lua_tolstring(L, lua_upvalueindex(1), &n);
    lua_Integer last = lua_tointeger(L, lua_upvalueindex(5));
    for (lua_Integer i = lua_tointeger(L, lua_upvalueindex(4)); i <= (lua_Integer)n + 1; i++) {
        int got = try_at(L, lua_upvalueindex(3), lua_upvalueindex(1), lua_upvalueindex(2), i);
        if (!got)
            continue;
        lua_Integer top = lua_gettop(L), st = lua_tointeger(L, top - got + 1),
                    e = lua_tointeger(L, top - got + 2);
        if (e + 1 == last) {
            lua_settop(L, (int)top - got);
            continue;
        }
        lua_pushinteger(L, e + 1);
        lua_pushinteger(L, e + 1);
        lua_replace(L, lua_upvalueindex(4));
        lua_replace(L, lua_upvalueindex(5));
        if (got > 2)
            return got - 2; /* the captures */
        lua_pushlstring(L, s + st - 1, (size_t)(e - st + 1));
        return 1;
    }
    lua_pushinteger(L, (lua_Integer)n + 2);
    lua_replace(L, lua_upvalueindex(4));
    return 0;
}

static int sliced_gmatch(lua_State *L, size_t n, const char *p, size_t plen)
{
    lua_Integer i = start_arg(L, n);
    lua_settop(L, 2);
    lua_pushvalue(L, 1);
    push_anchored(L, p, plen); /* gmatch has no anchor: its '^' is a byte, and stays one here */
    lua_pushvalue(L, lua_upvalueindex(3));
    lua_pushinteger(L, i > (lua_Integer)n + 1 ? (lua_Integer)n + 2 : i);
    lua_pushinteger(L, 0);
    lua_pushcclosure(L, sliced_gmatch_step, 5);
    return 1;
}

/* Upvalues: the library's function, its PF_ kind, the library's find. */
static int safe_pattern(lua_State *L)
{
    int kind = (int)lua_tointeger(L, lua_upvalueindex(2));
    size_t n, plen;
    luaL_checklstring(L, 1, &n);
    const char *p = luaL_checklstring(L, 2, &plen);
    ssl_sandbox_check_time(L);
    if (kind == PF_FIND && (lua_toboolean(L, 4) || !has_specials(p, plen))) {
        double cost = (double)(n + 1) * (double)(plen + 1) / 16; /* memchr and memcmp */
        return cost > SSL_PATTERN_STEPS ? too_costly(L, kind, n, cost) : call_library(L);
    }
    int anchored = kind != PF_GMATCH && plen > 0 && p[0] == '^';
    double one = start_cost(p + anchored, plen - (size_t)anchored, n);
    double all = anchored ? one : one * ((double)n + 1);
    if (all <= SSL_PATTERN_STEPS)
        return call_library(L);
    if (one > SSL_PATTERN_STEPS || kind == PF_GSUB)
        return too_costly(L, kind, n, kind == PF_GSUB ? all : one);
    return kind == PF_GMATCH ? sliced_gmatch(L, n, p, plen) : sliced_search(L, n, p, plen);
}

/* ---- table.sort ---- */

/* The default order, "<", as a comparator; upvalue 1 counts calls between time checks. */
static int checked_less(lua_State *L)
{
    lua_Integer k = lua_tointeger(L, lua_upvalueindex(1)) + 1;
    if (k >= 4096) {
        ssl_sandbox_check_time(L);
        k = 0;
    }
    lua_pushinteger(L, k);
    lua_replace(L, lua_upvalueindex(1));
    lua_pushboolean(L, lua_compare(L, 1, 2, LUA_OPLT));
    return 1;
}

/* Upvalue 1: the library's table.sort. */
static int safe_sort(lua_State *L)
{
    ssl_sandbox_check_time(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    if (lua_isnoneornil(L, 2) && luaL_len(L, 1) > SSL_SORT_DIRECT) {
        lua_settop(L, 1);
        lua_pushinteger(L, 0);
        lua_pushcclosure(L, checked_less, 1);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 0);
    return 0;
}

/* ---- wrapping ---- */

static void wrap_string(lua_State *L, int t)
{
    lua_getfield(L, t, "find");
    int find = lua_gettop(L);
    for (int k = 0; pf_names[k]; k++) {
        lua_getfield(L, t, pf_names[k]);
        lua_pushinteger(L, k);
        lua_pushvalue(L, find);
        lua_pushcclosure(L, safe_pattern, 3);
        lua_setfield(L, t, pf_names[k]);
    }
    lua_pop(L, 1);
}

void ssl_bounded_wrap(lua_State *L, int g)
{
    lua_getfield(L, g, LUA_STRLIBNAME);
    wrap_string(L, lua_gettop(L));
    lua_getfield(L, g, LUA_TABLIBNAME);
    lua_getfield(L, -1, "sort");
    lua_pushcclosure(L, safe_sort, 1);
    lua_setfield(L, -2, "sort");
    lua_pop(L, 2);
}
