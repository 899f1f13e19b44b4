#include "store_impl.h"

#include "sky.h"

#include <dirent.h>
#include <stddef.h>
#include <stdio.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define SSI_MAGIC            "skysieve-store"
#define SSI_ZONES_PER_RADIUS 8.0
#define SSI_COUNTERS_VERSION 1

static size_t ssi_cat(unsigned char *k, size_t at, const char *s)
{
    size_t n = strlen(s);
    memcpy(k + at, s, n);
    return at + n;
}

size_t ssi_key_alert(unsigned char *k, const char *survey, const char *alert_id)
{
    size_t n = ssi_cat(k, 0, survey);
    k[n++] = '\0';
    return ssi_cat(k, n, alert_id);
}

size_t ssi_key_locus_alert(unsigned char *k, const char *locus_id, double mjd, const char *survey,
                           const char *alert_id)
{
    memcpy(k, locus_id, SS_LOCUS_ID_LEN);
    uint64_t bits;
    memcpy(&bits, &mjd, sizeof bits);
    ss_be64_put(k + SS_LOCUS_ID_LEN, bits);
    return SS_LOCUS_ID_LEN + 8 + ssi_key_alert(k + SS_LOCUS_ID_LEN + 8, survey, alert_id);
}

MDB_val ssi_key_locus_alert_id(const MDB_val *k)
{
    if (k->mv_size <= SS_LOCUS_ID_LEN + 8)
        return (MDB_val){0, k->mv_data};
    return (MDB_val){k->mv_size - SS_LOCUS_ID_LEN - 8, (char *)k->mv_data + SS_LOCUS_ID_LEN + 8};
}

size_t ssi_key_tag(unsigned char *k, const char *locus_id, const char *tag)
{
    memcpy(k, locus_id, SS_LOCUS_ID_LEN);
    return ssi_cat(k, SS_LOCUS_ID_LEN, tag);
}

size_t ssi_key_tag_index(unsigned char *k, const char *tag, double mjd, const char *locus_id)
{
    size_t n = ssi_cat(k, 0, tag);
    k[n++] = '\0';
    uint64_t bits;
    memcpy(&bits, &mjd, sizeof bits);
    ss_be64_put(k + n, bits);
    memcpy(k + n + 8, locus_id, SS_LOCUS_ID_LEN);
    return n + 8 + SS_LOCUS_ID_LEN;
}

size_t ssi_key_newest(unsigned char *k, double mjd, const char *locus_id)
{
    uint64_t bits = UINT64_C(0x7FF8000000000000);
    if (!isnan(mjd)) {
        mjd += 0.0; /* -0 becomes 0 */
        memcpy(&bits, &mjd, sizeof bits);
    }
    ss_be64_put(k, bits);
    memcpy(k + 8, locus_id, SS_LOCUS_ID_LEN);
    return SSI_NEWEST_KEY;
}

size_t ssi_key_cutout(unsigned char *k, const char *alert_id, const char *survey,
                      ss_cutout_kind kind)
{
    size_t n = ssi_cat(k, 0, alert_id);
    k[n++] = '\0';
    n = ssi_cat(k, n, survey);
    k[n++] = '\0';
    k[n++] = (unsigned char)kind;
    return n;
}

size_t ssi_key_object(unsigned char *k, const char *object_id, const char *survey)
{
    size_t n = ssi_cat(k, 0, object_id);
    k[n++] = '\0';
    return ssi_cat(k, n, survey);
}

int ss_store_fail(ss_store *s, ss_err *err, int rc, const char *what)
{
    int code = rc;
    if (rc == MDB_MAP_FULL || rc == ENOSPC)
        code = SS_EFULL;
    else if (rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == SS_ECORRUPT)
        code = SS_ECORRUPT;
    return ss_err_set(err, code, "store %s: %s: %s", s ? s->path : "?", what, ss_strerror(rc));
}

/* Under this much space left on the store's filesystem, a failed write means a full disk. */
#define SSI_FULL_BYTES ((uint64_t)1 << 20)

/* LMDB reports a short write (mdb_page_flush) as EIO, and a write to a full filesystem is short
 * rather than failed: without this, a full disk reads "Input/output error" and callers that pause
 * on SS_EFULL (the broker) cannot tell it from a failing device. */
static int ssi_commit_rc(const ss_store *s, int rc)
{
    struct statvfs v;
    if (rc == EIO && statvfs(s->path, &v) == 0 &&
        (uint64_t)v.f_bavail * v.f_frsize < SSI_FULL_BYTES)
        return ENOSPC;
    return rc;
}

/* ---- counters ---- */

/* The stored order of the scalar counters: append only. */
static const size_t ssi_counter_offsets[] = {
    offsetof(ss_store_counters, alerts),       offsetof(ss_store_counters, detections),
    offsetof(ss_store_counters, upper_limits), offsetof(ss_store_counters, loci),
    offsetof(ss_store_counters, duplicates),   offsetof(ss_store_counters, history_known),
    offsetof(ss_store_counters, rejected),     offsetof(ss_store_counters, locus_seq),
    offsetof(ss_store_counters, reject_seq),   offsetof(ss_store_counters, ingest_seq),
    offsetof(ss_store_counters, forced),       offsetof(ss_store_counters, cutouts),
    offsetof(ss_store_counters, catalog_id),   offsetof(ss_store_counters, catalog_ready),
    offsetof(ss_store_counters, outbox_seq),   offsetof(ss_store_counters, packet_seq),
};
#define SSI_NCOUNTERS (sizeof ssi_counter_offsets / sizeof *ssi_counter_offsets)

