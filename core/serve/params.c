/* Query parameters: typed, bounded, and named in every refusal. */
#include "serve_impl.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *ssi_param(ssi_req *r, const char *key)
{
    const char *v = NULL;
    for (size_t i = 0; i < r->nparams; i++)
        if (!strcmp(r->params[i].key, key)) {
            v = r->params[i].value;
            r->params[i].used = 1;
        }
    return v;
}

int ssi_param_num(ssi_req *r, const char *key, double lo, double hi, double *out)
{
    const char *v = ssi_param(r, key);
    if (!v)
        return 0;
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (end == v || *end || errno || !isfinite(d) || d < lo || d > hi) {
        ssi_reply_error(r, MHD_HTTP_BAD_REQUEST,
                        "parameter '%s': wants a number from %g to %g, not '%.64s'", key, lo, hi,
                        v);
        return -1;
    }
    *out = d;
    return 1;
}

int ssi_param_uint(ssi_req *r, const char *key, uint64_t lo, uint64_t hi, uint64_t *out)
{
    const char *v = ssi_param(r, key);
    if (!v)
        return 0;
    char *end;
    errno = 0;
    unsigned long long u = strtoull(v, &end, 10);
    if (end == v || *end || errno || v[0] == '-' || u < lo || u > hi) {
        ssi_reply_error(r, MHD_HTTP_BAD_REQUEST,
                        "parameter '%s': wants a whole number from %llu to %llu, not '%.64s'", key,
                        (unsigned long long)lo, (unsigned long long)hi, v);
        return -1;
    }
    *out = u;
    return 1;
}

int ssi_param_bool(ssi_req *r, const char *key, int *out)
{
    const char *v = ssi_param(r, key);
    if (!v)
        return 0;
    if (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes") || !*v)
        return *out = 1;
    if (!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no"))
        return *out = 0, 1;
    ssi_reply_error(r, MHD_HTTP_BAD_REQUEST, "parameter '%s': wants true or false, not '%.64s'",
                    key, v);
    return -1;
}

int ssi_param_page(ssi_req *r, size_t *page, size_t *page_size)
{
    uint64_t p = 1, ps = *page_size;
    int a = ssi_param_uint(r, "page", 1, 1000000000, &p);
    /* a peer's federated search fetches deeper than a client may (peers.c) */
    size_t max = r->srv->conf->max_page_size * (r->trusted ? 10 : 1);
    int b = a < 0 ? -1 : ssi_param_uint(r, "page_size", 1, max, &ps);
    if (a < 0 || b < 0)
        return -1;
    *page = (size_t)p;
    *page_size = (size_t)ps;
    return a || b;
}

int ssi_params_unused(ssi_req *r)
{
    for (size_t i = 0; i < r->nparams; i++)
        if (!r->params[i].used && strcmp(r->params[i].key, "format") &&
            strcmp(r->params[i].key, "access_token")) {
            ssi_reply_error(r, MHD_HTTP_BAD_REQUEST,
                            "unknown parameter '%.64s' for %s (the API's parameters are listed "
                            "at /api/v1/openapi.json)",
                            r->params[i].key, r->route);
            return 1;
        }
    return 0;
}
