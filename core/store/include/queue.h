/**
 * @file queue.h
 * @brief The broker's dispatch queue, a table of the store.
 *
 * Each new primary alert that updates a locus is queued in the transaction that stores it; the
 * entry is removed in the transaction that stores what the filters made of it. Between the two
 * the entry survives any crash, so every stored alert is dispatched to filters exactly once in
 * effect: a dispatch whose outputs were not committed is simply run again.
 */
#ifndef SS_QUEUE_H
#define SS_QUEUE_H

#include "store.h"

/** One queued dispatch. Strings point into LMDB memory (valid until the transaction ends) or into
 * the caller's copy. */
typedef struct ss_store_queue_entry {
    uint64_t seq;
    char locus_id[SS_LOCUS_ID_LEN + 1];
    char survey[SS_SURVEY_MAX + 1];
    char alert_id[SS_ID_MAX + 1];
} ss_store_queue_entry;

/** Queue a dispatch of @p locus_id triggered by (survey, alert_id). @return 0 or an LMDB code. */
int ss_store_queue_put(ss_store_txn *t, const char *locus_id, const char *survey,
                       const char *alert_id);

/**
 * Read up to @p max entries with a sequence greater than @p after, in order, into @p out.
 * @param[out] n how many. @return 0 or an LMDB code (SS_ECORRUPT for a malformed entry).
 */
int ss_store_queue_read(ss_store_txn *t, uint64_t after, ss_store_queue_entry *out, size_t max,
                        size_t *n);

/** Remove entry @p seq (absent is not an error). @return 0 or an LMDB code. */
int ss_store_queue_del(ss_store_txn *t, uint64_t seq);

/** Entries waiting. @return their number (0 when the table is absent or unreadable). */
uint64_t ss_store_queue_len(ss_store_txn *t);

#endif
