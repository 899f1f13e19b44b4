/*
 * The Lua runtime driven through its ops table, against a fake host: an in-memory locus whose
 * writes are checked against the filter's declarations as the broker checks them.
 */
#include "lua_sandbox.h"
#include "runtime.h"
#include "testutil.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern const ss_runtime_ops ssp_runtime_lua;

static char *dir;

static void setup(void)
{
    dir = tu_mkdtemp();
}

static void teardown(void)
{
    tu_rmtree(dir);
    free(dir);
}

/* ---- the fake host ---- */

typedef struct fprop {
    const char *name;
    ss_value v;
} fprop;

typedef struct fake_write {
    char kind; /* 'L' locus, 'A' alert */
    char name[32];
    ss_value v;
    char s[64]; /* a copy of a string value */
} fake_write;

struct ss_locus_view {
    const ss_filter_descriptor *desc; /* its outputs are what writes may touch */
    fprop props[3];
    ss_alert_info alerts[3]; /* time order; the last one triggered the run */
    fprop alert_props[3];
    double lc_mjd[3], lc_mag[3], lc_err[3];
    fake_write writes[16];
    size_t nwrites;
    char tags[8][32];
    size_t ntags;
    int halted;
};

static void view_init(struct ss_locus_view *v, const ss_filter_descriptor *d)
{
    memset(v, 0, sizeof *v);
    v->desc = d;
    v->props[0] = (fprop){"num_alerts", {.type = SS_TYPE_INT, .u.i = 3}};
    v->props[1] = (fprop){"newest_alert_magnitude", {.type = SS_TYPE_FLOAT, .u.f = 18.5}};
    v->props[2] = (fprop){"survey_name", {.type = SS_TYPE_STRING, .u.s = {"ztf", 3}}};
    v->alerts[0] = (ss_alert_info){"ztf", "a1", "g", 60000.1, 150.25, -2.5, 19.0, 0.1, 20.5, 0};
    v->alerts[1] = (ss_alert_info){"ztf", "a2", "r", 60001.2, NAN, NAN, NAN, NAN, 20.1, 1};
    v->alerts[2] = (ss_alert_info){"ztf", "a3", "g", 60002.3, 150.25, -2.5, 18.5, 0.05, 20.7, 0};
    for (int i = 0; i < 3; i++)
        v->alert_props[i] = (fprop){"fid", {.type = SS_TYPE_INT, .u.i = i == 1 ? 2 : 1}};
}

static const char *f_locus_id(ss_locus_view *l)
{
    (void)l;
    return "SKS2023abc";
}

static double f_ra(ss_locus_view *l)
{
    (void)l;
    return 150.25;
}

static double f_dec(ss_locus_view *l)
{
    (void)l;
    return -2.5;
}

static int f_locus_property(ss_locus_view *l, const char *name, ss_value *out)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(l->props[i].name, name) == 0) {
            *out = l->props[i].v;
            return 0;
        }
    out->type = SS_TYPE_NULL;
    return SS_ENOTFOUND;
}

static size_t f_alert_count(ss_locus_view *l)
{
    (void)l;
    return 3;
}

static int f_alert(ss_locus_view *l, size_t i, ss_alert_info *out)
{
    if (i == SS_TRIGGER)
        i = 2;
    if (i >= 3)
        return SS_ENOTFOUND;
    *out = l->alerts[i];
    return 0;
}

static int f_alert_property(ss_locus_view *l, size_t i, const char *name, ss_value *out)
{
    if (i == SS_TRIGGER)
        i = 2;
    out->type = SS_TYPE_NULL;
    if (i >= 3 || strcmp(l->alert_props[i].name, name) != 0)
        return SS_ENOTFOUND;
    *out = l->alert_props[i].v;
    return 0;
}

static int f_lightcurve(ss_locus_view *l, const char *passband, int upper, ss_lightcurve *out)
{
    size_t n = 0;
    for (int i = 0; i < 3; i++) {
        const ss_alert_info *a = &l->alerts[i];
        if (strcmp(a->passband, passband) != 0 || a->upper_limit != upper)
            continue;
        l->lc_mjd[n] = a->mjd;
        l->lc_mag[n] = upper ? a->maglim : a->mag;
        l->lc_err[n++] = a->magerr;
    }
    *out = (ss_lightcurve){n, l->lc_mjd, l->lc_mag, l->lc_err};
    return 0;
}

static size_t copy_names(const char *const *names, size_t n, const char **out, size_t max)
{
    for (size_t i = 0; i < n && i < max; i++)
        out[i] = names[i];
    return n;
}

static size_t f_passbands(ss_locus_view *l, const char **out, size_t max)
{
    (void)l;
    static const char *const pb[] = {"g", "r"};
    return copy_names(pb, 2, out, max);
}

static int f_has_tag(ss_locus_view *l, const char *tag)
{
    (void)l;
    return strcmp(tag, "existing") == 0;
}

static size_t f_tags(ss_locus_view *l, const char **out, size_t max)
{
    (void)l;
    static const char *const tags[] = {"existing"};
    return copy_names(tags, 1, out, max);
}

static size_t f_catalog_match_count(ss_locus_view *l)
{
    (void)l;
    return 1;
}

static int f_catalog_match(ss_locus_view *l, size_t i, ss_catalog_match *out)
{
    (void)l;
    if (i != 0)
        return SS_ENOTFOUND;
    *out = (ss_catalog_match){"gaia_dr3", "4242", 0.8};
    return 0;
}

static size_t f_watch_lists(ss_locus_view *l, const char **out, size_t max)
{
    (void)l;
    static const char *const wl[] = {"wl_sn"};
    return copy_names(wl, 1, out, max);
}

static uint64_t f_catalog_match_row(ss_locus_view *l, size_t i)
{
    (void)l;
    return i == 0 ? 17 : 0;
}

static const char *const f_columns[] = {"source_id", "parallax", "var_flag", "empty"};

static size_t f_catalog_match_columns(ss_locus_view *l, size_t i, const char **out, size_t max)
{
    (void)l;
    return i == 0 ? copy_names(f_columns, 4, out, max) : 0;
}

static int f_catalog_match_column(ss_locus_view *l, size_t i, const char *name, ss_value *out)
{
    (void)l;
    out->type = SS_TYPE_NULL;
    if (i != 0)
        return SS_ENOTFOUND;
    if (!strcmp(name, "source_id"))
        *out = (ss_value){.type = SS_TYPE_INT, .u.i = 4242};
    else if (!strcmp(name, "parallax"))
        *out = (ss_value){.type = SS_TYPE_FLOAT, .u.f = 1.25};
    else if (!strcmp(name, "var_flag"))
        *out = (ss_value){.type = SS_TYPE_BOOL, .u.b = 1};
    return out->type == SS_TYPE_NULL ? SS_ENOTFOUND : 0;
}

static size_t f_watch_objects(ss_locus_view *l, ss_watch_object *out, size_t max)
{
    (void)l;
    if (max >= 1)
        out[0] = (ss_watch_object){"wl_sn", "SN2023abc", 2.5};
    return 1;
}

/* As the broker: undeclared → SS_EUNDECLARED, other type → SS_ETYPE (an int passes for a float). */
static int check_decl(const ss_property_decl *d, const char *name, ss_value v)
{
    for (; d && d->name; d++) {
        if (strcmp(d->name, name) != 0)
            continue;
        int ok = d->type == v.type || (d->type == SS_TYPE_FLOAT && v.type == SS_TYPE_INT);
        return ok ? 0 : SS_ETYPE;
    }
    return SS_EUNDECLARED;
}

static int record_write(ss_locus_view *l, char kind, const char *name, ss_value v)
{
    int rc = check_decl(
        kind == 'L' ? l->desc->output_locus_properties : l->desc->output_alert_properties, name, v);
    if (rc || l->nwrites == 16)
        return rc ? rc : SS_ENOMEM;
    fake_write *w = &l->writes[l->nwrites++];
    w->kind = kind;
    snprintf(w->name, sizeof w->name, "%s", name);
    w->v = v;
    if (v.type == SS_TYPE_STRING) {
        ck_assert_uint_lt(v.u.s.len, sizeof w->s);
        memcpy(w->s, v.u.s.ptr, v.u.s.len);
        w->v.u.s.ptr = w->s; /* the host copies: the script's string may go */
    }
    return 0;
}

static int f_set_locus_property(ss_locus_view *l, const char *name, ss_value v)
{
    return record_write(l, 'L', name, v);
}

static int f_set_alert_property(ss_locus_view *l, const char *name, ss_value v)
{
    return record_write(l, 'A', name, v);
}

