/*
 * Filter sets: loading from the INI configuration, validation of declarations, run order, and the
 * per-filter accounting. Dispatch is in dispatch.c, the locus view in view.c.
 */
#include "fileio.h"
#include "filters_impl.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <libgen.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SSI_DEFAULT_PRIORITY     100
#define SSI_DEFAULT_MAX_FAILURES 10

/* One [filter LABEL] section as read, before loading. */
typedef struct ssi_filter_conf {
    char *label, *path;
    int priority, enabled;
    ss_filter_limits limits;
    ss_setup_item *items;
    size_t nitems;
} ssi_filter_conf;

typedef struct ssi_set_conf {
    const char *file; /* the configuration's path, for messages and relative paths */
    char *dir;
    ss_filter_limits limits;
    unsigned max_failures;
    ssi_filter_conf *filters;
    size_t n;
    ss_err *err;
} ssi_set_conf;

static void ssi_conf_free(ssi_set_conf *c)
{
    for (size_t i = 0; i < c->n; i++) {
        ssi_filter_conf *f = &c->filters[i];
        for (size_t j = 0; j < f->nitems; j++) {
            free((char *)f->items[j].key);
            free((char *)f->items[j].value);
            free((char *)f->items[j].path);
        }
        free(f->items);
        free(f->label);
        free(f->path);
    }
    free(c->filters);
    free(c->dir);
}

static int ssi_parse_bool(const char *s, int *out)
{
    if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcmp(s, "1"))
        return *out = 1, 0;
    if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcmp(s, "0"))
        return *out = 0, 0;
    return -1;
}

/* A limit key, in [set] or in a filter's section. @return 1 handled, 0 not a limit, -1 bad. */
static int ssi_limit_key(ss_filter_limits *l, const char *name, const char *value)
{
    size_t v;
    if (!strcmp(name, "memory"))
        return ss_file_parse_size(value, &l->memory_bytes) ? -1 : 1;
    if (!strcmp(name, "instructions")) {
        if (ss_file_parse_size(value, &v) || v == 0)
            return -1;
        l->instructions = v;
        return 1;
    }
    uint32_t *ms = !strcmp(name, "run_time_limit_ms")     ? &l->run_ms
                   : !strcmp(name, "setup_time_limit_ms") ? &l->setup_ms
                                                          : NULL;
    if (!ms)
        return 0;
    /* an hour at most: a larger value is a unit mistake, and 0 would read as the default */
    if (ss_file_parse_size(value, &v) || v == 0 || v > 3600000)
        return -1;
    *ms = (uint32_t)v;
    return 1;
}

static char *ssi_resolve(const ssi_set_conf *c, const char *path)
{
    char *out = NULL;
    if (path[0] == '/')
        return strdup(path);
    return asprintf(&out, "%s/%s", c->dir, path) < 0 ? NULL : out;
}

static int ssi_add_item(ssi_set_conf *c, ssi_filter_conf *f, const char *key, const char *value,
                        int is_file)
{
    ss_setup_item *items = realloc(f->items, (f->nitems + 1) * sizeof *items);
    if (!items)
        return 0;
    f->items = items;
    ss_setup_item *it = &f->items[f->nitems];
    memset(it, 0, sizeof *it);
    it->key = strdup(key);
    if (!is_file) {
        it->value = strdup(value);
        it->value_len = strlen(value);
    } else if ((it->path = ssi_resolve(c, value))) {
        char *data = NULL;
        if (ss_file_read(it->path, &data, &it->value_len, c->err)) {
            ss_err_prefix(c->err, "%s: filter %s: setup file", c->file, f->label);
            free((char *)it->key), free((char *)it->path);
            return 0;
        }
        it->value = data;
    }
    f->nitems++;
    return it->key && it->value;
}

