/*
 * Reading catalog files: CSV (libcsv) and FITS binary tables (cfitsio, which also reads .gz), row
 * by row as typed values, and the rules that find the RA, Dec and id columns.
 */
#include "catalog_impl.h"

#include <csv.h>
#include <ctype.h>
#include <errno.h>
#include <fitsio.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SSI_FITS_BLOCK 4096 /* rows read per cfitsio call */
#define SSI_CSV_MAXCOL 4096

typedef struct ssi_fitscol {
    int num;     /* cfitsio column number */
    int type;    /* TDOUBLE, TLONGLONG, TLOGICAL or TSTRING */
    long width;  /* string width */
    void *block; /* SSI_FITS_BLOCK values */
    char **strs; /* TSTRING: pointers into block */
    char *nulls; /* per value: undefined */
} ssi_fitscol;

struct ssi_catreader {
    const char *path;
    uint32_t ncols;
    char **cols;
    ss_value *vals;
    uint64_t line;
    char skipped[512];
    /* CSV */
    FILE *fp;
    struct csv_parser parser;
    char *line_buf;
    size_t line_cap;
    char *cells; /* the row's fields, NUL-separated */
    size_t cells_len, cells_cap;
    size_t *starts;
    uint32_t nfields, capfields;
    int row_done, nomem;
    /* FITS */
    fitsfile *fits;
    ssi_fitscol *fc;
    long long nrows, block_first; /* rows in the table; first row of the block (1-based) */
    long block_n;
};

/* ---- column names ---- */

/* Lower case, letters and digits only: "R.A." -> "ra", "RA_ICRS" -> "raicrs". */
static void ssi_norm(const char *in, char *out, size_t cap)
{
    size_t k = 0;
    for (; *in && k + 1 < cap; in++)
        if (isalnum((unsigned char)*in))
            out[k++] = (char)tolower((unsigned char)*in);
    out[k] = '\0';
}

static int ssi_pick(const char *const *cols, uint32_t n, const char *const *names)
{
    char norm[128];
    for (const char *const *want = names; *want; want++)
        for (uint32_t i = 0; i < n; i++) {
            ssi_norm(cols[i], norm, sizeof norm);
            if (!strcmp(norm, *want))
                return (int)i;
        }
    return -1;
}

int ssi_catalog_pick_ra(const char *const *cols, uint32_t n)
{
    static const char *const names[] = {"ra",     "raj2000", "raicrs",     "radeg", "rajdeg",
                                        "ra2000", "alpha",   "alphaj2000", NULL};
    return ssi_pick(cols, n, names);
}

int ssi_catalog_pick_dec(const char *const *cols, uint32_t n)
{
    static const char *const names[] = {"dec",     "decl",       "dej2000", "decj2000", "deicrs",
                                        "decicrs", "decdeg",     "dedeg",   "dejdeg",   "dec2000",
                                        "delta",   "deltaj2000", NULL};
    return ssi_pick(cols, n, names);
}

/* Names first (what astronomers recognise), then any "...name" column, then numeric ids. */
int ssi_catalog_pick_id(const char *const *cols, uint32_t n)
{
    static const char *const names[] = {"name",    "sourcename",  "objectname",
                                        "objname", "designation", NULL};
    static const char *const ids[] = {"id", "objid", "objectid", "sourceid", NULL};
    int i = ssi_pick(cols, n, names);
    char norm[128];
    for (uint32_t k = 0; i < 0 && k < n; k++) {
        ssi_norm(cols[k], norm, sizeof norm);
        size_t len = strlen(norm);
        if (len > 4 && !strcmp(norm + len - 4, "name"))
            i = (int)k;
    }
    return i >= 0 ? i : ssi_pick(cols, n, ids);
}

/* ---- values ---- */