static int f_add_tag(ss_locus_view *l, const char *tag)
{
    const ss_tag_decl *d = l->desc->output_tags;
    while (d && d->name && strcmp(d->name, tag) != 0)
        d++;
    if (!d || !d->name)
        return SS_EUNDECLARED;
    ck_assert_uint_lt(l->ntags, 8);
    snprintf(l->tags[l->ntags++], sizeof l->tags[0], "%s", tag);
    return 0;
}

static void f_halt(ss_locus_view *l)
{
    l->halted = 1;
}

static int f_fail(ss_locus_view *l, const char *message)
{
    (void)l;
    (void)message;
    return SS_EFILTER;
}

static const ss_host_api fake_host = {
    .size = sizeof(ss_host_api),
    .abi_major = SS_FILTER_ABI_MAJOR,
    .abi_minor = SS_FILTER_ABI_MINOR,
    .locus_id = f_locus_id,
    .locus_ra = f_ra,
    .locus_dec = f_dec,
    .locus_property = f_locus_property,
    .alert_count = f_alert_count,
    .alert = f_alert,
    .alert_property = f_alert_property,
    .lightcurve = f_lightcurve,
    .passbands = f_passbands,
    .has_tag = f_has_tag,
    .tags = f_tags,
    .catalog_match_count = f_catalog_match_count,
    .catalog_match = f_catalog_match,
    .watch_lists = f_watch_lists,
    .catalog_match_row = f_catalog_match_row,
    .catalog_match_columns = f_catalog_match_columns,
    .catalog_match_column = f_catalog_match_column,
    .watch_objects = f_watch_objects,
    .set_locus_property = f_set_locus_property,
    .set_alert_property = f_set_alert_property,
    .add_tag = f_add_tag,
    .halt = f_halt,
    .fail = f_fail,
    .strerror = ss_strerror,
};

/* ---- a loaded filter ---- */

/* Declarations shared by the run tests: 3 lines, so a body's line k is line k + 3 of the file. */
static const char header[] =
    "NAME = 't'; VERSION = '1'; DESCRIPTION = 'test filter'; AUTHOR = 'me@example.org'\n"
    "OUTPUT_LOCUS_PROPERTIES = {{name = 'n', type = 'int', description = 'an int'}, {name = 'x', "
    "type = 'float', description = 'a float'}, {name = 's', type = 'str', description = 'a "
    "string'}, {name = 'ok', type = 'bool', description = 'a bool'}}\n"
    "OUTPUT_ALERT_PROPERTIES = {{name = 'score', type = 'float', description = 'per alert'}}; "
    "OUTPUT_TAGS = {{name = 'done', description = 'ran to the end'}, {name = 'hit', "
    "description = 'found'}}\n";

typedef struct harness {
    void *impl;
    const ss_filter_descriptor *desc;
    struct ss_locus_view v;
    ss_err err;
} harness;

static int load_file(const char *text, const ss_filter_limits *lim, harness *h)
{
    memset(h, 0, sizeof *h);
    char *p = tu_write(dir, "f.lua", text);
    ss_filter_limits none = {.memory_bytes = 0, .instructions = 0};
    int rc = ssp_runtime_lua.load(p, lim ? lim : &none, &h->impl, &h->desc, &h->err);
    free(p);
    return rc;
}

/* Load header + @p body, set it up with @p items; fails the test unless both succeed. */
static void h_open(harness *h, const char *body, const ss_filter_limits *lim,
                   const ss_setup_item *items, size_t n)
{
    char *text = NULL;
    ck_assert_int_ge(asprintf(&text, "%s%s", header, body), 0);
    int rc = load_file(text, lim, h);
    free(text);
    ck_assert_msg(rc == 0, "load: %d %s", rc, h->err.msg);
    view_init(&h->v, h->desc);
    rc = ssp_runtime_lua.setup(h->impl, &fake_host, items, n, &h->err);
    ck_assert_msg(rc == 0, "setup: %d %s", rc, h->err.msg);
}

static int h_run(harness *h)
{
    ss_err_clear(&h->err);
    return ssp_runtime_lua.run(h->impl, &fake_host, &h->v, &h->err);
}

static void h_close(harness *h)
{
    ssp_runtime_lua.unload(h->impl);
}

static int h_tagged(const harness *h, const char *tag)
{
    for (size_t i = 0; i < h->v.ntags; i++)
        if (strcmp(h->v.tags[i], tag) == 0)
            return 1;
    return 0;
}

/* Load, run once, unload: @return the run's code, its message in @p msg. */
static int run_once(const char *body, const ss_filter_limits *lim, char *msg, size_t size)
{
    harness h;
    h_open(&h, body, lim, NULL, 0);
    int rc = h_run(&h);
    snprintf(msg, size, "%s", h.err.msg);
    h_close(&h);
    return rc;
}

#define assert_has(hay, needle)                                                                    \
    ck_assert_msg(strstr((hay), (needle)), "'%s' lacks '%s'", hay, needle)

/* ---- declarations ---- */

static const char full_decls[] =
    "NAME = 'jump_finder'\nVERSION = '1.2.0'\nDESCRIPTION = 'finds jumps'\nAUTHOR = 'a@b.org'\n"
    "REQUIRED_LOCUS_PROPERTIES = {'num_alerts', 'newest_alert_magnitude'}\n"
    "REQUIRED_ALERT_PROPERTIES = {'ant_mag'}\nREQUIRED_TAGS = {'upstream'}\n"
    "OUTPUT_LOCUS_PROPERTIES = {\n"
    "  {name = 'jump', type = 'float', description = 'mag jump'},\n"
    "  {name = 'count', type = 'int', description = 'c'},\n"
    "  {name = 'label', type = 'string', description = 'l'},\n"
    "  {name = 'flag', type = 'bool', description = 'f'},\n"
    "}\n"
    "OUTPUT_ALERT_PROPERTIES = {{name = 'z', type = 'str', description = 'zz'}}\n"
    "OUTPUT_TAGS = {{name = 'jumper', description = 'it jumped'}}\n"
    "function run(locus) end\n";

START_TEST(declarations_fill_the_descriptor)
{
    harness h;
    ck_assert_int_eq(load_file(full_decls, NULL, &h), 0);
    const ss_filter_descriptor *d = h.desc;
    ck_assert_uint_eq(d->magic, SS_FILTER_MAGIC);
    ck_assert_uint_eq(d->size, sizeof(ss_filter_descriptor));
    ck_assert_uint_eq(d->abi_major, SS_FILTER_ABI_MAJOR);
    ck_assert_str_eq(d->name, "jump_finder");
    ck_assert_str_eq(d->version, "1.2.0");
    ck_assert_str_eq(d->description, "finds jumps");
    ck_assert_str_eq(d->author, "a@b.org");
    ck_assert_str_eq(d->required_locus_properties[1], "newest_alert_magnitude");
    ck_assert_ptr_null(d->required_locus_properties[2]);
    ck_assert_str_eq(d->required_alert_properties[0], "ant_mag");
    ck_assert_str_eq(d->required_tags[0], "upstream");
    ck_assert_ptr_null(d->required_tags[1]);
    static const ss_type types[] = {SS_TYPE_FLOAT, SS_TYPE_INT, SS_TYPE_STRING, SS_TYPE_BOOL};
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(d->output_locus_properties[i].type, types[i]);
    ck_assert_str_eq(d->output_locus_properties[2].name, "label");
    ck_assert_str_eq(d->output_locus_properties[0].description, "mag jump");
    ck_assert_ptr_null(d->output_locus_properties[4].name);
    ck_assert_int_eq(d->output_alert_properties[0].type, SS_TYPE_STRING);
    ck_assert_ptr_null(d->output_alert_properties[1].name);
    ck_assert_str_eq(d->output_tags[0].name, "jumper");
    ck_assert_str_eq(d->output_tags[0].description, "it jumped");
    ck_assert_ptr_null(d->output_tags[1].name);
    h_close(&h);
}
END_TEST

START_TEST(optional_declarations_default)
{
    harness h;
    ck_assert_int_eq(load_file("NAME='m' DESCRIPTION='d' AUTHOR='a' function run(l) end", NULL, &h),
                     0);
    ck_assert_str_eq(h.desc->version, "0");
    ck_assert_ptr_null(h.desc->required_locus_properties[0]);
    ck_assert_ptr_null(h.desc->required_tags[0]);
    ck_assert_ptr_null(h.desc->output_locus_properties[0].name);
    ck_assert_ptr_null(h.desc->output_tags[0].name);
    /* no setup() declared: setting up is a no-op */
    ck_assert_int_eq(ssp_runtime_lua.setup(h.impl, &fake_host, NULL, 0, &h.err), 0);
    h_close(&h);
}
END_TEST

