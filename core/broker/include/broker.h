/**
 * @file broker.h
 * @brief The live broker (`skysieve run`): inputs, the store, filter generations in worker
 * processes, outputs and the control socket, in one event loop.
 *
 * Configuration: an INI file (config/skysieve.ini documents every key). Sections [broker],
 * [control] and [notify] always apply, with defaults; [input spool], [input pull], [input kafka],
 * [filters] and
 * [output] and [output NAME] (e.g. [output kafka]) turn their part on when present.
 *
 * Guarantees (see README "The live broker"):
 *  - an input is accepted only when it is in the spool directory or in the intake journal; its
 *    alerts are committed in batches together with the journal position, so after a crash it is
 *    either stored or ingested again, and the store's idempotence absorbs what is ingested twice;
 *  - every new alert is queued for the filters in its own transaction and dequeued in the one
 *    that stores the filters' outputs: dispatched once in effect, by exactly one generation;
 *  - a reload builds and validates the new generation in new workers before the swap; a failed
 *    one leaves the running generation alone and says why.
 *
 * This folder (core/broker/) is the live broker: the loop, its configuration, intake, the worker
 * pool, the worker process and their wire format (wire.h, private). It exports ss_broker_*; its
 * private names (ssi_) stay inside it.
 */
#ifndef SS_BROKER_H
#define SS_BROKER_H

#include "err.h"
#include "kafka_in.h"
#include "log.h"
#include "notify.h"
#include "publish.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/** [input pull] max_message_size: its default (16 MiB) and its largest value (1 GiB). */
#define SS_BROKER_MESSAGE_DEFAULT ((size_t)16 << 20)
#define SS_BROKER_MESSAGE_MAX     ((size_t)1 << 30)

/** An [output NAME] section: its pairs, in file order, strings owned (malloc'd) by the conf. */
typedef struct ss_broker_output {
    char *name;
    ss_output_kv *kv;
    size_t n;
} ss_broker_output;

/** The broker's configuration, as read from the INI file. Every string is owned by the struct. */
typedef struct ss_broker_conf {
    char *file; /**< the configuration file, re-read on reload for [filters] */
    char *store, *run_dir;
    size_t map_size;
    double radius_arcsec;
    unsigned instance; /**< locus-id space of a multi-instance deployment (0: none) */
    int stamp_level;   /**< [broker] stamp_level: ss_store_options.stamp_level (0: the default) */
    uint32_t batch;
    /** [broker] commit_interval: the longest pause (seconds) between two intake commits. The
     * pause lasts as long as the last commit took, up to this: a quiet broker commits an alert at
     * once, a busy one lets the alerts arriving during the pause share the next commit and its
     * disk flush (0: a commit per loop round). */
    double commit_interval;
    uint64_t max_rejected_per_input; /**< [broker]: rejected rows kept per input (ingest.h) */
    ss_alert_limits limits;          /**< [broker] max_line_bytes ...: size caps (alert_limits.h) */
    /** [broker] max_attempts: an input (journal record, spool file) the broker died processing
     * this often is set aside in failed/ with its reason at the next start, not processed
     * (0: off, nothing recorded). */
    unsigned max_attempts;
    ss_log_level log_level;
    double stats_interval;
    uint64_t queue_high, queue_low;
    char *spool_dir; /**< NULL: no spool input */
    double spool_poll;
    char *pull_address; /**< NULL: no pull input */
    /** [input pull] max_message_size: the largest message the pull socket takes; a larger one
     * is refused by `skysieve send` before it leaves (nanomsg would drop it without a word). */
    size_t max_message_size;
    char *schema_dir;
    int kafka_on; /**< an [input kafka] section is present */
    ss_ingest_kafka_in_conf
        kafka;  /**< its keys (checked as read; the consumer opens at the start) */
    int gcn_on; /**< an [input gcn] section is present: gravitational-wave notices (gcn_in.h) */
    ss_ingest_kafka_in_conf gcn; /**< its brokers, topics, group and rdkafka.* keys */
    char *set;                   /**< the filter-set INI; NULL: no filters */
    unsigned workers;
    double timeout;
    unsigned max_crashes;
    unsigned dispatch_batch;
    /** [broker] worker_*: each worker process's rlimits (0: the broker's own), pool.h */
    uint64_t worker_memory, worker_cpu_seconds, worker_open_files, worker_processes;
    /** [broker] worker_allow: `network` and `processes`, what the workers' seccomp filter lets
     * through (a bit set, private to the broker) */
    uint32_t worker_allow;
    /** [broker] worker_user: the user and group workers run as, or -1 (the broker's) */
    long worker_uid, worker_gid;
    char *publish; /**< NULL: tags are stored, not published */
    ss_broker_output
        outputs[SS_PUBLISH_MAX_OUTPUTS - 1]; /**< [output NAME] sections, beside publish */
    size_t noutputs;
    char *control;
    char *secret;                  /**< the shared secret (from secret_file), or NULL */
    ss_publish_notify_conf notify; /**< watch-list webhooks: [notify] */
    int serve; /**< a [serve] section: the broker runs `skysieve serve` beside it (serve.h) */
} ss_broker_conf;

/** Read @p path. @return 0, or an error naming the file, section, key and the reason. */
/** 1 when this build cannot limit its workers' memory ([broker] worker_memory): under
 * AddressSanitizer, whose shadow memory needs more than any sensible limit. */
int ss_broker_memory_limit_skipped(void);

int ss_broker_conf_load(const char *path, ss_broker_conf *c, ss_err *err);

/**
 * Read the control socket's shared secret: the first line of @p path, which only its owner may
 * read (a file readable or writable by group or others is refused: a secret others can read is
 * none).
 * @param[out] secret a malloc'd copy, owned by the caller; NULL on failure.
 * @return 0; SS_EINVAL (unreadable, shared, or an empty first line) or SS_ENOMEM, with @p err
 *         naming @p path and the reason.
 */
int ss_broker_secret_read(const char *path, char **secret, ss_err *err);
void ss_broker_conf_free(ss_broker_conf *c);

/**
 * Run the broker until it is told to stop (SIGTERM, SIGINT, `ctl stop`). @p worker_exe is the
 * skysieve binary that runs workers (`worker_exe worker ...`). Logs go to @p log.
 * @return 0 after a graceful stop, or an error that stopped it (store, sockets).
 */
int ss_broker_run(const ss_broker_conf *conf, const char *worker_exe, const ss_log *log,
                  ss_err *err);

/**
 * Ask a running broker through its control socket at @p address: @p cmd (status, reload, enable,
 * disable, stop), with @p filter for enable and disable (else NULL) and the shared @p secret
 * (NULL when it has none), waiting at most @p timeout seconds. With a secret, the request carries
 * an HMAC of itself, a timestamp and a nonce instead of the secret, and the answer must carry the
 * HMAC of that nonce (the protocol: ctl_auth.h).
 * @param[out] reply the broker's JSON answer, owned by the caller (json_decref()).
 * @return 0 (the answer may still say {"ok": false}); ETIMEDOUT when no broker answered; with a
 *         secret, EACCES when the broker refused the request (its reason in @p err) and EBADMSG
 *         when the answer is not authenticated (forged, altered); another errno or SS_EFORMAT,
 *         with @p err naming the address.
 */
int ss_broker_ctl(const char *address, const char *secret, const char *cmd, const char *filter,
                  double timeout, json_t **reply, ss_err *err);

#endif
