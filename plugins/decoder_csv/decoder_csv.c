/*
 * Tuple alerts as CSV (or TSV) with a header row, as in the ANTARES streaming tutorial.
 *
 * Lines are read with getline and fed to libcsv one at a time, so that every row knows the line it
 * starts on even when a quoted field spans lines. Each row becomes one packet of one alert
 * (core/tuple.h says what the tuple columns mean); columns that are not part of the tuple become
 * typed properties.
 */
#include "decoder.h"
#include "fileio.h"
#include "tuple.h"

#include <csv.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Roles of header columns that are not tuple columns. */
#define ROLE_PROP (-1)
#define ROLE_SKIP (-2) /* an empty column name (e.g. a trailing comma): no property to name */
#define NO_COLUMN SIZE_MAX

#define BOM "\xEF\xBB\xBF"

typedef struct span {
    size_t off, len;
} span;

typedef struct text {
    const char *p;
    size_t n;
} text;

typedef struct csv_state {
    char *name;
    const char *default_survey;
    struct csv_parser parser;
    int (*is_space)(unsigned char);
    int delim_known;
    /* The header: names live in hbuf; role[i] is an ss_tuple_col, ROLE_PROP or ROLE_SKIP. */
    char *hbuf;
    span *hcols;
    int *role;
    size_t ncols;
    size_t idx[SS_TUPLE_NCOLS];
    ss_file_lines lines; /* lines.lineno: the line last read; lines.max: max_line_bytes */
    ss_alert_limits limits;
    /* The row being read: its raw lines (for rejects), its first line and its fields. */
    char *raw;
    size_t raw_len, raw_cap;
    uint64_t row_line;
    int in_row, row_done, oom;
    char *fbuf;
    size_t fbuf_len, fbuf_cap;
    span *fields;
    size_t nfields, fields_cap;
    size_t fields_max; /* fields kept per row; more are only counted (the row is malformed) */
} csv_state;

static const char *const csv_exts[] = {".csv", ".tsv", NULL};

/* Grow an array to hold @p need elements. @return the (maybe moved) array, NULL when out of memory
 * (the old one is then still valid). */
static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    size_t ncap = *cap ? *cap : 64;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / elem)
            return NULL;
        ncap *= 2;
    }
    void *fresh = realloc(p, ncap * elem);
    if (fresh)
        *cap = ncap;
    return fresh;
}

/* libcsv trims these around unquoted fields; tab must not be one when it is the delimiter. */
static int space_csv(unsigned char c)
{
    return c == ' ' || c == '\t';
}

static int space_tsv(unsigned char c)
{
    return c == ' ';
}

/* We strip CR LF ourselves and feed one '\n' per line, so only '\n' ends a row: a row then always
 * ends at the end of a line, which keeps line numbers exact. */
static int term_lf(unsigned char c)
{
    return c == '\n';
}

static void on_field(void *s, size_t len, void *data)
{
    csv_state *st = data;
    if (st->oom)
        return;
    if (st->nfields >= st->fields_max) { /* "a,,,,,..." would take 16 bytes a comma */
        st->nfields++;
        return;
    }
    char *b = grow(st->fbuf, &st->fbuf_cap, st->fbuf_len + len + 1, 1);
    if (b)
        st->fbuf = b;
    span *f = b ? grow(st->fields, &st->fields_cap, st->nfields + 1, sizeof *f) : NULL;
    if (!f) {
        st->oom = 1;
        return;
    }
    st->fields = f;
    memcpy(st->fbuf + st->fbuf_len, s, len);
    st->fbuf[st->fbuf_len + len] = '\0';
    f[st->nfields++] = (span){st->fbuf_len, len};
    st->fbuf_len += len + 1;
}

static void on_row(int c, void *data)
{
    (void)c;
    ((csv_state *)data)->row_done = 1;
}

static int nomem(const csv_state *st, ss_err *err)
{
    return ss_err_set(err, SS_ENOMEM, "%s: out of memory", st->name);
}

/* Read one line without its CR LF (and without a BOM on line 1).
 * @return 1 with *out set, 0 at the end of input, or an error code. */
