/*
 * Searches of loci (search.h). One driving index gives the candidates and every other condition
 * is checked on each. When the index walks in the sort's order the page is cut from the walk,
 * which stops one match after the page (or goes on counting); otherwise the matches' sort keys are
 * collected, at most a cap of them, and sorted in memory.
 */
#include "search_impl.h"

#include "catalog.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SSI_NAME_MAX          128
#define SSI_MAX_RADIUS_ARCSEC (180 * 3600.0)

typedef enum ssi_sort {
    SSI_SORT_ID,
    SSI_SORT_NEWEST,
    SSI_SORT_SEPARATION,
    SSI_SORT_TAGGED,
    SSI_SORT_PROP,
} ssi_sort;

/* In the order search.h prefers them. */
typedef enum ssi_drive {
    SSI_BY_SKY,
    SSI_BY_OBJECT,
    SSI_BY_CATALOG,
    SSI_BY_TAG,
    SSI_BY_NEWEST,
    SSI_BY_LOCI,
} ssi_drive;

static const char *const ssi_index_names[] = {"sky",       "objects",     "catalog_loci",
                                              "tag_index", "loci_newest", "loci"};
static const char *const ssi_sort_names[] = {"locus_id", "newest_alert_observation_time",
                                             "separation", "tagged_mjd", NULL};

/* A match kept for a sort in memory. */
typedef struct ssi_item {
    double value; /* the sort key (NAN: none, or a sort by id) */
    double sep;   /* arcsec from the cone's centre; NAN without a cone */
    char id[SS_LOCUS_ID_LEN + 1];
} ssi_item;

/* The locus being checked, read only as far as the conditions need. */
typedef struct ssi_cand {
    const char *id;
    double key; /* the MJD the driving index keyed it by (tag, newest); NAN otherwise */
    double sep;
    int have_locus, have_props, have_tag;
    ss_locus locus;
    ss_prop *props; /* in the search's scratch arena */
    uint32_t nprops;
    ss_tag_record tag;
} ssi_cand;

typedef struct ssi_search {
    ss_store_txn *txn;
    const ss_query_search *q;
    ss_err *err;
    ssi_sort sort;
    ssi_drive drive;
    int ordered;  /* the driving index walks in the sort's order */
    int filtered; /* some condition is not the driving index's */
    int check_object, check_catalog, check_watch, check_tag;
    uint64_t catalog_id, watch_id;
    char (*objects)[SS_LOCUS_ID_LEN + 1]; /* the object id's loci; malloc'd, the search's */
    size_t nobjects;
    ss_arena *scratch; /* the candidate's property bag, reset after each */
    ssi_item *items;   /* matches to sort; malloc'd, the search's */
    size_t n, cap, limit;
    size_t skip, seen; /* matches before the page; matches met so far */
    ss_query_page *out;
    size_t hits_cap;
} ssi_search;

/* ---- checking the search ---- */

/* A property name: printable, no spaces, not too long. */
static int ssi_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > SSI_NAME_MAX)
        return 0;
    for (; *s; s++)
        if (!isgraph((unsigned char)*s))
            return 0;
    return 1;
}

static int ssi_check_cone(const ss_query_search *q, ss_err *err)
{
    if (!(q->ra >= 0 && q->ra < 360))
        return ss_err_set(err, SS_EINVAL, "search: ra %g is not in [0, 360)", q->ra);
    if (!(q->dec >= -90 && q->dec <= 90))
        return ss_err_set(err, SS_EINVAL, "search: dec %g is not in [-90, 90]", q->dec);
    if (!(q->radius_arcsec > 0 && q->radius_arcsec <= SSI_MAX_RADIUS_ARCSEC))
        return ss_err_set(err, SS_EINVAL, "search: radius_arcsec %g is not in (0, %g]",
                          q->radius_arcsec, SSI_MAX_RADIUS_ARCSEC);
    return 0;
}

static int ssi_check_names(const ss_query_search *q, ss_err *err)
{
    const char *const fields[] = {"tag", "object_id", "catalog", "watch"};
    const char *const values[] = {q->tag, q->object_id, q->catalog, q->watch};
    for (int i = 0; i < 4; i++)
        if (values[i] && !*values[i])
            return ss_err_set(err, SS_EINVAL, "search: %s is empty", fields[i]);
    if (q->tagged_since != 0 && !q->tag)
        return ss_err_set(err, SS_EINVAL, "search: tagged_since needs a tag");
    if (!(q->tagged_since >= 0 && isfinite(q->tagged_since)))
        return ss_err_set(err, SS_EINVAL, "search: tagged_since %g is not an MJD of 0 or more",
                          q->tagged_since);
    return 0;
}

