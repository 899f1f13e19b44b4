/*
 * bench_avro: ingest rate of real survey alerts beside the rate of avro-c decoding them alone.
 *
 * Sets (--sets, default all): ztf (DATA/ztf, 88 real alerts of four schema versions), ztf with
 * --no-cutouts, lsst (DATA/lsst/rubin-lsstcam-v9.0, 100 real Rubin LSSTCam alerts with stamps) and
 * elasticc (DATA/elasticc, 5,689 simulated Rubin alerts). Every alert of a set is read once, then
 * written again round after round until ALERTS alerts were made, each round a new sky: ids get an
 * offset and right ascensions a shift, so every round's alerts, their histories included, are new
 * alerts on new loci (the set's own alerts repeated unchanged would only measure duplicate
 * detection). Each alert is one Avro container in memory, as ZTF sends them over Kafka.
 *
 * That is the store's worst case: a survey's alert repeats its object's recent history, which the
 * store keeps once. --stream K makes the stream a survey sends: K rounds in a row share a sky, and
 * each sends every template's own measurement again, under a new source id and a day after the
 * round before, with the same history, which only the first of the K brings new.
 *
 * Per round, on the same bytes: (1) the records alone, avro-c reading each into a generic value
 * with the schema parsed once: avro-c's own decode rate, the floor under any decoder of these
 * bytes and the reference of the ratio; (2) ingest: skysieve ingests the containers into a store:
 * framing, decoding, mapping, validation, association, LMDB commits, cutouts included (except for
 * ztf-nocutouts); with --reader, (3) avro-c's container reader, which parses each container's
 * schema. The set is measured --repeat times (a new store each time); the ratio's minimum,
 * median and maximum are printed last.
 *
 * After each measurement it prints the store's footprint: bytes in use per alert beside the Avro
 * records' bytes (their bytes without the cutouts' images when the cutouts were not stored), and
 * the bytes the ingest wrote to the store's disk (/proc/diskstats, other writers on that disk
 * included) per byte in use, and the bytes per alert of each table holding a hundredth of the
 * store or more (ss_store_footprint()), then reads every light curve back and compacts a copy of
 * the store (--ingest-only skips those two, for a profile of the ingest alone). --keep leaves the
 * stores in --work for a look with mdb_stat.
 *
 * The ingest overlaps decoding with writing, as `skysieve ingest` does (ss_ingest_options
 * overlap); --serial writes each batch before decoding the next, for the comparison.
 * --pack-ahead 1 (-1) has the decoding thread pack every (no) packet's records, against the
 * share steered between the two threads by default (ss_ingest_options pack_ahead).
 * --cache-stamps keeps the stamps each commit wrote in the page cache (ss_store_options
 * cache_stamps), against their pages dropped once on disk by default. --stamp-level N compresses
 * the stamps the store compresses at zstd's level N (ss_store_options stamp_level; default -60).
 *
 * The rounds are made, decoded by avro-c and ingested in chunks of --chunk-mb MB of Avro (default
 * 256), to bound memory. The ingest settles at the end of each chunk (ss_ingest_settle()), so that
 * the chunk's writing is timed with it: its last batch is then written with decoding idle, and its
 * first decoded with the writer idle, which a continuous ingest overlaps. A 256-MB chunk holds
 * about two batches of Rubin alerts with stamps, so a larger chunk measures the overlap of a long
 * ingest better, for more memory.
 *
 * usage: bench_avro [--data DIR] [--alerts N] [--work DIR] [--sets a,b] [--repeat N] [--reader]
 *                   [--keep] [--serial] [--ingest-only] [--stream K] [--pack-ahead N]
 *                   [--cache-stamps] [--stamp-level N] [--chunk-mb N]
 */
#include "bench_util.h"
#include "ingest.h"
#include "query.h"
#include "store.h"

#include <avro.h>
#include <dirent.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ROUND_ID_OFFSET 10000000000000LL /* far above any round's ids, far below INT64_MAX */
#define ROUND_RA_SHIFT  0.37             /* degrees: rounds never share a locus */

