#include "ingest.h"

#include "assoc.h"
#include "publish.h"
#include "queue.h"
#include "seen.h"
#include "write_queue.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define SSI_DEFAULT_BATCH 5000
/* A batch also ends at this many bytes of decoded alerts, so large alerts (ZTF packets with
 * history and cutouts weigh ~100 kB) keep memory bounded whatever the batch count. */
#define SSI_BATCH_BYTES  ((size_t)64 << 20)
#define SSI_RAW_MAX      4096
#define SSI_HEAD_MAX     4096
#define SSI_MAX_REJECTED 1000 /* rejected rows stored per input by default */

/* A rejection waiting for its batch to commit; owns its strings. */
typedef struct ssi_pending_reject {
    ss_reason reason;
    char *origin;
    uint64_t line;
    char detail[256];
    char *raw;
    size_t raw_len;
    int summary; /* the row summing up an input's rejections not kept: counted with them */
} ssi_pending_reject;

/* A tag event waiting for its batch to commit before it is published. */
typedef struct ssi_event {
    char *topic;
    char *key; /* the locus id */
    char *json;
} ssi_event;

static int ssi_known(void *ctx, const char *survey, const char *alert_id);
static int ssi_known2(void *ctx, const ss_alert *a);
static int ssi_write_batch(void *ctx, void *item);

/* What one batch holds until it commits. With overlap, decoding fills one batch while up to
 * SSI_WQ_MAX others wait for the writer or are written; each owns its packets (and their arenas)
 * and its rejections. */
typedef struct ssi_batch {
    ss_packet **pkts; /* reused across batches; the first npk hold the batch */
    uint32_t npk;
    size_t bytes; /* decoded bytes held by the packets */
    ssi_pending_reject *rej;
    uint32_t nrej, caprej;
    uint64_t drop[SS_REASON__COUNT]; /* rejections not stored: counted by the commit */
    uint64_t ndrop;
    uint64_t read; /* records read into this batch, in the totals already */
    ssi_seen seen; /* its alerts */
    /* With overlap, the packets' stamps compressed while decoding, not by the writer: that is
     * most of a Rubin alert's writing. stamp_of[i]: packet i's item, or SSI_NOT_PACKED. */
    ss_store_stamps *stamps;
    uint32_t *stamp_of;
    /* Likewise the packets' groups of records, a third of a ZTF alert's writing. list0[i]: the
     * item of packet i's group (ss_store_lists_group); SSI_NOT_PACKED: left to the writer. */
    ss_store_lists *lists;
    uint32_t *list0;
    /* checked[i]: packet i's history entries were each looked for by decoding (ssi_known, with a
     * snapshot), so those it found new go to the writer as new (ss_assoc_early.history_new). */
    unsigned char *checked;
    ss_assoc_stats st; /* what writing it counted */
} ssi_batch;

#define SSI_NOT_PACKED UINT32_MAX

struct ss_ingest {
    ss_store *store;
    ss_ingest_options o;
    ssi_batch b[SSI_WQ_MAX + 1];
    ssi_batch *cur; /* the batch decoding fills */
    uint32_t cappk; /* packets per batch */
    int overlap;    /* o.overlap, and nothing of the caller runs inside a batch's transaction */
    /* With overlap, the batches handed to the writing thread and not landed yet; unstarted when
     * no thread could be had (each batch is then written when it is full: slower, still right) */
    ssi_wq wq;
    int rewrite; /* the oldest's commit failed: the next landing writes it again */
    /* The share of packets whose records decoding packs (ssi_pack_lists), steered after each
     * hand-off toward the side that waited less: packing there helps while the writer is the
     * slower side (ZTF) and slows the ingest when decoding is (ELAsTiCC's small alerts). */
    double early_share, early_due;
    ss_assoc_writer *w;
    ss_store_txn *txn; /* the batch being written */
    ss_ingest_totals t;
    struct timespec t0;
    time_t started;
    char *first_input;
    ssi_event *events;
    size_t nevents, capevents;
    ss_publish_set outs;
    ss_decoder_shared *shared; /* decoders' state across inputs (parsed schemas) */
    ss_store_txn *known;       /* a read snapshot of the committed store while decoding, or NULL */
    int known_live;            /* known is begun (else reset: renewed when next asked) */
    int unchecked; /* the packet decoding asked ssi_known() of an entry it could not look up */
    ss_filter_result *results; /* with on_dispatch: one per filter, reused by every dispatch */
    /* The current input's rejections past o.max_rejected_per_input are only counted: a hostile
     * input would otherwise grow the store and the log by a row and a line per record. */
    uint64_t in_kept, in_dropped, in_first_dropped;
    uint64_t in_dropped_by[SS_REASON__COUNT];
};

/* With overlap, what decoding packs ahead of the writer. @return 0 or SS_ENOMEM. */
static int ssi_batch_early(ssi_batch *b, ss_store *s, uint32_t cap)
{
    b->stamp_of = calloc(cap, sizeof *b->stamp_of);
    b->stamps = ss_store_stamps_new2(s);
    b->list0 = calloc(cap, sizeof *b->list0);
    b->lists = ss_store_lists_new(s);
    return b->stamp_of && b->stamps && b->list0 && b->lists ? 0 : SS_ENOMEM;
}

