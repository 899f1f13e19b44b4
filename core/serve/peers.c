/* A deployment of several instances answered as one ([serve] peers; README "Several machines").
 * Each instance holds the loci of its sky regions; a locus id names its instance. This server
 * forwards a request to its peers with X-Skysieve-Local (so that they answer from their own store
 * only), in parallel, and joins the answers: a locus id goes to its instance, a survey object id
 * to all, a cone to the instances whose regions it touches, a search or a tag page is merged from
 * the instances' sorted pages. */
#include "serve_impl.h"

#include "partition.h"
#include "publish.h"
#include "store.h"

#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SSI_FED_TIMEOUT_MS 10000L
#define SSI_FED_SAMPLES    20000 /* points tested for a cone's regions before asking everyone */

/* One answer of one instance: the local one (peer -1) or a peer's. */
typedef struct ssi_answer {
    int peer;
    long status;
    ss_wbuf buf; /* a peer's body as it comes */
    char *body;  /* the body: buf's bytes, NUL-terminated */
    size_t len;
    char ctype[128];
    json_t *json; /* parsed when needed */
} ssi_answer;

struct ssi_peers {
    pthread_mutex_t lock;
    const ss_serve_conf *conf;
    unsigned instance[SS_SERVE_MAX_PEERS]; /* 0: not known yet */
    int32_t *parts[SS_SERVE_MAX_PEERS];    /* their regions' partitions */
    size_t nparts[SS_SERVE_MAX_PEERS];
};

ssi_peers *ssi_peers_new(const ss_serve_conf *c)
{
    ssi_peers *p = calloc(1, sizeof *p);
    if (p) {
        pthread_mutex_init(&p->lock, NULL);
        p->conf = c;
    }
    return p;
}

void ssi_peers_free(ssi_peers *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < SS_SERVE_MAX_PEERS; i++)
        free(p->parts[i]);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* ---- fetching ---- */

static size_t ssi_take(char *data, size_t size, size_t n, void *ctx)
{
    ss_wbuf *b = &((ssi_answer *)ctx)->buf;
    ss_wbuf_bytes(b, data, size * n);
    return b->failed ? 0 : size * n;
}

static CURL *ssi_easy(const ss_serve_conf *c, const char *url, struct curl_slist *hdr,
                      ssi_answer *a)
{
    CURL *e = curl_easy_init();
    if (!e)
        return NULL;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, ssi_take);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, SSI_FED_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http");
    (void)c;
    return e;
}

/* GET @p target (path and query) from each peer with want[i] set, in parallel. answers[i] is
 * peer i's (status 0 when it did not answer). */
static void ssi_fetch(const ss_serve_conf *c, const char *target, const int *want,
                      ssi_answer *answers)
{
    struct curl_slist *hdr = curl_slist_append(NULL, "X-Skysieve-Local: 1");
    char auth[600];
    if (c->token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->token);
        hdr = curl_slist_append(hdr, auth);
    }
    CURLM *m = curl_multi_init();
    CURL *easy[SS_SERVE_MAX_PEERS] = {0};
    for (size_t i = 0; i < c->npeers; i++) {
        answers[i] = (ssi_answer){.peer = (int)i};
        char *url = NULL;
        if (!want[i] || asprintf(&url, "%s%s", c->peers[i], target) < 0)
            continue;
        if ((easy[i] = ssi_easy(c, url, hdr, &answers[i])))
            curl_multi_add_handle(m, easy[i]);
        free(url);
    }
    int running = 1;
    while (running) {
        curl_multi_perform(m, &running);
        if (running)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    for (size_t i = 0; i < c->npeers; i++) {
        if (!easy[i])
            continue;
        char *ct = NULL;
        ss_wbuf_bytes(&answers[i].buf, "", 1); /* NUL-terminated for the JSON parser */
        answers[i].body = answers[i].buf.failed ? NULL : (char *)answers[i].buf.data;
        answers[i].len = answers[i].body ? answers[i].buf.len - 1 : 0;
        curl_easy_getinfo(easy[i], CURLINFO_RESPONSE_CODE, &answers[i].status);
        curl_easy_getinfo(easy[i], CURLINFO_CONTENT_TYPE, &ct);
        snprintf(answers[i].ctype, sizeof answers[i].ctype, "%s", ct ? ct : "application/json");
        curl_multi_remove_handle(m, easy[i]);
        curl_easy_cleanup(easy[i]);
    }
    curl_multi_cleanup(m);
    curl_slist_free_all(hdr);
}

