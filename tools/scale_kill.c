/*
 * scale_kill: kill -9 / restart rounds over a running broker fed by spool, pull and Kafka at once.
 *
 * Each round starts `skysieve run`, feeds it for a random time (--min-ms .. --max-ms, one round in
 * eight 0 .. --min-ms, so kills land in startup, intake, commit, dispatch and, in one round of
 * three, a reload asked by SIGHUP), then kills it with SIGKILL. The feeders keep going between
 * rounds: spool files are renamed into the spool, Kafka messages go to librdkafka's mock cluster
 * (living in this process across the broker's lives, with static partitions so that no group
 * rebalance waits for a dead member), pull messages to the broker's nanomsg socket. At the end the
 * broker runs until everything is stored and dispatched, stops cleanly, and the tool checks through
 * the library that every sent alert is stored exactly once, `skysieve verify` passes, and the
 * filter (scale_count.so) ran on every alert; its runs per alert show what dispatch guarantees (at
 * least once).
 *
 * nanomsg's PUSH/PULL has no acknowledgement: a message in the socket when the broker is killed,
 * not yet journalled, is lost in transit, which no broker can prevent (README "The live broker").
 * The tool reads the intake journal after every kill: a pull alert that reached the journal and is
 * not stored is a loss; one that never reached it is counted as dropped in transit and sent
 * again at the end (as a producer with acknowledgements would), then checked like the rest.
 *
 * Exit status 0 only with 0 lost, 0 doubled, 0 never dispatched, verify passing and no broker
 * that exited by itself.
 */
#include "bench_live.h"
#include "scale_util.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TOPIC       "alerts"
#define PARTITIONS  2
#define MAX_ALERTS  (1u << 24) /* per kind: far above a 1,000-round run */
#define DRAIN_LIMIT 600.0      /* seconds the last broker may take to store and dispatch all */

typedef struct opts {
    const char *exe, *filters, *work;
    unsigned rounds, min_ms, max_ms, per, workers;
    double rate; /* feeding units (one file or message each) per second */
    unsigned seed;
    int keep;
} opts;

/* The run: the mock cluster, the feeders' counters, what the rounds saw. Owned by main(). */
typedef struct run {
    opts o;
    char *conf, *log, *store, *spool, *journal, *runs, *pull_addr, *ctl_addr;
    rd_kafka_t *owner, *producer;
    rd_kafka_mock_cluster_t *mc;
    int push;
    uint64_t sent[SC_KINDS];  /* alerts handed over (pull: accepted by the socket) */
    uint64_t units[SC_KINDS]; /* files, messages */
    uint64_t pull_refused;    /* pull sends refused while no broker listened (not counted sent) */
    uint8_t *journalled;      /* per pull alert: seen in the journal after a kill */
    uint64_t sighups, kills, kills_startup, kills_reload, self_exits, lock_waits;
    double busy; /* seconds of feeding */
    unsigned file_seq;
} run;

static void usage(void)
{
    fprintf(stderr,
            "usage: scale_kill [--rounds N (1000)] [--quick (20 rounds)] [--min-ms 50] "
            "[--max-ms 1500]\n  [--rate UNITS/S (100)] [--per ALERTS/UNIT (5)] [--workers N (1)] "
            "[--seed S] [--work DIR] [--keep]\n  [--exe PATH] [--filters DIR]\n");
    exit(2);
}

