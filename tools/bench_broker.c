/*
 * bench_broker: the live broker's figures (skysieve run), measured from outside as a survey and a
 * subscriber see it: the broker is a child process with a config file; alerts are pushed to its
 * pull socket, tags are read from its publish socket, reloads go through its control socket.
 *
 * The filter set has 25 filters: lcstats.so and jump.so (C) and 23 generated Lua filters, each
 * reading the light curve (locus:lightcurve(band) or locus:light_curve()), computing a statistic
 * and writing a locus property of its own; the first also tags every locus "seen", so each alert
 * yields one published message.
 *
 *  R. reload: RELOADS `reload` requests, one after the other, to an idle broker running the set:
 *     the broker's own "seconds" (from the request until the new generation runs) and the round
 *     trip of the request as the client sees it; median and max.
 *  L. latency: alerts pushed at RATE alerts/s for SECONDS seconds; the latency of an alert is the
 *     time its "seen" message arrives minus the time it was handed to nn_send; p50, p99, max, and
 *     how many came back of those sent.
 *  T. throughput: ALERTS alerts pushed as fast as the broker takes them (PUSH blocks when it
 *     falls behind) until every one is tagged, once without reloads and once with a reload
 *     requested every RELOAD_EVERY seconds throughout.
 *
 * Every phase runs with each worker count of --workers, each run on a fresh broker and store in
 * the scratch directory. Alerts are generated (tools/gen.c): sources uniform on the sphere, EPOCHS
 * visits each in visit order (so many loci of a few alerts), sent as CSV messages of GROUP alerts
 * each (a header and GROUP rows; default 1, one alert per message as surveys send them). Within a
 * visit, --order source sends them at random places; --order field field by field, as a survey's
 * visits come, whose alerts then share the store's pages (keys follow the sky).
 *
 * Output: a table, then one JSON line with every figure (--json: the JSON line only).
 */
#include "bench_live.h"
#include "gen.h"
#include "gen_set.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>
#include <nanomsg/pubsub.h>
#include <nanomsg/reqrep.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NLUA        23
#define SEEN_TOPIC  "seen"
#define CSV_HEADER  "alert_id,ra,dec,mjd,passband,mag,magerr\n"
#define MAX_WORKERS 8

typedef struct opts {
    const char *exe, *filters_dir, *work, *phases;
    double rate, seconds, reload_every, stall;
    double commit_interval; /* [broker] commit_interval; negative: the broker's default */
    uint64_t alerts;
    int epochs, group, reloads, keep, json;
    int by_field; /* --order field: sources in the order a survey visits them */
    int workers[MAX_WORKERS], nworkers;
} opts;

/* ---- alerts ---- */

typedef struct alerts {
    char prefix[16];
    char *text; /* the CSV rows, one alert each */
    size_t *off;
    uint64_t n, nsrc;
    double *sent, *recv; /* monotonic seconds per alert, 0 when not yet */
} alerts;

static void alerts_make(alerts *a, const char *prefix, uint64_t n, int epochs, int by_field,
                        uint64_t seed)
{
    memset(a, 0, sizeof *a);
    snprintf(a->prefix, sizeof a->prefix, "%s", prefix);
    a->n = n;
    a->nsrc = (n + (uint64_t)epochs - 1) / (uint64_t)epochs;
    ss_rng r = {seed};
    gen_source *src = gen_sources(&r, a->nsrc);
    if (src && by_field && gen_order_by_field(&r, src, a->nsrc))
        bl_die("ordering the sources by field", "out of memory");
    size_t len = 0;
    FILE *f = open_memstream(&a->text, &len);
    if (!src || !f || gen_write_csv(f, &r, src, a->nsrc, (uint64_t)epochs, 0.2, 60000, prefix, 0) ||
        fclose(f))
        bl_die("generating alerts", strerror(errno));
    a->off = malloc((n + 1) * sizeof *a->off);
    a->sent = calloc(n, sizeof *a->sent);
    a->recv = calloc(n, sizeof *a->recv);
    if (!a->off || !a->sent || !a->recv)
        bl_die("out of memory", NULL);
    size_t pos = 0;
    for (uint64_t i = 0; i <= n; i++) {
        a->off[i] = pos;
        const char *nl = i < n ? memchr(a->text + pos, '\n', len - pos) : NULL;
        if (i < n && !nl)
            bl_die("generating alerts", "short");
        pos = nl ? (size_t)(nl - a->text) + 1 : pos;
    }
    free(src);
}

