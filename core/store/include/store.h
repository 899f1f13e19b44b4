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
 * Format 6 adds two indexes for searches (search.h), each entry's value empty:
 *  - loci_newest:   the newest alert's MJD (8 bytes BE IEEE, as tag_index), locus id: the loci by
 *                   the time of their newest alert ("latest loci", newest_alert_observation_time
 *                   ranges and sorts). Kept by ss_store_locus_put(), which moves a locus's entry
 *                   when its newest MJD changes. A locus without one (no alert but forced
 *                   photometry) has the one NaN key, after every number.
 *  - catalog_loci:  catalog id (u64 BE), locus id: locus_matches reversed, the loci a catalog or
 *                   watch list matched. Its contents belong to core/assoc/ (store_table.h), which
 *                   writes it with each match list and removes a dropped catalog's entries.
 * Alert records (record.c) of version 4 carry a history lead (ss_alert.history_lead): only a
 * history entry upgraded by its own alert (ss_store_alert_upgrade()) is written so; every other
 * record stays version 3, so a store without one reads as before in skysieve 0.2.
 * Format 7 packs what it stores:
 *  - dict:          u32 BE id (dense, from 1) -> a list of names (varint count, then each as a
 *                   varint length and bytes): an alert record's property names, or (in
 *                   stores written before December 2026: records now carry their origins
 *                   inline) an ingest origin without its trailing number. Never changed once
 *                   committed.
 *  - alert records of version 5 (record_pack.c): the property names as a dict id, values with
 *                   a tag byte and only the bytes they need (zigzag varint integers, floats in
 *                   4 bytes when a float holds them exactly). Versions 1-4 are still read.
 *  - cutouts:       alert_id NUL survey NUL 0xff -> all of the alert's stamps in one record,
 *                   each kept as sent or, when not compressed already and zstd shrinks it by an
 *                   eighth, zstd-compressed (cutouts.c). Records of one stamp (the key ending in
 *                   its kind) are still read.
 *  - meta:          "retain_cutouts_days", "retain_payload_days" -> f64: the retention policy
 *                   (ss_store_retain()), absent until set.
 * Format 8 keeps a survey field's loci together in every table, so that a batch of one visit's
 * alerts rewrites few pages (LMDB copies every page a commit touches):
 *  - new loci get SKY ids (locus_id.h), which sort by HEALPix pixel; loci created before keep
 *    their SKS ids;
 *  - sky:           tile (u32 BE: band << 16 | tile in band), zone, ra, locus id -> ra, dec: the
 *                   zones grouped in bands of about a degree, each band cut along RA into tiles
 *                   about a degree wide (skyindex.c). An upgraded store's index is rebuilt from
 *                   the loci; read-only, an older index is read as it is (its keys' length tells).
 * Format 9 keeps each alert's record beside its locus's others, so that a locus's light curve is
 * one range of neighbouring pages read by one cursor rather than one look-up per measurement in a
 * table ordered by alert id:
 *  - locus_alerts:  locus id, mjd, survey NUL alert_id -> the alert record (was its kind byte),
 *                   of version 7: version 5 without the survey, alert id, locus id and MJD, which
 *                   the key holds. Records the upgrade moves keep their version.
 *  - alerts:        survey NUL alert_id -> a reference (store_impl.h, 41 bytes: version 6, kind,
 *                   mjd, arrival, arrival index, locus id), which names the locus_alerts entry.
 *   The upgrade moves every record in one pass over locus_alerts; read-only, an older store is
 *   read as it is.
 * Format 10 compresses a survey's records with a dictionary trained on its own (zrec.c):
 *  - zdict:         "d" + u32 BE number (dense, from 1) -> a zstd dictionary of 16 kB at most,
 *                   never changed once committed; "s" + survey -> u32 BE number of the survey's.
 *                   A writer trains a survey's dictionary on the property lists of its first
 *                   1,000 records of at least 64 bytes of them (in the transaction that writes the
 *                   thousandth); a survey of smaller records (CSV tuples) gets none.
 *  - locus_alerts:  records of version 8 once their survey has a dictionary: version 7 whose two
 *                   property lists are one zstd frame made with it, after its number and their
 *                   length; kept as version 7 when that is not shorter. Older records stay.
 *   The upgrade adds the table; read-only, a format 9 store is read as it is.
 * Format 11 keeps the stamps of a transaction's alerts together in chunks (cutouts.c):
 *  - stamps:        u64 BE number (from 1, never reused) -> a chunk of about 4 MiB: a head of 16
 *                   bytes (version 1, seven zero bytes, the newest MJD of its alerts as IEEE bits
 *                   BE), then each alert's packed record of format 7 in turn.
 *  - meta:          "stamps_seq" -> u64 BE: the next chunk's number.
 *  - cutouts:       alert_id NUL survey NUL 0xff -> a reference (version 3, the stamp count, then
 *                   varints: chunk number, offset in it, length). A record of its own filled its
 *                   last overflow page only in part; records of format 7 are still read.
 *   Retention drops each old alert's reference, then every chunk whose newest alert is past the
 *   cutoff. The upgrade adds the table; read-only, a format 10 store is read as it is.
 * Format 12 compresses FITS stamps with their arrays regrouped (fits_shuffle.c):
 *  - in a packed record, codec 2 beside 0 (as sent) and 1 (zstd): zstd of the stamp after each
 *    HDU's array of 2-, 4- or 8-byte numbers was rewritten as all the numbers' first bytes, then
 *    all their second bytes, and so on; headers and padding as they were. zstd's level -20 keeps
 *    0.54 of Rubin's plain FITS stamps regrouped, 0.62 as sent. Reading undoes the regrouping: a
 * stamp comes back as the survey sent it. The upgrade changes no table; stamps written before keep
 *    their codec.
 * Format 13 keeps the chunks in a file of their own, stamps.dat beside data.mdb (stamps_file.c):
 *  - stamps:        the chunk's number -> 32 bytes: a head as in format 11 but of version 2, then
 *                   the chunk's offset and length in stamps.dat (u64 BE each). stamps.dat holds
 *                   the chunk as format 11's value was, head of version 1 included.
 *  - meta:          "stamps_end" -> u64 BE: the end of the last chunk committed; past it, bytes
 *                   of a transaction that did not commit, which the next one writes over.
 *   A chunk is written once it closes and its writeback begun; the commit syncs stamps.dat, then
 *   LMDB. Retention punches a dropped chunk's bytes out of stamps.dat (a hole). The upgrade
 *   changes no table: chunks of formats 11-12 stay in the table and are read there.
 * Format 14 compresses FITS stamps with a dictionary of their survey's own (zstamps.c):
 *  - zdict:         "t" + survey -> u32 BE number of the survey's stamps dictionary; its "d" entry
 *                   holds the regrouped FITS stamps of the first alert the writer stored with
 *                   any (128 kB at most), as zstd's raw content, starting "SIMPLE  =".
 *  - in a packed record, an alert's FITS stamps regrouped, one after the other, as one zstd
 *    frame: codec 3 for the first, holding the dictionary's number (a varint, 0 for none: packed
 *    before the survey had one), then the frame; codec 4 for the others, with no bytes of their
 *    own (Rubin's science and difference stamps share their headers and PSF). The upgrade changes
 *    no table; stamps written before keep their codec.
 * Format 15 moves a locus's sky entry only when the locus drifts (skyindex.c):
 *  - sky:           the key and value name the position the locus was indexed at, within 0.5
 *                   arcsec of its own (its record's); an alert that moves the mean less leaves
 *                   the entry as it is. A scan reads the index 0.5 arcsec wider than asked and
 *                   each candidate's position from its record, so cones and association answer
 *                   as before. An older index, each entry at its locus's position, is one of
 *                   these: the upgrade changes no table.
 * Format 16 keeps a packet's measurements of a locus as one entry (group.c):
 *  - locus_alerts:  locus id, eight 0xff bytes, the packet number BE -> a group: version 9, the
 *                   member count and the count of members gone (varints), the gone members'
 *                   indexes in their packet (ascending varints), then each member (survey and
 *                   alert id as vstr, MJD, index in its packet as a varint, u32 length, its record
 *                   of version 7 with arrival and history lead 0, the key holding the packet);
 *                   version 10 has the members as one zstd frame made with the survey's group
 *                   dictionary, after its number and their length. A group sorts after the
 *                   locus's single entries; a light curve is sorted as read. An upgraded alert
 *                   (ss_store_alert_upgrade()) leaves its group for a single entry: the group
 *                   lists it as gone, its bytes left as they are.
 *  - alerts:        a member's reference: version 11, kind, MJD, arrival and arrival index as
 *                   varints, locus id; its arrival names the group.
 *  - zdict:         "g" + survey -> u32 BE number of the survey's group dictionary, trained by the
 *                   writer on its first 1,000 groups (4 MiB of them at most) into 64 kB.
 *   Single entries of older formats stay as they are and are read among the groups; the upgrade
 *   changes no table.
 * Format 17 lists an upper limit whose id names its object (as a span between separators: ZTF's
 * "ul-OBJECT-EXPOSURE") under that object instead of indexing its id (limits.c): ingest asks
 * about it only as a history entry of its object.
 *  - limits:        object_id NUL survey (as objects) -> version 1, then the FNV-1a 64-bit hashes
 *                   of its limits' alert ids, BE, ascending, 8 bytes each.
 *  - alerts:        holds no such limit. ss_store_alert_find() and ss_store_alert_get() find one
 *                   by trying its id's spans as object ids and walking the object's groups;
 *                   ss_store_alert_head_get() does not. The upgrade adds the table and meta
 *                   "indexed_limits": the limits stored before stay indexed by id, and are
 *                   looked for there too.
 * A store of an older format is upgraded (tables added) when opened read-write; the upgrade to
 * format 6 builds loci_newest and catalog_loci from loci and locus_matches in the same
 * transaction (one pass over each). Opened read-only, an older store lacks them: searches then
 * sort by newest in memory and find a catalog's loci by scanning locus_matches (search.h).
 *
 * Durability: each batch of alerts is one write transaction holding the alerts, their loci,
 * indexes, rejections and counters, committed with LMDB's default synchronous commit. A crash at
 * any moment leaves the last committed state: never half an alert or a locus without its alerts.
 *
 * Ownership: ss_store_open() returns a handle the caller frees with ss_store_close(). One handle
 * per store per process (LMDB forbids opening an environment twice in one process and using it
 * across fork()).
 *
 * This folder (core/store/) owns the layout above: every other stage reads and writes through the
 * functions below, inside a transaction (ss_store_txn), and never sees LMDB's tables or the key
 * encodings. The exceptions are the tables of store_table.h, whose contents belong to another
 * stage (catalogs to core/assoc/, the broker's bookkeeping in meta to core/broker/). It exports
 * ss_store_*; its private names (ssi_) and store_impl.h stay inside it.
 *
 * Return codes: 0; SS_ENOTFOUND where a function looks something up; SS_E* codes; errno values;
 * or LMDB's codes for a failing store (ss_store_map_full() tells the one a writer recovers from by
 * growing the map and writing the batch again). ss_store_fail() turns any of them into a message.
 */
#ifndef SS_STORE_H
#define SS_STORE_H

#include "alert.h"
#include "err.h"
#include "record.h"

#include <stddef.h>
#include <stdint.h>

#define SS_STORE_FORMAT_VERSION  17
#define SS_DEFAULT_RADIUS_ARCSEC 1.0
#define SS_DEFAULT_MAP_SIZE      ((size_t)64 << 30)
/** Longest tag name. */
#define SS_TAG_MAX 64

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
    /** Keep the stamps a commit wrote in the kernel's page cache. 0, the default: once a commit
     * is on disk, its chunks of stamps (format 11) are dropped from the cache (posix_fadvise),
     * for they are written once and read rarely, and pages the cache keeps for them push out the
     * B-tree pages every batch reads; on a virtual machine, where filling fresh cache pages is
     * slow, that doubled the ingest rate of Rubin alerts (README, Survey alerts). A reader then
     * takes a stamp from the disk. Not done for nosync stores, whose pages are not on disk. */
    int cache_stamps;
    /** The zstd level this handle compresses stamps at (those the store compresses: plain FITS,
     * as Rubin sends them), from SS_STAMP_LEVEL_MIN to SS_STAMP_LEVEL_MAX; 0: SS_STAMP_LEVEL
     * (-60). Slower levels keep fewer bytes: with format 14's stamps, Rubin's alerts at -20 are
     * stored in 0.46 of their Avro bytes instead of 0.49, for a decoding thread 15% busier (README,
     * Store footprint);
     * each stamp records nothing of its level, and every level reads back the same bytes.
     * Another value is refused (SS_EINVAL). */
    int stamp_level;
} ss_store_options;

/** The zstd level of stamps by default, and the range ss_store_options.stamp_level takes. */
#define SS_STAMP_LEVEL     (-60)
#define SS_STAMP_LEVEL_MIN (-1000)
#define SS_STAMP_LEVEL_MAX 19

/**
 * Open (or create) the store in directory @p dir.
 *
 * @param[in] dir the store directory. @param[in] opts may be NULL for read-write, no create.
 * @param[out] out the handle, owned by the caller.
 * @param[out] err names @p dir and the reason on failure.
 * @return 0; SS_ENOSTORE (missing), SS_ENOTSTORE (a directory or LMDB file of something else),
 *         SS_EVERSION (written by a newer skysieve), SS_ESETTINGS, SS_ELOCKED (opened
 *         read-write while another process or handle writes it: the message names that
 *         process's pid), an errno or an LMDB code. On failure nothing was written to @p dir.
 *
 * A read-write open takes the store's writer lock (an exclusive flock on writer.lock in @p dir,
 * see lockfile.h) before LMDB opens anything, and keeps it until ss_store_close(): one writer per
 * store, whichever command it is (run, ingest, catalog, watch, replay...). Read-only opens never
 * take it. A child made by fork() shares the lock until it closes its copy or executes a program.
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

/** What `skysieve stats` shows of the store itself. */
typedef struct ss_store_info {
    uint32_t format;   /**< the format version on disk */
    size_t map_size;   /**< bytes of address space reserved */
    size_t used_bytes; /**< bytes of disk the store takes: the map's pages up to the last one
                            written, and the blocks of stamps.dat */
    int readonly;
    size_t stamps_bytes; /**< of used_bytes, stamps.dat's blocks (format 13; holes not counted) */
} ss_store_info;

/** Fill @p out. @return 0 or an LMDB code. */
int ss_store_info_get(ss_store *s, ss_store_info *out);

/**
 * Unmap the store's pages from this process. LMDB reads through a shared mapping of its data
 * file, and every page read stays mapped, and counted in the process's resident memory, until the
 * mapping goes: a process that reads most of a large store (a night's replay) would hold all of
 * it. The pages stay in the kernel's page cache: the next read maps them again, a minor fault
 * and no disk read, so this costs time and never data. Safe at any moment, also while
 * transactions of this process are open (they read their pages again through the map), and from
 * any thread: a growth of the map waits for it.
 * @return 0; ENOENT when the map is not among the process's mappings (/proc/self/maps); an
 *         LMDB code; or madvise()'s errno.
 */
int ss_store_unmap(ss_store *s);

/**
 * Fill @p err from any code a store function returned, naming the store and @p what was being
 * done; a full map or disk becomes SS_EFULL, a damaged store SS_ECORRUPT. @return the code kept.
 */
int ss_store_fail(ss_store *s, ss_err *err, int rc, const char *what);

/** 1 when @p rc says the map is full: a writer grows it (ss_store_grow()) and writes again. */
int ss_store_map_full(int rc);

/** Double the map size; no transaction may be open. @return 0 or an LMDB code (err filled). */
int ss_store_grow(ss_store *s, ss_err *err);

/* ---- keeping a store for years ---- */

/**
 * Write a compacted copy of the store into directory @p dir (created; an existing one must be
 * empty): every table of a read snapshot rewritten in key order, each page filled before the
 * next begins, and no free pages. A store takes its entries in the middle of its tables (new
 * loci anywhere on the sky, a locus's alerts beside its older ones), where LMDB splits full
 * pages in two, so its pages are 55-70% full; LMDB's own compacting copy keeps them so. The
 * store may be written meanwhile; the copy holds what was committed when it began, and is
 * removed when the copy fails. Not while another thread of the process opens the store.
 * @return 0, or a code with @p err filled.
 */
int ss_store_compact(ss_store *s, const char *dir, ss_err *err);

/** The retention policy kept in the store's settings (meta): how many days, counted back from
 * the time the policy is applied, an alert keeps its stamps and its survey properties. 0 keeps
 * them forever (the default). */
typedef struct ss_store_retention {
    double cutouts_days;
    double payload_days;
} ss_store_retention;

/** Read the policy (zeros when never set). @return 0 or an LMDB code. */
int ss_store_retention_get(ss_store *s, ss_store_retention *out);
/** Keep @p r as the store's policy; the store must be open read-write. @return 0, SS_EINVAL (a
 * negative or infinite number of days) or a store failure, with @p err filled. */
int ss_store_retention_set(ss_store *s, const ss_store_retention *r, ss_err *err);

/** What ss_store_retain() dropped. */
typedef struct ss_store_retain_report {
    uint64_t payloads;     /**< alert records that lost their survey properties */
    uint64_t cutouts;      /**< stamps removed */
    uint64_t stamp_chunks; /**< chunks of stamps freed (format 11): the pages go back */
} ss_store_retain_report;

/**
 * Apply the policy as of MJD @p now_mjd: alerts observed more than payload_days before it keep
 * the fields of their light curve (ss_alert's own: position, time, band, brightness, kind,
 * object id, arrival) and lose their survey properties; stamps of alerts observed more than
 * cutouts_days before it are removed (from format 11, an alert's stamps are unreadable from
 * then on and their bytes freed with their chunk, once all its alerts are that old). Loci, light
 * curves, tags and filter outputs are kept. Runs in transactions of 2000 records each, so an
 * ingest may wait on it only briefly; the pages freed are reused by later writes, and
 * ss_store_compact() returns them to the file system. Applying it twice drops nothing more.
 * @return 0, or a code with @p err filled.
 */
int ss_store_retain(ss_store *s, double now_mjd, ss_store_retain_report *out, ss_err *err);

/**
 * Write every alert record of an older packing (before format 10, or before its survey had a
 * dictionary) again in the current one, where that is shorter: compressed with its survey's
 * dictionary, which the first records of a survey without one train. In transactions of 2000
 * records each, beside a running ingest; the pages freed are reused by later writes, and
 * ss_store_compact() returns them to the file system. Running it twice writes nothing more.
 * *repacked receives the records written again. @return 0, or a code with @p err filled.
 */
int ss_store_repack(ss_store *s, uint64_t *repacked, ss_err *err);

/* ---- transactions ---- */

/** A read snapshot or the one write transaction of the store. Every function that reads or
 * writes the store's contents takes one. */
typedef struct ss_store_txn ss_store_txn;

enum { SS_STORE_READ = 0, SS_STORE_WRITE = 1 };

/**
 * Begin a transaction. A write transaction waits for the store's other writer, if any (LMDB
 * allows one at a time); readers never wait and see the last commit as of their start.
 * @param[out] out the transaction, owned by the caller until ss_store_txn_commit() or
 * ss_store_txn_abort() frees it. @return 0, SS_ENOMEM or an LMDB code.
 */
int ss_store_txn_begin(ss_store *s, int mode, ss_store_txn **out);

/** Commit and free @p t (also on failure). Counters taken with ss_store_txn_counters() are saved
 * first. @return 0 or an LMDB code (nothing of @p t is then stored). */
int ss_store_txn_commit(ss_store_txn *t);

/** Abandon and free @p t. NULL is allowed. */
void ss_store_txn_abort(ss_store_txn *t);

/** A reader that idles between uses releases its snapshot (so it pins no pages and the map may
 * grow), then takes a fresh one. @return 0 or an LMDB code (renew). */
void ss_store_txn_reset(ss_store_txn *t);
int ss_store_txn_renew(ss_store_txn *t);

/** What ss_store_write() runs; a non-zero return aborts the transaction (@p err may say why). */
typedef int (*ss_store_write_fn)(ss_store_txn *t, void *ctx, ss_err *err);

/**
 * Run @p fn in a write transaction and commit it; when the map is full, grow it and run @p fn
 * again from the start (so @p fn must not depend on what an aborted attempt did).
 * @return 0, @p fn's code (with its message), or a store failure naming @p what.
 */
int ss_store_write(ss_store *s, ss_store_write_fn fn, void *ctx, const char *what, ss_err *err);

/** The store of @p t. */
ss_store *ss_store_txn_store(const ss_store_txn *t);

/** Counts kept in the store, updated in the same transaction as the data they count. */
typedef struct ss_store_counters {
    uint64_t alerts;        /**< stored alerts of every kind */
    uint64_t detections;    /**< stored detections */
    uint64_t upper_limits;  /**< stored upper limits */
    uint64_t loci;          /**< loci created */
    uint64_t duplicates;    /**< primary alerts already stored when they came again */
    uint64_t history_known; /**< history entries (earlier detections, limits) already stored */
    uint64_t rejected;      /**< rejected records */
    uint64_t locus_seq;     /**< next locus sequence number */
    uint64_t reject_seq;    /**< next rejected-record key */
    uint64_t ingest_seq;    /**< next ingest-run key */
    uint64_t forced;        /**< stored forced-photometry measurements (also counted in alerts) */
    uint64_t cutouts;       /**< stored cutouts */
    uint64_t catalog_id;    /**< next catalog id (the key prefix of its rows and index) */
    uint64_t catalog_ready; /**< last ready sequence: bumped when a catalog becomes ready */
    uint64_t outbox_seq;    /**< next watch outbox key */
    uint64_t packet_seq;    /**< the last packet sequence given out (ss_store_packet_next()) */
    uint64_t by_reason[SS_REASON__COUNT];
} ss_store_counters;

/**
 * The counters as @p t sees them, read on the first call. In a write transaction the caller may
 * change them through the pointer; they are saved when @p t commits. Valid until @p t ends.
 * @return NULL when they cannot be read (damaged record, or out of memory).
 */
ss_store_counters *ss_store_txn_counters(ss_store_txn *t);

/** One table's share of the store's file (ss_store_footprint()). */
typedef struct ss_store_table_use {
    const char *name;        /**< the table's name (static storage) */
    uint64_t entries;        /**< its entries */
    uint64_t pages;          /**< the pages it holds: branch, leaf and overflow */
    uint64_t overflow_pages; /**< of those, the pages of values larger than a leaf page holds */
    uint32_t depth;          /**< the height of its B-tree */
} ss_store_table_use;

/** Called once per table by ss_store_footprint(); a nonzero return stops the walk and is
 * returned. @p use lives for the call only. */
typedef int (*ss_store_table_use_fn)(void *ctx, const ss_store_table_use *use);

/** What fills the store's file, in @p t's snapshot. */
typedef struct ss_store_footprint_info {
    uint32_t page_size;  /**< bytes of a page */
    uint64_t free_pages; /**< pages no table holds (freed by earlier writes, reused by later
                              ones; `skysieve compact` leaves them out) */
    uint64_t lmdb_pages; /**< LMDB's own: its two meta pages, the list of tables and the list of
                              free pages */
} ss_store_footprint_info;

/**
 * Visit every table of the store with its entries and pages, in the order the store formats added
 * them (tables a store opened read-only lacks are left out), and count the pages no table holds.
 * With no commit since @p t began, the tables' pages, the free pages and LMDB's own add up to
 * ss_store_info_get()'s used bytes: nothing else is in the file. Reads no data page: the cost is
 * a walk of LMDB's list of free pages. @p out is filled as the walk goes, its page size before
 * the first table.
 * @return 0, the first nonzero return of @p visit, or an LMDB code.
 */
int ss_store_footprint(ss_store_txn *t, ss_store_table_use_fn visit, void *ctx,
                       ss_store_footprint_info *out);

/* ---- loci ---- */

/** Read locus @p id (SS_LOCUS_ID_LEN characters). @return 0, SS_ENOTFOUND, SS_ECORRUPT or an
 * LMDB code. */
int ss_store_locus_get(ss_store_txn *t, const char *id, ss_locus *l);

/** Write a locus record (a new one, or an update of its summary). */
int ss_store_locus_put(ss_store_txn *t, const ss_locus *l);

/** Give out the SKY id (locus_id.h) of a new locus first seen at @p mjd, @p ra, @p dec, and
 * count the locus. The id is unique as long as each id given out is written (ss_store_locus_put)
 * before the next is asked for in its pixel: its number follows the highest stored one.
 * @return 0, SS_ELIMIT when the pixel's SS_LOCUS_SKY_NMAX + 1 numbers of this year are all taken
 * (an association radius of milliarcseconds), SS_ECORRUPT when the counters are bad, or an LMDB
 * code. */
int ss_store_locus_new_id(ss_store_txn *t, double mjd, double ra, double dec,
                          char id[SS_LOCUS_ID_LEN + 1]);

/** Called for each locus of a listing; a non-zero return stops the listing and is returned. */
typedef int (*ss_store_locus_fn)(void *ctx, const ss_locus *l);

/** Every locus in id order, starting after @p after (NULL: from the first). */
int ss_store_loci_each(ss_store_txn *t, const char *after, ss_store_locus_fn fn, void *ctx);

/** Keep locus @p locus_id, now at (@p ra, @p dec), in the sky index: a new entry when @p old_ra
 * is NaN (a new locus), else its entry, found near its position before (old_ra, old_dec), moved
 * only once it is more than half an arcsecond from the new one (format 15).
 * @return 0, SS_ECORRUPT (no entry near the old position) or an LMDB code. */
int ss_store_sky_move(ss_store_txn *t, const char *locus_id, double old_ra, double old_dec,
                      double ra, double dec);

/** Called for each locus within a cone, in index order (not by distance); non-zero stops. */
typedef int (*ss_store_sky_fn)(void *ctx, const char *locus_id, double ra, double dec,
                               double sep_deg);

/** Visit every locus within @p radius_deg of (ra, dec), with its own position (its record's, which
 * the scan reads for each entry within the radius and the index's slack) and its separation.
 * @return 0, the visitor's non-zero value, SS_ECORRUPT (an entry without its locus) or an LMDB
 * code. */
int ss_store_sky_scan(ss_store_txn *t, double ra, double dec, double radius_deg,
                      ss_store_sky_fn visit, void *ctx);

/** The nearest locus within @p radius_deg; ties go to the smaller locus id, so that association
 * does not depend on the index's order. @param[out] sep_deg may be NULL.
 * @return 0 (found), SS_ENOTFOUND or an LMDB code. */
int ss_store_sky_nearest(ss_store_txn *t, double ra, double dec, double radius_deg,
                         char out[SS_LOCUS_ID_LEN + 1], double *sep_deg);

/** 1 when the store has loci_newest (format 6; an older store opened read-only lacks it). */
int ss_store_has_newest(const ss_store *s);

/** The orders a walk over loci can take (ss_store_walk_open()). */
typedef enum ss_store_order {
    SS_STORE_BY_ID = 0, /**< loci: every locus, by id */
    SS_STORE_BY_NEWEST, /**< loci_newest (format 6): every locus, by newest alert MJD, then id */
    SS_STORE_BY_TAG,    /**< tag_index: the loci of one tag, by tagged MJD, then id */
} ss_store_order;

typedef struct ss_store_walk_options {
    ss_store_order order;
    int descending;   /**< the reverse order (by MJD: the newest first) */
    const char *tag;  /**< BY_TAG: the tag; copied, so borrowed for the open only */
    double since_mjd; /**< BY_TAG: only loci tagged at or after this MJD (0: all) */
} ss_store_walk_options;

/** A walk over loci in an index's order, pulled one locus at a time: a search stops after its
 * page, and steps over earlier pages reading keys only, never a locus record. */
typedef struct ss_store_walk ss_store_walk;

/**
 * Start a walk in @p t. A tag no locus carries, or a store without tags (format 1 opened
 * read-only), gives an empty walk.
 * @param[out] out owned by the caller until ss_store_walk_close(), usable while @p t is.
 * @return 0; SS_EVERSION for BY_NEWEST without loci_newest (ss_store_has_newest()); SS_ENOMEM
 *         or an LMDB code.
 */
int ss_store_walk_open(ss_store_txn *t, const ss_store_walk_options *o, ss_store_walk **out);

/**
 * The next locus of the walk: its id and the MJD its place in the index says (the newest alert's
 * or the tag's; NAN for BY_ID, and for a locus with no newest alert). Loci with a NaN newest MJD
 * come last both ways.
 * @return 1 (a locus), 0 (no more), SS_ECORRUPT or an LMDB code.
 */
int ss_store_walk_next(ss_store_walk *w, char id[SS_LOCUS_ID_LEN + 1], double *mjd);

/** NULL is allowed. */
void ss_store_walk_close(ss_store_walk *w);

/* ---- alerts ---- */

/** Called with each survey that has stored alerts; non-zero stops. */
typedef int (*ss_store_survey_fn)(void *ctx, const char *survey);

/** The surveys of the stored alerts, in name order: one seek per survey, not a walk of the
 * alerts. @return 0, the visitor's non-zero value, SS_ECORRUPT or an LMDB code. */
int ss_store_surveys_each(ss_store_txn *t, ss_store_survey_fn fn, void *ctx);

/** Whether an alert is stored, and on which locus (@p locus_id may be NULL), found by its id. An
 * upper limit listed under its object (format 17) is found by a walk of its object's groups:
 * ingest asks ss_store_alert_known() instead.
 * @return 0 (stored), SS_ENOTFOUND, SS_ECORRUPT or an LMDB code. */
int ss_store_alert_find(ss_store_txn *t, const char *survey, const char *alert_id,
                        char locus_id[SS_LOCUS_ID_LEN + 1]);

/** Whether measurement @p a (its survey, alert id, kind and object id read) is stored: an upper
 * limit with an object id looked for in its object's list (format 17), any other by its id.
 * @return 0 (stored), SS_ENOTFOUND, SS_ECORRUPT or an LMDB code. */
int ss_store_alert_known(ss_store_txn *t, const ss_alert *a);

/** What association needs to know of a stored alert without decoding it. */
typedef struct ss_store_alert_head {
    char locus_id[SS_LOCUS_ID_LEN + 1];
    ss_alert_kind kind;
    double mjd;
    /** Its ss_alert.arrival and arrival_index (0, 0 in records older than skysieve 0.2). An
     * arrival_index above 0 means it came in as another alert's history entry (a ZTF
     * prv_candidates entry): the survey's history fields only, without stamps. */
    uint64_t arrival;
    uint32_t arrival_index;
} ss_store_alert_head;

/** The head of stored alert @p alert_id of @p survey, indexed by its id (not an upper limit
 * listed under its object: ss_store_alert_find()).
 * @return 0, SS_ENOTFOUND, SS_ECORRUPT or an LMDB code. */
int ss_store_alert_head_get(ss_store_txn *t, const char *survey, const char *alert_id,
                            ss_store_alert_head *out);

/**
 * Replace a stored history entry by the same measurement as its survey's full alert (more fields;
 * @p a carries its new arrival). Its locus, time and kind stay: the counters, the locus's time
 * order and its summary do not change. Its survey object id is indexed when it brings one.
 * @return 0, SS_ENOTFOUND, SS_EINVAL when @p a is not the same measurement (another locus, kind or
 * time), SS_ENOMEM or an LMDB code.
 */
int ss_store_alert_upgrade(ss_store_txn *t, const ss_alert *a, const char *locus_id,
                           const ss_prop *survey_locus, uint32_t nsurvey_locus);

/** The next packet sequence number (from 1), for the arrival of what a packet stores
 * (ss_alert.arrival). @return 0 when the counters cannot be read. */
uint64_t ss_store_packet_next(ss_store_txn *t);

/**
 * Store an alert of locus @p locus_id as an entry of its own (as before format 16; an ingest
 * stores a packet's alerts as one group, ss_store_group_begin()): its record (with its arrival,
 * and for a primary the survey's locus properties its packet carried, @p nsurvey_locus of them,
 * may be 0), its place in the locus's time order, its survey object id, and the counters.
 * @return 0, EEXIST when it is stored already (nothing written), SS_ENOMEM or an LMDB code.
 */
int ss_store_alert_put(ss_store_txn *t, const ss_alert *a, const char *locus_id,
                       const ss_prop *survey_locus, uint32_t nsurvey_locus);

/**
 * Start the group of a packet's measurements that join locus @p locus_id: the alerts
 * ss_store_group_add() takes until ss_store_group_end() are stored as one entry (format 16),
 * each indexed by its id as ss_store_alert_put() would. @p packet: their arrival
 * (ss_store_packet_next()). A transaction holds one group at a time.
 * @return 0, SS_EINVAL (a read transaction, packet 0).
 */
int ss_store_group_begin(ss_store_txn *t, const char *locus_id, uint64_t packet);

/**
 * Add @p a to the open group: its id indexed at once, its object id indexed, the counters moved;
 * its record is packed at ss_store_group_end(). @p a's strings and properties, and @p
 * survey_locus (a primary's, @p nsurvey_locus of them, may be 0), are borrowed until then.
 * Alerts are added in their packet's order (ascending arrival_index).
 * @return 0, EEXIST when its id is stored already (nothing written), SS_EINVAL (no group open,
 * an arrival that is not the group's, an index not above the last one taken, a history lead: an
 * upgrade is ss_store_alert_upgrade()'s), SS_ENOMEM or an LMDB code.
 */
int ss_store_group_add(ss_store_txn *t, const ss_alert *a, const ss_prop *survey_locus,
                       uint32_t nsurvey_locus);

/**
 * Packets' groups packed before their write transaction: packing and compressing them is about a
 * third of a ZTF ingest's writing, and another thread (an ingest's decoding one) can do it while
 * the writer writes the batch before. Only groups whose names' dictionary ids and survey group
 * dictionary a committed transaction made are packed; the others are left to the writer.
 * Opaque; its maker owns it, one thread at a time, and frees it before the store. It holds any
 * number of groups until ss_store_lists_reset().
 */
typedef struct ss_store_lists ss_store_lists;

/** A new, empty set for groups of @p s. @return NULL when out of memory. */
ss_store_lists *ss_store_lists_new(ss_store *s);

/** Free @p ls (NULL: nothing). */
void ss_store_lists_free(ss_store_lists *ls);

/** Forget every group, keeping the memory for the next ones. A survey found without a committed
 * group dictionary is looked for again after it. */
void ss_store_lists_reset(ss_store_lists *ls);

/** The group packed next is one packet's, whose property names stay where they are meanwhile: a
 * list of names that comes again among its alerts (a ZTF alert's history entries share one) is
 * then looked up in the dictionary once, and found again by the names' addresses. Call it before
 * each packet; the names of the packet before may have been freed since, and their addresses
 * reused for others. A set never told (or told nothing since ss_store_lists_reset()) looks every
 * list up by its names. */
void ss_store_lists_packet(ss_store_lists *ls);

/**
 * Pack the @p n alerts of one packet (the primary's survey locus properties, @p nsurvey_locus of
 * them, may be 0) as ss_store_group_end() writes them, numbered 0 to @p n - 1 in the packet,
 * into @p ls: the primary and each history entry that kept its survey fields (one ss_packet.known
 * found stored has none, and the writer finds it stored). Origins are written inline, as the
 * writer writes them.
 * @param snap a read transaction of the store (the committed dictionaries it sees), used during
 *        the call only; NULL: nothing is packed.
 * @param[out] index what ss_store_group_end() is given; given also when the group is left to the
 *        writer.
 * @return 0 or SS_ENOMEM. A store error while looking is not one: the writer packs it then.
 */
int ss_store_lists_group(ss_store_lists *ls, ss_store_txn *snap, const ss_alert *alerts, uint32_t n,
                         const ss_prop *survey_locus, uint32_t nsurvey_locus, uint32_t *index);

/** The bytes @p ls holds, for its maker's memory bound. */
size_t ss_store_lists_bytes(const ss_store_lists *ls);

/**
 * Write the open group's entry (nothing when it took no alert) and close it. @p ls, item @p index:
 * the group packed before the transaction (ss_store_lists_group()), used when it holds exactly
 * the packet's alerts, every one taken; NULL, or any other: packed here. The entry written is the
 * same either way. @return 0, SS_EINVAL (no group open), SS_ECORRUPT (the packet has an entry for
 * the locus already), SS_ENOMEM or an LMDB code.
 */
int ss_store_group_end(ss_store_txn *t, const ss_store_lists *ls, uint32_t index);

/** One stored alert, decoded into @p pkt (added to it: *out is owned by @p pkt).
 * @return 0, SS_ENOTFOUND, SS_ECORRUPT, SS_ENOMEM or an LMDB code. */
int ss_store_alert_get(ss_store_txn *t, const char *survey, const char *alert_id, ss_packet *pkt,
                       ss_alert **out);

/** The survey's locus properties (Rubin's diaObject) the packet of a stored primary alert
 * carried, into @p arena (none for other alerts and before store format 5 with record 3).
 * @return 0, SS_ENOTFOUND, SS_ECORRUPT, SS_ENOMEM or an LMDB code. */
int ss_store_alert_survey_locus(ss_store_txn *t, const char *survey, const char *alert_id,
                                ss_arena *arena, ss_prop **props, uint32_t *n);

/**
 * Append every measurement of locus @p locus_id to @p pkt, decoded, in time order (alerts,
 * history and forced photometry alike; strings and properties live in @p pkt's arena).
 * @return 0 (none is not an error), SS_ENOMEM, SS_ECORRUPT or an LMDB code.
 */
int ss_store_locus_alerts(ss_store_txn *t, const char *locus_id, ss_packet *pkt);

/** Called with each (survey, locus) an object id names; non-zero stops. Strings are valid
 * during the call only. */
typedef int (*ss_store_object_fn)(void *ctx, const char *survey, const char *locus_id);

/** The loci a survey object id names (in any survey). */
int ss_store_object_each(ss_store_txn *t, const char *object_id, ss_store_object_fn fn, void *ctx);

/* ---- filter outputs: properties and tags ---- */

/** The filter-written properties of a locus (and the survey's own locus properties), copied
 * into @p arena; none gives *n = 0. @return 0, SS_ECORRUPT, SS_ENOMEM or an LMDB code. */
int ss_store_locus_props(ss_store_txn *t, const char *locus_id, ss_arena *arena, ss_prop **props,
                         uint32_t *n);
/** The filter-written properties of an alert, as ss_store_locus_props(). */
int ss_store_alert_props(ss_store_txn *t, const char *survey, const char *alert_id, ss_arena *arena,
                         ss_prop **props, uint32_t *n);

/** Merge @p add into the properties stored for a locus (same names replaced), @p scratch
 * holding the merged bag meanwhile. @return 0, SS_ENOMEM, SS_ECORRUPT or an LMDB code. */
int ss_store_locus_props_merge(ss_store_txn *t, const char *locus_id, const ss_prop *add, size_t n,
                               ss_arena *scratch);
/** The same for an alert's properties. */
int ss_store_alert_props_merge(ss_store_txn *t, const char *survey, const char *alert_id,
                               const ss_prop *add, size_t n, ss_arena *scratch);

/** Put the survey's own locus properties (Rubin's diaObject) into the locus's bag: they replace
 * those of the same names and go after the others (filter outputs among them). */
int ss_store_locus_props_survey(ss_store_txn *t, const char *locus_id, const ss_prop *props,
                                uint32_t n, ss_arena *scratch);

/** Every property bag of a table in key order, pulled one at a time (a replay compares two
 * stores side by side with it). */
typedef struct ss_store_bags ss_store_bags;

enum { SS_STORE_LOCUS_BAGS = 0, SS_STORE_ALERT_BAGS = 1 };

/** @param which SS_STORE_LOCUS_BAGS or SS_STORE_ALERT_BAGS. @param[out] out owned by the caller
 * until ss_store_bags_close(), valid while @p t is. @return 0, SS_ENOMEM or an LMDB code. */
int ss_store_bags_open(ss_store_txn *t, int which, ss_store_bags **out);

/**
 * The next bag: its key (a locus id, or survey NUL alert id; not NUL-terminated, valid until the
 * transaction ends) and its properties, copied into @p arena.
 * @return 1 (a bag), 0 (no more), or SS_ECORRUPT, SS_ENOMEM or an LMDB code.
 */
int ss_store_bags_next(ss_store_bags *it, ss_arena *arena, const char **key, size_t *klen,
                       ss_prop **props, uint32_t *n);

/** NULL is allowed. */
void ss_store_bags_close(ss_store_bags *it);

/** Record tag @p tag on a locus, set by @p filter while running on alert (survey, alert_id)
 * observed at @p mjd. A tag is recorded once: the first filter, alert and time stay.
 * @return 0 (also when it was there), SS_EINVAL for a tag longer than SS_TAG_MAX, or an LMDB
 * code. */
int ss_store_tag_add(ss_store_txn *t, const char *locus_id, const char *tag, const char *filter,
                     const char *survey, const char *alert_id, double mjd);

/** The record of one tag of a locus. @return 0, SS_ENOTFOUND, SS_ECORRUPT or an LMDB code. */
int ss_store_tag_get(ss_store_txn *t, const char *locus_id, const char *tag, ss_tag_record *out);

/** Called for each tag of a locus (@p tag not NUL-terminated, @p len bytes); non-zero stops. */
typedef int (*ss_store_tag_fn)(void *ctx, const char *tag, size_t len, const ss_tag_record *rec);

/** Every tag of a locus, in tag order. */
int ss_store_locus_tags(ss_store_txn *t, const char *locus_id, ss_store_tag_fn fn, void *ctx);

/** Called for each locus carrying a tag, with the tag's MJD; non-zero stops. */
typedef int (*ss_store_tagged_fn)(void *ctx, const char *locus_id, double mjd);

/** Every locus tagged @p tag at or after @p since_mjd, in order of that MJD. */
int ss_store_tagged_each(ss_store_txn *t, const char *tag, double since_mjd, ss_store_tagged_fn fn,
                         void *ctx);

/** Called for each tag with the MJD of its newest tagged locus; non-zero stops. */
typedef int (*ss_store_tags_fn)(void *ctx, const char *tag, double newest_mjd);

/**
 * Every tag set on any locus, in tag order, with the latest MJD it was set at. Cost: three
 * cursor operations per distinct tag (a seek past the tag's entries, a step back to its newest,
 * a step on to the next tag), however many loci carry it; the number of loci is not given,
 * since counting them is a walk over every entry.
 * @param tag NUL-terminated, valid during the call only.
 * @return 0 (no tags is not an error), the visitor's value, SS_ECORRUPT or an LMDB code.
 */
int ss_store_tags_each(ss_store_txn *t, ss_store_tags_fn fn, void *ctx);

/* ---- cutouts ---- */

/** Store the stamps of alert @p a: @p cutouts holds SS_CUTOUT__COUNT of them, indexed by kind,
 * data NULL for a kind it lacks. Read back as sent (a stamp not compressed already is kept
 * compressed). @return 0 (stamps already stored for the alert are kept as they were), SS_ENOMEM
 * or an LMDB code. */
int ss_store_cutouts_put(ss_store_txn *t, const ss_alert *a, const ss_cutout *cutouts);

/**
 * Stamps compressed as the store keeps them, before their write transaction: the compression of
 * Rubin's plain FITS stamps is most of a writer's work, and another thread (an ingest's decoding
 * one) can do it while the writer writes the batch before. Opaque; its maker owns it, one thread
 * at a time. It holds any number of alerts' stamps until ss_store_stamps_reset().
 */
typedef struct ss_store_stamps ss_store_stamps;

/** A new, empty set, which compresses at SS_STAMP_LEVEL. @return NULL when out of memory. */
ss_store_stamps *ss_store_stamps_new(void);

/** A new, empty set, which compresses as the writers of store handle @p s do
 * (ss_store_options.stamp_level): the records are then the ones @p s would write itself.
 * @return NULL when out of memory. */
ss_store_stamps *ss_store_stamps_new2(const ss_store *s);

/** Free @p st (NULL: nothing). */
void ss_store_stamps_free(ss_store_stamps *st);

/** Forget every alert's stamps, keeping the memory for the next ones. */
void ss_store_stamps_reset(ss_store_stamps *st);

/**
 * Take the stamps of @p cutouts (SS_CUTOUT__COUNT, as for ss_store_cutouts_put()) into @p st:
 * those the store compresses compressed, the others copied as sent. @p cutouts' bytes may be
 * freed once this returns; ss_store_cutouts_put2() reads only their lengths and file names.
 * FITS stamps are compressed with the stamps dictionary the last ss_store_stamps_pack2() of @p st
 * found, none before.
 * @param[out] index what ss_store_cutouts_put2() is given for them.
 * @return 0 or SS_ENOMEM.
 */
int ss_store_stamps_pack(ss_store_stamps *st, const ss_cutout *cutouts, uint32_t *index);

/**
 * ss_store_stamps_pack() of an alert of @p survey, its FITS stamps compressed with the survey's
 * stamps dictionary (format 14) as @p snap sees it: a read transaction of the same store handle
 * (the committed store), used only during this call. The dictionary is made by the writer from
 * the first alert it stores with FITS stamps; until @p snap sees one, or with @p snap or
 * @p survey NULL, the stamps are packed without. The dictionary's prepared form is the store
 * handle's, kept until it closes.
 * @return 0, SS_ENOMEM, or an error of @p snap's store (SS_ECORRUPT, an LMDB code).
 */
int ss_store_stamps_pack2(ss_store_stamps *st, ss_store_txn *snap, const char *survey,
                          const ss_cutout *cutouts, uint32_t *index);

/** The bytes @p st holds, for its maker's memory bound. */
size_t ss_store_stamps_bytes(const ss_store_stamps *st);

/**
 * ss_store_cutouts_put() of stamps packed already: @p index of @p st, packed from the same
 * @p cutouts, of which only the lengths and file names are read (their bytes may be gone). The
 * record written is the one ss_store_cutouts_put() writes, but for the stamps dictionary: @p st's
 * records use the one its packing found, if any. @p st NULL: packed here.
 * @return as ss_store_cutouts_put(); SS_EINVAL when @p index is not one of @p st.
 */
int ss_store_cutouts_put2(ss_store_txn *t, const ss_alert *a, const ss_cutout *cutouts,
                          const ss_store_stamps *st, uint32_t index);

/** One stored stamp, borrowed from the store until the transaction ends. */
typedef struct ss_store_cutout {
    const char *survey; /**< NUL-terminated */
    ss_cutout_kind kind;
    const char *file_name;
    size_t file_name_len;
    const void *bytes;
    size_t len;
} ss_store_cutout;

/** Called for each stamp; non-zero stops. */
typedef int (*ss_store_cutout_fn)(void *ctx, const ss_store_cutout *c);

/** The stamps of alert @p alert_id (of @p survey, or of any survey when NULL), by survey then
 * kind. @return 0 (none is not an error), SS_ECORRUPT or an LMDB code. */
int ss_store_cutouts_each(ss_store_txn *t, const char *alert_id, const char *survey,
                          ss_store_cutout_fn fn, void *ctx);

/* ---- rejected records and ingest runs ---- */

/** Keep a rejected record (the reason, where it came from, its raw text: @p raw_len bytes of any
 * value, NULs and bytes that are not UTF-8 included; NULL when there is none) and count it.
 * Readers escape it when they print it (json_text.h). The caller bounds it (ingest: 4 KiB). @return
 * 0, SS_ENOMEM or an LMDB code. */
int ss_store_reject_put(ss_store_txn *t, ss_reason reason, const char *origin, uint64_t line,
                        const char *detail, const char *raw, size_t raw_len);

/** A stored rejected record; strings are not NUL-terminated and live until the transaction
 * ends. */
typedef struct ss_store_rejected {
    uint64_t seq;
    const char *reason, *origin, *detail, *raw; /**< raw is NULL when there was none */
    size_t reason_len, origin_len, detail_len, raw_len;
    uint64_t line;
    double time; /**< unix time it was rejected */
} ss_store_rejected;

/** Called for each rejected record in order; non-zero stops. */
typedef int (*ss_store_rejected_fn)(void *ctx, const ss_store_rejected *r);

int ss_store_rejected_each(ss_store_txn *t, ss_store_rejected_fn fn, void *ctx);

/** Append an ingest run (a JSON text) to the store's log of runs. */
int ss_store_run_put(ss_store_txn *t, const char *json);

/** The last ingest run recorded (borrowed until the transaction ends). @return 0, SS_ENOTFOUND or
 * an LMDB code. */
int ss_store_run_last(ss_store_txn *t, const char **json, size_t *len);

#endif