static const struct {
    const char *text;
    int code;
    const char *says;
} bad_scripts[] = {
    {"DESCRIPTION='d' AUTHOR='a' function run(l) end", SS_EINVAL, "f.lua: NAME: missing"},
    {"NAME=3 DESCRIPTION='d' AUTHOR='a' function run(l) end", SS_EINVAL,
     "NAME: expected a string, got number"},
    {"NAME='n' AUTHOR='a' function run(l) end", SS_EINVAL, "DESCRIPTION: missing"},
    {"NAME='n' DESCRIPTION='d' function run(l) end", SS_EINVAL, "AUTHOR: missing"},
    {"NAME='n' DESCRIPTION='d' AUTHOR='a'", SS_EINVAL, "run: missing"},
    {"NAME='n' DESCRIPTION='d' AUTHOR='a' run = 5", SS_EINVAL, "run: expected a function"},
    {"NAME='n' DESCRIPTION='d' AUTHOR='a' function run(l) end\n"
     "OUTPUT_LOCUS_PROPERTIES = {{name='a', type='int', description='x'},\n"
     "  {name='b', type='double', description='y'}}",
     SS_EINVAL,
     "f.lua: OUTPUT_LOCUS_PROPERTIES[2].type: 'double' is not one of int, float, str, bool"},
    {"NAME='n' DESCRIPTION='d' AUTHOR='a' function run(l) end REQUIRED_TAGS = {'a', 2}", SS_EINVAL,
     "REQUIRED_TAGS[2]: expected a string, got number"},
    {"NAME='n' DESCRIPTION='d' AUTHOR='a' function run(l) end REQUIRED_TAGS = {x = 'y'}", SS_EINVAL,
     "REQUIRED_TAGS: expected an array"},
    {"NAME='n' DESCRIPTION='d' AUTHOR='a' function run(l) end OUTPUT_TAGS = {{name = 't'}}",
     SS_EINVAL, "OUTPUT_TAGS[1].description: missing"},
    {"NAME='n' DESCRIPTION='d' AUTHOR='a' function run(l) end OUTPUT_ALERT_PROPERTIES = {'x'}",
     SS_EINVAL, "OUTPUT_ALERT_PROPERTIES[1]: expected a table"},
    {"NAME='n' DESCRIPTION='d' AUTHOR='a' function run(l) end setup = true", SS_EINVAL,
     "setup: expected a function, got boolean"},
    {"NAME = 'n'\nfunction run(l) end end", SS_EPARSE, "f.lua:2:"},
    {"NAME = 'n'\nerror('top level')", SS_EFILTER, "f.lua:2: top level"},
};

START_TEST(bad_declarations_name_file_and_field)
{
    for (size_t i = 0; i < sizeof bad_scripts / sizeof *bad_scripts; i++) {
        harness h;
        int rc = load_file(bad_scripts[i].text, NULL, &h);
        ck_assert_msg(rc == bad_scripts[i].code, "script %zu: %d (%s)", i, rc, h.err.msg);
        ck_assert_int_eq(h.err.code, rc);
        assert_has(h.err.msg, bad_scripts[i].says);
        ck_assert_msg(strstr(h.err.msg, dir) == h.err.msg, "path first: %s", h.err.msg);
        ck_assert_ptr_null(h.impl);
    }
}
END_TEST

START_TEST(missing_file_is_an_error)
{
    void *impl = NULL;
    const ss_filter_descriptor *d = NULL;
    ss_err err;
    ss_err_clear(&err);
    char *p = tu_path(dir, "absent.lua");
    ss_filter_limits lim = {.memory_bytes = 0, .instructions = 0};
    ck_assert_int_ne(ssp_runtime_lua.load(p, &lim, &impl, &d, &err), 0);
    assert_has(err.msg, "absent.lua");
    ck_assert_ptr_null(impl);
    free(p);
}
END_TEST

static int dump_writer(lua_State *L, const void *p, size_t sz, void *ud)
{
    (void)L;
    return fwrite(p, 1, sz, ud) == sz ? 0 : 1;
}

START_TEST(binary_chunks_are_refused)
{
    lua_State *L = luaL_newstate();
    ck_assert_int_eq(luaL_loadstring(L, "NAME='b' DESCRIPTION='d' AUTHOR='a' function run(l) end"),
                     LUA_OK);
    char *p = tu_path(dir, "f.lua");
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(lua_dump(L, dump_writer, f, 0), 0);
    ck_assert_int_eq(fclose(f), 0);
    lua_close(L);

    void *impl = NULL;
    const ss_filter_descriptor *d = NULL;
    ss_err err;
    ss_filter_limits lim = {.memory_bytes = 0, .instructions = 0};
    ck_assert_int_eq(ssp_runtime_lua.load(p, &lim, &impl, &d, &err), SS_EINVAL);
    assert_has(err.msg, p);
    assert_has(err.msg, "binary");
    ck_assert_ptr_null(impl);
    free(p);
}
END_TEST

START_TEST(top_level_infinite_loop_fails_load)
{
    harness h;
    ss_filter_limits lim = {.memory_bytes = 0, .instructions = 100000};
    int rc = load_file("NAME='n' DESCRIPTION='d' AUTHOR='a'\nwhile true do end\n", &lim, &h);
    ck_assert_int_eq(rc, SS_ELIMIT);
    assert_has(h.err.msg, "f.lua:2: instruction budget of 100000 exceeded");
    ck_assert_ptr_null(h.impl);
}
END_TEST

START_TEST(tiny_memory_cap_fails_load)
{
    /* too small for the state itself, then for the libraries */
    static const size_t caps[] = {1000, 8000};
    static const char *const says[] = {"memory limit too small for Lua",
                                       "memory limit of 8000 bytes exceeded"};
    for (int i = 0; i < 2; i++) {
        harness h;
        ss_filter_limits lim = {.memory_bytes = caps[i], .instructions = 0};
        int rc = load_file("NAME='n' DESCRIPTION='d' AUTHOR='a' function run(l) end", &lim, &h);
        ck_assert_msg(rc == SS_ELIMIT, "cap %zu: %d %s", caps[i], rc, h.err.msg);
        assert_has(h.err.msg, says[i]);
        ck_assert_ptr_null(h.impl);
    }
}
END_TEST

/* ---- reading ---- */

static const char reads_body[] =
    "function run(locus)\n"
    "  assert(locus.id == 'SKS2023abc', 'id ' .. tostring(locus.id))\n"
    "  assert(locus.ra == 150.25 and locus.dec == -2.5, 'position')\n"
    "  local n = locus:property('num_alerts')\n"
    "  assert(n == 3 and math.type(n) == 'integer', 'int property')\n"
    "  assert(locus:property('newest_alert_magnitude') == 18.5, 'float property')\n"
    "  assert(locus:property('survey_name') == 'ztf', 'string property')\n"
    "  assert(locus:property('nope') == nil, 'missing property')\n"
    "  assert(locus:alert_count() == 3, 'alert_count')\n"
    "  local a1 = locus:alert(1)\n"
    "  assert(a1.alert_id == 'a1' and a1.survey == 'ztf' and a1.passband == 'g', 'alert 1')\n"
    "  assert(a1.mjd == 60000.1 and a1.mag == 19.0 and a1.magerr == 0.1, 'alert 1 numbers')\n"
    "  assert(a1.maglim == 20.5 and a1.ra == 150.25 and a1.upper_limit == false, 'alert 1 more')\n"
    "  local a2 = locus:alert(2)\n"
    "  assert(a2.upper_limit == true and a2.mag == nil and a2.ra == nil, 'NaN is nil')\n"
    "  assert(a2.maglim == 20.1, 'alert 2 maglim')\n"
    "  assert(locus:alert(0) == nil and locus:alert(4) == nil, 'out of range')\n"
    "  assert(locus:newest_alert().alert_id == 'a3', 'newest_alert')\n"
    "  assert(locus.alert.alert_id == 'a3' and locus.alert.mag == 18.5, 'locus.alert')\n"
    "  assert(locus:alert_property(2, 'fid') == 2, 'alert_property')\n"
    "  assert(locus:alert_property(9, 'fid') == nil, 'alert_property out of range')\n"
    "  assert(locus:alert_property(1, 'nope') == nil, 'alert_property missing')\n"
    "  assert(locus:newest_alert_property('fid') == 1, 'newest_alert_property')\n"
    "  local t, m, e = locus:lightcurve('g')\n"
    "  assert(#t == 2 and t[1] == 60000.1 and t[2] == 60002.3, 'lightcurve mjd')\n"
    "  assert(m[1] == 19.0 and m[2] == 18.5 and #e == 2 and e[2] == 0.05, 'lightcurve mags')\n"
    "  local ut, um, ue = locus:lightcurve('r', true)\n"
    "  assert(#ut == 1 and ut[1] == 60001.2 and um[1] == 20.1 and ue == nil, 'upper limits')\n"
    "  assert(#locus:lightcurve('r') == 0, 'no detections in r')\n"
    "  local pb = locus:passbands()\n"
    "  assert(#pb == 2 and pb[1] == 'g' and pb[2] == 'r', 'passbands')\n"
    "  assert(locus:has_tag('existing') and not locus:has_tag('other'), 'has_tag')\n"
    "  local tags = locus:tags()\n"
    "  assert(#tags == 1 and tags[1] == 'existing', 'tags')\n"
    "  local cm = locus:catalog_matches()\n"
    "  assert(#cm == 1 and cm[1].catalog == 'gaia_dr3' and cm[1].object_id == '4242', 'cat')\n"
    "  assert(cm[1].separation_arcsec == 0.8, 'separation')\n"
    "  assert(locus:watch_lists()[1] == 'wl_sn', 'watch lists')\n"
    "  assert(cm[1].row == 17 and math.type(cm[1].columns.source_id) == 'integer', 'row')\n"
    "  assert(cm[1].columns.parallax == 1.25 and cm[1].columns.var_flag == true, 'columns')\n"
    "  assert(cm[1].columns.empty == nil, 'empty column')\n"
    "  assert(#locus:catalog_matches('gaia_dr3') == 1, 'by catalog')\n"
    "  assert(#locus:catalog_matches('other') == 0, 'other catalog')\n"
    "  local wo = locus:watch_objects()\n"
    "  assert(#wo == 1 and wo[1].list == 'wl_sn' and wo[1].object == 'SN2023abc', 'watch "
    "objects')\n"
    "  assert(wo[1].separation_arcsec == 2.5, 'watch separation')\n"
    "  assert(locus.nothing == nil, 'unknown field')\n"
    "  locus:tag('done')\n"
    "end\n";

