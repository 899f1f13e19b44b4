/**
 * @file sky.h
 * @brief Spherical geometry and the declination-zone index used for association and cone searches.
 *
 * The sky index divides the sphere into declination zones of fixed height and orders loci inside a
 * zone by right ascension. A cone of radius r around (ra, dec) is covered exactly by the zones
 * between dec - r and dec + r and, inside each, by the RA interval ra +- ss_sky_ra_halfwidth(dec,
 * r), split in two where it crosses RA 0/360 and widened to the whole zone where the cone holds a
 * pole. Because keys are sorted, each interval is one range scan in LMDB: the cost per query
 * depends on the density of loci, not on their total number.
 *
 * This folder (core/base/) holds what every stage leans on: sky geometry (ss_sky_), the log
 * (ss_log_), the seeded generator (ss_rng_), byte buffers (ss_wbuf_, ss_rbuf_, ss_be*) and JSON
 * text (ss_json_); one prefix per module, private names (ssi_) inside the folder.
 */
#ifndef SS_SKY_H
#define SS_SKY_H

#include <stdint.h>

#define SS_ARCSEC_PER_DEG 3600.0

typedef struct ss_vec3 {
    double x, y, z;
} ss_vec3;

/** Unit vector of a position given in degrees. */
ss_vec3 ss_sky_radec_to_vec(double ra, double dec);
/** Direction of a (not necessarily unit, non-zero) vector in degrees; ra in [0, 360). */
void ss_sky_vec_to_radec(ss_vec3 v, double *ra, double *dec);
/** Angular separation in degrees (Vincenty's formula: accurate at all separations). */
double ss_sky_separation_deg(double ra1, double dec1, double ra2, double dec2);

/** Zone number of a declination for zones of @p height_deg; zones start at dec -90. */
uint32_t ss_sky_zone_of(double dec, double height_deg);
/**
 * Half-width in RA (degrees) of the smallest RA interval covering a cone of @p radius_deg around a
 * point at @p dec. @return 180 when the cone contains a pole.
 */
double ss_sky_ra_halfwidth(double dec, double radius_deg);

/** An RA interval [lo, hi] in degrees, within [0, 360]. */
typedef struct ss_ra_range {
    double lo, hi;
} ss_ra_range;

/**
 * The RA intervals covering a cone, split at 0/360.
 * @param[out] out room for 2 intervals. @return how many were written (1 or 2).
 */
int ss_sky_cone_ra_ranges(double ra, double dec, double radius_deg, ss_ra_range out[2]);

/** Order-preserving integer for an RA in degrees (nano-degrees), used in index keys. */
uint64_t ss_sky_ra_key(double ra);

/** Parse an angle: decimal degrees, or sexagesimal (hours for RA: "00 01 16.37", "00:01:16.37",
 * "12h34m56.7s"; degrees for Dec: "+29 35 34.0", "-12d34m56s"). @return 0, or -1 with @p why set
 * to a static reason. */
int ss_sky_parse_angle(const char *text, int is_ra, double *deg, const char **why);

#endif
