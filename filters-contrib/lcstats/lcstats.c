/*
 * lcstats: light-curve statistics per passband, from detections only: amplitude (max - min mag),
 * mean and standard deviation of the magnitudes, and the rate of change in mag/day between the
 * latest detection and the latest earlier one (positive when fading). Bands u g r i z y (LSST,
 * ZTF) and V I (the tutorial). Computed by the feature library (skysieve/features.h); the
 * `features` filter gives the whole catalog.
 */
#include <math.h>
#include <skysieve/features.h>
#include <skysieve/filter.h>
#include <stdio.h>
#include <string.h>

#define LC_BANDS "ugrizyVI"

/* Declarations are static data: four properties for each of the eight bands. */
#define LC_DECLS(b)                                                                                \
    {"lc_" b "_amplitude", SS_TYPE_FLOAT, "max - min magnitude of the " b " detections"},          \
        {"lc_" b "_mean", SS_TYPE_FLOAT, "mean magnitude of the " b " detections"},                \
        {"lc_" b "_std", SS_TYPE_FLOAT, "standard deviation of the " b " magnitudes"},             \
    {                                                                                              \
        "lc_" b "_rate", SS_TYPE_FLOAT,                                                            \
            "mag/day between the two latest " b " detections (positive: fading)"                   \
    }

static const ss_property_decl lc_props[] = {
    LC_DECLS("u"), LC_DECLS("g"), LC_DECLS("r"), LC_DECLS("i"),   LC_DECLS("z"),
    LC_DECLS("y"), LC_DECLS("V"), LC_DECLS("I"), {NULL, 0, NULL},
};

static int lc_set(const ss_host_api *host, ss_locus_view *l, const char *band, const char *what,
                  double v)
{
    char name[32];
    snprintf(name, sizeof name, "lc_%s_%s", band, what);
    ss_value val = {.type = SS_TYPE_FLOAT, .u.f = v};
    return host->set_locus_property(l, name, val);
}

static int lc_band(const ss_host_api *host, ss_locus_view *l, const char *band)
{
    ss_lightcurve lc;
    ss_moments mo;
    if (host->lightcurve(l, band, 0, &lc) || lc.n == 0)
        return 0;
    int rc = ss_features_moments(lc.mag, lc.n, NULL, &mo);
    if (rc || (rc = lc_set(host, l, band, "amplitude", mo.max - mo.min)) ||
        (rc = lc_set(host, l, band, "mean", mo.mean)) ||
        (rc = lc_set(host, l, band, "std", lc.n > 1 ? mo.std : 0.0)))
        return rc;
    double rate, sigma;
    if (ss_features_latest_rate(lc.mjd, lc.mag, lc.magerr, lc.n, 0, INFINITY, &rate, &sigma))
        rc = lc_set(host, l, band, "rate", rate);
    return rc;
}

static int lc_run(const ss_host_api *host, void *state, ss_locus_view *l)
{
    (void)state;
    const char *bands[32];
    size_t nb = host->passbands(l, bands, 32);
    for (size_t b = 0; b < nb && b < 32; b++) {
        if (strlen(bands[b]) != 1 || !strchr(LC_BANDS, bands[b][0]))
            continue; /* no declared properties for this band */
        int rc = lc_band(host, l, bands[b]);
        if (rc)
            return rc;
    }
    return 0;
}

static const ss_filter_descriptor lc_descriptor = {
    SS_FILTER_HEADER,
    .name = "lcstats",
    .version = "1.1.0",
    .description = "Light-curve statistics per passband: amplitude, mean, std, latest rate",
    .author = "skysieve developers <dev@skysieve.invalid>",
    .output_locus_properties = lc_props,
    .run = lc_run,
};

const ss_filter_descriptor *skysieve_filter(void)
{
    return &lc_descriptor;
}
