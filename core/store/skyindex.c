#include "store_impl.h"

#include "sky.h"

#include <math.h>
#include <string.h>

/* Format 8 cuts the sky into tiles of about SSI_SKY_TILE_DEG on a side and keys the index by tile
 * first, then zone and RA inside it. Keyed by zone alone, the loci of one field (a survey's visit,
 * a few degrees across) were spread over every page of thousands of zones, each zone a ring round
 * the whole sky: a batch rewrote a page per locus. Tiled, they share a few pages. A band of tiles
 * is a whole number of zones, so a zone lies in one band; a band has as many tiles as fit along
 * its edge nearest the equator. */
#define SSI_SKY_TILE_DEG   1.0
#define SSI_SKY_HEAD_TILED 16 /* tile u32, zone u32, RA u64 */

uint32_t ssi_sky_band_zones(double zone_height_deg)
{
    double n = floor(SSI_SKY_TILE_DEG / zone_height_deg);
    return n < 1 ? 1 : (uint32_t)n;
}

static uint32_t ssi_band_tiles(const ss_store *s, uint32_t band)
{
    double h = s->sky_band_zones * s->zone_height_deg;
    double lo = -90.0 + band * h, hi = lo + h;
    double edge = lo <= 0 && hi >= 0 ? 0 : fmin(fabs(lo), fabs(hi));
    double n = floor(360.0 * cos(fmin(edge, 90.0) * M_PI / 180.0) / h);
    return n < 1 ? 1 : n > 65535 ? 65535 : (uint32_t)n;
}

/* The tile's number within its band, for an RA in [0, 360]. */
static uint32_t ssi_tile_index(uint32_t ntiles, double ra)
{
    double i = floor(ra / 360.0 * ntiles);
    return i < 0 ? 0 : i >= ntiles ? ntiles - 1 : (uint32_t)i;
}

static uint32_t ssi_tile(const ss_store *s, uint32_t zone, double ra)
{
    uint32_t band = zone / s->sky_band_zones;
    return band << 16 | ssi_tile_index(ssi_band_tiles(s, band), ra);
}

/* Where a scan seeks: the tile (when tiled), the zone and an RA key. @return the head's length. */
static size_t ssi_seek_key(const ss_store *s, unsigned char *k, uint32_t tile, uint32_t zone,
                           uint64_t ra_key)
{
    size_t n = s->sky_band_zones ? 4 : 0;
    if (n)
        ss_be32_put(k, tile);
    ss_be32_put(k + n, zone);
    ss_be64_put(k + n + 4, ra_key);
    return n + 12;
}

static size_t ssi_sky_head(const ss_store *s, unsigned char *k, uint32_t zone, double ra)
{
    uint32_t tile = s->sky_band_zones ? ssi_tile(s, zone, ra) : 0;
    return ssi_seek_key(s, k, tile, zone, ss_sky_ra_key(ra));
}

size_t ssi_key_sky(const ss_store *s, unsigned char *k, double ra, double dec, const char *locus_id)
{
    size_t n = ssi_sky_head(s, k, ss_sky_zone_of(dec, s->zone_height_deg), ra);
    memcpy(k + n, locus_id, SS_LOCUS_ID_LEN);
    return n + SS_LOCUS_ID_LEN;
}

int ssi_sky_put(ss_store *s, MDB_txn *txn, const char *locus_id, double ra, double dec)
{
    unsigned char kb[SSI_KEY_MAX];
    double pos[2] = {ra, dec};
    MDB_val k = {ssi_key_sky(s, kb, ra, dec, locus_id), kb};
    MDB_val v = {sizeof pos, pos};
    return mdb_put(txn, s->sky, &k, &v, 0);
}

static int ssi_sky_del(ss_store *s, MDB_txn *txn, const char *locus_id, double ra, double dec)
{
    unsigned char kb[SSI_KEY_MAX];
    MDB_val k = {ssi_key_sky(s, kb, ra, dec, locus_id), kb};
    int rc = mdb_del(txn, s->sky, &k, NULL);
    return rc == MDB_NOTFOUND ? SS_ECORRUPT : rc;
}

