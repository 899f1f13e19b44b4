/*
 * Image stamps of a simulated alert, as ZTF sends them: gzip-compressed FITS, 63 x 63 float32
 * pixels of 1 arcsec, a TAN WCS centred on the alert's position with north up and east left.
 *
 * The science stamp holds the source at the alert's magnitude, the template the same source a
 * magnitude fainter (a transient's template holds none: it had not exploded), both on a sky whose
 * noise makes the alert's limiting magnitude a 5-sigma point-source detection; the difference is
 * their difference. Pixels are whole counts, as a detector's are: it also lets gzip squeeze the
 * noise to a third. Noise comes from a random stream of the alert's own (seed and alert id), so
 * a stamp never depends on the order alerts are written in, nor disturbs the survey's numbers.
 */
#include "simulate_impl.h"

#include "rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define SSI_FITS_RECORD  2880
#define SSI_FITS_CARD    80
#define SSI_STAMP_PIXELS (SSI_STAMP_SIDE * SSI_STAMP_SIDE)
/* The header's cards fit one record; the data, padded, the next six. */
#define SSI_FITS_BYTES SSI_STAMP_FITS_BYTES
#define SSI_FITS_DATA  (SSI_FITS_BYTES - SSI_FITS_RECORD)
_Static_assert(SSI_FITS_DATA >= SSI_STAMP_PIXELS * 4 && SSI_FITS_DATA % SSI_FITS_RECORD == 0 &&
                   SSI_FITS_DATA - SSI_STAMP_PIXELS * 4 < SSI_FITS_RECORD,
               "the data fill whole records, the last one partly");
#define SSI_ZEROPOINT     28.5 /* magnitude of one count: a 24.5 limit leaves a few counts of noise */
#define SSI_FWHM_PX       2.0 /* seeing, in pixels of 1 arcsec */
#define SSI_TEMPLATE_DMAG 1.0 /* how much fainter the template's source is */
#define M_SQRT3           1.7320508075688772
#define SSI_STREAM_STAMP  UINT64_C(0x5354414D50) /* "STAMP": the stamps' streams */

struct ssi_stamps {
    uint64_t seed;
    z_stream z;
    int z_ready;
    float px[SS_CUTOUT__COUNT][SSI_STAMP_PIXELS];
    unsigned char fits[SSI_FITS_BYTES];
    unsigned char *gz[SS_CUTOUT__COUNT]; /* owned; gz_cap bytes each */
    size_t gz_cap, gz_len[SS_CUTOUT__COUNT];
};

int ssi_stamps_new(uint64_t seed, ssi_stamps **out)
{
    ssi_stamps *st = calloc(1, sizeof *st);
    if (!st)
        return SS_ENOMEM;
    st->seed = seed;
    st->gz_cap = SSI_STAMP_GZ_MAX;
    /* run-length matches only: the noise has no longer ones worth a search, and a survey's
     * worth of stamps took ten times as long at zlib's default level for a quarter fewer bytes */
    int ok = deflateInit2(&st->z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_RLE) == Z_OK;
    st->z_ready = ok;
    for (int k = 0; ok && k < SS_CUTOUT__COUNT; k++)
        ok = (st->gz[k] = malloc(st->gz_cap)) != NULL;
    if (!ok) {
        ssi_stamps_free(st);
        return SS_ENOMEM;
    }
    *out = st;
    return 0;
}

void ssi_stamps_free(ssi_stamps *st)
{
    if (!st)
        return;
    if (st->z_ready)
        deflateEnd(&st->z);
    for (int k = 0; k < SS_CUTOUT__COUNT; k++)
        free(st->gz[k]);
    free(st);
}

const unsigned char *ssi_stamp_bytes(const ssi_stamps *st, ss_cutout_kind kind, size_t *len)
{
    *len = st->gz_len[kind];
    return st->gz[kind];
}

/* ---- pixels ---- */

/* The share of a unit point source's light falling in each pixel along one axis, the source at
 * the centre pixel's centre: the Gaussian integrated over the pixel, so that a PSF narrower
 * than a pixel keeps its flux. */
