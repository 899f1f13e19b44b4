/*
 * Tag streams on Kafka: one topic per tag, named by a template ("skysieve.{tag}"), each message the
 * same JSON as the nanomsg stream, keyed by the locus id so that one locus's events stay in order
 * (same key, same partition). Configured by an [output kafka] section of the broker's INI file.
 *
 * Producing never blocks the broker: messages go to librdkafka's bounded local queue, and when it
 * is full the message is dropped (counted, and the caller logs it). Delivery reports are served by
 * poll() from the broker's loop; close() flushes within flush_timeout and reports on standard error
 * how many messages it could not deliver.
 */
#include "output.h"

#include <librdkafka/rdkafka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KO_TOPIC_MAX 249 /* Kafka's limit on a topic name */

typedef struct ko_out {
    rd_kafka_t *rk;
    char *tmpl;         /* topic_template; "{tag}" is replaced */
    int flush_ms;       /* bound on the flush at close */
    ss_output_stats st; /* queued: produced, not yet reported delivered or failed */
    uint64_t produced;
    char topic[KO_TOPIC_MAX + 1];
} ko_out;

/* Kafka topic names are [A-Za-z0-9._-]: anything else in a tag becomes '_'. */
static int ko_legal(int ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '_' || ch == '-';
}

/* The template's literal text must be legal as it stands, and {tag} must appear (one topic per
 * tag); any other {...} is a typo. @return NULL or the reason. */
static const char *ko_template_check(const char *t)
{
    int tags = 0;
    for (const char *p = t; *p; p++) {
        if (!strncmp(p, "{tag}", 5)) {
            tags++;
            p += 4;
        } else if (*p == '{' || *p == '}')
            return "the only placeholder is {tag}";
        else if (!ko_legal((unsigned char)*p))
            return "a topic name may hold only letters, digits, '.', '_' and '-'";
    }
    return tags ? NULL : "it must contain {tag} (one topic per tag)";
}

/* The topic of @p tag into o->topic. @return 0, or -1 when the name is too long or is "."/"..". */
static int ko_topic(ko_out *o, const char *tag)
{
    size_t n = 0;
    for (const char *p = o->tmpl; *p; p++) {
        const char *ins = !strncmp(p, "{tag}", 5) ? tag : NULL;
        for (const char *q = ins ? ins : p; *q && (ins || q == p); q++) {
            if (n == KO_TOPIC_MAX)
                return -1;
            o->topic[n++] = ko_legal((unsigned char)*q) ? *q : '_';
        }
        p += ins ? 4 : 0;
    }
    o->topic[n] = '\0';
    return !strcmp(o->topic, ".") || !strcmp(o->topic, "..") ? -1 : 0;
}

static void ko_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    ko_out *o = opaque;
    if (!m->err) {
        o->st.delivered++;
        return;
    }
    o->st.failed++;
    snprintf(o->st.last_error, sizeof o->st.last_error, "topic %s: %s", rd_kafka_topic_name(m->rkt),
             rd_kafka_err2str(m->err));
}

/* ---- configuration ---- */

static int ko_bad(ss_err *err, const ss_output_conf *c, const ss_output_kv *kv, const char *why)
{
    return ss_err_set(err, SS_EINVAL, "%s: [output %s] %s = %s: %s", c->file, c->name, kv->key,
                      kv->value, why);
}

static int ko_set(rd_kafka_conf_t *rc, const ss_output_conf *c, const ss_output_kv *kv,
                  const char *prop, ss_err *err)
{
    char why[256];
    if (rd_kafka_conf_set(rc, prop, kv->value, why, sizeof why) != RD_KAFKA_CONF_OK)
        return ko_bad(err, c, kv, why);
    return 0;
}

/* bootstrap.servers is ours (brokers =), and so are the callbacks: not passed through. */
static int ko_key(ko_out *o, rd_kafka_conf_t *rc, const ss_output_conf *c, const ss_output_kv *kv,
                  ss_err *err)
{
    const char *k = kv->key, *why;
    char *end;
    if (!strcmp(k, "brokers"))
        return kv->value[0] ? ko_set(rc, c, kv, "bootstrap.servers", err)
                            : ko_bad(err, c, kv, "empty: host:port[,host:port...]");
    if (!strcmp(k, "topic_template")) {
        if ((why = ko_template_check(kv->value)))
            return ko_bad(err, c, kv, why);
        free(o->tmpl);
        return (o->tmpl = strdup(kv->value)) ? 0 : ss_err_set(err, SS_ENOMEM, "out of memory");
    }
    if (!strcmp(k, "queue_max")) {
        unsigned long v = strtoul(kv->value, &end, 10);
        if (end == kv->value || *end || v < 1 || v > 10000000 || kv->value[0] == '-')
            return ko_bad(err, c, kv, "a whole number of messages, 1 to 10000000");
        return ko_set(rc, c, kv, "queue.buffering.max.messages", err);
    }
    if (!strcmp(k, "flush_timeout")) {
        double v = strtod(kv->value, &end);
        if (end == kv->value || *end || !isfinite(v) || v < 0 || v > 600)
            return ko_bad(err, c, kv, "seconds, 0 to 600");
        o->flush_ms = (int)(v * 1000);
        return 0;
    }
    if (!strncmp(k, "rdkafka.", 8)) {
        if (!strcmp(k + 8, "bootstrap.servers") || strstr(k + 8, "_cb"))
            return ko_bad(err, c, kv, "set by skysieve (use brokers =)");
        return ko_set(rc, c, kv, k + 8, err);
    }
    return ko_bad(err, c, kv,
                  "unknown key (brokers, topic_template, queue_max, flush_timeout, rdkafka.*)");
}