static int ssi_check_conds(const ss_query_search *q, ss_err *err)
{
    if (q->nconds && !q->conds)
        return ss_err_set(err, SS_EINVAL, "search: %zu conditions but none given", q->nconds);
    for (size_t i = 0; i < q->nconds; i++) {
        const ss_query_cond *c = &q->conds[i];
        if (!c->prop || !ssi_name_ok(c->prop))
            return ss_err_set(err, SS_EINVAL,
                              "search: condition %zu: '%.*s' is not a property name", i + 1,
                              SSI_NAME_MAX, c->prop ? c->prop : "");
        if (c->op > SS_QUERY_LTE)
            return ss_err_set(err, SS_EINVAL, "search: condition on %s: unknown operator %d",
                              c->prop, (int)c->op);
        if (c->text && c->op != SS_QUERY_EQ)
            return ss_err_set(err, SS_EINVAL,
                              "search: condition on %s: text compares by equality only", c->prop);
        if (!c->text && !isfinite(c->num))
            return ss_err_set(err, SS_EINVAL, "search: condition on %s: %g is not a number",
                              c->prop, c->num);
    }
    return 0;
}

static int ssi_check_sort(const ss_query_search *q, ss_err *err)
{
    const char *s = q->sort;
    if (!s)
        return 0;
    if (!strcmp(s, "separation") && !q->cone)
        return ss_err_set(err, SS_EINVAL, "search: sort separation needs a cone (ra, dec, radius)");
    if (!strcmp(s, "tagged_mjd") && !q->tag)
        return ss_err_set(err, SS_EINVAL, "search: sort tagged_mjd needs a tag");
    if (!ssi_name_ok(s))
        return ss_err_set(err, SS_EINVAL, "search: sort '%.*s' is not a locus property name",
                          SSI_NAME_MAX, s);
    return 0;
}

static int ssi_validate(const ss_query_search *q, ss_err *err)
{
    size_t page = q->page ? q->page : 1;
    if (q->page_size < 1)
        return ss_err_set(err, SS_EINVAL, "search: page_size must be 1 or more");
    if (page - 1 > (SIZE_MAX - q->page_size) / q->page_size)
        return ss_err_set(err, SS_EINVAL, "search: page %zu of %zu loci is past any store", page,
                          q->page_size);
    int rc = q->cone ? ssi_check_cone(q, err) : 0;
    if (!rc && !(rc = ssi_check_names(q, err)) && !(rc = ssi_check_conds(q, err)))
        rc = ssi_check_sort(q, err);
    return rc;
}

/* ---- choosing the index ---- */

static ssi_drive ssi_drive_of(ss_store *s, const ss_query_search *q)
{
    if (q->cone)
        return SSI_BY_SKY;
    if (q->object_id)
        return SSI_BY_OBJECT;
    if (q->catalog || q->watch)
        return SSI_BY_CATALOG;
    if (q->tag)
        return SSI_BY_TAG;
    if (q->sort && !strcmp(q->sort, ssi_sort_names[SSI_SORT_NEWEST]) && ss_store_has_newest(s))
        return SSI_BY_NEWEST;
    return SSI_BY_LOCI;
}

/* No sort asked: the driving index's own order. */
static ssi_sort ssi_sort_of(const ss_query_search *q, ssi_drive drive)
{
    if (!q->sort)
        return drive == SSI_BY_SKY   ? SSI_SORT_SEPARATION
               : drive == SSI_BY_TAG ? SSI_SORT_TAGGED
                                     : SSI_SORT_ID;
    for (int i = 0; ssi_sort_names[i]; i++)
        if (!strcmp(q->sort, ssi_sort_names[i]))
            return (ssi_sort)i;
    return SSI_SORT_PROP;
}

static int ssi_is_ordered(ssi_drive drive, ssi_sort sort)
{
    return (drive == SSI_BY_LOCI && sort == SSI_SORT_ID) ||
           (drive == SSI_BY_NEWEST && sort == SSI_SORT_NEWEST) ||
           (drive == SSI_BY_CATALOG && sort == SSI_SORT_ID) ||
           (drive == SSI_BY_TAG && sort == SSI_SORT_TAGGED);
}

