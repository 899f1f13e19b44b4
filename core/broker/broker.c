/*
 * The live broker (broker.h): one event loop over the signals, the control socket, the inputs and
 * the filter workers. Intake commits alerts and their dispatch-queue entries; the workers' answers
 * are committed with the removal of their entries; tags are published after that commit.
 */
#include "broker_impl.h"
#include "watch.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>
#include <nanomsg/reqrep.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define SSI_STOP_GRACE 2.0
#define SSI_MAX_POLL   (2 + 3 * 64)

static int ssi_mkdirs(const char *dir)
{
    char *copy = strdup(dir);
    if (!copy)
        return ENOMEM;
    for (char *p = copy + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(copy, 0755) != 0 && errno != EEXIST)
                return free(copy), errno;
            *p = '/';
        }
    int rc = mkdir(copy, 0755) != 0 && errno != EEXIST ? errno : 0;
    free(copy);
    return rc;
}

/* ---- filter outputs ---- */

typedef struct ssi_answers {
    ssi_broker *b;
    ssi_wproc *w;
    ssi_answer *ans;
} ssi_answers;

static int ssi_store_answers(ss_store_txn *txn, void *ctx, ss_err *err)
{
    (void)err;
    ssi_answers *x = ctx;
    ssi_broker *b = x->b;
    ssi_wproc *w = x->w;
    ssi_answer *ans = x->ans;
    int rc = 0;
    ss_arena_reset(b->arena);
    for (size_t i = 0; i < w->njobs && !rc; i++) {
        const ssi_job *j = &w->jobs[i];
        ssi_answer *a = &ans[i];
        if ((rc = ssi_answer_parse(&j->answer, b->arena, a)))
            break;
        if (!a->failed && (a->o.ntags || a->o.nlocus_props || a->o.nalert_props))
            rc = ss_filter_outputs_store(txn, j->q.locus_id, j->q.survey, j->q.alert_id, a->mjd,
                                         &a->o, b->arena);
        if (!rc)
            rc = ss_store_queue_del(txn, j->q.seq);
    }
    return rc;
}

static void ssi_publish(ssi_broker *b, const char *locus_id, const ssi_answer *a)
{
    for (size_t i = 0; b->outs.n && i < a->o.ntags; i++) {
        ss_err err = {0};
        if (ss_publish_send(&b->outs, a->o.tags[i].tag, locus_id, a->events[i],
                            strlen(a->events[i]), &err))
            ss_log_line(b->lg, SS_LOG_WARN, "publish tag=%s: %s", a->o.tags[i].tag, err.msg);
        else
            b->published++;
    }
}

/* A worker's batch is answered: store every answer and dequeue it in one transaction, then count
 * and publish. A store failure leaves the jobs with the worker, to be stored again later. */
static int ssi_batch_done(ssi_broker *b, ssi_gen *g, ssi_wproc *w)
{
    ssi_answer *ans = calloc(w->njobs, sizeof *ans);
    ssi_answers x = {b, w, ans};
    ss_err err = {0};
    int rc = ans ? ss_store_write(b->store, ssi_store_answers, &x, "storing filter outputs", &err)
                 : ss_err_set(&err, SS_ENOMEM, "storing filter outputs: out of memory");
    if (rc) { /* logged once per episode; retried a second later, not on every loop */
        if (!b->outputs_failing++)
            ss_log_line(b->lg, SS_LOG_ERROR, "generation=%u: %s; retrying every second", g->id,
                        err.msg);
        b->outputs_retry_at = ssi_mono() + 1.0;
        free(ans);
        return rc;
    }
    if (b->outputs_failing)
        ss_log_line(b->lg, SS_LOG_INFO, "filter outputs stored again, after %llu failed attempts",
                    (unsigned long long)b->outputs_failing);
    b->outputs_failing = 0;
    for (size_t i = 0; i < w->njobs; i++) {
        ssi_gen_account(&b->pc, g, &w->jobs[i], b->lg);
        ssi_publish(b, w->jobs[i].q.locus_id, &ans[i]);
    }
    b->queue_len -= b->queue_len >= w->njobs ? w->njobs : b->queue_len;
    b->filtered += w->njobs;
    free(ans);
    ssi_wproc_done(w);
    return 0;
}

/* ---- watch-list notifications ---- */

int ssi_notify_take(void *ctx, const char *list, const char *json, size_t len)
{
    ssi_broker *b = ctx;
    ss_err err = {0};
    int rc = ss_publish_notifier_submit(b->notify, list, json, len, &err);
    if (rc)
        ss_log_line(b->lg, rc == SS_EINVAL ? SS_LOG_ERROR : SS_LOG_WARN, "watch list=%s: %s%s",
                    list, err.msg, rc == SS_EINVAL ? "; dropped" : "; kept for the next round");
    return rc && rc != SS_EINVAL;
}

/* Hand the watch-list hits the last commits wrote to the notifier, a bounded number a round so a
 * burst never holds up intake. A round that could not take everything (spool or store failing)
 * waits a second before the next, rather than retrying and logging every loop. */
static void ssi_watch_round(ssi_broker *b, double now)
{
    enum { SSI_WATCH_ROUND = 256 };
    size_t pending = 0, taken = 0;
    ss_err err = {0};
    if (!b->notify || b->store_failed || now < b->next_watch)
        return;
    int rc = ss_assoc_watch_pending(b->store, &pending, &err);
    if (!rc && pending)
        rc = ss_assoc_watch_drain(b->store, SSI_WATCH_ROUND, ssi_notify_take, b, &taken, &err);
    if (rc)
        ss_log_line(b->lg, SS_LOG_WARN, "watch outbox: %s", err.msg);
    if (rc || taken < (pending < SSI_WATCH_ROUND ? pending : SSI_WATCH_ROUND))
        b->next_watch = now + 1.0;
}

