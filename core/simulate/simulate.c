/*
 * The simulated survey: a population of sources (built-in models and light-curve files), observed
 * at the tutorial's cadence, written as alerts in observation-time order. Exposures are the outer
 * loop and sources the inner one, so memory holds the population and nothing per alert: a million
 * alerts stream out in one pass.
 */
#include "simulate_impl.h"

#include "rng.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define SSI_DEG (M_PI / 180.0)
/* A transient is this faint when it explodes: below the default limit, so it is not detected
 * before. */
#define SSI_EXPLOSION_MAG 26.0
/* The most a transient changes between two epochs, in magnitudes (a periodic source changes by at
 * most its peak-to-peak 2 mag). With the noise it stays well under the 3 mag of the tutorial's
 * jump filter. */
#define SSI_MAX_STEP 1.5
/* The last MJD ingest accepts (2100-01-01). */
#define SSI_MJD_MAX 88069.0

/* One source: its model and parameters, drawn once; its own random stream for the observations. */
typedef struct ssi_source {
    ss_sim_model model;
    double ra, dec;
    double mag;    /* constant, jump: the magnitude (before the jump); periodic: the mean;
                      transient: the peak; all in the first passband */
    double colour; /* added once per passband after the first */
    double amp, period, phase;        /* periodic: semi-amplitude, days, fraction of a period */
    double t_exp, t_peak, rise, fall; /* transient: days from the start; mag per day */
    double t_jump;                    /* jump: days from the start */
    const ssi_lc *lc;
    uint8_t lc_band[SS_SIM_MAX_BANDS]; /* the file's band observed in each passband slot */
    const char *band[SS_SIM_MAX_BANDS];
    ss_rng rng;
} ssi_source;

struct ss_sim {
    ss_sim_options o;
    ssi_lc **lc; /* owned, in the order added */
    size_t nlc, lc_cap;
    ssi_source *src; /* owned */
    uint64_t nsrc;
};

static const char *const ssi_model_names[SS_SIM_NMODELS] = {
    "constant", "periodic", "transient", "jump", "lightcurve", "snana",
};
static const char *const ssi_format_names[] = {"csv", "jsonl", "avro"};
static const char ssi_default_bands[2][2] = {"g", "r"};

const char *ss_sim_model_name(ss_sim_model m)
{
    return m < SS_SIM_NMODELS ? ssi_model_names[m] : "unknown";
}

int ss_sim_model_find(const char *name)
{
    for (int m = 0; m < SS_SIM_NBUILTIN; m++)
        if (!strcmp(name, ssi_model_names[m]))
            return m;
    return -1;
}

const char *ss_sim_format_name(ss_sim_format f)
{
    return ssi_format_names[f];
}

int ss_sim_format_find(const char *name)
{
    for (int f = 0; f < 3; f++)
        if (!strcmp(name, ssi_format_names[f]))
            return f;
    return -1;
}

ss_sim_format ss_sim_format_of_path(const char *path)
{
    const char *dot = path ? strrchr(path, '.') : NULL;
    if (dot && !strcasecmp(dot, ".jsonl"))
        return SS_SIM_JSONL;
    if (dot && !strcasecmp(dot, ".avro"))
        return SS_SIM_AVRO;
    return SS_SIM_CSV;
}

void ss_sim_default_counts(uint64_t count[SS_SIM_NBUILTIN])
{
    count[SS_SIM_CONSTANT] = 100;
    count[SS_SIM_PERIODIC] = 20;
    count[SS_SIM_TRANSIENT] = 5;
    count[SS_SIM_JUMP] = 1;
}

void ss_sim_options_default(ss_sim_options *o)
{
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->epochs = 10;
    o->start_mjd = 60000.1;
    o->night_gap = 2.0;
    o->visit_gap = 1.0 / 24;
    o->band_gap = 10.0 / 1440;
    o->limit = 24.5;
    o->scatter_arcsec = 1.0;
    o->field_ra = 150.1;
    o->field_dec = 2.2;
    o->field_radius = 1.0;
    ss_sim_default_counts(o->count);
    o->jump_mag = 3.5;
    o->jump_epoch = 5;
    o->format = SS_SIM_CSV;
}

