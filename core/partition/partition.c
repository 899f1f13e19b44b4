/* `skysieve partition`: configuration, region geometry and border anchors (partition.h). The
 * Kafka side is in partition_run.c. */
#include "partition.h"

#include "sky.h"
#include "store.h"

#include <chealpix.h>
#include <errno.h>
#include <ini.h>
#include <libgen.h>
#include <lmdb.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SSI_D2R (M_PI / 180.0)
/* zones of the anchors' index: higher than any sensible border (twice a few arcseconds) */
#define SSI_ZONE_DEG (60.0 / SS_ARCSEC_PER_DEG)

/* ---- configuration ---- */

void ss_partition_conf_init(ss_partition_conf *c)
{
    memset(c, 0, sizeof *c);
    c->nside = SS_PARTITION_NSIDE;
    c->radius_arcsec = SS_DEFAULT_RADIUS_ARCSEC;
}

static int ssi_pnum(const char *key, const char *value, double lo, double hi, double *out,
                    ss_err *err)
{
    char *end;
    double v = strtod(value, &end);
    if (end == value || *end || !isfinite(v) || v < lo || v > hi)
        return ss_err_set(err, SS_EINVAL, "[partition] %s=%s: not a number in [%g, %g]", key, value,
                          lo, hi);
    *out = v;
    return 0;
}

/* Numeric keys: nside (a power of 2), radius (arcsec), create_partitions. @return 1 when @p key
 * is not one of them. */
static int ssi_pnumeric(ss_partition_conf *c, const char *key, const char *value, ss_err *err)
{
    double v = 0;
    if (!strcmp(key, "nside")) {
        if (ssi_pnum(key, value, 1, 1 << 20, &v, err))
            return err->code;
        if (v != floor(v) || ((int64_t)v & ((int64_t)v - 1)))
            return ss_err_set(err, SS_EINVAL, "[partition] nside=%s: not a power of 2 (NESTED)",
                              value);
        c->nside = (int64_t)v;
    } else if (!strcmp(key, "radius")) {
        if (ssi_pnum(key, value, 0.001, 3600, &v, err))
            return err->code;
        c->radius_arcsec = v;
    } else if (!strcmp(key, "create_partitions")) {
        if (ssi_pnum(key, value, 0, 100000, &v, err))
            return err->code;
        if (v != floor(v))
            return ss_err_set(err, SS_EINVAL, "[partition] create_partitions=%s: not an integer",
                              value);
        c->create_partitions = (int)v;
    } else
        return 1;
    return 0;
}

int ss_partition_conf_set(ss_partition_conf *c, const char *key, const char *value, ss_err *err)
{
    if (!strcmp(key, "to"))
        return ss_ingest_kafka_str_set(&c->to, value, err);
    if (!strcmp(key, "brokers"))
        return ss_ingest_kafka_str_set(&c->brokers, value, err);
    if (!strcmp(key, "state"))
        return ss_ingest_kafka_str_set(&c->state, value, err);
    if (!strcmp(key, "dead_letter"))
        return ss_ingest_kafka_str_set(&c->dead_letter, value, err);
    if (!strcmp(key, "rdkafka.enable.idempotence") || !strcmp(key, "rdkafka.acks"))
        return ss_err_set(err, SS_EINVAL,
                          "[partition] %s: not settable (the producer is idempotent and waits "
                          "for every replica: offsets are committed on its reports)",
                          key);
    if (!strncmp(key, "rdkafka.", 8))
        return ss_ingest_kafka_kv_set(&c->kv, &c->nkv, "partition", key + 8, value, err);
    int rc = ssi_pnumeric(c, key, value, err);
    if (rc != 1)
        return rc;
    return ss_err_set(err, SS_EINVAL,
                      "[partition] %s: unknown key (to, brokers, nside, radius, state, "
                      "dead_letter, create_partitions, rdkafka.*)",
                      key);
}

typedef struct ssi_pload {
    ss_partition_conf *c;
    const char *dir;
    ss_err *err;
} ssi_pload;

