/* Catalog records, row records and keys (store.h, format 5), and listing catalogs. */
#include "catalog_impl.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SSI_CATALOG_RECORD_VERSION 1
#define SSI_ROW_RECORD_VERSION     1

void ssi_key_catalog_row(unsigned char k[16], uint64_t id, uint64_t row)
{
    ss_be64_put(k, id);
    ss_be64_put(k + 8, row);
}

void ssi_key_catalog_sky(unsigned char k[SSI_CATSKY_KEY], uint64_t id, uint32_t zone,
                         uint64_t ra_key, uint64_t row)
{
    ss_be64_put(k, id);
    ss_be32_put(k + 8, zone);
    ss_be64_put(k + 12, ra_key);
    ss_be64_put(k + 20, row);
}

void ssi_key_catalog_locus(unsigned char k[SSI_CATLOCI_KEY], uint64_t id, const char *locus_id)
{
    ss_be64_put(k, id);
    memcpy(k + 8, locus_id, SS_LOCUS_ID_LEN);
}

void ssi_catalog_encode(const ssi_catalog *c, ss_wbuf *b)
{
    ss_wbuf_reset(b);
    ss_wbuf_u8(b, SSI_CATALOG_RECORD_VERSION);
    ss_wbuf_u8(b, (uint8_t)c->kind);
    ss_wbuf_u8(b, (uint8_t)c->state);
    ss_wbuf_str(b, c->name);
    ss_wbuf_u64(b, c->ready_seq);
    ss_wbuf_u64(b, c->rows);
    ss_wbuf_u64(b, c->bad);
    ss_wbuf_f64(b, c->radius_arcsec);
    ss_wbuf_str(b, c->radius_column);
    ss_wbuf_f64(b, c->radius_unit_arcsec);
    ss_wbuf_f64(b, c->max_radius_arcsec);
    ss_wbuf_f64(b, c->zone_height_deg);
    ss_wbuf_str(b, c->ra_column);
    ss_wbuf_str(b, c->dec_column);
    ss_wbuf_str(b, c->id_column);
    ss_wbuf_u32(b, (uint32_t)c->id_index);
    ss_wbuf_u32(b, c->ncols);
    for (uint32_t i = 0; i < c->ncols; i++)
        ss_wbuf_str(b, c->columns[i]);
    ss_wbuf_str(b, c->source);
    ss_wbuf_f64(b, c->loaded);
    ss_wbuf_str(b, c->webhook);
    ss_wbuf_u32(b, c->pid);
}

/* A string of the record, NUL-terminated in @p arena (NULL stays NULL). */
static const char *ssi_rstr(ss_rbuf *r, ss_arena *arena, int *nomem)
{
    uint32_t n;
    const char *s = ss_rbuf_str(r, &n);
    if (!s)
        return NULL;
    char *copy = ss_arena_strndup(arena, s, n);
    *nomem |= !copy;
    return copy;
}

