/*
 * Watch-list notifications (core/notify.h) against an HTTP server inside the test: a thread on
 * 127.0.0.1 with an ephemeral port answering each request as its script says (a status, a
 * Retry-After, a delay, or no answer until it stops). No external network. Each test has its own
 * run directory (tu_tmp) and log file, read back to check what the notifier said.
 */
#include "testutil.h"

#include "broker.h"
#include "notify.h"
#include "publish.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <nanomsg/nn.h>
#include <nanomsg/pubsub.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_REQ 64

/* ---- the scripted HTTP server ---- */

typedef struct step {
    int status;      /* 0: never answer (until the server stops) */
    int retry_after; /* seconds, 0: no header */
    int delay_ms;    /* before answering */
} step;

typedef struct server {
    int fd, port;
    pthread_t thread;
    atomic_int stop;
    pthread_mutex_t mu;
    step script[8]; /* the last step repeats */
    size_t nscript;
    size_t nreq; /* guarded by mu, as what follows */
    char *head[MAX_REQ], *body[MAX_REQ];
    double at[MAX_REQ];
} server;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wait until @p cond holds, @p secs at most. */
#define WAIT_FOR(cond, secs)                                                                       \
    do {                                                                                           \
        double until_ = now_s() + (secs);                                                          \
        while (!(cond) && now_s() < until_)                                                        \
            usleep(5000);                                                                          \
    } while (0)

/* Read one request: the head, then Content-Length bytes of body. @return 0 or -1. */
static int read_request(int c, char **head, char **body)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1), *end = NULL;
    long want = -1;
    while (buf && len < cap) {
        ssize_t r = recv(c, buf + len, cap - len, 0);
        if (r <= 0)
            break;
        len += (size_t)r;
        buf[len] = '\0';
        if (!end && (end = strstr(buf, "\r\n\r\n"))) {
            const char *cl = strcasestr(buf, "\r\ncontent-length:");
            want = cl && cl < end ? strtol(cl + 17, NULL, 10) : 0;
        }
        if (end && (long)(len - (size_t)(end + 4 - buf)) >= want)
            break;
    }
    if (!buf || !end) {
        free(buf);
        return -1;
    }
    *head = strndup(buf, (size_t)(end - buf));
    *body = strdup(end + 4);
    free(buf);
    return 0;
}

static void answer(server *s, int c, step st)
{
    for (int waited = 0; !atomic_load(&s->stop) && (!st.status || waited < st.delay_ms);
         waited += 10)
        usleep(10000);
    if (!st.status)
        return;
    char resp[256], extra[64] = "";
    if (st.retry_after)
        snprintf(extra, sizeof extra, "Retry-After: %d\r\n", st.retry_after);
    const char *text = st.status < 300 ? "ok" : "invalid_payload";
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n%s",
                     st.status, strlen(text), extra, text);
    ck_assert_int_eq(send(c, resp, (size_t)n, MSG_NOSIGNAL), n);
}

static void *serve(void *arg)
{
    server *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {s->fd, POLLIN, 0};
        if (poll(&p, 1, 20) <= 0)
            continue;
        int c = accept(s->fd, NULL, NULL);
        char *head, *body;
        if (c < 0 || read_request(c, &head, &body)) {
            if (c >= 0)
                close(c);
            continue;
        }
        pthread_mutex_lock(&s->mu);
        size_t i = s->nreq++;
        step st = s->script[i < s->nscript ? i : s->nscript - 1];
        if (i < MAX_REQ)
            s->head[i] = head, s->body[i] = body, s->at[i] = now_s();
        else
            free(head), free(body);
        pthread_mutex_unlock(&s->mu);
        answer(s, c, st);
        close(c);
    }
    return NULL;
}

