/*
 * The broker's intake: messages from the pull socket go through the journal, files through the
 * spool; each commit records the journal position and the spool files it completes, so that a
 * crash at any moment leaves every accepted input either stored or to be ingested again. Kafka
 * is its own journal: a consumer's offsets are committed to its group after the store commit.
 * Each journal record and spool file is marked in progress while it is read (inflight.c): one the
 * broker died on max_attempts times is set aside at the next start instead of killing it again.
 * Log lines about one input are bounded in time (ratelimit.h), the rest summed up.
 */
#include "broker_impl.h"

#include "store_table.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <nanomsg/nn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SSI_PULL_PER_ROUND  2000 /* messages taken per loop round: the loop stays responsive */
#define SSI_SPOOL_PER_ROUND 500
#define SSI_STORE_RETRY_S   10.0
#define SSI_KAFKA_PER_ROUND 2000
#define SSI_KAFKA_ROUND_S   0.05 /* at most this long on Kafka a round: workers are served too */
#define SSI_KAFKA_RETRY_S   5.0
#define SSI_LOG_LINES       20   /* log lines about one input (or source) ... */
#define SSI_LOG_PERIOD_S    10.0 /* ... per this many seconds; the rest counted, then summed up */

/* The broker's keys in the store's meta table (store_table.h): the journal position the last
 * commit covers, and "spool/NAME" for each spool file a commit completed. */
#define SSI_SPOOL_KEY_MAX 480 /* under LMDB's key limit (511 bytes) */
static const MDB_val ssi_jpos_key = {7, "journal"};

int ssi_push(char ***arr, size_t *n, size_t *cap, char *s)
{
    if (!s)
        return SS_ENOMEM;
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        char **fresh = realloc(*arr, nc * sizeof *fresh);
        if (!fresh)
            return free(s), SS_ENOMEM;
        *arr = fresh;
        *cap = nc;
    }
    (*arr)[(*n)++] = s;
    return 0;
}

/* ---- intake: what a commit records, atomically with the alerts ---- */

static int ssi_spool_key(unsigned char *k, const char *name)
{
    int n = snprintf((char *)k, SSI_SPOOL_KEY_MAX, "spool/%s", name);
    return n > 0 && n < SSI_SPOOL_KEY_MAX ? n : 0;
}

/* Inside every intake transaction: the journal position and the spool files wholly ingested;
 * marks of files already moved out of the spool are dropped. */
static int ssi_before_commit(void *ctx, ss_store_txn *txn)
{
    ssi_broker *b = ctx;
    unsigned char jb[16], kb[SSI_SPOOL_KEY_MAX];
    ss_store_jpos_encode(b->jpos_hook, jb);
    MDB_val v = {16, jb};
    int rc = ss_store_put(txn, SS_STORE_META, (MDB_val *)&ssi_jpos_key, &v, 0);
    for (size_t i = 0; i < b->nready && !rc; i++) {
        const char *name = b->spool_ready[i];
        int failed = name[0] == '/'; /* rejected as a whole: kept in failed/ for inspection */
        MDB_val k = {(size_t)ssi_spool_key(kb, name + failed), kb}, fv = {1, failed ? "f" : "d"};
        rc = k.mv_size ? ss_store_put(txn, SS_STORE_META, &k, &fv, 0) : SS_EINVAL;
    }
    for (size_t i = 0; i < b->nmarked && !rc; i++) { /* moved since: their marks go */
        MDB_val k = {(size_t)ssi_spool_key(kb, b->spool_marked[i]), kb};
        rc = ss_store_del(txn, SS_STORE_META, &k);
        rc = rc == MDB_NOTFOUND ? 0 : rc;
    }
    b->jpos_txn = b->jpos_hook;
    return rc;
}

/* Move spool file @p name to done/ or failed/. */
static void ssi_spool_move(ssi_broker *b, const char *name, int failed)
{
    char *from = NULL, *to = NULL;
    if (asprintf(&from, "%s/%s", b->c.spool_dir, name) >= 0 &&
        asprintf(&to, "%s/%s/%s", b->c.spool_dir, failed ? "failed" : "done", name) >= 0 &&
        rename(from, to) != 0)
        ss_log_line(b->lg, SS_LOG_ERROR, "spool file=%s: cannot move it to %s: %s", from, to,
                    strerror(errno));
    free(from);
    free(to);
}

/* After a commit: the journal before jpos_txn may go, the marked files move out of the spool. */
static void ssi_on_commit(void *ctx, const ss_ingest_totals *t)
{
    ssi_broker *b = ctx;
    (void)t;
    ss_store_journal_committed(b->jr, b->jpos_txn);
    if (b->kafka) /* the messages wholly ingested are stored: their offsets go to the group */
        ss_ingest_kafka_in_committed(b->kafka);
    for (size_t i = 0; i < b->nmarked; i++)
        free(b->spool_marked[i]);
    b->nmarked = 0;
    for (size_t i = 0; i < b->nready; i++) {
        char *name = b->spool_ready[i];
        int failed = name[0] == '/';
        ssi_spool_move(b, name + failed, failed);
        b->spool_done += !failed;
        b->spool_failed += failed;
        if (failed)
            memmove(name, name + 1, strlen(name));
        /* out of memory, the mark merely stays in meta: harmless (ssi_push frees name) */
        (void)ssi_push(&b->spool_marked, &b->nmarked, &b->capmarked, name);
    }
    b->nready = 0;
}

