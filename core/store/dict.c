/* The store's dictionary of name lists (format 7).
 *
 * An alert record of a survey schema carries the same hundred property names as every other
 * record of that schema; written as strings they were most of a record's bytes. The dictionary
 * keeps each distinct list once, under a dense id, and a record carries the id. Ids are never
 * reused or changed once committed, so any process may cache what it has read; the writer's own
 * cache also holds the lists its open transaction created, dropped again if that transaction
 * does not commit. */
#include "store_impl.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* Past these a list is written inline in the record instead: a stream whose every alert has
 * its own keys (free-form JSON) must not grow the dictionary without bound. */
#define SSI_DICT_MAX_ENTRIES (1u << 20)
#define SSI_DICT_MAX_NAMES   4096u
#define SSI_DICT_MAX_BYTES   ((size_t)64 << 20)

void ssi_dict_init(ssi_dict *d)
{
    memset(d, 0, sizeof *d);
    pthread_rwlock_init(&d->lock, NULL);
}

static void ssi_dict_drop(ssi_dict *d, uint32_t keep)
{
    for (uint32_t i = keep; i < d->n; i++) {
        d->bytes -= d->e[i].bytes;
        free(d->e[i].names);
    }
    d->n = keep;
}

void ssi_dict_free(ssi_dict *d)
{
    ssi_dict_drop(d, 0);
    free(d->e);
    free(d->slots);
    pthread_rwlock_destroy(&d->lock);
}

/* XXH3 of each name with its terminating NUL (so that ("ab","c") != ("a","bc")), combined in
 * order. FNV-1a a byte at a time was 13% of a ZTF ingest: every record hashes its 45-100 names. */
static uint64_t ssi_dict_hash(const ss_prop *props, uint32_t n)
{
    uint64_t h = n;
    for (uint32_t i = 0; i < n; i++)
        h = (h ^ XXH3_64bits(props[i].name, strlen(props[i].name) + 1)) * 0x9E3779B97F4A7C15ULL;
    return h;
}

static int ssi_dict_same(const ssi_dict_entry *e, const ss_prop *props, uint32_t n)
{
    if (e->n != n)
        return 0;
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(e->names[i], props[i].name))
            return 0;
    return 1;
}

/* Open addressing over ids + 1 (0: empty), rebuilt whole when it fills or entries are dropped. */
static int ssi_dict_rehash(ssi_dict *d, uint32_t nslots)
{
    uint32_t *slots = calloc(nslots, sizeof *slots);
    if (!slots)
        return SS_ENOMEM;
    for (uint32_t id = 0; id < d->n; id++) {
        uint32_t at = (uint32_t)d->e[id].hash & (nslots - 1);
        while (slots[at])
            at = (at + 1) & (nslots - 1);
        slots[at] = id + 1;
    }
    free(d->slots);
    d->slots = slots;
    d->nslots = nslots;
    return 0;
}

/* Append a list (names copied into one block owned by the entry). */
static int ssi_dict_append(ssi_dict *d, const ss_prop *props, uint32_t n, uint64_t hash)
{
    size_t bytes = (size_t)n * sizeof(char *);
    for (uint32_t i = 0; i < n; i++)
        bytes += strlen(props[i].name) + 1;
    if (d->n == d->cap) {
        uint32_t cap = d->cap ? d->cap * 2 : 64;
        ssi_dict_entry *e = realloc(d->e, cap * sizeof *e);
        if (!e)
            return SS_ENOMEM;
        d->e = e;
        d->cap = cap;
    }
    if ((d->n + 1) * 2 > d->nslots && ssi_dict_rehash(d, d->nslots ? d->nslots * 2 : 128))
        return SS_ENOMEM;
    char **names = malloc(bytes ? bytes : 1);
    if (!names)
        return SS_ENOMEM;
    char *text = (char *)(names + n);
    for (uint32_t i = 0; i < n; i++) {
        size_t len = strlen(props[i].name) + 1;
        names[i] = memcpy(text, props[i].name, len);
        text += len;
    }
    d->e[d->n] = (ssi_dict_entry){names, n, hash, bytes};
    d->bytes += bytes;
    uint32_t at = (uint32_t)hash & (d->nslots - 1);
    while (d->slots[at])
        at = (at + 1) & (d->nslots - 1);
    d->slots[at] = ++d->n;
    return 0;
}

