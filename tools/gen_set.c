/* The benchmarks' filter set: the contributed C filters and generated Lua light-curve statistics.
 */
#include "gen_set.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the Lua filters compute, each reading the light curve its own way. BAND, PROP and SCALE
 * are put in per filter (gen_filter_set()). */
static const char *const lua_bodies[] = {
    /* standard deviation of one band's detections */
    "  local _, mag = locus:lightcurve(BAND)\n"
    "  local n = #mag\n"
    "  if n == 0 then return end\n"
    "  local s = 0.0\n"
    "  for i = 1, n do s = s + mag[i] end\n"
    "  local mean, v = s / n, 0.0\n"
    "  for i = 1, n do v = v + (mag[i] - mean) ^ 2 end\n"
    "  locus:set_property(PROP, SCALE * (n > 1 and math.sqrt(v / (n - 1)) or 0.0))\n",
    /* amplitude over every measurement */
    "  local lo, hi = math.huge, -math.huge\n"
    "  for _, m in ipairs(locus:light_curve()) do\n"
    "    if m.mag and (m.passband == BAND or SCALE > 0) then\n"
    "      lo = math.min(lo, m.mag); hi = math.max(hi, m.mag)\n"
    "    end\n"
    "  end\n"
    "  if hi >= lo then locus:set_property(PROP, (hi - lo) * SCALE) end\n",
    /* least-squares slope of magnitude against time, mag/day */
    "  local mjd, mag = locus:lightcurve(BAND)\n"
    "  local n = #mag\n"
    "  if n < 2 then return end\n"
    "  local sx, sy, sxx, sxy = 0.0, 0.0, 0.0, 0.0\n"
    "  for i = 1, n do\n"
    "    local x = mjd[i] - mjd[1]\n"
    "    sx = sx + x; sy = sy + mag[i]; sxx = sxx + x * x; sxy = sxy + x * mag[i]\n"
    "  end\n"
    "  local d = n * sxx - sx * sx\n"
    "  if d > 0 then locus:set_property(PROP, SCALE * (n * sxy - sx * sy) / d) end\n",
    /* error-weighted mean magnitude over both bands */
    "  local sw, swm = 0.0, 0.0\n"
    "  for _, m in ipairs(locus:light_curve(nil, 'detection')) do\n"
    "    if m.mag and m.magerr and m.magerr > 0 then\n"
    "      local w = 1.0 / (m.magerr * m.magerr)\n"
    "      sw = sw + w; swm = swm + w * m.mag\n"
    "    end\n"
    "  end\n"
    "  if sw > 0 then locus:set_property(PROP, SCALE * swm / sw) end\n",
    /* median magnitude of one band */
    "  local _, mag = locus:lightcurve(BAND)\n"
    "  local n = #mag\n"
    "  if n == 0 then return end\n"
    "  local c = {}\n"
    "  for i = 1, n do c[i] = mag[i] end\n"
    "  table.sort(c)\n"
    "  local med = n % 2 == 1 and c[(n + 1) // 2] or (c[n // 2] + c[n // 2 + 1]) / 2\n"
    "  locus:set_property(PROP, med * SCALE)\n",
    /* reduced chi-square about the weighted mean, plus the newest alert's distance from it */
    "  local _, mag, err = locus:lightcurve(BAND)\n"
    "  local n = #mag\n"
    "  if n < 2 then return end\n"
    "  local sw, swm = 0.0, 0.0\n"
    "  for i = 1, n do local w = 1.0 / (err[i] * err[i]); sw = sw + w; swm = swm + w * mag[i] end\n"
    "  local mean, chi = swm / sw, 0.0\n"
    "  for i = 1, n do chi = chi + ((mag[i] - mean) / err[i]) ^ 2 end\n"
    "  local a = locus.alert\n"
    "  local dev = (a and a.mag) and math.abs(a.mag - mean) or 0.0\n"
    "  locus:set_property(PROP, SCALE * chi / (n - 1) + dev)\n",
};