/* The lines a limiter did not write, in one line; @p what names them. */
static void ssi_log_note(ssi_broker *b, const ss_ratelimit_note *note, const char *what)
{
    if (note->suppressed)
        ss_log_line(b->lg, SS_LOG_WARN, "input=\"%s\": %llu more %s not logged in the last %.0f s",
                    note->key, (unsigned long long)note->suppressed, what, note->seconds);
}

/* Whether a line about @p key may be written (rl NULL: always), its limiter's summary first. */
static int ssi_log_ok(ssi_broker *b, ss_ratelimit *rl, const char *key, const char *what)
{
    ss_ratelimit_note note;
    if (!rl)
        return 1;
    int ok = ss_ratelimit_take(rl, key, &note);
    ssi_log_note(b, &note, what);
    return ok;
}

static void ssi_on_reject(void *ctx, const ss_reject *rej)
{
    ssi_broker *b = ctx;
    if (ssi_log_ok(b, b->rl_reject, rej->origin, "rejections"))
        ss_log_line(b->lg, SS_LOG_WARN, "rejected input=\"%s\" line=%llu reason=%s: %s",
                    rej->origin, (unsigned long long)rej->line, ss_reason_name(rej->reason),
                    rej->detail);
}

/* End of a round: each input's rejections are all reported (they come at commits), so what was
 * not logged is summed up now; the sources' counts once their period is over. */
static void ssi_log_round_end(ssi_broker *b)
{
    ss_ratelimit_note note;
    if (b->rl_reject) {
        ss_ratelimit_end(b->rl_reject, &note);
        ssi_log_note(b, &note, "rejections");
    }
    if (b->rl_aside) {
        ss_ratelimit_tick(b->rl_aside, &note);
        ssi_log_note(b, &note, "rejected messages or files");
    }
}

/* ---- intake: messages and spool files ---- */

static void ssi_set_aside(ssi_broker *b, const char *name, const void *msg, size_t len,
                          const ss_err *why)
{
    char *path = NULL;
    FILE *fp = NULL;
    if (asprintf(&path, "%s/failed/%s", b->c.run_dir, name) >= 0 && (fp = fopen(path, "wb")))
        fwrite(msg, 1, len, fp);
    if (fp)
        fclose(fp);
    if (ssi_log_ok(b, b->rl_aside, "pull", "rejected messages or files"))
        ss_log_line(b->lg, SS_LOG_WARN, "rejected message=%s kept=%s: %s", name,
                    fp ? path : "(could not be written)", why->msg);
    free(path);
}

/* ---- intake: an input the broker died on ---- */

#ifdef SS_TEST_HOOKS
/* Test builds only (CMake SS_TEST_HOOKS, on in Debug builds): SKYSIEVE_TEST_CRASH_ON=TEXT kills
 * the broker on a message holding TEXT or a spool file whose name holds it, as a poison input
 * that crashes a decoder would, so that tests can check the quarantine. */
static void ssi_test_crash(const char *name, const void *data, size_t len)
{
    const char *needle = getenv("SKYSIEVE_TEST_CRASH_ON");
    if (needle && *needle &&
        (strstr(name, needle) || (data && memmem(data, len, needle, strlen(needle)))))
        raise(SIGKILL);
}
#else
#define ssi_test_crash(name, data, len) ((void)0)
#endif

/* Write NAME.reason in @p dir: what the input was, how often the broker died on it, when. */
static void ssi_write_reason(ssi_broker *b, const char *dir, const char *name, const char *what,
                             unsigned died)
{
    char *path = NULL, stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    FILE *fp = asprintf(&path, "%s/%s.reason", dir, name) < 0 ? NULL : fopen(path, "w");
    if (fp)
        fprintf(fp,
                "input=%s\nattempts=%u\nmax_attempts=%u\nset_aside=%s\nreason=the broker died "
                "%u times while processing this input; it is set aside, not processed again\n",
                what, died, b->c.max_attempts, stamp, died);
    if (!fp || fclose(fp) != 0)
        ss_log_line(b->lg, SS_LOG_ERROR, "input=%s: cannot write %s: %s", what, path ? path : name,
                    strerror(errno));
    free(path);
}

/* Before processing @p what: 1 when the broker died on it max_attempts times (set it aside);
 * otherwise it is marked in progress, its next attempt, and 0 (max_attempts 0: never marked).
 * @p died: the deaths so far. */
