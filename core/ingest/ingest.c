#include "ingest.h"

#include "assoc.h"
#include "filters_impl.h"
#include "output.h"
#include "query.h"
#include "queue.h"
#include "render.h"
#include "seen.h"
#include "store_impl.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define SSI_DEFAULT_BATCH 5000
/* A batch also ends at this many bytes of decoded alerts, so large alerts (ZTF packets with
 * history and cutouts weigh ~100 kB) keep memory bounded whatever the batch count. */
#define SSI_BATCH_BYTES ((size_t)64 << 20)
#define SSI_RAW_MAX     4096
#define SSI_HEAD_MAX    4096

/* A rejection waiting for its batch to commit; owns its strings. */
typedef struct ssi_pending_reject {
    ss_reason reason;
    char *origin;
    uint64_t line;
    char detail[256];
    char *raw;
    size_t raw_len;
} ssi_pending_reject;

/* A tag event waiting for its batch to commit before it is published. */
typedef struct ssi_event {
    char *topic;
    char *key; /* the locus id */
    char *json;
} ssi_event;

struct ss_ingest {
    ss_store *store;
    ss_ingest_options o;
    ss_packet **pkts; /* reused across batches; the first npk hold the pending batch */
    uint32_t npk, cappk;
    size_t pending_bytes; /* decoded bytes held by the pending packets */
    ssi_pending_reject *rej;
    uint32_t nrej, caprej;
    ssi_writer w;
    ss_ingest_totals t;
    struct timespec t0;
    time_t started;
    char *first_input;
    ssi_event *events;
    size_t nevents, capevents;
    const ss_output_ops *out;
    void *out_impl;
    ss_decoder_shared *shared;  /* decoders' state across inputs (parsed schemas) */
    MDB_txn *known_txn;         /* a read snapshot of the committed store while decoding, or NULL */
    ssi_seen pending;           /* the alerts of the pending packets */
    ssi_filter_result *results; /* with on_dispatch: one per filter, reused by every dispatch */
};

static double ssi_elapsed(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) * 1e-9;
}

ss_ingest *ss_ingest_new(ss_store *store, const ss_ingest_options *opts)
{
    ss_ingest *in = calloc(1, sizeof *in);
    if (!in)
        return NULL;
    in->store = store;
    if (opts)
        in->o = *opts;
    if (!in->o.batch_size)
        in->o.batch_size = SSI_DEFAULT_BATCH;
    in->cappk = in->o.batch_size;
    in->pkts = calloc(in->cappk, sizeof *in->pkts);
    in->w.store = store;
    in->w.scratch = ss_packet_new();
    in->shared = ss_decoder_shared_new(&in->o.decoder);
    size_t nf = in->o.filters ? ss_filter_set_count(in->o.filters) : 0;
    if (in->o.on_dispatch && in->o.filters)
        in->results = calloc(nf ? nf : 1, sizeof *in->results);
    if (!in->pkts || !in->w.scratch || !in->shared ||
        (in->o.on_dispatch && in->o.filters && !in->results)) {
        ss_ingest_free(in);
        return NULL;
    }
    if (mdb_txn_begin(store->env, NULL, MDB_RDONLY, &in->known_txn))
        in->known_txn = NULL; /* without it decoders keep every field */
    clock_gettime(CLOCK_MONOTONIC, &in->t0);
    in->started = time(NULL);
    return in;
}

static void ssi_clear_rejects(ss_ingest *in)
{
    for (uint32_t i = 0; i < in->nrej; i++) {
        free(in->rej[i].origin);
        free(in->rej[i].raw);
    }
    in->nrej = 0;
}

static void ssi_clear_events(ss_ingest *in)
{
    for (size_t i = 0; i < in->nevents; i++) {
        free(in->events[i].topic);
        free(in->events[i].key);
        free(in->events[i].json);
    }
    in->nevents = 0;
}

void ss_ingest_free(ss_ingest *in)
{
    if (!in)
        return;
    ssi_clear_events(in);
    free(in->events);
    if (in->known_txn)
        mdb_txn_abort(in->known_txn);
    ssi_seen_free(&in->pending);
    free(in->results);
    ss_decoder_shared_free(in->shared);
    if (in->out)
        in->out->close(in->out_impl);
    for (uint32_t i = 0; i < in->cappk && in->pkts; i++)
        ss_packet_free(in->pkts[i]);
    free(in->pkts);
    ssi_clear_rejects(in);
    free(in->rej);
    ssi_wbuf_free(&in->w.buf);
    ss_packet_free(in->w.scratch);
    ssi_catalogs_free(&in->w.catalogs);
    free(in->first_input);
    free(in);
}

