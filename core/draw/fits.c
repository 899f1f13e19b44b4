/* A stamp's pixels and WCS read from memory with cfitsio. cfitsio's memory driver reads whole
 * 2880-byte records and trusts the header about where data ends, so a truncated or lying file
 * would make it read past the bytes it was given: it is given a copy padded to whole records, and
 * an image whose data runs past the real bytes is refused before a pixel is read. */
#include "draw_impl.h"

#include <fitsio.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define SSI_RECORD   2880
#define SSI_GZIP_MAX (64u << 20) /* a stamp expanding beyond this is no stamp */

/* cfitsio as Debian builds it is reentrant; one that is not is used one call at a time. */
static pthread_mutex_t ssi_fits_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- gzip ---- */

static int ssi_inflate_more(z_stream *z, unsigned char **buf, size_t *cap, ss_err *err)
{
    size_t cap2 = *cap * 2;
    if (cap2 > SSI_GZIP_MAX)
        return ss_err_set(err, SS_EFORMAT, "the stamp expands beyond %u MiB: no stamp does",
                          SSI_GZIP_MAX >> 20);
    unsigned char *b = realloc(*buf, cap2);
    if (!b)
        return ss_err_set(err, SS_ENOMEM, "out of memory expanding a stamp");
    z->next_out = b + z->total_out;
    z->avail_out = (uInt)(cap2 - z->total_out);
    *buf = b, *cap = cap2;
    return 0;
}

/* The bytes a gzip stream expands to. */
static int ssi_gunzip(const unsigned char *in, size_t len, unsigned char **out, size_t *outlen,
                      ss_err *err)
{
    if (len > SSI_GZIP_MAX)
        return ss_err_set(err, SS_EFORMAT, "the stamp is %zu bytes: no stamp is", len);
    z_stream z = {.next_in = (Bytef *)in, .avail_in = (uInt)len};
    size_t cap = 16 * SSI_RECORD;
    unsigned char *buf = malloc(cap);
    if (!buf || inflateInit2(&z, 15 + 16) != Z_OK) {
        free(buf);
        return ss_err_set(err, SS_ENOMEM, "out of memory expanding a stamp");
    }
    z.next_out = buf, z.avail_out = (uInt)cap;
    int zr, rc = 0;
    while (!rc && (zr = inflate(&z, Z_NO_FLUSH)) != Z_STREAM_END) {
        int stuck = zr == Z_OK || zr == Z_BUF_ERROR; /* wants room, or input that is not there */
        if (stuck && z.avail_out == 0)
            rc = ssi_inflate_more(&z, &buf, &cap, err);
        else
            rc = ss_err_set(err, SS_EFORMAT, "the stamp's gzip stream is %s",
                            stuck ? "truncated" : "damaged");
    }
    *outlen = z.total_out;
    inflateEnd(&z);
    if (rc)
        free(buf);
    *out = rc ? NULL : buf;
    return rc;
}

/* @p bytes copied into whole records (zero padding), the copy cfitsio reads. */
static int ssi_padded(const unsigned char *bytes, size_t len, unsigned char **out, size_t *cap)
{
    *cap = (len / SSI_RECORD + 1) * SSI_RECORD;
    *out = calloc(1, *cap);
    if (!*out)
        return SS_ENOMEM;
    memcpy(*out, bytes, len);
    return 0;
}

/* ---- the image HDU ---- */

static int ssi_fits_fail(int status, const char *what, ss_err *err)
{
    char text[FLEN_STATUS] = "";
    fits_get_errstatus(status, text);
    fits_clear_errmsg();
    return ss_err_set(err, status == MEMORY_ALLOCATION ? SS_ENOMEM : SS_EFORMAT,
                      "the stamp is not a readable FITS image: %s (cfitsio: %s)", what, text);
}

/* A 2-D image: two axes of pixels, any further axis of length 1. */
static int ssi_is_2d(int naxis, const long *ax)
{
    if (naxis < 2 || ax[0] < 1 || ax[1] < 1 || (ax[0] == 1 && ax[1] == 1))
        return 0;
    for (int i = 2; i < naxis; i++)
        if (ax[i] != 1)
            return 0;
    return 1;
}

