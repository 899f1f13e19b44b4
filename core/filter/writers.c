/* Which filter writes each property (filters.h): the set's declarations, recorded in the store's
 * meta table under keys of the filter stage's own, so that a reader of the store can name the
 * writer of a filter-written property without loading any filter. */
#include "filters_impl.h"
#include "store_table.h"

#include <string.h>

/* "filter_output" NUL kind NUL property: the NUL after the prefix keeps these keys apart from
 * the store's and the broker's own meta keys, which never contain one. */
#define SSI_WPREFIX     "filter_output"
#define SSI_WPREFIX_LEN (sizeof SSI_WPREFIX) /* with its NUL */
#define SSI_WKEY_MAX    (SSI_WPREFIX_LEN + 2 + sizeof((ss_filter_writer *)0)->property)

static int ssi_kind_ok(char kind)
{
    return kind == 'l' || kind == 'a';
}

/* The key of (kind, property) into @p k. @return its length, or 0 when the name is too long. */
static size_t ssi_wkey(unsigned char *k, char kind, const char *property)
{
    size_t n = strlen(property);
    if (!n || n >= sizeof((ss_filter_writer *)0)->property)
        return 0;
    memcpy(k, SSI_WPREFIX, SSI_WPREFIX_LEN);
    k[SSI_WPREFIX_LEN] = (unsigned char)kind;
    k[SSI_WPREFIX_LEN + 1] = '\0';
    memcpy(k + SSI_WPREFIX_LEN + 2, property, n);
    return SSI_WPREFIX_LEN + 2 + n;
}

int ss_filter_writer_record(ss_store_txn *txn, char kind, const char *property, const char *filter,
                            const char *version)
{
    ss_filter_writer w;
    unsigned char k[SSI_WKEY_MAX], v[sizeof w.filter + sizeof w.version];
    size_t klen = ssi_kind_ok(kind) && property ? ssi_wkey(k, kind, property) : 0;
    size_t fn = filter ? strlen(filter) : 0;
    if (!klen || !fn || fn >= sizeof w.filter)
        return SS_EINVAL;
    size_t vn = version ? strnlen(version, sizeof w.version - 1) : 0; /* a long one is cut */
    memcpy(v, filter, fn + 1);
    if (vn)
        memcpy(v + fn + 1, version, vn);
    MDB_val key = {klen, k}, val = {fn + 1 + vn, v};
    return ss_store_put(txn, SS_STORE_META, &key, &val, 0);
}

static int ssi_record_decls(ss_store_txn *txn, char kind, const ss_property_decl *d,
                            const ss_filter_descriptor *f)
{
    int rc = 0;
    for (size_t i = 0; d && d[i].name && !rc; i++)
        rc = ss_filter_writer_record(txn, kind, d[i].name, f->name, f->version);
    return rc;
}

int ss_filter_set_record_outputs(const ss_filter_set *fs, ss_store_txn *txn)
{
    int rc = 0;
    for (size_t i = 0; fs && i < fs->n && !rc; i++) {
        const ss_filter_descriptor *d = fs->filters[i].desc;
        if (!(rc = ssi_record_decls(txn, 'l', d->output_locus_properties, d)))
            rc = ssi_record_decls(txn, 'a', d->output_alert_properties, d);
    }
    return rc;
}

/* Decode one record; a damaged one (a key or value that does not parse) is skipped: 0. */
static int ssi_wdecode(const MDB_val *key, const MDB_val *val, ss_filter_writer *w)
{
    const char *k = key->mv_data, *v = val->mv_data;
    if (key->mv_size <= SSI_WPREFIX_LEN + 2)
        return 0;
    size_t pn = key->mv_size - (SSI_WPREFIX_LEN + 2);
    const char *nul = memchr(v, '\0', val->mv_size);
    if (pn >= sizeof w->property || !nul || (size_t)(nul - v) >= sizeof w->filter ||
        val->mv_size - (size_t)(nul - v) - 1 >= sizeof w->version)
        return 0;
    w->kind = k[SSI_WPREFIX_LEN];
    memcpy(w->property, k + SSI_WPREFIX_LEN + 2, pn);
    w->property[pn] = '\0';
    memcpy(w->filter, v, (size_t)(nul - v) + 1);
    size_t vn = val->mv_size - (size_t)(nul - v) - 1;
    memcpy(w->version, nul + 1, vn);
    w->version[vn] = '\0';
    return 1;
}

int ss_filter_writer_get(ss_store_txn *txn, char kind, const char *property, ss_filter_writer *out)
{
    unsigned char k[SSI_WKEY_MAX];
    size_t klen = ssi_kind_ok(kind) && property ? ssi_wkey(k, kind, property) : 0;
    if (!klen)
        return SS_ENOTFOUND; /* no name that long can have been recorded */
    MDB_val key = {klen, k}, val;
    int rc = ss_store_get(txn, SS_STORE_META, &key, &val);
    if (rc == MDB_NOTFOUND)
        return SS_ENOTFOUND;
    return rc ? rc : ssi_wdecode(&key, &val, out) ? 0 : SS_ENOTFOUND;
}

int ss_filter_writers_each(ss_store_txn *txn, char kind, ss_filter_writer_fn fn, void *ctx)
{
    unsigned char prefix[SSI_WPREFIX_LEN + 2];
    memcpy(prefix, SSI_WPREFIX, SSI_WPREFIX_LEN);
    prefix[SSI_WPREFIX_LEN] = (unsigned char)kind;
    prefix[SSI_WPREFIX_LEN + 1] = '\0';
    ss_store_range *r = NULL;
    int rc = ss_store_range_open(txn, SS_STORE_META, prefix, kind ? sizeof prefix : SSI_WPREFIX_LEN,
                                 0, &r);
    MDB_val key, val;
    ss_filter_writer w;
    while (!rc) {
        int more = ss_store_range_next(r, &key, &val);
        if (more != 1) {
            rc = more;
            break;
        }
        if (ssi_wdecode(&key, &val, &w))
            rc = fn(ctx, &w);
    }
    ss_store_range_close(r);
    return rc;
}
