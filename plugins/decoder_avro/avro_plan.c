/*
 * The decode plan: each writer schema compiled once into nodes, and records read with it straight
 * from their bytes into values that point into those bytes. avro-c's generic path builds a value
 * tree with an allocation per string and walks it through its interface calls: on ZTF alerts
 * that is most of the decoder's time, and the walk that checks the encoding before avro-c may
 * trust it reads the bytes once more. Here the check and the decoding are one walk.
 *
 * avro-c's generic path stays as the reference (ssp_pv_from_generic()): the tests decode every
 * alert of ../shared/data both ways and compare what comes out, field by field.
 */
#include "avro_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- compiling a schema ---- */

struct ssp_plan {
    ssp_node **nodes; /* every node, for freeing; memo[i] is the schema of nodes[i] */
    avro_schema_t *memo;
    size_t n, cap;
    ssp_node *root;
};

static ssp_node *ssp_node_of(ssp_plan *p, avro_schema_t s, int depth);

/* The node made for @p s already (named types are shared), or NULL. */
static ssp_node *ssp_memo_find(const ssp_plan *p, avro_schema_t s)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->memo[i] == s)
            return p->nodes[i];
    return NULL;
}

static ssp_node *ssp_memo_add(ssp_plan *p, avro_schema_t s)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 32;
        ssp_node **nodes = realloc(p->nodes, cap * sizeof *nodes);
        if (nodes)
            p->nodes = nodes;
        avro_schema_t *memo = nodes ? realloc(p->memo, cap * sizeof *memo) : NULL;
        if (!memo)
            return NULL;
        p->memo = memo;
        p->cap = cap;
    }
    ssp_node *node = calloc(1, sizeof *node);
    if (node) {
        p->nodes[p->n] = node;
        p->memo[p->n++] = s;
    }
    return node;
}

/* Room for @p n children with their names. @return 0 or -1. */
static int ssp_node_kids(ssp_node *node, size_t n, int named)
{
    node->n = n;
    node->kids = calloc(n ? n : 1, sizeof *node->kids);
    if (named) {
        node->names = calloc(n ? n : 1, sizeof *node->names);
        node->lens = calloc(n ? n : 1, sizeof *node->lens);
    }
    return node->kids && (!named || (node->names && node->lens)) ? 0 : -1;
}

static int ssp_compile_record(ssp_plan *p, ssp_node *node, avro_schema_t s, int depth)
{
    if (ssp_node_kids(node, avro_schema_record_size(s), 1))
        return -1;
    for (size_t i = 0; i < node->n; i++) {
        node->names[i] = avro_schema_record_field_name(s, (int)i);
        node->lens[i] = node->names[i] ? strlen(node->names[i]) : 0;
        avro_schema_t f = avro_schema_record_field_get_by_index(s, (int)i);
        if (!node->names[i] || !(node->kids[i] = ssp_node_of(p, f, depth + 1)))
            return -1;
    }
    return 0;
}

static int ssp_compile_union(ssp_plan *p, ssp_node *node, avro_schema_t s, int depth)
{
    if (ssp_node_kids(node, avro_schema_union_size(s), 0))
        return -1;
    for (size_t i = 0; i < node->n; i++)
        if (!(node->kids[i] = ssp_node_of(p, avro_schema_union_branch(s, (int)i), depth + 1)))
            return -1;
    return 0;
}

static int ssp_compile_enum(ssp_node *node, avro_schema_t s)
{
    if (ssp_node_kids(node, (size_t)avro_schema_enum_number_of_symbols(s), 1))
        return -1;
    for (size_t i = 0; i < node->n; i++) {
        node->names[i] = avro_schema_enum_get(s, (int)i);
        node->lens[i] = node->names[i] ? strlen(node->names[i]) : 0;
        if (!node->names[i])
            return -1;
    }
    return 0;
}

/* 1 when @p items are records, through unions of a record and null: history entries. */
static int ssp_items_are_entries(const ssp_node *items)
{
    if (items->type == AVRO_UNION && items->n == 2 && items->kids[0] && items->kids[1])
        items = items->kids[items->kids[0]->type == AVRO_NULL ? 1 : 0];
    return items->type == AVRO_RECORD;
}

