/* The broker's configuration file (broker.h, config/skysieve.ini). */
#include "broker.h"
#include "confine.h"

#include "fileio.h"
#include "store.h"

#include <errno.h>
#include <ini.h>
#include <pwd.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct ssi_conf_ctx {
    ss_broker_conf *c;
    const char *dir;
    ss_err *err;
    int spool, pull, filters, output; /* sections seen */
} ssi_conf_ctx;

static char *ssi_rel(const char *dir, const char *path)
{
    char *out = NULL;
    if (path[0] == '/' || !dir)
        return strdup(path);
    return asprintf(&out, "%s/%s", dir, path) < 0 ? NULL : out;
}

/* ipc:// paths are files: relative ones are taken relative to the configuration too. */
static char *ssi_address(const char *dir, const char *addr)
{
    if (strncmp(addr, "ipc://", 6) || addr[6] == '/')
        return strdup(addr);
    char *out = NULL;
    return asprintf(&out, "ipc://%s/%s", dir, addr + 6) < 0 ? NULL : out;
}

static int ssi_set_str(char **slot, char *value)
{
    free(*slot);
    *slot = value;
    return value != NULL;
}

static int ssi_num(const char *v, double lo, double *out)
{
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end || !isfinite(d) || d < lo)
        return 0;
    *out = d;
    return 1;
}

static int ssi_size(const char *v, uint64_t *out)
{
    size_t n;
    if (ss_file_parse_size(v, &n))
        return 0;
    *out = n;
    return 1;
}

static int ssi_uint(const char *v, uint64_t lo, uint64_t *out)
{
    return ssi_size(v, out) && *out >= lo;
}

/* nanomsg keeps the limit in an int: 1 KiB to 1 GiB. */
static int ssi_message_size(const char *v, size_t *out)
{
    uint64_t u;
    return ssi_uint(v, 1024, &u) && u <= SS_BROKER_MESSAGE_MAX && (*out = (size_t)u);
}

/* A [broker] value refused for @p why. @return 0. */
static int ssi_conf_fail(ssi_conf_ctx *x, const char *k, const char *v, const char *why)
{
    ss_err_set(x->err, SS_EINVAL, "%s: [broker] %s = %s: %s", x->c->file, k, v, why);
    return 0;
}

/* max_line_bytes, max_value_bytes, max_props, max_history, max_alert_bytes (alert_limits.h):
 * 0 or a value out of range is refused here, naming the key. @return 1 set, 0 not. */
static int ssi_limit_key(ssi_conf_ctx *x, const char *k, const char *v)
{
    ss_err mine = {0};
    int rc = ss_alert_limits_set(&x->c->limits, k, v, &mine);
    if (rc && rc != 1)
        ss_err_set(x->err, rc, "%s: [broker] %s", x->c->file, mine.msg);
    return rc == 0;
}

/* worker_user: an existing user, whom only a broker running as root can become. */
static int ssi_worker_user(ssi_conf_ctx *x, const char *k, const char *v)
{
    char why[160];
    errno = 0;
    const struct passwd *pw = getpwnam(v);
    if (!pw)
        return ssi_conf_fail(x, k, v, errno ? strerror(errno) : "no such user");
    if (pw->pw_uid != geteuid() && geteuid() != 0) {
        snprintf(why, sizeof why,
                 "the broker runs as uid %u, not root: it cannot start workers as uid %u",
                 (unsigned)geteuid(), (unsigned)pw->pw_uid);
        return ssi_conf_fail(x, k, v, why);
    }
    if (pw->pw_uid == geteuid() && geteuid() != 0)
        return 1; /* the broker's own user: nothing to become */
    x->c->worker_uid = pw->pw_uid;
    x->c->worker_gid = pw->pw_gid;
    return 1;
}

/* A zstd level for the stamps (ss_store_options.stamp_level): a whole number in range, not 0. */
static int ssi_stamp_level(const char *v, int *out)
{
    double d;
    if (!ssi_num(v, SS_STAMP_LEVEL_MIN, &d) || d != floor(d) || d > SS_STAMP_LEVEL_MAX || d == 0)
        return 0;
    *out = (int)d;
    return 1;
}

