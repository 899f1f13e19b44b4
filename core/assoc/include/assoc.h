/**
 * @file assoc.h
 * @brief Private to the core: associate a packet of alerts with a locus and store it.
 *
 * The primary alert of a packet joins the nearest locus within the store's radius or founds a new
 * one; the packet's other alerts (history) join the same locus. An alert already stored (same
 * survey and alert id) changes nothing. The locus position is the mean direction of its detections'
 * unit vectors: the plain mean, because tuple alerts and ZTF candidates carry no position errors to
 * weight by, and a vector mean is correct across RA 0/360 and at the poles. Upper limits do not
 * move it.
 */
#ifndef SS_ASSOC_H
#define SS_ASSOC_H

#include "catalog_impl.h"
#include "store_impl.h"

/** What storing a batch did; merged into the run's totals once the batch commits. */
typedef struct ssi_batch_stats {
    uint64_t ingested;      /* primary alerts stored */
    uint64_t history;       /* history entries stored */
    uint64_t duplicates;    /* primary alerts already stored */
    uint64_t history_known; /* history entries already stored */
    uint64_t loci_created;
    uint64_t tag_events; /* tags added by filters */
    uint64_t rejected;
    uint64_t by_reason[SS_REASON__COUNT];
} ssi_batch_stats;

/** The state of one write transaction. Owned by the ingest loop. */
typedef struct ssi_writer {
    ss_store *store;
    MDB_txn *txn;
    ssi_counters counters; /* loaded at begin, saved before commit */
    ssi_wbuf buf;          /* scratch for encoding records */
    ss_packet *scratch;    /* scratch for decoding records */
    ss_locus locus;        /* the locus of the last packet stored, as written */
    ssi_catalogs catalogs; /* the ready catalogs, read at the start of each batch */
} ssi_writer;

/**
 * Store one packet; a locus it creates or updates is matched against the catalogs it has not
 * been matched against yet (catalog.h). @param[out] locus_id the locus the packet joined (may be
 * NULL).
 * @return 0 or an LMDB code (MDB_MAP_FULL: grow the map and retry the whole batch).
 */
int ssi_assoc_packet(ssi_writer *w, const ss_packet *pkt, ssi_batch_stats *st, char *locus_id);

/** Apply one alert to a locus summary (counts, oldest/newest/brightest, bands, objects, position).
 */
void ssi_locus_add_alert(ss_locus *l, const ss_alert *a);

/** Initialise a new locus with its id at a position. */
void ssi_locus_init(ss_locus *l, const char *id, double ra, double dec);

#endif
