/*
 * mail_cmd.c - SMTP command line and ESMTP parameter parsing.
 */
#include "mail/mail_cmd.h"

#include <string.h>

#include "base/str.h"
#include "mail/mail_xtext.h"

static const struct {
	const char *name;
	enum mail_verb verb;
} verbs[] = {
	{ "HELO", MAIL_V_HELO }, { "EHLO", MAIL_V_EHLO },	  { "MAIL", MAIL_V_MAIL },
	{ "RCPT", MAIL_V_RCPT }, { "DATA", MAIL_V_DATA },	  { "BDAT", MAIL_V_BDAT },
	{ "RSET", MAIL_V_RSET }, { "NOOP", MAIL_V_NOOP },	  { "QUIT", MAIL_V_QUIT },
	{ "VRFY", MAIL_V_VRFY }, { "EXPN", MAIL_V_EXPN },	  { "HELP", MAIL_V_HELP },
	{ "STARTTLS", MAIL_V_STARTTLS }, { "AUTH", MAIL_V_AUTH }, { "ETRN", MAIL_V_ETRN },
	{ "TURN", MAIL_V_TURN },
	/* Postfix's smtpd_forbidden_commands: a web browser or proxy talking to
	 * port 25 (cross-protocol attacks); these end the session */
	{ "GET", MAIL_V_HTTP },	 { "POST", MAIL_V_HTTP },	  { "CONNECT", MAIL_V_HTTP },
	{ "PUT", MAIL_V_HTTP },	 { "HEAD", MAIL_V_HTTP },	  { "USER", MAIL_V_HTTP },
};

const char *mail_verb_name(enum mail_verb v)
{
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
		if (verbs[i].verb == v)
			return verbs[i].name;
	}
	return "UNKNOWN";
}

void mail_cmd_parse(const char *line, size_t len, struct mail_cmd *out)
{
	out->verb = MAIL_V_UNKNOWN;
	out->arg = line + len;
	out->arg_len = 0;
	size_t vl = 0;
	while (vl < len && line[vl] != ' ')
		vl++;
	enum mail_verb v = MAIL_V_UNKNOWN;
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
		if (str_ncaseeq(line, vl, verbs[i].name)) {
			v = verbs[i].verb;
			break;
		}
	}
	size_t a = vl < len ? vl + 1 : len;
	if (v == MAIL_V_MAIL || v == MAIL_V_RCPT) {
		const char *kw = v == MAIL_V_MAIL ? "FROM:" : "TO:";
		size_t kl = strlen(kw);
		if (len - a < kl || !str_caseprefix(line + a, kw))
			return; /* MAIL_V_UNKNOWN: caller replies 501 syntax */
		a += kl;
	}
	out->verb = v;
	out->arg = line + a;
	out->arg_len = len - a;
}

static bool is_keychar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

int mail_params_parse(const char *s, size_t len, struct mail_param *out, int max)
{
	int n = 0;
	size_t i = 0;
	for (;;) {
		while (i < len && s[i] == ' ')
			i++;
		if (i >= len)
			return n;
		if (n >= max)
			return -2;
		size_t ks = i;
		while (i < len && is_keychar(s[i]))
			i++;
		if (i == ks || !((s[ks] >= 'a' && s[ks] <= 'z') || (s[ks] >= 'A' && s[ks] <= 'Z') ||
				 (s[ks] >= '0' && s[ks] <= '9')))
			return -1;
		out[n].key = s + ks;
		out[n].klen = i - ks;
		out[n].val = NULL;
		out[n].vlen = 0;
		if (i < len && s[i] == '=') {
			size_t vs = ++i;
			/* esmtp-value: %d33-60 / %d62-126, plus UTF-8 (RFC 6531) */
			while (i < len && s[i] != ' ') {
				unsigned char c = (unsigned char)s[i];
				if (c < 33 || c == '=' || c == 127)
					return -1;
				i++;
			}
			if (i == vs)
				return -1;
			out[n].val = s + vs;
			out[n].vlen = i - vs;
		} else if (i < len && s[i] != ' ') {
			return -1;
		}
		n++;
	}
}

static bool val_eq(const struct mail_param *p, const char *v)
{
	return p->val && str_ncaseeq(p->val, p->vlen, v);
}

static bool parse_u64(const char *s, size_t len, uint64_t *out)
{
	char tmp[24];
	if (len == 0 || len > 20 || str_ncopy(tmp, sizeof tmp, s, len) < 0)
		return false;
	return str_to_u64(tmp, out) == 0;
}

void mail_cmd_addr_error(enum mail_addr_err e, bool is_sender, struct mail_reply *err)
{
	const char *enh = is_sender ? "5.1.7" : "5.1.3";
	switch (e) {
	case MAIL_ADDR_NEED_UTF8:
		mail_reply_set(err, 553, "5.6.7", "%s", mail_addr_strerror(e));
		break;
	case MAIL_ADDR_TOO_LONG:
		mail_reply_set(err, 501, enh, "%s", mail_addr_strerror(e));
		break;
	default:
		mail_reply_set(err, 501, enh, "%s", mail_addr_strerror(e));
		break;
	}
}

