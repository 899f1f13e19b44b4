/*
 * Avro alerts: object container files (one or many records; null, deflate and snappy codecs),
 * decoded with the writer schema they carry, and single Kafka messages in Confluent wire format
 * (byte 0, a big-endian schema id, then one Avro record) with the schema from the schema
 * directory. The container framing is read here so that each distinct schema is parsed once for
 * the whole run (avro-c's file reader would parse every file's); records are decoded with the
 * schema's plan (avro_plan.c), or by avro-c's generic values with SKYSIEVE_AVRO_GENERIC=1.
 *
 * Damaged input: a block whose header, sync marker or compressed data is damaged is rejected as
 * one record, and reading goes on after the next sync marker of the file; only when none follows
 * does the rest of the file fail. Every length read from the input is checked against what is
 * left of it before anything is allocated, and each record's encoding is checked against its
 * schema as it is decoded (before avro-c, which trusts lengths and counts, may read it).
 */
#include "avro_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <zlib.h>

#define SSP_MAGIC     "Obj\x01"
#define SSP_MAX_BLOCK ((int64_t)1 << 30) /* a block claiming more is damage, not data */
#define SSP_CHUNK     ((size_t)1 << 16)  /* read step: buffers grow with the data actually read */

typedef enum ssp_codec { SSP_NULL, SSP_DEFLATE, SSP_SNAPPY } ssp_codec;

typedef struct avro_state {
    FILE *fp;
    /* an input in memory (open_memory()): fp is this state's stream over it, which reads the
     * framing, while blocks and messages are decoded where they lie */
    const unsigned char *mem;
    size_t mem_len;
    char *name;
    ssp_avro_cache *cache;
    ssp_avro_schema *schema;
    int framed;  /* a Confluent message: one record, no blocks */
    int cutouts; /* 1: keep the alert's image stamps in its packet */
    ssp_codec codec;
    unsigned char sync[16];
    unsigned char *raw, *data; /* the block as read, and decompressed */
    size_t raw_cap, data_cap, data_len;
    const unsigned char *view; /* the data_len bytes records are decoded from: data, or the block
                                  itself (raw, or in mem) when it is not compressed */
    size_t pos;                /* offset in view of the next record */
    int64_t min_record;        /* fewest bytes a record of the schema takes */
    int64_t left;              /* records left in the current block */
    uint64_t record;           /* index of the next record in the file, from 1 */
    uint64_t block;            /* index of the last block read, from 1 */
    off_t file_size;           /* -1 when the input cannot seek */
    avro_reader_t reader;
    ssp_pool *pool; /* the values of the record being decoded */
    int generic;    /* decode with avro-c's generic values (SKYSIEVE_AVRO_GENERIC=1) */
    ss_alert_limits limits;
    size_t block_max;  /* decompressed bytes the current block may take: max_alert_bytes each */
    uint64_t too_long; /* a framed message over max_alert_bytes: at least this many bytes */
    char why[128];     /* why a block is too large, naming the cap */
} avro_state;

static const char *const ssp_exts[] = {".avro", NULL};

/* ---- reading the container framing ---- */

static int ssp_read_long(FILE *fp, int64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        int c = fgetc(fp);
        if (c == EOF)
            return -1;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
            return 0;
        }
    }
    return -1;
}

static int ssp_truncated(avro_state *st, ss_err *err, const char *where)
{
    return ss_err_set(err, SS_EPARSE, "%s: truncated or damaged %s at byte %lld", st->name, where,
                      (long long)ftello(st->fp));
}

/* Bytes left in the input after the current position; INT64_MAX when unknown. */
static int64_t ssp_remaining(avro_state *st)
{
    off_t here = st->file_size >= 0 ? ftello(st->fp) : -1;
    if (here < 0)
        return INT64_MAX;
    return here <= st->file_size ? (int64_t)(st->file_size - here) : 0;
}

static int ssp_reserve(unsigned char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    unsigned char *fresh = realloc(*buf, need);
    if (!fresh)
        return SS_ENOMEM;
    *buf = fresh;
    *cap = need;
    return 0;
}

/* Read @p n bytes into *buf, growing it (with @p extra bytes more) as the data arrives, so that a
 * damaged length costs no more memory than the input holds. @return 0, 1 when the input ends
 * first, or SS_ENOMEM. */
static int ssp_read_n(FILE *fp, unsigned char **buf, size_t *cap, size_t n, size_t extra)
{
    size_t got = 0;
    do {
        size_t step = got > SSP_CHUNK ? got : SSP_CHUNK, want = n - got < step ? n - got : step;
        if (ssp_reserve(buf, cap, got + want + extra))
            return SS_ENOMEM;
        size_t r = fread(*buf + got, 1, want, fp);
        got += r;
        if (r < want)
            return 1;
    } while (got < n);
    return 0;
}

