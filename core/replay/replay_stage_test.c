/*
 * The staging index's in-place sort (replay_stage.c) against the order it must give: by
 * observation time, ties in input order, on the inputs that break quicksorts (sorted, reversed,
 * all times equal, few distinct times, a median-of-three killer) and on random ones.
 */
#include "testutil.h"

#include "replay_impl.h"

#include <check.h>
#include <stdlib.h>

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

int main(void)
{
    Suite *s = suite_create("replay_stage");
    TCase *tc = tcase_create("index_sort");
    tcase_add_loop_test(tc, sorts_by_time_then_input_order, 0, 6);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
