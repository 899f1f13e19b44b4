/*
 * How a filter set's run of a night differs from a baseline set's run of the same night. Both runs
 * associate the same alerts in the same order, so their locus ids agree and the stores compare key
 * by key.
 */
#include "json_text.h"
#include "replay_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- tags ---- */

static json_t *ssi_tag_side(json_t *diff, const char *tag, const char *side)
{
    json_t *t = json_object_get(diff, tag);
    if (!t) {
        t = json_pack("{s:i, s:[], s:[]}", "both", 0, "only_set", "only_baseline");
        json_object_set_new(diff, tag, t);
    }
    return side ? json_object_get(t, side) : t;
}

static void ssi_tag_only(json_t *diff, const ssi_tagged *e, const char *side)
{
    json_array_append_new(ssi_tag_side(diff, e->tag, side),
                          json_pack("{s:s, s:s, s:f}", "locus_id", e->locus_id, "alert_id",
                                    e->alert_id, "mjd", e->mjd));
}

static int ssi_tag_cmp(const ssi_tagged *x, const ssi_tagged *y)
{
    int t = strcmp(x->tag, y->tag);
    return t ? t : strcmp(x->locus_id, y->locus_id);
}

/* Merge the two runs' (tag, locus) lists, both sorted. */
static json_t *ssi_diff_tags(const ssi_collect *set, const ssi_collect *base, int *rc)
{
    size_t na, nb, i = 0, j = 0;
    const ssi_tagged **a = ssi_collect_tags(set, &na), **b = ssi_collect_tags(base, &nb);
    json_t *diff = json_object();
    if (!a || !b)
        *rc = SS_ENOMEM;
    while (!*rc && (i < na || j < nb)) {
        int c = i == na ? 1 : j == nb ? -1 : ssi_tag_cmp(a[i], b[j]);
        if (c < 0)
            ssi_tag_only(diff, a[i++], "only_set");
        else if (c > 0)
            ssi_tag_only(diff, b[j++], "only_baseline");
        else {
            json_t *t = ssi_tag_side(diff, a[i]->tag, NULL);
            json_object_set_new(t, "both",
                                json_integer(json_integer_value(json_object_get(t, "both")) + 1));
            i++, j++;
        }
    }
    free(a);
    free(b);
    return diff;
}

/* ---- properties ---- */

typedef struct ssi_bag {
    ss_prop *props;
    uint32_t n;
} ssi_bag;

typedef struct ssi_prop_diff {
    json_t *by_name; /* name -> {changed, only_set, only_baseline, examples} */
    const char *key_name;
    double tol;
    size_t max_listed;
} ssi_prop_diff;

static const ss_value *ssi_bag_get(const ssi_bag *b, const char *name)
{
    for (uint32_t i = 0; i < b->n; i++)
        if (!strcmp(b->props[i].name, name))
            return &b->props[i].value;
    return NULL;
}

static int ssi_is_number(const ss_value *v, double *out)
{
    if (v->type == SS_TYPE_INT)
        *out = (double)v->u.i;
    else if (v->type == SS_TYPE_FLOAT)
        *out = v->u.f;
    else
        return 0;
    return 1;
}

static int ssi_values_differ(const ss_value *x, const ss_value *y, double tol)
{
    double a, b;
    if (ssi_is_number(x, &a) && ssi_is_number(y, &b)) {
        double scale = fmax(1.0, fmax(fabs(a), fabs(b)));
        return fabs(a - b) > tol * scale;
    }
    if (x->type != y->type)
        return 1;
    if (x->type == SS_TYPE_STRING)
        return x->u.s.len != y->u.s.len || memcmp(x->u.s.ptr, y->u.s.ptr, x->u.s.len);
    return x->type == SS_TYPE_BOOL && x->u.b != y->u.b;
}

/* The readable form of a key of a property bag: a locus id, or survey NUL alert id. */
static json_t *ssi_key_json(const char *k, size_t len, const char *key_name)
{
    const char *nul = memchr(k, '\0', len);
    if (!nul)
        return json_pack("{s:s%}", key_name, k, len);
    return json_pack("{s:s, s:s%}", "survey", k, "alert_id", nul + 1, len - (size_t)(nul + 1 - k));
}

typedef struct ssi_key {
    const char *p;
    size_t len;
} ssi_key;

static void ssi_note_prop(ssi_prop_diff *d, const ssi_key *key, const char *name, const char *what,
                          const ss_value *sv, const ss_value *bv)
{
    json_t *p = json_object_get(d->by_name, name);
    if (!p) {
        p = json_pack("{s:i, s:i, s:i, s:[]}", "changed", 0, "only_set", 0, "only_baseline", 0,
                      "examples");
        json_object_set_new(d->by_name, name, p);
    }
    json_object_set_new(p, what, json_integer(json_integer_value(json_object_get(p, what)) + 1));
    json_t *ex = json_object_get(p, "examples");
    if (json_array_size(ex) >= d->max_listed)
        return;
    json_t *e = ssi_key_json(key->p, key->len, d->key_name);
    json_object_set_new(e, "set", sv ? ss_json_value(sv) : json_null());
    json_object_set_new(e, "baseline", bv ? ss_json_value(bv) : json_null());
    json_array_append_new(ex, e);
}

