#include "query.h"

#include "catalog_impl.h"

#include "alert.h"
#include "render.h"
#include "skyindex.h"
#include "store_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* NaN (an absent magnitude) is JSON null. */
json_t *ssi_num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* JSON strings must be UTF-8; bytes that are not (old catalogues, Latin-1 CSV) print as U+FFFD. */
static json_t *ssi_str(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    if (j)
        return j;
    char *fixed = malloc(n * 3 + 1);
    size_t m = 0;
    for (size_t i = 0; fixed && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            fixed[m++] = (char)c;
        } else {
            memcpy(fixed + m, "\xef\xbf\xbd", 3);
            m += 3;
        }
    }
    j = fixed ? json_stringn(fixed, m) : json_null();
    free(fixed);
    return j;
}

static json_t *ssi_cstr(const char *s)
{
    return ssi_str(s, strlen(s));
}

json_t *ssi_text_json(const char *s)
{
    return ssi_cstr(s);
}

static json_t *ssi_iso(double unix_time)
{
    char iso[32] = "";
    time_t t = (time_t)unix_time;
    struct tm tm;
    if (gmtime_r(&t, &tm))
        strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(iso);
}

static int ssi_read_begin(ss_store *s, MDB_txn **txn, ss_err *err)
{
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
    return rc ? ssi_store_fail(s, err, rc, "starting a read transaction") : 0;
}

int ssi_locus_load(ss_store *s, MDB_txn *txn, const char *id, ss_locus *l)
{
    MDB_val k = {SS_LOCUS_ID_LEN, (void *)id}, v;
    int rc = mdb_get(txn, s->loci, &k, &v);
    if (rc)
        return rc == MDB_NOTFOUND ? SS_ENOTFOUND : rc;
    memcpy(l->id, id, SS_LOCUS_ID_LEN + 1);
    return ssi_locus_decode(v.mv_data, v.mv_size, l);
}

static void ssi_set_objects(json_t *o, const ss_locus *l)
{
    for (uint32_t i = 0; i < l->nobjects; i++) {
        char key[SS_SURVEY_MAX + 16];
        snprintf(key, sizeof key, "%s_object_id", l->objects[i].survey);
        json_object_set_new(o, key, ssi_cstr(l->objects[i].object_id));
    }
}

json_t *ssi_value_json(const ss_value *v);

/* The broker's properties, then those filters wrote (@p extra, may be empty). */
static json_t *ssi_locus_properties(const ss_locus *l, const ss_prop *extra, uint32_t nextra)
{
    json_t *p = json_object();
    ss_arena *arena = ss_arena_new();
    ss_prop *props;
    uint32_t n;
    if (arena && ssi_locus_computed(l, arena, &props, &n) == 0)
        ssi_props_into_json(p, props, n);
    ssi_props_into_json(p, extra, nextra);
    ss_arena_free(arena);
    return p;
}

/* The one-line summary of `loci` and `cone`. */
json_t *ssi_locus_summary_json(const ss_locus *l)
{
    json_t *o = json_object();
    json_object_set_new(o, "locus_id", json_string(l->id));
    json_object_set_new(o, "ra", json_real(l->ra));
    json_object_set_new(o, "dec", json_real(l->dec));
    json_object_set_new(o, "num_alerts", json_integer(l->num_alerts));
    json_object_set_new(o, "num_mag_values", json_integer(l->num_mag_values));
    json_object_set_new(o, "oldest_alert_observation_time", ssi_num(l->oldest.mjd));
    json_object_set_new(o, "newest_alert_observation_time", ssi_num(l->newest.mjd));
    json_object_set_new(o, "newest_alert_magnitude", ssi_num(l->newest.mag));
    json_object_set_new(o, "brightest_alert_magnitude", ssi_num(l->brightest.mag));
    ssi_set_objects(o, l);
    return o;
}

json_t *ssi_value_json(const ss_value *v)
{
    switch (v->type) {
    case SS_TYPE_INT: return json_integer(v->u.i);
    case SS_TYPE_FLOAT: return ssi_num(v->u.f);
    case SS_TYPE_BOOL: return json_boolean(v->u.b);
    case SS_TYPE_STRING: return ssi_str(v->u.s.ptr, v->u.s.len);
    case SS_TYPE_NULL: break;
    }
    return json_null();
}

void ssi_props_into_json(json_t *obj, const ss_prop *props, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        json_object_set_new(obj, props[i].name, ssi_value_json(&props[i].value));
}

