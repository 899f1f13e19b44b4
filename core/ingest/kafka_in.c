/* Alerts from Kafka (kafka_in.h). */
#include "kafka_in.h"

#include "kafka_group.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct ss_ingest_kafka_in {
    rd_kafka_t *rk;
    const char *decoder;
    /* next offset of each partition's messages wholly ingested since the last store commit
     * (librdkafka's lists are never NULL: it aborts when out of memory) */
    rd_kafka_topic_partition_list_t *done;
    ss_ingest *in; /* during ss_ingest_kafka_in_poll() only: a revocation flushes it */
    int rc;        /* a store failure met in a rebalance */
    int revoking;  /* commits wait for the group's answer: the next owner reads from there */
    int wake[2];   /* librdkafka writes to wake[1] when its queue stops being empty */
    int coop;      /* the group protocol is cooperative (kafka_group.h) */
    ss_ingest_kafka_in_stats st;
    ss_err err;
};

/* ---- configuration ---- */

int ss_ingest_kafka_str_set(char **slot, const char *value, ss_err *err)
{
    char *s = strdup(value);
    if (!s)
        return ss_err_set(err, SS_ENOMEM, "out of memory");
    free(*slot);
    *slot = s;
    return 0;
}

int ss_ingest_kafka_kv_set(char ***kv, size_t *nkv, const char *section, const char *key,
                           const char *value, ss_err *err)
{
    if (!*key)
        return ss_err_set(err, SS_EINVAL, "[%s] rdkafka.: the librdkafka key is missing", section);
    for (size_t i = 0; i < *nkv; i++)
        if (!strcmp((*kv)[2 * i], key))
            return ss_ingest_kafka_str_set(&(*kv)[2 * i + 1], value, err);
    char **fresh = realloc(*kv, (*nkv + 1) * 2 * sizeof *fresh);
    if (!fresh)
        return ss_err_set(err, SS_ENOMEM, "out of memory");
    *kv = fresh;
    fresh[2 * *nkv] = strdup(key);
    fresh[2 * *nkv + 1] = strdup(value);
    (*nkv)++; /* counted even when a copy failed: the owner's free frees what there is */
    if (!fresh[2 * *nkv - 2] || !fresh[2 * *nkv - 1])
        return ss_err_set(err, SS_ENOMEM, "out of memory");
    return 0;
}

/* The decoder of a stream's format: ztf and rubin are both Avro (the decoder tells the framings
 * apart by the first byte); csv and jsonl carry tuple alerts. NULL: no such format. */
static const char *ssi_decoder_of(const char *format)
{
    static const char *const map[][2] = {
        {"ztf", "avro"}, {"rubin", "avro"}, {"csv", "csv"}, {"jsonl", "jsonl"}};
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (!strcmp(format, map[i][0]))
            return map[i][1];
    return NULL;
}

static int ssi_bad_parts(const char *value, const char *why, ss_err *err)
{
    return ss_err_set(err, SS_EINVAL, "[input kafka] partitions=%s: %s", value, why);
}

/* partitions = 0,2,5: whole numbers below 2^31, none twice. */
static int ssi_parts_set(ss_ingest_kafka_in_conf *c, const char *value, ss_err *err)
{
    int32_t *parts = NULL;
    size_t n = 0;
    for (const char *p = value;; p++) {
        p += strspn(p, " \t");
        char *end = (char *)p;
        errno = 0;
        long v = isdigit((unsigned char)*p) ? strtol(p, &end, 10) : -1;
        end += strspn(end, " \t");
        const char *why = v < 0 || errno || v > INT32_MAX ? "not a list of partition numbers"
                          : *end && *end != ','           ? "not a list of partition numbers"
                                                          : NULL;
        for (size_t i = 0; i < n && !why; i++)
            why = parts[i] == v ? "a partition is named twice" : NULL;
        int32_t *fresh = why ? NULL : realloc(parts, (n + 1) * sizeof *fresh);
        if (!fresh)
            return free(parts), why ? ssi_bad_parts(value, why, err)
                                    : ss_err_set(err, SS_ENOMEM, "out of memory");
        parts = fresh;
        parts[n++] = (int32_t)v;
        if (!*end)
            break;
        p = end;
    }
    free(c->parts);
    c->parts = parts;
    c->nparts = n;
    return 0;
}