/* Listen on an ephemeral port; @p script is a list of steps ended by {-1}. */
static server *server_start(const step *script)
{
    server *s = calloc(1, sizeof *s);
    ck_assert_ptr_nonnull(s);
    for (; script[s->nscript].status >= 0; s->nscript++)
        s->script[s->nscript] = script[s->nscript];
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_eq(bind(s->fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(s->fd, 16), 0);
    ck_assert_int_eq(getsockname(s->fd, (struct sockaddr *)&a, &alen), 0);
    s->port = ntohs(a.sin_port);
    pthread_mutex_init(&s->mu, NULL);
    ck_assert_int_eq(pthread_create(&s->thread, NULL, serve, s), 0);
    return s;
}

static size_t server_nreq(server *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->nreq;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static void server_stop(server *s)
{
    atomic_store(&s->stop, 1);
    pthread_join(s->thread, NULL);
    close(s->fd);
    for (size_t i = 0; i < s->nreq && i < MAX_REQ; i++)
        free(s->head[i]), free(s->body[i]);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* A port nothing listens on: bound, then closed. */
static int dead_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* ---- the notifier under test ---- */

static ss_log lg;

static ss_publish_notifier *start(const ss_publish_notify_conf *c, const ss_output_ops *out,
                                  void *impl)
{
    if (!lg.fp) {
        char *path = tu_path(tu_tmp, "notify.log");
        lg = (ss_log){fopen(path, "a"), SS_LOG_DEBUG};
        ck_assert_ptr_nonnull(lg.fp);
        free(path);
    }
    ss_publish_notifier *n = NULL;
    ss_err err = {0};
    ck_assert_msg(ss_publish_notifier_new(tu_tmp, c, out, impl, &lg, &n, &err) == 0, "%s", err.msg);
    return n;
}

static void finish(ss_publish_notifier *n)
{
    ss_publish_notifier_free(n);
    if (lg.fp)
        fclose(lg.fp);
    lg.fp = NULL;
}

static char *read_log(void)
{
    char *path = tu_path(tu_tmp, "notify.log"), *out = NULL;
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t len = 0;
    ck_assert_int_ne(getdelim(&out, &len, '\0', f), -1);
    fclose(f);
    free(path);
    return out;
}

static const char entry_fmt[] =
    "{\"list\":\"m31\",\"object\":\"M31-N1 <&>\",\"locus_id\":\"SKS2023067m9s54t29s\","
    "\"ra\":10.684708,\"dec\":41.26875,\"separation_arcsec\":0.42,\"survey\":\"ztf\","
    "\"alert_id\":123456,\"mjd\":60000.12345,\"passband\":\"r\",\"mag\":18.31%s%s%s}";

/* The outbox entry the watch-list matcher would write, for @p url (NULL: no webhook). */
static char *entry(const char *url)
{
    char *e = NULL;
    ck_assert_int_ge(
        asprintf(&e, entry_fmt, url ? ",\"webhook\":\"" : "", url ? url : "", url ? "\"" : ""), 0);
    return e;
}

static char *url_for(int port, const char *rest)
{
    char *u = NULL;
    ck_assert_int_ge(asprintf(&u, "http://127.0.0.1:%d%s", port, rest), 0);
    return u;
}

static void submit(ss_publish_notifier *n, const char *url)
{
    char *e = entry(url);
    ss_err err = {0};
    ck_assert_msg(ss_publish_notifier_submit(n, "m31", e, strlen(e), &err) == 0, "%s", err.msg);
    free(e);
}

static ss_publish_notify_stats stats(ss_publish_notifier *n)
{
    ss_publish_notify_stats st;
    ss_publish_notifier_stats(n, &st);
    return st;
}

/* Files in RUN_DIR/notify/SUB; the first one's content in *first (malloc'd) when asked. */
static size_t spool_files(const char *sub, char **first)
{
    char *dir = NULL;
    ck_assert_int_ge(asprintf(&dir, "%s/notify/%s", tu_tmp, sub), 0);
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && n++ == 0 && first) {
            char *path = tu_path(dir, e->d_name), *text = NULL;
            size_t len;
            FILE *f = fopen(path, "r");
            ck_assert_ptr_nonnull(f);
            ck_assert_int_ne(getdelim(&text, &len, '\0', f), -1);
            fclose(f);
            free(path);
            *first = text;
        }
    closedir(d);
    free(dir);
    return n;
}

static const ss_publish_notify_conf fast = {
    .timeout = 5, .retries = 4, .backoff = 0.05, .max_age = 3600};

/* ---- tests ---- */

START_TEST(payload_is_slack_json_with_the_fields)
{
    static const step script[] = {{200, 0, 0}, {-1, 0, 0}};
    server *s = server_start(script);
    ss_publish_notifier *n = start(&fast, NULL, NULL);
    char *url = url_for(s->port, "/services/T0/B0/SECRET");
    submit(n, url);
    WAIT_FOR(stats(n).delivered == 1, 10);
    ck_assert_int_eq(stats(n).delivered, 1);
    ck_assert_int_eq(stats(n).pending, 0);
    ck_assert_int_eq(spool_files("pending", NULL), 0);
    ck_assert_int_eq(server_nreq(s), 1);
    ck_assert_ptr_nonnull(strstr(s->head[0], "POST /services/T0/B0/SECRET HTTP/1.1"));
    ck_assert_ptr_nonnull(strcasestr(s->head[0], "\r\nContent-Type: application/json"));
    json_error_t je;
    json_t *p = json_loads(s->body[0], 0, &je);
    ck_assert_msg(json_is_object(p), "not JSON: %s: %s", je.text, s->body[0]);
    const char *text = json_string_value(json_object_get(p, "text"));
    ck_assert_ptr_nonnull(text);
    ck_assert_str_eq(text, "Watch list m31: M31-N1 &lt;&amp;&gt; matched locus SKS2023067m9s54t29s "
                           "at RA 10.684708 Dec 41.268750 (0.42\" away). ztf alert 123456: r = "
                           "18.310 mag at MJD 60000.12345.");
    json_t *f = json_object_get(p, "skysieve");
    ck_assert_str_eq(json_string_value(json_object_get(f, "object")), "M31-N1 <&>");
    ck_assert_str_eq(json_string_value(json_object_get(f, "locus_id")), "SKS2023067m9s54t29s");
    ck_assert_int_eq(json_integer_value(json_object_get(f, "alert_id")), 123456);
    ck_assert(json_real_value(json_object_get(f, "mag")) == 18.31);
    ck_assert_ptr_null(json_object_get(f, "webhook"));
    json_decref(p);
    finish(n);
    server_stop(s);
    free(url);
    char *log = read_log();
    ck_assert_ptr_nonnull(strstr(log, "notify delivered list=m31"));
    ck_assert_ptr_null(strstr(log, "SECRET"));
    free(log);
}
END_TEST

START_TEST(server_error_then_ok_is_delivered_after_a_retry)
{
    static const step script[] = {{500, 0, 0}, {200, 0, 0}, {-1, 0, 0}};
    server *s = server_start(script);
    ss_publish_notifier *n = start(&fast, NULL, NULL);
    char *url = url_for(s->port, "/hook");
    submit(n, url);
    WAIT_FOR(stats(n).delivered == 1, 10);
    ss_publish_notify_stats st = stats(n);
    ck_assert_int_eq(st.delivered, 1);
    ck_assert_int_eq(st.retried, 1);
    ck_assert_int_eq(st.failed, 0);
    ck_assert_int_eq(server_nreq(s), 2);
    ck_assert_str_eq(s->body[0], s->body[1]); /* the same payload again */
    ck_assert_int_eq(spool_files("pending", NULL) + spool_files("failed", NULL), 0);
    finish(n);
    server_stop(s);
    free(url);
    char *log = read_log();
    ck_assert_ptr_nonnull(strstr(log, "WARN  notify list=m31 object=M31-N1 <&> url=http://"
                                      "127.0.0.1:"));
    ck_assert_ptr_nonnull(strstr(log, "attempt=1/4: HTTP 500 \"invalid_payload\"; retrying in"));
    free(log);
}
END_TEST

START_TEST(client_error_is_set_aside_with_its_reason)
{
    static const step script[] = {{400, 0, 0}, {-1, 0, 0}};
    server *s = server_start(script);
    ss_publish_notifier *n = start(&fast, NULL, NULL);
    char *url = url_for(s->port, "/hook/TOKEN?token=QUERYSECRET");
    char *cred = NULL;
    ck_assert_int_ge(asprintf(&cred, "http://user:PASSWORD@127.0.0.1:%d/x/TOKEN", s->port), 0);
    submit(n, url);
    WAIT_FOR(stats(n).failed == 1, 10);
    submit(n, cred);
    WAIT_FOR(stats(n).failed == 2, 10);
    ss_publish_notify_stats st = stats(n);
    ck_assert_int_eq(st.failed, 2);
    ck_assert_int_eq(st.retried, 0); /* 400 is not tried again */
    ck_assert_int_eq(server_nreq(s), 2);
    char *text = NULL;
    ck_assert_int_eq(spool_files("failed", &text), 2);
    ck_assert_int_eq(spool_files("pending", NULL), 0);
    json_t *w = json_loads(text, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(w, "last_error")),
                     "HTTP 400 \"invalid_payload\"");
    ck_assert_int_eq(json_integer_value(json_object_get(w, "attempts")), 1);
    ck_assert(json_is_number(json_object_get(w, "failed_at")));
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(w, "entry"), "object")),
                     "M31-N1 <&>"); /* kept whole for inspection */
    json_decref(w);
    free(text);
    finish(n);
    server_stop(s);
    char *log = read_log();
    ck_assert_ptr_nonnull(strstr(log, "ERROR notify list=m31 object=M31-N1 <&> url=http://"
                                      "127.0.0.1:"));
    ck_assert_ptr_nonnull(strstr(log, "attempts=1: HTTP 400 \"invalid_payload\"; set aside in"));
    ck_assert_ptr_null(strstr(log, "TOKEN"));
    ck_assert_ptr_null(strstr(log, "QUERYSECRET"));
    ck_assert_ptr_null(strstr(log, "PASSWORD"));
    free(log);
    free(url);
    free(cred);
}
END_TEST

