/* The live benchmarks' shared parts (bench_live.h). */
#include "bench_live.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <nanomsg/nn.h>
#include <nanomsg/pubsub.h>
#include <nanomsg/reqrep.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double bl_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

void bl_sleep_until(double t)
{
    struct timespec ts = {(time_t)t, (long)((t - floor(t)) * 1e9)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

void bl_die(const char *what, const char *detail)
{
    fprintf(stderr, "%s: %s%s%s\n", program_invocation_short_name, what, detail ? ": " : "",
            detail ? detail : "");
    exit(1);
}

char *bl_path(const char *dir, const char *name)
{
    char *p = NULL;
    if (asprintf(&p, "%s/%s", dir, name) < 0)
        bl_die("out of memory", NULL);
    return p;
}

void bl_write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f))
        bl_die(path, strerror(errno));
}

static int bl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void bl_sort(double *v, size_t n)
{
    qsort(v, n, sizeof *v, bl_cmp);
}

/* Nearest-rank percentile of sorted @p v. */
double bl_pct(const double *v, size_t n, double p)
{
    if (!n)
        return NAN;
    size_t k = (size_t)ceil(p * (double)n);
    return v[k ? k - 1 : 0];
}

double bl_median(double *v, size_t n)
{
    bl_sort(v, n);
    return !n ? NAN : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double bl_max(const double *v, size_t n)
{
    double m = n ? v[0] : NAN;
    for (size_t i = 1; i < n; i++)
        m = v[i] > m ? v[i] : m;
    return m;
}

/* ---- the tag stream ---- */

static void *bl_listen_main(void *arg)
{
    bl_listener *l = arg;
    static const char key[] = "\"alert\":{\"alert_id\":\"";
    while (!atomic_load(&l->stop)) {
        char *m = NULL;
        int n = nn_recv(l->sock, &m, NN_MSG, 0);
        double t = bl_now();
        if (n < 0) {
            if (nn_errno() == EBADF || nn_errno() == ETERM)
                break;
            continue;
        }
        atomic_fetch_add(&l->msgs, 1);
        const char *json = memchr(m, '\0', (size_t)n);
        const char *id = json ? memmem(json, (size_t)(m + n - json), key, sizeof key - 1) : NULL;
        const char *q =
            id ? memchr(id + sizeof key - 1, '"', (size_t)(m + n - id) - sizeof key + 1) : NULL;
        if (q) {
            id += sizeof key - 1;
            int64_t idx = l->index(l->ctx, id, (size_t)(q - id));
            if (idx >= 0 && l->recv[idx] == 0) {
                l->recv[idx] = t;
                atomic_store(&l->last, t);
                atomic_fetch_add(&l->got, 1);
            } else if (idx >= 0)
                atomic_fetch_add(&l->dups, 1);
            else if (!strncmp(id, "warm-", 5))
                atomic_fetch_add(&l->warm, 1);
            else
                atomic_fetch_add(&l->foreign, 1);
        } else
            atomic_fetch_add(&l->foreign, 1);
        nn_freemsg(m);
    }
    return NULL;
}

void bl_listen_start(bl_listener *l, const char *address, const char *topic, bl_index_fn index,
                     void *ctx, double *recv)
{
    memset(l, 0, sizeof *l);
    l->index = index;
    l->ctx = ctx;
    l->recv = recv;
    int ms = 100, buf = 64 << 20;
    l->sock = nn_socket(AF_SP, NN_SUB);
    if (l->sock < 0 ||
        nn_setsockopt(l->sock, NN_SUB, NN_SUB_SUBSCRIBE, topic, strlen(topic) + 1) < 0 ||
        nn_setsockopt(l->sock, NN_SOL_SOCKET, NN_RCVTIMEO, &ms, sizeof ms) < 0 ||
        nn_setsockopt(l->sock, NN_SOL_SOCKET, NN_RCVBUF, &buf, sizeof buf) < 0 ||
        nn_connect(l->sock, address) < 0)
        bl_die(address, nn_strerror(nn_errno()));
    if (pthread_create(&l->th, NULL, bl_listen_main, l))
        bl_die("pthread_create", NULL);
}

void bl_listen_stop(bl_listener *l)
{
    atomic_store(&l->stop, 1);
    pthread_join(l->th, NULL);
    nn_close(l->sock);
}

/* ---- the control socket ---- */

void bl_ctl_open(bl_ctl *c, const char *address, double timeout)
{
    int ms = (int)(timeout * 1000);
    c->sock = nn_socket(AF_SP, NN_REQ);
    if (c->sock < 0 || nn_setsockopt(c->sock, NN_SOL_SOCKET, NN_RCVTIMEO, &ms, sizeof ms) < 0 ||
        nn_setsockopt(c->sock, NN_SOL_SOCKET, NN_SNDTIMEO, &ms, sizeof ms) < 0 ||
        nn_connect(c->sock, address) < 0)
        bl_die(address, nn_strerror(nn_errno()));
}

/* Send {"cmd": CMD}. @return the answer (caller decrefs), or NULL on a timeout; *wall: the round
 * trip in seconds. */
json_t *bl_ctl_ask(bl_ctl *c, const char *cmd, double *wall)
{
    char req[64];
    int len = snprintf(req, sizeof req, "{\"cmd\":\"%s\"}", cmd);
    double t0 = bl_now();
    char *rep = NULL;
    int n = nn_send(c->sock, req, (size_t)len, 0) < 0 ? -1 : nn_recv(c->sock, &rep, NN_MSG, 0);
    if (wall)
        *wall = bl_now() - t0;
    if (n < 0)
        return NULL;
    json_error_t je;
    json_t *o = json_loadb(rep, (size_t)n, 0, &je);
    nn_freemsg(rep);
    return o;
}

double bl_jnum(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* ---- the broker ---- */

int bl_broker_alive(bl_broker *b)
{
    int st;
    if (b->pid > 0 && waitpid(b->pid, &st, WNOHANG) == b->pid) {
        b->exit_status = st;
        b->pid = 0;
    }
    return b->pid > 0;
}

/* The broker's log, its end only when long, to stderr. */
static void bl_log_tail(const bl_broker *b, long max)
{
    FILE *f = fopen(b->log, "r");
    if (!f)
        return;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, size > max ? size - max : 0, SEEK_SET);
    fprintf(stderr, "---- %s%s ----\n", b->log, size > max ? " (its end)" : "");
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, n, stderr);
    fprintf(stderr, "---- end ----\n");
    fclose(f);
}

