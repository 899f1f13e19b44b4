/**
 * @file search.h
 * @brief Search the loci of a store with conditions, a sort order and pages, through indexes.
 *
 * A search has one driving index, chosen from its conditions in this order of preference:
 *  - a cone (ra, dec, radius): the sky index; results by separation unless another sort is asked;
 *  - an object id: the objects table (one or a few loci);
 *  - a catalog or a watch list matched: the catalog_loci index (store format 6), in locus id
 *    order (with both, the catalog drives and the watch list is checked);
 *  - a tag: the tag index (tag, tagged MJD, locus), walked in tagged-MJD order, from tagged_since;
 *  - none of these: the loci table (sort locus_id) or the loci_newest index (sort
 *    newest_alert_observation_time, store format 6).
 * The other conditions are checked on each locus the driving index gives. When the driving index
 * walks in the sort's order (loci by locus_id, loci_newest by newest_alert_observation_time,
 * catalog_loci by locus_id, tag_index by tagged_mjd, either direction) the page is cut from the
 * walk: the pages before it are stepped over reading index keys only (no locus record is read
 * unless a condition needs it) and the walk stops one match after the page, unless a count is
 * asked. Any other sort (e.g. num_alerts over a tag, or the separation of a cone) collects the
 * matching loci's sort keys (at most SS_QUERY_SORT_CAP; more is SS_ELIMIT with a message saying
 * to narrow the search) and sorts them in memory. "total" (count) walks every match of the
 * driving index.
 *
 * A store of format 5 opened read-only lacks the format 6 indexes: a sort by
 * newest_alert_observation_time without a driving condition is then done in memory over every
 * locus (with the cap), and a catalog or watch-list search scans every locus's matches
 * (locus_matches) instead of reading the catalog's own entries. ss_query_page.index says which.
 *
 * Every function runs in one read transaction: one consistent snapshot.
 */
#ifndef SS_SEARCH_H
#define SS_SEARCH_H

#include "store.h"

#include <stddef.h>
#include <stdint.h>

/** The most loci a search sorts in memory when no index gives its order. */
#define SS_QUERY_SORT_CAP 200000

typedef enum ss_query_op {
    SS_QUERY_EQ,
    SS_QUERY_GT,
    SS_QUERY_GTE,
    SS_QUERY_LT,
    SS_QUERY_LTE,
} ss_query_op;

/** A condition on a locus property: the broker's own (num_alerts, num_mag_values,
 * newest_alert_observation_time, brightest_alert_magnitude, num_alerts_<band>, ...; query.h),
 * the survey's or one a filter wrote. A number compares numerically with an int, float or bool
 * (0, 1) property; with @p text set (EQ only) the property must be a string equal to it. A locus
 * without the property, or whose value is of another type or NaN, does not match. */
typedef struct ss_query_cond {
    const char *prop; /**< borrowed for the call */
    ss_query_op op;
    double num;
    const char *text; /**< NULL: compare @p num */
} ss_query_cond;

/** What to search. Every pointer is borrowed for the call; zero fields are "no condition". */
typedef struct ss_query_search {
    int cone; /**< 1: only loci within radius_arcsec of (ra, dec) */
    double ra, dec, radius_arcsec;
    const char *tag;       /**< only loci carrying this tag (one no locus carries: no match) */
    double tagged_since;   /**< with tag: first tagged at or after this MJD (0: any) */
    const char *object_id; /**< only the loci of this survey object id */
    const char *catalog;   /**< only loci matched in this catalog (by name) */
    const char *watch;     /**< only loci matched in this watch list (by name) */
    const ss_query_cond *conds;
    size_t nconds;
    /** Sort key: "locus_id", "newest_alert_observation_time", "separation" (cone),
     * "tagged_mjd" (tag), or any numeric locus property (sorted in memory, see above). NULL: the
     * driving index's own order (separation for a cone, tagged_mjd for a tag, else locus_id).
     * Loci without the key sort last both ways; ties go by locus id (reversed when
     * descending). */
    const char *sort;
    int descending;
    size_t page;      /**< 1-based (0: 1) */
    size_t page_size; /**< at least 1 */
    int count;        /**< compute the total number of matches */
} ss_query_search;

/** One locus of a page, with what its search knows of it. */
typedef struct ss_query_hit {
    ss_locus locus;
    double separation_arcsec; /**< cone searches; NAN otherwise */
    ss_tag_record tag;        /**< searches with a tag (tag.mjd > 0); zeroed otherwise */
    double sort_value;        /**< the sort key's value (NAN: the locus has none; locus_id) */
} ss_query_hit;

/** A page of results, owned by the caller (ss_query_page_free()). */
typedef struct ss_query_page {
    ss_query_hit *hits;
    size_t n;
    size_t page, page_size;
    int has_next;
    int64_t total;     /**< -1 unless count was asked */
    const char *index; /**< the driving index used ("sky", "objects", "catalog_loci",
                          "locus_matches" (format 5, read-only), "tag_index", "loci",
                          "loci_newest"), for the answer and the documentation; static */
} ss_query_page;

/**
 * Run @p q and return the asked page in @p out.
 * @return 0 (an empty page when nothing matches, the tag is unknown or the page is past the
 *         end); SS_EINVAL for a bad search (err names the ss_query_search field and the reason:
 *         ra, dec, radius_arcsec, page_size, an empty tag, object_id, catalog or watch, an
 *         unknown catalog or watch list, tagged_since without a tag, a condition, a sort that
 *         cannot apply); SS_ELIMIT when an unindexed sort would hold more than
 *         SS_QUERY_SORT_CAP loci; a store error. On failure @p out holds no hits.
 */
int ss_query_search_run(ss_store *s, const ss_query_search *q, ss_query_page *out, ss_err *err);

/** Free what ss_query_search_run() returned in @p p (not @p p itself). NULL fields allowed. */
void ss_query_page_free(ss_query_page *p);

#endif