int ssi_sky_layout(ss_store *s, MDB_txn *txn)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn, s->sky, &cur);
    if (rc)
        return rc;
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    int tiled = rc ? s->format >= 8 : k.mv_size == SSI_SKY_HEAD_TILED + SS_LOCUS_ID_LEN;
    s->sky_band_zones = tiled ? ssi_sky_band_zones(s->zone_height_deg) : 0;
    return 0;
}

static int ssi_sky_of(ss_store *s, MDB_txn *txn, const char *id, const MDB_val *v)
{
    ss_locus l;
    if (ssi_locus_decode(v->mv_data, v->mv_size, &l))
        return SS_ECORRUPT;
    return ssi_sky_put(s, txn, id, l.ra, l.dec);
}

int ssi_sky_rebuild(ss_store *s, MDB_txn *txn)
{
    s->sky_band_zones = ssi_sky_band_zones(s->zone_height_deg);
    int rc = mdb_drop(txn, s->sky, 0);
    return rc ? rc : ssi_loci_walk(s, txn, ssi_sky_of);
}

typedef struct ssi_cone {
    ss_store_txn *t;
    double ra, dec, radius_deg; /* radius_deg: the cone asked for, before the slack */
    ss_store_sky_fn visit;
    void *ctx;
    const char *find; /* a locus id: its entry's position goes to at[], the scan stops */
    int found;
    double at[2];
    uint64_t lo, hi; /* the RA interval being scanned, as keys */
} ssi_cone;

/* An entry of the widened cone: the locus is visited if its own position is in the cone. */
static int ssi_sky_visit(ssi_cone *c, const unsigned char *id_bytes, const MDB_val *v)
{
    double pos[2];
    memcpy(pos, v->mv_data, sizeof pos);
    if (c->find) {
        if (memcmp(id_bytes, c->find, SS_LOCUS_ID_LEN))
            return 0;
        memcpy(c->at, pos, sizeof pos);
        return c->found = 1;
    }
    if (ss_sky_separation_deg(c->ra, c->dec, pos[0], pos[1]) > c->radius_deg + SSI_SKY_SLACK_DEG)
        return 0;
    ss_locus l;
    char id[SS_LOCUS_ID_LEN + 1];
    memcpy(id, id_bytes, SS_LOCUS_ID_LEN);
    id[SS_LOCUS_ID_LEN] = '\0';
    int rc = ss_store_locus_get(c->t, id, &l);
    if (rc)
        return rc == SS_ENOTFOUND ? SS_ECORRUPT : rc;
    double sep = ss_sky_separation_deg(c->ra, c->dec, l.ra, l.dec);
    return sep > c->radius_deg ? 0 : c->visit(c->ctx, id, l.ra, l.dec, sep);
}

/* Zones @p zfirst to @p zlast of one tile (or of the whole index, not tiled), between the cone's
 * two RAs: a skip scan. Inside the interval it reads on; out of it, it seeks the interval in the
 * zone or the next one. A small cone costs a seek per zone, a large one reads whole tiles
 * through. */