static int ssi_attempt(ssi_broker *b, const char *what, unsigned *died)
{
    *died = b->left.attempt && !strcmp(b->left.what, what) ? b->left.attempt : 0;
    if (!b->c.max_attempts) /* off: nothing is marked, nothing set aside */
        return 0;
    if (*died >= b->c.max_attempts && *died)
        return 1;
    if (*died)
        ss_log_line(b->lg, SS_LOG_WARN,
                    "input=%s: the broker died while processing it (%u of max_attempts=%u); "
                    "trying again",
                    what, *died, b->c.max_attempts);
    ssi_inflight_begin(b->inflight, what, *died + 1);
    return 0;
}

/* @p what is over (processed, or set aside for good): nothing is in progress. */
static void ssi_attempt_done(ssi_broker *b, const char *what)
{
    ssi_inflight_end(b->inflight);
    if (b->left.attempt && !strcmp(b->left.what, what))
        b->left.attempt = 0;
}

static int ssi_commit_marks(ssi_broker *b, ss_err *err);

/* A journal record the broker died on max_attempts times: its bytes and reason to
 * RUN_DIR/failed/, and the position past it committed (with what was ingested before it) before
 * its in-progress mark goes, so that it is never taken again. @return 0 or a store failure. */
static int ssi_quarantine_message(ssi_broker *b, const char *name, const char *what,
                                  const void *msg, size_t len, ss_store_jpos end, unsigned died)
{
    char *dir = NULL, *path = NULL;
    FILE *fp = NULL;
    if (asprintf(&dir, "%s/failed", b->c.run_dir) >= 0 &&
        asprintf(&path, "%s/%s", dir, name) >= 0 && (fp = fopen(path, "wb")))
        fwrite(msg, 1, len, fp);
    int kept = fp && fclose(fp) == 0;
    if (dir)
        ssi_write_reason(b, dir, name, what, died);
    ss_log_line(b->lg, SS_LOG_ERROR,
                "input=%s: the broker died %u times while processing it (max_attempts=%u): set "
                "aside, not processed; kept=%s",
                what, died, b->c.max_attempts, kept ? path : "(could not be written)");
    free(dir);
    free(path);
    b->jpos_hook = end;
    b->pull_msgs++;
    b->quarantined++;
    ss_err err = {0};
    int rc = ss_ingest_flush(b->in, &err);
    if (!rc)
        rc = ssi_commit_marks(b, &err);
    if (rc)
        return b->fatal = err, rc;
    ssi_attempt_done(b, what);
    return 0;
}

/* A spool file the broker died on max_attempts times: to SPOOL/failed/ with NAME.reason. */
static void ssi_quarantine_spool(ssi_broker *b, const char *name, const char *what, unsigned died)
{
    char *dir = NULL;
    ss_log_line(b->lg, SS_LOG_ERROR,
                "input=%s: the broker died %u times while processing it (max_attempts=%u): set "
                "aside in %s/failed/, not processed",
                what, died, b->c.max_attempts, b->c.spool_dir);
    if (asprintf(&dir, "%s/failed", b->c.spool_dir) >= 0)
        ssi_write_reason(b, dir, name, what, died);
    free(dir);
    ssi_spool_move(b, name, 1);
    b->spool_failed++;
    b->quarantined++;
    ssi_attempt_done(b, what);
}

/* Ingest one journalled message. @return 0, or a store failure. */
static int ssi_take_message(ssi_broker *b, const void *msg, size_t len, ss_store_jpos start,
                            ss_store_jpos end)
{
    char name[64], what[80];
    unsigned died;
    snprintf(name, sizeof name, "msg-%llx-%llu", (unsigned long long)start.id,
             (unsigned long long)start.off);
    snprintf(what, sizeof what, "journal %s", name);
    if (ssi_attempt(b, what, &died))
        return ssi_quarantine_message(b, name, what, msg, len, end, died);
    b->jpos_hook = start; /* a commit inside this message covers only what came before it */
    ssi_test_crash(name, msg, len);
    ss_err err = {0};
    int rc = ss_ingest_memory(b->in, msg, len, name, &err);
    ssi_attempt_done(b, what);
    b->jpos_hook = end;
    b->pull_msgs++;
    if (rc == SS_EREJECT) {
        ssi_set_aside(b, name, msg, len, &err);
        rc = 0;
    }
    return rc ? (b->fatal = err, rc) : 0;
}

/* Whether the queue reaches queue_high with what this round has taken so far: intake stops
 * between inputs, so the queue overshoots by one input at most. */
static int ssi_over_high(const ssi_broker *b)
{
    ss_ingest_totals t;
    ss_ingest_totals_get(b->in, &t);
    uint64_t est = b->queue_len + (t.ingested - b->ingested_mark) + ss_ingest_pending(b->in);
    return b->c.set && est >= b->c.queue_high;
}

