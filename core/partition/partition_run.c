/* `skysieve partition`: the consumer, the producer and the routing of each message (partition.h).
 * The output topics and splitting a container over partitions are in partition_out.c. */
#include "partition.h"
#include "kafka_group.h"
#include "partition_impl.h"
#include "sky.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SSI_BATCH 500

/* ---- librdkafka configuration ---- */

static int ssi_set(rd_kafka_conf_t *rc, const char *sec, const char *key, const char *value,
                   ss_err *err)
{
    char why[256];
    if (rd_kafka_conf_set(rc, key, value, why, sizeof why) != RD_KAFKA_CONF_OK)
        return ss_err_set(err, SS_EINVAL, "[%s] rdkafka.%s: %s", sec, key, why);
    return 0;
}

static void ssi_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    ss_partitioner *p = opaque;
    if (m->err && !p->dr_failed) {
        p->dr_failed = m->err;
        snprintf(p->dr_why, sizeof p->dr_why, "topic %s partition %d: %s",
                 rd_kafka_topic_name(m->rkt), (int)m->partition, rd_kafka_err2str(m->err));
    }
}

/* Idempotent, every replica acknowledging; no topic created behind the operator's back (a
 * broker's default partition count would silently decide the regions' spread). */
static int ssi_producer(ss_partitioner *p, const ss_partition_conf *c, ss_err *err)
{
    rd_kafka_conf_t *rc = rd_kafka_conf_new();
    if (!rc)
        return ss_err_set(err, SS_ENOMEM, "out of memory");
    int bad = ssi_set(rc, "partition", "bootstrap.servers", c->brokers ? c->brokers : c->in.brokers,
                      err) ||
              ssi_set(rc, "partition", "enable.idempotence", "true", err) ||
              ssi_set(rc, "partition", "acks", "all", err) ||
              ssi_set(rc, "partition", "allow.auto.create.topics", "false", err);
    for (size_t i = 0; i < c->nkv && !bad; i++)
        bad = ssi_set(rc, "partition", c->kv[2 * i], c->kv[2 * i + 1], err);
    if (bad)
        return rd_kafka_conf_destroy(rc), err->code;
    rd_kafka_conf_set_dr_msg_cb(rc, ssi_on_delivery);
    rd_kafka_conf_set_opaque(rc, p);
    char why[512];
    if (!(p->prod = rd_kafka_new(RD_KAFKA_PRODUCER, rc, why, sizeof why))) {
        rd_kafka_conf_destroy(rc);
        return ss_err_set(err, SS_EINVAL, "[partition] cannot create the producer: %s", why);
    }
    return 0;
}

/* The assignment, kept here as the group changes it (asking librdkafka from the callback can
 * block: kafka_group.h): --once waits for each of its partitions' end. */
static void ssi_assignment_update(ss_partitioner *p, int assign,
                                  const rd_kafka_topic_partition_list_t *parts)
{
    if (!p->coop) {
        rd_kafka_topic_partition_list_destroy(p->assigned);
        p->assigned = assign ? rd_kafka_topic_partition_list_copy(parts)
                             : rd_kafka_topic_partition_list_new(1);
        return;
    }
    for (int i = 0; i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *t = &parts->elems[i];
        int have = rd_kafka_topic_partition_list_find(p->assigned, t->topic, t->partition) != NULL;
        if (assign && !have)
            rd_kafka_topic_partition_list_add(p->assigned, t->topic, t->partition);
        else if (!assign && have)
            rd_kafka_topic_partition_list_del(p->assigned, t->topic, t->partition);
    }
}

static void ssi_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t e,
                          rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    ss_partitioner *p = opaque;
    int assign = e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
    ss_ingest_kafka_rebalance_apply(rk, assign, parts, p->coop);
    ssi_assignment_update(p, assign, parts);
    /* a partition read again from its committed offset is not at its end */
    rd_kafka_topic_partition_list_destroy(p->eof);
    p->eof = rd_kafka_topic_partition_list_new(8);
}