static void alerts_free(alerts *a)
{
    free(a->text), free(a->off), free(a->sent), free(a->recv);
}

/* The index of alert id "<prefix>-<epoch>-<source>" (@p len bytes), or -1. */
static int64_t alerts_index(void *ctx, const char *id, size_t len)
{
    const alerts *a = ctx;
    size_t pl = strlen(a->prefix);
    char buf[64];
    if (len <= pl + 1 || len >= sizeof buf || memcmp(id, a->prefix, pl) || id[pl] != '-')
        return -1;
    memcpy(buf, id, len);
    buf[len] = '\0';
    char *end;
    unsigned long long e = strtoull(buf + pl + 1, &end, 10);
    if (*end != '-')
        return -1;
    unsigned long long s = strtoull(end + 1, &end, 10);
    uint64_t idx = (uint64_t)e * a->nsrc + s;
    return *end || s >= a->nsrc || idx >= a->n ? -1 : (int64_t)idx;
}

/* A broker taking alerts from its pull socket. */
static void broker_start(bl_broker *b, const opts *o, const char *name, const char *set,
                         int workers)
{
    bl_broker_init(b, o->work, name);
    char *in = NULL, commit[64] = "";
    if (o->commit_interval >= 0) /* still in [broker]: the inputs follow its last key */
        snprintf(commit, sizeof commit, "commit_interval = %g\n", o->commit_interval);
    if (asprintf(&in, "%s[input pull]\naddress = %s\n", commit, b->in_addr) < 0)
        bl_die("out of memory", NULL);
    bl_broker_start(b, o->exe, in, set, workers);
    free(in);
}

/* Sum of one counter over the running generation's filters. */
static double filters_sum(json_t *st, const char *key)
{
    json_t *f;
    size_t i;
    double sum = 0;
    json_array_foreach(json_object_get(st, "filters"), i, f) sum += bl_jnum(f, key);
    return sum;
}

/* ---- sending ---- */

static int push_open(const char *address)
{
    int s = nn_socket(AF_SP, NN_PUSH), ms = 60000;
    if (s < 0 || nn_setsockopt(s, NN_SOL_SOCKET, NN_SNDTIMEO, &ms, sizeof ms) < 0 ||
        nn_connect(s, address) < 0)
        bl_die(address, nn_strerror(nn_errno()));
    return s;
}

/* One message of alerts [from, to) of @p a, CSV with its header. */
static int push_alerts(int sock, alerts *a, uint64_t from, uint64_t to, char **buf, size_t *cap)
{
    size_t hl = sizeof CSV_HEADER - 1, bl = a->off[to] - a->off[from];
    if (hl + bl > *cap) {
        *cap = (hl + bl) * 2;
        if (!(*buf = realloc(*buf, *cap)))
            bl_die("out of memory", NULL);
    }
    memcpy(*buf, CSV_HEADER, hl);
    memcpy(*buf + hl, a->text + a->off[from], bl);
    double t = bl_now();
    for (uint64_t i = from; i < to; i++)
        a->sent[i] = t;
    return nn_send(sock, *buf, hl + bl, 0) < 0 ? -1 : 0;
}

/* A warm-up alert (id "warm-..."): sent until its tag comes back, so the subscription is in place
 * and the workers have run once before anything is timed. Each try is a new alert: the same one
 * again would be a duplicate, stored once and dispatched once. */
static void warm_up(bl_broker *b, int push, bl_listener *l)
{
    char *buf = NULL;
    size_t cap = 0;
    double until = bl_now() + 30;
    for (int try = 0; !atomic_load(&l->warm); try++) {
        alerts w;
        char prefix[16];
        snprintf(prefix, sizeof prefix, "warm-%d", try);
        alerts_make(&w, prefix, 1, 1, 0, 1000 + (uint64_t)try);
        if (push_alerts(push, &w, 0, 1, &buf, &cap))
            bl_broker_fail(b, "the warm-up alert could not be sent");
        alerts_free(&w);
        double again = bl_now() + 0.5;
        while (!atomic_load(&l->warm) && bl_now() < again)
            usleep(2000);
        if (bl_now() > until || !bl_broker_alive(b))
            bl_broker_fail(b, "no tag for the warm-up alert within 30 s");
    }
    free(buf);
}

