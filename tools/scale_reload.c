/*
 * scale_reload: reloads under continuous ingest. A feeder sends a steady --rate alerts a second
 * (default 1,000: a message of rate/100 alerts every 10 ms) to a `skysieve
 * run` child through its pull socket (or its spool, --via spool); the tool asks `ctl reload`
 * --reloads times in a row (each waiting for its outcome), the filter set alternating between
 * two sets (A: scale_count; B: scale_count and scale_tag), between two reference periods of
 * --ref seconds without reloads. Every second it samples the alerts stored (ctl status) and
 * dispatched (the runs scale_count logged). At the end: every alert stored exactly once and run
 * by the filter (the runs again counted), and the throughput per 1-s window during the reloads
 * beside the reference windows: stored/s and dispatched/s min/median/max, and their ratio to the
 * reference median.
 *
 * Exit status 0 only with 0 lost, 0 doubled, 0 never dispatched, every reload accepted and
 * `skysieve verify` passing.
 */
#include "bench_live.h"
#include "scale_util.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TICK        0.01  /* the feeder sends every 10 ms */
#define MAX_SAMPLES 86400 /* a day of 1-s samples */

typedef struct opts {
    const char *exe, *filters, *work;
    unsigned reloads, workers;
    double rate, ref;
    int spool, keep;
} opts;

typedef struct sample {
    double t;
    double stored, runs;
    int phase; /* 0 reference before, 1 reloads, 2 reference after, 3 draining */
} sample;

/* The run, shared by the main thread (reloads), the feeder and the sampler. Owned by main(). */
typedef struct run {
    opts o;
    char *conf, *log, *store, *spool, *runs, *set, *pull_addr, *ctl_addr;
    pid_t pid;
    atomic_int stop_feed, stop_sample, phase;
    atomic_uint_fast64_t sent;
    uint64_t late_ticks; /* ticks the feeder sent late (over a tick behind its schedule) */
    sample *samples;
    size_t nsamples;
} run;

static void usage(void)
{
    fprintf(stderr, "usage: scale_reload [--reloads N (1000)] [--quick (50 reloads)] [--rate "
                    "ALERTS/S (1000)]\n  [--ref SECONDS (20)] [--via pull|spool] [--workers N (1)] "
                    "[--work DIR] [--keep] [--exe PATH] [--filters DIR]\n");
    exit(2);
}

static void parse(int argc, char **argv, opts *o)
{
    *o = (opts){.exe = SS_SCALE_SKYSIEVE,
                .filters = SS_SCALE_FILTERS,
                .reloads = 1000,
                .workers = 1,
                .rate = 1000,
                .ref = 20};
    static const struct option lo[] = {
        {"reloads", 1, 0, 'r'}, {"quick", 0, 0, 'q'},   {"rate", 1, 0, 'R'}, {"ref", 1, 0, 'F'},
        {"via", 1, 0, 'v'},     {"workers", 1, 0, 'w'}, {"work", 1, 0, 'd'}, {"keep", 0, 0, 'k'},
        {"exe", 1, 0, 'e'},     {"filters", 1, 0, 'f'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'r': o->reloads = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'q': o->reloads = 50, o->ref = 10; break;
        case 'R': o->rate = strtod(optarg, NULL); break;
        case 'F': o->ref = strtod(optarg, NULL); break;
        case 'v':
            if (strcmp(optarg, "pull") && strcmp(optarg, "spool"))
                usage();
            o->spool = !strcmp(optarg, "spool");
            break;
        case 'w': o->workers = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'd': o->work = optarg; break;
        case 'k': o->keep = 1; break;
        case 'e': o->exe = optarg; break;
        case 'f': o->filters = optarg; break;
        default: usage();
        }
    }
    if (o->rate < 100 || o->rate > 100000 || o->ref < 3 || !o->workers)
        usage();
}

/* ---- the broker and its two filter sets ---- */

static void set_write(run *r, int b)
{
    char *text = NULL, *tmp = NULL;
    if (asprintf(&text,
                 "; scale_reload: set %s\n[filter count]\npath = %s/scale_count.so\nsetup.log = "
                 "%s\n%s%s%s",
                 b ? "B" : "A", r->o.filters, r->runs, b ? "\n[filter tag]\npath = " : "",
                 b ? r->o.filters : "", b ? "/scale_tag.so\n" : "") < 0 ||
        asprintf(&tmp, "%s.tmp", r->set) < 0)
        bl_die("out of memory", NULL);
    bl_write_text(tmp, text);
    if (rename(tmp, r->set) != 0)
        bl_die(r->set, strerror(errno));
    free(text);
    free(tmp);
}

