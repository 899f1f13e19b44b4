/**
 * @file decoder.h
 * @brief The extension point for alert formats: one decoder per folder in plugins/decoder_<name>/.
 *
 * A decoder turns a byte stream (a file), or bytes in memory (a Kafka message, open_memory()), into
 * packets of alerts. It does not validate ranges or store anything: the ingest loop validates each
 * alert with ss_alert_validate() and stores it. Decoders are compiled in; the build lists every
 * plugins/decoder_* folder in a generated registry, so a new format touches only its own folder.
 *
 * Threading: one decoder state is used by one thread at a time; states are independent.
 *
 * ABI: a decoder sets .abi to SS_DECODER_ABI, the major version it was written for; skysieve
 * refuses to start with a decoder of another major version (ss_decoder_check()). The rule for
 * changing it: an op added at the end of ss_decoder_ops, or a field at the end of
 * ss_decoder_config, raises SS_DECODER_ABI_MINOR (an added op is optional: NULL, which a decoder
 * written before it leaves there, means the decoder lacks it); anything else (an op removed,
 * moved, or given other arguments or another meaning; a field inserted) raises
 * SS_DECODER_ABI_MAJOR and sets the minor to 0. A call that must change gets a numbered twin at
 * the end (open2), never a near-identical name, and the old one keeps its meaning until a major
 * version drops it.
 *
 * ABI change log (append only):
 *  - 1.0: first version: probe(), open(), next(), close(); ss_decoder_config.default_survey and
 *         .schema_dir.
 *  - 2.0: state shared by every input of a run: shared_new(), shared_free(), and open()'s shared
 *         argument (open() was changed in place, hence the major version).
 *  - 2.1: ss_decoder_config.skip_cutouts. What next() may fill grew with it (alert.h): forced
 *         photometry, the locus's survey properties, cutouts, the known() hint. (Numbered 2.1 when
 *         this log was written; the header said 2 until then.)
 *  - 2.2: ss_decoder_config.limits (alert_limits.h): size caps every decoder checks while it
 *         reads, rejecting a record over one with SS_REASON_TOO_LARGE (a reason added with it).
 *  - 2.3: ss_alert_reserve_props() and ss_alert_add_prop_borrowed() (alert.h): room for a
 *         record's fields at once, and property names a packet borrows from the shared state.
 *  - 2.4: ss_packet_lend_cutout() and ss_packet.borrow_cutouts (alert.h): stamps a packet's user
 *         takes straight from the decoder's bytes, before its next call.
 *  - 2.5: open_memory(): an input that is in memory already (a Kafka message), decoded where it
 *         lies; ss_decoder_open_memory() opens one with any decoder.
 *  - 2.6: ss_packet.known2 (alert.h): known() asked with the history entry, so that an upper limit
 *         is looked for under its object.
 */
#ifndef SS_DECODER_H
#define SS_DECODER_H

#include "alert.h"
#include "alert_limits.h"

#include <stdio.h>

#define SS_DECODER_ABI_MAJOR 2
#define SS_DECODER_ABI_MINOR 6
/** What a decoder sets .abi to: the major version (see the rule above). */
#define SS_DECODER_ABI SS_DECODER_ABI_MAJOR

/** What the operator configures for decoding. Strings are borrowed for the life of the state. */
typedef struct ss_decoder_config {
    const char
        *default_survey;    /**< survey of rows that name none (tuple formats); "tuple" when NULL */
    const char *schema_dir; /**< directory of id.avsc schemas for framed messages; may be NULL */
    int skip_cutouts;       /**< 1: leave image stamps out of packets (they are not stored) */
    /** Size caps (0 fields: defaults); read with ss_alert_limits_effective(). */
    ss_alert_limits limits;
} ss_decoder_config;