/* One message from the pull socket, journalled (*jn its length), or NULL: none waits, or it was
 * refused (over max_message_size) or could not be journalled (both logged). */
static void *ssi_pull_take(ssi_broker *b, int *jn, ss_store_jpos *start, ss_store_jpos *end)
{
    void *msg = NULL;
    int n = nn_recv(b->pull, &msg, NN_MSG, NN_DONTWAIT);
    ss_err err = {0};
    *jn = n;
    if (n < 0)
        return NULL;
    if ((size_t)n > b->c.max_message_size) { /* a sender that did not check (send does) */
        b->pull_oversized++;
        ss_log_line(b->lg, SS_LOG_ERROR,
                    "pull: a message of %d bytes is over [input pull] max_message_size (%zu): "
                    "refused, not ingested",
                    n, b->c.max_message_size);
    } else if (ss_store_journal_append(b->jr, msg, (size_t)n, start, end, &err))
        ss_log_line(b->lg, SS_LOG_ERROR, "message not accepted (lost): %s", err.msg);
    else
        return msg;
    nn_freemsg(msg);
    return NULL;
}

/* Take what the pull socket holds, journal it, ingest it. @return 0 or a store failure. */
static int ssi_pull_round(ssi_broker *b)
{
    for (int i = 0; i < SSI_PULL_PER_ROUND && !ssi_over_high(b); i++) {
        ss_store_jpos start, end;
        int n;
        void *msg = ssi_pull_take(b, &n, &start, &end);
        if (n < 0)
            return 0;
        int rc = msg ? ssi_take_message(b, msg, (size_t)n, start, end) : 0;
        if (msg)
            nn_freemsg(msg);
        if (rc && rc != ENOSPC && b->fatal.code)
            return rc;
    }
    return 0;
}

/* While the store cannot be written, pull messages still go to the journal (on the run
 * directory's disk) and are ingested when intake resumes, by the journal's replay: a sender that
 * leaves right after its last message (skysieve send) would otherwise lose what waits in the
 * socket, since nanomsg drops it when the sender disconnects. */
static void ssi_pull_journal_only(ssi_broker *b)
{
    for (int i = 0; b->jr && b->pull >= 0 && !b->stopping && i < SSI_PULL_PER_ROUND; i++) {
        ss_store_jpos start, end;
        int n;
        void *msg = ssi_pull_take(b, &n, &start, &end);
        if (n < 0)
            return;
        if (msg) {
            b->pull_msgs++;
            nn_freemsg(msg);
        }
    }
}

/* ---- intake: Kafka ---- */

/* Close the consumer, its counters kept. What it fetched but the store has not committed is
 * delivered again to the next consumer of the group. */
static void ssi_kafka_close(ssi_broker *b)
{
    ss_ingest_kafka_in_stats st;
    if (!b->kafka)
        return;
    ss_ingest_kafka_in_stats_get(b->kafka, &st);
    b->kafka_past.messages += st.messages;
    b->kafka_past.alerts += st.alerts;
    b->kafka_past.rejected += st.rejected;
    if (st.last_error[0])
        memcpy(b->kafka_past.last_error, st.last_error, sizeof st.last_error);
    ss_ingest_kafka_in_close(b->kafka);
    b->kafka = NULL;
    b->kafka_more = 0;
}

static int ssi_kafka_open(ssi_broker *b, ss_err *err)
{
    const ss_ingest_kafka_in_conf *k = &b->c.kafka;
    if (!b->c.kafka_on)
        return 0;
    if (ss_ingest_kafka_in_open(k, b->c.schema_dir, &b->kafka, err))
        return ss_err_prefix(err, "%s", b->c.file), err->code;
    b->kafka_more = 1; /* the wake-up signals what arrives from now on; look once anyway */
    ss_log_line(b->lg, SS_LOG_INFO, "kafka consumer brokers=%s topics=%s group=%s%s", k->brokers,
                k->topics, k->group, k->nparts ? " (static partitions)" : "");
    return 0;
}

json_t *ssi_kafka_json(const ssi_broker *b)
{
    ss_ingest_kafka_in_stats st = {0};
    if (b->kafka)
        ss_ingest_kafka_in_stats_get(b->kafka, &st);
    const ss_ingest_kafka_in_stats *p = &b->kafka_past;
    return json_pack("{s:I, s:I, s:I, s:I, s:s, s:s}", "messages",
                     (json_int_t)(p->messages + st.messages), "alerts",
                     (json_int_t)(p->alerts + st.alerts), "rejected",
                     (json_int_t)(p->rejected + st.rejected), "pending_partitions",
                     (json_int_t)st.pending, "consumer", b->kafka ? "open" : "closed", "last_error",
                     st.last_error[0] ? st.last_error : p->last_error);
}

/* A fatal consumer error: what was ingested is committed (its offsets with it), the consumer is
 * closed and opened again after a backoff. @return 0, or a store failure. */
