/**
 * @file filters.h
 * @brief Filter sets: load, validate and order filters, run them on updated loci, store their
 * outputs.
 *
 * A filter set is described by an INI file (example: config/filters.ini):
 *
 *     [set]
 *     max_consecutive_failures = 10   ; a filter failing this many times in a row is disabled
 *     memory = 64M                    ; Lua memory cap per filter (default 64M)
 *     instructions = 10000000         ; Lua instruction budget per run (default 10,000,000)
 *     run_time_limit_ms = 1000        ; Lua wall-clock limit per run (default 1000)
 *     setup_time_limit_ms = 10000     ; ... per script load and per setup (default 10000)
 *
 *     [filter jump]                   ; one section per filter; the label is used in messages
 *     path = ../filters-contrib/jump/jump.lua   ; .so or .lua, relative to this file
 *     priority = 10                   ; lower runs first (default 100), then file order
 *     enabled = true
 *     memory = 16M                    ; overrides for this filter
 *     instructions = 1000000
 *     setup.threshold = 3.0           ; setup data: key = value ...
 *     setup_file.model = model.txt    ; ... or key = the contents of a file
 *
 * A filter requiring a tag runs after every filter that outputs it. A set in which a required tag
 * is output by no filter, or whose tag requirements form a cycle, is refused with the reason, as is
 * one with two filters of the same NAME or a filter that does not load, validate or set up.
 *
 * Ownership: ss_filter_set_load() returns a set owned by the caller (ss_filter_set_free()). A set
 * is used by one thread at a time.
 *
 * This folder (core/filter/) exports ss_filter_*: filter sets, dispatch, and the host API that
 * filters call back into (host_api.c). Its private names (ssi_) stay inside it.
 */
#ifndef SS_FILTERS_H
#define SS_FILTERS_H

#include "runtime.h"
#include "store.h"

#include <jansson.h>
#include <stdio.h>

typedef struct ss_filter_set ss_filter_set;

/** Load, validate, set up and order the filter set described by the INI file @p path. */
int ss_filter_set_load(const char *path, ss_filter_set **out, ss_err *err);

/**
 * A set of one filter file (for `skysieve filter check|run`), with default limits, set up with
 * @p items (may be NULL). Tag requirements are not checked against other filters.
 */
int ss_filter_set_single(const char *filter_path, const ss_setup_item *items, size_t n,
                         ss_filter_set **out, ss_err *err);

/**
 * Copy the set described by @p path (the INI and every enabled filter's file and setup files) into
 * the existing directory @p dir, with @p dir/filters.ini describing the copies. Loading the
 * snapshot gives the set as it was now, whatever happens to the originals later: a broker's
 * generation stays the same set when a worker restarts after the files changed on disk.
 * @p dir/sources lists each copy's name and its original path (tab-separated lines), so that
 * messages about a copy can name the original.
 * @return 0, or an error naming the file and the reason.
 */
int ss_filter_set_snapshot(const char *path, const char *dir, ss_err *err);

/** Tear every filter down and free the set. NULL is allowed. */
void ss_filter_set_free(ss_filter_set *fs);

/** Number of filters, in run order. */
size_t ss_filter_set_count(const ss_filter_set *fs);

/** The descriptor of filter @p i (owned by the set). */
const ss_filter_descriptor *ss_filter_set_descriptor(const ss_filter_set *fs, size_t i);

/** A filter's declarations as JSON (what `skysieve filter check` prints). Caller owns it. */
json_t *ss_filter_declarations_json(const ss_filter_descriptor *d, const char *runtime);

/**
 * Per-filter counters since the set was loaded, as JSON: runs, skipped (requirements missing),
 * errors, halts, tags added per tag, properties written, disabled, last error, time per run
 * p50/p90/p99 in microseconds. Caller owns it.
 */
json_t *ss_filter_set_stats_json(const ss_filter_set *fs);

/** What a dry run runs. */
typedef struct ss_filter_dry_options {
    const char *locus_id; /**< one locus, or NULL: every locus, in id order */
    const char *as_of;    /**< with locus_id: the alert it runs as of (its id, in any survey);
                               NULL: the newest alert */
    int every_alert;      /**< every alert of each locus instead, as of itself, in the order they
                               arrived, each run seeing what the earlier runs on its locus wrote and
                               nothing stored: a replay that writes nothing */
} ss_filter_dry_options;