/* ---- dispatching queued work ---- */

static size_t ssi_slot(const char *locus_id, size_t nw)
{
    return (size_t)(XXH3_64bits(locus_id, SS_LOCUS_ID_LEN) % nw);
}

/* The next batch for worker slot @p i: its loci, in queue order, no locus twice (the second
 * dispatch must see what the first one stored). */
static size_t ssi_take_jobs(ssi_broker *b, size_t i, ss_store_queue_entry *out, size_t max)
{
    size_t nw = b->cur->nw, n = 0, got;
    ss_store_queue_entry chunk[256];
    ss_store_txn *txn;
    if (ss_store_txn_begin(b->store, SS_STORE_READ, &txn))
        return 0;
    int full = 0;
    while (!full && ss_store_queue_read(txn, b->cursor[i], chunk, 256, &got) == 0 && got) {
        for (size_t k = 0; k < got && !full; k++) {
            if (ssi_slot(chunk[k].locus_id, nw) == i) {
                for (size_t m = 0; m < n && !full; m++)
                    full = !strcmp(out[m].locus_id, chunk[k].locus_id);
                if (full)
                    break;
                out[n++] = chunk[k];
                full = n == max;
            }
            b->cursor[i] = chunk[k].seq;
        }
    }
    ss_store_txn_abort(txn);
    return n;
}

static void ssi_dispatch_round(ssi_broker *b)
{
    if (!b->cur || b->stopping || (b->next && ssi_gen_ready(b->next) == 1))
        return; /* a ready generation waits for the running one to drain */
    ss_store_queue_entry *q = malloc(b->pc.batch * sizeof *q);
    for (size_t i = 0; q && i < b->cur->nw; i++) {
        ssi_wproc *w = &b->cur->w[i];
        size_t n = w->state == SSI_W_IDLE ? ssi_take_jobs(b, i, q, b->pc.batch) : 0;
        if (n)
            ssi_wproc_send(&b->pc, b->cur, w, q, n, b->lg);
    }
    free(q);
}

/* ---- generations ---- */

static int ssi_reload_start(ssi_broker *b, ss_err *err)
{
    if (b->next)
        return ss_err_set(err, SS_EINVAL, "a reload is already under way (generation %u)",
                          b->next->id);
    ss_broker_conf fresh;
    int rc = ss_broker_conf_load(b->c.file, &fresh, err);
    if (rc)
        return rc;
    if (!fresh.set) {
        ss_broker_conf_free(&fresh);
        return ss_err_set(err, SS_EINVAL, "%s: no [filters] set to load", b->c.file);
    }
    free(b->c.set); /* what a reload may change: the set and how it is run */
    b->c.set = fresh.set;
    fresh.set = NULL;
    b->pc.timeout = b->c.timeout = fresh.timeout;
    b->pc.max_crashes = b->c.max_crashes = fresh.max_crashes;
    b->pc.batch = b->c.dispatch_batch = fresh.dispatch_batch;
    ss_broker_conf_free(&fresh);
    char *dir = NULL;
    unsigned id = (b->cur ? b->cur->id : 0) + 1; /* numbers count the sets that ran */
    if (asprintf(&dir, "%s/generations/%u-%ld-%u", b->c.run_dir, id, (long)getpid(), ++b->gen_seq) <
        0)
        return ss_err_set(err, SS_ENOMEM, "out of memory");
    rc = ssi_gen_start(&b->pc, id, b->c.set, dir, b->c.workers, &b->next, err);
    free(dir);
    if (rc)
        ss_err_prefix(err, "reload: %s", b->c.set);
    return rc;
}

/* Operator decisions outlive a reload: a filter disabled by hand stays disabled. */
static void ssi_carry_disables(const ssi_gen *from, ssi_gen *to)
{
    for (size_t i = 0; from && i < from->nf; i++) {
        int k = from->f[i].disabled == 2 ? ssi_gen_find(to, from->f[i].label) : -1;
        if (k >= 0) {
            to->f[k].disabled = 2;
            snprintf(to->f[k].disabled_reason, sizeof to->f[k].disabled_reason, "%s",
                     from->f[i].disabled_reason);
        }
    }
}

/* The answer's text: with a secret, an accepted request's answer carries the MAC of its nonce
 * (ctl_auth.h); the nonce travels with the header (req_* or reload_*, broker_impl.h). Refusals
 * go unauthenticated: the broker cannot tell whether their sender holds the secret. */
static char *ssi_reply_text(ssi_broker *b, void **hdr, json_t *o)
{
    char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(o);
    int reload = hdr == &b->reload_hdr;
    if (!text || !b->c.secret || !(reload ? b->reload_authed : b->req_authed))
        return text;
    char *sealed = ssi_ctl_reply_seal(b->c.secret, reload ? &b->reload_nonce : &b->req_nonce, text);
    free(text);
    return sealed;
}

/* Answer the request whose routing header is *@p hdr (taken: freed, set to NULL). */
static void ssi_reply(ssi_broker *b, void **hdr, json_t *o)
{
    char *text = ssi_reply_text(b, hdr, o);
    struct nn_iovec iov = {text, text ? strlen(text) : 0};
    struct nn_msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = hdr, .msg_controllen = NN_MSG};
    if (text && nn_sendmsg(b->ctl, &mh, NN_DONTWAIT) >= 0)
        *hdr = NULL; /* nanomsg took the header */
    else
        ss_log_line(b->lg, SS_LOG_WARN, "control: cannot answer: %s", nn_strerror(nn_errno()));
    if (*hdr)
        nn_freemsg(*hdr);
    *hdr = NULL;
    free(text);
}

