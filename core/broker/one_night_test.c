/*
 * One night, five paths, one answer. The tutorial's kind of simulated night (a jump source and
 * fast transients among constant and periodic stars) goes through
 *   1. skysieve ingest --filters,
 *   2. skysieve replay,
 *   3. skysieve run with the night dropped in the spool as one file (and again with the broker
 *      killed -9 midway and started again),
 *   4. skysieve run fed one exposure per message by skysieve send,
 *   5. skysieve run reading one exposure per message from a Kafka topic (librdkafka's mock
 *      cluster, in this process),
 * and every path must leave the same tags (tag, locus, the alert that set it, its MJD) and the same
 * filter-written properties, compared exactly. tests/filters/asof_probe.lua records on every
 * triggering alert what its run saw: never a measurement after the trigger, and the runs before it
 * on its locus (from its own property, which the previous run wrote).
 */
#include "testutil.h"
#include "tu_kafka.h"

#include "query.h"
#include "store.h"

#include <check.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SOURCES 60
#define TOPIC   "night"
#define PROBE   SS_SOURCE_DIR "/tests/filters/asof_probe.lua"
#define FAST    SS_SOURCE_DIR "/tests/filters/fast.lua"
#define JUMP    SS_SOURCE_DIR "/filters-contrib/jump/jump.lua"

static tu_mock mock;
static pid_t broker_pid; /* killed by the fixture when a check fails while it runs */
static size_t night_alerts, night_exposures;

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

/* ---- the night ---- */

/* The night as one CSV, and cut into one CSV per exposure (e000.csv ...: the alerts sharing an
 * MJD, in time order) under exposures/. */
static void simulate_night(void)
{
    char *out = NULL;
    ck_assert_int_eq(
        tu_sks(&out, NULL, "simulate --sources %d --quiet --out '%s/night.csv'", SOURCES, tu_tmp),
        0);
    free(out);
    char *night = tu_path(tu_tmp, "night.csv"), *dir = tu_path(tu_tmp, "exposures");
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    size_t len;
    char *text = tu_read_file(night, &len), *save = NULL;
    char *header = strtok_r(text, "\n", &save), last[32] = "";
    FILE *f = NULL;
    night_alerts = night_exposures = 0;
    for (char *line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char mjd[32] = ""; /* the sixth column */
        const char *c = line;
        for (int i = 0; i < 5 && c; i++)
            c = strchr(c, ',') ? strchr(c, ',') + 1 : NULL;
        ck_assert_ptr_nonnull(c);
        snprintf(mjd, sizeof mjd, "%.*s", (int)strcspn(c, ","), c);
        if (strcmp(mjd, last)) {
            char name[64];
            if (f)
                fclose(f);
            snprintf(name, sizeof name, "%s/e%03zu.csv", dir, night_exposures++);
            ck_assert_ptr_nonnull(f = fopen(name, "w"));
            fprintf(f, "%s\n", header);
            snprintf(last, sizeof last, "%s", mjd);
        }
        fprintf(f, "%s\n", line);
        night_alerts++;
    }
    if (f)
        fclose(f);
    ck_assert_uint_gt(night_exposures, 10);
    free(text), free(night), free(dir);
    free(tu_write(tu_tmp, "set.ini",
                  "[filter probe]\npath = " PROBE "\npriority = 1\n"
                  "[filter jump]\npath = " JUMP "\npriority = 2\n"
                  "[filter fast]\npath = " FAST "\npriority = 3\n"));
}

/* ---- what a path left ---- */

/* Every locus of @p store as `skysieve locus` shows it, keyed by its survey object id, the tags'
 * wall-clock times left out: what every path must agree on. */
