/**
 * @file catalog_impl.h
 * @brief Private to core/assoc/: catalog records, the file readers, and matching loci (xmatch.c).
 */
#ifndef SS_CATALOG_IMPL_H
#define SS_CATALOG_IMPL_H

#include "arena.h"
#include "catalog.h"
#include "record.h"
#include "store_table.h"

#include <stdint.h>

/* ---- catalog records (the `catalogs` table) ---- */

typedef enum ssi_catalog_state {
    SSI_CAT_LOADING = 0, /* rows being written: invisible */
    SSI_CAT_READY = 1,
    SSI_CAT_DROPPING = 2, /* being removed: invisible */
} ssi_catalog_state;

/** A catalog record. Strings point into the value it was decoded from (or the caller's memory),
 * NUL-terminated copies in @p arena when decoded with one. */
typedef struct ssi_catalog {
    uint64_t id;
    ss_catalog_kind kind;
    ssi_catalog_state state;
    const char *name;
    uint64_t ready_seq; /* 0 until ready */
    uint64_t rows, bad;
    double radius_arcsec;      /* fixed radius; 0 with a radius column */
    const char *radius_column; /* NULL for a fixed radius */
    double radius_unit_arcsec;
    double max_radius_arcsec; /* the largest row radius: the search cone */
    double zone_height_deg;
    const char *ra_column, *dec_column, *id_column; /* id_column NULL: the row number is the id */
    int32_t id_index;                               /* index of id_column in columns, or -1 */
    uint32_t ncols;
    const char **columns;
    const char *source;
    double loaded; /* unix time the load started */
    const char *webhook;
    uint32_t pid; /* the loading process, while loading */
} ssi_catalog;

void ssi_catalog_encode(const ssi_catalog *c, ss_wbuf *b);
/** Decode a record, copying strings into @p arena. @return 0, SS_ECORRUPT or SS_ENOMEM. */
int ssi_catalog_decode(const void *data, size_t len, uint64_t id, ss_arena *arena, ssi_catalog *c);
/** Read catalog @p id. @return 0, MDB_NOTFOUND, SS_ECORRUPT or an LMDB code. */
int ssi_catalog_get(ss_store_txn *txn, uint64_t id, ss_arena *arena, ssi_catalog *c);

/** Encode a row's values (types and values; strings copied) into @p b (reset first). */
void ssi_row_encode(const ss_value *vals, uint32_t n, ss_wbuf *b);
/** Decode a row; strings are copied into @p arena. @return 0, SS_ECORRUPT or SS_ENOMEM. */
int ssi_row_decode(const void *data, size_t len, ss_arena *arena, ss_value **vals, uint32_t *n);

/** Keys: catalog_rows (16 bytes), catalog_sky (28 bytes) and catalog_loci (catalog id, locus id:
 * 27 bytes). */
#define SSI_CATSKY_KEY  28
#define SSI_CATLOCI_KEY (8 + SS_LOCUS_ID_LEN)
void ssi_key_catalog_row(unsigned char k[16], uint64_t id, uint64_t row);
void ssi_key_catalog_sky(unsigned char k[SSI_CATSKY_KEY], uint64_t id, uint32_t zone,
                         uint64_t ra_key, uint64_t row);
void ssi_key_catalog_locus(unsigned char k[SSI_CATLOCI_KEY], uint64_t id, const char *locus_id);

/* ---- reading catalog files (catalog_read.c) ---- */

typedef struct ssi_catreader ssi_catreader;

/**
 * Open a CSV file or a FITS binary table (.fits, .fits.gz; detected by content).
 * @return 0, SS_EFORMAT (not a catalog: the message says why), or an errno.
 */
int ssi_catreader_open(const char *path, ssi_catreader **out, ss_err *err);
void ssi_catreader_close(ssi_catreader *r);
/** The columns (vector FITS columns are left out). */
uint32_t ssi_catreader_ncols(const ssi_catreader *r);
const char *ssi_catreader_col(const ssi_catreader *r, uint32_t i);
/** Columns the reader left out, as a note ("" when none). */
const char *ssi_catreader_skipped(const ssi_catreader *r);
/**
 * The next row: ncols values (strings point into the reader, valid until the next call).
 * @param[out] line the row's number among the data rows (1-based).
 * @return 1 (a row), 0 (end), or an error (err set; SS_EFORMAT for a damaged file).
 */
