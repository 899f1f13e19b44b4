/*
 * bench_catalog: the catalog figures of the README.
 *
 *  A. load rate: a generated catalog of ROWS rows (default 10,000,000; name, ra, dec, mag, class;
 *     positions uniform on the sphere, seeded) loaded with `ss_assoc_catalog_load`, in rows/s, with
 * the time spent reading + storing rows and sorting + writing the index, and the commits made. B.
 * match cost per locus: 100,000 random positions matched against the catalog as new loci are
 *     (ss_assoc_match_locus in a write transaction, aborted at the end): p50, p99 and mean in us.
 *  C. ingest cost per alert with and without the catalog: the same ALERTS (default 200,000)
 *     one-alert sources ingested into a store without catalogs and into the store holding it.
 *
 * usage: bench_catalog [--rows N] [--alerts N] [--radius ARCSEC] [--workdir DIR] [--seed S]
 * Inputs are generated in WORKDIR (default: a fresh directory under /tmp, removed after).
 */
#include "bench_util.h"
#include "assoc.h"
#include "catalog.h"
#include "store_table.h"
#include "ingest.h"
#include "rng.h"
#include "sky.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct bench_opts {
    uint64_t rows, alerts, seed;
    double radius;
    const char *workdir;
} bench_opts;

/* A position uniform on the sphere. */
static void random_position(ss_rng *r, double *ra, double *dec)
{
    *ra = ss_rng_range(r, 0, 360);
    *dec = asin(ss_rng_range(r, -1, 1)) * 180 / M_PI;
}

static int write_catalog(const char *path, const bench_opts *o)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return perror(path), -1;
    ss_rng r;
    ss_rng_seed(&r, o->seed, 1);
    static const char *const classes[] = {"star", "galaxy", "qso", "unknown"};
    fprintf(f, "name,ra,dec,mag,class\n");
    for (uint64_t i = 0; i < o->rows; i++) {
        double ra, dec;
        random_position(&r, &ra, &dec);
        fprintf(f, "B%llu,%.7f,%.7f,%.2f,%s\n", (unsigned long long)i, ra, dec,
                ss_rng_range(&r, 12, 24), classes[ss_rng_next(&r) % 4]);
    }
    return fclose(f);
}

static int write_alerts(const char *path, const bench_opts *o)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return perror(path), -1;
    ss_rng r;
    ss_rng_seed(&r, o->seed, 2);
    fprintf(f, "alert_id,ra,dec,mjd,passband,mag,magerr,maglim,object_id\n");
    for (uint64_t i = 0; i < o->alerts; i++) {
        double ra, dec;
        random_position(&r, &ra, &dec);
        fprintf(f, "a%llu,%.7f,%.7f,%.5f,g,19.0,0.1,21,o%llu\n", (unsigned long long)i, ra, dec,
                60000 + (double)i * 1e-5, (unsigned long long)i);
    }
    return fclose(f);
}

