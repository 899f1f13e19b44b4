#include "store_impl.h"

#include "sky.h"

#include <math.h>
#include <string.h>

int ssi_sky_put(ss_store *s, MDB_txn *txn, const char *locus_id, double ra, double dec)
{
    unsigned char kb[SSI_KEY_MAX];
    double pos[2] = {ra, dec};
    MDB_val k = {ssi_key_sky(kb, ss_sky_zone_of(dec, s->zone_height_deg), ra, locus_id), kb};
    MDB_val v = {sizeof pos, pos};
    return mdb_put(txn, s->sky, &k, &v, 0);
}

int ssi_sky_del(ss_store *s, MDB_txn *txn, const char *locus_id, double ra, double dec)
{
    unsigned char kb[SSI_KEY_MAX];
    MDB_val k = {ssi_key_sky(kb, ss_sky_zone_of(dec, s->zone_height_deg), ra, locus_id), kb};
    int rc = mdb_del(txn, s->sky, &k, NULL);
    return rc == MDB_NOTFOUND ? SS_ECORRUPT : rc;
}

/* Scan one zone between two RAs. */
static int ssi_sky_scan_range(MDB_cursor *cur, uint32_t zone, const ss_ra_range *rr, double ra,
                              double dec, double radius_deg, ss_store_sky_fn visit, void *ctx)
{
    unsigned char start[12];
    ss_be32_put(start, zone);
    ss_be64_put(start + 4, ss_sky_ra_key(rr->lo));
    uint64_t hi = ss_sky_ra_key(rr->hi);
    MDB_val k = {sizeof start, start}, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const unsigned char *kp = k.mv_data;
        if (k.mv_size != 12 + SS_LOCUS_ID_LEN || v.mv_size != 2 * sizeof(double))
            return SS_ECORRUPT;
        if (ss_be32_get(kp) != zone || ss_be64_get(kp + 4) > hi)
            return 0;
        double pos[2];
        memcpy(pos, v.mv_data, sizeof pos);
        double sep = ss_sky_separation_deg(ra, dec, pos[0], pos[1]);
        if (sep > radius_deg)
            continue;
        char id[SS_LOCUS_ID_LEN + 1];
        memcpy(id, kp + 12, SS_LOCUS_ID_LEN);
        id[SS_LOCUS_ID_LEN] = '\0';
        int stop = visit(ctx, id, pos[0], pos[1], sep);
        if (stop)
            return stop;
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int ss_store_sky_scan(ss_store_txn *t, double ra, double dec, double radius_deg,
                      ss_store_sky_fn visit, void *ctx)
{
    ss_store *s = t->s;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(t->txn, s->sky, &cur);
    if (rc)
        return rc;
    ss_ra_range rr[2];
    int nr = ss_sky_cone_ra_ranges(ra, dec, radius_deg, rr);
    uint32_t zlo = ss_sky_zone_of(fmax(-90.0, dec - radius_deg), s->zone_height_deg);
    uint32_t zhi = ss_sky_zone_of(fmin(90.0, dec + radius_deg), s->zone_height_deg);
    for (uint32_t z = zlo; z <= zhi && !rc; z++)
        for (int i = 0; i < nr && !rc; i++)
            rc = ssi_sky_scan_range(cur, z, &rr[i], ra, dec, radius_deg, visit, ctx);
    mdb_cursor_close(cur);
    return rc;
}

typedef struct ssi_nearest {
    char id[SS_LOCUS_ID_LEN + 1];
    double sep;
} ssi_nearest;

static int ssi_nearest_visit(void *ctx, const char *locus_id, double ra, double dec, double sep)
{
    (void)ra, (void)dec;
    ssi_nearest *n = ctx;
    if (sep < n->sep || (sep == n->sep && strcmp(locus_id, n->id) < 0)) {
        n->sep = sep;
        memcpy(n->id, locus_id, sizeof n->id);
    }
    return 0;
}

int ss_store_sky_nearest(ss_store_txn *t, double ra, double dec, double radius_deg,
                         char out[SS_LOCUS_ID_LEN + 1], double *sep_deg)
{
    ssi_nearest n = {.sep = INFINITY};
    int rc = ss_store_sky_scan(t, ra, dec, radius_deg, ssi_nearest_visit, &n);
    if (rc)
        return rc;
    if (isinf(n.sep))
        return SS_ENOTFOUND;
    memcpy(out, n.id, sizeof n.id);
    if (sep_deg)
        *sep_deg = n.sep;
    return 0;
}