static json_t *ssi_fail_json(const char *msg)
{
    return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

/* Each filter's declared outputs, as its workers' hello told them. */
static int ssi_record_decls(ss_store_txn *txn, json_t *f, const char *what, char kind)
{
    const char *name = json_string_value(json_object_get(f, "name"));
    const char *version = json_string_value(json_object_get(f, "version"));
    size_t i;
    json_t *p;
    int rc = 0;
    json_array_foreach(json_object_get(f, what), i, p)
    {
        const char *prop = json_string_value(p);
        if (prop && name && (rc = ss_filter_writer_record(txn, kind, prop, name, version)))
            break;
    }
    return rc;
}

static int ssi_record_outputs(ss_store_txn *txn, void *ctx, ss_err *err)
{
    (void)err; /* a store code: ss_store_write() names it */
    const ssi_gen *g = ctx;
    size_t i;
    json_t *f;
    int rc = 0;
    json_array_foreach(g->declared, i, f)
    {
        if ((rc = ssi_record_decls(txn, f, "locus_properties", 'l')) ||
            (rc = ssi_record_decls(txn, f, "alert_properties", 'a')))
            break;
    }
    return rc;
}

/* Record which filter writes each property before the generation's first outputs are stored
 * (the broker never loads the set: its workers' hello declares it). A failure costs only the
 * names on the locus page, so it is logged and the generation runs. */
static void ssi_gen_record(ssi_broker *b, const ssi_gen *g)
{
    ss_err err = {0};
    if (ss_store_write(b->store, ssi_record_outputs, (void *)g, "recording filter outputs", &err))
        ss_log_line(b->lg, SS_LOG_WARN, "generation=%u: %s", g->id, err.msg);
}

/* The new generation loaded, or failed to: swap when the running one has drained. */
static void ssi_reload_progress(ssi_broker *b)
{
    int ready = ssi_gen_ready(b->next);
    if (ready < 0) {
        char why[SS_ERR_MSG_MAX + 64];
        snprintf(why, sizeof why, "reload failed, generation %u kept: %s", b->cur ? b->cur->id : 0,
                 b->next->error);
        ss_log_line(b->lg, SS_LOG_ERROR, "%s", why);
        if (b->reload_hdr)
            ssi_reply(b, &b->reload_hdr, ssi_fail_json(why));
        if (b->initial)
            ss_err_set(&b->fatal, SS_EINVAL, "the filter set did not load: %s", b->next->error);
        ssi_gen_free(b->next, 0);
        b->next = NULL;
        b->stopping |= b->initial;
        return;
    }
    if (ready == 0 || (b->cur && !ssi_gen_idle(b->cur)))
        return;
    ssi_gen *old = b->cur;
    ssi_carry_disables(old, b->next);
    b->cur = b->next;
    b->next = NULL;
    b->initial = 0;
    ssi_gen_record(b, b->cur);
    double took = ssi_mono() - b->cur->started;
    ss_log_line(b->lg, SS_LOG_INFO, "generation=%u running filters=%zu workers=%zu loaded_in=%.3fs",
                b->cur->id, b->cur->nf, b->cur->nw, took);
    if (b->reload_hdr)
        ssi_reply(b, &b->reload_hdr,
                  json_pack("{s:b, s:i, s:i, s:f}", "ok", 1, "generation", (int)b->cur->id,
                            "filters", (int)b->cur->nf, "seconds", took));
    ssi_gen_free(old, 1.0);
}

/* ---- outputs ---- */

/* [output] publish (nanomsg, by address) and each [output NAME] section: every event goes to all.
 */
static int ssi_open_outputs(ssi_broker *b, ss_err *err)
{
    int rc = 0;
    void *impl;
    if (b->c.publish) {
        const ss_output_ops *ops = ss_output_for(b->c.publish);
        if (!ops)
            return ss_err_set(err, SS_EINVAL, "publish %s: no output serves it", b->c.publish);
        if (!(rc = ops->open(b->c.publish, &impl, err)))
            rc = ss_publish_set_add(&b->outs, ops, impl, err);
    }
    for (size_t i = 0; !rc && i < b->c.noutputs; i++) {
        const ss_broker_output *o = &b->c.outputs[i];
        const ss_output_ops *ops = ss_output_named(o->name);
        ss_output_conf oc = {b->c.file, o->name, o->kv, o->n};
        if (!(rc = ops->open_conf(&oc, &impl, err)))
            rc = ss_publish_set_add(&b->outs, ops, impl, err);
    }
    return rc;
}

static void ssi_output_stats(ssi_broker *b, size_t i, ss_output_stats *st)
{
    *st = (ss_output_stats){0};
    if (b->outs.ops[i]->stats)
        b->outs.ops[i]->stats(b->outs.impl[i], st);
}

/* Delivery reports arrive on poll: each new failure is logged once, with the latest reason. */
static void ssi_output_round(ssi_broker *b)
{
    ss_publish_set_poll(&b->outs);
    for (size_t i = 0; i < b->outs.n; i++) {
        ss_output_stats st;
        ssi_output_stats(b, i, &st);
        if (st.failed > b->out_failed_seen[i])
            ss_log_line(b->lg, SS_LOG_WARN, "output %s: %llu deliveries failed (total %llu): %s",
                        b->outs.ops[i]->name,
                        (unsigned long long)(st.failed - b->out_failed_seen[i]),
                        (unsigned long long)st.failed, st.last_error);
        b->out_failed_seen[i] = st.failed;
    }
}

static json_t *ssi_outputs_json(ssi_broker *b)
{
    json_t *o = json_object();
    for (size_t i = 0; i < b->outs.n; i++) {
        ss_output_stats st;
        ssi_output_stats(b, i, &st);
        json_object_set_new(o, b->outs.ops[i]->name,
                            json_pack("{s:I, s:I, s:I, s:I, s:s}", "delivered",
                                      (json_int_t)st.delivered, "dropped", (json_int_t)st.dropped,
                                      "failed", (json_int_t)st.failed, "queued",
                                      (json_int_t)st.queued, "last_error", st.last_error));
    }
    return o;
}

/* ---- the control socket ---- */

static json_t *ssi_notify_json(ss_publish_notifier *n)
{
    ss_publish_notify_stats ns = {0};
    if (n)
        ss_publish_notifier_stats(n, &ns);
    return json_pack("{s:I, s:I, s:I, s:I, s:I}", "published", (json_int_t)ns.published,
                     "delivered", (json_int_t)ns.delivered, "retried", (json_int_t)ns.retried,
                     "failed", (json_int_t)ns.failed, "pending", (json_int_t)ns.pending);
}

static json_t *ssi_status_json(ssi_broker *b)
{
    ss_ingest_totals t = {0};
    if (b->in)
        ss_ingest_totals_get(b->in, &t);
    ss_store_counters c = {0};
    ss_store_txn *txn;
    if (ss_store_txn_begin(b->store, SS_STORE_READ, &txn) == 0) {
        const ss_store_counters *got = ss_store_txn_counters(txn);
        if (got)
            c = *got;
        ss_store_txn_abort(txn);
    }
    json_t *st = json_pack(
        "{s:i, s:s, s:f, s:i, s:I, s:I, s:I, s:I, s:I, s:s, s:s?, s:I, s:{s:I, s:I}, s:{s:I, s:I}}",
        "pid", (int)getpid(), "config", b->c.file, "uptime_s", ssi_mono() - b->t_start,
        "generation", b->cur ? (int)b->cur->id : 0, "alerts_in",
        (json_int_t)(b->alerts_in + t.ingested), "rejected", (json_int_t)(b->rejected + t.rejected),
        "stored_alerts", (json_int_t)c.alerts, "loci", (json_int_t)c.loci, "queue",
        (json_int_t)b->queue_len, "intake", b->store_failed || b->paused ? "paused" : "running",
        "paused_because",
        b->store_failed ? "the store cannot be written"
        : b->paused     ? "filters are behind (queue_high)"
                        : NULL,
        "published", (json_int_t)b->published, "spool", "done", (json_int_t)b->spool_done, "failed",
        (json_int_t)b->spool_failed, "pull", "messages", (json_int_t)b->pull_msgs, "oversized",
        (json_int_t)b->pull_oversized);
    json_t *workers = json_array();
    for (size_t i = 0; b->cur && i < b->cur->nw; i++)
        json_array_append_new(workers, json_pack("{s:i, s:i, s:b}", "pid", (int)b->cur->w[i].pid,
                                                 "restarts", (int)b->cur->w[i].restarts, "busy",
                                                 b->cur->w[i].state == SSI_W_BUSY));
    json_object_set_new(st, "workers", workers);
    /* inputs the broker died on max_attempts times, set aside in failed/ since it started */
    json_object_set_new(st, "set_aside", json_integer((json_int_t)b->quarantined));
    /* loci whose filters' outputs were stored: beside alerts_in, the output side's progress */
    json_object_set_new(st, "filtered", json_integer((json_int_t)b->filtered));
    json_object_set_new(st, "notify", ssi_notify_json(b->notify));
    json_object_set_new(st, "outputs", ssi_outputs_json(b));
    if (b->c.kafka_on || b->c.gcn_on) {
        json_t *in = json_object();
        if (b->c.kafka_on)
            json_object_set_new(in, "kafka", ssi_kafka_json(b));
        if (b->c.gcn_on)
            json_object_set_new(in, "gcn", ssi_gcn_json(b));
        json_object_set_new(st, "inputs", in);
    }
    json_object_set_new(st, "filters", b->cur ? ssi_gen_json(b->cur) : json_array());
    if (b->next)
        json_object_set_new(st, "loading_generation", json_integer(b->next->id));
    if (b->c.serve)
        json_object_set_new(
            st, "serve",
            json_pack("{s:i, s:i}", "pid", (int)b->serve.pid, "restarts", (int)b->serve.restarts));
    return json_pack("{s:b, s:o}", "ok", 1, "status", st);
}

static json_t *ssi_toggle(ssi_broker *b, const char *label, int disable)
{
    int k = b->cur && label ? ssi_gen_find(b->cur, label) : -1;
    if (k < 0) {
        char msg[256];
        snprintf(msg, sizeof msg, "no filter labelled '%s' in the running set", label ? label : "");
        return ssi_fail_json(msg);
    }
    ssi_gfilter *f = &b->cur->f[k];
    f->disabled = disable ? 2 : 0;
    f->st.consecutive_errors = 0;
    if (disable)
        snprintf(f->disabled_reason, sizeof f->disabled_reason, "disabled by the operator");
    else
        f->crashes = f->timeouts = 0; /* a fresh start: max_crashes counts again */
    ss_log_line(b->lg, SS_LOG_INFO, "filter=%s %s by the operator generation=%u", label,
                disable ? "disabled" : "enabled", b->cur->id);
    return json_pack("{s:b, s:s, s:b}", "ok", 1, "filter", label, "disabled", disable);
}

/* With a secret, a request must carry a MAC of itself, a fresh timestamp and an unseen nonce
 * (ctl_auth.h); the secret itself never crosses the wire. The log line names the reason only. */
static int ssi_request_ok(ssi_broker *b, json_t *req, json_t **refusal)
{
    char why[256], msg[300];
    if (!b->c.secret)
        return 1;
    if (ssi_ctl_check(b->ctl_guard, b->c.secret, req, (int64_t)time(NULL), &b->req_nonce, why,
                      sizeof why) == SSI_CTL_OK) {
        b->req_authed = 1; /* its answer is sealed with its nonce */
        return 1;
    }
    ss_log_line(b->lg, SS_LOG_WARN, "control: request refused: %s", why);
    snprintf(msg, sizeof msg, "refused: %s", why);
    *refusal = ssi_fail_json(msg);
    return 0;
}

static json_t *ssi_command(ssi_broker *b, json_t *req)
{
    const char *cmd = json_string_value(json_object_get(req, "cmd"));
    const char *label = json_string_value(json_object_get(req, "filter"));
    json_t *refusal = NULL;
    if (!ssi_request_ok(b, req, &refusal))
        return refusal;
    if (!cmd)
        return ssi_fail_json("no \"cmd\" in the request");
    if (!strcmp(cmd, "status"))
        return ssi_status_json(b);
    if (!strcmp(cmd, "stop")) {
        ss_log_line(b->lg, SS_LOG_INFO, "stop requested through the control socket");
        b->stopping = 1;
        return json_pack("{s:b, s:s}", "ok", 1, "stopping", "after committing what is in flight");
    }
    if (!strcmp(cmd, "enable") || !strcmp(cmd, "disable"))
        return ssi_toggle(b, label, cmd[0] == 'd');
    if (!strcmp(cmd, "reload")) {
        ss_err err = {0};
        if (ssi_reload_start(b, &err))
            return ssi_fail_json(err.msg);
        b->reload_hdr = b->req_hdr; /* answered when the generation runs or fails */
        b->req_hdr = NULL;
        b->reload_nonce = b->req_nonce;
        b->reload_authed = b->req_authed;
        return NULL;
    }
    char msg[128];
    snprintf(msg, sizeof msg, "unknown command '%.64s' (status, reload, enable, disable, stop)",
             cmd);
    return ssi_fail_json(msg);
}

/* Answer what the control socket holds (a few requests a round: status polls cannot starve
 * the rest of the loop). A reload's request stays unanswered until its generation runs. */
#define SSI_CTL_PER_ROUND 16

static void ssi_control_round(ssi_broker *b)
{
    for (int i = 0; i < SSI_CTL_PER_ROUND; i++) {
        char *msg = NULL;
        struct nn_iovec iov = {&msg, NN_MSG};
        struct nn_msghdr mh = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &b->req_hdr, .msg_controllen = NN_MSG};
        int n = nn_recvmsg(b->ctl, &mh, NN_DONTWAIT);
        if (n < 0)
            return;
        json_error_t je;
        json_t *req = json_loadb(msg, (size_t)n, 0, &je);
        nn_freemsg(msg);
        b->req_authed = 0;
        json_t *rep =
            json_is_object(req) ? ssi_command(b, req) : ssi_fail_json("not a JSON object");
        json_decref(req);
        if (rep)
            ssi_reply(b, &b->req_hdr, rep);
    }
}

