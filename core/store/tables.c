/* The tables of store_table.h: the store keeps them, another stage owns what is in them. */
#include "store_impl.h"
#include "store_table.h"

static MDB_dbi ssi_table_dbi(const ss_store *s, ss_store_table tb)
{
    switch (tb) {
    case SS_STORE_META: return s->meta;
    case SS_STORE_CATALOGS: return s->catalogs;
    case SS_STORE_CATALOG_ROWS: return s->catalog_rows;
    case SS_STORE_CATALOG_SKY: return s->catalog_sky;
    case SS_STORE_LOCUS_MATCHES: return s->locus_matches;
    case SS_STORE_LOCUS_XMATCH: return s->locus_xmatch;
    case SS_STORE_WATCH_OUTBOX: return s->watch_outbox;
    case SS_STORE_CATALOG_LOCI: return s->catalog_loci;
    }
    return s->meta;
}

int ss_store_has_table(const ss_store *s, ss_store_table tb)
{
    if (tb == SS_STORE_CATALOG_LOCI)
        return s->has_search;
    return tb == SS_STORE_META || s->has_catalogs;
}

/* A table this store lacks reads as empty and refuses writes, as LMDB would answer for a key. */
static int ssi_missing(const ss_store_txn *t, ss_store_table tb)
{
    return !ss_store_has_table(t->s, tb);
}

int ss_store_get(ss_store_txn *t, ss_store_table tb, MDB_val *key, MDB_val *val)
{
    if (ssi_missing(t, tb))
        return MDB_NOTFOUND;
    return mdb_get(t->txn, ssi_table_dbi(t->s, tb), key, val);
}

int ss_store_put(ss_store_txn *t, ss_store_table tb, MDB_val *key, MDB_val *val, unsigned flags)
{
    if (ssi_missing(t, tb))
        return SS_EVERSION;
    return mdb_put(t->txn, ssi_table_dbi(t->s, tb), key, val, flags);
}

int ss_store_del(ss_store_txn *t, ss_store_table tb, MDB_val *key)
{
    if (ssi_missing(t, tb))
        return MDB_NOTFOUND;
    return mdb_del(t->txn, ssi_table_dbi(t->s, tb), key, NULL);
}

int ss_store_count(ss_store_txn *t, ss_store_table tb, size_t *n)
{
    MDB_stat st;
    *n = 0;
    if (ssi_missing(t, tb))
        return 0;
    int rc = mdb_stat(t->txn, ssi_table_dbi(t->s, tb), &st);
    if (!rc)
        *n = st.ms_entries;
    return rc;
}

int ss_store_cursor_open(ss_store_txn *t, ss_store_table tb, MDB_cursor **cur)
{
    if (ssi_missing(t, tb))
        return MDB_NOTFOUND;
    return mdb_cursor_open(t->txn, ssi_table_dbi(t->s, tb), cur);
}

int ss_store_cursor_get(MDB_cursor *cur, MDB_val *key, MDB_val *val, MDB_cursor_op op)
{
    return mdb_cursor_get(cur, key, val, op);
}

int ss_store_cursor_put(MDB_cursor *cur, MDB_val *key, MDB_val *val, unsigned flags)
{
    return mdb_cursor_put(cur, key, val, flags);
}

int ss_store_cursor_del(MDB_cursor *cur)
{
    return mdb_cursor_del(cur, 0);
}

void ss_store_cursor_close(MDB_cursor *cur)
{
    mdb_cursor_close(cur);
}
