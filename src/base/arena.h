/*
 * arena.h - bump allocator for protocol lifetimes.
 *
 * An SMTP session owns one arena and each transaction another; everything
 * parsed for the transaction (addresses, parameters) lives there and is
 * freed at once by arena_reset() on RSET / end of DATA / QUIT. Allocation
 * failure aborts. Not thread-safe.
 */
#ifndef BASE_ARENA_H
#define BASE_ARENA_H

#include <stddef.h>

struct arena;

struct arena *arena_new(size_t chunk_size);
void arena_free(struct arena **a);
/* Free everything allocated, keeping the first chunk for reuse. */
void arena_reset(struct arena *a);
void *arena_alloc(struct arena *a, size_t n);	/* 16-byte aligned, uninitialised */
void *arena_zalloc(struct arena *a, size_t n);
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
size_t arena_used(const struct arena *a); /* bytes handed out since reset */

#endif