int ss_sim_scale_counts(uint64_t count[SS_SIM_NBUILTIN], uint64_t total)
{
    uint64_t sum = 0, given = 0, kinds = 0, out[SS_SIM_NBUILTIN];
    double frac[SS_SIM_NBUILTIN];
    for (int m = 0; m < SS_SIM_NBUILTIN; m++)
        sum += count[m], kinds += count[m] > 0;
    if (!sum)
        return -1;
    for (int m = 0; m < SS_SIM_NBUILTIN; m++) {
        double exact = (double)count[m] * (double)total / (double)sum;
        out[m] = (uint64_t)exact;
        frac[m] = count[m] ? exact - (double)out[m] : -2; /* never given what it had none of */
        if (count[m] && !out[m] && total >= kinds)        /* keep every model of the mix */
            out[m] = 1, frac[m] = -1;
        given += out[m];
    }
    while (given > total) { /* the ones kept cost the largest share one each */
        int big = 0;
        for (int m = 1; m < SS_SIM_NBUILTIN; m++)
            big = out[m] > out[big] ? m : big;
        out[big]--, given--;
    }
    while (given < total) {
        int best = 0;
        for (int m = 1; m < SS_SIM_NBUILTIN; m++)
            best = frac[m] > frac[best] ? m : best;
        out[best]++, given++, frac[best] = -1;
    }
    memcpy(count, out, sizeof out);
    return 0;
}

double ss_sim_magerr(double mag, double limit)
{
    double x = pow(10.0, 0.4 * (mag - limit));
    return sqrt(0.005 * 0.005 + (0.04 - 0.039) * x + 0.039 * x * x);
}

static size_t ssi_nbands(const ss_sim_options *o)
{
    return o->nbands ? o->nbands : 2;
}

/* Days from the start of epoch @p k, visit @p v, passband slot @p b. */
static double ssi_time(const ss_sim_options *o, uint32_t k, uint32_t v, size_t b)
{
    return k * o->night_gap + v * o->visit_gap + (double)b * o->band_gap;
}

int ssi_ztf_fid(const char *band)
{
    return !strcmp(band, "g") ? 1 : !strcmp(band, "r") ? 2 : !strcmp(band, "i") ? 3 : 0;
}

void ssi_object_id(char buf[32], uint64_t source)
{
    snprintf(buf, 32, "SIM%08" PRIu64, source + 1);
}

static int ssi_check_cadence(const ss_sim_options *o, ss_err *err)
{
    size_t nb = ssi_nbands(o);
    if (o->epochs < 1 || o->epochs > 100000)
        return ss_err_set(err, SS_EINVAL, "--epochs %u: need 1 to 100000", o->epochs);
    if (!(o->night_gap > 0) || !(o->visit_gap > 0) || !(o->band_gap > 0))
        return ss_err_set(err, SS_EINVAL, "--night-gap, --visit-gap and --band-gap must be > 0");
    double visit = (double)(nb - 1) * o->band_gap;
    if (visit >= o->visit_gap)
        return ss_err_set(err, SS_EINVAL,
                          "a visit's %zu passbands (%.4g min apart) do not end before the next "
                          "visit (--visit-gap %.4g min)",
                          nb, o->band_gap * 1440, o->visit_gap * 1440);
    if (o->visit_gap + visit >= o->night_gap)
        return ss_err_set(err, SS_EINVAL,
                          "an epoch's two visits (%.4g h) do not end before the next epoch "
                          "(--night-gap %.4g d)",
                          (o->visit_gap + visit) * 24, o->night_gap);
    double end = o->start_mjd + ssi_time(o, o->epochs - 1, 1, nb - 1);
    if (!(o->start_mjd >= 0) || !(end <= SSI_MJD_MAX))
        return ss_err_set(err, SS_EINVAL,
                          "the survey runs from MJD %.4f to %.4f: ingest takes MJD 0 to %.0f",
                          o->start_mjd, end, SSI_MJD_MAX);
    return 0;
}

static int ssi_check_bands(const ss_sim_options *o, ss_err *err)
{
    for (size_t b = 0; b < o->nbands; b++) {
        if (!ssi_band_ok(o->bands[b], strlen(o->bands[b])))
            return ss_err_set(
                err, SS_EINVAL,
                "--bands: '%s' is not a passband name (1 to %d letters, digits, _, -)", o->bands[b],
                SS_PASSBAND_MAX);
        for (size_t c = 0; c < b; c++)
            if (!strcmp(o->bands[b], o->bands[c]))
                return ss_err_set(err, SS_EINVAL, "--bands: '%s' twice", o->bands[b]);
        if (o->format == SS_SIM_AVRO && !ssi_ztf_fid(o->bands[b]))
            return ss_err_set(err, SS_EINVAL,
                              "--bands: '%s' has no ZTF filter id; Avro alerts carry g, r or i",
                              o->bands[b]);
    }
    return 0;
}

