/*
 * Loading and dropping catalogs. A load never holds the store's one write transaction for long (a
 * live broker ingests into the same store): rows are written in chunks as the file is read, the
 * positions are sorted in memory and the index written in key order with MDB_APPEND, and a last
 * short transaction marks the catalog ready. Until then no ingest matches against it.
 */
#include "catalog_impl.h"

#include "sky.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SSI_DEFAULT_CHUNK   200000
#define SSI_DELETE_CHUNK    100000
#define SSI_BAD_REPORTED    10
#define SSI_MAX_RADIUS      36000.0 /* 10 degrees: beyond that a catalog is not a cross-match */
#define SSI_MIN_ZONE_ARCSEC 60.0
#define SSI_PICK_MAX        4096

/* A good row's position, sorted by its index key before the index is written. */
typedef struct ssi_pos {
    uint64_t key; /* zone << 40 | ra nano-degrees: the index order */
    uint64_t row;
    double ra, dec, radius;
} ssi_pos;

typedef struct ssi_loader {
    ss_store *s;
    const ss_assoc_catalog_options *o;
    ss_assoc_catalog_result *res;
    ss_err *err;
    ssi_catreader *rd;
    ssi_catalog cat;
    int ra_i, dec_i, rad_i;
    uint32_t *keep; /* reader column of each kept column */
    ss_value *kept;
    ssi_pos *pos;
    size_t npos, cappos;
    ss_wbuf chunk; /* the pending rows' records, back to back */
    uint64_t *chunk_rows;
    size_t *chunk_ends;
    size_t nchunk;
    ss_wbuf scratch;
    uint64_t old_id;  /* the catalog of that name found when the load began */
    int have_old;     /* one was found */
    int old_leftover; /* it was not ready: what an interrupted load or drop left */
} ssi_loader;

static double ssi_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void ssi_note(const ssi_loader *L, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void ssi_note(const ssi_loader *L, const char *fmt, ...)
{
    if (!L->o->note)
        return;
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    L->o->note(L->o->ctx, text);
}

/* A store that cannot take a catalog: opened read-only. */
static int ssi_readonly(ss_store *s)
{
    ss_store_info info;
    return !ss_store_has_table(s, SS_STORE_CATALOGS) || ss_store_info_get(s, &info) ||
           info.readonly;
}

/* ---- finding catalogs by name ---- */

typedef struct ssi_found {
    const char *name;
    ss_arena *arena;
    int found;
    ssi_catalog cat;
} ssi_found;

static int ssi_find(ss_store_txn *txn, ssi_found *f)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = ss_store_cursor_open(txn, SS_STORE_CATALOGS, &cur);
    f->found = 0;
    for (int c = rc ? MDB_NOTFOUND : ss_store_cursor_get(cur, &k, &v, MDB_FIRST); !rc && c == 0;
         c = ss_store_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8)
            rc = SS_ECORRUPT;
        else if (!(rc = ssi_catalog_decode(v.mv_data, v.mv_size, ss_be64_get(k.mv_data), f->arena,
                                           &f->cat)) &&
                 !strcmp(f->cat.name, f->name)) {
            f->found = 1;
            break;
        }
    }
    if (!rc)
        ss_store_cursor_close(cur);
    return rc;
}

static int ssi_put_catalog(ss_store_txn *txn, const ssi_catalog *c, ss_wbuf *b)
{
    unsigned char kb[8];
    ss_be64_put(kb, c->id);
    ssi_catalog_encode(c, b);
    MDB_val k = {sizeof kb, kb}, v = {b->len, b->data};
    return b->failed ? SS_ENOMEM : ss_store_put(txn, SS_STORE_CATALOGS, &k, &v, 0);
}

/* ---- removing a catalog's keys, a chunk per transaction ---- */

typedef struct ssi_purge {
    uint64_t id;
    ss_store_table table;
    int done;
} ssi_purge;

/* The match list of the catalog_loci entry @p k (catalog id, locus id): at (locus id, catalog
 * id) in locus_matches. */
