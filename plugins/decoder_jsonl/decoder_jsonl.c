/*
 * Tuple alerts as JSON lines: one object per line with the keys of the CSV tuple format (ra, dec,
 * mjd, passband, mag, magerr; optionally alert_id, object_id, maglim, survey). Other keys become
 * typed properties. Each line becomes one packet of one alert.
 */
#include "decoder.h"
#include "fileio.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
    COL_RA,
    COL_DEC,
    COL_MJD,
    COL_PASSBAND,
    COL_MAG,
    COL_MAGERR,
    COL_ALERT_ID,
    COL_OBJECT_ID,
    COL_MAGLIM,
    COL_SURVEY,
    COL_NKNOWN
};

static const char *const col_names[COL_NKNOWN] = {
    "ra", "dec", "mjd", "passband", "mag", "magerr", "alert_id", "object_id", "maglim", "survey",
};

#define BOM "\xEF\xBB\xBF"

/* Results of reading an optional value: absent (or null, or blank) and present. */
enum { VAL_EMPTY = 0, VAL_OK = 1 };

typedef struct text {
    const char *p;
    size_t n;
} text;

typedef struct jsonl_state {
    char *name;
    const char *default_survey;
    ss_file_lines lines; /* lines.lineno: the line last read */
    text cur;            /* the current line without newline: the raw text of a reject */
} jsonl_state;

static const char *const jsonl_exts[] = {".jsonl", ".ndjson", ".json", NULL};

static int is_blank(text t)
{
    return strspn(t.p, " \t\r\n") >= t.n;
}

/* Read the next non-blank line into st->cur, without CR LF and, on line 1, without a BOM.
 * @return 1, 0 at the end of input, or an error code. */
static int read_line(jsonl_state *st, ss_err *err)
{
    int rc;
    while ((rc = ss_file_lines_next(&st->lines, &st->cur.p, &st->cur.n, err)) == 1)
        if (!is_blank(st->cur))
            return 1;
    return rc;
}

static const char *kind_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real";
    case JSON_TRUE: return "true";
    case JSON_FALSE: return "false";
    case JSON_NULL: return "null";
    }
    return "unknown";
}

static const char *emptiness(const json_t *v)
{
    return !v ? "missing" : json_is_null(v) ? "null" : "empty";
}

static text trim(const char *s, size_t n)
{
    while (n && (s[0] == ' ' || s[0] == '\t')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    return (text){s, n};
}

static int known_key(const char *key)
{
    text t = trim(key, strlen(key));
    for (int k = 0; k < COL_NKNOWN; k++)
        if (strlen(col_names[k]) == t.n && strncasecmp(t.p, col_names[k], t.n) == 0)
            return k;
    return -1;
}

static int not_a_number(ss_reject *rej, int k, text t)
{
    int shown = t.n > 40 ? 40 : (int)t.n;
    return ss_reject_set(rej, SS_REASON_UNPARSABLE_FIELD, "%s: '%.*s%s' is not a number",
                         col_names[k], shown, t.p, t.n > 40 ? "..." : "");
}

/* A number, or a string holding one (trimmed; strtod must use all of it). Non-finite values pass:
 * ss_alert_validate rejects them with its own reason.
 * @return VAL_OK with *out set, VAL_EMPTY, or SS_EREJECT. */
static int get_number(const json_t *v, int k, double *out, ss_reject *rej)
{
    if (!v || json_is_null(v))
        return VAL_EMPTY;
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return VAL_OK;
    }
    if (!json_is_string(v))
        return ss_reject_set(rej, SS_REASON_UNPARSABLE_FIELD, "%s: %s is not a number",
                             col_names[k], kind_name(v));
    text t = trim(json_string_value(v), json_string_length(v));
    if (!t.n)
        return VAL_EMPTY;
    /* Leading space that trimming kept (a newline) would be skipped by strtod silently. */
    char *end = NULL;
    double d = isspace((unsigned char)t.p[0]) ? 0 : strtod(t.p, &end);
    if (end != t.p + t.n)
        return not_a_number(rej, k, t);
    *out = d;
    return VAL_OK;
}

static int need_number(const json_t *v, int k, double *out, ss_reject *rej)
{
    int rc = get_number(v, k, out, rej);
    if (rc == VAL_EMPTY)
        return ss_reject_set(rej, SS_REASON_MISSING_FIELD, "%s is %s", col_names[k], emptiness(v));
    return rc == VAL_OK ? 0 : rc;
}

/* A string (trimmed), or with @p allow_int an integer formatted into @p ibuf (24 bytes).
 * @return VAL_OK with *out set, VAL_EMPTY, or SS_EREJECT for another JSON type. */
static int get_text(const json_t *v, int k, int allow_int, char *ibuf, text *out, ss_reject *rej)
{
    if (!v || json_is_null(v))
        return VAL_EMPTY;
    if (json_is_string(v)) {
        *out = trim(json_string_value(v), json_string_length(v));
        return out->n ? VAL_OK : VAL_EMPTY;
    }
    if (allow_int && json_is_integer(v)) {
        int n = snprintf(ibuf, 24, "%lld", (long long)json_integer_value(v));
        *out = (text){ibuf, (size_t)n};
        return VAL_OK;
    }
    return ss_reject_set(rej, SS_REASON_UNPARSABLE_FIELD, "%s: expected a string%s, got %s",
                         col_names[k], allow_int ? " or an integer" : "", kind_name(v));
}

