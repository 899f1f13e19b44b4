/* The filter host: loading and validation, run order, enforcement, failures, outputs, streams. */
#include "testutil.h"

#include "filters.h"
#include "ingest.h"
#include "query.h"

#include <jansson.h>
#include <nanomsg/nn.h>
#include <nanomsg/pubsub.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Three loci; the first gets a 4-magnitude jump in g. */
static const char night[] = "alert_id,ra,dec,mjd,passband,mag,magerr\n"
                            "a1,10,20,60000,g,18,0.1\n"
                            "b1,30,20,60000,g,17,0.1\n"
                            "c1,50,20,60000,r,16,0.1\n"
                            "a2,10,20,60001,g,14,0.1\n"
                            "b2,30,20,60001,g,17.5,0.1\n";

static char *tf(const char *kind)
{
    char *p = NULL;
    ck_assert_int_ge(asprintf(&p, "%s/tf_%s.so", SS_TEST_FILTERS_DIR, kind), 0);
    return p;
}

/* Write a set: "[set]" extras then one section per kind, in order. */
static char *write_set(const char *set_extra, const char *const *kinds, size_t n)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    fprintf(f, "[set]\n%s\n", set_extra ? set_extra : "");
    for (size_t i = 0; i < n; i++) {
        char *p = tf(kinds[i]);
        fprintf(f, "[filter %s]\npath = %s\n", kinds[i], p);
        free(p);
    }
    fclose(f);
    char *path = tu_write(tu_tmp, "set.ini", text);
    free(text);
    return path;
}

static ss_filter_set *load(const char *path, int expect_ok, const char *expect_msg)
{
    ss_filter_set *fs = NULL;
    ss_err err = {0};
    int rc = ss_filter_set_load(path, &fs, &err);
    if (expect_ok)
        ck_assert_msg(rc == 0, "%s", err.msg);
    else
        ck_assert_msg(rc != 0 && strstr(err.msg, expect_msg), "rc %d, message: %s", rc, err.msg);
    return fs;
}

static ss_store *ingest(ss_filter_set *fs, const char *rows, const char *publish)
{
    static int n;
    char name[32];
    snprintf(name, sizeof name, "st%d", n++); /* a fresh store: re-ingesting would be duplicates */
    char *dir = tu_path(tu_tmp, name);
    ss_store_options so = {.create = 1};
    ss_store *s = NULL;
    ss_err err = {0};
    ck_assert_int_eq(ss_store_open(dir, &so, &s, &err), 0);
    char *in = tu_write(tu_tmp, "night.csv", rows);
    ss_ingest_options o = {.filters = fs, .batch_size = 2};
    ss_ingest *ing = ss_ingest_new(s, &o);
    if (publish)
        ck_assert_msg(ss_ingest_publish(ing, publish, &err) == 0, "%s", err.msg);
    ck_assert_msg(ss_ingest_path(ing, in, &err) == 0, "%s", err.msg);
    ck_assert_msg(ss_ingest_finish(ing, NULL, &err) == 0, "%s", err.msg);
    ss_ingest_free(ing);
    free(dir), free(in);
    return s;
}

/* The stats object of filter @p name (borrowed from @p all). */
static json_t *stats_of(json_t *all, const char *name)
{
    size_t i;
    json_t *f;
    json_array_foreach(
        all, i, f) if (!strcmp(json_string_value(json_object_get(f, "filter")), name)) return f;
    ck_abort_msg("no stats for %s", name);
    return NULL;
}

static long stat_int(ss_filter_set *fs, const char *name, const char *key)
{
    json_t *all = ss_filter_set_stats_json(fs);
    long v = (long)json_integer_value(json_object_get(stats_of(all, name), key));
    json_decref(all);
    return v;
}

static json_t *locus_of(ss_store *s, const char *alert_ra_locus)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ss_err err = {0};
    double ra = atof(alert_ra_locus);
    ck_assert_int_eq(ss_query_cone(s, ra, 20, 1, f, &err), 0);
    fclose(f);
    json_t *sum = json_loads(buf, JSON_DISABLE_EOF_CHECK, NULL);
    free(buf);
    ck_assert_ptr_nonnull(sum);
    json_t *o = NULL;
    ck_assert_int_eq(
        ss_query_locus(s, json_string_value(json_object_get(sum, "locus_id")), NULL, &o, &err), 0);
    json_decref(sum);
    return o;
}

#define TF_STR_(x) #x
#define TF_STR(x)  TF_STR_(x)

