/* The live broker's commands: run, ctl, send, and the hidden worker. */
#include "broker.h"
#include "cli.h"
#include "serve.h"
#include "worker.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>
#include <nanomsg/reqrep.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"

static const char ssi_run_help[] =
    "usage: skysieve run --config FILE\n\n"
    "Run the broker until SIGTERM, SIGINT or `skysieve ctl stop`: ingest the spool directory and\n"
    "the pull socket, run the filter set in worker processes, store and publish what it finds.\n"
    "SIGHUP reloads the filter set. Logs go to standard error. config/skysieve.ini documents\n"
    "every setting and runs as it is.\n";

/* [serve]: the server the broker starts beside it reads the same file; refuse a bad section now
 * rather than from a child that would keep dying. */
static int ssi_serve_check(const char *config, ss_err *err)
{
    ss_serve_conf sc;
    ss_serve_conf_init(&sc);
    int rc = ss_serve_conf_load(config, &sc, err);
    if (!rc)
        rc = ss_serve_conf_check(&sc, err);
    ss_serve_conf_free(&sc);
    return rc;
}

int ss_cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *config = NULL;
    int ch;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (ch == 'c')
            config = optarg;
        else if (ch == 'h')
            return fputs(ssi_run_help, stdout), SS_EXIT_OK;
        else
            return ss_cli_usage("run", "unknown option");
    }
    if (!config || optind != argc)
        return ss_cli_usage("run", "--config FILE is required, and nothing else");
    ss_broker_conf c;
    ss_err err = {0};
    if (ss_broker_conf_load(config, &c, &err))
        return ss_cli_fail(&err);
    if (c.serve && ssi_serve_check(config, &err)) { /* before anything starts */
        ss_broker_conf_free(&c);
        return ss_cli_fail(&err);
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return ss_err_set(&err, errno, "cannot find the skysieve binary: %s", strerror(errno)),
               ss_cli_fail(&err);
    exe[n] = '\0';
    ss_log lg = {stderr, c.log_level};
    int rc = ss_broker_run(&c, exe, &lg, &err);
    if (rc)
        ss_log_line(&lg, SS_LOG_ERROR, "%s", err.msg);
    ss_broker_conf_free(&c);
    return rc ? SS_EXIT_FAIL : SS_EXIT_OK;
}

/* ---- ctl ---- */

static const char ssi_ctl_help[] =
    "usage: skysieve ctl (--config FILE | --address ADDR [--secret-file F]) [--timeout S] "
    "COMMAND\n\n"
    "Talk to a running broker through its control socket. COMMAND is one of\n"
    "  status            uptime, alerts in, stored, rejected, queue depth, workers, and per "
    "filter\n"
    "                    runs, skips, tags, errors, crashes, timeouts, time percentiles, disabled\n"
    "  reload            load and validate the filter set again, then swap it in; on failure the\n"
    "                    running set stays and the reason is printed\n"
    "  disable LABEL     stop running a filter (by its label in the set); enable LABEL: again\n"
    "  stop              stop after committing what is in flight\n"
    "The broker's answer is printed as JSON. Exit status 0 when it says ok, 1 otherwise.\n"
    "With --config the address and secret come from the broker's configuration.\n"
    "With a secret the secret itself is never sent: each request carries a timestamp, a random\n"
    "nonce and an HMAC-SHA256 keyed by the secret (the broker refuses a replayed one, or one more\n"
    "than 60 s from its clock), and the answer is checked the same way. Nothing is encrypted.\n";

typedef struct ssi_ctl_cli {
    const char *config, *address, *secret_file;
    double timeout;
    char *secret;
} ssi_ctl_cli;

static int ssi_ctl_parse(int argc, char **argv, ssi_ctl_cli *c)
{
    static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                         {"address", required_argument, 0, 'a'},
                                         {"secret-file", required_argument, 0, 's'},
                                         {"timeout", required_argument, 0, 't'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int ch;
    c->timeout = 10;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': c->config = optarg; break;
        case 'a': c->address = optarg; break;
        case 's': c->secret_file = optarg; break;
        case 't':
            if (ss_cli_double(optarg, &c->timeout) || c->timeout <= 0)
                return ss_cli_usage("ctl", "--timeout wants seconds, not '%s'", optarg);
            break;
        case 'h': fputs(ssi_ctl_help, stdout); return -1;
        default: return ss_cli_usage("ctl", "unknown option");
        }
    }
    if (!c->config == !c->address)
        return ss_cli_usage("ctl", "give either --config FILE or --address ADDR");
    if (optind >= argc)
        return ss_cli_usage("ctl", "no COMMAND (status, reload, enable, disable, stop)");
    int want = !strcmp(argv[optind], "enable") || !strcmp(argv[optind], "disable") ? 2 : 1;
    if (argc - optind != want)
        return ss_cli_usage("ctl", "'%s' takes %s", argv[optind],
                            want == 2 ? "a filter LABEL" : "no argument");
    return 0;
}