static int ssi_catalog(ssi_search *x, const char *name, ss_catalog_kind kind, uint64_t *id)
{
    int rc = ss_assoc_catalog_id(x->txn, name, kind, id);
    const char *what = kind == SS_CATALOG_KIND_WATCH ? "watch list" : "catalog";
    if (rc == SS_ENOTFOUND)
        return ss_err_set(x->err, SS_EINVAL, "search: %s '%.*s': no such %s in store %s",
                          kind == SS_CATALOG_KIND_WATCH ? "watch" : "catalog", SSI_NAME_MAX, name,
                          what, ss_store_path(ss_store_txn_store(x->txn)));
    return rc;
}

static int ssi_object_add(void *ctx, const char *survey, const char *locus_id)
{
    (void)survey;
    ssi_search *x = ctx;
    for (size_t i = 0; i < x->nobjects; i++) /* one object spans few loci */
        if (!strcmp(x->objects[i], locus_id))
            return 0;
    void *fresh = realloc(x->objects, (x->nobjects + 1) * sizeof *x->objects);
    if (!fresh)
        return SS_ENOMEM;
    x->objects = fresh;
    memcpy(x->objects[x->nobjects++], locus_id, SS_LOCUS_ID_LEN + 1);
    return 0;
}

static int ssi_resolve(ssi_search *x)
{
    const ss_query_search *q = x->q;
    int rc = 0;
    x->drive = ssi_drive_of(ss_store_txn_store(x->txn), q);
    x->sort = ssi_sort_of(q, x->drive);
    x->ordered = ssi_is_ordered(x->drive, x->sort);
    x->out->index = ssi_index_names[x->drive];
    if ((q->catalog &&
         (rc = ssi_catalog(x, q->catalog, SS_CATALOG_KIND_CATALOG, &x->catalog_id))) ||
        (q->watch && (rc = ssi_catalog(x, q->watch, SS_CATALOG_KIND_WATCH, &x->watch_id))) ||
        (q->object_id && (rc = ss_store_object_each(x->txn, q->object_id, ssi_object_add, x))))
        return rc;
    x->check_object = q->object_id && x->drive != SSI_BY_OBJECT;
    x->check_catalog = q->catalog && x->drive != SSI_BY_CATALOG;
    x->check_watch = q->watch && (x->drive != SSI_BY_CATALOG || q->catalog);
    x->check_tag = q->tag && x->drive != SSI_BY_TAG;
    x->filtered =
        x->check_object || x->check_catalog || x->check_watch || x->check_tag || q->nconds;
    return 0;
}

/* ---- reading a candidate ---- */

static void ssi_cand_init(ssi_cand *c, const char *id, double key, double sep)
{
    c->id = id;
    c->key = key;
    c->sep = sep;
    c->have_locus = c->have_props = c->have_tag = 0;
}

static void ssi_cand_done(ssi_search *x, const ssi_cand *c)
{
    if (c->have_props)
        ss_arena_reset(x->scratch);
}

static int ssi_cand_locus(ssi_search *x, ssi_cand *c)
{
    if (c->have_locus)
        return 0;
    int rc = ss_store_locus_get(x->txn, c->id, &c->locus);
    c->have_locus = !rc;
    return rc == SS_ENOTFOUND ? SS_ECORRUPT : rc; /* an index names a locus the store lacks */
}

/* @return 0 (tagged), SS_ENOTFOUND or a store code. */
static int ssi_cand_tag(ssi_search *x, ssi_cand *c)
{
    if (c->have_tag)
        return 0;
    int rc = ss_store_tag_get(x->txn, c->id, x->q->tag, &c->tag);
    c->have_tag = !rc;
    return rc;
}

/* A property of the candidate: the broker's own, else one of its bag (the survey's, filters'). */
static int ssi_cand_value(ssi_search *x, ssi_cand *c, const char *name, ss_value *v, int *found)
{
    int rc = ssi_cand_locus(x, c);
    if (rc || (*found = ss_store_locus_computed_get(&c->locus, name, v)))
        return rc;
    if (!c->have_props &&
        (rc = ss_store_locus_props(x->txn, c->id, x->scratch, &c->props, &c->nprops)))
        return rc;
    c->have_props = 1;
    for (uint32_t i = 0; i < c->nprops && !*found; i++)
        if (!strcmp(c->props[i].name, name)) {
            *v = c->props[i].value;
            *found = 1;
        }
    return 0;
}

