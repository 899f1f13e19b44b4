/**
 * @file skymap.h
 * @brief Gravitational-wave sky maps (LIGO/Virgo/KAGRA, BAYESTAR and Bilby): read from FITS,
 * kept in the store, asked where a position stands in them.
 *
 * A sky map gives, over HEALPix pixels, the probability density of the source's direction and,
 * for each direction, the parameters of its distance distribution along the line of sight (the
 * "ansatz" of Singer et al. 2016: r^2 exp(-(r - DISTMU)^2 / (2 DISTSIGMA^2)) times DISTNORM).
 * Two layouts are read, gzip-compressed or not (cfitsio opens both):
 *  - multi-order (`ORDERING = NUNIQ`): columns UNIQ, PROBDENSITY (sr^-1) and, when present,
 *    DISTMU, DISTSIGMA, DISTNORM;
 *  - flat (`ORDERING = RING` or `NESTED`, NSIDE): columns PROB (per pixel) or PROBDENSITY and the
 *    distance layers, one value per pixel, in as many rows as the writer chose.
 * The header gives the event (OBJECT), the merger time (MJD-OBS, or DATE-OBS) and the distance
 * (DISTMEAN, DISTSTD).
 *
 * The credible level of a pixel is the probability of all pixels at least as dense as it
 * (ligo.skymap's greedy credible levels): a position is inside the 90% region when its level is
 * at most 0.9.
 *
 * Memory: an ss_assoc_skymap is owned by whoever received it and freed with
 * ss_assoc_skymap_free(); strings it hands out live as long as it does. Nothing here is global:
 * maps may be read and asked from several threads, one map per thread or shared read-only.
 */
#ifndef SS_ASSOC_SKYMAP_H
#define SS_ASSOC_SKYMAP_H

#include "err.h"
#include "record.h"
#include "store.h"

#include <stddef.h>
#include <stdint.h>

/** A sky map in memory: pixels sorted along the nested curve, with their credible levels. */
typedef struct ss_assoc_skymap ss_assoc_skymap;

#define SS_SKYMAP_ID_MAX 64

/** What an alert notice says of the event (NAN for what it does not say, and for maps loaded
 * from a file). */
typedef struct ss_assoc_gw_class {
    double far;                  /**< false-alarm rate, Hz */
    double p_bns, p_nsbh, p_bbh; /**< classification: binary neutron star, NS-black hole, BBH */
    double p_terrestrial;        /**< the probability that it is noise */
    double has_ns, has_remnant;  /**< probabilities of a neutron star, of matter left outside */
} ss_assoc_gw_class;

/** What a map says of itself. */
typedef struct ss_assoc_skymap_info {
    char id[SS_SKYMAP_ID_MAX]; /**< the event id (OBJECT, or the name given) */
    double mjd;                /**< merger time, MJD (NAN when the header has none) */
    double distmean, diststd;  /**< Mpc, the header's (NAN when absent) */
    int has_distance;          /**< 1 when the pixels carry DISTMU, DISTSIGMA, DISTNORM */
    size_t npix;               /**< pixels, after reading (a flat map keeps every pixel) */
    int max_order;             /**< finest HEALPix order */
    double area90;             /**< deg^2 of the 90% credible region */
    double loaded;             /**< Unix time the store received it (0 before) */
    ss_assoc_gw_class cls;     /**< from the alert notice, NAN-filled otherwise */
} ss_assoc_skymap_info;

/** A position in a map. */
typedef struct ss_assoc_skymap_point {
    double credible_level;              /**< 0..1: inside the region of this level */
    double probdensity;                 /**< sr^-1 */
    double distmu, distsigma, distnorm; /**< the pixel's ansatz; NAN without distances */
    double dist_mean, dist_std; /**< Mpc: the conditional distance along this line of sight */
} ss_assoc_skymap_point;

/**
 * Reads a sky map from the FITS file @p path (gzip-compressed or not).
 * @param name the event id to use, or NULL for the header's OBJECT (then required).
 * @param[out] out the map, owned by the caller.
 * @return 0; errno (cannot open); SS_EFORMAT (not a sky map, naming the file and what is
 *         wrong); SS_ENOMEM. @p err says which.
 */
int ss_assoc_skymap_read(const char *path, const char *name, ss_assoc_skymap **out, ss_err *err);

/**
 * The same from a FITS file in memory (an alert notice's map, not compressed), @p label naming
 * it in errors. @p buf is not kept.
 */
int ss_assoc_skymap_read_mem(const void *buf, size_t len, const char *label, const char *name,
                             ss_assoc_skymap **out, ss_err *err);

/** NULL is allowed. */
void ss_assoc_skymap_free(ss_assoc_skymap *m);

/** Sets the merger time of a map whose header gave none (an alert notice's event.time). */
void ss_assoc_skymap_set_merger(ss_assoc_skymap *m, double mjd);

/** Sets what the alert notice says of the event (its far, classification and properties). */
void ss_assoc_skymap_set_class(ss_assoc_skymap *m, const ss_assoc_gw_class *cls);

/** The map's description; valid while @p m is. */
const ss_assoc_skymap_info *ss_assoc_skymap_info_of(const ss_assoc_skymap *m);