int ssi_value_number(const ss_value *v, double *out)
{
    if (v->type == SS_TYPE_INT)
        *out = (double)v->u.i;
    else if (v->type == SS_TYPE_FLOAT)
        *out = v->u.f;
    else if (v->type == SS_TYPE_STRING) {
        char *end;
        *out = strtod(v->u.s.ptr, &end);
        while (isspace((unsigned char)*end))
            end++;
        if (end == v->u.s.ptr || *end)
            return -1;
    } else
        return -1;
    return isfinite(*out) ? 0 : -1;
}

int ssi_value_angle(const ss_value *v, int is_ra, double *deg, const char **why)
{
    if (v->type == SS_TYPE_STRING)
        return ss_sky_parse_angle(v->u.s.ptr, is_ra, deg, why);
    if (v->type == SS_TYPE_NULL) {
        *why = "empty";
        return -1;
    }
    char text[64];
    double d;
    if (ssi_value_number(v, &d)) {
        *why = "not a number";
        return -1;
    }
    snprintf(text, sizeof text, "%.17g", d);
    return ss_sky_parse_angle(text, is_ra, deg, why);
}

/* ---- CSV ---- */

static void ssi_csv_field(void *s, size_t len, void *data)
{
    ssi_catreader *r = data;
    if (r->nfields == r->capfields) {
        uint32_t cap = r->capfields ? r->capfields * 2 : 32;
        size_t *fresh = cap <= SSI_CSV_MAXCOL ? realloc(r->starts, cap * sizeof *fresh) : NULL;
        if (!fresh) {
            r->nomem = 1;
            return;
        }
        r->starts = fresh;
        r->capfields = cap;
    }
    if (r->cells_len + len + 1 > r->cells_cap) {
        size_t cap = (r->cells_len + len + 1) * 2;
        char *fresh = realloc(r->cells, cap);
        if (!fresh) {
            r->nomem = 1;
            return;
        }
        r->cells = fresh;
        r->cells_cap = cap;
    }
    r->starts[r->nfields++] = r->cells_len;
    memcpy(r->cells + r->cells_len, s, len);
    r->cells[r->cells_len + len] = '\0';
    r->cells_len += len + 1;
}

static void ssi_csv_row(int c, void *data)
{
    (void)c;
    ((ssi_catreader *)data)->row_done = 1;
}

/* Feed lines until a row is complete. @return 1 row, 0 end of file, or an error. */
static int ssi_csv_row_read(ssi_catreader *r, ss_err *err)
{
    r->nfields = 0;
    r->cells_len = 0;
    r->row_done = 0;
    for (;;) {
        ssize_t n = getline(&r->line_buf, &r->line_cap, r->fp);
        if (n < 0) {
            if (ferror(r->fp))
                return ss_err_set(err, errno, "%s: %s", r->path, strerror(errno));
            csv_fini(&r->parser, ssi_csv_field, ssi_csv_row, r);
            return r->row_done ? 1 : 0;
        }
        if (r->nfields == 0 && !r->row_done && (r->line_buf[0] == '#' || n <= 1))
            continue; /* comments and blank lines between rows */
        if (memchr(r->line_buf, '\0', (size_t)n))
            return ss_err_set(err, SS_EFORMAT, "%s: not a CSV file (binary data)", r->path);
        if (csv_parse(&r->parser, r->line_buf, (size_t)n, ssi_csv_field, ssi_csv_row, r) !=
            (size_t)n)
            return ss_err_set(err, SS_EFORMAT, "%s: CSV syntax error near row %llu: %s", r->path,
                              (unsigned long long)r->line + 1, csv_strerror(csv_error(&r->parser)));
        if (r->nomem)
            return ss_err_set(err, SS_ENOMEM, "%s: out of memory (or over %d columns)", r->path,
                              SSI_CSV_MAXCOL);
        if (r->row_done)
            return 1;
    }
}