START_TEST(broken_filters_are_refused_with_the_reason)
{
    const struct {
        const char *kind, *msg;
    } cases[] = {
        {"no_entry", "no skysieve_filter() exported"},
        {"bad_magic", "damaged descriptor (magic"},
        {"abi_2", "built against filter ABI 2.0"},
        {"abi_minor_newer", "newer than this skysieve's 1." TF_STR(SS_FILTER_ABI_MINOR)},
        {"small", "damaged descriptor (size"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *set = write_set(NULL, &cases[i].kind, 1);
        load(set, 0, cases[i].msg);
        free(set);
    }
    char *set = tu_write(tu_tmp, "x.ini", "[filter x]\npath = missing.so\n");
    load(set, 0, "missing.so");
    free(set);
    set = tu_write(tu_tmp, "y.ini", "[filter y]\npath = notes.txt\n");
    load(set, 0, "not a filter file");
    free(set);
    set = tu_write(tu_tmp, "z.ini", "[sett]\nfoo = 1\n");
    load(set, 0, "unknown section");
    free(set);
}
END_TEST

START_TEST(tags_order_the_set_and_bad_graphs_are_refused)
{
    const char *order[] = {"consumer", "producer"};
    char *set = write_set(NULL, order, 2);
    ss_filter_set *fs = load(set, 1, NULL);
    ck_assert_str_eq(ss_filter_set_descriptor(fs, 0)->name, "tf_producer");
    ck_assert_str_eq(ss_filter_set_descriptor(fs, 1)->name, "tf_consumer");
    ss_store *s = ingest(fs, night, NULL);
    ck_assert_int_eq(stat_int(fs, "tf_consumer", "errors"), 0);
    ck_assert_int_eq(stat_int(fs, "tf_consumer", "runs"), 5);
    json_t *o = locus_of(s, "10");
    ck_assert_uint_eq(json_array_size(json_object_get(o, "tags")), 2);
    json_decref(o);
    ss_store_close(s);
    ss_filter_set_free(fs);
    free(set);

    const char *cycle[] = {"cycle_a", "cycle_b"};
    set = write_set(NULL, cycle, 2);
    load(set, 0, "form a cycle");
    free(set);
    const char *alone[] = {"consumer"};
    set = write_set(NULL, alone, 1);
    load(set, 0, "requires tag 'tf_a', which no other filter");
    free(set);
    char *text = NULL;
    ck_assert_int_ge(asprintf(&text,
                              "[filter one]\npath = %s/tf_empty.so\n[filter two]\npath = "
                              "%s/tf_empty.so\n",
                              SS_TEST_FILTERS_DIR, SS_TEST_FILTERS_DIR),
                     0);
    set = tu_write(tu_tmp, "twice.ini", text);
    load(set, 0, "both named 'tf_empty'");
    free(set), free(text);
}
END_TEST

START_TEST(declared_outputs_are_stored)
{
    const char *kinds[] = {"good"};
    char *set = write_set(NULL, kinds, 1);
    ss_filter_set *fs = load(set, 1, NULL);
    ss_store *s = ingest(fs, night, NULL);
    json_t *o = locus_of(s, "30");
    json_t *p = json_object_get(o, "properties");
    ck_assert_double_eq(json_real_value(json_object_get(p, "tf_score")), 0.5);
    ck_assert_str_eq(json_string_value(json_object_get(p, "tf_label")), "labelled");
    json_t *alerts = json_object_get(o, "alerts");
    for (size_t i = 0; i < json_array_size(alerts); i++) /* each alert triggered one run */
        ck_assert(json_is_true(
            json_object_get(json_object_get(json_array_get(alerts, i), "properties"), "tf_flag")));
    json_t *tag = json_array_get(json_object_get(o, "tags"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(tag, "tag")), "tf_tag");
    ck_assert_str_eq(json_string_value(json_object_get(tag, "filter")), "tf_good");
    ck_assert_double_eq(json_real_value(json_object_get(tag, "mjd")), 60000);
    json_decref(o);
    /* tagged: every locus, and --since keeps those first tagged from then on */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ss_err err = {0};
    ck_assert_int_eq(ss_query_tagged(s, "tf_tag", 0, f, &err), 0);
    fflush(f);
    ck_assert_uint_eq(tu_count_lines(buf), 3);
    fclose(f);
    free(buf);
    f = open_memstream(&buf, &len);
    ck_assert_int_eq(ss_query_tagged(s, "tf_tag", 60000.5, f, &err), 0);
    fclose(f);
    ck_assert_uint_eq(tu_count_lines(buf), 0);
    free(buf);
    ss_store_close(s);
    ss_filter_set_free(fs);
    free(set);
}
END_TEST

/* A failing run keeps nothing, not even what it wrote before failing. */
START_TEST(failed_runs_keep_nothing)
{
    const char *kinds[] = {"undeclared", "wrong_type", "fails"};
    char *set = write_set(NULL, kinds, 3);
    ss_filter_set *fs = load(set, 1, NULL);
    ss_store *s = ingest(fs, night, NULL);
    for (size_t i = 0; i < 3; i++)
        ck_assert_int_eq(stat_int(fs, ss_filter_set_descriptor(fs, i)->name, "errors"), 5);
    json_t *all = ss_filter_set_stats_json(fs);
    ck_assert_ptr_nonnull(
        strstr(json_string_value(json_object_get(stats_of(all, "tf_undeclared"), "last_error")),
               "'not_declared' is not declared"));
    ck_assert_ptr_nonnull(
        strstr(json_string_value(json_object_get(stats_of(all, "tf_wrong_type"), "last_error")),
               "declared bool, given int"));
    ck_assert_ptr_nonnull(strstr(
        json_string_value(json_object_get(stats_of(all, "tf_fails"), "last_error")), "deliberate"));
    json_decref(all);
    json_t *o = locus_of(s, "10");
    ck_assert_ptr_null(json_object_get(json_object_get(o, "properties"), "tf_score"));
    ck_assert_uint_eq(json_array_size(json_object_get(o, "tags")), 0);
    json_decref(o);
    ss_store_close(s);
    ss_filter_set_free(fs);
    free(set);
}
END_TEST

START_TEST(repeated_failures_disable_one_filter_only)
{
    const char *kinds[] = {"fails", "good"};
    char *set = write_set("max_consecutive_failures = 2", kinds, 2);
    ss_filter_set *fs = load(set, 1, NULL);
    ss_store *s = ingest(fs, night, NULL);
    ck_assert_int_eq(stat_int(fs, "tf_fails", "errors"), 2);
    json_t *all = ss_filter_set_stats_json(fs);
    ck_assert(json_is_true(json_object_get(stats_of(all, "tf_fails"), "disabled")));
    ck_assert(json_is_false(json_object_get(stats_of(all, "tf_good"), "disabled")));
    json_decref(all);
    ck_assert_int_eq(stat_int(fs, "tf_good", "runs"), 5);
    ss_store_close(s);
    ss_filter_set_free(fs);
    free(set);
}
END_TEST

START_TEST(halts_and_missing_requirements)
{
    const char *kinds[] = {"halts", "good", "needs_prop"};
    char *set = write_set(NULL, kinds, 3);
    ss_filter_set *fs = load(set, 1, NULL);
    ss_store *s = ingest(fs, night, NULL);
    ck_assert_int_eq(stat_int(fs, "tf_halts", "halts"), 5);
    ck_assert_int_eq(stat_int(fs, "tf_good", "runs"), 0);
    ss_store_close(s);
    ss_filter_set_free(fs);
    free(set);
    const char *needs[] = {"needs_prop", "empty"};
    set = write_set(NULL, needs, 2);
    fs = load(set, 1, NULL);
    s = ingest(fs, night, NULL);
    ck_assert_int_eq(stat_int(fs, "tf_needs_prop", "skipped"), 5);
    ck_assert_int_eq(stat_int(fs, "tf_needs_prop", "runs"), 0);
    ck_assert_int_eq(stat_int(fs, "tf_needs_prop", "errors"), 0);
    ck_assert_int_eq(stat_int(fs, "tf_empty", "runs"), 5);
    ss_store_close(s);
    ss_filter_set_free(fs);
    free(set);
}
END_TEST

START_TEST(tags_are_published_after_commit)
{
    const char *kinds[] = {"good"};
    char *set = write_set(NULL, kinds, 1);
    ss_filter_set *fs = load(set, 1, NULL);
    char *addr = NULL;
    ck_assert_int_ge(asprintf(&addr, "ipc://%s/tags.ipc", tu_tmp), 0);
    int sub = nn_socket(AF_SP, NN_SUB);
    ck_assert_int_ge(sub, 0);
    ck_assert_int_ge(nn_setsockopt(sub, NN_SUB, NN_SUB_SUBSCRIBE, "tf_tag", 7), 0);
    int timeout = 5000;
    ck_assert_int_ge(nn_setsockopt(sub, NN_SOL_SOCKET, NN_RCVTIMEO, &timeout, sizeof timeout), 0);
    /* the publisher binds when the ingest starts; connect first, nanomsg reconnects */
    ck_assert_int_ge(nn_connect(sub, addr), 0);
    ss_store *s = NULL;
    char *dir = tu_path(tu_tmp, "st");
    ss_store_options so = {.create = 1};
    ss_err err = {0};
    ck_assert_int_eq(ss_store_open(dir, &so, &s, &err), 0);
    ss_ingest_options o = {.filters = fs};
    ss_ingest *ing = ss_ingest_new(s, &o);
    ck_assert_int_eq(ss_ingest_publish(ing, addr, &err), 0);
    usleep(300 * 1000); /* let the subscription reach the publisher */
    char *in = tu_write(tu_tmp, "night.csv", night);
    ck_assert_int_eq(ss_ingest_path(ing, in, &err), 0);
    ck_assert_int_eq(ss_ingest_finish(ing, NULL, &err), 0);
    char *msg = NULL;
    int len = nn_recv(sub, &msg, NN_MSG, 0);
    ck_assert_msg(len > 0, "no event received: %s", nn_strerror(nn_errno()));
    ck_assert_str_eq(msg, "tf_tag"); /* the topic, then a NUL, then the event */
    json_t *ev = json_loadb(msg + 7, (size_t)len - 7, 0, NULL);
    ck_assert_ptr_nonnull(ev);
    ck_assert_str_eq(json_string_value(json_object_get(ev, "filter")), "tf_good");
    ck_assert_ptr_nonnull(json_object_get(json_object_get(ev, "locus"), "locus_id"));
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(ev, "alert"), "alert_id")),
                     "a1");
    json_decref(ev);
    nn_freemsg(msg);
    nn_close(sub);
    ss_ingest_free(ing);
    ss_store_close(s);
    ss_filter_set_free(fs);
    free(set), free(addr), free(dir), free(in);
}
END_TEST