static int ssi_phandler(void *user, const char *sec, const char *key, const char *value)
{
    ssi_pload *x = user;
    ss_err e = {0};
    int rc;
    if (!strcmp(sec, "input kafka"))
        rc = ss_ingest_kafka_in_conf_set(&x->c->in, key, value, &e);
    else if (!strcmp(sec, "partition"))
        rc = ss_partition_conf_set(x->c, key, value, &e);
    else
        rc = ss_err_set(&e, SS_EINVAL,
                        "[%s] %s: unknown section (partition reads [input kafka] and [partition])",
                        sec, key);
    if (!strcmp(sec, "partition") && !strcmp(key, "state") && !rc && value[0] != '/') {
        char *abs = NULL;
        if (asprintf(&abs, "%s/%s", x->dir, value) < 0)
            rc = ss_err_set(&e, SS_ENOMEM, "out of memory");
        else
            free(x->c->state), x->c->state = abs;
    }
    if (rc && !x->err->code)
        ss_err_set(x->err, rc, "%s: %s", x->c->file, e.msg);
    return !rc;
}

int ss_partition_conf_load(const char *path, ss_partition_conf *c, ss_err *err)
{
    ss_err_clear(err);
    char *copy = strdup(path), *dir = copy ? strdup(dirname(copy)) : NULL;
    free(copy);
    free(c->file);
    c->file = strdup(path);
    if (!dir || !c->file)
        return free(dir), ss_err_set(err, SS_ENOMEM, "out of memory");
    ssi_pload x = {c, dir, err};
    int line = ini_parse(path, ssi_phandler, &x);
    free(dir);
    if (err->code)
        return err->code;
    if (line == -1)
        return ss_err_set(err, ENOENT, "%s: cannot open: %s", path,
                          strerror(errno ? errno : ENOENT));
    if (line)
        return ss_err_set(err, SS_EINVAL, "%s:%d: not INI syntax", path, line);
    return 0;
}

int ss_partition_conf_check(const ss_partition_conf *c, ss_err *err)
{
    const char *f = c->file ? c->file : "partition";
    const char *missing = !c->to ? "to" : !c->state ? "state" : NULL;
    if (missing)
        return ss_err_set(err, SS_EINVAL, "%s: [partition] %s: missing", f, missing);
    if (!c->in.brokers && !c->brokers)
        return ss_err_set(err, SS_EINVAL, "%s: [input kafka] brokers: missing", f);
    return 0;
}

void ss_partition_conf_free(ss_partition_conf *c)
{
    ss_ingest_kafka_in_conf_free(&c->in);
    char **strs[] = {&c->file, &c->brokers, &c->to, &c->state, &c->dead_letter};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        free(*strs[i]);
    for (size_t i = 0; i < 2 * c->nkv; i++)
        free(c->kv[i]);
    free(c->kv);
    ss_partition_conf_init(c);
}

/* ---- geometry ---- */

int64_t ss_partition_pixel(int64_t nside, double ra, double dec)
{
    int64_t pix;
    ang2pix_nest64(nside, (90.0 - dec) * SSI_D2R, ra * SSI_D2R, &pix);
    return pix;
}

int ss_partition_is_border(int64_t nside, double ra, double dec, double radius_deg)
{
    int64_t own = ss_partition_pixel(nside, ra, dec);
    double a = ra * SSI_D2R, d = dec * SSI_D2R, r = 1.1 * radius_deg * SSI_D2R;
    double p[3] = {cos(d) * cos(a), cos(d) * sin(a), sin(d)};
    double north[3] = {-sin(d) * cos(a), -sin(d) * sin(a), cos(d)};
    double east[3] = {-sin(a), cos(a), 0};
    for (int k = 0; k < 16; k++) {
        double t = k * M_PI / 8, q[3];
        for (int i = 0; i < 3; i++)
            q[i] = cos(r) * p[i] + sin(r) * (cos(t) * north[i] + sin(t) * east[i]);
        int64_t pix;
        vec2pix_nest64(nside, q, &pix);
        if (pix != own)
            return 1;
    }
    return 0;
}

/* ---- anchors ---- */

struct ss_partition_anchors {
    MDB_env *env;
    MDB_dbi meta, anchors;
    int64_t nside;
    double border_deg;
};

/* An anchor's key: zone (u32 BE), ra key (u64 BE), dec key (u64 BE): a zone is ordered by RA. */
typedef struct ssi_akey {
    unsigned char b[20];
} ssi_akey;

/* An anchor's value (native byte order: the state belongs to one machine). */
typedef struct ssi_aval {
    double ra, dec;
    int64_t pixel;
} ssi_aval;

