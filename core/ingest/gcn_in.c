/*
 * IGWN gravitational-wave notices: applied to the store (the sky map kept or withdrawn, the loci
 * already in its region queued for dispatch) and read from Kafka (gcn_in.h).
 */
#include "gcn_in.h"

#include "json_text.h"
#include "kafka_group.h"

#include "queue.h"
#include "skymap.h"

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- one notice ---- */

static int ssi_b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Base64 (RFC 4648, padding optional, whitespace skipped) into a new buffer. @return its length,
 * or -1 on a character outside the alphabet (or no memory: *out is then NULL). */
static long ssi_b64_decode(const char *in, size_t n, unsigned char **out)
{
    unsigned char *o = malloc(n / 4 * 3 + 3);
    long k = 0;
    unsigned acc = 0;
    int bits = 0;
    *out = o;
    if (!o)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '=' || c == '\n' || c == '\r' || c == ' ')
            continue;
        int v = ssi_b64_value(c);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[k++] = (unsigned char)(acc >> bits);
        }
    }
    return k;
}

/* "2023-05-18T12:59:08.167Z" (or without Z, or with +00:00) as an MJD; NAN when it is not. */
static double ssi_iso_mjd(const char *s)
{
    struct tm tm = {0};
    double frac = 0;
    const char *rest = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (!rest)
        return NAN;
    if (*rest == '.')
        frac = strtod(rest, NULL);
    return (double)timegm(&tm) / 86400.0 + 40587.0 + frac / 86400.0;
}

/* The loci in the map's region updated since a day before the merger: queued by their latest
 * alert, whose dispatch then sees the event. */
typedef struct ssi_queue_ctx {
    ss_store_txn *txn;
    ss_packet *pkt;
    size_t queued;
} ssi_queue_ctx;

static int ssi_queue_locus(void *arg, const ss_locus *l, const ss_assoc_skymap_point *p)
{
    (void)p;
    ssi_queue_ctx *q = arg;
    ss_packet_reset(q->pkt);
    int rc = ss_store_locus_alerts(q->txn, l->id, q->pkt);
    const ss_alert *last = NULL;
    for (uint32_t i = 0; !rc && i < q->pkt->n; i++)
        if (!last || q->pkt->alerts[i].arrival >= last->arrival)
            last = &q->pkt->alerts[i];
    if (rc || !last)
        return rc;
    rc = ss_store_queue_put(q->txn, l->id, last->survey, last->alert_id);
    q->queued += rc == 0;
    return rc;
}

/* The map of a notice's event, named by the superevent. */
static int ssi_notice_map(json_t *event, const char *label, const char *id, ss_assoc_skymap **m,
                          ss_err *err)
{
    const char *b64 = json_string_value(json_object_get(event, "skymap"));
    if (!b64)
        return ss_err_set(err, SS_EPARSE, "%s: event %s: no skymap", label, id);
    unsigned char *fits;
    long n = ssi_b64_decode(b64, strlen(b64), &fits);
    if (n < 0) {
        free(fits);
        return fits ? ss_err_set(err, SS_EPARSE, "%s: event %s: skymap is not base64", label, id)
                    : ss_err_set(err, SS_ENOMEM, "%s: out of memory", label);
    }
    char what[320];
    snprintf(what, sizeof what, "%s: event %s: skymap", label, id);
    int rc = ss_assoc_skymap_read_mem(fits, (size_t)n, what, id, m, err);
    free(fits);
    return rc;
}

/* The event's false-alarm rate, classification and properties, as far as the notice gives them. */
static ss_assoc_gw_class ssi_notice_class(json_t *event)
{
    json_t *c = json_object_get(event, "classification"), *p = json_object_get(event, "properties");
    return (ss_assoc_gw_class){ss_json_num_at(event, "far"),     ss_json_num_at(c, "BNS"),
                               ss_json_num_at(c, "NSBH"),        ss_json_num_at(c, "BBH"),
                               ss_json_num_at(c, "Terrestrial"), ss_json_num_at(p, "HasNS"),
                               ss_json_num_at(p, "HasRemnant")};
}