static int ssi_sky_scan_tile(const ss_store *s, MDB_cursor *cur, uint32_t tile, uint32_t zfirst,
                             uint32_t zlast, ssi_cone *c)
{
    unsigned char seek[SSI_SKY_HEAD_TILED];
    size_t head = ssi_seek_key(s, seek, tile, zfirst, c->lo), zat = head - 12;
    MDB_val k = {head, seek}, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0) {
        const unsigned char *kp = k.mv_data;
        if (k.mv_size != head + SS_LOCUS_ID_LEN || v.mv_size != 2 * sizeof(double))
            return SS_ECORRUPT;
        uint32_t zone = ss_be32_get(kp + zat);
        uint64_t ra = ss_be64_get(kp + zat + 4);
        if ((zat && ss_be32_get(kp) != tile) || zone > zlast)
            return 0;
        if (ra < c->lo || ra > c->hi) {
            if (ra > c->hi && zone == zlast)
                return 0;
            k = (MDB_val){ssi_seek_key(s, seek, tile, zone + (ra > c->hi), c->lo), seek};
            rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
            continue;
        }
        int stop = ssi_sky_visit(c, kp + head, &v);
        if (stop)
            return stop;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Zones @p zlo to @p zhi between one interval's RAs: band by band, tile by tile when tiled. An
 * entry's tile and its RA come from the same division, so scanning every tile the interval's ends
 * fall in loses no RA to rounding at a tile's edge. */
static int ssi_sky_scan_interval(const ss_store *s, MDB_cursor *cur, uint32_t zlo, uint32_t zhi,
                                 const ss_ra_range *rr, ssi_cone *c)
{
    c->lo = ss_sky_ra_key(rr->lo), c->hi = ss_sky_ra_key(rr->hi);
    uint32_t bz = s->sky_band_zones;
    if (!bz)
        return ssi_sky_scan_tile(s, cur, 0, zlo, zhi, c);
    int rc = 0;
    for (uint32_t band = zlo / bz; band <= zhi / bz && !rc; band++) {
        uint32_t zf = band * bz > zlo ? band * bz : zlo;
        uint32_t zl = band * bz + bz - 1 < zhi ? band * bz + bz - 1 : zhi;
        uint32_t ntiles = ssi_band_tiles(s, band);
        uint32_t last = ssi_tile_index(ntiles, rr->hi);
        for (uint32_t i = ssi_tile_index(ntiles, rr->lo); i <= last && !rc; i++)
            rc = ssi_sky_scan_tile(s, cur, band << 16 | i, zf, zl, c);
    }
    return rc;
}

/* The index's entries within @p wide degrees of the cone's centre, handed to ssi_sky_visit(). */
static int ssi_sky_scan_wide(ssi_cone *c, double wide)
{
    ss_store *s = c->t->s;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(c->t->txn, s->sky, &cur);
    if (rc)
        return rc;
    ss_ra_range rr[2];
    int nr = ss_sky_cone_ra_ranges(c->ra, c->dec, wide, rr);
    uint32_t zlo = ss_sky_zone_of(fmax(-90.0, c->dec - wide), s->zone_height_deg);
    uint32_t zhi = ss_sky_zone_of(fmin(90.0, c->dec + wide), s->zone_height_deg);
    for (int i = 0; i < nr && !rc; i++)
        rc = ssi_sky_scan_interval(s, cur, zlo, zhi, &rr[i], c);
    mdb_cursor_close(cur);
    return rc;
}

int ss_store_sky_scan(ss_store_txn *t, double ra, double dec, double radius_deg,
                      ss_store_sky_fn visit, void *ctx)
{
    ssi_cone c = {
        .t = t, .ra = ra, .dec = dec, .radius_deg = radius_deg, .visit = visit, .ctx = ctx};
    return ssi_sky_scan_wide(&c, radius_deg + SSI_SKY_SLACK_DEG);
}

int ssi_sky_find(ss_store_txn *t, const char *locus_id, double ra, double dec, double at[2])
{
    /* twice the slack: the entry is within it, whatever the rounding of the separations */
    ssi_cone c = {.t = t, .ra = ra, .dec = dec, .find = locus_id};
    int rc = ssi_sky_scan_wide(&c, 2 * SSI_SKY_SLACK_DEG);
    if (c.found)
        memcpy(at, c.at, sizeof c.at);
    return c.found ? 0 : rc ? rc : SS_ENOTFOUND;
}

int ss_store_sky_move(ss_store_txn *t, const char *locus_id, double old_ra, double old_dec,
                      double ra, double dec)
{
    double at[2];
    if (isnan(old_ra))
        return ssi_sky_put(t->s, t->txn, locus_id, ra, dec);
    int rc = ssi_sky_find(t, locus_id, old_ra, old_dec, at);
    if (rc)
        return rc == SS_ENOTFOUND ? SS_ECORRUPT : rc;
    if (ss_sky_separation_deg(at[0], at[1], ra, dec) <= SSI_SKY_SLACK_DEG)
        return 0;
    rc = ssi_sky_del(t->s, t->txn, locus_id, at[0], at[1]);
    return rc ? rc : ssi_sky_put(t->s, t->txn, locus_id, ra, dec);
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
