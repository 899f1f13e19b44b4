/*
 * What a replay run collects from every dispatch, and the run's part of the report. A dispatch is
 * reported inside its batch's transaction and counted only when the batch commits: a batch that
 * starts over (full map) reports its dispatches again.
 */
#include "replay_impl.h"

#include "json_text.h"
#include "publish.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define SSI_FIRST_ERRORS 5
/* Run times in log bins 2 % wide from 0.1 us to about half an hour: percentiles within 2 % in
 * fixed memory, however long the night. */
#define SSI_HIST_BINS  1200
#define SSI_HIST_MIN   0.1
#define SSI_HIST_RATIO 1.02

typedef struct ssi_hist {
    uint64_t n;
    double max;
    uint64_t bins[SSI_HIST_BINS];
} ssi_hist;

typedef struct ssi_err_note {
    char *locus_id, *alert_id, *msg;
} ssi_err_note;

typedef struct ssi_rfilter {
    uint64_t seen, runs, skipped, errors, halts, props;
    ssi_hist *time;
    uint8_t *bits; /* per locus index: reached this filter */
    size_t nbits;  /* bytes */
    ssi_err_note errs[SSI_FIRST_ERRORS];
    size_t nerrs;
    uint64_t *tagged; /* per declared output tag: loci this filter tagged */
} ssi_rfilter;

/* String keys to indexes, open addressing. Keys are copied. */
typedef struct ssi_strmap {
    char **keys;
    uint32_t *vals;
    size_t cap, n;
} ssi_strmap;

/* A tag event of a dispatch not yet committed; strings in the collector's arena, except tag and
 * filter, which are the filter declarations' own. */
typedef struct ssi_pend_tag {
    const char *tag, *filter, *survey, *alert_id, *passband;
    double mjd, mag;
} ssi_pend_tag;

typedef struct ssi_pend {
    uint32_t locus;
    const char *alert_id; /* the trigger's */
    uint32_t ntags;
    ssi_pend_tag *tags;
    ss_filter_result *res;
} ssi_pend;

struct ssi_collect {
    const ss_filter_set *fs;
    size_t nf;
    ssi_rfilter *f;
    ssi_strmap loci;  /* locus id -> index */
    char **locus_ids; /* index -> id (the map's key) */
    size_t capids;
    ssi_strmap tagmap;  /* "locus_id\ttag" -> index in tagged */
    ssi_strmap ftagmap; /* "locus_id\ttag\tfilter": each filter's taggings, once per locus */
    ssi_tagged *tagged;
    size_t ntagged, captagged;
    ssi_pend *pend;
    size_t npend, cappend;
    ss_arena *arena; /* the pending dispatches' contents */
    int failed;
};

/* ---- small containers ---- */

static size_t ssi_strmap_slot(const ssi_strmap *m, const char *key)
{
    size_t mask = m->cap - 1, i = (size_t)XXH3_64bits(key, strlen(key)) & mask;
    while (m->keys[i] && strcmp(m->keys[i], key))
        i = (i + 1) & mask;
    return i;
}

static int ssi_strmap_grow(ssi_strmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    ssi_strmap big = {calloc(cap, sizeof(char *)), calloc(cap, sizeof(uint32_t)), cap, m->n};
    if (!big.keys || !big.vals) {
        free(big.keys);
        free(big.vals);
        return SS_ENOMEM;
    }
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i]) {
            size_t k = ssi_strmap_slot(&big, m->keys[i]);
            big.keys[k] = m->keys[i];
            big.vals[k] = m->vals[i];
        }
    free(m->keys);
    free(m->vals);
    *m = big;
    return 0;
}

/* The index of @p key; a new key gets @p fresh and *added = 1. @return NULL when out of memory. */
static const uint32_t *ssi_strmap_put(ssi_strmap *m, const char *key, uint32_t fresh, int *added)
{
    *added = 0;
    if ((m->n + 1) * 2 > m->cap && ssi_strmap_grow(m))
        return NULL;
    size_t i = ssi_strmap_slot(m, key);
    if (!m->keys[i]) {
        if (!(m->keys[i] = strdup(key)))
            return NULL;
        m->vals[i] = fresh;
        m->n++;
        *added = 1;
    }
    return &m->vals[i];
}

static void ssi_strmap_free(ssi_strmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->vals);
}

static void ssi_hist_add(ssi_hist *h, double us)
{
    size_t k = 0;
    if (us > SSI_HIST_MIN)
        k = (size_t)(log(us / SSI_HIST_MIN) / log(SSI_HIST_RATIO)) + 1;
    h->bins[k < SSI_HIST_BINS ? k : SSI_HIST_BINS - 1]++;
    h->n++;
    if (us > h->max)
        h->max = us;
}