json_t *ssi_alert_json(const ss_alert *a)
{
    json_t *p = json_object();
    json_object_set_new(p, "ant_mjd", json_real(a->mjd));
    json_object_set_new(p, "ant_ra", ssi_num(a->ra));
    json_object_set_new(p, "ant_dec", ssi_num(a->dec));
    json_object_set_new(p, "ant_passband", ssi_cstr(a->passband));
    json_object_set_new(p, "ant_mag", ssi_num(a->mag));
    json_object_set_new(p, "ant_magerr", ssi_num(a->magerr));
    json_object_set_new(p, "ant_maglim", ssi_num(a->maglim));
    json_object_set_new(p, "ant_flux", ssi_num(a->flux));
    json_object_set_new(p, "ant_fluxerr", ssi_num(a->fluxerr));
    json_object_set_new(p, "ant_survey", ssi_cstr(a->survey));
    ssi_props_into_json(p, a->props, a->nprops);
    json_t *o = json_object();
    json_object_set_new(o, "alert_id", ssi_cstr(a->alert_id));
    json_object_set_new(o, "survey", ssi_cstr(a->survey));
    if (a->object_id)
        json_object_set_new(o, "object_id", ssi_cstr(a->object_id));
    json_object_set_new(o, "mjd", json_real(a->mjd));
    json_object_set_new(o, "kind", json_string(ss_alert_kind_name(a->kind)));
    json_object_set_new(o, "properties", p);
    return o;
}

/* The filter outputs stored under @p key in @p dbi (none for a format 1 store). */
static int ssi_bag(ss_store *s, MDB_txn *txn, MDB_dbi dbi, MDB_val *key, ss_arena *arena,
                   ss_prop **props, uint32_t *n)
{
    MDB_val v;
    *props = NULL;
    *n = 0;
    int rc = s->has_outputs ? mdb_get(txn, dbi, key, &v) : MDB_NOTFOUND;
    if (rc)
        return rc == MDB_NOTFOUND ? 0 : rc;
    return ssi_props_decode(v.mv_data, v.mv_size, arena, props, n);
}

static int ssi_locus_tags(ss_store *s, MDB_txn *txn, const char *id, json_t *arr)
{
    MDB_cursor *cur;
    int rc = s->has_outputs ? mdb_cursor_open(txn, s->tags, &cur) : MDB_NOTFOUND;
    if (rc)
        return rc == MDB_NOTFOUND ? 0 : rc;
    MDB_val k = {SS_LOCUS_ID_LEN, (void *)id}, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        ss_tag_record t;
        if (k.mv_size <= SS_LOCUS_ID_LEN || memcmp(k.mv_data, id, SS_LOCUS_ID_LEN) != 0)
            break;
        if ((rc = ssi_tag_decode(v.mv_data, v.mv_size, &t)))
            break;
        json_t *o = json_object();
        json_object_set_new(
            o, "tag", ssi_str((char *)k.mv_data + SS_LOCUS_ID_LEN, k.mv_size - SS_LOCUS_ID_LEN));
        json_object_set_new(o, "filter", ssi_cstr(t.filter));
        json_object_set_new(o, "mjd", json_real(t.mjd));
        json_object_set_new(o, "time", ssi_iso(t.time));
        json_array_append_new(arr, o);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The alerts of a locus in time order, through the locus_alerts index. */
static int ssi_locus_alerts(ss_store *s, MDB_txn *txn, const char *id, json_t *arr)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, s->locus_alerts, &cur);
    if (rc)
        return rc;
    ss_packet *pkt = ss_packet_new();
    MDB_val k = {SS_LOCUS_ID_LEN, (void *)id}, v;
    rc = pkt ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) : SS_ENOMEM;
    for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size <= SS_LOCUS_ID_LEN + 8 || memcmp(k.mv_data, id, SS_LOCUS_ID_LEN) != 0)
            break;
        MDB_val ak = {k.mv_size - SS_LOCUS_ID_LEN - 8, (char *)k.mv_data + SS_LOCUS_ID_LEN + 8}, av;
        char locus[SS_LOCUS_ID_LEN + 1];
        ss_packet_reset(pkt);
        ss_alert *a = ss_packet_add(pkt);
        if ((rc = mdb_get(txn, s->alerts, &ak, &av)) ||
            (rc = ssi_alert_decode(av.mv_data, av.mv_size, pkt, a, locus)))
            break;
        json_t *aj = ssi_alert_json(a);
        ss_prop *extra;
        uint32_t nextra;
        if ((rc = ssi_bag(s, txn, s->alert_props, &ak, pkt->arena, &extra, &nextra))) {
            json_decref(aj);
            break;
        }
        ssi_props_into_json(json_object_get(aj, "properties"), extra, nextra);
        json_array_append_new(arr, aj);
    }
    ss_packet_free(pkt);
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static json_t *ssi_match_json(const ssi_match *m)
{
    json_t *o = json_object(), *cols = json_object();
    json_object_set_new(o, m->kind == SS_CATALOG_KIND_WATCH ? "list" : "catalog",
                        ssi_cstr(m->catalog));
    if (m->kind == SS_CATALOG_KIND_WATCH) {
        json_object_set_new(o, "object", ssi_cstr(m->object_id));
        json_object_set_new(o, "separation_arcsec", json_real(m->separation_arcsec));
        json_decref(cols);
        return o;
    }
    json_object_set_new(o, "row", json_integer((json_int_t)m->row));
    json_object_set_new(o, "object_id", ssi_cstr(m->object_id));
    json_object_set_new(o, "separation_arcsec", json_real(m->separation_arcsec));
    for (uint32_t i = 0; i < m->ncols; i++)
        json_object_set_new(cols, m->names[i], ssi_value_json(&m->values[i]));
    json_object_set_new(o, "columns", cols);
    return o;
}