static int ssi_filter_key(ssi_set_conf *c, ssi_filter_conf *f, const char *name, const char *value)
{
    int lim = ssi_limit_key(&f->limits, name, value);
    if (lim)
        return lim > 0;
    if (!strcmp(name, "path"))
        return free(f->path), (f->path = ssi_resolve(c, value)) != NULL;
    if (!strcmp(name, "priority")) {
        char *end;
        long p = strtol(value, &end, 10);
        f->priority = (int)p;
        return end != value && !*end;
    }
    if (!strcmp(name, "enabled"))
        return ssi_parse_bool(value, &f->enabled) == 0;
    if (!strncmp(name, "setup.", 6) && name[6])
        return ssi_add_item(c, f, name + 6, value, 0);
    if (!strncmp(name, "setup_file.", 11) && name[11])
        return ssi_add_item(c, f, name + 11, value, 1);
    return 0;
}

static ssi_filter_conf *ssi_section(ssi_set_conf *c, const char *label)
{
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->filters[i].label, label))
            return &c->filters[i];
    ssi_filter_conf *fs = realloc(c->filters, (c->n + 1) * sizeof *fs);
    if (!fs)
        return NULL;
    c->filters = fs;
    ssi_filter_conf *f = &c->filters[c->n++];
    memset(f, 0, sizeof *f);
    f->label = strdup(label);
    f->priority = SSI_DEFAULT_PRIORITY;
    f->enabled = 1;
    return f;
}

static int ssi_set_key(ssi_set_conf *c, const char *name, const char *value)
{
    int lim = ssi_limit_key(&c->limits, name, value);
    if (lim)
        return lim > 0;
    if (!strcmp(name, "max_consecutive_failures")) {
        size_t v;
        if (ss_file_parse_size(value, &v) || v == 0)
            return 0;
        c->max_failures = (unsigned)v;
        return 1;
    }
    return 0;
}

static int ssi_ini_handler(void *user, const char *section, const char *name, const char *value)
{
    ssi_set_conf *c = user;
    int ok = 0;
    if (!strcmp(section, "set"))
        ok = ssi_set_key(c, name, value);
    else if (!strncmp(section, "filter ", 7) && section[7]) {
        ssi_filter_conf *f = ssi_section(c, section + 7);
        ok = f && ssi_filter_key(c, f, name, value);
    }
    if (!ok && !c->err->code)
        ss_err_set(c->err, SS_EINVAL, "%s: [%s] %s = %s: %s", c->file, section, name, value,
                   strncmp(section, "filter ", 7) && strcmp(section, "set")
                       ? "unknown section (use [set] or [filter NAME])"
                       : "unknown key or bad value");
    return ok;
}

/* ---- validation ---- */

static int ssi_valid_name(const char *s, size_t max)
{
    if (!s || !*s || strlen(s) > max)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("_.-", *s))
            return 0;
    return 1;
}

/* Names the broker computes itself: a filter may read them, never write them. */
static int ssi_reserved(const char *name)
{
    static const char *const prefixes[] = {"ant_",          "num_alerts",    "num_mag_values",
                                           "oldest_alert_", "newest_alert_", "brightest_alert_"};
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++)
        if (!strncmp(name, prefixes[i], strlen(prefixes[i])))
            return 1;
    size_t n = strlen(name);
    return n > 10 && !strcmp(name + n - 10, "_object_id");
}

static int ssi_check_props(const char *who, const char *what, const ss_property_decl *d,
                           ss_err *err)
{
    for (size_t i = 0; d && d[i].name; i++) {
        if (!ssi_valid_name(d[i].name, 96))
            return ss_err_set(err, SS_EINVAL, "%s: %s[%zu]: bad name '%s'", who, what, i,
                              d[i].name);
        if (d[i].type < SS_TYPE_INT || d[i].type > SS_TYPE_BOOL)
            return ss_err_set(err, SS_EINVAL,
                              "%s: %s '%s': type %d is not int, float, string or bool", who, what,
                              d[i].name, (int)d[i].type);
        if (!strcmp(what, "output_locus_properties") && ssi_reserved(d[i].name))
            return ss_err_set(err, SS_EINVAL, "%s: %s '%s': the broker computes that property", who,
                              what, d[i].name);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(d[i].name, d[j].name))
                return ss_err_set(err, SS_EINVAL, "%s: %s '%s' declared twice", who, what,
                                  d[i].name);
    }
    return 0;
}

