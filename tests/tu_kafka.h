/* Helpers of the suites that run librdkafka's mock cluster in the test process (no Kafka server):
 * the cluster and its topics, producing, and reading a topic back. Every librdkafka call is
 * checked: a failure fails the running test. */
#ifndef SS_TU_KAFKA_H
#define SS_TU_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stddef.h>
#include <stdint.h>

/** A mock cluster of one broker. Zeroed, it is "not started". */
typedef struct tu_mock {
    rd_kafka_t *owner; /**< the handle the cluster lives in */
    rd_kafka_mock_cluster_t *mc;
    const char *bootstraps; /**< its address, owned by the cluster */
    int quiet;              /**< the owner and the clients made for it log nothing */
} tu_mock;

/** Start a cluster; @p quiet silences librdkafka's log (log_level 0) where a test expects noise. */
void tu_mock_start(tu_mock *m, int quiet);
/** Create @p topic with @p partitions partitions (replication 1). */
void tu_mock_topic(tu_mock *m, const char *topic, int partitions);
/** Destroy the cluster and zero @p m; nothing when it is not started. */
void tu_mock_stop(tu_mock *m);

/** A producer to @p m. @return the handle, for tu_kafka_produce() and then tu_kafka_flush(). */
rd_kafka_t *tu_kafka_producer(const tu_mock *m);
/**
 * Produce one message, copied. @p partition may be RD_KAFKA_PARTITION_UA (the partitioner
 * decides, by key when there is one); @p key may be NULL.
 */
void tu_kafka_produce(rd_kafka_t *p, const char *topic, int32_t partition, const void *key,
                      size_t key_len, const void *value, size_t len);
/** Wait until every message is acknowledged (30 s at most), then destroy @p p. */
void tu_kafka_flush(rd_kafka_t *p);

/** One header of a message read back, as text (truncated to fit). */
typedef struct tu_kafka_header {
    char name[64], value[256];
} tu_kafka_header;

/** A message read back: copies, so they outlive the consumer. */
typedef struct tu_kafka_msg {
    char *value; /**< malloc'd, a NUL after the last byte */
    size_t len;
    char key[64]; /**< NUL-terminated (truncated), "" when keyless */
    int32_t partition;
    tu_kafka_header hdr[16]; /**< the first sixteen headers */
    size_t nhdr;
} tu_kafka_msg;

/**
 * Read @p topic's partitions 0 to @p nparts - 1 from their start until each has reached its end,
 * @p max messages are read (0: no limit) or 30 s have passed.
 * @param[out] n the messages read.
 * @param[out] ends the partitions whose end was reached (may be NULL).
 * @return the messages (NULL when none), freed with tu_kafka_msgs_free().
 */
tu_kafka_msg *tu_kafka_read(const tu_mock *m, const char *topic, int nparts, size_t max, size_t *n,
                            int *ends);
/** The last header @p name of @p msg; "" when it has none. Owned by @p msg. */
const char *tu_kafka_header_of(const tu_kafka_msg *msg, const char *name);
void tu_kafka_msgs_free(tu_kafka_msg *g, size_t n);

#endif
