/*
 * The staging index's in-place sort (replay_stage.c) against the order it must give: by
 * observation time, ties by sky pixel, then in input order, on the inputs that break quicksorts
 * (sorted, reversed, all times equal, few distinct times, a median-of-three killer) and on random
 * ones; staged packets of every size read back whole; and a night longer than a block of the order
 * file read back in order twice (a replay and its baseline).
 */
#include "testutil.h"

#include "replay_impl.h"

#include "locus_id.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t next_rand(uint64_t *x)
{
    *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
    return *x;
}

/* @p n entries whose times follow @p shape; offsets 0..n-1 give the input order. Sky pixels take
 * a few values, so that ties of time fall to them and ties of both to the input order. */
static ssi_stage_entry *entries(size_t n, int shape, uint64_t seed)
{
    ssi_stage_entry *e = malloc((n ? n : 1) * sizeof *e);
    ck_assert_ptr_nonnull(e);
    uint64_t sky_seed = seed ^ 0x5bd1e995u;
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
        e[i] = (ssi_stage_entry){t, i, (uint32_t)(next_rand(&sky_seed) % 5)};
    }
    return e;
}

/* @p e sorted, and each of @p before's entries in it once, whole. */
static void check_sorted(const ssi_stage_entry *e, const ssi_stage_entry *before, size_t n)
{
    unsigned char *seen = calloc(n ? n : 1, 1);
    ck_assert_ptr_nonnull(seen);
    for (size_t i = 0; i < n; i++) {
        const ssi_stage_entry *a = &e[i - (i > 0)], *b = &e[i];
        if (i)
            ck_assert_msg(a->mjd < b->mjd || (a->mjd == b->mjd && a->sky < b->sky) ||
                              (a->mjd == b->mjd && a->sky == b->sky && a->off < b->off),
                          "entries %zu and %zu out of order", i - 1, i);
        ck_assert_uint_lt(b->off, n);
        ck_assert_msg(!seen[b->off]++, "entry %llu twice", (unsigned long long)b->off);
        ck_assert(b->mjd == before[b->off].mjd && b->sky == before[b->off].sky); /* whole */
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

/* Stage @p n one-alert packets whose times are a permutation of 0..n-1 (i * 7919 mod n, n not a
 * multiple of 7919): alert k has time k, so reading in order gives ids 0, 1, 2... */
static ssi_stage *stage_scrambled(uint32_t n)
{
    ssi_stage *st;
    ss_err err = {0};
    ck_assert_msg(ssi_stage_new(tu_tmp, &st, &err) == 0, "%s", err.msg);
    ss_packet *p = ss_packet_new();
    ck_assert_ptr_nonnull(p);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = (uint32_t)((uint64_t)i * 7919 % n);
        char id[16];
        snprintf(id, sizeof id, "%u", k);
        ss_alert *a = ss_packet_add(p);
        ck_assert_ptr_nonnull(a);
        a->survey = "test", a->alert_id = id, a->passband = "r";
        a->ra = 1, a->dec = 2, a->mjd = 60000.0 + k, a->mag = 18, a->magerr = 0.1;
        ck_assert_msg(ssi_stage_put(st, p, &err) == 0, "%s", err.msg);
        ss_packet_reset(p);
    }
    ss_packet_free(p);
    ck_assert_msg(ssi_stage_sort(st, &err) == 0, "%s", err.msg);
    return st;
}

/* Read @p n packets: ids in time order, then the end. */
static void read_in_order(ssi_stage *st, uint32_t n)
{
    ss_err err = {0};
    ss_packet *p = ss_packet_new();
    ck_assert_ptr_nonnull(p);
    for (uint32_t k = 0; k < n; k++) {
        ck_assert_msg(ssi_stage_decoder.next(st, p, NULL, &err) == 1, "%u: %s", k, err.msg);
        ck_assert_uint_eq(strtoul(p->alerts[0].alert_id, NULL, 10), k);
        ss_packet_reset(p);
    }
    ck_assert_int_eq(ssi_stage_decoder.next(st, p, NULL, &err), 0);
    ss_packet_free(p);
}

/* The sorted offsets live in a file read 8,192 at a time: 20,011 packets span three blocks, the
 * last one short. Rewinding reads them again from the first; the span outlives the index. */
START_TEST(a_night_longer_than_a_block_reads_back_in_order_twice)
{
    enum { N = 20011 };
    ssi_stage *st = stage_scrambled(N);
    ck_assert_uint_eq(ssi_stage_count(st), N);
    double first, last;
    ssi_stage_span(st, &first, &last);
    ck_assert(first == 60000.0 && last == 60000.0 + N - 1);
    read_in_order(st, N);
    ssi_stage_rewind(st);
    read_in_order(st, N);
    ssi_stage_free(st);
}
END_TEST

/* One exposure: 200 alerts at one time, at places along a line across the sky, staged in an
 * order unrelated to the sky, two at each place. They come back by sky pixel (the order of SKY
 * locus ids), the two at one place in the order they were staged; a later exposure comes after
 * all of them whatever its place. */
START_TEST(an_exposure_comes_back_by_sky_pixel)
{
    enum { N = 200 };
    ssi_stage *st;
    ss_err err = {0};
    ck_assert_msg(ssi_stage_new(tu_tmp, &st, &err) == 0, "%s", err.msg);
    ss_packet *p = ss_packet_new();
    ck_assert_ptr_nonnull(p);
    for (int i = 0; i <= N; i++) {
        char id[16];
        snprintf(id, sizeof id, "%d", i);
        ss_alert *a = ss_packet_add(p);
        ck_assert_ptr_nonnull(a);
        int place = i * 37 % (N / 2); /* 37 and 100 share no factor: every place twice */
        a->survey = "test", a->alert_id = id, a->passband = "g", a->mag = 18, a->magerr = 0.1;
        a->ra = 3.6 * place, a->dec = -60 + 1.2 * place, a->mjd = i == 0 ? 60001.0 : 60000.5;
        ck_assert_msg(ssi_stage_put(st, p, &err) == 0, "%s", err.msg);
        ss_packet_reset(p);
    }
    ck_assert_msg(ssi_stage_sort(st, &err) == 0, "%s", err.msg);
    uint32_t last_pix = 0;
    int last_id = -1;
    for (int k = 0; k < N; k++) {
        ck_assert_int_eq(ssi_stage_decoder.next(st, p, NULL, &err), 1);
        const ss_alert *a = &p->alerts[0];
        ck_assert(a->mjd == 60000.5);
        uint32_t pix = ss_store_locus_sky_pixel(a->ra, a->dec);
        int id = atoi(a->alert_id);
        ck_assert_msg(k == 0 || pix > last_pix || (pix == last_pix && id > last_id),
                      "alert %d (pixel %u) after alert %d (pixel %u)", id, pix, last_id, last_pix);
        last_pix = pix, last_id = id;
        ss_packet_reset(p);
    }
    ck_assert_int_eq(ssi_stage_decoder.next(st, p, NULL, &err), 1);
    ck_assert_str_eq(p->alerts[0].alert_id, "0"); /* the later exposure */
    ss_packet_free(p);
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
    tcase_add_test(io, a_night_longer_than_a_block_reads_back_in_order_twice);
    tcase_add_test(io, an_exposure_comes_back_by_sky_pixel);
    suite_add_tcase(s, io);
    return tu_run_suite(s);
}
