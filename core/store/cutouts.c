/* Cutouts: an alert's image stamps.
 *
 * Format 3 kept one record per stamp; each went to LMDB overflow pages of its own, so a ZTF
 * stamp of 13 kB took 16 kB. Format 7 keeps an alert's stamps in one record (key ending in
 * SSI_CUTOUT_ALL instead of a kind), and compresses with zstd the stamps that are not
 * compressed already: Rubin's are plain FITS, which zstd's fastest levels nearly halve; ZTF's
 * are gzipped FITS and are kept as sent. Both layouts are read. The compression may be done
 * before the write transaction, on another thread (ss_store_stamps): the record is the same.
 *
 * Format 11 writes that record into a chunk of a few MiB in the stamps table, beside the other
 * alerts' of its transaction, and the cutouts table gets a reference to it. A record of its own
 * took overflow pages of its own, its last one part empty: 1.7 kB an alert for ZTF's three gzipped
 * stamps (4% of what the alert arrived in). A chunk is dropped whole, by retention, once its newest
 * alert is past the cutoff; each alert's reference goes with that alert.
 *
 * Format 12 compresses a FITS stamp with its arrays' bytes regrouped (fits_shuffle.c): Rubin's
 * stamps in 0.54 of their bytes instead of 0.62.
 *
 * Format 13 writes a chunk, once closed, to the stamps file (stamps_file.c); the stamps table
 * keeps where it lies. Chunks of formats 11-12 are still read from the table.
 *
 * Format 14 compresses an alert's FITS stamps, regrouped, as one frame, with its survey's stamps
 * dictionary once it has one (zstamps.c): on ../shared/data's 300 Rubin stamps at level -60,
 * 0.449 of their bytes at 4.1 GB/s, against 0.530 at 3.0-3.9 GB/s for each stamp alone with the
 * dictionary and 0.5395 at 2.6 GB/s for each alone at -20 without one. */
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_c_forceAttachDict: see zstamps.c */
#include "store_impl.h"

#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define SSI_CUTOUT_ALL     0xff /* the last key byte of an alert's packed stamps */
#define SSI_CUTOUTS_PACKED 2    /* record version of the packed layout (1: one stamp) */
/* The level is the store handle's (SS_STAMP_LEVEL by default, -60: one of zstd's fastest; on
 * Rubin's stamps without a dictionary level -3 made ingest 17% slower for 2.0x, -20 5% slower for
 * 1.9x, bench_avro, 30,000 alerts, alternated with the code before; with one (format 14), -60
 * keeps fewer bytes than -20 did without, and faster: zstamps.c). The hash table:
 * SSI_ZSTD_HASH_LOG. */
/* The largest stamp a record may claim: a damaged length must not make a huge allocation. */
#define SSI_STAMP_MAX ((uint64_t)1 << 30)

/* ZSTD_FITS (format 12): zstd of the stamp with its FITS arrays regrouped by byte first
 * (fits_shuffle.c). GROUP (format 14): the alert's FITS stamps regrouped, one after the other in
 * the record's order, as one zstd frame, kept by the first of them: the number of its survey's
 * stamps dictionary it was made with (a varint, 0 for none; zstamps.c), then the frame. The others
 * are IN_GROUP, with no bytes of their own: Rubin's science and difference stamps share their PSF
 * and headers, which one frame stores once. */
enum { SSI_CODEC_RAW, SSI_CODEC_ZSTD, SSI_CODEC_ZSTD_FITS, SSI_CODEC_GROUP, SSI_CODEC_IN_GROUP };

/* Format 11: a cutouts record of this version is a reference (count u8, then chunk, offset and
 * length as varints) to a packed record inside a chunk. A chunk (stamps table: number, u64 BE,
 * from 1 -> chunk) starts with a head of SSI_CHUNK_HEAD bytes: its version, 7 bytes of zero, and
 * the newest MJD of its alerts (IEEE bits, u64 BE); the packed records follow one after the other.
 */
#define SSI_CUTOUTS_REF   3
#define SSI_CHUNK_VERSION 1
#define SSI_CHUNK_HEAD    16
/* Format 13: the value of a chunk in the stamps file, a head of this version (the newest MJD as
 * in version 1), then its offset and length there (u64 BE each). The file holds the chunk as a
 * version 1 value would be. */
#define SSI_CHUNK_FILED 2
_Static_assert(SSI_CHUNK_PLACE == SSI_CHUNK_HEAD + 16,
               "a filed chunk's value: head, offset, length");
#define SSI_REF_MAX (2 + 3 * SS_UVAR_MAX) /* count, three varints */

/* Compress only what can shrink: not gzip or zstd data, nor a few hundred bytes. */
static int ssi_compressible(const ss_cutout *c)
{
    static const unsigned char gz[2] = {0x1f, 0x8b}, zst[4] = {0x28, 0xb5, 0x2f, 0xfd};
    if (c->len < 512)
        return 0;
    return memcmp(c->data, gz, sizeof gz) && memcmp(c->data, zst, sizeof zst);
}