/* Store the map (the merger from event.time when the map has none) and queue the region. */
static int ssi_notice_store(ss_store *s, ss_assoc_skymap *m, json_t *event, int queue,
                            ss_ingest_gcn_result *r)
{
    ss_store_txn *txn;
    int rc = ss_store_txn_begin(s, SS_STORE_WRITE, &txn);
    if (rc)
        return rc;
    const ss_assoc_skymap_info *in = ss_assoc_skymap_info_of(m);
    if (isnan(in->mjd)) /* the window needs a merger: the notice's, when the map has none */
        ss_assoc_skymap_set_merger(m,
                                   ssi_iso_mjd(json_string_value(json_object_get(event, "time"))));
    ss_assoc_gw_class cls = ssi_notice_class(event);
    ss_assoc_skymap_set_class(m, &cls);
    rc = ss_assoc_skymap_put(txn, m);
    r->pixels = in->npix, r->area90 = in->area90, r->merger_mjd = in->mjd;
    ssi_queue_ctx q = {txn, queue ? ss_packet_new() : NULL, 0};
    if (!rc && queue)
        rc = q.pkt ? ss_assoc_skymap_loci(
                         txn, m, SS_GW_LEVEL,
                         isfinite(r->merger_mjd) ? r->merger_mjd - SS_GW_WINDOW_BEFORE : -INFINITY,
                         ssi_queue_locus, &q)
                   : SS_ENOMEM;
    ss_packet_free(q.pkt);
    r->queued = q.queued;
    if (rc) {
        ss_store_txn_abort(txn);
        return rc;
    }
    return ss_store_txn_commit(txn);
}

static int ssi_notice_retract(ss_store *s, const char *id, ss_ingest_gcn_result *r)
{
    ss_store_txn *txn;
    int rc = ss_store_txn_begin(s, SS_STORE_WRITE, &txn);
    if (rc)
        return rc;
    rc = ss_assoc_skymap_remove(txn, id);
    r->removed = rc == 0;
    if (rc && rc != SS_ENOTFOUND) {
        ss_store_txn_abort(txn);
        return rc;
    }
    return ss_store_txn_commit(txn);
}

/* The notice's id and type, checked. @return 0 or SS_EPARSE. */
static int ssi_notice_head(json_t *j, const char *label, ss_ingest_gcn_result *r, ss_err *err)
{
    static const char *const types[] = {"EARLYWARNING", "PRELIMINARY", "INITIAL",
                                        "UPDATE",       "RETRACTION",  NULL};
    const char *id = json_string_value(json_object_get(j, "superevent_id"));
    const char *type = json_string_value(json_object_get(j, "alert_type"));
    if (!id || !*id || strlen(id) >= sizeof r->event || strlen(id) >= SS_SKYMAP_ID_MAX)
        return ss_err_set(err, SS_EPARSE, "%s: no superevent_id of 1 to 63 characters", label);
    int known = 0;
    for (int i = 0; type && types[i]; i++)
        known |= !strcmp(type, types[i]);
    if (!known)
        return ss_err_set(err, SS_EPARSE,
                          "%s: alert_type '%s' is not EARLYWARNING, PRELIMINARY, "
                          "INITIAL, UPDATE or RETRACTION",
                          label, type ? type : "(none)");
    snprintf(r->event, sizeof r->event, "%s", id);
    snprintf(r->alert_type, sizeof r->alert_type, "%s", type);
    return 0;
}

int ss_ingest_gcn_apply(ss_store *s, const char *json, size_t len, const char *label, int queue,
                        ss_ingest_gcn_result *r, ss_err *err)
{
    memset(r, 0, sizeof *r);
    r->merger_mjd = NAN;
    json_error_t je;
    json_t *j = json_loadb(json, len, 0, &je);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return ss_err_set(err, SS_EPARSE, "%s: not a JSON notice: %s", label,
                          j ? "not an object" : je.text);
    }
    int rc = ssi_notice_head(j, label, r, err);
    if (!rc && !strcmp(r->alert_type, "RETRACTION")) {
        if ((rc = ssi_notice_retract(s, r->event, r)))
            ss_err_set(err, rc, "%s: removing %s's map: %s", label, r->event, ss_strerror(rc));
    } else if (!rc) {
        json_t *event = json_object_get(j, "event");
        ss_assoc_skymap *m = NULL;
        rc = json_is_object(event) ? ssi_notice_map(event, label, r->event, &m, err)
                                   : ss_err_set(err, SS_EPARSE, "%s: %s %s without an event", label,
                                                r->alert_type, r->event);
        if (!rc && (rc = ssi_notice_store(s, m, event, queue, r)))
            ss_err_set(err, rc, "%s: storing %s's map: %s", label, r->event, ss_strerror(rc));
        ss_assoc_skymap_free(m);
    }
    json_decref(j);
    return rc;
}

/* ---- the consumer ---- */

struct ss_ingest_gcn {
    rd_kafka_t *rk;
    ss_ingest_gcn_stats st;
};

