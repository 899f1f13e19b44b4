/* The worker process (worker.h): loads one generation of the filter set and runs dispatches. */
#include "confine.h"
#include "wire.h"
#include "worker.h"

#include "filters.h"
#include "publish.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif

int ssi_frame_send(int fd, const void *data, size_t len)
{
    uint32_t n = (uint32_t)len;
    const unsigned char *parts[2] = {(const unsigned char *)&n, data};
    size_t sizes[2] = {sizeof n, len};
    for (int i = 0; i < 2; i++)
        for (size_t off = 0; off < sizes[i];) {
            ssize_t w = write(fd, parts[i] + off, sizes[i] - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                return w < 0 ? errno : EPIPE;
            off += (size_t)w;
        }
    return 0;
}

static int ssi_read_full(int fd, void *p, size_t n)
{
    for (size_t off = 0; off < n;) {
        ssize_t r = read(fd, (char *)p + off, n - off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? errno : EPIPE;
        off += (size_t)r;
    }
    return 0;
}

int ssi_frame_recv(int fd, ss_wbuf *buf)
{
    uint32_t n;
    int rc = ssi_read_full(fd, &n, sizeof n);
    if (rc)
        return rc;
    ss_wbuf_reset(buf);
    if (n > buf->cap) {
        unsigned char *fresh = realloc(buf->data, n);
        if (!fresh)
            return ENOMEM;
        buf->data = fresh;
        buf->cap = n;
    }
    buf->len = n;
    return ssi_read_full(fd, buf->data, n);
}

typedef struct ssi_worker {
    ss_store *store;
    ss_filter_set *fs;
    int fd;
    dev_t fd_dev; /* what fd must still be: a filter may close it and open something else */
    ino_t fd_ino;
    ssi_worker_shm *shm;
    ss_wbuf in, out, bag;
    uint8_t *exclude;
    ss_filter_result *results;
    uint64_t *props_before;
    uint8_t *sandboxed; /* per filter: a Lua one, which can neither write to fds 1 and 2 nor
                         * close a descriptor (print is a no-op, io and os are left out) */
    int cap[2];         /* the worker's own descriptions of fds 1 and 2 (capture memfds), or -1 */
    char *capbuf;       /* SSI_CAPTURE_MAX bytes */
    int confined;       /* the seccomp filter is in place */
} ssi_worker;

/* A filter's forked child must not hold the socket open: the broker sees its worker die by the
 * socket's end, which the child would postpone to the dispatch timeout. */
static int ssi_socket_fd = -1;

static void ssi_socket_drop_in_child(void)
{
    if (ssi_socket_fd >= 0)
        close(ssi_socket_fd);
}

/*
 * Filters share the process with the socket to the broker, and a C filter may close any fd. The
 * socket is kept high, where loops closing "all" descriptors rarely reach, and checked after
 * every filter: when it is gone, the worker ends with shm->filter still naming the filter that ran
 * last, so the broker charges that filter rather than a death "outside any filter".
 */
static long ssi_high_fd(void)
{
    struct rlimit rl;
    long top = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                   ? (long)rl.rlim_cur - 1
                   : 1000;
    return top < 1000 ? top : 1000;
}

static int ssi_socket_move(ssi_worker *w)
{
    int fd = fcntl(w->fd, F_DUPFD_CLOEXEC, ssi_high_fd());
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0)
        return errno;
    close(w->fd);
    w->fd = ssi_socket_fd = fd;
    pthread_atfork(NULL, NULL, ssi_socket_drop_in_child);
    w->fd_dev = st.st_dev;
    w->fd_ino = st.st_ino;
    return 0;
}

static void ssi_socket_check(const ssi_worker *w)
{
    struct stat st;
    if (fstat(w->fd, &st) != 0 || st.st_dev != w->fd_dev || st.st_ino != w->fd_ino)
        _exit(SSI_EXIT_LOST_SOCKET); /* nothing to answer on; shm names the culprit */
}

/* What was written to fds 1 and 2 since the last call, sent as 'O' frames naming @p filter (its
 * run position, or -1). A send that fails is noticed by the socket check that follows. */
static void ssi_output_send(ssi_worker *w, int32_t filter)
{
    if (w->cap[0] < 0)
        return;
    fflush(stdout); /* a filter's printf() sits in stdio's buffer until then */
    fflush(stderr);
    for (int s = 0; s < 2; s++) {
        int cut;
        size_t n = ssi_capture_take(w->cap[s], w->capbuf, &cut);
        if (!n && !cut)
            continue;
        ss_wbuf_reset(&w->out);
        ss_wbuf_u8(&w->out, 'O');
        ss_wbuf_u32(&w->out, (uint32_t)filter);
        ss_wbuf_u8(&w->out, (uint8_t)(s + 1));
        ss_wbuf_u8(&w->out, (uint8_t)cut);
        ss_wbuf_strn(&w->out, w->capbuf, (uint32_t)n);
        if (!w->out.failed)
            ssi_frame_send(w->fd, w->out.data, w->out.len);
    }
}

/* Between two filters of a run: what the previous one wrote, and whether it took the socket.
 * After a Lua filter neither can have happened, and the three system calls are skipped (they
 * were a fifth of a worker's time on a set of Lua filters); the end of the run checks both. */
static void ssi_before_run(void *ctx, size_t filter)
{
    ssi_worker *w = ctx;
    int32_t prev = w->shm->filter;
    if (prev >= 0 && !w->sandboxed[prev]) {
        ssi_socket_check(w); /* the previous filter's doing, when it failed */
        ssi_output_send(w, prev);
    }
    w->shm->filter = (int32_t)filter;
}

static json_t *ssi_decl_names(const ss_property_decl *d)
{
    json_t *a = json_array();
    for (size_t i = 0; d && d[i].name; i++)
        json_array_append_new(a, json_string(d[i].name));
    return a;
}

static int ssi_hello(ssi_worker *w, const ss_err *load_err)
{
    json_t *o;
    if (load_err) {
        o = json_pack("{s:b, s:s}", "ok", 0, "error", load_err->msg);
    } else {
        json_t *list = json_array();
        for (size_t i = 0; i < ss_filter_set_count(w->fs); i++) {
            ss_filter_info f;
            ss_filter_set_info(w->fs, i, &f);
            json_t *tags = json_array();
            for (size_t k = 0; f.desc->output_tags && f.desc->output_tags[k].name; k++)
                json_array_append_new(tags, json_string(f.desc->output_tags[k].name));
            json_array_append_new(
                list, json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o}", "label", f.label, "name",
                                f.desc->name, "version", f.desc->version ? f.desc->version : "0",
                                "runtime", f.runtime, "tags", tags, "locus_properties",
                                ssi_decl_names(f.desc->output_locus_properties), "alert_properties",
                                ssi_decl_names(f.desc->output_alert_properties)));
        }
        o = json_pack("{s:b, s:o, s:I}", "ok", 1, "filters", list, "max_consecutive_failures",
                      (json_int_t)ss_filter_set_max_failures(w->fs));
    }
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!text)
        return ENOMEM;
    ss_wbuf_reset(&w->out);
    ss_wbuf_u8(&w->out, 'H');
    ss_wbuf_bytes(&w->out, text, strlen(text));
    free(text);
    return w->out.failed ? ENOMEM : ssi_frame_send(w->fd, w->out.data, w->out.len);
}

