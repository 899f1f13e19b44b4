/**
 * @file store_table.h
 * @brief Tables the store keeps in its transactions for another stage, which owns their keys and
 * values: the catalogs, their rows and index, the loci's matches and the watch-list outbox
 * (core/assoc/, catalog_impl.h), and the broker's bookkeeping in meta (core/broker/: the journal
 * position and the spool files a commit completed, under keys of its own).
 *
 * They are LMDB tables of the store's environment, read and written with LMDB's byte spans
 * (MDB_val) and cursor operations, inside an ss_store_txn, so that a stage's records commit
 * atomically with the alerts that caused them. Return codes are LMDB's (MDB_NOTFOUND,
 * MDB_KEYEXIST, MDB_MAP_FULL...), 0 on success. Values a get or a cursor returns point into the
 * map and stay valid until the transaction ends or writes.
 */
#ifndef SS_STORE_TABLE_H
#define SS_STORE_TABLE_H

#include "store.h"

#include <lmdb.h>

typedef enum ss_store_table {
    SS_STORE_META,          /**< the store's settings and counters; others' keys of their own */
    SS_STORE_CATALOGS,      /**< format 5: catalog id -> catalog record */
    SS_STORE_CATALOG_ROWS,  /**< format 5: catalog id, row -> row record */
    SS_STORE_CATALOG_SKY,   /**< format 5: catalog id, zone, ra, row -> position and radius */
    SS_STORE_LOCUS_MATCHES, /**< format 5: locus id, catalog id -> match list */
    SS_STORE_LOCUS_XMATCH,  /**< format 5: locus id -> highest ready sequence matched */
    SS_STORE_WATCH_OUTBOX,  /**< format 5: sequence -> list NUL JSON */
    SS_STORE_CATALOG_LOCI,  /**< format 6: catalog id, locus id -> empty (locus_matches reversed) */
} ss_store_table;

/** 1 when the store has table @p tb (a store of an older format opened read-only lacks the
 * newer tables; opened read-write it is upgraded and has them all). */
int ss_store_has_table(const ss_store *s, ss_store_table tb);

int ss_store_get(ss_store_txn *t, ss_store_table tb, MDB_val *key, MDB_val *val);
/** @p flags: LMDB's put flags (MDB_NOOVERWRITE, MDB_APPEND, MDB_RESERVE). */
int ss_store_put(ss_store_txn *t, ss_store_table tb, MDB_val *key, MDB_val *val, unsigned flags);
/** Delete @p key. @return 0 or MDB_NOTFOUND, or an LMDB code. */
int ss_store_del(ss_store_txn *t, ss_store_table tb, MDB_val *key);
/** Entries in @p tb. @return 0 or an LMDB code. */
int ss_store_count(ss_store_txn *t, ss_store_table tb, size_t *n);

/** A cursor over @p tb, owned by the caller until ss_store_cursor_close(), and valid only while
 * @p t is. */
int ss_store_cursor_open(ss_store_txn *t, ss_store_table tb, MDB_cursor **cur);
/** LMDB's cursor operations (MDB_FIRST, MDB_NEXT, MDB_SET_RANGE, MDB_LAST...). */
int ss_store_cursor_get(MDB_cursor *cur, MDB_val *key, MDB_val *val, MDB_cursor_op op);
/** Put through a cursor (LMDB's flags, MDB_APPEND among them). */
int ss_store_cursor_put(MDB_cursor *cur, MDB_val *key, MDB_val *val, unsigned flags);
/** Delete the entry under the cursor. */
int ss_store_cursor_del(MDB_cursor *cur);
void ss_store_cursor_close(MDB_cursor *cur);

/** The longest prefix ss_store_range_open() takes. */
#define SS_STORE_PREFIX_MAX 64

/** A walk over the keys of a table that start with a prefix, one entry per call. */
typedef struct ss_store_range ss_store_range;

/**
 * Start a walk over the entries of @p tb whose keys start with @p prefix (@p plen 0: every
 * entry), in key order or, @p descending, its reverse.
 * @param prefix copied (at most SS_STORE_PREFIX_MAX bytes). @param[out] out owned by the caller
 * until ss_store_range_close(), usable while @p t is.
 * @return 0; MDB_NOTFOUND when the store lacks @p tb; SS_EINVAL, SS_ENOMEM or an LMDB code.
 */
int ss_store_range_open(ss_store_txn *t, ss_store_table tb, const void *prefix, size_t plen,
                        int descending, ss_store_range **out);
/** The next entry (@p key and @p val point into the map: valid until the next call, a write or
 * the end of the transaction). @return 1 (an entry), 0 (no more) or an LMDB code. */
int ss_store_range_next(ss_store_range *r, MDB_val *key, MDB_val *val);
/** NULL is allowed. */
void ss_store_range_close(ss_store_range *r);

#endif
