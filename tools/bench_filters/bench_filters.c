/*
 * bench_filters: the filter figures of the README.
 *
 *  A. per-locus dispatch cost: every locus of a store (20,000 loci, 5 alerts each) is dispatched
 *     to a set of one filter: an empty C filter, an empty Lua filter, and a cut on three locus
 *     properties in C and in Lua; "none" is a set with no filter (the cost of opening the view).
 *  B. ingest rate of 200,000 alerts with 25-filter sets (all C, half and half, all Lua cut
 *     filters) against the rate without filters.
 */
#include "gen.h"

#include "filters.h"
#include "ingest.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char lua_empty[] = "NAME = 'lua_empty'\nDESCRIPTION = 'empty'\nAUTHOR = 'bench'\n"
                                "function run(locus) end\n";

static const char lua_cut_fmt[] =
    "NAME = 'lua_cut_%d'\nDESCRIPTION = 'cut'\nAUTHOR = 'bench'\n"
    "OUTPUT_TAGS = {{name = 'bright_repeat', description = 'bright source seen more than once'}}\n"
    "function run(locus)\n"
    "  local n = locus:property('num_mag_values')\n"
    "  local newest = locus:property('newest_alert_magnitude')\n"
    "  local brightest = locus:property('brightest_alert_magnitude')\n"
    "  if n and newest and brightest and n >= 2 and newest < 19 and brightest < 18.5 then\n"
    "    locus:tag('bright_repeat')\n"
    "  end\n"
    "end\n";

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void die(const char *what, const ss_err *err)
{
    fprintf(stderr, "bench_filters: %s: %s\n", what, err ? err->msg : "failed");
    exit(1);
}

static char *path_in(const char *dir, const char *name)
{
    char *p = NULL;
    if (asprintf(&p, "%s/%s", dir, name) < 0)
        exit(1);
    return p;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f))
        die(path, NULL);
}

static char *write_csv(const char *dir, const char *name, uint64_t sources, uint64_t epochs,
                       uint64_t seed)
{
    ss_rng r = {seed};
    gen_source *src = gen_sources(&r, sources);
    char *path = path_in(dir, name);
    FILE *f = fopen(path, "w");
    if (!f || gen_write_csv(f, &r, src, sources, epochs, 0.2, 60000, name, 1) || fclose(f))
        die(path, NULL);
    free(src);
    return path;
}

/* Ingest @p csv into a new store at @p dir with @p fs (may be NULL). @return alerts/s. */
static double ingest(const char *dir, const char *csv, ss_filter_set *fs, ss_store **keep)
{
    ss_store_options so = {.create = 1};
    ss_store *s;
    ss_err err = {0};
    if (ss_store_open(dir, &so, &s, &err))
        die(dir, &err);
    ss_ingest_options o = {.filters = fs};
    ss_ingest *in = ss_ingest_new(s, &o);
    ss_ingest_totals t;
    double t0 = now_s();
    if (!in || ss_ingest_path(in, csv, &err) || ss_ingest_finish(in, &t, &err))
        die(csv, &err);
    double rate = (double)t.read / (now_s() - t0);
    ss_ingest_free(in);
    if (keep)
        *keep = s;
    else
        ss_store_close(s);
    return rate;
}

typedef struct locus_ids {
    char (*id)[SS_LOCUS_ID_LEN + 1];
    size_t n, cap;
} locus_ids;

static int add_id(void *ctx, const ss_locus *l)
{
    locus_ids *ids = ctx;
    if (ids->n == ids->cap) {
        ids->cap = ids->cap ? ids->cap * 2 : 1024;
        if (!(ids->id = realloc(ids->id, ids->cap * sizeof *ids->id)))
            die("out of memory", NULL);
    }
    memcpy(ids->id[ids->n++], l->id, SS_LOCUS_ID_LEN + 1);
    return 0;
}

/* Dispatch every locus of @p s to @p fs in one read transaction (the ids are listed first, so
 * only the dispatches are timed). @return microseconds per locus. */
static double dispatch_all(ss_filter_set *fs, ss_store *s, size_t *nloci)
{
    ss_store_txn *txn;
    ss_err err = {0};
    locus_ids ids = {0};
    if (ss_store_txn_begin(s, SS_STORE_READ, &txn) || ss_store_loci_each(txn, NULL, add_id, &ids))
        die("read transaction", NULL);
    double t0 = now_s();
    for (size_t i = 0; i < ids.n; i++) {
        ss_filter_outputs out;
        if (ss_filter_dispatch(fs, txn, ids.id[i], NULL, NULL, 0, NULL, &out, &err))
            die("dispatch", &err);
    }
    double us = (now_s() - t0) * 1e6 / (double)ids.n;
    ss_store_txn_abort(txn);
    *nloci = ids.n;
    free(ids.id);
    return us;
}

static ss_filter_set *load_set(const char *ini)
{
    ss_filter_set *fs;
    ss_err err = {0};
    if (ss_filter_set_load(ini, &fs, &err))
        die(ini, &err);
    return fs;
}

/* Mean p50 time inside the filters of one runtime (names starting with @p prefix). */
static double mean_p50(ss_filter_set *fs, const char *prefix)
{
    json_t *st = ss_filter_set_stats_json(fs), *f;
    double sum = 0;
    size_t i, n = 0;
    json_array_foreach(st, i, f)
    {
        if (strncmp(json_string_value(json_object_get(f, "filter")), prefix, strlen(prefix)))
            continue;
        sum += json_real_value(json_object_get(f, "p50_us"));
        n++;
    }
    json_decref(st);
    return n ? sum / (double)n : 0;
}

