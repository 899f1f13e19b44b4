/* Filter-set generations and their worker processes (pool.h). */
#include "pool.h"
#include "broker.h"
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SSI_HELLO_MIN_S     30.0 /* loading a set may take a while (Lua, large setup files) */
#define SSI_MAX_ATTEMPTS    3    /* a dispatch whose worker dies outside any filter */
#define SSI_RESTART_BACKOFF 1.0
#define SSI_EXIT_WAIT_S     0.2 /* a dead worker's exit status is worth this much of the loop */

typedef struct ssi_limits_arg {
    const ssi_worker_limits *limits;
    pid_t broker;
} ssi_limits_arg;

double ssi_mono(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ---- starting and stopping workers ---- */

int ss_broker_memory_limit_skipped(void)
{
#if defined(__SANITIZE_ADDRESS__)
    return 1;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    return 1;
#endif
#endif
    return 0;
}

/* Only what is configured: an unset limit stays the broker's, which may be lower than ours. The
 * hard limit is @p slack above: CPU's soft limit sends SIGXCPU, which names the cause, and its
 * hard limit a SIGKILL, which would not. */
static int ssi_limit(int resource, uint64_t value, uint64_t slack)
{
    struct rlimit now, rl = {(rlim_t)value, (rlim_t)(value + slack)};
    if (getrlimit(resource, &now) == 0 && now.rlim_max != RLIM_INFINITY &&
        rl.rlim_max > now.rlim_max)
        rl.rlim_max = now.rlim_max; /* an unprivileged broker cannot raise it */
    return value ? setrlimit(resource, &rl) : 0;
}

/* Before exec, so that no filter (nor its setup) ever runs unconfined. */
static int ssi_child_confine(const ssi_limits_arg *a)
{
    const ssi_worker_limits *l = a->limits;
    if (setpgid(0, 0) != 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != a->broker)
        return -1; /* the last: the broker died before PDEATHSIG was armed */
    return ssi_limit(RLIMIT_DATA, ss_broker_memory_limit_skipped() ? 0 : l->memory, 0) ||
           ssi_limit(RLIMIT_CPU, l->cpu_seconds, 5) || ssi_limit(RLIMIT_NOFILE, l->open_files, 0) ||
           ssi_limit(RLIMIT_NPROC, l->processes, 0);
}

/* In the child: the capture memfds on fds 1 and 2, the socket on fd 3, the shared page on fd 4,
 * the broker's stderr on fd 5 (wire.h), nothing else of the broker's. The worker moves the socket
 * out of a filter's reach (worker.c). */
static void ssi_child_exec(const ssi_pool_conf *pc, const ssi_gen *g, const int fds[5],
                           pid_t broker)
{
    ssi_limits_arg a = {&pc->limits, broker};
    if (ssi_child_confine(&a) != 0)
        _exit(125);
    int high[5];
    for (int i = 0; i < 5; i++) /* the broker's stderr (the last) may be closed: then no fd 5 */
        if ((high[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 10)) < 0 && i < 4)
            _exit(126);
    for (int i = 0; i < 5; i++)
        if (high[i] >= 0 && dup2(high[i], i + 1) < 0)
            _exit(126);
    closefrom(6);
    execl(pc->exe, pc->exe, "worker", "--store", pc->store_dir, "--set", g->ini, "--fd", "3",
          "--shm", "4", (char *)NULL);
    _exit(127);
}

static void ssi_close_captures(ssi_wproc *w)
{
    for (int s = 0; s < 2; s++) {
        if (w->cap[s] >= 0)
            close(w->cap[s]);
        w->cap[s] = -1;
    }
}

/* A worker's capture memfds (kept by the broker too: after a crash it reads what was left). */
static int ssi_captures_open(ssi_wproc *w)
{
    for (int s = 0; s < 2; s++)
        if ((w->cap[s] = ssi_capture_create(s ? "skysieve-stderr" : "skysieve-stdout")) < 0) {
            int e = errno;
            ssi_close_captures(w);
            return e;
        }
    return 0;
}

static void ssi_shm_fill(const ssi_pool_conf *pc, ssi_worker_shm *shm)
{
    shm->filter = -1;
    shm->allow = pc->allow;
    shm->uid = (int32_t)pc->uid;
    shm->gid = (int32_t)pc->gid;
}

static int ssi_wproc_spawn(const ssi_pool_conf *pc, ssi_gen *g, ssi_wproc *w, const ss_log *lg)
{
    int sv[2], e;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return errno;
    int shm = memfd_create("skysieve-worker", MFD_CLOEXEC);
    if (shm < 0 || ftruncate(shm, sizeof *w->shm) != 0 ||
        (w->shm = mmap(NULL, sizeof *w->shm, PROT_READ | PROT_WRITE, MAP_SHARED, shm, 0)) ==
            MAP_FAILED ||
        (errno = ssi_captures_open(w)) != 0) {
        e = errno;
        if (w->shm && w->shm != MAP_FAILED)
            munmap((void *)w->shm, sizeof *w->shm);
        w->shm = NULL;
        close(sv[0]), close(sv[1]);
        if (shm >= 0)
            close(shm);
        return e;
    }
    ssi_shm_fill(pc, w->shm);
    int fds[5] = {w->cap[0], w->cap[1], sv[1], shm, 2};
    pid_t broker = getpid(), pid = fork();
    if (pid == 0)
        ssi_child_exec(pc, g, fds, broker);
    e = errno;
    if (pid > 0)
        setpgid(pid, pid); /* also here: a kill of the group may come before the child runs */
    close(sv[1]);
    close(shm);
    if (pid < 0) {
        close(sv[0]);
        ssi_close_captures(w);
        munmap((void *)w->shm, sizeof *w->shm);
        w->shm = NULL;
        return e;
    }
    w->pid = pid;
    w->fd = sv[0];
    w->state = SSI_W_STARTING;
    w->killed = 0;
    double wait = pc->timeout * 3 > SSI_HELLO_MIN_S ? pc->timeout * 3 : SSI_HELLO_MIN_S;
    w->deadline = ssi_mono() + wait;
    ss_log_line(lg, SS_LOG_DEBUG, "worker started pid=%d generation=%u", (int)pid, g->id);
    return 0;
}

/* The worker and whatever its filters started: they share its process group. Called before the
 * worker is reaped, so that the group id cannot have been reused. */
static void ssi_kill_group(pid_t pid)
{
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL); /* in case it never got its own group */
}

