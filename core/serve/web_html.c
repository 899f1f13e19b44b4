/* What the pages share: escaping for HTML and URLs, the page's frame (head, header, footer, the
 * security headers), positions in sexagesimal, and the table of loci that searches and tags show.
 */
#include "web_impl.h"

#include "json_text.h"
#include "skysieve/skysieve.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- URLs ---- */

static void ssi_url_put(ssi_url *u, const char *s, size_t n)
{
    if (u->n + n >= sizeof u->s)
        n = sizeof u->s - 1 - u->n; /* cut: never past the buffer */
    memcpy(u->s + u->n, s, n);
    u->n += n;
    u->s[u->n] = '\0';
}

void ssi_url_init(ssi_url *u, const char *path)
{
    u->n = 0;
    u->query = 0;
    u->s[0] = '\0';
    ssi_url_put(u, path, strlen(path));
}

void ssi_url_lit(ssi_url *u, const char *s)
{
    ssi_url_put(u, s, strlen(s));
}

/* Percent-escape all but RFC 3986's unreserved characters (and ':' in paths: alert ids). */
static void ssi_url_escape(ssi_url *u, const char *s, int path)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char c[3] = {(char)*p, 0, 0};
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~' || (path && *p == ':'))
            ssi_url_put(u, c, 1);
        else {
            c[0] = '%', c[1] = hex[*p >> 4], c[2] = hex[*p & 15];
            ssi_url_put(u, c, 3);
        }
    }
}

void ssi_url_seg(ssi_url *u, const char *s)
{
    /* "." and ".." would be taken as path steps by a browser */
    if (!strcmp(s, ".") || !strcmp(s, ".."))
        ssi_url_put(u, s[1] ? "%2E%2E" : "%2E", s[1] ? 6 : 3);
    else
        ssi_url_escape(u, s, 1);
}

void ssi_url_param(ssi_url *u, const char *key, const char *value)
{
    if (!value || !*value)
        return;
    ssi_url_put(u, u->query ? "&" : "?", 1);
    u->query = 1;
    ssi_url_escape(u, key, 0);
    ssi_url_put(u, "=", 1);
    ssi_url_escape(u, value, 0);
}

void ssi_url_paramf(ssi_url *u, const char *key, const char *fmt, ...)
{
    char v[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v, sizeof v, fmt, ap);
    va_end(ap);
    ssi_url_param(u, key, v);
}

/* ---- text ---- */

void ssi_html_raw(ssi_html *h, const char *s)
{
    ss_wbuf_bytes(&h->b, s, strlen(s));
}

