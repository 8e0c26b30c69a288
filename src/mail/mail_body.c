/*
 * mail_body.c - streaming line checks (see mail_body.h).
 */
#include "mail/mail_body.h"

#include <string.h>

#include "base/str.h"

void mail_body_check_init(struct mail_body_check *c, size_t max_line)
{
	memset(c, 0, sizeof *c);
	c->max_line = max_line;
	c->in_header = true;
	c->bol = true;
}

static void end_line(struct mail_body_check *c, size_t len_with_eol)
{
	if (len_with_eol > c->longest)
		c->longest = len_with_eol;
	if (c->max_line && len_with_eol > c->max_line)
		c->flags |= MAIL_BODY_F_LONG_LINE;
	if (c->in_header) {
		/* an empty line ends the header section */
		if (len_with_eol <= 2 && c->name_len == 0)
			c->in_header = false;
		else if (c->name_len == 9 && str_ncaseeq(c->name, 9, "received:"))
			c->received++;
	}
	c->line_len = 0;
	c->name_len = 0;
	c->name_done = false;
	c->bol = true;
}

/* One octet of the header section: counted, and the field name of each
 * line kept up to its ':' (for the Received: count in end_line). */
static void feed_header_octet(struct mail_body_check *c, unsigned char ch)
{
	c->header_octets++;
	if (c->prev_cr && ch != '\n')
		c->flags |= MAIL_BODY_F_BARE_CR;
	if (ch == '\n') {
		if (!c->prev_cr)
			c->flags |= MAIL_BODY_F_BARE_LF;
		c->prev_cr = false;
		end_line(c, c->line_len + 1);
		return;
	}
	c->prev_cr = ch == '\r';
	if (ch >= 0x80)
		c->flags |= MAIL_BODY_F_8BIT;
	else if (ch == 0)
		c->flags |= MAIL_BODY_F_NUL;
	if (!c->prev_cr && !c->name_done) {
		/* remember the field name of a header line, up to its ':' */
		if (c->name_len < sizeof c->name)
			c->name[c->name_len++] = (char)ch;
		if (ch == ':' || c->name_len == sizeof c->name || ch == ' ' || ch == '\t')
			c->name_done = true;
	}
	c->bol = false;
	c->line_len++;
	if (c->max_line && c->line_len > c->max_line)
		c->flags |= MAIL_BODY_F_LONG_LINE;
}

/* 8-bit octets and NULs in p[0..n), eight octets at a time. */
static unsigned scan_octets(const unsigned char *p, size_t n)
{
	const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
	uint64_t hi = 0, zero = 0;
	size_t k = 0;
	for (; k + 8 <= n; k += 8) {
		uint64_t w;
		memcpy(&w, p + k, 8);
		hi |= w;
		zero |= (w - ones) & ~w & highs; /* nonzero iff some octet is 0 */
	}
	unsigned f = 0;
	for (; k < n; k++) {
		hi |= p[k];
		if (!p[k])
			f |= MAIL_BODY_F_NUL;
	}
	if (hi & highs)
		f |= MAIL_BODY_F_8BIT;
	if (zero)
		f |= MAIL_BODY_F_NUL;
	return f;
}

/* The body, a line (or the rest of the chunk) at a time: the same flags as
 * feed_header_octet's per octet, found with memchr and word-wide tests.
 * Returns the octets consumed. */
static size_t feed_body_line(struct mail_body_check *c, const unsigned char *p, size_t n)
{
	const unsigned char *nl = memchr(p, '\n', n);
	size_t len = nl ? (size_t)(nl - p) : n;
	if (len) {
		if (c->prev_cr) /* a CR at the end of the last chunk, not followed by LF */
			c->flags |= MAIL_BODY_F_BARE_CR;
		const unsigned char *cr = memchr(p, '\r', len);
		if (cr && cr != p + len - 1)
			c->flags |= MAIL_BODY_F_BARE_CR;
		c->flags |= scan_octets(p, len);
		c->prev_cr = p[len - 1] == '\r';
		c->bol = false;
		c->line_len += len;
		if (c->max_line && c->line_len > c->max_line)
			c->flags |= MAIL_BODY_F_LONG_LINE;
	}
	if (!nl)
		return n;
	if (!c->prev_cr)
		c->flags |= MAIL_BODY_F_BARE_LF;
	c->prev_cr = false;
	end_line(c, c->line_len + 1);
	return len + 1;
}

void mail_body_check_feed(struct mail_body_check *c, const char *p, size_t n)
{
	const unsigned char *u = (const unsigned char *)p;
	c->octets += n;
	size_t i = 0;
	while (i < n) {
		if (c->in_header)
			feed_header_octet(c, u[i++]);
		else
			i += feed_body_line(c, u + i, n - i);
	}
}