/* The data must lie within the bytes given: cfitsio would read the padding, or beyond. */
static int ssi_extent(fitsfile *fp, const ssi_image *im, int bitpix, size_t len, size_t padded,
                      ss_err *err)
{
    int st = 0, compressed = fits_is_compressed_image(fp, &st);
    LONGLONG head, data, end;
    fits_get_hduaddrll(fp, &head, &data, &end, &st);
    if (st)
        return ssi_fits_fail(st, "its HDU's extent", err);
    unsigned long long need = (unsigned long long)data + (unsigned long long)im->nx *
                                                             (unsigned long long)im->ny *
                                                             (unsigned long long)(abs(bitpix) / 8);
    if (compressed ? (unsigned long long)end > padded : need > len)
        return ss_err_set(err, SS_EFORMAT,
                          "the stamp is truncated: HDU %d's data needs %llu bytes, it has %zu",
                          im->hdu, compressed ? (unsigned long long)end : need, len);
    return 0;
}

/* Move to the first HDU holding a 2-D image (Rubin's stamps put the image first, then its
 * variance and PSF; some FITS writers leave the primary HDU empty). */
static int ssi_find_image(fitsfile *fp, size_t len, size_t padded, ssi_image *im, ss_err *err)
{
    int st = 0, type, bitpix = 0, naxis = 0;
    for (int h = 1; h <= 64; h++) {
        long ax[9] = {0};
        if (fits_movabs_hdu(fp, h, &type, &st))
            break;
        if (type != IMAGE_HDU || fits_get_img_param(fp, 9, &bitpix, &naxis, ax, &st) ||
            !ssi_is_2d(naxis, ax))
            continue;
        if (ax[0] > SS_DRAW_FITS_MAX_SIDE || ax[1] > SS_DRAW_FITS_MAX_SIDE)
            return ss_err_set(err, SS_EFORMAT, "the stamp's image is %ld x %ld: no stamp is", ax[0],
                              ax[1]);
        im->hdu = h, im->nx = ax[0], im->ny = ax[1];
        return ssi_extent(fp, im, bitpix, len, padded, err);
    }
    if (st && st != END_OF_FILE)
        return ssi_fits_fail(st, "reading its HDUs", err);
    fits_clear_errmsg();
    return ss_err_set(err, SS_EFORMAT, "the stamp has no 2-D image HDU");
}

/* ---- WCS ---- */

static int ssi_key(fitsfile *fp, const char *name, double *v)
{
    int st = 0;
    *v = NAN;
    fits_read_key(fp, TDOUBLE, name, v, NULL, &st);
    return !st && isfinite(*v);
}

/* Which axis holds RA: 0 as CTYPE1 = RA---..., 1 when the axes are swapped, -1 when CTYPE says
 * the axes are not celestial. Rubin's stamps carry no CTYPE: RA, Dec is assumed. */
static int ssi_ra_axis(fitsfile *fp)
{
    char c1[FLEN_VALUE] = "", c2[FLEN_VALUE] = "";
    int st = 0;
    fits_read_key(fp, TSTRING, "CTYPE1", c1, NULL, &st);
    st = 0;
    fits_read_key(fp, TSTRING, "CTYPE2", c2, NULL, &st);
    if (!c1[0] && !c2[0])
        return 0;
    if (!strncmp(c1, "RA", 2) && !strncmp(c2, "DEC", 3))
        return 0;
    return !strncmp(c1, "DEC", 3) && !strncmp(c2, "RA", 2) ? 1 : -1;
}

/* CD from CDELT with PC (default the identity) or, without PC, with CROTA2. */
static int ssi_cd_from_cdelt(fitsfile *fp, double cd[2][2])
{
    static const char *const pck[2][2] = {{"PC1_1", "PC1_2"}, {"PC2_1", "PC2_2"}};
    double d1, d2, pc[2][2], rot;
    if (!ssi_key(fp, "CDELT1", &d1) || !ssi_key(fp, "CDELT2", &d2) || d1 == 0 || d2 == 0)
        return 0;
    int has_pc = 0;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            if (ssi_key(fp, pck[i][j], &pc[i][j]))
                has_pc = 1;
            else
                pc[i][j] = i == j;
    if (!has_pc && ssi_key(fp, "CROTA2", &rot)) {
        double r = rot * M_PI / 180;
        pc[0][0] = cos(r), pc[0][1] = -sin(r) * d2 / d1;
        pc[1][0] = sin(r) * d1 / d2, pc[1][1] = cos(r);
    }
    cd[0][0] = d1 * pc[0][0], cd[0][1] = d1 * pc[0][1];
    cd[1][0] = d2 * pc[1][0], cd[1][1] = d2 * pc[1][1];
    return 1;
}

