/**
 * @file query.h
 * @brief Read the store: loci, cone searches, counts and rejected records, as JSON.
 *
 * Every function runs in one read transaction, so it sees one consistent state even while an ingest
 * commits. JSON values returned through json_t ** are owned by the caller (json_decref()).
 *
 * Locus JSON: {"locus_id", "ra", "dec", "properties": {...}, "alerts": [...], "tags": []}, where
 * properties are the broker's own (num_alerts, num_mag_values, oldest/newest/brightest_alert_id,
 * _magnitude, _observation_time, num_alerts_<band>, num_mag_values_<band>,
 * newest_alert_magnitude_<band>, <survey>_object_id) with the survey's and the filters' own, and
 * each alert is {"alert_id", "survey", "object_id"?, "mjd", "kind", "properties"} with the
 * normalised ant_* fields and the survey fields. "alerts" lists every measurement in time order:
 * kind "detection", "upper_limit" or "forced_photometry".
 *
 * This folder (core/query/) reads the store for people: queries and cutouts, exported as
 * ss_query_*; its private names (ssi_) stay inside it.
 */
#ifndef SS_QUERY_H
#define SS_QUERY_H

#include "publish.h"
#include "store.h"

#include <jansson.h>
#include <stdio.h>

/** A locus as it was: what a filter saw, or what was observed before a time. */
typedef struct ss_query_locus_options {
    /** An alert id of the locus: the locus as a filter saw it when running for that alert (the
     * measurements stored before or with its packet, the summary and the survey's locus
     * properties of then, the tags set by earlier alerts). NULL: as it is now. */
    const char *as_of;
    /** > 0: only the measurements observed before this MJD, the summary computed from them, the
     * tags set at earlier MJDs. */
    double before;
} ss_query_locus_options;

/**
 * The locus with id @p id, or the locus of survey object @p id (@p o may be NULL: as it is now).
 * Filter-written properties are shown as they are stored now, since the store keeps no history
 * of them; with @p o, "as_of" ({survey, alert_id, mjd}) or "before" (the MJD) says what is shown.
 * @return 0; SS_ENOTFOUND (no such locus, or no such alert of it); SS_EAMBIGUOUS when an object
 *         id names several loci (listed in @p err).
 */
int ss_query_locus(ss_store *s, const char *id, const ss_query_locus_options *o, json_t **out,
                   ss_err *err);

/**
 * ss_query_locus() as it is now, written as JSON text into @p out (appended): the same JSON,
 * built without jansson's objects, for answers served many times a second (the HTTP API's). With
 * @p show, alert ids are shown so, the survey's own id beside them (publish.h).
 * @return as ss_query_locus(); SS_ENOMEM when @p out could not grow.
 */
int ss_query_locus_write(ss_store *s, const char *id, ss_publish_id_fn show, ss_wbuf *out,
                         ss_err *err);

/**
 * The locus with id @p id, or the one locus of survey object @p id, read in @p txn.
 * @return 0; SS_ENOTFOUND; SS_EAMBIGUOUS when an object id names several loci (listed in
 *         @p err); a store error (@p err says which).
 */
int ss_query_resolve(ss_store_txn *txn, const char *id, ss_locus *l, ss_err *err);

/** Print one summary line per locus within @p radius_arcsec of (ra, dec), nearest first. */
int ss_query_cone(ss_store *s, double ra, double dec, double radius_arcsec, FILE *out, ss_err *err);

/** Print one summary line per locus, in locus id order. */
int ss_query_loci(ss_store *s, FILE *out, ss_err *err);

/** Counts of the store as a JSON object. */
int ss_query_stats(ss_store *s, json_t **out, ss_err *err);

/**
 * What fills the store's file, as a JSON object (ss_store_footprint()): page_size, used_bytes,
 * "tables" (name, entries, bytes, overflow_bytes, depth; the largest first), free_bytes (pages no
 * table holds, which `skysieve compact` leaves out) and lmdb_bytes (LMDB's own pages).
 * @return 0 or a store error (@p err says which). *out is the caller's.
 */
int ss_query_footprint(ss_store *s, json_t **out, ss_err *err);

/** Print the rejected records (all, or those of reason @p reason) as JSON lines. */
int ss_query_rejected(ss_store *s, const char *reason, FILE *out, ss_err *err);

/**
 * Print one line per locus carrying @p tag, first tagged at or after @p since_mjd (0: all), in
 * order of that time: the locus summary with tag, filter, tagged_mjd and tagged_time.
 */
int ss_query_tagged(ss_store *s, const char *tag, double since_mjd, FILE *out, ss_err *err);

#endif