START_TEST(dry_runs_write_nothing)
{
    ss_store *s = ingest(NULL, night, NULL);
    char *good = tf("good");
    ss_filter_set *fs = NULL;
    ss_err err = {0};
    ck_assert_int_eq(ss_filter_set_single(good, NULL, 0, &fs, &err), 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_int_eq(ss_filter_set_dry_run(fs, s, &(ss_filter_dry_options){0}, f, &err), 0);
    fclose(f);
    ck_assert_uint_eq(tu_count_lines(buf), 3);
    json_t *line = json_loads(buf, JSON_DISABLE_EOF_CHECK, NULL);
    ck_assert_double_eq(
        json_real_value(json_object_get(json_object_get(line, "new_locus_properties"), "tf_score")),
        0.5);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(line, "new_tags"), 0)),
                     "tf_tag");
    json_decref(line);
    free(buf);
    json_t *o = locus_of(s, "10");
    ck_assert_ptr_null(json_object_get(json_object_get(o, "properties"), "tf_score"));
    ck_assert_uint_eq(json_array_size(json_object_get(o, "tags")), 0);
    json_decref(o);
    ck_assert_int_eq(ss_filter_set_dry_run(fs, s,
                                           &(ss_filter_dry_options){"SKS2023aaaaaaaaaaaa", NULL, 0},
                                           stdout, &err),
                     SS_ENOTFOUND);
    ss_store_close(s);
    ss_filter_set_free(fs);
    free(good);
}
END_TEST

