/* JSON written straight into a buffer (json_text.h): the text jansson prints with SS_JSON_FLAGS,
 * without building objects and mostly without printf, for answers served many times a second. */
#include "json_text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Powers of ten exact in a double (10^22 is the last). */
static const double ssi_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* jansson's finish of "%.15g": a real keeps a '.' or an 'e'; exponents lose '+' and leading
 * zeros. */
static size_t ssi_jansson_real(char *s, size_t n)
{
    if (!memchr(s, '.', n) && !memchr(s, 'e', n)) {
        memcpy(s + n, ".0", 3);
        return n + 2;
    }
    char *e = memchr(s, 'e', n);
    if (!e)
        return n;
    char *start = e + 1, *end = start + 1;
    if (*start == '-')
        start++;
    while (*end == '0')
        end++;
    memmove(start, end, (size_t)(s + n + 1 - end));
    return n - (size_t)(end - start);
}

/* The 15 significant digits of @p a > 0 as an integer and the decimal exponent of the first,
 * when a double product can decide them; 0 when the product lies too near a rounding tie (the
 * caller then asks printf). */
static int ssi_digits15(double a, long long *digits, int *exp10)
{
    int e = (int)floor(log10(a));
    for (int tries = 0; tries < 2; tries++) {
        int k = 14 - e;
        if (k > 22 || k < -22)
            return 0;
        double m = k >= 0 ? a * ssi_pow10[k] : a / ssi_pow10[-k];
        if (m >= 1e15) {
            e++;
            continue;
        }
        if (m < 1e14) {
            e--;
            continue;
        }
        double fl = floor(m), frac = m - fl;
        if (fabs(frac - 0.5) < 0.07) /* within the product's error of a tie */
            return 0;
        long long d = (long long)fl + (frac > 0.5);
        if (d == 1000000000000000LL)
            d = 100000000000000LL, e++;
        *digits = d;
        *exp10 = e;
        return 1;
    }
    return 0;
}

/* "%g" layout of 15 digits: fixed for exponents -4..14, else d.ddde±XX; trailing zeros go. */
static size_t ssi_layout(char *out, int neg, long long digits, int e)
{
    char d[16];
    for (int i = 14; i >= 0; i--, digits /= 10) /* printf is the slow part of a number */
        d[i] = (char)('0' + digits % 10);
    int nd = 15;
    while (nd > 1 && d[nd - 1] == '0')
        nd--;
    size_t n = 0;
    if (neg)
        out[n++] = '-';
    if (e < -4 || e >= 15) {
        out[n++] = d[0];
        if (nd > 1) {
            out[n++] = '.';
            memcpy(out + n, d + 1, (size_t)nd - 1);
            n += (size_t)nd - 1;
        }
        n += (size_t)sprintf(out + n, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
    } else if (e < 0) {
        memcpy(out + n, "0.", 2);
        n += 2;
        for (int i = -1; i > e; i--)
            out[n++] = '0';
        memcpy(out + n, d, (size_t)nd);
        n += (size_t)nd;
    } else {
        int whole = e + 1;
        for (int i = 0; i < whole; i++)
            out[n++] = i < nd ? d[i] : '0';
        if (nd > whole) {
            out[n++] = '.';
            memcpy(out + n, d + whole, (size_t)(nd - whole));
            n += (size_t)(nd - whole);
        }
    }
    out[n] = '\0';
    return n;
}

size_t ss_json_real_text(double v, char out[SS_JSON_REAL_MAX])
{
    long long digits;
    int e;
    size_t n;
    if (v != 0 && ssi_digits15(fabs(v), &digits, &e))
        n = ssi_layout(out, v < 0, digits, e);
    else
        n = (size_t)snprintf(out, SS_JSON_REAL_MAX - 3, "%.15g", v);
    return ssi_jansson_real(out, n);
}

/* ---- the writer ---- */

void ss_jw_init(ss_jw *w, ss_wbuf *b)
{
    *w = (ss_jw){.b = b};
}

/* Most pieces are a few bytes into room the buffer has: copied here, the call saved. */
static inline void ssi_put(ss_jw *w, const char *s, size_t n)
{
    ss_wbuf *b = w->b;
    if (b->cap - b->len >= n && !b->failed) {
        memcpy(b->data + b->len, s, n);
        b->len += n;
    } else
        ss_wbuf_bytes(b, s, n);
}

/* A comma before every member but the first of its object or array. */
static void ssi_sep(ss_jw *w)
{
    if (w->key_pending) {
        w->key_pending = 0;
        return;
    }
    if (w->depth > 0 && w->count[w->depth - 1]++)
        ssi_put(w, ",", 1);
}

void ss_jw_open(ss_jw *w, char bracket)
{
    ssi_sep(w);
    ssi_put(w, &bracket, 1);
    if (w->depth < SS_JW_DEPTH)
        w->count[w->depth] = 0;
    w->depth++;
}

void ss_jw_close(ss_jw *w, char bracket)
{
    w->depth--;
    ssi_put(w, &bracket, 1);
}

/* Valid UTF-8? jansson refuses other text; json_text.h's rule then replaces every byte above
 * 0x7f, which this writer does too. */
static int ssi_utf8(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!len || i + len > n || (len == 2 && c < 0xc2))
            return 0;
        unsigned cp = len == 1 ? c : c & (0x3f >> (len - 1));
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
            return 0;
        i += len;
    }
    return 1;
}