static int ssi_purge_match(ss_store_txn *txn, const MDB_val *k)
{
    unsigned char kb[SS_LOCUS_ID_LEN + 8];
    if (k->mv_size != SSI_CATLOCI_KEY)
        return SS_ECORRUPT;
    memcpy(kb, (const unsigned char *)k->mv_data + 8, SS_LOCUS_ID_LEN);
    memcpy(kb + SS_LOCUS_ID_LEN, k->mv_data, 8);
    MDB_val mk = {sizeof kb, kb};
    int rc = ss_store_del(txn, SS_STORE_LOCUS_MATCHES, &mk);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Delete up to a chunk of keys starting with the id (catalog_rows, catalog_sky, catalog_loci).
 * Each key is found by a fresh seek, so nothing depends on where a cursor stands after a delete.
 * A catalog_loci entry takes its locus_matches entry with it: the index says where the catalog's
 * matches are, so a drop never scans the matches of other catalogs. */
static int ssi_purge_prefix(ss_store_txn *txn, void *ctx, ss_err *err)
{
    (void)err;
    ssi_purge *p = ctx;
    MDB_cursor *cur;
    unsigned char kb[8];
    ss_be64_put(kb, p->id);
    int rc = ss_store_cursor_open(txn, p->table, &cur);
    if (rc)
        return rc;
    for (size_t n = 0; !rc && n < SSI_DELETE_CHUNK; n++) {
        MDB_val k = {sizeof kb, kb}, v;
        if ((rc = ss_store_cursor_get(cur, &k, &v, MDB_SET_RANGE)))
            break;
        if (k.mv_size < 8 || memcmp(k.mv_data, kb, 8))
            rc = MDB_NOTFOUND;
        else if (p->table != SS_STORE_CATALOG_LOCI || !(rc = ssi_purge_match(txn, &k)))
            rc = ss_store_cursor_del(cur);
    }
    p->done = rc == MDB_NOTFOUND;
    ss_store_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int ssi_purge_record(ss_store_txn *txn, void *ctx, ss_err *err)
{
    (void)err;
    unsigned char kb[8];
    ss_be64_put(kb, ((ssi_purge *)ctx)->id);
    MDB_val k = {sizeof kb, kb};
    int rc = ss_store_del(txn, SS_STORE_CATALOGS, &k);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Remove everything of catalog @p id, whose record is already invisible (loading or dropping):
 * its matches (through catalog_loci), index and rows, then the record. */
static int ssi_purge_all(ss_store *s, uint64_t id, ss_err *err)
{
    ss_store_table tables[3] = {SS_STORE_CATALOG_LOCI, SS_STORE_CATALOG_SKY, SS_STORE_CATALOG_ROWS};
    int rc = 0;
    for (int t = 0; t < 3 && !rc; t++) {
        ssi_purge p = {.id = id, .table = tables[t]};
        while (!rc && !p.done)
            rc = ss_store_write(s, ssi_purge_prefix, &p, "removing a catalog", err);
    }
    ssi_purge p = {.id = id};
    return rc ? rc : ss_store_write(s, ssi_purge_record, &p, "removing a catalog", err);
}

/* ---- starting a load ---- */

static int ssi_alive(uint32_t pid)
{
    return pid && pid != (uint32_t)getpid() && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* Reserve an id and write the record in state loading; a leftover of an interrupted load of that
 * name is reported back for removal. */
static int ssi_begin_txn(ss_store_txn *txn, void *ctx, ss_err *err)
{
    ssi_loader *L = ctx;
    ssi_found f = {.name = L->cat.name, .arena = ss_arena_new()};
    int rc = f.arena ? ssi_find(txn, &f) : SS_ENOMEM;
    L->have_old = 0;
    if (!rc && f.found && f.cat.state == SSI_CAT_LOADING && ssi_alive(f.cat.pid))
        rc = ss_err_set(err, EBUSY, "catalog %s: being loaded by process %u", L->cat.name,
                        f.cat.pid);
    else if (!rc && f.found && f.cat.state == SSI_CAT_READY && !L->o->replace)
        rc =
            ss_err_set(err, EEXIST, "%s %s: already loaded (use --replace to replace it)",
                       f.cat.kind == SS_CATALOG_KIND_WATCH ? "watch list" : "catalog", L->cat.name);
    else if (!rc && f.found && f.cat.kind != L->cat.kind && f.cat.state == SSI_CAT_READY)
        rc = ss_err_set(err, EEXIST, "%s: the name of a %s", L->cat.name,
                        f.cat.kind == SS_CATALOG_KIND_WATCH ? "watch list" : "catalog");
    if (!rc && f.found) {
        L->have_old = 1;
        L->old_id = f.cat.id;
        L->old_leftover = f.cat.state != SSI_CAT_READY;
        if (f.cat.state != SSI_CAT_READY) { /* a leftover: make it a drop, removed below */
            f.cat.state = SSI_CAT_DROPPING;
            rc = ssi_put_catalog(txn, &f.cat, &L->scratch);
        }
    }
    ss_store_counters *c = rc ? NULL : ss_store_txn_counters(txn);
    if (!rc && !c)
        rc = SS_ECORRUPT;
    if (!rc) {
        L->cat.id = ++c->catalog_id; /* ids start at 1 */
        rc = ssi_put_catalog(txn, &L->cat, &L->scratch);
    }
    ss_arena_free(f.arena);
    return rc;
}

/* ---- options and columns ---- */

static int ssi_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > SS_CATALOG_NAME_MAX)
        return 0;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("_-.", *p))
            return 0;
    return 1;
}

static int ssi_check_options(const ss_assoc_catalog_options *o, ss_err *err)
{
    const char *what = o->kind == SS_CATALOG_KIND_WATCH ? "watch list" : "catalog";
    if (!ssi_name_ok(o->name))
        return ss_err_set(err, SS_EINVAL,
                          "%s name '%s': use 1 to %d letters, digits, '_', '-' or '.'", what,
                          o->name ? o->name : "", SS_CATALOG_NAME_MAX);
    if (o->radius_arcsec < 0 || o->radius_arcsec > SSI_MAX_RADIUS || isnan(o->radius_arcsec))
        return ss_err_set(err, SS_EINVAL, "%s %s: radius %g arcsec is not in (0, %g]", what,
                          o->name, o->radius_arcsec, SSI_MAX_RADIUS);
    if (o->radius_unit_arcsec < 0 || isnan(o->radius_unit_arcsec))
        return ss_err_set(err, SS_EINVAL, "%s %s: bad radius unit", what, o->name);
    return 0;
}

static int ssi_col(const ssi_loader *L, const char *name)
{
    for (uint32_t i = 0; i < ssi_catreader_ncols(L->rd); i++)
        if (!strcmp(ssi_catreader_col(L->rd, i), name))
            return (int)i;
    return -1;
}

static int ssi_missing(ssi_loader *L, const char *what, const char *name)
{
    char list[512] = "";
    for (uint32_t i = 0; i < ssi_catreader_ncols(L->rd); i++) {
        size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s\"%s\"", i ? ", " : "",
                 ssi_catreader_col(L->rd, i));
    }
    if (name)
        return ss_err_set(L->err, SS_EINVAL, "%s: no column \"%s\" (%s); columns: %s", L->o->path,
                          name, what, list);
    return ss_err_set(L->err, SS_EFORMAT,
                      "%s: not a catalog: no %s column found (name it with --%s-column); "
                      "columns: %s",
                      L->o->path, what, what, list);
}

