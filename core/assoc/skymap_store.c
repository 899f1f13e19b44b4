/*
 * Sky maps in the store (skymap.h): one record per event in the store's meta table, under the
 * key "gwmap" NUL id, so that a map commits or rolls back with whatever loaded it and needs no
 * table of its own (no store format change).
 *
 * Record (little-endian, as the store's other records on the machines skysieve runs on):
 *   "SSGW", u32 version (1), info (id[64], mjd, distmean, diststd, area90, loaded, then the
 *   notice's far, p_bns, p_nsbh, p_bbh, p_terrestrial, has_ns, has_remnant: f64;
 *   has_distance, max_order: u32), u64 npix, then per pixel lo u64, order u32, density, level,
 *   distmu, distsigma, distnorm f64, in nested order. Levels are stored, so a read is a copy.
 */
#include "skymap_impl.h"
#include "store_table.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SSI_GW_PREFIX     "gwmap"
#define SSI_GW_PREFIX_LEN 6 /* with its NUL */
#define SSI_GW_VERSION    1u
#define SSI_GW_HEAD       (4 + 4 + SS_SKYMAP_ID_MAX + 12 * 8 + 2 * 4 + 8)
#define SSI_GW_PIX        (8 + 4 + 5 * 8)

/* Changed by every put and remove, so that an association set knows when to read the maps. */
static const char ssi_gw_gen_key[] = "gwgen";

static int ssi_gw_bump(ss_store_txn *txn)
{
    uint64_t gen = 0;
    MDB_val k = {sizeof ssi_gw_gen_key - 1, (void *)ssi_gw_gen_key}, v;
    if (ss_store_get(txn, SS_STORE_META, &k, &v) == 0 && v.mv_size == sizeof gen)
        memcpy(&gen, v.mv_data, sizeof gen);
    gen++;
    v = (MDB_val){sizeof gen, &gen};
    return ss_store_put(txn, SS_STORE_META, &k, &v, 0);
}

uint64_t ssi_skymap_generation(ss_store_txn *txn)
{
    uint64_t gen = 0;
    MDB_val k = {sizeof ssi_gw_gen_key - 1, (void *)ssi_gw_gen_key}, v;
    if (ss_store_get(txn, SS_STORE_META, &k, &v) == 0 && v.mv_size == sizeof gen)
        memcpy(&gen, v.mv_data, sizeof gen);
    return gen;
}

static size_t ssi_gw_key(char *key, const char *id)
{
    size_t n = strlen(id);
    memcpy(key, SSI_GW_PREFIX, SSI_GW_PREFIX_LEN);
    memcpy(key + SSI_GW_PREFIX_LEN, id, n);
    return SSI_GW_PREFIX_LEN + n;
}

static unsigned char *ssi_put(unsigned char *p, const void *v, size_t n)
{
    memcpy(p, v, n);
    return p + n;
}

static const unsigned char *ssi_get(const unsigned char *p, void *v, size_t n)
{
    memcpy(v, p, n);
    return p + n;
}

static void ssi_gw_encode(const ss_assoc_skymap *m, unsigned char *p)
{
    const ss_assoc_skymap_info *in = &m->info;
    uint32_t version = SSI_GW_VERSION, hd = (uint32_t)in->has_distance,
             mo = (uint32_t)in->max_order;
    uint64_t npix = in->npix;
    p = ssi_put(p, "SSGW", 4);
    p = ssi_put(p, &version, 4);
    p = ssi_put(p, in->id, SS_SKYMAP_ID_MAX);
    const ss_assoc_gw_class *c = &in->cls;
    double head[12] = {in->mjd,    in->distmean,     in->diststd, in->area90,
                       in->loaded, c->far,           c->p_bns,    c->p_nsbh,
                       c->p_bbh,   c->p_terrestrial, c->has_ns,   c->has_remnant};
    p = ssi_put(p, head, sizeof head);
    p = ssi_put(p, &hd, 4);
    p = ssi_put(p, &mo, 4);
    p = ssi_put(p, &npix, 8);
    for (size_t i = 0; i < in->npix; i++) {
        const ssi_skypix *x = &m->pix[i];
        uint32_t order = (uint32_t)x->order;
        double v[5] = {x->density, x->level, x->distmu, x->distsigma, x->distnorm};
        p = ssi_put(p, &x->lo, 8);
        p = ssi_put(p, &order, 4);
        p = ssi_put(p, v, sizeof v);
    }
}

