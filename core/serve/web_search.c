/* / and /search: find loci by locus id, survey object id, position (a cone; decimal degrees or
 * sexagesimal) or tag, as a sortable, paged table. The search is the API's (ss_query_search_run,
 * search.h); the page is written server-side and needs no script. */
#include "web_impl.h"

#include "locus_id.h"
#include "query.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SSI_WEB_PAGE_SIZE 50
#define SSI_WEB_RADIUS    10.0 /* arcsec: a cone without a radius */

typedef struct ssi_web_search_req {
    char q[512]; /* the text searched for, trimmed */
    const char *tag;
    char tagbuf[256];
    double radius;
    int has_radius;
    ss_query_search s;
} ssi_web_search_req;

static void ssi_trim(const char *in, char *out, size_t cap)
{
    while (*in && isspace((unsigned char)*in))
        in++;
    snprintf(out, cap, "%s", in);
    size_t n = strlen(out);
    while (n && isspace((unsigned char)out[n - 1]))
        out[--n] = '\0';
}

/* The tags of the store, for the form's choice. */
typedef struct ssi_tag_opts {
    ssi_html *h;
    const char *current;
    int found;
} ssi_tag_opts;

static int ssi_tag_option(void *ctx, const char *tag, double newest_mjd)
{
    (void)newest_mjd;
    ssi_tag_opts *o = ctx;
    int sel = o->current && !strcmp(o->current, tag);
    o->found |= sel;
    ssi_html_raw(o->h, "<option value=\"");
    ssi_html_text(o->h, tag);
    ssi_html_raw(o->h, sel ? "\" selected>" : "\">");
    ssi_html_text(o->h, tag);
    ssi_html_raw(o->h, "</option>");
    return 0;
}

static void ssi_search_form(ssi_html *h, const ssi_web_search_req *w)
{
    ssi_url u;
    ssi_url_init(&u, "/search");
    ssi_html_raw(h, "<form class=\"search\" method=\"get\" role=\"search\" action=\"");
    ssi_html_text(h, u.s);
    ssi_html_raw(h, "\">\n<label class=\"grow\">Locus id, survey object id or position"
                    "<input name=\"q\" id=\"q\" autocomplete=\"off\" spellcheck=\"false\" "
                    "placeholder=\"ZTF20aajcdad &#183; 12:34:56.7 +12:34:56 &#183; 188.7 12.5\" "
                    "value=\"");
    ssi_html_text(h, w->q);
    ssi_html_raw(h, "\"></label>\n<label>Radius (&#8243;)<input name=\"radius\" type=\"number\" "
                    "min=\"0\" step=\"any\" inputmode=\"decimal\" value=\"");
    ssi_html_num(h, "%g", w->has_radius ? w->radius : SSI_WEB_RADIUS);
    ssi_html_raw(h, "\"></label>\n<label>Tag<select name=\"tag\"><option value=\"\">any</option>");
    ssi_tag_opts o = {h, w->tag, 0};
    ss_store_txn *txn = NULL;
    if (!ss_store_txn_begin(ssi_store(h->r), SS_STORE_READ, &txn)) {
        ss_store_tags_each(txn, ssi_tag_option, &o);
        ss_store_txn_abort(txn);
    }
    if (w->tag && !o.found) { /* a tag no locus carries (yet) stays chosen */
        ssi_html_raw(h, "<option selected value=\"");
        ssi_html_text(h, w->tag);
        ssi_html_raw(h, "\">");
        ssi_html_text(h, w->tag);
        ssi_html_raw(h, "</option>");
    }
    ssi_html_raw(h, "</select></label>\n");
    if (h->token) {
        ssi_html_raw(h, "<input type=\"hidden\" name=\"access_token\" value=\"");
        ssi_html_text(h, h->token);
        ssi_html_raw(h, "\">");
    }
    ssi_html_raw(h, "<button type=\"submit\">Search</button>\n</form>\n");
}

/* The search's query in a URL (without sort, order and page), for the table's links. */
static void ssi_search_keep(const ssi_web_search_req *w, ssi_url *u)
{
    ssi_url_init(u, "/search");
    ssi_url_param(u, "q", w->q);
    if (w->s.cone && w->has_radius)
        ssi_url_paramf(u, "radius", "%g", w->radius);
    ssi_url_param(u, "tag", w->tag);
    if (w->s.page_size != SSI_WEB_PAGE_SIZE)
        ssi_url_paramf(u, "page_size", "%zu", w->s.page_size);
}

