/* /api/v1: searches of loci (cone, tag, object, catalog, watch list, property ranges), a tag's
 * latest loci, the tags, and cone searches in a catalog. Each answers one page through an index
 * (search.h). */
#include "serve_impl.h"

#include "catalog.h"
#include "json_text.h"
#include "publish.h"
#include "search.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SSI_MAX_CONDS    32
#define SSI_DEFAULT_PAGE 100

static const struct {
    const char *suffix;
    ss_query_op op;
} ssi_ops[] = {{".gte", SS_QUERY_GTE},
               {".gt", SS_QUERY_GT},
               {".lte", SS_QUERY_LTE},
               {".lt", SS_QUERY_LT},
               {".eq", SS_QUERY_EQ}};

typedef struct ssi_search {
    ss_query_search q;
    ss_query_cond conds[SSI_MAX_CONDS];
    char names[SSI_MAX_CONDS][128];
} ssi_search;

/* PROPERTY.OP=VALUE: a number, or text for .eq. @return 1 taken, 0 not a condition, -1 answered
 * 400. */
static int ssi_cond(ssi_req *r, ssi_kv *p, ssi_search *s)
{
    size_t klen = strlen(p->key);
    for (size_t i = 0; i < sizeof ssi_ops / sizeof *ssi_ops; i++) {
        size_t sl = strlen(ssi_ops[i].suffix);
        if (klen <= sl || strcmp(p->key + klen - sl, ssi_ops[i].suffix))
            continue;
        if (s->q.nconds == SSI_MAX_CONDS || klen - sl >= sizeof s->names[0]) {
            ssi_reply_error(r, MHD_HTTP_BAD_REQUEST,
                            "parameter '%.64s': more than %d "
                            "conditions, or too long a property name",
                            p->key, SSI_MAX_CONDS);
            return -1;
        }
        ss_query_cond *c = &s->conds[s->q.nconds];
        memcpy(s->names[s->q.nconds], p->key, klen - sl);
        s->names[s->q.nconds][klen - sl] = '\0';
        char *end;
        double d = strtod(p->value, &end);
        *c = (ss_query_cond){.prop = s->names[s->q.nconds], .op = ssi_ops[i].op, .num = d};
        if (end == p->value || *end || !isfinite(d)) {
            if (ssi_ops[i].op != SS_QUERY_EQ) {
                ssi_reply_error(r, MHD_HTTP_BAD_REQUEST,
                                "parameter '%.64s': wants a number, not '%.64s'", p->key, p->value);
                return -1;
            }
            c->text = p->value;
        }
        p->used = 1;
        s->q.nconds++;
        return 1;
    }
    return 0;
}

static int ssi_cone(ssi_req *r, ss_query_search *q)
{
    int a = ssi_param_num(r, "ra", 0, 360, &q->ra), b = ssi_param_num(r, "dec", -90, 90, &q->dec),
        c = ssi_param_num(r, "radius", 0, r->srv->conf->max_cone_arcsec, &q->radius_arcsec);
    if (a < 0 || b < 0 || c < 0)
        return -1;
    if ((a || b || c) && !(a && b && c)) {
        ssi_reply_error(r, MHD_HTTP_BAD_REQUEST,
                        "a cone needs all of ra, dec (degrees) and radius (arcseconds)");
        return -1;
    }
    if (c && !(q->radius_arcsec > 0)) {
        ssi_reply_error(r, MHD_HTTP_BAD_REQUEST, "parameter 'radius': must be above 0");
        return -1;
    }
    if (q->ra == 360)
        q->ra = 0;
    q->cone = a;
    return 0;
}

static int ssi_order(ssi_req *r, ss_query_search *q)
{
    const char *order = ssi_param(r, "order");
    if (order && strcmp(order, "asc") && strcmp(order, "desc")) {
        ssi_reply_error(r, MHD_HTTP_BAD_REQUEST, "parameter 'order': asc or desc, not '%.32s'",
                        order);
        return -1;
    }
    q->descending = order && !strcmp(order, "desc");
    q->sort = ssi_param(r, "sort");
    return 0;
}

/* Every parameter of a search into @p s. @return 0, or -1 after answering 400. */
static int ssi_search_parse(ssi_req *r, ssi_search *s)
{
    ss_query_search *q = &s->q;
    q->conds = s->conds;
    q->page_size = SSI_DEFAULT_PAGE;
    if (ssi_cone(r, q) || ssi_order(r, q) || ssi_param_page(r, &q->page, &q->page_size) < 0 ||
        ssi_param_num(r, "tagged_since", 0, 1e6, &q->tagged_since) < 0 ||
        ssi_param_bool(r, "count", &q->count) < 0)
        return -1;
    if (!q->tag) /* tags/{tag} gives it in the path */
        q->tag = ssi_param(r, "tag");
    q->object_id = ssi_param(r, "object_id");
    q->catalog = ssi_param(r, "catalog");
    q->watch = ssi_param(r, "watch");
    for (size_t i = 0; i < r->nparams; i++)
        if (!r->params[i].used && ssi_cond(r, &r->params[i], s) < 0)
            return -1;
    if (q->tagged_since > 0 && !q->tag) {
        ssi_reply_error(r, MHD_HTTP_BAD_REQUEST, "parameter 'tagged_since' needs a tag");
        return -1;
    }
    return ssi_params_unused(r) ? -1 : 0;
}

