/*
 * gen_alerts: write a reproducible tuple CSV of steady sources for demos and manual tests.
 * usage: gen_alerts [--sources N] [--epochs N] [--scatter ARCSEC] [--seed N] > alerts.csv
 */
#include "gen.h"

#include <getopt.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"sources", required_argument, 0, 's'}, {"epochs", required_argument, 0, 'e'},
        {"scatter", required_argument, 0, 'c'}, {"seed", required_argument, 0, 'r'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0},
    };
    unsigned long long n = 200, epochs = 10, seed = 1;
    double scatter = 0.2;
    int ch;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 's': n = strtoull(optarg, NULL, 10); break;
        case 'e': epochs = strtoull(optarg, NULL, 10); break;
        case 'c': scatter = strtod(optarg, NULL); break;
        case 'r': seed = strtoull(optarg, NULL, 10); break;
        default:
            fputs("usage: gen_alerts [--sources N] [--epochs N] [--scatter ARCSEC] [--seed N]\n",
                  ch == 'h' ? stdout : stderr);
            return ch == 'h' ? 0 : 2;
        }
    }
    ss_rng r = {seed};
    gen_source *src = gen_sources(&r, n);
    int rc = !src || gen_write_csv(stdout, &r, src, n, epochs, scatter, 60000, "demo", 1);
    free(src);
    return rc ? 1 : 0;
}
