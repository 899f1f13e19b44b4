/*
 * Replay: read a night, sort it by observation time, run it through a filter set (and a baseline
 * set) in scratch stores, and report what the filters did.
 */
#include "replay.h"

#include "fileio.h"
#include "ingest.h"
#include "json_text.h"
#include "query.h"
#include "catalog.h"
#include "replay_impl.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Everything one replay holds; freed by ssi_replay_free(). */
typedef struct ssi_replay {
    const ss_replay_options *o;
    char *work;                /* scratch directory: the staging, and the stores unless kept */
    char *set_dir, *base_dir;  /* store directories */
    ss_filter_set *set, *base; /* the sets under review and to compare with */
    ss_store *sset, *sbase;
    ssi_stage *stage;
    ssi_collect *cset, *cbase;
    ss_ingest_totals read; /* what reading the inputs found */
    double t_read, t_set, t_base;
    /* progress of the current phase */
    const char *phase;
    uint64_t total;
    struct timespec t0, last;
    ssi_collect *collecting;
    ss_store *running; /* the store of the run in progress */
    ssi_mapped mapped;
    int collect_failed;
    json_t *rejects; /* the first rejected records, for the report */
} ssi_replay;

#define SSI_REJECTS_LISTED 20

static double ssi_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) * 1e-9;
}

/* ---- progress ---- */

static void ssi_phase_begin(ssi_replay *r, const char *phase, uint64_t total)
{
    r->phase = phase;
    r->total = total;
    clock_gettime(CLOCK_MONOTONIC, &r->t0);
    r->last = r->t0;
}

/* Report progress at most every 0.2 s, and always when @p finished. @return the phase's time. */
static double ssi_progress(ssi_replay *r, uint64_t done, int finished)
{
    double t = ssi_since(&r->t0);
    if (!r->o->progress || (!finished && ssi_since(&r->last) < 0.2))
        return t;
    clock_gettime(CLOCK_MONOTONIC, &r->last);
    ss_replay_progress p = {r->phase, done, r->total, t, finished};
    r->o->progress(r->o->ctx, &p);
    return t;
}

static int ssi_divert(void *ctx, const ss_packet *pkt, ss_err *err)
{
    ssi_replay *r = ctx;
    if (r->o->interrupt && *r->o->interrupt)
        return ss_err_set(err, EINTR, "replay: interrupted");
    int rc = ssi_stage_put(r->stage, pkt, err);
    if (!rc && (ssi_stage_count(r->stage) & 1023) == 0)
        ssi_progress(r, ssi_stage_count(r->stage), 0);
    return rc;
}

/* ---- resident memory ---- */

#define SSI_MAPPED_EVERY 64

/* The process's resident file pages, in bytes (/proc/self/statm's third field: resident shared
 * pages, which are file-backed but for shared memory the replay has none of). 0 when unknown. */
static size_t ssi_resident_file(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size, resident, shared = 0;
    if (f && fscanf(f, "%lu %lu %lu", &size, &resident, &shared) != 3)
        shared = 0;
    if (f)
        fclose(f);
    return (size_t)shared * (size_t)sysconf(_SC_PAGESIZE);
}

void ssi_mapped_tick(ssi_mapped *m, ss_store *a, ss_store *b)
{
    if (!m->max || ++m->calls % SSI_MAPPED_EVERY || ssi_resident_file() <= m->max)
        return;
    /* failing to unmap costs memory, never a result: the replay goes on */
    (void)ss_store_unmap(a);
    if (b)
        (void)ss_store_unmap(b);
    m->unmaps++;
}

/* on_dispatch and on_commit share the ingest's context: the replay knows the active collector. */
static int ssi_on_dispatch(void *ctx, const ss_filter_dispatch_info *d)
{
    ssi_replay *r = ctx;
    ssi_collect_dispatch(r->collecting, d);
    if (d)
        ssi_mapped_tick(&r->mapped, r->running, NULL);
    return d && r->o->interrupt && *r->o->interrupt ? EINTR : 0; /* a batch takes seconds */
}