START_TEST(connection_refused_is_retried_then_set_aside)
{
    ss_publish_notifier *n = start(&fast, NULL, NULL);
    char *url = url_for(dead_port(), "/hook");
    submit(n, url);
    WAIT_FOR(stats(n).failed == 1, 10);
    ss_publish_notify_stats st = stats(n);
    ck_assert_int_eq(st.failed, 1);
    ck_assert_int_eq(st.retried, 3); /* 4 attempts: 3 retries, then set aside */
    ck_assert_int_eq(st.pending, 0);
    char *text = NULL;
    ck_assert_int_eq(spool_files("failed", &text), 1);
    json_t *w = json_loads(text, 0, NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(w, "attempts")), 4);
    const char *why = json_string_value(json_object_get(w, "last_error"));
    ck_assert_msg(why && strstr(why, "onnect") && strstr(why, "(4 attempts, retries = 4)"), "%s",
                  why);
    json_decref(w);
    free(text);
    finish(n);
    free(url);
}
END_TEST

START_TEST(retry_after_is_honoured)
{
    static const step script[] = {{429, 1, 0}, {200, 0, 0}, {-1, 0, 0}};
    server *s = server_start(script);
    ss_publish_notifier *n = start(&fast, NULL, NULL); /* backoff 0.05 s: the server asks for 1 s */
    char *url = url_for(s->port, "/hook");
    submit(n, url);
    WAIT_FOR(stats(n).delivered == 1, 10);
    ck_assert_int_eq(stats(n).delivered, 1);
    ck_assert_int_eq(server_nreq(s), 2);
    ck_assert_msg(s->at[1] - s->at[0] >= 0.95, "retried after %.3f s", s->at[1] - s->at[0]);
    finish(n);
    server_stop(s);
    free(url);
}
END_TEST

