/*
 * Walks over an index in key order or its reverse, one entry per call, so that a search can stop
 * after a page, or step over earlier pages without decoding any record (store.h, store_table.h).
 *
 * A walk is one or two segments of a table, each the keys in [lo, hi) that start with a prefix;
 * an empty bound is no bound. Ascending, a segment starts at lo; descending, at the last key
 * below hi. Two segments serve loci_newest walked down: the numbers from the largest, then the
 * loci without a newest MJD (keyed NaN, above every number), which sort last either way.
 */
#include "store_impl.h"
#include "store_table.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SSI_BOUND_MAX (SS_TAG_MAX + 1 + 8 + SS_LOCUS_ID_LEN + 1)

typedef struct ssi_segment {
    unsigned char lo[SSI_BOUND_MAX], hi[SSI_BOUND_MAX], prefix[SSI_BOUND_MAX];
    size_t lolen, hilen, plen;
} ssi_segment;

typedef struct ssi_walker {
    MDB_cursor *cur;
    int descending;
    ssi_segment seg[2];
    int nseg, at; /* segments, and the one being walked */
    int started;  /* the current segment's first key was sought */
} ssi_walker;

/* LMDB's default order: bytes, then length. */
static int ssi_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c ? c : (alen > blen) - (alen < blen);
}

static int ssi_in_segment(const ssi_segment *g, const MDB_val *k)
{
    if (k->mv_size < g->plen || memcmp(k->mv_data, g->prefix, g->plen))
        return 0;
    if (g->lolen && ssi_cmp(k->mv_data, k->mv_size, g->lo, g->lolen) < 0)
        return 0;
    return !g->hilen || ssi_cmp(k->mv_data, k->mv_size, g->hi, g->hilen) < 0;
}

/* The first key of a segment in the walk's direction. */
static int ssi_seek(ssi_walker *w, const ssi_segment *g, MDB_val *k, MDB_val *v)
{
    const unsigned char *from = w->descending ? g->hi : g->lo;
    size_t len = w->descending ? g->hilen : g->lolen;
    if (!len && !w->descending && g->plen)
        from = g->prefix, len = g->plen;
    if (!len)
        return mdb_cursor_get(w->cur, k, v, w->descending ? MDB_LAST : MDB_FIRST);
    *k = (MDB_val){len, (void *)from};
    int rc = mdb_cursor_get(w->cur, k, v, MDB_SET_RANGE);
    if (!w->descending)
        return rc;
    return rc == MDB_NOTFOUND ? mdb_cursor_get(w->cur, k, v, MDB_LAST)
           : rc               ? rc
                              : mdb_cursor_get(w->cur, k, v, MDB_PREV);
}

/* @return 1 (an entry in *k, *v), 0 (the walk is over) or an LMDB code. */
static int ssi_walker_next(ssi_walker *w, MDB_val *k, MDB_val *v)
{
    while (w->at < w->nseg) {
        const ssi_segment *g = &w->seg[w->at];
        int rc = w->started ? mdb_cursor_get(w->cur, k, v, w->descending ? MDB_PREV : MDB_NEXT)
                            : ssi_seek(w, g, k, v);
        w->started = 1;
        if (rc && rc != MDB_NOTFOUND)
            return rc;
        if (!rc && ssi_in_segment(g, k))
            return 1;
        w->at++, w->started = 0; /* keys are sorted: the first one outside ends the segment */
    }
    return 0;
}

static void ssi_bound(unsigned char *dst, size_t *len, const void *src, size_t n)
{
    if (n)
        memcpy(dst, src, n);
    *len = n;
}

/* ---- the store's own indexes ---- */

struct ss_store_walk {
    ssi_walker w;
    ss_store_order order;
    size_t tlen; /* BY_TAG: the tag's length */
};

/* The tag's entries: tag NUL, then MJD at or after since (ascending start, descending floor). */
static void ssi_tag_segment(ssi_segment *g, const char *tag, size_t tlen, double since)
{
    unsigned char kb[SSI_KEY_MAX];
    char zero[SS_LOCUS_ID_LEN + 1] = {0};
    ssi_bound(g->prefix, &g->plen, tag, tlen + 1);
    size_t n = ssi_key_tag_index(kb, tag, since > 0 ? since : 0, zero);
    ssi_bound(g->lo, &g->lolen, kb, n - SS_LOCUS_ID_LEN);
    memcpy(g->hi, g->prefix, g->plen);
    memset(g->hi + g->plen, 0xff, 8 + SS_LOCUS_ID_LEN);
    g->hilen = g->plen + 8 + SS_LOCUS_ID_LEN;
}

