/*
 * Dispatch: run a filter set on one updated locus, in order, each filter only when its requirements
 * are met, each failure counted against its filter alone.
 */
#include "filters_impl.h"

#include "json_text.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SSI_MAX_TIME_SAMPLES ((size_t)1 << 20)

static double ssi_now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec * 1e-3;
}

/* Keep every sample up to a million, then a uniform reservoir of them: memory stays bounded on a
 * broker that runs for months, percentiles stay representative. */
void ss_filter_stats_record_time(ss_filter_stats *st, double us)
{
    if (st->ntimes == st->captimes && st->captimes < SSI_MAX_TIME_SAMPLES) {
        size_t cap = st->captimes ? st->captimes * 2 : 1024;
        double *fresh = realloc(st->times_us, cap * sizeof *fresh);
        if (!fresh)
            return;
        st->times_us = fresh;
        st->captimes = cap;
    }
    uint64_t seen = st->runs + st->errors + 1;
    if (st->ntimes < st->captimes)
        st->times_us[st->ntimes++] = us;
    else {
        uint64_t x = seen * UINT64_C(0x9E3779B97F4A7C15);
        uint64_t slot = (x ^ (x >> 31)) % seen;
        if (slot < st->ntimes)
            st->times_us[slot] = us;
    }
}

/* With @p may_disable 0 the caller (a broker) owns disabling and only the counts move. */
static void ssi_filter_failed(ss_filter_set *fs, ssi_filter *f, const char *locus_id,
                              const char *why, int may_disable)
{
    ss_filter_stats *st = &f->st;
    st->errors++;
    st->consecutive_errors++;
    snprintf(st->last_error, sizeof st->last_error, "%.19s: %.230s", locus_id, why);
    if (may_disable && st->consecutive_errors >= fs->max_consecutive_failures && !st->disabled) {
        st->disabled = 1;
        fprintf(stderr,
                "skysieve: filter %s disabled after %llu consecutive failures; last: %s "
                "(report to %s)\n",
                f->desc->name, (unsigned long long)st->consecutive_errors, st->last_error,
                f->desc->author);
    }
}

/* Count a successful run's writes: @p props properties (those an earlier filter of the dispatch
 * also wrote included), and the tags it added. */
static void ssi_count_outputs(ssi_filter *f, size_t props, const ss_filter_outputs *before,
                              const ss_filter_outputs *after)
{
    f->st.props_written += props;
    /* an event's tag is the declaration's own string: find its slot by address */
    for (size_t i = before->ntags; i < after->ntags; i++)
        for (size_t k = 0; f->desc->output_tags[k].name; k++)
            if (f->desc->output_tags[k].name == after->tags[i].tag)
                f->st.tag_counts[k]++;
}

/* Run one filter, its result in @p res. @return 1 when the pipeline halts here, 0 to go on, <0
 * out of memory. */
static int ssi_run_one(ss_filter_set *fs, ssi_filter *f, ss_filter_result *res, int may_disable)
{
    ss_locus_view *v = fs->view;
    if (!ssi_view_requirements_met(v, f->desc)) {
        f->st.skipped++;
        res->outcome = SS_FILTER_SKIPPED;
        return 0;
    }
    ss_err ferr = {0};
    ss_filter_outputs before, after;
    ssi_view_outputs(v, &before);
    ssi_view_begin(v, f->desc);
    double t0 = ssi_now_us();
    int rc = f->rt->run(f->impl, ssi_host_api(), v, &ferr);
    res->us = (float)(ssi_now_us() - t0);
    ss_filter_stats_record_time(&f->st, res->us);
    const char *why = ssi_view_failure(v);
    if (rc || why) {
        ssi_filter_failed(fs, f, ssi_view_locus(v)->id, why ? why : ferr.msg, may_disable);
        res->outcome = SS_FILTER_ERROR;
        res->msg = f->st.last_error;
        return 0;
    }
    size_t props = ssi_view_pending_writes(v);
    if (ssi_view_commit(v))
        return SS_ENOMEM;
    f->st.runs++;
    f->st.consecutive_errors = 0;
    ssi_view_outputs(v, &after);
    ssi_count_outputs(f, props, &before, &after);
    res->nprops = (uint32_t)props;
    f->st.halts += ssi_view_halted(v);
    res->outcome = ssi_view_halted(v) ? SS_FILTER_HALTED : SS_FILTER_RAN;
    return ssi_view_halted(v);
}