/* In memory: the @p size bytes at the input's position, where they lie (*at), the input left
 * after them. @return 0, or 1 when the input ends first. */
static int ssp_in_place(avro_state *st, size_t size, const unsigned char **at)
{
    off_t here = ftello(st->fp);
    if (here < 0 || (size_t)here > st->mem_len || size > st->mem_len - (size_t)here)
        return 1;
    *at = st->mem + here;
    return fseeko(st->fp, (off_t)size, SEEK_CUR) ? 1 : 0;
}

/* @p n bytes of the input into *@p buf, malloc'd with a byte more (for a NUL): read, or copied
 * from memory once. @return 0, 1 when the input ends first, or SS_ENOMEM. */
static int ssp_read_copy(avro_state *st, size_t n, unsigned char **buf)
{
    size_t cap = 0;
    const unsigned char *at;
    if (!st->mem)
        return ssp_read_n(st->fp, buf, &cap, n, 1);
    if (ssp_in_place(st, n, &at))
        return 1;
    if (!(*buf = malloc(n + 1)))
        return SS_ENOMEM;
    memcpy(*buf, at, n);
    return 0;
}

/* The length before a string of the header, checked against what is left of the input. */
static int ssp_read_len(avro_state *st, int64_t *len, ss_err *err)
{
    if (ssp_read_long(st->fp, len) || *len < 0 || *len > SSP_MAX_BLOCK || *len > ssp_remaining(st))
        return ssp_truncated(st, err, "header");
    return 0;
}

/* A length-prefixed string of the header into a malloc'd buffer. */
static int ssp_read_bytes(avro_state *st, char **out, int64_t *len, ss_err *err)
{
    int rc = ssp_read_len(st, len, err);
    if (rc)
        return rc;
    unsigned char *buf = NULL;
    rc = ssp_read_copy(st, (size_t)*len, &buf);
    if (rc) {
        free(buf);
        return rc == SS_ENOMEM ? ss_err_set(err, SS_ENOMEM, "out of memory")
                               : ssp_truncated(st, err, "header");
    }
    buf[*len] = '\0';
    *out = (char *)buf;
    return 0;
}

static int ssp_set_codec(avro_state *st, const char *codec, ss_err *err)
{
    if (!codec || !strcmp(codec, "null"))
        st->codec = SSP_NULL;
    else if (!strcmp(codec, "deflate"))
        st->codec = SSP_DEFLATE;
    else if (!strcmp(codec, "snappy"))
        st->codec = SSP_SNAPPY;
    else
        return ss_err_set(err, SS_EFORMAT,
                          "%s: Avro codec '%s' is not supported (null, deflate, "
                          "snappy)",
                          st->name, codec);
    return 0;
}

/* The header's metadata that decoding needs. The schema is where it lies in an input in memory
 * (own NULL), or a malloc'd copy (own). */
typedef struct ssp_meta {
    const char *schema;
    int64_t schema_len;
    char *own, *codec;
} ssp_meta;

static void ssp_meta_free(ssp_meta *m)
{
    free(m->own);
    free(m->codec);
}

/* The schema's text in an input in memory, where it lies: the largest thing in a small file's
 * header, which a copy would read twice more. */
static int ssp_meta_schema_in_place(avro_state *st, ssp_meta *m, ss_err *err)
{
    int64_t len = 0;
    const unsigned char *at;
    int rc = ssp_read_len(st, &len, err);
    if (rc)
        return rc;
    if (ssp_in_place(st, (size_t)len, &at))
        return ssp_truncated(st, err, "header");
    free(m->own);
    m->own = NULL;
    m->schema = (const char *)at;
    m->schema_len = len;
    return 0;
}

/* One key/value pair of the header's metadata map. */
static int ssp_meta_entry(avro_state *st, ssp_meta *m, ss_err *err)
{
    char *key = NULL, *val = NULL;
    int64_t klen = 0, vlen = 0;
    int rc = ssp_read_bytes(st, &key, &klen, err);
    if (rc)
        return rc;
    int is_schema = !strcmp(key, "avro.schema");
    if (is_schema && st->mem)
        rc = ssp_meta_schema_in_place(st, m, err);
    else if (!(rc = ssp_read_bytes(st, &val, &vlen, err)) && is_schema) {
        free(m->own);
        m->schema = m->own = val;
        m->schema_len = vlen;
    } else if (!rc && !strcmp(key, "avro.codec")) {
        free(m->codec);
        m->codec = val;
    } else {
        free(val); /* NULL when its own read failed */
    }
    free(key);
    return rc;
}

