/*
 * route_mailer.c - mailer values: the right-hand side of a mailertable line.
 *
 *   smtp:HOSTS  esmtp:HOSTS  relay:HOSTS    SMTP to HOSTS (the three are one mailer here)
 *   lmtp:[host]:port  lmtp:host:port  lmtp:unix:/path       LMTP (RFC 2033)
 *   maildir:/path          store into a Maildir (%u, %d expand per recipient)
 *   local:  local:user     deliver through the aliases
 *   error:D.S.N:code text  error:code text                   refuse at RCPT
 *
 * HOSTS is one host or a list: "h1:h2" tries them in order, "h1,h2" as
 * equal-preference hosts. A host is "name" (MX lookup), "[name]" or
 * "[192.0.2.1]" / "[IPv6:2001:db8::1]" (no MX lookup), optionally followed
 * by ":port" (our extension; an all-digit list element is the port of the
 * host before it).
 */
#include <stdio.h>
#include <string.h>

#include "base/str.h"
#include "route/route.h"

static bool host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
	       c == '_';
}

static bool all_digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
	}
	return true;
}

/* One host at *pp (advanced past it and its port). */
static int parse_hop(const char **pp, struct route_hop *h, char *err, size_t errlen)
{
	const char *p = *pp, *host;
	size_t hl;
	memset(h, 0, sizeof *h);
	if (*p == '[') {
		const char *e = strchr(p, ']');
		if (!e) {
			snprintf(err, errlen, "missing ']' in \"%s\"", p);
			return -1;
		}
		host = p + 1;
		hl = (size_t)(e - host);
		if (hl > 5 && str_caseprefix(host, "ipv6:")) {
			host += 5;
			hl -= 5;
		}
		for (size_t i = 0; i < hl; i++) {
			if (!host_char(host[i]) && host[i] != ':') {
				snprintf(err, errlen, "bad character in host \"%.*s\"", (int)hl, host);
				return -1;
			}
		}
		p = e + 1;
	} else {
		host = p;
		while (host_char(*p))
			p++;
		hl = (size_t)(p - host);
		h->mx = true;
	}
	if (hl == 0 || hl >= sizeof h->host) {
		snprintf(err, errlen, "empty or overlong host at \"%s\"", *pp);
		return -1;
	}
	memcpy(h->host, host, hl);
	h->host[hl] = '\0';
	if (*p == ':') {
		size_t n = strcspn(p + 1, ":,");
		if (all_digits(p + 1, n)) {
			uint64_t v = 0;
			for (size_t i = 0; i < n && v <= 65535; i++)
				v = v * 10 + (uint64_t)(p[1 + i] - '0');
			if (v == 0 || v > 65535) {
				snprintf(err, errlen, "bad port \"%.*s\"", (int)n, p + 1);
				return -1;
			}
			h->port = (int)v;
			p += 1 + n;
		}
	}
	*pp = p;
	return 0;
}

static int parse_hops(const char *p, bool lmtp, struct route_mailer *m, char *err, size_t errlen)
{
	char sep = 0;
	for (;;) {
		if (m->nhops == ROUTE_HOPS_MAX) {
			snprintf(err, errlen, "more than %d hosts", ROUTE_HOPS_MAX);
			return -1;
		}
		struct route_hop *h = &m->hop[m->nhops];
		if (parse_hop(&p, h, err, errlen) < 0)
			return -1;
		if (lmtp)
			h->mx = false; /* LMTP has no MX records (RFC 2033 4) */
		m->nhops++;
		if (*p == '\0')
			break;
		if ((*p != ':' && *p != ',') || (sep && *p != sep)) {
			snprintf(err, errlen, "unexpected \"%s\" (lists use ':' for order or ',' for equal preference, not both)",
				 p);
			return -1;
		}
		sep = *p++;
	}
	m->equal = sep == ',';
	return 0;
}