static void ssi_put_bag(ssi_worker *w, const ss_prop *p, size_t n)
{
    ss_wbuf_reset(&w->bag);
    if (n)
        ss_store_props_encode(p, (uint32_t)n, &w->bag);
    ss_wbuf_strn(&w->out, (const char *)w->bag.data, (uint32_t)w->bag.len);
    w->out.failed |= w->bag.failed;
}

static void ssi_put_events(ssi_worker *w, const ss_filter_outputs *o)
{
    const ss_locus *l = ss_filter_set_locus(w->fs);
    const ss_alert *trigger = ss_filter_set_trigger(w->fs);
    ss_wbuf_u32(&w->out, (uint32_t)o->ntags);
    for (size_t i = 0; i < o->ntags; i++) {
        char *text = ss_publish_tag_event(o->tags[i].tag, o->tags[i].filter, l, trigger);
        ss_wbuf_str(&w->out, o->tags[i].tag);
        ss_wbuf_str(&w->out, o->tags[i].filter);
        ss_wbuf_str(&w->out, text ? text : "{}");
        free(text);
    }
}

/* Answer one dispatch: what each filter did, and what the set wrote. */
static int ssi_answer(ssi_worker *w, uint64_t seq, int rc, const ss_err *err,
                      const ss_filter_outputs *o)
{
    size_t nf = ss_filter_set_count(w->fs);
    ss_wbuf_reset(&w->out);
    ss_wbuf_u8(&w->out, 'R');
    ss_wbuf_u64(&w->out, seq);
    ss_wbuf_u8(&w->out, rc != 0);
    ss_wbuf_str(&w->out, rc ? err->msg : "");
    ss_wbuf_u32(&w->out, (uint32_t)nf);
    for (size_t i = 0; i < nf; i++) {
        const ss_filter_stats *st = ss_filter_set_stats(w->fs, i);
        ss_wbuf_u8(&w->out, rc ? SS_FILTER_NOT_RUN : w->results[i].outcome);
        ss_wbuf_f64(&w->out, rc ? 0 : w->results[i].us);
        ss_wbuf_u32(&w->out, (uint32_t)(st->props_written - w->props_before[i]));
        ss_wbuf_str(&w->out, !rc && w->results[i].msg ? w->results[i].msg : "");
    }
    ss_filter_outputs none = {0};
    if (rc)
        o = &none;
    ss_wbuf_u8(&w->out, (uint8_t)o->halted);
    const ss_alert *trigger = rc ? NULL : ss_filter_set_trigger(w->fs);
    ss_wbuf_f64(&w->out, trigger ? trigger->mjd : 0);
    ssi_put_events(w, o);
    ssi_put_bag(w, o->locus_props, o->nlocus_props);
    ssi_put_bag(w, o->alert_props, o->nalert_props);
    return w->out.failed ? ENOMEM : ssi_frame_send(w->fd, w->out.data, w->out.len);
}

