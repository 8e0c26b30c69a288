/*
 * map.h - hash map from byte-string keys to pointers.
 *
 * Keys are copied; values are borrowed (the map never frees them). The hash
 * is seeded per process so a peer cannot choose colliding keys in advance.
 * Not thread-safe: one owner thread per map.
 */
#ifndef BASE_MAP_H
#define BASE_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct map;

struct map *map_new(void);
void map_free(struct map **m);
size_t map_count(const struct map *m);
void *map_get(const struct map *m, const void *key, size_t klen);
/* Insert or replace; returns the previous value (or NULL). */
void *map_put(struct map *m, const void *key, size_t klen, void *val);
/* Remove; returns the value that was stored (or NULL). */
void *map_del(struct map *m, const void *key, size_t klen);
/* Iterate: start with *pos = 0; returns 0 at the end. The map must not be
 * changed while iterating (collect keys first, then delete). */
int map_next(const struct map *m, size_t *pos, const void **key, size_t *klen, void **val);

/* Remove every entry for which drop(val, ctx) is true, in one pass (drop
 * may free val; it must not touch the map). Returns how many went. */
size_t map_sweep(struct map *m, bool (*drop)(void *val, void *ctx), void *ctx);

/* Conveniences for NUL-terminated and 64-bit integer keys. */
void *map_gets(const struct map *m, const char *key);
void *map_puts(struct map *m, const char *key, void *val);
void *map_dels(struct map *m, const char *key);
void *map_getu(const struct map *m, uint64_t key);
void *map_putu(struct map *m, uint64_t key, void *val);
void *map_delu(struct map *m, uint64_t key);

#endif
