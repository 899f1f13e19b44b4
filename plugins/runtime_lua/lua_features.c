/*
 * `features`, the light-curve feature library (skysieve/features.h) for Lua filters:
 *
 *   features.compute(points [, options]) -> {g = {mean = ..., ...}, ["g-r"] = {...},
 *                                             multiband = {...}}
 *   features.latest_rate(points [, min_dt [, max_dt]]) -> rate, sigma, earlier point (or nil)
 *   features.colours(a_points, b_points [, window]) -> {{mjd =, mag =, magerr =}, ...}
 *   features.list() -> {{name =, unit =, definition =, scope =, group =}, ...}
 *
 * points are tables as locus:light_curve() gives them (mjd, mag, magerr, flux, fluxerr,
 * passband, kind). The arrays the library reads are Lua userdata, so the sandbox's memory cap
 * counts them; the ss_features object (its buffers grow with the longest light curve seen) is
 * freed with the state.
 */
#include "lua_features.h"

#include <lauxlib.h>
#include <math.h>
#include <skysieve/features.h>
#include <string.h>

#define FEATURES_MT        "skysieve.features"
#define LF_MAX_FREQUENCIES 100000

static double lf_field(lua_State *L, int t, const char *key)
{
    double v = lua_getfield(L, t, key) == LUA_TNUMBER ? lua_tonumber(L, -1) : NAN;
    lua_pop(L, 1);
    return v;
}

static unsigned lf_kind(lua_State *L, int t)
{
    lua_getfield(L, t, "kind");
    const char *k = lua_tostring(L, -1);
    unsigned kind = !k || !strcmp(k, "detection") ? SS_POINT_DETECTION
                    : !strcmp(k, "forced")        ? SS_POINT_FORCED
                    : !strcmp(k, "upper_limit")   ? SS_POINT_UPPER_LIMIT
                                                  : 0;
    lua_pop(L, 1);
    return kind;
}

/* The points of the array at @p arg, in a userdata left on the stack. Passband strings stay
 * valid while the array does (it is an argument, so for the whole call); a point without a
 * string passband gets "" (one band of its own). */
static ss_lc_point *lf_points(lua_State *L, int arg, size_t *n)
{
    luaL_checktype(L, arg, LUA_TTABLE);
    lua_Unsigned len = lua_rawlen(L, arg);
    if (len > 10000000)
        luaL_error(L, "features: %d points is more than 10,000,000", (int)len);
    ss_lc_point *p = lua_newuserdatauv(L, (len ? len : 1) * sizeof *p, 0);
    for (lua_Unsigned i = 0; i < len; i++) {
        if (lua_rawgeti(L, arg, (lua_Integer)i + 1) != LUA_TTABLE)
            luaL_error(L, "features: point %d is a %s, not a table", (int)i + 1,
                       luaL_typename(L, -1));
        int t = lua_gettop(L);
        /* only a string: a number would be converted in the stack slot popped below, and its
         * text freed while the point still pointed at it */
        int is_text = lua_getfield(L, t, "passband") == LUA_TSTRING;
        p[i] = (ss_lc_point){lf_field(L, t, "mjd"),
                             lf_field(L, t, "mag"),
                             lf_field(L, t, "magerr"),
                             lf_field(L, t, "maglim"),
                             lf_field(L, t, "flux"),
                             lf_field(L, t, "fluxerr"),
                             is_text ? lua_tostring(L, -1) : "",
                             NULL,
                             NULL,
                             lf_kind(L, t)};
        lua_pop(L, 2);
    }
    *n = (size_t)len;
    return p;
}

static double lf_opt(lua_State *L, int t, const char *key, double def)
{
    if (lua_getfield(L, t, key) == LUA_TNIL) {
        lua_pop(L, 1);
        return def;
    }
    if (!lua_isnumber(L, -1))
        luaL_error(L, "features.compute: option %s must be a number", key);
    double v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    return v;
}

