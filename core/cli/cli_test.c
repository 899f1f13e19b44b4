/* The command contract of the skysieve binary (tests and tools rely on it), and crash safety. */
#include "testutil.h"

#include "decoder.h"
#include "output.h"
#include "runtime.h"

#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char sample[] = "alert_id,ra,dec,mjd,passband,mag,magerr,object_id\n"
                             "a1,10,20,60000,g,18,0.1,OBJ\n"
                             "a2,10.0001,20,60001,r,18.5,0.1,OBJ\n"
                             "a3,10.01,20,60001,r,19,0.1,\n"
                             "a4,10,120,60001,r,19,0.1,\n";

START_TEST(help_everywhere)
{
    const char *cmds[] = {"ingest", "locus",    "cone",    "loci",      "stats", "rejected",
                          "verify", "simulate", "compact", "retention", "repack"};
    char *out, *err;
    ck_assert_int_eq(tu_sks(&out, &err, "--help"), 0);
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
        ck_assert_ptr_nonnull(strstr(out, cmds[i]));
    free(out), free(err);
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        ck_assert_int_eq(tu_sks(&out, &err, "%s --help", cmds[i]), 0);
        ck_assert_ptr_nonnull(strstr(out, "usage: skysieve"));
        free(out), free(err);
    }
    ck_assert_int_eq(tu_sks(&out, &err, "frobnicate"), 2);
    ck_assert_ptr_nonnull(strstr(err, "unknown command"));
    free(out), free(err);
    ck_assert_int_eq(tu_sks(&out, &err, "ingest --store x"), 2);
    free(out), free(err);
    const char *levels[] = {"0", "1.5", "20", "-1001", "fast"};
    for (size_t i = 0; i < sizeof levels / sizeof *levels; i++) {
        ck_assert_int_eq(tu_sks(&out, &err, "ingest --store x --stamp-level %s a.csv", levels[i]),
                         2);
        ck_assert_msg(strstr(err, "--stamp-level"), "%s", err);
        free(out), free(err);
    }
}
END_TEST

