/* Alert records compressed with dictionaries trained on the store's own (format 10).
 *
 * A survey's records repeat one structure: the ids of their name lists, the tag bytes, strings
 * such as image file names and pipeline versions, values that vary little. zstd alone shrinks one
 * ZTF history entry of ~280 bytes by 8%; with a 16 kB dictionary trained on other records of its
 * survey, by about 40% (ELAsTiCC's and Rubin's alike), measured on records left out of the
 * training.
 * So the writer keeps the property lists of each survey's first records as samples, trains a
 * dictionary once it has enough, keeps it in the zdict table and compresses the property lists of
 * that survey's later records with it (record version 8, record_pack.c). Records written before
 * stay as they are.
 *
 * zdict table: "d" + u32 BE number -> a dictionary (zstd's format); "s" + survey -> u32 BE number
 * of that survey's dictionary. Numbers are dense from 1 and never change once committed, so any
 * process caches what it read; a dictionary trained by a write transaction that then aborts is
 * dropped from the cache with it (ssi_zrec_end()), and its number is free again. */
#include "store_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zdict.h>

/* Property lists shorter than this are not worth a frame (a tuple's few numbers). */
#define SSI_ZREC_MIN 64u
/* Training: enough samples to generalise (records held out of 900 ZTF history entries compress as
 * well as those trained on), at most this many bytes of them, and dictionaries of this size
 * (2-64 kB gave ratios within 3% on held-out records). Level -1 leaves literals uncompressed: on
 * held-out ZTF and ELAsTiCC records it keeps 0.60-0.62 of the bytes against level 1's 0.57-0.59,
 * and decompresses a record in 0.2 us against 0.8 (a light curve is read a record a point), and
 * compresses in 1.3 us against 1.5. */
#define SSI_ZREC_SAMPLES      1000u
#define SSI_ZREC_SAMPLE_BYTES ((size_t)1 << 20)
#define SSI_ZREC_SAMPLE_MAX   ((size_t)16 << 10)
#define SSI_ZREC_DICT_BYTES   ((size_t)16 << 10)
#define SSI_ZREC_LEVEL        (-1)
/* Groups (group.c): a packet's twenty ZTF measurements compress together to about half of what
 * they take compressed one by one, and are read a packet at a time: level 2, where records take
 * -1. Their dictionary is trained on groups, larger samples, into a larger dictionary. Level 3
 * kept 4% fewer bytes of groups (0.25% of a ZTF alert with its stamps) and took a tenth more of
 * the ingest: bench_avro, 200,024 ZTF alerts, 0.459 / 0.474 of avro-c against 0.427 / 0.425. */
#define SSI_ZGROUP_LEVEL        2
#define SSI_ZGROUP_SAMPLES      1000u
#define SSI_ZGROUP_SAMPLE_BYTES ((size_t)4 << 20)
#define SSI_ZGROUP_SAMPLE_MAX   ((size_t)64 << 10)
#define SSI_ZGROUP_DICT_BYTES   ((size_t)64 << 10)
/* A survey whose samples train no dictionary this many times is left uncompressed. */
#define SSI_ZREC_TRIES 3u
/* Idle decompression contexts kept. */
#define SSI_ZREC_IDLE 8u

/* The most a frame of @p z bytes may hold: the writer keeps a record plain past it, and a reader
 * takes a larger length for damage (not a reason to allocate it). */
static uint64_t ssi_zrec_max_plain(uint64_t z)
{
    return z * 1024 + 65536;
}

void ssi_zrec_init(ssi_zrec *z)
{
    memset(z, 0, sizeof *z);
    pthread_mutex_init(&z->lock, NULL);
}

static void ssi_zdict_free(ssi_zdict *d)
{
    ZSTD_freeCDict(d->cdict);
    ZSTD_freeCDict(d->gcdict);
    ZSTD_freeCDict(d->stamps);
    ZSTD_freeDDict(d->ddict);
    free(d);
}

static void ssi_zsamples_clear(ssi_zsurvey *zs)
{
    ss_wbuf_free(&zs->bytes);
    free(zs->sizes);
    zs->sizes = NULL;
    zs->n = zs->cap = 0;
}