/* The header of a record into @p info. @return the pixel count, or -1 when damaged. */
static long long ssi_gw_head(const unsigned char *p, size_t len, ss_assoc_skymap_info *info)
{
    uint32_t version, hd, mo;
    uint64_t npix;
    double head[12];
    if (len < SSI_GW_HEAD || memcmp(p, "SSGW", 4))
        return -1;
    p = ssi_get(p + 4, &version, 4);
    p = ssi_get(p, info->id, SS_SKYMAP_ID_MAX);
    p = ssi_get(p, head, sizeof head);
    p = ssi_get(p, &hd, 4);
    p = ssi_get(p, &mo, 4);
    ssi_get(p, &npix, 8);
    info->id[SS_SKYMAP_ID_MAX - 1] = 0;
    if (version != SSI_GW_VERSION || npix > (len - SSI_GW_HEAD) / SSI_GW_PIX ||
        len != SSI_GW_HEAD + npix * SSI_GW_PIX)
        return -1;
    info->mjd = head[0], info->distmean = head[1], info->diststd = head[2];
    info->area90 = head[3], info->loaded = head[4];
    info->cls =
        (ss_assoc_gw_class){head[5], head[6], head[7], head[8], head[9], head[10], head[11]};
    info->has_distance = (int)hd, info->max_order = (int)mo, info->npix = (size_t)npix;
    return (long long)npix;
}

int ss_assoc_skymap_put(ss_store_txn *txn, ss_assoc_skymap *m)
{
    char key[SSI_GW_PREFIX_LEN + SS_SKYMAP_ID_MAX];
    if (!m->info.id[0])
        return SS_EINVAL;
    m->info.loaded = (double)time(NULL);
    MDB_val k = {ssi_gw_key(key, m->info.id), key};
    MDB_val v = {SSI_GW_HEAD + m->info.npix * SSI_GW_PIX, NULL};
    int rc = ss_store_put(txn, SS_STORE_META, &k, &v, MDB_RESERVE);
    if (rc == 0)
        ssi_gw_encode(m, v.mv_data);
    return rc ? rc : ssi_gw_bump(txn);
}

int ssi_skymap_decode(const void *data, size_t len, ss_assoc_skymap **out)
{
    ss_assoc_skymap_info info;
    long long n = ssi_gw_head(data, len, &info);
    ss_assoc_skymap *m = n < 0 ? NULL : ssi_skymap_alloc((size_t)n);
    if (!m)
        return n < 0 ? SS_ECORRUPT : SS_ENOMEM;
    m->info = info;
    const unsigned char *p = (const unsigned char *)data + SSI_GW_HEAD;
    for (size_t i = 0; i < (size_t)n; i++) {
        ssi_skypix *x = &m->pix[i];
        uint32_t order;
        double d[5];
        p = ssi_get(p, &x->lo, 8);
        p = ssi_get(p, &order, 4);
        p = ssi_get(p, d, sizeof d);
        x->order = (int)order;
        x->density = d[0], x->level = d[1], x->distmu = d[2], x->distsigma = d[3];
        x->distnorm = d[4];
    }
    *out = m;
    return 0;
}

int ss_assoc_skymap_get(ss_store_txn *txn, const char *id, ss_assoc_skymap **out)
{
    char key[SSI_GW_PREFIX_LEN + SS_SKYMAP_ID_MAX];
    if (strlen(id) >= SS_SKYMAP_ID_MAX)
        return SS_ENOTFOUND;
    MDB_val k = {ssi_gw_key(key, id), key}, v;
    int rc = ss_store_get(txn, SS_STORE_META, &k, &v);
    if (rc)
        return rc == MDB_NOTFOUND ? SS_ENOTFOUND : rc;
    return ssi_skymap_decode(v.mv_data, v.mv_size, out);
}

/* Calls @p fn with each stored record's bytes, in id order; a non-zero return stops the walk. */
static int ssi_gw_records(ss_store_txn *txn, int (*fn)(const MDB_val *v, void *arg), void *arg)
{
    ss_store_range *r;
    int rc = ss_store_range_open(txn, SS_STORE_META, SSI_GW_PREFIX, SSI_GW_PREFIX_LEN, 0, &r);
    if (rc)
        return rc == MDB_NOTFOUND ? 0 : rc;
    MDB_val k, v;
    int stop = 0;
    while (!stop && (rc = ss_store_range_next(r, &k, &v)) == 1)
        stop = fn(&v, arg);
    ss_store_range_close(r);
    return stop ? stop : rc == 1 ? 0 : rc;
}