static void ssi_on_commit(void *ctx, const ss_ingest_totals *t)
{
    ssi_replay *r = ctx;
    if (r->collecting && ssi_collect_commit(r->collecting))
        r->collect_failed = 1;
    ssi_progress(r, t->read, 0);
}

static void ssi_on_reject(void *ctx, const ss_reject *rej)
{
    ssi_replay *r = ctx;
    if (json_array_size(r->rejects) < SSI_REJECTS_LISTED)
        json_array_append_new(r->rejects,
                              json_pack("{s:s, s:I, s:s, s:s}", "input", rej->origin, "line",
                                        (json_int_t)rej->line, "reason",
                                        ss_reason_name(rej->reason), "detail", rej->detail));
}

/* ---- directories ---- */

static int ssi_new_dir_check(const char *dir, ss_err *err)
{
    if (ss_file_dir_is_new(dir))
        return 0;
    return ss_err_set(err, SS_EINVAL,
                      "replay: %s is not empty: a replay writes a new store and never touches an "
                      "existing one; give an absent or empty directory",
                      dir);
}

static int ssi_dirs(ssi_replay *r, ss_err *err)
{
    const char *tmp = getenv("TMPDIR");
    if (asprintf(&r->work, "%s/skysieve-replay-XXXXXX", tmp && *tmp ? tmp : "/tmp") < 0) {
        r->work = NULL;
        return ss_err_set(err, SS_ENOMEM, "replay: out of memory");
    }
    if (!mkdtemp(r->work)) {
        int e = errno;
        return ss_err_set(err, e, "replay: cannot make a scratch directory %s: %s", r->work,
                          strerror(e));
    }
    const char *keep = r->o->store_dir;
    int n1 = keep ? asprintf(&r->set_dir, "%s", keep) : asprintf(&r->set_dir, "%s/set", r->work);
    int n2 = keep ? asprintf(&r->base_dir, "%s.baseline", keep)
                  : asprintf(&r->base_dir, "%s/baseline", r->work);
    if (n1 < 0 || n2 < 0) {
        r->set_dir = r->base_dir = NULL;
        return ss_err_set(err, SS_ENOMEM, "replay: out of memory");
    }
    int rc = keep ? ssi_new_dir_check(r->set_dir, err) : 0;
    if (!rc && keep && r->o->baseline)
        rc = ssi_new_dir_check(r->base_dir, err);
    return rc;
}

/* A scratch store, with the catalogs of o->catalogs_from copied in. */
static int ssi_open_store(const ss_replay_options *o, const char *dir, ss_store **out, ss_err *err)
{
    ss_store_options so = {.create = 1, .nosync = 1, .radius_arcsec = o->radius_arcsec};
    ss_store_options ro = {.readonly = 1};
    ss_store *from = NULL;
    size_t n;
    int rc = ss_store_open(dir, &so, out, err);
    if (rc || !o->catalogs_from)
        return rc;
    if (!(rc = ss_store_open(o->catalogs_from, &ro, &from, err)))
        rc = ss_assoc_catalog_copy_all(*out, from, &n, err);
    ss_store_close(from);
    return rc;
}

/* A run's store, closed and opened again read-only for the report and the runs after it. LMDB
 * keeps every page a write transaction dirtied on a free list of the environment's own until it
 * closes (87 MB at 3M alerts, heaptrack), which nothing after the run needs. */
static int ssi_reopen_readonly(const char *dir, ss_store **s, ss_err *err)
{
    ss_store_options ro = {.readonly = 1};
    ss_store_close(*s);
    *s = NULL;
    return ss_store_open(dir, &ro, s, err);
}

/* ---- phases ---- */