void ssi_zrec_free(ssi_zrec *z)
{
    for (uint32_t i = 0; i < z->nd; i++)
        ssi_zdict_free(z->d[i]);
    for (uint32_t i = 0; i < z->ns; i++)
        ssi_zsamples_clear(&z->s[i]);
    for (uint32_t i = 0; i < z->nidle; i++)
        ZSTD_freeDCtx(z->idle[i]);
    ZSTD_freeCCtx(z->cctx);
    free(z->d), free(z->s), free(z->idle);
    pthread_mutex_destroy(&z->lock);
}

void ssi_zrec_end(ss_store *s, int committed)
{
    ssi_zrec *z = &s->zrec;
    pthread_mutex_lock(&z->lock);
    uint32_t kept = 0;
    for (uint32_t i = 0; i < z->nd; i++) {
        if (committed || z->d[i]->committed) {
            z->d[i]->committed = 1;
            z->d[kept++] = z->d[i];
        } else {
            ssi_zdict_free(z->d[i]);
        }
    }
    z->nd = kept;
    pthread_mutex_unlock(&z->lock);
    for (uint32_t i = 0; i < z->ns; i++) {
        if (z->s[i].fresh && !committed) /* gather again: the dictionary went with the txn */
            z->s[i].number = 0;
        z->s[i].fresh = 0;
    }
}

ZSTD_DCtx *ssi_zrec_dctx(ss_store_txn *t)
{
    ssi_zrec *z = &t->s->zrec;
    if (t->zdctx)
        return t->zdctx;
    pthread_mutex_lock(&z->lock);
    t->zdctx = z->nidle ? z->idle[--z->nidle] : NULL;
    pthread_mutex_unlock(&z->lock);
    if (!t->zdctx)
        t->zdctx = ZSTD_createDCtx();
    return t->zdctx;
}

void ssi_zrec_txn_done(ss_store_txn *t)
{
    ssi_zrec *z = &t->s->zrec;
    if (!t->zdctx)
        return;
    pthread_mutex_lock(&z->lock);
    if (z->nidle < SSI_ZREC_IDLE && (z->idle || (z->idle = calloc(SSI_ZREC_IDLE, sizeof *z->idle))))
        z->idle[z->nidle++] = t->zdctx, t->zdctx = NULL;
    pthread_mutex_unlock(&z->lock);
    ZSTD_freeDCtx(t->zdctx); /* NULL when kept */
    t->zdctx = NULL;
}

void *ssi_grow(void *items, uint32_t *cap, uint32_t n, size_t size, uint32_t first)
{
    if (n < *cap)
        return items;
    uint32_t want = *cap ? *cap * 2 : first;
    void *grown = realloc(items, (size_t)want * size);
    if (grown)
        *cap = want;
    return grown;
}

static ssi_zdict *ssi_zdict_find(ssi_zrec *z, uint32_t number)
{
    for (uint32_t i = 0; i < z->nd; i++)
        if (z->d[i]->number == number)
            return z->d[i];
    return NULL;
}

/* Add @p d to the cache, unless another transaction of the process added its number first (then
 * @p d is freed and *out is that one). */
static int ssi_zdict_add(ssi_zrec *z, ssi_zdict *d, ssi_zdict **out)
{
    int rc = 0;
    pthread_mutex_lock(&z->lock);
    ssi_zdict *had = ssi_zdict_find(z, d->number);
    ssi_zdict **grown = had ? z->d : ssi_grow(z->d, &z->capd, z->nd, sizeof *z->d, 8);
    if (grown)
        z->d = grown;
    else
        rc = SS_ENOMEM;
    if (!had && !rc)
        z->d[z->nd++] = d;
    pthread_mutex_unlock(&z->lock);
    if (had || rc)
        ssi_zdict_free(d);
    *out = rc ? NULL : had ? had : d;
    return rc;
}

void ssi_zkey_number(unsigned char k[5], uint32_t number)
{
    k[0] = 'd';
    ss_be32_put(k + 1, number);
}

/* The key @p kind + survey ("s": a survey's records' dictionary, "t": its stamps', "g": its
 * groups'); its length, 0 when @p survey is longer than SS_SURVEY_MAX. */
