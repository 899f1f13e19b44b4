/*
 * The Lua 5.4 filter runtime: a filter is a script declaring the ANTARES devkit globals (NAME,
 * DESCRIPTION, OUTPUT_LOCUS_PROPERTIES, ...) and a function run(locus). Each filter gets its own
 * sandboxed state (lua_sandbox.h, sdk/lua-api.md): allow-listed library functions only, text
 * chunks only, a byte-capped allocator and an instruction budget per call. This file adds the
 * filter API: the locus object, the declarations, setup and run.
 */
#include "arena.h"
#include "fileio.h"
#include "lua_features.h"
#include "lua_sandbox.h"
#include "runtime.h"

#include <lauxlib.h>
#include <lua.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#define LOCUS_MT "skysieve.locus"
#define ALERT_MT "skysieve.alert"

typedef struct lfilter {
    lua_State *L;
    ss_arena *arena; /* the descriptor's strings and arrays */
    ss_filter_descriptor desc;
    int run_ref, setup_ref; /* registry references; setup_ref is LUA_NOREF when absent */

    const ss_host_api *host;
    ss_locus_view *locus; /* set during run() only */
    void *locus_ud;       /* the locus object of the current run: the fast path of every call */
    uint64_t gen;         /* bumped after each run: locus objects of older runs are stale */
    int write_rc;         /* first failed write of this call, which fails it even if caught */
    char write_msg[SS_ERR_MSG_MAX];
    int decl_oom;
    int syntax_error;
    uint32_t run_ms, setup_ms; /* wall-clock limits: run(); loading and setup() */
} lfilter;

/* What a locus object holds: the run it belongs to, not the view (which may be gone). */
typedef struct locus_ref {
    uint64_t gen;
} locus_ref;

static lfilter *impl_of(lua_State *L)
{
    return ssl_sandbox_user(L);
}

/* ---- calls ---- */

/* The outcome of a lua_pcall (its error object on the top when it failed) as a code and a
 * message. */
static int outcome(lfilter *im, int status, ss_err *err)
{
    lua_State *L = im->L;
    if (im->write_rc) /* even when the script caught the write's error */
        return ss_err_set(err, im->write_rc, "%s", im->write_msg);
    int rc = ssl_sandbox_limit(L, status, err);
    if (rc || status == LUA_OK)
        return rc;
    /* Only a string is read: converting another value could run a metamethod or allocate,
     * outside any protected call. */
    if (lua_type(L, -1) == LUA_TSTRING)
        return ss_err_set(err, SS_EFILTER, "%s", lua_tostring(L, -1));
    return ss_err_set(err, SS_EFILTER, "error object is a %s value, not a string",
                      luaL_typename(L, -1));
}

/*
 * Call fn(arg) in protected mode under the budget. Everything that may allocate in the state goes
 * through here: an allocation failing outside a protected call would abort the process.
 */
static int pcall_c(lfilter *im, lua_CFunction fn, void *arg, uint32_t ms, ss_err *err)
{
    lua_State *L = im->L;
    ssl_sandbox_time_limit(L, ms);
    ssl_sandbox_arm(L);
    im->write_rc = 0;
    lua_settop(L, 0);
    lua_pushcfunction(L, fn);
    lua_pushlightuserdata(L, arg);
    int status = lua_pcall(L, 1, 0, 0);
    int rc = outcome(im, status, err);
    lua_settop(L, 0);
    ssl_sandbox_reclaim(L, status);
    return rc;
}

/* ---- values ---- */

static void push_value(lua_State *L, const ss_value *v)
{
    switch (v->type) {
    case SS_TYPE_INT: lua_pushinteger(L, (lua_Integer)v->u.i); break;
    case SS_TYPE_FLOAT: lua_pushnumber(L, v->u.f); break;
    case SS_TYPE_STRING: lua_pushlstring(L, v->u.s.ptr, v->u.s.len); break;
    case SS_TYPE_BOOL: lua_pushboolean(L, v->u.b); break;
    default: lua_pushnil(L); break;
    }
}

