/**
 * @file filters_impl.h
 * @brief Private to the core: loaded filters, the locus view filters read, and dispatch.
 */
#ifndef SS_FILTERS_IMPL_H
#define SS_FILTERS_IMPL_H

#include "filters.h"
#include "record.h"
#include "store_impl.h"

#include <stdint.h>

typedef struct ssi_filter_stats {
    uint64_t runs, skipped, errors, halts, props_written, consecutive_errors;
    int disabled;
    char last_error[256];
    double *times_us; /* one sample per run, for percentiles */
    size_t ntimes, captimes;
    uint64_t *tag_counts; /* per declared output tag, in declaration order */
} ssi_filter_stats;

typedef struct ssi_filter {
    const ss_runtime_ops *rt;
    void *impl;
    const ss_filter_descriptor *desc;
    char *label; /* the config section's label, or the file name */
    char *path;
    int priority;
    size_t seq; /* position in the configuration: ties of priority keep it */
    ssi_filter_stats st;
} ssi_filter;

struct ss_filter_set {
    ssi_filter *filters; /* in run order */
    size_t n;
    unsigned max_consecutive_failures;
    ss_locus_view *view; /* reused for every dispatch */
    ssi_wbuf buf;        /* scratch for storing outputs */
};

/** A tag added during a dispatch, to store and to publish once the transaction commits. */
typedef struct ssi_tag_event {
    const char *tag;
    const char *filter;
} ssi_tag_event;

/** What a dispatch did. Arrays live in the view's arena until the next dispatch. */
typedef struct ssi_dispatch_out {
    const ssi_tag_event *tags;
    size_t ntags;
    const ss_prop *locus_props; /* properties written by this dispatch */
    size_t nlocus_props;
    const ss_prop *alert_props; /* properties of the trigger alert written by this dispatch */
    size_t nalert_props;
    int halted;
    const char *halted_by;
} ssi_dispatch_out;

/** What one filter did in one dispatch (ssi_dispatch_ctl.outcomes). */
typedef enum ssi_outcome {
    SSI_OUT_NOT_RUN = 0, /* excluded, disabled, or after a halt */
    SSI_OUT_SKIPPED,     /* requirements missing */
    SSI_OUT_RAN,
    SSI_OUT_HALTED, /* ran and halted the pipeline */
    SSI_OUT_ERROR,
} ssi_outcome;

typedef struct ssi_filter_result {
    uint8_t outcome; /* ssi_outcome */
    float us;        /* run time; 0 when not run */
    const char *msg; /* SSI_OUT_ERROR: the filter's message, valid until the next dispatch */
    uint32_t nprops; /* properties this run wrote (locus and alert) */
} ssi_filter_result;

/**
 * How a broker worker drives a dispatch: which filters to leave out (the broker decides what is
 * disabled, so the set's own disabling is bypassed), what each filter did, and a hook called just
 * before each filter runs (the worker records which filter is running, for crash reports).
 */
typedef struct ssi_dispatch_ctl {
    const uint8_t *exclude;     /* fs->n flags: 1 leaves the filter out */
    ssi_filter_result *results; /* fs->n results, filled */
    void (*before_run)(void *ctx, size_t filter);
    void *ctx;
} ssi_dispatch_ctl;

/**
 * Run the set on a locus in @p txn. @p known is the locus record when the caller has it (NULL:
 * read it). @p trigger is the alert that updated it (NULL: its newest alert). With @p write, the
 * outputs are stored in @p txn; without, nothing is written. Filter failures are counted, not
 * returned. @p results (fs->n entries, or NULL) receives what each filter did.
 * @return 0 or a store error.
 */
int ssi_dispatch(ss_filter_set *fs, ss_store *s, MDB_txn *txn, const char *locus_id,
                 const ss_locus *known, const ss_alert *trigger, int write,
                 ssi_filter_result *results, ssi_dispatch_out *out, ss_err *err);

/**
 * What ss_ingest_options.on_dispatch receives once the filters ran on a locus (for replay
 * reports). Everything is borrowed until the next dispatch.
 */
