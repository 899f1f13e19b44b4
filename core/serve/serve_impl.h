/* Private to core/serve/: the server, one request, its parameters and its answer. */
#ifndef SS_SERVE_IMPL_H
#define SS_SERVE_IMPL_H

#include "serve.h"
#include "buf.h"
#include "store.h"

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdint.h>

typedef struct ssi_limiter ssi_limiter;
typedef struct ssi_streams ssi_streams;
typedef struct ssi_peers ssi_peers;
typedef struct ssi_reaper ssi_reaper;
typedef struct ssi_conn ssi_conn;

/* The running server. Read-only after start, except what its own locks guard. */
typedef struct ssi_server {
    const ss_serve_conf *conf;
    const ss_log *log;
    ss_store *store; /* read-only; each request takes its own snapshot */
    ssi_limiter *limiter;
    ssi_streams *streams;
    ssi_peers *peers;   /* [serve] peers: the deployment answered as one (peers.c) */
    ssi_reaper *reaper; /* cuts clients too slow to send their headers (reaper.c) */
    unsigned instance;  /* this instance's number, known once the store is open */
} ssi_server;

/* One query parameter, as MHD unescaped it. */
typedef struct ssi_param {
    const char *key, *value;
    int used;
} ssi_kv;

#define SSI_MAX_SEGS         8
#define SSI_API_PAGE_SIZE    100 /* /api/v1 searches' default page */
#define SSI_ALERCE_PAGE_SIZE 10  /* ALeRCE's default page */
#define SSI_MAX_PARAMS       64

/* One request: its route, parameters and answer. Owned by MHD's per-request slot; freed when MHD
 * says the request is complete. */
typedef struct ssi_req {
    ssi_server *srv;
    struct MHD_Connection *conn;
    char path[1024];   /* normalised: no empty segments, no trailing slash */
    char segbuf[1024]; /* the segments, split in a copy of path */
    char *seg[SSI_MAX_SEGS];
    size_t nseg;
    ssi_kv params[SSI_MAX_PARAMS];
    size_t nparams;
    int too_many_params;
    const char *route; /* the route's pattern, for the access log */
    char method[16];   /* for the access log */
    int csv;           /* format=csv */
    int had_body;      /* the request came with a body (refused) */
    int internal;      /* X-Skysieve-Local: a peer asks for this instance's own answer */
    int trusted;       /* ... and may page deeper (it has the token, or no other machine can ask) */
    int preflight;     /* an OPTIONS request, answered with the CORS headers */
    char fed_size[24]; /* a federated search's page size, for the local run */
    /* the answer */
    unsigned status;
    const char *ctype;
    char *body; /* malloc'd; handed to MHD */
    size_t len;
    char retry_after[16];
    char disposition[256];  /* Content-Disposition of a file answer, or "" */
    const char *headers[8]; /* more headers of the answer: name, value, ... (static or r's own) */
    size_t nheaders;
    double t0;
    char client[64];
} ssi_req;

/* ---- answers (reply.c) ---- */