/* A compression context with the stamps' parameters at @p level (0: SS_STAMP_LEVEL), which
 * every ZSTD_compress2() keeps. */
static ZSTD_CCtx *ssi_squeezer_cctx(int level)
{
    level = level ? level : SS_STAMP_LEVEL;
    ZSTD_CCtx *c = ZSTD_createCCtx();
    if (c &&
        (ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level)) ||
         ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_forceAttachDict, ZSTD_dictForceAttach)) ||
         (level < 0 &&
          ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_hashLog, SSI_ZSTD_HASH_LOG))))) {
        ZSTD_freeCCtx(c);
        return NULL;
    }
    return c;
}

/* Append stamp @p c to @p z compressed, when that saves an eighth (codec ZSTD or ZSTD_FITS, its
 * *n bytes there); else @p z is left as it was (codec RAW: the stamp is stored as sent, *n 0). */
static int ssi_stamp_squeeze(ssi_squeezer *q, const ss_cutout *c, ss_wbuf *z, uint8_t *codec,
                             size_t *n)
{
    *codec = SSI_CODEC_RAW;
    *n = 0;
    if (!ssi_compressible(c))
        return 0;
    if (ss_wbuf_reserve(z, ZSTD_compressBound(c->len)))
        return SS_ENOMEM;
    ss_wbuf_reset(&q->shuffled);
    if (ss_wbuf_reserve(&q->shuffled, c->len) ||
        (!q->cctx && !(q->cctx = ssi_squeezer_cctx(q->level))))
        return SS_ENOMEM;
    int fits = ssi_fits_shuffle(c->data, c->len, q->shuffled.data, 0);
    size_t got = ZSTD_CCtx_refCDict(q->cctx, NULL);
    if (!ZSTD_isError(got))
        got = ZSTD_compress2(q->cctx, z->data + z->len, z->cap - z->len,
                             fits ? q->shuffled.data : c->data, c->len);
    if (ZSTD_isError(got) || got > c->len - c->len / 8)
        return 0;
    z->len += got;
    *n = got;
    *codec = fits ? SSI_CODEC_ZSTD_FITS : SSI_CODEC_ZSTD;
    return 0;
}

void ssi_squeezer_free(ssi_squeezer *q)
{
    ZSTD_freeCCtx(q->cctx);
    ss_wbuf_free(&q->shuffled);
}

/* One alert's stamps as stored: per kind, whether there is one, its codec, and where its bytes
 * are in a buffer (an offset: the buffer moves as it grows). In a set every stamp's bytes are
 * there, compressed or as sent, so that the packet's may be gone by the time they are put (a
 * decoder lends them only until its next call, ss_packet_lend_cutout()). */
typedef struct ssi_packed {
    uint8_t has[SS_CUTOUT__COUNT], codec[SS_CUTOUT__COUNT];
    size_t off[SS_CUTOUT__COUNT], len[SS_CUTOUT__COUNT];
} ssi_packed;

/* Whether @p c is a FITS stamp the group takes: one zstd compresses, regrouped into @p into. */
static int ssi_group_takes(const ss_cutout *c, unsigned char *into)
{
    return c->data && ssi_compressible(c) && ssi_zstamps_content(c->data, c->len) &&
           ssi_fits_shuffle(c->data, c->len, into, 0);
}

/* The alert's FITS stamps, regrouped one after the other in q->shuffled, compressed as one frame
 * with q's dictionary into @p z (codec GROUP for the first, IN_GROUP for the others), when that
 * saves an eighth of them. @return 0 or SS_ENOMEM; p->codec stays RAW where it did not. */
static int ssi_group_squeeze(ssi_squeezer *q, const ss_cutout *cutouts, ss_wbuf *z, ssi_packed *p)
{
    size_t total = 0, want = 0;
    int in[SS_CUTOUT__COUNT] = {0}, first = -1;
    for (int k = 0; k < SS_CUTOUT__COUNT; k++)
        want += cutouts[k].data ? cutouts[k].len : 0;
    ss_wbuf_reset(&q->shuffled);
    if (ss_wbuf_reserve(&q->shuffled, want ? want : 1) ||
        (!q->cctx && !(q->cctx = ssi_squeezer_cctx(q->level))))
        return SS_ENOMEM;
    for (int k = 0; k < SS_CUTOUT__COUNT; k++)
        if ((in[k] = ssi_group_takes(&cutouts[k], q->shuffled.data + total))) {
            first = first < 0 ? k : first;
            total += cutouts[k].len;
        }
    if (first < 0)
        return 0;
    if (ss_wbuf_reserve(z, SS_UVAR_MAX + ZSTD_compressBound(total)))
        return SS_ENOMEM;
    size_t at = z->len + ss_uvar_put(z->data + z->len, q->cdict ? q->dict : 0);
    size_t got = ZSTD_CCtx_refCDict(q->cctx, q->cdict);
    if (!ZSTD_isError(got))
        got = ZSTD_compress2(q->cctx, z->data + at, z->cap - at, q->shuffled.data, total);
    if (ZSTD_isError(got) || at - z->len + got > total - total / 8)
        return 0;
    for (int k = 0; k < SS_CUTOUT__COUNT; k++)
        if (in[k]) {
            p->codec[k] = k == first ? SSI_CODEC_GROUP : SSI_CODEC_IN_GROUP;
            p->off[k] = z->len;
            p->len[k] = k == first ? at - z->len + got : 0;
        }
    z->len = at + got;
    return 0;
}