/* ---- R: reload time ---- */

typedef struct res_reload {
    int workers, n, failed;
    double med_s, max_s, med_wall, max_wall;
} res_reload;

static res_reload phase_reload(const opts *o, const char *set, int workers)
{
    bl_broker b;
    char name[32];
    snprintf(name, sizeof name, "reload-w%d", workers);
    broker_start(&b, o, name, set, workers);
    res_reload r = {.workers = workers};
    double *s = calloc((size_t)o->reloads, sizeof *s), *w = calloc((size_t)o->reloads, sizeof *w);
    bl_ctl c;
    bl_ctl_open(&c, b.ctl_addr, 120);
    for (int i = 0; i < o->reloads; i++) {
        usleep(200000);
        double wall;
        json_t *rep = bl_ctl_ask(&c, "reload", &wall);
        if (!json_is_true(json_object_get(rep, "ok"))) {
            char *text = rep ? json_dumps(rep, JSON_COMPACT) : NULL;
            fprintf(stderr, "bench_broker: reload %d failed: %s\n", i + 1,
                    text ? text : "no answer within 120 s");
            free(text);
            r.failed++;
        } else {
            s[r.n] = bl_jnum(rep, "seconds");
            w[r.n++] = wall;
        }
        json_decref(rep);
    }
    nn_close(c.sock);
    r.max_s = bl_max(s, (size_t)r.n), r.max_wall = bl_max(w, (size_t)r.n);
    r.med_s = bl_median(s, (size_t)r.n), r.med_wall = bl_median(w, (size_t)r.n);
    free(s), free(w);
    bl_broker_stop(&b, o->keep);
    return r;
}

/* ---- L: latency at a fixed rate ---- */

typedef struct res_latency {
    int workers;
    uint64_t sent, got, dups, published, alerts_in, queue;
    double rate, send_rate, max_lag, p50, p90, p99, max, mean;
    double tag_rate; /* alerts tagged per second while sending: below rate, it falls behind */
    double filter_errors;
} res_latency;

static res_latency phase_latency(const opts *o, const char *set, int workers)
{
    bl_broker b;
    char name[32];
    snprintf(name, sizeof name, "latency-w%d", workers);
    broker_start(&b, o, name, set, workers);
    alerts a;
    alerts_make(&a, name, (uint64_t)(o->rate * o->seconds), o->epochs, o->by_field,
                100 + (uint64_t)workers);
    bl_listener l;
    bl_listen_start(&l, b.pub_addr, SEEN_TOPIC, alerts_index, &a, a.recv);
    int push = push_open(b.in_addr);
    warm_up(&b, push, &l);
    res_latency r = {.workers = workers, .rate = o->rate};
    char *buf = NULL;
    size_t cap = 0;
    uint64_t g = (uint64_t)o->group;
    double t0 = bl_now() + 0.01;
    for (uint64_t i = 0; i < a.n; i += g) {
        double due = t0 + (double)i / o->rate, t = bl_now();
        if (t < due)
            bl_sleep_until(due);
        else if (t - due > r.max_lag)
            r.max_lag = t - due;
        if (push_alerts(push, &a, i, i + g < a.n ? i + g : a.n, &buf, &cap))
            bl_broker_fail(&b, "an alert could not be sent within 60 s");
        r.sent = i + g < a.n ? i + g : a.n;
    }
    double t_sent = bl_now();
    r.send_rate = (double)r.sent / (t_sent - t0);
    /* wait for the tags: until all came, or none came for STALL seconds */
    uint64_t got = 0;
    double progress = bl_now();
    while (atomic_load(&l.got) < r.sent && bl_now() - progress < o->stall) {
        usleep(50000);
        if (atomic_load(&l.got) != got)
            got = atomic_load(&l.got), progress = bl_now();
        if (!bl_broker_alive(&b))
            bl_broker_fail(&b, "the broker died");
    }
    usleep(200000); /* late duplicates, if any */
    json_t *st = bl_broker_status(&b);
    r.published = (uint64_t)bl_jnum(st, "published");
    r.alerts_in = (uint64_t)bl_jnum(st, "alerts_in");
    r.queue = (uint64_t)bl_jnum(st, "queue");
    r.filter_errors =
        filters_sum(st, "errors") + filters_sum(st, "crashes") + filters_sum(st, "timeouts");
    json_decref(st);
    bl_listen_stop(&l);
    r.got = atomic_load(&l.got);
    r.dups = atomic_load(&l.dups);
    double *lat = malloc((r.got ? r.got : 1) * sizeof *lat), sum = 0;
    size_t n = 0;
    uint64_t in_time = 0;
    for (uint64_t i = 0; i < a.n; i++)
        if (a.recv[i] > 0 && a.sent[i] > 0) {
            sum += lat[n++] = a.recv[i] - a.sent[i];
            in_time += a.recv[i] <= t_sent;
        }
    r.tag_rate = (double)in_time / (t_sent - t0);
    bl_sort(lat, n);
    r.p50 = bl_pct(lat, n, 0.50), r.p90 = bl_pct(lat, n, 0.90), r.p99 = bl_pct(lat, n, 0.99);
    r.max = n ? lat[n - 1] : NAN, r.mean = n ? sum / (double)n : NAN;
    if (r.got < r.sent)
        fprintf(stderr,
                "bench_broker: %s: %llu of %llu alerts sent came back tagged (broker: "
                "alerts_in=%llu published=%llu queue=%llu)\n",
                name, (unsigned long long)r.got, (unsigned long long)r.sent,
                (unsigned long long)r.alerts_in, (unsigned long long)r.published,
                (unsigned long long)r.queue);
    free(lat), free(buf);
    bl_broker_stop(&b, o->keep);
    nn_close(push); /* after the broker took everything */
    alerts_free(&a);
    return r;
}