START_TEST(contributed_jump_and_setup_data)
{
    char *text = NULL;
    ck_assert_int_ge(asprintf(&text,
                              "[filter jump]\npath = %s/jump.so\n[filter lcstats]\npath = "
                              "%s/lcstats.so\n",
                              SS_CONTRIB_DIR, SS_CONTRIB_DIR),
                     0);
    char *set = tu_write(tu_tmp, "contrib.ini", text);
    ss_filter_set *fs = load(set, 1, NULL);
    ss_store *s = ingest(fs, night, NULL);
    json_t *o = locus_of(s, "10");
    json_t *p = json_object_get(o, "properties");
    ck_assert_double_eq_tol(json_real_value(json_object_get(p, "jump_magnitude")), 4.0, 1e-9);
    ck_assert_double_eq_tol(json_real_value(json_object_get(p, "lc_g_amplitude")), 4.0, 1e-9);
    ck_assert_double_eq_tol(json_real_value(json_object_get(p, "lc_g_rate")), -4.0, 1e-9);
    ck_assert_uint_eq(json_array_size(json_object_get(o, "tags")), 1);
    json_decref(o);
    o = locus_of(s, "30"); /* 0.5 mag: below the threshold */
    ck_assert_uint_eq(json_array_size(json_object_get(o, "tags")), 0);
    json_decref(o);
    ss_store_close(s);
    ss_filter_set_free(fs);
    free(set), free(text);
    ck_assert_int_ge(asprintf(&text, "[filter jump]\npath = %s/jump.so\nsetup.threshold = abc\n",
                              SS_CONTRIB_DIR),
                     0);
    set = tu_write(tu_tmp, "bad.ini", text);
    load(set, 0, "setup failed");
    free(set), free(text);
}
END_TEST

