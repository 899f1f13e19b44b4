/**
 * @file gcn_in.h
 * @brief Gravitational-wave alert notices (IGWN, through GCN Kafka's `igwn.gwalert` topic or a
 * copy of it) applied to a store: the event's sky map kept, replaced or withdrawn, and the loci
 * already inside the map's region queued for dispatch, so that filters see the event on them
 * without waiting for their next alert.
 *
 * A notice is the JSON of the IGWN alert schema: `superevent_id`, `alert_type` (EARLYWARNING,
 * PRELIMINARY, INITIAL, UPDATE or RETRACTION), `time_created`, and `event` (null for a
 * retraction) with `time` (the merger, ISO 8601), `far`, `classification` and `skymap`: the
 * multi-order FITS sky map, base64-encoded. Every notice but a retraction stores its map under
 * the superevent id, replacing an earlier one (an UPDATE's map supersedes the PRELIMINARY's); a
 * RETRACTION removes it. The merger time is the map's MJD-OBS, else `event.time`.
 *
 * Kafka: `[input gcn]` takes the keys of `[input kafka]` that make sense here (brokers, topics,
 * group, rdkafka.*; kafka_in.h), so GCN's SASL/OIDC credentials pass as rdkafka.* keys. A
 * notice's offset is committed to the group after the transaction that applied it; a notice
 * that cannot be applied is refused with its reason (and its offset committed: a broken notice
 * is not read again), and the caller sets it aside.
 *
 * Threading: one thread uses a consumer.
 */
#ifndef SS_GCN_IN_H
#define SS_GCN_IN_H

#include "kafka_in.h"
#include "store.h"

#include <stddef.h>
#include <stdint.h>

/** What one notice did. */
typedef struct ss_ingest_gcn_result {
    char event[64];      /**< the superevent id */
    char alert_type[16]; /**< as the notice says */
    int removed;         /**< 1 for a retraction that removed a stored map */
    size_t pixels;       /**< the stored map's, 0 for a retraction */
    double area90;       /**< deg^2 */
    double merger_mjd;
    size_t queued; /**< loci already in the region queued for dispatch */
} ss_ingest_gcn_result;

/**
 * Applies the notice @p json (@p len bytes) to @p s in one write transaction.
 * @param queue 1 to queue the loci already inside the map's 90% region with a detection since a
 *        day before the merger (the broker's dispatch queue); 0 to store the map only.
 * @param label names the notice in errors (a file, or "kafka topic=T partition=P offset=O").
 * @return 0; SS_EPARSE (not a notice: @p err says what is wrong); SS_EFORMAT (its map is not a
 *         sky map); SS_ENOMEM; a store code.
 */
int ss_ingest_gcn_apply(ss_store *s, const char *json, size_t len, const char *label, int queue,
                        ss_ingest_gcn_result *r, ss_err *err);

/** A consumer of notices. */
typedef struct ss_ingest_gcn ss_ingest_gcn;

/** Counters since the consumer opened. */
typedef struct ss_ingest_gcn_stats {
    uint64_t notices, maps, retractions, refused, queued;
    char last_event[64];
    char last_error[640];
} ss_ingest_gcn_stats;

/** Opens a consumer of @p c (brokers, topics, group required). @return 0, SS_EINVAL, SS_ENOMEM. */
int ss_ingest_gcn_open(const ss_ingest_kafka_in_conf *c, ss_ingest_gcn **out, ss_err *err);

/** Called for each notice refused, with its bytes, to set it aside. */
typedef void (*ss_ingest_gcn_refused_fn)(void *ctx, const char *label, const void *msg, size_t len,
                                         const ss_err *why);

/** Called for each notice applied (to log it). */
typedef void (*ss_ingest_gcn_applied_fn)(void *ctx, const char *label,
                                         const ss_ingest_gcn_result *r);

/**
 * Reads up to @p max notices without waiting and applies each to @p s (queueing the loci in its
 * region), committing its offset after. @param[out] got how many were read.
 * @return 0, or a store code (the notice is then read again later; @p err says why).
 */
int ss_ingest_gcn_poll(ss_ingest_gcn *g, ss_store *s, unsigned max, ss_ingest_gcn_applied_fn ok,
                       ss_ingest_gcn_refused_fn refused, void *ctx, unsigned *got, ss_err *err);

void ss_ingest_gcn_stats_get(const ss_ingest_gcn *g, ss_ingest_gcn_stats *st);

/** NULL is allowed. */
void ss_ingest_gcn_close(ss_ingest_gcn *g);

#endif