/**
 * Run the set on stored loci without writing anything (the devkit's run_filter and run_many).
 * A run sees its locus as of its trigger, as a live dispatch does. Prints one JSON line per run:
 * locus_id, survey, alert_id (the trigger), new_locus_properties, new_alert_properties, new_tags,
 * halted, errors, t_us. Filter statistics accumulate in the set (ss_filter_set_stats_json()).
 * @return 0, SS_ENOTFOUND for an unknown locus or alert, or a store error.
 */
int ss_filter_set_dry_run(ss_filter_set *fs, ss_store *s, const ss_filter_dry_options *o, FILE *out,
                          ss_err *err);

/* ---- dispatch: running a set on an updated locus ---- */

typedef struct ss_filter_stats {
    uint64_t runs, skipped, errors, halts, props_written, consecutive_errors;
    int disabled;
    char last_error[256];
    double *times_us; /**< one sample per run, for percentiles */
    size_t ntimes, captimes;
    uint64_t *tag_counts; /**< per declared output tag, in declaration order */
} ss_filter_stats;

/** A tag added during a dispatch, to store and to publish once the transaction commits. */
typedef struct ss_filter_tag_event {
    const char *tag;
    const char *filter;
} ss_filter_tag_event;

/** What a dispatch did. Arrays live in the view's arena until the next dispatch. */
typedef struct ss_filter_outputs {
    const ss_filter_tag_event *tags;
    size_t ntags;
    const ss_prop *locus_props; /**< properties written by this dispatch */
    size_t nlocus_props;
    const ss_prop *alert_props; /**< properties of the trigger alert written by this dispatch */
    size_t nalert_props;
    int halted;
    const char *halted_by;
} ss_filter_outputs;

/** What one filter did in one dispatch (ss_filter_dispatch_ctl.outcomes). */
typedef enum ss_filter_outcome {
    SS_FILTER_NOT_RUN = 0, /**< excluded, disabled, or after a halt */
    SS_FILTER_SKIPPED,     /**< requirements missing */
    SS_FILTER_RAN,
    SS_FILTER_HALTED, /**< ran and halted the pipeline */
    SS_FILTER_ERROR,
} ss_filter_outcome;

typedef struct ss_filter_result {
    uint8_t outcome; /**< ss_filter_outcome */
    float us;        /**< run time; 0 when not run */
    const char *msg; /**< SS_FILTER_ERROR: the filter's message, valid until the next dispatch */
    uint32_t nprops; /**< properties this run wrote (locus and alert) */
} ss_filter_result;

/**
 * How a broker worker drives a dispatch: which filters to leave out (the broker decides what is
 * disabled, so the set's own disabling is bypassed), what each filter did, and a hook called just
 * before each filter runs (the worker records which filter is running, for crash reports).
 */
typedef struct ss_filter_dispatch_ctl {
    const uint8_t *exclude;    /**< fs->n flags: 1 leaves the filter out */
    ss_filter_result *results; /**< fs->n results, filled */
    void (*before_run)(void *ctx, size_t filter);
    void *ctx;
} ss_filter_dispatch_ctl;

/**
 * Run the set on a locus in @p txn. @p known is the locus record when the caller has it (NULL:
 * read it). @p trigger is the alert that updated it (NULL: its newest alert). With @p write, the
 * outputs are stored in @p txn; without, nothing is written. Filter failures are counted, not
 * returned. @p results (fs->n entries, or NULL) receives what each filter did.
 * @return 0 or a store error.
 */
int ss_filter_dispatch(ss_filter_set *fs, ss_store_txn *txn, const char *locus_id,
                       const ss_locus *known, const ss_alert *trigger, int write,
                       ss_filter_result *results, ss_filter_outputs *out, ss_err *err);

/**
 * What ss_ingest_options.on_dispatch receives once the filters ran on a locus (for replay
 * reports). Everything is borrowed until the next dispatch.
 */
typedef struct ss_filter_dispatch_info {
    const char *locus_id;
    const ss_locus *locus;           /**< the locus as the filters saw it */
    const ss_alert *trigger;         /**< the new alert that updated it */
    const ss_filter_result *results; /**< one per filter of the set, in run order */
    const ss_filter_outputs *out;    /**< what the dispatch wrote */
} ss_filter_dispatch_info;

/** ss_filter_dispatch() driven by @p ctl (never writes). */
int ss_filter_dispatch_ctl_run(ss_filter_set *fs, ss_store_txn *txn, const char *locus_id,
                               const char *survey, const char *alert_id,
                               const ss_filter_dispatch_ctl *ctl, ss_filter_outputs *out,
                               ss_err *err);

