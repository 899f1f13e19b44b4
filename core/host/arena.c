#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Chunks start small (a tuple alert needs ~300 bytes; a batch holds thousands of packets, each with
 * its own arena) and double up to 64 KiB for large packets. */
#define SSI_ARENA_FIRST (2 * 1024)
#define SSI_ARENA_CHUNK (64 * 1024)
/* What a reset keeps besides the first chunk, for the next packet: a survey alert (stamps, thirty
 * history entries of a hundred fields) takes a few hundred KiB, and page faults (a sixth of ZTF
 * ingest in its profile) came in part from allocating that again for every packet after the C
 * library had returned it to the system. */
#define SSI_ARENA_KEEP (1024 * 1024)

typedef struct ssi_chunk {
    struct ssi_chunk *next;
    size_t size;
    size_t used;
    max_align_t data[];
} ssi_chunk;

struct ss_arena {
    ssi_chunk *head;    /* the chunk in use, then the fuller ones before it */
    ssi_chunk *spare;   /* kept by the last reset, unused */
    size_t spare_bytes; /* their sizes: counted, not summed at each reset (a cold header each) */
    size_t total;
};

static ssi_chunk *ssi_chunk_new(size_t size)
{
    ssi_chunk *c = malloc(sizeof *c + size);
    if (c) {
        c->next = NULL;
        c->size = size;
        c->used = 0;
    }
    return c;
}

ss_arena *ss_arena_new(void)
{
    ss_arena *a = calloc(1, sizeof *a);
    if (a && !(a->head = ssi_chunk_new(SSI_ARENA_FIRST))) {
        free(a);
        return NULL;
    }
    return a;
}

static void ssi_chunks_free(ssi_chunk *c)
{
    for (ssi_chunk *n; c; c = n) {
        n = c->next;
        free(c);
    }
}

void ss_arena_free(ss_arena *a)
{
    if (!a)
        return;
    ssi_chunks_free(a->head);
    ssi_chunks_free(a->spare);
    free(a);
}

void ss_arena_reset(ss_arena *a)
{
    /* The oldest chunk (the tail) stays in use; later ones are kept as spares up to
     * SSI_ARENA_KEEP bytes, so a steady workload allocates nothing. */
    size_t kept = a->spare_bytes;
    ssi_chunk *c = a->head;
    while (c->next) {
        ssi_chunk *n = c->next;
        if (kept + c->size <= SSI_ARENA_KEEP) {
            kept += c->size;
            c->next = a->spare;
            a->spare = c;
        } else {
            free(c);
        }
        c = n;
    }
    c->used = 0;
    a->head = c;
    a->spare_bytes = kept;
    a->total = 0;
}

/* A chunk of @p size bytes or more: a spare one when one is that large, else a new one. */
static ssi_chunk *ssi_chunk_take(ss_arena *a, size_t size)
{
    for (ssi_chunk **p = &a->spare; *p; p = &(*p)->next)
        if ((*p)->size >= size) {
            ssi_chunk *c = *p;
            *p = c->next;
            a->spare_bytes -= c->size;
            c->next = NULL;
            c->used = 0;
            return c;
        }
    return ssi_chunk_new(size);
}

/* @p n bytes at an @p align boundary (a power of two, at most max_align_t's). */
static void *ssi_take(ss_arena *a, size_t n, size_t align)
{
    ssi_chunk *c = a->head;
    size_t at = (c->used + align - 1) & ~(align - 1);
    if (at > c->size || c->size - at < n) {
        size_t size = c->size * 2 < SSI_ARENA_CHUNK ? c->size * 2 : SSI_ARENA_CHUNK;
        if (size < n)
            size = n;
        ssi_chunk *fresh = ssi_chunk_take(a, size);
        if (!fresh)
            return NULL;
        fresh->next = c;
        a->head = c = fresh;
        at = 0;
    }
    void *p = (char *)c->data + at;
    c->used = at + n;
    a->total += n;
    return p;
}

void *ss_arena_alloc(ss_arena *a, size_t n)
{
    return ssi_take(a, n, _Alignof(max_align_t));
}

/* Text needs no alignment: names and values packed end to end touch less memory than when each
 * starts at max_align_t's 16-byte boundary. */
char *ss_arena_strndup(ss_arena *a, const char *s, size_t n)
{
    char *p = n < SIZE_MAX ? ssi_take(a, n + 1, 1) : NULL;
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

size_t ss_arena_used(const ss_arena *a)
{
    return a->total;
}

size_t ss_arena_reserved(const ss_arena *a)
{
    size_t n = 0;
    for (const ssi_chunk *c = a->head; c; c = c->next)
        n += c->size;
    for (const ssi_chunk *c = a->spare; c; c = c->next)
        n += c->size;
    return n;
}
