/* The server's settings: [serve] of skysieve.ini, with the broker's store, publish and control
 * addresses taken from the same file through the broker's own reader (one meaning per key). */
#include "serve_impl.h"

#include "broker.h"
#include "fileio.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void ss_serve_conf_init(ss_serve_conf *c)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    *c = (ss_serve_conf){.listen = strdup("127.0.0.1:8080"),
                         .threads = cores > 0 && cores < 64 ? (unsigned)cores : 2,
                         .max_page_size = 1000,
                         .max_cone_arcsec = 3600,
                         .max_connections = 1024,
                         .per_ip_connections = 256,
                         .rate = 0,
                         .burst = 100,
                         .timeout = 30,
                         .header_timeout = 10,
                         .max_request_bytes = 16384,
                         .max_streams = 64,
                         .access_log = 1};
}

void ss_serve_conf_free(ss_serve_conf *c)
{
    char **strs[] = {&c->store, &c->listen, &c->token, &c->publish, &c->control, &c->secret};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) {
        free(*strs[i]);
        *strs[i] = NULL;
    }
    for (size_t i = 0; i < c->npeers; i++)
        free(c->peers[i]);
    c->npeers = 0;
    free(c->partitions);
    c->partitions = NULL;
    c->npartitions = 0;
}

static int ssi_replace(char **slot, char *v)
{
    free(*slot);
    *slot = v;
    return v ? 0 : SS_ENOMEM;
}

static char *ssi_rel(const char *dir, const char *path)
{
    char *out = NULL;
    if (path[0] == '/' || !dir)
        return strdup(path);
    return asprintf(&out, "%s/%s", dir, path) < 0 ? NULL : out;
}

/* The first line of a file: the token. */
static int ssi_token(ss_serve_conf *c, const char *dir, const char *path, ss_err *err)
{
    char *file = ssi_rel(dir, path), *data = NULL;
    size_t len;
    int rc = file ? ss_file_read(file, &data, &len, err) : SS_ENOMEM;
    free(file);
    if (rc)
        return ss_err_prefix(err, "[serve] token_file"), rc;
    data[strcspn(data, "\r\n")] = '\0';
    if (strlen(data) < 16) {
        free(data);
        return ss_err_set(err, SS_EINVAL,
                          "[serve] token_file = %s: the token (its first line) must have at least "
                          "16 characters",
                          path);
    }
    return ssi_replace(&c->token, data);
}

/* peers = URL, URL, ...: each an http:// base address of another instance. */
static int ssi_peer_list(ss_serve_conf *c, const char *v, ss_err *err)
{
    char *copy = strdup(v), *save = NULL;
    if (!copy)
        return SS_ENOMEM;
    int rc = 0;
    for (char *tok = strtok_r(copy, ", \t", &save); tok && !rc;
         tok = strtok_r(NULL, ", \t", &save)) {
        if (strncmp(tok, "http://", 7) || !tok[7])
            rc = ss_err_set(err, SS_EINVAL, "[serve] peers: '%s' is not an http:// address", tok);
        else if (c->npeers == SS_SERVE_MAX_PEERS)
            rc = ss_err_set(err, SS_EINVAL, "[serve] peers: more than %d", SS_SERVE_MAX_PEERS);
        else if (!(c->peers[c->npeers] = strdup(tok)))
            rc = SS_ENOMEM;
        else {
            size_t n = strlen(c->peers[c->npeers]);
            while (n > 7 && c->peers[c->npeers][n - 1] == '/') /* base URLs join with "/api" */
                c->peers[c->npeers][--n] = '\0';
            c->npeers++;
        }
    }
    free(copy);
    return rc;
}

/* partitions = 0,2,4: the regions topic's partitions this instance consumes. */
static int ssi_partitions(ss_serve_conf *c, const char *v, ss_err *err)
{
    int32_t *parts = calloc(strlen(v) / 2 + 2, sizeof *parts);
    size_t n = 0;
    if (!parts)
        return SS_ENOMEM;
    for (const char *p = v; *p;) {
        char *end;
        long x = strtol(p, &end, 10);
        if (end == p || x < 0 || x > 1000000 || (*end && *end != ',')) {
            free(parts);
            return ss_err_set(err, SS_EINVAL,
                              "[serve] partitions = %s: want a comma list of "
                              "partition numbers",
                              v);
        }
        parts[n++] = (int32_t)x;
        p = *end ? end + 1 : end;
    }
    free(c->partitions);
    c->partitions = parts;
    c->npartitions = n;
    return 0;
}

static int ssi_num(const char *v, double lo, double hi, double *out)
{
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end || !isfinite(d) || d < lo || d > hi)
        return 0;
    *out = d;
    return 1;
}

static int ssi_unsigned(const char *v, double lo, double hi, unsigned *out)
{
    double d;
    if (!ssi_num(v, lo, hi, &d) || d != floor(d))
        return 0;
    *out = (unsigned)d;
    return 1;
}

static int ssi_bool(const char *v, int *out)
{
    if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1"))
        return *out = 1;
    if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0"))
        return *out = 0, 1;
    return 0;
}

