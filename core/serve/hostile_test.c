/*
 * skysieve serve against hostile clients: malformed HTTP, oversized request lines and headers,
 * path traversal, absurd parameters, unknown routes, slow clients (slowloris) and thousands of
 * connections. Every request is answered or its connection closed, the server stays alive and
 * answers the next ordinary request, and a broker writing the same store meanwhile stores every
 * alert it is sent.
 */
#include "testutil.h"
#include "tu_http.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static tu_server srv;

static void setup(void)
{
    tu_tmp_setup();
    char *out = NULL;
    ck_assert_int_eq(
        tu_sks(&out, NULL, "simulate --sources 50 --seed 3 --quiet --out '%s/night.csv'", tu_tmp),
        0);
    free(out);
    ck_assert_int_eq(
        tu_sks(&out, NULL, "ingest --quiet --store '%s/st' '%s/night.csv'", tu_tmp, tu_tmp), 0);
    free(out);
    tu_serve_start(
        &srv,
        "--store '%s/st' --set timeout=2 --set header_timeout=3 --set max_connections=512 "
        "--set per_ip_connections=512",
        tu_tmp);
}

static void teardown(void)
{
    tu_serve_stop(&srv); /* checks it exits 0: it survived */
    tu_tmp_teardown();
}

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Send @p len bytes, then read until the peer closes or @p ms pass. @return the answer's status
 * code, 0 when the connection was closed without one, -1 when nothing came in time. */
static int exchange(const void *req, size_t len, int ms)
{
    int fd = dial(srv.port);
    ck_assert_int_ge(fd, 0);
    (void)!send(fd, req, len, MSG_NOSIGNAL);
    char buf[4096];
    size_t got = 0;
    int closed = 0;
    while (got < sizeof buf - 1) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, ms) <= 0)
            break;
        ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (n <= 0) {
            closed = 1;
            break;
        }
        got += (size_t)n;
        if (memmem(buf, got, "\r\n\r\n", 4))
            break;
    }
    close(fd);
    buf[got] = '\0';
    int status = 0;
    if (got && sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        status = 0;
    return got || closed ? status : -1;
}

static void alive(void)
{
    ck_assert_int_eq(tu_http_status(&srv, "/api/v1/stats"), 200);
}

START_TEST(malformed_requests)
{
    static const char *const reqs[] = {
        "\x00\xff\xfe garbage\r\n\r\n",
        "GET / HTTP/9.9\r\nHost: x\r\n\r\n",
        "GET\r\n\r\n",
        "GET /api/v1\r\n\r\n",
        "GET /api/v1 HTTP/1.1\r\nno colon here\r\n\r\n",
        "GET /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        "GET /api/v1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "POST /api/v1/loci HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
        "DELETE /api/v1/stats HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /api/v1/loci?ra=1&ra=2&ra=3&dec=%%zz HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /api/v1/stats HTTP/1.1\r\nHost: x\r\nX: a\r\n injected: b\r\n\r\n",
        "GET /api/v1/stats HTTP/1.0\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof reqs / sizeof *reqs; i++) {
        int st = exchange(reqs[i], strlen(reqs[i]) + (i == 0 ? 16 : 0), 3000);
        ck_assert_msg(st == 0 || (st >= 200 && st < 600),
                      "request %zu: neither answered nor "
                      "closed (%d)",
                      i, st);
        ck_assert_msg(st != 500, "request %zu: 500", i);
        alive();
    }
}
END_TEST

/* A request line and headers past the limits: refused with a status, never a crash. */
START_TEST(oversized_requests)
{
    size_t n = 200000;
    char *big = malloc(n + 64);
    int len = snprintf(big, 64, "GET /api/v1/loci/");
    memset(big + len, 'a', n);
    strcpy(big + len + n, " HTTP/1.1\r\nHost: x\r\n\r\n");
    int st = exchange(big, strlen(big), 3000);
    ck_assert_msg(st == 0 || st == 414 || st == 431 || st == 413, "huge path: %d", st);
    len = snprintf(big, 64, "GET /api/v1/stats HTTP/1.1\r\nX-Big: ");
    memset(big + len, 'b', n);
    strcpy(big + len + n, "\r\n\r\n");
    st = exchange(big, strlen(big), 3000);
    ck_assert_msg(st == 0 || st == 431 || st == 413 || st == 400, "huge header: %d", st);
    free(big);
    alive();
}
END_TEST

