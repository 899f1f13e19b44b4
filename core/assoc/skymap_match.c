/*
 * Association of loci with gravitational-wave events (skymap.h): the stored maps held in memory,
 * reread only when the store's map counter moves, and the rule of an event's membership: the
 * position inside the credible region and a detection in the window around the merger.
 */
#include "skymap_impl.h"

#include <chealpix.h>
#include <math.h>
#include <stdlib.h>

struct ss_assoc_gw_set {
    ss_assoc_skymap **maps; /* in event id order */
    size_t n, cap;
    uint64_t gen;
    int synced;
};

ss_assoc_gw_set *ss_assoc_gw_set_new(void)
{
    return calloc(1, sizeof(ss_assoc_gw_set));
}

static void ssi_gw_clear(ss_assoc_gw_set *gs)
{
    for (size_t i = 0; i < gs->n; i++)
        ss_assoc_skymap_free(gs->maps[i]);
    gs->n = 0;
}

void ss_assoc_gw_set_free(ss_assoc_gw_set *gs)
{
    if (!gs)
        return;
    ssi_gw_clear(gs);
    free(gs->maps);
    free(gs);
}

size_t ss_assoc_gw_set_count(const ss_assoc_gw_set *gs)
{
    return gs ? gs->n : 0;
}

static int ssi_gw_keep(ss_assoc_skymap *m, void *arg)
{
    ss_assoc_gw_set *gs = arg;
    if (gs->n == gs->cap) {
        size_t cap = gs->cap ? 2 * gs->cap : 4;
        ss_assoc_skymap **nm = realloc(gs->maps, cap * sizeof *nm);
        if (!nm) {
            ss_assoc_skymap_free(m);
            return SS_ENOMEM;
        }
        gs->maps = nm, gs->cap = cap;
    }
    gs->maps[gs->n++] = m;
    return 0;
}

int ss_assoc_gw_set_sync(ss_assoc_gw_set *gs, ss_store_txn *txn)
{
    uint64_t gen = ssi_skymap_generation(txn);
    if (gs->synced && gen == gs->gen)
        return 0;
    ssi_gw_clear(gs);
    int rc = ssi_skymap_each_map(txn, ssi_gw_keep, gs);
    if (rc) {
        ssi_gw_clear(gs); /* half a set would associate with some events and not others */
        gs->synced = 0;
        return rc;
    }
    gs->gen = gen;
    gs->synced = 1;
    return 0;
}

/* The newest of the detection times in the window, or NAN. */
static double ssi_gw_in_window(double merger, const double *mjd, size_t n, double before,
                               double after)
{
    double best = NAN;
    for (size_t i = 0; i < n; i++)
        if (mjd[i] >= merger - before && mjd[i] <= merger + after && !(mjd[i] <= best))
            best = mjd[i];
    return best;
}

int ssi_gw_member(const ss_assoc_skymap_info *info, const ss_assoc_skymap_point *p,
                  const double *mjd, size_t n, double level, double before, double after,
                  ss_assoc_gw_match *out)
{
    double merger = info->mjd;
    if (!(p->credible_level <= level))
        return 0;
    double newest = isfinite(merger) ? ssi_gw_in_window(merger, mjd, n, before, after) : NAN;
    if (isfinite(merger) && isnan(newest))
        return 0;
    *out = (ss_assoc_gw_match){NULL,         merger,      p->credible_level, p->probdensity,
                               p->dist_mean, p->dist_std, newest - merger,   info->cls};
    return 1;
}

size_t ss_assoc_gw_match_at(const ss_assoc_gw_set *gs, double ra, double dec, const double *mjd,
                            size_t n, double level, double before, double after,
                            ss_assoc_gw_match *out, size_t max)
{
    size_t k = 0;
    for (size_t e = 0; gs && e < gs->n; e++) {
        const ss_assoc_skymap *m = gs->maps[e];
        ss_assoc_skymap_point p;
        ss_assoc_gw_match one;
        if (ss_assoc_skymap_at(m, ra, dec, &p) ||
            !ssi_gw_member(&m->info, &p, mjd, n, level, before, after, &one))
            continue;
        one.id = m->info.id;
        if (k < max)
            out[k] = one;
        k++;
    }
    return k;
}

