/**
 * @file partition.h
 * @brief `skysieve partition`: survey alerts re-keyed by sky region into a partitioned topic.
 *
 * Several skysieve instances share a night through the partitions of one Kafka topic. Association
 * needs every alert of a source on one instance, so alerts are routed by sky region: a HEALPix
 * NESTED pixel at `nside`; the output partition is pixel % partitions (a night's footprint is
 * spread over every instance), the message key the routing pixel as decimal text, and the header
 * `skysieve.pixel` the alert's own pixel.
 *
 * Borders: an alert whose disc of twice the association radius reaches another pixel is a border
 * alert. The partitioner keeps border anchors (ra, dec, pixel) in its own LMDB (`state` dir): a
 * border alert within twice the radius of an anchor is routed with the nearest anchor's pixel;
 * otherwise with its own, and it becomes an anchor. Every alert of a source sitting on a border
 * then lands on one partition, as association on one machine would have it. Anchors persist across
 * restarts and nights. Limit: one partitioner process per input topic (its state is the
 * consistency point; two would make anchors of their own).
 *
 * Messages are forwarded byte for byte with a key, a partition and headers added (the input's
 * headers and timestamp are kept). A ZTF container whose records fall in different partitions is
 * split into one container per partition, re-encoded with avro-c (same schema, same codec; every
 * record kept as it was). A message that cannot be decoded, or holds a record without a valid
 * position, goes whole to the dead-letter topic with headers skysieve.topic, skysieve.partition,
 * skysieve.offset and skysieve.reason, and is logged.
 *
 * Delivery: the input is consumed with automatic commits off, the output produced with acks=all
 * and idempotence. Messages are handled in batches: the batch's outputs are produced, every
 * delivery report is awaited, and only then are the input offsets committed. A crash re-delivers
 * the unfinished batch (at least once; the downstream ingest is idempotent). Anchors are committed
 * to LMDB before the messages routed by them are produced.
 *
 * Threading: one thread uses a partitioner.
 *
 * This folder (core/partition/) exports ss_partition_*; its private names (ssi_) stay inside it.
 */
#ifndef SS_PARTITION_H
#define SS_PARTITION_H

#include "err.h"
#include "kafka_in.h"
#include "log.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/** Default HEALPix resolution of the regions (12 * 32^2 = 12288 pixels of about 1.8 degrees). */
#define SS_PARTITION_NSIDE 32

/** The `[input kafka]` and `[partition]` sections. Strings are owned (ss_partition_conf_free()). */
typedef struct ss_partition_conf {
    char *file;                 /**< the configuration file, named in messages (may be NULL) */
    ss_ingest_kafka_in_conf in; /**< `[input kafka]`: the survey stream */
    char *brokers;              /**< output cluster; NULL: the input's brokers */
    char *to;                   /**< the partitioned topic */
    char *state;                /**< the anchors' LMDB directory */
    char *dead_letter;          /**< NULL: "<to>.rejected" */
    int64_t nside;              /**< power of 2, 1 to 2^20 (default SS_PARTITION_NSIDE) */
    double radius_arcsec;       /**< association radius (default SS_DEFAULT_RADIUS_ARCSEC) */
    int create_partitions;      /**< >0: create a missing output topic with that many partitions */
    char **kv; /**< producer pass-through: kv[2i] key (no "rdkafka."), kv[2i+1] value */
    size_t nkv;
} ss_partition_conf;

/** The defaults: nside 32, the association's default radius, nothing else set. */
void ss_partition_conf_init(ss_partition_conf *c);

/**
 * Set @p key of the `[partition]` section (to, brokers, nside, radius, state, dead_letter,
 * create_partitions, rdkafka.*). @return 0; SS_EINVAL with @p err naming the key and the reason.
 */
int ss_partition_conf_set(ss_partition_conf *c, const char *key, const char *value, ss_err *err);

/**
 * Read an INI file: `[input kafka]` (ss_ingest_kafka_in_conf_set()) and `[partition]`; a relative
 * state directory is taken from the file's directory. @p c was initialised by
 * ss_partition_conf_init().
 * @return 0; an error naming the file, section, key and reason (the file's settings are kept
 * until ss_partition_conf_free()).
 */
int ss_partition_conf_load(const char *path, ss_partition_conf *c, ss_err *err);

/** Check that what ss_partition_open() needs is there. @return 0 or SS_EINVAL naming the key. */
int ss_partition_conf_check(const ss_partition_conf *c, ss_err *err);

