/**
 * @file filters_impl.h
 * @brief Private to core/filter/: loaded filters, the locus view filters read, and dispatch.
 */
#ifndef SS_FILTERS_IMPL_H
#define SS_FILTERS_IMPL_H

#include "filters.h"
#include "record.h"

#include <stdint.h>

typedef struct ssi_filter {
    const ss_runtime_ops *rt;
    void *impl;
    const ss_filter_descriptor *desc;
    char *label; /* the config section's label, or the file name */
    char *path;
    int priority;
    size_t seq; /* position in the configuration: ties of priority keep it */
    ss_filter_stats st;
} ssi_filter;

struct ss_filter_set {
    ssi_filter *filters; /* in run order */
    size_t n;
    unsigned max_consecutive_failures;
    ss_locus_view *view; /* reused for every dispatch */
};

/** Nearest-rank percentile @p q (0..1) of @p n sorted samples; 0 when n is 0. */
double ssi_percentile(const double *sorted, size_t n, double q);

/** ss_filter_dispatch() as of the alert (survey, alert_id) (@p survey NULL: any survey), by the
 * set's own rules, writing nothing. @return 0, SS_ENOTFOUND when the locus lacks that alert, or a
 * store error. */
int ssi_dispatch_key(ss_filter_set *fs, ss_store_txn *txn, const char *locus_id, const char *survey,
                     const char *alert_id, ss_filter_outputs *out, ss_err *err);

/* ---- the locus view: what the host API serves filters (host_api.c) ---- */

/** A dry run's own outputs on one locus, seen by its next dispatches instead of the stored ones
 * (`filter run --all`: a replay that writes nothing). Owned by the dry run. */
typedef struct ssi_overlay ssi_overlay;
ssi_overlay *ssi_overlay_new(void);
void ssi_overlay_free(ssi_overlay *ov);
/** Forget everything (the next locus starts empty). */
void ssi_overlay_clear(ssi_overlay *ov);
/** Keep what the view's last dispatch wrote. @return 0 or SS_ENOMEM. */
int ssi_overlay_absorb(ssi_overlay *ov, ss_locus_view *v);
/** Serve @p ov (NULL: the store) instead of the stored outputs from the next open on. */
void ssi_view_use_overlay(ss_locus_view *v, ssi_overlay *ov);
ss_locus_view *ssi_view_new(void);
void ssi_view_free(ss_locus_view *v);
/** Point the view at a locus: loads the locus record and the stored filter outputs. */
int ssi_view_open(ss_locus_view *v, ss_store_txn *txn, const char *locus_id, const ss_locus *known,
                  const ss_alert *trigger);
/** ssi_view_open() with the trigger given by key (SS_ENOTFOUND when the locus lacks it). */
int ssi_view_open_key(ss_locus_view *v, ss_store_txn *txn, const char *locus_id, const char *survey,
                      const char *alert_id);
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
void ssi_view_outputs(ss_locus_view *v, ss_filter_outputs *out);
/** Store the kept outputs in the view's transaction. */
int ssi_view_store(ss_locus_view *v);
/** The trigger alert (decoded), or NULL. */
const ss_alert *ssi_view_trigger(ss_locus_view *v);
/** The view's locus record. */
const ss_locus *ssi_view_locus(ss_locus_view *v);

#endif
