/* The dispatch queue (queue.h). Sequence numbers come from meta "queue_seq" so that they keep
 * growing when the queue empties: the broker reads "everything after the last one it took". */
#include "queue.h"
#include "store_impl.h"

#include <string.h>

static int ssi_next_seq(ss_store *s, MDB_txn *txn, uint64_t *seq)
{
    int rc = ssi_meta_get_u64(txn, s->meta, "queue_seq", seq);
    if (rc == MDB_NOTFOUND)
        *seq = 1; /* 0 is "before every entry" for readers */
    else if (rc)
        return rc;
    return ssi_meta_put_u64(txn, s->meta, "queue_seq", *seq + 1);
}

int ss_store_queue_put(ss_store_txn *t, const char *locus_id, const char *survey,
                       const char *alert_id)
{
    ss_store *s = t->s;
    MDB_txn *txn = t->txn;
    uint64_t seq;
    int rc = ssi_next_seq(s, txn, &seq);
    if (rc)
        return rc;
    unsigned char kb[8], vb[SS_LOCUS_ID_LEN + SS_SURVEY_MAX + SS_ID_MAX + 2];
    size_t ns = strlen(survey), na = strlen(alert_id);
    if (ns > SS_SURVEY_MAX || na > SS_ID_MAX)
        return SS_EINVAL;
    memcpy(vb, locus_id, SS_LOCUS_ID_LEN);
    memcpy(vb + SS_LOCUS_ID_LEN, survey, ns + 1);
    memcpy(vb + SS_LOCUS_ID_LEN + ns + 1, alert_id, na + 1);
    ss_be64_put(kb, seq);
    MDB_val k = {8, kb}, v = {SS_LOCUS_ID_LEN + ns + na + 2, vb};
    return mdb_put(txn, s->queue, &k, &v, MDB_APPEND);
}

static int ssi_entry_decode(const MDB_val *k, const MDB_val *v, ss_store_queue_entry *e)
{
    const char *p = v->mv_data, *end = p + v->mv_size;
    if (k->mv_size != 8 || v->mv_size < SS_LOCUS_ID_LEN + 2 || end[-1] != '\0')
        return SS_ECORRUPT;
    e->seq = ss_be64_get(k->mv_data);
    memcpy(e->locus_id, p, SS_LOCUS_ID_LEN);
    e->locus_id[SS_LOCUS_ID_LEN] = '\0';
    const char *survey = p + SS_LOCUS_ID_LEN;
    size_t ns = strnlen(survey, (size_t)(end - survey));
    if (survey + ns + 1 >= end || ns > SS_SURVEY_MAX || strlen(survey + ns + 1) > SS_ID_MAX)
        return SS_ECORRUPT;
    memcpy(e->survey, survey, ns + 1);
    strcpy(e->alert_id, survey + ns + 1);
    return 0;
}

int ss_store_queue_read(ss_store_txn *t, uint64_t after, ss_store_queue_entry *out, size_t max,
                        size_t *n)
{
    ss_store *s = t->s;
    MDB_txn *txn = t->txn;
    *n = 0;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, s->queue, &cur);
    if (rc)
        return rc;
    unsigned char kb[8];
    ss_be64_put(kb, after + 1);
    MDB_val k = {8, kb}, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && *n < max;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        if ((rc = ssi_entry_decode(&k, &v, &out[*n])) == 0)
            ++*n;
        else
            break;
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int ss_store_queue_del(ss_store_txn *t, uint64_t seq)
{
    ss_store *s = t->s;
    MDB_txn *txn = t->txn;
    unsigned char kb[8];
    ss_be64_put(kb, seq);
    MDB_val k = {8, kb};
    int rc = mdb_del(txn, s->queue, &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

uint64_t ss_store_queue_len(ss_store_txn *t)
{
    ss_store *s = t->s;
    MDB_txn *txn = t->txn;
    MDB_stat st;
    return s->has_queue && mdb_stat(txn, s->queue, &st) == 0 ? st.ms_entries : 0;
}