START_TEST(reads_go_through_the_host)
{
    harness h;
    h_open(&h, reads_body, NULL, NULL, 0);
    int rc = h_run(&h);
    ck_assert_msg(rc == 0, "%d %s", rc, h.err.msg);
    ck_assert(h_tagged(&h, "done"));
    ck_assert_uint_eq(h.v.nwrites, 0);
    h_close(&h);
}
END_TEST

/* ---- writing ---- */

static const char writes_body[] = "function run(locus)\n"
                                  "  locus:set_property('n', 42)\n"
                                  "  locus:set_property('x', 2.5)\n"
                                  "  locus:set_property('s', 'a\\0b')\n"
                                  "  locus:set_property('ok', true)\n"
                                  "  locus:set_property('x', 3.0)\n"
                                  "  locus:set_alert_property('score', 7)\n"
                                  "  locus:tag('hit')\n"
                                  "  locus:halt()\n"
                                  "end\n";

START_TEST(writes_reach_the_host_typed)
{
    harness h;
    h_open(&h, writes_body, NULL, NULL, 0);
    int rc = h_run(&h);
    ck_assert_msg(rc == 0, "%d %s", rc, h.err.msg);
    ck_assert_uint_eq(h.v.nwrites, 6);
    const fake_write *w = h.v.writes;
    ck_assert_str_eq(w[0].name, "n");
    ck_assert_int_eq(w[0].v.type, SS_TYPE_INT);
    ck_assert_int_eq(w[0].v.u.i, 42);
    ck_assert_int_eq(w[1].v.type, SS_TYPE_FLOAT);
    ck_assert_double_eq(w[1].v.u.f, 2.5);
    ck_assert_int_eq(w[2].v.type, SS_TYPE_STRING);
    ck_assert_uint_eq(w[2].v.u.s.len, 3);
    ck_assert_mem_eq(w[2].s, "a\0b", 3);
    ck_assert_int_eq(w[3].v.type, SS_TYPE_BOOL);
    ck_assert_int_eq(w[3].v.u.b, 1);
    ck_assert_int_eq(w[4].v.type, SS_TYPE_FLOAT); /* 3.0 stays a float */
    ck_assert_double_eq(w[4].v.u.f, 3.0);
    ck_assert_int_eq(w[5].kind, 'A');
    ck_assert_str_eq(w[5].name, "score");
    ck_assert_int_eq(w[5].v.type, SS_TYPE_INT);
    ck_assert(h_tagged(&h, "hit"));
    ck_assert_int_eq(h.v.halted, 1);
    h_close(&h);
}
END_TEST

static const struct {
    const char *body;
    int code;
    const char *says;
} bad_writes[] = {
    {"function run(locus)\n  locus:set_property('nope', 1)\nend\n", SS_EUNDECLARED,
     "f.lua:5: set_property('nope'): filter wrote something it did not declare"},
    {"function run(locus)\n  locus:set_property('n', 'text')\nend\n", SS_ETYPE,
     "set_property('n'): filter wrote a value of another type than declared"},
    {"function run(locus)\n  locus:set_alert_property('n', 1)\nend\n", SS_EUNDECLARED,
     "set_alert_property('n')"},
    {"function run(locus)\n  locus:tag('nope')\nend\n", SS_EUNDECLARED, "tag('nope')"},
    /* caught by the script: the run fails all the same */
    {"function run(locus)\n  pcall(locus.set_property, locus, 'nope', 1)\n  "
     "locus:tag('done')\nend\n",
     SS_EUNDECLARED, "set_property('nope')"},
    {"function run(locus)\n  locus:set_property('x', 0/0)\nend\n", SS_EFILTER,
     "set_property('x'): not a finite number"},
    {"function run(locus)\n  locus:set_property('x', math.huge)\nend\n", SS_EFILTER,
     "not a finite number"},
    {"function run(locus)\n  locus:set_property('n', {})\nend\n", SS_EFILTER,
     "set_property('n'): cannot store a table"},
    {"function run(locus)\n  locus:set_property('n')\nend\n", SS_EFILTER, "bad argument #2"},
};

START_TEST(bad_writes_fail_the_run)
{
    for (size_t i = 0; i < sizeof bad_writes / sizeof *bad_writes; i++) {
        char msg[SS_ERR_MSG_MAX];
        int rc = run_once(bad_writes[i].body, NULL, msg, sizeof msg);
        ck_assert_msg(rc == bad_writes[i].code, "case %zu: %d (%s)", i, rc, msg);
        assert_has(msg, bad_writes[i].says);
    }
}
END_TEST

/* ---- errors and limits ---- */

START_TEST(lua_errors_carry_message_and_position)
{
    char msg[SS_ERR_MSG_MAX];
    int rc = run_once("function run(locus)\n  error('boom')\nend\n", NULL, msg, sizeof msg);
    ck_assert_int_eq(rc, SS_EFILTER);
    ck_assert_str_eq(msg, "f.lua:5: boom");
    rc = run_once("function run(locus)\n  local t\n  return t.x\nend\n", NULL, msg, sizeof msg);
    ck_assert_int_eq(rc, SS_EFILTER);
    assert_has(msg, "f.lua:6: attempt to index");
    rc = run_once("function run(locus)\n  error({})\nend\n", NULL, msg, sizeof msg);
    ck_assert_int_eq(rc, SS_EFILTER);
    assert_has(msg, "table");
}
END_TEST

static const char loop_once_body[] = "calls = 0\n"
                                     "function run(locus)\n"
                                     "  calls = calls + 1\n"
                                     "  if calls == 1 then LOOP end\n"
                                     "  locus:tag('done')\n"
                                     "end\n";

/* Run a filter whose first run executes @p loop: that run must hit the budget, the next work. */
static void check_budget_stops(const char *loop)
{
    char *body = strdup(loop_once_body);
    char *at = strstr(body, "LOOP");
    char *text = NULL;
    ck_assert_int_ge(asprintf(&text, "%.*s%s%s", (int)(at - body), body, loop, at + 4), 0);
    harness h;
    ss_filter_limits lim = {.memory_bytes = 0, .instructions = 100000};
    h_open(&h, text, &lim, NULL, 0);
    clock_t t0 = clock();
    int rc = h_run(&h);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    ck_assert_msg(rc == SS_ELIMIT, "%s: %d %s", loop, rc, h.err.msg);
    assert_has(h.err.msg, "instruction budget of 100000 exceeded");
    ck_assert_msg(secs < 2.0, "%s took %.2f s", loop, secs);
    ck_assert(!h_tagged(&h, "done"));
    rc = h_run(&h);
    ck_assert_msg(rc == 0, "next run: %d %s", rc, h.err.msg);
    ck_assert(h_tagged(&h, "done"));
    h_close(&h);
    free(text);
    free(body);
}