static int ssi_subscribe(rd_kafka_t *rk, const char *topics, ss_err *err);

static int ssi_consumer(ss_partitioner *p, const ss_ingest_kafka_in_conf *c, ss_err *err)
{
    rd_kafka_conf_t *rc = rd_kafka_conf_new();
    if (!rc)
        return ss_err_set(err, SS_ENOMEM, "out of memory");
    int bad = ssi_set(rc, "input kafka", "bootstrap.servers", c->brokers, err) ||
              ssi_set(rc, "input kafka", "group.id", c->group, err) ||
              ssi_set(rc, "input kafka", "enable.auto.commit", "false", err) ||
              ssi_set(rc, "input kafka", "enable.auto.offset.store", "false", err) ||
              ssi_set(rc, "input kafka", "auto.offset.reset", "earliest", err) ||
              ssi_set(rc, "input kafka", "enable.partition.eof", "true", err);
    for (size_t i = 0; i < c->nkv && !bad; i++)
        bad = ssi_set(rc, "input kafka", c->kv[2 * i], c->kv[2 * i + 1], err);
    if (bad)
        return rd_kafka_conf_destroy(rc), err->code;
    p->coop = ss_ingest_kafka_cooperative(rc);
    rd_kafka_conf_set_rebalance_cb(rc, ssi_rebalance);
    rd_kafka_conf_set_opaque(rc, p);
    char why[512];
    if (!(p->cons = rd_kafka_new(RD_KAFKA_CONSUMER, rc, why, sizeof why))) {
        rd_kafka_conf_destroy(rc);
        return ss_err_set(err, SS_EINVAL, "[input kafka] cannot create the consumer: %s", why);
    }
    rd_kafka_poll_set_consumer(p->cons);
    return ssi_subscribe(p->cons, c->topics, err);
}

/* Subscribe to the comma list @p topics. */
static int ssi_subscribe(rd_kafka_t *rk, const char *topics, ss_err *err)
{
    char *copy = strdup(topics), *save = NULL;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4);
    if (!copy)
        return rd_kafka_topic_partition_list_destroy(l), ss_err_set(err, SS_ENOMEM, "oom");
    for (char *t = strtok_r(copy, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save))
        rd_kafka_topic_partition_list_add(l, t, RD_KAFKA_PARTITION_UA);
    free(copy);
    rd_kafka_resp_err_t e = l->cnt ? rd_kafka_subscribe(rk, l) : RD_KAFKA_RESP_ERR__INVALID_ARG;
    rd_kafka_topic_partition_list_destroy(l);
    if (e)
        return ss_err_set(err, SS_EINVAL, "[input kafka] topics=%s: cannot subscribe: %s", topics,
                          rd_kafka_err2str(e));
    return 0;
}

/* ---- opening ---- */

static int ssi_check(const ss_partition_conf *c, const char *schema_dir, ss_err *err)
{
    int rc = ss_partition_conf_check(c, err);
    const char *f = c->file ? c->file : "partition";
    const char *missing = !c->in.brokers  ? "brokers"
                          : !c->in.topics ? "topics"
                          : !c->in.group  ? "group"
                                          : NULL;
    if (!rc && missing)
        rc = ss_err_set(err, SS_EINVAL, "%s: [input kafka] %s: missing", f, missing);
    if (!rc && c->in.format && !strcmp(c->in.format, "rubin") && !schema_dir)
        rc = ss_err_set(err, SS_EINVAL,
                        "%s: [input kafka] format=rubin: needs the schema directory (--schema-dir) "
                        "to resolve the messages' schema ids",
                        f);
    return rc;
}

