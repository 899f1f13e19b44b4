/* A packet's memory: the arena's aligned allocations and the memory it keeps across resets for
 * the next packet, and properties reserved at once. */
#include "testutil.h"

#include "alert.h"
#include "arena.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Allocate @p total bytes in pieces of @p piece, writing each. */
static void fill(ss_arena *a, size_t total, size_t piece)
{
    for (size_t done = 0; done < total; done += piece) {
        unsigned char *p = ss_arena_alloc(a, piece);
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_eq((uintptr_t)p % _Alignof(max_align_t), 0);
        memset(p, 0x5a, piece);
        char *t = ss_arena_strndup(a, "odd", 3); /* text is packed: the next piece realigns */
        ck_assert_str_eq(t, "odd");
        done += 4;
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

START_TEST(reserved_props_keep_order_and_grow_once)
{
    ss_packet *p = ss_packet_new();
    ss_alert *a = ss_packet_add(p);
    ss_value v = {.type = SS_TYPE_INT};
    char name[16];
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "f%d", i);
        v.u.i = i;
        ck_assert_int_eq(ss_alert_add_prop(p, a, name, strlen(name), v), 0);
    }
    ck_assert_int_eq(ss_alert_reserve_props(p, a, 100), 0);
    ck_assert_uint_eq(a->capprops, 103);
    const ss_prop *before = a->props;
    for (int i = 3; i < 103; i++) {
        snprintf(name, sizeof name, "f%d", i);
        v.u.i = i;
        ck_assert_int_eq(ss_alert_add_prop(p, a, name, strlen(name), v), 0);
    }
    ck_assert_ptr_eq(a->props, before); /* no growth within what was reserved */
    ck_assert_int_eq(ss_alert_reserve_props(p, a, 0), 0);
    for (int i = 0; i < 103; i++) {
        snprintf(name, sizeof name, "f%d", i);
        ck_assert_str_eq(a->props[i].name, name);
        ck_assert_int_eq(a->props[i].value.u.i, i);
    }
    ck_assert_int_eq(ss_alert_reserve_props(p, a, UINT32_MAX), SS_ENOMEM);
    ss_packet_free(p);
}
END_TEST

START_TEST(borrowed_names_are_not_copied)
{
    static const char name[] = "ztf_magpsf";
    char text[] = "kept";
    ss_packet *p = ss_packet_new();
    ss_alert *a = ss_packet_add(p);
    ss_value v = {.type = SS_TYPE_STRING, .u.s = {text, 4}};
    ck_assert_int_eq(ss_alert_add_prop_borrowed(p, a, name, sizeof name - 1, v), 0);
    ck_assert_int_eq(ss_alert_add_prop(p, a, name, sizeof name - 1, v), 0);
    ck_assert_ptr_eq(a->props[0].name, name); /* borrowed */
    ck_assert_ptr_ne(a->props[1].name, name); /* copied */
    ck_assert_str_eq(a->props[1].name, name);
    text[0] = 'X'; /* values are copied either way */
    ck_assert_str_eq(a->props[0].value.u.s.ptr, "kept");
    ck_assert_str_eq(a->props[1].value.u.s.ptr, "kept");
    ss_packet_free(p);
}
END_TEST

/* A lent stamp is kept by pointer only by a packet whose user asked to borrow (and survives its
 * resets' setting); otherwise it is copied, as is its file name in both cases. */
START_TEST(lent_stamps_are_kept_by_pointer_only_when_borrowed)
{
    unsigned char stamp[64];
    char name[] = "sci.fits";
    memset(stamp, 7, sizeof stamp);
    ss_packet *p = ss_packet_new();
    ck_assert_int_eq(ss_packet_lend_cutout(p, SS_CUTOUT_SCIENCE, stamp, sizeof stamp, name), 0);
    ck_assert_ptr_ne(p->cutouts[SS_CUTOUT_SCIENCE].data, stamp);
    p->borrow_cutouts = 1;
    ss_packet_reset(p);
    ck_assert_int_eq(p->borrow_cutouts, 1);
    ck_assert_int_eq(ss_packet_lend_cutout(p, SS_CUTOUT_DIFFERENCE, stamp, sizeof stamp, name), 0);
    ck_assert_int_eq(ss_packet_set_cutout(p, SS_CUTOUT_TEMPLATE, stamp, sizeof stamp, NULL), 0);
    ck_assert_ptr_eq(p->cutouts[SS_CUTOUT_DIFFERENCE].data, stamp);
    ck_assert_uint_eq(p->cutouts[SS_CUTOUT_DIFFERENCE].len, sizeof stamp);
    ck_assert_ptr_ne(p->cutouts[SS_CUTOUT_TEMPLATE].data, stamp); /* set: always a copy */
    name[0] = 'X';
    ck_assert_str_eq(p->cutouts[SS_CUTOUT_DIFFERENCE].file_name, "sci.fits");
    ck_assert_ptr_null(p->cutouts[SS_CUTOUT_SCIENCE].data); /* the reset cleared it */
    p->skip_cutouts = 1;
    ck_assert_int_eq(ss_packet_lend_cutout(p, SS_CUTOUT_SCIENCE, stamp, sizeof stamp, NULL), 0);
    ck_assert_ptr_null(p->cutouts[SS_CUTOUT_SCIENCE].data);
    ck_assert_int_eq(ss_packet_lend_cutout(p, SS_CUTOUT__COUNT, stamp, 1, NULL), SS_EINVAL);
    ss_packet_free(p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("arena");
    TCase *tc = tcase_create("arena");
    tcase_add_test(tc, a_reset_keeps_a_packets_memory);
    tcase_add_test(tc, a_reset_gives_back_what_is_over_the_cap);
    tcase_add_test(tc, reserved_props_keep_order_and_grow_once);
    tcase_add_test(tc, borrowed_names_are_not_copied);
    tcase_add_test(tc, lent_stamps_are_kept_by_pointer_only_when_borrowed);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