/* Keep a rejection for the next commit. @return 0 or SS_ENOMEM. */
static int ssi_defer_reject(ss_ingest *in, const ss_reject *rej)
{
    if (in->nrej == in->caprej) {
        uint32_t cap = in->caprej ? in->caprej * 2 : 64;
        ssi_pending_reject *fresh = realloc(in->rej, cap * sizeof *fresh);
        if (!fresh)
            return SS_ENOMEM;
        in->rej = fresh;
        in->caprej = cap;
    }
    ssi_pending_reject *p = &in->rej[in->nrej];
    p->reason = rej->reason;
    p->origin = strdup(rej->origin ? rej->origin : "");
    p->line = rej->line;
    memcpy(p->detail, rej->detail, sizeof p->detail);
    p->raw_len = rej->raw ? (rej->raw_len < SSI_RAW_MAX ? rej->raw_len : SSI_RAW_MAX) : 0;
    p->raw = rej->raw ? strndup(rej->raw, p->raw_len) : NULL;
    if (!p->origin || (rej->raw && !p->raw)) {
        free(p->origin);
        free(p->raw);
        return SS_ENOMEM;
    }
    in->nrej++;
    return 0;
}

static int ssi_put_reject(ssi_writer *w, const ssi_pending_reject *p, ssi_batch_stats *st)
{
    ssi_wbuf *b = &w->buf;
    ssi_wbuf_reset(b);
    ssi_wbuf_u8(b, SS_RECORD_VERSION);
    ssi_wbuf_str(b, ss_reason_name(p->reason));
    ssi_wbuf_str(b, p->origin);
    ssi_wbuf_u64(b, p->line);
    ssi_wbuf_str(b, p->detail);
    ssi_wbuf_strn(b, p->raw ? p->raw : "", (uint32_t)p->raw_len);
    ssi_wbuf_f64(b, (double)time(NULL));
    if (b->failed)
        return ENOMEM;
    unsigned char kb[8];
    ssi_put_be64(kb, w->counters.reject_seq++);
    MDB_val k = {sizeof kb, kb}, v = {b->len, b->data};
    int rc = mdb_put(w->txn, w->store->rejected, &k, &v, 0);
    if (!rc) {
        w->counters.rejected++;
        w->counters.by_reason[p->reason]++;
        st->rejected++;
        st->by_reason[p->reason]++;
    }
    return rc;
}

/* The published form of a tag event: the locus summary, the triggering alert, tag and filter. */
static int ssi_queue_event(ss_ingest *in, const ss_locus *l, const ss_alert *trigger,
                           const ssi_tag_event *ev)
{
    if (in->nevents == in->capevents) {
        size_t cap = in->capevents ? in->capevents * 2 : 64;
        ssi_event *fresh = realloc(in->events, cap * sizeof *fresh);
        if (!fresh)
            return SS_ENOMEM;
        in->events = fresh;
        in->capevents = cap;
    }
    json_t *o = json_object();
    json_object_set_new(o, "tag", json_string(ev->tag));
    json_object_set_new(o, "filter", json_string(ev->filter));
    json_object_set_new(o, "locus", ssi_locus_summary_json(l));
    json_object_set_new(o, "alert", ssi_alert_json(trigger));
    ssi_event *e = &in->events[in->nevents];
    e->json = json_dumps(o, SS_JSON_FLAGS);
    e->topic = strdup(ev->tag);
    e->key = strdup(l->id);
    json_decref(o);
    if (!e->json || !e->topic || !e->key) {
        free(e->json);
        free(e->topic);
        free(e->key);
        return SS_ENOMEM;
    }
    in->nevents++;
    return 0;
}