static json_t *night_of(const char *store)
{
    ss_store *s;
    ss_err err = {0};
    ss_store_options o = {.readonly = 1};
    ck_assert_msg(ss_store_open(store, &o, &s, &err) == 0, "%s", err.msg);
    char *list = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&list, &len);
    ck_assert_int_eq(ss_query_loci(s, mem, &err), 0);
    fclose(mem);
    json_t *night = json_object();
    for (char *line = strtok(list, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *sum = json_loads(line, 0, NULL), *l = NULL, *t;
        const char *id = json_string_value(json_object_get(sum, "locus_id"));
        ck_assert_msg(ss_query_locus(s, id, NULL, &l, &err) == 0, "%s", err.msg);
        size_t i;
        json_array_foreach(json_object_get(l, "tags"), i, t) json_object_del(t, "time");
        const char *obj = json_string_value(json_object_get(sum, "sim_object_id"));
        ck_assert_ptr_nonnull(obj);
        ck_assert_ptr_null(json_object_get(night, obj)); /* one locus per source */
        json_object_set_new(night, obj, l);
        json_decref(sum);
    }
    free(list);
    ss_store_close(s);
    return night;
}

/* The first member of two objects that differs, as "name: want != got" (short enough to read). */
static void first_difference(json_t *want, json_t *got, char *out, size_t cap)
{
    const char *k;
    json_t *v;
    json_object_foreach(want, k, v)
    {
        json_t *o = json_object_get(got, k);
        if (json_equal(v, o))
            continue;
        if (json_is_object(v) && json_is_object(o))
            return first_difference(v, o, out, cap);
        char *a = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        char *b = o ? json_dumps(o, JSON_ENCODE_ANY | JSON_COMPACT) : strdup("(absent)");
        snprintf(out, cap, "%s: %.300s != %.300s", k, a, b);
        free(a), free(b);
        return;
    }
    snprintf(out, cap, "a member only the second has");
}

static void same_night(json_t *want, json_t *got, const char *path)
{
    const char *obj;
    json_t *l;
    ck_assert_uint_eq(json_object_size(got), json_object_size(want));
    json_object_foreach(want, obj, l)
    {
        json_t *other = json_object_get(got, obj), *a = NULL, *b = NULL;
        char what[800] = "the locus is missing";
        if (json_equal(l, other))
            continue;
        json_t *alerts = json_object_get(l, "alerts");
        size_t i = 0; /* the first alert that differs, if one does */
        for (; other && i < json_array_size(alerts); i++)
            if (!json_equal(a = json_array_get(alerts, i),
                            b = json_array_get(json_object_get(other, "alerts"), i)))
                break;
        if (other && i < json_array_size(alerts))
            first_difference(a, b, what, sizeof what);
        else if (other)
            first_difference(l, other, what, sizeof what);
        ck_abort_msg("%s: source %s differs: %s", path, obj, what);
    }
}

static double prop_num(json_t *props, const char *name)
{
    json_t *v = json_object_get(props, name);
    ck_assert_msg(json_is_number(v), "no property %s", name);
    return json_number_value(v);
}

/* What the probe recorded: each run saw its trigger as the newest measurement, exactly the
 * measurements before it, and its locus's earlier runs. */
static void probe_saw_no_future(json_t *night)
{
    const char *obj;
    json_t *l, *a;
    size_t runs = 0;
    json_object_foreach(night, obj, l)
    {
        size_t i;
        json_array_foreach(json_object_get(l, "alerts"), i, a)
        {
            json_t *p = json_object_get(a, "properties");
            double mjd = json_number_value(json_object_get(a, "mjd"));
            ck_assert_double_eq(prop_num(p, "probe_newest_mjd"), mjd);
            ck_assert_int_eq((json_int_t)prop_num(p, "probe_seen"), (json_int_t)i + 1);
            ck_assert_int_eq((json_int_t)prop_num(p, "probe_alerts"), (json_int_t)i + 1);
            ck_assert_int_eq((json_int_t)prop_num(p, "probe_num_alerts"), (json_int_t)i + 1);
            ck_assert_int_eq((json_int_t)prop_num(p, "probe_runs_before"), (json_int_t)i);
            runs++;
        }
        ck_assert_int_eq((json_int_t)prop_num(json_object_get(l, "properties"), "probe_runs"),
                         (json_int_t)json_array_size(json_object_get(l, "alerts")));
    }
    ck_assert_uint_eq(runs, night_alerts);
}

static int tagged(json_t *night, const char *tag)
{
    const char *obj;
    json_t *l, *t;
    int n = 0;
    json_object_foreach(night, obj, l)
    {
        size_t i;
        json_array_foreach(json_object_get(l, "tags"), i, t) n +=
            !strcmp(json_string_value(json_object_get(t, "tag")), tag);
    }
    return n;
}