static int ssi_number(const ss_value *v, double *out)
{
    switch (v->type) {
    case SS_TYPE_INT: *out = (double)v->u.i; return 1;
    case SS_TYPE_FLOAT: *out = v->u.f; return !isnan(v->u.f);
    case SS_TYPE_BOOL: *out = v->u.b ? 1 : 0; return 1;
    default: return 0;
    }
}

static int ssi_cond_holds(const ss_query_cond *c, const ss_value *v)
{
    double d;
    if (c->text)
        return v->type == SS_TYPE_STRING && v->u.s.len == strlen(c->text) &&
               !memcmp(v->u.s.ptr, c->text, v->u.s.len);
    if (!ssi_number(v, &d))
        return 0;
    switch (c->op) {
    case SS_QUERY_EQ: return d == c->num;
    case SS_QUERY_GT: return d > c->num;
    case SS_QUERY_GTE: return d >= c->num;
    case SS_QUERY_LT: return d < c->num;
    case SS_QUERY_LTE: return d <= c->num;
    }
    return 0;
}

/* The conditions besides the driving index's: cheapest first, the property bag last. */
static int ssi_check(ssi_search *x, ssi_cand *c, int *match)
{
    int rc = 0, in = !x->check_object;
    *match = 0;
    for (size_t i = 0; !in && i < x->nobjects; i++)
        in = !strcmp(x->objects[i], c->id);
    if (!in)
        return 0;
    if ((x->check_catalog && (rc = ss_assoc_locus_matched(x->txn, c->id, x->catalog_id))) ||
        (x->check_watch && (rc = ss_assoc_locus_matched(x->txn, c->id, x->watch_id))) ||
        (x->check_tag && (rc = ssi_cand_tag(x, c))))
        return rc == SS_ENOTFOUND ? 0 : rc;
    if (x->check_tag && c->tag.mjd < x->q->tagged_since)
        return 0;
    for (size_t i = 0; i < x->q->nconds; i++) {
        ss_value v;
        int found;
        if ((rc = ssi_cand_value(x, c, x->q->conds[i].prop, &v, &found)))
            return rc;
        if (!found || !ssi_cond_holds(&x->q->conds[i], &v))
            return 0;
    }
    *match = 1;
    return 0;
}

/* The candidate's sort key, for a sort in memory (NAN: it has none). */
static int ssi_sort_value(ssi_search *x, ssi_cand *c, double *out)
{
    ss_value v;
    int found = 0, rc = 0;
    *out = NAN;
    switch (x->sort) {
    case SSI_SORT_ID: return 0;
    case SSI_SORT_SEPARATION: *out = c->sep; return 0;
    case SSI_SORT_TAGGED:
        rc = ssi_cand_tag(x, c);
        *out = rc ? NAN : c->tag.mjd;
        return rc == SS_ENOTFOUND ? 0 : rc;
    case SSI_SORT_NEWEST:
        rc = ssi_cand_locus(x, c);
        *out = rc ? NAN : c->locus.newest.mjd;
        return rc;
    case SSI_SORT_PROP:
        rc = ssi_cand_value(x, c, x->q->sort, &v, &found);
        if (!rc && found && !ssi_number(&v, out))
            *out = NAN;
        return rc;
    }
    return 0;
}

/* ---- the page ---- */

/* Put the candidate on the page, with what the search knows of it. */
static int ssi_hit_add(ssi_search *x, ssi_cand *c, double value)
{
    ss_query_page *p = x->out;
    int rc = ssi_cand_locus(x, c);
    if (!rc && x->q->tag && (rc = ssi_cand_tag(x, c)) == SS_ENOTFOUND)
        rc = 0;
    if (rc)
        return rc;
    if (p->n == x->hits_cap) {
        size_t cap = x->hits_cap ? x->hits_cap * 2 : 16;
        ss_query_hit *fresh = realloc(p->hits, cap * sizeof *fresh);
        if (!fresh)
            return SS_ENOMEM;
        p->hits = fresh;
        x->hits_cap = cap;
    }
    ss_query_hit *h = &p->hits[p->n++];
    h->locus = c->locus;
    h->separation_arcsec = c->sep;
    h->sort_value = value;
    if (c->have_tag)
        h->tag = c->tag;
    else
        memset(&h->tag, 0, sizeof h->tag);
    return 0;
}