/* The tutorial's filter in C and in Lua: the same properties and tags on every locus. */
START_TEST(jump_in_c_and_lua_agree)
{
    srand(5);
    size_t cap = 1 << 20, len = 0;
    char *rows = malloc(cap);
    len += (size_t)snprintf(rows, cap, "alert_id,ra,dec,mjd,passband,mag,magerr\n");
    for (int src = 0; src < 60; src++)
        for (int e = 0; e < 6; e++) {
            double mag = 18 + (rand() % 100) / 20.0; /* jumps of 0 to 5 mag */
            len += (size_t)snprintf(rows + len, cap - len, "s%d-%d,%d,20,%d,%c,%.2f,0.1\n", src, e,
                                    src, 60000 + e, "gr"[e % 2], mag);
        }
    const char *const runtimes[] = {"jump/jump.c", "jump/jump.lua"};
    json_t *seen[2];
    for (int k = 0; k < 2; k++) {
        char *text = NULL;
        if (k == 0)
            ck_assert_int_ge(asprintf(&text, "[filter j]\npath = %s/jump.so\n", SS_CONTRIB_DIR), 0);
        else
            ck_assert_int_ge(
                asprintf(&text, "[filter j]\npath = %s/%s\n", SS_CONTRIB_SRC, runtimes[1]), 0);
        char *set = tu_write(tu_tmp, "j.ini", text);
        ss_filter_set *fs = load(set, 1, NULL);
        ss_store *s = ingest(fs, rows, NULL);
        ck_assert_int_eq(stat_int(fs, ss_filter_set_descriptor(fs, 0)->name, "errors"), 0);
        seen[k] = json_object();
        for (int src = 0; src < 60; src++) {
            char ra[16];
            snprintf(ra, sizeof ra, "%d", src);
            json_t *o = locus_of(s, ra);
            json_t *summary =
                json_pack("{s:O?, s:I}", "jump",
                          json_object_get(json_object_get(o, "properties"), "jump_magnitude"),
                          "tags", (json_int_t)json_array_size(json_object_get(o, "tags")));
            json_object_set_new(seen[k], ra, summary);
            json_decref(o);
        }
        ss_store_close(s);
        ss_filter_set_free(fs);
        free(set), free(text);
    }
    ck_assert(json_equal(seen[0], seen[1]));
    size_t tagged = 0;
    const char *key;
    json_t *v;
    json_object_foreach(seen[0], key, v) tagged += json_integer_value(json_object_get(v, "tags"));
    ck_assert_msg(tagged > 0 && tagged < 60, "%zu of 60 tagged: the sample must have both", tagged);
    json_decref(seen[0]), json_decref(seen[1]);
    free(rows);
}
END_TEST

/* A runaway or raising Lua filter fails alone, within the limits its set gives it. */
START_TEST(lua_failures_stay_with_their_filter)
{
    char *loop = tu_write(tu_tmp, "loop.lua",
                          "NAME = 'loop'\nDESCRIPTION = 'never ends'\nAUTHOR = 't'\n"
                          "function run(locus) while true do end end\n");
    char *hog = tu_write(tu_tmp, "hog.lua",
                         "NAME = 'hog'\nDESCRIPTION = 'eats memory'\nAUTHOR = 't'\n"
                         "function run(locus) local s, t = string.rep('x', 1000000), {}\n"
                         "  for i = 1, 100 do t[i] = s .. i end end\n");
    char *raises = tu_write(tu_tmp, "raises.lua",
                            "NAME = 'raises'\nDESCRIPTION = 'raises'\nAUTHOR = 't'\n"
                            "function run(locus) error('no luck') end\n");
    char *good = tf("good"), *text = NULL;
    ck_assert_int_ge(asprintf(&text,
                              "[set]\ninstructions = 200000\nmemory = 8M\n"
                              "max_consecutive_failures = 100\n"
                              "[filter loop]\npath = %s\n[filter hog]\npath = %s\n"
                              "[filter raises]\npath = %s\n[filter good]\npath = %s\n",
                              loop, hog, raises, good),
                     0);
    char *set = tu_write(tu_tmp, "lua.ini", text);
    ss_filter_set *fs = load(set, 1, NULL);
    ss_store *s = ingest(fs, night, NULL);
    ck_assert_int_eq(stat_int(fs, "loop", "errors"), 5);
    ck_assert_int_eq(stat_int(fs, "hog", "errors"), 5);
    ck_assert_int_eq(stat_int(fs, "raises", "errors"), 5);
    ck_assert_int_eq(stat_int(fs, "tf_good", "runs"), 5);
    json_t *all = ss_filter_set_stats_json(fs);
    const char *why = json_string_value(json_object_get(stats_of(all, "loop"), "last_error"));
    ck_assert_msg(strstr(why, "instruction budget of 200000"), "%s", why);
    why = json_string_value(json_object_get(stats_of(all, "hog"), "last_error"));
    ck_assert_msg(strstr(why, "memory limit"), "%s", why);
    why = json_string_value(json_object_get(stats_of(all, "raises"), "last_error"));
    ck_assert_msg(strstr(why, "raises.lua:4: no luck"), "%s", why);
    json_decref(all);
    json_t *o = locus_of(s, "10");
    ck_assert_uint_eq(json_array_size(json_object_get(o, "tags")), 1); /* the good one's */
    json_decref(o);
    ss_store_close(s);
    ss_filter_set_free(fs);
    free(loop), free(hog), free(raises), free(good), free(text), free(set);
}
END_TEST

/* Lua filters whose time goes where the instruction budget cannot see it (library calls in C),
 * under a budget too large to matter: the wall-clock limit stops each, charged to the filter, in
 * ingest, replay and `filter run` (default limit); bad limit values are refused. */