typedef struct alert_src {
    avro_schema_t schema;
    avro_value_iface_t *iface;
    avro_value_t value;   /* the alert as read */
    avro_value_t scratch; /* decode-only reads into this, reused as a decoder would */
    char *schema_json;
    size_t stamp_bytes; /* bytes of its cutouts' images in the record */
} alert_src;

typedef struct set {
    const char *name;
    const char *dir; /* under the data directory */
    int skip_cutouts;
    alert_src *a;
    size_t n, cap;
} set;

typedef struct bench_opts {
    uint64_t alerts;
    const char *work;
    int repeat, reader, keep, serial, ingest_only;
    int stream; /* --stream K: epochs per sky (0: every round a new sky, its history new) */
    int pack_ahead;
    int cache_stamps; /* --cache-stamps: ss_store_options cache_stamps */
    int stamp_level;  /* --stamp-level: ss_store_options stamp_level (0: the store's default) */
    size_t chunk;     /* --chunk-mb, in bytes */
} bench_opts;

typedef struct buf {
    char *data;
    size_t len, cap;
} buf;

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "bench_avro: %s: %s\n", what, detail);
    exit(1);
}

static void buf_put(buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        if (!(b->data = realloc(b->data, b->cap)))
            die("memory", "out of memory");
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void buf_long(buf *b, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    unsigned char out[10];
    size_t n = 0;
    do {
        out[n] = z & 0x7f;
        z >>= 7;
        out[n++] |= z ? 0x80 : 0;
    } while (z);
    buf_put(b, out, n);
}

static void buf_str(buf *b, const char *s, size_t n)
{
    buf_long(b, (int64_t)n);
    buf_put(b, s, n);
}

/* ---- reading a set ---- */

static char *schema_text(avro_schema_t s)
{
    static char tmp[1 << 20];
    avro_writer_t w = avro_writer_memory(tmp, sizeof tmp);
    if (avro_schema_to_json(s, w))
        die("schema", avro_strerror());
    char *out = strndup(tmp, (size_t)avro_writer_tell(w));
    avro_writer_free(w);
    return out;
}

/* Bytes of the images under fields named cutout* (ZTF's stampData, Rubin's cutout bytes). */
static size_t stamp_bytes(avro_value_t *v, int in_cutout)
{
    avro_value_t child;
    const void *p;
    size_t n = 0, sum = 0;
    const char *fname;
    switch (avro_value_get_type(v)) {
    case AVRO_UNION:
        return avro_value_get_current_branch(v, &child) ? 0 : stamp_bytes(&child, in_cutout);
    case AVRO_BYTES: return in_cutout && !avro_value_get_bytes(v, &p, &n) ? n : 0;
    case AVRO_RECORD:
        avro_value_get_size(v, &n);
        for (size_t i = 0; i < n; i++)
            if (!avro_value_get_by_index(v, i, &child, &fname))
                sum += stamp_bytes(&child, in_cutout || !strncmp(fname, "cutout", 6));
        return sum;
    default: return 0;
    }
}

static void read_file(set *st, const char *path)
{
    avro_file_reader_t r;
    if (avro_file_reader(path, &r))
        die(path, avro_strerror());
    avro_schema_t schema = avro_file_reader_get_writer_schema(r);
    for (;;) {
        if (st->n == st->cap) {
            st->cap = st->cap ? st->cap * 2 : 256;
            st->a = realloc(st->a, st->cap * sizeof *st->a);
        }
        alert_src *a = &st->a[st->n];
        a->schema = avro_schema_incref(schema);
        a->iface = avro_generic_class_from_schema(schema);
        avro_generic_value_new(a->iface, &a->value);
        if (avro_file_reader_read_value(r, &a->value)) {
            avro_value_decref(&a->value);
            avro_value_iface_decref(a->iface);
            avro_schema_decref(a->schema);
            break;
        }
        a->schema_json = schema_text(schema);
        a->stamp_bytes = stamp_bytes(&a->value, 0);
        avro_generic_value_new(a->iface, &a->scratch);
        st->n++;
    }
    avro_schema_decref(schema);
    avro_file_reader_close(r);
}

static void read_dir(set *st, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t n = strlen(e->d_name);
        if (n > 5 && !strcmp(e->d_name + n - 5, ".avro"))
            read_file(st, path);
        else if (e->d_type == DT_DIR)
            read_dir(st, path);
    }
    closedir(d);
}