/* The value at @p idx as an ss_value; raises naming the call (fn('name')) when it has none. */
static ss_value to_value(lua_State *L, int idx, const char *fn, const char *name)
{
    ss_value v = {.type = SS_TYPE_NULL};
    size_t len;
    switch (lua_type(L, idx)) {
    case LUA_TNIL: break;
    case LUA_TBOOLEAN:
        v.type = SS_TYPE_BOOL;
        v.u.b = lua_toboolean(L, idx);
        break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            v.type = SS_TYPE_INT;
            v.u.i = (int64_t)lua_tointeger(L, idx);
            break;
        }
        v.type = SS_TYPE_FLOAT;
        v.u.f = lua_tonumber(L, idx);
        if (!isfinite(v.u.f))
            luaL_error(L, "%s('%s'): not a finite number", fn, name);
        break;
    case LUA_TSTRING:
        v.type = SS_TYPE_STRING;
        v.u.s.ptr = lua_tolstring(L, idx, &len);
        if (len > UINT32_MAX)
            luaL_error(L, "%s('%s'): string too long", fn, name);
        v.u.s.len = (uint32_t)len;
        break;
    default: luaL_error(L, "%s('%s'): cannot store a %s", fn, name, luaL_typename(L, idx));
    }
    return v;
}

static void set_number(lua_State *L, const char *key, double x)
{
    if (isnan(x))
        return; /* an absent value reads as nil */
    lua_pushnumber(L, x);
    lua_setfield(L, -2, key);
}

static void set_string(lua_State *L, const char *key, const char *s)
{
    if (!s)
        return;
    lua_pushstring(L, s);
    lua_setfield(L, -2, key);
}

static void push_alert(lua_State *L, const ss_alert_info *a)
{
    lua_createtable(L, 0, 10);
    set_string(L, "alert_id", a->alert_id);
    set_string(L, "survey", a->survey);
    set_string(L, "passband", a->passband);
    set_number(L, "mjd", a->mjd);
    set_number(L, "ra", a->ra);
    set_number(L, "dec", a->dec);
    set_number(L, "mag", a->mag);
    set_number(L, "magerr", a->magerr);
    set_number(L, "maglim", a->maglim);
    lua_pushboolean(L, a->upper_limit);
    lua_setfield(L, -2, "upper_limit");
}

