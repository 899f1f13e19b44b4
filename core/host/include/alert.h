/**
 * @file alert.h
 * @brief The alert model: one measurement of a source, normalised across surveys.
 *
 * An alert carries the fields every survey shares (survey, alert id, position, time, passband,
 * brightness) as plain members, and the survey's own fields as typed properties. Detections carry a
 * magnitude and its error; upper limits (non-detections) carry a limiting magnitude instead.
 *
 * Decoders fill alerts into a packet: what one input record yields. The first alert of a packet is
 * associated by position; the others (a survey's history of earlier detections and upper limits)
 * join the same locus. All strings and arrays of a packet are owned by the packet's arena and live
 * until ss_packet_reset() or ss_packet_free().
 *
 * This folder (core/host/) is what plugins and filter runtimes see, and all they see: the alert
 * model, the decoder, runtime and output interfaces, errors, arenas and file helpers. Being a
 * toolkit, it exports one prefix per module (ss_alert_, ss_packet_, ss_arena_, ss_err_,
 * ss_decoder_, ss_runtime_, ss_output_, ss_file_); its private names (ssi_) stay inside it.
 */
#ifndef SS_ALERT_H
#define SS_ALERT_H

#include "arena.h"
#include "err.h"

#include <stddef.h>
#include <stdint.h>

/** Longest survey name, alert id, object id and passband the store accepts (bytes, without NUL).
 * Longer ones are rejected (field_too_long), never cut: two ids that differ past the limit would
 * otherwise merge into one. */
#define SS_SURVEY_MAX   32
#define SS_ID_MAX       128
#define SS_PASSBAND_MAX 16

/** Sane range of observation times: 1858-11-17 (MJD 0) to 2100-01-01. */
#define SS_MJD_MIN 0.0
#define SS_MJD_MAX 88069.0

typedef enum ss_alert_kind {
    SS_ALERT_DETECTION = 0,
    SS_ALERT_UPPER_LIMIT = 1,
    /** A measurement at a known position whether or not a source was detected (ZTF fp_hists,
     * Rubin diaForcedSources). Its flux may be negative or insignificant; mag is NAN then. */
    SS_ALERT_FORCED = 2,
} ss_alert_kind;

/** "detection", "upper_limit", "forced_photometry". */
const char *ss_alert_kind_name(ss_alert_kind k);

/** The AB zero point of a flux in nJy: mag = -2.5 log10(flux / nJy) + 31.4. */
#define SS_NJY_ZEROPOINT 31.4

/** A named property; the name and any string value are owned by the packet's arena. */
typedef struct ss_prop {
    const char *name;
    ss_value value;
} ss_prop;

typedef struct ss_alert {
    const char *survey;    /**< e.g. "ztf", "lsst", "tuple"; never NULL */
    const char *alert_id;  /**< unique within the survey; never NULL */
    const char *object_id; /**< the survey's object id, or NULL */
    double ra, dec;        /**< degrees, ICRS; NAN for an alert without a position */
    double mjd;            /**< modified Julian date of the observation */
    const char *passband;  /**< never NULL */
    double mag, magerr;    /**< NAN for an upper limit */
    double maglim;         /**< limiting magnitude, NAN when unknown */
    double flux, fluxerr; /**< difference flux in nJy (sign kept), NAN when the survey gives none */
    ss_alert_kind kind;
    ss_prop *props; /**< survey fields, in the order the input gave them */
    uint32_t nprops, capprops;
    const char *origin; /**< input name, for messages; may be NULL */
    uint64_t line;      /**< line or record number in that input (1-based), 0 when unknown */
    /** Set by the store: the sequence number of the packet that stored this measurement (packets
     * are numbered in the order they are stored, from 1) and its position in that packet. 0 for
     * a measurement that is not stored, or was stored before skysieve 0.2 numbered packets. A
     * filter's view of a locus holds what was stored before or with its trigger's packet. */
    uint64_t arrival;
    uint32_t arrival_index;
    /** Set by the store (0 otherwise): for a measurement stored first as another alert's history
     * entry and then upgraded by its own alert (arrival is then its own packet's), how many
     * packets earlier it was first stored. Views as of those packets hold it as the history
     * entry it was (ss_assoc_keep_arrived()). In what was padding: the struct's size and offsets
     * stay. */
    uint32_t history_lead;
} ss_alert;

/**
 * A normalised field of an alert by its ANTARES name (ant_mjd, ant_ra, ant_dec, ant_passband,
 * ant_mag, ant_magerr, ant_maglim, ant_survey), as filters read it: an absent number or an empty
 * string is SS_TYPE_NULL. Strings point into @p a. @return 1 when @p name is one, 0 otherwise.
 */
int ss_alert_normalised(const ss_alert *a, const char *name, ss_value *out);

/** A property value as filters read it: a number that is not finite is SS_TYPE_NULL, as is a
 * NULL or empty string (@p s is borrowed: the value points into it). */