static void ssi_pager(ssi_html *h, const ssi_web_search_req *w, const ss_query_page *p,
                      const ssi_url *keep)
{
    if (p->page <= 1 && !p->has_next)
        return;
    ssi_html_raw(h, "<nav class=\"pager\" aria-label=\"pages\">");
    for (int next = 0; next < 2; next++) {
        if (next ? !p->has_next : p->page <= 1) {
            ssi_html_raw(h, next ? "<span class=\"off\">Next &#8250;</span>"
                                 : "<span class=\"off\">&#8249; Previous</span>");
            continue;
        }
        ssi_url u = *keep;
        ssi_url_param(&u, "sort", w->s.sort);
        if (w->s.sort)
            ssi_url_param(&u, "order", w->s.descending ? "desc" : "asc");
        ssi_url_paramf(&u, "page", "%zu", next ? p->page + 1 : p->page - 1);
        ssi_html_raw(h, "<a rel=\"");
        ssi_html_raw(h, next ? "next" : "prev");
        ssi_html_raw(h, "\" href=\"");
        ssi_html_url(h, &u);
        ssi_html_raw(h, next ? "\">Next &#8250;</a>" : "\">&#8249; Previous</a>");
        if (!next)
            ssi_html_rawf(h, "<span>page %zu</span>", p->page);
    }
    if (p->page <= 1)
        ssi_html_rawf(h, "<span>page %zu</span>", p->page);
    ssi_html_raw(h, "</nav>\n");
}

/* Read the request into a search. @return 0, or -1 when a parameter is wrong (message in
 * @p why). */
static int ssi_search_read(ssi_req *r, ssi_web_search_req *w, char *why, size_t cap)
{
    ss_query_search *s = &w->s;
    const char *q = ssi_param(r, "q");
    ssi_trim(q ? q : "", w->q, sizeof w->q);
    const char *tag = ssi_param(r, "tag");
    if (tag && *tag)
        w->tag = tag;
    if (!strncmp(w->q, "tag:", 4)) { /* "tag:jump" in the box */
        ssi_trim(w->q + 4, w->tagbuf, sizeof w->tagbuf);
        w->tag = w->tagbuf[0] ? w->tagbuf : w->tag;
        w->q[0] = '\0';
    }
    s->tag = w->tag;
    const char *rad = ssi_param(r, "radius");
    if (rad && *rad) {
        char *end;
        w->radius = strtod(rad, &end);
        if (end == rad || *end || !(w->radius > 0) || w->radius > r->srv->conf->max_cone_arcsec) {
            snprintf(why, cap, "The radius is in arcseconds, above 0 and at most %g, not '%.40s'.",
                     r->srv->conf->max_cone_arcsec, rad);
            return -1;
        }
        w->has_radius = 1;
    }
    if (w->q[0] && ssi_parse_position(w->q, &s->ra, &s->dec)) {
        s->cone = 1;
        s->radius_arcsec = w->has_radius ? w->radius : SSI_WEB_RADIUS;
    } else if (w->q[0])
        s->object_id = w->q;
    s->page = (size_t)ssi_web_long(r, "page", 1, 1000000, 1);
    s->page_size = (size_t)ssi_web_long(r, "page_size", 1, (long)r->srv->conf->max_page_size,
                                        SSI_WEB_PAGE_SIZE);
    const char *sort = ssi_param(r, "sort"), *order = ssi_param(r, "order");
    s->sort = sort && *sort ? sort : NULL;
    s->descending = order && !strcmp(order, "desc");
    if (!s->sort && !order && !s->cone && !s->object_id) {
        /* no order asked: the newest first (tagged, or observed) */
        s->sort = s->tag ? "tagged_mjd" : "newest_alert_observation_time";
        s->descending = 1;
    }
    return 0;
}

/* A locus id typed in the box: that locus, as a one-row page. */
static int ssi_search_locus_id(ssi_req *r, const char *id, ss_query_page *p, ss_err *err)
{
    ss_store_txn *txn = NULL;
    int rc = ss_store_txn_begin(ssi_store(r), SS_STORE_READ, &txn);
    if (rc)
        return ss_store_fail(ssi_store(r), err, rc, "starting a read transaction");
    ss_query_hit *hit = calloc(1, sizeof *hit);
    rc = hit ? ss_query_resolve(txn, id, &hit->locus, err) : SS_ENOMEM;
    ss_store_txn_abort(txn);
    if (rc) {
        free(hit);
        return rc == SS_ENOTFOUND ? 0 : rc;
    }
    hit->separation_arcsec = NAN;
    hit->sort_value = NAN;
    p->hits = hit;
    p->n = 1;
    p->index = "loci";
    return 0;
}