/* Nearest-rank quantile, as the upper edge of its bin (never above the largest time seen). */
static double ssi_hist_quantile(const ssi_hist *h, double q)
{
    if (!h->n)
        return 0;
    uint64_t rank = (uint64_t)ceil(q * (double)h->n), acc = 0;
    rank = rank ? rank : 1;
    for (size_t k = 0; k < SSI_HIST_BINS; k++)
        if ((acc += h->bins[k]) >= rank) {
            double edge = SSI_HIST_MIN * pow(SSI_HIST_RATIO, (double)k);
            return edge < h->max ? edge : h->max;
        }
    return h->max;
}

/* ---- collecting ---- */

ssi_collect *ssi_collect_new(const ss_filter_set *fs)
{
    ssi_collect *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->fs = fs;
    c->nf = ss_filter_set_count(fs);
    c->f = calloc(c->nf ? c->nf : 1, sizeof *c->f);
    c->arena = ss_arena_new();
    int ok = c->f && c->arena;
    for (size_t i = 0; ok && i < c->nf; i++) {
        size_t ntags = 0;
        for (const ss_tag_decl *t = ss_filter_set_descriptor(fs, i)->output_tags; t && t->name; t++)
            ntags++;
        c->f[i].time = calloc(1, sizeof(ssi_hist));
        c->f[i].tagged = calloc(ntags ? ntags : 1, sizeof(uint64_t));
        ok = c->f[i].time && c->f[i].tagged;
    }
    if (!ok) {
        ssi_collect_free(c);
        return NULL;
    }
    return c;
}

void ssi_collect_free(ssi_collect *c)
{
    if (!c)
        return;
    for (size_t i = 0; c->f && i < c->nf; i++) {
        free(c->f[i].time);
        free(c->f[i].bits);
        free(c->f[i].tagged);
        for (size_t k = 0; k < c->f[i].nerrs; k++) {
            free(c->f[i].errs[k].locus_id);
            free(c->f[i].errs[k].alert_id);
            free(c->f[i].errs[k].msg);
        }
    }
    free(c->f);
    for (size_t i = 0; i < c->ntagged; i++) {
        free(c->tagged[i].survey);
        free(c->tagged[i].alert_id);
        free(c->tagged[i].passband);
    }
    free(c->tagged);
    ssi_strmap_free(&c->loci);
    ssi_strmap_free(&c->tagmap);
    ssi_strmap_free(&c->ftagmap);
    free(c->locus_ids);
    free(c->pend);
    ss_arena_free(c->arena);
    free(c);
}

int ssi_collect_failed(const ssi_collect *c)
{
    return c->failed;
}

static char *ssi_adup(ss_arena *a, const char *s)
{
    return s ? ss_arena_strndup(a, s, strlen(s)) : NULL;
}

/* The index of a locus id, new ones numbered in order of first dispatch. */
static int ssi_locus_index(ssi_collect *c, const char *id, uint32_t *out)
{
    int added;
    const uint32_t *v = ssi_strmap_put(&c->loci, id, (uint32_t)c->loci.n, &added);
    if (!v)
        return SS_ENOMEM;
    if (added && c->loci.n > c->capids) {
        size_t cap = c->capids ? c->capids * 2 : 1024;
        char **ids = realloc(c->locus_ids, cap * sizeof *ids);
        if (!ids)
            return SS_ENOMEM;
        c->locus_ids = ids;
        c->capids = cap;
    }
    if (added)
        c->locus_ids[*v] = c->loci.keys[ssi_strmap_slot(&c->loci, id)];
    *out = *v;
    return 0;
}

static int ssi_pend_fill(ssi_collect *c, ssi_pend *p, const ss_filter_dispatch_info *d)
{
    if (ssi_locus_index(c, d->locus_id, &p->locus) ||
        !(p->alert_id = ssi_adup(c->arena, d->trigger->alert_id)))
        return SS_ENOMEM;
    if (!(p->res = ss_arena_alloc(c->arena, (c->nf ? c->nf : 1) * sizeof *p->res)))
        return SS_ENOMEM;
    for (size_t i = 0; i < c->nf; i++) {
        p->res[i] = d->results[i];
        if (d->results[i].msg && !(p->res[i].msg = ssi_adup(c->arena, d->results[i].msg)))
            return SS_ENOMEM;
    }
    p->ntags = (uint32_t)d->out->ntags;
    if (p->ntags && !(p->tags = ss_arena_alloc(c->arena, p->ntags * sizeof *p->tags)))
        return SS_ENOMEM;
    const ss_alert *a = d->trigger;
    for (uint32_t i = 0; i < p->ntags; i++) {
        ssi_pend_tag *t = &p->tags[i];
        *t = (ssi_pend_tag){d->out->tags[i].tag,
                            d->out->tags[i].filter,
                            ssi_adup(c->arena, a->survey),
                            ssi_adup(c->arena, a->alert_id),
                            ssi_adup(c->arena, a->passband),
                            a->mjd,
                            a->mag};
        if (!t->survey || !t->alert_id || !t->passband)
            return SS_ENOMEM;
    }
    return 0;
}