START_TEST(max_age_sets_aside_what_keeps_failing)
{
    static const step script[] = {{503, 0, 0}, {-1, 0, 0}};
    server *s = server_start(script);
    ss_publish_notify_conf c = {.timeout = 5, .retries = 100, .backoff = 0.05, .max_age = 1};
    ss_publish_notifier *n = start(&c, NULL, NULL);
    char *url = url_for(s->port, "/hook");
    submit(n, url);
    WAIT_FOR(stats(n).failed == 1, 10);
    ck_assert_int_eq(stats(n).failed, 1);
    ck_assert_int_ge(server_nreq(s), 2);
    char *text = NULL;
    ck_assert_int_eq(spool_files("failed", &text), 1);
    ck_assert_msg(strstr(text, "past max_age = 1 s") || strstr(text, "within max_age = 1 s"), "%s",
                  text);
    free(text);
    finish(n);
    server_stop(s);
    free(url);
}
END_TEST

START_TEST(a_slow_server_does_not_hold_up_submit_and_stop_is_prompt)
{
    static const step script[] = {{0, 0, 0}, {-1, 0, 0}}; /* never answers */
    server *s = server_start(script);
    ss_publish_notify_conf c = {.timeout = 60, .retries = 3, .backoff = 1, .max_age = 3600};
    ss_publish_notifier *n = start(&c, NULL, NULL);
    char *url = url_for(s->port, "/hook");
    submit(n, url);
    WAIT_FOR(server_nreq(s) == 1, 10); /* the first POST hangs */
    ck_assert_int_eq(server_nreq(s), 1);
    double t0 = now_s();
    for (int i = 0; i < 20; i++)
        submit(n, url);
    double took = now_s() - t0;
    ck_assert_msg(took < 2.0, "20 submits took %.3f s while a POST hangs", took);
    ck_assert_int_eq(stats(n).pending, 21);
    t0 = now_s();
    finish(n); /* aborts the hanging POST, which stays pending */
    took = now_s() - t0;
    ck_assert_msg(took < 5.0, "stopping took %.3f s with a 60 s timeout", took);
    ck_assert_int_eq(spool_files("pending", NULL), 21);
    ck_assert_int_eq(spool_files("failed", NULL), 0);
    server_stop(s);
    free(url);
}
END_TEST

START_TEST(shutdown_while_retrying_is_prompt)
{
    ss_publish_notify_conf c = {.timeout = 5, .retries = 5, .backoff = 60, .max_age = 3600};
    ss_publish_notifier *n = start(&c, NULL, NULL);
    char *url = url_for(dead_port(), "/hook");
    submit(n, url);
    WAIT_FOR(stats(n).retried == 1, 10); /* now waiting a minute */
    ck_assert_int_eq(stats(n).retried, 1);
    double t0 = now_s();
    finish(n);
    double took = now_s() - t0;
    ck_assert_msg(took < 1.0, "stopping took %.3f s", took);
    char *text = NULL;
    ck_assert_int_eq(spool_files("pending", &text), 1);
    json_t *w = json_loads(text, 0, NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(w, "attempts")), 1); /* recorded */
    json_decref(w);
    free(text);
    free(url);
}
END_TEST