static ss_store *open_store(const char *dir, double radius)
{
    ss_store_options so = {.create = 1, .radius_arcsec = radius};
    ss_store *s;
    ss_err err = {0};
    if (ss_store_open(dir, &so, &s, &err)) {
        fprintf(stderr, "bench_catalog: %s\n", err.msg);
        return NULL;
    }
    return s;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* B: each match timed alone, in one write transaction that is thrown away. */
static int bench_match(ss_store *s, const bench_opts *o)
{
    enum { N = 100000 };
    double *us = malloc(N * sizeof *us), total = 0;
    ss_assoc_writer *w = ss_assoc_writer_new(s);
    ss_store_txn *txn = NULL;
    ss_rng r;
    ss_rng_seed(&r, o->seed, 3);
    size_t matched = 0;
    int rc = us && w ? ss_store_txn_begin(s, SS_STORE_WRITE, &txn) : -1;
    if (!rc)
        rc = ss_assoc_begin(w, txn);
    ss_alert a = {.survey = "bench", .alert_id = "x", .passband = "g", .mjd = 60000, .mag = 19};
    for (int i = 0; i < N && !rc; i++) {
        ss_locus l = {0};
        snprintf(l.id, sizeof l.id, "SKSBENCH%011d", i);
        random_position(&r, &l.ra, &l.dec);
        double t0 = bench_now_s();
        rc = ss_assoc_match_locus(w, &l, 1, &a);
        us[i] = (bench_now_s() - t0) * 1e6;
        total += us[i];
    }
    if (!rc)
        ss_store_count(txn, SS_STORE_LOCUS_MATCHES, &matched);
    ss_store_txn_abort(txn);
    if (!rc) {
        qsort(us, N, sizeof *us, cmp_double);
        printf("B. match per locus (%d random positions, %llu matched): p50 %.2f us, p99 %.2f us, "
               "mean %.2f us\n",
               N, (unsigned long long)matched, us[N / 2], us[N * 99 / 100], total / N);
    }
    ss_assoc_writer_free(w);
    free(us);
    return rc;
}

static double ingest_us(ss_store *s, const char *alerts, uint64_t n)
{
    ss_ingest *in = ss_ingest_new(s, NULL);
    ss_err err = {0};
    double t0 = bench_now_s();
    if (ss_ingest_path(in, alerts, &err) || ss_ingest_finish(in, NULL, &err)) {
        fprintf(stderr, "bench_catalog: %s\n", err.msg);
        ss_ingest_free(in);
        return -1;
    }
    ss_ingest_free(in);
    return (bench_now_s() - t0) * 1e6 / (double)n;
}

static int run(const bench_opts *o, const char *dir)
{
    char cat[4096], alerts[4096], st1[4096], st2[4096];
    snprintf(cat, sizeof cat, "%s/catalog.csv", dir);
    snprintf(alerts, sizeof alerts, "%s/alerts.csv", dir);
    snprintf(st1, sizeof st1, "%s/with", dir);
    snprintf(st2, sizeof st2, "%s/without", dir);
    double t0 = bench_now_s();
    if (write_catalog(cat, o) || write_alerts(alerts, o))
        return 1;
    printf("generated %llu catalog rows and %llu alerts in %.1f s\n", (unsigned long long)o->rows,
           (unsigned long long)o->alerts, bench_now_s() - t0);
    ss_store *s = open_store(st1, 1.0);
    if (!s)
        return 1;
    ss_assoc_catalog_options lo = {.name = "bench", .path = cat, .radius_arcsec = o->radius};
    ss_assoc_catalog_result r;
    ss_err err = {0};
    if (ss_assoc_catalog_load(s, &lo, &r, &err)) {
        fprintf(stderr, "bench_catalog: %s\n", err.msg);
        ss_store_close(s);
        return 1;
    }
    printf("A. load %llu rows (radius %g\"): %.1f s, %.0f rows/s (rows %.1f s, index %.1f s, "
           "%llu commits)\n",
           (unsigned long long)r.rows, o->radius, r.seconds, (double)r.rows / r.seconds, r.read_s,
           r.index_s, (unsigned long long)r.commits);
    int rc = bench_match(s, o);
    ss_store *s2 = rc ? NULL : open_store(st2, 1.0);
    if (s2) {
        double without = ingest_us(s2, alerts, o->alerts), with = ingest_us(s, alerts, o->alerts);
        printf("C. ingest per alert (%llu new loci): %.2f us without catalogs, %.2f us with the "
               "%llu-row catalog\n",
               (unsigned long long)o->alerts, without, with, (unsigned long long)r.rows);
        ss_store_close(s2);
    }
    ss_store_close(s);
    return rc || !s2;
}

int main(int argc, char **argv)
{
    bench_opts o = {.rows = 10000000, .alerts = 200000, .seed = 42, .radius = 1.0};
    static const struct option longopts[] = {
        {"rows", required_argument, 0, 'r'},   {"alerts", required_argument, 0, 'a'},
        {"radius", required_argument, 0, 'R'}, {"workdir", required_argument, 0, 'w'},
        {"seed", required_argument, 0, 's'},   {0, 0, 0, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (ch == 'r')
            o.rows = strtoull(optarg, NULL, 10);
        else if (ch == 'a')
            o.alerts = strtoull(optarg, NULL, 10);
        else if (ch == 'R')
            o.radius = atof(optarg);
        else if (ch == 'w')
            o.workdir = optarg;
        else if (ch == 's')
            o.seed = strtoull(optarg, NULL, 10);
        else {
            fprintf(stderr, "usage: bench_catalog [--rows N] [--alerts N] [--radius ARCSEC] "
                            "[--workdir DIR] [--seed S]\n");
            return 2;
        }
    }
    if (!o.rows || !o.alerts || !(o.radius > 0)) {
        fprintf(stderr, "bench_catalog: --rows, --alerts and --radius must be above 0\n");
        return 2;
    }
    char tmpl[] = "/tmp/bench_catalog.XXXXXX";
    const char *dir = o.workdir ? o.workdir : mkdtemp(tmpl);
    if (!dir)
        return perror("mkdtemp"), 1;
    int rc = run(&o, dir);
    if (!o.workdir) {
        char cmd[4200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "bench_catalog: could not remove %s\n", dir);
    }
    return rc;
}