static void parse(int argc, char **argv, opts *o)
{
    *o = (opts){.exe = SS_SCALE_SKYSIEVE,
                .filters = SS_SCALE_FILTERS,
                .rounds = 1000,
                .min_ms = 50,
                .max_ms = 1500,
                .per = 5,
                .workers = 1,
                .rate = 100,
                .seed = (unsigned)time(NULL)};
    static const struct option lo[] = {
        {"rounds", 1, 0, 'r'}, {"quick", 0, 0, 'q'}, {"min-ms", 1, 0, 'm'},  {"max-ms", 1, 0, 'M'},
        {"rate", 1, 0, 'R'},   {"per", 1, 0, 'p'},   {"workers", 1, 0, 'w'}, {"seed", 1, 0, 's'},
        {"work", 1, 0, 'd'},   {"keep", 0, 0, 'k'},  {"exe", 1, 0, 'e'},     {"filters", 1, 0, 'f'},
        {"help", 0, 0, 'h'},   {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'r': o->rounds = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'q': o->rounds = 20; break;
        case 'm': o->min_ms = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'M': o->max_ms = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'R': o->rate = strtod(optarg, NULL); break;
        case 'p': o->per = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'w': o->workers = (unsigned)strtoul(optarg, NULL, 10); break;
        case 's': o->seed = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'd': o->work = optarg; break;
        case 'k': o->keep = 1; break;
        case 'e': o->exe = optarg; break;
        case 'f': o->filters = optarg; break;
        default: usage();
        }
    }
    if (!o->rounds || o->max_ms < o->min_ms || o->rate <= 0 || !o->per || o->per > 1000 ||
        !o->workers)
        usage();
}

/* ---- setting up: the mock cluster, the files, the sockets ---- */

static void kafka_start(run *r)
{
    char why[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "log_level", "3", why, sizeof why);
    if (!(r->owner = rd_kafka_new(RD_KAFKA_PRODUCER, c, why, sizeof why)))
        bl_die("mock cluster's handle", why);
    if (!(r->mc = rd_kafka_mock_cluster_new(r->owner, 1)) ||
        rd_kafka_mock_topic_create(r->mc, TOPIC, PARTITIONS, 1))
        bl_die("mock cluster", "cannot be created");
    c = rd_kafka_conf_new();
    if (rd_kafka_conf_set(c, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(r->mc), why,
                          sizeof why) ||
        rd_kafka_conf_set(c, "linger.ms", "5", why, sizeof why) ||
        rd_kafka_conf_set(c, "enable.idempotence", "true", why, sizeof why) ||
        !(r->producer = rd_kafka_new(RD_KAFKA_PRODUCER, c, why, sizeof why)))
        bl_die("producer", why);
}

static void files_write(run *r)
{
    const char *w = r->o.work;
    char *text = NULL, *set = bl_path(w, "set.ini"), *sub;
    mkdir(w, 0755);
    r->conf = bl_path(w, "broker.ini");
    r->log = bl_path(w, "broker.log");
    r->store = bl_path(w, "store");
    r->spool = bl_path(w, "spool");
    r->runs = bl_path(w, "runs.log");
    sub = bl_path(w, "run");
    r->journal = bl_path(sub, "journal");
    free(sub);
    mkdir(r->spool, 0755);
    if (asprintf(&r->pull_addr, "ipc://%s/in.ipc", w) < 0 ||
        asprintf(&r->ctl_addr, "ipc://%s/control.ipc", w) < 0 ||
        asprintf(&text, "[filter count]\npath = %s/scale_count.so\nsetup.log = %s\n", r->o.filters,
                 r->runs) < 0)
        bl_die("out of memory", NULL);
    bl_write_text(set, text);
    free(text);
    if (asprintf(&text,
                 "; scale_kill\n[broker]\nstore = %s\nrun_dir = %s/run\nlog_level = info\n"
                 "stats_interval = 0\n\n[input spool]\ndir = %s\npoll = 0.05\n\n"
                 "[input pull]\naddress = %s\n\n"
                 "[input kafka]\nbrokers = %s\ntopics = " TOPIC "\ngroup = scale\nformat = csv\n"
                 "partitions = 0,1\nrdkafka.fetch.wait.max.ms = 10\nrdkafka.log_level = 3\n\n"
                 "[filters]\nset = %s\nworkers = %u\ntimeout = 10\n\n[control]\naddress = %s\n",
                 r->store, w, r->spool, r->pull_addr, rd_kafka_mock_cluster_bootstraps(r->mc), set,
                 r->o.workers, r->ctl_addr) < 0)
        bl_die("out of memory", NULL);
    bl_write_text(r->conf, text);
    free(text);
    free(set);
    int ms = 0;
    if ((r->push = nn_socket(AF_SP, NN_PUSH)) < 0 ||
        nn_setsockopt(r->push, NN_SOL_SOCKET, NN_SNDTIMEO, &ms, sizeof ms) < 0 ||
        nn_connect(r->push, r->pull_addr) < 0)
        bl_die(r->pull_addr, nn_strerror(nn_errno()));
    if (!(r->journalled = calloc(MAX_ALERTS, 1)))
        bl_die("out of memory", NULL);
}

