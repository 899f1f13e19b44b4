/*
 * bench_kafka: the Kafka input's figures against librdkafka's mock cluster (no Kafka server).
 *
 *  T. consumer throughput: a simulated survey (skysieve's simulator, ZTF-like Avro, one alert per
 *     message as ZTF sends them) is produced to a topic of PARTITIONS partitions, then consumed
 *     into a fresh store by the broker's consumer (core/kafka_in.c: offsets committed after each
 *     LMDB commit); the figure is alerts/s from the first message taken until every alert is
 *     committed and its offset with it. The same alerts ingested from one Avro file into another
 *     store give the reference without Kafka.
 *  L. latency: `skysieve run` (a child process) consumes a topic of the mock cluster and runs a
 *     one-filter set that tags every locus "seen", published on nanomsg; alerts are produced at
 *     RATE alerts/s for SECONDS seconds; the latency of an alert is the time its "seen" message
 *     arrives minus the time it was handed to the producer; p50, p99, max, and how many came back.
 *
 * The mock cluster answers a fetch only when fetch.wait.max.ms (500 ms by default) has passed,
 * even when messages came meanwhile; a real broker answers as soon as fetch.min.bytes (1) are
 * there. Both consumers here set fetch.wait.max.ms = 10 so that the mock behaves like a broker.
 *
 * Output: a line per phase, then one JSON line with every figure (--json: the JSON line only).
 */
#include "bench_live.h"
#include "gen_set.h"

#include "ingest.h"
#include "kafka_in.h"
#include "simulate.h"
#include "store.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct opts {
    const char *exe, *work, *phases;
    uint64_t alerts;
    int partitions, keep, json;
    double rate, seconds;
} opts;

/* ---- the mock cluster and the survey ---- */

typedef struct cluster {
    rd_kafka_t *owner; /* the handle the mock cluster lives in */
    rd_kafka_mock_cluster_t *mc;
    const char *bootstraps;
} cluster;

static rd_kafka_t *producer_new(const char *bootstraps)
{
    char why[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (bootstraps &&
        (rd_kafka_conf_set(c, "bootstrap.servers", bootstraps, why, sizeof why) ||
         rd_kafka_conf_set(c, "linger.ms", "5", why, sizeof why) ||
         rd_kafka_conf_set(c, "queue.buffering.max.messages", "1000000", why, sizeof why)))
        bl_die("producer configuration", why);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, why, sizeof why);
    if (!rk)
        bl_die("producer", why);
    return rk;
}

static void cluster_start(cluster *c)
{
    c->owner = producer_new(NULL); /* it says it has no bootstrap servers: it needs none */
    if (!(c->mc = rd_kafka_mock_cluster_new(c->owner, 1)))
        bl_die("mock cluster", "cannot be created");
    c->bootstraps = rd_kafka_mock_cluster_bootstraps(c->mc);
}

static void cluster_topic(cluster *c, const char *topic, int partitions)
{
    if (rd_kafka_mock_topic_create(c->mc, topic, partitions, 1))
        bl_die("mock topic", topic);
}

static void cluster_stop(cluster *c)
{
    rd_kafka_mock_cluster_destroy(c->mc);
    rd_kafka_destroy(c->owner);
}

/* A survey of at least about @p alerts alerts: 10 epochs of two visits in g and r. Caller frees. */
static ss_sim *survey_new(uint64_t alerts, uint64_t seed)
{
    ss_sim_options o;
    ss_sim_options_default(&o);
    o.seed = seed;
    o.epochs = 10;
    o.format = SS_SIM_AVRO;
    o.scatter_arcsec = 0.2;
    o.field_radius = 10; /* degrees: many pixels, few loci per zone */
    ss_sim_default_counts(o.count);
    uint64_t per_source = (uint64_t)o.epochs * 2 * 2; /* two visits in g and r per epoch */
    ss_err err = {0};
    /* a quarter more sources: some observations fall below the limit */
    if (ss_sim_scale_counts(o.count, alerts * 5 / 4 / per_source + 1) ||
        ss_sim_options_check(&o, &err))
        bl_die("survey options", err.msg);
    ss_sim *s = ss_sim_new(&o);
    if (!s || ss_sim_prepare(s, &err))
        bl_die("survey", err.msg);
    return s;
}