int ss_ingest_kafka_in_conf_set(ss_ingest_kafka_in_conf *c, const char *key, const char *value,
                                ss_err *err)
{
    if (!strcmp(key, "brokers"))
        return ss_ingest_kafka_str_set(&c->brokers, value, err);
    if (!strcmp(key, "topics"))
        return ss_ingest_kafka_str_set(&c->topics, value, err);
    if (!strcmp(key, "group"))
        return ss_ingest_kafka_str_set(&c->group, value, err);
    if (!strcmp(key, "partitions"))
        return ssi_parts_set(c, value, err);
    if (!strcmp(key, "format")) {
        if (!ssi_decoder_of(value))
            return ss_err_set(err, SS_EINVAL,
                              "[input kafka] format=%s: unknown (ztf: one Avro container per "
                              "message; rubin: Confluent-framed Avro; csv or jsonl: tuple alerts, "
                              "each message a whole CSV with its header, or JSON lines)",
                              value);
        return ss_ingest_kafka_str_set(&c->format, value, err);
    }
    if (!strcmp(key, "rdkafka.enable.auto.commit") ||
        !strcmp(key, "rdkafka.enable.auto.offset.store"))
        return ss_err_set(err, SS_EINVAL,
                          "[input kafka] %s: not settable (offsets are committed only once the "
                          "alerts are stored)",
                          key);
    if (!strncmp(key, "rdkafka.", 8))
        return ss_ingest_kafka_kv_set(&c->kv, &c->nkv, "input kafka", key + 8, value, err);
    return ss_err_set(err, SS_EINVAL,
                      "[input kafka] %s: unknown key (brokers, topics, group, format, partitions, "
                      "rdkafka.*)",
                      key);
}

void ss_ingest_kafka_in_conf_free(ss_ingest_kafka_in_conf *c)
{
    free(c->brokers);
    free(c->topics);
    free(c->group);
    free(c->format);
    free(c->parts);
    for (size_t i = 0; i < 2 * c->nkv; i++)
        free(c->kv[i]);
    free(c->kv);
    memset(c, 0, sizeof *c);
}

/* ---- the consumer ---- */

static int ssi_rdset(rd_kafka_conf_t *rc, const char *section, const char *key, const char *value,
                     int passed, ss_err *err)
{
    char why[256];
    if (rd_kafka_conf_set(rc, key, value, why, sizeof why) != RD_KAFKA_CONF_OK)
        return ss_err_set(err, SS_EINVAL, "[%s] %s%s: %s", section, passed ? "rdkafka." : "", key,
                          why);
    return 0;
}

rd_kafka_conf_t *ss_ingest_kafka_consumer_conf(const ss_ingest_kafka_in_conf *c,
                                               const char *section, ss_err *err)
{
    rd_kafka_conf_t *rc = rd_kafka_conf_new();
    if (!rc)
        return ss_err_set(err, SS_ENOMEM, "out of memory"), NULL;
    /* offsets follow the store: the consumer stores and commits them only after a commit; a new
     * group starts from the earliest message kept (overridable by rdkafka.auto.offset.reset) */
    int bad = ssi_rdset(rc, section, "bootstrap.servers", c->brokers, 0, err) ||
              ssi_rdset(rc, section, "group.id", c->group, 0, err) ||
              ssi_rdset(rc, section, "enable.auto.commit", "false", 0, err) ||
              ssi_rdset(rc, section, "enable.auto.offset.store", "false", 0, err) ||
              ssi_rdset(rc, section, "auto.offset.reset", "earliest", 0, err);
    for (size_t i = 0; i < c->nkv && !bad; i++)
        bad = ssi_rdset(rc, section, c->kv[2 * i], c->kv[2 * i + 1], 1, err);
    if (bad)
        return rd_kafka_conf_destroy(rc), NULL;
    return rc;
}

/* A revocation: what the ingest buffered is committed first and its offsets sent to the group,
 * so that another consumer taking the partitions over need not read it again. A group already
 * rebalancing may refuse the offsets (REBALANCE_IN_PROGRESS): the next owner then reads those
 * messages again, and the store absorbs them. */
