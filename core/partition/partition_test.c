/* skysieve partition (core/partition*.c): region pixels, border detection, border anchors across a
 * restart, real ZTF alerts re-keyed through librdkafka's mock cluster, a container split over
 * partitions, dead letters, configuration errors. */
#include "testutil.h"
#include "tu_kafka.h"

#include "decoder.h"
#include "partition.h"
#include "sky.h"

#include <avro.h>
#include <chealpix.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IN     "ztf_night"
#define OUT    "ztf_regions"
#define NPARTS 4
#define RADIUS 1.5                   /* arcsec */
#define BORDER (2 * RADIUS / 3600.0) /* degrees */
#define D2R    (M_PI / 180.0)

/* ---- geometry helpers ---- */

/* The point @p dist degrees from (ra, dec) towards position angle @p az (radians, from north). */
static void along(double ra, double dec, double az, double dist, double *ora, double *odec)
{
    double a = ra * D2R, d = dec * D2R, r = dist * D2R;
    double p[3] = {cos(d) * cos(a), cos(d) * sin(a), sin(d)};
    double n[3] = {-sin(d) * cos(a), -sin(d) * sin(a), cos(d)}, e[3] = {-sin(a), cos(a), 0};
    ss_vec3 q = {cos(r) * p[0] + sin(r) * (cos(az) * n[0] + sin(az) * e[0]),
                 cos(r) * p[1] + sin(r) * (cos(az) * n[1] + sin(az) * e[1]),
                 cos(r) * p[2] + sin(r) * (cos(az) * n[2] + sin(az) * e[2])};
    ss_sky_vec_to_radec(q, ora, odec);
}

/* A pixel border crossed by walking east from the centre of @p pix at nside 32: the distance
 * along the walk where the pixel changes, found by bisection to well under a milliarcsecond. */
static double border_walk(int64_t pix, double *cra, double *cdec)
{
    double th, ph, lo = 0, hi = 5, ra, dec;
    pix2ang_nest64(32, pix, &th, &ph);
    *cra = ph / D2R;
    *cdec = 90 - th / D2R;
    while (hi - lo > 1e-9) {
        double mid = (lo + hi) / 2;
        along(*cra, *cdec, M_PI / 2, mid, &ra, &dec);
        *(ss_partition_pixel(32, ra, dec) == pix ? &lo : &hi) = mid;
    }
    return lo;
}

/* The point at @p offset degrees past the border along the walk (negative: before it). */
static void near_border(int64_t pix, double offset, double *ra, double *dec)
{
    double cra, cdec, b = border_walk(pix, &cra, &cdec);
    along(cra, cdec, M_PI / 2, b + offset, ra, dec);
}

START_TEST(pixel_mapping)
{
    for (int64_t pix = 0; pix < 12 * 32 * 32; pix += 397) {
        double th, ph;
        pix2ang_nest64(32, pix, &th, &ph);
        ck_assert_int_eq(ss_partition_pixel(32, ph / D2R, 90 - th / D2R), pix);
    }
    ck_assert_int_eq(ss_partition_pixel(32, 0, 90) / (32 * 32),
                     0); /* base pixel 0..3 at the pole */
    ck_assert_int_lt(ss_partition_pixel(32, 359.9999, -89.9999), 12 * 32 * 32);
    ck_assert_int_ge(ss_partition_pixel(32, 0, -90), 8 * 32 * 32);
    /* a pixel's centre is far from any border */
    double th, ph;
    pix2ang_nest64(32, 5000, &th, &ph);
    ck_assert_int_eq(ss_partition_is_border(32, ph / D2R, 90 - th / D2R, BORDER), 0);
}
END_TEST

/* Both sides of the threshold: inside the border distance (either side of the edge) is a border
 * alert, beyond 1.1 times it (and well beyond, along an oblique walk) is not. */