static int ssi_kafka_failed(ssi_broker *b, const ss_err *why)
{
    ss_err err = {0};
    int rc = ss_ingest_flush(b->in, &err);
    if (!rc)
        ss_ingest_kafka_in_committed(b->kafka);
    ss_log_line(b->lg, SS_LOG_ERROR, "%s; consumer closed, opened again in %.0f s", why->msg,
                SSI_KAFKA_RETRY_S);
    ssi_kafka_close(b);
    b->kafka_retry_at = ssi_mono() + SSI_KAFKA_RETRY_S;
    return rc ? (b->fatal = err, rc) : 0;
}

/* Take what the consumer holds: bounded in messages and time a round, and stopping at
 * queue_high; one message at a time, so the queue overshoots by one message at most.
 * @return 0 or a store failure (b->fatal saying why). */
static int ssi_kafka_round(ssi_broker *b)
{
    double end = ssi_mono() + SSI_KAFKA_ROUND_S;
    unsigned n = 0, got = 1;
    int rc = 0, over = 0;
    ss_err err = {0};
    while (!rc && got && n < SSI_KAFKA_PER_ROUND && !(over = ssi_over_high(b)) &&
           ssi_mono() < end) {
        rc = ss_ingest_kafka_in_poll(b->kafka, b->in, 1, 0, b->lg, &got, &err);
        n += got;
    }
    b->kafka_more = !rc && got; /* stopped at a bound: not signalled again, look next round */
    if (!rc)
        return 0;
    ss_ingest_kafka_in_stats st;
    ss_ingest_kafka_in_stats_get(b->kafka, &st);
    return st.fatal ? ssi_kafka_failed(b, &err) : (b->fatal = err, rc);
}

/* A failed consumer opens again once its backoff is over; failing again, it waits again. */
static void ssi_kafka_reopen(ssi_broker *b)
{
    ss_err err = {0};
    if (b->kafka || !b->c.kafka_on || ssi_mono() < b->kafka_retry_at)
        return;
    if (ssi_kafka_open(b, &err)) {
        ss_log_line(b->lg, SS_LOG_ERROR, "%s; trying again in %.0f s", err.msg, SSI_KAFKA_RETRY_S);
        b->kafka_retry_at = ssi_mono() + SSI_KAFKA_RETRY_S;
    }
}

static int ssi_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The spool's files, in name order (names starting with '.' are still being written). */
static size_t ssi_spool_list(ssi_broker *b, char ***out)
{
    DIR *d = opendir(b->c.spool_dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.' || (e->d_type != DT_REG && e->d_type != DT_UNKNOWN))
            continue;
        char *path = NULL;
        struct stat st;
        int file = asprintf(&path, "%s/%s", b->c.spool_dir, e->d_name) >= 0 &&
                   stat(path, &st) == 0 && S_ISREG(st.st_mode);
        free(path);
        if (file && ssi_push(&names, &n, &cap, strdup(e->d_name)))
            break;
    }
    if (d)
        closedir(d);
    if (n)
        qsort(names, n, sizeof *names, ssi_name_cmp);
    *out = names;
    return n;
}

/* A file committed before a crash that kept it from moving: its mark says so. */
static int ssi_spool_marked(ssi_broker *b, const char *name, int *failed)
{
    ss_store_txn *txn;
    unsigned char kb[SSI_SPOOL_KEY_MAX];
    MDB_val k = {(size_t)ssi_spool_key(kb, name), kb}, v;
    if (!k.mv_size || ss_store_txn_begin(b->store, SS_STORE_READ, &txn))
        return 0;
    int found = ss_store_get(txn, SS_STORE_META, &k, &v) == 0;
    *failed = found && v.mv_size == 1 && ((char *)v.mv_data)[0] == 'f';
    ss_store_txn_abort(txn);
    return found;
}

static int ssi_spool_file(ssi_broker *b, const char *name)
{
    int failed = 0;
    if (ssi_spool_marked(b, name, &failed)) {
        ss_log_line(b->lg, SS_LOG_INFO, "spool file=%s was stored before a restart", name);
        char *copy = NULL;
        return asprintf(&copy, "%s%s", failed ? "/" : "", name) < 0
                   ? SS_ENOMEM
                   : ssi_push(&b->spool_ready, &b->nready, &b->capready, copy);
    }
    char *path = NULL, *what = NULL;
    unsigned died;
    if (asprintf(&what, "spool %s", name) < 0)
        return SS_ENOMEM;
    if (ssi_attempt(b, what, &died)) {
        ssi_quarantine_spool(b, name, what, died);
        free(what);
        return 0;
    }
    ssi_test_crash(name, NULL, 0);
    ss_err err = {0};
    int rc = asprintf(&path, "%s/%s", b->c.spool_dir, name) < 0
                 ? ss_err_set(&err, SS_ENOMEM, "out of memory")
                 : ss_ingest_path(b->in, path, &err);
    free(path);
    ssi_attempt_done(b, what);
    free(what);
    if (rc == SS_EREJECT && ssi_log_ok(b, b->rl_aside, "spool", "rejected messages or files"))
        ss_log_line(b->lg, SS_LOG_WARN, "spool file=%s rejected, moved to failed/: %s", name,
                    err.msg);
    else if (rc)
        return b->fatal = err, rc;
    char *entry = NULL;
    if (asprintf(&entry, "%s%s", rc == SS_EREJECT ? "/" : "", name) < 0)
        return SS_ENOMEM;
    return ssi_push(&b->spool_ready, &b->nready, &b->capready, entry);
}

