/* Keeping a store for years: the compacting copy and the retention policy (store.h). */
#include "store_impl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Records looked at per write transaction: a retention pass never holds the writer for long. */
#define SSI_RETAIN_CHUNK 2000

/* Entries and bytes a compaction writes per transaction: LMDB keeps a transaction's pages in
 * memory until it commits. */
#define SSI_COMPACT_ENTRIES 100000u
#define SSI_COMPACT_BYTES   ((size_t)256 << 20)

/* The copy's environment: as many tables as the store's, a map as large, not synced until the
 * end (a copy interrupted is removed, never used). */
static int ssi_compact_env(ss_store *s, const char *dir, MDB_env **out)
{
    MDB_envinfo info;
    int rc = mdb_env_info(s->env, &info);
    if (!rc)
        rc = mdb_env_create(out);
    if (!rc)
        rc = mdb_env_set_maxdbs(*out, 32);
    if (!rc)
        rc = mdb_env_set_mapsize(*out, info.me_mapsize);
    if (!rc)
        rc = mdb_env_open(*out, dir, MDB_NOSYNC, 0644);
    return rc;
}

/* A compaction in progress: the store's snapshot (t) and the copy's open transaction. */
typedef struct ssi_compact {
    ss_store_txn *t;
    MDB_env *env;
    MDB_txn *txn;
    size_t entries, bytes; /* in txn */
    const char *dir;       /* the copy's */
    int stamps_fd;         /* the copy's stamps file, opened at its first chunk (else -1) */
    uint64_t stamps_end;   /* where its next chunk goes */
    ss_wbuf chunk;         /* a chunk on its way from one file to the other */
} ssi_compact;

/* A chunk of the store's stamps file copied to the copy's, right after the one before: retention's
 * holes, and bytes a crash left to no chunk, are left out. @p v becomes its value in the copy. */
static int ssi_compact_chunk(ssi_compact *c, MDB_val *v, unsigned char *place)
{
    double newest;
    uint64_t off, len;
    int rc = ssi_chunk_place(v, &newest, &off, &len);
    if (rc || !len) /* one in the table itself (formats 11-12) is copied as it is */
        return rc;
    if (c->stamps_fd < 0 && (rc = ssi_stamps_file_open(c->dir, 0, &c->stamps_fd)))
        return rc;
    ss_wbuf_reset(&c->chunk);
    if (len > SIZE_MAX || ss_wbuf_reserve(&c->chunk, (size_t)len))
        return SS_ENOMEM;
    rc = ssi_stamps_file_read(c->t->s, c->chunk.data, (size_t)len, off);
    if (!rc)
        rc = ssi_fd_write_at(c->stamps_fd, c->chunk.data, (size_t)len, c->stamps_end);
    if (rc)
        return rc;
    ssi_chunk_moved(v, c->stamps_end, place);
    c->stamps_end += len;
    *v = (MDB_val){SSI_CHUNK_PLACE, place};
    return 0;
}

/* The copy's stamps file on disk, and its end in its meta table. */
static int ssi_compact_stamps_done(ssi_compact *c)
{
    MDB_dbi meta;
    if (c->stamps_fd < 0)
        return 0;
    int rc = fdatasync(c->stamps_fd) ? errno : mdb_dbi_open(c->txn, "meta", 0, &meta);
    return rc ? rc : ssi_chunks_end_set(c->txn, meta, c->stamps_end);
}

/* Commit the copy's transaction when it holds enough, and begin the next (@p cur, on @p dbi,
 * is opened again in it). */
static int ssi_compact_turn(ssi_compact *c, MDB_dbi dbi, MDB_cursor **cur)
{
    if (c->entries < SSI_COMPACT_ENTRIES && c->bytes < SSI_COMPACT_BYTES)
        return 0;
    mdb_cursor_close(*cur);
    *cur = NULL;
    int rc = mdb_txn_commit(c->txn);
    c->txn = NULL;
    c->entries = c->bytes = 0;
    if (!rc)
        rc = mdb_txn_begin(c->env, NULL, 0, &c->txn);
    if (!rc)
        rc = mdb_cursor_open(c->txn, dbi, cur);
    return rc;
}

