/*
 * mail_addr.c - envelope address parser (RFC 5321 4.1.2, RFC 6531 3.3).
 *
 * Grammar implemented (ABNF from RFC 5321):
 *   Path       = "<" [ A-d-l ":" ] Mailbox ">"
 *   A-d-l      = At-domain *( "," At-domain ) ; At-domain = "@" Domain
 *   Mailbox    = Local-part "@" ( Domain / address-literal )
 *   Local-part = Dot-string / Quoted-string
 * with RFC 6531's UTF8-non-ascii allowed in atext, qtext and sub-domains
 * when SMTPUTF8 is in effect.
 */
#include "mail/mail_addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "base/str.h"

static bool is_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

size_t mail_utf8_seq(const char *s, size_t len)
{
	return str_utf8_seq(s, len);
}

bool mail_utf8_valid(const char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t k = mail_utf8_seq(s + i, len - i);
		if (!k)
			return false;
		i += k;
	}
	return true;
}

static bool valid_literal(const char *d, size_t len)
{
	char tmp[MAIL_DOMAIN_MAX + 1];
	if (len < 3 || d[0] != '[' || d[len - 1] != ']' || len > sizeof tmp)
		return false;
	/* inet_pton stops at a NUL: "[192.0.2.1\0junk]" must not pass */
	if (memchr(d, '\0', len))
		return false;
	str_ncopy(tmp, sizeof tmp, d + 1, len - 2);
	unsigned char bin[16];
	if (str_caseprefix(tmp, "IPv6:"))
		return inet_pton(AF_INET6, tmp + 5, bin) == 1;
	/* inet_pton accepts only dotted quads, no shorthand: what RFC 5321 wants */
	return inet_pton(AF_INET, tmp, bin) == 1;
}

bool mail_domain_valid(const char *d, size_t len, bool utf8)
{
	if (len == 0 || len > MAIL_DOMAIN_MAX)
		return false;
	if (d[0] == '[')
		return valid_literal(d, len);
	if (utf8 && !mail_utf8_valid(d, len))
		return false;
	size_t lab = 0;
	for (size_t i = 0; i <= len; i++) {
		unsigned char c = i < len ? (unsigned char)d[i] : '.';
		if (c == '.') {
			/* label: 1..63 octets, no leading/trailing hyphen */
			if (lab == 0 || lab > 63 || d[i - lab] == '-' || d[i - 1] == '-')
				return false;
			lab = 0;
			continue;
		}
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
			  (utf8 && c >= 0x80);
		if (!ok)
			return false;
		lab++;
	}
	return true;
}

/* Local part at s[0..len): dot-string or quoted-string. */
static enum mail_addr_err check_local(const char *s, size_t len, bool utf8ok, bool *utf8_out)
{
	if (len == 0)
		return MAIL_ADDR_SYNTAX;
	if (len > MAIL_LOCAL_MAX)
		return MAIL_ADDR_TOO_LONG;
	bool eight = false;
	if (s[0] == '"') {
		if (len < 2 || s[len - 1] != '"')
			return MAIL_ADDR_SYNTAX;
		for (size_t i = 1; i < len - 1; i++) {
			unsigned char c = (unsigned char)s[i];
			if (c == '\\') {
				if (++i >= len - 1)
					return MAIL_ADDR_SYNTAX;
				c = (unsigned char)s[i];
				if (c < 32 || c > 126)
					return MAIL_ADDR_SYNTAX;
				continue;
			}
			if (c >= 0x80) {
				eight = true;
				continue;
			}
			if (c < 32 || c == 127 || c == '"')
				return MAIL_ADDR_SYNTAX;
		}
	} else {
		bool prev_dot = true; /* no leading dot */
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)s[i];
			if (c == '.') {
				if (prev_dot)
					return MAIL_ADDR_SYNTAX;
				prev_dot = true;
				continue;
			}
			prev_dot = false;
			if (c >= 0x80) {
				eight = true;
				continue;
			}
			if (!is_atext(c))
				return MAIL_ADDR_SYNTAX;
		}
		if (prev_dot)
			return MAIL_ADDR_SYNTAX;
	}
	if (eight) {
		if (!utf8ok)
			return MAIL_ADDR_NEED_UTF8;
		if (!mail_utf8_valid(s, len))
			return MAIL_ADDR_SYNTAX;
	}
	*utf8_out = eight;
	return MAIL_ADDR_OK;
}

/* Find the '@' that separates local part and domain: the last '@' outside
 * a quoted string. */
static const char *find_at(const char *s, size_t len)
{
	bool q = false;
	const char *at = NULL;
	for (size_t i = 0; i < len; i++) {
		if (q && s[i] == '\\') {
			i++;
			continue;
		}
		if (s[i] == '"')
			q = !q;
		else if (!q && s[i] == '@')
			at = s + i;
	}
	return q ? NULL : at;
}