/* "catalog_matches" and "watch": the locus's matches, by catalog then separation. */
static int ssi_locus_matches(ss_store *s, MDB_txn *txn, const char *id, json_t *o)
{
    json_t *cats = json_array(), *watch = json_array();
    json_object_set_new(o, "catalog_matches", cats);
    json_object_set_new(o, "watch", watch);
    ss_arena *arena = ss_arena_new();
    ssi_match *m;
    size_t n;
    int rc = arena ? ssi_xmatch_read(s, txn, id, arena, &m, &n) : SS_ENOMEM;
    for (size_t i = 0; !rc && i < n; i++)
        json_array_append_new(m[i].kind == SS_CATALOG_KIND_WATCH ? watch : cats,
                              ssi_match_json(&m[i]));
    ss_arena_free(arena);
    return rc;
}

static int ssi_locus_full(ss_store *s, MDB_txn *txn, const ss_locus *l, json_t **out)
{
    ss_arena *arena = ss_arena_new();
    ss_prop *extra;
    uint32_t n;
    MDB_val k = {SS_LOCUS_ID_LEN, (void *)l->id};
    int rc = arena ? ssi_bag(s, txn, s->locus_props, &k, arena, &extra, &n) : SS_ENOMEM;
    json_t *o = json_object();
    json_object_set_new(o, "locus_id", json_string(l->id));
    json_object_set_new(o, "ra", json_real(l->ra));
    json_object_set_new(o, "dec", json_real(l->dec));
    json_object_set_new(o, "properties", ssi_locus_properties(l, rc ? NULL : extra, rc ? 0 : n));
    json_object_set_new(o, "alerts", json_array());
    json_object_set_new(o, "tags", json_array());
    ss_arena_free(arena);
    if (!rc && !(rc = ssi_locus_alerts(s, txn, l->id, json_object_get(o, "alerts"))) &&
        !(rc = ssi_locus_tags(s, txn, l->id, json_object_get(o, "tags"))))
        rc = ssi_locus_matches(s, txn, l->id, o);
    if (rc)
        json_decref(o);
    *out = rc ? NULL : o;
    return rc;
}

/* Resolve a survey object id to its locus; several loci make it ambiguous. */
static int ssi_resolve_object(ss_store *s, MDB_txn *txn, const char *objid, char *out, ss_err *err)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, s->objects, &cur);
    if (rc)
        return rc;
    size_t n = strlen(objid);
    MDB_val k = {n + 1, (void *)objid}, v; /* object id and its NUL: then every survey */
    char seen[512] = "";
    int found = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size <= n || memcmp(k.mv_data, objid, n + 1) != 0)
            break;
        if (v.mv_size != SS_LOCUS_ID_LEN || (found && memcmp(out, v.mv_data, SS_LOCUS_ID_LEN) == 0))
            continue;
        if (found++ == 0)
            memcpy(out, v.mv_data, SS_LOCUS_ID_LEN);
        size_t len = strlen(seen);
        snprintf(seen + len, sizeof seen - len, "%s%.*s", len ? ", " : "", SS_LOCUS_ID_LEN,
                 (const char *)v.mv_data);
    }
    mdb_cursor_close(cur);
    out[SS_LOCUS_ID_LEN] = '\0';
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    if (!found)
        return ss_err_set(err, SS_ENOTFOUND, "no locus or object '%s' in store %s", objid, s->path);
    if (found > 1)
        return ss_err_set(err, SS_EAMBIGUOUS, "object '%s' spans several loci: %s", objid, seen);
    return 0;
}

