/*
 * arena.c - bump allocator: a list of chunks, large requests get their own.
 */
#include "base/arena.h"

#include <stdint.h>
#include <string.h>

#include "base/xalloc.h"

struct arena_chunk {
	struct arena_chunk *next;
	size_t size;
	size_t used;
	_Alignas(16) unsigned char data[];
};

struct arena {
	struct arena_chunk *head; /* current chunk first */
	size_t chunk_size;
	size_t total;
};

static struct arena_chunk *chunk_new(size_t size)
{
	struct arena_chunk *c = xmalloc(sizeof *c + size);
	c->next = NULL;
	c->size = size;
	c->used = 0;
	return c;
}

struct arena *arena_new(size_t chunk_size)
{
	struct arena *a = xcalloc(1, sizeof *a);
	a->chunk_size = chunk_size < 256 ? 256 : chunk_size;
	a->head = chunk_new(a->chunk_size);
	return a;
}

void arena_free(struct arena **ap)
{
	struct arena *a = *ap;
	if (!a)
		return;
	struct arena_chunk *c = a->head;
	while (c) {
		struct arena_chunk *n = c->next;
		xfree(c);
		c = n;
	}
	xfree(a);
	*ap = NULL;
}

void arena_reset(struct arena *a)
{
	/* keep the last chunk in the list (the first one allocated) */
	struct arena_chunk *c = a->head;
	while (c->next) {
		struct arena_chunk *n = c->next;
		xfree(c);
		c = n;
	}
	c->used = 0;
	a->head = c;
	a->total = 0;
}

void *arena_alloc(struct arena *a, size_t n)
{
	if (n > SIZE_MAX / 2)
		abort(); /* cannot be met; rounding up below would wrap to a tiny block */
	n = (n + 15) & ~(size_t)15;
	if (n == 0)
		n = 16;
	struct arena_chunk *c = a->head;
	if (c->size - c->used < n) {
		size_t sz = n > a->chunk_size ? n : a->chunk_size;
		struct arena_chunk *nc = chunk_new(sz);
		/* new chunk becomes the head; the old ones stay for arena_reset */
		nc->next = c;
		a->head = nc;
		c = nc;
	}
	void *p = c->data + c->used;
	c->used += n;
	a->total += n;
	return p;
}

void *arena_zalloc(struct arena *a, size_t n)
{
	void *p = arena_alloc(a, n);
	memset(p, 0, n);
	return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

size_t arena_used(const struct arena *a)
{
	return a->total;
}