static size_t ssi_zkey_survey(unsigned char k[1 + SS_SURVEY_MAX], char kind, const char *survey)
{
    size_t len = strlen(survey);
    if (len > SS_SURVEY_MAX)
        return 0;
    k[0] = (unsigned char)kind;
    memcpy(k + 1, survey, len);
    return 1 + len;
}

/* The writer's prepared form @p form of @p d: 1 records', 2 groups'. */
static ZSTD_CDict **ssi_zdict_form(ssi_zdict *d, int form)
{
    return form == 2 ? &d->gcdict : &d->cdict;
}

static ZSTD_CDict *ssi_zdict_prepare(const MDB_val *v, int form)
{
    return ZSTD_createCDict(v->mv_data, v->mv_size, form == 2 ? SSI_ZGROUP_LEVEL : SSI_ZREC_LEVEL);
}

/* A dictionary as stored, prepared for reading (and for the writer, writing @p form: 0 none). */
static int ssi_zdict_make(const MDB_val *v, uint32_t number, int form, int committed,
                          ssi_zdict **out)
{
    ssi_zdict *d = calloc(1, sizeof *d);
    if (!d)
        return SS_ENOMEM;
    d->number = number;
    d->committed = committed;
    d->ddict = ZSTD_createDDict(v->mv_data, v->mv_size);
    if (form)
        *ssi_zdict_form(d, form) = ssi_zdict_prepare(v, form);
    if (!d->ddict || (form && !*ssi_zdict_form(d, form))) {
        ssi_zdict_free(d);
        return SS_ENOMEM;
    }
    *out = d;
    return 0;
}

int ssi_zdict_get(ss_store_txn *t, uint32_t number, int form, ssi_zdict **out)
{
    ssi_zrec *z = &t->s->zrec;
    form = t->write ? form : 0;
    pthread_mutex_lock(&z->lock);
    ssi_zdict *d = ssi_zdict_find(z, number);
    pthread_mutex_unlock(&z->lock);
    if (d && (!form || *ssi_zdict_form(d, form))) { /* only the writer sets its forms */
        *out = d;
        return 0;
    }
    if (!t->s->has_zdict)
        return SS_ECORRUPT;
    unsigned char kb[5];
    ssi_zkey_number(kb, number);
    MDB_val k = {sizeof kb, kb}, v;
    int rc = mdb_get(t->txn, t->s->zdict, &k, &v);
    if (rc)
        return rc == MDB_NOTFOUND ? SS_ECORRUPT : rc;
    if (d) { /* read by a reader of this process first: the writer adds its own form */
        pthread_mutex_lock(&z->lock);
        ZSTD_CDict **c = ssi_zdict_form(d, form);
        if (!*c)
            *c = ssi_zdict_prepare(&v, form);
        pthread_mutex_unlock(&z->lock);
        *out = d;
        return *c ? 0 : SS_ENOMEM;
    }
    if ((rc = ssi_zdict_make(&v, number, form, 1, &d)))
        return rc;
    return ssi_zdict_add(z, d, out);
}

int ssi_zrec_expand(ss_store_txn *t, ss_rbuf *r)
{
    uint64_t number = ss_rbuf_uvar(r), n = ss_rbuf_uvar(r);
    if (!t || r->bad || !number || number > UINT32_MAX ||
        n > ssi_zrec_max_plain((uint64_t)(r->end - r->p)))
        return SS_ECORRUPT;
    ssi_zdict *d = t->zlast;
    int rc = d && d->number == number ? 0 : ssi_zdict_get(t, (uint32_t)number, 0, &d);
    if (rc)
        return rc;
    t->zlast = d; /* a light curve's records share it: no lock for the next */
    ZSTD_DCtx *dctx = ssi_zrec_dctx(t);
    ss_wbuf_reset(&t->zplain);
    if (!dctx || ss_wbuf_reserve(&t->zplain, (size_t)n + 1))
        return SS_ENOMEM;
    size_t got = ZSTD_decompress_usingDDict(dctx, t->zplain.data, (size_t)n, r->p,
                                            (size_t)(r->end - r->p), d->ddict);
    if (ZSTD_isError(got) || got != n)
        return SS_ECORRUPT;
    *r = (ss_rbuf){t->zplain.data, t->zplain.data + n, 0};
    return 0;
}