/* @p src with BAND, PROP and SCALE put in. Caller frees. */
static char *gen_fill(const char *src, const char *band, const char *prop, const char *scale)
{
    size_t cap = strlen(src) * 2 + 256, n = 0;
    char *body = malloc(cap);
    for (const char *p = src; body && *p;) {
        const char *with = !strncmp(p, "BAND", 4)    ? band
                           : !strncmp(p, "PROP", 4)  ? prop
                           : !strncmp(p, "SCALE", 5) ? scale
                                                     : NULL;
        if (with) {
            n += (size_t)snprintf(body + n, cap - n, "%s", with);
            p += !strncmp(p, "SCALE", 5) ? 5 : 4;
        } else
            body[n++] = *p++;
        body[n] = '\0';
    }
    return body;
}

/* Lua filter @p k of the set, written to @p path. @return 0 or -1 (errno). */
static int gen_lua_filter(const char *path, const char *name, int k, const char *tag)
{
    size_t nb = sizeof lua_bodies / sizeof *lua_bodies;
    char prop[32], band[8], scale[16], *text = NULL;
    snprintf(prop, sizeof prop, "'bench_%02d_value'", k);
    snprintf(band, sizeof band, "'%c'", "gr"[(k / (int)nb) % 2]);
    snprintf(scale, sizeof scale, "%.1f", 1.0 + k);
    char *body = gen_fill(lua_bodies[k % nb], band, prop, scale), tags[160] = "", call[96] = "";
    if (tag && k == 0) {
        snprintf(tags, sizeof tags,
                 "OUTPUT_TAGS = {{name = '%s', description = 'every locus, for latency'}}\n", tag);
        snprintf(call, sizeof call, "  locus:tag('%s')\n", tag);
    }
    if (!body || asprintf(&text,
                          "-- generated for the benchmarks (tools/gen_set.c)\n"
                          "NAME = '%s'\nVERSION = '1.0.0'\n"
                          "DESCRIPTION = 'benchmark: a light-curve statistic (kind %d)'\n"
                          "AUTHOR = 'skysieve benchmarks <dev@skysieve.invalid>'\n"
                          "OUTPUT_LOCUS_PROPERTIES = {\n"
                          "  {name = %s, type = 'float', description = 'statistic %d'},\n}\n"
                          "%sfunction run(locus)\n%s%send\n",
                          name, k % (int)nb, prop, k, tags, call, body) < 0) {
        free(body);
        errno = ENOMEM;
        return -1;
    }
    FILE *f = fopen(path, "w");
    int rc = f && fputs(text, f) >= 0 ? 0 : -1;
    if (f && fclose(f))
        rc = -1;
    free(text);
    free(body);
    return rc;
}

char *gen_filter_set(const char *dir, const char *filters_dir, int nlua, const char *tag)
{
    char *ini = NULL;
    if (asprintf(&ini, "%s/set.ini", dir) < 0)
        return NULL;
    FILE *f = fopen(ini, "w");
    if (!f) {
        free(ini);
        return NULL;
    }
    fprintf(f,
            "; benchmark filter set: %d filters, 2 in C and %d in Lua\n[set]\n\n"
            "[filter lcstats]\npath = %s/lcstats.so\npriority = 10\n\n"
            "[filter jump]\npath = %s/jump.so\npriority = 20\n\n",
            nlua + 2, nlua, filters_dir, filters_dir);
    int rc = 0;
    for (int k = 0; k < nlua && !rc; k++) {
        char name[32], *lua = NULL;
        snprintf(name, sizeof name, "bench_lua_%02d", k);
        if (asprintf(&lua, "%s/%s.lua", dir, name) < 0)
            rc = -1;
        else if (!(rc = gen_lua_filter(lua, name, k, tag)))
            fprintf(f, "[filter %s]\npath = %s\npriority = %d\n\n", name, lua, 30 + k);
        free(lua);
    }
    if (fclose(f) || rc) {
        free(ini);
        return NULL;
    }
    return ini;
}
