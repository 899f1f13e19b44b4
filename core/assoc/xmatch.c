/*
 * Matching loci against catalogs and watch lists, in the ingest's write transaction, and reading
 * the stored matches back for filters and queries. See catalog.h for the rules.
 */
#include "catalog_impl.h"

#include "json_text.h"
#include "sky.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SSI_MATCH_RECORD_VERSION 1

int ssi_catalogs_load(ss_store_txn *txn, ssi_catalogs *c)
{
    c->n = 0;
    c->ready_seq = 0;
    if (!ss_store_has_table(ss_store_txn_store(txn), SS_STORE_CATALOGS))
        return 0;
    if (!c->arena && !(c->arena = ss_arena_new()))
        return SS_ENOMEM;
    ss_arena_reset(c->arena);
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = ss_store_cursor_open(txn, SS_STORE_CATALOGS, &cur);
    if (rc)
        return rc;
    size_t cap = 0;
    for (rc = ss_store_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = ss_store_cursor_get(cur, &k, &v, MDB_NEXT)) {
        ssi_catalog cat;
        if (k.mv_size != 8) {
            rc = SS_ECORRUPT;
            break;
        }
        if ((rc = ssi_catalog_decode(v.mv_data, v.mv_size, ss_be64_get(k.mv_data), c->arena, &cat)))
            break;
        if (cat.state != SSI_CAT_READY)
            continue;
        if (c->n == cap) {
            cap = cap ? cap * 2 : 8;
            ssi_catalog *fresh = ss_arena_alloc(c->arena, cap * sizeof *fresh);
            if (!fresh) {
                rc = SS_ENOMEM;
                break;
            }
            if (c->n)
                memcpy(fresh, c->items, c->n * sizeof *fresh);
            c->items = fresh;
        }
        c->items[c->n++] = cat;
        c->ready_seq = cat.ready_seq > c->ready_seq ? cat.ready_seq : c->ready_seq;
    }
    ss_store_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

void ssi_catalogs_free(ssi_catalogs *c)
{
    ss_arena_free(c->arena);
    memset(c, 0, sizeof *c);
}

/* ---- searching one catalog ---- */

int ssi_hits_add(ssi_hits *h, uint64_t row, double sep)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        ssi_hit *fresh = realloc(h->items, cap * sizeof *fresh);
        if (!fresh)
            return SS_ENOMEM;
        h->items = fresh;
        h->cap = cap;
    }
    h->items[h->n++] = (ssi_hit){row, sep};
    return 0;
}

static int ssi_hit_cmp(const void *a, const void *b)
{
    const ssi_hit *x = a, *y = b;
    if (x->sep != y->sep)
        return x->sep < y->sep ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row;
}

void ssi_hits_sort(ssi_hits *h)
{
    if (h->n > 1)
        qsort(h->items, h->n, sizeof *h->items, ssi_hit_cmp);
}