static int ssp_items_may_be_records(const ssp_node *items)
{
    for (size_t i = 0; items->type == AVRO_UNION && i < items->n; i++)
        if (items->kids[i] && items->kids[i]->type == AVRO_RECORD)
            return 1;
    return items->type == AVRO_RECORD;
}

static int ssp_compile(ssp_plan *p, ssp_node *node, avro_schema_t s, int depth)
{
    switch (node->type) {
    case AVRO_RECORD: return ssp_compile_record(p, node, s, depth);
    case AVRO_UNION: return ssp_compile_union(p, node, s, depth);
    case AVRO_ENUM: return ssp_compile_enum(node, s);
    case AVRO_FIXED: node->n = (size_t)avro_schema_fixed_size(s); return 0;
    case AVRO_ARRAY:
    case AVRO_MAP:
        if (ssp_node_kids(node, 1, 0))
            return -1;
        node->kids[0] = ssp_node_of(
            p, node->type == AVRO_ARRAY ? avro_schema_array_items(s) : avro_schema_map_values(s),
            depth + 1);
        if (!node->kids[0])
            return -1;
        node->entries = node->type == AVRO_ARRAY && ssp_items_are_entries(node->kids[0]);
        node->keep = node->type == AVRO_ARRAY && ssp_items_may_be_records(node->kids[0]);
        return 0;
    default: return 0;
    }
}

/* The node of @p s, made once. A record is remembered before its fields are compiled, so that a
 * recursive type (one ssp_avro_schema_check() let through: through a union, array or map) ends. */
static ssp_node *ssp_node_of(ssp_plan *p, avro_schema_t s, int depth)
{
    for (int hops = 0; s && is_avro_link(s) && hops < SSP_AVRO_MAX_DEPTH; hops++)
        s = avro_schema_link_target(s);
    if (!s || is_avro_link(s) || depth > 4 * SSP_AVRO_MAX_DEPTH)
        return NULL;
    ssp_node *node = ssp_memo_find(p, s);
    if (node)
        return node;
    if (!(node = ssp_memo_add(p, s)))
        return NULL;
    node->type = avro_typeof(s);
    return ssp_compile(p, node, s, depth) ? NULL : node;
}

static void ssp_node_free(ssp_node *node)
{
    for (size_t f = 0; f < node->nflats; f++) {
        ssp_flat *flat = &node->flats[f];
        for (size_t i = 0; flat->names && i < node->n; i++)
            free(flat->names[i]);
        free(flat->names);
        free(flat->lens);
        free(flat->prefix);
    }
    free(node->flats);
    free(node->kids);
    free(node->names);
    free(node->lens);
    free(node);
}

void ssp_plan_free(ssp_plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        ssp_node_free(p->nodes[i]);
    free(p->nodes);
    free(p->memo);
    free(p);
}

ssp_plan *ssp_plan_new(avro_schema_t schema)
{
    ssp_plan *p = calloc(1, sizeof *p);
    if (p && !(p->root = ssp_node_of(p, schema, 0))) {
        ssp_plan_free(p);
        return NULL;
    }
    return p;
}

ssp_node *ssp_plan_root(const ssp_plan *p)
{
    return p->root;
}

/* ---- the values of one record ---- */

#define SSP_CHUNK_VALUES 4096

typedef struct ssp_chunk {
    size_t cap, used;
    ssp_pv v[];
} ssp_chunk;

struct ssp_pool {
    ssp_chunk **chunks;
    size_t n, cap, at; /* chunks before `at` are full for the current record */
};

ssp_pool *ssp_pool_new(void)
{
    return calloc(1, sizeof(ssp_pool));
}

void ssp_pool_free(ssp_pool *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        free(p->chunks[i]);
    free(p->chunks);
    free(p);
}

void ssp_pool_reset(ssp_pool *p)
{
    for (size_t i = 0; i < p->n; i++)
        p->chunks[i]->used = 0;
    p->at = 0;
}

static ssp_chunk *ssp_pool_grow(ssp_pool *p, size_t n)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        ssp_chunk **fresh = realloc(p->chunks, cap * sizeof *fresh);
        if (!fresh)
            return NULL;
        p->chunks = fresh;
        p->cap = cap;
    }
    size_t cap = n > SSP_CHUNK_VALUES ? n : SSP_CHUNK_VALUES;
    ssp_chunk *c = malloc(sizeof *c + cap * sizeof c->v[0]);
    if (c) {
        c->cap = cap;
        c->used = 0;
        p->chunks[p->n++] = c;
    }
    return c;
}

