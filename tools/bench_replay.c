/*
 * bench_replay: the replay rate of a simulated night through a filter set, and its peak memory.
 *
 * Simulates a night with `skysieve simulate` (default: 1,000,000 alerts), writes a set of 10
 * filters (lcstats.so, jump.so and 8 generated Lua light-curve statistics, tools/gen_set.c), runs
 * `skysieve replay` on it as a child process and samples the child's memory every 20 ms:
 * resident anonymous memory (heap, the staging index, filter state) and resident file pages (the
 * LMDB map and the staging file, which the kernel can reclaim), plus the kernel's own peak of both
 * (VmHWM). Times come from the replay's report. --set FILE replays through a filter set of one's
 * own instead (e.g. config/filters.ini, issue 21's figure).
 */
#include "gen.h"
#include "gen_set.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct opts {
    long alerts, filters;
    const char *input, *dir, *skysieve, *filters_dir, *set;
    const char *max_mapped; /* passed to skysieve replay --max-mapped */
    int keep;
} opts;

static void die(const char *what, const char *why)
{
    fprintf(stderr, "bench_replay: %s%s%s\n", what, why ? ": " : "", why ? why : "");
    exit(1);
}

static void usage(void)
{
    fputs("usage: bench_replay [--alerts N] [--filters N | --set FILE] [--input FILE] [--dir DIR]\n"
          "                    [--max-mapped SIZE] [--keep]\n"
          "  --alerts N   simulated alerts, about (default 1000000)\n"
          "  --filters N  filters in the set, 2 in C and N-2 in Lua (default 10, at least 2)\n"
          "  --set FILE   replay through this filter set instead (e.g. config/filters.ini)\n"
          "  --input FILE replay FILE instead of a simulated night\n"
          "  --dir DIR    work directory (default: a new one under $TMPDIR, removed)\n"
          "  --max-mapped SIZE  the replay's bound on resident file pages (default: the\n"
          "               replay's own, 256M; 0: none)\n"
          "  --keep       keep the work directory\n",
          stderr);
    exit(2);
}

