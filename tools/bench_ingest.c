/*
 * bench_ingest: the ingest figures of the README.
 *
 *  A. alerts/s ingesting ALERTS generated tuple alerts over SOURCES sources (0.2" scatter), the
 *     loci found (should equal SOURCES), each epoch in the ORDER given: "field" (default) visits
 *     the sky field by field as a survey does, "source" takes the sources at random places; the
 *     sources cover the whole sky, or with --sky a cap of that many square degrees (a night at a
 *     survey's density: the whole sky holds 24 sources a square degree at 1M sources, an LSST
 *     visit about 1,000); and
 * peak memory: heap (anonymous) apart from the LMDB pages mapped from the page cache, which the
 * kernel reclaims at will; and the store's footprint: bytes in use per alert beside the CSV's, and
 * bytes written to the store's disk
 *     (/proc/diskstats) per byte in use.
 *  B. association cost per alert as loci grow: one-alert sources are ingested up to 10k, 100k and
 *     1M loci; at each size, 10,000 re-observations of random known sources are timed through the
 *     full ingest path, and 10,000 nearest-locus look-ups alone.
 *
 * Inputs are generated CSV files in WORKDIR (default: a fresh directory under /tmp, removed after).
 * The ingest decodes beside its writing thread as `skysieve ingest` does; --serial writes each
 * batch before decoding the next, for the comparison.
 */
#include "bench_util.h"
#include "gen.h"

#include "ingest.h"
#include "store.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct bench_mem {
    gen_mem peak;
    long anon_at[3]; /* heap peak once 10%, 50% and all of the alerts were read */
    uint64_t total;  /* alerts expected, for those marks (0: no marks) */
} bench_mem;

static void sample_mem(bench_mem *m)
{
    gen_mem_sample(&m->peak, "/proc/self/status");
}

static void on_commit(void *ctx, const ss_ingest_totals *t)
{
    bench_mem *m = ctx;
    sample_mem(m);
    const uint64_t marks[3] = {m->total / 10, m->total / 2, m->total};
    for (int i = 0; i < 3; i++)
        if (m->total && t->read >= marks[i] && !m->anon_at[i])
            m->anon_at[i] = m->peak.anon_kib;
}

static void die(const char *what, const ss_err *err)
{
    fprintf(stderr, "bench_ingest: %s: %s\n", what, err ? err->msg : "failed");
    exit(1);
}

/* A fresh store: one left by an earlier run would hold this run's alerts already, and the figures
 * would be those of re-ingesting them (nothing stored, nothing written). */
static ss_store *open_store(const char *dir)
{
    ss_store_options o = {.create = 1};
    ss_store *s;
    ss_err err = {0};
    if (access(dir, F_OK) == 0) {
        ss_err_set(&err, SS_EINVAL, "%s exists, from an earlier run: give an empty --workdir", dir);
        die("store", &err);
    }
    if (ss_store_open(dir, &o, &s, &err))
        die("store", &err);
    return s;
}

/* Packets per write transaction (--batch; 0: the ingest's default); --serial: each batch written
 * before the next is decoded (the ingest overlaps the two otherwise, as `skysieve ingest` does). */
static uint32_t batch_size;
static int serial;
/* Square degrees the sources of phase A cover (--sky): the whole sphere by default; a cap centred
 * on (150, -30), in the south LSST surveys, for a night at a survey's density. */
static double sky_deg2 = GEN_SKY_DEG2;

static ss_ingest_totals ingest_file(ss_store *s, const char *path, bench_mem *mem)
{
    ss_ingest_options o = {
        .on_commit = on_commit, .ctx = mem, .batch_size = batch_size, .overlap = !serial};
    ss_ingest *in = ss_ingest_new(s, &o);
    ss_err err = {0};
    ss_ingest_totals t = {0};
    if (!in || ss_ingest_path(in, path, &err) || ss_ingest_finish(in, &t, &err))
        die(path, &err);
    ss_ingest_free(in);
    return t;
}

static char *write_csv(const char *dir, const char *name, ss_rng *r, const gen_source *src,
                       uint64_t n, uint64_t epochs, double mjd0, const char *prefix)
{
    char *path = NULL;
    if (asprintf(&path, "%s/%s", dir, name) < 0)
        exit(1);
    FILE *f = fopen(path, "w");
    if (!f || gen_write_csv(f, r, src, n, epochs, 0.2, mjd0, prefix, 1) || fclose(f))
        die(path, NULL);
    return path;
}

typedef struct footprint {
    double stored, input; /* bytes per alert: in use in the store, of the input file */
    double written;       /* bytes written to the store's disk per byte in use (NAN: unknown) */
} footprint;