static int ssp_read_meta(avro_state *st, ssp_meta *m, ss_err *err)
{
    int64_t count;
    for (;;) {
        if (ssp_read_long(st->fp, &count) || count == INT64_MIN)
            return ssp_truncated(st, err, "header");
        if (count == 0)
            return 0;
        if (count < 0) { /* a negative count is followed by the block's size in bytes */
            int64_t size;
            if (ssp_read_long(st->fp, &size))
                return ssp_truncated(st, err, "header");
            count = -count;
        }
        for (int64_t i = 0; i < count; i++) {
            int rc = ssp_meta_entry(st, m, err);
            if (rc)
                return rc;
        }
    }
}

/* ---- the fewest bytes a record takes (a bound on a block's record count) ---- */

/* The fewest bytes a value of @p s takes, at most SSP_MAX_BLOCK + 1. A lower bound: 0 past
 * SSP_AVRO_MAX_DEPTH (named types may recurse) or once *budget visits are spent (named types may be
 * shared, so a tree of them can be exponentially larger than its schema). */
static int64_t ssp_min_size(avro_schema_t s, int depth, int *budget)
{
    if (!s || depth > SSP_AVRO_MAX_DEPTH || --*budget < 0)
        return 0;
    int64_t sum = 0, m;
    switch (avro_typeof(s)) {
    case AVRO_NULL: return 0;
    case AVRO_FLOAT: return 4;
    case AVRO_DOUBLE: return 8;
    case AVRO_FIXED: m = avro_schema_fixed_size(s); break;
    case AVRO_LINK: return ssp_min_size(avro_schema_link_target(s), depth + 1, budget);
    case AVRO_RECORD:
        for (size_t i = 0; i < avro_schema_record_size(s) && sum <= SSP_MAX_BLOCK; i++)
            sum +=
                ssp_min_size(avro_schema_record_field_get_by_index(s, (int)i), depth + 1, budget);
        m = sum;
        break;
    case AVRO_UNION: /* the branch index, then the smallest branch */
        m = SSP_MAX_BLOCK;
        for (size_t i = 0; i < avro_schema_union_size(s); i++) {
            int64_t b = ssp_min_size(avro_schema_union_branch(s, (int)i), depth + 1, budget);
            m = b < m ? b : m;
        }
        m += 1;
        break;
    default: return 1; /* boolean, int, long, string, bytes, enum, array, map */
    }
    return m < 0 ? 0 : m > SSP_MAX_BLOCK ? SSP_MAX_BLOCK + 1 : m;
}

/* ---- blocks ---- */

static int ssp_open_container(avro_state *st, ss_err *err)
{
    ssp_meta m = {0};
    int rc = ssp_read_meta(st, &m, err);
    if (!rc && fread(st->sync, 1, 16, st->fp) != 16)
        rc = ssp_truncated(st, err, "header");
    if (!rc && !m.schema)
        rc = ss_err_set(err, SS_EPARSE, "%s: Avro container without a schema", st->name);
    if (!rc)
        rc = ssp_set_codec(st, m.codec, err);
    if (!rc &&
        (rc = ssp_avro_cache_json(st->cache, m.schema, (size_t)m.schema_len, &st->schema, err)))
        ss_err_prefix(err, "%s", st->name);
    ssp_meta_free(&m);
    return rc;
}

/* Decompression. @return 0, 1 when the data is damaged (*why says how), 2 when it holds more than
 * st->block_max bytes (max_alert_bytes a record), or SS_ENOMEM. */
static int ssp_inflate(avro_state *st, const unsigned char *in, size_t len, const char **why)
{
    z_stream z = {0};
    if (inflateInit2(&z, -15) != Z_OK) /* raw deflate, as the Avro specification says */
        return SS_ENOMEM;
    z.next_in = (unsigned char *)in; /* zlib's type; it only reads */
    z.avail_in = (uInt)len;
    int zr = Z_OK;
    st->data_len = 0;
    while (zr == Z_OK) {
        size_t need = st->data_len + (st->data_len > len ? st->data_len : len) + 4096;
        if (st->data_len >= st->block_max) {
            inflateEnd(&z);
            if (st->block_max == (size_t)SSP_MAX_BLOCK) {
                *why = "deflate data inflates past 1 GiB";
                return 1;
            }
            snprintf(st->why, sizeof st->why,
                     "its deflate data inflates past %zu bytes (max_alert_bytes = %" PRIu64
                     " a record)",
                     st->block_max, st->limits.alert_bytes);
            *why = st->why;
            return 2;
        }
        if (ssp_reserve(&st->data, &st->data_cap, need)) {
            inflateEnd(&z);
            return SS_ENOMEM;
        }
        z.next_out = st->data + st->data_len;
        z.avail_out = (uInt)(st->data_cap - st->data_len);
        zr = inflate(&z, Z_NO_FLUSH);
        st->data_len = st->data_cap - z.avail_out;
    }
    inflateEnd(&z);
    *why = "cannot inflate its deflate data";
    return zr == Z_STREAM_END ? 0 : zr == Z_MEM_ERROR ? SS_ENOMEM : 1;
}