/* ---- setup and the loop ---- */

static int ssi_nn_fd(int sock, int opt)
{
    int fd;
    size_t sz = sizeof fd;
    return nn_getsockopt(sock, NN_SOL_SOCKET, opt, &fd, &sz) == 0 ? fd : -1;
}

/* An ipc socket file answers when a process listens on it: then it is another broker's, not a
 * stale one, and unlinking it would leave that broker unreachable. */
static int ssi_ipc_live(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path)
        return 0;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int live = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (fd >= 0)
        close(fd);
    return live;
}

/* nanomsg drops a message above its receive limit (1 MiB by default) without a word and closes
 * the sender's connection. The pull socket's limit is the hard cap SS_BROKER_MESSAGE_MAX; the
 * configured max_message_size is checked by `skysieve send` before a file leaves and by the intake
 * (broker_intake.c) on arrival, which logs and counts what it refuses: never silent. */
static int ssi_bind(int proto, const char *addr, size_t max_msg, int *sock, int *fd, ss_err *err)
{
    int max = (int)max_msg;
    if (!strncmp(addr, "ipc://", 6) && ssi_ipc_live(addr + 6))
        return ss_err_set(err, EADDRINUSE,
                          "%s: another process listens on it (another broker?); it was left as "
                          "it is",
                          addr);
    /* REP is raw (broker_impl.h: req_hdr) so that a pending reload does not block status. */
    *sock = nn_socket(proto == NN_REP ? AF_SP_RAW : AF_SP, proto);
    if (*sock >= 0 && max_msg)
        nn_setsockopt(*sock, NN_SOL_SOCKET, NN_RCVMAXSIZE, &max, sizeof max);
    if (!strncmp(addr, "ipc://", 6))
        unlink(addr + 6);     /* a stale socket file of a broker that died */
    mode_t old = umask(0177); /* an ipc socket only its owner may use: 0600 */
    int rc = *sock < 0 ? -1 : nn_bind(*sock, addr);
    umask(old);
    if (rc < 0) {
        int e = nn_errno();
        if (*sock >= 0)
            nn_close(*sock);
        *sock = -1;
        return ss_err_set(err, e, "%s: %s", addr, nn_strerror(e));
    }
    *fd = ssi_nn_fd(*sock, NN_RCVFD);
    return 0;
}

