/*
 * The Kafka output (plugins/output_kafka) against librdkafka's built-in mock cluster: no Kafka
 * server needed. Messages are consumed back with an rdkafka consumer.
 */
#include "testutil.h"
#include "tu_kafka.h"

#include "broker.h"
#include "publish.h"

#include <check.h>
#include <jansson.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <nanomsg/nn.h>
#include <nanomsg/pubsub.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The running test's mock cluster; its handles log nothing (the test's own output stays readable).
 */
static tu_mock mock;

static int kafka_open(const ss_output_kv *kv, size_t n, void **impl, ss_err *err)
{
    const ss_output_ops *ops = ss_output_named("kafka");
    ck_assert(ops && ops->open_conf);
    ss_output_conf c = {"test.ini", "kafka", kv, n};
    return ops->open_conf(&c, impl, err);
}

/* Poll until @p n deliveries are acknowledged (or 10 s). */
static void wait_delivered(void *impl, uint64_t n)
{
    const ss_output_ops *ops = ss_output_named("kafka");
    ss_output_stats st = {0};
    for (int i = 0; i < 1000 && st.delivered < n; i++) {
        ops->poll(impl);
        ops->stats(impl, &st);
        if (st.delivered < n)
            usleep(10000);
    }
    ck_assert_msg(st.delivered == n, "delivered %llu of %llu (failed %llu: %s)",
                  (unsigned long long)st.delivered, (unsigned long long)n,
                  (unsigned long long)st.failed, st.last_error);
    ck_assert_uint_eq(st.failed, 0);
}

typedef struct got {
    char key[64], value[4096];
} got;

/* Read @p n messages of @p topic (partition 0) from the start. @return how many came. */
static size_t consume(const char *topic, got *out, size_t n)
{
    size_t k = 0;
    tu_kafka_msg *m = tu_kafka_read(&mock, topic, 1, n, &k, NULL);
    for (size_t i = 0; i < k; i++) {
        snprintf(out[i].key, sizeof out[i].key, "%s", m[i].key);
        snprintf(out[i].value, sizeof out[i].value, "%s", m[i].value);
    }
    tu_kafka_msgs_free(m, k);
    return k;
}

START_TEST(one_topic_per_tag_keyed_by_locus)
{
    tu_mock_start(&mock, 1);
    tu_mock_topic(&mock, "sks.jump", 1);
    tu_mock_topic(&mock, "sks.new_star", 1);
    ss_output_kv kv[] = {{"brokers", mock.bootstraps}, {"topic_template", "sks.{tag}"}};
    void *impl;
    ss_err err = {0};
    ck_assert_msg(kafka_open(kv, 2, &impl, &err) == 0, "%s", err.msg);
    const ss_output_ops *ops = ss_output_named("kafka");
    ck_assert_int_eq(ops->publish(impl, "jump", "L1", "{\"n\":1}", 7, &err), 0);
    /* '/' is not allowed in a topic name: it becomes '_' */
    ck_assert_int_eq(ops->publish(impl, "new/star", "L2", "{\"n\":2}", 7, &err), 0);
    ck_assert_int_eq(ops->publish(impl, "jump", "L1", "{\"n\":3}", 7, &err), 0);
    wait_delivered(impl, 3);
    ops->close(impl);
    got g[3] = {0};
    ck_assert_uint_eq(consume("sks.jump", g, 2), 2);
    ck_assert_str_eq(g[0].key, "L1");
    ck_assert_str_eq(g[0].value, "{\"n\":1}");
    ck_assert_str_eq(g[1].key, "L1");
    ck_assert_str_eq(g[1].value, "{\"n\":3}");
    ck_assert_uint_eq(consume("sks.new_star", g, 1), 1);
    ck_assert_str_eq(g[0].key, "L2");
    ck_assert_str_eq(g[0].value, "{\"n\":2}");
    tu_mock_stop(&mock);
}
END_TEST

