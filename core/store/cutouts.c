/* Cutouts: an alert's image stamps.
 *
 * Format 3 kept one record per stamp; each went to LMDB overflow pages of its own, so a ZTF
 * stamp of 13 kB took 16 kB. Format 7 keeps an alert's stamps in one record (key ending in
 * SSI_CUTOUT_ALL instead of a kind), and compresses with zstd the stamps that are not
 * compressed already: Rubin's are plain FITS, which zstd's fastest levels nearly halve; ZTF's
 * are gzipped FITS and are kept as sent. Both layouts are read. The compression may be done
 * before the write transaction, on another thread (ss_store_stamps): the record is the same. */
#include "store_impl.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define SSI_CUTOUT_ALL     0xff /* the last key byte of an alert's packed stamps */
#define SSI_CUTOUTS_PACKED 2    /* record version of the packed layout (1: one stamp) */
/* One of zstd's fastest levels: on Rubin's stamps level -3 made ingest 17% slower for 2.0x, this
 * one 5% slower for 1.9x (bench_avro, 30,000 alerts, alternated with the code before). */
#define SSI_ZSTD_LEVEL (-20)
/* The largest stamp a record may claim: a damaged length must not make a huge allocation. */
#define SSI_STAMP_MAX ((uint64_t)1 << 30)

enum { SSI_CODEC_RAW, SSI_CODEC_ZSTD };

/* Compress only what can shrink: not gzip or zstd data, nor a few hundred bytes. */
static int ssi_compressible(const ss_cutout *c)
{
    static const unsigned char gz[2] = {0x1f, 0x8b}, zst[4] = {0x28, 0xb5, 0x2f, 0xfd};
    if (c->len < 512)
        return 0;
    return memcmp(c->data, gz, sizeof gz) && memcmp(c->data, zst, sizeof zst);
}

/* Append stamp @p c to @p z compressed, when that saves an eighth (codec ZSTD, its *n bytes
 * there); else @p z is left as it was (codec RAW: the stamp is stored as sent). */
static int ssi_stamp_squeeze(ZSTD_CCtx **cctx, const ss_cutout *c, ss_wbuf *z, uint8_t *codec,
                             size_t *n)
{
    *codec = SSI_CODEC_RAW;
    *n = 0;
    if (!ssi_compressible(c))
        return 0;
    if (ss_wbuf_reserve(z, ZSTD_compressBound(c->len)))
        return SS_ENOMEM;
    if (!*cctx && !(*cctx = ZSTD_createCCtx()))
        return SS_ENOMEM;
    size_t got = ZSTD_compressCCtx(*cctx, z->data + z->len, z->cap - z->len, c->data, c->len,
                                   SSI_ZSTD_LEVEL);
    if (ZSTD_isError(got) || got > c->len - c->len / 8)
        return 0;
    z->len += got;
    *n = got;
    *codec = SSI_CODEC_ZSTD;
    return 0;
}

/* One alert's stamps as stored: per kind, the codec, and for ZSTD where the bytes are in the
 * set's buffer (an offset: the buffer moves as it grows). */
typedef struct ssi_packed {
    uint8_t codec[SS_CUTOUT__COUNT];
    size_t off[SS_CUTOUT__COUNT], len[SS_CUTOUT__COUNT];
} ssi_packed;

struct ss_store_stamps {
    ZSTD_CCtx *cctx;
    ss_wbuf z; /* the compressed stamps, one after the other */
    ssi_packed *items;
    uint32_t n, cap;
};

ss_store_stamps *ss_store_stamps_new(void)
{
    return calloc(1, sizeof(ss_store_stamps));
}

void ss_store_stamps_free(ss_store_stamps *st)
{
    if (!st)
        return;
    ZSTD_freeCCtx(st->cctx);
    ss_wbuf_free(&st->z);
    free(st->items);
    free(st);
}

void ss_store_stamps_reset(ss_store_stamps *st)
{
    ss_wbuf_reset(&st->z);
    st->n = 0;
}

size_t ss_store_stamps_bytes(const ss_store_stamps *st)
{
    return st->z.len + (size_t)st->n * sizeof *st->items;
}

int ss_store_stamps_pack(ss_store_stamps *st, const ss_cutout *cutouts, uint32_t *index)
{
    ssi_packed *grown = ssi_grow(st->items, &st->cap, st->n, sizeof *grown, 64);
    if (!grown)
        return SS_ENOMEM;
    st->items = grown;
    ssi_packed *p = &st->items[st->n];
    for (int k = 0; k < SS_CUTOUT__COUNT; k++) {
        p->off[k] = st->z.len;
        p->codec[k] = SSI_CODEC_RAW, p->len[k] = 0;
        int rc = cutouts[k].data
                     ? ssi_stamp_squeeze(&st->cctx, &cutouts[k], &st->z, &p->codec[k], &p->len[k])
                     : 0;
        if (rc)
            return rc;
    }
    *index = st->n++;
    return 0;
}

