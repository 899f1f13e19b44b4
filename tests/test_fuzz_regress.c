/*
 * Damaged Avro containers and the fuzzers' inputs.
 *
 * - A container whose second block is damaged (sync marker, size, header, compressed data, or the
 *   file cut short) loses that block only: it is rejected as one record naming the file, the
 *   block and its byte offset, and the blocks after it are read.
 * - Every input of tests/fuzz/seeds/<decoder>/ (valid inputs: each must give alerts) and of
 *   tests/fuzz/corpus/<decoder>/ (what the fuzzers found) goes through its decoder with the
 *   contract checked (fuzz/fuzz_run.c): decoded, or refused with a message; ASan and UBSan of the
 *   test build catch crashes, leaks and undefined behaviour.
 */
#include "fuzz/fuzz_run.h"
#include "testutil.h"

#include "ingest.h"

#include <avro.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* tests/fuzz/corpus/avro holds an input that makes avro-c's schema parser leak (its error paths do
 * not release the named types they built; see tests/fuzz/README.md): those leaks, and only those,
 * are suppressed. Whole stacks are needed to see the parser's frame through avro-c, which is built
 * without frame pointers. */
const char *__lsan_default_suppressions(void);
const char *__asan_default_options(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:avro_schema_from_json_length\n";
}
const char *__asan_default_options(void)
{
    return "fast_unwind_on_malloc=0";
}

/* ---- a container of three blocks ---- */

static const char ztf_schema[] =
    "{\"type\":\"record\",\"name\":\"topLevelRecord\",\"fields\":["
    "{\"name\":\"objectId\",\"type\":\"string\"},"
    "{\"name\":\"candidate\",\"type\":{\"type\":\"record\",\"name\":\"r1\",\"fields\":["
    "{\"name\":\"candid\",\"type\":\"long\"},{\"name\":\"jd\",\"type\":\"double\"},"
    "{\"name\":\"ra\",\"type\":\"double\"},{\"name\":\"dec\",\"type\":\"double\"},"
    "{\"name\":\"fid\",\"type\":\"int\"},{\"name\":\"magpsf\",\"type\":\"float\"},"
    "{\"name\":\"sigmapsf\",\"type\":\"float\"}]}}]}";

#define PER_BLOCK 5

static void set(avro_value_t *rec, const char *name, avro_value_t *out)
{
    ck_assert_int_eq(avro_value_get_by_name(rec, name, out, NULL), 0);
}

/* Alert @p i: candid 1000 + i. */
static void fill(avro_value_t *v, int i)
{
    avro_value_t f, c;
    char obj[32];
    snprintf(obj, sizeof obj, "ZTF24blk%04d", i);
    avro_value_reset(v);
    set(v, "objectId", &f), avro_value_set_string(&f, obj);
    set(v, "candidate", &c);
    set(&c, "candid", &f), avro_value_set_long(&f, 1000 + i);
    set(&c, "jd", &f), avro_value_set_double(&f, 2460000.5 + i);
    set(&c, "ra", &f), avro_value_set_double(&f, 20.0 + i);
    set(&c, "dec", &f), avro_value_set_double(&f, 30.0);
    set(&c, "fid", &f), avro_value_set_int(&f, 1);
    set(&c, "magpsf", &f), avro_value_set_float(&f, 18.5f);
    set(&c, "sigmapsf", &f), avro_value_set_float(&f, 0.1f);
}