void bl_broker_fail(bl_broker *b, const char *what)
{
    fprintf(stderr, "%s: %s (broker %s)\n", program_invocation_short_name, what,
            bl_broker_alive(b) ? "still running" : "exited");
    bl_log_tail(b, 6000);
    if (b->pid > 0) {
        kill(b->pid, SIGKILL);
        waitpid(b->pid, NULL, 0);
    }
    exit(1);
}

json_t *bl_broker_status(bl_broker *b)
{
    json_t *st = bl_ctl_ask(&b->c, "status", NULL);
    json_t *s = json_object_get(st, "status");
    json_incref(s);
    json_decref(st);
    return s;
}

void bl_broker_init(bl_broker *b, const char *work, const char *name)
{
    memset(b, 0, sizeof *b);
    b->dir = bl_path(work, name);
    if (mkdir(b->dir, 0755) != 0)
        bl_die(b->dir, strerror(errno));
    b->conf = bl_path(b->dir, "broker.ini");
    b->log = bl_path(b->dir, "broker.log");
    if (asprintf(&b->in_addr, "ipc://%s/in.ipc", b->dir) < 0 ||
        asprintf(&b->pub_addr, "ipc://%s/tags.ipc", b->dir) < 0 ||
        asprintf(&b->ctl_addr, "ipc://%s/control.ipc", b->dir) < 0)
        bl_die("out of memory", NULL);
}

