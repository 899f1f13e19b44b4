/**
 * @file skyindex.h
 * @brief Private to the core: the `sky` table (see sky.h for the zone scheme).
 */
#ifndef SS_SKYINDEX_H
#define SS_SKYINDEX_H

#include "store_impl.h"

/** Called for each locus of a scan within the radius; return non-zero to stop the scan. */
typedef int (*ssi_sky_visit)(void *ctx, const char *locus_id, double ra, double dec,
                             double sep_deg);

/**
 * Visit every locus within @p radius_deg of (ra, dec), in index order (not by distance).
 * @return 0, the visitor's non-zero value, or an LMDB code.
 */
int ssi_sky_scan(ss_store *s, MDB_txn *txn, double ra, double dec, double radius_deg,
                 ssi_sky_visit visit, void *ctx);

/**
 * Find the nearest locus within @p radius_deg; ties go to the smaller locus id, so association does
 * not depend on the index's order. @return 0 (found, id in @p out), MDB_NOTFOUND or an LMDB code.
 */
int ssi_sky_nearest(ss_store *s, MDB_txn *txn, double ra, double dec, double radius_deg,
                    char out[SS_LOCUS_ID_LEN + 1], double *sep_deg);

/** Index a locus at (ra, dec). */
int ssi_sky_put(ss_store *s, MDB_txn *txn, const char *locus_id, double ra, double dec);
/** Remove the index entry of a locus at (ra, dec) (exactly as it was put). */
int ssi_sky_del(ss_store *s, MDB_txn *txn, const char *locus_id, double ra, double dec);

#endif
