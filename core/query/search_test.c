/* Searches of loci (search.h): each driving index, every condition operator, sorts both ways,
 * pages and their edges, the in-memory sort's cap, and the fallbacks of a format 5 store. */
#include "testutil.h"

#include "catalog.h"
#include "ingest.h"
#include "search_impl.h"

#include <lmdb.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Ten loci L0..L9, 3.5" apart along dec 10 from ra 10, each with object id O<i>:
 *  - num_alerts i % 3 + 1: the newest in g at 60000 + NEWEST[i], the older ones in r;
 *  - tag "hot" on the odd ones, tagged at 61000 - i; tag "cold" on L0;
 *  - filter-written "score" (float, i * 1.5) on the even ones, "class" ("SN" when i % 4 == 0,
 *    else "AGN") on all;
 *  - catalog "cat" matched by L0, L2, L4, L6; watch list "wl" by L2 and L3. */
#define N 10
static const int NEWEST[N] = {5, 2, 8, 0, 9, 1, 7, 3, 6, 4};
static ss_store *st;
static char ids[N][SS_LOCUS_ID_LEN + 1];

static double ra_of(int i)
{
    return 10 + i * 0.001;
}

static void load(const char *name, ss_catalog_kind kind, const int *rows, int n)
{
    char *csv = NULL, file[64];
    size_t len;
    FILE *f = open_memstream(&csv, &len);
    fprintf(f, "name,ra,dec\n");
    for (int k = 0; k < n; k++)
        fprintf(f, "%s%d,%.6f,10\n", name, rows[k], ra_of(rows[k]));
    fclose(f);
    snprintf(file, sizeof file, "%s.csv", name);
    char *path = tu_write(tu_tmp, file, csv);
    ss_assoc_catalog_options o = {.name = name, .path = path, .kind = kind};
    ss_err err = {0};
    ck_assert_msg(ss_assoc_catalog_load(st, &o, NULL, &err) == 0, "%s", err.msg);
    free(path), free(csv);
}

static void ingest_loci(void)
{
    char *csv = NULL;
    size_t len;
    FILE *f = open_memstream(&csv, &len);
    fprintf(f, "alert_id,ra,dec,mjd,passband,mag,magerr,object_id\n");
    for (int i = 0; i < N; i++)
        for (int a = 0; a <= i % 3; a++)
            fprintf(f, "a%d_%d,%.6f,10,%d,%s,%.2f,0.1,O%d\n", i, a, ra_of(i), 60000 + NEWEST[i] - a,
                    a ? "r" : "g", 15 + 0.5 * i + 0.1 * a, i);
    fclose(f);
    char *path = tu_write(tu_tmp, "alerts.csv", csv);
    ss_ingest *in = ss_ingest_new(st, NULL);
    ss_err err = {0};
    ck_assert_msg(ss_ingest_path(in, path, &err) == 0, "%s", err.msg);
    ck_assert_msg(ss_ingest_finish(in, NULL, &err) == 0, "%s", err.msg);
    ss_ingest_free(in);
    free(path), free(csv);
}

static int take_locus(void *ctx, const char *survey, const char *locus_id)
{
    (void)survey;
    snprintf(ctx, SS_LOCUS_ID_LEN + 1, "%s", locus_id);
    return 0;
}

/* The ids of L0..L9, then their tags and filter outputs, as filters would write them. */
static void write_outputs(void)
{
    ss_store_txn *t;
    ss_arena *scratch = ss_arena_new();
    ck_assert_int_eq(ss_store_txn_begin(st, SS_STORE_WRITE, &t), 0);
    for (int i = 0; i < N; i++) {
        char object[8];
        snprintf(object, sizeof object, "O%d", i);
        ck_assert_int_eq(ss_store_object_each(t, object, take_locus, ids[i]), 0);
        ck_assert(ss_store_locus_id_valid(ids[i]));
        if (i % 2)
            ck_assert_int_eq(ss_store_tag_add(t, ids[i], "hot", "f_hot", "tuple", "x", 61000 - i),
                             0);
        ss_prop props[2] = {{"class", ss_prop_text(i % 4 ? "AGN" : "SN")},
                            {"score", ss_prop_float(i * 1.5)}};
        ck_assert_int_eq(ss_store_locus_props_merge(t, ids[i], props, i % 2 ? 1 : 2, scratch), 0);
    }
    ck_assert_int_eq(ss_store_tag_add(t, ids[0], "cold", "f_cold", "tuple", "x", 60000), 0);
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
    ss_arena_free(scratch);
}