static void ssi_put_be(unsigned char *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static ssi_akey ssi_anchor_key(uint32_t zone, double ra, double dec)
{
    ssi_akey k;
    ssi_put_be(k.b, zone, 4);
    ssi_put_be(k.b + 4, ss_sky_ra_key(ra), 8);
    ssi_put_be(k.b + 12, (uint64_t)floor((dec + 90.0) * 1e9), 8);
    return k;
}

static int ssi_lmdb(ss_err *err, int rc, const char *dir, const char *what)
{
    return ss_err_set(err, rc, "partition state %s: %s: %s", dir, what, mdb_strerror(rc));
}

/* The grid the state was made for: written on creation, compared on every later opening. */
static int ssi_anchors_meta(ss_partition_anchors *a, MDB_txn *txn, const char *dir, ss_err *err)
{
    double want[2] = {(double)a->nside, a->border_deg}, got[2];
    MDB_val k = {5, "grid"}, v;
    int rc = mdb_get(txn, a->meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
        v = (MDB_val){sizeof want, want};
        rc = mdb_put(txn, a->meta, &k, &v, 0);
        return rc ? ssi_lmdb(err, rc, dir, "cannot write its grid") : 0;
    }
    if (rc || v.mv_size != sizeof got)
        return rc ? ssi_lmdb(err, rc, dir, "cannot read its grid")
                  : ss_err_set(err, SS_ECORRUPT, "partition state %s: its grid record is damaged",
                               dir);
    memcpy(got, v.mv_data, sizeof got);
    if (got[0] != want[0] || fabs(got[1] - want[1]) > 1e-12)
        return ss_err_set(err, SS_ESETTINGS,
                          "partition state %s: made for nside %.0f and radius %g arcsec, not "
                          "nside %.0f and radius %g arcsec (its anchors name pixels of that grid: "
                          "use another state directory)",
                          dir, got[0], got[1] * SS_ARCSEC_PER_DEG / 2, want[0],
                          want[1] * SS_ARCSEC_PER_DEG / 2);
    return 0;
}

static int ssi_anchors_init(ss_partition_anchors *a, const char *dir, ss_err *err)
{
    int rc = mdb_env_create(&a->env);
    if (!rc)
        rc = mdb_env_set_maxdbs(a->env, 2);
    if (!rc)
        rc = mdb_env_set_mapsize(a->env, (size_t)1 << 30);
    if (!rc)
        rc = mdb_env_open(a->env, dir, 0, 0644);
    if (rc)
        return ssi_lmdb(err, rc, dir, "cannot open");
    MDB_txn *txn;
    if ((rc = mdb_txn_begin(a->env, NULL, 0, &txn)))
        return ssi_lmdb(err, rc, dir, "cannot begin");
    if ((rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &a->meta)) ||
        (rc = mdb_dbi_open(txn, "anchors", MDB_CREATE, &a->anchors))) {
        mdb_txn_abort(txn);
        return ssi_lmdb(err, rc, dir, "cannot open its tables");
    }
    if ((rc = ssi_anchors_meta(a, txn, dir, err))) {
        mdb_txn_abort(txn);
        return rc;
    }
    rc = mdb_txn_commit(txn);
    return rc ? ssi_lmdb(err, rc, dir, "cannot commit") : 0;
}

int ss_partition_anchors_open(const char *dir, int64_t nside, double border_deg,
                              ss_partition_anchors **out, ss_err *err)
{
    *out = NULL;
    if (mkdir(dir, 0755) && errno != EEXIST)
        return ss_err_set(err, errno, "partition state %s: cannot create: %s", dir,
                          strerror(errno));
    ss_partition_anchors *a = calloc(1, sizeof *a);
    if (!a)
        return ss_err_set(err, SS_ENOMEM, "out of memory");
    a->nside = nside;
    a->border_deg = border_deg;
    int rc = ssi_anchors_init(a, dir, err);
    if (rc)
        return ss_partition_anchors_close(a), rc;
    *out = a;
    return 0;
}

typedef struct ssi_near {
    double sep;
    int64_t pixel;
    int found;
} ssi_near;