/* Messages of a survey, in memory: produced later at the pace a phase wants. */
typedef struct night {
    char **msg;
    size_t *len, n, cap;
    uint64_t *id; /* the alert id of each message (one alert each), ascending */
    uint64_t alerts;
} night;

static int night_take(void *ctx, const void *msg, size_t len, unsigned alerts, uint64_t first_id,
                      ss_err *err)
{
    night *n = ctx;
    (void)err;
    if (n->n == n->cap) {
        n->cap = n->cap ? n->cap * 2 : 4096;
        n->msg = realloc(n->msg, n->cap * sizeof *n->msg);
        n->len = realloc(n->len, n->cap * sizeof *n->len);
        n->id = realloc(n->id, n->cap * sizeof *n->id);
        if (!n->msg || !n->len || !n->id)
            bl_die("messages", "out of memory");
    }
    if (!(n->msg[n->n] = malloc(len)))
        bl_die("messages", "out of memory");
    memcpy(n->msg[n->n], msg, len);
    n->id[n->n] = first_id;
    n->len[n->n++] = len;
    n->alerts += alerts;
    return 0;
}

static night night_make(uint64_t alerts, uint64_t seed)
{
    night n = {0};
    ss_sim *s = survey_new(alerts, seed);
    ss_err err = {0};
    if (ss_sim_write_messages(s, 1, night_take, &n, NULL, &err))
        bl_die("survey messages", err.msg);
    ss_sim_free(s);
    return n;
}

static void night_free(night *n)
{
    for (size_t i = 0; i < n->n; i++)
        free(n->msg[i]);
    free(n->msg);
    free(n->len);
    free(n->id);
}

/* Hand message @p i to the producer, waiting for room when its queue is full. */
static void produce_one(rd_kafka_t *p, const char *topic, const night *n, size_t i)
{
    for (;;) {
        rd_kafka_resp_err_t e =
            rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(n->msg[i], n->len[i]),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            return;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            bl_die("produce", rd_kafka_err2str(e));
        rd_kafka_poll(p, 10);
    }
}

/* The mock cluster keeps about 5 MB per partition and drops older messages: the night is fed
 * while it is consumed, at most WINDOW messages ahead of the consumer, so none is lost and the
 * consumer never waits for the producer. */
#define WINDOW 1500

typedef struct feeder {
    const cluster *c;
    const char *topic;
    const night *n;
    atomic_uint_fast64_t consumed;
    pthread_t th;
} feeder;

static void *feed_main(void *arg)
{
    feeder *f = arg;
    rd_kafka_t *p = producer_new(f->c->bootstraps);
    for (size_t i = 0; i < f->n->n; i++) {
        while (i > atomic_load(&f->consumed) + WINDOW)
            rd_kafka_poll(p, 1);
        produce_one(p, f->topic, f->n, i);
    }
    if (rd_kafka_flush(p, 120000))
        bl_die("produce", "the night was not delivered in 120 s");
    rd_kafka_destroy(p);
    return NULL;
}

static void feed_start(feeder *f, const cluster *c, const char *topic, const night *n)
{
    *f = (feeder){.c = c, .topic = topic, .n = n};
    if (pthread_create(&f->th, NULL, feed_main, f))
        bl_die("pthread_create", NULL);
}

static ss_store *store_new(const opts *o, const char *name)
{
    char *dir = bl_path(o->work, name);
    ss_store_options so = {.create = 1};
    ss_store *s = NULL;
    ss_err err = {0};
    if (ss_store_open(dir, &so, &s, &err))
        bl_die("store", err.msg);
    free(dir);
    return s;
}

