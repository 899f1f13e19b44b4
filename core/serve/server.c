/* The HTTP server (serve.h): libmicrohttpd in a thread pool, the checks every request passes
 * (method, size, token, rate) before its route, and one access-log line when it completes. */
#include "serve_impl.h"

#include "draw.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t ssi_stop;

static void ssi_on_signal(int sig)
{
    (void)sig;
    ssi_stop = 1;
}

static double ssi_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- the store ---- */

ss_store *ssi_store(ssi_req *r)
{
    return r->srv->store;
}

ss_store_txn *ssi_read(ssi_req *r)
{
    ss_store *s = ssi_store(r);
    ss_store_txn *txn = NULL;
    int rc = ss_store_txn_begin(s, SS_STORE_READ, &txn);
    if (rc) {
        ss_err err = {0};
        ss_store_fail(s, &err, rc, "starting a read transaction");
        ssi_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "store unavailable: %s", err.msg);
    }
    return txn;
}

/* ---- one request ---- */

/* Collapse repeated slashes (clients join base URLs and paths with one too many), drop a trailing
 * one, and split the path into segments. @return -1 when it is too long. */
static int ssi_split(ssi_req *r, const char *url)
{
    if (strlen(url) >= sizeof r->path)
        return -1;
    size_t n = 0;
    for (const char *p = url; *p; p++)
        if (*p != '/' || !n || r->path[n - 1] != '/')
            r->path[n++] = *p;
    if (n > 1 && r->path[n - 1] == '/')
        n--;
    r->path[n] = '\0';
    memcpy(r->segbuf, r->path, n + 1);
    char *save = NULL;
    for (char *tok = strtok_r(r->segbuf, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
        if (r->nseg == SSI_MAX_SEGS)
            return 0; /* more segments than any route has: none will match */
        r->seg[r->nseg++] = tok;
    }
    return 0;
}

static enum MHD_Result ssi_collect_param(void *cls, enum MHD_ValueKind kind, const char *key,
                                         const char *value)
{
    (void)kind;
    ssi_req *r = cls;
    if (r->nparams == SSI_MAX_PARAMS) {
        r->too_many_params = 1;
        return MHD_NO;
    }
    r->params[r->nparams++] = (ssi_kv){key, value ? value : "", 0};
    return MHD_YES;
}

static void ssi_client(ssi_req *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    r->client[0] = '\0';
    if (sa && getnameinfo(sa,
                          sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                    : sizeof(struct sockaddr_in),
                          r->client, sizeof r->client, NULL, 0, NI_NUMERICHOST))
        r->client[0] = '\0';
}

/* The bearer token: the Authorization header, or access_token (RFC 6750) for clients that
 * cannot set headers (a browser's EventSource). */
static int ssi_authorised(ssi_req *r)
{
    const char *want = r->srv->conf->token;
    if (!want)
        return 1;
    const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
    const char *given = NULL;
    if (h && !strncasecmp(h, "Bearer ", 7))
        given = h + 7;
    for (size_t i = 0; !given && i < r->nparams; i++)
        if (!strcmp(r->params[i].key, "access_token"))
            given = r->params[i].value, r->params[i].used = 1;
    return given && ssi_token_equal(given, want);
}

/* What every request passes before its route. @return 1 when answered already. */
static int ssi_gate(ssi_req *r, const char *method, const char *url)
{
    const ss_serve_conf *c = r->srv->conf;
    if (strlen(url) > c->max_request_bytes / 2 || ssi_split(r, url)) {
        ssi_reply_error(r, MHD_HTTP_URI_TOO_LONG, "the path is longer than %zu bytes",
                        c->max_request_bytes / 2);
        return 1;
    }
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, ssi_collect_param, r);
    r->internal = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Skysieve-Local") != NULL;
    if (r->too_many_params) {
        ssi_reply_error(r, MHD_HTTP_URI_TOO_LONG, "more than %d query parameters", SSI_MAX_PARAMS);
        return 1;
    }
    if (!strcmp(method, "OPTIONS")) { /* a browser's preflight of a cross-origin request */
        ssi_reply_bytes(r, MHD_HTTP_NO_CONTENT, "text/plain", "", 0);
        r->preflight = 1;
        return 1;
    }
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        ssi_reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED,
                        "%s: the API is read-only; it answers GET and HEAD", method);
        return 1;
    }
    /* the rate first: failed tokens count against it too, so tokens cannot be guessed apace */
    double wait = r->srv->limiter ? ssi_limiter_take(r->srv->limiter, r->client) : 0;
    if (wait > 0) {
        snprintf(r->retry_after, sizeof r->retry_after, "%.0f", wait < 1 ? 1 : wait + 0.5);
        ssi_reply_error(r, MHD_HTTP_TOO_MANY_REQUESTS,
                        "more than %g requests a second from %s; retry after %s s", c->rate,
                        r->client, r->retry_after);
        return 1;
    }
    if (!ssi_authorised(r)) {
        ssi_reply_error(r, MHD_HTTP_UNAUTHORIZED,
                        "this server wants a bearer token (Authorization: Bearer TOKEN)");
        return 1;
    }
    /* a peer's request for this instance's own answer may page deeper: only from a client that
     * proved the token, or on a server no other machine reaches */
    r->trusted = r->internal && (c->token || !c->public_);
    return 0;
}

