#include "tuple.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const names[SS_TUPLE_NCOLS] = {
    "ra", "dec", "mjd", "passband", "mag", "magerr", "alert_id", "object_id", "maglim", "survey",
};

/* Results of reading an optional value besides SS_EREJECT: absent (or null, or blank), present. */
enum { VAL_EMPTY = 0, VAL_OK = 1 };

const char *ss_tuple_name(ss_tuple_col c)
{
    return (unsigned)c < SS_TUPLE_NCOLS ? names[c] : "?";
}

ss_tuple_value ss_tuple_text(const char *s, size_t len)
{
    while (len && (s[0] == ' ' || s[0] == '\t')) {
        s++;
        len--;
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    return (ss_tuple_value){.type = SS_TUPLE_TEXT, .text = s, .len = len};
}

int ss_tuple_column(const char *name, size_t len)
{
    ss_tuple_value t = ss_tuple_text(name, len);
    for (int k = 0; k < SS_TUPLE_NCOLS; k++)
        if (strlen(names[k]) == t.len && strncasecmp(t.text, names[k], t.len) == 0)
            return k;
    return -1;
}

int ss_tuple_check_header(unsigned named, const char *origin, ss_err *err)
{
    char list[96] = "";
    size_t used = 0;
    for (int k = 0; k < SS_TUPLE_NREQUIRED; k++)
        if (!(named & 1u << k))
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "",
                                     names[k]);
    if (used)
        return ss_err_set(err, SS_EPARSE, "%s: missing required column(s) %s", origin, list);
    return 0;
}

/* The type's name, for a value a text column cannot take (an INT, a REAL or an OTHER). */
static const char *kind_of(const ss_tuple_value *v)
{
    return v->type == SS_TUPLE_INT ? "an integer" : v->type == SS_TUPLE_REAL ? "a real" : v->text;
}

/* Why a required value is not there. */
static const char *emptiness(const ss_tuple_value *v)
{
    return v->type == SS_TUPLE_ABSENT ? "missing" : v->type == SS_TUPLE_NULL ? "null" : "empty";
}

static int not_a_number(ss_reject *rej, int k, const ss_tuple_value *v)
{
    int shown = v->len > 40 ? 40 : (int)v->len;
    return ss_reject_set(rej, SS_REASON_UNPARSABLE_FIELD, "%s: '%.*s%s' is not a number", names[k],
                         shown, v->text, v->len > 40 ? "..." : "");
}

/* Text strtod must read whole. Leading space that trimming kept (a newline) would be skipped by
 * strtod silently: refused. Non-finite values pass, ss_alert_validate rejects them by name. */
static int text_number(const ss_tuple_value *v, double *out)
{
    if (isspace((unsigned char)v->text[0]))
        return 0;
    char *end;
    double d = strtod(v->text, &end);
    if (end != v->text + v->len)
        return 0;
    *out = d;
    return 1;
}

/* @return VAL_OK with *out set, VAL_EMPTY, or SS_EREJECT. */
static int get_number(const ss_tuple_row *row, int k, double *out, ss_reject *rej)
{
    const ss_tuple_value *v = &row->col[k];
    switch (v->type) {
    case SS_TUPLE_INT: *out = (double)v->i; return VAL_OK;
    case SS_TUPLE_REAL: *out = v->real; return VAL_OK;
    case SS_TUPLE_TEXT:
        if (!v->len)
            return VAL_EMPTY;
        return text_number(v, out) ? VAL_OK : not_a_number(rej, k, v);
    case SS_TUPLE_OTHER:
        return ss_reject_set(rej, SS_REASON_UNPARSABLE_FIELD, "%s: %s is not a number", names[k],
                             v->text);
    default: return VAL_EMPTY;
    }
}

static int need_number(const ss_tuple_row *row, int k, double *out, ss_reject *rej)
{
    int rc = get_number(row, k, out, rej);
    if (rc == VAL_EMPTY)
        return ss_reject_set(rej, SS_REASON_MISSING_FIELD, "%s is %s", names[k],
                             emptiness(&row->col[k]));
    return rc == VAL_OK ? 0 : rc;
}

/* Ids go whole to ss_packet_id_dup(), which the validator judges (id_invalid for a NUL); other
 * text columns become C strings here, so a NUL that would cut one short is refused now. */
static int is_id(int k)
{
    return k == SS_TUPLE_ALERT_ID || k == SS_TUPLE_OBJECT_ID;
}

/* Text, or with @p allow_int an integer formatted into @p ibuf (24 bytes).
 * @return VAL_OK with *p, *n set, VAL_EMPTY, or SS_EREJECT for another type. */