static void setup(void)
{
    tu_tmp_setup();
    char *dir = tu_path(tu_tmp, "st");
    ss_store_options o = {.create = 1};
    ss_err err = {0};
    ck_assert_msg(ss_store_open(dir, &o, &st, &err) == 0, "%s", err.msg);
    free(dir);
    load("cat", SS_CATALOG_KIND_CATALOG, (const int[]){0, 2, 4, 6}, 4);
    load("wl", SS_CATALOG_KIND_WATCH, (const int[]){2, 3}, 2);
    ingest_loci();
    write_outputs();
}

static void teardown(void)
{
    ss_store_close(st);
    st = NULL;
    tu_tmp_teardown();
}

/* ---- running searches ---- */

static int index_of(const char *id)
{
    for (int i = 0; i < N; i++)
        if (!strcmp(ids[i], id))
            return i;
    ck_abort_msg("a hit that is no locus of the store: %s", id);
    return -1;
}

/* The page's loci as "i i i". */
static char *hits_text(const ss_query_page *p)
{
    static char text[256];
    text[0] = '\0';
    for (size_t h = 0; h < p->n; h++) {
        size_t used = strlen(text);
        snprintf(text + used, sizeof text - used, "%s%d", h ? " " : "",
                 index_of(p->hits[h].locus.id));
    }
    return text;
}

/* Run @p q (capped at @p cap) expecting success; the page's loci as text. */
static char *run_capped(ss_query_search q, size_t cap, ss_query_page *p)
{
    ss_err err = {0};
    if (!q.page_size)
        q.page_size = 100;
    int rc = ssi_query_search_capped(st, &q, cap, p, &err);
    ck_assert_msg(rc == 0, "search failed: %d %s", rc, err.msg);
    return hits_text(p);
}

#define SEARCH(want, ...)                                                                          \
    do {                                                                                           \
        ss_query_page p_;                                                                          \
        ck_assert_str_eq(run_capped((ss_query_search){__VA_ARGS__}, SS_QUERY_SORT_CAP, &p_),       \
                         want);                                                                    \
        ss_query_page_free(&p_);                                                                   \
    } while (0)

/* Expect @p code and a message holding @p part. */
static void search_fails(ss_query_search q, size_t cap, int code, const char *part)
{
    ss_query_page p;
    ss_err err = {0};
    if (!q.page_size)
        q.page_size = 10;
    ck_assert_int_eq(ssi_query_search_capped(st, &q, cap, &p, &err), code);
    ck_assert_msg(strstr(err.msg, part), "'%s' not in: %s", part, err.msg);
    ck_assert_ptr_null(p.hits);
    ck_assert_uint_eq(p.n, 0);
}

/* The indexes of @p set in locus id order, as text: what a walk of loci or catalog_loci gives. */
static char *by_id(const int *set, int n, int descending)
{
    static char texts[4][64]; /* a few may be in use at once */
    static int next;
    char *text = texts[next++ % 4];
    int order[N];
    memcpy(order, set, n * sizeof *order);
    for (int a = 1; a < n; a++) /* insertion sort by id */
        for (int b = a; b > 0; b--) {
            int c = strcmp(ids[order[b - 1]], ids[order[b]]);
            if (descending ? c > 0 : c < 0)
                break;
            int tmp = order[b];
            order[b] = order[b - 1], order[b - 1] = tmp;
        }
    text[0] = '\0';
    for (int k = 0; k < n; k++) {
        size_t used = strlen(text);
        snprintf(text + used, 64 - used, "%s%d", k ? " " : "", order[k]);
    }
    return text;
}

/* Loci @p from to @p from + @p count - 1 of a list "i i i" (one digit each). */
static char *slice(const char *list, int from, int count)
{
    static char text[64];
    size_t len = strlen(list), at = 2 * (size_t)from;
    size_t n = at >= len ? 0 : 2 * (size_t)count - 1;
    snprintf(text, sizeof text, "%.*s", (int)n, at >= len ? "" : list + at);
    return text;
}