static void ssi_psf_1d(double *w)
{
    double sigma = SSI_FWHM_PX / (2 * sqrt(2 * log(2))), c = SSI_STAMP_SIDE / 2;
    for (int i = 0; i < SSI_STAMP_SIDE; i++)
        w[i] =
            0.5 * (erf((i + 0.5 - c) / (sigma * M_SQRT2)) - erf((i - 0.5 - c) / (sigma * M_SQRT2)));
}

/* The noise of one pixel whose 5-sigma point-source limit is @p maglim: a PSF fit sums noise
 * over an effective area of 4 pi sigma^2 pixels. */
static double ssi_pixel_noise(double maglim)
{
    double sigma = SSI_FWHM_PX / (2 * sqrt(2 * log(2)));
    double flux_lim = pow(10, -0.4 * (maglim - SSI_ZEROPOINT));
    return flux_lim / 5 / sqrt(4 * M_PI * sigma * sigma);
}

/* Nearly normal noise, cheaply: the sum of four 16-bit uniforms of one draw (Irwin-Hall),
 * scaled to unit variance. Within 3.5 sigma, which a stamp of 4000 pixels hardly notices; Box-
 * Muller's logarithm and cosine per pixel took as long as everything else together. */
static double ssi_noise(ss_rng *r)
{
    uint64_t u = ss_rng_next(r);
    double sum = (double)(u & 0xFFFF) + (double)(u >> 16 & 0xFFFF) + (double)(u >> 32 & 0xFFFF) +
                 (double)(u >> 48);
    return (sum / 65536.0 - 2.0) * M_SQRT3;
}

/* Sky, source of @p flux counts and noise, rounded to whole counts. */
static void ssi_exposure(float *px, const double *w, double flux, double noise, double sky,
                         ss_rng *r)
{
    for (int y = 0; y < SSI_STAMP_SIDE; y++)
        for (int x = 0; x < SSI_STAMP_SIDE; x++) {
            double v = sky + flux * w[x] * w[y] + noise * ssi_noise(r);
            px[y * SSI_STAMP_SIDE + x] = (float)nearbyint(v);
        }
}

static void ssi_pixels(ssi_stamps *st, const ssi_alert *a)
{
    double w[SSI_STAMP_SIDE], noise = ssi_pixel_noise(a->maglim), sky = noise * noise;
    double flux = isfinite(a->mag) ? pow(10, -0.4 * (a->mag - SSI_ZEROPOINT)) : 0;
    double tflux = strcmp(a->model, "transient") ? flux * pow(10, -0.4 * SSI_TEMPLATE_DMAG) : 0;
    ss_rng r;
    ss_rng_seed(&r, st->seed ^ a->alert_id * UINT64_C(0x9E3779B97F4A7C15), SSI_STREAM_STAMP);
    ssi_psf_1d(w);
    ssi_exposure(st->px[SS_CUTOUT_SCIENCE], w, flux, noise, sky, &r);
    /* a template is a stack of exposures: half the noise */
    ssi_exposure(st->px[SS_CUTOUT_TEMPLATE], w, tflux, noise / 2, sky, &r);
    for (int i = 0; i < SSI_STAMP_PIXELS; i++)
        st->px[SS_CUTOUT_DIFFERENCE][i] =
            st->px[SS_CUTOUT_SCIENCE][i] - st->px[SS_CUTOUT_TEMPLATE][i];
}

/* ---- FITS ---- */

/* One 80-character card: KEY = value / comment, space padded. */
static void ssi_card(unsigned char *hdr, int *n, const char *key, const char *value,
                     const char *comment)
{
    char card[SSI_FITS_CARD + 1];
    int len = snprintf(card, sizeof card, "%-8.8s= %20s%s%s", key, value, comment ? " / " : "",
                       comment ? comment : "");
    memset(hdr + *n * SSI_FITS_CARD, ' ', SSI_FITS_CARD);
    memcpy(hdr + *n * SSI_FITS_CARD, card, (size_t)(len < SSI_FITS_CARD ? len : SSI_FITS_CARD));
    (*n)++;
}

static void ssi_card_num(unsigned char *hdr, int *n, const char *key, double v, const char *comment)
{
    char value[32];
    snprintf(value, sizeof value, "%.15G", v);
    if (!strpbrk(value, ".E")) /* a real, not an integer, to a FITS reader */
        strcat(value, ".0");
    ssi_card(hdr, n, key, value, comment);
}