/* options.kinds "detection,forced"; options.groups {"basic", "period", "fit", "drw"}. */
static unsigned lf_groups(lua_State *L, int t)
{
    if (lua_getfield(L, t, "groups") == LUA_TNIL) {
        lua_pop(L, 1);
        return SS_FEATURES_ALL;
    }
    static const char *const names[] = {"basic", "period", "fit", "drw", NULL};
    unsigned mask = 0;
    for (lua_Integer i = 1; lua_rawgeti(L, -1, i) == LUA_TSTRING; i++) {
        int k = luaL_checkoption(L, -1, NULL, names);
        mask |= 1u << k;
        lua_pop(L, 1);
    }
    lua_pop(L, 2);
    return mask;
}

static ss_features_options lf_options(lua_State *L, int t)
{
    ss_features_options o = SS_FEATURES_OPTIONS_INIT;
    if (lua_isnoneornil(L, t))
        return o;
    luaL_checktype(L, t, LUA_TTABLE);
    o.min_dt = lf_opt(L, t, "min_dt", o.min_dt);
    o.max_dt = lf_opt(L, t, "max_dt", o.max_dt);
    o.colour_window = lf_opt(L, t, "colour_window", o.colour_window);
    o.min_period = lf_opt(L, t, "min_period", o.min_period);
    o.max_period = lf_opt(L, t, "max_period", o.max_period);
    o.samples_per_peak = lf_opt(L, t, "samples_per_peak", o.samples_per_peak);
    double nf = lf_opt(L, t, "max_frequencies", (double)o.max_frequencies);
    if (!(nf >= 1 && nf <= LF_MAX_FREQUENCIES))
        luaL_error(L, "features.compute: max_frequencies must be 1 to %d", LF_MAX_FREQUENCIES);
    o.max_frequencies = (size_t)nf;
    o.min_points_period = (size_t)fmax(3, lf_opt(L, t, "min_points_period", 8));
    lua_getfield(L, t, "method"); /* "auto", "exact" or "fast" */
    if (!lua_isnil(L, -1) && (o.period_method = ss_features_period_method(lua_tostring(L, -1))) < 0)
        luaL_error(L, "features.compute: method must be \"auto\", \"exact\" or \"fast\"");
    lua_pop(L, 1);
    lua_getfield(L, t, "forced"); /* forced = true: forced photometry too */
    if (lua_toboolean(L, -1))
        o.kinds |= SS_POINT_FORCED;
    lua_pop(L, 1);
    o.groups = lf_groups(L, t);
    return o;
}

static ss_features *lf_object(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, FEATURES_MT ".object");
    ss_features **box = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (!box || !*box)
        luaL_error(L, "features: not opened");
    return *box;
}

/* result[band][name] = value; NAN values are left out (nil). */
static void lf_push_results(lua_State *L, const ss_features *f)
{
    lua_newtable(L);
    int res = lua_gettop(L);
    for (size_t i = 0; i < ss_features_count(f); i++) {
        const ss_feature_value *v = ss_features_value(f, i);
        const char *band = v->def->scope == SS_FEATURE_MULTIBAND ? "multiband" : v->band;
        if (lua_getfield(L, res, band) != LUA_TTABLE) {
            lua_pop(L, 1);
            lua_newtable(L);
            lua_pushvalue(L, -1);
            lua_setfield(L, res, band);
        }
        if (!isnan(v->value)) {
            lua_pushnumber(L, v->value);
            lua_setfield(L, -2, v->def->name);
        }
        lua_pop(L, 1);
    }
}

static int lf_compute(lua_State *L)
{
    ss_features_options o = lf_options(L, 2);
    size_t n;
    ss_lc_point *p = lf_points(L, 1, &n);
    ss_features *f = lf_object(L);
    int rc = ss_features_compute(f, p, n, &o);
    if (rc)
        return luaL_error(L, "features.compute: %s", rc == SS_ENOMEM ? "out of memory" : "invalid");
    lf_push_results(L, f);
    return 1;
}

/* The time, magnitude and error arrays of the points at @p arg with a time and a magnitude (a
 * userdata; a missing error counts as 0), and in v[3 np ..] each one's position in the array. */