/* Store a packet, then run the filters on its locus when it brought a new alert. */
static int ssi_apply_packet(ss_ingest *in, ss_packet *pkt, ssi_batch_stats *st)
{
    char locus_id[SS_LOCUS_ID_LEN + 1];
    uint64_t before = st->ingested;
    int rc = ssi_assoc_packet(&in->w, pkt, st, locus_id);
    if (!rc && in->o.queue_dispatch && st->ingested > before)
        return ssi_queue_put(in->store, in->w.txn, locus_id, pkt->alerts[0].survey,
                             pkt->alerts[0].alert_id);
    if (rc || !in->o.filters || st->ingested == before)
        return rc;
    ssi_dispatch_out out;
    ss_err err = {0};
    ssi_filter_result *res = in->o.on_dispatch ? in->results : NULL;
    if ((rc = ssi_dispatch(in->o.filters, in->store, in->w.txn, locus_id, &in->w.locus,
                           &pkt->alerts[0], 1, res, &out, &err)))
        return rc;
    st->tag_events += out.ntags;
    ss_locus_view *v = in->o.filters->view;
    if (res) {
        ssi_dispatch_info d = {locus_id, ssi_view_locus(v), &pkt->alerts[0], res, &out};
        if ((rc = in->o.on_dispatch(in->o.ctx, &d)))
            return rc;
    }
    for (size_t i = 0; in->out && i < out.ntags && !rc; i++) /* events only when published */
        rc = ssi_queue_event(in, ssi_view_locus(v), &pkt->alerts[0], &out.tags[i]);
    return rc;
}

/* Write the pending batch in one transaction. Nothing of it stays when this fails. */
static int ssi_apply_batch(ss_ingest *in, ssi_batch_stats *st)
{
    ssi_writer *w = &in->w;
    memset(st, 0, sizeof *st);
    int rc = mdb_txn_begin(in->store->env, NULL, 0, &w->txn);
    if (rc)
        return rc;
    rc = ssi_counters_load(in->store, w->txn, &w->counters);
    if (!rc)
        rc = ssi_catalogs_load(in->store, w->txn, &w->catalogs);
    ssi_clear_events(in); /* a retried batch queues its events again */
    if (in->o.on_dispatch)
        in->o.on_dispatch(in->o.ctx, NULL);
    for (uint32_t i = 0; i < in->npk && !rc; i++)
        rc = ssi_apply_packet(in, in->pkts[i], st);
    for (uint32_t i = 0; i < in->nrej && !rc; i++)
        rc = ssi_put_reject(w, &in->rej[i], st);
    if (!rc)
        rc = ssi_counters_save(in->store, w->txn, &w->counters, &w->buf);
    if (!rc && in->o.before_commit)
        rc = in->o.before_commit(in->o.ctx, w->txn);
    if (rc)
        mdb_txn_abort(w->txn);
    else
        rc = mdb_txn_commit(w->txn);
    w->txn = NULL;
    return rc;
}

static void ssi_merge(ss_ingest *in, const ssi_batch_stats *st)
{
    ss_ingest_totals *t = &in->t;
    t->ingested += st->ingested;
    t->history += st->history;
    t->duplicates += st->duplicates;
    t->history_known += st->history_known;
    t->loci_created += st->loci_created;
    t->tag_events += st->tag_events;
    t->rejected += st->rejected;
    for (int r = 0; r < SS_REASON__COUNT; r++)
        t->by_reason[r] += st->by_reason[r];
}

static void ssi_report_rejects(ss_ingest *in)
{
    if (!in->o.on_reject)
        return;
    for (uint32_t i = 0; i < in->nrej; i++) {
        const ssi_pending_reject *p = &in->rej[i];
        ss_reject r = {.reason = p->reason,
                       .origin = p->origin,
                       .line = p->line,
                       .raw = p->raw,
                       .raw_len = p->raw_len};
        memcpy(r.detail, p->detail, sizeof r.detail);
        in->o.on_reject(in->o.ctx, &r);
    }
}

/* Publishing failures are logged, never fatal: the store holds every tag. */
static void ssi_publish(ss_ingest *in)
{
    for (size_t i = 0; in->out && i < in->nevents; i++) {
        ss_err err = {0};
        if (in->out->publish(in->out_impl, in->events[i].topic, in->events[i].key,
                             in->events[i].json, strlen(in->events[i].json), &err))
            fprintf(stderr, "skysieve: %s\n", err.msg);
    }
    ssi_clear_events(in);
}

int ss_ingest_publish(ss_ingest *in, const char *address, ss_err *err)
{
    const ss_output_ops *ops = ss_output_for(address);
    if (!ops)
        return ss_err_set(err, SS_EINVAL, "publish %s: no output serves this address", address);
    void *impl;
    int rc = ops->open(address, &impl, err);
    if (rc)
        return rc;
    if (in->out)
        in->out->close(in->out_impl);
    in->out = ops;
    in->out_impl = impl;
    return 0;
}