/* Every filter in order until one halts. Without @p ctl the set disables failing filters itself;
 * @p results (NULL: not wanted) receives what each did. */
static int ssi_run_all(ss_filter_set *fs, const ss_filter_dispatch_ctl *ctl,
                       ss_filter_result *results)
{
    for (size_t i = 0; i < fs->n; i++) {
        ss_filter_result scratch = {0}, *res = results ? &results[i] : &scratch;
        *res = (ss_filter_result){0};
        if (ctl ? ctl->exclude[i] : fs->filters[i].st.disabled)
            continue;
        if (ctl && ctl->before_run)
            ctl->before_run(ctl->ctx, i);
        int rc = ssi_run_one(fs, &fs->filters[i], res, ctl == NULL);
        if (rc == 1) {
            for (size_t k = i + 1; results && k < fs->n; k++)
                results[k] = (ss_filter_result){0};
            return 0;
        }
        if (rc)
            return rc;
    }
    return 0;
}

int ss_filter_dispatch(ss_filter_set *fs, ss_store_txn *txn, const char *locus_id,
                       const ss_locus *known, const ss_alert *trigger, int write,
                       ss_filter_result *results, ss_filter_outputs *out, ss_err *err)
{
    int rc = ssi_view_open(fs->view, txn, locus_id, known, trigger);
    if (!rc)
        rc = ssi_run_all(fs, NULL, results);
    ssi_view_outputs(fs->view, out);
    if (!rc && write && (out->ntags || out->nlocus_props || out->nalert_props))
        rc = ssi_view_store(fs->view);
    return rc ? ss_store_fail(ss_store_txn_store(txn), err, rc, "running filters") : 0;
}

int ss_filter_dispatch_ctl_run(ss_filter_set *fs, ss_store_txn *txn, const char *locus_id,
                               const char *survey, const char *alert_id,
                               const ss_filter_dispatch_ctl *ctl, ss_filter_outputs *out,
                               ss_err *err)
{
    int rc = ssi_view_open_key(fs->view, txn, locus_id, survey, alert_id);
    if (!rc)
        rc = ssi_run_all(fs, ctl, ctl->results);
    ssi_view_outputs(fs->view, out);
    return rc ? ss_store_fail(ss_store_txn_store(txn), err, rc, "running filters") : 0;
}

int ssi_dispatch_key(ss_filter_set *fs, ss_store_txn *txn, const char *locus_id, const char *survey,
                     const char *alert_id, ss_filter_outputs *out, ss_err *err)
{
    int rc = ssi_view_open_key(fs->view, txn, locus_id, survey, alert_id);
    if (!rc)
        rc = ssi_run_all(fs, NULL, NULL);
    ssi_view_outputs(fs->view, out);
    return rc ? ss_store_fail(ss_store_txn_store(txn), err, rc, "running filters") : 0;
}

const ss_locus *ss_filter_set_locus(const ss_filter_set *fs)
{
    return ssi_view_locus(fs->view);
}

const ss_alert *ss_filter_set_trigger(const ss_filter_set *fs)
{
    return ssi_view_trigger(fs->view);
}

void ss_filter_set_info(const ss_filter_set *fs, size_t i, ss_filter_info *out)
{
    const ssi_filter *f = &fs->filters[i];
    *out = (ss_filter_info){f->label, f->path, f->rt->name, f->desc};
}

const ss_filter_stats *ss_filter_set_stats(const ss_filter_set *fs, size_t i)
{
    return &fs->filters[i].st;
}

unsigned ss_filter_set_max_failures(const ss_filter_set *fs)
{
    return fs->max_consecutive_failures;
}

void ss_filter_stats_free(ss_filter_stats *st)
{
    free(st->times_us);
    free(st->tag_counts);
    st->times_us = NULL;
    st->tag_counts = NULL;
}
