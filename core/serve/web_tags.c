/* /tags and /tags/{tag}: the loci each tag was set on, the latest first, through the API's search
 * (the tag index). Written server-side; with a broker attached (serve --config of one, so that
 * /api/v1/stream answers) live.js adds each new tag event at the top as it comes. */
#include "web_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SSI_WEB_TAG_LATEST 10  /* loci per tag on /tags */
#define SSI_WEB_TAGS_MAX   200 /* tags on /tags */
#define SSI_WEB_TAG_PAGE   100 /* loci per page of /tags/{tag} */

typedef struct ssi_tag_item {
    char *tag;
    double newest;
} ssi_tag_item;

typedef struct ssi_tag_list {
    ssi_tag_item *items;
    size_t n, cap;
} ssi_tag_list;

static int ssi_tag_collect(void *ctx, const char *tag, double newest_mjd)
{
    ssi_tag_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        ssi_tag_item *fresh = realloc(l->items, cap * sizeof *fresh);
        if (!fresh)
            return SS_ENOMEM;
        l->items = fresh, l->cap = cap;
    }
    if (!(l->items[l->n].tag = strdup(tag)))
        return SS_ENOMEM;
    l->items[l->n++].newest = newest_mjd;
    return 0;
}

static int ssi_tag_newest_first(const void *a, const void *b)
{
    const ssi_tag_item *x = a, *y = b;
    return x->newest < y->newest ? 1 : x->newest > y->newest ? -1 : strcmp(x->tag, y->tag);
}

/* The live element live.js connects to /api/v1/stream from, when a broker is attached. */
static void ssi_live(ssi_html *h, const char *tag)
{
    if (!h->r->srv->conf->publish) {
        ssi_html_raw(h, "<p class=\"note\" id=\"live-off\">No broker is attached to this server, "
                        "so this page does not update by itself: serve with <code>--config</code> "
                        "of a running broker to see tags as they are set.</p>\n");
        return;
    }
    ssi_url u;
    ssi_url_init(&u, "/api/v1/stream");
    ssi_url_param(&u, "tag", tag);
    ssi_html_raw(h, "<p class=\"live\" id=\"live\" data-stream=\"");
    ssi_html_text(h, u.s);
    ssi_html_raw(h, "\"><span class=\"dot\"></span> <span class=\"state\">Live updates need "
                    "JavaScript.</span></p>\n");
}

static void ssi_tag_section(ssi_html *h, const ssi_tag_item *t, const ss_query_page *p)
{
    ssi_url u;
    ssi_html_raw(h, "<section class=\"card tag\" data-tag=\"");
    ssi_html_text(h, t->tag);
    ssi_html_raw(h, "\"><h2>");
    ssi_url_init(&u, "/tags/");
    ssi_url_seg(&u, t->tag);
    ssi_html_link(h, &u, "tag", t->tag);
    ssi_html_raw(h, " <span class=\"when\">last set at MJD ");
    ssi_html_num(h, "%.5f", t->newest);
    ssi_html_raw(h, "</span></h2>\n");
    ssi_loci_table table = {.tag = 1};
    ssi_loci_table_open(h, &table);
    for (size_t i = 0; i < p->n; i++)
        ssi_loci_table_row(h, &table, &p->hits[i]);
    ssi_loci_table_close(h);
    if (p->has_next) {
        ssi_html_raw(h, "<p class=\"more\">");
        ssi_html_link(h, &u, NULL, "Every locus with this tag");
        ssi_html_raw(h, "</p>\n");
    }
    ssi_html_raw(h, "</section>\n");
}

void ssi_web_tags(ssi_req *r)
{
    ssi_tag_list l = {0};
    ss_store_txn *txn = NULL;
    int rc = ss_store_txn_begin(ssi_store(r), SS_STORE_READ, &txn);
    if (!rc) {
        rc = ss_store_tags_each(txn, ssi_tag_collect, &l);
        ss_store_txn_abort(txn);
    }
    ssi_html h;
    ssi_html_begin(&h, r, "Tags", "tags");
    ssi_html_raw(&h, "<h1>Tags</h1>\n");
    ssi_live(&h, NULL);
    unsigned status = MHD_HTTP_OK;
    if (rc) {
        ss_err err = {0};
        ss_store_fail(ssi_store(r), &err, rc, "reading the tags");
        ssi_html_raw(&h, "<p class=\"error\">");
        ssi_html_text(&h, err.msg);
        ssi_html_raw(&h, "</p>\n");
        status = MHD_HTTP_SERVICE_UNAVAILABLE;
    } else if (!l.n)
        ssi_html_raw(&h, "<p class=\"empty\" id=\"no-tags\">No filter has tagged a locus "
                         "yet.</p>\n");
    if (l.n) /* qsort's array must not be NULL, even for no element (C11 7.1.4) */
        qsort(l.items, l.n, sizeof *l.items, ssi_tag_newest_first);
    ssi_html_raw(&h, "<div class=\"tags\" id=\"tag-list\">\n");
    for (size_t i = 0; !rc && i < l.n && i < SSI_WEB_TAGS_MAX; i++) {
        ss_query_search q = {.tag = l.items[i].tag,
                             .sort = "tagged_mjd",
                             .descending = 1,
                             .page = 1,
                             .page_size = SSI_WEB_TAG_LATEST};
        ss_query_page p = {0};
        ss_err err = {0};
        if (!ss_query_search_run(ssi_store(r), &q, &p, &err))
            ssi_tag_section(&h, &l.items[i], &p);
        ss_query_page_free(&p);
    }
    ssi_html_raw(&h, "</div>\n");
    if (l.n > SSI_WEB_TAGS_MAX) {
        ssi_url u;
        ssi_url_init(&u, "/api/v1/tags");
        ssi_html_rawf(&h, "<p class=\"note\">The %d most recently set of %zu tags; ",
                      SSI_WEB_TAGS_MAX, l.n);
        ssi_html_link(&h, &u, NULL, "/api/v1/tags");
        ssi_html_raw(&h, " lists them all.</p>\n");
    }
    for (size_t i = 0; i < l.n; i++)
        free(l.items[i].tag);
    free(l.items);
    static const char *const scripts[] = {"site.js", "live.js", NULL};
    ssi_html_end(&h, status, scripts);
}