static void ssi_fits_header(unsigned char *hdr, const ssi_alert *a, ss_cutout_kind kind)
{
    static const char *const what[] = {"'science'", "'template'", "'difference'"};
    char obj[32], quoted[40];
    int n = 0;
    double deg = 1.0 / 3600, centre = SSI_STAMP_SIDE / 2 + 1; /* FITS counts pixels from 1 */
    memset(hdr, ' ', SSI_FITS_RECORD);
    ssi_card(hdr, &n, "SIMPLE", "T", "conforms to FITS standard");
    ssi_card(hdr, &n, "BITPIX", "-32", "32-bit floats");
    ssi_card(hdr, &n, "NAXIS", "2", NULL);
    char side[16];
    snprintf(side, sizeof side, "%d", SSI_STAMP_SIDE);
    ssi_card(hdr, &n, "NAXIS1", side, NULL);
    ssi_card(hdr, &n, "NAXIS2", side, NULL);
    ssi_card(hdr, &n, "CTYPE1", "'RA---TAN'", NULL);
    ssi_card(hdr, &n, "CTYPE2", "'DEC--TAN'", NULL);
    ssi_card(hdr, &n, "RADESYS", "'ICRS    '", NULL);
    ssi_card_num(hdr, &n, "CRPIX1", centre, "the alert's position");
    ssi_card_num(hdr, &n, "CRPIX2", centre, NULL);
    ssi_card_num(hdr, &n, "CRVAL1", a->ra, "[deg]");
    ssi_card_num(hdr, &n, "CRVAL2", a->dec, "[deg]");
    ssi_card_num(hdr, &n, "CD1_1", -deg, "east left: RA falls with x");
    ssi_card_num(hdr, &n, "CD1_2", 0, NULL);
    ssi_card_num(hdr, &n, "CD2_1", 0, NULL);
    ssi_card_num(hdr, &n, "CD2_2", deg, "north up");
    ssi_card_num(hdr, &n, "MAGZP", SSI_ZEROPOINT, "magnitude of one count");
    ssi_card_num(hdr, &n, "MJD-OBS", a->mjd, NULL);
    ssi_object_id(obj, a->source);
    snprintf(quoted, sizeof quoted, "'%s'", obj);
    ssi_card(hdr, &n, "OBJECT", quoted, NULL);
    ssi_card(hdr, &n, "IMAGETYP", what[kind], NULL);
    ssi_card(hdr, &n, "ORIGIN", "'skysieve simulate'", NULL);
    memcpy(hdr + n * SSI_FITS_CARD, "END", 3);
}

/* FITS data are big-endian. */
static void ssi_fits_data(unsigned char *d, const float *px)
{
    memset(d, 0, SSI_FITS_DATA);
    for (int i = 0; i < SSI_STAMP_PIXELS; i++) {
        uint32_t u;
        memcpy(&u, &px[i], 4);
        d[4 * i] = (unsigned char)(u >> 24), d[4 * i + 1] = (unsigned char)(u >> 16);
        d[4 * i + 2] = (unsigned char)(u >> 8), d[4 * i + 3] = (unsigned char)u;
    }
}

static int ssi_gzip(ssi_stamps *st, ss_cutout_kind kind, ss_err *err)
{
    z_stream *z = &st->z;
    deflateReset(z); /* the gzip header's time stays 0: the same stamp, the same bytes */
    z->next_in = st->fits, z->avail_in = SSI_FITS_BYTES;
    z->next_out = st->gz[kind], z->avail_out = (uInt)st->gz_cap;
    if (deflate(z, Z_FINISH) != Z_STREAM_END)
        return ss_err_set(err, SS_ENOMEM, "compressing a stamp: %s", z->msg ? z->msg : "zlib");
    st->gz_len[kind] = st->gz_cap - z->avail_out;
    return 0;
}

int ssi_stamps_draw(ssi_stamps *st, const ssi_alert *a, ss_err *err)
{
    ssi_pixels(st, a);
    for (int k = 0; k < SS_CUTOUT__COUNT; k++) {
        ssi_fits_header(st->fits, a, (ss_cutout_kind)k);
        ssi_fits_data(st->fits + SSI_FITS_RECORD, st->px[k]);
        int rc = ssi_gzip(st, (ss_cutout_kind)k, err);
        if (rc)
            return rc;
    }
    return 0;
}