static int ssi_broker_key(ssi_conf_ctx *x, const char *k, const char *v)
{
    ss_broker_conf *c = x->c;
    uint64_t u;
    if (!strcmp(k, "store"))
        return ssi_set_str(&c->store, ssi_rel(x->dir, v));
    if (!strcmp(k, "run_dir"))
        return ssi_set_str(&c->run_dir, ssi_rel(x->dir, v));
    if (!strcmp(k, "map_size"))
        return ssi_uint(v, 1 << 20, &u) && (c->map_size = (size_t)u);
    if (!strcmp(k, "radius"))
        return ssi_num(v, 1e-3, &c->radius_arcsec);
    if (!strcmp(k, "instance"))
        return ssi_uint(v, 1, &u) && u <= SS_MAX_INSTANCE && (c->instance = (unsigned)u);
    if (!strcmp(k, "batch"))
        return ssi_uint(v, 1, &u) && u <= 1000000 && (c->batch = (uint32_t)u);
    if (!strcmp(k, "stamp_level"))
        return ssi_stamp_level(v, &c->stamp_level);
    if (!strcmp(k, "commit_interval"))
        return ssi_num(v, 0, &c->commit_interval) && c->commit_interval <= 10;
    if (!strcmp(k, "max_rejected_per_input")) /* 0 here would mean the default: refuse it */
        return ssi_uint(v, 1, &c->max_rejected_per_input);
    if (!strcmp(k, "max_attempts"))
        return ssi_uint(v, 0, &u) && u <= 1000 && ((c->max_attempts = (unsigned)u), 1);
    if (!strcmp(k, "log_level"))
        return ss_log_level_parse(v, &c->log_level) == 0;
    if (!strcmp(k, "stats_interval"))
        return ssi_num(v, 0, &c->stats_interval);
    if (!strcmp(k, "queue_high"))
        return ssi_uint(v, 1, &c->queue_high);
    if (!strcmp(k, "queue_low"))
        return ssi_uint(v, 0, &c->queue_low);
    if (!strcmp(k, "worker_memory")) /* 0 (none), or at least 16M: less cannot load a set */
        return ssi_size(v, &c->worker_memory) &&
               (!c->worker_memory || c->worker_memory >= 16 << 20);
    if (!strcmp(k, "worker_cpu_seconds"))
        return ssi_uint(v, 0, &c->worker_cpu_seconds);
    if (!strcmp(k, "worker_open_files")) /* the worker itself needs a few dozen */
        return ssi_uint(v, 0, &c->worker_open_files) &&
               (!c->worker_open_files || c->worker_open_files >= 128);
    if (!strcmp(k, "worker_processes"))
        return ssi_uint(v, 0, &c->worker_processes);
    if (!strcmp(k, "worker_allow"))
        return ssi_allow_parse(v, &c->worker_allow) == 0 ||
               ssi_conf_fail(x, k, v, "a list of: network, processes");
    if (!strcmp(k, "worker_user"))
        return ssi_worker_user(x, k, v);
    return ssi_limit_key(x, k, v);
}

static int ssi_filters_key(ssi_conf_ctx *x, const char *k, const char *v)
{
    ss_broker_conf *c = x->c;
    uint64_t u;
    if (!strcmp(k, "set"))
        return ssi_set_str(&c->set, ssi_rel(x->dir, v));
    if (!strcmp(k, "workers"))
        return ssi_uint(v, 1, &u) && u <= 64 && (c->workers = (unsigned)u);
    if (!strcmp(k, "timeout"))
        return ssi_num(v, 0.01, &c->timeout);
    if (!strcmp(k, "max_crashes"))
        return ssi_uint(v, 1, &u) && u < 1000000 && (c->max_crashes = (unsigned)u);
    if (!strcmp(k, "batch"))
        return ssi_uint(v, 1, &u) && u <= 100000 && (c->dispatch_batch = (unsigned)u);
    return 0;
}

/* [notify]: bounds that keep a typo from disabling delivery (timeout 0) or hammering a server. */
static int ssi_notify_key(ssi_conf_ctx *x, const char *k, const char *v)
{
    ss_publish_notify_conf *n = &x->c->notify;
    uint64_t u;
    if (!strcmp(k, "timeout"))
        return ssi_num(v, 0.1, &n->timeout) && n->timeout <= 600;
    if (!strcmp(k, "retries"))
        return ssi_uint(v, 1, &u) && u <= 100 && (n->retries = (unsigned)u);
    if (!strcmp(k, "backoff"))
        return ssi_num(v, 0.01, &n->backoff) && n->backoff <= SS_NOTIFY_BACKOFF_MAX;
    if (!strcmp(k, "max_age"))
        return ssi_num(v, 1, &n->max_age);
    return 0;
}

