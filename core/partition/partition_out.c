/* `skysieve partition`: the output topics, and a container split over partitions (partition.h). */
#include "partition_impl.h"

#include <avro.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- topics ---- */

/* The partition count of @p topic: 0 when the cluster does not know it. */
static int ssi_topic_count(rd_kafka_t *rk, const char *topic, int *n, ss_err *err)
{
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = t ? rd_kafka_metadata(rk, 0, t, &md, 10000) : rd_kafka_last_error();
    if (t)
        rd_kafka_topic_destroy(t);
    if (!e && md->topic_cnt == 1)
        e = md->topics[0].err;
    *n = !e ? md->topics[0].partition_cnt : 0;
    if (md)
        rd_kafka_metadata_destroy(md);
    if (e && e != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
        return ss_err_set(err, EIO, "[partition] topic %s: cannot read its metadata: %s", topic,
                          rd_kafka_err2str(e));
    return 0;
}

/* Create @p topic with @p n partitions (the cluster's replication factor) through the admin API. */
static int ssi_create(rd_kafka_t *rk, const char *topic, int n, ss_err *err)
{
    char why[256] = "";
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, n, -1, why, sizeof why);
    if (!nt)
        return ss_err_set(err, SS_EINVAL, "[partition] topic %s: cannot create: %s", topic, why);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 15000);
    const rd_kafka_CreateTopics_result_t *res = ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
    size_t cnt = 0;
    const rd_kafka_topic_result_t **tr = res ? rd_kafka_CreateTopics_result_topics(res, &cnt) : 0;
    rd_kafka_resp_err_t e = !ev    ? RD_KAFKA_RESP_ERR__TIMED_OUT
                            : !cnt ? rd_kafka_event_error(ev)
                                   : rd_kafka_topic_result_error(tr[0]);
    snprintf(why, sizeof why, "%s",
             cnt && rd_kafka_topic_result_error_string(tr[0])
                 ? rd_kafka_topic_result_error_string(tr[0])
                 : rd_kafka_err2str(e));
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        return ss_err_set(err, EIO, "[partition] topic %s: cannot create %d partition(s): %s",
                          topic, n, why);
    return 0;
}

/* The partition count of @p topic, creating it with @p create partitions when missing and
 * @p create > 0. */
static int ssi_topic_ready(rd_kafka_t *rk, const char *topic, int create, int *n, ss_err *err)
{
    int rc = ssi_topic_count(rk, topic, n, err);
    if (rc || *n)
        return rc;
    if (create <= 0)
        return ss_err_set(err, SS_EINVAL,
                          "[partition] topic %s: not on the cluster (create it, or set "
                          "create_partitions / --create N)",
                          topic);
    if ((rc = ssi_create(rk, topic, create, err)))
        return rc;
    for (int i = 0; i < 50 && !rc && !*n; i++) { /* metadata follows the creation shortly */
        rc = ssi_topic_count(rk, topic, n, err);
        if (!rc && !*n)
            nanosleep(&(struct timespec){0, 200000000}, NULL);
    }
    if (!rc && !*n)
        rc = ss_err_set(err, EIO, "[partition] topic %s: created, but not in the metadata", topic);
    return rc;
}

int ssi_topics(ss_partitioner *p, const ss_partition_conf *c, ss_err *err)
{
    int dead_parts;
    int rc = ssi_topic_ready(p->prod, p->to, c->create_partitions, &p->nparts, err);
    if (!rc) /* rejected messages are few: one partition keeps them in their order */
        rc = ssi_topic_ready(p->prod, p->dead, c->create_partitions > 0, &dead_parts, err);
    return rc;
}

/* ---- splitting a container ---- */

static int ssi_varint(const unsigned char *b, size_t len, size_t *pos, int64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && *pos < len; shift += 7) {
        unsigned char c = b[(*pos)++];
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
            return 0;
        }
    }
    return -1;
}

/* The container's avro.codec ("null" when absent). @return 0 or -1 (a damaged header). */
static int ssi_codec(const unsigned char *b, size_t len, char *out, size_t cap)
{
    size_t pos = 4; /* the magic, checked by the decoder */
    snprintf(out, cap, "null");
    for (int64_t count; !ssi_varint(b, len, &pos, &count) && count;) {
        int64_t skip;
        if (count < 0 && (count = -count, ssi_varint(b, len, &pos, &skip)))
            return -1;
        for (int64_t i = 0; i < count; i++) {
            int64_t kl, vl;
            if (ssi_varint(b, len, &pos, &kl) || kl < 0 || (size_t)kl > len - pos)
                return -1;
            const unsigned char *key = b + pos;
            pos += (size_t)kl;
            if (ssi_varint(b, len, &pos, &vl) || vl < 0 || (size_t)vl > len - pos)
                return -1;
            if (kl == 10 && !memcmp(key, "avro.codec", 10))
                snprintf(out, cap, "%.*s", (int)vl, (const char *)b + pos);
            pos += (size_t)vl;
        }
        if (pos >= len)
            return -1;
    }
    return 0;
}

typedef struct ssi_split_ctx {
    avro_schema_t schema; /* the writer's, borrowed from the reader */
    avro_value_iface_t *iface;
    avro_value_t *vals; /* one per record, each owned */
    size_t nvals;
    char codec[32];
} ssi_split_ctx;