/* A cell as a typed value: empty is null, whole numbers are ints, numbers floats, else text. */
static ss_value ssi_csv_value(const char *s)
{
    ss_value v = {.type = SS_TYPE_NULL};
    if (!*s)
        return v;
    char *end;
    errno = 0;
    long long i = strtoll(s, &end, 10);
    if (!*end && !errno) {
        v.type = SS_TYPE_INT;
        v.u.i = i;
        return v;
    }
    double d = strtod(s, &end);
    if (!*end && end != s) {
        if (isfinite(d)) {
            v.type = SS_TYPE_FLOAT;
            v.u.f = d;
        }
        return v; /* nan, inf: null */
    }
    v.type = SS_TYPE_STRING;
    v.u.s.ptr = s;
    v.u.s.len = (uint32_t)strlen(s);
    return v;
}

static int ssi_csv_open(ssi_catreader *r, ss_err *err)
{
    if (!(r->fp = fopen(r->path, "rb")))
        return ss_err_set(err, errno, "%s: %s", r->path, strerror(errno));
    if (csv_init(&r->parser, CSV_APPEND_NULL) != 0)
        return ss_err_set(err, SS_ENOMEM, "%s: out of memory", r->path);
    int rc = ssi_csv_row_read(r, err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return ss_err_set(err, SS_EFORMAT, "%s: empty file: no header row", r->path);
    r->ncols = r->nfields;
    r->cols = calloc(r->ncols, sizeof *r->cols);
    r->vals = calloc(r->ncols, sizeof *r->vals);
    if (!r->cols || !r->vals)
        return ss_err_set(err, SS_ENOMEM, "%s: out of memory", r->path);
    for (uint32_t i = 0; i < r->ncols; i++) {
        const char *h = r->cells + r->starts[i];
        while (isspace((unsigned char)*h))
            h++;
        size_t len = strlen(h);
        while (len && isspace((unsigned char)h[len - 1]))
            len--;
        if (!(r->cols[i] = strndup(h, len)))
            return ss_err_set(err, SS_ENOMEM, "%s: out of memory", r->path);
    }
    return 0;
}

static int ssi_csv_next(ssi_catreader *r, ss_err *err)
{
    int rc = ssi_csv_row_read(r, err);
    if (rc <= 0)
        return rc;
    r->line++;
    for (uint32_t i = 0; i < r->ncols; i++) /* missing cells are null, extra ones ignored */
        r->vals[i] = i < r->nfields ? ssi_csv_value(r->cells + r->starts[i])
                                    : (ss_value){.type = SS_TYPE_NULL};
    return 1;
}

/* ---- FITS ---- */

static int ssi_fits_fail(ssi_catreader *r, int status, const char *what, ss_err *err)
{
    char text[FLEN_STATUS];
    fits_get_errstatus(status, text);
    return ss_err_set(err, SS_EFORMAT, "%s: %s: %s", r->path, what, text);
}

static void ssi_note_skip(ssi_catreader *r, const char *name, const char *why)
{
    size_t used = strlen(r->skipped);
    snprintf(r->skipped + used, sizeof r->skipped - used, "%s%s (%s)", used ? ", " : "", name, why);
}

/* Our type for a column, or 0 to leave it out (vectors, complex, bits). */
static int ssi_fits_type(int eqtype, long repeat)
{
    if (eqtype == TSTRING)
        return TSTRING;
    if (repeat != 1)
        return 0;
    switch (eqtype) {
    case TFLOAT:
    case TDOUBLE: return TDOUBLE;
    case TBYTE:
    case TSBYTE:
    case TSHORT:
    case TUSHORT:
    case TINT:
    case TUINT:
    case TLONG:
    case TLONGLONG: return TLONGLONG;
    case TULONG: /* may exceed int64: read as a float */ return TDOUBLE;
    case TLOGICAL: return TLOGICAL;
    default: return 0;
    }
}

static int ssi_fits_add_col(ssi_catreader *r, int num, const char *name, int type, long width)
{
    ssi_fitscol *c = &r->fc[r->ncols];
    c->num = num;
    c->type = type;
    c->width = width;
    size_t size = type == TSTRING ? (size_t)width + 1 : type == TLOGICAL ? 1 : 8;
    c->block = calloc(SSI_FITS_BLOCK, size);
    c->nulls = calloc(SSI_FITS_BLOCK, 1);
    if (type == TSTRING && (c->strs = calloc(SSI_FITS_BLOCK, sizeof *c->strs)))
        for (long i = 0; c->block && i < SSI_FITS_BLOCK; i++)
            c->strs[i] = (char *)c->block + i * (width + 1);
    if (!c->block || !c->nulls || (type == TSTRING && !c->strs) ||
        !(r->cols[r->ncols] = strdup(name)))
        return SS_ENOMEM;
    r->ncols++;
    return 0;
}

static int ssi_fits_columns(ssi_catreader *r, ss_err *err)
{
    int status = 0, n = 0;
    if (fits_get_num_cols(r->fits, &n, &status) || fits_get_num_rowsll(r->fits, &r->nrows, &status))
        return ssi_fits_fail(r, status, "reading the table", err);
    r->cols = calloc(n ? n : 1, sizeof *r->cols);
    r->fc = calloc(n ? n : 1, sizeof *r->fc);
    r->vals = calloc(n ? n : 1, sizeof *r->vals);
    if (!r->cols || !r->fc || !r->vals)
        return ss_err_set(err, SS_ENOMEM, "%s: out of memory", r->path);
    for (int i = 1; i <= n; i++) {
        char key[FLEN_KEYWORD], name[FLEN_VALUE] = "";
        int eqtype;
        long repeat, width;
        snprintf(key, sizeof key, "TTYPE%d", i);
        if (fits_read_key(r->fits, TSTRING, key, name, NULL, &status)) {
            status = 0;
            snprintf(name, sizeof name, "col%d", i);
        }
        if (fits_get_eqcoltype(r->fits, i, &eqtype, &repeat, &width, &status))
            return ssi_fits_fail(r, status, name, err);
        int type = ssi_fits_type(eqtype, repeat);
        if (!type) {
            ssi_note_skip(r, name, repeat != 1 ? "vector column" : "unsupported type");
            continue;
        }
        if (type == TSTRING && eqtype == TSTRING)
            width = repeat;
        if (ssi_fits_add_col(r, i, name, type, width))
            return ss_err_set(err, SS_ENOMEM, "%s: out of memory", r->path);
    }
    return 0;
}

static int ssi_fits_open(ssi_catreader *r, ss_err *err)
{
    int status = 0;
    if (fits_open_table(&r->fits, r->path, READONLY, &status)) {
        r->fits = NULL;
        return ssi_fits_fail(r, status, "not a FITS table", err);
    }
    int hdutype;
    if (fits_get_hdu_type(r->fits, &hdutype, &status) || hdutype != BINARY_TBL)
        return ss_err_set(err, SS_EFORMAT, "%s: the first table is not a FITS binary table",
                          r->path);
    return ssi_fits_columns(r, err);
}

static int ssi_fits_read_col(ssi_catreader *r, ssi_fitscol *c, long n, ss_err *err)
{
    int status = 0, anynul = 0;
    void *dst = c->type == TSTRING ? (void *)c->strs : c->block;
    memset(c->nulls, 0, (size_t)n);
    if (c->type == TSTRING) {
        char *nulstr = "";
        fits_read_col(r->fits, TSTRING, c->num, r->block_first, 1, n, &nulstr, dst, &anynul,
                      &status);
    } else
        fits_read_colnull(r->fits, c->type, c->num, r->block_first, 1, n, dst, c->nulls, &anynul,
                          &status);
    return status ? ssi_fits_fail(r, status, r->cols[c - r->fc], err) : 0;
}

static ss_value ssi_fits_value(const ssi_fitscol *c, long i)
{
    ss_value v = {.type = SS_TYPE_NULL};
    if (c->nulls[i])
        return v;
    if (c->type == TDOUBLE) {
        double d = ((double *)c->block)[i];
        if (isfinite(d))
            v.type = SS_TYPE_FLOAT, v.u.f = d;
    } else if (c->type == TLONGLONG) {
        v.type = SS_TYPE_INT;
        v.u.i = ((long long *)c->block)[i];
    } else if (c->type == TLOGICAL) {
        v.type = SS_TYPE_BOOL;
        v.u.b = ((char *)c->block)[i] != 0;
    } else {
        const char *s = c->strs[i];
        size_t len = strlen(s);
        while (len && s[len - 1] == ' ')
            len--;
        c->strs[i][len] = '\0';
        if (len)
            v.type = SS_TYPE_STRING, v.u.s.ptr = s, v.u.s.len = (uint32_t)len;
    }
    return v;
}

static int ssi_fits_next(ssi_catreader *r, ss_err *err)
{
    long long next = (long long)r->line + 1; /* 1-based row wanted */
    if (next > r->nrows)
        return 0;
    if (!r->block_n || next >= r->block_first + r->block_n) {
        r->block_first = next;
        r->block_n =
            (long)(r->nrows - next + 1 < SSI_FITS_BLOCK ? r->nrows - next + 1 : SSI_FITS_BLOCK);
        for (uint32_t i = 0; i < r->ncols; i++) {
            int rc = ssi_fits_read_col(r, &r->fc[i], r->block_n, err);
            if (rc)
                return rc;
        }
    }
    long at = (long)(next - r->block_first);
    for (uint32_t i = 0; i < r->ncols; i++)
        r->vals[i] = ssi_fits_value(&r->fc[i], at);
    r->line++;
    return 1;
}

/* ---- the reader ---- */

/* FITS starts with "SIMPLE  =", gzip with 1f 8b (cfitsio unpacks it; a gzipped CSV is refused).
 * @return 0 (read it as CSV) or 1 (FITS), or an errno with @p err set. */
static int ssi_is_fits(const char *path, int *fits, ss_err *err)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return ss_err_set(err, errno, "%s: %s", path, strerror(errno));
    unsigned char head[9] = {0};
    size_t n = fread(head, 1, sizeof head, fp);
    fclose(fp);
    *fits =
        (n >= 2 && head[0] == 0x1f && head[1] == 0x8b) || (n == 9 && !memcmp(head, "SIMPLE  =", 9));
    return 0;
}

