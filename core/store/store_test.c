/* Unit tests of the core's building blocks: geometry, zones, locus ids, records, store opening. */
#include "testutil.h"

#include "catalog.h"
#include "locus_id.h"
#include "store_impl.h"
#include "store_table.h"
#include "verify.h"
#include "record.h"
#include "rng.h"
#include "sky.h"
#include "ingest.h"
#include "query.h"
#include "store.h"

#include <errno.h>
#include <lmdb.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

START_TEST(separation_is_accurate)
{
    ck_assert_double_eq_tol(ss_sky_separation_deg(10, 20, 10, 21), 1.0, 1e-12);
    /* 1 arcsec in RA at dec 60 is 0.5 arcsec on the sky */
    ck_assert_double_eq_tol(ss_sky_separation_deg(100, 60, 100 + 1 / 3600.0, 60) * 3600, 0.5, 1e-6);
    /* across RA 0/360 */
    ck_assert_double_eq_tol(ss_sky_separation_deg(359.9999, 0, 0.0001, 0) * 3600, 0.72, 1e-9);
    /* at the pole every RA is the same point */
    ck_assert_double_eq_tol(ss_sky_separation_deg(0, 90, 180, 90), 0.0, 1e-12);
    ck_assert_double_eq_tol(ss_sky_separation_deg(0, 0, 180, 0), 180.0, 1e-12);
}
END_TEST

START_TEST(vector_round_trip)
{
    const double pts[][2] = {{0, 0}, {359.999999, -45}, {123.456, 89.9999}, {0.000001, -89.9}};
    for (size_t i = 0; i < sizeof pts / sizeof *pts; i++) {
        double ra, dec;
        ss_sky_vec_to_radec(ss_sky_radec_to_vec(pts[i][0], pts[i][1]), &ra, &dec);
        ck_assert_double_lt(ss_sky_separation_deg(ra, dec, pts[i][0], pts[i][1]), 1e-10);
        ck_assert(ra >= 0 && ra < 360);
    }
}
END_TEST

START_TEST(cone_ranges_wrap_and_poles)
{
    ss_ra_range rr[2];
    ck_assert_int_eq(ss_sky_cone_ra_ranges(180, 0, 1, rr), 1);
    ck_assert_double_eq_tol(rr[0].lo, 179, 1e-6);
    ck_assert_double_eq_tol(rr[0].hi, 181, 1e-6);
    ck_assert_int_eq(ss_sky_cone_ra_ranges(0.5, 0, 1, rr), 2);
    ck_assert_double_eq_tol(rr[0].hi, 1.5, 1e-6);
    ck_assert_double_eq_tol(rr[1].lo, 359.5, 1e-6);
    ck_assert_int_eq(ss_sky_cone_ra_ranges(359.5, 0, 1, rr), 2);
    ck_assert_double_eq_tol(rr[1].hi, 0.5, 1e-6);
    /* a cone holding the pole covers every RA */
    ck_assert_int_eq(ss_sky_cone_ra_ranges(10, 89.9995, 2 / 3600.0, rr), 1);
    ck_assert_double_eq(rr[0].lo, 0);
    ck_assert_double_eq(rr[0].hi, 360);
    /* near the pole the RA width grows as 1/cos(dec) */
    ck_assert_double_eq_tol(ss_sky_ra_halfwidth(60, 1), 2.0, 1e-3);
}
END_TEST

START_TEST(zones_are_monotonic)
{
    double h = 8 / 3600.0;
    ck_assert_uint_eq(ss_sky_zone_of(-90, h), 0);
    ck_assert_uint_lt(ss_sky_zone_of(-1, h), ss_sky_zone_of(1, h));
    ck_assert_uint_eq(ss_sky_zone_of(90, h), (uint32_t)floor(180 / h));
    ck_assert_uint_lt(ss_sky_ra_key(10.0), ss_sky_ra_key(10.000000002));
}
END_TEST

START_TEST(locus_ids_unique_readable_stable)
{
    char a[SS_LOCUS_ID_LEN + 1], b[SS_LOCUS_ID_LEN + 1];
    ss_store_locus_id_make(0, 60000.5, a);
    ck_assert(ss_store_locus_id_valid(a));
    ck_assert_int_eq(strncmp(a, "SKS2023", 7), 0);
    ck_assert_str_ne(a + 7, "000000000000");
    ss_store_locus_id_make(0, 60000.5, b);
    ck_assert_str_eq(a, b);
    /* neighbouring sequence numbers give unrelated-looking, distinct ids */
    enum { N = 100000 };
    char(*seen)[SS_LOCUS_ID_LEN + 1] = malloc(N * sizeof *seen);
    for (int i = 0; i < N; i++)
        ss_store_locus_id_make((uint64_t)i, 60000.5, seen[i]);
    ck_assert_int_ne(strncmp(seen[0] + 7, seen[1] + 7, 6), 0);
    qsort(seen, N, sizeof *seen, (int (*)(const void *, const void *))strcmp);
    int same = 0;
    for (int i = 1; i < N; i++)
        same += strcmp(seen[i - 1], seen[i]) == 0;
    ck_assert_int_eq(same, 0);
    free(seen);
    ck_assert(!ss_store_locus_id_valid("SKS2023abc"));
    ck_assert(!ss_store_locus_id_valid("ANT2023000000000000"));
    ck_assert(!ss_store_locus_id_valid("SKS2023iiiiiiiiiiii")); /* 'i' is not in the alphabet */
    ck_assert_int_eq(ss_store_mjd_year(51544.0), 2000);
}
END_TEST

/* The instance a locus id encodes comes back for every sequence, including the extremes. */
START_TEST(locus_id_instance_round_trips)
{
    const unsigned instances[] = {0, 1, 2, 7, 100, 2048, SS_MAX_INSTANCE};
    const uint64_t edges[] = {0, 1, 2, 0x5DEECE66D, (UINT64_C(1) << 48) - 1};
    uint64_t x = 88172645463325252u; /* xorshift64: sequences all over the 48 bits */
    char id[SS_LOCUS_ID_LEN + 1];
    for (size_t i = 0; i < sizeof instances / sizeof *instances; i++) {
        uint64_t base = (uint64_t)instances[i] << 48;
        for (size_t e = 0; e < sizeof edges / sizeof *edges; e++) {
            ss_store_locus_id_make(base | edges[e], 60000.5, id);
            ck_assert_uint_eq(ss_store_locus_id_instance(id), instances[i]);
        }
        for (int n = 0; n < 20000; n++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            ss_store_locus_id_make(base | (x & ((UINT64_C(1) << 48) - 1)), 59000 + n, id);
            ck_assert_uint_eq(ss_store_locus_id_instance(id), instances[i]);
        }
    }
    ck_assert_uint_eq(ss_store_locus_id_instance("not an id"), 0);
    ck_assert_uint_eq(ss_store_locus_id_instance("SKS2023iiiiiiiiiiii"), 0);
}
END_TEST

/* SKY ids: the pixel, instance and number come back; they sort by pixel, then number; the pixel
 * is HEALPix's (order 11 is 1.7 arcmin: neighbours 1 arcsec apart mostly share one, points 10
 * degrees apart never do). */
START_TEST(sky_locus_ids_follow_the_sky)
{
    char a[SS_LOCUS_ID_LEN + 1], b[SS_LOCUS_ID_LEN + 1], year[4];
    uint64_t pa, pb;
    unsigned inst;
    uint32_t n;
    ss_store_locus_id_sky(150.0, 2.2, 3, 5, 61000.5, a);
    ck_assert(ss_store_locus_id_valid(a));
    ck_assert_int_eq(strncmp(a, "SKY2025", 7), 0);
    ck_assert_int_eq(ss_store_locus_id_sky_parts(a, year, &pa, &inst, &n), 0);
    ck_assert_int_eq(memcmp(year, "2025", 4), 0);
    ck_assert_uint_eq(inst, 3);
    ck_assert_uint_eq(n, 5);
    ck_assert_uint_eq(ss_store_locus_id_instance(a), 3);
    ck_assert_uint_lt(pa, (uint64_t)12 << (2 * SS_LOCUS_SKY_ORDER));
    ss_store_locus_id_sky(150.0, 2.2, 3, 6, 61000.5, b);
    ck_assert_int_lt(strcmp(a, b), 0); /* the next number sorts next */
    ss_store_locus_id_sky(150.0, 12.2, 3, 0, 61000.5, b);
    ck_assert_int_eq(ss_store_locus_id_sky_parts(b, year, &pb, &inst, &n), 0);
    ck_assert_uint_ne(pa, pb);
    ck_assert_int_eq(strcmp(a, b) < 0, pa < pb); /* text order is pixel order */
    int same = 0;
    for (int i = 0; i < 1000; i++) {
        ss_store_locus_id_sky(150.0 + i * 0.1, 2.2, 0, 0, 61000.5, a);
        ss_store_locus_id_sky(150.0 + i * 0.1 + 1 / 3600.0, 2.2, 0, 0, 61000.5, b);
        same += !strcmp(a, b);
    }
    ck_assert_int_gt(same, 900);
    ss_store_locus_id_sky(NAN, INFINITY, SS_MAX_INSTANCE, SS_LOCUS_SKY_NMAX, 61000.5, a);
    ck_assert(ss_store_locus_id_valid(a));
    ck_assert_int_eq(ss_store_locus_id_sky_parts(a, year, &pa, &inst, &n), 0);
    ck_assert_uint_eq(inst, SS_MAX_INSTANCE);
    ck_assert_uint_eq(n, SS_LOCUS_SKY_NMAX);
    ss_store_locus_id_make(5, 61000.5, a);
    ck_assert_int_eq(ss_store_locus_id_sky_parts(a, year, &pa, &inst, &n), -1);
}
END_TEST

/* A new locus at @p ra, dec 5, written; @return its number in its pixel. */
static uint32_t new_sky_locus(ss_store_txn *t, double ra)
{
    ss_locus l = {.ra = ra, .dec = 5, .num_alerts = 1};
    char year[4];
    uint64_t pix;
    unsigned inst;
    uint32_t n;
    ck_assert_int_eq(ss_store_locus_new_id(t, 61000, ra, 5, l.id), 0);
    ck_assert_int_eq(ss_store_locus_id_sky_parts(l.id, year, &pix, &inst, &n), 0);
    ck_assert_int_eq(ss_store_locus_put(t, &l), 0);
    return n;
}

/* A store gives each new locus the next number of its pixel, in one transaction and the next;
 * an aborted locus's number is given again; another pixel counts on its own. */
START_TEST(store_numbers_loci_per_pixel)
{
    char *tmp = tu_mkdtemp(), *dir = tu_path(tmp, "store");
    ss_store_options o = {.create = 1};
    ss_store *s = NULL;
    ss_store_txn *t;
    ss_err err = {0};
    ck_assert_msg(ss_store_open(dir, &o, &s, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    ck_assert_uint_eq(new_sky_locus(t, 10), 0);
    ck_assert_uint_eq(new_sky_locus(t, 10.0001), 1);
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    ck_assert_uint_eq(new_sky_locus(t, 10), 2);
    ss_store_txn_abort(t);
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    ck_assert_uint_eq(new_sky_locus(t, 10), 2);
    ck_assert_uint_eq(new_sky_locus(t, 80), 0);
    ck_assert_uint_eq(new_sky_locus(t, 10.0002), 3);
    /* a pixel whose last number is taken gives no more */
    ss_locus full = {.ra = 200, .dec = 5, .num_alerts = 1};
    ss_store_locus_id_sky(200, 5, 0, SS_LOCUS_SKY_NMAX, 61000, full.id);
    ck_assert_int_eq(ss_store_locus_put(t, &full), 0);
    ck_assert_int_eq(ss_store_locus_new_id(t, 61000, 200, 5, full.id), SS_ELIMIT);
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
    ss_store_close(s);
    free(dir);
    tu_rmtree(tmp);
    free(tmp);
}
END_TEST

/* A store of instance 7 gives out ids that say 7. */
START_TEST(locus_id_instance_of_a_stores_ids)
{
    char *tmp = tu_mkdtemp(), *dir = tu_path(tmp, "store");
    ss_store_options o = {.create = 1, .instance = 7};
    ss_store *s = NULL;
    ss_store_txn *t;
    ss_err err = {0};
    char id[SS_LOCUS_ID_LEN + 1];
    ck_assert_msg(ss_store_open(dir, &o, &s, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(ss_store_locus_new_id(t, 60000, 10.0 * i, -20, id), 0);
        ck_assert_uint_eq(ss_store_locus_id_instance(id), 7);
    }
    ss_store_txn_abort(t);
    ss_store_close(s);
    free(dir);
    tu_rmtree(tmp);
    free(tmp);
}
END_TEST

static void fill_locus(ss_locus *l)
{
    memset(l, 0, sizeof *l);
    strcpy(l->id, "SKS2023abcdefghjkmn");
    l->ra = 12.5, l->dec = -33.25, l->sx = 1, l->sy = 2, l->sz = 3;
    l->num_pos = 2, l->num_alerts = 3, l->num_mag_values = 2;
    strcpy(l->oldest.alert_id, "a1");
    l->oldest.mjd = 60000, l->oldest.mag = 18;
    strcpy(l->newest.alert_id, "a3");
    l->newest.mjd = 60002, l->newest.mag = NAN;
    l->nbands = 2;
    strcpy(l->bands[0].passband, "g");
    l->bands[0].num_alerts = 2;
    l->bands[0].newest_mag = 18.2;
    strcpy(l->bands[1].passband, "r");
    l->nobjects = 1;
    strcpy(l->objects[0].survey, "ztf");
    strcpy(l->objects[0].object_id, "ZTF18aaaaaaa");
}

START_TEST(locus_record_round_trip_and_truncation)
{
    ss_locus l, back;
    ss_wbuf b = {0};
    fill_locus(&l);
    ssi_locus_encode(&l, &b);
    ck_assert_int_eq(ssi_locus_decode(b.data, b.len, &back), 0);
    ck_assert_double_eq(back.dec, -33.25);
    ck_assert_uint_eq(back.num_alerts, 3);
    ck_assert_str_eq(back.newest.alert_id, "a3");
    ck_assert(isnan(back.newest.mag));
    ck_assert_uint_eq(back.nbands, 2);
    ck_assert_double_eq(back.bands[0].newest_mag, 18.2);
    ck_assert_str_eq(back.objects[0].object_id, "ZTF18aaaaaaa");
    for (size_t n = 0; n < b.len; n++) /* every truncation is detected, none read past the end */
        ck_assert_int_eq(ssi_locus_decode(b.data, n, &back), SS_ECORRUPT);
    ss_wbuf_free(&b);
}
END_TEST

START_TEST(alert_record_round_trip)
{
    ss_packet *p = ss_packet_new();
    ss_alert *a = ss_packet_add(p);
    a->survey = "ztf", a->alert_id = "123", a->object_id = "ZTF1", a->passband = "g";
    a->ra = 1, a->dec = 2, a->mjd = 60000.25, a->mag = 19, a->magerr = 0.1;
    a->origin = "x.csv", a->line = 7;
    ss_value vi = {.type = SS_TYPE_INT, .u.i = -5}, vs = {.type = SS_TYPE_STRING};
    vs.u.s.ptr = "hello", vs.u.s.len = 5;
    ck_assert_int_eq(ss_alert_add_prop(p, a, "n", 1, vi), 0);
    ck_assert_int_eq(ss_alert_add_prop(p, a, "s", 1, vs), 0);
    ss_wbuf b = {0};
    ss_store_alert_encode(a, "SKS2023abcdefghjkmn", &b);
    ss_packet *q = ss_packet_new();
    ss_alert *back = ss_packet_add(q);
    char locus[SS_LOCUS_ID_LEN + 1];
    ck_assert_int_eq(ss_store_alert_decode(b.data, b.len, q, back, locus), 0);
    ck_assert_str_eq(locus, "SKS2023abcdefghjkmn");
    ck_assert_str_eq(back->object_id, "ZTF1");
    ck_assert_uint_eq(back->line, 7);
    ck_assert_uint_eq(back->nprops, 2);
    ck_assert_int_eq(back->props[0].value.u.i, -5);
    ck_assert_int_eq(back->props[1].value.type, SS_TYPE_STRING);
    ck_assert_int_eq(memcmp(back->props[1].value.u.s.ptr, "hello", 5), 0);
    ck_assert(isnan(back->maglim));
    ck_assert(isnan(back->flux));
    for (size_t n = 0; n + 1 < b.len; n += 3) {
        ss_packet_reset(q);
        back = ss_packet_add(q);
        ck_assert_int_eq(ss_store_alert_decode(b.data, n, q, back, locus), SS_ECORRUPT);
    }
    ss_wbuf_free(&b);
    ss_packet_free(p);
    ss_packet_free(q);
}
END_TEST

/* Format 2 stores hold version 1 alert records (no flux); they must still read, and forced
 * measurements keep their flux. */
START_TEST(version_1_alert_records_and_forced_photometry)
{
    ss_wbuf b = {0};
    ss_wbuf_u8(&b, 1);
    ss_wbuf_u8(&b, SS_ALERT_UPPER_LIMIT);
    const char *strs[] = {"ztf", "ul-1", "SKS2023abcdefghjkmn", NULL, "r", "in.avro"};
    for (int i = 0; i < 6; i++)
        ss_wbuf_str(&b, strs[i]);
    ss_wbuf_u64(&b, 3);
    const double nums[6] = {NAN, NAN, 60001.5, NAN, NAN, 20.25};
    for (int i = 0; i < 6; i++)
        ss_wbuf_f64(&b, nums[i]);
    ss_wbuf_u32(&b, 0);
    ss_packet *q = ss_packet_new();
    ss_alert *a = ss_packet_add(q);
    char locus[SS_LOCUS_ID_LEN + 1];
    ck_assert_int_eq(ss_store_alert_decode(b.data, b.len, q, a, locus), 0);
    ck_assert_int_eq(a->kind, SS_ALERT_UPPER_LIMIT);
    ck_assert(a->maglim == 20.25 && isnan(a->flux) && isnan(a->fluxerr));
    b.data[1] = 7; /* no such kind */
    ck_assert_int_eq(ss_store_alert_decode(b.data, b.len, q, a, locus), SS_ECORRUPT);
    ss_alert *f = ss_packet_add(q);
    f->survey = "lsst", f->alert_id = "fs-9", f->passband = "g", f->mjd = 60002;
    f->kind = SS_ALERT_FORCED, f->flux = -1250.5, f->fluxerr = 80;
    ss_reject rej;
    ck_assert_int_eq(ss_alert_validate(f, 0, &rej), 0);
    ss_store_alert_encode(f, "SKS2023abcdefghjkmn", &b);
    ss_alert *back = ss_packet_add(q);
    ck_assert_int_eq(ss_store_alert_decode(b.data, b.len, q, back, locus), 0);
    ck_assert_int_eq(back->kind, SS_ALERT_FORCED);
    ck_assert(back->flux == -1250.5 && back->fluxerr == 80);
    back->flux = NAN; /* a forced measurement without a flux is refused */
    ck_assert_int_eq(ss_alert_validate(back, 0, &rej), SS_EREJECT);
    ck_assert_ptr_nonnull(strstr(rej.detail, "flux"));
    ss_wbuf_free(&b);
    ss_packet_free(q);
}
END_TEST

static int dir_is_empty_or_absent(const char *dir)
{
    char *cmd = NULL;
    ck_assert_int_ge(asprintf(&cmd, "test -z \"$(ls -A '%s' 2>/dev/null)\"", dir), 0);
    int rc = system(cmd);
    free(cmd);
    return rc == 0;
}

START_TEST(store_open_refuses_what_it_cannot_use)
{
    char *tmp = tu_mkdtemp();
    ss_err err = {0};
    ss_store *s = NULL;
    ss_store_options ro = {.readonly = 1}, rw = {.create = 1};

    char *missing = tu_path(tmp, "missing");
    ck_assert_int_eq(ss_store_open(missing, &ro, &s, &err), SS_ENOSTORE);
    ck_assert_ptr_nonnull(strstr(err.msg, missing));
    ck_assert(dir_is_empty_or_absent(missing));

    char *deep = tu_path(tmp, "no/such/parent");
    ck_assert_int_eq(ss_store_open(deep, &rw, &s, &err), ENOENT);

    char *other = tu_path(tmp, "other");
    mkdir(other, 0755);
    free(tu_write(other, "notes.txt", "not a store\n"));
    ck_assert_int_eq(ss_store_open(other, &rw, &s, &err), SS_ENOTSTORE);
    ck_assert_ptr_nonnull(strstr(err.msg, "not empty"));

    char *garbage = tu_path(tmp, "garbage");
    mkdir(garbage, 0755);
    free(tu_write(garbage, "data.mdb", "this is not an LMDB file at all, just some text......"));
    ck_assert_int_eq(ss_store_open(garbage, &rw, &s, &err), SS_ENOTSTORE);

    char *file = tu_write(tmp, "plain", "x");
    ck_assert_int_eq(ss_store_open(file, &rw, &s, &err), SS_ENOTSTORE);
    ck_assert_ptr_null(s);

    free(missing), free(deep), free(other), free(garbage), free(file);
    tu_rmtree(tmp);
    free(tmp);
}
END_TEST

/* In a child process: open @p dir with @p o. @return the child's exit status: 0 opened, 1 refused
 * with SS_ELOCKED naming @p holder's pid as the writer, 2 anything else. */
static int open_in_child(const char *dir, ss_store_options o, pid_t holder)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        ss_store *s = NULL;
        ss_err err = {0};
        char want[64];
        snprintf(want, sizeof want, "written by skysieve pid %ld ", (long)holder);
        int rc = ss_store_open(dir, &o, &s, &err);
        ss_store_close(s);
        if (rc == SS_ELOCKED && !strstr(err.msg, want))
            fprintf(stderr, "refusal without '%s': %s\n", want, err.msg);
        _exit(rc == 0 ? 0 : rc == SS_ELOCKED && strstr(err.msg, want) ? 1 : 2);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 3;
}

/* One writer per store: a second read-write open, from another process or this one, is refused
 * with SS_ELOCKED naming the writer's pid; readers are never refused; closing frees the role. */
/* LMDB's own codes read as LMDB words them, ours as ours, errno as the C library's: a store that
 * could not grow its map once read "unknown error". */
START_TEST(error_codes_read_as_their_library_words_them)
{
    ck_assert_ptr_nonnull(strstr(ss_strerror(MDB_MAP_RESIZED), "MDB_MAP_RESIZED"));
    ck_assert_ptr_nonnull(strstr(ss_strerror(MDB_KEYEXIST), "MDB_KEYEXIST"));
    ck_assert_ptr_nonnull(strstr(ss_strerror(MDB_LAST_ERRCODE), "MDB_"));
    ck_assert_str_eq(ss_strerror(SS_ELOCKED), "held by another process");
    ck_assert_str_eq(ss_strerror(ENOSPC), strerror(ENOSPC));
    ck_assert_str_eq(ss_strerror(MDB_KEYEXIST - 1), "unknown error");
    ss_err err = {0};
    ck_assert_int_eq(ss_store_fail(NULL, &err, MDB_MAP_RESIZED, "growing the map"),
                     MDB_MAP_RESIZED);
    ck_assert_msg(strstr(err.msg, "growing the map: MDB_MAP_RESIZED"), "%s", err.msg);
}
END_TEST

START_TEST(one_writer_per_store)
{
    char *dir = tu_path(tu_tmp, "st");
    ss_store_options rw = {.create = 1}, ro = {.readonly = 1};
    ss_store *w = NULL, *again = NULL;
    ss_err err = {0};
    ck_assert_int_eq(ss_store_open(dir, &rw, &w, &err), 0);
    ck_assert_int_eq(open_in_child(dir, rw, getpid()), 1);
    ck_assert_int_eq(open_in_child(dir, ro, getpid()), 0);
    ck_assert_int_eq(ss_store_open(dir, &rw, &again, &err), SS_ELOCKED);
    ck_assert_ptr_null(again);
    ck_assert_ptr_nonnull(strstr(err.msg, dir));
    ck_assert_str_eq(ss_strerror(SS_ELOCKED), "held by another process");
    ss_store_close(w);
    ck_assert_int_eq(open_in_child(dir, rw, 0), 0);
    /* a refused open leaves no lock file behind */
    char *garbage = tu_path(tu_tmp, "garbage");
    mkdir(garbage, 0755);
    free(tu_write(garbage, "data.mdb", "this is not an LMDB file at all, just some text......"));
    ck_assert_int_eq(ss_store_open(garbage, &rw, &again, &err), SS_ENOTSTORE);
    char *lock = tu_path(garbage, "writer.lock");
    struct stat st;
    ck_assert_int_ne(stat(lock, &st), 0);
    free(lock), free(garbage), free(dir);
}
END_TEST

/* Put a key in an LMDB environment directly, as another program or a newer skysieve would. */
static void raw_put(const char *dir, const char *db, const char *key, const void *val, size_t n)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    ck_assert_int_eq(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 16);
    ck_assert_int_eq(mdb_env_open(env, dir, 0, 0644), 0);
    ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, db, MDB_CREATE, &dbi), 0);
    MDB_val k = {strlen(key), (void *)key}, v = {n, (void *)val};
    ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
    ck_assert_int_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

START_TEST(store_versions_and_settings)
{
    char *tmp = tu_mkdtemp();
    ss_err err = {0};
    ss_store *s = NULL;
    ss_store_options rw = {.create = 1, .radius_arcsec = 1.5};
    char *dir = tu_path(tmp, "store");
    ck_assert_int_eq(ss_store_open(dir, &rw, &s, &err), 0);
    ck_assert_double_eq(ss_store_radius_arcsec(s), 1.5);
    ss_store_close(s);

    ss_store_options other = {.create = 1, .radius_arcsec = 2};
    ck_assert_int_eq(ss_store_open(dir, &other, &s, &err), SS_ESETTINGS);
    ss_store_options keep = {.readonly = 1};
    ck_assert_int_eq(ss_store_open(dir, &keep, &s, &err), 0);
    ck_assert_double_eq(ss_store_radius_arcsec(s), 1.5);
    ss_store_close(s);

    uint32_t newer = SS_STORE_FORMAT_VERSION + 1;
    raw_put(dir, "meta", "format", &newer, sizeof newer);
    ck_assert_int_eq(ss_store_open(dir, &keep, &s, &err), SS_EVERSION);
    ck_assert_ptr_nonnull(strstr(err.msg, "newer"));

    char *foreign = tu_path(tmp, "foreign");
    mkdir(foreign, 0755);
    raw_put(foreign, "stuff", "k", "v", 1);
    ck_assert_int_eq(ss_store_open(foreign, &rw, &s, &err), SS_ENOTSTORE);

    free(dir), free(foreign);
    tu_rmtree(tmp);
    free(tmp);
}
END_TEST