int ss_query_locus(ss_store *s, const char *id, json_t **out, ss_err *err)
{
    MDB_txn *txn;
    char locus_id[SS_LOCUS_ID_LEN + 1];
    ss_locus l;
    int rc = ssi_read_begin(s, &txn, err);
    if (rc)
        return rc;
    if (ss_locus_id_valid(id))
        memcpy(locus_id, id, sizeof locus_id);
    else if ((rc = ssi_resolve_object(s, txn, id, locus_id, err)))
        goto done;
    rc = ssi_locus_load(s, txn, locus_id, &l);
    if (rc == SS_ENOTFOUND) {
        rc = ss_err_set(err, rc, "no locus '%s' in store %s", id, s->path);
        goto done;
    }
    if (!rc)
        rc = ssi_locus_full(s, txn, &l, out);
    if (rc)
        ssi_store_fail(s, err, rc, "reading a locus");
done:
    mdb_txn_abort(txn);
    return rc;
}

typedef struct ssi_hit {
    char id[SS_LOCUS_ID_LEN + 1];
    double sep;
} ssi_hit;

typedef struct ssi_hits {
    ssi_hit *items;
    size_t n, cap;
} ssi_hits;

static int ssi_collect(void *ctx, const char *locus_id, double ra, double dec, double sep)
{
    (void)ra, (void)dec;
    ssi_hits *h = ctx;
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        ssi_hit *fresh = realloc(h->items, cap * sizeof *fresh);
        if (!fresh)
            return SS_ENOMEM;
        h->items = fresh;
        h->cap = cap;
    }
    memcpy(h->items[h->n].id, locus_id, SS_LOCUS_ID_LEN + 1);
    h->items[h->n++].sep = sep;
    return 0;
}

static int ssi_hit_cmp(const void *a, const void *b)
{
    const ssi_hit *x = a, *y = b;
    if (x->sep != y->sep)
        return x->sep < y->sep ? -1 : 1;
    return strcmp(x->id, y->id);
}

static void ssi_print(FILE *out, json_t *o)
{
    json_dumpf(o, out, SS_JSON_FLAGS);
    fputc('\n', out);
    json_decref(o);
}

static int ssi_print_hits(ss_store *s, MDB_txn *txn, const ssi_hits *h, FILE *out)
{
    for (size_t i = 0; i < h->n; i++) {
        ss_locus l;
        int rc = ssi_locus_load(s, txn, h->items[i].id, &l);
        if (rc)
            return rc == SS_ENOTFOUND ? SS_ECORRUPT : rc;
        json_t *o = ssi_locus_summary_json(&l);
        json_object_set_new(o, "separation_arcsec", json_real(h->items[i].sep * 3600.0));
        ssi_print(out, o);
    }
    return 0;
}

int ss_query_cone(ss_store *s, double ra, double dec, double radius_arcsec, FILE *out, ss_err *err)
{
    if (!(ra >= 0 && ra < 360) || !(dec >= -90 && dec <= 90) || !(radius_arcsec > 0) ||
        radius_arcsec > 180 * 3600.0)
        return ss_err_set(
            err, SS_EINVAL,
            "cone: need 0 <= RA < 360, -90 <= DEC <= 90, 0 < RADIUS <= 648000 arcsec");
    MDB_txn *txn;
    int rc = ssi_read_begin(s, &txn, err);
    if (rc)
        return rc;
    ssi_hits h = {0};
    rc = ssi_sky_scan(s, txn, ra, dec, radius_arcsec / 3600.0, ssi_collect, &h);
    if (!rc) {
        if (h.n)
            qsort(h.items, h.n, sizeof *h.items, ssi_hit_cmp);
        rc = ssi_print_hits(s, txn, &h, out);
    }
    free(h.items);
    mdb_txn_abort(txn);
    return rc ? ssi_store_fail(s, err, rc, "cone search") : 0;
}