START_TEST(infinite_loop_hits_the_budget)
{
    check_budget_stops("while true do end");
    harness h;
    h_open(&h, "function run(locus) while true do end end",
           &(ss_filter_limits){.instructions = 100000}, NULL, 0);
    ck_assert_int_eq(h_run(&h), SS_ELIMIT);
    assert_has(h.err.msg, "f.lua:4: instruction budget of 100000 exceeded");
    h_close(&h);
}
END_TEST

START_TEST(pcall_cannot_swallow_the_budget)
{
    check_budget_stops("pcall(function() while true do end end)");
    check_budget_stops("while true do pcall(function() while true do end end) end");
    check_budget_stops("xpcall(function() while true do end end, function(e) return e end)");
    check_budget_stops("return pcall(function() while true do end end)");
    check_budget_stops("for i = 1, 10 do pcall(string.rep, 'x', 10) end while true do end");
}
END_TEST

START_TEST(budget_is_per_run_and_roughly_exact)
{
    char msg[SS_ERR_MSG_MAX];
    ss_filter_limits lim = {.memory_bytes = 0, .instructions = 100000};
    const char *small = "function run(locus) local s = 0 for i = 1, 5000 do s = s + i end end";
    const char *big = "function run(locus) local s = 0 for i = 1, 200000 do s = s + i end end";
    ck_assert_int_eq(run_once(small, &lim, msg, sizeof msg), 0);
    ck_assert_int_eq(run_once(big, &lim, msg, sizeof msg), SS_ELIMIT);
    /* The budget is reset per run: 20 runs of 5000 iterations each pass. */
    harness h;
    h_open(&h, small, &lim, NULL, 0);
    for (int i = 0; i < 20; i++)
        ck_assert_msg(h_run(&h) == 0, "run %d: %s", i, h.err.msg);
    h_close(&h);
}
END_TEST

static const char hog_body[] =
    "calls = 0\n"
    "function run(locus)\n"
    "  calls = calls + 1\n"
    "  if calls == 1 then\n"
    "    local t = {}\n"
    "    for i = 1, 1e8 do t[i] = string.rep('x', 100) .. i end\n"
    "  end\n"
    "  local ok = pcall(string.rep, 'x', 1e9)\n" /* caught by the script: not a failure */
    "  assert(not ok, 'a 1 GB string under a 4 MiB cap')\n"
    "  local keep = {} for i = 1, 1000 do keep[i] = tostring(i) end\n"
    "  locus:tag('done')\n"
    "end\n";

START_TEST(memory_cap_fails_the_run_not_the_state)
{
    harness h;
    ss_filter_limits lim = {.memory_bytes = 4u << 20, .instructions = 0};
    h_open(&h, hog_body, &lim, NULL, 0);
    int rc = h_run(&h);
    ck_assert_msg(rc == SS_ELIMIT, "%d %s", rc, h.err.msg);
    assert_has(h.err.msg, "memory limit of 4194304 bytes exceeded");
    ck_assert(!h_tagged(&h, "done"));
    for (int i = 0; i < 3; i++) {
        rc = h_run(&h);
        ck_assert_msg(rc == 0, "next run %d: %d %s", i, rc, h.err.msg);
    }
    ck_assert(h_tagged(&h, "done"));
    h_close(&h);
}
END_TEST

/* ---- the sandbox ---- */

static const char sandbox_body[] =
    "function run(locus)\n"
    "  assert(io == nil and debug == nil and package == nil and require == nil, 'libs')\n"
    "  assert(load == nil and loadstring == nil and dofile == nil and loadfile == nil, 'load')\n"
    "  assert(string.dump == nil and collectgarbage == nil and coroutine == nil, 'more')\n"
    "  assert(os.execute == nil and os.getenv == nil and os.exit == nil, 'os')\n"
    "  assert(os.remove == nil and os.rename == nil and os.tmpname == nil, 'os files')\n"
    "  assert(type(os.clock()) == 'number' and math.type(os.time()) == 'integer', 'clock')\n"
    "  print('filters have no stdout')\n"
    "  assert(not pcall(setmetatable, {}, {__gc = function() end}), '__gc refused')\n"
    "  assert(setmetatable({}, {__index = {a = 1}}).a == 1, 'setmetatable')\n"
    "  assert(getmetatable(locus) == 'skysieve.locus', 'locus metatable hidden')\n"
    "  assert(('%d'):format(3) == '3' and ('abc'):upper() == 'ABC', 'string')\n"
    "  assert(utf8.char(72) == 'H' and table.concat({1, 2}, ',') == '1,2', 'utf8, table')\n"
    "  assert(math.floor(2.5) == 2 and select('#', 1, 2) == 2, 'math, base')\n"
    "  locus:tag('done')\n"
    "end\n";

START_TEST(sandbox_offers_only_safe_libraries)
{
    harness h;
    h_open(&h, sandbox_body, NULL, NULL, 0);
    int rc = h_run(&h);
    ck_assert_msg(rc == 0, "%d %s", rc, h.err.msg);
    ck_assert(h_tagged(&h, "done"));
    h_close(&h);
}
END_TEST

/*
 * The names a filter can reach, as sdk/lua-api.md lists them ("" holds the globals). Any other name
 * fails the test: a sandbox that opens more than its allow-list, or a function a later Lua release
 * adds to a library, shows up here instead of in a filter.
 */
static const char allow_list_body[] =
    "local allowed = {\n"
    "  [''] = '_G _VERSION assert error getmetatable ipairs next pairs pcall print rawequal '\n"
    "    .. 'rawget rawlen rawset select setmetatable tonumber tostring type warn xpcall '\n"
    "    .. 'string table math utf8 os features',\n"
    "  string = 'byte char find format gmatch gsub len lower match pack packsize rep reverse '\n"
    "    .. 'sub unpack upper',\n"
    "  table = 'concat insert move pack remove sort unpack',\n"
    "  math = 'abs acos asin atan ceil cos deg exp floor fmod huge log max maxinteger min '\n"
    "    .. 'mininteger modf pi rad random randomseed sin sqrt tan tointeger type ult',\n"
    "  utf8 = 'char charpattern codepoint codes len offset',\n"
    "  os = 'clock time',\n"
    "  features = 'colours compute latest_rate list',\n"
    "}\n"
    /* Lua 5.3's math functions, there when Lua is built with LUA_COMPAT_MATHLIB; the filter's
     * own globals */
    "local optional = {math = 'atan2 cosh frexp ldexp log10 pow sinh tanh',\n"
    "  [''] = 'NAME VERSION DESCRIPTION AUTHOR OUTPUT_LOCUS_PROPERTIES OUTPUT_ALERT_PROPERTIES '\n"
    "    .. 'OUTPUT_TAGS run'}\n"
    "local function set(s)\n"
    "  local t = {}\n"
    "  for w in (s or ''):gmatch('%S+') do t[w] = true end\n"
    "  return t\n"
    "end\n"
    "local function check(where, tbl, lib, bad)\n"
    "  local want, may = set(allowed[lib]), set(optional[lib])\n"
    "  for k in pairs(tbl) do\n"
    "    if not (want[k] or may[k]) then bad[#bad + 1] = where .. tostring(k) end\n"
    "  end\n"
    "  for k in pairs(want) do\n"
    "    if rawget(tbl, k) == nil then bad[#bad + 1] = 'missing ' .. where .. k end\n"
    "  end\n"
    "end\n"
    "function run(locus)\n"
    "  local bad = {}\n"
    "  check('', _G, '', bad)\n"
    "  for lib in pairs(allowed) do\n"
    "    if lib ~= '' then check(lib .. '.', _G[lib], lib, bad) end\n"
    "  end\n"
    "  table.sort(bad)\n"
    "  if #bad > 0 then error('not the allow-list: ' .. table.concat(bad, ' '), 0) end\n"
    "  locus:tag('done')\n"
    "end\n";