static void ssi_revoke(ss_ingest_kafka_in *k)
{
    k->revoking = 1;
    if (k->in && !k->rc)
        k->rc = ss_ingest_flush(k->in, &k->err);
    k->revoking = 0;
    rd_kafka_topic_partition_list_destroy(k->done);
    k->done = rd_kafka_topic_partition_list_new(8);
}

int ss_ingest_kafka_cooperative(rd_kafka_conf_t *rc)
{
    char v[256];
    size_t n = sizeof v;
    return rd_kafka_conf_get(rc, "partition.assignment.strategy", v, &n) == RD_KAFKA_CONF_OK &&
           strstr(v, "cooperative") != NULL;
}

void ss_ingest_kafka_rebalance_apply(rd_kafka_t *rk, int assign,
                                     rd_kafka_topic_partition_list_t *parts, int coop)
{
    if (coop)
        rd_kafka_error_destroy(assign ? rd_kafka_incremental_assign(rk, parts)
                                      : rd_kafka_incremental_unassign(rk, parts));
    else
        rd_kafka_assign(rk, assign ? parts : NULL);
}

static void ssi_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t e,
                          rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    ss_ingest_kafka_in *k = opaque;
    int assign = e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
    if (!assign)
        ssi_revoke(k);
    ss_ingest_kafka_rebalance_apply(rk, assign, parts, k->coop);
}

static rd_kafka_conf_t *ssi_rdconf(const ss_ingest_kafka_in_conf *c, ss_ingest_kafka_in *k,
                                   ss_err *err)
{
    rd_kafka_conf_t *rc = ss_ingest_kafka_consumer_conf(c, "input kafka", err);
    if (!rc)
        return NULL;
    k->coop = ss_ingest_kafka_cooperative(rc);
    rd_kafka_conf_set_rebalance_cb(rc, ssi_rebalance);
    rd_kafka_conf_set_opaque(rc, k);
    return rc;
}

/* The comma list @p topics (spaces around names ignored), each with partition @p part. */
static rd_kafka_topic_partition_list_t *ssi_topic_list(const char *topics, int32_t part)
{
    char *copy = strdup(topics), *save = NULL;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4);
    if (!copy)
        return rd_kafka_topic_partition_list_destroy(l), NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        t += strspn(t, " \t");
        size_t n = strlen(t);
        while (n && (t[n - 1] == ' ' || t[n - 1] == '\t'))
            t[--n] = 0;
        if (n)
            rd_kafka_topic_partition_list_add(l, t, part);
    }
    free(copy);
    return l;
}

/* Static assignment: the configured partitions of every topic, each from the group's committed
 * offset (RD_KAFKA_OFFSET_INVALID), else from auto.offset.reset. */
static rd_kafka_resp_err_t ssi_assign(ss_ingest_kafka_in *k, const ss_ingest_kafka_in_conf *c,
                                      const rd_kafka_topic_partition_list_t *topics)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    for (int t = 0; t < topics->cnt; t++)
        for (size_t i = 0; i < c->nparts; i++)
            rd_kafka_topic_partition_list_add(l, topics->elems[t].topic, c->parts[i])->offset =
                RD_KAFKA_OFFSET_INVALID;
    rd_kafka_resp_err_t e = rd_kafka_assign(k->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    return e;
}

/* Subscribe to the topics, or assign their partitions when the section names them. */
static int ssi_subscribe(ss_ingest_kafka_in *k, const ss_ingest_kafka_in_conf *c, ss_err *err)
{
    rd_kafka_topic_partition_list_t *l = ssi_topic_list(c->topics, RD_KAFKA_PARTITION_UA);
    if (!l)
        return ss_err_set(err, SS_ENOMEM, "out of memory");
    if (!l->cnt)
        return rd_kafka_topic_partition_list_destroy(l),
               ss_err_set(err, SS_EINVAL, "[input kafka] topics=%s: no topic named", c->topics);
    rd_kafka_resp_err_t e = c->nparts ? ssi_assign(k, c, l) : rd_kafka_subscribe(k->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e)
        return ss_err_set(err, SS_EINVAL, "[input kafka] topics=%s: cannot %s: %s", c->topics,
                          c->nparts ? "assign the partitions" : "subscribe", rd_kafka_err2str(e));
    return 0;
}