void ssi_web_search(ssi_req *r)
{
    ssi_web_search_req w = {0};
    char why[512] = "";
    ssi_html h;
    int bad = ssi_search_read(r, &w, why, sizeof why);
    ss_query_page page = {0};
    ss_err err = {0};
    int rc = 0;
    if (!bad) {
        if (w.s.object_id && ss_store_locus_id_valid(w.s.object_id))
            rc = ssi_search_locus_id(r, w.s.object_id, &page, &err);
        else
            rc = ss_query_search_run(ssi_store(r), &w.s, &page, &err);
        page.page = page.page ? page.page : 1;
    }
    const char *title = w.q[0] ? w.q : w.tag ? w.tag : "Search";
    ssi_html_begin(&h, r, title, "search");
    ssi_html_raw(&h, "<h1>Search the loci</h1>\n");
    ssi_search_form(&h, &w);
    unsigned status = MHD_HTTP_OK;
    if (bad || rc) {
        status = bad || rc == SS_EINVAL || rc == SS_ELIMIT ? MHD_HTTP_BAD_REQUEST
                                                           : MHD_HTTP_SERVICE_UNAVAILABLE;
        ssi_html_raw(&h, "<p class=\"error\" role=\"alert\">");
        if (bad)
            ssi_html_text(&h, why);
        else
            ssi_html_text(&h, err.msg[0] ? err.msg : ss_strerror(rc));
        ssi_html_raw(&h, "</p>\n");
        ss_query_page_free(&page);
        ssi_html_end(&h, status, NULL);
        return;
    }
    ssi_url keep;
    ssi_search_keep(&w, &keep);
    /* what was searched, in words */
    ssi_html_raw(&h, "<p class=\"summary\" id=\"summary\">");
    if (w.s.cone) {
        char ra[32], dec[32];
        ssi_sexa_ra(w.s.ra, ra, sizeof ra);
        ssi_sexa_dec(w.s.dec, dec, sizeof dec);
        ssi_html_textf(&h, "Within %g\u2033 of RA %.6f, Dec %+.6f (%s %s)", w.s.radius_arcsec,
                       w.s.ra, w.s.dec, ra, dec);
    } else if (w.s.object_id) {
        ssi_html_text(&h, "Id ");
        ssi_html_raw(&h, "<q>");
        ssi_html_text(&h, w.s.object_id);
        ssi_html_raw(&h, "</q>");
    } else if (!w.tag)
        ssi_html_text(&h, "Every locus");
    if (w.tag) {
        ssi_html_text(&h, w.s.cone || w.s.object_id ? ", tagged " : "Tagged ");
        ssi_url t;
        ssi_url_init(&t, "/tags/");
        ssi_url_seg(&t, w.tag);
        ssi_html_link(&h, &t, "tag", w.tag);
    }
    ssi_html_rawf(&h, ": %zu %s on page %zu", page.n, page.n == 1 ? "locus" : "loci", page.page);
    ssi_html_raw(&h, ". <a class=\"json\" href=\"");
    /* the same search through the API, as JSON and CSV */
    ssi_url api;
    ssi_url_init(&api, "/api/v1/loci");
    if (w.s.cone) {
        ssi_url_paramf(&api, "ra", "%.8f", w.s.ra);
        ssi_url_paramf(&api, "dec", "%.8f", w.s.dec);
        ssi_url_paramf(&api, "radius", "%g", w.s.radius_arcsec);
    }
    ssi_url_param(&api, "object_id",
                  w.s.object_id && !ss_store_locus_id_valid(w.s.object_id) ? w.s.object_id : NULL);
    ssi_url_param(&api, "tag", w.tag);
    ssi_url_param(&api, "sort", w.s.sort);
    if (w.s.sort)
        ssi_url_param(&api, "order", w.s.descending ? "desc" : "asc");
    ssi_url_paramf(&api, "page", "%zu", page.page);
    ssi_url_paramf(&api, "page_size", "%zu", w.s.page_size);
    if (w.s.object_id && ss_store_locus_id_valid(w.s.object_id)) {
        ssi_url_init(&api, "/api/v1/loci/");
        ssi_url_seg(&api, w.s.object_id);
    }
    ssi_html_url(&h, &api);
    ssi_html_raw(&h, "\">JSON</a>");
    if (api.query) {
        ssi_url_param(&api, "format", "csv");
        ssi_html_raw(&h, " &#183; <a class=\"csv\" href=\"");
        ssi_html_url(&h, &api);
        ssi_html_raw(&h, "\">CSV</a>");
    }
    ssi_html_raw(&h, "</p>\n");
    if (!page.n) {
        ssi_html_raw(&h, "<p class=\"empty\">No locus matches.");
        if (w.s.cone)
            ssi_html_raw(&h, " Try a larger radius.");
        ssi_html_raw(&h, "</p>\n");
    } else {
        ssi_loci_table t = {.base = "/search",
                            .keep = &keep,
                            .sort = w.s.sort,
                            .descending = w.s.descending,
                            .cone = w.s.cone,
                            .tag = w.tag != NULL,
                            .id = "results"};
        if (!t.sort) /* the index's own order */
            t.sort = w.s.cone ? "separation" : w.tag ? "tagged_mjd" : "locus_id";
        ssi_loci_table_open(&h, &t);
        for (size_t i = 0; i < page.n; i++)
            ssi_loci_table_row(&h, &t, &page.hits[i]);
        ssi_loci_table_close(&h);
        ssi_pager(&h, &w, &page, &keep);
    }
    ss_query_page_free(&page);
    ssi_html_end(&h, status, NULL);
}
