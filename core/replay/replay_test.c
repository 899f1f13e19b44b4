/*
 * skysieve replay, driven as a reviewer would: a night with one jumping source, in files out of
 * time order, through the contributed jump filter and test filters; the report, its determinism,
 * a baseline comparison, validation, kept and scratch stores, progress, bad input.
 */
#include "testutil.h"

#include <check.h>
#include <jansson.h>
#include <math.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TF(kind) SS_TEST_FILTERS_DIR "/tf_" kind ".so"
#define JUMP_SO  SS_CONTRIB_DIR "/jump.so"
#define COUNT    SS_SOURCE_DIR "/tests/filters/count.lua"

#define STEADY  30
#define EPOCHS  8
#define JUMP_AT 5 /* the jumper is 4 mag brighter from this epoch on */

/* The night, in two files, each in reverse time order: steady sources on odd-numbered epochs in
 * the first file, even ones in the second; the jumper; one row out of range. */
static void write_night(void)
{
    FILE *f[2];
    for (int k = 0; k < 2; k++) {
        char *p = tu_path(tu_tmp, k ? "b.csv" : "a.csv");
        ck_assert_ptr_nonnull(f[k] = fopen(p, "w"));
        fprintf(f[k], "alert_id,object_id,ra,dec,mjd,passband,mag,magerr\n");
        free(p);
    }
    for (int e = EPOCHS - 1; e >= 0; e--) {
        FILE *out = f[e % 2];
        for (int s = 0; s < STEADY; s++)
            fprintf(out, "s%d-%d,OBJ%03d,%.6f,%.6f,%d.25,g,%.3f,0.05\n", s, e, s, 150 + 0.01 * s,
                    2.0 + 0.01 * s, 60000 + 2 * e, 18 + 0.01 * ((s + e) % 5));
        fprintf(out, "jumper-%d,JUMPER,151.5,3.5,%d.5,g,%.1f,0.05\n", e, 60000 + 2 * e,
                e < JUMP_AT ? 19.0 : 15.0);
    }
    fprintf(f[0], "bad-1,BAD,12.5,95.0,60001.0,g,18.2,0.05\n");
    fclose(f[0]);
    fclose(f[1]);
}

static char *set_ini(const char *name, const char *body)
{
    char *text = NULL;
    ck_assert_int_ge(asprintf(&text, "[set]\n%s", body), 0);
    char *p = tu_write(tu_tmp, name, text);
    free(text);
    return p;
}

static json_t *load_report(const char *name)
{
    char *p = tu_path(tu_tmp, name);
    json_error_t jerr;
    json_t *r = json_load_file(p, 0, &jerr);
    ck_assert_msg(r != NULL, "%s: %s", p, jerr.text);
    free(p);
    return r;
}

/* Run a replay of the night in the test directory. @return the exit status. */
static int replay(char **out, char **err, const char *set, const char *more)
{
    return tu_sks(out, err, "replay --filters %s --report %s/report.json %s %s/a.csv %s/b.csv", set,
                  tu_tmp, more, tu_tmp, tu_tmp);
}

static json_t *filter_entry(json_t *run, const char *label)
{
    size_t i;
    json_t *f;
    json_array_foreach(
        json_object_get(run, "filters"), i,
        f) if (!strcmp(json_string_value(json_object_get(f, "label")), label)) return f;
    ck_abort_msg("no filter %s in the report", label);
    return NULL;
}

static json_int_t jint(json_t *o, const char *path)
{
    char *copy = strdup(path), *save = NULL;
    for (char *k = strtok_r(copy, ".", &save); k; k = strtok_r(NULL, ".", &save))
        o = json_object_get(o, k);
    free(copy);
    ck_assert_msg(json_is_integer(o), "%s is not an integer", path);
    return json_integer_value(o);
}