START_TEST(pending_items_survive_a_restart)
{
    static const step script[] = {{503, 60, 0}, {200, 0, 0}, {-1, 0, 0}};
    server *s = server_start(script);
    ss_publish_notifier *n = start(&fast, NULL, NULL);
    char *url = url_for(s->port, "/hook");
    submit(n, url);
    WAIT_FOR(stats(n).retried == 1, 10); /* the server said: not before a minute */
    ck_assert_int_eq(stats(n).retried, 1);
    finish(n);
    ck_assert_int_eq(spool_files("pending", NULL), 1);
    /* a write a crash cut short is cleared, not delivered */
    char *dir = NULL;
    ck_assert_int_ge(asprintf(&dir, "%s/notify/pending", tu_tmp), 0);
    free(tu_write(dir, ".tmp-cut-short.json", "{\"list\":"));
    n = start(&fast, NULL, NULL); /* a new run: what was pending is due now */
    WAIT_FOR(stats(n).delivered == 1, 10);
    ss_publish_notify_stats st = stats(n);
    ck_assert_int_eq(st.delivered, 1);
    ck_assert_int_eq(st.pending, 0);
    ck_assert_int_eq(server_nreq(s), 2);
    ck_assert_int_eq(spool_files("pending", NULL), 0);
    char *tmp = tu_path(dir, ".tmp-cut-short.json");
    ck_assert_int_ne(access(tmp, F_OK), 0);
    finish(n);
    server_stop(s);
    char *log = read_log();
    ck_assert_ptr_nonnull(strstr(log, "notify pending=1 from an earlier run"));
    ck_assert_ptr_nonnull(strstr(log, "attempts=2"));
    free(log);
    free(tmp);
    free(dir);
    free(url);
}
END_TEST

START_TEST(a_bad_spool_file_is_set_aside)
{
    char *dir = NULL;
    ck_assert_int_ge(asprintf(&dir, "%s/notify/pending", tu_tmp), 0);
    ss_publish_notifier *n = start(&fast, NULL, NULL); /* makes the directories */
    finish(n);
    free(tu_write(dir, "garbage.json", "not json"));
    free(tu_write(dir, "partial.json", "{\"list\":\"m31\",\"entry\":{}}"));
    n = start(&fast, NULL, NULL);
    WAIT_FOR(stats(n).failed == 2, 10);
    ck_assert_int_eq(stats(n).failed, 2);
    ck_assert_int_eq(spool_files("failed", NULL), 2);
    finish(n);
    char *log = read_log();
    ck_assert_ptr_nonnull(strstr(log, "not JSON"));
    ck_assert_ptr_nonnull(strstr(log, "not a notification"));
    free(log);
    free(dir);
}
END_TEST

