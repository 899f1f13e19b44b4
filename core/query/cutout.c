#include "cutout.h"

#include "query.h"

#include <errno.h>
#include <string.h>

typedef struct ssi_lister {
    FILE *out;
    const char *alert_id;
} ssi_lister;

static int ssi_list_one(void *ctx, const ss_store_cutout *st)
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

int ss_query_cutout_list(ss_store *s, const char *alert_id, const char *survey, FILE *out,
                         ss_err *err)
{
    ss_store_txn *txn = NULL;
    ssi_lister l = {out, alert_id};
    int rc = ss_store_txn_begin(s, SS_STORE_READ, &txn);
    if (!rc)
        rc = ss_store_cutouts_each(txn, alert_id, survey, ssi_list_one, &l);
    ss_store_txn_abort(txn);
    return rc ? ss_store_fail(s, err, rc, "listing cutouts") : 0;
}

/* What a search for one stamp found: the match, how many surveys had one, what else there is. */
typedef struct ssi_find {
    ss_cutout_kind kind;
    ss_store_cutout match;
    int nmatch;
    char surveys[256], others[256];
} ssi_find;

static void ssi_append(char *buf, size_t cap, const char *s)
{
    size_t len = strlen(buf);
    if (!strstr(buf, s))
        snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", s);
}

static int ssi_find_one(void *ctx, const ss_store_cutout *st)
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
    ss_store_info info;
    if (!ss_store_info_get(s, &info) && info.format < 3)
        return ss_err_set(err, SS_ENOTFOUND,
                          "store %s is of format %u, which keeps no cutouts (ingest into it with "
                          "this skysieve to upgrade it)",
                          ss_store_path(s), info.format);
    return ss_err_set(err, SS_ENOTFOUND,
                      "no cutouts for alert '%s' in store %s (not ingested, ingested with cutouts "
                      "off, or its survey sends none)",
                      alert_id, ss_store_path(s));
}

int ss_query_cutout_write(ss_store *s, const char *alert_id, const char *survey,
                          ss_cutout_kind kind, FILE *out, ss_err *err)
{
    ss_store_txn *txn;
    ssi_find f = {.kind = kind};
    int rc = ss_store_txn_begin(s, SS_STORE_READ, &txn);
    if (rc)
        return ss_store_fail(s, err, rc, "starting a read transaction");
    if ((rc = ss_store_cutouts_each(txn, alert_id, survey, ssi_find_one, &f)))
        rc = ss_store_fail(s, err, rc, "reading cutouts");
    else if (f.nmatch != 1)
        rc = ssi_find_failed(s, alert_id, &f, err);
    else if (fwrite(f.match.bytes, 1, f.match.len, out) != f.match.len || fflush(out))
        rc = ss_err_set(err, EIO, "writing the %s cutout of alert '%s': %s",
                        ss_cutout_kind_name(kind), alert_id, strerror(errno));
    ss_store_txn_abort(txn);
    return rc;
}
