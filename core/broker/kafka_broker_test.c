/*
 * `skysieve run` with [input kafka] against librdkafka's mock cluster (in this process): a night
 * of real ZTF alerts and a junk message produced to a topic, the broker stopped midway and
 * started again; the store ends as a direct `skysieve ingest` of the same files, each alert once,
 * every locus tagged and published on [output kafka], the junk message rejected by name.
 */
#include "testutil.h"
#include "tu_kafka.h"

#include <check.h>
#include <fitsio.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TOPIC "ztf_night"

static tu_mock mock;
static pid_t broker_pid; /* killed by the fixture when a check fails while it runs */

static void teardown(void)
{
    if (broker_pid > 0) {
        kill(broker_pid, SIGKILL);
        waitpid(broker_pid, NULL, 0);
        broker_pid = 0;
    }
    tu_mock_stop(&mock);
    tu_tmp_teardown();
}

/* The .avro files one level below shared/ztf, in name order; NULL when the data is absent. */
static tu_files *ztf_files(void)
{
    tu_files *f = tu_data_files("the live broker's Kafka input on real ZTF alerts", "ztf", ".avro");
    if (f)
        ck_assert_uint_gt(f->n, 10);
    return f;
}

/* The files as a shell word list. */
static char *word_list(const tu_files *f)
{
    char *list = strdup(""), *grown = NULL;
    for (size_t i = 0; i < f->n; i++) {
        ck_assert_int_ge(asprintf(&grown, "%s '%s'", list, f->path[i]), 0);
        free(list);
        list = grown;
    }
    return list;
}

/* Files @p from to @p to (excluded), each one message spread over the topic's two partitions,
 * junk after the fifth. */
static void produce(const tu_files *f, int from, int to)
{
    rd_kafka_t *p = tu_kafka_producer(&mock);
    for (int i = from; i < to; i++) {
        size_t len;
        void *buf = tu_read_file(f->path[i], &len);
        ck_assert_uint_lt(len, 1 << 22);
        tu_kafka_produce(p, TOPIC, RD_KAFKA_PARTITION_UA, &i, sizeof i, buf, len);
        free(buf);
        if (i + 1 == 5)
            tu_kafka_produce(p, TOPIC, RD_KAFKA_PARTITION_UA, NULL, 0, "not an alert", 12);
    }
    tu_kafka_flush(p);
}

static void run_broker(const char *conf)
{
    broker_pid = tu_sks_run(conf);
}

/* Poll the status until @p done says so (or 60 s). @return the last status, owned. */
static json_t *wait_for(const char *conf, int (*done)(json_t *, json_int_t), json_int_t arg)
{
    json_t *st = NULL;
    for (int i = 0; i < 600; i++) {
        json_decref(st);
        if ((st = tu_ctl_status(conf)) && done(st, arg))
            break;
        usleep(100000);
    }
    ck_assert_msg(st, "the broker does not answer");
    return st;
}

static int some_messages(json_t *st, json_int_t n)
{
    return tu_json_int(st, "inputs.kafka.messages") >= n;
}

/* Everything stored, dispatched, tagged and delivered, offsets committed. */
static int all_done(json_t *st, json_int_t alerts)
{
    return tu_json_int(st, "stored_alerts") == alerts && tu_json_int(st, "queue") == 0 &&
           tu_json_int(st, "inputs.kafka.pending_partitions") == 0 &&
           tu_json_int(st, "outputs.kafka.delivered") == tu_json_int(st, "published");
}

/* `skysieve stats` of a store, owned by the caller. */
static json_t *stats(const char *store)
{
    char *out = NULL;
    ck_assert_int_eq(tu_sks(&out, NULL, "stats --store '%s'", store), 0);
    json_t *o = json_loads(out, 0, NULL);
    ck_assert_msg(o, "%s", out);
    free(out);
    return o;
}

/* Distinct keys (locus ids) of the tag topic, read from the start of both runs. */
static size_t distinct_tagged(void)
{
    size_t n = 0;
    tu_kafka_msg *g = tu_kafka_read(&mock, "sks.seen", 1, 0, &n, NULL);
    json_t *seen = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(seen, g[i].key, json_true());
    tu_kafka_msgs_free(g, n);
    size_t keys = json_object_size(seen);
    json_decref(seen);
    return keys;
}

