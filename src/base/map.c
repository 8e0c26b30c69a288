/*
 * map.c - chained hash map with a per-process seed.
 *
 * Buckets double when the load factor passes 1. The seed is drawn once
 * per process (pthread_once), so maps may be created from any thread.
 */
#include "base/map.h"

#include <pthread.h>
#include <string.h>
#include <sys/random.h>

#include "base/xalloc.h"

struct map_ent {
	struct map_ent *next;
	uint64_t hash;
	void *val;
	size_t klen;
	unsigned char key[];
};

struct map {
	struct map_ent **b;
	size_t nb;
	size_t count;
};

static uint64_t map_seed;
static pthread_once_t map_seed_once = PTHREAD_ONCE_INIT;

static void map_seed_init(void)
{
	uint64_t s = 0;
	if (getrandom(&s, sizeof s, 0) != (ssize_t)sizeof s)
		s = (uint64_t)(uintptr_t)&s;
	map_seed = s | 1;
}

static uint64_t map_hash(const void *key, size_t klen)
{
	pthread_once(&map_seed_once, map_seed_init);
	const unsigned char *p = key;
	uint64_t h = 1469598103934665603ull ^ map_seed;
	for (size_t i = 0; i < klen; i++) {
		h ^= p[i];
		h *= 1099511628211ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

struct map *map_new(void)
{
	struct map *m = xcalloc(1, sizeof *m);
	m->nb = 16;
	m->b = xcalloc(m->nb, sizeof *m->b);
	return m;
}

void map_free(struct map **mp)
{
	struct map *m = *mp;
	if (!m)
		return;
	for (size_t i = 0; i < m->nb; i++) {
		struct map_ent *e = m->b[i];
		while (e) {
			struct map_ent *n = e->next;
			xfree(e);
			e = n;
		}
	}
	xfree(m->b);
	xfree(m);
	*mp = NULL;
}

size_t map_count(const struct map *m)
{
	return m->count;
}

static struct map_ent **map_find(const struct map *m, const void *key, size_t klen, uint64_t h)
{
	struct map_ent **pp = &m->b[h & (m->nb - 1)];
	for (; *pp; pp = &(*pp)->next) {
		struct map_ent *e = *pp;
		if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0)
			return pp;
	}
	return pp;
}

void *map_get(const struct map *m, const void *key, size_t klen)
{
	struct map_ent **pp = map_find(m, key, klen, map_hash(key, klen));
	return *pp ? (*pp)->val : NULL;
}

static void map_rehash(struct map *m)
{
	size_t nb = m->nb * 2;
	struct map_ent **b = xcalloc(nb, sizeof *b);
	for (size_t i = 0; i < m->nb; i++) {
		struct map_ent *e = m->b[i];
		while (e) {
			struct map_ent *n = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
			e = n;
		}
	}
	xfree(m->b);
	m->b = b;
	m->nb = nb;
}

void *map_put(struct map *m, const void *key, size_t klen, void *val)
{
	uint64_t h = map_hash(key, klen);
	struct map_ent **pp = map_find(m, key, klen, h);
	if (*pp) {
		void *old = (*pp)->val;
		(*pp)->val = val;
		return old;
	}
	struct map_ent *e = xmalloc(sizeof *e + klen);
	e->next = NULL;
	e->hash = h;
	e->val = val;
	e->klen = klen;
	memcpy(e->key, key, klen);
	*pp = e;
	if (++m->count > m->nb)
		map_rehash(m);
	return NULL;
}

void *map_del(struct map *m, const void *key, size_t klen)
{
	struct map_ent **pp = map_find(m, key, klen, map_hash(key, klen));
	struct map_ent *e = *pp;
	if (!e)
		return NULL;
	void *v = e->val;
	*pp = e->next;
	xfree(e);
	m->count--;
	return v;
}

size_t map_sweep(struct map *m, bool (*drop)(void *val, void *ctx), void *ctx)
{
	size_t n = 0;
	for (size_t bi = 0; bi < m->nb; bi++) {
		struct map_ent **pp = &m->b[bi];
		while (*pp) {
			struct map_ent *e = *pp;
			if (drop(e->val, ctx)) {
				*pp = e->next;
				xfree(e);
				m->count--;
				n++;
			} else {
				pp = &e->next;
			}
		}
	}
	return n;
}

int map_next(const struct map *m, size_t *pos, const void **key, size_t *klen, void **val)
{
	/* pos = bucket index * 2^16 + chain index: chains are short */
	size_t bi = *pos >> 16, ci = *pos & 0xffff;
	for (; bi < m->nb; bi++, ci = 0) {
		struct map_ent *e = m->b[bi];
		size_t k = 0;
		for (; e && k < ci; k++)
			e = e->next;
		if (e) {
			*pos = (bi << 16) | (ci + 1);
			if (key)
				*key = e->key;
			if (klen)
				*klen = e->klen;
			if (val)
				*val = e->val;
			return 1;
		}
	}
	*pos = bi << 16;
	return 0;
}

void *map_gets(const struct map *m, const char *key)
{
	return map_get(m, key, strlen(key));
}

void *map_puts(struct map *m, const char *key, void *val)
{
	return map_put(m, key, strlen(key), val);
}

void *map_dels(struct map *m, const char *key)
{
	return map_del(m, key, strlen(key));
}

void *map_getu(const struct map *m, uint64_t key)
{
	return map_get(m, &key, sizeof key);
}

void *map_putu(struct map *m, uint64_t key, void *val)
{
	return map_put(m, &key, sizeof key, val);
}

void *map_delu(struct map *m, uint64_t key)
{
	return map_del(m, &key, sizeof key);
}
