#include "sky.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SSI_D2R (M_PI / 180.0)
#define SSI_R2D (180.0 / M_PI)

ss_vec3 ss_sky_radec_to_vec(double ra, double dec)
{
    double a = ra * SSI_D2R, d = dec * SSI_D2R;
    ss_vec3 v = {cos(d) * cos(a), cos(d) * sin(a), sin(d)};
    return v;
}

void ss_sky_vec_to_radec(ss_vec3 v, double *ra, double *dec)
{
    double a = atan2(v.y, v.x) * SSI_R2D;
    if (a < 0)
        a += 360.0;
    if (a >= 360.0 - 1e-11) /* printed to 15 digits this would read 360 */
        a = 0.0;
    *ra = a;
    /* atan2 rather than asin(z / r): asin loses half its digits near the poles. */
    *dec = atan2(v.z, hypot(v.x, v.y)) * SSI_R2D;
}

double ss_sky_separation_deg(double ra1, double dec1, double ra2, double dec2)
{
    double d1 = dec1 * SSI_D2R, d2 = dec2 * SSI_D2R, dra = (ra2 - ra1) * SSI_D2R;
    double sd1 = sin(d1), cd1 = cos(d1), sd2 = sin(d2), cd2 = cos(d2);
    double cdra = cos(dra), sdra = sin(dra);
    double num1 = cd2 * sdra;
    double num2 = cd1 * sd2 - sd1 * cd2 * cdra;
    double den = sd1 * sd2 + cd1 * cd2 * cdra;
    return atan2(sqrt(num1 * num1 + num2 * num2), den) * SSI_R2D;
}

uint32_t ss_sky_zone_of(double dec, double height_deg)
{
    double z = floor((dec + 90.0) / height_deg);
    return z < 0 ? 0 : (uint32_t)z;
}

double ss_sky_ra_halfwidth(double dec, double radius_deg)
{
    if (fabs(dec) + radius_deg >= 90.0)
        return 180.0;
    double s = sin(radius_deg * SSI_D2R) / cos(dec * SSI_D2R);
    if (s >= 1.0)
        return 180.0;
    /* A hair wider than exact, so rounding never drops a locus right on the edge. */
    return asin(s) * SSI_R2D * (1.0 + 1e-9) + 1e-12;
}

int ss_sky_cone_ra_ranges(double ra, double dec, double radius_deg, ss_ra_range out[2])
{
    double w = ss_sky_ra_halfwidth(dec, radius_deg);
    if (w >= 180.0) {
        out[0] = (ss_ra_range){0.0, 360.0};
        return 1;
    }
    double lo = ra - w, hi = ra + w;
    if (lo < 0.0) {
        out[0] = (ss_ra_range){0.0, hi};
        out[1] = (ss_ra_range){lo + 360.0, 360.0};
        return 2;
    }
    if (hi >= 360.0) {
        out[0] = (ss_ra_range){lo, 360.0};
        out[1] = (ss_ra_range){0.0, hi - 360.0};
        return 2;
    }
    out[0] = (ss_ra_range){lo, hi};
    return 1;
}

uint64_t ss_sky_ra_key(double ra)
{
    if (ra <= 0.0)
        return 0;
    return (uint64_t)floor(ra * 1e9);
}

/* Up to three numbers separated by spaces, ':' or unit letters; the first keeps the sign. */
static int ssi_sexagesimal(const char *p, int is_ra, double *deg, const char **why)
{
    double part[3] = {0, 0, 0};
    int n = 0, neg = 0;
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    while (*p && n < 3) {
        char *end;
        if (!isdigit((unsigned char)*p) && *p != '.')
            break;
        part[n++] = strtod(p, &end);
        p = end;
        while (*p && (isspace((unsigned char)*p) || strchr(":hdms'\"", *p)))
            p++;
    }
    if (*p || n < 2) {
        *why = "not a number nor sexagesimal";
        return -1;
    }
    if (part[1] >= 60 || part[2] >= 60) {
        *why = "minutes or seconds of 60 or more";
        return -1;
    }
    double v = part[0] + part[1] / 60.0 + part[2] / 3600.0;
    *deg = (neg ? -v : v) * (is_ra ? 15.0 : 1.0);
    return 0;
}

int ss_sky_parse_angle(const char *text, int is_ra, double *deg, const char **why)
{
    char *end;
    double v = strtod(text, &end);
    while (isspace((unsigned char)*end))
        end++;
    if (end != text && !*end) {
        if (!isfinite(v)) {
            *why = "not a finite number";
            return -1;
        }
        *deg = v;
    } else if (ssi_sexagesimal(text, is_ra, deg, why)) {
        return -1;
    }
    if (is_ra && (*deg < 0 || *deg > 360)) {
        *why = "RA out of [0, 360] degrees";
        return -1;
    }
    if (!is_ra && (*deg < -90 || *deg > 90)) {
        *why = "Dec out of [-90, 90] degrees";
        return -1;
    }
    if (is_ra && *deg == 360)
        *deg = 0;
    return 0;
}