static MDB_dbi ssi_walk_setup(ss_store *s, ss_store_walk *sw, const ss_store_walk_options *o)
{
    ssi_walker *w = &sw->w;
    w->nseg = 1;
    if (o->order == SS_STORE_BY_TAG) {
        ssi_tag_segment(&w->seg[0], o->tag, sw->tlen, o->since_mjd);
        return s->tag_index;
    }
    if (o->order == SS_STORE_BY_ID)
        return s->loci;
    if (o->descending) { /* the numbers, then the NaN keys */
        unsigned char nan[8];
        ss_be64_put(nan, UINT64_C(0x7FF8000000000000));
        ssi_bound(w->seg[0].hi, &w->seg[0].hilen, nan, 8);
        ssi_bound(w->seg[1].lo, &w->seg[1].lolen, nan, 8);
        w->nseg = 2;
    }
    return s->loci_newest;
}

int ss_store_walk_open(ss_store_txn *t, const ss_store_walk_options *o, ss_store_walk **out)
{
    *out = NULL;
    size_t tlen = o->order == SS_STORE_BY_TAG ? strlen(o->tag) : 0;
    if (o->order == SS_STORE_BY_NEWEST && !t->s->has_search)
        return SS_EVERSION;
    ss_store_walk *sw = calloc(1, sizeof *sw);
    if (!sw)
        return SS_ENOMEM;
    *out = sw;
    sw->order = o->order;
    sw->tlen = tlen;
    sw->w.descending = o->descending;
    if (o->order == SS_STORE_BY_TAG && (!t->s->has_outputs || tlen > SS_TAG_MAX))
        return 0; /* no such tag can be stored: a walk of nothing */
    MDB_dbi dbi = ssi_walk_setup(t->s, sw, o);
    int rc = mdb_cursor_open(t->txn, dbi, &sw->w.cur);
    if (rc) {
        free(sw);
        *out = NULL;
    }
    return rc;
}

int ss_store_walk_next(ss_store_walk *sw, char id[SS_LOCUS_ID_LEN + 1], double *key)
{
    MDB_val k, v;
    int rc = ssi_walker_next(&sw->w, &k, &v);
    if (rc != 1)
        return rc;
    size_t mjd_at = sw->order == SS_STORE_BY_TAG ? sw->tlen + 1 : 0;
    size_t id_at = sw->order == SS_STORE_BY_ID ? 0 : mjd_at + 8;
    if (k.mv_size != id_at + SS_LOCUS_ID_LEN)
        return SS_ECORRUPT;
    memcpy(id, (const char *)k.mv_data + id_at, SS_LOCUS_ID_LEN);
    id[SS_LOCUS_ID_LEN] = '\0';
    *key = NAN;
    if (sw->order != SS_STORE_BY_ID) {
        uint64_t bits = ss_be64_get((const unsigned char *)k.mv_data + mjd_at);
        memcpy(key, &bits, sizeof *key);
    }
    return 1;
}

void ss_store_walk_close(ss_store_walk *sw)
{
    if (!sw)
        return;
    if (sw->w.cur)
        mdb_cursor_close(sw->w.cur);
    free(sw);
}

/* ---- the tables of other stages ---- */

struct ss_store_range {
    ssi_walker w;
};

int ss_store_range_open(ss_store_txn *t, ss_store_table tb, const void *prefix, size_t plen,
                        int descending, ss_store_range **out)
{
    *out = NULL;
    if (plen > SS_STORE_PREFIX_MAX)
        return SS_EINVAL;
    ss_store_range *r = calloc(1, sizeof *r);
    if (!r)
        return SS_ENOMEM;
    int rc = ss_store_cursor_open(t, tb, &r->w.cur);
    if (rc) {
        free(r);
        return rc;
    }
    ssi_segment *g = &r->w.seg[0];
    ssi_bound(g->prefix, &g->plen, prefix, plen);
    if (plen) { /* above every key with the prefix (keys are shorter than a bound) */
        memcpy(g->hi, prefix, plen);
        memset(g->hi + plen, 0xff, SSI_BOUND_MAX - plen);
        g->hilen = SSI_BOUND_MAX;
    }
    r->w.nseg = 1;
    r->w.descending = descending;
    *out = r;
    return 0;
}

int ss_store_range_next(ss_store_range *r, MDB_val *key, MDB_val *val)
{
    return ssi_walker_next(&r->w, key, val);
}

void ss_store_range_close(ss_store_range *r)
{
    if (!r)
        return;
    if (r->w.cur)
        mdb_cursor_close(r->w.cur);
    free(r);
}