static void records_to_version_4(const char *dir);

/* Make a format 1 store out of a new one: format 1 had no filter-output tables. */
static void downgrade_to_v1(const char *dir)
{
    records_to_version_4(dir);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    ck_assert_int_eq(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 16);
    ck_assert_int_eq(mdb_env_open(env, dir, 0, 0644), 0);
    ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    const char *tables[] = {"locus_props", "alert_props", "tags", "tag_index"};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(mdb_dbi_open(txn, tables[i], 0, &dbi), 0);
        ck_assert_int_eq(mdb_drop(txn, dbi, 1), 0);
    }
    uint32_t one = 1;
    ck_assert_int_eq(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    MDB_val k = {6, "format"}, v = {sizeof one, &one};
    ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
    ck_assert_int_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

START_TEST(format_1_stores_are_read_and_upgraded)
{
    char *tmp = tu_mkdtemp(), *dir = tu_path(tmp, "store");
    char *csv = tu_write(tmp, "a.csv",
                         "alert_id,ra,dec,mjd,passband,mag,magerr,object_id\n"
                         "a1,1,2,60000,g,18,0.1,OBJ\n");
    ss_store *s = NULL;
    ss_err err = {0};
    ss_store_options rw = {.create = 1}, ro = {.readonly = 1};
    ck_assert_int_eq(ss_store_open(dir, &rw, &s, &err), 0);
    ss_ingest *in = ss_ingest_new(s, NULL);
    ck_assert_int_eq(ss_ingest_path(in, csv, &err), 0);
    ck_assert_int_eq(ss_ingest_finish(in, NULL, &err), 0);
    ss_ingest_free(in);
    ss_store_close(s);
    downgrade_to_v1(dir);
    /* read-only: readable, no filter outputs, nothing written */
    ck_assert_int_eq(ss_store_open(dir, &ro, &s, &err), 0);
    json_t *o = NULL;
    ck_assert_msg(ss_query_locus(s, "OBJ", NULL, &o, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(json_array_size(json_object_get(o, "tags")), 0);
    json_decref(o);
    ck_assert_int_eq(ss_query_tagged(s, "any", 0, stdout, &err), 0);
    ss_store_close(s);
    /* read-write: upgraded in place */
    ck_assert_int_eq(ss_store_open(dir, &rw, &s, &err), 0);
    ss_store_close(s);
    ck_assert_int_eq(ss_store_open(dir, &ro, &s, &err), 0);
    json_t *st = NULL;
    ck_assert_int_eq(ss_query_stats(s, &st, &err), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(st, "format_version")),
                     SS_STORE_FORMAT_VERSION);
    json_decref(st);
    ss_store_close(s);
    free(csv), free(dir);
    tu_rmtree(tmp);
    free(tmp);
}
END_TEST

/* ---- format 6: loci_newest and catalog_loci ---- */

#define ROWS_HEADER "alert_id,ra,dec,mjd,passband,mag,magerr,object_id\n"

/* Store @p name under the test's directory, opened with @p o (created when absent). */
static ss_store *open_with(const char *name, ss_store_options o)
{
    char *dir = tu_path(tu_tmp, name);
    ss_store *s = NULL;
    ss_err err = {0};
    ck_assert_msg(ss_store_open(dir, &o, &s, &err) == 0, "%s", err.msg);
    free(dir);
    return s;
}

static ss_store *open_rw(const char *name)
{
    return open_with(name, (ss_store_options){.create = 1});
}

static void ingest_rows(ss_store *s, const char *rows)
{
    static int n;
    char name[32], *text = NULL;
    snprintf(name, sizeof name, "rows%d.csv", n++);
    ck_assert_int_ge(asprintf(&text, "%s%s", ROWS_HEADER, rows), 0);
    char *path = tu_write(tu_tmp, name, text);
    ss_ingest *in = ss_ingest_new(s, NULL);
    ss_err err = {0};
    ck_assert_msg(ss_ingest_path(in, path, &err) == 0, "%s", err.msg);
    ck_assert_msg(ss_ingest_finish(in, NULL, &err) == 0, "%s", err.msg);
    ss_ingest_free(in);
    free(path), free(text);
}

/* The entries of one of the store's tables, counted through LMDB. */
static size_t table_entries(ss_store *s, MDB_dbi dbi)
{
    ss_store_txn *t;
    MDB_stat st;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    ck_assert_int_eq(mdb_stat(t->txn, dbi, &st), 0);
    ss_store_txn_abort(t);
    return st.ms_entries;
}

static size_t table_entries_txn(ss_store_txn *t, MDB_dbi dbi)
{
    MDB_stat st;
    ck_assert_int_eq(mdb_stat(t->txn, dbi, &st), 0);
    return st.ms_entries;
}

/* The MJD loci_newest holds for a locus (NAN when it has no entry; fails on two). */
static double newest_entry(ss_store *s, const char *locus_id)
{
    ss_store_txn *t;
    MDB_cursor *cur;
    MDB_val k, v;
    double found = NAN;
    int seen = 0;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    ck_assert_int_eq(mdb_cursor_open(t->txn, s->loci_newest, &cur), 0);
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        ck_assert_uint_eq(k.mv_size, SSI_NEWEST_KEY);
        if (memcmp((char *)k.mv_data + 8, locus_id, SS_LOCUS_ID_LEN))
            continue;
        uint64_t bits = ss_be64_get(k.mv_data);
        memcpy(&found, &bits, sizeof found);
        seen++;
    }
    mdb_cursor_close(cur);
    ss_store_txn_abort(t);
    ck_assert_int_le(seen, 1);
    return found;
}

/* The id of the locus of survey object @p object. */
static void locus_of(ss_store *s, const char *object, char id[SS_LOCUS_ID_LEN + 1])
{
    json_t *o = NULL;
    ss_err err = {0};
    ck_assert_msg(ss_query_locus(s, object, NULL, &o, &err) == 0, "%s", err.msg);
    snprintf(id, SS_LOCUS_ID_LEN + 1, "%s", json_string_value(json_object_get(o, "locus_id")));
    json_decref(o);
}

/* Verify @p s: its report, and the problems' text in *@p text (the caller frees it). */
static ss_verify_report verified(ss_store *s, char **text)
{
    size_t len;
    FILE *f = open_memstream(text, &len);
    ss_verify_report r;
    ss_err err = {0};
    ck_assert_msg(ss_store_verify(s, f, &r, &err) == 0, "%s", err.msg);
    fclose(f);
    return r;
}

static uint64_t verify_problems(ss_store *s, char **text)
{
    return verified(s, text).problems;
}

/* An older store @p ro, opened read-only, passes verify as it is; closed and opened read-write
 * ("st"), it is of the current format. @return the read-write handle. */
static ss_store *upgraded(ss_store *ro)
{
    char *text;
    ss_store_info info;
    ck_assert_uint_eq(verify_problems(ro, &text), 0);
    free(text);
    ss_store_close(ro);
    ss_store *s = open_rw("st");
    ck_assert_int_eq(ss_store_info_get(s, &info), 0);
    ck_assert_uint_eq(info.format, SS_STORE_FORMAT_VERSION);
    return s;
}

typedef struct tables_seen {
    uint64_t pages, alerts, locus_alerts, calls;
    uint64_t stop_at; /* the call that stops the walk (0: none) */
    int newest;       /* loci_newest was visited */
} tables_seen;

static int count_table(void *ctx, const ss_store_table_use *u)
{
    tables_seen *t = ctx;
    ck_assert_uint_le(u->overflow_pages, u->pages);
    t->pages += u->pages;
    if (!strcmp(u->name, "alerts"))
        t->alerts = u->entries;
    if (!strcmp(u->name, "locus_alerts"))
        t->locus_alerts = u->entries;
    t->newest |= !strcmp(u->name, "loci_newest");
    return ++t->calls == t->stop_at ? 42 : 0;
}

/* The footprint of @p s, checked to add up to its used bytes. */
static tables_seen footprint_of(ss_store *s, ss_store_footprint_info *fp)
{
    ss_store_txn *t;
    ss_store_info info;
    tables_seen seen = {0};
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    ck_assert_int_eq(ss_store_footprint(t, count_table, &seen, fp), 0);
    ss_store_txn_abort(t);
    ck_assert_int_eq(ss_store_info_get(s, &info), 0);
    ck_assert_uint_ge(fp->lmdb_pages, 2);
    ck_assert_uint_eq((seen.pages + fp->free_pages + fp->lmdb_pages) * fp->page_size,
                      info.used_bytes);
    return seen;
}

/* Every page of the file is a table's, a free one or LMDB's own: the footprint adds up to the
 * used bytes once writes have freed pages, and the visitor can stop the walk. */
START_TEST(footprint_accounts_for_every_page)
{
    ss_store *s = open_rw("st");
    ingest_rows(s, "a1,10,20,60000.5,g,18,0.1,OBJ\nb1,50,-5,60001,g,18,0.1,OTHER\n");
    ingest_rows(s, "a2,10,20,60002.5,r,18.2,0.1,OBJ\n");
    ss_store_footprint_info fp;
    tables_seen seen = footprint_of(s, &fp), stop = {.stop_at = 2};
    ck_assert_uint_eq(seen.alerts, 3);
    ck_assert_uint_eq(seen.locus_alerts, 3);
    ck_assert_uint_gt(seen.calls, 20);
    ck_assert(seen.newest);
    ck_assert_uint_gt(fp.free_pages, 0); /* the pages the second ingest rewrote */
    ss_store_txn *t;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    ck_assert_int_eq(ss_store_footprint(t, count_table, &stop, &fp), 42);
    ck_assert_uint_eq(stop.calls, 2);
    ss_store_txn_abort(t);
    ss_store_close(s);
}
END_TEST

START_TEST(loci_newest_follows_the_newest_alert)
{
    ss_store *s = open_rw("st");
    char id[SS_LOCUS_ID_LEN + 1], *text;
    ingest_rows(s, "a1,10,20,60000.5,g,18,0.1,OBJ\nb1,50,-5,60001,g,18,0.1,OTHER\n");
    locus_of(s, "OBJ", id);
    ck_assert_double_eq(newest_entry(s, id), 60000.5);
    ingest_rows(s, "a2,10,20,60003.25,r,18,0.1,OBJ\n"); /* newer: the entry moves */
    ck_assert_double_eq(newest_entry(s, id), 60003.25);
    ingest_rows(s, "a0,10,20,59990,r,18,0.1,OBJ\n"); /* older, arriving late: it stays */
    ck_assert_double_eq(newest_entry(s, id), 60003.25);
    ck_assert_uint_eq(table_entries(s, s->loci_newest), 2);
    ck_assert_uint_eq(verify_problems(s, &text), 0);
    free(text);
    ss_store_close(s);
}
END_TEST

/* One group entry of @p t's store (key @p gk) as the single entries skysieve before format 16
 * wrote: each member's record under its own key, its reference of format 9. */
static void group_to_singles(ss_store_txn *t, const MDB_val *gk, ss_packet *pkt)
{
    unsigned char key[SSI_KEY_MAX], kb[SSI_KEY_MAX], ref[SSI_REF_LEN];
    memcpy(key, gk->mv_data, gk->mv_size);
    MDB_val k = {gk->mv_size, key}, v;
    ck_assert_int_eq(mdb_get(t->txn, t->s->locus_alerts, &k, &v), 0);
    ssi_members g;
    ssi_member m;
    ss_wbuf vals[64] = {{0}}, lkeys[64] = {{0}}, akeys[64] = {{0}};
    ss_store_alert_head heads[64];
    size_t n = 0;
    ck_assert_int_eq(ssi_members_open(t, &k, &v, &g), 0);
    while (ssi_members_next(&g, &m) == 1) {
        ss_prop *sl;
        uint32_t nsl;
        ck_assert_uint_lt(n, 64);
        ss_packet_reset(pkt);
        ss_alert *a = ss_packet_add(pkt);
        MDB_val mk = ssi_member_key(&g, &m, kb);
        ck_assert_int_eq(ssi_member_decode(t, &g, &m, pkt, a), 0);
        ck_assert_int_eq(ssi_alert_survey_locus(t, m.rec, m.len, &mk, pkt->arena, &sl, &nsl), 0);
        ck_assert_int_eq(ssi_alert_pack_keyed(t, a, sl, nsl, &vals[n]), 0);
        ss_wbuf_bytes(&lkeys[n], mk.mv_data, mk.mv_size);
        MDB_val ak = ssi_key_locus_alert_id(&mk);
        ss_wbuf_bytes(&akeys[n], ak.mv_data, ak.mv_size);
        heads[n] = (ss_store_alert_head){.kind = a->kind,
                                         .mjd = a->mjd,
                                         .arrival = a->arrival,
                                         .arrival_index = a->arrival_index};
        memcpy(heads[n++].locus_id, key, SS_LOCUS_ID_LEN);
    }
    ck_assert_int_eq(mdb_del(t->txn, t->s->locus_alerts, &k, NULL), 0);
    for (size_t i = 0; i < n; i++) {
        MDB_val lk = {lkeys[i].len, lkeys[i].data}, lv = {vals[i].len, vals[i].data};
        MDB_val ak = {akeys[i].len, akeys[i].data},
                av = {ssi_alert_ref_encode(&heads[i], ref), ref};
        ck_assert_int_eq(mdb_put(t->txn, t->s->locus_alerts, &lk, &lv, 0), 0);
        ck_assert_int_eq(mdb_put(t->txn, t->s->alerts, &ak, &av, 0), 0);
        ss_wbuf_free(&vals[i]), ss_wbuf_free(&lkeys[i]), ss_wbuf_free(&akeys[i]);
    }
}

/* Every group of @p t's store as single entries (group_to_singles()). */
static void groups_to_singles(ss_store_txn *t)
{
    MDB_cursor *cur;
    MDB_val k, v;
    ss_wbuf keys = {0};
    size_t n = 0;
    ck_assert_int_eq(mdb_cursor_open(t->txn, t->s->locus_alerts, &cur), 0);
    for (int op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, (MDB_cursor_op)op) == 0; op = MDB_NEXT)
        if (ssi_key_is_group(&k))
            ss_wbuf_bytes(&keys, k.mv_data, k.mv_size), n++;
    mdb_cursor_close(cur);
    ss_packet *pkt = ss_packet_new();
    for (size_t i = 0; i < n; i++) {
        MDB_val gk = {SS_LOCUS_ID_LEN + 16, keys.data + i * (SS_LOCUS_ID_LEN + 16)};
        group_to_singles(t, &gk, pkt);
    }
    ss_packet_free(pkt);
    ss_wbuf_free(&keys);
}

/* Keep every alert record of the store in @p dir where skysieve before format 9 kept it: in the
 * alerts table, its locus_alerts entry holding its kind. @p v4: rewritten as skysieve before
 * format 7 wrote it; 0: as it is. */