/* @p n values, zeroed, for the current record. @return NULL when out of memory. */
static ssp_pv *ssp_pool_take(ssp_pool *p, size_t n)
{
    while (p->at < p->n && p->chunks[p->at]->cap - p->chunks[p->at]->used < n)
        p->at++;
    ssp_chunk *c = p->at < p->n ? p->chunks[p->at] : ssp_pool_grow(p, n);
    if (!c)
        return NULL;
    ssp_pv *v = c->v + c->used;
    c->used += n;
    memset(v, 0, n * sizeof *v);
    return v;
}

/* ---- walking (and decoding) a record ---- */

static int ssp_walk_fail(ssp_walk *w, const char *why)
{
    w->why = why;
    return -1;
}

static int ssp_walk_nomem(ssp_walk *w)
{
    w->nomem = 1;
    return ssp_walk_fail(w, "out of memory");
}

/* Note cap @p key exceeded (the first one only). @return 0: the walk goes on. */
static int ssp_walk_over(ssp_walk *w, const char *what, uint64_t actual, const char *key,
                         uint64_t limit)
{
    if (!w->is_over)
        ss_alert_limits_reject(w->over, what, actual, 0, key, limit);
    w->is_over = 1;
    return 0;
}

/* Count a block of @p count items against max_history (records) or max_props (others), before
 * anything is taken for them. */
static void ssp_walk_count(ssp_walk *w, const ssp_node *coll, int64_t count)
{
    if (coll->entries) {
        if ((w->history += (uint64_t)count) > w->lim->history)
            ssp_walk_over(w, "too many history entries", w->history, "max_history",
                          w->lim->history);
    } else if ((w->items += (uint64_t)count) > w->lim->props) {
        ssp_walk_over(w, "too many array or map items", w->items, "max_props", w->lim->props);
    }
}

/* A zigzag varint of at most @p max_bytes (10 for a long, 5 for an int, as avro-c reads them),
 * accumulated in @p bits bits as avro-c does. */
static int ssp_walk_varint(ssp_walk *w, int max_bytes, int bits, int64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < max_bytes; i++) {
        if (w->pos >= w->len)
            return ssp_walk_fail(w, "data ends inside a number");
        unsigned c = w->p[w->pos++];
        v |= (uint64_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80)) {
            if (bits == 32) {
                uint32_t u = (uint32_t)v;
                *out = (int32_t)((u >> 1) ^ -(u & 1));
            } else {
                *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
            }
            return 0;
        }
    }
    return ssp_walk_fail(w, "a number longer than its type allows");
}

static int ssp_walk_long(ssp_walk *w, int64_t *out)
{
    return ssp_walk_varint(w, 10, 64, out);
}

static int ssp_walk_skip(ssp_walk *w, int64_t n)
{
    if (n < 0 || (uint64_t)n > w->len - w->pos)
        return ssp_walk_fail(w, "a length runs past the end of the data");
    w->pos += (size_t)n;
    return 0;
}

/* @p n bytes at the walk's position, as a value pointing into them. */
static int ssp_walk_take(ssp_walk *w, int64_t n, ssp_pv *out)
{
    size_t at = w->pos;
    if (ssp_walk_skip(w, n))
        return -1;
    if (out) {
        out->u.s.p = (const char *)w->p + at;
        out->u.s.n = (size_t)n;
    }
    return 0;
}

/* Room for @p more items after the @p have decoded so far, moved when blocks follow blocks. */
static ssp_pv *ssp_walk_items(ssp_walk *w, ssp_pv *out, int64_t more)
{
    size_t have = out->u.c.n;
    ssp_pv *v = ssp_pool_take(w->pool, have + (size_t)more);
    if (v && have)
        memcpy(v, out->u.c.v, have * sizeof *v);
    if (v)
        out->u.c.v = v;
    return v ? v + have : NULL;
}

/* One block's @p count items (map keys skipped), into @p items when not NULL. */
static int ssp_walk_block(ssp_walk *w, ssp_node *coll, int64_t count, ssp_pv *items, int depth)
{
    int64_t size;
    for (int64_t i = 0; i < count; i++) {
        if (coll->type == AVRO_MAP && (ssp_walk_long(w, &size) || ssp_walk_skip(w, size)))
            return -1;
        if (ssp_walk_value(w, coll->kids[0], depth + 1, items ? items + i : NULL))
            return -1;
    }
    return 0;
}