static void parse(int argc, char **argv, opts *o)
{
    static const struct option lo[] = {{"alerts", required_argument, 0, 'a'},
                                       {"filters", required_argument, 0, 'f'},
                                       {"input", required_argument, 0, 'i'},
                                       {"dir", required_argument, 0, 'd'},
                                       {"keep", no_argument, 0, 'k'},
                                       {"set", required_argument, 0, 's'},
                                       {"max-mapped", required_argument, 0, 'm'},
                                       {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (ch == 'a')
            o->alerts = atol(optarg);
        else if (ch == 'f')
            o->filters = atol(optarg);
        else if (ch == 'i')
            o->input = optarg;
        else if (ch == 'd')
            o->dir = optarg;
        else if (ch == 'k')
            o->keep = 1;
        else if (ch == 's')
            o->set = optarg;
        else if (ch == 'm')
            o->max_mapped = optarg;
        else
            usage();
    }
    if (o->alerts < 40 || o->filters < 2 || optind != argc)
        usage();
}

/* Run @p argv to completion; @return its exit status. With @p peak, sample its memory. */
static int run(char *const argv[], gen_mem *peak)
{
    pid_t pid = fork();
    if (pid < 0)
        die("fork", strerror(errno));
    if (pid == 0) {
        execv(argv[0], argv);
        _exit(127);
    }
    char status_path[64];
    snprintf(status_path, sizeof status_path, "/proc/%d/status", (int)pid);
    int status;
    while (waitpid(pid, &status, peak ? WNOHANG : 0) == 0) {
        gen_mem_sample(peak, status_path);
        nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static char *path_in(const char *dir, const char *name)
{
    char *p = NULL;
    if (asprintf(&p, "%s/%s", dir, name) < 0)
        die("out of memory", NULL);
    return p;
}

static double jnum(json_t *o, const char *a, const char *b)
{
    return json_number_value(json_object_get(json_object_get(o, a), b));
}

int main(int argc, char **argv)
{
    opts o = {.alerts = 1000000,
              .filters = 10,
              .skysieve = SS_BENCH_SKYSIEVE,
              .filters_dir = SS_BENCH_FILTERS_DIR};
    parse(argc, argv, &o);
    char tmpl[] = "/tmp/bench-replay-XXXXXX";
    char *dir = o.dir ? strdup(o.dir) : strdup(mkdtemp(tmpl) ? tmpl : "");
    if (!dir || !*dir)
        die("cannot make a work directory", strerror(errno));
    if (o.dir && mkdir(o.dir, 0755) && errno != EEXIST) /* found only after the replay otherwise */
        die(o.dir, strerror(errno));
    char *night = o.input ? strdup(o.input) : path_in(dir, "night.csv");
    if (!o.input) {
        char sources[32];
        /* the default mix gives 39.5 alerts a source (some observations are below the limit) */
        snprintf(sources, sizeof sources, "%.0f", (double)o.alerts / 39.5);
        char *sim[] = {(char *)o.skysieve,
                       "simulate",
                       "--sources",
                       sources,
                       "--seed",
                       "1",
                       "--out",
                       night,
                       NULL};
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (run(sim, NULL))
            die("skysieve simulate failed", NULL);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        fprintf(stderr, "simulated %s in %.1f s\n", night,
                (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9);
    }
    char *set =
        o.set ? strdup(o.set) : gen_filter_set(dir, o.filters_dir, (int)o.filters - 2, NULL);
    if (!set)
        die("writing the filter set", strerror(errno));
    char *report = path_in(dir, "report.json");
    /* the simulated alerts scatter by 1" around their sources: loci gather them within 5" */
    /* without --max-mapped, the replay's own default: what a user's replay does */
    char *rep[] = {(char *)o.skysieve, "replay", "--quiet", "--radius", "5",  "--filters", set,
                   "--report",         report,   night,     NULL,       NULL, NULL};
    if (o.max_mapped) {
        rep[10] = "--max-mapped";
        rep[11] = (char *)o.max_mapped;
    }
    gen_mem peak = {0};
    int rc = run(rep, &peak);
    if (rc)
        die("skysieve replay failed", NULL);
    json_error_t jerr;
    json_t *r = json_load_file(report, 0, &jerr);
    if (!r)
        die(report, jerr.text);
    double replayed = jnum(r, "alerts", "replayed"), secs = jnum(r, "timing", "replay_seconds");
    if (!(replayed > 0)) /* a replay rejects an unreadable input and goes on: no figure to give */
        die("nothing was replayed (the replay's messages above say why)", NULL);
    long nfilters =
        o.set ? (long)json_array_size(json_object_get(json_object_get(r, "set"), "filters"))
              : o.filters;
    printf("replay of %.0f alerts (%lld loci) through %ld filters%s%s\n", replayed,
           json_integer_value(json_object_get(r, "loci")), nfilters, o.set ? " of " : "",
           o.set ? o.set : "");
    printf("  reading and sorting: %.1f s\n", jnum(r, "timing", "read_seconds"));
    printf("  replaying:           %.1f s, %.0f alerts/s\n", secs,
           jnum(r, "timing", "alerts_per_second"));
    printf("  peak memory:         %.1f MiB anonymous, %.1f MiB file pages, %.1f MiB VmHWM\n",
           peak.anon_kib / 1024.0, peak.file_kib / 1024.0, peak.hwm_kib / 1024.0);
    printf("  store unmapped:      %.0f times (--max-mapped %.0fM%s)\n",
           jnum(r, "timing", "store_unmaps"), jnum(r, "timing", "max_mapped") / 1048576,
           o.max_mapped ? "" : ", the default");
    printf("{\"alerts\":%.0f,\"filters\":%ld,\"read_s\":%.2f,\"replay_s\":%.2f,\"rate\":%.0f,"
           "\"anon_mib\":%.1f,\"file_mib\":%.1f,\"hwm_mib\":%.1f}\n",
           replayed, nfilters, jnum(r, "timing", "read_seconds"), secs,
           jnum(r, "timing", "alerts_per_second"), peak.anon_kib / 1024.0, peak.file_kib / 1024.0,
           peak.hwm_kib / 1024.0);
    json_decref(r);
    if (!o.keep && !o.dir) {
        char *rm[] = {"/bin/rm", "-rf", dir, NULL};
        run(rm, NULL);
    }
    free(report), free(set), free(night), free(dir);
    return 0;
}
