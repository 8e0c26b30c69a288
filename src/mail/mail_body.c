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

void mail_body_check_feed(struct mail_body_check *c, const char *p, size_t n)
{
	c->octets += n;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];
		if (c->in_header)
			c->header_octets++;
		if (c->prev_cr && ch != '\n')
			c->flags |= MAIL_BODY_F_BARE_CR;
		if (ch == '\n') {
			if (!c->prev_cr)
				c->flags |= MAIL_BODY_F_BARE_LF;
			c->prev_cr = false;
			end_line(c, c->line_len + 1);
			continue;
		}
		c->prev_cr = ch == '\r';
		if (ch >= 0x80)
			c->flags |= MAIL_BODY_F_8BIT;
		else if (ch == 0)
			c->flags |= MAIL_BODY_F_NUL;
		if (c->in_header && !c->prev_cr && !c->name_done) {
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
}
