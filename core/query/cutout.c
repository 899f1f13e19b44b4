#include "cutout.h"

#include "query.h"
#include "store_impl.h"

#include <errno.h>
#include <string.h>

/* One stored stamp, parsed from its key and record; pointers into the transaction's pages. */
typedef struct ssi_stamp {
    char survey[SS_SURVEY_MAX + 1];
    ss_cutout_kind kind;
    const char *file_name;
    uint32_t file_name_len;
    const unsigned char *data;
    size_t len;
} ssi_stamp;

/* Parse key (alert_id NUL survey NUL kind) and value. @return 0 or SS_ECORRUPT. */
static int ssi_stamp_parse(const MDB_val *k, const MDB_val *v, size_t idlen, ssi_stamp *out)
{
    const char *key = k->mv_data;
    size_t slen = k->mv_size - idlen - 3;
    if (k->mv_size < idlen + 3 || slen > SS_SURVEY_MAX || key[idlen + 1 + slen] != '\0')
        return SS_ECORRUPT;
    memcpy(out->survey, key + idlen + 1, slen);
    out->survey[slen] = '\0';
    out->kind = (ss_cutout_kind)(unsigned char)key[k->mv_size - 1];
    ssi_rbuf r = {v->mv_data, (const unsigned char *)v->mv_data + v->mv_size, 0};
    if (ssi_rbuf_u8(&r) != SS_RECORD_VERSION)
        return SS_ECORRUPT;
    out->file_name = ssi_rbuf_str(&r, &out->file_name_len);
    out->data = r.p;
    out->len = (size_t)(r.end - r.p);
    return r.bad || out->kind >= SS_CUTOUT__COUNT ? SS_ECORRUPT : 0;
}

typedef int (*ssi_stamp_fn)(void *ctx, const ssi_stamp *st);

/* Call @p fn for every stamp of @p alert_id (of @p survey when not NULL). */
static int ssi_each_stamp(ss_store *s, MDB_txn *txn, const char *alert_id, const char *survey,
                          ssi_stamp_fn fn, void *ctx)
{
    if (!s->has_cutouts)
        return 0;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, s->cutouts, &cur);
    if (rc)
        return rc;
    size_t n = strlen(alert_id);
    MDB_val k = {n + 1, (void *)alert_id}, v; /* the id and its NUL: then every survey */
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size <= n + 1 || memcmp(k.mv_data, alert_id, n + 1) != 0)
            break;
        ssi_stamp st;
        if ((rc = ssi_stamp_parse(&k, &v, n, &st)))
            break;
        if (!survey || !strcmp(survey, st.survey))
            if ((rc = fn(ctx, &st)))
                break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

typedef struct ssi_lister {
    FILE *out;
    const char *alert_id;
} ssi_lister;

static int ssi_list_one(void *ctx, const ssi_stamp *st)
{
    ssi_lister *l = ctx;
    json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "survey", st->survey, "alert_id", l->alert_id,
                          "kind", ss_cutout_kind_name(st->kind), "bytes", (json_int_t)st->len);
    if (st->file_name)
        json_object_set_new(o, "file_name", json_stringn(st->file_name, st->file_name_len));
    json_dumpf(o, l->out, SS_JSON_FLAGS);
    fputc('\n', l->out);
    json_decref(o);
    return 0;
}

int ss_cutout_list(ss_store *s, const char *alert_id, const char *survey, FILE *out, ss_err *err)
{
    MDB_txn *txn = NULL;
    ssi_lister l = {out, alert_id};
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (!rc)
        rc = ssi_each_stamp(s, txn, alert_id, survey, ssi_list_one, &l);
    if (txn)
        mdb_txn_abort(txn);
    return rc ? ssi_store_fail(s, err, rc, "listing cutouts") : 0;
}

/* What a search for one stamp found: the match, how many surveys had one, what else there is. */
typedef struct ssi_find {
    ss_cutout_kind kind;
    ssi_stamp match;
    int nmatch;
    char surveys[256], others[256];
} ssi_find;

static void ssi_append(char *buf, size_t cap, const char *s)
{
    size_t len = strlen(buf);
    if (!strstr(buf, s))
        snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", s);
}

static int ssi_find_one(void *ctx, const ssi_stamp *st)
{
    ssi_find *f = ctx;
    if (st->kind != f->kind) {
        ssi_append(f->others, sizeof f->others, ss_cutout_kind_name(st->kind));
        return 0;
    }
    if (f->nmatch++ == 0)
        f->match = *st;
    ssi_append(f->surveys, sizeof f->surveys, st->survey);
    return 0;
}

static int ssi_find_failed(ss_store *s, const char *alert_id, const ssi_find *f, ss_err *err)
{
    const char *kind = ss_cutout_kind_name(f->kind);
    if (f->nmatch > 1)
        return ss_err_set(err, SS_EAMBIGUOUS,
                          "alert '%s' has a %s cutout in several surveys (%s): give --survey",
                          alert_id, kind, f->surveys);
    if (f->others[0])
        return ss_err_set(err, SS_ENOTFOUND, "alert '%s' has no %s cutout (it has: %s)", alert_id,
                          kind, f->others);
    if (!s->has_cutouts)
        return ss_err_set(err, SS_ENOTFOUND,
                          "store %s is of format %u, which keeps no cutouts (ingest into it with "
                          "this skysieve to upgrade it)",
                          s->path, s->format);
    return ss_err_set(err, SS_ENOTFOUND,
                      "no cutouts for alert '%s' in store %s (not ingested, ingested with cutouts "
                      "off, or its survey sends none)",
                      alert_id, s->path);
}

int ss_cutout_write(ss_store *s, const char *alert_id, const char *survey, ss_cutout_kind kind,
                    FILE *out, ss_err *err)
{
    MDB_txn *txn;
    ssi_find f = {.kind = kind};
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return ssi_store_fail(s, err, rc, "starting a read transaction");
    if ((rc = ssi_each_stamp(s, txn, alert_id, survey, ssi_find_one, &f)))
        rc = ssi_store_fail(s, err, rc, "reading cutouts");
    else if (f.nmatch != 1)
        rc = ssi_find_failed(s, alert_id, &f, err);
    else if (fwrite(f.match.data, 1, f.match.len, out) != f.match.len || fflush(out))
        rc = ss_err_set(err, EIO, "writing the %s cutout of alert '%s': %s",
                        ss_cutout_kind_name(kind), alert_id, strerror(errno));
    mdb_txn_abort(txn);
    return rc;
}