static void ssi_answers_free(ssi_answer *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i].body != (char *)a[i].buf.data) /* the local answer's own body */
            free(a[i].body);
        ss_wbuf_free(&a[i].buf);
        json_decref(a[i].json);
    }
}

static json_t *ssi_answer_json(ssi_answer *a)
{
    if (!a->json && a->body && a->status == 200)
        a->json = json_loadb(a->body, a->len, 0, NULL);
    return a->json;
}

/* ---- who holds what ---- */

/* Each peer's instance number and regions, from its /api/v1/stats, asked once. */
static void ssi_learn(ssi_peers *p)
{
    const ss_serve_conf *c = p->conf;
    int want[SS_SERVE_MAX_PEERS];
    size_t missing = 0;
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < c->npeers; i++)
        missing += want[i] = p->instance[i] == 0;
    pthread_mutex_unlock(&p->lock);
    if (!missing)
        return;
    ssi_answer a[SS_SERVE_MAX_PEERS];
    ssi_fetch(c, "/api/v1/stats", want, a);
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < c->npeers; i++) {
        json_t *st = want[i] ? ssi_answer_json(&a[i]) : NULL, *parts, *v;
        if (!st || p->instance[i])
            continue;
        p->instance[i] = (unsigned)json_integer_value(json_object_get(st, "instance"));
        parts = json_object_get(st, "partitions");
        free(p->parts[i]);
        p->parts[i] = calloc(json_array_size(parts) + 1, sizeof *p->parts[i]);
        p->nparts[i] = 0;
        size_t k;
        json_array_foreach(parts, k, v) p->parts[i][p->nparts[i]++] =
            (int32_t)json_integer_value(v);
    }
    pthread_mutex_unlock(&p->lock);
    ssi_answers_free(a, c->npeers);
}

/* The peer holding instance @p inst, or -1. */
static int ssi_peer_of(ssi_peers *p, unsigned inst)
{
    ssi_learn(p);
    pthread_mutex_lock(&p->lock);
    int found = -1;
    for (size_t i = 0; i < p->conf->npeers && found < 0; i++)
        if (p->instance[i] == inst)
            found = (int)i;
    pthread_mutex_unlock(&p->lock);
    return found;
}

static int ssi_holds(const int32_t *parts, size_t n, int64_t part)
{
    for (size_t i = 0; i < n; i++)
        if (parts[i] == part)
            return 1;
    return 0;
}

/* Mark in @p touched (one flag per partition) the regions a cone may draw loci from: its disc
 * widened by a pixel's width twice (sampling) and by three association radii (a border locus
 * lives where its first alert's region was). @return 0, or -1 when too many samples: ask all. */
static int ssi_cone_regions(const ss_serve_conf *c, double ra, double dec, double radius_deg,
                            double assoc_deg, unsigned char *touched)
{
    double width = 58.6 / (double)c->nside; /* degrees: sqrt(4 pi / 12) rad / nside */
    double reach = radius_deg + 2 * width + 3 * assoc_deg, step = width / 3;
    double cosd = cos(dec * M_PI / 180);
    int half = (int)ceil(reach / step);
    if ((double)(2 * half + 1) * (2 * half + 1) > SSI_FED_SAMPLES || cosd < 1e-3)
        return -1;
    for (int i = -half; i <= half; i++)
        for (int j = -half; j <= half; j++) {
            double d = dec + i * step, a = ra + j * step / cosd;
            if (d > 90 || d < -90)
                continue;
            a = fmod(fmod(a, 360) + 360, 360);
            touched[ss_partition_pixel(c->nside, a, d) % c->regions] = 1;
        }
    return 0;
}