int ssi_catreader_next(ssi_catreader *r, const ss_value **vals, uint64_t *line, ss_err *err);

/** Pick the column of a role among @p cols (the user's choice when @p want is set).
 * @return its index, or -1. */
int ssi_catalog_pick_ra(const char *const *cols, uint32_t n);
int ssi_catalog_pick_dec(const char *const *cols, uint32_t n);
int ssi_catalog_pick_id(const char *const *cols, uint32_t n);
/** A value as an angle in degrees (numbers are degrees; text is parsed with ss_sky_parse_angle()).
 */
int ssi_value_angle(const ss_value *v, int is_ra, double *deg, const char **why);
/** A value as a finite number. @return 0 or -1. */
int ssi_value_number(const ss_value *v, double *out);

/* ---- matching (xmatch.c) ---- */

/** The ready catalogs of a store, as one ingest batch sees them. Owned by the ingest. */
typedef struct ssi_catalogs {
    ss_arena *arena;
    ssi_catalog *items;
    size_t n;
    uint64_t ready_seq; /* the highest ready sequence among them */
} ssi_catalogs;

/** Read the ready catalogs in @p txn (the previous list is forgotten). @return 0 or an LMDB code.
 */
int ssi_catalogs_load(ss_store_txn *txn, ssi_catalogs *c);
void ssi_catalogs_free(ssi_catalogs *c);

/** Rows found near a position: row number and separation (arcsec). Owns items (free()). */
typedef struct ssi_hit {
    uint64_t row;
    double sep;
} ssi_hit;

typedef struct ssi_hits {
    ssi_hit *items;
    size_t n, cap;
} ssi_hits;

/** @return 0 or SS_ENOMEM. */
int ssi_hits_add(ssi_hits *h, uint64_t row, double sep);
/** Nearest first; ties by row number. */
void ssi_hits_sort(ssi_hits *h);

/** Called for each row a scan of a catalog's index finds, with its separation from the scan's
 * centre and its own match radius (arcsec); non-zero stops the scan. */
typedef int (*ssi_row_fn)(void *ctx, uint64_t row, double sep_arcsec, double radius_arcsec);

/**
 * Visit the rows of catalog @p c in the zones and RA ranges that hold every point within
 * @p radius_arcsec of (ra, dec), in index order; rows a little outside are visited too, so the
 * visitor decides by the separation. @p cur: a cursor on SS_STORE_CATALOG_SKY.
 * @return 0, the visitor's value, SS_ECORRUPT or an LMDB code.
 */
int ssi_catalog_sky_scan(MDB_cursor *cur, const ssi_catalog *c, double ra, double dec,
                         double radius_arcsec, ssi_row_fn fn, void *ctx);

/** Read a row of @p c with its id (the id column's value as text, or the row number), all in
 * @p arena. @return 0, SS_ECORRUPT (no such row), SS_ENOMEM or an LMDB code. */
int ssi_row_object(ss_store_txn *txn, const ssi_catalog *c, uint64_t row, ss_arena *arena,
                   const char **object, ss_value **vals, uint32_t *n);

/** The alert whose arrival matched a locus, for watch hits. */
typedef struct ssi_xmatch_ctx {
    ss_store_txn *txn;
    ss_wbuf *buf;
    const ssi_catalogs *catalogs;
} ssi_xmatch_ctx;

/**
 * Match a locus against the catalogs it has not been matched against yet (all of them when
 * @p created), storing the matches, the marker and any watch hits (caused by @p trigger).
 * @return 0 or an LMDB/SS_E* code.
 */
int ssi_xmatch_locus(ssi_xmatch_ctx *x, const ss_locus *l, int created, const ss_alert *trigger);

/** A value as text in @p arena (numbers printed, NULL as ""). NULL when out of memory. */
const char *ssi_value_text(const ss_value *v, ss_arena *arena);

#endif
