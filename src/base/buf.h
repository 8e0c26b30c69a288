/*
 * buf.h - one growable byte buffer with explicit length.
 *
 * data is always NUL-terminated (one spare byte past len) so text can be
 * used as a C string, but binary content with NULs is fine: len is the truth.
 * Allocation failure aborts (xalloc).
 */
#ifndef BASE_BUF_H
#define BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data; /* owned */
	size_t len;
	size_t cap;
};

void buf_init(struct buf *b);
void buf_fini(struct buf *b);
void buf_reset(struct buf *b);
void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Remove the first n bytes. */
void buf_consume(struct buf *b, size_t n);
/* Detach the data (caller owns it, NUL-terminated); b becomes empty. */
char *buf_steal(struct buf *b, size_t *len_out);

#endif