typedef struct ssi_gw_walk {
    int (*map_fn)(ss_assoc_skymap *m, void *arg);
    int (*info_fn)(const ss_assoc_skymap_info *info, void *arg);
    void *arg;
} ssi_gw_walk;

static int ssi_gw_map_record(const MDB_val *v, void *arg)
{
    ssi_gw_walk *w = arg;
    ss_assoc_skymap *m;
    int rc = ssi_skymap_decode(v->mv_data, v->mv_size, &m);
    return rc ? rc : w->map_fn(m, w->arg);
}

static int ssi_gw_info_record(const MDB_val *v, void *arg)
{
    ssi_gw_walk *w = arg;
    ss_assoc_skymap_info info;
    return ssi_gw_head(v->mv_data, v->mv_size, &info) < 0 ? SS_ECORRUPT : w->info_fn(&info, w->arg);
}

int ssi_skymap_each_map(ss_store_txn *txn, int (*fn)(ss_assoc_skymap *m, void *arg), void *arg)
{
    ssi_gw_walk w = {fn, NULL, arg};
    return ssi_gw_records(txn, ssi_gw_map_record, &w);
}

int ss_assoc_skymap_remove(ss_store_txn *txn, const char *id)
{
    char key[SSI_GW_PREFIX_LEN + SS_SKYMAP_ID_MAX];
    if (strlen(id) >= SS_SKYMAP_ID_MAX)
        return SS_ENOTFOUND;
    MDB_val k = {ssi_gw_key(key, id), key};
    int rc = ss_store_del(txn, SS_STORE_META, &k);
    return rc == MDB_NOTFOUND ? SS_ENOTFOUND : rc ? rc : ssi_gw_bump(txn);
}

int ss_assoc_skymap_each(ss_store_txn *txn, int (*fn)(const ss_assoc_skymap_info *info, void *arg),
                         void *arg)
{
    ssi_gw_walk w = {NULL, fn, arg};
    return ssi_gw_records(txn, ssi_gw_info_record, &w);
}

/* ---- association without decoding ---- */

typedef struct ssi_gw_inplace {
    uint64_t ipix;
    const double *mjd;
    size_t n;
    double level, before, after;
    ss_assoc_gw_match *out;
    size_t max, k;
} ssi_gw_inplace;

/* Pixel @p i of a stored record (its bytes copied out: the map gives no alignment). */
static void ssi_gw_pixel(const unsigned char *rec, size_t i, ssi_skypix *x)
{
    const unsigned char *p = rec + SSI_GW_HEAD + i * SSI_GW_PIX;
    uint32_t order;
    double d[5];
    p = ssi_get(p, &x->lo, 8);
    p = ssi_get(p, &order, 4);
    ssi_get(p, d, sizeof d);
    x->order = (int)order;
    x->density = d[0], x->level = d[1], x->distmu = d[2], x->distsigma = d[3], x->distnorm = d[4];
}

static int ssi_gw_inplace_record(const MDB_val *v, void *arg)
{
    ssi_gw_inplace *w = arg;
    ss_assoc_skymap_info info;
    long long n = ssi_gw_head(v->mv_data, v->mv_size, &info);
    if (n < 0)
        return SS_ECORRUPT;
    size_t lo = 0, hi = (size_t)n; /* the last pixel starting at or before ipix */
    ssi_skypix x;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        ssi_gw_pixel(v->mv_data, mid, &x);
        if (x.lo <= w->ipix)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return 0;
    ssi_gw_pixel(v->mv_data, lo - 1, &x);
    ss_assoc_skymap_point p;
    ss_assoc_gw_match one;
    if (!ssi_skypix_covers(&x, w->ipix))
        return 0;
    ssi_skypix_point(&x, &p);
    if (!ssi_gw_member(&info, &p, w->mjd, w->n, w->level, w->before, w->after, &one))
        return 0;
    one.id = (const char *)v->mv_data + 8; /* the record's id, NUL-terminated, in the map */
    if (w->k < w->max)
        w->out[w->k] = one;
    w->k++;
    return 0;
}

size_t ss_assoc_gw_match_stored(ss_store_txn *txn, double ra, double dec, const double *mjd,
                                size_t n, double level, double before, double after,
                                ss_assoc_gw_match *out, size_t max, int *rc)
{
    ssi_gw_inplace w = {0, mjd, n, level, before, after, out, max, 0};
    *rc = 0;
    if (ssi_skymap_ipix(ra, dec, &w.ipix))
        return 0;
    *rc = ssi_gw_records(txn, ssi_gw_inplace_record, &w);
    return w.k;
}