START_TEST(bad_notifications_are_refused)
{
    ss_publish_notifier *n = start(&fast, NULL, NULL);
    ss_err err = {0};
    const char *bad[][2] = {
        {"{\"object\":\"x\"", "'}' expected"},
        {"[1]", "not a JSON object"},
        {"{\"locus_id\":\"L\",\"ra\":1,\"dec\":2}", "no \"object\" string"},
        {"{\"object\":\"o\",\"locus_id\":\"L\",\"dec\":2}", "no \"ra\" number"},
        {"{\"object\":\"o\",\"locus_id\":\"L\",\"ra\":1,\"dec\":2,\"webhook\":5}",
         "\"webhook\" is not a string"},
        {"{\"object\":\"o\",\"locus_id\":\"L\",\"ra\":1,\"dec\":2,\"webhook\":\"ftp://h/x\"}",
         "webhook: the scheme is ftp, not http or https"},
        {"{\"object\":\"o\",\"locus_id\":\"L\",\"ra\":1,\"dec\":2,\"webhook\":\"no url\"}",
         "webhook: not a URL"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_int_eq(ss_publish_notifier_submit(n, "m31", bad[i][0], strlen(bad[i][0]), &err),
                         SS_EINVAL);
        ck_assert_msg(strstr(err.msg, "list m31") && strstr(err.msg, bad[i][1]), "%s: %s",
                      bad[i][0], err.msg);
    }
    const char *ok = "{\"object\":\"o\",\"locus_id\":\"L\",\"ra\":1,\"dec\":2}";
    ck_assert_int_eq(ss_publish_notifier_submit(n, "", ok, strlen(ok), &err), SS_EINVAL);
    ck_assert_str_eq(err.msg, "notification: no list name");
    ck_assert_int_eq(ss_publish_notifier_submit(n, "m31", ok, strlen(ok), &err),
                     0); /* no webhook */
    ck_assert_int_eq(spool_files("pending", NULL), 0);
    finish(n);
}
END_TEST

/* Receive one message on @p sub within about two seconds, submitting @p e meanwhile (a new
 * subscription takes a moment to reach the publisher). @return malloc'd, or NULL. */
static char *receive(int sub, ss_publish_notifier *n, const char *e, size_t *len)
{
    for (int i = 0; i < 200; i++) {
        ss_err err = {0};
        ck_assert_msg(ss_publish_notifier_submit(n, "m31", e, strlen(e), &err) == 0, "%s", err.msg);
        char *msg = NULL;
        int got = nn_recv(sub, &msg, NN_MSG, NN_DONTWAIT);
        if (got < 0)
            usleep(10000), got = nn_recv(sub, &msg, NN_MSG, NN_DONTWAIT);
        if (got >= 0) {
            char *copy = malloc((size_t)got + 1);
            memcpy(copy, msg, (size_t)got);
            copy[got] = '\0';
            nn_freemsg(msg);
            *len = (size_t)got;
            return copy;
        }
    }
    return NULL;
}

/* A count of publishes, as an output. */
static int count_publish(void *impl, const char *topic, const char *key, const void *msg,
                         size_t len, ss_err *err)
{
    (void)topic, (void)key, (void)msg, (void)len, (void)err;
    ++*(int *)impl;
    return 0;
}

START_TEST(a_spool_that_cannot_be_written_publishes_nothing)
{
    const ss_output_ops counter = {.abi = SS_OUTPUT_ABI, .name = "count", .publish = count_publish};
    int published = 0;
    ss_publish_notifier *n = start(&fast, &counter, &published);
    char *dir = NULL, *cmd = NULL, *e = entry("http://127.0.0.1:9/hook");
    ck_assert_int_ge(asprintf(&dir, "%s/notify/pending", tu_tmp), 0);
    ck_assert_int_ge(asprintf(&cmd, "rmdir %s && touch %s", dir, dir), 0);
    ck_assert_int_eq(tu_run(cmd, NULL, NULL), 0); /* pending/ is now a plain file */
    ss_err err = {0};
    ck_assert_int_eq(ss_publish_notifier_submit(n, "m31", e, strlen(e), &err), ENOTDIR);
    ck_assert_msg(strstr(err.msg, "list m31: cannot spool it in ") && strstr(err.msg, dir), "%s",
                  err.msg);
    ck_assert_int_eq(published, 0); /* submitted again later: published then, once */
    ck_assert_int_eq(stats(n).pending, 0);
    finish(n);
    free(dir), free(cmd), free(e);
}
END_TEST

START_TEST(published_on_topic_watch_list)
{
    char *addr = NULL;
    ck_assert_int_ge(asprintf(&addr, "ipc://%s/tags.ipc", tu_tmp), 0);
    const ss_output_ops *out = ss_output_for(addr);
    ck_assert_ptr_nonnull(out);
    void *impl = NULL;
    ss_err err = {0};
    ck_assert_msg(out->open(addr, &impl, &err) == 0, "%s", err.msg);
    int sub = nn_socket(AF_SP, NN_SUB);
    ck_assert_int_ge(sub, 0);
    ck_assert_int_eq(nn_setsockopt(sub, NN_SUB, NN_SUB_SUBSCRIBE, "watch.m31", 10), 0);
    ck_assert_int_ge(nn_connect(sub, addr), 0);
    static const step script[] = {{200, 0, 0}, {-1, 0, 0}};
    server *s = server_start(script);
    char *url = url_for(s->port, "/SECRET"), *e = entry(url);
    ss_publish_notifier *n = start(&fast, out, impl);
    size_t len = 0;
    char *msg = receive(sub, n, e, &len);
    ck_assert_msg(msg != NULL, "nothing published on watch.m31");
    ck_assert_str_eq(msg, "watch.m31"); /* the topic, a NUL, then the JSON */
    json_t *j = json_loadb(msg + 10, len - 10, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(j, "object")), "M31-N1 <&>");
    ck_assert_str_eq(json_string_value(json_object_get(j, "list")), "m31");
    ck_assert_ptr_null(json_object_get(j, "webhook")); /* a secret: never on the stream */
    ck_assert_ptr_null(strstr(msg + 10, "SECRET"));
    json_decref(j);
    ck_assert_int_ge(stats(n).published, 1);
    free(msg);
    finish(n);
    out->close(impl);
    nn_close(sub);
    server_stop(s);
    free(url);
    free(e);
    free(addr);
}
END_TEST

/* ---- [notify] in the broker's configuration ---- */

static int load_conf(const char *body, ss_broker_conf *c, ss_err *err)
{
    char *path = tu_write(tu_tmp, "b.ini", body);
    int rc = ss_broker_conf_load(path, c, err);
    free(path);
    return rc;
}

START_TEST(notify_configuration)
{
    ss_broker_conf c;
    ss_err err = {0};
    ck_assert_int_eq(load_conf("[broker]\n", &c, &err), 0);
    ck_assert(c.notify.timeout == 10 && c.notify.retries == 8 && c.notify.backoff == 2 &&
              c.notify.max_age == 86400);
    ss_broker_conf_free(&c);
    ck_assert_int_eq(load_conf("[notify]\ntimeout = 2.5\nretries = 3\nbackoff = 0.5\nmax_age = "
                               "600\n",
                               &c, &err),
                     0);
    ck_assert(c.notify.timeout == 2.5 && c.notify.retries == 3 && c.notify.backoff == 0.5 &&
              c.notify.max_age == 600);
    ss_broker_conf_free(&c);
    const char *bad[][2] = {
        {"[notify]\ntimeout = 0\n", "[notify] timeout = 0: seconds, 0.1 to 600"},
        {"[notify]\nretries = 0\n", "[notify] retries = 0: a whole number of attempts, 1 to 100"},
        {"[notify]\nretries = many\n", "[notify] retries = many: a whole number"},
        {"[notify]\nbackoff = -1\n", "[notify] backoff = -1: seconds, 0.01 to 3600"},
        {"[notify]\nmax_age = 0.5\n", "[notify] max_age = 0.5: seconds, at least 1"},
        {"[notify]\nurl = x\n", "[notify] url = x: unknown key (timeout, retries, backoff"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_int_eq(load_conf(bad[i][0], &c, &err), SS_EINVAL);
        ck_assert_msg(strstr(err.msg, "b.ini: ") && strstr(err.msg, bad[i][1]), "%s", err.msg);
    }
    /* the shipped configuration documents the defaults */
    ck_assert_msg(ss_broker_conf_load(SS_SOURCE_DIR "/config/skysieve.ini", &c, &err) == 0, "%s",
                  err.msg);
    ck_assert(c.notify.timeout == 10 && c.notify.retries == 8 && c.notify.backoff == 2 &&
              c.notify.max_age == 86400);
    ss_broker_conf_free(&c);
}
END_TEST

/* ---- the live broker ---- */

static pid_t run_broker(const char *conf)
{
    char *log = tu_path(tu_tmp, "broker.log");
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (!freopen(log, "a", stderr) || dup2(fileno(stderr), 1) < 0)
            _exit(127);
        execl(SS_BINARY, SS_BINARY, "run", "--config", conf, (char *)NULL);
        _exit(127);
    }
    free(log);
    return pid;
}

