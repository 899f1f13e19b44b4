/* Helpers of the HTTP suites: a `skysieve serve` child on a free port, and requests to it. */
#ifndef SS_TU_HTTP_H
#define SS_TU_HTTP_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

/** A running `skysieve serve`. */
typedef struct tu_server {
    pid_t pid;
    int port;
    char base[64]; /**< http://127.0.0.1:PORT */
} tu_server;

/** A port nobody listens on now (bound and released). */
int tu_free_port(void);
/**
 * Start `SS_BINARY serve --listen 127.0.0.1:PORT ARGS` (ARGS printf-style: --store DIR,
 * --config FILE, ...), stderr appended to tu_tmp/serve.log, and wait until it answers (at most
 * 20 s; an assertion fails otherwise, showing the log).
 */
void tu_serve_start(tu_server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Stop it with SIGTERM and check it exits 0. */
void tu_serve_stop(tu_server *s);
/** GET base+@p path. @return the status (0 when nothing answered); *body malloc'd (may be NULL),
 * *ctype the Content-Type (malloc'd, may be NULL). */
long tu_http_get(const tu_server *s, const char *path, char **body, size_t *len, char **ctype);
/** tu_http_get() with one request @p header ("Name: value"), or NULL. */
long tu_http_get_h(const tu_server *s, const char *path, const char *header, char **body,
                   size_t *len, char **ctype);
/** GET @p path as JSON; an assertion fails when the status is not @p want or the body not JSON.
 * @return the body, owned by the caller. */
json_t *tu_http_json(const tu_server *s, const char *path, long want);
/** The status of GET @p path, the body thrown away. */
long tu_http_status(const tu_server *s, const char *path);

#endif