static int get_line(csv_state *st, text *out, ss_err *err)
{
    return ss_file_lines_next(&st->lines, &out->p, &out->n, err);
}

static int is_blank(const csv_state *st, text t)
{
    for (size_t i = 0; i < t.n; i++)
        if (!st->is_space((unsigned char)t.p[i]))
            return 0;
    return 1;
}

/* Tab-separated when the header line has tabs and no commas: a comma header never needs tabs. */
static void detect_delim(csv_state *st, text t)
{
    int tsv = memchr(t.p, '\t', t.n) && !memchr(t.p, ',', t.n);
    st->is_space = tsv ? space_tsv : space_csv;
    csv_set_delim(&st->parser, tsv ? CSV_TAB : CSV_COMMA);
    csv_set_space_func(&st->parser, st->is_space);
    st->delim_known = 1;
}

static void start_row(csv_state *st)
{
    st->in_row = 1;
    st->row_done = 0;
    st->row_line = st->lines.lineno;
    st->raw_len = st->fbuf_len = st->nfields = 0;
}

static int append_raw(csv_state *st, text t)
{
    size_t sep = st->lines.lineno != st->row_line;
    char *b = grow(st->raw, &st->raw_cap, st->raw_len + sep + t.n + 1, 1);
    if (!b)
        return SS_ENOMEM;
    st->raw = b;
    if (sep)
        b[st->raw_len++] = '\n';
    memcpy(b + st->raw_len, t.p, t.n);
    st->raw_len += t.n;
    b[st->raw_len] = '\0';
    return 0;
}

/* Feed one line and its newline. @return 0, or libcsv's status with *col the 1-based column. */
static int feed_line(csv_state *st, text t, size_t *col)
{
    size_t done = csv_parse(&st->parser, t.p, t.n, on_field, on_row, st);
    if (done == t.n && csv_parse(&st->parser, "\n", 1, on_field, on_row, st) == 1)
        return st->oom ? CSV_ENOMEM : 0;
    *col = done + 1;
    int status = csv_error(&st->parser);
    return status ? status : CSV_EINVALID;
}

/* Forget the broken row: csv_fini resets libcsv's state (no callbacks, so nothing is emitted). */
static int bad_row(csv_state *st, ss_reject *rej, const char *what, size_t col)
{
    csv_fini(&st->parser, NULL, NULL, NULL);
    st->in_row = 0;
    if (!col)
        return ss_reject_set(rej, SS_REASON_MALFORMED, "%s", what);
    return ss_reject_set(rej, SS_REASON_MALFORMED, "%s at line %" PRIu64 " column %zu", what,
                         st->lines.lineno, col);
}

/* Skip the rest of a row cut for its length at line @p t: the row was inside a quoted field when
 * @p t began (its previous line did not end it), and it ends at the first line end outside quotes
 * (a doubled quote toggles twice). A line cut by max_line_bytes is scanned as far as it was
 * kept. @return 0 or a read error. */
static int skip_quoted(csv_state *st, text t, ss_err *err)
{
    int quoted = 1, rc = 1;
    do
        for (const char *q = t.p; (q = memchr(q, '"', t.n - (size_t)(q - t.p))); q++)
            quoted = !quoted;
    while (quoted && (rc = get_line(st, &t, err)) == 1);
    return quoted && rc != 0 ? rc : 0;
}

/* The row being read is over max_line_bytes (@p whole bytes, or at least @p whole when
 * @p at_least): forgotten, libcsv reset, the rest of a row still inside quotes skipped. A line
 * cut by the reader ends its row: what its dropped part held is unknown. @return SS_EREJECT or a
 * read error. */
static int long_row(csv_state *st, text t, uint64_t whole, int at_least, int cut, ss_reject *rej,
                    ss_err *err)
{
    csv_fini(&st->parser, NULL, NULL, NULL);
    st->in_row = 0;
    int rc = cut ? 0 : skip_quoted(st, t, err);
    if (rc)
        return rc;
    return ss_alert_limits_reject(rej,
                                  st->lines.lineno > st->row_line ? "row is too long (bytes)"
                                                                  : "line is too long (bytes)",
                                  whole, at_least, "max_line_bytes", st->limits.line_bytes);
}