/* Scan one zone's RA interval for the nearest anchor within the border distance. */
static int ssi_scan_range(ss_partition_anchors *a, MDB_cursor *cur, uint32_t zone, ss_ra_range rr,
                          double ra, double dec, ssi_near *n)
{
    ssi_akey lo = ssi_anchor_key(zone, rr.lo, -90.0);
    unsigned char hi[12];
    ssi_put_be(hi, zone, 4);
    ssi_put_be(hi + 4, ss_sky_ra_key(rr.hi), 8);
    MDB_val k = {sizeof lo.b, lo.b}, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    for (; !rc; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != sizeof lo.b || memcmp(k.mv_data, hi, sizeof hi) > 0)
            break;
        ssi_aval av;
        if (v.mv_size != sizeof av)
            return SS_ECORRUPT;
        memcpy(&av, v.mv_data, sizeof av);
        double sep = ss_sky_separation_deg(ra, dec, av.ra, av.dec);
        if (sep <= a->border_deg &&
            (!n->found || sep < n->sep || (sep == n->sep && av.pixel < n->pixel)))
            *n = (ssi_near){sep, av.pixel, 1};
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int ssi_nearest(ss_partition_anchors *a, MDB_txn *txn, double ra, double dec, ssi_near *n)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, a->anchors, &cur);
    if (rc)
        return rc;
    ss_ra_range rr[2];
    int nr = ss_sky_cone_ra_ranges(ra, dec, a->border_deg, rr);
    uint32_t z0 = ss_sky_zone_of(fmax(dec - a->border_deg, -90.0), SSI_ZONE_DEG);
    uint32_t z1 = ss_sky_zone_of(fmin(dec + a->border_deg, 90.0), SSI_ZONE_DEG);
    for (uint32_t z = z0; z <= z1 && !rc; z++)
        for (int i = 0; i < nr && !rc; i++)
            rc = ssi_scan_range(a, cur, z, rr[i], ra, dec, n);
    mdb_cursor_close(cur);
    return rc;
}

static int ssi_route_txn(ss_partition_anchors *a, MDB_txn *txn, double ra, double dec,
                         ss_partition_route *r)
{
    ssi_near n = {0};
    int rc = ssi_nearest(a, txn, ra, dec, &n);
    if (rc || n.found) {
        r->route = n.found ? n.pixel : r->route;
        r->anchored = n.found;
        return rc;
    }
    ssi_akey k = ssi_anchor_key(ss_sky_zone_of(dec, SSI_ZONE_DEG), ra, dec);
    ssi_aval av = {ra, dec, r->pixel};
    MDB_val kv = {sizeof k.b, k.b}, vv = {sizeof av, &av};
    rc = mdb_put(txn, a->anchors, &kv, &vv, 0);
    r->new_anchor = !rc;
    return rc;
}

int ss_partition_anchors_route(ss_partition_anchors *a, double ra, double dec,
                               ss_partition_route *r, ss_err *err)
{
    *r = (ss_partition_route){0};
    r->pixel = r->route = ss_partition_pixel(a->nside, ra, dec);
    r->border = ss_partition_is_border(a->nside, ra, dec, a->border_deg);
    if (!r->border)
        return 0;
    MDB_txn *txn;
    int rc = mdb_txn_begin(a->env, NULL, 0, &txn);
    if (!rc && (rc = ssi_route_txn(a, txn, ra, dec, r)))
        mdb_txn_abort(txn);
    else if (!rc)
        rc = mdb_txn_commit(txn); /* no write, no sync: only a new anchor costs a commit */
    if (rc == SS_ECORRUPT)
        return ss_err_set(err, rc, "partition state: an anchor record is damaged");
    if (rc)
        return ss_err_set(err, rc, "partition state: cannot route ra=%.7f dec=%.7f: %s", ra, dec,
                          mdb_strerror(rc));
    return 0;
}

uint64_t ss_partition_anchors_count(ss_partition_anchors *a)
{
    MDB_txn *txn;
    MDB_stat st = {0};
    if (!mdb_txn_begin(a->env, NULL, MDB_RDONLY, &txn)) {
        mdb_stat(txn, a->anchors, &st);
        mdb_txn_abort(txn);
    }
    return st.ms_entries;
}

void ss_partition_anchors_close(ss_partition_anchors *a)
{
    if (!a)
        return;
    if (a->env)
        mdb_env_close(a->env);
    free(a);
}
