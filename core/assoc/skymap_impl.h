/* Private to core/assoc/: the sky map's layout in memory, shared by skymap.c and skymap_store.c. */
#ifndef SS_SKYMAP_IMPL_H
#define SS_SKYMAP_IMPL_H

#include "skymap.h"

#include <stdint.h>

/** One pixel: its range of order-29 nested indexes starts at lo and holds 4^(29 - order). */
typedef struct ssi_skypix {
    uint64_t lo;
    int order;
    double density; /* sr^-1 */
    double level;   /* greedy credible level */
    double distmu, distsigma, distnorm;
} ssi_skypix;

struct ss_assoc_skymap {
    ss_assoc_skymap_info info;
    ssi_skypix *pix; /* sorted by lo once finished */
};

/** A map of @p npix zeroed pixels. @return NULL when out of memory. */
ss_assoc_skymap *ssi_skymap_alloc(size_t npix);

/** Credible levels, the 90% area and the order of the pixels, after reading. @return 0 or
 * SS_ENOMEM. */
int ssi_skymap_finish(ss_assoc_skymap *m);

/** The nested index at order 29 of (@p ra, @p dec). @return 0, or SS_EINVAL for no position. */
int ssi_skymap_ipix(double ra, double dec, uint64_t *ipix);

/** 1 when pixel @p p holds the order-29 index @p ipix. */
int ssi_skypix_covers(const ssi_skypix *p, uint64_t ipix);

/** What a position in pixel @p p is given: level, density, distances. */
void ssi_skypix_point(const ssi_skypix *p, ss_assoc_skymap_point *out);

/**
 * The membership rule: a position (its pixel's point @p p) is in the event @p info describes
 * when its level is at most @p level and a detection time falls in the window around the merger
 * (no merger time: no window). @return 1 with @p out filled (but for its id), 0 when it is not.
 */
int ssi_gw_member(const ss_assoc_skymap_info *info, const ss_assoc_skymap_point *p,
                  const double *mjd, size_t n, double level, double before, double after,
                  ss_assoc_gw_match *out);

/** A stored record as a map (owned by the caller). @return 0, SS_ECORRUPT or SS_ENOMEM. */
int ssi_skymap_decode(const void *data, size_t len, ss_assoc_skymap **out);

/** Calls @p fn with each stored map, which @p fn then owns; a non-zero return stops the walk. */
int ssi_skymap_each_map(ss_store_txn *txn, int (*fn)(ss_assoc_skymap *m, void *arg), void *arg);

/** The counter every put and remove of a map changes (0 before the first). */
uint64_t ssi_skymap_generation(ss_store_txn *txn);

#endif