/**
 * Store a dispatch's outputs for @p locus_id in @p txn, merged into what is stored now (the store
 * may have changed since the dispatch read it): properties replace same-named ones, a tag already
 * on the locus stays as first recorded. @p mjd is the trigger's, for the tag index. @p scratch
 * holds merged bags meanwhile. @return 0 or a store code.
 */
int ss_filter_outputs_store(ss_store_txn *txn, const char *locus_id, const char *survey,
                            const char *alert_id, double mjd, const ss_filter_outputs *o,
                            ss_arena *scratch);

/* ---- which filter writes each property ---- */

/**
 * Who a store says writes a filter-written property: the last filter set to start writing into it
 * whose filter declared the property (OUTPUT_LOCUS_PROPERTIES or OUTPUT_ALERT_PROPERTIES). Filters
 * may write only what they declare, so that filter wrote the property's newer values; values older
 * than that set may be another filter's of an earlier set that declared the same name.
 */
typedef struct ss_filter_writer {
    char kind;         /**< 'l' a locus property, 'a' an alert property */
    char property[97]; /**< its name (declared names have at most 96 characters) */
    char filter[128];  /**< the filter's NAME */
    char version[64];  /**< its VERSION ("" when none was given; a longer one is cut) */
} ss_filter_writer;

/**
 * Record in @p txn, for every filter of @p fs and every property it declares, that the filter
 * writes it (the store's meta table, keys "filter_output" NUL kind NUL name, of this stage's own),
 * replacing what an earlier set recorded for the same name. Call it in the transaction that
 * starts a set writing into a store (`skysieve ingest --filters`, the broker's generations).
 * @return 0, or an LMDB code (MDB_MAP_FULL: run it again in a grown map, as ss_store_write() does).
 */
int ss_filter_set_record_outputs(const ss_filter_set *fs, ss_store_txn *txn);

/**
 * Record one declaration: filter @p filter (version @p version, may be NULL) writes property
 * @p property of kind @p kind ('l' or 'a'). For a process that knows a set's declarations without
 * loading it (the broker, from its workers). @return 0, SS_EINVAL (an unknown kind, an empty or
 * over-long name), or an LMDB code.
 */
int ss_filter_writer_record(ss_store_txn *txn, char kind, const char *property, const char *filter,
                            const char *version);

/**
 * The recorded writer of property @p property of kind @p kind ('l' or 'a') into @p out (owned by
 * the caller). @return 0, SS_ENOTFOUND when none is recorded (a store written before writers were
 * recorded, or a property no filter declared), or an LMDB code.
 */
int ss_filter_writer_get(ss_store_txn *txn, char kind, const char *property, ss_filter_writer *out);

/** Called by ss_filter_writers_each() with a record borrowed for the call; non-zero stops. */
typedef int (*ss_filter_writer_fn)(void *ctx, const ss_filter_writer *w);

/**
 * Every recorded writer of kind @p kind ('l', 'a', or 0: both), by kind then property name.
 * Damaged records are skipped. @return 0, what @p fn returned to stop, or an LMDB code.
 */
int ss_filter_writers_each(ss_store_txn *txn, char kind, ss_filter_writer_fn fn, void *ctx);

/** The locus the last dispatch ran on, as its filters saw it, and its trigger (both borrowed until
 * the next dispatch). */
const ss_locus *ss_filter_set_locus(const ss_filter_set *fs);
const ss_alert *ss_filter_set_trigger(const ss_filter_set *fs);

/** What is known of filter @p i of a set (strings owned by the set). */
typedef struct ss_filter_info {
    const char *label;   /**< the configuration's section label, or the file name */
    const char *path;    /**< the filter's file */
    const char *runtime; /**< "lua", "so" */
    const ss_filter_descriptor *desc;
} ss_filter_info;

void ss_filter_set_info(const ss_filter_set *fs, size_t i, ss_filter_info *out);

/** The counters of filter @p i since the set was loaded (owned by the set). */
const ss_filter_stats *ss_filter_set_stats(const ss_filter_set *fs, size_t i);

/** The set's max_consecutive_failures. */
unsigned ss_filter_set_max_failures(const ss_filter_set *fs);

/** Keep a run time: every sample up to a million, then a uniform reservoir. */
void ss_filter_stats_record_time(ss_filter_stats *st, double us);
/** p50, p90 and p99 of the kept run times, in microseconds. */
void ss_filter_stats_percentiles(const ss_filter_stats *st, double out[3]);
/** Free what @p st holds (not @p st itself). */
void ss_filter_stats_free(ss_filter_stats *st);

#endif