START_TEST(report_of_a_night)
{
    write_night();
    char *set = set_ini("set.ini", "[filter jump]\npath = " JUMP_SO
                                   "\n[filter count]\npath = " COUNT "\npriority = 5\n");
    char *out, *err;
    ck_assert_int_eq(replay(&out, &err, set, ""), 0);
    json_t *r = load_report("report.json");
    const int alerts = (STEADY + 1) * EPOCHS;
    ck_assert_int_eq(jint(r, "alerts.replayed"), alerts);
    ck_assert_int_eq(jint(r, "alerts.rejected"), 1);
    json_t *rej =
        json_array_get(json_object_get(json_object_get(r, "alerts"), "first_rejected"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(rej, "reason")), "dec_out_of_range");
    ck_assert_int_eq(jint(r, "loci"), STEADY + 1);
    json_t *run = json_object_get(r, "set");
    json_t *jump = filter_entry(run, "jump"), *count = filter_entry(run, "count");
    /* count runs first (priority 5): every alert reaches both filters */
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(run, "filters"), 0), "label")),
                     "count");
    ck_assert_int_eq(jint(jump, "runs"), alerts);
    ck_assert_int_eq(jint(jump, "loci_seen"), STEADY + 1);
    ck_assert_int_eq(jint(jump, "errors"), 0);
    ck_assert_int_eq(jint(jump, "tagged.jump"), 1);
    ck_assert_int_eq(jint(count, "properties_written"), 3 * alerts); /* tf_count, tf_seq, tf_gen */
    ck_assert(json_real_value(json_object_get(json_object_get(jump, "time_us"), "p50")) > 0);
    /* the jumper, flagged at the epoch it jumps, although its rows came in reverse order */
    json_t *tag = json_object_get(json_object_get(run, "tags"), "jump");
    ck_assert_int_eq(jint(tag, "loci"), 1);
    json_t *hit = json_array_get(json_object_get(tag, "list"), 0);
    json_t *alert = json_object_get(hit, "alert");
    char want[32];
    snprintf(want, sizeof want, "jumper-%d", JUMP_AT);
    ck_assert_str_eq(json_string_value(json_object_get(alert, "alert_id")), want);
    ck_assert_str_eq(json_string_value(json_object_get(hit, "filter")), "jump");
    ck_assert_str_eq(json_string_value(json_object_get(hit, "tuple_object_id")), "JUMPER");
    ck_assert(fabs(json_real_value(json_object_get(hit, "ra")) - 151.5) < 1e-9);
    ck_assert(strstr(out, "tag jump: 1 loci") && strstr(out, "JUMPER") && strstr(out, want));
    ck_assert(strstr(out, "replayed 248 alerts (1 rejected)"));
    ck_assert_ptr_null(json_object_get(r, "diff"));
    json_decref(r);
    free(out);
    free(err);
    free(set);
}
END_TEST

/* count.lua stamps each alert with its locus's run number: in a kept store, a locus's alerts in
 * time order must carry 1..n, which only a replay in observation order gives. */
START_TEST(observation_time_order_and_kept_store)
{
    write_night();
    char *set = set_ini("set.ini", "[filter count]\npath = " COUNT "\n");
    char *store = tu_path(tu_tmp, "kept"), *more = NULL, *out, *err;
    ck_assert_int_ge(asprintf(&more, "--store %s", store), 0);
    ck_assert_int_eq(replay(&out, &err, set, more), 0);
    free(out);
    free(err);
    ck_assert_int_eq(tu_sks(&out, &err, "locus --store %s JUMPER", store), 0);
    json_error_t jerr;
    json_t *l = json_loads(out, 0, &jerr);
    ck_assert_ptr_nonnull(l);
    json_t *alerts = json_object_get(l, "alerts");
    ck_assert_int_eq(json_array_size(alerts), EPOCHS);
    double last = 0;
    for (int seq = 1; seq <= EPOCHS; seq++) { /* find the alert stamped seq: times increase */
        size_t i;
        json_t *a;
        int found = 0;
        json_array_foreach(alerts, i, a)
        {
            json_t *p = json_object_get(a, "properties");
            if (json_integer_value(json_object_get(p, "tf_seq")) != seq)
                continue;
            double mjd = json_real_value(json_object_get(a, "mjd"));
            ck_assert_msg(mjd > last, "run %d saw mjd %f after %f", seq, mjd, last);
            last = mjd;
            found = 1;
        }
        ck_assert_msg(found, "no alert stamped %d", seq);
    }
    json_decref(l);
    free(out);
    free(err);
    /* the kept store is a store like any other, and a second replay will not write into it */
    ck_assert_int_eq(tu_sks(&out, &err, "verify --store %s", store), 0);
    free(out);
    free(err);
    ck_assert_int_eq(replay(&out, &err, set, more), 1);
    ck_assert_msg(strstr(err, "not empty") && strstr(err, store), "%s", err);
    free(out);
    free(err);
    free(more);
    free(store);
    free(set);
}
END_TEST