/* features.* (lua_features.c): what the C library computes, reached from Lua; bad input named. */
static const char features_body[] =
    "function run(locus)\n"
    "  local pts = {}\n"
    "  for i = 1, 60 do\n"
    "    local t = 60000 + i * 0.7 + (i * 37 % 11) / 20\n"
    "    pts[#pts + 1] = {mjd = t, mag = 18 + 0.5 * math.sin(2 * math.pi * t / 3.3),\n"
    "                     magerr = 0.02, passband = i % 2 == 0 and 'g' or 'r', kind = "
    "'detection'}\n"
    "  end\n"
    "  pts[#pts + 1] = {mjd = 60050, mag = 30, magerr = 0.1, passband = 'g', kind = "
    "'upper_limit'}\n"
    "  local f = features.compute(pts)\n"
    "  assert(f.g.n == 30 and f.r.n == 30, 'counts, upper limit left out')\n"
    "  assert(f.g.amplitude > 0.4 and f.g.amplitude <= 0.5, 'amplitude ' .. f.g.amplitude)\n"
    "  assert(math.abs(f.multiband.multiband_period - 3.3) < 0.033, 'period')\n"
    "  assert(f['g-r'] and f['g-r'].colour_first, 'colour')\n"
    "  assert(f.g.bazin_a == nil or f.g.bazin_a == f.g.bazin_a, 'NaN is nil')\n"
    "  local basic = features.compute(pts, {groups = {'basic'}})\n"
    "  assert(basic.g.period == nil and basic.g.mean, 'groups')\n"
    "  local first = {mjd = 1, mag = 20, magerr = 0.1}\n"
    "  local rate, sigma, old = features.latest_rate({first, {mjd = 1.9, mag = 19.9},\n"
    "    {mjd = 1.95, mag = 19}})\n"
    "  assert(rate == -1 / 0.95 and math.abs(sigma - 10) < 1e-9 and old == first, 'latest_rate')\n"
    "  assert(features.latest_rate({{mjd = 1, mag = 20}}) == nil, 'no rate')\n"
    "  local c = features.colours({{mjd = 1, mag = 20, magerr = 0.1}},\n"
    "    {{mjd = 1.2, mag = 19.5, magerr = 0.1}})\n"
    "  assert(#c == 1 and c[1].mag == 0.5, 'colours')\n"
    "  assert(#features.list() >= 44 and features.list()[1].name == 'n', 'list')\n"
    "  local ok, err = pcall(features.compute, {1, 2})\n"
    "  assert(not ok and err:find('point 1 is a number'), err)\n"
    "  local odd = features.compute({{mjd = 1, mag = 20, magerr = 0.1, passband = 7},\n"
    "    {mjd = 2, mag = 19, magerr = 0.1}})\n"
    "  assert(odd[''] and odd[''].n == 2, 'a passband that is not text is one band of its own')\n"
    "  ok, err = pcall(features.compute, pts, {max_frequencies = 1e9})\n"
    "  assert(not ok and err:find('max_frequencies'), err)\n"
    "  local ex = features.compute(pts, {groups = {'period'}, method = 'exact'})\n"
    "  local fa = features.compute(pts, {groups = {'period'}, method = 'fast'})\n"
    "  assert(ex.multiband.multiband_period == fa.multiband.multiband_period and\n"
    "         math.abs(ex.g.period_power - fa.g.period_power) < 1e-9, 'method')\n"
    "  ok, err = pcall(features.compute, pts, {method = 'quick'})\n"
    "  assert(not ok and err:find('method must be'), err)\n"
    "  locus:tag('done')\n"
    "end\n";

START_TEST(features_reach_lua)
{
    harness h;
    h_open(&h, features_body, NULL, NULL, 0);
    int rc = h_run(&h);
    ck_assert_msg(rc == 0, "%d %s", rc, h.err.msg);
    ck_assert(h_tagged(&h, "done"));
    h_close(&h);
}
END_TEST

START_TEST(sandbox_names_are_the_allow_list)
{
    harness h;
    h_open(&h, allow_list_body, NULL, NULL, 0);
    int rc = h_run(&h);
    ck_assert_msg(rc == 0, "%d %s", rc, h.err.msg);
    ck_assert(h_tagged(&h, "done"));
    h_close(&h);
}
END_TEST

/* What is left out stays out by the ways round a global: the string metatable, _ENV, rawget. */
static const char left_out_body[] =
    "function run(locus)\n"
    "  assert(('').dump == nil and getmetatable('').__index == string, 'string metatable')\n"
    "  assert(_G._G == _G and _ENV == _G, '_G is the sandbox')\n"
    "  for _, n in ipairs({'load', 'loadfile', 'dofile', 'require', 'loadstring', 'module',\n"
    "                      'collectgarbage', 'io', 'debug', 'package', 'coroutine', 'unpack',\n"
    "                      'setfenv', 'getfenv', 'newproxy', 'gcinfo'}) do\n"
    "    assert(rawget(_G, n) == nil, n)\n"
    "  end\n"
    "  assert(not pcall(collectgarbage, 'stop'), 'collectgarbage')\n"
    "  assert(not pcall(require, 'io'), 'require')\n"
    "  assert(not pcall(load, 'return 1'), 'load')\n"
    "  locus:tag('done')\n"
    "end\n";

START_TEST(sandbox_leaves_out_the_rest)
{
    harness h;
    h_open(&h, left_out_body, NULL, NULL, 0);
    int rc = h_run(&h);
    ck_assert_msg(rc == 0, "%d %s", rc, h.err.msg);
    ck_assert(h_tagged(&h, "done"));
    h_close(&h);
}
END_TEST

/* ---- the sandbox unit (lua_sandbox.h), without the runtime ---- */

/* Run @p code in a fresh armed call: @return what ssl_sandbox_limit() says, or SS_EFILTER for
 * another error. */
static int sb_call(lua_State *L, const char *code, ss_err *err)
{
    ss_err_clear(err);
    ssl_sandbox_arm(L);
    ck_assert_int_eq(ssl_sandbox_load(L, code, strlen(code), "=unit"), LUA_OK);
    int status = lua_pcall(L, 0, 0, 0);
    int rc = ssl_sandbox_limit(L, status, err);
    if (!rc && status != LUA_OK)
        rc = ss_err_set(err, SS_EFILTER, "%s", lua_tostring(L, -1));
    lua_settop(L, 0);
    ssl_sandbox_reclaim(L, status);
    return rc;
}

START_TEST(sandbox_unit_memory_cap_fires)
{
    lua_State *L = NULL;
    ss_err err;
    ck_assert_int_eq(ssl_sandbox_new(1000, 0, NULL, &L, &err), SS_ELIMIT);
    assert_has(err.msg, "memory limit too small for Lua");
    ck_assert_int_eq(ssl_sandbox_new(8000, 0, NULL, &L, &err), SS_ELIMIT);
    assert_has(err.msg, "memory limit of 8000 bytes exceeded");
    ck_assert_ptr_null(L);

    ck_assert_int_eq(ssl_sandbox_new(1 << 20, 0, NULL, &L, &err), 0);
    ssl_usage u;
    ssl_sandbox_usage(L, &u);
    ck_assert_uint_eq(u.mem_cap, 1 << 20);
    ck_assert(u.mem_used > 0 && u.mem_used < u.mem_cap / 4);
    int rc = sb_call(L, "local t = {} for i = 1, 1e7 do t[i] = i end", &err);
    ck_assert_msg(rc == SS_ELIMIT, "%d %s", rc, err.msg);
    assert_has(err.msg, "memory limit of 1048576 bytes exceeded");
    ssl_sandbox_usage(L, &u);
    ck_assert(u.mem_refused);
    ck_assert_uint_lt(u.mem_used, u.mem_cap / 4); /* reclaimed */
    /* caught by the script: not the limit's failure */
    ck_assert_int_eq(sb_call(L, "assert(not pcall(string.rep, 'x', 1 << 21))", &err), 0);
    ssl_sandbox_close(L);
}
END_TEST

START_TEST(sandbox_unit_budget_fires)
{
    lua_State *L = NULL;
    ss_err err;
    ck_assert_int_eq(ssl_sandbox_new(0, 5000, NULL, &L, &err), 0);
    ssl_usage u;
    ssl_sandbox_usage(L, &u);
    ck_assert_uint_eq(u.mem_cap, SSL_DEFAULT_MEMORY);
    ck_assert_uint_eq(u.budget, 5000);
    static const char *const loops[] = {
        "while true do end",
        "while true do pcall(function() while true do end end) end",
        "return pcall(function() while true do end end)",
    };
    for (int i = 0; i < 3; i++) {
        int rc = sb_call(L, loops[i], &err);
        ck_assert_msg(rc == SS_ELIMIT, "%s: %d %s", loops[i], rc, err.msg);
        assert_has(err.msg, "instruction budget of 5000 exceeded");
        ssl_sandbox_usage(L, &u);
        ck_assert(u.over_budget && u.spent >= 5000);
    }
    ck_assert_int_eq(sb_call(L, "while true do end", &err), SS_ELIMIT);
    ck_assert_str_eq(err.msg, "unit:1: instruction budget of 5000 exceeded");
    /* armed again: a fresh budget */
    ck_assert_int_eq(sb_call(L, "local s = 0 for i = 1, 500 do s = s + i end", &err), 0);
    ssl_sandbox_usage(L, &u);
    ck_assert(!u.over_budget && u.spent < 5000);
    ssl_sandbox_close(L);
}
END_TEST