/* A candidate of a walk in the sort's order: counted if it matches, kept if on the page. Before
 * the page an unfiltered walk reads no record at all. */
static int ssi_ordered_step(ssi_search *x, ssi_cand *c, int *stop)
{
    int match = 1, rc = x->filtered ? ssi_check(x, c, &match) : 0;
    if (rc || !match)
        return rc;
    size_t at = x->seen++, end = x->skip + x->out->page_size;
    if (at >= x->skip && at < end)
        return ssi_hit_add(x, c, c->key);
    if (at == end) {
        x->out->has_next = 1;
        *stop = !x->q->count;
    }
    return 0;
}

static int ssi_too_many(ssi_search *x)
{
    const char *sort = x->q->sort ? x->q->sort : ssi_sort_names[x->sort];
    return ss_err_set(x->err, SS_ELIMIT,
                      "search: more than %zu loci match, too many to sort by %.*s, which the %s "
                      "index does not give: narrow the search (a cone, a tag, a catalog, "
                      "conditions) or sort by the index's order",
                      x->limit, SSI_NAME_MAX, sort, x->out->index);
}

/* A candidate of an index not in the sort's order: its key kept for the sort, if it matches. */
static int ssi_collect(ssi_search *x, ssi_cand *c)
{
    double value;
    int match, rc = ssi_check(x, c, &match);
    if (rc || !match || (rc = ssi_sort_value(x, c, &value)))
        return rc;
    if (x->n == x->limit)
        return ssi_too_many(x);
    if (x->n == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 256;
        ssi_item *fresh = realloc(x->items, cap * sizeof *fresh);
        if (!fresh)
            return SS_ENOMEM;
        x->items = fresh;
        x->cap = cap;
    }
    ssi_item *it = &x->items[x->n++];
    it->value = value;
    it->sep = c->sep;
    memcpy(it->id, c->id, SS_LOCUS_ID_LEN + 1);
    return 0;
}

/* Loci without the key last, either way; ties by id, reversed with the order. */
static int ssi_item_cmp(const ssi_item *a, const ssi_item *b, int dir)
{
    int an = isnan(a->value), bn = isnan(b->value);
    if (an != bn)
        return an - bn;
    if (!an && a->value != b->value)
        return a->value < b->value ? -dir : dir;
    return dir * strcmp(a->id, b->id);
}

static int ssi_item_asc(const void *a, const void *b)
{
    return ssi_item_cmp(a, b, 1);
}

static int ssi_item_desc(const void *a, const void *b)
{
    return ssi_item_cmp(a, b, -1);
}

