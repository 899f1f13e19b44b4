/**
 * @file record.h
 * @brief The records the store keeps: a locus's summary, tags, and the binary encodings that
 * other stages borrow (an alert for a replay's staging file, a property bag for the broker's
 * wire format).
 *
 * Values are little-endian-free: they are written in the host's byte order, as LMDB files
 * themselves are not portable across byte orders. Every record starts with a version byte; readers
 * check lengths on every field and return SS_ECORRUPT rather than read past a value.
 */
#ifndef SS_RECORD_H
#define SS_RECORD_H

#include "alert.h"
#include "locus_id.h"
#include "buf.h"
#include "sky.h"

#include <stddef.h>
#include <stdint.h>

/** Per passband summary of a locus. */
#define SS_LOCUS_MAX_BANDS 32
typedef struct ss_locus_band {
    char passband[SS_PASSBAND_MAX + 1];
    uint32_t num_alerts;
    uint32_t num_mag_values;
    double newest_mjd; /**< NAN when the band has no detection yet */
    double newest_mag;
} ss_locus_band;

/** A reference to one alert of a locus, with its time and magnitude (NAN for an upper limit). */
typedef struct ss_alert_ref {
    char alert_id[SS_ID_MAX + 1];
    double mjd, mag;
} ss_alert_ref;

/** A survey object id attached to a locus. */
#define SS_LOCUS_MAX_OBJECTS 8
typedef struct ss_locus_object {
    char survey[SS_SURVEY_MAX + 1];
    char object_id[SS_ID_MAX + 1];
} ss_locus_object;

/** What the broker itself knows of a locus (the `loci` table). */
typedef struct ss_locus {
    char id[SS_LOCUS_ID_LEN + 1];
    double ra, dec;          /**< current position: mean direction of the detections */
    double sx, sy, sz;       /**< sum of the detections' unit vectors */
    uint32_t num_pos;        /**< detections in that sum */
    uint32_t num_alerts;     /**< alerts of any kind */
    uint32_t num_mag_values; /**< detections */
    ss_alert_ref oldest, newest, brightest; /**< by mjd; brightest among detections */
    uint32_t nbands;
    ss_locus_band bands[SS_LOCUS_MAX_BANDS];
    uint32_t nobjects;
    ss_locus_object objects[SS_LOCUS_MAX_OBJECTS];
    uint64_t last_packet; /**< the packet that last changed it (ss_alert.arrival; 0: unknown) */
} ss_locus;

#define SS_RECORD_VERSION 1

/** Encode an alert, stored under @p locus_id, into @p b (reset first). */
void ss_store_alert_encode(const ss_alert *a, const char *locus_id, ss_wbuf *b);
/** ss_store_alert_encode() with the survey's locus properties its packet carried (a primary's;
 * may be 0), which a filter's view as of this alert reads back. */
void ss_store_alert_encode2(const ss_alert *a, const char *locus_id, const ss_prop *survey_locus,
                            uint32_t nsurvey_locus, ss_wbuf *b);
/**
 * Decode an alert value into @p a; strings and properties are copied into @p pkt's arena.
 * @param[out] locus_id receives the locus id (SS_LOCUS_ID_LEN + 1 bytes).
 * @return 0, SS_ECORRUPT or SS_ENOMEM.
 */
int ss_store_alert_decode(const void *data, size_t len, ss_packet *pkt, ss_alert *a,
                          char *locus_id);

/**
 * The broker's own properties of a locus (num_alerts, newest_alert_magnitude, ...; see query.h) as
 * a property array in @p arena, absent values as SS_TYPE_NULL. @return 0 or SS_ENOMEM.
 */
int ss_store_locus_computed(const ss_locus *l, ss_arena *arena, ss_prop **props, uint32_t *n);

/**
 * One of the broker's own locus properties by name, without building them all (the hot path of
 * filters reading properties). @return 1 when @p name is one (its value may be SS_TYPE_NULL).
 */
int ss_store_locus_computed_get(const ss_locus *l, const char *name, ss_value *out);

/** Encode a property bag (filter outputs) into @p b (reset first). */
void ss_store_props_encode(const ss_prop *props, uint32_t n, ss_wbuf *b);
/**
 * Decode a property bag; names and strings are copied into @p arena.
 * @param[out] props an array in @p arena. @return 0, SS_ECORRUPT or SS_ENOMEM.
 */
int ss_store_props_decode(const void *data, size_t len, ss_arena *arena, ss_prop **props,
                          uint32_t *n);

/** A stored tag: which filter set it, on which alert's run, and when. */
typedef struct ss_tag_record {
    char filter[128];
    double mjd;                     /**< observation time of the alert whose run set it */
    double time;                    /**< unix time it was set */
    char survey[SS_SURVEY_MAX + 1]; /**< the alert whose run set it ("" in stores before 0.2) */
    char alert_id[SS_ID_MAX + 1];
} ss_tag_record;

#endif