#define SET(...) (const int[]){__VA_ARGS__}, (int)(sizeof((const int[]){__VA_ARGS__}) / sizeof(int))
#define ALL      SET(0, 1, 2, 3, 4, 5, 6, 7, 8, 9)

/* ---- the driving indexes ---- */

START_TEST(every_locus_by_id_both_ways)
{
    ss_query_page p;
    char want[256];
    snprintf(want, sizeof want, "%s", by_id(ALL, 0));
    ck_assert_str_eq(run_capped((ss_query_search){.count = 1}, 1, &p), want);
    ck_assert_str_eq(p.index, "loci");
    ck_assert_int_eq(p.total, N);
    ck_assert_int_eq(p.has_next, 0);
    ck_assert(isnan(p.hits[0].sort_value) && isnan(p.hits[0].separation_arcsec));
    ck_assert_double_eq(p.hits[0].tag.mjd, 0);
    ss_query_page_free(&p);
    SEARCH(by_id(ALL, 1), .descending = 1);
    SEARCH(by_id(ALL, 0), .sort = "locus_id");
}
END_TEST

START_TEST(newest_first_through_loci_newest)
{
    ss_query_page p;
    ck_assert_str_eq(run_capped((ss_query_search){.sort = "newest_alert_observation_time"}, 1, &p),
                     "3 5 1 7 9 0 8 6 2 4");
    ck_assert_str_eq(p.index, "loci_newest");
    ck_assert_double_eq(p.hits[0].sort_value, 60000);
    ck_assert_double_eq(p.hits[9].locus.newest.mjd, 60009);
    ss_query_page_free(&p);
    SEARCH("4 2 6 8 0 9 7 1 5 3", .sort = "newest_alert_observation_time", .descending = 1);
}
END_TEST

START_TEST(cone_by_separation_and_other_sorts)
{
    ss_query_page p;
    ss_query_search q = {.cone = 1, .ra = 10, .dec = 10, .radius_arcsec = 8, .count = 1};
    ck_assert_str_eq(run_capped(q, SS_QUERY_SORT_CAP, &p), "0 1 2");
    ck_assert_str_eq(p.index, "sky");
    ck_assert_int_eq(p.total, 3);
    ck_assert_double_eq_tol(p.hits[0].separation_arcsec, 0, 1e-6);
    ck_assert_double_eq_tol(p.hits[1].separation_arcsec, 3.6 * cos(10 * M_PI / 180), 1e-3);
    ck_assert_double_eq(p.hits[2].sort_value, p.hits[2].separation_arcsec);
    ss_query_page_free(&p);
    SEARCH("2 1 0", .cone = 1, .ra = 10, .dec = 10, .radius_arcsec = 8, .descending = 1);
    SEARCH("2 0 1", .cone = 1, .ra = 10, .dec = 10, .radius_arcsec = 8,
           .sort = "newest_alert_observation_time", .descending = 1);
    SEARCH("1", .cone = 1, .ra = 10, .dec = 10, .radius_arcsec = 8, .tag = "hot");
    SEARCH("0 2", .cone = 1, .ra = 10, .dec = 10, .radius_arcsec = 8, .catalog = "cat");
    SEARCH("2", .cone = 1, .ra = 10, .dec = 10, .radius_arcsec = 8, .watch = "wl");
    SEARCH("1", .cone = 1, .ra = 10, .dec = 10, .radius_arcsec = 8, .object_id = "O1");
    SEARCH("", .cone = 1, .ra = 200, .dec = -10, .radius_arcsec = 8);
}
END_TEST

START_TEST(object_ids_and_their_conditions)
{
    ss_query_page p;
    ck_assert_str_eq(run_capped((ss_query_search){.object_id = "O4"}, 1, &p), "4");
    ck_assert_str_eq(p.index, "objects");
    ss_query_page_free(&p);
    ss_query_cond few = {"num_alerts", SS_QUERY_LT, 2, NULL};
    SEARCH("", .object_id = "O4", .conds = &few, .nconds = 1);
    SEARCH("", .object_id = "O77");
    SEARCH("4", .object_id = "O4", .catalog = "cat");
    SEARCH("", .object_id = "O4", .watch = "wl");
}
END_TEST

