/**
 * @file output.h
 * @brief The extension point for output streams: plugins/output_<name>/ (nanomsg, Kafka).
 *
 * An output publishes one message per (locus, tag) event after the transaction that stored the tag
 * has committed, so a subscriber never hears of a tag the store does not hold. Publishing must not
 * block ingest: a slow or absent subscriber loses messages (the store keeps every tag:
 * `skysieve tagged`), it never slows the broker.
 *
 * An output is opened either from an address ([output] publish = tcp://..., served by prefix) or
 * from its own INI section ([output NAME], key = value pairs handed to open_conf). The broker
 * publishes every event to each output it opened (ss_publish_set, core/publish/).
 *
 * ABI: an output sets .abi to SS_OUTPUT_ABI, the major version it was written for; skysieve
 * refuses to start with an output of another major version (ss_output_check()). The rule for
 * changing it: an op added at the end of ss_output_ops, or a field at the end of ss_output_conf or
 * ss_output_stats, raises SS_OUTPUT_ABI_MINOR (an added op is optional: NULL, which an output
 * written before it leaves there, means the output lacks it); anything else (an op removed, moved,
 * or given other arguments or another meaning; a field inserted) raises SS_OUTPUT_ABI_MAJOR and
 * sets the minor to 0. A call that must change gets a numbered twin at the end (publish2), never a
 * near-identical name, and the old one keeps its meaning until a major version drops it.
 *
 * ABI change log (append only):
 *  - 1.0: first version: open() by address prefix, publish(topic, message), close().
 *  - 2.0: publish() takes a key (changed in place, hence the major version); open_conf() from an
 *         [output NAME] section (ss_output_conf), poll(), stats() (ss_output_stats); prefixes may
 *         be NULL.
 */
#ifndef SS_OUTPUT_H
#define SS_OUTPUT_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

#define SS_OUTPUT_ABI_MAJOR 2
#define SS_OUTPUT_ABI_MINOR 0
/** What an output sets .abi to: the major version (see the rule above). */
#define SS_OUTPUT_ABI SS_OUTPUT_ABI_MAJOR

/** One key = value of an [output NAME] section. */
typedef struct ss_output_kv {
    const char *key, *value;
} ss_output_kv;

/** An [output NAME] section: what open_conf reads. Borrowed for the call only. */
typedef struct ss_output_conf {
    const char *file; /**< the configuration file, for error messages */
    const char *name; /**< NAME of [output NAME] */
    const ss_output_kv *kv;
    size_t n;
} ss_output_conf;

/** Delivery counters of an output that confirms delivery (Kafka); zeros for the others. */
typedef struct ss_output_stats {
    uint64_t delivered;   /**< acknowledged by the server */
    uint64_t dropped;     /**< refused locally (queue full): never sent */
    uint64_t failed;      /**< sent, then reported failed (or still queued at close) */
    uint64_t queued;      /**< waiting for an acknowledgement now */
    char last_error[192]; /**< the last delivery failure, "" when none */
} ss_output_stats;

typedef struct ss_output_ops {
    unsigned abi;                /**< SS_OUTPUT_ABI */
    const char *name;            /**< "nanomsg" */
    const char *const *prefixes; /**< NULL-terminated address prefixes it serves, or NULL */
    /** Open the output at @p address (NULL when it has no prefixes). @param[out] impl its state. */
    int (*open)(const char *address, void **impl, ss_err *err);
    /** Open from an [output NAME] section (NULL: no such section); errors name file and key. */
    int (*open_conf)(const ss_output_conf *conf, void **impl, ss_err *err);
    /**
     * Publish @p len bytes under @p topic (a tag, or watch.LIST); @p key (the locus id, or NULL)
     * keeps one locus's events in order where the output partitions. Never blocks.
     * @return 0 or an error (the caller logs it).
     */
    int (*publish)(void *impl, const char *topic, const char *key, const void *msg, size_t len,
                   ss_err *err);
    /** Serve delivery reports without blocking; NULL when there are none. */
    void (*poll)(void *impl);
    /** Fill @p st; NULL when the output does not count deliveries. */
    void (*stats)(void *impl, ss_output_stats *st);
    /** Close (flushing within a bounded time); NULL is allowed. */
    void (*close)(void *impl);
} ss_output_ops;

/**
 * Refuse an output written for another major version of this ABI.
 * @return 0, or SS_EINVAL with @p err naming the output and both versions.
 */
int ss_output_check(const ss_output_ops *ops, ss_err *err);

/** Every compiled-in output. @param[out] n their number. */
const ss_output_ops *const *ss_outputs(size_t *n);

/** The output serving @p address (by prefix), or NULL. */
const ss_output_ops *ss_output_for(const char *address);

/** The output named @p name, or NULL. */
const ss_output_ops *ss_output_named(const char *name);

#endif
