/*
 * The pending batch's set of alerts (seen.c): found by survey and id, the two compared whole, and
 * nothing lost when the set grows or found after a clear.
 */
#include "seen.h"
#include "testutil.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

/* @p n alerts of @p survey in @p p, ids "1000", "1001", ... */
static void add_alerts(ss_packet *p, const char *survey, int n)
{
    for (int i = 0; i < n; i++) {
        ss_alert *a = ss_packet_add(p);
        ck_assert_ptr_nonnull(a);
        char id[16];
        snprintf(id, sizeof id, "%d", 1000 + i);
        a->survey = survey;
        a->alert_id = ss_arena_strndup(p->arena, id, strlen(id));
    }
}

static int has(const ssi_seen *s, const char *survey, const char *id)
{
    return ssi_seen_has(s, ssi_seen_hash(id), survey, id);
}

START_TEST(found_by_survey_and_id_through_growth_and_clear)
{
    ss_packet *p = ss_packet_new();
    ssi_seen s = {0};
    ck_assert_int_eq(has(&s, "ztf", "1000"), 0); /* an empty set answers */
    add_alerts(p, "ztf", 3000);                  /* past the first 1,024 slots, twice */
    ck_assert_int_eq(ssi_seen_add_packet(&s, p), 0);
    ck_assert_uint_eq(s.n, 3000);
    ck_assert_uint_ge(s.cap, 6000);
    ck_assert_int_eq(has(&s, "ztf", "1000"), 1);
    ck_assert_int_eq(has(&s, "ztf", "3999"), 1);
    ck_assert_int_eq(has(&s, "ztf", "4000"), 0);
    ck_assert_int_eq(has(&s, "ztf", "100"), 0);   /* a prefix of a stored id */
    ck_assert_int_eq(has(&s, "lsst", "1000"), 0); /* the same id, another survey */
    ck_assert_int_eq(ssi_seen_add_packet(&s, p), 0);
    ck_assert_uint_eq(s.n, 3000); /* added again: still once */

    ss_packet *q = ss_packet_new();
    add_alerts(q, "lsst", 2);
    ck_assert_int_eq(ssi_seen_add_packet(&s, q), 0);
    ck_assert_uint_eq(s.n, 3002);
    ck_assert_int_eq(has(&s, "lsst", "1001"), 1);
    ck_assert_int_eq(has(&s, "ztf", "1001"), 1);

    ssi_seen_clear(&s);
    ck_assert_uint_eq(s.n, 0);
    ck_assert_int_eq(has(&s, "ztf", "1000"), 0);
    ck_assert_int_eq(has(&s, "lsst", "1001"), 0);
    ssi_seen_free(&s);
    ss_packet_free(p);
    ss_packet_free(q);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("seen");
    TCase *tc = tcase_create("set");
    tcase_add_test(tc, found_by_survey_and_id_through_growth_and_clear);
    suite_add_tcase(su, tc);
    return tu_run_suite(su);
}