/* ---- T: consumer throughput ---- */

typedef struct res_tp {
    uint64_t alerts, messages;
    double join_s, consume_s, rate, file_rate, memory_rate;
} res_tp;

static void on_commit(void *ctx, const ss_ingest_totals *t)
{
    (void)t;
    ss_ingest_kafka_in_committed(ctx);
}

static ss_ingest_kafka_in *consumer_open(const cluster *c, const char *topic)
{
    ss_ingest_kafka_in_conf kc = {0};
    ss_err err = {0};
    ss_ingest_kafka_in *k = NULL;
    if (ss_ingest_kafka_in_conf_set(&kc, "brokers", c->bootstraps, &err) ||
        ss_ingest_kafka_in_conf_set(&kc, "topics", topic, &err) ||
        ss_ingest_kafka_in_conf_set(&kc, "group", "bench", &err) ||
        ss_ingest_kafka_in_conf_set(&kc, "format", "ztf", &err) ||
        ss_ingest_kafka_in_conf_set(&kc, "rdkafka.fetch.wait.max.ms", "10", &err) || /* see L */
        ss_ingest_kafka_in_open(&kc, NULL, &k, &err))
        bl_die("consumer", err.msg);
    ss_ingest_kafka_in_conf_free(&kc);
    return k;
}

/* The same survey from one Avro file, for the figure without Kafka. @return alerts/s. */
static double ingest_file_rate(const opts *o, const night *n)
{
    char *path = bl_path(o->work, "night.avro");
    FILE *f = fopen(path, "wb");
    ss_sim *sim = survey_new(o->alerts, 1);
    ss_err err = {0};
    if (!f || ss_sim_write(sim, f, path, NULL, &err) || fclose(f))
        bl_die("survey file", err.msg[0] ? err.msg : path);
    ss_sim_free(sim);
    ss_store *s = store_new(o, "tp-file");
    ss_ingest_options io = {.batch_size = 5000};
    ss_ingest *in = ss_ingest_new(s, &io);
    ss_ingest_totals t;
    double t0 = bl_now();
    if (!in || ss_ingest_path(in, path, &err) || ss_ingest_finish(in, &t, &err))
        bl_die("file ingest", err.msg);
    double secs = bl_now() - t0;
    if (t.ingested != n->alerts)
        bl_die("file ingest", "stored another number of alerts than the survey has");
    ss_ingest_free(in);
    ss_store_close(s);
    free(path);
    return (double)n->alerts / secs;
}

/* The same messages ingested one by one from memory, without Kafka: what decoding one container
 * per alert costs. @return alerts/s. */
static double ingest_messages_rate(const opts *o, const night *n)
{
    ss_store *s = store_new(o, "tp-memory");
    ss_ingest_options io = {.batch_size = 5000, .format = "avro"};
    ss_ingest *in = ss_ingest_new(s, &io);
    ss_ingest_totals t;
    ss_err err = {0};
    double t0 = bl_now();
    for (size_t i = 0; in && i < n->n; i++)
        if (ss_ingest_memory(in, n->msg[i], n->len[i], "message", &err)) /* as the input does */
            bl_die("message ingest", err.msg);
    if (!in || ss_ingest_finish(in, &t, &err))
        bl_die("message ingest", err.msg);
    double secs = bl_now() - t0;
    ss_ingest_free(in);
    ss_store_close(s);
    return (double)t.ingested / secs;
}

