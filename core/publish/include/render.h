/**
 * @file render.h
 * @brief Private to the core: the JSON shapes shared by queries and published events.
 */
#ifndef SS_RENDER_H
#define SS_RENDER_H

#include "record.h"

#include <jansson.h>

/** The one-line summary of a locus (as `skysieve loci` prints). Caller owns it. */
json_t *ssi_locus_summary_json(const ss_locus *l);
/** An alert with its normalised and survey properties. Caller owns it. */
json_t *ssi_alert_json(const ss_alert *a);
/** A number, or null when it is NaN (absent). */
json_t *ssi_num(double v);
/** A property value as JSON (null for SS_TYPE_NULL). */
json_t *ssi_value_json(const ss_value *v);
/** A string as JSON, bytes that are not UTF-8 shown as U+FFFD (catalogs in Latin-1). */
json_t *ssi_text_json(const char *s);
/** Add filter-written properties to a JSON object of properties. */
void ssi_props_into_json(json_t *obj, const ss_prop *props, uint32_t n);

#endif
