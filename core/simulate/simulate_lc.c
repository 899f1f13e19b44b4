/*
 * Light-curve files as simulation models: the ANTARES tutorial's CSV (time and one magnitude column
 * per band) and SNANA .DAT text (MJD, band, flux, flux error per row). Files are small, so each is
 * read whole into one time series per band; every complaint names the file and the line.
 */
#include "fileio.h"
#include "simulate_impl.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Enough for SNANA's widest rows (VARLIST files have a dozen columns). */
#define SSI_MAX_TOKENS 32

/* Record "path:line: reason" (a line of 0: "path: reason"). @return SS_EPARSE. */
static int ssi_bad(ss_err *err, const char *path, uint64_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int ssi_bad(ss_err *err, const char *path, uint64_t line, const char *fmt, ...)
{
    char why[SS_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (line)
        return ss_err_set(err, SS_EPARSE, "%s:%llu: %s", path, (unsigned long long)line, why);
    return ss_err_set(err, SS_EPARSE, "%s: %s", path, why);
}

int ssi_band_ok(const char *s, size_t len)
{
    if (len == 0 || len > SS_PASSBAND_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
            return 0;
    return 1;
}

/* A whole (trimmed) field as a finite number. @return 0 or -1. */
static int ssi_number(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno == ERANGE || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

static char *ssi_trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

static int ssi_series_push(ssi_series *s, double t, double v, const double *e)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        double *nt = realloc(s->t, cap * sizeof *nt);
        if (nt)
            s->t = nt;
        double *nv = nt ? realloc(s->v, cap * sizeof *nv) : NULL;
        if (nv)
            s->v = nv;
        double *ne = nv && e ? realloc(s->e, cap * sizeof *ne) : NULL;
        if (ne)
            s->e = ne;
        if (!nv || (e && !ne))
            return SS_ENOMEM;
        s->cap = cap;
    }
    s->t[s->n] = t;
    s->v[s->n] = v;
    if (e)
        s->e[s->n] = *e;
    s->n++;
    return 0;
}

void ssi_lc_free(ssi_lc *lc)
{
    if (!lc)
        return;
    for (size_t b = 0; b < SSI_LC_MAX_BANDS; b++)
        free(lc->series[b].t), free(lc->series[b].v), free(lc->series[b].e);
    free(lc->path);
    free(lc);
}

int ssi_lc_band(const ssi_lc *lc, const char *name)
{
    for (size_t b = 0; b < lc->nbands; b++)
        if (!strcmp(lc->band[b], name))
            return (int)b;
    return -1;
}

/* Add band @p name (known valid) unless it is there. @return its index, or -1 when full. */
static int ssi_lc_add_band(ssi_lc *lc, const char *name)
{
    int b = ssi_lc_band(lc, name);
    if (b >= 0 || lc->nbands == SSI_LC_MAX_BANDS)
        return b;
    snprintf(lc->band[lc->nbands], sizeof lc->band[0], "%s", name);
    return (int)lc->nbands++;
}

static double ssi_interp(const ssi_series *s, const double *v, double t)
{
    size_t lo = 0, hi = s->n - 1;
    if (t <= s->t[lo])
        return v[lo];
    if (t >= s->t[hi])
        return v[hi];
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->t[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    double f = (t - s->t[lo]) / (s->t[hi] - s->t[lo]);
    return v[lo] + f * (v[hi] - v[lo]);
}

void ssi_lc_sample(const ssi_lc *lc, size_t band, double t, double *value, double *error)
{
    const ssi_series *s = &lc->series[band];
    *value = ssi_interp(s, s->v, t);
    *error = s->e ? ssi_interp(s, s->e, t) : NAN;
}

/* The SNANA columns a reader looks for. */
enum { SSI_COL_T, SSI_COL_BAND, SSI_COL_FLUX, SSI_COL_ERR, SSI_NCOLS };

/* What a reader keeps between lines. */
typedef struct ssi_read {
    int header;         /* the header line was read */
    uint64_t rows;      /* rows read after it */
    double t0;          /* SNANA: the first row's time */
    int col[SSI_NCOLS]; /* SNANA: which column holds time, band, flux, flux error */
    size_t ncols;       /* SNANA: how many columns the header names */
} ssi_read;

/* Read one line into the light curve. @return 0, SSI_END to stop early, or an error. */
typedef int (*ssi_line_fn)(ssi_lc *lc, ssi_read *st, char *line, uint64_t no, ss_err *err);
#define SSI_END 1

/* Split @p line at @p sep (a ',' keeps empty fields; ' ' splits at runs of blanks). */
static size_t ssi_split(char *line, char sep, char **tok, size_t max)
{
    size_t n = 0;
    char *p = line;
    if (sep == ',') {
        for (tok[n++] = p; n < max && (p = strchr(p, ',')); tok[n++] = ++p)
            *p = '\0';
        for (size_t i = 0; i < n; i++)
            tok[i] = ssi_trim(tok[i]);
        return n;
    }
    for (char *save = NULL, *t = strtok_r(p, " \t", &save); t && n < max;
         t = strtok_r(NULL, " \t", &save))
        tok[n++] = t;
    return n;
}

static int ssi_read_lines(ssi_lc *lc, FILE *fp, ssi_line_fn fn, ss_err *err)
{
    ss_file_lines l = {.fp = fp, .name = lc->path};
    ssi_read st = {0};
    const char *line;
    size_t len;
    int rc;
    while ((rc = ss_file_lines_next(&l, &line, &len, err)) == 1) {
        char *copy = memchr(line, '\0', len) ? NULL : strndup(line, len);
        if (!copy && memchr(line, '\0', len))
            rc = ssi_bad(err, lc->path, l.lineno, "a NUL byte: not a text file");
        else
            rc = copy ? fn(lc, &st, copy, l.lineno, err)
                      : ss_err_set(err, SS_ENOMEM, "out of memory");
        free(copy);
        if (rc)
            break;
    }
    ss_file_lines_free(&l);
    if (rc == SSI_END)
        rc = 0;
    if (!rc && !st.header)
        rc = ssi_bad(err, lc->path, 0, "no header line (%s)",
                     lc->model == SS_SIM_SNANA ? "like 't pb flux dflux'" : "like '#t,V,I'");
    if (!rc && !st.rows)
        rc = ssi_bad(err, lc->path, 0, "no rows after the header");
    return rc;
}

/* A row of one band, for sorting. */
typedef struct ssi_point {
    double t, v, e;
    size_t row;
} ssi_point;

static int ssi_point_cmp(const void *a, const void *b)
{
    const ssi_point *p = a, *q = b;
    if (p->t != q->t)
        return p->t < q->t ? -1 : 1;
    return p->row < q->row ? -1 : p->row > q->row;
}

/* Put a band in time order, averaging rows at the same time, so that interpolation has one value
 * at each time. Files are not always in order: the tutorial's fake.csv was traced by hand and goes
 * back in time here and there; SNANA files have a row out of place now and then. */
static int ssi_series_sort(ssi_series *s)
{
    ssi_point *p = malloc((s->n ? s->n : 1) * sizeof *p);
    if (!p)
        return SS_ENOMEM;
    for (size_t i = 0; i < s->n; i++)
        p[i] = (ssi_point){s->t[i], s->v[i], s->e ? s->e[i] : 0, i};
    qsort(p, s->n, sizeof *p, ssi_point_cmp);
    size_t n = 0;
    for (size_t i = 0, j; i < s->n; i = j, n++) {
        double v = 0, e = 0;
        for (j = i; j < s->n && p[j].t == p[i].t; j++)
            v += p[j].v, e += p[j].e;
        s->t[n] = p[i].t;
        s->v[n] = v / (double)(j - i);
        if (s->e)
            s->e[n] = e / (double)(j - i);
    }
    s->n = n;
    free(p);
    return 0;
}

static int ssi_lc_read(const char *path, ss_sim_model model, ssi_line_fn fn, ssi_lc **out,
                       ss_err *err)
{
    ssi_lc *lc = calloc(1, sizeof *lc);
    if (!lc || !(lc->path = strdup(path))) {
        free(lc);
        return ss_err_set(err, SS_ENOMEM, "%s: out of memory", path);
    }
    lc->model = model;
    FILE *fp = fopen(path, "r");
    int rc = fp ? ssi_read_lines(lc, fp, fn, err)
                : ss_err_set(err, errno, "%s: %s", path, strerror(errno));
    if (fp)
        fclose(fp);
    for (size_t b = 0; !rc && b < lc->nbands; b++)
        if (ssi_series_sort(&lc->series[b]))
            rc = ss_err_set(err, SS_ENOMEM, "%s: out of memory", path);
    if (rc) {
        ssi_lc_free(lc);
        return rc;
    }
    *out = lc;
    return 0;
}

/* ---- CSV: "#t,V,I" then "0.15, 18, 20.0" ---- */

static int ssi_csv_header(ssi_lc *lc, char *line, uint64_t no, ss_err *err)
{
    char *tok[SSI_LC_MAX_BANDS + 2];
    if (*line == '#')
        line++;
    size_t n = ssi_split(line, ',', tok, SSI_LC_MAX_BANDS + 2);
    if (n > SSI_LC_MAX_BANDS + 1)
        return ssi_bad(err, lc->path, no, "more than %d bands", SSI_LC_MAX_BANDS);
    if (n < 2 || !*tok[0])
        return ssi_bad(err, lc->path, no,
                       "expected a header of the time column and one column per band, like "
                       "'#t,V,I'");
    for (size_t i = 1; i < n; i++) {
        if (!ssi_band_ok(tok[i], strlen(tok[i])))
            return ssi_bad(err, lc->path, no,
                           "column %zu: '%s' is not a band name (1 to %d letters, digits, _ or -)",
                           i + 1, tok[i], SS_PASSBAND_MAX);
        if (ssi_lc_band(lc, tok[i]) >= 0)
            return ssi_bad(err, lc->path, no, "band '%s' appears twice", tok[i]);
        ssi_lc_add_band(lc, tok[i]);
    }
    return 0;
}

static int ssi_csv_row(ssi_lc *lc, ssi_read *st, char *line, uint64_t no, ss_err *err)
{
    char *tok[SSI_LC_MAX_BANDS + 2];
    size_t n = ssi_split(line, ',', tok, SSI_LC_MAX_BANDS + 2);
    double t, v;
    if (n != lc->nbands + 1)
        return ssi_bad(err, lc->path, no, "%zu fields, the header has %zu", n, lc->nbands + 1);
    if (ssi_number(tok[0], &t))
        return ssi_bad(err, lc->path, no, "time '%s' is not a number", tok[0]);
    st->rows++;
    for (size_t b = 0; b < lc->nbands; b++) {
        if (!*tok[b + 1])
            continue; /* no measurement in this band at this time */
        if (ssi_number(tok[b + 1], &v))
            return ssi_bad(err, lc->path, no, "%s: '%s' is not a magnitude", lc->band[b],
                           tok[b + 1]);
        if (ssi_series_push(&lc->series[b], t, v, NULL))
            return ss_err_set(err, SS_ENOMEM, "%s: out of memory", lc->path);
    }
    return 0;
}

/* Blank lines, and '#' lines after the header, are comments. */
static int ssi_csv_line(ssi_lc *lc, ssi_read *st, char *line, uint64_t no, ss_err *err)
{
    char *p = ssi_trim(line);
    if (!*p || (st->header && *p == '#'))
        return 0;
    if (!st->header) {
        st->header = 1;
        return ssi_csv_header(lc, p, no, err);
    }
    return ssi_csv_row(lc, st, p, no, err);
}

int ssi_lc_read_csv(const char *path, ssi_lc **out, ss_err *err)
{
    return ssi_lc_read(path, SS_SIM_LIGHTCURVE, ssi_csv_line, out, err);
}

/* ---- SNANA: "#key:value" lines, "t pb flux dflux", then "56254.16 i 6.53 4.92" ---- */

/* Column roles, found in the column header by any of their names. */
static const char *const ssi_col_names[SSI_NCOLS][4] = {
    {"t", "mjd", NULL},
    {"pb", "band", "flt", "filter"},
    {"flux", "fluxcal", NULL},
    {"dflux", "fluxerr", "fluxcalerr", NULL},
};
static const char *const ssi_col_roles[SSI_NCOLS] = {"time", "band", "flux", "flux error"};

static int ssi_snana_header(ssi_lc *lc, ssi_read *st, char **tok, size_t n, uint64_t no,
                            ss_err *err)
{
    double x;
    if (ssi_number(tok[0], &x) == 0)
        return ssi_bad(err, lc->path, no,
                       "a row before the column header (like 't pb flux dflux')");
    for (int c = 0; c < SSI_NCOLS; c++) {
        st->col[c] = -1;
        for (size_t i = 0; i < n && st->col[c] < 0; i++)
            for (int k = 0; k < 4 && ssi_col_names[c][k]; k++)
                if (!strcasecmp(tok[i], ssi_col_names[c][k]))
                    st->col[c] = (int)i;
        if (st->col[c] < 0)
            return ssi_bad(err, lc->path, no, "the column header has no %s column (%s)",
                           ssi_col_roles[c], ssi_col_names[c][0]);
    }
    st->ncols = n;
    st->header = 1;
    return 0;
}

static int ssi_snana_row(ssi_lc *lc, ssi_read *st, char **tok, size_t n, uint64_t no, ss_err *err)
{
    double v[SSI_NCOLS];
    if (n < st->ncols)
        return ssi_bad(err, lc->path, no, "%zu columns, the header names %zu", n, st->ncols);
    for (int c = 0; c < SSI_NCOLS; c++)
        if (c != SSI_COL_BAND && ssi_number(tok[st->col[c]], &v[c]))
            return ssi_bad(err, lc->path, no, "%s '%s' is not a number", ssi_col_roles[c],
                           tok[st->col[c]]);
    const char *band = tok[st->col[SSI_COL_BAND]];
    if (v[SSI_COL_ERR] < 0)
        return ssi_bad(err, lc->path, no, "flux error %g is negative", v[SSI_COL_ERR]);
    if (!ssi_band_ok(band, strlen(band)))
        return ssi_bad(err, lc->path, no, "'%s' is not a band name", band);
    if (!st->rows++)
        st->t0 = v[SSI_COL_T];
    double t = v[SSI_COL_T] - st->t0;
    int b = ssi_lc_add_band(lc, band);
    if (b < 0)
        return ssi_bad(err, lc->path, no, "more than %d bands", SSI_LC_MAX_BANDS);
    if (ssi_series_push(&lc->series[b], t, v[SSI_COL_FLUX], &v[SSI_COL_ERR]))
        return ss_err_set(err, SS_ENOMEM, "%s: out of memory", lc->path);
    return 0;
}

/* SNANA's own keyed lines are understood too: VARLIST: (the header), OBS: (a row), END:, and any
 * other KEY: value, which is skipped like a '#' line. */
static int ssi_snana_line(ssi_lc *lc, ssi_read *st, char *line, uint64_t no, ss_err *err)
{
    char *tok[SSI_MAX_TOKENS];
    size_t n = ssi_split(line, ' ', tok, SSI_MAX_TOKENS);
    if (!n || tok[0][0] == '#')
        return 0;
    if (tok[0][strlen(tok[0]) - 1] == ':') {
        if (!strcasecmp(tok[0], "END:") || !strcasecmp(tok[0], "END_PHOTOMETRY:"))
            return SSI_END;
        if (strcasecmp(tok[0], "VARLIST:") && strcasecmp(tok[0], "OBS:"))
            return 0;
        if (n == 1)
            return ssi_bad(err, lc->path, no, "%s with nothing after it", tok[0]);
        memmove(tok, tok + 1, --n * sizeof *tok);
    }
    if (!st->header)
        return ssi_snana_header(lc, st, tok, n, no, err);
    return ssi_snana_row(lc, st, tok, n, no, err);
}

int ssi_lc_read_snana(const char *path, ssi_lc **out, ss_err *err)
{
    return ssi_lc_read(path, SS_SIM_SNANA, ssi_snana_line, out, err);
}
