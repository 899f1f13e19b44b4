/**
 * @file tuple.h
 * @brief Tuple alerts: one measurement a row, in named columns (the csv and jsonl decoders).
 *
 * The one description both tuple formats read by: the columns they know, the ones a header must
 * name, how a name is matched, and how a row's values become an alert. Each decoder only splits
 * its rows into ss_tuple_value's; what the values mean, and every message about them, is here, so
 * that a row reads the same as CSV and as JSON.
 */
#ifndef SS_TUPLE_H
#define SS_TUPLE_H

#include "alert.h"
#include "err.h"

#include <stddef.h>
#include <stdint.h>

/** The known columns. Others become typed properties of the alert. */
typedef enum ss_tuple_col {
    SS_TUPLE_RA,
    SS_TUPLE_DEC,
    SS_TUPLE_MJD,
    SS_TUPLE_PASSBAND,
    SS_TUPLE_MAG,
    SS_TUPLE_MAGERR,
    /** Columns before this one must be named by a header (ss_tuple_check_header()); a keyed row
     * (JSON) may leave mag and magerr out when it has maglim. */
    SS_TUPLE_NREQUIRED,
    SS_TUPLE_ALERT_ID = SS_TUPLE_NREQUIRED,
    SS_TUPLE_OBJECT_ID,
    SS_TUPLE_MAGLIM,
    SS_TUPLE_SURVEY,
    SS_TUPLE_NCOLS
} ss_tuple_col;

/** The column's name as formats spell it ("ra", "alert_id", ...). */
const char *ss_tuple_name(ss_tuple_col c);

/**
 * Which known column @p name (@p len bytes, need not be NUL-terminated) is: matched without
 * regard to case, after trimming spaces and tabs.
 * @return the ss_tuple_col, or -1 for a property's name.
 */
int ss_tuple_column(const char *name, size_t len);

/**
 * Check that a header names every required column.
 * @param named bit (1u << c) set for each column c the header names.
 * @param origin the input's name, for the message.
 * @return 0; or SS_EPARSE with @p err listing the missing columns.
 */
int ss_tuple_check_header(unsigned named, const char *origin, ss_err *err);

/** What a row holds for a column. */
typedef enum ss_tuple_type {
    SS_TUPLE_ABSENT = 0, /**< no such column or key */
    SS_TUPLE_NULL,       /**< an explicit null (JSON) */
    SS_TUPLE_TEXT,       /**< text, to be read as the column needs (may be empty) */
    SS_TUPLE_INT,        /**< an integer of a typed format (JSON) */
    SS_TUPLE_REAL,       /**< a real of a typed format (JSON) */
    SS_TUPLE_OTHER,      /**< another type, never valid for a known column */
} ss_tuple_type;

/** One value of a row. Strings are borrowed from the decoder for the ss_tuple_fill() call. */
typedef struct ss_tuple_value {
    ss_tuple_type type;
    /** TEXT: @p len bytes, followed (within its buffer) by a NUL or a byte no number goes on
     * with, since numbers are read with strtod: true of a trimmed field of a NUL-terminated
     * string. OTHER: the type's name for messages, e.g. "an object". */
    const char *text;
    size_t len;
    int64_t i;   /**< INT */
    double real; /**< REAL */
} ss_tuple_value;

/** @return a TEXT value of @p s trimmed of spaces and tabs at both ends (see ss_tuple_value). */
ss_tuple_value ss_tuple_text(const char *s, size_t len);

/** A row: its known columns' values, and what it takes from its input. Borrowed by the fill. */
typedef struct ss_tuple_row {
    ss_tuple_value col[SS_TUPLE_NCOLS];
    const char *origin;         /**< the input's name, copied into the alert */
    const char *default_survey; /**< the survey of a row that names none */
    uint64_t line;              /**< where the row starts, 1-based */
} ss_tuple_row;

/**
 * Fill @p a, an alert of @p pkt, from @p row. Numbers are JSON numbers or text strtod reads
 * whole; passband and survey are text; alert id and object id are text or an integer.
 * A row with mag is a detection and needs magerr; without mag, maglim makes it an upper limit.
 * Without alert id, the id is derived from the content (ss_alert_derive_id()). Ranges and
 * finiteness are left to ss_alert_validate().
 * Strings are copied into @p pkt's arena; @p row is only read.
 * @return 0; SS_EREJECT with @p rej naming the column and the reason; or SS_ENOMEM.
 */
int ss_tuple_fill(const ss_tuple_row *row, ss_packet *pkt, ss_alert *a, ss_reject *rej);

#endif