/* Read lines until libcsv completes a row. @return 1 (fields in st), 0 at the end of input,
 * SS_EREJECT for a row libcsv cannot split or one over max_line_bytes (reading goes on at the
 * next line), or an error. */
static int read_row(csv_state *st, ss_reject *rej, ss_err *err)
{
    text t = {NULL, 0};
    int rc;
    while ((rc = get_line(st, &t, err)) == 1) {
        if (!st->in_row && is_blank(st, t) && !st->lines.over)
            continue;
        if (!st->delim_known)
            detect_delim(st, t);
        if (!st->in_row)
            start_row(st);
        size_t col = 0;
        uint64_t sep = st->lines.lineno != st->row_line, /* the newline append_raw() adds */
            whole = st->raw_len + sep + (st->lines.over ? st->lines.over : t.n);
        if (st->lines.over || whole > st->limits.line_bytes) {
            if (append_raw(st, t)) /* the row as far as it was kept: the rejection's raw text */
                return nomem(st, err);
            return long_row(st, t, whole, !st->lines.over || st->lines.lineno > st->row_line,
                            st->lines.over != 0, rej, err);
        }
        if (append_raw(st, t))
            return nomem(st, err);
        rc = feed_line(st, t, &col);
        if (rc == CSV_EPARSE)
            return bad_row(st, rej, "misplaced quote", col);
        if (rc)
            return nomem(st, err);
        if (st->row_done) {
            st->in_row = 0;
            return 1;
        }
    }
    if (rc == 0 && st->in_row)
        return bad_row(st, rej, "quoted field not closed at the end of input", 0);
    return rc;
}

static int is_trim(char c)
{
    return c == ' ' || c == '\t';
}

static span trim_span(const char *buf, span s)
{
    while (s.len && is_trim(buf[s.off])) {
        s.off++;
        s.len--;
    }
    while (s.len && is_trim(buf[s.off + s.len - 1]))
        s.len--;
    return s;
}

static int assign_roles(csv_state *st, ss_err *err)
{
    unsigned named = 0;
    for (int k = 0; k < SS_TUPLE_NCOLS; k++)
        st->idx[k] = NO_COLUMN;
    for (size_t i = 0; i < st->ncols; i++) {
        int k = ss_tuple_column(st->hbuf + st->hcols[i].off, st->hcols[i].len);
        if (k < 0) {
            st->role[i] = st->hcols[i].len ? ROLE_PROP : ROLE_SKIP;
            continue;
        }
        if (named & 1u << k)
            return ss_err_set(err, SS_EPARSE, "%s: column %s appears twice in the header", st->name,
                              ss_tuple_name(k));
        named |= 1u << k;
        st->idx[k] = i;
        st->role[i] = k;
    }
    return ss_tuple_check_header(named, st->name, err);
}

/* Keep the header's fields: the field buffer is reused by every row. */
static int take_header(csv_state *st, ss_err *err)
{
    if (st->nfields > st->fields_max - 1) /* on_field() counts the fields it does not keep */
        return ss_err_set(err, SS_EPARSE,
                          "%s: the header has %zu columns, over max_props = %" PRIu64
                          " properties besides the %d known columns",
                          st->name, st->nfields, st->limits.props, SS_TUPLE_NCOLS);
    st->ncols = st->nfields;
    st->fields_max = st->ncols + 1; /* one more tells a long row from a right one */
    st->hbuf = malloc(st->fbuf_len + 1);
    st->hcols = calloc(st->ncols, sizeof *st->hcols);
    st->role = calloc(st->ncols, sizeof *st->role);
    if (!st->hbuf || !st->hcols || !st->role)
        return nomem(st, err);
    memcpy(st->hbuf, st->fbuf, st->fbuf_len);
    for (size_t i = 0; i < st->ncols; i++)
        st->hcols[i] = trim_span(st->hbuf, st->fields[i]);
    return assign_roles(st, err);
}

static int read_header(csv_state *st, ss_err *err)
{
    ss_reject rej;
    int rc = read_row(st, &rej, err);
    if (rc == 0)
        return ss_err_set(err, SS_EPARSE, "%s: empty input, no header", st->name);
    if (rc == SS_EREJECT)
        return ss_err_set(err, SS_EPARSE, "%s: line %" PRIu64 ": unreadable header: %s", st->name,
                          st->row_line, rej.detail);
    if (rc != 1)
        return rc;
    return take_header(st, err);
}

