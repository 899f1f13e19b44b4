/**
 * @file buf.h
 * @brief Byte buffers: a growable writer and a bounded reader for binary records, and big-endian
 * integers for keys that must sort like numbers.
 *
 * Records are written in the host's byte order (LMDB files are not portable across byte orders
 * anyway); keys use big-endian so that LMDB's byte order is numeric order.
 */
#ifndef SS_BUF_H
#define SS_BUF_H

#include <stddef.h>
#include <stdint.h>

/** A string of this length marks NULL in ss_wbuf_str(). */
#define SS_BUF_NULL_STR UINT32_MAX

/** A growable output buffer. Owned by its user; ss_wbuf_free() releases it. */
typedef struct ss_wbuf {
    unsigned char *data;
    size_t len, cap;
    int failed; /* set when an allocation failed; the content is then incomplete */
} ss_wbuf;

void ss_wbuf_reset(ss_wbuf *b);
void ss_wbuf_free(ss_wbuf *b);
void ss_wbuf_u8(ss_wbuf *b, uint8_t v);
void ss_wbuf_u32(ss_wbuf *b, uint32_t v);
void ss_wbuf_u64(ss_wbuf *b, uint64_t v);
void ss_wbuf_f64(ss_wbuf *b, double v);
void ss_wbuf_bytes(ss_wbuf *b, const void *p, size_t n);
/** Make room for @p n more bytes after len (written by the caller, who then moves len).
 * @return 0, or -1 with failed set when out of memory. */
int ss_wbuf_reserve(ss_wbuf *b, size_t n);
/** A string as u32 length then bytes; NULL is written as length 0xffffffff. */
void ss_wbuf_str(ss_wbuf *b, const char *s);
void ss_wbuf_strn(ss_wbuf *b, const char *s, uint32_t n);
/** The most bytes a varint of ss_uvar_put() takes. */
#define SS_UVAR_MAX 10
/** An unsigned LEB128 varint written at @p out: 1 byte below 128, at most SS_UVAR_MAX.
 * @return its length. */
size_t ss_uvar_put(unsigned char out[SS_UVAR_MAX], uint64_t v);
/** ss_uvar_put() appended to @p b. */
void ss_wbuf_uvar(ss_wbuf *b, uint64_t v);
/** A string as varint (length + 1) then bytes; NULL is written as varint 0. */
void ss_wbuf_vstr(ss_wbuf *b, const char *s, size_t n);

/** A bounded reader over a value. Strings read from it point into the value (not NUL-terminated).
 */
typedef struct ss_rbuf {
    const unsigned char *p, *end;
    int bad; /* set when a read ran past the end */
} ss_rbuf;

uint8_t ss_rbuf_u8(ss_rbuf *r);
uint32_t ss_rbuf_u32(ss_rbuf *r);
uint64_t ss_rbuf_u64(ss_rbuf *r);
double ss_rbuf_f64(ss_rbuf *r);
/** Read a string; *len receives its length. @return pointer into the value, or NULL for a NULL
 * string. */
const char *ss_rbuf_str(ss_rbuf *r, uint32_t *len);
/** Read a string into @p out of @p cap bytes (NUL-terminated); an over-long string marks the reader
 * bad. */
void ss_rbuf_strcpy(ss_rbuf *r, char *out, size_t cap);
/** Read a varint of ss_wbuf_uvar(); more than 10 bytes or a cut one marks the reader bad. */
uint64_t ss_rbuf_uvar(ss_rbuf *r);
/** Read a string of ss_wbuf_vstr(), as ss_rbuf_str() does. */
const char *ss_rbuf_vstr(ss_rbuf *r, uint32_t *len);
/** Read a string of ss_wbuf_vstr() into @p out, as ss_rbuf_strcpy() does. */
void ss_rbuf_vstrcpy(ss_rbuf *r, char *out, size_t cap);

/** Big-endian integers (8 and 4 bytes) at @p p. */
void ss_be64_put(unsigned char *p, uint64_t v);
uint64_t ss_be64_get(const unsigned char *p);
void ss_be32_put(unsigned char *p, uint32_t v);
uint32_t ss_be32_get(const unsigned char *p);

#endif
