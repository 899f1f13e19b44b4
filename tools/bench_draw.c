/*
 * bench_draw: what the pictures (core/draw/) cost, each beside a reference that reads the same
 * data without drawing it, timed back to back in the same run so that the machine's noise hits
 * both alike:
 *  - the light curve of a 500-point locus (one simulated jump source over 125 epochs of two
 *    visits in two bands) as PNG and as SVG, against that locus's JSON text
 *    (ss_query_locus_write(): the same store reads, no drawing);
 *  - a stamp as PNG (a shared ZTF 63 x 63 gzip FITS, or the simulated source's own when the
 *    shared data is absent), against reading the same bytes alone: gunzip, then cfitsio's read
 *    of the pixels (no stretch, no turn, no PNG).
 * Each figure is the mean time of ITERS calls; ROUNDS rounds give min / median / max of it and of
 * its ratio to the reference measured in the same round.
 *
 * --only TASK (lc-png, lc-svg, json, stamp, fits) runs that task alone, rounds x iters times and
 * untimed: for perf record.
 *
 * usage: bench_draw [--rounds N] [--iters N] [--data DIR] [--work DIR] [--only TASK]
 */
#include "bench_util.h"
#include "draw.h"
#include "ingest.h"
#include "query.h"
#include "simulate.h"

#include <fitsio.h>
#include <ftw.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define MAX_ROUNDS 100

typedef struct opts {
    int rounds, iters;
    const char *data, *work, *only;
} opts;

typedef struct bench {
    ss_store *store;
    const char *locus;
    unsigned char *stamp; /* malloc'd copy */
    size_t stamp_len;
    const char *stamp_from;
} bench;

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "bench_draw: %s: %s\n", what, detail);
    exit(1);
}

/* ---- the data ---- */

/* One jump source, 125 epochs: 500 alerts in Avro with stamps. */
static void simulate(const char *path)
{
    ss_sim_options o;
    ss_err err = {0};
    ss_sim_options_default(&o);
    memset(o.count, 0, sizeof o.count);
    o.count[SS_SIM_JUMP] = 1;
    o.epochs = 125;
    o.jump_epoch = 60;
    o.format = SS_SIM_AVRO;
    o.stamps = 1;
    if (ss_sim_options_check(&o, &err))
        die("simulating", err.msg);
    ss_sim *s = ss_sim_new(&o);
    FILE *f = fopen(path, "wb");
    if (!s || !f || ss_sim_prepare(s, &err) || ss_sim_write(s, f, path, NULL, &err) || fclose(f))
        die("simulating", err.msg[0] ? err.msg : path);
    ss_sim_free(s);
}

static void ingest(ss_store *st, const char *path)
{
    ss_ingest_options io = {.batch_size = 1000};
    ss_ingest *in = ss_ingest_new(st, &io);
    ss_ingest_totals t;
    ss_err err = {0};
    if (!in || ss_ingest_path(in, path, &err) || ss_ingest_finish(in, &t, &err))
        die("ingesting", err.msg);
    ss_ingest_free(in);
}

typedef struct copy {
    unsigned char *bytes;
    size_t len;
} copy;

static int copy_science(void *ctx, const ss_store_cutout *c)
{
    copy *k = ctx;
    if (c->kind == SS_CUTOUT_SCIENCE && !k->bytes) {
        k->bytes = malloc(c->len);
        memcpy(k->bytes, c->bytes, c->len);
        k->len = c->len;
    }
    return 0;
}

static int take_stamp(bench *b, const char *alert_id, const char *from)
{
    ss_store_txn *txn;
    copy k = {0};
    if (ss_store_txn_begin(b->store, SS_STORE_READ, &txn))
        die("reading", "a transaction");
    ss_store_cutouts_each(txn, alert_id, NULL, copy_science, &k);
    ss_store_txn_abort(txn);
    b->stamp = k.bytes, b->stamp_len = k.len, b->stamp_from = from;
    return k.bytes != NULL;
}