/* Split "address params" and parse the address; *rest points at the params. */
static bool parse_path(const char *arg, size_t len, unsigned flags, bool is_sender, struct mail_addr *addr,
		       const char **rest, size_t *rest_len, struct mail_reply *err)
{
	size_t used = 0;
	if (len == 0) {
		mail_reply_set(err, 501, "5.5.4", "Syntax: %s", is_sender ? "MAIL FROM:<address>" : "RCPT TO:<address>");
		return false;
	}
	enum mail_addr_err e = mail_addr_parse(arg, len, flags, addr, &used);
	if (e) {
		mail_cmd_addr_error(e, is_sender, err);
		return false;
	}
	if (used < len && arg[used] != ' ') {
		mail_reply_set(err, 501, is_sender ? "5.1.7" : "5.1.3", "Bad address syntax");
		return false;
	}
	*rest = arg + used;
	*rest_len = len - used;
	return true;
}

static bool params_error(int n, struct mail_reply *err)
{
	if (n == -2)
		mail_reply_set(err, 501, "5.5.4", "Too many parameters");
	else
		mail_reply_set(err, 501, "5.5.4", "Bad parameter syntax");
	return false;
}

bool mail_cmd_mail_from(const char *arg, size_t len, const struct mail_ext *ext, bool strict,
			struct mail_from *out, struct mail_reply *err)
{
	memset(out, 0, sizeof *out);
	const char *rest;
	size_t rl;
	unsigned flags = MAIL_ADDR_F_NULL_OK | MAIL_ADDR_F_UTF8 | (strict ? MAIL_ADDR_F_STRICT : 0);
	if (!parse_path(arg, len, flags, true, &out->addr, &rest, &rl, err))
		return false;
	struct mail_param p[MAIL_PARAMS_MAX];
	int n = mail_params_parse(rest, rl, p, MAIL_PARAMS_MAX);
	if (n < 0)
		return params_error(n, err);
	bool seen_size = false, seen_body = false, seen_ret = false;
	for (int i = 0; i < n; i++) {
		if (str_ncaseeq(p[i].key, p[i].klen, "SIZE") && ext->size) {
			if (seen_size || !p[i].val || !parse_u64(p[i].val, p[i].vlen, &out->size)) {
				mail_reply_set(err, 501, "5.5.4", "Bad SIZE parameter");
				return false;
			}
			seen_size = true;
			if (ext->size_limit && out->size > ext->size_limit) {
				mail_reply_set(err, 552, "5.3.4", "Message size exceeds fixed limit");
				return false;
			}
		} else if (str_ncaseeq(p[i].key, p[i].klen, "BODY") && ext->eightbit) {
			if (seen_body) {
				mail_reply_set(err, 501, "5.5.4", "Duplicate BODY parameter");
				return false;
			}
			seen_body = true;
			if (val_eq(&p[i], "7BIT"))
				out->body = MAIL_BODY_7BIT;
			else if (val_eq(&p[i], "8BITMIME"))
				out->body = MAIL_BODY_8BITMIME;
			else if (val_eq(&p[i], "BINARYMIME") && ext->binarymime)
				out->body = MAIL_BODY_BINARYMIME;
			else {
				mail_reply_set(err, 501, "5.5.4", "Unsupported BODY type");
				return false;
			}
		} else if (str_ncaseeq(p[i].key, p[i].klen, "SMTPUTF8") && ext->smtputf8) {
			if (p[i].val || out->smtputf8) {
				mail_reply_set(err, 501, "5.5.4", "Bad SMTPUTF8 parameter");
				return false;
			}
			out->smtputf8 = true;
		} else if (str_ncaseeq(p[i].key, p[i].klen, "RET") && ext->dsn) {
			if (seen_ret || !(val_eq(&p[i], "FULL") || val_eq(&p[i], "HDRS"))) {
				mail_reply_set(err, 501, "5.5.4", "Bad RET parameter");
				return false;
			}
			seen_ret = true;
			out->ret = val_eq(&p[i], "FULL") ? MAIL_RET_FULL : MAIL_RET_HDRS;
		} else if (str_ncaseeq(p[i].key, p[i].klen, "ENVID") && ext->dsn) {
			if (out->has_envid || !p[i].val || p[i].vlen > MAIL_ENVID_MAX ||
			    !mail_xtext_valid(p[i].val, p[i].vlen)) {
				mail_reply_set(err, 501, "5.5.4", "Bad ENVID parameter");
				return false;
			}
			str_ncopy(out->envid, sizeof out->envid, p[i].val, p[i].vlen);
			out->has_envid = true;
		} else {
			mail_reply_set(err, 555, "5.5.4", "Unsupported option: %.*s", (int)(p[i].klen > 40 ? 40 : p[i].klen),
				       p[i].key);
			return false;
		}
	}
	if (out->addr.utf8 && !out->smtputf8) {
		mail_cmd_addr_error(MAIL_ADDR_NEED_UTF8, true, err);
		return false;
	}
	return true;
}