/* Delete the timing fields, recursively. */
static void strip_timing(json_t *o)
{
    if (json_is_array(o)) {
        size_t i;
        json_t *v;
        json_array_foreach(o, i, v) strip_timing(v);
        return;
    }
    if (!json_is_object(o))
        return;
    json_object_del(o, "timing");
    json_object_del(o, "time_us");
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) strip_timing(v);
}

START_TEST(deterministic_and_scratch_removed)
{
    write_night();
    char *set =
        set_ini("set.ini", "[filter jump]\npath = " JUMP_SO "\n[filter count]\npath = " COUNT "\n");
    char *scratch = tu_path(tu_tmp, "scratch"), *out, *err;
    ck_assert_int_eq(mkdir(scratch, 0755), 0);
    char *dumps[2];
    /* the second run unmaps its store at every check (every 64 dispatches, and while the report
     * reads): what the filters see and the report must not change */
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(tu_sks(&out, &err,
                                "replay --filters %s --report - --max-mapped %s %s/a.csv %s/b.csv",
                                set, k ? "1" : "0", tu_tmp, tu_tmp),
                         0);
        json_error_t jerr;
        json_t *r = json_loads(out, 0, &jerr);
        ck_assert_msg(r != NULL, "report on stdout: %s", jerr.text);
        json_int_t unmaps = jint(r, "timing.store_unmaps");
        ck_assert_msg(k ? unmaps > 0 : unmaps == 0, "run %d: %lld unmaps", k, (long long)unmaps);
        ck_assert_int_eq(jint(r, "timing.max_mapped"), k); /* the bound it ran with, in bytes */
        strip_timing(r);
        dumps[k] = json_dumps(r, JSON_INDENT(2));
        json_decref(r);
        free(out);
        free(err);
    }
    ck_assert_str_eq(dumps[0], dumps[1]);
    free(dumps[0]);
    free(dumps[1]);
    /* the scratch store lives under $TMPDIR and is gone afterwards */
    char *cmd = NULL;
    ck_assert_int_ge(asprintf(&cmd,
                              "TMPDIR=%s timeout 60 %s replay --filters %s --report %s/r.json "
                              "--quiet %s/a.csv && ! ls -A %s | grep -q skysieve-replay",
                              scratch, SS_BINARY, set, tu_tmp, tu_tmp, scratch),
                     0);
    ck_assert_int_eq(tu_run(cmd, &out, &err), 0);
    ck_assert_str_eq(out, ""); /* --quiet: no summary */
    free(out);
    free(err);
    free(cmd);
    /* without --max-mapped, the command's bound: 256 MiB */
    char *path = tu_path(tu_tmp, "r.json");
    json_error_t jerr;
    json_t *r = json_load_file(path, 0, &jerr);
    ck_assert_msg(r != NULL, "%s: %s", path, jerr.text);
    ck_assert_int_eq(jint(r, "timing.max_mapped"), (json_int_t)256 << 20);
    json_decref(r);
    free(path);
    free(scratch);
    free(set);
}
END_TEST

START_TEST(baseline_differences)
{
    write_night();
    char *set = set_ini("set.ini", "[filter jump]\npath = " JUMP_SO "\n");
    /* the baseline's threshold is low enough to tag steady sources whose magnitude wobbles */
    char *base = set_ini("base.ini", "[filter jump]\npath = " JUMP_SO "\nsetup.threshold = 0.02\n");
    char *more = NULL, *out, *err;
    /* --max-mapped 1: both stores are unmapped again and again while the diff reads them */
    ck_assert_int_ge(asprintf(&more, "--baseline %s --max-listed 3 --max-mapped 1", base), 0);
    ck_assert_int_eq(replay(&out, &err, set, more), 0);
    json_t *r = load_report("report.json");
    ck_assert_int_gt(jint(r, "timing.store_unmaps"), 0);
    json_t *tags = json_object_get(json_object_get(json_object_get(r, "diff"), "tags"), "jump");
    ck_assert_int_eq(jint(tags, "both"), 1);
    ck_assert_int_eq(json_array_size(json_object_get(tags, "only_set")), 0);
    size_t only_base = json_array_size(json_object_get(tags, "only_baseline"));
    ck_assert_uint_gt(only_base, 0);
    ck_assert_int_eq(jint(json_object_get(r, "baseline_run"), "loci_tagged"),
                     (json_int_t)only_base + 1);
    json_t *prop =
        json_object_get(json_object_get(json_object_get(json_object_get(r, "diff"), "properties"),
                                        "locus_properties"),
                        "jump_magnitude");
    ck_assert_int_eq(jint(prop, "only_baseline"), (json_int_t)only_base);
    ck_assert_int_eq(jint(prop, "changed"), 0); /* the jumper: 4 mag in both */
    ck_assert_int_eq(json_array_size(json_object_get(prop, "examples")), 3);
    ck_assert(strstr(out, "against the baseline") && strstr(out, "only with the baseline"));
    json_decref(r);
    free(out);
    free(err);
    free(more);
    free(set);
    free(base);
}
END_TEST