ss_value ss_prop_float(double v);
ss_value ss_prop_text(const char *s);

/** Image stamps around an alert, as the survey sends them. */
typedef enum ss_cutout_kind {
    SS_CUTOUT_SCIENCE = 0,
    SS_CUTOUT_TEMPLATE = 1,
    SS_CUTOUT_DIFFERENCE = 2,
    SS_CUTOUT__COUNT
} ss_cutout_kind;

/** One stamp: the survey's bytes unchanged (gzip FITS for ZTF, FITS for Rubin). */
typedef struct ss_cutout {
    const unsigned char *data; /**< NULL when the alert has none of this kind */
    size_t len;
    const char *file_name; /**< the survey's file name, or NULL */
} ss_cutout;

/** "science", "template", "difference". */
const char *ss_cutout_kind_name(ss_cutout_kind k);
/** Parse a kind name. @return the kind, or -1 when unknown. */
int ss_cutout_kind_from_name(const char *name);

typedef struct ss_packet {
    ss_alert *alerts; /**< alerts[0] is the primary alert */
    uint32_t n, cap;
    /** Survey properties of the locus as of the primary alert (Rubin's diaObject). */
    ss_prop *locus_props;
    uint32_t nlocus_props, caplocus_props;
    /** The primary alert's stamps, indexed by ss_cutout_kind. */
    ss_cutout cutouts[SS_CUTOUT__COUNT];
    /** Set by the packet's user (kept across resets): stamps are not wanted, so decoders need not
     * read them and ss_packet_set_cutout() keeps none. */
    int skip_cutouts;
    /** Set by the packet's user (kept across resets), may be NULL: 1 when @p survey / @p alert_id
     * is already stored. A decoder may then leave that history entry's survey fields out: they
     * are stored, and the entry is only recognised, not written again. */
    int (*known)(void *ctx, const char *survey, const char *alert_id);
    void *known_ctx;
    ss_arena *arena;
    /** The record's source text, kept with a rejection so it can be inspected; may be NULL. Set by
     * the decoder, borrowed from it until its next call. */
    const char *raw;
    size_t raw_len;
    /** Set by the packet's user (kept across resets): stamps a decoder lends
     * (ss_packet_lend_cutout()) are kept by pointer, not copied. They are then the decoder's, valid
     * only until its next call on the same state or its close: the user takes what it keeps of them
     * before that call. (Decoder ABI 2.4.) */
    int borrow_cutouts;
    /** Set by the packet's user (kept across resets), may be NULL: known()'s numbered twin, asked
     * with the history entry itself, filled but for its survey fields (its kind and object id
     * tell the store where to look: an upper limit is listed under its object). A decoder asks
     * known2() when it is set, else known(). (Decoder ABI 2.6.) */
    int (*known2)(void *ctx, const ss_alert *a);
} ss_packet;

/** Why a record was rejected. Stable names: they are stored and counted by name. */
typedef enum ss_reason {
    SS_REASON_MALFORMED = 0,    /**< record cannot be split into fields (bad CSV, bad JSON) */
    SS_REASON_MISSING_FIELD,    /**< a required field is absent or empty */
    SS_REASON_UNPARSABLE_FIELD, /**< a required field is not a number where one is needed */
    SS_REASON_NON_FINITE,       /**< NaN or infinity in a required field */
    SS_REASON_RA_RANGE,         /**< ra outside [0, 360) */
    SS_REASON_DEC_RANGE,        /**< dec outside [-90, 90] */
    SS_REASON_MJD_RANGE,        /**< mjd outside [SS_MJD_MIN, SS_MJD_MAX] */
    SS_REASON_NO_BRIGHTNESS,    /**< neither mag with magerr nor maglim */
    SS_REASON_TOO_LONG,         /**< an id, survey or passband longer than the store accepts */
    SS_REASON_UNREADABLE,       /**< a whole input could not be read or has no usable header */
    SS_REASON_ID_INVALID,       /**< an alert or object id holds a NUL or control character */
    SS_REASON_TOO_LARGE,        /**< a line, value, alert or count over a cap (alert_limits.h) */
    SS_REASON__COUNT
} ss_reason;

/** The stable name of a reason ("missing_field", ...). */
const char *ss_reason_name(ss_reason r);
/** Parse a reason name. @return the reason, or -1 when unknown. */
int ss_reason_from_name(const char *name);

/** A rejected record: what a decoder or the validator reports. Strings are borrowed, see users. */
typedef struct ss_reject {
    ss_reason reason;
    const char *origin; /**< input name */
    uint64_t line;      /**< 1-based line or record index; 0 for the whole input */
    char detail[256];   /**< human-readable reason, naming the field */
    const char *raw;    /**< the record's text (may be NULL); truncated when stored */
    size_t raw_len;
} ss_reject;

