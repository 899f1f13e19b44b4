/* Several instances over a partitioned night (README, "Several machines"): a simulated night is
 * produced to a survey topic, re-keyed by sky region with the partitioner (core/partition.h), and
 * consumed by two instances, each with its own store, locus-id space and a static half of the
 * partitions; one more instance reads the survey topic as it came. Every locus, its alerts, its
 * properties and its tags must come out the same, and no locus may be split between the two. */
#include "testutil.h"
#include "tu_http.h"
#include "tu_kafka.h"

#include "filters.h"
#include "ingest.h"
#include "kafka_in.h"
#include "partition.h"
#include "query.h"
#include "simulate.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SURVEY  "survey"
#define REGIONS "regions"
#define NSIDE   "1024" /* pixels of 3.4': many borders in a field of one degree */
#define RADIUS  "2"

/* ---- the mock cluster and the night ---- */

static void mock_start(tu_mock *m)
{
    tu_mock_start(m, 0);
    /* one partition: the survey's stream in time order, as the partitioner keeps it per region
     * (Kafka orders within a partition only, and the MJD a tag is set at follows arrival order) */
    tu_mock_topic(m, SURVEY, 1);
    tu_mock_topic(m, REGIONS, 4);
}

/* Each message to the survey topic, keyed by its first alert id. */
static int produce(void *ctx, const void *msg, size_t len, unsigned alerts, uint64_t first_id,
                   ss_err *err)
{
    (void)alerts, (void)err;
    tu_kafka_produce(ctx, SURVEY, RD_KAFKA_PARTITION_UA, &first_id, sizeof first_id, msg, len);
    return 0;
}

/* A night of about 4,000 ZTF-like alerts in a one-degree field, five alerts to a message (the
 * partitioner splits them by region). @return alerts produced. */
static uint64_t produce_night(const tu_mock *m)
{
    ss_sim_options o;
    ss_sim_options_default(&o);
    memset(o.count, 0, sizeof o.count);
    o.count[SS_SIM_CONSTANT] = 140;
    o.count[SS_SIM_PERIODIC] = 40;
    o.count[SS_SIM_TRANSIENT] = 16;
    o.count[SS_SIM_JUMP] = 4;
    o.epochs = 6;
    o.jump_epoch = 3;
    o.seed = 8;
    o.scatter_arcsec = 0.3;
    o.field_radius = 0.5;
    o.format = SS_SIM_AVRO;
    ss_err err = {0};
    ck_assert_msg(ss_sim_options_check(&o, &err) == 0, "%s", err.msg);
    ss_sim *s = ss_sim_new(&o);
    ck_assert_msg(s && ss_sim_prepare(s, &err) == 0, "%s", err.msg);
    ss_sim_totals t;
    rd_kafka_t *p = tu_kafka_producer(m);
    ck_assert_msg(ss_sim_write_messages(s, 5, produce, p, &t, &err) == 0, "%s", err.msg);
    tu_kafka_flush(p);
    ss_sim_free(s);
    return t.alerts;
}

/* ---- the partitioner ---- */

static ss_partition_counts partition_night(const tu_mock *m)
{
    ss_partition_conf c;
    ss_err err = {0};
    ss_partition_conf_init(&c);
    char *state = tu_path(tu_tmp, "anchors");
    ck_assert_int_eq(ss_ingest_kafka_in_conf_set(&c.in, "brokers", m->bootstraps, &err), 0);
    ck_assert_int_eq(ss_ingest_kafka_in_conf_set(&c.in, "topics", SURVEY, &err), 0);
    ck_assert_int_eq(ss_ingest_kafka_in_conf_set(&c.in, "group", "partitioner", &err), 0);
    ck_assert_int_eq(ss_partition_conf_set(&c, "to", REGIONS, &err), 0);
    ck_assert_int_eq(ss_partition_conf_set(&c, "nside", NSIDE, &err), 0);
    ck_assert_int_eq(ss_partition_conf_set(&c, "radius", RADIUS, &err), 0);
    ck_assert_int_eq(ss_partition_conf_set(&c, "state", state, &err), 0);
    ss_partitioner *p = NULL;
    ck_assert_msg(ss_partition_open(&c, NULL, NULL, &p, &err) == 0, "%s", err.msg);
    ck_assert_msg(ss_partition_run(p, 1, 20000, NULL, &err) == 0, "%s", err.msg);
    ss_partition_counts n;
    ss_partition_counts_get(p, &n);
    ss_partition_close(p);
    ss_partition_conf_free(&c);
    free(state);
    return n;
}