int ss_sim_options_check(const ss_sim_options *o, ss_err *err)
{
    int rc = ssi_check_cadence(o, err);
    if (!rc)
        rc = ssi_check_bands(o, err);
    if (rc)
        return rc;
    if (!(o->limit > 0 && o->limit < 40))
        return ss_err_set(err, SS_EINVAL, "--limit %g: need a magnitude in (0, 40)", o->limit);
    if (!(o->scatter_arcsec >= 0 && o->scatter_arcsec <= 3600))
        return ss_err_set(err, SS_EINVAL, "--scatter %g: need 0 to 3600 arcsec", o->scatter_arcsec);
    if (!(o->field_ra >= 0 && o->field_ra < 360) || !(fabs(o->field_dec) <= 90) ||
        !(o->field_radius > 0 && o->field_radius <= 90))
        return ss_err_set(err, SS_EINVAL,
                          "--field %g,%g,%g: need RA in [0, 360), Dec in [-90, 90] and a radius "
                          "in (0, 90] degrees",
                          o->field_ra, o->field_dec, o->field_radius);
    if (!isfinite(o->lc_start))
        return ss_err_set(err, SS_EINVAL, "--lc-start must be a number of days");
    if (!o->count[SS_SIM_JUMP])
        return 0;
    if (!(o->jump_mag > 0 && o->jump_mag <= 20))
        return ss_err_set(err, SS_EINVAL, "--jump-mag %g: need (0, 20] magnitudes", o->jump_mag);
    if (o->epochs < 2)
        return ss_err_set(err, SS_EINVAL,
                          "jump sources need 2 epochs or more: give --epochs, or a --model mix "
                          "without jump");
    if (o->jump_epoch < 1 || o->jump_epoch >= o->epochs)
        return ss_err_set(err, SS_EINVAL,
                          "--jump-epoch %u: a jump needs an epoch before it, so 1 to %u with %u "
                          "epochs",
                          o->jump_epoch, o->epochs - 1, o->epochs);
    return 0;
}

ss_sim *ss_sim_new(const ss_sim_options *o)
{
    ss_sim *s = calloc(1, sizeof *s);
    if (s)
        s->o = *o;
    return s;
}

void ss_sim_free(ss_sim *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nlc; i++)
        ssi_lc_free(s->lc[i]);
    free(s->lc);
    free(s->src);
    free(s);
}

/* Take ownership of @p lc (freed here when it cannot be kept). */
static int ssi_keep(ss_sim *s, ssi_lc *lc, ss_err *err)
{
    if (s->nlc == s->lc_cap) {
        size_t cap = s->lc_cap ? 2 * s->lc_cap : 16;
        ssi_lc **n = realloc(s->lc, cap * sizeof *n);
        if (!n) {
            ssi_lc_free(lc);
            return ss_err_set(err, SS_ENOMEM, "out of memory");
        }
        s->lc = n, s->lc_cap = cap;
    }
    s->lc[s->nlc++] = lc;
    return 0;
}

int ss_sim_add_lightcurve(ss_sim *s, const char *path, ss_err *err)
{
    ssi_lc *lc;
    int rc = ssi_lc_read_csv(path, &lc, err);
    return rc ? rc : ssi_keep(s, lc, err);
}

static int ssi_is_dat(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return n > 4 && !strcasecmp(d->d_name + n - 4, ".dat");
}

/* Name order by bytes, whatever the locale (alphasort follows LC_COLLATE). */
static int ssi_by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int ssi_add_snana_dir(ss_sim *s, const char *dir, ss_err *err)
{
    struct dirent **list;
    int n = scandir(dir, &list, ssi_is_dat, ssi_by_name), rc = 0;
    if (n < 0)
        return ss_err_set(err, errno, "%s: %s", dir, strerror(errno));
    if (n == 0)
        rc = ss_err_set(err, SS_EPARSE, "%s: no .dat files in this directory", dir);
    for (int i = 0; i < n; i++) {
        char *path = NULL;
        ssi_lc *lc;
        if (!rc && asprintf(&path, "%s/%s", dir, list[i]->d_name) < 0)
            path = NULL, rc = ss_err_set(err, SS_ENOMEM, "out of memory");
        if (!rc && !(rc = ssi_lc_read_snana(path, &lc, err)))
            rc = ssi_keep(s, lc, err);
        free(path);
        free(list[i]);
    }
    free(list);
    return rc;
}

int ss_sim_add_snana(ss_sim *s, const char *path, ss_err *err)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return ssi_add_snana_dir(s, path, err);
    ssi_lc *lc;
    int rc = ssi_lc_read_snana(path, &lc, err);
    return rc ? rc : ssi_keep(s, lc, err);
}

/* The point @p theta degrees from (ra, dec) towards position angle @p pa (radians, north through
 * east), on the sphere: right near the poles and across RA 0/360. */