/* ---- feeding ---- */

/* One unit of input @p kind: a spool file, a pull message or a Kafka message of o.per alerts. */
static void feed_one(run *r, int kind)
{
    size_t len;
    uint64_t first = r->sent[kind];
    if (first + r->o.per > MAX_ALERTS)
        return;
    char *csv = sc_csv(sc_kind_letter[kind], first, r->o.per, &len);
    if (kind == 0) {
        char name[64];
        snprintf(name, sizeof name, "f%08u.csv", r->file_seq++);
        sc_spool_put(r->spool, name, csv, len);
    } else if (kind == 1) {
        if (nn_send(r->push, csv, len, NN_DONTWAIT) != (int)len) { /* no broker listening */
            r->pull_refused++;
            free(csv);
            return;
        }
    } else {
        rd_kafka_resp_err_t e;
        while (
            (e = rd_kafka_producev(r->producer, RD_KAFKA_V_TOPIC(TOPIC), RD_KAFKA_V_VALUE(csv, len),
                                   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
            RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(r->producer, 10);
        if (e)
            bl_die("produce", rd_kafka_err2str(e));
        rd_kafka_poll(r->producer, 0);
    }
    free(csv);
    r->sent[kind] += r->o.per;
    r->units[kind]++;
}

/* Feed at o.rate units a second, the kinds in turn, until @p until (monotonic seconds). */
static void feed_until(run *r, double until, unsigned *turn)
{
    double step = 1.0 / r->o.rate, t = bl_now();
    while (t < until) {
        feed_one(r, (int)((*turn)++ % SC_KINDS));
        bl_sleep_until(t += step);
    }
}

/* ---- rounds ---- */

/* Whether the broker takes SIGHUP (caught, or blocked for its signalfd): before, SIGHUP would
 * terminate it. */
static int hup_caught(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    unsigned long long mask = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "SigCgt:", 7) || !strncmp(line, "SigBlk:", 7))
            mask |= strtoull(line + 7, NULL, 16); /* blocked: taken by its signalfd */
    if (f)
        fclose(f);
    return (mask & 1ull) != 0; /* SIGHUP is signal 1: bit 0 */
}

/* Mark the pull alerts the journal holds: accepted by the broker, so they must be stored. */
static void journal_scan(run *r)
{
    DIR *d = opendir(r->journal);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!strstr(e->d_name, ".jrn"))
            continue;
        char *p = bl_path(r->journal, e->d_name);
        FILE *f = fopen(p, "rb");
        free(p);
        int c, prev = 0;
        while (f && (c = getc(f)) != EOF) {
            if (c == 'P' && prev == '\n') {
                char digits[11];
                if (fread(digits, 1, 10, f) == 10) {
                    char *end;
                    digits[10] = 0;
                    unsigned long long i = strtoull(digits, &end, 10);
                    if (end == digits + 10 && i < MAX_ALERTS)
                        r->journalled[i] = 1;
                }
                c = 0;
            }
            prev = c;
        }
        if (f)
            fclose(f);
    }
    if (d)
        closedir(d);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

/* The log of this round (from @p from) says the broker got as far as starting. */
static int log_has(const char *path, long from, const char *what)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    int found = 0;
    if (f && fseek(f, from, SEEK_SET) == 0)
        while (!found && fgets(line, sizeof line, f))
            found = strstr(line, what) != NULL;
    if (f)
        fclose(f);
    return found;
}

