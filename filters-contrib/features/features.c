/*
 * features: the light-curve feature library (skysieve/features.h) written as locus properties,
 * under the names the ALeRCE-compatible /ztf/v1/objects/{oid}/features route serves:
 * feature_<name>_<fid>, with fid 1 2 3 4 5 6 for g r i z y u (ALeRCE's ZTF band ids for g r i),
 * 12 23 34 45 61 for the colours g-r r-i i-z z-y u-g (ALeRCE's 12 for g-r), and 0 for the
 * multi-band features. Features that cannot be computed (too few points) are not written.
 *
 * Setup keys: features = a comma-separated list of names (default: the basic group, the
 * periodogram and the Bazin fit; "all" for every one); forced = true to use forced photometry
 * with the detections; and the numbers of ss_features_options (min_dt, max_dt, colour_window,
 * min_period, max_period, samples_per_peak, max_frequencies, min_points_period), and method =
 * auto, exact or fast (the periodogram's sums).
 */
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <skysieve/features.h>
#include <skysieve/filter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FE_BANDS "grizyu"
#define FE_NAME  48

typedef struct fe_state {
    ss_features *f;
    ss_features_options opt;
    unsigned char want[128]; /* by catalog index */
} fe_state;

/* The declarations, made once from the catalog: every feature in every band it applies to.
 * Static storage, as the descriptor needs it until teardown and nothing frees it at dlclose. */
#define FE_MAX_DECLS 600
static ss_property_decl fe_decls[FE_MAX_DECLS + 1];
static char fe_names[FE_MAX_DECLS][FE_NAME];
static int fe_declared;
static pthread_once_t fe_once = PTHREAD_ONCE_INIT;

static const char *const fe_colours[] = {"g-r", "r-i", "i-z", "z-y", "u-g"};
static const int fe_colour_fid[] = {12, 23, 34, 45, 61};

static int fe_fid(const ss_feature_value *v)
{
    if (v->def->scope == SS_FEATURE_MULTIBAND)
        return 0;
    if (v->def->scope == SS_FEATURE_COLOUR) {
        for (size_t i = 0; i < sizeof fe_colours / sizeof *fe_colours; i++)
            if (!strcasecmp(v->band, fe_colours[i]))
                return fe_colour_fid[i];
        return -1;
    }
    /* either case: ELAsTiCC and some Rubin streams spell y as Y */
    const char *at =
        v->band[0] && !v->band[1] ? strchr(FE_BANDS, tolower((unsigned char)v->band[0])) : NULL;
    return at ? (int)(at - FE_BANDS) + 1 : -1;
}

static void fe_declare(void)
{
    size_t n;
    const ss_feature_def *d = ss_features_catalog(&n);
    if (n * 6 > FE_MAX_DECLS)
        return; /* a catalog this filter was not sized for: refuse to load */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int per = d[i].scope == SS_FEATURE_BAND ? 6 : d[i].scope == SS_FEATURE_COLOUR ? 5 : 1;
        for (int b = 0; b < per; b++) {
            int fid = d[i].scope == SS_FEATURE_BAND     ? b + 1
                      : d[i].scope == SS_FEATURE_COLOUR ? fe_colour_fid[b]
                                                        : 0;
            snprintf(fe_names[k], FE_NAME, "feature_%s_%d", d[i].name, fid);
            fe_decls[k] = (ss_property_decl){fe_names[k], SS_TYPE_FLOAT, d[i].definition};
            k++;
        }
    }
    fe_declared = 1;
}

/* "mean,std" or "all": marks the chosen catalog entries. */
static int fe_choose(fe_state *s, const char *list, char *err, size_t errlen)
{
    size_t n;
    const ss_feature_def *d = ss_features_catalog(&n);
    for (size_t i = 0; i < n && i < sizeof s->want; i++)
        s->want[i] =
            !strcmp(list, "all") || (!strcmp(list, "default") && !(d[i].group & SS_FEATURES_DRW));
    for (const char *p = list; strcmp(list, "all") && strcmp(list, "default") && *p;) {
        size_t len = strcspn(p, ", "), i = 0;
        while (i < n && (strlen(d[i].name) != len || strncmp(d[i].name, p, len)))
            i++;
        if (len && i == n) {
            snprintf(err, errlen, "features: no feature '%.*s' (features.h lists them)", (int)len,
                     p);
            return -1;
        }
        if (len)
            s->want[i] = 1;
        p += len + (p[len] != 0);
    }
    s->opt.groups = 0;
    for (size_t i = 0; i < n && i < sizeof s->want; i++)
        s->opt.groups |= s->want[i] ? d[i].group : 0;
    return 0;
}

