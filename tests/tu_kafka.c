#include "tu_kafka.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void conf_set(rd_kafka_conf_t *c, const char *key, const char *value)
{
    char why[256];
    ck_assert_msg(rd_kafka_conf_set(c, key, value, why, sizeof why) == RD_KAFKA_CONF_OK,
                  "%s=%s: %s", key, value, why);
}

static rd_kafka_t *client_new(rd_kafka_type_t type, rd_kafka_conf_t *c, int quiet)
{
    char why[256];
    if (quiet)
        conf_set(c, "log_level", "0");
    rd_kafka_t *rk = rd_kafka_new(type, c, why, sizeof why);
    ck_assert_msg(rk != NULL, "%s", why);
    return rk;
}

void tu_mock_start(tu_mock *m, int quiet)
{
    m->quiet = quiet;
    /* the owner needs no bootstrap servers: the cluster lives in it */
    m->owner = client_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), quiet);
    m->mc = rd_kafka_mock_cluster_new(m->owner, 1);
    ck_assert_ptr_nonnull(m->mc);
    m->bootstraps = rd_kafka_mock_cluster_bootstraps(m->mc);
}

void tu_mock_topic(tu_mock *m, const char *topic, int partitions)
{
    ck_assert_int_eq(rd_kafka_mock_topic_create(m->mc, topic, partitions, 1),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
}

void tu_mock_stop(tu_mock *m)
{
    if (!m->mc)
        return;
    rd_kafka_mock_cluster_destroy(m->mc);
    rd_kafka_destroy(m->owner);
    memset(m, 0, sizeof *m);
}

rd_kafka_t *tu_kafka_producer(const tu_mock *m)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    conf_set(c, "bootstrap.servers", m->bootstraps);
    return client_new(RD_KAFKA_PRODUCER, c, m->quiet);
}

void tu_kafka_produce(rd_kafka_t *p, const char *topic, int32_t partition, const void *key,
                      size_t key_len, const void *value, size_t len)
{
    ck_assert_int_eq(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                                       RD_KAFKA_V_KEY(key, key ? key_len : 0),
                                       RD_KAFKA_V_VALUE((void *)value, len),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
}

void tu_kafka_flush(rd_kafka_t *p)
{
    ck_assert_int_eq(rd_kafka_flush(p, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(p);
}

/* Assigned partitions from their start; the group only names the reader (nothing is committed). */
static rd_kafka_t *reader_new(const tu_mock *m, const char *topic, int nparts)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    conf_set(c, "bootstrap.servers", m->bootstraps);
    conf_set(c, "group.id", "tu_reader");
    conf_set(c, "enable.auto.commit", "false");
    conf_set(c, "enable.partition.eof", "true");
    rd_kafka_t *rk = client_new(RD_KAFKA_CONSUMER, c, m->quiet);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(nparts);
    for (int i = 0; i < nparts; i++)
        rd_kafka_topic_partition_list_add(l, topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
    ck_assert_int_eq(rd_kafka_assign(rk, l), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(l);
    return rk;
}

static void text_of(char *dst, size_t cap, const void *src, size_t len)
{
    snprintf(dst, cap, "%.*s", (int)(len < cap ? len : cap - 1), src ? (const char *)src : "");
}

static void copy_headers(tu_kafka_msg *x, const rd_kafka_message_t *msg)
{
    rd_kafka_headers_t *h = NULL;
    const char *name;
    const void *v;
    size_t len;
    if (rd_kafka_message_headers(msg, &h))
        return;
    for (size_t i = 0; x->nhdr < sizeof x->hdr / sizeof *x->hdr &&
                       !rd_kafka_header_get_all(h, i, &name, &v, &len);
         i++) {
        tu_kafka_header *d = &x->hdr[x->nhdr++];
        snprintf(d->name, sizeof d->name, "%s", name);
        text_of(d->value, sizeof d->value, v, len);
    }
}

static void copy_message(tu_kafka_msg *x, const rd_kafka_message_t *msg)
{
    memset(x, 0, sizeof *x);
    x->value = malloc(msg->len + 1);
    ck_assert_ptr_nonnull(x->value);
    if (msg->len)
        memcpy(x->value, msg->payload, msg->len);
    x->value[msg->len] = '\0';
    x->len = msg->len;
    x->partition = msg->partition;
    text_of(x->key, sizeof x->key, msg->key, msg->key_len);
    copy_headers(x, msg);
}

tu_kafka_msg *tu_kafka_read(const tu_mock *m, const char *topic, int nparts, size_t max, size_t *n,
                            int *ends)
{
    rd_kafka_t *rk = reader_new(m, topic, nparts);
    tu_kafka_msg *g = NULL;
    int eofs = 0;
    time_t end = time(NULL) + 30;
    *n = 0;
    while (eofs < nparts && (!max || *n < max) && time(NULL) < end) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 200);
        if (!msg)
            continue;
        if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            eofs++;
        else if (!msg->err) {
            g = realloc(g, (*n + 1) * sizeof *g);
            ck_assert_ptr_nonnull(g);
            copy_message(&g[(*n)++], msg);
        }
        rd_kafka_message_destroy(msg);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    if (ends)
        *ends = eofs;
    return g;
}

const char *tu_kafka_header_of(const tu_kafka_msg *msg, const char *name)
{
    const char *v = "";
    for (size_t i = 0; i < msg->nhdr; i++)
        if (!strcmp(msg->hdr[i].name, name))
            v = msg->hdr[i].value;
    return v;
}

void tu_kafka_msgs_free(tu_kafka_msg *g, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(g[i].value);
    free(g);
}
