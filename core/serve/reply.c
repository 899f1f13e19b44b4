/* Answers: JSON, CSV, bytes and errors, each with its status and content type. */
#include "serve_impl.h"

#include "json_text.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void ssi_set(ssi_req *r, unsigned status, const char *ctype, char *body, size_t len)
{
    free(r->body);
    r->status = status;
    r->ctype = ctype;
    r->body = body;
    r->len = body ? len : 0;
    if (!body && status < 500) { /* out of memory building the answer */
        r->status = MHD_HTTP_SERVICE_UNAVAILABLE;
        r->ctype = "application/json";
    }
}

void ssi_reply_json(ssi_req *r, unsigned status, json_t *o)
{
    char *text = o ? json_dumps(o, SS_JSON_FLAGS) : NULL;
    json_decref(o);
    ssi_set(r, status, "application/json", text, text ? strlen(text) : 0);
}

void ssi_reply_error(ssi_req *r, unsigned status, const char *fmt, ...)
{
    char detail[SS_ERR_MSG_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    const char *phrase = MHD_get_reason_phrase_for(status);
    ssi_reply_json(r, status,
                   json_pack("{s:s, s:o}", "error", phrase && *phrase ? phrase : "Error", "detail",
                             ss_json_text(detail)));
}

void ssi_reply_code(ssi_req *r, int code, const ss_err *err)
{
    const char *detail = err && err->msg[0] ? err->msg : ss_strerror(code);
    switch (code) {
    case SS_ENOTFOUND: ssi_reply_error(r, MHD_HTTP_NOT_FOUND, "%s", detail); break;
    case SS_EINVAL:
    case SS_ELIMIT: ssi_reply_error(r, MHD_HTTP_BAD_REQUEST, "%s", detail); break;
    case SS_EAMBIGUOUS: ssi_reply_error(r, MHD_HTTP_CONFLICT, "%s", detail); break;
    default: ssi_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "store unavailable: %s", detail);
    }
}

void ssi_reply_owned(ssi_req *r, unsigned status, const char *ctype, char *body, size_t len)
{
    ssi_set(r, status, ctype, body, len);
}

void ssi_reply_bytes(ssi_req *r, unsigned status, const char *ctype, const void *data, size_t len)
{
    char *copy = malloc(len ? len : 1);
    if (copy)
        memcpy(copy, data, len);
    ssi_set(r, status, ctype, copy, len);
}

/* ---- CSV (RFC 4180) ---- */

void ssi_csv_put(ss_wbuf *b, const char *s)
{
    if (!s[strcspn(s, ",\"\r\n")]) {
        ss_wbuf_bytes(b, s, strlen(s));
        return;
    }
    ss_wbuf_bytes(b, "\"", 1);
    for (; *s; s++) {
        if (*s == '"')
            ss_wbuf_bytes(b, "\"", 1);
        ss_wbuf_bytes(b, s, 1);
    }
    ss_wbuf_bytes(b, "\"", 1);
}

void ssi_csv_num(ss_wbuf *b, double v)
{
    char t[SS_JSON_REAL_MAX];
    if (isfinite(v)) /* as the JSON writes it; an absent value is an empty field */
        ss_wbuf_bytes(b, t, ss_json_real_text(v, t));
}

void ssi_csv_header(ss_wbuf *b, const char *const *columns)
{
    for (size_t c = 0; columns[c]; c++) {
        if (c)
            ss_wbuf_bytes(b, ",", 1);
        ssi_csv_put(b, columns[c]);
    }
    ss_wbuf_bytes(b, "\r\n", 2);
}

static void ssi_csv_field(FILE *f, const char *s)
{
    if (!s[strcspn(s, ",\"\r\n")]) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void ssi_csv_value(FILE *f, const json_t *v)
{
    char num[SS_JSON_REAL_MAX];
    switch (json_typeof(v)) {
    case JSON_STRING: ssi_csv_field(f, json_string_value(v)); break;
    case JSON_INTEGER: fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v)); break;
    case JSON_REAL: fwrite(num, 1, ss_json_real_text(json_real_value(v), num), f); break;
    case JSON_TRUE: fputs("true", f); break;
    case JSON_FALSE: fputs("false", f); break;
    case JSON_NULL: break;
    default: { /* nested: as JSON text in one field */
        char *text = json_dumps(v, SS_JSON_FLAGS);
        if (text)
            ssi_csv_field(f, text);
        free(text);
    }
    }
}

/* The leading @p n keys, then every other key of the items in the order first seen (items of one
 * table differ only in optional fields: a survey's object id, a cone's separation). */
static size_t ssi_csv_keys(json_t *items, const char **keys, size_t n, size_t cap)
{
    size_t i;
    json_t *item, *v;
    const char *k;
    json_array_foreach(items, i, item)
    {
        json_object_foreach(item, k, v)
        {
            size_t j = 0;
            while (j < n && strcmp(keys[j], k))
                j++;
            if (j == n && n < cap)
                keys[n++] = k;
        }
    }
    return n;
}

char *ssi_csv(json_t *items, const char *const *columns, size_t *len)
{
    char *out = NULL;
    FILE *f = open_memstream(&out, len);
    if (!f)
        return NULL;
    const char *keys[256];
    size_t ncols = 0;
    while (columns && columns[ncols] && ncols < 256)
        keys[ncols] = columns[ncols], ncols++;
    ncols = ssi_csv_keys(items, keys, ncols, 256);
    for (size_t c = 0; c < ncols; c++)
        fputs(c ? "," : "", f), ssi_csv_field(f, keys[c]);
    fputs("\r\n", f);
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item)
    {
        for (size_t c = 0; c < ncols; c++) {
            json_t *v = json_object_get(item, keys[c]);
            fputs(c ? "," : "", f);
            if (v)
                ssi_csv_value(f, v);
        }
        fputs("\r\n", f);
    }
    if (fclose(f)) {
        free(out);
        return NULL;
    }
    return out;
}

void ssi_reply_table(ssi_req *r, json_t *envelope, json_t *items, const char *const *columns)
{
    if (!r->csv) {
        json_t *o = envelope ? envelope : json_object();
        json_object_set_new(o, "items", items);
        ssi_reply_json(r, MHD_HTTP_OK, o);
        return;
    }
    size_t len = 0;
    char *text = ssi_csv(items, columns, &len);
    json_decref(items);
    json_decref(envelope);
    ssi_set(r, MHD_HTTP_OK, "text/csv; charset=utf-8", text, len);
}