START_TEST(ingest_summary_and_queries)
{
    char *in = tu_write(tu_tmp, "s.csv", sample), *out, *err;
    ck_assert_int_eq(tu_sks(&out, &err, "ingest --store %s/st %s", tu_tmp, in), 0);
    const char *lines[] = {"alerts read       4",
                           "ingested          3",
                           "duplicates        0",
                           "rejected          1",
                           "dec_out_of_range",
                           "loci created      2",
                           "alerts/s"};
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++)
        ck_assert_msg(strstr(out, lines[i]), "summary lacks '%s':\n%s", lines[i], out);
    ck_assert_ptr_nonnull(strstr(err, "s.csv:5: rejected (dec_out_of_range)"));
    free(out), free(err);

    ck_assert_int_eq(tu_sks(&out, &err, "ingest --store %s/st9 --stamp-level -50 %s", tu_tmp, in),
                     0);
    ck_assert_msg(strstr(out, "ingested          3"), "%s", out);
    free(out), free(err);

    ck_assert_int_eq(tu_sks(&out, &err, "ingest --json --store %s/st %s", tu_tmp, in), 0);
    json_t *j = json_loads(out, 0, NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "duplicates")), 3);
    json_decref(j);
    free(out), free(err);

    ck_assert_int_eq(tu_sks(&out, &err, "locus --store %s/st OBJ", tu_tmp), 0);
    j = json_loads(out, 0, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "alerts")), 2);
    ck_assert(json_is_array(json_object_get(j, "tags")));
    json_decref(j);
    free(out), free(err);

    ck_assert_int_eq(tu_sks(&out, &err, "cone --store %s/st 10.005 20 60", tu_tmp), 0);
    ck_assert_uint_eq(tu_count_lines(out), 2);
    json_t *first = json_loads(out, JSON_DISABLE_EOF_CHECK, NULL);
    json_t *second = json_loads(strchr(out, '\n') + 1, 0, NULL);
    ck_assert_double_le(json_real_value(json_object_get(first, "separation_arcsec")),
                        json_real_value(json_object_get(second, "separation_arcsec")));
    json_decref(first), json_decref(second);
    free(out), free(err);

    ck_assert_int_eq(tu_sks(&out, &err, "loci --store %s/st", tu_tmp), 0);
    ck_assert_uint_eq(tu_count_lines(out), 2);
    free(out), free(err);

    ck_assert_int_eq(tu_sks(&out, &err, "stats --store %s/st", tu_tmp), 0);
    j = json_loads(out, 0, NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "alerts")), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "rejected_by_reason"),
                                                        "dec_out_of_range")),
                     2);
    ck_assert_ptr_null(json_object_get(j, "footprint")); /* only with --tables */
    json_decref(j);
    free(out), free(err);

    /* --tables: the largest table first, every byte of the file accounted for */
    ck_assert_int_eq(tu_sks(&out, &err, "stats --store %s/st --tables", tu_tmp), 0);
    j = json_loads(out, 0, NULL);
    json_t *fp = json_object_get(j, "footprint"), *tables = json_object_get(fp, "tables"), *t;
    ck_assert_uint_gt(json_array_size(tables), 20);
    json_int_t sum = json_integer_value(json_object_get(fp, "free_bytes")) +
                     json_integer_value(json_object_get(fp, "lmdb_bytes")),
               last = INT64_MAX;
    size_t i;
    json_array_foreach(tables, i, t)
    {
        json_int_t bytes = json_integer_value(json_object_get(t, "bytes"));
        ck_assert_int_le(bytes, last);
        last = bytes, sum += bytes;
        if (!strcmp(json_string_value(json_object_get(t, "name")), "alerts"))
            ck_assert_int_eq(json_integer_value(json_object_get(t, "entries")), 3);
    }
    ck_assert_int_eq(sum, json_integer_value(json_object_get(fp, "used_bytes")));
    json_decref(j);
    free(out), free(err);
    ck_assert_int_eq(tu_sks(&out, &err, "loci --store %s/st --tables", tu_tmp), 2);
    free(out), free(err);

    ck_assert_int_eq(tu_sks(&out, &err, "rejected --store %s/st --reason dec_out_of_range", tu_tmp),
                     0);
    ck_assert_uint_eq(tu_count_lines(out), 2);
    free(out), free(err);
    free(in);
}
END_TEST

START_TEST(failures_name_the_input_and_reason)
{
    char *out, *err;
    ck_assert_int_eq(tu_sks(&out, &err, "loci --store %s/nothing", tu_tmp), 1);
    ck_assert_msg(strstr(err, "nothing") && strstr(err, "no such store"), "%s", err);
    ck_assert_uint_eq(tu_count_lines(err), 1);
    free(out), free(err);

    char *in = tu_write(tu_tmp, "s.csv", sample);
    ck_assert_int_eq(
        tu_sks(&out, &err, "ingest --store %s/st %s %s/absent.csv", tu_tmp, in, tu_tmp), 1);
    ck_assert_ptr_nonnull(strstr(err, "absent.csv"));
    ck_assert_ptr_nonnull(strstr(out, "ingested          3"));
    free(out), free(err);

    ck_assert_int_eq(tu_sks(&out, &err, "ingest --store %s/st --radius 2 %s", tu_tmp, in), 1);
    ck_assert_ptr_nonnull(strstr(err, "radius"));
    free(out), free(err);

    ck_assert_int_eq(tu_sks(&out, &err, "locus --store %s/st NOPE", tu_tmp), 1);
    ck_assert_ptr_nonnull(strstr(err, "NOPE"));
    free(out), free(err);

    ck_assert_int_eq(tu_sks(&out, &err, "cone --store %s/st abc 1 1", tu_tmp), 2);
    free(out), free(err);
    free(in);
}
END_TEST

