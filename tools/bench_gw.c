/*
 * bench_gw: gravitational-wave sky maps (core/assoc/skymap.c, issue 23): the time to read a map
 * (FITS, credible levels) and to store and read it back, and the cost of one position's look-up.
 *
 *   bench_gw [--repeat R] [SKYMAP...]
 *
 * Maps: the files given (e.g. ../shared/data/skymaps/bayestar-G361581.multiorder.fits) and a
 * flat NESTED map of NSIDE 128 (196,608 pixels) written by the benchmark. A look-up is timed over
 * 10^6 positions uniform on the sky; the reference in the same run is chealpix's ang2pix_nest64 at
 * order 29 alone, the part every look-up must do. Then what a filter's dispatch adds with the map
 * loaded: the association of a locus (ss_assoc_gw_match_at(), five detection times, the same
 * positions) and the check that the maps in memory are the store's (ss_assoc_gw_set_sync(), one
 * read of a counter), each per call; and the association read from the stored map in place
 * (ss_assoc_gw_match_stored(), what a locus page does). min / median / max over R rounds.
 */
#include "bench_util.h"
#include "skymap.h"
#include "store.h"

#include <chealpix.h>
#include <fitsio.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BG_LOOKUPS 1000000

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* A flat NESTED map of a Gaussian blob, written with cfitsio. @return 0 or a cfitsio status. */
static int write_flat(const char *path, long nside)
{
    long npix = 12 * nside * nside;
    double *prob = malloc((size_t)npix * sizeof *prob), sum = 0;
    for (long i = 0; i < npix; i++) {
        double theta, phi;
        pix2ang_nest(nside, i, &theta, &phi);
        prob[i] = exp(-((theta - 1.0) * (theta - 1.0) + (phi - 2.0) * (phi - 2.0)) / 0.01);
        sum += prob[i];
    }
    for (long i = 0; i < npix; i++)
        prob[i] /= sum;
    fitsfile *f;
    int status = 0;
    char *names[] = {"PROB"}, *forms[] = {"D"}, *units[] = {"pix-1"};
    remove(path);
    fits_create_file(&f, path, &status);
    fits_create_tbl(f, BINARY_TBL, npix, 1, names, forms, units, "SKYMAP", &status);
    fits_write_key(f, TSTRING, "ORDERING", "NESTED", NULL, &status);
    fits_write_key(f, TLONG, "NSIDE", &nside, NULL, &status);
    fits_write_key(f, TSTRING, "OBJECT", "BENCH128", NULL, &status);
    fits_write_col(f, TDOUBLE, 1, 1, 1, npix, prob, &status);
    fits_close_file(f, &status);
    free(prob);
    return status;
}

static void positions(double *ra, double *dec, size_t n)
{
    srand(11);
    for (size_t i = 0; i < n; i++) {
        ra[i] = 360.0 * rand() / RAND_MAX;
        dec[i] = asin(2.0 * rand() / RAND_MAX - 1) * 180 / M_PI;
    }
}

static double time_lookups(const ss_assoc_skymap *m, const double *ra, const double *dec, size_t n,
                           double *sink)
{
    ss_assoc_skymap_point p;
    double t0 = bench_now_s();
    for (size_t i = 0; i < n; i++)
        if (ss_assoc_skymap_at(m, ra[i], dec[i], &p) == 0)
            *sink += p.credible_level;
    return (bench_now_s() - t0) / (double)n * 1e9;
}

static double time_reference(const double *ra, const double *dec, size_t n, double *sink)
{
    double t0 = bench_now_s();
    for (size_t i = 0; i < n; i++) {
        int64_t ipix;
        ang2pix_nest64((int64_t)1 << 29, (90 - dec[i]) * M_PI / 180, ra[i] * M_PI / 180, &ipix);
        *sink += (double)(ipix & 1);
    }
    return (bench_now_s() - t0) / (double)n * 1e9;
}

static void report(const char *what, double *v, int r, const char *unit)
{
    qsort(v, (size_t)r, sizeof *v, cmp_double);
    printf("  %-34s %10.3f %10.3f %10.3f %s\n", what, v[0], v[r / 2], v[r - 1], unit);
}

