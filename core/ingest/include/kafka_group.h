/**
 * @file kafka_group.h
 * @brief Applying a rebalance, for the group consumers: the ingest's (kafka_in.c) and the
 * partitioner's (core/partition/).
 */
#ifndef SS_KAFKA_GROUP_H
#define SS_KAFKA_GROUP_H

#include <librdkafka/rdkafka.h>

struct ss_ingest_kafka_in_conf;
struct ss_err;

/**
 * The configuration of a group consumer whose offsets follow the store: brokers and group from
 * @p c, automatic commits and offset stores off, a new group starting from the earliest message,
 * then @p c's rdkafka.* keys as given. @p section names the INI section in errors.
 * @return a configuration owned by the caller, or NULL with @p err set (SS_EINVAL, SS_ENOMEM).
 */
rd_kafka_conf_t *ss_ingest_kafka_consumer_conf(const struct ss_ingest_kafka_in_conf *c,
                                               const char *section, struct ss_err *err);

/**
 * 1 when the group protocol of a consumer configured with @p rc is cooperative (its
 * partition.assignment.strategy is cooperative-sticky). Read once, from the configuration:
 * rd_kafka_rebalance_protocol() called from the rebalance callback that rd_kafka_consumer_close()
 * runs can block for ever (librdkafka issue 4041), and so can rd_kafka_assignment().
 */
int ss_ingest_kafka_cooperative(rd_kafka_conf_t *rc);

/** Take (@p assign) or give up @p parts, incrementally when @p coop, else the whole assignment. */
void ss_ingest_kafka_rebalance_apply(rd_kafka_t *rk, int assign,
                                     rd_kafka_topic_partition_list_t *parts, int coop);

#endif
