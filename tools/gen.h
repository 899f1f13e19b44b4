/* Seeded generators of tuple alerts for benchmarks and demos: reproducible, no outside data. */
#ifndef SS_TOOLS_GEN_H
#define SS_TOOLS_GEN_H

#include "rng.h"

#include <stdint.h>
#include <stdio.h>

typedef struct gen_source {
    double ra, dec, mag;
} gen_source;

/** @p n sources uniform on the sphere, magnitudes 16 to 21. Caller frees. */
gen_source *gen_sources(ss_rng *r, uint64_t n);

/** The sky of the whole sphere, in square degrees (4 pi steradians). */
#define GEN_SKY_DEG2 41252.96

/**
 * @p n sources uniform over a cap of @p area_deg2 square degrees centred on (@p ra0, @p dec0),
 * magnitudes 16 to 21: a night's sources at a survey's density instead of spread over the whole
 * sky (an LSST visit brings about 10,000 alerts from 9.6 square degrees). An area of the whole
 * sphere or more gives gen_sources()'s sky. Caller frees.
 */
gen_source *gen_sources_cap(ss_rng *r, uint64_t n, double area_deg2, double ra0, double dec0);

/**
 * Put @p n sources in the order a survey observes them: by field (tiles of about 3.5 x 3.5 degrees,
 * between an LSST field's 9.6 and a ZTF field's 47 square degrees), the fields in a random order,
 * the sources inside one field in a random order. gen_write_csv() then writes each epoch as a
 * sequence of visits, as a real night arrives, instead of every alert at a random place.
 * @return 0, or -1 when out of memory (the order is then unchanged).
 */
int gen_order_by_field(ss_rng *r, gen_source *src, uint64_t n);

/**
 * Write a tuple CSV: @p epochs visits of every source, in visit order, positions scattered by
 * @p scatter_arcsec (1-sigma per axis), passbands g and r alternating by visit. Alert ids are
 * "<prefix>-<epoch>-<source>". @return 0 or -1 (errno).
 */
int gen_write_csv(FILE *f, ss_rng *r, const gen_source *src, uint64_t nsrc, uint64_t epochs,
                  double scatter_arcsec, double mjd0, const char *prefix, int header);

/** Peaks of a process's resident memory, in KiB, as /proc/PID/status gives them. */
typedef struct gen_mem {
    long anon_kib; /**< RssAnon: heap and other private memory */
    long file_kib; /**< RssFile: mapped files (LMDB, staging), reclaimable */
    long hwm_kib;  /**< VmHWM: the kernel's own peak of both */
} gen_mem;

/** Raise the peaks in @p m to what @p status_path (e.g. "/proc/self/status") says now. */
void gen_mem_sample(gen_mem *m, const char *status_path);

#endif