START_TEST(border_threshold)
{
    static const int64_t pix[] = {0, 777, 4100, 6000, 9001, 12287};
    for (size_t i = 0; i < sizeof pix / sizeof *pix; i++) {
        double ra, dec;
        near_border(pix[i], -0.9 * BORDER, &ra, &dec);
        ck_assert_int_eq(ss_partition_pixel(32, ra, dec), pix[i]);
        ck_assert_msg(ss_partition_is_border(32, ra, dec, BORDER), "pixel %lld inside",
                      (long long)pix[i]);
        near_border(pix[i], 0.5 * BORDER, &ra, &dec);
        ck_assert_int_ne(ss_partition_pixel(32, ra, dec), pix[i]);
        ck_assert(ss_partition_is_border(32, ra, dec, BORDER));
        near_border(pix[i], -3 * BORDER, &ra, &dec);
        ck_assert_msg(!ss_partition_is_border(32, ra, dec, BORDER), "pixel %lld at 3 borders",
                      (long long)pix[i]);
    }
}
END_TEST

static ss_partition_anchors *anchors_open(int64_t nside)
{
    char *dir = tu_path(tu_tmp, "state");
    ss_partition_anchors *a = NULL;
    ss_err err = {0};
    ck_assert_msg(ss_partition_anchors_open(dir, nside, BORDER, &a, &err) == 0, "%s", err.msg);
    free(dir);
    return a;
}

static int64_t route(ss_partition_anchors *a, double ra, double dec, ss_partition_route *r)
{
    ss_err err = {0};
    ck_assert_msg(ss_partition_anchors_route(a, ra, dec, r, &err) == 0, "%s", err.msg);
    return r->route;
}

/* Alerts of one source at +-0.5" across a border: every one routed with the first one's pixel, in
 * either order, and still after the state is closed and opened again. */
START_TEST(anchors_keep_sources)
{
    const double half = 0.5 / 3600;
    ss_partition_anchors *a = anchors_open(32);
    ss_partition_route r;
    double ra[2], dec[2]; /* before and after the border of pixel 4100 */
    near_border(4100, -half, &ra[0], &dec[0]);
    near_border(4100, half, &ra[1], &dec[1]);
    ck_assert_int_ne(ss_partition_pixel(32, ra[0], dec[0]), ss_partition_pixel(32, ra[1], dec[1]));
    int64_t first = route(a, ra[0], dec[0], &r);
    ck_assert(r.border && r.new_anchor && !r.anchored);
    for (int i = 1; i < 6; i++) {
        ck_assert_int_eq(route(a, ra[i % 2], dec[i % 2], &r), first);
        ck_assert(r.border && !r.new_anchor && r.anchored);
    }
    /* the other order at another border: the first alert's side wins */
    double rb[2], db[2];
    near_border(9001, -half, &rb[0], &db[0]);
    near_border(9001, half, &rb[1], &db[1]);
    int64_t second = route(a, rb[1], db[1], &r);
    ck_assert_int_eq(second, ss_partition_pixel(32, rb[1], db[1]));
    ck_assert_int_eq(route(a, rb[0], db[0], &r), second);
    ck_assert_int_ne(r.pixel, second);
    /* far from any border: its own pixel, no anchor */
    double cra, cdec;
    near_border(4100, -50 * BORDER, &cra, &cdec);
    ck_assert_int_eq(route(a, cra, cdec, &r), 4100);
    ck_assert(!r.border && !r.new_anchor);
    ck_assert_uint_eq(ss_partition_anchors_count(a), 2);
    ss_partition_anchors_close(a);

    a = anchors_open(32); /* a restart */
    ck_assert_uint_eq(ss_partition_anchors_count(a), 2);
    ck_assert_int_eq(route(a, ra[1], dec[1], &r), first);
    ck_assert_int_eq(route(a, rb[0], db[0], &r), second);
    ck_assert_uint_eq(ss_partition_anchors_count(a), 2);
    ss_partition_anchors_close(a);

    char *dir = tu_path(tu_tmp, "state");
    ss_err err = {0};
    ck_assert_int_eq(ss_partition_anchors_open(dir, 64, BORDER, &a, &err), SS_ESETTINGS);
    ck_assert_msg(strstr(err.msg, "made for nside 32") && strstr(err.msg, dir), "%s", err.msg);
    ck_assert_ptr_null(a);
    free(dir);
}
END_TEST

/* ---- the mock cluster ---- */