static void phase_a(const char *work)
{
    char *csv = write_csv(work, "a.csv", 20000, 5, 3), *dir = path_in(work, "store-a");
    ss_store *s;
    ingest(dir, csv, NULL, &s);
    char *lua_e = path_in(work, "empty.lua"), *lua_c = path_in(work, "cut.lua");
    char *cut = NULL;
    if (asprintf(&cut, lua_cut_fmt, 0) < 0)
        exit(1);
    write_text(lua_e, lua_empty);
    write_text(lua_c, cut);
    const char *names[] = {"none", "C empty", "Lua empty", "C cut (3 properties)",
                           "Lua cut (3 properties)"};
    char *files[] = {NULL, strdup(SS_BENCH_FILTER_DIR "/bench_empty.so"), lua_e,
                     strdup(SS_BENCH_FILTER_DIR "/bench_cut_0.so"), lua_c};
    printf("A. per-locus dispatch cost (20,000 loci of 5 alerts; includes opening the locus)\n");
    char *warm = path_in(work, "warm.ini");
    write_text(warm, "[filter x]\npath = none.so\nenabled = false\n");
    ss_filter_set *none = load_set(warm);
    size_t nwarm;
    for (int rep = 0; rep < 3; rep++) /* warm the page cache and the CPU for every set alike */
        dispatch_all(none, s, &nwarm);
    ss_filter_set_free(none);
    free(warm);
    for (int i = 0; i < 5; i++) {
        char *ini = path_in(work, "one.ini"), *text = NULL;
        if (asprintf(&text, "[filter x]\npath = %s\nenabled = %s\n",
                     files[i] ? files[i] : "none.so", files[i] ? "true" : "false") < 0)
            exit(1);
        write_text(ini, text);
        ss_filter_set *fs = load_set(ini);
        size_t n;
        double us = dispatch_all(fs, s, &n); /* the best of three: the machine is shared */
        for (int rep = 0; rep < 2; rep++) {
            double again = dispatch_all(fs, s, &n);
            us = again < us ? again : us;
        }
        printf("   %-24s %6.2f us/locus; inside the filter, p50: %.2f us\n", names[i], us,
               mean_p50(fs, ""));
        ss_filter_set_free(fs);
        free(ini), free(text);
    }
    ss_store_close(s);
    for (int i = 1; i < 5; i++)
        free(files[i]);
    free(csv), free(dir), free(cut);
}

/* A set of @p nc C cut filters and @p nlua Lua ones, each with its own name. */
static char *write_set(const char *work, int nc, int nlua)
{
    char *ini = path_in(work, "set.ini");
    FILE *f = fopen(ini, "w");
    for (int i = 0; f && i < nc; i++)
        fprintf(f, "[filter c%d]\npath = %s/bench_cut_%d.so\n", i, SS_BENCH_FILTER_DIR, i);
    for (int i = 0; f && i < nlua; i++) {
        char name[32], *text = NULL;
        snprintf(name, sizeof name, "cut%d.lua", i);
        char *lua = path_in(work, name);
        if (asprintf(&text, lua_cut_fmt, i) < 0)
            exit(1);
        write_text(lua, text);
        fprintf(f, "[filter lua%d]\npath = %s\n", i, lua);
        free(lua), free(text);
    }
    if (!f || fclose(f))
        die(ini, NULL);
    return ini;
}

static void phase_b(const char *work)
{
    const int mixes[][2] = {{25, 0}, {13, 12}, {0, 25}};
    char *csv = write_csv(work, "b.csv", 40000, 5, 4), *d0 = path_in(work, "store-b0");
    double bare = ingest(d0, csv, NULL, NULL);
    printf("B. ingest 200,000 alerts (40,000 sources): %.0f alerts/s without filters\n", bare);
    for (int m = 0; m < 3; m++) {
        char name[32];
        snprintf(name, sizeof name, "store-b%d", m + 1);
        char *ini = write_set(work, mixes[m][0], mixes[m][1]), *d = path_in(work, name);
        ss_filter_set *fs = load_set(ini);
        double with = ingest(d, csv, fs, NULL);
        printf("   25 filters (%2d C, %2d Lua cut): %6.0f alerts/s, %.2fx slower; inside a filter, "
               "p50: C %.2f us, Lua %.2f us\n",
               mixes[m][0], mixes[m][1], with, bare / with, mean_p50(fs, "bench_cut"),
               mean_p50(fs, "lua_cut"));
        ss_filter_set_free(fs);
        free(ini), free(d);
    }
    free(csv), free(d0);
}

int main(int argc, char **argv)
{
    char tmpl[] = "/tmp/skysieve-benchf-XXXXXX";
    const char *work = argc > 1 ? argv[1] : mkdtemp(tmpl);
    if (!work)
        die("mkdtemp", NULL);
    phase_a(work);
    phase_b(work);
    if (argc <= 1) {
        char *cmd = NULL;
        if (asprintf(&cmd, "rm -rf '%s'", work) >= 0 && system(cmd) != 0)
            fprintf(stderr, "bench_filters: could not remove %s\n", work);
        free(cmd);
    }
    return 0;
}