/* 1 when @p pid has ended; it is left unreaped (a zombie keeps its process group alive). */
static int ssi_ended(pid_t pid)
{
    siginfo_t si = {0};
    return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0 || si.si_pid == pid;
}

/* Reap a worker (killing it first) and describe how it ended. */
static void ssi_wproc_reap(ssi_wproc *w, char *how, size_t cap)
{
    int st = 0;
    /* a socket's end comes just before its worker's exit: wait for the status that says why */
    for (double until = ssi_mono() + SSI_EXIT_WAIT_S;
         !w->killed && !ssi_ended(w->pid) && ssi_mono() < until;)
        usleep(1000);
    ssi_kill_group(w->pid);
    while (waitpid(w->pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (w->killed)
        snprintf(how, cap, "did not answer in time and was killed");
    else if (WIFEXITED(st) && WEXITSTATUS(st) == SSI_EXIT_LOST_SOCKET)
        snprintf(how, cap, "lost its socket to the broker (a filter closed or replaced it)");
    else if (WIFEXITED(st) && WEXITSTATUS(st) == 125)
        snprintf(how, cap,
                 "could not be confined (a [broker] worker_* limit above the hard "
                 "limit, or the broker died)");
    else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGXCPU)
        snprintf(how, cap, "used up its CPU time (worker_cpu_seconds)");
    else if (WIFSIGNALED(st))
        snprintf(how, cap, "was killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
    else
        snprintf(how, cap, "exited with status %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    close(w->fd);
    w->fd = -1;
    w->pid = 0;
    w->state = SSI_W_DOWN;
}

static void ssi_free_jobs(ssi_wproc *w)
{
    for (size_t i = 0; i < w->capjobs; i++) {
        free(w->jobs[i].exclude);
        ss_wbuf_free(&w->jobs[i].answer);
    }
    free(w->jobs);
}

static void ssi_gfilter_free(ssi_gfilter *f)
{
    free(f->label), free(f->name), free(f->version), free(f->runtime);
    for (size_t i = 0; i < f->ntags; i++)
        free(f->tags[i]);
    free(f->tags);
    ss_filter_stats_free(&f->st);
    ss_ratelimit_free(f->out);
}

void ssi_gen_free(ssi_gen *g, double grace)
{
    if (!g)
        return;
    static const unsigned char quit[1] = {'Q'};
    for (size_t i = 0; i < g->nw; i++)
        if (g->w[i].pid > 0)
            ssi_frame_send(g->w[i].fd, quit, 1);
    double until = ssi_mono() + grace;
    for (size_t i = 0; i < g->nw; i++) {
        ssi_wproc *w = &g->w[i];
        int st;
        while (w->pid > 0 && ssi_mono() < until && !ssi_ended(w->pid))
            usleep(2000);
        if (w->pid > 0) { /* even after a clean exit: a filter's children must not outlive it */
            ssi_kill_group(w->pid);
            waitpid(w->pid, &st, 0);
        }
        if (w->fd >= 0)
            close(w->fd);
        ssi_close_captures(w);
        if (w->shm)
            munmap((void *)w->shm, sizeof *w->shm);
        ssi_free_jobs(w);
        ss_wbuf_free(&w->rx);
        ss_ratelimit_free(w->out);
    }
    for (size_t i = 0; i < g->nf; i++)
        ssi_gfilter_free(&g->f[i]);
    free(g->f);
    json_decref(g->declared);
    free(g->w);
    if (g->dir) /* the snapshot is not needed once its workers are gone */
        ss_file_remove_tree(g->dir);
    free(g->dir);
    free(g->ini);
    free(g);
}

/* The group the snapshot is shared with (nftw() passes no context; only the loop thread calls). */
static gid_t ssi_share_gid;

static int ssi_share_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)ftw;
    mode_t add = S_IRGRP | (type == FTW_D || (st->st_mode & S_IXUSR) ? S_IXGRP : 0);
    return lchown(path, (uid_t)-1, ssi_share_gid) != 0 ||
                   (type != FTW_SL && chmod(path, (st->st_mode & 07777) | add) != 0)
               ? -1
               : 0;
}

/* Workers running as [broker] worker_user read the snapshot through its group: read-only, so that
 * a filter cannot change what the next worker loads. */
static int ssi_share_snapshot(const ssi_pool_conf *pc, const char *dir, ss_err *err)
{
    if (pc->uid < 0)
        return 0;
    ssi_share_gid = (gid_t)pc->gid;
    if (nftw(dir, ssi_share_one, 16, FTW_PHYS) != 0)
        return ss_err_set(err, errno ? errno : EPERM,
                          "%s: cannot share the snapshot with worker_user's group %ld: %s", dir,
                          pc->gid, strerror(errno ? errno : EPERM));
    return 0;
}

int ssi_gen_start(const ssi_pool_conf *pc, unsigned id, const char *set_ini, const char *dir,
                  size_t nw, ssi_gen **out, ss_err *err)
{
    ssi_gen *g = calloc(1, sizeof *g);
    if (!g || !(g->w = calloc(nw, sizeof *g->w)) || !(g->dir = strdup(dir)) ||
        asprintf(&g->ini, "%s/filters.ini", dir) < 0) {
        if (g)
            g->ini = NULL;
        ssi_gen_free(g, 0);
        return ss_err_set(err, SS_ENOMEM, "out of memory");
    }
    g->id = id;
    g->nw = nw;
    g->started = ssi_mono();
    int rc = 0;
    for (size_t i = 0; i < nw; i++) {
        g->w[i].fd = g->w[i].cap[0] = g->w[i].cap[1] = -1;
        if (!(g->w[i].out = ssi_output_limit_new()))
            rc = ss_err_set(err, SS_ENOMEM, "out of memory");
    }
    rc = rc                      ? rc
         : mkdir(dir, 0700) != 0 ? ss_err_set(err, errno, "%s: %s", dir, strerror(errno))
                                 : 0;
    if (!rc)
        rc = ss_filter_set_snapshot(set_ini, dir, err);
    if (!rc)
        rc = ssi_share_snapshot(pc, dir, err);
    for (size_t i = 0; i < nw && !rc; i++)
        if ((rc = ssi_wproc_spawn(pc, g, &g->w[i], NULL)))
            ss_err_set(err, rc, "starting a worker (%s): %s", pc->exe, strerror(rc));
    if (rc) {
        ssi_gen_free(g, 0);
        return rc;
    }
    *out = g;
    return 0;
}

int ssi_gen_ready(const ssi_gen *g)
{
    if (g->error[0])
        return -1;
    for (size_t i = 0; i < g->nw; i++)
        if (g->w[i].state == SSI_W_STARTING || g->w[i].state == SSI_W_DOWN)
            return 0;
    return 1;
}

int ssi_gen_idle(const ssi_gen *g)
{
    for (size_t i = 0; i < g->nw; i++)
        if (g->w[i].njobs)
            return 0;
    return 1;
}

int ssi_gen_find(const ssi_gen *g, const char *label)
{
    for (size_t i = 0; i < g->nf; i++)
        if (!strcmp(g->f[i].label, label))
            return (int)i;
    return -1;
}

/* ---- hello ---- */

static char *ssi_jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return strdup(s ? s : "");
}