START_TEST(catalogs_and_watch_lists)
{
    ss_query_page p;
    ck_assert_str_eq(run_capped((ss_query_search){.catalog = "cat", .count = 1}, 1, &p),
                     by_id(SET(0, 2, 4, 6), 0));
    ck_assert_str_eq(p.index, "catalog_loci");
    ck_assert_int_eq(p.total, 4);
    ss_query_page_free(&p);
    SEARCH(by_id(SET(0, 2, 4, 6), 1), .catalog = "cat", .descending = 1);
    SEARCH(by_id(SET(2, 3), 0), .watch = "wl");
    SEARCH("2", .catalog = "cat", .watch = "wl");
    SEARCH("", .catalog = "cat", .tag = "hot");
    SEARCH("0 6 2 4", .catalog = "cat", .sort = "newest_alert_observation_time");
    search_fails((ss_query_search){.catalog = "nope"}, 10, SS_EINVAL, "catalog 'nope'");
    search_fails((ss_query_search){.watch = "nope"}, 10, SS_EINVAL, "watch 'nope'");
    search_fails((ss_query_search){.catalog = "wl"}, 10, SS_EINVAL, "no such catalog");
}
END_TEST

START_TEST(tags_in_tagged_order_from_a_time)
{
    ss_query_page p;
    ck_assert_str_eq(run_capped((ss_query_search){.tag = "hot"}, 1, &p), "9 7 5 3 1");
    ck_assert_str_eq(p.index, "tag_index");
    ck_assert_double_eq(p.hits[0].tag.mjd, 60991);
    ck_assert_double_eq(p.hits[0].sort_value, 60991);
    ck_assert_str_eq(p.hits[0].tag.filter, "f_hot");
    ss_query_page_free(&p);
    SEARCH("1 3 5 7 9", .tag = "hot", .descending = 1);
    SEARCH("5 3 1", .tag = "hot", .tagged_since = 60995);
    SEARCH("1 3 5", .tag = "hot", .tagged_since = 60995, .descending = 1);
    SEARCH("0", .tag = "cold");
    SEARCH("", .tag = "no-such-tag");
    /* a sort the tag index does not give: in memory, ties by id */
    char want[64];
    snprintf(want, sizeof want, "%s %s 5", by_id(SET(3, 9), 0), by_id(SET(1, 7), 0));
    SEARCH(want, .tag = "hot", .sort = "num_alerts");
}
END_TEST

/* ---- conditions ---- */

#define COND(want, prop, op, num, text)                                                            \
    do {                                                                                           \
        ss_query_cond c_ = {prop, op, num, text};                                                  \
        SEARCH(want, .conds = &c_, .nconds = 1);                                                   \
    } while (0)

START_TEST(every_condition_operator)
{
    COND(by_id(SET(1, 4, 7), 0), "num_alerts", SS_QUERY_EQ, 2, NULL);
    COND(by_id(SET(2, 5, 8), 0), "num_alerts", SS_QUERY_GT, 2, NULL);
    COND(by_id(SET(1, 2, 4, 5, 7, 8), 0), "num_alerts", SS_QUERY_GTE, 2, NULL);
    COND(by_id(SET(0, 3, 6, 9), 0), "num_alerts", SS_QUERY_LT, 2, NULL);
    COND(by_id(SET(0, 3, 6, 9), 0), "num_alerts", SS_QUERY_LTE, 1, NULL);
    COND(by_id(SET(0, 4, 8), 0), "class", SS_QUERY_EQ, 0, "SN");
    COND(by_id(SET(4, 6, 8), 0), "score", SS_QUERY_GTE, 6, NULL);
    COND(by_id(SET(0, 2, 4, 6, 8), 0), "score", SS_QUERY_LT, 100, NULL); /* odd: none */
    COND(by_id(SET(2, 4, 6), 0), "newest_alert_observation_time", SS_QUERY_GTE, 60007, NULL);
    COND(by_id(SET(1, 2, 4, 5, 7, 8), 0), "num_alerts_r", SS_QUERY_GTE, 1, NULL);
    COND(by_id(SET(5), 0), "brightest_alert_magnitude", SS_QUERY_EQ, 17.5, NULL);
    COND("", "num_alerts", SS_QUERY_EQ, 0, "2"); /* text never equals a number */
    COND("", "class", SS_QUERY_GT, 0, NULL);     /* nor a number a text */
    COND("", "no_such_property", SS_QUERY_LT, 1e300, NULL);
    ss_query_cond both[2] = {{"class", SS_QUERY_EQ, 0, "AGN"},
                             {"num_alerts", SS_QUERY_GTE, 2, NULL}};
    SEARCH(by_id(SET(1, 2, 5, 7), 0), .conds = both, .nconds = 2);
    SEARCH("7 5 1", .conds = both, .nconds = 2, .tag = "hot");
}
END_TEST