/* want[i]: peer i may hold loci of the cone. @return whether this instance may. */
static int ssi_cone_peers(ssi_req *r, double ra, double dec, double radius_arcsec, int *want)
{
    const ss_serve_conf *c = r->srv->conf;
    for (size_t i = 0; i < c->npeers; i++)
        want[i] = 1;
    if (!c->nside || !c->regions || !c->npartitions)
        return 1; /* regions unknown: everyone */
    unsigned char *touched = calloc((size_t)c->regions, 1);
    double assoc = ss_store_radius_arcsec(ssi_store(r)) / 3600;
    if (!touched || ssi_cone_regions(c, ra, dec, radius_arcsec / 3600, assoc, touched)) {
        free(touched);
        return 1;
    }
    ssi_learn(r->srv->peers);
    int mine = 0;
    for (size_t k = 0; k < c->npartitions; k++)
        mine |= touched[c->partitions[k] % c->regions];
    pthread_mutex_lock(&r->srv->peers->lock);
    for (size_t i = 0; i < c->npeers; i++) {
        ssi_peers *p = r->srv->peers;
        want[i] = !p->instance[i]; /* unknown regions: ask */
        for (int64_t part = 0; part < c->regions && !want[i]; part++)
            want[i] = touched[part] && ssi_holds(p->parts[i], p->nparts[i], part);
    }
    pthread_mutex_unlock(&r->srv->peers->lock);
    free(touched);
    return mine;
}

/* ---- the request as the peers get it ---- */

/* Path and query of @p r for a peer, with @p page and @p page_size replaced when non-zero; format
 * is left out unless @p keep_format (a merged answer is rendered here, a proxied one is the
 * peer's). @return malloc'd. */
static char *ssi_target(ssi_req *r, size_t page, size_t page_size, int keep_format)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    CURL *esc = curl_easy_init();
    for (size_t i = 0; esc && i < r->nseg; i++) { /* MHD unescaped the path: escape it again */
        char *seg = curl_easy_escape(esc, r->seg[i], 0);
        fprintf(f, "/%s", seg ? seg : "");
        curl_free(seg);
    }
    char sep = '?';
    for (size_t i = 0; esc && i < r->nparams; i++) {
        const ssi_kv *p = &r->params[i];
        if ((!keep_format && !strcmp(p->key, "format")) || !strcmp(p->key, "access_token") ||
            (page && (!strcmp(p->key, "page") || !strcmp(p->key, "page_size"))))
            continue;
        char *k = curl_easy_escape(esc, p->key, 0), *v = curl_easy_escape(esc, p->value, 0);
        fprintf(f, "%c%s=%s", sep, k ? k : "", v ? v : "");
        curl_free(k), curl_free(v);
        sep = '&';
    }
    if (page)
        fprintf(f, "%cpage=%zu&page_size=%zu", sep, page, page_size);
    curl_easy_cleanup(esc);
    fclose(f);
    return out;
}

/* The local answer, as a peer's would be: run the route's handler here (in JSON, unless
 * @p as_asked: an answer passed on as it is). */
static void ssi_local(ssi_req *r, ssi_handler fn, ssi_answer *a, int as_asked)
{
    if (!as_asked)
        r->csv = 0;
    fn(r);
    *a = (ssi_answer){.peer = -1, .status = r->status, .body = r->body, .len = r->len};
    snprintf(a->ctype, sizeof a->ctype, "%s", r->ctype ? r->ctype : "application/json");
    r->body = NULL;
    r->len = 0;
    r->status = 0;
}

/* Answer with @p a as it came (a peer's answer proxied, or the local one). */
static void ssi_pass(ssi_req *r, ssi_answer *a)
{
    if (!a->status) {
        ssi_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "instance %s did not answer",
                        a->peer >= 0 ? r->srv->conf->peers[a->peer] : "local");
        return;
    }
    ssi_reply_bytes(r, (unsigned)a->status,
                    strstr(a->ctype, "json")   ? "application/json"
                    : strstr(a->ctype, "csv")  ? "text/csv; charset=utf-8"
                    : strstr(a->ctype, "gzip") ? "application/gzip"
                    : strstr(a->ctype, "fits") ? "application/fits"
                                               : "text/plain",
                    a->body ? a->body : "", a->body ? a->len : 0);
}