/* Snappy blocks end with the big-endian CRC-32 of the uncompressed data. The compressed data is
 * validated before its claimed length is allocated. */
static int ssp_unsnappy(avro_state *st, const unsigned char *in, size_t len, const char **why)
{
    size_t out = 0;
    *why = "cannot uncompress its snappy data";
    if (len < 4 || snappy_validate_compressed_buffer((const char *)in, len - 4) != SNAPPY_OK ||
        snappy_uncompressed_length((const char *)in, len - 4, &out) != SNAPPY_OK ||
        out > (size_t)SSP_MAX_BLOCK)
        return 1;
    snprintf(st->why, sizeof st->why,
             "its snappy data uncompresses to %zu bytes, past %zu (max_alert_bytes = %" PRIu64
             " a record)",
             out, st->block_max, st->limits.alert_bytes);
    *why = st->why;
    if (out > st->block_max)
        return 2;
    *why = "cannot uncompress its snappy data";
    if (ssp_reserve(&st->data, &st->data_cap, out + 1))
        return SS_ENOMEM;
    if (snappy_uncompress((const char *)in, len - 4, (char *)st->data, &out) != SNAPPY_OK)
        return 1;
    const unsigned char *c = in + len - 4;
    uint32_t want = (uint32_t)c[0] << 24 | (uint32_t)c[1] << 16 | (uint32_t)c[2] << 8 | c[3];
    *why = "its snappy checksum does not match";
    if ((uint32_t)crc32(0, st->data, (uInt)out) != want)
        return 1;
    st->data_len = out;
    return 0;
}

/* The @p len bytes of a block at @p in, made the data its records are decoded from. */
static int ssp_decompress(avro_state *st, const unsigned char *in, size_t len, const char **why)
{
    if (st->codec == SSP_NULL) { /* the block is the data */
        st->view = in;
        st->data_len = len;
        return 0;
    }
    int rc =
        st->codec == SSP_DEFLATE ? ssp_inflate(st, in, len, why) : ssp_unsnappy(st, in, len, why);
    st->view = st->data; /* set after: decompressing may move it */
    return rc;
}

/* The @p size bytes of a block's body, at the input's position: read into st->raw, or where they
 * lie in memory; the input is left after them. @return 0, 1 when the input ends first, or
 * SS_ENOMEM. */
static int ssp_block_body(avro_state *st, size_t size, const unsigned char **in)
{
    if (st->mem)
        return ssp_in_place(st, size, in);
    int rc = ssp_read_n(st->fp, &st->raw, &st->raw_cap, size, 1);
    *in = st->raw;
    return rc;
}

/* Find the sync marker at or after byte @p from and leave the input just after it.
 * @return 1 with *at its offset, 0 when none follows, -1 when the input cannot seek. */
static int ssp_find_sync(avro_state *st, off_t from, off_t *at)
{
    unsigned char buf[16384];
    size_t keep = 0;
    off_t base = from; /* the offset of buf[0] */
    if (fseeko(st->fp, from, SEEK_SET))
        return -1;
    for (;;) {
        size_t r = fread(buf + keep, 1, sizeof buf - keep, st->fp), n = keep + r;
        const unsigned char *hit = n >= 16 ? memmem(buf, n, st->sync, 16) : NULL;
        if (hit) {
            *at = base + (hit - buf);
            return fseeko(st->fp, *at + 16, SEEK_SET) ? -1 : 1;
        }
        if (r == 0)
            return 0;
        keep = n < 15 ? n : 15; /* a marker may straddle two reads */
        memmove(buf, buf + n - keep, keep);
        base += (off_t)(n - keep);
    }
}

/* After a block whose sync marker is wrong: 1 when the input ends here or a sound block starts
 * here (its header fits the file and the sync marker follows it), so that only the marker was
 * damaged. The position is unchanged. */
static int ssp_block_follows(avro_state *st)
{
    off_t here = ftello(st->fp);
    if (here < 0)
        return 0;
    int c = fgetc(st->fp);
    if (c == EOF)
        return 1;
    ungetc(c, st->fp);
    int64_t count, size;
    unsigned char sync[16];
    int ok = !ssp_read_long(st->fp, &count) && !ssp_read_long(st->fp, &size) && count >= 0 &&
             size >= 0 && size <= SSP_MAX_BLOCK && size + 16 <= ssp_remaining(st) &&
             !fseeko(st->fp, (off_t)size, SEEK_CUR) && fread(sync, 1, 16, st->fp) == 16 &&
             !memcmp(sync, st->sync, 16);
    return fseeko(st->fp, here, SEEK_SET) ? 0 : ok;
}