static int ssi_open_parts(ss_partitioner *p, const ss_partition_conf *c, const char *schema_dir,
                          ss_err *err)
{
    int rc = ss_partition_anchors_open(c->state, c->nside, 2 * c->radius_arcsec / SS_ARCSEC_PER_DEG,
                                       &p->anchors, err);
    p->to = strdup(c->to);
    if (c->dead_letter)
        p->dead = strdup(c->dead_letter);
    else if (asprintf(&p->dead, "%s.rejected", c->to) < 0)
        p->dead = NULL;
    p->dcfg.schema_dir = p->schema_dir = schema_dir ? strdup(schema_dir) : NULL;
    p->dcfg.skip_cutouts = 1; /* only positions are read: stamps are forwarded, not decoded */
    p->shared = ss_decoder_shared_new(&p->dcfg);
    p->pkt = ss_packet_new();
    p->assigned = rd_kafka_topic_partition_list_new(1);
    p->eof = rd_kafka_topic_partition_list_new(8);
    p->done = rd_kafka_topic_partition_list_new(8);
    if (!rc && (!p->to || !p->dead || (schema_dir && !p->schema_dir) || !p->shared || !p->pkt))
        rc = ss_err_set(err, SS_ENOMEM, "out of memory");
    if (!rc)
        p->ops = ss_decoder_find("avro");
    if (!rc && !p->ops)
        rc = ss_err_set(err, SS_EINVAL, "partition: this build has no Avro decoder");
    if (!rc)
        p->pkt->skip_cutouts = 1;
    return rc;
}

int ss_partition_open(const ss_partition_conf *c, const char *schema_dir, const ss_log *lg,
                      ss_partitioner **out, ss_err *err)
{
    *out = NULL;
    int rc = ssi_check(c, schema_dir, err);
    if (rc)
        return rc;
    ss_partitioner *p = calloc(1, sizeof *p);
    if (!p)
        return ss_err_set(err, SS_ENOMEM, "out of memory");
    p->lg = lg;
    rc = ssi_open_parts(p, c, schema_dir, err);
    if (!rc)
        rc = ssi_producer(p, c, err);
    if (!rc)
        rc = ssi_topics(p, c, err);
    if (!rc)
        rc = ssi_consumer(p, &c->in, err);
    if (rc)
        return ss_partition_close(p), rc;
    *out = p;
    return 0;
}

int ss_partition_partitions(const ss_partitioner *p)
{
    return p->nparts;
}

void ss_partition_counts_get(const ss_partitioner *p, ss_partition_counts *out)
{
    *out = p->n;
}

void ss_partition_close(ss_partitioner *p)
{
    if (!p)
        return;
    if (p->cons) {
        rd_kafka_consumer_close(p->cons);
        rd_kafka_destroy(p->cons);
    }
    if (p->prod) {
        rd_kafka_flush(p->prod, 10000);
        rd_kafka_destroy(p->prod);
    }
    rd_kafka_topic_partition_list_t *lists[] = {p->assigned, p->eof, p->done};
    for (size_t i = 0; i < 3; i++)
        if (lists[i])
            rd_kafka_topic_partition_list_destroy(lists[i]);
    ss_partition_anchors_close(p->anchors);
    ss_packet_free(p->pkt);
    ss_decoder_shared_free(p->shared); /* after the packet: it may borrow from it */
    free(p->recs);
    free(p->to);
    free(p->dead);
    free(p->schema_dir);
    free(p);
}

/* ---- producing ---- */

/* Produce a copy of @p value; @p hdrs passes to librdkafka (freed here when refused). A full
 * queue waits for delivery reports. */