static int ssi_check_tags(const char *who, const ss_tag_decl *t, ss_err *err)
{
    for (size_t i = 0; t && t[i].name; i++) {
        if (!ssi_valid_name(t[i].name, SS_TAG_MAX))
            return ss_err_set(err, SS_EINVAL,
                              "%s: output tag '%s': use 1 to %d letters, digits, '_', '.', '-'",
                              who, t[i].name, SS_TAG_MAX);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(t[i].name, t[j].name))
                return ss_err_set(err, SS_EINVAL, "%s: output tag '%s' declared twice", who,
                                  t[i].name);
    }
    return 0;
}

static int ssi_check_names(const char *who, const char *what, const char *const *names, ss_err *err)
{
    for (size_t i = 0; names && names[i]; i++)
        if (!*names[i])
            return ss_err_set(err, SS_EINVAL, "%s: %s[%zu] is empty", who, what, i);
    return 0;
}

/* Every declaration a reviewer relies on is present and well-formed. */
static int ssi_check_descriptor(const char *who, const ss_filter_descriptor *d, ss_err *err)
{
    if (!ssi_valid_name(d->name, 127))
        return ss_err_set(err, SS_EINVAL, "%s: NAME '%s': use letters, digits, '_', '.', '-'", who,
                          d->name ? d->name : "");
    if (!d->description || !*d->description)
        return ss_err_set(err, SS_EINVAL, "%s: no DESCRIPTION", who);
    if (!d->author || !*d->author)
        return ss_err_set(err, SS_EINVAL, "%s: no AUTHOR (an error contact) given", who);
    int rc;
    if ((rc = ssi_check_names(who, "required_locus_properties", d->required_locus_properties,
                              err)) ||
        (rc = ssi_check_names(who, "required_alert_properties", d->required_alert_properties,
                              err)) ||
        (rc = ssi_check_names(who, "required_tags", d->required_tags, err)) ||
        (rc = ssi_check_props(who, "output_locus_properties", d->output_locus_properties, err)) ||
        (rc = ssi_check_props(who, "output_alert_properties", d->output_alert_properties, err)))
        return rc;
    return ssi_check_tags(who, d->output_tags, err);
}

/* ---- loading ---- */

static void ssi_filter_unload(ssi_filter *f)
{
    if (f->rt && f->impl)
        f->rt->unload(f->impl);
    ss_filter_stats_free(&f->st);
    free(f->label);
    free(f->path);
    memset(f, 0, sizeof *f);
}

void ss_filter_set_free(ss_filter_set *fs)
{
    if (!fs)
        return;
    for (size_t i = 0; i < fs->n; i++)
        ssi_filter_unload(&fs->filters[i]);
    free(fs->filters);
    ssi_view_free(fs->view);
    free(fs);
}

static int ssi_filter_load(ssi_filter *f, const char *label, const char *path,
                           const ss_filter_limits *lim, const ss_setup_item *items, size_t n,
                           ss_err *err)
{
    f->label = strdup(label);
    f->path = strdup(path);
    if (!f->label || !f->path)
        return ss_err_set(err, SS_ENOMEM, "out of memory");
    if (!(f->rt = ss_runtime_for(path)))
        return ss_err_set(err, SS_EINVAL, "filter %s: %s: not a filter file (.so or .lua)", label,
                          path);
    int rc = f->rt->load(path, lim, &f->impl, &f->desc, err);
    if (!rc)
        rc = ssi_check_descriptor(path, f->desc, err);
    size_t ntags = 0;
    while (!rc && f->desc->output_tags && f->desc->output_tags[ntags].name)
        ntags++;
    if (!rc && !(f->st.tag_counts = calloc(ntags + 1, sizeof *f->st.tag_counts)))
        rc = ss_err_set(err, SS_ENOMEM, "out of memory");
    if (!rc)
        rc = f->rt->setup(f->impl, ssi_host_api(), items, n, err);
    return rc ? ss_err_prefix(err, "filter %s", label) : 0;
}

static ss_filter_set *ssi_set_new(size_t n)
{
    ss_filter_set *fs = calloc(1, sizeof *fs);
    if (!fs)
        return NULL;
    fs->filters = calloc(n ? n : 1, sizeof *fs->filters);
    fs->view = ssi_view_new();
    fs->max_consecutive_failures = SSI_DEFAULT_MAX_FAILURES;
    if (!fs->filters || !fs->view) {
        ss_filter_set_free(fs);
        return NULL;
    }
    return fs;
}