/* 6000 sources seen 10 times each (0.1" scatter), in visit order. */
static char *write_night(void)
{
    char *path = tu_path(tu_tmp, "night.csv");
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("alert_id,ra,dec,mjd,passband,mag,magerr\n", f);
    srand(11);
    for (int epoch = 0; epoch < 10; epoch++)
        for (int src = 0; src < 6000; src++) {
            double ra = 40 + (src % 100) * 0.01 + (rand() / (double)RAND_MAX - 0.5) * 3e-5;
            double dec = -20 + (src / 100) * 0.01 + (rand() / (double)RAND_MAX - 0.5) * 3e-5;
            fprintf(f, "e%d-s%d,%.8f,%.8f,%.5f,%c,%.3f,0.05\n", epoch, src, ra, dec,
                    60000 + epoch * 0.5, "gr"[epoch % 2], 18 + (src % 7) * 0.3);
        }
    fclose(f);
    return path;
}

/* Start an ingest with --progress; its stderr comes back through *fd. */
static pid_t start_ingest(const char *store, const char *input, int *fd)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(p[1], 2);
        close(p[0]);
        if (!freopen("/dev/null", "w", stdout))
            _exit(127);
        execl(SS_BINARY, SS_BINARY, "ingest", "--quiet", "--progress", "--batch", "500", "--store",
              store, input, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    *fd = p[0];
    return pid;
}

/* Read progress lines until @p wait_ms passes; return the largest durable "ingested" count. */
static long read_progress(int fd, int wait_ms)
{
    FILE *f = fdopen(fd, "r");
    char line[512];
    long best = 0;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (fgets(line, sizeof line, f)) {
        long ingested;
        long read;
        if (sscanf(line, "committed: read %ld ingested %ld", &read, &ingested) == 2 &&
            ingested > best)
            best = ingested;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 > wait_ms)
            break;
    }
    fclose(f);
    return best;
}

static long stat_of(const char *store, const char *key)
{
    char *out, *err;
    ck_assert_int_eq(tu_sks(&out, &err, "stats --store %s", store), 0);
    json_t *j = json_loads(out, 0, NULL);
    long v = (long)json_integer_value(json_object_get(j, key));
    json_decref(j);
    free(out), free(err);
    return v;
}

static long json_long(const char *text, const char *key)
{
    json_t *j = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(j);
    long v = (long)json_integer_value(json_object_get(j, key));
    json_decref(j);
    return v;
}

/* The retention keeps the light curve of an old alert and drops its survey columns; compact
 * gives the pages back. */