static void ssi_offset(double ra, double dec, double theta, double pa, double *ra2, double *dec2)
{
    double d0 = dec * SSI_DEG, th = theta * SSI_DEG;
    double sd = sin(d0) * cos(th) + cos(d0) * sin(th) * cos(pa);
    double d = asin(fmax(-1.0, fmin(1.0, sd)));
    double dra = atan2(sin(pa) * sin(th) * cos(d0), cos(th) - sin(d0) * sd);
    double r = fmod(ra + dra / SSI_DEG, 360.0);
    if (r < 0)
        r += 360.0;
    /* printed with 8 decimals, 359.999999996 would read as 360, which ingest rejects */
    *ra2 = r >= 360.0 - 5e-9 ? 0.0 : r;
    *dec2 = d / SSI_DEG;
}

/* Uniform over the field's spherical cap. */
static void ssi_place(const ss_sim_options *o, ssi_source *src)
{
    double u = ss_rng_uniform(&src->rng), pa = 2 * M_PI * ss_rng_uniform(&src->rng);
    double theta = acos(1.0 - u * (1.0 - cos(o->field_radius * SSI_DEG))) / SSI_DEG;
    ssi_offset(o->field_ra, o->field_dec, theta, pa, &src->ra, &src->dec);
}

/* A rise from SSI_EXPLOSION_MAG to a peak inside the survey, no faster than SSI_MAX_STEP per
 * epoch, then a linear fade (in magnitudes, i.e. exponential in flux). When the survey is too short
 * for that rise, the transient explodes at the start and peaks after the shortest rise. */
static void ssi_draw_transient(const ss_sim_options *o, ssi_source *src)
{
    ss_rng *r = &src->rng;
    double max_rate = SSI_MAX_STEP / o->night_gap;
    src->mag = ss_rng_range(r, 19.0, 21.0);
    double shortest = (SSI_EXPLOSION_MAG - src->mag) / max_rate;
    double t_peak = ss_rng_range(r, 0.5, 0.9) * (o->epochs - 1) * o->night_gap;
    double u = ss_rng_uniform(r);
    double rise_time = t_peak > shortest ? shortest + u * (t_peak - shortest) : shortest;
    src->t_peak = fmax(t_peak, shortest);
    src->t_exp = src->t_peak - rise_time;
    src->rise = (SSI_EXPLOSION_MAG - src->mag) / rise_time;
    src->fall = fmin(0.12, max_rate) * ss_rng_range(r, 0.25, 1.0);
}

/* Halfway between the last observation before the jump epoch and the first of it. */
static double ssi_jump_time(const ss_sim_options *o)
{
    uint32_t e = o->jump_epoch;
    return 0.5 * (ssi_time(o, e - 1, 1, ssi_nbands(o) - 1) + ssi_time(o, e, 0, 0));
}

static void ssi_draw_builtin(const ss_sim_options *o, ssi_source *src)
{
    ss_rng *r = &src->rng;
    src->colour = ss_rng_range(r, -0.2, 0.8);
    switch (src->model) {
    case SS_SIM_CONSTANT: src->mag = ss_rng_range(r, 16.0, 22.0); break;
    case SS_SIM_PERIODIC:
        src->mag = ss_rng_range(r, 16.0, 21.0);
        src->amp = ss_rng_range(r, 0.1, 1.0);
        src->period = exp(ss_rng_range(r, log(0.2), log(20.0)));
        src->phase = ss_rng_uniform(r);
        break;
    case SS_SIM_TRANSIENT: ssi_draw_transient(o, src); break;
    case SS_SIM_JUMP:
        src->mag = ss_rng_range(r, 19.5, 21.5);
        src->t_jump = ssi_jump_time(o);
        break;
    default: break;
    }
    for (size_t b = 0; b < ssi_nbands(o); b++)
        src->band[b] = o->nbands ? o->bands[b] : ssi_default_bands[b];
}

/* Which of the file's bands each passband slot observes. */
static int ssi_bind_file(const ss_sim_options *o, ssi_source *src, ss_err *err)
{
    const ssi_lc *lc = src->lc;
    if (!o->nbands && lc->nbands < 2)
        return ss_err_set(err, SS_EINVAL,
                          "%s: one passband (%s); the survey observes two: give --bands", lc->path,
                          lc->band[0]);
    for (size_t b = 0; b < ssi_nbands(o); b++) {
        int i = o->nbands ? ssi_lc_band(lc, o->bands[b]) : (int)b;
        if (i < 0)
            return ss_err_set(err, SS_EINVAL, "%s: no passband '%s' (it has %s%s%s%s)", lc->path,
                              o->bands[b], lc->band[0], lc->nbands > 1 ? ", " : "",
                              lc->nbands > 1 ? lc->band[1] : "", lc->nbands > 2 ? ", ..." : "");
        if (!lc->series[i].n)
            return ss_err_set(err, SS_EINVAL, "%s: passband '%s' has no values", lc->path,
                              lc->band[i]);
        if (o->format == SS_SIM_AVRO && !ssi_ztf_fid(lc->band[i]))
            return ss_err_set(err, SS_EINVAL,
                              "%s: passband '%s' has no ZTF filter id; Avro alerts carry g, r or "
                              "i: give --bands",
                              lc->path, lc->band[i]);
        src->lc_band[b] = (uint8_t)i;
        src->band[b] = lc->band[i];
    }
    return 0;
}

