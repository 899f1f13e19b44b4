/*
 * Private to the Avro decoder: the schema cache and the mapping of survey records to alerts.
 * Names shared between its files start with ssp_avro_.
 */
#ifndef SSP_AVRO_INTERNAL_H
#define SSP_AVRO_INTERNAL_H

#include "alert_limits.h"
#include "decoder.h"

#include <avro.h>
#include <stdint.h>

/** How a schema's records become alerts, decided once per schema from its field names. */
typedef enum ssp_avro_survey {
    SSP_AVRO_UNKNOWN = 0, /* lacks the fields of every known survey: records are rejected */
    SSP_AVRO_ZTF,
    SSP_AVRO_LSST,
} ssp_avro_survey;

typedef struct ssp_node ssp_node;

/** A resolved field look-up: which field of record schema @p rec the names list @p names finds
 * (an index, or -1 for none). */
typedef struct ssp_avro_slot {
    const ssp_node *rec;
    const char *const *names;
    int index;
} ssp_avro_slot;
#define SSP_AVRO_SLOTS 64

/* Nesting of types and values the decoder follows (alerts use about 5). */
#define SSP_AVRO_MAX_DEPTH 64

/* ---- the decode plan (avro_plan.c) ---- */

/**
 * One type of a writer schema, compiled once: what reading a value of it takes, without avro-c's
 * schema calls. Links are followed when the plan is built, so a named type used twice (and a
 * recursive one) is one node. Owned by its plan.
 */
struct ssp_node {
    avro_type_t type;   /* never AVRO_LINK */
    size_t n;           /* record: fields; union: branches; enum: symbols; fixed: its size */
    ssp_node **kids;    /* record: field types; union: branches; array, map: [0] the items */
    const char **names; /* record: field names; enum: symbols (avro-c's strings) */
    size_t *lens;       /* their lengths */
    int entries;        /* array: items are records (unions followed): counted as history entries */
    int keep;           /* array: items may be records, which the mapping reads: decoded */
    /* Property names of the fields, made once per prefix the record is flattened under
     * (avro_map.c). Packets borrow them: they live as long as the plan. */
    struct ssp_flat *flats;
    size_t nflats;
};

/** A record's property names under one prefix: prefix + field name. */
typedef struct ssp_flat {
    char *prefix;
    char **names;
    size_t *lens;
} ssp_flat;

/**
 * A decoded value: the node it was read with, unions followed to the branch written, and its
 * content. Strings, bytes and fixed point into the record's bytes (valid until the next block is
 * read); records hold one value per field, arrays of records one per item. Maps and arrays of
 * anything else are checked and skipped: no alert field is read from them (u.c.n is 0).
 */
typedef struct ssp_pv {
    ssp_node *node;
    union {
        int64_t i; /* boolean (0 or 1), int, long, enum index */
        double f;  /* float, double */
        struct {
            const char *p;
            size_t n;
        } s; /* string, bytes, fixed */
        struct {
            struct ssp_pv *v;
            size_t n;
        } c; /* record fields, array items */
    } u;
} ssp_pv;

typedef struct ssp_plan ssp_plan;

/** Compile @p schema (checked by ssp_avro_schema_check()). @return NULL when out of memory. */
ssp_plan *ssp_plan_new(avro_schema_t schema);
void ssp_plan_free(ssp_plan *p);
/** The node of the whole record. */
ssp_node *ssp_plan_root(const ssp_plan *p);

/** Values of one record, reused record after record: chunks are kept, never moved. */
typedef struct ssp_pool ssp_pool;
ssp_pool *ssp_pool_new(void);
void ssp_pool_free(ssp_pool *p);
void ssp_pool_reset(ssp_pool *p);

/**
 * Walking one record's encoding: every length and count checked against the bytes left before
 * anything is taken, the caps of alert_limits.h counted, and a budget of values bounding the
 * time. The walk is the check for both decoders: avro-c's (which trusts lengths and counts) and
 * the plan's, which decodes as it walks.
 */
typedef struct ssp_walk {
    const unsigned char *p;
    size_t len, pos;
    int64_t budget;  /* values left to visit: bounds the time and the memory taken */
    const char *why; /* what is wrong, when the walk fails */
    /* The caps (alert_limits.h) and what the record holds against them. The first cap exceeded
     * is noted and the walk goes on to the record's end, so that only this record is lost. */
    const ss_alert_limits *lim;
    uint64_t history, items;
    ss_reject *over; /* filled for the first cap exceeded */
    int is_over;
    ssp_pool *pool; /* where decoded values go; NULL: check only */
    int nomem;      /* the walk failed for want of memory */
} ssp_walk;

/**
 * Walk the value of @p node at w->pos, decoding it into @p out unless @p out or w->pool is NULL
 * (or a cap was exceeded: the record is lost then and only its end is sought).
 * @return 0 with w->pos past the value, or -1 with w->why (w->nomem when memory ran out).
 */
int ssp_walk_value(ssp_walk *w, ssp_node *node, int depth, ssp_pv *out);

/**
 * The same record as avro-c decoded it (@p v, of the plan's schema) as values: the reference the
 * plan is tested against, and the path of SKYSIEVE_AVRO_GENERIC=1. Strings and bytes point into
 * @p v. @return 0, or SS_ENOMEM.
 */
int ssp_pv_from_generic(ssp_pool *pool, ssp_node *node, avro_value_t *v, ssp_pv *out);

/** A parsed schema with what decoding needs; owned by the cache. */
typedef struct ssp_avro_schema {
    avro_schema_t schema;
    ssp_plan *plan;
    avro_value_iface_t *iface;
    avro_value_t value; /* one instance, reused for every record of this schema */
    ssp_avro_survey survey;
    const char *survey_name;             /* "ztf", "lsst", "elasticc" */
    char missing[256];                   /* for SSP_AVRO_UNKNOWN: the fields it lacks */
    ssp_avro_slot slots[SSP_AVRO_SLOTS]; /* look-ups resolved so far (avro_map.c) */
    size_t nslots;
    int64_t min_record; /* fewest bytes a record takes; -1 until the first input needs it */
} ssp_avro_schema;

typedef struct ssp_avro_cache ssp_avro_cache;

ssp_avro_cache *ssp_avro_cache_new(const char *schema_dir);
void ssp_avro_cache_free(ssp_avro_cache *c);

/**
 * The buffers one input's state decodes with: the block as read and decompressed, and the values
 * of a record. They are lent by the run's cache and given back when the input closes, so an
 * input per alert (a Kafka message, a container per alert) does not allocate and fault in a
 * block's worth of memory each time.
 */
typedef struct ssp_pool ssp_pool;
typedef struct ssp_avro_buffers {
    unsigned char *raw, *data;
    size_t raw_cap, data_cap;
    ssp_pool *pool;
} ssp_avro_buffers;

/** Take the cache's spare buffers (fields NULL and 0 when it has none). @p c may be NULL. */
void ssp_avro_cache_lend(ssp_avro_cache *c, ssp_avro_buffers *out);
/** Give @p b back to the cache (what it cannot keep is freed); @p b is emptied. @p c may be NULL.
 */
void ssp_avro_cache_take_back(ssp_avro_cache *c, ssp_avro_buffers *b);

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
int ssp_avro_map(ssp_avro_schema *s, const ssp_pv *rec, int cutouts, ss_packet *pkt,
                 ss_reject *rej);

#endif
