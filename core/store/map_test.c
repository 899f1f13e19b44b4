/*
 * The map grows under readers: another process (an ingest, a broker) grows the store's map while
 * this one reads it from several threads (skysieve serve). Readers adopt the new size between
 * transactions (LMDB forbids it while one is open), see every commit, and every snapshot is whole:
 * its counter of rejected records equals the records it holds.
 *
 * A full disk: a commit LMDB could write only in part (a short write, which it reports as EIO)
 * is SS_EFULL, "No space left on device", naming the store, and the store keeps every batch
 * committed before; the same when stamps.dat is what fills it. Needs root for a small tmpfs;
 * skipped otherwise.
 *
 * Snapshots are not asserted to be monotonic: LMDB 0.9.24 lets a reader preempted between reading
 * the last transaction id and copying that meta page take a meta page the writer committed two
 * transactions later, so the next snapshot of the same thread can be one commit older. Each is
 * still a whole, committed state, which is what callers rely on.
 */
#include "store.h"
#include "testutil.h"
#include "verify.h"

#include <check.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#define SMALL_MAP ((size_t)1 << 20)
#define RECORDS   3000

typedef struct reader {
    ss_store *s;
    volatile int *stop;
    uint64_t seen, reads, failures;
    int last_rc; /* why the last failure failed: 0 when a snapshot was torn */
} reader;

static int count_one(void *ctx, const ss_store_rejected *r)
{
    (void)r;
    ++*(uint64_t *)ctx;
    return 0;
}

static void *read_loop(void *arg)
{
    reader *r = arg;
    while (!*r->stop) {
        ss_store_txn *t;
        int rc = ss_store_txn_begin(r->s, SS_STORE_READ, &t);
        if (rc) {
            r->failures++;
            r->last_rc = rc;
            continue;
        }
        const ss_store_counters *c = ss_store_txn_counters(t);
        uint64_t held = 0;
        if (!c || ss_store_rejected_each(t, count_one, &held) || held != c->rejected)
            r->failures++; /* a torn snapshot */
        else if (c->rejected > r->seen)
            r->seen = c->rejected;
        r->reads++;
        ss_store_txn_abort(t);
    }
    return NULL;
}

static int put_one(ss_store_txn *t, void *ctx, ss_err *err)
{
    (void)err;
    static char raw[4096];
    memset(raw, 'x', sizeof raw);
    return ss_store_reject_put(t, SS_REASON_MALFORMED, "map_test", *(uint64_t *)ctx, "filler", raw,
                               sizeof raw);
}

/* The writer: its own process, its own environment, growing the map as it fills. */
static void write_until_grown(const char *dir)
{
    ss_store *s;
    ss_err err = {0};
    ss_store_options o = {.map_size = SMALL_MAP};
    if (ss_store_open(dir, &o, &s, &err))
        _exit(2);
    for (uint64_t i = 0; i < RECORDS; i++)
        if (ss_store_write(s, put_one, &i, "filler", &err))
            _exit(3);
    ss_store_info info;
    int grown = ss_store_info_get(s, &info) == 0 && info.map_size >= 8 * SMALL_MAP;
    ss_store_close(s);
    _exit(grown ? 0 : 4);
}

START_TEST(readers_adopt_a_map_grown_by_another_process)
{
    char *tmp = tu_mkdtemp(), *dir = tu_path(tmp, "store");
    ss_store *s;
    ss_err err = {0};
    ss_store_options rw = {.create = 1, .map_size = SMALL_MAP},
                     ro = {.readonly = 1, .map_size = SMALL_MAP};
    ck_assert_int_eq(ss_store_open(dir, &rw, &s, &err), 0);
    ss_store_close(s);
    pid_t pid = fork(); /* before any thread: the child uses only what it opens itself */
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        write_until_grown(dir);
    ck_assert_msg(ss_store_open(dir, &ro, &s, &err) == 0, "%s", err.msg);
    volatile int stop = 0;
    reader r[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        r[i] = (reader){s, &stop, 0, 0, 0, 0};
        ck_assert_int_eq(pthread_create(&th[i], NULL, read_loop, &r[i]), 0);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    usleep(100 * 1000);
    stop = 1;
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the writer exited with %d", st);
    for (int i = 0; i < 3; i++) {
        ck_assert_msg(r[i].failures == 0, "reader %d failed %llu times, last: %s", i,
                      (unsigned long long)r[i].failures,
                      r[i].last_rc ? mdb_strerror(r[i].last_rc) : "a torn snapshot");
        ck_assert_uint_eq(r[i].seen, RECORDS);
        ck_assert_uint_gt(r[i].reads, 10);
    }
    ss_store_info info;
    ck_assert_int_eq(ss_store_info_get(s, &info), 0);
    ck_assert_uint_ge(info.map_size, 8 * SMALL_MAP); /* adopted the writer's size */
    ss_store_close(s);
    tu_rmtree(tmp);
    free(dir), free(tmp);
}
END_TEST

/* Records of 100 KiB: a commit writes 25 pages at once, so the one that meets the end of the
 * space is a short write (which LMDB reports as EIO), not a refused one. */
static int put_big(ss_store_txn *t, void *ctx, ss_err *err)
{
    (void)err;
    static char raw[100 << 10];
    memset(raw, 'x', sizeof raw);
    return ss_store_reject_put(t, SS_REASON_MALFORMED, "map_test", *(uint64_t *)ctx, "filler", raw,
                               sizeof raw);
}

/* Reads every byte of each rejected record, so that its pages are mapped. */
static int sum_raw(void *ctx, const ss_store_rejected *r)
{
    uint64_t *sum = ctx;
    for (size_t i = 0; i < r->raw_len; i++)
        *sum += (unsigned char)r->raw[i];
    return 0;
}

/* Resident shared (file) pages of this process, in bytes. */
static size_t resident_file(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size, resident, shared = 0;
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fscanf(f, "%lu %lu %lu", &size, &resident, &shared), 3);
    fclose(f);
    return shared * (size_t)sysconf(_SC_PAGESIZE);
}