static void ssi_dict_key(unsigned char k[4], uint32_t id)
{
    ss_be32_put(k, id);
}

static void ssi_dict_encode(const ss_prop *props, uint32_t n, ss_wbuf *b)
{
    ss_wbuf_reset(b);
    ss_wbuf_uvar(b, n);
    for (uint32_t i = 0; i < n; i++)
        ss_wbuf_vstr(b, props[i].name, strlen(props[i].name));
}

/* Read the stored list @p id into the cache (ids below it are already there). */
static int ssi_dict_load(ssi_dict *d, ss_store_txn *t, uint32_t id)
{
    unsigned char k[4];
    ssi_dict_key(k, id);
    MDB_val key = {4, k}, v;
    int rc = mdb_get(t->txn, t->s->dict, &key, &v);
    if (rc)
        return rc == MDB_NOTFOUND ? SS_ECORRUPT : rc;
    ss_rbuf r = {v.mv_data, (const unsigned char *)v.mv_data + v.mv_size, 0};
    uint64_t n = ss_rbuf_uvar(&r);
    if (r.bad || n > SSI_DICT_MAX_NAMES)
        return SS_ECORRUPT;
    ss_prop *props = malloc((n ? n : 1) * sizeof *props);
    char *names = malloc(v.mv_size + 1), *at = names;
    if (!names || !props) {
        free(props), free(names);
        return SS_ENOMEM;
    }
    for (uint64_t i = 0; i < n && !r.bad; i++) {
        uint32_t len;
        const char *s = ss_rbuf_vstr(&r, &len);
        if (!s || memchr(s, '\0', len))
            r.bad = 1;
        else
            props[i].name = memcpy(at, s, len), at[len] = '\0', at += len + 1;
    }
    rc = r.bad || r.p != r.end
             ? SS_ECORRUPT
             : ssi_dict_append(d, props, (uint32_t)n, ssi_dict_hash(props, (uint32_t)n));
    free(props), free(names);
    return rc;
}

/* The entry of @p id, read under the lock held. */
static void ssi_dict_entry_of(const ssi_dict *d, uint32_t id, const char *const **names,
                              uint32_t *n)
{
    *names = (const char *const *)d->e[id - 1].names;
    *n = d->e[id - 1].n;
}

int ssi_dict_names(ss_store_txn *t, uint32_t id, const char *const **names, uint32_t *n)
{
    ssi_dict *d = &t->s->dcache;
    int rc = 0;
    if (!t->s->has_dict || id == 0 || id > SSI_DICT_MAX_ENTRIES)
        return SS_ECORRUPT;
    pthread_rwlock_rdlock(&d->lock);
    int cached = d->n >= id;
    if (cached)
        ssi_dict_entry_of(d, id, names, n);
    pthread_rwlock_unlock(&d->lock);
    if (cached)
        return 0;
    pthread_rwlock_wrlock(&d->lock);
    while (!rc && d->n < id) /* ids are dense: the ones between were committed before it */
        rc = ssi_dict_load(d, t, d->n + 1);
    if (!rc)
        ssi_dict_entry_of(d, id, names, n);
    pthread_rwlock_unlock(&d->lock);
    return rc;
}

/* Every committed list, so that the writer finds the id of a list it has seen before. */
static int ssi_dict_load_all(ssi_dict *d, ss_store_txn *t)
{
    MDB_stat st;
    int rc = mdb_stat(t->txn, t->s->dict, &st);
    while (!rc && d->n < st.ms_entries)
        rc = ssi_dict_load(d, t, d->n + 1);
    d->committed = d->n;
    d->complete = !rc;
    return rc;
}