static int ssi_spool_round(ssi_broker *b)
{
    char **names;
    size_t n = ssi_spool_list(b, &names);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (!rc && i < SSI_SPOOL_PER_ROUND && !ssi_over_high(b))
            rc = ssi_spool_file(b, names[i]);
        free(names[i]);
    }
    free(names);
    return rc;
}

/* ---- intake runs ---- */

static int ssi_read_jpos(ssi_broker *b, ss_store_jpos *pos)
{
    ss_store_txn *txn;
    MDB_val v;
    *pos = (ss_store_jpos){0, 0};
    int rc = ss_store_txn_begin(b->store, SS_STORE_READ, &txn);
    if (rc)
        return rc;
    rc = ss_store_get(txn, SS_STORE_META, (MDB_val *)&ssi_jpos_key, &v);
    if (rc == 0 && v.mv_size == 16)
        *pos = ss_store_jpos_decode(v.mv_data);
    b->queue_len = ss_store_queue_len(txn);
    ss_store_txn_abort(txn);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

void ssi_intake_free(ssi_broker *b)
{
    if (b->in) {
        ss_ingest_totals t;
        ss_ingest_totals_get(b->in, &t);
        b->alerts_in += t.ingested; /* committed work of the run that ends */
        b->rejected += t.rejected;
    }
    ssi_kafka_close(b); /* before its ingest: nothing more is committed for it */
    ss_ingest_gcn_close(b->gcn);
    b->gcn = NULL;
    ss_ingest_free(b->in);
    b->in = NULL;
    ss_store_journal_close(b->jr);
    b->jr = NULL;
    for (size_t i = 0; i < b->nready; i++)
        free(b->spool_ready[i]);
    b->nready = 0;
}

void ssi_intake_release(ssi_broker *b)
{
    ssi_log_round_end(b);
    ssi_inflight_close(b->inflight); /* a stop: nothing is left in progress */
    b->inflight = NULL;
    ss_ratelimit_free(b->rl_reject);
    ss_ratelimit_free(b->rl_aside);
    b->rl_reject = b->rl_aside = NULL;
}

/* Once per process: what a process that died left in progress, and the log limiters. */
static int ssi_intake_once(ssi_broker *b, ss_err *err)
{
    if (b->inflight)
        return 0;
    int rc = ssi_inflight_open(b->c.run_dir, &b->inflight, &b->left, err);
    if (!rc && b->left.attempt)
        ss_log_line(b->lg, SS_LOG_WARN,
                    "input=%s was in progress when the last broker died (attempt %u of "
                    "max_attempts=%u)",
                    b->left.what, b->left.attempt, b->c.max_attempts);
    b->rl_reject = ss_ratelimit_new(SSI_LOG_LINES, SSI_LOG_PERIOD_S, NULL, NULL);
    b->rl_aside = ss_ratelimit_new(SSI_LOG_LINES, SSI_LOG_PERIOD_S, NULL, NULL);
    if (!rc && (!b->rl_reject || !b->rl_aside))
        rc = ss_err_set(err, SS_ENOMEM, "out of memory");
    return rc;
}

/* Start ingesting: open the journal where the store says it was left, replay what follows. */
int ssi_intake_start(ssi_broker *b, ss_err *err)
{
    ss_ingest_options o = {.batch_size = b->c.batch,
                           .max_rejected_per_input = b->c.max_rejected_per_input,
                           .queue_dispatch = b->c.set != NULL, /* no filters: nothing waits */
                           .before_commit = ssi_before_commit,
                           .on_commit = ssi_on_commit,
                           .on_reject = ssi_on_reject,
                           .ctx = b};
    o.decoder.schema_dir = b->c.schema_dir;
    o.decoder.limits = b->c.limits;
    ss_store_jpos from;
    char *dir = NULL;
    int rc = ssi_intake_once(b, err);
    if (rc)
        return rc;
    if ((rc = ssi_read_jpos(b, &from)))
        return ss_store_fail(b->store, err, rc, "reading the journal position");
    if (asprintf(&dir, "%s/journal", b->c.run_dir) < 0)
        return ss_err_set(err, SS_ENOMEM, "out of memory");
    rc = ss_store_journal_open(dir, from, &b->jr, err);
    free(dir);
    b->ingested_mark = 0;
    if (!rc && !(b->in = ss_ingest_new(b->store, &o)))
        rc = ss_err_set(err, SS_ENOMEM, "out of memory");
    b->jpos_hook = b->jpos_txn = from;
    const void *msg;
    size_t len, n = 0;
    ss_store_jpos start, end;
    while (!rc && (rc = ss_store_journal_replay(b->jr, &msg, &len, &start, &end, err)) == 1) {
        n++;
        if ((rc = ssi_take_message(b, msg, len, start, end)))
            *err = b->fatal;
    }
    if (!rc && !(rc = ss_ingest_flush(b->in, err)) && n)
        ss_log_line(b->lg, SS_LOG_INFO, "journal replayed messages=%zu", n);
    ssi_log_round_end(b);
    return rc ? rc : ssi_kafka_open(b, err);
}

/* A store failure in intake: nothing accepted is lost (it is in the journal or the spool), so
 * stop taking more, say what to do, and start again from the journal a little later. */
static void ssi_intake_failed(ssi_broker *b, const ss_err *err)
{
    ss_log_line(b->lg, SS_LOG_ERROR,
                "store=%s: %s; intake paused, retrying in %.0f s (a full disk needs space; the "
                "map grows by itself up to what the disk and address space allow)",
                b->c.store, err->msg, SSI_STORE_RETRY_S);
    ssi_intake_free(b);
    b->store_failed = 1;
    b->retry_at = ssi_mono() + SSI_STORE_RETRY_S;
    /* the journal stays open for pull messages (ssi_pull_journal_only) until intake resumes */
    ss_store_jpos from;
    char *dir = NULL;
    ss_err jerr = {0};
    if (b->pull >= 0 && ssi_read_jpos(b, &from) == 0 &&
        asprintf(&dir, "%s/journal", b->c.run_dir) >= 0 &&
        ss_store_journal_open(dir, from, &b->jr, &jerr))
        ss_log_line(b->lg, SS_LOG_ERROR, "pull messages are not taken while paused: %s", jerr.msg);
    free(dir);
}

static int ssi_commit_marks(ssi_broker *b, ss_err *err)
{
    ss_store_txn *txn;
    int rc = ss_store_txn_begin(b->store, SS_STORE_WRITE, &txn);
    if (!rc && (rc = ssi_before_commit(b, txn)))
        ss_store_txn_abort(txn);
    else if (!rc)
        rc = ss_store_txn_commit(txn);
    if (rc)
        return ss_store_fail(b->store, err, rc, "recording spool files");
    ssi_on_commit(b, NULL);
    return 0;
}

static void ssi_refresh_queue_len(ssi_broker *b)
{
    ss_store_txn *txn;
    if (ss_store_txn_begin(b->store, SS_STORE_READ, &txn) == 0) {
        b->queue_len = ss_store_queue_len(txn);
        ss_store_txn_abort(txn);
    }
    ss_ingest_totals t;
    ss_ingest_totals_get(b->in, &t);
    b->ingested_mark = t.ingested;
}

/* ---- [input gcn]: gravitational-wave notices ---- */

#define SSI_GCN_PER_ROUND 4
#define SSI_GCN_RETRY_S   30.0

static void ssi_gcn_applied(void *ctx, const char *label, const ss_ingest_gcn_result *r)
{
    ssi_broker *b = ctx;
    if (!strcmp(r->alert_type, "RETRACTION"))
        ss_log_line(b->lg, SS_LOG_INFO, "gw event=%s RETRACTION: %s (%s)", r->event,
                    r->removed ? "map removed" : "no map was stored", label);
    else
        ss_log_line(b->lg, SS_LOG_INFO,
                    "gw event=%s %s: map stored pixels=%zu area90_deg2=%.1f merger_mjd=%.5f; "
                    "loci already in the region queued=%zu (%s)",
                    r->event, r->alert_type, r->pixels, r->area90, r->merger_mjd, r->queued, label);
    if (r->queued)
        ssi_refresh_queue_len(b);
}

/* A notice that cannot be applied: kept in failed/ with its reason, its offset committed. */
static void ssi_gcn_refused(void *ctx, const char *label, const void *msg, size_t len,
                            const ss_err *why)
{
    ssi_broker *b = ctx;
    char *dir = NULL, *path = NULL, name[160];
    snprintf(name, sizeof name, "gcn-%s", label);
    for (char *c = name; *c; c++)
        if (*c == ' ' || *c == '/' || *c == '=')
            *c = '_';
    FILE *fp = NULL;
    if (asprintf(&dir, "%s/failed", b->c.run_dir) >= 0 &&
        (mkdir(dir, 0755) == 0 || errno == EEXIST) &&
        asprintf(&path, "%s/%s.json", dir, name) >= 0 && (fp = fopen(path, "wb")))
        fwrite(msg, 1, len, fp);
    int kept = fp && fclose(fp) == 0;
    ss_log_line(b->lg, SS_LOG_ERROR, "gw notice refused: %s; kept=%s", why->msg,
                kept ? path : "(could not be written)");
    free(dir);
    free(path);
}

static void ssi_gcn_open(ssi_broker *b)
{
    ss_err err = {0};
    if (b->gcn || !b->c.gcn_on || ssi_mono() < b->gcn_retry_at)
        return;
    if (ss_ingest_gcn_open(&b->c.gcn, &b->gcn, &err)) {
        ss_log_line(b->lg, SS_LOG_ERROR, "%s; trying again in %.0f s", err.msg, SSI_GCN_RETRY_S);
        b->gcn_retry_at = ssi_mono() + SSI_GCN_RETRY_S;
        return;
    }
    ss_log_line(b->lg, SS_LOG_INFO, "gcn consumer brokers=%s topics=%s group=%s", b->c.gcn.brokers,
                b->c.gcn.topics, b->c.gcn.group);
}

/* Notices are rare and each is its own transaction: taken only when the intake has nothing
 * waiting to commit, so the two never hold the store's one writer at once. */
static void ssi_gcn_round(ssi_broker *b)
{
    ssi_gcn_open(b);
    if (!b->gcn || b->paused || b->stopping || ss_ingest_pending(b->in))
        return;
    unsigned got;
    ss_err err = {0};
    if (ss_ingest_gcn_poll(b->gcn, b->store, SSI_GCN_PER_ROUND, ssi_gcn_applied, ssi_gcn_refused, b,
                           &got, &err))
        ss_log_line(b->lg, SS_LOG_ERROR, "gw notice not applied, read again later: %s", err.msg);
}

json_t *ssi_gcn_json(const ssi_broker *b)
{
    ss_ingest_gcn_stats st = {0};
    if (b->gcn)
        ss_ingest_gcn_stats_get(b->gcn, &st);
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:s, s:s, s:s}", "notices", (json_int_t)st.notices,
                     "maps", (json_int_t)st.maps, "retractions", (json_int_t)st.retractions,
                     "refused", (json_int_t)st.refused, "queued", (json_int_t)st.queued,
                     "last_event", st.last_event, "last_error", st.last_error, "consumer",
                     b->gcn ? "open" : "closed");
}