START_TEST(validation_fails_with_the_reason)
{
    write_night();
    char *ok = set_ini("ok.ini", "[filter jump]\npath = " JUMP_SO "\n");
    char *fails = set_ini("fails.ini", "[filter jump]\npath = " JUMP_SO
                                       "\n[filter broken]\npath = " TF("fails") "\n");
    char *floods = set_ini("floods.ini", "[filter everything]\npath = " TF("good") "\n");
    char *out, *err;
    ck_assert_int_eq(replay(&out, &err, ok, "--validate"), 0);
    ck_assert(strstr(out, "validation: passed"));
    free(out);
    free(err);
    ck_assert_int_eq(replay(&out, &err, fails, "--validate"), 1);
    ck_assert_msg(strstr(out, "validation: FAILED") && strstr(out, "broken failed on") &&
                      strstr(out, "deliberate failure"),
                  "%s", out);
    json_t *r = load_report("report.json"); /* written, also when it fails */
    ck_assert(json_is_false(json_object_get(json_object_get(r, "validation"), "passed")));
    json_t *broken = filter_entry(json_object_get(r, "set"), "broken");
    /* disabled after 10 failures in a row (max_consecutive_failures), as a broker would */
    ck_assert_int_eq(jint(broken, "errors"), 10);
    ck_assert(json_is_true(json_object_get(broken, "disabled")));
    ck_assert_int_eq(json_array_size(json_object_get(broken, "first_errors")), 5);
    json_decref(r);
    free(out);
    free(err);
    /* --max-errors allows them; without --validate nothing fails */
    ck_assert_int_eq(replay(&out, &err, fails, "--validate --max-errors 1000"), 0);
    free(out);
    free(err);
    ck_assert_int_eq(replay(&out, &err, fails, ""), 0);
    free(out);
    free(err);
    ck_assert_int_eq(replay(&out, &err, floods, "--validate --quiet"), 1);
    ck_assert_msg(strstr(err, "floods its subscribers") && strstr(err, "tf_tag"), "%s", err);
    free(out);
    free(err);
    ck_assert_int_eq(replay(&out, &err, floods, "--validate --max-tag-fraction 1"), 0);
    free(out);
    free(err);
    ck_assert_int_eq(replay(&out, &err, ok, "--validate --time-budget 0.000001"), 1);
    ck_assert_msg(strstr(out, "over the budget"), "%s", out);
    free(out);
    free(err);
    free(ok);
    free(fails);
    free(floods);
}
END_TEST

START_TEST(progress_bar_on_a_terminal_lines_otherwise)
{
    write_night();
    char *set = set_ini("set.ini", "[filter jump]\npath = " JUMP_SO "\n");
    char *out, *err;
    ck_assert_int_eq(replay(&out, &err, set, ""), 0);
    ck_assert_msg(strstr(err, "replay: replaying 248/248 alerts (100%)") && !strchr(err, '\r'),
                  "%s", err);
    free(out);
    free(err);
    int fd;
    pid_t pid = forkpty(&fd, NULL, NULL, NULL);
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char *report = tu_path(tu_tmp, "tty.json"), *a = tu_path(tu_tmp, "a.csv");
        execl(SS_BINARY, "skysieve", "replay", "--filters", set, "--report", report, a,
              (char *)NULL);
        _exit(127);
    }
    char buf[65536];
    size_t n = 0;
    ssize_t got;
    while (n < sizeof buf - 1 && (got = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)got;
    buf[n] = '\0';
    int status;
    waitpid(pid, &status, 0);
    close(fd);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_msg(strstr(buf, "\rreplaying [") && strstr(buf, "100%") && strstr(buf, "left"), "%s",
                  buf);
    free(set);
}
END_TEST

