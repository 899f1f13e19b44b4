/**
 * @file watch.h
 * @brief The watch-list outbox: new hits waiting for delivery.
 *
 * When a locus is first found within a watched object's radius (catalog.h: watch lists are
 * catalogs of the watch kind), the ingest writes one entry to the store's `watch_outbox` table in
 * the transaction of the alert that caused it, so a hit is never lost nor written twice: exactly
 * one entry per (locus, object). An entry is the list's name and a JSON object:
 *   {"list", "object", "locus_id", "ra", "dec", "separation_arcsec", "survey", "alert_id", "mjd",
 *    "passband", "mag" (null for an upper limit), "webhook" (the list's URL; absent without one)}
 * A live broker drains the outbox to its notifier (published as `watch.LIST`, POSTed to the
 * webhook). A CLI `skysieve ingest` has no notifier: the outbox simply accumulates until a broker
 * runs on the store.
 */
#ifndef SS_WATCH_H
#define SS_WATCH_H

#include "store.h"

#include <stddef.h>

/**
 * Hand the oldest outbox entries, in order, to @p take, and delete those taken, all in one write
 * transaction of @p s (opened read-write).
 *
 * @param max at most this many entries (0: none).
 * @param take called with the list's name and the entry's JSON (@p json, @p len bytes, not
 *        NUL-terminated; both valid during the call only). Returning 0 takes the entry; non-zero
 *        stops the drain and keeps that entry and every later one for the next drain.
 * @param[out] taken how many entries were taken and deleted (may be NULL).
 * @return 0 (also when take() stopped the drain); a store error (then nothing is deleted, although
 *         take() may have seen entries: delivery is at least once).
 */
int ss_assoc_watch_drain(ss_store *s, size_t max,
                         int (*take)(void *ctx, const char *list, const char *json, size_t len),
                         void *ctx, size_t *taken, ss_err *err);

/** Entries waiting in the outbox. @return 0 or a store error. */
int ss_assoc_watch_pending(ss_store *s, size_t *n, ss_err *err);

#endif