/* ---- instances ---- */

typedef struct instance {
    ss_store *store;
    ss_ingest_kafka_in *k;
    ss_ingest *in;
    ss_filter_set *fs;
} instance;

static void on_commit(void *ctx, const ss_ingest_totals *t)
{
    (void)t;
    ss_ingest_kafka_in_committed(ctx);
}

static const char set_ini[] =
    "[filter jump]\npath = " SS_SOURCE_DIR "/filters-contrib/jump/jump.lua\nsetup.threshold = 2\n"
    "[filter count]\npath = count.lua\n";

/* A property from the light curve and a tag on loci of six detections or more: tags that depend
 * on every alert of a locus being on the same instance. */
static const char count_lua[] =
    "NAME = \"count\"\nVERSION = \"1.0\"\nDESCRIPTION = \"detections of the locus\"\n"
    "AUTHOR = \"test\"\n"
    "OUTPUT_LOCUS_PROPERTIES = {{name = \"n_det\", type = \"int\", description = \"count\"}}\n"
    "OUTPUT_TAGS = {{name = \"well_sampled\", description = \"six detections or more\"}}\n"
    "function run(locus)\n"
    "  local n = locus:alert_count()\n"
    "  locus:set_property(\"n_det\", n)\n"
    "  if n >= 6 then locus:tag(\"well_sampled\") end\n"
    "end\n";

/* An instance: its own store (locus-id space @p number), the filter set, a consumer of @p topic
 * with the static partition list @p parts (NULL: all, by group subscription). */
static void instance_open(instance *x, const tu_mock *m, const char *name, unsigned number,
                          const char *topic, const char *parts)
{
    char *dir = tu_path(tu_tmp, name);
    ss_store_options so = {.create = 1, .radius_arcsec = atof(RADIUS), .instance = number};
    ss_err err = {0};
    ck_assert_msg(ss_store_open(dir, &so, &x->store, &err) == 0, "%s", err.msg);
    free(dir);
    char *set = tu_write(tu_tmp, "set.ini", set_ini);
    free(tu_write(tu_tmp, "count.lua", count_lua));
    ck_assert_msg(ss_filter_set_load(set, &x->fs, &err) == 0, "%s", err.msg);
    free(set);
    ss_ingest_kafka_in_conf c = {0};
    ck_assert_int_eq(ss_ingest_kafka_in_conf_set(&c, "brokers", m->bootstraps, &err), 0);
    ck_assert_int_eq(ss_ingest_kafka_in_conf_set(&c, "topics", topic, &err), 0);
    ck_assert_int_eq(ss_ingest_kafka_in_conf_set(&c, "group", name, &err), 0);
    ck_assert_int_eq(ss_ingest_kafka_in_conf_set(&c, "rdkafka.session.timeout.ms", "4000", &err),
                     0);
    if (parts)
        ck_assert_int_eq(ss_ingest_kafka_in_conf_set(&c, "partitions", parts, &err), 0);
    ck_assert_msg(ss_ingest_kafka_in_open(&c, NULL, &x->k, &err) == 0, "%s", err.msg);
    ss_ingest_kafka_in_conf_free(&c);
    ss_ingest_options o = {.batch_size = 500,
                           .format = ss_ingest_kafka_in_decoder(x->k),
                           .filters = x->fs,
                           .on_commit = on_commit,
                           .ctx = x->k};
    x->in = ss_ingest_new(x->store, &o);
    ck_assert_ptr_nonnull(x->in);
}

