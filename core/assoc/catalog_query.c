/*
 * Reading catalogs for searches (catalog.h): a catalog by name, the loci it matched (catalog_loci,
 * store format 6), whether a locus matched it, and cone searches over its rows through the zone
 * index the matcher uses (xmatch.c).
 */
#include "catalog_impl.h"

#include "sky.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A ready catalog of that name and kind, decoded into @p arena. */
static int ssi_ready_named(ss_store_txn *txn, const char *name, ss_catalog_kind kind,
                           ss_arena *arena, ssi_catalog *out)
{
    ssi_catalogs cats = {0};
    int rc = ssi_catalogs_load(txn, &cats), found = 0;
    for (size_t i = 0; !rc && i < cats.n && !found; i++)
        if (cats.items[i].kind == kind && !strcmp(cats.items[i].name, name)) {
            found = 1;
            rc = ssi_catalog_get(txn, cats.items[i].id, arena, out);
        }
    ssi_catalogs_free(&cats);
    if (rc)
        return rc == MDB_NOTFOUND ? SS_ECORRUPT : rc;
    return found ? 0 : SS_ENOTFOUND;
}

int ss_assoc_catalog_id(ss_store_txn *txn, const char *name, ss_catalog_kind kind, uint64_t *id)
{
    ss_arena *arena = ss_arena_new();
    ssi_catalog c;
    int rc = arena ? ssi_ready_named(txn, name, kind, arena, &c) : SS_ENOMEM;
    *id = rc ? 0 : c.id;
    ss_arena_free(arena);
    return rc;
}

int ss_assoc_locus_matched(ss_store_txn *txn, const char *locus_id, uint64_t catalog_id)
{
    unsigned char kb[SS_LOCUS_ID_LEN + 8];
    memcpy(kb, locus_id, SS_LOCUS_ID_LEN);
    ss_be64_put(kb + SS_LOCUS_ID_LEN, catalog_id);
    MDB_val k = {sizeof kb, kb}, v;
    int rc = ss_store_get(txn, SS_STORE_LOCUS_MATCHES, &k, &v);
    return rc == MDB_NOTFOUND ? SS_ENOTFOUND : rc;
}

/* ---- the loci of a catalog ---- */

struct ss_assoc_loci {
    ss_store_range *range; /* NULL: a store without matches, nothing to walk */
    uint64_t id;
    int indexed; /* catalog_loci; else every locus_matches entry, kept when its catalog is id */
};

int ss_assoc_loci_open(ss_store_txn *txn, uint64_t catalog_id, int descending, ss_assoc_loci **out)
{
    ss_store *s = ss_store_txn_store(txn);
    ss_assoc_loci *it = calloc(1, sizeof *it);
    *out = NULL;
    if (!it)
        return SS_ENOMEM;
    it->id = catalog_id;
    it->indexed = ss_store_has_table(s, SS_STORE_CATALOG_LOCI);
    unsigned char prefix[8];
    ss_be64_put(prefix, catalog_id);
    int rc = 0;
    if (it->indexed)
        rc = ss_store_range_open(txn, SS_STORE_CATALOG_LOCI, prefix, 8, descending, &it->range);
    else if (ss_store_has_table(s, SS_STORE_LOCUS_MATCHES))
        rc = ss_store_range_open(txn, SS_STORE_LOCUS_MATCHES, NULL, 0, descending, &it->range);
    if (rc) {
        free(it);
        return rc;
    }
    *out = it;
    return 0;
}

int ss_assoc_loci_indexed(const ss_assoc_loci *it)
{
    return it->indexed;
}

int ss_assoc_loci_next(ss_assoc_loci *it, char locus_id[SS_LOCUS_ID_LEN + 1])
{
    MDB_val k, v;
    int rc = 0;
    while (it->range && (rc = ss_store_range_next(it->range, &k, &v)) == 1) {
        const unsigned char *kp = k.mv_data;
        if (k.mv_size != SS_LOCUS_ID_LEN + 8)
            return SS_ECORRUPT;
        if (!it->indexed && ss_be64_get(kp + SS_LOCUS_ID_LEN) != it->id)
            continue;
        memcpy(locus_id, it->indexed ? kp + 8 : kp, SS_LOCUS_ID_LEN);
        locus_id[SS_LOCUS_ID_LEN] = '\0';
        return 1;
    }
    return it->range ? rc : 0;
}

void ss_assoc_loci_close(ss_assoc_loci *it)
{
    if (!it)
        return;
    ss_store_range_close(it->range);
    free(it);
}

/* ---- cone searches ---- */

typedef struct ssi_cone {
    ssi_hits hits;
    double radius_arcsec;
} ssi_cone;

static int ssi_cone_row(void *ctx, uint64_t row, double sep_arcsec, double row_radius)
{
    (void)row_radius;
    ssi_cone *c = ctx;
    return sep_arcsec <= c->radius_arcsec ? ssi_hits_add(&c->hits, row, sep_arcsec) : 0;
}

/* The nearest @p max rows found, with their columns, into @p arena. */
static int ssi_cone_rows(ss_store_txn *txn, const ssi_catalog *c, const ssi_hits *h, size_t max,
                         ss_arena *arena, ss_assoc_match **out, size_t *n)
{
    size_t want = h->n < max ? h->n : max;
    ss_assoc_match *m = ss_arena_alloc(arena, (want ? want : 1) * sizeof *m);
    if (!m)
        return SS_ENOMEM;
    for (size_t i = 0; i < want; i++) {
        const char *object;
        ss_value *vals;
        uint32_t nv;
        int rc = ssi_row_object(txn, c, h->items[i].row, arena, &object, &vals, &nv);
        if (rc)
            return rc;
        m[i] = (ss_assoc_match){c->name,         c->kind, h->items[i].row,
                                h->items[i].sep, object,  nv < c->ncols ? nv : c->ncols,
                                c->columns,      vals};
    }
    *out = m;
    *n = want;
    return 0;
}

int ss_assoc_catalog_cone(ss_store_txn *txn, const char *name, ss_catalog_kind kind, double ra,
                          double dec, double radius_arcsec, size_t max, ss_arena *arena,
                          ss_assoc_match **out, size_t *n, size_t *total)
{
    *out = NULL;
    *n = 0;
    if (total)
        *total = 0;
    if (!(ra >= 0 && ra < 360) || !(dec >= -90 && dec <= 90) || !(radius_arcsec > 0) ||
        radius_arcsec > SS_CATALOG_CONE_MAX_ARCSEC)
        return SS_EINVAL;
    ssi_catalog c;
    MDB_cursor *cur;
    int rc = ssi_ready_named(txn, name, kind, arena, &c);
    if (rc || (rc = ss_store_cursor_open(txn, SS_STORE_CATALOG_SKY, &cur)))
        return rc;
    ssi_cone cone = {.radius_arcsec = radius_arcsec};
    rc = ssi_catalog_sky_scan(cur, &c, ra, dec, radius_arcsec, ssi_cone_row, &cone);
    ss_store_cursor_close(cur);
    if (!rc) {
        ssi_hits_sort(&cone.hits);
        rc = ssi_cone_rows(txn, &c, &cone.hits, max, arena, out, n);
    }
    if (!rc && total)
        *total = cone.hits.n;
    free(cone.hits.items);
    return rc;
}