START_TEST(time_limits_stop_lua_bombs_in_every_mode)
{
    static const char *const bombs[][3] = {
        {"spin", "while true do end", "spin.lua:4: time limit of 100 ms exceeded"},
        {"reps", "while true do local s = string.rep('x', 1 << 20) end", "time limit of 100 ms"},
        {"pattern", "string.find(string.rep('a', 5000), string.rep('a*', 200) .. 'b')",
         "string.find: pattern too costly"},
    };
    char *paths[3], *good = tf("good"), *text = NULL;
    for (int i = 0; i < 3; i++) {
        char *name = NULL, *src = NULL;
        ck_assert_int_ge(asprintf(&name, "%s.lua", bombs[i][0]), 0);
        ck_assert_int_ge(asprintf(&src,
                                  "NAME = '%s'\nDESCRIPTION = 'a bomb'\nAUTHOR = 't'\n"
                                  "function run(locus) %s end\n",
                                  bombs[i][0], bombs[i][1]),
                         0);
        paths[i] = tu_write(tu_tmp, name, src);
        free(name), free(src);
    }
    ck_assert_int_ge(asprintf(&text,
                              "[set]\ninstructions = 100G\nrun_time_limit_ms = 100\n"
                              "max_consecutive_failures = 100\n[filter spin]\npath = %s\n"
                              "[filter reps]\npath = %s\n[filter pattern]\npath = %s\n"
                              "[filter good]\npath = %s\n",
                              paths[0], paths[1], paths[2], good),
                     0);
    char *set = tu_write(tu_tmp, "bombs.ini", text);
    ss_filter_set *fs = load(set, 1, NULL);
    ss_store *s = ingest(fs, night, NULL);
    json_t *all = ss_filter_set_stats_json(fs);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(stat_int(fs, bombs[i][0], "errors"), 5);
        const char *why =
            json_string_value(json_object_get(stats_of(all, bombs[i][0]), "last_error"));
        ck_assert_msg(why && strstr(why, bombs[i][2]), "%s: %s", bombs[i][0], why);
    }
    ck_assert_int_eq(stat_int(fs, "tf_good", "runs"), 5);
    json_decref(all);
    ss_store_close(s);
    ss_filter_set_free(fs);

    /* replay: the report counts each bomb's errors, with its message */
    char *out = NULL, *err = NULL, *csv = tu_write(tu_tmp, "bombs.csv", night);
    int rc = tu_sks(&out, &err, "replay --filters %s --report - %s", set, csv);
    ck_assert_msg(rc == 0, "replay: %d %s", rc, err);
    for (int i = 0; i < 3; i++)
        ck_assert_msg(strstr(out, bombs[i][2]), "replay report lacks '%s': %s", bombs[i][2], out);
    free(out), free(err);

    /* filter run, with the default limit of 1000 ms: a run ends, with the filter's error */
    char *store = tu_path(tu_tmp, "st0");
    for (int i = 1; i < 3; i++) {
        rc = tu_sks(&out, &err, "filter run --store %s %s --all", store, paths[i]);
        const char *expect = i == 1 ? "time limit of 1000 ms exceeded" : bombs[i][2];
        ck_assert_msg(strstr(out, expect) || (err && strstr(err, expect)),
                      "filter run %s (%d) lacks '%s': %s / %s", bombs[i][0], rc, expect, out, err);
        free(out), free(err);
    }
    free(store);

    static const char *const bad[] = {"run_time_limit_ms = 0", "setup_time_limit_ms = 3600001",
                                      "run_time_limit_ms = soon"};
    for (int i = 0; i < 3; i++) {
        free(text);
        ck_assert_int_ge(asprintf(&text, "[set]\n%s\n[filter good]\npath = %s\n", bad[i], good), 0);
        free(set);
        set = tu_write(tu_tmp, "bad.ini", text);
        ck_assert_ptr_null(load(set, 0, bad[i]));
    }
    /* a setup that never ends fails the set's load, naming the filter */
    char *slow = tu_write(tu_tmp, "slow.lua",
                          "NAME = 'slow'\nDESCRIPTION = 'slow setup'\nAUTHOR = 't'\n"
                          "function setup(data) while true do end end\nfunction run(locus) end\n");
    free(text);
    ck_assert_int_ge(asprintf(&text,
                              "[set]\ninstructions = 100G\n[filter slow]\npath = %s\n"
                              "setup_time_limit_ms = 100\n",
                              slow),
                     0);
    free(set);
    set = tu_write(tu_tmp, "slow.ini", text);
    ck_assert_ptr_null(load(set, 0, "slow.lua:4: time limit of 100 ms exceeded"));
    for (int i = 0; i < 3; i++)
        free(paths[i]);
    free(good), free(text), free(set), free(csv), free(slow);
}
END_TEST

/* One dry run's line for the probe filter (tests/filters/asof_probe.lua): the new alert
 * properties it wrote, owned by the caller. */
