/**
 * @file json_text.h
 * @brief JSON values from text and numbers that may not be valid as they are: jansson refuses a
 * string that is not UTF-8, and a NaN.
 *
 * Every JSON skysieve writes (queries, published events, the watch outbox, the broker's status)
 * builds its strings and numbers through these, so that one rule holds everywhere: an absent
 * number (NaN) is null, and bytes that are not UTF-8 (old catalogues in Latin-1, survey fields)
 * appear as U+FFFD instead of making the whole value fail. Returned values are new references
 * owned by the caller (json_decref()).
 */
#ifndef SS_JSON_TEXT_H
#define SS_JSON_TEXT_H

#include "alert.h"

#include <jansson.h>
#include <stddef.h>

/** Flags for printing JSON (compact, 15 significant digits: beyond any survey's precision). */
#define SS_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

/** A number, or null when it is not finite (NaN marks an absent value). */
json_t *ss_json_num(double v);
/** A string of @p n bytes; bytes that are not UTF-8 become U+FFFD. Never NULL unless out of
 * memory. */
json_t *ss_json_textn(const char *s, size_t n);
/** ss_json_textn() of a NUL-terminated string; NULL @p s gives null. */
json_t *ss_json_text(const char *s);
/** A property value (null for SS_TYPE_NULL and for a float that is not finite). */
json_t *ss_json_value(const ss_value *v);
/** Set @p n properties as members of the JSON object @p obj (same names replaced). */
void ss_json_props(json_t *obj, const ss_prop *props, size_t n);
/** A Unix time as an ISO 8601 UTC string ("2026-01-02T03:04:05Z"). */
json_t *ss_json_iso_time(double unix_time);

#endif