static bool parse_notify(const struct mail_param *p, unsigned *out)
{
	if (!p->val)
		return false;
	unsigned f = 0;
	const char *s = p->val, *e = p->val + p->vlen;
	while (s < e) {
		const char *c = memchr(s, ',', (size_t)(e - s));
		size_t l = c ? (size_t)(c - s) : (size_t)(e - s);
		unsigned bit;
		if (str_ncaseeq(s, l, "NEVER"))
			bit = MAIL_NOTIFY_NEVER;
		else if (str_ncaseeq(s, l, "SUCCESS"))
			bit = MAIL_NOTIFY_SUCCESS;
		else if (str_ncaseeq(s, l, "FAILURE"))
			bit = MAIL_NOTIFY_FAILURE;
		else if (str_ncaseeq(s, l, "DELAY"))
			bit = MAIL_NOTIFY_DELAY;
		else
			return false;
		if (f & bit)
			return false;
		f |= bit;
		if (!c)
			break;
		s = c + 1;
		if (s == e)
			return false; /* trailing comma */
	}
	if ((f & MAIL_NOTIFY_NEVER) && f != MAIL_NOTIFY_NEVER)
		return false; /* NEVER must stand alone (RFC 3461 4.1) */
	*out = f;
	return f != 0;
}

static bool valid_orcpt(const char *v, size_t len)
{
	const char *semi = memchr(v, ';', len);
	if (!semi || semi == v)
		return false;
	size_t tl = (size_t)(semi - v);
	for (size_t i = 0; i < tl; i++) {
		char c = v[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
	}
	const char *x = semi + 1;
	size_t xl = len - tl - 1;
	if (xl == 0)
		return false;
	if (str_ncaseeq(v, tl, "utf-8")) /* RFC 6533 utf-8-addr-xtext: allow UTF-8, well-formed only */
		return mail_utf8_valid(x, xl);
	return mail_xtext_valid(x, xl);
}

bool mail_cmd_rcpt_to(const char *arg, size_t len, const struct mail_ext *ext, bool utf8, bool strict,
		      struct mail_rcpt_to *out, struct mail_reply *err)
{
	memset(out, 0, sizeof *out);
	const char *rest;
	size_t rl;
	unsigned flags = MAIL_ADDR_F_POSTMASTER | (utf8 ? MAIL_ADDR_F_UTF8 : 0) | (strict ? MAIL_ADDR_F_STRICT : 0);
	if (!parse_path(arg, len, flags, false, &out->addr, &rest, &rl, err))
		return false;
	struct mail_param p[MAIL_PARAMS_MAX];
	int n = mail_params_parse(rest, rl, p, MAIL_PARAMS_MAX);
	if (n < 0)
		return params_error(n, err);
	for (int i = 0; i < n; i++) {
		if (str_ncaseeq(p[i].key, p[i].klen, "NOTIFY") && ext->dsn) {
			if (out->notify || !parse_notify(&p[i], &out->notify)) {
				mail_reply_set(err, 501, "5.5.4", "Bad NOTIFY parameter");
				return false;
			}
		} else if (str_ncaseeq(p[i].key, p[i].klen, "ORCPT") && ext->dsn) {
			if (out->has_orcpt || !p[i].val || p[i].vlen > MAIL_ORCPT_MAX ||
			    !valid_orcpt(p[i].val, p[i].vlen)) {
				mail_reply_set(err, 501, "5.5.4", "Bad ORCPT parameter");
				return false;
			}
			str_ncopy(out->orcpt, sizeof out->orcpt, p[i].val, p[i].vlen);
			out->has_orcpt = true;
		} else {
			mail_reply_set(err, 555, "5.5.4", "Unsupported option: %.*s", (int)(p[i].klen > 40 ? 40 : p[i].klen),
				       p[i].key);
			return false;
		}
	}
	return true;
}

bool mail_cmd_bdat(const char *arg, size_t len, uint64_t *size_out, bool *last_out, struct mail_reply *err)
{
	size_t i = 0;
	while (i < len && arg[i] >= '0' && arg[i] <= '9')
		i++;
	if (i == 0 || !parse_u64(arg, i, size_out)) {
		mail_reply_set(err, 501, "5.5.4", "Syntax: BDAT chunk-size [LAST]");
		return false;
	}
	*last_out = false;
	if (i == len)
		return true;
	if (arg[i] != ' ') {
		mail_reply_set(err, 501, "5.5.4", "Syntax: BDAT chunk-size [LAST]");
		return false;
	}
	while (i < len && arg[i] == ' ')
		i++;
	if (str_ncaseeq(arg + i, len - i, "LAST")) {
		*last_out = true;
		return true;
	}
	mail_reply_set(err, 501, "5.5.4", "Syntax: BDAT chunk-size [LAST]");
	return false;
}