/* Pack an alert's stamps into @p z (ssi_packed): its FITS ones as a group, any other compressed
 * alone when that saves an eighth, else as sent: copied into @p z with @p copy_raw, else left
 * where they are (p->off[k] SIZE_MAX). @return 0 or SS_ENOMEM. */
static int ssi_alert_squeeze(ssi_squeezer *q, const ss_cutout *cutouts, ss_wbuf *z, ssi_packed *p,
                             int copy_raw)
{
    for (int k = 0; k < SS_CUTOUT__COUNT; k++) {
        p->has[k] = cutouts[k].data != NULL;
        p->codec[k] = SSI_CODEC_RAW, p->len[k] = 0;
    }
    int rc = ssi_group_squeeze(q, cutouts, z, p);
    for (int k = 0; !rc && k < SS_CUTOUT__COUNT; k++) {
        const ss_cutout *c = &cutouts[k];
        if (!p->has[k] || p->codec[k] != SSI_CODEC_RAW)
            continue;
        p->off[k] = z->len;
        if ((rc = ssi_stamp_squeeze(q, c, z, &p->codec[k], &p->len[k])) ||
            p->codec[k] != SSI_CODEC_RAW)
            continue;
        p->len[k] = c->len;
        p->off[k] = copy_raw ? z->len : SIZE_MAX;
        if (copy_raw)
            ss_wbuf_bytes(z, c->data, c->len);
        rc = z->failed ? SS_ENOMEM : 0;
    }
    return rc;
}

struct ss_store_stamps {
    ssi_squeezer q;
    ss_wbuf z; /* the compressed stamps, one after the other */
    ssi_packed *items;
    uint32_t n, cap;
};

ss_store_stamps *ss_store_stamps_new(void)
{
    return calloc(1, sizeof(ss_store_stamps));
}

ss_store_stamps *ss_store_stamps_new2(const ss_store *s)
{
    ss_store_stamps *st = ss_store_stamps_new();
    if (st)
        st->q.level = s->stamp_level;
    return st;
}

