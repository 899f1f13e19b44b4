/**
 * @file serve.h
 * @brief `skysieve serve`: the store over HTTP (libmicrohttpd), read-only, for people and their
 * notebooks: the /api/v1 routes, the ALeRCE-compatible /ztf/v1 routes, server-sent events of a
 * running broker's tags, and a deployment of several instances answered as one.
 *
 * The server opens the store read-only; every request reads one snapshot (one LMDB read
 * transaction), so a broker or an ingest writing the same store is never blocked and a request
 * never sees half a commit. It runs a thread pool; each thread answers many connections.
 *
 * Configuration: the [serve] section of skysieve.ini (config/skysieve.ini documents every key),
 * plus the [broker] store, the [output] publish address (for /stream) and the [control] address
 * and secret (for /filters) of the same file. Command-line options override the file.
 *
 * This folder (core/serve/) exports ss_serve_*; its private names (ssi_) stay inside it.
 */
#ifndef SS_SERVE_H
#define SS_SERVE_H

#include "err.h"
#include "log.h"

#include <stddef.h>

/** Peers a server answers for, at most (README "Several machines"). */
#define SS_SERVE_MAX_PEERS 64

/** The server's settings. Strings are owned by the struct (ss_serve_conf_free()). */
typedef struct ss_serve_conf {
    char *store;  /**< the store directory */
    char *listen; /**< ADDR:PORT; default 127.0.0.1:8080 */
    char *token;  /**< the bearer token (read from token_file), or NULL */
    int public_;  /**< serve a non-loopback address without a token */
    unsigned threads;
    size_t max_page_size;     /**< default 1000 */
    double max_cone_arcsec;   /**< default 3600 */
    unsigned max_connections; /**< default 1024 */
    unsigned per_ip_connections;
    double rate;              /**< requests per second per client address (0: unlimited) */
    double burst;             /**< requests a client may send at once beyond the rate */
    double timeout;           /**< seconds an idle connection is kept */
    double header_timeout;    /**< seconds a request's line and headers may take (slow clients) */
    size_t max_request_bytes; /**< request line and headers, per connection (default 16 KiB) */
    unsigned max_streams;     /**< concurrent /stream clients */
    char *publish;            /**< the broker's nanomsg PUB address (for /stream), or NULL */
    char *control;            /**< the broker's control address (for /filters), or NULL */
    char *secret;             /**< the control secret, or NULL */
    char *peers[SS_SERVE_MAX_PEERS]; /**< other instances' base URLs (http://host:port) */
    size_t npeers;
    /** The deployment's sky regions (README "Several machines"): HEALPix nside and the number of
     * partitions of the regions topic (a pixel's partition is pixel % regions), and the
     * partitions this instance consumes ([input kafka] partitions). 0: unknown, and a cone
     * search asks every instance. */
    int64_t nside, regions;
    int32_t *partitions;
    size_t npartitions;
    int access_log; /**< one line per request on the log */
    int beside;     /**< `skysieve run` starts the server beside it ([serve] present) */
} ss_serve_conf;

/** Defaults for every setting (no store). */
void ss_serve_conf_init(ss_serve_conf *c);

/**
 * Read @p path: the [serve] section and the [broker] store, [output] publish and [control]
 * address and secret_file of the broker's configuration. Relative paths are taken relative to
 * the file, as the broker does.
 * @return 0, or SS_EINVAL / an errno with a message naming the file, section, key and reason.
 */
int ss_serve_conf_load(const char *path, ss_serve_conf *c, ss_err *err);

/**
 * Set one [serve] key (listen, token_file, public, threads, max_page_size, max_cone_arcsec,
 * max_connections, per_ip_connections, rate, burst, timeout, max_request_bytes, max_streams,
 * peers, access_log, store). @p dir resolves relative paths (NULL: as given).
 * @return 0 or SS_EINVAL naming the key and the values it takes.
 */
int ss_serve_conf_set(ss_serve_conf *c, const char *dir, const char *key, const char *value,
                      ss_err *err);

/** Check the settings as a whole (an exposed address needs a token or public). @return 0 or
 * SS_EINVAL saying what to change. */
int ss_serve_conf_check(const ss_serve_conf *c, ss_err *err);

void ss_serve_conf_free(ss_serve_conf *c);

/**
 * Serve until SIGTERM or SIGINT (the handlers are installed here), then drain and return.
 * Logs (start, access lines, errors) go to @p log.
 * @return 0 after a stop; SS_ENOSTORE and the store's codes when the store cannot be opened;
 *         EADDRINUSE and other errnos when the address cannot be listened on (err says which).
 */
int ss_serve_run(const ss_serve_conf *c, const ss_log *log, ss_err *err);

#endif
