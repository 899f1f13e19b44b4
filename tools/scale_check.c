/*
 * scale_check: the counts of the scale tests for a store filled by a script (scale_fullfs.sh):
 * whether alerts S0..S(spool-1) and P0..P(pull-1) are each stored once, and, with --runs, how
 * often scale_count.so ran on each. Prints one JSON line; exit status 1 on any loss or doubling
 * (or an alert never run, with --runs), 2 on a usage or read error.
 */
#include "bench_live.h"
#include "scale_util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    const char *store = NULL, *runs_log = NULL;
    uint64_t sent[SC_KINDS] = {0};
    static const struct option lo[] = {{"store", 1, 0, 'd'},
                                       {"spool", 1, 0, 's'},
                                       {"pull", 1, 0, 'p'},
                                       {"runs", 1, 0, 'r'},
                                       {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (c == 'd')
            store = optarg;
        else if (c == 's')
            sent[0] = strtoull(optarg, NULL, 10);
        else if (c == 'p')
            sent[1] = strtoull(optarg, NULL, 10);
        else if (c == 'r')
            runs_log = optarg;
        else
            store = NULL, optind = argc;
    }
    if (!store) {
        fprintf(stderr, "usage: scale_check --store DIR [--spool N] [--pull N] [--runs FILE]\n");
        return 2;
    }
    uint8_t *found[SC_KINDS], *runs[SC_KINDS];
    for (int k = 0; k < SC_KINDS; k++)
        if (!(found[k] = calloc(sent[k] + 1, 1)) || !(runs[k] = calloc(sent[k] + 1, 1)))
            bl_die("out of memory", NULL);
    sc_store_counts cn;
    int64_t n = sc_store_find(store, sent, found);
    if (n < 0 || sc_store_counts_get(store, &cn))
        return 2;
    uint64_t total = sent[0] + sent[1], lines = 0, foreign = 0, never = 0, again = 0;
    if (runs_log)
        lines = sc_runs_read(runs_log, sent, runs, &foreign);
    for (int k = 0; runs_log && k < SC_KINDS; k++)
        for (uint64_t i = 0; i < sent[k]; i++) {
            never += found[k][i] && !runs[k][i];
            again += runs[k][i] > 1 ? runs[k][i] - 1u : 0;
        }
    uint64_t lost = total - (uint64_t)n;
    uint64_t doubled = cn.alerts > (uint64_t)n ? cn.alerts - (uint64_t)n : 0;
    printf("{\"sent\":%llu,\"stored\":%lld,\"store_alerts\":%llu,\"store_loci\":%llu,"
           "\"lost\":%llu,\"doubled\":%llu,\"runs\":%llu,\"never_run\":%llu,\"runs_again\":%llu,"
           "\"foreign_runs\":%llu}\n",
           (unsigned long long)total, (long long)n, (unsigned long long)cn.alerts,
           (unsigned long long)cn.loci, (unsigned long long)lost, (unsigned long long)doubled,
           (unsigned long long)lines, (unsigned long long)never, (unsigned long long)again,
           (unsigned long long)foreign);
    for (int k = 0; k < SC_KINDS; k++)
        free(found[k]), free(runs[k]);
    return lost || doubled || (runs_log && never) ? 1 : 0;
}