/* ---- making round r's alerts ---- */

static int in_names(const char *name, const char *const *names)
{
    for (int i = 0; names[i]; i++)
        if (!strcmp(name, names[i]))
            return 1;
    return 0;
}

/* An object's ids, and the ids of one measurement (the alert's own, or a history entry's). */
static const char *const object_ids[] = {"objectId", "diaObjectId", "ssObjectId", NULL};
static const char *const source_ids[] = {"candid", "diaSourceId", "diaForcedSourceId", "alertId",
                                         NULL};
/* The time of a measurement: ZTF's jd, Rubin's and ELAsTiCC's MJD. */
static const char *const times[] = {"jd", "midpointMjdTai", "midPointTai", NULL};

/* What a round changes in a template. Every round is a sky of its own (ids offset, right
 * ascensions shifted: new alerts on new loci, their history new too); with --stream K, K rounds
 * in a row share a sky, each an epoch that sends the template's own measurement again under a
 * new id, EPOCH days later, with the same history, as a survey sends an object's alerts night
 * after night, each repeating the ones before. */
typedef struct clone_at {
    int sky, epoch;
    int in_list; /* inside an array: a history entry (or forced photometry), as its sky has it */
} clone_at;

#define ROUND_EPOCH_OFFSET 100000000000LL /* an epoch's ids: a hundredth of a sky's offset */

static void shift(avro_value_t *v, const char *name, clone_at at);

static void shift_children(avro_value_t *v, clone_at at)
{
    size_t n = 0;
    avro_value_get_size(v, &n);
    for (size_t i = 0; i < n; i++) {
        avro_value_t child;
        const char *fname = NULL;
        if (!avro_value_get_by_index(v, i, &child, &fname))
            shift(&child, fname ? fname : "", at);
    }
}

/* Whether id field @p name is the alert's own measurement's, which each epoch sends anew. */
static int own_id(const char *name, clone_at at)
{
    return !at.in_list && at.epoch && in_names(name, source_ids);
}

/* The offset of id field @p name: its sky's, and its epoch's for the alert's own measurement. */
static int64_t id_offset(const char *name, clone_at at)
{
    return at.sky * ROUND_ID_OFFSET + (own_id(name, at) ? at.epoch * ROUND_EPOCH_OFFSET : 0);
}

/* Give field @p name its round's value: ids offset, right ascensions shifted, the alert's own
 * time moved by its epoch. */
static void shift(avro_value_t *v, const char *name, clone_at at)
{
    avro_value_t branch;
    int64_t l;
    double d;
    const char *s;
    size_t n;
    char tmp[128];
    int is_id = in_names(name, object_ids) || in_names(name, source_ids);
    switch (avro_value_get_type(v)) {
    case AVRO_UNION:
        if (!avro_value_get_current_branch(v, &branch))
            shift(&branch, name, at);
        break;
    case AVRO_RECORD: shift_children(v, at); break;
    case AVRO_ARRAY: at.in_list = 1, shift_children(v, at); break;
    case AVRO_INT64:
        if (is_id && !avro_value_get_long(v, &l) && l > 0)
            avro_value_set_long(v, l + id_offset(name, at));
        break;
    case AVRO_STRING:
        if (is_id && !avro_value_get_string(v, &s, &n)) {
            snprintf(tmp, sizeof tmp, own_id(name, at) ? "%.*s_%d.%d" : "%.*s_%d",
                     (int)(n ? n - 1 : 0), s, at.sky, at.epoch);
            avro_value_set_string(v, tmp);
        }
        break;
    case AVRO_DOUBLE:
        if (!strcmp(name, "ra") && !avro_value_get_double(v, &d))
            avro_value_set_double(v, fmod(d + at.sky * ROUND_RA_SHIFT, 360.0));
        else if (!at.in_list && in_names(name, times) && !avro_value_get_double(v, &d))
            avro_value_set_double(v, d + at.epoch);
        break;
    default: break;
    }
}