/* The numeric keys: name, bounds, where. @return 1 set, 0 bad value, -1 not one of them. */
static int ssi_numeric(ss_serve_conf *c, const char *k, const char *v)
{
    unsigned u;
    double d;
    if (!strcmp(k, "threads"))
        return ssi_unsigned(v, 1, 256, &c->threads);
    if (!strcmp(k, "max_page_size"))
        return ssi_unsigned(v, 1, 100000, &u) && (c->max_page_size = u);
    if (!strcmp(k, "max_cone_arcsec"))
        return ssi_num(v, 1, 180 * 3600.0, &c->max_cone_arcsec);
    if (!strcmp(k, "max_connections"))
        return ssi_unsigned(v, 4, 100000, &c->max_connections);
    if (!strcmp(k, "per_ip_connections"))
        return ssi_unsigned(v, 1, 100000, &c->per_ip_connections);
    if (!strcmp(k, "rate"))
        return ssi_num(v, 0, 1e9, &c->rate);
    if (!strcmp(k, "burst"))
        return ssi_num(v, 1, 1e9, &c->burst);
    if (!strcmp(k, "timeout"))
        return ssi_num(v, 1, 3600, &c->timeout);
    if (!strcmp(k, "header_timeout"))
        return ssi_num(v, 0.5, 3600, &c->header_timeout);
    if (!strcmp(k, "max_request_bytes"))
        return ssi_num(v, 1024, 1 << 24, &d) && (c->max_request_bytes = (size_t)d);
    if (!strcmp(k, "max_streams"))
        return ssi_unsigned(v, 0, 10000, &c->max_streams);
    if (!strcmp(k, "nside")) /* a power of two, as the partitioner's */
        return ssi_unsigned(v, 1, 1 << 29, &u) && !(u & (u - 1)) && (c->nside = u);
    if (!strcmp(k, "regions"))
        return ssi_unsigned(v, 1, 1000000, &u) && (c->regions = u);
    return -1;
}

int ss_serve_conf_set(ss_serve_conf *c, const char *dir, const char *k, const char *v, ss_err *err)
{
    int ok = ssi_numeric(c, k, v);
    if (ok < 0) {
        if (!strcmp(k, "listen"))
            return ssi_replace(&c->listen, strdup(v));
        if (!strcmp(k, "store"))
            return ssi_replace(&c->store, ssi_rel(dir, v));
        if (!strcmp(k, "token_file"))
            return ssi_token(c, dir, v, err);
        if (!strcmp(k, "peers"))
            return ssi_peer_list(c, v, err);
        if (!strcmp(k, "partitions"))
            return ssi_partitions(c, v, err);
        ok = !strcmp(k, "public")       ? ssi_bool(v, &c->public_)
             : !strcmp(k, "access_log") ? ssi_bool(v, &c->access_log)
                                        : -1;
    }
    if (ok < 0)
        return ss_err_set(
            err, SS_EINVAL,
            "[serve] %s: unknown key (listen, token_file, public, threads, "
            "max_page_size, max_cone_arcsec, max_connections, per_ip_connections, "
            "rate, burst, timeout, header_timeout, max_request_bytes, max_streams, peers, "
            "access_log, store, nside, regions, partitions)",
            k);
    return ok ? 0
              : ss_err_set(err, SS_EINVAL,
                           "[serve] %s = %s: out of bounds or not a value of this key "
                           "(config/skysieve.ini lists them)",
                           k, v);
}

typedef struct ssi_ini {
    ss_serve_conf *c;
    const char *dir;
    ss_err *err;
} ssi_ini;

static int ssi_ini_key(void *user, const char *sec, const char *k, const char *v)
{
    ssi_ini *x = user;
    if (strcmp(sec, "serve"))
        return 1;
    return ss_serve_conf_set(x->c, x->dir, k, v, x->err) == 0;
}

int ss_serve_conf_load(const char *path, ss_serve_conf *c, ss_err *err)
{
    ss_broker_conf b;
    int rc = ss_broker_conf_load(path, &b, err);
    if (rc)
        return rc;
    rc = ssi_replace(&c->store, b.store);
    b.store = NULL;
    if (!rc && b.publish)
        rc = ssi_replace(&c->publish, strdup(b.publish));
    if (!rc && b.control)
        rc = ssi_replace(&c->control, strdup(b.control));
    if (!rc && b.secret)
        rc = ssi_replace(&c->secret, strdup(b.secret));
    c->beside = b.serve;
    if (!rc && b.kafka.nparts && !(c->partitions = malloc(b.kafka.nparts * sizeof *c->partitions)))
        rc = SS_ENOMEM;
    for (size_t i = 0; !rc && i < b.kafka.nparts; i++) /* [serve] partitions may override */
        c->partitions[c->npartitions++] = b.kafka.parts[i];
    ss_broker_conf_free(&b);
    char *copy = strdup(path), *dir = copy ? strdup(dirname(copy)) : NULL;
    free(copy);
    ssi_ini x = {c, dir, err};
    ss_err_clear(err);
    int line = !rc && dir ? ini_parse(path, ssi_ini_key, &x) : 0;
    free(dir);
    if (rc)
        return ss_err_set(err, rc, "out of memory");
    if (line && !err->code)
        return ss_err_set(err, SS_EINVAL, "%s:%d: not INI syntax", path, line);
    return err->code ? ss_err_prefix(err, "%s", path), err->code : 0;
}

/* Loopback addresses need no token: only this machine's users reach them. */
static int ssi_loopback(const char *listen)
{
    return !strncmp(listen, "127.", 4) || !strncmp(listen, "localhost:", 10) ||
           !strncmp(listen, "[::1]:", 6);
}

int ss_serve_conf_check(const ss_serve_conf *c, ss_err *err)
{
    if (!c->store)
        return ss_err_set(err, SS_EINVAL, "serve: no store (--store DIR, or [broker] store)");
    if (!ssi_loopback(c->listen) && !c->token && !c->public_)
        return ss_err_set(err, SS_EINVAL,
                          "serve: %s is reachable from other machines: give a token "
                          "(--token-file, [serve] token_file) or say --public",
                          c->listen);
    return 0;
}
