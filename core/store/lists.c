/* Packets' groups of records packed before their write transaction (ss_store_lists).
 *
 * A ZTF alert brings twenty or so history entries; packing their records and compressing them as
 * the packet's group (group.c) was about a third of an ingest's writing thread, while its decoding
 * thread waited half the time. What that work needs from the store is fixed once committed: a
 * list's dictionary id and the survey's group dictionary never change. So another thread packs
 * the groups whose ids and dictionary a committed transaction made; the rest (a new list of
 * names, a survey still gathering groups to train its dictionary on) are left to the writer,
 * which then packs them itself. The entries are the writer's own. */
#include "store_impl.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

/* One packet's group in the set's buffer (offsets: the buffers move as they grow). */
typedef struct ssi_item {
    size_t off, len;
    int packed;       /* 0: left to the writer */
    uint32_t members; /* how many of the packet's alerts it holds */
    size_t at;        /* their indexes in the packet, in ls->indexes */
} ssi_item;

/* A survey's committed group dictionary as this set compresses with it; cdict NULL: none seen in
 * the snapshot of the batch (looked for again after a reset, since the writer may train one). */
typedef struct ssi_esurvey {
    char survey[SS_SURVEY_MAX + 1];
    uint32_t number;
    ZSTD_CDict *cdict;
} ssi_esurvey;

struct ss_store_lists {
    ss_store *s;
    ZSTD_CCtx *cctx;
    ss_wbuf b, scratch;
    ss_wbuf indexes; /* uint32_t each */
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
    ss_wbuf_free(&ls->indexes);
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
    ss_wbuf_reset(&ls->indexes);
    ls->n = 0;
    uint32_t kept = 0; /* surveys without a dictionary are looked for again */
    for (uint32_t i = 0; i < ls->nsv; i++)
        if (ls->sv[i].cdict)
            ls->sv[kept++] = ls->sv[i];
    ls->nsv = kept;
}

size_t ss_store_lists_bytes(const ss_store_lists *ls)
{
    return ls->b.len + ls->indexes.len + (size_t)ls->n * sizeof *ls->items;
}

/* @p survey's entry, made on first sight (cdict NULL when @p snap has no group dictionary for
 * it). @return 0, SS_ENOMEM, SS_ECORRUPT or an LMDB code. */
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
    int rc = ssi_zrec_committed(snap, 'g', survey, &number, &dict);
    if (rc && rc != SS_ENOTFOUND)
        return rc;
    ssi_esurvey *grown = ssi_grow(ls->sv, &ls->capsv, ls->nsv, sizeof *grown, 4);
    if (!grown)
        return SS_ENOMEM;
    ls->sv = grown;
    ssi_esurvey *e = &ls->sv[ls->nsv];
    *e = (ssi_esurvey){.number = number};
    memcpy(e->survey, survey, len + 1);
    if (!rc && !(e->cdict = ssi_zgroup_cdict_new(dict.mv_data, dict.mv_size)))
        return SS_ENOMEM;
    ls->nsv++;
    *out = e;
    return 0;
}

/* Whether the writer will take alert @p i of a packet as new: the primary, and each history entry
 * decoding found new, which keeps its survey fields (ss_packet.known: a known one's are left
 * out, and the writer finds it stored). Anything else makes the writer pack the group itself. */
static int ssi_taken(const ss_alert *alerts, uint32_t i)
{
    return i == 0 || alerts[i].nprops > 0;
}

/* The members of a packet's group at the end of ls->b, then compressed; their indexes in the
 * packet appended to ls->indexes. @return 1 packed, 0 left to the writer (the buffers then to be
 * cut back by the caller), SS_ENOMEM. */
static int ssi_group_pack(ss_store_lists *ls, const ssi_esurvey *e, const ss_alert *alerts,
                          uint32_t n, const ss_prop *survey_locus, uint32_t nsurvey_locus)
{
    uint32_t taken = 0;
    for (uint32_t i = 0; i < n; i++)
        taken += (uint32_t)ssi_taken(alerts, i);
    size_t head = ls->b.len, members = ssi_group_head(&ls->b, taken);
    int rc = 1;
    for (uint32_t i = 0; i < n && rc == 1; i++) {
        if (!ssi_taken(alerts, i))
            continue;
        ss_wbuf_bytes(&ls->indexes, &i, sizeof i);
        ss_alert a = alerts[i];
        a.arrival_index = i; /* as the writer numbers them */
        a.history_lead = 0;
        size_t at = ssi_member_open(&ls->b, &a);
        rc = ssi_member_early(ls->s, &a, i ? NULL : survey_locus, i ? 0 : nsurvey_locus,
                              ls->by_packet ? &ls->memo : NULL, &ls->b);
        ssi_member_close(&ls->b, at);
    }
    if (rc != 1)
        return rc;
    if (!ls->cctx && !(ls->cctx = ssi_zrec_cctx_new()))
        return SS_ENOMEM;
    rc = ssi_zrec_frame(ls->cctx, e->cdict, e->number, &ls->b, members, &ls->scratch);
    if (rc == 1)
        ssi_group_squeezed(&ls->b, head);
    return rc < 0 ? rc : ls->b.failed ? SS_ENOMEM : 1;
}

int ss_store_lists_group(ss_store_lists *ls, ss_store_txn *snap, const ss_alert *alerts, uint32_t n,
                         const ss_prop *survey_locus, uint32_t nsurvey_locus, uint32_t *index)
{
    ssi_item *grown = ssi_grow(ls->items, &ls->cap, ls->n, sizeof *grown, 256);
    if (!grown)
        return SS_ENOMEM;
    ls->items = grown;
    size_t at = ls->b.len, iat = ls->indexes.len;
    const ssi_esurvey *e = NULL;
    int rc = snap && n && alerts[0].survey && ls->s->has_zdict
                 ? ssi_esurvey_get(ls, snap, alerts[0].survey, &e)
                 : 0;
    /* a survey without a committed group dictionary: its groups are the writer's samples */
    if (!rc && e && e->cdict)
        rc = ssi_group_pack(ls, e, alerts, n, survey_locus, nsurvey_locus);
    if (rc == SS_ENOMEM || ls->b.failed || ls->indexes.failed)
        return SS_ENOMEM;
    /* anything else the snapshot could not tell is the writer's to find again */
    ls->items[ls->n] = (ssi_item){at, ls->b.len - at, rc == 1,
                                  (uint32_t)((ls->indexes.len - iat) / sizeof(uint32_t)), iat};
    if (rc != 1)
        ls->b.len = at, ls->indexes.len = iat, ls->items[ls->n].members = 0;
    *index = ls->n++;
    return 0;
}

int ssi_lists_group_get(const ss_store_lists *ls, uint32_t index, const void **bytes, size_t *len,
                        uint32_t *members, const uint32_t **indexes)
{
    if (index >= ls->n)
        return SS_EINVAL;
    const ssi_item *it = &ls->items[index];
    *bytes = ls->b.data + it->off;
    *len = it->len;
    *members = it->members;
    *indexes = (const uint32_t *)(const void *)(ls->indexes.data + it->at);
    return it->packed;
}