START_TEST(retention_then_compact)
{
    char *csv = tu_write(tu_tmp, "r.csv",
                         "alert_id,ra,dec,mjd,passband,mag,magerr,object_id,fwhm,note\n"
                         "old,10,20,60000,g,18,0.1,OBJ,1.5,first night\n"
                         "new,10,20,60100,r,17,0.1,OBJ,1.25,second night\n");
    char *store = tu_path(tu_tmp, "st"), *copy = tu_path(tu_tmp, "copy"), *out, *err;
    ck_assert_int_eq(tu_sks(&out, &err, "ingest --quiet --store %s %s", store, csv), 0);
    free(out), free(err);
    ck_assert_int_eq(tu_sks(&out, &err, "retention --store %s", store), 0);
    ck_assert_str_eq(out, "{\"cutouts_days\":0,\"payload_days\":0}\n");
    free(out), free(err);
    ck_assert_int_eq(tu_sks(&out, &err, "retention --store %s --payload-days -1", store), 2);
    free(out), free(err);
    ck_assert_int_eq(tu_sks(&out, &err, "retention --store %s --payload-days 50", store), 0);
    ck_assert_str_eq(out, "{\"cutouts_days\":0,\"payload_days\":50}\n");
    free(out), free(err);
    for (int again = 0; again < 2; again++) { /* the second pass finds nothing more to drop */
        ck_assert_int_eq(tu_sks(&out, &err, "retention --store %s --apply --now 60110", store), 0);
        ck_assert_int_eq(json_long(out, "payloads_dropped"), again ? 0 : 1);
        free(out), free(err);
    }
    ck_assert_int_eq(tu_sks(&out, &err, "locus --store %s OBJ", store), 0);
    json_t *l = json_loads(out, 0, NULL), *alerts = json_object_get(l, "alerts");
    ck_assert_uint_eq(json_array_size(alerts), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *a = json_array_get(alerts, i), *props = json_object_get(a, "properties");
        int old = !strcmp(json_string_value(json_object_get(a, "alert_id")), "old");
        ck_assert_int_eq(json_object_get(props, "fwhm") == NULL, old);
        ck_assert(json_real_value(json_object_get(props, "ant_mag")) > 0); /* the light curve */
    }
    json_decref(l);
    free(out), free(err);
    ck_assert_int_eq(tu_sks(&out, &err, "repack --store %s", store), 0); /* CSV: small records */
    ck_assert_int_eq(json_long(out, "records_repacked"), 0);
    free(out), free(err);
    ck_assert_int_eq(tu_sks(&out, &err, "repack --store %s/absent", tu_tmp), 1);
    free(out), free(err);
    ck_assert_int_eq(tu_sks(&out, &err, "repack"), 2);
    free(out), free(err);
    ck_assert_int_eq(tu_sks(&out, &err, "compact --store %s --output %s", store, copy), 0);
    ck_assert_int_le(json_long(out, "bytes_after"), json_long(out, "bytes_before"));
    free(out), free(err);
    ck_assert_int_eq(tu_sks(&out, &err, "verify --store %s", copy), 0);
    ck_assert_int_eq(json_long(out, "alerts"), 2);
    free(out), free(err);
    ck_assert_int_eq(tu_sks(&out, &err, "compact --store %s --output %s", store, copy), 1);
    ck_assert_ptr_nonnull(strstr(err, "not an empty directory"));
    free(out), free(err);
    free(csv), free(store), free(copy);
}
END_TEST

/* Six ingests of @p input into @p store killed at random moments: each time the store opens,
 * passes verify and holds everything reported durable; then the whole input gives @p alerts
 * alerts, @p loci loci and @p stamps stamps. */
static void killed_six_times(const char *input, const char *store, long alerts, long loci,
                             long stamps)
{
    char *out, *err;
    srand((unsigned)time(NULL));
    long before = 0;
    int interrupted = 0;
    for (int round = 0; round < 6; round++) {
        int fd;
        pid_t pid = start_ingest(store, input, &fd);
        long reported = read_progress(fd, 100 + rand() % 900);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        /* the store opens, is consistent, and holds everything reported durable */
        ck_assert_int_eq(tu_sks(&out, &err, "verify --store %s", store), 0);
        free(out), free(err);
        long now = stat_of(store, "alerts");
        ck_assert_msg(now >= before + reported, "round %d: %ld stored, %ld + %ld reported", round,
                      now, before, reported);
        before = now;
        interrupted += now < alerts;
    }
    ck_assert_msg(interrupted > 0, "no kill landed before the ingest finished: nothing was tested");
    ck_assert_int_eq(tu_sks(&out, &err, "ingest --quiet --store %s %s", store, input), 0);
    free(out), free(err);
    ck_assert_int_eq(stat_of(store, "alerts"), alerts);
    ck_assert_int_eq(stat_of(store, "loci"), loci);
    ck_assert_int_eq(stat_of(store, "cutouts"), stamps);
    ck_assert_int_eq(tu_sks(&out, &err, "verify --store %s", store), 0);
    free(out), free(err);
}

START_TEST(kill_9_at_any_moment_loses_nothing_reported)
{
    char *night = write_night(), *store = tu_path(tu_tmp, "st");
    killed_six_times(night, store, 60000, 6000, 0);
    free(night), free(store);
}
END_TEST