int ssi_catalog_decode(const void *data, size_t len, uint64_t id, ss_arena *arena, ssi_catalog *c)
{
    ss_rbuf r = {data, (const unsigned char *)data + len, 0};
    int nomem = 0;
    memset(c, 0, sizeof *c);
    c->id = id;
    if (ss_rbuf_u8(&r) != SSI_CATALOG_RECORD_VERSION)
        return SS_ECORRUPT;
    c->kind = (ss_catalog_kind)ss_rbuf_u8(&r);
    c->state = (ssi_catalog_state)ss_rbuf_u8(&r);
    c->name = ssi_rstr(&r, arena, &nomem);
    c->ready_seq = ss_rbuf_u64(&r);
    c->rows = ss_rbuf_u64(&r);
    c->bad = ss_rbuf_u64(&r);
    c->radius_arcsec = ss_rbuf_f64(&r);
    c->radius_column = ssi_rstr(&r, arena, &nomem);
    c->radius_unit_arcsec = ss_rbuf_f64(&r);
    c->max_radius_arcsec = ss_rbuf_f64(&r);
    c->zone_height_deg = ss_rbuf_f64(&r);
    c->ra_column = ssi_rstr(&r, arena, &nomem);
    c->dec_column = ssi_rstr(&r, arena, &nomem);
    c->id_column = ssi_rstr(&r, arena, &nomem);
    c->id_index = (int32_t)ss_rbuf_u32(&r);
    c->ncols = ss_rbuf_u32(&r);
    if (r.bad || c->ncols > (size_t)(r.end - r.p) / 4)
        return SS_ECORRUPT;
    c->columns = ss_arena_alloc(arena, (c->ncols ? c->ncols : 1) * sizeof *c->columns);
    if (!c->columns)
        return SS_ENOMEM;
    for (uint32_t i = 0; i < c->ncols; i++)
        c->columns[i] = ssi_rstr(&r, arena, &nomem);
    c->source = ssi_rstr(&r, arena, &nomem);
    c->loaded = ss_rbuf_f64(&r);
    c->webhook = ssi_rstr(&r, arena, &nomem);
    c->pid = ss_rbuf_u32(&r);
    if (nomem)
        return SS_ENOMEM;
    if (r.bad || !c->name || c->zone_height_deg <= 0 || c->id_index >= (int32_t)c->ncols)
        return SS_ECORRUPT;
    return 0;
}

int ssi_catalog_get(ss_store_txn *txn, uint64_t id, ss_arena *arena, ssi_catalog *c)
{
    unsigned char kb[8];
    ss_be64_put(kb, id);
    MDB_val k = {sizeof kb, kb}, v;
    int rc = ss_store_get(txn, SS_STORE_CATALOGS, &k, &v);
    return rc ? rc : ssi_catalog_decode(v.mv_data, v.mv_size, id, arena, c);
}

void ssi_row_encode(const ss_value *vals, uint32_t n, ss_wbuf *b)
{
    ss_wbuf_reset(b);
    ss_wbuf_u8(b, SSI_ROW_RECORD_VERSION);
    ss_wbuf_u32(b, n);
    for (uint32_t i = 0; i < n; i++) {
        const ss_value *v = &vals[i];
        ss_wbuf_u8(b, (uint8_t)v->type);
        if (v->type == SS_TYPE_INT)
            ss_wbuf_u64(b, (uint64_t)v->u.i);
        else if (v->type == SS_TYPE_FLOAT)
            ss_wbuf_f64(b, v->u.f);
        else if (v->type == SS_TYPE_BOOL)
            ss_wbuf_u8(b, (uint8_t) !!v->u.b);
        else if (v->type == SS_TYPE_STRING)
            ss_wbuf_strn(b, v->u.s.ptr, v->u.s.len);
    }
}

int ssi_row_decode(const void *data, size_t len, ss_arena *arena, ss_value **vals, uint32_t *n)
{
    ss_rbuf r = {data, (const unsigned char *)data + len, 0};
    if (ss_rbuf_u8(&r) != SSI_ROW_RECORD_VERSION)
        return SS_ECORRUPT;
    uint32_t count = ss_rbuf_u32(&r);
    if (r.bad || count > len)
        return SS_ECORRUPT;
    ss_value *out = ss_arena_alloc(arena, (count ? count : 1) * sizeof *out);
    if (!out)
        return SS_ENOMEM;
    for (uint32_t i = 0; i < count && !r.bad; i++) {
        ss_value *v = &out[i];
        v->type = (ss_type)ss_rbuf_u8(&r);
        if (v->type == SS_TYPE_INT)
            v->u.i = (int64_t)ss_rbuf_u64(&r);
        else if (v->type == SS_TYPE_FLOAT)
            v->u.f = ss_rbuf_f64(&r);
        else if (v->type == SS_TYPE_BOOL)
            v->u.b = ss_rbuf_u8(&r);
        else if (v->type == SS_TYPE_STRING) {
            uint32_t sl;
            const char *s = ss_rbuf_str(&r, &sl);
            if (!s || !(v->u.s.ptr = ss_arena_strndup(arena, s, sl)))
                return s ? SS_ENOMEM : SS_ECORRUPT;
            v->u.s.len = sl;
        } else if (v->type != SS_TYPE_NULL)
            return SS_ECORRUPT;
    }
    if (r.bad)
        return SS_ECORRUPT;
    *vals = out;
    *n = count;
    return 0;
}