int ss_filter_set_single(const char *filter_path, const ss_setup_item *items, size_t n,
                         ss_filter_set **out, ss_err *err)
{
    ss_filter_set *fs = ssi_set_new(1);
    if (!fs)
        return ss_err_set(err, SS_ENOMEM, "out of memory");
    ss_filter_limits lim = {0};
    fs->n = 1;
    int rc = ssi_filter_load(&fs->filters[0], filter_path, filter_path, &lim, items, n, err);
    if (rc) {
        ss_filter_set_free(fs);
        return rc;
    }
    *out = fs;
    return 0;
}

size_t ss_filter_set_count(const ss_filter_set *fs)
{
    return fs->n;
}

const ss_filter_descriptor *ss_filter_set_descriptor(const ss_filter_set *fs, size_t i)
{
    return i < fs->n ? fs->filters[i].desc : NULL;
}

/* ---- run order ---- */

static int ssi_outputs_tag(const ssi_filter *f, const char *tag)
{
    for (const ss_tag_decl *t = f->desc->output_tags; t && t->name; t++)
        if (!strcmp(t->name, tag))
            return 1;
    return 0;
}

/* 1 when every filter (other than @p f) that outputs a tag @p f requires is already placed. */
static int ssi_ready(const ss_filter_set *fs, size_t f, const int *placed)
{
    for (const char *const *t = fs->filters[f].desc->required_tags; t && *t; t++)
        for (size_t g = 0; g < fs->n; g++)
            if (g != f && !placed[g] && ssi_outputs_tag(&fs->filters[g], *t))
                return 0;
    return 1;
}

static int ssi_check_producers(const ss_filter_set *fs, ss_err *err)
{
    for (size_t f = 0; f < fs->n; f++)
        for (const char *const *t = fs->filters[f].desc->required_tags; t && *t; t++) {
            size_t g = 0;
            while (g < fs->n && (g == f || !ssi_outputs_tag(&fs->filters[g], *t)))
                g++;
            if (g == fs->n)
                return ss_err_set(err, SS_EINVAL,
                                  "filter %s requires tag '%s', which no other filter of the set "
                                  "outputs",
                                  fs->filters[f].desc->name, *t);
        }
    return 0;
}

static int ssi_priority_cmp(const void *a, const void *b)
{
    const ssi_filter *x = a, *y = b;
    if (x->priority != y->priority)
        return x->priority < y->priority ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Priority order, then producers of a tag before its consumers (Kahn's algorithm, taking the
 * first ready filter in priority order each time, so the order is stable and predictable). */
static int ssi_order(ss_filter_set *fs, ss_err *err)
{
    int rc = ssi_check_producers(fs, err);
    if (rc)
        return rc;
    qsort(fs->filters, fs->n, sizeof *fs->filters, ssi_priority_cmp);
    int *placed = calloc(fs->n, sizeof *placed);
    ssi_filter *order = malloc(fs->n * sizeof *order);
    size_t k = 0;
    while (placed && order && k < fs->n) {
        size_t f = 0;
        while (f < fs->n && (placed[f] || !ssi_ready(fs, f, placed)))
            f++;
        if (f == fs->n)
            break;
        placed[f] = 1;
        order[k++] = fs->filters[f];
    }
    if (!placed || !order)
        rc = ss_err_set(err, SS_ENOMEM, "out of memory");
    else if (k < fs->n) {
        char names[256] = "";
        for (size_t f = 0; f < fs->n; f++)
            if (!placed[f])
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
                         names[0] ? ", " : "", fs->filters[f].desc->name);
        rc = ss_err_set(err, SS_EINVAL, "the tag requirements of filters %s form a cycle", names);
    } else
        memcpy(fs->filters, order, fs->n * sizeof *order);
    free(placed);
    free(order);
    return rc;
}

