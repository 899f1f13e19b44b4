/*
 * Parsed schemas, cached for the whole ingest run. A ZTF alert file carries its whole schema and
 * parsing it costs about twenty times decoding the alert, so each distinct schema text is parsed
 * once; Confluent-framed messages name a schema id, resolved once from the schema directory.
 */
#include "avro_internal.h"
#include "fileio.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ssp_entry {
    uint32_t id; /* the schema id (by_id) */
    int by_id;
    char *json; /* the text, compared on a length hit; NULL for ids */
    size_t len;
    ssp_avro_schema s;
} ssp_entry;

struct ssp_avro_cache {
    char *dir;
    ssp_entry **items; /* entries never move: decoders hold pointers to their schemas */
    size_t n, cap;
    ssp_avro_buffers spare; /* lent to one input at a time */
};

/* A buffer larger than this (a block of many records) goes back to the C library at close. */
#define SSP_SPARE_MAX ((size_t)64 << 20)

static void ssp_buffers_free(ssp_avro_buffers *b)
{
    free(b->raw);
    free(b->data);
    ssp_pool_free(b->pool);
    memset(b, 0, sizeof *b);
}

void ssp_avro_cache_lend(ssp_avro_cache *c, ssp_avro_buffers *out)
{
    memset(out, 0, sizeof *out);
    if (c) {
        *out = c->spare;
        memset(&c->spare, 0, sizeof c->spare);
    }
}

void ssp_avro_cache_take_back(ssp_avro_cache *c, ssp_avro_buffers *b)
{
    if (!c) {
        ssp_buffers_free(b);
        return;
    }
    ssp_buffers_free(&c->spare); /* a second input open at once: keep the later one's */
    if (b->raw_cap > SSP_SPARE_MAX)
        free(b->raw), b->raw = NULL, b->raw_cap = 0;
    if (b->data_cap > SSP_SPARE_MAX)
        free(b->data), b->data = NULL, b->data_cap = 0;
    c->spare = *b;
    memset(b, 0, sizeof *b);
}

ssp_avro_cache *ssp_avro_cache_new(const char *schema_dir)
{
    ssp_avro_cache *c = calloc(1, sizeof *c);
    if (c && schema_dir && !(c->dir = strdup(schema_dir))) {
        free(c);
        return NULL;
    }
    return c;
}

static void ssp_schema_release(ssp_avro_schema *s)
{
    ssp_plan_free(s->plan);
    avro_value_decref(&s->value);
    avro_value_iface_decref(s->iface);
    avro_schema_decref(s->schema);
}

void ssp_avro_cache_free(ssp_avro_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        ssp_schema_release(&c->items[i]->s);
        free(c->items[i]->json);
        free(c->items[i]);
    }
    free(c->items);
    free(c->dir);
    ssp_buffers_free(&c->spare);
    free(c);
}

/* Parse @p json and prepare a reusable value for it. */
static int ssp_schema_build(const char *json, size_t len, const char *what, ssp_avro_schema *s,
                            ss_err *err)
{
    memset(s, 0, sizeof *s);
    if (avro_schema_from_json_length(json, len, &s->schema))
        return ss_err_set(err, SS_EPARSE, "%s: bad Avro schema: %s", what, avro_strerror());
    char why[256];
    if (ssp_avro_schema_check(s->schema, why, sizeof why)) {
        avro_schema_decref(s->schema);
        return ss_err_set(err, SS_EPARSE, "%s: unusable Avro schema: %s", what, why);
    }
    if (!(s->iface = avro_generic_class_from_schema(s->schema)) ||
        avro_generic_value_new(s->iface, &s->value)) {
        if (s->iface)
            avro_value_iface_decref(s->iface);
        avro_schema_decref(s->schema);
        return ss_err_set(err, SS_EPARSE, "%s: unusable Avro schema: %s", what, avro_strerror());
    }
    s->min_record = -1;
    if (!(s->plan = ssp_plan_new(s->schema))) {
        ssp_schema_release(s);
        return ss_err_set(err, SS_ENOMEM, "%s: out of memory", what);
    }
    ssp_avro_classify(s);
    return 0;
}

