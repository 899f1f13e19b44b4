/**
 * @file locus_id.h
 * @brief Readable, stable locus identifiers such as "SKS2026k3bq7vx2mf4a".
 *
 * An id is "SKS", the year of the locus's first alert, and 12 characters of lowercase Crockford
 * base32 (no i, l, o, u) encoding a 60-bit bijective scramble of the store's locus sequence number.
 * The sequence makes ids unique in a store and the same input in the same order give the same ids;
 * the scramble keeps neighbouring ids from looking alike, as ANTARES's do.
 */
#ifndef SS_LOCUS_ID_H
#define SS_LOCUS_ID_H

#include <stdint.h>

#define SS_LOCUS_ID_LEN 19

/** Write the id of locus number @p seq first seen at @p mjd into @p out (NUL-terminated). */
void ss_store_locus_id_make(uint64_t seq, double mjd, char out[SS_LOCUS_ID_LEN + 1]);
/** The instance number (ss_store_options.instance) of the store that gave out locus id @p id:
 * the scramble undone, the sequence's top 12 bits. 0 for an id of a single-instance store, and
 * for a string that is not a locus id (check with ss_store_locus_id_valid()). */
unsigned ss_store_locus_id_instance(const char *id);
/** 1 when @p s has the shape of a locus id. */
int ss_store_locus_id_valid(const char *s);
/** Calendar (UTC) year of a modified Julian date. */
int ss_store_mjd_year(double mjd);

#endif