static void prepare(bench *b, const opts *o)
{
    char path[4096], ztf[4096];
    ss_err err = {0};
    ss_store_options so = {.create = 1, .radius_arcsec = 5};
    snprintf(path, sizeof path, "%s/store", o->work);
    if (ss_store_open(path, &so, &b->store, &err))
        die("opening the store", err.msg);
    snprintf(path, sizeof path, "%s/lc.avro", o->work);
    simulate(path);
    ingest(b->store, path);
    b->locus = "SIM00000001";
    snprintf(ztf, sizeof ztf, "%s/ztf/fink-local-v3.3/1095578115815010001.avro", o->data);
    if (access(ztf, R_OK) == 0) {
        ingest(b->store, ztf);
        if (take_stamp(b, "1095578115815010001", "a shared ZTF alert's"))
            return;
    }
    fprintf(stderr, "bench_draw: %s absent: the simulated stamp instead\n", ztf);
    if (!take_stamp(b, "1", "the simulated source's first"))
        die("the simulated stamp", "missing");
}

/* ---- the tasks ---- */

static void lc_task(bench *b, ss_draw_format format, size_t *bytes, size_t *points)
{
    ss_store_txn *txn;
    ss_wbuf w = {0};
    ss_err err = {0};
    ss_draw_lc_options o = {.format = format};
    ss_draw_lc_info info;
    if (ss_store_txn_begin(b->store, SS_STORE_READ, &txn) ||
        ss_draw_lightcurve(txn, b->locus, &o, &w, &info, &err))
        die("drawing the light curve", err.msg);
    ss_store_txn_abort(txn);
    *bytes = w.len, *points = info.points;
    ss_wbuf_free(&w);
}

static void json_task(bench *b, size_t *bytes)
{
    ss_wbuf w = {0};
    ss_err err = {0};
    if (ss_query_locus_write(b->store, b->locus, NULL, &w, &err))
        die("the locus's JSON", err.msg);
    *bytes = w.len;
    ss_wbuf_free(&w);
}

static void stamp_task(bench *b, size_t *bytes)
{
    ss_wbuf w = {0};
    ss_err err = {0};
    if (ss_draw_cutout_render(b->stamp, b->stamp_len, NULL, &w, NULL, &err))
        die("drawing the stamp", err.msg);
    *bytes = w.len;
    ss_wbuf_free(&w);
}

/* gunzip and cfitsio's read of the pixels: what any stamp viewer does first. */
static void fits_task(bench *b, size_t *bytes)
{
    static unsigned char raw[1 << 20];
    void *mem = b->stamp;
    size_t size = b->stamp_len;
    if (b->stamp_len > 2 && b->stamp[0] == 0x1f && b->stamp[1] == 0x8b) {
        z_stream z = {.next_in = b->stamp, .avail_in = (uInt)b->stamp_len};
        if (inflateInit2(&z, 15 + 16) != Z_OK)
            die("gunzip", "init");
        z.next_out = raw, z.avail_out = sizeof raw;
        int zr = inflate(&z, Z_FINISH);
        size = z.total_out, mem = raw;
        inflateEnd(&z);
        if (zr != Z_STREAM_END)
            die("gunzip", "the stamp does not expand");
    }
    fitsfile *fp;
    int st = 0, naxis = 0, any = 0;
    long ax[2] = {0}, first[2] = {1, 1};
    static float px[4096 * 16];
    fits_open_memfile(&fp, "stamp", READONLY, &mem, &size, 0, NULL, &st);
    fits_get_img_dim(fp, &naxis, &st);
    fits_get_img_size(fp, 2, ax, &st);
    if (st || ax[0] * ax[1] > (long)(sizeof px / sizeof *px))
        die("cfitsio", "cannot read the stamp");
    fits_read_pix(fp, TFLOAT, first, ax[0] * ax[1], NULL, px, &any, &st);
    fits_close_file(fp, &st);
    *bytes = (size_t)(ax[0] * ax[1]);
}

/* ---- timing ---- */

typedef enum { LC_PNG, LC_SVG, LOCUS_JSON, STAMP_PNG, STAMP_READ, NTASKS } task;
static const char *const task_names[] = {"light curve PNG", "light curve SVG", "locus JSON",
                                         "stamp PNG", "stamp gunzip + cfitsio"};
static const char *const task_keys[] = {"lc-png", "lc-svg", "json", "stamp", "fits"};

/* Mean seconds per call of @p t over @p iters calls. */
static double time_task(bench *b, task t, int iters, size_t *bytes, size_t *points)
{
    double t0 = bench_now_s();
    for (int i = 0; i < iters; i++)
        switch (t) {
        case LC_PNG: lc_task(b, SS_DRAW_PNG, bytes, points); break;
        case LC_SVG: lc_task(b, SS_DRAW_SVG, bytes, points); break;
        case LOCUS_JSON: json_task(b, bytes); break;
        case STAMP_PNG: stamp_task(b, bytes); break;
        default: fits_task(b, bytes); break;
        }
    return (bench_now_s() - t0) / iters;
}

