/* The arena: aligned allocations, and memory kept across resets for the next packet. */
#include "testutil.h"

#include "arena.h"

#include <stdint.h>
#include <string.h>

/* Allocate @p total bytes in pieces of @p piece, writing each. */
static void fill(ss_arena *a, size_t total, size_t piece)
{
    for (size_t done = 0; done < total; done += piece) {
        unsigned char *p = ss_arena_alloc(a, piece);
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_eq((uintptr_t)p % _Alignof(max_align_t), 0);
        memset(p, 0x5a, piece);
    }
}

START_TEST(a_reset_keeps_a_packets_memory)
{
    ss_arena *a = ss_arena_new();
    ck_assert_ptr_nonnull(a);
    fill(a, 300 * 1024, 100);
    ck_assert_uint_ge(ss_arena_used(a), 300 * 1024);
    size_t held = ss_arena_reserved(a);
    ss_arena_reset(a);
    ck_assert_uint_eq(ss_arena_used(a), 0);
    ck_assert_uint_eq(ss_arena_reserved(a), held); /* kept, not freed */
    for (int round = 0; round < 5; round++) {      /* the same packet again needs no new chunk */
        fill(a, 300 * 1024, 100);
        ck_assert_uint_eq(ss_arena_reserved(a), held);
        ss_arena_reset(a);
    }
    /* a stamp larger than any chunk, then small pieces: both from what is kept when it fits */
    fill(a, 1, 200 * 1024);
    fill(a, 50 * 1024, 64);
    ss_arena_free(a);
}
END_TEST

START_TEST(a_reset_gives_back_what_is_over_the_cap)
{
    ss_arena *a = ss_arena_new();
    fill(a, 8 * 1024 * 1024, 4096);
    ck_assert_uint_ge(ss_arena_reserved(a), 8 * 1024 * 1024);
    ss_arena_reset(a);
    ck_assert_uint_le(ss_arena_reserved(a), 1024 * 1024 + 64 * 1024);
    ck_assert_uint_gt(ss_arena_reserved(a), 512 * 1024);
    ss_arena_free(a);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("arena");
    TCase *tc = tcase_create("arena");
    tcase_add_test(tc, a_reset_keeps_a_packets_memory);
    tcase_add_test(tc, a_reset_gives_back_what_is_over_the_cap);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