static enum MHD_Result ssi_queue(ssi_req *r, const char *method)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(r->len, r->body ? r->body : (void *)"",
                                        r->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    r->body = NULL; /* MHD owns it now */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->ctype);
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
    if (r->retry_after[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, r->retry_after);
    if (r->disposition[0])
        MHD_add_response_header(resp, "Content-Disposition", r->disposition);
    for (size_t i = 0; i + 1 < r->nheaders; i += 2)
        MHD_add_response_header(resp, r->headers[i], r->headers[i + 1]);
    if (r->preflight) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD, OPTIONS");
        MHD_add_response_header(resp, "Access-Control-Allow-Methods", "GET, HEAD, OPTIONS");
        MHD_add_response_header(resp, "Access-Control-Allow-Headers", "Authorization");
        MHD_add_response_header(resp, "Access-Control-Max-Age", "86400");
    }
    if (r->status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD, OPTIONS");
    if (r->status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    (void)method;
    enum MHD_Result ok = MHD_queue_response(r->conn, r->status, resp);
    MHD_destroy_response(resp);
    return ok;
}

/* MHD calls this once when the headers are in, then for each piece of a body, then once more: the
 * answer is queued on that last call, as MHD wants for the connection to be kept alive. */
static enum MHD_Result ssi_access(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **req_cls)
{
    (void)version, (void)upload_data;
    ssi_req *r = *req_cls;
    if (!r) {
        if (!(r = calloc(1, sizeof *r)))
            return MHD_NO;
        *req_cls = r;
        r->srv = cls;
        r->conn = conn;
        r->t0 = ssi_now();
        r->route = "-";
        snprintf(r->method, sizeof r->method, "%s", method);
        ssi_reaper_mark(r->srv, conn, 1);
        return MHD_YES;
    }
    if (*upload_size) { /* a body: the API takes none; read it away and refuse at the end */
        r->had_body = 1;
        *upload_size = 0;
        return MHD_YES;
    }
    ssi_client(r);
    if (r->had_body)
        ssi_reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "the API takes no request body");
    else if (!ssi_gate(r, method, url))
        ssi_route(r, method);
    if (r->status == 0) /* a stream queued its own response */
        return MHD_YES;
    return ssi_queue(r, method);
}

static void ssi_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                          enum MHD_RequestTerminationCode why)
{
    ssi_server *srv = cls;
    ssi_req *r = *req_cls;
    if (!r)
        return;
    ssi_reaper_mark(srv, conn, 0);
    if (srv->conf->access_log)
        ss_log_line(srv->log, SS_LOG_INFO, "%s %s %s %u %llu B %.0f us%s%s", r->client, r->method,
                    r->route, r->status ? r->status : 200, (unsigned long long)r->len,
                    (ssi_now() - r->t0) * 1e6,
                    why == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (closed: ",
                    why == MHD_REQUEST_TERMINATED_COMPLETED_OK      ? ""
                    : why == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? "timeout)"
                    : why == MHD_REQUEST_TERMINATED_CLIENT_ABORT    ? "client gone)"
                                                                    : "error)");
    free(r->body);
    free(r);
    *req_cls = NULL;
}

static void ssi_mhd_log(void *cls, const char *fmt, va_list ap)
{
    ssi_server *srv = cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    ss_log_line(srv->log, SS_LOG_DEBUG, "http: %s", line);
}

/* ---- start and stop ---- */

static int ssi_address(const char *listen, struct sockaddr_storage *ss, ss_err *err)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof host)
        return ss_err_set(err, SS_EINVAL, "listen = %s: want ADDRESS:PORT", listen);
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    if (host[0] == '[' && host[strlen(host) - 1] == ']')
        memmove(host, host + 1, strlen(host)), host[strlen(host) - 1] = '\0';
    struct addrinfo hints = {.ai_flags = AI_NUMERICSERV | AI_PASSIVE, .ai_socktype = SOCK_STREAM},
                    *ai = NULL;
    int rc = getaddrinfo(host, colon + 1, &hints, &ai);
    if (rc)
        return ss_err_set(err, SS_EINVAL, "listen = %s: %s", listen, gai_strerror(rc));
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    return 0;
}