typedef struct ss_decoder_ops {
    unsigned abi;                  /**< SS_DECODER_ABI */
    const char *name;              /**< short name, e.g. "csv"; used by --format */
    const char *const *extensions; /**< NULL-terminated list of file name endings, e.g. ".csv" */
    /**
     * How sure the decoder is that an input is its format, from its name and first bytes.
     * @param[in] name the input's name (may be NULL); @param[in] head, len: up to 4096 first bytes.
     * @return 0 (not mine) to 100 (certain). A matching extension alone should give 50.
     */
    int (*probe)(const char *name, const unsigned char *head, size_t len);
    /**
     * Start decoding @p fp. The caller keeps ownership of @p fp and closes it after close().
     * @param[in] name the input's name, used in messages. @param[in] shared what shared_new()
     * returned (NULL for a decoder without). @param[out] state decoder-owned state.
     * @return 0; or an error code with @p err naming the input and the reason (e.g. a bad header).
     */
    int (*open)(FILE *fp, const char *name, const ss_decoder_config *cfg, void *shared,
                void **state, ss_err *err);
    /**
     * Decode the next record into @p pkt (empty on entry; the caller resets it).
     * @return 1: a packet was decoded; 0: end of input; SS_EREJECT: this record is rejected and @p
     * rej says why (decoding goes on with the next record); any other code: the rest of the input
     * cannot be read, @p err says why. Strings in @p rej are valid until the next call.
     */
    int (*next)(void *state, ss_packet *pkt, ss_reject *rej, ss_err *err);
    /** Free the state. NULL is allowed. */
    void (*close)(void *state);
    /**
     * Optional (NULL): state shared by every input of one ingest run, such as parsed schemas. The
     * run creates it on first use and frees it at its end, after every packet decoded with it is
     * reset or freed, so packets may borrow from it (ss_alert_add_prop_borrowed()); one thread
     * uses it at a time.
     * @return the state, or NULL when out of memory.
     */
    void *(*shared_new)(const ss_decoder_config *cfg);
    void (*shared_free)(void *shared);
    /**
     * Optional (NULL), 2.5: open() for an input that is in memory already, @p len bytes at @p data,
     * which the caller keeps valid and unchanged until close(). The decoder may decode them where
     * they lie instead of reading a copy through a stream, and lend stamps out of them
     * (ss_packet_lend_cutout()). Arguments and return as open(). Call it through
     * ss_decoder_open_memory(), which gives a decoder without it a stream over the bytes.
     */
    int (*open_memory)(const void *data, size_t len, const char *name, const ss_decoder_config *cfg,
                       void *shared, void **state, ss_err *err);
} ss_decoder_ops;

/** The shared states of every decoder for one ingest run (owned by the run). */
typedef struct ss_decoder_shared ss_decoder_shared;
ss_decoder_shared *ss_decoder_shared_new(const ss_decoder_config *cfg);
/** The shared state of @p ops, created on first use. @return NULL when it has none or on OOM. */
void *ss_decoder_shared_get(ss_decoder_shared *sh, const ss_decoder_ops *ops);
void ss_decoder_shared_free(ss_decoder_shared *sh);

/**
 * Refuse a decoder written for another major version of this ABI.
 * @return 0, or SS_EINVAL with @p err naming the decoder and both versions.
 */
int ss_decoder_check(const ss_decoder_ops *ops, ss_err *err);

/** Every compiled-in decoder, in registry order. @param[out] n their number. */
const ss_decoder_ops *const *ss_decoders(size_t *n);

/** The decoder named @p name, or NULL. */
const ss_decoder_ops *ss_decoder_find(const char *name);

/**
 * The decoder that probes highest for an input (ties go to the earlier decoder).
 * @return NULL when every decoder answers 0.
 */
const ss_decoder_ops *ss_decoder_detect(const char *name, const unsigned char *head, size_t len);

/**
 * Open @p ops on the @p len bytes at @p data, which the caller keeps until @p ops->close(): by its
 * open_memory() when it has one, else by open() on a stream over them (fmemopen).
 * @param[out] state as open() gives it. @param[out] fp the stream, which the caller closes after
 * close(); NULL when there is none (open_memory(), or a failed open).
 * @return as open(); SS_ENOMEM when memory ran short, a stream's included; another errno with
 * @p err naming @p name when no stream can be made.
 */
int ss_decoder_open_memory(const ss_decoder_ops *ops, const void *data, size_t len,
                           const char *name, const ss_decoder_config *cfg, void *shared,
                           void **state, FILE **fp, ss_err *err);

/** Helper for probes: 1 when @p name ends with one of @p extensions (case-insensitive). */
int ss_decoder_has_extension(const char *name, const char *const *extensions);

#endif
