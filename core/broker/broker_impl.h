/**
 * @file broker_impl.h
 * @brief Private to the broker: its state, shared by the event loop (broker.c) and intake
 * (broker_intake.c).
 */
#ifndef SS_BROKER_IMPL_H
#define SS_BROKER_IMPL_H

#include "broker.h"
#include "ctl_auth.h"
#include "ingest.h"
#include "journal.h"
#include "gcn_in.h"
#include "kafka_in.h"
#include "lockfile.h"
#include "notify.h"
#include "pool.h"
#include "publish.h"
#include "ratelimit.h"

#include <sys/types.h>

/* The input being processed, recorded so that a process that dies on it knows at its next start
 * (inflight.c). SSI_INFLIGHT_WHAT bounds its name ("journal msg-ID-OFF" or "spool NAME"). */
#define SSI_INFLIGHT_WHAT 480
typedef struct ssi_inflight ssi_inflight;
typedef struct ssi_inflight_mark {
    unsigned attempt; /* the attempt that was in progress (0: none) */
    char what[SSI_INFLIGHT_WHAT];
} ssi_inflight_mark;

/* The broker: owned by ss_broker_run(), one per process. */
typedef struct ssi_broker {
    ss_broker_conf c; /* [filters] is re-read on reload */
    const ss_log *lg;
    ss_lockfile *run_lock; /* RUN_DIR/broker.lock: one broker per run directory */
    ss_store *store;
    ss_ingest *in;
    ss_store_journal *jr;
    ss_store_jpos jpos_hook, jpos_txn;
    ssi_inflight *inflight; /* RUN_DIR/intake.inflight, open from the first intake start */
    ssi_inflight_mark left; /* what a process that died was doing: that input's deaths */
    uint64_t quarantined;   /* inputs set aside after max_attempts deaths on them */
    ss_ratelimit *rl_reject, *rl_aside; /* log lines per input, and per source (pull, spool) */
    char **spool_ready; /* spool files wholly ingested, to mark in the next commit */
    size_t nready, capready;
    char **spool_marked; /* marked in the last commit: to move to done/ (or failed/) */
    size_t nmarked, capmarked;
    ss_ingest_kafka_in *kafka; /* [input kafka]'s consumer; NULL while it waits to reopen */
    double kafka_retry_at;     /* a consumer that failed opens again then */
    int kafka_more;            /* the last round stopped at a bound: messages may be waiting */
    ss_ingest_kafka_in_stats kafka_past; /* counters of the consumers closed since the start */
    ss_ingest_gcn *gcn;                  /* [input gcn]'s consumer; NULL while it waits */
    double gcn_retry_at;
    int pull, ctl;                                    /* nanomsg sockets, or -1 */
    int pull_fd, ctl_fd, sigfd;                       /* pollable descriptors */
    ss_publish_set outs;                              /* [output] publish, then [output NAME]s */
    uint64_t out_failed_seen[SS_PUBLISH_MAX_OUTPUTS]; /* delivery failures logged, per output */
    ss_publish_notifier *notify; /* watch-list notifications: the stream and webhooks */
    ssi_pool_conf pc;
    ssi_gen *cur, *next;
    unsigned gen_seq;
    int initial; /* next is the first generation: failing to load stops the broker */
    /* The control socket is a raw REP: each request comes with its routing header (a nanomsg
     * chunk, owned here until the answer is sent), so a reload's request can wait for its outcome
     * while the requests after it (status) are answered at once. */
    void *req_hdr;    /* the request being answered */
    void *reload_hdr; /* the `ctl reload` waiting for the new generation, or NULL */
    /* With a secret, an accepted request's answer carries the MAC of its nonce (ctl_auth.h). */
    ssi_ctl_guard *ctl_guard; /* the nonces seen within the window; NULL without a secret */
    ssi_ctl_nonce req_nonce, reload_nonce;
    int req_authed, reload_authed; /* the nonce is that of an accepted request */
    uint64_t *cursor;              /* per worker slot: the last queue sequence taken */
    uint64_t queue_len;
    uint64_t ingested_mark; /* the ingest run's committed alerts when queue_len was read */
    int paused, stopping, store_failed;
    double retry_at;
    uint64_t alerts_in, rejected, spool_done, spool_failed, pull_msgs, published;
    uint64_t pull_oversized; /* messages over [input pull] max_message_size, refused */
    double t_start, next_scan, next_rate, rate_t;
    double flush_at;   /* alerts taken in wait for the store commit until then (0: none wait) */
    double flushed_at; /* when the last intake commit ended */
    double flush_took; /* and how long it took */
    double next_watch; /* the watch outbox is not drained before (a failed drain backs off) */
    double outputs_retry_at; /* answered batches are not stored before (a failed store backs off) */
    uint64_t outputs_failing; /* failed attempts to store answered batches since the last success */
    uint64_t rate_alerts;
    /* loci whose filters' outputs were stored (dequeued), and that count at the last rate line:
     * beside intake's rate, it shows the output side keeping up or falling behind */
    uint64_t filtered, rate_filtered;
    ss_arena *arena;
    ss_err fatal;
    struct {
        pid_t pid; /* `skysieve serve` beside the broker ([serve]), or 0 */
        double started, next_start, backoff;
        unsigned restarts;
    } serve;
} ssi_broker;

/** `skysieve serve` beside the broker (beside.c): start it, restart it when it died (with a
 * growing pause), stop it. */
void ssi_beside_start(ssi_broker *b);
void ssi_beside_round(ssi_broker *b, double now);
void ssi_beside_stop(ssi_broker *b);

/** Append @p s (owned; freed on failure) to a growable array. @return 0 or SS_ENOMEM. */
int ssi_push(char ***arr, size_t *n, size_t *cap, char *s);

/**
 * The take() callback of ss_assoc_watch_drain(): hands one outbox entry (@p ctx: the broker) to the
 * notifier. @return 0 when it is published and spooled (the outbox entry may go); nonzero keeps
 * it in the outbox for the next drain (the spool could not be written); a malformed entry is
 * logged and taken, since it would never pass.
 */
int ssi_notify_take(void *ctx, const char *list, const char *json, size_t len);

/** RUN_DIR/intake.inflight: @p left gets what a process that died there was doing. The mapping
 * is owned by @p out (ssi_inflight_close()). @return 0 or an errno naming the file in @p err. */
int ssi_inflight_open(const char *run_dir, ssi_inflight **out, ssi_inflight_mark *left,
                      ss_err *err);
/** Mark @p what in progress, its @p attempt-th try: no system call, survives the process. */
void ssi_inflight_begin(ssi_inflight *f, const char *what, unsigned attempt);
/** Nothing in progress any more. */
void ssi_inflight_end(ssi_inflight *f);
void ssi_inflight_close(ssi_inflight *f);

/** Start ingesting: the journal from where the store says it stopped, then replayed. */
int ssi_intake_start(ssi_broker *b, ss_err *err);
/** End the ingest run (its totals join the broker's). */
void ssi_intake_free(ssi_broker *b);
/** At the broker's stop: what intake keeps across runs (the in-progress mark, the limiters). */
void ssi_intake_release(ssi_broker *b);
/** [input gcn] in `ctl status`: the consumer's counters. */
json_t *ssi_gcn_json(const ssi_broker *b);

/** [input kafka] in `ctl status`: the counters of every consumer since the start. */
json_t *ssi_kafka_json(const ssi_broker *b);
/** Take messages, scan the spool when @p scan_spool, commit; a store failure pauses intake. */
void ssi_intake_round(ssi_broker *b, int scan_spool);

#endif
