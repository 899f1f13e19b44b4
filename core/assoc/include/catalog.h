/**
 * @file catalog.h
 * @brief Catalogs and watch lists kept in a store, matched against every locus.
 *
 * A catalog is a table of sky positions with columns (CSV or a FITS binary table) loaded under a
 * name. A watch list is a catalog of the watch kind (columns name, ra, dec, radius) whose new hits
 * go to the store's outbox (watch.h). Both share one index and one matching code path.
 *
 * Matching rule: a locus matches a row when their separation is at most the row's radius (a fixed
 * radius for the catalog, or a per-row radius column). A locus is matched against every ready
 * catalog when it is created, in the transaction of the alert that created it, and against
 * catalogs made ready later when it is next updated; it is matched at its position of that moment.
 * A catalog's matches of one locus are kept sorted by separation, at most SS_XMATCH_CAP of them.
 *
 * Loading commits in chunks (a live broker writes to the same store meanwhile): the catalog is
 * invisible to matching until its last commit marks it ready. A load that stops half-way leaves
 * a catalog in state "loading", never matched; the next load of that name (or a drop) removes it.
 */
#ifndef SS_CATALOG_H
#define SS_CATALOG_H

#include "store.h"

#include <jansson.h>
#include <stdint.h>

/** Matches kept per locus and catalog (the nearest ones). */
#define SS_XMATCH_CAP 100
/** Longest catalog or watch-list name. Names use letters, digits, '_', '-' and '.'. */
#define SS_CATALOG_NAME_MAX 64
/** Default match radius in arcseconds. */
#define SS_CATALOG_DEFAULT_RADIUS 1.0

typedef enum ss_catalog_kind {
    SS_CATALOG_KIND_CATALOG = 0,
    SS_CATALOG_KIND_WATCH = 1,
} ss_catalog_kind;

/** How to load a catalog. Strings are borrowed for the call. */
typedef struct ss_assoc_catalog_options {
    const char *name; /**< required */
    const char *path; /**< CSV, FITS binary table (.fits, .fits.gz) */
    ss_catalog_kind kind;
    double radius_arcsec;      /**< fixed radius (0: SS_CATALOG_DEFAULT_RADIUS) */
    const char *radius_column; /**< per-row radius column, or NULL for the fixed radius */
    double radius_unit_arcsec; /**< arcseconds per unit of radius_column (0: 1, arcsec) */
    const char *ra_column, *dec_column, *id_column; /**< NULL: detected from usual names */
    const char *columns; /**< comma-separated columns to keep; NULL: every column */
    const char *webhook; /**< watch lists: the URL hits are POSTed to, or NULL */
    int replace;         /**< replace a catalog of that name (refused otherwise) */
    uint64_t chunk_rows; /**< rows per write transaction (0: 200000) */
    /** Notes for the user (chosen columns, bad rows, skipped columns); may be NULL. */
    void (*note)(void *ctx, const char *text);
    /** Called after each chunk commits (rows so far); non-zero stops the load as if it had been
     * killed, leaving the half-loaded catalog invisible. May be NULL. */
    int (*on_chunk)(void *ctx, uint64_t rows);
    void *ctx;
} ss_assoc_catalog_options;

/** What a load did. */
typedef struct ss_assoc_catalog_result {
    uint64_t rows;    /**< rows loaded */
    uint64_t bad;     /**< rows refused (bad coordinates, radius) */
    double seconds;   /**< wall time */
    double read_s;    /**< reading the file and storing the rows */
    double index_s;   /**< sorting and writing the index */
    uint64_t commits; /**< write transactions */
} ss_assoc_catalog_result;

/**
 * Load a catalog (or watch list) from a file into @p s (opened read-write).
 * @return 0; EEXIST when the name is taken (without replace), EBUSY while another process loads
 *         it, SS_EFORMAT for a file that is
 *         not a catalog (nothing is then loaded), SS_EINVAL for bad options, or a store error.
 */
int ss_assoc_catalog_load(ss_store *s, const ss_assoc_catalog_options *o,
                          ss_assoc_catalog_result *res, ss_err *err);

/** Drop the catalog (or watch list) @p name with its rows, index and matches. Done in chunks; the
 * catalog disappears from matching in the first. @return 0, SS_ENOTFOUND or a store error. */
int ss_assoc_catalog_drop(ss_store *s, const char *name, ss_catalog_kind kind, ss_err *err);

/**
 * The catalogs of @p kind as a JSON array of {name, kind, state, rows, bad_rows, radius_arcsec |
 * radius_column + radius_unit_arcsec, max_radius_arcsec, ra_column, dec_column, id_column,
 * columns[], source, loaded (ISO time), webhook}. @param[out] out caller owns.
 */