static const char *ssi_notify_bounds(const char *k)
{
    return !strcmp(k, "timeout")   ? "seconds, 0.1 to 600"
           : !strcmp(k, "retries") ? "a whole number of attempts, 1 to 100"
           : !strcmp(k, "backoff") ? "seconds, 0.01 to 3600"
           : !strcmp(k, "max_age") ? "seconds, at least 1"
                                   : "unknown key (timeout, retries, backoff, max_age)";
}

/* The first line of @p fp without its line end. @return 1 when it is not empty. */
static int ssi_first_line(FILE *fp, char *line, size_t cap)
{
    if (!fgets(line, (int)cap, fp))
        return 0;
    line[strcspn(line, "\r\n")] = '\0';
    return line[0] != '\0';
}

int ss_broker_secret_read(const char *path, char **secret, ss_err *err)
{
    *secret = NULL;
    FILE *fp = fopen(path, "r");
    struct stat st;
    char line[512];
    if (!fp || fstat(fileno(fp), &st))
        ss_err_set(err, SS_EINVAL, "%s: %s", path, strerror(errno));
    else if (st.st_mode & (S_IRWXG | S_IRWXO)) /* a secret others can read is no secret */
        ss_err_set(err, SS_EINVAL,
                   "%s: readable by group or others (mode %04o): make it its owner's alone "
                   "(chmod 600)",
                   path, (unsigned)(st.st_mode & 07777));
    else if (!ssi_first_line(fp, line, sizeof line))
        ss_err_set(err, SS_EINVAL, "%s: the first line (the secret) is empty", path);
    else if (!(*secret = strdup(line)))
        ss_err_set(err, SS_ENOMEM, "out of memory");
    if (fp)
        fclose(fp);
    return *secret ? 0 : err->code;
}

static int ssi_secret(ssi_conf_ctx *x, const char *path)
{
    char *file = ssi_rel(x->dir, path), *secret = NULL;
    ss_err mine = {0};
    int rc = file ? ss_broker_secret_read(file, &secret, &mine) : SS_ENOMEM;
    free(file);
    if (rc) {
        ss_err_set(x->err, rc, "%s: [control] secret_file = %s", x->c->file, mine.msg);
        return 0;
    }
    return ssi_set_str(&x->c->secret, secret);
}

/* [output NAME]: the pairs are kept for the plugin's open_conf, which checks them (and names the
 * file and key) when the broker opens it; only the name is checked here. */
static int ssi_output_section(ssi_conf_ctx *x, const char *name, const char *k, const char *v)
{
    ss_broker_conf *c = x->c;
    const ss_output_ops *ops = ss_output_named(name);
    if (!ops || !ops->open_conf)
        return ss_err_set(x->err, SS_EINVAL, "%s: [output %s]: no such output", c->file, name), 0;
    size_t i = 0;
    while (i < c->noutputs && strcmp(c->outputs[i].name, name))
        i++;
    if (i == sizeof c->outputs / sizeof *c->outputs)
        return ss_err_set(x->err, SS_EINVAL, "%s: [output %s]: too many output sections", c->file,
                          name),
               0;
    ss_broker_output *o = &c->outputs[i];
    if (i == c->noutputs && !(o->name = strdup(name)))
        return 0;
    c->noutputs += i == c->noutputs;
    ss_output_kv *fresh = realloc(o->kv, (o->n + 1) * sizeof *fresh);
    if (!fresh)
        return 0;
    o->kv = fresh;
    fresh[o->n] = (ss_output_kv){strdup(k), strdup(v)};
    return fresh[o->n].key && fresh[o->n++].value;
}

/* [input kafka]: the consumer's keys (kafka_in.h), and schema_dir for Rubin-framed messages. */
static int ssi_kafka_key(ssi_conf_ctx *x, const char *k, const char *v)
{
    ss_broker_conf *c = x->c;
    c->kafka_on = 1;
    if (!strcmp(k, "schema_dir"))
        return ssi_set_str(&c->schema_dir, ssi_rel(x->dir, v));
    if (ss_ingest_kafka_in_conf_set(&c->kafka, k, v, x->err))
        return ss_err_prefix(x->err, "%s", c->file), 0;
    return 1;
}