static uint64_t *ssi_counter(ss_store_counters *c, size_t i)
{
    return (uint64_t *)((char *)c + ssi_counter_offsets[i]);
}

int ssi_counters_save(ss_store *s, MDB_txn *txn, const ss_store_counters *c, ss_wbuf *b)
{
    ss_wbuf_reset(b);
    ss_wbuf_u8(b, SSI_COUNTERS_VERSION);
    ss_wbuf_u32(b, (uint32_t)SSI_NCOUNTERS);
    for (size_t i = 0; i < SSI_NCOUNTERS; i++)
        ss_wbuf_u64(b, *ssi_counter((ss_store_counters *)c, i));
    ss_wbuf_u32(b, SS_REASON__COUNT);
    for (int r = 0; r < SS_REASON__COUNT; r++) {
        ss_wbuf_str(b, ss_reason_name((ss_reason)r));
        ss_wbuf_u64(b, c->by_reason[r]);
    }
    if (b->failed)
        return ENOMEM;
    MDB_val k = {8, "counters"}, v = {b->len, b->data};
    return mdb_put(txn, s->meta, &k, &v, 0);
}

static void ssi_counters_decode_reasons(ss_rbuf *r, ss_store_counters *c)
{
    uint32_t nr = ss_rbuf_u32(r);
    for (uint32_t i = 0; i < nr && !r->bad; i++) {
        char name[64];
        ss_rbuf_strcpy(r, name, sizeof name);
        uint64_t count = ss_rbuf_u64(r);
        int reason = ss_reason_from_name(name);
        if (reason >= 0) /* a reason this build does not know of is dropped from the breakdown */
            c->by_reason[reason] = count;
    }
}

int ssi_counters_load(ss_store *s, MDB_txn *txn, ss_store_counters *c)
{
    memset(c, 0, sizeof *c);
    MDB_val k = {8, "counters"}, v;
    int rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return rc;
    ss_rbuf r = {v.mv_data, (const unsigned char *)v.mv_data + v.mv_size, 0};
    if (ss_rbuf_u8(&r) != SSI_COUNTERS_VERSION)
        return SS_ECORRUPT;
    uint32_t n = ss_rbuf_u32(&r);
    for (uint32_t i = 0; i < n && !r.bad; i++) {
        uint64_t val = ss_rbuf_u64(&r);
        if (i < SSI_NCOUNTERS) /* counters from a newer minor layout are ignored */
            *ssi_counter(c, i) = val;
    }
    ssi_counters_decode_reasons(&r, c);
    return r.bad ? SS_ECORRUPT : 0;
}

/* ---- opening ---- */

/* Every table with the format that introduced it: an older store gains the newer tables when
 * opened read-write; opened read-only, it simply lacks them. */
static const struct {
    const char *name;
    size_t offset;
    unsigned flags;
    uint32_t since;
} ssi_tables[] = {
    {"loci", offsetof(ss_store, loci), 0, 1},
    {"alerts", offsetof(ss_store, alerts), 0, 1},
    {"locus_alerts", offsetof(ss_store, locus_alerts), 0, 1},
    {"sky", offsetof(ss_store, sky), 0, 1},
    {"objects", offsetof(ss_store, objects), MDB_DUPSORT, 1},
    {"rejected", offsetof(ss_store, rejected), 0, 1},
    {"ingests", offsetof(ss_store, ingests), 0, 1},
    {"locus_props", offsetof(ss_store, locus_props), 0, 2},
    {"alert_props", offsetof(ss_store, alert_props), 0, 2},
    {"tags", offsetof(ss_store, tags), 0, 2},
    {"tag_index", offsetof(ss_store, tag_index), 0, 2},
    {"cutouts", offsetof(ss_store, cutouts), 0, 3},
    {"queue", offsetof(ss_store, queue), 0, 4},
    {"catalogs", offsetof(ss_store, catalogs), 0, 5},
    {"catalog_rows", offsetof(ss_store, catalog_rows), 0, 5},
    {"catalog_sky", offsetof(ss_store, catalog_sky), 0, 5},
    {"locus_matches", offsetof(ss_store, locus_matches), 0, 5},
    {"locus_xmatch", offsetof(ss_store, locus_xmatch), 0, 5},
    {"watch_outbox", offsetof(ss_store, watch_outbox), 0, 5},
    {"loci_newest", offsetof(ss_store, loci_newest), 0, 6},
    {"catalog_loci", offsetof(ss_store, catalog_loci), 0, 6},
    {"dict", offsetof(ss_store, dict), 0, 7},
    {"zdict", offsetof(ss_store, zdict), 0, 10},
    {"stamps", offsetof(ss_store, stamps), 0, 11},
    {"limits", offsetof(ss_store, limits), 0, 17},
};
#define SSI_NTABLES (sizeof ssi_tables / sizeof *ssi_tables)

static MDB_dbi *ssi_dbi(ss_store *s, size_t i)
{
    return (MDB_dbi *)((char *)s + ssi_tables[i].offset);
}

/* 1: data.mdb exists; 0: directory absent or empty; SS_ENOTSTORE: a non-empty directory of
 * something else, or a file. */
#define SSI_WRITER_LOCK "writer.lock"

static int ssi_probe_dir(const char *dir, ss_err *err)
{
    struct stat st;
    if (stat(dir, &st) != 0)
        return 0;
    if (!S_ISDIR(st.st_mode))
        return ss_err_set(err, SS_ENOTSTORE, "store %s: not a directory", dir);
    char path[4096];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    if (stat(path, &st) == 0)
        return 1;
    DIR *d = opendir(dir);
    if (!d)
        return ss_err_set(err, errno, "store %s: %s", dir, strerror(errno));
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
            strcmp(e->d_name, SSI_WRITER_LOCK)) /* a creator's lock: the store is not there yet */
            empty = 0;
    closedir(d);
    if (!empty)
        return ss_err_set(
            err, SS_ENOTSTORE,
            "store %s: directory is not empty and holds no skysieve store (no data.mdb)", dir);
    return 0;
}