static res_tp phase_throughput(const opts *o, cluster *c, const night *n)
{
    res_tp r = {.alerts = n->alerts, .messages = n->n};
    cluster_topic(c, "bench.tp", o->partitions);
    ss_store *s = store_new(o, "tp-kafka");
    ss_ingest_kafka_in *k = consumer_open(c, "bench.tp");
    ss_ingest_options io = {.batch_size = 5000,
                            .format = ss_ingest_kafka_in_decoder(k),
                            .on_commit = on_commit,
                            .ctx = k};
    ss_ingest *in = ss_ingest_new(s, &io);
    ss_err err = {0};
    feeder f;
    double t_open = bl_now(), t_first = 0;
    feed_start(&f, c, "bench.tp", n);
    for (uint64_t taken = 0; taken < n->n;) {
        unsigned got = 0;
        double t = bl_now();
        if (ss_ingest_kafka_in_poll(k, in, 100, 200, NULL, &got, &err))
            bl_die("consume", err.msg);
        t_first = !t_first && got ? t : t_first;
        taken += got;
        atomic_store(&f.consumed, taken);
        if (bl_now() - t_open > 600)
            bl_die("consume", "the night was not consumed in 600 s");
    }
    ss_ingest_totals t;
    if (ss_ingest_finish(in, &t, &err)) /* the last commit, and with it the last offsets */
        bl_die("consume", err.msg);
    ss_ingest_kafka_in_close(k);
    double t_end = bl_now();
    pthread_join(f.th, NULL);
    if (t.ingested != n->alerts)
        bl_die("consume", "stored another number of alerts than were produced");
    ss_ingest_free(in);
    ss_store_close(s);
    r.join_s = t_first - t_open;
    r.consume_s = t_end - t_first;
    r.rate = (double)n->alerts / r.consume_s;
    r.file_rate = ingest_file_rate(o, n);
    r.memory_rate = ingest_messages_rate(o, n);
    return r;
}

/* ---- L: latency from produce to tag published ---- */

#define WARM 200 /* alerts sent and awaited before the timed ones: the group is joined */

typedef struct res_lat {
    double rate, send_rate;
    uint64_t sent, got;
    double p50, p90, p99, max;
} res_lat;