/* The association of a locus and the sync, per call, in ns: with a set holding the stored map. */
static void time_dispatch(ss_store *s, const double *ra, const double *dec, double *assoc,
                          double *sync, double *inplace, double *sink)
{
    ss_assoc_gw_set *gs = ss_assoc_gw_set_new();
    ss_store_txn *t;
    ss_store_txn_begin(s, SS_STORE_READ, &t);
    ss_assoc_gw_set_sync(gs, t);
    double mjd[5] = {58877.0, 58878.0, 58879.0, 58880.0, 58881.0};
    ss_assoc_gw_match m[4];
    double t0 = bench_now_s();
    for (size_t i = 0; i < BG_LOOKUPS; i++)
        *sink += (double)ss_assoc_gw_match_at(gs, ra[i], dec[i], mjd, 5, SS_GW_LEVEL,
                                              SS_GW_WINDOW_BEFORE, SS_GW_WINDOW_AFTER, m, 4);
    double t1 = bench_now_s();
    for (size_t i = 0; i < BG_LOOKUPS / 10; i++)
        ss_assoc_gw_set_sync(gs, t);
    double t2 = bench_now_s();
    int rc;
    for (size_t i = 0; i < BG_LOOKUPS / 10; i++)
        *sink +=
            (double)ss_assoc_gw_match_stored(t, ra[i], dec[i], mjd, 5, SS_GW_LEVEL,
                                             SS_GW_WINDOW_BEFORE, SS_GW_WINDOW_AFTER, m, 4, &rc);
    double t3 = bench_now_s();
    ss_store_txn_abort(t);
    ss_assoc_gw_set_free(gs);
    *assoc = (t1 - t0) / BG_LOOKUPS * 1e9;
    *sync = (t2 - t1) / (BG_LOOKUPS / 10) * 1e9;
    *inplace = (t3 - t2) / (BG_LOOKUPS / 10) * 1e9;
}

/* Read, store and read back, and look up, @p path R times. */
static int bench_map(const char *path, int repeat, const double *ra, const double *dec)
{
    double read_ms[32], put_ms[32], get_ms[32], look[32], ref[32], ratio[32], sink = 0;
    double assoc[32], sync[32], inplace[32];
    char dir[] = "/tmp/bench_gw.XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    ss_err err = {0};
    ss_store *s;
    ss_store_options so = {.create = 1};
    if (ss_store_open(dir, &so, &s, &err)) {
        fprintf(stderr, "bench_gw: %s\n", err.msg);
        return 1;
    }
    size_t npix = 0;
    for (int r = 0; r < repeat; r++) {
        ss_assoc_skymap *m, *back;
        ss_store_txn *t;
        double t0 = bench_now_s();
        if (ss_assoc_skymap_read(path, NULL, &m, &err)) {
            fprintf(stderr, "bench_gw: %s\n", err.msg);
            ss_store_close(s);
            return 1;
        }
        double t1 = bench_now_s();
        ss_store_txn_begin(s, SS_STORE_WRITE, &t);
        ss_assoc_skymap_put(t, m);
        ss_store_txn_commit(t);
        double t2 = bench_now_s();
        ss_store_txn_begin(s, SS_STORE_READ, &t);
        ss_assoc_skymap_get(t, ss_assoc_skymap_info_of(m)->id, &back);
        ss_store_txn_abort(t);
        double t3 = bench_now_s();
        read_ms[r] = (t1 - t0) * 1e3, put_ms[r] = (t2 - t1) * 1e3, get_ms[r] = (t3 - t2) * 1e3;
        ref[r] = time_reference(ra, dec, BG_LOOKUPS, &sink);
        look[r] = time_lookups(back, ra, dec, BG_LOOKUPS, &sink);
        ratio[r] = look[r] / ref[r];
        time_dispatch(s, ra, dec, &assoc[r], &sync[r], &inplace[r], &sink);
        npix = ss_assoc_skymap_info_of(m)->npix;
        ss_assoc_skymap_free(m);
        ss_assoc_skymap_free(back);
    }
    ss_store_close(s);
    printf("%s (%zu pixels), min / median / max of %d:\n", path, npix, repeat);
    report("read (FITS, credible levels)", read_ms, repeat, "ms");
    report("store (one commit)", put_ms, repeat, "ms");
    report("read back from the store", get_ms, repeat, "ms");
    report("look-up of one position", look, repeat, "ns");
    report("  reference: ang2pix_nest64 alone", ref, repeat, "ns");
    report("  look-up / reference", ratio, repeat, "x");
    report("association of a locus (5 detections)", assoc, repeat, "ns");
    report("maps in memory checked against the store", sync, repeat, "ns");
    report("association read in place (a locus page)", inplace, repeat, "ns");
    return sink == 1234.5 ? 1 : 0;
}

int main(int argc, char **argv)
{
    int repeat = 5, c;
    static const struct option opts[] = {{"repeat", required_argument, NULL, 'r'}, {0}};
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1)
        if (c == 'r')
            repeat = atoi(optarg);
        else
            return 2;
    if (repeat < 1 || repeat > 32)
        repeat = 5;
    double *ra = malloc(BG_LOOKUPS * sizeof *ra), *dec = malloc(BG_LOOKUPS * sizeof *dec);
    positions(ra, dec, BG_LOOKUPS);
    const char *flat = "/tmp/bench_gw_flat128.fits";
    if (write_flat(flat, 128)) {
        fprintf(stderr, "bench_gw: cannot write %s\n", flat);
        return 1;
    }
    int rc = 0;
    for (int i = optind; i < argc && !rc; i++)
        rc = bench_map(argv[i], repeat, ra, dec);
    if (!rc)
        rc = bench_map(flat, repeat, ra, dec);
    remove(flat);
    free(ra);
    free(dec);
    return rc;
}
