/*
 * Tuple alerts as JSON lines: one object per line with the keys of the CSV tuple format (ra, dec,
 * mjd, passband, mag, magerr; optionally alert_id, object_id, maglim, survey: core/tuple.h). Other
 * keys become typed properties. Each line becomes one packet of one alert.
 */
#include "decoder.h"
#include "fileio.h"
#include "tuple.h"

#include <ctype.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BOM "\xEF\xBB\xBF"

typedef struct text {
    const char *p;
    size_t n;
} text;

typedef struct jsonl_state {
    char *name;
    const char *default_survey;
    ss_file_lines lines; /* lines.lineno: the line last read; lines.max: max_line_bytes */
    text cur;            /* the current line without newline: the raw text of a reject */
    ss_alert_limits limits;
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

/* A tuple column's value: text and numbers as they are, other types named for the messages. */
static ss_tuple_value value_of(const json_t *v)
{
    if (!v)
        return (ss_tuple_value){.type = SS_TUPLE_ABSENT};
    switch (json_typeof(v)) {
    case JSON_NULL: return (ss_tuple_value){.type = SS_TUPLE_NULL};
    case JSON_STRING: return ss_tuple_text(json_string_value(v), json_string_length(v));
    case JSON_INTEGER: return (ss_tuple_value){.type = SS_TUPLE_INT, .i = json_integer_value(v)};
    case JSON_REAL: return (ss_tuple_value){.type = SS_TUPLE_REAL, .real = json_real_value(v)};
    default: return (ss_tuple_value){.type = SS_TUPLE_OTHER, .text = kind_name(v)};
    }
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
        int k = ss_tuple_column(key, strlen(key));
        int rc = 0;
        if (k < 0)
            rc = add_prop(pkt, a, key, v, rej);
        else if (known[k])
            rc = ss_reject_set(rej, SS_REASON_MALFORMED, "key %s appears twice", ss_tuple_name(k));
        else
            known[k] = v;
        if (rc)
            return rc;
    }
    return 0;
}

static int fill_alert(const jsonl_state *st, json_t *obj, ss_packet *pkt, ss_reject *rej)
{
    const json_t *known[SS_TUPLE_NCOLS] = {0};
    ss_alert *a = ss_packet_add(pkt);
    if (!a)
        return SS_ENOMEM;
    int rc = split_keys(obj, known, pkt, a, rej);
    if (rc)
        return rc;
    ss_tuple_row row = {
        .origin = st->name, .default_survey = st->default_survey, .line = st->lines.lineno};
    for (int k = 0; k < SS_TUPLE_NCOLS; k++)
        row.col[k] = value_of(known[k]);
    if ((rc = ss_tuple_fill(&row, pkt, a, rej)) ||
        (rc = ss_packet_check_limits(pkt, &st->limits, rej)))
        return rc;
    return 1;
}

/* What jansson would build from the line, counted before it builds it: a 1M-key object takes
 * ~200 MB as a tree, and a string past max_value_bytes would be copied whole. Keys (a colon
 * outside strings) and array items (a comma inside an array) are counted together against
 * max_props; arrays are told from objects by a bit per nesting level, as deep as jansson goes. A
 * malformed line passes here and jansson refuses it by name. @return 0 or SS_EREJECT. */
#define SCAN_DEPTH 4096
static int prescan(const jsonl_state *st, ss_reject *rej)
{
    uint64_t items = 0, slen = 0, arrays[SCAN_DEPTH / 64] = {0};
    size_t depth = 0;
    int in_str = 0;
    for (size_t i = 0; i < st->cur.n; i++) {
        char c = st->cur.p[i];
        int item = 0;
        if (in_str) {
            i += c == '\\'; /* an escape takes the next byte with it */
            in_str = c != '"';
            if (++slen > st->limits.value_bytes)
                return ss_alert_limits_reject(rej, "a string is too long (bytes)", slen, 1,
                                              "max_value_bytes", st->limits.value_bytes);
        } else if (c == '"') {
            in_str = 1, slen = 0;
        } else if ((c == '[' || c == '{') && ++depth < SCAN_DEPTH) {
            arrays[depth / 64] = (arrays[depth / 64] & ~(1ull << depth % 64)) | (uint64_t)(c == '[')
                                                                                    << depth % 64;
        } else if ((c == ']' || c == '}') && depth) {
            depth--;
        } else {
            item = c == ':' ||
                   (c == ',' && depth < SCAN_DEPTH && (arrays[depth / 64] >> depth % 64 & 1));
        }
        if (item && ++items > st->limits.props)
            return ss_alert_limits_reject(rej, "too many keys and array items", items, 1,
                                          "max_props", st->limits.props);
    }
    return 0;
}

/* @return 1 when the line became an alert, SS_EREJECT or an error code. */
static int decode_line(const jsonl_state *st, ss_packet *pkt, ss_reject *rej)
{
    if (st->lines.over)
        return ss_alert_limits_reject(rej, "line is too long (bytes)", st->lines.over, 0,
                                      "max_line_bytes", st->limits.line_bytes);
    if (prescan(st, rej))
        return SS_EREJECT;
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
    st->limits = ss_alert_limits_effective(cfg ? &cfg->limits : NULL);
    st->lines.max = (size_t)st->limits.line_bytes;
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