static footprint measure_footprint(ss_store *s, const char *dir, const char *input, uint64_t disk0,
                                   uint64_t alerts)
{
    ss_store_info info;
    struct stat st;
    if (ss_store_info_get(s, &info) || stat(input, &st))
        die("the store's size", NULL);
    uint64_t disk1 = bench_disk_written(dir);
    double n = alerts ? (double)alerts : 1;
    return (footprint){(double)info.used_bytes / n, (double)st.st_size / n,
                       disk0 == UINT64_MAX || disk1 == UINT64_MAX
                           ? NAN
                           : (double)(disk1 - disk0) / (double)info.used_bytes};
}

static void phase_a(const char *work, uint64_t alerts, uint64_t sources, int by_field, int json)
{
    ss_rng r = {1};
    gen_source *src = gen_sources_cap(&r, sources, sky_deg2, 150.0, -30.0);
    if (!src || (by_field && gen_order_by_field(&r, src, sources)))
        die("generating sources", NULL);
    uint64_t epochs = alerts / sources;
    char *path = write_csv(work, "a.csv", &r, src, sources, epochs, 60000, "a");
    char *dir = NULL;
    if (asprintf(&dir, "%s/store-a", work) < 0)
        exit(1);
    bench_mem mem = {.total = sources * epochs};
    sample_mem(&mem);
    long anon0 = mem.peak.anon_kib;
    ss_store *s = open_store(dir);
    uint64_t disk0 = bench_disk_written(dir);
    double t0 = bench_now_s();
    ss_ingest_totals t = ingest_file(s, path, &mem);
    double secs = bench_now_s() - t0;
    footprint fp = measure_footprint(s, dir, path, disk0, t.ingested);
    ss_store_close(s);
    if (json)
        printf("{\"phase\":\"A\",\"order\":\"%s\",\"alerts\":%llu,\"sources\":%llu,\"loci\":%llu,"
               "\"sky_deg2\":%.1f,\"seconds\":%.3f,"
               "\"alerts_per_second\":%.0f,\"heap_peak_mib\":%.1f,\"heap_at_start_mib\":%.1f,"
               "\"mapped_peak_mib\":%.1f,\"heap_peak_mib_at_10_50_100_percent\":[%.1f,%.1f,%.1f],"
               "\"stored_bytes_per_alert\":%.1f,\"input_bytes_per_alert\":%.1f,"
               "\"written_per_stored\":%.3f}\n",
               by_field ? "field" : "source", (unsigned long long)t.ingested,
               (unsigned long long)sources, (unsigned long long)t.loci_created,
               fmin(sky_deg2, GEN_SKY_DEG2), secs, (double)t.read / secs,
               mem.peak.anon_kib / 1024.0, anon0 / 1024.0, mem.peak.file_kib / 1024.0,
               mem.anon_at[0] / 1024.0, mem.anon_at[1] / 1024.0, mem.anon_at[2] / 1024.0, fp.stored,
               fp.input, fp.written);
    else
        printf("A. ingest %llu alerts over %llu sources (0.2\" scatter) on %.0f deg2, in %s order\n"
               "   %.1f s, %.0f alerts/s, %llu loci\n"
               "   heap peak %.1f MiB (%.1f MiB at start); LMDB pages mapped, peak %.1f MiB\n"
               "   heap peak after 10%%, 50%%, 100%% of the alerts: %.1f, %.1f, %.1f MiB\n"
               "   stored %.0f B/alert = %.2f x the CSV input (%.0f B/alert); written to disk %.2f "
               "x stored\n",
               (unsigned long long)t.ingested, (unsigned long long)sources,
               fmin(sky_deg2, GEN_SKY_DEG2), by_field ? "field" : "source", secs,
               (double)t.read / secs, (unsigned long long)t.loci_created,
               mem.peak.anon_kib / 1024.0, anon0 / 1024.0, mem.peak.file_kib / 1024.0,
               mem.anon_at[0] / 1024.0, mem.anon_at[1] / 1024.0, mem.anon_at[2] / 1024.0, fp.stored,
               fp.stored / fp.input, fp.input, fp.written);
    free(src), free(path), free(dir);
}

/* Time nearest-locus look-ups alone, in one read transaction. */
static double lookup_us(ss_store *s, ss_rng *r, const gen_source *src, uint64_t n, int probes)
{
    ss_store_txn *txn;
    double radius_deg = ss_store_radius_arcsec(s) / 3600.0;
    if (ss_store_txn_begin(s, SS_STORE_READ, &txn))
        die("read transaction", NULL);
    int found = 0;
    double t0 = bench_now_s();
    for (int i = 0; i < probes; i++) {
        const gen_source *p = &src[ss_rng_next(r) % n];
        char id[SS_LOCUS_ID_LEN + 1];
        found += ss_store_sky_nearest(txn, p->ra, p->dec, radius_deg, id, NULL) == 0;
    }
    double us = (bench_now_s() - t0) * 1e6 / probes;
    ss_store_txn_abort(txn);
    if (found < probes * 99 / 100)
        fprintf(stderr, "bench_ingest: only %d of %d look-ups found their locus\n", found, probes);
    return us;
}