int ssi_meta_put_f64(ss_store *s, MDB_txn *txn, const char *key, double v)
{
    MDB_val k = {strlen(key), (void *)key}, d = {sizeof v, &v};
    return mdb_put(txn, s->meta, &k, &d, 0);
}

static int ssi_meta_get(ss_store *s, MDB_txn *txn, const char *key, MDB_val *v)
{
    MDB_val k = {strlen(key), (void *)key};
    return mdb_get(txn, s->meta, &k, v);
}

int ssi_meta_get_f64(ss_store *s, MDB_txn *txn, const char *key, double *out)
{
    MDB_val v;
    int rc = ssi_meta_get(s, txn, key, &v);
    if (rc)
        return rc;
    if (v.mv_size != sizeof *out)
        return SS_ECORRUPT;
    memcpy(out, v.mv_data, sizeof *out);
    return 0;
}

int ssi_meta_get_u64(MDB_txn *txn, MDB_dbi meta, const char *key, uint64_t *out)
{
    MDB_val k = {strlen(key), (void *)key}, v;
    int rc = mdb_get(txn, meta, &k, &v);
    if (rc)
        return rc;
    if (v.mv_size != 8)
        return SS_ECORRUPT;
    *out = ss_be64_get(v.mv_data);
    return 0;
}

int ssi_meta_put_u64(MDB_txn *txn, MDB_dbi meta, const char *key, uint64_t n)
{
    unsigned char b[8];
    ss_be64_put(b, n);
    MDB_val k = {strlen(key), (void *)key}, v = {sizeof b, b};
    return mdb_put(txn, meta, &k, &v, 0);
}

/* meta "instance" (absent: 0, a store of one instance) gives the locus-id space. */
static int ssi_instance_read(ss_store *s, MDB_txn *txn)
{
    MDB_val v;
    uint32_t n = 0;
    int rc = ssi_meta_get(s, txn, "instance", &v);
    if (rc == MDB_NOTFOUND)
        rc = 0;
    else if (!rc &&
             (v.mv_size != sizeof n || (memcpy(&n, v.mv_data, sizeof n), n > SS_MAX_INSTANCE)))
        rc = SS_ECORRUPT;
    s->locus_base = (uint64_t)n << 48;
    return rc;
}

static int ssi_instance_put(ss_store *s, MDB_txn *txn, unsigned instance)
{
    uint32_t n = instance;
    MDB_val k = {8, "instance"}, v = {sizeof n, &n};
    s->locus_base = (uint64_t)n << 48;
    return instance ? mdb_put(txn, s->meta, &k, &v, 0) : 0;
}

static int ssi_store_init(ss_store *s, MDB_txn *txn, double radius_arcsec, unsigned instance)
{
    int rc;
    for (size_t i = 0; i < SSI_NTABLES; i++)
        if ((rc = mdb_dbi_open(txn, ssi_tables[i].name, ssi_tables[i].flags | MDB_CREATE,
                               ssi_dbi(s, i))))
            return rc;
    uint32_t format = SS_STORE_FORMAT_VERSION;
    MDB_val mk = {5, "magic"}, mv = {strlen(SSI_MAGIC), SSI_MAGIC};
    MDB_val fk = {6, "format"}, fv = {sizeof format, &format};
    ss_store_counters zero = {0};
    ss_wbuf b = {0};
    if ((rc = mdb_put(txn, s->meta, &mk, &mv, 0)) || (rc = mdb_put(txn, s->meta, &fk, &fv, 0)) ||
        (rc = ssi_meta_put_f64(s, txn, "radius_arcsec", radius_arcsec)) ||
        (rc = ssi_meta_put_f64(s, txn, "zone_height_arcsec",
                               radius_arcsec * SSI_ZONES_PER_RADIUS)) ||
        (rc = ssi_meta_put_f64(s, txn, "created", (double)time(NULL))) ||
        (rc = ssi_instance_put(s, txn, instance)))
        return rc;
    rc = ssi_counters_save(s, txn, &zero, &b);
    ss_wbuf_free(&b);
    return rc;
}