/* The address and secret to use. @return 0 or an error. */
static int ssi_ctl_target(ssi_ctl_cli *c, char **address, ss_err *err)
{
    if (c->config) {
        ss_broker_conf bc;
        int rc = ss_broker_conf_load(c->config, &bc, err);
        if (rc)
            return rc;
        *address = strdup(bc.control);
        c->secret = bc.secret ? strdup(bc.secret) : NULL;
        ss_broker_conf_free(&bc);
    } else
        *address = strdup(c->address);
    if (c->secret_file) {
        char *secret;
        if (ss_broker_secret_read(c->secret_file, &secret, err))
            return err->code;
        free(c->secret);
        c->secret = secret;
    }
    return *address ? 0 : ss_err_set(err, SS_ENOMEM, "out of memory");
}

int ss_cmd_ctl(int argc, char **argv)
{
    ssi_ctl_cli c = {0};
    int rc = ssi_ctl_parse(argc, argv, &c);
    if (rc)
        return rc < 0 ? SS_EXIT_OK : rc;
    char *address = NULL;
    ss_err err = {0};
    if (ssi_ctl_target(&c, &address, &err)) {
        free(address);
        free(c.secret);
        return ss_cli_fail(&err);
    }
    json_t *o = NULL;
    rc = ss_broker_ctl(address, c.secret, argv[optind], optind + 1 < argc ? argv[optind + 1] : NULL,
                       c.timeout, &o, &err);
    free(address);
    free(c.secret);
    if (rc)
        return ss_cli_fail(&err);
    json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
    fputc('\n', stdout);
    int ok = json_is_true(json_object_get(o, "ok"));
    if (!ok)
        fprintf(stderr, "skysieve ctl: %s\n",
                json_string_value(json_object_get(o, "error")) ?: "the broker said no");
    json_decref(o);
    return ok ? SS_EXIT_OK : SS_EXIT_FAIL;
}

/* ---- send ---- */

static const char ssi_send_help[] =
    "usage: skysieve send [--timeout S] [--rate N] [--max-size BYTES] ADDRESS FILE...\n"
    "       skysieve send [--timeout S] [--rate N] --config FILE FILE...\n\n"
    "Push each FILE, whole, as one message to a broker's pull socket (its [input pull] address):\n"
    "an Avro container, a Confluent-framed Avro message, JSON lines or CSV. --rate sends at most\n"
    "N messages a second. A message no broker takes within the timeout (default 10 s) fails.\n"
    "A FILE larger than the broker's [input pull] max_message_size (read from --config, else\n"
    "--max-size, default 16M; K, M, G suffixes) is refused here and counted as failed: the\n"
    "broker's socket would drop it without a word.\n"
    "The connection stays open half a second after the last message: nanomsg drops messages a\n"
    "receiver has not taken yet when their sender disconnects.\n"
    "Exit status 0 when every file was sent.\n";

typedef struct ssi_send_cli {
    double timeout, rate;
    size_t max_size;
    const char *config;
    char *address; /* owned */
} ssi_send_cli;

static int ssi_send_one(int sock, const char *path, size_t max_size, ss_err *err)
{
    char *data = NULL;
    size_t len;
    int rc = ss_file_read(path, &data, &len, err);
    if (rc)
        return rc;
    if (len > max_size)
        rc = ss_err_set(err, EMSGSIZE,
                        "%s: not sent: %zu bytes, over the broker's max_message_size of %zu "
                        "([input pull] in its configuration; --max-size or --config here)",
                        path, len, max_size);
    else if (nn_send(sock, data, len, 0) < 0)
        rc = ss_err_set(err, nn_errno(), "%s: not sent: %s", path,
                        nn_errno() == ETIMEDOUT ? "no broker took it in time"
                                                : nn_strerror(nn_errno()));
    free(data);
    return rc;
}

/* "16M" -> bytes, within what [input pull] max_message_size accepts. @return 0 or -1. */
static int ssi_send_size(const char *v, size_t *out)
{
    return ss_file_parse_size(v, out) || *out == 0 || *out > SS_BROKER_MESSAGE_MAX ? -1 : 0;
}

