/*
 * Gravitational-wave sky maps: FITS reading (multi-order and flat HEALPix), credible levels,
 * distance moments and the look-up of a position (skymap.h). The store side is skymap_store.c.
 *
 * In memory every map is multi-order: pixel k covers the range [lo[k], lo[k] + span) of nested
 * indexes at order 29, the finest HEALPix order, and the pixels are sorted by lo. A position is
 * found with one ang2pix at order 29 and a binary search, whatever the map's layout.
 */
#include "skymap_impl.h"

#include <chealpix.h>
#include <errno.h>
#include <fitsio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SSI_ORDER_MAX 29
#define SSI_SR_DEG2   (180.0 / M_PI * 180.0 / M_PI)

void ss_assoc_skymap_free(ss_assoc_skymap *m)
{
    if (!m)
        return;
    free(m->pix);
    free(m);
}

void ss_assoc_skymap_set_merger(ss_assoc_skymap *m, double mjd)
{
    m->info.mjd = mjd;
}

void ss_assoc_skymap_set_class(ss_assoc_skymap *m, const ss_assoc_gw_class *cls)
{
    m->info.cls = *cls;
}

const ss_assoc_skymap_info *ss_assoc_skymap_info_of(const ss_assoc_skymap *m)
{
    return &m->info;
}

ss_assoc_skymap *ssi_skymap_alloc(size_t npix)
{
    ss_assoc_skymap *m = calloc(1, sizeof *m);
    if (m && !(m->pix = calloc(npix ? npix : 1, sizeof *m->pix))) {
        free(m);
        return NULL;
    }
    if (m) {
        m->info.npix = npix;
        m->info.cls = (ss_assoc_gw_class){NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    }
    return m;
}

/* Steradians of a pixel of order @p order. */
static double ssi_pix_sr(int order)
{
    return 4 * M_PI / (12.0 * (double)((uint64_t)1 << (2 * order)));
}

static int ssi_by_lo(const void *a, const void *b)
{
    const ssi_skypix *x = a, *y = b;
    return (x->lo > y->lo) - (x->lo < y->lo);
}

typedef struct ssi_rank {
    double density;
    size_t i;
} ssi_rank;

static int ssi_by_density(const void *a, const void *b)
{
    const ssi_rank *x = a, *y = b;
    if (x->density != y->density)
        return x->density < y->density ? 1 : -1;
    return (x->i > y->i) - (x->i < y->i);
}

/* Greedy credible levels, the 90% area, and the pixels in nested order. */
int ssi_skymap_finish(ss_assoc_skymap *m)
{
    size_t n = m->info.npix;
    ssi_rank *r = malloc((n ? n : 1) * sizeof *r);
    if (!r)
        return SS_ENOMEM;
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        r[i] = (ssi_rank){m->pix[i].density, i};
        total += m->pix[i].density * ssi_pix_sr(m->pix[i].order);
    }
    qsort(r, n, sizeof *r, ssi_by_density);
    double cum = 0, area = 0;
    for (size_t k = 0; k < n; k++) {
        ssi_skypix *p = &m->pix[r[k].i];
        cum += p->density * ssi_pix_sr(p->order);
        /* normalised, so a map whose probabilities sum to 0.999 still reaches level 1 */
        p->level = total > 0 ? cum / total : 1;
        if (p->level <= 0.9)
            area += ssi_pix_sr(p->order) * SSI_SR_DEG2;
    }
    free(r);
    m->info.area90 = area;
    qsort(m->pix, n, sizeof *m->pix, ssi_by_lo);
    m->info.max_order = 0;
    for (size_t i = 0; i < n; i++)
        if (m->pix[i].order > m->info.max_order)
            m->info.max_order = m->pix[i].order;
    return 0;
}

double ss_assoc_skymap_area(const ss_assoc_skymap *m, double level)
{
    double area = 0;
    for (size_t i = 0; i < m->info.npix; i++)
        if (m->pix[i].level <= level)
            area += ssi_pix_sr(m->pix[i].order) * SSI_SR_DEG2;
    return area;
}

/*
 * Moments of r^2 N(r; mu, sigma) over r > 0: with x = mu / sigma, the integrals of r^k times
 * the normal density are polynomials in mu and sigma times Phi(x), plus ones times phi(x).
 */
