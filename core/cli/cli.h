/* The skysieve command line: one function per subcommand, sharing option helpers. */
#ifndef SS_CLI_H
#define SS_CLI_H

#include "alert_limits.h"
#include "err.h"

#include <stddef.h>

/** Exit statuses: 0 success, 1 failure (the message says why), 2 wrong usage. */
enum { SS_EXIT_OK = 0, SS_EXIT_FAIL = 1, SS_EXIT_USAGE = 2 };

typedef struct ss_cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} ss_cli_command;

int ss_cmd_ingest(int argc, char **argv);
int ss_cmd_locus(int argc, char **argv);
int ss_cmd_cone(int argc, char **argv);
int ss_cmd_loci(int argc, char **argv);
int ss_cmd_stats(int argc, char **argv);
int ss_cmd_rejected(int argc, char **argv);
int ss_cmd_verify(int argc, char **argv);
int ss_cmd_compact(int argc, char **argv);
int ss_cmd_retention(int argc, char **argv);
int ss_cmd_repack(int argc, char **argv);
int ss_cmd_filter(int argc, char **argv);
int ss_cmd_tagged(int argc, char **argv);
int ss_cmd_listen(int argc, char **argv);
int ss_cmd_inspect(int argc, char **argv);
int ss_cmd_cutout(int argc, char **argv);
int ss_cmd_run(int argc, char **argv);
int ss_cmd_ctl(int argc, char **argv);
int ss_cmd_serve(int argc, char **argv);
int ss_cmd_send(int argc, char **argv);
int ss_cmd_simulate(int argc, char **argv);
int ss_cmd_worker(int argc, char **argv);
int ss_cmd_replay(int argc, char **argv);
int ss_cmd_catalog(int argc, char **argv);
int ss_cmd_watch(int argc, char **argv);
int ss_cmd_partition(int argc, char **argv);
int ss_cmd_plot(int argc, char **argv);
int ss_cmd_gw(int argc, char **argv);

/** Print "skysieve: <message>" on stderr. @return SS_EXIT_FAIL. */
int ss_cli_fail(const ss_err *err);
/** Print a usage error and the hint to run --help. @return SS_EXIT_USAGE. */
int ss_cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Parse a whole string as a finite double. @return 0 or -1. */
int ss_cli_double(const char *s, double *out);
/** Write @p len bytes to @p path (through PATH.part, renamed once whole) or, when @p path is
 * NULL, to standard output (cmd_plot.c). @return 0 or an errno value (@p err says which file). */
int ss_cli_write_file(const char *path, const void *data, size_t len, ss_err *err);

/** The size caps of decoding (alert_limits.h) as options, shared by ingest, inspect and replay:
 * --max-line-bytes, --max-value-bytes, --max-props, --max-history, --max-alert-bytes, getopt
 * values SS_CLI_LIMIT_OPT + 0 to 4 in that order (ss_alert_limits_keys' order). */
#define SS_CLI_LIMIT_OPT 0x1000
#define SS_CLI_LIMIT_OPTIONS                                                                       \
    {"max-line-bytes", required_argument, 0, SS_CLI_LIMIT_OPT},                                    \
        {"max-value-bytes", required_argument, 0, SS_CLI_LIMIT_OPT + 1},                           \
        {"max-props", required_argument, 0, SS_CLI_LIMIT_OPT + 2},                                 \
        {"max-history", required_argument, 0, SS_CLI_LIMIT_OPT + 3},                               \
    {                                                                                              \
        "max-alert-bytes", required_argument, 0, SS_CLI_LIMIT_OPT + 4                              \
    }
/** Their --help text. */
extern const char ss_cli_limits_help[];
/** Apply getopt's @p ch when it is one of them. @return 1: it is not; 0: set; SS_EXIT_USAGE
 * (printed, naming the option and its range) for a bad value. */
int ss_cli_limit_option(const char *cmd, int ch, const char *arg, ss_alert_limits *l);

#endif
