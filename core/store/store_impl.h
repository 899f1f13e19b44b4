/**
 * @file store_impl.h
 * @brief Private to the core: the store's LMDB handles, key encodings and counters.
 */
#ifndef SS_STORE_IMPL_H
#define SS_STORE_IMPL_H

#include "alert.h"
#include "locus_id.h"
#include "record.h"
#include "store.h"

#include <lmdb.h>
#include <stdint.h>

struct ss_store {
    MDB_env *env;
    MDB_dbi meta, loci, alerts, locus_alerts, sky, objects, rejected, ingests;
    MDB_dbi locus_props, alert_props, tags, tag_index; /* format 2 */
    MDB_dbi cutouts;                                   /* format 3 */
    MDB_dbi queue;                                     /* format 4 */
    MDB_dbi catalogs, catalog_rows, catalog_sky;       /* format 5 (catalog.h) */
    MDB_dbi locus_matches, locus_xmatch, watch_outbox; /* format 5 */
    uint32_t format;                                   /* the format version found on disk */
    int has_outputs; /* 0 for a format 1 store opened read-only: the four tables above are absent */
    int has_cutouts; /* 0 for a format 1 or 2 store opened read-only */
    int has_queue;   /* 0 for a store older than format 4 opened read-only */
    int has_catalogs; /* 0 for a store older than format 5 opened read-only */
    char *path;
    double radius_deg;
    double zone_height_deg;
    uint64_t locus_base; /* instance << 48: added to every locus sequence number */
    int readonly;
};

/** Counts kept in meta "counters", updated in the same transaction as the data they count. */
typedef struct ssi_counters {
    uint64_t alerts;        /* stored alerts of every kind */
    uint64_t detections;    /* stored detections */
    uint64_t upper_limits;  /* stored upper limits */
    uint64_t loci;          /* loci created */
    uint64_t duplicates;    /* primary alerts already stored when they came again */
    uint64_t history_known; /* history entries (earlier detections, limits) already stored */
    uint64_t rejected;      /* rejected records */
    uint64_t locus_seq;     /* next locus sequence number */
    uint64_t reject_seq;    /* next rejected-record key */
    uint64_t ingest_seq;    /* next ingest-run key */
    uint64_t forced;        /* stored forced-photometry measurements (also counted in alerts) */
    uint64_t cutouts;       /* stored cutouts */
    uint64_t catalog_id;    /* next catalog id (the key prefix of its rows and index) */
    uint64_t catalog_ready; /* last ready sequence: bumped when a catalog becomes ready */
    uint64_t outbox_seq;    /* next watch outbox key */
    uint64_t by_reason[SS_REASON__COUNT];
} ssi_counters;

/** Read the counters. @return 0, SS_ECORRUPT or an LMDB code. */
int ssi_counters_load(ss_store *s, MDB_txn *txn, ssi_counters *c);
/** Write the counters using @p scratch as a buffer. @return 0 or an LMDB code. */
int ssi_counters_save(ss_store *s, MDB_txn *txn, const ssi_counters *c, ssi_wbuf *scratch);

/** Read locus @p id (SS_LOCUS_ID_LEN characters) in @p txn. @return 0, SS_ENOTFOUND, SS_ECORRUPT
 * or an LMDB code. */
int ssi_locus_load(ss_store *s, MDB_txn *txn, const char *id, ss_locus *l);

/** Double the map size; no transaction may be open. @return 0 or an LMDB code (err filled). */
int ssi_store_grow(ss_store *s, ss_err *err);

/** Fill @p err from an LMDB or errno code, naming the store and the operation. @return rc. */
int ssi_store_fail(ss_store *s, ss_err *err, int rc, const char *what);

/* Key encodings (see store.h). Each returns the key length; buffers must hold SSI_KEY_MAX bytes. */
#define SSI_TAG_MAX 64
#define SSI_KEY_MAX (SS_SURVEY_MAX + SS_ID_MAX + SS_LOCUS_ID_LEN + SSI_TAG_MAX + 32)
size_t ssi_key_alert(unsigned char *k, const char *survey, const char *alert_id);
size_t ssi_key_locus_alert(unsigned char *k, const char *locus_id, double mjd, const char *survey,
                           const char *alert_id);
size_t ssi_key_sky(unsigned char *k, uint32_t zone, double ra, const char *locus_id);
size_t ssi_key_object(unsigned char *k, const char *object_id, const char *survey);
size_t ssi_key_tag(unsigned char *k, const char *locus_id, const char *tag);
size_t ssi_key_cutout(unsigned char *k, const char *alert_id, const char *survey,
                      ss_cutout_kind kind);
size_t ssi_key_tag_index(unsigned char *k, const char *tag, double mjd, const char *locus_id);
void ssi_put_be64(unsigned char *p, uint64_t v);
uint64_t ssi_get_be64(const unsigned char *p);
void ssi_put_be32(unsigned char *p, uint32_t v);
uint32_t ssi_get_be32(const unsigned char *p);

#endif