static int ssi_run_entry(ssi_worker *w, ss_store_txn *txn, ss_rbuf *r)
{
    uint64_t seq = ss_rbuf_u64(r);
    char locus[SS_LOCUS_ID_LEN + 1], survey[SS_SURVEY_MAX + 1], alert_id[SS_ID_MAX + 1];
    ss_rbuf_strcpy(r, locus, sizeof locus);
    ss_rbuf_strcpy(r, survey, sizeof survey);
    ss_rbuf_strcpy(r, alert_id, sizeof alert_id);
    size_t nf = ss_filter_set_count(w->fs);
    if (ss_rbuf_u32(r) != nf || r->bad || (size_t)(r->end - r->p) < nf)
        return EPROTO;
    memcpy(w->exclude, r->p, nf);
    r->p += nf;
    for (size_t i = 0; i < nf; i++)
        w->props_before[i] = ss_filter_set_stats(w->fs, i)->props_written;
    ss_filter_dispatch_ctl ctl = {w->exclude, w->results, ssi_before_run, w};
    ss_filter_outputs o;
    ss_err err = {0};
    w->shm->seq = seq;
    int rc = ss_filter_dispatch_ctl_run(w->fs, txn, locus, survey, alert_id, &ctl, &o, &err);
    ssi_socket_check(w);
    ssi_output_send(w, w->shm->filter);
    w->shm->filter = -1;
    return ssi_answer(w, seq, rc, &err, &o);
}