static struct MHD_Daemon *ssi_start(ssi_server *srv, const struct sockaddr *sa, ss_err *err)
{
    const ss_serve_conf *c = srv->conf;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | (sa->sa_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, NULL, NULL, ssi_access, srv, MHD_OPTION_SOCK_ADDR, sa,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)c->threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)c->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)c->per_ip_connections, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)c->timeout,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)c->max_request_bytes * 2,
        MHD_OPTION_NOTIFY_COMPLETED, ssi_completed, srv, MHD_OPTION_NOTIFY_CONNECTION,
        ssi_reaper_notify, srv, MHD_OPTION_EXTERNAL_LOGGER, ssi_mhd_log, srv, MHD_OPTION_END);
    if (!d)
        ss_err_set(err, errno ? errno : EADDRINUSE, "serve: cannot listen on %s: %s", c->listen,
                   strerror(errno ? errno : EADDRINUSE));
    return d;
}

static void ssi_wait(void)
{
    struct sigaction sa = {.sa_handler = ssi_on_signal}, ign = {.sa_handler = SIG_IGN};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGPIPE, &ign, NULL);
    while (!ssi_stop)
        usleep(100 * 1000);
}

int ss_serve_run(const ss_serve_conf *c, const ss_log *log, ss_err *err)
{
    if (ss_serve_conf_check(c, err))
        return err->code;
    struct sockaddr_storage addr;
    if (ssi_address(c->listen, &addr, err))
        return err->code;
    ssi_server srv = {.conf = c, .log = log};
    signal(SIGPIPE, SIG_IGN);
    ss_store_options o = {.readonly = 1};
    int rc = ss_store_open(c->store, &o, &srv.store, err);
    if (rc)
        return rc;
    srv.instance = ss_store_instance(srv.store);
    if (c->rate > 0 && !(srv.limiter = ssi_limiter_new(c->rate, c->burst)))
        rc = ss_err_set(err, SS_ENOMEM, "out of memory");
    if (!rc && !(srv.streams = ssi_streams_new(&srv)))
        rc = ss_err_set(err, SS_ENOMEM, "out of memory");
    if (!rc && c->npeers && !(srv.peers = ssi_peers_new(c)))
        rc = ss_err_set(err, SS_ENOMEM, "out of memory");
    if (!rc && !(srv.reaper = ssi_reaper_new(c->header_timeout)))
        rc = ss_err_set(err, SS_ENOMEM, "out of memory");
    struct MHD_Daemon *d = rc ? NULL : ssi_start(&srv, (struct sockaddr *)&addr, err);
    if (d) {
        ss_log_line(log, SS_LOG_INFO, "serving store %s on http://%s/api/v1/ (%u threads%s%s)",
                    c->store, c->listen, c->threads, c->token ? ", token required" : "",
                    c->npeers ? ", with peers" : "");
        ssi_wait();
        ss_log_line(log, SS_LOG_INFO, "serve: stopping");
        MHD_quiesce_daemon(d);
        ssi_streams_close(srv.streams);
        MHD_stop_daemon(d);
    } else if (!rc)
        rc = err->code;
    ssi_streams_free(srv.streams);
    ssi_peers_free(srv.peers);
    ssi_reaper_free(srv.reaper);
    ssi_limiter_free(srv.limiter);
    ss_store_close(srv.store);
    ss_draw_release(); /* the pictures' font caches (api_pictures.c), for leak checkers */
    return rc;
}