/* ---- the broker paths ---- */

/* Poll until @p stored alerts are stored (and, with @p drained, dispatched), 120 s at most. */
static void wait_stored(const char *conf, json_int_t stored, int drained)
{
    json_t *st = NULL;
    for (int i = 0; i < 1200; i++) {
        json_decref(st);
        st = tu_ctl_status(conf);
        if (st && tu_json_int(st, "stored_alerts") >= stored &&
            (!drained || tu_json_int(st, "queue") == 0))
            break;
        usleep(100000);
    }
    ck_assert_msg(st && tu_json_int(st, "stored_alerts") >= stored &&
                      (!drained || !tu_json_int(st, "queue")),
                  "the broker did not get there: %s", st ? json_dumps(st, 0) : "(no answer)");
    json_decref(st);
}

/* Stop the broker, then what its store holds. */
static json_t *stopped_night(const char *name)
{
    tu_broker_stop(&broker_pid);
    char *store = NULL;
    ck_assert_int_ge(asprintf(&store, "%s/%s.store", tu_tmp, name), 0);
    json_t *n = night_of(store);
    free(store);
    return n;
}

/* A broker configuration for path @p name, with @p input its input section. */
static char *broker_conf(const char *name, const char *input)
{
    char *text = NULL, *file = NULL;
    ck_assert_int_ge(asprintf(&text,
                              "[broker]\nstore = %s.store\nrun_dir = %s.run\nmap_size = 64M\n"
                              "radius = 5\nbatch = 500\nstats_interval = 0\n"
                              "[control]\naddress = ipc://%s/%s.ctl\n"
                              "%s\n[filters]\nset = set.ini\nworkers = 2\n",
                              name, name, tu_tmp, name, input),
                     0);
    ck_assert_int_ge(asprintf(&file, "%s.ini", name), 0);
    char *conf = tu_write(tu_tmp, file, text);
    free(text), free(file);
    return conf;
}

/* The night dropped in the spool as one file (renamed in, as the spool wants). */
static void drop_night(const char *name)
{
    char *spool = NULL, *tmp = NULL, *to = NULL, *out = NULL;
    ck_assert_int_ge(asprintf(&spool, "%s/%s.spool", tu_tmp, name), 0);
    ck_assert_int_ge(asprintf(&tmp, "%s/.night.csv", spool), 0);
    ck_assert_int_ge(asprintf(&to, "%s/night.csv", spool), 0);
    for (int i = 0; i < 100 && access(spool, F_OK); i++) /* the broker makes it when it starts */
        usleep(100000);
    char *cmd = NULL;
    ck_assert_int_ge(asprintf(&cmd, "cp '%s/night.csv' '%s'", tu_tmp, tmp), 0);
    ck_assert_int_eq(tu_run(cmd, NULL, NULL), 0);
    ck_assert_int_eq(rename(tmp, to), 0);
    free(spool), free(tmp), free(to), free(out), free(cmd);
}

static char *spool_conf(const char *name)
{
    char *input = NULL;
    ck_assert_int_ge(asprintf(&input, "[input spool]\ndir = %s.spool\npoll = 0.05", name), 0);
    char *conf = broker_conf(name, input);
    free(input);
    return conf;
}

static json_t *path_spool(void)
{
    char *conf = spool_conf("spool");
    broker_pid = tu_sks_run(conf);
    drop_night("spool");
    wait_stored(conf, (json_int_t)night_alerts, 1);
    free(conf);
    return stopped_night("spool");
}

/* The spool path with the broker killed (-9) once part of the night is stored. */
static json_t *path_spool_killed(void)
{
    char *conf = spool_conf("killed");
    broker_pid = tu_sks_run(conf);
    drop_night("killed");
    wait_stored(conf, (json_int_t)night_alerts / 3, 0);
    kill(broker_pid, SIGKILL);
    waitpid(broker_pid, NULL, 0);
    broker_pid = tu_sks_run(conf);
    wait_stored(conf, (json_int_t)night_alerts, 1);
    free(conf);
    return stopped_night("killed");
}