/* Read every record of the container back with avro-c. @return 0 or 1 (@p why says why). */
static int ssi_read_all(ssi_split_ctx *x, avro_file_reader_t rd, size_t want, char *why, size_t cap)
{
    x->schema = avro_file_reader_get_writer_schema(rd);
    x->iface = avro_generic_class_from_schema(x->schema);
    x->vals = calloc(want + 1, sizeof *x->vals);
    if (!x->iface || !x->vals)
        return snprintf(why, cap, "split: cannot hold the records: %s", avro_strerror()), 1;
    for (; x->nvals <= want; x->nvals++) {
        if (avro_generic_value_new(x->iface, &x->vals[x->nvals]))
            return snprintf(why, cap, "split: %s", avro_strerror()), 1;
        if (avro_file_reader_read_value(rd, &x->vals[x->nvals])) {
            avro_value_decref(&x->vals[x->nvals]);
            break;
        }
    }
    if (x->nvals != want)
        return snprintf(why, cap, "split: avro-c reads %zu record(s), the decoder %zu", x->nvals,
                        want),
               1;
    return 0;
}

/* One container of the records of @p part. @return 0 or 1 (@p why says why). */
static int ssi_encode(ssi_split_ctx *x, const ssi_rec *recs, int32_t part, char **buf, size_t *len,
                      char *why, size_t cap)
{
    size_t block = 4096; /* a block holds every record: sized by their encodings */
    for (size_t i = 0; i < x->nvals; i++) {
        size_t sz = 0;
        if (recs[i].part == part && !avro_value_sizeof(&x->vals[i], &sz))
            block += sz;
    }
    FILE *fp = open_memstream(buf, len);
    avro_file_writer_t w = NULL;
    int rc = !fp ||
             avro_file_writer_create_with_codec_fp(fp, "split", 0, x->schema, &w, x->codec, block);
    for (size_t i = 0; i < x->nvals && !rc; i++)
        if (recs[i].part == part)
            rc = avro_file_writer_append_value(w, &x->vals[i]);
    if (w && avro_file_writer_close(w))
        rc = 1;
    if (rc)
        snprintf(why, cap, "split: cannot re-encode the records of partition %d (codec %s): %s",
                 (int)part, x->codec, avro_strerror());
    if (fp)
        fclose(fp);
    return rc ? 1 : 0;
}

static void ssi_split_free(ssi_split_ctx *x)
{
    for (size_t i = 0; i < x->nvals; i++)
        avro_value_decref(&x->vals[i]);
    free(x->vals);
    if (x->iface)
        avro_value_iface_decref(x->iface);
}

/* Encode one container per partition, each kept at the index of its first record in @p bufs. */
static int ssi_encode_all(ssi_split_ctx *x, const ssi_rec *recs, char **bufs, size_t *lens,
                          char *why, size_t cap)
{
    int rc = 0;
    for (size_t i = 0; i < x->nvals && !rc; i++) {
        size_t j = 0;
        while (j < i && recs[j].part != recs[i].part)
            j++;
        if (j == i)
            rc = ssi_encode(x, recs, recs[i].part, &bufs[i], &lens[i], why, cap);
    }
    return rc;
}

/* Close @p rd, after every value, class and writer of its schema is gone. avro-c 1.11 leaves
 * references to that schema behind: one from reading the header, one per file writer (its close
 * drops none). Only the reader's own is still meant to be held here, so whatever count is above
 * one is orphaned and dropped after the reader's (a fixed avro-c leaves one: nothing is done). */
static void ssi_reader_close(avro_file_reader_t rd)
{
    if (!rd)
        return;
    avro_schema_t s = avro_file_reader_get_writer_schema(rd);
    int orphans = s ? s->refcount - 1 : 0;
    avro_file_reader_close(rd);
    for (int i = 0; i < orphans; i++)
        avro_schema_decref(s);
}

int ssi_split(ss_partitioner *p, const rd_kafka_message_t *m, char *why, size_t cap, ss_err *err)
{
    ssi_split_ctx x = {0};
    if (ssi_codec(m->payload, m->len, x.codec, sizeof x.codec))
        return snprintf(why, cap, "split: the container's header is damaged"), 1;
    FILE *fp = fmemopen(m->payload, m->len, "rb");
    if (!fp)
        return ss_err_set(err, errno, "cannot read a message: %s", strerror(errno));
    avro_file_reader_t rd = NULL;
    int rc = avro_file_reader_fp(fp, "message", 0, &rd)
                 ? (snprintf(why, cap, "split: avro-c cannot read it: %s", avro_strerror()), 1)
                 : ssi_read_all(&x, rd, p->nrecs, why, cap);
    char **bufs = calloc(p->nrecs, sizeof *bufs);
    size_t *lens = calloc(p->nrecs, sizeof *lens);
    if (!rc && (!bufs || !lens))
        rc = ss_err_set(err, SS_ENOMEM, "out of memory");
    if (!rc) /* every container made before any is produced: a failure dead-letters it whole */
        rc = ssi_encode_all(&x, p->recs, bufs, lens, why, cap);
    for (size_t i = 0; i < p->nrecs && !rc; i++)
        if (bufs[i])
            rc = ssi_forward(p, m, i, bufs[i], lens[i], err);
    for (size_t i = 0; bufs && i < p->nrecs; i++)
        free(bufs[i]);
    free(bufs);
    free(lens);
    ssi_split_free(&x);
    ssi_reader_close(rd);
    fclose(fp);
    return rc;
}