static int ssi_run_batch(ssi_worker *w, ss_rbuf *r)
{
    uint32_t n = ss_rbuf_u32(r);
    ss_store_txn *txn; /* a map the broker grew is adopted here (ss_store_txn_begin) */
    int rc = ss_store_txn_begin(w->store, SS_STORE_READ, &txn);
    if (rc)
        return rc;
    w->shm->busy = 1;
    for (uint32_t i = 0; i < n && !rc && !r->bad; i++)
        rc = ssi_run_entry(w, txn, r);
    w->shm->busy = 0;
    ss_store_txn_abort(txn);
    return rc ? rc : r->bad ? EPROTO : 0;
}

static int ssi_serve(ssi_worker *w)
{
    for (;;) {
        int rc = ssi_frame_recv(w->fd, &w->in);
        if (rc)
            return rc == EPIPE ? 0 : rc; /* the broker went away: nothing left to answer */
        ss_rbuf r = {w->in.data, w->in.data + w->in.len, 0};
        uint8_t type = ss_rbuf_u8(&r);
        if (type == 'Q')
            return 0;
        if (type != 'B' || (rc = ssi_run_batch(w, &r)))
            return rc ? rc : EPROTO;
    }
}

/*
 * Fds 1 and 2 are the capture memfds the broker made (wire.h): keep descriptions of them out of a
 * filter's way, to read them back. Fd 5, the broker's stderr, is for the worker's own reports
 * only (a sanitizer's); no filter may write to the log past the capture.
 */
static int ssi_capture_setup(ssi_worker *w)
{
    long base = ssi_high_fd() - 4; /* below the socket, which sits at the top */
    struct stat st;
    int own = fcntl(5, F_DUPFD_CLOEXEC, base > 5 ? base : 5);
    close(5);
#if defined(__SANITIZE_ADDRESS__)
    if (own >= 0)
        __sanitizer_set_report_fd((void *)(intptr_t)own);
#else
    if (own >= 0)
        close(own);
#endif
    if (fstat(1, &st) != 0 || fstat(2, &st) != 0)
        return 0; /* run by hand without them: no capture */
    if (!(w->capbuf = malloc(SSI_CAPTURE_MAX)))
        return ENOMEM;
    for (int s = 0; s < 2; s++)
        if ((w->cap[s] = fcntl(s + 1, F_DUPFD_CLOEXEC, base + 1 > 5 ? base + 1 : 5)) < 0)
            return errno;
    return 0;
}

/* Another user, then seccomp, both before any filter (or its setup) runs. The store is open by
 * then: its lock file needs the broker's user. */
static int ssi_confine(ssi_worker *w, ss_err *err)
{
    int rc = 0;
    if (w->shm->uid >= 0)
        rc = ssi_become_user((uid_t)w->shm->uid, (gid_t)w->shm->gid, err);
    if (!rc && !(rc = ssi_seccomp_install(w->shm->allow, err)))
        w->confined = 1;
    return rc;
}

/*
 * Under worker_user the snapshot is shared with the user's group (pool.c), but the directories
 * above it (the run directory) may be closed to that user: the set is loaded through a descriptor
 * of the snapshot's directory opened before the switch, as /proc/self/fd/N/filters.ini, and
 * errors name the snapshot again.
 */
/* The snapshot's directory (that of @p set_ini), opened while the worker is still the broker's
 * user, or -1. */
static int ssi_snapshot_fd(const char *set_ini)
{
    char *dir = strdup(set_ini), *slash = dir ? strrchr(dir, '/') : NULL;
    int fd = -1;
    if (slash) {
        *slash = '\0';
        fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    }
    free(dir);
    return fd;
}

