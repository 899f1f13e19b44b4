/*
 * Watch-list notifications (notify.h): submit publishes and spools; one delivery thread POSTs
 * what the spool holds, in order of when each item is due, and records every outcome in the
 * spool itself (the file goes, is rewritten with its attempts, or moves to failed/), so that a
 * restart carries on where the last run stopped.
 */
#include "notify.h"

#include "fileio.h"
#include "notify_impl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct ssi_nitem {
    char *name; /* the file in pending/ */
    double due; /* monotonic seconds */
} ssi_nitem;

struct ss_publish_notifier {
    ss_publish_notify_conf c;
    char *pending, *failed; /* directories */
    const ss_output_ops *out;
    void *out_impl;
    const ss_log *lg;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* on CLOCK_MONOTONIC: an item was added, or stop */
    ssi_nitem *items;  /* guarded by mu: waiting items, unordered */
    size_t n, cap;
    int inflight;               /* guarded by mu: the thread holds an item */
    ss_publish_notify_stats st; /* guarded by mu (pending: n + inflight) */
    atomic_int stop;            /* read by the thread and the transfer's progress callback */
    int started;                /* the thread runs */
    pthread_t thread;           /* delivers */
    unsigned long long seq;     /* file names: submit's thread only */
    ssi_http http;              /* the thread's */
};

static double ssi_clock(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the spool: files written whole or not at all ---- */

static int ssi_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd < 0 || fsync(fd) ? errno : 0;
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Write @p text to DIR/NAME through DIR/.tmp-NAME, on disk before the rename makes it visible
 * (0600: the entry holds the webhook, which is a secret). @return 0 or an errno code. */
static int ssi_write_atomic(const char *dir, const char *name, const char *text)
{
    char *tmp = NULL, *path = NULL;
    if (asprintf(&tmp, "%s/.tmp-%s", dir, name) < 0)
        return ENOMEM;
    if (asprintf(&path, "%s/%s", dir, name) < 0)
        return free(tmp), ENOMEM;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), rc = fd < 0 ? errno : 0;
    size_t len = strlen(text), done = 0;
    while (!rc && done < len) {
        ssize_t w = write(fd, text + done, len - done);
        rc = w < 0 ? (errno == EINTR ? 0 : errno) : 0;
        done += w > 0 ? (size_t)w : 0;
    }
    if (!rc && fsync(fd))
        rc = errno;
    if (fd >= 0 && close(fd) && !rc)
        rc = errno;
    if (!rc && rename(tmp, path))
        rc = errno;
    if (rc && fd >= 0)
        unlink(tmp);
    if (!rc)
        rc = ssi_fsync_dir(dir);
    free(tmp);
    free(path);
    return rc;
}

/* Queue @p name, due at @p due (CLOCK_MONOTONIC); mu held. @return 0, or ENOMEM with @p name still
 * the caller's. */
static int ssi_push(ss_publish_notifier *n, char *name, double due)
{
    if (n->n == n->cap) {
        size_t nc = n->cap ? n->cap * 2 : 16;
        ssi_nitem *fresh = realloc(n->items, nc * sizeof *fresh);
        if (!fresh)
            return ENOMEM;
        n->items = fresh;
        n->cap = nc;
    }
    n->items[n->n++] = (ssi_nitem){name, due};
    pthread_cond_signal(&n->cv);
    return 0;
}

/* @p name could not be queued: it stays in pending/, delivered at the next start. */
static void ssi_not_queued(ss_publish_notifier *n, char *name)
{
    ss_log_line(n->lg, SS_LOG_ERROR,
                "notify file=%s/%s: out of memory; delivered at the next start", n->pending, name);
    free(name);
}

static void ssi_add(ss_publish_notifier *n, char *name, double due)
{
    pthread_mutex_lock(&n->mu);
    int rc = ssi_push(n, name, due);
    pthread_mutex_unlock(&n->mu);
    if (rc)
        ssi_not_queued(n, name);
}

