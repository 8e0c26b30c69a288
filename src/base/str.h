/*
 * str.h - small string helpers, ASCII and locale-independent.
 *
 * Everything here works on bytes; case folding is ASCII only (SMTP keywords,
 * domain names), never locale-dependent.
 */
#ifndef BASE_STR_H
#define BASE_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Copy src into dst[size]. Returns 0, or -1 when src did not fit (dst then
 * holds a truncated, NUL-terminated prefix). */
int str_copy(char *dst, size_t size, const char *src);
/* Same for n bytes of src (which need not be NUL-terminated). */
int str_ncopy(char *dst, size_t size, const char *src, size_t n);

static inline char str_lc(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}
int str_casecmp(const char *a, const char *b);
bool str_caseeq(const char *a, const char *b);
/* a[0..alen) equals the NUL-terminated b, ignoring ASCII case. */
bool str_ncaseeq(const char *a, size_t alen, const char *b);
bool str_caseprefix(const char *s, const char *prefix);
void str_lower(char *s);
/* Value of a hex digit (either case), or -1. */
int str_hexval(char c);
/* Replace control characters (below 0x20, and DEL) with '?', in place: a
 * peer's text made safe for a log line or a reply. */
void str_sanitize(char *s);
/* s[0..n) holds a control character (below 0x20, or DEL). */
bool str_has_ctl(const char *s, size_t n);
/* Trim ASCII space and tab at both ends, in place; returns s. */
char *str_trim(char *s);
/* Parse a whole decimal string into *out (no sign, no space, no overflow). */
int str_to_u64(const char *s, uint64_t *out);
/* Split s in place at any character of seps; empty fields skipped. Returns
 * the number of fields stored (at most max). */
size_t str_split(char *s, const char *seps, char **fields, size_t max);
/* Split a NUL-terminated text into lines in place: returns the next line
 * (its LF, and a CR before it, removed) and advances *pos; NULL at the end. */
char *str_next_line(char **pos);
/* Length of the well-formed UTF-8 sequence at s[0..len) (1 for ASCII), or 0
 * when the octets there are not one (overlong, surrogate, past U+10FFFF,
 * truncated). */
size_t str_utf8_seq(const char *s, size_t len);

#endif