static void files_write(run *r)
{
    const char *w = r->o.work;
    char *text = NULL;
    mkdir(w, 0755);
    r->conf = bl_path(w, "broker.ini");
    r->log = bl_path(w, "broker.log");
    r->store = bl_path(w, "store");
    r->spool = bl_path(w, "spool");
    r->runs = bl_path(w, "runs.log");
    r->set = bl_path(w, "set.ini");
    mkdir(r->spool, 0755);
    set_write(r, 0);
    if (asprintf(&r->pull_addr, "ipc://%s/in.ipc", w) < 0 ||
        asprintf(&r->ctl_addr, "ipc://%s/control.ipc", w) < 0 ||
        asprintf(&text,
                 "; scale_reload\n[broker]\nstore = %s\nrun_dir = %s/run\nlog_level = info\n"
                 "stats_interval = 0\n\n[input spool]\ndir = %s\npoll = 0.05\n\n"
                 "[input pull]\naddress = %s\n\n[filters]\nset = %s\nworkers = %u\ntimeout = 10\n\n"
                 "[control]\naddress = %s\n",
                 r->store, w, r->spool, r->pull_addr, r->set, r->o.workers, r->ctl_addr) < 0)
        bl_die("out of memory", NULL);
    bl_write_text(r->conf, text);
    free(text);
}

static json_t *status_of(const char *addr)
{
    json_t *a = sc_ctl(addr, "status", 5);
    json_t *s = json_incref(json_object_get(a, "status"));
    json_decref(a);
    return s;
}

static void broker_start(run *r)
{
    r->pid = sc_spawn(r->o.exe, r->conf, r->log);
    double until = bl_now() + 60;
    for (;;) {
        int st;
        if (waitpid(r->pid, &st, WNOHANG) == r->pid)
            bl_die("the broker did not start; see", r->log);
        json_t *s = status_of(r->ctl_addr);
        double gen = bl_jnum(s, "generation");
        json_decref(s);
        if (gen >= 1)
            return;
        if (bl_now() > until)
            bl_die("the broker's filter set did not run within 60 s; see", r->log);
        usleep(50000);
    }
}

/* ---- the feeder and the sampler ---- */