/* The same with stamps: a transaction killed after its chunks reached stamps.dat leaves bytes
 * past the committed end, which verify does not take for a chunk and the next ingest writes
 * over. */
START_TEST(kill_9_with_stamps_loses_nothing_reported)
{
    char *night = tu_path(tu_tmp, "night.avro"), *store = tu_path(tu_tmp, "st"), *out, *err;
    ck_assert_int_eq(tu_sks(&out, &err, "simulate --quiet --sources 400 --out %s", night), 0);
    free(out), free(err);
    killed_six_times(night, store, 15817, 3824, 3 * 15817);
    free(night), free(store);
}
END_TEST

static const char jumpy[] = "alert_id,ra,dec,mjd,passband,mag,magerr\n"
                            "j1,10,20,60000,g,18,0.1\nj2,10,20,60001,g,14,0.1\n"
                            "s1,30,20,60000,g,17,0.1\ns2,30,20,60001,g,17.1,0.1\n";

START_TEST(filter_devkit_commands)
{
    char *out, *err;
    ck_assert_int_eq(tu_sks(&out, &err, "filter check %s/jump/jump.lua", SS_CONTRIB_SRC), 0);
    json_t *d = json_loads(out, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(d, "name")), "jump_lua");
    ck_assert_str_eq(json_string_value(json_object_get(d, "runtime")), "lua");
    json_decref(d);
    free(out), free(err);
    char *bad =
        tu_write(tu_tmp, "bad.lua", "DESCRIPTION = 'x'\nAUTHOR = 'y'\nfunction run(l) end\n");
    ck_assert_int_eq(tu_sks(&out, &err, "filter check %s", bad), 1);
    ck_assert_msg(strstr(err, "bad.lua") && strstr(err, "NAME"), "%s", err);
    free(out), free(err), free(bad);
    ck_assert_int_eq(tu_sks(&out, &err, "filter"), 2);
    free(out), free(err);

    char *in = tu_write(tu_tmp, "j.csv", jumpy);
    ck_assert_int_eq(tu_sks(&out, &err, "ingest --quiet --store %s/st %s", tu_tmp, in), 0);
    free(out), free(err);
    ck_assert_int_eq(tu_sks(&out, &err, "filter run --store %s/st %s/jump/jump.lua --all", tu_tmp,
                            SS_CONTRIB_SRC),
                     0);
    /* every alert as of itself (four), then the summary; j1 alone is no jump, j2 is */
    ck_assert_uint_eq(tu_count_lines(out), 5);
    char *j1 = strstr(out, "\"alert_id\":\"j1\""), *j2 = strstr(out, "\"alert_id\":\"j2\"");
    ck_assert_ptr_nonnull(j1);
    ck_assert_ptr_nonnull(j2);
    ck_assert_ptr_null(memmem(j1, (size_t)(strchr(j1, '\n') - j1), "\"jump\"", 6));
    ck_assert_ptr_nonnull(
        memmem(j2, (size_t)(strchr(j2, '\n') - j2), "\"new_tags\":[\"jump\"]", 19));
    ck_assert_ptr_nonnull(strstr(out, "\"t_99_us\""));
    free(out), free(err);
    /* one locus as of its first alert: it sees that alert only, so no jump */
    ck_assert_int_eq(tu_sks(&out, &err, "cone --store %s/st 10 20 1", tu_tmp), 0);
    json_t *l = json_loads(out, JSON_DISABLE_EOF_CHECK, NULL);
    const char *id = json_string_value(json_object_get(l, "locus_id"));
    ck_assert_ptr_nonnull(id);
    char *cmd = NULL;
    ck_assert_int_ge(asprintf(&cmd,
                              "filter run --store %s/st %s/jump/jump.lua --locus %s --as-of j1",
                              tu_tmp, SS_CONTRIB_SRC, id),
                     0);
    free(out), free(err);
    ck_assert_int_eq(tu_sks(&out, &err, "%s", cmd), 0);
    ck_assert_uint_eq(tu_count_lines(out), 2);
    ck_assert_ptr_nonnull(strstr(out, "\"new_tags\":[]"));
    free(out), free(err), free(cmd);
    json_decref(l);
    /* a dry run wrote nothing */
    ck_assert_int_eq(tu_sks(&out, &err, "tagged --store %s/st jump", tu_tmp), 0);
    ck_assert_uint_eq(tu_count_lines(out), 0);
    free(out), free(err), free(in);
}
END_TEST