/** Fill a rejection. @return SS_EREJECT. */
int ss_reject_set(ss_reject *rej, ss_reason reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Create an empty packet with its own arena. @return NULL when out of memory. */
ss_packet *ss_packet_new(void);
/** Free the packet and its arena. NULL is allowed. */
void ss_packet_free(ss_packet *p);
/** Empty the packet and its arena for reuse. */
void ss_packet_reset(ss_packet *p);

/**
 * Append a blank alert (NAN numbers, NULL strings, detection) to the packet.
 * @return the alert, owned by the packet; NULL when out of memory. Invalidated by the next add.
 */
ss_alert *ss_packet_add(ss_packet *p);

/** Copy @p n bytes into the packet's arena as a NUL-terminated string. NULL when out of memory. */
char *ss_packet_strdup(ss_packet *p, const char *s, size_t n);

/**
 * Copy an alert or object id of @p n bytes, as the input gave it, into the packet's arena. Every
 * decoder hands ids over whole through this, and ss_alert_validate() judges them: one longer than
 * SS_ID_MAX, or holding a control character, is rejected by name. A NUL byte cannot live in a C
 * string, and cutting the id there would merge "ZTF\0x" with "ZTF": it is copied as 0x1A (SUB, a
 * control character) so that the validator refuses it. NULL when out of memory.
 */
char *ss_packet_id_dup(ss_packet *p, const char *s, size_t n);

/**
 * Append a property to @p a. String values are copied into the packet's arena; @p name is copied
 * too.
 * @return 0 or SS_ENOMEM.
 */
int ss_alert_add_prop(ss_packet *p, ss_alert *a, const char *name, size_t name_len, ss_value v);

/**
 * ss_alert_add_prop() without copying @p name: the packet borrows it, so it must stay valid and
 * unchanged until the packet is reset or freed. A decoder's shared state qualifies (decoder.h:
 * the run frees it after every packet decoded with it), which is where the Avro decoder keeps
 * the property names it makes once per schema. String values are still copied.
 * @return 0 or SS_ENOMEM. (Decoder ABI 2.3.)
 */
int ss_alert_add_prop_borrowed(ss_packet *p, ss_alert *a, const char *name, size_t name_len,
                               ss_value v);

/**
 * Make room for @p n more properties of @p a at once, when the decoder knows how many come (a
 * record's fields): the array then grows once instead of doubling its way there. Optional.
 * @return 0 or SS_ENOMEM. (Decoder ABI 2.3.)
 */
int ss_alert_reserve_props(ss_packet *p, ss_alert *a, uint32_t n);

/** Append a survey property of the packet's locus (see ss_packet.locus_props); copies like
 * ss_alert_add_prop(). @return 0 or SS_ENOMEM. */
int ss_packet_add_locus_prop(ss_packet *p, const char *name, size_t name_len, ss_value v);

/**
 * Keep a stamp of the primary alert: @p data (and @p file_name, which may be NULL) are copied into
 * the packet's arena. A second stamp of one kind replaces the first. @return 0 or SS_ENOMEM.
 */
int ss_packet_set_cutout(ss_packet *p, ss_cutout_kind kind, const void *data, size_t len,
                         const char *file_name);

/**
 * ss_packet_set_cutout() for a decoder whose @p data stay valid and unchanged until its next call
 * on the same state, or its close (bytes inside the block it decodes from). A packet whose user
 * set borrow_cutouts keeps the pointer; any other copies @p data as ss_packet_set_cutout() does.
 * @p file_name is copied either way. Why: a survey's stamps are most of an alert's bytes (Rubin's
 * three FITS images about 110 kB), and a user that compresses them at once needs no copy.
 * @return 0 or SS_ENOMEM. (Decoder ABI 2.4.)
 */
int ss_packet_lend_cutout(ss_packet *p, ss_cutout_kind kind, const void *data, size_t len,
                          const char *file_name);

/** Find a property by name. @return the property (owned by the packet) or NULL. */
const ss_prop *ss_alert_prop(const ss_alert *a, const char *name);

/**
 * Give an alert that came without an id one derived from its content: "h" and 16 hex digits of the
 * XXH3 hash of its survey, position, time, passband and brightness (numbers in canonical form, so
 * "1.0" and "1" agree). Re-ingesting the same rows is then idempotent, whatever the format.
 * Call after survey, passband and the numbers are set. @return 0 or SS_ENOMEM.
 */
int ss_alert_derive_id(ss_packet *p, ss_alert *a);

/**
 * Check the fields every alert must satisfy (finite numbers, ranges, lengths, brightness).
 * @param[in] a the alert; @p require_position is 0 for history entries that may lack a position.
 * @param[out] rej filled when the alert is rejected (origin and line taken from the alert).
 * @return 0 when valid, SS_EREJECT otherwise.
 */
int ss_alert_validate(const ss_alert *a, int require_position, ss_reject *rej);

#endif