static void ssi_escaped(ss_jw *w, const char *s, size_t n)
{
    int valid = ssi_utf8((const unsigned char *)s, n);
    size_t run = 0;
    ssi_put(w, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && (c < 0x80 || valid))
            continue;
        ssi_put(w, s + run, i - run);
        run = i + 1;
        char esc[8];
        int k = c == '"'    ? snprintf(esc, sizeof esc, "\\\"")
                : c == '\\' ? snprintf(esc, sizeof esc, "\\\\")
                : c == '\n' ? snprintf(esc, sizeof esc, "\\n")
                : c == '\r' ? snprintf(esc, sizeof esc, "\\r")
                : c == '\t' ? snprintf(esc, sizeof esc, "\\t")
                : c == '\b' ? snprintf(esc, sizeof esc, "\\b")
                : c == '\f' ? snprintf(esc, sizeof esc, "\\f")
                : c < 0x20  ? snprintf(esc, sizeof esc, "\\u%04X", c)
                            : snprintf(esc, sizeof esc, "\xef\xbf\xbd");
        ssi_put(w, esc, (size_t)k);
    }
    ssi_put(w, s + run, n - run);
    ssi_put(w, "\"", 1);
}

void ss_jw_key(ss_jw *w, const char *k)
{
    ssi_sep(w);
    ssi_escaped(w, k, strlen(k));
    ssi_put(w, ":", 1);
    w->key_pending = 1;
}

void ss_jw_strn(ss_jw *w, const char *s, size_t n)
{
    ssi_sep(w);
    ssi_escaped(w, s, n);
}

void ss_jw_str(ss_jw *w, const char *s)
{
    if (s)
        ss_jw_strn(w, s, strlen(s));
    else
        ss_jw_null(w);
}

void ss_jw_null(ss_jw *w)
{
    ssi_sep(w);
    ssi_put(w, "null", 4);
}

void ss_jw_bool(ss_jw *w, int v)
{
    ssi_sep(w);
    ssi_put(w, v ? "true" : "false", v ? 4 : 5);
}

void ss_jw_int(ss_jw *w, long long v)
{
    char t[24];
    size_t n = sizeof t;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do
        t[--n] = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        t[--n] = '-';
    ssi_sep(w);
    ssi_put(w, t + n, sizeof t - n);
}

void ss_jw_num(ss_jw *w, double v)
{
    char t[SS_JSON_REAL_MAX];
    if (!isfinite(v)) {
        ss_jw_null(w);
        return;
    }
    ssi_sep(w);
    ssi_put(w, t, ss_json_real_text(v, t));
}

void ss_jw_value(ss_jw *w, const ss_value *v)
{
    switch (v->type) {
    case SS_TYPE_INT: ss_jw_int(w, v->u.i); break;
    case SS_TYPE_FLOAT: ss_jw_num(w, v->u.f); break;
    case SS_TYPE_BOOL: ss_jw_bool(w, v->u.b); break;
    case SS_TYPE_STRING: ss_jw_strn(w, v->u.s.ptr, v->u.s.len); break;
    default: ss_jw_null(w);
    }
}

void ss_jw_json(ss_jw *w, const json_t *o)
{
    char *text = o ? json_dumps(o, SS_JSON_FLAGS | JSON_ENCODE_ANY) : NULL;
    ssi_sep(w);
    if (text)
        ssi_put(w, text, strlen(text));
    else
        ssi_put(w, "null", 4);
    free(text);
}

#define SSI_SLOTS 512 /* names of one object hashed: twice the most properties an alert has */

static size_t ssi_slot(const char *name)
{
    size_t h = 5381;
    for (; *name; name++)
        h = h * 33 ^ (unsigned char)*name;
    return h % SSI_SLOTS;
}

/* The members in first-seen order, a later set's value replacing an earlier one's (as
 * ss_json_props() replaces), through a small hash of the names. @return how many; 0 when more
 * than the table takes (the caller then writes the sets as they are). */
static size_t ssi_merge(const ss_jw_set *sets, size_t nsets, const ss_prop **out, size_t cap)
{
    short slot[SSI_SLOTS];
    size_t n = 0;
    memset(slot, -1, sizeof slot);
    for (size_t s = 0; s < nsets; s++)
        for (size_t i = 0; i < sets[s].n; i++) {
            const ss_prop *p = &sets[s].props[i];
            size_t h = ssi_slot(p->name);
            while (slot[h] >= 0 && strcmp(out[slot[h]]->name, p->name))
                h = (h + 1) % SSI_SLOTS;
            if (slot[h] >= 0) {
                out[slot[h]] = p;
                continue;
            }
            if (n == cap)
                return 0;
            slot[h] = (short)n;
            out[n++] = p;
        }
    return n;
}

void ss_jw_props(ss_jw *w, const ss_jw_set *sets, size_t nsets)
{
    const ss_prop *merged[SSI_SLOTS / 2];
    size_t n = ssi_merge(sets, nsets, merged, SSI_SLOTS / 2);
    for (size_t i = 0; i < n; i++) {
        ss_jw_key(w, merged[i]->name);
        ss_jw_value(w, &merged[i]->value);
    }
    for (size_t s = 0; !n && s < nsets; s++) /* too many to merge: as they are */
        for (size_t i = 0; i < sets[s].n; i++) {
            ss_jw_key(w, sets[s].props[i].name);
            ss_jw_value(w, &sets[s].props[i].value);
        }
}