static void log_tail(const char *path, long from)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    if (f && fseek(f, from, SEEK_SET) == 0)
        while (fgets(line, sizeof line, f))
            fprintf(stderr, "  | %s", line);
    if (f)
        fclose(f);
}

/* A broker that ended by itself: a lock still held by the last one's dying workers is waited
 * for (counted); anything else fails the run. */
static void self_exit(run *r, int st, long from, unsigned round)
{
    if (WIFEXITED(st) && WEXITSTATUS(st) == 1 && log_has(r->log, from, "is used by")) {
        r->lock_waits++;
        usleep(100000);
        return;
    }
    r->self_exits++;
    fprintf(stderr, "scale_kill: round %u: the broker ended by itself (status %d):\n", round, st);
    log_tail(r->log, from);
}

static void one_round(run *r, unsigned round, unsigned *turn)
{
    long from = file_size(r->log);
    pid_t pid = sc_spawn(r->o.exe, r->conf, r->log);
    double t0 = bl_now();
    /* one round in eight dies within min_ms: in startup (journal replay, the first generation) */
    unsigned lo = rand() % 8 == 0 ? 0 : r->o.min_ms, hi = lo ? r->o.max_ms : r->o.min_ms;
    double life = (lo + (double)(rand() % (hi - lo + 1))) / 1000.0;
    double hup_at = rand() % 3 == 0 ? t0 + life * (rand() % 1000) / 1000.0 : -1;
    int st, hupped = 0;
    while (bl_now() < t0 + life) {
        feed_until(r, bl_now() + 0.02 < t0 + life ? bl_now() + 0.02 : t0 + life, turn);
        if (waitpid(pid, &st, WNOHANG) == pid)
            return self_exit(r, st, from, round);
        if (hup_at > 0 && !hupped && bl_now() >= hup_at && hup_caught(pid)) {
            kill(pid, SIGHUP);
            hupped = 1;
            r->sighups++;
        }
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    r->busy += bl_now() - t0;
    r->kills++;
    if (!log_has(r->log, from, "generation=1 running")) /* before its filters ran */
        r->kills_startup++;
    else if (log_has(r->log, from, "SIGHUP: reloading") &&
             !log_has(r->log, from, "generation=2 running"))
        r->kills_reload++;
    journal_scan(r);
    if (WIFEXITED(st))
        self_exit(r, st, from, round);
}

/* ---- the end: everything stored and dispatched, then checked ---- */

/* What the store still lacks of what must be there: every spool and Kafka alert, every pull
 * alert but those lost in transit (never journalled). found[] is refreshed. */
static uint64_t missing(run *r, uint8_t *found[SC_KINDS], int all)
{
    if (sc_store_find(r->store, r->sent, found) < 0)
        bl_die(r->store, "cannot be read");
    uint64_t n = 0;
    for (int k = 0; k < SC_KINDS; k++)
        for (uint64_t i = 0; i < r->sent[k]; i++)
            n += !found[k][i] && (all || k != 1 || r->journalled[i]);
    return n;
}

/* Run the last broker until the store holds what it must (@p all: the pull alerts sent again
 * too) and nothing waits for the filters, or the limit passes. @return 1 when everything is in. */
static int drain(run *r, pid_t pid, uint8_t *found[SC_KINDS], int all)
{
    double until = bl_now() + DRAIN_LIMIT;
    while (bl_now() < until) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid)
            return fprintf(stderr, "scale_kill: the last broker ended by itself\n"), 0;
        rd_kafka_poll(r->producer, 0);
        json_t *a = sc_ctl(r->ctl_addr, "status", 2);
        double queue = bl_jnum(json_object_get(a, "status"), "queue");
        json_decref(a);
        if (queue == 0 && missing(r, found, all) == 0)
            return 1;
        sleep(1);
    }
    return 0;
}