/* Check that meta says "a skysieve store this build can read", then open every table. */
static int ssi_store_check(ss_store *s, MDB_txn *txn, ss_err *err)
{
    MDB_val v;
    int rc = ssi_meta_get(s, txn, "magic", &v);
    if (rc == MDB_NOTFOUND ||
        (!rc && (v.mv_size != strlen(SSI_MAGIC) || memcmp(v.mv_data, SSI_MAGIC, v.mv_size) != 0)))
        return ss_err_set(err, SS_ENOTSTORE, "store %s: an LMDB database, but not a skysieve store",
                          s->path);
    if (rc || (rc = ssi_meta_get(s, txn, "format", &v)))
        return ss_store_fail(s, err, rc, "reading the format version");
    uint32_t format = 0;
    if (v.mv_size == sizeof format)
        memcpy(&format, v.mv_data, sizeof format);
    if (format > SS_STORE_FORMAT_VERSION)
        return ss_err_set(err, SS_EVERSION,
                          "store %s: format version %u is newer than this skysieve reads (%d); "
                          "upgrade skysieve",
                          s->path, format, SS_STORE_FORMAT_VERSION);
    if (format == 0)
        return ss_err_set(err, SS_ECORRUPT, "store %s: bad format version record", s->path);
    double radius, zone;
    if ((rc = ssi_meta_get_f64(s, txn, "radius_arcsec", &radius)) ||
        (rc = ssi_meta_get_f64(s, txn, "zone_height_arcsec", &zone)))
        return ss_store_fail(s, err, rc, "reading the sky settings");
    s->radius_deg = radius / SS_ARCSEC_PER_DEG;
    s->zone_height_deg = zone / SS_ARCSEC_PER_DEG;
    s->format = format;
    if ((rc = ssi_instance_read(s, txn)))
        return ss_store_fail(s, err, rc, "reading the instance number");
    for (size_t i = 0; i < SSI_NTABLES && ssi_tables[i].since <= format; i++)
        if ((rc = mdb_dbi_open(txn, ssi_tables[i].name, ssi_tables[i].flags, ssi_dbi(s, i))))
            return ss_store_fail(s, err, rc, ssi_tables[i].name);
    s->has_outputs = format >= 2;
    s->has_cutouts = format >= 3;
    s->has_queue = format >= 4;
    s->has_catalogs = format >= 5;
    s->has_search = format >= 6;
    /* the dictionary is read wherever the table exists, whatever the format record says: a store
     * whose format was set back by hand (as the tests of older formats do) keeps packed records */
    s->has_dict = format >= 7 || mdb_dbi_open(txn, "dict", 0, &s->dict) == 0;
    s->has_zdict = format >= 10 || mdb_dbi_open(txn, "zdict", 0, &s->zdict) == 0;
    s->has_stamps = format >= 11;
    s->has_limits = format >= 17 || mdb_dbi_open(txn, "limits", 0, &s->limits) == 0;
    s->limits_indexed = ssi_meta_get(s, txn, "indexed_limits", &v) == 0;
    if ((rc = ssi_sky_layout(s, txn)))
        return ss_store_fail(s, err, rc, "reading the sky index");
    return 0;
}

static int ssi_env_open(ss_store *s, size_t map_size, int nosync, ss_err *err)
{
    int rc = mdb_env_create(&s->env);
    if (!rc)
        rc = mdb_env_set_maxdbs(s->env, 32);
    if (!rc)
        rc = mdb_env_set_mapsize(s->env, map_size ? map_size : SS_DEFAULT_MAP_SIZE);
    if (rc)
        return ss_store_fail(s, err, rc, "creating the LMDB environment");
    /* MDB_NOTLS: read transactions belong to the caller, not the thread (workers hand them over).
     */
    unsigned flags = MDB_NOTLS | (s->readonly ? MDB_RDONLY : 0) | (nosync ? MDB_NOSYNC : 0);
    rc = mdb_env_open(s->env, s->path, flags, 0644);
    if (rc == MDB_INVALID)
        return ss_err_set(err, SS_ENOTSTORE, "store %s: data.mdb is not an LMDB file", s->path);
    if (rc == MDB_VERSION_MISMATCH)
        return ss_err_set(err, SS_EVERSION, "store %s: written by another LMDB version", s->path);
    return rc ? ss_store_fail(s, err, rc, "opening") : 0;
}

/* Open the tables of an existing store in a read transaction, so a store we refuse is not written.
 */
static int ssi_store_attach(ss_store *s, ss_err *err)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return ss_store_fail(s, err, rc, "starting a transaction");
    rc = mdb_dbi_open(txn, "meta", 0, &s->meta);
    if (rc == MDB_NOTFOUND)
        rc = ss_err_set(err, SS_ENOTSTORE, "store %s: an LMDB database, but not a skysieve store",
                        s->path);
    else if (rc)
        rc = ss_store_fail(s, err, rc, "opening meta");
    else
        rc = ssi_store_check(s, txn, err);
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    return ssi_commit_rc(s, mdb_txn_commit(txn));
}

static int ssi_store_create(ss_store *s, double radius_arcsec, unsigned instance, ss_err *err)
{
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (!rc && !(rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta)) &&
        !(rc = ssi_store_init(s, txn, radius_arcsec, instance))) {
        rc = ssi_commit_rc(s, mdb_txn_commit(txn));
        txn = NULL;
    }
    if (txn)
        mdb_txn_abort(txn);
    if (rc)
        return ss_store_fail(s, err, rc, "creating");
    return ssi_store_attach(s, err);
}

/* One attempt at an upgrade: the newer tables created, format 6's indexes built from the tables
 * they index, format 8's tiled sky index built from the loci, format 9's alert records moved
 * beside their loci's, the version written, all in one transaction so that a store is either
 * upgraded whole or not at all. */
static int ssi_upgrade_txn(ss_store *s)
{
    MDB_txn *txn = NULL;
    uint32_t format = SS_STORE_FORMAT_VERSION;
    MDB_val fk = {6, "format"}, fv = {sizeof format, &format};
    MDB_val lk = {14, "indexed_limits"}, lv = {1, "1"};
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    for (size_t i = 0; !rc && i < SSI_NTABLES; i++)
        if (ssi_tables[i].since > s->format)
            rc = mdb_dbi_open(txn, ssi_tables[i].name, ssi_tables[i].flags | MDB_CREATE,
                              ssi_dbi(s, i));
    if (!rc && s->format < 6)
        rc = ssi_indexes_build(s, txn);
    uint32_t band_zones = s->sky_band_zones;
    if (!rc && !s->sky_band_zones)
        rc = ssi_sky_rebuild(s, txn);
    if (!rc && s->format < 9)
        rc = ssi_alerts_cluster(s, txn);
    if (!rc && s->format < 17) /* its limits so far are indexed by id: they are looked for there */
        rc = mdb_put(txn, s->meta, &lk, &lv, 0);
    if (!rc)
        rc = mdb_put(txn, s->meta, &fk, &fv, 0);
    if (rc && txn)
        mdb_txn_abort(txn);
    else if (!rc)
        rc = mdb_txn_commit(txn);
    if (rc) /* the index keeps the layout it had */
        s->sky_band_zones = band_zones;
    return rc;
}