/* Sorts whose key a locus summary shows; any other sort shows its value as "sort_value", which a
 * deployment's merge of pages orders by (peers.c). */
static int ssi_shown_sort(const char *sort)
{
    return !sort || !strcmp(sort, "locus_id") || !strcmp(sort, "separation") ||
           !strcmp(sort, "tagged_mjd") || !strcmp(sort, "newest_alert_observation_time");
}

static json_t *ssi_hit_json(const ss_query_hit *h, const char *sort)
{
    json_t *o = ss_publish_locus_summary(&h->locus);
    if (!ssi_shown_sort(sort))
        json_object_set_new(o, "sort_value", ss_json_num(h->sort_value));
    if (!isnan(h->separation_arcsec))
        json_object_set_new(o, "separation_arcsec", json_real(h->separation_arcsec));
    if (h->tag.mjd > 0) {
        ss_alert a = {.survey = h->tag.survey, .alert_id = h->tag.alert_id};
        char shown[SS_ID_MAX + 64];
        ssi_alert_id_show(&a, shown, sizeof shown);
        json_object_set_new(o, "tagged_mjd", json_real(h->tag.mjd));
        json_object_set_new(o, "tagged_time", ss_json_iso_time(h->tag.time));
        json_object_set_new(o, "tagged_by", ss_json_text(h->tag.filter));
        if (h->tag.alert_id[0])
            json_object_set_new(o, "tagged_alert_id", ss_json_text(shown));
    }
    return o;
}

/* A hit as ssi_hit_json() shapes it, written directly (the JSON pages' hot path). */
static void ssi_hit_write(ss_jw *w, const ss_query_hit *h, const char *sort)
{
    ss_jw_open(w, '{');
    ss_publish_locus_summary_write(w, &h->locus);
    if (!ssi_shown_sort(sort)) {
        ss_jw_key(w, "sort_value");
        ss_jw_num(w, h->sort_value);
    }
    if (!isnan(h->separation_arcsec)) {
        ss_jw_key(w, "separation_arcsec");
        ss_jw_num(w, h->separation_arcsec);
    }
    if (h->tag.mjd > 0) {
        char shown[SS_ID_MAX + 64], iso[32];
        ssi_show_id(h->tag.survey, h->tag.alert_id, SS_ALERT_DETECTION, shown, sizeof shown);
        ss_json_iso_text(h->tag.time, iso);
        ss_jw_key(w, "tagged_mjd");
        ss_jw_num(w, h->tag.mjd);
        ss_jw_key(w, "tagged_time");
        ss_jw_str(w, iso);
        ss_jw_key(w, "tagged_by");
        ss_jw_str(w, h->tag.filter);
        if (h->tag.alert_id[0]) {
            ss_jw_key(w, "tagged_alert_id");
            ss_jw_str(w, shown);
        }
    }
    ss_jw_close(w, '}');
}

static void ssi_page_write(ssi_req *r, const ss_query_page *p, const char *sort)
{
    ss_wbuf b = {0};
    ss_jw w;
    ss_jw_init(&w, &b);
    ss_jw_open(&w, '{');
    if (p->total >= 0) {
        ss_jw_key(&w, "total");
        ss_jw_int(&w, p->total);
    }
    ss_jw_key(&w, "page");
    ss_jw_int(&w, (long long)p->page);
    ss_jw_key(&w, "page_size");
    ss_jw_int(&w, (long long)p->page_size);
    ss_jw_key(&w, "has_next");
    ss_jw_bool(&w, p->has_next);
    ss_jw_key(&w, "index");
    ss_jw_str(&w, p->index ? p->index : "");
    ss_jw_key(&w, "items");
    ss_jw_open(&w, '[');
    for (size_t i = 0; i < p->n; i++)
        ssi_hit_write(&w, &p->hits[i], sort);
    ss_jw_close(&w, ']');
    ss_jw_close(&w, '}');
    if (b.failed) {
        ss_wbuf_free(&b);
        ssi_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
    } else
        ssi_reply_owned(r, MHD_HTTP_OK, "application/json", (char *)b.data, b.len);
}

