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
#include "buf.h"

#include <jansson.h>
#include <stddef.h>

/** Flags for printing JSON (compact, 15 significant digits: beyond any survey's precision). */
#define SS_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

/** A number, or null when it is not finite (NaN marks an absent value). */
json_t *ss_json_num(double v);
/** The reverse: @p o's member @p key as a number, NAN when absent or not a number (@p o may be
 * NULL or not an object). */
double ss_json_num_at(const json_t *o, const char *key);
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
/** The same text into @p out ("" when the time cannot be shown). */
void ss_json_iso_text(double unix_time, char out[32]);

/* ---- writing JSON text directly (json_write.c) ---- */

/** Room for a real as text. */
#define SS_JSON_REAL_MAX 40

/**
 * A real as jansson prints it with SS_JSON_FLAGS (15 significant digits, always a '.' or an 'e',
 * exponents without '+' or leading zeros), into @p out; most values without printf.
 * @return the length. @p v must be finite.
 */
size_t ss_json_real_text(double v, char out[SS_JSON_REAL_MAX]);

/** Objects and arrays nested at most this deep. */
#define SS_JW_DEPTH 32

/**
 * A JSON writer into a byte buffer: the same text as building the value with jansson (through
 * the functions above, so the same null and UTF-8 rules) and printing it with SS_JSON_FLAGS,
 * without the objects: for answers served many times a second. The buffer is the caller's;
 * its failed flag tells a write that ran out of memory.
 */
typedef struct ss_jw {
    ss_wbuf *b;
    int depth;
    int key_pending; /* a key was written: its value needs no comma */
    unsigned count[SS_JW_DEPTH];
} ss_jw;

void ss_jw_init(ss_jw *w, ss_wbuf *b);
/** Open ('{' or '[') and close ('}' or ']') an object or an array. */
void ss_jw_open(ss_jw *w, char bracket);
void ss_jw_close(ss_jw *w, char bracket);
/** A member's key; its value is the next value written. */
void ss_jw_key(ss_jw *w, const char *k);
/** Values: a string (NULL: null), @p n bytes of one, null, a boolean, an integer, a number (null
 * when not finite), a property value as ss_json_value() gives it, a jansson value. */
void ss_jw_str(ss_jw *w, const char *s);
void ss_jw_strn(ss_jw *w, const char *s, size_t n);
void ss_jw_null(ss_jw *w);
void ss_jw_bool(ss_jw *w, int v);
void ss_jw_int(ss_jw *w, long long v);
void ss_jw_num(ss_jw *w, double v);
void ss_jw_value(ss_jw *w, const ss_value *v);
void ss_jw_json(ss_jw *w, const json_t *o);

/** Sets of properties written as the members of one object, as ss_json_props() of each set in
 * turn would make them: a later value of a name replaces an earlier one, in its place. */
typedef struct ss_jw_set {
    const ss_prop *props;
    size_t n;
} ss_jw_set;

void ss_jw_props(ss_jw *w, const ss_jw_set *sets, size_t nsets);

#endif