/* ---- the writer ---- */

static int ssi_zdict_next(ss_store_txn *t, uint32_t *number);

int ssi_zdict_named(ss_store_txn *t, char kind, const char *survey, uint32_t *number)
{
    unsigned char kb[1 + SS_SURVEY_MAX];
    size_t klen = ssi_zkey_survey(kb, kind, survey);
    if (!t->s->has_zdict || !klen)
        return SS_ENOTFOUND;
    MDB_val k = {klen, kb}, v;
    int rc = mdb_get(t->txn, t->s->zdict, &k, &v);
    if (rc)
        return rc == MDB_NOTFOUND ? SS_ENOTFOUND : rc;
    if (v.mv_size != 4)
        return SS_ECORRUPT;
    *number = ss_be32_get(v.mv_data);
    return 0;
}

int ssi_zdict_name(ss_store_txn *t, char kind, const char *survey, const void *dict, size_t len,
                   int form, uint32_t *number)
{
    unsigned char kb[5], sk[1 + SS_SURVEY_MAX], nb[4];
    size_t sklen = ssi_zkey_survey(sk, kind, survey);
    int rc = sklen ? ssi_zdict_next(t, number) : SS_EINVAL;
    if (rc)
        return rc;
    ssi_zkey_number(kb, *number);
    ss_be32_put(nb, *number);
    MDB_val k = {sizeof kb, kb}, v = {len, (void *)dict}, k2 = {sklen, sk}, v2 = {4, nb};
    ssi_zdict *d;
    if ((rc = mdb_put(t->txn, t->s->zdict, &k, &v, 0)) ||
        (rc = mdb_put(t->txn, t->s->zdict, &k2, &v2, 0)) ||
        (rc = ssi_zdict_make(&v, *number, form, 0, &d)))
        return rc;
    return ssi_zdict_add(&t->s->zrec, d, &d);
}

/* The writer's state for @p survey, made (and its dictionary looked up) on first sight. */
static int ssi_zsurvey_get(ss_store_txn *t, char kind, const char *survey, ssi_zsurvey **out)
{
    ssi_zrec *z = &t->s->zrec;
    size_t len = strlen(survey);
    *out = NULL;
    for (uint32_t i = 0; i < z->ns; i++)
        if (z->s[i].kind == kind && !strcmp(z->s[i].survey, survey)) {
            *out = &z->s[i];
            return 0;
        }
    if (len > SS_SURVEY_MAX)
        return 0;
    ssi_zsurvey *grown = ssi_grow(z->s, &z->caps, z->ns, sizeof *z->s, 4);
    if (!grown)
        return SS_ENOMEM;
    z->s = grown;
    uint32_t number = 0;
    int rc = ssi_zdict_named(t, kind, survey, &number);
    if (rc && rc != SS_ENOTFOUND)
        return rc;
    ssi_zsurvey *zs = &z->s[z->ns++];
    memset(zs, 0, sizeof *zs);
    zs->kind = kind;
    memcpy(zs->survey, survey, len + 1);
    zs->number = number;
    *out = zs;
    return 0;
}

/* The number after the last dictionary of the table ("d" keys sort before "s" and "t" ones). */
static int ssi_zdict_next(ss_store_txn *t, uint32_t *number)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->s->zdict, &c);
    if (rc)
        return rc;
    MDB_val k = {1, "e"}, v;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    rc = mdb_cursor_get(c, &k, &v, rc == MDB_NOTFOUND ? MDB_LAST : MDB_PREV);
    mdb_cursor_close(c);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    int found = !rc && k.mv_size == 5 && *(const char *)k.mv_data == 'd';
    *number = found ? ss_be32_get((const unsigned char *)k.mv_data + 1) + 1 : 1;
    return 0;
}

/* Keep the dictionary of @p len bytes trained for @p zs, in the table and the cache. */
static int ssi_zdict_keep(ss_store_txn *t, ssi_zsurvey *zs, const void *dict, size_t len)
{
    uint32_t number;
    int rc = ssi_zdict_name(t, zs->kind, zs->survey, dict, len, zs->kind == 'g' ? 2 : 1, &number);
    if (rc)
        return rc;
    zs->number = number;
    zs->fresh = 1;
    return 0;
}