static double ssi_seconds(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) * 1e-9;
}

static double ssi_elapsed(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return ssi_seconds(t0, &now);
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
    if (!in->o.max_rejected_per_input)
        in->o.max_rejected_per_input = SSI_MAX_REJECTED;
    in->cappk = in->o.batch_size;
    in->early_share = in->o.pack_ahead > 0; /* steered: none until a hand-off tells */
    in->overlap = in->o.overlap && !in->o.filters && !in->o.queue_dispatch &&
                  !in->o.before_commit && !in->o.on_dispatch && !in->o.divert;
    int short_of = 0;
    for (int i = 0; i < (in->overlap ? SSI_WQ_MAX + 1 : 1); i++) {
        in->b[i].pkts = calloc(in->cappk, sizeof *in->b[i].pkts);
        in->b[i].checked = calloc(in->cappk, sizeof *in->b[i].checked);
        short_of |= !in->b[i].pkts || !in->b[i].checked ||
                    (in->overlap && ssi_batch_early(&in->b[i], store, in->cappk));
    }
    in->cur = &in->b[0];
    in->w = ss_assoc_writer_new(store);
    in->shared = ss_decoder_shared_new(&in->o.decoder);
    size_t nf = in->o.filters ? ss_filter_set_count(in->o.filters) : 0;
    if (in->o.on_dispatch && in->o.filters)
        in->results = calloc(nf ? nf : 1, sizeof *in->results);
    if (short_of || !in->w || !in->shared || (in->o.on_dispatch && in->o.filters && !in->results)) {
        ss_ingest_free(in);
        return NULL;
    }
    if (in->overlap)
        ssi_wq_start(&in->wq, ssi_write_batch, in); /* none: each batch written when full */
    if (ss_store_txn_begin(store, SS_STORE_READ, &in->known))
        in->known = NULL; /* without it decoders keep every field */
    in->known_live = in->known != NULL;
    clock_gettime(CLOCK_MONOTONIC, &in->t0);
    in->started = time(NULL);
    return in;
}

static void ssi_clear_rejects(ssi_batch *b)
{
    for (uint32_t i = 0; i < b->nrej; i++) {
        free(b->rej[i].origin);
        free(b->rej[i].raw);
    }
    b->nrej = 0;
}

/* After @p b committed (or was dropped): its packets reset, ready to be filled again. */
static void ssi_batch_empty(ssi_batch *b)
{
    ssi_clear_rejects(b);
    memset(b->drop, 0, sizeof b->drop);
    b->ndrop = 0;
    for (uint32_t i = 0; i < b->npk; i++)
        ss_packet_reset(b->pkts[i]);
    b->npk = 0;
    b->bytes = 0;
    b->read = 0;
    ssi_seen_clear(&b->seen);
    if (b->stamps)
        ss_store_stamps_reset(b->stamps);
    if (b->lists)
        ss_store_lists_reset(b->lists);
}

static void ssi_batch_free(ssi_batch *b, uint32_t cap)
{
    ssi_seen_free(&b->seen);
    for (uint32_t i = 0; i < cap && b->pkts; i++)
        ss_packet_free(b->pkts[i]);
    free(b->pkts);
    free(b->checked);
    ssi_clear_rejects(b);
    free(b->rej);
    ss_store_stamps_free(b->stamps);
    free(b->stamp_of);
    ss_store_lists_free(b->lists);
    free(b->list0);
}

static int ssi_batch_is_empty(const ssi_batch *b)
{
    return b->npk == 0 && b->nrej == 0 && b->ndrop == 0;
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
    ssi_wq_stop(&in->wq); /* a batch being written commits; its counts and reports are dropped */
    ssi_clear_events(in);
    free(in->events);
    ss_store_txn_abort(in->known);
    free(in->results);
    ss_publish_set_close(&in->outs);
    for (int i = 0; i < SSI_WQ_MAX + 1; i++)
        ssi_batch_free(&in->b[i], in->cappk);
    ss_decoder_shared_free(in->shared); /* after the packets: they may borrow from it */
    ss_assoc_writer_free(in->w);
    free(in->first_input);
    free(in);
}

/* A copy of @p n bytes that may hold NULs or any other byte (a rejected row is kept as it came):
 * never strndup, which stops at the first NUL while the length says more. Owned by the caller. */
