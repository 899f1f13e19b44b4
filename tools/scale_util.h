/*
 * Shared by the scale tests (scale_kill, scale_reload): alerts with unique ids, a `skysieve run`
 * child started and killed by the tool itself, its control socket, and the counts that decide
 * whether anything was lost or doubled, read from the store through the library and from the
 * log of tools/scale_filters/count.c.
 */
#ifndef SS_TOOLS_SCALE_UTIL_H
#define SS_TOOLS_SCALE_UTIL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/** Alert ids are a kind letter and ten digits: S (spool), P (pull), K (Kafka). */
#define SC_ID_LEN 11
#define SC_KINDS  3
extern const char sc_kind_letter[SC_KINDS]; /* "SPK" */

/** The index of kind letter @p c, or -1. */
int sc_kind(char c);

/** A CSV of @p n alerts of kind @p kind numbered from @p first, each on its own locus (unique
 * positions 36" apart at least). @return malloc'd text (caller frees), its length in *len. */
char *sc_csv(char kind, uint64_t first, unsigned n, size_t *len);

/** Write @p text to DIR/.NAME, then rename it to DIR/NAME (a spool takes whole files only). */
void sc_spool_put(const char *dir, const char *name, const char *text, size_t len);

/** Start `EXE run --config CONF`, its output appended to @p log. @return its pid, which
 * sc_guard_signals()'s handlers kill. */
pid_t sc_spawn(const char *exe, const char *conf, const char *log);

/** On SIGINT or SIGTERM, kill the last broker sc_spawn() started before dying of the signal: a
 * broker left running would take the next run's spool files into its own store. SIGPIPE is
 * ignored. */
void sc_guard_signals(void);

/** Send {"cmd": CMD} on a new REQ socket to @p address; wait @p timeout s at most.
 * @return the answer (caller decrefs), or NULL when none came. */
json_t *sc_ctl(const char *address, const char *cmd, double timeout);

/** What the store holds, read through the library (read-only, beside a running broker). */
typedef struct sc_store_counts {
    uint64_t alerts, loci, duplicates, rejected;
} sc_store_counts;

/** Read the store's counters. @return 0, or -1 (the reason printed) when it cannot be opened. */
int sc_store_counts_get(const char *store, sc_store_counts *out);

/**
 * For each kind, whether alerts 0 .. sent[kind]-1 are stored: found[kind][i] set to 1 or 0.
 * @return the number of stored ids, or -1 when the store cannot be read.
 */
int64_t sc_store_find(const char *store, const uint64_t sent[SC_KINDS], uint8_t *found[SC_KINDS]);

/**
 * Count the filter's runs per alert from its log: runs[kind][i] (saturating at 255). Lines of
 * other ids, or of ids beyond sent[kind], count in *foreign. @return the lines read.
 */
uint64_t sc_runs_read(const char *path, const uint64_t sent[SC_KINDS], uint8_t *runs[SC_KINDS],
                      uint64_t *foreign);

/** `skysieve verify --store STORE` (exe). @return its exit status (0: consistent). */
int sc_verify(const char *exe, const char *store);

/** Milliseconds of wall time as "1h02m03s". @p buf of 32 bytes at least. */
const char *sc_hms(double seconds, char *buf);

#endif
