/*
 * The per-input log limiter (ratelimit.h) on an injected clock: N lines per period, the rest
 * counted and reported once, when the period turns, when the key changes, or when it ends.
 */
#include "ratelimit.h"
#include "testutil.h"

#include <check.h>
#include <string.h>

static double fake_now;

static double fake_clock(void *ctx)
{
    (void)ctx;
    return fake_now;
}

/* Take @p n lines about @p key at the current time: how many may be written. */
static unsigned take_n(ss_ratelimit *rl, const char *key, unsigned n, ss_ratelimit_note *last)
{
    unsigned written = 0;
    for (unsigned i = 0; i < n; i++) {
        ss_ratelimit_note note;
        written += (unsigned)ss_ratelimit_take(rl, key, &note);
        ck_assert_msg(note.suppressed == 0 || last, "an unexpected report at line %u", i);
        if (note.suppressed)
            *last = note;
    }
    return written;
}

START_TEST(lines_per_period_then_one_report)
{
    fake_now = 100;
    ss_ratelimit *rl = ss_ratelimit_new(5, 10, fake_clock, NULL);
    ck_assert_ptr_nonnull(rl);
    ck_assert_uint_eq(take_n(rl, "a.csv", 100000, NULL), 5);
    fake_now = 109.9; /* the same period: still counted */
    ck_assert_uint_eq(take_n(rl, "a.csv", 10, NULL), 0);
    fake_now = 110; /* a new period: the count comes with its first line */
    ss_ratelimit_note note;
    ck_assert_int_eq(ss_ratelimit_take(rl, "a.csv", &note), 1);
    ck_assert_uint_eq(note.suppressed, 100000 - 5 + 10);
    ck_assert_str_eq(note.key, "a.csv");
    ck_assert(note.seconds > 9.9 && note.seconds < 10.1);
    ck_assert_uint_eq(take_n(rl, "a.csv", 4, NULL), 4);
    ck_assert_int_eq(ss_ratelimit_take(rl, "a.csv", &note), 0);
    ss_ratelimit_end(rl, &note); /* the input ends: what was not written, said once */
    ck_assert_uint_eq(note.suppressed, 1);
    ss_ratelimit_end(rl, &note);
    ck_assert_uint_eq(note.suppressed, 0);
    ss_ratelimit_free(rl);
}
END_TEST

START_TEST(another_key_reports_the_previous_one)
{
    fake_now = 0;
    ss_ratelimit *rl = ss_ratelimit_new(2, 60, fake_clock, NULL);
    ck_assert_uint_eq(take_n(rl, "first", 7, NULL), 2);
    ss_ratelimit_note note;
    ck_assert_int_eq(ss_ratelimit_take(rl, "second", &note), 1); /* its own allowance */
    ck_assert_str_eq(note.key, "first");
    ck_assert_uint_eq(note.suppressed, 5);
    ck_assert_int_eq(ss_ratelimit_take(rl, "second", &note), 1);
    ck_assert_int_eq(ss_ratelimit_take(rl, "second", &note), 0);
    ck_assert_uint_eq(note.suppressed, 0);
    ss_ratelimit_free(rl);
}
END_TEST

START_TEST(zero_lines_counts_everything)
{
    fake_now = 0;
    ss_ratelimit *rl = ss_ratelimit_new(0, 1, fake_clock, NULL);
    ck_assert_uint_eq(take_n(rl, "x", 3, NULL), 0);
    ss_ratelimit_note note;
    ss_ratelimit_end(rl, &note);
    ck_assert_uint_eq(note.suppressed, 3);
    ss_ratelimit_free(rl);
}
END_TEST

START_TEST(a_quiet_key_is_reported_when_its_period_ends)
{
    fake_now = 0;
    ss_ratelimit *rl = ss_ratelimit_new(1, 5, fake_clock, NULL);
    ck_assert_uint_eq(take_n(rl, "pull", 4, NULL), 1);
    ss_ratelimit_note note;
    fake_now = 4;
    ss_ratelimit_tick(rl, &note);
    ck_assert_uint_eq(note.suppressed, 0); /* the period is not over */
    fake_now = 5;
    ss_ratelimit_tick(rl, &note);
    ck_assert_uint_eq(note.suppressed, 3);
    ck_assert_str_eq(note.key, "pull");
    ck_assert_int_eq(ss_ratelimit_take(rl, "pull", &note), 1); /* a new period */
    ck_assert_uint_eq(note.suppressed, 0);
    ss_ratelimit_free(rl);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ratelimit");
    TCase *tc = tcase_create("limiter");
    tcase_add_test(tc, lines_per_period_then_one_report);
    tcase_add_test(tc, another_key_reports_the_previous_one);
    tcase_add_test(tc, zero_lines_counts_everything);
    tcase_add_test(tc, a_quiet_key_is_reported_when_its_period_ends);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