/* A reader of the whole store holds all of it mapped; ss_store_unmap() gives the pages back to
 * the page cache, and reads in the transaction still open, and after, find the same bytes. */
START_TEST(unmapping_releases_the_pages_and_reads_go_on)
{
    char *tmp = tu_mkdtemp(), *dir = tu_path(tmp, "store");
    ss_store *s;
    ss_err err = {0};
    ss_store_options o = {.create = 1};
    ck_assert_int_eq(ss_store_open(dir, &o, &s, &err), 0);
    for (uint64_t i = 0; i < 1024; i++) /* 4 MiB of records */
        ck_assert_int_eq(ss_store_write(s, put_one, &i, "filler", &err), 0);
    ss_store_txn *t;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    uint64_t sum = 0, again = 0, after = 0;
    ck_assert_int_eq(ss_store_rejected_each(t, sum_raw, &sum), 0);
    ck_assert_uint_eq(sum, (uint64_t)1024 * 4096 * 'x');
    size_t mapped = resident_file();
    ck_assert_int_eq(ss_store_unmap(s), 0);
    size_t unmapped = resident_file();
    ck_assert_msg(unmapped + ((size_t)3 << 20) < mapped, "resident file pages %zu -> %zu", mapped,
                  unmapped);
    ck_assert_int_eq(ss_store_rejected_each(t, sum_raw, &again), 0);
    ck_assert_uint_eq(again, sum);
    ss_store_txn_abort(t);
    ck_assert_int_eq(ss_store_unmap(s), 0); /* twice, and with no transaction open */
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    ck_assert_int_eq(ss_store_rejected_each(t, sum_raw, &after), 0);
    ck_assert_uint_eq(after, sum);
    ss_store_txn_abort(t);
    ss_store_close(s);
    tu_rmtree(tmp);
    free(dir);
    free(tmp);
}
END_TEST

/* What a store filled by fill_small_disk() holds of its @p n commits, counted without asserting
 * (the tmpfs is unmounted before any assertion). */
typedef uint64_t (*held_fn)(ss_store *s, uint64_t n);

/* Write with @p put, one transaction each, into a store on a 4 MiB tmpfs until the disk is full;
 * then reopen it read-only and count with @p held what the commits left. The failure must be
 * SS_EFULL naming the store, and every commit before it held. Needs root; skipped otherwise. */
static void fill_small_disk(const char *test, ss_store_write_fn put, held_fn held)
{
    char *tmp = tu_mkdtemp(), *dir = tu_path(tmp, "store");
    if (mount("tmpfs", tmp, "tmpfs", 0, "size=4m") != 0) {
        printf("%s: skipped, cannot mount a tmpfs: %s\n", test, strerror(errno));
        tu_rmtree(tmp);
        free(dir), free(tmp);
        return;
    }
    ss_store *s;
    ss_err err = {0}, full = {0};
    ss_store_options rw = {.create = 1, .map_size = SMALL_MAP}, ro = {.readonly = 1};
    uint64_t i = 0, kept = 0;
    int opened = ss_store_open(dir, &rw, &s, &err), reopened = -1;
    while (!opened && i < 10000 && !ss_store_write(s, put, &i, "filler", &full))
        i++;
    if (!opened)
        ss_store_close(s);
    if (!opened && !(reopened = ss_store_open(dir, &ro, &s, &err))) {
        kept = held(s, i);
        ss_store_close(s);
    }
    umount(tmp); /* before any assertion: a failed one ends the test here */
    ck_assert_msg(!opened, "%s", err.msg);
    ck_assert_msg(full.code == SS_EFULL, "code %d: %s", full.code, full.msg);
    ck_assert_msg(strstr(full.msg, "No space left on device") && strstr(full.msg, dir), "%s",
                  full.msg);
    ck_assert_uint_gt(i, 5);
    ck_assert_int_eq(reopened, 0);
    ck_assert_uint_eq(kept, i); /* every commit before the full one */
    tu_rmtree(tmp);
    free(dir), free(tmp);
}

