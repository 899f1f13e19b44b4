/* The Kafka input (core/kafka_in.c) against librdkafka's mock cluster: real ZTF alerts produced
 * to a topic, consumed into a store, each stored exactly once, across a consumer stopped midway. */
#include "testutil.h"
#include "tu_kafka.h"

#include "ingest.h"
#include "kafka_in.h"
#include "query.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOPIC "ztf_night"

/* ---- the ZTF alert files of the shared data, through the mock cluster ---- */

/* Every .avro file one level below shared/ztf, in name order; NULL when the data is absent. */
static tu_files *ztf_files(void)
{
    tu_files *f = tu_data_files("the Kafka input on real ZTF alerts", "ztf", ".avro");
    if (f)
        ck_assert_uint_gt(f->n, 10);
    return f;
}

static void mock_start(tu_mock *m, int partitions)
{
    tu_mock_start(m, 0);
    tu_mock_topic(m, TOPIC, partitions);
}

/* Produce every file as one message (keyed by its index, spread over the partitions), with a
 * message that is no Avro at all after the @p bad_after th. @return messages produced. */
static size_t produce_night(const tu_mock *m, const tu_files *f, size_t bad_after)
{
    rd_kafka_t *p = tu_kafka_producer(m);
    size_t n = 0;
    for (size_t i = 0; i < f->n; i++) {
        size_t len;
        void *buf = tu_read_file(f->path[i], &len);
        tu_kafka_produce(p, TOPIC, RD_KAFKA_PARTITION_UA, &i, sizeof i, buf, len);
        free(buf);
        n++;
        if (i + 1 == bad_after) {
            static const char junk[] = "this is not an alert";
            tu_kafka_produce(p, TOPIC, RD_KAFKA_PARTITION_UA, NULL, 0, junk, sizeof junk - 1);
            n++;
        }
    }
    tu_kafka_flush(p);
    return n;
}

/* ---- stores ---- */

static ss_store *open_store(const char *name)
{
    char *dir = tu_path(tu_tmp, name);
    ss_store_options o = {.create = 1, .radius_arcsec = 1.5};
    ss_store *s = NULL;
    ss_err err = {0};
    ck_assert_msg(ss_store_open(dir, &o, &s, &err) == 0, "%s", err.msg);
    free(dir);
    return s;
}

static json_t *stats(ss_store *s)
{
    json_t *o = NULL;
    ss_err err = {0};
    ck_assert_msg(ss_query_stats(s, &o, &err) == 0, "%s", err.msg);
    return o;
}