static void push_doubles(lua_State *L, const double *v, size_t n)
{
    lua_createtable(L, n > INT_MAX ? INT_MAX : (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushnumber(L, v[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

/* ---- the locus object ---- */

static ss_locus_view *check_locus(lua_State *L)
{
    lfilter *im = impl_of(L);
    if (im->locus && lua_touserdata(L, 1) == im->locus_ud) /* every call of a run but a stale one */
        return im->locus;
    const locus_ref *r = luaL_checkudata(L, 1, LOCUS_MT);
    if (!im->locus || r->gen != im->gen)
        luaL_error(L, "locus used outside run()");
    return im->locus;
}

static const ss_host_api *host_of(lua_State *L)
{
    return impl_of(L)->host;
}

/* Argument @p idx, a 1-based alert index, as the host's 0-based one. @return 0 when below 1. */
static int alert_index(lua_State *L, int idx, size_t *i)
{
    lua_Integer k = luaL_checkinteger(L, idx);
    *i = k < 1 ? 0 : (size_t)(k - 1);
    return k >= 1;
}

static int push_alert_at(lua_State *L, ss_locus_view *l, size_t i)
{
    ss_alert_info a;
    memset(&a, 0, sizeof a);
    if (host_of(L)->alert(l, i, &a) != 0)
        lua_pushnil(L);
    else
        push_alert(L, &a);
    return 1;
}

static int push_alert_property(lua_State *L, ss_locus_view *l, size_t i, const char *name)
{
    ss_value v = {.type = SS_TYPE_NULL};
    if (host_of(L)->alert_property(l, i, name, &v) != 0)
        lua_pushnil(L);
    else
        push_value(L, &v);
    return 1;
}

static int l_property(lua_State *L)
{
    ss_locus_view *l = check_locus(L);
    ss_value v = {.type = SS_TYPE_NULL};
    if (host_of(L)->locus_property(l, luaL_checkstring(L, 2), &v) != 0)
        lua_pushnil(L);
    else
        push_value(L, &v);
    return 1;
}

static int l_alert_count(lua_State *L)
{
    ss_locus_view *l = check_locus(L);
    lua_pushinteger(L, (lua_Integer)host_of(L)->alert_count(l));
    return 1;
}

static int l_alert(lua_State *L)
{
    ss_locus_view *l = check_locus(L);
    size_t i;
    if (!alert_index(L, 2, &i)) {
        lua_pushnil(L);
        return 1;
    }
    return push_alert_at(L, l, i);
}

static int l_newest_alert(lua_State *L)
{
    return push_alert_at(L, check_locus(L), SS_TRIGGER);
}

static int l_alert_property(lua_State *L)
{
    ss_locus_view *l = check_locus(L);
    size_t i;
    const char *name = luaL_checkstring(L, 3);
    if (!alert_index(L, 2, &i)) {
        lua_pushnil(L);
        return 1;
    }
    return push_alert_property(L, l, i, name);
}

static int l_newest_alert_property(lua_State *L)
{
    ss_locus_view *l = check_locus(L);
    return push_alert_property(L, l, SS_TRIGGER, luaL_checkstring(L, 2));
}

static int l_lightcurve(lua_State *L)
{
    ss_locus_view *l = check_locus(L);
    const char *passband = luaL_checkstring(L, 2);
    int upper = lua_toboolean(L, 3);
    ss_lightcurve lc;
    memset(&lc, 0, sizeof lc);
    int rc = host_of(L)->lightcurve(l, passband, upper, &lc);
    if (rc != 0)
        return luaL_error(L, "lightcurve('%s'): %s", passband, host_of(L)->strerror(rc));
    push_doubles(L, lc.mjd, lc.n);
    push_doubles(L, lc.mag, lc.n);
    if (upper)
        return 2; /* upper limits have no errors */
    push_doubles(L, lc.magerr, lc.n);
    return 3;
}

/* "detection,forced" and the like as an SS_POINT_* mask; nil means every kind. */
static unsigned check_kinds(lua_State *L, int arg)
{
    static const char *const names[] = {"detection", "upper_limit", "forced", NULL};
    static const unsigned bits[] = {SS_POINT_DETECTION, SS_POINT_UPPER_LIMIT, SS_POINT_FORCED};
    if (lua_isnoneornil(L, arg))
        return SS_POINT_ALL;
    const char *s = luaL_checkstring(L, arg);
    unsigned mask = 0;
    while (*s) {
        size_t n = strcspn(s, ",");
        int k = 0;
        while (names[k] && (strlen(names[k]) != n || strncmp(names[k], s, n)))
            k++;
        if (!names[k])
            luaL_error(L, "light_curve: kind '%.*s' is not detection, upper_limit or forced",
                       (int)n, s);
        mask |= bits[k];
        s += n + (s[n] == ',');
    }
    return mask;
}

static void push_point(lua_State *L, const ss_lc_point *p)
{
    static const char *const kinds[] = {"", "detection", "upper_limit", "", "forced"};
    lua_createtable(L, 0, 10);
    set_number(L, "mjd", p->mjd);
    set_number(L, "mag", p->mag);
    set_number(L, "magerr", p->magerr);
    set_number(L, "maglim", p->maglim);
    set_number(L, "flux", p->flux);
    set_number(L, "fluxerr", p->fluxerr);
    set_string(L, "passband", p->passband);
    set_string(L, "survey", p->survey);
    set_string(L, "alert_id", p->alert_id);
    set_string(L, "kind", p->kind < 5 ? kinds[p->kind] : "");
}

/* locus:light_curve([passband [, kinds]]): every measurement in time order, as tables. */
static int l_light_curve(lua_State *L)
{
    ss_locus_view *l = check_locus(L);
    const char *passband = luaL_optstring(L, 2, NULL);
    unsigned kinds = check_kinds(L, 3);
    const ss_lc_point *pts;
    size_t n;
    int rc = host_of(L)->light_curve(l, passband, kinds, &pts, &n);
    if (rc != 0)
        return luaL_error(L, "light_curve: %s", host_of(L)->strerror(rc));
    lua_createtable(L, n > INT_MAX ? INT_MAX : (int)n, 0);
    for (size_t i = 0; i < n && i < INT_MAX; i++) {
        push_point(L, &pts[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

typedef size_t (*names_fn)(ss_locus_view *l, const char **out, size_t max);

/* An array of the names a host list function gives. Scratch space is a userdata, so an error
 * (memory) cannot leak it. */
static int push_names(lua_State *L, names_fn fn)
{
    ss_locus_view *l = check_locus(L);
    size_t n = fn(l, NULL, 0);
    const char **v = NULL;
    if (n > 0) {
        if (n > INT_MAX)
            n = INT_MAX;
        v = lua_newuserdatauv(L, n * sizeof *v, 0);
        size_t got = fn(l, v, n);
        n = got < n ? got : n;
    }
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, v[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

static int l_passbands(lua_State *L)
{
    return push_names(L, host_of(L)->passbands);
}

static int l_tags(lua_State *L)
{
    return push_names(L, host_of(L)->tags);
}

static int l_watch_lists(lua_State *L)
{
    return push_names(L, host_of(L)->watch_lists);
}

static int l_has_tag(lua_State *L)
{
    ss_locus_view *l = check_locus(L);
    lua_pushboolean(L, host_of(L)->has_tag(l, luaL_checkstring(L, 2)) != 0);
    return 1;
}

/* Whether the host serves a function of a later minor version (a table of @p size bytes). */
#define HOST_HAS(h, fn) ((h)->size >= offsetof(ss_host_api, fn) + sizeof((h)->fn) && (h)->fn)

/* The match's row as a table of its columns, typed; empty cells are absent (nil). */
static void push_columns(lua_State *L, ss_locus_view *l, const ss_host_api *h, size_t i)
{
    size_t n = h->catalog_match_columns(l, i, NULL, 0);
    const char **names = n ? lua_newuserdatauv(L, n * sizeof *names, 0) : NULL;
    n = n ? h->catalog_match_columns(l, i, names, n) : 0;
    lua_createtable(L, 0, n > INT_MAX ? INT_MAX : (int)n);
    for (size_t k = 0; k < n; k++) {
        ss_value v;
        if (h->catalog_match_column(l, i, names[k], &v) != 0)
            continue;
        push_value(L, &v);
        lua_setfield(L, -2, names[k]);
    }
    if (names)
        lua_remove(L, -2); /* the scratch userdata */
}

/* locus:catalog_matches([catalog]): {catalog, object_id, separation_arcsec, row, columns}. */
static int l_catalog_matches(lua_State *L)
{
    ss_locus_view *l = check_locus(L);
    const char *only = luaL_optstring(L, 2, NULL);
    const ss_host_api *h = host_of(L);
    int rows = HOST_HAS(h, catalog_match_row) && HOST_HAS(h, catalog_match_column);
    size_t n = h->catalog_match_count(l);
    lua_createtable(L, n > INT_MAX ? INT_MAX : (int)n, 0);
    lua_Integer k = 0;
    for (size_t i = 0; i < n; i++) {
        ss_catalog_match m;
        memset(&m, 0, sizeof m);
        if (h->catalog_match(l, i, &m) != 0 || (only && strcmp(only, m.catalog)))
            continue;
        lua_createtable(L, 0, 5);
        set_string(L, "catalog", m.catalog);
        set_string(L, "object_id", m.object_id);
        set_number(L, "separation_arcsec", m.separation_arcsec);
        if (rows) {
            lua_pushinteger(L, (lua_Integer)h->catalog_match_row(l, i));
            lua_setfield(L, -2, "row");
            push_columns(L, l, h, i);
            lua_setfield(L, -2, "columns");
        }
        lua_rawseti(L, -2, ++k);
    }
    return 1;
}

/* locus:watch_objects(): {list, object, separation_arcsec} for each watched object nearby. */
static int l_watch_objects(lua_State *L)
{
    ss_locus_view *l = check_locus(L);
    const ss_host_api *h = host_of(L);
    size_t n = HOST_HAS(h, watch_objects) ? h->watch_objects(l, NULL, 0) : 0;
    ss_watch_object *w = n ? lua_newuserdatauv(L, n * sizeof *w, 0) : NULL;
    n = n ? h->watch_objects(l, w, n) : 0;
    lua_createtable(L, n > INT_MAX ? INT_MAX : (int)n, 0);
    for (size_t i = 0; i < n && i < INT_MAX; i++) {
        lua_createtable(L, 0, 3);
        set_string(L, "list", w[i].list);
        set_string(L, "object", w[i].object);
        set_number(L, "separation_arcsec", w[i].separation_arcsec);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* locus:gw_events(): {id, merger_mjd, credible_level, probdensity, dist_mean, dist_std,
 * days_since_merger, far, p_bns, p_nsbh, p_bbh, p_terrestrial, has_ns, has_remnant} for each
 * gravitational-wave event the locus is in (nil fields: unknown). */
static int l_gw_events(lua_State *L)
{
    ss_locus_view *l = check_locus(L);
    const ss_host_api *h = host_of(L);
    size_t n = HOST_HAS(h, gw_event) ? h->gw_event_count(l) : 0;
    lua_createtable(L, n > INT_MAX ? INT_MAX : (int)n, 0);
    for (size_t i = 0; i < n && i < INT_MAX; i++) {
        ss_gw_event e;
        if (h->gw_event(l, i, &e))
            break;
        lua_createtable(L, 0, 14);
        set_string(L, "id", e.id);
        set_number(L, "merger_mjd", e.merger_mjd);
        set_number(L, "credible_level", e.credible_level);
        set_number(L, "probdensity", e.probdensity);
        set_number(L, "dist_mean", e.dist_mean);
        set_number(L, "dist_std", e.dist_std);
        set_number(L, "days_since_merger", e.days_since_merger);
        set_number(L, "far", e.far);
        set_number(L, "p_bns", e.p_bns);
        set_number(L, "p_nsbh", e.p_nsbh);
        set_number(L, "p_bbh", e.p_bbh);
        set_number(L, "p_terrestrial", e.p_terrestrial);
        set_number(L, "has_ns", e.has_ns);
        set_number(L, "has_remnant", e.has_remnant);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* Raise the error of a failed write, and remember it: it fails the call even if caught. */
static int write_failed(lua_State *L, int rc, const char *fn, const char *name)
{
    lfilter *im = impl_of(L);
    luaL_where(L, 1);
    lua_pushfstring(L, "%s('%s'): %s", fn, name, im->host->strerror(rc));
    lua_concat(L, 2);
    if (!im->write_rc) {
        im->write_rc = rc;
        snprintf(im->write_msg, sizeof im->write_msg, "%s", lua_tostring(L, -1));
    }
    return lua_error(L);
}

typedef int (*set_fn)(ss_locus_view *l, const char *name, ss_value v);

/* locus:set_property(name, value) and locus:set_alert_property(name, value). */
static int set_with(lua_State *L, set_fn set, const char *fn)
{
    ss_locus_view *l = check_locus(L);
    const char *name = luaL_checkstring(L, 2);
    luaL_checkany(L, 3);
    int rc = set(l, name, to_value(L, 3, fn, name));
    return rc ? write_failed(L, rc, fn, name) : 0;
}

static int l_set_property(lua_State *L)
{
    return set_with(L, host_of(L)->set_locus_property, "set_property");
}

static int l_set_alert_property(lua_State *L)
{
    return set_with(L, host_of(L)->set_alert_property, "set_alert_property");
}

static int l_tag(lua_State *L)
{
    ss_locus_view *l = check_locus(L);
    const char *name = luaL_checkstring(L, 2);
    int rc = host_of(L)->add_tag(l, name);
    return rc ? write_failed(L, rc, "tag", name) : 0;
}

static int l_halt(lua_State *L)
{
    host_of(L)->halt(check_locus(L));
    return 0;
}

static const luaL_Reg locus_methods[] = {
    {"property", l_property},
    {"alert_count", l_alert_count},
    {"newest_alert", l_newest_alert},
    {"alert_property", l_alert_property},
    {"newest_alert_property", l_newest_alert_property},
    {"lightcurve", l_lightcurve},
    {"light_curve", l_light_curve},
    {"passbands", l_passbands},
    {"has_tag", l_has_tag},
    {"tags", l_tags},
    {"catalog_matches", l_catalog_matches},
    {"watch_lists", l_watch_lists},
    {"watch_objects", l_watch_objects},
    {"gw_events", l_gw_events},
    {"set_property", l_set_property},
    {"set_alert_property", l_set_alert_property},
    {"tag", l_tag},
    {"halt", l_halt},
    {NULL, NULL},
};

/*
 * locus.alert is the triggering alert (ANTARES) while locus:alert(i) is alert i: the field is the
 * trigger's table, made callable so that locus:alert(i) still reaches l_alert().
 */
static int push_trigger_alert(lua_State *L, ss_locus_view *l)
{
    ss_alert_info a;
    memset(&a, 0, sizeof a);
    if (host_of(L)->alert(l, SS_TRIGGER, &a) == 0)
        push_alert(L, &a);
    else
        lua_newtable(L);
    luaL_setmetatable(L, ALERT_MT);
    return 1;
}

static int alert_call(lua_State *L)
{
    lua_remove(L, 1); /* the table called: locus.alert(locus, i) becomes l_alert(locus, i) */
    return l_alert(L);
}

static int locus_index(lua_State *L)
{
    lua_settop(L, 2);
    const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "";
    if (strcmp(k, "alert") != 0) { /* not a method: the callable trigger alert */
        lua_pushvalue(L, 2);
        if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
            return 1;
    }
    ss_locus_view *l = check_locus(L);
    const ss_host_api *h = host_of(L);
    if (strcmp(k, "id") == 0)
        lua_pushstring(L, h->locus_id(l));
    else if (strcmp(k, "ra") == 0)
        lua_pushnumber(L, h->locus_ra(l));
    else if (strcmp(k, "dec") == 0)
        lua_pushnumber(L, h->locus_dec(l));
    else if (strcmp(k, "alert") == 0)
        push_trigger_alert(L, l);
    else
        lua_pushnil(L);
    return 1;
}

/* Protected: the registry's metatables of the objects run() is given, and `features`. */
static int make_metatables(lua_State *L)
{
    luaL_newmetatable(L, LOCUS_MT);
    luaL_newlib(L, locus_methods);
    lua_pushcclosure(L, locus_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, LOCUS_MT);
    lua_setfield(L, -2, "__metatable"); /* getmetatable() shows this, not the methods */
    lua_pop(L, 1);

    luaL_newmetatable(L, ALERT_MT);
    lua_pushcfunction(L, alert_call);
    lua_setfield(L, -2, "__call");
    lua_pushliteral(L, ALERT_MT);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
    return ssp_lua_features_open(L);
}

/* ---- declarations ---- */

/* Push global @p name without metamethods (a strict-mode _G must not fire). */
static int raw_global(lua_State *L, const char *name)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    lua_pushstring(L, name);
    int t = lua_rawget(L, -2);
    lua_remove(L, -2);
    return t;
}

static const char *keep(lua_State *L, const char *s, size_t len)
{
    lfilter *im = impl_of(L);
    char *copy = ss_arena_strndup(im->arena, s, len);
    if (!copy) {
        im->decl_oom = 1;
        luaL_error(L, "out of memory");
    }
    return copy;
}

static void *keep_array(lua_State *L, size_t n, size_t size)
{
    lfilter *im = impl_of(L);
    void *p = ss_arena_alloc(im->arena, n * size);
    if (!p) {
        im->decl_oom = 1;
        luaL_error(L, "out of memory");
    }
    memset(p, 0, n * size);
    return p;
}

/* The string on the top of the stack (popped), copied; raises naming @p label otherwise. */
static const char *take_string(lua_State *L, const char *label)
{
    size_t len;
    if (lua_isnil(L, -1))
        luaL_error(L, "%s: missing (a string is required)", label);
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "%s: expected a string, got %s", label, luaL_typename(L, -1));
    const char *s = lua_tolstring(L, -1, &len);
    if (strlen(s) != len)
        luaL_error(L, "%s: contains a NUL byte", label);
    const char *copy = keep(L, s, len);
    lua_pop(L, 1);
    return copy;
}

static const char *decl_string(lua_State *L, const char *name, const char *dflt)
{
    if (raw_global(L, name) == LUA_TNIL && dflt) {
        lua_pop(L, 1);
        return keep(L, dflt, strlen(dflt));
    }
    return take_string(L, name);
}

/* Field @p key of the table on the top, copied; labelled "LIST[i].key". */
static const char *decl_field(lua_State *L, const char *list, lua_Integer i, const char *key)
{
    char label[160];
    snprintf(label, sizeof label, "%s[%lld].%s", list, (long long)i, key);
    lua_pushstring(L, key);
    lua_rawget(L, -2);
    return take_string(L, label);
}

/*
 * Push global @p name, an optional array: @return its length, 0 (and nil pushed) when absent.
 * Keys other than 1..n are refused, so a misspelt {name = ...} at the top level is caught.
 */
static size_t decl_array(lua_State *L, const char *name)
{
    int t = raw_global(L, name);
    if (t == LUA_TNIL)
        return 0;
    if (t != LUA_TTABLE)
        luaL_error(L, "%s: expected an array, got %s", name, luaL_typename(L, -1));
    size_t n = (size_t)lua_rawlen(L, -1), count = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        count++;
    }
    if (count != n)
        luaL_error(L, "%s: expected an array (a table with keys 1..n only)", name);
    return n;
}

static const char *const *decl_names(lua_State *L, const char *name)
{
    size_t n = decl_array(L, name);
    const char **v = keep_array(L, n + 1, sizeof *v);
    for (size_t i = 0; i < n; i++) {
        char label[160];
        snprintf(label, sizeof label, "%s[%zu]", name, i + 1);
        lua_rawgeti(L, -1, (lua_Integer)i + 1);
        v[i] = take_string(L, label);
    }
    lua_pop(L, 1);
    return v;
}

static ss_type parse_type(lua_State *L, const char *list, lua_Integer i, const char *t)
{
    if (strcmp(t, "int") == 0)
        return SS_TYPE_INT;
    if (strcmp(t, "float") == 0)
        return SS_TYPE_FLOAT;
    if (strcmp(t, "str") == 0 || strcmp(t, "string") == 0)
        return SS_TYPE_STRING;
    if (strcmp(t, "bool") == 0)
        return SS_TYPE_BOOL;
    luaL_error(L, "%s[%I].type: '%s' is not one of int, float, str, bool", list, i, t);
    return SS_TYPE_NULL;
}

/* Push element @p i of the array on the top, which must be a table. */
static void decl_entry(lua_State *L, const char *list, lua_Integer i, const char *shape)
{
    if (lua_rawgeti(L, -1, i) != LUA_TTABLE)
        luaL_error(L, "%s[%I]: expected a table %s, got %s", list, i, shape, luaL_typename(L, -1));
}

static const ss_property_decl *decl_props(lua_State *L, const char *name)
{
    size_t n = decl_array(L, name);
    ss_property_decl *v = keep_array(L, n + 1, sizeof *v);
    for (lua_Integer i = 1; i <= (lua_Integer)n; i++) {
        ss_property_decl *d = &v[i - 1];
        decl_entry(L, name, i, "{name=, type=, description=}");
        d->name = decl_field(L, name, i, "name");
        d->type = parse_type(L, name, i, decl_field(L, name, i, "type"));
        d->description = decl_field(L, name, i, "description");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return v;
}

static const ss_tag_decl *decl_tags(lua_State *L, const char *name)
{
    size_t n = decl_array(L, name);
    ss_tag_decl *v = keep_array(L, n + 1, sizeof *v);
    for (lua_Integer i = 1; i <= (lua_Integer)n; i++) {
        decl_entry(L, name, i, "{name=, description=}");
        v[i - 1].name = decl_field(L, name, i, "name");
        v[i - 1].description = decl_field(L, name, i, "description");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return v;
}

/* A reference to global function @p name, or LUA_NOREF when it is optional and absent. */
static int decl_function(lua_State *L, const char *name, int required, const char *usage)
{
    int t = raw_global(L, name);
    if (t == LUA_TNIL && !required) {
        lua_pop(L, 1);
        return LUA_NOREF;
    }
    if (t == LUA_TNIL)
        luaL_error(L, "%s: missing (a filter defines %s)", name, usage);
    if (t != LUA_TFUNCTION)
        luaL_error(L, "%s: expected a function, got %s", name, luaL_typename(L, -1));
    return luaL_ref(L, LUA_REGISTRYINDEX);
}

/* Protected: no script code runs here (raw reads only), so any error is the declarations'. */
static int read_declarations(lua_State *L)
{
    lfilter *im = lua_touserdata(L, 1);
    ss_filter_descriptor *d = &im->desc;
    d->name = decl_string(L, "NAME", NULL);
    d->version = decl_string(L, "VERSION", "0");
    d->description = decl_string(L, "DESCRIPTION", NULL);
    d->author = decl_string(L, "AUTHOR", NULL);
    d->required_locus_properties = decl_names(L, "REQUIRED_LOCUS_PROPERTIES");
    d->required_alert_properties = decl_names(L, "REQUIRED_ALERT_PROPERTIES");
    d->required_tags = decl_names(L, "REQUIRED_TAGS");
    d->output_locus_properties = decl_props(L, "OUTPUT_LOCUS_PROPERTIES");
    d->output_alert_properties = decl_props(L, "OUTPUT_ALERT_PROPERTIES");
    d->output_tags = decl_tags(L, "OUTPUT_TAGS");
    im->run_ref = decl_function(L, "run", 1, "function run(locus)");
    im->setup_ref = decl_function(L, "setup", 0, "function setup(data)");
    return 0;
}

/* ---- load ---- */

typedef struct chunk {
    const char *buf;
    size_t len;
    const char *name; /* "@basename" */
} chunk;

static int run_chunk(lua_State *L)
{
    const chunk *c = lua_touserdata(L, 1);
    int status = ssl_sandbox_load(L, c->buf, c->len, c->name);
    if (status == LUA_ERRSYNTAX)
        impl_of(L)->syntax_error = 1;
    if (status != LUA_OK)
        return lua_error(L); /* the syntax error, with its position */
    lua_call(L, 0, 0);
    return 0;
}

static int impl_new(const char *path, const ss_filter_limits *limits, lfilter **out, ss_err *err)
{
    lfilter *im = calloc(1, sizeof *im);
    if (!im)
        return ss_err_set(err, SS_ENOMEM, "%s: out of memory", path);
    im->desc.magic = SS_FILTER_MAGIC;
    im->desc.size = sizeof im->desc;
    im->desc.abi_major = SS_FILTER_ABI_MAJOR;
    im->desc.abi_minor = SS_FILTER_ABI_MINOR;
    im->run_ref = im->setup_ref = LUA_NOREF;
    im->run_ms = limits && limits->run_ms ? limits->run_ms : SSL_DEFAULT_RUN_MS;
    im->setup_ms = limits && limits->setup_ms ? limits->setup_ms : SSL_DEFAULT_SETUP_MS;
    im->arena = ss_arena_new();
    int rc = im->arena ? 0 : ss_err_set(err, SS_ENOMEM, "out of memory");
    if (!rc)
        rc = ssl_sandbox_new(limits ? limits->memory_bytes : 0, limits ? limits->instructions : 0,
                             im, &im->L, err);
    if (rc) {
        ss_arena_free(im->arena);
        free(im);
        ss_err_prefix(err, "%s", path);
        return rc;
    }
    /* Each run leaves a little short-lived garbage (the locus object, tables of alerts): the
     * generational collector deals with that at a fraction of the incremental one's cost. */
    lua_gc(im->L, LUA_GCGEN, 0, 0);
    *out = im;
    return 0;
}

static void lf_unload(void *impl)
{
    lfilter *im = impl;
    if (!im)
        return;
    ssl_sandbox_close(im->L);
    ss_arena_free(im->arena);
    free(im);
}

/* Change the code of the error in @p err, keeping its message. */
static int recode(ss_err *err, int code)
{
    if (err)
        err->code = code;
    return code;
}

/* Run the chunk and read its declarations. @return 0 or a code, with @p err not yet naming the
 * file. */
static int load_script(lfilter *im, const chunk *c, ss_err *err)
{
    if (c->len > 0 && c->buf[0] == LUA_SIGNATURE[0])
        return ss_err_set(err, SS_EINVAL,
                          "precompiled (binary) Lua chunks are refused: give the source text");
    int rc = pcall_c(im, make_metatables, NULL, im->setup_ms, err);
    if (rc)
        return rc;
    rc = pcall_c(im, run_chunk, (void *)c, im->setup_ms, err);
    if (rc == SS_EFILTER && im->syntax_error)
        rc = recode(err, SS_EPARSE);
    if (rc)
        return rc;
    im->decl_oom = 0;
    rc = pcall_c(im, read_declarations, im, im->setup_ms, err);
    if (rc == SS_EFILTER) /* not the script's doing: its declarations are wrong */
        rc = recode(err, im->decl_oom ? SS_ENOMEM : SS_EINVAL);
    return rc;
}

static int lf_load(const char *path, const ss_filter_limits *limits, void **impl,
                   const ss_filter_descriptor **desc, ss_err *err)
{
    char *buf = NULL, *name = NULL;
    size_t len = 0;
    int rc = ss_file_read(path, &buf, &len, err);
    if (rc)
        return rc;
    const char *slash = strrchr(path, '/');
    lfilter *im = NULL;
    if ((rc = impl_new(path, limits, &im, err)) != 0) {
        free(buf);
        return rc;
    }
    if (asprintf(&name, "@%s", slash ? slash + 1 : path) < 0) {
        lf_unload(im);
        free(buf);
        return ss_err_set(err, SS_ENOMEM, "%s: out of memory", path);
    }
    chunk c = {buf, len, name};
    rc = load_script(im, &c, err);
    free(buf);
    free(name);
    if (rc) {
        lf_unload(im);
        return ss_err_prefix(err, "%s", path);
    }
    *impl = im;
    *desc = &im->desc;
    return 0;
}

/* ---- setup and run ---- */

typedef struct setup_args {
    const ss_setup_item *items;
    size_t n;
} setup_args;

static int call_setup(lua_State *L)
{
    const setup_args *a = lua_touserdata(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, impl_of(L)->setup_ref);
    lua_newtable(L); /* data */
    lua_newtable(L); /* data._paths */
    for (size_t i = 0; i < a->n; i++) {
        const ss_setup_item *it = &a->items[i];
        lua_pushlstring(L, it->value ? it->value : "", it->value ? it->value_len : 0);
        lua_setfield(L, -3, it->key);
        if (it->path) {
            lua_pushstring(L, it->path);
            lua_setfield(L, -2, it->key);
        }
    }
    lua_setfield(L, -2, "_paths");
    lua_call(L, 1, 0);
    return 0;
}

static int lf_setup(void *impl, const ss_host_api *host, const ss_setup_item *items, size_t n,
                    ss_err *err)
{
    lfilter *im = impl;
    im->host = host;
    if (im->setup_ref == LUA_NOREF)
        return 0;
    setup_args a = {items, n};
    return pcall_c(im, call_setup, &a, im->setup_ms, err);
}

static int call_run(lua_State *L)
{
    lfilter *im = lua_touserdata(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, im->run_ref);
    locus_ref *r = lua_newuserdatauv(L, sizeof *r, 0);
    r->gen = im->gen;
    im->locus_ud = r;
    luaL_setmetatable(L, LOCUS_MT);
    lua_call(L, 1, 0);
    return 0;
}

static int lf_run(void *impl, const ss_host_api *host, ss_locus_view *locus, ss_err *err)
{
    lfilter *im = impl;
    im->host = host;
    im->locus = locus;
    int rc = pcall_c(im, call_run, im, im->run_ms, err);
    im->locus = NULL;
    im->locus_ud = NULL;
    im->gen++;
    return rc;
}

static const char *const lua_exts[] = {".lua", NULL};

const ss_runtime_ops ssp_runtime_lua = {
    SS_RUNTIME_ABI, "lua", lua_exts, lf_load, lf_setup, lf_run, lf_unload,
};