/* Find a role's column: the user's choice, or by the usual names. @return index or error. */
static int ssi_role(ssi_loader *L, const char *want, const char *what,
                    int (*pick)(const char *const *, uint32_t), int required)
{
    int i = want ? ssi_col(L, want) : -1;
    if (want && i < 0)
        return ssi_missing(L, what, want);
    if (!want && pick) {
        const char *cols[SSI_PICK_MAX];
        uint32_t n = ssi_catreader_ncols(L->rd);
        n = n < SSI_PICK_MAX ? n : SSI_PICK_MAX;
        for (uint32_t k = 0; k < n; k++)
            cols[k] = ssi_catreader_col(L->rd, k);
        i = pick(cols, n);
    }
    if (i < 0 && required)
        return ssi_missing(L, what, NULL);
    return i < 0 ? INT32_MIN : i;
}

/* The kept columns: --columns, else every column. */
static int ssi_keep_columns(ssi_loader *L, ss_arena *arena)
{
    uint32_t ncols = ssi_catreader_ncols(L->rd), n = 0;
    L->keep = calloc(ncols, sizeof *L->keep);
    L->kept = calloc(ncols, sizeof *L->kept);
    L->cat.columns = ss_arena_alloc(arena, ncols * sizeof *L->cat.columns);
    if (!L->keep || !L->kept || !L->cat.columns)
        return ss_err_set(L->err, SS_ENOMEM, "%s: out of memory", L->o->path);
    if (!L->o->columns) {
        for (uint32_t i = 0; i < ncols; i++)
            L->keep[n] = i, L->cat.columns[n++] = ssi_catreader_col(L->rd, i);
        L->cat.ncols = n;
        return 0;
    }
    char *list = ss_arena_strndup(arena, L->o->columns, strlen(L->o->columns)), *save = NULL;
    for (char *t = list ? strtok_r(list, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*t))
            t++;
        int i = ssi_col(L, t);
        if (i < 0)
            return ssi_missing(L, "--columns", t);
        if (n == ncols)
            return ss_err_set(L->err, SS_EINVAL, "%s: --columns names a column twice", L->o->path);
        L->keep[n] = (uint32_t)i;
        L->cat.columns[n++] = ssi_catreader_col(L->rd, (uint32_t)i);
    }
    L->cat.ncols = n;
    return 0;
}

