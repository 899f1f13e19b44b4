/**
 * @file verify.h
 * @brief Check a store's internal consistency (what `skysieve verify` runs).
 *
 * Checked, in one read transaction: every alert names a locus that exists and is listed once in
 * locus_alerts; every locus_alerts entry names a stored alert of that locus; each locus's
 * num_alerts equals its alerts; each locus is in the sky index exactly once, at its position; the
 * counters equal the tables' sizes; in format 6, each locus is in loci_newest at its newest
 * MJD and each locus_matches entry has its reverse in catalog_loci, with no entries besides; in
 * format 10, every alert record decodes (a compressed one with its dictionary), each dictionary
 * of the zdict table is one zstd recognises and each survey's names one that is there.
 * Cost: one pass over every table.
 */
#ifndef SS_VERIFY_H
#define SS_VERIFY_H

#include "store.h"

#include <stdint.h>
#include <stdio.h>

typedef struct ss_verify_report {
    uint64_t alerts, loci, locus_alerts, sky_entries, cutouts;
    uint64_t newest_entries, catalog_loci, locus_matches; /**< format 6's indexes (0 before) */
    uint64_t problems; /**< inconsistencies found; each was printed to the report stream */
    uint64_t limits;   /**< of the alerts, upper limits listed under their object (format 17) */
} ss_verify_report;

/**
 * Verify the store; each problem found is printed as one line to @p problems (may be NULL).
 * @return 0 when the checks could run (see report->problems), or a store error.
 */
int ss_store_verify(ss_store *s, FILE *problems, ss_verify_report *report, ss_err *err);

#endif