static json_t *path_send(void)
{
    char *input = NULL, *out = NULL;
    ck_assert_int_ge(asprintf(&input, "[input pull]\naddress = ipc://%s/pull.ipc", tu_tmp), 0);
    char *conf = broker_conf("send", input);
    broker_pid = tu_sks_run(conf);
    for (int i = 0; i < 100; i++) { /* the pull socket is bound once the control one answers */
        json_t *st = tu_ctl_status(conf);
        json_decref(st);
        if (st)
            break;
        usleep(100000);
    }
    ck_assert_int_eq(
        tu_sks(&out, NULL, "send ipc://%s/pull.ipc %s/exposures/*.csv", tu_tmp, tu_tmp), 0);
    wait_stored(conf, (json_int_t)night_alerts, 1);
    free(conf), free(input), free(out);
    return stopped_night("send");
}

static json_t *path_kafka(void)
{
    tu_mock_start(&mock, 1);
    tu_mock_topic(&mock, TOPIC, 1); /* one partition: a survey's stream in time order */
    rd_kafka_t *p = tu_kafka_producer(&mock);
    for (size_t i = 0; i < night_exposures; i++) {
        char name[64];
        size_t len;
        snprintf(name, sizeof name, "exposures/e%03zu.csv", i);
        char *path = tu_path(tu_tmp, name);
        void *buf = tu_read_file(path, &len);
        tu_kafka_produce(p, TOPIC, 0, NULL, 0, buf, len);
        free(buf), free(path);
    }
    tu_kafka_flush(p);
    char *input = NULL;
    ck_assert_int_ge(
        asprintf(&input,
                 "[input kafka]\nbrokers = %s\ntopics = " TOPIC "\ngroup = sks\n"
                 "format = csv\nrdkafka.session.timeout.ms = 4000\n"
                 "rdkafka.heartbeat.interval.ms = 1000\nrdkafka.fetch.wait.max.ms = 10",
                 mock.bootstraps),
        0);
    char *conf = broker_conf("kafka", input);
    broker_pid = tu_sks_run(conf);
    wait_stored(conf, (json_int_t)night_alerts, 1);
    free(conf), free(input);
    return stopped_night("kafka");
}

/* ---- the CLI paths ---- */

static json_t *path_ingest(void)
{
    char *out = NULL;
    ck_assert_int_eq(
        tu_sks(&out, NULL,
               "ingest --quiet --store %s/ingest.store --radius 5 --filters %s/set.ini "
               "%s/night.csv",
               tu_tmp, tu_tmp, tu_tmp),
        0);
    free(out);
    char *store = tu_path(tu_tmp, "ingest.store");
    json_t *n = night_of(store);
    free(store);
    return n;
}

static json_t *path_replay(void)
{
    char *out = NULL, *err = NULL;
    int rc = tu_sks(&out, &err,
                    "replay --quiet --filters %s/set.ini --radius 5 --store %s/replay.store "
                    "--report %s/report.json %s/night.csv",
                    tu_tmp, tu_tmp, tu_tmp, tu_tmp);
    ck_assert_msg(rc == 0, "%s", err);
    free(out), free(err);
    char *store = tu_path(tu_tmp, "replay.store");
    json_t *n = night_of(store);
    free(store);
    return n;
}

START_TEST(one_night_five_paths_one_answer)
{
    simulate_night();
    json_t *want = path_ingest();
    probe_saw_no_future(want);
    ck_assert_int_ge(tagged(want, "jump"), 1); /* the jump source */
    ck_assert_int_ge(tagged(want, "fast"), 1); /* a transient's rise */
    json_t *got = path_replay();
    same_night(want, got, "replay");
    json_decref(got);
    got = path_spool();
    same_night(want, got, "run, the night as one spool file");
    json_decref(got);
    got = path_send();
    same_night(want, got, "run, send one exposure per message");
    json_decref(got);
    got = path_kafka();
    same_night(want, got, "run, one exposure per Kafka message");
    json_decref(got);
    got = path_spool_killed();
    same_night(want, got, "run, killed -9 midway and started again");
    json_decref(got);
    json_decref(want);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("one_night");
    TCase *tc = tcase_create("paths");
    tcase_add_checked_fixture(tc, tu_tmp_setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, one_night_five_paths_one_answer);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