int ssi_produce(ss_partitioner *p, const char *topic, int32_t part, const void *key, size_t klen,
                const void *value, size_t len, rd_kafka_headers_t *hdrs, int64_t ts, ss_err *err)
{
    rd_kafka_resp_err_t e;
    for (;;) {
        e = rd_kafka_producev(p->prod, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(part),
                              RD_KAFKA_V_KEY(key, klen), RD_KAFKA_V_VALUE((void *)value, len),
                              RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_TIMESTAMP(ts > 0 ? ts : 0),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            break;
        rd_kafka_poll(p->prod, 100);
    }
    if (!e)
        return 0;
    rd_kafka_headers_destroy(hdrs);
    return ss_err_set(err, EIO, "topic %s partition %d: cannot produce: %s", topic, (int)part,
                      rd_kafka_err2str(e));
}

/* The input message's headers (when it has any) with the name=value pairs of @p kv added. */
static rd_kafka_headers_t *ssi_headers(const rd_kafka_message_t *m, const char *const *kv, size_t n)
{
    rd_kafka_headers_t *in = NULL, *h;
    h = !rd_kafka_message_headers(m, &in) ? rd_kafka_headers_copy(in) : rd_kafka_headers_new(n);
    for (size_t i = 0; i < n; i++)
        rd_kafka_header_add(h, kv[2 * i], -1, kv[2 * i + 1], -1);
    return h;
}

static int64_t ssi_timestamp(const rd_kafka_message_t *m)
{
    rd_kafka_timestamp_type_t tt;
    return rd_kafka_message_timestamp(m, &tt);
}

/* The whole message to the dead-letter topic, its origin and @p why in headers, and logged. */
static int ssi_dead_letter(ss_partitioner *p, const rd_kafka_message_t *m, const char *why,
                           ss_err *err)
{
    char part[16], off[24];
    snprintf(part, sizeof part, "%d", (int)m->partition);
    snprintf(off, sizeof off, "%lld", (long long)m->offset);
    const char *topic = rd_kafka_topic_name(m->rkt);
    const char *kv[] = {"skysieve.topic",  topic, "skysieve.partition", part,
                        "skysieve.offset", off,   "skysieve.reason",    why};
    ss_log_line(p->lg, SS_LOG_WARN, "dead letter: topic %s partition %s offset %s: %s", topic, part,
                off, why);
    p->n.dead++;
    return ssi_produce(p, p->dead, RD_KAFKA_PARTITION_UA, m->key, m->key_len, m->payload, m->len,
                       ssi_headers(m, kv, 4), ssi_timestamp(m), err);
}

/* ---- routing a message ---- */

static int ssi_add_rec(ss_partitioner *p, const ss_alert *a)
{
    if (p->nrecs == p->caprecs) {
        size_t cap = p->caprecs ? 2 * p->caprecs : 8;
        ssi_rec *fresh = realloc(p->recs, cap * sizeof *fresh);
        if (!fresh)
            return SS_ENOMEM;
        p->recs = fresh;
        p->caprecs = cap;
    }
    p->recs[p->nrecs++] = (ssi_rec){.ra = a->ra, .dec = a->dec};
    return 0;
}

/* One decoded record: its primary alert's position, or why it has none. @return 0, 1 (refused:
 * @p why says why) or SS_ENOMEM. */
static int ssi_take_record(ss_partitioner *p, char *why, size_t cap)
{
    ss_reject rej = {0};
    if (!p->pkt->n)
        return snprintf(why, cap, "record %zu: no alert", p->nrecs + 1), 1;
    if (ss_ingest_validate(p->pkt, &rej, NULL, NULL) != 1) /* refused where an instance would */
        return snprintf(why, cap, "record %zu: %s", p->nrecs + 1, rej.detail), 1;
    return ssi_add_rec(p, &p->pkt->alerts[0]);
}

/* Decode every record of @p m for its position into p->recs. @return 0, 1 (undecodable: @p why
 * says why) or a fatal error. */
static int ssi_decode(ss_partitioner *p, const rd_kafka_message_t *m, char *why, size_t cap,
                      ss_err *err)
{
    p->nrecs = 0;
    if (!m->len)
        return snprintf(why, cap, "empty message"), 1;
    char name[320];
    snprintf(name, sizeof name, "kafka topic=%.200s partition=%d offset=%lld",
             rd_kafka_topic_name(m->rkt), (int)m->partition, (long long)m->offset);
    void *st = NULL;
    FILE *fp = NULL;
    ss_err de = {0};
    int rc = ss_decoder_open_memory(p->ops, m->payload, m->len, name, &p->dcfg,
                                    ss_decoder_shared_get(p->shared, p->ops), &st, &fp, &de);
    if (rc)
        rc = rc == SS_ENOMEM ? rc : (snprintf(why, cap, "%s", de.msg), 1);
    for (int more = !rc; more;) {
        ss_reject rej = {0};
        ss_packet_reset(p->pkt);
        int r = p->ops->next(st, p->pkt, &rej, &de);
        more = r == 1 && !(rc = ssi_take_record(p, why, cap));
        if (r == SS_EREJECT)
            rc = (snprintf(why, cap, "record %llu: %s", (unsigned long long)rej.line, rej.detail),
                  1);
        else if (r < 0)
            rc = r == SS_ENOMEM ? r : (snprintf(why, cap, "%s", de.msg), 1);
    }
    if (st)
        p->ops->close(st);
    if (fp)
        fclose(fp);
    if (!rc && !p->nrecs)
        rc = (snprintf(why, cap, "no record"), 1);
    return rc == SS_ENOMEM ? ss_err_set(err, rc, "out of memory") : rc;
}

/* Route p->recs. @return 0 or an LMDB failure. */
static int ssi_route_all(ss_partitioner *p, int *same, ss_err *err)
{
    *same = 1;
    for (size_t i = 0; i < p->nrecs; i++) {
        ss_partition_route r;
        int rc = ss_partition_anchors_route(p->anchors, p->recs[i].ra, p->recs[i].dec, &r, err);
        if (rc)
            return rc;
        p->recs[i].pixel = r.pixel;
        p->recs[i].route = r.route;
        p->recs[i].part = (int32_t)(r.route % p->nparts);
        *same &= p->recs[i].part == p->recs[0].part;
        p->n.alerts++;
        p->n.border += (uint64_t)r.border;
        p->n.anchored += (uint64_t)r.anchored;
        p->n.anchors += (uint64_t)r.new_anchor;
    }
    return 0;
}

/* Forward @p value as one message for record @p i's region. */
int ssi_forward(ss_partitioner *p, const rd_kafka_message_t *m, size_t i, const void *value,
                size_t len, ss_err *err)
{
    char key[24], pix[24];
    snprintf(key, sizeof key, "%lld", (long long)p->recs[i].route);
    snprintf(pix, sizeof pix, "%lld", (long long)p->recs[i].pixel);
    const char *kv[] = {"skysieve.pixel", pix};
    p->n.produced++;
    return ssi_produce(p, p->to, p->recs[i].part, key, strlen(key), value, len,
                       ssi_headers(m, kv, 1), ssi_timestamp(m), err);
}

static int ssi_handle(ss_partitioner *p, const rd_kafka_message_t *m, ss_err *err)
{
    char why[SS_ERR_MSG_MAX];
    p->n.messages++;
    int rc = ssi_decode(p, m, why, sizeof why, err);
    if (rc == 1)
        return ssi_dead_letter(p, m, why, err);
    int same = 1;
    if (!rc)
        rc = ssi_route_all(p, &same, err);
    if (rc || same)
        return rc ? rc : ssi_forward(p, m, 0, m->payload, m->len, err);
    rc = ssi_split(p, m, why, sizeof why, err);
    if (rc == 1)
        return ssi_dead_letter(p, m, why, err);
    p->n.split += !rc;
    return rc;
}

/* ---- the loop ---- */

static void ssi_list_set(rd_kafka_topic_partition_list_t *l, const char *topic, int32_t part,
                         int64_t offset)
{
    rd_kafka_topic_partition_t *e = rd_kafka_topic_partition_list_find(l, topic, part);
    if (!e)
        e = rd_kafka_topic_partition_list_add(l, topic, part);
    e->offset = offset;
}

/* A message or an event from the consumer. @return 0 or fatal. */
static int ssi_take(ss_partitioner *p, const rd_kafka_message_t *m, ss_err *err)
{
    const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "-";
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        ss_log_line(p->lg, SS_LOG_DEBUG, "topic %s partition %d: at its end (offset %lld)", topic,
                    (int)m->partition, (long long)m->offset);
        ssi_list_set(p->eof, topic, m->partition, 1);
        return 0;
    }
    if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_fatal_error(p->cons, why, sizeof why);
        return ss_err_set(err, EIO, "kafka consumer: fatal error: %s", why);
    }
    if (m->err) {
        ss_log_line(p->lg, SS_LOG_WARN, "kafka consumer topic=%s: %s", topic,
                    rd_kafka_message_errstr(m));
        return 0;
    }
    ssi_list_set(p->eof, topic, m->partition, 0);
    ss_log_line(p->lg, SS_LOG_DEBUG, "topic %s partition %d offset %lld: %zu bytes", topic,
                (int)m->partition, (long long)m->offset, m->len);
    int rc = ssi_handle(p, m, err);
    if (!rc)
        ssi_list_set(p->done, topic, m->partition, m->offset + 1);
    return rc;
}