/* Group commit: after an intake commit, the next waits as long as that one took (at most
 * commit_interval), so the loop spends at most half its time committing. A quiet broker commits an
 * alert at once; a busy one gathers the alerts arriving during the pause into one commit and one
 * disk flush, the journal or Kafka holding them meanwhile. A spool file read whole, a stop, or a
 * full batch commits at once: a file must be marked before the next scan sees it. */
static int ssi_flush_due(ssi_broker *b)
{
    double now = ssi_mono();
    if (!ss_ingest_pending(b->in) && !b->nready)
        return 0;
    if (!b->flush_at) /* the loop spends at most half its time in intake commits */
        b->flush_at = b->flushed_at + fmin(b->c.commit_interval, b->flush_took);
    return b->stopping || b->nready || now >= b->flush_at || ss_ingest_pending(b->in) >= b->c.batch;
}

void ssi_intake_round(ssi_broker *b, int scan_spool)
{
    ss_err err = {0};
    if (b->store_failed) {
        if (ssi_mono() < b->retry_at)
            return ssi_pull_journal_only(b);
        ss_store_journal_close(b->jr); /* ssi_intake_start replays what it took meanwhile */
        b->jr = NULL;
        b->store_failed = 0;
        if (ssi_intake_start(b, &err))
            return ssi_intake_failed(b, &err);
        ss_log_line(b->lg, SS_LOG_INFO, "intake resumed after the store failure");
    }
    int rc = 0;
    if (b->pull >= 0 && !b->paused && !b->stopping)
        rc = ssi_pull_round(b);
    if (!rc && scan_spool && b->c.spool_dir && !b->paused && !b->stopping)
        rc = ssi_spool_round(b);
    if (!b->stopping)
        ssi_kafka_reopen(b);
    if (!rc && b->kafka && !b->paused && !b->stopping)
        rc = ssi_kafka_round(b);
    if (rc)
        err = b->fatal;
    if (!rc && ssi_flush_due(b)) {
        double t0 = ssi_mono();
        b->flush_at = 0;
        rc = ss_ingest_flush(b->in, &err);
        b->flushed_at = ssi_mono();
        b->flush_took = b->flushed_at - t0;
        if (!rc && b->nready) /* files that gave nothing to store still need their marks */
            rc = ssi_commit_marks(b, &err);
    }
    /* messages of known alerts only leave nothing to commit: their offsets go now */
    if (!rc && b->kafka && !ss_ingest_pending(b->in))
        ss_ingest_kafka_in_committed(b->kafka);
    if (!rc && b->c.gcn_on)
        ssi_gcn_round(b);
    ssi_log_round_end(b);
    if (rc)
        return ssi_intake_failed(b, &err);
    ssi_refresh_queue_len(b);
}
