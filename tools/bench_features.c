/*
 * bench_features: the light-curve feature library's cost per locus (sdk/features, issue 23).
 *
 *   bench_features [--repeat R] [--loci N] [--periodogram] [--group NAME] [--span DAYS]
 *
 * For light curves of 10, 100 and 1,000 detections (two bands, g and r, over 400 days: a periodic
 * source, and for the Bazin fit a supernova-like rise and fall), the time per call of
 * ss_features_compute() for each group of the catalog alone (basic: everything but the periodogram
 * and the fits; period; fit (Bazin); drw) and for all of them, as min / median / max over R rounds
 * of N loci each. The periodogram's grid is the default (periods 0.1 day to the span, 5 samples per
 * peak, at most 20,000 frequencies).
 *
 * Then one ss_features_periodogram() call alone on the same curves, by each method (exact:
 * points x frequencies; fast: the non-uniform FFT), on one band (every point in one band) and on
 * the two bands together (multi-band); --periodogram times only these, --group NAME only that
 * group per locus (basic, period, fit, drw or all). --span sets the light curves' span (400 days;
 * from about 2,000 days the default grid is thinned to its 20,000 frequencies).
 *
 * The machine is noisy, so each round also times a reference: sorting the light curve's
 * magnitudes with qsort, a fixed amount of plain work; the ratio to it is printed beside the time.
 */
#include "bench_util.h"

#include <getopt.h>
#include <math.h>
#include <skysieve/features.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* A periodic source, or (@p transient) a Bazin rise and fall peaking on day 100 over a faint
 * baseline. */
static double span_days = 400;

static ss_lc_point *make_curve(size_t n, unsigned seed, int transient)
{
    ss_lc_point *p = calloc(n, sizeof *p);
    srand(seed);
    double t = 59000;
    for (size_t i = 0; i < n; i++) {
        t += span_days / (double)n * (0.5 + (double)rand() / RAND_MAX);
        double noise = 0.03 * ((double)rand() / RAND_MAX - 0.5);
        double x = t - 59090, sn = 5000 / (exp(x / 40) + exp(x / 40 - x / 5)) + 100;
        double m =
            transient ? 31.4 - 2.5 * log10(sn) + noise : 18 + 0.4 * sin(2 * M_PI * t / 3.7) + noise;
        double flux = pow(10, (31.4 - m) / 2.5);
        p[i] = (ss_lc_point){
            t, m, 0.03, NAN, flux, 0.03 * flux, i % 2 ? "r" : "g", "bench", "", SS_POINT_DETECTION};
    }
    return p;
}

static double time_features(ss_features *f, const ss_lc_point *p, size_t n, unsigned groups,
                            int loci)
{
    ss_features_options o = SS_FEATURES_OPTIONS_INIT;
    o.groups = groups;
    double t0 = bench_now_s();
    for (int i = 0; i < loci; i++)
        if (ss_features_compute(f, p, n, &o)) {
            fprintf(stderr, "bench_features: compute failed\n");
            exit(1);
        }
    return (bench_now_s() - t0) / loci * 1e6;
}

/* One periodogram call on the curve's points, one band (@p multi 0) or g and r. */
static double time_periodogram(const ss_lc_point *p, size_t n, int method, int multi, int calls)
{
    double *t = malloc(3 * n * sizeof *t);
    int *band = malloc(n * sizeof *band);
    for (size_t i = 0; i < n; i++) {
        t[i] = p[i].mjd, t[n + i] = p[i].mag, t[2 * n + i] = p[i].magerr;
        band[i] = p[i].passband[0] == 'r';
    }
    ss_features_options o = SS_FEATURES_OPTIONS_INIT;
    o.period_method = method;
    ss_period out;
    double t0 = bench_now_s();
    for (int i = 0; i < calls; i++)
        if (ss_features_periodogram(t, t + n, t + 2 * n, multi ? band : NULL, 2, n, &o, &out,
                                    NULL)) {
            fprintf(stderr, "bench_features: periodogram failed\n");
            exit(1);
        }
    double us = (bench_now_s() - t0) / calls * 1e6;
    free(t);
    free(band);
    return us;
}

static double time_reference(const ss_lc_point *p, size_t n, int loci)
{
    double *m = malloc(n * sizeof *m), sink = 0;
    double t0 = bench_now_s();
    for (int i = 0; i < loci; i++) {
        for (size_t k = 0; k < n; k++)
            m[k] = p[k].mag;
        qsort(m, n, sizeof *m, cmp_double);
        sink += m[n / 2];
    }
    double us = (bench_now_s() - t0) / loci * 1e6;
    free(m);
    return sink == 12345.678 ? 0 : us; /* keeps the loop */
}