static int ssi_gen_fill(ssi_gen *g, json_t *list)
{
    size_t n = json_array_size(list);
    if (!(g->f = calloc(n ? n : 1, sizeof *g->f)))
        return SS_ENOMEM;
    g->nf = n;
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(list, i), *tags = json_object_get(o, "tags");
        ssi_gfilter *f = &g->f[i];
        f->label = ssi_jstr(o, "label");
        f->name = ssi_jstr(o, "name");
        f->version = ssi_jstr(o, "version");
        f->runtime = ssi_jstr(o, "runtime");
        f->ntags = json_array_size(tags);
        f->tags = calloc(f->ntags + 1, sizeof *f->tags);
        f->st.tag_counts = calloc(f->ntags + 1, sizeof *f->st.tag_counts);
        f->out = ssi_output_limit_new();
        if (!f->label || !f->name || !f->version || !f->runtime || !f->tags || !f->st.tag_counts ||
            !f->out)
            return SS_ENOMEM;
        for (size_t k = 0; k < f->ntags; k++)
            if (!(f->tags[k] = strdup(json_string_value(json_array_get(tags, k)) ?: "")))
                return SS_ENOMEM;
    }
    g->declared = json_incref(list);
    g->have_filters = 1;
    return 0;
}

static int ssi_send_jobs(const ssi_gen *g, ssi_wproc *w, double timeout);