static void mock_start(tu_mock *m, int in_parts)
{
    tu_mock_start(m, 0);
    tu_mock_topic(m, IN, in_parts);
    tu_mock_topic(m, OUT, NPARTS);
    tu_mock_topic(m, OUT ".rejected", 1);
}

/* Produce to partition @p part of the input: spread, since the mock cluster keeps only the last
 * few megabytes of a partition. */
static void produce(rd_kafka_t *p, int32_t part, const void *buf, size_t len)
{
    tu_kafka_produce(p, IN, part, NULL, 0, buf, len);
}

/* Every message of @p topic (its @p nparts partitions read to their end). */
static tu_kafka_msg *read_topic(const tu_mock *m, const char *topic, int nparts, size_t *n)
{
    int ends = 0;
    tu_kafka_msg *g = tu_kafka_read(m, topic, nparts, 0, n, &ends);
    ck_assert_int_eq(ends, nparts);
    return g;
}

static void conf_for(ss_partition_conf *c, const tu_mock *m, const char *group)
{
    ss_err err = {0};
    ss_partition_conf_init(c);
    ck_assert_int_eq(ss_ingest_kafka_in_conf_set(&c->in, "brokers", m->bootstraps, &err), 0);
    ck_assert_int_eq(ss_ingest_kafka_in_conf_set(&c->in, "topics", IN, &err), 0);
    ck_assert_int_eq(ss_ingest_kafka_in_conf_set(&c->in, "group", group, &err), 0);
    ck_assert_int_eq(
        ss_ingest_kafka_in_conf_set(&c->in, "rdkafka.session.timeout.ms", "4000", &err), 0);
    ck_assert_int_eq(ss_partition_conf_set(c, "to", OUT, &err), 0);
    ck_assert_int_eq(ss_partition_conf_set(c, "radius", "1.5", &err), 0);
    char *state = tu_path(tu_tmp, "state");
    ck_assert_int_eq(ss_partition_conf_set(c, "state", state, &err), 0);
    free(state);
}