/* Tuple column @p k of the current row. */
static ss_tuple_value cell(const csv_state *st, int k)
{
    if (st->idx[k] == NO_COLUMN)
        return (ss_tuple_value){.type = SS_TUPLE_ABSENT};
    span f = st->fields[st->idx[k]];
    return ss_tuple_text(st->fbuf + f.off, f.len);
}

static int whole_int(const char *s, size_t n, int64_t *out)
{
    if (!isdigit((unsigned char)s[0]) && s[0] != '-' && s[0] != '+')
        return 0;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end != s + n)
        return 0;
    *out = v;
    return 1;
}

/* Only plain decimal notation: strtod alone would also take hex, "infinity" and leading space. */
static int whole_float(const char *s, size_t n, double *out)
{
    if (strspn(s, "0123456789+-.eE") != n)
        return 0;
    char *end;
    double v = strtod(s, &end);
    if (end != s + n || !isfinite(v))
        return 0;
    *out = v;
    return 1;
}

/* Type a property from its text; @p s is NUL-terminated at @p n. */
static ss_value typed_value(const char *s, size_t n)
{
    ss_value v = {.type = SS_TYPE_NULL};
    if (n == 0)
        return v;
    if ((n == 4 && strncasecmp(s, "true", 4) == 0) || (n == 5 && strncasecmp(s, "false", 5) == 0)) {
        v.type = SS_TYPE_BOOL;
        v.u.b = n == 4;
    } else if (whole_int(s, n, &v.u.i)) {
        v.type = SS_TYPE_INT;
    } else if (whole_float(s, n, &v.u.f)) {
        v.type = SS_TYPE_FLOAT;
    } else {
        v.type = SS_TYPE_STRING;
        v.u.s.ptr = s;
        v.u.s.len = (uint32_t)n;
    }
    return v;
}

static int fill_props(const csv_state *st, ss_packet *pkt, ss_alert *a, ss_reject *rej)
{
    for (size_t i = 0; i < st->ncols; i++) {
        if (st->role[i] != ROLE_PROP)
            continue;
        span f = st->fields[i], h = st->hcols[i];
        if (f.len > st->limits.value_bytes) {
            char what[96];
            snprintf(what, sizeof what, "column %.*s is too long (bytes)",
                     (int)(h.len > 64 ? 64 : h.len), st->hbuf + h.off);
            return ss_alert_limits_reject(rej, what, f.len, 0, "max_value_bytes",
                                          st->limits.value_bytes);
        }
        int rc = ss_alert_add_prop(pkt, a, st->hbuf + h.off, h.len,
                                   typed_value(st->fbuf + f.off, f.len));
        if (rc)
            return rc;
    }
    return 0;
}

/* @return 1 when the row became an alert, SS_EREJECT or SS_ENOMEM. */
static int fill_alert(const csv_state *st, ss_packet *pkt, ss_reject *rej)
{
    if (st->nfields != st->ncols)
        return ss_reject_set(rej, SS_REASON_MALFORMED, "row has %zu fields, header has %zu",
                             st->nfields, st->ncols);
    ss_alert *a = ss_packet_add(pkt);
    if (!a)
        return SS_ENOMEM;
    ss_tuple_row row = {
        .origin = st->name, .default_survey = st->default_survey, .line = st->row_line};
    for (int k = 0; k < SS_TUPLE_NCOLS; k++)
        row.col[k] = cell(st, k);
    int rc;
    if ((rc = ss_tuple_fill(&row, pkt, a, rej)) || (rc = fill_props(st, pkt, a, rej)) ||
        (rc = ss_packet_check_limits(pkt, &st->limits, rej)))
        return rc;
    return 1;
}

