/**
 * @file notify.h
 * @brief Watch-list notifications: published on the broker's output under the topic
 * "watch.LIST" and, for a list with a webhook, POSTed as a Slack-compatible JSON payload.
 *
 * Submitting never waits on the network. A notification with a webhook is spooled, written
 * atomically (a temporary file, fsync, rename) to RUN_DIR/notify/pending/, and a delivery thread
 * owned by the notifier POSTs it. 2xx: delivered, the file goes. 429, 5xx and network errors:
 * retried with exponential backoff (a Retry-After header is honoured). Other 4xx, 3xx, a bad file,
 * too many attempts or an item older than max_age: set aside in RUN_DIR/notify/failed/ with the
 * last error recorded. Each failure is logged with the list, the object, the webhook without its
 * secrets and the reason. Items found in pending/ when a notifier starts are delivered: a restart
 * or a crash loses none.
 *
 * A spool file is one JSON object:
 *   {"list": "...", "created": UNIX_SECONDS, "attempts": N, "last_error": "..." or null,
 *    "entry": {the submitted notification, webhook included}}
 * and a file in failed/ adds "failed_at" (UNIX_SECONDS).
 *
 * The notifier is owned by the live broker (broker.c): ss_assoc_watch_drain() hands it the store's
 * watch-list outbox through ss_publish_notifier_submit().
 */
#ifndef SS_NOTIFY_H
#define SS_NOTIFY_H

#include "err.h"
#include "log.h"
#include "output.h"

#include <stddef.h>
#include <stdint.h>

/** Delivery settings: the [notify] section of the broker's configuration. */
typedef struct ss_publish_notify_conf {
    double timeout;   /**< seconds one POST may take, connecting included */
    unsigned retries; /**< attempts at most before an item is set aside */
    double backoff;   /**< seconds before the first retry; doubled at each retry */
    double max_age;   /**< seconds after its submission an undelivered item is set aside */
} ss_publish_notify_conf;

/** The defaults, shown in config/skysieve.ini. */
#define SS_NOTIFY_CONF_DEFAULT                                                                     \
    {                                                                                              \
        .timeout = 10, .retries = 8, .backoff = 2, .max_age = 86400                                \
    }
/** The longest wait the backoff computes (a server's Retry-After may ask for longer). */
#define SS_NOTIFY_BACKOFF_MAX 3600.0

/** Counters since the notifier started (pending: items waiting now, this run's and older ones). */
typedef struct ss_publish_notify_stats {
    uint64_t published; /**< notifications published on the output */
    uint64_t delivered; /**< webhook POSTs answered with 2xx */
    uint64_t retried;   /**< failed attempts scheduled again */
    uint64_t failed;    /**< items set aside in failed/ */
    uint64_t pending;   /**< items in pending/ */
} ss_publish_notify_stats;

typedef struct ss_publish_notifier ss_publish_notifier;

/**
 * Initialise libcurl for the process. Call once, before any thread starts (nanomsg's included):
 * curl_global_init() is not thread-safe and initialises the TLS library, which other threads
 * must not be using meanwhile. @return 0, or an error.
 */
int ss_publish_notify_global_init(ss_err *err);
/** Undo ss_publish_notify_global_init() once every notifier is freed and no thread uses libcurl. */
void ss_publish_notify_global_cleanup(void);

/**
 * Make RUN_DIR/notify/{pending,failed}, load what pending/ holds and start the delivery thread.
 * @param out, out_impl the output to publish on (NULL: none); it must outlive the notifier.
 * @param lg the log for delivery failures; it must outlive the notifier.
 * @param[out] np the notifier, owned by the caller (ss_publish_notifier_free()).
 * @return 0, or an error naming the directory and the reason.
 */
int ss_publish_notifier_new(const char *run_dir, const ss_publish_notify_conf *conf,
                            const ss_output_ops *out, void *out_impl, const ss_log *lg,
                            ss_publish_notifier **np, ss_err *err);

/**
 * Publish the notification @p json (@p len bytes, a JSON object naming at least "object",
 * "locus_id", "ra" and "dec") under "watch.LIST" without its "webhook", and spool it for delivery
 * when it names a "webhook" (an http:// or https:// URL). Never waits on the network; one thread
 * at a time (the owner's). A failed publish is logged, not returned: the subscriber is best-effort.
 * @return 0 once spooled (or published, without a webhook); SS_EINVAL for a notification that is
 *         not one (the message names the list and the reason); an errno code when the spool file
 *         cannot be written: nothing was published, the caller keeps the notification and submits
 *         it again.
 */
int ss_publish_notifier_submit(ss_publish_notifier *n, const char *list, const char *json,
                               size_t len, ss_err *err);

/** The counters now. Any thread. */
void ss_publish_notifier_stats(ss_publish_notifier *n, ss_publish_notify_stats *st);

/**
 * Stop the delivery thread (a POST in flight is aborted within about a second and stays pending)
 * and free everything. NULL is allowed.
 */
void ss_publish_notifier_free(ss_publish_notifier *n);

#endif