/* Train on the samples of @p zs; too few or too alike for zstd, gather twice as many next time.
 */
static int ssi_zrec_train(ss_store_txn *t, ssi_zsurvey *zs)
{
    size_t cap = zs->kind == 'g' ? SSI_ZGROUP_DICT_BYTES : SSI_ZREC_DICT_BYTES;
    void *dict = malloc(cap);
    if (!dict)
        return SS_ENOMEM;
    size_t len = ZDICT_trainFromBuffer(dict, cap, zs->bytes.data, zs->sizes, zs->n);
    int rc = 0;
    if (ZDICT_isError(len)) {
        zs->tries++;
        zs->off = zs->tries >= SSI_ZREC_TRIES;
    } else {
        rc = ssi_zdict_keep(t, zs, dict, len);
    }
    free(dict);
    ssi_zsamples_clear(zs);
    return rc;
}

static int ssi_zrec_sample(ss_store_txn *t, ssi_zsurvey *zs, const void *p, size_t n)
{
    int g = zs->kind == 'g';
    if (n > (g ? SSI_ZGROUP_SAMPLE_MAX : SSI_ZREC_SAMPLE_MAX))
        return 0;
    size_t *grown = ssi_grow(zs->sizes, &zs->cap, zs->n, sizeof *zs->sizes, 256);
    if (!grown)
        return SS_ENOMEM;
    zs->sizes = grown;
    ss_wbuf_bytes(&zs->bytes, p, n);
    if (zs->bytes.failed)
        return SS_ENOMEM;
    zs->sizes[zs->n++] = n;
    uint32_t want = (g ? SSI_ZGROUP_SAMPLES : SSI_ZREC_SAMPLES) << zs->tries;
    size_t bytes = g ? SSI_ZGROUP_SAMPLE_BYTES : SSI_ZREC_SAMPLE_BYTES;
    if (zs->n >= want || zs->bytes.len >= (bytes << zs->tries))
        return ssi_zrec_train(t, zs);
    return 0;
}

ZSTD_CCtx *ssi_zrec_cctx_new(void)
{
    ZSTD_CCtx *c = ZSTD_createCCtx();
    if (c && (ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0)) ||
              ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_dictIDFlag, 0)))) {
        ZSTD_freeCCtx(c);
        c = NULL;
    }
    return c;
}

ZSTD_CDict *ssi_zgroup_cdict_new(const void *dict, size_t len)
{
    return ZSTD_createCDict(dict, len, SSI_ZGROUP_LEVEL);
}

int ssi_zrec_frame(ZSTD_CCtx *cctx, const ZSTD_CDict *cdict, uint32_t number, ss_wbuf *b, size_t at,
                   ss_wbuf *scratch)
{
    size_t n = b->len - at;
    if (!cctx || b->failed || n < SSI_ZREC_MIN)
        return 0;
    size_t cap = ZSTD_compressBound(n);
    ss_wbuf_reset(scratch);
    if (ss_wbuf_reserve(scratch, cap))
        return SS_ENOMEM;
    size_t z = ZSTD_CCtx_refCDict(cctx, cdict);
    if (!ZSTD_isError(z))
        z = ZSTD_compress2(cctx, scratch->data, cap, b->data + at, n);
    /* kept as it is when not shorter (the number and length cost up to 8 bytes), or when so
     * repetitive that a reader would take its length for damage */
    if (ZSTD_isError(z) || z + 8 >= n || n > ssi_zrec_max_plain(z))
        return 0;
    b->len = at;
    ss_wbuf_uvar(b, number);
    ss_wbuf_uvar(b, n);
    ss_wbuf_bytes(b, scratch->data, z);
    return b->failed ? SS_ENOMEM : 1;
}

