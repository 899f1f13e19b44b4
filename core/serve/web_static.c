/* /static/{name}: the pages' stylesheet, scripts and icon (core/serve/web/), embedded in the binary
 * at build time (embed.cmake), so that a server needs no file beside it and no network. A page
 * names each with its content's hash (?v=); that URL never changes meaning, so browsers keep it a
 * year; any other is kept five minutes, and revalidated by its ETag. */
#include "web_impl.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* embedded by the build (core/CMakeLists.txt) */
extern const char ssi_web_asset_site_css[], ssi_web_asset_site_js[], ssi_web_asset_locus_js[],
    ssi_web_asset_live_js[], ssi_web_asset_broker_js[], ssi_web_asset_favicon_svg[];

typedef struct ssi_asset {
    const char *name, *ctype, *data;
    size_t len;
    char hash[17]; /* FNV-1a 64 of the content, hex */
    char etag[20]; /* "hash" */
} ssi_asset;

static ssi_asset ssi_assets[] = {
    {"site.css", "text/css; charset=utf-8", ssi_web_asset_site_css, 0, "", ""},
    {"site.js", "text/javascript; charset=utf-8", ssi_web_asset_site_js, 0, "", ""},
    {"locus.js", "text/javascript; charset=utf-8", ssi_web_asset_locus_js, 0, "", ""},
    {"live.js", "text/javascript; charset=utf-8", ssi_web_asset_live_js, 0, "", ""},
    {"broker.js", "text/javascript; charset=utf-8", ssi_web_asset_broker_js, 0, "", ""},
    {"favicon.svg", "image/svg+xml", ssi_web_asset_favicon_svg, 0, "", ""},
};

#define SSI_NASSETS (sizeof ssi_assets / sizeof *ssi_assets)

static pthread_once_t ssi_assets_once = PTHREAD_ONCE_INIT;

static void ssi_assets_init(void)
{
    for (size_t i = 0; i < SSI_NASSETS; i++) {
        ssi_asset *a = &ssi_assets[i];
        a->len = strlen(a->data);
        unsigned long long h = 0xcbf29ce484222325ULL;
        for (size_t k = 0; k < a->len; k++)
            h = (h ^ (unsigned char)a->data[k]) * 0x100000001b3ULL;
        snprintf(a->hash, sizeof a->hash, "%016llx", h);
        a->etag[0] = '"';
        memcpy(a->etag + 1, a->hash, 16);
        a->etag[17] = '"';
        a->etag[18] = '\0';
    }
}

static const ssi_asset *ssi_asset_find(const char *name)
{
    pthread_once(&ssi_assets_once, ssi_assets_init);
    for (size_t i = 0; i < SSI_NASSETS; i++)
        if (!strcmp(ssi_assets[i].name, name))
            return &ssi_assets[i];
    return NULL;
}

void ssi_web_asset_url(const char *name, ssi_url *u)
{
    const ssi_asset *a = ssi_asset_find(name);
    ssi_url_init(u, "/static/");
    ssi_url_seg(u, name);
    if (a)
        ssi_url_param(u, "v", a->hash);
}

void ssi_web_static(ssi_req *r)
{
    const ssi_asset *a = ssi_asset_find(r->seg[1]);
    if (!a) {
        ssi_reply_error(r, MHD_HTTP_NOT_FOUND, "no asset '%.64s'", r->seg[1]);
        return;
    }
    const char *v = ssi_param(r, "v");
    int versioned = v && !strcmp(v, a->hash);
    const char *inm = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "If-None-Match");
    if (inm && strstr(inm, a->etag))
        ssi_reply_bytes(r, MHD_HTTP_NOT_MODIFIED, a->ctype, "", 0);
    else
        ssi_reply_bytes(r, MHD_HTTP_OK, a->ctype, a->data, a->len);
    r->headers[0] = "Cache-Control";
    r->headers[1] = versioned ? "public, max-age=31536000, immutable" : "public, max-age=300";
    r->headers[2] = "ETag";
    r->headers[3] = a->etag;
    r->headers[4] = "X-Content-Type-Options";
    r->headers[5] = "nosniff";
    r->nheaders = 6;
}