typedef struct ssi_dispatch_info {
    const char *locus_id;
    const ss_locus *locus;            /* the locus as the filters saw it */
    const ss_alert *trigger;          /* the new alert that updated it */
    const ssi_filter_result *results; /* one per filter of the set, in run order */
    const ssi_dispatch_out *out;      /* what the dispatch wrote */
} ssi_dispatch_info;

/** ssi_dispatch() driven by @p ctl (never writes). */
int ssi_dispatch_ctl_run(ss_filter_set *fs, ss_store *s, MDB_txn *txn, const char *locus_id,
                         const char *survey, const char *alert_id, const ssi_dispatch_ctl *ctl,
                         ssi_dispatch_out *out, ss_err *err);

/** The filter at run position @p i. */
const ssi_filter *ssi_set_filter(const ss_filter_set *fs, size_t i);

/**
 * Store a dispatch's outputs for @p locus_id in @p txn, merged into what is stored now (the store
 * may have changed since the dispatch read it): properties replace same-named ones, a tag already
 * on the locus stays as first recorded. @p mjd is the trigger's, for the tag index.
 * @return 0 or an LMDB/SS_E* code.
 */
int ssi_outputs_store(ss_store *s, MDB_txn *txn, const char *locus_id, const char *survey,
                      const char *alert_id, double mjd, const ssi_dispatch_out *o, ssi_wbuf *buf,
                      ss_arena *scratch);

/** Keep a run time: every sample up to a million, then a uniform reservoir. */
void ssi_stats_record_time(ssi_filter_stats *st, double us);
/** p50, p90 and p99 of the kept run times, in microseconds. */
void ssi_stats_percentiles(const ssi_filter_stats *st, double out[3]);

/** Nearest-rank percentile @p q (0..1) of @p n sorted samples; 0 when n is 0. */
double ssi_percentile(const double *sorted, size_t n, double q);

/* ---- the locus view (view.c) ---- */
ss_locus_view *ssi_view_new(void);
void ssi_view_free(ss_locus_view *v);
/** Point the view at a locus: loads the locus record and the stored filter outputs. */
int ssi_view_open(ss_locus_view *v, ss_store *s, MDB_txn *txn, const char *locus_id,
                  const ss_locus *known, const ss_alert *trigger);
/** ssi_view_open() with the trigger given by key (SS_ENOTFOUND when the locus lacks it). */
int ssi_view_open_key(ss_locus_view *v, ss_store *s, MDB_txn *txn, const char *locus_id,
                      const char *survey, const char *alert_id);
/** The host table filters receive. */
const ss_host_api *ssi_host_api(void);
/** 1 when every requirement of @p d is present on the view's locus. */
int ssi_view_requirements_met(ss_locus_view *v, const ss_filter_descriptor *d);
/** Start a run of @p d: forget the previous run's pending writes. */
void ssi_view_begin(ss_locus_view *v, const ss_filter_descriptor *d);
/** The message of a failed run (host->fail() or a write error), or NULL. */
const char *ssi_view_failure(ss_locus_view *v);
/** Properties the current run wrote (locus and alert; a property written twice counts once). */
size_t ssi_view_pending_writes(const ss_locus_view *v);
/** Keep the pending writes of a successful run. @return 0 or SS_ENOMEM. */
int ssi_view_commit(ss_locus_view *v);
/** 1 when the last committed run halted the pipeline. */
int ssi_view_halted(ss_locus_view *v);
/** Everything kept so far in this dispatch. */
void ssi_view_outputs(ss_locus_view *v, ssi_dispatch_out *out);
/** Store the kept outputs in the view's transaction. */
int ssi_view_store(ss_locus_view *v, ssi_wbuf *buf);
/** The trigger alert (decoded), or NULL. */
const ss_alert *ssi_view_trigger(ss_locus_view *v);
/** The view's locus record. */
const ss_locus *ssi_view_locus(ss_locus_view *v);

#endif
