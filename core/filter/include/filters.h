/**
 * @file filters.h
 * @brief Filter sets: load, validate and order filters, run them on updated loci, store their
 * outputs.
 *
 * A filter set is described by an INI file (example: config/filters.ini):
 *
 *     [set]
 *     max_consecutive_failures = 10   ; a filter failing this many times in a row is disabled
 *     memory = 64M                    ; Lua memory cap per filter (default 64M)
 *     instructions = 10000000         ; Lua instruction budget per run (default 10,000,000)
 *
 *     [filter jump]                   ; one section per filter; the label is used in messages
 *     path = ../filters-contrib/jump/jump.lua   ; .so or .lua, relative to this file
 *     priority = 10                   ; lower runs first (default 100), then file order
 *     enabled = true
 *     memory = 16M                    ; overrides for this filter
 *     instructions = 1000000
 *     setup.threshold = 3.0           ; setup data: key = value ...
 *     setup_file.model = model.txt    ; ... or key = the contents of a file
 *
 * A filter requiring a tag runs after every filter that outputs it. A set in which a required tag
 * is output by no filter, or whose tag requirements form a cycle, is refused with the reason, as is
 * one with two filters of the same NAME or a filter that does not load, validate or set up.
 *
 * Ownership: ss_filter_set_load() returns a set owned by the caller (ss_filter_set_free()). A set
 * is used by one thread at a time.
 */
#ifndef SS_FILTERS_H
#define SS_FILTERS_H

#include "runtime.h"
#include "store.h"

#include <jansson.h>
#include <stdio.h>

typedef struct ss_filter_set ss_filter_set;

/** Load, validate, set up and order the filter set described by the INI file @p path. */
int ss_filter_set_load(const char *path, ss_filter_set **out, ss_err *err);

/**
 * A set of one filter file (for `skysieve filter check|run`), with default limits, set up with
 * @p items (may be NULL). Tag requirements are not checked against other filters.
 */
int ss_filter_set_single(const char *filter_path, const ss_setup_item *items, size_t n,
                         ss_filter_set **out, ss_err *err);

/**
 * Copy the set described by @p path (the INI and every enabled filter's file and setup files) into
 * the existing directory @p dir, with @p dir/filters.ini describing the copies. Loading the
 * snapshot gives the set as it was now, whatever happens to the originals later: a broker's
 * generation stays the same set when a worker restarts after the files changed on disk.
 * @p dir/sources lists each copy's name and its original path (tab-separated lines), so that
 * messages about a copy can name the original.
 * @return 0, or an error naming the file and the reason.
 */
int ss_filter_set_snapshot(const char *path, const char *dir, ss_err *err);

/** Tear every filter down and free the set. NULL is allowed. */
void ss_filter_set_free(ss_filter_set *fs);

/** Number of filters, in run order. */
size_t ss_filter_set_count(const ss_filter_set *fs);

/** The descriptor of filter @p i (owned by the set). */
const ss_filter_descriptor *ss_filter_set_descriptor(const ss_filter_set *fs, size_t i);

/** A filter's declarations as JSON (what `skysieve filter check` prints). Caller owns it. */
json_t *ss_filter_declarations_json(const ss_filter_descriptor *d, const char *runtime);

/**
 * Per-filter counters since the set was loaded, as JSON: runs, skipped (requirements missing),
 * errors, halts, tags added per tag, properties written, disabled, last error, time per run
 * p50/p90/p99 in microseconds. Caller owns it.
 */
json_t *ss_filter_set_stats_json(const ss_filter_set *fs);

/**
 * Run the set on stored loci without writing anything (the devkit's run_filter): locus
 * @p locus_id, or every locus when NULL, the newest alert of each as the trigger. Prints one JSON
 * line per locus: locus_id, new_locus_properties, new_alert_properties, new_tags, halted, errors,
 * t_us. Filter statistics accumulate in the set (ss_filter_set_stats_json()).
 * @return 0, SS_ENOTFOUND for an unknown locus, or a store error.
 */
int ss_filter_set_dry_run(ss_filter_set *fs, ss_store *s, const char *locus_id, FILE *out,
                          ss_err *err);

#endif