/* An older format lacks the newer tables: create them (and build the indexes of format 6, which
 * may take a while on a large store: one pass over loci and locus_matches). Done only on
 * read-write opens, after the store was checked, so a refused store is still never written. */
static int ssi_store_upgrade(ss_store *s, ss_err *err)
{
    int rc;
    while ((rc = ssi_upgrade_txn(s)) == MDB_MAP_FULL) {
        ss_err grown = {0};
        if (ss_store_grow(s, &grown))
            break;
    }
    if (rc)
        return ss_store_fail(s, err, rc, "upgrading the format");
    s->limits_indexed |= s->format < 17;
    s->format = SS_STORE_FORMAT_VERSION;
    s->has_outputs = s->has_cutouts = s->has_queue = s->has_catalogs = s->has_search = s->has_dict =
        s->has_zdict = s->has_stamps = s->has_limits = 1;
    return 0;
}

static void ssi_unlink_in(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

/* Undo a failed creation, so that a refused open leaves nothing behind. */
static void ssi_remove_created(const char *dir, int made_dir)
{
    ssi_unlink_in(dir, "data.mdb");
    ssi_unlink_in(dir, "lock.mdb");
    ssi_stamps_file_remove(dir);
    if (made_dir)
        rmdir(dir);
}

static int ssi_check_radius(const ss_store_options *o, const ss_store *s, ss_err *err)
{
    double stored = s->radius_deg * SS_ARCSEC_PER_DEG;
    if (o->radius_arcsec > 0 && fabs(o->radius_arcsec - stored) > 1e-9)
        return ss_err_set(err, SS_ESETTINGS,
                          "store %s: created with an association radius of %g arcsec, not %g "
                          "(a store keeps its radius for life; use a new store)",
                          s->path, stored, o->radius_arcsec);
    return 0;
}

/* An instance number asked of an existing store that has another: only a store without loci (no
 * id given out yet) may take it; ids of two spaces in one store could collide. */
static int ssi_take_instance(ss_store *s, unsigned instance, ss_err *err)
{
    unsigned had = (unsigned)(s->locus_base >> 48);
    MDB_txn *txn = NULL;
    ss_store_counters c;
    int rc = s->readonly ? SS_ESETTINGS : mdb_txn_begin(s->env, NULL, 0, &txn);
    if (!rc && !(rc = ssi_counters_load(s, txn, &c)))
        rc = c.locus_seq ? SS_ESETTINGS : ssi_instance_put(s, txn, instance);
    if (txn && !rc)
        rc = mdb_txn_commit(txn);
    else if (txn)
        mdb_txn_abort(txn);
    if (rc == SS_ESETTINGS)
        return ss_err_set(err, rc,
                          "store %s: its loci are numbered as instance %u, not %u (an instance "
                          "keeps its store; give each instance its own)",
                          s->path, had, instance);
    return rc ? ss_store_fail(s, err, rc, "recording the instance number") : 0;
}

/* One writer per store: two would each ingest, dispatch the same queue and number loci from the
 * same counters. Taken before LMDB opens anything, so a refused writer changes nothing; readers
 * never take it (LMDB's own lock serves them). */
static int ssi_writer_lock(ss_store *s, ss_err *err)
{
    char path[4096];
    ss_lock_holder h;
    struct stat st;
    snprintf(path, sizeof path, "%s/" SSI_WRITER_LOCK, s->path);
    int had = stat(path, &st) == 0;
    int rc = ss_lockfile_take(path, &s->writer, &h, err);
    s->writer_made = !rc && !had;
    if (rc == SS_ELOCKED)
        return ss_err_set(err, rc,
                          "store %s is written by skysieve pid %ld (%s); one process writes a "
                          "store at a time: stop that one first, or open the store read-only",
                          s->path, (long)h.pid, h.cmd[0] ? h.cmd : "unknown command");
    return rc ? ss_err_prefix(err, "store %s", s->path) : 0;
}

int ss_store_open(const char *dir, const ss_store_options *opts, ss_store **out, ss_err *err)
{
    ss_store_options o = opts ? *opts : (ss_store_options){0};
    *out = NULL;
    if (o.radius_arcsec < 0 || o.radius_arcsec > 3600 || isnan(o.radius_arcsec))
        return ss_err_set(err, SS_EINVAL, "store %s: radius %g arcsec is not in (0, 3600]", dir,
                          o.radius_arcsec);
    if (o.stamp_level && (o.stamp_level < SS_STAMP_LEVEL_MIN || o.stamp_level > SS_STAMP_LEVEL_MAX))
        return ss_err_set(err, SS_EINVAL,
                          "store %s: stamp level %d is not a zstd level from %d to %d", dir,
                          o.stamp_level, SS_STAMP_LEVEL_MIN, SS_STAMP_LEVEL_MAX);
    if (o.instance > SS_MAX_INSTANCE)
        return ss_err_set(err, SS_EINVAL, "store %s: instance %u is not in [1, %d]", dir,
                          o.instance, SS_MAX_INSTANCE);
    int exists = ssi_probe_dir(dir, err);
    if (exists < 0)
        return exists;
    if (!exists && (!o.create || o.readonly))
        return ss_err_set(err, SS_ENOSTORE, "store %s: no such store", dir);
    int made_dir = 0;
    if (!exists && mkdir(dir, 0755) == 0)
        made_dir = 1;
    else if (!exists && errno != EEXIST)
        return ss_err_set(err, errno, "store %s: cannot create the directory: %s", dir,
                          strerror(errno));
    ss_store *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(dir))) {
        free(s);
        return ss_err_set(err, SS_ENOMEM, "store %s: out of memory", dir);
    }
    s->readonly = o.readonly;
    s->stamp_chunk = SSI_STAMP_CHUNK;
    s->stamp_level = o.stamp_level ? o.stamp_level : SS_STAMP_LEVEL;
    s->squeezer.level = s->stamp_level;
    s->uncache_stamps = !o.cache_stamps && !o.nosync && !o.readonly;
    s->nosync = o.nosync;
    s->stamps_fd = -1;
    pthread_mutex_init(&s->map_lock, NULL);
    pthread_cond_init(&s->map_cond, NULL);
    ssi_dict_init(&s->dcache);
    ssi_zrec_init(&s->zrec);
    int rc = o.readonly ? 0 : ssi_writer_lock(s, err);
    if (rc == SS_ELOCKED) { /* the holder's store: leave everything of it as it is */
        ss_store_close(s);
        if (made_dir)
            rmdir(dir);
        return rc;
    }
    if (!rc)
        rc = ssi_env_open(s, o.map_size, o.nosync, err);
    if (!rc)
        rc = exists ? ssi_store_attach(s, err)
                    : ssi_store_create(
                          s, o.radius_arcsec > 0 ? o.radius_arcsec : SS_DEFAULT_RADIUS_ARCSEC,
                          o.instance, err);
    if (!rc)
        rc = ssi_check_radius(&o, s, err);
    if (!rc && o.instance && (uint64_t)o.instance << 48 != s->locus_base)
        rc = ssi_take_instance(s, o.instance, err);
    if (!rc && !o.readonly && s->format < SS_STORE_FORMAT_VERSION)
        rc = ssi_store_upgrade(s, err);
    if (!rc && s->format >= 13 && (rc = ssi_stamps_file_open(dir, s->readonly, &s->stamps_fd)))
        rc = ss_store_fail(s, err, rc, "opening stamps.dat");
    if (rc) {
        if (s->writer_made) /* a refused open leaves the directory as it found it */
            ssi_unlink_in(dir, SSI_WRITER_LOCK);
        ss_store_close(s);
        if (!exists)
            ssi_remove_created(dir, made_dir);
        return rc;
    }
    *out = s;
    return 0;
}

