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

/** A stored record as a map (owned by the caller). @return 0, SS_ECORRUPT or SS_ENOMEM. */
int ssi_skymap_decode(const void *data, size_t len, ss_assoc_skymap **out);

/** Calls @p fn with each stored map, which @p fn then owns; a non-zero return stops the walk. */
int ssi_skymap_each_map(ss_store_txn *txn, int (*fn)(ss_assoc_skymap *m, void *arg), void *arg);

/** The counter every put and remove of a map changes (0 before the first). */
uint64_t ssi_skymap_generation(ss_store_txn *txn);

#endif