void ss_store_stamps_free(ss_store_stamps *st)
{
    if (!st)
        return;
    ssi_squeezer_free(&st->q);
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

int ss_store_stamps_pack2(ss_store_stamps *st, ss_store_txn *snap, const char *survey,
                          const ss_cutout *cutouts, uint32_t *index)
{
    int rc = snap && survey ? ssi_zstamps_use(snap, survey, &st->q) : 0;
    if (!snap || !survey)
        st->q.dict = 0, st->q.cdict = NULL;
    return rc ? rc : ss_store_stamps_pack(st, cutouts, index);
}

int ss_store_stamps_pack(ss_store_stamps *st, const ss_cutout *cutouts, uint32_t *index)
{
    ssi_packed *grown = ssi_grow(st->items, &st->cap, st->n, sizeof *grown, 64);
    if (!grown)
        return SS_ENOMEM;
    st->items = grown;
    int rc = ssi_alert_squeeze(&st->q, cutouts, &st->z, &st->items[st->n], 1);
    if (!rc)
        *index = st->n++;
    return rc;
}

/* A store of a format before 11, set back by hand (tests): the packed record in the cutouts
 * table itself, @p len bytes at *out. */
static int ssi_record_reserve(ss_store_txn *t, MDB_val *key, size_t len, unsigned char **out)
{
    MDB_val val = {len, NULL};
    int rc = mdb_put(t->txn, t->s->cutouts, key, &val, MDB_NOOVERWRITE | MDB_RESERVE);
    *out = val.mv_data;
    return rc;
}

/* meta "stamps_seq": the number the next chunk gets, kept apart from the table so that a number
 * is never given twice, even after retention dropped the last chunk (a reference left to it, to
 * an alert the store lacks, would otherwise name another alert's stamps). */
#define SSI_STAMPS_SEQ "stamps_seq"
/* meta "stamps_end": where the stamps file's next chunk goes (format 13) */
#define SSI_STAMPS_END "stamps_end"

/* The counter under meta @p key, @p absent when there is none. */
static int ssi_meta_u64(ss_store_txn *t, const char *key, uint64_t absent, uint64_t *out)
{
    int rc = ssi_meta_get_u64(t->txn, t->s->meta, key, out);
    if (rc == MDB_NOTFOUND)
        *out = absent;
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int ssi_chunks_end_set(MDB_txn *txn, MDB_dbi meta, uint64_t end)
{
    return ssi_meta_put_u64(txn, meta, SSI_STAMPS_END, end);
}

/* The number the transaction's first chunk gets, and where the stamps file ends. */
static int ssi_chunk_first(ss_store_txn *t)
{
    int rc = ssi_meta_u64(t, SSI_STAMPS_SEQ, 1, &t->chunk_id);
    if (!rc)
        rc = ssi_meta_u64(t, SSI_STAMPS_END, 0, &t->stamps_end);
    t->chunk_first = t->chunk_id;
    t->stamps_from = t->stamps_end;
    return rc;
}

static int ssi_chunks_filed(const ss_store *s)
{
    return s->stamps_fd >= 0 && !s->stamps_inline && !s->readonly;
}

/* The chunk filling, its head written, to the stamps file: @p v becomes its place there. */
static int ssi_chunk_file(ss_store_txn *t, MDB_val *v, unsigned char *place)
{
    int rc = ssi_stamps_file_write(t->s, t->chunk.data, t->chunk.len, t->stamps_end);
    if (rc)
        return rc;
    memcpy(place, t->chunk.data, SSI_CHUNK_HEAD);
    place[0] = SSI_CHUNK_FILED;
    ss_be64_put(place + SSI_CHUNK_HEAD, t->stamps_end);
    ss_be64_put(place + SSI_CHUNK_HEAD + 8, t->chunk.len);
    t->stamps_end += t->chunk.len;
    *v = (MDB_val){SSI_CHUNK_PLACE, place};
    return ssi_chunks_end_set(t->txn, t->s->meta, t->stamps_end);
}

int ssi_chunk_flush(ss_store_txn *t)
{
    if (t->chunk.len <= SSI_CHUNK_HEAD)
        return 0;
    uint64_t bits;
    memcpy(&bits, &t->chunk_newest, sizeof bits);
    memset(t->chunk.data, 0, SSI_CHUNK_HEAD);
    t->chunk.data[0] = SSI_CHUNK_VERSION;
    ss_be64_put(t->chunk.data + 8, bits);
    unsigned char kb[8], place[SSI_CHUNK_PLACE];
    ss_be64_put(kb, t->chunk_id);
    MDB_val k = {sizeof kb, kb}, v = {t->chunk.len, t->chunk.data};
    int rc = ssi_chunks_filed(t->s) ? ssi_chunk_file(t, &v, place) : 0;
    /* the numbers only grow: LMDB fills the table's pages instead of splitting them in half */
    if (!rc && (rc = mdb_put(t->txn, t->s->stamps, &k, &v, MDB_NOOVERWRITE | MDB_APPEND)))
        return rc == MDB_KEYEXIST ? SS_ECORRUPT : rc;
    if (!rc)
        rc = ssi_meta_put_u64(t->txn, t->s->meta, SSI_STAMPS_SEQ, ++t->chunk_id);
    if (!rc)
        ss_wbuf_reset(&t->chunk);
    return rc;
}

int ssi_chunks_sync(ss_store_txn *t)
{
    return t->stamps_end > t->stamps_from ? ssi_stamps_file_sync(t->s) : 0;
}

void ssi_chunks_uncache(ss_store_txn *t)
{
    ssi_stamps_file_uncache(t->s, t->stamps_from, t->stamps_end);
}

/* Room for a packed record of @p len bytes in the chunk filling, closing it first when the record
 * would take it past the store's chunk size (a record larger than that gets a chunk alone). */
static int ssi_chunk_room(ss_store_txn *t, size_t len)
{
    int rc = t->chunk_id ? 0 : ssi_chunk_first(t);
    if (!rc && t->chunk.len > SSI_CHUNK_HEAD && t->chunk.len + len > t->s->stamp_chunk)
        rc = ssi_chunk_flush(t);
    if (rc)
        return rc;
    if (!t->chunk.len) {
        t->chunk_newest = -INFINITY;
        if (ss_wbuf_reserve(&t->chunk, SSI_CHUNK_HEAD))
            return SS_ENOMEM;
        t->chunk.len = SSI_CHUNK_HEAD;
    }
    return ss_wbuf_reserve(&t->chunk, len) ? SS_ENOMEM : 0;
}

/* The reference to a packed record of @p count stamps and @p len bytes under @p key, and those
 * bytes reserved at *out in the chunk filling; @p mjd the alert's, which keeps the chunk. */
static int ssi_chunk_reserve(ss_store_txn *t, MDB_val *key, size_t len, uint8_t count, double mjd,
                             unsigned char **out)
{
    int rc = ssi_chunk_room(t, len);
    if (rc)
        return rc;
    unsigned char ref[SSI_REF_MAX];
    size_t n = 0;
    ref[n++] = SSI_CUTOUTS_REF;
    ref[n++] = count;
    n += ss_uvar_put(ref + n, t->chunk_id);
    n += ss_uvar_put(ref + n, t->chunk.len);
    n += ss_uvar_put(ref + n, len);
    MDB_val val = {n, ref};
    if ((rc = mdb_put(t->txn, t->s->cutouts, key, &val, MDB_NOOVERWRITE)))
        return rc;
    if (!(mjd <= t->chunk_newest)) /* NaN too: such an alert's stamps are never past a cutoff */
        t->chunk_newest = isnan(mjd) ? INFINITY : mjd;
    *out = t->chunk.data + t->chunk.len;
    t->chunk.len += len;
    return 0;
}

/* Whether an alert has FITS stamps a dictionary can compress: as sent, or as packed (@p p) in a
 * group made without one (one made with a dictionary tells that the survey has it). */
static int ssi_has_fits(const ss_cutout *cutouts, const ss_store_stamps *st, const ssi_packed *p)
{
    int any = 0;
    for (int k = 0; k < SS_CUTOUT__COUNT; k++)
        any |= p ? p->codec[k] == SSI_CODEC_GROUP && st->z.data[p->off[k]] == 0 /* varint 0 */
                 : cutouts[k].data && ssi_compressible(&cutouts[k]) &&
                       ssi_zstamps_content(cutouts[k].data, cutouts[k].len);
    return any;
}

/* @p d: the alert's FITS stamps regrouped, as a group holds them: the frame @p p packed (made
 * without a dictionary: the survey had none) decompressed, else regrouped from the stamps as
 * sent. @return 0, SS_ENOMEM or SS_ECORRUPT. */
static int ssi_group_content(const ss_cutout *cutouts, const ss_store_stamps *st,
                             const ssi_packed *p, ss_wbuf *d)
{
    size_t total = 0;
    int head = -1;
    for (int k = 0; k < SS_CUTOUT__COUNT; k++) {
        int member = p ? p->codec[k] == SSI_CODEC_GROUP || p->codec[k] == SSI_CODEC_IN_GROUP
                       : cutouts[k].data != NULL;
        head = p && p->codec[k] == SSI_CODEC_GROUP ? k : head;
        total += member ? cutouts[k].len : 0;
    }
    if (ss_wbuf_reserve(d, total ? total : 1))
        return SS_ENOMEM;
    if (!p) {
        for (int k = 0; k < SS_CUTOUT__COUNT; k++)
            d->len += ssi_group_takes(&cutouts[k], d->data + d->len) ? cutouts[k].len : 0;
        return 0;
    }
    ss_rbuf r = {st->z.data + p->off[head], st->z.data + p->off[head] + p->len[head], 0};
    if (ss_rbuf_uvar(&r) != 0 || r.bad)
        return SS_ECORRUPT;
    size_t got = ZSTD_decompress(d->data, total, r.p, (size_t)(r.end - r.p));
    d->len = ZSTD_isError(got) || got != total ? 0 : got;
    return 0;
}

/* Writer: the store's squeezer pointed at @p survey's stamps dictionary (zstamps.c), made from
 * this alert's FITS stamps, regrouped, when the survey has none yet. Stamps packed ahead with the
 * dictionary need neither: no look-up on the writer's path for them. */
static int ssi_stamps_dict(ss_store_txn *t, const char *survey, const ss_cutout *cutouts,
                           const ss_store_stamps *st, const ssi_packed *p)
{
    int any = ssi_has_fits(cutouts, st, p);
    int rc = any ? ssi_zstamps_use(t, survey, &t->s->squeezer) : 0;
    if (rc || !any || t->s->squeezer.dict || !t->write)
        return rc;
    ss_wbuf d = {0};
    rc = ssi_group_content(cutouts, st, p, &d);
    if (!rc && d.len)
        rc = ssi_zstamps_make(t, survey, d.data, d.len);
    ss_wbuf_free(&d);
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
    int rc = ssi_stamps_dict(t, a->survey, cutouts, st, p);
    ssi_packed here;
    if (!rc && !p) { /* packed here, into t->zbuf; stamps kept as sent are not copied */
        ss_wbuf_reset(&t->zbuf);
        rc = ssi_alert_squeeze(&t->s->squeezer, cutouts, &t->zbuf, &here, 0);
        p = &here;
    }
    if (rc)
        return rc;
    const unsigned char *packed = st ? st->z.data : t->zbuf.data;
    ss_wbuf_reset(&t->buf); /* the heads; the stamps are copied straight into LMDB */
    for (int k = 0; k < SS_CUTOUT__COUNT; k++) {
        const ss_cutout *c = &cutouts[k];
        if (!p->has[k])
            continue;
        codec = p->codec[k];
        stored[count] = p->len[k];
        bytes[count] = p->off[k] == SIZE_MAX ? (const void *)c->data : packed + p->off[k];
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
    MDB_val key = {klen, kb};
    unsigned char *out = NULL;
    rc = t->s->has_stamps ? ssi_chunk_reserve(t, &key, len + t->buf.len, count, a->mjd, &out)
                          : ssi_record_reserve(t, &key, len + t->buf.len, &out);
    if (rc)
        return rc == MDB_KEYEXIST ? 0 : rc; /* an existing one is kept as it was */
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

/* Decompress a stamp of codec ZSTD or ZSTD_FITS into memory of @p t, valid until the transaction
 * ends. */
static int ssi_stamp_unpack(ss_store_txn *t, const void *z, size_t zlen, size_t len, uint8_t codec,
                            ss_store_cutout *out)
{
    if (!t->arena && !(t->arena = ss_arena_new()))
        return SS_ENOMEM;
    unsigned char *raw = ss_arena_alloc(t->arena, len ? len : 1), *fits = raw;
    if (raw && codec == SSI_CODEC_ZSTD_FITS)
        raw = ss_arena_alloc(t->arena, len ? len : 1); /* regrouped, undone into fits */
    if (!raw)
        return SS_ENOMEM;
    size_t n = ZSTD_decompress(raw, len, z, zlen);
    if (ZSTD_isError(n) || n != len)
        return SS_ECORRUPT;
    if (codec == SSI_CODEC_ZSTD_FITS && !ssi_fits_shuffle(raw, len, fits, 1))
        return SS_ECORRUPT; /* it held an array when written */
    out->bytes = fits;
    out->len = len;
    return 0;
}

/* One stamp's head in a packed record, and its bytes there. */
typedef struct ssi_head {
    uint8_t kind, codec;
    const char *name;
    uint32_t name_len;
    uint64_t len, stored;
    const unsigned char *bytes;
} ssi_head;

/* The heads of packed record @p v (at most one stamp a kind), checked: a group's members come
 * after its first stamp and keep no bytes. @return 0 or SS_ECORRUPT. */
static int ssi_heads_read(const MDB_val *v, ssi_head *h, uint8_t *count)
{
    ss_rbuf r = {v->mv_data, (const unsigned char *)v->mv_data + v->mv_size, 0};
    if (ss_rbuf_u8(&r) != SSI_CUTOUTS_PACKED || (*count = ss_rbuf_u8(&r)) > SS_CUTOUT__COUNT)
        return SS_ECORRUPT;
    int grouped = 0;
    for (uint8_t i = 0; i < *count; i++) {
        ssi_head *x = &h[i];
        x->kind = ss_rbuf_u8(&r), x->codec = ss_rbuf_u8(&r);
        x->name = ss_rbuf_vstr(&r, &x->name_len);
        x->len = ss_rbuf_uvar(&r), x->stored = ss_rbuf_uvar(&r);
        x->bytes = r.p;
        int member = x->codec == SSI_CODEC_IN_GROUP;
        if (r.bad || x->kind >= SS_CUTOUT__COUNT || x->codec > SSI_CODEC_IN_GROUP ||
            x->stored > (uint64_t)(r.end - r.p) || x->len > SSI_STAMP_MAX ||
            (x->codec == SSI_CODEC_RAW && x->stored != x->len) ||
            (member && (x->stored || !grouped)) || (x->codec == SSI_CODEC_GROUP && grouped++))
            return SS_ECORRUPT;
        r.p += x->stored;
    }
    return r.p == r.end ? 0 : SS_ECORRUPT;
}

/* The group that head @p g of @p h starts, decompressed (its stamps regrouped, one after the
 * other in the record's order) into memory of @p t at *out. */
static int ssi_group_unpack(ss_store_txn *t, const ssi_head *h, uint8_t count, uint8_t g,
                            unsigned char **out)
{
    uint64_t total = h[g].len;
    for (uint8_t i = g + 1; i < count; i++)
        total += h[i].codec == SSI_CODEC_IN_GROUP ? h[i].len : 0;
    if (total > SSI_STAMP_MAX * SS_CUTOUT__COUNT)
        return SS_ECORRUPT;
    if (!t->arena && !(t->arena = ss_arena_new()))
        return SS_ENOMEM;
    if (!(*out = ss_arena_alloc(t->arena, total ? (size_t)total : 1)))
        return SS_ENOMEM;
    ss_rbuf r = {h[g].bytes, h[g].bytes + h[g].stored, 0};
    uint64_t number = ss_rbuf_uvar(&r);
    if (r.bad || number > UINT32_MAX)
        return SS_ECORRUPT;
    if (number)
        return ssi_zstamps_expand(t, (uint32_t)number, r.p, (size_t)(r.end - r.p), *out,
                                  (size_t)total);
    size_t n = ZSTD_decompress(*out, (size_t)total, r.p, (size_t)(r.end - r.p));
    return ZSTD_isError(n) || n != total ? SS_ECORRUPT : 0;
}

/* Stamp @p x of a group, regrouped at @p from, undone into memory of @p t. */
static int ssi_group_member(ss_store_txn *t, const ssi_head *x, const unsigned char *from,
                            ss_store_cutout *c)
{
    unsigned char *fits = ss_arena_alloc(t->arena, x->len ? (size_t)x->len : 1);
    if (!fits)
        return SS_ENOMEM;
    if (!ssi_fits_shuffle(from, (size_t)x->len, fits, 1))
        return SS_ECORRUPT; /* it held an array when written */
    c->bytes = fits;
    return 0;
}

/* Each stamp of a packed record to @p fn; without @p t, compressed ones are passed as stored. */
static int ssi_packed_each(ss_store_txn *t, const MDB_val *v, ss_store_cutout *c,
                           ss_store_cutout_fn fn, void *ctx)
{
    ssi_head h[SS_CUTOUT__COUNT];
    uint8_t count;
    int rc = ssi_heads_read(v, h, &count);
    unsigned char *group = NULL;
    size_t at = 0;
    for (uint8_t i = 0; !rc && i < count; i++) {
        const ssi_head *x = &h[i];
        c->kind = (ss_cutout_kind)x->kind;
        c->file_name = x->name, c->file_name_len = x->name_len;
        c->bytes = x->bytes, c->len = (size_t)x->len;
        int grouped = x->codec == SSI_CODEC_GROUP || x->codec == SSI_CODEC_IN_GROUP;
        if (t && x->codec == SSI_CODEC_GROUP)
            rc = ssi_group_unpack(t, h, count, i, &group), at = 0;
        if (!rc && t && grouped)
            rc = ssi_group_member(t, x, group + at, c), at += (size_t)x->len;
        else if (!rc && t && x->codec != SSI_CODEC_RAW)
            rc = ssi_stamp_unpack(t, x->bytes, (size_t)x->stored, (size_t)x->len, x->codec, c);
        if (!rc)
            rc = fn(ctx, c);
    }
    return rc;
}

/* A format 11 reference: its stamps' count and where its packed record is. */
typedef struct ssi_ref {
    uint8_t count;
    uint64_t chunk, off, len;
} ssi_ref;

static int ssi_is_ref(const MDB_val *v)
{
    return v->mv_size && *(const unsigned char *)v->mv_data == SSI_CUTOUTS_REF;
}

static int ssi_ref_read(const MDB_val *v, ssi_ref *ref)
{
    ss_rbuf r = {v->mv_data, (const unsigned char *)v->mv_data + v->mv_size, 0};
    if (ss_rbuf_u8(&r) != SSI_CUTOUTS_REF)
        return SS_ECORRUPT;
    ref->count = ss_rbuf_u8(&r);
    ref->chunk = ss_rbuf_uvar(&r);
    ref->off = ss_rbuf_uvar(&r);
    ref->len = ss_rbuf_uvar(&r);
    return r.bad || r.p != r.end ? SS_ECORRUPT : 0;
}

/* Whether @p ref's record lies in a chunk of @p size bytes. */
static int ssi_ref_fits(const ssi_ref *ref, size_t size)
{
    return ref->off >= SSI_CHUNK_HEAD && ref->off <= size && ref->len <= size - ref->off;
}

int ssi_chunk_place(const MDB_val *v, double *newest, uint64_t *off, uint64_t *len)
{
    const unsigned char *p = v->mv_data;
    int filed = v->mv_size == SSI_CHUNK_PLACE && p[0] == SSI_CHUNK_FILED;
    if (!filed && (v->mv_size < SSI_CHUNK_HEAD || p[0] != SSI_CHUNK_VERSION))
        return SS_ECORRUPT;
    uint64_t bits = ss_be64_get(p + 8);
    memcpy(newest, &bits, sizeof bits);
    *off = filed ? ss_be64_get(p + SSI_CHUNK_HEAD) : 0;
    *len = filed ? ss_be64_get(p + SSI_CHUNK_HEAD + 8) : 0;
    return filed && *len < SSI_CHUNK_HEAD ? SS_ECORRUPT : 0;
}

/* Where the packed record @p ref names lies, in the stamps table as @p txn sees it: in the map
 * (*out), or for a chunk in the stamps file at *at there (*at is 0 for one in the map). */
static int ssi_ref_slice(ss_store *s, MDB_txn *txn, const ssi_ref *ref, MDB_val *out, uint64_t *at)
{
    unsigned char kb[8];
    ss_be64_put(kb, ref->chunk);
    MDB_val k = {sizeof kb, kb}, v;
    double newest;
    uint64_t off, len;
    int rc = s->has_stamps ? mdb_get(txn, s->stamps, &k, &v) : MDB_NOTFOUND;
    if (rc == MDB_NOTFOUND || (!rc && (ssi_chunk_place(&v, &newest, &off, &len) ||
                                       !ssi_ref_fits(ref, len ? len : v.mv_size))))
        return SS_ECORRUPT; /* a reference to no chunk, or past its end */
    if (rc)
        return rc;
    *at = len ? off + ref->off : 0;
    out->mv_data = len ? NULL : (char *)v.mv_data + ref->off;
    out->mv_size = (size_t)ref->len;
    return 0;
}

/* A copy in @p t's arena of @p len bytes at @p from: the chunk filling, or the stamps file at
 * @p at when @p from is NULL. */
static int ssi_record_copy(ss_store_txn *t, const void *from, uint64_t at, size_t len, MDB_val *out)
{
    if (!t->arena && !(t->arena = ss_arena_new()))
        return SS_ENOMEM;
    void *copy = ss_arena_alloc(t->arena, len ? len : 1);
    if (!copy)
        return SS_ENOMEM;
    int rc = from ? (memcpy(copy, from, len), 0) : ssi_stamps_file_read(t->s, copy, len, at);
    *out = (MDB_val){len, copy};
    return rc;
}

int ssi_cutouts_record(ss_store_txn *t, const MDB_val *v, MDB_val *out)
{
    ssi_ref ref;
    uint64_t at = 0;
    if (!ssi_is_ref(v)) {
        *out = *v;
        return 0;
    }
    if (ssi_ref_read(v, &ref))
        return SS_ECORRUPT;
    if (t->chunk.len <= SSI_CHUNK_HEAD || ref.chunk != t->chunk_id) {
        int rc = ssi_ref_slice(t->s, t->txn, &ref, out, &at);
        return rc || !at ? rc : ssi_record_copy(t, NULL, at, out->mv_size, out);
    }
    if (!ssi_ref_fits(&ref, t->chunk.len))
        return SS_ECORRUPT;
    return ssi_record_copy(t, t->chunk.data + ref.off, 0, (size_t)ref.len, out);
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

/* Each stamp of cutouts record @p v, whose key ends in @p last, to @p fn. */
static int ssi_record_each(ss_store_txn *t, const MDB_val *v, int last, ss_store_cutout *c,
                           ss_store_cutout_fn fn, void *ctx)
{
    MDB_val rec;
    if (last != SSI_CUTOUT_ALL)
        return ssi_single(v, last, c) ? SS_ECORRUPT : fn(ctx, c);
    int rc = ssi_cutouts_record(t, v, &rec);
    return rc ? rc : ssi_packed_each(t, &rec, c, fn, ctx);
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
        if ((rc = ssi_record_each(t, &v, last, &c, fn, ctx)))
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
    ssi_ref ref;
    *stamps = 0;
    if (k->mv_size && key[k->mv_size - 1] == SSI_CUTOUT_ALL && ssi_is_ref(v)) {
        int rc = ssi_ref_read(v, &ref);
        *stamps = rc ? 0 : ref.count;
        return rc;
    }
    if (k->mv_size && key[k->mv_size - 1] == SSI_CUTOUT_ALL)
        return ssi_packed_each(NULL, v, &c, ssi_count_one, stamps);
    *stamps = 1;
    return ssi_single(v, k->mv_size ? key[k->mv_size - 1] : SS_CUTOUT__COUNT, &c);
}

int ssi_cutouts_check(ss_store *s, MDB_txn *txn, const MDB_val *k, const MDB_val *v,
                      uint64_t *stamps)
{
    int rc = ssi_cutouts_count(k, v, stamps);
    if (rc || !ssi_is_ref(v))
        return rc;
    ssi_ref ref;
    MDB_val rec;
    ss_store_cutout c;
    uint64_t found = 0, at = 0;
    if (ssi_ref_read(v, &ref) || ssi_ref_slice(s, txn, &ref, &rec, &at))
        return SS_ECORRUPT;
    void *copy = at ? malloc(rec.mv_size ? rec.mv_size : 1) : NULL;
    if (at && !copy)
        return SS_ENOMEM;
    rc = at ? ssi_stamps_file_read(s, copy, rec.mv_size, at) : 0;
    if (at)
        rec.mv_data = copy;
    if (!rc && (ssi_packed_each(NULL, &rec, &c, ssi_count_one, &found) || found != ref.count))
        rc = SS_ECORRUPT;
    free(copy);
    return rc;
}

int ssi_chunk_check(ss_store *s, const MDB_val *v, uint64_t end, uint64_t size, uint64_t *next,
                    const char **why)
{
    double newest, head_newest;
    uint64_t off, len, no_off, no_len;
    unsigned char head[SSI_CHUNK_HEAD];
    *why = "its value does not decode";
    if (ssi_chunk_place(v, &newest, &off, &len))
        return SS_ECORRUPT;
    if (!len)
        return 0; /* in the table itself (formats 11-12): read with its references */
    MDB_val hv = {sizeof head, head};
    *why = off < *next ? "it overlaps the chunk before" : "it ends past the committed end";
    if (off < *next || off + len < off || off + len > end)
        return SS_ECORRUPT;
    *next = off + len;
    *why = "stamps.dat is missing or shorter than the chunk";
    if (off + len > size || ssi_stamps_file_read(s, head, sizeof head, off))
        return SS_ECORRUPT;
    *why = "stamps.dat holds another chunk's head there";
    if (ssi_chunk_place(&hv, &head_newest, &no_off, &no_len) || no_len ||
        memcmp(&newest, &head_newest, sizeof newest))
        return SS_ECORRUPT;
    return 0;
}

void ssi_chunk_moved(const MDB_val *v, uint64_t off, unsigned char *place)
{
    memcpy(place, v->mv_data, SSI_CHUNK_PLACE);
    ss_be64_put(place + SSI_CHUNK_HEAD, off);
}

int ssi_chunks_end(ss_store_txn *t, uint64_t *end)
{
    return ssi_meta_u64(t, SSI_STAMPS_END, 0, end);
}