/* Answer @p o (stolen) as JSON with @p status. */
void ssi_reply_json(ssi_req *r, unsigned status, json_t *o);
/* Answer {"error": reason phrase of @p status, "detail": printf}. */
void ssi_reply_error(ssi_req *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Answer a store or query code: 404 not found, 400 bad parameter or limit, 409 ambiguous, 503
 * store unavailable; @p err's message is the detail. */
void ssi_reply_code(ssi_req *r, int code, const ss_err *err);
/* Answer @p body (malloc'd, taken) of @p len bytes with a content type. */
void ssi_reply_owned(ssi_req *r, unsigned status, const char *ctype, char *body, size_t len);
/* Answer bytes (copied) with a content type. */
void ssi_reply_bytes(ssi_req *r, unsigned status, const char *ctype, const void *data, size_t len);
/* Answer a table: with format=csv, a CSV whose header is @p columns (NULL-terminated, may be
 * NULL), then every other key the items have, so an empty table still has its header;
 * otherwise @p envelope (stolen, may be NULL: a bare {"items": ...}) with "items" set to @p items
 * (stolen). */
void ssi_reply_table(ssi_req *r, json_t *envelope, json_t *items, const char *const *columns);
/* CSV written directly: a field (quoted when it must be), a number (empty when absent), a header
 * line. */
void ssi_csv_put(ss_wbuf *b, const char *s);
void ssi_csv_num(ss_wbuf *b, double v);
void ssi_csv_header(ss_wbuf *b, const char *const *columns);
/* Render @p items as CSV text (malloc'd), @p columns first; nested values as JSON text. */
char *ssi_csv(json_t *items, const char *const *columns, size_t *len);

/* The leading CSV columns of an ALeRCE object (alerce.c). */
extern const char *const ssi_alerce_item_columns[];

/* ---- parameters (params.c) ---- */

/* The last value of @p key, or NULL; marks it used. */
const char *ssi_param(ssi_req *r, const char *key);
/* A number in [lo, hi] (finite); @return 1 when present and good, 0 absent, -1 after answering
 * 400 naming the parameter. */
int ssi_param_num(ssi_req *r, const char *key, double lo, double hi, double *out);
/* A whole number in [lo, hi]; same returns. */
int ssi_param_uint(ssi_req *r, const char *key, uint64_t lo, uint64_t hi, uint64_t *out);
/* true/false/1/0; same returns. */
int ssi_param_bool(ssi_req *r, const char *key, int *out);
/* Answer 400 for a parameter no route took (a typo must not silently widen a search). @return 1
 * when it did. */
int ssi_params_unused(ssi_req *r);
/* Page and page size ("page", "page_size"; the server's maximum); same returns as ssi_param_num,
 * 0 when both are defaults. */
int ssi_param_page(ssi_req *r, size_t *page, size_t *page_size);

/* ---- the store (server.c) ---- */

/* The store (opened read-only at start). */
ss_store *ssi_store(ssi_req *r);
/* A read snapshot (NULL after answering 503). */
ss_store_txn *ssi_read(ssi_req *r);

/* ---- routes ---- */

typedef void (*ssi_handler)(ssi_req *r);

/* Find and run the route of @p r; 404 or 405 when none. */
void ssi_route(ssi_req *r, const char *method);

/* /api/v1 (api_*.c) */
void ssi_api_locus(ssi_req *r);
void ssi_api_lightcurve(ssi_req *r);
void ssi_api_search(ssi_req *r);
void ssi_api_alert(ssi_req *r);
void ssi_api_cutout(ssi_req *r);
void ssi_api_tags(ssi_req *r);
void ssi_api_tag(ssi_req *r);
void ssi_api_catalogs(ssi_req *r);
void ssi_api_catalog_cone(ssi_req *r);
void ssi_api_watch(ssi_req *r);
void ssi_api_stats(ssi_req *r);
void ssi_api_filters(ssi_req *r);
void ssi_api_openapi(ssi_req *r);
void ssi_api_stream(ssi_req *r);
void ssi_api_root(ssi_req *r);

/* the pages and their assets (web_*.c, web_impl.h) */
void ssi_web_search(ssi_req *r);
void ssi_web_locus(ssi_req *r);
void ssi_web_tags(ssi_req *r);
void ssi_web_tag(ssi_req *r);
void ssi_web_broker(ssi_req *r);
void ssi_web_static(ssi_req *r);

/* /ztf/v1 (alerce.c) */
void ssi_alerce_objects(ssi_req *r);
void ssi_alerce_object(ssi_req *r);
void ssi_alerce_detections(ssi_req *r);
void ssi_alerce_non_detections(ssi_req *r);
void ssi_alerce_lightcurve(ssi_req *r);
void ssi_alerce_magstats(ssi_req *r);
void ssi_alerce_features(ssi_req *r);
void ssi_alerce_feature(ssi_req *r);
void ssi_alerce_probabilities(ssi_req *r);
void ssi_alerce_classifiers(ssi_req *r);

/* A view of one alert (api_locus.c): answers @p r from the alert of the path's id (segment 3),
 * read in @p txn; @return 0 once it has answered, or a code for ssi_reply_code(). */
typedef int (*ssi_alert_view)(ssi_req *r, ss_store_txn *txn, ss_alert *a, ss_packet *pkt,
                              void *ctx);
/* Refuse unused parameters, find the alert of segment 3 (shown or bare id) in one snapshot and
 * run @p view on it; a missing or ambiguous alert is answered here. */
void ssi_alert_route(ssi_req *r, ssi_alert_view view, void *ctx);
/* The pictures (api_pictures.c): /loci/{id}/lightcurve.svg and .png, cutouts/{kind}.png. */
void ssi_api_lightcurve_svg(ssi_req *r);
void ssi_api_lightcurve_png(ssi_req *r);
void ssi_api_cutout_png(ssi_req *r);

/* ---- alert ids as the API shows them (ids.c) ---- */

/* "<survey>_<kind>:<id>" as ANTARES shows alert ids (README "Alert ids"). */
void ssi_alert_id_show(const ss_alert *a, char *out, size_t cap);
/* ssi_alert_id_show() for the writers of core/publish (ss_publish_id_fn). */
void ssi_show_id(const char *survey, const char *alert_id, ss_alert_kind kind, char *buf,
                 size_t cap);
/* Rewrite an alert's JSON ({survey, alert_id, kind, ...}) as the API shows it: alert_id shown,
 * the survey's own id as survey_alert_id. */
void ssi_alert_json_show(json_t *aj);
/* Split an API alert id into survey and the survey's id; @return 1 when it had a known prefix,
 * 0 for a bare id (survey NULL), -1 when malformed. @p buf holds the copies. */
int ssi_alert_id_parse(const char *shown, char *buf, size_t cap, const char **survey,
                       const char **id);

/* ---- limits (limits.c) ---- */

ssi_limiter *ssi_limiter_new(double rate, double burst);
void ssi_limiter_free(ssi_limiter *l);
/* Take one request of @p client; @return 0, or the seconds to wait before the next is allowed. */
double ssi_limiter_take(ssi_limiter *l, const char *client);
/* Compare a presented token with the configured one in time independent of where they differ. */
int ssi_token_equal(const char *given, const char *want);

/* ---- several instances (peers.c) ---- */

/* How a route is answered for a deployment: here only; by the instance a locus id names (or
 * every instance, for another id in segment seg); merged sorted pages; merged tags; counts. */
typedef enum ssi_fed_mode {
    SSI_FED_LOCAL,
    SSI_FED_BY_ID,
    SSI_FED_SEARCH,
    SSI_FED_TAGS,
    SSI_FED_STATS,
} ssi_fed_mode;

ssi_peers *ssi_peers_new(const ss_serve_conf *c);
void ssi_peers_free(ssi_peers *p);
/* Answer @p r for the whole deployment; @p page_size is a search route's default. */
void ssi_fed_route(ssi_req *r, ssi_handler fn, ssi_fed_mode mode, int seg, size_t page_size);

/* ---- slow clients (reaper.c) ---- */

ssi_reaper *ssi_reaper_new(double header_timeout);
void ssi_reaper_free(ssi_reaper *rp);
/* MHD's connection notifications (MHD_OPTION_NOTIFY_CONNECTION, cls: the server). */
void ssi_reaper_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                       enum MHD_ConnectionNotificationCode toe);
/* A request's headers are in (busy 1), or its answer is done (busy 0: the clock restarts). */
void ssi_reaper_mark(ssi_server *srv, struct MHD_Connection *conn, int busy);

/* ---- server-sent events (stream.c) ---- */

ssi_streams *ssi_streams_new(ssi_server *srv);
/* End every stream before the daemon stops. */
void ssi_streams_close(ssi_streams *s);
void ssi_streams_free(ssi_streams *s);

#endif