/* ---- sorts ---- */

START_TEST(property_sorts_put_the_loci_without_it_last)
{
    char want[64];
    snprintf(want, sizeof want, "0 2 4 6 8 %s", by_id(SET(1, 3, 5, 7, 9), 0));
    SEARCH(want, .sort = "score");
    snprintf(want, sizeof want, "8 6 4 2 0 %s", by_id(SET(1, 3, 5, 7, 9), 1));
    SEARCH(want, .sort = "score", .descending = 1);
    SEARCH("9 8 7 6 5 4 3 2 1 0", .sort = "brightest_alert_magnitude", .descending = 1);
    ss_query_page p;
    run_capped((ss_query_search){.sort = "score", .page_size = 7}, SS_QUERY_SORT_CAP, &p);
    ck_assert_double_eq(p.hits[4].sort_value, 12);
    ck_assert(isnan(p.hits[5].sort_value));
    ss_query_page_free(&p);
}
END_TEST

/* ---- pages ---- */

/* Page @p page of @p page_size: its loci, has_next and total. */
static void page_is(ss_query_search q, size_t page, size_t page_size, const char *want,
                    int has_next, int64_t total)
{
    ss_query_page p;
    q.page = page, q.page_size = page_size;
    ck_assert_str_eq(run_capped(q, SS_QUERY_SORT_CAP, &p), want);
    ck_assert_int_eq(p.has_next, has_next);
    ck_assert_int_eq(p.total, total);
    ck_assert_uint_eq(p.page, page ? page : 1);
    ck_assert_uint_eq(p.page_size, page_size);
    ss_query_page_free(&p);
}

START_TEST(pages_and_their_edges)
{
    ss_query_search hot = {.tag = "hot", .count = 1}, sorted = {.sort = "num_alerts"};
    page_is(hot, 0, 2, "9 7", 1, 5);
    page_is(hot, 1, 2, "9 7", 1, 5);
    page_is(hot, 2, 2, "5 3", 1, 5);
    page_is(hot, 3, 2, "1", 0, 5); /* the last page */
    page_is(hot, 4, 2, "", 0, 5);  /* past the end */
    page_is(hot, 1, 5, "9 7 5 3 1", 0, 5);
    hot.count = 0; /* without a count the walk stops one match after the page */
    page_is(hot, 2, 2, "5 3", 1, -1);
    page_is(hot, 3, 2, "1", 0, -1);
    /* filtered: conditions counted before the page too */
    ss_query_cond two = {"num_alerts", SS_QUERY_EQ, 2, NULL};
    ss_query_search filtered = {.conds = &two, .nconds = 1, .count = 1};
    char all[64];
    snprintf(all, sizeof all, "%s", by_id(SET(1, 4, 7), 0));
    page_is(filtered, 2, 2, slice(all, 2, 1), 0, 3);
    /* sorted in memory (by num_alerts, then id): the same edges */
    char order[64];
    snprintf(order, sizeof order, "%s %s %s", by_id(SET(0, 3, 6, 9), 0), by_id(SET(1, 4, 7), 0),
             by_id(SET(2, 5, 8), 0));
    page_is(sorted, 4, 3, slice(order, 9, 1), 0, -1);
    page_is(sorted, 3, 3, slice(order, 6, 3), 1, -1);
    sorted.count = 1;
    page_is(sorted, 3, 3, slice(order, 6, 3), 1, 10);
    page_is(sorted, 5, 3, "", 0, 10);
    page_is(sorted, 2, 5, slice(order, 5, 5), 0, 10);
}
END_TEST