/* A new entry, not yet counted: the caller bumps c->n once the schema is built. */
static ssp_entry *ssp_add(ssp_avro_cache *c)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        ssp_entry **fresh = realloc(c->items, cap * sizeof *fresh);
        if (!fresh)
            return NULL;
        c->items = fresh;
        c->cap = cap;
    }
    return c->items[c->n] = calloc(1, sizeof **c->items);
}

int ssp_avro_cache_json(ssp_avro_cache *c, const char *json, size_t len, ssp_avro_schema **out,
                        ss_err *err)
{
    /* compared byte for byte, not hashed first: a hash reads all of the text, as memcmp does for
     * the schema it finds, and a different text of the same length differs early */
    for (size_t i = 0; i < c->n; i++) {
        ssp_entry *e = c->items[i];
        if (!e->by_id && e->len == len && !memcmp(e->json, json, len)) {
            *out = &e->s;
            return 0;
        }
    }
    ssp_entry *e = ssp_add(c);
    if (e && !(e->json = malloc(len + 1)))
        free(e), e = NULL;
    if (!e)
        return ss_err_set(err, SS_ENOMEM, "out of memory");
    memcpy(e->json, json, len);
    e->json[len] = '\0';
    e->len = len;
    int rc = ssp_schema_build(e->json, len, "the file's schema", &e->s, err);
    if (rc) {
        free(e->json);
        free(e);
        return rc;
    }
    c->n++;
    *out = &e->s;
    return 0;
}

/* ---- schemas by id, from the schema directory ---- */

static const char *const ssp_primitives[] = {"null",   "boolean", "int",    "long", "float",
                                             "double", "bytes",   "string", NULL};

static int ssp_is_primitive(const char *t)
{
    for (const char *const *p = ssp_primitives; *p; p++)
        if (!strcmp(t, *p))
            return 1;
    return 0;
}

typedef struct ssp_compose {
    const char *dir; /* where named types' files are */
    json_t *defined; /* full names already defined in the document */
    ss_err *err;
    int depth;
} ssp_compose;

static int ssp_inline(ssp_compose *c, json_t **node, const char *ns);

/* The full name of a type reference or definition in namespace @p ns. */
static void ssp_fullname(const char *name, const char *ns, char *out, size_t cap)
{
    if (strchr(name, '.') || !ns || !*ns)
        snprintf(out, cap, "%s", name);
    else
        snprintf(out, cap, "%s.%s", ns, name);
}

/* Replace a reference to a type not yet defined by that type's definition from DIR/NAME.avsc. */
static int ssp_resolve_ref(ssp_compose *c, json_t **node, const char *ref, const char *ns)
{
    char full[512], path[4096];
    ssp_fullname(ref, ns, full, sizeof full);
    if (json_object_get(c->defined, full))
        return 0;
    snprintf(path, sizeof path, "%s/%s.avsc", c->dir, full);
    json_error_t je;
    json_t *def = json_load_file(path, 0, &je);
    if (!def)
        return ss_err_set(c->err, SS_EPARSE, "schema type %s: %s: %s", full, path, je.text);
    json_decref(*node);
    *node = def;
    return ssp_inline(c, node, ns);
}

static int ssp_inline_children(ssp_compose *c, json_t *obj, const char *ns)
{
    int rc = 0;
    json_t *fields = json_object_get(obj, "fields");
    for (size_t i = 0; !rc && i < json_array_size(fields); i++) {
        json_t *f = json_array_get(fields, i), *t = json_object_get(f, "type");
        json_incref(t);
        if (!(rc = ssp_inline(c, &t, ns)))
            json_object_set(f, "type", t);
        json_decref(t);
    }
    const char *keys[] = {"items", "values"};
    for (int k = 0; !rc && k < 2; k++) {
        json_t *t = json_object_get(obj, keys[k]);
        if (!t)
            continue;
        json_incref(t);
        if (!(rc = ssp_inline(c, &t, ns)))
            json_object_set(obj, keys[k], t);
        json_decref(t);
    }
    return rc;
}