/* The message index of alert id @p id (decimal text, as the tag stream has it), or -1. */
static int64_t night_index(void *ctx, const char *id, size_t len)
{
    const night *n = ctx;
    char buf[32];
    if (!len || len >= sizeof buf)
        return -1;
    memcpy(buf, id, len);
    buf[len] = '\0';
    char *end;
    uint64_t v = strtoull(buf, &end, 10);
    size_t lo = 0, hi = n->n;
    while (!*end && lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (n->id[mid] == v)
            return (int64_t)mid;
        if (n->id[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* Wait until the listener has @p want alerts or nothing new came for @p stall seconds. */
static void await_tags(bl_broker *b, bl_listener *l, uint64_t want, double stall)
{
    uint64_t got = 0;
    double progress = bl_now();
    while (atomic_load(&l->got) < want && bl_now() - progress < stall) {
        usleep(20000);
        if (atomic_load(&l->got) != got)
            got = atomic_load(&l->got), progress = bl_now();
        if (!bl_broker_alive(b))
            bl_broker_fail(b, "the broker died");
    }
}

static res_lat phase_latency(const opts *o, cluster *c, const char *set)
{
    res_lat r = {.rate = o->rate};
    uint64_t timed = (uint64_t)(o->rate * o->seconds);
    night n = night_make(timed + WARM + timed / 10, 2);
    if (n.n < WARM + timed)
        bl_die("latency", "the survey came out smaller than asked");
    double *sent = calloc(n.n, sizeof *sent), *recv = calloc(n.n, sizeof *recv);
    cluster_topic(c, "bench.live", o->partitions);
    bl_broker b;
    bl_broker_init(&b, o->work, "latency");
    char *in = NULL;
    if (!sent || !recv ||
        asprintf(&in,
                 "[input kafka]\nbrokers = %s\ntopics = bench.live\ngroup = "
                 "bench\nrdkafka.fetch.wait.max.ms = 10\n",
                 c->bootstraps) < 0)
        bl_die("out of memory", NULL);
    bl_broker_start(&b, o->exe, in, set, 1);
    bl_listener l;
    bl_listen_start(&l, b.pub_addr, "seen", night_index, &n, recv);
    rd_kafka_t *p = producer_new(c->bootstraps);
    for (size_t i = 0; i < WARM; i++)
        produce_one(p, "bench.live", &n, i);
    rd_kafka_flush(p, 10000);
    await_tags(&b, &l, WARM, 60);
    if (atomic_load(&l.got) < WARM)
        bl_broker_fail(&b, "the warm-up alerts were not all tagged within 60 s");
    double t0 = bl_now() + 0.01;
    for (uint64_t i = 0; i < timed; i++) {
        bl_sleep_until(t0 + (double)i / o->rate);
        sent[WARM + i] = bl_now();
        produce_one(p, "bench.live", &n, WARM + i);
        rd_kafka_poll(p, 0);
    }
    r.send_rate = (double)timed / (bl_now() - t0);
    rd_kafka_flush(p, 10000);
    rd_kafka_destroy(p);
    await_tags(&b, &l, WARM + timed, 30);
    bl_listen_stop(&l);
    double *lat = malloc(timed * sizeof *lat);
    size_t k = 0;
    for (uint64_t i = WARM; lat && i < WARM + timed; i++)
        if (recv[i] > 0)
            lat[k++] = recv[i] - sent[i];
    bl_sort(lat, k);
    r.sent = timed, r.got = k;
    r.p50 = bl_pct(lat, k, 0.5), r.p90 = bl_pct(lat, k, 0.9), r.p99 = bl_pct(lat, k, 0.99);
    r.max = bl_max(lat, k);
    if (k < timed)
        fprintf(stderr, "bench_kafka: %llu of %llu timed alerts were not tagged\n",
                (unsigned long long)(timed - k), (unsigned long long)timed);
    bl_broker_stop(&b, o->keep);
    free(lat), free(sent), free(recv), free(in);
    night_free(&n);
    return r;
}

/* ---- main ---- */

static const char usage[] =
    "usage: bench_kafka [--phases TL] [--alerts N] [--partitions P] [--rate R] [--seconds S]\n"
    "                   [--work DIR] [--keep] [--json] [--skysieve PATH]\n"
    "  T: consumer throughput of N alerts (default 200000), one per message, from a topic of P\n"
    "     partitions (default 4) into a fresh store; beside it the same alerts from one file\n"
    "  L: latency from produce to the tag published by `skysieve run` (lcstats, jump and a Lua\n"
    "     filter tagging every locus), R alerts/s (default 1000) for S seconds (default 30)\n";

static double opt_num(const char *s, double lo)
{
    char *end;
    double v = strtod(s, &end);
    if (*end || !(v >= lo))
        bl_die("bad option value", s);
    return v;
}

static opts parse(int argc, char **argv)
{
    opts o = {.exe = SS_BENCH_SKYSIEVE,
              .phases = "TL",
              .alerts = 200000,
              .partitions = 4,
              .rate = 1000,
              .seconds = 30};
    static const struct option lo[] = {{"phases", required_argument, 0, 'p'},
                                       {"alerts", required_argument, 0, 'a'},
                                       {"partitions", required_argument, 0, 'P'},
                                       {"rate", required_argument, 0, 'r'},
                                       {"seconds", required_argument, 0, 's'},
                                       {"work", required_argument, 0, 'w'},
                                       {"keep", no_argument, 0, 'k'},
                                       {"json", no_argument, 0, 'j'},
                                       {"skysieve", required_argument, 0, 'x'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1)
        switch (ch) {
        case 'p': o.phases = optarg; break;
        case 'a': o.alerts = (uint64_t)opt_num(optarg, 1000); break;
        case 'P': o.partitions = (int)opt_num(optarg, 1); break;
        case 'r': o.rate = opt_num(optarg, 1); break;
        case 's': o.seconds = opt_num(optarg, 1); break;
        case 'w': o.work = optarg; break;
        case 'k': o.keep = 1; break;
        case 'j': o.json = 1; break;
        case 'x': o.exe = optarg; break;
        default: fputs(usage, ch == 'h' ? stdout : stderr); exit(ch == 'h' ? 0 : 2);
        }
    return o;
}

int main(int argc, char **argv)
{
    opts o = parse(argc, argv);
    char tmpl[] = "/tmp/bench_kafka.XXXXXX";
    if (!o.work && !(o.work = mkdtemp(tmpl)))
        bl_die("mkdtemp", NULL);
    if (access(o.exe, X_OK))
        bl_die(o.exe, "not an executable skysieve (--skysieve PATH)");
    cluster c;
    cluster_start(&c);
    json_t *out = json_object();
    if (strchr(o.phases, 'T')) {
        night n = night_make(o.alerts, 1);
        res_tp r = phase_throughput(&o, &c, &n);
        night_free(&n);
        if (!o.json)
            printf("T  %llu alerts in %llu messages, %d partitions: group joined in %.1f s, then "
                   "%.1f s: %.0f alerts/s (the same messages from memory, no Kafka: %.0f alerts/s; "
                   "the same alerts from one Avro file: %.0f alerts/s)\n",
                   (unsigned long long)r.alerts, (unsigned long long)r.messages, o.partitions,
                   r.join_s, r.consume_s, r.rate, r.memory_rate, r.file_rate);
        json_object_set_new(out, "throughput",
                            json_pack("{s:I, s:I, s:i, s:f, s:f, s:f, s:f, s:f}", "alerts",
                                      (json_int_t)r.alerts, "messages", (json_int_t)r.messages,
                                      "partitions", o.partitions, "join_seconds", r.join_s,
                                      "consume_seconds", r.consume_s, "alerts_per_second", r.rate,
                                      "file_alerts_per_second", r.file_rate,
                                      "memory_alerts_per_second", r.memory_rate));
    }
    if (strchr(o.phases, 'L')) {
        char *setdir = bl_path(o.work, "set");
        if (mkdir(setdir, 0755) && errno != EEXIST)
            bl_die(setdir, strerror(errno));
        char *set = gen_filter_set(setdir, SS_BENCH_FILTERS_DIR, 1, "seen");
        if (!set)
            bl_die("writing the filter set", strerror(errno));
        res_lat r = phase_latency(&o, &c, set);
        if (!o.json)
            printf("L  %.0f alerts/s for %.0f s (sent at %.0f/s): %llu of %llu tagged; produce -> "
                   "tag published p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms\n",
                   r.rate, o.seconds, r.send_rate, (unsigned long long)r.got,
                   (unsigned long long)r.sent, r.p50 * 1e3, r.p90 * 1e3, r.p99 * 1e3, r.max * 1e3);
        json_object_set_new(out, "latency",
                            json_pack("{s:f, s:f, s:I, s:I, s:f, s:f, s:f, s:f}", "rate", r.rate,
                                      "send_rate", r.send_rate, "sent", (json_int_t)r.sent,
                                      "tagged", (json_int_t)r.got, "p50_ms", r.p50 * 1e3, "p90_ms",
                                      r.p90 * 1e3, "p99_ms", r.p99 * 1e3, "max_ms", r.max * 1e3));
        free(set), free(setdir);
    }
    char *line = json_dumps(out, JSON_COMPACT);
    printf("%s\n", line);
    free(line);
    json_decref(out);
    cluster_stop(&c);
    if (!o.keep && o.work == tmpl) {
        char *cmd = NULL;
        if (asprintf(&cmd, "rm -rf '%s'", o.work) >= 0 && system(cmd) != 0)
            fprintf(stderr, "bench_kafka: could not remove %s\n", o.work);
        free(cmd);
    }
    return 0;
}