/* ---- T: throughput, with and without reloads ---- */

typedef struct reloader {
    const char *address;
    double every;
    atomic_int stop;
    pthread_t th;
    double s[4096], wall[4096];
    int n, failed;
} reloader;

static void *reload_main(void *arg)
{
    reloader *r = arg;
    bl_ctl c;
    bl_ctl_open(&c, r->address, 120);
    double next = bl_now() + r->every;
    while (!atomic_load(&r->stop)) {
        if (bl_now() < next) {
            usleep(10000);
            continue;
        }
        next = bl_now() + r->every;
        double wall;
        json_t *rep = bl_ctl_ask(&c, "reload", &wall);
        if (json_is_true(json_object_get(rep, "ok")) && r->n < 4096) {
            r->s[r->n] = bl_jnum(rep, "seconds");
            r->wall[r->n++] = wall;
        } else if (!json_is_true(json_object_get(rep, "ok"))) {
            char *text = rep ? json_dumps(rep, JSON_COMPACT) : NULL;
            if (r->failed++ < 3)
                fprintf(stderr, "bench_broker: reload under load failed: %s\n",
                        text ? text : "no answer within 120 s");
            free(text);
        }
        json_decref(rep);
    }
    nn_close(c.sock);
    return NULL;
}

typedef struct res_tp {
    int workers, with_reloads, reloads, reload_failed, by_status, stalled;
    uint64_t n, got, alerts_in, published;
    double secs, rate, send_secs, reload_med, reload_max, wall_med, wall_max;
    double status_s, runs; /* a `status` round trip at the end; runs per filter by then */
} res_tp;

