/* A locus's light curve read from the store: its measurements and tags, cut as of an alert the
 * way ss_query_locus() cuts them, then drawn. */
#include "draw_impl.h"

#include "assoc.h"
#include "query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The tags of a locus and their MJDs; labels live in one block. */
typedef struct ssi_tags {
    ss_draw_mark *marks;
    size_t n, cap;
    const ss_packet *pkt;    /* the measurements drawn, after the cut */
    const ss_alert *trigger; /* the as_of alert, or NULL */
    int failed;
} ssi_tags;

/* As ss_query_locus() shows tags as of an alert: those set by earlier packets' alerts (every tag
 * of a store that did not number packets), or, for tags without their alert, at earlier MJDs. */
static int ssi_tag_seen(const ssi_tags *x, const ss_tag_record *t)
{
    if (!x->trigger)
        return 1;
    for (uint32_t i = 0; t->alert_id[0] && i < x->pkt->n; i++) {
        const ss_alert *a = &x->pkt->alerts[i];
        if (!strcmp(a->alert_id, t->alert_id) && !strcmp(a->survey, t->survey))
            return a->arrival < x->trigger->arrival || !x->trigger->arrival;
    }
    return !t->alert_id[0] && t->mjd < x->trigger->mjd;
}

static int ssi_mark_push(ssi_tags *x, char *label, double mjd, int highlight)
{
    if (label && x->n == x->cap) {
        size_t cap = x->cap ? 2 * x->cap : 8;
        ss_draw_mark *m = realloc(x->marks, cap * sizeof *m);
        if (m)
            x->marks = m, x->cap = cap;
    }
    if (!label || x->n == x->cap) {
        free(label);
        return x->failed = SS_ENOMEM;
    }
    x->marks[x->n++] = (ss_draw_mark){.label = label, .mjd = mjd, .highlight = highlight};
    return 0;
}

static int ssi_tag_add(void *ctx, const char *tag, size_t len, const ss_tag_record *t)
{
    ssi_tags *x = ctx;
    return ssi_tag_seen(x, t) ? ssi_mark_push(x, strndup(tag, len), t->mjd, 0) : 0;
}

static void ssi_tags_free(ssi_tags *x)
{
    for (size_t i = 0; i < x->n; i++)
        free((char *)x->marks[i].label);
    free(x->marks);
}

/* Keep what a filter saw when it ran for alert @p as_of; *trigger is that alert after the cut. */
static int ssi_cut(ss_packet *pkt, const char *locus_id, const char *as_of,
                   const ss_alert **trigger, ss_err *err)
{
    const ss_alert *t = NULL;
    for (uint32_t i = 0; !t && i < pkt->n; i++)
        if (!strcmp(pkt->alerts[i].alert_id, as_of))
            t = &pkt->alerts[i];
    if (!t)
        return ss_err_set(err, SS_ENOTFOUND, "locus %s has no alert '%s'", locus_id, as_of);
    ss_alert keep = *t; /* its strings live in the packet's arena, which the cut keeps */
    if (keep.arrival)
        ss_assoc_keep_arrived(pkt, keep.arrival);
    for (uint32_t i = 0; i < pkt->n; i++) /* the cut moved it */
        if (!strcmp(pkt->alerts[i].alert_id, keep.alert_id) &&
            !strcmp(pkt->alerts[i].survey, keep.survey))
            *trigger = &pkt->alerts[i];
    return 0;
}

/* The tags as marks, then the as_of alert's own line. */
static int ssi_marks(ss_store_txn *txn, const char *locus_id, ssi_tags *x)
{
    int rc = ss_store_locus_tags(txn, locus_id, ssi_tag_add, x);
    if (!rc && x->failed)
        rc = x->failed;
    if (!rc && x->trigger)
        rc = ssi_mark_push(x, strdup("as of"), x->trigger->mjd, 1);
    return rc;
}

static int ssi_read(ss_store_txn *txn, const ss_locus *l, const ss_draw_lc_options *o,
                    ss_packet *pkt, ssi_tags *x, ss_err *err)
{
    int rc = ss_store_locus_alerts(txn, l->id, pkt);
    if (rc)
        return rc;
    x->pkt = pkt;
    if (o->as_of && (rc = ssi_cut(pkt, l->id, o->as_of, &x->trigger, err)))
        return rc;
    return ssi_marks(txn, l->id, x);
}

int ss_draw_lightcurve(ss_store_txn *txn, const char *id, const ss_draw_lc_options *o, ss_wbuf *out,
                       ss_draw_lc_info *info, ss_err *err)
{
    ss_locus l;
    int rc = ss_query_resolve(txn, id, &l, err);
    if (rc)
        return rc;
    ss_packet *pkt = ss_packet_new();
    ssi_tags x = {0};
    if (!pkt)
        return ss_err_set(err, SS_ENOMEM, "out of memory reading locus %s", l.id);
    rc = ssi_read(txn, &l, o, pkt, &x, err);
    if (rc && !(err && err->code))
        ss_err_set(err, rc, "reading locus %s: %s", l.id, ss_strerror(rc));
    char title[SS_LOCUS_ID_LEN + SS_ID_MAX + 16];
    snprintf(title, sizeof title, "%s%s%s", l.id, o->as_of ? " as of " : "",
             o->as_of ? o->as_of : "");
    if (!rc)
        rc = ss_draw_lightcurve_render(pkt, x.marks, x.n, title, o, out, info, err);
    ssi_tags_free(&x);
    ss_packet_free(pkt);
    return rc;
}