/* One alert as an Avro container (header, one block), appended to @p out; @p block_at receives
 * where the block's records start, for the decode-only pass. */
static void container(const alert_src *a, clone_at at, buf *out, size_t *block_at)
{
    static const char sync[16] = "skysieve-bench!";
    avro_value_t v;
    avro_generic_value_new(a->iface, &v);
    avro_value_copy_fast(&v, &a->value);
    shift(&v, "", at);
    size_t size;
    avro_value_sizeof(&v, &size);
    char *rec = malloc(size);
    avro_writer_t w = avro_writer_memory(rec, (int64_t)size);
    if (avro_value_write(w, &v))
        die("encoding", avro_strerror());
    avro_writer_free(w);
    avro_value_decref(&v);
    buf_put(out, "Obj\x01", 4);
    buf_long(out, 2);
    buf_str(out, "avro.schema", 11);
    buf_str(out, a->schema_json, strlen(a->schema_json));
    buf_str(out, "avro.codec", 10);
    buf_str(out, "null", 4);
    buf_long(out, 0);
    buf_put(out, sync, 16);
    buf_long(out, 1);
    buf_long(out, (int64_t)size);
    *block_at = out->len;
    buf_put(out, rec, size);
    buf_put(out, sync, 16);
    free(rec);
}

/* ---- the two passes ---- */

/* A chunk of rounds: alert j is a clone of template j % n. The passes run a chunk at a time, so
 * that the ingest's overlapped writing stays inside the time measured (it settles at the end of
 * each chunk: --chunk-mb says how often). */
typedef struct round_bytes {
    buf all;
    size_t *start, *block, *len; /* per alert: container start, records start, record bytes */
    size_t cnt, cap;             /* alerts in the chunk, and room */
    uint64_t records, stamps;    /* all rounds: record bytes, and of them the cutouts' images */
} round_bytes;

#define CHUNK_MB_DEFAULT 256

static void make_round(const set *st, int round, int stream, round_bytes *rb)
{
    clone_at at = {.sky = stream ? round / stream : round, .epoch = stream ? round % stream : 0};
    if (rb->cnt + st->n > rb->cap) {
        rb->cap = (rb->cnt + st->n) * 2;
        rb->start = realloc(rb->start, rb->cap * sizeof(size_t));
        rb->block = realloc(rb->block, rb->cap * sizeof(size_t));
        rb->len = realloc(rb->len, rb->cap * sizeof(size_t));
        if (!rb->start || !rb->block || !rb->len)
            die("bench_avro", "out of memory");
    }
    for (size_t i = 0; i < st->n; i++) {
        size_t j = rb->cnt++;
        rb->start[j] = rb->all.len;
        container(&st->a[i], at, &rb->all, &rb->block[j]);
        rb->len[j] = rb->all.len - 16 - rb->block[j];
        rb->records += rb->len[j];
        rb->stamps += st->a[i].stamp_bytes;
    }
}

/* avro-c decoding the containers as avro-c decodes containers: its file reader, which parses
 * each container's schema, then every record into a generic value. */
static double decode_reader(const set *st, const round_bytes *rb)
{
    double t0 = bench_now_s();
    for (size_t i = 0; i < rb->cnt; i++) {
        size_t end = i + 1 < rb->cnt ? rb->start[i + 1] : rb->all.len;
        FILE *fp = fmemopen(rb->all.data + rb->start[i], end - rb->start[i], "rb");
        avro_file_reader_t r = NULL;
        if (!fp || avro_file_reader_fp(fp, "bench", 1, &r))
            die("avro_file_reader_fp", avro_strerror());
        avro_value_t *v = &st->a[i % st->n].scratch;
        while (avro_value_reset(v), avro_file_reader_read_value(r, v) == 0)
            ;
        avro_file_reader_close(r);
    }
    return bench_now_s() - t0;
}