/* Read every input into the staging: rejections go to the set's store, as an ingest's would. */
static int ssi_read_inputs(ssi_replay *r, ss_err *err)
{
    int rc = ssi_stage_new(r->work, &r->stage, err);
    if (!rc)
        ssi_stage_watch(r->stage, r->o->interrupt);
    if (!rc)
        rc = ssi_open_store(r->o, r->set_dir, &r->sset, err);
    if (rc)
        return rc;
    ss_ingest_options io = {.decoder = r->o->decoder,
                            .format = r->o->format,
                            .ctx = r,
                            .divert = ssi_divert,
                            .on_commit = ssi_on_commit,
                            .on_reject = ssi_on_reject};
    ss_ingest *in = ss_ingest_new(r->sset, &io);
    if (!in)
        return ss_err_set(err, SS_ENOMEM, "replay: out of memory");
    ssi_phase_begin(r, "reading", 0);
    for (size_t i = 0; i < r->o->ninputs; i++) {
        ss_err ierr = {0};
        rc = ss_ingest_path(in, r->o->inputs[i], &ierr);
        if (rc == SS_EREJECT) /* counted and kept with the rejections; the rest goes on */
            fprintf(stderr, "skysieve: replay: %s\n", ierr.msg);
        else if (rc) {
            *err = ierr;
            break;
        }
        rc = 0;
    }
    if (!rc)
        rc = ss_ingest_finish(in, &r->read, err);
    ss_ingest_free(in);
    if (!rc)
        rc = ssi_stage_sort(r->stage, err);
    r->t_read = ssi_progress(r, r->read.diverted, 1);
    return rc;
}

/* Run the staged night through @p fs into @p s, collecting into @p c. */
static int ssi_run_set(ssi_replay *r, const char *phase, ss_filter_set *fs, ss_store *s,
                       ssi_collect *c, double *seconds, ss_err *err)
{
    ss_ingest_options io = {
        .filters = fs, .ctx = r, .on_dispatch = ssi_on_dispatch, .on_commit = ssi_on_commit};
    ss_ingest *in = ss_ingest_new(s, &io);
    if (!in)
        return ss_err_set(err, SS_ENOMEM, "replay: out of memory");
    r->collecting = c;
    r->running = s;
    ssi_stage_rewind(r->stage);
    ssi_phase_begin(r, phase, ssi_stage_count(r->stage));
    int rc = ss_ingest_source(in, &ssi_stage_decoder, r->stage, "replay", err);
    ss_ingest_totals t = {0};
    if (!rc)
        rc = ss_ingest_finish(in, &t, err);
    ss_ingest_free(in);
    r->collecting = NULL;
    r->running = NULL;
    *seconds = ssi_progress(r, t.read, 1);
    if (!rc && (r->collect_failed || ssi_collect_failed(c)))
        rc = ss_err_set(err, SS_ENOMEM, "replay: out of memory collecting what the filters did");
    return rc;
}

/* ---- the report ---- */

static json_t *ssi_alerts_json(const ssi_replay *r)
{
    const ss_ingest_totals *t = &r->read;
    json_t *reasons = json_object();
    for (int i = 0; i < SS_REASON__COUNT; i++)
        if (t->by_reason[i])
            json_object_set_new(reasons, ss_reason_name((ss_reason)i),
                                json_integer((json_int_t)t->by_reason[i]));
    double first, last;
    ssi_stage_span(r->stage, &first, &last);
    return json_pack("{s:I, s:I, s:I, s:I, s:o, s:O, s:o, s:o}", "inputs_failed",
                     (json_int_t)t->inputs_failed, "read", (json_int_t)t->read, "replayed",
                     (json_int_t)ssi_stage_count(r->stage), "rejected", (json_int_t)t->rejected,
                     "rejected_by_reason", reasons, "first_rejected", r->rejects, "first_mjd",
                     ss_json_num(first), "last_mjd", ss_json_num(last));
}

/* A run's part, with the store's own counts (history entries, duplicates, loci). */
static json_t *ssi_run_json(ss_store *s, ssi_collect *c, uint64_t *loci, ssi_mapped *m, ss_err *err)
{
    json_t *stats = NULL;
    if (ss_query_stats(s, &stats, err))
        return NULL;
    *loci = (uint64_t)json_integer_value(json_object_get(stats, "loci"));
    ss_store_txn *txn;
    int rc = ss_store_txn_begin(s, SS_STORE_READ, &txn);
    json_t *run = rc ? NULL : ssi_collect_report(c, txn, *loci, m, err);
    if (rc)
        ss_store_fail(s, err, rc, "reading the report");
    else
        ss_store_txn_abort(txn);
    if (run) /* counts only: the store's path and run times would make reports differ */
        json_object_set_new(run, "stored",
                            json_pack("{s:I, s:O, s:O, s:O, s:O}", "loci", (json_int_t)*loci,
                                      "alerts", json_object_get(stats, "alerts"), "detections",
                                      json_object_get(stats, "detections"), "upper_limits",
                                      json_object_get(stats, "upper_limits"), "duplicates",
                                      json_object_get(stats, "duplicates")));
    json_decref(stats);
    return run;
}