static int ssi_setup_columns(ssi_loader *L, ss_arena *arena)
{
    const ss_assoc_catalog_options *o = L->o;
    int ra = ssi_role(L, o->ra_column, "ra", ssi_catalog_pick_ra, 1);
    int dec =
        ra < 0 && ra != INT32_MIN ? ra : ssi_role(L, o->dec_column, "dec", ssi_catalog_pick_dec, 1);
    if (ra < 0 || dec < 0)
        return ra < 0 ? ra : dec;
    int id = ssi_role(L, o->id_column, "id", ssi_catalog_pick_id, 0);
    int rad = o->radius_column ? ssi_role(L, o->radius_column, "radius", NULL, 1) : INT32_MIN;
    if ((id < 0 && id != INT32_MIN) || (rad < 0 && rad != INT32_MIN))
        return id < 0 && id != INT32_MIN ? id : rad;
    int rc = ssi_keep_columns(L, arena);
    if (rc)
        return rc;
    L->ra_i = ra, L->dec_i = dec, L->rad_i = rad == INT32_MIN ? -1 : rad;
    L->cat.ra_column = ssi_catreader_col(L->rd, (uint32_t)ra);
    L->cat.dec_column = ssi_catreader_col(L->rd, (uint32_t)dec);
    L->cat.id_column = id == INT32_MIN ? NULL : ssi_catreader_col(L->rd, (uint32_t)id);
    L->cat.id_index = -1;
    for (uint32_t k = 0; id != INT32_MIN && k < L->cat.ncols; k++)
        if (L->keep[k] == (uint32_t)id)
            L->cat.id_index = (int32_t)k;
    if (id != INT32_MIN && L->cat.id_index < 0)
        return ss_err_set(L->err, SS_EINVAL, "%s: the id column \"%s\" must be among --columns",
                          o->path, L->cat.id_column);
    ssi_note(L, "columns: ra=\"%s\" dec=\"%s\" id=%s%s%s%s", L->cat.ra_column, L->cat.dec_column,
             L->cat.id_column ? "\"" : "", L->cat.id_column ? L->cat.id_column : "(row number)",
             L->cat.id_column ? "\"" : "", "");
    if (*ssi_catreader_skipped(L->rd))
        ssi_note(L, "columns left out: %s", ssi_catreader_skipped(L->rd));
    return 0;
}

/* ---- reading rows ---- */

static int ssi_chunk_txn(ss_store_txn *txn, void *ctx, ss_err *err)
{
    (void)err;
    ssi_loader *L = ctx;
    MDB_cursor *cur;
    int rc = ss_store_cursor_open(txn, SS_STORE_CATALOG_ROWS, &cur);
    unsigned flags = MDB_APPEND; /* rows come in order after every older catalog's */
    for (size_t i = 0, at = 0; i < L->nchunk && !rc; at = L->chunk_ends[i++]) {
        unsigned char kb[16];
        ssi_key_catalog_row(kb, L->cat.id, L->chunk_rows[i]);
        MDB_val k = {sizeof kb, kb}, v = {L->chunk_ends[i] - at, L->chunk.data + at};
        rc = ss_store_cursor_put(cur, &k, &v, flags);
        if (rc == MDB_KEYEXIST && flags) { /* a newer catalog loading beside us: plain puts */
            flags = 0;
            rc = ss_store_cursor_put(cur, &k, &v, 0);
        }
    }
    if (!rc)
        ss_store_cursor_close(cur);
    return rc;
}

static int ssi_flush_rows(ssi_loader *L)
{
    if (!L->nchunk)
        return 0;
    int rc = ss_store_write(L->s, ssi_chunk_txn, L, "storing catalog rows", L->err);
    L->res->commits += !rc;
    L->nchunk = 0;
    ss_wbuf_reset(&L->chunk);
    if (!rc && L->o->on_chunk && L->o->on_chunk(L->o->ctx, L->res->rows))
        rc = ss_err_set(L->err, EINTR, "catalog %s: load stopped after %llu rows", L->cat.name,
                        (unsigned long long)L->res->rows);
    return rc;
}