START_TEST(bad_input_and_usage)
{
    write_night();
    char *set = set_ini("set.ini", "[filter jump]\npath = " JUMP_SO "\n");
    char *missing = set_ini("missing.ini", "[filter gone]\npath = /nonexistent/gone.so\n");
    char *out, *err;
    /* a filter set that does not load stops the replay before any input is read */
    ck_assert_int_eq(replay(&out, &err, missing, ""), 1);
    ck_assert_msg(strstr(err, "gone.so"), "%s", err);
    free(out);
    free(err);
    /* an unreadable input is rejected as a whole, named, and the rest replays; the run fails, as
     * an ingest does, so that a night that was not read cannot pass a review */
    ck_assert_int_eq(tu_sks(&out, &err,
                            "replay --filters %s --report %s/r.json %s/a.csv %s/nope.avro", set,
                            tu_tmp, tu_tmp, tu_tmp),
                     1);
    ck_assert_msg(strstr(err, "nope.avro") && strstr(err, "1 input could not be read"), "%s", err);
    ck_assert(strstr(out, "(2 rejected)"));
    json_t *rep = load_report("r.json");
    json_t *alerts = json_object_get(rep, "alerts");
    ck_assert_int_eq(json_integer_value(json_object_get(alerts, "inputs_failed")), 1);
    ck_assert_int_gt(json_integer_value(json_object_get(alerts, "replayed")), 0);
    json_decref(rep);
    free(out);
    free(err);
    ck_assert_int_eq(tu_sks(&out, &err, "replay --filters %s %s/a.csv", set, tu_tmp), 2);
    free(out);
    free(err);
    ck_assert_int_eq(tu_sks(&out, &err,
                            "replay --filters %s --report x --max-tag-fraction 2 %s/a.csv", set,
                            tu_tmp),
                     2);
    free(out);
    free(err);
    ck_assert_int_eq(tu_sks(&out, &err, "replay --filters %s --report x --max-mapped lots %s/a.csv",
                            set, tu_tmp),
                     2);
    ck_assert_msg(strstr(err, "--max-mapped: bad value 'lots'"), "%s", err);
    free(out);
    free(err);
    ck_assert_int_eq(
        tu_sks(&out, &err, "replay --filters %s --report x --max-mapped=1Q %s/a.csv", set, tu_tmp),
        2);
    ck_assert_msg(strstr(err, "--max-mapped: bad value '1Q'"), "%s", err);
    free(out);
    free(err);
    free(set);
    free(missing);
}
END_TEST

/* The README's demo: the simulated tutorial survey through the jump filter flags the jumping
 * source at the epoch it jumps and nothing else. */
START_TEST(simulated_survey_jump_found)
{
    char *set = set_ini("set.ini", "[filter jump]\npath = " JUMP_SO "\n");
    char *out, *err;
    ck_assert_int_eq(tu_sks(&out, &err, "simulate --quiet --out %s/sim.csv --truth %s/truth.jsonl",
                            tu_tmp, tu_tmp),
                     0);
    free(out);
    free(err);
    ck_assert_int_eq(tu_sks(&out, &err,
                            "replay --filters %s --radius 5 --validate --report %s/report.json "
                            "%s/sim.csv",
                            set, tu_tmp, tu_tmp),
                     0);
    free(out);
    free(err);
    json_t *r = load_report("report.json");
    ck_assert_int_eq(jint(r, "loci"), 126); /* one locus per source */
    json_t *list = json_object_get(
        json_object_get(json_object_get(json_object_get(r, "set"), "tags"), "jump"), "list");
    ck_assert_int_eq(json_array_size(list), 1);
    json_t *hit = json_array_get(list, 0);
    char *tpath = tu_path(tu_tmp, "truth.jsonl");
    FILE *f = fopen(tpath, "r");
    ck_assert_ptr_nonnull(f);
    char line[4096];
    int jumpers = 0;
    while (fgets(line, sizeof line, f)) {
        json_t *t = json_loads(line, 0, NULL);
        ck_assert_ptr_nonnull(t);
        if (!strcmp(json_string_value(json_object_get(t, "model")), "jump")) {
            jumpers++;
            ck_assert_str_eq(json_string_value(json_object_get(hit, "sim_object_id")),
                             json_string_value(json_object_get(t, "object_id")));
            double want =
                json_real_value(json_object_get(json_object_get(t, "params"), "first_bright_mjd"));
            ck_assert(fabs(json_real_value(json_object_get(json_object_get(hit, "alert"), "mjd")) -
                           want) < 1e-6);
        }
        json_decref(t);
    }
    fclose(f);
    ck_assert_int_eq(jumpers, 1);
    json_decref(r);
    free(tpath);
    free(set);
}
END_TEST

