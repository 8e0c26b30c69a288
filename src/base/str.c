/*
 * str.c - small string helpers.
 */
#include "base/str.h"

#include <string.h>

int str_copy(char *dst, size_t size, const char *src)
{
	return str_ncopy(dst, size, src, strlen(src));
}

int str_ncopy(char *dst, size_t size, const char *src, size_t n)
{
	if (size == 0)
		return -1;
	int rc = 0;
	if (n >= size) {
		n = size - 1;
		rc = -1;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
	return rc;
}

int str_casecmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		unsigned char x = (unsigned char)str_lc(*a), y = (unsigned char)str_lc(*b);
		if (x != y)
			return x - y;
		if (!x)
			return 0;
	}
}

bool str_caseeq(const char *a, const char *b)
{
	return str_casecmp(a, b) == 0;
}

bool str_ncaseeq(const char *a, size_t alen, const char *b)
{
	size_t i;
	for (i = 0; i < alen; i++) {
		if (!b[i] || str_lc(a[i]) != str_lc(b[i]))
			return false;
	}
	return b[i] == '\0';
}

bool str_caseprefix(const char *s, const char *prefix)
{
	for (; *prefix; s++, prefix++) {
		if (str_lc(*s) != str_lc(*prefix))
			return false;
	}
	return true;
}

void str_lower(char *s)
{
	for (; *s; s++)
		*s = str_lc(*s);
}

char *str_trim(char *s)
{
	char *p = s;
	while (*p == ' ' || *p == '\t')
		p++;
	size_t n = strlen(p);
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	memmove(s, p, n);
	s[n] = '\0';
	return s;
}

int str_to_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

size_t str_split(char *s, const char *seps, char **fields, size_t max)
{
	size_t n = 0;
	char *p = s;
	while (*p && n < max) {
		p += strspn(p, seps);
		if (!*p)
			break;
		size_t len = strcspn(p, seps);
		fields[n++] = p;
		if (!p[len])
			break;
		p[len] = '\0';
		p += len + 1;
	}
	return n;
}

char *str_next_line(char **pos)
{
	char *s = *pos;
	if (!s || !*s)
		return NULL;
	char *nl = strchr(s, '\n');
	if (nl) {
		*nl = '\0';
		*pos = nl + 1;
	} else {
		*pos = NULL;
	}
	size_t n = strlen(s);
	if (n && s[n - 1] == '\r')
		s[n - 1] = '\0';
	return s;
}

int str_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = str_lc(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

void str_sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

bool str_has_ctl(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return true;
	return false;
}

size_t str_utf8_seq(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	if (len == 0)
		return 0;
	unsigned char c = *p;
	if (c < 0x80)
		return 1;
	size_t n;
	unsigned cp;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 1;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 2;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 3;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (len <= n)
		return 0;
	for (size_t i = 1; i <= n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n + 1;
}