/* Wait for every delivery report, then commit the batch's input offsets. */
static int ssi_settle(ss_partitioner *p, volatile sig_atomic_t *stop, ss_err *err)
{
    while (rd_kafka_outq_len(p->prod) > 0 && !p->dr_failed && !(stop && *stop))
        rd_kafka_flush(p->prod, 200);
    if (p->dr_failed)
        return ss_err_set(err, EIO, "delivery failed: %s (the batch will be read again)",
                          p->dr_why);
    if (rd_kafka_outq_len(p->prod) > 0 || !p->done->cnt)
        return 0; /* stopped before the reports came: nothing committed, read again */
    rd_kafka_resp_err_t e = rd_kafka_commit(p->cons, p->done, 0);
    if (e) /* a rebalance took the partitions: their next owner reads the batch again */
        ss_log_line(p->lg, SS_LOG_WARN, "cannot commit the input offsets: %s", rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(p->done);
    p->done = rd_kafka_topic_partition_list_new(8);
    return 0;
}

/* Every assigned partition read to its end. */
static int ssi_all_eof(const ss_partitioner *p)
{
    if (!p->assigned || !p->assigned->cnt)
        return 0;
    for (int i = 0; i < p->assigned->cnt; i++) {
        const rd_kafka_topic_partition_t *a = &p->assigned->elems[i];
        rd_kafka_topic_partition_t *e =
            rd_kafka_topic_partition_list_find(p->eof, a->topic, a->partition);
        if (!e || !e->offset)
            return 0;
    }
    return 1;
}

/* Poll one batch. @param[out] got messages taken. */
static int ssi_batch(ss_partitioner *p, int timeout_ms, unsigned *got, ss_err *err)
{
    int rc = 0;
    *got = 0;
    while (!rc && *got < SSI_BATCH) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(p->cons, *got ? 0 : timeout_ms);
        if (!m)
            break;
        rc = ssi_take(p, m, err);
        *got += !m->err;
        rd_kafka_message_destroy(m);
    }
    return rc;
}

int ss_partition_run(ss_partitioner *p, int once, int idle_ms, volatile sig_atomic_t *stop,
                     ss_err *err)
{
    struct timespec last, now;
    clock_gettime(CLOCK_MONOTONIC, &last);
    while (!(stop && *stop)) {
        unsigned got;
        int rc = ssi_batch(p, 100, &got, err);
        if (!rc)
            rc = ssi_settle(p, stop, err);
        if (rc)
            return rc;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (got)
            last = now;
        if (once && ssi_all_eof(p))
            return 0;
        long idle = (now.tv_sec - last.tv_sec) * 1000 + (now.tv_nsec - last.tv_nsec) / 1000000;
        if (once && idle > idle_ms)
            return ss_err_set(err, ETIMEDOUT,
                              "partition --once: no message for %d ms and %d partition(s) of the "
                              "input assigned, not every one at its end",
                              idle_ms, p->assigned ? p->assigned->cnt : 0);
    }
    return 0;
}
