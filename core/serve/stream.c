/* /api/v1/stream: server-sent events of what a running broker publishes (tags, and watch-list
 * notifications under "watch.LIST"), read from its nanomsg PUB by one thread and handed to each
 * client's buffer. A client with nothing to send is suspended, so it holds no pool thread; the
 * reader resumes it when an event or a keep-alive arrives. */
#include "serve_impl.h"

#include "text.h"

#include <errno.h>
#include <nanomsg/nn.h>
#include <nanomsg/pubsub.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SSI_CLIENT_BUF (1 << 20) /* a client this far behind is cut off */
#define SSI_KEEPALIVE  15.0      /* seconds between comments that keep proxies from closing */

typedef struct ssi_client {
    struct ssi_client *next;
    ssi_streams *owner;
    struct MHD_Connection *conn;
    char *topics; /* comma-separated tags and watch.LIST names; NULL: everything */
    char *buf;
    size_t len, off;
    int suspended, closed, dropped;
} ssi_client;

struct ssi_streams {
    ssi_server *srv;
    pthread_mutex_t lock; /* guards the list, each client's buffer and suspension */
    ssi_client *clients;
    unsigned n;
    uint64_t seq;
    int sock;
    pthread_t thread;
    int running; /* the reader thread runs */
    int closing; /* the server stops: every stream ends */
};

static int ssi_wanted(const ssi_client *c, const char *topic)
{
    if (!c->topics)
        return 1;
    return ss_text_list_has(c->topics, topic);
}

/* Append to a client's buffer and wake it. Called with the lock held. */
static void ssi_push(ssi_client *c, const char *text, size_t len)
{
    if (c->closed)
        return;
    if (c->len - c->off + len > SSI_CLIENT_BUF) {
        c->dropped = 1; /* too slow: end its stream rather than grow without bound */
    } else {
        if (c->off && c->off == c->len)
            c->off = c->len = 0;
        char *fresh = realloc(c->buf, c->len + len);
        if (!fresh) {
            c->dropped = 1;
        } else {
            c->buf = fresh;
            memcpy(c->buf + c->len, text, len);
            c->len += len;
        }
    }
    if (c->suspended) {
        c->suspended = 0;
        MHD_resume_connection(c->conn);
    }
}

/* A tag event's alert as the API shows alerts elsewhere (shown id, survey's id beside). */
static char *ssi_event_data(const char *json, size_t len)
{
    json_t *o = json_loadb(json, len, 0, NULL), *alert = json_object_get(o, "alert");
    if (json_is_object(alert))
        ssi_alert_json_show(alert);
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(o);
    return text;
}

/* One message "topic NUL json" as an event to each client that wants it. */
static void ssi_deliver(ssi_streams *s, const char *msg, size_t len)
{
    size_t tlen = strnlen(msg, len);
    if (tlen == len)
        return; /* not the broker's framing */
    char *event = NULL, *data = ssi_event_data(msg + tlen + 1, len - tlen - 1);
    if (!data)
        return; /* not JSON: nothing a client could read */
    int kind_watch = !strncmp(msg, "watch.", 6);
    pthread_mutex_lock(&s->lock);
    int n = asprintf(&event, "id: %llu\nevent: %s\ndata: %s\n\n", (unsigned long long)++s->seq,
                     kind_watch ? "watch" : "tag", data);
    free(data);
    for (ssi_client *c = s->clients; n > 0 && c; c = c->next)
        if (ssi_wanted(c, msg))
            ssi_push(c, event, (size_t)n);
    pthread_mutex_unlock(&s->lock);
    free(event);
}

static void ssi_keepalive(ssi_streams *s)
{
    static const char ping[] = ": keep-alive\n\n";
    pthread_mutex_lock(&s->lock);
    for (ssi_client *c = s->clients; c; c = c->next)
        ssi_push(c, ping, sizeof ping - 1);
    pthread_mutex_unlock(&s->lock);
}

static double ssi_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void *ssi_reader(void *arg)
{
    ssi_streams *s = arg;
    double last = ssi_mono();
    while (s->running) {
        char *msg = NULL;
        int n = nn_recv(s->sock, &msg, NN_MSG, 0);
        if (n >= 0) {
            ssi_deliver(s, msg, (size_t)n);
            nn_freemsg(msg);
        } else if (nn_errno() == EBADF || nn_errno() == ETERM)
            break;
        if (ssi_mono() - last >= SSI_KEEPALIVE) {
            ssi_keepalive(s);
            last = ssi_mono();
        }
    }
    return NULL;
}

