/*
 * The live broker (skysieve run, ctl, send) driven as a process, as an operator drives it: filter
 * set reloads under continuous ingest, failed reloads, filters that crash or hang their worker,
 * kill -9 and restart, the control socket over tcp with a secret, disabling filters, backpressure.
 *
 * Every alert goes through tests/filters/count.lua, which counts its runs per locus (tf_count) and
 * stamps each triggering alert (tf_seq, tf_gen): a locus whose tf_count equals its number of
 * alerts, whose alerts hold tf_seq 1..n each once and all carry tf_gen had each alert dispatched
 * exactly once. The store is read with the skysieve commands (loci, locus, stats, verify).
 *
 * Each test has its own scratch directory (tu_tmp) holding the config, the store, the spool, the
 * broker's log and every ipc:// address. A failed check prints the end of the broker's log.
 */
#include "testutil.h"

#include "broker.h"
#include "filters.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define COUNT_LUA     SS_SOURCE_DIR "/tests/filters/count.lua"
#define TF(kind)      SS_TEST_FILTERS_DIR "/tf_" kind ".so"
#define CTL_TIMEOUT   10   /* seconds the tests' own ctl calls wait for a reply (ctl's default) */
#define FEED_MAX      4000 /* rounds of a feeder at most */
#define MAX_LOG_BYTES 24000

/* ---- the broker under test, and what the teardown must end ---- */

static struct {
    char *conf;      /* the broker's config file */
    char *log;       /* its stderr (and stdout), printed when a check fails */
    char *sendlog;   /* output of the `skysieve send` runs */
    pid_t pid;       /* the running broker, 0 when none */
    int last_status; /* wait status of the broker that ended last */
    pid_t kids[8];   /* feeders and listeners */
    size_t nkids;
} B;

static void dump_logs(void)
{
    tu_dump_tail("broker log", B.log, MAX_LOG_BYTES);
    tu_dump_tail("send log", B.sendlog, MAX_LOG_BYTES);
}

/* ck_assert_msg() that first prints the broker's log. */
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            dump_logs();                                                                           \
            ck_abort_msg(__VA_ARGS__);                                                             \
        }                                                                                          \
    } while (0)

static void setup(void)
{
    tu_tmp_setup();
    memset(&B, 0, sizeof B);
    B.conf = tu_path(tu_tmp, "broker.ini");
    B.log = tu_path(tu_tmp, "broker.log");
    B.sendlog = tu_path(tu_tmp, "send.log");
    char *spool = tu_path(tu_tmp, "spool"), *outbox = tu_path(tu_tmp, "outbox");
    ck_assert_int_eq(mkdir(spool, 0755), 0);
    ck_assert_int_eq(mkdir(outbox, 0755), 0);
    free(spool), free(outbox);
}

/* After a passing test. A failed check ends the test process at once (no teardown): Check then
 * kills the test's process group, which holds the broker, its workers and the feeders (none of
 * them leaves it). */
static void teardown(void)
{
    if (B.pid > 0) {
        kill(B.pid, SIGKILL);
        waitpid(B.pid, NULL, 0);
    }
    for (size_t i = 0; i < B.nkids; i++)
        if (B.kids[i] > 0) {
            kill(B.kids[i], SIGKILL);
            waitpid(B.kids[i], NULL, 0);
        }
    free(B.conf), free(B.log), free(B.sendlog);
    memset(&B, 0, sizeof B);
    tu_tmp_teardown();
}

/* Forget a child the test has reaped itself. */
static void kid_done(pid_t pid)
{
    for (size_t i = 0; i < B.nkids; i++)
        if (B.kids[i] == pid)
            B.kids[i] = 0;
}

static void kid_add(pid_t pid)
{
    ck_assert_uint_lt(B.nkids, sizeof B.kids / sizeof *B.kids);
    B.kids[B.nkids++] = pid;
}

/* ---- running commands ---- */

/*
 * Run @p argv (no shell), output appended to @p log (or dropped), for @p secs at most.
 * @return its exit status, 128 + the signal that ended it, or -1 when killed at the deadline.
 * No Check calls: the feeder child uses it.
 */
