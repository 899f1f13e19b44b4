/**
 * @file ingest.h
 * @brief Ingest inputs into a store: decode, validate, associate, commit in batches.
 *
 * A record that fails to decode or validate is rejected: kept in the store's `rejected` table with
 * its input, line, reason and text, counted by reason, and reported through the options' callback;
 * the rest of the input goes on. An input that cannot be read at all (missing file, unknown format,
 * bad header) is rejected as a whole the same way. Only store failures stop an ingest.
 *
 * Packets are buffered and written one batch per LMDB transaction; "ingested" counts only what was
 * committed, so a total reported by ss_ingest_totals() survives a crash that follows it.
 *
 * This folder (core/ingest/) is the in-process pipeline: decode -> validate -> associate ->
 * store -> dispatch -> publish, the seen-set of a batch, `skysieve inspect` and the Kafka input.
 * It exports ss_ingest_*; its private names (ssi_) stay inside it.
 */
#ifndef SS_INGEST_H
#define SS_INGEST_H

#include "decoder.h"
#include "filters.h"
#include "store.h"

#include <stdio.h>

typedef struct ss_ingest ss_ingest;

/** Totals of an ingest run so far (committed work only). */
typedef struct ss_ingest_totals {
    uint64_t read;              /**< records read: decoded packets plus rejected records */
    uint64_t ingested;          /**< primary alerts stored */
    uint64_t history;           /**< history entries stored (earlier detections and limits) */
    uint64_t duplicates;        /**< primary alerts already in the store */
    uint64_t history_known;     /**< history entries already in the store */
    uint64_t upgraded;          /**< stored as history only, now whole (in ingested too) */
    uint64_t rejected;          /**< records (or whole inputs) rejected */
    uint64_t rejected_not_kept; /**< of those, counted only: past max_rejected_per_input */
    uint64_t by_reason[SS_REASON__COUNT];
    uint64_t loci_created;
    uint64_t tag_events;    /**< tags added by filters (each published once committed) */
    uint64_t inputs;        /**< inputs opened */
    uint64_t inputs_failed; /**< inputs rejected as a whole */
    uint64_t diverted;      /**< packets handed to ss_ingest_options.divert */
    double seconds;         /**< wall time since ss_ingest_new() */
    /** With overlap (the writing thread below): seconds the decoding side waited at hand-offs for
     * the writer to finish the oldest batch handed over (two wait at most). Much of the run here:
     * writing (the store's disk and page cache, its B-tree work) bounds the ingest, not decoding. 0
     * without overlap. */
    double waited_for_writer;
    /** With overlap: seconds the writing thread sat with every batch handed over done before
     * decoding handed it the next. Much of the run here: decoding bounds the ingest. 0 without
     * overlap. */
    double writer_idle;
} ss_ingest_totals;

typedef struct ss_ingest_options {
    /** How inputs are decoded, the size caps included (.limits, alert_limits.h: a record over one
     * is rejected as too_large and the input goes on). */
    ss_decoder_config decoder;
    const char *format;  /**< decoder name to use for every input; NULL: detect per input */
    uint32_t batch_size; /**< packets per transaction (fewer when they exceed 64 MiB); 0: 5000 */
    /** Rejected records stored per input; the rest of its rejections are counted (totals and
     * the store's counters, by reason) and summed up in one more row when the input ends, so that
     * one hostile input cannot fill the store or the log. 0: 1000. */
    uint64_t max_rejected_per_input;
    /** Called for each rejection once it is committed; @p rej is valid during the call only. */
    void (*on_reject)(void *ctx, const ss_reject *rej);
    /** Called after each committed batch with the run's totals so far: everything counted in
     * @p totals is durable when this is called. */
    void (*on_commit)(void *ctx, const ss_ingest_totals *totals);
    void *ctx;
    /** Filters to run on every locus a new alert updates (borrowed; may be NULL). Their outputs
     * are stored in the same transaction as the alert. */
    ss_filter_set *filters;
    /** For a broker, instead of @p filters: queue every locus a new alert updates in the store's
     * dispatch queue, in the alert's transaction (queue.h). */
    int queue_dispatch;
    /** Called inside each batch's write transaction just before it commits, for a broker to
     * record what the batch consumed (journal positions) atomically with it. A non-zero return
     * aborts the batch and is returned by the flush. */
    int (*before_commit)(void *ctx, ss_store_txn *txn);
    /** With @p filters, may be NULL: called inside the batch's transaction after the filters ran
     * on a locus, with what each did; and with NULL when a batch (re)starts, meaning that what
     * was reported since the last commit is void (a full map makes a batch start over). A replay
     * counts what was reported when on_commit follows. A non-zero return (with a dispatch)
     * aborts the batch and is returned by the flush: a replay stopping at Ctrl-C. */
    int (*on_dispatch)(void *ctx, const ss_filter_dispatch_info *d);
    /** May be NULL. A replay reads every input before it runs anything, to run the alerts in
     * observation-time order: each valid packet is handed to this instead of being stored, while
     * rejections are stored as usual. Decoders then keep every field of history entries (nothing
     * counts as known). A non-zero return stops the ingest, @p err saying why. */
    int (*divert)(void *ctx, const ss_packet *pkt, ss_err *err);
    /** Non-zero: write each full batch on a thread of the run's own while the next one is
     * decoded, so that decoding and the store's work (compression, B-trees, the commit's disk
     * flush) share two cores. Batches still commit one at a time and in order, and what the
     * store holds after ss_ingest_finish() is the same. Ignored (batches are written in the
     * caller's thread) with @p filters, @p queue_dispatch, @p before_commit, @p on_dispatch or
     * @p divert, which run inside a batch's transaction. @p on_reject and @p on_commit are still
     * called in the caller's thread, from an ingest call, once their batch committed; the
     * totals on_commit gets leave out what was read since into the next batch. Memory: three
     * batches of decoded alerts instead of one (one decoded while two wait for the writer or are
     * written); the read snapshot that skips known history entries may pin the pages the commits
     * meanwhile free, until the next batch starts. */
    int overlap;
    /** With @p overlap, which packets' alert records the decoding thread packs ahead of the
     * writer (their property lists, compressed with the survey's dictionary, ss_store_lists):
     * 0, a share steered after each batch toward the side that waited less; 1, every packet;
     * -1, none. The store holds the same either way; 1 and -1 are for tests and benchmarks. */
    int pack_ahead;
} ss_ingest_options;