ssi_streams *ssi_streams_new(ssi_server *srv)
{
    ssi_streams *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->srv = srv;
    s->sock = -1;
    pthread_mutex_init(&s->lock, NULL);
    const char *addr = srv->conf->publish;
    int ms = 500;
    if (!addr)
        return s;
    if ((s->sock = nn_socket(AF_SP, NN_SUB)) < 0 ||
        nn_setsockopt(s->sock, NN_SUB, NN_SUB_SUBSCRIBE, "", 0) < 0 ||
        nn_setsockopt(s->sock, NN_SOL_SOCKET, NN_RCVTIMEO, &ms, sizeof ms) < 0 ||
        nn_connect(s->sock, addr) < 0) {
        ss_log_line(srv->log, SS_LOG_WARN, "serve: /stream is off: cannot subscribe to %s: %s",
                    addr, nn_strerror(nn_errno()));
        if (s->sock >= 0)
            nn_close(s->sock);
        s->sock = -1;
        return s;
    }
    s->running = 1;
    if (pthread_create(&s->thread, NULL, ssi_reader, s)) {
        s->running = 0;
        nn_close(s->sock);
        s->sock = -1;
    }
    return s;
}

/* End every stream (MHD may not stop with suspended connections): wake each client to its end
 * of stream and give them a moment to go. */
void ssi_streams_close(ssi_streams *s)
{
    pthread_mutex_lock(&s->lock);
    s->closing = 1;
    for (ssi_client *c = s->clients; c; c = c->next)
        if (c->suspended) {
            c->suspended = 0;
            MHD_resume_connection(c->conn);
        }
    pthread_mutex_unlock(&s->lock);
    for (int i = 0; i < 40; i++) {
        pthread_mutex_lock(&s->lock);
        unsigned n = s->n;
        pthread_mutex_unlock(&s->lock);
        if (!n)
            break;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* Called after MHD has stopped: no client is left. */
void ssi_streams_free(ssi_streams *s)
{
    if (!s)
        return;
    if (s->running) {
        s->running = 0;
        pthread_join(s->thread, NULL);
    }
    if (s->sock >= 0)
        nn_close(s->sock);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* ---- one client ---- */

static ssize_t ssi_read_events(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    ssi_client *c = cls;
    ssi_streams *s = c->owner;
    pthread_mutex_lock(&s->lock);
    ssize_t n = 0;
    if (c->off < c->len) {
        n = (ssize_t)(c->len - c->off < max ? c->len - c->off : max);
        memcpy(out, c->buf + c->off, (size_t)n);
        c->off += (size_t)n;
    } else if (c->dropped || s->closing) {
        n = MHD_CONTENT_READER_END_OF_STREAM;
    } else { /* nothing yet: park the connection until ssi_push() resumes it */
        c->suspended = 1;
        MHD_suspend_connection(c->conn);
    }
    pthread_mutex_unlock(&s->lock);
    return n;
}

static void ssi_client_gone(void *cls)
{
    ssi_client *c = cls;
    ssi_streams *s = c->owner;
    pthread_mutex_lock(&s->lock);
    for (ssi_client **p = &s->clients; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    s->n--;
    pthread_mutex_unlock(&s->lock);
    free(c->topics);
    free(c->buf);
    free(c);
}

static ssi_client *ssi_client_add(ssi_req *r, const char *topics)
{
    ssi_streams *s = r->srv->streams;
    ssi_client *c = calloc(1, sizeof *c);
    static const char hello[] = ": skysieve stream\n\n";
    if (!c || (topics && !(c->topics = strdup(topics))) || !(c->buf = malloc(sizeof hello))) {
        if (c)
            free(c->topics);
        free(c);
        return NULL;
    }
    memcpy(c->buf, hello, sizeof hello - 1); /* the headers go out at once, with this */
    c->len = sizeof hello - 1;
    c->owner = s;
    c->conn = r->conn;
    pthread_mutex_lock(&s->lock);
    c->next = s->clients;
    s->clients = c;
    s->n++;
    pthread_mutex_unlock(&s->lock);
    return c;
}

void ssi_api_stream(ssi_req *r)
{
    ssi_streams *s = r->srv->streams;
    const char *topics = ssi_param(r, "tag");
    if (ssi_params_unused(r))
        return;
    if (!s->running) {
        ssi_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE,
                        "no broker to listen to: serve with --config FILE of a broker that "
                        "publishes ([output] publish)");
        return;
    }
    pthread_mutex_lock(&s->lock);
    int full = s->n >= r->srv->conf->max_streams;
    pthread_mutex_unlock(&s->lock);
    ssi_client *c = full ? NULL : ssi_client_add(r, topics && *topics ? topics : NULL);
    if (!c) {
        ssi_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "%u streams are open already; try later",
                        r->srv->conf->max_streams);
        return;
    }
    struct MHD_Response *resp = MHD_create_response_from_callback(
        MHD_SIZE_UNKNOWN, 4096, ssi_read_events, c, ssi_client_gone);
    if (!resp) {
        ssi_client_gone(c);
        ssi_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
        return;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
    MHD_queue_response(r->conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    r->status = 0; /* queued here */
}