static char *ssi_bytes_dup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* Keep a rejection for the next commit, whatever the input's limit. @return 0 or SS_ENOMEM. */
static int ssi_keep_reject(ss_ingest *in, const ss_reject *rej, int summary)
{
    ssi_batch *b = in->cur;
    if (b->nrej == b->caprej) {
        uint32_t cap = b->caprej ? b->caprej * 2 : 64;
        ssi_pending_reject *fresh = realloc(b->rej, cap * sizeof *fresh);
        if (!fresh)
            return SS_ENOMEM;
        b->rej = fresh;
        b->caprej = cap;
    }
    ssi_pending_reject *p = &b->rej[b->nrej];
    p->reason = rej->reason;
    p->summary = summary;
    p->origin = strdup(rej->origin ? rej->origin : "");
    p->line = rej->line;
    memcpy(p->detail, rej->detail, sizeof p->detail);
    p->raw_len = rej->raw ? (rej->raw_len < SSI_RAW_MAX ? rej->raw_len : SSI_RAW_MAX) : 0;
    p->raw = rej->raw ? ssi_bytes_dup(rej->raw, p->raw_len) : NULL;
    if (!p->origin || (rej->raw && !p->raw)) {
        free(p->origin);
        free(p->raw);
        return SS_ENOMEM;
    }
    b->nrej++;
    return 0;
}

/* Keep a rejection for the next commit while the input is under its limit, else only count it
 * (ssi_input_end() sums those up). @return 0 or SS_ENOMEM. */
static int ssi_defer_reject(ss_ingest *in, const ss_reject *rej)
{
    if (in->in_kept < in->o.max_rejected_per_input) {
        int rc = ssi_keep_reject(in, rej, 0);
        in->in_kept += rc == 0;
        return rc;
    }
    if (!in->in_dropped++)
        in->in_first_dropped = rej->line;
    in->in_dropped_by[rej->reason]++;
    in->cur->drop[rej->reason]++;
    in->cur->ndrop++;
    return 0;
}

/* The end of an input: one row says how many of its rejections were not kept, and why. The
 * counters counted each already. @return 0 or SS_ENOMEM. */
static int ssi_input_end(ss_ingest *in, const char *name)
{
    int rc = 0;
    if (in->in_dropped) {
        ss_reject rej = {.origin = name, .line = in->in_first_dropped};
        int n = snprintf(rej.detail, sizeof rej.detail,
                         "%llu more rejected records of this input not kept (from record %llu on; "
                         "the first %llu are); reasons:",
                         (unsigned long long)in->in_dropped,
                         (unsigned long long)in->in_first_dropped, (unsigned long long)in->in_kept);
        for (int r = 0; r < SS_REASON__COUNT; r++) {
            if (!in->in_dropped_by[r])
                continue;
            if (in->in_dropped_by[r] > in->in_dropped_by[rej.reason])
                rej.reason = (ss_reason)r; /* the row is filed under the commonest reason */
            if (n >= 0 && (size_t)n < sizeof rej.detail)
                n += snprintf(rej.detail + n, sizeof rej.detail - (size_t)n, " %s %llu",
                              ss_reason_name((ss_reason)r),
                              (unsigned long long)in->in_dropped_by[r]);
        }
        rc = ssi_keep_reject(in, &rej, 1);
    }
    in->in_kept = in->in_dropped = in->in_first_dropped = 0;
    memset(in->in_dropped_by, 0, sizeof in->in_dropped_by);
    return rc;
}

static int ssi_put_reject(ss_ingest *in, const ssi_pending_reject *p, ss_assoc_stats *st)
{
    int rc =
        ss_store_reject_put(in->txn, p->reason, p->origin, p->line, p->detail, p->raw, p->raw_len);
    if (!rc && p->summary) { /* its rejections were counted one by one: the row is no more */
        ss_store_counters *c = ss_store_txn_counters(in->txn);
        if (!c)
            return SS_ECORRUPT;
        c->rejected--;
        c->by_reason[p->reason]--;
    } else if (!rc) {
        st->rejected++;
        st->by_reason[p->reason]++;
    }
    return rc;
}

/* Count @p b's rejections not kept, as ss_store_reject_put() counts a row. */
static int ssi_count_dropped(ss_ingest *in, const ssi_batch *b, ss_assoc_stats *st)
{
    if (!b->ndrop)
        return 0;
    ss_store_counters *c = ss_store_txn_counters(in->txn);
    if (!c)
        return SS_ECORRUPT;
    for (int r = 0; r < SS_REASON__COUNT; r++) {
        c->rejected += b->drop[r];
        c->by_reason[r] += b->drop[r];
        st->rejected += b->drop[r];
        st->by_reason[r] += b->drop[r];
    }
    return 0;
}

/* A tag event, shaped now and published once its batch commits. */
static int ssi_queue_event(ss_ingest *in, const ss_locus *l, const ss_alert *trigger,
                           const ss_filter_tag_event *ev)
{
    if (in->nevents == in->capevents) {
        size_t cap = in->capevents ? in->capevents * 2 : 64;
        ssi_event *fresh = realloc(in->events, cap * sizeof *fresh);
        if (!fresh)
            return SS_ENOMEM;
        in->events = fresh;
        in->capevents = cap;
    }
    ssi_event *e = &in->events[in->nevents];
    e->json = ss_publish_tag_event(ev->tag, ev->filter, l, trigger);
    e->topic = strdup(ev->tag);
    e->key = strdup(l->id);
    if (!e->json || !e->topic || !e->key) {
        free(e->json);
        free(e->topic);
        free(e->key);
        return SS_ENOMEM;
    }
    in->nevents++;
    return 0;
}