static const char every_lua[] =
    "NAME = \"every\"\nDESCRIPTION = \"tags every locus\"\nAUTHOR = \"t <t@example.org>\"\n"
    "OUTPUT_TAGS = {{name = \"seen\", description = \"every locus\"}}\n"
    "function run(locus) locus:tag(\"seen\") end\n";

START_TEST(stopped_midway_every_alert_once)
{
    tu_files *files = ztf_files();
    if (!files)
        return;
    char *list = word_list(files);
    size_t nfiles = files->n;
    char *ref = tu_path(tu_tmp, "reference"), *out = NULL;
    ck_assert_int_eq(tu_sks(&out, NULL, "ingest --store '%s' --radius 1 %s", ref, list), 0);
    free(out);
    json_t *want = stats(ref);

    tu_mock_start(&mock, 1);
    tu_mock_topic(&mock, TOPIC, 2);
    tu_mock_topic(&mock, "sks.seen", 1);
    int half = (int)nfiles / 2;
    produce(files, 0, half);
    free(tu_write(tu_tmp, "every.lua", every_lua));
    free(tu_write(tu_tmp, "set.ini", "[filter every]\npath = every.lua\n"));
    char *text = NULL;
    const char *boot = mock.bootstraps;
    ck_assert_int_ge(asprintf(&text,
                              "[broker]\nstore = store\nrun_dir = run\nmap_size = 64M\n"
                              "batch = 7\nstats_interval = 0\n"
                              "[input kafka]\nbrokers = %s\ntopics = " TOPIC "\ngroup = sks\n"
                              "rdkafka.session.timeout.ms = 4000\n"
                              "rdkafka.heartbeat.interval.ms = 1000\n"
                              "[filters]\nset = set.ini\n"
                              "[output kafka]\nbrokers = %s\ntopic_template = sks.{tag}\n",
                              boot, boot),
                     0);
    char *conf = tu_write(tu_tmp, "broker.ini", text);
    free(text);

    /* the first half (and the junk) taken, then stopped; the rest produced while it is down */
    run_broker(conf);
    json_t *st = wait_for(conf, some_messages, half + 1);
    ck_assert_int_eq(tu_json_int(st, "inputs.kafka.messages"), half + 1);
    ck_assert_int_eq(tu_json_int(st, "inputs.kafka.rejected"), 1);
    ck_assert_int_gt(tu_json_int(st, "inputs.kafka.alerts"), 0);
    json_decref(st);
    tu_broker_stop(&broker_pid);
    produce(files, half, (int)nfiles);
    char *store = tu_path(tu_tmp, "store");
    json_t *mid = stats(store);
    ck_assert_int_lt(tu_json_int(mid, "alerts"),
                     tu_json_int(want, "alerts")); /* stopped midway indeed */
    json_decref(mid);

    run_broker(conf);
    st = wait_for(conf, all_done, tu_json_int(want, "alerts"));
    /* what the first run committed is not read again */
    ck_assert_int_eq(tu_json_int(st, "inputs.kafka.messages"), (json_int_t)nfiles - half);
    ck_assert_int_eq(tu_json_int(st, "inputs.kafka.rejected"), 0);
    ck_assert_msg(all_done(st, tu_json_int(want, "alerts")), "%s", json_dumps(st, JSON_COMPACT));
    ck_assert_int_gt(tu_json_int(st, "published"), 0);
    tu_broker_stop(&broker_pid);
    json_decref(st);

    json_t *got = stats(store);
    ck_assert_int_eq(tu_json_int(got, "alerts"), tu_json_int(want, "alerts"));
    ck_assert_int_eq(tu_json_int(got, "loci"), tu_json_int(want, "loci"));
    ck_assert_int_eq(tu_json_int(got, "detections"), tu_json_int(want, "detections"));
    ck_assert_uint_eq(distinct_tagged(), (size_t)tu_json_int(want, "loci"));
    ck_assert_int_eq(tu_sks(&out, NULL, "rejected --store '%s'", store), 0);
    ck_assert_uint_eq(tu_count_lines(out), 1);
    ck_assert_msg(strstr(out, "kafka topic=" TOPIC " partition="), "%s", out);
    free(out);
    json_decref(got), json_decref(want);
    free(store), free(conf), free(ref), free(list);
    tu_files_free(files);
}
END_TEST