static void ssi_bad_row(ssi_loader *L, uint64_t line, const char *what, const char *why)
{
    if (L->res->bad++ < SSI_BAD_REPORTED)
        ssi_note(L, "%s: row %llu: %s %s", L->o->path, (unsigned long long)line, what, why);
    else if (L->res->bad == SSI_BAD_REPORTED + 1)
        ssi_note(L, "%s: more bad rows: counted, not reported", L->o->path);
}

/* Check a row's position and radius. @return 1 good, 0 bad (reported). */
static int ssi_row_position(ssi_loader *L, const ss_value *vals, uint64_t line, ssi_pos *p)
{
    const char *why = NULL;
    if (ssi_value_angle(&vals[L->ra_i], 1, &p->ra, &why)) {
        ssi_bad_row(L, line, "RA:", why);
        return 0;
    }
    if (ssi_value_angle(&vals[L->dec_i], 0, &p->dec, &why)) {
        ssi_bad_row(L, line, "Dec:", why);
        return 0;
    }
    p->radius = L->cat.radius_arcsec;
    if (L->rad_i >= 0) {
        if (ssi_value_number(&vals[L->rad_i], &p->radius) || p->radius < 0) {
            ssi_bad_row(L, line, "radius:", "missing, or not a number of 0 or more");
            return 0;
        }
        p->radius *= L->cat.radius_unit_arcsec;
        if (p->radius > SSI_MAX_RADIUS) {
            ssi_bad_row(L, line, "radius:", "over 10 degrees");
            return 0;
        }
    }
    p->row = line;
    return 1;
}

static int ssi_take_row(ssi_loader *L, const ss_value *vals, uint64_t line)
{
    if (L->npos == L->cappos) {
        size_t cap = L->cappos ? L->cappos * 2 : 4096;
        ssi_pos *fresh = realloc(L->pos, cap * sizeof *fresh);
        if (!fresh)
            return ss_err_set(L->err, SS_ENOMEM, "%s: out of memory", L->o->path);
        L->pos = fresh;
        L->cappos = cap;
    }
    if (!ssi_row_position(L, vals, line, &L->pos[L->npos]))
        return 0;
    L->npos++;
    for (uint32_t i = 0; i < L->cat.ncols; i++)
        L->kept[i] = vals[L->keep[i]];
    ssi_row_encode(L->kept, L->cat.ncols, &L->scratch);
    ss_wbuf_bytes(&L->chunk, L->scratch.data, L->scratch.len);
    if (L->chunk.failed || L->scratch.failed)
        return ss_err_set(L->err, SS_ENOMEM, "%s: out of memory", L->o->path);
    L->chunk_rows[L->nchunk] = line;
    L->chunk_ends[L->nchunk++] = L->chunk.len;
    L->res->rows++;
    return L->nchunk == L->o->chunk_rows ? ssi_flush_rows(L) : 0;
}

static int ssi_read_rows(ssi_loader *L)
{
    const ss_value *vals;
    uint64_t line;
    int rc;
    L->chunk_rows = malloc(L->o->chunk_rows * sizeof *L->chunk_rows);
    L->chunk_ends = malloc(L->o->chunk_rows * sizeof *L->chunk_ends);
    if (!L->chunk_rows || !L->chunk_ends)
        return ss_err_set(L->err, SS_ENOMEM, "%s: out of memory", L->o->path);
    while ((rc = ssi_catreader_next(L->rd, &vals, &line, L->err)) == 1)
        if ((rc = ssi_take_row(L, vals, line)))
            return rc;
    if (!rc)
        rc = ssi_flush_rows(L);
    if (!rc && L->res->rows == 0)
        rc = ss_err_set(L->err, SS_EFORMAT, "%s: not a catalog: no row with a valid position%s",
                        L->o->path, L->res->bad ? " (every row is bad)" : "");
    return rc;
}

/* ---- the index ---- */

static int ssi_pos_cmp(const void *a, const void *b)
{
    const ssi_pos *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row;
}

/* The zone height: several search radii, so that a search touches two or three zones. */
static void ssi_sort_positions(ssi_loader *L)
{
    double maxr = 0;
    for (size_t i = 0; i < L->npos; i++)
        maxr = fmax(maxr, L->pos[i].radius);
    L->cat.max_radius_arcsec = maxr;
    L->cat.zone_height_deg = fmax(SSI_MIN_ZONE_ARCSEC, 4 * maxr) / SS_ARCSEC_PER_DEG;
    for (size_t i = 0; i < L->npos; i++) {
        ssi_pos *p = &L->pos[i];
        p->key =
            (uint64_t)ss_sky_zone_of(p->dec, L->cat.zone_height_deg) << 40 | ss_sky_ra_key(p->ra);
    }
    qsort(L->pos, L->npos, sizeof *L->pos, ssi_pos_cmp);
}