/* ---- submit ---- */

/* The notification as the stream shows it: without the webhook, which is a secret. */
static void ssi_publish(ss_publish_notifier *n, const char *list, const json_t *entry)
{
    json_t *copy = json_copy((json_t *)entry);
    char *topic = NULL, *text = NULL;
    if (copy)
        json_object_del(copy, "webhook");
    text = copy ? json_dumps(copy, JSON_COMPACT) : NULL;
    json_decref(copy);
    ss_err err = {0};
    if (!text || asprintf(&topic, "watch.%s", list) < 0) {
        topic = NULL;
        ss_err_set(&err, SS_ENOMEM, "out of memory");
    } else if (!n->out->publish(n->out_impl, topic,
                                json_string_value(json_object_get(entry, "locus_id")), text,
                                strlen(text), &err)) {
        pthread_mutex_lock(&n->mu);
        n->st.published++;
        pthread_mutex_unlock(&n->mu);
    }
    if (err.code)
        ss_log_line(n->lg, SS_LOG_WARN, "publish topic=watch.%s: %s", list, err.msg);
    free(topic);
    free(text);
}

/* @return 0, or SS_EINVAL with @p err saying what @p e lacks. */
static int ssi_check_entry(const char *list, const json_t *e, ss_err *err)
{
    static const char *const strs[] = {"object", "locus_id"}, *const nums[] = {"ra", "dec"};
    const json_t *hook = json_object_get(e, "webhook");
    char why[128];
    for (size_t i = 0; i < 2; i++) {
        if (!json_is_string(json_object_get(e, strs[i])))
            return ss_err_set(err, SS_EINVAL, "notification for list %s: no \"%s\" string", list,
                              strs[i]);
        if (!json_is_number(json_object_get(e, nums[i])))
            return ss_err_set(err, SS_EINVAL, "notification for list %s: no \"%s\" number", list,
                              nums[i]);
    }
    if (hook && !json_is_string(hook))
        return ss_err_set(err, SS_EINVAL, "notification for list %s: \"webhook\" is not a string",
                          list);
    if (hook && !ssi_url_ok(json_string_value(hook), why, sizeof why))
        return ss_err_set(err, SS_EINVAL, "notification for list %s: webhook: %s", list, why);
    return 0;
}

/* Spool @p entry as pending/NAME, NAME = submission time, pid, sequence: sorted by age. */
static int ssi_spool(ss_publish_notifier *n, const char *list, json_t *entry, ss_err *err)
{
    struct timespec ts;
    struct tm tm;
    char stamp[32], *name = NULL;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);
    json_t *w = json_pack("{s:s, s:f, s:i, s:n, s:O}", "list", list, "created",
                          (double)ts.tv_sec + (double)ts.tv_nsec / 1e9, "attempts", 0, "last_error",
                          "entry", entry);
    char *text = w ? json_dumps(w, JSON_COMPACT) : NULL;
    json_decref(w);
    int rc = !text || asprintf(&name, "%s.%09ldZ-%ld-%llu.json", stamp, ts.tv_nsec, (long)getpid(),
                               ++n->seq) < 0
                 ? ENOMEM
                 : ssi_write_atomic(n->pending, name, text);
    free(text);
    if (rc) {
        free(name);
        return ss_err_set(err, rc, "notification for list %s: cannot spool it in %s: %s", list,
                          n->pending, strerror(rc));
    }
    ssi_add(n, name, ssi_clock(CLOCK_MONOTONIC));
    return 0;
}