/* The wake-up descriptor: librdkafka writes to it when the consumer queue gets something. */
static int ssi_wake_enable(ss_ingest_kafka_in *k, ss_err *err)
{
    if (pipe2(k->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
        k->wake[0] = k->wake[1] = -1;
        return ss_err_set(err, errno, "kafka consumer: cannot make its wake-up pipe: %s",
                          strerror(errno));
    }
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(k->rk);
    rd_kafka_queue_io_event_enable(q, k->wake[1], "1", 1);
    rd_kafka_queue_destroy(q); /* the application's reference only: the consumer keeps it */
    return 0;
}

static int ssi_check_conf(const ss_ingest_kafka_in_conf *c, const char *schema_dir, ss_err *err)
{
    const char *missing = !c->brokers ? "brokers" : !c->topics ? "topics" : !c->group ? "group" : 0;
    if (missing)
        return ss_err_set(err, SS_EINVAL, "[input kafka] %s: missing", missing);
    if (c->format && !strcmp(c->format, "rubin") && !schema_dir)
        return ss_err_set(err, SS_EINVAL,
                          "[input kafka] format=rubin: needs the schema directory (schema_dir) "
                          "to resolve the messages' schema ids");
    return 0;
}

int ss_ingest_kafka_in_open(const ss_ingest_kafka_in_conf *c, const char *schema_dir,
                            ss_ingest_kafka_in **out, ss_err *err)
{
    *out = NULL;
    int rc = ssi_check_conf(c, schema_dir, err);
    if (rc)
        return rc;
    ss_ingest_kafka_in *k = calloc(1, sizeof *k);
    if (!k || !(k->done = rd_kafka_topic_partition_list_new(8)))
        return free(k), ss_err_set(err, SS_ENOMEM, "out of memory");
    k->wake[0] = k->wake[1] = -1;
    k->decoder = ssi_decoder_of(c->format ? c->format : "ztf");
    rd_kafka_conf_t *rc_conf = ssi_rdconf(c, k, err);
    char why[512];
    if (rc_conf && !(k->rk = rd_kafka_new(RD_KAFKA_CONSUMER, rc_conf, why, sizeof why))) {
        rd_kafka_conf_destroy(rc_conf);
        ss_err_set(err, SS_EINVAL, "[input kafka] brokers=%s: cannot create the consumer: %s",
                   c->brokers, why);
    }
    if (k->rk) {
        rd_kafka_poll_set_consumer(k->rk);
        if (!ssi_wake_enable(k, err) && !ssi_subscribe(k, c, err)) {
            *out = k;
            return 0;
        }
    }
    rc = err->code ? err->code : SS_EINVAL;
    ss_ingest_kafka_in_close(k);
    return rc;
}

const char *ss_ingest_kafka_in_decoder(const ss_ingest_kafka_in *k)
{
    return k->decoder;
}

/* A message wholly ingested: its partition's next offset, stored once the store commits. */
static void ssi_done(ss_ingest_kafka_in *k, const rd_kafka_message_t *m)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    rd_kafka_topic_partition_t *p =
        rd_kafka_topic_partition_list_find(k->done, topic, m->partition);
    if (!p)
        p = rd_kafka_topic_partition_list_add(k->done, topic, m->partition);
    p->offset = m->offset + 1;
}

/* Alerts decoded so far by @p in, committed or pending (rejected records left out). */
static uint64_t ssi_decoded(const ss_ingest *in)
{
    ss_ingest_totals t;
    ss_ingest_totals_get(in, &t);
    return t.read - t.rejected + ss_ingest_pending(in);
}