static int ssi_signals(ssi_broker *b, ss_err *err)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    b->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    return b->sigfd < 0 ? ss_err_set(err, errno, "signalfd: %s", strerror(errno)) : 0;
}

static void ssi_signal_round(ssi_broker *b)
{
    struct signalfd_siginfo si;
    while (read(b->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGHUP) {
            ss_err err = {0};
            ss_log_line(b->lg, SS_LOG_INFO, "SIGHUP: reloading the filter set");
            if (ssi_reload_start(b, &err))
                ss_log_line(b->lg, SS_LOG_ERROR, "reload failed, generation %u kept: %s",
                            b->cur ? b->cur->id : 0, err.msg);
        } else {
            ss_log_line(b->lg, SS_LOG_INFO, "%s: stopping after what is in flight",
                        strsignal((int)si.ssi_signo));
            b->stopping = 1;
        }
    }
}

/* Make @p base and each of @p subs under it. */
static int ssi_make_dirs(const char *what, const char *base, const char *const *subs, size_t n,
                         ss_err *err)
{
    for (size_t i = 0; i < n; i++) {
        char *d = NULL;
        int e = asprintf(&d, "%s%s", base, subs[i]) < 0 ? ENOMEM : ssi_mkdirs(d);
        free(d);
        if (e)
            return ss_err_set(err, e, "%s %s%s: %s", what, base, subs[i], strerror(e));
    }
    return 0;
}