typedef struct ssi_index_chunk {
    ssi_loader *L;
    size_t from, to;
} ssi_index_chunk;

static int ssi_index_txn(ss_store_txn *txn, void *ctx, ss_err *err)
{
    (void)err;
    ssi_index_chunk *c = ctx;
    MDB_cursor *cur;
    int rc = ss_store_cursor_open(txn, SS_STORE_CATALOG_SKY, &cur);
    unsigned flags = MDB_APPEND;
    for (size_t i = c->from; i < c->to && !rc; i++) {
        const ssi_pos *p = &c->L->pos[i];
        unsigned char kb[SSI_CATSKY_KEY];
        double val[3] = {p->ra, p->dec, p->radius};
        ssi_key_catalog_sky(kb, c->L->cat.id, (uint32_t)(p->key >> 40), ss_sky_ra_key(p->ra),
                            p->row);
        MDB_val k = {sizeof kb, kb}, v = {sizeof val, val};
        rc = ss_store_cursor_put(cur, &k, &v, flags);
        if (rc == MDB_KEYEXIST && flags) {
            flags = 0;
            rc = ss_store_cursor_put(cur, &k, &v, 0);
        }
    }
    if (!rc)
        ss_store_cursor_close(cur);
    return rc;
}

static int ssi_write_index(ssi_loader *L)
{
    int rc = 0;
    for (size_t from = 0; from < L->npos && !rc; from += L->o->chunk_rows) {
        size_t to = from + L->o->chunk_rows < L->npos ? from + L->o->chunk_rows : L->npos;
        ssi_index_chunk c = {L, from, to};
        rc = ss_store_write(L->s, ssi_index_txn, &c, "storing the catalog index", L->err);
        L->res->commits += !rc;
        if (!rc && L->o->on_chunk && L->o->on_chunk(L->o->ctx, L->res->rows))
            rc = ss_err_set(L->err, EINTR, "catalog %s: load stopped while indexing", L->cat.name);
    }
    return rc;
}

/* The last commit: the catalog becomes ready (and the one it replaces goes). */
static int ssi_ready_txn(ss_store_txn *txn, void *ctx, ss_err *err)
{
    ssi_loader *L = ctx;
    ss_store_counters *c = ss_store_txn_counters(txn);
    ss_arena *arena = ss_arena_new();
    ssi_catalog old;
    int rc = !arena ? SS_ENOMEM : !c ? SS_ECORRUPT : 0;
    if (!rc && L->have_old && !(rc = ssi_catalog_get(txn, L->old_id, arena, &old))) {
        old.state = SSI_CAT_DROPPING;
        rc = ssi_put_catalog(txn, &old, &L->scratch);
    }
    rc = rc == MDB_NOTFOUND ? 0 : rc; /* the old one was dropped meanwhile */
    if (!rc) {
        L->cat.state = SSI_CAT_READY;
        L->cat.ready_seq = ++c->catalog_ready;
        L->cat.rows = L->res->rows;
        L->cat.bad = L->res->bad;
        L->cat.pid = 0;
        rc = ssi_put_catalog(txn, &L->cat, &L->scratch);
    }
    ss_arena_free(arena);
    (void)err;
    return rc;
}

static void ssi_loader_free(ssi_loader *L)
{
    ssi_catreader_close(L->rd);
    free(L->keep);
    free(L->kept);
    free(L->pos);
    free(L->chunk_rows);
    free(L->chunk_ends);
    ss_wbuf_free(&L->chunk);
    ss_wbuf_free(&L->scratch);
}

static int ssi_load(ssi_loader *L, ss_arena *arena)
{
    ss_store *s = L->s;
    int rc = ssi_setup_columns(L, arena);
    if (!rc)
        rc = ss_store_write(s, ssi_begin_txn, L, "starting a catalog load", L->err);
    if (rc)
        return rc;
    /* A leftover of an interrupted load or drop goes first; a ready catalog being replaced stays
     * matched until the new one is ready. */
    if (L->have_old && L->old_leftover) {
        rc = ssi_purge_all(s, L->old_id, L->err);
        L->have_old = 0;
    }
    double t0 = ssi_now();
    if (!rc)
        rc = ssi_read_rows(L);
    L->res->read_s = ssi_now() - t0;
    t0 = ssi_now();
    if (!rc) {
        ssi_sort_positions(L);
        rc = ssi_write_index(L);
    }
    if (!rc)
        rc = ss_store_write(s, ssi_ready_txn, L, "marking the catalog ready", L->err);
    L->res->index_s = ssi_now() - t0;
    if (rc && rc != EINTR) { /* EINTR stands for a killed load: leave what a kill would */
        ss_err ignored;
        ssi_purge_all(s, L->cat.id, &ignored);
    } else if (!rc && L->have_old)
        rc = ssi_purge_all(s, L->old_id, L->err);
    return rc;
}