int ss_sim_prepare(ss_sim *s, ss_err *err)
{
    uint64_t n = s->nlc;
    for (int m = 0; m < SS_SIM_NBUILTIN; m++)
        n += s->o.count[m];
    if (!n)
        return ss_err_set(err, SS_EINVAL, "no sources to simulate");
    free(s->src);
    if (!(s->src = calloc(n, sizeof *s->src)))
        return ss_err_set(err, SS_ENOMEM, "out of memory for %" PRIu64 " sources", n);
    s->nsrc = n;
    uint64_t i = 0;
    for (int m = 0; m < SS_SIM_NBUILTIN; m++)
        for (uint64_t k = 0; k < s->o.count[m]; k++, i++) {
            ssi_source *src = &s->src[i];
            ss_rng_seed(&src->rng, s->o.seed, i);
            src->model = (ss_sim_model)m;
            ssi_place(&s->o, src);
            ssi_draw_builtin(&s->o, src);
        }
    for (size_t f = 0; f < s->nlc; f++, i++) {
        ssi_source *src = &s->src[i];
        ss_rng_seed(&src->rng, s->o.seed, i);
        src->model = s->lc[f]->model;
        src->lc = s->lc[f];
        ssi_place(&s->o, src);
        int rc = ssi_bind_file(&s->o, src, err);
        if (rc)
            return rc;
    }
    return 0;
}

/* A built-in model's magnitude in passband slot @p b at @p t days. @return 1, or 0 when it has
 * no flux. */
static int ssi_model_mag(const ss_sim *s, const ssi_source *src, size_t b, double t, double *mag)
{
    double m = src->mag;
    switch (src->model) {
    case SS_SIM_PERIODIC: m += src->amp * sin(2 * M_PI * (t / src->period + src->phase)); break;
    case SS_SIM_TRANSIENT:
        if (t < src->t_exp)
            return 0;
        m += t < src->t_peak ? src->rise * (src->t_peak - t) : src->fall * (t - src->t_peak);
        break;
    case SS_SIM_JUMP: m -= t >= src->t_jump ? s->o.jump_mag : 0; break;
    default: break;
    }
    *mag = m + src->colour * (double)b;
    return 1;
}

/* An SNANA file's noise is its flux error, applied to the flux: as magnitudes, a faint point's
 * error of several magnitudes would turn it into a bright detection. */
static int ssi_measure_flux(const ss_sim *s, ssi_source *src, size_t b, double t, double *truth,
                            double *obs, double *magerr)
{
    double flux, ferr;
    ssi_lc_sample(src->lc, src->lc_band[b], t + s->o.lc_start, &flux, &ferr);
    if (!(flux > 0))
        return 0;
    double seen = flux + ferr * ss_rng_normal(&src->rng);
    *truth = SS_SIM_SNANA_ZEROPOINT - 2.5 * log10(flux);
    *obs = seen > 0 ? SS_SIM_SNANA_ZEROPOINT - 2.5 * log10(seen) : INFINITY;
    *magerr = SSI_MAGERR_PER_RELFLUX * ferr / seen;
    return 1;
}

/* Measure a source in slot @p b at @p t: its true magnitude, the observed one (INFINITY for no
 * flux measured) and the observation's error. @return 1, or 0 when the source has no flux. */
static int ssi_measure(const ss_sim *s, ssi_source *src, size_t b, double t, double *truth,
                       double *obs, double *magerr)
{
    double err = NAN;
    if (src->model == SS_SIM_SNANA)
        return ssi_measure_flux(s, src, b, t, truth, obs, magerr);
    if (src->model == SS_SIM_LIGHTCURVE)
        ssi_lc_sample(src->lc, src->lc_band[b], t + s->o.lc_start, truth, &err);
    else if (!ssi_model_mag(s, src, b, t, truth))
        return 0;
    *magerr = isnan(err) ? ss_sim_magerr(*truth, s->o.limit) : err;
    *obs = *truth + *magerr * ss_rng_normal(&src->rng);
    return 1;
}