/* A bad [input kafka] key stops the broker at the start, naming the file, the key and why. */
START_TEST(bad_section_named)
{
    char *conf = tu_write(tu_tmp, "broker.ini",
                          "[broker]\nstore = store\nrun_dir = run\n"
                          "[input kafka]\nbrokers = 127.0.0.1:1\ntopics = t\ngroup = g\n"
                          "partitions = 0,x\n");
    char *err = NULL;
    ck_assert_int_ne(tu_sks(NULL, &err, "run --config '%s'", conf), 0);
    ck_assert_msg(strstr(err, "broker.ini: [input kafka] partitions=0,x: not a list"), "%s", err);
    free(err);
    free(conf);
    conf = tu_write(tu_tmp, "broker.ini",
                    "[broker]\nstore = store\nrun_dir = run\n[input kafka]\ntopics = t\n");
    ck_assert_int_ne(tu_sks(NULL, &err, "run --config '%s'", conf), 0);
    ck_assert_msg(strstr(err, "broker.ini: [input kafka] brokers: missing"), "%s", err);
    free(err);
    free(conf);
}
END_TEST

/* Base64 of @p len bytes, owned by the caller. */
static char *b64(const unsigned char *in, size_t len)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *o = malloc(len / 3 * 4 + 5), *p = o;
    ck_assert_ptr_nonnull(o);
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < len ? (unsigned)in[i + 1] << 8 : 0) |
                     (i + 2 < len ? in[i + 2] : 0);
        *p++ = a[v >> 18 & 63];
        *p++ = a[v >> 12 & 63];
        *p++ = i + 1 < len ? a[v >> 6 & 63] : '=';
        *p++ = i + 2 < len ? a[v & 63] : '=';
    }
    *p = 0;
    return o;
}

static int gcn_notices(json_t *st, json_int_t n)
{
    return tu_json_int(st, "inputs.gcn.notices") + tu_json_int(st, "inputs.gcn.refused") >= n;
}

static void produce_notice(const char *type, const char *skymap)
{
    char *text = NULL;
    if (skymap)
        ck_assert_int_ge(asprintf(&text,
                                  "{\"superevent_id\": \"S200129m\", \"alert_type\": \"%s\", "
                                  "\"event\": {\"time\": \"2020-01-29T06:54:58.432Z\", "
                                  "\"far\": 1e-9, \"skymap\": \"%s\"}}",
                                  type, skymap),
                         0);
    else
        ck_assert_int_ge(asprintf(&text,
                                  "{\"superevent_id\": \"S200129m\", \"alert_type\": "
                                  "\"%s\", \"event\": null}",
                                  type),
                         0);
    rd_kafka_t *p = tu_kafka_producer(&mock);
    tu_kafka_produce(p, "igwn.gwalert", 0, NULL, 0, text, strlen(text));
    tu_kafka_flush(p);
    free(text);
}

/* A multi-order sky map of the 12 order-0 pixels, uniform, as a FITS file at @p path. */
static void tiny_map(const char *path)
{
    fitsfile *f;
    int status = 0;
    char *names[] = {"UNIQ", "PROBDENSITY", "DISTMU", "DISTSIGMA", "DISTNORM"};
    char *forms[] = {"K", "D", "D", "D", "D"};
    long long uniq[12];
    double dens[12], mu[12], sigma[12], norm[12];
    for (int i = 0; i < 12; i++)
        uniq[i] = 4 + i, dens[i] = 1 / (4 * M_PI), mu[i] = 900, sigma[i] = 200, norm[i] = 1e-6;
    double mjd = 58877.28817630083;
    fits_create_file(&f, path, &status);
    fits_create_tbl(f, BINARY_TBL, 12, 5, names, forms, NULL, "SKYMAP", &status);
    fits_write_key(f, TSTRING, "ORDERING", "NUNIQ", NULL, &status);
    fits_write_key(f, TSTRING, "OBJECT", "S200129m", NULL, &status);
    fits_write_key(f, TDOUBLE, "MJD-OBS", &mjd, NULL, &status);
    fits_write_col(f, TLONGLONG, 1, 1, 1, 12, uniq, &status);
    fits_write_col(f, TDOUBLE, 2, 1, 1, 12, dens, &status);
    fits_write_col(f, TDOUBLE, 3, 1, 1, 12, mu, &status);
    fits_write_col(f, TDOUBLE, 4, 1, 1, 12, sigma, &status);
    fits_write_col(f, TDOUBLE, 5, 1, 1, 12, norm, &status);
    fits_close_file(f, &status);
    ck_assert_int_eq(status, 0);
}