int ss_assoc_catalog_load(ss_store *s, const ss_assoc_catalog_options *opts,
                          ss_assoc_catalog_result *res, ss_err *err)
{
    ss_assoc_catalog_options o = *opts;
    ss_assoc_catalog_result mine;
    res = res ? res : &mine;
    memset(res, 0, sizeof *res);
    double t0 = ssi_now();
    o.chunk_rows = o.chunk_rows ? o.chunk_rows : SSI_DEFAULT_CHUNK;
    o.radius_arcsec = o.radius_arcsec ? o.radius_arcsec : SS_CATALOG_DEFAULT_RADIUS;
    o.radius_unit_arcsec = o.radius_unit_arcsec ? o.radius_unit_arcsec : 1.0;
    int rc = ssi_check_options(&o, err);
    if (rc)
        return rc;
    if (ssi_readonly(s))
        return ss_err_set(err, SS_EINVAL, "store %s: opened read-only", ss_store_path(s));
    ss_arena *arena = ss_arena_new();
    char *source = realpath(o.path, NULL);
    ssi_loader L = {.s = s, .o = &o, .res = res, .err = err};
    L.cat = (ssi_catalog){.kind = o.kind,
                          .state = SSI_CAT_LOADING,
                          .name = o.name,
                          .radius_arcsec = o.radius_column ? 0 : o.radius_arcsec,
                          .radius_column = o.radius_column,
                          .radius_unit_arcsec = o.radius_unit_arcsec,
                          .zone_height_deg = 1,
                          .source = source ? source : o.path,
                          .loaded = (double)time(NULL),
                          .webhook = o.webhook,
                          .pid = (uint32_t)getpid()};
    if (!arena)
        rc = ss_err_set(err, SS_ENOMEM, "out of memory");
    else if (!(rc = ssi_catreader_open(o.path, &L.rd, err)))
        rc = ssi_load(&L, arena);
    ssi_loader_free(&L);
    ss_arena_free(arena);
    free(source);
    res->seconds = ssi_now() - t0;
    return rc;
}

/* ---- dropping ---- */

typedef struct ssi_drop {
    const char *name;
    ss_catalog_kind kind;
    uint64_t id;
    ss_wbuf buf;
} ssi_drop;

static int ssi_drop_txn(ss_store_txn *txn, void *ctx, ss_err *err)
{
    ss_store *s = ss_store_txn_store(txn);
    ssi_drop *d = ctx;
    ssi_found f = {.name = d->name, .arena = ss_arena_new()};
    int rc = f.arena ? ssi_find(txn, &f) : SS_ENOMEM;
    const char *what = d->kind == SS_CATALOG_KIND_WATCH ? "watch list" : "catalog";
    if (!rc && (!f.found || f.cat.kind != d->kind))
        rc = ss_err_set(err, SS_ENOTFOUND, "%s %s: no such %s in store %s", what, d->name, what,
                        ss_store_path(s));
    else if (!rc && f.cat.state == SSI_CAT_LOADING && ssi_alive(f.cat.pid))
        rc = ss_err_set(err, EBUSY, "%s %s: being loaded by process %u", what, d->name, f.cat.pid);
    if (!rc) {
        d->id = f.cat.id;
        f.cat.state = SSI_CAT_DROPPING;
        rc = ssi_put_catalog(txn, &f.cat, &d->buf);
    }
    ss_arena_free(f.arena);
    return rc;
}

int ss_assoc_catalog_drop(ss_store *s, const char *name, ss_catalog_kind kind, ss_err *err)
{
    if (ssi_readonly(s))
        return ss_err_set(err, SS_EINVAL, "store %s: opened read-only", ss_store_path(s));
    ssi_drop d = {.name = name, .kind = kind};
    int rc = ss_store_write(s, ssi_drop_txn, &d, "dropping a catalog", err);
    if (!rc)
        rc = ssi_purge_all(s, d.id, err);
    ss_wbuf_free(&d.buf);
    return rc;
}

/* ---- copying (replays) ---- */

