/**
 * @file pool.h
 * @brief Private to the broker: filter-set generations and their worker processes.
 *
 * A generation is one snapshot of the filter set (filters.h ss_filter_set_snapshot()) run by
 * `workers` processes. The pool starts them, hands them batches of queued dispatches, collects
 * their answers, and deals with their deaths: the filter that was running when a worker crashed
 * or overran its time is charged with it and left out of that dispatch when it is run again; after
 * max_crashes it is disabled for the generation. The broker owns the pool and everything in it.
 */
#ifndef SS_POOL_H
#define SS_POOL_H

#include "confine.h"
#include "filters.h"
#include "log.h"
#include "queue.h"
#include "wire.h"
#include "worker.h"

#include <jansson.h>
#include <sys/types.h>

/** The broker's account of one filter of a generation. */
typedef struct ssi_gfilter {
    char *label, *name, *version, *runtime;
    char **tags;
    size_t ntags;
    ss_filter_stats st; /* runs, skipped, errors, halts, props, tag counts, times */
    uint64_t crashes, timeouts;
    int disabled; /* 1 by crashes or errors, 2 by the operator */
    char disabled_reason[160];
    ss_ratelimit *out; /* its stdout and stderr in the log, over all workers; owned */
} ssi_gfilter;

/** A dispatch handed to a worker: its queue entry, what to leave out, and its answer. */
typedef struct ssi_job {
    ss_store_queue_entry q;
    uint8_t *exclude; /* per filter: 1 leaves it out of this dispatch (a culprit) */
    unsigned attempts;
    int answered;
    ss_wbuf answer; /* the 'R' frame */
} ssi_job;

enum { SSI_W_DOWN, SSI_W_STARTING, SSI_W_IDLE, SSI_W_BUSY };

typedef struct ssi_wproc {
    pid_t pid;
    int fd;
    ssi_worker_shm *shm;
    int state;
    double deadline; /* monotonic seconds: hello or the next answer is due */
    int killed;      /* we sent SIGKILL for a timeout */
    unsigned restarts;
    double restart_at; /* a worker that would not start is retried at this time */
    ssi_job *jobs;
    size_t njobs, capjobs, nanswered;
    ss_wbuf rx;        /* the frame being read */
    int cap[2];        /* the capture memfds of its fds 1 and 2 (confine.h), read after its death */
    ss_ratelimit *out; /* output no filter is named for (setups, the worker itself); owned */
} ssi_wproc;

typedef struct ssi_gen {
    unsigned id;
    char *dir, *ini; /* the snapshot */
    ssi_gfilter *f;
    size_t nf;
    int have_filters;    /* the first hello filled f */
    json_t *declared;    /* the first hello's "filters": each one's declared outputs (owned) */
    unsigned max_errors; /* the set's max_consecutive_failures */
    ssi_wproc *w;
    size_t nw;
    double started;
    char error[SS_ERR_MSG_MAX]; /* why it failed to load */
} ssi_gen;

/**
 * Each worker's rlimits, set in the child between fork and exec, before any filter is loaded
 * (0: left as the broker's). memory is RLIMIT_DATA, not RLIMIT_AS: the read-only store map is
 * address space the size of the store's map (it doubles as the store grows), which a memory cap
 * must not count. Sanitized builds skip memory: ASan reserves terabytes of shadow at start.
 * cpu_seconds is the worker's lifetime CPU time (a restart resets it); open_files also decides
 * where the broker's socket is kept (SSI_WORKER_FD); processes counts the user's processes, and
 * root ignores it.
 */
typedef struct ssi_worker_limits {
    uint64_t memory, cpu_seconds, open_files, processes;
} ssi_worker_limits;

/** Settings the pool reads from the broker's configuration. */
typedef struct ssi_pool_conf {
    const char *exe, *store_dir;
    double timeout;
    unsigned max_crashes;
    unsigned batch;
    ssi_worker_limits limits;
    uint32_t allow; /* [broker] worker_allow: SSI_ALLOW_* */
    long uid, gid;  /* [broker] worker_user, or -1 */
} ssi_pool_conf;

/** Snapshot @p set_ini into @p dir and start @p nw workers on it. @return the generation. */
int ssi_gen_start(const ssi_pool_conf *pc, unsigned id, const char *set_ini, const char *dir,
                  size_t nw, ssi_gen **out, ss_err *err);

/** Stop every worker (quit, then SIGKILL after @p grace seconds) and free the generation. */
void ssi_gen_free(ssi_gen *g, double grace);

/** 1 when every worker said hello; -1 when loading failed (g->error says why); 0 not yet. */
int ssi_gen_ready(const ssi_gen *g);

/** 1 when no worker holds a job. */
int ssi_gen_idle(const ssi_gen *g);

/** Hand @p n jobs to idle worker @p w. @return 0 or an errno (the worker is then restarted). */
int ssi_wproc_send(const ssi_pool_conf *pc, ssi_gen *g, ssi_wproc *w, const ss_store_queue_entry *q,
                   size_t n, const ss_log *lg);

/**
 * Handle what worker @p w has to say (readable, or its deadline passed): hello, answers, death.
 * @return 1 when its batch is complete (every job answered: the caller stores them and calls
 * ssi_wproc_done()), 0 otherwise.
 */
int ssi_wproc_event(const ssi_pool_conf *pc, ssi_gen *g, ssi_wproc *w, int readable,
                    const ss_log *lg);

/** Start workers that are down and due for a restart. */
void ssi_gen_tend(const ssi_pool_conf *pc, ssi_gen *g, const ss_log *lg);

/** Forget worker @p w's completed jobs; it becomes idle. */
void ssi_wproc_done(ssi_wproc *w);

/** Count an answer into the generation's statistics (called once its outputs are committed). */
void ssi_gen_account(const ssi_pool_conf *pc, ssi_gen *g, const ssi_job *job, const ss_log *lg);

/** A worker's answer, parsed for storing. Strings live in the arena given to the parser. */
typedef struct ssi_answer {
    uint64_t seq;
    int failed;
    double mjd;
    ss_filter_outputs o;
    const char **events; /* the published JSON of each tag event */
} ssi_answer;

/** Parse an 'R' frame. @return 0, EPROTO or SS_ENOMEM. */
int ssi_answer_parse(const ss_wbuf *frame, ss_arena *a, ssi_answer *out);

/** Index of the filter labelled @p label, or -1. */
int ssi_gen_find(const ssi_gen *g, const char *label);

/** The generation's filters and their statistics, as JSON (status). */
json_t *ssi_gen_json(const ssi_gen *g);

/** Monotonic seconds. */
double ssi_mono(void);

#endif
