/*
 * xalloc.h - allocation that cannot fail.
 *
 * The x-functions abort the process on allocation failure (a broken
 * environment, not a peer's doing: see STYLE "Errors"). Callers never check
 * for NULL. xfree() of NULL is allowed.
 */
#ifndef BASE_XALLOC_H
#define BASE_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
/* Grow an array: returns p resized to hold at least need elements of size
 * elem; *cap is updated (doubling). */
void *xgrow(void *p, size_t *cap, size_t need, size_t elem);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define xfree(p) free(p)
/* Called with the size before an allocation failure aborts the process
 * (once per process, before threads start; NULL: none). */
void xalloc_set_oom_hook(void (*fn)(size_t n));

#include <stdlib.h>

#endif