static int ssi_unique_names(const ss_filter_set *fs, ss_err *err)
{
    for (size_t i = 0; i < fs->n; i++)
        for (size_t j = 0; j < i; j++)
            if (!strcmp(fs->filters[i].desc->name, fs->filters[j].desc->name))
                return ss_err_set(err, SS_EINVAL, "filters %s and %s are both named '%s'",
                                  fs->filters[j].label, fs->filters[i].label,
                                  fs->filters[i].desc->name);
    return 0;
}

static ss_filter_limits ssi_merge_limits(ss_filter_limits set, ss_filter_limits own)
{
    if (own.memory_bytes)
        set.memory_bytes = own.memory_bytes;
    if (own.instructions)
        set.instructions = own.instructions;
    if (own.run_ms)
        set.run_ms = own.run_ms;
    if (own.setup_ms)
        set.setup_ms = own.setup_ms;
    return set;
}

static int ssi_load_all(ss_filter_set *fs, const ssi_set_conf *c, ss_err *err)
{
    for (size_t i = 0; i < c->n; i++) {
        const ssi_filter_conf *fc = &c->filters[i];
        if (!fc->enabled)
            continue;
        if (!fc->path)
            return ss_err_set(err, SS_EINVAL, "%s: [filter %s] has no path", c->file, fc->label);
        ssi_filter *f = &fs->filters[fs->n++];
        ss_filter_limits lim = ssi_merge_limits(c->limits, fc->limits);
        int rc = ssi_filter_load(f, fc->label, fc->path, &lim, fc->items, fc->nitems, err);
        if (rc)
            return rc;
        f->priority = fc->priority;
        f->seq = i;
    }
    return 0;
}

/* Parse the INI file @p path into @p c (freed by the caller with ssi_conf_free()). */
static int ssi_conf_read(const char *path, ssi_set_conf *c, ss_err *err)
{
    *c = (ssi_set_conf){.file = path, .err = err, .max_failures = SSI_DEFAULT_MAX_FAILURES};
    char *copy = strdup(path);
    c->dir = copy ? strdup(dirname(copy)) : NULL;
    free(copy);
    ss_err_clear(err);
    int line = c->dir ? ini_parse(path, ssi_ini_handler, c) : -2;
    int rc = err->code;
    if (line == -1)
        rc = ss_err_set(err, errno ? errno : ENOENT, "%s: cannot open: %s", path,
                        strerror(errno ? errno : ENOENT));
    else if (line == -2)
        rc = ss_err_set(err, SS_ENOMEM, "%s: out of memory", path);
    else if (line > 0 && !rc)
        rc = ss_err_set(err, SS_EINVAL, "%s:%d: not INI syntax", path, line);
    else if (!rc && c->n == 0)
        rc = ss_err_set(err, SS_EINVAL, "%s: no [filter NAME] section", path);
    return rc;
}

int ss_filter_set_load(const char *path, ss_filter_set **out, ss_err *err)
{
    ssi_set_conf c;
    int rc = ssi_conf_read(path, &c, err);
    ss_filter_set *fs = rc ? NULL : ssi_set_new(c.n);
    if (!rc && !fs)
        rc = ss_err_set(err, SS_ENOMEM, "out of memory");
    if (!rc) {
        fs->max_consecutive_failures = c.max_failures;
        if (!(rc = ssi_load_all(fs, &c, err)) && !(rc = ssi_unique_names(fs, err)))
            rc = ssi_order(fs, err);
    }
    ssi_conf_free(&c);
    if (rc) {
        ss_filter_set_free(fs);
        return rc;
    }
    *out = fs;
    return 0;
}

/* ---- snapshots ---- */

static int ssi_write_all(const char *path, const void *data, size_t len, ss_err *err)
{
    FILE *fp = fopen(path, "wb");
    if (!fp || fwrite(data, 1, len, fp) != len || fclose(fp) != 0) {
        int e = errno ? errno : EIO;
        return ss_err_set(err, e, "%s: cannot write: %s", path, strerror(e));
    }
    return 0;
}

static void ssi_write_time_limits(FILE *ini, const ss_filter_limits *l)
{
    if (l->run_ms)
        fprintf(ini, "run_time_limit_ms = %u\n", (unsigned)l->run_ms);
    if (l->setup_ms)
        fprintf(ini, "setup_time_limit_ms = %u\n", (unsigned)l->setup_ms);
}