/* Observe source @p i in slot @p b at @p t. @return 1 with @p a filled when it is detected. */
static int ssi_observe(const ss_sim *s, uint64_t i, size_t b, double t, ssi_alert *a,
                       ss_sim_totals *tot)
{
    ssi_source *src = &s->src[i];
    double truth, obs, magerr;
    tot->observations++;
    if (!ssi_measure(s, src, b, t, &truth, &obs, &magerr)) {
        tot->no_flux++;
        return 0;
    }
    if (!(obs <= s->o.limit)) {
        tot->below_limit++;
        return 0;
    }
    double sigma = s->o.scatter_arcsec / 3600.0;
    double east = sigma * ss_rng_normal(&src->rng), north = sigma * ss_rng_normal(&src->rng);
    ssi_offset(src->ra, src->dec, hypot(east, north), atan2(east, north), &a->ra, &a->dec);
    a->source = i;
    a->band = src->band[b];
    a->model = ssi_model_names[src->model];
    a->mjd = s->o.start_mjd + t;
    a->mag = obs;
    a->magerr = magerr;
    a->maglim = s->o.limit;
    a->true_mag = truth;
    tot->alerts++;
    return 1;
}

/* ---- writers ---- */

/* ss_sim_write_messages(): the message being written, in memory. */
typedef struct ssi_msgs {
    unsigned per, n; /* alerts per message; alerts in this one */
    uint64_t first;  /* the id of its first alert */
    char *buf;       /* open_memstream()'s, owned */
    size_t len;
    ss_sim_sink sink;
    void *ctx;
} ssi_msgs;

typedef struct ssi_out {
    ss_sim_format format;
    FILE *f;
    const char *name;
    ssi_avro *avro;
    ssi_msgs *m; /* NULL: one stream, @p f */
} ssi_out;

/* The fields ssi_put() writes, in its order. */
static const char ssi_csv_header[] = "alert_id,object_id,survey,ra,dec,mjd,passband,mag,magerr,"
                                     "maglim,sim_model,sim_true_mag\n";

/* One alert's line of CSV or JSON, built by hand: printf's exact conversion of doubles took three
 * quarters of the time of a CSV survey. Every field is bounded (passbands and model names are
 * short), so the buffer cannot overflow. */
typedef struct ssi_text {
    char buf[512];
    size_t n;
    int json, fields;
} ssi_text;

static void ssi_raw(ssi_text *t, const char *s, size_t n)
{
    memcpy(t->buf + t->n, s, n);
    t->n += n;
}

/* Start a field: a comma after the first; in JSON its quoted key. */
static void ssi_key(ssi_text *t, const char *key)
{
    if (t->fields++)
        ssi_raw(t, ",", 1);
    if (t->json) {
        ssi_raw(t, "\"", 1);
        ssi_raw(t, key, strlen(key));
        ssi_raw(t, "\":", 2);
    }
}

static void ssi_text_str(ssi_text *t, const char *key, const char *s)
{
    ssi_key(t, key);
    if (t->json)
        ssi_raw(t, "\"", 1);
    ssi_raw(t, s, strlen(s));
    if (t->json)
        ssi_raw(t, "\"", 1);
}

static void ssi_digits(ssi_text *t, uint64_t u, int width)
{
    char d[24];
    int n = 0;
    do
        d[n++] = (char)('0' + u % 10), u /= 10;
    while (u || n < width);
    while (n)
        t->buf[t->n++] = d[--n];
}

/* A text field of @p prefix and @p u in at least @p width digits: ids without snprintf, which was
 * a tenth of the time. */
static void ssi_text_id(ssi_text *t, const char *key, const char *prefix, uint64_t u, int width)
{
    ssi_key(t, key);
    if (t->json)
        ssi_raw(t, "\"", 1);
    ssi_raw(t, prefix, strlen(prefix));
    ssi_digits(t, u, width);
    if (t->json)
        ssi_raw(t, "\"", 1);
}

/* @p v with @p decimals (at most 8) digits after the point, rounded half away from zero. */
static void ssi_text_fixed(ssi_text *t, const char *key, double v, int decimals)
{
    static const uint64_t scale[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};
    ssi_key(t, key);
    double x = fabs(v) * (double)scale[decimals] + 0.5;
    if (!(x < 1e15)) { /* far outside what a survey holds; printf knows best */
        t->n += (size_t)snprintf(t->buf + t->n, 32, "%.*f", decimals, v);
        return;
    }
    uint64_t u = (uint64_t)x;
    if (v < 0 && u)
        ssi_raw(t, "-", 1);
    ssi_digits(t, u / scale[decimals], 1);
    if (decimals) {
        ssi_raw(t, ".", 1);
        ssi_digits(t, u % scale[decimals], decimals);
    }
}