void ss_store_close(ss_store *s)
{
    if (!s)
        return;
    if (s->env)
        mdb_env_close(s->env);
    if (s->stamps_fd >= 0)
        close(s->stamps_fd);
    ss_lockfile_release(s->writer); /* after LMDB: the next writer finds it closed */
    pthread_cond_destroy(&s->map_cond);
    pthread_mutex_destroy(&s->map_lock);
    ssi_dict_free(&s->dcache);
    ssi_zrec_free(&s->zrec);
    ssi_squeezer_free(&s->squeezer);
    free(s->path);
    free(s);
}

unsigned ss_store_instance(const ss_store *s)
{
    return (unsigned)(s->locus_base >> 48);
}

int ss_store_has_newest(const ss_store *s)
{
    return s->has_search;
}

double ss_store_radius_arcsec(const ss_store *s)
{
    return s->radius_deg * SS_ARCSEC_PER_DEG;
}

const char *ss_store_path(const ss_store *s)
{
    return s->path;
}

/* ---- the map's size ---- */

static void ssi_map_enter(ss_store *s)
{
    pthread_mutex_lock(&s->map_lock);
    while (s->map_resizing)
        pthread_cond_wait(&s->map_cond, &s->map_lock);
    s->map_users++;
    pthread_mutex_unlock(&s->map_lock);
}

static void ssi_map_leave(ss_store *s)
{
    pthread_mutex_lock(&s->map_lock);
    if (--s->map_users == 0)
        pthread_cond_broadcast(&s->map_cond);
    pthread_mutex_unlock(&s->map_lock);
}

/* Set the map size (0: adopt the size another process grew it to) once no transaction of this
 * process is open. A thread that holds one while asking would wait forever: give up after a few
 * seconds with MDB_MAP_RESIZED, which callers report as the store being busy. */
static int ssi_map_resize(ss_store *s, size_t size)
{
    pthread_mutex_lock(&s->map_lock);
    if (s->map_resizing && !size) { /* another thread adopts it: wait for it */
        while (s->map_resizing)
            pthread_cond_wait(&s->map_cond, &s->map_lock);
        pthread_mutex_unlock(&s->map_lock);
        return 0;
    }
    while (s->map_resizing)
        pthread_cond_wait(&s->map_cond, &s->map_lock);
    s->map_resizing = 1;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    int rc = 0;
    while (s->map_users && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&s->map_cond, &s->map_lock, &until);
    rc = s->map_users ? MDB_MAP_RESIZED : mdb_env_set_mapsize(s->env, size);
    s->map_resizing = 0;
    pthread_cond_broadcast(&s->map_cond);
    pthread_mutex_unlock(&s->map_lock);
    return rc;
}

int ss_store_grow(ss_store *s, ss_err *err)
{
    MDB_envinfo info;
    int rc = mdb_env_info(s->env, &info);
    if (!rc)
        rc = ssi_map_resize(s, info.me_mapsize * 2);
    return rc ? ss_store_fail(s, err, rc, "growing the map") : 0;
}

int ss_store_map_full(int rc)
{
    return rc == MDB_MAP_FULL;
}