/* Pull alerts lost in nanomsg's socket at a kill, never journalled: sent again, once. */
static uint64_t resend_in_transit(run *r, uint8_t *found[SC_KINDS])
{
    uint64_t n = 0;
    for (uint64_t i = 0; i < r->sent[1]; i++) {
        if (found[1][i] || r->journalled[i])
            continue;
        size_t len;
        char *csv = sc_csv('P', i, 1, &len);
        while (nn_send(r->push, csv, len, NN_DONTWAIT) != (int)len)
            usleep(1000);
        free(csv);
        n++;
    }
    return n;
}

typedef struct verdict {
    uint64_t sent, stored, lost, lost_journalled, doubled, in_transit, never_run, reruns, max_runs;
    uint64_t run_lines, foreign_runs;
    sc_store_counts c;
    int verify;
} verdict;

static void check(run *r, verdict *v, uint8_t *found[SC_KINDS])
{
    uint8_t *runs[SC_KINDS];
    int64_t n = sc_store_find(r->store, r->sent, found);
    if (n < 0 || sc_store_counts_get(r->store, &v->c))
        bl_die(r->store, "cannot be read");
    v->stored = (uint64_t)n;
    for (int k = 0; k < SC_KINDS; k++) {
        v->sent += r->sent[k];
        if (!(runs[k] = calloc(r->sent[k] + 1, 1)))
            bl_die("out of memory", NULL);
        for (uint64_t i = 0; i < r->sent[k]; i++) {
            v->lost += !found[k][i];
            v->lost_journalled += k == 1 && !found[k][i] && r->journalled[i];
        }
    }
    /* the store counts every alert it holds: more than the distinct ids found is a double */
    v->doubled = v->c.alerts > v->stored ? v->c.alerts - v->stored : 0;
    v->doubled += v->c.loci > v->c.alerts ? v->c.loci - v->c.alerts : 0;
    v->run_lines = sc_runs_read(r->runs, r->sent, runs, &v->foreign_runs);
    for (int k = 0; k < SC_KINDS; k++) {
        for (uint64_t i = 0; i < r->sent[k]; i++) {
            v->never_run += found[k][i] && !runs[k][i];
            v->reruns += runs[k][i] > 1 ? runs[k][i] - 1u : 0;
            v->max_runs = runs[k][i] > v->max_runs ? runs[k][i] : v->max_runs;
        }
        free(runs[k]);
    }
    v->verify = sc_verify(r->o.exe, r->store);
}

static void report(const run *r, const verdict *v, double wall)
{
    char hms[32];
    printf("scale_kill: %llu rounds (%llu kills: %llu before the first generation ran, %llu during "
           "a reload; %llu "
           "SIGHUP reloads asked), seed %u, %s wall (%.0f s feeding)\n",
           (unsigned long long)r->o.rounds, (unsigned long long)r->kills,
           (unsigned long long)r->kills_startup, (unsigned long long)r->kills_reload,
           (unsigned long long)r->sighups, r->o.seed, sc_hms(wall, hms), r->busy);
    printf("  sent      %llu alerts: spool %llu (%llu files), pull %llu (%llu messages), kafka "
           "%llu (%llu messages)\n",
           (unsigned long long)v->sent, (unsigned long long)r->sent[0],
           (unsigned long long)r->units[0], (unsigned long long)r->sent[1],
           (unsigned long long)r->units[1], (unsigned long long)r->sent[2],
           (unsigned long long)r->units[2]);
    printf("  pull      %llu dropped in nanomsg's socket at a kill, never journalled (sent again "
           "at the end); %llu sends refused while no broker listened (not counted)\n",
           (unsigned long long)v->in_transit, (unsigned long long)r->pull_refused);
    printf("  stored    %llu (store counters: %llu alerts, %llu loci, %llu duplicates absorbed)\n",
           (unsigned long long)v->stored, (unsigned long long)v->c.alerts,
           (unsigned long long)v->c.loci, (unsigned long long)v->c.duplicates);
    printf("  lost      %llu (of them journalled: %llu)\n  doubled   %llu\n",
           (unsigned long long)v->lost, (unsigned long long)v->lost_journalled,
           (unsigned long long)v->doubled);
    printf("  filter    %llu runs: %llu alerts never run, %llu runs again (at-least-once "
           "dispatch), at most %llu runs of one alert, %llu foreign lines\n",
           (unsigned long long)v->run_lines, (unsigned long long)v->never_run,
           (unsigned long long)v->reruns, (unsigned long long)v->max_runs,
           (unsigned long long)v->foreign_runs);
    printf("  verify    %s; brokers that ended by themselves: %llu; restarts that waited for the "
           "last one's lock: %llu\n",
           v->verify ? "FAILED" : "ok", (unsigned long long)r->self_exits,
           (unsigned long long)r->lock_waits);
}