void ss_assoc_skymap_moments(double mu, double sigma, double *mean, double *std)
{
    if (!isfinite(mu) || !(sigma > 0)) {
        *mean = *std = isinf(mu) && mu > 0 ? INFINITY : NAN;
        return;
    }
    double x = mu / sigma, s2 = sigma * sigma, mu2 = mu * mu;
    double Phi = 0.5 * erfc(-x / M_SQRT2), phi = exp(-0.5 * x * x) / sqrt(2 * M_PI);
    double m2 = (mu2 + s2) * Phi + mu * sigma * phi;
    double m3 = (mu2 * mu + 3 * mu * s2) * Phi + (mu2 + 2 * s2) * sigma * phi;
    double m4 =
        (mu2 * mu2 + 6 * mu2 * s2 + 3 * s2 * s2) * Phi + (mu2 * mu + 5 * mu * s2) * sigma * phi;
    *mean = m3 / m2;
    *std = sqrt(fmax(m4 / m2 - *mean * *mean, 0));
}

int ssi_skymap_ipix(double ra, double dec, uint64_t *ipix)
{
    if (!isfinite(ra) || !isfinite(dec) || dec < -90 || dec > 90)
        return SS_EINVAL;
    int64_t v;
    double theta = (90.0 - dec) * M_PI / 180.0, phi = fmod(ra, 360.0) * M_PI / 180.0;
    ang2pix_nest64((int64_t)1 << SSI_ORDER_MAX, theta, phi < 0 ? phi + 2 * M_PI : phi, &v);
    *ipix = (uint64_t)v;
    return 0;
}

int ssi_skypix_covers(const ssi_skypix *p, uint64_t ipix)
{
    return ipix >= p->lo && ipix - p->lo < (uint64_t)1 << (2 * (SSI_ORDER_MAX - p->order));
}

void ssi_skypix_point(const ssi_skypix *p, ss_assoc_skymap_point *out)
{
    out->credible_level = p->level;
    out->probdensity = p->density;
    out->distmu = p->distmu, out->distsigma = p->distsigma, out->distnorm = p->distnorm;
    ss_assoc_skymap_moments(p->distmu, p->distsigma, &out->dist_mean, &out->dist_std);
}

int ss_assoc_skymap_at(const ss_assoc_skymap *m, double ra, double dec, ss_assoc_skymap_point *out)
{
    *out = (ss_assoc_skymap_point){NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    uint64_t ipix;
    if (ssi_skymap_ipix(ra, dec, &ipix))
        return SS_EINVAL;
    size_t lo = 0, hi = m->info.npix; /* the last pixel starting at or before ipix */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->pix[mid].lo <= ipix)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || !ssi_skypix_covers(&m->pix[lo - 1], ipix))
        return SS_ENOTFOUND;
    ssi_skypix_point(&m->pix[lo - 1], out);
    return 0;
}

/* ---- FITS ---- */

typedef struct ssi_fitsmap {
    fitsfile *f;
    const char *label;
    ss_err *err;
} ssi_fitsmap;

static int ssi_fits_err(ssi_fitsmap *r, int status, const char *what)
{
    char text[FLEN_STATUS];
    fits_get_errstatus(status, text);
    return ss_err_set(r->err, SS_EFORMAT, "%s: %s: %s", r->label, what, text);
}

/* Column number of @p name, or 0 when the table lacks it. */
static int ssi_fits_col(ssi_fitsmap *r, const char *name)
{
    int status = 0, col = 0;
    if (fits_get_colnum(r->f, CASEINSEN, (char *)name, &col, &status))
        return 0;
    return col;
}

static int ssi_fits_read(ssi_fitsmap *r, int col, int type, size_t n, void *out, const char *name)
{
    int status = 0;
    if (fits_read_col(r->f, type, col, 1, 1, (LONGLONG)n, NULL, out, NULL, &status))
        return ssi_fits_err(r, status, name);
    return 0;
}

/* Distance layers into the pixels (in file order), when the map has them. */
static int ssi_fits_distances(ssi_fitsmap *r, ss_assoc_skymap *m, double *tmp)
{
    static const char *const names[3] = {"DISTMU", "DISTSIGMA", "DISTNORM"};
    int cols[3];
    for (int k = 0; k < 3; k++)
        cols[k] = ssi_fits_col(r, names[k]);
    m->info.has_distance = cols[0] && cols[1] && cols[2];
    for (int k = 0; k < 3; k++) {
        int rc = m->info.has_distance
                     ? ssi_fits_read(r, cols[k], TDOUBLE, m->info.npix, tmp, names[k])
                     : 0;
        if (rc)
            return rc;
        for (size_t i = 0; i < m->info.npix; i++) {
            double v = m->info.has_distance ? tmp[i] : NAN;
            double *dst = k == 0   ? &m->pix[i].distmu
                          : k == 1 ? &m->pix[i].distsigma
                                   : &m->pix[i].distnorm;
            *dst = v;
        }
    }
    return 0;
}