static double *lf_series(lua_State *L, int arg, size_t *n)
{
    size_t np;
    ss_lc_point *p = lf_points(L, arg, &np);
    double *v = lua_newuserdatauv(L, (np ? np : 1) * 4 * sizeof *v, 0);
    size_t k = 0;
    for (size_t i = 0; i < np; i++)
        if (isfinite(p[i].mjd) && isfinite(p[i].mag)) {
            v[k] = p[i].mjd, v[np + k] = p[i].mag;
            v[2 * np + k] = isfinite(p[i].magerr) ? p[i].magerr : 0;
            v[3 * np + k] = (double)(i + 1);
            k++;
        }
    memmove(v + 3 * k, v + 3 * np, k * sizeof *v);
    memmove(v + k, v + np, k * sizeof *v);
    memmove(v + 2 * k, v + 2 * np, k * sizeof *v);
    lua_remove(L, -2); /* the points */
    *n = k;
    return v;
}

/* rate, sigma and the earlier point of the pair (the table given), or nothing. */
static int lf_latest_rate(lua_State *L)
{
    double min_dt = luaL_optnumber(L, 2, 0.1), max_dt = luaL_optnumber(L, 3, 10);
    size_t n;
    double *v = lf_series(L, 1, &n), rate, sigma;
    int k = ss_features_latest_rate(v, v + n, v + 2 * n, n, min_dt, max_dt, &rate, &sigma);
    if (!k)
        return 0;
    lua_pushnumber(L, rate);
    lua_pushnumber(L, sigma);
    lua_rawgeti(L, 1, (lua_Integer)v[3 * n + (size_t)k - 1]);
    return 3;
}

static int lf_colours(lua_State *L)
{
    double window = luaL_optnumber(L, 3, 0.5);
    size_t na, nb;
    double *a = lf_series(L, 1, &na), *b = lf_series(L, 2, &nb);
    double *c = lua_newuserdatauv(L, (na ? na : 1) * 3 * sizeof *c, 0);
    ss_series s = {0, c, c + na, c + 2 * na};
    ss_features_colours(a, a + na, a + 2 * na, na, b, b + nb, b + 2 * nb, nb, window, &s);
    lua_createtable(L, (int)s.n, 0);
    for (size_t i = 0; i < s.n; i++) {
        lua_createtable(L, 0, 3);
        lua_pushnumber(L, s.t[i]);
        lua_setfield(L, -2, "mjd");
        lua_pushnumber(L, s.y[i]);
        lua_setfield(L, -2, "mag");
        lua_pushnumber(L, s.e[i]);
        lua_setfield(L, -2, "magerr");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

static int lf_list(lua_State *L)
{
    static const char *const scopes[] = {"", "band", "colour", "multiband"};
    static const char *const groups[] = {"", "basic", "period", "", "fit", "", "", "", "drw"};
    size_t n;
    const ss_feature_def *d = ss_features_catalog(&n);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_createtable(L, 0, 5);
        lua_pushstring(L, d[i].name);
        lua_setfield(L, -2, "name");
        lua_pushstring(L, d[i].unit);
        lua_setfield(L, -2, "unit");
        lua_pushstring(L, d[i].definition);
        lua_setfield(L, -2, "definition");
        lua_pushstring(L, scopes[d[i].scope]);
        lua_setfield(L, -2, "scope");
        lua_pushstring(L, d[i].group < 9 ? groups[d[i].group] : "");
        lua_setfield(L, -2, "group");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

static int lf_gc(lua_State *L)
{
    ss_features **box = lua_touserdata(L, 1);
    ss_features_free(*box);
    *box = NULL;
    return 0;
}

static const luaL_Reg lf_functions[] = {
    {"compute", lf_compute},
    {"latest_rate", lf_latest_rate},
    {"colours", lf_colours},
    {"list", lf_list},
    {NULL, NULL},
};

int ssp_lua_features_open(lua_State *L)
{
    ss_features **box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = NULL;
    luaL_newmetatable(L, FEATURES_MT);
    lua_pushcfunction(L, lf_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    if (!(*box = ss_features_new()))
        return luaL_error(L, "not enough memory");
    lua_setfield(L, LUA_REGISTRYINDEX, FEATURES_MT ".object");
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    luaL_newlib(L, lf_functions);
    lua_setfield(L, -2, "features");
    lua_pop(L, 1);
    return 0;
}