/* One zone's RA interval of a catalog's index. */
static int ssi_scan_range(MDB_cursor *cur, const ssi_catalog *c, uint32_t zone,
                          const ss_ra_range *rr, double ra, double dec, ssi_row_fn fn, void *ctx)
{
    unsigned char start[SSI_CATSKY_KEY];
    ssi_key_catalog_sky(start, c->id, zone, ss_sky_ra_key(rr->lo), 0);
    uint64_t hi = ss_sky_ra_key(rr->hi);
    MDB_val k = {sizeof start, start}, v;
    int rc = ss_store_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    for (; rc == 0; rc = ss_store_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const unsigned char *kp = k.mv_data;
        if (k.mv_size != SSI_CATSKY_KEY || v.mv_size != 3 * sizeof(double))
            return SS_ECORRUPT;
        if (ss_be64_get(kp) != c->id || ss_be32_get(kp + 8) != zone || ss_be64_get(kp + 12) > hi)
            return 0;
        double p[3];
        memcpy(p, v.mv_data, sizeof p);
        double sep = ss_sky_separation_deg(ra, dec, p[0], p[1]) * SS_ARCSEC_PER_DEG;
        if ((rc = fn(ctx, ss_be64_get(kp + 20), sep, p[2])))
            return rc;
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int ssi_catalog_sky_scan(MDB_cursor *cur, const ssi_catalog *c, double ra, double dec,
                         double radius_arcsec, ssi_row_fn fn, void *ctx)
{
    /* a hair wider than asked, so that rounding never loses a row at the edge */
    double r = (radius_arcsec + 1e-6) / SS_ARCSEC_PER_DEG;
    ss_ra_range rr[2];
    int nr = ss_sky_cone_ra_ranges(ra, dec, r, rr), rc = 0;
    uint32_t zlo = ss_sky_zone_of(fmax(-90.0, dec - r), c->zone_height_deg);
    uint32_t zhi = ss_sky_zone_of(fmin(90.0, dec + r), c->zone_height_deg);
    for (uint32_t z = zlo; z <= zhi && !rc; z++)
        for (int i = 0; i < nr && !rc; i++)
            rc = ssi_scan_range(cur, c, z, &rr[i], ra, dec, fn, ctx);
    return rc;
}

/* A row matches when the locus is within the row's own radius. */
static int ssi_match_row(void *ctx, uint64_t row, double sep_arcsec, double radius_arcsec)
{
    return sep_arcsec <= radius_arcsec ? ssi_hits_add(ctx, row, sep_arcsec) : 0;
}

/* Every row of @p c whose radius holds (ra, dec), nearest first, at most SS_XMATCH_CAP. */
static int ssi_search(MDB_cursor *cur, const ssi_catalog *c, double ra, double dec, ssi_hits *h)
{
    h->n = 0;
    int rc = ssi_catalog_sky_scan(cur, c, ra, dec, c->max_radius_arcsec, ssi_match_row, h);
    if (rc)
        return rc;
    ssi_hits_sort(h);
    if (h->n > SS_XMATCH_CAP)
        h->n = SS_XMATCH_CAP;
    return 0;
}

/* ---- storing ---- */

static int ssi_put_matches(ssi_xmatch_ctx *x, const char *locus_id, uint64_t cat_id,
                           const ssi_hits *h)
{
    ss_wbuf *b = x->buf;
    ss_wbuf_reset(b);
    ss_wbuf_u8(b, SSI_MATCH_RECORD_VERSION);
    ss_wbuf_u32(b, (uint32_t)h->n);
    for (size_t i = 0; i < h->n; i++) {
        ss_wbuf_u64(b, h->items[i].row);
        ss_wbuf_f64(b, h->items[i].sep);
    }
    if (b->failed)
        return SS_ENOMEM;
    unsigned char kb[SS_LOCUS_ID_LEN + 8], rk[8 + SS_LOCUS_ID_LEN];
    memcpy(kb, locus_id, SS_LOCUS_ID_LEN);
    ss_be64_put(kb + SS_LOCUS_ID_LEN, cat_id);
    MDB_val k = {sizeof kb, kb}, v = {b->len, b->data};
    int rc = ss_store_put(x->txn, SS_STORE_LOCUS_MATCHES, &k, &v, 0);
    ssi_key_catalog_locus(rk, cat_id, locus_id);
    MDB_val ck = {sizeof rk, rk}, empty = {0, ""};
    return rc ? rc : ss_store_put(x->txn, SS_STORE_CATALOG_LOCI, &ck, &empty, 0);
}

int ssi_row_object(ss_store_txn *txn, const ssi_catalog *c, uint64_t row, ss_arena *arena,
                   const char **object, ss_value **vals, uint32_t *n)
{
    unsigned char kb[16];
    ssi_key_catalog_row(kb, c->id, row);
    MDB_val k = {sizeof kb, kb}, v;
    int rc = ss_store_get(txn, SS_STORE_CATALOG_ROWS, &k, &v);
    if (rc)
        return rc == MDB_NOTFOUND ? SS_ECORRUPT : rc;
    if ((rc = ssi_row_decode(v.mv_data, v.mv_size, arena, vals, n)))
        return rc;
    if (c->id_index >= 0 && (uint32_t)c->id_index < *n && (*vals)[c->id_index].type != SS_TYPE_NULL)
        *object = ssi_value_text(&(*vals)[c->id_index], arena);
    else {
        char text[32];
        snprintf(text, sizeof text, "%llu", (unsigned long long)row);
        *object = ss_arena_strndup(arena, text, strlen(text));
    }
    return *object ? 0 : SS_ENOMEM;
}

static json_t *ssi_hit_json(const ssi_catalog *c, const char *object, const ss_locus *l, double sep,
                            const ss_alert *a)
{
    json_t *o =
        json_pack("{s:s, s:o, s:s, s:f, s:f, s:f, s:o, s:o, s:f, s:o}", "list", c->name, "object",
                  ss_json_text(object), "locus_id", l->id, "ra", l->ra, "dec", l->dec,
                  "separation_arcsec", sep, "survey", ss_json_text(a->survey), "alert_id",
                  ss_json_text(a->alert_id), "mjd", a->mjd, "passband", ss_json_text(a->passband));
    if (o)
        json_object_set_new(o, "mag", isfinite(a->mag) ? json_real(a->mag) : json_null());
    if (o && c->webhook)
        json_object_set_new(o, "webhook", json_string(c->webhook));
    return o;
}

/* A new hit of a watch list: to the outbox, in the transaction of the alert that caused it. */
static int ssi_outbox_put(ssi_xmatch_ctx *x, const ssi_catalog *c, const ss_locus *l,
                          const ssi_hit *hit, const ss_alert *a)
{
    ss_arena *arena = ss_arena_new();
    const char *object;
    ss_value *vals;
    uint32_t n;
    int rc = arena ? ssi_row_object(x->txn, c, hit->row, arena, &object, &vals, &n) : SS_ENOMEM;
    json_t *o = rc ? NULL : ssi_hit_json(c, object, l, hit->sep, a);
    char *text = o ? json_dumps(o, SS_JSON_FLAGS) : NULL;
    json_decref(o);
    ss_arena_free(arena);
    if (!rc && !text)
        rc = SS_ENOMEM;
    if (rc)
        return rc;
    size_t nl = strlen(c->name), tl = strlen(text);
    unsigned char kb[8];
    ss_store_counters *cnt = ss_store_txn_counters(x->txn);
    if (!cnt) {
        free(text);
        return SS_ECORRUPT;
    }
    ss_be64_put(kb, cnt->outbox_seq++);
    MDB_val k = {sizeof kb, kb}, v = {nl + 1 + tl, NULL};
    if (!(rc = ss_store_put(x->txn, SS_STORE_WATCH_OUTBOX, &k, &v, MDB_RESERVE))) {
        memcpy(v.mv_data, c->name, nl + 1);
        memcpy((char *)v.mv_data + nl + 1, text, tl);
    }
    free(text);
    return rc;
}

static int ssi_match_one(ssi_xmatch_ctx *x, MDB_cursor *cur, const ssi_catalog *c,
                         const ss_locus *l, const ss_alert *trigger, ssi_hits *h)
{
    int rc = ssi_search(cur, c, l->ra, l->dec, h);
    if (rc || h->n == 0)
        return rc;
    if ((rc = ssi_put_matches(x, l->id, c->id, h)))
        return rc;
    for (size_t i = 0; c->kind == SS_CATALOG_KIND_WATCH && i < h->n && !rc; i++)
        rc = ssi_outbox_put(x, c, l, &h->items[i], trigger);
    return rc;
}

static int ssi_marker(ssi_xmatch_ctx *x, const char *locus_id, uint64_t *marker)
{
    MDB_val k = {SS_LOCUS_ID_LEN, (void *)locus_id}, v;
    int rc = ss_store_get(x->txn, SS_STORE_LOCUS_XMATCH, &k, &v);
    *marker = 0;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc || v.mv_size != 8)
        return rc ? rc : SS_ECORRUPT;
    memcpy(marker, v.mv_data, 8);
    return 0;
}

int ssi_xmatch_locus(ssi_xmatch_ctx *x, const ss_locus *l, int created, const ss_alert *trigger)
{
    const ssi_catalogs *cats = x->catalogs;
    uint64_t marker = 0;
    if (!cats || cats->n == 0 || isnan(l->ra))
        return 0;
    int rc = created ? 0 : ssi_marker(x, l->id, &marker);
    if (rc || marker >= cats->ready_seq)
        return rc;
    MDB_cursor *cur;
    if ((rc = ss_store_cursor_open(x->txn, SS_STORE_CATALOG_SKY, &cur)))
        return rc;
    ssi_hits h = {0};
    for (size_t i = 0; i < cats->n && !rc; i++)
        if (cats->items[i].ready_seq > marker)
            rc = ssi_match_one(x, cur, &cats->items[i], l, trigger, &h);
    ss_store_cursor_close(cur);
    free(h.items);
    if (rc)
        return rc;
    MDB_val k = {SS_LOCUS_ID_LEN, (void *)l->id}, v = {8, (void *)&cats->ready_seq};
    return ss_store_put(x->txn, SS_STORE_LOCUS_XMATCH, &k, &v, 0);
}

/* ---- reading ---- */

typedef struct ssi_match_list {
    ss_assoc_match *items;
    size_t n, cap;
} ssi_match_list;

static ss_assoc_match *ssi_match_next(ssi_match_list *m, ss_arena *arena)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        ss_assoc_match *fresh = ss_arena_alloc(arena, cap * sizeof *fresh);
        if (!fresh)
            return NULL;
        if (m->n)
            memcpy(fresh, m->items, m->n * sizeof *fresh);
        m->items = fresh;
        m->cap = cap;
    }
    return &m->items[m->n++];
}

