/* Size caps (alert_limits.h): resource bombs rejected by name while they are read, with the peak
 * memory of a child ingesting them bounded, and the good record after each ingested; the caps
 * configurable and refused at parse time when 0 or out of range. */
#include "testutil.h"

#include "alert_limits.h"
#include "broker.h"
#include "ingest.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

/* The peak a child ingesting a bomb may reach. Before the caps the three bombs peaked at 0.23 to
 * 1.3 GB (Release); with them at 25-46 MB (Release), 28-140 MB under the sanitizers (whose
 * quarantine keeps freed buffers). */
#define PEAK_MAX_KB (192L * 1024)

/* What the child saw, written to the parent through a pipe. */
typedef struct outcome {
    ss_ingest_totals t;
    unsigned rows;
    char reason[32];
    char detail[256];
    size_t raw_len; /* of the first rejected row's stored text */
    long peak_kb;   /* the child's ru_maxrss, filled by the parent */
} outcome;

static int first_row(void *ctx, const ss_store_rejected *r)
{
    outcome *o = ctx;
    if (o->rows++ == 0) {
        snprintf(o->reason, sizeof o->reason, "%.*s", (int)r->reason_len, r->reason);
        snprintf(o->detail, sizeof o->detail, "%.*s", (int)r->detail_len, r->detail);
        o->raw_len = r->raw_len;
    }
    return 0;
}

/* In the child: ingest @p path into a fresh store with @p lim, and read its rejected rows. */
static void ingest_into(const char *path, const ss_alert_limits *lim, outcome *o)
{
    char *dir = tu_path(tu_tmp, "store");
    tu_rmtree(dir);
    ss_store_options so = {.create = 1};
    ss_store *s = NULL;
    ss_err err = {0};
    if (ss_store_open(dir, &so, &s, &err))
        _exit(3);
    ss_ingest_options io = {0};
    if (lim)
        io.decoder.limits = *lim;
    ss_ingest *in = ss_ingest_new(s, &io);
    int rc = ss_ingest_path(in, path, &err);
    if ((rc && rc != SS_EREJECT) || ss_ingest_finish(in, &o->t, &err))
        _exit(4);
    ss_ingest_free(in);
    ss_store_txn *txn;
    if (ss_store_txn_begin(s, SS_STORE_READ, &txn) || ss_store_rejected_each(txn, first_row, o))
        _exit(5);
    ss_store_txn_abort(txn);
    ss_store_close(s);
    free(dir);
}

/* Ingest @p path in a child process: what it saw, and its peak resident memory. */
static outcome ingest_child(const char *path, const ss_alert_limits *lim)
{
    int fd[2];
    ck_assert_int_eq(pipe(fd), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fd[0]);
        outcome o = {0};
        ingest_into(path, lim, &o);
        _exit(write(fd[1], &o, sizeof o) == (ssize_t)sizeof o ? 0 : 6);
    }
    close(fd[1]);
    outcome o = {0};
    ssize_t got = read(fd[0], &o, sizeof o);
    close(fd[0]);
    int status = 0;
    struct rusage ru;
    ck_assert_int_eq(wait4(pid, &status, 0, &ru), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed: status %d", status);
    ck_assert_int_eq(got, (ssize_t)sizeof o);
    o.peak_kb = ru.ru_maxrss;
    fprintf(stderr, "%s: peak %ld KB, %s: %s\n", path, o.peak_kb, o.reason, o.detail);
    return o;
}

/* The bomb rejected by name, the good record after it ingested, memory bounded. */
static void assert_bomb_refused(const outcome *o, const char *detail)
{
    ck_assert_uint_eq(o->t.ingested, 1);
    ck_assert_uint_eq(o->t.rejected, 1);
    ck_assert_uint_eq(o->t.by_reason[SS_REASON_TOO_LARGE], 1);
    ck_assert_str_eq(o->reason, "too_large");
    ck_assert_msg(strstr(o->detail, detail), "%s", o->detail);
    ck_assert_uint_le(o->raw_len, 4096); /* a bounded prefix, never the bomb */
    ck_assert_int_lt(o->peak_kb, PEAK_MAX_KB);
}

/* ---- the bombs ---- */

#define MiB (1024 * 1024)