/* ---- by id ---- */

/* A locus id names its instance; anything else (a survey object id, an alert id) is asked of
 * every instance: one found is the answer, several are a conflict. */
static void ssi_fed_by_id(ssi_req *r, ssi_handler fn, const char *id)
{
    const ss_serve_conf *c = r->srv->conf;
    if (ss_store_locus_id_valid(id)) {
        unsigned inst = ss_store_locus_id_instance(id);
        if (inst == r->srv->instance) {
            fn(r);
            return;
        }
        int peer = ssi_peer_of(r->srv->peers, inst);
        if (peer < 0) {
            ssi_reply_error(r, MHD_HTTP_NOT_FOUND,
                            "locus %s belongs to instance %u, which no peer is", id, inst);
            return;
        }
        int want[SS_SERVE_MAX_PEERS] = {0};
        want[peer] = 1;
        ssi_answer a[SS_SERVE_MAX_PEERS];
        char *target = ssi_target(r, 0, 0, 1);
        ssi_fetch(c, target ? target : "/", want, a);
        ssi_pass(r, &a[peer]);
        free(target);
        ssi_answers_free(a, c->npeers);
        return;
    }
    int want[SS_SERVE_MAX_PEERS];
    for (size_t i = 0; i < c->npeers; i++)
        want[i] = 1;
    ssi_answer a[SS_SERVE_MAX_PEERS + 1];
    char *target = ssi_target(r, 0, 0, 1);
    ssi_fetch(c, target ? target : "/", want, a);
    ssi_local(r, fn, &a[c->npeers], 1);
    ssi_answer *found = NULL, *down = NULL;
    char where[512] = "";
    size_t nfound = 0;
    for (size_t i = 0; i <= c->npeers; i++) {
        if (a[i].status == 200) {
            size_t n = strlen(where);
            snprintf(where + n, sizeof where - n, "%s%s", n ? ", " : "",
                     a[i].peer >= 0 ? c->peers[a[i].peer] : "this instance");
            found = found ? found : &a[i];
            nfound++;
        } else if (a[i].status != 404 && !down)
            down = &a[i];
    }
    if (nfound > 1)
        ssi_reply_error(r, MHD_HTTP_CONFLICT, "'%s' is found on several instances: %s", id, where);
    else
        ssi_pass(r, found ? found : down ? down : &a[c->npeers]);
    free(target);
    ssi_answers_free(a, c->npeers + 1);
}

/* ---- searches: the instances' sorted pages merged ---- */

typedef struct ssi_order {
    const char *key, *tie; /* item keys: the sort's, and the one that breaks its ties */
    int desc;
} ssi_order;

static int ssi_cmp_value(const json_t *a, const json_t *b)
{
    int na = !a || json_is_null(a), nb = !b || json_is_null(b);
    if (na || nb)
        return na - nb; /* absent values go last, whatever the order */
    if (json_is_string(a) && json_is_string(b))
        return strcmp(json_string_value(a), json_string_value(b));
    double x = json_number_value(a), y = json_number_value(b);
    return x < y ? -1 : x > y;
}

static _Thread_local const ssi_order *ssi_sorting; /* qsort takes no context */

static int ssi_cmp_items(const void *pa, const void *pb)
{
    const json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
    const json_t *va = json_object_get(a, ssi_sorting->key),
                 *vb = json_object_get(b, ssi_sorting->key);
    int c = ssi_cmp_value(va, vb);
    if (c && va && vb && !json_is_null(va) && !json_is_null(vb) && ssi_sorting->desc)
        c = -c;
    return c ? c
             : ssi_cmp_value(json_object_get(a, ssi_sorting->tie),
                             json_object_get(b, ssi_sorting->tie));
}