static void report(const char *what, size_t n, double *us, double *ref, int r)
{
    double ratio[64];
    for (int i = 0; i < r; i++)
        ratio[i] = us[i] / ref[i];
    qsort(us, (size_t)r, sizeof *us, cmp_double);
    qsort(ratio, (size_t)r, sizeof *ratio, cmp_double);
    printf("%-8s %5zu points  %10.1f %10.1f %10.1f us   x reference %8.1f %8.1f %8.1f\n", what, n,
           us[0], us[r / 2], us[r - 1], ratio[0], ratio[r / 2], ratio[r - 1]);
}

static void bench_periodograms(int repeat, int loci)
{
    static const size_t sizes[] = {10, 100, 1000};
    static const char *const what[] = {"exact 1b", "fast 1b", "exact 2b", "fast 2b"};
    printf("ss_features_periodogram() alone, one band (1b) or g and r (2b), default grid:\n");
    for (int w = 0; w < 4; w++)
        for (size_t z = 0; z < 3; z++) {
            size_t n = sizes[z];
            ss_lc_point *p = make_curve(n, 7, 0);
            int calls = loci ? loci : w % 2 == 0 && n >= 1000 ? 5 : 100;
            double us[64], ref[64];
            for (int r = 0; r < repeat; r++) {
                ref[r] = time_reference(p, n, 200);
                us[r] =
                    time_periodogram(p, n, w % 2 ? SS_PERIOD_FAST : SS_PERIOD_EXACT, w / 2, calls);
            }
            report(what[w], n, us, ref, repeat);
            free(p);
        }
}

int main(int argc, char **argv)
{
    int repeat = 5, loci = 0, only_periodogram = 0, c;
    const char *group = NULL;
    static const struct option opts[] = {
        {"repeat", required_argument, NULL, 'r'}, {"loci", required_argument, NULL, 'n'},
        {"periodogram", no_argument, NULL, 'p'},  {"group", required_argument, NULL, 'g'},
        {"span", required_argument, NULL, 's'},   {0}};
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'r')
            repeat = atoi(optarg);
        else if (c == 'n')
            loci = atoi(optarg);
        else if (c == 'p')
            only_periodogram = 1;
        else if (c == 'g')
            group = optarg;
        else if (c == 's')
            span_days = atof(optarg);
        else
            return 2;
    }
    if (repeat < 1 || repeat > 64)
        repeat = 5;
    static const struct {
        const char *name;
        unsigned groups;
    } sets[] = {{"basic", SS_FEATURES_BASIC},
                {"period", SS_FEATURES_PERIOD},
                {"fit", SS_FEATURES_FIT},
                {"drw", SS_FEATURES_DRW},
                {"all", SS_FEATURES_ALL}};
    int known = !group;
    for (size_t g = 0; g < sizeof sets / sizeof *sets && !known; g++)
        known = !strcmp(group, sets[g].name);
    if (!known || !(span_days > 0)) {
        if (!known)
            fprintf(stderr, "bench_features: unknown group '%s' (basic, period, fit, drw, all)\n",
                    group);
        else
            fprintf(stderr, "bench_features: the span must be above 0 days\n");
        return 2;
    }
    static const size_t sizes[] = {10, 100, 1000};
    ss_features *f = ss_features_new();
    printf("bench_features: per locus, min / median / max of %d rounds\n", repeat);
    for (size_t s = 0; s < (only_periodogram ? 0u : 5u); s++)
        for (size_t z = 0; z < 3 && (!group || !strcmp(group, sets[s].name)); z++) {
            size_t n = sizes[z];
            ss_lc_point *p = make_curve(n, 7, sets[s].groups == SS_FEATURES_FIT);
            int nl = loci ? loci : n >= 1000 && sets[s].groups != SS_FEATURES_BASIC ? 5 : 200;
            double us[64], ref[64];
            for (int r = 0; r < repeat; r++) {
                ref[r] = time_reference(p, n, 200);
                us[r] = time_features(f, p, n, sets[s].groups, nl);
            }
            report(sets[s].name, n, us, ref, repeat);
            free(p);
        }
    ss_features_free(f);
    if (!group)
        bench_periodograms(repeat, loci);
    return 0;
}