/* The records alone with their schema parsed once: the least any decoder of these bytes spends. */
static double decode_records(const set *st, const round_bytes *rb)
{
    double t0 = bench_now_s();
    avro_reader_t r = avro_reader_memory("", 0);
    for (size_t i = 0; i < rb->cnt; i++) {
        avro_value_t *v = &st->a[i % st->n].scratch;
        avro_value_reset(v);
        avro_reader_memory_set_source(r, rb->all.data + rb->block[i], (int64_t)rb->len[i]);
        if (avro_value_read(r, v))
            die("decoding", avro_strerror());
    }
    avro_reader_free(r);
    return bench_now_s() - t0;
}

/* Where an ingest's time goes, per alert: the calling thread decodes (and packs ahead), the
 * ingest's own threads write (and whatever else the process runs meanwhile: nothing, here). */
typedef struct cpu_split {
    double wall, decoding, all; /* seconds */
    uint64_t alerts;
} cpu_split;

static void cpu_split_add(cpu_split *to, const cpu_split *d)
{
    to->wall += d->wall, to->decoding += d->decoding, to->all += d->all, to->alerts += d->alerts;
}

static void cpu_split_print(const char *what, const cpu_split *c)
{
    double n = c->alerts ? (double)c->alerts / 1e6 : 1;
    printf("%s %.0f / %.0f / %.0f us", what, c->decoding / n, (c->all - c->decoding) / n,
           c->wall / n);
}

static double ingest_round(ss_ingest *in, const set *st, const round_bytes *rb, cpu_split *cpu)
{
    double t0 = bench_now_s();
    double all0 = bench_clock_s(CLOCK_PROCESS_CPUTIME_ID),
           dec0 = bench_clock_s(CLOCK_THREAD_CPUTIME_ID);
    ss_err err = {0};
    for (size_t i = 0; i < rb->cnt; i++) {
        size_t end = i + 1 < rb->cnt ? rb->start[i + 1] : rb->all.len;
        char name[64];
        snprintf(name, sizeof name, "%s-%zu", st->name, i % st->n);
        /* in memory, as a Kafka message is: decoded where it lies */
        if (ss_ingest_memory(in, rb->all.data + rb->start[i], end - rb->start[i], name, &err))
            die(name, err.msg[0] ? err.msg : "cannot ingest");
    }
    if (ss_ingest_settle(in, &err)) /* the batch still being written is this chunk's work */
        die(st->name, err.msg);
    *cpu = (cpu_split){bench_now_s() - t0, bench_clock_s(CLOCK_THREAD_CPUTIME_ID) - dec0,
                       bench_clock_s(CLOCK_PROCESS_CPUTIME_ID) - all0, rb->cnt};
    return cpu->wall;
}

/* What the store holds per alert beside what came in: all of the records' bytes when the
 * cutouts were stored, the records without their images otherwise. */
static void print_footprint(const set *st, ss_store *s, const round_bytes *rb, uint64_t made,
                            uint64_t before, uint64_t after)
{
    ss_store_info info;
    if (ss_store_info_get(s, &info))
        die(st->name, "cannot read the store's size");
    double in = (double)(st->skip_cutouts ? rb->records - rb->stamps : rb->records);
    printf("%-14s stored %.0f B/alert = %.2f x %s Avro records (%.0f B/alert)", st->name,
           (double)info.used_bytes / (double)made, (double)info.used_bytes / in,
           st->skip_cutouts ? "the non-cutout" : "the", in / (double)made);
    if (before == UINT64_MAX || after == UINT64_MAX)
        printf(" | written: unknown (no device in /proc/diskstats)\n");
    else
        printf(" | written to disk %.2f x stored\n",
               (double)(after - before) / (double)info.used_bytes);
}

/* Where the stored bytes are, per alert: the tables holding a hundredth of them or more, the
 * largest first (as `skysieve stats --tables` lists them), and the pages no table holds. */
