/**
 * @file kafka_in.h
 * @brief Alerts from Apache Kafka (librdkafka): a consumer whose offsets follow the store.
 *
 * Configured by the keys of an INI `[input kafka]` section, given one by one to
 * ss_ingest_kafka_in_conf_set() as an INI handler reads them: brokers, topics (a comma list),
 * group, format (`ztf`: each message one whole Avro container; `rubin`: Confluent framing, the
 * schema id resolved from the schema directory; `csv`, `jsonl`: tuple alerts, each message a whole
 * CSV with its header or JSON lines), partitions (a comma list of partition numbers:
 * static assignment of those partitions of every topic instead of the group's subscription, for
 * instances that split a topic between them; the group still keeps their committed offsets) and
 * `rdkafka.KEY = VALUE` passed to librdkafka as is (SASL and SSL: security.protocol,
 * sasl.mechanisms, sasl.username, sasl.password, ssl.ca.location).
 *
 * Delivery: at least once, with an exactly-once effect. Automatic commits and offset stores are
 * off; a message counts as consumed only once every alert it holds is committed to LMDB (the
 * ingest's on_commit calls ss_ingest_kafka_in_committed()), and only then is its offset committed
 * to the group. A crash re-delivers what followed the last committed offset; the store's
 * idempotence absorbs the repeats. A message that cannot be decoded is rejected like a bad file
 * (kept in the store's rejected table, its input named "kafka topic=T partition=P offset=O") and
 * its offset is committed like any other: nothing else is lost and it is not read again.
 *
 * Threading: one thread uses a consumer and the ingest it feeds.
 */
#ifndef SS_KAFKA_IN_H
#define SS_KAFKA_IN_H

#include "ingest.h"
#include "log.h"

#include <stddef.h>
#include <stdint.h>

/** The `[input kafka]` section. Every string is owned (ss_ingest_kafka_in_conf_free()). */
typedef struct ss_ingest_kafka_in_conf {
    char *brokers;  /**< bootstrap servers, host:port[,host:port...] */
    char *topics;   /**< topics to subscribe to, a comma list */
    char *group;    /**< consumer group id */
    char *format;   /**< "ztf" (default), "rubin", "csv" or "jsonl" */
    int32_t *parts; /**< static assignment: these partitions of each topic; NULL: subscribe */
    size_t nparts;
    char **kv; /**< rdkafka pass-through: kv[2i] the key (without "rdkafka."), kv[2i+1] value */
    size_t nkv;
} ss_ingest_kafka_in_conf;

/**
 * Set @p key of the section to @p value (a later value replaces an earlier one).
 * @return 0; SS_EINVAL with @p err naming the key and the reason (unknown key, bad format).
 */
int ss_ingest_kafka_in_conf_set(ss_ingest_kafka_in_conf *c, const char *key, const char *value,
                                ss_err *err);

/** Replace the string in @p slot (owned, may be NULL) by a copy of @p value. @return 0, SS_ENOMEM.
 */
int ss_ingest_kafka_str_set(char **slot, const char *value, ss_err *err);

/**
 * Set librdkafka property @p key (without "rdkafka.") to @p value in a pass-through list of
 * owned strings (kv[2i] key, kv[2i+1] value; a later value replaces an earlier one). Shared by the
 * sections that take `rdkafka.KEY = VALUE`; @p section names the section in errors.
 * @return 0; SS_EINVAL (empty key), SS_ENOMEM.
 */
int ss_ingest_kafka_kv_set(char ***kv, size_t *nkv, const char *section, const char *key,
                           const char *value, ss_err *err);

/** Free what @p c holds and zero it. */
void ss_ingest_kafka_in_conf_free(ss_ingest_kafka_in_conf *c);

typedef struct ss_ingest_kafka_in ss_ingest_kafka_in;

/** What a consumer did since it was opened. */
typedef struct ss_ingest_kafka_in_stats {
    uint64_t messages;    /**< messages ingested (rejected ones included) */
    uint64_t alerts;      /**< alerts decoded from them (stored once the ingest commits) */
    uint64_t rejected;    /**< messages rejected as a whole */
    size_t pending;       /**< partitions whose ingested messages wait for the store's commit */
    int fatal;            /**< the consumer failed for good: close it and open another */
    char last_error[640]; /**< the last consumer error or rejection, "" when none */
} ss_ingest_kafka_in_stats;

/**
 * Create the consumer and subscribe to the topics (or, with partitions, assign them: each
 * resumes from the group's committed offset, else from auto.offset.reset). Nothing is fetched
 * before ss_ingest_kafka_in_poll().
 * @param[in] schema_dir the directory of Rubin schemas (required by format rubin; may be NULL).
 * @param[out] out the consumer, freed by ss_ingest_kafka_in_close().
 * @return 0; SS_EINVAL when the configuration is incomplete or librdkafka refuses a setting
 *         (@p err names it and says why).
 */
int ss_ingest_kafka_in_open(const ss_ingest_kafka_in_conf *c, const char *schema_dir,
                            ss_ingest_kafka_in **out, ss_err *err);

/** The decoder name this consumer's messages are read with (ss_ingest_kafka_in_poll() sets it on
 * the ingest for them, whatever the ingest detects for its other inputs). */
const char *ss_ingest_kafka_in_decoder(const ss_ingest_kafka_in *k);

/**
 * A descriptor that becomes readable when the consumer has something (a message, an event) after
 * having had nothing, for a poll() loop; ss_ingest_kafka_in_poll() empties it. It signals only the
 * step from nothing to something: a poll that stopped at @p max leaves messages that are not
 * signalled again. Owned by @p k.
 */
int ss_ingest_kafka_in_fd(const ss_ingest_kafka_in *k);

/** Counters and the last error of @p k. */
void ss_ingest_kafka_in_stats_get(const ss_ingest_kafka_in *k, ss_ingest_kafka_in_stats *st);

/**
 * Take up to @p max messages (waiting up to @p timeout_ms for the first) and ingest each into
 * @p in. Consumer errors that librdkafka recovers from (a broker down, a topic not there yet)
 * are reported through @p lg (may be NULL) and polling goes on.
 * @param[out] taken messages ingested (may be NULL).
 * @return 0; or a store failure (from the ingest) or a fatal consumer error (then stats.fatal is
 *         set), @p err saying why.
 *         After an error, close the consumer and open it again: it resumes from the committed
 *         offsets, so what was fetched but not stored is delivered again.
 */
int ss_ingest_kafka_in_poll(ss_ingest_kafka_in *k, ss_ingest *in, unsigned max, int timeout_ms,
                            const ss_log *lg, unsigned *taken, ss_err *err);

/**
 * Call from the ingest's on_commit: every message wholly ingested before that commit is stored,
 * its offset is committed to the group (asynchronously; ss_ingest_kafka_in_close() waits). Call it
 * too after a flush that succeeded: a message whose alerts were all stored already gives the ingest
 * nothing to commit, and its offset would otherwise wait for the next message's commit.
 */
void ss_ingest_kafka_in_committed(ss_ingest_kafka_in *k);

/** Partitions with messages wholly ingested but not yet committed to the store. */
size_t ss_ingest_kafka_in_pending(const ss_ingest_kafka_in *k);

/**
 * Commit the stored messages' offsets (synchronously), leave the group and free @p k. Messages
 * fetched but not yet committed to the store are delivered again to the next consumer. The
 * caller flushes its ingest first when what it buffered is to count. NULL is allowed.
 */
void ss_ingest_kafka_in_close(ss_ingest_kafka_in *k);

#endif
