/*
 * mail_xtext.c - xtext codec (RFC 3461 4).
 */
#include "mail/mail_xtext.h"

#include "base/buf.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool mail_xtext_valid(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '+') {
			if (i + 2 >= len || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
				return false;
			i += 2;
			continue;
		}
		if (c < 33 || c > 126 || c == '=')
			return false;
	}
	return true;
}

int mail_xtext_decode(const char *s, size_t len, struct buf *out)
{
	if (!mail_xtext_valid(s, len))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '+') {
			buf_putc(out, (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2])));
			i += 2;
		} else {
			buf_putc(out, s[i]);
		}
	}
	buf_reserve(out, 0);
	return 0;
}

void mail_xtext_encode(const char *s, size_t len, struct buf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 33 || c > 126 || c == '+' || c == '=') {
			char t[3] = { '+', hex[c >> 4], hex[c & 15] };
			buf_append(out, t, 3);
		} else {
			buf_putc(out, (char)c);
		}
	}
	buf_reserve(out, 0);
}