/* Wait up to 5 s for the listener to write an event for @p tag into @p path. */
static int heard(const char *path, const char *tag)
{
    char want[64];
    snprintf(want, sizeof want, "\"tag\":\"%s\"", tag);
    for (int i = 0; i < 50; i++) {
        FILE *f = fopen(path, "r");
        char line[4096] = "";
        int got = f && fgets(line, sizeof line, f) && strstr(line, want);
        if (f)
            fclose(f);
        if (got)
            return 1;
        usleep(100 * 1000);
    }
    return 0;
}

START_TEST(ingest_with_filters_publishes_and_stores_tags)
{
    /* steady sources first, so the ingest runs long enough for the listener to connect (PUB/SUB
     * drops what is sent before a subscriber arrives), then the jump */
    char *rows = malloc(1 << 20);
    size_t len = (size_t)sprintf(rows, "alert_id,ra,dec,mjd,passband,mag,magerr\n");
    for (int i = 0; i < 3000; i++)
        len += (size_t)sprintf(rows + len, "q%d,%.4f,-30,60000,g,18,0.1\n", i, 100 + i * 0.01);
    sprintf(rows + len, "%s", strchr(jumpy, '\n') + 1);
    char *out, *err, *in = tu_write(tu_tmp, "j.csv", rows), *text = NULL, *listen = NULL;
    free(rows);
    ck_assert_int_ge(asprintf(&text, "[filter jump]\npath = %s/jump/jump.lua\n", SS_CONTRIB_SRC),
                     0);
    char *set = tu_write(tu_tmp, "set.ini", text), *log = tu_path(tu_tmp, "heard");
    ck_assert_int_ge(asprintf(&listen, "'%s' listen ipc://%s/t.ipc jump --count 1 > %s &",
                              SS_BINARY, tu_tmp, log),
                     0);
    ck_assert_int_eq(system(listen), 0);
    usleep(300 * 1000);
    ck_assert_int_eq(
        tu_sks(&out, &err,
               "ingest --store %s/st --filters %s --publish ipc://%s/t.ipc --batch 20 %s", tu_tmp,
               set, tu_tmp, in),
        0);
    ck_assert_ptr_nonnull(strstr(out, "tags added        1"));
    ck_assert_ptr_nonnull(strstr(out, "jump_lua"));
    free(out), free(err);
    ck_assert_msg(heard(log, "jump"), "the listener heard nothing");
    ck_assert_int_eq(tu_sks(&out, &err, "tagged --store %s/st jump", tu_tmp), 0);
    ck_assert_uint_eq(tu_count_lines(out), 1);
    ck_assert_ptr_nonnull(strstr(out, "\"filter\":\"jump_lua\""));
    free(out), free(err);
    ck_assert_int_eq(
        tu_sks(&out, &err, "ingest --store %s/st3 --filters %s/nope.ini %s", tu_tmp, tu_tmp, in),
        1);
    ck_assert_ptr_nonnull(strstr(err, "nope.ini"));
    free(out), free(err);
    free(in), free(set), free(text), free(listen), free(log);
}
END_TEST

/* `--version` and `version` print the version project(VERSION) gives (SS_PROJECT_VERSION, from
 * the build), as the headers and the library spell it, then one line per ABI. */