int ssi_catreader_open(const char *path, ssi_catreader **out, ss_err *err)
{
    *out = NULL;
    int fits = 0, rc = ssi_is_fits(path, &fits, err);
    if (rc)
        return rc;
    ssi_catreader *r = calloc(1, sizeof *r);
    if (!r)
        return ss_err_set(err, SS_ENOMEM, "%s: out of memory", path);
    r->path = path;
    rc = fits ? ssi_fits_open(r, err) : ssi_csv_open(r, err);
    if (!rc && r->ncols == 0)
        rc = ss_err_set(err, SS_EFORMAT, "%s: no columns", path);
    if (rc) {
        ssi_catreader_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

void ssi_catreader_close(ssi_catreader *r)
{
    if (!r)
        return;
    if (r->fp) {
        fclose(r->fp);
        csv_free(&r->parser);
    }
    if (r->fits) {
        int status = 0;
        fits_close_file(r->fits, &status);
    }
    for (uint32_t i = 0; r->fc && i < r->ncols; i++) {
        free(r->fc[i].block);
        free(r->fc[i].strs);
        free(r->fc[i].nulls);
    }
    for (uint32_t i = 0; r->cols && i < r->ncols; i++)
        free(r->cols[i]);
    free(r->fc);
    free(r->cols);
    free(r->vals);
    free(r->line_buf);
    free(r->cells);
    free(r->starts);
    free(r);
}

uint32_t ssi_catreader_ncols(const ssi_catreader *r)
{
    return r->ncols;
}

const char *ssi_catreader_col(const ssi_catreader *r, uint32_t i)
{
    return r->cols[i];
}

const char *ssi_catreader_skipped(const ssi_catreader *r)
{
    return r->skipped;
}

int ssi_catreader_next(ssi_catreader *r, const ss_value **vals, uint64_t *line, ss_err *err)
{
    int rc = r->fits ? ssi_fits_next(r, err) : ssi_csv_next(r, err);
    *vals = r->vals;
    *line = r->line;
    return rc;
}