static int ssi_page_sorted(ssi_search *x)
{
    ss_query_page *p = x->out;
    if (x->n > 1)
        qsort(x->items, x->n, sizeof *x->items, x->q->descending ? ssi_item_desc : ssi_item_asc);
    p->has_next = x->n - (x->n < x->skip ? x->n : x->skip) > p->page_size;
    if (x->q->count)
        p->total = (int64_t)x->n;
    for (size_t i = x->skip; i < x->n && i - x->skip < p->page_size; i++) {
        ssi_cand c;
        ssi_cand_init(&c, x->items[i].id, NAN, x->items[i].sep);
        int rc = ssi_hit_add(x, &c, x->items[i].value);
        ssi_cand_done(x, &c);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- the driving indexes ---- */

typedef struct ssi_source {
    ss_store_walk *walk;
    ss_assoc_loci *loci;
} ssi_source;

static int ssi_source_open(ssi_search *x, ssi_source *src)
{
    const ss_query_search *q = x->q;
    int descending = q->descending && x->ordered, rc;
    if (x->drive == SSI_BY_CATALOG) {
        rc = ss_assoc_loci_open(x->txn, q->catalog ? x->catalog_id : x->watch_id, descending,
                                &src->loci);
        if (!rc && !ss_assoc_loci_indexed(src->loci))
            x->out->index = "locus_matches";
        return rc;
    }
    ss_store_walk_options o = {.order = SS_STORE_BY_ID, .descending = descending};
    if (x->drive == SSI_BY_TAG)
        o.order = SS_STORE_BY_TAG, o.tag = q->tag, o.since_mjd = q->tagged_since;
    else if (x->drive == SSI_BY_NEWEST)
        o.order = SS_STORE_BY_NEWEST;
    return ss_store_walk_open(x->txn, &o, &src->walk);
}

static int ssi_source_next(ssi_source *src, char id[SS_LOCUS_ID_LEN + 1], double *key)
{
    *key = NAN;
    return src->walk ? ss_store_walk_next(src->walk, id, key) : ss_assoc_loci_next(src->loci, id);
}

static int ssi_walk_index(ssi_search *x)
{
    ssi_source src = {0};
    char id[SS_LOCUS_ID_LEN + 1];
    double key;
    int rc = ssi_source_open(x, &src), stop = 0;
    while (!rc && !stop && (rc = ssi_source_next(&src, id, &key)) == 1) {
        ssi_cand c;
        ssi_cand_init(&c, id, key, NAN);
        rc = x->ordered ? ssi_ordered_step(x, &c, &stop) : ssi_collect(x, &c);
        ssi_cand_done(x, &c);
    }
    ss_store_walk_close(src.walk);
    ss_assoc_loci_close(src.loci);
    return rc == 1 ? 0 : rc;
}

static int ssi_sky_visit(void *ctx, const char *locus_id, double ra, double dec, double sep_deg)
{
    (void)ra, (void)dec;
    ssi_search *x = ctx;
    ssi_cand c;
    ssi_cand_init(&c, locus_id, NAN, sep_deg * SS_ARCSEC_PER_DEG);
    int rc = ssi_collect(x, &c);
    ssi_cand_done(x, &c);
    return rc;
}

static int ssi_collect_objects(ssi_search *x)
{
    int rc = 0;
    for (size_t i = 0; i < x->nobjects && !rc; i++) {
        ssi_cand c;
        ssi_cand_init(&c, x->objects[i], NAN, NAN);
        rc = ssi_collect(x, &c);
        ssi_cand_done(x, &c);
    }
    return rc;
}

static int ssi_run(ssi_search *x)
{
    const ss_query_search *q = x->q;
    int rc;
    if (x->drive == SSI_BY_SKY)
        rc = ss_store_sky_scan(x->txn, q->ra, q->dec, q->radius_arcsec / SS_ARCSEC_PER_DEG,
                               ssi_sky_visit, x);
    else if (x->drive == SSI_BY_OBJECT)
        rc = ssi_collect_objects(x);
    else
        rc = ssi_walk_index(x);
    if (rc || !x->ordered)
        return rc ? rc : ssi_page_sorted(x);
    if (q->count)
        x->out->total = (int64_t)x->seen;
    return 0;
}

int ssi_query_search_capped(ss_store *s, const ss_query_search *q, size_t cap, ss_query_page *out,
                            ss_err *err)
{
    ss_err mine = {0};
    memset(out, 0, sizeof *out);
    out->total = -1;
    out->page = q->page ? q->page : 1;
    out->page_size = q->page_size;
    int rc = ssi_validate(q, err);
    if (rc)
        return rc;
    ssi_search x = {.q = q, .err = &mine, .limit = cap, .out = out};
    x.skip = (out->page - 1) * q->page_size;
    if ((rc = ss_store_txn_begin(s, SS_STORE_READ, &x.txn)))
        return ss_store_fail(s, err, rc, "starting a search");
    rc = (x.scratch = ss_arena_new()) ? ssi_resolve(&x) : SS_ENOMEM;
    if (!rc)
        rc = ssi_run(&x);
    ss_store_txn_abort(x.txn);
    ss_arena_free(x.scratch);
    free(x.items);
    free(x.objects);
    if (rc) {
        ss_query_page_free(out);
        if (mine.code && err)
            *err = mine;
        else if (!mine.code)
            ss_store_fail(s, err, rc, "searching loci");
    }
    return rc;
}

int ss_query_search_run(ss_store *s, const ss_query_search *q, ss_query_page *out, ss_err *err)
{
    return ssi_query_search_capped(s, q, SS_QUERY_SORT_CAP, out, err);
}

void ss_query_page_free(ss_query_page *p)
{
    if (!p)
        return;
    free(p->hits);
    p->hits = NULL;
    p->n = 0;
}