static void phase_b(const char *work, uint64_t max_loci, int json)
{
    const uint64_t sizes[] = {10000, 100000, 1000000};
    const int probes = 10000;
    ss_rng r = {2};
    gen_source *src = gen_sources(&r, max_loci);
    gen_source *pick = malloc(probes * sizeof *pick);
    char *dir = NULL;
    if (asprintf(&dir, "%s/store-b", work) < 0)
        exit(1);
    ss_store *s = open_store(dir);
    bench_mem mem = {0};
    uint64_t have = 0;
    if (!json)
        printf("B. association cost per alert as loci grow (%d re-observations each)\n", probes);
    for (size_t k = 0; k < 3 && sizes[k] <= max_loci; k++) {
        char name[64], prefix[32];
        snprintf(name, sizeof name, "grow%zu.csv", k);
        char *grow = write_csv(work, name, &r, src + have, sizes[k] - have, 1, 59000, name);
        ingest_file(s, grow, &mem);
        have = sizes[k];
        for (int i = 0; i < probes; i++)
            pick[i] = src[ss_rng_next(&r) % have];
        snprintf(name, sizeof name, "probe%zu.csv", k);
        snprintf(prefix, sizeof prefix, "p%zu", k);
        char *probe = write_csv(work, name, &r, pick, probes, 1, 61000 + (double)k, prefix);
        double t0 = bench_now_s();
        ss_ingest_totals t = ingest_file(s, probe, &mem);
        double ingest_us = (bench_now_s() - t0) * 1e6 / probes;
        double look_us = lookup_us(s, &r, src, have, probes);
        if (json)
            printf("{\"phase\":\"B\",\"loci\":%llu,\"ingest_us_per_alert\":%.2f,"
                   "\"lookup_us\":%.2f,\"new_loci_from_probes\":%llu}\n",
                   (unsigned long long)have, ingest_us, look_us,
                   (unsigned long long)t.loci_created);
        else
            printf("   %8llu loci: %6.2f us/alert ingest+associate, %5.2f us nearest-locus look-up"
                   " (%llu probes founded a locus)\n",
                   (unsigned long long)have, ingest_us, look_us,
                   (unsigned long long)t.loci_created);
        free(grow), free(probe);
    }
    ss_store_close(s);
    free(src), free(pick), free(dir);
}

static const char usage[] =
    "usage: bench_ingest [--alerts N] [--sources N] [--order field|source] [--loci N] [--phase "
    "A|B]\n"
    "                    [--workdir DIR] [--json] [--batch N] [--serial] [--sky DEG2]\n"
    "  defaults: 1000000 alerts over 100000 sources on the whole sky in field order; association "
    "up to\n"
    "  1000000 loci. --sky: the sources of phase A in a cap of that many square degrees (an LSST\n"
    "  visit's density, 10,000 alerts in 9.6 deg2, is --sky 960 for 1000000 sources)\n";

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"alerts", required_argument, 0, 'a'},  {"sources", required_argument, 0, 's'},
        {"loci", required_argument, 0, 'l'},    {"phase", required_argument, 0, 'p'},
        {"workdir", required_argument, 0, 'w'}, {"json", no_argument, 0, 'j'},
        {"order", required_argument, 0, 'o'},   {"batch", required_argument, 0, 'b'},
        {"serial", no_argument, 0, 'S'},        {"sky", required_argument, 0, 'k'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0},
    };
    uint64_t alerts = 1000000, sources = 100000, loci = 1000000;
    const char *phase = "AB", *work = NULL;
    int json = 0, by_field = 1, ch;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'a': alerts = strtoull(optarg, NULL, 10); break;
        case 's': sources = strtoull(optarg, NULL, 10); break;
        case 'l': loci = strtoull(optarg, NULL, 10); break;
        case 'p': phase = optarg; break;
        case 'w': work = optarg; break;
        case 'j': json = 1; break;
        case 'b': batch_size = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'S': serial = 1; break;
        case 'k': sky_deg2 = strtod(optarg, NULL); break;
        case 'o':
            by_field = !strcmp(optarg, "field") ? 1 : !strcmp(optarg, "source") ? 0 : -1;
            break;
        default: fputs(usage, ch == 'h' ? stdout : stderr); return ch == 'h' ? 0 : 2;
        }
    }
    if (!sources || alerts < sources || loci < 10000 || by_field < 0 || !(sky_deg2 > 0)) {
        fputs(usage, stderr);
        return 2;
    }
    char tmpl[] = "/tmp/skysieve-bench-XXXXXX";
    int own = !work;
    if (own && !(work = mkdtemp(tmpl)))
        die("mkdtemp", NULL);
    if (strchr(phase, 'A'))
        phase_a(work, alerts, sources, by_field, json);
    if (strchr(phase, 'B'))
        phase_b(work, loci, json);
    if (own) {
        char *cmd = NULL;
        if (asprintf(&cmd, "rm -rf '%s'", work) >= 0 && system(cmd) != 0)
            fprintf(stderr, "bench_ingest: could not remove %s\n", work);
        free(cmd);
    }
    return 0;
}