/* `skysieve ctl status`: status.notify.FIELD, or -1. */
static json_int_t broker_notify(const char *conf, const char *field)
{
    char *out = NULL, *err = NULL;
    json_int_t v = -1;
    if (tu_sks(&out, &err, "ctl --config %s status", conf) == 0) {
        json_t *j = json_loads(out, 0, NULL);
        json_t *st = json_object_get(json_object_get(j, "status"), "notify");
        v = json_is_integer(json_object_get(st, field))
                ? json_integer_value(json_object_get(st, field))
                : -1;
        json_decref(j);
    }
    free(out);
    free(err);
    return v;
}

START_TEST(the_broker_delivers_what_an_earlier_run_left_pending)
{
    static const step script[] = {{200, 0, 0}, {-1, 0, 0}};
    server *s = server_start(script);
    char *url = url_for(s->port, "/hook"), *e = entry(url), *cmd = NULL, *wrapper = NULL;
    ck_assert_int_ge(asprintf(&cmd, "mkdir -p %s/run/notify/pending", tu_tmp), 0);
    ck_assert_int_eq(tu_run(cmd, NULL, NULL), 0);
    ck_assert_int_ge(asprintf(&wrapper,
                              "{\"list\":\"m31\",\"created\":%lld,\"attempts\":1,"
                              "\"last_error\":\"HTTP 503\",\"entry\":%s}",
                              (long long)time(NULL), e),
                     0);
    char *pending = tu_path(tu_tmp, "run/notify/pending");
    free(tu_write(pending, "20260101T000000.000000000Z-1-1.json", wrapper));
    char *body = NULL;
    ck_assert_int_ge(asprintf(&body,
                              "[broker]\nstore = run/store\nrun_dir = run\nmap_size = 16M\n"
                              "[control]\naddress = ipc://%s/ctl.ipc\n[notify]\nbackoff = 0.05\n",
                              tu_tmp),
                     0);
    char *conf = tu_write(tu_tmp, "broker.ini", body);
    pid_t pid = run_broker(conf);
    WAIT_FOR(broker_notify(conf, "delivered") == 1, 30);
    ck_assert_int_eq(broker_notify(conf, "delivered"), 1);
    ck_assert_int_eq(broker_notify(conf, "pending"), 0);
    ck_assert_int_eq(broker_notify(conf, "failed"), 0);
    ck_assert_int_eq(server_nreq(s), 1);
    ck_assert_ptr_nonnull(strstr(s->body[0], "\"text\":\"Watch list m31: M31-N1"));
    /* SIGTERM, read from the broker's signalfd: the delivery thread must not take it */
    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char *seeded = tu_path(pending, "20260101T000000.000000000Z-1-1.json");
    ck_assert_int_ne(access(seeded, F_OK), 0); /* delivered: gone */
    free(seeded);
    char *log = NULL, *logpath = tu_path(tu_tmp, "broker.log");
    FILE *f = fopen(logpath, "r");
    size_t len = 0;
    ck_assert_int_ne(getdelim(&log, &len, '\0', f), -1);
    fclose(f);
    ck_assert_msg(strstr(log, "notify pending=1 from an earlier run") &&
                      strstr(log, "notify delivered list=m31 object=M31-N1 <&> url=http://"
                                  "127.0.0.1:") &&
                      strstr(log, "attempts=2"),
                  "%s", log);
    server_stop(s);
    free(log), free(logpath), free(conf), free(body), free(pending);
    free(wrapper), free(cmd), free(e), free(url);
}
END_TEST

/* The whole path: a watch list with a webhook in the store, alerts dropped in the spool, the
 * locus inside the watched radius notified once, however many alerts it gets. */