static uint64_t rejected_held(ss_store *s, uint64_t n)
{
    (void)n;
    ss_store_txn *t;
    uint64_t held = 0;
    if (ss_store_txn_begin(s, SS_STORE_READ, &t) == 0) {
        const ss_store_counters *c = ss_store_txn_counters(t);
        held = c ? c->rejected : 0;
        ss_store_txn_abort(t);
    }
    return held;
}

START_TEST(a_full_disk_is_enospc_naming_the_store)
{
    fill_small_disk("a_full_disk_is_enospc_naming_the_store", put_big, rejected_held);
}
END_TEST

/* Alert *ctx with a stamp of STAMP_BYTES (gzip, kept as sent): with format 13 its commit writes
 * the stamp to stamps.dat, a file of its own beside LMDB's. */
#define STAMP_BYTES ((size_t)256 << 10)

static unsigned char *stamp_of(uint64_t i)
{
    static unsigned char img[STAMP_BYTES];
    for (size_t j = 0; j < sizeof img; j++)
        img[j] = (unsigned char)((j * 2654435761u) >> 13 ^ i);
    img[0] = 0x1f, img[1] = 0x8b;
    return img;
}

static int put_stamped(ss_store_txn *t, void *ctx, ss_err *err)
{
    (void)err;
    uint64_t i = *(uint64_t *)ctx;
    char id[24];
    snprintf(id, sizeof id, "%llu", (unsigned long long)i);
    ss_packet *p = ss_packet_new();
    ss_alert *a = p ? ss_packet_add(p) : NULL;
    if (!a) {
        ss_packet_free(p);
        return SS_ENOMEM;
    }
    a->survey = "ztf", a->alert_id = id, a->passband = "r", a->kind = SS_ALERT_DETECTION;
    a->ra = 10, a->dec = -5, a->mjd = 60000 + (double)i, a->mag = 18, a->magerr = 0.1;
    ss_cutout c[SS_CUTOUT__COUNT] = {{stamp_of(i), STAMP_BYTES, NULL}};
    int rc = ss_store_alert_put(t, a, "SKS2023abcdefghjkmn", NULL, 0);
    if (!rc)
        rc = ss_store_cutouts_put(t, a, c);
    ss_packet_free(p);
    return rc;
}

/* Alert i's stamps: counts those equal to what put_stamped() put. */
typedef struct stamp_read {
    uint64_t i, same, other;
} stamp_read;

static int same_stamp(void *ctx, const ss_store_cutout *c)
{
    stamp_read *r = ctx;
    int same = c->len == STAMP_BYTES && !memcmp(c->bytes, stamp_of(r->i), STAMP_BYTES);
    r->same += same, r->other += !same;
    return 0;
}

/* The alerts of the @p n commits whose stamp reads back as put: all or none, for verify must find
 * nothing to say of stamps (the alerts' missing locus aside: they were put without one). */
static uint64_t stamps_held(ss_store *s, uint64_t n)
{
    ss_store_txn *t;
    stamp_read r = {0};
    if (ss_store_txn_begin(s, SS_STORE_READ, &t))
        return 0;
    const ss_store_counters *c = ss_store_txn_counters(t);
    for (r.i = 0; r.i < n; r.i++) {
        char id[24];
        snprintf(id, sizeof id, "%llu", (unsigned long long)r.i);
        if (ss_store_cutouts_each(t, id, "ztf", same_stamp, &r))
            r.other++;
    }
    int counted = c && c->cutouts == n;
    ss_store_txn_abort(t);
    char *text = NULL;
    size_t len;
    FILE *f = open_memstream(&text, &len);
    ss_verify_report v;
    ss_err err = {0};
    int ok = f && !ss_store_verify(s, f, &v, &err);
    if (f)
        fclose(f);
    ok = ok && text && !strstr(text, "stamps") && !strstr(text, "cutouts");
    free(text);
    return ok && counted && !r.other ? r.same : 0;
}

/* A full disk while a chunk of stamps is written to stamps.dat (or LMDB's commit after it) is
 * SS_EFULL naming the store, and every alert committed before keeps its stamp. */
START_TEST(a_full_disk_under_stamps_is_enospc_and_keeps_what_was_committed)
{
    fill_small_disk("a_full_disk_under_stamps_is_enospc_and_keeps_what_was_committed", put_stamped,
                    stamps_held);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("store_map");
    TCase *tc = tcase_create("map");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, readers_adopt_a_map_grown_by_another_process);
    tcase_add_test(tc, a_full_disk_is_enospc_naming_the_store);
    tcase_add_test(tc, a_full_disk_under_stamps_is_enospc_and_keeps_what_was_committed);
    tcase_add_test(tc, unmapping_releases_the_pages_and_reads_go_on);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