int ss_ingest_flush(ss_ingest *in, ss_err *err)
{
    if (in->npk == 0 && in->nrej == 0)
        return 0;
    ssi_batch_stats st;
    int rc;
    if (in->known_txn) /* no reader of ours may pin pages or stop the map from growing */
        mdb_txn_reset(in->known_txn);
    /* A full map is not an error: grow it and write the same batch again. */
    while ((rc = ssi_apply_batch(in, &st)) == MDB_MAP_FULL)
        if ((rc = ssi_store_grow(in->store, err)))
            return rc;
    if (rc)
        return ssi_store_fail(in->store, err, rc, "writing a batch");
    ssi_merge(in, &st);
    ssi_publish(in);
    ssi_report_rejects(in);
    if (in->o.on_commit) {
        ss_ingest_totals t;
        ss_ingest_totals_get(in, &t);
        in->o.on_commit(in->o.ctx, &t);
    }
    ssi_clear_rejects(in);
    for (uint32_t i = 0; i < in->npk; i++)
        ss_packet_reset(in->pkts[i]);
    in->npk = 0;
    in->pending_bytes = 0;
    ssi_seen_clear(&in->pending);
    if (in->known_txn && mdb_txn_renew(in->known_txn)) {
        mdb_txn_abort(in->known_txn);
        in->known_txn = NULL; /* decoders then keep every field: slower, still right */
    }
    return 0;
}

/* Whether a history entry is stored already, or waits in the pending batch. */
static int ssi_known(void *ctx, const char *survey, const char *alert_id)
{
    ss_ingest *in = ctx;
    unsigned char kb[SSI_KEY_MAX];
    if (ssi_seen_has(&in->pending, survey, alert_id))
        return 1;
    if (!in->known_txn || strlen(survey) > SS_SURVEY_MAX || strlen(alert_id) > SS_ID_MAX)
        return 0;
    MDB_val k = {ssi_key_alert(kb, survey, alert_id), kb}, v;
    return mdb_get(in->known_txn, in->store->alerts, &k, &v) == 0;
}

/* Validate a decoded packet. History entries that fail are rejected alone; a failing primary
 * rejects the packet. @return 1 to keep the packet, 0 when it was rejected, or SS_ENOMEM. */
static int ssi_validate_packet(ss_ingest *in, ss_packet *pkt)
{
    ss_reject rej;
    int rc;
    if (pkt->n == 0)
        return 0;
    if (ss_alert_validate(&pkt->alerts[0], 1, &rej)) {
        rej.raw = pkt->raw;
        rej.raw_len = pkt->raw_len;
        return (rc = ssi_defer_reject(in, &rej)) ? rc : 0;
    }
    uint32_t kept = 1;
    for (uint32_t i = 1; i < pkt->n; i++) {
        if (ss_alert_validate(&pkt->alerts[i], 0, &rej) == 0) {
            pkt->alerts[kept++] = pkt->alerts[i];
            continue;
        }
        snprintf(rej.detail + strlen(rej.detail), sizeof rej.detail - strlen(rej.detail),
                 " (history entry %u of alert %s)", i, pkt->alerts[0].alert_id);
        if ((rc = ssi_defer_reject(in, &rej)))
            return rc;
    }
    pkt->n = kept;
    return 1;
}

static ss_packet *ssi_next_packet(ss_ingest *in)
{
    if (!in->pkts[in->npk] && !(in->pkts[in->npk] = ss_packet_new()))
        return NULL;
    ss_packet *p = in->pkts[in->npk];
    p->skip_cutouts = in->o.decoder.skip_cutouts;
    p->known = in->o.divert ? NULL : ssi_known;
    p->known_ctx = in;
    ss_packet_reset(p);
    return p;
}

/* Reject a whole input: counted, stored and reported like a record. */
static int ssi_reject_input(ss_ingest *in, const char *name, ss_err *err)
{
    ss_reject rej = {.reason = SS_REASON_UNREADABLE, .origin = name};
    snprintf(rej.detail, sizeof rej.detail, "%.255s", err->msg);
    in->t.inputs_failed++;
    in->t.read++;
    int rc = ssi_defer_reject(in, &rej);
    return rc ? ss_err_set(err, rc, "%s: out of memory", name) : SS_EREJECT;
}

/* Keep a valid packet for the next batch, or hand it to a replay's staging. @return 0, or the
 * staging's error. */