/* Stamp @p k of @p c as stored, packed by @p st (item @p p) or here, into t->zbuf[k]. */
static int ssi_stamp_stored(ss_store_txn *t, const ss_cutout *c, int k, const ss_store_stamps *st,
                            const ssi_packed *p, const void **bytes, size_t *len, uint8_t *codec)
{
    size_t n = 0;
    int rc = 0;
    if (p) {
        *codec = p->codec[k], n = p->len[k];
    } else {
        ss_wbuf_reset(&t->zbuf[k]);
        rc = ssi_stamp_squeeze(&t->s->zcctx, c, &t->zbuf[k], codec, &n);
    }
    int z = *codec == SSI_CODEC_ZSTD;
    *bytes = !z ? (const void *)c->data : p ? st->z.data + p->off[k] : t->zbuf[k].data;
    *len = z ? n : c->len;
    return rc;
}

int ss_store_cutouts_put(ss_store_txn *t, const ss_alert *a, const ss_cutout *cutouts)
{
    return ss_store_cutouts_put2(t, a, cutouts, NULL, 0);
}

int ss_store_cutouts_put2(ss_store_txn *t, const ss_alert *a, const ss_cutout *cutouts,
                          const ss_store_stamps *st, uint32_t index)
{
    ss_store_counters *cnt = ssi_counters_w(t);
    unsigned char kb[SSI_KEY_MAX];
    size_t head_end[SS_CUTOUT__COUNT + 1] = {0}, stored[SS_CUTOUT__COUNT], len = 2;
    const void *bytes[SS_CUTOUT__COUNT];
    uint8_t codec, count = 0;
    if (!cnt)
        return SS_ECORRUPT;
    if (st && index >= st->n)
        return SS_EINVAL;
    const ssi_packed *p = st ? &st->items[index] : NULL;
    ss_wbuf_reset(&t->buf); /* the heads; the stamps are copied straight into LMDB */
    for (int k = 0; k < SS_CUTOUT__COUNT; k++) {
        const ss_cutout *c = &cutouts[k];
        if (!c->data)
            continue;
        int rc = ssi_stamp_stored(t, c, k, st, p, &bytes[count], &stored[count], &codec);
        if (rc)
            return rc;
        ss_wbuf_u8(&t->buf, (uint8_t)k);
        ss_wbuf_u8(&t->buf, codec);
        ss_wbuf_vstr(&t->buf, c->file_name, c->file_name ? strlen(c->file_name) : 0);
        ss_wbuf_uvar(&t->buf, c->len);
        ss_wbuf_uvar(&t->buf, stored[count]);
        len += stored[count];
        head_end[++count] = t->buf.len;
    }
    if (t->buf.failed)
        return SS_ENOMEM;
    if (!count)
        return 0;
    size_t klen = ssi_key_cutout(kb, a->alert_id, a->survey, 0);
    kb[klen - 1] = SSI_CUTOUT_ALL;
    MDB_val key = {klen, kb}, val = {len + t->buf.len, NULL};
    int rc = mdb_put(t->txn, t->s->cutouts, &key, &val, MDB_NOOVERWRITE | MDB_RESERVE);
    if (rc)
        return rc == MDB_KEYEXIST ? 0 : rc; /* an existing one is kept as it was */
    unsigned char *out = val.mv_data;
    *out++ = SSI_CUTOUTS_PACKED;
    *out++ = count;
    for (uint8_t i = 0; i < count; i++) { /* each stamp's head, then its bytes */
        memcpy(out, t->buf.data + head_end[i], head_end[i + 1] - head_end[i]);
        out += head_end[i + 1] - head_end[i];
        memcpy(out, bytes[i], stored[i]);
        out += stored[i];
    }
    cnt->cutouts += count;
    return 0;
}

/* The key's survey (alert_id NUL survey NUL kind-or-all) into @p survey. @return its last byte,
 * or -1 when the key is not one of an alert of @p idlen bytes. */
static int ssi_cutout_key(const MDB_val *k, size_t idlen, char *survey)
{
    const char *key = k->mv_data;
    if (k->mv_size < idlen + 3)
        return -1;
    size_t slen = k->mv_size - idlen - 3;
    if (slen > SS_SURVEY_MAX || key[idlen + 1 + slen] != '\0')
        return -1;
    memcpy(survey, key + idlen + 1, slen);
    survey[slen] = '\0';
    return (unsigned char)key[k->mv_size - 1];
}

