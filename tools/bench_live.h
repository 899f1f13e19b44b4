/*
 * Shared by the benchmarks of the live broker (bench_broker, bench_kafka): a `skysieve run` child
 * process with its control socket, the tag stream it publishes, and a few statistics. Every
 * failure ends the benchmark with a message (bl_die), since a figure from a broken run is no
 * figure.
 */
#ifndef SS_TOOLS_BENCH_LIVE_H
#define SS_TOOLS_BENCH_LIVE_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

/** Monotonic seconds. */
double bl_now(void);
void bl_sleep_until(double t);
/** Print "PROGRAM: WHAT: DETAIL" to stderr and exit(1). @p detail may be NULL. */
void bl_die(const char *what, const char *detail);
/** "DIR/NAME", malloc'd (caller frees). */
char *bl_path(const char *dir, const char *name);
void bl_write_text(const char *path, const char *text);

/** Sort @p v ascending. */
void bl_sort(double *v, size_t n);
/** Nearest-rank percentile @p p (0..1) of sorted @p v; NAN when empty. */
double bl_pct(const double *v, size_t n, double p);
/** Median of @p v (sorted in place); NAN when empty. */
double bl_median(double *v, size_t n);
double bl_max(const double *v, size_t n);

/** The control socket (REQ). */
typedef struct bl_ctl {
    int sock;
} bl_ctl;

void bl_ctl_open(bl_ctl *c, const char *address, double timeout);
/** Send {"cmd": CMD}. @return the answer (caller decrefs), or NULL on a timeout; *wall (may be
 * NULL): the round trip in seconds. */
json_t *bl_ctl_ask(bl_ctl *c, const char *cmd, double *wall);
/** A number of @p o, NAN when absent. */
double bl_jnum(json_t *o, const char *key);

/** A broker child: its directory, config, log and sockets (ipc in its directory). */
typedef struct bl_broker {
    char *dir, *conf, *log;
    char *in_addr, *pub_addr, *ctl_addr;
    pid_t pid;
    bl_ctl c;
    int exit_status;
} bl_broker;

/** Name @p b's files and sockets in WORK/NAME (created). */
void bl_broker_init(bl_broker *b, const char *work, const char *name);
/**
 * Write the config (store and run under the directory, @p inputs: the input sections as INI text,
 * the filter set @p set with @p workers, publish on pub_addr, control on ctl_addr), start
 * `EXE run --config` with its output in the log, and wait until its first generation runs.
 */
void bl_broker_start(bl_broker *b, const char *exe, const char *inputs, const char *set,
                     int workers);
int bl_broker_alive(bl_broker *b);
/** Say what failed with the end of the broker's log, kill it, exit(1). */
void bl_broker_fail(bl_broker *b, const char *what);
/** The "status" object of `ctl status` (caller decrefs), NULL on a timeout. */
json_t *bl_broker_status(bl_broker *b);
/**
 * Stop through the control socket; SIGTERM, then SIGKILL, when that does not end it. Warnings
 * and errors of the log are shown. The directory is removed unless @p keep.
 * @return a note when the stop was not clean, else NULL.
 */
const char *bl_broker_stop(bl_broker *b, int keep);

/** The index of the alert with id @p id (@p len bytes, not terminated), or -1 for another. */
typedef int64_t (*bl_index_fn)(void *ctx, const char *id, size_t len);

/**
 * The tag stream: messages of one topic, each counted once per alert it names (the JSON's
 * "alert":{"alert_id":...}); the time a new alert's message arrives goes to recv[index].
 * Alerts with ids starting "warm-" count in warm (warm-up alerts).
 */
typedef struct bl_listener {
    int sock;
    bl_index_fn index;
    void *ctx;
    double *recv;
    pthread_t th;
    atomic_int stop;
    atomic_uint_fast64_t got, dups, foreign, warm, msgs;
    _Atomic double last; /* when the last new alert's message came */
} bl_listener;

void bl_listen_start(bl_listener *l, const char *address, const char *topic, bl_index_fn index,
                     void *ctx, double *recv);
void bl_listen_stop(bl_listener *l);

#endif