static int ssi_take_packet(ss_ingest *in, ss_packet *pkt, ss_err *err)
{
    if (in->o.divert) {
        int rc = in->o.divert(in->o.ctx, pkt, err);
        in->t.diverted += rc == 0;
        return rc;
    }
    ssi_seen_add_packet(&in->pending, pkt); /* when memory runs short, merely incomplete */
    in->npk++;
    in->pending_bytes += ss_arena_used(pkt->arena);
    return 0;
}

/* One step of decoding. @return 1 go on, 0 end of input, SS_EREJECT input failed, other: fatal. */
static int ssi_decode_one(ss_ingest *in, const ss_decoder_ops *ops, void *st, const char *name,
                          ss_err *err)
{
    ss_packet *pkt = ssi_next_packet(in);
    if (!pkt)
        return ss_err_set(err, SS_ENOMEM, "%s: out of memory", name);
    ss_reject rej = {.origin = name};
    int rc = ops->next(st, pkt, &rej, err);
    if (rc == 0)
        return 0;
    in->t.read += rc == 1 || rc == SS_EREJECT;
    if (rc == SS_EREJECT)
        rc = ssi_defer_reject(in, &rej);
    else if (rc == 1 && (rc = ssi_validate_packet(in, pkt)) == 1 &&
             (rc = ssi_take_packet(in, pkt, err)))
        return rc; /* a replay's staging failed: the run stops */
    if (rc == SS_ENOMEM)
        return ss_err_set(err, rc, "%s: out of memory", name);
    if (rc)
        return ssi_reject_input(in, name, err);
    if (in->npk == in->o.batch_size || in->nrej >= in->o.batch_size ||
        in->pending_bytes >= SSI_BATCH_BYTES)
        if ((rc = ss_ingest_flush(in, err)))
            return rc;
    return 1;
}

static const ss_decoder_ops *ssi_pick_decoder(ss_ingest *in, FILE *fp, const char *name,
                                              ss_err *err)
{
    if (in->o.format) {
        const ss_decoder_ops *ops = ss_decoder_find(in->o.format);
        if (!ops)
            ss_err_set(err, SS_EFORMAT, "%s: no decoder named '%s'", name, in->o.format);
        return ops;
    }
    unsigned char head[SSI_HEAD_MAX];
    size_t n = fread(head, 1, sizeof head, fp);
    if (ferror(fp) || fseek(fp, 0, SEEK_SET) != 0) {
        ss_err_set(err, errno ? errno : EIO, "%s: cannot read: %s", name,
                   strerror(errno ? errno : EIO));
        return NULL;
    }
    const ss_decoder_ops *ops = ss_decoder_detect(name, head, n);
    if (!ops)
        ss_err_set(err, SS_EFORMAT, "%s: %s", name,
                   n ? "unknown format (no decoder recognises it)" : "empty input");
    return ops;
}

int ss_ingest_stream(ss_ingest *in, FILE *fp, const char *name, ss_err *err)
{
    in->t.inputs++;
    if (!in->first_input)
        in->first_input = strdup(name);
    const ss_decoder_ops *ops = ssi_pick_decoder(in, fp, name, err);
    void *st = NULL;
    if (!ops ||
        ops->open(fp, name, &in->o.decoder, ss_decoder_shared_get(in->shared, ops), &st, err))
        return ssi_reject_input(in, name, err);
    int rc;
    while ((rc = ssi_decode_one(in, ops, st, name, err)) == 1)
        ;
    ops->close(st);
    return rc;
}

int ss_ingest_source(ss_ingest *in, const ss_decoder_ops *ops, void *state, const char *name,
                     ss_err *err)
{
    in->t.inputs++;
    if (!in->first_input)
        in->first_input = strdup(name);
    int rc;
    while ((rc = ssi_decode_one(in, ops, state, name, err)) == 1)
        ;
    return rc;
}

static int ssi_ingest_file(ss_ingest *in, const char *path, ss_err *err)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        in->t.inputs++;
        ss_err_set(err, errno, "%s: %s", path, strerror(errno));
        return ssi_reject_input(in, path, err);
    }
    int rc = ss_ingest_stream(in, fp, path, err);
    fclose(fp);
    return rc;
}

/* A file in a directory is taken only when a decoder claims it: directories also hold notes,
 * cutouts and other files that are not alerts. */