void ssi_html_rawf(ssi_html *h, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0)
        ss_wbuf_bytes(&h->b, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* The length of the UTF-8 sequence at @p p (at most @p n bytes), 0 when it is not one. */
static size_t ssi_utf8_len(const unsigned char *p, size_t n)
{
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    if (p[0] >= 0xC2 && p[0] <= 0xDF)
        len = 2;
    else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
        len = 3;
        if (p[0] == 0xE0)
            lo = 0xA0; /* no overlong forms */
        if (p[0] == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
        len = 4;
        if (p[0] == 0xF0)
            lo = 0x90;
        if (p[0] == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return len;
}

void ssi_html_textn(ssi_html *h, const char *s, size_t n)
{
    static const char bad[] = "\xEF\xBF\xBD"; /* U+FFFD */
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        const unsigned char *run = p; /* the longest run that needs nothing */
        while (p < end && *p >= 0x20 && *p < 0x7F && !strchr("&<>\"'", *p))
            p++;
        ss_wbuf_bytes(&h->b, run, (size_t)(p - run));
        if (p == end)
            break;
        const char *rep = NULL;
        size_t len = 1;
        switch (*p) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        case '\t':
        case '\n': rep = *p == '\t' ? "\t" : "\n"; break;
        default:
            if (*p >= 0x80 && (len = ssi_utf8_len(p, (size_t)(end - p))))
                ss_wbuf_bytes(&h->b, p, len);
            else
                rep = bad, len = 1;
        }
        if (rep)
            ss_wbuf_bytes(&h->b, rep, strlen(rep));
        p += len;
    }
}

void ssi_html_text(ssi_html *h, const char *s)
{
    if (s)
        ssi_html_textn(h, s, strlen(s));
}

void ssi_html_textf(ssi_html *h, const char *fmt, ...)
{
    char buf[SS_ERR_MSG_MAX + 512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    ssi_html_text(h, buf);
}

/* the callers' formats are literals, each for one double */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
void ssi_html_num(ssi_html *h, const char *fmt, double v)
{
    if (!isfinite(v)) {
        ssi_html_raw(h, "&#8212;");
        return;
    }
    char buf[64];
    snprintf(buf, sizeof buf, fmt, v);
    ssi_html_text(h, buf);
}
#pragma GCC diagnostic pop

void ssi_html_url(ssi_html *h, ssi_url *u)
{
    if (h->token) {
        ssi_url c = *u;
        ssi_url_param(&c, "access_token", h->token);
        ssi_html_text(h, c.s);
    } else
        ssi_html_text(h, u->s);
}

void ssi_html_link(ssi_html *h, ssi_url *u, const char *cls, const char *text)
{
    ssi_html_raw(h, "<a href=\"");
    ssi_html_url(h, u);
    if (cls)
        ssi_html_rawf(h, "\" class=\"%s", cls);
    ssi_html_raw(h, "\">");
    ssi_html_text(h, text);
    ssi_html_raw(h, "</a>");
}

void ssi_html_json(ssi_html *h, const json_t *v)
{
    char num[SS_JSON_REAL_MAX];
    switch (json_typeof(v)) {
    case JSON_STRING: ssi_html_textn(h, json_string_value(v), json_string_length(v)); break;
    case JSON_INTEGER: ssi_html_rawf(h, "%" JSON_INTEGER_FORMAT, json_integer_value(v)); break;
    case JSON_REAL:
        num[ss_json_real_text(json_real_value(v), num)] = '\0';
        ssi_html_text(h, num);
        break;
    case JSON_TRUE: ssi_html_raw(h, "true"); break;
    case JSON_FALSE: ssi_html_raw(h, "false"); break;
    case JSON_NULL: ssi_html_raw(h, "&#8212;"); break;
    default: {
        char *text = json_dumps(v, SS_JSON_FLAGS);
        ssi_html_text(h, text);
        free(text);
    }
    }
}

/* ---- the frame ---- */

/* Pages run only their own scripts and styles, load only this server's images and data, and are
 * never framed: a property that slipped through escaping still could not run. */
static const char ssi_csp[] =
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";

void ssi_html_begin(ssi_html *h, ssi_req *r, const char *title, const char *nav)
{
    memset(h, 0, sizeof *h);
    h->r = r;
    h->token = ssi_param(r, "access_token");
    if (h->token && !*h->token)
        h->token = NULL;
    ssi_url u;
    ssi_html_raw(h, "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                    "<meta name=\"referrer\" content=\"no-referrer\">\n<title>");
    ssi_html_text(h, title);
    ssi_html_raw(h, " &#183; skysieve</title>\n<link rel=\"icon\" type=\"image/svg+xml\" href=\"");
    ssi_web_asset_url("favicon.svg", &u);
    ssi_html_url(h, &u);
    ssi_html_raw(h, "\">\n<link rel=\"stylesheet\" href=\"");
    ssi_web_asset_url("site.css", &u);
    ssi_html_url(h, &u);
    ssi_html_raw(h, "\">\n</head>\n<body>\n<header class=\"site\"><a class=\"brand\" href=\"");
    ssi_url_init(&u, "/");
    ssi_html_url(h, &u);
    ssi_html_raw(h, "\">skysieve</a>\n<nav>");
    static const char *const items[][3] = {{"search", "/", "Search"},
                                           {"tags", "/tags", "Tags"},
                                           {"broker", "/broker", "Broker"},
                                           {"api", "/api/v1", "API"}};
    for (size_t i = 0; i < sizeof items / sizeof *items; i++) {
        ssi_url_init(&u, items[i][1]);
        ssi_html_raw(h, "<a href=\"");
        ssi_html_url(h, &u);
        ssi_html_raw(h, nav && !strcmp(nav, items[i][0]) ? "\" aria-current=\"page\">" : "\">");
        ssi_html_raw(h, items[i][2]);
        ssi_html_raw(h, "</a>");
    }
    ssi_html_raw(h, "</nav></header>\n<main>\n");
}

void ssi_html_end(ssi_html *h, unsigned status, const char *const *scripts)
{
    ssi_html_raw(h, "</main>\n<footer class=\"site\">skysieve ");
    ssi_html_text(h, ss_version(NULL, NULL, NULL));
    ssi_html_raw(h, " &#183; the same data as JSON: <a href=\"");
    ssi_url u;
    ssi_url_init(&u, "/api/v1/openapi.json");
    ssi_html_url(h, &u);
    ssi_html_raw(h, "\">the API</a></footer>\n");
    for (size_t i = 0; scripts && scripts[i]; i++) {
        ssi_web_asset_url(scripts[i], &u);
        ssi_html_raw(h, "<script src=\"");
        ssi_html_url(h, &u);
        ssi_html_raw(h, "\" defer></script>\n");
    }
    ssi_html_raw(h, "</body>\n</html>\n");
    ssi_req *r = h->r;
    if (h->b.failed) {
        ss_wbuf_free(&h->b);
        ssi_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
        return;
    }
    ssi_reply_owned(r, status, "text/html; charset=utf-8", (char *)h->b.data, h->b.len);
    h->b = (ss_wbuf){0};
    static const char *const headers[] = {
        "Content-Security-Policy", ssi_csp,   "Cache-Control",   "no-cache",
        "X-Content-Type-Options",  "nosniff", "Referrer-Policy", "no-referrer"};
    memcpy(r->headers, headers, sizeof headers);
    r->nheaders = sizeof headers / sizeof *headers;
}

void ssi_web_error(ssi_req *r, unsigned status, const char *fmt, ...)
{
    char detail[SS_ERR_MSG_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    const char *phrase = MHD_get_reason_phrase_for(status);
    ssi_html h;
    ssi_html_begin(&h, r, phrase && *phrase ? phrase : "Error", NULL);
    ssi_html_rawf(&h, "<h1>%u ", status);
    ssi_html_text(&h, phrase);
    ssi_html_raw(&h, "</h1>\n<p class=\"error\">");
    ssi_html_text(&h, detail);
    ssi_html_raw(&h, "</p>\n<p><a href=\"");
    ssi_url u;
    ssi_url_init(&u, "/");
    ssi_html_url(&h, &u);
    ssi_html_raw(&h, "\">Search the loci</a></p>\n");
    ssi_html_end(&h, status, NULL);
}

long ssi_web_long(ssi_req *r, const char *key, long lo, long hi, long def)
{
    const char *v = ssi_param(r, key);
    char *end;
    long n = v ? strtol(v, &end, 10) : def;
    if (!v || end == v || *end)
        return def;
    return n < lo ? lo : n > hi ? hi : n;
}

/* ---- positions ---- */

static void ssi_sexa(double v, double unit, int places, int sign, char *out, size_t cap)
{
    double a = fabs(v) / unit, scale = pow(10, places);
    /* round once, at the last place shown, so that 59.999 s never prints as 60 */
    long long t = llround(a * 3600 * scale);
    long long whole = t / (long long)scale, frac = t % (long long)scale;
    long long d = whole / 3600, m = whole / 60 % 60, s = whole % 60;
    char sg[2] = {sign ? (v < 0 ? '-' : '+') : 0, 0};
    if (places)
        snprintf(out, cap, "%s%02lld:%02lld:%02lld.%0*lld", sg, d, m, s, places, frac);
    else
        snprintf(out, cap, "%s%02lld:%02lld:%02lld", sg, d, m, s);
}

void ssi_sexa_ra(double ra_deg, char *out, size_t cap)
{
    if (!isfinite(ra_deg)) {
        snprintf(out, cap, "-");
        return;
    }
    ssi_sexa(fmod(ra_deg + 360, 360), 15, 2, 0, out, cap);
}

void ssi_sexa_dec(double dec_deg, char *out, size_t cap)
{
    if (!isfinite(dec_deg)) {
        snprintf(out, cap, "-");
        return;
    }
    ssi_sexa(dec_deg, 1, 1, 1, out, cap);
}

/* Up to 6 numbers of a position, the separators (':', 'h', 'm', 's', 'd', degree and minute
 * signs, commas, spaces) taken as spaces; whether the right ascension was in hours. */
typedef struct ssi_pos_tokens {
    double v[6];
    int neg[6]; /* written with a '-' (-00:30 is negative though its number is 0) */
    size_t n;
    int hours, sexa;
} ssi_pos_tokens;

static int ssi_pos_tokens_read(const char *s, ssi_pos_tokens *t)
{
    memset(t, 0, sizeof *t);
    const char *p = s;
    while (*p) {
        unsigned char c = (unsigned char)*p;
        if (c == ' ' || c == ',' || c == '\t' || c == ':' || c == '\'' || c == '"') {
            t->sexa |= c == ':';
            p++;
            continue;
        }
        if (c == 'h' || c == 'H') {
            t->hours = t->sexa = 1;
            p++;
            continue;
        }
        if (strchr("mMsSdD", c)) {
            t->sexa = 1;
            p++;
            continue;
        }
        /* the degree sign, prime and double prime in UTF-8 */
        if (!strncmp(p, "\xC2\xB0", 2)) {
            t->sexa = 1, p += 2;
            continue;
        }
        if (!strncmp(p, "\xE2\x80\xB2", 3) || !strncmp(p, "\xE2\x80\xB3", 3)) {
            t->sexa = 1, p += 3;
            continue;
        }
        if (t->n == 6)
            return 0;
        char *end;
        double d = strtod(p, &end);
        if (end == p || !isfinite(d))
            return 0;
        /* strtod reads "1e5" and hex: a position has neither */
        for (const char *q = p; q < end; q++)
            if (!strchr("+-.0123456789", *q))
                return 0;
        t->neg[t->n] = *p == '-';
        t->v[t->n++] = d;
        p = end;
    }
    return 1;
}

/* D M S into degrees (or hours), each part checked. */
static int ssi_dms(const double *v, const int *neg, size_t n, double *out)
{
    double a = fabs(v[0]);
    for (size_t i = 1; i < n; i++) {
        if (v[i] < 0 || v[i] >= 60 || neg[i])
            return 0;
        a += v[i] / (i == 1 ? 60 : 3600);
    }
    if (n > 1 && v[0] != floor(v[0]))
        return 0;
    *out = neg[0] ? -a : a;
    return 1;
}

int ssi_parse_position(const char *s, double *ra, double *dec)
{
    ssi_pos_tokens t;
    if (!ssi_pos_tokens_read(s, &t) || t.n < 2 || t.n % 2)
        return 0;
    size_t half = t.n / 2;
    double r, d;
    if (!ssi_dms(t.v, t.neg, half, &r) || !ssi_dms(t.v + half, t.neg + half, half, &d))
        return 0;
    if (half > 1 || t.hours) /* sexagesimal right ascension is in hours */
        r *= 15;
    if (r < 0 || r > 360 || d < -90 || d > 90)
        return 0;
    *ra = r == 360 ? 0 : r;
    *dec = d;
    return 1;
}

/* ---- a table of loci ---- */

typedef struct ssi_col {
    const char *label, *sort, *cls; /* sort: the key, or NULL when it cannot sort */
} ssi_col;

static void ssi_th(ssi_html *h, const ssi_loci_table *t, const ssi_col *c)
{
    ssi_html_rawf(h, "<th class=\"%s\"", c->cls);
    if (!c->sort || !t->base) {
        ssi_html_rawf(h, ">%s</th>", c->label);
        return;
    }
    int current = t->sort && !strcmp(t->sort, c->sort);
    /* the first click sorts the way people read the column: counts and times from the top */
    int desc = current ? !t->descending
                       : strcmp(c->sort, "locus_id") && strcmp(c->sort, "separation") &&
                             !strstr(c->sort, "magnitude");
    ssi_html_rawf(h, " aria-sort=\"%s\"><a href=\"",
                  !current        ? "none"
                  : t->descending ? "descending"
                                  : "ascending");
    ssi_url u;
    if (t->keep)
        u = *t->keep;
    else
        ssi_url_init(&u, t->base);
    ssi_url_param(&u, "sort", c->sort);
    ssi_url_param(&u, "order", desc ? "desc" : "asc");
    ssi_html_url(h, &u);
    ssi_html_rawf(h, "\">%s%s</a></th>", c->label,
                  !current        ? ""
                  : t->descending ? " &#9660;"
                                  : " &#9650;");
}

void ssi_loci_table_open(ssi_html *h, const ssi_loci_table *t)
{
    static const ssi_col cols[] = {
        {"Locus", "locus_id", "id"},
        {"Survey ids", NULL, "id"},
        {"RA", NULL, "num"},
        {"Dec", NULL, "num"},
        {"Alerts", "num_alerts", "num"},
        {"Detections", "num_mag_values", "num"},
        {"Newest (MJD)", "newest_alert_observation_time", "num"},
        {"Newest mag", "newest_alert_magnitude", "num"},
        {"Brightest mag", "brightest_alert_magnitude", "num"},
    };
    static const ssi_col sep = {"Separation (&#8243;)", "separation", "num"},
                         tagged[] = {{"Tagged (MJD)", "tagged_mjd", "num"},
                                     {"By", NULL, "id"},
                                     {"Alert", NULL, "id"}};
    ssi_html_raw(h, "<div class=\"scroll\"><table class=\"loci\"");
    if (t->id)
        ssi_html_rawf(h, " id=\"%s\"", t->id);
    ssi_html_raw(h, ">\n<thead><tr>");
    for (size_t i = 0; i < sizeof cols / sizeof *cols; i++)
        ssi_th(h, t, &cols[i]);
    if (t->cone)
        ssi_th(h, t, &sep);
    for (size_t i = 0; t->tag && i < 3; i++)
        ssi_th(h, t, &tagged[i]);
    ssi_html_raw(h, "</tr></thead>\n<tbody>\n");
}

void ssi_loci_table_row(ssi_html *h, const ssi_loci_table *t, const ss_query_hit *hit)
{
    const ss_locus *l = &hit->locus;
    ssi_url u;
    ssi_html_raw(h, "<tr data-locus=\"");
    ssi_html_text(h, l->id);
    ssi_html_raw(h, "\"><td class=\"id\">");
    ssi_url_init(&u, "/loci/");
    ssi_url_seg(&u, l->id);
    ssi_html_link(h, &u, NULL, l->id);
    ssi_html_raw(h, "</td><td class=\"id\">");
    for (uint32_t i = 0; i < l->nobjects && i < SS_LOCUS_MAX_OBJECTS; i++) {
        if (i)
            ssi_html_raw(h, "<br>");
        ssi_html_text(h, l->objects[i].object_id);
        ssi_html_raw(h, " <span class=\"survey\">");
        ssi_html_text(h, l->objects[i].survey);
        ssi_html_raw(h, "</span>");
    }
    ssi_html_raw(h, "</td><td class=\"num\">");
    ssi_html_num(h, "%.6f", l->ra);
    ssi_html_raw(h, "</td><td class=\"num\">");
    ssi_html_num(h, "%+.6f", l->dec);
    ssi_html_rawf(h, "</td><td class=\"num\">%u</td><td class=\"num\">%u</td><td class=\"num\">",
                  l->num_alerts, l->num_mag_values);
    ssi_html_num(h, "%.5f", l->newest.mjd);
    ssi_html_raw(h, "</td><td class=\"num\">");
    ssi_html_num(h, "%.3f", l->newest.mag);
    ssi_html_raw(h, "</td><td class=\"num\">");
    ssi_html_num(h, "%.3f", l->brightest.mag);
    ssi_html_raw(h, "</td>");
    if (t->cone) {
        ssi_html_raw(h, "<td class=\"num\">");
        ssi_html_num(h, "%.2f", hit->separation_arcsec);
        ssi_html_raw(h, "</td>");
    }
    if (t->tag) {
        char shown[SS_ID_MAX + 64] = "";
        if (hit->tag.alert_id[0])
            ssi_show_id(hit->tag.survey, hit->tag.alert_id, SS_ALERT_DETECTION, shown,
                        sizeof shown);
        ssi_html_raw(h, "<td class=\"num\">");
        ssi_html_num(h, "%.5f", hit->tag.mjd > 0 ? hit->tag.mjd : NAN);
        ssi_html_raw(h, "</td><td class=\"id\">");
        ssi_html_text(h, hit->tag.filter);
        ssi_html_raw(h, "</td><td class=\"id\">");
        if (shown[0]) {
            ssi_url_init(&u, "/loci/");
            ssi_url_seg(&u, l->id);
            ssi_url_param(&u, "alert", shown);
            ssi_html_link(h, &u, NULL, shown);
        }
        ssi_html_raw(h, "</td>");
    }
    ssi_html_raw(h, "</tr>\n");
}

void ssi_loci_table_close(ssi_html *h)
{
    ssi_html_raw(h, "</tbody></table></div>\n");
}