void bl_broker_start(bl_broker *b, const char *exe, const char *inputs, const char *set,
                     int workers)
{
    char *text = NULL;
    if (asprintf(&text,
                 "; %s\n[broker]\nstore = %s/store\nrun_dir = %s/run\n"
                 "log_level = info\nstats_interval = 5\n\n%s\n"
                 "[filters]\nset = %s\nworkers = %d\ntimeout = 10\n\n[output]\npublish = %s\n\n"
                 "[control]\naddress = %s\n",
                 program_invocation_short_name, b->dir, b->dir, inputs, set, workers, b->pub_addr,
                 b->ctl_addr) < 0)
        bl_die("out of memory", NULL);
    bl_write_text(b->conf, text);
    free(text);
    fflush(NULL);
    b->pid = fork();
    if (b->pid < 0)
        bl_die("fork", strerror(errno));
    if (b->pid == 0) {
        int fd = open(b->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execl(exe, exe, "run", "--config", b->conf, (char *)NULL);
        _exit(127);
    }
    bl_ctl_open(&b->c, b->ctl_addr, 30);
    double until = bl_now() + 60;
    for (;;) { /* ready: the first generation runs */
        if (!bl_broker_alive(b))
            bl_broker_fail(b, "the broker did not start");
        json_t *st = bl_broker_status(b);
        double gen = bl_jnum(st, "generation");
        json_decref(st);
        if (gen >= 1)
            break;
        if (bl_now() > until)
            bl_broker_fail(b, "the broker's filter set did not run within 60 s");
        usleep(50000);
    }
}

/* Stop through the control socket; SIGTERM, then SIGKILL, when that does not end it.
 * @return a note when the stop was not clean, else NULL. Remove the run unless @p keep. */
const char *bl_broker_stop(bl_broker *b, int keep)
{
    const char *note = NULL;
    json_t *r = bl_ctl_ask(&b->c, "stop", NULL);
    json_decref(r);
    double until = bl_now() + 30;
    while (bl_broker_alive(b) && bl_now() < until)
        usleep(20000);
    if (bl_broker_alive(b)) {
        note = "did not stop within 30 s of `ctl stop`: SIGTERM";
        kill(b->pid, SIGTERM);
        until = bl_now() + 10;
        while (bl_broker_alive(b) && bl_now() < until)
            usleep(20000);
    }
    if (bl_broker_alive(b)) {
        note = "did not stop on `ctl stop` nor on SIGTERM: SIGKILL";
        kill(b->pid, SIGKILL);
        waitpid(b->pid, &b->exit_status, 0);
        b->pid = 0;
    } else if (!note && !(WIFEXITED(b->exit_status) && WEXITSTATUS(b->exit_status) == 0))
        note = "exited with a failure status after `ctl stop`";
    nn_close(b->c.sock);
    if (note) {
        fprintf(stderr, "%s: broker %s: %s\n", program_invocation_short_name, b->dir, note);
        bl_log_tail(b, 3000);
    }
    /* warnings and errors in the log: worth a look whatever the figures */
    FILE *f = fopen(b->log, "r");
    char line[2048];
    int nwarn = 0;
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, "Z WARN ") || strstr(line, "Z ERROR "))
            if (nwarn++ < 5)
                fprintf(stderr, "%s: %s: %s", program_invocation_short_name, b->log, line);
    if (f)
        fclose(f);
    if (nwarn > 5)
        fprintf(stderr, "%s: %s: %d warning and error lines in all\n",
                program_invocation_short_name, b->log, nwarn);
    if (!keep) {
        char *cmd = NULL;
        if (asprintf(&cmd, "rm -rf '%s'", b->dir) >= 0 && system(cmd) != 0)
            fprintf(stderr, "%s: could not remove %s\n", program_invocation_short_name, b->dir);
        free(cmd);
    }
    free(b->dir), free(b->conf), free(b->log);
    free(b->in_addr), free(b->pub_addr), free(b->ctl_addr);
    return note;
}