/* The merged page's envelope, in the shape of @p tmpl (the local or a peer's answer). */
static json_t *ssi_envelope(json_t *tmpl, size_t page, size_t size, int has_next, int64_t total,
                            int alerce)
{
    json_t *env = json_deep_copy(tmpl);
    json_object_del(env, "items");
    json_object_set_new(env, "page", json_integer((json_int_t)page));
    if (!alerce) /* ALeRCE's envelope has no page size */
        json_object_set_new(env, "page_size", json_integer((json_int_t)size));
    json_object_set_new(env, "has_next", json_boolean(has_next));
    if (total >= 0)
        json_object_set_new(env, "total", json_integer(total));
    if (alerce) {
        json_object_set_new(env, "next",
                            has_next ? json_integer((json_int_t)page + 1) : json_null());
        json_object_set_new(env, "prev",
                            page > 1 ? json_integer((json_int_t)page - 1) : json_null());
        json_object_set_new(env, "has_prev", json_boolean(page > 1));
    }
    return env;
}

typedef struct ssi_merged {
    json_t *all;      /* every item of every answer */
    json_t *tmpl;     /* an answer's envelope */
    int has_next;     /* an instance has more */
    int64_t total;    /* the sum, or -1 when one answer had none */
    ssi_answer *fail; /* the first answer that was not 200 */
} ssi_merged;

static void ssi_gather(ssi_answer *a, size_t n, ssi_merged *m)
{
    m->all = json_array();
    m->total = 0;
    for (size_t i = 0; i < n; i++) {
        if (a[i].status == -1)
            continue; /* not asked */
        json_t *o = a[i].status == 200 ? ssi_answer_json(&a[i]) : NULL;
        if (!o) {
            m->fail = m->fail ? m->fail : &a[i];
            continue;
        }
        m->tmpl = m->tmpl ? m->tmpl : o;
        json_array_extend(m->all, json_object_get(o, "items"));
        m->has_next |= json_is_true(json_object_get(o, "has_next"));
        json_t *t = json_object_get(o, "total");
        m->total = t && m->total >= 0 ? m->total + json_integer_value(t) : -1;
    }
}

/* Set the local request's page and page size for a fetch from the first item. */
static void ssi_local_page(ssi_req *r, size_t fetch)
{
    snprintf(r->fed_size, sizeof r->fed_size, "%zu", fetch);
    int has_page = 0, has_size = 0;
    for (size_t i = 0; i < r->nparams; i++) {
        if (!strcmp(r->params[i].key, "page"))
            r->params[i].value = "1", has_page = 1;
        if (!strcmp(r->params[i].key, "page_size"))
            r->params[i].value = r->fed_size, has_size = 1;
    }
    if (!has_page && r->nparams < SSI_MAX_PARAMS)
        r->params[r->nparams++] = (ssi_kv){"page", "1", 0};
    if (!has_size && r->nparams < SSI_MAX_PARAMS)
        r->params[r->nparams++] = (ssi_kv){"page_size", r->fed_size, 0};
}

static void ssi_merge_reply(ssi_req *r, ssi_merged *m, const ssi_order *o, size_t page, size_t size,
                            int alerce)
{
    size_t n = json_array_size(m->all);
    json_t **items = malloc((n ? n : 1) * sizeof *items);
    for (size_t i = 0; items && i < n; i++)
        items[i] = json_array_get(m->all, i);
    ssi_sorting = o;
    /* no key: the instances' answers one after the other, each in its order; a page cut from
     * them is right because each instance gave all its results up to the page's end */
    if (items && n && o->key)
        qsort(items, n, sizeof *items, ssi_cmp_items);
    json_t *slice = json_array();
    for (size_t i = (page - 1) * size; items && i < n && i < page * size; i++)
        json_array_append(slice, items[i]);
    free(items);
    int has_next = m->has_next || n > page * size;
    ssi_reply_table(r, ssi_envelope(m->tmpl, page, size, has_next, m->total, alerce), slice,
                    alerce ? ssi_alerce_item_columns : ss_publish_summary_keys);
}

/* Page, size and order of a search route, as the route reads them. */
typedef struct ssi_fed_search {
    size_t page, size;
    ssi_order order;
    int alerce, cone;
    double ra, dec, radius;
} ssi_fed_search;