static int add_string_prop(ss_packet *pkt, ss_alert *a, const char *key, const char *s, size_t n,
                           ss_reject *rej)
{
    if (n > UINT32_MAX)
        return ss_reject_set(rej, SS_REASON_TOO_LONG, "%.64s: value longer than 4 GiB", key);
    ss_value v = {.type = SS_TYPE_STRING, .u.s = {s, (uint32_t)n}};
    return ss_alert_add_prop(pkt, a, key, strlen(key), v);
}

/* Objects and arrays are kept as their compact JSON text, keys sorted so equal values compare
 * equal. */
static int add_prop(ss_packet *pkt, ss_alert *a, const char *key, const json_t *v, ss_reject *rej)
{
    ss_value val = {.type = SS_TYPE_NULL};
    char *dump;
    int rc;
    switch (json_typeof(v)) {
    case JSON_INTEGER: val = (ss_value){.type = SS_TYPE_INT, .u.i = json_integer_value(v)}; break;
    case JSON_REAL: val = (ss_value){.type = SS_TYPE_FLOAT, .u.f = json_real_value(v)}; break;
    case JSON_TRUE: val = (ss_value){.type = SS_TYPE_BOOL, .u.b = 1}; break;
    case JSON_FALSE: val = (ss_value){.type = SS_TYPE_BOOL, .u.b = 0}; break;
    case JSON_NULL: break;
    case JSON_STRING:
        return add_string_prop(pkt, a, key, json_string_value(v), json_string_length(v), rej);
    case JSON_OBJECT:
    case JSON_ARRAY:
        if (!(dump = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS)))
            return SS_ENOMEM;
        rc = add_string_prop(pkt, a, key, dump, strlen(dump), rej);
        free(dump);
        return rc;
    }
    return ss_alert_add_prop(pkt, a, key, strlen(key), val);
}

/* Sort the object's keys into tuple fields and properties (kept in the input's order). */
static int split_keys(json_t *obj, const json_t **known, ss_packet *pkt, ss_alert *a,
                      ss_reject *rej)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        int k = known_key(key);
        int rc = 0;
        if (k < 0)
            rc = add_prop(pkt, a, key, v, rej);
        else if (known[k])
            rc = ss_reject_set(rej, SS_REASON_MALFORMED, "key %s appears twice", col_names[k]);
        else
            known[k] = v;
        if (rc)
            return rc;
    }
    return 0;
}

static int fill_position(const json_t **known, ss_packet *pkt, ss_alert *a, ss_reject *rej)
{
    int rc;
    if ((rc = need_number(known[COL_RA], COL_RA, &a->ra, rej)) ||
        (rc = need_number(known[COL_DEC], COL_DEC, &a->dec, rej)) ||
        (rc = need_number(known[COL_MJD], COL_MJD, &a->mjd, rej)))
        return rc;
    text pb;
    rc = get_text(known[COL_PASSBAND], COL_PASSBAND, 0, NULL, &pb, rej);
    if (rc == VAL_EMPTY)
        return ss_reject_set(rej, SS_REASON_MISSING_FIELD, "passband is %s",
                             emptiness(known[COL_PASSBAND]));
    if (rc != VAL_OK)
        return rc;
    return (a->passband = ss_packet_strdup(pkt, pb.p, pb.n)) ? 0 : SS_ENOMEM;
}

/* With mag it is a detection (and then needs magerr); without, maglim makes it an upper limit. */
static int fill_brightness(const json_t **known, ss_alert *a, ss_reject *rej)
{
    double mag = NAN;
    int has_mag = get_number(known[COL_MAG], COL_MAG, &mag, rej);
    if (has_mag < 0)
        return has_mag;
    int has_lim = get_number(known[COL_MAGLIM], COL_MAGLIM, &a->maglim, rej);
    if (has_lim < 0)
        return has_lim;
    if (has_mag) {
        a->kind = SS_ALERT_DETECTION;
        a->mag = mag;
        return need_number(known[COL_MAGERR], COL_MAGERR, &a->magerr, rej);
    }
    if (!has_lim)
        return ss_reject_set(rej, SS_REASON_NO_BRIGHTNESS, "neither mag nor maglim is given");
    a->kind = SS_ALERT_UPPER_LIMIT;
    return 0;
}

