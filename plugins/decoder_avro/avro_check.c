/*
 * Schemas that cannot be instantiated, refused before avro-c instantiates them. avro-c builds a
 * value of a record by building a value of every field, recursively: a record that contains
 * itself through required fields (no union, array or map on the way that could end the nesting)
 * overflows the stack in avro_generic_value_new(), and so does a schema nested deeply enough.
 *
 * A type "ends" when a finite value of it exists: primitives, enums, fixed, arrays and maps (they
 * may be empty) always do; a union does when one of its branches does; a record does when every
 * field does. Records that end are found as a least fixpoint over the schema's records, so that
 * a cycle through a union ends only when the union has a branch that ends.
 */
#include "avro_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SSP_CHECK_DEPTH   SSP_AVRO_MAX_DEPTH /* as the data walk's */
#define SSP_CHECK_RECORDS 1024 /* distinct records in one schema; alert schemas have tens */
/* field visits the fixpoint may spend: a pass per record at worst; real schemas take two */
#define SSP_CHECK_BUDGET (1L << 22)

typedef struct ssp_rec {
    avro_schema_t s;
    int ends;  /* a finite value exists (as far as the fixpoint knows so far) */
    int depth; /* records nested in a new value of it, itself included; 0 until known */
} ssp_rec;

/* An index of recs by schema address, for a binary search once all are collected. */
typedef struct ssp_key {
    avro_schema_t s;
    size_t i;
} ssp_key;

typedef struct ssp_check {
    ssp_rec *recs; /* in the order they were found: messages name the first */
    size_t n, cap;
    ssp_key *keys; /* NULL while collecting */
    long budget;
    char *why;
    size_t why_cap;
} ssp_check;

static int ssp_key_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const ssp_key *)a)->s, y = (uintptr_t)((const ssp_key *)b)->s;
    return x < y ? -1 : x > y;
}

static ssp_rec *ssp_rec_find(ssp_check *c, avro_schema_t s)
{
    if (c->keys) {
        ssp_key key = {.s = s}, *k = bsearch(&key, c->keys, c->n, sizeof *c->keys, ssp_key_cmp);
        return k ? &c->recs[k->i] : NULL;
    }
    for (size_t i = 0; i < c->n; i++)
        if (c->recs[i].s == s)
            return &c->recs[i];
    return NULL;
}

static int ssp_check_fail(ssp_check *c, const char *why)
{
    snprintf(c->why, c->why_cap, "%s", why);
    return -1;
}

static ssp_rec *ssp_rec_add(ssp_check *c, avro_schema_t s)
{
    if (c->n == SSP_CHECK_RECORDS)
        return ssp_check_fail(c, "schema has more than 1024 records"), NULL;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        ssp_rec *fresh = realloc(c->recs, cap * sizeof *fresh);
        if (!fresh)
            return ssp_check_fail(c, "out of memory"), NULL;
        c->recs = fresh;
        c->cap = cap;
    }
    c->recs[c->n] = (ssp_rec){.s = s};
    return &c->recs[c->n++];
}

static int ssp_collect(ssp_check *c, avro_schema_t s, int depth);

static int ssp_collect_record(ssp_check *c, avro_schema_t s, int depth)
{
    ssp_rec *r = ssp_rec_find(c, s);
    if (r) /* walked already, or a cycle (judged by the fixpoint) */
        return 0;
    if (!ssp_rec_add(c, s))
        return -1;
    int rc = 0;
    for (size_t i = 0; !rc && i < avro_schema_record_size(s); i++)
        rc = ssp_collect(c, avro_schema_record_field_get_by_index(s, (int)i), depth + 1);
    return rc;
}

/* Gather every record reachable from @p s, refusing nesting deeper than SSP_CHECK_DEPTH. */
static int ssp_collect(ssp_check *c, avro_schema_t s, int depth)
{
    if (!s)
        return ssp_check_fail(c, "schema has a type avro-c could not resolve");
    if (depth > SSP_CHECK_DEPTH) {
        snprintf(c->why, c->why_cap, "schema nests deeper than %d levels", SSP_CHECK_DEPTH);
        return -1;
    }
    int rc = 0;
    switch (avro_typeof(s)) {
    case AVRO_RECORD: return ssp_collect_record(c, s, depth);
    case AVRO_LINK: return ssp_collect(c, avro_schema_link_target(s), depth + 1);
    case AVRO_ARRAY: return ssp_collect(c, avro_schema_array_items(s), depth + 1);
    case AVRO_MAP: return ssp_collect(c, avro_schema_map_values(s), depth + 1);
    case AVRO_UNION:
        for (size_t i = 0; !rc && i < avro_schema_union_size(s); i++)
            rc = ssp_collect(c, avro_schema_union_branch(s, (int)i), depth + 1);
        return rc;
    default: return 0;
    }
}

/* Whether a finite value of @p s exists, given what the fixpoint knows of records so far. */
static int ssp_ends(ssp_check *c, avro_schema_t s)
{
    switch (avro_typeof(s)) {
    case AVRO_RECORD: return ssp_rec_find(c, s)->ends;
    case AVRO_LINK: return ssp_ends(c, avro_schema_link_target(s));
    case AVRO_UNION: /* an empty one has no value at all, but avro-c builds it without recursing */
        for (size_t i = 0; i < avro_schema_union_size(s); i++)
            if (ssp_ends(c, avro_schema_union_branch(s, (int)i)))
                return 1;
        return avro_schema_union_size(s) == 0;
    default: return 1; /* arrays and maps may be empty */
    }
}