/* Through the broker's fan-out: nanomsg and Kafka carry the same bytes. */
START_TEST(kafka_and_nanomsg_carry_the_same_json)
{
    tu_mock_start(&mock, 1);
    tu_mock_topic(&mock, "skysieve.jump", 1);
    ss_publish_set set = {0};
    ss_err err = {0};
    void *impl;
    const char *addr = "inproc://kafka-test";
    const ss_output_ops *nn_ops = ss_output_for(addr);
    ck_assert(nn_ops);
    ck_assert_msg(nn_ops->open(addr, &impl, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(ss_publish_set_add(&set, nn_ops, impl, &err), 0);
    ss_output_kv kv[] = {{"brokers", mock.bootstraps}};
    ck_assert_msg(kafka_open(kv, 1, &impl, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(ss_publish_set_add(&set, ss_output_named("kafka"), impl, &err), 0);
    int sub = nn_socket(AF_SP, NN_SUB);
    ck_assert(sub >= 0 && nn_setsockopt(sub, NN_SUB, NN_SUB_SUBSCRIBE, "", 0) == 0);
    ck_assert(nn_connect(sub, addr) >= 0);
    usleep(50000);
    const char *json = "{\"tag\":\"jump\",\"locus\":{\"id\":\"SS1\"}}";
    ck_assert_msg(ss_publish_set_ops.publish(&set, "jump", "SS1", json, strlen(json), &err) == 0,
                  "%s", err.msg);
    char *buf = NULL;
    int len = nn_recv(sub, &buf, NN_MSG, 0);
    ck_assert_int_eq(len, (int)(5 + strlen(json)));
    ck_assert_mem_eq(buf + 5, json, strlen(json));
    nn_freemsg(buf);
    nn_close(sub);
    wait_delivered(set.impl[1], 1);
    ss_publish_set_close(&set);
    got g[1] = {0};
    ck_assert_uint_eq(consume("skysieve.jump", g, 1), 1);
    ck_assert_str_eq(g[0].value, json);
    ck_assert_str_eq(g[0].key, "SS1");
    tu_mock_stop(&mock);
}
END_TEST

/* A full local queue drops (and counts) instead of blocking; what close cannot flush is failed. */
START_TEST(a_full_queue_drops_without_blocking)
{
    ss_output_kv kv[] = {{"brokers", "127.0.0.1:1"},
                         {"queue_max", "1"},
                         {"flush_timeout", "0"},
                         {"rdkafka.log_level", "0"}};
    void *impl;
    ss_err err = {0};
    ck_assert_msg(kafka_open(kv, 4, &impl, &err) == 0, "%s", err.msg);
    const ss_output_ops *ops = ss_output_named("kafka");
    ck_assert_int_eq(ops->publish(impl, "jump", "L1", "a", 1, &err), 0);
    ck_assert_int_eq(ops->publish(impl, "jump", "L1", "b", 1, &err), SS_EFULL);
    ck_assert_msg(strstr(err.msg, "dropped") && strstr(err.msg, "skysieve.jump"), "%s", err.msg);
    ss_output_stats st;
    ops->stats(impl, &st);
    ck_assert_uint_eq(st.dropped, 1);
    ck_assert_uint_eq(st.queued, 1);
    ops->close(impl);
}
END_TEST

static void bad(const char *key, const char *value, const char *why)
{
    ss_output_kv kv[] = {{"brokers", "127.0.0.1:9092"}, {key, value}};
    void *impl = NULL;
    ss_err err = {0};
    ck_assert_int_eq(kafka_open(kv, 2, &impl, &err), SS_EINVAL);
    ck_assert_msg(strstr(err.msg, "test.ini: [output kafka] ") && strstr(err.msg, key) &&
                      strstr(err.msg, why),
                  "%s = %s: %s", key, value, err.msg);
}

START_TEST(bad_configuration_names_file_key_and_reason)
{
    bad("topic_template", "skysieve.{tga}", "only placeholder is {tag}");
    bad("topic_template", "skysieve.all", "must contain {tag}");
    bad("topic_template", "sky sieve.{tag}", "letters, digits");
    bad("queue_max", "0", "1 to 10000000");
    bad("flush_timeout", "soon", "seconds");
    bad("colour", "blue", "unknown key");
    bad("rdkafka.no.such.property", "1", "No such configuration property");
    bad("rdkafka.security.protocol", "carrier_pigeon", "Invalid value");
    bad("rdkafka.bootstrap.servers", "x:1", "use brokers");
    bad("brokers", "", "empty");
    ss_output_kv none[] = {{"topic_template", "a.{tag}"}};
    void *impl = NULL;
    ss_err err = {0};
    ck_assert_int_eq(kafka_open(none, 1, &impl, &err), SS_EINVAL);
    ck_assert_msg(strstr(err.msg, "brokers = host:port,... is missing"), "%s", err.msg);
}
END_TEST

/* Security settings pass through to librdkafka. */
START_TEST(rdkafka_properties_pass_through)
{
    ss_output_kv kv[] = {
        {"brokers", "127.0.0.1:1"},          {"rdkafka.security.protocol", "sasl_plaintext"},
        {"rdkafka.sasl.mechanism", "PLAIN"}, {"rdkafka.sasl.username", "u"},
        {"rdkafka.sasl.password", "p"},      {"flush_timeout", "0"}};
    void *impl;
    ss_err err = {0};
    ck_assert_msg(kafka_open(kv, 6, &impl, &err) == 0, "%s", err.msg);
    ss_output_named("kafka")->close(impl);
}
END_TEST

START_TEST(broker_conf_reads_output_sections)
{
    char *ini = tu_write(tu_tmp, "b.ini",
                         "[output kafka]\nbrokers = h:9092\ntopic_template = t.{tag}\n"
                         "rdkafka.security.protocol = ssl\n");
    ss_broker_conf c;
    ss_err err = {0};
    ck_assert_msg(ss_broker_conf_load(ini, &c, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(c.noutputs, 1);
    ck_assert_str_eq(c.outputs[0].name, "kafka");
    ck_assert_uint_eq(c.outputs[0].n, 3);
    ck_assert_str_eq(c.outputs[0].kv[2].key, "rdkafka.security.protocol");
    ck_assert_str_eq(c.outputs[0].kv[2].value, "ssl");
    ck_assert_ptr_null(c.publish);
    ss_broker_conf_free(&c);
    free(ini);
    ini = tu_write(tu_tmp, "c.ini", "[output kafak]\nbrokers = h:9092\n");
    ck_assert_int_eq(ss_broker_conf_load(ini, &c, &err), SS_EINVAL);
    ck_assert_msg(strstr(err.msg, "c.ini: [output kafak]: no such output"), "%s", err.msg);
    free(ini);
}
END_TEST

/* ---- end to end: skysieve run with [output kafka] at the mock cluster ---- */

static const char every_lua[] =
    "NAME = \"every\"\nDESCRIPTION = \"tags every locus\"\nAUTHOR = \"t <t@example.org>\"\n"
    "OUTPUT_TAGS = {{name = \"seen\", description = \"every locus\"}}\n"
    "function run(locus) locus:tag(\"seen\") end\n";

/* The broker of the end-to-end test, stopped by the fixture when a check fails before it is. */
static pid_t broker_pid;

static void broker_teardown(void)
{
    if (broker_pid > 0) {
        kill(broker_pid, SIGKILL);
        waitpid(broker_pid, NULL, 0);
        broker_pid = 0;
    }
    tu_tmp_teardown();
}

/* outputs.kafka of `ctl status`, polled until @p delivered (or 20 s); the caller owns it. */
static json_t *kafka_status(const char *conf, long delivered)
{
    json_t *k = NULL;
    for (int i = 0; i < 200; i++) {
        char *out = NULL;
        json_decref(k);
        k = NULL;
        if (tu_sks(&out, NULL, "ctl --config '%s' --timeout 2 status", conf) == 0) {
            json_t *r = json_loads(out, 0, NULL);
            k = json_incref(
                json_object_get(json_object_get(json_object_get(r, "status"), "outputs"), "kafka"));
            json_decref(r);
        }
        free(out);
        if (k && json_integer_value(json_object_get(k, "delivered")) >= delivered)
            break;
        usleep(100000);
    }
    return k;
}

START_TEST(skysieve_run_publishes_to_kafka)
{
    tu_mock_start(&mock, 1);
    tu_mock_topic(&mock, "sks.seen", 1);
    free(tu_write(tu_tmp, "every.lua", every_lua));
    free(tu_write(tu_tmp, "set.ini", "[filter every]\npath = every.lua\n"));
    char *text = NULL;
    ck_assert_int_ge(asprintf(&text,
                              "[broker]\nstore = store\nrun_dir = run\nmap_size = 64M\n"
                              "[input spool]\ndir = spool\npoll = 0.05\n"
                              "[filters]\nset = set.ini\n"
                              "[output kafka]\nbrokers = %s\ntopic_template = sks.{tag}\n",
                              mock.bootstraps),
                     0);
    char *conf = tu_write(tu_tmp, "broker.ini", text);
    free(text);
    char *spool = tu_path(tu_tmp, "spool");
    ck_assert_int_eq(mkdir(spool, 0755), 0);
    pid_t pid = broker_pid = tu_sks_run(conf);
    /* two alerts on one locus, one on another: three events, two keys */
    char *part = tu_write(tu_tmp, "spool/.a.part",
                          "alert_id,ra,dec,mjd,passband,mag,magerr\n"
                          "a1,150.0,-5.0,60000.1,g,18.0,0.05\n"
                          "b1,151.0,-5.0,60000.2,g,18.0,0.05\n"
                          "a2,150.0,-5.0,60000.3,r,18.1,0.05\n");
    char *dst = tu_path(tu_tmp, "spool/a.csv");
    ck_assert_int_eq(rename(part, dst), 0);
    json_t *k = kafka_status(conf, 3);
    ck_assert_msg(k && json_integer_value(json_object_get(k, "delivered")) == 3 &&
                      json_integer_value(json_object_get(k, "failed")) == 0 &&
                      json_integer_value(json_object_get(k, "dropped")) == 0,
                  "outputs.kafka: %s", k ? json_dumps(k, 0) : "(none)");
    json_decref(k);
    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    broker_pid = 0;
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    got g[3] = {0};
    ck_assert_uint_eq(consume("sks.seen", g, 3), 3);
    for (size_t i = 0; i < 3; i++) {
        json_t *j = json_loads(g[i].value, 0, NULL);
        ck_assert_msg(j, "not JSON: %s", g[i].value);
        const char *id =
            json_string_value(json_object_get(json_object_get(j, "locus"), "locus_id"));
        ck_assert_msg(id && !strcmp(id, g[i].key), "key %s, message %s", g[i].key, g[i].value);
        ck_assert_str_eq(json_string_value(json_object_get(j, "tag")), "seen");
        json_decref(j);
    }
    ck_assert_str_ne(g[0].key, g[1].key); /* a1, then b1: two loci */
    ck_assert_str_eq(g[0].key, g[2].key);
    free(part), free(dst), free(spool), free(conf);
    tu_mock_stop(&mock);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kafka_out");
    TCase *tc = tcase_create("kafka");
    tcase_add_checked_fixture(tc, tu_tmp_setup, broker_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, one_topic_per_tag_keyed_by_locus);
    tcase_add_test(tc, kafka_and_nanomsg_carry_the_same_json);
    tcase_add_test(tc, a_full_queue_drops_without_blocking);
    tcase_add_test(tc, bad_configuration_names_file_key_and_reason);
    tcase_add_test(tc, rdkafka_properties_pass_through);
    tcase_add_test(tc, broker_conf_reads_output_sections);
    tcase_add_test(tc, skysieve_run_publishes_to_kafka);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