typedef struct ssi_copy {
    ss_store *src;
    ss_store_txn *rtxn;
    ss_store_table table;
    uint64_t old_id, new_id;
    unsigned char resume[SSI_CATSKY_KEY]; /* the next source key to copy */
    size_t resume_len;                    /* 0: from the catalog's first key */
    int done;
    unsigned char next[SSI_CATSKY_KEY];
    size_t next_len;
} ssi_copy;

/* Copy up to a chunk of one table's keys of a catalog, the id prefix changed. */
static int ssi_copy_txn(ss_store_txn *txn, void *ctx, ss_err *err)
{
    (void)err;
    ssi_copy *c = ctx;
    MDB_cursor *rc_cur, *wc_cur;
    unsigned char kb[8];
    ss_be64_put(kb, c->old_id);
    int rc = ss_store_cursor_open(c->rtxn, c->table, &rc_cur);
    if (rc)
        return rc;
    if ((rc = ss_store_cursor_open(txn, c->table, &wc_cur))) {
        ss_store_cursor_close(rc_cur);
        return rc;
    }
    MDB_val k = {c->resume_len ? c->resume_len : 8, c->resume_len ? c->resume : kb}, v;
    size_t n = 0;
    c->done = 1;
    for (rc = ss_store_cursor_get(rc_cur, &k, &v, MDB_SET_RANGE); !rc;
         rc = ss_store_cursor_get(rc_cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size < 8 || k.mv_size > SSI_CATSKY_KEY || memcmp(k.mv_data, kb, 8))
            break;
        if (n++ == SSI_DELETE_CHUNK) { /* the next chunk starts here */
            memcpy(c->next, k.mv_data, k.mv_size);
            c->next_len = k.mv_size;
            c->done = 0;
            break;
        }
        unsigned char nk[SSI_CATSKY_KEY];
        memcpy(nk, k.mv_data, k.mv_size);
        ss_be64_put(nk, c->new_id);
        MDB_val wk = {k.mv_size, nk};
        if ((rc = ss_store_cursor_put(wc_cur, &wk, &v, 0)))
            break;
    }
    ss_store_cursor_close(rc_cur);
    ss_store_cursor_close(wc_cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int ssi_copy_one(ss_store *dst, ss_store *src, ss_store_txn *rtxn, ssi_catalog *cat,
                        ss_err *err)
{
    ssi_loader L = {.s = dst, .err = err};
    ss_assoc_catalog_options o = {.kind = cat->kind};
    L.o = &o;
    L.cat = *cat;
    L.cat.state = SSI_CAT_LOADING;
    L.cat.pid = (uint32_t)getpid();
    int rc = ss_store_write(dst, ssi_begin_txn, &L, "copying a catalog", err);
    ss_store_table tables[2] = {SS_STORE_CATALOG_ROWS, SS_STORE_CATALOG_SKY};
    for (int t = 0; t < 2 && !rc; t++) {
        ssi_copy c = {
            .src = src, .rtxn = rtxn, .table = tables[t], .old_id = cat->id, .new_id = L.cat.id};
        while (!rc && !c.done)
            if (!(rc = ss_store_write(dst, ssi_copy_txn, &c, "copying a catalog", err))) {
                memcpy(c.resume, c.next, c.next_len);
                c.resume_len = c.next_len;
            }
    }
    ss_assoc_catalog_result res = {.rows = cat->rows, .bad = cat->bad};
    L.res = &res;
    if (!rc)
        rc = ss_store_write(dst, ssi_ready_txn, &L, "copying a catalog", err);
    ss_wbuf_free(&L.scratch);
    return rc;
}

int ss_assoc_catalog_copy_all(ss_store *dst, ss_store *src, size_t *copied, ss_err *err)
{
    ssi_catalogs cats = {0};
    ss_store_txn *rtxn;
    *copied = 0;
    if (!ss_store_has_table(src, SS_STORE_CATALOGS))
        return 0;
    int rc = ss_store_txn_begin(src, SS_STORE_READ, &rtxn);
    if (rc)
        return ss_store_fail(src, err, rc, "reading catalogs");
    if ((rc = ssi_catalogs_load(rtxn, &cats)))
        rc = ss_store_fail(src, err, rc, "reading catalogs");
    for (size_t i = 0; i < cats.n && !rc; i++)
        if (!(rc = ssi_copy_one(dst, src, rtxn, &cats.items[i], err)))
            ++*copied;
    ss_store_txn_abort(rtxn);
    ssi_catalogs_free(&cats);
    return rc;
}
