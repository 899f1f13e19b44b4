/**
 * @file assoc.h
 * @brief Association: each alert joins a locus, and the locus is matched against the catalogs.
 *
 * The primary alert of a packet joins the nearest locus within the store's radius or founds a new
 * one; the packet's other alerts (history) join the same locus. An alert already stored (same
 * survey and alert id) changes nothing, but for a primary alert stored before only as another
 * alert's history entry: its record is then upgraded to the full alert (ss_store_alert_upgrade()).
 * The locus position is the mean direction of its detections' unit vectors: the plain mean, because
 * tuple alerts and ZTF candidates carry no position errors to weight by, and a vector mean is
 * correct across RA 0/360 and at the poles. Upper limits do not move it. A locus created or updated
 * is matched against the catalogs it has not been matched against yet (catalog.h), in the same
 * transaction.
 *
 * This folder (core/assoc/) exports ss_assoc_*; its catalogs and watch lists are catalog.h and
 * watch.h. Its private names (ssi_) stay inside it.
 */
#ifndef SS_ASSOC_H
#define SS_ASSOC_H

#include "store.h"

/** What storing a batch did; merged into the run's totals once the batch commits. */
typedef struct ss_assoc_stats {
    uint64_t ingested;      /**< primary alerts stored */
    uint64_t history;       /**< history entries stored */
    uint64_t duplicates;    /**< primary alerts already stored */
    uint64_t history_known; /**< history entries already stored */
    uint64_t upgraded;      /**< stored as history only, now whole (in ingested too) */
    uint64_t loci_created;
    uint64_t tag_events; /**< tags added by filters (counted by the ingest) */
    uint64_t rejected;
    uint64_t by_reason[SS_REASON__COUNT];
} ss_assoc_stats;

/** The association state of one writer, reused from batch to batch. */
typedef struct ss_assoc_writer ss_assoc_writer;

/** A writer for @p s (borrowed; it must outlive the writer). @return NULL when out of memory. */
ss_assoc_writer *ss_assoc_writer_new(ss_store *s);
void ss_assoc_writer_free(ss_assoc_writer *w);

/**
 * Start a batch in write transaction @p t (borrowed until the next begin): the catalogs ready in
 * it are read once for the batch. @return 0 or a store code.
 */
int ss_assoc_begin(ss_assoc_writer *w, ss_store_txn *t);

/**
 * Store one packet in the batch's transaction.
 * @param[out] st counts what it did. @param[out] locus_id the locus the packet joined (may be
 * NULL).
 * @return 0 or a store code (ss_store_map_full(): grow the map and retry the whole batch).
 */
int ss_assoc_packet(ss_assoc_writer *w, const ss_packet *pkt, ss_assoc_stats *st, char *locus_id);

/**
 * ss_assoc_packet() of a packet whose stamps were compressed before the transaction: item
 * @p stamp of @p stamps (ss_store_stamps_pack() of pkt->cutouts, borrowed for the call). @p stamps
 * NULL: they are compressed here, as ss_assoc_packet() does.
 */
int ss_assoc_packet2(ss_assoc_writer *w, const ss_packet *pkt, const ss_store_stamps *stamps,
                     uint32_t stamp, ss_assoc_stats *st, char *locus_id);

/** What of a packet was packed before its transaction (each borrowed for the call). */
typedef struct ss_assoc_early {
    const ss_store_stamps *stamps; /**< item @c stamp: pkt->cutouts'; NULL: compressed here */
    uint32_t stamp;
    const ss_store_lists *lists; /**< the packet's group is item @c list0 (ss_store_lists_group()
                                      of pkt->alerts and pkt->locus_props); NULL: packed here */
    uint32_t list0;
    /** 1: each history entry that carries survey fields was found new by the packet's
     * ss_packet.known, so it is inserted without a look-up first. One stored all the same (a
     * commit by another writer since) is recognised by the insert and counted as known. */
    int history_new;
} ss_assoc_early;

/** ss_assoc_packet() of a packet some of whose writing was done before the transaction,
 * @p early (NULL: none). */
int ss_assoc_packet3(ss_assoc_writer *w, const ss_packet *pkt, const ss_assoc_early *early,
                     ss_assoc_stats *st, char *locus_id);

/** Match locus @p l against the batch's catalogs, as association does for a locus it creates
 * (@p created) or updates, storing the matches and any watch-list hits caused by @p trigger.
 * @return 0 or a store code. */
int ss_assoc_match_locus(ss_assoc_writer *w, const ss_locus *l, int created,
                         const ss_alert *trigger);

/** The locus of the last packet stored, as written (valid until the next packet). */
const ss_locus *ss_assoc_last_locus(const ss_assoc_writer *w);

/** Initialise a new locus with its id at a position. */
void ss_assoc_locus_init(ss_locus *l, const char *id, double ra, double dec);

/** Apply one measurement to a locus summary (counts, oldest/newest/brightest, bands, objects,
 * position): what association does, for those who rebuild a summary from the alerts. */
void ss_assoc_locus_add_alert(ss_locus *l, const ss_alert *a);

/* ---- a locus as it was ---- */

/** Keep in @p pkt the measurements stored before or with packet @p as_of (ss_alert.arrival;
 * those stored before packets were numbered, arrival 0, stay). An alert upgraded from a history
 * entry stored by packet @p as_of or earlier (ss_alert.history_lead) stays, shown as that entry:
 * its arrival the earlier packet's, not a packet's own alert. */
void ss_assoc_keep_arrived(ss_packet *pkt, uint64_t as_of);

/** Keep in @p pkt the measurements observed before @p mjd. */
void ss_assoc_keep_before(ss_packet *pkt, double mjd);

/**
 * Rebuild the summary of locus @p l (its id kept, the rest replaced) from the measurements in
 * @p pkt (any order), adding them in the order association added them: by packet, then by place
 * in the packet; so every figure, the position's sums included, is what association computed
 * when the last of them was stored. Also the survey's locus properties association kept then
 * (Rubin's diaObject: those of the last packet whose primary was the locus's newest alert when it
 * came), read from the store into @p arena (*n = 0: none).
 * @return 0, SS_ENOMEM, SS_ECORRUPT or a store code.
 */
int ss_assoc_locus_rebuild(ss_store_txn *t, const ss_packet *pkt, ss_locus *l, ss_arena *arena,
                           ss_prop **survey, uint32_t *n);

#endif
