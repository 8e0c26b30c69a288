/*
 * mail_reply.c - formatting and parsing SMTP replies (RFC 5321 4.2, RFC 3463).
 */
#include "mail/mail_reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/str.h"

void mail_reply_set(struct mail_reply *r, int code, const char *enh, const char *fmt, ...)
{
	r->code = code;
	str_copy(r->enh, sizeof r->enh, enh ? enh : "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->text, sizeof r->text, fmt, ap);
	va_end(ap);
}

enum mail_status mail_reply_status(const struct mail_reply *r)
{
	if (r->code >= 200 && r->code < 400)
		return MAIL_OK;
	if (r->code >= 400 && r->code < 500)
		return MAIL_TEMPFAIL;
	return MAIL_PERMFAIL;
}

void mail_reply_format(const struct mail_reply *r, bool enhanced, struct buf *out)
{
	const char *t = r->text;
	bool enh = enhanced && r->enh[0];
	for (;;) {
		const char *nl = strchr(t, '\n');
		size_t n = nl ? (size_t)(nl - t) : strlen(t);
		buf_printf(out, "%03d%c", r->code, nl ? '-' : ' ');
		if (enh)
			buf_printf(out, "%s ", r->enh);
		/* strip CR and other controls so a reply can never be split */
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)t[i];
			buf_putc(out, (c < 0x20 || c == 0x7f) ? '?' : (char)c);
		}
		buf_append(out, "\r\n", 2);
		if (!nl)
			break;
		t = nl + 1;
	}
}

void mail_reply_str(const struct mail_reply *r, char *out, size_t size)
{
	snprintf(out, size, "%03d%s%s %s", r->code, r->enh[0] ? " " : "", r->enh, r->text);
	for (char *p = out; *p; p++) {
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	}
}

const char *mail_reply_default_enh(int code)
{
	if (code >= 200 && code < 400)
		return "2.0.0";
	if (code >= 400 && code < 500)
		return "4.0.0";
	return "5.0.0";
}

static bool digits(const char *s, size_t len, size_t min, size_t max)
{
	if (len < min || len > max)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
	}
	return true;
}

bool mail_reply_enh_valid(const char *s, size_t len)
{
	/* class "." subject "." detail; class 2/4/5; 1-3 digits each */
	if (len < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return false;
	const char *p = s + 2, *end = s + len;
	const char *dot = memchr(p, '.', (size_t)(end - p));
	if (!dot || !digits(p, (size_t)(dot - p), 1, 3))
		return false;
	return digits(dot + 1, (size_t)(end - dot - 1), 1, 3);
}

void mail_reply_parser_init(struct mail_reply_parser *p)
{
	memset(p, 0, sizeof *p);
}

int mail_reply_parser_line(struct mail_reply_parser *p, const char *line, size_t len, struct mail_reply *out)
{
	if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' || line[2] < '0' ||
	    line[2] > '9')
		return -1;
	int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (len > 3 && line[3] != ' ' && line[3] != '-')
		return -1;
	bool last = len == 3 || line[3] == ' ';
	if (p->lines >= MAIL_REPLY_MAX_LINES)
		return -1;
	if (p->lines == 0)
		p->code = code;
	else if (code != p->code)
		return -1;
	const char *t = len > 4 ? line + 4 : "";
	size_t tl = len > 4 ? len - 4 : 0;
	/* enhanced code on each line: keep the first, strip from the text */
	const char *sp = memchr(t, ' ', tl);
	size_t el = sp ? (size_t)(sp - t) : tl;
	if (el && mail_reply_enh_valid(t, el) && t[0] == line[0]) {
		if (!p->got_enh) {
			str_ncopy(p->cur.enh, sizeof p->cur.enh, t, el);
			p->got_enh = true;
		}
		t += el;
		tl -= el;
		if (tl && *t == ' ') {
			t++;
			tl--;
		}
	}
	if (p->lines > 0 && p->tlen + 1 < sizeof p->cur.text)
		p->cur.text[p->tlen++] = '\n';
	size_t room = sizeof p->cur.text - 1 - p->tlen;
	if (tl > room)
		tl = room;
	memcpy(p->cur.text + p->tlen, t, tl);
	p->tlen += tl;
	p->cur.text[p->tlen] = '\0';
	p->lines++;
	if (!last)
		return 0;
	p->cur.code = p->code;
	*out = p->cur;
	mail_reply_parser_init(p);
	return 1;
}