START_TEST(sandbox_unit_loads_text_only)
{
    int user = 0;
    lua_State *L = NULL;
    ss_err err;
    ck_assert_int_eq(ssl_sandbox_new(0, 0, &user, &L, &err), 0);
    ck_assert_ptr_eq(ssl_sandbox_user(L), &user);

    lua_State *plain = luaL_newstate();
    ck_assert_int_eq(luaL_loadstring(plain, "return 1"), LUA_OK);
    char *bin = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&bin, &len);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(lua_dump(plain, dump_writer, f, 0), 0);
    ck_assert_int_eq(fclose(f), 0);
    lua_close(plain);
    ck_assert_int_eq(ssl_sandbox_load(L, bin, len, "=bin"), LUA_ERRSYNTAX);
    assert_has(lua_tostring(L, -1), "binary");
    free(bin);
    lua_settop(L, 0);
    ck_assert_int_eq(ssl_sandbox_load(L, "x = (", 5, "=bad"), LUA_ERRSYNTAX);
    lua_settop(L, 0);
    ssl_sandbox_close(L);
    ssl_sandbox_close(NULL);
}
END_TEST

/* ---- setup and the locus object's lifetime ---- */

static const char setup_body[] =
    "function setup(data)\n"
    "  threshold = tonumber(data.threshold)\n"
    "  model, model_path, plain_path = data.model, data._paths.model, data._paths.threshold\n"
    "end\n"
    "function run(locus)\n"
    "  assert(threshold == 3.5, 'threshold ' .. tostring(threshold))\n"
    "  assert(model == 'line1\\nline2\\n', 'model ' .. tostring(model))\n"
    "  assert(model_path == '/models/model.txt', 'path ' .. tostring(model_path))\n"
    "  assert(plain_path == nil, 'no path for a plain value')\n"
    "  locus:tag('done')\n"
    "end\n";

START_TEST(setup_data_reaches_setup)
{
    const ss_setup_item items[] = {
        {"threshold", "3.5", 3, NULL},
        {"model", "line1\nline2\n", 12, "/models/model.txt"},
    };
    harness h;
    h_open(&h, setup_body, NULL, items, 2);
    int rc = h_run(&h);
    ck_assert_msg(rc == 0, "%d %s", rc, h.err.msg);
    ck_assert(h_tagged(&h, "done"));
    h_close(&h);
}
END_TEST

START_TEST(setup_errors_are_reported)
{
    char *text = NULL;
    ck_assert_int_ge(asprintf(&text, "%s%s", header,
                              "function setup(data)\n  error('no model')\nend\n"
                              "function run(locus) end\n"),
                     0);
    harness h;
    ck_assert_int_eq(load_file(text, NULL, &h), 0);
    ck_assert_int_eq(ssp_runtime_lua.setup(h.impl, &fake_host, NULL, 0, &h.err), SS_EFILTER);
    ck_assert_str_eq(h.err.msg, "f.lua:5: no model");
    h_close(&h);
    free(text);
}
END_TEST

static const char stash_body[] =
    "calls = 0\n"
    "function run(locus)\n"
    "  calls = calls + 1\n"
    "  if calls == 1 then saved = locus return end\n"
    "  local ok, e = pcall(function() return saved.id end)\n"
    "  assert(not ok and e:find('locus used outside run()', 1, true), tostring(e))\n"
    "  assert(locus.id == 'SKS2023abc', 'the current locus still works')\n"
    "  return saved:property('num_alerts')\n"
    "end\n";

START_TEST(stashed_locus_is_refused_later)
{
    harness h;
    h_open(&h, stash_body, NULL, NULL, 0);
    ck_assert_int_eq(h_run(&h), 0);
    int rc = h_run(&h);
    ck_assert_msg(rc == SS_EFILTER, "%d %s", rc, h.err.msg);
    assert_has(h.err.msg, "locus used outside run()");
    h_close(&h);
}
END_TEST

/* The contributed Lua filter, on the fake locus: g jumps by 0.5 mag between its detections. */
START_TEST(contributed_jump_filter_runs)
{
    harness h;
    memset(&h, 0, sizeof h);
    ss_filter_limits lim = {.memory_bytes = 0, .instructions = 0};
    const char *path = SS_SOURCE_DIR "/filters-contrib/jump/jump.lua";
    ck_assert_int_eq(ssp_runtime_lua.load(path, &lim, &h.impl, &h.desc, &h.err), 0);
    ck_assert_str_eq(h.desc->name, "jump_lua");
    view_init(&h.v, h.desc);
    const ss_setup_item low = {"threshold", "0.4", 3, NULL};
    ck_assert_int_eq(ssp_runtime_lua.setup(h.impl, &fake_host, &low, 1, &h.err), 0);
    int rc = h_run(&h);
    ck_assert_msg(rc == 0, "%d %s", rc, h.err.msg);
    ck_assert(h_tagged(&h, "jump"));
    ck_assert_uint_eq(h.v.nwrites, 1);
    ck_assert_str_eq(h.v.writes[0].name, "jump_magnitude");
    ck_assert_double_eq_tol(h.v.writes[0].v.u.f, 0.5, 1e-9);
    h_close(&h);
}
END_TEST

/* ---- the wall-clock limit ---- */

static double mono_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* Bombs that spend their time where the instruction budget cannot see them (library calls) or
 * under a budget too large to matter: each run ends with a limit's error, not a hang. */
START_TEST(time_limit_stops_filter_bombs)
{
    static const struct {
        const char *body, *expect;
    } bombs[] = {
        {"function run(locus) while true do end end", "f.lua:4: time limit of 200 ms exceeded"},
        {"function run(locus) while true do pcall(function() while true do end end) end end",
         "time limit of 200 ms exceeded"},
        {"function run(locus) while true do local s = string.rep('x', 1 << 20) end end",
         "time limit of 200 ms exceeded"},
        {"function run(locus) local s = string.rep('x', 1e9) end", "memory limit of"},
        {"function run(locus) string.find(string.rep('a', 5000), string.rep('a*', 200) .. 'b') end",
         "string.find: pattern too costly for a subject of 5000 bytes"},
        {"function run(locus) string.gsub(string.rep('a', 1e5), 'a*b', '') end",
         "string.gsub: pattern too costly"},
        {"function run(locus) while true do string.find(string.rep('a', 3000), 'a*b') end end",
         "time limit of 200 ms exceeded"},
        {"function run(locus) string.find(string.rep('a', 200000), 'a*b') end",
         "time limit of 200 ms exceeded"},
        {"function run(locus) for w in string.gmatch(string.rep('a', 200000), 'a*b') do end end",
         "time limit of 200 ms exceeded"},
    };
    ss_filter_limits lim = {.instructions = (uint64_t)1 << 50, .run_ms = 200};
    for (size_t i = 0; i < sizeof bombs / sizeof *bombs; i++) {
        harness h;
        h_open(&h, bombs[i].body, &lim, NULL, 0);
        double t0 = mono_s();
        int rc = h_run(&h);
        double took = mono_s() - t0;
        ck_assert_msg(rc == SS_ELIMIT, "%s: %d %s", bombs[i].body, rc, h.err.msg);
        assert_has(h.err.msg, bombs[i].expect);
        ck_assert_msg(took < 10, "%s: stopped only after %.1f s", bombs[i].body, took); /* hung */
        /* the state survives: a fresh run gets a fresh deadline (and fails the same way) */
        ck_assert_int_eq(h_run(&h), SS_ELIMIT);
        h_close(&h);
    }
}
END_TEST

START_TEST(time_limit_covers_load_and_setup)
{
    ss_filter_limits lim = {.instructions = (uint64_t)1 << 50, .setup_ms = 200};
    harness h;
    char *text = NULL;
    ck_assert_int_ge(asprintf(&text, "%swhile true do end\nfunction run(locus) end\n", header), 0);
    ck_assert_int_eq(load_file(text, &lim, &h), SS_ELIMIT);
    assert_has(h.err.msg, "f.lua: f.lua:4: time limit of 200 ms exceeded");
    free(text);
    ck_assert_int_ge(asprintf(&text,
                              "%sfunction setup(data) while true do end end\n"
                              "function run(locus) end\n",
                              header),
                     0);
    ck_assert_int_eq(load_file(text, &lim, &h), 0);
    view_init(&h.v, h.desc);
    ck_assert_int_eq(ssp_runtime_lua.setup(h.impl, &fake_host, NULL, 0, &h.err), SS_ELIMIT);
    assert_has(h.err.msg, "time limit of 200 ms exceeded");
    h_close(&h);
    free(text);
}
END_TEST

