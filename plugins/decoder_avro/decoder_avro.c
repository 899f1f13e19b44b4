/*
 * Avro alerts: object container files (one or many records; null, deflate and snappy codecs),
 * decoded with the writer schema they carry, and single Kafka messages in Confluent wire format
 * (byte 0, a big-endian schema id, then one Avro record) with the schema from the schema
 * directory. The container framing is read here so that each distinct schema is parsed once for
 * the whole run (avro-c's file reader would parse every file's); records are decoded by avro-c.
 */
#include "avro_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define SSP_MAGIC     "Obj\x01"
#define SSP_MAX_BLOCK ((int64_t)1 << 30) /* a block claiming more is damage, not data */

typedef enum ssp_codec { SSP_NULL, SSP_DEFLATE, SSP_SNAPPY } ssp_codec;

typedef struct avro_state {
    FILE *fp;
    char *name;
    ssp_avro_cache *cache;
    ssp_avro_schema *schema;
    int framed; /* a Confluent message: one record, no blocks */
    ssp_codec codec;
    unsigned char sync[16];
    unsigned char *raw, *data; /* the block as read, and decompressed */
    size_t raw_cap, data_cap, data_len;
    int64_t left;    /* records left in the current block */
    uint64_t record; /* index of the next record in the file, from 1 */
    avro_reader_t reader;
    int done;
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
    return ss_err_set(err, SS_EPARSE, "%s: truncated or damaged %s at byte %ld", st->name, where,
                      ftell(st->fp));
}

/* A length-prefixed string of the header into a malloc'd buffer. */
static int ssp_read_bytes(avro_state *st, char **out, int64_t *len, ss_err *err)
{
    if (ssp_read_long(st->fp, len) || *len < 0 || *len > SSP_MAX_BLOCK)
        return ssp_truncated(st, err, "header");
    *out = malloc((size_t)*len + 1);
    if (!*out)
        return ss_err_set(err, SS_ENOMEM, "out of memory");
    if (fread(*out, 1, (size_t)*len, st->fp) != (size_t)*len) {
        free(*out);
        return ssp_truncated(st, err, "header");
    }
    (*out)[*len] = '\0';
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

/* One key/value pair of the header's metadata map. */
static int ssp_meta_entry(avro_state *st, char **schema, int64_t *schema_len, char **codec,
                          ss_err *err)
{
    char *key = NULL, *val = NULL;
    int64_t klen = 0, vlen = 0;
    int rc = ssp_read_bytes(st, &key, &klen, err);
    if (rc || (rc = ssp_read_bytes(st, &val, &vlen, err))) {
        if (!rc)
            free(key);
        return rc;
    }
    char **slot = !strcmp(key, "avro.schema") ? schema : !strcmp(key, "avro.codec") ? codec : NULL;
    if (slot) {
        free(*slot);
        *slot = val;
        if (slot == schema)
            *schema_len = vlen;
    } else {
        free(val);
    }
    free(key);
    return 0;
}

static int ssp_read_meta(avro_state *st, char **schema, int64_t *schema_len, char **codec,
                         ss_err *err)
{
    int64_t count;
    for (;;) {
        if (ssp_read_long(st->fp, &count))
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
            int rc = ssp_meta_entry(st, schema, schema_len, codec, err);
            if (rc)
                return rc;
        }
    }
}