/* Replace every @p from in @p text (capacity @p cap) by @p to. */
static void ssi_replace(char *text, size_t cap, const char *from, const char *to)
{
    size_t lf = strlen(from), lt = strlen(to);
    for (char *p = strstr(text, from); p && lf; p = strstr(p + lt, from)) {
        size_t tail = strlen(p + lf);
        if ((size_t)(p - text) + lt + tail + 1 > cap)
            return;
        memmove(p + lt, p + lf, tail + 1);
        memcpy(p, to, lt);
    }
}

/* A load error names the snapshot's copies: name the operator's files instead. */
static void ssi_name_originals(ssi_gen *g)
{
    char *path = NULL, line[4096];
    FILE *fp = asprintf(&path, "%s/sources", g->dir) < 0 ? NULL : fopen(path, "r");
    free(path);
    while (fp && fgets(line, sizeof line, fp)) {
        char *tab = strchr(line, '\t');
        if (!tab)
            continue;
        *tab = '\0';
        tab[1 + strcspn(tab + 1, "\n")] = '\0';
        char *copy = NULL;
        if (asprintf(&copy, "%s/%s", g->dir, line) >= 0) {
            ssi_replace(g->error, sizeof g->error, copy, tab + 1);
            ssi_replace(g->error, sizeof g->error, line, tab + 1);
        }
        free(copy);
    }
    if (fp)
        fclose(fp);
}

static void ssi_on_hello(const ssi_pool_conf *pc, ssi_gen *g, ssi_wproc *w, const ss_wbuf *frame,
                         const ss_log *lg)
{
    json_error_t je;
    json_t *o = json_loadb((const char *)frame->data + 1, frame->len - 1, 0, &je);
    if (!json_is_true(json_object_get(o, "ok"))) {
        const char *why = json_string_value(json_object_get(o, "error"));
        snprintf(g->error, sizeof g->error, "%s", why ? why : "the worker's hello is unreadable");
        ssi_name_originals(g);
    } else if (!g->have_filters) {
        g->max_errors =
            (unsigned)json_integer_value(json_object_get(o, "max_consecutive_failures"));
        if (ssi_gen_fill(g, json_object_get(o, "filters")))
            snprintf(g->error, sizeof g->error, "out of memory");
    } else if (json_array_size(json_object_get(o, "filters")) != g->nf) {
        snprintf(g->error, sizeof g->error, "a restarted worker loaded a different set");
    }
    json_decref(o);
    if (g->error[0]) {
        ss_log_line(lg, SS_LOG_ERROR, "generation=%u did not load: %s", g->id, g->error);
        return;
    }
    w->state = w->njobs > w->nanswered ? SSI_W_BUSY : SSI_W_IDLE;
    if (w->state == SSI_W_BUSY && ssi_send_jobs(g, w, pc->timeout))
        w->deadline = 0; /* the next event finds it dead */
}

/* ---- output ---- */

/* Who wrote it, for the log: the filter at run position @p fi, or the worker (@p fi < 0). */
static ss_ratelimit *ssi_writer(ssi_gen *g, ssi_wproc *w, pid_t pid, int32_t fi, char *who,
                                size_t cap)
{
    if (fi >= 0 && (size_t)fi < g->nf) {
        snprintf(who, cap, "filter=%s", g->f[fi].label);
        return g->f[fi].out;
    }
    snprintf(who, cap, "worker pid=%d generation=%u", (int)pid, g->id);
    return w->out;
}

/* An 'O' frame: what a filter (or the set's setups) wrote to stdout or stderr. */
static int ssi_on_output(ssi_gen *g, ssi_wproc *w, const ss_wbuf *frame, const ss_log *lg)
{
    ss_rbuf r = {frame->data + 1, frame->data + frame->len, 0};
    int32_t fi = (int32_t)ss_rbuf_u32(&r);
    uint8_t stream = ss_rbuf_u8(&r), cut = ss_rbuf_u8(&r);
    uint32_t len;
    const char *text = ss_rbuf_str(&r, &len);
    if (r.bad || (stream != 1 && stream != 2))
        return EPROTO;
    char who[160];
    ss_ratelimit *rl = ssi_writer(g, w, w->pid, fi, who, sizeof who);
    ssi_output_log(lg, rl, who, stream, text ? text : "", len, cut);
    return 0;
}

