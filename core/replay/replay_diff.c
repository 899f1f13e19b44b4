/*
 * How a filter set's run of a night differs from a baseline set's run of the same night. Both runs
 * associate the same alerts in the same order, so their locus ids agree and the stores compare key
 * by key.
 */
#include "render.h"
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

/* The readable form of a key of the locus_props or alert_props table. */
static json_t *ssi_key_json(const MDB_val *k, const char *key_name)
{
    const char *p = k->mv_data, *nul = memchr(p, '\0', k->mv_size);
    if (!nul)
        return json_pack("{s:s%}", key_name, p, k->mv_size);
    return json_pack("{s:s, s:s%}", "survey", p, "alert_id", nul + 1,
                     k->mv_size - (size_t)(nul + 1 - p));
}

static void ssi_note_prop(ssi_prop_diff *d, const MDB_val *key, const char *name, const char *what,
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
    json_t *e = ssi_key_json(key, d->key_name);
    json_object_set_new(e, "set", sv ? ssi_value_json(sv) : json_null());
    json_object_set_new(e, "baseline", bv ? ssi_value_json(bv) : json_null());
    json_array_append_new(ex, e);
}

/* Compare the two bags stored under one key (either may be empty). */
static void ssi_diff_bags(ssi_prop_diff *d, const MDB_val *key, const ssi_bag *s, const ssi_bag *b)
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

static int ssi_key_cmp(const MDB_val *x, const MDB_val *y)
{
    size_t n = x->mv_size < y->mv_size ? x->mv_size : y->mv_size;
    int c = memcmp(x->mv_data, y->mv_data, n);
    return c ? c : (x->mv_size > y->mv_size) - (x->mv_size < y->mv_size);
}

typedef struct ssi_side {
    MDB_cursor *cur;
    MDB_val k, v;
    int rc; /* 0: positioned; MDB_NOTFOUND: done */
} ssi_side;

static int ssi_side_bag(ssi_side *s, int take, ss_arena *a, ssi_bag *bag)
{
    *bag = (ssi_bag){0};
    if (!take)
        return 0;
    int rc = ssi_props_decode(s->v.mv_data, s->v.mv_size, a, &bag->props, &bag->n);
    s->rc = rc ? rc : mdb_cursor_get(s->cur, &s->k, &s->v, MDB_NEXT);
    return rc;
}

/* Merge-join one table of both stores by key. */
static int ssi_diff_table(ssi_prop_diff *d, MDB_cursor *cs, MDB_cursor *cb)
{
    ssi_side s = {cs, {0}, {0}, 0}, b = {cb, {0}, {0}, 0};
    ss_arena *a = ss_arena_new();
    if (!a)
        return SS_ENOMEM;
    s.rc = mdb_cursor_get(cs, &s.k, &s.v, MDB_FIRST);
    b.rc = mdb_cursor_get(cb, &b.k, &b.v, MDB_FIRST);
    int rc = 0;
    while (!rc && (s.rc == 0 || b.rc == 0)) {
        int c = s.rc ? 1 : b.rc ? -1 : ssi_key_cmp(&s.k, &b.k);
        MDB_val key = c <= 0 ? s.k : b.k;
        ssi_bag sb, bb;
        if (!(rc = ssi_side_bag(&s, c <= 0, a, &sb)) && !(rc = ssi_side_bag(&b, c >= 0, a, &bb)))
            ssi_diff_bags(d, &key, &sb, &bb);
        ss_arena_reset(a);
        if (!rc && ((s.rc && s.rc != MDB_NOTFOUND) || (b.rc && b.rc != MDB_NOTFOUND)))
            rc = s.rc && s.rc != MDB_NOTFOUND ? s.rc : b.rc;
    }
    ss_arena_free(a);
    return rc;
}

static json_t *ssi_diff_props(ss_store *sset, MDB_txn *ts, ss_store *sbase, MDB_txn *tb, int alerts,
                              double tol, size_t max_listed, int *rc)
{
    ssi_prop_diff d = {json_object(), alerts ? "alert_id" : "locus_id", tol, max_listed};
    MDB_cursor *cs = NULL, *cb = NULL;
    MDB_dbi ds = alerts ? sset->alert_props : sset->locus_props;
    MDB_dbi db = alerts ? sbase->alert_props : sbase->locus_props;
    if (!(*rc = mdb_cursor_open(ts, ds, &cs)) && !(*rc = mdb_cursor_open(tb, db, &cb)))
        *rc = ssi_diff_table(&d, cs, cb);
    if (cs)
        mdb_cursor_close(cs);
    if (cb)
        mdb_cursor_close(cb);
    return d.by_name;
}

json_t *ssi_diff_report(const ssi_collect *set, ss_store *sset, const ssi_collect *base,
                        ss_store *sbase, double tolerance, size_t max_listed, ss_err *err)
{
    MDB_txn *ts = NULL, *tb = NULL;
    int rc = mdb_txn_begin(sset->env, NULL, MDB_RDONLY, &ts);
    if (!rc)
        rc = mdb_txn_begin(sbase->env, NULL, MDB_RDONLY, &tb);
    json_t *tags = rc ? NULL : ssi_diff_tags(set, base, &rc);
    json_t *lp = rc ? NULL : ssi_diff_props(sset, ts, sbase, tb, 0, tolerance, max_listed, &rc);
    json_t *ap = rc ? NULL : ssi_diff_props(sset, ts, sbase, tb, 1, tolerance, max_listed, &rc);
    if (ts)
        mdb_txn_abort(ts);
    if (tb)
        mdb_txn_abort(tb);
    if (rc) {
        json_decref(tags);
        json_decref(lp);
        json_decref(ap);
        ssi_store_fail(sset, err, rc, "comparing with the baseline");
        return NULL;
    }
    return json_pack("{s:o, s:{s:f, s:o, s:o}}", "tags", tags, "properties", "tolerance", tolerance,
                     "locus_properties", lp, "alert_properties", ap);
}