static int csv_next(void *state, ss_packet *pkt, ss_reject *rej, ss_err *err)
{
    csv_state *st = state;
    int rc = read_row(st, rej, err);
    if (rc == 1)
        rc = fill_alert(st, pkt, rej);
    if (rc == 1) { /* kept with the packet, so a later validation reject shows the row too */
        pkt->raw = st->raw;
        pkt->raw_len = st->raw_len;
    } else if (rc == SS_EREJECT) {
        rej->origin = st->name;
        rej->line = st->row_line;
        rej->raw = st->raw;
        rej->raw_len = st->raw_len;
    } else if (rc == SS_ENOMEM || rc == SS_EINVAL) {
        return ss_err_set(err, rc, "%s: line %" PRIu64 ": %s", st->name, st->row_line,
                          ss_strerror(rc));
    }
    return rc;
}

static void csv_close(void *state)
{
    csv_state *st = state;
    if (!st)
        return;
    csv_free(&st->parser);
    free(st->name);
    free(st->hbuf);
    free(st->hcols);
    free(st->role);
    ss_file_lines_free(&st->lines);
    free(st->raw);
    free(st->fbuf);
    free(st->fields);
    free(st);
}

static int csv_open(FILE *fp, const char *name, const ss_decoder_config *cfg, void *shared,
                    void **state, ss_err *err)
{
    (void)shared; /* nothing to share between inputs */
    *state = NULL;
    if (!name)
        name = "<input>";
    csv_state *st = calloc(1, sizeof *st);
    if (!st)
        return ss_err_set(err, SS_ENOMEM, "%s: out of memory", name);
    csv_init(&st->parser, CSV_STRICT | CSV_APPEND_NULL);
    csv_set_term_func(&st->parser, term_lf);
    csv_set_space_func(&st->parser, space_csv);
    st->is_space = space_csv;
    st->lines.fp = fp;
    st->limits = ss_alert_limits_effective(cfg ? &cfg->limits : NULL);
    st->lines.max = (size_t)st->limits.line_bytes;
    st->fields_max = (size_t)st->limits.props + SS_TUPLE_NCOLS + 1;
    st->default_survey = cfg && cfg->default_survey ? cfg->default_survey : "tuple";
    st->lines.name = st->name = strdup(name); /* read errors name the input */
    int rc =
        st->name ? read_header(st, err) : ss_err_set(err, SS_ENOMEM, "%s: out of memory", name);
    if (rc) {
        csv_close(st);
        return rc;
    }
    *state = st;
    return 0;
}

static text trim_name(const unsigned char *s, size_t n)
{
    while (n && (isspace(s[0]) || s[0] == '"')) {
        s++;
        n--;
    }
    while (n && (isspace(s[n - 1]) || s[n - 1] == '"'))
        n--;
    return (text){(const char *)s, n};
}

/* True when the first line names both ra and dec as columns: the tuple header. */
static int header_has_ra_dec(const unsigned char *s, size_t len)
{
    const unsigned char *eol = memchr(s, '\n', len);
    size_t n = eol ? (size_t)(eol - s) : len, start = 0;
    int ra = 0, dec = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != ',' && s[i] != '\t')
            continue;
        text t = trim_name(s + start, i - start);
        ra |= ss_tuple_column(t.p, t.n) == SS_TUPLE_RA;
        dec |= ss_tuple_column(t.p, t.n) == SS_TUPLE_DEC;
        start = i + 1;
    }
    return ra && dec;
}

static int csv_probe(const char *name, const unsigned char *head, size_t len)
{
    int by_name = ss_decoder_has_extension(name, csv_exts) ? 50 : 0;
    if (!head || !len)
        return by_name;
    size_t i = len >= 3 && memcmp(head, BOM, 3) == 0 ? 3 : 0;
    for (size_t k = i; k < len && head[k] != '\n'; k++)
        if (head[k] < 0x09) /* a control byte in the first line: binary, not text */
            return 0;
    while (i < len && isspace(head[i]))
        i++;
    if (i < len && head[i] == '{')
        return 0;
    return header_has_ra_dec(head + i, len - i) ? 80 : by_name;
}

const ss_decoder_ops ssp_decoder_csv = {
    .abi = SS_DECODER_ABI,
    .name = "csv",
    .extensions = csv_exts,
    .probe = csv_probe,
    .open = csv_open,
    .next = csv_next,
    .close = csv_close,
};