void ss_partition_conf_free(ss_partition_conf *c);

/* ---- geometry ---- */

/** The NESTED pixel holding (ra, dec) in degrees at @p nside. */
int64_t ss_partition_pixel(int64_t nside, double ra, double dec);

/**
 * 1 when the disc of @p radius_deg around (ra, dec) reaches a pixel other than its own. Sixteen
 * points on a circle of 1.1 * radius are tested: at these scales (arcseconds against a pixel of
 * about a degree) a pixel edge is straight, and a straight edge at distance d <= radius cuts off
 * an arc of at least 2 * acos(1 / 1.1) = 49 degrees of that circle, more than the points' 22.5
 * degree spacing; a corner cuts off more. So it never misses a border (it may flag an alert up to
 * 1.1 * radius away, which only costs an anchor).
 */
int ss_partition_is_border(int64_t nside, double ra, double dec, double radius_deg);

/* ---- anchors ---- */

typedef struct ss_partition_anchors ss_partition_anchors;

/** Where an alert is routed. */
typedef struct ss_partition_route {
    int64_t pixel;  /**< the alert's own pixel */
    int64_t route;  /**< the pixel it is routed with: its own, or its anchor's */
    int border;     /**< 1: a border alert */
    int anchored;   /**< 1: routed by an anchor made earlier */
    int new_anchor; /**< 1: it became an anchor */
} ss_partition_route;

/**
 * Open (creating when missing) the anchors' LMDB in @p dir for regions of @p nside and borders of
 * @p border_deg (twice the association radius). A state made with another nside or border is
 * refused (SS_ESETTINGS): its anchors name pixels of another grid.
 * @param[out] out freed by ss_partition_anchors_close().
 */
int ss_partition_anchors_open(const char *dir, int64_t nside, double border_deg,
                              ss_partition_anchors **out, ss_err *err);

/**
 * Route the alert at (ra, dec): a border alert joins the nearest anchor within the border
 * distance (ties: the smaller pixel) or becomes one, committed before this returns.
 * @return 0, or an LMDB failure (@p err says which).
 */
int ss_partition_anchors_route(ss_partition_anchors *a, double ra, double dec,
                               ss_partition_route *r, ss_err *err);

/** Anchors kept. */
uint64_t ss_partition_anchors_count(ss_partition_anchors *a);

void ss_partition_anchors_close(ss_partition_anchors *a);

/* ---- the partitioner ---- */

/** What a partitioner did (since it was opened). */
typedef struct ss_partition_counts {
    uint64_t messages; /**< input messages handled (dead-lettered included) */
    uint64_t alerts;   /**< records routed */
    uint64_t border;   /**< border alerts among them */
    uint64_t anchored; /**< border alerts routed by an earlier anchor */
    uint64_t anchors;  /**< anchors made */
    uint64_t split;    /**< input messages split over several partitions */
    uint64_t produced; /**< messages produced to the partitioned topic */
    uint64_t dead;     /**< messages sent to the dead-letter topic */
} ss_partition_counts;

typedef struct ss_partitioner ss_partitioner;

/**
 * Open the anchors, the producer (reading or creating the output topic) and the consumer.
 * @param[in] schema_dir Rubin schemas (format rubin; may be NULL otherwise). @param[in] lg may be
 * NULL. @param[out] out freed by ss_partition_close().
 * @return 0; SS_EINVAL (bad setting, output topic missing), SS_ESETTINGS (state of another grid)
 *         or an LMDB code, @p err saying why.
 */
int ss_partition_open(const ss_partition_conf *c, const char *schema_dir, const ss_log *lg,
                      ss_partitioner **out, ss_err *err);

/**
 * Run until *@p stop is set (may be NULL) or, with @p once, until every assigned input partition
 * has been read to its end (waiting up to @p idle_ms for the assignment and for messages).
 * @return 0; or a fatal error (delivery failed, consumer fatal, LMDB), nothing committed for the
 *         batch in hand: it will be read again.
 */
int ss_partition_run(ss_partitioner *p, int once, int idle_ms, volatile sig_atomic_t *stop,
                     ss_err *err);

/** The partitioned topic's partition count (read from the cluster at open). */
int ss_partition_partitions(const ss_partitioner *p);

void ss_partition_counts_get(const ss_partitioner *p, ss_partition_counts *out);

/** Leave the group (offsets of finished batches are already committed) and free @p p. */
void ss_partition_close(ss_partitioner *p);

#endif