static int ssi_load_set(ssi_worker *w, const char *set_ini, int dir_fd, ss_err *err)
{
    const char *base = strrchr(set_ini, '/');
    char via[64], path[4096];
    if (dir_fd < 0 || !base)
        return ss_filter_set_load(set_ini, &w->fs, err);
    snprintf(via, sizeof via, "/proc/self/fd/%d", dir_fd);
    snprintf(path, sizeof path, "%s%s", via, base);
    int rc = ss_filter_set_load(path, &w->fs, err);
    char *at = rc ? strstr(err->msg, via) : NULL;
    size_t dlen = (size_t)(base - set_ini), vlen = strlen(via);
    if (at && strlen(err->msg) - vlen + dlen < sizeof err->msg) {
        memmove(at + dlen, at + vlen, strlen(at + vlen) + 1);
        memcpy(at, set_ini, dlen);
    }
    return rc;
}

static int ssi_worker_setup(ssi_worker *w, const char *store_dir, const char *set_ini, int shm_fd,
                            ss_err *err)
{
    w->shm = mmap(NULL, sizeof *w->shm, PROT_READ | PROT_WRITE, MAP_SHARED, shm_fd, 0);
    if (w->shm == MAP_FAILED) {
        w->shm = NULL;
        return ss_err_set(err, errno, "worker: shared memory: %s", strerror(errno));
    }
    w->shm->filter = -1;
    close(shm_fd); /* the mapping stays: one fd fewer for a filter to break */
    int rc = ssi_socket_move(w);
    if (rc)
        return ss_err_set(err, rc, "worker: moving the broker's socket: %s", strerror(rc));
    if ((rc = ssi_capture_setup(w)))
        return ss_err_set(err, rc, "worker: capturing its output: %s", strerror(rc));
    ss_store_options so = {.readonly = 1};
    rc = ss_store_open(store_dir, &so, &w->store, err);
    int dir_fd = !rc && w->shm->uid >= 0 ? ssi_snapshot_fd(set_ini) : -1;
    if (!rc)
        rc = ssi_confine(w, err);
    if (!rc) /* the setups run here: a filter's setup closing fds fails the hello */
        rc = ssi_load_set(w, set_ini, dir_fd, err);
    if (dir_fd >= 0)
        close(dir_fd);
    ssi_output_send(w, -1); /* what the setups wrote */
    size_t nf = w->fs ? ss_filter_set_count(w->fs) : 0;
    if (!rc &&
        (!(w->exclude = calloc(nf + 1, 1)) || !(w->results = calloc(nf + 1, sizeof *w->results)) ||
         !(w->props_before = calloc(nf + 1, sizeof *w->props_before)) ||
         !(w->sandboxed = calloc(nf + 1, 1))))
        rc = ss_err_set(err, SS_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < nf; i++) {
        ss_filter_info fi;
        ss_filter_set_info(w->fs, i, &fi);
        w->sandboxed[i] = !strcmp(fi.runtime, "lua");
    }
    return rc;
}

int ss_broker_worker_main(const char *store_dir, const char *set_ini, int fd, int shm_fd)
{
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, SIG_IGN); /* run by hand, a Ctrl-C reaches it too: the broker decides */
    signal(SIGHUP, SIG_IGN);
    ssi_worker w = {.fd = fd, .cap = {-1, -1}};
    ss_err err = {0};
    int rc = ssi_worker_setup(&w, store_dir, set_ini, shm_fd, &err);
    if (w.shm && (ssi_hello(&w, rc ? &err : NULL) == 0) && !rc)
        rc = ssi_serve(&w);
    ss_filter_set_free(w.fs);
    ss_store_close(w.store);
    ss_wbuf_free(&w.in);
    ss_wbuf_free(&w.out);
    ss_wbuf_free(&w.bag);
    free(w.exclude);
    free(w.results);
    free(w.props_before);
    free(w.sandboxed);
    free(w.capbuf);
    if (w.shm)
        munmap((void *)w.shm, sizeof *w.shm);
#if defined(__SANITIZE_ADDRESS__)
    /* LeakSanitizer's check at exit runs in a clone()d process that ptrace()s this one: seccomp
     * refuses both, and the check would end in a fatal error. A confined worker skips it. */
    if (w.confined)
        _exit(rc ? 1 : 0);
#endif
    return rc ? 1 : 0;
}