void ssi_collect_dispatch(ssi_collect *c, const ss_filter_dispatch_info *d)
{
    if (!d) { /* the batch starts over: what it reported is void */
        c->npend = 0;
        ss_arena_reset(c->arena);
        return;
    }
    if (c->npend == c->cappend) {
        size_t cap = c->cappend ? c->cappend * 2 : 1024;
        ssi_pend *fresh = realloc(c->pend, cap * sizeof *fresh);
        if (!fresh) {
            c->failed = 1;
            return;
        }
        c->pend = fresh;
        c->cappend = cap;
    }
    ssi_pend *p = &c->pend[c->npend];
    *p = (ssi_pend){0};
    if (ssi_pend_fill(c, p, d))
        c->failed = 1;
    else
        c->npend++;
}

static int ssi_note_error(ssi_rfilter *f, const char *locus_id, const ssi_pend *p, const char *msg)
{
    ssi_err_note *e = &f->errs[f->nerrs++];
    e->locus_id = strdup(locus_id);
    e->alert_id = strdup(p->alert_id);
    e->msg = strdup(msg ? msg : "");
    return e->locus_id && e->alert_id && e->msg ? 0 : SS_ENOMEM;
}

/* Count one committed dispatch for filter @p i. */
static int ssi_count_result(ssi_collect *c, size_t i, const ssi_pend *p)
{
    ssi_rfilter *f = &c->f[i];
    const ss_filter_result *r = &p->res[i];
    if (r->outcome == SS_FILTER_NOT_RUN)
        return 0;
    size_t byte = p->locus / 8;
    if (byte >= f->nbits) {
        size_t n = (byte + 1) * 2;
        uint8_t *bits = realloc(f->bits, n);
        if (!bits)
            return SS_ENOMEM;
        memset(bits + f->nbits, 0, n - f->nbits);
        f->bits = bits;
        f->nbits = n;
    }
    uint8_t bit = (uint8_t)(1u << (p->locus % 8));
    f->seen += !(f->bits[byte] & bit);
    f->bits[byte] |= bit;
    if (r->outcome == SS_FILTER_SKIPPED) {
        f->skipped++;
        return 0;
    }
    f->runs++;
    f->props += r->nprops;
    f->halts += r->outcome == SS_FILTER_HALTED;
    ssi_hist_add(f->time, r->us);
    if (r->outcome != SS_FILTER_ERROR)
        return 0;
    f->errors++;
    return f->nerrs < SSI_FIRST_ERRORS ? ssi_note_error(f, c->locus_ids[p->locus], p, r->msg) : 0;
}

/* Count a filter's tagging of a locus once, whichever filter tagged it first. */
static int ssi_count_filter_tag(ssi_collect *c, const char *lid, const ssi_pend_tag *t)
{
    char key[SS_LOCUS_ID_LEN + 1 + 512];
    snprintf(key, sizeof key, "%s\t%s\t%s", lid, t->tag, t->filter);
    int added;
    if (!ssi_strmap_put(&c->ftagmap, key, 0, &added))
        return SS_ENOMEM;
    for (size_t i = 0; added && i < c->nf; i++) {
        const ss_filter_descriptor *d = ss_filter_set_descriptor(c->fs, i);
        for (size_t k = 0; d->name == t->filter && d->output_tags && d->output_tags[k].name; k++)
            c->f[i].tagged[k] += d->output_tags[k].name == t->tag;
    }
    return 0;
}