int main(int argc, char **argv)
{
    run r = {0};
    parse(argc, argv, &r.o);
    char tmpl[] = "/tmp/scale_kill.XXXXXX";
    if (!r.o.work && !(r.o.work = mkdtemp(tmpl)))
        bl_die("mkdtemp", strerror(errno));
    srand(r.o.seed);
    sc_guard_signals();
    double t0 = bl_now();
    kafka_start(&r);
    files_write(&r);
    unsigned turn = 0;
    for (unsigned i = 1; i <= r.o.rounds; i++) {
        one_round(&r, i, &turn);
        if (i % 50 == 0 || i == r.o.rounds)
            fprintf(stderr, "scale_kill: round %u/%u, %llu alerts sent\n", i, r.o.rounds,
                    (unsigned long long)(r.sent[0] + r.sent[1] + r.sent[2]));
    }
    if (rd_kafka_flush(r.producer, 60000))
        bl_die("kafka", "the producer could not deliver within 60 s");
    long from = file_size(r.log);
    pid_t pid = sc_spawn(r.o.exe, r.conf, r.log);
    uint8_t *found[SC_KINDS];
    for (int k = 0; k < SC_KINDS; k++)
        if (!(found[k] = calloc(r.sent[k] + 1, 1)))
            bl_die("out of memory", NULL);
    verdict v = {0};
    /* everything but the pull alerts lost in transit, then those sent again */
    int drained = drain(&r, pid, found, 0);
    if (drained) {
        v.in_transit = resend_in_transit(&r, found);
        drained = drain(&r, pid, found, 1);
    }
    json_decref(sc_ctl(r.ctl_addr, "stop", 5));
    int st = 0;
    double until = bl_now() + 60;
    while (waitpid(pid, &st, WNOHANG) != pid && bl_now() < until)
        usleep(50000);
    if (bl_now() >= until) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        fprintf(stderr, "scale_kill: the last broker did not stop within 60 s\n");
    }
    check(&r, &v, found);
    report(&r, &v, bl_now() - t0);
    int ok = drained && !v.lost && !v.doubled && !v.never_run && !v.verify && !r.self_exits &&
             WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (!drained)
        fprintf(stderr,
                "scale_kill: the last broker did not store and dispatch everything "
                "within %.0f s\n",
                DRAIN_LIMIT);
    if (!ok)
        log_tail(r.log, from);
    printf("scale_kill: %s (work directory %s%s)\n", ok ? "PASS" : "FAIL", r.o.work,
           r.o.keep || !ok ? ", kept" : ", removed");
    rd_kafka_destroy(r.producer);
    rd_kafka_mock_cluster_destroy(r.mc);
    rd_kafka_destroy(r.owner);
    nn_close(r.push);
    if (ok && !r.o.keep) {
        char *cmd = NULL;
        if (asprintf(&cmd, "rm -rf '%s'", r.o.work) >= 0 && system(cmd) != 0)
            fprintf(stderr, "scale_kill: could not remove %s\n", r.o.work);
        free(cmd);
    }
    return ok ? 0 : 1;
}
