/* Alert records' property lists packed before their write transaction (ss_store_lists).
 *
 * A ZTF alert brings twenty or so history entries, each a record whose property lists the writer
 * packed and compressed with its survey's dictionary: about a third of an ingest's writing
 * thread, while its decoding thread waited half the time. What that work needs from the store is
 * fixed once committed: a list's dictionary id and the survey's dictionary never change. So
 * another thread packs the lists whose ids and dictionary a committed transaction made; the rest
 * (a new list of names, a survey still gathering samples to train its dictionary on) are left to
 * the writer, which then packs them as it always did. The records are the writer's own. */
#include "store_impl.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

/* One record's lists in the set's buffer (an offset: the buffer moves as it grows). */
typedef struct ssi_item {
    size_t off, len;
    int8_t state; /* 0 left to the writer, 1 packed plain, 2 packed and compressed */
} ssi_item;

/* A survey's committed dictionary as this set compresses with it; cdict NULL: none seen in the
 * snapshot of the batch (looked for again after a reset, since the writer may train one). */
typedef struct ssi_esurvey {
    char survey[SS_SURVEY_MAX + 1];
    uint32_t number;
    ZSTD_CDict *cdict;
} ssi_esurvey;

struct ss_store_lists {
    ss_store *s;
    ZSTD_CCtx *cctx;
    ss_wbuf b, scratch;
    ssi_item *items;
    uint32_t n, cap;
    ssi_esurvey *sv;
    uint32_t nsv, capsv;
    ssi_names_memo memo; /* valid within one packet (ss_store_lists_packet) */
    int by_packet;       /* the caller says where packets begin: the memo is used */
};

ss_store_lists *ss_store_lists_new(ss_store *s)
{
    ss_store_lists *ls = calloc(1, sizeof *ls);
    if (ls)
        ls->s = s, ls->memo.n = UINT32_MAX;
    return ls;
}

void ss_store_lists_free(ss_store_lists *ls)
{
    if (!ls)
        return;
    for (uint32_t i = 0; i < ls->nsv; i++)
        ZSTD_freeCDict(ls->sv[i].cdict);
    free(ls->sv);
    ZSTD_freeCCtx(ls->cctx);
    ss_wbuf_free(&ls->b);
    ss_wbuf_free(&ls->scratch);
    free(ls->items);
    free(ls->memo.names);
    free(ls);
}

void ss_store_lists_packet(ss_store_lists *ls)
{
    ls->memo.n = UINT32_MAX; /* the last packet's names may be gone, their addresses reused */
    ls->by_packet = 1;
}

void ss_store_lists_reset(ss_store_lists *ls)
{
    ls->memo.n = UINT32_MAX;
    ls->by_packet = 0;
    ss_wbuf_reset(&ls->b);
    ls->n = 0;
    uint32_t kept = 0; /* surveys without a dictionary are looked for again */
    for (uint32_t i = 0; i < ls->nsv; i++)
        if (ls->sv[i].cdict)
            ls->sv[kept++] = ls->sv[i];
    ls->nsv = kept;
}

size_t ss_store_lists_bytes(const ss_store_lists *ls)
{
    return ls->b.len + (size_t)ls->n * sizeof *ls->items;
}

/* @p survey's entry, made on first sight (cdict NULL when @p snap has no dictionary for it).
 * @return 0, SS_ENOMEM, SS_ECORRUPT or an LMDB code. */
static int ssi_esurvey_get(ss_store_lists *ls, ss_store_txn *snap, const char *survey,
                           const ssi_esurvey **out)
{
    for (uint32_t i = 0; i < ls->nsv; i++)
        if (!strcmp(ls->sv[i].survey, survey))
            return *out = &ls->sv[i], 0;
    *out = NULL;
    size_t len = strlen(survey);
    if (len > SS_SURVEY_MAX) /* the writer keeps no dictionary for it either */
        return 0;
    MDB_val dict;
    uint32_t number = 0;
    int rc = ssi_zrec_committed(snap, survey, &number, &dict);
    if (rc && rc != SS_ENOTFOUND)
        return rc;
    ssi_esurvey *grown = ssi_grow(ls->sv, &ls->capsv, ls->nsv, sizeof *grown, 4);
    if (!grown)
        return SS_ENOMEM;
    ls->sv = grown;
    ssi_esurvey *e = &ls->sv[ls->nsv];
    *e = (ssi_esurvey){.number = number};
    memcpy(e->survey, survey, len + 1);
    if (!rc && !(e->cdict = ssi_zrec_cdict_new(dict.mv_data, dict.mv_size)))
        return SS_ENOMEM;
    ls->nsv++;
    *out = e;
    return 0;
}

/* Pack @p a's lists at the end of ls->b as the writer would. @return the item's state, or an
 * error (the buffer then as it was). */
static int ssi_lists_pack(ss_store_lists *ls, ss_store_txn *snap, const ss_alert *a,
                          const ss_prop *survey_locus, uint32_t n)
{
    const ssi_esurvey *e = NULL;
    size_t at = ls->b.len;
    int rc = ssi_esurvey_get(ls, snap, a->survey, &e);
    /* a survey without a committed dictionary: its records are the writer's samples */
    if (rc || !e || !e->cdict ||
        (rc = ssi_lists_early(ls->s, a, survey_locus, n, ls->by_packet ? &ls->memo : NULL,
                              &ls->b)) != 1)
        return rc;
    if (!ls->cctx && !(ls->cctx = ssi_zrec_cctx_new()))
        rc = SS_ENOMEM;
    else
        rc = ssi_zrec_frame(ls->cctx, e->cdict, e->number, &ls->b, at, &ls->scratch);
    if (rc < 0)
        ls->b.len = at;
    return rc < 0 ? rc : 1 + rc;
}

int ss_store_lists_pack(ss_store_lists *ls, ss_store_txn *snap, const ss_alert *a,
                        const ss_prop *survey_locus, uint32_t nsurvey_locus, uint32_t *index)
{
    ssi_item *grown = ssi_grow(ls->items, &ls->cap, ls->n, sizeof *grown, 256);
    if (!grown)
        return SS_ENOMEM;
    ls->items = grown;
    size_t at = ls->b.len;
    int rc = snap && a->survey && ls->s->has_zdict
                 ? ssi_lists_pack(ls, snap, a, survey_locus, nsurvey_locus)
                 : 0;
    if (rc == SS_ENOMEM || ls->b.failed)
        return SS_ENOMEM;
    /* anything else the snapshot could not tell is the writer's to find again */
    ls->items[ls->n] = (ssi_item){at, ls->b.len - at, (int8_t)(rc > 0 ? rc : 0)};
    if (rc <= 0)
        ls->b.len = at;
    *index = ls->n++;
    return 0;
}

int ssi_lists_get(const ss_store_lists *ls, uint32_t index, ssi_lists *out)
{
    if (index >= ls->n)
        return SS_EINVAL;
    const ssi_item *it = &ls->items[index];
    *out = (ssi_lists){ls->b.data + it->off, it->len, it->state == 2};
    return it->state != 0;
}