/* Run a partitioner to the end of its input. */
static void partition_once(const tu_mock *m, const char *group, ss_partition_counts *n)
{
    ss_partition_conf c;
    conf_for(&c, m, group);
    ss_partitioner *p = NULL;
    ss_err err = {0};
    ck_assert_msg(ss_partition_open(&c, NULL, NULL, &p, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(ss_partition_partitions(p), NPARTS);
    ck_assert_msg(ss_partition_run(p, 1, 20000, NULL, &err) == 0, "%s", err.msg);
    ss_partition_counts_get(p, n);
    ss_partition_close(p);
    ss_partition_conf_free(&c);
}

/* ---- decoding what came out ---- */

typedef struct rec {
    char id[64];
    double ra, dec;
} rec;

/* The primary alert of every record of an Avro message. @return records (appended to @p r). */
static size_t decode(const void *buf, size_t len, rec **r, size_t *n)
{
    const ss_decoder_ops *ops = ss_decoder_find("avro");
    ss_decoder_config cfg = {.skip_cutouts = 1};
    ss_decoder_shared *sh = ss_decoder_shared_new(&cfg);
    FILE *fp = fmemopen((void *)buf, len, "rb");
    void *st = NULL;
    ss_err err = {0};
    ck_assert_msg(ops->open(fp, "test", &cfg, ss_decoder_shared_get(sh, ops), &st, &err) == 0, "%s",
                  err.msg);
    ss_packet *pkt = ss_packet_new();
    size_t k = 0;
    for (;;) {
        ss_reject rej = {0};
        ss_packet_reset(pkt);
        int rc = ops->next(st, pkt, &rej, &err);
        if (rc == 0)
            break;
        ck_assert_int_eq(rc, 1);
        *r = realloc(*r, (*n + 1) * sizeof **r);
        rec *x = &(*r)[(*n)++];
        snprintf(x->id, sizeof x->id, "%s", pkt->alerts[0].alert_id);
        x->ra = pkt->alerts[0].ra;
        x->dec = pkt->alerts[0].dec;
        k++;
    }
    ss_packet_free(pkt);
    ops->close(st);
    fclose(fp);
    ss_decoder_shared_free(sh);
    return k;
}

static int rec_cmp(const void *a, const void *b)
{
    return strcmp(((const rec *)a)->id, ((const rec *)b)->id);
}

/* Each output message on the partition its key says, the key its records' pixel or (a border
 * alert) an anchor's; the records of @p out the records of @p in, each once. */
static void check_output(const tu_kafka_msg *g, size_t n, rec *in, size_t nin)
{
    rec *out = NULL;
    size_t nout = 0;
    for (size_t i = 0; i < n; i++) {
        size_t before = nout;
        decode(g[i].value, g[i].len, &out, &nout);
        long long key = atoll(g[i].key);
        ck_assert_int_eq(key % NPARTS, g[i].partition);
        for (size_t j = before; j < nout; j++) {
            int64_t own = ss_partition_pixel(32, out[j].ra, out[j].dec);
            ck_assert_msg(own == key || ss_partition_is_border(32, out[j].ra, out[j].dec, BORDER),
                          "%s: pixel %lld, routed with %lld, not a border alert", out[j].id,
                          (long long)own, key);
        }
        ck_assert_int_eq(atoll(tu_kafka_header_of(&g[i], "skysieve.pixel")),
                         ss_partition_pixel(32, out[before].ra, out[before].dec));
    }
    ck_assert_uint_eq(nout, nin);
    qsort(in, nin, sizeof *in, rec_cmp);
    qsort(out, nout, sizeof *out, rec_cmp);
    for (size_t i = 0; i < nin; i++)
        ck_assert_str_eq(in[i].id, out[i].id);
    free(out);
}

/* ---- real ZTF alerts ---- */

/* Every .avro file one level below shared/ztf, in name order; NULL when the data is absent. */
static tu_files *ztf_files(const char *what)
{
    tu_files *f = tu_data_files(what, "ztf", ".avro");
    if (f)
        ck_assert_uint_gt(f->n, 10);
    return f;
}

/* Every file of the shared ZTF alerts once: every record on the partition of its pixel (or its
 * anchor's), the messages not split byte for byte the files; a group's second run gets nothing. */
START_TEST(ztf_rekeyed)
{
    tu_files *f = ztf_files("partitioning real ZTF alerts");
    if (!f)
        return;
    tu_mock m;
    mock_start(&m, 4);
    rd_kafka_t *p = tu_kafka_producer(&m);
    rec *in = NULL;
    size_t nin = 0;
    void **bufs = calloc(f->n, sizeof *bufs);
    size_t *lens = calloc(f->n, sizeof *lens);
    for (size_t i = 0; i < f->n; i++) {
        bufs[i] = tu_read_file(f->path[i], &lens[i]);
        decode(bufs[i], lens[i], &in, &nin);
        produce(p, (int32_t)(i % 4), bufs[i], lens[i]);
    }
    tu_kafka_flush(p);
    ss_partition_counts n;
    partition_once(&m, "part", &n);
    ck_assert_uint_eq(n.messages, f->n);
    ck_assert_uint_eq(n.alerts, nin);
    ck_assert_uint_eq(n.dead, 0);
    size_t nout;
    tu_kafka_msg *g = read_topic(&m, OUT, NPARTS, &nout);
    ck_assert_uint_eq(nout, n.produced);
    check_output(g, nout, in, nin);
    size_t same = 0; /* messages byte for byte a file */
    for (size_t i = 0; i < nout; i++)
        for (size_t j = 0; j < f->n; j++)
            if (g[i].len == lens[j] && !memcmp(g[i].value, bufs[j], lens[j])) {
                same++;
                break;
            }
    ck_assert_uint_eq(same, f->n - n.split);
    ck_assert_uint_gt(same, 0);
    partition_once(&m, "part", &n); /* every offset committed: nothing again */
    ck_assert_uint_eq(n.messages, 0);
    tu_kafka_msgs_free(g, nout);
    for (size_t i = 0; i < f->n; i++)
        free(bufs[i]);
    free(bufs);
    free(lens);
    free(in);
    tu_mock_stop(&m);
    tu_files_free(f);
}
END_TEST

/* Records of files sharing the first one's schema, up to @p max, taken from across the files, as
 * one container of the codec @p codec. */
static void *container_of(const tu_files *f, size_t max, const char *codec, size_t *len)
{
    avro_schema_t schema = NULL; /* a copy of the first file's, made through its JSON */
    avro_value_iface_t *iface = NULL;
    char *buf = NULL;
    FILE *out = open_memstream(&buf, len);
    avro_file_writer_t w = NULL;
    size_t n = 0;
    for (size_t k = 0; k < f->n && n < max; k++) {
        size_t i = k * 7 % f->n; /* files of many fields: records of many regions */
        avro_file_reader_t rd;
        ck_assert_int_eq(avro_file_reader(f->path[i], &rd), 0);
        avro_schema_t s = avro_file_reader_get_writer_schema(rd);
        if (!schema) {
            char json[1 << 16];
            avro_writer_t jw = avro_writer_memory(json, sizeof json);
            ck_assert_int_eq(avro_schema_to_json(s, jw), 0);
            ck_assert_int_eq(
                avro_schema_from_json_length(json, (size_t)avro_writer_tell(jw), &schema), 0);
            avro_writer_free(jw);
            iface = avro_generic_class_from_schema(schema);
            ck_assert_int_eq(
                avro_file_writer_create_with_codec_fp(out, "t", 0, schema, &w, codec, 1 << 24), 0);
        }
        avro_value_t v;
        avro_generic_value_new(iface, &v);
        while (avro_schema_equal(s, schema) && n < max && !avro_file_reader_read_value(rd, &v)) {
            ck_assert_int_eq(avro_file_writer_append_value(w, &v), 0);
            n++;
        }
        avro_value_decref(&v);
        int orphans = s->refcount - 1; /* avro-c 1.11's (see ssi_reader_close()) */
        avro_file_reader_close(rd);
        for (int j = 0; j < orphans; j++)
            avro_schema_decref(s);
    }
    ck_assert_int_eq(avro_file_writer_close(w), 0);
    fclose(out);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema); /* the writer's, left behind by its close */
    avro_schema_decref(schema);
    ck_assert_uint_ge(n, 8);
    return buf;
}

/* One container of many records over several partitions: one container per partition, every
 * record kept (decoded alike), in the codecs the test's avro-c writes. */
START_TEST(container_split)
{
    tu_files *f = ztf_files("splitting containers of real ZTF alerts");
    if (!f)
        return;
    tu_mock m;
    mock_start(&m, 1);
    rd_kafka_t *p = tu_kafka_producer(&m);
    rec *in = NULL;
    size_t nin = 0;
    static const char *const codecs[] = {"null", "deflate"};
    for (int i = 0; i < 2; i++) {
        size_t len;
        void *buf = container_of(f, 12, codecs[i], &len);
        decode(buf, len, &in, &nin);
        produce(p, 0, buf, len);
        free(buf);
    }
    tu_kafka_flush(p);
    ss_partition_counts n;
    partition_once(&m, "split", &n);
    ck_assert_uint_eq(n.messages, 2);
    ck_assert_uint_eq(n.split, 2);
    ck_assert_uint_eq(n.dead, 0);
    size_t nout;
    tu_kafka_msg *g = read_topic(&m, OUT, NPARTS, &nout);
    ck_assert_uint_gt(nout, 2);
    check_output(g, nout, in, nin);
    tu_kafka_msgs_free(g, nout);
    free(in);
    tu_mock_stop(&m);
    tu_files_free(f);
}
END_TEST

/* A ZTF alert container: the first shared file's first record, moved to (ra, dec). */
static void *alert_at(const tu_files *f, double ra, double dec, size_t *len)
{
    avro_file_reader_t rd;
    ck_assert_int_eq(avro_file_reader(f->path[0], &rd), 0);
    avro_schema_t s = avro_file_reader_get_writer_schema(rd);
    avro_value_iface_t *iface = avro_generic_class_from_schema(s);
    avro_value_t v, cand, x;
    avro_generic_value_new(iface, &v);
    ck_assert_int_eq(avro_file_reader_read_value(rd, &v), 0);
    ck_assert_int_eq(avro_value_get_by_name(&v, "candidate", &cand, NULL), 0);
    ck_assert_int_eq(avro_value_get_by_name(&cand, "ra", &x, NULL), 0);
    ck_assert_int_eq(avro_value_set_double(&x, ra), 0);
    ck_assert_int_eq(avro_value_get_by_name(&cand, "dec", &x, NULL), 0);
    ck_assert_int_eq(avro_value_set_double(&x, dec), 0);
    char *buf = NULL;
    FILE *out = open_memstream(&buf, len);
    avro_file_writer_t w;
    ck_assert_int_eq(avro_file_writer_create_with_codec_fp(out, "t", 0, s, &w, "null", 1 << 22), 0);
    ck_assert_int_eq(avro_file_writer_append_value(w, &v), 0);
    ck_assert_int_eq(avro_file_writer_close(w), 0);
    fclose(out);
    avro_value_decref(&v);
    avro_value_iface_decref(iface);
    int orphans = s->refcount - 1; /* avro-c 1.11's (see ssi_reader_close()) */
    avro_file_reader_close(rd);
    for (int j = 0; j < orphans; j++)
        avro_schema_decref(s);
    return buf;
}

/* Produce alerts of a source at +-0.5" across the border of @p pix, on the side @p first first,
 * then alternating. */
static void produce_straddling(const tu_mock *m, const tu_files *f, int64_t pix, int first, int n)
{
    rd_kafka_t *p = tu_kafka_producer(m);
    for (int i = 0; i < n; i++) {
        double ra, dec;
        size_t len;
        near_border(pix, ((first + i) % 2 ? 0.5 : -0.5) / 3600, &ra, &dec);
        void *buf = alert_at(f, ra, dec, &len);
        produce(p, 0, buf, len); /* one partition: the order is the order read */
        free(buf);
    }
    tu_kafka_flush(p);
}

/* The key every output alert of the source on the border of @p pix carries: one for all of
 * them, though they fall on both sides; -1 when none is there. */
static long long source_key(const tu_kafka_msg *g, size_t n, int64_t pix, size_t *count)
{
    double bra, bdec;
    near_border(pix, 0, &bra, &bdec);
    long long key = -1;
    *count = 0;
    for (size_t i = 0; i < n; i++) {
        rec *r = NULL;
        size_t nr = 0;
        decode(g[i].value, g[i].len, &r, &nr);
        ck_assert_uint_eq(nr, 1);
        if (ss_sky_separation_deg(r[0].ra, r[0].dec, bra, bdec) < 1.0 / 3600) {
            ck_assert_msg(key < 0 || key == atoll(g[i].key), "keys %lld and %s", key, g[i].key);
            key = atoll(g[i].key);
            ck_assert_int_eq(key % NPARTS, g[i].partition);
            (*count)++;
        }
        free(r);
    }
    return key;
}

/* Sources straddling two borders, their alerts in both orders: each source's alerts all on one
 * partition, the first alert's side; again after a restart, with the sides' order reversed. */
START_TEST(border_sources_kafka)
{
    tu_files *f = ztf_files("border sources made of a real ZTF alert");
    if (!f)
        return;
    static const int64_t pa = 4100, pb = 9001;
    double ra, dec;
    near_border(pa, -0.5 / 3600, &ra, &dec);
    int64_t a_first = ss_partition_pixel(32, ra, dec);
    near_border(pa, 0.5 / 3600, &ra, &dec);
    ck_assert_int_ne(ss_partition_pixel(32, ra, dec), a_first); /* the sides differ */
    near_border(pb, 0.5 / 3600, &ra, &dec);
    int64_t b_first = ss_partition_pixel(32, ra, dec);
    near_border(pb, -0.5 / 3600, &ra, &dec);
    ck_assert_int_ne(ss_partition_pixel(32, ra, dec), b_first);
    tu_mock m;
    mock_start(&m, 2);
    produce_straddling(&m, f, pa, 0, 4);
    produce_straddling(&m, f, pb, 1, 3);
    ss_partition_counts n;
    partition_once(&m, "border", &n);
    ck_assert_uint_eq(n.border, 7);
    ck_assert_uint_eq(n.anchors, 2);
    ck_assert_uint_eq(n.anchored, 5);
    size_t nout, ca, cb;
    tu_kafka_msg *g = read_topic(&m, OUT, NPARTS, &nout);
    ck_assert_int_eq(source_key(g, nout, pa, &ca), a_first);
    ck_assert_int_eq(source_key(g, nout, pb, &cb), b_first);
    ck_assert(ca == 4 && cb == 3);
    tu_kafka_msgs_free(g, nout);

    /* a restart: the anchors hold, whichever side comes first now */
    produce_straddling(&m, f, pa, 1, 2);
    produce_straddling(&m, f, pb, 0, 2);
    partition_once(&m, "border", &n);
    ck_assert_uint_eq(n.messages, 4);
    ck_assert_uint_eq(n.anchors, 0);
    ck_assert_uint_eq(n.anchored, 4);
    g = read_topic(&m, OUT, NPARTS, &nout);
    ck_assert_int_eq(source_key(g, nout, pa, &ca), a_first);
    ck_assert_int_eq(source_key(g, nout, pb, &cb), b_first);
    ck_assert(ca == 6 && cb == 5);
    tu_kafka_msgs_free(g, nout);
    tu_mock_stop(&m);
    tu_files_free(f);
}
END_TEST

/* Junk and a damaged container go whole to the dead-letter topic, naming where they came from. */
START_TEST(dead_letters)
{
    tu_mock m;
    mock_start(&m, 1);
    rd_kafka_t *p = tu_kafka_producer(&m);
    static const char junk[] = "this is not an alert", damaged[] = "Obj\001\004\010avro";
    produce(p, 0, junk, sizeof junk - 1);
    produce(p, 0, damaged, sizeof damaged - 1);
    tu_kafka_flush(p);
    ss_partition_counts n;
    partition_once(&m, "dead", &n);
    ck_assert_uint_eq(n.messages, 2);
    ck_assert_uint_eq(n.dead, 2);
    ck_assert_uint_eq(n.produced, 0);
    size_t nd, nout;
    tu_kafka_msg *g = read_topic(&m, OUT ".rejected", 1, &nd);
    ck_assert_uint_eq(nd, 2);
    ck_assert_uint_eq(g[0].len, sizeof junk - 1);
    ck_assert(!memcmp(g[0].value, junk, g[0].len));
    ck_assert_str_eq(tu_kafka_header_of(&g[0], "skysieve.topic"), IN);
    ck_assert_str_eq(tu_kafka_header_of(&g[0], "skysieve.offset"), "0");
    ck_assert_str_eq(tu_kafka_header_of(&g[1], "skysieve.offset"), "1");
    const char *reason = tu_kafka_header_of(&g[0], "skysieve.reason");
    ck_assert_msg(strstr(reason, "not Avro"), "%s", reason);
    reason = tu_kafka_header_of(&g[1], "skysieve.reason");
    ck_assert_msg(reason[0], "no reason for the damaged container");
    tu_kafka_msgs_free(g, nd);
    g = read_topic(&m, OUT, NPARTS, &nout);
    tu_kafka_msgs_free(g, nout);
    ck_assert_uint_eq(nout, 0);
    tu_mock_stop(&m);
}
END_TEST

/* The command: a config file and a flag, counts printed; its errors name the file, key, reason. */
START_TEST(command_and_conf_errors)
{
    tu_mock m;
    mock_start(&m, 1);
    rd_kafka_t *p = tu_kafka_producer(&m);
    produce(p, 0, "junk", 4);
    tu_kafka_flush(p);
    char *text = NULL;
    ck_assert_int_ge(asprintf(&text,
                              "[input kafka]\nbrokers = %s\ntopics = " IN "\ngroup = cli\n"
                              "[partition]\nto = nowhere\nstate = st\nradius = 1.5\n",
                              m.bootstraps),
                     0);
    char *conf = tu_write(tu_tmp, "p.ini", text), *out = NULL, *err = NULL;
    free(text);
    /* the mock cluster makes any topic asked for: it is told to answer as Kafka does when
     * auto.create.topics.enable is off */
    rd_kafka_mock_topic_set_error(m.mc, "nowhere", RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
    ck_assert_int_eq(tu_sks(&out, &err, "partition --config %s --once", conf), 1);
    ck_assert_msg(strstr(err, "topic nowhere: not on the cluster"), "%s", err);
    free(out), free(err);
    ck_assert_msg(tu_sks(&out, &err, "partition --config %s --once --to " OUT, conf) == 0, "%s",
                  err);
    ck_assert_msg(strstr(out, "messages=1 ") && strstr(out, "dead_lettered=1"), "%s", out);
    free(out), free(err);
    ck_assert_int_eq(tu_sks(&out, &err, "partition --config %s --nside 3", conf), 1);
    ck_assert_msg(strstr(err, "nside=3: not a power of 2"), "%s", err);
    free(out), free(err);
    char *bad = tu_write(tu_tmp, "bad.ini", "[partition]\nto = x\nsize = 3\n");
    ck_assert_int_eq(tu_sks(&out, &err, "partition --config %s", bad), 1);
    ck_assert_msg(strstr(err, bad) && strstr(err, "size: unknown key"), "%s", err);
    free(out), free(err);
    tu_mock_stop(&m);

    ss_partition_conf c;
    ss_partition_conf_init(&c);
    ss_err e = {0};
    ck_assert_int_eq(ss_partition_conf_set(&c, "radius", "-1", &e), SS_EINVAL);
    ck_assert_msg(strstr(e.msg, "radius=-1: not a number in"), "%s", e.msg);
    ck_assert_int_eq(ss_partition_conf_set(&c, "rdkafka.acks", "1", &e), SS_EINVAL);
    ck_assert_msg(strstr(e.msg, "not settable"), "%s", e.msg);
    ck_assert_int_eq(ss_partition_conf_set(&c, "create_partitions", "2.5", &e), SS_EINVAL);
    ck_assert_int_eq(ss_partition_conf_load(bad, &c, &e), SS_EINVAL);
    ck_assert_msg(strstr(e.msg, "[partition] size: unknown key"), "%s", e.msg);
    ss_partition_conf_free(&c);
    char *other = tu_write(tu_tmp, "o.ini", "[output kafka]\nbrokers = x\n");
    ck_assert_int_eq(ss_partition_conf_load(other, &c, &e), SS_EINVAL);
    ck_assert_msg(strstr(e.msg, "[output kafka] brokers: unknown section"), "%s", e.msg);
    ss_partition_conf_free(&c);
    /* the shipped example reads as documented */
    ck_assert_msg(ss_partition_conf_load(SS_SOURCE_DIR "/config/partition.ini", &c, &e) == 0, "%s",
                  e.msg);
    ck_assert_str_eq(c.to, "ztf_regions");
    ck_assert_str_eq(c.in.format, "ztf");
    ck_assert_int_eq(c.nside, 32);
    ck_assert(c.radius_arcsec == 1.0 && c.create_partitions == 0 && !c.dead_letter);
    ck_assert_msg(strstr(c.state, "/config/../run/partition"), "%s", c.state);
    ss_partition_conf_free(&c);
    char *missing = tu_write(tu_tmp, "m.ini", "[partition]\nto = x\n");
    ck_assert_int_eq(ss_partition_conf_load(missing, &c, &e), 0);
    ss_partitioner *pp = NULL;
    ck_assert_int_eq(ss_partition_open(&c, NULL, NULL, &pp, &e), SS_EINVAL);
    ck_assert_msg(strstr(e.msg, "[partition] state: missing") && strstr(e.msg, missing), "%s",
                  e.msg);
    ss_partition_conf_free(&c);
    free(conf), free(bad), free(other), free(missing);
}
END_TEST

Suite *partition_suite(void)
{
    Suite *s = suite_create("partition");
    TCase *tc = tcase_create("partition");
    tcase_add_checked_fixture(tc, tu_tmp_setup, tu_tmp_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, pixel_mapping);
    tcase_add_test(tc, border_threshold);
    tcase_add_test(tc, anchors_keep_sources);
    tcase_add_test(tc, dead_letters);
    tcase_add_test(tc, command_and_conf_errors);
    tcase_add_test(tc, container_split);
    tcase_add_test(tc, ztf_rekeyed);
    tcase_add_test(tc, border_sources_kafka);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(partition_suite());
}
