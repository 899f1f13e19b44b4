/* Draining the watch-list outbox (watch.h). */
#include "watch.h"

#include "store_impl.h"

#include <string.h>

/* Take entries from the start of the outbox; @p n counts those taken. */
static int ssi_drain(ss_store *s, MDB_txn *txn, size_t max,
                     int (*take)(void *, const char *, const char *, size_t), void *ctx, size_t *n)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn, s->watch_outbox, &cur);
    if (rc)
        return rc;
    *n = 0;
    while (*n < max && (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0) {
        const char *list = v.mv_data, *nul = memchr(list, '\0', v.mv_size);
        if (!nul) {
            rc = SS_ECORRUPT;
            break;
        }
        size_t head = (size_t)(nul - list) + 1;
        if (take(ctx, list, list + head, v.mv_size - head))
            break;
        if ((rc = mdb_cursor_del(cur, 0)))
            break;
        ++*n;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int ss_watch_drain(ss_store *s, size_t max,
                   int (*take)(void *ctx, const char *list, const char *json, size_t len),
                   void *ctx, size_t *taken, ss_err *err)
{
    size_t n = 0;
    if (taken)
        *taken = 0;
    if (!s->has_catalogs || s->readonly)
        return ss_err_set(err, SS_EINVAL, "store %s: the outbox needs a read-write store", s->path);
    if (max == 0)
        return 0;
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc == MDB_MAP_RESIZED && !(rc = mdb_env_set_mapsize(s->env, 0)))
        rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc)
        return ssi_store_fail(s, err, rc, "draining the watch outbox");
    rc = ssi_drain(s, txn, max, take, ctx, &n);
    if (rc)
        mdb_txn_abort(txn);
    else
        rc = mdb_txn_commit(txn);
    if (rc)
        return ssi_store_fail(s, err, rc, "draining the watch outbox");
    if (taken)
        *taken = n;
    return 0;
}

int ss_watch_pending(ss_store *s, size_t *n, ss_err *err)
{
    MDB_txn *txn;
    MDB_stat st;
    *n = 0;
    if (!s->has_catalogs)
        return 0;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (!rc) {
        rc = mdb_stat(txn, s->watch_outbox, &st);
        mdb_txn_abort(txn);
    }
    if (rc)
        return ssi_store_fail(s, err, rc, "reading the watch outbox");
    *n = st.ms_entries;
    return 0;
}