/* A dead worker's last words, e.g. a failed assert()'s message: what it wrote after its last
 * 'O' frame, charged to @p culprit (or to the worker). */
static void ssi_output_leftover(ssi_gen *g, ssi_wproc *w, pid_t pid, int32_t culprit,
                                const ss_log *lg)
{
    char *buf = malloc(SSI_CAPTURE_MAX), who[160];
    for (int s = 0; buf && s < 2; s++) {
        int cut;
        size_t n = w->cap[s] >= 0 ? ssi_capture_take(w->cap[s], buf, &cut) : 0;
        ss_ratelimit *rl = ssi_writer(g, w, pid, culprit, who, sizeof who);
        if (n || cut)
            ssi_output_log(lg, rl, who, s + 1, buf, n, cut);
    }
    free(buf);
    ssi_close_captures(w);
}

/* ---- batches ---- */

static int ssi_send_jobs(const ssi_gen *g, ssi_wproc *w, double timeout)
{
    ss_wbuf b = {0};
    ss_wbuf_u8(&b, 'B');
    ss_wbuf_u32(&b, (uint32_t)(w->njobs - w->nanswered));
    for (size_t i = w->nanswered; i < w->njobs; i++) {
        const ssi_job *j = &w->jobs[i];
        ss_wbuf_u64(&b, j->q.seq);
        ss_wbuf_str(&b, j->q.locus_id);
        ss_wbuf_str(&b, j->q.survey);
        ss_wbuf_str(&b, j->q.alert_id);
        ss_wbuf_u32(&b, (uint32_t)g->nf);
        for (size_t k = 0; k < g->nf; k++)
            ss_wbuf_u8(&b, j->exclude[k] || g->f[k].disabled);
    }
    int rc = b.failed ? ENOMEM : ssi_frame_send(w->fd, b.data, b.len);
    ss_wbuf_free(&b);
    w->state = SSI_W_BUSY;
    w->deadline = ssi_mono() + timeout;
    return rc;
}

int ssi_wproc_send(const ssi_pool_conf *pc, ssi_gen *g, ssi_wproc *w, const ss_store_queue_entry *q,
                   size_t n, const ss_log *lg)
{
    if (n > w->capjobs) {
        ssi_job *fresh = realloc(w->jobs, n * sizeof *fresh);
        if (!fresh)
            return ENOMEM;
        memset(fresh + w->capjobs, 0, (n - w->capjobs) * sizeof *fresh);
        w->jobs = fresh;
        w->capjobs = n;
    }
    for (size_t i = 0; i < n; i++) {
        ssi_job *j = &w->jobs[i];
        if (!j->exclude && !(j->exclude = calloc(g->nf + 1, 1)))
            return ENOMEM;
        memset(j->exclude, 0, g->nf);
        j->q = q[i];
        j->attempts = 0;
        j->answered = 0;
    }
    w->njobs = n;
    w->nanswered = 0;
    int rc = ssi_send_jobs(g, w, pc->timeout);
    if (rc)
        ss_log_line(lg, SS_LOG_WARN, "worker pid=%d: cannot send work: %s", (int)w->pid,
                    strerror(rc));
    return rc;
}

void ssi_wproc_done(ssi_wproc *w)
{
    w->njobs = w->nanswered = 0;
    w->state = SSI_W_IDLE;
}

/* An answer the worker could not give: the dispatch is given up, so the queue moves on. */
static void ssi_synthetic_failure(const ssi_gen *g, ssi_job *j, const char *why)
{
    ss_wbuf *b = &j->answer;
    ss_wbuf_reset(b);
    ss_wbuf_u8(b, 'R');
    ss_wbuf_u64(b, j->q.seq);
    ss_wbuf_u8(b, 1);
    ss_wbuf_str(b, why);
    ss_wbuf_u32(b, (uint32_t)g->nf);
    for (size_t k = 0; k < g->nf; k++) {
        ss_wbuf_u8(b, SS_FILTER_NOT_RUN);
        ss_wbuf_f64(b, 0);
        ss_wbuf_u32(b, 0);
        ss_wbuf_str(b, "");
    }
    ss_wbuf_u8(b, 0);
    ss_wbuf_f64(b, 0);
    ss_wbuf_u32(b, 0);
    ss_wbuf_strn(b, "", 0);
    ss_wbuf_strn(b, "", 0);
    j->answered = 1;
}