/**
 * Where (@p ra, @p dec), degrees, stands in @p m. O(log pixels).
 * @return 0, or SS_ENOTFOUND when no pixel covers it (a partial map; *out is then NAN-filled).
 */
int ss_assoc_skymap_at(const ss_assoc_skymap *m, double ra, double dec, ss_assoc_skymap_point *out);

/** The area, deg^2, of the credible region of level @p level (0..1). */
double ss_assoc_skymap_area(const ss_assoc_skymap *m, double level);

/**
 * The mean and standard deviation of the distance along one line of sight from the ansatz
 * parameters (ligo.skymap's parameters_to_moments). INFINITY for an infinite @p mu.
 */
void ss_assoc_skymap_moments(double mu, double sigma, double *mean, double *std);

/* ---- in the store ---- */

/**
 * Stores @p m under its id in @p txn (replacing a map of the same id: an updated notice), and
 * sets its info's `loaded`. @return 0, or an LMDB or skysieve code.
 */
int ss_assoc_skymap_put(ss_store_txn *txn, ss_assoc_skymap *m);

/** Reads the map @p id. @return 0, SS_ENOTFOUND, SS_ECORRUPT, SS_ENOMEM. */
int ss_assoc_skymap_get(ss_store_txn *txn, const char *id, ss_assoc_skymap **out);

/** Removes the map @p id. @return 0 or SS_ENOTFOUND. */
int ss_assoc_skymap_remove(ss_store_txn *txn, const char *id);

/**
 * Calls @p fn with each stored map's info, in id order; a non-zero return stops the walk and is
 * returned. The info is valid during the call only.
 */
int ss_assoc_skymap_each(ss_store_txn *txn, int (*fn)(const ss_assoc_skymap_info *info, void *arg),
                         void *arg);

/* ---- association: which events a locus is in ---- */

/** Default association: inside the 90% region, a detection from 1 day before to 14 days after. */
#define SS_GW_LEVEL         0.9
#define SS_GW_WINDOW_BEFORE 1.0
#define SS_GW_WINDOW_AFTER  14.0

/** A locus's standing in one event. */
typedef struct ss_assoc_gw_match {
    const char *id;             /**< the event id, owned by the set */
    double merger_mjd;          /**< NAN when the map had none (then no window applies) */
    double credible_level;      /**< of the locus's position */
    double probdensity;         /**< sr^-1 */
    double dist_mean, dist_std; /**< Mpc along the line of sight; NAN without distances */
    double days_since_merger;   /**< newest visible detection minus the merger */
    ss_assoc_gw_class cls;      /**< what the alert notice said of the event */
} ss_assoc_gw_match;

/** The store's maps held in memory for association, by whoever associates (one per thread). */
typedef struct ss_assoc_gw_set ss_assoc_gw_set;

/** @return a set with no maps (owned by the caller), or NULL when out of memory. */
ss_assoc_gw_set *ss_assoc_gw_set_new(void);
/** NULL is allowed. */
void ss_assoc_gw_set_free(ss_assoc_gw_set *gs);

/**
 * Brings @p gs up to date with the maps stored in @p txn's store: one read of a counter that
 * every put and remove changes, and the maps read again only when it changed.
 * @return 0, or a store code (the set keeps what it had).
 */
int ss_assoc_gw_set_sync(ss_assoc_gw_set *gs, ss_store_txn *txn);

/** How many maps @p gs holds. */
size_t ss_assoc_gw_set_count(const ss_assoc_gw_set *gs);

/**
 * The events a position is in: its credible level at most @p level and, when the event has a
 * merger time, one of the detection times @p mjd[0..n) within [merger - @p before, merger +
 * @p after] days. Writes up to @p max matches, in the set's order (event id).
 * @return how many there are.
 */
size_t ss_assoc_gw_match_at(const ss_assoc_gw_set *gs, double ra, double dec, const double *mjd,
                            size_t n, double level, double before, double after,
                            ss_assoc_gw_match *out, size_t max);

/**
 * ss_assoc_gw_match_at() over the maps stored in @p txn, read in place: one binary search in each
 * stored record, nothing decoded, for a one-off question (a locus page, `skysieve locus`). Ids
 * point into the store's memory, valid while @p txn is. @param[out] rc 0 or a store code.
 * @return how many events hold the position.
 */
size_t ss_assoc_gw_match_stored(ss_store_txn *txn, double ra, double dec, const double *mjd,
                                size_t n, double level, double before, double after,
                                ss_assoc_gw_match *out, size_t max, int *rc);

/** Called for each locus found in a map's region; a non-zero return stops the walk. */
typedef int (*ss_assoc_skymap_locus_fn)(void *ctx, const ss_locus *l,
                                        const ss_assoc_skymap_point *p);

/**
 * Visits the stored loci whose position lies in @p m's credible region of @p level and that
 * have a detection newer than @p since (MJD; -INFINITY: any), through the sky index: one cone
 * per HEALPix pixel of order 6 (about 1 degree) that the region touches, so a map is not a scan
 * of every locus. Each locus is visited once. @return 0, the visitor's value, or a store code.
 */
int ss_assoc_skymap_loci(ss_store_txn *txn, const ss_assoc_skymap *m, double level, double since,
                         ss_assoc_skymap_locus_fn fn, void *ctx);

#endif