/* Mailbox (no brackets, no route) at s[0..len). */
static enum mail_addr_err parse_mailbox(const char *s, size_t len, unsigned flags, struct mail_addr *out)
{
	bool utf8ok = flags & MAIL_ADDR_F_UTF8;
	const char *at = find_at(s, len);
	if (!at) {
		/* RFC 5321 4.5.1: "postmaster" without domain must be accepted */
		if ((flags & MAIL_ADDR_F_POSTMASTER) && str_ncaseeq(s, len, "postmaster")) {
			str_ncopy(out->local, sizeof out->local, s, len);
			out->domain[0] = '\0';
			return MAIL_ADDR_OK;
		}
		/* a quoted string that never closed is a syntax error too */
		return (len && s[0] == '"') ? MAIL_ADDR_SYNTAX : MAIL_ADDR_NO_DOMAIN;
	}
	size_t ll = (size_t)(at - s), dl = len - ll - 1;
	bool u = false;
	enum mail_addr_err e = check_local(s, ll, utf8ok, &u);
	if (e)
		return e;
	const char *d = at + 1;
	if (dl > MAIL_DOMAIN_MAX)
		return MAIL_ADDR_TOO_LONG;
	bool d8 = false;
	for (size_t i = 0; i < dl; i++)
		d8 |= (unsigned char)d[i] >= 0x80;
	if (d8 && !utf8ok)
		return MAIL_ADDR_NEED_UTF8;
	if (!mail_domain_valid(d, dl, utf8ok))
		return MAIL_ADDR_SYNTAX;
	str_ncopy(out->local, sizeof out->local, s, ll);
	str_ncopy(out->domain, sizeof out->domain, d, dl);
	out->utf8 = u || d8;
	out->literal = d[0] == '[';
	return MAIL_ADDR_OK;
}

/* Skip an A-d-l ("@a,@b:") at the start of s; returns bytes to skip, 0 if
 * none, or -1 on a malformed route. */
static long skip_route(const char *s, size_t len, bool utf8ok)
{
	if (len == 0 || s[0] != '@')
		return 0;
	size_t i = 0;
	for (;;) {
		if (i >= len || s[i] != '@')
			return -1;
		size_t st = ++i;
		while (i < len && s[i] != ',' && s[i] != ':')
			i++;
		if (i >= len || !mail_domain_valid(s + st, i - st, utf8ok))
			return -1;
		if (s[i] == ':')
			return (long)(i + 1);
		i++; /* ',' */
	}
}

enum mail_addr_err mail_addr_parse(const char *s, size_t len, unsigned flags, struct mail_addr *out,
				   size_t *consumed)
{
	memset(out, 0, sizeof *out);
	size_t i = 0;
	if (!(flags & MAIL_ADDR_F_STRICT)) {
		while (i < len && s[i] == ' ')
			i++;
	}
	const char *p = s + i;
	size_t rest = len - i, inner_len, used;
	const char *inner;
	if (rest && p[0] == '<') {
		/* find the closing '>' outside quotes */
		bool q = false;
		size_t k;
		for (k = 1; k < rest; k++) {
			if (q && p[k] == '\\') {
				k++;
				continue;
			}
			if (p[k] == '"')
				q = !q;
			else if (!q && p[k] == '>')
				break;
		}
		if (k >= rest)
			return MAIL_ADDR_SYNTAX;
		inner = p + 1;
		inner_len = k - 1;
		used = i + k + 1;
		if (k + 1 > MAIL_PATH_MAX)
			return MAIL_ADDR_TOO_LONG;
	} else {
		if (flags & MAIL_ADDR_F_STRICT)
			return MAIL_ADDR_SYNTAX;
		/* bare address: up to the first space outside quotes */
		bool q = false;
		size_t k;
		for (k = 0; k < rest; k++) {
			if (q && p[k] == '\\') {
				k++;
				continue;
			}
			if (p[k] == '"')
				q = !q;
			else if (!q && p[k] == ' ')
				break;
		}
		inner = p;
		inner_len = k > rest ? rest : k;
		used = i + inner_len;
		if (inner_len == 0)
			return MAIL_ADDR_SYNTAX;
		if (inner_len + 2 > MAIL_PATH_MAX)
			return MAIL_ADDR_TOO_LONG;
	}
	*consumed = used;
	if (inner_len == 0) {
		if (!(flags & MAIL_ADDR_F_NULL_OK))
			return MAIL_ADDR_NULL_NOT_OK;
		out->null = true;
		return MAIL_ADDR_OK;
	}
	long r = skip_route(inner, inner_len, flags & MAIL_ADDR_F_UTF8);
	if (r < 0)
		return MAIL_ADDR_SYNTAX;
	if (r > 0)
		out->route = true;
	return parse_mailbox(inner + r, inner_len - (size_t)r, flags, out);
}

enum mail_addr_err mail_addr_parse_str(const char *s, unsigned flags, struct mail_addr *out)
{
	size_t len = strlen(s), used = 0;
	enum mail_addr_err e = mail_addr_parse(s, len, flags & ~(unsigned)MAIL_ADDR_F_STRICT, out, &used);
	if (e)
		return e;
	while (used < len && s[used] == ' ')
		used++;
	return used == len ? MAIL_ADDR_OK : MAIL_ADDR_SYNTAX;
}

void mail_addr_format(const struct mail_addr *a, char *out, size_t size)
{
	if (a->null)
		snprintf(out, size, "%s", "");
	else if (!a->domain[0])
		snprintf(out, size, "%s", a->local);
	else
		snprintf(out, size, "%s@%s", a->local, a->domain);
}

const char *mail_addr_strerror(enum mail_addr_err e)
{
	switch (e) {
	case MAIL_ADDR_OK:
		return "ok";
	case MAIL_ADDR_SYNTAX:
		return "Bad address syntax";
	case MAIL_ADDR_TOO_LONG:
		return "Address too long";
	case MAIL_ADDR_NEED_UTF8:
		return "Non-ASCII address requires SMTPUTF8";
	case MAIL_ADDR_NO_DOMAIN:
		return "Address must include a domain";
	case MAIL_ADDR_NULL_NOT_OK:
		return "Null address not allowed here";
	}
	return "Bad address";
}