/* Reject block st->block, which starts at byte @p start and is damaged as @p why says; the input
 * is at byte @p resume, where reading goes on. @p count: the records its header claims, -1 when
 * unknown. Records keep their numbers: the rejection takes the number of the next record read.
 * @return SS_EREJECT. */
static int ssp_reject_block_as(avro_state *st, ss_reason reason, off_t start, off_t resume,
                               int64_t count, const char *why, ss_reject *rej)
{
    rej->line = st->record;
    char lost[48] = "its records lost";
    if (count >= 0)
        snprintf(lost, sizeof lost, "%" PRId64 " record(s) lost", count);
    return ss_reject_set(rej, reason,
                         "block %" PRIu64 " at byte %lld: %s; %s, reading resumes at byte %lld",
                         st->block, (long long)start, why, lost, (long long)resume);
}

static int ssp_reject_block(avro_state *st, off_t start, off_t resume, int64_t count,
                            const char *why, ss_reject *rej)
{
    return ssp_reject_block_as(st, SS_REASON_MALFORMED, start, resume, count, why, rej);
}

/* A block whose compressed size alone passes max_alert_bytes for each of its records (with room
 * for data that does not compress) is skipped unread when the input can seek: reading it would
 * hold all of it. @return SS_EREJECT; 0 when it must be read (no seeking, or a bad marker). */
static int ssp_skip_huge_block(avro_state *st, off_t start, off_t body, int64_t count, int64_t size,
                               ss_reject *rej)
{
    uint64_t cap = (uint64_t)count * st->limits.alert_bytes;
    unsigned char sync[16];
    if (st->file_size < 0 || count <= 0 || cap / (uint64_t)count != st->limits.alert_bytes ||
        (uint64_t)size <= cap + cap / 8 + 65536)
        return 0;
    if (fseeko(st->fp, body + size, SEEK_SET) || fread(sync, 1, 16, st->fp) != 16 ||
        memcmp(sync, st->sync, 16))
        return fseeko(st->fp, body, SEEK_SET), 0;
    char why[160];
    snprintf(why, sizeof why,
             "its %" PRId64 " bytes for %" PRId64 " record(s) are over max_alert_bytes = %" PRIu64
             " each",
             size, count, st->limits.alert_bytes);
    return ssp_reject_block_as(st, SS_REASON_TOO_LARGE, start, ftello(st->fp), count, why, rej);
}

/* Reject the block as ssp_reject_block() does and go on after the next sync marker, searched from
 * byte @p from. @return SS_EREJECT, or an error when no sync marker follows (a truncated file). */
static int ssp_resync(avro_state *st, off_t start, off_t from, int64_t count, const char *why,
                      ss_reject *rej, ss_err *err)
{
    off_t at = 0;
    if (from < 0 || ssp_find_sync(st, from, &at) != 1)
        return ss_err_set(err, SS_EPARSE,
                          "%s: truncated or damaged block %" PRIu64
                          " at byte %lld (%s), and no sync marker follows",
                          st->name, st->block, (long long)start, why);
    return ssp_reject_block(st, start, at + 16, count, why, rej);
}

/* A block of a schema that makes no alert (ssp_avro_classify()): every record of it would be
 * decoded only to be rejected for the same reason, so it is rejected once, unread. A 200 KB
 * deflate block of zeros holds 200 million records of a one-int schema: decoding them one by one
 * takes minutes. Its records keep their numbers. @return SS_EREJECT. */
static int ssp_reject_unmappable(avro_state *st, off_t start, int64_t count, ss_reject *rej)
{
    const char *name = avro_schema_name(st->schema->schema);
    rej->line = st->record;
    st->record += (uint64_t)count;
    return ss_reject_set(rej, SS_REASON_MISSING_FIELD,
                         "block %" PRIu64 " at byte %lld: schema %s lacks %s; its %" PRId64
                         " records rejected unread",
                         st->block, (long long)start, name ? name : "?", st->schema->missing,
                         count);
}

/* Read the next block. @return 1; 0 at the end of the file; SS_EREJECT when the block is damaged
 * (@p rej says how; reading goes on after it); or an error. */