static int fill_strings(const jsonl_state *st, const json_t **known, ss_packet *pkt, ss_alert *a,
                        ss_reject *rej)
{
    char ibuf[24];
    text sv, obj;
    int rc = get_text(known[COL_SURVEY], COL_SURVEY, 0, NULL, &sv, rej);
    if (rc < 0)
        return rc;
    if (rc == VAL_EMPTY)
        sv = (text){st->default_survey, strlen(st->default_survey)};
    if (!(a->survey = ss_packet_strdup(pkt, sv.p, sv.n)) ||
        !(a->origin = ss_packet_strdup(pkt, st->name, strlen(st->name))))
        return SS_ENOMEM;
    a->line = st->lines.lineno;
    rc = get_text(known[COL_OBJECT_ID], COL_OBJECT_ID, 1, ibuf, &obj, rej);
    if (rc < 0)
        return rc;
    if (rc == VAL_OK && !(a->object_id = ss_packet_strdup(pkt, obj.p, obj.n)))
        return SS_ENOMEM;
    return 0;
}

static int fill_alert_id(const json_t **known, ss_packet *pkt, ss_alert *a, ss_reject *rej)
{
    char ibuf[24];
    text id;
    int rc = get_text(known[COL_ALERT_ID], COL_ALERT_ID, 1, ibuf, &id, rej);
    if (rc < 0)
        return rc;
    if (rc == VAL_EMPTY)
        return ss_alert_derive_id(pkt, a);
    return (a->alert_id = ss_packet_strdup(pkt, id.p, id.n)) ? 0 : SS_ENOMEM;
}

static int fill_alert(const jsonl_state *st, json_t *obj, ss_packet *pkt, ss_reject *rej)
{
    const json_t *known[COL_NKNOWN] = {0};
    ss_alert *a = ss_packet_add(pkt);
    if (!a)
        return SS_ENOMEM;
    int rc;
    if ((rc = split_keys(obj, known, pkt, a, rej)) || (rc = fill_position(known, pkt, a, rej)) ||
        (rc = fill_brightness(known, a, rej)) || (rc = fill_strings(st, known, pkt, a, rej)) ||
        (rc = fill_alert_id(known, pkt, a, rej)))
        return rc;
    return 1;
}

/* @return 1 when the line became an alert, SS_EREJECT or an error code. */
static int decode_line(const jsonl_state *st, ss_packet *pkt, ss_reject *rej)
{
    json_error_t jerr;
    json_t *root = json_loadb(st->cur.p, st->cur.n, 0, &jerr);
    if (!root) {
        if (json_error_code(&jerr) == json_error_out_of_memory)
            return SS_ENOMEM;
        return ss_reject_set(rej, SS_REASON_MALFORMED, "invalid JSON at column %d: %s", jerr.column,
                             jerr.text);
    }
    int rc = json_is_object(root) ? fill_alert(st, root, pkt, rej)
                                  : ss_reject_set(rej, SS_REASON_MALFORMED,
                                                  "line is %s, not a JSON object", kind_name(root));
    json_decref(root);
    return rc;
}

static int jsonl_next(void *state, ss_packet *pkt, ss_reject *rej, ss_err *err)
{
    jsonl_state *st = state;
    int rc = read_line(st, err);
    if (rc == 1)
        rc = decode_line(st, pkt, rej);
    if (rc == 1) { /* kept with the packet, so a later validation reject shows the line too */
        pkt->raw = st->cur.p;
        pkt->raw_len = st->cur.n;
    } else if (rc == SS_EREJECT) {
        rej->origin = st->name;
        rej->line = st->lines.lineno;
        rej->raw = st->cur.p;
        rej->raw_len = st->cur.n;
    } else if (rc == SS_ENOMEM || rc == SS_EINVAL) {
        return ss_err_set(err, rc, "%s: line %" PRIu64 ": %s", st->name, st->lines.lineno,
                          ss_strerror(rc));
    }
    return rc;
}

static void jsonl_close(void *state)
{
    jsonl_state *st = state;
    if (!st)
        return;
    free(st->name);
    ss_file_lines_free(&st->lines);
    free(st);
}

static int jsonl_open(FILE *fp, const char *name, const ss_decoder_config *cfg, void *shared,
                      void **state, ss_err *err)
{
    (void)shared; /* nothing to share between inputs */
    *state = NULL;
    if (!name)
        name = "<input>";
    jsonl_state *st = calloc(1, sizeof *st);
    if (!st || !(st->name = strdup(name))) {
        free(st);
        return ss_err_set(err, SS_ENOMEM, "%s: out of memory", name);
    }
    st->lines.fp = fp;
    st->lines.name = st->name;
    st->default_survey = cfg && cfg->default_survey ? cfg->default_survey : "tuple";
    *state = st;
    return 0;
}

static int jsonl_probe(const char *name, const unsigned char *head, size_t len)
{
    int by_name = ss_decoder_has_extension(name, jsonl_exts) ? 50 : 0;
    if (!head || !len)
        return by_name;
    size_t i = len >= 3 && memcmp(head, BOM, 3) == 0 ? 3 : 0;
    while (i < len && isspace(head[i]))
        i++;
    return i < len && head[i] == '{' ? 80 : by_name;
}

const ss_decoder_ops ssp_decoder_jsonl = {
    .abi = SS_DECODER_ABI,
    .name = "jsonl",
    .extensions = jsonl_exts,
    .probe = jsonl_probe,
    .open = jsonl_open,
    .next = jsonl_next,
    .close = jsonl_close,
};