/* The start and length of the mapping of @p fd's file at offset 0 in /proc/self/maps: LMDB gives
 * its map's address only with MDB_FIXEDMAP. @return 0 or ENOENT. */
static int ssi_map_find(int fd, unsigned long *lo, unsigned long *len)
{
    struct stat st;
    FILE *f = fstat(fd, &st) ? NULL : fopen("/proc/self/maps", "r");
    if (!f)
        return ENOENT;
    char line[512];
    int rc = ENOENT;
    while (rc && fgets(line, sizeof line, f)) {
        unsigned long a, b, off, ino;
        unsigned maj, mn;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s %lx %x:%x %lu", &a, &b, perms, &off, &maj, &mn, &ino) == 7 &&
            ino == st.st_ino && off == 0 && makedev(maj, mn) == st.st_dev) {
            *lo = a;
            *len = b - a;
            rc = 0;
        }
    }
    fclose(f);
    return rc;
}

int ss_store_unmap(ss_store *s)
{
    int fd, rc = mdb_env_get_fd(s->env, &fd);
    MDB_envinfo info;
    MDB_stat st;
    if (!rc)
        rc = mdb_env_info(s->env, &info);
    if (!rc)
        rc = mdb_env_stat(s->env, &st);
    if (rc)
        return rc;
    unsigned long at, len, used = (unsigned long)(info.me_last_pgno + 1) * st.ms_psize;
    /* under map_lock: a resize in this process, which moves the map, waits for the madvise */
    pthread_mutex_lock(&s->map_lock);
    rc = ssi_map_find(fd, &at, &len);
    if (!rc && madvise((void *)at, used < len ? used : len, MADV_DONTNEED))
        rc = errno;
    pthread_mutex_unlock(&s->map_lock);
    return rc;
}

int ss_store_info_get(ss_store *s, ss_store_info *out)
{
    MDB_envinfo info;
    MDB_stat st;
    int rc = mdb_env_info(s->env, &info);
    if (!rc)
        rc = mdb_env_stat(s->env, &st);
    if (rc)
        return rc;
    uint64_t size, allocated;
    if ((rc = ssi_stamps_file_stat(s, &size, &allocated)))
        return rc;
    *out = (ss_store_info){s->format, info.me_mapsize,
                           (info.me_last_pgno + 1) * st.ms_psize + (size_t)allocated, s->readonly,
                           (size_t)allocated};
    return 0;
}

/* Whether the store opened table @p i: every table of its format, and the dictionaries where a
 * store whose format was set back by hand still has them. */
static int ssi_table_present(ss_store *s, size_t i)
{
    if (ssi_tables[i].since <= s->format)
        return 1;
    const MDB_dbi *dbi = ssi_dbi(s, i);
    return (dbi == &s->dict && s->has_dict) || (dbi == &s->zdict && s->has_zdict) ||
           (dbi == &s->limits && s->has_limits);
}

/* Hand @p visit the use of table @p name, as @p st tells it. */
static int ssi_visit_table(ss_store_table_use_fn visit, void *ctx, const char *name,
                           const MDB_stat *st)
{
    ss_store_table_use use = {name, st->ms_entries,
                              st->ms_branch_pages + st->ms_leaf_pages + st->ms_overflow_pages,
                              st->ms_overflow_pages, st->ms_depth};
    return visit(ctx, &use);
}

/* stamps.dat (format 13) as a table of its chunks' pages: a footprint then still adds up to the
 * store's used bytes. Its allocated bytes are what it takes on disk, retention's holes left out. */
static int ssi_visit_stamps_file(ss_store *s, ss_store_table_use_fn visit, void *ctx,
                                 uint32_t page_size)
{
    uint64_t size, allocated;
    int rc = ssi_stamps_file_stat(s, &size, &allocated);
    if (rc || s->format < 13 || !page_size)
        return rc;
    ss_store_table_use use = {"stamps.dat", 0, (allocated + page_size - 1) / page_size, 0, 0};
    return visit(ctx, &use);
}

/* The pages LMDB's free list names, and the pages of the list itself. Each of its values is an
 * ID list whose first word is its length (LMDB's MDB_IDL, read as mdb_stat -f reads it). */