static int ssi_fed_plan(ssi_req *r, size_t default_size, ssi_fed_search *s)
{
    s->size = default_size;
    int alerce = !strncmp(r->route, "/ztf/", 5);
    s->alerce = alerce;
    uint64_t p = 1, n = default_size;
    const ss_serve_conf *c = r->srv->conf;
    if (ssi_param_uint(r, "page", 1, 1000000000, &p) < 0 ||
        ssi_param_uint(r, alerce ? "page_size" : "page_size", 1, c->max_page_size, &n) < 0)
        return -1;
    s->page = (size_t)p;
    s->size = (size_t)n;
    if (s->page * s->size > 10 * c->max_page_size) {
        ssi_reply_error(r, MHD_HTTP_BAD_REQUEST,
                        "page %zu of %zu: a search over several instances reaches %zu results "
                        "deep at most; narrow the search",
                        s->page, s->size, 10 * c->max_page_size);
        return -1;
    }
    const char *ra = ssi_param(r, "ra"), *dec = ssi_param(r, "dec"), *rad = ssi_param(r, "radius");
    s->cone = ra && dec && rad;
    if (s->cone) {
        s->ra = atof(ra), s->dec = atof(dec), s->radius = atof(rad);
        s->cone = isfinite(s->ra) && isfinite(s->dec) && s->radius > 0 && isfinite(s->radius);
    }
    return 0;
}

/* The sort a search route applies, as an item key (search.h's defaults). */
static void ssi_fed_order(ssi_req *r, ssi_fed_search *s)
{
    const char *sort = ssi_param(r, s->alerce ? "order_by" : "sort");
    const char *order = ssi_param(r, s->alerce ? "order_mode" : "order");
    int tag_route = !strcmp(r->route, "/api/v1/tags/{tag}");
    s->order.tie = s->alerce ? "oid" : "locus_id";
    s->order.desc = order && (!strcmp(order, "desc") || !strcmp(order, "DESC"));
    if (s->alerce) { /* without order_by: each instance's own order, one after the other */
        s->order.key = sort;
        return;
    }
    if (!sort)
        s->order.key = s->cone                            ? "separation_arcsec"
                       : tag_route || ssi_param(r, "tag") ? "tagged_mjd"
                                                          : "locus_id";
    else if (!strcmp(sort, "separation"))
        s->order.key = "separation_arcsec";
    else if (!strcmp(sort, "locus_id") || !strcmp(sort, "tagged_mjd") ||
             !strcmp(sort, "newest_alert_observation_time"))
        s->order.key = sort;
    else
        s->order.key = "sort_value";
    if (tag_route && !order)
        s->order.desc = !sort || !strcmp(sort, "tagged_mjd");
}

static void ssi_fed_search_run(ssi_req *r, ssi_handler fn, size_t default_size)
{
    const ss_serve_conf *c = r->srv->conf;
    ssi_fed_search s = {0};
    if (ssi_fed_plan(r, default_size, &s))
        return;
    ssi_fed_order(r, &s);
    for (size_t i = 0; i < r->nparams; i++)
        r->params[i].used = 0; /* the route's handler reads them again */
    int want[SS_SERVE_MAX_PEERS];
    int mine = s.cone ? ssi_cone_peers(r, s.ra, s.dec, s.radius, want) : 1;
    for (size_t i = 0; !s.cone && i < c->npeers; i++)
        want[i] = 1;
    ssi_answer a[SS_SERVE_MAX_PEERS + 1];
    size_t fetch = s.page * s.size;
    char *target = ssi_target(r, 1, fetch, 0);
    ssi_fetch(c, target ? target : "/", want, a);
    for (size_t i = 0; i < c->npeers; i++)
        if (!want[i])
            a[i].status = -1;
    int csv = r->csv;
    a[c->npeers] = (ssi_answer){.peer = -1, .status = -1};
    if (mine) {
        ssi_local_page(r, fetch);
        ssi_local(r, fn, &a[c->npeers], 0);
    }
    r->csv = csv;
    ssi_merged m = {0};
    ssi_gather(a, c->npeers + 1, &m);
    if (m.fail)
        ssi_pass(r, m.fail);
    else if (!m.tmpl)
        ssi_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "no instance answered");
    else
        ssi_merge_reply(r, &m, &s.order, s.page, s.size, s.alerce);
    json_decref(m.all);
    free(target);
    ssi_answers_free(a, c->npeers + 1);
}