static json_t *probe_run(const char *store, const char *locus, const char *as_of)
{
    char *out = NULL, *err = NULL;
    int rc = tu_sks(&out, &err,
                    "filter run --store %s " SS_SOURCE_DIR "/tests/filters/asof_probe.lua "
                    "--locus %s --as-of %s",
                    store, locus, as_of);
    ck_assert_msg(rc == 0, "%s", err);
    json_t *line = json_loads(out, JSON_DISABLE_EOF_CHECK, NULL);
    json_t *props = json_incref(json_object_get(line, "new_alert_properties"));
    ck_assert_str_eq(json_string_value(json_object_get(line, "alert_id")), as_of);
    json_decref(line);
    free(out), free(err);
    return props;
}

static json_int_t int_of(json_t *o, const char *name)
{
    ck_assert_msg(json_is_number(json_object_get(o, name)), "no %s", name);
    return (json_int_t)json_number_value(json_object_get(o, name));
}

/* Real ZTF alerts: two alerts of ZTF20aajcdad, stored one after the other. As of the first, a
 * filter sees its candidate and its prv_candidates (its past), not the second alert; as of the
 * second, everything. */
START_TEST(real_ztf_alerts_as_of_each)
{
    char *dir = tu_data_path("a filter's view of real ZTF alerts", "ztf/kowalski-20200202-v3.3");
    if (!dir)
        return;
    char *store = tu_path(tu_tmp, "st"), *out = NULL;
    ck_assert_int_eq(tu_sks(&out, NULL,
                            "ingest --quiet --store %s %s/1127495406315015005.avro "
                            "%s/1127536316315015004.avro",
                            store, dir, dir),
                     0);
    free(out);
    ck_assert_int_eq(tu_sks(&out, NULL, "locus --store %s ZTF20aajcdad", store), 0);
    json_t *l = json_loads(out, 0, NULL);
    char *locus = strdup(json_string_value(json_object_get(l, "locus_id")));
    size_t all = json_array_size(json_object_get(l, "alerts")), first_packet = 0;
    double first_mjd = 0, second_mjd = 0;
    json_t *a;
    size_t i;
    json_array_foreach(json_object_get(l, "alerts"), i, a)
    {
        const char *id = json_string_value(json_object_get(a, "alert_id"));
        double mjd = json_number_value(json_object_get(a, "mjd"));
        first_mjd = !strcmp(id, "1127495406315015005") ? mjd : first_mjd;
        second_mjd = !strcmp(id, "1127536316315015004") ? mjd : second_mjd;
        first_packet += mjd <= 58881.4955; /* the first alert and its history */
    }
    ck_assert(first_mjd > 0 && second_mjd > first_mjd);
    json_t *p = probe_run(store, locus, "1127495406315015005");
    ck_assert_double_eq(json_number_value(json_object_get(p, "probe_newest_mjd")), first_mjd);
    ck_assert_int_gt(int_of(p, "probe_seen"), 1); /* the prv_candidates are seen */
    ck_assert_int_eq(int_of(p, "probe_seen"), (json_int_t)first_packet);
    ck_assert_int_lt(int_of(p, "probe_seen"), (json_int_t)all); /* not the second alert */
    json_decref(p);
    p = probe_run(store, locus, "1127536316315015004");
    ck_assert_double_eq(json_number_value(json_object_get(p, "probe_newest_mjd")), second_mjd);
    ck_assert_int_eq(int_of(p, "probe_seen"), (json_int_t)all);
    /* and the locus as that first run saw it */
    free(out);
    ck_assert_int_eq(
        tu_sks(&out, NULL, "locus --store %s %s --as-of 1127495406315015005", store, locus), 0);
    json_t *then = json_loads(out, 0, NULL);
    ck_assert_uint_eq(json_array_size(json_object_get(then, "alerts")), first_packet);
    ck_assert_double_eq(json_number_value(json_object_get(json_object_get(then, "properties"),
                                                          "newest_alert_observation_time")),
                        first_mjd);
    json_decref(then), json_decref(p), json_decref(l);
    free(out), free(locus), free(store), free(dir);
}
END_TEST

/* A Lua filter NAME declaring locus properties @p lprops and alert properties @p aprops (Lua
 * table bodies), written to tu_tmp/NAME.lua. */
static void write_lua(const char *name, const char *version, const char *lprops, const char *aprops)
{
    char *text = NULL, file[64];
    ck_assert_int_ge(asprintf(&text,
                              "NAME = \"%s\"\nVERSION = \"%s\"\nDESCRIPTION = \"writes\"\n"
                              "AUTHOR = \"tests\"\nOUTPUT_LOCUS_PROPERTIES = {%s}\n"
                              "OUTPUT_ALERT_PROPERTIES = {%s}\nfunction run(locus) end\n",
                              name, version, lprops, aprops),
                     0);
    snprintf(file, sizeof file, "%s.lua", name);
    free(tu_write(tu_tmp, file, text));
    free(text);
}