static int parse_error(const char *p, struct route_mailer *m, char *err, size_t errlen)
{
	char enh[16] = "";
	const char *c = strchr(p, ':');
	if (c && mail_reply_enh_valid(p, (size_t)(c - p)) && (size_t)(c - p) < sizeof enh) {
		memcpy(enh, p, (size_t)(c - p));
		enh[c - p] = '\0';
		p = c + 1;
	}
	if (!all_digits(p, 3) || (p[0] != '4' && p[0] != '5') || (p[3] != ' ' && p[3] != '\0')) {
		snprintf(err, errlen, "error: needs a 4xx or 5xx reply code, got \"%s\"", p);
		return -1;
	}
	int code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
	const char *text = p[3] ? p + 4 : "";
	/* "error:550 5.7.1 text": the code may carry its own enhanced code */
	size_t el = strcspn(text, " ");
	if (!enh[0] && el < sizeof enh && mail_reply_enh_valid(text, el)) {
		memcpy(enh, text, el);
		enh[el] = '\0';
		text += el + (text[el] == ' ');
	}
	if (enh[0] && enh[0] != p[0]) {
		snprintf(err, errlen, "error: status %s does not match reply code %d", enh, code);
		return -1;
	}
	mail_reply_set(&m->reply, code, enh[0] ? enh : mail_reply_default_enh(code), "%s",
		       text[0] ? text : "Mail refused by the mailertable");
	return 0;
}

int route_mailer_parse(const char *v, struct route_mailer *m, char *err, size_t errlen)
{
	memset(m, 0, sizeof *m);
	const char *c = strchr(v, ':');
	if (!c) {
		snprintf(err, errlen, "\"%s\": expected mailer:value", v);
		return -1;
	}
	size_t ml = (size_t)(c - v);
	const char *rest = c + 1;
	if (strlen(v) >= ROUTE_VALUE_MAX) {
		snprintf(err, errlen, "value longer than %d octets", ROUTE_VALUE_MAX - 1);
		return -1;
	}
	if (str_ncaseeq(v, ml, "smtp") || str_ncaseeq(v, ml, "esmtp") || str_ncaseeq(v, ml, "relay")) {
		m->kind = ROUTE_SMTP;
		if (!*rest) {
			snprintf(err, errlen, "\"%s\": no host", v);
			return -1;
		}
		return parse_hops(rest, false, m, err, errlen);
	}
	if (str_ncaseeq(v, ml, "lmtp")) {
		m->kind = ROUTE_LMTP;
		if (str_caseprefix(rest, "unix:")) {
			if (rest[5] != '/' || str_copy(m->path, sizeof m->path, rest + 5) < 0) {
				snprintf(err, errlen, "\"%s\": lmtp:unix: needs an absolute socket path", v);
				return -1;
			}
			return 0;
		}
		if (!*rest) {
			snprintf(err, errlen, "\"%s\": no host", v);
			return -1;
		}
		return parse_hops(rest, true, m, err, errlen);
	}
	if (str_ncaseeq(v, ml, "maildir")) {
		m->kind = ROUTE_MAILDIR;
		if (rest[0] != '/' || str_copy(m->path, sizeof m->path, rest) < 0) {
			snprintf(err, errlen, "\"%s\": maildir: needs an absolute path", v);
			return -1;
		}
		return 0;
	}
	if (str_ncaseeq(v, ml, "local")) {
		m->kind = ROUTE_LOCAL;
		if (str_copy(m->user, sizeof m->user, rest) < 0 || strpbrk(rest, "@ \t")) {
			snprintf(err, errlen, "\"%s\": local: takes a user name", v);
			return -1;
		}
		return 0;
	}
	if (str_ncaseeq(v, ml, "error")) {
		m->kind = ROUTE_ERROR;
		return parse_error(rest, m, err, errlen);
	}
	snprintf(err, errlen, "unknown mailer \"%.*s\" (smtp, esmtp, relay, lmtp, maildir, local, error)", (int)ml, v);
	return -1;
}