static void ssi_charge(const ssi_pool_conf *pc, ssi_gen *g, size_t fi, int timeout, const char *how,
                       const ssi_job *j, const ss_log *lg)
{
    ssi_gfilter *f = &g->f[fi];
    timeout ? f->timeouts++ : f->crashes++;
    snprintf(f->st.last_error, sizeof f->st.last_error, "%.19s: worker %s", j->q.locus_id, how);
    ss_log_line(lg, SS_LOG_ERROR,
                "filter=%s %s generation=%u locus=%s alert=%s/%s: its worker %s; the dispatch "
                "runs again without it",
                f->label, timeout ? "timed out" : "crashed", g->id, j->q.locus_id, j->q.survey,
                j->q.alert_id, how);
    if (!f->disabled && f->crashes + f->timeouts >= pc->max_crashes) {
        f->disabled = 1;
        snprintf(f->disabled_reason, sizeof f->disabled_reason,
                 "%llu crashes and %llu timeouts (max_crashes = %u)",
                 (unsigned long long)f->crashes, (unsigned long long)f->timeouts, pc->max_crashes);
        ss_log_line(lg, SS_LOG_ERROR, "filter=%s disabled generation=%u: %s", f->label, g->id,
                    f->disabled_reason);
    }
}

/* The worker died: charge the filter it was running, then start a new one to finish the batch. */
static void ssi_on_death(const ssi_pool_conf *pc, ssi_gen *g, ssi_wproc *w, const ss_log *lg)
{
    int was = w->state, timeout = w->killed;
    uint64_t seq = w->shm->seq;
    int32_t culprit = w->shm->busy ? w->shm->filter : -1;
    char how[128];
    pid_t pid = w->pid;
    ssi_wproc_reap(w, how, sizeof how);
    ssi_output_leftover(g, w, pid, culprit, lg);
    munmap((void *)w->shm, sizeof *w->shm);
    w->shm = NULL;
    if (was == SSI_W_STARTING && !g->have_filters) {
        if (!g->error[0]) {
            snprintf(g->error, sizeof g->error, "the worker loading the set %s", how);
            ss_log_line(lg, SS_LOG_ERROR, "generation=%u did not load: %s", g->id, g->error);
        }
        return;
    }
    ssi_job *j = w->nanswered < w->njobs ? &w->jobs[w->nanswered] : NULL;
    if (was == SSI_W_BUSY && j && j->q.seq == seq && culprit >= 0 && (size_t)culprit < g->nf) {
        ssi_charge(pc, g, (size_t)culprit, timeout, how, j, lg);
        j->exclude[culprit] = 1;
    } else if (was == SSI_W_BUSY && j) {
        ss_log_line(lg, SS_LOG_ERROR,
                    "worker pid=%d generation=%u %s outside any filter on locus=%s alert=%s/%s "
                    "(attempt %u of %d)",
                    (int)pid, g->id, how, j->q.locus_id, j->q.survey, j->q.alert_id,
                    j->attempts + 1, SSI_MAX_ATTEMPTS);
        if (++j->attempts >= SSI_MAX_ATTEMPTS) {
            ssi_synthetic_failure(g, j, "given up: its worker died outside any filter 3 times");
            w->nanswered++;
        }
    } else
        ss_log_line(lg, SS_LOG_WARN, "worker pid=%d generation=%u %s while idle", (int)pid, g->id,
                    how);
    w->restarts++;
    w->restart_at = ssi_mono() + (was == SSI_W_BUSY ? 0 : SSI_RESTART_BACKOFF);
}

/* Say how many output lines were left out, once their window is over. */
static void ssi_output_flush_all(ssi_gen *g, const ss_log *lg)
{
    for (size_t i = 0; i < g->nf; i++)
        ssi_output_flush(lg, g->f[i].out);
    for (size_t i = 0; i < g->nw; i++)
        ssi_output_flush(lg, g->w[i].out);
}

void ssi_gen_tend(const ssi_pool_conf *pc, ssi_gen *g, const ss_log *lg)
{
    double now = ssi_mono();
    ssi_output_flush_all(g, lg);
    for (size_t i = 0; i < g->nw && !g->error[0]; i++) {
        ssi_wproc *w = &g->w[i];
        if (w->state != SSI_W_DOWN || now < w->restart_at)
            continue;
        int rc = ssi_wproc_spawn(pc, g, w, lg);
        if (rc) {
            ss_log_line(lg, SS_LOG_ERROR, "cannot start a worker (%s): %s; retrying", pc->exe,
                        strerror(rc));
            w->restart_at = now + SSI_RESTART_BACKOFF;
        }
    }
}