/* A CSV whose row 2 has a property of @p big bytes (in 1 MiB writes), then a good row. */
static char *write_csv(const char *name, size_t big)
{
    char *path = tu_path(tu_tmp, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("alert_id,ra,dec,mjd,passband,mag,magerr,note\nbig,10,10,60000,g,18,0.1,", f);
    char *chunk = malloc(MiB);
    memset(chunk, 'x', MiB);
    for (size_t left = big; left; left -= left < MiB ? left : MiB)
        ck_assert_uint_eq(fwrite(chunk, 1, left < MiB ? left : MiB, f), left < MiB ? left : MiB);
    fputs("\ngood,11,10,60000,g,18,0.1,ok\n", f);
    fclose(f);
    free(chunk);
    return path;
}

/* JSON lines: an object with @p nkeys more keys, then a good one. */
static char *write_jsonl(const char *name, long nkeys)
{
    char *path = tu_path(tu_tmp, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"alert_id\":\"big\",\"ra\":10,\"dec\":10,\"mjd\":60000,\"passband\":\"g\",\"mag\":18,"
          "\"magerr\":0.1",
          f);
    for (long i = 0; i < nkeys; i++)
        fprintf(f, ",\"k%ld\":1", i);
    fputs("}\n{\"alert_id\":\"good\",\"ra\":11,\"dec\":10,\"mjd\":60000,\"passband\":\"g\","
          "\"mag\":18,\"magerr\":0.1}\n",
          f);
    fclose(f);
    return path;
}

/* A ZTF-like schema: objectId, a candidate, prv_candidates of five small fields. */
static const char ztf_schema[] =
    "{\"type\":\"record\",\"name\":\"a\",\"fields\":["
    "{\"name\":\"objectId\",\"type\":\"string\"},"
    "{\"name\":\"candidate\",\"type\":{\"type\":\"record\",\"name\":\"c\",\"fields\":["
    "{\"name\":\"candid\",\"type\":\"long\"},{\"name\":\"jd\",\"type\":\"double\"},"
    "{\"name\":\"ra\",\"type\":\"double\"},{\"name\":\"dec\",\"type\":\"double\"},"
    "{\"name\":\"fid\",\"type\":\"int\"},{\"name\":\"magpsf\",\"type\":\"float\"},"
    "{\"name\":\"sigmapsf\",\"type\":\"float\"},{\"name\":\"note\",\"type\":\"string\"}]}},"
    "{\"name\":\"prv_candidates\",\"type\":[\"null\",{\"type\":\"array\",\"items\":{\"type\":"
    "\"record\",\"name\":\"p\",\"fields\":[{\"name\":\"candid\",\"type\":[\"null\",\"long\"]},"
    "{\"name\":\"jd\",\"type\":\"double\"},{\"name\":\"fid\",\"type\":\"int\"},"
    "{\"name\":\"pid\",\"type\":\"long\"},{\"name\":\"diffmaglim\",\"type\":[\"null\","
    "\"float\"]}]}}]}]}";

typedef struct bytes {
    unsigned char *p;
    size_t n, cap;
} bytes;

static void put(bytes *b, const void *data, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->p = realloc(b->p, b->cap);
        ck_assert_ptr_nonnull(b->p);
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
}

static void put_long(bytes *b, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    unsigned char c[10];
    size_t n = 0;
    do {
        c[n++] = (unsigned char)((z & 0x7f) | (z > 0x7f ? 0x80 : 0));
        z >>= 7;
    } while (z);
    put(b, c, n);
}

static void put_str(bytes *b, const char *s, size_t n)
{
    put_long(b, (int64_t)n);
    put(b, s, n);
}

/* Alert @p i with @p nprv upper limits in its history and a note of @p note bytes. */
static void put_alert(bytes *b, int i, long nprv, size_t note)
{
    char obj[32];
    double d[3] = {2460000.5 + i, 10.0 + i, -5.0}, jd = 2460000.0;
    float f[2] = {18.5f, 0.1f}, lim = 20.1f;
    put_str(b, obj, (size_t)snprintf(obj, sizeof obj, "ZTF24bomb%04d", i));
    put_long(b, 1000 + i);
    put(b, d, sizeof d); /* little-endian, as Avro has it (x86, arm64) */
    put_long(b, 1);
    put(b, f, sizeof f);
    char *text = calloc(1, note + 1);
    memset(text, 'n', note);
    put_str(b, text, note);
    free(text);
    if (!nprv) {
        put_long(b, 0); /* the null branch */
        return;
    }
    put_long(b, 1);
    put_long(b, nprv);
    for (long k = 0; k < nprv; k++) {
        put_long(b, 0); /* candid null: an upper limit */
        put(b, &jd, sizeof jd);
        put_long(b, 2);
        put_long(b, k);
        put_long(b, 1);
        put(b, &lim, sizeof lim);
    }
    put_long(b, 0);
}

/* A block of one record; with @p deflated its data is raw deflate, as Avro has it. */
static void put_block(bytes *b, const bytes *data, int deflated)
{
    bytes z = {0};
    if (deflated) {
        z_stream zs = {0};
        z.cap = deflateBound(&zs, (uLong)data->n) + 64;
        z.p = malloc(z.cap);
        ck_assert_int_eq(deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
        zs.next_in = data->p, zs.avail_in = (uInt)data->n;
        zs.next_out = z.p, zs.avail_out = (uInt)z.cap;
        ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
        z.n = z.cap - zs.avail_out;
        deflateEnd(&zs);
        data = &z;
    }
    put_long(b, 1);
    put_long(b, (int64_t)data->n);
    put(b, data->p, data->n);
    put(b, "SSSSSSSSSSSSSSSS", 16);
    free(z.p);
}

/* An Avro container (null or deflate codec) of two one-record blocks: a bomb alert with @p nprv
 * history entries and a note of @p note bytes, then a good alert. */
static char *write_avro_codec(const char *name, long nprv, size_t note, int deflated)
{
    bytes b = {0}, rec = {0};
    put(&b, "Obj\x01", 4);
    put_long(&b, 2);
    put_str(&b, "avro.schema", 11);
    put_str(&b, ztf_schema, strlen(ztf_schema));
    put_str(&b, "avro.codec", 10);
    put_str(&b, deflated ? "deflate" : "null", deflated ? 7 : 4);
    put_long(&b, 0);
    put(&b, "SSSSSSSSSSSSSSSS", 16);
    put_alert(&rec, 0, nprv, note);
    put_block(&b, &rec, deflated);
    rec.n = 0;
    put_alert(&rec, 1, 1, 4);
    put_block(&b, &rec, deflated);
    char *path = tu_path(tu_tmp, name);
    FILE *f = fopen(path, "wb");
    ck_assert_uint_eq(fwrite(b.p, 1, b.n, f), b.n);
    fclose(f);
    free(b.p), free(rec.p);
    return path;
}

static char *write_avro(const char *name, long nprv, size_t note)
{
    return write_avro_codec(name, nprv, note, 0);
}

/* A 100 MB CSV line: discarded as it is read, never buffered (before: ingested, 0.7 GB). */
START_TEST(csv_line_of_100_mb_is_rejected_in_bounded_memory)
{
    char *path = write_csv("line.csv", (size_t)100 * MiB);
    outcome o = ingest_child(path, NULL);
    assert_bomb_refused(&o, "line is too long (bytes): 104857625 over max_line_bytes = 16777216");
    free(path);
}
END_TEST

/* A 1M-key JSON object: counted before jansson builds it (before: ingested, 0.23 GB). */
START_TEST(json_object_of_a_million_keys_is_rejected_in_bounded_memory)
{
    char *path = write_jsonl("keys.jsonl", 1000000);
    outcome o = ingest_child(path, NULL);
    assert_bomb_refused(&o, "too many keys and array items: at least 10001 over max_props = 10000");
    free(path);
}
END_TEST

/* 1M prv_candidates: counted from the array's block count before avro-c allocates the items
 * (before: 1M history entries stored, 1.3 GB). */
START_TEST(avro_history_of_a_million_entries_is_rejected_in_bounded_memory)
{
    char *path = write_avro("prv.avro", 1000000, 4);
    outcome o = ingest_child(path, NULL);
    assert_bomb_refused(&o, "too many history entries: 1000000 over max_history = 10000");
    ck_assert_uint_eq(o.t.history, 1); /* the good alert's one entry */
    free(path);
}
END_TEST

/* Each cap configured small: one over is rejected naming it and its value, one at it is kept. */
START_TEST(configured_caps_reject_at_their_value)
{
    ss_alert_limits lim = {
        .line_bytes = 2048, .value_bytes = 1024, .props = 20, .history = 3, .alert_bytes = 8192};
    char *path = write_csv("line.csv", 2048 - 25); /* row 2 is 2048 bytes: at the cap */
    outcome o = ingest_child(path, &lim);
    ck_assert_uint_eq(o.t.ingested, 1); /* the long property is refused instead */
    ck_assert_msg(strstr(o.detail, "column note is too long (bytes): 2023 over max_value_bytes = "
                                   "1024"),
                  "%s", o.detail);
    free(path);
    lim.value_bytes = 4096;
    path = write_csv("line.csv", 2048 - 25 + 1);
    o = ingest_child(path, &lim);
    assert_bomb_refused(&o, "line is too long (bytes): 2049 over max_line_bytes = 2048");
    free(path);
    path = write_csv("line.csv", 2048 - 25);
    o = ingest_child(path, &lim);
    ck_assert_uint_eq(o.t.ingested, 2);
    free(path);
    path = write_jsonl("keys.jsonl", 14); /* 7 columns and 14 properties: 21 keys */
    o = ingest_child(path, &lim);
    assert_bomb_refused(&o, "at least 21 over max_props = 20");
    free(path);
    path = write_avro("prv.avro", 4, 4);
    o = ingest_child(path, &lim);
    assert_bomb_refused(&o, "too many history entries: 4 over max_history = 3");
    free(path);
    path = write_avro("prv.avro", 3, 4096 + 1);
    o = ingest_child(path, &lim);
    assert_bomb_refused(&o, "a string or bytes value is too long (bytes): 4097 over "
                            "max_value_bytes = 4096");
    free(path);
    lim.value_bytes = 16384;
    path = write_avro("prv.avro", 3, 8192);
    o = ingest_child(path, &lim);
    assert_bomb_refused(&o, "record is too long (bytes): ");
    ck_assert_msg(strstr(o.detail, " over max_alert_bytes = 8192"), "%s", o.detail);
    free(path);
}
END_TEST

/* Whole blocks past max_alert_bytes a record: a deflate block stops inflating at the cap, and a
 * block whose stored size alone passes it is skipped unread; the next block is read. */
START_TEST(avro_blocks_over_the_alert_cap_are_not_held)
{
    ss_alert_limits lim = {.alert_bytes = 8192};
    char *path = write_avro_codec("z.avro", 3, 1 << 20, 1); /* 1 MiB of 'n': 1 KB deflated */
    outcome o = ingest_child(path, &lim);
    assert_bomb_refused(&o, "its deflate data inflates past 8192 bytes (max_alert_bytes = 8192 a "
                            "record); 1 record(s) lost, reading resumes at byte ");
    free(path);
    path = write_avro_codec("big.avro", 3, 200000, 0);
    o = ingest_child(path, &lim);
    assert_bomb_refused(&o, "bytes for 1 record(s) are over max_alert_bytes = 8192 each; 1 "
                            "record(s) lost");
    free(path);
}
END_TEST

/* A CSV row spanning lines inside quotes counts whole; the rest of it is skipped, and the rows
 * after it read as they are. */
START_TEST(quoted_csv_row_over_the_cap_is_skipped_whole)
{
    ss_alert_limits lim = {.line_bytes = 1024};
    char *text =
        strdup("alert_id,ra,dec,mjd,passband,mag,magerr,note\nbig,10,10,60000,g,18,0.1,\"");
    for (int i = 0; i < 100; i++) {
        char *more = NULL;
        ck_assert_int_ge(asprintf(&more, "%s%s", text, "line of a quoted \"\"field\"\"\n"), 0);
        free(text), text = more;
    }
    char *more = NULL;
    ck_assert_int_ge(asprintf(&more, "%send\"\ngood,11,10,60000,g,18,0.1,ok\n", text), 0);
    char *path = tu_write(tu_tmp, "quoted.csv", more);
    outcome o = ingest_child(path, &lim);
    assert_bomb_refused(&o, "row is too long (bytes): at least ");
    free(text), free(more), free(path);
}
END_TEST

/* One reading of every cap: 0, out of range, a count with a suffix, refused naming the key. */
START_TEST(caps_are_parsed_and_refused_by_name)
{
    ss_alert_limits l = {0};
    ss_err err = {0};
    ck_assert_int_eq(ss_alert_limits_set(&l, "max_line_bytes", "64K", &err), 0);
    ck_assert_uint_eq(l.line_bytes, 65536);
    ck_assert_int_eq(ss_alert_limits_set(&l, "max_history", "50", &err), 0);
    ck_assert_uint_eq(l.history, 50);
    ck_assert_int_eq(ss_alert_limits_set(&l, "max_colour", "5", &err), 1);
    const char *bad[][2] = {{"max_line_bytes", "0"},   {"max_value_bytes", "1023"},
                            {"max_props", "10K"},      {"max_history", "0"},
                            {"max_alert_bytes", "2G"}, {"max_props", "-5"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ss_err_clear(&err);
        ck_assert_int_eq(ss_alert_limits_set(&l, bad[i][0], bad[i][1], &err), SS_EINVAL);
        ck_assert_msg(strstr(err.msg, bad[i][0]) && strstr(err.msg, bad[i][1]), "%s", err.msg);
    }
    ss_alert_limits e = ss_alert_limits_effective(&(ss_alert_limits){.props = 99});
    ck_assert_uint_eq(e.props, 99);
    ck_assert_uint_eq(e.line_bytes, SS_LIMIT_LINE_BYTES);
    ck_assert_uint_eq(e.history, SS_LIMIT_HISTORY);
}
END_TEST

/* The command line and the broker's configuration refuse 0 by the option's or key's name. */
START_TEST(caps_at_the_command_line_and_in_the_broker_conf)
{
    char *path = write_csv("line.csv", 3000), *out = NULL, *errs = NULL;
    ck_assert_int_eq(
        tu_sks(&out, &errs, "ingest --store %s/cli --max-line-bytes 0 %s", tu_tmp, path), 2);
    ck_assert_msg(strstr(errs, "--max-line-bytes") && strstr(errs, "max_line_bytes = '0'"), "%s",
                  errs);
    free(out), free(errs);
    ck_assert_int_eq(
        tu_sks(&out, &errs, "ingest --store %s/cli --max-line-bytes 2K %s", tu_tmp, path), 0);
    ck_assert_msg(strstr(errs, "rejected (too_large): line is too long (bytes): 3025 over "
                               "max_line_bytes = 2048") &&
                      strstr(out, "ingested          1"),
                  "%s%s", out, errs);
    free(out), free(errs);
    ck_assert_int_eq(tu_sks(&out, &errs, "inspect --max-line-bytes 2K %s", path), 0);
    ck_assert_msg(strstr(out, "too_large"), "%s", out);
    free(out), free(errs);
    char *conf = tu_write(tu_tmp, "b.ini", "[broker]\nmax_history = 0\n");
    ss_broker_conf c;
    ss_err err = {0};
    ck_assert_int_eq(ss_broker_conf_load(conf, &c, &err), SS_EINVAL);
    ck_assert_msg(strstr(err.msg, "[broker] max_history = '0'"), "%s", err.msg);
    free(conf);
    conf = tu_write(tu_tmp, "b.ini", "[broker]\nmax_history = 20\nmax_value_bytes = 1M\n");
    ck_assert_int_eq(ss_broker_conf_load(conf, &c, &err), 0);
    ck_assert_uint_eq(c.limits.history, 20);
    ck_assert_uint_eq(c.limits.value_bytes, 1 << 20);
    ss_broker_conf_free(&c);
    free(conf), free(path);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("limits");
    TCase *tc = tcase_create("limits");
    tcase_add_checked_fixture(tc, tu_tmp_setup, tu_tmp_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, csv_line_of_100_mb_is_rejected_in_bounded_memory);
    tcase_add_test(tc, json_object_of_a_million_keys_is_rejected_in_bounded_memory);
    tcase_add_test(tc, avro_history_of_a_million_entries_is_rejected_in_bounded_memory);
    tcase_add_test(tc, configured_caps_reject_at_their_value);
    tcase_add_test(tc, avro_blocks_over_the_alert_cap_are_not_held);
    tcase_add_test(tc, quoted_csv_row_over_the_cap_is_skipped_whole);
    tcase_add_test(tc, caps_are_parsed_and_refused_by_name);
    tcase_add_test(tc, caps_at_the_command_line_and_in_the_broker_conf);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