START_TEST(the_broker_notifies_a_watched_object_once)
{
    static const step script[] = {{200, 0, 0}, {200, 0, 0}, {-1, 0, 0}};
    server *s = server_start(script);
    char *url = url_for(s->port, "/hook"), *body = NULL, *out = NULL, *err = NULL;
    char *run = tu_path(tu_tmp, "run");
    ck_assert_int_eq(mkdir(run, 0700), 0);
    free(run);
    char *list = tu_write(tu_tmp, "m31.csv",
                          "name,ra,dec,radius\nM31-N1,10.6847,41.2690,2\n"
                          "far,200,-30,2\n");
    ck_assert_int_eq(tu_sks(&out, &err, "watch add --store %s/run/store --name m31 --webhook %s %s",
                            tu_tmp, url, list),
                     0);
    free(out), free(err);
    ck_assert_int_ge(asprintf(&body,
                              "[broker]\nstore = run/store\nrun_dir = run\nmap_size = 16M\n"
                              "[input spool]\ndir = run/spool\npoll = 0.05\n"
                              "[control]\naddress = ipc://%s/ctl.ipc\n[notify]\nbackoff = 0.05\n",
                              tu_tmp),
                     0);
    char *conf = tu_write(tu_tmp, "broker.ini", body);
    pid_t pid = run_broker(conf);
    WAIT_FOR(broker_notify(conf, "pending") == 0, 30);
    char *spool = tu_path(tu_tmp, "run/spool");
    free(tu_write(tu_tmp, "a.csv",
                  "alert_id,ra,dec,mjd,passband,mag,magerr\n"
                  "w1,10.6848,41.2690,60000.1,g,18.5,0.05\nn1,50,10,60000.1,g,18,0.05\n"));
    free(tu_write(tu_tmp, "b.csv",
                  "alert_id,ra,dec,mjd,passband,mag,magerr\n"
                  "w2,10.6847,41.2691,60001.1,r,18.2,0.05\n"));
    char *mv = NULL;
    ck_assert_int_ge(asprintf(&mv, "mv %s/a.csv %s/ && sleep 0.5 && mv %s/b.csv %s/", tu_tmp, spool,
                              tu_tmp, spool),
                     0);
    ck_assert_int_eq(tu_run(mv, NULL, NULL), 0);
    WAIT_FOR(broker_notify(conf, "delivered") >= 1, 30);
    usleep(1000 * 1000); /* a second notification for w2 would come within this */
    ck_assert_int_eq(broker_notify(conf, "delivered"), 1);
    ck_assert_int_eq(server_nreq(s), 1);
    ck_assert_ptr_nonnull(strstr(s->body[0], "\"text\":\"Watch list m31: M31-N1"));
    ck_assert_ptr_nonnull(strstr(s->body[0], "\"alert_id\":\"w1\""));
    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_int_eq(tu_sks(&out, &err, "watch list --store %s/run/store", tu_tmp), 0);
    free(out), free(err);
    server_stop(s);
    free(mv), free(spool), free(conf), free(body), free(list), free(url);
}
END_TEST

int main(void)
{
    /* the webhook tests talk to 127.0.0.1 directly, whatever proxy the environment names */
    const char *proxies[] = {"http_proxy", "https_proxy", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"};
    for (size_t i = 0; i < sizeof proxies / sizeof *proxies; i++)
        unsetenv(proxies[i]);
    ss_err err = {0};
    if (ss_publish_notify_global_init(&err)) {
        fprintf(stderr, "%s\n", err.msg);
        return EXIT_FAILURE;
    }
    Suite *s = suite_create("notify");
    TCase *tc = tcase_create("notify");
    tcase_add_checked_fixture(tc, tu_tmp_setup, tu_tmp_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, payload_is_slack_json_with_the_fields);
    tcase_add_test(tc, the_broker_notifies_a_watched_object_once);
    tcase_add_test(tc, server_error_then_ok_is_delivered_after_a_retry);
    tcase_add_test(tc, client_error_is_set_aside_with_its_reason);
    tcase_add_test(tc, connection_refused_is_retried_then_set_aside);
    tcase_add_test(tc, retry_after_is_honoured);
    tcase_add_test(tc, max_age_sets_aside_what_keeps_failing);
    tcase_add_test(tc, a_slow_server_does_not_hold_up_submit_and_stop_is_prompt);
    tcase_add_test(tc, shutdown_while_retrying_is_prompt);
    tcase_add_test(tc, pending_items_survive_a_restart);
    tcase_add_test(tc, a_bad_spool_file_is_set_aside);
    tcase_add_test(tc, bad_notifications_are_refused);
    tcase_add_test(tc, a_spool_that_cannot_be_written_publishes_nothing);
    tcase_add_test(tc, published_on_topic_watch_list);
    tcase_add_test(tc, notify_configuration);
    tcase_add_test(tc, the_broker_delivers_what_an_earlier_run_left_pending);
    suite_add_tcase(s, tc);
    int rc = tu_run_suite(s);
    ss_publish_notify_global_cleanup();
    return rc;
}