/**
 * The one rule a packet passes before it is stored, applied alike by ingest, `skysieve inspect`
 * and `skysieve partition`: the primary alert must be valid with a position (ss_alert_validate()),
 * else the whole packet is refused; a history entry that is not valid is dropped from the packet
 * alone, handed to @p on_history (may be NULL) with its reason and "(history entry N of alert
 * ID)" in its detail.
 * @param[out] rej why the packet was refused (its origin field is kept).
 * @return 1 to keep the packet (history compacted), 0 refused, or on_history's non-zero code.
 */
int ss_ingest_validate(ss_packet *pkt, ss_reject *rej,
                       int (*on_history)(void *ctx, const ss_reject *rej), void *ctx);

/**
 * Start an ingest run into @p store (opened read-write; still owned by the caller, who must keep it
 * open until ss_ingest_free()). @return the run, or NULL when out of memory.
 */
ss_ingest *ss_ingest_new(ss_store *store, const ss_ingest_options *opts);

/**
 * Ingest a file, or every file a decoder recognises in a directory tree (in name order).
 * @return 0; SS_EREJECT when the input (or part of a directory) was rejected as a whole, @p err
 *         naming it (the run goes on); any other code: the store failed and the run must stop.
 */
int ss_ingest_path(ss_ingest *in, const char *path, ss_err *err);

/** Ingest an open stream named @p name (the caller keeps @p fp). Returns as ss_ingest_path(). */
int ss_ingest_stream(ss_ingest *in, FILE *fp, const char *name, ss_err *err);

/**
 * Ingest an input that is in memory already (a Kafka message): @p len bytes at @p data, the
 * caller's, read only during the call. A decoder that can (ss_decoder_ops.open_memory) decodes
 * them where they lie, without the two copies a stream over them (fmemopen) makes. Returns as
 * ss_ingest_path(), except that running out of memory while opening the input (SS_ENOMEM) is
 * returned as an error, not a rejection: the input is not at fault, and a Kafka consumer must not
 * commit past it.
 */
int ss_ingest_memory(ss_ingest *in, const void *data, size_t len, const char *name, ss_err *err);

/**
 * Ingest what a decoder already opened yields (a replay's time-ordered staging). @p ops and
 * @p state stay the caller's; the caller closes the state. Returns as ss_ingest_path().
 */
int ss_ingest_source(ss_ingest *in, const ss_decoder_ops *ops, void *state, const char *name,
                     ss_err *err);

/**
 * Publish every tag event on the output at @p address (nanomsg: ipc://..., tcp://...) once its
 * batch commits. @return 0, or an error when no output serves the address or it cannot be opened.
 */
int ss_ingest_publish(ss_ingest *in, const char *address, ss_err *err);

/** Commit what is buffered, the batches handed to the overlap thread first. @return 0 or a
 * store failure (a batch that failed stays buffered, to be written by the next flush). */
int ss_ingest_flush(ss_ingest *in, ss_err *err);

/** With overlap: wait for the batches handed to the writing thread, if any, and finish each (its
 * counts, its reports, on_commit); the batch being decoded stays buffered. Without, nothing to do.
 * For a caller that times the ingest or pauses between inputs. @return as ss_ingest_flush(). */
int ss_ingest_settle(ss_ingest *in, ss_err *err);

/**
 * Commit what is buffered and record the run in the store's `ingests` table.
 * @param[out] totals the run's totals (may be NULL). @return 0 or a store failure.
 */
int ss_ingest_finish(ss_ingest *in, ss_ingest_totals *totals, ss_err *err);

/**
 * Read the inputs that follow with the decoder named @p format (a static string; NULL: detect per
 * input), for a source whose messages have a known format beside inputs that are detected.
 * @return the format in force before.
 */
const char *ss_ingest_set_format(ss_ingest *in, const char *format);

/** Packets decoded and not yet committed (with overlap: those being written too). */
uint32_t ss_ingest_pending(const ss_ingest *in);

/** Totals committed so far. */
void ss_ingest_totals_get(const ss_ingest *in, ss_ingest_totals *totals);

/** Free the run; anything not flushed is dropped (not stored, not counted). NULL is allowed. */
void ss_ingest_free(ss_ingest *in);

#endif