static int ssi_free_pages(MDB_txn *txn, uint64_t *free_pages, uint64_t *list_pages)
{
    MDB_stat st;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_stat(txn, 0, &st);
    if (rc || (rc = mdb_cursor_open(txn, 0, &cur)))
        return rc;
    *list_pages = st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        size_t n;
        if (v.mv_size < sizeof n) {
            rc = SS_ECORRUPT;
            break;
        }
        memcpy(&n, v.mv_data, sizeof n); /* the value need not be aligned */
        *free_pages += n;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int ss_store_footprint(ss_store_txn *t, ss_store_table_use_fn visit, void *ctx,
                       ss_store_footprint_info *out)
{
    ss_store *s = t->s;
    MDB_stat st;
    int rc = mdb_env_stat(s->env, &st);
    *out = (ss_store_footprint_info){.page_size = rc ? 0 : st.ms_psize};
    if (!rc && !(rc = mdb_stat(t->txn, s->meta, &st)))
        rc = ssi_visit_table(visit, ctx, "meta", &st);
    for (size_t i = 0; !rc && i < SSI_NTABLES; i++) {
        if (!ssi_table_present(s, i))
            continue;
        if (!(rc = mdb_stat(t->txn, *ssi_dbi(s, i), &st)))
            rc = ssi_visit_table(visit, ctx, ssi_tables[i].name, &st);
    }
    if (!rc)
        rc = ssi_visit_stamps_file(s, visit, ctx, out->page_size);
    uint64_t list_pages = 0;
    if (!rc && !(rc = mdb_stat(t->txn, 1, &st)) &&
        !(rc = ssi_free_pages(t->txn, &out->free_pages, &list_pages)))
        out->lmdb_pages = 2 + list_pages + st.ms_branch_pages + st.ms_leaf_pages +
                          st.ms_overflow_pages; /* NUM_METAS, the free list, the tables' list */
    return rc;
}

/* ---- transactions ---- */

/* Begin (or renew) LMDB's transaction of @p t, counted in the map's users; when another process
 * grew the map, adopt its size and try again. Each MDB_MAP_RESIZED means the map doubled again
 * since the last adoption, so a writer filling its map quickly (many growths while three readers
 * here take turns to adopt) is caught up with in a few dozen tries at most. */
#define SSI_ADOPT_TRIES 64

static int ssi_txn_start(ss_store_txn *t, int renew)
{
    ss_store *s = t->s;
    int rc = 0;
    for (int attempt = 0; attempt < SSI_ADOPT_TRIES; attempt++) {
        ssi_map_enter(s);
        rc = renew ? mdb_txn_renew(t->txn)
                   : mdb_txn_begin(s->env, NULL, t->write ? 0 : MDB_RDONLY, &t->txn);
        if (rc != MDB_MAP_RESIZED)
            break;
        ssi_map_leave(s);
        if ((rc = ssi_map_resize(s, 0)))
            return rc;
        rc = MDB_MAP_RESIZED;
    }
    if (rc && rc != MDB_MAP_RESIZED)
        ssi_map_leave(s);
    t->counted = !rc;
    return rc;
}

static void ssi_txn_stop(ss_store_txn *t)
{
    if (t->counted)
        ssi_map_leave(t->s);
    t->counted = 0;
}

int ss_store_txn_begin(ss_store *s, int mode, ss_store_txn **out)
{
    *out = NULL;
    ss_store_txn *t = calloc(1, sizeof *t);
    if (!t)
        return SS_ENOMEM;
    t->s = s;
    t->write = mode == SS_STORE_WRITE;
    int rc = ssi_txn_start(t, 0);
    if (rc) {
        free(t);
        return rc;
    }
    *out = t;
    return 0;
}

static void ssi_txn_free(ss_store_txn *t)
{
    ssi_txn_stop(t);
    ss_wbuf_free(&t->buf);
    ss_wbuf_free(&t->dict_buf);
    ss_wbuf_free(&t->zbuf);
    ss_arena_free(t->arena);
    ssi_zrec_txn_done(t);
    ss_wbuf_free(&t->zplain);
    ss_wbuf_free(&t->chunk);
    ss_wbuf_free(&t->gbuf);
    ss_wbuf_free(&t->lbuf);
    free(t->group.a);
    free(t);
}

int ss_store_txn_commit(ss_store_txn *t)
{
    int rc = 0;
    const ss_store *s = t->s;
    if (t->write)
        rc = ssi_chunk_flush(t);
    if (!rc && t->write) /* before LMDB's: a reference committed names bytes on disk */
        rc = ssi_chunks_sync(t);
    if (!rc && t->counters_state == 2)
        rc = ssi_counters_save(t->s, t->txn, &t->counters, &t->buf);
    if (rc)
        mdb_txn_abort(t->txn);
    else
        rc = ssi_commit_rc(s, mdb_txn_commit(t->txn));
    if (t->write)
        ssi_dict_end(t->s, !rc), ssi_zrec_end(t->s, !rc);
    if (t->write && !rc)
        ssi_chunks_uncache(t);
    ssi_txn_free(t);
    return rc;
}

void ss_store_txn_abort(ss_store_txn *t)
{
    if (!t)
        return;
    mdb_txn_abort(t->txn);
    if (t->write)
        ssi_dict_end(t->s, 0), ssi_zrec_end(t->s, 0);
    ssi_txn_free(t);
}

void ss_store_txn_reset(ss_store_txn *t)
{
    mdb_txn_reset(t->txn);
    ssi_txn_stop(t);
    t->counters_state = 0;
    if (t->arena) /* the stamps it held were the transaction's */
        ss_arena_reset(t->arena);
    ssi_zrec_txn_done(t);
}

int ss_store_txn_renew(ss_store_txn *t)
{
    return ssi_txn_start(t, 1);
}

ss_store *ss_store_txn_store(const ss_store_txn *t)
{
    return t->s;
}

ss_store_counters *ss_store_txn_counters(ss_store_txn *t)
{
    if (!t->counters_state) {
        if (ssi_counters_load(t->s, t->txn, &t->counters))
            return NULL;
        t->counters_state = 1;
    }
    if (t->write)
        t->counters_state = 2;
    return &t->counters;
}

ss_store_counters *ssi_counters_w(ss_store_txn *t)
{
    return ss_store_txn_counters(t);
}

int ss_store_write(ss_store *s, ss_store_write_fn fn, void *ctx, const char *what, ss_err *err)
{
    for (;;) {
        ss_store_txn *t;
        ss_err mine = {0};
        int rc = ss_store_txn_begin(s, SS_STORE_WRITE, &t);
        if (rc)
            return ss_store_fail(s, err, rc, what);
        rc = fn(t, ctx, &mine);
        if (rc)
            ss_store_txn_abort(t);
        else
            rc = ss_store_txn_commit(t);
        if (rc == MDB_MAP_FULL) {
            if ((rc = ss_store_grow(s, err)))
                return rc;
            continue;
        }
        if (rc && mine.code) {
            *err = mine;
            return rc;
        }
        return rc ? ss_store_fail(s, err, rc, what) : 0;
    }
}