int ss_assoc_catalog_list(ss_store *s, ss_catalog_kind kind, json_t **out, ss_err *err);

/**
 * Copy every ready catalog and watch list of @p src (any open store) into @p dst (read-write), as
 * replays do so that filters see the matches they would see live. Names already in @p dst are
 * refused (EEXIST). @param[out] copied how many were copied. @return 0 or a store error.
 */
int ss_assoc_catalog_copy_all(ss_store *dst, ss_store *src, size_t *copied, ss_err *err);

/** One stored match of a locus, decoded for readers. */
typedef struct ss_assoc_match {
    const char *catalog;
    ss_catalog_kind kind;
    uint64_t row;
    double separation_arcsec;
    const char *object_id; /* the id column's value as text, or the row number */
    uint32_t ncols;
    const char *const *names;
    const ss_value *values;
} ss_assoc_match;

/**
 * Read the matches of a locus with their rows, ready catalogs only, by catalog id then
 * separation. Everything lives in @p arena. @return 0 or an LMDB/SS_E* code.
 */
int ss_assoc_matches(ss_store_txn *txn, const char *locus_id, ss_arena *arena, ss_assoc_match **out,
                     size_t *n);

/* ---- searching ---- */

/** The widest cone ss_assoc_catalog_cone() searches (10 degrees, the widest match radius). */
#define SS_CATALOG_CONE_MAX_ARCSEC 36000.0

/**
 * The id of the ready catalog (or watch list, by @p kind) named @p name: what its rows, index and
 * matches are keyed by. A catalog being loaded, replaced or dropped is not found by its old id.
 * @return 0, SS_ENOTFOUND (no ready catalog of that name and kind), SS_ENOMEM or a store code.
 */
int ss_assoc_catalog_id(ss_store_txn *txn, const char *name, ss_catalog_kind kind, uint64_t *id);

/** Whether locus @p locus_id matched catalog @p catalog_id. @return 0 (it did), SS_ENOTFOUND
 * or a store code. */
int ss_assoc_locus_matched(ss_store_txn *txn, const char *locus_id, uint64_t catalog_id);

/** A walk over the loci a catalog matched, in locus id order, pulled one locus at a time. */
typedef struct ss_assoc_loci ss_assoc_loci;

/**
 * Start a walk over the loci catalog @p catalog_id matched, by locus id (@p descending: the
 * reverse). Through catalog_loci (store format 6): only the catalog's own entries are read; in a
 * format 5 store opened read-only, by a scan of every locus's matches, which costs the whole
 * locus_matches table however few loci the catalog matched (ss_assoc_loci_indexed() says which).
 * @param[out] out owned by the caller until ss_assoc_loci_close(), usable while @p txn is.
 * @return 0, SS_ENOMEM or a store code.
 */
int ss_assoc_loci_open(ss_store_txn *txn, uint64_t catalog_id, int descending, ss_assoc_loci **out);
/** @return 1 (@p locus_id filled), 0 (no more), SS_ECORRUPT or a store code. */
int ss_assoc_loci_next(ss_assoc_loci *it, char locus_id[SS_LOCUS_ID_LEN + 1]);
/** 1 when the walk reads catalog_loci, 0 when it scans locus_matches. */
int ss_assoc_loci_indexed(const ss_assoc_loci *it);
/** NULL is allowed. */
void ss_assoc_loci_close(ss_assoc_loci *it);

/**
 * A cone search in a catalog: the rows of the ready catalog (or watch list) @p name whose
 * position is within @p radius_arcsec of (ra, dec), nearest first (ties by row number), at most
 * @p max of them, each with its columns as ss_assoc_matches() gives them (separation_arcsec from
 * the cone's centre). Read through the zone index the matcher uses: the cost is the rows in the
 * cone's zones and RA ranges, not the catalog's size.
 * @param arena receives the rows, their values and the column names.
 * @param[out] total when not NULL, every row within the radius (may exceed @p max).
 * @return 0 (no row is not an error); SS_EINVAL for ra outside [0, 360), dec outside [-90, 90] or
 *         a radius outside (0, SS_CATALOG_CONE_MAX_ARCSEC]; SS_ENOTFOUND for no ready catalog of
 *         that name and kind; SS_ENOMEM or a store code.
 */
int ss_assoc_catalog_cone(ss_store_txn *txn, const char *name, ss_catalog_kind kind, double ra,
                          double dec, double radius_arcsec, size_t max, ss_arena *arena,
                          ss_assoc_match **out, size_t *n, size_t *total);

#endif
