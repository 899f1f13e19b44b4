/* /api/v1: the index, statistics, catalogs and watch lists, the running broker's filters and the
 * OpenAPI document. */
#include "serve_impl.h"

#include "broker.h"
#include "catalog.h"
#include "json_text.h"
#include "query.h"
#include "skysieve/skysieve.h"

#include <string.h>

extern const char ss_serve_openapi_json[]; /* openapi.json, embedded by the build */

/* Keep only the last part of the path in @p key of @p o. */
static void ssi_basename(json_t *o, const char *key)
{
    const char *path = json_string_value(json_object_get(o, key));
    const char *slash = path ? strrchr(path, '/') : NULL;
    if (slash)
        json_object_set_new(o, key, json_string(slash + 1));
}

void ssi_api_root(ssi_req *r)
{
    if (ssi_params_unused(r))
        return;
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "name", "skysieve", "version",
                          ss_version(NULL, NULL, NULL), "api", "/api/v1", "openapi",
                          "/api/v1/openapi.json");
    json_object_set_new(o, "alerce", json_string("/ztf/v1"));
    ssi_reply_json(r, MHD_HTTP_OK, o);
}

void ssi_api_openapi(ssi_req *r)
{
    if (ssi_params_unused(r))
        return;
    ssi_reply_bytes(r, MHD_HTTP_OK, "application/json", ss_serve_openapi_json,
                    strlen(ss_serve_openapi_json));
}

void ssi_api_stats(ssi_req *r)
{
    if (ssi_params_unused(r))
        return;
    json_t *o = NULL;
    ss_err err = {0};
    int rc = ss_query_stats(ssi_store(r), &o, &err);
    if (rc) {
        ssi_reply_code(r, rc, &err);
        return;
    }
    json_object_set_new(o, "version", json_string(ss_version(NULL, NULL, NULL)));
    ssi_basename(o, "store");
    ssi_basename(json_object_get(o, "last_ingest"), "first_input");
    const ss_serve_conf *c = r->srv->conf;
    json_object_set_new(o, "peers", json_integer((json_int_t)c->npeers));
    json_object_set_new(o, "instance", json_integer(r->srv->instance));
    if (c->nside)
        json_object_set_new(o, "nside", json_integer(c->nside));
    if (c->regions)
        json_object_set_new(o, "regions", json_integer(c->regions));
    json_t *parts = json_array();
    for (size_t i = 0; i < c->npartitions; i++)
        json_array_append_new(parts, json_integer(c->partitions[i]));
    json_object_set_new(o, "partitions", parts);
    ssi_reply_json(r, MHD_HTTP_OK, o);
}

static const char *const ssi_catalog_columns[] = {
    "name", "kind", "state", "rows", "bad_rows", "radius_arcsec", "source", "loaded", NULL};

static void ssi_catalogs(ssi_req *r, ss_catalog_kind kind)
{
    if (ssi_params_unused(r))
        return;
    json_t *arr = NULL;
    ss_err err = {0};
    int rc = ss_assoc_catalog_list(ssi_store(r), kind, &arr, &err);
    if (rc) {
        ssi_reply_code(r, rc, &err);
        return;
    }
    size_t i;
    json_t *c;
    json_array_foreach(arr, i, c)
    { /* a webhook is a secret of the operator's, a path a detail of its machine */
        json_object_del(c, "webhook");
        ssi_basename(c, "source");
    }
    ssi_reply_table(r, NULL, arr, ssi_catalog_columns);
}

void ssi_api_catalogs(ssi_req *r)
{
    ssi_catalogs(r, SS_CATALOG_KIND_CATALOG);
}

void ssi_api_watch(ssi_req *r)
{
    ssi_catalogs(r, SS_CATALOG_KIND_WATCH);
}

/* The running broker's status, through its control socket: per-filter counters. */
void ssi_api_filters(ssi_req *r)
{
    const ss_serve_conf *c = r->srv->conf;
    if (ssi_params_unused(r))
        return;
    if (!c->control) {
        ssi_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE,
                        "no broker to ask: serve with --config FILE of a running broker");
        return;
    }
    json_t *o = NULL;
    ss_err err = {0};
    if (ss_broker_ctl(c->control, c->secret, "status", NULL, 2.0, &o, &err)) {
        ssi_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "the broker did not answer: %s", err.msg);
        return;
    }
    json_t *st = json_incref(json_object_get(o, "status"));
    json_t *filters = json_incref(json_object_get(st, "filters"));
    if (!filters) {
        const char *e = json_string_value(json_object_get(o, "error"));
        ssi_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "the broker said: %s",
                        e ? e : "no filters");
        json_decref(o), json_decref(st);
        return;
    }
    json_decref(o);
    o = st;
    json_object_del(o, "filters");
    static const char *const columns[] = {"label", "name", NULL};
    ssi_reply_table(r, json_pack("{s:o}", "broker", o), filters, columns);
}