/* ---- the tags and the counts of the whole deployment ---- */

static void ssi_fed_all(ssi_req *r, ssi_handler fn, ssi_answer *a)
{
    const ss_serve_conf *c = r->srv->conf;
    int want[SS_SERVE_MAX_PEERS];
    for (size_t i = 0; i < c->npeers; i++)
        want[i] = 1;
    char *target = ssi_target(r, 0, 0, 0);
    ssi_fetch(c, target ? target : "/", want, a);
    free(target);
    int csv = r->csv;
    ssi_local(r, fn, &a[c->npeers], 0);
    r->csv = csv;
}

static const char *const ssi_tag_columns[] = {"tag", "newest_tagged_mjd", NULL};

/* Every instance's tags, each with its latest time on any of them. */
static void ssi_fed_tags(ssi_req *r, ssi_handler fn)
{
    const ss_serve_conf *c = r->srv->conf;
    ssi_answer a[SS_SERVE_MAX_PEERS + 1];
    ssi_fed_all(r, fn, a);
    ssi_merged m = {0};
    ssi_gather(a, c->npeers + 1, &m);
    json_t *by = json_object(), *items = json_array(), *t;
    size_t i;
    json_array_foreach(m.all, i, t)
    {
        const char *name = json_string_value(json_object_get(t, "tag"));
        json_t *had = name ? json_object_get(by, name) : NULL;
        if (name && (!had || ssi_cmp_value(json_object_get(t, "newest_tagged_mjd"),
                                           json_object_get(had, "newest_tagged_mjd")) > 0))
            json_object_set(by, name, t);
    }
    const char *k;
    json_object_foreach(by, k, t) json_array_append(items, t);
    if (m.fail)
        json_decref(items), ssi_pass(r, m.fail);
    else
        ssi_reply_table(r, NULL, items, ssi_tag_columns);
    json_decref(by), json_decref(m.all);
    ssi_answers_free(a, c->npeers + 1);
}

/* This instance's counts, each instance's, and the deployment's sums. */
static void ssi_fed_stats(ssi_req *r, ssi_handler fn)
{
    const ss_serve_conf *c = r->srv->conf;
    ssi_answer a[SS_SERVE_MAX_PEERS + 1];
    ssi_fed_all(r, fn, a);
    json_t *local = ssi_answer_json(&a[c->npeers]), *list = json_array(), *sum = json_object();
    static const char *const counts[] = {
        "alerts", "detections", "upper_limits", "forced_photometry", "cutouts", "loci", "rejected"};
    for (size_t i = 0; i <= c->npeers; i++) {
        json_t *st = ssi_answer_json(&a[i]);
        json_t *one = st ? json_deep_copy(st) : json_pack("{s:s}", "error", "did not answer");
        json_object_set_new(one, "url", json_string(i < c->npeers ? c->peers[i] : "self"));
        json_array_append_new(list, one);
        for (size_t k = 0; st && k < sizeof counts / sizeof *counts; k++)
            json_object_set_new(sum, counts[k],
                                json_integer(json_integer_value(json_object_get(sum, counts[k])) +
                                             json_integer_value(json_object_get(st, counts[k]))));
    }
    if (!local) {
        json_decref(list), json_decref(sum);
        ssi_pass(r, &a[c->npeers]);
    } else {
        json_t *o = json_deep_copy(local);
        json_object_set_new(o, "instances", list);
        json_object_set_new(o, "deployment", sum);
        ssi_reply_json(r, MHD_HTTP_OK, o);
    }
    ssi_answers_free(a, c->npeers + 1);
}

void ssi_fed_route(ssi_req *r, ssi_handler fn, ssi_fed_mode mode, int seg, size_t page_size)
{
    switch (mode) {
    case SSI_FED_BY_ID: ssi_fed_by_id(r, fn, r->seg[seg]); break;
    case SSI_FED_SEARCH: ssi_fed_search_run(r, fn, page_size); break;
    case SSI_FED_TAGS: ssi_fed_tags(r, fn); break;
    case SSI_FED_STATS: ssi_fed_stats(r, fn); break;
    default: fn(r);
    }
}
