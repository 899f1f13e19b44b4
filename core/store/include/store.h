/**
 * @file store.h
 * @brief The skysieve store: an LMDB environment in a directory holding loci, alerts and their
 * indexes.
 *
 * Layout (format version 1), one LMDB named database each:
 *  - meta:         "magic" -> "skysieve-store"; "format" -> u32; "radius_arcsec",
 * "zone_height_arcsec"
 *                  -> f64; "created" -> f64 unix time; "counters" -> counters record (see
 * store_impl.h).
 *  - loci:         locus id (19 bytes) -> locus record (record.h).
 *  - alerts:       survey NUL alert_id -> alert record (record.h).
 *  - locus_alerts: locus id, mjd (8 bytes, big-endian IEEE; mjd >= 0 so bytes sort like numbers),
 *                  survey NUL alert_id -> empty: a locus's alerts in time order.
 *  - sky:          zone (u32 BE), ra (u64 BE nano-degrees), locus id -> ra, dec (2 x f64): see
 * sky.h.
 *  - objects:      object_id NUL survey -> locus id (sorted duplicates: one object may span loci).
 *  - rejected:     sequence (u64 BE) -> rejected-record (reason, input, line, detail, raw text,
 * time).
 *  - ingests:      sequence (u64 BE) -> JSON text describing one ingest run (inputs, counts,
 * times).
 *
 * Format 2 adds the filter outputs:
 *  - locus_props:  locus id -> property bag (record.h): filter outputs and the survey's own locus
 *                  properties (Rubin's lsst_diaObject_*).
 *  - alert_props:  survey NUL alert_id -> property bag written by filters.
 *  - tags:         locus id, tag -> tag record (which filter, when).
 *  - tag_index:    tag NUL, mjd (8 bytes BE), locus id -> empty: a tag's loci in time order.
 *
 * Format 3 adds cutouts, kept apart so that reading alerts never pages image bytes in:
 *  - cutouts:      alert_id NUL survey NUL kind (1 byte, ss_cutout_kind) -> cutout record
 *                  (version byte, file name, the survey's bytes unchanged).
 * Format 3 alert records carry flux and fluxerr, and alerts may be forced photometry; locus_alerts
 * values hold the alert's kind (1 byte; empty in older stores, where every entry is an alert).
 * Format 4 adds the broker's dispatch queue (see queue.h), written in the same transaction as the
 * alerts and emptied in the one that stores the filters' outputs, so a crash between the two
 * leaves the dispatch to do again, never done twice or lost:
 *  - queue:        sequence (u64 BE) -> locus id, survey NUL alert_id NUL.
 * Format 5 adds catalogs and watch lists (catalog.h, watch.h). A catalog has an id (u64, never
 * reused) prefixing its rows and index, so dropping or reloading one touches only its own keys:
 *  - catalogs:      id (u64 BE) -> catalog record (catalog_impl.h: kind, state, name, ready
 *                   sequence, rows, radius rule, column names, source file, load time, webhook).
 *                   A catalog is matched only once its state is ready: a load commits in chunks
 *                   and marks it ready in its last commit.
 *  - catalog_rows:  id, row (u64 BE each; the row's 1-based number among the file's data rows)
 *                   -> row record: u32 count, then per column a type byte and its value.
 *  - catalog_sky:   id (u64 BE), zone (u32 BE, the catalog's own zone height), ra (u64 BE
 *                   nano-degrees), row (u64 BE) -> ra, dec, radius_arcsec (3 x f64).
 *  - locus_matches: locus id, catalog id (u64 BE) -> match list: version byte, u32 n, then n x
 *                   (row u64, separation_arcsec f64) by increasing separation, at most
 *                   SS_XMATCH_CAP (100, catalog.h) per catalog.
 *  - locus_xmatch:  locus id -> u64: the highest ready sequence the locus was matched against; a
 *                   catalog made ready later is matched when the locus is next updated.
 *  - watch_outbox:  sequence (u64 BE) -> list name NUL JSON: new watch-list hits (watch.h).
 * A store of an older format is upgraded (tables added) when opened read-write.
 *
 * Durability: each batch of alerts is one write transaction holding the alerts, their loci,
 * indexes, rejections and counters, committed with LMDB's default synchronous commit. A crash at
 * any moment leaves the last committed state: never half an alert or a locus without its alerts.
 *
 * Ownership: ss_store_open() returns a handle the caller frees with ss_store_close(). One handle
 * per store per process (LMDB forbids opening an environment twice in one process and using it
 * across fork()).
 */
#ifndef SS_STORE_H
#define SS_STORE_H

#include "err.h"

#include <stddef.h>

#define SS_STORE_FORMAT_VERSION  5
#define SS_DEFAULT_RADIUS_ARCSEC 1.0
#define SS_DEFAULT_MAP_SIZE      ((size_t)64 << 30)

typedef struct ss_store ss_store;

/** The highest instance number (ss_store_options.instance): 12 bits above a 48-bit sequence. */
#define SS_MAX_INSTANCE 4095

typedef struct ss_store_options {
    /** Association radius for a new store (0: SS_DEFAULT_RADIUS_ARCSEC). For an existing store 0
     * keeps the stored radius; another value must equal it (SS_ESETTINGS otherwise). */
    double radius_arcsec;
    /** The locus-id space of one instance of a multi-instance deployment, 1 to SS_MAX_INSTANCE:
     * its loci get ids no other instance makes (the instance number is part of the sequence the
     * id encodes). 0: none (one instance), or for an existing store: keep what it has. Another
     * value than the stored one is refused (SS_ESETTINGS), except on a store with no loci yet,
     * which takes it. */
    unsigned instance;
    /** LMDB map size in bytes (0: SS_DEFAULT_MAP_SIZE). The map grows on demand while ingesting. */
    size_t map_size;
    /** Create the store when the directory is absent or empty. */
    int create;
    /** Open read-only (queries). Excludes create. */
    int readonly;
    /** Scratch stores (a replay's): commits are not flushed to disk (MDB_NOSYNC), so a crash of
     * the machine may lose or damage the store. Never for a store that must survive. */
    int nosync;
} ss_store_options;

/**
 * Open (or create) the store in directory @p dir.
 *
 * @param[in] dir the store directory. @param[in] opts may be NULL for read-write, no create.
 * @param[out] out the handle, owned by the caller.
 * @param[out] err names @p dir and the reason on failure.
 * @return 0; SS_ENOSTORE (missing), SS_ENOTSTORE (a directory or LMDB file of something else),
 *         SS_EVERSION (written by a newer skysieve), SS_ESETTINGS, an errno or an LMDB code.
 *         On failure nothing was written to @p dir.
 */
int ss_store_open(const char *dir, const ss_store_options *opts, ss_store **out, ss_err *err);

/** Close the store. NULL is allowed. No transaction of it may be open. */
void ss_store_close(ss_store *s);

/** The instance number of the store's locus-id space (0: none). */
unsigned ss_store_instance(const ss_store *s);

/** The association radius in arcseconds, fixed when the store was created. */
double ss_store_radius_arcsec(const ss_store *s);

/** The directory the store was opened from (owned by the handle). */
const char *ss_store_path(const ss_store *s);

#endif