/* One broker per run directory, taken before anything in it is touched (its sockets, journal,
 * generations): a second one would unlink the first's control socket. The store's own writer
 * lock (ss_store_open()) keeps two brokers with two run directories off one store. */
static int ssi_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    remove(path);
    return 0;
}

/* Generation snapshots an earlier broker of this run directory left when it was killed (we hold
 * the run lock: it is gone, its workers with it). A snapshot's name holds the broker's pid, and
 * pids come back: a leftover of the same name would make this broker's first generation fail
 * ("File exists") and the broker exit at start. */
static void ssi_clear_generations(ssi_broker *b)
{
    char *dir = NULL;
    if (asprintf(&dir, "%s/generations", b->c.run_dir) < 0)
        return;
    nftw(dir, ssi_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        ss_log_line(b->lg, SS_LOG_ERROR, "run_dir %s: %s", dir, strerror(errno));
    free(dir);
}

static int ssi_run_lock(ssi_broker *b, ss_err *err)
{
    char *path = NULL;
    ss_lock_holder h;
    if (asprintf(&path, "%s/broker.lock", b->c.run_dir) < 0)
        return ss_err_set(err, SS_ENOMEM, "out of memory");
    int rc = ss_lockfile_take(path, &b->run_lock, &h, err);
    free(path);
    if (rc == SS_ELOCKED)
        return ss_err_set(err, rc,
                          "run directory %s is used by skysieve pid %ld (%s); one broker per run "
                          "directory: stop it first (skysieve ctl --config %s stop) or give this "
                          "one another run_dir and store",
                          b->c.run_dir, (long)h.pid, h.cmd[0] ? h.cmd : "unknown command",
                          b->c.file);
    return rc;
}

static int ssi_open_all(ssi_broker *b, ss_err *err)
{
    static const char *const run_subs[] = {"", "/failed", "/generations"};
    static const char *const spool_subs[] = {"", "/done", "/failed"};
    int rc = ssi_make_dirs("run_dir", b->c.run_dir, run_subs, 3, err);
    if (!rc)
        rc = ssi_run_lock(b, err);
    if (!rc)
        ssi_clear_generations(b);
    if (!rc && b->c.spool_dir)
        rc = ssi_make_dirs("spool", b->c.spool_dir, spool_subs, 3, err);
    if (rc)
        return rc;
    ss_store_options so = {.create = 1,
                           .radius_arcsec = b->c.radius_arcsec,
                           .map_size = b->c.map_size,
                           .instance = b->c.instance,
                           .stamp_level = b->c.stamp_level};
    rc = ss_store_open(b->c.store, &so, &b->store, err);
    if (!rc)
        rc = ssi_bind(NN_REP, b->c.control, 0, &b->ctl, &b->ctl_fd, err);
    if (!rc && b->c.secret && !(b->ctl_guard = ssi_ctl_guard_new(SSI_CTL_GUARD_CAP)))
        rc = ss_err_set(err, SS_ENOMEM, "out of memory");
    if (!rc && b->c.pull_address)
        rc =
            ssi_bind(NN_PULL, b->c.pull_address, SS_BROKER_MESSAGE_MAX, &b->pull, &b->pull_fd, err);
    if (!rc)
        rc = ssi_open_outputs(b, err);
    if (!rc)
        rc = ss_publish_notifier_new(b->c.run_dir, &b->c.notify,
                                     b->outs.n ? &ss_publish_set_ops : NULL, &b->outs, b->lg,
                                     &b->notify, err);
    if (!rc)
        rc = ssi_signals(b, err);
    return rc ? rc : ssi_intake_start(b, err);
}

static void ssi_add_fd(struct pollfd *p, size_t *n, int fd)
{
    p[*n] = (struct pollfd){.fd = fd, .events = POLLIN};
    ++*n;
}

static void ssi_gen_fds(const ssi_gen *g, struct pollfd *p, size_t *n, double *deadline)
{
    for (size_t i = 0; g && i < g->nw; i++) {
        const ssi_wproc *w = &g->w[i];
        if (w->state == SSI_W_DOWN)
            continue;
        ssi_add_fd(p, n, w->fd);
        if ((w->state == SSI_W_STARTING || w->state == SSI_W_BUSY) && w->deadline < *deadline)
            *deadline = w->deadline;
    }
}

/* Worker events: answers, hellos, deaths, overdue batches; then store completed batches. */
static void ssi_worker_round(ssi_broker *b, ssi_gen *g, const struct pollfd *p, size_t np)
{
    double now = ssi_mono();
    for (size_t i = 0; g && i < g->nw; i++) {
        ssi_wproc *w = &g->w[i];
        int readable = 0;
        for (size_t k = 0; k < np && w->state != SSI_W_DOWN; k++)
            readable |= p[k].fd == w->fd && (p[k].revents & (POLLIN | POLLHUP | POLLERR));
        int waiting =
            w->state == SSI_W_STARTING || (w->state == SSI_W_BUSY && w->nanswered < w->njobs);
        if (readable || (waiting && now >= w->deadline))
            ssi_wproc_event(&b->pc, g, w, readable, b->lg);
        if (w->njobs && w->nanswered == w->njobs && now >= b->outputs_retry_at)
            ssi_batch_done(b, g, w);
    }
    if (g)
        ssi_gen_tend(&b->pc, g, b->lg);
}

static void ssi_backpressure(ssi_broker *b)
{
    if (!b->paused && b->queue_len >= b->c.queue_high) {
        b->paused = 1;
        ss_log_line(b->lg, SS_LOG_WARN,
                    "intake paused: queue=%llu loci wait for filters (queue_high=%llu); senders "
                    "are held back, nothing is dropped",
                    (unsigned long long)b->queue_len, (unsigned long long)b->c.queue_high);
    } else if (b->paused && b->queue_len <= b->c.queue_low) {
        b->paused = 0;
        ss_log_line(b->lg, SS_LOG_INFO, "intake resumed: queue=%llu",
                    (unsigned long long)b->queue_len);
    }
}

static void ssi_rate_line(ssi_broker *b, double now)
{
    ss_ingest_totals t = {0};
    if (b->in)
        ss_ingest_totals_get(b->in, &t);
    ss_publish_notify_stats ns = {0};
    if (b->notify)
        ss_publish_notifier_stats(b->notify, &ns);
    uint64_t total = b->alerts_in + t.ingested;
    double dt = now - b->rate_t;
    ss_log_line(b->lg, SS_LOG_INFO,
                "rate alerts_in=%llu alerts_per_s=%.1f queue=%llu rejected=%llu published=%llu "
                "notify_delivered=%llu notify_retried=%llu notify_failed=%llu "
                "notify_pending=%llu generation=%u intake=%s filtered=%llu filtered_per_s=%.1f",
                (unsigned long long)total, dt > 0 ? (double)(total - b->rate_alerts) / dt : 0.0,
                (unsigned long long)b->queue_len, (unsigned long long)(b->rejected + t.rejected),
                (unsigned long long)b->published, (unsigned long long)ns.delivered,
                (unsigned long long)ns.retried, (unsigned long long)ns.failed,
                (unsigned long long)ns.pending, b->cur ? b->cur->id : 0,
                b->store_failed ? "paused"
                : b->paused     ? "paused"
                                : "running",
                (unsigned long long)b->filtered,
                dt > 0 ? (double)(b->filtered - b->rate_filtered) / dt : 0.0);
    b->rate_t = now;
    b->rate_alerts = total;
    b->rate_filtered = b->filtered;
}

static size_t ssi_poll_set(ssi_broker *b, struct pollfd *p, double *deadline)
{
    size_t n = 0;
    ssi_add_fd(p, &n, b->sigfd);
    ssi_add_fd(p, &n, b->ctl_fd); /* a pending reload holds only its own request */
    if (b->pull >= 0 && !b->paused && !b->stopping && !b->store_failed)
        ssi_add_fd(p, &n, b->pull_fd);
    if (b->kafka && !b->paused && !b->stopping && !b->store_failed)
        ssi_add_fd(p, &n, ss_ingest_kafka_in_fd(b->kafka));
    ssi_gen_fds(b->cur, p, &n, deadline);
    ssi_gen_fds(b->next, p, &n, deadline);
    return n;
}

/* Stopping: nothing new is taken or handed out; wait for the batches in flight to be stored. */
static int ssi_drained(ssi_broker *b)
{
    return !b->cur || ssi_gen_idle(b->cur);
}

static void ssi_loop(ssi_broker *b)
{
    struct pollfd p[SSI_MAX_POLL];
    double stop_by = 0;
    while (!b->stopping || !ssi_drained(b)) {
        double now = ssi_mono();
        if (b->stopping && !stop_by)
            stop_by = now + b->c.timeout + SSI_STOP_GRACE;
        if (stop_by && now > stop_by) {
            ss_log_line(b->lg, SS_LOG_WARN,
                        "stopping with dispatches in flight: they run again "
                        "at the next start");
            break;
        }
        double deadline = now + 1.0;
        if (b->c.spool_dir && b->next_scan < deadline)
            deadline = b->next_scan;
        if (b->c.stats_interval > 0 && b->next_rate < deadline)
            deadline = b->next_rate;
        if (b->c.kafka_on && !b->kafka && b->kafka_retry_at < deadline)
            deadline = b->kafka_retry_at;
        if (b->flush_at && b->flush_at < deadline)
            deadline = b->flush_at;
        size_t np = ssi_poll_set(b, p, &deadline);
        int ms = deadline > now ? (int)((deadline - now) * 1000) + 1 : 0;
        if (b->kafka && b->kafka_more && !b->paused && !b->stopping)
            ms = 0; /* messages wait that the wake-up will not signal */
        if (b->cur && b->queue_len && !b->stopping)
            ms = ms > 20 ? 20 : ms; /* work may be waiting for an idle worker */
        poll(p, np, ms);
        now = ssi_mono();
        ssi_signal_round(b);
        ssi_control_round(b);
        int scan = b->c.spool_dir && now >= b->next_scan;
        if (scan)
            b->next_scan = now + b->c.spool_poll;
        if (b->in || b->store_failed)
            ssi_intake_round(b, scan);
        ssi_watch_round(b, now);
        ssi_beside_round(b, now);
        ssi_output_round(b);
        ssi_worker_round(b, b->cur, p, np);
        ssi_worker_round(b, b->next, p, np);
        if (b->next)
            ssi_reload_progress(b);
        ssi_dispatch_round(b);
        ssi_backpressure(b);
        if (b->c.stats_interval > 0 && now >= b->next_rate) {
            ssi_rate_line(b, now);
            b->next_rate = now + b->c.stats_interval;
        }
    }
}

static void ssi_close_all(ssi_broker *b)
{
    if (b->reload_hdr)
        ssi_reply(b, &b->reload_hdr, ssi_fail_json("the broker is stopping"));
    ssi_beside_stop(b);
    ssi_gen_free(b->next, 0);
    ssi_gen_free(b->cur, SSI_STOP_GRACE);
    ss_err err = {0};
    if (b->in && ss_ingest_finish(b->in, NULL, &err))
        ss_log_line(b->lg, SS_LOG_ERROR, "final commit: %s", err.msg);
    else if (b->kafka) /* every message taken is stored: its offset goes with the close */
        ss_ingest_kafka_in_committed(b->kafka);
    ssi_intake_free(b);
    ssi_intake_release(b);
    for (size_t i = 0; i < b->nmarked; i++)
        free(b->spool_marked[i]);
    free(b->spool_marked);
    free(b->spool_ready);
    ss_publish_notifier_free(b->notify); /* before the outputs it publishes on */
    ss_publish_set_close(&b->outs);
    if (b->pull >= 0)
        nn_close(b->pull);
    if (b->ctl >= 0)
        nn_close(b->ctl);
    ssi_ctl_guard_free(b->ctl_guard);
    if (b->sigfd >= 0)
        close(b->sigfd);
    ss_store_close(b->store);
    ss_lockfile_release(b->run_lock); /* last: the next broker may take the directory */
    ss_arena_free(b->arena);
    free(b->cursor);
}

int ss_broker_run(const ss_broker_conf *conf, const char *worker_exe, const ss_log *log,
                  ss_err *err)
{
    ssi_broker b = {.lg = log, .pull = -1, .ctl = -1, .sigfd = -1};
    b.c = *conf; /* a shallow copy: strings the broker replaces are its own copies */
    /* First, while this is the only thread: libcurl's global setup (TLS included) is not
     * thread-safe, and nanomsg starts threads with its first socket. */
    if (ss_publish_notify_global_init(err))
        return err->code;
    if (!(b.c.set = conf->set ? strdup(conf->set) : NULL) && conf->set) {
        ss_publish_notify_global_cleanup();
        return ss_err_set(err, SS_ENOMEM, "out of memory");
    }
    b.pc = (ssi_pool_conf){worker_exe,
                           conf->store,
                           conf->timeout,
                           conf->max_crashes,
                           conf->dispatch_batch,
                           {conf->worker_memory, conf->worker_cpu_seconds, conf->worker_open_files,
                            conf->worker_processes},
                           conf->worker_allow,
                           conf->worker_uid,
                           conf->worker_gid};
    b.arena = ss_arena_new();
    b.cursor = calloc(conf->workers, sizeof *b.cursor);
    b.t_start = b.rate_t = ssi_mono();
    b.next_rate = b.t_start + conf->stats_interval;
    int rc = !b.arena || !b.cursor ? ss_err_set(err, SS_ENOMEM, "out of memory") : 0;
    if (!rc)
        rc = ssi_open_all(&b, err);
    b.serve.backoff = 1.0;
    if (!rc && b.c.serve)
        ssi_beside_start(&b); /* the store exists now: the server opens it read-only */
    if (!rc && b.c.set && conf->worker_memory && ss_broker_memory_limit_skipped())
        ss_log_line(log, SS_LOG_WARN,
                    "worker_memory is not applied: this build runs under "
                    "AddressSanitizer, whose shadow memory a cap would refuse");
    if (!rc && b.c.set && !ssi_seccomp_supported())
        ss_log_line(log, SS_LOG_WARN,
                    "seccomp not available on this architecture: workers run without it");
    if (!rc && b.c.set) {
        b.initial = 1;
        rc = ssi_reload_start(&b, err);
    }
    if (!rc) {
        ss_log_line(log, SS_LOG_INFO,
                    "broker started pid=%d store=%s control=%s spool=%s pull=%s kafka=%s "
                    "publish=%s queue=%llu",
                    (int)getpid(), b.c.store, b.c.control, b.c.spool_dir ? b.c.spool_dir : "-",
                    b.c.pull_address ? b.c.pull_address : "-",
                    b.c.kafka_on ? b.c.kafka.topics : "-", b.c.publish ? b.c.publish : "-",
                    (unsigned long long)b.queue_len);
        ssi_loop(&b);
        rc = b.fatal.code && b.initial ? (*err = b.fatal, b.fatal.code) : 0;
    }
    ssi_close_all(&b);
    ss_publish_notify_global_cleanup();
    free(b.c.set);
    if (!rc)
        ss_log_line(log, SS_LOG_INFO, "broker stopped");
    return rc;
}
