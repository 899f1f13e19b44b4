/* Shared by the scale tests: see scale_util.h. */
#include "scale_util.h"

#include "bench_live.h"
#include "store.h"

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

const char sc_kind_letter[SC_KINDS] = {'S', 'P', 'K'};

int sc_kind(char c)
{
    for (int i = 0; i < SC_KINDS; i++)
        if (sc_kind_letter[i] == c)
            return i;
    return -1;
}

char *sc_csv(char kind, uint64_t first, unsigned n, size_t *len)
{
    size_t cap = 64 + (size_t)n * 96;
    char *t = malloc(cap);
    if (!t)
        bl_die("out of memory", NULL);
    size_t at = (size_t)snprintf(t, cap, "alert_id,ra,dec,mjd,passband,mag,magerr\n");
    for (unsigned i = 0; i < n; i++) {
        /* a global index over the kinds: every alert of every kind has a locus of its own */
        uint64_t g = (first + i) * SC_KINDS + (uint64_t)sc_kind(kind);
        double ra = (double)(g % 3600) * 0.1, dec = -60.0 + (double)(g / 3600) * 0.01;
        at +=
            (size_t)snprintf(t + at, cap - at, "%c%010llu,%.5f,%.5f,%.6f,g,18.5,0.05\n", kind,
                             (unsigned long long)(first + i), ra, dec, 60000.0 + (double)g * 1e-6);
    }
    *len = at;
    return t;
}

void sc_spool_put(const char *dir, const char *name, const char *text, size_t len)
{
    char tmp[4096], dst[4096];
    snprintf(tmp, sizeof tmp, "%s/.%s", dir, name);
    snprintf(dst, sizeof dst, "%s/%s", dir, name);
    FILE *f = fopen(tmp, "wb");
    if (!f || fwrite(text, 1, len, f) != len || fclose(f) != 0 || rename(tmp, dst) != 0)
        bl_die(dst, strerror(errno));
}

static volatile sig_atomic_t sc_child_pid; /* read by the signal handler */

static void sc_on_signal(int sig)
{
    if (sc_child_pid > 0)
        kill(sc_child_pid, SIGKILL);
    signal(sig, SIG_DFL);
    raise(sig);
}

void sc_guard_signals(void)
{
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, sc_on_signal);
    signal(SIGTERM, sc_on_signal);
}

pid_t sc_spawn(const char *exe, const char *conf, const char *log)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        bl_die("fork", strerror(errno));
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execl(exe, exe, "run", "--config", conf, (char *)NULL);
        _exit(127);
    }
    sc_child_pid = pid;
    return pid;
}

json_t *sc_ctl(const char *address, const char *cmd, double timeout)
{
    bl_ctl c;
    bl_ctl_open(&c, address, timeout);
    json_t *o = bl_ctl_ask(&c, cmd, NULL);
    nn_close(c.sock);
    return o;
}

static ss_store *sc_open(const char *store)
{
    ss_store_options o = {.readonly = 1};
    ss_store *s = NULL;
    ss_err err = {0};
    if (ss_store_open(store, &o, &s, &err)) {
        fprintf(stderr, "%s: %s\n", program_invocation_short_name, err.msg);
        return NULL;
    }
    return s;
}

int sc_store_counts_get(const char *store, sc_store_counts *out)
{
    ss_store *s = sc_open(store);
    ss_store_txn *txn = NULL;
    const ss_store_counters *c = NULL;
    if (s && ss_store_txn_begin(s, SS_STORE_READ, &txn) == 0 && (c = ss_store_txn_counters(txn)))
        *out = (sc_store_counts){c->alerts, c->loci, c->duplicates, c->rejected};
    ss_store_txn_abort(txn);
    ss_store_close(s);
    return c ? 0 : -1;
}

int64_t sc_store_find(const char *store, const uint64_t sent[SC_KINDS], uint8_t *found[SC_KINDS])
{
    ss_store *s = sc_open(store);
    ss_store_txn *txn = NULL;
    if (!s || ss_store_txn_begin(s, SS_STORE_READ, &txn)) {
        ss_store_close(s);
        return -1;
    }
    int64_t n = 0;
    for (int k = 0; k < SC_KINDS && n >= 0; k++)
        for (uint64_t i = 0; i < sent[k] && n >= 0; i++) {
            char id[32];
            snprintf(id, sizeof id, "%c%010llu", sc_kind_letter[k], (unsigned long long)i);
            int rc = ss_store_alert_find(txn, "tuple", id, NULL);
            found[k][i] = rc == 0;
            n = rc == 0 ? n + 1 : rc == SS_ENOTFOUND ? n : -1;
        }
    ss_store_txn_abort(txn);
    ss_store_close(s);
    return n;
}

uint64_t sc_runs_read(const char *path, const uint64_t sent[SC_KINDS], uint8_t *runs[SC_KINDS],
                      uint64_t *foreign)
{
    FILE *f = fopen(path, "r");
    char line[256];
    uint64_t lines = 0;
    *foreign = 0;
    while (f && fgets(line, sizeof line, f)) {
        lines++;
        int k = sc_kind(line[0]);
        char *end = NULL;
        unsigned long long i = k >= 0 ? strtoull(line + 1, &end, 10) : 0;
        if (k < 0 || end != line + SC_ID_LEN || i >= sent[k])
            (*foreign)++;
        else if (runs[k][i] < 255)
            runs[k][i]++;
    }
    if (f)
        fclose(f);
    return lines;
}

int sc_verify(const char *exe, const char *store)
{
    char *cmd = NULL;
    if (asprintf(&cmd, "'%s' verify --store '%s' >/dev/null", exe, store) < 0)
        bl_die("out of memory", NULL);
    int st = system(cmd);
    free(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

const char *sc_hms(double seconds, char *buf)
{
    long s = (long)(seconds + 0.5);
    snprintf(buf, 32, "%ldh%02ldm%02lds", s / 3600, s / 60 % 60, s % 60);
    return buf;
}