static int ssp_open_container(avro_state *st, ss_err *err)
{
    char *schema = NULL, *codec = NULL;
    int64_t schema_len = 0; /* set with schema */
    int rc = ssp_read_meta(st, &schema, &schema_len, &codec, err);
    if (!rc && fread(st->sync, 1, 16, st->fp) != 16)
        rc = ssp_truncated(st, err, "header");
    if (!rc && !schema)
        rc = ss_err_set(err, SS_EPARSE, "%s: Avro container without a schema", st->name);
    if (!rc)
        rc = ssp_set_codec(st, codec, err);
    if (!rc && (rc = ssp_avro_cache_json(st->cache, schema, (size_t)schema_len, &st->schema, err)))
        ss_err_prefix(err, "%s", st->name);
    free(schema);
    free(codec);
    return rc;
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

static int ssp_inflate(avro_state *st, size_t len, ss_err *err)
{
    z_stream z = {0};
    if (inflateInit2(&z, -15) != Z_OK) /* raw deflate, as the Avro specification says */
        return ss_err_set(err, SS_ENOMEM, "out of memory");
    z.next_in = st->raw;
    z.avail_in = (uInt)len;
    int zr = Z_OK;
    st->data_len = 0;
    while (zr == Z_OK) {
        if (ssp_reserve(&st->data, &st->data_cap, st->data_len + len * 4 + 4096)) {
            inflateEnd(&z);
            return ss_err_set(err, SS_ENOMEM, "out of memory");
        }
        z.next_out = st->data + st->data_len;
        z.avail_out = (uInt)(st->data_cap - st->data_len);
        zr = inflate(&z, Z_NO_FLUSH);
        st->data_len = st->data_cap - z.avail_out;
    }
    inflateEnd(&z);
    return zr == Z_STREAM_END ? 0 : ssp_truncated(st, err, "deflate block");
}

/* Snappy blocks end with the big-endian CRC-32 of the uncompressed data. */
static int ssp_unsnappy(avro_state *st, size_t len, ss_err *err)
{
    size_t out = 0;
    if (len < 4 || snappy_uncompressed_length((char *)st->raw, len - 4, &out) != SNAPPY_OK ||
        ssp_reserve(&st->data, &st->data_cap, out + 1) ||
        snappy_uncompress((char *)st->raw, len - 4, (char *)st->data, &out) != SNAPPY_OK)
        return ssp_truncated(st, err, "snappy block");
    const unsigned char *c = st->raw + len - 4;
    uint32_t want = (uint32_t)c[0] << 24 | (uint32_t)c[1] << 16 | (uint32_t)c[2] << 8 | c[3];
    if ((uint32_t)crc32(0, st->data, (uInt)out) != want)
        return ssp_truncated(st, err, "snappy block (checksum)");
    st->data_len = out;
    return 0;
}

static int ssp_decompress(avro_state *st, size_t len, ss_err *err)
{
    if (st->codec == SSP_DEFLATE)
        return ssp_inflate(st, len, err);
    if (st->codec == SSP_SNAPPY)
        return ssp_unsnappy(st, len, err);
    unsigned char *t = st->data; /* null codec: the block is the data */
    size_t tc = st->data_cap;
    st->data = st->raw, st->data_cap = st->raw_cap;
    st->raw = t, st->raw_cap = tc;
    st->data_len = len;
    return 0;
}

/* Read the next block. @return 1, 0 at the end of the file, or an error. */
static int ssp_next_block(avro_state *st, ss_err *err)
{
    int64_t count, size;
    int c = fgetc(st->fp);
    if (c == EOF)
        return 0;
    ungetc(c, st->fp);
    if (ssp_read_long(st->fp, &count) || ssp_read_long(st->fp, &size) || count < 0 || size < 0 ||
        size > SSP_MAX_BLOCK || (count > 0 && size == 0))
        return ssp_truncated(st, err, "block header");
    unsigned char sync[16];
    if (ssp_reserve(&st->raw, &st->raw_cap, (size_t)size + 1))
        return ss_err_set(err, SS_ENOMEM, "out of memory");
    if (fread(st->raw, 1, (size_t)size, st->fp) != (size_t)size || fread(sync, 1, 16, st->fp) != 16)
        return ssp_truncated(st, err, "block");
    if (memcmp(sync, st->sync, 16))
        return ss_err_set(err, SS_EPARSE, "%s: corrupt block before byte %ld (sync marker)",
                          st->name, ftell(st->fp));
    int rc = ssp_decompress(st, (size_t)size, err);
    if (rc)
        return rc;
    avro_reader_memory_set_source(st->reader, (const char *)st->data, (int64_t)st->data_len);
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
    size_t n = 0, got;
    do { /* the rest of the message is the record */
        if (ssp_reserve(&st->data, &st->data_cap, n + 65536))
            return ss_err_set(err, SS_ENOMEM, "out of memory");
        got = fread(st->data + n, 1, st->data_cap - n, st->fp);
        n += got;
    } while (got > 0);
    st->data_len = n;
    st->framed = 1;
    st->left = 1;
    avro_reader_memory_set_source(st->reader, (const char *)st->data, (int64_t)n);
    return 0;
}

static void avro_close(void *state)
{
    avro_state *st = state;
    if (!st)
        return;
    if (st->reader)
        avro_reader_free(st->reader);
    free(st->raw);
    free(st->data);
    free(st->name);
    free(st);
}

static int avro_open(FILE *fp, const char *name, const ss_decoder_config *cfg, void *shared,
                     void **state, ss_err *err)
{
    (void)cfg;
    avro_state *st = calloc(1, sizeof *st);
    if (!st || !(st->name = strdup(name ? name : "<input>")) ||
        !(st->reader = avro_reader_memory("", 0))) {
        avro_close(st);
        return ss_err_set(err, SS_ENOMEM, "out of memory");
    }
    st->fp = fp;
    st->cache = shared;
    st->record = 1;
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
    *state = st;
    return 0;
}

/* Decode the next record of the current block; a record that fails takes the block's rest with
 * it, since its end is unknown. */
static int ssp_decode_record(avro_state *st, ss_packet *pkt, ss_reject *rej)
{
    avro_value_t *v = &st->schema->value;
    avro_value_reset(v);
    uint64_t index = st->record++;
    rej->line = index;
    if (avro_value_read(st->reader, v)) {
        int64_t lost = st->left;
        st->left = 0;
        return ss_reject_set(rej, SS_REASON_MALFORMED,
                             "record %" PRIu64 ": cannot decode (%s); %" PRId64
                             " record(s) of its block lost",
                             index, avro_strerror(), lost);
    }
    st->left--;
    int rc = ssp_avro_map(st->schema, v, pkt, rej);
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

static int avro_next(void *state, ss_packet *pkt, ss_reject *rej, ss_err *err)
{
    avro_state *st = state;
    rej->origin = st->name;
    while (st->left == 0) {
        if (st->framed)
            return 0;
        int rc = ssp_next_block(st, err);
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
};
