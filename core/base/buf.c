/* Byte buffers for the binary records of the store, the catalogs and the broker's wire format. */
#include "buf.h"

#include <stdlib.h>
#include <string.h>

void ss_wbuf_reset(ss_wbuf *b)
{
    b->len = 0;
    b->failed = 0;
}

void ss_wbuf_free(ss_wbuf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

int ss_wbuf_reserve(ss_wbuf *b, size_t n)
{
    if (b->failed)
        return -1;
    if (b->cap - b->len >= n)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < n)
        cap *= 2;
    unsigned char *fresh = realloc(b->data, cap);
    if (!fresh) {
        b->failed = 1;
        return -1;
    }
    b->data = fresh;
    b->cap = cap;
    return 0;
}

void ss_wbuf_bytes(ss_wbuf *b, const void *p, size_t n)
{
    if (ss_wbuf_reserve(b, n))
        return;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
}

void ss_wbuf_u8(ss_wbuf *b, uint8_t v)
{
    ss_wbuf_bytes(b, &v, 1);
}
void ss_wbuf_u32(ss_wbuf *b, uint32_t v)
{
    ss_wbuf_bytes(b, &v, 4);
}
void ss_wbuf_u64(ss_wbuf *b, uint64_t v)
{
    ss_wbuf_bytes(b, &v, 8);
}
void ss_wbuf_f64(ss_wbuf *b, double v)
{
    ss_wbuf_bytes(b, &v, 8);
}

void ss_wbuf_strn(ss_wbuf *b, const char *s, uint32_t n)
{
    ss_wbuf_u32(b, n);
    ss_wbuf_bytes(b, s, n);
}

void ss_wbuf_str(ss_wbuf *b, const char *s)
{
    if (!s)
        ss_wbuf_u32(b, SS_BUF_NULL_STR);
    else
        ss_wbuf_strn(b, s, (uint32_t)strlen(s));
}

static const unsigned char *ss_rbuf_take(ss_rbuf *r, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = 1;
        return NULL;
    }
    const unsigned char *p = r->p;
    r->p += n;
    return p;
}

#define SS_RBUF_SCALAR(name, type)                                                                 \
    type ss_rbuf_##name(ss_rbuf *r)                                                                \
    {                                                                                              \
        type v = 0;                                                                                \
        const unsigned char *p = ss_rbuf_take(r, sizeof v);                                        \
        if (p)                                                                                     \
            memcpy(&v, p, sizeof v);                                                               \
        return v;                                                                                  \
    }
SS_RBUF_SCALAR(u8, uint8_t)
SS_RBUF_SCALAR(u32, uint32_t)
SS_RBUF_SCALAR(u64, uint64_t)
SS_RBUF_SCALAR(f64, double)

const char *ss_rbuf_str(ss_rbuf *r, uint32_t *len)
{
    uint32_t n = ss_rbuf_u32(r);
    *len = 0;
    if (r->bad || n == SS_BUF_NULL_STR)
        return NULL;
    const char *p = (const char *)ss_rbuf_take(r, n);
    if (p)
        *len = n;
    return p;
}

void ss_rbuf_strcpy(ss_rbuf *r, char *out, size_t cap)
{
    uint32_t n;
    const char *s = ss_rbuf_str(r, &n);
    if (n >= cap) {
        r->bad = 1;
        n = 0;
    }
    if (s)
        memcpy(out, s, n);
    out[n] = '\0';
}

void ss_be64_put(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

uint64_t ss_be64_get(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

void ss_be32_put(unsigned char *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

uint32_t ss_be32_get(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

size_t ss_uvar_put(unsigned char out[SS_UVAR_MAX], uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (unsigned char)v;
    return n;
}

void ss_wbuf_uvar(ss_wbuf *b, uint64_t v)
{
    unsigned char out[SS_UVAR_MAX];
    ss_wbuf_bytes(b, out, ss_uvar_put(out, v));
}

void ss_wbuf_vstr(ss_wbuf *b, const char *s, size_t n)
{
    ss_wbuf_uvar(b, s ? (uint64_t)n + 1 : 0);
    if (s)
        ss_wbuf_bytes(b, s, n);
}

uint64_t ss_rbuf_uvar(ss_rbuf *r)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 70 && r->p < r->end; shift += 7) {
        unsigned char c = *r->p++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            return v;
    }
    r->bad = 1;
    return 0;
}

const char *ss_rbuf_vstr(ss_rbuf *r, uint32_t *len)
{
    uint64_t n = ss_rbuf_uvar(r);
    *len = 0;
    if (r->bad || n == 0)
        return NULL;
    if (n - 1 > (uint64_t)(r->end - r->p)) {
        r->bad = 1;
        return NULL;
    }
    const char *p = (const char *)r->p;
    r->p += n - 1;
    *len = (uint32_t)(n - 1);
    return p;
}

void ss_rbuf_vstrcpy(ss_rbuf *r, char *out, size_t cap)
{
    uint32_t n;
    const char *s = ss_rbuf_vstr(r, &n);
    if (!s || n >= cap) {
        if (s)
            r->bad = 1;
        out[0] = '\0';
        return;
    }
    memcpy(out, s, n);
    out[n] = '\0';
}
