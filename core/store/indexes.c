/*
 * Format 6's indexes for searches (store.h): loci_newest (newest alert MJD, locus id), kept here in
 * step with every locus record written, and catalog_loci (catalog id, locus id), the reverse of
 * locus_matches, kept by core/assoc/ where it writes matches. An upgrade builds both from the
 * tables they index.
 */
#include "store_impl.h"

#include <string.h>

int ssi_newest_move(ss_store *s, MDB_txn *txn, const char *locus_id, const double *old, double mjd)
{
    unsigned char was[SSI_NEWEST_KEY], now[SSI_NEWEST_KEY];
    ssi_key_newest(now, mjd, locus_id);
    if (old) {
        ssi_key_newest(was, *old, locus_id);
        if (!memcmp(was, now, sizeof now))
            return 0;
        MDB_val k = {sizeof was, was};
        int rc = mdb_del(txn, s->loci_newest, &k, NULL);
        /* an entry already missing is what verify reports; the new one repairs it */
        if (rc && rc != MDB_NOTFOUND)
            return rc;
    }
    MDB_val k = {sizeof now, now}, v = {0, ""};
    return mdb_put(txn, s->loci_newest, &k, &v, 0);
}

int ssi_loci_walk(ss_store *s, MDB_txn *txn, ssi_locus_rec_fn fn)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn, s->loci, &cur);
    if (rc)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char id[SS_LOCUS_ID_LEN + 1];
        if (k.mv_size != SS_LOCUS_ID_LEN) {
            rc = SS_ECORRUPT;
            break;
        }
        memcpy(id, k.mv_data, SS_LOCUS_ID_LEN);
        id[SS_LOCUS_ID_LEN] = '\0';
        if ((rc = fn(s, txn, id, &v)))
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int ssi_newest_of(ss_store *s, MDB_txn *txn, const char *id, const MDB_val *v)
{
    double mjd;
    if (ssi_locus_newest(v->mv_data, v->mv_size, &mjd))
        return SS_ECORRUPT;
    return ssi_newest_move(s, txn, id, NULL, mjd);
}

/* locus_matches keys are (locus id, catalog id): catalog_loci holds the same two, swapped. */
static int ssi_build_catalog_loci(ss_store *s, MDB_txn *txn)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn, s->locus_matches, &cur);
    if (rc)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        unsigned char kb[8 + SS_LOCUS_ID_LEN];
        if (k.mv_size != sizeof kb) {
            rc = SS_ECORRUPT;
            break;
        }
        memcpy(kb, (const unsigned char *)k.mv_data + SS_LOCUS_ID_LEN, 8);
        memcpy(kb + 8, k.mv_data, SS_LOCUS_ID_LEN);
        MDB_val ck = {sizeof kb, kb}, cv = {0, ""};
        if ((rc = mdb_put(txn, s->catalog_loci, &ck, &cv, 0)))
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int ssi_indexes_build(ss_store *s, MDB_txn *txn)
{
    int rc = ssi_loci_walk(s, txn, ssi_newest_of);
    return rc ? rc : ssi_build_catalog_loci(s, txn);
}