/* ---- the loci of a region ---- */

#define SSI_CONE_ORDER 6

typedef struct ssi_region_walk {
    ss_store_txn *txn;
    const ss_assoc_skymap *m;
    double level, since;
    uint64_t parent; /* the order-6 pixel of this cone: a locus elsewhere is another cone's */
    ss_assoc_skymap_locus_fn fn;
    void *ctx;
} ssi_region_walk;

static uint64_t ssi_parent_of(double ra, double dec)
{
    int64_t ipix;
    ang2pix_nest64((int64_t)1 << SSI_CONE_ORDER, (90.0 - dec) * M_PI / 180.0,
                   fmod(ra + 360.0, 360.0) * M_PI / 180.0, &ipix);
    return (uint64_t)ipix;
}

static int ssi_region_visit(void *arg, const char *locus_id, double ra, double dec, double sep)
{
    (void)sep;
    ssi_region_walk *w = arg;
    ss_assoc_skymap_point p;
    if (ssi_parent_of(ra, dec) != w->parent || ss_assoc_skymap_at(w->m, ra, dec, &p) ||
        !(p.credible_level <= w->level))
        return 0;
    ss_locus l;
    int rc = ss_store_locus_get(w->txn, locus_id, &l);
    if (rc)
        return rc;
    double newest = -INFINITY;
    for (uint32_t b = 0; b < l.nbands; b++)
        if (l.bands[b].newest_mjd > newest)
            newest = l.bands[b].newest_mjd;
    return newest >= w->since ? w->fn(w->ctx, &l, &p) : 0;
}

/* The order-6 pixels holding some pixel of the region, each once, in nested order. */
static size_t ssi_region_parents(const ss_assoc_skymap *m, double level, uint64_t *out)
{
    size_t n = 0;
    for (size_t i = 0; i < m->info.npix; i++) {
        const ssi_skypix *p = &m->pix[i];
        if (!(p->level <= level))
            continue;
        uint64_t span = (uint64_t)1 << (2 * (29 - SSI_CONE_ORDER));
        uint64_t first = p->lo / span;
        uint64_t last = p->order >= SSI_CONE_ORDER
                            ? first
                            : (p->lo + ((uint64_t)1 << (2 * (29 - p->order))) - 1) / span;
        for (uint64_t q = first; q <= last; q++)
            if (n == 0 || out[n - 1] != q) /* pixels are in nested order, so parents are too */
                out[n++] = q;
    }
    return n;
}

int ss_assoc_skymap_loci(ss_store_txn *txn, const ss_assoc_skymap *m, double level, double since,
                         ss_assoc_skymap_locus_fn fn, void *ctx)
{
    size_t cap = 12 * ((size_t)1 << (2 * SSI_CONE_ORDER)); /* every order-6 pixel */
    uint64_t *parents = malloc(cap * sizeof *parents);
    if (!parents)
        return SS_ENOMEM;
    size_t n = ssi_region_parents(m, level, parents);
    /* a cone around an order-6 pixel's centre holding all of it: its corners are at most 1.0
     * pixel sizes from the centre, the size being sqrt(area) (0.92 degree) */
    double radius = 1.5 * sqrt(4 * M_PI / (12.0 * (1 << (2 * SSI_CONE_ORDER)))) * 180 / M_PI;
    ssi_region_walk w = {txn, m, level, since, 0, fn, ctx};
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        double theta, phi;
        pix2ang_nest64((int64_t)1 << SSI_CONE_ORDER, (int64_t)parents[i], &theta, &phi);
        w.parent = parents[i];
        rc = ss_store_sky_scan(txn, phi * 180 / M_PI, 90 - theta * 180 / M_PI, radius,
                               ssi_region_visit, &w);
    }
    free(parents);
    return rc;
}