START_TEST(unindexed_sorts_over_the_cap_are_refused)
{
    search_fails((ss_query_search){.sort = "num_alerts"}, 3, SS_ELIMIT, "more than 3 loci");
    search_fails((ss_query_search){.sort = "num_alerts"}, 3, SS_ELIMIT, "narrow the search");
    search_fails((ss_query_search){.cone = 1, .ra = 10, .dec = 10, .radius_arcsec = 8}, 2,
                 SS_ELIMIT, "the sky index");
    ss_query_page p;
    ss_query_cond many = {"num_alerts", SS_QUERY_GTE, 3, NULL};
    ck_assert_str_eq(
        run_capped((ss_query_search){.sort = "num_alerts", .conds = &many, .nconds = 1}, 3, &p),
        by_id(SET(2, 5, 8), 0)); /* exactly the cap */
    ss_query_page_free(&p);
    /* a walk in the index's order holds no more than its page, however many match */
    ck_assert_str_eq(run_capped((ss_query_search){.tag = "hot"}, 1, &p), "9 7 5 3 1");
    ss_query_page_free(&p);
}
END_TEST

/* ---- bad searches ---- */

START_TEST(bad_searches_name_the_parameter)
{
    ss_query_cond bad_text = {"class", SS_QUERY_GT, 0, "SN"}, nan_num = {"score", 0, NAN, NULL};
    ss_query_cond no_name = {"", SS_QUERY_EQ, 1, NULL};
    const struct {
        ss_query_search q;
        const char *part;
    } cases[] = {
        {{.cone = 1, .ra = 10, .dec = 10, .radius_arcsec = 0}, "radius_arcsec"},
        {{.cone = 1, .ra = 10, .dec = 10, .radius_arcsec = NAN}, "radius_arcsec"},
        {{.cone = 1, .ra = 10, .dec = 10, .radius_arcsec = INFINITY}, "radius_arcsec"},
        {{.cone = 1, .ra = 360, .dec = 10, .radius_arcsec = 1}, "ra 360"},
        {{.cone = 1, .ra = 10, .dec = -90.5, .radius_arcsec = 1}, "dec -90.5"},
        {{.tag = ""}, "tag is empty"},
        {{.object_id = ""}, "object_id is empty"},
        {{.tagged_since = 60000}, "tagged_since needs a tag"},
        {{.tag = "hot", .tagged_since = -1}, "tagged_since -1"},
        {{.sort = "separation"}, "separation needs a cone"},
        {{.sort = "tagged_mjd"}, "tagged_mjd needs a tag"},
        {{.sort = "two words"}, "sort 'two words'"},
        {{.conds = &bad_text, .nconds = 1}, "equality only"},
        {{.conds = &nan_num, .nconds = 1}, "condition on score"},
        {{.conds = &no_name, .nconds = 1}, "condition 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        search_fails(cases[i].q, 10, SS_EINVAL, cases[i].part);
    ss_query_search zero = {0};
    ss_query_page p;
    ss_err err = {0};
    ck_assert_int_eq(ss_query_search_run(st, &zero, &p, &err), SS_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "page_size"));
    zero.page_size = SIZE_MAX / 2, zero.page = 4;
    ck_assert_int_eq(ss_query_search_run(st, &zero, &p, &err), SS_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "page 4"));
}
END_TEST

/* ---- what a search reads, and older stores ---- */

/* Close the store, change it through LMDB, open it again (@p readonly or read-write). */
static void reopen_after(void (*change)(MDB_txn *txn), int readonly)
{
    char *dir = tu_path(tu_tmp, "st");
    ss_store_close(st);
    MDB_env *env;
    MDB_txn *txn;
    ck_assert_int_eq(mdb_env_create(&env), 0);
    ck_assert_int_eq(mdb_env_set_maxdbs(env, 32), 0);
    ck_assert_int_eq(mdb_env_open(env, dir, 0, 0644), 0);
    ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    change(txn);
    ck_assert_int_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    ss_store_options o = {.readonly = readonly};
    ss_err err = {0};
    ck_assert_msg(ss_store_open(dir, &o, &st, &err) == 0, "%s", err.msg);
    free(dir);
}