int ss_query_loci(ss_store *s, FILE *out, ss_err *err)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = ssi_read_begin(s, &txn, err);
    if (rc)
        return rc;
    MDB_val k, v;
    if (!(rc = mdb_cursor_open(txn, s->loci, &cur))) {
        for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            ss_locus l;
            if (k.mv_size != SS_LOCUS_ID_LEN || ssi_locus_decode(v.mv_data, v.mv_size, &l)) {
                rc = SS_ECORRUPT;
                break;
            }
            memcpy(l.id, k.mv_data, SS_LOCUS_ID_LEN);
            l.id[SS_LOCUS_ID_LEN] = '\0';
            ssi_print(out, ssi_locus_summary_json(&l));
        }
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    return rc && rc != MDB_NOTFOUND ? ssi_store_fail(s, err, rc, "listing loci") : 0;
}

/* The newest entry of `ingests`, parsed; NULL when there is none. */
static json_t *ssi_last_ingest(ss_store *s, MDB_txn *txn)
{
    MDB_cursor *cur;
    MDB_val k, v;
    json_t *o = NULL;
    if (mdb_cursor_open(txn, s->ingests, &cur))
        return NULL;
    if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0)
        o = json_loadb(v.mv_data, v.mv_size, 0, NULL);
    mdb_cursor_close(cur);
    return o;
}

static json_t *ssi_stats_json(ss_store *s, const ssi_counters *c)
{
    json_t *reasons = json_object();
    for (int r = 0; r < SS_REASON__COUNT; r++)
        if (c->by_reason[r])
            json_object_set_new(reasons, ss_reason_name((ss_reason)r),
                                json_integer(c->by_reason[r]));
    json_t *o = json_object();
    json_object_set_new(o, "store", ssi_cstr(s->path));
    json_object_set_new(o, "format_version", json_integer(s->format));
    json_object_set_new(o, "radius_arcsec", json_real(ss_store_radius_arcsec(s)));
    if (ss_store_instance(s))
        json_object_set_new(o, "instance", json_integer(ss_store_instance(s)));
    json_object_set_new(o, "alerts", json_integer((json_int_t)c->alerts));
    json_object_set_new(o, "detections", json_integer((json_int_t)c->detections));
    json_object_set_new(o, "upper_limits", json_integer((json_int_t)c->upper_limits));
    json_object_set_new(o, "forced_photometry", json_integer((json_int_t)c->forced));
    json_object_set_new(o, "cutouts", json_integer((json_int_t)c->cutouts));
    json_object_set_new(o, "loci", json_integer((json_int_t)c->loci));
    json_object_set_new(o, "duplicates", json_integer((json_int_t)c->duplicates));
    json_object_set_new(o, "history_known", json_integer((json_int_t)c->history_known));
    json_object_set_new(o, "rejected", json_integer((json_int_t)c->rejected));
    json_object_set_new(o, "rejected_by_reason", reasons);
    json_object_set_new(o, "ingest_runs", json_integer((json_int_t)c->ingest_seq));
    return o;
}

int ss_query_stats(ss_store *s, json_t **out, ss_err *err)
{
    MDB_txn *txn;
    ssi_counters c;
    int rc = ssi_read_begin(s, &txn, err);
    if (rc)
        return rc;
    if ((rc = ssi_counters_load(s, txn, &c))) {
        mdb_txn_abort(txn);
        return ssi_store_fail(s, err, rc, "reading counters");
    }
    json_t *o = ssi_stats_json(s, &c);
    json_t *last = ssi_last_ingest(s, txn);
    json_object_set_new(o, "last_ingest", last ? last : json_null());
    MDB_envinfo info;
    MDB_stat st;
    if (!mdb_env_info(s->env, &info) && !mdb_env_stat(s->env, &st)) {
        json_object_set_new(o, "map_size_bytes", json_integer((json_int_t)info.me_mapsize));
        json_object_set_new(o, "used_bytes",
                            json_integer((json_int_t)((info.me_last_pgno + 1) * st.ms_psize)));
    }
    mdb_txn_abort(txn);
    *out = o;
    return 0;
}

