/**
 * @file alert_limits.h
 * @brief Size caps on one input record and the alert it makes: the one place that defines them.
 *
 * Every decoder reads the same caps (ss_decoder_config.limits) and checks them while it reads,
 * before it buffers or builds what a cap forbids: a line longer than max_line_bytes is discarded
 * as it is read, a JSON object with too many keys is refused before it is parsed, an Avro array
 * with too many items is refused before avro-c allocates them. A record over a cap is rejected
 * with reason too_large and a detail naming the cap, its value and the record's size or count;
 * the input goes on with the next record. Peak memory per input is then bounded by the caps
 * (a few times max_line_bytes or max_alert_bytes), not by the input.
 *
 * A field left 0 takes its default (ss_alert_limits_effective()), so a zeroed configuration keeps
 * the defaults; the operator's values are checked (nonzero, in range) where they are parsed, by
 * ss_alert_limits_set().
 */
#ifndef SS_ALERT_LIMITS_H
#define SS_ALERT_LIMITS_H

#include "alert.h"
#include "err.h"

#include <stdint.h>

/** Defaults: far above real alerts (a ZTF alert with three cutouts is 60-140 KB, a Rubin one up
 * to 230 KB; the largest real history seen is 80 entries and the widest alert 113 fields). */
#define SS_LIMIT_LINE_BYTES  ((uint64_t)16 << 20)
#define SS_LIMIT_VALUE_BYTES ((uint64_t)16 << 20)
#define SS_LIMIT_PROPS       10000u
#define SS_LIMIT_HISTORY     10000u
#define SS_LIMIT_ALERT_BYTES ((uint64_t)32 << 20)

typedef struct ss_alert_limits {
    /** max_line_bytes: one line, or one row over several lines, of a text format (CSV, JSON
     * lines). */
    uint64_t line_bytes;
    /** max_value_bytes: one property value (a string or bytes), image stamps included. */
    uint64_t value_bytes;
    /** max_props: properties of one alert (CSV columns, JSON keys and array items, the locus's
     * survey properties), and items of an Avro array of non-records or map of one alert. */
    uint64_t props;
    /** max_history: history entries of one alert (ZTF prv_candidates and fp_hists, Rubin
     * prvDiaSources, prvDiaForcedSources and limits, together). */
    uint64_t history;
    /** max_alert_bytes: one encoded Avro record (a whole alert with its history and stamps). */
    uint64_t alert_bytes;
} ss_alert_limits;

/** @p l (may be NULL) with every 0 field replaced by its default. */
ss_alert_limits ss_alert_limits_effective(const ss_alert_limits *l);

/**
 * Set the cap named @p key ("max_line_bytes", "max_value_bytes", "max_props", "max_history",
 * "max_alert_bytes") from @p value: sizes take a binary suffix (64K, 16M, 1G), counts are whole
 * numbers. 0, and values out of the cap's range, are refused.
 * @return 0; 1 when @p key names no cap (nothing is set); SS_EINVAL with @p err naming the key,
 *         the value and the range.
 */
int ss_alert_limits_set(ss_alert_limits *l, const char *key, const char *value, ss_err *err);

/** The caps' keys, NULL-terminated, in the order above. */
extern const char *const ss_alert_limits_keys[];

/**
 * Reject for cap @p key: "WHAT: ACTUAL UNIT over KEY = LIMIT". @p actual may be a lower bound
 * (reading stopped at the cap), said with "at least" when @p at_least is 1. @return SS_EREJECT.
 */
int ss_alert_limits_reject(ss_reject *rej, const char *what, uint64_t actual, int at_least,
                           const char *key, uint64_t limit);

/**
 * Check a decoded packet against the caps that concern what it holds: history entries, each
 * alert's properties, the locus's properties, string values and stamps.
 * @return 0, or SS_EREJECT with @p rej saying which cap.
 */
int ss_packet_check_limits(const ss_packet *p, const ss_alert_limits *l, ss_reject *rej);

#endif