/* The CD matrix, RA row first: CD, or CDELT with PC or CROTA2, with CRVAL (a scale alone is
 * no sky position). */
static void ssi_wcs(fitsfile *fp, ssi_image *im)
{
    static const char *const cdk[2][2] = {{"CD1_1", "CD1_2"}, {"CD2_1", "CD2_2"}};
    double cd[2][2], v;
    int has_cd = 0, ra = ssi_ra_axis(fp);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            has_cd |= ssi_key(fp, cdk[i][j], &cd[i][j]);
    for (int i = 0; has_cd && i < 4; i++)
        if (!isfinite(cd[i / 2][i % 2]))
            cd[i / 2][i % 2] = 0;
    if (ra < 0 || !ssi_key(fp, "CRVAL1", &v) || !ssi_key(fp, "CRVAL2", &v) ||
        (!has_cd && !ssi_cd_from_cdelt(fp, cd)))
        return;
    double det = cd[0][0] * cd[1][1] - cd[0][1] * cd[1][0];
    if (!isfinite(det) || det == 0)
        return;
    for (int j = 0; j < 2; j++)
        im->cd[0][j] = cd[ra][j], im->cd[1][j] = cd[1 - ra][j];
    im->has_wcs = 1;
}

/* ---- reading ---- */

static int ssi_pixels(fitsfile *fp, ssi_image *im, ss_err *err)
{
    size_t n = (size_t)im->nx * (size_t)im->ny;
    long first[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    float nan = NAN;
    int any = 0, st = 0;
    im->px = malloc(n * sizeof *im->px);
    if (!im->px)
        return ss_err_set(err, SS_ENOMEM, "out of memory reading a stamp");
    /* blank integer pixels read as NAN, as a float image's NaNs do */
    if (fits_read_pix(fp, TFLOAT, first, (LONGLONG)n, &nan, im->px, &any, &st)) {
        free(im->px);
        im->px = NULL;
        return ssi_fits_fail(st, "reading its pixels", err);
    }
    return 0;
}

static int ssi_fits_mem(unsigned char *buf, size_t len, size_t padded, ssi_image *im, ss_err *err)
{
    fitsfile *fp = NULL;
    void *mem = buf;
    size_t size = padded;
    int st = 0;
    if (fits_open_memfile(&fp, "stamp", READONLY, &mem, &size, 0, NULL, &st))
        return ssi_fits_fail(st, "opening it", err);
    int rc = ssi_find_image(fp, len, padded, im, err);
    if (!rc)
        ssi_wcs(fp, im);
    if (!rc)
        rc = ssi_pixels(fp, im, err);
    st = 0;
    fits_close_file(fp, &st);
    return rc;
}

int ssi_fits_read(const void *bytes, size_t len, ssi_image *im, ss_err *err)
{
    const unsigned char *b = bytes;
    unsigned char *raw = NULL, *buf = NULL;
    size_t rawlen = len, padded = 0;
    *im = (ssi_image){0};
    if (!len)
        return ss_err_set(err, SS_EFORMAT, "the stamp is empty");
    int gz = len >= 2 && b[0] == 0x1f && b[1] == 0x8b, rc = 0;
    if (gz && (rc = ssi_gunzip(b, len, &raw, &rawlen, err)))
        return rc;
    if (ssi_padded(gz ? raw : b, rawlen, &buf, &padded))
        rc = ss_err_set(err, SS_ENOMEM, "out of memory reading a stamp");
    free(raw);
    int reentrant = fits_is_reentrant();
    if (!reentrant)
        pthread_mutex_lock(&ssi_fits_lock);
    if (!rc)
        rc = ssi_fits_mem(buf, rawlen, padded, im, err);
    if (!reentrant)
        pthread_mutex_unlock(&ssi_fits_lock);
    free(buf);
    return rc;
}
