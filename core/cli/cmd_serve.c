/* skysieve serve: the store over HTTP (serve.h). */
#include "cli.h"
#include "serve.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char ssi_serve_help[] =
    "usage: skysieve serve (--store DIR | --config FILE) [--listen ADDR:PORT] [--token-file F]\n"
    "                      [--public] [--threads N] [--set KEY=VALUE]...\n\n"
    "Answer HTTP requests over a store, read-only, while a broker or an ingest writes it: the\n"
    "routes under /api/v1/ (loci by id and by search, light curves, alerts and their stamps,\n"
    "tags, catalogs, watch lists, statistics, a running broker's filters and its live tags as\n"
    "server-sent events) and ALeRCE-compatible routes under /ztf/v1/. The routes are listed at\n"
    "/api/v1/openapi.json and in the README (\"The HTTP API\").\n\n"
    "  --config FILE     the broker's skysieve.ini: its [serve] section, [broker] store,\n"
    "                    [output] publish (for /stream) and [control] (for /filters)\n"
    "  --store DIR       the store (overrides the configuration's)\n"
    "  --listen A:P      address and port (default 127.0.0.1:8080)\n"
    "  --token-file F    require 'Authorization: Bearer TOKEN', TOKEN the file's first line;\n"
    "                    needed to listen on any address but loopback, unless --public\n"
    "  --public          listen on a non-loopback address without a token\n"
    "  --threads N       threads answering requests (default: the number of cores)\n"
    "  --set KEY=VALUE   any [serve] key (max_page_size, rate, peers, ...)\n"
    "Stops on SIGTERM or SIGINT. One access-log line per request goes to standard error.\n";

static int ssi_opt(ss_serve_conf *c, const char *key, const char *value, ss_err *err)
{
    return ss_serve_conf_set(c, NULL, key, value, err);
}

/* Options apply after the file, so the command line wins. @return 0; -1 after --help; -2 after a
 * usage error; an error code with @p err. */
static int ssi_serve_parse(int argc, char **argv, ss_serve_conf *c, ss_err *err)
{
    static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                         {"store", required_argument, 0, 's'},
                                         {"listen", required_argument, 0, 'l'},
                                         {"token-file", required_argument, 0, 't'},
                                         {"public", no_argument, 0, 'p'},
                                         {"threads", required_argument, 0, 'n'},
                                         {"set", required_argument, 0, 'k'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int ch;
    opterr = 0; /* the second pass reports unknown options */
    for (optind = 0; (ch = getopt_long(argc, argv, "", opts, NULL)) != -1;)
        if (ch == 'c' && ss_serve_conf_load(optarg, c, err))
            return err->code;
    opterr = 1;
    optind = 0;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char key[64];
        const char *eq;
        int rc = 0;
        switch (ch) {
        case 'c': break;
        case 's': rc = ssi_opt(c, "store", optarg, err); break;
        case 'l': rc = ssi_opt(c, "listen", optarg, err); break;
        case 't': rc = ssi_opt(c, "token_file", optarg, err); break;
        case 'p': rc = ssi_opt(c, "public", "true", err); break;
        case 'n': rc = ssi_opt(c, "threads", optarg, err); break;
        case 'k':
            if (!(eq = strchr(optarg, '=')) || eq == optarg || (size_t)(eq - optarg) >= sizeof key)
                return ss_cli_usage("serve", "--set wants KEY=VALUE, not '%s'", optarg), -2;
            memcpy(key, optarg, (size_t)(eq - optarg));
            key[eq - optarg] = '\0';
            rc = ssi_opt(c, key, eq + 1, err);
            break;
        case 'h': fputs(ssi_serve_help, stdout); return -1;
        default: return ss_cli_usage("serve", "unknown option"), -2;
        }
        if (rc)
            return rc;
    }
    if (optind != argc)
        return ss_cli_usage("serve", "unexpected argument '%s'", argv[optind]), -2;
    return 0;
}

int ss_cmd_serve(int argc, char **argv)
{
    ss_serve_conf c;
    ss_serve_conf_init(&c);
    ss_err err = {0};
    int rc = ssi_serve_parse(argc, argv, &c, &err);
    if (rc == 0) {
        ss_log lg = {stderr, SS_LOG_INFO};
        rc = ss_serve_run(&c, &lg, &err) ? ss_cli_fail(&err) : SS_EXIT_OK;
    } else
        rc = rc == -1 ? SS_EXIT_OK : rc == -2 ? SS_EXIT_USAGE : ss_cli_fail(&err);
    ss_serve_conf_free(&c);
    return rc;
}