/* Compare the two bags stored under one key (either may be empty). */
static void ssi_diff_bags(ssi_prop_diff *d, const ssi_key *key, const ssi_bag *s, const ssi_bag *b)
{
    for (uint32_t i = 0; i < s->n; i++) {
        const ss_value *bv = ssi_bag_get(b, s->props[i].name);
        if (!bv)
            ssi_note_prop(d, key, s->props[i].name, "only_set", &s->props[i].value, NULL);
        else if (ssi_values_differ(&s->props[i].value, bv, d->tol))
            ssi_note_prop(d, key, s->props[i].name, "changed", &s->props[i].value, bv);
    }
    for (uint32_t i = 0; i < b->n; i++)
        if (!ssi_bag_get(s, b->props[i].name))
            ssi_note_prop(d, key, b->props[i].name, "only_baseline", NULL, &b->props[i].value);
}

static int ssi_key_cmp(const ssi_key *x, const ssi_key *y)
{
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->p, y->p, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* One store's side of the merge-join: its current bag, pulled in key order. */
typedef struct ssi_side {
    ss_store *store;
    ss_store_bags *it;
    ss_arena *arena;
    ssi_key k;
    ssi_bag bag;
    int rc; /* 1: a bag is current; 0: done; other: an error */
} ssi_side;

static void ssi_side_next(ssi_side *s)
{
    ss_arena_reset(s->arena);
    s->rc = ss_store_bags_next(s->it, s->arena, &s->k.p, &s->k.len, &s->bag.props, &s->bag.n);
}

/* Merge-join one table of both stores by key. */
static int ssi_diff_table(ssi_prop_diff *d, ssi_side *s, ssi_side *b, ssi_mapped *m)
{
    ssi_side_next(s);
    ssi_side_next(b);
    while (s->rc == 1 || b->rc == 1) {
        int c = s->rc != 1 ? 1 : b->rc != 1 ? -1 : ssi_key_cmp(&s->k, &b->k);
        ssi_bag none = {0};
        ssi_diff_bags(d, c <= 0 ? &s->k : &b->k, c <= 0 ? &s->bag : &none,
                      c >= 0 ? &b->bag : &none);
        if (c <= 0)
            ssi_side_next(s);
        if (c >= 0)
            ssi_side_next(b);
        ssi_mapped_tick(m, s->store, b->store);
    }
    return s->rc ? s->rc : b->rc;
}

static json_t *ssi_diff_props(ss_store_txn *ts, ss_store_txn *tb, int alerts, ssi_prop_diff d,
                              ssi_mapped *m, int *rc)
{
    d.by_name = json_object();
    d.key_name = alerts ? "alert_id" : "locus_id";
    int which = alerts ? SS_STORE_ALERT_BAGS : SS_STORE_LOCUS_BAGS;
    ssi_side s = {.store = ss_store_txn_store(ts), .arena = ss_arena_new()},
             b = {.store = ss_store_txn_store(tb), .arena = ss_arena_new()};
    *rc = !s.arena || !b.arena ? SS_ENOMEM : 0;
    if (!*rc && !(*rc = ss_store_bags_open(ts, which, &s.it)) &&
        !(*rc = ss_store_bags_open(tb, which, &b.it)))
        *rc = ssi_diff_table(&d, &s, &b, m);
    ss_store_bags_close(s.it);
    ss_store_bags_close(b.it);
    ss_arena_free(s.arena);
    ss_arena_free(b.arena);
    return d.by_name;
}

json_t *ssi_diff_report(const ssi_collect *set, ss_store *sset, const ssi_collect *base,
                        ss_store *sbase, double tolerance, size_t max_listed, ssi_mapped *m,
                        ss_err *err)
{
    ssi_prop_diff how = {.tol = tolerance, .max_listed = max_listed};
    ss_store_txn *ts = NULL, *tb = NULL;
    int rc = ss_store_txn_begin(sset, SS_STORE_READ, &ts);
    if (!rc)
        rc = ss_store_txn_begin(sbase, SS_STORE_READ, &tb);
    json_t *tags = rc ? NULL : ssi_diff_tags(set, base, &rc);
    json_t *lp = rc ? NULL : ssi_diff_props(ts, tb, 0, how, m, &rc);
    json_t *ap = rc ? NULL : ssi_diff_props(ts, tb, 1, how, m, &rc);
    ss_store_txn_abort(ts);
    ss_store_txn_abort(tb);
    if (rc) {
        json_decref(tags);
        json_decref(lp);
        json_decref(ap);
        ss_store_fail(sset, err, rc, "comparing with the baseline");
        return NULL;
    }
    return json_pack("{s:o, s:{s:f, s:o, s:o}}", "tags", tags, "properties", "tolerance", tolerance,
                     "locus_properties", lp, "alert_properties", ap);
}
