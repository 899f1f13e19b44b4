#include "gen.h"

#include <math.h>
#include <stdlib.h>

gen_source *gen_sources(ss_rng *r, uint64_t n)
{
    gen_source *s = malloc(n * sizeof *s);
    for (uint64_t i = 0; s && i < n; i++) {
        s[i].ra = 360.0 * ss_rng_uniform(r);
        s[i].dec = asin(2.0 * ss_rng_uniform(r) - 1.0) * 180.0 / M_PI;
        s[i].mag = 16.0 + 5.0 * ss_rng_uniform(r);
    }
    return s;
}

/* A point at angular distance acos(@p z) from (@p ra0, @p dec0), bearing @p phi (radians). */
static void gen_offset(double ra0, double dec0, double z, double phi, gen_source *s)
{
    const double rad = M_PI / 180.0;
    double sd = sqrt(fmax(0.0, 1.0 - z * z)), s0 = sin(dec0 * rad), c0 = cos(dec0 * rad);
    double sdec = fmin(1.0, fmax(-1.0, s0 * z + c0 * sd * cos(phi)));
    double ra = ra0 * rad + atan2(sin(phi) * sd * c0, z - s0 * sdec);
    s->dec = asin(sdec) / rad;
    s->ra = fmod(fmod(ra / rad, 360.0) + 360.0, 360.0);
}

gen_source *gen_sources_cap(ss_rng *r, uint64_t n, double area_deg2, double ra0, double dec0)
{
    if (area_deg2 >= GEN_SKY_DEG2)
        return gen_sources(r, n);
    /* a cap's area is 2 pi (1 - cos theta) steradians, uniform in cos theta */
    double zmin = 1.0 - area_deg2 * (M_PI / 180.0) * (M_PI / 180.0) / (2.0 * M_PI);
    gen_source *s = malloc(n * sizeof *s);
    for (uint64_t i = 0; s && i < n; i++) {
        double z = 1.0 - (1.0 - zmin) * ss_rng_uniform(r);
        gen_offset(ra0, dec0, z, 2.0 * M_PI * ss_rng_uniform(r), &s[i]);
        s[i].mag = 16.0 + 5.0 * ss_rng_uniform(r);
    }
    return s;
}

#define GEN_FIELD_DEG 3.5

/* The field of a position: a band of declination, then a step of right ascension as wide on the
 * sky as the band is tall, so fields keep their area towards the poles. */
static uint32_t gen_field(double ra, double dec)
{
    int band = (int)floor((dec + 90.0) / GEN_FIELD_DEG);
    double mid = -90.0 + (band + 0.5) * GEN_FIELD_DEG;
    int nra = (int)ceil(360.0 * cos(mid * M_PI / 180.0) / GEN_FIELD_DEG);
    int step = (int)floor(ra / 360.0 * (nra > 0 ? nra : 1));
    return (uint32_t)band << 16 | (uint32_t)step;
}

typedef struct gen_keyed {
    uint64_t key;
    gen_source src;
} gen_keyed;

static int gen_keyed_cmp(const void *a, const void *b)
{
    uint64_t x = ((const gen_keyed *)a)->key, y = ((const gen_keyed *)b)->key;
    return x < y ? -1 : x > y;
}

/* A field's rank in the night: a random but fixed number per field (a hash of it with a seed). */
static uint32_t gen_field_rank(uint32_t field, uint64_t seed)
{
    uint64_t x = (field + seed) * UINT64_C(0x9E3779B97F4A7C15);
    x ^= x >> 29;
    return (uint32_t)(x >> 32);
}

int gen_order_by_field(ss_rng *r, gen_source *src, uint64_t n)
{
    gen_keyed *k = malloc(n * sizeof *k);
    if (!k)
        return -1;
    uint64_t seed = ss_rng_next(r);
    for (uint64_t i = 0; i < n; i++) {
        uint32_t rank = gen_field_rank(gen_field(src[i].ra, src[i].dec), seed);
        k[i] = (gen_keyed){(uint64_t)rank << 32 | (ss_rng_next(r) >> 32), src[i]};
    }
    qsort(k, n, sizeof *k, gen_keyed_cmp);
    for (uint64_t i = 0; i < n; i++)
        src[i] = k[i].src;
    free(k);
    return 0;
}

static void gen_scatter(ss_rng *r, const gen_source *s, double sigma_deg, double *ra, double *dec)
{
    double cosd = cos(s->dec * M_PI / 180.0);
    *dec = s->dec + ss_rng_normal(r) * sigma_deg;
    *ra = s->ra + ss_rng_normal(r) * sigma_deg / (cosd > 1e-6 ? cosd : 1e-6);
    *ra = fmod(fmod(*ra, 360.0) + 360.0, 360.0);
    if (*dec > 90.0)
        *dec = 180.0 - *dec, *ra = fmod(*ra + 180.0, 360.0);
    if (*dec < -90.0)
        *dec = -180.0 - *dec, *ra = fmod(*ra + 180.0, 360.0);
}

int gen_write_csv(FILE *f, ss_rng *r, const gen_source *src, uint64_t nsrc, uint64_t epochs,
                  double scatter_arcsec, double mjd0, const char *prefix, int header)
{
    if (header && fputs("alert_id,ra,dec,mjd,passband,mag,magerr\n", f) < 0)
        return -1;
    double sigma = scatter_arcsec / 3600.0;
    for (uint64_t e = 0; e < epochs; e++)
        for (uint64_t i = 0; i < nsrc; i++) {
            double ra, dec;
            gen_scatter(r, &src[i], sigma, &ra, &dec);
            double mjd = mjd0 + (double)e * 2.0 + (double)i * 1e-7;
            double mag = src[i].mag + 0.05 * ss_rng_normal(r);
            if (fprintf(f, "%s-%llu-%llu,%.9f,%.9f,%.7f,%c,%.3f,0.050\n", prefix,
                        (unsigned long long)e, (unsigned long long)i, ra, dec, mjd, "gr"[e % 2],
                        mag) < 0)
                return -1;
        }
    return 0;
}

void gen_mem_sample(gen_mem *m, const char *status_path)
{
    FILE *f = fopen(status_path, "r");
    char line[256];
    long v;
    while (f && fgets(line, sizeof line, f)) {
        if (sscanf(line, "RssAnon: %ld", &v) == 1 && v > m->anon_kib)
            m->anon_kib = v;
        if (sscanf(line, "RssFile: %ld", &v) == 1 && v > m->file_kib)
            m->file_kib = v;
        if (sscanf(line, "VmHWM: %ld", &v) == 1 && v > m->hwm_kib)
            m->hwm_kib = v;
    }
    if (f)
        fclose(f);
}