/* The first field of record @p s with no finite value, or -1. */
static int ssp_first_endless(ssp_check *c, avro_schema_t s)
{
    for (size_t i = 0; i < avro_schema_record_size(s); i++, c->budget--)
        if (!ssp_ends(c, avro_schema_record_field_get_by_index(s, (int)i)))
            return (int)i;
    return -1;
}

static int ssp_fixpoint(ssp_check *c)
{
    if (!(c->keys = malloc((c->n ? c->n : 1) * sizeof *c->keys)))
        return ssp_check_fail(c, "out of memory");
    for (size_t i = 0; i < c->n; i++)
        c->keys[i] = (ssp_key){c->recs[i].s, i};
    qsort(c->keys, c->n, sizeof *c->keys, ssp_key_cmp);
    c->budget = SSP_CHECK_BUDGET;
    for (int changed = 1; changed && c->budget > 0;) {
        changed = 0;
        for (size_t i = 0; i < c->n; i++)
            if (!c->recs[i].ends && ssp_first_endless(c, c->recs[i].s) < 0)
                c->recs[i].ends = changed = 1;
    }
    return c->budget > 0 ? 0 : ssp_check_fail(c, "schema too intricate to check");
}

/* The endless record a value of endless type @p s must contain. */
static avro_schema_t ssp_endless_record(avro_schema_t s)
{
    while (avro_typeof(s) == AVRO_LINK)
        s = avro_schema_link_target(s);
    if (avro_typeof(s) != AVRO_UNION)
        return s;
    return ssp_endless_record(avro_schema_union_branch(s, 0)); /* no branch of it ends */
}

/* The next record on the chain of endless fields from endless record @p s. */
static avro_schema_t ssp_step(ssp_check *c, avro_schema_t s)
{
    return ssp_endless_record(avro_schema_record_field_get_by_index(s, ssp_first_endless(c, s)));
}

/* The record to name for endless record @p s: the chain of endless fields from it is followed
 * until it loops, so that the record named is on the cycle (not one that merely holds a field of
 * such a record), and of the cycle's records the one found first, whatever the start. */
static avro_schema_t ssp_cycle_record(ssp_check *c, avro_schema_t s)
{
    for (size_t i = 0; i < c->n; i++)
        s = ssp_step(c, s);
    avro_schema_t first = s;
    for (avro_schema_t t = ssp_step(c, s); t != s; t = ssp_step(c, t))
        if (ssp_rec_find(c, t) < ssp_rec_find(c, first))
            first = t;
    return first;
}

/* Say which record contains itself, and through which field. */
static int ssp_endless(ssp_check *c, avro_schema_t s)
{
    s = ssp_cycle_record(c, s);
    int f = ssp_first_endless(c, s);
    avro_schema_t t = avro_schema_record_field_get_by_index(s, f);
    while (avro_typeof(t) == AVRO_LINK)
        t = avro_schema_link_target(t);
    const char *name = avro_schema_record_field_name(s, f);
    if (avro_typeof(t) == AVRO_UNION)
        snprintf(c->why, c->why_cap,
                 "schema record '%s' contains itself through field '%s' (a union whose every "
                 "branch contains it again)",
                 avro_schema_name(s), name);
    else
        snprintf(c->why, c->why_cap,
                 "schema record '%s' contains itself through required field '%s'",
                 avro_schema_name(s), name);
    return -1;
}

/* How deep avro-c recurses building a value of record @p s: through its required record fields,
 * links followed (unions, arrays and maps start empty). Records reached only through links can
 * chain deeper than the schema text nests. Called once every record ends, so the required
 * fields form no cycle. @return the depth, or SSP_CHECK_DEPTH + 1 once past it. */
static int ssp_instance_depth(ssp_check *c, avro_schema_t s, int level)
{
    ssp_rec *r = ssp_rec_find(c, s);
    if (r->depth)
        return r->depth;
    if (level > SSP_CHECK_DEPTH) /* deep enough to refuse: not worth following further */
        return SSP_CHECK_DEPTH + 1;
    int deepest = 0;
    for (size_t i = 0; i < avro_schema_record_size(s) && deepest <= SSP_CHECK_DEPTH; i++) {
        avro_schema_t f = avro_schema_record_field_get_by_index(s, (int)i);
        while (avro_typeof(f) == AVRO_LINK)
            f = avro_schema_link_target(f);
        int d = avro_typeof(f) == AVRO_RECORD ? ssp_instance_depth(c, f, level + 1) : 0;
        deepest = d > deepest ? d : deepest;
    }
    return ssp_rec_find(c, s)->depth = deepest + 1;
}

int ssp_avro_schema_check(avro_schema_t s, char *why, size_t cap)
{
    ssp_check c = {.why = why, .why_cap = cap};
    int rc = ssp_collect(&c, s, 0);
    if (!rc && !(rc = ssp_fixpoint(&c))) {
        for (size_t i = 0; !rc && i < c.n; i++)
            if (!c.recs[i].ends)
                rc = ssp_endless(&c, c.recs[i].s);
        for (size_t i = 0; !rc && i < c.n; i++)
            if (ssp_instance_depth(&c, c.recs[i].s, 0) > SSP_CHECK_DEPTH) {
                snprintf(why, cap, "schema record '%s' nests records more than %d deep",
                         avro_schema_name(c.recs[i].s), SSP_CHECK_DEPTH);
                rc = -1;
            }
    }
    free(c.recs);
    free(c.keys);
    return rc;
}