/* Poll once; @return the alerts this instance has committed so far. */
static uint64_t instance_step(instance *x)
{
    ss_err err = {0};
    ck_assert_msg(ss_ingest_kafka_in_poll(x->k, x->in, 200, 100, NULL, NULL, &err) == 0, "%s",
                  err.msg);
    ck_assert_msg(ss_ingest_flush(x->in, &err) == 0, "%s", err.msg);
    ss_ingest_kafka_in_committed(x->k);
    ss_ingest_totals t;
    ss_ingest_totals_get(x->in, &t);
    return t.ingested;
}

static void instance_close(instance *x)
{
    ss_err err = {0};
    ck_assert_msg(ss_ingest_finish(x->in, NULL, &err) == 0, "%s", err.msg);
    ss_ingest_kafka_in_committed(x->k);
    ss_ingest_kafka_in_close(x->k);
    ss_ingest_free(x->in);
    ss_filter_set_free(x->fs);
}

/* Run the instances side by side until together they committed @p want alerts (60 s at most). */
static void instances_run(instance *x, int n, uint64_t want)
{
    time_t end = time(NULL) + 60;
    uint64_t got = 0;
    while (got < want && time(NULL) < end) {
        got = 0;
        for (int i = 0; i < n; i++)
            got += instance_step(&x[i]);
    }
    ck_assert_msg(got == want, "the instances stored %llu alerts of %llu", (unsigned long long)got,
                  (unsigned long long)want);
}

/* ---- what came out ---- */

/* Every locus of @p s into @p out, keyed by its alert ids (sorted, joined): its properties and
 * its tags (name, filter, MJD). @return the loci added. */
static size_t loci_by_alerts(ss_store *s, json_t *out, int64_t nside, size_t *straddling)
{
    char *buf = NULL;
    size_t len = 0, n = 0;
    FILE *f = open_memstream(&buf, &len);
    ss_err err = {0};
    ck_assert_int_eq(ss_query_loci(s, f, &err), 0);
    fclose(f);
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"), n++) {
        json_t *row = json_loads(line, 0, NULL), *l = NULL, *a;
        ck_assert_msg(ss_query_locus(s, json_string_value(json_object_get(row, "locus_id")), NULL,
                                     &l, &err) == 0,
                      "%s", err.msg);
        size_t i;
        json_t *ids = json_array(), *tags = json_array(), *t;
        int64_t pix = -1, many = 0;
        json_array_foreach(json_object_get(l, "alerts"), i, a)
        {
            json_array_append(ids, json_object_get(a, "alert_id"));
            json_t *p = json_object_get(a, "properties");
            int64_t px = ss_partition_pixel(nside, json_real_value(json_object_get(p, "ant_ra")),
                                            json_real_value(json_object_get(p, "ant_dec")));
            many |= pix >= 0 && px != pix;
            pix = px;
        }
        *straddling += many;
        json_array_foreach(json_object_get(l, "tags"), i, t) json_array_append_new(
            tags, json_pack("[O,O,O]", json_object_get(t, "tag"), json_object_get(t, "filter"),
                            json_object_get(t, "mjd")));
        char *key = json_dumps(ids, JSON_COMPACT);
        ck_assert_msg(!json_object_get(out, key), "locus of alerts %s seen twice", key);
        json_object_set_new(
            out, key,
            json_pack("{s:O, s:o}", "properties", json_object_get(l, "properties"), "tags", tags));
        free(key);
        json_decref(ids), json_decref(l), json_decref(row);
    }
    free(buf);
    return n;
}

/* ---- the deployment over HTTP ---- */

/* A locus as the API shows it, without what differs between deployments: its id and the wall
 * times its tags were set. */
static json_t *comparable(json_t *l)
{
    json_object_del(l, "locus_id");
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(l, "tags"), i, t) json_object_del(t, "time");
    return l;
}

/* Every page of @p query (page_size 7) from @p s: the items, in order. */
static json_t *all_pages(const tu_server *s, const char *query)
{
    json_t *all = json_array();
    for (int page = 1;; page++) {
        char path[512];
        snprintf(path, sizeof path, "%s&page=%d&page_size=7", query, page);
        json_t *o = tu_http_json(s, path, 200);
        json_array_extend(all, json_object_get(o, "items"));
        int more = json_is_true(json_object_get(o, "has_next"));
        json_decref(o);
        if (!more)
            break;
        ck_assert_int_lt(page, 1000);
    }
    return all;
}