static int get_text(const ss_tuple_row *row, int k, int allow_int, char *ibuf, const char **p,
                    size_t *n, ss_reject *rej)
{
    const ss_tuple_value *v = &row->col[k];
    if (v->type == SS_TUPLE_ABSENT || v->type == SS_TUPLE_NULL)
        return VAL_EMPTY;
    if (v->type == SS_TUPLE_TEXT && !is_id(k) && memchr(v->text, '\0', v->len))
        return ss_reject_set(rej, SS_REASON_UNPARSABLE_FIELD, "%s contains a NUL byte", names[k]);
    if (v->type == SS_TUPLE_TEXT) {
        *p = v->text;
        *n = v->len;
        return v->len ? VAL_OK : VAL_EMPTY;
    }
    if (allow_int && v->type == SS_TUPLE_INT) {
        *n = (size_t)snprintf(ibuf, 24, "%" PRId64, v->i);
        *p = ibuf;
        return VAL_OK;
    }
    return ss_reject_set(rej, SS_REASON_UNPARSABLE_FIELD, "%s: expected a string%s, got %s",
                         names[k], allow_int ? " or an integer" : "", kind_of(v));
}

/* Copy text column @p k (or with @p allow_int an integer) into @p pkt.
 * @return VAL_OK with *dst set, VAL_EMPTY, SS_EREJECT or SS_ENOMEM. */
static int copy_text(const ss_tuple_row *row, int k, int allow_int, ss_packet *pkt,
                     const char **dst, ss_reject *rej)
{
    char ibuf[24];
    const char *s = NULL;
    size_t n = 0;
    int rc = get_text(row, k, allow_int, ibuf, &s, &n, rej);
    if (rc != VAL_OK)
        return rc;
    *dst = is_id(k) ? ss_packet_id_dup(pkt, s, n) : ss_packet_strdup(pkt, s, n);
    return *dst ? VAL_OK : SS_ENOMEM;
}

static int fill_position(const ss_tuple_row *row, ss_packet *pkt, ss_alert *a, ss_reject *rej)
{
    int rc;
    if ((rc = need_number(row, SS_TUPLE_RA, &a->ra, rej)) ||
        (rc = need_number(row, SS_TUPLE_DEC, &a->dec, rej)) ||
        (rc = need_number(row, SS_TUPLE_MJD, &a->mjd, rej)))
        return rc;
    rc = copy_text(row, SS_TUPLE_PASSBAND, 0, pkt, &a->passband, rej);
    if (rc == VAL_EMPTY)
        return ss_reject_set(rej, SS_REASON_MISSING_FIELD, "passband is %s",
                             emptiness(&row->col[SS_TUPLE_PASSBAND]));
    return rc < 0 ? rc : 0;
}

static int fill_brightness(const ss_tuple_row *row, ss_alert *a, ss_reject *rej)
{
    double mag = NAN;
    int has_mag = get_number(row, SS_TUPLE_MAG, &mag, rej);
    if (has_mag < 0)
        return has_mag;
    int has_lim = get_number(row, SS_TUPLE_MAGLIM, &a->maglim, rej);
    if (has_lim < 0)
        return has_lim;
    if (has_mag) {
        a->kind = SS_ALERT_DETECTION;
        a->mag = mag;
        return need_number(row, SS_TUPLE_MAGERR, &a->magerr, rej);
    }
    if (!has_lim)
        return ss_reject_set(rej, SS_REASON_NO_BRIGHTNESS, "neither mag nor maglim is given");
    a->kind = SS_ALERT_UPPER_LIMIT;
    return 0;
}

static int fill_strings(const ss_tuple_row *row, ss_packet *pkt, ss_alert *a, ss_reject *rej)
{
    int rc = copy_text(row, SS_TUPLE_SURVEY, 0, pkt, &a->survey, rej);
    if (rc < 0)
        return rc;
    if (rc == VAL_EMPTY &&
        !(a->survey = ss_packet_strdup(pkt, row->default_survey, strlen(row->default_survey))))
        return SS_ENOMEM;
    if (!(a->origin = ss_packet_strdup(pkt, row->origin, strlen(row->origin))))
        return SS_ENOMEM;
    a->line = row->line;
    rc = copy_text(row, SS_TUPLE_OBJECT_ID, 1, pkt, &a->object_id, rej);
    return rc < 0 ? rc : 0;
}

static int fill_alert_id(const ss_tuple_row *row, ss_packet *pkt, ss_alert *a, ss_reject *rej)
{
    int rc = copy_text(row, SS_TUPLE_ALERT_ID, 1, pkt, &a->alert_id, rej);
    if (rc == VAL_EMPTY)
        return ss_alert_derive_id(pkt, a);
    return rc < 0 ? rc : 0;
}

int ss_tuple_fill(const ss_tuple_row *row, ss_packet *pkt, ss_alert *a, ss_reject *rej)
{
    int rc;
    if ((rc = fill_position(row, pkt, a, rej)) || (rc = fill_brightness(row, a, rej)) ||
        (rc = fill_strings(row, pkt, a, rej)) || (rc = fill_alert_id(row, pkt, a, rej)))
        return rc;
    return 0;
}