int ss_publish_notifier_submit(ss_publish_notifier *n, const char *list, const char *json,
                               size_t len, ss_err *err)
{
    json_error_t je;
    if (!list || !list[0])
        return ss_err_set(err, SS_EINVAL, "notification: no list name");
    json_t *e = json_loadb(json, len, 0, &je);
    if (!json_is_object(e)) {
        json_decref(e);
        return ss_err_set(err, SS_EINVAL, "notification for list %s: %s", list,
                          e ? "not a JSON object" : je.text);
    }
    /* spooled first: when that fails the caller submits it again, and it is published once */
    int rc = ssi_check_entry(list, e, err);
    if (!rc && json_object_get(e, "webhook"))
        rc = ssi_spool(n, list, e, err);
    if (!rc && n->out)
        ssi_publish(n, list, e);
    json_decref(e);
    return rc;
}

/* ---- delivery ---- */

/* Wait for the item due first. @return its name (owned by the caller), or NULL: stop. */
static char *ssi_next(ss_publish_notifier *n)
{
    char *name = NULL;
    pthread_mutex_lock(&n->mu);
    n->inflight = 0;
    while (!name && !atomic_load(&n->stop)) {
        size_t first = 0;
        for (size_t i = 1; i < n->n; i++)
            if (n->items[i].due < n->items[first].due ||
                (n->items[i].due == n->items[first].due &&
                 strcmp(n->items[i].name, n->items[first].name) < 0))
                first = i;
        double now = ssi_clock(CLOCK_MONOTONIC), due = n->n ? n->items[first].due : 0;
        if (!n->n) {
            pthread_cond_wait(&n->cv, &n->mu);
        } else if (due > now) {
            struct timespec ts = {(time_t)due, (long)((due - floor(due)) * 1e9)};
            pthread_cond_timedwait(&n->cv, &n->mu, &ts);
        } else {
            name = n->items[first].name;
            n->items[first] = n->items[--n->n];
            n->inflight = 1;
        }
    }
    pthread_mutex_unlock(&n->mu);
    return name;
}

/* The item the delivery thread holds has an outcome: @p counter counted, the item no longer in
 * flight and, for a retry (@p name, owned from here), queued again, all in one step. Counted apart,
 * a reader of the stats saw it set aside and still pending, or retried and pending twice. */
static void ssi_settle(ss_publish_notifier *n, uint64_t *counter, char *name, double due)
{
    pthread_mutex_lock(&n->mu);
    ++*counter;
    n->inflight = 0;
    int rc = name ? ssi_push(n, name, due) : 0;
    pthread_mutex_unlock(&n->mu);
    if (rc)
        ssi_not_queued(n, name);
}

/* One spooled item, as read from its file. */
typedef struct ssi_nfile {
    const char *name;
    json_t *w; /* the whole file */
    const char *list, *object, *url;
    json_t *entry;
    double created;
    json_int_t attempts;
    char shown[256]; /* the URL as logs show it */
} ssi_nfile;

/* @return 0, or SS_EINVAL with @p why. */
static int ssi_nfile_load(ss_publish_notifier *n, ssi_nfile *f, char *why, size_t cap)
{
    char *path = NULL, *text = NULL;
    size_t len;
    ss_err err = {0};
    json_error_t je;
    if (asprintf(&path, "%s/%s", n->pending, f->name) < 0)
        return snprintf(why, cap, "out of memory"), SS_ENOMEM;
    int rc = ss_file_read(path, &text, &len, &err);
    free(path);
    if (rc)
        return snprintf(why, cap, "%.300s", err.msg),
               rc; /* callers pass less room than an ss_err holds */
    f->w = json_loadb(text, len, 0, &je);
    free(text);
    f->entry = json_object_get(f->w, "entry");
    f->list = json_string_value(json_object_get(f->w, "list"));
    f->object = json_string_value(json_object_get(f->entry, "object"));
    f->url = json_string_value(json_object_get(f->entry, "webhook"));
    f->created = json_number_value(json_object_get(f->w, "created"));
    f->attempts = json_integer_value(json_object_get(f->w, "attempts"));
    if (!f->w)
        return snprintf(why, cap, "not JSON: %s", je.text), SS_EINVAL;
    if (!f->list || !f->object || !f->url || !json_is_number(json_object_get(f->w, "created")))
        return snprintf(why, cap,
                        "not a notification (list, created, entry.object and "
                        "entry.webhook are required)"),
               SS_EINVAL;
    ssi_url_public(f->url, f->shown, sizeof f->shown);
    return 0;
}

