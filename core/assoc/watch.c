/* Draining the watch-list outbox (watch.h). */
#include "watch.h"

#include "store_table.h"

#include <string.h>

/* Take entries from the start of the outbox; @p n counts those taken. */
static int ssi_drain(ss_store_txn *txn, size_t max,
                     int (*take)(void *, const char *, const char *, size_t), void *ctx, size_t *n)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = ss_store_cursor_open(txn, SS_STORE_WATCH_OUTBOX, &cur);
    if (rc)
        return rc;
    *n = 0;
    while (*n < max && (rc = ss_store_cursor_get(cur, &k, &v, MDB_FIRST)) == 0) {
        const char *list = v.mv_data, *nul = memchr(list, '\0', v.mv_size);
        if (!nul) {
            rc = SS_ECORRUPT;
            break;
        }
        size_t head = (size_t)(nul - list) + 1;
        if (take(ctx, list, list + head, v.mv_size - head))
            break;
        if ((rc = ss_store_cursor_del(cur)))
            break;
        ++*n;
    }
    ss_store_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int ss_assoc_watch_drain(ss_store *s, size_t max,
                         int (*take)(void *ctx, const char *list, const char *json, size_t len),
                         void *ctx, size_t *taken, ss_err *err)
{
    size_t n = 0;
    if (taken)
        *taken = 0;
    ss_store_info info;
    if (!ss_store_has_table(s, SS_STORE_WATCH_OUTBOX) || ss_store_info_get(s, &info) ||
        info.readonly)
        return ss_err_set(err, SS_EINVAL, "store %s: the outbox needs a read-write store",
                          ss_store_path(s));
    if (max == 0)
        return 0;
    ss_store_txn *txn;
    int rc = ss_store_txn_begin(s, SS_STORE_WRITE, &txn);
    if (rc)
        return ss_store_fail(s, err, rc, "draining the watch outbox");
    rc = ssi_drain(txn, max, take, ctx, &n);
    if (rc)
        ss_store_txn_abort(txn);
    else
        rc = ss_store_txn_commit(txn);
    if (rc)
        return ss_store_fail(s, err, rc, "draining the watch outbox");
    if (taken)
        *taken = n;
    return 0;
}

int ss_assoc_watch_pending(ss_store *s, size_t *n, ss_err *err)
{
    ss_store_txn *txn;
    *n = 0;
    int rc = ss_store_txn_begin(s, SS_STORE_READ, &txn);
    if (!rc) {
        rc = ss_store_count(txn, SS_STORE_WATCH_OUTBOX, n);
        ss_store_txn_abort(txn);
    }
    return rc ? ss_store_fail(s, err, rc, "reading the watch outbox") : 0;
}
