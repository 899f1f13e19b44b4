/**
 * @file arena.h
 * @brief A bump allocator: many small allocations, freed all at once.
 *
 * Decoded alerts (their strings and property arrays) live in an arena that the ingest loop resets
 * after each committed batch, so decoding costs no free() per field. An arena is not thread-safe.
 */
#ifndef SS_ARENA_H
#define SS_ARENA_H

#include <stddef.h>

typedef struct ss_arena ss_arena;

/** Create an arena. @return NULL when out of memory. Free with ss_arena_free(). */
ss_arena *ss_arena_new(void);
/** Free the arena and everything allocated from it. NULL is allowed. */
void ss_arena_free(ss_arena *a);
/** Forget every allocation: pointers from before become invalid. The memory is kept for reuse,
 * up to 1 MiB besides the first chunk; the rest goes back to the C library. */
void ss_arena_reset(ss_arena *a);
/** Allocate @p n bytes aligned for any type. @return NULL when out of memory. Owned by the arena.
 */
void *ss_arena_alloc(ss_arena *a, size_t n);
/** Copy @p n bytes of @p s and add a NUL. @return NULL when out of memory. Owned by the arena. */
char *ss_arena_strndup(ss_arena *a, const char *s, size_t n);
/** Bytes currently handed out (for memory accounting in benchmarks). */
size_t ss_arena_used(const ss_arena *a);
/** Bytes the arena holds from the C library: its chunks, in use or kept by the last reset for the
 * next allocations (up to 1 MiB besides the first chunk). */
size_t ss_arena_reserved(const ss_arena *a);

#endif