static int ssi_claimed(const char *path)
{
    size_t ndec;
    const ss_decoder_ops *const *all = ss_decoders(&ndec);
    for (size_t i = 0; i < ndec; i++) /* a known extension claims it: no need to read it twice */
        if (ss_decoder_has_extension(path, all[i]->extensions))
            return 1;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return 1; /* let the ingest report why it cannot be read */
    unsigned char head[SSI_HEAD_MAX];
    size_t n = fread(head, 1, sizeof head, fp);
    fclose(fp);
    return ss_decoder_detect(path, head, n) != NULL;
}

static int ssi_ingest_dir(ss_ingest *in, const char *dir, ss_err *err)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0) {
        in->t.inputs++;
        ss_err_set(err, errno, "%s: %s", dir, strerror(errno));
        return ssi_reject_input(in, dir, err);
    }
    int rc = 0, failed = 0;
    for (int i = 0; i < n; i++) {
        char *path = NULL;
        if (names[i]->d_name[0] != '.' && asprintf(&path, "%s/%s", dir, names[i]->d_name) >= 0) {
            struct stat st;
            int is_dir = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
            if (is_dir || ssi_claimed(path))
                rc = ss_ingest_path(in, path, err);
            failed |= rc == SS_EREJECT;
            rc = rc == SS_EREJECT ? 0 : rc;
        }
        free(path);
        free(names[i]);
        for (int j = i + 1; rc && j < n; j++)
            free(names[j]);
        if (rc)
            break;
    }
    free(names);
    return rc ? rc : failed ? SS_EREJECT : 0;
}

int ss_ingest_path(ss_ingest *in, const char *path, ss_err *err)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return ssi_ingest_dir(in, path, err);
    return ssi_ingest_file(in, path, err);
}

const char *ss_ingest_set_format(ss_ingest *in, const char *format)
{
    const char *before = in->o.format;
    in->o.format = format;
    return before;
}

uint32_t ss_ingest_pending(const ss_ingest *in)
{
    return in->npk;
}

void ss_ingest_totals_get(const ss_ingest *in, ss_ingest_totals *totals)
{
    *totals = in->t;
    totals->seconds = ssi_elapsed(&in->t0);
}

static void ssi_iso_time(time_t t, char out[32])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static char *ssi_run_json(const ss_ingest *in, const ss_ingest_totals *t)
{
    char started[32], finished[32];
    ssi_iso_time(in->started, started);
    ssi_iso_time(time(NULL), finished);
    json_t *o = json_pack(
        "{s:s, s:s, s:f, s:I, s:I, s:s?, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "started", started,
        "finished", finished, "seconds", t->seconds, "inputs", (json_int_t)t->inputs,
        "inputs_failed", (json_int_t)t->inputs_failed, "first_input", in->first_input, "read",
        (json_int_t)t->read, "ingested", (json_int_t)t->ingested, "history", (json_int_t)t->history,
        "duplicates", (json_int_t)t->duplicates, "history_known", (json_int_t)t->history_known,
        "rejected", (json_int_t)t->rejected, "loci_created", (json_int_t)t->loci_created);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return text;
}

/* Append the run to `ingests`, so an operator can see what was ingested when. */
static int ssi_record_run(ss_ingest *in, const ss_ingest_totals *t)
{
    char *text = ssi_run_json(in, t);
    if (!text)
        return ENOMEM;
    MDB_txn *txn;
    ssi_counters c;
    int rc = mdb_txn_begin(in->store->env, NULL, 0, &txn);
    if (rc) {
        free(text);
        return rc;
    }
    if (!(rc = ssi_counters_load(in->store, txn, &c))) {
        unsigned char kb[8];
        ssi_put_be64(kb, c.ingest_seq++);
        MDB_val k = {sizeof kb, kb}, v = {strlen(text), text};
        if (!(rc = mdb_put(txn, in->store->ingests, &k, &v, 0)))
            rc = ssi_counters_save(in->store, txn, &c, &in->w.buf);
    }
    rc = rc ? (mdb_txn_abort(txn), rc) : mdb_txn_commit(txn);
    free(text);
    return rc;
}

int ss_ingest_finish(ss_ingest *in, ss_ingest_totals *totals, ss_err *err)
{
    int rc = ss_ingest_flush(in, err);
    if (rc)
        return rc;
    ss_ingest_totals t;
    ss_ingest_totals_get(in, &t);
    while ((rc = ssi_record_run(in, &t)) == MDB_MAP_FULL)
        if ((rc = ssi_store_grow(in->store, err)))
            return rc;
    if (rc)
        return ssi_store_fail(in->store, err, rc, "recording the ingest run");
    if (totals)
        *totals = t;
    return 0;
}