/* The values of @p key of each item, as one JSON text, to compare orders. */
static char *column(json_t *items, const char *key)
{
    json_t *col = json_array(), *it;
    size_t i;
    json_array_foreach(items, i, it) json_array_append(col, json_object_get(it, key));
    char *text = json_dumps(col, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(col);
    return text;
}

static void same_column(json_t *a, json_t *b, const char *key, const char *what)
{
    char *x = column(a, key), *y = column(b, key);
    ck_assert_msg(!strcmp(x, y), "%s, %s:\n one:  %s\n both: %s", what, key, x, y);
    free(x), free(y);
}

/* The deployment (instance 1 answering for itself and instance 2) answers as the single store. */
static void deployment_answers_as_one(void)
{
    tu_server w, a, b;
    tu_serve_start(&w, "--store '%s/one'", tu_tmp);
    tu_serve_start(&b, "--store '%s/odd' --set partitions=1,3", tu_tmp);
    tu_serve_start(&a,
                   "--store '%s/even' --set partitions=0,2 --set nside=" NSIDE
                   " --set regions=4 --set peers=%s",
                   tu_tmp, b.base);
    json_t *every = all_pages(&w, "/api/v1/loci?sort=locus_id"), *it;
    ck_assert_uint_gt(json_array_size(every), 50);
    size_t i, compared = 0;
    json_array_foreach(every, i, it)
    {
        char path[256];
        snprintf(path, sizeof path, "/api/v1/loci/%s",
                 json_string_value(json_object_get(it, "ztf_object_id")));
        char *x = NULL, *y = NULL;
        long sx = tu_http_get(&w, path, &x, NULL, NULL), sy = tu_http_get(&a, path, &y, NULL, NULL);
        ck_assert_msg(sx == sy, "%s: %ld alone, %ld deployed: %s", path, sx, sy, y);
        if (sx == 200) {
            json_t *lx = comparable(json_loads(x, 0, NULL)),
                   *ly = comparable(json_loads(y, 0, NULL));
            ck_assert_msg(json_equal(lx, ly), "%s differs", path);
            json_decref(lx), json_decref(ly);
            compared++;
        }
        free(x), free(y);
    }
    ck_assert_uint_gt(compared, 50);
    /* a locus id of instance 2, asked of instance 1 */
    json_t *odd = tu_http_json(&b, "/api/v1/loci?page_size=1", 200);
    const char *id = json_string_value(
        json_object_get(json_array_get(json_object_get(odd, "items"), 0), "locus_id"));
    char path[256];
    snprintf(path, sizeof path, "/api/v1/loci/%s", id);
    json_t *via = tu_http_json(&a, path, 200);
    ck_assert_str_eq(json_string_value(json_object_get(via, "locus_id")), id);
    /* ... in CSV, passed on as the instance gave it */
    char *csv = NULL, *ctype = NULL;
    snprintf(path, sizeof path, "/api/v1/loci/%s/lightcurve?format=csv", id);
    ck_assert_int_eq(tu_http_get(&a, path, &csv, NULL, &ctype), 200);
    ck_assert_ptr_nonnull(strstr(ctype, "text/csv"));
    ck_assert(!strncmp(csv, "alert_id,survey,mjd,", 20));
    free(csv), free(ctype);
    json_decref(via), json_decref(odd);
    /* searches, tag pages and cones: the same values in the same order */
    static const char *const queries[] = {
        "/api/v1/loci?sort=newest_alert_observation_time&order=desc",
        "/api/v1/loci?num_alerts.gte=5&sort=num_alerts",
        "/api/v1/tags/well_sampled?count=true",
    };
    static const char *const keys[] = {"newest_alert_observation_time", "num_alerts", "tagged_mjd"};
    for (size_t q = 0; q < 3; q++) {
        json_t *x = all_pages(&w, queries[q]), *y = all_pages(&a, queries[q]);
        ck_assert_uint_gt(json_array_size(x), 0);
        same_column(x, y, keys[q], queries[q]);
        json_decref(x), json_decref(y);
    }
    for (size_t k = 0; k < json_array_size(every); k += json_array_size(every) / 10) {
        json_t *l = json_array_get(every, k);
        char q[256];
        snprintf(q, sizeof q, "/api/v1/loci?ra=%.8f&dec=%.8f&radius=240",
                 json_real_value(json_object_get(l, "ra")),
                 json_real_value(json_object_get(l, "dec")));
        json_t *x = all_pages(&w, q), *y = all_pages(&a, q);
        same_column(x, y, "separation_arcsec", q);
        same_column(x, y, "ztf_object_id", q);
        json_decref(x), json_decref(y);
    }
    json_t *sw = tu_http_json(&w, "/api/v1/stats", 200),
           *sa = tu_http_json(&a, "/api/v1/stats", 200);
    ck_assert_int_eq(
        json_integer_value(json_object_get(sw, "alerts")),
        json_integer_value(json_object_get(json_object_get(sa, "deployment"), "alerts")));
    json_decref(sw), json_decref(sa), json_decref(every);
    tu_serve_stop(&a), tu_serve_stop(&b), tu_serve_stop(&w);
}

START_TEST(two_instances_equal_one)
{
    tu_mock m;
    mock_start(&m);
    uint64_t alerts = produce_night(&m);
    ss_partition_counts pc = partition_night(&m);
    ck_assert_uint_eq(pc.alerts, alerts);
    ck_assert_uint_eq(pc.dead, 0);
    ck_assert_uint_gt(pc.border, 0); /* the night has sources on region borders */
    ck_assert_uint_gt(pc.anchored, 0);

    instance one, two[2];
    instance_open(&one, &m, "one", 0, SURVEY, NULL);
    instances_run(&one, 1, alerts);
    instance_open(&two[0], &m, "even", 1, REGIONS, "0,2");
    instance_open(&two[1], &m, "odd", 2, REGIONS, "1,3");
    instances_run(two, 2, alerts);

    json_t *single = json_object(), *shared = json_object();
    size_t straddling = 0, ignore = 0;
    size_t n1 = loci_by_alerts(one.store, single, atoi(NSIDE), &straddling);
    size_t na = loci_by_alerts(two[0].store, shared, atoi(NSIDE), &ignore);
    size_t nb = loci_by_alerts(two[1].store, shared, atoi(NSIDE), &ignore);
    ck_assert_uint_gt(na, 0); /* the work was shared */
    ck_assert_uint_gt(nb, 0);
    ck_assert_uint_eq(na + nb, n1);
    /* loci whose alerts fall in two regions: routed by their own pixel, they would be split */
    ck_assert_uint_gt(straddling, 0);
    const char *key;
    json_t *v;
    size_t tagged = 0;
    json_object_foreach(single, key, v)
    {
        json_t *w = json_object_get(shared, key);
        ck_assert_msg(w, "locus of alerts %s is not whole on one instance", key);
        char *a = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
        char *b = json_dumps(w, JSON_COMPACT | JSON_SORT_KEYS);
        ck_assert_msg(!strcmp(a, b), "locus of alerts %s:\n one: %s\n two: %s", key, a, b);
        tagged += json_array_size(json_object_get(v, "tags")) > 0;
        free(a), free(b);
    }
    ck_assert_uint_gt(tagged, 0);
    json_decref(single), json_decref(shared);
    instance_close(&one);
    instance_close(&two[0]);
    instance_close(&two[1]);
    ss_store_close(one.store), ss_store_close(two[0].store), ss_store_close(two[1].store);
    tu_mock_stop(&m);
    deployment_answers_as_one();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kafka_multi");
    TCase *tc = tcase_create("instances");
    tcase_add_checked_fixture(tc, tu_tmp_setup, tu_tmp_teardown);
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, two_instances_equal_one);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