/* The matches of one catalog, from its match list record. */
static int ssi_read_list(ss_store_txn *txn, const ssi_catalog *c, const MDB_val *v, ss_arena *arena,
                         ssi_match_list *m)
{
    ss_rbuf r = {v->mv_data, (const unsigned char *)v->mv_data + v->mv_size, 0};
    if (ss_rbuf_u8(&r) != SSI_MATCH_RECORD_VERSION)
        return SS_ECORRUPT;
    uint32_t n = ss_rbuf_u32(&r);
    int rc = 0;
    for (uint32_t i = 0; i < n && !r.bad && !rc; i++) {
        uint64_t row = ss_rbuf_u64(&r);
        double sep = ss_rbuf_f64(&r);
        ss_value *vals;
        uint32_t nv;
        const char *object;
        ss_assoc_match *mt = r.bad ? NULL : ssi_match_next(m, arena);
        if (r.bad)
            break;
        if (!mt)
            return SS_ENOMEM;
        if ((rc = ssi_row_object(txn, c, row, arena, &object, &vals, &nv)))
            break;
        *mt = (ss_assoc_match){c->name,    c->kind, row, sep, object, nv < c->ncols ? nv : c->ncols,
                               c->columns, vals};
    }
    return rc ? rc : r.bad ? SS_ECORRUPT : 0;
}