/* Record @p why and move the item to failed/ (as it is, when it cannot be rewritten). */
static void ssi_set_aside(ss_publish_notifier *n, ssi_nfile *f, const char *why)
{
    char *from = NULL, *to = NULL, *text = NULL;
    if (json_is_object(f->w)) {
        json_object_set_new(f->w, "attempts", json_integer(f->attempts));
        json_object_set_new(f->w, "last_error", json_string(why));
        json_object_set_new(f->w, "failed_at", json_real(ssi_clock(CLOCK_REALTIME)));
        text = json_dumps(f->w, JSON_COMPACT);
    }
    int moved = 0;
    if (asprintf(&from, "%s/%s", n->pending, f->name) < 0)
        from = NULL;
    else if (asprintf(&to, "%s/%s", n->failed, f->name) < 0)
        to = NULL;
    else if (text && !ssi_write_atomic(n->failed, f->name, text))
        moved = !unlink(from) || errno == ENOENT;
    else /* not JSON, or no room to rewrite it: kept as it is */
        moved = !rename(from, to);
    if (!moved)
        ss_log_line(n->lg, SS_LOG_ERROR, "notify file=%s/%s: cannot move it to %s: %s", n->pending,
                    f->name, n->failed, from && to ? strerror(errno) : "out of memory");
    ss_log_line(n->lg, SS_LOG_ERROR,
                "notify list=%s object=%s url=%s attempts=%lld: %s; set aside in %s",
                f->list ? f->list : "?", f->object ? f->object : "?", f->url ? f->shown : "?",
                (long long)f->attempts, why, to ? to : n->failed);
    ssi_settle(n, &n->st.failed, NULL, 0);
    free(from);
    free(to);
    free(text);
}

/* The wait before attempt number attempts+1: backoff, doubled for each failed attempt. */
static double ssi_delay(const ss_publish_notifier *n, json_int_t attempts, double retry_after)
{
    double d = n->c.backoff * pow(2.0, (double)(attempts - 1));
    d = d > SS_NOTIFY_BACKOFF_MAX ? SS_NOTIFY_BACKOFF_MAX : d;
    return retry_after > d ? retry_after : d;
}

/* A failed attempt that may pass: try again later, unless too many or too late. */
static void ssi_retry(ss_publish_notifier *n, ssi_nfile *f, const char *why, double retry_after)
{
    char full[SS_ERR_MSG_MAX];
    double delay = ssi_delay(n, f->attempts, retry_after);
    if (f->attempts >= (json_int_t)n->c.retries) {
        snprintf(full, sizeof full, "%s (%lld attempts, retries = %u)", why, (long long)f->attempts,
                 n->c.retries);
        return ssi_set_aside(n, f, full);
    }
    if (ssi_clock(CLOCK_REALTIME) + delay > f->created + n->c.max_age) {
        snprintf(full, sizeof full,
                 "%s (the next attempt, in %.0f s, would be past max_age = %g s)", why, delay,
                 n->c.max_age);
        return ssi_set_aside(n, f, full);
    }
    json_object_set_new(f->w, "attempts", json_integer(f->attempts));
    json_object_set_new(f->w, "last_error", json_string(why));
    char *text = json_dumps(f->w, JSON_COMPACT), *name = strdup(f->name);
    int rc = text ? ssi_write_atomic(n->pending, f->name, text) : ENOMEM;
    if (rc) /* the file keeps its former count: one attempt more than retries at worst */
        ss_log_line(n->lg, SS_LOG_ERROR, "notify file=%s/%s: cannot record the attempt: %s",
                    n->pending, f->name, strerror(rc));
    ss_log_line(n->lg, SS_LOG_WARN,
                "notify list=%s object=%s url=%s attempt=%lld/%u: %s; retrying in %.3g s", f->list,
                f->object, f->shown, (long long)f->attempts, n->c.retries, why, delay);
    free(text);
    ssi_settle(n, &n->st.retried, name, ssi_clock(CLOCK_MONOTONIC) + delay);
}