/* Parameters no search may take: each a 400 naming it. */
START_TEST(absurd_parameters)
{
    static const char *const paths[] = {
        "/api/v1/loci?ra=nan&dec=0&radius=1",
        "/api/v1/loci?ra=inf&dec=0&radius=1",
        "/api/v1/loci?ra=10&dec=-91&radius=1",
        "/api/v1/loci?ra=10&dec=0&radius=-1",
        "/api/v1/loci?ra=10&dec=0&radius=1e308",
        "/api/v1/loci?ra=10&dec=0",
        "/api/v1/loci?page=0",
        "/api/v1/loci?page=-1",
        "/api/v1/loci?page=99999999999999999999999",
        "/api/v1/loci?page_size=100000000",
        "/api/v1/loci?num_alerts.gte=abc",
        "/api/v1/loci?order=sideways",
        "/api/v1/loci?count=maybe",
        "/api/v1/loci/SKS2020aaaaaaaaaaaa/lightcurve?before=1e400",
        "/api/v1/catalogs/nope/cone?ra=1&dec=1&radius=nan",
    };
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        json_t *e = tu_http_json(&srv, paths[i], 400);
        ck_assert_ptr_nonnull(json_object_get(e, "detail"));
        json_decref(e);
    }
    ck_assert_int_eq(tu_http_status(&srv, "/nothing/here"), 404);
    ck_assert_int_eq(tu_http_status(&srv, "/api/v1/loci/a/b/c/d/e/f/g/h/i/j/k"), 404);
    alive();
}
END_TEST

/* Slow clients send a byte a second: the server cuts them at its timeout and answers others
 * meanwhile. */
START_TEST(slowloris)
{
    enum { SLOW = 100 };
    int fds[SLOW];
    for (int i = 0; i < SLOW; i++) {
        ck_assert_int_ge(fds[i] = dial(srv.port), 0);
        (void)!send(fds[i], "GET /api/v1/stats HTTP/1.1\r\n", 28, MSG_NOSIGNAL);
    }
    int cut = 0;
    for (int second = 0; second < 6; second++) {
        alive(); /* ordinary requests go through while the slow ones dawdle */
        for (int i = 0; i < SLOW; i++)
            if (fds[i] >= 0 && send(fds[i], "X", 1, MSG_NOSIGNAL) < 0) {
                close(fds[i]);
                fds[i] = -1;
                cut++;
            }
        sleep(1);
    }
    for (int i = 0; i < SLOW; i++) {
        if (fds[i] < 0)
            continue;
        struct pollfd p = {fds[i], POLLIN, 0};
        char c;
        if (poll(&p, 1, 100) > 0 && recv(fds[i], &c, 1, 0) <= 0)
            cut++;
        close(fds[i]);
    }
    ck_assert_msg(cut == SLOW, "%d of %d slow clients were cut", cut, SLOW);
}
END_TEST