static json_int_t stat_of(json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

/* The files ingested straight into a store: what the Kafka path must give. */
static json_t *reference_named(const tu_files *f, const char *name)
{
    ss_store *s = open_store(name);
    ss_ingest_options o = {0};
    ss_ingest *in = ss_ingest_new(s, &o);
    ss_err err = {0};
    for (size_t i = 0; i < f->n; i++)
        ck_assert_msg(ss_ingest_path(in, f->path[i], &err) == 0, "%s", err.msg);
    ck_assert_msg(ss_ingest_finish(in, NULL, &err) == 0, "%s", err.msg);
    ss_ingest_free(in);
    json_t *st = stats(s);
    ss_store_close(s);
    return st;
}

static json_t *reference(const tu_files *f)
{
    return reference_named(f, "reference");
}

static void same_alerts(json_t *ref, json_t *got)
{
    static const char *const keys[] = {"alerts", "detections", "upper_limits", "loci"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        ck_assert_msg(stat_of(ref, keys[i]) == stat_of(got, keys[i]),
                      "%s: %lld stored, %lld expected", keys[i], (long long)stat_of(got, keys[i]),
                      (long long)stat_of(ref, keys[i]));
    ck_assert_int_gt(stat_of(ref, "alerts"), 0);
}

/* ---- consuming ---- */

typedef struct run {
    ss_ingest_kafka_in *k;
    ss_ingest *in;
} run;

static void on_commit(void *ctx, const ss_ingest_totals *t)
{
    (void)t;
    ss_ingest_kafka_in_committed(ctx);
}

/* A consumer of group skysieve: subscribed, or assigned @p parts (e.g. "0,1") when not NULL. */
static void run_open_parts(run *r, ss_store *s, const tu_mock *m, uint32_t batch, const char *parts)
{
    ss_ingest_kafka_in_conf c = {0};
    ss_err err = {0};
    if (parts)
        ck_assert_int_eq(ss_ingest_kafka_in_conf_set(&c, "partitions", parts, &err), 0);
    ck_assert_int_eq(ss_ingest_kafka_in_conf_set(&c, "brokers", m->bootstraps, &err), 0);
    ck_assert_int_eq(ss_ingest_kafka_in_conf_set(&c, "topics", " other_topic , " TOPIC, &err), 0);
    ck_assert_int_eq(ss_ingest_kafka_in_conf_set(&c, "group", "skysieve", &err), 0);
    ck_assert_int_eq(ss_ingest_kafka_in_conf_set(&c, "format", "ztf", &err), 0);
    /* the mock cluster has no other_topic: a missing topic is reported, not fatal */
    ck_assert_int_eq(
        ss_ingest_kafka_in_conf_set(&c, "rdkafka.topic.metadata.refresh.interval.ms", "1000", &err),
        0);
    /* the mock group coordinator waits a session timeout less a second before it takes a new
     * member after the last one left: a short session keeps the restarts quick (longer than its
     * first-join delay, 3 s) */
    ck_assert_int_eq(ss_ingest_kafka_in_conf_set(&c, "rdkafka.session.timeout.ms", "4000", &err),
                     0);
    ck_assert_int_eq(ss_ingest_kafka_in_conf_set(&c, "rdkafka.heartbeat.interval.ms", "1000", &err),
                     0);
    ck_assert_msg(ss_ingest_kafka_in_open(&c, NULL, &r->k, &err) == 0, "%s", err.msg);
    ss_ingest_kafka_in_conf_free(&c);
    ss_ingest_options o = {.batch_size = batch,
                           .format = ss_ingest_kafka_in_decoder(r->k),
                           .on_commit = on_commit,
                           .ctx = r->k};
    r->in = ss_ingest_new(s, &o);
    ck_assert_ptr_nonnull(r->in);
}

static void run_open(run *r, ss_store *s, const tu_mock *m, uint32_t batch)
{
    run_open_parts(r, s, m, batch, NULL);
}

/* Poll until @p want messages are taken or @p seconds pass. @return messages taken. */
static size_t run_take(run *r, size_t want, int seconds)
{
    size_t n = 0;
    time_t end = time(NULL) + seconds;
    while (n < want && time(NULL) < end) {
        unsigned got = 0;
        ss_err err = {0};
        ck_assert_msg(
            ss_ingest_kafka_in_poll(r->k, r->in, (unsigned)(want - n), 200, NULL, &got, &err) == 0,
            "%s", err.msg);
        n += got;
    }
    return n;
}

/* Poll until a message comes (30 s at most), then until none comes for @p quiet_ms.
 * @return messages taken. */
static size_t run_drain(run *r, int quiet_ms)
{
    size_t n = 0;
    time_t end = time(NULL) + 30;
    for (;;) {
        unsigned got = 0;
        ss_err err = {0};
        ck_assert_msg(
            ss_ingest_kafka_in_poll(r->k, r->in, 1000, n ? quiet_ms : 200, NULL, &got, &err) == 0,
            "%s", err.msg);
        n += got;
        if ((n && !got) || (!n && time(NULL) >= end))
            return n;
    }
}

/* A rejected record whose input names the message's topic, partition and offset. */
static void rejected_named(ss_store *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    ss_err err = {0};
    ck_assert_msg(ss_query_rejected(s, NULL, fp, &err) == 0, "%s", err.msg);
    fclose(fp);
    ck_assert_uint_eq(tu_count_lines(buf), 1);
    ck_assert_msg(strstr(buf, "kafka topic=" TOPIC " partition=") && strstr(buf, " offset="), "%s",
                  buf);
    free(buf);
}

/* ---- a night: the ZTF files produced, consumed into one store ---- */

typedef struct night {
    tu_files *f;
    json_t *ref; /* what a direct ingest of the files stores */
    tu_mock m;
    size_t total; /* messages produced */
    ss_store *s;
} night;

/* The files produced over @p partitions, with junk after the third of them when @p junk.
 * @return 0 when the shared data is absent (the test passes, having said so). */
static int night_start(night *n, int partitions, int junk)
{
    if (!(n->f = ztf_files()))
        return 0;
    n->ref = reference(n->f);
    mock_start(&n->m, partitions);
    n->total = produce_night(&n->m, n->f, junk ? n->f->n / 3 : 0);
    n->s = open_store("kafka");
    return 1;
}

static void stored_as_reference(const night *n)
{
    json_t *got = stats(n->s);
    same_alerts(n->ref, got);
    json_decref(got);
}

/* The store as a direct ingest stores the files; everything freed. */
static void night_end(night *n)
{
    stored_as_reference(n);
    json_decref(n->ref);
    ss_store_close(n->s);
    tu_mock_stop(&n->m);
    tu_files_free(n->f);
}

/* Every message once: the alerts stored as a direct ingest stores them, the bad message rejected
 * by name; a consumer of the same group afterwards gets nothing (every offset was committed). */
START_TEST(night_once)
{
    night n;
    if (!night_start(&n, 3, 1))
        return;
    run r;
    run_open(&r, n.s, &n.m, 7);
    ck_assert_uint_eq(run_take(&r, n.total, 30), n.total);
    ss_err err = {0};
    ss_ingest_totals t;
    ck_assert_msg(ss_ingest_finish(r.in, &t, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(t.duplicates, 0);
    ck_assert_uint_eq(t.inputs_failed, 1);
    ss_ingest_free(r.in);
    ss_ingest_kafka_in_close(r.k);
    stored_as_reference(&n);
    rejected_named(n.s);

    /* the same group later: only a message produced since is delivered */
    static const char late[] = "late junk";
    rd_kafka_t *p = tu_kafka_producer(&n.m);
    tu_kafka_produce(p, TOPIC, RD_KAFKA_PARTITION_UA, NULL, 0, late, sizeof late - 1);
    tu_kafka_flush(p);
    run again;
    run_open(&again, n.s, &n.m, 7);
    ck_assert_uint_eq(run_drain(&again, 1500), 1);
    ck_assert_msg(ss_ingest_finish(again.in, &t, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(t.inputs_failed, 1);
    ss_ingest_free(again.in);
    ss_ingest_kafka_in_close(again.k);
    night_end(&n);
}
END_TEST

/* A consumer stopped midway, its buffered alerts lost with it: what it took but did not store is
 * delivered again to the next consumer of the group, and the store ends with every alert once. */
START_TEST(restart_midway)
{
    night n;
    if (!night_start(&n, 2, 0))
        return;
    run a;
    run_open(&a, n.s, &n.m, 10);
    size_t half = n.total / 2 / 10 * 10 + 5; /* five messages past a batch boundary */
    ck_assert_uint_eq(run_take(&a, half, 30), half);
    ss_ingest_totals ta;
    ss_ingest_totals_get(a.in, &ta);
    ck_assert_uint_gt(ss_ingest_pending(a.in), 0);
    ck_assert_uint_gt(ta.ingested, 0);
    ss_ingest_free(a.in); /* the buffered alerts die with it, as in a crash */
    ss_ingest_kafka_in_close(a.k);

    run b;
    run_open(&b, n.s, &n.m, 10);
    size_t second = run_drain(&b, 1500);
    ss_err err = {0};
    ck_assert_msg(ss_ingest_finish(b.in, NULL, &err) == 0, "%s", err.msg);
    ss_ingest_free(b.in);
    ss_ingest_kafka_in_close(b.k);
    /* the lost ones came again, the stored ones did not (but for a message whose alerts a batch
     * commit split: counted as a duplicate, absorbed by the store) */
    ck_assert_uint_gt(half + second, n.total);
    ck_assert_uint_le(half + second, n.total + 10);
    night_end(&n);
}
END_TEST

/* A second consumer joins the group while the first holds alerts not yet committed: the first
 * commits them when it lets its partitions go (or, when the rebalancing group refuses the offsets,
 * they are read again); the store ends as a direct ingest, each alert once. */
START_TEST(rebalance_two)
{
    night n;
    if (!night_start(&n, 4, 0))
        return;
    run a, b;
    run_open(&a, n.s, &n.m, 1000); /* nothing commits by itself: only the revocation */
    size_t na = run_take(&a, 5, 30), nb = 0;
    ck_assert_uint_eq(na, 5);
    ck_assert_uint_eq(ss_ingest_pending(a.in), 5);
    run_open(&b, n.s, &n.m, 1000);
    /* both polled in turn until B has had messages and neither gets any for 1.5 s */
    time_t end = time(NULL) + 40;
    int quiet = 0;
    while (time(NULL) < end && (!nb || quiet < 15)) {
        unsigned ga = 0, gb = 0;
        ss_err err = {0};
        ck_assert_msg(ss_ingest_kafka_in_poll(a.k, a.in, 3, 50, NULL, &ga, &err) == 0, "%s",
                      err.msg);
        ck_assert_msg(ss_ingest_kafka_in_poll(b.k, b.in, 3, 50, NULL, &gb, &err) == 0, "%s",
                      err.msg);
        na += ga;
        nb += gb;
        quiet = ga || gb ? 0 : quiet + 1;
    }
    ck_assert_uint_ge(na + nb, n.total);
    ss_ingest_totals ta;
    ss_ingest_totals_get(a.in, &ta);
    ck_assert_uint_ge(ta.ingested, 5); /* committed by the revocation, not by a full batch */
    ck_assert_uint_gt(nb, 0);
    ss_err err = {0};
    ck_assert_msg(ss_ingest_finish(a.in, NULL, &err) == 0, "%s", err.msg);
    ck_assert_msg(ss_ingest_finish(b.in, NULL, &err) == 0, "%s", err.msg);
    ss_ingest_free(a.in);
    ss_ingest_free(b.in);
    ss_ingest_kafka_in_close(a.k);
    ss_ingest_kafka_in_close(b.k);
    night_end(&n);
}
END_TEST

/* Every file to partition (its index % 2), and the files of each partition. @return produced. */
static size_t produce_split(const tu_mock *m, const tu_files *f, tu_files *part)
{
    rd_kafka_t *p = tu_kafka_producer(m);
    for (size_t i = 0; i < f->n; i++) {
        size_t len;
        void *buf = tu_read_file(f->path[i], &len);
        tu_kafka_produce(p, TOPIC, (int32_t)(i % 2), NULL, 0, buf, len);
        free(buf);
        tu_files *to = &part[i % 2];
        to->path = realloc(to->path, (to->n + 1) * sizeof *to->path);
        ck_assert_ptr_nonnull(to->path);
        to->path[to->n++] = f->path[i]; /* borrowed from f */
    }
    tu_kafka_flush(p);
    return f->n;
}

/* Static assignment: two instances, one partition each, each get exactly their partition's
 * messages (their stores equal a direct ingest of those files); the first, stopped midway with
 * alerts it had not committed, resumes from the group's committed offset. */
START_TEST(static_partitions)
{
    tu_files *f = ztf_files();
    if (!f)
        return;
    tu_mock m;
    mock_start(&m, 2);
    tu_files part[2] = {{0}};
    produce_split(&m, f, part);
    json_t *ref0 = reference_named(&part[0], "reference-0");
    json_t *ref1 = reference_named(&part[1], "reference-1");
    ss_store *s0 = open_store("zero"), *s1 = open_store("one");
    run a, b;
    run_open_parts(&a, s0, &m, 10, "0");
    size_t half = part[0].n / 2 / 10 * 10 + 5; /* five past a batch boundary: lost in a crash */
    ck_assert_uint_eq(run_take(&a, half, 30), half);
    ck_assert_uint_gt(ss_ingest_pending(a.in), 0);
    ss_ingest_free(a.in);
    ss_ingest_kafka_in_close(a.k);
    run_open_parts(&a, s0, &m, 10, " 0 ");
    size_t rest = run_drain(&a, 1500);
    ck_assert_uint_ge(half + rest, part[0].n + 5);  /* the lost five came again ... */
    ck_assert_uint_le(half + rest, part[0].n + 10); /* ... and no more than a batch */
    run_open_parts(&b, s1, &m, 10, "1");
    ck_assert_uint_eq(run_drain(&b, 1500), part[1].n);
    ss_err err = {0};
    ck_assert_msg(ss_ingest_finish(a.in, NULL, &err) == 0, "%s", err.msg);
    ck_assert_msg(ss_ingest_finish(b.in, NULL, &err) == 0, "%s", err.msg);
    ss_ingest_free(a.in), ss_ingest_free(b.in);
    ss_ingest_kafka_in_close(a.k), ss_ingest_kafka_in_close(b.k);
    json_t *got0 = stats(s0), *got1 = stats(s1);
    same_alerts(ref0, got0);
    same_alerts(ref1, got1);
    json_decref(got0), json_decref(got1), json_decref(ref0), json_decref(ref1);
    ss_store_close(s0), ss_store_close(s1);
    free(part[0].path), free(part[1].path);
    tu_mock_stop(&m);
    tu_files_free(f);
}
END_TEST

/* Each bad setting is refused naming the key and the reason; no cluster is needed. */
START_TEST(conf_errors)
{
    ss_ingest_kafka_in_conf c = {0};
    ss_err err = {0};
    ck_assert_int_eq(ss_ingest_kafka_in_conf_set(&c, "topic", "x", &err), SS_EINVAL);
    ck_assert_msg(strstr(err.msg, "topic: unknown key"), "%s", err.msg);
    ck_assert_int_eq(ss_ingest_kafka_in_conf_set(&c, "format", "lsst", &err), SS_EINVAL);
    ck_assert_msg(strstr(err.msg, "format=lsst: unknown"), "%s", err.msg);
    ck_assert_int_eq(ss_ingest_kafka_in_conf_set(&c, "rdkafka.enable.auto.commit", "true", &err),
                     SS_EINVAL);
    ck_assert_msg(strstr(err.msg, "not settable"), "%s", err.msg);
    ck_assert_int_eq(ss_ingest_kafka_in_conf_set(&c, "rdkafka.", "x", &err), SS_EINVAL);
    static const char *const bad_parts[] = {"", "0,", "1,x", "-1", "0,2,0", "4294967296", "1 2"};
    for (size_t i = 0; i < sizeof bad_parts / sizeof *bad_parts; i++) {
        ck_assert_int_eq(ss_ingest_kafka_in_conf_set(&c, "partitions", bad_parts[i], &err),
                         SS_EINVAL);
        ck_assert_msg(strstr(err.msg, "[input kafka] partitions=") &&
                          strstr(err.msg, bad_parts[i]) &&
                          strstr(err.msg, i == 4 ? "named twice" : "not a list"),
                      "%s: %s", bad_parts[i], err.msg);
    }
    ck_assert_int_eq(ss_ingest_kafka_in_conf_set(&c, "partitions", " 0, 2 ,5", &err), 0);
    ck_assert_uint_eq(c.nparts, 3);
    ck_assert_int_eq(c.parts[2], 5);

    ss_ingest_kafka_in *k = NULL;
    ck_assert_int_eq(ss_ingest_kafka_in_open(&c, NULL, &k, &err), SS_EINVAL);
    ck_assert_msg(strstr(err.msg, "brokers: missing"), "%s", err.msg);
    ck_assert_int_eq(ss_ingest_kafka_in_conf_set(&c, "brokers", "127.0.0.1:1", &err), 0);
    ck_assert_int_eq(ss_ingest_kafka_in_conf_set(&c, "topics", " , ", &err), 0);
    ck_assert_int_eq(ss_ingest_kafka_in_open(&c, NULL, &k, &err), SS_EINVAL);
    ck_assert_msg(strstr(err.msg, "group: missing"), "%s", err.msg);
    ck_assert_int_eq(ss_ingest_kafka_in_conf_set(&c, "group", "g", &err), 0);
    ck_assert_int_eq(ss_ingest_kafka_in_open(&c, NULL, &k, &err), SS_EINVAL); /* no topic named */
    ck_assert_msg(strstr(err.msg, "topics= , : no topic named"), "%s", err.msg);
    ck_assert_int_eq(ss_ingest_kafka_in_conf_set(&c, "topics", "t", &err), 0);
    ck_assert_int_eq(ss_ingest_kafka_in_conf_set(&c, "format", "rubin", &err), 0);
    ck_assert_int_eq(ss_ingest_kafka_in_open(&c, NULL, &k, &err), SS_EINVAL);
    ck_assert_msg(strstr(err.msg, "format=rubin: needs the schema directory"), "%s", err.msg);
    ck_assert_int_eq(
        ss_ingest_kafka_in_conf_set(&c, "rdkafka.security.protocol", "carrier-pigeon", &err), 0);
    ck_assert_int_eq(ss_ingest_kafka_in_open(&c, "/schemas", &k, &err), SS_EINVAL);
    ck_assert_msg(strstr(err.msg, "rdkafka.security.protocol:"), "%s", err.msg);
    ck_assert_ptr_null(k);
    /* a valid one: SASL over SSL as the survey streams ask, set but not connected */
    ck_assert_int_eq(ss_ingest_kafka_in_conf_set(&c, "rdkafka.security.protocol", "SASL_SSL", &err),
                     0);
    ck_assert_int_eq(
        ss_ingest_kafka_in_conf_set(&c, "rdkafka.sasl.mechanisms", "SCRAM-SHA-512", &err), 0);
    ck_assert_int_eq(ss_ingest_kafka_in_conf_set(&c, "rdkafka.sasl.username", "u", &err), 0);
    ck_assert_int_eq(ss_ingest_kafka_in_conf_set(&c, "rdkafka.sasl.password", "p", &err), 0);
    ck_assert_msg(ss_ingest_kafka_in_open(&c, "/schemas", &k, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(ss_ingest_kafka_in_decoder(k), "avro");
    ck_assert_uint_eq(ss_ingest_kafka_in_pending(k), 0);
    ss_ingest_kafka_in_close(k);
    ss_ingest_kafka_in_conf_free(&c);
    ck_assert_ptr_null(c.brokers);
}
END_TEST

Suite *kafka_suite(void)
{
    Suite *s = suite_create("kafka_in");
    TCase *tc = tcase_create("mock");
    tcase_add_checked_fixture(tc, tu_tmp_setup, tu_tmp_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, night_once);
    tcase_add_test(tc, conf_errors);
    tcase_add_test(tc, rebalance_two);
    tcase_add_test(tc, restart_midway);
    tcase_add_test(tc, static_partitions);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(kafka_suite());
}