/* Ctrl-C in the middle of a slow replay: it stops, says so, and leaves no scratch store. */
START_TEST(interrupt_removes_the_scratch)
{
    write_night();
    char *set = set_ini("slow.ini", "[filter count]\npath = " COUNT "\nsetup.spin_ms = 20\n");
    char *scratch = tu_path(tu_tmp, "scratch"), *cmd = NULL, *out, *err;
    ck_assert_int_eq(mkdir(scratch, 0755), 0);
    ck_assert_int_ge(asprintf(&cmd,
                              "(TMPDIR=%s %s replay --filters %s --report %s/r.json %s/a.csv & "
                              "sleep 1.5; kill -INT $!; wait $!; rc=$?; ls -A %s | grep -q "
                              "skysieve-replay && exit 99; exit $rc)",
                              scratch, SS_BINARY, set, tu_tmp, tu_tmp, scratch),
                     0);
    ck_assert_int_eq(tu_run(cmd, &out, &err), 1);
    ck_assert_msg(strstr(err, "interrupted"), "%s", err);
    free(out);
    free(err);
    free(cmd);
    free(scratch);
    free(set);
}
END_TEST

/* Real ZTF alerts (history and cutouts) replay and keep their stamps in a kept store. */
START_TEST(real_ztf_alerts)
{
    const char *shared = tu_shared_data("replay of real ZTF alerts");
    if (!shared)
        return;
    char *set = set_ini("set.ini", "[filter count]\npath = " COUNT "\n");
    char *out, *err;
    ck_assert_int_eq(tu_sks(&out, &err,
                            "replay --filters %s --report %s/r.json --store %s/z %s/ztf", set,
                            tu_tmp, tu_tmp, shared),
                     0);
    free(out);
    free(err);
    json_t *r = load_report("r.json");
    json_int_t n = jint(r, "alerts.replayed");
    ck_assert_int_gt(n, 0);
    ck_assert(json_real_value(json_object_get(json_object_get(r, "alerts"), "first_mjd")) <=
              json_real_value(json_object_get(json_object_get(r, "alerts"), "last_mjd")));
    ck_assert_int_eq(jint(filter_entry(json_object_get(r, "set"), "count"), "runs"), n);
    ck_assert_int_gt(jint(json_object_get(r, "set"), "stored.alerts"), n); /* history too */
    json_decref(r);
    ck_assert_int_eq(tu_sks(&out, &err, "stats --store %s/z", tu_tmp), 0);
    json_error_t jerr;
    json_t *st = json_loads(out, 0, &jerr);
    ck_assert_int_gt(json_integer_value(json_object_get(st, "cutouts")), 0);
    json_decref(st);
    free(out);
    free(err);
    free(set);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("replay");
    TCase *tc = tcase_create("replay");
    tcase_add_checked_fixture(tc, tu_tmp_setup, tu_tmp_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, report_of_a_night);
    tcase_add_test(tc, observation_time_order_and_kept_store);
    tcase_add_test(tc, deterministic_and_scratch_removed);
    tcase_add_test(tc, baseline_differences);
    tcase_add_test(tc, validation_fails_with_the_reason);
    tcase_add_test(tc, progress_bar_on_a_terminal_lines_otherwise);
    tcase_add_test(tc, bad_input_and_usage);
    tcase_add_test(tc, simulated_survey_jump_found);
    tcase_add_test(tc, interrupt_removes_the_scratch);
    tcase_add_test(tc, real_ztf_alerts);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