/* Thousands of connections at once: those past the limit are closed, the rest answered. */
START_TEST(thousands_of_connections)
{
    enum { MANY = 3000 };
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    int n = (int)(rl.rlim_cur - 64 < MANY ? rl.rlim_cur - 64 : MANY);
    int *fds = malloc(sizeof *fds * (size_t)n), opened = 0;
    for (int i = 0; i < n; i++)
        if ((fds[i] = dial(srv.port)) >= 0)
            opened++;
    ck_assert_int_gt(opened, 1000);
    static const char req[] = "GET /api/v1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0)
            (void)!send(fds[i], req, sizeof req - 1, MSG_NOSIGNAL);
    int answered = 0, closed = 0;
    for (int i = 0; i < n; i++) {
        if (fds[i] < 0)
            continue;
        struct pollfd p = {fds[i], POLLIN, 0};
        char buf[64] = "";
        ssize_t got = poll(&p, 1, 5000) > 0 ? recv(fds[i], buf, sizeof buf - 1, 0) : -2;
        if (got > 0 && !strncmp(buf, "HTTP/1.1 200", 12))
            answered++;
        else if (got == 0 || (got < 0 && got != -2))
            closed++;
        close(fds[i]);
    }
    free(fds);
    ck_assert_msg(answered + closed == opened, "%d opened, %d answered, %d closed", opened,
                  answered, closed);
    ck_assert_int_ge(answered, 400); /* up to max_connections were served */
    alive();
}
END_TEST

/* ---- with a broker writing the same store ---- */

START_TEST(broker_undisturbed)
{
    char *out = NULL;
    ck_assert_int_eq(
        tu_sks(&out, NULL, "simulate --sources 300 --seed 5 --quiet --out '%s/more.csv'", tu_tmp),
        0);
    free(out);
    size_t len;
    char *csv_path = tu_path(tu_tmp, "more.csv"), *text = tu_read_file(csv_path, &len);
    size_t rows = tu_count_lines(text) - 1;
    free(text);
    char conf[512];
    snprintf(conf, sizeof conf,
             "[broker]\nstore = st\nrun_dir = run\n\n[input pull]\naddress = ipc://%s/in.ipc\n",
             tu_tmp);
    char *ini = tu_write(tu_tmp, "broker.ini", conf);
    /* the second night reuses the first's alert ids: what it repeats is counted as duplicates */
    json_t *before = tu_http_json(&srv, "/api/v1/stats", 200);
    json_int_t had = json_integer_value(json_object_get(before, "alerts")) +
                     json_integer_value(json_object_get(before, "duplicates"));
    json_decref(before);
    pid_t broker = tu_sks_run(ini);
    json_t *st = NULL;
    for (int i = 0; i < 100 && !(st = tu_ctl_status(ini)); i++)
        usleep(100 * 1000);
    ck_assert_ptr_nonnull(st);
    json_decref(st);
    pid_t sender = fork();
    if (sender == 0) {
        char *o = NULL;
        _exit(tu_sks(&o, NULL, "send ipc://%s/in.ipc '%s'", tu_tmp, csv_path) == 0 ? 0 : 1);
    }
    /* hostile traffic while the broker ingests */
    for (int round = 0; round < 20; round++) {
        exchange("\x01\x02garbage\r\n\r\n", 12, 500);
        tu_http_status(&srv, "/api/v1/loci?ra=nan&dec=0&radius=1");
        tu_http_status(&srv, "/api/v1/loci?sort=num_alerts&page_size=1000");
    }
    int sst;
    ck_assert_int_eq(waitpid(sender, &sst, 0), sender);
    ck_assert(WIFEXITED(sst) && WEXITSTATUS(sst) == 0);
    json_int_t stored = 0;
    for (int i = 0; i < 300 && stored != had + (json_int_t)rows; i++, usleep(100 * 1000)) {
        json_t *s = tu_http_json(&srv, "/api/v1/stats", 200);
        stored = json_integer_value(json_object_get(s, "alerts")) +
                 json_integer_value(json_object_get(s, "duplicates"));
        json_decref(s);
    }
    ck_assert_int_eq(stored, had + (json_int_t)rows);
    tu_broker_stop(&broker);
    free(ini), free(csv_path);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("serve_hostile");
    TCase *tc = tcase_create("hostile");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, malformed_requests);
    tcase_add_test(tc, oversized_requests);
    tcase_add_test(tc, absurd_parameters);
    tcase_add_test(tc, slowloris);
    tcase_add_test(tc, thousands_of_connections);
    tcase_add_test(tc, broker_undisturbed);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