static int dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void spread(double *v, int n, double scale, const char *unit, const char *name)
{
    qsort(v, (size_t)n, sizeof *v, dcmp);
    printf("  %-34s %9.3f %9.3f %9.3f %s\n", name, v[0] * scale, v[n / 2] * scale, v[n - 1] * scale,
           unit);
}

static void run(bench *b, const opts *o)
{
    static double t[NTASKS][MAX_ROUNDS], ratio[3][MAX_ROUNDS];
    size_t bytes[NTASKS] = {0}, points = 0;
    for (int t0 = 0; t0 < NTASKS; t0++) /* warm: fonts, caches, the store's pages */
        time_task(b, (task)t0, 2, &bytes[t0], &points);
    for (int r = 0; r < o->rounds; r++) {
        for (int k = 0; k < NTASKS; k++)
            t[k][r] = time_task(b, (task)k, o->iters, &bytes[k], &points);
        ratio[0][r] = t[LC_PNG][r] / t[LOCUS_JSON][r];
        ratio[1][r] = t[LC_SVG][r] / t[LOCUS_JSON][r];
        ratio[2][r] = t[STAMP_PNG][r] / t[STAMP_READ][r];
    }
    printf("bench_draw: %d rounds of %d calls; locus %s with %zu points; stamp: %s (%zu bytes)\n",
           o->rounds, o->iters, b->locus, points, b->stamp_from, b->stamp_len);
    printf("  %-34s %9s %9s %9s\n", "per call", "min", "median", "max");
    for (int k = 0; k < NTASKS; k++) {
        char name[96];
        snprintf(name, sizeof name, "%s (%zu %s)", task_names[k], bytes[k],
                 k == STAMP_READ ? "pixels" : "bytes");
        spread(t[k], o->rounds, 1e3, "ms", name);
    }
    printf("  %-34s %9s %9s %9s\n", "ratio to the reference", "min", "median", "max");
    spread(ratio[0], o->rounds, 1, "x", "light curve PNG / locus JSON");
    spread(ratio[1], o->rounds, 1, "x", "light curve SVG / locus JSON");
    spread(ratio[2], o->rounds, 1, "x", "stamp PNG / gunzip + cfitsio");
}

/* One task alone, for a profiler. */
static void only(bench *b, const opts *o)
{
    size_t bytes, points;
    for (int k = 0; k < NTASKS; k++)
        if (!strcmp(o->only, task_keys[k])) {
            time_task(b, (task)k, o->rounds * o->iters, &bytes, &points);
            return;
        }
    die("--only", "lc-png, lc-svg, json, stamp or fits");
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    return remove(path);
}

int main(int argc, char **argv)
{
    opts o = {.rounds = 5, .iters = 20, .data = "../shared/data"};
    static const struct option longopts[] = {
        {"rounds", required_argument, 0, 'r'}, {"iters", required_argument, 0, 'i'},
        {"data", required_argument, 0, 'd'},   {"work", required_argument, 0, 'w'},
        {"only", required_argument, 0, 'o'},   {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1)
        switch (ch) {
        case 'r': o.rounds = atoi(optarg); break;
        case 'i': o.iters = atoi(optarg); break;
        case 'd': o.data = optarg; break;
        case 'w': o.work = optarg; break;
        case 'o': o.only = optarg; break;
        default: die("usage", "bench_draw [--rounds N] [--iters N] [--data DIR] [--work DIR]");
        }
    if (o.rounds < 1 || o.rounds > MAX_ROUNDS || o.iters < 1)
        die("usage", "--rounds 1 to 100, --iters at least 1");
    char tmpl[] = "/tmp/bench_draw.XXXXXX";
    int own_work = !o.work;
    if (own_work && !(o.work = mkdtemp(tmpl)))
        die("mkdtemp", tmpl);
    bench b = {0};
    prepare(&b, &o);
    if (o.only)
        only(&b, &o);
    else
        run(&b, &o);
    ss_store_close(b.store);
    free(b.stamp);
    ss_draw_release();
    if (own_work)
        nftw(o.work, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