/* The blocks of an array or map: a count (negative: followed by a byte size), items, ..., 0.
 * Only arrays that may hold records are kept in @p out; the rest are checked and passed over. */
static int ssp_walk_blocks(ssp_walk *w, ssp_node *coll, int depth, ssp_pv *out)
{
    int64_t count, size;
    for (;;) {
        if (ssp_walk_long(w, &count))
            return -1;
        if (count == 0)
            return 0;
        if (count == INT64_MIN)
            return ssp_walk_fail(w, "bad item count");
        if (count < 0) {
            count = -count;
            if (ssp_walk_long(w, &size))
                return -1;
        }
        /* each item takes a byte or more, or one of the budget when it can be empty */
        if ((uint64_t)count > w->len - w->pos && count > w->budget)
            return ssp_walk_fail(w, "more items than the data can hold");
        ssp_walk_count(w, coll, count);
        ssp_pv *items = NULL;
        if (out && coll->keep && !w->is_over && !(items = ssp_walk_items(w, out, count)))
            return ssp_walk_nomem(w);
        if (ssp_walk_block(w, coll, count, items, depth))
            return -1;
        if (items)
            out->u.c.n += (size_t)count;
    }
}

static int ssp_walk_record(ssp_walk *w, ssp_node *node, int depth, ssp_pv *out)
{
    ssp_pv *fields = NULL;
    if (out && node->n && !(fields = ssp_pool_take(w->pool, node->n)))
        return ssp_walk_nomem(w);
    if (out)
        out->u.c.v = fields, out->u.c.n = node->n;
    for (size_t i = 0; i < node->n; i++)
        if (ssp_walk_value(w, node->kids[i], depth + 1, fields ? fields + i : NULL))
            return -1;
    return 0;
}

/* A string or bytes value: its length checked against max_value_bytes and the data left. */
static int ssp_walk_string(ssp_walk *w, ssp_pv *out)
{
    int64_t n;
    if (ssp_walk_long(w, &n))
        return -1;
    if (n > 0 && (uint64_t)n > w->lim->value_bytes)
        ssp_walk_over(w, "a string or bytes value is too long (bytes)", (uint64_t)n,
                      "max_value_bytes", w->lim->value_bytes);
    return ssp_walk_take(w, n, out);
}

static int ssp_walk_fixed_size(ssp_walk *w, size_t n, ssp_pv *out, int is_float)
{
    if (n > w->len - w->pos)
        return ssp_walk_fail(w, "a length runs past the end of the data");
    if (out && is_float) { /* little-endian, as this host and the Avro encoding are */
        float f;
        memcpy(&f, w->p + w->pos, 4);
        out->u.f = f;
    } else if (out && n == 8) {
        memcpy(&out->u.f, w->p + w->pos, 8);
    }
    w->pos += n;
    return 0;
}

static int ssp_walk_index(ssp_walk *w, size_t n, const char *why, int64_t *out)
{
    if (ssp_walk_long(w, out))
        return -1;
    return *out < 0 || (uint64_t)*out >= n ? ssp_walk_fail(w, why) : 0;
}

int ssp_walk_value(ssp_walk *w, ssp_node *node, int depth, ssp_pv *out)
{
    if (depth > SSP_AVRO_MAX_DEPTH)
        return ssp_walk_fail(w, "values nested too deeply");
    if (--w->budget < 0)
        return ssp_walk_fail(w, "too many values for its size");
    if (!w->pool || w->is_over)
        out = NULL; /* a record over a cap is lost: only its end is sought */
    if (out)
        out->node = node;
    int64_t n;
    switch (node->type) {
    case AVRO_NULL: return 0;
    case AVRO_BOOLEAN:
        if (w->pos >= w->len)
            return ssp_walk_fail(w, "a length runs past the end of the data");
        if (out)
            out->u.i = w->p[w->pos] != 0;
        w->pos++;
        return 0;
    case AVRO_INT32: return ssp_walk_varint(w, 5, 32, out ? &out->u.i : &n);
    case AVRO_INT64: return ssp_walk_long(w, out ? &out->u.i : &n);
    case AVRO_FLOAT: return ssp_walk_fixed_size(w, 4, out, 1);
    case AVRO_DOUBLE: return ssp_walk_fixed_size(w, 8, out, 0);
    case AVRO_STRING:
    case AVRO_BYTES: return ssp_walk_string(w, out);
    case AVRO_FIXED: return ssp_walk_take(w, (int64_t)node->n, out);
    case AVRO_ENUM:
        return ssp_walk_index(w, node->n, "enum symbol out of range", out ? &out->u.i : &n);
    case AVRO_UNION:
        if (ssp_walk_index(w, node->n, "union branch out of range", &n))
            return -1;
        return ssp_walk_value(w, node->kids[n], depth + 1, out);
    case AVRO_RECORD: return ssp_walk_record(w, node, depth, out);
    case AVRO_ARRAY:
    case AVRO_MAP: return ssp_walk_blocks(w, node, depth, out);
    default: return ssp_walk_fail(w, "unknown schema type");
    }
}