/* Store packet @p at of @p b, then run the filters on its locus when it brought a new alert. */
static int ssi_apply_packet(ss_ingest *in, const ssi_batch *b, uint32_t at, ss_assoc_stats *st)
{
    char locus_id[SS_LOCUS_ID_LEN + 1];
    ss_packet *pkt = b->pkts[at];
    uint64_t before = st->ingested;
    int packed = b->stamps && b->stamp_of[at] != SSI_NOT_PACKED;
    int early_lists = b->lists && b->list0[at] != SSI_NOT_PACKED;
    ss_assoc_early early = {packed ? b->stamps : NULL, packed ? b->stamp_of[at] : 0,
                            early_lists ? b->lists : NULL, early_lists ? b->list0[at] : 0,
                            b->checked[at]};
    int rc = ss_assoc_packet3(in->w, pkt, &early, st, locus_id);
    if (!rc && in->o.queue_dispatch && st->ingested > before)
        return ss_store_queue_put(in->txn, locus_id, pkt->alerts[0].survey,
                                  pkt->alerts[0].alert_id);
    if (rc || !in->o.filters || st->ingested == before)
        return rc;
    ss_filter_outputs out;
    ss_err err = {0};
    ss_filter_result *res = in->o.on_dispatch ? in->results : NULL;
    if ((rc = ss_filter_dispatch(in->o.filters, in->txn, locus_id, ss_assoc_last_locus(in->w),
                                 &pkt->alerts[0], 1, res, &out, &err)))
        return rc;
    st->tag_events += out.ntags;
    const ss_locus *seen = ss_filter_set_locus(in->o.filters);
    if (res) {
        ss_filter_dispatch_info d = {locus_id, seen, &pkt->alerts[0], res, &out};
        if ((rc = in->o.on_dispatch(in->o.ctx, &d)))
            return rc;
    }
    for (size_t i = 0; in->outs.n && i < out.ntags && !rc; i++) /* events only when published */
        rc = ssi_queue_event(in, seen, &pkt->alerts[0], &out.tags[i]);
    return rc;
}

/* Write @p b in one transaction. Nothing of it stays when this fails. With overlap this runs
 * on the writing thread, which touches nothing else of @p in that decoding uses. */
static int ssi_apply_batch(ss_ingest *in, const ssi_batch *b, ss_assoc_stats *st)
{
    memset(st, 0, sizeof *st);
    int rc = ss_store_txn_begin(in->store, SS_STORE_WRITE, &in->txn);
    if (rc)
        return rc;
    rc = ss_assoc_begin(in->w, in->txn);
    ssi_clear_events(in); /* a retried batch queues its events again */
    if (in->o.on_dispatch)
        in->o.on_dispatch(in->o.ctx, NULL);
    for (uint32_t i = 0; i < b->npk && !rc; i++)
        rc = ssi_apply_packet(in, b, i, st);
    for (uint32_t i = 0; i < b->nrej && !rc; i++)
        rc = ssi_put_reject(in, &b->rej[i], st);
    if (!rc)
        rc = ssi_count_dropped(in, b, st);
    if (!rc && in->o.before_commit)
        rc = in->o.before_commit(in->o.ctx, in->txn);
    if (rc)
        ss_store_txn_abort(in->txn);
    else
        rc = ss_store_txn_commit(in->txn);
    in->txn = NULL;
    return rc;
}

static void ssi_merge(ss_ingest *in, const ss_assoc_stats *st)
{
    ss_ingest_totals *t = &in->t;
    t->ingested += st->ingested;
    t->history += st->history;
    t->duplicates += st->duplicates;
    t->history_known += st->history_known;
    t->upgraded += st->upgraded;
    t->loci_created += st->loci_created;
    t->tag_events += st->tag_events;
    t->rejected += st->rejected;
    for (int r = 0; r < SS_REASON__COUNT; r++)
        t->by_reason[r] += st->by_reason[r];
}