/* Ingest one message. @return 0 (a rejected message included), or a store failure. */
static int ssi_take(ss_ingest_kafka_in *k, ss_ingest *in, const rd_kafka_message_t *m,
                    const ss_log *lg, ss_err *err)
{
    char name[320];
    snprintf(name, sizeof name, "kafka topic=%.200s partition=%d offset=%lld",
             rd_kafka_topic_name(m->rkt), (int)m->partition, (long long)m->offset);
    uint64_t before = ssi_decoded(in); /* an empty message is rejected by name, as any */
    int rc = ss_ingest_memory(in, m->payload, m->len, name, err);
    if (rc == SS_EREJECT) {
        ss_log_line(lg, SS_LOG_WARN, "rejected message %s: %s", name, err->msg);
        snprintf(k->st.last_error, sizeof k->st.last_error, "rejected %.300s: %.300s", name,
                 err->msg);
        k->st.rejected++;
        rc = 0;
    }
    if (!rc) {
        ssi_done(k, m);
        k->st.messages++;
        k->st.alerts += ssi_decoded(in) - before;
    }
    return rc;
}

/* A consumer event in place of a message. @return 0 (reported, polling goes on) or fatal. */
static int ssi_event(ss_ingest_kafka_in *k, const rd_kafka_message_t *m, const ss_log *lg,
                     ss_err *err)
{
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
        return 0;
    if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_fatal_error(k->rk, why, sizeof why);
        k->st.fatal = 1;
        ss_err_set(err, EIO, "kafka consumer: fatal error: %s", why);
        snprintf(k->st.last_error, sizeof k->st.last_error, "%s", err->msg);
        return EIO;
    }
    snprintf(k->st.last_error, sizeof k->st.last_error, "topic=%s: %s",
             m->rkt ? rd_kafka_topic_name(m->rkt) : "-", rd_kafka_message_errstr(m));
    ss_log_line(lg, SS_LOG_WARN, "kafka consumer %s", k->st.last_error);
    return 0;
}

int ss_ingest_kafka_in_poll(ss_ingest_kafka_in *k, ss_ingest *in, unsigned max, int timeout_ms,
                            const ss_log *lg, unsigned *taken, ss_err *err)
{
    unsigned n = 0;
    int rc = 0;
    char drain[64];
    while (read(k->wake[0], drain, sizeof drain) > 0) /* polled now: what comes next signals */
        ;
    k->in = in;
    const char *format = ss_ingest_set_format(in, k->decoder);
    while (!rc && n < max) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(k->rk, n ? 0 : timeout_ms);
        if (k->rc) /* a revocation's flush failed */
            rc = (*err = k->err, k->rc);
        if (!m)
            break;
        if (!rc && m->err)
            rc = ssi_event(k, m, lg, err);
        else if (!rc && !(rc = ssi_take(k, in, m, lg, err)))
            n++;
        rd_kafka_message_destroy(m);
    }
    ss_ingest_set_format(in, format);
    k->in = NULL;
    if (taken)
        *taken = n;
    return rc;
}

void ss_ingest_kafka_in_committed(ss_ingest_kafka_in *k)
{
    if (!k->done->cnt)
        return;
    /* a partition revoked meanwhile refuses the store: its new owner reads the messages again */
    rd_kafka_offsets_store(k->rk, k->done);
    rd_kafka_commit(k->rk, NULL, !k->revoking);
    rd_kafka_topic_partition_list_destroy(k->done);
    k->done = rd_kafka_topic_partition_list_new(8);
}

size_t ss_ingest_kafka_in_pending(const ss_ingest_kafka_in *k)
{
    return (size_t)k->done->cnt;
}

int ss_ingest_kafka_in_fd(const ss_ingest_kafka_in *k)
{
    return k->wake[0];
}

void ss_ingest_kafka_in_stats_get(const ss_ingest_kafka_in *k, ss_ingest_kafka_in_stats *st)
{
    *st = k->st;
    st->pending = ss_ingest_kafka_in_pending(k);
}

void ss_ingest_kafka_in_close(ss_ingest_kafka_in *k)
{
    if (!k)
        return;
    if (k->rk) {
        k->in = NULL; /* the caller's ingest may be gone: nothing more is flushed */
        rd_kafka_commit(k->rk, NULL, 0);
        rd_kafka_consumer_close(k->rk);
        rd_kafka_destroy(k->rk);
    }
    if (k->done)
        rd_kafka_topic_partition_list_destroy(k->done);
    for (int i = 0; i < 2; i++)
        if (k->wake[i] >= 0)
            close(k->wake[i]);
    free(k);
}
