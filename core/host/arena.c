#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Chunks start small (a tuple alert needs ~300 bytes; a batch holds thousands of packets, each with
 * its own arena) and double up to 64 KiB for large packets. */
#define SSI_ARENA_FIRST (2 * 1024)
#define SSI_ARENA_CHUNK (64 * 1024)

typedef struct ssi_chunk {
    struct ssi_chunk *next;
    size_t size;
    size_t used;
    max_align_t data[];
} ssi_chunk;

struct ss_arena {
    ssi_chunk *head;
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

void ss_arena_free(ss_arena *a)
{
    if (!a)
        return;
    for (ssi_chunk *c = a->head, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    free(a);
}

void ss_arena_reset(ss_arena *a)
{
    /* Keep only the oldest chunk (the tail): a steady workload then allocates nothing. */
    ssi_chunk *c = a->head;
    while (c->next) {
        ssi_chunk *n = c->next;
        free(c);
        c = n;
    }
    c->used = 0;
    a->head = c;
    a->total = 0;
}

void *ss_arena_alloc(ss_arena *a, size_t n)
{
    const size_t align = _Alignof(max_align_t);
    n = (n + align - 1) & ~(align - 1);
    ssi_chunk *c = a->head;
    if (c->size - c->used < n) {
        size_t size = c->size * 2 < SSI_ARENA_CHUNK ? c->size * 2 : SSI_ARENA_CHUNK;
        if (size < n)
            size = n;
        ssi_chunk *fresh = ssi_chunk_new(size);
        if (!fresh)
            return NULL;
        fresh->next = c;
        a->head = c = fresh;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    a->total += n;
    return p;
}

char *ss_arena_strndup(ss_arena *a, const char *s, size_t n)
{
    char *p = ss_arena_alloc(a, n + 1);
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