/* Copy filter @p i's file and setup files into @p dir and describe them in @p ini. */
static int ssi_snapshot_filter(const ssi_filter_conf *f, size_t i, const char *dir, FILE *ini,
                               FILE *sources, ss_err *err)
{
    char *data = NULL, *dest = NULL;
    size_t len;
    const char *base = strrchr(f->path, '/') ? strrchr(f->path, '/') + 1 : f->path;
    int rc = ss_file_read(f->path, &data, &len, err);
    if (rc)
        return ss_err_prefix(err, "filter %s", f->label);
    if (asprintf(&dest, "%s/%02zu-%s", dir, i, base) < 0)
        dest = NULL;
    rc = dest ? ssi_write_all(dest, data, len, err) : ss_err_set(err, SS_ENOMEM, "out of memory");
    fprintf(ini, "[filter %s]\npath = %02zu-%s\npriority = %d\n", f->label, i, base, f->priority);
    fprintf(sources, "%02zu-%s\t%s\n", i, base, f->path);
    if (f->limits.memory_bytes)
        fprintf(ini, "memory = %zu\n", f->limits.memory_bytes);
    if (f->limits.instructions)
        fprintf(ini, "instructions = %llu\n", (unsigned long long)f->limits.instructions);
    ssi_write_time_limits(ini, &f->limits);
    for (size_t k = 0; k < f->nitems && !rc; k++) { /* values go to files: any bytes survive */
        free(dest);
        if (asprintf(&dest, "%s/%02zu-setup-%zu", dir, i, k) < 0)
            dest = NULL;
        rc = dest ? ssi_write_all(dest, f->items[k].value, f->items[k].value_len, err)
                  : ss_err_set(err, SS_ENOMEM, "out of memory");
        fprintf(ini, "setup_file.%s = %02zu-setup-%zu\n", f->items[k].key, i, k);
    }
    fputc('\n', ini);
    free(dest);
    free(data);
    return rc;
}

int ss_filter_set_snapshot(const char *path, const char *dir, ss_err *err)
{
    ssi_set_conf c;
    int rc = ssi_conf_read(path, &c, err);
    char *ini_path = NULL, *src_path = NULL;
    FILE *ini = NULL, *sources = NULL;
    if (!rc && (asprintf(&src_path, "%s/sources", dir) < 0 || !(sources = fopen(src_path, "w"))))
        src_path = NULL;
    if (!rc && (!sources || asprintf(&ini_path, "%s/filters.ini", dir) < 0 ||
                !(ini = fopen(ini_path, "w"))))
        rc = ss_err_set(err, errno ? errno : SS_ENOMEM, "%s/filters.ini: cannot write: %s", dir,
                        strerror(errno ? errno : ENOMEM));
    if (!rc) {
        fprintf(ini, "; snapshot of %s\n[set]\nmax_consecutive_failures = %u\n", path,
                c.max_failures);
        if (c.limits.memory_bytes)
            fprintf(ini, "memory = %zu\n", c.limits.memory_bytes);
        if (c.limits.instructions)
            fprintf(ini, "instructions = %llu\n", (unsigned long long)c.limits.instructions);
        ssi_write_time_limits(ini, &c.limits);
        fputc('\n', ini);
    }
    for (size_t i = 0; i < c.n && !rc; i++) {
        if (!c.filters[i].enabled)
            continue;
        if (!c.filters[i].path)
            rc =
                ss_err_set(err, SS_EINVAL, "%s: [filter %s] has no path", path, c.filters[i].label);
        else
            rc = ssi_snapshot_filter(&c.filters[i], i, dir, ini, sources, err);
    }
    if (ini && fclose(ini) != 0 && !rc)
        rc = ss_err_set(err, errno, "%s: cannot write: %s", ini_path, strerror(errno));
    if (sources)
        fclose(sources);
    free(ini_path);
    free(src_path);
    ssi_conf_free(&c);
    return rc;
}

/* ---- JSON ---- */