/* UNIQ = 4 4^order + nested index: the pixel's order and its range at order 29. */
static int ssi_uniq_pixel(uint64_t uniq, ssi_skypix *p)
{
    if (uniq < 4)
        return -1;
    int order = 0;
    while (order <= SSI_ORDER_MAX && uniq >= ((uint64_t)16 << (2 * order)))
        order++;
    if (order > SSI_ORDER_MAX)
        return -1;
    uint64_t ipix = uniq - ((uint64_t)4 << (2 * order));
    p->order = order;
    p->lo = ipix << (2 * (SSI_ORDER_MAX - order));
    return 0;
}

static int ssi_fits_moc(ssi_fitsmap *r, ss_assoc_skymap *m, double *tmp)
{
    int cu = ssi_fits_col(r, "UNIQ"), cp = ssi_fits_col(r, "PROBDENSITY");
    if (!cu || !cp)
        return ss_err_set(r->err, SS_EFORMAT, "%s: a NUNIQ map without %s column", r->label,
                          cu ? "a PROBDENSITY" : "a UNIQ");
    size_t n = m->info.npix;
    uint64_t *uniq = malloc((n ? n : 1) * sizeof *uniq);
    if (!uniq)
        return ss_err_set(r->err, SS_ENOMEM, "%s: out of memory", r->label);
    int rc = ssi_fits_read(r, cu, TULONGLONG, n, uniq, "UNIQ");
    for (size_t i = 0; !rc && i < n; i++)
        if (ssi_uniq_pixel(uniq[i], &m->pix[i]))
            rc = ss_err_set(r->err, SS_EFORMAT, "%s: row %zu: %llu is not a HEALPix UNIQ index",
                            r->label, i + 1, (unsigned long long)uniq[i]);
    free(uniq);
    if (!rc)
        rc = ssi_fits_read(r, cp, TDOUBLE, n, tmp, "PROBDENSITY");
    for (size_t i = 0; !rc && i < n; i++)
        m->pix[i].density = tmp[i];
    return rc;
}

/* A flat map of @p nside in RING or NESTED order: every pixel, at one order. */
static int ssi_fits_flat(ssi_fitsmap *r, ss_assoc_skymap *m, double *tmp, long nside, int ring)
{
    int order = 0;
    while (order < SSI_ORDER_MAX && (1L << order) < nside)
        order++;
    if ((1L << order) != nside || m->info.npix != (size_t)(12 * nside * nside))
        return ss_err_set(r->err, SS_EFORMAT,
                          "%s: NSIDE %ld and %zu pixels do not make a HEALPix map", r->label, nside,
                          m->info.npix);
    int cp = ssi_fits_col(r, "PROB"), density = 0;
    if (!cp && (cp = ssi_fits_col(r, "PROBDENSITY")))
        density = 1;
    if (!cp)
        cp = 1; /* healpy writes the probability as the first column, whatever its name */
    int rc = ssi_fits_read(r, cp, TDOUBLE, m->info.npix, tmp, "PROB");
    double sr = ssi_pix_sr(order);
    for (size_t i = 0; !rc && i < m->info.npix; i++) {
        int64_t nest = (int64_t)i;
        if (ring)
            ring2nest64(nside, (int64_t)i, &nest);
        m->pix[i].order = order;
        m->pix[i].lo = (uint64_t)nest << (2 * (SSI_ORDER_MAX - order));
        m->pix[i].density = isfinite(tmp[i]) ? (density ? tmp[i] : tmp[i] / sr) : 0;
    }
    return rc;
}

/* The event id, merger time and distance. @return 0 or SS_EFORMAT (no usable id). */
static int ssi_fits_header(ssi_fitsmap *r, ss_assoc_skymap *m, const char *name)
{
    int status = 0;
    char obj[FLEN_VALUE] = "";
    if (!name && !fits_read_key(r->f, TSTRING, "OBJECT", obj, NULL, &status))
        name = obj;
    if (!name || !name[0])
        return ss_err_set(r->err, SS_EFORMAT, "%s: no OBJECT keyword: give the event a name",
                          r->label);
    if (strlen(name) >= sizeof m->info.id)
        return ss_err_set(r->err, SS_EFORMAT, "%s: event id '%s' is longer than %zu characters",
                          r->label, name, sizeof m->info.id - 1);
    memcpy(m->info.id, name, strlen(name) + 1);
    double v;
    status = 0;
    m->info.mjd = fits_read_key(r->f, TDOUBLE, "MJD-OBS", &v, NULL, &status) ? NAN : v;
    status = 0;
    m->info.distmean = fits_read_key(r->f, TDOUBLE, "DISTMEAN", &v, NULL, &status) ? NAN : v;
    status = 0;
    m->info.diststd = fits_read_key(r->f, TDOUBLE, "DISTSTD", &v, NULL, &status) ? NAN : v;
    return 0;
}