/* Over a long subject find, match and gmatch try one start position per library call: the
 * results must be the library's. */
START_TEST(sliced_patterns_keep_their_results)
{
    lua_State *L = NULL;
    ss_err err;
    ck_assert_int_eq(ssl_sandbox_new(0, 0, NULL, &L, &err), 0);
    ssl_sandbox_time_limit(L, 60000);
    const char *code =
        "local s = string.rep('ab', 20000) .. 'xyz123'\n"
        "local a, b = s:find('x%d*y'); assert(a == 40001 and b == 40002, a)\n"
        "a, b = s:find('z%d+', -10); assert(a == 40003 and b == 40006, a)\n"
        "assert(s:find('z%d+', 1e6) == nil and s:find('q%d+') == nil)\n"
        "local _, e, p, d, q = s:find('()z(%d+)()')\n"
        "assert(e == 40006 and p == 40003 and d == '123' and q == 40007)\n"
        "local m = s:match('z(%d+)'); assert(m == '123', tostring(m))\n"
        "m = s:match('%d+'); assert(m == '123', tostring(m))\n"
        "assert(s:match('x%a*', 5) == 'xyz')\n"
        "local n = 0; for w in s:gmatch('a+') do assert(w == 'a'); n = n + 1 end\n"
        "assert(n == 20000, n)\n"
        "n = 0; for w in s:gmatch('q*') do assert(w == ''); n = n + 1 end\n"
        "assert(n == #s + 1, n)\n"
        "local t = {}; for k, v in s:gmatch('(b)(x?)y') do t[#t + 1] = k .. v end\n"
        "assert(#t == 1 and t[1] == 'bx', #t)\n"
        "n = 0; for w in s:gmatch('a+', 39990) do n = n + 1 end; assert(n == 5, n)\n";
    ck_assert_msg(sb_call(L, code, &err) == 0, "%s", err.msg);
    ssl_sandbox_close(L);
}
END_TEST

/* The same script in a sandbox (sliced calls) and in a plain state (the library's): the same
 * transcript of results. */
START_TEST(sliced_patterns_agree_with_the_library)
{
    static const char code[] =
        "local subjects = {string.rep('ab', 3000) .. 'xyz123 k=1;k2=22;', "
        "  string.rep('a', 6000), string.rep(' x1', 2000) .. '$^'}\n"
        "local pats = {'%d+', 'x%a*', '()a()', 'b?x', 'a-b', '[%d;]+', 'q*', '%s*$', '%^', "
        "  '^a+', '(%w)%1?', '%f[%w]%w'}\n"
        "local inits = {1, 2, -5, 5999, 7000, 0}\n"
        "local out = {}\n"
        "local function put(...) local t = table.pack(...) for i = 1, t.n do "
        "  out[#out + 1] = tostring(t[i]) end out[#out + 1] = '|' end\n"
        "for _, s in ipairs(subjects) do for _, p in ipairs(pats) do for _, i in ipairs(inits) do\n"
        "  put(s:find(p, i)) put(s:match(p, i))\n"
        "  local n, last = 0, nil for a, b in s:gmatch(p, i) do n = n + 1 last = tostring(a) .. "
        "    tostring(b) end put(n, last)\n"
        "end end end\n"
        "OUT = table.concat(out, ' ')\n";
    lua_State *plain = luaL_newstate();
    luaL_openlibs(plain);
    ck_assert_int_eq(luaL_dostring(plain, code), LUA_OK);
    lua_getglobal(plain, "OUT");
    lua_State *L = NULL;
    ss_err err;
    ck_assert_int_eq(ssl_sandbox_new(0, (uint64_t)1 << 40, NULL, &L, &err), 0);
    ssl_sandbox_time_limit(L, 600000);
    ck_assert_msg(sb_call(L, code, &err) == 0, "%s", err.msg);
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    lua_getfield(L, -1, "OUT");
    ck_assert_str_eq(lua_tostring(L, -1), lua_tostring(plain, -1));
    ssl_sandbox_close(L);
    lua_close(plain);
}
END_TEST

/* table.sort of a big table runs in C: with no comparator it gets one that watches the clock. */
START_TEST(big_sorts_stop_at_the_time_limit)
{
    lua_State *L = NULL;
    ss_err err;
    ck_assert_int_eq(ssl_sandbox_new(0, (uint64_t)1 << 40, NULL, &L, &err), 0);
    ck_assert_msg(sb_call(L,
                          "T = {} for i = 1, 2^21 do T[i] = (i * 7919) % 1000003 end\n"
                          "local s = {} for i = 1, 70000 do s[i] = -i end table.sort(s)\n"
                          "for i = 2, #s do assert(s[i - 1] < s[i]) end\n"
                          "s = {'b', 'a'} table.sort(s) assert(s[1] == 'a')\n"
                          "s = {} for i = 1, 70000 do s[i] = i end\n"
                          "table.sort(s, function(a, b) return a > b end) assert(s[1] == 70000)\n",
                          &err) == 0,
                  "%s", err.msg);
    ssl_sandbox_time_limit(L, 100);
    ck_assert_int_eq(sb_call(L, "table.sort(T)", &err), SS_ELIMIT);
    ck_assert_str_eq(err.msg, "time limit of 100 ms exceeded");
    ck_assert_int_eq(sb_call(L, "pcall(table.sort, T) while true do end", &err), SS_ELIMIT);
    assert_has(err.msg, "time limit of 100 ms exceeded");
    ssl_sandbox_close(L);
}
END_TEST

static Suite *runtime_lua_suite(void)
{
    Suite *s = suite_create("runtime_lua");
    TCase *decl = tcase_create("declarations");
    tcase_add_checked_fixture(decl, setup, teardown);
    tcase_add_test(decl, declarations_fill_the_descriptor);
    tcase_add_test(decl, optional_declarations_default);
    tcase_add_test(decl, bad_declarations_name_file_and_field);
    tcase_add_test(decl, missing_file_is_an_error);
    tcase_add_test(decl, binary_chunks_are_refused);
    tcase_add_test(decl, top_level_infinite_loop_fails_load);
    tcase_add_test(decl, tiny_memory_cap_fails_load);
    suite_add_tcase(s, decl);
    TCase *api = tcase_create("locus api");
    tcase_add_checked_fixture(api, setup, teardown);
    tcase_add_test(api, reads_go_through_the_host);
    tcase_add_test(api, writes_reach_the_host_typed);
    tcase_add_test(api, bad_writes_fail_the_run);
    tcase_add_test(api, setup_data_reaches_setup);
    tcase_add_test(api, setup_errors_are_reported);
    tcase_add_test(api, stashed_locus_is_refused_later);
    tcase_add_test(api, contributed_jump_filter_runs);
    suite_add_tcase(s, api);
    TCase *lim = tcase_create("limits and sandbox");
    tcase_add_checked_fixture(lim, setup, teardown);
    tcase_add_test(lim, lua_errors_carry_message_and_position);
    tcase_add_test(lim, infinite_loop_hits_the_budget);
    tcase_add_test(lim, pcall_cannot_swallow_the_budget);
    tcase_add_test(lim, budget_is_per_run_and_roughly_exact);
    tcase_add_test(lim, memory_cap_fails_the_run_not_the_state);
    tcase_add_test(lim, sandbox_offers_only_safe_libraries);
    tcase_add_test(lim, sandbox_names_are_the_allow_list);
    tcase_add_test(lim, features_reach_lua);
    tcase_add_test(lim, sandbox_leaves_out_the_rest);
    tcase_add_test(lim, time_limit_stops_filter_bombs);
    tcase_add_test(lim, time_limit_covers_load_and_setup);
    suite_add_tcase(s, lim);
    TCase *unit = tcase_create("sandbox unit");
    tcase_add_test(unit, sandbox_unit_memory_cap_fires);
    tcase_add_test(unit, sandbox_unit_budget_fires);
    tcase_add_test(unit, sandbox_unit_loads_text_only);
    tcase_add_test(unit, sliced_patterns_keep_their_results);
    tcase_add_test(unit, sliced_patterns_agree_with_the_library);
    tcase_add_test(unit, big_sorts_stop_at_the_time_limit);
    suite_add_tcase(s, unit);
    return s;
}

int main(void)
{
    return tu_run_suite(runtime_lua_suite());
}