/* The first locus in id order gets a record no reader can decode. */
static void damage_first_locus(MDB_txn *txn)
{
    MDB_dbi dbi;
    MDB_cursor *cur;
    MDB_val k, v, bad = {1, "x"};
    ck_assert_int_eq(mdb_dbi_open(txn, "loci", 0, &dbi), 0);
    ck_assert_int_eq(mdb_cursor_open(txn, dbi, &cur), 0);
    ck_assert_int_eq(mdb_cursor_get(cur, &k, &v, MDB_FIRST), 0);
    ck_assert_int_eq(mdb_cursor_put(cur, &k, &bad, MDB_CURRENT), 0);
    mdb_cursor_close(cur);
}

/* Pages after the first are reached by stepping over index keys: a record they skip is never
 * read, so a damaged one on page 1 harms page 1 alone. */
START_TEST(earlier_pages_are_skipped_without_reading_records)
{
    reopen_after(damage_first_locus, 1);
    ss_query_page p;
    ss_err err = {0};
    ss_query_search q = {.page = 2, .page_size = 3, .count = 1};
    ck_assert_str_eq(run_capped(q, SS_QUERY_SORT_CAP, &p), slice(by_id(ALL, 0), 3, 3));
    ck_assert_int_eq(p.total, N);
    ss_query_page_free(&p);
    q.page = 1;
    ck_assert_int_eq(ss_query_search_run(st, &q, &p, &err), SS_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "searching loci"));
}
END_TEST

static void make_format_5(MDB_txn *txn)
{
    MDB_dbi dbi;
    const char *tables[] = {"loci_newest", "catalog_loci"};
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(mdb_dbi_open(txn, tables[i], 0, &dbi), 0);
        ck_assert_int_eq(mdb_drop(txn, dbi, 1), 0);
    }
    uint32_t five = 5;
    MDB_val k = {6, "format"}, v = {sizeof five, &five};
    ck_assert_int_eq(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
}

START_TEST(format_5_store_read_only_falls_back)
{
    reopen_after(make_format_5, 1);
    ss_query_page p;
    const char *newest = "3 5 1 7 9 0 8 6 2 4";
    ck_assert_str_eq(run_capped((ss_query_search){.sort = "newest_alert_observation_time"}, N, &p),
                     newest);
    ck_assert_str_eq(p.index, "loci");
    ss_query_page_free(&p);
    search_fails((ss_query_search){.sort = "newest_alert_observation_time"}, N - 1, SS_ELIMIT,
                 "the loci index");
    ck_assert_str_eq(run_capped((ss_query_search){.catalog = "cat"}, 1, &p),
                     by_id(SET(0, 2, 4, 6), 0));
    ck_assert_str_eq(p.index, "locus_matches");
    ss_query_page_free(&p);
    SEARCH(by_id(SET(0, 2, 4, 6), 1), .catalog = "cat", .descending = 1);
    SEARCH("2", .catalog = "cat", .watch = "wl");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("search");
    TCase *tc = tcase_create("search");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, every_locus_by_id_both_ways);
    tcase_add_test(tc, newest_first_through_loci_newest);
    tcase_add_test(tc, cone_by_separation_and_other_sorts);
    tcase_add_test(tc, object_ids_and_their_conditions);
    tcase_add_test(tc, catalogs_and_watch_lists);
    tcase_add_test(tc, tags_in_tagged_order_from_a_time);
    tcase_add_test(tc, every_condition_operator);
    tcase_add_test(tc, property_sorts_put_the_loci_without_it_last);
    tcase_add_test(tc, pages_and_their_edges);
    tcase_add_test(tc, unindexed_sorts_over_the_cap_are_refused);
    tcase_add_test(tc, bad_searches_name_the_parameter);
    tcase_add_test(tc, earlier_pages_are_skipped_without_reading_records);
    tcase_add_test(tc, format_5_store_read_only_falls_back);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