static void ssi_fail(json_t *failures, const char *filter, const char *check, double value,
                     double limit, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void ssi_fail(json_t *failures, const char *filter, const char *check, double value,
                     double limit, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_array_append_new(failures,
                          json_pack("{s:s, s:s, s:f, s:f, s:s}", "filter", filter, "check", check,
                                    "value", value, "limit", limit, "message", msg));
}

/* The checks of validation mode on one filter of the set under review. */
static void ssi_validate_filter(const ss_replay_limits *lim, json_t *f, uint64_t loci,
                                json_t *failures)
{
    const char *label = json_string_value(json_object_get(f, "label"));
    json_int_t errors = json_integer_value(json_object_get(f, "errors"));
    if ((uint64_t)errors > lim->max_errors) {
        json_t *first = json_array_get(json_object_get(f, "first_errors"), 0);
        ssi_fail(failures, label, "errors", (double)errors, (double)lim->max_errors,
                 "%s failed on %lld runs (allowed %llu); first: %s: %s", label, (long long)errors,
                 (unsigned long long)lim->max_errors,
                 json_string_value(json_object_get(first, "locus_id")),
                 json_string_value(json_object_get(first, "message")));
    }
    double p99 = json_real_value(json_object_get(json_object_get(f, "time_us"), "p99"));
    if (p99 > lim->time_budget_us)
        ssi_fail(failures, label, "time_budget", p99, lim->time_budget_us,
                 "%s took %.0f us per locus at p99, over the budget of %.0f us", label, p99,
                 lim->time_budget_us);
    const char *tag;
    json_t *n;
    json_object_foreach(json_object_get(f, "tagged"), tag, n)
    {
        double frac = loci ? (double)json_integer_value(n) / (double)loci : 0;
        if (frac > lim->max_tag_fraction)
            ssi_fail(failures, label, "tag_fraction", frac, lim->max_tag_fraction,
                     "%s tagged %lld of %llu loci '%s' (%.1f%%, more than %.1f%%): a filter "
                     "that passes everything floods its subscribers",
                     label, (long long)json_integer_value(n), (unsigned long long)loci, tag,
                     100 * frac, 100 * lim->max_tag_fraction);
    }
}

static json_t *ssi_validation_json(const ss_replay_limits *lim, json_t *run, uint64_t loci)
{
    json_t *failures = json_array();
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(run, "filters"), i, f) if (lim->enabled)
        ssi_validate_filter(lim, f, loci, failures);
    return json_pack("{s:b, s:b, s:{s:I, s:f, s:f}, s:o}", "enabled", lim->enabled, "passed",
                     json_array_size(failures) == 0, "limits", "max_errors",
                     (json_int_t)lim->max_errors, "time_budget_us", lim->time_budget_us,
                     "max_tag_fraction", lim->max_tag_fraction, "failures", failures);
}

static json_t *ssi_timing_json(const ssi_replay *r)
{
    double n = (double)ssi_stage_count(r->stage);
    return json_pack("{s:f, s:f, s:f, s:f, s:I, s:I}", "read_seconds", r->t_read, "replay_seconds",
                     r->t_set, "baseline_seconds", r->t_base, "alerts_per_second",
                     r->t_set > 0 ? n / r->t_set : 0.0, "max_mapped", (json_int_t)r->mapped.max,
                     "store_unmaps", (json_int_t)r->mapped.unmaps);
}

static json_t *ssi_inputs_json(const ss_replay_options *o)
{
    json_t *a = json_array();
    for (size_t i = 0; i < o->ninputs; i++)
        json_array_append_new(a, json_string(o->inputs[i]));
    return a;
}