static int ssp_next_block(avro_state *st, ss_reject *rej, ss_err *err)
{
    off_t start = ftello(st->fp);
    int c = fgetc(st->fp);
    if (c == EOF)
        return ferror(st->fp) ? ssp_truncated(st, err, "block") : 0;
    ungetc(c, st->fp);
    st->block++;
    int64_t count, size;
    if (ssp_read_long(st->fp, &count) || ssp_read_long(st->fp, &size))
        return ssp_resync(st, start, start, -1, "unreadable block header", rej, err);
    if (count < 0 || size < 0 || (count > 0 && size == 0))
        return ssp_resync(st, start, start, -1, "bad block header", rej, err);
    off_t body = ftello(st->fp);
    if (size > SSP_MAX_BLOCK || size > ssp_remaining(st))
        return ssp_resync(st, start, body, -1, "its size runs past the end of the file", rej, err);
    if (ssp_skip_huge_block(st, start, body, count, size, rej))
        return SS_EREJECT;
    uint64_t cap = (uint64_t)count * st->limits.alert_bytes;
    st->block_max = count > 0 && cap / (uint64_t)count == st->limits.alert_bytes &&
                            cap < (uint64_t)SSP_MAX_BLOCK
                        ? (size_t)cap
                        : (size_t)SSP_MAX_BLOCK;
    unsigned char sync[16];
    const unsigned char *body_bytes = NULL;
    int rc = ssp_block_body(st, (size_t)size, &body_bytes);
    if (rc == SS_ENOMEM)
        return ss_err_set(err, SS_ENOMEM, "%s: out of memory", st->name);
    if (rc || fread(sync, 1, 16, st->fp) != 16)
        return ssp_resync(st, start, body, -1, "its size runs past the end of the file", rej, err);
    if (memcmp(sync, st->sync, 16)) {
        if (ssp_block_follows(st)) /* only the marker is damaged: the next block is sound */
            return ssp_reject_block(st, start, ftello(st->fp), count, "sync marker does not match",
                                    rej);
        return ssp_resync(st, start, body, count, "sync marker does not match", rej, err);
    }
    const char *why = NULL;
    if ((rc = ssp_decompress(st, body_bytes, (size_t)size, &why)) == SS_ENOMEM)
        return ss_err_set(err, SS_ENOMEM, "%s: out of memory", st->name);
    /* the framing is sound: the next block starts here, after this block's marker */
    if (rc)
        return ssp_reject_block_as(st, rc == 2 ? SS_REASON_TOO_LARGE : SS_REASON_MALFORMED, start,
                                   ftello(st->fp), count, why, rej);
    /* a schema whose records may be empty counts a byte each: such records make no alert */
    int64_t room = (int64_t)st->data_len / (st->min_record > 0 ? st->min_record : 1);
    if (count > room && count > 1)
        return ssp_reject_block(st, start, ftello(st->fp), count,
                                "its record count exceeds what its data can hold", rej);
    if (count > 1 && st->schema->survey == SSP_AVRO_UNKNOWN)
        return ssp_reject_unmappable(st, start, count, rej);
    st->pos = 0;
    st->left = count;
    return 1;
}

/* ---- the decoder ---- */

static int avro_probe(const char *name, const unsigned char *head, size_t len)
{
    if (len >= 4 && !memcmp(head, SSP_MAGIC, 4))
        return 100;
    int ext = ss_decoder_has_extension(name, ssp_exts);
    if (ext && len >= 5 && head[0] == 0) /* Confluent framing: a zero byte, then the schema id */
        return 60;
    return ext ? 50 : 0;
}

static int ssp_open_framed(avro_state *st, ss_err *err)
{
    unsigned char id[4];
    if (fread(id, 1, 4, st->fp) != 4)
        return ssp_truncated(st, err, "Confluent framing");
    uint32_t sid = (uint32_t)id[0] << 24 | (uint32_t)id[1] << 16 | (uint32_t)id[2] << 8 | id[3];
    int rc = ssp_avro_cache_id(st->cache, sid, &st->schema, err);
    if (rc)
        return ss_err_prefix(err, "%s", st->name);
    size_t n = 0, got, max = (size_t)st->limits.alert_bytes;
    if (st->mem) { /* the rest of the message is the record, where it lies */
        n = (size_t)ssp_remaining(st);
        if (ssp_in_place(st, n, &st->view))
            return ssp_truncated(st, err, "Confluent framing");
    } else
        do { /* the rest of the message is the record, up to max_alert_bytes */
            if (ssp_reserve(&st->data, &st->data_cap, n + 65536))
                return ss_err_set(err, SS_ENOMEM, "out of memory");
            got = fread(st->data + n, 1, st->data_cap - n, st->fp);
            n += got;
            st->view = st->data;
        } while (got > 0 && n <= max);
    if (n > max) /* rejected by the first next(), as the record it is */
        st->too_long = n;
    st->data_len = n;
    st->framed = 1;
    st->left = 1;
    return 0;
}

static void avro_close(void *state)
{
    avro_state *st = state;
    if (!st)
        return;
    if (st->reader)
        avro_reader_free(st->reader);
    ssp_avro_buffers b = {st->raw, st->data, st->raw_cap, st->data_cap, st->pool};
    ssp_avro_cache_take_back(st->cache, &b);
    if (st->mem && st->fp)
        fclose(st->fp);
    free(st->name);
    free(st);
}