static json_t *ssi_names_json(const char *const *names)
{
    json_t *a = json_array();
    for (size_t i = 0; names && names[i]; i++)
        json_array_append_new(a, json_string(names[i]));
    return a;
}

static json_t *ssi_props_json(const ss_property_decl *d)
{
    json_t *a = json_array();
    for (size_t i = 0; d && d[i].name; i++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "name", d[i].name, "type",
                                           ss_type_name(d[i].type), "description",
                                           d[i].description ? d[i].description : ""));
    return a;
}

json_t *ss_filter_declarations_json(const ss_filter_descriptor *d, const char *runtime)
{
    json_t *tags = json_array();
    for (size_t i = 0; d->output_tags && d->output_tags[i].name; i++)
        json_array_append_new(
            tags, json_pack("{s:s, s:s}", "name", d->output_tags[i].name, "description",
                            d->output_tags[i].description ? d->output_tags[i].description : ""));
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "name",
                     d->name, "version", d->version ? d->version : "", "description",
                     d->description, "author", d->author, "runtime", runtime, "abi",
                     d->abi_minor == SS_FILTER_ABI_MINOR ? "1.0" : "1.x",
                     "required_locus_properties", ssi_names_json(d->required_locus_properties),
                     "required_alert_properties", ssi_names_json(d->required_alert_properties),
                     "required_tags", ssi_names_json(d->required_tags), "output_locus_properties",
                     ssi_props_json(d->output_locus_properties), "output_alert_properties",
                     ssi_props_json(d->output_alert_properties), "output_tags", tags);
}

static int ssi_double_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Percentile @p q (0..1) of sorted samples: the nearest-rank method. */
double ssi_percentile(const double *sorted, size_t n, double q)
{
    if (n == 0)
        return 0.0;
    size_t rank = (size_t)ceil(q * (double)n);
    return sorted[rank ? rank - 1 : 0];
}

/* At most this many samples are sorted per call: a broker answers status inside its event loop,
 * and 25 filters x a million kept samples would stall it for seconds. The kept samples are a
 * uniform reservoir, so an even stride through them is still a uniform sample. */
#define SSI_PERCENTILE_SAMPLES 16384

void ss_filter_stats_percentiles(const ss_filter_stats *st, double out[3])
{
    static const double q[3] = {0.5, 0.9, 0.99};
    size_t stride = st->ntimes > SSI_PERCENTILE_SAMPLES ? st->ntimes / SSI_PERCENTILE_SAMPLES : 1;
    size_t n = st->ntimes / stride;
    double *t = malloc((n ? n : 1) * sizeof *t);
    for (size_t i = 0; t && i < n; i++)
        t[i] = st->times_us[i * stride];
    if (t)
        qsort(t, n, sizeof *t, ssi_double_cmp);
    for (int i = 0; i < 3; i++)
        out[i] = t ? ssi_percentile(t, n, q[i]) : 0.0;
    free(t);
}

static json_t *ssi_filter_stats_json(const ssi_filter *f)
{
    const ss_filter_stats *st = &f->st;
    double p[3];
    ss_filter_stats_percentiles(st, p);
    json_t *tags = json_object();
    for (size_t i = 0; f->desc->output_tags && f->desc->output_tags[i].name; i++)
        json_object_set_new(tags, f->desc->output_tags[i].name,
                            json_integer((json_int_t)st->tag_counts[i]));
    return json_pack(
        "{s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:b, s:s?, s:f, s:f, s:f}", "filter", f->desc->name,
        "runs", (json_int_t)st->runs, "skipped", (json_int_t)st->skipped, "errors",
        (json_int_t)st->errors, "halts", (json_int_t)st->halts, "properties_written",
        (json_int_t)st->props_written, "tags", tags, "disabled", st->disabled, "last_error",
        st->last_error[0] ? st->last_error : NULL, "p50_us", p[0], "p90_us", p[1], "p99_us", p[2]);
}

json_t *ss_filter_set_stats_json(const ss_filter_set *fs)
{
    json_t *a = json_array();
    for (size_t i = 0; i < fs->n; i++)
        json_array_append_new(a, ssi_filter_stats_json(&fs->filters[i]));
    return a;
}