static int ssi_report(ssi_replay *r, json_t **out, ss_err *err)
{
    const ss_replay_options *o = r->o;
    uint64_t loci = 0, base_loci = 0;
    json_t *run = ssi_run_json(r->sset, r->cset, &loci, &r->mapped, err);
    if (!run)
        return err->code ? err->code : SS_ENOMEM;
    json_t *rep =
        json_pack("{s:i, s:s, s:s?, s:o, s:o, s:I}", "format", SS_REPLAY_REPORT_FORMAT, "filters",
                  o->filters, "baseline", o->baseline, "inputs", ssi_inputs_json(o), "alerts",
                  ssi_alerts_json(r), "loci", (json_int_t)loci);
    json_object_set_new(rep, "set", run);
    if (r->base) {
        json_t *brun = ssi_run_json(r->sbase, r->cbase, &base_loci, &r->mapped, err);
        json_t *diff = brun ? ssi_diff_report(r->cset, r->sset, r->cbase, r->sbase, o->tolerance,
                                              o->max_listed ? o->max_listed : 100, &r->mapped, err)
                            : NULL;
        json_object_set_new(rep, "baseline_run", brun);
        json_object_set_new(rep, "diff", diff);
        if (!brun || !diff) {
            json_decref(rep);
            return err->code ? err->code : SS_ENOMEM;
        }
    }
    json_object_set_new(rep, "validation", ssi_validation_json(&o->limits, run, loci));
    json_object_set_new(rep, "timing", ssi_timing_json(r));
    *out = rep;
    return 0;
}

/* ---- the whole replay ---- */

static void ssi_replay_free(ssi_replay *r)
{
    ssi_collect_free(r->cset);
    ssi_collect_free(r->cbase);
    ss_filter_set_free(r->set);
    ss_filter_set_free(r->base);
    ss_store_close(r->sset);
    ss_store_close(r->sbase);
    ssi_stage_free(r->stage);
    json_decref(r->rejects);
    if (r->work)
        ss_file_remove_tree(r->work); /* kept stores live outside it */
    free(r->work);
    free(r->set_dir);
    free(r->base_dir);
}

static int ssi_load_sets(ssi_replay *r, ss_err *err)
{
    int rc = ss_filter_set_load(r->o->filters, &r->set, err);
    if (!rc && r->o->baseline)
        rc = ss_filter_set_load(r->o->baseline, &r->base, err);
    if (!rc && (!(r->cset = ssi_collect_new(r->set)) ||
                (r->base && !(r->cbase = ssi_collect_new(r->base)))))
        rc = ss_err_set(err, SS_ENOMEM, "replay: out of memory");
    return rc;
}

int ss_replay_run(const ss_replay_options *o, json_t **report, ss_err *err)
{
    *report = NULL;
    if (!o->filters || !o->ninputs)
        return ss_err_set(err, SS_EINVAL, "replay: needs a filter set and at least one input");
    ssi_replay r = {.o = o, .rejects = json_array(), .mapped = {.max = o->max_mapped}};
    /* the sets load first: a bad filter is found before a night is read */
    int rc = ssi_load_sets(&r, err);
    if (!rc)
        rc = ssi_dirs(&r, err);
    if (!rc)
        rc = ssi_read_inputs(&r, err);
    if (!rc)
        rc = ssi_run_set(&r, "replaying", r.set, r.sset, r.cset, &r.t_set, err);
    if (!rc)
        rc = ssi_reopen_readonly(r.set_dir, &r.sset, err);
    if (!rc && r.base && !(rc = ssi_open_store(o, r.base_dir, &r.sbase, err)))
        rc = ssi_run_set(&r, "baseline", r.base, r.sbase, r.cbase, &r.t_base, err);
    if (!rc && r.base)
        rc = ssi_reopen_readonly(r.base_dir, &r.sbase, err);
    if (!rc)
        rc = ssi_report(&r, report, err);
    if (rc && o->interrupt && *o->interrupt)
        rc = ss_err_set(err, EINTR, "replay: interrupted; its scratch directory is removed");
    ssi_replay_free(&r);
    return rc;
}
