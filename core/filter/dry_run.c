/*
 * Dry runs, `skysieve filter run`: a filter set run over stored loci, writing nothing. A locus
 * runs as of one of its alerts (its newest, or the one named), or every alert of every locus runs
 * as of itself, in the order the alerts arrived, each seeing what the earlier runs on its locus
 * wrote and nothing stored by other runs: a replay that writes nothing.
 */
#include "filters_impl.h"

#include "json_text.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct ssi_dry {
    ss_filter_set *fs;
    ss_store_txn *txn;
    const ss_filter_dry_options *o;
    FILE *out;
    ss_err *err;
    uint64_t *errors_before; /* per filter: its error count before the dispatch */
    ssi_overlay *ov;         /* every-alert mode: the outputs so far on the current locus */
    ss_packet *pkt;          /* every-alert mode: the current locus's alerts */
} ssi_dry;

static double ssi_now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec * 1e-3;
}

static json_t *ssi_dry_report(ssi_dry *d, const char *locus_id, const ss_filter_outputs *o,
                              double us)
{
    ss_filter_set *fs = d->fs;
    const ss_alert *t = ss_filter_set_trigger(fs);
    json_t *lp = json_object(), *ap = json_object(), *tags = json_array();
    ss_json_props(lp, o->locus_props, o->nlocus_props);
    ss_json_props(ap, o->alert_props, o->nalert_props);
    for (size_t i = 0; i < o->ntags; i++)
        json_array_append_new(tags, json_string(o->tags[i].tag));
    json_t *r = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:b, s:f}", "locus_id", locus_id,
                          "survey", ss_json_text(t->survey), "alert_id", ss_json_text(t->alert_id),
                          "new_locus_properties", lp, "new_alert_properties", ap, "new_tags", tags,
                          "halted", o->halted, "t_us", us);
    json_t *errors = json_array();
    for (size_t i = 0; i < fs->n; i++)
        if (fs->filters[i].st.errors > d->errors_before[i])
            json_array_append_new(errors, json_string(fs->filters[i].st.last_error));
    json_object_set_new(r, "errors", errors);
    return r;
}

/* One dispatch, as of alert (survey, alert_id), or of the newest when @p alert_id is NULL. */
static int ssi_dry_one(ssi_dry *d, const char *locus_id, const char *survey, const char *alert_id)
{
    ss_filter_set *fs = d->fs;
    for (size_t i = 0; i < fs->n; i++)
        d->errors_before[i] = fs->filters[i].st.errors;
    ss_filter_outputs o;
    double t0 = ssi_now_us();
    int rc = alert_id ? ssi_dispatch_key(fs, d->txn, locus_id, survey, alert_id, &o, d->err)
                      : ss_filter_dispatch(fs, d->txn, locus_id, NULL, NULL, 0, NULL, &o, d->err);
    double us = ssi_now_us() - t0;
    if (rc == SS_ENOTFOUND && alert_id)
        return ss_err_set(d->err, rc, "locus %s has no alert '%s'", locus_id, alert_id);
    if (!rc && d->ov)
        rc = ssi_overlay_absorb(d->ov, fs->view);
    if (!rc) {
        json_t *r = ssi_dry_report(d, locus_id, &o, us);
        json_dumpf(r, d->out, SS_JSON_FLAGS);
        fputc('\n', d->out);
        json_decref(r);
    }
    return rc;
}

/* The alerts a locus was dispatched for: the primaries of its packets (before packets were
 * numbered every alert counts as one), in the order they arrived. */
static int ssi_by_arrival(const void *x, const void *y)
{
    const ss_alert *a = x, *b = y;
    if (a->arrival != b->arrival)
        return a->arrival < b->arrival ? -1 : 1;
    return a->mjd < b->mjd ? -1 : a->mjd > b->mjd;
}

static int ssi_dry_every_alert(ssi_dry *d, const char *locus_id)
{
    ss_packet *p = d->pkt;
    ss_packet_reset(p);
    ssi_overlay_clear(d->ov);
    int rc = ss_store_locus_alerts(d->txn, locus_id, p);
    uint32_t n = 0;
    for (uint32_t i = 0; !rc && i < p->n; i++)
        if (p->alerts[i].arrival_index == 0 && p->alerts[i].kind != SS_ALERT_FORCED)
            p->alerts[n++] = p->alerts[i];
    p->n = n;
    qsort(p->alerts, n, sizeof *p->alerts, ssi_by_arrival);
    for (uint32_t i = 0; !rc && i < n; i++)
        rc = ssi_dry_one(d, locus_id, p->alerts[i].survey, p->alerts[i].alert_id);
    return rc;
}

static int ssi_dry_locus(void *ctx, const ss_locus *l)
{
    ssi_dry *d = ctx;
    return d->o->every_alert ? ssi_dry_every_alert(d, l->id) : ssi_dry_one(d, l->id, NULL, NULL);
}

static int ssi_dry_start(ssi_dry *d)
{
    d->errors_before = malloc((d->fs->n ? d->fs->n : 1) * sizeof *d->errors_before);
    if (!d->errors_before)
        return SS_ENOMEM;
    if (d->o->every_alert && (!(d->ov = ssi_overlay_new()) || !(d->pkt = ss_packet_new())))
        return SS_ENOMEM;
    ssi_view_use_overlay(d->fs->view, d->ov);
    return 0;
}

int ss_filter_set_dry_run(ss_filter_set *fs, ss_store *s, const ss_filter_dry_options *o, FILE *out,
                          ss_err *err)
{
    ss_store_txn *txn;
    int rc = ss_store_txn_begin(s, SS_STORE_READ, &txn);
    if (rc)
        return ss_store_fail(s, err, rc, "starting a read transaction");
    ssi_dry d = {fs, txn, o, out, err, NULL, NULL, NULL};
    if ((rc = ssi_dry_start(&d)))
        ss_err_set(err, rc, "dry run: out of memory");
    else if (o->locus_id && !o->every_alert)
        rc = ssi_dry_one(&d, o->locus_id, NULL, o->as_of);
    else if (o->locus_id)
        rc = ssi_dry_every_alert(&d, o->locus_id);
    else
        rc = ss_store_loci_each(txn, NULL, ssi_dry_locus, &d);
    ssi_view_use_overlay(fs->view, NULL);
    ssi_overlay_free(d.ov);
    ss_packet_free(d.pkt);
    free(d.errors_before);
    ss_store_txn_abort(txn);
    return rc && !err->code ? ss_store_fail(s, err, rc, "dry run") : rc;
}