static int collect_writer(void *ctx, const ss_filter_writer *w)
{
    FILE *f = ctx;
    fprintf(f, "%c %s %s %s\n", w->kind, w->property, w->filter, w->version);
    return 0;
}

static int stop_at_first(void *ctx, const ss_filter_writer *w)
{
    (void)w;
    ++*(int *)ctx;
    return 7;
}

static void record(ss_store *s, const char *ini)
{
    char *path = tu_write(tu_tmp, "writers.ini", ini);
    ss_filter_set *fs = load(path, 1, NULL);
    ss_store_txn *txn = NULL;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &txn), 0);
    ck_assert_int_eq(ss_filter_set_record_outputs(fs, txn), 0);
    ck_assert_int_eq(ss_store_txn_commit(txn), 0);
    ss_filter_set_free(fs);
    free(path);
}

static char *writers_text(ss_store *s, char kind)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ss_store_txn *txn = NULL;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &txn), 0);
    ck_assert_int_eq(ss_filter_writers_each(txn, kind, collect_writer, f), 0);
    ss_store_txn_abort(txn);
    fclose(f);
    return buf;
}

/* Each declared output names its filter; a later set declaring the same name takes it over, the
 * others keep theirs. */
#define WDECL(n) "{name = \"" n "\", type = \"float\", description = \"d\"}"

START_TEST(declared_outputs_name_their_filter)
{
    write_lua("fa", "1.0", WDECL("w_one") ", " WDECL("w_two"), WDECL("w_alert"));
    write_lua("fb", "", WDECL("w_three"), "");
    write_lua("fc", "2.5", WDECL("w_two"), WDECL("w_alert"));
    char *dir = tu_path(tu_tmp, "wst");
    ss_store_options so = {.create = 1};
    ss_store *s = NULL;
    ss_err err = {0};
    ck_assert_msg(ss_store_open(dir, &so, &s, &err) == 0, "%s", err.msg);
    char *none = writers_text(s, 0); /* a store written before: nothing recorded */
    ck_assert_str_eq(none, "");
    free(none);
    record(s, "[filter a]\npath = fa.lua\n[filter b]\npath = fb.lua\n");
    char *first = writers_text(s, 'l');
    ck_assert_str_eq(first, "l w_one fa 1.0\nl w_three fb \nl w_two fa 1.0\n");
    free(first);
    record(s, "[filter c]\npath = fc.lua\n");
    char *all = writers_text(s, 0);
    ck_assert_str_eq(all, "a w_alert fc 2.5\nl w_one fa 1.0\nl w_three fb \nl w_two fc 2.5\n");
    free(all);
    ss_store_txn *txn = NULL;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &txn), 0);
    ss_filter_writer w;
    ck_assert_int_eq(ss_filter_writer_get(txn, 'l', "w_two", &w), 0);
    ck_assert_str_eq(w.filter, "fc");
    ck_assert_int_eq(ss_filter_writer_get(txn, 'a', "w_two", &w), SS_ENOTFOUND);
    ck_assert_int_eq(ss_filter_writer_get(txn, 'l', "absent", &w), SS_ENOTFOUND);
    ck_assert_int_eq(ss_filter_writer_record(txn, 'x', "w_one", "fz", NULL), SS_EINVAL);
    ck_assert_int_eq(ss_filter_writer_record(txn, 'l', "", "fz", NULL), SS_EINVAL);
    ck_assert_int_eq(ss_filter_writer_record(txn, 'l', "w_one", "", NULL), SS_EINVAL);
    int calls = 0;
    ck_assert_int_eq(ss_filter_writers_each(txn, 0, stop_at_first, &calls), 7);
    ck_assert_int_eq(calls, 1);
    ss_store_txn_abort(txn);
    ss_store_close(s);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("filters");
    TCase *tc = tcase_create("host");
    tcase_add_checked_fixture(tc, tu_tmp_setup, tu_tmp_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, broken_filters_are_refused_with_the_reason);
    tcase_add_test(tc, tags_order_the_set_and_bad_graphs_are_refused);
    tcase_add_test(tc, declared_outputs_are_stored);
    tcase_add_test(tc, failed_runs_keep_nothing);
    tcase_add_test(tc, repeated_failures_disable_one_filter_only);
    tcase_add_test(tc, halts_and_missing_requirements);
    tcase_add_test(tc, tags_are_published_after_commit);
    tcase_add_test(tc, dry_runs_write_nothing);
    tcase_add_test(tc, contributed_jump_and_setup_data);
    tcase_add_test(tc, jump_in_c_and_lua_agree);
    tcase_add_test(tc, lua_failures_stay_with_their_filter);
    tcase_add_test(tc, time_limits_stop_lua_bombs_in_every_mode);
    tcase_add_test(tc, real_ztf_alerts_as_of_each);
    tcase_add_test(tc, declared_outputs_name_their_filter);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