/* [input gcn]: notices from Kafka store the map, a broken one is set aside, a retraction
 * removes the map; offsets are committed, so a restart reads nothing again. */
START_TEST(gcn_notices_store_and_retract)
{
    char *fits_path = tu_path(tu_tmp, "map.fits");
    tiny_map(fits_path);
    size_t len;
    unsigned char *fits = tu_read_file(fits_path, &len);
    char *map = b64(fits, len);
    free(fits);
    tu_mock_start(&mock, 1);
    tu_mock_topic(&mock, "igwn.gwalert", 1);
    produce_notice("PRELIMINARY", map);
    rd_kafka_t *p = tu_kafka_producer(&mock);
    tu_kafka_produce(p, "igwn.gwalert", 0, NULL, 0, "{not a notice", 13);
    tu_kafka_flush(p);
    char *text = NULL;
    ck_assert_int_ge(asprintf(&text,
                              "[broker]\nstore = store\nrun_dir = run\nmap_size = 64M\n"
                              "stats_interval = 0\n"
                              "[input gcn]\nbrokers = %s\ntopics = igwn.gwalert\ngroup = sks\n"
                              "rdkafka.session.timeout.ms = 4000\n"
                              "rdkafka.heartbeat.interval.ms = 1000\n",
                              mock.bootstraps),
                     0);
    char *conf = tu_write(tu_tmp, "broker.ini", text), *out = NULL;
    free(text);
    char *store = tu_path(tu_tmp, "store");
    run_broker(conf);
    json_t *st = wait_for(conf, gcn_notices, 2);
    ck_assert_int_eq(tu_json_int(st, "inputs.gcn.maps"), 1);
    ck_assert_int_eq(tu_json_int(st, "inputs.gcn.refused"), 1);
    json_decref(st);
    ck_assert_int_eq(tu_sks(&out, NULL, "gw list --store '%s'", store), 0);
    ck_assert_msg(strstr(out, "S200129m  merger MJD 58877.28818"), "%s", out);
    free(out);
    char *failed = tu_path(tu_tmp, "run/failed"), *ls = NULL;
    ck_assert_int_ge(asprintf(&ls, "ls '%s'", failed), 0);
    ck_assert_int_eq(tu_run(ls, &out, NULL), 0);
    free(ls);
    ck_assert_msg(strstr(out, "gcn-kafka_topic_igwn.gwalert_partition_0_offset_1.json"), "%s", out);
    free(out);
    tu_broker_stop(&broker_pid);

    produce_notice("UPDATE", map);
    produce_notice("RETRACTION", NULL);
    run_broker(conf);
    st = wait_for(conf, gcn_notices, 2); /* the first run's two are not read again */
    ck_assert_int_eq(tu_json_int(st, "inputs.gcn.notices"), 2);
    ck_assert_int_eq(tu_json_int(st, "inputs.gcn.retractions"), 1);
    json_decref(st);
    tu_broker_stop(&broker_pid);
    ck_assert_int_eq(tu_sks(&out, NULL, "gw list --store '%s'", store), 0);
    ck_assert_str_eq(out, "");
    free(out);
    free(failed), free(store), free(conf), free(map), free(fits_path);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kafka_broker");
    TCase *tc = tcase_create("run");
    tcase_add_checked_fixture(tc, tu_tmp_setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, bad_section_named);
    tcase_add_test(tc, stopped_midway_every_alert_once);
    tcase_add_test(tc, gcn_notices_store_and_retract);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