static int run_argv(char *const argv[], double secs, const char *log)
{
    pid_t pid = fork();
    if (pid < 0)
        return -2;
    if (pid == 0) {
        int fd = open(log ? log : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    double end = tu_now_s() + secs;
    int st;
    for (;;) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (tu_now_s() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        tu_sleep_ms(5);
    }
}

/* ---- JSON ---- */

/* The value at a dotted path ("spool.done"), or NULL. */
static json_t *jget(json_t *j, const char *path)
{
    char key[128];
    while (j && *path) {
        size_t n = strcspn(path, ".");
        snprintf(key, sizeof key, "%.*s", (int)n, path);
        j = json_object_get(j, key);
        path += n + (path[n] == '.');
    }
    return j;
}

static long jint(json_t *j, const char *path)
{
    json_t *v = jget(j, path);
    CHECK(json_is_integer(v), "no integer '%s' in %s", path, tu_json_text(j));
    return (long)json_integer_value(v);
}

static const char *jstr(json_t *j, const char *path)
{
    json_t *v = jget(j, path);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* ---- the broker's lifecycle ---- */

static const char *describe_status(int st)
{
    static char buf[64];
    if (WIFEXITED(st))
        snprintf(buf, sizeof buf, "exited with status %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(buf, sizeof buf, "was killed by signal %d", WTERMSIG(st));
    else
        snprintf(buf, sizeof buf, "ended (wait status %#x)", st);
    return buf;
}

/* Start `skysieve run --config B.conf`, stdout and stderr appended to B.log. */
static void bk_start(void)
{
    ck_assert_int_eq(B.pid, 0);
    int fd = open(B.log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    ck_assert_int_ge(fd, 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        dup2(in, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(SS_BINARY, SS_BINARY, "run", "--config", B.conf, (char *)NULL);
        _exit(127);
    }
    close(fd);
    B.pid = pid;
}

/* 1 when the broker has ended (its wait status then in B.last_status). */
static int bk_ended(void)
{
    int st;
    if (B.pid == 0)
        return 1;
    if (waitpid(B.pid, &st, WNOHANG) != B.pid)
        return 0;
    B.last_status = st;
    B.pid = 0;
    return 1;
}

static void bk_check_running(const char *while_doing)
{
    CHECK(!bk_ended(), "the broker %s while %s", describe_status(B.last_status), while_doing);
}

/* Run `skysieve ctl --config B.conf --timeout CTL_TIMEOUT ARGS`: its exit status; the reply parsed
 * in *reply (NULL when stdout is not JSON), stderr in *err (either may be NULL). */
static int ctl(json_t **reply, char **err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int ctl(json_t **reply, char **err, const char *fmt, ...)
{
    char *args = NULL, *out = NULL;
    va_list ap;
    va_start(ap, fmt);
    ck_assert_int_ge(vasprintf(&args, fmt, ap), 0);
    va_end(ap);
    int rc = tu_sks(&out, err, "ctl --config '%s' --timeout %d %s", B.conf, CTL_TIMEOUT, args);
    if (reply)
        *reply = json_loads(out, 0, NULL);
    free(out);
    free(args);
    return rc;
}

/* Wait until the broker answers `ctl status` and its first filter set, if any, has loaded (failing
 * at once when it ends instead). */
static void bk_wait_ready(double secs)
{
    double end = tu_now_s() + secs;
    for (;;) {
        bk_check_running("starting (before it answered ctl status)");
        char *out = NULL;
        if (tu_sks(&out, NULL, "ctl --config '%s' --timeout 1 status", B.conf) == 0) {
            json_t *r = json_loads(out, 0, NULL);
            CHECK(json_is_true(json_object_get(r, "ok")) && json_is_object(jget(r, "status")),
                  "ctl status exited 0 with another reply than {\"ok\":true,\"status\":{...}}: %s",
                  out);
            /* ready once the first filter set runs: it loads after the socket answers */
            int loading = json_object_get(jget(r, "status"), "loading_generation") != NULL;
            json_decref(r);
            if (!loading)
                return free(out);
        }
        free(out);
        CHECK(tu_now_s() < end, "the broker was not ready (ctl status) within %.0f s", secs);
        tu_sleep_ms(50);
    }
}

/* The "status" object of `ctl status` (the caller owns it). */
static json_t *bk_status(void)
{
    json_t *r = NULL;
    char *err = NULL;
    int rc = ctl(&r, &err, "status");
    CHECK(rc == 0 && json_is_object(jget(r, "status")), "ctl status exited %d: %s", rc, err);
    json_t *st = json_incref(jget(r, "status"));
    json_decref(r);
    free(err);
    return st;
}

/* Wait for the broker to exit 0 within @p secs of @p what (a graceful stop). */
static void bk_wait_exit(double secs, const char *what)
{
    double end = tu_now_s() + secs;
    while (!bk_ended()) {
        CHECK(tu_now_s() < end, "the broker did not stop within %.0f s of %s", secs, what);
        tu_sleep_ms(20);
    }
    CHECK(WIFEXITED(B.last_status) && WEXITSTATUS(B.last_status) == 0,
          "the broker %s after %s (a graceful stop: expected exit status 0)",
          describe_status(B.last_status), what);
}

/* Stop the broker gracefully: with @p sig (SIGTERM, SIGINT), or `ctl stop` for 0; it must exit 0
 * within @p secs. */
static void bk_stop(int sig, double secs)
{
    CHECK(B.pid > 0, "no broker to stop");
    if (sig)
        kill(B.pid, sig);
    else {
        json_t *r = NULL;
        char *err = NULL;
        int rc = ctl(&r, &err, "stop");
        CHECK(rc == 0 && json_is_true(json_object_get(r, "ok")), "ctl stop exited %d: %s %s", rc,
              tu_json_text(r), err);
        json_decref(r);
        free(err);
    }
    bk_wait_exit(secs, sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "ctl stop");
}

static void bk_kill9(void)
{
    CHECK(B.pid > 0, "no broker to kill");
    kill(B.pid, SIGKILL);
    waitpid(B.pid, &B.last_status, 0);
    B.pid = 0;
}

/* ---- configuration ---- */

/* Write the broker's config B.conf: [broker] (with @p broker_extra lines), [input spool], then
 * @p rest. Relative paths: the config file's directory, tu_tmp. */
static void write_conf(const char *broker_extra, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void write_conf(const char *broker_extra, const char *fmt, ...)
{
    char *rest = NULL, *text = NULL;
    va_list ap;
    va_start(ap, fmt);
    ck_assert_int_ge(vasprintf(&rest, fmt, ap), 0);
    va_end(ap);
    ck_assert_int_ge(asprintf(&text,
                              "[broker]\nstore = store\nrun_dir = run\nmap_size = 64M\n"
                              "log_level = info\nstats_interval = 1\n%s\n"
                              "[input spool]\ndir = spool\npoll = 0.05\n\n%s",
                              broker_extra, rest),
                     0);
    free(tu_write(tu_tmp, "broker.ini", text));
    free(rest), free(text);
}

/* Write the filter set tu_tmp/set.ini (whole, by rename: a reload never reads half of it). */
static void write_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void write_set(const char *fmt, ...)
{
    char *text = NULL;
    va_list ap;
    va_start(ap, fmt);
    ck_assert_int_ge(vasprintf(&text, fmt, ap), 0);
    va_end(ap);
    char *tmp = tu_write(tu_tmp, ".set.ini.new", text), *path = tu_path(tu_tmp, "set.ini");
    ck_assert_int_eq(rename(tmp, path), 0);
    free(tmp), free(path), free(text);
}

/* The [filter count] section: count.lua stamping generation @p gen. */
static void write_count_set(const char *gen)
{
    write_set("[filter count]\npath = %s\nsetup.gen = %s\n", COUNT_LUA, gen);
}

/* ---- alerts ---- */

/*
 * Write @p n tuple alerts to @p path: ids "<stream><round>-<k>", over @p nsrc sources 36" apart
 * (the association radius is 1"), so that each source is one locus and gets several alerts.
 * @return 0, or -1. No Check calls: the feeder child uses it.
 */
static int write_alerts(const char *path, char stream, int round, int n, int nsrc)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs("alert_id,ra,dec,mjd,passband,mag,magerr\n", f);
    for (int k = 0; k < n; k++) {
        int src = (round * n + k + stream * 7) % nsrc;
        fprintf(f, "%c%d-%d,%.6f,%.6f,%.6f,%c,%.2f,0.05\n", stream, round, k, 150 + src * 0.01,
                -5 + (src % 4) * 0.02, 60000 + (stream - 'a') * 100 + round * 0.01 + k * 1e-5,
                "gr"[k % 2], 18 + (k % 10) * 0.1);
    }
    return fclose(f) == 0 ? 0 : -1;
}

/* Put a file of alerts into the spool: written under a '.' name, then renamed in. */
static int spool_drop(char stream, int round, int n, int nsrc)
{
    char tmp[PATH_MAX], dst[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s/spool/.%c%04d.part", tu_tmp, stream, round);
    snprintf(dst, sizeof dst, "%s/spool/%c%04d.csv", tu_tmp, stream, round);
    if (write_alerts(tmp, stream, round, n, nsrc) != 0)
        return -1;
    return rename(tmp, dst);
}

static void drop(char stream, int round, int n, int nsrc)
{
    CHECK(spool_drop(stream, round, n, nsrc) == 0, "cannot write spool file %c%04d", stream, round);
}

/* `skysieve send ADDRESS FILE` for a file of alerts: its exit status, -1 past @p secs. */
static int send_alerts(const char *address, char stream, int round, int n, int nsrc, double secs)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/outbox/%c%04d.csv", tu_tmp, stream, round);
    if (write_alerts(path, stream, round, n, nsrc) != 0)
        return -2;
    char *argv[] = {(char *)SS_BINARY, "send", (char *)address, path, NULL};
    return run_argv(argv, secs, B.sendlog);
}

/* Count the entries of @p dir (relative to tu_tmp) that are files not named with a leading '.'.
 * @return -1 when the directory does not exist. */
static int count_files(const char *dir)
{
    char *path = tu_path(tu_tmp, dir);
    DIR *d = opendir(path);
    free(path);
    if (!d)
        return -1;
    int n = 0;
    struct stat st;
    for (struct dirent *e; (e = readdir(d));)
        n +=
            e->d_name[0] != '.' && fstatat(dirfd(d), e->d_name, &st, 0) == 0 && S_ISREG(st.st_mode);
    closedir(d);
    return n;
}

/*
 * ---- feeders: child processes that keep dropping spool files, or sending files ----
 * Two of them, so that a send blocked by a broker that is down does not hold the spool back.
 */

typedef struct feed {
    const char *pull;   /* send a file of 'p' alerts to this address each round; NULL: drop a
                           file of 's' alerts into the spool */
    int n, nsrc;        /* alerts per file, sources */
    int min_rounds;     /* rounds before the stop file is looked at */
    int pace_ms;        /* pause between rounds */
    double send_secs;   /* deadline of one send */
    pid_t pid;          /* the feeder */
    int rounds;         /* after feed_finish(): rounds done */
    int sent[FEED_MAX]; /* after feed_finish(): exit status of each round's send (-1 timeout) or
                           spool drop */
} feed;

static char *feed_result(const feed *f)
{
    return tu_path(tu_tmp, f->pull ? "feed-pull.result" : "feed-spool.result");
}

static void feeder_main(feed *f, const char *stop, const char *result)
{
    int r;
    for (r = 0; r < FEED_MAX; r++) {
        if (r >= f->min_rounds && access(stop, F_OK) == 0)
            break;
        if (f->pull)
            f->sent[r] = send_alerts(f->pull, 'p', r, f->n, f->nsrc, f->send_secs);
        else if ((f->sent[r] = spool_drop('s', r, f->n, f->nsrc)) != 0)
            _exit(3);
        tu_sleep_ms(f->pace_ms);
    }
    FILE *out = fopen(result, "w");
    if (!out)
        _exit(4);
    fprintf(out, "%d\n", r);
    for (int i = 0; i < r; i++)
        fprintf(out, "%d\n", f->sent[i]);
    _exit(fclose(out) == 0 ? 0 : 4);
}

static void feed_start(feed *f)
{
    char *stop = tu_path(tu_tmp, "feed.stop"), *result = feed_result(f);
    f->pid = fork();
    ck_assert_int_ge(f->pid, 0);
    if (f->pid == 0)
        feeder_main(f, stop, result);
    kid_add(f->pid);
    free(stop), free(result);
}

/* Tell the feeders to stop, wait for this one and read what it did. */
static void feed_finish(feed *f)
{
    free(tu_write(tu_tmp, "feed.stop", ""));
    double end = tu_now_s() + 120;
    int st;
    while (waitpid(f->pid, &st, WNOHANG) != f->pid) {
        CHECK(tu_now_s() < end, "the feeder did not finish");
        tu_sleep_ms(20);
    }
    kid_done(f->pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the feeder %s", describe_status(st));
    char *result = feed_result(f);
    FILE *in = fopen(result, "r");
    ck_assert_ptr_nonnull(in);
    ck_assert_int_eq(fscanf(in, "%d", &f->rounds), 1);
    for (int i = 0; i < f->rounds; i++)
        ck_assert_int_eq(fscanf(in, "%d", &f->sent[i]), 1);
    fclose(in);
    free(result);
}

/* ---- reading the store ---- */

typedef struct seen_alert {
    char *id;
    char *gen; /* tf_gen, NULL when absent */
    int flag;  /* tf_flag (tf_good) is set */
} seen_alert;

typedef struct store_scan {
    seen_alert *a;
    size_t n, cap;
    size_t loci;
    char problem[768]; /* the first inconsistency found, "" when none */
} store_scan;

static void scan_free(store_scan *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->a[i].id), free(s->a[i].gen);
    free(s->a);
    memset(s, 0, sizeof *s);
}

static int seen_cmp(const void *x, const void *y)
{
    return strcmp(((const seen_alert *)x)->id, ((const seen_alert *)y)->id);
}

/* Record the first problem only. */
static void scan_problem(store_scan *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void scan_problem(store_scan *s, const char *fmt, ...)
{
    if (s->problem[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->problem, sizeof s->problem, fmt, ap);
    va_end(ap);
}

static void scan_locus(const char *store, const char *id, store_scan *s)
{
    char *out = NULL, *err = NULL;
    int rc = tu_sks(&out, &err, "locus --store '%s' '%s'", store, id);
    CHECK(rc == 0, "skysieve locus %s exited %d: %s", id, rc, err);
    json_t *j = json_loads(out, 0, NULL);
    CHECK(j, "skysieve locus %s printed no JSON: %s", id, out);
    json_t *alerts = json_object_get(j, "alerts");
    size_t n = json_array_size(alerts);
    json_t *count = jget(j, "properties.tf_count");
    long runs = json_is_integer(count) ? (long)json_integer_value(count) : 0;
    char *seq_seen = calloc(n + 1, 1);
    for (size_t i = 0; i < n; i++) {
        json_t *a = json_array_get(alerts, i), *p = json_object_get(a, "properties");
        const char *aid = jstr(a, "alert_id"), *gen = jstr(p, "tf_gen");
        json_t *seq = json_object_get(p, "tf_seq");
        if (s->n == s->cap)
            s->a = realloc(s->a, (s->cap = s->cap ? 2 * s->cap : 1024) * sizeof *s->a);
        ck_assert_ptr_nonnull(s->a);
        json_t *flag = json_object_get(p, "tf_flag");
        s->a[s->n++] = (seen_alert){strdup(aid ? aid : "?"), gen ? strdup(gen) : NULL,
                                    flag && !json_is_null(flag)};
        long q = json_is_integer(seq) ? (long)json_integer_value(seq) : 0;
        if (!gen)
            scan_problem(s, "locus %s: alert %s was not processed by count.lua (no tf_gen)", id,
                         aid);
        else if (q < 1 || (size_t)q > n || seq_seen[q]++)
            scan_problem(s,
                         "locus %s: alert %s has tf_seq %ld: the %zu alerts' tf_seq should be "
                         "1..%zu, each once (an alert dispatched twice, or a lost update)",
                         id, aid, q, n, n);
    }
    if (runs != (long)n)
        scan_problem(s,
                     "locus %s: tf_count is %ld but it has %zu alerts (each alert must be "
                     "dispatched exactly once)",
                     id, runs, n);
    free(seq_seen);
    json_decref(j);
    free(out), free(err);
}

/* Read every locus of @p store (the broker may be running): its alerts, their stamps, and the first
 * inconsistency. s->a ends sorted by alert id. */
static void scan_store(const char *store, store_scan *s)
{
    memset(s, 0, sizeof *s);
    char *out = NULL, *err = NULL;
    int rc = tu_sks(&out, &err, "loci --store '%s'", store);
    CHECK(rc == 0, "skysieve loci exited %d: %s", rc, err);
    for (char *line = out, *next; *line; line = next) {
        next = strchr(line, '\n');
        next = next ? (*next = '\0', next + 1) : line + strlen(line);
        if (!*line)
            continue;
        json_t *l = json_loads(line, 0, NULL);
        const char *id = jstr(l, "locus_id");
        CHECK(id, "a line of skysieve loci has no locus_id: %s", line);
        scan_locus(store, id, s);
        s->loci++;
        json_decref(l);
    }
    free(out), free(err);
    if (s->n)
        qsort(s->a, s->n, sizeof *s->a, seen_cmp);
    for (size_t i = 1; i < s->n; i++)
        if (!strcmp(s->a[i - 1].id, s->a[i].id))
            scan_problem(s, "alert %s is stored twice", s->a[i].id);
}

static const seen_alert *scan_find(const store_scan *s, const char *id)
{
    seen_alert key = {(char *)id, NULL, 0};
    return s->n ? bsearch(&key, s->a, s->n, sizeof *s->a, seen_cmp) : NULL;
}

static char *store_path(void)
{
    return tu_path(tu_tmp, "store");
}

/* `skysieve stats` of the test's store: the "alerts" count, or -1 when there is no store yet. */
static long stored_alerts(void)
{
    char *out = NULL, *store = store_path();
    long n = -1;
    if (tu_sks(&out, NULL, "stats --store '%s'", store) == 0) {
        json_t *j = json_loads(out, 0, NULL);
        n = json_is_integer(json_object_get(j, "alerts"))
                ? (long)json_integer_value(json_object_get(j, "alerts"))
                : -1;
        json_decref(j);
    }
    free(out), free(store);
    return n;
}

/* Wait until the store holds exactly @p expected alerts, each processed once by count.lua (a scan
 * without problems); the scan is left in *s. Stored-alert counts are polled first (cheap). */
static void wait_processed(size_t expected, double secs, store_scan *s)
{
    double end = tu_now_s() + secs;
    char *store = store_path();
    long have;
    while ((have = stored_alerts()) != (long)expected) {
        if (B.pid)
            bk_check_running("ingesting");
        CHECK(tu_now_s() < end, "after %.0f s the store holds %ld alerts, %zu expected", secs, have,
              expected);
        tu_sleep_ms(100);
    }
    for (;;) {
        scan_store(store, s);
        if (s->n == expected && !s->problem[0])
            break;
        if (B.pid)
            bk_check_running("running the filters");
        CHECK(tu_now_s() < end, "after %.0f s: %zu alerts in the loci (%zu expected); %s", secs,
              s->n, expected, s->problem[0] ? s->problem : "no inconsistency");
        scan_free(s);
        tu_sleep_ms(200);
    }
    free(store);
}

/* ---- ids expected in the store ---- */

typedef struct idlist {
    char **v;
    size_t n, cap;
} idlist;

static void ids_add(idlist *l, char stream, int round, int n)
{
    for (int k = 0; k < n; k++) {
        if (l->n == l->cap)
            l->v = realloc(l->v, (l->cap = l->cap ? 2 * l->cap : 1024) * sizeof *l->v);
        ck_assert_ptr_nonnull(l->v);
        ck_assert_int_ge(asprintf(&l->v[l->n++], "%c%d-%d", stream, round, k), 0);
    }
}

static int str_cmp(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static void ids_free(idlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* Every id of @p must is stored; every stored id is in @p must or @p may (may be NULL). */
static void check_ids(const store_scan *s, idlist *must, idlist *may)
{
    for (size_t i = 0; i < must->n; i++)
        CHECK(scan_find(s, must->v[i]), "alert %s is not in the store (%zu of %zu alerts stored)",
              must->v[i], s->n, must->n);
    if (must->n)
        qsort(must->v, must->n, sizeof *must->v, str_cmp);
    if (may && may->n)
        qsort(may->v, may->n, sizeof *may->v, str_cmp);
    for (size_t i = 0; i < s->n; i++) {
        const char *id = s->a[i].id;
        int known = (must->n && bsearch(&id, must->v, must->n, sizeof *must->v, str_cmp)) ||
                    (may && may->n && bsearch(&id, may->v, may->n, sizeof *may->v, str_cmp));
        CHECK(known, "the store holds alert %s, which no input had", id);
    }
}

/* ---- status ---- */

/* The entry of filter @p label in a status (borrowed). */
static json_t *filter_of(json_t *status, const char *label)
{
    json_t *fs = json_object_get(status, "filters"), *f;
    size_t i;
    CHECK(json_is_array(fs), "status has no \"filters\" array: %s", tu_json_text(status));
    json_array_foreach(fs, i, f)
    {
        const char *l = jstr(f, "label");
        if (l && !strcmp(l, label))
            return f;
    }
    CHECK(0, "no filter labelled '%s' in status: %s", label, tu_json_text(fs));
    return NULL;
}

/* Wait until the status's counter at @p path (one that only grows: "generation", "alerts_in",
 * "spool.done", ...) reaches @p want; going past it fails at once. @return that status. */
static json_t *wait_status_int(const char *path, long want, double secs)
{
    double end = tu_now_s() + secs;
    for (;;) {
        json_t *st = bk_status();
        json_t *v = jget(st, path);
        if (json_is_integer(v) && json_integer_value(v) == want)
            return st;
        CHECK(!json_is_integer(v) || json_integer_value(v) < want, "status %s went past %ld: %s",
              path, want, tu_json_text(st));
        CHECK(tu_now_s() < end, "after %.0f s, status %s is %s, not %ld: %s", secs, path,
              tu_json_text(v), want, tu_json_text(st));
        json_decref(st);
        tu_sleep_ms(100);
    }
}

/* Wait until filter @p label has run @p want times (status counters may trail the store). */
static void wait_runs(const char *label, long want, double secs)
{
    double end = tu_now_s() + secs;
    for (;;) {
        json_t *st = bk_status();
        long runs = jint(filter_of(st, label), "runs");
        CHECK(runs <= want, "filter %s ran %ld times, %ld expected: %s", label, runs, want,
              tu_json_text(filter_of(st, label)));
        json_decref(st);
        if (runs == want)
            return;
        CHECK(tu_now_s() < end, "after %.0f s filter %s ran %ld times, %ld expected", secs, label,
              runs, want);
        tu_sleep_ms(100);
    }
}

/* Wait until every input has been taken and the queue is empty: queue 0 on two polls in a row. */
static void wait_queue_empty(double secs)
{
    double end = tu_now_s() + secs;
    int zeros = 0;
    while (zeros < 2) {
        json_t *st = bk_status();
        zeros = jint(st, "queue") == 0 ? zeros + 1 : 0;
        CHECK(tu_now_s() < end, "after %.0f s the queue is not empty: %s", secs, tu_json_text(st));
        json_decref(st);
        tu_sleep_ms(100);
    }
}

/* ---- the log ---- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return strdup("");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    buf[fread(buf, 1, (size_t)n, f)] = '\0';
    fclose(f);
    return buf;
}

static regex_t log_line_re;
static const char log_line_pattern[] =
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z (DEBUG|INFO|WARN|ERROR) ";

/* 1 when the broker's log has a WARN or ERROR line (in the log format) that contains @p word. */
static int log_warns_about(const char *word)
{
    char *text = slurp(B.log);
    int found = 0;
    for (char *line = strtok(text, "\n"); line && !found; line = strtok(NULL, "\n"))
        found = regexec(&log_line_re, line, 0, NULL, 0) == 0 &&
                (strstr(line, " WARN ") || strstr(line, " ERROR ")) && strstr(line, word);
    free(text);
    return found;
}

/* The largest number after @p key ("name=") on the broker's rate lines, -1 when none has it. */
static double rate_line_max(const char *key)
{
    char *text = slurp(B.log);
    double best = -1;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        const char *at = strstr(line, " rate alerts_in=") ? strstr(line, key) : NULL;
        double v = at ? strtod(at + strlen(key), NULL) : -1;
        best = v > best ? v : best;
    }
    free(text);
    return best;
}

/* Every line of the broker's log is in the log format. */
static void check_log_format(void)
{
    char *text = slurp(B.log);
    int lines = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"), lines++)
        CHECK(regexec(&log_line_re, line, 0, NULL, 0) == 0,
              "a log line is not 'YYYY-MM-DDTHH:MM:SS.mmmZ LEVEL message key=value ...': %s", line);
    CHECK(lines > 0, "the broker logged nothing");
    free(text);
}

static void check_verify(void)
{
    char *out = NULL, *err = NULL, *store = store_path();
    int rc = tu_sks(&out, &err, "verify --store '%s'", store);
    CHECK(rc == 0, "skysieve verify exited %d: %s %s", rc, out, err);
    free(out), free(err), free(store);
}

/* ---- tests ---- */

/* `ctl COMMAND` must succeed: exit 0, "ok": true. @return the reply (caller owns it). */
static json_t *ctl_ok(const char *command)
{
    json_t *r = NULL;
    char *err = NULL;
    int rc = ctl(&r, &err, "%s", command);
    CHECK(rc == 0 && json_is_true(json_object_get(r, "ok")),
          "ctl %s exited %d (expected 0 and \"ok\": true): %s %s", command, rc, tu_json_text(r),
          err);
    free(err);
    return r;
}

static void check_gens(const store_scan *s, char stream, int round, const char *gen)
{
    char prefix[32];
    int len = snprintf(prefix, sizeof prefix, "%c%d-", stream, round);
    for (size_t i = 0; i < s->n; i++)
        if (!strncmp(s->a[i].id, prefix, (size_t)len))
            CHECK(s->a[i].gen && !strcmp(s->a[i].gen, gen),
                  "alert %s was processed by the set of generation '%s', expected '%s'", s->a[i].id,
                  s->a[i].gen, gen);
}

/* The broker recorded which filter writes the count filter's properties (for the locus page). */
static void check_writers(const char *store)
{
    ss_store_options so = {.readonly = 1};
    ss_store *s = NULL;
    ss_err err = {0};
    ss_store_txn *txn = NULL;
    CHECK(ss_store_open(store, &so, &s, &err) == 0, "opening %s: %s", store, err.msg);
    CHECK(ss_store_txn_begin(s, SS_STORE_READ, &txn) == 0, "a read transaction on %s", store);
    ss_filter_writer w = {0}, a = {0};
    int rl = ss_filter_writer_get(txn, 'l', "tf_count", &w);
    int ra = ss_filter_writer_get(txn, 'a', "tf_gen", &a);
    ss_store_txn_abort(txn);
    ss_store_close(s);
    CHECK(rl == 0 && !strcmp(w.filter, "tf_count") && !strcmp(w.version, "1"),
          "locus property tf_count: writer recorded %d, '%s' version '%s'", rl, w.filter,
          w.version);
    CHECK(ra == 0 && !strcmp(a.filter, "tf_count"), "alert property tf_gen: writer %d '%s'", ra,
          a.filter);
}

/* 1. Ten reloads (ctl reload, and every fourth by SIGHUP) while a feeder keeps dropping spool
 * files and sending files: nothing lost or processed twice, every alert stamped by one generation,
 * the last generation's counters its own. */
START_TEST(reload_under_continuous_ingest)
{
    enum { N = 15, NSRC = 40, RELOADS = 10 };
    char pull[PATH_MAX];
    snprintf(pull, sizeof pull, "ipc://%s/in.ipc", tu_tmp);
    write_count_set("g1");
    write_conf("",
               "[input pull]\naddress = %s\n\n[filters]\nset = set.ini\nworkers = 2\n\n"
               "[control]\naddress = ipc://%s/ctl.ipc\n",
               pull, tu_tmp);
    bk_start();
    bk_wait_ready(20);
    json_t *st = bk_status();
    CHECK(jint(st, "generation") == 1, "generation at start: %s", tu_json_text(st));
    CHECK(jint(st, "pid") == B.pid, "status pid %ld, the broker is %d", jint(st, "pid"), B.pid);
    json_decref(st);

    static feed fs, fp;
    fs = (feed){.n = N, .nsrc = NSRC, .min_rounds = 8, .pace_ms = 40};
    fp =
        (feed){.pull = pull, .n = N, .nsrc = NSRC, .min_rounds = 8, .pace_ms = 40, .send_secs = 20};
    feed_start(&fs);
    feed_start(&fp);
    tu_sleep_ms(300);
    for (int r = 1; r <= RELOADS; r++) {
        char gen[16];
        snprintf(gen, sizeof gen, "g%d", r + 1);
        write_count_set(gen);
        if (r % 4 == 0) {
            kill(B.pid, SIGHUP);
            json_decref(wait_status_int("generation", r + 1, 15));
        } else {
            json_t *rep = ctl_ok("reload");
            CHECK(jint(rep, "generation") == r + 1 && jint(rep, "filters") == 1 &&
                      json_is_number(json_object_get(rep, "seconds")),
                  "reload %d: expected generation %d, 1 filter and seconds: %s", r, r + 1,
                  tu_json_text(rep));
            json_decref(rep);
        }
        bk_check_running("reloading");
        tu_sleep_ms(100 + rand() % 150);
    }
    feed_finish(&fs);
    feed_finish(&fp);
    for (int r = 0; r < fp.rounds; r++)
        CHECK(fp.sent[r] == 0, "send of round %d to the running broker %s (%d)", r,
              fp.sent[r] == -1 ? "timed out" : "failed", fp.sent[r]);
    drop('z', 0, N, NSRC); /* after the last reload: the last generation runs it */

    size_t total = (size_t)(fs.rounds + fp.rounds) * N + N;
    json_decref(wait_status_int("alerts_in", (long)total, 40));
    json_decref(wait_status_int("spool.done", fs.rounds + 1, 30));
    json_decref(wait_status_int("pull.messages", fp.rounds, 30));
    wait_queue_empty(40);
    store_scan s;
    wait_processed(total, 40, &s);

    int per_gen[RELOADS + 2] = {0}, distinct = 0;
    for (size_t i = 0; i < s.n; i++) {
        int g = 0;
        CHECK(s.a[i].gen && sscanf(s.a[i].gen, "g%d", &g) == 1 && g >= 1 && g <= RELOADS + 1,
              "alert %s has tf_gen '%s'", s.a[i].id, s.a[i].gen);
        distinct += per_gen[g]++ == 0;
    }
    check_gens(&s, 'z', 0, "g11");
    CHECK(distinct >= 3, "only %d generations processed alerts during ten reloads", distinct);
    st = bk_status();
    CHECK(jint(st, "generation") == RELOADS + 1, "generation after %d reloads: %s", RELOADS,
          tu_json_text(st));
    CHECK(jint(st, "rejected") == 0 && jint(st, "spool.failed") == 0, "%s", tu_json_text(st));
    CHECK(jstr(st, "intake") && !strcmp(jstr(st, "intake"), "running"), "intake: %s",
          tu_json_text(st));
    json_decref(st);
    /* counters are per generation: the last set ran exactly the alerts stamped with its gen */
    wait_runs("count", per_gen[RELOADS + 1], 10);

    bk_stop(0, 30);
    scan_free(&s);
    char *store = store_path();
    scan_store(store, &s);
    CHECK(!s.problem[0], "after the stop: %s", s.problem);
    CHECK(s.n == total, "after the stop the loci hold %zu alerts, %zu expected", s.n, total);
    idlist must = {0};
    for (int r = 0; r < fs.rounds; r++)
        ids_add(&must, 's', r, N);
    for (int r = 0; r < fp.rounds; r++)
        ids_add(&must, 'p', r, N);
    ids_add(&must, 'z', 0, N);
    check_ids(&s, &must, NULL);
    check_writers(store);
    CHECK(count_files("spool") == 0, "%d files left in the spool", count_files("spool"));
    CHECK(count_files("spool/done") == fs.rounds + 1, "%d files in spool/done, %d expected",
          count_files("spool/done"), fs.rounds + 1);
    CHECK(count_files("spool/failed") <= 0, "files in spool/failed");
    check_verify();
    check_log_format();
    ids_free(&must);
    scan_free(&s);
    free(store);
}
END_TEST

/* A reload of the broken set.ini: exit 1, ok false, the error naming @p file and @p label; the
 * generation stays 1. */
static void expect_failed_reload(const char *file, const char *label)
{
    json_t *rep = NULL;
    char *err = NULL;
    int rc = ctl(&rep, &err, "reload");
    const char *why = jstr(rep, "error");
    CHECK(rc == 1 && json_is_false(json_object_get(rep, "ok")),
          "a reload of a broken set exited %d (expected 1 and \"ok\": false): %s", rc,
          tu_json_text(rep));
    CHECK(why && strstr(why, file) && strstr(why, label),
          "the error of a failed reload should name the file '%s' and the filter '%s': %s", file,
          label, tu_json_text(rep));
    CHECK(strstr(err, file), "ctl should give the reason on stderr: '%s'", err);
    json_decref(rep);
    free(err);
    json_t *st = bk_status();
    CHECK(jint(st, "generation") == 1, "a failed reload changed the generation: %s",
          tu_json_text(st));
    json_decref(st);
}

/* 2. Failed reloads (a missing filter file, a Lua syntax error; by ctl and by SIGHUP) keep the
 * running set, which goes on processing; the spool's done/ and failed/; send of a missing file. */
START_TEST(failed_reload_keeps_the_running_set)
{
    enum { N = 10, NSRC = 3 };
    char pull[PATH_MAX];
    snprintf(pull, sizeof pull, "ipc://%s/in.ipc", tu_tmp);
    write_count_set("g1");
    write_conf("",
               "[input pull]\naddress = %s\n\n[filters]\nset = set.ini\n\n"
               "[control]\naddress = ipc://%s/ctl.ipc\n",
               pull, tu_tmp);
    bk_start();
    bk_wait_ready(20);

    /* a good file, one with a rejected row, one nothing can be read from; a sent file */
    drop('s', 0, N, NSRC);
    char *tmp = tu_write(tu_tmp, "spool/.r0000.part",
                         "alert_id,ra,dec,mjd,passband,mag,magerr\n"
                         "r0-0,150,-5,60001,g,18,0.1\nr0-1,150,-5,60002,g,18,0.1\n"
                         "r0-2,150,120,60003,g,18,0.1\n"),
         *dst = tu_path(tu_tmp, "spool/r0000.csv");
    ck_assert_int_eq(rename(tmp, dst), 0);
    free(tmp), free(dst);
    tmp = tu_write(tu_tmp, "spool/.g0000.part", "this is not an alert file\nat all\n");
    dst = tu_path(tu_tmp, "spool/g0000.csv");
    ck_assert_int_eq(rename(tmp, dst), 0);
    free(tmp), free(dst);
    CHECK(send_alerts(pull, 'p', 0, N, NSRC, 20) == 0, "send to the running broker failed");
    char *out = NULL, *err = NULL;
    int rc = tu_sks(&out, &err, "send '%s' '%s/absent.csv'", pull, tu_tmp);
    CHECK(rc != 0 && strstr(err, "absent.csv"), "send of a missing file exited %d: %s", rc, err);
    free(out), free(err);

    json_decref(wait_status_int("spool.done", 2, 20));
    json_decref(wait_status_int("spool.failed", 1, 20));
    json_decref(wait_status_int("pull.messages", 1, 20));
    store_scan s;
    wait_processed(2 * N + 2, 30, &s);
    scan_free(&s);
    json_t *st = bk_status();
    CHECK(jint(st, "alerts_in") == 2 * N + 2 && jint(st, "rejected") >= 1,
          "expected %d alerts in and a rejected row: %s", 2 * N + 2, tu_json_text(st));
    json_decref(st);
    CHECK(count_files("spool") == 0 && count_files("spool/done") == 2 &&
              count_files("spool/failed") == 1,
          "spool: %d waiting, %d done, %d failed (expected 0, 2, 1)", count_files("spool"),
          count_files("spool/done"), count_files("spool/failed"));
    char *failed = tu_path(tu_tmp, "spool/failed/g0000.csv");
    CHECK(access(failed, F_OK) == 0, "the unreadable file is not in spool/failed");
    free(failed);

    /* a set naming a filter file that does not exist */
    write_set(
        "[filter count]\npath = %s\nsetup.gen = g9\n\n[filter ghost]\npath = %s/nowhere.lua\n",
        COUNT_LUA, tu_tmp);
    expect_failed_reload("nowhere.lua", "ghost");
    /* a Lua syntax error */
    free(tu_write(tu_tmp, "broken.lua",
                  "NAME = 'broken'\nDESCRIPTION = 'x'\nAUTHOR = 'y'\n"
                  "function run(locus)\n    if then\nend\n"));
    write_set(
        "[filter count]\npath = %s\nsetup.gen = g9\n\n[filter cracked]\npath = %s/broken.lua\n",
        COUNT_LUA, tu_tmp);
    expect_failed_reload("broken.lua", "cracked");
    /* the same by SIGHUP: reported in the log, nothing changes */
    kill(B.pid, SIGHUP);
    double end = tu_now_s() + 10;
    while (!log_warns_about("broken.lua")) {
        bk_check_running("reloading a broken set on SIGHUP");
        CHECK(tu_now_s() < end,
              "no WARN or ERROR line naming broken.lua after a failed SIGHUP reload");
        tu_sleep_ms(100);
    }
    st = bk_status();
    CHECK(jint(st, "generation") == 1 && json_array_size(json_object_get(st, "filters")) == 1,
          "after failed reloads the running set (generation 1, one filter) should stay: %s",
          tu_json_text(st));
    CHECK(json_is_false(jget(filter_of(st, "count"), "disabled")), "%s", tu_json_text(st));
    json_decref(st);

    /* the running set keeps processing */
    drop('s', 1, N, NSRC);
    wait_processed(3 * N + 2, 30, &s);
    check_gens(&s, 's', 1, "g1");
    scan_free(&s);
    /* and a good reload after the failed ones is generation 2 */
    write_count_set("g2");
    json_t *rep = ctl_ok("reload");
    CHECK(jint(rep, "generation") == 2 && jint(rep, "filters") == 1,
          "the first successful reload, after failed ones, should be generation 2 (failed reloads "
          "do not count) with 1 filter: %s",
          tu_json_text(rep));
    json_decref(rep);
    drop('s', 2, N, NSRC);
    wait_processed(4 * N + 2, 30, &s);
    check_gens(&s, 's', 2, "g2");
    check_gens(&s, 's', 0, "g1");
    scan_free(&s);
    bk_stop(SIGTERM, 30);
    check_verify();
}
END_TEST

/* 3. C filters that segfault, abort and hang (timeout 1 s, max_crashes 2), around count.lua: the
 * broker restarts the worker, re-runs the locus without the culprit, disables each after two
 * events, says so in the log, and keeps ingesting; count.lua processes every alert once. */
START_TEST(crashing_and_hanging_filters_are_contained)
{
    enum { N = 12, NX = 6, NSRC = 6 };
    char pull[PATH_MAX];
    snprintf(pull, sizeof pull, "ipc://%s/in.ipc", tu_tmp);
    /* crash_segv strikes only on the 'x' alerts; count runs between the culprits */
    write_set("[filter crash_segv]\npath = %s\npriority = 10\nsetup.only = x\n\n"
              "[filter count]\npath = %s\npriority = 15\nsetup.gen = g1\n\n"
              "[filter crash_abort]\npath = %s\npriority = 20\n\n"
              "[filter crash_hang]\npath = %s\npriority = 30\n",
              TF("segv"), COUNT_LUA, TF("abort"), TF("hang"));
    write_conf("",
               "[input pull]\naddress = %s\n\n[filters]\nset = set.ini\nworkers = 1\ntimeout = 1\n"
               "max_crashes = 2\n\n[control]\naddress = ipc://%s/ctl.ipc\n",
               pull, tu_tmp);
    bk_start();
    bk_wait_ready(20);
    drop('s', 0, N, NSRC);
    drop('x', 0, NX, NSRC);
    drop('s', 1, N, NSRC);
    CHECK(send_alerts(pull, 'p', 0, N, NSRC, 20) == 0, "send to the running broker failed");
    size_t total = 3 * N + NX;
    store_scan s;
    wait_processed(total, 30, &s);
    scan_free(&s);
    wait_queue_empty(30);

    static const struct {
        const char *label, *name, *counter, *reason, *reason2;
    } culprits[] = {
        {"crash_segv", "tf_segv", "crashes", "crash", "crash"},
        {"crash_abort", "tf_abort", "crashes", "crash", "crash"},
        {"crash_hang", "tf_hang", "timeouts", "timeout", "timed out"},
    };
    json_t *st = bk_status();
    for (size_t i = 0; i < sizeof culprits / sizeof *culprits; i++) {
        json_t *f = filter_of(st, culprits[i].label);
        const char *why = jstr(f, "disabled_reason");
        CHECK(jint(f, culprits[i].counter) == 2, "%s: %s should be max_crashes (2): %s",
              culprits[i].label, culprits[i].counter, tu_json_text(f));
        CHECK(json_is_true(json_object_get(f, "disabled")), "%s is not disabled: %s",
              culprits[i].label, tu_json_text(f));
        CHECK(why && (strcasestr(why, culprits[i].reason) || strcasestr(why, culprits[i].reason2)),
              "%s: disabled_reason should mention '%s': %s", culprits[i].label, culprits[i].reason,
              tu_json_text(f));
        CHECK(log_warns_about(culprits[i].label) || log_warns_about(culprits[i].name),
              "no WARN or ERROR line of the log names %s (or %s)", culprits[i].label,
              culprits[i].name);
    }
    CHECK(jint(filter_of(st, "crash_segv"), "timeouts") == 0 &&
              jint(filter_of(st, "crash_abort"), "timeouts") == 0,
          "a crash counted as a timeout: %s", tu_json_text(json_object_get(st, "filters")));
    CHECK(jint(filter_of(st, "crash_segv"), "runs") >= 1,
          "crash_segv runs normally on the alerts it does not strike on: %s",
          tu_json_text(filter_of(st, "crash_segv")));
    json_t *count = filter_of(st, "count");
    CHECK(json_is_false(json_object_get(count, "disabled")) && jint(count, "crashes") == 0 &&
              jint(count, "timeouts") == 0 && jint(count, "errors") == 0 &&
              jint(count, "runs") >= (long)total,
          "count.lua should have run on every alert, blamed for nothing: %s", tu_json_text(count));
    CHECK(jint(st, "alerts_in") == (long)total, "alerts_in: %s", tu_json_text(st));
    json_decref(st);

    /* the three disabled, alerts flow again at once */
    drop('s', 2, N, NSRC);
    wait_processed(total + N, 15, &s);
    scan_free(&s);
    st = bk_status();
    for (size_t i = 0; i < sizeof culprits / sizeof *culprits; i++)
        CHECK(jint(filter_of(st, culprits[i].label), culprits[i].counter) == 2,
              "%s ran again after it was disabled: %s", culprits[i].label,
              tu_json_text(filter_of(st, culprits[i].label)));
    json_decref(st);
    bk_stop(SIGTERM, 30);

    char *store = store_path();
    scan_store(store, &s);
    CHECK(!s.problem[0], "after the stop: %s", s.problem);
    idlist must = {0};
    ids_add(&must, 's', 0, N), ids_add(&must, 's', 1, N), ids_add(&must, 's', 2, N);
    ids_add(&must, 'x', 0, NX), ids_add(&must, 'p', 0, N);
    check_ids(&s, &must, NULL);
    for (size_t i = 0; i < s.n; i++)
        CHECK(s.a[i].gen && !strcmp(s.a[i].gen, "g1"), "alert %s: tf_gen %s", s.a[i].id,
              s.a[i].gen);
    check_verify();
    ids_free(&must);
    scan_free(&s);
    free(store);
}
END_TEST

/* Wait until a scan finds every id of @p must and no inconsistency. */
static void wait_scan_has(idlist *must, double secs, store_scan *s)
{
    double end = tu_now_s() + secs;
    char *store = store_path();
    for (;;) {
        scan_store(store, s);
        const char *missing = NULL;
        for (size_t i = 0; i < must->n && !missing; i++)
            if (!scan_find(s, must->v[i]))
                missing = must->v[i];
        if (!missing && !s->problem[0])
            break;
        bk_check_running("ingesting after the last restart");
        CHECK(tu_now_s() < end, "after %.0f s: %s%s%s", secs, missing ? "missing alert " : "",
              missing ? missing : "", s->problem);
        scan_free(s);
        tu_sleep_ms(200);
    }
    free(store);
}

/* 4. kill -9 at random moments (once during the restart itself) under continuous ingest, restart
 * each time: every spool alert stored exactly once, every stored alert dispatched exactly once. */
START_TEST(kill_9_and_restart_lose_and_repeat_nothing)
{
    enum { N = 10, NSRC = 30, KILLS = 5 };
    char pull[PATH_MAX];
    snprintf(pull, sizeof pull, "ipc://%s/in.ipc", tu_tmp);
    write_set("[filter count]\npath = %s\nsetup.gen = g1\nsetup.spin_ms = 1\n", COUNT_LUA);
    write_conf("batch = 20\n",
               "[input pull]\naddress = %s\n\n[filters]\nset = set.ini\nworkers = 2\n\n"
               "[control]\naddress = ipc://%s/ctl.ipc\n",
               pull, tu_tmp);
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    srand(seed);
    fprintf(stderr, "kill_9_and_restart_lose_and_repeat_nothing: seed %u\n", seed);
    bk_start();
    bk_wait_ready(20);

    /* sends to a killed broker block until a deadline: nanomsg loses what nobody receives */
    static feed fs, fp;
    fs = (feed){.n = N, .nsrc = NSRC, .pace_ms = 30};
    fp = (feed){.pull = pull, .n = N, .nsrc = NSRC, .pace_ms = 30, .send_secs = 1.5};
    feed_start(&fs);
    feed_start(&fp);
    for (int k = 0; k < KILLS; k++) {
        tu_sleep_ms(200 + rand() % 800);
        bk_check_running("ingesting, before kill -9");
        bk_kill9();
        check_verify(); /* what kill -9 leaves is a consistent store */
        bk_start();
        if (k == 2) { /* once more while it recovers */
            tu_sleep_ms(50 + rand() % 250);
            bk_kill9();
            bk_start();
        }
        bk_wait_ready(30);
    }
    tu_sleep_ms(300);
    feed_finish(&fs);
    feed_finish(&fp);
    /* after the last restart: a spool file and a sent file, both of which must arrive */
    drop('z', 0, N, NSRC);
    CHECK(send_alerts(pull, 'f', 0, N, NSRC, 20) == 0, "send to the restarted broker failed");

    double end = tu_now_s() + 40;
    while (count_files("spool") != 0 || count_files("spool/done") != fs.rounds + 1) {
        bk_check_running("draining the spool");
        CHECK(tu_now_s() < end, "spool not drained: %d files waiting, %d in done/ (%d expected)",
              count_files("spool"), count_files("spool/done"), fs.rounds + 1);
        tu_sleep_ms(100);
    }
    CHECK(count_files("spool/failed") <= 0, "files in spool/failed");
    idlist must = {0}, may = {0};
    for (int r = 0; r < fs.rounds; r++)
        ids_add(&must, 's', r, N);
    for (int r = 0; r < fp.rounds; r++)
        ids_add(&may, 'p', r, N);
    ids_add(&must, 'z', 0, N), ids_add(&must, 'f', 0, N);
    wait_queue_empty(40);
    store_scan s;
    wait_scan_has(&must, 40, &s);
    scan_free(&s);
    bk_stop(SIGINT, 30);

    char *store = store_path();
    scan_store(store, &s);
    CHECK(!s.problem[0], "after the stop: %s", s.problem);
    check_ids(&s, &must, &may);
    int delivered = 0, stored = 0;
    for (int r = 0; r < fp.rounds; r++)
        delivered += fp.sent[r] == 0;
    for (size_t i = 0; i < s.n; i++)
        stored += s.a[i].id[0] == 'p';
    fprintf(stderr,
            "kill_9: %d spool files; %zu alerts stored; sent files: %d of %d reported sent, %d of "
            "their %d alerts stored\n",
            fs.rounds, s.n, delivered, fp.rounds, stored, fp.rounds * N);
    CHECK(stored > 0, "no sent alert was stored across the restarts");
    check_verify();
    ids_free(&must), ids_free(&may);
    scan_free(&s);
    free(store);
}
END_TEST

static int free_tcp_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* ---- the control connection on the wire: what a client sends, captured, altered, replayed ---- */

static int tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
    for (ssize_t w; n; p += w, n -= (size_t)w)
        if ((w = write(fd, p, n)) <= 0)
            return -1;
    return 0;
}

/* A tcp proxy for one connection to the broker's control port: it keeps what the client sent
 * and, with alter, changes one byte of the broker's answer on its way ("uptime_s"). */
typedef struct tap {
    int lfd, port, to_port, alter;
    char sent[16384];
    size_t nsent;
    pthread_t th;
} tap;

/* Copy what @p from holds to @p to. @return 0, or -1 when a side closed. */
static int tap_pump(tap *t, int from, int to, int client)
{
    char buf[65536];
    ssize_t n = read(from, buf, sizeof buf);
    if (n <= 0)
        return -1;
    if (client && t->nsent + (size_t)n <= sizeof t->sent)
        memcpy(t->sent + t->nsent, buf, (size_t)n);
    t->nsent += client ? (size_t)n : 0;
    char *at = !client && t->alter ? memmem(buf, (size_t)n, "uptime_s", 8) : NULL;
    if (at)
        at[7] = 'S';
    return write_all(to, buf, (size_t)n);
}

static void *tap_run(void *arg)
{
    tap *t = arg;
    struct pollfd lp = {t->lfd, POLLIN, 0};
    int c = poll(&lp, 1, 20000) == 1 ? accept(t->lfd, NULL, NULL) : -1;
    int s = c >= 0 ? tcp_connect(t->to_port) : -1;
    while (c >= 0 && s >= 0) {
        struct pollfd p[2] = {{c, POLLIN, 0}, {s, POLLIN, 0}};
        if (poll(p, 2, 20000) <= 0 || (p[0].revents && tap_pump(t, c, s, 1)) ||
            (p[1].revents && tap_pump(t, s, c, 0)))
            break;
    }
    if (c >= 0)
        close(c);
    if (s >= 0)
        close(s);
    return NULL;
}

static void tap_start(tap *t, int to_port, int alter)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    memset(t, 0, sizeof *t);
    t->to_port = to_port, t->alter = alter;
    t->lfd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(t->lfd, 0);
    ck_assert_int_eq(bind(t->lfd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(t->lfd, 4) | getsockname(t->lfd, (struct sockaddr *)&a, &len), 0);
    t->port = ntohs(a.sin_port);
    ck_assert_int_eq(pthread_create(&t->th, NULL, tap_run, t), 0);
}

static void tap_join(tap *t)
{
    pthread_join(t->th, NULL);
    close(t->lfd);
}

/* Send @p n raw bytes to the broker's control port as a client would (the nanomsg tcp framing is
 * in them). @return what came back within a few seconds, NULs made spaces (malloc'd). */
static char *raw_exchange(int port, const char *bytes, size_t n)
{
    int fd = tcp_connect(port);
    size_t got = 0, cap = 65536;
    char *in = calloc(1, cap + 1);
    ck_assert_msg(fd >= 0 && in && !write_all(fd, bytes, n), "cannot send to port %d", port);
    struct pollfd p = {fd, POLLIN, 0};
    for (int wait = 5000; got < cap && poll(&p, 1, wait) == 1; wait = 300) {
        ssize_t r = read(fd, in + got, cap - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    for (size_t i = 0; i < got; i++)
        in[i] = in[i] ? in[i] : ' ';
    return in;
}

/* The request of a client older than the authenticated protocol: the secret itself, framed as
 * nanomsg frames a REQ message over tcp (its header, a length, the request id). */
static char *old_client_exchange(int port, const char *body)
{
    char msg[512];
    size_t len = strlen(body);
    memcpy(msg, "\0SP\0\0\x30\0\0", 8); /* SP, protocol 48 (REQ) */
    for (int i = 0; i < 8; i++)
        msg[8 + i] = (char)((uint64_t)(4 + len) >> (8 * (7 - i)));
    memcpy(msg + 16, "\x80\0\0\x01", 4);
    memcpy(msg + 20, body, len);
    return raw_exchange(port, msg, 20 + len);
}

/* What crosses the wire with a secret: no secret in a request; a captured request refused when
 * replayed; an answer altered on the way refused by ctl; an old client's plain secret refused. */
static void control_wire_checks(int port, const char *secret, const char *secret_file)
{
    char *out = NULL, *err = NULL;
    tap t;
    tap_start(&t, port, 0);
    int rc = tu_sks(&out, &err,
                    "ctl --address tcp://127.0.0.1:%d --secret-file '%s' --timeout 5 "
                    "status",
                    t.port, secret_file);
    tap_join(&t);
    CHECK(rc == 0 && strstr(out, "\"uptime_s\""), "ctl through the tap exited %d: %s %s", rc, out,
          err);
    CHECK(t.nsent > 20 && t.nsent <= sizeof t.sent &&
              !memmem(t.sent, t.nsent, secret, strlen(secret)),
          "the request on the wire (%zu bytes) holds the secret", t.nsent);
    free(out), free(err);
    char *back = raw_exchange(port, t.sent, t.nsent); /* the captured bytes, sent again */
    CHECK(strstr(back, "replayed") && !strstr(back, "uptime_s"),
          "a replayed request should be refused as one: %s", back);
    free(back);

    tap_start(&t, port, 1);
    rc =
        tu_sks(&out, &err, "ctl --address tcp://127.0.0.1:%d --secret-file '%s' --timeout 5 status",
               t.port, secret_file);
    tap_join(&t);
    CHECK(rc == 1 && strstr(err, "MAC does not verify") && !strstr(out, "uptime"),
          "ctl should refuse an answer altered on the way: exited %d: %s %s", rc, out, err);
    free(out), free(err);

    char body[256];
    snprintf(body, sizeof body, "{\"cmd\":\"stop\",\"secret\":\"%s\"}", secret);
    back = old_client_exchange(port, body);
    CHECK(strstr(back, "refused") && strstr(back, "upgrade"),
          "a request with the plain secret should be refused, saying to upgrade: %s", back);
    free(back);
    tu_sleep_ms(300);
    bk_check_running("refusing an old client's stop");
    char *log = slurp(B.log);
    CHECK(strstr(log, "upgrade") && !strstr(log, secret), "the log should name the refusals, "
                                                          "never the secret");
    free(log);
}

/* 5. A tcp control address needs secret_file: without it run refuses to start; ctl without the
 * secret or with a wrong one is refused (and cannot stop the broker), with it it works. The secret
 * never crosses the wire: a captured request is refused when replayed (control_wire_checks). */
START_TEST(control_over_tcp_needs_the_secret)
{
    char addr[64], *out = NULL, *err = NULL;
    int port = free_tcp_port();
    snprintf(addr, sizeof addr, "tcp://127.0.0.1:%d", port);
    char *shared = tu_write(tu_tmp, "secret", "s3cr3t-of-the-test\nonly the first line is\n"),
         *client = tu_write(tu_tmp, "client.secret", "s3cr3t-of-the-test\n"),
         *wrong = tu_write(tu_tmp, "wrong.secret", "a-guess\n");
    write_conf("", "[control]\naddress = %s\nsecret_file = secret\n", addr);
    /* a secret others can read is none: refused by the broker and by ctl, naming the file */
    ck_assert_int_eq(chmod(shared, 0644), 0);
    int rc = tu_sks(&out, &err, "run --config '%s/broker.ini'", tu_tmp);
    CHECK(rc == 1 && strstr(err, "readable by group or others") && strstr(err, "secret"),
          "run with a shared secret file exited %d: %s", rc, err);
    free(out), free(err);
    ck_assert_int_eq(chmod(client, 0640), 0);
    rc = tu_sks(&out, &err, "ctl --address %s --secret-file '%s' --timeout 1 status", addr, client);
    CHECK(rc == 1 && strstr(err, "readable by group or others"),
          "ctl with a shared secret file exited %d: %s", rc, err);
    free(out), free(err);
    ck_assert_int_eq(chmod(shared, 0600) | chmod(client, 0600) | chmod(wrong, 0600), 0);
    free(shared), free(client), free(wrong);
    bk_start();
    bk_wait_ready(20); /* ctl --config: the address and the secret from the config */

    rc = tu_sks(&out, &err, "ctl --address %s --timeout 3 status", addr);
    CHECK(rc == 1 && (strcasestr(out, "secret") || strcasestr(err, "secret")),
          "ctl without the secret exited %d (expected 1, saying why: secret): %s %s", rc, out, err);
    CHECK(!strstr(out, "\"uptime_s\""), "ctl without the secret got the status: %s", out);
    free(out), free(err);
    rc = tu_sks(&out, &err, "ctl --address %s --secret-file '%s/wrong.secret' --timeout 3 stop",
                addr, tu_tmp);
    CHECK(rc == 1 && (strcasestr(out, "secret") || strcasestr(err, "secret")),
          "ctl with a wrong secret exited %d (expected 1, saying why: secret): %s %s", rc, out,
          err);
    free(out), free(err);
    tu_sleep_ms(300);
    bk_check_running("refusing a stop with a wrong secret");

    rc = tu_sks(&out, &err, "ctl --address %s --secret-file '%s/client.secret' --timeout 3 status",
                addr, tu_tmp);
    json_t *rep = json_loads(out, 0, NULL);
    CHECK(rc == 0 && json_is_true(json_object_get(rep, "ok")) && jint(rep, "status.pid") == B.pid,
          "ctl with the secret exited %d: %s %s", rc, out, err);
    json_decref(rep);
    free(out), free(err);
    char *client_file = tu_path(tu_tmp, "client.secret");
    control_wire_checks(port, "s3cr3t-of-the-test", client_file);
    free(client_file);

    /* no [filters]: alerts are stored and nothing waits for filters */
    drop('s', 0, 10, 3);
    json_decref(wait_status_int("spool.done", 1, 20));
    CHECK(stored_alerts() == 10, "%ld alerts stored, 10 expected", stored_alerts());
    wait_queue_empty(10);

    /* nothing answers: exit 1 once the timeout is over */
    double t0 = tu_now_s();
    rc = tu_sks(&out, &err, "ctl --address ipc://%s/nobody.ipc --timeout 1 status", tu_tmp);
    CHECK(rc == 1 && err[0], "ctl to nobody exited %d (expected 1 and a reason): %s", rc, err);
    CHECK(tu_now_s() - t0 < 8, "ctl --timeout 1 took %.1f s", tu_now_s() - t0);
    free(out), free(err);

    rc = tu_sks(&out, &err, "ctl --address %s --secret-file '%s/client.secret' --timeout 3 stop",
                addr, tu_tmp);
    CHECK(rc == 0, "ctl stop with the secret exited %d: %s %s", rc, out, err);
    free(out), free(err);
    bk_wait_exit(30, "ctl stop over tcp");

    /* a tcp control address without secret_file: run refuses to start, naming the reason */
    write_conf("", "[control]\naddress = %s\n", addr);
    char *log = tu_path(tu_tmp, "nosecret.log");
    char *argv[] = {(char *)SS_BINARY, "run", "--config", B.conf, NULL};
    rc = run_argv(argv, 20, log);
    char *text = slurp(log);
    CHECK(rc > 0 && rc < 128,
          "run with a tcp control address and no secret_file %s (expected a non-zero exit): %s",
          rc == -1  ? "kept running"
          : rc == 0 ? "exited 0"
                    : "was killed by a signal",
          text);
    CHECK(strcasestr(text, "secret"), "run should say that secret_file is missing: %s", text);
    free(text), free(log);
}
END_TEST

/* Wait until @p path contains every one of @p a and @p b. */
static int file_has_within(const char *path, const char *a, const char *b, double secs)
{
    double end = tu_now_s() + secs;
    for (;;) {
        char *text = slurp(path);
        int got = strstr(text, a) && strstr(text, b);
        free(text);
        if (got || tu_now_s() > end)
            return got;
        tu_sleep_ms(100);
    }
}

/* 6. ctl disable and enable: status follows, a disabled filter stops running and starts again;
 * the default control address (run_dir/control.ipc, mode 0600); the tag stream. */
START_TEST(disable_and_enable_a_filter)
{
    enum { N = 12, NSRC = 4 };
    char tags[PATH_MAX];
    snprintf(tags, sizeof tags, "ipc://%s/tags.ipc", tu_tmp);
    write_set("[filter good]\npath = %s\npriority = 10\n\n"
              "[filter count]\npath = %s\npriority = 20\nsetup.gen = g1\n",
              TF("good"), COUNT_LUA);
    write_conf("", "[filters]\nset = set.ini\n\n[output]\npublish = %s\n", tags); /* no [control] */
    bk_start();
    bk_wait_ready(20);
    char *sock = tu_path(tu_tmp, "run/control.ipc");
    struct stat sb;
    CHECK(stat(sock, &sb) == 0 && S_ISSOCK(sb.st_mode), "no control socket at %s", sock);
    CHECK((sb.st_mode & 0777) == 0600, "the control socket's mode is %03o, not 600",
          (unsigned)(sb.st_mode & 0777));
    free(sock);
    json_t *st = bk_status();
    CHECK(jint(st, "pid") == B.pid && jint(st, "generation") == 1 &&
              json_is_number(json_object_get(st, "uptime_s")) && jstr(st, "intake") &&
              !strcmp(jstr(st, "intake"), "running") &&
              json_array_size(json_object_get(st, "filters")) == 2 &&
              json_is_false(jget(filter_of(st, "good"), "disabled")),
          "status at start: %s", tu_json_text(st));
    CHECK(jstr(filter_of(st, "good"), "name") &&
              !strcmp(jstr(filter_of(st, "good"), "name"), "tf_good"),
          "filter name: %s", tu_json_text(filter_of(st, "good")));
    json_decref(st);

    /* a subscriber to the tag stream */
    char *heard = tu_path(tu_tmp, "heard");
    pid_t lp = fork();
    ck_assert_int_ge(lp, 0);
    if (lp == 0) {
        int fd = open(heard, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        execl(SS_BINARY, SS_BINARY, "listen", tags, "tf_tag", "--count", "1", (char *)NULL);
        _exit(127);
    }
    kid_add(lp);
    tu_sleep_ms(400);

    store_scan s;
    drop('s', 0, N, NSRC);
    wait_processed(N, 30, &s);
    for (size_t i = 0; i < s.n; i++)
        CHECK(s.a[i].flag, "alert %s was not processed by tf_good", s.a[i].id);
    scan_free(&s);
    wait_runs("good", N, 10);
    wait_runs("count", N, 10);
    st = bk_status();
    json_t *good = filter_of(st, "good"), *count = filter_of(st, "count");
    CHECK(jint(good, "tags.tf_tag") >= 1 && jint(good, "tags.tf_tag") <= N, "tags of good: %s",
          tu_json_text(good));
    CHECK(json_is_number(jget(count, "time_us.p50")) &&
              json_is_number(jget(count, "time_us.p90")) &&
              json_is_number(jget(count, "time_us.p99")),
          "time_us of count: %s", tu_json_text(count));
    json_decref(st);
    CHECK(file_has_within(heard, "\"tag\":\"tf_tag\"", "\"alert_id\"", 10),
          "the tag stream at %s published no tf_tag event with its alert", tags);
    free(heard);

    /* disabled: good stops running, count goes on */
    json_decref(ctl_ok("disable good"));
    st = bk_status();
    CHECK(json_is_true(jget(filter_of(st, "good"), "disabled")) &&
              json_is_false(jget(filter_of(st, "count"), "disabled")),
          "after ctl disable good: %s", tu_json_text(json_object_get(st, "filters")));
    json_decref(st);
    drop('s', 1, N, NSRC);
    wait_processed(2 * N, 30, &s);
    wait_runs("count", 2 * N, 10);
    st = bk_status();
    CHECK(jint(filter_of(st, "good"), "runs") == N, "good ran while disabled: %s",
          tu_json_text(filter_of(st, "good")));
    json_decref(st);
    for (size_t i = 0; i < s.n; i++)
        CHECK(s.a[i].flag == (s.a[i].id[1] == '0'), "alert %s: tf_flag %s", s.a[i].id,
              s.a[i].flag ? "set by a disabled filter" : "missing");
    scan_free(&s);

    json_t *rep = NULL;
    char *err = NULL;
    int rc = ctl(&rep, &err, "disable nosuch");
    CHECK(rc == 1 && json_is_false(json_object_get(rep, "ok")) && jstr(rep, "error") &&
              strstr(jstr(rep, "error"), "nosuch"),
          "ctl disable of an unknown label exited %d: %s %s", rc, tu_json_text(rep), err);
    json_decref(rep);
    free(err);

    /* enabled again: good runs on the new alerts */
    json_decref(ctl_ok("enable good"));
    st = bk_status();
    CHECK(json_is_false(jget(filter_of(st, "good"), "disabled")), "after ctl enable good: %s",
          tu_json_text(filter_of(st, "good")));
    json_decref(st);
    drop('s', 2, N, NSRC);
    wait_processed(3 * N, 30, &s);
    wait_runs("count", 3 * N, 10);
    wait_runs("good", 2 * N, 10);
    for (size_t i = 0; i < s.n; i++)
        if (s.a[i].id[1] == '2')
            CHECK(s.a[i].flag, "alert %s was not processed by the re-enabled filter", s.a[i].id);
    scan_free(&s);
    bk_stop(SIGINT, 30);
    check_verify();
}
END_TEST

/* 7. Backpressure: above queue_high intake pauses (status "intake": "paused"), below queue_low it
 * resumes; the queue stays bounded and everything is processed in the end, the rate lines and
 * the status counting every locus filtered. */
START_TEST(intake_pauses_above_queue_high)
{
    enum { N = 10, FILES = 30, NSRC = 25, HIGH = 30, BATCH = 10 };
    write_set("[filter count]\npath = %s\nsetup.gen = g1\nsetup.spin_ms = 4\n", COUNT_LUA);
    write_conf("batch = 10\nqueue_high = 30\nqueue_low = 10\n",
               "[filters]\nset = set.ini\nworkers = 1\nbatch = 4\n\n"
               "[control]\naddress = ipc://%s/ctl.ipc\n",
               tu_tmp);
    bk_start();
    bk_wait_ready(20);
    for (int r = 0; r < FILES; r++)
        drop('s', r, N, NSRC);
    long max_queue = 0;
    int paused = 0;
    double end = tu_now_s() + 30;
    for (;;) {
        json_t *st = bk_status();
        long q = jint(st, "queue");
        /* intake looks at the queue between batches: one or two batches past queue_high at most */
        CHECK(q <= HIGH + 2 * BATCH,
              "the queue reached %ld with queue_high %d and batch %d: intake did not pause: %s", q,
              HIGH, BATCH, tu_json_text(st));
        const char *intake = jstr(st, "intake");
        CHECK(intake && (!strcmp(intake, "running") || !strcmp(intake, "paused")),
              "intake should be running or paused: %s", tu_json_text(st));
        paused |= !strcmp(intake, "paused");
        max_queue = q > max_queue ? q : max_queue;
        int done = jint(st, "alerts_in") == FILES * N && q == 0;
        CHECK(done || tu_now_s() < end, "after 30 s: %s", tu_json_text(st));
        json_decref(st);
        if (done)
            break;
        tu_sleep_ms(20);
    }
    CHECK(paused, "the queue went up to %ld (queue_high %d) and intake never showed paused",
          max_queue, HIGH);
    end = tu_now_s() + 5;
    for (;;) {
        json_t *st = bk_status();
        int running = jstr(st, "intake") && !strcmp(jstr(st, "intake"), "running");
        CHECK(running || tu_now_s() < end, "an empty queue and intake still paused: %s",
              tu_json_text(st));
        json_decref(st);
        if (running)
            break;
        tu_sleep_ms(100);
    }
    store_scan s;
    wait_processed(FILES * N, 30, &s);
    scan_free(&s);
    /* the rate line counts the loci whose filters' outputs were stored, beside intake's rate */
    end = tu_now_s() + 5;
    while (rate_line_max(" filtered=") < FILES * N && tu_now_s() < end)
        tu_sleep_ms(100);
    CHECK(rate_line_max(" filtered=") == FILES * N, "no rate line counts %d loci filtered (%g)",
          FILES * N, rate_line_max(" filtered="));
    CHECK(rate_line_max(" filtered_per_s=") > 0, "no rate line has loci filtered a second");
    json_t *st = bk_status();
    CHECK(jint(st, "filtered") == FILES * N, "status: %s", tu_json_text(st));
    json_decref(st);
    bk_stop(SIGTERM, 30);
    check_verify();
}
END_TEST

/* The pid in a "... skysieve pid 1234 ..." refusal, or 0. */
static long refusal_pid(const char *text)
{
    const char *at = text ? strstr(text, "skysieve pid ") : NULL;
    return at ? strtol(at + strlen("skysieve pid "), NULL, 10) : 0;
}

/* `skysieve run --config @p conf` that must refuse to start, naming the running broker: its
 * output. */
static char *run_refused(const char *conf, const char *why)
{
    char *log = tu_path(tu_tmp, "second.log");
    unlink(log);
    char *argv[] = {(char *)SS_BINARY, "run", "--config", (char *)conf, NULL};
    int rc = run_argv(argv, 20, log);
    char *text = slurp(log);
    free(log);
    CHECK(rc == 1, "a second broker (%s) %s (expected exit status 1): %s", why,
          rc == -1 ? "kept running" : "did not exit 1", text);
    CHECK(refusal_pid(text) == B.pid,
          "the refusal (%s) should name the running broker's pid %d: %s", why, (int)B.pid, text);
    return text;
}

static int path_exists(const char *dir, const char *name)
{
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

/* 8. One broker per run directory, one writer per store: a second `run` of the same config, or of
 * another run directory on the same store, or an `ingest` into the store, is refused naming the
 * broker's pid, and leaves the broker's sockets in place and answering. */
START_TEST(one_broker_per_run_dir_and_store)
{
    write_conf("", "[input pull]\naddress = ipc://%s/in.ipc\n", tu_tmp);
    bk_start();
    bk_wait_ready(20);
    char *run = tu_path(tu_tmp, "run");

    free(run_refused(B.conf, "same config"));
    CHECK(path_exists(run, "control.ipc") && path_exists(tu_tmp, "in.ipc"),
          "the refused broker removed the running one's sockets");
    json_t *st = bk_status(); /* fails when the control socket is gone */
    CHECK(jint(st, "pid") == B.pid, "ctl status answered for another pid: %s", tu_json_text(st));
    json_decref(st);

    /* another run directory and addresses, the same store */
    char *text = NULL;
    ck_assert_int_ge(asprintf(&text,
                              "[broker]\nstore = store\nrun_dir = run2\n"
                              "[input pull]\naddress = ipc://%s/in2.ipc\n",
                              tu_tmp),
                     0);
    char *conf2 = tu_write(tu_tmp, "second.ini", text);
    free(text);
    text = run_refused(conf2, "same store, another run_dir");
    CHECK(strstr(text, "store"), "the refusal should name the store: %s", text);
    free(text);

    /* another store and run directory, but the running broker's pull address */
    ck_assert_int_ge(asprintf(&text,
                              "[broker]\nstore = store3\nrun_dir = run3\n"
                              "[input pull]\naddress = ipc://%s/in.ipc\n",
                              tu_tmp),
                     0);
    char *conf3 = tu_write(tu_tmp, "third.ini", text), *log = tu_path(tu_tmp, "third.log");
    free(text);
    char *argv[] = {(char *)SS_BINARY, "run", "--config", conf3, NULL};
    int rc = run_argv(argv, 20, log);
    text = slurp(log);
    CHECK(rc == 1 && strstr(text, "in.ipc"), "a broker on a live pull address exited %d: %s", rc,
          text);
    CHECK(path_exists(tu_tmp, "in.ipc"), "the third broker removed the running one's in.ipc");
    free(text), free(log), free(conf3), free(conf2);

    /* any other writer of the store: ingest */
    char *csv = tu_path(tu_tmp, "outbox/i.csv"), *out = NULL, *err = NULL;
    CHECK(write_alerts(csv, 'i', 0, 5, 5) == 0, "cannot write %s", csv);
    rc = tu_sks(&out, &err, "ingest --store '%s/store' '%s'", tu_tmp, csv);
    CHECK(rc != 0 && refusal_pid(err) == B.pid && strstr(err, "written by"),
          "ingest into the broker's store exited %d (expected a refusal naming pid %d): %s %s", rc,
          (int)B.pid, out, err);
    free(out), free(err);
    st = bk_status();
    CHECK(jint(st, "pid") == B.pid, "ctl status after the refusals: %s", tu_json_text(st));
    json_decref(st);

    bk_stop(0, 30);
    rc = tu_sks(&out, &err, "ingest --store '%s/store' '%s'", tu_tmp, csv);
    CHECK(rc == 0, "ingest once the broker stopped exited %d: %s %s", rc, out, err);
    free(out), free(err), free(csv), free(run);
}
END_TEST

/* Alerts of @p n CSV lines padded with a long extra column, @p bytes at least in all. */
static char *write_big_csv(const char *name, int n, size_t bytes)
{
    char *path = tu_path(tu_tmp, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    size_t pad = bytes / (size_t)n + 1;
    char *note = malloc(pad + 1);
    memset(note, 'x', pad);
    note[pad] = '\0';
    fputs("alert_id,ra,dec,mjd,passband,mag,magerr,note\n", f);
    for (int k = 0; k < n; k++)
        fprintf(f, "big-%d,%.6f,-5.0,%.6f,g,18.0,0.05,%s\n", k, 150 + (k % 7) * 0.01,
                60000 + k * 1e-4, note);
    free(note);
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

/* Splice the Avro containers @p files (one alert each, the same schema) into one container of
 * their records at @p out: a message of real alerts bigger than nanomsg's default 1 MiB.
 * @return the records written, 0 when no two files share the first one's header. */
static int avro_splice(char **files, size_t nfiles, const char *out, size_t want_bytes)
{
    FILE *o = fopen(out, "wb");
    ck_assert_ptr_nonnull(o);
    size_t hlen0 = 0, total = 0;
    unsigned char *h0 = NULL;
    int records = 0;
    for (size_t i = 0; i < nfiles && total < want_bytes; i++) {
        size_t len;
        unsigned char *d = tu_read_file(files[i], &len);
        /* header: magic, the metadata map, 16 sync bytes; the blocks follow. The files of one
         * set come from one writer: the same header but the sync marker. */
        size_t at = 4;
        for (;;) {
            long long cnt = 0, shift = 0, b;
            do
                b = d[at++], cnt |= (b & 0x7f) << shift, shift += 7;
            while (b & 0x80);
            cnt = (cnt >> 1) ^ -(cnt & 1);
            if (!cnt)
                break;
            if (cnt < 0) /* a negative count is followed by the block's size: skip it */
                while (d[at++] & 0x80)
                    ;
            for (long long k = 0; k < (cnt < 0 ? -cnt : cnt) * 2; k++) {
                long long l = 0;
                shift = 0;
                do
                    b = d[at++], l |= (b & 0x7f) << shift, shift += 7;
                while (b & 0x80);
                at += (size_t)((l >> 1) ^ -(l & 1));
            }
        }
        size_t hlen = at;
        if (!h0) {
            h0 = malloc(hlen + 16);
            memcpy(h0, d, hlen + 16);
            hlen0 = hlen;
            fwrite(d, 1, hlen + 16, o);
        }
        if (hlen == hlen0 && !memcmp(d, h0, hlen)) { /* blocks, our sync marker after each */
            size_t p = hlen + 16;
            while (p < len) {
                size_t start = p;
                long long v[2];
                for (int j = 0; j < 2; j++) {
                    long long x = 0, shift = 0, b;
                    do
                        b = d[p++], x |= (b & 0x7f) << shift, shift += 7;
                    while (b & 0x80);
                    v[j] = (x >> 1) ^ -(x & 1);
                }
                p += (size_t)v[1];
                fwrite(d + start, 1, p - start, o);
                fwrite(h0 + hlen0, 1, 16, o);
                p += 16;
                records += (int)v[0];
                total += p - start;
            }
        }
        free(d);
    }
    free(h0);
    ck_assert_int_eq(fclose(o), 0);
    return records;
}

static int log_has(const char *text)
{
    char *log = slurp(B.log);
    int has = strstr(log, text) != NULL;
    free(log);
    return has;
}

static long status_alerts_in(void)
{
    json_t *st = bk_status();
    long n = jint(st, "alerts_in");
    json_decref(st);
    return n;
}

/* 9. Messages over nanomsg's default 1 MiB reach the broker (a generated one always, real ZTF
 * alerts when the shared data is there); one over [input pull] max_message_size is refused by
 * `skysieve send` with exit 1, or, from a sender told another limit, by the broker, which logs
 * and counts it: never dropped silently. */
START_TEST(send_takes_big_messages_and_refuses_oversized)
{
    char addr[PATH_MAX + 8];
    snprintf(addr, sizeof addr, "ipc://%s/in.ipc", tu_tmp);
    write_conf("", "[input pull]\naddress = %s\nmax_message_size = 4M\n", addr);
    bk_start();
    bk_wait_ready(20);

    char *big = write_big_csv("big.csv", 300, (size_t)3 << 20), *out = NULL, *err = NULL;
    int rc = tu_sks(&out, &err, "send --config '%s' '%s'", B.conf, big);
    CHECK(rc == 0, "send of a 3 MiB file exited %d: %s", rc, err);
    free(out), free(err);
    json_decref(wait_status_int("alerts_in", 300, 30));

    char *huge = write_big_csv("huge.csv", 10, (size_t)5 << 20);
    rc = tu_sks(&out, &err, "send --config '%s' '%s'", B.conf, huge);
    CHECK(rc == 1 && strstr(err, "max_message_size") && strstr(err, "huge.csv"),
          "send of a 5 MiB file over max_message_size = 4M exited %d (expected 1 naming the file "
          "and the key): %s",
          rc, err);
    free(out), free(err);
    rc = tu_sks(&out, &err, "send --max-size 4M %s '%s'", addr, huge);
    CHECK(rc == 1 && strstr(err, "max_message_size"), "send --max-size 4M exited %d: %s", rc, err);
    free(out), free(err);
    /* a sender told a larger limit: the broker refuses the message itself, logged and counted */
    rc = tu_sks(&out, &err, "send --max-size 8M %s '%s'", addr, huge);
    CHECK(rc == 0, "send --max-size 8M of 5 MiB exited %d: %s", rc, err);
    free(out), free(err), free(huge), free(big);
    json_decref(wait_status_int("pull.oversized", 1, 20));
    CHECK(log_has("over [input pull] max_message_size"), "the broker should log the refusal");
    CHECK(status_alerts_in() == 300, "alerts_in moved after refused sends");

    tu_files *ztf = tu_data_files("big ZTF message", "ztf", ".avro");
    if (ztf) {
        char *msg = tu_path(tu_tmp, "ztf-many.avro");
        int n = avro_splice(ztf->path, ztf->n, msg, (size_t)1400000);
        size_t len;
        free(tu_read_file(msg, &len));
        CHECK(n > 1 && len > ((size_t)1 << 20), "spliced %d alerts, %zu bytes", n, len);
        rc = tu_sks(&out, &err, "send %s '%s'", addr, msg);
        CHECK(rc == 0, "send of %d real alerts (%zu bytes) exited %d: %s", n, len, rc, err);
        free(out), free(err), free(msg);
        json_decref(wait_status_int("alerts_in", 300 + n, 30));
        tu_files_free(ztf);
    }
    bk_stop(0, 30);
}
END_TEST

/* 10. While a slow reload loads (its filter's setup takes seconds), `ctl status` answers at once
 * and shows it loading; the reload's own request is answered when the new set runs. */
START_TEST(status_answers_during_a_slow_reload)
{
    write_count_set("g1");
    write_conf("", "[filters]\nset = set.ini\nworkers = 1\ntimeout = 30\n");
    bk_start();
    bk_wait_ready(20);
    /* the busy setup would go over the default instruction budget */
    write_set("[filter count]\npath = %s\nsetup.gen = g2\nsetup.setup_ms = 4000\n"
              "instructions = 100G\n",
              COUNT_LUA);
    char *log = tu_path(tu_tmp, "reload.out");
    pid_t kid = fork();
    ck_assert_int_ge(kid, 0);
    if (kid == 0) {
        char *argv[] = {(char *)SS_BINARY, "ctl", "--config", B.conf,
                        "--timeout",       "30",  "reload",   NULL};
        _exit(run_argv(argv, 40, log) == 0 ? 0 : 1);
    }
    kid_add(kid);
    int answered_loading = 0;
    double end = tu_now_s() + 20;
    while (!answered_loading && tu_now_s() < end) {
        char *out = NULL, *err = NULL;
        double t0 = tu_now_s();
        int rc = tu_sks(&out, &err, "ctl --config '%s' --timeout 2 status", B.conf);
        CHECK(rc == 0, "ctl status during a reload exited %d after %.1f s: %s", rc, tu_now_s() - t0,
              err);
        json_t *r = json_loads(out, 0, NULL);
        answered_loading = jget(r, "status.loading_generation") != NULL;
        json_decref(r);
        free(out), free(err);
        tu_sleep_ms(100);
    }
    CHECK(answered_loading, "no ctl status showed the reload loading");
    int st;
    CHECK(waitpid(kid, &st, 0) == kid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "ctl reload failed: %s", slurp(log));
    kid_done(kid);
    char *text = slurp(log);
    CHECK(strstr(text, "\"generation\": 2"), "ctl reload's answer: %s", text);
    free(text), free(log);
    bk_stop(0, 30);
}
END_TEST

/* 1 when @p pid runs (a zombie, waiting for a reaper that may never come, does not). */
static int pid_runs(pid_t pid)
{
    char path[64], text[256] = "";
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *fp = fopen(path, "r");
    size_t n = fp ? fread(text, 1, sizeof text - 1, fp) : 0;
    if (fp)
        fclose(fp);
    text[n] = '\0';
    const char *paren = strrchr(text, ')');
    return paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
}

static pid_t read_pidfile(const char *path, double secs)
{
    for (double until = tu_now_s() + secs; tu_now_s() < until; tu_sleep_ms(50)) {
        char *text = slurp(path);
        long pid = strtol(text, NULL, 10);
        free(text);
        if (pid > 0)
            return (pid_t)pid;
    }
    return 0;
}

/* 11. Workers are confined (pool.h ssi_worker_limits). A filter closing fds 0-63 leaves its
 * worker working (the broker's socket sits above); one closing every fd is charged with its
 * worker's death and disabled, never a death "outside any filter"; one allocating without bound
 * meets worker_memory (sanitized builds skip that limit and say so: there it finishes its
 * gigabyte); a filter's forked child dies with its worker's process group at `ctl stop`. count.lua
 * still sees every alert once. */
START_TEST(workers_are_confined)
{
    enum { N = 12, NX = 6, NSRC = 6 };
    char *pidfile = tu_path(tu_tmp, "child.pid"), *bad_log = tu_path(tu_tmp, "bad.log");
    write_conf("worker_open_files = 10\n", "[filters]\nset = set.ini\n");
    char *argv[] = {(char *)SS_BINARY, "run", "--config", B.conf, NULL};
    int rc = run_argv(argv, 20, bad_log);
    char *text = slurp(bad_log);
    CHECK(rc == 1 && strstr(text, "worker_open_files = 10"),
          "too few open files for a worker should be refused, naming the key: exit %d: %s", rc,
          text);
    free(text), free(bad_log);

    write_set("[filter close_low]\npath = %s\npriority = 10\nsetup.only = x\n\n"
              "[filter count]\npath = %s\npriority = 15\nsetup.gen = g1\n\n"
              "[filter greedy]\npath = %s\npriority = 20\nsetup.only = x\n\n"
              "[filter close_all]\npath = %s\npriority = 25\nsetup.only = x\n\n"
              "[filter forker]\npath = %s\npriority = 30\nsetup.pidfile = %s\n",
              TF("close_fds"), COUNT_LUA, TF("greedy"), TF("close_all"), TF("fork"), pidfile);
    /* processes: forker's child is to die with the worker's group, not at fork() (confine.h) */
    write_conf("worker_memory = 256M\nworker_open_files = 512\nworker_cpu_seconds = 600\n"
               "worker_allow = processes\n",
               "[filters]\nset = set.ini\nworkers = 1\ntimeout = 20\nmax_crashes = 2\n\n"
               "[control]\naddress = ipc://%s/ctl.ipc\n",
               tu_tmp);
    bk_start();
    bk_wait_ready(20);
    drop('s', 0, N, NSRC);
    drop('x', 0, NX, NSRC);
    drop('s', 1, N, NSRC);
    size_t total = 2 * N + NX;
    store_scan s;
    wait_processed(total, 60, &s);
    scan_free(&s);
    wait_queue_empty(60);
    /* a failed check kills the broker with -9: its workers die (PDEATHSIG), not their children */
    pid_t child = read_pidfile(pidfile, 10);
    if (child > 0)
        kid_add(child);

    json_t *st = bk_status();
    json_t *low = filter_of(st, "close_low"), *all = filter_of(st, "close_all");
    json_t *gr = filter_of(st, "greedy");
    CHECK(jint(low, "crashes") == 0 && jint(low, "runs") >= (long)total &&
              json_is_false(json_object_get(low, "disabled")),
          "closing fds 0-63 should leave the worker working: %s", tu_json_text(low));
    CHECK(jint(all, "crashes") == 2 && json_is_true(json_object_get(all, "disabled")) &&
              strstr(jstr(all, "last_error") ?: "", "lost its socket"),
          "close_all should be charged twice (its worker lost its socket) and disabled: %s",
          tu_json_text(all));
    CHECK(!log_has("outside any filter") && !log_has("given up"),
          "a death was not charged to the filter that caused it (see the log)");
    if (ss_broker_memory_limit_skipped()) {
        CHECK(log_warns_about("worker_memory is not applied"),
              "a sanitized build must say that it skips worker_memory");
        CHECK(jint(gr, "crashes") == 0 && jint(gr, "runs") >= NX,
              "without a memory limit greedy gets its gigabyte: %s", tu_json_text(gr));
    } else
        CHECK(jint(gr, "crashes") == 2 && json_is_true(json_object_get(gr, "disabled")),
              "greedy should die at worker_memory (256M) twice and be disabled: %s",
              tu_json_text(gr));
    json_t *count = filter_of(st, "count");
    CHECK(jint(count, "crashes") == 0 && jint(count, "errors") == 0 &&
              jint(count, "runs") >= (long)total,
          "count.lua should have run on every alert, blamed for nothing: %s", tu_json_text(count));
    json_decref(st);

    CHECK(child > 0 && pid_runs(child), "forker's child (pid %d) should run until the stop",
          (int)child);
    bk_stop(0, 30);
    double until = tu_now_s() + 5;
    while (pid_runs(child) && tu_now_s() < until)
        tu_sleep_ms(20);
    CHECK(!pid_runs(child), "forker's child (pid %d) outlived ctl stop", (int)child);

    char *store = store_path();
    scan_store(store, &s);
    CHECK(!s.problem[0], "after the stop: %s", s.problem);
    idlist must = {0};
    ids_add(&must, 's', 0, N), ids_add(&must, 's', 1, N), ids_add(&must, 'x', 0, NX);
    check_ids(&s, &must, NULL);
    ids_free(&must);
    scan_free(&s);
    free(store);
    free(pidfile);
}
END_TEST

/* 12. worker_cpu_seconds: a runaway filter meets the CPU limit (SIGXCPU) long before the dispatch
 * timeout, and that is charged as a crash of that filter, naming the limit. */
START_TEST(cpu_limit_stops_a_runaway_filter)
{
    enum { N = 6, NX = 3, NSRC = 3 };
    write_set("[filter count]\npath = %s\npriority = 10\nsetup.gen = g1\n\n"
              "[filter spinner]\npath = %s\npriority = 20\nsetup.only = x\n",
              COUNT_LUA, TF("hang"));
    write_conf("worker_cpu_seconds = 1\n",
               "[filters]\nset = set.ini\nworkers = 1\ntimeout = 60\nmax_crashes = 2\n\n"
               "[control]\naddress = ipc://%s/ctl.ipc\n",
               tu_tmp);
    bk_start();
    bk_wait_ready(20);
    drop('s', 0, N, NSRC);
    drop('x', 0, NX, NSRC);
    store_scan s;
    wait_processed(N + NX, 30, &s);
    scan_free(&s);
    wait_queue_empty(30);
    json_t *st = bk_status(), *sp = filter_of(st, "spinner");
    CHECK(jint(sp, "crashes") == 2 && jint(sp, "timeouts") == 0 &&
              json_is_true(json_object_get(sp, "disabled")) &&
              strstr(jstr(sp, "last_error") ?: "", "CPU time"),
          "the spinner should die of worker_cpu_seconds twice and be disabled: %s",
          tu_json_text(sp));
    CHECK(jint(filter_of(st, "count"), "runs") >= N + NX, "count.lua missed alerts: %s",
          tu_json_text(filter_of(st, "count")));
    json_decref(st);
    bk_stop(0, 30);
}
END_TEST

/* ---- an input the broker dies on, and log lines per input ---- */

#ifdef SS_TEST_HOOKS /* the helpers of test 13, which needs the broker's test hook */
/* Wait for the running broker to die on @p on within @p secs (SIGKILL from
 * SKYSIEVE_TEST_CRASH_ON, as a decoder's crash would kill it). */
static void bk_wait_death(double secs, const char *on)
{
    double end = tu_now_s() + secs;
    while (!bk_ended()) {
        CHECK(tu_now_s() < end, "the broker did not die on %s within %.0f s", on, secs);
        tu_sleep_ms(20);
    }
    CHECK(WIFSIGNALED(B.last_status) && WTERMSIG(B.last_status) == SIGKILL,
          "the broker should die on %s (SIGKILL), but %s", on, describe_status(B.last_status));
}

/* Start the broker again, as systemd would, and wait for it to die on @p on. */
static void bk_start_and_die(double secs, const char *on)
{
    bk_start();
    bk_wait_death(secs, on);
}

/* The first file of @p dir (relative to tu_tmp) whose name holds @p part and ends with @p tail,
 * read whole; NULL when none. */
static char *read_named(const char *dir, const char *part, const char *tail)
{
    char *path = tu_path(tu_tmp, dir), *text = NULL;
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && !text && (e = readdir(d))) {
        size_t n = strlen(e->d_name), t = strlen(tail);
        if (strstr(e->d_name, part) && n > t && !strcmp(e->d_name + n - t, tail)) {
            char *file = NULL;
            ck_assert_int_ge(asprintf(&file, "%s/%s", path, e->d_name), 0);
            text = slurp(file);
            free(file);
        }
    }
    if (d)
        closedir(d);
    free(path);
    return text;
}

#endif

/* 13. A message and a spool file on which the broker dies (a test hook kills it, as a decoder
 * crash would) kill it max_attempts times, restarted each time; then they are set aside in
 * failed/ with their reason, the broker keeps running, and every other input is stored and
 * dispatched exactly once. */
START_TEST(an_input_that_kills_the_broker_is_set_aside)
{
#ifndef SS_TEST_HOOKS
    fprintf(stderr, "an_input_that_kills_the_broker_is_set_aside: skipped (built without "
                    "SS_TEST_HOOKS, on in Debug builds)\n");
    return;
#else
    enum { N = 6, NSRC = 4 };
    char pull[PATH_MAX];
    snprintf(pull, sizeof pull, "ipc://%s/in.ipc", tu_tmp);
    write_count_set("g1");
    write_conf("max_attempts = 3\n",
               "[input pull]\naddress = %s\n\n[filters]\nset = set.ini\n\n"
               "[control]\naddress = ipc://%s/ctl.ipc\n",
               pull, tu_tmp);
    setenv("SKYSIEVE_TEST_CRASH_ON", "POISON", 1);
    bk_start();
    bk_wait_ready(20);
    CHECK(send_alerts(pull, 'a', 0, N, NSRC, 20) == 0, "send a0 failed");
    store_scan s;
    wait_processed(N, 30, &s);
    scan_free(&s);

    /* a message holding POISON: journalled, then it kills the broker; each restart replays it */
    char *poison = tu_write(tu_tmp, "outbox/poison.csv",
                            "alert_id,ra,dec,mjd,passband,mag,magerr\n"
                            "POISON-1,150.5,-5,60001,g,18,0.05\n");
    char *argv[] = {(char *)SS_BINARY, "send", pull, poison, NULL};
    CHECK(run_argv(argv, 20, B.sendlog) == 0, "send of the poison failed");
    bk_wait_death(20, "the poison message");
    for (int k = 2; k <= 3; k++)
        bk_start_and_die(30, "the poison message, replayed from the journal");
    bk_start(); /* the 4th start: the message is set aside, not processed */
    bk_wait_ready(30);
    char *reason = read_named("run/failed", "msg-", ".reason"),
         *kept = read_named("run/failed", "msg-", "");
    CHECK(reason && strstr(reason, "attempts=3") && strstr(reason, "died"),
          "run/failed/ should hold msg-*.reason saying the broker died 3 times: %s",
          reason ? reason : "(none)");
    CHECK(log_has("set aside") && log_has("journal msg-"), "the log should name the message");
    free(reason), free(kept);
    CHECK(send_alerts(pull, 'a', 1, N, NSRC, 20) == 0, "send a1 after the poison failed");
    wait_processed(2 * N, 30, &s);
    scan_free(&s);

    /* a spool file named POISON between two good ones */
    drop('b', 0, N, NSRC);
    char tmp[PATH_MAX], dst[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s/spool/.poison", tu_tmp);
    snprintf(dst, sizeof dst, "%s/spool/b0001-POISON.csv", tu_tmp);
    CHECK(write_alerts(tmp, 'q', 0, N, NSRC) == 0 && rename(tmp, dst) == 0, "spool poison");
    drop('b', 2, N, NSRC);
    bk_wait_death(20, "the poison spool file");
    for (int k = 2; k <= 3; k++)
        bk_start_and_die(30, "the poison spool file, still in the spool");
    bk_start();
    bk_wait_ready(30);
    double end = tu_now_s() + 30;
    while (count_files("spool") != 0 || count_files("spool/done") != 2) {
        bk_check_running("draining the spool after the poison");
        CHECK(tu_now_s() < end, "spool: %d waiting, %d done (2 expected)", count_files("spool"),
              count_files("spool/done"));
        tu_sleep_ms(50);
    }
    reason = read_named("spool/failed", "b0001-POISON.csv", ".reason");
    CHECK(reason && strstr(reason, "attempts=3") && strstr(reason, "spool b0001-POISON.csv"),
          "spool/failed/b0001-POISON.csv.reason: %s", reason ? reason : "(none)");
    char *failed_dir = tu_path(tu_tmp, "spool/failed");
    CHECK(path_exists(failed_dir, "b0001-POISON.csv"), "the poison file is not in failed/");
    free(failed_dir);
    free(reason);
    CHECK(send_alerts(pull, 'a', 2, N, NSRC, 20) == 0, "send a2 failed");
    wait_processed(5 * N, 40, &s);
    idlist must = {0};
    ids_add(&must, 'a', 0, N), ids_add(&must, 'a', 1, N), ids_add(&must, 'a', 2, N);
    ids_add(&must, 'b', 0, N), ids_add(&must, 'b', 2, N);
    /* the journal may hold a0 again after the deaths: stored once all the same */
    check_ids(&s, &must, NULL);
    CHECK(!scan_find(&s, "POISON-1") && !scan_find(&s, "q0-0"), "a poison's alert was stored");
    scan_free(&s);
    ids_free(&must);
    wait_queue_empty(30);
    json_decref(wait_status_int("set_aside", 1, 10)); /* this run set the spool file aside */
    bk_check_running("after the poisons");
    bk_stop(SIGTERM, 30);
    check_verify();
    unsetenv("SKYSIEVE_TEST_CRASH_ON");
    free(poison);
#endif
}
END_TEST

/* Lines of the broker's log holding @p text. */
static long log_count(const char *text)
{
    char *log = slurp(B.log);
    long n = 0;
    for (const char *p = log; (p = strstr(p, text)); p += strlen(text))
        n++;
    free(log);
    return n;
}

/* 14. An input of 100,000 rejected rows: its log lines are bounded in time (20 per 10 s per
 * input), and the rest is said in one line with its count. */
START_TEST(rejection_log_lines_are_bounded_per_input)
{
    enum { ROWS = 100000 };
    write_conf("max_rejected_per_input = 200000\n", "[control]\naddress = ipc://%s/ctl.ipc\n",
               tu_tmp);
    char tmp[PATH_MAX], dst[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s/spool/.bad", tu_tmp);
    snprintf(dst, sizeof dst, "%s/spool/bad.csv", tu_tmp);
    FILE *f = fopen(tmp, "w");
    ck_assert_ptr_nonnull(f);
    fputs("alert_id,ra,dec,mjd,passband,mag,magerr\n", f);
    for (int i = 0; i < ROWS; i++)
        fprintf(f, "r%d,not-a-number,-5,60000,g,18,0.05\n", i);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(rename(tmp, dst), 0);
    bk_start();
    bk_wait_ready(20);
    json_decref(wait_status_int("rejected", ROWS, 90));
    double end = tu_now_s() + 20;
    while (!log_has("more rejections not logged")) {
        CHECK(tu_now_s() < end, "no line summed up the rejections not logged");
        tu_sleep_ms(50);
    }
    bk_stop(SIGTERM, 30);
    long lines = log_count("rejected input="), suppressed = 0;
    char *log = slurp(B.log);
    for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
        unsigned long long n;
        const char *q = strstr(line, "more rejections not logged") ? strstr(line, "\": ") : NULL;
        if (q && sscanf(q, "\": %llu more", &n) == 1)
            suppressed += (long)n;
    }
    free(log);
    fprintf(stderr, "rejection_log_lines: %ld lines written, %ld said in summaries\n", lines,
            suppressed);
    CHECK(lines <= 100, "%ld rejection lines for one input: not bounded in time", lines);
    CHECK(lines + suppressed == ROWS, "%ld written + %ld summed up: %d rejections expected", lines,
          suppressed, ROWS);
}
END_TEST

/* The seconds until the store holds @p n alerts (fails after 30 s). */
static double until_stored(long n)
{
    double t0 = tu_now_s();
    while (stored_alerts() != n) {
        CHECK(tu_now_s() - t0 < 30, "%ld alerts were not stored within 30 s", n);
        tu_sleep_ms(20);
    }
    return tu_now_s() - t0;
}

/* Group commit never holds a quiet broker's alerts: commit_interval (5 s here) bounds the pause
 * between commits, but the pause lasts only as long as the last commit took, so alerts after a
 * quiet spell, and alerts after a short commit, are stored at once; a stop commits what waits. */
START_TEST(group_commit_does_not_hold_a_quiet_broker)
{
    enum { N = 20, NSRC = 20 };
    write_conf("commit_interval = 5\n", "[input pull]\naddress = ipc://%s/in.ipc\n", tu_tmp);
    bk_start();
    bk_wait_ready(20);
    char *pull = NULL;
    ck_assert_int_ge(asprintf(&pull, "ipc://%s/in.ipc", tu_tmp), 0);
    for (int r = 0; r < 3; r++) {
        double t0 = tu_now_s();
        CHECK(send_alerts(pull, 'p', r, N, NSRC, 20) == 0, "send to the running broker failed");
        double took = tu_now_s() - t0 + until_stored((r + 1) * N);
        CHECK(took < 4, "message %d took %.2f s to be stored: held for the 5 s interval", r, took);
    }
    CHECK(send_alerts(pull, 'p', 3, N, NSRC, 20) == 0, "send to the running broker failed");
    bk_stop(SIGTERM, 30);
    CHECK(stored_alerts() == 4 * N, "a stop left %ld of %d alerts stored", stored_alerts(), 4 * N);
    free(pull);
    check_verify();
}
END_TEST

/* [broker] stamp_level reaches the store's options: a zstd level in range, never 0 (the default
 * is the key left out), refused otherwise, naming the key and the value. */
START_TEST(stamp_level_is_a_zstd_level)
{
    const char *wrong[] = {"0", "20", "-1001", "-2.5", "fast"};
    for (size_t i = 0; i < sizeof wrong / sizeof *wrong; i++) {
        char text[64];
        snprintf(text, sizeof text, "[broker]\nstamp_level = %s\n", wrong[i]);
        char *conf = tu_write(tu_tmp, "lv.ini", text), want[48];
        ss_broker_conf c;
        ss_err err = {0};
        ck_assert_int_eq(ss_broker_conf_load(conf, &c, &err), SS_EINVAL);
        snprintf(want, sizeof want, "[broker] stamp_level = %s", wrong[i]);
        ck_assert_msg(strstr(err.msg, want), "%s", err.msg);
        free(conf);
    }
    char *conf = tu_write(tu_tmp, "lv.ini", "[broker]\nstamp_level = -50\n");
    ss_broker_conf c;
    ss_err err = {0};
    ck_assert_int_eq(ss_broker_conf_load(conf, &c, &err), 0);
    ck_assert_int_eq(c.stamp_level, -50);
    ss_broker_conf_free(&c);
    free(conf);
}
END_TEST

/* One test case per scenario, so that one runs alone: CK_RUN_CASE=kill_9
 * build-asan/tests/test_broker */
static void add_case(Suite *s, const char *name, const TTest *test)
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 100);
    tcase_add_test(tc, test);
    suite_add_tcase(s, tc);
}

int main(void)
{
    if (regcomp(&log_line_re, log_line_pattern, REG_EXTENDED | REG_NOSUB) != 0)
        return EXIT_FAILURE;
    srand((unsigned)time(NULL));
    Suite *s = suite_create("broker");
    add_case(s, "reload", reload_under_continuous_ingest);
    add_case(s, "failed_reload", failed_reload_keeps_the_running_set);
    add_case(s, "crashes", crashing_and_hanging_filters_are_contained);
    add_case(s, "kill_9", kill_9_and_restart_lose_and_repeat_nothing);
    add_case(s, "tcp_control", control_over_tcp_needs_the_secret);
    add_case(s, "disable", disable_and_enable_a_filter);
    add_case(s, "backpressure", intake_pauses_above_queue_high);
    add_case(s, "one_broker", one_broker_per_run_dir_and_store);
    add_case(s, "big_messages", send_takes_big_messages_and_refuses_oversized);
    add_case(s, "slow_reload", status_answers_during_a_slow_reload);
    add_case(s, "confined", workers_are_confined);
    add_case(s, "cpu_limit", cpu_limit_stops_a_runaway_filter);
    add_case(s, "poison", an_input_that_kills_the_broker_is_set_aside);
    add_case(s, "reject_log", rejection_log_lines_are_bounded_per_input);
    add_case(s, "group_commit", group_commit_does_not_hold_a_quiet_broker);
    add_case(s, "stamp_level", stamp_level_is_a_zstd_level);
    int rc = tu_run_suite(s);
    regfree(&log_line_re);
    return rc;
}
