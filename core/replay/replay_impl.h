/**
 * @file replay_impl.h
 * @brief Private to the replay: the time-ordered staging of a night, and what a run collects.
 */
#ifndef SS_REPLAY_IMPL_H
#define SS_REPLAY_IMPL_H

#include "decoder.h"
#include "filters.h"
#include "replay.h"

#include <jansson.h>
#include <signal.h>

/* ---- staging (replay_stage.c) ----
 * Every valid packet of the inputs is serialised to a file as it is decoded, with an index entry
 * (observation time, sky pixel, offset) kept in memory; sorting the index gives the night in
 * observation order without holding the alerts in memory. The sorted offsets then go to a second
 * file and the index is freed, and the staging is read back as a decoder. */
typedef struct ssi_stage ssi_stage;

/** One packet of the staging file: where it is, and when and where its primary alert was
 * observed. Alerts of one exposure share their time; taking them by sky pixel lets a replay reach
 * the store's loci in key order, as a survey's visit would, rather than at random. */
typedef struct ssi_stage_entry {
    double mjd;
    uint64_t off; /**< also the input order: ties of mjd and sky keep it */
    uint32_t sky; /**< ss_store_locus_sky_pixel() of the primary alert */
} ssi_stage_entry;

/** Sort @p n entries by (mjd, sky, off), in place and in O(n log n) (no copy of the index). */
void ssi_stage_index_sort(ssi_stage_entry *e, size_t n);

/** Create the staging file in directory @p dir (removed by ssi_stage_free()). */
int ssi_stage_new(const char *dir, ssi_stage **out, ss_err *err);
/** Append a packet (its primary alert's time, then sky pixel, order it). @return 0, SS_ENOMEM or
 * an errno. */
int ssi_stage_put(ssi_stage *st, const ss_packet *pkt, ss_err *err);
/** Finish writing and sort by observation time, ties by sky pixel, then in input order; the
 * index is written out and freed (no ssi_stage_put() after this). @return 0, SS_ENOMEM or an
 * errno. */
int ssi_stage_sort(ssi_stage *st, ss_err *err);
/** Packets staged. */
uint64_t ssi_stage_count(const ssi_stage *st);
/** Observation time of the first and last primary alert (NAN when empty); after sorting. */
void ssi_stage_span(const ssi_stage *st, double *first, double *last);
/** Make reading fail with EINTR once *@p stop is non-zero (NULL: never). */
void ssi_stage_watch(ssi_stage *st, const volatile sig_atomic_t *stop);
/** Read from the first packet again. */
void ssi_stage_rewind(ssi_stage *st);
/** Remove the file and free. NULL is allowed. */
void ssi_stage_free(ssi_stage *st);
/** The staging read back in order, as a decoder whose state is the ssi_stage (no open/close). */
extern const ss_decoder_ops ssi_stage_decoder;

/* ---- resident memory (replay.c) ---- */

/** The bound on the file pages a replay keeps mapped (ss_replay_options.max_mapped). */
typedef struct ssi_mapped {
    size_t max;     /* bytes; 0: no bound */
    unsigned calls; /* the process's resident file pages are read every SSI_MAPPED_EVERY calls */
    uint64_t unmaps;
} ssi_mapped;

/**
 * Called once per dispatch, or per record a report reads: when the process's resident file pages
 * exceed the bound, unmap the stores it reads (@p b may be NULL; ss_store_unmap()). A replay reads
 * most of its scratch store, whose every page read would stay mapped and resident.
 */
void ssi_mapped_tick(ssi_mapped *m, ss_store *a, ss_store *b);

/* ---- what a run collects (replay_collect.c) ---- */
typedef struct ssi_collect ssi_collect;

/** The first time a locus got a tag: the filter and the alert whose dispatch set it. */
typedef struct ssi_tagged {
    const char *tag, *filter; /* the filter declarations' own strings */
    char locus_id[SS_LOCUS_ID_LEN + 1];
    uint32_t locus;                     /* the collector's index of the locus */
    char *survey, *alert_id, *passband; /* the trigger's; owned by the collector */
    double mjd, mag;
} ssi_tagged;

/** A collector for runs of @p fs (borrowed; it must outlive the collector). NULL: out of memory. */
ssi_collect *ssi_collect_new(const ss_filter_set *fs);
void ssi_collect_free(ssi_collect *c);
/** Keep what a dispatch did until its batch commits; NULL: the batch starts over (see
 * ss_ingest_options.on_dispatch). */
void ssi_collect_dispatch(ssi_collect *c, const ss_filter_dispatch_info *d);
/** Count what was kept since the last commit (called from on_commit). @return 0 or SS_ENOMEM. */
int ssi_collect_commit(ssi_collect *c);
/** Out of memory while collecting: the report would be incomplete. */
int ssi_collect_failed(const ssi_collect *c);

/**
 * The run's report: per filter counts, errors and times, per tag the loci with the alert that
 * first triggered the tag (positions and object ids read from @p s, in @p txn), and the fraction
 * of loci tagged. Caller owns it. @return NULL when out of memory or on a store error (@p err).
 */
json_t *ssi_collect_report(ssi_collect *c, ss_store_txn *txn, uint64_t loci, ssi_mapped *m,
                           ss_err *err);

/** Every first tagging of the run sorted by tag, then locus id. Caller frees the array (not the
 * entries, which the collector owns). @return NULL when out of memory (or none: *n is 0). */
const ssi_tagged **ssi_collect_tags(const ssi_collect *c, size_t *n);

/* ---- comparing two runs (replay_diff.c) ---- */

/**
 * How the set's run differs from the baseline's: loci tagged by one and not the other, per tag,
 * and filter-written properties (locus and alert) that differ beyond @p tolerance. Caller owns it.
 */
json_t *ssi_diff_report(const ssi_collect *set, ss_store *sset, const ssi_collect *base,
                        ss_store *sbase, double tolerance, size_t max_listed, ssi_mapped *m,
                        ss_err *err);

#endif