/* The input's size, for checking lengths read from it; -1 when it cannot seek. */
static off_t ssp_file_size(FILE *fp)
{
    off_t here = ftello(fp), end = -1;
    if (here >= 0 && !fseeko(fp, 0, SEEK_END))
        end = ftello(fp);
    return here >= 0 && !fseeko(fp, here, SEEK_SET) ? end : -1;
}

/* open() of @p fp, which is the state's own stream over @p mem when that is not NULL. */
static int ssp_open(FILE *fp, const unsigned char *mem, size_t mem_len, const char *name,
                    const ss_decoder_config *cfg, void *shared, void **state, ss_err *err)
{
    avro_state *st = calloc(1, sizeof *st);
    if (st) {
        ssp_avro_buffers b;
        st->cache = shared;
        ssp_avro_cache_lend(st->cache, &b);
        st->raw = b.raw, st->raw_cap = b.raw_cap, st->data = b.data, st->data_cap = b.data_cap;
        st->pool = b.pool ? b.pool : ssp_pool_new();
    }
    if (st)
        st->fp = fp, st->mem = mem, st->mem_len = mem_len;
    if (!st || !st->pool || !(st->name = strdup(name ? name : "<input>")) ||
        !(st->reader = avro_reader_memory("", 0))) {
        if (st)
            avro_close(st);
        else if (mem)
            fclose(fp);
        return ss_err_set(err, SS_ENOMEM, "out of memory");
    }
    st->record = 1;
    st->cutouts = !(cfg && cfg->skip_cutouts);
    const char *generic = getenv("SKYSIEVE_AVRO_GENERIC");
    st->generic = generic && !strcmp(generic, "1");
    st->limits = ss_alert_limits_effective(cfg ? &cfg->limits : NULL);
    st->block_max = (size_t)SSP_MAX_BLOCK;
    st->file_size = ssp_file_size(fp);
    unsigned char magic[4];
    size_t got = fread(magic, 1, 1, fp);
    int rc;
    if (!shared)
        rc = ss_err_set(err, SS_ENOMEM, "out of memory");
    else if (got == 1 && magic[0] == 0)
        rc = ssp_open_framed(st, err);
    else if (got == 1 && fread(magic + 1, 1, 3, fp) == 3 && !memcmp(magic, SSP_MAGIC, 4))
        rc = ssp_open_container(st, err);
    else
        rc = ss_err_set(err, SS_EPARSE, "%s: not Avro (no container magic, no Confluent framing)",
                        st->name);
    if (rc) {
        avro_close(st);
        return rc;
    }
    if (st->schema->min_record < 0) { /* once per schema: it walked the schema per input */
        int budget = 1 << 16;
        st->schema->min_record = ssp_min_size(st->schema->schema, 0, &budget);
    }
    st->min_record = st->schema->min_record;
    *state = st;
    return 0;
}

static int avro_open(FILE *fp, const char *name, const ss_decoder_config *cfg, void *shared,
                     void **state, ss_err *err)
{
    return ssp_open(fp, NULL, 0, name, cfg, shared, state, err);
}

/* The framing (header, block heads, sync markers, resynchronising after damage) is read through
 * a stream over the bytes, as from a file; block bodies and messages are decoded where they lie. */
static int avro_open_memory(const void *data, size_t len, const char *name,
                            const ss_decoder_config *cfg, void *shared, void **state, ss_err *err)
{
    if (!len)
        return ss_err_set(err, SS_EPARSE, "%s: not Avro (empty input)", name ? name : "<input>");
    FILE *fp = fmemopen((void *)data, len, "rb");
    if (!fp)
        return ss_err_set(err, errno, "%s: cannot read: %s", name ? name : "<input>",
                          strerror(errno));
    /* unbuffered: a buffered stream copies up to a buffer's worth of the bytes after each seek
     * (every block and the schema are skipped over by seeking), to read a few header bytes */
    setvbuf(fp, NULL, _IONBF, 0);
    return ssp_open(fp, data, len, name, cfg, shared, state, err);
}

/* Read the record with avro-c into its generic value, then take that as values: the reference
 * path, which trusts lengths and counts: only after the walk checked them. */
static const char *ssp_decode_generic(avro_state *st, size_t end, ssp_pv *rec, int *nomem)
{
    avro_value_t *v = &st->schema->value;
    avro_reader_memory_set_source(st->reader, (const char *)st->view + st->pos,
                                  (int64_t)(end - st->pos));
    if (avro_value_read(st->reader, v))
        return avro_strerror();
    *nomem = ssp_pv_from_generic(st->pool, ssp_plan_root(st->schema->plan), v, rec) != 0;
    return *nomem ? "out of memory" : NULL;
}