static void ssi_report_rejects(ss_ingest *in, const ssi_batch *b)
{
    if (!in->o.on_reject)
        return;
    for (uint32_t i = 0; i < b->nrej; i++) {
        const ssi_pending_reject *p = &b->rej[i];
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
    for (size_t i = 0; in->outs.n && i < in->nevents; i++) {
        ss_err err = {0};
        if (ss_publish_send(&in->outs, in->events[i].topic, in->events[i].key, in->events[i].json,
                            strlen(in->events[i].json), &err))
            fprintf(stderr, "skysieve: %s\n", err.msg);
    }
    ssi_clear_events(in);
}

int ss_ingest_publish(ss_ingest *in, const char *address, ss_err *err)
{
    ss_publish_set_close(&in->outs); /* one stream: a second address replaces the first */
    return ss_publish_set_open(&in->outs, address, err);
}

/* No snapshot of ours outlives a batch: a reader pins the pages every later commit frees (the
 * broker's output commits go on while intake is idle, and the store would grow by all they
 * rewrite) and keeps the map from growing. The next look-up renews it. */
static void ssi_forget_snapshot(ss_ingest *in)
{
    if (in->known && in->known_live)
        ss_store_txn_reset(in->known);
    in->known_live = 0;
}

/* @p b committed: count it, publish its events, report its rejections, empty it. */
static void ssi_landed(ss_ingest *in, ssi_batch *b, const ss_assoc_stats *st)
{
    ssi_merge(in, st);
    in->t.rejected_not_kept += b->ndrop;
    ssi_publish(in);
    ssi_report_rejects(in, b);
    if (in->o.on_commit) {
        ss_ingest_totals t;
        ss_ingest_totals_get(in, &t);
        for (unsigned i = 1; i < ssi_wq_count(&in->wq); i++) /* handed over after b */
            t.read -= ((const ssi_batch *)ssi_wq_at(&in->wq, i))->read;
        if (in->cur != b) /* what is read since, into the next batch, is not durable yet */
            t.read -= in->cur->read;
        in->o.on_commit(in->o.ctx, &t);
    }
    ssi_batch_empty(b);
}

/* Finish writing @p b, whose last try gave @p rc: a full map is not an error, it is grown and the
 * same batch written again. */
static int ssi_commit(ss_ingest *in, ssi_batch *b, int rc, ss_assoc_stats *st, ss_err *err)
{
    while (ss_store_map_full(rc)) {
        ssi_forget_snapshot(in); /* growing waits for every transaction of ours */
        if ((rc = ss_store_grow(in->store, err)))
            return rc;
        rc = ssi_apply_batch(in, b, st);
    }
    if (rc)
        return ss_store_fail(in->store, err, rc, "writing a batch");
    ssi_landed(in, b, st);
    return 0;
}

static int ssi_write_batch(void *ctx, void *item)
{
    ssi_batch *b = item;
    return ssi_apply_batch(ctx, b, &b->st);
}

/* After a hand-off: the time either side waited for the other counted, and more of the packing
 * steered to decoding when it waited for the writer, less when the writer had waited. */
static void ssi_steer(ss_ingest *in, double waited, double idle)
{
    in->t.waited_for_writer += waited;
    in->t.writer_idle += idle;
    if (in->o.pack_ahead || waited == idle) /* neither waited: a hand-off with room ahead */
        return;
    double step = waited > idle ? 0.25 : -0.25;
    in->early_share = fmin(1.0, fmax(0.0, in->early_share + step));
}

/* Land the oldest batch handed over, once written; waiting for it when @p wait (the time added to
 * *@p waited). A batch whose commit failed stays the oldest, and the next landing writes it
 * again. @return 0 (*@p landed 1 when one was), or an error. */
static int ssi_land_oldest(ss_ingest *in, int wait, int *landed, double *waited, ss_err *err)
{
    int wrc;
    double w;
    *landed = 0;
    ssi_batch *b = ssi_wq_oldest(&in->wq, wait || in->rewrite, &wrc, &w);
    *waited += w;
    if (!b)
        return 0;
    if (in->rewrite) /* the writer stopped at it: this thread writes alone */
        wrc = ssi_apply_batch(in, b, &b->st);
    int rc = ssi_commit(in, b, wrc, &b->st, err);
    in->rewrite = rc != 0;
    if (rc)
        return rc;
    ssi_wq_pop(&in->wq);
    *landed = 1;
    return 0;
}

/* Land what the writer is done with, waiting for the oldest while @p keep or more wait. */
static int ssi_land_down_to(ss_ingest *in, unsigned keep, double *waited, ss_err *err)
{
    int rc, landed;
    do
        rc = ssi_land_oldest(in, ssi_wq_count(&in->wq) > keep, &landed, waited, err);
    while (!rc && landed);
    return rc;
}

/* A batch neither filled nor handed over. */
static ssi_batch *ssi_free_batch(ss_ingest *in)
{
    for (int i = 0; i < SSI_WQ_MAX + 1; i++) {
        ssi_batch *b = &in->b[i];
        int queued = b == in->cur;
        for (unsigned k = 0; k < ssi_wq_count(&in->wq); k++)
            queued |= ssi_wq_at(&in->wq, k) == b;
        if (!queued)
            return b;
    }
    return NULL; /* not while the queue keeps a free one */
}

/* With overlap: hand the decoded batch to the writing thread and go on decoding into a free one,
 * landing first what the writer has done, and waiting for the oldest only when SSI_WQ_MAX wait.
 * Batches still commit one after the other, in order. */
static int ssi_flush_behind(ss_ingest *in, ss_err *err)
{
    if (!in->wq.running)
        return ss_ingest_flush(in, err);
    double waited = 0, idle = ssi_wq_idle(&in->wq); /* before the landings empty the queue */
    int rc = ssi_land_down_to(in, SSI_WQ_MAX - 1, &waited, err);
    if (rc || ssi_batch_is_empty(in->cur))
        return rc;
    ssi_forget_snapshot(in); /* after the landings: batches landed are in the next snapshot */
    ssi_wq_push(&in->wq, in->cur);
    in->cur = ssi_free_batch(in);
    ssi_steer(in, waited, idle);
    return 0;
}

/* Land every batch handed over: a hand-off with nothing new, which steers as one does (a
 * caller that settles often, as the benchmark does, would else see only the refills after). */
static int ssi_land_all(ss_ingest *in, ss_err *err)
{
    double waited = 0, idle = ssi_wq_idle(&in->wq);
    int rc = ssi_land_down_to(in, 0, &waited, err);
    ssi_steer(in, waited, idle);
    return rc;
}

int ss_ingest_settle(ss_ingest *in, ss_err *err)
{
    return ssi_land_all(in, err);
}

int ss_ingest_flush(ss_ingest *in, ss_err *err)
{
    ssi_forget_snapshot(in); /* even with nothing to write */
    int rc = ssi_land_all(in, err);
    if (rc || ssi_batch_is_empty(in->cur))
        return rc;
    ss_assoc_stats st;
    return ssi_commit(in, in->cur, ssi_apply_batch(in, in->cur, &st), &st, err);
}

/* The decoding side's read snapshot of the committed store, renewed after each hand-off; NULL
 * when it cannot be had (decoders then keep every field, and the writer packs every record:
 * slower, still right). */
static ss_store_txn *ssi_snapshot(ss_ingest *in)
{
    if (in->known && !in->known_live && ss_store_txn_renew(in->known)) {
        ss_store_txn_abort(in->known);
        in->known = NULL;
    }
    in->known_live = in->known != NULL;
    return in->known;
}

/* Whether history entry @p a is stored already, or waits in the pending batch. */
static int ssi_known2(void *ctx, const ss_alert *a)
{
    ss_ingest *in = ctx;
    uint64_t hash = ssi_seen_hash(a->alert_id);
    if (ssi_seen_has(&in->cur->seen, hash, a->survey, a->alert_id))
        return 1;
    for (unsigned i = 0; i < ssi_wq_count(&in->wq); i++)
        if (ssi_seen_has(&((const ssi_batch *)ssi_wq_at(&in->wq, i))->seen, hash, a->survey,
                         a->alert_id))
            return 1;
    ss_store_txn *snap = ssi_snapshot(in);
    in->unchecked |= snap == NULL;
    return snap && ss_store_alert_known(snap, a) == 0;
}

/* The same for a decoder that asks with the id alone (decoder ABI before 2.6): looked for by its
 * id, which misses an upper limit its object lists (format 17). The decoder then keeps that
 * entry's fields and the writer finds it known: slower, still right. */
static int ssi_known(void *ctx, const char *survey, const char *alert_id)
{
    ss_alert a = {.survey = survey, .alert_id = alert_id};
    return ssi_known2(ctx, &a);
}

int ss_ingest_validate(ss_packet *pkt, ss_reject *rej,
                       int (*on_history)(void *ctx, const ss_reject *rej), void *ctx)
{
    if (pkt->n == 0) {
        *rej = (ss_reject){.reason = SS_REASON_UNREADABLE, .origin = rej->origin};
        snprintf(rej->detail, sizeof rej->detail, "a record without an alert");
        return 0;
    }
    if (ss_alert_validate(&pkt->alerts[0], 1, rej))
        return 0;
    uint32_t kept = 1;
    for (uint32_t i = 1; i < pkt->n; i++) {
        ss_reject h = {0};
        if (ss_alert_validate(&pkt->alerts[i], 0, &h) == 0) {
            pkt->alerts[kept++] = pkt->alerts[i];
            continue;
        }
        snprintf(h.detail + strlen(h.detail), sizeof h.detail - strlen(h.detail),
                 " (history entry %u of alert %s)", i, pkt->alerts[0].alert_id);
        int rc = on_history ? on_history(ctx, &h) : 0;
        if (rc)
            return rc;
    }
    pkt->n = kept;
    return 1;
}

static int ssi_defer_history(void *ctx, const ss_reject *rej)
{
    return ssi_defer_reject(ctx, rej);
}

/* Validate a decoded packet by the one rule (ss_ingest_validate()): rejections are kept for the
 * next commit. @return 1 to keep the packet, 0 when it was rejected, or SS_ENOMEM. */
static int ssi_validate_packet(ss_ingest *in, ss_packet *pkt)
{
    ss_reject rej = {0};
    if (pkt->n == 0)
        return 0; /* a decoder that yields nothing has nothing to reject */
    int rc = ss_ingest_validate(pkt, &rej, ssi_defer_history, in);
    if (rc)
        return rc;
    rej.raw = pkt->raw;
    rej.raw_len = pkt->raw_len;
    return (rc = ssi_defer_reject(in, &rej)) ? rc : 0;
}

static ss_packet *ssi_next_packet(ss_ingest *in)
{
    ssi_batch *b = in->cur;
    if (!b->pkts[b->npk] && !(b->pkts[b->npk] = ss_packet_new()))
        return NULL;
    ss_packet *p = b->pkts[b->npk];
    p->skip_cutouts = in->o.decoder.skip_cutouts;
    p->borrow_cutouts = b->stamps != NULL; /* packed as soon as decoded: ssi_pack_stamps() */
    p->known = in->o.divert ? NULL : ssi_known;
    p->known2 = in->o.divert ? NULL : ssi_known2;
    p->known_ctx = in;
    in->unchecked = 0;
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
    in->cur->read++;
    int rc = ssi_keep_reject(in, &rej, 0); /* why a whole input failed is always kept */
    return rc ? ss_err_set(err, rc, "%s: out of memory", name) : SS_EREJECT;
}

/* With overlap: compress @p pkt's stamps now, on the decoding thread, with their survey's stamps
 * dictionary as committed, counted in the batch's bytes. Their bytes were lent by the decoder
 * until its next call: the set holds them from here, and the packet keeps only their lengths and
 * names. @return 0, SS_ENOMEM or an error of the store. */
static int ssi_pack_stamps(ss_ingest *in, ssi_batch *b, ss_packet *pkt)
{
    b->stamp_of[b->npk] = SSI_NOT_PACKED;
    int any = 0;
    for (int k = 0; k < SS_CUTOUT__COUNT; k++)
        any |= pkt->cutouts[k].data != NULL;
    if (!any)
        return 0;
    size_t before = ss_store_stamps_bytes(b->stamps);
    int rc = ss_store_stamps_pack2(b->stamps, ssi_snapshot(in), pkt->alerts[0].survey, pkt->cutouts,
                                   &b->stamp_of[b->npk]);
    b->bytes += ss_store_stamps_bytes(b->stamps) - before;
    for (int k = 0; k < SS_CUTOUT__COUNT; k++)
        pkt->cutouts[k].data = NULL; /* they would dangle */
    return rc;
}

/* With overlap: pack @p pkt's alerts as the group the writer stores them in, now, on the decoding
 * thread, with the dictionaries committed so far; counted in the batch's bytes. @return 0 or
 * SS_ENOMEM. */
static int ssi_pack_lists(ss_ingest *in, ssi_batch *b, const ss_packet *pkt)
{
    ss_store_txn *snap = ssi_snapshot(in);
    size_t before = ss_store_lists_bytes(b->lists);
    ss_store_lists_packet(b->lists);
    int rc = ss_store_lists_group(b->lists, snap, pkt->alerts, pkt->n, pkt->locus_props,
                                  pkt->nlocus_props, &b->list0[b->npk]);
    b->bytes += ss_store_lists_bytes(b->lists) - before;
    return rc;
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
    ssi_batch *b = in->cur;
    ssi_seen_add_packet(&b->seen, pkt); /* when memory runs short, merely incomplete */
    b->checked[b->npk] = !in->unchecked;
    int rc = b->stamps ? ssi_pack_stamps(in, b, pkt) : 0;
    if (b->lists)
        b->list0[b->npk] = SSI_NOT_PACKED;
    in->early_due += b->lists ? in->early_share : 0;
    if (!rc && in->early_due >= 1) {
        in->early_due -= 1;
        rc = ssi_pack_lists(in, b, pkt);
    }
    if (rc == SS_ENOMEM)
        return ss_err_set(err, rc, "out of memory packing records");
    if (rc) /* the committed store could not be read */
        return ss_store_fail(in->store, err, rc, "packing an alert's stamps");
    b->npk++;
    b->bytes += ss_arena_used(pkt->arena);
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
    in->cur->read += rc == 1 || rc == SS_EREJECT;
    if (rc == SS_EREJECT)
        rc = ssi_defer_reject(in, &rej);
    else if (rc == 1 && (rc = ssi_validate_packet(in, pkt)) == 1 &&
             (rc = ssi_take_packet(in, pkt, err)))
        return rc; /* a replay's staging failed: the run stops */
    if (rc == SS_ENOMEM)
        return ss_err_set(err, rc, "%s: out of memory", name);
    if (rc)
        return ssi_reject_input(in, name, err);
    ssi_batch *b = in->cur;
    if (b->npk == in->o.batch_size || b->nrej >= in->o.batch_size || b->bytes >= SSI_BATCH_BYTES)
        if ((rc = in->overlap ? ssi_flush_behind(in, err) : ss_ingest_flush(in, err)))
            return rc;
    return 1;
}

/* The decoder named by the options, or the one that claims @p n first bytes @p head. */
static const ss_decoder_ops *ssi_pick_by_head(ss_ingest *in, const unsigned char *head, size_t n,
                                              const char *name, ss_err *err)
{
    if (in->o.format) {
        const ss_decoder_ops *ops = ss_decoder_find(in->o.format);
        if (!ops)
            ss_err_set(err, SS_EFORMAT, "%s: no decoder named '%s'", name, in->o.format);
        return ops;
    }
    const ss_decoder_ops *ops = ss_decoder_detect(name, head, n);
    if (!ops)
        ss_err_set(err, SS_EFORMAT, "%s: %s", name,
                   n ? "unknown format (no decoder recognises it)" : "empty input");
    return ops;
}

static const ss_decoder_ops *ssi_pick_decoder(ss_ingest *in, FILE *fp, const char *name,
                                              ss_err *err)
{
    if (in->o.format)
        return ssi_pick_by_head(in, NULL, 0, name, err);
    unsigned char head[SSI_HEAD_MAX];
    size_t n = fread(head, 1, sizeof head, fp);
    if (ferror(fp) || fseek(fp, 0, SEEK_SET) != 0) {
        ss_err_set(err, errno ? errno : EIO, "%s: cannot read: %s", name,
                   strerror(errno ? errno : EIO));
        return NULL;
    }
    return ssi_pick_by_head(in, head, n, name, err);
}

/* An input begins: counted, and the run's first one named. */
static void ssi_input_begin(ss_ingest *in, const char *name)
{
    in->t.inputs++;
    if (!in->first_input)
        in->first_input = strdup(name);
}

/* Every record of the input decoder @p ops has open as @p st. @return as ssi_decode_one() once
 * it stops going on. */
static int ssi_records(ss_ingest *in, const ss_decoder_ops *ops, void *st, const char *name,
                       ss_err *err)
{
    int rc;
    while ((rc = ssi_decode_one(in, ops, st, name, err)) == 1)
        ;
    return rc;
}

/* After an input's last record: its summary row, if any. @return @p rc, or SS_ENOMEM. */
static int ssi_input_done(ss_ingest *in, const char *name, int rc, ss_err *err)
{
    if (ssi_input_end(in, name) && !rc)
        return ss_err_set(err, SS_ENOMEM, "%s: out of memory", name);
    return rc;
}

int ss_ingest_stream(ss_ingest *in, FILE *fp, const char *name, ss_err *err)
{
    ssi_input_begin(in, name);
    const ss_decoder_ops *ops = ssi_pick_decoder(in, fp, name, err);
    void *st = NULL;
    if (!ops ||
        ops->open(fp, name, &in->o.decoder, ss_decoder_shared_get(in->shared, ops), &st, err))
        return ssi_reject_input(in, name, err);
    int rc = ssi_records(in, ops, st, name, err);
    ops->close(st);
    return ssi_input_done(in, name, rc, err);
}

int ss_ingest_memory(ss_ingest *in, const void *data, size_t len, const char *name, ss_err *err)
{
    ssi_input_begin(in, name);
    size_t n = len < SSI_HEAD_MAX ? len : SSI_HEAD_MAX;
    const ss_decoder_ops *ops = ssi_pick_by_head(in, data, n, name, err);
    void *st = NULL;
    FILE *fp = NULL;
    int rc = !ops ? SS_EFORMAT
                  : ss_decoder_open_memory(ops, data, len, name, &in->o.decoder,
                                           ss_decoder_shared_get(in->shared, ops), &st, &fp, err);
    if (rc == SS_ENOMEM)
        return rc; /* the message is not at fault: it must not be set aside as if it were */
    if (rc)
        return ssi_reject_input(in, name, err);
    rc = ssi_records(in, ops, st, name, err);
    ops->close(st);
    if (fp)
        fclose(fp);
    return ssi_input_done(in, name, rc, err);
}

int ss_ingest_source(ss_ingest *in, const ss_decoder_ops *ops, void *state, const char *name,
                     ss_err *err)
{
    ssi_input_begin(in, name);
    return ssi_input_done(in, name, ssi_records(in, ops, state, name, err), err);
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
    uint32_t n = in->cur->npk;
    for (unsigned i = 0; i < ssi_wq_count(&in->wq); i++)
        n += ((const ssi_batch *)ssi_wq_at(&in->wq, i))->npk;
    return n;
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
    json_t *o = json_pack("{s:s, s:s, s:f, s:I, s:I, s:s?, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                          "started", started, "finished", finished, "seconds", t->seconds, "inputs",
                          (json_int_t)t->inputs, "inputs_failed", (json_int_t)t->inputs_failed,
                          "first_input", in->first_input, "read", (json_int_t)t->read, "ingested",
                          (json_int_t)t->ingested, "history", (json_int_t)t->history, "duplicates",
                          (json_int_t)t->duplicates, "history_known", (json_int_t)t->history_known,
                          "upgraded", (json_int_t)t->upgraded, "rejected", (json_int_t)t->rejected,
                          "loci_created", (json_int_t)t->loci_created);
    if (o && in->overlap) {
        json_object_set_new(o, "waited_for_writer_seconds", json_real(t->waited_for_writer));
        json_object_set_new(o, "writer_idle_seconds", json_real(t->writer_idle));
    }
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return text;
}

static int ssi_put_run(ss_store_txn *txn, void *ctx, ss_err *err)
{
    (void)err;
    return ss_store_run_put(txn, ctx);
}

int ss_ingest_finish(ss_ingest *in, ss_ingest_totals *totals, ss_err *err)
{
    int rc = ss_ingest_flush(in, err);
    if (rc)
        return rc;
    ss_ingest_totals t;
    ss_ingest_totals_get(in, &t);
    char *text = ssi_run_json(in, &t);
    /* the ingest run joins the store's log of runs, so an operator sees what came in when */
    rc = text ? ss_store_write(in->store, ssi_put_run, text, "recording the ingest run", err)
              : ss_err_set(err, SS_ENOMEM, "recording the ingest run: out of memory");
    free(text);
    if (rc)
        return rc;
    if (totals)
        *totals = t;
    return 0;
}
