/*
 * features_dump: the feature library on a light curve read from standard input, as JSON, for the
 * tests that check it against numpy, scipy and astropy (features_test.py) and for anyone who wants
 * to see what a light curve gives.
 *
 *   features_dump [MODE] [option=value ...] < points.csv
 *
 * Input rows: mjd,band,mag,magerr,flux,fluxerr[,kind] (kind: d detection, u upper limit, f forced;
 * default d; "nan" for a missing value). Modes: all (every feature), power (the periodogram's
 * grid: one band, or all bands with multiband=1), bands (each band's periodogram and the
 * multi-band one from ss_features_periodogram_bands), drw TAU SIGMA MEAN (the log-likelihood).
 * Options: the fields of ss_features_options (min_dt, max_dt, colour_window, min_period,
 * max_period, samples_per_peak, max_frequencies, min_points_period, groups, kinds), and
 * method=auto|exact|fast (period_method).
 */
#include <skysieve/features.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct dump_lc {
    ss_lc_point *p;
    size_t n, cap;
    char (*band)[24];
} dump_lc;

static double dump_num(const char *s)
{
    return strcmp(s, "nan") == 0 || !*s ? NAN : strtod(s, NULL);
}

static int dump_row(dump_lc *lc, char *line, size_t lineno)
{
    char *f[7] = {0};
    int nf = 0;
    for (char *tok = strtok(line, ",\r\n"); tok && nf < 7; tok = strtok(NULL, ",\r\n"))
        f[nf++] = tok;
    if (nf < 6 || strlen(f[1]) >= 24) {
        fprintf(stderr, "features_dump: line %zu: want mjd,band,mag,magerr,flux,fluxerr[,kind]\n",
                lineno);
        return -1;
    }
    if (lc->n == lc->cap) {
        lc->cap = lc->cap ? 2 * lc->cap : 256;
        lc->p = realloc(lc->p, lc->cap * sizeof *lc->p);
        lc->band = realloc(lc->band, lc->cap * sizeof *lc->band);
        if (!lc->p || !lc->band)
            return -1;
    }
    strcpy(lc->band[lc->n], f[1]);
    unsigned kind = nf > 6 && f[6][0] == 'u'   ? SS_POINT_UPPER_LIMIT
                    : nf > 6 && f[6][0] == 'f' ? SS_POINT_FORCED
                                               : SS_POINT_DETECTION;
    lc->p[lc->n] =
        (ss_lc_point){dump_num(f[0]), dump_num(f[2]), dump_num(f[3]), NAN, dump_num(f[4]),
                      dump_num(f[5]), NULL,           "test",         "",  kind};
    lc->n++;
    return 0;
}

static int dump_read(dump_lc *lc)
{
    char line[512];
    size_t lineno = 0;
    while (fgets(line, sizeof line, stdin)) {
        lineno++;
        if (line[0] == '#' || line[0] == '\n' || !strncmp(line, "mjd", 3))
            continue;
        if (dump_row(lc, line, lineno))
            return -1;
    }
    for (size_t i = 0; i < lc->n; i++)
        lc->p[i].passband = lc->band[i]; /* after the last realloc */
    return 0;
}

static int dump_option(ss_features_options *o, int *multiband, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq)
        return -1;
    size_t k = (size_t)(eq - arg);
    double v = strtod(eq + 1, NULL);
    if (k == 6 && !strncmp(arg, "method", 6))
        return (o->period_method = ss_features_period_method(eq + 1)) < 0 ? -1 : 0;
#define DUMP_OPT(name, expr)                                                                       \
    if (k == strlen(#name) && !strncmp(arg, #name, k)) {                                           \
        expr;                                                                                      \
        return 0;                                                                                  \
    }
    DUMP_OPT(min_dt, o->min_dt = v)
    DUMP_OPT(max_dt, o->max_dt = v)
    DUMP_OPT(colour_window, o->colour_window = v)
    DUMP_OPT(min_period, o->min_period = v)
    DUMP_OPT(max_period, o->max_period = v)
    DUMP_OPT(samples_per_peak, o->samples_per_peak = v)
    DUMP_OPT(max_frequencies, o->max_frequencies = (size_t)v)
    DUMP_OPT(min_points_period, o->min_points_period = (size_t)v)
    DUMP_OPT(groups, o->groups = (unsigned)v)
    DUMP_OPT(kinds, o->kinds = (unsigned)v)
    DUMP_OPT(multiband, *multiband = (int)v)
    return -1;
}

static void dump_num_json(double v)
{
    if (isfinite(v))
        printf("%.17g", v);
    else
        printf("null");
}

/* What a failed call's code means for the light curve read (ss_strerror is the host's, which
 * this program does not link). */
static const char *dump_why(int rc)
{
    return rc == SS_ENOMEM ? "out of memory"
           : rc == SS_EINVAL
               ? "a time, magnitude or error that is not finite, or an error not above 0"
               : "unexpected error";
}

static int dump_all(const dump_lc *lc, const ss_features_options *o)
{
    ss_features *f = ss_features_new();
    int rc = f ? ss_features_compute(f, lc->p, lc->n, o) : SS_ENOMEM;
    if (rc) {
        fprintf(stderr, "features_dump: ss_features_compute: %d (%s)\n", rc, dump_why(rc));
        ss_features_free(f);
        return 1;
    }
    printf("{\"features\": [");
    for (size_t i = 0; i < ss_features_count(f); i++) {
        const ss_feature_value *v = ss_features_value(f, i);
        printf("%s\n {\"name\": \"%s\", \"band\": \"%s\", \"value\": ", i ? "," : "", v->def->name,
               v->band);
        dump_num_json(v->value);
        printf("}");
    }
    printf("]}\n");
    ss_features_free(f);
    return 0;
}