static int ssi_on_answer(const ssi_pool_conf *pc, ssi_wproc *w, ss_wbuf *frame)
{
    ss_rbuf r = {frame->data + 1, frame->data + frame->len, 0};
    uint64_t seq = ss_rbuf_u64(&r);
    if (r.bad || w->nanswered >= w->njobs || w->jobs[w->nanswered].q.seq != seq)
        return EPROTO;
    ssi_job *j = &w->jobs[w->nanswered++];
    ss_wbuf tmp = j->answer; /* keep the frame: swap buffers instead of copying */
    j->answer = *frame;
    *frame = tmp;
    j->answered = 1;
    w->deadline = ssi_mono() + pc->timeout;
    return 0;
}

int ssi_wproc_event(const ssi_pool_conf *pc, ssi_gen *g, ssi_wproc *w, int readable,
                    const ss_log *lg)
{
    ss_wbuf *frame = &w->rx;
    int rc = 0;
    if (readable) {
        rc = ssi_frame_recv(w->fd, frame);
        if (!rc && frame->len && frame->data[0] == 'H' && w->state == SSI_W_STARTING)
            ssi_on_hello(pc, g, w, frame, lg);
        else if (!rc && frame->len && frame->data[0] == 'R' && w->state == SSI_W_BUSY)
            rc = ssi_on_answer(pc, w, frame);
        else if (!rc && frame->len && frame->data[0] == 'O')
            rc = ssi_on_output(g, w, frame, lg);
        else if (!rc)
            rc = EPROTO;
    } else if (ssi_mono() >= w->deadline) {
        if (w->state == SSI_W_STARTING && !g->have_filters)
            snprintf(g->error, sizeof g->error, "the set did not load within %.0f s",
                     w->deadline - g->started);
        w->killed = w->state == SSI_W_BUSY;
        rc = ETIMEDOUT;
    }
    if (rc || g->error[0])
        ssi_on_death(pc, g, w, lg);
    return w->njobs && w->nanswered == w->njobs;
}

/* ---- statistics ---- */

static void ssi_count_tags(ssi_gen *g, ss_rbuf *r)
{
    uint32_t ntags = ss_rbuf_u32(r);
    for (uint32_t i = 0; i < ntags && !r->bad; i++) {
        uint32_t tl, fl, el;
        const char *tag = ss_rbuf_str(r, &tl), *filter = ss_rbuf_str(r, &fl);
        ss_rbuf_str(r, &el);
        for (size_t k = 0; tag && filter && k < g->nf; k++)
            if (strlen(g->f[k].name) == fl && !memcmp(g->f[k].name, filter, fl))
                for (size_t t = 0; t < g->f[k].ntags; t++)
                    if (strlen(g->f[k].tags[t]) == tl && !memcmp(g->f[k].tags[t], tag, tl))
                        g->f[k].st.tag_counts[t]++;
    }
}

static void ssi_filter_error(const ssi_pool_conf *pc, ssi_gen *g, ssi_gfilter *f, const char *msg,
                             uint32_t len, const ss_log *lg)
{
    (void)pc;
    f->st.errors++;
    f->st.consecutive_errors++;
    snprintf(f->st.last_error, sizeof f->st.last_error, "%.*s", (int)len, msg ? msg : "");
    ss_log_line(lg, SS_LOG_WARN, "filter=%s failed generation=%u: %s", f->label, g->id,
                f->st.last_error);
    if (!f->disabled && g->max_errors && f->st.consecutive_errors >= g->max_errors) {
        f->disabled = 1;
        snprintf(f->disabled_reason, sizeof f->disabled_reason,
                 "%u consecutive errors (max_consecutive_failures)", g->max_errors);
        ss_log_line(lg, SS_LOG_ERROR, "filter=%s disabled generation=%u: %s; last: %s", f->label,
                    g->id, f->disabled_reason, f->st.last_error);
    }
}

void ssi_gen_account(const ssi_pool_conf *pc, ssi_gen *g, const ssi_job *job, const ss_log *lg)
{
    ss_rbuf r = {job->answer.data + 9, job->answer.data + job->answer.len, 0};
    uint8_t failed = ss_rbuf_u8(&r);
    uint32_t elen, nf;
    const char *error = ss_rbuf_str(&r, &elen);
    if (failed)
        ss_log_line(lg, SS_LOG_ERROR, "dispatch failed generation=%u locus=%s alert=%s/%s: %.*s",
                    g->id, job->q.locus_id, job->q.survey, job->q.alert_id, (int)elen,
                    error ? error : "");
    nf = ss_rbuf_u32(&r);
    for (uint32_t i = 0; i < nf && i < g->nf && !r.bad; i++) {
        ssi_gfilter *f = &g->f[i];
        uint8_t outcome = ss_rbuf_u8(&r);
        double us = ss_rbuf_f64(&r);
        uint32_t props = ss_rbuf_u32(&r), mlen;
        const char *msg = ss_rbuf_str(&r, &mlen);
        if (outcome == SS_FILTER_SKIPPED)
            f->st.skipped++;
        if (outcome == SS_FILTER_RAN || outcome == SS_FILTER_HALTED || outcome == SS_FILTER_ERROR)
            ss_filter_stats_record_time(&f->st, us);
        if (outcome == SS_FILTER_RAN || outcome == SS_FILTER_HALTED) {
            f->st.runs++;
            f->st.consecutive_errors = 0;
            f->st.props_written += props;
        }
        f->st.halts += outcome == SS_FILTER_HALTED;
        if (outcome == SS_FILTER_ERROR)
            ssi_filter_error(pc, g, f, msg, mlen, lg);
    }
    ss_rbuf_u8(&r);
    ss_rbuf_f64(&r);
    ssi_count_tags(g, &r);
}