/* Table @p name, entry by entry in key order, appended: each page of the copy is filled before
 * the next begins. */
static int ssi_compact_table(ssi_compact *c, const char *name)
{
    MDB_dbi from, to;
    unsigned flags = 0;
    MDB_cursor *src = NULL, *dst = NULL;
    MDB_val k, v;
    int rc = mdb_dbi_open(c->t->txn, name, 0, &from);
    if (!rc)
        rc = mdb_dbi_flags(c->t->txn, from, &flags);
    if (!rc)
        rc = mdb_dbi_open(c->txn, name, (flags & (MDB_DUPSORT | MDB_DUPFIXED)) | MDB_CREATE, &to);
    if (!rc)
        rc = mdb_cursor_open(c->t->txn, from, &src);
    if (!rc) /* the handle outlives this transaction once a commit below made the table */
        rc = mdb_cursor_open(c->txn, to, &dst);
    unsigned append = flags & MDB_DUPSORT ? MDB_APPENDDUP : MDB_APPEND;
    int stamps = !strcmp(name, "stamps");
    unsigned char place[SSI_CHUNK_PLACE];
    for (int op = MDB_FIRST; !rc && !(rc = mdb_cursor_get(src, &k, &v, (MDB_cursor_op)op));
         op = MDB_NEXT) {
        if (stamps && (rc = ssi_compact_chunk(c, &v, place)))
            break;
        rc = mdb_cursor_put(dst, &k, &v, append);
        c->entries++, c->bytes += k.mv_size + v.mv_size;
        if (!rc)
            rc = ssi_compact_turn(c, to, &dst);
    }
    mdb_cursor_close(src);
    mdb_cursor_close(dst);
    if (rc == MDB_NOTFOUND && stamps)
        rc = ssi_compact_stamps_done(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Every table the main table names, copied in turn. */
static int ssi_compact_copy(ssi_compact *c)
{
    MDB_dbi main;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    char name[256];
    int rc = mdb_dbi_open(c->t->txn, NULL, 0, &main);
    if (!rc)
        rc = mdb_cursor_open(c->t->txn, main, &cur);
    for (int op = MDB_FIRST; !rc && !(rc = mdb_cursor_get(cur, &k, &v, (MDB_cursor_op)op));
         op = MDB_NEXT) {
        if (k.mv_size >= sizeof name || memchr(k.mv_data, '\0', k.mv_size))
            rc = SS_ECORRUPT;
        else
            memcpy(name, k.mv_data, k.mv_size), name[k.mv_size] = '\0';
        if (!rc)
            rc = ssi_compact_table(c, name);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static void ssi_compact_remove(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/lock.mdb", dir);
    unlink(path);
    ssi_stamps_file_remove(dir);
    rmdir(dir);
}

int ss_store_compact(ss_store *s, const char *dir, ss_err *err)
{
    int made = mkdir(dir, 0755) == 0;
    if (!made && errno != EEXIST)
        return ss_err_set(err, errno, "compact: cannot create %s: %s", dir, strerror(errno));
    if (!made && rmdir(dir) != 0) /* only an empty directory may be written into */
        return ss_err_set(err, EEXIST, "compact: %s exists and is not an empty directory", dir);
    if (!made && mkdir(dir, 0755) != 0)
        return ss_err_set(err, errno, "compact: cannot create %s: %s", dir, strerror(errno));
    ssi_compact c = {.dir = dir, .stamps_fd = -1};
    int rc = ss_store_txn_begin(s, SS_STORE_READ, &c.t);
    if (!rc)
        rc = ssi_compact_env(s, dir, &c.env);
    if (!rc)
        rc = mdb_txn_begin(c.env, NULL, 0, &c.txn);
    if (!rc)
        rc = ssi_compact_copy(&c);
    if (!rc)
        rc = mdb_txn_commit(c.txn);
    else if (c.txn)
        mdb_txn_abort(c.txn);
    if (!rc)
        rc = mdb_env_sync(c.env, 1);
    if (c.env)
        mdb_env_close(c.env);
    if (c.stamps_fd >= 0)
        close(c.stamps_fd);
    ss_wbuf_free(&c.chunk);
    if (c.t)
        ss_store_txn_abort(c.t);
    if (rc) {
        ssi_compact_remove(dir);
        return ss_store_fail(s, err, rc, "compacting");
    }
    return 0;
}

static const char *const ssi_retain_keys[2] = {"retain_cutouts_days", "retain_payload_days"};

int ss_store_retention_get(ss_store *s, ss_store_retention *out)
{
    ss_store_txn *t = NULL;
    double *days[2] = {&out->cutouts_days, &out->payload_days};
    *out = (ss_store_retention){0, 0};
    int rc = ss_store_txn_begin(s, SS_STORE_READ, &t);
    for (int i = 0; !rc && i < 2; i++)
        if ((rc = ssi_meta_get_f64(s, t->txn, ssi_retain_keys[i], days[i])) == MDB_NOTFOUND)
            rc = 0; /* never set: kept forever */
    if (t)
        ss_store_txn_abort(t);
    return rc;
}

static int ssi_retention_put(ss_store_txn *t, void *ctx, ss_err *err)
{
    (void)err;
    const ss_store_retention *r = ctx;
    const double days[2] = {r->cutouts_days, r->payload_days};
    int rc = 0;
    for (int i = 0; !rc && i < 2; i++)
        rc = ssi_meta_put_f64(t->s, t->txn, ssi_retain_keys[i], days[i]);
    return rc;
}

int ss_store_retention_set(ss_store *s, const ss_store_retention *r, ss_err *err)
{
    if (!(r->cutouts_days >= 0) || !(r->payload_days >= 0) || isinf(r->cutouts_days) ||
        isinf(r->payload_days))
        return ss_err_set(err, SS_EINVAL, "store %s: retention days must be >= 0 (0: forever)",
                          s->path);
    if (s->readonly)
        return ss_err_set(err, SS_EINVAL, "store %s: opened read-only", s->path);
    return ss_store_write(s, ssi_retention_put, (void *)r, "setting the retention", err);
}

/* One pass of the retention over a table, in chunks: where the next chunk starts, and what the
 * committed chunks dropped. */
typedef struct ssi_retain {
    double cutoff;        /* MJD: what is older goes */
    ss_wbuf resume, next; /* first key of the next chunk (resume), and the attempt's */
    int done, next_done;
    ss_wbuf keys[SSI_RETAIN_CHUNK], vals[SSI_RETAIN_CHUNK];
    size_t n;
    uint64_t dropped, pending; /* committed, and the attempt's (records repacked, for repack) */
    ss_packet *pkt;
    ss_wbuf holes; /* offset and length (u64 each) of each stamps.dat chunk the attempt drops */
} ssi_retain;

/* Position @p cur at the chunk's first key. */
static int ssi_retain_start(ssi_retain *r, MDB_cursor *cur, MDB_val *k, MDB_val *v)
{
    if (!r->resume.len)
        return mdb_cursor_get(cur, k, v, MDB_FIRST);
    *k = (MDB_val){r->resume.len, r->resume.data};
    return mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
}

/* Walk a chunk of @p dbi, handing each record to @p visit, which may queue a rewrite (val set)
 * or a deletion (val empty) in r->keys / r->vals; then apply them. */
static int ssi_retain_chunk(ss_store_txn *t, ssi_retain *r, MDB_dbi dbi,
                            int (*visit)(ss_store_txn *, ssi_retain *, const MDB_val *,
                                         const MDB_val *))
{
    MDB_cursor *cur;
    MDB_val k, v;
    r->n = 0, r->pending = 0, r->next_done = 1;
    ss_wbuf_reset(&r->holes);
    int rc = mdb_cursor_open(t->txn, dbi, &cur);
    if (rc)
        return rc;
    size_t seen = 0;
    for (rc = ssi_retain_start(r, cur, &k, &v); !rc; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (seen++ == SSI_RETAIN_CHUNK) { /* the next chunk starts here */
            ss_wbuf_reset(&r->next);
            ss_wbuf_bytes(&r->next, k.mv_data, k.mv_size);
            r->next_done = 0;
            break;
        }
        if ((rc = visit(t, r, &k, &v)))
            break;
    }
    mdb_cursor_close(cur); /* changed after the walk: a put moves pages under a cursor */
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    rc = r->next.failed ? SS_ENOMEM : 0;
    for (size_t i = 0; !rc && i < r->n; i++) {
        MDB_val key = {r->keys[i].len, r->keys[i].data}, val = {r->vals[i].len, r->vals[i].data};
        rc = val.mv_size ? mdb_put(t->txn, dbi, &key, &val, 0) : mdb_del(t->txn, dbi, &key, NULL);
    }
    return rc;
}

static int ssi_retain_queue(ssi_retain *r, const MDB_val *k, const ss_wbuf *val)
{
    ss_wbuf_reset(&r->keys[r->n]);
    ss_wbuf_reset(&r->vals[r->n]);
    ss_wbuf_bytes(&r->keys[r->n], k->mv_data, k->mv_size);
    if (val)
        ss_wbuf_bytes(&r->vals[r->n], val->data, val->len);
    int failed = r->keys[r->n].failed || r->vals[r->n].failed;
    r->n++;
    return failed ? SS_ENOMEM : 0;
}

/* A group whose members older than the cutoff had survey properties, rewritten without them. */
static int ssi_retain_group(ss_store_txn *t, ssi_retain *r, const MDB_val *k, const MDB_val *v)
{
    uint64_t dropped;
    int rc = ssi_group_retain(t, k, v, r->cutoff, r->pkt, &dropped);
    if (rc || !dropped)
        return rc;
    r->pending += dropped;
    return ssi_retain_queue(r, k, &t->gbuf);
}

/* An alert older than the cutoff keeps what its light curve needs (ss_alert's own fields) and
 * loses its survey properties. */
static int ssi_retain_payload(ss_store_txn *t, ssi_retain *r, const MDB_val *k, const MDB_val *v)
{
    ss_store_alert_head h;
    char locus[SS_LOCUS_ID_LEN + 1];
    ss_prop *sl;
    uint32_t nsl;
    if (ssi_key_is_group(k))
        return ssi_retain_group(t, r, k, v);
    if (v->mv_size <= 1)
        return 0; /* no record: its alert was missing when the store moved to format 9 (verify) */
    int rc = ssi_alert_head(v->mv_data, v->mv_size, k, &h);
    if (rc || !(h.mjd < r->cutoff))
        return rc;
    ss_packet_reset(r->pkt);
    ss_alert *a = ss_packet_add(r->pkt);
    if (!a)
        return SS_ENOMEM;
    if ((rc = ssi_alert_decode(t, v->mv_data, v->mv_size, k, r->pkt, a, locus)) ||
        (rc = ssi_alert_survey_locus(t, v->mv_data, v->mv_size, k, r->pkt->arena, &sl, &nsl)))
        return rc;
    if (!a->nprops && !nsl)
        return 0; /* dropped already */
    a->nprops = 0;
    if ((rc = ssi_alert_pack_keyed(t, a, NULL, 0, &t->buf)))
        return rc;
    r->pending++;
    return ssi_retain_queue(r, k, &t->buf);
}

/* A cutouts record goes with the stamps of an alert older than the cutoff. */
static int ssi_retain_cutouts(ss_store_txn *t, ssi_retain *r, const MDB_val *k, const MDB_val *v)
{
    const char *key = k->mv_data, *nul = memchr(key, '\0', k->mv_size);
    if (!nul || k->mv_size < (size_t)(nul - key) + 3)
        return SS_ECORRUPT;
    char id[SS_ID_MAX + 1], survey[SS_SURVEY_MAX + 1];
    size_t idlen = (size_t)(nul - key), slen = k->mv_size - idlen - 3;
    if (idlen > SS_ID_MAX || slen > SS_SURVEY_MAX)
        return SS_ECORRUPT;
    memcpy(id, key, idlen), id[idlen] = '\0';
    memcpy(survey, nul + 1, slen), survey[slen] = '\0';
    ss_store_alert_head h;
    uint64_t stamps;
    int rc = ss_store_alert_head_get(t, survey, id, &h);
    if (rc == SS_ENOTFOUND || (!rc && !(h.mjd < r->cutoff)))
        return 0; /* kept: young, or stamps without an alert (verify's business) */
    if (rc || (rc = ssi_cutouts_count(k, v, &stamps)))
        return rc;
    r->pending += stamps;
    return ssi_retain_queue(r, k, NULL);
}

/* A chunk of stamps goes once its newest alert is older than the cutoff: the pass over the
 * cutouts table before took every reference to it. */
static int ssi_retain_stamps(ss_store_txn *t, ssi_retain *r, const MDB_val *k, const MDB_val *v)
{
    (void)t;
    double newest;
    uint64_t off, len;
    if (ssi_chunk_place(v, &newest, &off, &len))
        return SS_ECORRUPT;
    if (!(newest < r->cutoff))
        return 0;
    r->pending++;
    if (len) { /* punched once the deletion is committed: a crash before leaves them unread */
        uint64_t hole[2] = {off, len};
        ss_wbuf_bytes(&r->holes, hole, sizeof hole);
    }
    return r->holes.failed ? SS_ENOMEM : ssi_retain_queue(r, k, NULL);
}

/* The stamps file's blocks of the chunks a committed pass dropped, given back. */
static int ssi_retain_punch(ss_store *s, const ssi_retain *r, ss_err *err)
{
    uint64_t hole[2];
    for (size_t i = 0; i + sizeof hole <= r->holes.len; i += sizeof hole) {
        memcpy(hole, r->holes.data + i, sizeof hole);
        int rc = ssi_stamps_file_punch(s, hole[0], hole[1]);
        if (rc) /* committed: the bytes are no chunk's, and a compaction leaves them out */
            return ss_store_fail(s, err, rc, "freeing dropped stamps in stamps.dat");
    }
    return 0;
}

/* What one record of a chunked pass does (queue a rewrite or a deletion, or nothing). */
typedef int (*ssi_visit_fn)(ss_store_txn *t, ssi_retain *r, const MDB_val *k, const MDB_val *v);

typedef struct ssi_retain_pass {
    ssi_retain *r;
    MDB_dbi dbi;
    ssi_visit_fn visit;
    const char *what; /* for messages: "applying the retention" */
} ssi_retain_pass;

static int ssi_retain_write(ss_store_txn *t, void *ctx, ss_err *err)
{
    (void)err;
    ssi_retain_pass *p = ctx;
    int rc = ssi_retain_chunk(t, p->r, p->dbi, p->visit);
    ss_store_counters *c = rc || p->visit != ssi_retain_cutouts ? NULL : ssi_counters_w(t);
    if (c)
        c->cutouts -= p->r->pending;
    return rc;
}

/* Run @p visit over one table, a chunk per transaction. */
static int ssi_retain_table(ss_store *s, ssi_retain *r, MDB_dbi dbi, ssi_visit_fn visit,
                            const char *what, ss_err *err)
{
    ssi_retain_pass p = {r, dbi, visit, what};
    r->done = 0, r->resume.len = 0;
    while (!r->done) {
        int rc = ss_store_write(s, ssi_retain_write, &p, what, err);
        if (!rc)
            rc = ssi_retain_punch(s, r, err);
        if (rc)
            return rc;
        r->dropped += r->pending;
        r->done = r->next_done;
        ss_wbuf_reset(&r->resume);
        ss_wbuf_bytes(&r->resume, r->next.data, r->next.len);
        if (r->resume.failed)
            return ss_err_set(err, SS_ENOMEM, "store %s: out of memory", s->path);
    }
    return 0;
}

static void ssi_retain_free(ssi_retain *r)
{
    for (size_t i = 0; i < SSI_RETAIN_CHUNK; i++)
        ss_wbuf_free(&r->keys[i]), ss_wbuf_free(&r->vals[i]);
    ss_wbuf_free(&r->resume), ss_wbuf_free(&r->next), ss_wbuf_free(&r->holes);
    ss_packet_free(r->pkt);
    free(r);
}

int ss_store_retain(ss_store *s, double now_mjd, ss_store_retain_report *out, ss_err *err)
{
    ss_store_retention pol;
    *out = (ss_store_retain_report){0, 0, 0};
    if (s->readonly)
        return ss_err_set(err, SS_EINVAL, "store %s: opened read-only", s->path);
    int rc = ss_store_retention_get(s, &pol);
    if (rc)
        return ss_store_fail(s, err, rc, "reading the retention");
    ssi_retain *r = calloc(1, sizeof *r);
    if (!r || !(r->pkt = ss_packet_new())) {
        free(r);
        return ss_err_set(err, SS_ENOMEM, "store %s: out of memory", s->path);
    }
    if (pol.payload_days > 0) {
        r->cutoff = now_mjd - pol.payload_days;
        rc = ssi_retain_table(s, r, s->locus_alerts, ssi_retain_payload, "applying the retention",
                              err);
        out->payloads = r->dropped;
    }
    if (!rc && pol.cutouts_days > 0 && s->has_cutouts) {
        r->cutoff = now_mjd - pol.cutouts_days;
        r->dropped = 0;
        rc = ssi_retain_table(s, r, s->cutouts, ssi_retain_cutouts, "applying the retention", err);
        out->cutouts = r->dropped;
    }
    if (!rc && pol.cutouts_days > 0 && s->has_stamps) {
        r->dropped = 0;
        rc = ssi_retain_table(s, r, s->stamps, ssi_retain_stamps, "applying the retention", err);
        out->stamp_chunks = r->dropped;
    }
    ssi_retain_free(r);
    return rc;
}

/* A record in an older packing, or written before its survey had a dictionary, written again in
 * the current one when that is shorter (compressed with its survey's dictionary, trained on the
 * first such records when the survey has none). */
static int ssi_repack_record(ss_store_txn *t, ssi_retain *r, const MDB_val *k, const MDB_val *v)
{
    char locus[SS_LOCUS_ID_LEN + 1];
    ss_prop *sl;
    uint32_t nsl;
    int done;
    if (ssi_key_is_group(k)) {
        int rc = ssi_group_repack(t, k, v, &done);
        r->pending += done;
        return rc || !done ? rc : ssi_retain_queue(r, k, &t->gbuf);
    }
    if (v->mv_size <= 1 || ssi_alert_squeezed(v->mv_data, v->mv_size))
        return 0; /* no record here (an alert missing before format 9), or packed already */
    ss_packet_reset(r->pkt);
    ss_alert *a = ss_packet_add(r->pkt);
    if (!a)
        return SS_ENOMEM;
    int rc = ssi_alert_decode(t, v->mv_data, v->mv_size, k, r->pkt, a, locus);
    if (!rc)
        rc = ssi_alert_survey_locus(t, v->mv_data, v->mv_size, k, r->pkt->arena, &sl, &nsl);
    if (!rc)
        rc = ssi_alert_pack_keyed(t, a, sl, nsl, &t->buf);
    if (rc || t->buf.len >= v->mv_size)
        return rc;
    r->pending++;
    return ssi_retain_queue(r, k, &t->buf);
}

int ss_store_repack(ss_store *s, uint64_t *repacked, ss_err *err)
{
    *repacked = 0;
    if (s->readonly)
        return ss_err_set(err, SS_EINVAL, "store %s: opened read-only", s->path);
    ssi_retain *r = calloc(1, sizeof *r);
    if (!r || !(r->pkt = ss_packet_new())) {
        free(r);
        return ss_err_set(err, SS_ENOMEM, "store %s: out of memory", s->path);
    }
    /* a pass that trained a dictionary left its samples as they were: once more for them */
    int rc = 0;
    for (uint32_t before = UINT32_MAX; !rc && before != s->zrec.nd;) {
        before = s->zrec.nd;
        rc = ssi_retain_table(s, r, s->locus_alerts, ssi_repack_record, "repacking", err);
    }
    *repacked = r->dropped;
    ssi_retain_free(r);
    return rc;
}