static json_t *ssi_reject_json(const MDB_val *k, const MDB_val *v)
{
    ssi_rbuf r = {v->mv_data, (const unsigned char *)v->mv_data + v->mv_size, 0};
    uint32_t nreason, norigin, ndetail, nraw;
    if (ssi_rbuf_u8(&r) != SS_RECORD_VERSION)
        return NULL;
    const char *reason = ssi_rbuf_str(&r, &nreason);
    const char *origin = ssi_rbuf_str(&r, &norigin);
    uint64_t line = ssi_rbuf_u64(&r);
    const char *detail = ssi_rbuf_str(&r, &ndetail);
    const char *raw = ssi_rbuf_str(&r, &nraw);
    double when = ssi_rbuf_f64(&r);
    if (r.bad || !reason || !origin || !detail || k->mv_size != 8)
        return NULL;
    json_t *o = json_object();
    json_object_set_new(o, "seq", json_integer((json_int_t)ssi_get_be64(k->mv_data)));
    json_object_set_new(o, "reason", ssi_str(reason, nreason));
    json_object_set_new(o, "input", ssi_str(origin, norigin));
    json_object_set_new(o, "line", json_integer((json_int_t)line));
    json_object_set_new(o, "detail", ssi_str(detail, ndetail));
    json_object_set_new(o, "raw", raw ? ssi_str(raw, nraw) : json_null());
    json_object_set_new(o, "time", ssi_iso(when));
    return o;
}

int ss_query_rejected(ss_store *s, const char *reason, FILE *out, ss_err *err)
{
    if (reason && ss_reason_from_name(reason) < 0)
        return ss_err_set(err, SS_EINVAL, "unknown reason '%s'", reason);
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = ssi_read_begin(s, &txn, err);
    if (rc)
        return rc;
    if (!(rc = mdb_cursor_open(txn, s->rejected, &cur))) {
        for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            json_t *o = ssi_reject_json(&k, &v);
            if (!o) {
                rc = SS_ECORRUPT;
                break;
            }
            if (!reason || strcmp(json_string_value(json_object_get(o, "reason")), reason) == 0)
                ssi_print(out, o);
            else
                json_decref(o);
        }
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    return rc && rc != MDB_NOTFOUND ? ssi_store_fail(s, err, rc, "listing rejected records") : 0;
}

/* One line of `tagged`: the locus summary with the tag's record. */
static int ssi_print_tagged(ss_store *s, MDB_txn *txn, const char *tag, const char *locus_id,
                            FILE *out)
{
    ss_locus l;
    ss_tag_record t;
    unsigned char kb[SSI_KEY_MAX];
    MDB_val k = {ssi_key_tag(kb, locus_id, tag), kb}, v;
    int rc = ssi_locus_load(s, txn, locus_id, &l);
    if (!rc && !(rc = mdb_get(txn, s->tags, &k, &v)))
        rc = ssi_tag_decode(v.mv_data, v.mv_size, &t);
    if (rc)
        return rc == SS_ENOTFOUND || rc == MDB_NOTFOUND ? SS_ECORRUPT : rc;
    json_t *o = ssi_locus_summary_json(&l);
    json_object_set_new(o, "tag", ssi_cstr(tag));
    json_object_set_new(o, "filter", ssi_cstr(t.filter));
    json_object_set_new(o, "tagged_mjd", json_real(t.mjd));
    json_object_set_new(o, "tagged_time", ssi_iso(t.time));
    ssi_print(out, o);
    return 0;
}

int ss_query_tagged(ss_store *s, const char *tag, double since_mjd, FILE *out, ss_err *err)
{
    if (!*tag || strlen(tag) > SSI_TAG_MAX)
        return ss_err_set(err, SS_EINVAL, "tagged: bad tag '%s'", tag);
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = ssi_read_begin(s, &txn, err);
    if (rc || !s->has_outputs)
        return rc ? rc : (mdb_txn_abort(txn), 0);
    unsigned char kb[SSI_KEY_MAX];
    size_t tlen = strlen(tag);
    char zero[SS_LOCUS_ID_LEN + 1] = {0};
    MDB_val k = {ssi_key_tag_index(kb, tag, since_mjd > 0 ? since_mjd : 0, zero), kb}, v;
    if (!(rc = mdb_cursor_open(txn, s->tag_index, &cur))) {
        for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            const char *kp = k.mv_data;
            if (k.mv_size != tlen + 1 + 8 + SS_LOCUS_ID_LEN || memcmp(kp, tag, tlen + 1))
                break;
            char id[SS_LOCUS_ID_LEN + 1];
            memcpy(id, kp + tlen + 9, SS_LOCUS_ID_LEN);
            id[SS_LOCUS_ID_LEN] = '\0';
            if ((rc = ssi_print_tagged(s, txn, tag, id, out)))
                break;
        }
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    return rc && rc != MDB_NOTFOUND ? ssi_store_fail(s, err, rc, "listing tagged loci") : 0;
}