/* Keep the first time each locus got each tag. */
static int ssi_count_tag(ssi_collect *c, const ssi_pend *p, const ssi_pend_tag *t)
{
    const char *lid = c->locus_ids[p->locus];
    char key[SS_LOCUS_ID_LEN + 1 + 256];
    snprintf(key, sizeof key, "%s\t%s", lid, t->tag);
    int added;
    if (ssi_count_filter_tag(c, lid, t) ||
        !ssi_strmap_put(&c->tagmap, key, (uint32_t)c->ntagged, &added))
        return SS_ENOMEM;
    if (!added)
        return 0;
    if (c->ntagged == c->captagged) {
        size_t cap = c->captagged ? c->captagged * 2 : 256;
        ssi_tagged *fresh = realloc(c->tagged, cap * sizeof *fresh);
        if (!fresh)
            return SS_ENOMEM;
        c->tagged = fresh;
        c->captagged = cap;
    }
    ssi_tagged *e = &c->tagged[c->ntagged++];
    *e = (ssi_tagged){
        .tag = t->tag, .filter = t->filter, .locus = p->locus, .mjd = t->mjd, .mag = t->mag};
    snprintf(e->locus_id, sizeof e->locus_id, "%s", lid);
    e->survey = strdup(t->survey);
    e->alert_id = strdup(t->alert_id);
    e->passband = strdup(t->passband);
    return e->survey && e->alert_id && e->passband ? 0 : SS_ENOMEM;
}

int ssi_collect_commit(ssi_collect *c)
{
    int rc = 0;
    for (size_t k = 0; k < c->npend && !rc; k++) {
        const ssi_pend *p = &c->pend[k];
        for (size_t i = 0; i < c->nf && !rc; i++)
            rc = ssi_count_result(c, i, p);
        for (uint32_t t = 0; t < p->ntags && !rc; t++)
            rc = ssi_count_tag(c, p, &p->tags[t]);
    }
    c->npend = 0;
    ss_arena_reset(c->arena);
    if (rc)
        c->failed = 1;
    return rc;
}

/* ---- the run's report ---- */

static int ssi_tagged_by_tag_locus(const void *a, const void *b)
{
    const ssi_tagged *x = *(const ssi_tagged *const *)a, *y = *(const ssi_tagged *const *)b;
    int t = strcmp(x->tag, y->tag);
    return t ? t : strcmp(x->locus_id, y->locus_id);
}

static int ssi_tagged_by_time(const void *a, const void *b)
{
    const ssi_tagged *x = *(const ssi_tagged *const *)a, *y = *(const ssi_tagged *const *)b;
    if (x->mjd != y->mjd)
        return x->mjd < y->mjd ? -1 : 1;
    return strcmp(x->locus_id, y->locus_id);
}

const ssi_tagged **ssi_collect_tags(const ssi_collect *c, size_t *n)
{
    *n = 0;
    const ssi_tagged **all = malloc((c->ntagged ? c->ntagged : 1) * sizeof *all);
    if (!all)
        return NULL;
    for (size_t i = 0; i < c->ntagged; i++)
        all[i] = &c->tagged[i];
    qsort(all, c->ntagged, sizeof *all, ssi_tagged_by_tag_locus);
    *n = c->ntagged;
    return all;
}

static json_t *ssi_filter_times(const ssi_hist *h)
{
    return json_pack("{s:f, s:f, s:f, s:f}", "p50", ssi_hist_quantile(h, 0.50), "p90",
                     ssi_hist_quantile(h, 0.90), "p99", ssi_hist_quantile(h, 0.99), "max", h->max);
}

static json_t *ssi_filter_errors(const ssi_rfilter *f)
{
    json_t *a = json_array();
    for (size_t k = 0; k < f->nerrs; k++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "locus_id", f->errs[k].locus_id,
                                           "alert_id", f->errs[k].alert_id, "message",
                                           f->errs[k].msg));
    return a;
}

/* Loci this filter tagged, per declared tag (also those another filter had tagged before). */
static json_t *ssi_filter_tagged(const ssi_rfilter *f, const ss_filter_descriptor *d)
{
    json_t *o = json_object();
    for (size_t k = 0; d->output_tags && d->output_tags[k].name; k++)
        json_object_set_new(o, d->output_tags[k].name, json_integer((json_int_t)f->tagged[k]));
    return o;
}

