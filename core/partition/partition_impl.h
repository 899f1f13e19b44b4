/* Private to partition_run.c and partition_out.c: the partitioner's state. */
#ifndef SS_PARTITION_IMPL_H
#define SS_PARTITION_IMPL_H

#include "decoder.h"
#include "partition.h"

#include <librdkafka/rdkafka.h>

/** One record of the message in hand: its position and where it goes. */
typedef struct ssi_rec {
    double ra, dec;
    int64_t pixel, route;
    int32_t part;
} ssi_rec;

struct ss_partitioner {
    rd_kafka_t *cons, *prod;
    ss_partition_anchors *anchors;
    int nparts;       /* the partitioned topic's */
    int coop;         /* the input group's protocol is cooperative (kafka_group.h) */
    char *to, *dead;  /* owned topic names */
    char *schema_dir; /* owned; borrowed by dcfg */
    ss_decoder_config dcfg;
    const ss_decoder_ops *ops;
    ss_decoder_shared *shared;
    ss_packet *pkt;
    ssi_rec *recs; /* the message in hand's records (owned) */
    size_t nrecs, caprecs;
    /* the consumer's assignment, the partitions read to their end (offset 1) and the batch's
     * next offsets, committed once every output is acknowledged (owned lists) */
    rd_kafka_topic_partition_list_t *assigned, *eof, *done;
    rd_kafka_resp_err_t dr_failed; /* the first failed delivery */
    char dr_why[256];
    ss_partition_counts n;
    const ss_log *lg;
};

/** Read (or, with create_partitions, create) the output and dead-letter topics. */
int ssi_topics(ss_partitioner *p, const ss_partition_conf *c, ss_err *err);

/**
 * Split @p m over the partitions of p->recs, one container each, and produce them.
 * @return 0; 1 when the container cannot be re-read or re-written (@p why says why: the caller
 *         dead-letters it, nothing produced); or a fatal error.
 */
int ssi_split(ss_partitioner *p, const rd_kafka_message_t *m, char *why, size_t cap, ss_err *err);

/** Produce a copy of @p value (hdrs passes to librdkafka). */
int ssi_produce(ss_partitioner *p, const char *topic, int32_t part, const void *key, size_t klen,
                const void *value, size_t len, rd_kafka_headers_t *hdrs, int64_t ts, ss_err *err);

/** Forward @p value as the message of record @p i's region. */
int ssi_forward(ss_partitioner *p, const rd_kafka_message_t *m, size_t i, const void *value,
                size_t len, ss_err *err);

#endif