static void *feeder(void *arg)
{
    run *r = arg;
    int sock = -1, ms = 5000;
    if (!r->o.spool && ((sock = nn_socket(AF_SP, NN_PUSH)) < 0 ||
                        nn_setsockopt(sock, NN_SOL_SOCKET, NN_SNDTIMEO, &ms, sizeof ms) < 0 ||
                        nn_connect(sock, r->pull_addr) < 0))
        bl_die(r->pull_addr, nn_strerror(nn_errno()));
    double t = bl_now(), owed = 0;
    uint64_t file = 0;
    while (!atomic_load(&r->stop_feed)) {
        owed += r->o.rate * TICK; /* whole alerts per tick; fractions carried */
        unsigned n = (unsigned)owed;
        owed -= n;
        uint64_t first = atomic_load(&r->sent);
        size_t len;
        char *csv = n ? sc_csv(r->o.spool ? 'S' : 'P', first, n, &len) : NULL;
        if (csv && r->o.spool) {
            char name[64];
            snprintf(name, sizeof name, "f%010llu.csv", (unsigned long long)file++);
            sc_spool_put(r->spool, name, csv, len);
        } else if (csv && nn_send(sock, csv, len, 0) != (int)len)
            bl_die("pull: a message could not be sent within 5 s", nn_strerror(nn_errno()));
        free(csv);
        atomic_fetch_add(&r->sent, n);
        t += TICK;
        if (bl_now() > t + TICK)
            r->late_ticks++;
        bl_sleep_until(t);
    }
    if (sock >= 0) {
        usleep(500000); /* PUSH drops what is still in its pipe when it closes */
        nn_close(sock);
    }
    return NULL;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

static void *sampler(void *arg)
{
    run *r = arg;
    double t = bl_now();
    while (!atomic_load(&r->stop_sample) && r->nsamples < MAX_SAMPLES) {
        json_t *s = status_of(r->ctl_addr);
        sample *x = &r->samples[r->nsamples++];
        x->t = bl_now();
        x->stored = bl_jnum(s, "stored_alerts");
        x->runs = (double)(file_size(r->runs) / (SC_ID_LEN + 1)); /* fixed-width lines */
        x->phase = atomic_load(&r->phase);
        json_decref(s);
        bl_sleep_until(t += 1.0);
    }
    return NULL;
}

/* ---- figures ---- */

typedef struct spread {
    double min, med, max;
    size_t n;
} spread;

/* Rates per window (stored when @p what is 0, dispatched otherwise) of the windows wholly in
 * phases @p p1 or @p p2. */
static spread rates(const run *r, int what, int p1, int p2, double **keep)
{
    double *v = malloc((r->nsamples + 1) * sizeof *v);
    size_t n = 0;
    for (size_t i = 1; v && i < r->nsamples; i++) {
        const sample *a = &r->samples[i - 1], *b = &r->samples[i];
        if (a->phase != b->phase || (b->phase != p1 && b->phase != p2))
            continue;
        double d = what ? b->runs - a->runs : b->stored - a->stored;
        if (!isnan(d))
            v[n++] = d / (b->t - a->t);
    }
    spread s = {NAN, NAN, NAN, n};
    if (n) {
        bl_sort(v, n);
        s = (spread){v[0], bl_pct(v, n, 0.5), v[n - 1], n};
    }
    if (keep)
        *keep = v;
    else
        free(v);
    return s;
}

static void figures(const run *r, int what, const char *label)
{
    spread ref = rates(r, what, 0, 2, NULL), rel = rates(r, what, 1, 1, NULL);
    printf("  %-10s /s  reference %zu windows: min %.0f, median %.0f, max %.0f; with reloads %zu "
           "windows: min %.0f, median %.0f, max %.0f\n",
           label, ref.n, ref.min, ref.med, ref.max, rel.n, rel.min, rel.med, rel.max);
    printf("  %-10s ratio to the reference median: min %.2f, median %.2f, max %.2f\n", label,
           rel.min / ref.med, rel.med / ref.med, rel.max / ref.med);
}

/* ---- the end ---- */

/* Until the store holds every alert sent and the filter ran on each (or 300 s). */
static int drain(run *r)
{
    double until = bl_now() + 300;
    uint64_t want = atomic_load(&r->sent);
    while (bl_now() < until) {
        json_t *s = status_of(r->ctl_addr);
        double stored = bl_jnum(s, "stored_alerts"), queue = bl_jnum(s, "queue");
        json_decref(s);
        if (stored >= (double)want && queue == 0)
            return 1;
        usleep(200000);
    }
    return 0;
}

typedef struct verdict {
    uint64_t sent, stored, lost, doubled, never_run, reruns, foreign, lines;
    sc_store_counts c;
    int verify;
} verdict;

static void check(run *r, verdict *v)
{
    uint64_t sent[SC_KINDS] = {0};
    uint8_t *found[SC_KINDS], *runs[SC_KINDS];
    int k = r->o.spool ? 0 : 1;
    sent[k] = v->sent = atomic_load(&r->sent);
    for (int i = 0; i < SC_KINDS; i++)
        if (!(found[i] = calloc(sent[i] + 1, 1)) || !(runs[i] = calloc(sent[i] + 1, 1)))
            bl_die("out of memory", NULL);
    int64_t n = sc_store_find(r->store, sent, found);
    if (n < 0 || sc_store_counts_get(r->store, &v->c))
        bl_die(r->store, "cannot be read");
    v->stored = (uint64_t)n;
    v->lost = v->sent - v->stored;
    v->doubled = v->c.alerts > v->stored ? v->c.alerts - v->stored : 0;
    v->lines = sc_runs_read(r->runs, sent, runs, &v->foreign);
    for (uint64_t i = 0; i < sent[k]; i++) {
        v->never_run += found[k][i] && !runs[k][i];
        v->reruns += runs[k][i] > 1 ? runs[k][i] - 1u : 0;
    }
    for (int i = 0; i < SC_KINDS; i++)
        free(found[i]), free(runs[i]);
    v->verify = sc_verify(r->o.exe, r->store);
}

int main(int argc, char **argv)
{
    run r = {0};
    parse(argc, argv, &r.o);
    char tmpl[] = "/tmp/scale_reload.XXXXXX";
    if (!r.o.work && !(r.o.work = mkdtemp(tmpl)))
        bl_die("mkdtemp", strerror(errno));
    sc_guard_signals();
    if (!(r.samples = calloc(MAX_SAMPLES, sizeof *r.samples)))
        bl_die("out of memory", NULL);
    double t0 = bl_now();
    files_write(&r);
    broker_start(&r);
    pthread_t feed, samp;
    if (pthread_create(&feed, NULL, feeder, &r) || pthread_create(&samp, NULL, sampler, &r))
        bl_die("pthread_create", NULL);
    bl_sleep_until(bl_now() + r.o.ref);
    atomic_store(&r.phase, 1);
    bl_ctl c;
    bl_ctl_open(&c, r.ctl_addr, 120);
    double tr = bl_now(), *walls = calloc(r.o.reloads + 1, sizeof *walls);
    unsigned ok = 0, refused = 0;
    for (unsigned i = 0; i < r.o.reloads; i++) {
        set_write(&r, (int)((i + 1) % 2));
        json_t *a = bl_ctl_ask(&c, "reload", &walls[i]);
        json_t *okv = json_object_get(a, "ok");
        if (json_is_true(okv))
            ok++;
        else if (refused++ < 5)
            fprintf(stderr, "scale_reload: reload %u: %s\n", i + 1,
                    a ? json_string_value(json_object_get(a, "error")) : "no answer");
        json_decref(a);
    }
    tr = bl_now() - tr;
    nn_close(c.sock);
    atomic_store(&r.phase, 2);
    bl_sleep_until(bl_now() + r.o.ref);
    atomic_store(&r.phase, 3);
    atomic_store(&r.stop_feed, 1);
    pthread_join(feed, NULL);
    int drained = drain(&r);
    atomic_store(&r.stop_sample, 1);
    pthread_join(samp, NULL);
    json_decref(sc_ctl(r.ctl_addr, "stop", 5));
    int st = 0;
    double until = bl_now() + 60;
    while (waitpid(r.pid, &st, WNOHANG) != r.pid && bl_now() < until)
        usleep(50000);
    if (bl_now() >= until) {
        kill(r.pid, SIGKILL);
        waitpid(r.pid, &st, 0);
    }
    verdict v = {0};
    check(&r, &v);
    char hms[32];
    bl_sort(walls, r.o.reloads);
    printf("scale_reload: %u reloads (%u accepted) in %.1f s under %.0f alerts/s by %s (feeder "
           "late %llu ticks of 10 ms), %s wall\n",
           r.o.reloads, ok, tr, r.o.rate, r.o.spool ? "spool" : "pull",
           (unsigned long long)r.late_ticks, sc_hms(bl_now() - t0, hms));
    printf("  reload    ctl round trip: median %.0f ms, p99 %.0f ms, max %.0f ms\n",
           1e3 * bl_pct(walls, r.o.reloads, 0.5), 1e3 * bl_pct(walls, r.o.reloads, 0.99),
           1e3 * bl_max(walls, r.o.reloads));
    figures(&r, 0, "stored");
    figures(&r, 1, "dispatched");
    printf("  sent      %llu\n  stored    %llu (store counters: %llu alerts, %llu loci)\n"
           "  lost      %llu\n  doubled   %llu\n"
           "  filter    %llu runs: %llu alerts never run, %llu runs again, %llu foreign lines\n"
           "  verify    %s\n",
           (unsigned long long)v.sent, (unsigned long long)v.stored, (unsigned long long)v.c.alerts,
           (unsigned long long)v.c.loci, (unsigned long long)v.lost, (unsigned long long)v.doubled,
           (unsigned long long)v.lines, (unsigned long long)v.never_run,
           (unsigned long long)v.reruns, (unsigned long long)v.foreign, v.verify ? "FAILED" : "ok");
    int pass = drained && !v.lost && !v.doubled && !v.never_run && !v.verify && ok == r.o.reloads &&
               WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (!drained)
        fprintf(stderr, "scale_reload: not everything was stored and dispatched within 300 s\n");
    printf("scale_reload: %s (work directory %s%s)\n", pass ? "PASS" : "FAIL", r.o.work,
           r.o.keep || !pass ? ", kept" : ", removed");
    if (pass && !r.o.keep) {
        char *cmd = NULL;
        if (asprintf(&cmd, "rm -rf '%s'", r.o.work) >= 0 && system(cmd) != 0)
            fprintf(stderr, "scale_reload: could not remove %s\n", r.o.work);
        free(cmd);
    }
    free(walls);
    free(r.samples);
    return pass ? 0 : 1;
}