/* Three blocks of PER_BLOCK alerts (candid 1000..1014): the writer is flushed after each. */
static char *write_three_blocks(const char *name, const char *codec)
{
    char *path = tu_path(tu_tmp, name);
    avro_schema_t schema;
    ck_assert_int_eq(avro_schema_from_json_length(ztf_schema, strlen(ztf_schema), &schema), 0);
    avro_file_writer_t w;
    ck_assert_msg(avro_file_writer_create_with_codec(path, schema, &w, codec, 0) == 0, "%s: %s",
                  codec, avro_strerror());
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    avro_value_t v;
    avro_generic_value_new(iface, &v);
    for (int i = 0; i < 3 * PER_BLOCK; i++) {
        fill(&v, i);
        ck_assert_int_eq(avro_file_writer_append_value(w, &v), 0);
        if (i % PER_BLOCK == PER_BLOCK - 1)
            ck_assert_int_eq(avro_file_writer_flush(w), 0);
    }
    avro_file_writer_close(w);
    avro_value_decref(&v);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    return path;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    ck_assert_int_ge(n, 0);
    rewind(f);
    unsigned char *buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Where the blocks are: the file ends with a sync marker, which also ends the header. */
typedef struct layout {
    size_t block[4]; /* offset of blocks 1..3 (block[0] unused) */
    size_t sync[4];  /* offset of the sync marker after block k */
    size_t data[4];  /* offset of block k's data, after its count and size */
    long long size[4];
} layout;

static size_t varint_len(const unsigned char *p, long long *v)
{
    unsigned long long u = 0;
    size_t i = 0;
    for (int shift = 0;; shift += 7, i++) {
        u |= (unsigned long long)(p[i] & 0x7f) << shift;
        if (!(p[i] & 0x80))
            break;
    }
    *v = (long long)(u >> 1) ^ -(long long)(u & 1);
    return i + 1;
}

static layout find_blocks(const unsigned char *buf, size_t len)
{
    layout l = {{0}, {0}, {0}, {0}};
    const unsigned char *sync = buf + len - 16;
    size_t found[4], n = 0;
    for (size_t at = 0; at + 16 <= len && n < 4; at++)
        if (!memcmp(buf + at, sync, 16))
            found[n++] = at;
    ck_assert_uint_eq(n, 4); /* the header's marker, then one per block */
    for (int k = 1; k <= 3; k++) {
        long long count;
        l.block[k] = found[k - 1] + 16;
        l.sync[k] = found[k];
        size_t a = varint_len(buf + l.block[k], &count);
        ck_assert_int_eq(count, PER_BLOCK);
        l.data[k] = l.block[k] + a + varint_len(buf + l.block[k] + a, &l.size[k]);
        ck_assert_uint_eq(l.data[k] + (size_t)l.size[k], l.sync[k]);
    }
    return l;
}

static char *write_bytes(const char *name, const unsigned char *buf, size_t len)
{
    char *path = tu_path(tu_tmp, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

/* ---- decoding through the decoder interface, as ingest does ---- */

typedef struct decoded {
    int ids[3 * PER_BLOCK]; /* candid - 1000 of each alert, in order */
    int nids;
    int nrej;
    char detail[256]; /* of the first rejection */
    char origin[256];
    unsigned long long line;
    int end;         /* next()'s last code: 0 at the end, else an error */
    char error[512]; /* its message */
} decoded;

static decoded decode(const char *path)
{
    decoded d;
    memset(&d, 0, sizeof d);
    const ss_decoder_ops *ops = ss_decoder_find("avro");
    ck_assert_ptr_nonnull(ops);
    ss_decoder_config cfg = {0};
    ss_decoder_shared *sh = ss_decoder_shared_new(&cfg);
    FILE *fp = fopen(path, "rb");
    ck_assert_ptr_nonnull(fp);
    void *st = NULL;
    ss_err err = {0};
    ck_assert_msg(ops->open(fp, path, &cfg, ss_decoder_shared_get(sh, ops), &st, &err) == 0, "%s",
                  err.msg);
    ss_packet *pkt = ss_packet_new();
    for (;;) {
        ss_reject rej;
        memset(&rej, 0, sizeof rej);
        ss_packet_reset(pkt);
        int rc = ops->next(st, pkt, &rej, &err);
        if (rc == 1) {
            ck_assert_int_lt(d.nids, 3 * PER_BLOCK);
            d.ids[d.nids++] = atoi(pkt->alerts[0].alert_id) - 1000;
        } else if (rc == SS_EREJECT) {
            if (!d.nrej++) {
                snprintf(d.detail, sizeof d.detail, "%s", rej.detail);
                snprintf(d.origin, sizeof d.origin, "%s", rej.origin ? rej.origin : "");
                d.line = (unsigned long long)rej.line;
            }
        } else {
            d.end = rc;
            if (rc)
                snprintf(d.error, sizeof d.error, "%s", err.msg);
            break;
        }
    }
    ss_packet_free(pkt);
    ops->close(st);
    fclose(fp);
    ss_decoder_shared_free(sh);
    return d;
}

/* Blocks 1 and 3 decoded, block 2 rejected once, naming the file, block 2 and its offset. */
static void assert_block_2_lost(const decoded *d, const char *path, const layout *l,
                                const char *why)
{
    ck_assert_msg(d->end == 0, "%s: %s", path, d->error);
    ck_assert_msg(d->nids == 2 * PER_BLOCK, "%s: %d alerts", path, d->nids);
    for (int i = 0; i < PER_BLOCK; i++) {
        ck_assert_int_eq(d->ids[i], i);
        ck_assert_int_eq(d->ids[PER_BLOCK + i], 2 * PER_BLOCK + i);
    }
    ck_assert_int_eq(d->nrej, 1);
    ck_assert_str_eq(d->origin, path);
    ck_assert_uint_eq(d->line, PER_BLOCK + 1); /* the next record's index */
    char where[64];
    snprintf(where, sizeof where, "block 2 at byte %zu: ", l->block[2]);
    ck_assert_msg(strstr(d->detail, where) && strstr(d->detail, why), "%s: %s", path, d->detail);
}

START_TEST(damaged_block_is_rejected_and_reading_resyncs)
{
    const char *codecs[] = {"null", "deflate", "snappy"};
    for (int k = 0; k < 3; k++) {
        char name[64];
        snprintf(name, sizeof name, "three-%s.avro", codecs[k]);
        char *good = write_three_blocks(name, codecs[k]);
        size_t len;
        unsigned char *buf = slurp(good, &len);
        layout l = find_blocks(buf, len);
        decoded d = decode(good);
        ck_assert_int_eq(d.nids, 3 * PER_BLOCK);
        ck_assert_int_eq(d.nrej, 0);

        /* the sync marker after block 2: block 3 starts right after it */
        unsigned char *bad = malloc(len);
        memcpy(bad, buf, len);
        bad[l.sync[2] + 7] ^= 0x5a;
        snprintf(name, sizeof name, "sync-%s.avro", codecs[k]);
        char *path = write_bytes(name, bad, len);
        d = decode(path);
        assert_block_2_lost(&d, path, &l, "sync marker does not match; 5 record(s) lost");
        free(path);

        /* both the marker and the start of block 3: found again after block 3 */
        bad[l.block[3]] = 0x7f; /* a negative count */
        snprintf(name, sizeof name, "sync3-%s.avro", codecs[k]);
        path = write_bytes(name, bad, len);
        d = decode(path);
        ck_assert_msg(d.end == 0 && d.nids == PER_BLOCK && d.nrej == 1, "%s: %d, %s", path, d.nids,
                      d.detail);
        free(path);

        /* a size past the end of the file: the next sync marker is block 2's own */
        memcpy(bad, buf, len);
        size_t at = l.block[2] + 1, end = l.data[2]; /* count 5 takes one byte, then the size */
        ck_assert_uint_ge(end - at, 2); /* so the largest size of its length exceeds the file */
        memset(bad + at, 0xff, end - at);
        bad[at] = 0xfe, bad[end - 1] = 0x7f; /* even: zigzag makes it positive */
        snprintf(name, sizeof name, "size-%s.avro", codecs[k]);
        path = write_bytes(name, bad, len);
        d = decode(path);
        assert_block_2_lost(&d, path, &l, "its size runs past the end of the file");
        free(path);

        /* a negative record count */
        memcpy(bad, buf, len);
        bad[l.block[2]] = 0x01;
        snprintf(name, sizeof name, "count-%s.avro", codecs[k]);
        path = write_bytes(name, bad, len);
        d = decode(path);
        assert_block_2_lost(&d, path, &l, "bad block header");
        free(path);

        /* compressed data that does not decompress: the framing is sound */
        if (k > 0) {
            memcpy(bad, buf, len);
            if (k == 1)
                bad[l.data[2]] = 0xff; /* a deflate block of the reserved type 3 */
            else
                bad[l.sync[2] - 1] ^= 0x5a; /* the snappy checksum */
            snprintf(name, sizeof name, "data-%s.avro", codecs[k]);
            path = write_bytes(name, bad, len);
            d = decode(path);
            assert_block_2_lost(&d, path, &l, k == 1 ? "cannot inflate" : "snappy checksum");
            free(path);
        }

        /* cut inside block 3: blocks 1 and 2, then the file fails, saying it is truncated */
        snprintf(name, sizeof name, "cut-%s.avro", codecs[k]);
        path = write_bytes(name, buf, l.data[3] + 3);
        d = decode(path);
        ck_assert_int_eq(d.nids, 2 * PER_BLOCK);
        ck_assert_msg(d.end != 0 && strstr(d.error, path) && strstr(d.error, "truncated") &&
                          strstr(d.error, "block 3"),
                      "%s", d.error);
        free(path);
        free(bad), free(buf), free(good);
    }
}
END_TEST

/* Ingest counts the damaged block as one rejected record, and the file as read. */
START_TEST(ingest_keeps_the_blocks_around_a_damaged_one)
{
    char *good = write_three_blocks("three.avro", "deflate");
    size_t len;
    unsigned char *buf = slurp(good, &len);
    layout l = find_blocks(buf, len);
    buf[l.sync[2] + 3] ^= 0x5a;
    char *path = write_bytes("damaged.avro", buf, len);
    char *dir = tu_path(tu_tmp, "store");
    ss_store_options so = {.create = 1};
    ss_store *s = NULL;
    ss_err err = {0};
    ck_assert_int_eq(ss_store_open(dir, &so, &s, &err), 0);
    ss_ingest_options o = {0};
    ss_ingest *in = ss_ingest_new(s, &o);
    ck_assert_ptr_nonnull(in);
    ck_assert_msg(ss_ingest_path(in, path, &err) == 0, "%s", err.msg);
    ss_ingest_totals t;
    ck_assert_int_eq(ss_ingest_finish(in, &t, &err), 0);
    ss_ingest_free(in);
    ss_store_close(s);
    ck_assert_uint_eq(t.ingested, 2 * PER_BLOCK);
    ck_assert_uint_eq(t.rejected, 1);
    ck_assert_uint_eq(t.by_reason[SS_REASON_MALFORMED], 1);
    ck_assert_uint_eq(t.inputs_failed, 0);
    free(dir), free(path), free(buf), free(good);
}
END_TEST

/* ---- the fuzzers' inputs ---- */

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Run every file of @p dir through @p decoder. @p must_decode: each must give an alert (seeds),
 * except framed messages when there is no schema directory. @return the number of files. */
static int replay(const char *dir, const char *decoder, int must_decode, const char *schema_dir)
{
    const ss_decoder_ops *ops = ss_decoder_find(decoder);
    ck_assert_ptr_nonnull(ops);
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    char *names[512];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 512)
        if (e->d_name[0] != '.')
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, by_name);
    for (int i = 0; i < n; i++) {
        char *path = tu_path(dir, names[i]);
        size_t len;
        unsigned char *buf = slurp(path, &len);
        ssf_result res;
        char why[512], name[64];
        snprintf(name, sizeof name, "fuzz.%s", decoder);
        int rc = ssf_run(ops, buf, len, name, schema_dir, &res, why, sizeof why);
        ck_assert_msg(rc == 0, "%s: the %s decoder broke its contract: %s", path, decoder, why);
        /* decoded to the end, or refused with a message */
        ck_assert_msg(!res.failed || res.message[0], "%s: failed without a message", path);
        if (must_decode && (schema_dir || !strstr(names[i], "framed")))
            ck_assert_msg(res.alerts > 0 && !res.failed, "%s: a seed that gives no alert: %s", path,
                          res.message);
        free(buf), free(path), free(names[i]);
    }
    return n;
}

START_TEST(fuzz_inputs_decode_or_are_refused)
{
    const char *decoders[] = {"avro", "csv", "jsonl"};
    const char *shared = tu_shared_data("schemas/lsst");
    char *schema_dir = shared ? tu_path(shared, "schemas/lsst") : NULL;
    for (int k = 0; k < 3; k++) {
        char *seeds = NULL, *corpus = NULL;
        ck_assert_int_ge(asprintf(&seeds, "%s/tests/fuzz/seeds/%s", SS_SOURCE_DIR, decoders[k]), 0);
        ck_assert_int_ge(asprintf(&corpus, "%s/tests/fuzz/corpus/%s", SS_SOURCE_DIR, decoders[k]),
                         0);
        int nseeds = replay(seeds, decoders[k], 1, schema_dir);
        int ncorpus = replay(corpus, decoders[k], 0, schema_dir);
        ck_assert_msg(nseeds > 0, "no seed inputs in %s", seeds);
        ck_assert_msg(ncorpus > 0, "no corpus inputs in %s", corpus);
        free(seeds), free(corpus);
    }
    free(schema_dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fuzz_regress");
    TCase *tc = tcase_create("fuzz_regress");
    tcase_add_checked_fixture(tc, tu_tmp_setup, tu_tmp_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, damaged_block_is_rejected_and_reading_resyncs);
    tcase_add_test(tc, ingest_keeps_the_blocks_around_a_damaged_one);
    tcase_add_test(tc, fuzz_inputs_decode_or_are_refused);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