int ss_ingest_gcn_open(const ss_ingest_kafka_in_conf *c, ss_ingest_gcn **out, ss_err *err)
{
    const char *missing = !c->brokers ? "brokers" : !c->topics ? "topics" : !c->group ? "group" : 0;
    if (missing)
        return ss_err_set(err, SS_EINVAL, "[input gcn] %s: missing", missing);
    ss_ingest_gcn *g = calloc(1, sizeof *g);
    rd_kafka_conf_t *conf = g ? ss_ingest_kafka_consumer_conf(c, "input gcn", err) : NULL;
    char why[512];
    if (!g || !conf) {
        free(g);
        return g ? err->code : ss_err_set(err, SS_ENOMEM, "out of memory");
    }
    if (!(g->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why))) {
        rd_kafka_conf_destroy(conf);
        free(g);
        return ss_err_set(err, SS_EINVAL, "[input gcn] cannot make the consumer: %s", why);
    }
    rd_kafka_poll_set_consumer(g->rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(2);
    char *copy = strdup(c->topics), *save = NULL;
    for (char *t = copy ? strtok_r(copy, ", ", &save) : NULL; t; t = strtok_r(NULL, ", ", &save))
        rd_kafka_topic_partition_list_add(l, t, RD_KAFKA_PARTITION_UA);
    free(copy);
    rd_kafka_resp_err_t e = l->cnt ? rd_kafka_subscribe(g->rk, l) : RD_KAFKA_RESP_ERR__INVALID_ARG;
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        ss_ingest_gcn_close(g);
        return ss_err_set(err, SS_EINVAL, "[input gcn] topics=%s: cannot subscribe: %s", c->topics,
                          rd_kafka_err2str(e));
    }
    *out = g;
    return 0;
}

static void ssi_gcn_count(ss_ingest_gcn *g, const ss_ingest_gcn_result *r)
{
    g->st.notices++;
    g->st.maps += r->pixels > 0;
    g->st.retractions += !strcmp(r->alert_type, "RETRACTION");
    g->st.queued += r->queued;
    snprintf(g->st.last_event, sizeof g->st.last_event, "%s", r->event);
}

/* One message: applied (or refused), then its offset committed. @return 0 or a store code. */
static int ssi_gcn_take(ss_ingest_gcn *g, ss_store *s, const rd_kafka_message_t *m,
                        ss_ingest_gcn_applied_fn ok, ss_ingest_gcn_refused_fn refused, void *ctx,
                        ss_err *err)
{
    char label[256];
    snprintf(label, sizeof label, "kafka topic=%s partition=%d offset=%lld",
             rd_kafka_topic_name(m->rkt), (int)m->partition, (long long)m->offset);
    ss_ingest_gcn_result r;
    ss_err why = {0};
    int rc = ss_ingest_gcn_apply(s, m->payload, m->len, label, 1, &r, &why);
    if (rc == SS_EPARSE || rc == SS_EFORMAT) { /* the notice's fault: set aside, go on */
        g->st.refused++;
        snprintf(g->st.last_error, sizeof g->st.last_error, "%s", why.msg);
        if (refused)
            refused(ctx, label, m->payload, m->len, &why);
    } else if (rc) { /* the store's: read it again later */
        *err = why;
        return rc;
    } else {
        ssi_gcn_count(g, &r);
        if (ok)
            ok(ctx, label, &r);
    }
    rd_kafka_commit_message(g->rk, m, 0);
    return 0;
}

static void ssi_gcn_rewind(ss_ingest_gcn *g, const rd_kafka_message_t *m)
{
    rd_kafka_topic_partition_list_t *p = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(p, rd_kafka_topic_name(m->rkt), m->partition)->offset =
        m->offset;
    rd_kafka_error_t *e = rd_kafka_seek_partitions(g->rk, p, 1000);
    if (e)
        rd_kafka_error_destroy(e);
    rd_kafka_topic_partition_list_destroy(p);
}

int ss_ingest_gcn_poll(ss_ingest_gcn *g, ss_store *s, unsigned max, ss_ingest_gcn_applied_fn ok,
                       ss_ingest_gcn_refused_fn refused, void *ctx, unsigned *got, ss_err *err)
{
    *got = 0;
    int rc = 0;
    while (!rc && *got < max) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(g->rk, 0);
        if (!m)
            break;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                snprintf(g->st.last_error, sizeof g->st.last_error, "consumer: %s",
                         rd_kafka_message_errstr(m));
        } else {
            rc = ssi_gcn_take(g, s, m, ok, refused, ctx, err);
            *got += rc == 0;
            if (rc) /* not applied: read it again from here on the next poll */
                ssi_gcn_rewind(g, m);
        }
        rd_kafka_message_destroy(m);
    }
    return rc;
}

void ss_ingest_gcn_stats_get(const ss_ingest_gcn *g, ss_ingest_gcn_stats *st)
{
    *st = g->st;
}

void ss_ingest_gcn_close(ss_ingest_gcn *g)
{
    if (!g)
        return;
    if (g->rk) {
        rd_kafka_consumer_close(g->rk);
        rd_kafka_destroy(g->rk);
    }
    free(g);
}