/* The detections' times, magnitudes and errors (t, t + n, t + 2n) and band numbers, the band
 * names into @p names (at most 16). @return the number of bands; the arrays are the caller's. */
static int dump_arrays(const dump_lc *lc, double *t, int *band, char (*names)[24])
{
    size_t n = lc->n;
    int nb = 0;
    for (size_t i = 0; i < n; i++) {
        int b = 0;
        while (b < nb && strcmp(names[b], lc->band[i]))
            b++;
        if (b == nb && nb < 16)
            strcpy(names[nb++], lc->band[i]);
        band[i] = b;
        t[i] = lc->p[i].mjd, t[n + i] = lc->p[i].mag, t[2 * n + i] = lc->p[i].magerr;
    }
    return nb;
}

static void dump_period_json(const ss_period *p)
{
    printf("{\"period\": ");
    dump_num_json(p->period);
    printf(", \"power\": ");
    dump_num_json(p->power);
    printf(", \"fap\": ");
    dump_num_json(p->fap);
    printf(", \"frequencies\": %zu}", p->frequencies);
}

/* The periodogram on the detections' magnitudes, band by band numbers when multiband. */
static int dump_power(const dump_lc *lc, const ss_features_options *o, int multiband)
{
    size_t n = lc->n, cap = o->max_frequencies ? o->max_frequencies : 20000;
    double *t = malloc(3 * n * sizeof *t + 1), *power = malloc(cap * sizeof *power);
    int *band = malloc(n * sizeof *band + 1);
    char names[16][24];
    int nb = dump_arrays(lc, t, band, names);
    ss_period p;
    int rc =
        ss_features_periodogram(t, t + n, t + 2 * n, multiband ? band : NULL, nb, n, o, &p, power);
    if (!rc) {
        printf("{\"period\": ");
        dump_num_json(p.period);
        printf(", \"power\": ");
        dump_num_json(p.power);
        printf(", \"fap\": ");
        dump_num_json(p.fap);
        printf(", \"grid\": [");
        for (size_t i = 0; i < p.frequencies; i++) {
            printf("%s", i ? ", " : "");
            dump_num_json(power[i]);
        }
        printf("]}\n");
    } else {
        fprintf(stderr, "features_dump: ss_features_periodogram: %d (%s)\n", rc, dump_why(rc));
    }
    free(t);
    free(power);
    free(band);
    return rc ? 1 : 0;
}

/* Each band's periodogram and the multi-band one, from one call. */
static int dump_bands(const dump_lc *lc, const ss_features_options *o)
{
    size_t n = lc->n;
    double *t = malloc(3 * n * sizeof *t + 1);
    int *band = malloc(n * sizeof *band + 1);
    char names[16][24];
    int nb = dump_arrays(lc, t, band, names);
    ss_period per[16], multi;
    int rc =
        ss_features_periodogram_bands(t, t + n, t + 2 * n, band, nb ? nb : 1, n, o, per, &multi);
    if (!rc) {
        printf("{\"multiband\": ");
        dump_period_json(&multi);
        printf(", \"bands\": {");
        for (int b = 0; b < nb; b++) {
            printf("%s\"%s\": ", b ? ", " : "", names[b]);
            dump_period_json(&per[b]);
        }
        printf("}}\n");
    } else {
        fprintf(stderr, "features_dump: ss_features_periodogram_bands: %d (%s)\n", rc,
                dump_why(rc));
    }
    free(t);
    free(band);
    return rc ? 1 : 0;
}

static int dump_drw(const dump_lc *lc, char **argv)
{
    size_t n = lc->n;
    double *t = malloc(3 * n * sizeof *t + 1);
    for (size_t i = 0; i < n; i++)
        t[i] = lc->p[i].mjd, t[n + i] = lc->p[i].mag, t[2 * n + i] = lc->p[i].magerr;
    ss_drw p = {strtod(argv[0], NULL), strtod(argv[1], NULL), strtod(argv[2], NULL), NAN};
    printf("{\"loglike\": ");
    dump_num_json(ss_features_drw_loglike(t, t + n, t + 2 * n, n, &p));
    printf("}\n");
    free(t);
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "all";
    ss_features_options o = SS_FEATURES_OPTIONS_INIT;
    int multiband = 0, first_opt = strcmp(mode, "drw") == 0 ? 5 : 2;
    if (strcmp(mode, "all") && strcmp(mode, "power") && strcmp(mode, "bands") &&
        (strcmp(mode, "drw") || argc < 5)) {
        fprintf(stderr,
                "usage: features_dump [all | power | bands | drw TAU SIGMA MEAN] [opt=value...]\n");
        return 2;
    }
    for (int i = first_opt; i < argc; i++)
        if (dump_option(&o, &multiband, argv[i])) {
            fprintf(stderr, "features_dump: unknown option '%s'\n", argv[i]);
            return 2;
        }
    dump_lc lc = {0};
    int rc = dump_read(&lc)           ? 2
             : !strcmp(mode, "all")   ? dump_all(&lc, &o)
             : !strcmp(mode, "power") ? dump_power(&lc, &o, multiband)
             : !strcmp(mode, "bands") ? dump_bands(&lc, &o)
                                      : dump_drw(&lc, argv + 2);
    free(lc.p);
    free(lc.band);
    return rc;
}