static json_t *ssi_filter_json(const ssi_collect *c, size_t i)
{
    ss_filter_info sf;
    ss_filter_set_info(c->fs, i, &sf);
    const ssi_rfilter *f = &c->f[i];
    const ss_runtime_ops *rt = ss_runtime_for(sf.path);
    json_t *o =
        json_pack("{s:s, s:s, s:s?, s:s, s:s}", "label", sf.label, "name", sf.desc->name, "version",
                  sf.desc->version, "runtime", rt ? rt->name : "?", "path", sf.path);
    json_object_set_new(o, "loci_seen", json_integer((json_int_t)f->seen));
    json_object_set_new(o, "runs", json_integer((json_int_t)f->runs));
    json_object_set_new(o, "skipped", json_integer((json_int_t)f->skipped));
    json_object_set_new(o, "errors", json_integer((json_int_t)f->errors));
    json_object_set_new(o, "halts", json_integer((json_int_t)f->halts));
    json_object_set_new(o, "properties_written", json_integer((json_int_t)f->props));
    /* the set disables a filter that fails max_consecutive_failures times in a row, as a live
     * broker does: its later loci are neither run nor skipped */
    json_object_set_new(o, "disabled", json_boolean(ss_filter_set_stats(c->fs, i)->disabled));
    json_object_set_new(o, "tagged", ssi_filter_tagged(f, sf.desc));
    json_object_set_new(o, "first_errors", ssi_filter_errors(f));
    json_object_set_new(o, "time_us", ssi_filter_times(f->time));
    return o;
}

/* One tagged locus: its summary now (position, object ids), the filter and the trigger. */
static json_t *ssi_tagged_json(const ssi_tagged *t, ss_store_txn *txn, int *rc)
{
    ss_locus l;
    if ((*rc = ss_store_locus_get(txn, t->locus_id, &l)))
        return NULL;
    json_t *o = ss_publish_locus_summary(&l);
    json_object_set_new(o, "filter", json_string(t->filter));
    json_object_set_new(o, "alert",
                        json_pack("{s:s, s:s, s:f, s:s, s:o}", "survey", t->survey, "alert_id",
                                  t->alert_id, "mjd", t->mjd, "passband", t->passband, "mag",
                                  ss_json_num(t->mag)));
    return o;
}

/* The loci of one tag (entries [from, to) of @p all), in order of the time they were tagged. */
static json_t *ssi_tag_json(const ssi_tagged **all, size_t from, size_t to, uint64_t loci,
                            ss_store_txn *txn, ssi_mapped *m, int *rc)
{
    qsort(all + from, to - from, sizeof *all, ssi_tagged_by_time);
    json_t *list = json_array();
    for (size_t i = from; i < to && !*rc; i++) {
        json_array_append_new(list, ssi_tagged_json(all[i], txn, rc));
        ssi_mapped_tick(m, ss_store_txn_store(txn), NULL);
    }
    double n = (double)(to - from);
    return json_pack("{s:I, s:f, s:o}", "loci", (json_int_t)(to - from), "fraction",
                     loci ? n / (double)loci : 0.0, "list", list);
}

static json_t *ssi_tags_json(const ssi_collect *c, ss_store_txn *txn, uint64_t loci, ssi_mapped *m,
                             size_t *distinct, int *rc)
{
    size_t n;
    const ssi_tagged **all = ssi_collect_tags(c, &n);
    uint8_t *hit = calloc(c->loci.n / 8 + 1, 1);
    json_t *tags = json_object();
    if (!all || !hit)
        *rc = SS_ENOMEM;
    *distinct = 0;
    for (size_t i = 0; i < n && !*rc; i++) {
        uint8_t bit = (uint8_t)(1u << (all[i]->locus % 8));
        *distinct += !(hit[all[i]->locus / 8] & bit);
        hit[all[i]->locus / 8] |= bit;
    }
    for (size_t from = 0, to; from < n && !*rc; from = to) {
        for (to = from + 1; to < n && !strcmp(all[to]->tag, all[from]->tag); to++)
            ;
        const char *tag = all[from]->tag; /* the sort below reorders the group */
        json_object_set_new(tags, tag, ssi_tag_json(all, from, to, loci, txn, m, rc));
    }
    free(all);
    free(hit);
    return tags;
}

json_t *ssi_collect_report(ssi_collect *c, ss_store_txn *txn, uint64_t loci, ssi_mapped *m,
                           ss_err *err)
{
    if (c->failed) {
        ss_err_set(err, SS_ENOMEM, "replay: out of memory collecting the report");
        return NULL;
    }
    json_t *filters = json_array();
    for (size_t i = 0; i < c->nf; i++)
        json_array_append_new(filters, ssi_filter_json(c, i));
    size_t distinct;
    int rc = 0;
    json_t *tags = ssi_tags_json(c, txn, loci, m, &distinct, &rc);
    json_t *run =
        json_pack("{s:I, s:f, s:o, s:o}", "loci_tagged", (json_int_t)distinct, "fraction_tagged",
                  loci ? (double)distinct / (double)loci : 0.0, "filters", filters, "tags", tags);
    if (rc || !run) {
        json_decref(run);
        ss_store_fail(ss_store_txn_store(txn), err, rc ? rc : SS_ENOMEM,
                      "reading tagged loci for the report");
        return NULL;
    }
    return run;
}