/* Walk a schema node, inlining the first use of every named type defined in another file. */
static int ssp_inline(ssp_compose *c, json_t **node, const char *ns)
{
    if (++c->depth > 64) {
        c->depth--;
        return ss_err_set(c->err, SS_EPARSE, "schema nests too deep");
    }
    int rc = 0;
    json_t *n = *node;
    if (json_is_string(n) && !ssp_is_primitive(json_string_value(n))) {
        rc = ssp_resolve_ref(c, node, json_string_value(n), ns);
    } else if (json_is_array(n)) { /* a union */
        for (size_t i = 0; !rc && i < json_array_size(n); i++) {
            json_t *b = json_array_get(n, i);
            json_incref(b);
            if (!(rc = ssp_inline(c, &b, ns)))
                json_array_set(n, i, b);
            json_decref(b);
        }
    } else if (json_is_object(n)) {
        const char *name = json_string_value(json_object_get(n, "name"));
        const char *own = json_string_value(json_object_get(n, "namespace"));
        const char *inner = own ? own : ns;
        char full[512], child_ns[512];
        if (name) {
            ssp_fullname(name, inner, full, sizeof full);
            json_object_set_new(c->defined, full, json_true());
            /* a dotted full name sets the namespace of what it contains */
            snprintf(child_ns, sizeof child_ns, "%.*s", (int)(strrchr(full, '.') - full), full);
            if (strrchr(full, '.'))
                inner = child_ns;
        }
        rc = ssp_inline_children(c, n, inner);
    }
    c->depth--;
    return rc;
}

/* DIR/ID.avsc, or Rubin's DIR/MAJOR/MINOR/lsst.vMAJOR_MINOR.alert.avsc. @return 0 or ENOENT. */
static int ssp_find_schema(const char *dir, uint32_t id, char *path, size_t cap, char *where,
                           size_t wcap)
{
    FILE *f;
    snprintf(path, cap, "%s/%u.avsc", dir, id);
    snprintf(where, wcap, "%s", dir);
    if ((f = fopen(path, "r")))
        return fclose(f), 0;
    snprintf(where, wcap, "%s/%u/%u", dir, id / 100, id % 100);
    if ((size_t)snprintf(path, cap, "%.4000s/lsst.v%u_%u.alert.avsc", where, id / 100, id % 100) >=
        cap)
        return ENAMETOOLONG;
    if ((f = fopen(path, "r")))
        return fclose(f), 0;
    return ENOENT;
}

/* Load a schema file and inline the named types it refers to from the files beside it. */
static char *ssp_compose_file(const char *path, const char *dir, ss_err *err)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) {
        ss_err_set(err, SS_EPARSE, "%s: %s (line %d)", path, je.text, je.line);
        return NULL;
    }
    ssp_compose c = {.dir = dir, .defined = json_object(), .err = err};
    char *text = NULL;
    if (!ssp_inline(&c, &root, NULL))
        text = json_dumps(root, JSON_COMPACT);
    json_decref(c.defined);
    json_decref(root);
    return text;
}

int ssp_avro_cache_id(ssp_avro_cache *c, uint32_t id, ssp_avro_schema **out, ss_err *err)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->items[i]->by_id && c->items[i]->id == id) {
            *out = &c->items[i]->s;
            return 0;
        }
    if (!c->dir)
        return ss_err_set(err, SS_EFORMAT,
                          "schema id %u: Confluent-framed Avro needs a schema directory "
                          "(--schema-dir)",
                          id);
    char path[4096], where[4096];
    if (ssp_find_schema(c->dir, id, path, sizeof path, where, sizeof where))
        return ss_err_set(err, SS_EFORMAT, "schema id %u: not in schema directory %s", id, c->dir);
    char *json = ssp_compose_file(path, where, err);
    ssp_entry *e = json ? ssp_add(c) : NULL;
    int rc = !json ? err->code : !e ? ss_err_set(err, SS_ENOMEM, "out of memory") : 0;
    if (!rc && (rc = ssp_schema_build(json, strlen(json), path, &e->s, err)))
        free(e);
    free(json);
    if (rc)
        return rc;
    e->by_id = 1;
    e->id = id;
    c->n++;
    *out = &e->s;
    return 0;
}
