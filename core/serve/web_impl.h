/* Private to core/serve/: the HTML pages (web_*.c) that `skysieve serve` answers at /, /search,
 * /loci/{id}, /tags, /tags/{tag} and /broker, and their static assets at /static/{name}
 * (core/serve/web/, embedded at build time). Pages are written server-side so that they work with
 * JavaScript off; their scripts add what needs it (the interactive light curve, live tags, the
 * broker's refresh).
 *
 * Everything that reaches a page from the store or a broker (ids, properties, tags, catalog
 * columns, filter names and errors) comes from surveys and filters: it is escaped on the way out
 * (ssi_html_text and the URL builder), never written raw. */
#ifndef SS_WEB_IMPL_H
#define SS_WEB_IMPL_H

#include "serve_impl.h"

#include "search.h"

#include <stdarg.h>

/* ---- URLs (web_html.c) ---- */

/* A URL being built: a path of escaped segments, then query pairs. Too long a URL is cut and
 * marked; the pages' URLs are bounded by the ids in them. */
typedef struct ssi_url {
    char s[2048];
    size_t n;
    int query; /* a '?' was written */
} ssi_url;

/* Start at a literal path ("/loci/"), which is not escaped. */
void ssi_url_init(ssi_url *u, const char *path);
/* Append @p s as (part of) a path segment, percent-escaped: '/', '?', '#', '%' and the rest. */
void ssi_url_seg(ssi_url *u, const char *s);
/* Append a literal (not escaped) piece of path. */
void ssi_url_lit(ssi_url *u, const char *s);
/* Append KEY=VALUE to the query, the value escaped (NULL or "" values are left out). */
void ssi_url_param(ssi_url *u, const char *key, const char *value);
void ssi_url_paramf(ssi_url *u, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- one page (web_html.c) ---- */

typedef struct ssi_html {
    ssi_req *r;
    ss_wbuf b;
    const char *token; /* the request's access_token, carried on every link; NULL when none */
} ssi_html;

/* Start a page: the head (title escaped), the site's header with @p nav the current section
 * ("search", "tags", "broker" or NULL), and <main>. */
void ssi_html_begin(ssi_html *h, ssi_req *r, const char *title, const char *nav);
/* End <main>, the footer, the scripts (asset names, NULL-terminated, may be NULL), and answer
 * @p status. */
void ssi_html_end(ssi_html *h, unsigned status, const char *const *scripts);

/* Markup, written as it is (never data). */
void ssi_html_raw(ssi_html *h, const char *s);
void ssi_html_rawf(ssi_html *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Text, escaped for element content and quoted attribute values (& < > " '); bytes that are not
 * UTF-8, and control characters, become U+FFFD. NULL writes nothing. */
void ssi_html_text(ssi_html *h, const char *s);
void ssi_html_textn(ssi_html *h, const char *s, size_t n);
void ssi_html_textf(ssi_html *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A number with a printf format, or an em dash when it is not finite (NaN: absent). */
void ssi_html_num(ssi_html *h, const char *fmt, double v);
/* A URL for an attribute value (escaped), with the request's token added to its query. */
void ssi_html_url(ssi_html *h, ssi_url *u);
/* <a href="URL" class?>text</a>, the text escaped. */
void ssi_html_link(ssi_html *h, ssi_url *u, const char *cls, const char *text);
/* A JSON value as text: strings as they are, numbers compactly, null as a dash, objects and arrays
 * as compact JSON. */
void ssi_html_json(ssi_html *h, const json_t *v);

/* An error page: the status, and @p fmt's text escaped. */
void ssi_web_error(ssi_req *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- what pages share (web_html.c) ---- */

/* Position as sexagesimal: "12:34:56.78" (hours) and "+12:34:56.7". */
void ssi_sexa_ra(double ra_deg, char *out, size_t cap);
void ssi_sexa_dec(double dec_deg, char *out, size_t cap);
/* Parse a position: "188.7 12.5" (degrees), "12:34:56.7 +12:34:56", "12 34 56.7 -1 2 3",
 * "12h34m56.7s +12d34m56s". @return 1 and the degrees, or 0 when it is not a position. */
int ssi_parse_position(const char *s, double *ra, double *dec);
/* The integer parameter @p key within [lo, hi], @p def when absent or not a number. */
long ssi_web_long(ssi_req *r, const char *key, long lo, long hi, long def);

/* A table of locus summaries (search results, a tag's loci). */
typedef struct ssi_loci_table {
    const char *base; /* the page's path, for the sort links ("/search", "/tags/x") */
    ssi_url *keep;    /* the page's query without sort, order, page (copied for each link) */
    const char *sort; /* the current sort key, or NULL */
    int descending;   /* the current order */
    int cone, tag;    /* show separation; show tagged MJD, by and alert */
    const char *id;   /* the table's element id, or NULL */
} ssi_loci_table;

void ssi_loci_table_open(ssi_html *h, const ssi_loci_table *t);
void ssi_loci_table_row(ssi_html *h, const ssi_loci_table *t, const ss_query_hit *hit);
void ssi_loci_table_close(ssi_html *h);

/* ---- assets (web_static.c) ---- */

/* The URL of an asset (site.css, locus.js, ...) with its content's hash as version, so that a
 * page of a new binary never uses an old cached file. */
void ssi_web_asset_url(const char *name, ssi_url *u);

#endif