static int fe_number(const ss_setup_item *it, const char *key, double *out, char *err,
                     size_t errlen)
{
    if (strcmp(it->key, key))
        return 0;
    char *end;
    *out = strtod(it->value, &end);
    if (end == it->value || *end) {
        snprintf(err, errlen, "features: %s must be a number, not '%s'", key, it->value);
        return -1;
    }
    return 1;
}

static int fe_setup_item(fe_state *s, const ss_setup_item *it, char *err, size_t errlen)
{
    ss_features_options *o = &s->opt;
    double v = 0;
    int r;
    if (!strcmp(it->key, "features"))
        return fe_choose(s, it->value, err, errlen);
    if (!strcmp(it->key, "method")) {
        if ((o->period_method = ss_features_period_method(it->value)) >= 0)
            return 0;
        snprintf(err, errlen, "features: method '%s': auto, exact or fast", it->value);
        return -1;
    }
    if (!strcmp(it->key, "forced")) {
        o->kinds = SS_POINT_DETECTION | (!strcmp(it->value, "true") ? SS_POINT_FORCED : 0);
        return 0;
    }
#define FE_NUM(key, field)                                                                         \
    if ((r = fe_number(it, #key, &v, err, errlen)) != 0) {                                         \
        if (r > 0)                                                                                 \
            o->field = v;                                                                          \
        return r < 0 ? -1 : 0;                                                                     \
    }
    FE_NUM(min_dt, min_dt)
    FE_NUM(max_dt, max_dt)
    FE_NUM(colour_window, colour_window)
    FE_NUM(min_period, min_period)
    FE_NUM(max_period, max_period)
    FE_NUM(samples_per_peak, samples_per_peak)
    FE_NUM(max_frequencies, max_frequencies)
    FE_NUM(min_points_period, min_points_period)
    snprintf(err, errlen, "features: unknown setup key '%s'", it->key);
    return -1;
}

/* A refused setup key is named on stderr, which the broker logs under the filter's name. */
static int fe_setup(const ss_host_api *host, const ss_setup_item *items, size_t n, void **state)
{
    (void)host;
    fe_state *s = calloc(1, sizeof *s);
    if (!s || !(s->f = ss_features_new())) {
        free(s);
        return SS_ENOMEM;
    }
    char err[200];
    s->opt = (ss_features_options)SS_FEATURES_OPTIONS_INIT;
    fe_choose(s, "default", err, sizeof err);
    for (size_t i = 0; i < n; i++)
        if (fe_setup_item(s, &items[i], err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            ss_features_free(s->f);
            free(s);
            return SS_EINVAL;
        }
    *state = s;
    return 0;
}

static int fe_run(const ss_host_api *host, void *state, ss_locus_view *l)
{
    fe_state *s = state;
    const ss_lc_point *pts;
    size_t n;
    int rc = host->light_curve(l, NULL, s->opt.kinds, &pts, &n);
    if (rc || (rc = ss_features_compute(s->f, pts, n, &s->opt)))
        return rc;
    size_t ncat;
    const ss_feature_def *cat = ss_features_catalog(&ncat);
    for (size_t i = 0; i < ss_features_count(s->f); i++) {
        const ss_feature_value *v = ss_features_value(s->f, i);
        int fid = fe_fid(v);
        if (fid < 0 || isnan(v->value) || !s->want[v->def - cat])
            continue;
        char name[FE_NAME];
        snprintf(name, sizeof name, "feature_%s_%d", v->def->name, fid);
        ss_value val = {.type = SS_TYPE_FLOAT, .u.f = v->value};
        if ((rc = host->set_locus_property(l, name, val)))
            return rc;
    }
    return 0;
}

static void fe_teardown(void *state)
{
    fe_state *s = state;
    if (s)
        ss_features_free(s->f);
    free(s);
}

static ss_filter_descriptor fe_descriptor = {
    SS_FILTER_HEADER,
    .name = "features",
    .version = "1.0.0",
    .description = "Light-curve features (skysieve/features.h) as feature_<name>_<fid> properties",
    .author = "skysieve developers <dev@skysieve.invalid>",
    .setup = fe_setup,
    .run = fe_run,
    .teardown = fe_teardown,
};

const ss_filter_descriptor *skysieve_filter(void)
{
    pthread_once(&fe_once, fe_declare);
    if (!fe_declared)
        return NULL;
    fe_descriptor.output_locus_properties = fe_decls;
    return &fe_descriptor;
}