START_TEST(version_lines_are_the_build_and_headers_versions)
{
    char spelled[32], want[256];
    snprintf(spelled, sizeof spelled, "%d.%d.%d", SS_VERSION_MAJOR, SS_VERSION_MINOR,
             SS_VERSION_PATCH);
    ck_assert_str_eq(spelled, SS_PROJECT_VERSION);
    ck_assert_str_eq(SS_VERSION_STRING, SS_PROJECT_VERSION);
    ck_assert_str_eq(ss_version(NULL, NULL, NULL), SS_PROJECT_VERSION);
    ck_assert_int_eq(SS_VERSION_NUMBER,
                     SS_VERSION_ENCODE(SS_VERSION_MAJOR, SS_VERSION_MINOR, SS_VERSION_PATCH));
    snprintf(
        want, sizeof want,
        "skysieve %s\nfilter ABI %d.%d\ndecoder ABI %d.%d\nruntime ABI %d.%d\noutput ABI %d.%d\n",
        SS_PROJECT_VERSION, SS_FILTER_ABI_MAJOR, SS_FILTER_ABI_MINOR, SS_DECODER_ABI_MAJOR,
        SS_DECODER_ABI_MINOR, SS_RUNTIME_ABI_MAJOR, SS_RUNTIME_ABI_MINOR, SS_OUTPUT_ABI_MAJOR,
        SS_OUTPUT_ABI_MINOR);
    const char *spellings[] = {"--version", "version"};
    for (size_t i = 0; i < 2; i++) {
        char *out, *err;
        ck_assert_int_eq(tu_sks(&out, &err, "%s", spellings[i]), 0);
        ck_assert_str_eq(out, want);
        free(out), free(err);
    }
}
END_TEST

/* What the binary checks before any command: every compiled-in plugin is of this major version,
 * and one of another is refused by name. */
START_TEST(plugins_of_another_major_abi_are_refused)
{
    ss_err e = {0};
    size_t n;
    const ss_decoder_ops *const *dec = ss_decoders(&n);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(ss_decoder_check(dec[i], &e), 0);
    ss_decoder_ops old_dec = *dec[0];
    old_dec.abi = SS_DECODER_ABI_MAJOR - 1;
    ck_assert_int_eq(ss_decoder_check(&old_dec, &e), SS_EINVAL);
    ck_assert_msg(strstr(e.msg, old_dec.name) && strstr(e.msg, "decoder ABI"), "%s", e.msg);

    const ss_runtime_ops *const *rt = ss_runtimes(&n);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(ss_runtime_check(rt[i], &e), 0);
    ss_runtime_ops new_rt = *rt[0];
    new_rt.abi = SS_RUNTIME_ABI_MAJOR + 1;
    ck_assert_int_eq(ss_runtime_check(&new_rt, &e), SS_EINVAL);
    ck_assert_msg(strstr(e.msg, new_rt.name) && strstr(e.msg, "runtime ABI"), "%s", e.msg);

    const ss_output_ops *const *out = ss_outputs(&n);
    ck_assert_uint_gt(n, 0);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(ss_output_check(out[i], &e), 0);
    ss_output_ops old_out = *out[0];
    old_out.abi = 1; /* before publish() took a key */
    ck_assert_int_eq(ss_output_check(&old_out, &e), SS_EINVAL);
    ck_assert_msg(strstr(e.msg, old_out.name) && strstr(e.msg, "output ABI 1"), "%s", e.msg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("contract");
    tcase_add_checked_fixture(tc, tu_tmp_setup, tu_tmp_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, help_everywhere);
    tcase_add_test(tc, ingest_summary_and_queries);
    tcase_add_test(tc, failures_name_the_input_and_reason);
    tcase_add_test(tc, kill_9_at_any_moment_loses_nothing_reported);
    tcase_add_test(tc, kill_9_with_stamps_loses_nothing_reported);
    tcase_add_test(tc, retention_then_compact);
    tcase_add_test(tc, filter_devkit_commands);
    tcase_add_test(tc, ingest_with_filters_publishes_and_stores_tags);
    tcase_add_test(tc, version_lines_are_the_build_and_headers_versions);
    tcase_add_test(tc, plugins_of_another_major_abi_are_refused);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
