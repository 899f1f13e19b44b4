/*
 * The staging index's in-place sort (replay_stage.c) against the order it must give: by
 * observation time, ties in input order, on the inputs that break quicksorts (sorted, reversed,
 * all times equal, few distinct times, a median-of-three killer) and on random ones; and staged
 * packets of every size read back whole.
 */
#include "testutil.h"

#include "replay_impl.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t next_rand(uint64_t *x)
{
    *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
    return *x;
}

/* @p n entries whose times follow @p shape; offsets 0..n-1 give the input order. */
static ssi_stage_entry *entries(size_t n, int shape, uint64_t seed)
{
    ssi_stage_entry *e = malloc((n ? n : 1) * sizeof *e);
    ck_assert_ptr_nonnull(e);
    for (size_t i = 0; i < n; i++) {
        double t;
        switch (shape) {
        case 0: t = (double)i; break;                      /* sorted */
        case 1: t = (double)(n - i); break;                /* reversed */
        case 2: t = 60000.5; break;                        /* all tied: input order decides */
        case 3: t = (double)(next_rand(&seed) % 7); break; /* few distinct times */
        case 4: t = (double)(i % 2 ? i : n + i); break;    /* organ pipe: median-of-3 killer */
        default: t = (double)(next_rand(&seed) >> 11); break;
        }
        e[i] = (ssi_stage_entry){t, i};
    }
    return e;
}

/* @p e sorted, and each of @p before's entries in it once, whole. */
static void check_sorted(const ssi_stage_entry *e, const ssi_stage_entry *before, size_t n)
{
    unsigned char *seen = calloc(n ? n : 1, 1);
    ck_assert_ptr_nonnull(seen);
    for (size_t i = 0; i < n; i++) {
        if (i)
            ck_assert_msg(e[i - 1].mjd < e[i].mjd ||
                              (e[i - 1].mjd == e[i].mjd && e[i - 1].off < e[i].off),
                          "entries %zu and %zu out of order", i - 1, i);
        ck_assert_uint_lt(e[i].off, n);
        ck_assert_msg(!seen[e[i].off]++, "entry %llu twice", (unsigned long long)e[i].off);
        ck_assert(e[i].mjd == before[e[i].off].mjd); /* moved whole */
    }
    free(seen);
}

START_TEST(sorts_by_time_then_input_order)
{
    static const size_t sizes[] = {0, 1, 2, 3, 16, 17, 100, 4097, 200000};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        ssi_stage_entry *e = entries(sizes[s], _i, 0x9E3779B97F4A7C15ull + s),
                        *before = entries(sizes[s], _i, 0x9E3779B97F4A7C15ull + s);
        ssi_stage_index_sort(e, sizes[s]);
        check_sorted(e, before, sizes[s]);
        free(e);
        free(before);
    }
}
END_TEST

/* Stage packets of 0 bytes to 100 kB of survey text in reverse time order; read back, they come
 * in time order, whole (one read when a packet is short, two when it is not). */
START_TEST(staged_packets_read_back_whole_in_time_order)
{
    static const uint32_t sizes[] = {0, 100, 300, 507, 508, 600, 5000, 100000};
    enum { N = sizeof sizes / sizeof *sizes };
    ssi_stage *st;
    ss_err err = {0};
    ck_assert_msg(ssi_stage_new(tu_tmp, &st, &err) == 0, "%s", err.msg);
    char *text = malloc(100000);
    ck_assert_ptr_nonnull(text);
    for (uint32_t i = 0; i < 100000; i++)
        text[i] = (char)('a' + i % 26);
    ss_packet *p = ss_packet_new();
    ck_assert_ptr_nonnull(p);
    for (int k = 0; k < N; k++) {
        char id[16];
        snprintf(id, sizeof id, "a%d", k);
        ss_alert *a = ss_packet_add(p);
        ck_assert_ptr_nonnull(a);
        a->survey = "test", a->alert_id = id, a->passband = "g";
        a->ra = 10, a->dec = 20, a->mjd = 60000.0 + N - k, a->mag = 18, a->magerr = 0.1;
        ss_value v = {.type = SS_TYPE_STRING, .u.s = {text, sizes[k]}};
        ck_assert_int_eq(ss_alert_add_prop(p, a, "note", 4, v), 0);
        ck_assert_msg(ssi_stage_put(st, p, &err) == 0, "%s", err.msg);
        ss_packet_reset(p);
    }
    ck_assert_msg(ssi_stage_sort(st, &err) == 0, "%s", err.msg);
    for (int k = N - 1; k >= 0; k--) {
        ck_assert_int_eq(ssi_stage_decoder.next(st, p, NULL, &err), 1);
        ck_assert_uint_eq(p->n, 1);
        char id[16];
        snprintf(id, sizeof id, "a%d", k);
        ck_assert_str_eq(p->alerts[0].alert_id, id);
        ck_assert_uint_eq(p->alerts[0].nprops, 1);
        const ss_value *v = &p->alerts[0].props[0].value;
        ck_assert_uint_eq(v->u.s.len, sizes[k]);
        ck_assert(!memcmp(v->u.s.ptr, text, sizes[k]));
        ss_packet_reset(p);
    }
    ck_assert_int_eq(ssi_stage_decoder.next(st, p, NULL, &err), 0); /* the end */
    ss_packet_free(p);
    free(text);
    ssi_stage_free(st);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("replay_stage");
    TCase *tc = tcase_create("index_sort");
    tcase_add_loop_test(tc, sorts_by_time_then_input_order, 0, 6);
    suite_add_tcase(s, tc);
    TCase *io = tcase_create("staging");
    tcase_add_checked_fixture(io, tu_tmp_setup, tu_tmp_teardown);
    tcase_add_test(io, staged_packets_read_back_whole_in_time_order);
    suite_add_tcase(s, io);
    return tu_run_suite(s);
}