/* The table's layout and size; reads the pixels. */
static int ssi_fits_pixels(ssi_fitsmap *r, const char *name, ss_assoc_skymap **out)
{
    int status = 0;
    char ordering[FLEN_VALUE] = "";
    LONGLONG rows = 0;
    long nside = 0, repeat = 1;
    if (fits_read_key(r->f, TSTRING, "ORDERING", ordering, NULL, &status))
        return ss_err_set(r->err, SS_EFORMAT, "%s: no ORDERING keyword: not a HEALPix sky map",
                          r->label);
    int moc = !strcmp(ordering, "NUNIQ"), ring = !strcmp(ordering, "RING");
    if (!moc && !ring && strcmp(ordering, "NESTED"))
        return ss_err_set(r->err, SS_EFORMAT, "%s: ORDERING '%s' is not NUNIQ, RING or NESTED",
                          r->label, ordering);
    int typecode;
    long width;
    if (fits_get_num_rowsll(r->f, &rows, &status) ||
        fits_get_coltype(r->f, 1, &typecode, &repeat, &width, &status))
        return ssi_fits_err(r, status, "table size");
    if (!moc && fits_read_key(r->f, TLONG, "NSIDE", &nside, NULL, &status))
        return ss_err_set(r->err, SS_EFORMAT, "%s: a %s map without NSIDE", r->label, ordering);
    size_t n = (size_t)rows * (size_t)(moc ? 1 : repeat);
    if (n == 0 || n > ((size_t)1 << 32))
        return ss_err_set(r->err, SS_EFORMAT, "%s: %zu pixels", r->label, n);
    ss_assoc_skymap *m = ssi_skymap_alloc(n);
    double *tmp = malloc(n * sizeof *tmp);
    int rc = !m || !tmp ? ss_err_set(r->err, SS_ENOMEM, "%s: out of memory", r->label) : 0;
    if (!rc)
        rc = moc ? ssi_fits_moc(r, m, tmp) : ssi_fits_flat(r, m, tmp, nside, ring);
    if (!rc)
        rc = ssi_fits_distances(r, m, tmp);
    free(tmp);
    if (!rc)
        rc = ssi_fits_header(r, m, name);
    if (!rc && (rc = ssi_skymap_finish(m)))
        ss_err_set(r->err, rc, "%s: out of memory", r->label);
    if (rc) {
        ss_assoc_skymap_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

static int ssi_fits_map(fitsfile *f, const char *label, const char *name, ss_assoc_skymap **out,
                        ss_err *err)
{
    ssi_fitsmap r = {f, label, err};
    int status = 0, hdutype = 0;
    /* the map is the first binary table: move there from the primary array */
    if (fits_movabs_hdu(f, 2, &hdutype, &status) || hdutype != BINARY_TBL) {
        fits_close_file(f, &status);
        return ss_err_set(err, SS_EFORMAT,
                          "%s: no binary table after the primary header: "
                          "not a HEALPix sky map",
                          label);
    }
    int rc = ssi_fits_pixels(&r, name, out);
    status = 0;
    fits_close_file(f, &status);
    return rc;
}

int ss_assoc_skymap_read(const char *path, const char *name, ss_assoc_skymap **out, ss_err *err)
{
    fitsfile *f = NULL;
    int status = 0;
    FILE *probe = fopen(path, "rb");
    if (!probe)
        return ss_err_set(err, errno, "%s: %s", path, strerror(errno));
    fclose(probe);
    if (fits_open_diskfile(&f, path, READONLY, &status) &&
        (status = 0, fits_open_file(&f, path, READONLY, &status))) {
        char text[FLEN_STATUS];
        fits_get_errstatus(status, text);
        return ss_err_set(err, SS_EFORMAT, "%s: not a FITS file: %s", path, text);
    }
    return ssi_fits_map(f, path, name, out, err);
}

int ss_assoc_skymap_read_mem(const void *buf, size_t len, const char *label, const char *name,
                             ss_assoc_skymap **out, ss_err *err)
{
    fitsfile *f = NULL;
    int status = 0;
    /* cfitsio may resize a memory file it opens; give it a copy it can own meanwhile */
    size_t size = len;
    void *copy = malloc(len ? len : 1);
    if (!copy)
        return ss_err_set(err, SS_ENOMEM, "%s: out of memory", label);
    memcpy(copy, buf, len);
    if (len < 2880 || fits_open_memfile(&f, label, READONLY, &copy, &size, 0, realloc, &status)) {
        char text[FLEN_STATUS] = "shorter than one FITS block";
        if (status)
            fits_get_errstatus(status, text);
        free(copy);
        return ss_err_set(err, SS_EFORMAT, "%s: not a FITS file: %s", label, text);
    }
    int rc = ssi_fits_map(f, label, name, out, err);
    free(copy);
    return rc;
}
