/**
 * @file locus_id.h
 * @brief Readable, stable locus identifiers such as "SKY2026b1m4r8c0g0003".
 *
 * An id is three letters, the year of the locus's first alert, and 12 characters of lowercase
 * Crockford base32 (no i, l, o, u) holding 60 bits. Two kinds exist; both stay valid for ever:
 *
 *  - "SKY" (stores of format 8 and later): the HEALPix nested pixel of order SS_LOCUS_SKY_ORDER
 *    (1.7 arcmin) of the locus's first position in the top 26 bits, the store's instance in the
 *    next 12, and in the last 22 the locus's number among those of its year, pixel and instance.
 *    Tables keyed by locus id therefore hold neighbours on the sky on neighbouring pages: the
 *    loci a survey's visit updates (one field) share B-tree pages, so a commit rewrites few pages
 *    however large the store grows. Loci close on the sky have ids with a common beginning.
 *  - "SKS" (loci created before format 8): a bijective scramble of the store's locus sequence
 *    number with the instance in its top 12 bits.
 *
 * Either way the same input in the same order gives the same ids.
 */
#ifndef SS_LOCUS_ID_H
#define SS_LOCUS_ID_H

#include <stdint.h>

#define SS_LOCUS_ID_LEN 19

/** HEALPix order of the pixel in a SKY id: 2^11 pixels along a base pixel's side. */
#define SS_LOCUS_SKY_ORDER 11
/** The highest number of a SKY id: loci of one year, pixel and instance. */
#define SS_LOCUS_SKY_NMAX 4194303u

/** The HEALPix nested pixel of order SS_LOCUS_SKY_ORDER holding @p ra, @p dec (degrees; out of
 * range values are wrapped and clamped, NaN gives pixel 0): the pixel a SKY id begins with after
 * its year. Work taken in this order reaches the tables keyed by locus id in key order. */
uint32_t ss_store_locus_sky_pixel(double ra, double dec);
/** Write the SKY id of the locus number @p n of @p instance, first seen at @p ra, @p dec (degrees;
 * out of range values are wrapped and clamped) and @p mjd, into @p out (NUL-terminated). */
void ss_store_locus_id_sky(double ra, double dec, unsigned instance, uint32_t n, double mjd,
                           char out[SS_LOCUS_ID_LEN + 1]);
/** Split a SKY id into its year's text (4 characters, copied to @p year), pixel, instance and
 * number. @return 0, or -1 when @p id is not a SKY id (an SKS id included). */
int ss_store_locus_id_sky_parts(const char *id, char year[4], uint64_t *pixel, unsigned *instance,
                                uint32_t *n);
/** Write the SKS id of locus sequence number @p seq first seen at @p mjd into @p out (the ids of
 * stores before format 8, still read everywhere; tests make them). */
void ss_store_locus_id_make(uint64_t seq, double mjd, char out[SS_LOCUS_ID_LEN + 1]);
/** The instance number (ss_store_options.instance) of the store that gave out locus id @p id:
 * a SKY id's instance bits, or an SKS id's scramble undone and the sequence's top 12 bits. 0 for an
 * id of a single-instance store, and
 * for a string that is not a locus id (check with ss_store_locus_id_valid()). */
unsigned ss_store_locus_id_instance(const char *id);
/** 1 when @p s has the shape of a locus id (SKY or SKS). */
int ss_store_locus_id_valid(const char *s);
/** Calendar (UTC) year of a modified Julian date. */
int ss_store_mjd_year(double mjd);

#endif