/* ---- the reference: avro-c's generic value as values ---- */

static int ssp_generic_items(ssp_pool *pool, ssp_node *arr, avro_value_t *v, ssp_pv *out)
{
    size_t n = 0;
    avro_value_get_size(v, &n);
    if (!arr->keep || n == 0)
        return 0;
    if (!(out->u.c.v = ssp_pool_take(pool, n)))
        return SS_ENOMEM;
    out->u.c.n = n;
    for (size_t i = 0; i < n; i++) {
        avro_value_t item;
        if (avro_value_get_by_index(v, i, &item, NULL) ||
            ssp_pv_from_generic(pool, arr->kids[0], &item, &out->u.c.v[i]))
            return SS_ENOMEM;
    }
    return 0;
}

static int ssp_generic_record(ssp_pool *pool, ssp_node *rec, avro_value_t *v, ssp_pv *out)
{
    if (rec->n && !(out->u.c.v = ssp_pool_take(pool, rec->n)))
        return SS_ENOMEM;
    out->u.c.n = rec->n;
    for (size_t i = 0; i < rec->n; i++) {
        avro_value_t f;
        if (avro_value_get_by_index(v, i, &f, NULL) ||
            ssp_pv_from_generic(pool, rec->kids[i], &f, &out->u.c.v[i]))
            return SS_ENOMEM;
    }
    return 0;
}

int ssp_pv_from_generic(ssp_pool *pool, ssp_node *node, avro_value_t *v, ssp_pv *out)
{
    const void *p = NULL;
    size_t n = 0;
    int32_t i32 = 0;
    float f = 0;
    int disc = 0;
    avro_value_t branch;
    out->node = node;
    switch (node->type) {
    case AVRO_BOOLEAN: avro_value_get_boolean(v, &i32), out->u.i = i32 != 0; return 0;
    case AVRO_INT32: avro_value_get_int(v, &i32), out->u.i = i32; return 0;
    case AVRO_INT64: avro_value_get_long(v, &out->u.i); return 0;
    case AVRO_FLOAT: avro_value_get_float(v, &f), out->u.f = f; return 0;
    case AVRO_DOUBLE: avro_value_get_double(v, &out->u.f); return 0;
    case AVRO_ENUM: avro_value_get_enum(v, &i32), out->u.i = i32; return 0;
    case AVRO_STRING: /* avro-c counts the terminating NUL */
        avro_value_get_string(v, (const char **)&p, &n);
        out->u.s.p = p, out->u.s.n = n ? n - 1 : 0;
        return 0;
    case AVRO_BYTES: avro_value_get_bytes(v, &p, &n), out->u.s.p = p, out->u.s.n = n; return 0;
    case AVRO_FIXED: avro_value_get_fixed(v, &p, &n), out->u.s.p = p, out->u.s.n = n; return 0;
    case AVRO_UNION:
        if (avro_value_get_discriminant(v, &disc) || disc < 0 || (size_t)disc >= node->n ||
            avro_value_get_current_branch(v, &branch))
            return 0; /* no branch set: read as null */
        return ssp_pv_from_generic(pool, node->kids[disc], &branch, out);
    case AVRO_RECORD: return ssp_generic_record(pool, node, v, out);
    case AVRO_ARRAY: return ssp_generic_items(pool, node, v, out);
    default: return 0; /* null; maps are not read */
    }
}