void ssi_web_tag(ssi_req *r)
{
    const char *tag = r->seg[1];
    const char *sort = ssi_param(r, "sort"), *order = ssi_param(r, "order");
    ss_query_search q = {.tag = tag,
                         .sort = sort && *sort ? sort : "tagged_mjd",
                         .descending = order ? !strcmp(order, "desc") : 1,
                         .page = (size_t)ssi_web_long(r, "page", 1, 1000000, 1),
                         .page_size = (size_t)ssi_web_long(r, "page_size", 1,
                                                           (long)r->srv->conf->max_page_size,
                                                           SSI_WEB_TAG_PAGE)};
    ss_query_page p = {0};
    ss_err err = {0};
    int rc = ss_query_search_run(ssi_store(r), &q, &p, &err);
    ssi_html h;
    ssi_html_begin(&h, r, tag, "tags");
    ssi_url u;
    ssi_html_raw(&h, "<nav class=\"crumbs\"><a href=\"");
    ssi_url_init(&u, "/tags");
    ssi_html_url(&h, &u);
    ssi_html_raw(&h, "\">Tags</a> &#8250;</nav>\n<h1 class=\"tag-title\" data-tag=\"");
    ssi_html_text(&h, tag);
    ssi_html_raw(&h, "\">Tag <span class=\"tag\">");
    ssi_html_text(&h, tag);
    ssi_html_raw(&h, "</span></h1>\n");
    unsigned status = MHD_HTTP_OK;
    if (rc) {
        status = rc == SS_EINVAL || rc == SS_ELIMIT ? MHD_HTTP_BAD_REQUEST
                                                    : MHD_HTTP_SERVICE_UNAVAILABLE;
        ssi_html_raw(&h, "<p class=\"error\" role=\"alert\">");
        ssi_html_text(&h, err.msg[0] ? err.msg : ss_strerror(rc));
        ssi_html_raw(&h, "</p>\n");
        ss_query_page_free(&p);
        ssi_html_end(&h, status, NULL);
        return;
    }
    if (q.page == 1)
        ssi_live(&h, tag);
    ssi_html_rawf(&h,
                  "<p class=\"summary\">%zu %s on page %zu, the latest tagged first. <a "
                  "class=\"json\" href=\"",
                  p.n, p.n == 1 ? "locus" : "loci", q.page);
    ssi_url_init(&u, "/api/v1/tags/");
    ssi_url_seg(&u, tag);
    ssi_url_paramf(&u, "page", "%zu", q.page);
    ssi_url_paramf(&u, "page_size", "%zu", q.page_size);
    ssi_html_url(&h, &u);
    ssi_html_raw(&h, "\">JSON</a> &#183; <a class=\"csv\" href=\"");
    ssi_url_param(&u, "format", "csv");
    ssi_html_url(&h, &u);
    ssi_html_raw(&h, "\">CSV</a></p>\n");
    ssi_url keep;
    ssi_url_init(&keep, "/tags/");
    ssi_url_seg(&keep, tag);
    if (q.page_size != SSI_WEB_TAG_PAGE)
        ssi_url_paramf(&keep, "page_size", "%zu", q.page_size);
    ssi_loci_table t = {.base = keep.s,
                        .keep = &keep,
                        .sort = q.sort,
                        .descending = q.descending,
                        .tag = 1,
                        .id = "tag-loci"};
    if (!p.n)
        ssi_html_raw(&h, "<p class=\"empty\" id=\"no-loci\">No locus carries this tag.</p>\n");
    ssi_loci_table_open(&h, &t);
    for (size_t i = 0; i < p.n; i++)
        ssi_loci_table_row(&h, &t, &p.hits[i]);
    ssi_loci_table_close(&h);
    if (q.page > 1 || p.has_next) {
        ssi_html_raw(&h, "<nav class=\"pager\" aria-label=\"pages\">");
        for (int next = 0; next < 2; next++) {
            if (next ? !p.has_next : q.page <= 1)
                continue;
            ssi_url v = keep;
            ssi_url_param(&v, "sort", sort);
            ssi_url_param(&v, "order", order);
            ssi_url_paramf(&v, "page", "%zu", next ? q.page + 1 : q.page - 1);
            ssi_html_link(&h, &v, NULL, next ? "Next \u203a" : "\u2039 Previous");
        }
        ssi_html_rawf(&h, "<span>page %zu</span></nav>\n", q.page);
    }
    ss_query_page_free(&p);
    static const char *const scripts[] = {"site.js", "live.js", NULL};
    ssi_html_end(&h, status, scripts);
}
