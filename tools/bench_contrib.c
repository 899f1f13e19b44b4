/*
 * bench_contrib: what each filter of a set costs and removes on the real alert sets.
 *
 * Replays each data set of ../shared/data (ZTF, Rubin, ELAsTiCC) through a filter set (default:
 * config/filters.ini) with `skysieve replay`, several times, and prints per data set and filter:
 * loci seen, runs, runs halted (for a rejection filter: the alerts it removed from the rest of
 * the pipeline), loci tagged, and the time per locus p50/p99 (the median over the repeats, as one
 * replay of a hundred alerts gives noisy percentiles).
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_REPEAT  15
#define MAX_FILTERS 64

typedef struct opts {
    const char *set, *shared, *skysieve;
    int repeat;
    int markdown;
} opts;

/* The real sets; a missing one is skipped with a note. */
static const char *const data_sets[] = {
    "ztf/fink-local-v3.3",          "ztf/kowalski-20200202-v3.3", "ztf/kowalski-20231012-v4.01",
    "ztf/ztf-avro-alert-v3.2-v3.3", "lsst/rubin-lsstcam-v9.0",    "lsst/alert-packet-fake",
    "lsst/confluent-framed-v7.4",   "elasticc/alerce-sim-v0.9",   NULL};

/* One filter's figures over the repeats of one data set. */
typedef struct row {
    char label[64];
    long long seen, runs, halts, tagged, errors;
    double p50[MAX_REPEAT], p99[MAX_REPEAT];
} row;

static void die(const char *what, const char *why)
{
    fprintf(stderr, "bench_contrib: %s%s%s\n", what, why ? ": " : "", why ? why : "");
    exit(1);
}

static void usage(void)
{
    fputs("usage: bench_contrib [--set FILE] [--shared DIR] [--repeat N] [--markdown]\n"
          "  --set FILE    the filter set (default: config/filters.ini of the source tree)\n"
          "  --shared DIR  the shared data directory (default: ../shared/data beside the tree)\n"
          "  --repeat N    replays per data set; percentiles are the median over them (default 5)\n"
          "  --markdown    print Markdown tables (for the README)\n",
          stderr);
    exit(2);
}

static void parse(int argc, char **argv, opts *o)
{
    static const struct option lo[] = {{"set", required_argument, 0, 's'},
                                       {"shared", required_argument, 0, 'd'},
                                       {"repeat", required_argument, 0, 'r'},
                                       {"markdown", no_argument, 0, 'm'},
                                       {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (ch == 's')
            o->set = optarg;
        else if (ch == 'd')
            o->shared = optarg;
        else if (ch == 'r')
            o->repeat = atoi(optarg);
        else if (ch == 'm')
            o->markdown = 1;
        else
            usage();
    }
    if (o->repeat < 1 || o->repeat > MAX_REPEAT || optind != argc)
        usage();
}

/* Run @p argv with stdout to /dev/null (its errors still show); @return its exit status. */
static int run_quiet(char *const argv[])
{
    fflush(stdout); /* else the child's freopen() flushes our buffered lines a second time */
    pid_t pid = fork();
    if (pid < 0)
        die("fork", strerror(errno));
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout))
            _exit(127);
        execv(argv[0], argv);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0)
        die("waitpid", strerror(errno));
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static json_t *replay(const opts *o, const char *input, const char *schemas, const char *report)
{
    char *argv[] = {(char *)o->skysieve,
                    "replay",
                    "--quiet",
                    "--filters",
                    (char *)o->set,
                    "--report",
                    (char *)report,
                    "--schema-dir",
                    (char *)schemas,
                    (char *)input,
                    NULL};
    int rc = run_quiet(argv);
    if (rc)
        fprintf(stderr, "bench_contrib: skysieve replay of %s exited %d\n", input, rc);
    json_error_t jerr;
    json_t *r = json_load_file(report, 0, &jerr);
    if (!r)
        die(report, jerr.text);
    return r;
}

static long long jint(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static long long tagged_total(json_t *f)
{
    long long n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(f, "tagged"), k, v) n += json_integer_value(v);
    return n;
}