/* Skip the per-filter part of an answer. */
static void ssi_skip_results(ss_rbuf *r)
{
    uint32_t n = ss_rbuf_u32(r), len;
    for (uint32_t i = 0; i < n && !r->bad; i++) {
        ss_rbuf_u8(r);
        ss_rbuf_f64(r);
        ss_rbuf_u32(r);
        ss_rbuf_str(r, &len);
    }
}

static char *ssi_arena_str(ss_arena *a, ss_rbuf *r)
{
    uint32_t len;
    const char *s = ss_rbuf_str(r, &len);
    return s || len == 0 ? ss_arena_strndup(a, s ? s : "", len) : NULL;
}

static int ssi_bag(ss_rbuf *r, ss_arena *a, const ss_prop **items, size_t *n)
{
    uint32_t len, cnt = 0;
    const char *data = ss_rbuf_str(r, &len);
    ss_prop *p = NULL;
    int rc = len ? ss_store_props_decode(data, len, a, &p, &cnt) : 0;
    *items = p;
    *n = cnt;
    return rc;
}

int ssi_answer_parse(const ss_wbuf *frame, ss_arena *a, ssi_answer *out)
{
    ss_rbuf r = {frame->data + 1, frame->data + frame->len, 0};
    uint32_t len;
    memset(out, 0, sizeof *out);
    out->seq = ss_rbuf_u64(&r);
    out->failed = ss_rbuf_u8(&r);
    ss_rbuf_str(&r, &len);
    ssi_skip_results(&r);
    out->o.halted = ss_rbuf_u8(&r);
    out->mjd = ss_rbuf_f64(&r);
    out->o.ntags = ss_rbuf_u32(&r);
    ss_filter_tag_event *tags = ss_arena_alloc(a, (out->o.ntags + 1) * sizeof *tags);
    out->events = ss_arena_alloc(a, (out->o.ntags + 1) * sizeof *out->events);
    if (!tags || !out->events || r.bad)
        return r.bad ? EPROTO : SS_ENOMEM;
    for (size_t i = 0; i < out->o.ntags && !r.bad; i++) {
        tags[i].tag = ssi_arena_str(a, &r);
        tags[i].filter = ssi_arena_str(a, &r);
        out->events[i] = ssi_arena_str(a, &r);
        if (!tags[i].tag || !tags[i].filter || !out->events[i])
            return r.bad ? EPROTO : SS_ENOMEM;
    }
    out->o.tags = tags;
    int rc = ssi_bag(&r, a, &out->o.locus_props, &out->o.nlocus_props);
    if (!rc)
        rc = ssi_bag(&r, a, &out->o.alert_props, &out->o.nalert_props);
    return rc ? rc : r.bad ? EPROTO : 0;
}

json_t *ssi_gen_json(const ssi_gen *g)
{
    json_t *a = json_array();
    for (size_t i = 0; i < g->nf; i++) {
        const ssi_gfilter *f = &g->f[i];
        double p[3];
        ss_filter_stats_percentiles(&f->st, p);
        json_t *tags = json_object();
        for (size_t k = 0; k < f->ntags; k++)
            json_object_set_new(tags, f->tags[k], json_integer((json_int_t)f->st.tag_counts[k]));
        json_array_append_new(
            a, json_pack(
                   "{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:b, "
                   "s:s?, s:s?, s:{s:f, s:f, s:f}}",
                   "label", f->label, "name", f->name, "version", f->version, "runtime", f->runtime,
                   "runs", (json_int_t)f->st.runs, "skipped", (json_int_t)f->st.skipped, "errors",
                   (json_int_t)f->st.errors, "crashes", (json_int_t)f->crashes, "timeouts",
                   (json_int_t)f->timeouts, "halts", (json_int_t)f->st.halts, "properties_written",
                   (json_int_t)f->st.props_written, "tags", tags, "disabled", f->disabled != 0,
                   "disabled_reason", f->disabled ? f->disabled_reason : NULL, "last_error",
                   f->st.last_error[0] ? f->st.last_error : NULL, "time_us", "p50", p[0], "p90",
                   p[1], "p99", p[2]));
    }
    return a;
}