static res_tp phase_throughput(const opts *o, const char *set, int workers, int reloads)
{
    bl_broker b;
    char name[32];
    snprintf(name, sizeof name, "tp%s-w%d", reloads ? "-reload" : "", workers);
    broker_start(&b, o, name, set, workers);
    alerts a;
    alerts_make(&a, name, o->alerts, o->epochs, o->by_field, 200 + (uint64_t)workers);
    bl_listener l;
    bl_listen_start(&l, b.pub_addr, SEEN_TOPIC, alerts_index, &a, a.recv);
    int push = push_open(b.in_addr);
    warm_up(&b, push, &l);
    res_tp r = {.workers = workers, .with_reloads = reloads, .n = a.n};
    reloader *rl = reloads ? calloc(1, sizeof *rl) : NULL;
    if (rl) {
        rl->address = b.ctl_addr;
        rl->every = o->reload_every;
        if (pthread_create(&rl->th, NULL, reload_main, rl))
            bl_die("pthread_create", NULL);
    }
    char *buf = NULL;
    size_t cap = 0;
    uint64_t g = (uint64_t)o->group;
    double t0 = bl_now();
    for (uint64_t i = 0; i < a.n; i += g)
        if (push_alerts(push, &a, i, i + g < a.n ? i + g : a.n, &buf, &cap))
            bl_broker_fail(&b, "an alert could not be sent within 60 s");
    r.send_secs = bl_now() - t0;
    /* done: every tag came; or (tags lost on the way) the broker says all are in and dispatched.
     * The status is asked only when tags stop coming: the broker answers it in its event loop, and
     * it sorts every filter's run times for the percentiles, which takes long once runs pile up. */
    uint64_t got = 0;
    double progress = bl_now(), t_end = 0, t_status = 0, next_status = 0;
    json_t *st = NULL;
    while (!t_end) {
        usleep(20000);
        if (atomic_load(&l.got) == a.n) {
            t_end = atomic_load(&l.last);
            break;
        }
        if (atomic_load(&l.got) != got)
            got = atomic_load(&l.got), progress = bl_now();
        if (!bl_broker_alive(&b))
            bl_broker_fail(&b, "the broker died");
        if (bl_now() - progress > 2 && bl_now() >= next_status) {
            json_decref(st);
            st = bl_broker_status(&b);
            double in = bl_jnum(st, "alerts_in"), q = bl_jnum(st, "queue");
            if (in >= (double)a.n && q == 0 && !t_status)
                t_status = bl_now(); /* all dispatched: the last tags may still be on their way */
            next_status = bl_now() + 2;
        }
        if (t_status && bl_now() - t_status > 2 && atomic_load(&l.got) < a.n) {
            t_end = atomic_load(&l.last), r.by_status = 1; /* the last tag that did come */
            break;
        }
        if (bl_now() - progress > o->stall) {
            r.stalled = 1, t_end = bl_now();
            fprintf(stderr, "bench_broker: %s: no progress for %.0f s, %llu of %llu tagged\n", name,
                    o->stall, (unsigned long long)atomic_load(&l.got), (unsigned long long)a.n);
        }
    }
    if (rl) {
        atomic_store(&rl->stop, 1);
        pthread_join(rl->th, NULL);
        r.reloads = rl->n, r.reload_failed = rl->failed;
        r.reload_max = bl_max(rl->s, (size_t)rl->n), r.wall_max = bl_max(rl->wall, (size_t)rl->n);
        r.reload_med = bl_median(rl->s, (size_t)rl->n),
        r.wall_med = bl_median(rl->wall, (size_t)rl->n);
        free(rl);
    }
    r.secs = t_end - t0;
    r.rate = (double)a.n / r.secs;
    usleep(200000);
    json_decref(st);
    double t_st = bl_now();
    st = bl_broker_status(&b);
    r.status_s = bl_now() - t_st;
    r.runs = filters_sum(st, "runs") / 25;
    r.alerts_in = (uint64_t)bl_jnum(st, "alerts_in");
    r.published = (uint64_t)bl_jnum(st, "published");
    json_decref(st);
    bl_listen_stop(&l);
    r.got = atomic_load(&l.got);
    if (r.got < a.n)
        fprintf(stderr,
                "bench_broker: %s: %llu of %llu alerts came back tagged (broker: alerts_in=%llu "
                "published=%llu)\n",
                name, (unsigned long long)r.got, (unsigned long long)a.n,
                (unsigned long long)r.alerts_in, (unsigned long long)r.published);
    free(buf);
    bl_broker_stop(&b, o->keep);
    nn_close(push);
    alerts_free(&a);
    return r;
}

/* ---- main ---- */