static void print_tables(const set *st, ss_store *s, uint64_t made)
{
    json_t *fp, *t;
    ss_err err = {0};
    if (ss_query_footprint(s, &fp, &err))
        die(st->name, err.msg);
    double all = (double)json_integer_value(json_object_get(fp, "used_bytes"));
    size_t i;
    printf("%-14s B/alert by table:", st->name);
    json_array_foreach(json_object_get(fp, "tables"), i, t)
    {
        double bytes = (double)json_integer_value(json_object_get(t, "bytes"));
        if (bytes * 100 < all)
            break;
        printf(" %s %.0f", json_string_value(json_object_get(t, "name")), bytes / (double)made);
    }
    printf(" | free %.0f\n",
           (double)json_integer_value(json_object_get(fp, "free_bytes")) / (double)made);
    json_decref(fp);
}

/* The same store after `skysieve compact` (its tables rewritten with full pages): what a store
 * kept for years holds per alert. The copy is removed. */
static void print_compacted(const set *st, ss_store *s, const char *dir, const round_bytes *rb,
                            uint64_t made)
{
    char copy[4200], data[4300], stamps[4300], cmd[4400];
    snprintf(copy, sizeof copy, "%s.compact", dir);
    snprintf(data, sizeof data, "%s/data.mdb", copy);
    snprintf(stamps, sizeof stamps, "%s/stamps.dat", copy); /* format 13 */
    ss_err err = {0};
    struct stat sb, ss = {0};
    double t0 = bench_now_s();
    if (ss_store_compact(s, copy, &err) || stat(data, &sb))
        die(copy, err.msg[0] ? err.msg : "cannot compact");
    double bytes = (double)sb.st_size + (stat(stamps, &ss) ? 0 : (double)ss.st_blocks * 512);
    double in = (double)(st->skip_cutouts ? rb->records - rb->stamps : rb->records);
    printf("%-14s compacted %.0f B/alert = %.2f x %s Avro records (in %.1f s)\n", st->name,
           bytes / (double)made, bytes / in, st->skip_cutouts ? "the non-cutout" : "the",
           bench_now_s() - t0);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", copy);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_avro: could not remove %s\n", copy);
}

typedef struct lc_read {
    ss_store_txn *t;
    ss_packet *pkt;
    uint64_t loci, points;
} lc_read;

static int read_one(void *ctx, const ss_locus *l)
{
    lc_read *r = ctx;
    ss_packet_reset(r->pkt);
    if (ss_store_locus_alerts(r->t, l->id, r->pkt))
        die(l->id, "cannot read its light curve");
    r->loci++;
    r->points += r->pkt->n;
    return 0;
}

/* Every locus's light curve read back, as a filter or a query reads it: the cost of decoding
 * what the store keeps. */
static void print_lightcurves(const set *st, ss_store *s)
{
    lc_read r = {.pkt = ss_packet_new()};
    double t0 = bench_now_s();
    if (!r.pkt || ss_store_txn_begin(s, SS_STORE_READ, &r.t) ||
        ss_store_loci_each(r.t, NULL, read_one, &r))
        die(st->name, "cannot read the light curves");
    double dt = bench_now_s() - t0;
    ss_store_txn_abort(r.t);
    ss_packet_free(r.pkt);
    printf("%-14s light curves read back: %llu loci, %llu points in %.2f s = %.0f points/s\n",
           st->name, (unsigned long long)r.loci, (unsigned long long)r.points, dt,
           (double)r.points / dt);
}

typedef struct rates {
    double reader, records, ingest; /* alerts per second */
} rates;

static void store_dir(char *dir, size_t cap, const set *st, const char *work, int rep)
{
    snprintf(dir, cap, "%s/%s-%d", work, st->name, rep);
}

/* Remove a measured store: 200,000 Rubin alerts take 28 GB. */
static void remove_store(const set *st, const char *work, int rep)
{
    char dir[4096], cmd[4200];
    store_dir(dir, sizeof dir, st, work, rep);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_avro: could not remove %s\n", dir);
}

static ss_ingest *open_ingest(const set *st, const bench_opts *bo, int rep, ss_store **s)
{
    char dir[4096];
    store_dir(dir, sizeof dir, st, bo->work, rep);
    ss_store_options so = {
        .create = 1, .cache_stamps = bo->cache_stamps, .stamp_level = bo->stamp_level};
    ss_err err = {0};
    if (ss_store_open(dir, &so, s, &err))
        die(dir, err.msg);
    ss_ingest_options o = {.decoder.skip_cutouts = st->skip_cutouts,
                           .overlap = !bo->serial,
                           .pack_ahead = bo->pack_ahead};
    ss_ingest *in = ss_ingest_new(*s, &o);
    if (!in)
        die(dir, "out of memory");
    return in;
}