/* The id (0: none) of the list of @p hash in the cache, read under the lock held; @p upto: the
 * ids a caller may take (the committed ones, or all). */
static uint32_t ssi_dict_find(const ssi_dict *d, const ss_prop *props, uint32_t n, uint64_t hash,
                              uint32_t upto)
{
    for (uint32_t at = (uint32_t)hash & (d->nslots - 1); d->nslots && d->slots[at];
         at = (at + 1) & (d->nslots - 1)) {
        const ssi_dict_entry *e = &d->e[d->slots[at] - 1];
        if (e->hash == hash && ssi_dict_same(e, props, n))
            return d->slots[at] <= upto ? d->slots[at] : 0;
    }
    return 0;
}

/* A list new to the dictionary: stored, then cached (under the lock held for writing). */
static int ssi_dict_add(ssi_dict *d, ss_store_txn *t, const ss_prop *props, uint32_t n,
                        uint64_t hash, uint32_t *id)
{
    if (d->n >= SSI_DICT_MAX_ENTRIES || d->bytes >= SSI_DICT_MAX_BYTES)
        return 0;
    unsigned char k[4];
    ssi_dict_key(k, d->n + 1);
    ssi_dict_encode(props, n, &t->dict_buf);
    MDB_val key = {4, k}, v = {t->dict_buf.len, t->dict_buf.data};
    int rc = t->dict_buf.failed ? SS_ENOMEM : mdb_put(t->txn, t->s->dict, &key, &v, MDB_APPEND);
    if (!rc && !(rc = ssi_dict_append(d, props, n, hash)))
        *id = d->n;
    return rc;
}

/* Nearly every call finds a list the cache holds, under the lock shared with the decoding
 * thread's ssi_dict_committed_id(): an exclusive lock there made the two threads wait for each
 * other about once an alert, each wait a futex call (ZTF, 36,000 in 20,000 alerts). */
int ssi_dict_id(ss_store_txn *t, const ss_prop *props, uint32_t n, uint32_t *id)
{
    ssi_dict *d = &t->s->dcache;
    *id = 0;
    if (!t->write || !t->s->has_dict || n > SSI_DICT_MAX_NAMES)
        return 0;
    uint64_t hash = ssi_dict_hash(props, n);
    pthread_rwlock_rdlock(&d->lock);
    if (d->complete)
        *id = ssi_dict_find(d, props, n, hash, UINT32_MAX);
    pthread_rwlock_unlock(&d->lock);
    if (*id)
        return 0;
    int rc = 0;
    pthread_rwlock_wrlock(&d->lock); /* loaded, or added, by this writer alone */
    if (!d->complete)
        rc = ssi_dict_load_all(d, t);
    if (!rc && !(*id = ssi_dict_find(d, props, n, hash, UINT32_MAX)))
        rc = ssi_dict_add(d, t, props, n, hash, id);
    pthread_rwlock_unlock(&d->lock);
    return rc;
}

int ssi_dict_committed_id(ss_store *s, const ss_prop *props, uint32_t n, uint32_t *id)
{
    ssi_dict *d = &s->dcache;
    *id = 0;
    if (!s->has_dict || n > SSI_DICT_MAX_NAMES)
        return 0;
    uint64_t hash = ssi_dict_hash(props, n); /* outside the lock */
    pthread_rwlock_rdlock(&d->lock);
    if (d->complete)
        *id = ssi_dict_find(d, props, n, hash, d->committed);
    pthread_rwlock_unlock(&d->lock);
    return *id != 0;
}

void ssi_dict_end(ss_store *s, int committed)
{
    ssi_dict *d = &s->dcache;
    pthread_rwlock_wrlock(&d->lock);
    if (committed)
        d->committed = d->n;
    else if (d->n > d->committed) {
        ssi_dict_drop(d, d->committed);
        if (ssi_dict_rehash(d, d->nslots)) { /* read again at the next write */
            ssi_dict_drop(d, 0);
            d->complete = 0;
            d->committed = 0;
        }
    }
    pthread_rwlock_unlock(&d->lock);
}