/* Fold one replay's filters into @p rows (the counts are the same every time: keep the first). */
static size_t collect(json_t *report, int rep, row *rows, size_t nrows)
{
    json_t *filters = json_object_get(json_object_get(report, "set"), "filters");
    size_t i;
    json_t *f;
    json_array_foreach(filters, i, f)
    {
        if (i >= MAX_FILTERS)
            break;
        row *r = &rows[i];
        if (i >= nrows) {
            snprintf(r->label, sizeof r->label, "%s",
                     json_string_value(json_object_get(f, "label")));
            r->seen = jint(f, "loci_seen"), r->runs = jint(f, "runs");
            r->halts = jint(f, "halts"), r->errors = jint(f, "errors");
            r->tagged = tagged_total(f);
        }
        json_t *t = json_object_get(f, "time_us");
        r->p50[rep] = json_number_value(json_object_get(t, "p50"));
        r->p99[rep] = json_number_value(json_object_get(t, "p99"));
    }
    return i > nrows ? i : nrows;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void print_set(const opts *o, const char *name, json_t *report, row *rows, size_t n)
{
    json_t *alerts = json_object_get(report, "alerts");
    printf("\n%s%s: %lld alerts replayed, %lld loci\n", o->markdown ? "#### " : "", name,
           jint(alerts, "replayed"), jint(report, "loci"));
    if (o->markdown)
        printf("\n| filter | loci seen | runs | halted | tagged | errors | p50 us | p99 us |\n"
               "|---|---:|---:|---:|---:|---:|---:|---:|\n");
    else
        printf("  %-22s %9s %7s %7s %7s %7s %9s %9s\n", "filter", "loci", "runs", "halted",
               "tagged", "errors", "p50 us", "p99 us");
    size_t idle = 0;
    for (size_t i = 0; i < n; i++) {
        row *r = &rows[i];
        if (r->runs == 0 && r->errors == 0) { /* another survey's filter, or nothing reached it */
            idle++;
            continue;
        }
        double p50 = median(r->p50, o->repeat), p99 = median(r->p99, o->repeat);
        if (o->markdown)
            printf("| %s | %lld | %lld | %lld | %lld | %lld | %.1f | %.1f |\n", r->label, r->seen,
                   r->runs, r->halts, r->tagged, r->errors, p50, p99);
        else
            printf("  %-22s %9lld %7lld %7lld %7lld %7lld %9.1f %9.1f\n", r->label, r->seen,
                   r->runs, r->halts, r->tagged, r->errors, p50, p99);
    }
    if (idle)
        printf("%s%zu filters never ran (another survey's, or halted before them)\n",
               o->markdown ? "\n" : "  ", idle);
}

static void bench_one(const opts *o, const char *name, const char *report_path)
{
    char input[4096], schemas[4096];
    snprintf(input, sizeof input, "%s/%s", o->shared, name);
    snprintf(schemas, sizeof schemas, "%s/schemas/lsst", o->shared);
    struct stat st;
    if (stat(input, &st) != 0) {
        printf("\n%s: absent, skipped\n", name);
        return;
    }
    static row rows[MAX_FILTERS];
    memset(rows, 0, sizeof rows);
    size_t n = 0;
    json_t *last = NULL;
    for (int rep = 0; rep < o->repeat; rep++) {
        json_decref(last);
        last = replay(o, input, schemas, report_path);
        n = collect(last, rep, rows, n);
    }
    print_set(o, name, last, rows, n);
    json_decref(last);
}

int main(int argc, char **argv)
{
    opts o = {SS_BENCH_SOURCE_DIR "/config/filters.ini", SS_BENCH_SOURCE_DIR "/../shared/data",
              SS_BENCH_SKYSIEVE, 5, 0};
    parse(argc, argv, &o);
    struct stat st;
    if (stat(o.shared, &st) != 0)
        die(o.shared, "the shared data directory is absent: nothing to measure");
    char tmpl[] = "/tmp/bench-contrib-XXXXXX";
    if (!mkdtemp(tmpl))
        die("cannot make a work directory", strerror(errno));
    char report[sizeof tmpl + 16];
    snprintf(report, sizeof report, "%s/report.json", tmpl);
    printf("filter set %s, %d replays per data set\n", o.set, o.repeat);
    for (const char *const *d = data_sets; *d; d++)
        bench_one(&o, *d, report);
    unlink(report);
    rmdir(tmpl);
    return 0;
}
