#include "locus_id.h"

#include <chealpix.h>
#include <math.h>
#include <string.h>
#include <time.h>

static const char ssi_b32[] = "0123456789abcdefghjkmnpqrstvwxyz";
#define SSI_MASK60 ((UINT64_C(1) << 60) - 1)

/* Adding a constant, odd multipliers and right xor-shifts are each invertible modulo 2^60, so the
 * whole is a bijection: distinct sequence numbers can never give the same id. The constant keeps
 * locus 0 from reading "000000000000". */
static uint64_t ssi_scramble(uint64_t x)
{
    x = (x + UINT64_C(0x5DEECE66D)) & SSI_MASK60;
    x = (x * UINT64_C(0x9E3779B97F4A7C15)) & SSI_MASK60;
    x ^= x >> 31;
    x = (x * UINT64_C(0xBF58476D1CE4E5B9)) & SSI_MASK60;
    x ^= x >> 29;
    return x;
}

/* The inverse of an odd number modulo 2^64 (so also modulo 2^60), by Newton's iteration: each
 * step doubles the bits that are right, from the 3 an odd number is its own inverse for. */
static uint64_t ssi_odd_inverse(uint64_t m)
{
    uint64_t x = m;
    for (int i = 0; i < 5; i++)
        x *= 2 - m * x;
    return x;
}

/* x ^= x >> s undone on 60 bits: each term recovers the next s bits down. */
static uint64_t ssi_unshift(uint64_t y, int s)
{
    uint64_t x = y;
    for (int k = s; k < 60; k += s)
        x ^= y >> k;
    return x & SSI_MASK60;
}

static uint64_t ssi_unscramble(uint64_t x)
{
    x = ssi_unshift(x, 29);
    x = (x * ssi_odd_inverse(UINT64_C(0xBF58476D1CE4E5B9))) & SSI_MASK60;
    x = ssi_unshift(x, 31);
    x = (x * ssi_odd_inverse(UINT64_C(0x9E3779B97F4A7C15))) & SSI_MASK60;
    return (x - UINT64_C(0x5DEECE66D)) & SSI_MASK60;
}

/* The 60 bits of a valid id's last 12 characters. */
static uint64_t ssi_id_bits(const char *id)
{
    uint64_t x = 0;
    for (int i = 7; i < SS_LOCUS_ID_LEN; i++)
        x = x << 5 | (uint64_t)(strchr(ssi_b32, id[i]) - ssi_b32);
    return x;
}

#define SSI_SKY_PIXEL_SHIFT    34
#define SSI_SKY_INSTANCE_SHIFT 22

unsigned ss_store_locus_id_instance(const char *id)
{
    if (!ss_store_locus_id_valid(id))
        return 0;
    uint64_t x = ssi_id_bits(id);
    if (id[2] == 'Y')
        return (unsigned)(x >> SSI_SKY_INSTANCE_SHIFT) & 0xfff;
    return (unsigned)(ssi_unscramble(x) >> 48);
}

int ss_store_mjd_year(double mjd)
{
    time_t t = (time_t)floor((mjd - 40587.0) * 86400.0);
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        return 0;
    return tm.tm_year + 1900;
}

/* Big-endian base32 keeps the bits' order in the text's byte order (the alphabet is in ASCII
 * order): a SKY id sorts by pixel, instance, number. */
static void ssi_id_write(char kind, double mjd, uint64_t x, char out[SS_LOCUS_ID_LEN + 1])
{
    int year = ss_store_mjd_year(mjd);
    if (year < 0 || year > 9999)
        year = 0;
    out[0] = 'S', out[1] = 'K', out[2] = kind;
    for (int i = 6; i >= 3; i--, year /= 10)
        out[i] = (char)('0' + year % 10);
    for (int i = 18; i >= 7; i--, x >>= 5)
        out[i] = ssi_b32[x & 31];
    out[SS_LOCUS_ID_LEN] = '\0';
}

void ss_store_locus_id_make(uint64_t seq, double mjd, char out[SS_LOCUS_ID_LEN + 1])
{
    ssi_id_write('S', mjd, ssi_scramble(seq), out);
}

uint32_t ss_store_locus_sky_pixel(double ra, double dec)
{
    const double d2r = M_PI / 180.0;
    double theta = (90.0 - (dec > 90 ? 90 : dec < -90 ? -90 : dec)) * d2r;
    double phi = fmod(fmod(ra, 360.0) + 360.0, 360.0) * d2r;
    int64_t pix = 0;
    if (!isfinite(theta) || !isfinite(phi))
        theta = phi = 0;
    ang2pix_nest64(INT64_C(1) << SS_LOCUS_SKY_ORDER, theta, phi, &pix);
    return (uint32_t)pix; /* 12 * 4^11 pixels: 26 bits */
}

void ss_store_locus_id_sky(double ra, double dec, unsigned instance, uint32_t n, double mjd,
                           char out[SS_LOCUS_ID_LEN + 1])
{
    uint64_t pix = ss_store_locus_sky_pixel(ra, dec);
    uint64_t x = pix << SSI_SKY_PIXEL_SHIFT |
                 (uint64_t)(instance & 0xfff) << SSI_SKY_INSTANCE_SHIFT | (n & SS_LOCUS_SKY_NMAX);
    ssi_id_write('Y', mjd, x, out);
}

int ss_store_locus_id_sky_parts(const char *id, char year[4], uint64_t *pixel, unsigned *instance,
                                uint32_t *n)
{
    if (!ss_store_locus_id_valid(id) || id[2] != 'Y')
        return -1;
    uint64_t x = ssi_id_bits(id);
    memcpy(year, id + 3, 4);
    *pixel = x >> SSI_SKY_PIXEL_SHIFT;
    *instance = (unsigned)(x >> SSI_SKY_INSTANCE_SHIFT) & 0xfff;
    *n = (uint32_t)(x & SS_LOCUS_SKY_NMAX);
    return 0;
}

int ss_store_locus_id_valid(const char *s)
{
    if (strlen(s) != SS_LOCUS_ID_LEN || (strncmp(s, "SKS", 3) && strncmp(s, "SKY", 3)))
        return 0;
    for (int i = 3; i < 7; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    for (int i = 7; i < SS_LOCUS_ID_LEN; i++)
        if (!strchr(ssi_b32, s[i]))
            return 0;
    return 1;
}
