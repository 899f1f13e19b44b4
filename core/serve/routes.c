/* The route table: each route a pattern of path segments ("{}" matches one segment) and its
 * handler. The pattern is also what the access log names, so ids never reach the log. */
#include "serve_impl.h"

#include <string.h>

typedef struct ssi_route_def {
    const char *pattern; /* as documented, e.g. /api/v1/loci/{id} */
    ssi_handler fn;
    ssi_fed_mode fed; /* with peers */
    int seg;          /* SSI_FED_BY_ID: the id's segment */
    size_t page_size; /* SSI_FED_SEARCH: the default page size */
} ssi_route_def;

static const ssi_route_def ssi_routes[] = {
    {"/api/v1", ssi_api_root, SSI_FED_LOCAL, 0, 0},
    {"/api/v1/openapi.json", ssi_api_openapi, SSI_FED_LOCAL, 0, 0},
    {"/api/v1/loci", ssi_api_search, SSI_FED_SEARCH, 0, SSI_API_PAGE_SIZE},
    {"/api/v1/loci/{id}", ssi_api_locus, SSI_FED_BY_ID, 3, 0},
    {"/api/v1/loci/{id}/lightcurve", ssi_api_lightcurve, SSI_FED_BY_ID, 3, 0},
    {"/api/v1/loci/{id}/lightcurve.svg", ssi_api_lightcurve_svg, SSI_FED_BY_ID, 3, 0},
    {"/api/v1/loci/{id}/lightcurve.png", ssi_api_lightcurve_png, SSI_FED_BY_ID, 3, 0},
    {"/api/v1/alerts/{alert_id}", ssi_api_alert, SSI_FED_BY_ID, 3, 0},
    /* before the stamp's bytes: "{kind}.png" takes the segments ending in .png */
    {"/api/v1/alerts/{alert_id}/cutouts/{kind}.png", ssi_api_cutout_png, SSI_FED_BY_ID, 3, 0},
    {"/api/v1/alerts/{alert_id}/cutouts/{kind}", ssi_api_cutout, SSI_FED_BY_ID, 3, 0},
    {"/api/v1/tags", ssi_api_tags, SSI_FED_TAGS, 0, 0},
    {"/api/v1/tags/{tag}", ssi_api_tag, SSI_FED_SEARCH, 0, SSI_API_PAGE_SIZE},
    {"/api/v1/catalogs", ssi_api_catalogs, SSI_FED_LOCAL, 0, 0},
    {"/api/v1/catalogs/{name}/cone", ssi_api_catalog_cone, SSI_FED_LOCAL, 0, 0},
    {"/api/v1/watch", ssi_api_watch, SSI_FED_LOCAL, 0, 0},
    {"/api/v1/stats", ssi_api_stats, SSI_FED_STATS, 0, 0},
    {"/api/v1/filters", ssi_api_filters, SSI_FED_LOCAL, 0, 0},
    {"/api/v1/stream", ssi_api_stream, SSI_FED_LOCAL, 0, 0},
    {"/ztf/v1/objects", ssi_alerce_objects, SSI_FED_SEARCH, 0, SSI_ALERCE_PAGE_SIZE},
    {"/ztf/v1/objects/{oid}", ssi_alerce_object, SSI_FED_BY_ID, 3, 0},
    {"/ztf/v1/objects/{oid}/detections", ssi_alerce_detections, SSI_FED_BY_ID, 3, 0},
    {"/ztf/v1/objects/{oid}/non_detections", ssi_alerce_non_detections, SSI_FED_BY_ID, 3, 0},
    {"/ztf/v1/objects/{oid}/lightcurve", ssi_alerce_lightcurve, SSI_FED_BY_ID, 3, 0},
    {"/ztf/v1/objects/{oid}/magstats", ssi_alerce_magstats, SSI_FED_BY_ID, 3, 0},
    {"/ztf/v1/objects/{oid}/features", ssi_alerce_features, SSI_FED_BY_ID, 3, 0},
    {"/ztf/v1/objects/{oid}/features/{name}", ssi_alerce_feature, SSI_FED_BY_ID, 3, 0},
    {"/ztf/v1/objects/{oid}/probabilities", ssi_alerce_probabilities, SSI_FED_BY_ID, 3, 0},
    {"/ztf/v1/classifiers", ssi_alerce_classifiers, SSI_FED_LOCAL, 0, 0},
    /* the pages (web_*.c): this instance's store, as the API shows it */
    {"/", ssi_web_search, SSI_FED_LOCAL, 0, 0},
    {"/search", ssi_web_search, SSI_FED_LOCAL, 0, 0},
    {"/loci/{id}", ssi_web_locus, SSI_FED_LOCAL, 0, 0},
    {"/tags", ssi_web_tags, SSI_FED_LOCAL, 0, 0},
    {"/tags/{tag}", ssi_web_tag, SSI_FED_LOCAL, 0, 0},
    {"/broker", ssi_web_broker, SSI_FED_LOCAL, 0, 0},
    {"/static/{name}", ssi_web_static, SSI_FED_LOCAL, 0, 0},
};

/* A pattern's "{name}" matches any segment; "{name}.png" one that ends so, with more before. */
static int ssi_suffix_fits(const char *seg, const char *pat, size_t n)
{
    const char *close = memchr(pat, '}', n);
    size_t suf = close ? n - (size_t)(close + 1 - pat) : 0, len = strlen(seg);
    return !suf || (len > suf && !memcmp(seg + len - suf, close + 1, suf));
}

/* Whether the request's segments fit @p pattern. */
static int ssi_match(const ssi_req *r, const char *pattern)
{
    if (!strcmp(pattern, "/")) /* the site's root: no segment */
        return r->nseg == 0;
    size_t i = 0;
    const char *p = pattern;
    while (*p == '/') {
        const char *start = ++p;
        p += strcspn(p, "/");
        if (i == r->nseg)
            return 0;
        size_t n = (size_t)(p - start);
        int any = start[0] == '{';
        if (!any && (strlen(r->seg[i]) != n || memcmp(r->seg[i], start, n)))
            return 0;
        if (any && !ssi_suffix_fits(r->seg[i], start, n))
            return 0;
        i++;
    }
    return i == r->nseg;
}

void ssi_route(ssi_req *r, const char *method)
{
    (void)method;
    const char *fmt = ssi_param(r, "format");
    if (fmt && strcmp(fmt, "csv") && strcmp(fmt, "json")) {
        ssi_reply_error(r, MHD_HTTP_BAD_REQUEST, "parameter 'format': json or csv, not '%.32s'",
                        fmt);
        return;
    }
    r->csv = fmt && !strcmp(fmt, "csv");
    for (size_t i = 0; i < sizeof ssi_routes / sizeof *ssi_routes; i++)
        if (ssi_match(r, ssi_routes[i].pattern)) {
            const ssi_route_def *d = &ssi_routes[i];
            r->route = d->pattern;
            if (r->srv->conf->npeers && !r->internal && d->fed != SSI_FED_LOCAL)
                ssi_fed_route(r, d->fn, d->fed, d->seg, d->page_size);
            else
                d->fn(r);
            return;
        }
    ssi_reply_error(r, MHD_HTTP_NOT_FOUND,
                    "no route %.200s (the routes are listed at "
                    "/api/v1/openapi.json)",
                    r->path);
}
