/**
 * @file replay.h
 * @brief Replay recorded nights through a filter set, for review before it goes live.
 *
 * A replay reads every input (any format `skysieve ingest` reads), sorts the valid alerts by
 * observation time (an exposure's alerts, which share their time, by sky pixel, then in input
 * order) and ingests them, in that order, into a scratch store with the filter set
 * running on every updated locus, as the live broker would. It never opens an existing store:
 * the scratch store is created in a new directory (and removed afterwards unless the caller asked
 * to keep it). With a baseline set the same night runs again through it, into a second store, and
 * the report says how the two differ.
 *
 * The report is deterministic: the same inputs (in the same order) and filter sets give the same
 * report, byte for byte, apart from its timing fields: the top-level "timing" object, each
 * filter's "time_us", and validation failures of check "time_budget".
 *
 * Report (JSON object; "format" is bumped when a field changes meaning):
 *   format, filters, baseline, inputs[], alerts{inputs_failed (inputs not read at all), read,
 *   replayed, history, duplicates, rejected, rejected_by_reason{}, first_mjd, last_mjd}, loci,
 *   set{...run...}, baseline_run{...run...}, diff{...}, validation{enabled, passed, limits{},
 *   failures[]}, timing{read_seconds, replay_seconds, baseline_seconds, alerts_per_second,
 *   max_mapped (the bound, bytes; 0: none), store_unmaps (its work)}
 * A run: loci_tagged, fraction_tagged, filters[{label, name, version, runtime, path, loci_seen,
 *   dispatches, runs, skipped, errors, halts, properties_written, tagged{tag: loci},
 *   first_errors[{locus_id, alert_id, message}], time_us{p50, p90, p99, max}}],
 *   tags{tag: {loci, fraction, list[{locus_id, object_ids[], ra, dec, filter, alert{survey,
 *   alert_id, mjd, passband, mag}}]}}.
 *
 * This folder (core/replay/) exports ss_replay_*; its private names (ssi_) stay inside it.
 */
#ifndef SS_REPLAY_H
#define SS_REPLAY_H

#include "decoder.h"

#include <jansson.h>
#include <signal.h>
#include <stdint.h>

/** Bumped when a field of the report changes meaning or goes away. */
#define SS_REPLAY_REPORT_FORMAT 1

/** What fails a replay in validation mode (`--validate`). */
typedef struct ss_replay_limits {
    int enabled;             /**< 0: report only, never fail */
    uint64_t max_errors;     /**< a filter failing on more runs than this fails (default 0) */
    double time_budget_us;   /**< a filter whose time per locus p99 exceeds this fails */
    double max_tag_fraction; /**< a filter tagging more than this fraction of loci with one tag */
} ss_replay_limits;

/** Defaults of validation mode: no error, 10 ms p99, 5 % of loci per tag. */
#define SS_REPLAY_DEFAULT_BUDGET_US    10000.0
#define SS_REPLAY_DEFAULT_TAG_FRACTION 0.05

/** `skysieve replay`'s bound on resident file pages (ss_replay_options.max_mapped): a 10M-alert
 * night then peaks at about 400 MiB resident instead of 3.6 GiB, for 23-29% more time; a night
 * whose store stays under it never pays. */
#define SS_REPLAY_MAX_MAPPED_DEFAULT ((size_t)256 << 20)

/** Where a replay is, for a progress display. */
typedef struct ss_replay_progress {
    const char *phase; /**< "reading", "replaying" or "baseline" */
    uint64_t done;     /**< alerts (packets) read or replayed so far */
    uint64_t total;    /**< 0 while reading (not known yet) */
    double seconds;    /**< since the phase began */
    int finished;      /**< 1 on the phase's last call */
} ss_replay_progress;

typedef struct ss_replay_options {
    const char *filters;       /**< the filter set's INI file under review */
    const char *baseline;      /**< the INI of the set to compare with, or NULL */
    const char *store_dir;     /**< keep the store here (absent or empty directory; with a
                                  baseline its store goes to STORE_DIR.baseline); NULL: a
                                  scratch directory under $TMPDIR, removed at the end */
    const char *const *inputs; /**< files or directories */
    size_t ninputs;
    double radius_arcsec;      /**< association radius of the scratch stores (0: 1") */
    const char *catalogs_from; /**< a store whose catalogs and watch lists are copied into the
                                  scratch stores, so filters see the matches (NULL: none) */
    const char *format;        /**< decoder name for every input, or NULL to detect */
    ss_decoder_config decoder; /**< as for ingest */
    double tolerance;          /**< property values differ when |a-b| > tol * max(1,|a|,|b|) */
    size_t max_listed;         /**< property changes listed per property (0: 100) */
    /** Resident file pages (bytes) above which the replay unmaps its stores (ss_store_unmap()),
     * so that its memory does not grow with the night: every page of the scratch store it reads
     * would otherwise stay mapped. Costs time (pages are mapped again as read), never data.
     * 0: no bound; `skysieve replay` gives SS_REPLAY_MAX_MAPPED_DEFAULT. */
    size_t max_mapped;
    ss_replay_limits limits;
    /** May be NULL: called a few times a second at most, and once at the end of each phase. */
    void (*progress)(void *ctx, const ss_replay_progress *p);
    void *ctx;
    /** May be NULL. Set from a signal handler to stop: the replay then removes its scratch
     * directory and returns EINTR within one packet. */
    const volatile sig_atomic_t *interrupt;
} ss_replay_options;

/**
 * Run a replay.
 * @param[out] report the report (caller owns; json_decref()), also when validation failed: then
 *             report.validation.passed is false and report.validation.failures says why.
 * @return 0 when the replay ran (whatever the validation found); SS_EINVAL for bad options or a
 *         store directory that is not new; a filter set's load error; SS_ENOMEM, an errno or an
 *         LMDB code with @p err naming the file and the reason. Bad input records are not errors:
 *         they are rejected, kept in the store and counted in the report.
 */
int ss_replay_run(const ss_replay_options *o, json_t **report, ss_err *err);

#endif