int ss_assoc_matches(ss_store_txn *txn, const char *locus_id, ss_arena *arena, ss_assoc_match **out,
                     size_t *n)
{
    ssi_match_list m = {0};
    *out = NULL;
    *n = 0;
    if (!ss_store_has_table(ss_store_txn_store(txn), SS_STORE_CATALOGS))
        return 0;
    MDB_cursor *cur;
    int rc = ss_store_cursor_open(txn, SS_STORE_LOCUS_MATCHES, &cur);
    if (rc)
        return rc;
    MDB_val k = {SS_LOCUS_ID_LEN, (void *)locus_id}, v;
    for (rc = ss_store_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = ss_store_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != SS_LOCUS_ID_LEN + 8 || memcmp(k.mv_data, locus_id, SS_LOCUS_ID_LEN))
            break;
        ssi_catalog c;
        uint64_t id = ss_be64_get((unsigned char *)k.mv_data + SS_LOCUS_ID_LEN);
        int got = ssi_catalog_get(txn, id, arena, &c);
        if (got == MDB_NOTFOUND || (!got && c.state != SSI_CAT_READY))
            continue; /* a dropped catalog: its matches are being removed */
        if ((rc = got) || (rc = ssi_read_list(txn, &c, &v, arena, &m)))
            break;
    }
    ss_store_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    *out = m.items;
    *n = m.n;
    return 0;
}