static int ko_configure(ko_out *o, rd_kafka_conf_t *rc, const ss_output_conf *c, ss_err *err)
{
    int brokers = 0, rcode = 0;
    for (size_t i = 0; i < c->n && !rcode; i++) {
        brokers |= !strcmp(c->kv[i].key, "brokers");
        rcode = ko_key(o, rc, c, &c->kv[i], err);
    }
    if (!rcode && !brokers)
        rcode = ss_err_set(err, SS_EINVAL, "%s: [output %s]: brokers = host:port,... is missing",
                           c->file, c->name);
    if (!rcode && !o->tmpl && !(o->tmpl = strdup("skysieve.{tag}")))
        rcode = ss_err_set(err, SS_ENOMEM, "out of memory");
    return rcode;
}

/* ---- the ops ---- */

static void ko_close(void *impl);

static int ko_open_conf(const ss_output_conf *c, void **impl, ss_err *err)
{
    ko_out *o = calloc(1, sizeof *o);
    rd_kafka_conf_t *rc = rd_kafka_conf_new();
    char why[512];
    if (!o || !rc) {
        free(o);
        if (rc)
            rd_kafka_conf_destroy(rc);
        return ss_err_set(err, SS_ENOMEM, "out of memory");
    }
    o->flush_ms = 5000;
    int rcode = ko_configure(o, rc, c, err);
    if (!rcode) {
        rd_kafka_conf_set_opaque(rc, o);
        rd_kafka_conf_set_dr_msg_cb(rc, ko_dr);
        /* rd_kafka_new owns rc from here, success or not (it frees it only on success) */
        if (!(o->rk = rd_kafka_new(RD_KAFKA_PRODUCER, rc, why, sizeof why)))
            rcode = ss_err_set(err, SS_EINVAL, "%s: [output %s]: %s", c->file, c->name, why);
        else
            rc = NULL;
    }
    if (rc)
        rd_kafka_conf_destroy(rc);
    if (rcode) {
        ko_close(o);
        return rcode;
    }
    *impl = o;
    return 0;
}

static int ko_publish(void *impl, const char *topic, const char *key, const void *msg, size_t len,
                      ss_err *err)
{
    ko_out *o = impl;
    if (ko_topic(o, topic)) {
        o->st.dropped++;
        return ss_err_set(err, SS_EINVAL, "kafka: %s: no legal topic name from template %s", topic,
                          o->tmpl);
    }
    rd_kafka_resp_err_t e = rd_kafka_producev(
        o->rk, RD_KAFKA_V_TOPIC(o->topic), RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
        RD_KAFKA_V_VALUE((void *)msg, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_END);
    if (e) {
        o->st.dropped++;
        return ss_err_set(err, e == RD_KAFKA_RESP_ERR__QUEUE_FULL ? SS_EFULL : SS_EINVAL,
                          "kafka topic %s: %s; message dropped (%llu so far)", o->topic,
                          rd_kafka_err2str(e), (unsigned long long)o->st.dropped);
    }
    o->produced++;
    return 0;
}

static void ko_poll(void *impl)
{
    ko_out *o = impl;
    rd_kafka_poll(o->rk, 0);
}

static void ko_stats(void *impl, ss_output_stats *st)
{
    ko_out *o = impl;
    *st = o->st;
    st->queued = o->produced - o->st.delivered - o->st.failed;
}

static void ko_close(void *impl)
{
    ko_out *o = impl;
    if (!o)
        return;
    if (o->rk) {
        rd_kafka_flush(o->rk, o->flush_ms);
        uint64_t left = o->produced - o->st.delivered - o->st.failed;
        if (left > 0)
            fprintf(stderr, "skysieve: output kafka: %llu messages not delivered within %d ms\n",
                    (unsigned long long)left, o->flush_ms);
        rd_kafka_destroy(o->rk);
    }
    free(o->tmpl);
    free(o);
}

const ss_output_ops ssp_output_kafka = {
    .abi = SS_OUTPUT_ABI,
    .name = "kafka",
    .open_conf = ko_open_conf,
    .publish = ko_publish,
    .poll = ko_poll,
    .stats = ko_stats,
    .close = ko_close,
};