/* The page's envelope and items, as JSON or CSV. */
static void ssi_page_reply(ssi_req *r, const ss_query_page *p, const char *sort)
{
    if (!r->csv) {
        ssi_page_write(r, p, sort);
        return;
    }
    json_t *items = json_array(), *env = json_object();
    for (size_t i = 0; i < p->n; i++)
        json_array_append_new(items, ssi_hit_json(&p->hits[i], sort));
    if (p->total >= 0)
        json_object_set_new(env, "total", json_integer(p->total));
    json_object_set_new(env, "page", json_integer((json_int_t)p->page));
    json_object_set_new(env, "page_size", json_integer((json_int_t)p->page_size));
    json_object_set_new(env, "has_next", json_boolean(p->has_next));
    json_object_set_new(env, "index", json_string(p->index ? p->index : ""));
    ssi_reply_table(r, env, items, ss_publish_summary_keys);
}

static void ssi_search_run(ssi_req *r, ssi_search *s)
{
    ss_query_page page = {0};
    ss_err err = {0};
    int rc = ss_query_search_run(ssi_store(r), &s->q, &page, &err);
    if (rc)
        ssi_reply_code(r, rc, &err);
    else
        ssi_page_reply(r, &page, s->q.sort);
    ss_query_page_free(&page);
}

void ssi_api_search(ssi_req *r)
{
    ssi_search s = {0};
    if (!ssi_search_parse(r, &s))
        ssi_search_run(r, &s);
}

/* A tag's loci, most recently tagged first unless asked otherwise. */
void ssi_api_tag(ssi_req *r)
{
    ssi_search s = {0};
    if (ssi_param(r, "tag")) {
        ssi_reply_error(r, MHD_HTTP_BAD_REQUEST, "the tag is in the path: /api/v1/tags/TAG");
        return;
    }
    const char *since = ssi_param(r, "since");
    if (since) /* tags/{tag}?since= reads better than tagged_since */
        for (size_t i = 0; i < r->nparams; i++)
            if (!strcmp(r->params[i].key, "since"))
                r->params[i].key = "tagged_since", r->params[i].used = 0;
    s.q.tag = r->seg[3];
    if (ssi_search_parse(r, &s))
        return;
    if (!s.q.sort) {
        s.q.sort = "tagged_mjd";
        s.q.descending = !ssi_param(r, "order") || s.q.descending;
    }
    ssi_search_run(r, &s);
}

/* ---- the tags ---- */

static int ssi_tag_item(void *ctx, const char *tag, double newest_mjd)
{
    json_array_append_new(ctx,
                          json_pack("{s:s, s:f}", "tag", tag, "newest_tagged_mjd", newest_mjd));
    return 0;
}

void ssi_api_tags(ssi_req *r)
{
    if (ssi_params_unused(r))
        return;
    ss_store_txn *txn = ssi_read(r);
    if (!txn)
        return;
    json_t *items = json_array();
    int rc = ss_store_tags_each(txn, ssi_tag_item, items);
    ss_store_txn_abort(txn);
    if (rc) {
        json_decref(items);
        ssi_reply_code(r, rc, NULL);
        return;
    }
    static const char *const columns[] = {"tag", "newest_tagged_mjd", NULL};
    ssi_reply_table(r, NULL, items, columns);
}

/* ---- a cone in a catalog ---- */

static json_t *ssi_row_json(const ss_assoc_match *m)
{
    json_t *o = ss_publish_match(m);
    json_object_del(o, "catalog");
    return o;
}

static const char *const ssi_row_columns[] = {"row", "object_id", "separation_arcsec", NULL};

void ssi_api_catalog_cone(ssi_req *r)
{
    ss_query_search q = {0};
    uint64_t max = 100;
    if (ssi_cone(r, &q) || ssi_param_uint(r, "max", 1, r->srv->conf->max_page_size, &max) < 0 ||
        ssi_params_unused(r))
        return;
    if (!q.cone) {
        ssi_reply_error(r, MHD_HTTP_BAD_REQUEST, "a catalog cone needs ra, dec and radius");
        return;
    }
    ss_store_txn *txn = ssi_read(r);
    if (!txn)
        return;
    ss_arena *arena = ss_arena_new();
    ss_assoc_match *m = NULL;
    size_t n = 0, total = 0;
    ss_err err = {0};
    int rc = arena ? ss_assoc_catalog_cone(txn, r->seg[3], SS_CATALOG_KIND_CATALOG, q.ra, q.dec,
                                           q.radius_arcsec, (size_t)max, arena, &m, &n, &total)
                   : SS_ENOMEM;
    json_t *items = json_array();
    for (size_t i = 0; !rc && i < n; i++)
        json_array_append_new(items, ssi_row_json(&m[i]));
    ss_store_txn_abort(txn);
    ss_arena_free(arena);
    if (rc == SS_ENOTFOUND)
        ss_err_set(&err, rc, "no catalog '%s' (/api/v1/catalogs lists them)", r->seg[3]);
    if (rc) {
        json_decref(items);
        ssi_reply_code(r, rc, &err);
        return;
    }
    ssi_reply_table(r, json_pack("{s:s, s:I}", "catalog", r->seg[3], "total", (json_int_t)total),
                    items, ssi_row_columns);
}