int ssi_zrec_squeeze2(ss_store_txn *t, char kind, const char *survey, ss_wbuf *b, size_t at,
                      int *squeezed)
{
    *squeezed = 0;
    size_t n = b->len - at;
    if (!t || !t->write || !t->s->has_zdict || b->failed || n < SSI_ZREC_MIN || !survey)
        return 0;
    ssi_zsurvey *zs;
    int rc = ssi_zsurvey_get(t, kind, survey, &zs);
    if (rc || !zs || zs->off)
        return rc;
    if (!zs->number)
        return ssi_zrec_sample(t, zs, b->data + at, n);
    int form = kind == 'g' ? 2 : 1;
    ssi_zdict *d = t->zlast; /* a batch's records are mostly of one survey: no lock for them */
    if (!(d && d->number == zs->number && *ssi_zdict_form(d, form)) &&
        (rc = ssi_zdict_get(t, zs->number, form, &d)))
        return rc;
    t->zlast = d;
    ssi_zrec *z = &t->s->zrec; /* the writer's context, made once: write transactions take turns */
    if (!z->cctx && !(z->cctx = ssi_zrec_cctx_new()))
        return SS_ENOMEM;
    rc = ssi_zrec_frame(z->cctx, *ssi_zdict_form(d, form), zs->number, b, at, &t->zplain);
    *squeezed = rc == 1;
    return rc == 1 ? 0 : rc;
}

int ssi_zrec_squeeze(ss_store_txn *t, const char *survey, ss_wbuf *b, size_t at, int *squeezed)
{
    return ssi_zrec_squeeze2(t, 's', survey, b, at, squeezed);
}

int ssi_zrec_committed(ss_store_txn *t, char kind, const char *survey, uint32_t *number,
                       MDB_val *dict)
{
    int rc = ssi_zdict_named(t, kind, survey, number);
    if (rc)
        return rc;
    unsigned char nb[5];
    ssi_zkey_number(nb, *number);
    MDB_val k = {sizeof nb, nb};
    rc = mdb_get(t->txn, t->s->zdict, &k, dict);
    return rc == MDB_NOTFOUND ? SS_ECORRUPT : rc;
}

/* ---- verify ---- */

/* One zdict entry: a dictionary zstd recognises (a trained one, or a survey's stamps, which start
 * as FITS does), or a survey naming one that is there. */
static void ssi_zrec_check(ss_store_txn *t, const MDB_val *k, const MDB_val *v,
                           void (*report)(void *ctx, const char *text), void *ctx)
{
    const char *key = k->mv_data;
    char text[160];
    text[0] = '\0';
    if (k->mv_size == 5 && key[0] == 'd') {
        uint32_t number = ss_be32_get((const unsigned char *)key + 1);
        if (!ZDICT_getDictID(v->mv_data, v->mv_size) &&
            !ssi_zstamps_content(v->mv_data, v->mv_size))
            snprintf(text, sizeof text, "zdict: dictionary %u is not a zstd dictionary", number);
    } else if (k->mv_size > 1 && k->mv_size <= 1 + SS_SURVEY_MAX &&
               (key[0] == 's' || key[0] == 't' || key[0] == 'g') && v->mv_size == 4) {
        unsigned char kb[5];
        ssi_zkey_number(kb, ss_be32_get(v->mv_data));
        MDB_val dk = {sizeof kb, kb}, dv;
        if (mdb_get(t->txn, t->s->zdict, &dk, &dv))
            snprintf(text, sizeof text, "zdict: survey %.*s names dictionary %u, which is missing",
                     (int)k->mv_size - 1, key + 1, ss_be32_get(v->mv_data));
    } else {
        snprintf(text, sizeof text, "zdict: an entry of unknown form (a key of %zu bytes)",
                 k->mv_size);
    }
    if (text[0])
        report(ctx, text);
}

int ssi_zrec_verify(ss_store_txn *t, void (*report)(void *ctx, const char *text), void *ctx)
{
    MDB_cursor *cur;
    MDB_val k, v;
    if (!t->s->has_zdict)
        return 0;
    int rc = mdb_cursor_open(t->txn, t->s->zdict, &cur);
    for (int op = MDB_FIRST; !rc && !(rc = mdb_cursor_get(cur, &k, &v, (MDB_cursor_op)op));
         op = MDB_NEXT)
        ssi_zrec_check(t, &k, &v, report, ctx);
    if (!rc || rc == MDB_NOTFOUND)
        mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}