/* Walk the record's encoding, decoding it with the plan (or, with st->generic, only checking
 * it for avro-c). @return NULL with *end past the record, or why it cannot be decoded. */
static const char *ssp_walk_record(avro_state *st, ss_reject *rej, ssp_pv *rec, size_t *end,
                                   int *is_over, int *nomem)
{
    ssp_walk w = {.p = st->view,
                  .len = st->data_len,
                  .pos = st->pos,
                  .lim = &st->limits,
                  .over = rej,
                  .pool = st->generic ? NULL : st->pool};
    w.budget = ((int64_t)1 << 18) + 8 * (int64_t)(w.len - w.pos);
    ssp_pool_reset(st->pool);
    if (ssp_walk_value(&w, ssp_plan_root(st->schema->plan), 0, rec)) {
        *nomem = w.nomem;
        return w.why;
    }
    *end = w.pos;
    *is_over = w.is_over;
    if (!w.is_over && w.pos - st->pos > st->limits.alert_bytes) {
        ss_alert_limits_reject(rej, "record is too long (bytes)", w.pos - st->pos, 0,
                               "max_alert_bytes", st->limits.alert_bytes);
        *is_over = 1;
    }
    return NULL;
}

/* The record's packet: mapped, checked against the caps, and given its origin. */
static int ssp_map_record(avro_state *st, const ssp_pv *rec, uint64_t index, ss_packet *pkt,
                          ss_reject *rej)
{
    int rc = ssp_avro_map(st->schema, rec, st->cutouts, pkt, rej);
    if (rc == 1 && ss_packet_check_limits(pkt, &st->limits, rej))
        rc = SS_EREJECT;
    /* the packet outlives this state (it waits for its batch): it keeps its own copy */
    const char *origin = rc == 1 ? ss_packet_strdup(pkt, st->name, strlen(st->name)) : NULL;
    if (rc == 1 && !origin)
        return SS_ENOMEM;
    for (uint32_t i = 0; rc == 1 && i < pkt->n; i++) {
        pkt->alerts[i].origin = origin;
        pkt->alerts[i].line = index;
    }
    return rc;
}

/* Decode the next record of the current block; a record that fails takes the block's rest with
 * it, since its end is unknown. Its encoding is walked before anything is taken: a length or a
 * count is only trusted once the bytes it claims are there. */
static int ssp_decode_record(avro_state *st, ss_packet *pkt, ss_reject *rej)
{
    uint64_t index = st->record++;
    rej->line = index;
    ssp_pv rec = {0};
    size_t end = st->pos;
    int is_over = 0, nomem = 0;
    const char *why = ssp_walk_record(st, rej, &rec, &end, &is_over, &nomem);
    if (!why && is_over) { /* its end is known: only this record is lost */
        st->pos = end;
        st->left--;
        return SS_EREJECT;
    }
    if (!why && st->generic)
        why = ssp_decode_generic(st, end, &rec, &nomem);
    if (nomem)
        return SS_ENOMEM;
    if (why) {
        int64_t lost = st->left;
        st->left = 0;
        return ss_reject_set(rej, SS_REASON_MALFORMED,
                             "record %" PRIu64 ": cannot decode (%s); %" PRId64
                             " record(s) of its block lost",
                             index, why, lost);
    }
    st->pos = end;
    st->left--;
    return ssp_map_record(st, &rec, index, pkt, rej);
}

static int avro_next(void *state, ss_packet *pkt, ss_reject *rej, ss_err *err)
{
    avro_state *st = state;
    rej->origin = st->name;
    if (st->too_long && st->left) {
        st->left = 0;
        rej->line = st->record++;
        return ss_alert_limits_reject(rej, "message is too long (bytes)", st->too_long, 1,
                                      "max_alert_bytes", st->limits.alert_bytes);
    }
    while (st->left == 0) {
        if (st->framed)
            return 0;
        int rc = ssp_next_block(st, rej, err);
        if (rc != 1)
            return rc;
    }
    int rc = ssp_decode_record(st, pkt, rej);
    if (rc == SS_ENOMEM)
        return ss_err_set(err, rc, "%s: out of memory", st->name);
    return rc;
}

static void *avro_shared_new(const ss_decoder_config *cfg)
{
    return ssp_avro_cache_new(cfg ? cfg->schema_dir : NULL);
}

static void avro_shared_free(void *shared)
{
    ssp_avro_cache_free(shared);
}

const ss_decoder_ops ssp_decoder_avro = {
    .abi = SS_DECODER_ABI,
    .name = "avro",
    .extensions = ssp_exts,
    .probe = avro_probe,
    .open = avro_open,
    .next = avro_next,
    .close = avro_close,
    .shared_new = avro_shared_new,
    .shared_free = avro_shared_free,
    .open_memory = avro_open_memory,
};