const char *ssi_value_text(const ss_value *v, ss_arena *arena)
{
    char text[64] = "";
    if (v->type == SS_TYPE_STRING)
        return ss_arena_strndup(arena, v->u.s.ptr, v->u.s.len);
    if (v->type == SS_TYPE_INT)
        snprintf(text, sizeof text, "%" PRId64, v->u.i);
    else if (v->type == SS_TYPE_FLOAT)
        snprintf(text, sizeof text, "%.17g", v->u.f);
    else if (v->type == SS_TYPE_BOOL)
        snprintf(text, sizeof text, "%s", v->u.b ? "true" : "false");
    return ss_arena_strndup(arena, text, strlen(text));
}

/* ---- listing ---- */

static const char *ssi_state_name(ssi_catalog_state s)
{
    return s == SSI_CAT_READY ? "ready" : s == SSI_CAT_LOADING ? "loading" : "dropping";
}

static json_t *ssi_catalog_json(const ssi_catalog *c)
{
    char loaded[32];
    time_t t = (time_t)c->loaded;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(loaded, sizeof loaded, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *cols = json_array();
    for (uint32_t i = 0; i < c->ncols; i++)
        json_array_append_new(cols, json_string(c->columns[i]));
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:I, s:I, s:f, s:s?, s:s?, s:s?, s:o, s:s?, s:s, s:s?}", "name",
                  c->name, "kind", c->kind == SS_CATALOG_KIND_WATCH ? "watch" : "catalog", "state",
                  ssi_state_name(c->state), "rows", (json_int_t)c->rows, "bad_rows",
                  (json_int_t)c->bad, "max_radius_arcsec", c->max_radius_arcsec, "ra_column",
                  c->ra_column, "dec_column", c->dec_column, "id_column", c->id_column, "columns",
                  cols, "source", c->source, "loaded", loaded, "webhook", c->webhook);
    if (o && c->radius_column) {
        json_object_set_new(o, "radius_column", json_string(c->radius_column));
        json_object_set_new(o, "radius_unit_arcsec", json_real(c->radius_unit_arcsec));
    } else if (o)
        json_object_set_new(o, "radius_arcsec", json_real(c->radius_arcsec));
    return o;
}

int ss_assoc_catalog_list(ss_store *s, ss_catalog_kind kind, json_t **out, ss_err *err)
{
    *out = NULL;
    json_t *arr = json_array();
    ss_arena *arena = ss_arena_new();
    ss_store_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    int rc = !arr || !arena ? SS_ENOMEM : 0;
    if (!rc && ss_store_has_table(s, SS_STORE_CATALOGS) &&
        !(rc = ss_store_txn_begin(s, SS_STORE_READ, &txn)))
        rc = ss_store_cursor_open(txn, SS_STORE_CATALOGS, &cur);
    MDB_val k, v;
    for (int c = cur ? ss_store_cursor_get(cur, &k, &v, MDB_FIRST) : MDB_NOTFOUND; !rc && c == 0;
         c = ss_store_cursor_get(cur, &k, &v, MDB_NEXT)) {
        ssi_catalog cat;
        if (k.mv_size != 8) {
            rc = SS_ECORRUPT;
            break;
        }
        ss_arena_reset(arena);
        if ((rc = ssi_catalog_decode(v.mv_data, v.mv_size, ss_be64_get(k.mv_data), arena, &cat)))
            break;
        json_t *o = cat.kind == kind ? ssi_catalog_json(&cat) : NULL;
        if (cat.kind == kind && (!o || json_array_append_new(arr, o)))
            rc = SS_ENOMEM;
    }
    if (cur)
        ss_store_cursor_close(cur);
    ss_store_txn_abort(txn);
    ss_arena_free(arena);
    if (rc) {
        json_decref(arr);
        return ss_store_fail(s, err, rc, "listing catalogs");
    }
    *out = arr;
    return 0;
}