/* One measurement of @p st: rounds until o->alerts alerts were made. */
static rates bench_once(set *st, const bench_opts *o, int rep)
{
    ss_store *s;
    ss_ingest *in = open_ingest(st, o, rep, &s);
    round_bytes rb = {0};
    double t_dec = 0, t_rec = 0, t_ing = 0;
    cpu_split cpu = {0}, tail = {0}, chunk; /* tail: the chunks begun past 3/4 of the alerts */
    char dir[4096];
    store_dir(dir, sizeof dir, st, o->work, rep);
    uint64_t made = 0, bytes = 0, written = bench_disk_written(dir);
    for (int round = 0; made < o->alerts;) {
        rb.cnt = rb.all.len = 0;
        while (made + rb.cnt < o->alerts && (rb.cnt == 0 || rb.all.len < o->chunk))
            make_round(st, round++, o->stream, &rb);
        if (o->reader)
            t_dec += decode_reader(st, &rb);
        t_rec += decode_records(st, &rb);
        t_ing += ingest_round(in, st, &rb, &chunk);
        cpu_split_add(&cpu, &chunk);
        if (made >= o->alerts / 4 * 3)
            cpu_split_add(&tail, &chunk);
        made += rb.cnt;
        bytes += rb.all.len;
    }
    ss_err err = {0};
    double t0 = bench_now_s();
    ss_ingest_totals t;
    if (ss_ingest_finish(in, &t, &err))
        die(st->name, err.msg);
    t_ing += bench_now_s() - t0;
    rates r = {o->reader ? (double)made / t_dec : NAN, (double)made / t_rec,
               (double)t.ingested / t_ing};
    printf("%-14s %8llu alerts %8.1f MB | records only %7.0f/s | ingest %6.0f/s = %.3f x records",
           st->name, (unsigned long long)made, (double)bytes / 1e6, r.records, r.ingest,
           r.ingest / r.records);
    if (o->reader)
        printf(" | avro-c reader %6.0f/s: ingest %.2f x reader", r.reader, r.ingest / r.reader);
    printf(" | loci %llu rejected %llu\n", (unsigned long long)t.loci_created,
           (unsigned long long)t.rejected);
    printf("%-14s ingest per alert, decoding thread / other threads CPU / wall:", st->name);
    cpu_split_print("", &cpu);
    if (tail.alerts) /* the writes slow down as the store grows: what 200,000 ZTF alerts showed */
        cpu_split_print("; the last quarter", &tail);
    printf("\n");
    if (!o->serial) /* which side bounds the ingest */
        printf("%-14s ingest waits per alert: decoding for the writer %.0f us, the writer for "
               "decoding %.0f us\n",
               st->name, t.waited_for_writer / (double)made * 1e6,
               t.writer_idle / (double)made * 1e6);
    print_footprint(st, s, &rb, made, written, bench_disk_written(dir));
    print_tables(st, s, made);
    if (!o->ingest_only) {
        print_lightcurves(st, s);
        print_compacted(st, s, dir, &rb, made);
    }
    fflush(stdout);
    ss_ingest_free(in);
    ss_store_close(s);
    if (!o->keep)
        remove_store(st, o->work, rep);
    free(rb.all.data), free(rb.start), free(rb.block), free(rb.len);
    return r;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void bench_set(set *st, const bench_opts *o)
{
    double ratio[64];
    int n = o->repeat < 64 ? o->repeat : 64;
    for (int rep = 0; rep < n; rep++) {
        rates r = bench_once(st, o, rep);
        ratio[rep] = r.ingest / r.records;
    }
    qsort(ratio, (size_t)n, sizeof ratio[0], by_value);
    printf("%-14s ingest / avro-c records-only decode: min %.3f median %.3f max %.3f (%d runs)\n",
           st->name, ratio[0], ratio[n / 2], ratio[n - 1], n);
    fflush(stdout);
}

static int wanted(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; (p = strstr(p, name)); p += n)
        if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    const char *data = "../shared/data", *list = "ztf,ztf-nocutouts,lsst,elasticc";
    bench_opts o = {.alerts = 100000, .repeat = 1, .chunk = (size_t)CHUNK_MB_DEFAULT << 20};
    static const struct option opts[] = {{"data", required_argument, 0, 'd'},
                                         {"alerts", required_argument, 0, 'n'},
                                         {"work", required_argument, 0, 'w'},
                                         {"sets", required_argument, 0, 's'},
                                         {"repeat", required_argument, 0, 'r'},
                                         {"reader", no_argument, 0, 'R'},
                                         {"keep", no_argument, 0, 'k'},
                                         {"serial", no_argument, 0, 'S'},
                                         {"ingest-only", no_argument, 0, 'I'},
                                         {"stream", required_argument, 0, 'T'},
                                         {"pack-ahead", required_argument, 0, 'P'},
                                         {"cache-stamps", no_argument, 0, 'C'},
                                         {"stamp-level", required_argument, 0, 'L'},
                                         {"chunk-mb", required_argument, 0, 'M'},
                                         {0, 0, 0, 0}};
    for (int ch; (ch = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        if (ch == 'd')
            data = optarg;
        else if (ch == 'n')
            o.alerts = strtoull(optarg, NULL, 10);
        else if (ch == 'w')
            o.work = optarg;
        else if (ch == 's')
            list = optarg;
        else if (ch == 'r')
            o.repeat = atoi(optarg) > 0 ? atoi(optarg) : 1;
        else if (ch == 'R')
            o.reader = 1;
        else if (ch == 'k')
            o.keep = 1;
        else if (ch == 'S')
            o.serial = 1;
        else if (ch == 'I')
            o.ingest_only = 1;
        else if (ch == 'C')
            o.cache_stamps = 1;
        else if (ch == 'L' && atoi(optarg) != 0)
            o.stamp_level = atoi(optarg); /* the store refuses a level out of range */
        else if (ch == 'M' && atoi(optarg) >= 16 && atoi(optarg) <= 16384)
            o.chunk = (size_t)atoi(optarg) << 20;
        else if (ch == 'T' && atoi(optarg) > 0)
            o.stream = atoi(optarg);
        else if (ch == 'P' &&
                 (!strcmp(optarg, "1") || !strcmp(optarg, "0") || !strcmp(optarg, "-1")))
            o.pack_ahead = atoi(optarg);
        else
            die("usage", "bench_avro [--data DIR] [--alerts N] [--work DIR] [--sets a,b] "
                         "[--repeat N] [--reader] [--keep] [--serial] [--ingest-only] [--stream K] "
                         "[--pack-ahead -1|0|1] [--cache-stamps] [--stamp-level N] "
                         "[--chunk-mb 16..16384]");
    }
    char tmpl[] = "/tmp/bench_avro.XXXXXX", cmd[4200];
    if (!o.work && !(o.work = mkdtemp(tmpl)))
        die("mkdtemp", "cannot make a work directory");
    set sets[] = {{.name = "ztf", .dir = "ztf"},
                  {.name = "ztf-nocutouts", .dir = "ztf", .skip_cutouts = 1},
                  {.name = "lsst", .dir = "lsst/rubin-lsstcam-v9.0"},
                  {.name = "elasticc", .dir = "elasticc"}};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        if (!wanted(list, sets[i].name))
            continue;
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", data, sets[i].dir);
        read_dir(&sets[i], dir);
        if (sets[i].n == 0)
            die(dir, "no .avro alerts there (is ../shared/data present?)");
        printf("%s: %zu alerts read from %s\n", sets[i].name, sets[i].n, dir);
        bench_set(&sets[i], &o);
    }
    if (o.work == tmpl) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", o.work);
        if (system(cmd) != 0)
            fprintf(stderr, "bench_avro: could not remove %s\n", o.work);
    }
    return 0;
}