static void ssi_deliver(ss_publish_notifier *n, const char *name)
{
    ssi_nfile f = {.name = name};
    char why[SS_ERR_MSG_MAX - 128];
    double retry_after = 0;
    if (ssi_nfile_load(n, &f, why, sizeof why)) {
        ssi_set_aside(n, &f, why);
        json_decref(f.w);
        return;
    }
    if (ssi_clock(CLOCK_REALTIME) - f.created > n->c.max_age) {
        const char *last = json_string_value(json_object_get(f.w, "last_error"));
        snprintf(why, sizeof why, "not delivered within max_age = %g s%s%s", n->c.max_age,
                 last ? "; last error: " : "", last ? last : "");
        ssi_set_aside(n, &f, why);
        json_decref(f.w);
        return;
    }
    char *payload = ssi_notify_payload(f.list, f.entry);
    ssi_nresult r = payload ? ssi_http_post(&n->http, f.url, payload, strlen(payload), n->c.timeout,
                                            why, sizeof why, &retry_after)
                            : (snprintf(why, sizeof why, "out of memory"), SSI_N_RETRY);
    free(payload);
    f.attempts += r != SSI_N_STOPPED;
    if (r == SSI_N_DELIVERED) {
        char *path = NULL;
        if (asprintf(&path, "%s/%s", n->pending, name) >= 0 && unlink(path))
            ss_log_line(n->lg, SS_LOG_ERROR, "notify file=%s: delivered, cannot remove it: %s",
                        path, strerror(errno));
        free(path);
        ss_log_line(n->lg, SS_LOG_INFO, "notify delivered list=%s object=%s url=%s attempts=%lld",
                    f.list, f.object, f.shown, (long long)f.attempts);
        ssi_settle(n, &n->st.delivered, NULL, 0);
    } else if (r == SSI_N_RETRY)
        ssi_retry(n, &f, why, retry_after);
    else if (r == SSI_N_PERMANENT)
        ssi_set_aside(n, &f, why);
    json_decref(f.w); /* SSI_N_STOPPED: the file stays as it was, for the next start */
}

static void *ssi_run(void *arg)
{
    ss_publish_notifier *n = arg;
    char *name;
    while ((name = ssi_next(n))) {
        ssi_deliver(n, name);
        free(name);
    }
    return NULL;
}

/* ---- lifecycle ---- */

int ss_publish_notify_global_init(ss_err *err)
{
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    return rc ? ss_err_set(err, SS_EINVAL, "libcurl: %s", curl_easy_strerror(rc)) : 0;
}

void ss_publish_notify_global_cleanup(void)
{
    curl_global_cleanup();
}

static int ssi_mkdir(const char *dir, ss_err *err)
{
    if (mkdir(dir, 0700) && errno != EEXIST)
        return ss_err_set(err, errno, "notify: cannot make %s: %s", dir, strerror(errno));
    return 0;
}

static int ssi_name_cmp(const void *a, const void *b)
{
    return strcmp(((const ssi_nitem *)a)->name, ((const ssi_nitem *)b)->name);
}

