/* Stamps compressed with a dictionary of their survey's own stamps (format 14).
 *
 * Rubin's stamps are plain FITS whose headers (two fifths of a stamp's bytes) and PSF arrays
 * repeat from alert to alert. zstd compresses each stamp from nothing; given an earlier alert's
 * stamps as a dictionary, it finds those repeats at once, and a long match is cheaper to find than
 * a run of literals. On the 300 stamps of ../shared/data's 100 Rubin alerts, regrouped, with the
 * first alert's three as the dictionary: level -60 keeps 0.530 of the bytes at 3.2 GB/s, against
 * 0.5395 at 2.6 GB/s for level -20 without one (compression alone, interleaved runs).
 *
 * zdict table: "t" + survey -> u32 BE number of the survey's stamps dictionary; "d" + number -> its
 * bytes: the regrouped FITS stamps of the first alert the writer stored with any, at most
 * SSI_ZSTAMPS_MAX bytes, as zstd's "raw content" (they start as FITS does, "SIMPLE  =", which zstd
 * never takes for a trained dictionary's magic number). Made in the transaction that stores that
 * alert and never changed; the stamps stored before keep their codec. The dictionary is attached
 * to each frame rather than copied into it: copying its tables cost more than a stamp's
 * compression saved.
 *
 * zstd's API for raw-content dictionaries with chosen parameters (ZSTD_createCDict_advanced) and
 * for attaching them is its "experimental" section (ZSTD_STATIC_LINKING_ONLY): unchanged since
 * 1.4 and exported by Debian's libzstd, but not promised by zstd's ABI. skysieve is built against
 * the libzstd-dev of the system it runs on, whose header matches its library; a library of
 * another version needs a rebuild. The frames themselves are zstd's stable format. */
#define ZSTD_STATIC_LINKING_ONLY
#include "store_impl.h"

#include <string.h>

/* A dictionary this large holds three of Rubin's stamps (35 kB each); more costs memory and the
 * time to prepare it, for repeats the first ones already hold. */
#define SSI_ZSTAMPS_MAX ((size_t)128 << 10)
/* The size of a frame zstd is told to expect when choosing its parameters: a Rubin alert's three
 * stamps (cutouts.c compresses an alert's FITS stamps together). */
#define SSI_ZSTAMPS_HINT 120000

int ssi_zstamps_content(const void *d, size_t len)
{
    return len >= 9 && !memcmp(d, "SIMPLE  =", 9);
}

/* The prepared form of @p d at @p level, the hash table as cutouts.c has it without one. */
static ZSTD_CDict *ssi_zstamps_cdict(const MDB_val *v, int level)
{
    ZSTD_compressionParameters p = ZSTD_getCParams(level, SSI_ZSTAMPS_HINT, v->mv_size);
    if (level < 0)
        p.hashLog = SSI_ZSTD_HASH_LOG;
    return ZSTD_createCDict_advanced(v->mv_data, v->mv_size, ZSTD_dlm_byCopy, ZSTD_dct_rawContent,
                                     p, ZSTD_defaultCMem);
}

/* Dictionary @p number prepared for stamps at @p level (the store's: one form per dictionary). */
static int ssi_zstamps_prepared(ss_store_txn *t, uint32_t number, int level, const ZSTD_CDict **out)
{
    ssi_zdict *d;
    int rc = ssi_zdict_get(t, number, 0, &d);
    if (rc)
        return rc;
    ssi_zrec *z = &t->s->zrec;
    pthread_mutex_lock(&z->lock);
    *out = d->stamps;
    pthread_mutex_unlock(&z->lock);
    if (*out)
        return 0;
    unsigned char kb[5];
    ssi_zkey_number(kb, number);
    MDB_val k = {sizeof kb, kb}, v;
    if ((rc = mdb_get(t->txn, t->s->zdict, &k, &v)))
        return rc == MDB_NOTFOUND ? SS_ECORRUPT : rc;
    if (!ssi_zstamps_content(v.mv_data, v.mv_size))
        return SS_ECORRUPT;
    ZSTD_CDict *made = ssi_zstamps_cdict(&v, level);
    if (!made)
        return SS_ENOMEM;
    pthread_mutex_lock(&z->lock); /* the other thread may have made it meanwhile */
    if (!d->stamps)
        d->stamps = made, made = NULL;
    *out = d->stamps;
    pthread_mutex_unlock(&z->lock);
    ZSTD_freeCDict(made);
    return 0;
}

int ssi_zstamps_use(ss_store_txn *t, const char *survey, ssi_squeezer *q)
{
    uint32_t number = 0;
    int rc = ssi_zdict_named(t, 't', survey, &number);
    if (rc == SS_ENOTFOUND)
        number = 0, rc = 0;
    if (rc || number == q->dict)
        return rc;
    q->dict = 0;
    q->cdict = NULL;
    if (number &&
        !(rc = ssi_zstamps_prepared(t, number, q->level ? q->level : SS_STAMP_LEVEL, &q->cdict)))
        q->dict = number;
    return rc;
}

int ssi_zstamps_make(ss_store_txn *t, const char *survey, const void *d, size_t len)
{
    ssi_squeezer *q = &t->s->squeezer;
    int rc = ssi_zstamps_use(t, survey, q);
    if (rc || q->dict || !t->s->has_zdict || !ssi_zstamps_content(d, len))
        return rc;
    uint32_t number;
    if ((rc = ssi_zdict_name(t, 't', survey, d, len < SSI_ZSTAMPS_MAX ? len : SSI_ZSTAMPS_MAX, 0,
                             &number)))
        return rc;
    return ssi_zstamps_use(t, survey, q);
}

int ssi_zstamps_expand(ss_store_txn *t, uint32_t number, const void *z, size_t zlen, void *out,
                       size_t len)
{
    ssi_zdict *d;
    int rc = ssi_zdict_get(t, number, 0, &d);
    if (rc)
        return rc;
    ZSTD_DCtx *dctx = ssi_zrec_dctx(t);
    if (!dctx)
        return SS_ENOMEM;
    size_t got = ZSTD_decompress_usingDDict(dctx, out, len, z, zlen, d->ddict);
    return ZSTD_isError(got) || got != len ? SS_ECORRUPT : 0;
}