static void ssi_put_text(ssi_out *out, const ssi_alert *a)
{
    ssi_text t = {.json = out->format == SS_SIM_JSONL};
    if (t.json)
        ssi_raw(&t, "{", 1);
    ssi_text_id(&t, "alert_id", "", a->alert_id, 1);
    ssi_text_id(&t, "object_id", "SIM", a->source + 1, 8); /* as ssi_object_id() */
    ssi_text_str(&t, "survey", "sim");
    ssi_text_fixed(&t, "ra", a->ra, 8);
    ssi_text_fixed(&t, "dec", a->dec, 8);
    ssi_text_fixed(&t, "mjd", a->mjd, 6);
    ssi_text_str(&t, "passband", a->band);
    ssi_text_fixed(&t, "mag", a->mag, 4);
    ssi_text_fixed(&t, "magerr", a->magerr, 4);
    ssi_text_fixed(&t, "maglim", a->maglim, 2);
    ssi_text_str(&t, "sim_model", a->model);
    ssi_text_fixed(&t, "sim_true_mag", a->true_mag, 4);
    if (t.json)
        ssi_raw(&t, "}", 1);
    ssi_raw(&t, "\n", 1);
    fwrite(t.buf, 1, t.n, out->f); /* stdio errors are sticky: checked after each exposure */
}

/* A new message in memory: its own stream, the format's header. */
static int ssi_msg_start(ssi_out *out, ss_err *err)
{
    ssi_msgs *m = out->m;
    free(m->buf);
    m->buf = NULL;
    m->n = 0;
    if (!(out->f = open_memstream(&m->buf, &m->len)))
        return ss_err_set(err, SS_ENOMEM, "%s: out of memory", out->name);
    if (out->avro)
        ssi_avro_begin(out->avro, out->f);
    else if (out->format == SS_SIM_CSV)
        fputs(ssi_csv_header, out->f);
    return 0;
}

/* The message is complete: hand it to the sink. */
static int ssi_msg_end(ssi_out *out, ss_err *err)
{
    ssi_msgs *m = out->m;
    int rc = out->avro ? ssi_avro_end(out->avro, err) : 0;
    int bad = fclose(out->f) != 0;
    out->f = NULL;
    if (!rc && bad)
        rc = ss_err_set(err, SS_ENOMEM, "%s: out of memory", out->name);
    return rc ? rc : m->sink(m->ctx, m->buf, m->len, m->n, m->first, err);
}

static int ssi_put(ssi_out *out, const ssi_alert *a, ss_err *err)
{
    int rc = 0;
    if (out->format == SS_SIM_AVRO)
        rc = ssi_avro_put(out->avro, a, err);
    else
        ssi_put_text(out, a);
    if (!rc && out->m && !out->m->n++)
        out->m->first = a->alert_id;
    if (!rc && out->m && out->m->n == out->m->per && !(rc = ssi_msg_end(out, err)))
        rc = ssi_msg_start(out, err);
    return rc;
}

static int ssi_write_error(const char *name, ss_err *err)
{
    int e = errno ? errno : EIO;
    return ss_err_set(err, e, "%s: write failed: %s", name, strerror(e));
}

/* Every exposure in time order; in each, the sources in order. */
static int ssi_exposures(const ss_sim *s, ssi_out *out, ss_sim_totals *tot, ss_err *err)
{
    const ss_sim_options *o = &s->o;
    size_t nb = ssi_nbands(o);
    uint64_t exposure = 0;
    for (uint32_t k = 0; k < o->epochs; k++)
        for (uint32_t v = 0; v < 2; v++)
            for (size_t b = 0; b < nb; b++, exposure++) {
                double t = ssi_time(o, k, v, b);
                for (uint64_t i = 0; i < s->nsrc; i++) {
                    ssi_alert a;
                    if (!ssi_observe(s, i, b, t, &a, tot))
                        continue;
                    a.exposure = exposure + 1;
                    a.alert_id = exposure * s->nsrc + i + 1;
                    int rc = ssi_put(out, &a, err);
                    if (rc)
                        return rc;
                }
                if (ferror(out->f))
                    return ssi_write_error(out->name, err);
            }
    return 0;
}

static ss_sim_totals ssi_totals_init(const ss_sim *s)
{
    ss_sim_totals tot = {.sources = s->nsrc};
    for (uint64_t i = 0; i < s->nsrc; i++)
        tot.by_model[s->src[i].model]++;
    return tot;
}