static const char usage[] =
    "usage: bench_broker [--phase RLT] [--workers 1,2] [--rate 3300] [--seconds 30]\n"
    "                    [--alerts 100000] [--reloads 10] [--reload-every 1] [--epochs 5]\n"
    "                    [--group 1] [--order source|field] [--stall 60] [--skysieve PATH]\n"
    "                    [--filters DIR] [--commit-interval S] [--workdir DIR] [--keep] [--json]\n"
    "  R: reload time of the 25-filter set (median, max of --reloads, idle broker)\n"
    "  L: latency, alert sent to \"seen\" tag received, at --rate alerts/s for --seconds\n"
    "  T: throughput of --alerts alerts, without reloads and with one every --reload-every s\n"
    "  alerts: --epochs per source, --group per message (CSV); every phase per --workers count\n"
    "  --order: source (default) sends each epoch's alerts at random places on the sky; field\n"
    "           sends them field by field, as a survey observes (tools/gen.h)\n"
    "  --commit-interval: the broker's [broker] commit_interval (default: the broker's own)\n";

static double opt_num(const char *s, double lo)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= lo))
        bl_die("bad option value", s);
    return v;
}

int main(int argc, char **argv)
{
    static const struct option lopts[] = {
        {"phase", required_argument, 0, 'p'},
        {"workers", required_argument, 0, 'w'},
        {"rate", required_argument, 0, 'r'},
        {"seconds", required_argument, 0, 's'},
        {"alerts", required_argument, 0, 'a'},
        {"reloads", required_argument, 0, 'n'},
        {"reload-every", required_argument, 0, 'e'},
        {"epochs", required_argument, 0, 'E'},
        {"order", required_argument, 0, 'O'},
        {"group", required_argument, 0, 'g'},
        {"stall", required_argument, 0, 'S'},
        {"commit-interval", required_argument, 0, 'c'},
        {"skysieve", required_argument, 0, 'x'},
        {"filters", required_argument, 0, 'f'},
        {"workdir", required_argument, 0, 'd'},
        {"keep", no_argument, 0, 'k'},
        {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    opts o = {.exe = SS_BENCH_SKYSIEVE,
              .filters_dir = SS_BENCH_FILTERS_DIR,
              .phases = "RLT",
              .rate = 3300,
              .seconds = 30,
              .reload_every = 1,
              .stall = 60,
              .commit_interval = -1,
              .alerts = 100000,
              .epochs = 5,
              .group = 1,
              .reloads = 10,
              .workers = {1, 2},
              .nworkers = 2};
    int ch;
    while ((ch = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
        switch (ch) {
        case 'p': o.phases = optarg; break;
        case 'w':
            o.nworkers = 0;
            for (char *p = optarg; *p && o.nworkers < MAX_WORKERS;) {
                char *end;
                long v = strtol(p, &end, 10);
                if (end == p || v < 1 || v > 64)
                    bl_die("--workers wants counts such as 1,2, not", optarg);
                o.workers[o.nworkers++] = (int)v;
                p = *end == ',' ? end + 1 : end;
                if (*end && *end != ',')
                    bl_die("--workers wants counts such as 1,2, not", optarg);
            }
            break;
        case 'r': o.rate = opt_num(optarg, 1); break;
        case 's': o.seconds = opt_num(optarg, 0.1); break;
        case 'a': o.alerts = (uint64_t)opt_num(optarg, 1); break;
        case 'n': o.reloads = (int)opt_num(optarg, 1); break;
        case 'e': o.reload_every = opt_num(optarg, 0.01); break;
        case 'E': o.epochs = (int)opt_num(optarg, 1); break;
        case 'O':
            if (strcmp(optarg, "field") && strcmp(optarg, "source"))
                bl_die("--order is field or source", optarg);
            o.by_field = !strcmp(optarg, "field");
            break;
        case 'g': o.group = (int)opt_num(optarg, 1); break;
        case 'S': o.stall = opt_num(optarg, 1); break;
        case 'c': o.commit_interval = opt_num(optarg, 0); break;
        case 'x': o.exe = optarg; break;
        case 'f': o.filters_dir = optarg; break;
        case 'd': o.work = optarg; break;
        case 'k': o.keep = 1; break;
        case 'j': o.json = 1; break;
        default: fputs(usage, ch == 'h' ? stdout : stderr); return ch == 'h' ? 0 : 2;
        }
    }
    if (optind != argc || !o.nworkers || o.rate * o.seconds < 1) {
        fputs(usage, stderr);
        return 2;
    }
    if (access(o.exe, X_OK) != 0)
        bl_die(o.exe, "not an executable skysieve (--skysieve PATH)");
    signal(SIGPIPE, SIG_IGN);
    char tmpl[] = "/tmp/skysieve-benchb-XXXXXX";
    int own = !o.work;
    if (own && !(o.work = mkdtemp(tmpl)))
        bl_die("mkdtemp", strerror(errno));
    if (!own && mkdir(o.work, 0755) != 0 && errno != EEXIST)
        bl_die(o.work, strerror(errno));
    char *setdir = bl_path(o.work, "set");
    if (mkdir(setdir, 0755) != 0 && errno != EEXIST)
        bl_die(setdir, strerror(errno));
    char *set = gen_filter_set(setdir, o.filters_dir, NLUA, SEEN_TOPIC);
    if (!set)
        bl_die("writing the filter set", strerror(errno));

    res_reload rr[MAX_WORKERS];
    res_latency rl[MAX_WORKERS];
    res_tp rt[MAX_WORKERS][2];
    int do_r = !!strchr(o.phases, 'R'), do_l = !!strchr(o.phases, 'L'),
        do_t = !!strchr(o.phases, 'T');
    for (int i = 0; i < o.nworkers; i++) {
        int w = o.workers[i];
        if (do_r)
            rr[i] = phase_reload(&o, set, w);
        if (do_l)
            rl[i] = phase_latency(&o, set, w);
        if (do_t) {
            rt[i][0] = phase_throughput(&o, set, w, 0);
            rt[i][1] = phase_throughput(&o, set, w, 1);
        }
    }

    if (!o.json) {
        printf(
            "skysieve run, 25 filters (lcstats.so, jump.so, 23 Lua light-curve statistics);\n"
            "alerts as CSV over nanomsg PUSH, %d per message; %d alerts per locus, in %s order\n",
            o.group, o.epochs, o.by_field ? "field" : "source");
        if (do_r) {
            printf("\nR. reload of the 25-filter set, idle broker, %d reloads\n"
                   "   workers  broker seconds (median / max)  round trip (median / max)  failed\n",
                   o.reloads);
            for (int i = 0; i < o.nworkers; i++)
                printf("   %7d  %13.3f / %-13.3f  %10.3f / %-12.3f  %6d\n", rr[i].workers,
                       rr[i].med_s, rr[i].max_s, rr[i].med_wall, rr[i].max_wall, rr[i].failed);
        }
        if (do_l) {
            printf("\nL. latency, alert sent -> \"seen\" received, %.0f alerts/s for %.0f s\n"
                   "   tagged/s: alerts tagged per second while sending (below sent/s: the\n"
                   "   broker falls behind, and latency grows with the length of the run)\n"
                   "   workers  sent/s  tagged/s    p50 ms    p90 ms    p99 ms    max ms  "
                   "received/sent  sender late, max ms\n",
                   o.rate, o.seconds);
            for (int i = 0; i < o.nworkers; i++)
                printf("   %7d  %6.0f  %8.0f  %8.1f  %8.1f  %8.1f  %8.1f  %6llu/%-6llu  %8.1f\n",
                       rl[i].workers, rl[i].send_rate, rl[i].tag_rate, rl[i].p50 * 1e3,
                       rl[i].p90 * 1e3, rl[i].p99 * 1e3, rl[i].max * 1e3,
                       (unsigned long long)rl[i].got, (unsigned long long)rl[i].sent,
                       rl[i].max_lag * 1e3);
        }
        if (do_t) {
            printf("\nT. throughput, %llu alerts sent as fast as taken, until all are tagged;\n"
                   "   status s: round trip of one `ctl status` once they are (the broker is busy\n"
                   "   with nothing else then)\n"
                   "   workers  reloads      alerts/s  seconds  (sending)  status s  reloads done, "
                   "broker s median / max\n",
                   (unsigned long long)o.alerts);
            for (int i = 0; i < o.nworkers; i++)
                for (int k = 0; k < 2; k++) {
                    const res_tp *t = &rt[i][k];
                    char every[32];
                    snprintf(every, sizeof every, "every %g s", o.reload_every);
                    printf("   %7d  %-10s  %8.0f  %7.1f  (%7.1f)  %8.3f", t->workers,
                           k ? every : "none", t->rate, t->secs, t->send_secs, t->status_s);
                    if (k)
                        printf("  %d, %.3f / %.3f%s", t->reloads, t->reload_med, t->reload_max,
                               t->reload_failed ? " (some failed)" : "");
                    printf("%s%s\n",
                           t->by_status ? "  [tags lost: ended at the last one received]" : "",
                           t->stalled ? "  [STALLED]" : "");
                }
        }
    }
    /* one JSON line with everything */
    json_t *out = json_object(), *a;
    json_object_set_new(out, "bench", json_string("broker"));
    json_object_set_new(out, "filters", json_integer(25));
    json_object_set_new(out, "alerts_per_message", json_integer(o.group));
    json_object_set_new(out, "alerts_per_locus", json_integer(o.epochs));
    json_object_set_new(out, "order", json_string(o.by_field ? "field" : "source"));
    if (do_r) {
        json_object_set_new(out, "reload", a = json_array());
        for (int i = 0; i < o.nworkers; i++)
            json_array_append_new(a, json_pack("{s:i, s:i, s:i, s:f, s:f, s:f, s:f}", "workers",
                                               rr[i].workers, "reloads", rr[i].n, "failed",
                                               rr[i].failed, "seconds_median", rr[i].med_s,
                                               "seconds_max", rr[i].max_s, "round_trip_median",
                                               rr[i].med_wall, "round_trip_max", rr[i].max_wall));
    }
    if (do_l) {
        json_object_set_new(out, "latency", a = json_array());
        for (int i = 0; i < o.nworkers; i++)
            json_array_append_new(
                a, json_pack("{s:i, s:f, s:f, s:f, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:f, "
                             "s:f, s:I, s:I, s:f}",
                             "workers", rl[i].workers, "rate", rl[i].rate, "seconds", o.seconds,
                             "sent_per_second", rl[i].send_rate, "sent", (json_int_t)rl[i].sent,
                             "received", (json_int_t)rl[i].got, "duplicates",
                             (json_int_t)rl[i].dups, "p50_ms", rl[i].p50 * 1e3, "p90_ms",
                             rl[i].p90 * 1e3, "p99_ms", rl[i].p99 * 1e3, "max_ms", rl[i].max * 1e3,
                             "mean_ms", rl[i].mean * 1e3, "sender_late_max_ms", rl[i].max_lag * 1e3,
                             "broker_published", (json_int_t)rl[i].published, "filter_failures",
                             (json_int_t)rl[i].filter_errors, "tagged_per_second_while_sending",
                             rl[i].tag_rate));
    }
    if (do_t) {
        json_object_set_new(out, "throughput", a = json_array());
        for (int i = 0; i < o.nworkers; i++)
            for (int k = 0; k < 2; k++) {
                const res_tp *t = &rt[i][k];
                json_array_append_new(
                    a,
                    json_pack("{s:i, s:f, s:I, s:I, s:f, s:f, s:f, s:i, s:i, s:f, s:f, "
                              "s:b, s:b, s:f, s:f}",
                              "workers", t->workers, "reload_every_s", k ? o.reload_every : 0.0,
                              "alerts", (json_int_t)t->n, "received", (json_int_t)t->got, "seconds",
                              t->secs, "alerts_per_second", t->rate, "sending_seconds",
                              t->send_secs, "reloads", t->reloads, "reloads_failed",
                              t->reload_failed, "reload_seconds_median", k ? t->reload_med : 0.0,
                              "reload_seconds_max", k ? t->reload_max : 0.0, "ended_by_status",
                              t->by_status, "stalled", t->stalled, "status_round_trip_s",
                              t->status_s, "runs_per_filter", t->runs));
            }
    }
    char *text = json_dumps(out, JSON_COMPACT | JSON_REAL_PRECISION(6));
    printf("%s%s\n", o.json ? "" : "\n", text ? text : "{}");
    free(text);
    json_decref(out);

    if (!o.keep) {
        char *cmd = NULL;
        if (asprintf(&cmd, "rm -rf '%s'", setdir) >= 0 && system(cmd) != 0)
            fprintf(stderr, "bench_broker: could not remove %s\n", setdir);
        free(cmd);
        if (own && rmdir(o.work) != 0)
            fprintf(stderr, "bench_broker: could not remove %s: %s\n", o.work, strerror(errno));
    }
    free(setdir), free(set);
    return 0;
}
