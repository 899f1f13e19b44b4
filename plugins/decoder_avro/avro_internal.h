/*
 * Private to the Avro decoder: the schema cache and the mapping of survey records to alerts.
 * Names shared between its files start with ssp_avro_.
 */
#ifndef SSP_AVRO_INTERNAL_H
#define SSP_AVRO_INTERNAL_H

#include "decoder.h"

#include <avro.h>
#include <stdint.h>

/** How a schema's records become alerts, decided once per schema from its field names. */
typedef enum ssp_avro_survey {
    SSP_AVRO_UNKNOWN = 0, /* lacks the fields of every known survey: records are rejected */
    SSP_AVRO_ZTF,
    SSP_AVRO_LSST,
} ssp_avro_survey;

/** A resolved field look-up: which field of record schema @p rec the names list @p names finds
 * (an index, or -1 for none). */
typedef struct ssp_avro_slot {
    avro_schema_t rec;
    const char *const *names;
    int index;
} ssp_avro_slot;
#define SSP_AVRO_SLOTS 64

/** A parsed schema with what decoding needs; owned by the cache. */
typedef struct ssp_avro_schema {
    avro_schema_t schema;
    avro_value_iface_t *iface;
    avro_value_t value; /* one instance, reused for every record of this schema */
    ssp_avro_survey survey;
    const char *survey_name;             /* "ztf", "lsst", "elasticc" */
    char missing[256];                   /* for SSP_AVRO_UNKNOWN: the fields it lacks */
    ssp_avro_slot slots[SSP_AVRO_SLOTS]; /* look-ups resolved so far (avro_map.c) */
    size_t nslots;
} ssp_avro_schema;

typedef struct ssp_avro_cache ssp_avro_cache;

ssp_avro_cache *ssp_avro_cache_new(const char *schema_dir);
void ssp_avro_cache_free(ssp_avro_cache *c);

/** The schema whose JSON text is @p json (an OCF header's), parsed once per distinct text. */
int ssp_avro_cache_json(ssp_avro_cache *c, const char *json, size_t len, ssp_avro_schema **out,
                        ss_err *err);

/**
 * The schema of Confluent schema id @p id, from the schema directory: DIR/ID.avsc, or Rubin's
 * layout DIR/MAJOR/MINOR/lsst.vMAJOR_MINOR.alert.avsc for ID = MAJOR * 100 + MINOR, where named
 * types are resolved from the .avsc files beside it.
 */
int ssp_avro_cache_id(ssp_avro_cache *c, uint32_t id, ssp_avro_schema **out, ss_err *err);

/**
 * Refuse a schema avro-c cannot instantiate: a record that contains itself through required
 * fields (a cycle with no union branch, array or map to end it), or nesting past 64 levels.
 * Call before avro_generic_class_from_schema(): avro-c overflows the stack on such a schema.
 * @return 0, or -1 with @p why (of @p cap bytes) saying which record and field.
 */
int ssp_avro_schema_check(avro_schema_t s, char *why, size_t cap);

/** Decide how records of @p s become alerts (fills survey, survey_name, missing). */
void ssp_avro_classify(ssp_avro_schema *s);

/**
 * Turn one decoded record into a packet: the alert, then its history (earlier detections, upper
 * limits, forced photometry), the survey's locus properties, and its stamps when @p cutouts is 1
 * (the operator's switch; a packet whose user set skip_cutouts keeps none either way).
 * @return 1, SS_EREJECT (@p rej says why), or SS_ENOMEM.
 */
int ssp_avro_map(ssp_avro_schema *s, avro_value_t *rec, int cutouts, ss_packet *pkt,
                 ss_reject *rej);

#endif