/* The address and limit from the broker's configuration ([input pull]). */
static int ssi_send_config(ssi_send_cli *c, ss_err *err)
{
    ss_broker_conf bc;
    int rc = ss_broker_conf_load(c->config, &bc, err);
    if (rc)
        return rc;
    if (!bc.pull_address)
        rc = ss_err_set(err, SS_EINVAL,
                        "%s: no [input pull] section: the broker takes no "
                        "messages",
                        c->config);
    else if (!(c->address = strdup(bc.pull_address)))
        rc = ss_err_set(err, SS_ENOMEM, "out of memory");
    c->max_size = bc.max_message_size;
    ss_broker_conf_free(&bc);
    return rc;
}

static int ssi_send_parse(int argc, char **argv, ssi_send_cli *c)
{
    static const struct option opts[] = {
        {"timeout", required_argument, 0, 't'},  {"rate", required_argument, 0, 'r'},
        {"max-size", required_argument, 0, 'm'}, {"config", required_argument, 0, 'c'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    int ch, sized = 0;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (ch == 'h')
            return fputs(ssi_send_help, stdout), -1;
        if (ch == 'c' || ch == 'm') {
            sized += ch == 'm';
            c->config = ch == 'c' ? optarg : c->config;
            if (ch == 'm' && ssi_send_size(optarg, &c->max_size))
                return ss_cli_usage("send", "--max-size wants bytes (1 to 1G), not '%s'", optarg);
            continue;
        }
        double *slot = ch == 't' ? &c->timeout : ch == 'r' ? &c->rate : NULL;
        if (!slot || ss_cli_double(optarg, slot) || *slot <= 0)
            return ss_cli_usage("send", "bad option");
    }
    if (c->config && sized)
        return ss_cli_usage("send", "--config gives the limit: no --max-size with it");
    if (argc - optind < (c->config ? 1 : 2))
        return ss_cli_usage("send", c->config ? "expected at least one FILE"
                                              : "expected ADDRESS and at least one FILE");
    return 0;
}

int ss_cmd_send(int argc, char **argv)
{
    ssi_send_cli c = {.timeout = 10, .max_size = SS_BROKER_MESSAGE_DEFAULT};
    int rc = ssi_send_parse(argc, argv, &c);
    if (rc)
        return rc < 0 ? SS_EXIT_OK : rc;
    ss_err err = {0};
    if (c.config)
        ssi_send_config(&c, &err);
    else if (!(c.address = strdup(argv[optind++])))
        ss_err_set(&err, SS_ENOMEM, "out of memory");
    if (err.code) {
        free(c.address);
        return ss_cli_fail(&err);
    }
    int s = nn_socket(AF_SP, NN_PUSH), ms = (int)(c.timeout * 1000);
    if (s < 0 || nn_setsockopt(s, NN_SOL_SOCKET, NN_SNDTIMEO, &ms, sizeof ms) < 0 ||
        nn_connect(s, c.address) < 0) {
        ss_err_set(&err, nn_errno(), "%s: %s", c.address, nn_strerror(nn_errno()));
        free(c.address);
        return ss_cli_fail(&err);
    }
    free(c.address);
    int failed = 0, sent = 0;
    for (int i = optind; i < argc; i++) {
        if (c.rate > 0 && sent)
            usleep((useconds_t)(1e6 / c.rate));
        if (ssi_send_one(s, argv[i], c.max_size, &err)) {
            fprintf(stderr, "skysieve send: %s\n", err.msg);
            failed++;
        } else
            sent++;
    }
    /* PUSH/PULL has no acknowledgement, and nanomsg drops a message still in the receiver's
     * pipe when the sender disconnects: stay connected until the broker has surely taken it. */
    usleep(500000);
    nn_close(s);
    fprintf(stderr, "skysieve send: %d sent, %d failed\n", sent, failed);
    return failed ? SS_EXIT_FAIL : SS_EXIT_OK;
}

/* ---- worker (started by the broker, not by people) ---- */

int ss_cmd_worker(int argc, char **argv)
{
    static const struct option opts[] = {{"store", required_argument, 0, 's'},
                                         {"set", required_argument, 0, 'f'},
                                         {"fd", required_argument, 0, 'd'},
                                         {"shm", required_argument, 0, 'm'},
                                         {0, 0, 0, 0}};
    const char *store = NULL, *set = NULL;
    int fd = -1, shm = -1, ch;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (ch == 's')
            store = optarg;
        else if (ch == 'f')
            set = optarg;
        else if (ch == 'd')
            fd = atoi(optarg);
        else if (ch == 'm')
            shm = atoi(optarg);
        else
            return SS_EXIT_USAGE;
    }
    if (!store || !set || fd < 0 || shm < 0)
        return ss_cli_usage("worker", "is started by `skysieve run`, not by hand");
    return ss_broker_worker_main(store, set, fd, shm);
}