/* What pending/ holds is due now, oldest first; a .tmp- file is a write a crash cut short. */
static int ssi_load_pending(ss_publish_notifier *n, ss_err *err)
{
    DIR *d = opendir(n->pending);
    if (!d)
        return ss_err_set(err, errno, "notify: %s: %s", n->pending, strerror(errno));
    struct dirent *e;
    double now = ssi_clock(CLOCK_MONOTONIC);
    int rc = 0;
    while (!rc && (e = readdir(d))) {
        char *path = NULL, *name = NULL;
        if (!strncmp(e->d_name, ".tmp-", 5) && asprintf(&path, "%s/%s", n->pending, e->d_name) >= 0)
            unlink(path);
        free(path);
        if (e->d_name[0] != '.' && !(name = strdup(e->d_name)))
            rc = ss_err_set(err, SS_ENOMEM, "out of memory");
        else if (name)
            ssi_add(n, name, now);
    }
    closedir(d);
    if (rc)
        return rc;
    if (n->n)
        qsort(n->items, n->n, sizeof *n->items, ssi_name_cmp);
    if (n->n)
        ss_log_line(n->lg, SS_LOG_INFO, "notify pending=%zu from an earlier run: delivering", n->n);
    return 0;
}

static int ssi_sync_init(ss_publish_notifier *n)
{
    pthread_condattr_t ca;
    int rc = pthread_condattr_init(&ca);
    if (!rc && !(rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC)))
        rc = pthread_cond_init(&n->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (!rc && (rc = pthread_mutex_init(&n->mu, NULL)))
        pthread_cond_destroy(&n->cv);
    return rc;
}

/* The thread blocks every signal: the process's owner handles them (the broker reads SIGTERM,
 * SIGINT and SIGHUP from a signalfd, which only works when no thread leaves them unblocked). */
static int ssi_start_thread(ss_publish_notifier *n, ss_err *err)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&n->thread, NULL, ssi_run, n);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc ? ss_err_set(err, rc, "notify: cannot start the delivery thread: %s", strerror(rc))
              : 0;
}

int ss_publish_notifier_new(const char *run_dir, const ss_publish_notify_conf *conf,
                            const ss_output_ops *out, void *out_impl, const ss_log *lg,
                            ss_publish_notifier **np, ss_err *err)
{
    char *base = NULL;
    ss_publish_notifier *n = calloc(1, sizeof *n);
    *np = NULL;
    if (!n || ssi_sync_init(n))
        return free(n), ss_err_set(err, SS_ENOMEM, "out of memory");
    n->c = *conf;
    n->out = out;
    n->out_impl = out_impl;
    n->lg = lg;
    int rc = asprintf(&base, "%s/notify", run_dir) < 0 ||
                     asprintf(&n->pending, "%s/pending", base) < 0 ||
                     asprintf(&n->failed, "%s/failed", base) < 0 ||
                     ssi_http_init(&n->http, &n->stop)
                 ? ss_err_set(err, SS_ENOMEM, "out of memory")
                 : 0;
    if (!rc && !(rc = ssi_mkdir(base, err)) && !(rc = ssi_mkdir(n->pending, err)))
        rc = ssi_mkdir(n->failed, err);
    if (!rc)
        rc = ssi_load_pending(n, err);
    if (!rc)
        rc = ssi_start_thread(n, err);
    n->started = !rc;
    free(base);
    if (rc)
        ss_publish_notifier_free(n);
    else
        *np = n;
    return rc;
}

void ss_publish_notifier_stats(ss_publish_notifier *n, ss_publish_notify_stats *st)
{
    pthread_mutex_lock(&n->mu);
    *st = n->st;
    st->pending = n->n + (size_t)n->inflight;
    pthread_mutex_unlock(&n->mu);
}

void ss_publish_notifier_free(ss_publish_notifier *n)
{
    if (!n)
        return;
    atomic_store(&n->stop, 1);
    pthread_mutex_lock(&n->mu);
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
    if (n->started)
        pthread_join(n->thread, NULL);
    for (size_t i = 0; i < n->n; i++)
        free(n->items[i].name);
    free(n->items);
    ssi_http_free(&n->http);
    pthread_cond_destroy(&n->cv);
    pthread_mutex_destroy(&n->mu);
    free(n->pending);
    free(n->failed);
    free(n);
}