int ss_sim_write(ss_sim *s, FILE *f, const char *name, ss_sim_totals *t, ss_err *err)
{
    ss_sim_totals tot = ssi_totals_init(s);
    ssi_out out = {s->o.format, f, name, NULL, NULL};
    int rc = 0;
    if (out.format == SS_SIM_AVRO)
        rc = ssi_avro_open(f, name, s->o.seed, s->o.stamps, &out.avro, err);
    else if (out.format == SS_SIM_CSV)
        fputs(ssi_csv_header, f);
    if (!rc)
        rc = ssi_exposures(s, &out, &tot, err);
    if (out.avro) {
        int crc = ssi_avro_close(out.avro, rc != 0, err);
        rc = rc ? rc : crc;
    }
    if (!rc && (fflush(f) || ferror(f)))
        rc = ssi_write_error(name, err);
    if (t)
        *t = tot;
    return rc;
}

int ss_sim_write_messages(ss_sim *s, unsigned per_message, ss_sim_sink sink, void *ctx,
                          ss_sim_totals *t, ss_err *err)
{
    ss_sim_totals tot = ssi_totals_init(s);
    ssi_msgs m = {.per = per_message ? per_message : 1, .sink = sink, .ctx = ctx};
    ssi_out out = {s->o.format, NULL, "messages", NULL, &m};
    char *scratch = NULL;
    size_t slen = 0;
    FILE *none = open_memstream(&scratch, &slen); /* the writer's first header, not sent */
    int rc = none ? 0 : ss_err_set(err, SS_ENOMEM, "out of memory");
    if (!rc && out.format == SS_SIM_AVRO)
        rc = ssi_avro_open(none, out.name, s->o.seed, s->o.stamps, &out.avro, err);
    if (!rc)
        rc = ssi_msg_start(&out, err);
    if (!rc)
        rc = ssi_exposures(s, &out, &tot, err);
    if (!rc && m.n)
        rc = ssi_msg_end(&out, err);
    if (out.f)
        fclose(out.f);
    if (out.avro)
        ssi_avro_close(out.avro, 1, NULL);
    if (none)
        fclose(none);
    free(scratch);
    free(m.buf);
    if (t)
        *t = tot;
    return rc;
}

/* ---- truth ---- */

static json_t *ssi_truth_params(const ss_sim *s, const ssi_source *src)
{
    const ss_sim_options *o = &s->o;
    switch (src->model) {
    case SS_SIM_CONSTANT: return json_pack("{s:f, s:f}", "mag", src->mag, "colour", src->colour);
    case SS_SIM_PERIODIC:
        return json_pack("{s:f, s:f, s:f, s:f, s:f}", "mean_mag", src->mag, "amplitude", src->amp,
                         "period_days", src->period, "phase", src->phase, "colour", src->colour);
    case SS_SIM_TRANSIENT:
        return json_pack("{s:f, s:f, s:f, s:f, s:f, s:f}", "peak_mag", src->mag, "explosion_mjd",
                         o->start_mjd + src->t_exp, "peak_mjd", o->start_mjd + src->t_peak,
                         "rise_mag_per_day", src->rise, "fade_mag_per_day", src->fall, "colour",
                         src->colour);
    case SS_SIM_JUMP:
        return json_pack("{s:f, s:f, s:I, s:f, s:f, s:f}", "mag", src->mag, "jump_mag", o->jump_mag,
                         "jump_epoch", (json_int_t)o->jump_epoch, "jump_mjd",
                         o->start_mjd + src->t_jump, "first_bright_mjd",
                         o->start_mjd + ssi_time(o, o->jump_epoch, 0, 0), "colour", src->colour);
    default: return json_pack("{s:s, s:f}", "file", src->lc->path, "lc_start", o->lc_start);
    }
}

static json_t *ssi_truth(const ss_sim *s, uint64_t i)
{
    const ssi_source *src = &s->src[i];
    char obj[32];
    ssi_object_id(obj, i);
    json_t *bands = json_array();
    for (size_t b = 0; bands && b < ssi_nbands(&s->o); b++)
        json_array_append_new(bands, json_string(src->band[b]));
    return json_pack("{s:s, s:s, s:f, s:f, s:o, s:o}", "object_id", obj, "model",
                     ssi_model_names[src->model], "ra", src->ra, "dec", src->dec, "bands", bands,
                     "params", ssi_truth_params(s, src));
}

int ss_sim_write_truth(const ss_sim *s, FILE *f, const char *name, ss_err *err)
{
    for (uint64_t i = 0; i < s->nsrc; i++) {
        json_t *j = ssi_truth(s, i);
        if (!j)
            return ss_err_set(err, SS_ENOMEM, "%s: out of memory", name);
        int rc = json_dumpf(j, f, JSON_COMPACT | JSON_REAL_PRECISION(12));
        json_decref(j);
        if (rc || fputc('\n', f) == EOF)
            return ssi_write_error(name, err);
    }
    if (fflush(f) || ferror(f))
        return ssi_write_error(name, err);
    return 0;
}