static void records_before_format_9(const char *dir, int v4)
{
    ss_store *s = NULL;
    ss_store_options o = {0};
    ss_err err = {0};
    ss_store_txn *t;
    MDB_cursor *cur;
    MDB_val k, v;
    ck_assert_msg(ss_store_open(dir, &o, &s, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    groups_to_singles(t);
    ck_assert_int_eq(mdb_cursor_open(t->txn, s->locus_alerts, &cur), 0);
    ss_packet *pkt = ss_packet_new();
    ss_wbuf keys[64] = {{0}}, vals[64] = {{0}}, lkeys[64] = {{0}};
    unsigned char kinds[64];
    char locus[SS_LOCUS_ID_LEN + 1];
    size_t n = 0;
    for (int op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, (MDB_cursor_op)op) == 0; op = MDB_NEXT) {
        ss_prop *sl;
        uint32_t nsl;
        ck_assert_uint_lt(n, 64);
        ss_packet_reset(pkt);
        ss_alert *a = ss_packet_add(pkt);
        ck_assert_int_eq(ssi_alert_decode(t, v.mv_data, v.mv_size, &k, pkt, a, locus), 0);
        ck_assert_int_eq(ssi_alert_survey_locus(t, v.mv_data, v.mv_size, &k, pkt->arena, &sl, &nsl),
                         0);
        if (v4)
            ssi_alert_encode4(a, locus, sl, nsl, &vals[n]);
        else /* version 5, the packed record before format 9 */
            ck_assert_int_eq(ssi_alert_pack(t, a, locus, sl, nsl, &vals[n]), 0);
        kinds[n] = (unsigned char)a->kind;
        ss_wbuf_bytes(&lkeys[n], k.mv_data, k.mv_size);
        ss_wbuf_bytes(&keys[n++], (char *)k.mv_data + SS_LOCUS_ID_LEN + 8,
                      k.mv_size - SS_LOCUS_ID_LEN - 8);
    }
    mdb_cursor_close(cur); /* rewritten after the walk: a put moves a cursor's page under it */
    for (size_t i = 0; i < n; i++) {
        MDB_val nk = {keys[i].len, keys[i].data}, nv = {vals[i].len, vals[i].data};
        MDB_val lk = {lkeys[i].len, lkeys[i].data}, lv = {1, &kinds[i]};
        ck_assert_int_eq(mdb_put(t->txn, s->alerts, &nk, &nv, 0), 0);
        ck_assert_int_eq(mdb_put(t->txn, s->locus_alerts, &lk, &lv, 0), 0);
        ss_wbuf_free(&keys[i]), ss_wbuf_free(&vals[i]), ss_wbuf_free(&lkeys[i]);
    }
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
    ss_packet_free(pkt);
    ss_store_close(s);
}

static void records_to_version_4(const char *dir)
{
    records_before_format_9(dir, 1);
}

/* Mark the store in @p dir as one of format @p version, without the tables of the later formats
 * (@p drop). */
static void set_format(const char *dir, uint32_t version, const char *const *drop)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    ck_assert_int_eq(mdb_env_create(&env), 0);
    ck_assert_int_eq(mdb_env_set_maxdbs(env, 32), 0);
    ck_assert_int_eq(mdb_env_open(env, dir, 0, 0644), 0);
    ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    for (int i = 0; drop[i]; i++) {
        ck_assert_int_eq(mdb_dbi_open(txn, drop[i], 0, &dbi), 0);
        ck_assert_int_eq(mdb_drop(txn, dbi, 1), 0);
    }
    MDB_val k = {6, "format"}, v = {sizeof version, &version};
    ck_assert_int_eq(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
    ck_assert_int_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* Make the store in @p dir one of format @p version, as that skysieve wrote it: alert records
 * of version 4 at most, no tables of the later formats (@p drop). */
static void make_format(const char *dir, uint32_t version, const char *const *drop)
{
    records_to_version_4(dir);
    set_format(dir, version, drop);
}

static void make_format_5(const char *dir)
{
    static const char *const drop[] = {"loci_newest", "catalog_loci", "dict", NULL};
    make_format(dir, 5, drop);
}

static void load_catalog(ss_store *s, const char *name, const char *csv)
{
    char file[64];
    snprintf(file, sizeof file, "%s.csv", name);
    char *path = tu_write(tu_tmp, file, csv);
    ss_assoc_catalog_options o = {.name = name, .path = path, .radius_arcsec = 2};
    ss_err err = {0};
    ck_assert_msg(ss_assoc_catalog_load(s, &o, NULL, &err) == 0, "%s", err.msg);
    free(path);
}

/* A store of five loci, three of them matched in a catalog, made format 5. */
static char *format_5_store(void)
{
    ss_store *s = open_rw("st");
    load_catalog(s, "cat", "name,ra,dec\nc1,10,20\nc2,30,20\nc3,50,20\n");
    ingest_rows(s, "a,10,20,60000,g,18,0.1,A\nb,30,20,60002,g,18,0.1,B\n"
                   "c,50,20,60001,g,18,0.1,C\nd,70,20,60004,g,18,0.1,D\n"
                   "e,90,20,60003,g,18,0.1,E\n");
    ck_assert_uint_eq(table_entries(s, s->catalog_loci), 3);
    ss_store_close(s);
    char *dir = tu_path(tu_tmp, "st");
    make_format_5(dir);
    return dir;
}

START_TEST(format_5_store_reads_and_gains_the_indexes_on_write)
{
    char *dir = format_5_store(), *text;
    ss_store *s = NULL;
    ss_err err = {0};
    ss_store_options ro = {.readonly = 1};
    ck_assert_msg(ss_store_open(dir, &ro, &s, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(ss_store_has_newest(s), 0);
    ck_assert_int_eq(ss_store_has_table(s, SS_STORE_CATALOG_LOCI), 0);
    ck_assert_int_eq(ss_store_has_table(s, SS_STORE_LOCUS_MATCHES), 1);
    ss_store_footprint_info fp;
    ck_assert(!footprint_of(s, &fp).newest); /* a table it lacks is not visited */
    s = upgraded(s);
    ck_assert(footprint_of(s, &fp).newest);
    ck_assert_uint_eq(table_entries(s, s->loci_newest), 5);
    ck_assert_uint_eq(table_entries(s, s->catalog_loci), 3);
    char id[SS_LOCUS_ID_LEN + 1];
    locus_of(s, "D", id);
    ck_assert_double_eq(newest_entry(s, id), 60004);
    ck_assert_uint_eq(verify_problems(s, &text), 0);
    free(text);
    ss_store_close(s);
    free(dir);
}
END_TEST

/* Delete the first entry of @p dbi behind the store's back. */
static void delete_first(ss_store *s, MDB_dbi dbi)
{
    ss_store_txn *t;
    MDB_cursor *cur;
    MDB_val k, v;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    ck_assert_int_eq(mdb_cursor_open(t->txn, dbi, &cur), 0);
    ck_assert_int_eq(mdb_cursor_get(cur, &k, &v, MDB_FIRST), 0);
    ck_assert_int_eq(mdb_cursor_del(cur, 0), 0);
    mdb_cursor_close(cur);
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
}

START_TEST(verify_catches_missing_index_entries)
{
    char *dir = format_5_store(), *text;
    free(dir);
    ss_store *s = open_rw("st");
    delete_first(s, s->loci_newest);
    ck_assert_uint_eq(verify_problems(s, &text), 2); /* the locus, and the count */
    ck_assert_ptr_nonnull(strstr(text, "not in loci_newest"));
    ck_assert_ptr_nonnull(strstr(text, "loci_newest has 4 entries for 5 loci"));
    free(text);
    delete_first(s, s->catalog_loci);
    ck_assert_uint_eq(verify_problems(s, &text), 4);
    ck_assert_ptr_nonnull(strstr(text, "missing from catalog_loci"));
    ck_assert_ptr_nonnull(strstr(text, "catalog_loci has 2 entries for 3 in locus_matches"));
    free(text);
    delete_first(s, s->alerts);                      /* its locus still lists it */
    ck_assert_uint_eq(verify_problems(s, &text), 7); /* and two counters count it */
    ck_assert_ptr_nonnull(strstr(text, "which is not stored"));
    free(text);
    ss_store_close(s);
}
END_TEST

/* ---- walks over indexes, tags ---- */

/* A locus written straight to the store with its newest alert at @p mjd (NAN: none). */
static void put_locus(ss_store_txn *t, double mjd, char id[SS_LOCUS_ID_LEN + 1])
{
    ss_locus l;
    memset(&l, 0, sizeof l);
    ck_assert_int_eq(ss_store_locus_new_id(t, 60000, 1, 2, id), 0);
    memcpy(l.id, id, SS_LOCUS_ID_LEN + 1);
    l.ra = 1, l.dec = 2;
    l.oldest.mjd = l.brightest.mjd = 60000;
    l.newest.mjd = mjd;
    l.num_alerts = 1;
    ck_assert_int_eq(ss_store_locus_put(t, &l), 0);
}

/* The walk as "ID@MJD ..." with ids replaced by their index in @p ids ("2@60001 0@nan"). */
static void walk_text(ss_store *s, ss_store_walk_options o, char ids[][SS_LOCUS_ID_LEN + 1], int n,
                      char *out, size_t size)
{
    ss_store_txn *t;
    ss_store_walk *w;
    char id[SS_LOCUS_ID_LEN + 1];
    double mjd;
    int rc;
    out[0] = '\0';
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    ck_assert_int_eq(ss_store_walk_open(t, &o, &w), 0);
    while ((rc = ss_store_walk_next(w, id, &mjd)) == 1) {
        int k = 0;
        while (k < n && strcmp(ids[k], id))
            k++;
        ck_assert_int_lt(k, n);
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s%d@%g", used ? " " : "", k, mjd);
    }
    ck_assert_int_eq(rc, 0);
    ss_store_walk_close(w);
    ss_store_txn_abort(t);
}

#define WALK(s, ids, text, ...)                                                                    \
    do {                                                                                           \
        char got[256];                                                                             \
        walk_text(s, (ss_store_walk_options){__VA_ARGS__}, ids, 4, got, sizeof got);               \
        ck_assert_str_eq(got, text);                                                               \
    } while (0)

/* Four loci: newest at 60003, 60001, none, 60002; tags jump (0 at 60001, 1 at 60005, 3 at
 * 60003), jumpy (2 at 60000), a (0 at 60010). */
static ss_store *walk_store(char ids[4][SS_LOCUS_ID_LEN + 1])
{
    ss_store *s = open_rw("st");
    ss_store_txn *t;
    const double newest[4] = {60003, 60001, NAN, 60002};
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    for (int i = 0; i < 4; i++)
        put_locus(t, newest[i], ids[i]);
    const struct {
        int locus;
        const char *tag;
        double mjd;
    } tags[] = {{0, "jump", 60001},
                {1, "jump", 60005},
                {3, "jump", 60003},
                {2, "jumpy", 60000},
                {0, "a", 60010}};
    for (size_t i = 0; i < sizeof tags / sizeof *tags; i++)
        ck_assert_int_eq(
            ss_store_tag_add(t, ids[tags[i].locus], tags[i].tag, "f", "sv", "x", tags[i].mjd), 0);
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
    return s;
}

START_TEST(walks_follow_their_index_both_ways)
{
    char ids[4][SS_LOCUS_ID_LEN + 1];
    ss_store *s = walk_store(ids);
    WALK(s, ids, "1@60001 3@60002 0@60003 2@nan", .order = SS_STORE_BY_NEWEST);
    WALK(s, ids, "0@60003 3@60002 1@60001 2@nan", .order = SS_STORE_BY_NEWEST, .descending = 1);
    WALK(s, ids, "0@60001 3@60003 1@60005", .order = SS_STORE_BY_TAG, .tag = "jump");
    WALK(s, ids, "1@60005 3@60003 0@60001", .order = SS_STORE_BY_TAG, .tag = "jump",
         .descending = 1);
    WALK(s, ids, "3@60003 1@60005", .order = SS_STORE_BY_TAG, .tag = "jump", .since_mjd = 60003);
    WALK(s, ids, "1@60005 3@60003", .order = SS_STORE_BY_TAG, .tag = "jump", .since_mjd = 60003,
         .descending = 1);
    WALK(s, ids, "2@60000", .order = SS_STORE_BY_TAG, .tag = "jumpy", .descending = 1);
    WALK(s, ids, "", .order = SS_STORE_BY_TAG, .tag = "jum");
    WALK(s, ids, "", .order = SS_STORE_BY_TAG, .tag = "jump", .since_mjd = 60006, .descending = 1);
    char longtag[SS_TAG_MAX + 8];
    memset(longtag, 'x', sizeof longtag - 1);
    longtag[sizeof longtag - 1] = '\0';
    WALK(s, ids, "", .order = SS_STORE_BY_TAG, .tag = longtag);
    /* by id: every locus once, in id order and back */
    char got[256], back[256];
    walk_text(s, (ss_store_walk_options){.order = SS_STORE_BY_ID}, ids, 4, got, sizeof got);
    walk_text(s, (ss_store_walk_options){.order = SS_STORE_BY_ID, .descending = 1}, ids, 4, back,
              sizeof back);
    ck_assert_int_eq(strlen(got), strlen("0@nan 1@nan 2@nan 3@nan"));
    for (int i = 0; i < 4; i++) /* the reverse: the i-th of one is the (3-i)-th of the other */
        ck_assert_int_eq(got[6 * i], back[6 * (3 - i)]);
    ss_store_close(s);
}
END_TEST

static int collect_tag(void *ctx, const char *tag, double newest)
{
    size_t used = strlen(ctx);
    snprintf((char *)ctx + used, 256 - used, "%s%s@%g", used ? " " : "", tag, newest);
    return 0;
}

START_TEST(tags_are_listed_with_their_newest_mjd)
{
    char ids[4][SS_LOCUS_ID_LEN + 1], got[256] = "";
    ss_store *s = walk_store(ids);
    ss_store_txn *t;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    ck_assert_int_eq(ss_store_tags_each(t, collect_tag, got), 0);
    ck_assert_str_eq(got, "a@60010 jump@60005 jumpy@60000");
    ss_store_txn_abort(t);
    ss_store_close(s);
}
END_TEST

static int stop_at_first(void *ctx, const char *tag, double newest)
{
    (void)tag, (void)newest;
    ++*(int *)ctx;
    return 42;
}

START_TEST(tags_listing_of_an_empty_store_and_a_stop)
{
    char ids[4][SS_LOCUS_ID_LEN + 1], got[256] = "";
    ss_store *empty = open_rw("empty");
    ss_store_txn *t;
    ck_assert_int_eq(ss_store_txn_begin(empty, SS_STORE_READ, &t), 0);
    ck_assert_int_eq(ss_store_tags_each(t, collect_tag, got), 0);
    ck_assert_str_eq(got, "");
    ss_store_txn_abort(t);
    ss_store_close(empty);
    ss_store *s = walk_store(ids);
    int calls = 0;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    ck_assert_int_eq(ss_store_tags_each(t, stop_at_first, &calls), 42);
    ck_assert_int_eq(calls, 1);
    ss_store_txn_abort(t);
    ss_store_close(s);
}
END_TEST

/* A range over meta: the keys of a prefix, both ways. */
START_TEST(ranges_walk_a_prefix_both_ways)
{
    ss_store *s = open_rw("st");
    ss_store_txn *t;
    ss_store_range *r;
    MDB_val k, v;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    ck_assert_int_eq(ss_store_range_open(t, SS_STORE_META, "c", 1, 0, &r), 0);
    const char *want[] = {"counters", "created"};
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(ss_store_range_next(r, &k, &v), 1);
        ck_assert_int_eq(k.mv_size, strlen(want[i]));
        ck_assert_int_eq(memcmp(k.mv_data, want[i], k.mv_size), 0);
    }
    ck_assert_int_eq(ss_store_range_next(r, &k, &v), 0);
    ss_store_range_close(r);
    ck_assert_int_eq(ss_store_range_open(t, SS_STORE_META, "c", 1, 1, &r), 0);
    ck_assert_int_eq(ss_store_range_next(r, &k, &v), 1);
    ck_assert_int_eq(memcmp(k.mv_data, "created", 7), 0);
    ck_assert_int_eq(ss_store_range_next(r, &k, &v), 1);
    ck_assert_int_eq(memcmp(k.mv_data, "counters", 8), 0);
    ck_assert_int_eq(ss_store_range_next(r, &k, &v), 0);
    ss_store_range_close(r);
    ss_store_txn_abort(t);
    ss_store_close(s);
}
END_TEST

/* ---- format 7: packed alert records and the dictionary of names ---- */

static ss_value fval(double f)
{
    ss_value v = {.type = SS_TYPE_FLOAT};
    v.u.f = f;
    return v;
}

static ss_value ival(int64_t i)
{
    ss_value v = {.type = SS_TYPE_INT};
    v.u.i = i;
    return v;
}

/* An alert with a property of every kind of value the packing treats apart. */
static ss_alert *packed_alert(ss_packet *p, const char *id, const char *prefix)
{
    ss_alert *a = ss_packet_add(p);
    a->survey = "ztf", a->alert_id = id, a->passband = "r", a->kind = SS_ALERT_DETECTION;
    a->ra = 10.123456789012, a->dec = -5.5, a->mjd = 60000.123456789, a->mag = 18.5f;
    a->magerr = 0.1, a->maglim = NAN, a->flux = -0.0, a->fluxerr = INFINITY;
    a->line = 300, a->arrival = 1ull << 40, a->arrival_index = 9;
    ss_value vs = {.type = SS_TYPE_STRING}, vn = {.type = SS_TYPE_NULL};
    vs.u.s.ptr = "a\0b", vs.u.s.len = 3;
    ss_value vb = {.type = SS_TYPE_BOOL, .u.b = 1};
    const ss_value vals[] = {vn,        vb,        ival(INT64_MIN), ival(INT64_MAX), ival(-1),
                             fval(0.5), fval(0.1), fval(-0.0),      fval(NAN),       fval(1e300),
                             vs};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "%s%zu", prefix, i);
        ck_assert_int_eq(ss_alert_add_prop(p, a, name, strlen(name), vals[i]), 0);
    }
    return a;
}

static void same_value(ss_value x, ss_value y)
{
    ck_assert_int_eq(x.type, y.type);
    if (x.type == SS_TYPE_FLOAT)
        ck_assert_int_eq(memcmp(&x.u.f, &y.u.f, sizeof x.u.f), 0); /* bit for bit */
    else if (x.type == SS_TYPE_INT)
        ck_assert_int_eq(x.u.i, y.u.i);
    else if (x.type == SS_TYPE_BOOL)
        ck_assert_int_eq(x.u.b, y.u.b);
    else if (x.type == SS_TYPE_STRING)
        ck_assert(x.u.s.len == y.u.s.len && !memcmp(x.u.s.ptr, y.u.s.ptr, x.u.s.len));
}

static void same_alert(const ss_alert *a, const ss_alert *b)
{
    ck_assert_str_eq(a->alert_id, b->alert_id);
    ck_assert_str_eq(a->passband, b->passband);
    ck_assert_ptr_null(b->object_id);
    const double *x[] = {&a->ra,     &a->dec,    &a->mjd,  &a->mag,
                         &a->magerr, &a->maglim, &a->flux, &a->fluxerr};
    const double *y[] = {&b->ra,     &b->dec,    &b->mjd,  &b->mag,
                         &b->magerr, &b->maglim, &b->flux, &b->fluxerr};
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(memcmp(x[i], y[i], sizeof(double)), 0);
    ck_assert(a->line == b->line && a->arrival == b->arrival);
    ck_assert_uint_eq(a->arrival_index, b->arrival_index);
    ck_assert_uint_eq(b->nprops, a->nprops);
    for (uint32_t i = 0; i < a->nprops; i++) {
        ck_assert_str_eq(a->props[i].name, b->props[i].name);
        same_value(a->props[i].value, b->props[i].value);
    }
}

START_TEST(packed_records_keep_every_value_bit_for_bit)
{
    ss_packet *p = ss_packet_new(), *q = ss_packet_new();
    ss_alert *a = packed_alert(p, "1", "p");
    ss_prop sl[2] = {{"lsst_diaObject_x", ival(7)}, {"lsst_diaObject_y", fval(2.5)}};
    ss_wbuf b = {0}, old = {0};
    ss_store_alert_encode2(a, "SKS2023abcdefghjkmn", sl, 2, &b);
    char locus[SS_LOCUS_ID_LEN + 1];
    ss_alert *back = ss_packet_add(q);
    ck_assert_int_eq(ss_store_alert_decode(b.data, b.len, q, back, locus), 0);
    ck_assert_str_eq(locus, "SKS2023abcdefghjkmn");
    same_alert(a, back);
    ck_assert_ptr_null(back->origin);
    ss_prop *got;
    uint32_t n;
    ck_assert_int_eq(ssi_alert_survey_locus(NULL, b.data, b.len, NULL, q->arena, &got, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(got[1].name, "lsst_diaObject_y");
    ck_assert_double_eq(got[1].value.u.f, 2.5);
    ss_store_alert_head h;
    ck_assert_int_eq(ssi_alert_head(b.data, b.len, NULL, &h), 0);
    ck_assert(h.mjd == a->mjd && h.arrival == a->arrival && !strcmp(h.locus_id, locus));
    for (size_t cut = 0; cut < b.len; cut++) {
        ss_packet_reset(q);
        back = ss_packet_add(q);
        ck_assert_int_eq(ss_store_alert_decode(b.data, cut, q, back, locus), SS_ECORRUPT);
    }
    static const char *const origins[] = {"kafka topic=t partition=2 offset=0",
                                          "007",
                                          "0",
                                          "",
                                          "f-12345678901234567890",
                                          "msg-1a-99",
                                          NULL};
    for (int i = 0; origins[i]; i++) {
        a->origin = origins[i];
        ss_store_alert_encode2(a, "SKS2023abcdefghjkmn", NULL, 0, &b);
        back = ss_packet_add(q);
        ck_assert_int_eq(ss_store_alert_decode(b.data, b.len, q, back, locus), 0);
        ck_assert_str_eq(back->origin, origins[i]);
    }
    /* smaller than the record it replaces even with its names inline */
    ssi_alert_encode4(a, "SKS2023abcdefghjkmn", sl, 2, &old);
    ck_assert_uint_lt(b.len, old.len * 3 / 4);
    ss_wbuf_free(&b), ss_wbuf_free(&old);
    ss_packet_free(p), ss_packet_free(q);
}
END_TEST

/* Put alert @p a in one write transaction; @p commit 0 aborts it instead. */
static void put_alert(ss_store *s, ss_alert *a, int commit)
{
    ss_store_txn *t;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    ck_assert_int_eq(ss_store_alert_put(t, a, "SKS2023abcdefghjkmn", NULL, 0), 0);
    if (commit)
        ck_assert_int_eq(ss_store_txn_commit(t), 0);
    else
        ss_store_txn_abort(t);
}

static void check_stored(ss_store *s, const ss_alert *want)
{
    ss_store_txn *t;
    ss_packet *q = ss_packet_new();
    ss_alert *got;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    ck_assert_int_eq(ss_store_alert_get(t, "ztf", want->alert_id, q, &got), 0);
    same_alert(want, got);
    ck_assert_str_eq(got->origin, want->origin);
    ss_store_txn_abort(t);
    ss_packet_free(q);
}

/* A record of version 7 (format 9's locus_alerts) leaves its survey, alert id, locus id and MJD to
 * the entry's key: read with the key it comes back whole and bit for bit, without one (or with a
 * key too short to hold them) it is refused as damaged, and it is that much shorter. */
START_TEST(keyed_records_take_their_ids_from_the_key)
{
    ss_packet *p = ss_packet_new(), *q = ss_packet_new();
    ss_alert *a = packed_alert(p, "ztf-candid-1234567890", "k");
    const char *locus_id = "SKY2023abcdefghjkmn";
    ss_prop sl[1] = {{"lsst_diaObject_x", ival(7)}};
    ss_wbuf keyed = {0}, full = {0};
    ck_assert_int_eq(ssi_alert_pack_keyed(NULL, a, sl, 1, &keyed), 0);
    ck_assert_int_eq(ssi_alert_pack(NULL, a, locus_id, sl, 1, &full), 0);
    ck_assert_uint_eq(keyed.len + strlen("ztf") + strlen(a->alert_id) + SS_LOCUS_ID_LEN + 3 + 8,
                      full.len); /* each string's length byte, and the MJD */
    unsigned char kb[SSI_KEY_MAX];
    MDB_val k = {ssi_key_locus_alert(kb, locus_id, a->mjd, a->survey, a->alert_id), kb};
    char locus[SS_LOCUS_ID_LEN + 1];
    ss_alert *back = ss_packet_add(q);
    ck_assert_int_eq(ssi_alert_decode(NULL, keyed.data, keyed.len, &k, q, back, locus), 0);
    ck_assert_str_eq(locus, locus_id);
    ck_assert_str_eq(back->survey, "ztf");
    same_alert(a, back);
    ss_store_alert_head h;
    ck_assert_int_eq(ssi_alert_head(keyed.data, keyed.len, &k, &h), 0);
    ck_assert(!memcmp(&h.mjd, &a->mjd, 8) && h.arrival == a->arrival && h.kind == a->kind);
    ck_assert_str_eq(h.locus_id, locus_id);
    ss_prop *got;
    uint32_t n;
    ck_assert_int_eq(ssi_alert_survey_locus(NULL, keyed.data, keyed.len, &k, q->arena, &got, &n),
                     0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(ssi_alert_head(keyed.data, keyed.len, NULL, &h), SS_ECORRUPT);
    MDB_val shortk = {SS_LOCUS_ID_LEN + 8, kb};
    ck_assert_int_eq(ssi_alert_head(keyed.data, keyed.len, &shortk, &h), SS_ECORRUPT);
    ss_packet_reset(q);
    back = ss_packet_add(q);
    ck_assert_int_eq(ssi_alert_decode(NULL, keyed.data, keyed.len, NULL, q, back, locus),
                     SS_ECORRUPT);
    ss_wbuf_free(&keyed), ss_wbuf_free(&full);
    ss_packet_free(p), ss_packet_free(q);
}
END_TEST

START_TEST(dictionary_drops_what_an_aborted_write_made)
{
    ss_store *s = open_rw("st");
    ss_packet *p = ss_packet_new();
    ss_alert *a = packed_alert(p, "1", "x"), *b = packed_alert(p, "2", "y");
    ss_alert *c = packed_alert(p, "3", "z"), *d = packed_alert(p, "4", "x");
    /* a's and c's origins differ only in their numbers: one list */
    a->origin = "kafka topic=ztf partition=0 offset=41", b->origin = "other.avro";
    c->origin = "kafka topic=ztf partition=0 offset=1000", d->origin = "night-007.avro";
    s->origins_by_id = 1; /* as formats 7-17 wrote them: their records must still read */
    put_alert(s, a, 1);
    put_alert(s, b, 0); /* its two lists were made, then dropped with the transaction */
    put_alert(s, c, 1); /* so c's list takes the id b's had */
    put_alert(s, d, 1); /* a's names again, an origin of its own */
    ck_assert_uint_eq(table_entries(s, s->dict), 4);
    check_stored(s, a), check_stored(s, c), check_stored(s, d);
    ss_store_close(s);
    char *dir = tu_path(tu_tmp, "st");
    ss_store_options ro = {.readonly = 1};
    ss_err err = {0};
    ck_assert_msg(ss_store_open(dir, &ro, &s, &err) == 0, "%s", err.msg);
    check_stored(s, c), check_stored(s, a); /* read from the table, out of order */
    ss_store_close(s);
    s = open_rw("st");  /* a writer reads the lists it finds before making new ones */
    put_alert(s, b, 1); /* origins written now are inline: only b's names are new */
    ck_assert_uint_eq(table_entries(s, s->dict), 5);
    check_stored(s, b), check_stored(s, d);
    ss_store_close(s);
    free(dir);
    ss_packet_free(p);
}
END_TEST

START_TEST(format_6_store_reads_and_writes_packed_records_after_upgrade)
{
    static const char *const drop[] = {"dict", NULL};
    ss_store *s = open_rw("st");
    ingest_rows(s, "a,10,20,60000,g,18,0.1,A\nb,30,20,60002,g,18,0.1,B\n");
    ss_store_close(s);
    char *dir = tu_path(tu_tmp, "st"), *text;
    make_format(dir, 6, drop);
    ss_store_options ro = {.readonly = 1};
    ss_err err = {0};
    ck_assert_msg(ss_store_open(dir, &ro, &s, &err) == 0, "%s", err.msg);
    s = upgraded(s);
    ingest_rows(s, "c,10,20,60003,r,17,0.1,A\n");
    ck_assert_uint_eq(verify_problems(s, &text), 0);
    free(text);
    json_t *o = NULL;
    ck_assert_msg(ss_query_locus(s, "A", NULL, &o, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(json_array_size(json_object_get(o, "alerts")), 2); /* of versions 4 and 5 */
    json_decref(o);
    ss_store_close(s);
    free(dir);
}
END_TEST

/* Key the sky index of the store in @p dir by zone alone, as before format 8: each tiled key
 * loses its tile. */
static void sky_to_zones(const char *dir)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *cur;
    MDB_val k, v;
    ss_wbuf keys = {0}, vals = {0};
    size_t n = 0;
    ck_assert_int_eq(mdb_env_create(&env), 0);
    ck_assert_int_eq(mdb_env_set_maxdbs(env, 32), 0);
    ck_assert_int_eq(mdb_env_open(env, dir, 0, 0644), 0);
    ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, "sky", 0, &dbi), 0);
    ck_assert_int_eq(mdb_cursor_open(txn, dbi, &cur), 0);
    for (int op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, (MDB_cursor_op)op) == 0; op = MDB_NEXT) {
        ck_assert_uint_eq(k.mv_size, 16 + SS_LOCUS_ID_LEN);
        ck_assert_uint_eq(v.mv_size, 16);
        ss_wbuf_bytes(&keys, (char *)k.mv_data + 4, 12 + SS_LOCUS_ID_LEN);
        ss_wbuf_bytes(&vals, v.mv_data, 16);
        n++;
    }
    mdb_cursor_close(cur);
    ck_assert_int_eq(mdb_drop(txn, dbi, 0), 0);
    for (size_t i = 0; i < n; i++) {
        MDB_val zk = {12 + SS_LOCUS_ID_LEN, keys.data + i * (12 + SS_LOCUS_ID_LEN)};
        MDB_val zv = {16, vals.data + i * 16};
        ck_assert_int_eq(mdb_put(txn, dbi, &zk, &zv, 0), 0);
    }
    ck_assert_int_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    ss_wbuf_free(&keys), ss_wbuf_free(&vals);
}

/* The locus nearest to (ra, dec) within 1", or "" when none. */
static void nearest(ss_store *s, double ra, double dec, char id[SS_LOCUS_ID_LEN + 1])
{
    ss_store_txn *t;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    int rc = ss_store_sky_nearest(t, ra, dec, 1 / 3600.0, id, NULL);
    ck_assert(rc == 0 || rc == SS_ENOTFOUND);
    if (rc)
        id[0] = '\0';
    ss_store_txn_abort(t);
}

static int count_visit(void *ctx, const char *id, double ra, double dec, double sep)
{
    (void)id, (void)ra, (void)dec, (void)sep;
    ++*(int *)ctx;
    return 0;
}

/* Cone searches over the tiled index find exactly the loci a check of every one finds: cones of
 * arcseconds to tens of degrees, across tile edges, RA 0/360 and the poles. */
START_TEST(sky_scan_finds_what_brute_force_finds)
{
    enum { N = 3000, Q = 400 };
    static double pos[N][2];
    ss_store *s = open_rw("sky");
    ss_store_txn *t;
    ss_rng r = {7};
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    for (int i = 0; i < N; i++) {
        char id[SS_LOCUS_ID_LEN + 1];
        pos[i][0] = i % 10 ? 360 * ss_rng_uniform(&r) : (i % 20 ? 359.9999 : 0);
        pos[i][1] = i % 7 ? asin(2 * ss_rng_uniform(&r) - 1) * 180 / M_PI : 89.5 - (i % 3) * 89.5;
        ss_store_locus_id_sky(pos[i][0], pos[i][1], 0, (uint32_t)i, 61000, id);
        ss_locus l = {.ra = pos[i][0], .dec = pos[i][1], .num_alerts = 1};
        memcpy(l.id, id, sizeof l.id);
        ck_assert_int_eq(ss_store_locus_put(t, &l), 0);
        ck_assert_int_eq(ss_store_sky_move(t, id, NAN, 0, pos[i][0], pos[i][1]), 0);
    }
    for (int q = 0; q < Q; q++) {
        double ra = 360 * ss_rng_uniform(&r), dec = asin(2 * ss_rng_uniform(&r) - 1) * 180 / M_PI;
        double radius = q % 2 ? 30 * ss_rng_uniform(&r) : 0.5 * ss_rng_uniform(&r);
        if (q % 9 == 0)
            dec = q % 2 ? 89.9 : -89.9;
        int want = 0, got = 0;
        for (int i = 0; i < N; i++)
            want += ss_sky_separation_deg(ra, dec, pos[i][0], pos[i][1]) <= radius;
        ck_assert_int_eq(ss_store_sky_scan(t, ra, dec, radius, count_visit, &got), 0);
        ck_assert_msg(got == want, "cone %.4f %.4f r=%.4f: %d found, %d within", ra, dec, radius,
                      got, want);
    }
    ss_store_txn_abort(t);
    ss_store_close(s);
}
END_TEST

static int count_cone(ss_store_txn *t, double ra, double dec, double radius_arcsec)
{
    int n = 0;
    ck_assert_int_eq(ss_store_sky_scan(t, ra, dec, radius_arcsec / 3600, count_visit, &n), 0);
    return n;
}

/* Locus @p l written at its position, its sky entry moved from (@p old_ra, @p old_dec). */
static void move_locus(ss_store_txn *t, const ss_locus *l, double old_ra, double old_dec)
{
    ck_assert_int_eq(ss_store_locus_put(t, l), 0);
    ck_assert_int_eq(ss_store_sky_move(t, l->id, old_ra, old_dec, l->ra, l->dec), 0);
}

/* A locus's sky entry stays where it was put until the locus drifts past the index's slack (half
 * an arcsecond), and scans answer by the loci's own positions all the same: a cone around the
 * locus finds it though its entry is outside, one around the entry does not. */
START_TEST(sky_entries_move_only_past_their_slack)
{
    ss_store *s = open_rw("slack");
    ss_store_txn *t;
    double at[2], arcsec = 1 / 3600.0, sep;
    char id[SS_LOCUS_ID_LEN + 1];
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    ss_locus l = {.ra = 150, .dec = 2}; /* no alerts: verify counts them */
    ck_assert_int_eq(ss_store_locus_new_id(t, 61000, l.ra, l.dec, l.id), 0);
    move_locus(t, &l, NAN, 0);
    l.ra += 0.3 * arcsec; /* along RA: a scan's interval must widen to reach the entry */
    move_locus(t, &l, 150, 2);
    ck_assert_int_eq(ssi_sky_find(t, l.id, l.ra, l.dec, at), 0);
    ck_assert(at[0] == 150 && at[1] == 2); /* 0.3" moved: the entry stays */
    ck_assert_int_eq(count_cone(t, l.ra, l.dec, 0.2), 1);
    ck_assert_int_eq(count_cone(t, 150, 2, 0.1), 0);
    ck_assert_int_eq(ss_store_sky_nearest(t, l.ra, l.dec, arcsec, id, &sep), 0);
    ck_assert_str_eq(id, l.id);
    ck_assert(sep < 1e-9);
    l.ra += 0.3 * arcsec; /* 0.6" from the entry: it moves */
    move_locus(t, &l, 150 + 0.3 * arcsec, 2);
    ck_assert_int_eq(ssi_sky_find(t, l.id, l.ra, l.dec, at), 0);
    ck_assert(at[0] == l.ra && at[1] == l.dec);
    ck_assert_int_eq(count_cone(t, 150, 2, 0.1), 0);
    ck_assert_int_eq(count_cone(t, l.ra, l.dec, 0.1), 1);
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
    char *text = NULL;
    ck_assert_msg(verify_problems(s, &text) == 0, "%s", text);
    free(text);
    ss_store_close(s);
}
END_TEST

/* A format 7 store's sky index, keyed by zone, is read as it is read-only and keyed by tile when
 * the store is upgraded: every locus is found where it was, before and after, and alerts go on
 * joining them. Positions straddle RA 0 and a pole, where tiles are fewest. */
START_TEST(format_7_sky_index_is_tiled_on_upgrade)
{
    static const char *const drop[] = {NULL};
    static const double pos[][2] = {{0.002, 1}, {359.998, 1}, {10, 89.9}, {200, -45}, {10, 20}};
    char ids[5][SS_LOCUS_ID_LEN + 1], got[SS_LOCUS_ID_LEN + 1], *text;
    ss_store *s = open_rw("st");
    for (int i = 0; i < 5; i++) {
        char row[128];
        snprintf(row, sizeof row, "p%d,%.4f,%.1f,60000,g,18,0.1,O%d\n", i, pos[i][0], pos[i][1], i);
        ingest_rows(s, row);
        snprintf(row, sizeof row, "O%d", i);
        locus_of(s, row, ids[i]);
    }
    ss_store_close(s);
    char *dir = tu_path(tu_tmp, "st");
    sky_to_zones(dir);
    make_format(dir, 7, drop);
    ss_store_options ro = {.readonly = 1};
    ss_err err = {0};
    ck_assert_msg(ss_store_open(dir, &ro, &s, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(s->sky_band_zones, 0);
    for (int i = 0; i < 5; i++) {
        nearest(s, pos[i][0], pos[i][1], got);
        ck_assert_str_eq(got, ids[i]);
    }
    s = upgraded(s);
    ck_assert_uint_gt(s->sky_band_zones, 0);
    ck_assert_uint_eq(table_entries(s, s->sky), 5);
    for (int i = 0; i < 5; i++) {
        nearest(s, pos[i][0], pos[i][1], got);
        ck_assert_str_eq(got, ids[i]);
        nearest(s, fmod(pos[i][0] + 180, 360), -pos[i][1], got);
        ck_assert_str_eq(got, "");
    }
    ingest_rows(s, "q,359.99805,1,60001,r,18,0.1,O1\n");
    ck_assert_uint_eq(table_entries(s, s->loci), 5);
    ck_assert_uint_eq(verify_problems(s, &text), 0);
    free(text);
    ss_store_close(s);
    free(dir);
}
END_TEST

/* ---- format 9: alert records beside their loci's ---- */

/* Locus of survey object @p object as JSON text (the caller frees it). */
static char *locus_text(ss_store *s, const char *object)
{
    json_t *o = NULL;
    ss_err err = {0};
    ck_assert_msg(ss_query_locus(s, object, NULL, &o, &err) == 0, "%s", err.msg);
    char *text = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(o);
    return text;
}

/* The values of table @p dbi that are references (format 9's alerts table). */
static size_t refs_in(ss_store *s, MDB_dbi dbi)
{
    ss_store_txn *t;
    MDB_cursor *cur;
    MDB_val k, v;
    size_t n = 0;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    ck_assert_int_eq(mdb_cursor_open(t->txn, dbi, &cur), 0);
    for (int op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, (MDB_cursor_op)op) == 0; op = MDB_NEXT)
        n += ssi_alert_is_ref(v.mv_data, v.mv_size);
    mdb_cursor_close(cur);
    ss_store_txn_abort(t);
    return n;
}

/* The locus_alerts records holding the bytes of @p text. */
static size_t records_naming(ss_store *s, const char *text)
{
    ss_store_txn *t;
    MDB_cursor *cur;
    MDB_val k, v;
    size_t n = 0;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    ck_assert_int_eq(mdb_cursor_open(t->txn, s->locus_alerts, &cur), 0);
    for (int op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, (MDB_cursor_op)op) == 0; op = MDB_NEXT)
        n += memmem(v.mv_data, v.mv_size, text, strlen(text)) != NULL;
    mdb_cursor_close(cur);
    ss_store_txn_abort(t);
    return n;
}

/* The arrival of alert @p id's reference set to @p arrival, as a damaged store might hold it. */
static void damage_ref(ss_store *s, const char *id, uint64_t arrival)
{
    ss_store_txn *t;
    ss_store_alert_head h;
    unsigned char kb[SSI_KEY_MAX], ref[SSI_REF_LEN];
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    ck_assert_int_eq(ss_store_alert_head_get(t, "tuple", id, &h), 0);
    h.arrival = arrival;
    MDB_val k = {ssi_key_alert(kb, "tuple", id), kb}, v = {ssi_alert_ref_encode(&h, ref), ref};
    ck_assert_int_eq(mdb_put(t->txn, s->alerts, &k, &v, 0), 0);
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
}

/* A format 8 store, its packed records in the alerts table, reads as it is read-only; the upgrade
 * moves every record into locus_alerts, leaving references, and every light curve reads the same
 * before and after. Verify catches a reference that disagrees with its record and a record gone
 * from locus_alerts. */
START_TEST(format_8_records_move_beside_their_loci_on_upgrade)
{
    static const char *const drop[] = {NULL};
    ss_store *s = open_rw("st");
    ingest_rows(s, "a,10,20,60000,g,18,0.1,A\nb,30,20,60002,g,18,0.1,B\n"
                   "c,10,20,60001,r,17.5,0.1,A\n");
    char *a0 = locus_text(s, "A"), *b0 = locus_text(s, "B"), *dir = tu_path(tu_tmp, "st"), *text;
    ck_assert_uint_eq(refs_in(s, s->alerts), 3);
    ss_store_close(s);
    records_before_format_9(dir, 0);
    set_format(dir, 8, drop);
    ss_store_options ro = {.readonly = 1};
    ss_err err = {0};
    ck_assert_msg(ss_store_open(dir, &ro, &s, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(s->format, 8);
    ck_assert_uint_eq(refs_in(s, s->alerts), 0);
    char *a8 = locus_text(s, "A"), *b8 = locus_text(s, "B");
    ck_assert_str_eq(a8, a0);
    ck_assert_str_eq(b8, b0);
    s = upgraded(s);
    ck_assert_uint_eq(refs_in(s, s->alerts), 3);
    ck_assert_uint_eq(table_entries(s, s->locus_alerts), 3);
    char *a9 = locus_text(s, "A"), *b9 = locus_text(s, "B");
    ck_assert_str_eq(a9, a0);
    ck_assert_str_eq(b9, b0);
    ingest_rows(s, "dd-distinct-77,10,20,60003,g,17,0.1,A\n");
    /* format 16: a group names each member (a single record of version 7 leaves it to its key) */
    ck_assert_uint_eq(records_naming(s, "dd-distinct-77"), 1);
    char aid[SS_LOCUS_ID_LEN + 1];
    locus_of(s, "A", aid);
    ck_assert_uint_eq(records_naming(s, aid), 2); /* a and c, moved as they were: version 5 */
    ck_assert_uint_eq(verify_problems(s, &text), 0);
    free(text);
    damage_ref(s, "b", 99);
    ck_assert_uint_eq(verify_problems(s, &text), 1);
    ck_assert_ptr_nonnull(strstr(text, "alert tuple/b: its reference disagrees with its record"));
    free(text);
    delete_first(s, s->locus_alerts); /* b's record: its reference and its locus still name it */
    ck_assert_msg(verify_problems(s, &text) == 3, "%s", text);
    ck_assert_ptr_nonnull(strstr(text, "alert tuple/b: missing from locus_alerts"));
    ck_assert_ptr_nonnull(strstr(text, "num_alerts 1 but 0 alerts listed"));
    ck_assert_ptr_nonnull(strstr(text, "locus_alerts has 3 entries for 4 alerts"));
    free(text);
    ss_store_close(s);
    free(a0), free(b0), free(a8), free(b8), free(a9), free(b9), free(dir);
}
END_TEST

typedef struct got_stamps {
    int n;
    ss_cutout_kind kind[8];
    char name[8][32];
    unsigned char *bytes[8];
    size_t len[8];
} got_stamps;

static int keep_stamp(void *ctx, const ss_store_cutout *c)
{
    got_stamps *g = ctx;
    ck_assert_int_lt(g->n, 8);
    g->kind[g->n] = c->kind;
    snprintf(g->name[g->n], sizeof g->name[0], "%.*s", (int)c->file_name_len,
             c->file_name ? c->file_name : "");
    g->bytes[g->n] = malloc(c->len);
    memcpy(g->bytes[g->n], c->bytes, c->len);
    g->len[g->n++] = c->len;
    return 0;
}

static void free_stamps(got_stamps *g)
{
    for (int i = 0; i < g->n; i++)
        free(g->bytes[i]);
    g->n = 0;
}

static int read_stamps(ss_store *s, const char *alert_id, got_stamps *g)
{
    ss_store_txn *t;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    int rc = ss_store_cutouts_each(t, alert_id, "ztf", keep_stamp, g);
    ss_store_txn_abort(t);
    return rc;
}

/* The packed record of alert @p id's stamps (in its chunk from format 11), copied into @p out. */
static void stamps_record(ss_store *s, const char *id, ss_wbuf *out)
{
    ss_store_txn *t;
    unsigned char kb[SSI_KEY_MAX];
    size_t klen = ssi_key_cutout(kb, id, "ztf", 0);
    kb[klen - 1] = 0xff;
    MDB_val k = {klen, kb}, v, rec;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    ck_assert_int_eq(mdb_get(t->txn, s->cutouts, &k, &v), 0);
    ck_assert_int_eq(ssi_cutouts_record(t, &v, &rec), 0);
    ss_wbuf_reset(out);
    ss_wbuf_bytes(out, rec.mv_data, rec.mv_size);
    ss_store_txn_abort(t);
}

START_TEST(an_alerts_stamps_are_one_record_compressed_when_they_shrink)
{
    ss_store *s = open_rw("st");
    ss_packet *p = ss_packet_new();
    ss_alert *a = packed_alert(p, "1", "x");
    static unsigned char fits[40320], gz[3000], tiny[100];
    for (size_t i = 0; i < sizeof fits; i++) /* a header and a smooth image: zstd shrinks it */
        fits[i] = i < 2880 ? " SIMPLE=T"[i % 9] : (unsigned char)((i / 64) & 0x0f);
    gz[0] = 0x1f, gz[1] = 0x8b;
    for (size_t i = 2; i < sizeof gz; i++) /* "gzipped": kept as sent, however it compresses */
        gz[i] = 7;
    memset(tiny, 'x', sizeof tiny);
    ss_cutout c[SS_CUTOUT__COUNT] = {{fits, sizeof fits, "sci.fits"},
                                     {gz, sizeof gz, NULL},
                                     {tiny, sizeof tiny, "diff.fits.gz"}};
    ss_store_txn *t;
    for (int twice = 0; twice < 2; twice++) { /* the second put keeps the first */
        ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
        ck_assert_int_eq(ss_store_cutouts_put(t, a, c), 0);
        ck_assert_int_eq(ss_store_txn_commit(t), 0);
    }
    ck_assert_uint_eq(table_entries(s, s->cutouts), 1);
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    ck_assert_uint_eq(ss_store_txn_counters(t)->cutouts, 3);
    ss_store_txn_abort(t);
    ss_wbuf rec = {0};
    stamps_record(s, "1", &rec);
    ck_assert_uint_lt(rec.len, sizeof fits / 2 + sizeof gz + sizeof tiny);
    ss_wbuf_free(&rec);
    got_stamps g = {0};
    ck_assert_int_eq(read_stamps(s, "1", &g), 0);
    ck_assert_int_eq(g.n, 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(g.kind[i], i);
        ck_assert_uint_eq(g.len[i], c[i].len);
        ck_assert_int_eq(memcmp(g.bytes[i], c[i].data, c[i].len), 0);
        ck_assert_str_eq(g.name[i], c[i].file_name ? c[i].file_name : "");
    }
    free_stamps(&g);
    char *text;
    ck_assert_uint_eq(verify_problems(s, &text), 0);
    free(text);
    ss_store_close(s);
    ss_packet_free(p);
}
END_TEST

/* Stamps packed before the transaction (the ingest's decoding thread) make the record the writer
 * makes itself: a plain stamp compressed, a gzipped one and a small one as sent. The set keeps
 * every stamp's bytes: the decoder lent them only until its next call, which writes over them,
 * and the packet keeps their lengths and names alone. */
START_TEST(stamps_packed_early_store_the_same_record)
{
    ss_store *s = open_rw("st");
    ss_packet *p = ss_packet_new();
    unsigned char plain[4000], gz[900], small[100];
    for (size_t i = 0; i < sizeof plain; i++)
        plain[i] = (unsigned char)(i % 7);
    memset(gz, 9, sizeof gz), gz[0] = 0x1f, gz[1] = 0x8b;
    memset(small, 1, sizeof small);
    ss_cutout c[SS_CUTOUT__COUNT] = {{plain, sizeof plain, "sci.fits"},
                                     {gz, sizeof gz, "t.fits.gz"},
                                     {small, sizeof small, NULL}};
    ss_store_txn *t;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    ck_assert_int_eq(ss_store_cutouts_put(t, packed_alert(p, "1", "x"), c), 0);
    ss_store_stamps *st = ss_store_stamps_new();
    uint32_t first, second;
    ck_assert_int_eq(ss_store_stamps_pack(st, c, &first), 0);
    ck_assert_int_eq(ss_store_stamps_pack(st, c, &second), 0);
    ck_assert_uint_eq(second, first + 1);
    size_t as_sent = sizeof gz + sizeof small;
    ck_assert_uint_ge(ss_store_stamps_bytes(st), 2 * as_sent);
    ck_assert_uint_lt(ss_store_stamps_bytes(st), 2 * as_sent + sizeof plain); /* plain shrunk */
    ss_cutout lent[SS_CUTOUT__COUNT];
    memcpy(lent, c, sizeof lent);
    lent[SS_CUTOUT_SCIENCE].data = lent[SS_CUTOUT_TEMPLATE].data = lent[SS_CUTOUT_DIFFERENCE].data =
        NULL;
    memset(plain, 0xee, sizeof plain), memset(gz, 0xee, sizeof gz),
        memset(small, 0xee, sizeof small);
    ck_assert_int_eq(ss_store_cutouts_put2(t, packed_alert(p, "2", "x"), lent, st, second), 0);
    ck_assert_int_eq(ss_store_cutouts_put2(t, packed_alert(p, "3", "x"), lent, st, 2), SS_EINVAL);
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
    ss_wbuf mine = {0}, early = {0};
    stamps_record(s, "1", &mine);
    stamps_record(s, "2", &early);
    ck_assert_uint_eq(mine.len, early.len);
    ck_assert_int_eq(memcmp(mine.data, early.data, mine.len), 0);
    ck_assert_uint_lt(mine.len, sizeof plain); /* the plain stamp was compressed */
    got_stamps g = {0};
    ck_assert_int_eq(read_stamps(s, "2", &g), 0);
    ck_assert_int_eq(g.n, 3);
    ck_assert_str_eq(g.name[1], "t.fits.gz");
    ck_assert_uint_eq(g.len[0], sizeof plain);
    for (size_t i = 0; i < sizeof plain; i++)
        ck_assert_uint_eq(((const unsigned char *)g.bytes[0])[i], i % 7);
    ck_assert_uint_eq(((const unsigned char *)g.bytes[1])[1], 0x8b);
    ck_assert_uint_eq(((const unsigned char *)g.bytes[2])[sizeof small - 1], 1);
    free_stamps(&g);
    ss_store_stamps_reset(st);
    ck_assert_uint_eq(ss_store_stamps_bytes(st), 0);
    ck_assert_int_eq(ss_store_stamps_pack(st, c, &first), 0);
    ck_assert_uint_eq(first, 0);
    ss_store_stamps_free(st);
    ss_wbuf_free(&mine), ss_wbuf_free(&early);
    ss_store_close(s);
    ss_packet_free(p);
}
END_TEST

/* Stamps stored one per record before format 7 are read beside packed ones; a damaged packed
 * record is reported, not read past. */
START_TEST(single_stamp_records_still_read_and_damage_is_caught)
{
    ss_store *s = open_rw("st");
    ss_store_txn *t;
    unsigned char kb[SSI_KEY_MAX];
    ss_wbuf b = {0};
    ss_wbuf_u8(&b, SS_RECORD_VERSION);
    ss_wbuf_str(&b, "old.fits");
    ss_wbuf_bytes(&b, "STAMP", 5);
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    MDB_val k = {ssi_key_cutout(kb, "2", "ztf", SS_CUTOUT_TEMPLATE), kb}, v = {b.len, b.data};
    ck_assert_int_eq(mdb_put(t->txn, s->cutouts, &k, &v, 0), 0);
    ss_store_txn_counters(t)->cutouts++;
    ss_packet *p = ss_packet_new();
    ss_alert *a = packed_alert(p, "3", "x");
    unsigned char img[600];
    memset(img, 3, sizeof img);
    ss_cutout c[SS_CUTOUT__COUNT] = {{img, sizeof img, NULL}};
    ck_assert_int_eq(ss_store_cutouts_put(t, a, c), 0);
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
    got_stamps g = {0};
    ck_assert_int_eq(read_stamps(s, "2", &g), 0);
    ck_assert_int_eq(g.n, 1);
    ck_assert_int_eq(g.kind[0], SS_CUTOUT_TEMPLATE);
    ck_assert_str_eq(g.name[0], "old.fits");
    ck_assert_int_eq(memcmp(g.bytes[0], "STAMP", 5), 0);
    free_stamps(&g);
    char *text;
    ck_assert_uint_eq(verify_problems(s, &text), 0);
    free(text);
    /* cut the record short: from format 11, the reference to the packed record in its chunk */
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    size_t klen = ssi_key_cutout(kb, "3", "ztf", 0);
    kb[klen - 1] = 0xff;
    MDB_val pk = {klen, kb}, pv;
    ck_assert_int_eq(mdb_get(t->txn, s->cutouts, &pk, &pv), 0);
    ss_wbuf_reset(&b);
    ss_wbuf_bytes(&b, pv.mv_data, pv.mv_size - 1);
    MDB_val cut = {b.len, b.data};
    ck_assert_int_eq(mdb_put(t->txn, s->cutouts, &pk, &cut, 0), 0);
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
    ck_assert_int_eq(read_stamps(s, "3", &g), SS_ECORRUPT);
    free_stamps(&g);
    ck_assert_uint_eq(verify_problems(s, &text), 2); /* the record, and the count it misses */
    ck_assert_ptr_nonnull(strstr(text, "cutouts 3"));
    free(text);
    ss_wbuf_free(&b);
    ss_store_close(s);
    ss_packet_free(p);
}
END_TEST

/* More records than one retention transaction takes: every old one is reached, once. */
START_TEST(retention_walks_the_whole_store_in_chunks)
{
    ss_store *s = open_rw("st");
    ss_packet *p = ss_packet_new();
    unsigned char img[700];
    memset(img, 5, sizeof img);
    ss_cutout c[SS_CUTOUT__COUNT] = {{img, sizeof img, NULL}};
    ss_store_txn *t;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    char ids[4500][8];
    for (int i = 0; i < 4500; i++) {
        snprintf(ids[i], sizeof ids[i], "%d", i);
        ss_packet_reset(p);
        ss_alert *a = packed_alert(p, ids[i], "x");
        a->mjd = i % 2 ? 60100 : 60000;
        ck_assert_int_eq(ss_store_alert_put(t, a, "SKS2023abcdefghjkmn", NULL, 0), 0);
        ck_assert_int_eq(ss_store_cutouts_put(t, a, c), 0);
    }
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
    ss_store_retention pol = {.cutouts_days = 50, .payload_days = 20};
    ss_err err = {0};
    ck_assert_int_eq(ss_store_retention_set(s, &pol, &err), 0);
    ss_store_retain_report r;
    ck_assert_msg(ss_store_retain(s, 60110, &r, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(r.payloads, 2250);
    ck_assert_uint_eq(r.cutouts, 2250);
    ck_assert_int_eq(ss_store_retain(s, 60110, &r, &err), 0);
    ck_assert(r.payloads == 0 && r.cutouts == 0);
    ck_assert_int_eq(ss_store_retain(s, 60125, &r, &err), 0); /* new ones past 20 days */
    ck_assert(r.payloads == 2250 && r.cutouts == 0);
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    ck_assert_uint_eq(ss_store_txn_counters(t)->cutouts, 2250);
    ss_alert *a;
    ss_packet_reset(p);
    ck_assert_int_eq(ss_store_alert_get(t, "ztf", "4498", p, &a), 0);
    ck_assert(a->nprops == 0 && a->mjd == 60000 && a->mag == 18.5);
    ss_store_txn_abort(t);
    got_stamps g = {0};
    ck_assert_int_eq(read_stamps(s, "4498", &g), 0);
    ck_assert_int_eq(g.n, 0);
    ck_assert_int_eq(read_stamps(s, "4499", &g), 0);
    ck_assert_int_eq(g.n, 1);
    free_stamps(&g);
    ss_store_close(s);
    ss_packet_free(p);
}
END_TEST

/* ---- format 11: stamps in chunks ---- */

/* A stamp of @p len bytes for alert @p i, gzipped as ZTF's are (kept as sent). */
static void chunk_stamp(unsigned char *b, size_t len, int i)
{
    for (size_t j = 0; j < len; j++)
        b[j] = (unsigned char)(j * 31 + (size_t)i * 7);
    b[0] = 0x1f, b[1] = 0x8b;
}

/* Stamps read back, the ones of @p id equal to chunk_stamp(@p len, @p i) when @p i >= 0. */
static void stamp_is(ss_store_txn *t, const char *id, size_t len, int i)
{
    got_stamps g = {0};
    unsigned char want[5000];
    ck_assert_int_eq(ss_store_cutouts_each(t, id, NULL, keep_stamp, &g), 0);
    ck_assert_int_eq(g.n, i >= 0);
    if (i >= 0) {
        chunk_stamp(want, len, i);
        ck_assert_uint_eq(g.len[0], len);
        ck_assert_int_eq(memcmp(g.bytes[0], want, len), 0);
    }
    free_stamps(&g);
}

static size_t chunk_len(int i)
{
    return i == 4 ? 5000 : 1000; /* alert 4's is larger than a chunk */
}

/* The problems verify finds with stamps (the alerts of these tests have no locus). */
static int stamp_problems(ss_store *s)
{
    char *text, *line, *save = NULL;
    int n = 0;
    verify_problems(s, &text);
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        n += strstr(line, "cutouts") || strstr(line, "stamps chunk");
    free(text);
    return n;
}

/* Alerts' stamps share chunks of the store's size: read in the transaction that put them, before
 * and after their chunk was written, after it and after a reopen; numbered on across transactions;
 * freed by retention once a chunk's newest alert is past the cutoff; damage is reported. */
START_TEST(stamps_share_chunks_freed_by_retention)
{
    ss_store *s = open_rw("st");
    s->stamp_chunk = 3000; /* two of the 1000-byte stamps; a third closes the chunk */
    ss_packet *p = ss_packet_new();
    static unsigned char img[11][5000];
    char ids[11][4];
    ss_store_txn *t;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    for (int i = 0; i < 11; i++) {
        if (i == 10) { /* a later transaction's chunk takes the next number */
            stamp_is(t, "9", chunk_len(9), 9); /* still in the chunk filling */
            stamp_is(t, "0", chunk_len(0), 0); /* in a chunk written */
            ck_assert_int_eq(ss_store_txn_commit(t), 0);
            ck_assert_uint_eq(table_entries(s, s->stamps), 6); /* 01 23 4 56 78 9 */
            ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
        }
        snprintf(ids[i], sizeof ids[i], "%d", i);
        chunk_stamp(img[i], chunk_len(i), i);
        ss_cutout c[SS_CUTOUT__COUNT] = {{img[i], chunk_len(i), NULL}};
        ss_packet_reset(p);
        ss_alert *a = packed_alert(p, ids[i], "x");
        a->mjd = i < 3 ? 60000 : 60100; /* chunk 2 holds alerts 2 (old) and 3 */
        ck_assert_int_eq(ss_store_alert_put(t, a, "SKS2023abcdefghjkmn", NULL, 0), 0);
        ck_assert_int_eq(ss_store_cutouts_put(t, a, c), 0);
        ck_assert_int_eq(ss_store_cutouts_put(t, a, c), 0); /* kept once */
    }
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
    ck_assert_uint_eq(table_entries(s, s->stamps), 7);
    ss_store_close(s);
    s = open_rw("st");
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    ck_assert_uint_eq(ss_store_txn_counters(t)->cutouts, 11);
    for (int i = 0; i < 11; i++)
        stamp_is(t, ids[i], chunk_len(i), i);
    ss_store_txn_abort(t);
    ck_assert_int_eq(stamp_problems(s), 0);
    ss_store_retention pol = {.cutouts_days = 50};
    ss_err err = {0};
    ss_store_retain_report r;
    ck_assert_int_eq(ss_store_retention_set(s, &pol, &err), 0);
    ck_assert_msg(ss_store_retain(s, 60110, &r, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(r.cutouts, 3);
    ck_assert_uint_eq(r.stamp_chunks, 1); /* chunk 1; chunk 2 keeps alert 3's */
    ck_assert_uint_eq(table_entries(s, s->stamps), 6);
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    for (int i = 0; i < 11; i++)
        stamp_is(t, ids[i], chunk_len(i), i < 3 ? -1 : i);
    ss_store_txn_abort(t);
    ck_assert_int_eq(stamp_problems(s), 0);
    /* the chunk of alerts 5 and 6 lost */
    unsigned char kb[8];
    ss_be64_put(kb, 4);
    MDB_val k = {sizeof kb, kb};
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    ck_assert_int_eq(mdb_del(t->txn, s->stamps, &k, NULL), 0);
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
    ck_assert_int_eq(read_stamps(s, "5", &(got_stamps){0}), SS_ECORRUPT);
    ck_assert_int_eq(stamp_problems(s), 3); /* two records, and the count they miss */
    ss_store_close(s);
    ss_packet_free(p);
}
END_TEST

/* Put alert @p id's stamp, chunk_stamp(1000, @p i), with the alert, observed at @p mjd. */
static void put_stamped(ss_store *s, ss_packet *p, const char *id, int i, double mjd)
{
    static unsigned char img[4][1000];
    ss_cutout c[SS_CUTOUT__COUNT] = {{img[i], sizeof img[i], NULL}};
    ss_store_txn *t;
    chunk_stamp(img[i], sizeof img[i], i);
    ss_packet_reset(p);
    ss_alert *a = packed_alert(p, id, "x");
    a->mjd = mjd;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    ck_assert_int_eq(ss_store_alert_put(t, a, "SKS2023abcdefghjkmn", NULL, 0), 0);
    ck_assert_int_eq(ss_store_cutouts_put(t, a, c), 0);
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
}

/* A format 10 store's stamps, a record of its own for each alert, are read as they are, opened
 * read-only and after the upgrade to format 11, beside the chunks written since; retention drops
 * both kinds. */
START_TEST(format_10_stamps_read_beside_chunks_after_upgrade)
{
    ss_store *s = open_rw("st");
    ss_packet *p = ss_packet_new();
    s->has_stamps = 0; /* as skysieve before format 11 wrote them */
    put_stamped(s, p, "0", 0, 60000);
    ss_store_close(s);
    char *dir = tu_path(tu_tmp, "st");
    static const char *const drop[] = {"stamps", NULL};
    set_format(dir, 10, drop);
    ss_store_options ro = {.readonly = 1};
    ss_err err = {0};
    ss_store_txn *t;
    ck_assert_msg(ss_store_open(dir, &ro, &s, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    stamp_is(t, "0", 1000, 0);
    ss_store_txn_abort(t);
    ck_assert_int_eq(stamp_problems(s), 0);
    ss_store_close(s);
    s = open_rw("st");
    ss_store_info info;
    ck_assert_int_eq(ss_store_info_get(s, &info), 0);
    ck_assert_uint_eq(info.format, SS_STORE_FORMAT_VERSION);
    put_stamped(s, p, "1", 1, 60100);
    ck_assert_uint_eq(table_entries(s, s->stamps), 1);
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    stamp_is(t, "0", 1000, 0);
    stamp_is(t, "1", 1000, 1);
    ss_store_txn_abort(t);
    ck_assert_int_eq(stamp_problems(s), 0);
    ss_store_retention pol = {.cutouts_days = 50};
    ss_store_retain_report r;
    ck_assert_int_eq(ss_store_retention_set(s, &pol, &err), 0);
    ck_assert_msg(ss_store_retain(s, 60110, &r, &err) == 0, "%s", err.msg);
    ck_assert(r.cutouts == 1 && r.stamp_chunks == 0);
    ck_assert_int_eq(ss_store_retain(s, 60200, &r, &err), 0);
    ck_assert(r.cutouts == 1 && r.stamp_chunks == 1);
    ck_assert_uint_eq(table_entries(s, s->stamps), 0);
    ck_assert_int_eq(stamp_problems(s), 0);
    put_stamped(s, p, "2", 2, 60300); /* the dropped chunk's number is not given again */
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    unsigned char kb[8];
    ss_be64_put(kb, 2);
    MDB_val k = {sizeof kb, kb}, v;
    ck_assert_int_eq(mdb_get(t->txn, s->stamps, &k, &v), 0);
    stamp_is(t, "2", 1000, 2);
    ss_store_txn_abort(t);
    ss_store_close(s);
    ss_packet_free(p);
    free(dir);
}
END_TEST

/* The share of stamps chunk 1's pages the page cache holds (mincore on a map of stamps.dat). */
static double chunk_cached(ss_store *s)
{
    ss_store_txn *t;
    unsigned char kb[8];
    ss_be64_put(kb, 1);
    MDB_val k = {sizeof kb, kb}, v;
    double newest;
    uint64_t off, len;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    ck_assert_int_eq(mdb_get(t->txn, s->stamps, &k, &v), 0);
    ck_assert_int_eq(ssi_chunk_place(&v, &newest, &off, &len), 0);
    ss_store_txn_abort(t);
    ck_assert_uint_gt(len, 0); /* in the file */
    size_t page = (size_t)sysconf(_SC_PAGESIZE), lo = (off + page - 1) / page * page,
           hi = (off + len) / page * page, n = (hi - lo) / page, held = 0;
    unsigned char *map = mmap(NULL, hi, PROT_READ, MAP_SHARED, s->stamps_fd, 0), *vec = malloc(n);
    ck_assert(map != MAP_FAILED && vec);
    ck_assert_int_eq(mincore(map + lo, hi - lo, vec), 0);
    for (size_t i = 0; i < n; i++)
        held += vec[i] & 1;
    munmap(map, hi);
    free(vec);
    return (double)held / (double)n;
}

/* A commit's chunks of stamps leave the page cache once on disk, unless the store is opened to
 * keep them (ss_store_options cache_stamps). */
START_TEST(committed_stamps_leave_the_page_cache)
{
    struct statfs fs;
    ck_assert_int_eq(statfs(tu_tmp, &fs), 0);
    if (fs.f_type == 0x01021994) { /* TMPFS_MAGIC: its pages are the files, never dropped */
        fprintf(stderr, "committed_stamps_leave_the_page_cache: skipped, %s is a tmpfs\n", tu_tmp);
        return;
    }
    static unsigned char img[16384];
    chunk_stamp(img, sizeof img, 0);
    ss_packet *p = ss_packet_new();
    for (int cache = 0; cache < 2; cache++) {
        char name[8], *dir;
        snprintf(name, sizeof name, "st%d", cache);
        dir = tu_path(tu_tmp, name);
        ss_store_options o = {.create = 1, .cache_stamps = cache};
        ss_store *s = NULL;
        ss_err err = {0};
        ss_store_txn *t;
        ck_assert_msg(ss_store_open(dir, &o, &s, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
        for (int i = 0; i < 250; i++) { /* 4 MB, one chunk */
            char id[8];
            snprintf(id, sizeof id, "%d", i);
            ss_cutout c[SS_CUTOUT__COUNT] = {{img, sizeof img, NULL}};
            ss_packet_reset(p);
            ck_assert_int_eq(ss_store_cutouts_put(t, packed_alert(p, id, "x"), c), 0);
        }
        ck_assert_int_eq(ss_store_txn_commit(t), 0);
        ck_assert_uint_eq(table_entries(s, s->stamps), 1);
        double held = chunk_cached(s);
        ck_assert_msg(cache ? held > 0.9 : held < 0.5, "cache_stamps %d: %.2f of the chunk cached",
                      cache, held);
        ss_store_close(s);
        free(dir);
    }
    ss_packet_free(p);
}
END_TEST

/* ---- format 13: the chunks in stamps.dat ---- */

/* Where chunk @p id lies in stamps.dat (*len 0: in the stamps table itself). */
static void chunk_place_of(ss_store *s, uint64_t id, uint64_t *off, uint64_t *len)
{
    ss_store_txn *t;
    unsigned char kb[8];
    ss_be64_put(kb, id);
    MDB_val k = {sizeof kb, kb}, v;
    double newest;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    ck_assert_int_eq(mdb_get(t->txn, s->stamps, &k, &v), 0);
    ck_assert_int_eq(ssi_chunk_place(&v, &newest, off, len), 0);
    ss_store_txn_abort(t);
}

/* stamps.dat's end as committed (meta "stamps_end"). */
static uint64_t stamps_end_of(ss_store *s)
{
    ss_store_txn *t;
    uint64_t end;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    ck_assert_int_eq(ssi_chunks_end(t, &end), 0);
    ss_store_txn_abort(t);
    return end;
}

/* A stamp of 20,000 bytes for alert @p i: alert @p i's, kept as sent. */
#define BIG_STAMP 20000
static unsigned char big_stamps[8][BIG_STAMP];

static void put_big(ss_store_txn *t, ss_packet *p, int i, double mjd)
{
    char id[4];
    snprintf(id, sizeof id, "%d", i);
    chunk_stamp(big_stamps[i], BIG_STAMP, i);
    ss_cutout c[SS_CUTOUT__COUNT] = {{big_stamps[i], BIG_STAMP, NULL}};
    ss_packet_reset(p);
    ss_alert *a = packed_alert(p, id, "x");
    a->mjd = mjd;
    ck_assert_int_eq(ss_store_alert_put(t, a, "SKS2023abcdefghjkmn", NULL, 0), 0);
    ck_assert_int_eq(ss_store_cutouts_put(t, a, c), 0);
}

/* Alert @p i's stamp read back as put_big() put it (@p there), or none. */
static void big_is(ss_store *s, int i, int there)
{
    char id[4];
    got_stamps g = {0};
    snprintf(id, sizeof id, "%d", i);
    ck_assert_int_eq(read_stamps(s, id, &g), 0);
    ck_assert_int_eq(g.n, there);
    if (there)
        ck_assert(g.len[0] == BIG_STAMP && !memcmp(g.bytes[0], big_stamps[i], BIG_STAMP));
    free_stamps(&g);
}

static struct stat stamps_stat(ss_store *s)
{
    struct stat st;
    ck_assert_int_eq(fstat(s->stamps_fd, &st), 0);
    return st;
}

/* Chunks go to stamps.dat one after the other, LMDB keeps where: retention gives a dropped chunk's
 * blocks back (a hole), and a compacted copy packs the rest, reads them and writes on after. */
START_TEST(chunks_live_in_stamps_dat_punched_and_compacted)
{
    ss_store *s = open_rw("st");
    s->stamp_chunk = 45000; /* two stamps a chunk */
    ss_packet *p = ss_packet_new();
    ss_store_txn *t;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    for (int i = 0; i < 6; i++)
        put_big(t, p, i, i < 2 ? 60000 : 60100);
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
    uint64_t off[4], len[4];
    for (int c = 1; c <= 3; c++)
        chunk_place_of(s, (uint64_t)c, &off[c], &len[c]);
    ck_assert(off[1] == 0 && off[2] == len[1] && off[3] == off[2] + len[2] &&
              len[1] > 2 * BIG_STAMP);
    ck_assert_uint_eq(stamps_end_of(s), off[3] + len[3]);
    ck_assert_uint_eq((uint64_t)stamps_stat(s).st_size, off[3] + len[3]);
    MDB_stat ms;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    ck_assert_int_eq(mdb_stat(t->txn, s->stamps, &ms), 0);
    ss_store_txn_abort(t);
    ck_assert(ms.ms_entries == 3 && ms.ms_overflow_pages == 0); /* no stamp in LMDB's file */
    ss_store_close(s);
    s = open_rw("st");
    for (int i = 0; i < 6; i++)
        big_is(s, i, 1);
    ck_assert_int_eq(stamp_problems(s), 0);
    ss_store_info info;
    ck_assert_int_eq(ss_store_info_get(s, &info), 0);
    ck_assert_uint_eq(info.stamps_bytes, (uint64_t)stamps_stat(s).st_blocks * 512);
    ck_assert_uint_ge(info.stamps_bytes, off[3] + len[3]);

    blkcnt_t before = stamps_stat(s).st_blocks;
    ss_store_retention pol = {.cutouts_days = 50};
    ss_store_retain_report r;
    ss_err err = {0};
    ck_assert_int_eq(ss_store_retention_set(s, &pol, &err), 0);
    ck_assert_msg(ss_store_retain(s, 60110, &r, &err) == 0, "%s", err.msg);
    ck_assert(r.cutouts == 2 && r.stamp_chunks == 1);
    struct stat after = stamps_stat(s);
    ck_assert_uint_eq((uint64_t)after.st_size, off[3] + len[3]); /* later chunks stay put */
    ck_assert_msg((before - after.st_blocks) * 512 >= (blkcnt_t)(len[1] / 4096 * 4096),
                  "%lld blocks before the hole, %lld after", (long long)before,
                  (long long)after.st_blocks);
    for (int i = 0; i < 6; i++)
        big_is(s, i, i >= 2);
    ck_assert_int_eq(stamp_problems(s), 0);

    char *copy = tu_path(tu_tmp, "st.compact");
    ck_assert_msg(ss_store_compact(s, copy, &err) == 0, "%s", err.msg);
    ss_store_close(s);
    s = open_rw("st.compact");
    ck_assert_uint_eq((uint64_t)stamps_stat(s).st_size, len[2] + len[3]);
    ck_assert_uint_eq(stamps_end_of(s), len[2] + len[3]);
    chunk_place_of(s, 2, &off[0], &len[0]);
    ck_assert(off[0] == 0 && len[0] == len[2]);
    for (int i = 0; i < 6; i++)
        big_is(s, i, i >= 2);
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    put_big(t, p, 6, 60200);
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
    chunk_place_of(s, 4, &off[0], &len[0]);
    ck_assert_uint_eq(off[0], len[2] + len[3]);
    big_is(s, 6, 1);
    ck_assert_int_eq(stamp_problems(s), 0);
    ss_store_close(s);
    ss_packet_free(p);
    free(copy);
}
END_TEST

/* A transaction that does not commit leaves bytes past the committed end, which the next one
 * writes over; a damaged or missing stamps.dat is reported by verify and by the reads. */
START_TEST(uncommitted_chunks_are_written_over_and_damage_is_caught)
{
    ss_store *s = open_rw("st");
    s->stamp_chunk = 45000;
    ss_packet *p = ss_packet_new();
    ss_store_txn *t;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    for (int i = 0; i < 3; i++) /* the first chunk is written to the file */
        put_big(t, p, i, 60000);
    ss_store_txn_abort(t);
    ck_assert_uint_gt((uint64_t)stamps_stat(s).st_size, 2 * BIG_STAMP);
    ck_assert_uint_eq(stamps_end_of(s), 0);
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    put_big(t, p, 3, 60000);
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
    uint64_t off, len;
    chunk_place_of(s, 1, &off, &len); /* the number and the place of the chunk not committed */
    ck_assert_uint_eq(off, 0);
    for (int i = 0; i < 4; i++)
        big_is(s, i, i == 3);
    ck_assert_int_eq(stamp_problems(s), 0);

    ck_assert_int_eq(pwrite(s->stamps_fd, "\x01\0\0\0\0\0\0\0\x42", 9, 0), 9); /* another MJD */
    char *text;
    ck_assert_int_eq(stamp_problems(s), 1);
    verify_problems(s, &text);
    ck_assert_msg(strstr(text, "stamps chunk 1: stamps.dat holds another chunk's head there"), "%s",
                  text);
    free(text);
    ck_assert_int_eq(ftruncate(s->stamps_fd, (off_t)(len / 2)), 0);
    ck_assert_int_eq(read_stamps(s, "3", &(got_stamps){0}), SS_ECORRUPT);
    ck_assert_int_eq(stamp_problems(s), 3); /* the chunk, its alert's record, the count */
    verify_problems(s, &text);
    ck_assert_msg(strstr(text, "stamps chunk 1: stamps.dat is missing or shorter than the chunk"),
                  "%s", text);
    free(text);
    ss_store_close(s);
    char *dir = tu_path(tu_tmp, "st"), *dat = tu_path(dir, "stamps.dat");
    ck_assert_int_eq(unlink(dat), 0);
    ss_store_options ro = {.readonly = 1};
    ss_err err = {0};
    ck_assert_msg(ss_store_open(dir, &ro, &s, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(s->stamps_fd, -1);
    ck_assert_int_eq(read_stamps(s, "3", &(got_stamps){0}), SS_ECORRUPT);
    ck_assert_int_eq(stamp_problems(s), 3);
    ss_store_close(s);
    ss_packet_free(p);
    free(dat);
    free(dir);
}
END_TEST

/* A format 12 store's chunks, in the stamps table, are read as they are, opened read-only and
 * after the upgrade to format 13 beside the chunks of stamps.dat; compaction and retention take
 * both kinds. */
START_TEST(format_12_chunks_read_beside_stamps_dat_after_upgrade)
{
    ss_store *s = open_rw("st");
    ss_packet *p = ss_packet_new();
    s->stamps_inline = 1; /* as skysieve 12 wrote them */
    put_stamped(s, p, "0", 0, 60000);
    ss_store_close(s);
    char *dir = tu_path(tu_tmp, "st"), *dat = tu_path(dir, "stamps.dat");
    static const char *const none[] = {NULL};
    set_format(dir, 12, none);
    ck_assert_int_eq(unlink(dat), 0);
    ss_store_options ro = {.readonly = 1};
    ss_err err = {0};
    ss_store_txn *t;
    ck_assert_msg(ss_store_open(dir, &ro, &s, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(s->stamps_fd, -1);
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    stamp_is(t, "0", 1000, 0);
    ss_store_txn_abort(t);
    ck_assert_int_eq(stamp_problems(s), 0);
    pid_t pid = fork(); /* a writer upgrades the store while this handle has it open */
    if (pid == 0) {
        ss_store *w = open_rw("st");
        ss_store_info info;
        int ok = !ss_store_info_get(w, &info) && info.format == SS_STORE_FORMAT_VERSION;
        put_stamped(w, p, "1", 1, 60100);
        ss_store_close(w);
        _exit(ok ? 0 : 1);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    stamp_is(t, "1", 1000, 1); /* in stamps.dat, made after this handle's open */
    ss_store_txn_abort(t);
    ss_store_close(s);
    s = open_rw("st");
    uint64_t off, len;
    chunk_place_of(s, 1, &off, &len);
    ck_assert_uint_eq(len, 0); /* format 12's, in the table */
    chunk_place_of(s, 2, &off, &len);
    ck_assert(off == 0 && len > 1000 && stamps_stat(s).st_size == (off_t)len);
    char *copy = tu_path(tu_tmp, "st.compact");
    ck_assert_msg(ss_store_compact(s, copy, &err) == 0, "%s", err.msg);
    ss_store_close(s);
    for (int c = 0; c < 2; c++) {
        s = open_rw(c ? "st.compact" : "st");
        ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
        stamp_is(t, "0", 1000, 0);
        stamp_is(t, "1", 1000, 1);
        ss_store_txn_abort(t);
        ck_assert_int_eq(stamp_problems(s), 0);
        ss_store_retention pol = {.cutouts_days = 50};
        ss_store_retain_report r;
        ck_assert_int_eq(ss_store_retention_set(s, &pol, &err), 0);
        ck_assert_msg(ss_store_retain(s, 60200, &r, &err) == 0, "%s", err.msg);
        ck_assert(r.cutouts == 2 && r.stamp_chunks == 2);
        ck_assert_uint_eq(table_entries(s, s->stamps), 0);
        ck_assert_int_eq(stamp_problems(s), 0);
        ss_store_close(s);
    }
    ss_packet_free(p);
    free(copy);
    free(dat);
    free(dir);
}
END_TEST

/* ---- format 12: FITS stamps regrouped before zstd ---- */

/* A header of @p n cards (key, value) and END at b + *len, padded to its block. */
static void fits_head(unsigned char *b, size_t *len, const char *const (*cards)[2], int n)
{
    memset(b + *len, ' ', 2880);
    for (int i = 0; i < n; i++) {
        char card[81];
        snprintf(card, sizeof card, "%-8s= %20s", cards[i][0], cards[i][1]);
        memcpy(b + *len + 80 * i, card, strlen(card));
    }
    memcpy(b + *len + 80 * n, "END", 3);
    *len += 2880;
}

/* @p bytes of an image's data at b + *len, padded to its block: the numbers' first two bytes
 * vary little (and not alike), their last two are noise, as in a survey's float images.
 * @return where it starts. */
static size_t fits_data(unsigned char *b, size_t *len, size_t bytes, unsigned seed)
{
    size_t at = *len;
    for (size_t i = 0; i < bytes; i++)
        b[at + i] = i % 4 == 0   ? (unsigned char)(0x44 + (i / 1000) % 2)
                    : i % 4 == 1 ? (unsigned char)(0x10 + (i / 97) % 16)
                                 : (unsigned char)rand_r(&seed);
    size_t padded = (bytes + 2879) / 2880 * 2880;
    memset(b + at + bytes, 0, padded - bytes);
    *len += padded;
    return at;
}

/* A stamp of four HDUs and a tail: 4-byte numbers (231 of them, past the last sixteen), 8-byte
 * ones, a binary table (bytes: left alone), 2-byte ones; then 100 bytes that are no header. The
 * arrays' offsets, counts and sizes go to @p off, @p n and @p es. @return its length. */
static size_t fits_stamp_seeded(unsigned char *b, size_t off[3], size_t n[3], size_t es[3],
                                unsigned seed)
{
    static const char *const primary[][2] = {
        {"SIMPLE", "T"}, {"BITPIX", "-32"}, {"NAXIS", "2"}, {"NAXIS1", "33"}, {"NAXIS2", "7"}};
    static const char *const doubles[][2] = {{"XTENSION", "'IMAGE   '"},
                                             {"BITPIX", "-64"},
                                             {"NAXIS", "2"},
                                             {"NAXIS1", "5"},
                                             {"NAXIS2", "7"},
                                             {"PCOUNT", "0"},
                                             {"GCOUNT", "1"}};
    static const char *const table[][2] = {{"XTENSION", "'BINTABLE'"},
                                           {"BITPIX", "8"},
                                           {"NAXIS", "2"},
                                           {"NAXIS1", "12"},
                                           {"NAXIS2", "3"},
                                           {"PCOUNT", "0"},
                                           {"GCOUNT", "1"},
                                           {"TFIELDS", "1"}};
    static const char *const shorts[][2] = {
        {"XTENSION", "'IMAGE   '"}, {"BITPIX", "16"}, {"NAXIS", "1"}, {"NAXIS1", "21"}};
    size_t len = 0;
    fits_head(b, &len, primary, 5);
    off[0] = fits_data(b, &len, 231 * 4, seed), n[0] = 231, es[0] = 4;
    fits_head(b, &len, doubles, 7);
    off[1] = fits_data(b, &len, 35 * 8, seed + 1), n[1] = 35, es[1] = 8;
    fits_head(b, &len, table, 8);
    fits_data(b, &len, 36, seed + 2);
    fits_head(b, &len, shorts, 4);
    off[2] = fits_data(b, &len, 21 * 2, seed + 3), n[2] = 21, es[2] = 2;
    memset(b + len, 'x', 100);
    return len + 100;
}

static size_t fits_stamp(unsigned char *b, size_t off[3], size_t n[3], size_t es[3])
{
    return fits_stamp_seeded(b, off, n, es, 1);
}

/* Each array's byte k of number i at k * n + i, every other byte where it was, and back. */
START_TEST(fits_arrays_regrouped_by_byte_and_back)
{
    static unsigned char in[12 * 2880], out[sizeof in], back[sizeof in];
    size_t off[3], n[3], es[3], len = fits_stamp(in, off, n, es);
    ck_assert_int_eq(ssi_fits_shuffle(in, len, out, 0), 1);
    static unsigned char moved[sizeof in];
    memset(moved, 0, sizeof moved);
    for (int r = 0; r < 3; r++)
        for (size_t i = 0; i < n[r]; i++)
            for (size_t k = 0; k < es[r]; k++) {
                ck_assert_uint_eq(out[off[r] + k * n[r] + i], in[off[r] + i * es[r] + k]);
                moved[off[r] + i * es[r] + k] = 1;
            }
    for (size_t i = 0; i < len; i++)
        if (!moved[i])
            ck_assert_uint_eq(out[i], in[i]);
    ck_assert_int_eq(ssi_fits_shuffle(out, len, back, 1), 1);
    ck_assert_int_eq(memcmp(back, in, len), 0);

    /* cut inside the second array: the first is regrouped, what follows is left as it was */
    size_t cut = off[1] + 100;
    memset(out, 0xaa, sizeof out);
    ck_assert_int_eq(ssi_fits_shuffle(in, cut, out, 0), 1);
    ck_assert_uint_eq(out[off[0] + 1], in[off[0] + 4]);
    ck_assert_int_eq(
        memcmp(out + off[0] + n[0] * 4, in + off[0] + n[0] * 4, cut - off[0] - n[0] * 4), 0);
    ck_assert_int_eq(ssi_fits_shuffle(out, cut, back, 1), 1);
    ck_assert_int_eq(memcmp(back, in, cut), 0);

    /* not FITS, or an array longer than the bytes: nothing moves, nothing is written */
    memset(out, 0xaa, sizeof out);
    memcpy(back, in, len);
    memcpy(back, "SIMPLX", 6);
    ck_assert_int_eq(ssi_fits_shuffle(back, len, out, 0), 0);
    memcpy(back, in, len);
    memcpy(back + 3 * 80 + 10, "               33000", 20); /* NAXIS1 */
    ck_assert_int_eq(ssi_fits_shuffle(back, len, out, 0), 0);
    memcpy(back, in, len);
    memcpy(back + 1 * 80 + 10, "-9223372036854775808", 20); /* BITPIX */
    ck_assert_int_eq(ssi_fits_shuffle(back, len, out, 0), 0);
    ck_assert_int_eq(ssi_fits_shuffle(in, 2000, out, 0), 0); /* less than a header */
    ck_assert_uint_eq(out[0], 0xaa);
    ck_assert_uint_eq(out[len - 1], 0xaa);
}
END_TEST

/* The codec of the first stamp of alert @p id's packed record. */
static int first_codec(ss_store *s, const char *id, size_t *record_len)
{
    ss_wbuf rec = {0};
    stamps_record(s, id, &rec);
    ck_assert_uint_gt(rec.len, 4);
    int codec = rec.data[3]; /* version, count, then the first stamp's kind and codec */
    *record_len = rec.len;
    ss_wbuf_free(&rec);
    return codec;
}

/* The codecs of alert @p id's stamps, in its packed record's order, and the record's length. */
static void stamp_codecs(ss_store *s, const char *id, int codecs[3], size_t *record_len)
{
    ss_wbuf rec = {0};
    stamps_record(s, id, &rec);
    ss_rbuf r = {rec.data, rec.data + rec.len, 0};
    ck_assert_int_eq(ss_rbuf_u8(&r), 2); /* the packed record's version */
    uint8_t count = ss_rbuf_u8(&r);
    ck_assert_uint_le(count, 3);
    for (uint8_t i = 0; i < count; i++) {
        uint32_t n;
        ss_rbuf_u8(&r);
        codecs[i] = ss_rbuf_u8(&r);
        ss_rbuf_vstr(&r, &n);
        ss_rbuf_uvar(&r);
        r.p += ss_rbuf_uvar(&r);
    }
    ck_assert(!r.bad && r.p == r.end);
    *record_len = rec.len;
    ss_wbuf_free(&rec);
}

/* A write transaction in which alert @p mine has stamps @p c packed by the writer and alert
 * @p theirs the same packed ahead into @p st, with the survey's stamps dictionary as committed;
 * the caller commits it. */
static ss_store_txn *put_ids_both_ways(ss_store *s, ss_packet *p, ss_store_stamps *st,
                                       const ss_cutout *c, const char *mine, const char *theirs)
{
    uint32_t early;
    ss_store_txn *t;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    ck_assert_int_eq(ss_store_stamps_pack2(st, t, "ztf", c, &early), 0);
    ss_store_txn_abort(t);
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    ck_assert_int_eq(ss_store_cutouts_put(t, packed_alert(p, mine, "x"), c), 0);
    ck_assert_int_eq(ss_store_cutouts_put2(t, packed_alert(p, theirs, "x"), c, st, early), 0);
    return t;
}

static ss_store_txn *put_both_ways(ss_store *s, ss_packet *p, ss_store_stamps *st,
                                   const ss_cutout *c)
{
    return put_ids_both_ways(s, p, st, c, "1", "2");
}

/* Alert @p id of survey ztf with stamp @p c (one), put by the writer and committed. */
static void put_stamp_alone(ss_store *s, ss_packet *p, const char *id, const ss_cutout *c)
{
    ss_store_txn *t;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    ck_assert_int_eq(ss_store_cutouts_put(t, packed_alert(p, id, "x"), c), 0);
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
}

/* Whether alert @p id's first stamp reads back as the @p len bytes at @p want. */
static void stamp_reads(ss_store *s, const char *id, const void *want, size_t len)
{
    got_stamps g = {0};
    ck_assert_int_eq(read_stamps(s, id, &g), 0);
    ck_assert_int_eq(g.n, 1);
    ck_assert_uint_eq(g.len[0], len);
    ck_assert_int_eq(memcmp(g.bytes[0], want, len), 0);
    free_stamps(&g);
}

/* A FITS stamp is stored regrouped (a group of one, codec 3: with the survey's stamps dictionary
 * or, packed ahead before there was one, without), in fewer bytes than zstd makes of it as sent,
 * by the writer and by another thread alike, and reads back as sent; a stamp that only starts as
 * FITS is compressed as it is (codec 1). */
START_TEST(fits_stamps_stored_regrouped_read_as_sent)
{
    ss_store *s = open_rw("st");
    ss_packet *p = ss_packet_new();
    static unsigned char fits[12 * 2880], broken[sizeof fits], other[sizeof fits];
    size_t off[3], n[3], es[3], len = fits_stamp(fits, off, n, es);
    size_t olen = fits_stamp_seeded(other, off, n, es, 7);
    memcpy(broken, fits, len);
    memcpy(broken + 3 * 80 + 10, "               33000", 20);
    ss_cutout c[SS_CUTOUT__COUNT] = {{fits, len, "sci.fits"}, {0}, {0}};
    ss_cutout d[SS_CUTOUT__COUNT] = {{broken, len, "sci.fits"}, {0}, {0}};
    ss_cutout o[SS_CUTOUT__COUNT] = {{other, olen, "sci.fits"}, {0}, {0}};
    put_stamp_alone(s, p, "0", o); /* makes the survey's stamps dictionary */
    ss_store_stamps *st = ss_store_stamps_new(), *none = ss_store_stamps_new();
    uint32_t plain_at;
    ck_assert_int_eq(ss_store_stamps_pack(none, c, &plain_at), 0); /* no dictionary known */
    ss_store_txn *t = put_both_ways(s, p, st, c);
    ck_assert_int_eq(ss_store_cutouts_put(t, packed_alert(p, "3", "x"), d), 0);
    ck_assert_int_eq(ss_store_cutouts_put2(t, packed_alert(p, "4", "x"), c, none, plain_at), 0);
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
    size_t mine, theirs, plain, regrouped;
    ck_assert_int_eq(first_codec(s, "1", &mine), 3);
    ck_assert_int_eq(first_codec(s, "2", &theirs), 3);
    ck_assert_int_eq(first_codec(s, "3", &plain), 1);
    ck_assert_int_eq(first_codec(s, "4", &regrouped), 3);
    ck_assert_uint_eq(mine, theirs);
    ck_assert_uint_lt(regrouped, plain); /* the same bytes but for one header value */
    const char *ids[] = {"1", "2", "3", "4"};
    for (int i = 0; i < 4; i++)
        stamp_reads(s, ids[i], i == 2 ? broken : fits, len);
    char *text;
    ck_assert_uint_eq(verify_problems(s, &text), 0);
    free(text);
    ss_store_stamps_free(st);
    ss_store_stamps_free(none);
    ss_store_close(s);
    ss_packet_free(p);
}
END_TEST

/* A stamp of codec 2 (format 12: regrouped, compressed alone, no dictionary), which format 14 no
 * longer writes for FITS it groups, still reads back as sent: a record of format 7 put by hand in
 * the cutouts table, as a store of those formats holds it. */
START_TEST(format_12_stamps_still_read)
{
    ss_store *s = open_rw("st");
    static unsigned char fits[12 * 2880], regrouped[sizeof fits];
    size_t off[3], n[3], es[3], len = fits_stamp(fits, off, n, es);
    ck_assert_int_eq(ssi_fits_shuffle(fits, len, regrouped, 0), 1);
    ss_wbuf z = {0}, rec = {0};
    ck_assert_int_eq(ss_wbuf_reserve(&z, ZSTD_compressBound(len)), 0);
    z.len = ZSTD_compress(z.data, z.cap, regrouped, len, -20);
    ck_assert(!ZSTD_isError(z.len));
    ss_wbuf_u8(&rec, 2); /* the packed layout, one stamp: kind, codec, name, length, stored */
    ss_wbuf_u8(&rec, 1);
    ss_wbuf_u8(&rec, SS_CUTOUT_SCIENCE);
    ss_wbuf_u8(&rec, 2);
    ss_wbuf_vstr(&rec, "sci.fits", 8);
    ss_wbuf_uvar(&rec, len);
    ss_wbuf_uvar(&rec, z.len);
    ss_wbuf_bytes(&rec, z.data, z.len);
    unsigned char kb[SSI_KEY_MAX];
    size_t klen = ssi_key_cutout(kb, "12", "ztf", 0);
    kb[klen - 1] = 0xff;
    MDB_val k = {klen, kb}, v = {rec.len, rec.data};
    ss_store_txn *t;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    ck_assert_int_eq(mdb_put(t->txn, s->cutouts, &k, &v, 0), 0);
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
    stamp_reads(s, "12", fits, len);
    ss_wbuf_free(&z);
    ss_wbuf_free(&rec);
    ss_store_close(s);
}
END_TEST

/* Format 14: the first alert the writer stores with FITS stamps makes its survey's stamps
 * dictionary, with which later stamps keep fewer bytes than without; a set packing ahead uses it
 * once committed. A dictionary made by a transaction that aborts goes with it, its number given
 * again to another's; stamps of a survey without FITS make none. Every stamp reads back as sent,
 * in the store and in its compacted copy, and verify finds nothing wrong. */
START_TEST(fits_stamps_compressed_with_their_surveys_dictionary)
{
    ss_store *s = open_rw("st");
    ss_packet *p = ss_packet_new();
    static unsigned char a[12 * 2880], b[sizeof a], gz[600];
    size_t off[3], n[3], es[3], alen = fits_stamp_seeded(a, off, n, es, 11);
    size_t blen = fits_stamp_seeded(b, off, n, es, 22);
    memset(gz, 7, sizeof gz);
    gz[0] = 0x1f, gz[1] = 0x8b;
    ss_cutout ca[SS_CUTOUT__COUNT] = {{a, alen, "a.fits"}, {0}, {0}};
    ss_cutout cb[SS_CUTOUT__COUNT] = {{b, blen, "b.fits"}, {0}, {0}};
    ss_cutout cg[SS_CUTOUT__COUNT] = {{gz, sizeof gz, "g.fits.gz"}, {0}, {0}};

    ss_store_txn *t; /* made from a, then aborted: the next transaction makes one from b */
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    ck_assert_int_eq(ss_store_cutouts_put(t, packed_alert(p, "0", "x"), ca), 0);
    ss_store_txn_abort(t);
    put_stamp_alone(s, p, "g", cg);
    put_stamp_alone(s, p, "1", cb);
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    uint32_t number = 0;
    ck_assert_int_eq(ssi_zdict_named(t, 't', "ztf", &number), 0);
    ck_assert_uint_eq(number, 1);
    ss_store_txn_abort(t);
    put_stamp_alone(s, p, "2", ca);

    ss_store_stamps *st = ss_store_stamps_new2(s), *none = ss_store_stamps_new2(s);
    uint32_t with, without;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    ck_assert_int_eq(ss_store_stamps_pack2(st, t, "ztf", ca, &with), 0);
    ck_assert_int_eq(ss_store_stamps_pack2(none, NULL, "ztf", ca, &without), 0);
    ss_store_txn_abort(t);
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    ck_assert_int_eq(ss_store_cutouts_put2(t, packed_alert(p, "3", "x"), ca, st, with), 0);
    ck_assert_int_eq(ss_store_cutouts_put2(t, packed_alert(p, "4", "x"), ca, none, without), 0);
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
    size_t len[5];
    const char *ids[] = {"1", "2", "3", "4", "g"};
    const int codec[] = {3, 3, 3, 3, 0};
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(first_codec(s, ids[i], &len[i]), codec[i]);
    ck_assert_uint_eq(len[1], len[2]);
    ck_assert_uint_lt(len[0] + 500, len[1]); /* b is the dictionary: little of it is left */
    ck_assert_uint_lt(len[2], len[3]);

    /* two FITS stamps, a gzip one between them: one group, its second member nothing of its own */
    ss_cutout pair[SS_CUTOUT__COUNT] = {
        {a, alen, "sci.fits"}, {gz, sizeof gz, "t.fits.gz"}, {a, alen, "diff.fits"}};
    ck_assert_int_eq(ss_store_txn_commit(put_ids_both_ways(s, p, st, pair, "5", "6")), 0);
    size_t len5, len6;
    int codecs[3];
    stamp_codecs(s, "5", codecs, &len5);
    ck_assert(codecs[0] == 3 && codecs[1] == 0 && codecs[2] == 4);
    stamp_codecs(s, "6", codecs, &len6);
    ck_assert(codecs[0] == 3 && codecs[1] == 0 && codecs[2] == 4);
    ck_assert_uint_eq(len5, len6);
    ck_assert_uint_lt(len5, len[1] + sizeof gz + 100); /* the second copy costs next to nothing */
    for (int i = 0; i < 2; i++) {
        got_stamps g = {0};
        ck_assert_int_eq(read_stamps(s, i ? "6" : "5", &g), 0);
        ck_assert_int_eq(g.n, 3);
        ck_assert(g.len[0] == alen && g.len[1] == sizeof gz && g.len[2] == alen);
        ck_assert(!memcmp(g.bytes[0], a, alen) && !memcmp(g.bytes[1], gz, sizeof gz) &&
                  !memcmp(g.bytes[2], a, alen));
        free_stamps(&g);
    }

    char *copy = tu_path(tu_tmp, "st.compact");
    ss_err err = {0};
    ck_assert_msg(ss_store_compact(s, copy, &err) == 0, "%s", err.msg);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 4; i++)
            stamp_reads(s, ids[i], i ? a : b, i ? alen : blen);
        got_stamps g = {0};
        ck_assert_int_eq(read_stamps(s, "6", &g), 0);
        ck_assert(g.n == 3 && g.len[2] == alen && !memcmp(g.bytes[2], a, alen));
        free_stamps(&g);
        stamp_reads(s, "g", gz, sizeof gz);
        char *text;
        ck_assert_msg(verify_problems(s, &text) == 0, "%s", text);
        free(text);
        ss_store_close(s);
        s = round ? NULL : open_rw("st.compact");
    }
    free(copy);
    ss_store_stamps_free(st);
    ss_store_stamps_free(none);
    ss_packet_free(p);
}
END_TEST

/* A store handle compresses stamps at its stamp_level, and a set made for it packs them the same:
 * a slower level keeps fewer bytes, every level reads back as sent; a level out of zstd's range
 * is refused, naming it. */
START_TEST(stamps_compressed_at_the_handles_level)
{
    static unsigned char fits[12 * 2880], other[sizeof fits];
    size_t off[3], n[3], es[3], len = fits_stamp(fits, off, n, es), bytes[3];
    size_t olen = fits_stamp_seeded(other, off, n, es, 7);
    const int levels[3] = {-100, 0, 3}; /* 0: the default, -60 */
    ss_cutout c[SS_CUTOUT__COUNT] = {{fits, len, "sci.fits"}, {0}, {0}};
    ss_cutout dict_from[SS_CUTOUT__COUNT] = {{other, olen, "sci.fits"}, {0}, {0}};
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "lv%d", i);
        ss_store *s = open_with(name, (ss_store_options){.create = 1, .stamp_level = levels[i]});
        ss_packet *p = ss_packet_new();
        ss_store_stamps *st = ss_store_stamps_new2(s);
        put_stamp_alone(s, p, "0", dict_from); /* the stamps dictionary, at this level too */
        ck_assert_int_eq(ss_store_txn_commit(put_both_ways(s, p, st, c)), 0);
        size_t theirs;
        ck_assert_int_eq(first_codec(s, "1", &bytes[i]), 3);
        ck_assert_int_eq(first_codec(s, "2", &theirs), 3);
        ck_assert_uint_eq(bytes[i], theirs);
        stamp_reads(s, "2", fits, len);
        ss_store_stamps_free(st);
        ss_store_close(s);
        ss_packet_free(p);
    }
    ck_assert_uint_gt(bytes[0], bytes[1]);
    ck_assert_uint_gt(bytes[1], bytes[2]);
    const int wrong[] = {20, SS_STAMP_LEVEL_MIN - 1};
    for (int i = 0; i < 2; i++) {
        char *dir = tu_path(tu_tmp, "lvbad");
        ss_store_options o = {.create = 1, .stamp_level = wrong[i]};
        ss_store *s = NULL;
        ss_err err = {0};
        ck_assert_int_eq(ss_store_open(dir, &o, &s, &err), SS_EINVAL);
        ck_assert_ptr_null(s);
        char want[32];
        snprintf(want, sizeof want, "stamp level %d", wrong[i]);
        ck_assert_msg(strstr(err.msg, want), "%s", err.msg);
        free(dir);
    }
}
END_TEST

/* ---- format 10: records compressed with their survey's dictionary ---- */

/* Alert @p i of a survey whose records look like ZTF's history entries: the same names, values
 * that differ from record to record, an image file name. */
static ss_alert *varied_alert(ss_packet *p, const char *survey, int i)
{
    char idtext[16];
    ss_alert *a = ss_packet_add(p);
    char *id = ss_packet_strdup(p, idtext, (size_t)snprintf(idtext, sizeof idtext, "%d", i));
    a->survey = survey, a->alert_id = id, a->passband = i % 2 ? "g" : "r";
    a->kind = SS_ALERT_DETECTION, a->ra = 10 + i * 1e-3, a->dec = -5, a->mjd = 60000 + i * 0.01;
    a->mag = 18 + (i % 50) * 0.02, a->magerr = 0.05, a->maglim = 20.5, a->flux = NAN;
    a->fluxerr = NAN, a->origin = "night.avro", a->line = (uint64_t)i;
    char file[96];
    int n =
        snprintf(file, sizeof file, "ztf_2023%04d%06d_000%03d_z%c_c%02d_o_q%d_scimrefdiffimg.fits",
                 i % 365, i * 7919 % 1000000, i % 880, i % 2 ? 'g' : 'r', i % 16, i % 4 + 1);
    ss_value vs = {.type = SS_TYPE_STRING}, pi = {.type = SS_TYPE_STRING};
    vs.u.s.ptr = file, vs.u.s.len = (uint32_t)n;
    pi.u.s.ptr = "Kulkarni", pi.u.s.len = 8;
    const ss_value vals[] = {fval(2460000.5 + i * 0.01),
                             ival(i % 3 + 1),
                             ival(1000000 + i * 37),
                             fval(20.5f + (float)(i % 9) * 0.125f),
                             vs,
                             pi,
                             ival(i % 880),
                             fval(18.25f + (float)(i % 40) * 0.03125f),
                             fval(0.0625f),
                             fval(0.5f + (float)(i % 17) / 64.f),
                             ival(i % 64),
                             fval(i * 1e-7)};
    static const char *const names[] = {
        "jd",     "fid",      "pid", "diffmaglim", "pdiffimfilename", "programpi", "field",
        "magpsf", "sigmapsf", "rb",  "rcid",       "ra_offset"};
    for (size_t k = 0; k < sizeof vals / sizeof vals[0]; k++)
        ck_assert_int_eq(ss_alert_add_prop(p, a, names[k], strlen(names[k]), vals[k]), 0);
    return a;
}

/* Put alerts @p from to @p to (excluded) of @p survey in one write transaction, committed or
 * (@p commit 0) aborted. */
static void put_varied(ss_store *s, const char *survey, int from, int to, int commit)
{
    ss_packet *p = ss_packet_new();
    ss_store_txn *t;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    for (int i = from; i < to; i++) {
        ss_packet_reset(p);
        ck_assert_int_eq(
            ss_store_alert_put(t, varied_alert(p, survey, i), "SKS2023abcdefghjkmn", NULL, 0), 0);
    }
    if (commit)
        ck_assert_int_eq(ss_store_txn_commit(t), 0);
    else
        ss_store_txn_abort(t);
    ss_packet_free(p);
}

/* Every alert of @p survey from @p from to @p to reads back as it was written. */
static void check_varied(ss_store *s, const char *survey, int from, int to)
{
    ss_packet *p = ss_packet_new(), *q = ss_packet_new();
    ss_store_txn *t;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    for (int i = from; i < to; i++) {
        ss_packet_reset(p), ss_packet_reset(q);
        ss_alert *want = varied_alert(p, survey, i), *got;
        ck_assert_int_eq(ss_store_alert_get(t, survey, want->alert_id, q, &got), 0);
        same_alert(want, got);
    }
    ss_store_txn_abort(t);
    ss_packet_free(p), ss_packet_free(q);
}

/* The locus_alerts entries of each version (index: records to 8, groups 9 and 10), and their
 * bytes. */
static void record_versions(ss_store *s, size_t count[11], size_t bytes[11])
{
    ss_store_txn *t;
    MDB_cursor *cur;
    MDB_val k, v;
    memset(count, 0, 11 * sizeof *count), memset(bytes, 0, 11 * sizeof *bytes);
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    ck_assert_int_eq(mdb_cursor_open(t->txn, s->locus_alerts, &cur), 0);
    for (int op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, (MDB_cursor_op)op) == 0; op = MDB_NEXT) {
        unsigned version = v.mv_size ? *(const unsigned char *)v.mv_data : 0;
        ck_assert_uint_le(version, 10);
        count[version]++, bytes[version] += v.mv_size;
    }
    mdb_cursor_close(cur);
    ss_store_txn_abort(t);
}

/* Packet @p i of @p survey: @p n varied alerts (ids 10 i to 10 i + n - 1), the first its primary.
 */
static ss_packet *varied_packet(ss_packet *p, const char *survey, int i, uint32_t n)
{
    ss_packet_reset(p);
    for (uint32_t k = 0; k < n; k++)
        varied_alert(p, survey, i * 10 + (int)k);
    return p;
}

static const char group_locus[] = "SKS2023abcdefghjkmn";

/* @p p's alerts stored in @p t as the group of packet @p packet (their arrival, numbered in it),
 * the primary with @p nsl survey locus properties; packed early as item @p index of @p ls, or
 * NULL. */
static void put_group(ss_store_txn *t, const ss_packet *p, uint64_t packet, const ss_prop *sl,
                      uint32_t nsl, const ss_store_lists *ls, uint32_t index)
{
    ck_assert_int_eq(ss_store_group_begin(t, group_locus, packet), 0);
    for (uint32_t k = 0; k < p->n; k++) {
        ss_alert a = p->alerts[k];
        a.arrival = packet, a.arrival_index = k;
        int rc = ss_store_group_add(t, &a, k ? NULL : sl, k ? 0 : nsl);
        ck_assert(rc == 0 || (rc == EEXIST && k && !a.nprops)); /* known: its fields left out */
    }
    ck_assert_int_eq(ss_store_group_end(t, ls, index), 0);
}

/* Packets @p from to @p to of @p survey, three alerts each, as groups (packet numbers from 1). */
static void put_groups(ss_store *s, const char *survey, int from, int to)
{
    ss_packet *p = ss_packet_new();
    ss_store_txn *t;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    for (int i = from; i < to; i++)
        put_group(t, varied_packet(p, survey, i, 3), ss_store_packet_next(t), NULL, 0, NULL, 0);
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
    ss_packet_free(p);
}

/* The entry group_locus's group of packet @p packet has in @p t, copied into @p out. */
static void group_bytes(ss_store_txn *t, uint64_t packet, ss_wbuf *out)
{
    unsigned char kb[SSI_KEY_MAX];
    MDB_val k = {ssi_key_group(kb, group_locus, packet), kb}, v;
    ck_assert_int_eq(mdb_get(t->txn, t->s->locus_alerts, &k, &v), 0);
    ss_wbuf_reset(out);
    ss_wbuf_bytes(out, v.mv_data, v.mv_size);
}

/* Alert @p id of @p survey as @p t reads it, into @p q (reset). */
static ss_alert *stored(ss_store_txn *t, ss_packet *q, const char *survey, const char *id)
{
    ss_alert *got;
    ss_packet_reset(q);
    int rc = ss_store_alert_get(t, survey, id, q, &got);
    ck_assert_msg(rc == 0, "%s/%s: %d", survey, id, rc);
    return got;
}

/* Stored from item @p index of @p ls (packed early: @p packed 1), @p p's group is byte for byte
 * the one the writer packs itself, and reads back as written. */
static void check_early_group(ss_store *s, const ss_store_lists *ls, uint32_t index,
                              const ss_packet *p, const ss_prop *sl, uint32_t nsl, int packed)
{
    const void *bytes;
    const uint32_t *indexes;
    size_t len;
    uint32_t members, taken = 0;
    for (uint32_t i = 0; i < p->n; i++)
        taken += !i || p->alerts[i].nprops;
    ck_assert_int_eq(ssi_lists_group_get(ls, index, &bytes, &len, &members, &indexes), packed);
    ck_assert_uint_eq(members, packed ? taken : 0);
    ss_wbuf early = {0}, mine = {0};
    ss_store_txn *t;
    ss_packet *q = ss_packet_new();
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
        put_group(t, p, 900000, sl, nsl, k ? NULL : ls, index);
        group_bytes(t, 900000, k ? &mine : &early);
        for (uint32_t i = 0; i < p->n && !k; i++) {
            if (i && !p->alerts[i].nprops)
                continue;
            ss_alert *got, want = p->alerts[i];
            want.arrival = 900000, want.arrival_index = i;
            ck_assert_int_eq(ss_store_alert_get(t, want.survey, want.alert_id, q, &got), 0);
            same_alert(&want, got);
        }
        ss_store_txn_abort(t);
    }
    ck_assert_uint_eq(early.len, mine.len);
    ck_assert_int_eq(memcmp(early.data, mine.data, mine.len), 0);
    ss_wbuf_free(&early), ss_wbuf_free(&mine);
    ss_packet_free(q);
}

/* Pack packet @p p's group into @p ls against a snapshot of @p s; @return whether it was packed
 * (1) or left to the writer (0). */
static int pack_early(ss_store *s, ss_store_lists *ls, const ss_packet *p, const ss_prop *sl,
                      uint32_t nsl, uint32_t *index)
{
    ss_store_txn *r;
    const void *bytes;
    const uint32_t *indexes;
    size_t len;
    uint32_t members;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &r), 0);
    ss_store_lists_packet(ls);
    ck_assert_int_eq(ss_store_lists_group(ls, r, p->alerts, p->n, sl, nsl, index), 0);
    ss_store_txn_abort(r);
    int packed = ssi_lists_group_get(ls, *index, &bytes, &len, &members, &indexes);
    ck_assert_int_ge(packed, 0);
    return packed;
}

/* Once its survey has a committed group dictionary and every list of names an id, a packet's group
 * packed on another thread is the entry the writer makes; anything else is left to the writer,
 * which also packs a group whose alerts were not all new. */
START_TEST(groups_packed_early_store_what_the_writer_would)
{
    ss_store *s = open_rw("st");
    put_groups(s, "ztf", 0, 1100); /* the 1000th trains ztf's group dictionary */
    ss_packet *p = ss_packet_new(), *q = ss_packet_new(), *r = ss_packet_new();
    ss_prop sl[2] = {{"ztf_ndethist", ival(4)}, {"ztf_jdstarthist", fval(2460000.5)}};
    ss_store_txn *t;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0); /* sl's names, committed */
    put_group(t, varied_packet(p, "ztf", 1999, 1), ss_store_packet_next(t), sl, 2, NULL, 0);
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
    ss_store_lists *ls = ss_store_lists_new(s);
    uint32_t at[6];
    ck_assert_int_eq(pack_early(s, ls, varied_packet(p, "ztf", 2000, 4), sl, 2, &at[0]), 1);
    ck_assert_int_eq(pack_early(s, ls, varied_packet(q, "lsst", 2001, 2), NULL, 0, &at[1]), 0);
    ck_assert_uint_eq(at[1], at[0] + 1);
    ck_assert_uint_gt(ss_store_lists_bytes(ls), 0);
    check_early_group(s, ls, at[0], p, sl, 2, 1);
    check_early_group(s, ls, at[1], q, NULL, 0, 0); /* no dictionary: the writer's sample */
    ss_alert *novel = &varied_packet(r, "ztf", 2002, 2)->alerts[1]; /* names no one committed */
    ck_assert_int_eq(ss_alert_add_prop(r, novel, "novel", 5, ival(1)), 0);
    ck_assert_int_eq(pack_early(s, ls, r, NULL, 0, &at[2]), 0);
    check_early_group(s, ls, at[2], r, NULL, 0, 0);
    ck_assert_int_eq(ss_store_lists_group(ls, NULL, p->alerts, p->n, NULL, 0, &at[3]), 0);
    const void *bytes;
    const uint32_t *indexes;
    size_t len;
    uint32_t members;
    ck_assert_int_eq(ssi_lists_group_get(ls, at[3], &bytes, &len, &members, &indexes), 0);
    ck_assert_int_eq(ssi_lists_group_get(ls, at[3] + 1, &bytes, &len, &members, &indexes),
                     SS_EINVAL);
    /* one of the packet's alerts stored since it was packed: the group holds the others */
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    ck_assert_int_eq(ss_store_alert_put(t, &p->alerts[3], group_locus, NULL, 0), 0);
    ck_assert_int_eq(ss_store_group_begin(t, group_locus, 900001), 0);
    for (uint32_t k = 0; k < p->n; k++) {
        ss_alert a = p->alerts[k];
        a.arrival = 900001, a.arrival_index = k;
        ck_assert_int_eq(ss_store_group_add(t, &a, k ? NULL : sl, k ? 0 : 2), k == 3 ? EEXIST : 0);
    }
    ck_assert_int_eq(ss_store_group_end(t, ls, at[0]), 0);
    ss_packet_reset(q);
    ck_assert_int_eq(ss_store_locus_alerts(t, group_locus, q), 0);
    ck_assert_uint_eq(q->n, 3300 + 1 + 4);
    ss_alert *got;
    ss_packet_reset(q);
    ck_assert_int_eq(ss_store_alert_get(t, "ztf", p->alerts[2].alert_id, q, &got), 0);
    ck_assert_uint_eq(got->arrival, 900001);
    ck_assert_uint_eq(got->arrival_index, 2);
    ss_store_txn_abort(t);
    /* a history entry decoding found stored (its fields left out): the group holds the others,
     * and is still the one packed early */
    ss_packet *w = varied_packet(ss_packet_new(), "ztf", 2005, 4);
    size_t dict_lists = table_entries(s, s->dict);
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    ck_assert_int_eq(ss_store_alert_put(t, &w->alerts[2], group_locus, NULL, 0), 0);
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
    w->alerts[2].nprops = 0;
    ck_assert_int_eq(pack_early(s, ls, w, NULL, 0, &at[4]), 1);
    ck_assert_int_eq(ssi_lists_group_get(ls, at[4], &bytes, &len, &members, &indexes), 1);
    ck_assert(members == 3 && indexes[0] == 0 && indexes[1] == 1 && indexes[2] == 3);
    check_early_group(s, ls, at[4], w, NULL, 0, 1);
    ss_packet_reset(w); /* an origin the dictionary does not hold: inline, read back as it was */
    for (int k = 0; k < 2; k++)
        varied_alert(w, "ztf", 20060 + k)->origin = "fresh/file-0012.avro";
    ck_assert_int_eq(pack_early(s, ls, w, NULL, 0, &at[4]), 1);
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    put_group(t, w, 900002, NULL, 0, ls, at[4]);
    ss_alert *back = stored(t, q, "ztf", "20061");
    ck_assert_str_eq(back->origin, "fresh/file-0012.avro");
    ck_assert_uint_eq(table_entries_txn(t, s->dict), dict_lists); /* the writer added none */
    ss_store_txn_abort(t);
    ss_packet_free(w);
    put_groups(s, "lsst", 3000, 4100); /* lsst's dictionary, after the set looked */
    ck_assert_int_eq(pack_early(s, ls, varied_packet(q, "lsst", 5000, 2), NULL, 0, &at[4]), 0);
    ss_store_lists_reset(ls);
    ck_assert_uint_eq(ss_store_lists_bytes(ls), 0);
    ck_assert_int_eq(pack_early(s, ls, q, NULL, 0, &at[5]), 1);
    ck_assert_uint_eq(at[5], 0);
    check_early_group(s, ls, at[5], q, NULL, 0, 1);
    ss_store_lists_free(ls);
    ss_packet_free(p), ss_packet_free(q), ss_packet_free(r);
    ss_store_close(s);
}
END_TEST

/* A packet's measurements are one locus_alerts entry beside the single entries of older formats;
 * a light curve reads them all in time order, each alert by its id with its packet's arrival. */
START_TEST(a_packets_measurements_are_one_entry_read_in_time_order)
{
    ss_store *s = open_rw("st");
    ss_packet *a = ss_packet_new(), *b = ss_packet_new(), *one = ss_packet_new();
    ss_packet *q = ss_packet_new();
    ss_store_txn *t;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    varied_packet(a, "ztf", 1, 4);                                 /* ids 10-13: MJD 60000.10-.13 */
    uint64_t pa = ss_store_packet_next(t), pb = (uint64_t)1 << 40; /* a reference's varint */
    put_group(t, a, pa, NULL, 0, NULL, 0);
    ss_packet_reset(b); /* 5, 15 and 25: before, between and after the first packet's */
    for (int id = 5; id <= 25; id += 10)
        varied_alert(b, "ztf", id);
    put_group(t, b, pb, NULL, 0, NULL, 0);
    ss_alert *single = varied_alert(one, "ztf", 20); /* an entry of its own, as format 15 wrote */
    ck_assert_int_eq(ss_store_alert_put(t, single, group_locus, NULL, 0), 0);
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
    ck_assert_uint_eq(table_entries(s, s->locus_alerts), 3);
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    ck_assert_int_eq(ss_store_locus_alerts(t, group_locus, q), 0);
    static const int order[] = {5, 10, 11, 12, 13, 15, 20, 25};
    ck_assert_uint_eq(q->n, 8);
    for (uint32_t i = 0; i < q->n; i++) {
        ck_assert_int_eq(atoi(q->alerts[i].alert_id), order[i]);
        ck_assert_uint_eq(q->alerts[i].arrival, order[i] == 20 ? 0 : order[i] % 10 == 5 ? pb : pa);
    }
    ss_packet *r = ss_packet_new();
    for (uint32_t k = 0; k < 4; k++) {
        ss_alert want = a->alerts[k];
        want.arrival = pa, want.arrival_index = k;
        same_alert(&want, stored(t, r, "ztf", want.alert_id));
        ss_store_alert_head h;
        ck_assert_int_eq(ss_store_alert_head_get(t, "ztf", want.alert_id, &h), 0);
        ck_assert(h.arrival == pa && h.arrival_index == k && !strcmp(h.locus_id, group_locus));
    }
    ss_alert want = b->alerts[2];
    want.arrival = pb, want.arrival_index = 2;
    same_alert(&want, stored(t, r, "ztf", "25"));
    ss_store_alert_head h;
    ck_assert_int_eq(ss_store_alert_head_get(t, "ztf", "25", &h), 0);
    ck_assert(h.arrival == pb && h.arrival_index == 2 && h.kind == SS_ALERT_DETECTION);
    ck_assert_int_eq(memcmp(&h.mjd, &want.mjd, sizeof h.mjd), 0);
    ss_store_txn_abort(t);
    ss_packet_free(a), ss_packet_free(b), ss_packet_free(one), ss_packet_free(q), ss_packet_free(r);
    ss_store_close(s);
}
END_TEST

/* An upgrade (the full alert of a measurement stored as a history entry) moves the measurement out
 * of its group to an entry of its own; the group keeps the others, and goes with its last. */
START_TEST(an_upgrade_moves_its_measurement_out_of_its_group)
{
    ss_store *s = open_rw("st");
    ss_packet *p = ss_packet_new(), *q = ss_packet_new();
    ss_store_txn *t;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    uint64_t first = ss_store_packet_next(t);
    put_group(t, varied_packet(p, "ztf", 3, 3), first, NULL, 0, NULL, 0);
    for (uint32_t k = 1; k <= 3; k++) {
        ss_alert full = p->alerts[k % 3]; /* 31, 32, then 30 */
        full.arrival = ss_store_packet_next(t), full.arrival_index = 0;
        full.history_lead = (uint32_t)(full.arrival - first);
        ck_assert_int_eq(ss_store_alert_upgrade(t, &full, group_locus, NULL, 0), 0);
        ck_assert_uint_eq(table_entries_txn(t, s->locus_alerts), k == 3 ? 3 : 1 + k);
        ss_packet_reset(q);
        ck_assert_int_eq(ss_store_locus_alerts(t, group_locus, q), 0);
        ck_assert_uint_eq(q->n, 3);
        same_alert(&full, stored(t, q, "ztf", full.alert_id));
        ck_assert_uint_eq(stored(t, q, "ztf", full.alert_id)->history_lead, full.history_lead);
    }
    ss_alert *a = &p->alerts[0];
    ck_assert_int_eq(ss_store_alert_upgrade(t, a, "SKS2023zzzzzzzzzzzz", NULL, 0), SS_EINVAL);
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
    ss_packet_free(p), ss_packet_free(q);
    ss_store_close(s);
}
END_TEST

/* A member that leaves its group is listed as gone in the group's head, its bytes left as they
 * are; retention, rewriting the group, leaves it out. */
START_TEST(a_group_keeps_its_bytes_when_a_member_leaves)
{
    ss_store *s = open_rw("st");
    ss_packet *p = ss_packet_new(), *q = ss_packet_new();
    ss_wbuf before = {0}, after = {0};
    ss_store_txn *t;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    uint64_t first = ss_store_packet_next(t);
    put_group(t, varied_packet(p, "ztf", 4, 3), first, NULL, 0, NULL, 0);
    group_bytes(t, first, &before);
    ss_alert full = p->alerts[1];
    full.arrival = ss_store_packet_next(t), full.history_lead = 1;
    ck_assert_int_eq(ss_store_alert_upgrade(t, &full, group_locus, NULL, 0), 0);
    group_bytes(t, first, &after);
    ck_assert_uint_eq(after.len, before.len + 1); /* a gone count of 1, and its index */
    ck_assert_int_eq(memcmp(after.data + 4, before.data + 3, before.len - 3), 0);
    ck_assert_int_eq(ss_store_alert_upgrade(t, &full, group_locus, NULL, 0), 0); /* a single now */
    ck_assert_int_eq(ssi_group_drop(t, group_locus, first, 1), SS_ECORRUPT);     /* gone already */
    ck_assert_int_eq(ss_store_group_begin(t, group_locus, 900003), 0);
    ss_alert back = p->alerts[0];
    back.arrival = 900003, back.arrival_index = 5;
    ck_assert_int_eq(ss_store_group_add(t, &back, NULL, 0), EEXIST);
    ss_alert fresh = p->alerts[0];
    fresh.alert_id = "47", fresh.arrival = 900003, fresh.arrival_index = 7;
    ck_assert_int_eq(ss_store_group_add(t, &fresh, NULL, 0), 0);
    fresh.alert_id = "48", fresh.arrival_index = 6; /* out of its packet's order */
    ck_assert_int_eq(ss_store_group_add(t, &fresh, NULL, 0), SS_EINVAL);
    ck_assert_int_eq(ss_store_group_end(t, NULL, 0), 0);
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
    ss_store_retention pol = {.payload_days = 1};
    ss_err err = {0};
    ss_store_retain_report rr;
    ck_assert_int_eq(ss_store_retention_set(s, &pol, &err), 0);
    ck_assert_msg(ss_store_retain(s, 70000, &rr, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(rr.payloads, 4);
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    group_bytes(t, first, &after);
    ck_assert_uint_eq(after.data[1], 2); /* two members, none gone */
    ck_assert_uint_eq(after.data[2], 0);
    ck_assert_int_eq(ss_store_locus_alerts(t, group_locus, q), 0);
    ck_assert_uint_eq(q->n, 4); /* 40 and 47 (one MJD), 41, 42 */
    static const uint64_t id_of[] = {40, 47, 41, 42};
    for (uint32_t i = 0; i < 4; i++) {
        ck_assert_uint_eq(q->alerts[i].nprops, 0);
        ck_assert_int_eq(atoi(q->alerts[i].alert_id), (int)id_of[i]);
        ck_assert_uint_eq(q->alerts[i].arrival, i == 1 ? 900003 : i == 2 ? full.arrival : first);
    }
    ss_store_txn_abort(t);
    ss_wbuf_free(&before), ss_wbuf_free(&after);
    ss_packet_free(p), ss_packet_free(q);
    ss_store_close(s);
}
END_TEST

/* The versions of locus_alerts' entries (record_versions()), after every alert of packets @p from
 * to @p to of ztf reads back as written. */
static void check_groups(ss_store *s, int from, int to, size_t count[11])
{
    ss_packet *p = ss_packet_new(), *q = ss_packet_new();
    ss_store_txn *t;
    size_t bytes[11];
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    for (int i = from; i < to; i++) {
        varied_packet(p, "ztf", i, 3);
        for (uint32_t k = 0; k < 3; k++) {
            ss_alert *got = stored(t, q, "ztf", p->alerts[k].alert_id), want = p->alerts[k];
            want.arrival = got->arrival, want.arrival_index = k;
            same_alert(&want, got);
        }
    }
    ss_store_txn_abort(t);
    ss_packet_free(p), ss_packet_free(q);
    record_versions(s, count, bytes);
}

/* A survey's first 1,000 groups train its group dictionary, which compresses the later ones to
 * under half; repack compresses those written before; retention trims the old members of a
 * group and leaves the young. */
START_TEST(groups_compress_once_trained_and_repack_the_rest)
{
    ss_store *s = open_rw("st");
    size_t count[11], bytes[11];
    put_groups(s, "ztf", 0, 600);
    put_groups(s, "ztf", 600, 1100);
    record_versions(s, count, bytes);
    ck_assert_uint_eq(count[9], 1000);
    ck_assert_uint_eq(count[10], 100);
    ck_assert_uint_lt(bytes[10] / count[10], bytes[9] / count[9] / 2);
    ck_assert_uint_eq(table_entries(s, s->zdict), 2); /* the dictionary and its survey's "g" */
    check_groups(s, 0, 1100, count);
    ss_err err = {0};
    uint64_t repacked;
    ck_assert_msg(ss_store_repack(s, &repacked, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(repacked, 1000);
    check_groups(s, 0, 1100, count);
    ck_assert_uint_eq(count[10], 1100);
    /* packet i's alerts have MJD 60000 + 0.1 i to + 0.1 i + 0.02: a cutoff inside packet 500 */
    ss_store_retention pol = {.payload_days = 10};
    ck_assert_int_eq(ss_store_retention_set(s, &pol, &err), 0);
    ss_store_retain_report rr;
    ck_assert_msg(ss_store_retain(s, 60060.015, &rr, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(rr.payloads, 500 * 3 + 2);
    ss_packet *q = ss_packet_new();
    ss_store_txn *t;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    ck_assert_uint_eq(stored(t, q, "ztf", "5001")->nprops, 0);
    ck_assert_uint_gt(stored(t, q, "ztf", "5002")->nprops, 0);
    ck_assert_uint_gt(stored(t, q, "ztf", "10992")->nprops, 0);
    ck_assert_double_eq(stored(t, q, "ztf", "10")->mag, 18.2); /* the light curve's fields stay */
    ss_store_txn_abort(t);
    ck_assert_msg(ss_store_retain(s, 60060.015, &rr, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(rr.payloads, 0);
    ss_packet_free(q);
    ss_store_close(s);
}
END_TEST

/* Verify finds a group gone from under its members' references, and one that does not decode. */
START_TEST(verify_catches_a_missing_or_damaged_group)
{
    ss_store *s = open_rw("st");
    ingest_rows(s, "a,10,20,60000,g,18,0.1,A\nb,30,20,60002,g,18,0.1,B\n");
    char *text;
    ck_assert_uint_eq(verify_problems(s, &text), 0);
    free(text);
    ss_store_txn *t;
    MDB_cursor *cur;
    MDB_val k, v;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    ck_assert_int_eq(mdb_cursor_open(t->txn, s->locus_alerts, &cur), 0);
    ck_assert_int_eq(mdb_cursor_get(cur, &k, &v, MDB_FIRST), 0);
    ck_assert(ssi_key_is_group(&k));
    MDB_val junk = {3, "\x0a\x01\x00"}; /* compressed, one member, dictionary 0 */
    ck_assert_int_eq(mdb_cursor_put(cur, &k, &junk, MDB_CURRENT), 0);
    ck_assert_int_eq(mdb_cursor_get(cur, &k, &v, MDB_NEXT), 0);
    ck_assert_int_eq(mdb_cursor_del(cur, 0), 0);
    mdb_cursor_close(cur);
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
    /* the first entry is b's (its locus id sorts first), the second a's */
    ck_assert_msg(verify_problems(s, &text) == 6, "%s", text);
    ck_assert_ptr_nonnull(strstr(text, "alert tuple/a: missing from its group (packet 1)"));
    ck_assert_ptr_nonnull(strstr(text, "alert tuple/b: missing from its group (packet 2)"));
    ck_assert_ptr_nonnull(strstr(text, "a group (packet 2) does not decode"));
    ck_assert_ptr_nonnull(strstr(text, "num_alerts 1 but 0 alerts listed"));
    ck_assert_ptr_nonnull(strstr(text, "locus_alerts has 1 entries for 2 alerts"));
    free(text);
    ss_store_close(s);
}
END_TEST

/* Alert @p name of packet @p p, its two properties named by the addresses in @p names (borrowed, as
 * the Avro decoder lends the names it makes once per schema). */
static ss_alert *named_alert(ss_packet *p, const char *name, char names[2][8])
{
    ss_alert *a = varied_alert(p, "ztf", atoi(name));
    a->nprops = 0;
    for (int k = 0; k < 2; k++)
        ck_assert_int_eq(ss_alert_add_prop_borrowed(p, a, names[k], strlen(names[k]), ival(k)), 0);
    return a;
}

/* Packet @p p's group packed into @p ls against @p r (told where the packet begins, or not). */
static uint32_t pack_named(ss_store_lists *ls, ss_store_txn *r, const ss_packet *p, int by_packet)
{
    uint32_t at;
    if (by_packet)
        ss_store_lists_packet(ls);
    ck_assert_int_eq(ss_store_lists_group(ls, r, p->alerts, p->n, NULL, 0, &at), 0);
    return at;
}

/* The alerts of one packet that share their names' addresses are looked up once; after
 * ss_store_lists_packet() the same addresses holding other names (a freed schema's memory
 * reused) are looked up again, and so is every list of a caller that never says where packets
 * begin. Each group is the one the writer makes. */
START_TEST(a_packets_shared_names_are_found_again_by_address_only_within_it)
{
    ss_store *s = open_rw("st");
    put_groups(s, "ztf", 0, 1100); /* ztf's group dictionary */
    char names[2][8];
    ss_packet *p = ss_packet_new(), *q = ss_packet_new();
    ss_store_txn *t;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0); /* both lists, committed */
    strcpy(names[0], "alpha"), strcpy(names[1], "beta");
    ck_assert_int_eq(ss_store_alert_put(t, named_alert(q, "50000", names), group_locus, NULL, 0),
                     0);
    ss_packet_reset(q);
    strcpy(names[0], "gamma"), strcpy(names[1], "delta");
    ck_assert_int_eq(ss_store_alert_put(t, named_alert(q, "50001", names), group_locus, NULL, 0),
                     0);
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
    ss_store_lists *ls = ss_store_lists_new(s);
    ss_store_txn *r;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &r), 0);
    strcpy(names[0], "alpha"), strcpy(names[1], "beta");
    named_alert(p, "50002", names), named_alert(p, "50003", names);
    check_early_group(s, ls, pack_named(ls, r, p, 1), p, NULL, 0, 1);
    strcpy(names[0], "gamma"), strcpy(names[1], "delta"); /* the next packet, at the same places */
    ss_packet_reset(q);
    named_alert(q, "50004", names);
    check_early_group(s, ls, pack_named(ls, r, q, 1), q, NULL, 0, 1);
    ss_store_lists_reset(ls); /* a caller that does not say where packets begin */
    for (int k = 0; k < 2; k++) {
        strcpy(names[0], k ? "alpha" : "gamma"), strcpy(names[1], k ? "beta" : "delta");
        ss_packet_reset(q);
        named_alert(q, k ? "50006" : "50005", names);
        check_early_group(s, ls, pack_named(ls, r, q, 0), q, NULL, 0, 1);
    }
    ss_store_txn_abort(r);
    ss_store_lists_free(ls);
    ss_packet_free(p), ss_packet_free(q);
    ss_store_close(s);
}
END_TEST

/* A survey's first records are kept as samples; at the thousandth a dictionary is trained and
 * kept in the zdict table, and every later record of the survey is compressed with it (version
 * 8), to well under the size of the others. A survey of small records is left alone. Everything
 * reads back bit for bit, in this process and in a new one (read-only), verify decodes every
 * record, and retention rewrites compressed records. */
START_TEST(records_compress_once_their_survey_has_a_dictionary)
{
    ss_store *s = open_rw("st");
    put_varied(s, "ztf", 0, 600, 1);
    put_varied(s, "ztf", 600, 1500, 1);
    ingest_rows(s, "a,10,20,60000,g,18,0.1,A\nb,30,20,60002,g,18,0.1,B\n");
    size_t count[11], bytes[11];
    record_versions(s, count, bytes);
    ck_assert_uint_eq(count[7], 1000);
    ck_assert_uint_eq(count[8], 500);
    ck_assert_uint_eq(count[9], 2); /* the two rows, a group each: too short to compress */
    ck_assert_uint_eq(table_entries(s, s->zdict), 2); /* the dictionary and the survey's entry */
    ck_assert_uint_lt(bytes[8] / count[8], (bytes[7] / count[7]) * 7 / 10);
    check_varied(s, "ztf", 0, 1500);
    char *text;
    uint64_t problems = verify_problems(s, &text);
    ck_assert_ptr_null(strstr(text, "does not decode"));
    ck_assert_uint_eq(problems, 1500); /* each of its locus, which this test does not make */
    free(text);
    ss_store_close(s);
    char *dir = tu_path(tu_tmp, "st");
    ss_store_options ro = {.readonly = 1};
    ss_err err = {0};
    ck_assert_msg(ss_store_open(dir, &ro, &s, &err) == 0, "%s", err.msg);
    check_varied(s, "ztf", 1400, 1500);
    ss_store_close(s);
    s = open_rw("st"); /* a new writer uses the dictionary it finds */
    put_varied(s, "ztf", 1500, 1600, 1);
    record_versions(s, count, bytes);
    ck_assert_uint_eq(count[8], 600);
    ck_assert_uint_eq(table_entries(s, s->zdict), 2);
    check_varied(s, "ztf", 1450, 1600);
    /* a record so repetitive that its length would look like damage stays as it is */
    ss_packet *rp = ss_packet_new();
    ss_alert *rep = varied_alert(rp, "ztf", 5000);
    char *text300k = malloc(300000);
    memset(text300k, 'x', 300000);
    ss_value big = {.type = SS_TYPE_STRING};
    big.u.s.ptr = text300k, big.u.s.len = 300000;
    ck_assert_int_eq(ss_alert_add_prop(rp, rep, "note", 4, big), 0);
    put_alert(s, rep, 1);
    record_versions(s, count, bytes);
    ck_assert_uint_eq(count[7], 1000 + 1);
    ck_assert_uint_eq(count[8], 600);
    check_stored(s, rep);
    free(text300k);
    ss_packet_free(rp);
    ss_store_retention pol = {.payload_days = 1};
    ss_store_retain_report r;
    ck_assert_int_eq(ss_store_retention_set(s, &pol, &err), 0);
    ck_assert_msg(ss_store_retain(s, 60014.995 + 1, &r, &err) == 0, "%s", err.msg);
    ck_assert_uint_ge(r.payloads, 1500); /* the ztf ones before 60014.995 (and the rows) */
    record_versions(s, count, bytes);
    ck_assert_uint_eq(count[8], 100); /* the last 100 keep their properties */
    check_varied(s, "ztf", 1500, 1600);
    ss_packet *q = ss_packet_new();
    ss_store_txn *t;
    ss_alert *a;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    ck_assert_int_eq(ss_store_alert_get(t, "ztf", "1499", q, &a), 0);
    ck_assert(a->nprops == 0 && a->mag == 18 + 49 * 0.02);
    ss_store_txn_abort(t);
    ss_packet_free(q);
    ss_store_close(s);
    free(dir);
}
END_TEST

/* The first version 8 record of locus_alerts, its key and value copied into @p k and @p v. */
static void first_squeezed(ss_store *s, ss_wbuf *k, ss_wbuf *v)
{
    ss_store_txn *t;
    MDB_cursor *cur;
    MDB_val kv, vv;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    ck_assert_int_eq(mdb_cursor_open(t->txn, s->locus_alerts, &cur), 0);
    int rc = mdb_cursor_get(cur, &kv, &vv, MDB_FIRST);
    while (!rc && *(const unsigned char *)vv.mv_data != 8)
        rc = mdb_cursor_get(cur, &kv, &vv, MDB_NEXT);
    ck_assert_int_eq(rc, 0);
    ss_wbuf_reset(k), ss_wbuf_reset(v);
    ss_wbuf_bytes(k, kv.mv_data, kv.mv_size), ss_wbuf_bytes(v, vv.mv_data, vv.mv_size);
    mdb_cursor_close(cur);
    ss_store_txn_abort(t);
}

static void raw_set(ss_store *s, MDB_dbi dbi, const ss_wbuf *k, const ss_wbuf *v)
{
    ss_store_txn *t;
    MDB_val kv = {k->len, k->data}, vv = {v ? v->len : 0, v ? v->data : NULL};
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    ck_assert_int_eq(v ? mdb_put(t->txn, dbi, &kv, &vv, 0) : mdb_del(t->txn, dbi, &kv, NULL), 0);
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
}

static size_t occurrences(const char *text, const char *what)
{
    size_t n = 0;
    for (const char *at = text; (at = strstr(at, what)); at++)
        n++;
    return n;
}

/* Reading the alert of locus_alerts key @p k: 0, or the error. */
static int squeezed_status(ss_store *s, const ss_wbuf *k)
{
    ss_store_txn *t;
    ss_packet *q = ss_packet_new();
    ss_alert *a;
    MDB_val kv = {k->len, k->data}, id = ssi_key_locus_alert_id(&kv);
    const char *alert_id = memchr(id.mv_data, '\0', id.mv_size);
    char text[32];
    snprintf(text, sizeof text, "%.*s",
             (int)(id.mv_size - (size_t)(alert_id + 1 - (char *)id.mv_data)), alert_id + 1);
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    int rc = ss_store_alert_get(t, "ztf", text, q, &a);
    ss_store_txn_abort(t);
    ss_packet_free(q);
    return rc;
}

/* A dictionary trained in a transaction that aborts goes with it: the next one trains its own
 * under the same number. A damaged frame, and a record whose dictionary is gone, are refused as
 * damaged, and verify names them. */
START_TEST(compressed_records_survive_aborts_and_damage_is_caught)
{
    ss_store *s = open_rw("st");
    put_varied(s, "ztf", 0, 1100, 0); /* trained, then aborted */
    ck_assert_uint_eq(table_entries(s, s->zdict), 0);
    put_varied(s, "ztf", 2000, 3100, 1);
    size_t count[11], bytes[11];
    record_versions(s, count, bytes);
    ck_assert_uint_eq(count[8], 100);
    check_varied(s, "ztf", 2000, 3100);
    ss_wbuf k = {0}, v = {0}, dk = {0};
    first_squeezed(s, &k, &v);
    ck_assert_int_eq(squeezed_status(s, &k), 0);
    v.data[v.len - 3] ^= 0x5a; /* inside the frame */
    raw_set(s, s->locus_alerts, &k, &v);
    ck_assert_int_eq(squeezed_status(s, &k), SS_ECORRUPT);
    char *text;
    /* one problem an alert: its locus, which this test does not make, or its record */
    ck_assert_uint_eq(verify_problems(s, &text), 1100);
    ck_assert_uint_eq(occurrences(text, "record does not decode"), 1);
    free(text);
    ss_store_close(s);
    s = open_rw("st"); /* no dictionary cached: it is read from the table, which lacks it */
    ss_wbuf_bytes(&dk, "d\0\0\0\1", 5);
    raw_set(s, s->zdict, &dk, NULL);
    record_versions(s, count, bytes);
    ck_assert_uint_eq(count[8], 100);
    first_squeezed(s, &k, &v);
    ck_assert_int_eq(squeezed_status(s, &k), SS_ECORRUPT);
    ck_assert_uint_eq(verify_problems(s, &text), 1100 + 1);
    ck_assert_uint_eq(occurrences(text, "record does not decode"), 100);
    ck_assert_ptr_nonnull(strstr(text, "zdict: survey ztf names dictionary 1, which is missing"));
    free(text);
    ss_wbuf_reset(&dk), ss_wbuf_reset(&v);
    ss_wbuf_bytes(&dk, "d\0\0\0\2", 5), ss_wbuf_bytes(&v, "not a dictionary", 16);
    raw_set(s, s->zdict, &dk, &v);
    ck_assert_uint_eq(verify_problems(s, &text), 1100 + 2);
    ck_assert_ptr_nonnull(strstr(text, "zdict: dictionary 2 is not a zstd dictionary"));
    free(text);
    ss_wbuf_free(&k), ss_wbuf_free(&v), ss_wbuf_free(&dk);
    ss_store_close(s);
}
END_TEST

/* Upper limit @p i of @p object (NULL: none), as ZTF's are named: "ul-OBJECT-i". */
static ss_alert *limit_alert(ss_packet *p, const char *object, int i)
{
    char id[48];
    ss_alert *a = varied_alert(p, "ztf", i);
    int n = snprintf(id, sizeof id, "ul-%s-%d", object ? object : "none", i);
    a->alert_id = ss_packet_strdup(p, id, (size_t)n);
    a->object_id = object;
    a->kind = SS_ALERT_UPPER_LIMIT, a->mag = a->magerr = NAN;
    return a;
}

/* @p p's alerts added to @p t as packet @p packet's group; each add's result must be @p want[k]
 * (NULL: all 0). */
static void put_group_expecting(ss_store_txn *t, const ss_packet *p, const int *want)
{
    uint64_t packet = ss_store_packet_next(t);
    ck_assert_int_eq(ss_store_group_begin(t, group_locus, packet), 0);
    for (uint32_t k = 0; k < p->n; k++) {
        ss_alert a = p->alerts[k];
        a.arrival = packet, a.arrival_index = k;
        ck_assert_int_eq(ss_store_group_add(t, &a, NULL, 0), want ? want[k] : 0);
    }
    ck_assert_int_eq(ss_store_group_end(t, NULL, 0), 0);
}

/* group_locus as verify expects it after the groups put: @p n alerts, the newest at @p mjd. */
static void put_group_locus(ss_store_txn *t, uint32_t n, double mjd)
{
    ss_locus l;
    memset(&l, 0, sizeof l);
    memcpy(l.id, group_locus, sizeof group_locus);
    l.ra = 10, l.dec = -5, l.num_alerts = n;
    l.oldest.mjd = l.brightest.mjd = l.newest.mjd = mjd;
    ck_assert_int_eq(ss_store_locus_put(t, &l), 0);
    ck_assert_int_eq(ss_store_sky_move(t, l.id, NAN, 0, l.ra, l.dec), 0);
    ss_store_txn_counters(t)->loci++;
}

/* Format 17: an upper limit with an object id is listed under its object, not indexed by its id;
 * it is known (a repeat is refused), read in its locus's light curve, and counted by verify. */
START_TEST(upper_limits_are_listed_under_their_object)
{
    ss_store *s = open_rw("st");
    ss_packet *p = ss_packet_new(), *q = ss_packet_new();
    ss_store_txn *t;
    ss_packet_reset(p);
    varied_alert(p, "ztf", 1)->object_id = "ZTF26aaa";
    limit_alert(p, "ZTF26aaa", 2);
    limit_alert(p, NULL, 3); /* no object to list it under: indexed by its id */
    ss_alert *odd = limit_alert(p, "ZTF26aaa", 4); /* its id does not name it: indexed */
    odd->alert_id = "ul-ZTF26aaax-4";
    for (int i = 100; i < 140; i++)
        limit_alert(p, "ZTF26aaa", i);
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    put_group_expecting(t, p, NULL);
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
    ck_assert_uint_eq(table_entries(s, s->alerts), 3);
    ck_assert_uint_eq(table_entries(s, s->limits), 1);
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    for (uint32_t k = 0; k < p->n; k++)
        ck_assert_msg(ss_store_alert_known(t, &p->alerts[k]) == 0, "%s", p->alerts[k].alert_id);
    ck_assert_int_eq(ssi_alert_indexed(t, "ztf", "ul-ZTF26aaa-2", NULL), SS_ENOTFOUND);
    ck_assert_int_eq(ssi_alert_indexed(t, "ztf", "ul-none-3", NULL), 0);
    ck_assert_int_eq(ssi_alert_indexed(t, "ztf", "ul-ZTF26aaax-4", NULL), 0);
    char locus[SS_LOCUS_ID_LEN + 1] = ""; /* by id: its object found in its id, then its group */
    ck_assert_int_eq(ss_store_alert_find(t, "ztf", "ul-ZTF26aaa-2", locus), 0);
    ck_assert_str_eq(locus, group_locus);
    ss_alert *got = stored(t, q, "ztf", "ul-ZTF26aaa-137");
    ck_assert(got->kind == SS_ALERT_UPPER_LIMIT && got->mjd == p->alerts[41].mjd);
    ck_assert(got->arrival == 1 && got->arrival_index == 41 && got->nprops == p->alerts[41].nprops);
    ck_assert_str_eq(got->object_id, "ZTF26aaa");
    ck_assert_int_eq(ss_store_alert_find(t, "ztf", "ul-ZTF26aaa-140", NULL), SS_ENOTFOUND);
    ck_assert_int_eq(ss_store_alert_find(t, "ztf", "ZTF26aaa", NULL), SS_ENOTFOUND);
    ck_assert_int_eq(
        ss_store_alert_find(t, "a-survey-name-longer-than-any-stored-one", "ul-ZTF26aaa-2", NULL),
        SS_ENOTFOUND);
    ss_alert probe = p->alerts[1]; /* which ids name their object */
    static const char *const named[] = {"ZTF26aaa", "ul-ZTF26aaa", "ZTF26aaa_1", "x.ZTF26aaa.y"};
    static const char *const not_named[] = {"xZTF26aaa-9", "ul-ZTF26aaa1", "ul-ZTF26aa-1"};
    for (size_t i = 0; i < sizeof named / sizeof *named; i++)
        probe.alert_id = named[i], ck_assert_msg(ssi_limit_listed(s, &probe), "%s", named[i]);
    for (size_t i = 0; i < sizeof not_named / sizeof *not_named; i++)
        probe.alert_id = not_named[i],
        ck_assert_msg(!ssi_limit_listed(s, &probe), "%s", not_named[i]);
    ss_packet *r = ss_packet_new();
    ss_packet_reset(r);
    for (int i = 140; i < 150; i++) /* never stored, or another object's */
        ck_assert_int_eq(ss_store_alert_known(t, limit_alert(r, "ZTF26aaa", i)), SS_ENOTFOUND);
    ck_assert_int_eq(ss_store_alert_known(t, limit_alert(r, "ZTF26bbb", 2)), SS_ENOTFOUND);
    ss_packet_reset(r); /* the next alert repeats two limits and brings one */
    varied_alert(r, "ztf", 5)->object_id = "ZTF26aaa";
    limit_alert(r, "ZTF26aaa", 2), limit_alert(r, "ZTF26aaa", 120), limit_alert(r, "ZTF26aaa", 4);
    static const int repeat[] = {0, EEXIST, EEXIST, 0};
    put_group_expecting(t, r, repeat);
    put_group_locus(t, 46, 60000.05);
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    ck_assert_int_eq(ss_store_alert_known(t, &r->alerts[3]), 0);
    ss_packet_reset(q);
    ck_assert_int_eq(ss_store_locus_alerts(t, group_locus, q), 0);
    ck_assert_uint_eq(q->n, p->n + 2);
    uint32_t limits = 0;
    for (uint32_t i = 0; i < q->n; i++)
        limits += q->alerts[i].kind == SS_ALERT_UPPER_LIMIT;
    ck_assert_uint_eq(limits, 44);
    ss_store_txn_abort(t);
    char *text;
    ss_verify_report rep = verified(s, &text);
    ck_assert_msg(rep.problems == 0, "%s", text);
    ck_assert_uint_eq(rep.limits, 42);
    ck_assert_uint_eq(rep.alerts, 46);
    free(text);
    ss_packet_free(p), ss_packet_free(q), ss_packet_free(r);
    ss_store_close(s);
}
END_TEST

/* Verify finds a limit its object does not list, and a list that does not decode. */
START_TEST(verify_catches_an_unlisted_limit)
{
    ss_store *s = open_rw("st");
    ss_packet *p = ss_packet_new();
    ss_store_txn *t;
    ss_packet_reset(p);
    varied_alert(p, "ztf", 1)->object_id = "ZTF26aaa";
    limit_alert(p, "ZTF26aaa", 2), limit_alert(p, "ZTF26aaa", 3);
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    put_group_expecting(t, p, NULL);
    put_group_locus(t, 3, 60000.03);
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
    ss_wbuf k = {0}, v = {0};
    ss_wbuf_bytes(&k, "ZTF26aaa\0ztf", 12);
    ss_wbuf_bytes(&v, "\x01\x00\x00\x00\x00\x00\x00\x00\x01", 9); /* one hash, not theirs */
    raw_set(s, s->limits, &k, &v);
    char *text;
    ss_verify_report rep = verified(s, &text);
    ck_assert_msg(rep.problems == 4, "%s", text);
    ck_assert_ptr_nonnull(
        strstr(text, "holds upper limit ztf/ul-ZTF26aaa-2, which object ZTF26aaa does not list"));
    ck_assert_ptr_nonnull(strstr(text, "counters: 3 alerts counted, 2 stored"));
    ck_assert_ptr_nonnull(strstr(text, "locus_alerts has 3 entries for 2 alerts"));
    free(text);
    ss_wbuf_reset(&v);
    ss_wbuf_bytes(&v, "\x01\x00\x00", 3);
    raw_set(s, s->limits, &k, &v);
    rep = verified(s, &text);
    ck_assert_ptr_nonnull(strstr(text, "limits ZTF26aaa: list does not decode"));
    ck_assert_ptr_nonnull(strstr(text, "which object ZTF26aaa does not list (its list does not"));
    free(text);
    ss_wbuf_free(&k), ss_wbuf_free(&v);
    ss_packet_free(p);
    ss_store_close(s);
}
END_TEST

/* Alert @p id's reference in the alerts table replaced by one naming @p packet and @p index. */
static void set_member_ref(ss_store *s, const char *id, uint64_t packet, uint32_t index)
{
    ss_store_txn *t;
    ss_store_alert_head h;
    unsigned char ref[SSI_MEMBER_REF_MAX];
    ss_wbuf k = {0}, v = {0};
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    ck_assert_int_eq(ss_store_alert_find(t, "ztf", "10", h.locus_id), 0);
    ss_store_txn_abort(t);
    h.kind = SS_ALERT_DETECTION, h.mjd = 60000 + atoi(id) * 0.01;
    h.arrival = packet, h.arrival_index = index;
    ss_wbuf_bytes(&k, "ztf", 4), ss_wbuf_bytes(&k, id, strlen(id));
    ss_wbuf_bytes(&v, ref, ssi_alert_ref_encode2(&h, 1, ref));
    raw_set(s, s->alerts, &k, &v);
    ss_wbuf_free(&k), ss_wbuf_free(&v);
}

/* verify checks a group's members from the group's side, each group decompressed once: a member
 * whose reference disagrees, or is gone; a reference to a group that lacks its alert is named by
 * a second pass, made when the counts disagree. */
START_TEST(verify_checks_members_from_their_groups)
{
    ss_store *s = open_rw("st");
    ss_packet *p = ss_packet_new();
    ss_store_txn *t;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    put_group_expecting(t, varied_packet(p, "ztf", 1, 3), NULL); /* 10-12, packet 1 */
    put_group_expecting(t, varied_packet(p, "ztf", 2, 3), NULL); /* 20-22, packet 2 */
    put_group_locus(t, 6, 60000.22);
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
    char *text;
    ck_assert_msg(verify_problems(s, &text) == 0, "%s", text);
    free(text);
    set_member_ref(s, "11", 1, 2); /* its place in the packet */
    ck_assert_msg(verify_problems(s, &text) == 1, "%s", text);
    ck_assert_ptr_nonnull(strstr(text, "alert ztf/11: its reference disagrees with its record"));
    free(text);
    set_member_ref(s, "11", 1, 1);
    set_member_ref(s, "99", 2, 3); /* a reference its group does not hold */
    ck_assert_msg(verify_problems(s, &text) == 3, "%s", text);
    ck_assert_ptr_nonnull(strstr(text, "alert ztf/99: missing from its group (packet 2) of"));
    ck_assert_ptr_nonnull(strstr(text, "locus_alerts has 6 entries for 7 alerts"));
    ck_assert_ptr_nonnull(strstr(text, "counters: 6 alerts counted, 7 stored"));
    free(text);
    set_member_ref(s, "99", 9, 0); /* a group that does not exist: named by the first pass */
    ck_assert_msg(verify_problems(s, &text) == 3, "%s", text);
    ck_assert_uint_eq(occurrences(text, "alert ztf/99: missing from its group (packet 9)"), 1);
    free(text);
    ss_packet_free(p);
    ss_store_close(s);
}
END_TEST

/* A store upgraded from format 16 indexed its limits by id: they are still known, and the limits
 * stored after the upgrade are listed. */
START_TEST(an_upgraded_store_still_knows_the_limits_it_indexed)
{
    ss_store *s = open_rw("st");
    ss_packet *p = ss_packet_new();
    ss_store_txn *t;
    s->has_limits = 0; /* as format 16 wrote them */
    ss_packet_reset(p);
    varied_alert(p, "ztf", 1)->object_id = "ZTF26aaa";
    limit_alert(p, "ZTF26aaa", 2);
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    put_group_expecting(t, p, NULL);
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
    ss_store_close(s);
    char *dir = tu_path(tu_tmp, "st");
    static const char *const drop[] = {"limits", NULL};
    set_format(dir, 16, drop);
    free(dir);
    s = open_rw("st");
    ck_assert(s->has_limits && s->limits_indexed);
    ss_packet_reset(p);
    varied_alert(p, "ztf", 5)->object_id = "ZTF26aaa";
    limit_alert(p, "ZTF26aaa", 2), limit_alert(p, "ZTF26aaa", 3);
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    ck_assert_int_eq(ss_store_alert_known(t, &p->alerts[1]), 0);
    static const int want[] = {0, EEXIST, 0};
    put_group_expecting(t, p, want);
    put_group_locus(t, 4, 60000.05);
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
    ck_assert_uint_eq(table_entries(s, s->limits), 1);
    ck_assert_uint_eq(table_entries(s, s->alerts), 3);
    char *text;
    ss_verify_report rep = verified(s, &text);
    ck_assert_msg(rep.problems == 0, "%s", text);
    ck_assert_uint_eq(rep.alerts, 4);
    free(text);
    ss_store_close(s);
    s = open_rw("st"); /* the mark outlives the open that upgraded */
    ck_assert(s->limits_indexed);
    ss_store_close(s);
    ss_packet_free(p);
}
END_TEST

/* The leaf and overflow pages of table @p name in the LMDB environment of @p dir, and its
 * entries compared one by one with the same table of @p other (when not NULL). */
static size_t table_pages(const char *dir, const char *name, const char *other)
{
    MDB_env *env[2] = {NULL, NULL};
    MDB_txn *txn[2];
    MDB_dbi dbi[2];
    MDB_cursor *cur[2];
    MDB_stat st;
    int n = other ? 2 : 1;
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(mdb_env_create(&env[i]), 0);
        ck_assert_int_eq(mdb_env_set_maxdbs(env[i], 32), 0);
        ck_assert_int_eq(mdb_env_open(env[i], i ? other : dir, MDB_RDONLY, 0644), 0);
        ck_assert_int_eq(mdb_txn_begin(env[i], NULL, MDB_RDONLY, &txn[i]), 0);
        ck_assert_int_eq(mdb_dbi_open(txn[i], name, 0, &dbi[i]), 0);
        ck_assert_int_eq(mdb_cursor_open(txn[i], dbi[i], &cur[i]), 0);
    }
    ck_assert_int_eq(mdb_stat(txn[0], dbi[0], &st), 0);
    MDB_val k[2], v[2];
    for (int op = MDB_FIRST; n == 2; op = MDB_NEXT) {
        int rc = mdb_cursor_get(cur[0], &k[0], &v[0], (MDB_cursor_op)op);
        ck_assert_int_eq(mdb_cursor_get(cur[1], &k[1], &v[1], (MDB_cursor_op)op), rc);
        if (rc)
            break;
        ck_assert(k[0].mv_size == k[1].mv_size &&
                  !memcmp(k[0].mv_data, k[1].mv_data, k[0].mv_size));
        ck_assert(v[0].mv_size == v[1].mv_size &&
                  !memcmp(v[0].mv_data, v[1].mv_data, v[0].mv_size));
    }
    for (int i = 0; i < n; i++) {
        mdb_cursor_close(cur[i]);
        mdb_txn_abort(txn[i]);
        mdb_env_close(env[i]);
    }
    return st.ms_leaf_pages + st.ms_overflow_pages;
}

/* A store written out of key order has pages about half full; its compacted copy holds every
 * entry of every table, byte for byte, on far fewer pages, and is a store that verifies. */
START_TEST(compact_fills_every_page)
{
    ss_store *s = open_rw("st");
    char *rows = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&rows, &len);
    for (int i = 0; i < 3000; i++) { /* alert ids and positions in a scrambled order */
        int j = i * 7919 % 3000;
        fprintf(f, "id%05d,%.6f,%.6f,%.3f,g,18,0.1,OBJ%d\n", j, j * 0.117, -30 + j * 0.019,
                60000 + i * 0.01, j % 700);
    }
    fclose(f);
    ingest_rows(s, rows);
    char *dir = tu_path(tu_tmp, "st"), *copy = tu_path(tu_tmp, "copy"), *text;
    ss_err err = {0};
    ck_assert_msg(ss_store_compact(s, copy, &err) == 0, "%s", err.msg);
    /* the first four were written out of key order */
    static const char *const tables[] = {
        "loci",    "alerts", "locus_alerts", "sky",   "meta", "objects",
        "ingests", "dict",   "loci_newest",  "zdict", NULL};
    for (int i = 0; tables[i]; i++) {
        size_t before = table_pages(dir, tables[i], NULL),
               after = table_pages(copy, tables[i], dir);
        ck_assert_uint_le(after, before);
        if (i < 4)
            ck_assert_msg(after * 10 <= before * 8, "%s: %zu pages, copied on %zu", tables[i],
                          before, after);
    }
    ck_assert_int_eq(ss_store_compact(s, copy, &err), EEXIST);
    ck_assert_ptr_nonnull(strstr(err.msg, "not an empty directory"));
    ss_store_close(s);
    ss_store_options ro = {.readonly = 1};
    ck_assert_msg(ss_store_open(copy, &ro, &s, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(verify_problems(s, &text), 0);
    free(text);
    ss_store_close(s);
    free(rows), free(dir), free(copy);
}
END_TEST

/* Records written before format 10 (here: by a handle that cannot compress) are repacked in
 * place: the first pass trains the survey's dictionary on the first thousand and compresses the
 * rest, the second compresses those; every alert reads back the same, and a third run (a second
 * call) writes nothing. */
START_TEST(repack_compresses_records_written_before)
{
    ss_store *s = open_rw("st");
    s->has_zdict = 0; /* as skysieve before format 10 wrote them */
    put_varied(s, "ztf", 0, 1500, 1);
    s->has_zdict = 1;
    size_t count[11], bytes[11];
    record_versions(s, count, bytes);
    ck_assert_uint_eq(count[7], 1500);
    size_t plain = bytes[7];
    uint64_t n;
    ss_err err = {0};
    ck_assert_msg(ss_store_repack(s, &n, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(n, 1500);
    record_versions(s, count, bytes);
    ck_assert_uint_eq(count[8], 1500);
    ck_assert_uint_lt(bytes[8], plain * 7 / 10);
    check_varied(s, "ztf", 0, 1500);
    ck_assert_int_eq(ss_store_repack(s, &n, &err), 0);
    ck_assert_uint_eq(n, 0);
    ss_store_close(s);
    char *dir = tu_path(tu_tmp, "st");
    ss_store_options ro = {.readonly = 1};
    ck_assert_msg(ss_store_open(dir, &ro, &s, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(ss_store_repack(s, &n, &err), SS_EINVAL); /* read-only */
    check_varied(s, "ztf", 0, 1500);
    ss_store_close(s);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core");
    TCase *geo = tcase_create("geometry");
    tcase_add_test(geo, separation_is_accurate);
    tcase_add_test(geo, vector_round_trip);
    tcase_add_test(geo, cone_ranges_wrap_and_poles);
    tcase_add_test(geo, zones_are_monotonic);
    suite_add_tcase(s, geo);
    TCase *ids = tcase_create("ids_and_records");
    tcase_add_test(ids, locus_ids_unique_readable_stable);
    tcase_add_test(ids, locus_id_instance_round_trips);
    tcase_add_test(ids, locus_id_instance_of_a_stores_ids);
    tcase_add_test(ids, sky_locus_ids_follow_the_sky);
    tcase_add_test(ids, store_numbers_loci_per_pixel);
    tcase_add_test(ids, locus_record_round_trip_and_truncation);
    tcase_add_test(ids, alert_record_round_trip);
    tcase_add_test(ids, version_1_alert_records_and_forced_photometry);
    tcase_add_test(ids, fits_arrays_regrouped_by_byte_and_back);
    suite_add_tcase(s, ids);
    TCase *store = tcase_create("store");
    tcase_add_test(store, store_open_refuses_what_it_cannot_use);
    tcase_add_test(store, store_versions_and_settings);
    tcase_add_test(store, format_1_stores_are_read_and_upgraded);
    suite_add_tcase(s, store);
    TCase *f6 = tcase_create("format_6");
    tcase_add_checked_fixture(f6, tu_tmp_setup, tu_tmp_teardown);
    tcase_add_test(f6, loci_newest_follows_the_newest_alert);
    tcase_add_test(f6, footprint_accounts_for_every_page);
    tcase_add_test(f6, format_5_store_reads_and_gains_the_indexes_on_write);
    tcase_add_test(f6, verify_catches_missing_index_entries);
    tcase_add_test(f6, walks_follow_their_index_both_ways);
    tcase_add_test(f6, tags_are_listed_with_their_newest_mjd);
    tcase_add_test(f6, tags_listing_of_an_empty_store_and_a_stop);
    tcase_add_test(f6, ranges_walk_a_prefix_both_ways);
    tcase_add_test(f6, one_writer_per_store);
    tcase_add_test(f6, error_codes_read_as_their_library_words_them);
    suite_add_tcase(s, f6);
    TCase *f7 = tcase_create("format_7");
    tcase_add_checked_fixture(f7, tu_tmp_setup, tu_tmp_teardown);
    tcase_add_test(f7, packed_records_keep_every_value_bit_for_bit);
    tcase_add_test(f7, dictionary_drops_what_an_aborted_write_made);
    tcase_add_test(f7, format_6_store_reads_and_writes_packed_records_after_upgrade);
    tcase_add_test(f7, format_7_sky_index_is_tiled_on_upgrade);
    tcase_add_test(f7, sky_scan_finds_what_brute_force_finds);
    tcase_add_test(f7, sky_entries_move_only_past_their_slack);
    tcase_add_test(f7, an_alerts_stamps_are_one_record_compressed_when_they_shrink);
    tcase_add_test(f7, single_stamp_records_still_read_and_damage_is_caught);
    tcase_add_test(f7, stamps_packed_early_store_the_same_record);
    tcase_add_test(f7, retention_walks_the_whole_store_in_chunks);
    tcase_add_test(f7, stamps_share_chunks_freed_by_retention);
    tcase_add_test(f7, format_10_stamps_read_beside_chunks_after_upgrade);
    tcase_add_test(f7, committed_stamps_leave_the_page_cache);
    tcase_add_test(f7, fits_stamps_stored_regrouped_read_as_sent);
    tcase_add_test(f7, stamps_compressed_at_the_handles_level);
    tcase_add_test(f7, fits_stamps_compressed_with_their_surveys_dictionary);
    tcase_add_test(f7, format_12_stamps_still_read);
    suite_add_tcase(s, f7);
    TCase *f9 = tcase_create("format_9");
    tcase_add_checked_fixture(f9, tu_tmp_setup, tu_tmp_teardown);
    tcase_add_test(f9, format_8_records_move_beside_their_loci_on_upgrade);
    tcase_add_test(f9, keyed_records_take_their_ids_from_the_key);
    suite_add_tcase(s, f9);
    TCase *f10 = tcase_create("format_10");
    tcase_add_checked_fixture(f10, tu_tmp_setup, tu_tmp_teardown);
    tcase_add_test(f10, records_compress_once_their_survey_has_a_dictionary);
    tcase_add_test(f10, compressed_records_survive_aborts_and_damage_is_caught);
    tcase_add_test(f10, compact_fills_every_page);
    tcase_add_test(f10, repack_compresses_records_written_before);
    suite_add_tcase(s, f10);
    TCase *f16 = tcase_create("format_16");
    tcase_add_checked_fixture(f16, tu_tmp_setup, tu_tmp_teardown);
    tcase_add_test(f16, a_packets_measurements_are_one_entry_read_in_time_order);
    tcase_add_test(f16, an_upgrade_moves_its_measurement_out_of_its_group);
    tcase_add_test(f16, a_group_keeps_its_bytes_when_a_member_leaves);
    tcase_add_test(f16, groups_compress_once_trained_and_repack_the_rest);
    tcase_add_test(f16, groups_packed_early_store_what_the_writer_would);
    tcase_add_test(f16, a_packets_shared_names_are_found_again_by_address_only_within_it);
    tcase_add_test(f16, verify_catches_a_missing_or_damaged_group);
    suite_add_tcase(s, f16);
    TCase *f17 = tcase_create("format_17");
    tcase_add_checked_fixture(f17, tu_tmp_setup, tu_tmp_teardown);
    tcase_add_test(f17, upper_limits_are_listed_under_their_object);
    tcase_add_test(f17, verify_catches_an_unlisted_limit);
    tcase_add_test(f17, an_upgraded_store_still_knows_the_limits_it_indexed);
    tcase_add_test(f17, verify_checks_members_from_their_groups);
    suite_add_tcase(s, f17);
    TCase *f13 = tcase_create("format_13");
    tcase_add_checked_fixture(f13, tu_tmp_setup, tu_tmp_teardown);
    tcase_add_test(f13, chunks_live_in_stamps_dat_punched_and_compacted);
    tcase_add_test(f13, uncommitted_chunks_are_written_over_and_damage_is_caught);
    tcase_add_test(f13, format_12_chunks_read_beside_stamps_dat_after_upgrade);
    suite_add_tcase(s, f13);
    return tu_run_suite(s);
}