/* Decompress a stamp into memory of @p t, valid until the transaction ends. */
static int ssi_stamp_unpack(ss_store_txn *t, const void *z, size_t zlen, size_t len,
                            ss_store_cutout *out)
{
    if (!t->arena && !(t->arena = ss_arena_new()))
        return SS_ENOMEM;
    void *raw = ss_arena_alloc(t->arena, len ? len : 1);
    if (!raw)
        return SS_ENOMEM;
    size_t n = ZSTD_decompress(raw, len, z, zlen);
    if (ZSTD_isError(n) || n != len)
        return SS_ECORRUPT;
    out->bytes = raw;
    out->len = len;
    return 0;
}

/* Each stamp of a packed record to @p fn; without @p t, compressed ones are passed as stored. */
static int ssi_packed_each(ss_store_txn *t, const MDB_val *v, ss_store_cutout *c,
                           ss_store_cutout_fn fn, void *ctx)
{
    ss_rbuf r = {v->mv_data, (const unsigned char *)v->mv_data + v->mv_size, 0};
    if (ss_rbuf_u8(&r) != SSI_CUTOUTS_PACKED)
        return SS_ECORRUPT;
    uint8_t count = ss_rbuf_u8(&r);
    for (uint8_t i = 0; i < count; i++) {
        uint32_t fnlen;
        uint8_t kind = ss_rbuf_u8(&r), codec = ss_rbuf_u8(&r);
        c->file_name = ss_rbuf_vstr(&r, &fnlen);
        c->file_name_len = fnlen;
        uint64_t len = ss_rbuf_uvar(&r), stored = ss_rbuf_uvar(&r);
        if (r.bad || kind >= SS_CUTOUT__COUNT || codec > SSI_CODEC_ZSTD ||
            stored > (uint64_t)(r.end - r.p) || (codec == SSI_CODEC_RAW && stored != len) ||
            len > SSI_STAMP_MAX)
            return SS_ECORRUPT;
        c->kind = (ss_cutout_kind)kind;
        c->bytes = r.p, c->len = (size_t)len;
        int rc = codec == SSI_CODEC_ZSTD && t ? ssi_stamp_unpack(t, r.p, stored, len, c) : 0;
        if (rc || (rc = fn(ctx, c)))
            return rc;
        r.p += stored;
    }
    return r.p == r.end ? 0 : SS_ECORRUPT;
}

/* A record of one stamp (format 3 to 6). */
static int ssi_single(const MDB_val *v, int kind, ss_store_cutout *c)
{
    ss_rbuf r = {v->mv_data, (const unsigned char *)v->mv_data + v->mv_size, 0};
    uint32_t fnlen;
    if (ss_rbuf_u8(&r) != SS_RECORD_VERSION || kind >= SS_CUTOUT__COUNT)
        return SS_ECORRUPT;
    c->kind = (ss_cutout_kind)kind;
    c->file_name = ss_rbuf_str(&r, &fnlen);
    c->file_name_len = fnlen;
    c->bytes = r.p;
    c->len = (size_t)(r.end - r.p);
    return r.bad ? SS_ECORRUPT : 0;
}

int ss_store_cutouts_each(ss_store_txn *t, const char *alert_id, const char *survey,
                          ss_store_cutout_fn fn, void *ctx)
{
    if (!t->s->has_cutouts)
        return 0;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(t->txn, t->s->cutouts, &cur);
    if (rc)
        return rc;
    size_t n = strlen(alert_id);
    MDB_val k = {n + 1, (void *)alert_id}, v; /* the id and its NUL: then every survey */
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size <= n + 1 || memcmp(k.mv_data, alert_id, n + 1) != 0)
            break;
        char sv[SS_SURVEY_MAX + 1];
        ss_store_cutout c = {.survey = sv};
        int last = ssi_cutout_key(&k, n, sv);
        if (last < 0) {
            rc = SS_ECORRUPT;
            break;
        }
        if (survey && strcmp(survey, sv))
            continue;
        rc = last == SSI_CUTOUT_ALL     ? ssi_packed_each(t, &v, &c, fn, ctx)
             : ssi_single(&v, last, &c) ? SS_ECORRUPT
                                        : fn(ctx, &c);
        if (rc)
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int ssi_count_one(void *ctx, const ss_store_cutout *c)
{
    (void)c;
    ++*(uint64_t *)ctx;
    return 0;
}

int ssi_cutouts_count(const MDB_val *k, const MDB_val *v, uint64_t *stamps)
{
    const unsigned char *key = k->mv_data;
    ss_store_cutout c;
    *stamps = 0;
    if (k->mv_size && key[k->mv_size - 1] == SSI_CUTOUT_ALL)
        return ssi_packed_each(NULL, v, &c, ssi_count_one, stamps);
    *stamps = 1;
    return ssi_single(v, k->mv_size ? key[k->mv_size - 1] : SS_CUTOUT__COUNT, &c);
}