/* [input gcn]: a consumer of gravitational-wave notices, with [input kafka]'s connection keys. */
static int ssi_gcn_key(ssi_conf_ctx *x, const char *k, const char *v)
{
    ss_broker_conf *c = x->c;
    c->gcn_on = 1;
    if (!strcmp(k, "format") || !strcmp(k, "partitions") || !strcmp(k, "schema_dir"))
        return ss_err_set(x->err, SS_EINVAL,
                          "%s: [input gcn] %s: not a key of this section "
                          "(brokers, topics, group, rdkafka.*)",
                          c->file, k),
               0;
    if (ss_ingest_kafka_in_conf_set(&c->gcn, k, v, x->err))
        return ss_err_prefix(x->err, "%s", c->file), 0;
    return 1;
}

static int ssi_handler(void *user, const char *sec, const char *k, const char *v)
{
    ssi_conf_ctx *x = user;
    ss_broker_conf *c = x->c;
    int ok = 0;
    if (!strcmp(sec, "broker"))
        ok = ssi_broker_key(x, k, v);
    else if (!strcmp(sec, "input spool")) {
        x->spool = 1;
        ok = !strcmp(k, "dir")    ? ssi_set_str(&c->spool_dir, ssi_rel(x->dir, v))
             : !strcmp(k, "poll") ? ssi_num(v, 0.001, &c->spool_poll)
                                  : 0;
    } else if (!strcmp(sec, "input pull")) {
        x->pull = 1;
        ok = !strcmp(k, "address")      ? ssi_set_str(&c->pull_address, ssi_address(x->dir, v))
             : !strcmp(k, "schema_dir") ? ssi_set_str(&c->schema_dir, ssi_rel(x->dir, v))
             : !strcmp(k, "max_message_size") ? ssi_message_size(v, &c->max_message_size)
                                              : 0;
    } else if (!strcmp(sec, "input kafka")) {
        ok = ssi_kafka_key(x, k, v);
    } else if (!strcmp(sec, "input gcn")) {
        ok = ssi_gcn_key(x, k, v);
    } else if (!strcmp(sec, "filters")) {
        x->filters = 1;
        ok = ssi_filters_key(x, k, v);
    } else if (!strcmp(sec, "output")) {
        x->output = 1;
        ok = !strcmp(k, "publish") && ssi_set_str(&c->publish, ssi_address(x->dir, v));
    } else if (!strncmp(sec, "output ", 7)) {
        ok = ssi_output_section(x, sec + 7, k, v);
    } else if (!strcmp(sec, "notify")) {
        if (!(ok = ssi_notify_key(x, k, v)))
            ss_err_set(x->err, SS_EINVAL, "%s: [notify] %s = %s: %s", c->file, k, v,
                       ssi_notify_bounds(k));
    } else if (!strcmp(sec, "serve")) {
        ok = c->serve = 1; /* its keys are the server's (serve.h), checked by `skysieve run` */
    } else if (!strcmp(sec, "control"))
        ok = !strcmp(k, "address")       ? ssi_set_str(&c->control, ssi_address(x->dir, v))
             : !strcmp(k, "secret_file") ? ssi_secret(x, v)
                                         : 0;
    if (!ok && !x->err->code)
        ss_err_set(x->err, SS_EINVAL, "%s: [%s] %s = %s: %s", c->file, sec, k, v,
                   strcmp(sec, "broker") && strcmp(sec, "control") && strcmp(sec, "filters") &&
                           strcmp(sec, "serve") && strcmp(sec, "output") &&
                           strncmp(sec, "input ", 6)
                       ? "unknown section"
                       : "unknown key or bad value");
    return ok;
}

/* Defaults for what the file left out: config/skysieve.ini shows the same values. */
static int ssi_defaults(ssi_conf_ctx *x)
{
    ss_broker_conf *c = x->c;
    int ok = 1;
    if (!c->store)
        ok &= ssi_set_str(&c->store, ssi_rel(x->dir, "../run/store"));
    if (!c->run_dir)
        ok &= ssi_set_str(&c->run_dir, ssi_rel(x->dir, "../run"));
    if (x->spool && !c->spool_dir)
        ok &= ssi_set_str(&c->spool_dir, ssi_rel(x->dir, "../run/spool"));
    if (x->pull && !c->pull_address)
        ok &= ssi_set_str(&c->pull_address, strdup("ipc:///tmp/skysieve-in.ipc"));
    if (x->filters && !c->set)
        ok &= ssi_set_str(&c->set, ssi_rel(x->dir, "filters.ini"));
    if (x->output && !c->publish)
        ok &= ssi_set_str(&c->publish, strdup("ipc:///tmp/skysieve-tags.ipc"));
    if (!c->control) {
        char *a = NULL;
        ok &= asprintf(&a, "ipc://%s/control.ipc", c->run_dir) >= 0 && ssi_set_str(&c->control, a);
    }
    return ok;
}

