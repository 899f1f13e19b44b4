/**
 * @file output.h
 * @brief The extension point for output streams: plugins/output_<name>/ (nanomsg; Kafka later).
 *
 * An output publishes one message per (locus, tag) event after the transaction that stored the tag
 * has committed, so a subscriber never hears of a tag the store does not hold. Publishing must not
 * block ingest: a slow or absent subscriber loses messages (the store keeps every tag:
 * `skysieve tagged`), it never slows the broker.
 */
#ifndef SS_OUTPUT_H
#define SS_OUTPUT_H

#include "err.h"

#include <stddef.h>

#define SS_OUTPUT_ABI 1

typedef struct ss_output_ops {
    unsigned abi;                /**< SS_OUTPUT_ABI */
    const char *name;            /**< "nanomsg" */
    const char *const *prefixes; /**< NULL-terminated address prefixes it serves, e.g. "tcp://" */
    /** Open the output at @p address. @param[out] impl its state. @return 0 or an error. */
    int (*open)(const char *address, void **impl, ss_err *err);
    /** Publish @p len bytes under @p topic. @return 0 or an error (the caller logs it). */
    int (*publish)(void *impl, const char *topic, const void *msg, size_t len, ss_err *err);
    /** Close; NULL is allowed. */
    void (*close)(void *impl);
} ss_output_ops;

/** The output serving @p address (by prefix), or NULL. */
const ss_output_ops *ss_output_for(const char *address);

#endif