int ss_broker_conf_load(const char *path, ss_broker_conf *c, ss_err *err)
{
    *c = (ss_broker_conf){.map_size = (size_t)1 << 30,
                          .radius_arcsec = 1.0,
                          .batch = 5000,
                          .commit_interval = 0.01,
                          .max_attempts = 3,
                          .log_level = SS_LOG_INFO,
                          .stats_interval = 10,
                          .queue_high = 100000,
                          .queue_low = 50000,
                          .spool_poll = 0.2,
                          .max_message_size = SS_BROKER_MESSAGE_DEFAULT,
                          .workers = 1,
                          .timeout = 10,
                          .max_crashes = 3,
                          .dispatch_batch = 64,
                          .worker_memory = (uint64_t)2 << 30,
                          .worker_open_files = 1024,
                          .worker_processes = 0,
                          .worker_cpu_seconds = 0,
                          .worker_uid = -1,
                          .worker_gid = -1,
                          .notify = SS_NOTIFY_CONF_DEFAULT};
    char *copy = strdup(path), *dir = copy ? strdup(dirname(copy)) : NULL;
    free(copy);
    c->file = strdup(path);
    ssi_conf_ctx x = {c, dir, err, 0, 0, 0, 0};
    ss_err_clear(err);
    int line = dir && c->file ? ini_parse(path, ssi_handler, &x) : -2;
    int rc = err->code;
    if (line == -1)
        rc = ss_err_set(err, ENOENT, "%s: cannot open: %s", path, strerror(errno ? errno : ENOENT));
    else if (line > 0 && !rc)
        rc = ss_err_set(err, SS_EINVAL, "%s:%d: not INI syntax", path, line);
    else if (!rc && (line == -2 || !ssi_defaults(&x)))
        rc = ss_err_set(err, SS_ENOMEM, "out of memory");
    else if (!rc && c->queue_low >= c->queue_high)
        rc = ss_err_set(err, SS_EINVAL, "%s: [broker] queue_low must be below queue_high", path);
    else if (!rc && c->kafka_on && (!c->kafka.brokers || !c->kafka.topics || !c->kafka.group))
        rc = ss_err_set(err, SS_EINVAL, "%s: [input kafka] %s: missing", path,
                        !c->kafka.brokers  ? "brokers"
                        : !c->kafka.topics ? "topics"
                                           : "group");
    else if (!rc && c->gcn_on && (!c->gcn.brokers || !c->gcn.topics || !c->gcn.group))
        rc = ss_err_set(err, SS_EINVAL, "%s: [input gcn] %s: missing", path,
                        !c->gcn.brokers  ? "brokers"
                        : !c->gcn.topics ? "topics"
                                         : "group");
    else if (!rc && !strncmp(c->control, "tcp://", 6) && !c->secret)
        rc = ss_err_set(err, SS_EINVAL,
                        "%s: [control] address = %s is reachable from the network: set "
                        "secret_file (a file whose first line is the shared secret)",
                        path, c->control);
    free(dir);
    if (rc)
        ss_broker_conf_free(c);
    return rc;
}

void ss_broker_conf_free(ss_broker_conf *c)
{
    char **strs[] = {&c->file,       &c->store, &c->run_dir, &c->spool_dir, &c->pull_address,
                     &c->schema_dir, &c->set,   &c->publish, &c->control,   &c->secret};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) {
        free(*strs[i]);
        *strs[i] = NULL;
    }
    for (size_t i = 0; i < c->noutputs; i++) {
        ss_broker_output *o = &c->outputs[i];
        for (size_t j = 0; j < o->n; j++) {
            free((char *)o->kv[j].key); /* owned here: const only for the plugins */
            free((char *)o->kv[j].value);
        }
        free(o->kv);
        free(o->name);
    }
    c->noutputs = 0;
    ss_ingest_kafka_in_conf_free(&c->kafka);
    ss_ingest_kafka_in_conf_free(&c->gcn);
    c->kafka_on = 0;
}
