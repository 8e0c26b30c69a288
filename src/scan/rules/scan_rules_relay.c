/*
 * scan_rules_relay.c - the relays of a message, from its Received headers,
 * as SpamAssassin's Message::Metadata::Received sees them (4.0.1): each
 * header parsed into ip, rdns, helo, by, ident, envfrom, id, auth; the
 * trusted / untrusted split inferred without trusted_networks (a relay is
 * trusted while every relay so far came from a private address or was
 * authenticated; internal = trusted); and the pseudo-headers rules read,
 * X-Spam-Relays-Trusted/-Untrusted/-Internal/-External, each relay written
 * "[ ip=.. rdns=.. helo=.. by=.. ident=.. envfrom=.. intl=0 id=.. auth=..
 * msa=0 ]" and joined with spaces.
 *
 * The parser covers the common formats (Postfix, sendmail, Exim, qmail,
 * Microsoft, Google and the generic "[IP]" fall-back) rather than each of
 * SpamAssassin's hundred special cases; a header without a "from" part is
 * skipped, one with a from but no IP and by is unparseable (both as there);
 * a POP3/IMAP pick-up ("with IMAP (fetchmail-..."), "with POP3") is no relay
 * and, met among the trusted relays, forgets the trusted ones above it.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "scan/rules/scan_rules_int.h"

#define IP_RE "(?:IPv6:)?[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:.]*[0-9A-Fa-f]|(?:\\d{1,3}\\.){3}\\d{1,3}"

enum {
	RE_FROM,	/* ^\(?from  */
	RE_LOCAL,	/* with local for */
	RE_FROM_BY,	/* from X by Y ; */
	RE_EXIM_LOCAL,	/* with local(-x) */
	RE_DATE,	/* the trailing date */
	RE_ID,
	RE_HELO_EQ,
	RE_HELO_CMD,
	RE_BY,
	RE_AUTH,
	RE_AUTH_POSTFIX,
	RE_P_BRACKET_SUB, /* [IP] (sub) by BY */
	RE_P_EXIM,	  /* rdns ([IP]sub) by BY */
	RE_P_RDNS_IP,	  /* helo (rdns [IP]...) ... by BY */
	RE_P_QMAIL,	  /* rdns (HELO helo) (ident@[IP]) ... by BY */
	RE_P_BRACKET_IP,  /* [IP] anywhere */
	RE_PRIVATE,
	RE_FETCHER,	  /* a POP3 or IMAP pick-up (fetchmail, getmail) */
	RE_LOCAL_SUBMIT,  /* (from user@localhost) by host: sendmail -t, jqueuemail */
	RE_N
};

static const char *const patterns[RE_N] = {
	[RE_FROM] = "^\\(?from ",
	[RE_LOCAL] = "\\bwith local for\\b",
	[RE_FROM_BY] = "^from (\\S+) by [^\\s;]+ ?;",
	[RE_EXIM_LOCAL] = "\\bwith local(?:-\\S+)? ",
	[RE_DATE] = "[\\s;]+(?:(?:Mon|T(?:ue|hu)|Wed|Fri|S(?:at|un)), )?\\d+ "
		    "(?:J(?:an|u[nl])|Feb|Ma[ry]|A(?:pr|ug)|Sep|Oct|Nov|Dec) \\d+ \\d+:\\d+(?::\\d+)? \\S+$",
	[RE_ID] = " id <?([^\\s<>;]{3,})",
	[RE_HELO_EQ] = "\\bhelo=([-A-Za-z0-9.^+_&:=?!@%*$\\\\/]+)(?:[^-A-Za-z0-9.^+_&:=?!@%*$\\\\/]|$)",
	[RE_HELO_CMD] = "\\b(?:HELO|EHLO) ([-A-Za-z0-9.^+_&:=?!@%*$\\\\/]+)(?:[^-A-Za-z0-9.^+_&:=?!@%*$\\\\/]|$)",
	[RE_BY] = " by (\\S+)(?:[^-A-Za-z0-9;.]|$)",
	[RE_AUTH] = " with ((?:ES|L|UTF8S|UTF8L)MTPS?A|ASMTP|HTTP[SU]?)(?: |;|$)",
	[RE_AUTH_POSTFIX] = "\\) \\(Authenticated sender: \\S+\\) by \\S+ \\(([^)]+)\\) with ",
	[RE_P_BRACKET_SUB] = "^\\[(" IP_RE ")\\](?::\\d+)? \\((.*?)\\) by (\\S+)",
	[RE_P_EXIM] = "^(\\S+) \\(\\[(" IP_RE ")\\](?:[.:]\\d+)?(.*?)\\).*? by (\\S+)",
	[RE_P_RDNS_IP] = "^(\\S+) \\((\\S+) ?\\[(" IP_RE ")\\].*?\\).*? by (\\S+)",
	[RE_P_QMAIL] = "^(\\S+) \\(HELO (\\S+)\\) \\((\\S+@)?\\[?(" IP_RE ")\\]?\\).*? by (\\S+)",
	[RE_P_BRACKET_IP] = "\\[(" IP_RE ")\\]",
	[RE_PRIVATE] = "^(?:(?:10|127|169\\.254|172\\.(?:1[6-9]|2[0-9]|3[01])|192\\.168|"
		       "100\\.(?:6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-7]))\\.|(?i:::1$|f[cd][0-9a-f]{0,2}:|fe[89ab][0-9a-f]:))",
	[RE_FETCHER] = "with (?:POP3|IMAP)",
	[RE_LOCAL_SUBMIT] = "^\\(from (?:\\S+@localhost\\) by \\S+ |[^\\s@]+@[^)]+\\) by \\S+\\(jqueuemail\\) id [^\\s;]+)",
};
static const uint32_t caseless = (1u << RE_FROM) | (1u << RE_FROM_BY) | (1u << RE_AUTH);

static pcre2_code *res[RE_N];
static pcre2_match_context *res_mctx; /* the rule set's match limits: Received fields are the sender's text */
static pthread_once_t res_once = PTHREAD_ONCE_INIT;

static void compile_res(void)
{
	char why[200];
	res_mctx = pcre2_match_context_create(NULL);
	pcre2_set_match_limit(res_mctx, SCAN_RULES_MATCH_LIMIT);
	pcre2_set_depth_limit(res_mctx, SCAN_RULES_DEPTH_LIMIT);
	for (int i = 0; i < RE_N; i++)
		res[i] = rules_regex_raw(patterns[i], strlen(patterns[i]),
					 ((caseless >> i) & 1) ? PCRE2_CASELESS : 0, why, sizeof why);
}

struct rx {
	pcre2_match_data *md;
	const char *s;
};

static bool rx(struct rx *x, int which, const char *s)
{
	x->s = s;
	return res[which] && pcre2_match(res[which], (PCRE2_SPTR)s, strlen(s), 0, 0, x->md, res_mctx) >= 0;
}

/* Capture group g of the last match, copied into out (empty when unset). */
static void grp(struct rx *x, int g, char *out, size_t outlen)
{
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(x->md);
	if (ov[2 * g] == PCRE2_UNSET || (uint32_t)g >= pcre2_get_ovector_count(x->md)) {
		out[0] = '\0';
		return;
	}
	str_ncopy(out, outlen, x->s + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
}

#define F 256
struct relay {
	char ip[F], rdns[F], helo[F], by[F], ident[F], envfrom[F], id[F], auth[F];
	bool priv;
	bool looked_up; /* a format whose MTA always looks the name up (sendmail, Postfix) */
};

/* "helo=x ident=y" inside an Exim parenthesis */
static void exim_sub(const char *sub, struct relay *r, bool set_helo)
{
	const char *h = strstr(sub, "helo=");
	if (h && set_helo) {
		h += 5;
		str_ncopy(r->helo, F, h, strcspn(h, " )"));
	}
	const char *i = strstr(sub, "ident=");
	if (i) {
		i += 6;
		str_ncopy(r->ident, F, i, strcspn(i, " )"));
	}
}

static void strip_chars(char *s)
{
	for (; *s; s++)
		if (strchr(" \t\n#[]()<>|", *s))
			*s = '!';
}

/* 1 parsed, 0 skipped, -1 unparseable, 2 a mail fetcher's hand-over (skipped). */
static int parse_line(struct rx *x, const char *hdr, struct relay *r)
{
	memset(r, 0, sizeof *r);
	/* white space collapsed and trimmed */
	struct buf b;
	buf_init(&b);
	bool sp = false;
	for (const char *p = hdr; *p; p++) {
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
			sp = true;
			continue;
		}
		if (sp && b.len)
			buf_putc(&b, ' ');
		sp = false;
		buf_putc(&b, *p);
	}
	char *line = b.data ? b.data : xstrdup("");
	size_t n = strlen(line);
	while (n && (line[n - 1] == ';' || line[n - 1] == ' '))
		line[--n] = '\0';
	int rc = 0;
	char tmp[F];
	if (!rx(x, RE_FROM, line) || rx(x, RE_LOCAL, line))
		goto out;
	if (rx(x, RE_FROM_BY, line)) {
		grp(x, 1, tmp, sizeof tmp);
		if (!(tmp[0] == '[' && strspn(tmp + 1, "0123456789.") == strlen(tmp) - 2 && tmp[strlen(tmp) - 1] == ']'))
			goto out;
	}
	bool exim = strstr(line, "Exim") != NULL;
	if (exim && rx(x, RE_EXIM_LOCAL, line))
		goto out;
	if (rx(x, RE_DATE, line)) {
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(x->md);
		line[ov[0]] = '\0';
	}
	char *by_fix = strstr(line, ")by "); /* "(... [127.0.0.1])by host": the first one, as SpamAssassin */
	if (by_fix) {
		char *fixed = xasprintf("%.*s) %s", (int)(by_fix - line), line, by_fix + 1);
		xfree(line);
		line = fixed;
	}
	if (rx(x, RE_LOCAL_SUBMIT, line))
		goto out; /* a local submission, no relay */
	rc = -1;
	if (rx(x, RE_ID, line))
		grp(x, 1, r->id, F);
	if (rx(x, RE_HELO_EQ, line) || rx(x, RE_HELO_CMD, line))
		grp(x, 1, r->helo, F);
	if (rx(x, RE_BY, line))
		grp(x, 1, r->by, F);
	if (strstr(line, " by ") && rx(x, RE_AUTH, line))
		grp(x, 1, r->auth, F);
	else if (rx(x, RE_AUTH_POSTFIX, line))
		grp(x, 1, r->auth, F);
	const char *f = line + (line[0] == '(' ? 6 : 5); /* after "from " */
	if (rx(x, RE_FETCHER, f)) {
		rc = 2; /* a pick-up from a mailbox, not a relay (SpamAssassin: restart) */
		goto out;
	}
	char sub[F];
	if (rx(x, RE_P_BRACKET_SUB, f)) {
		grp(x, 1, r->ip, F);
		grp(x, 2, sub, F);
		grp(x, 3, r->by, F);
		exim_sub(sub, r, true);
	} else if (rx(x, RE_P_EXIM, f)) {
		grp(x, 1, tmp, F);
		grp(x, 2, r->ip, F);
		grp(x, 3, sub, F);
		grp(x, 4, r->by, F);
		if (exim || strstr(sub, "helo=")) {
			str_copy(r->rdns, F, tmp);
			str_copy(r->helo, F, tmp);
			exim_sub(sub, r, true);
		} else {
			str_copy(r->helo, F, tmp); /* sendmail: no rDNS found */
			r->looked_up = true;
		}
	} else if (rx(x, RE_P_QMAIL, f)) {
		grp(x, 1, r->rdns, F);
		grp(x, 2, r->helo, F);
		grp(x, 3, r->ident, F);
		grp(x, 4, r->ip, F);
		grp(x, 5, r->by, F);
		size_t il = strlen(r->ident);
		if (il)
			r->ident[il - 1] = '\0';
		if (strcmp(r->rdns, r->ip) == 0)
			r->rdns[0] = '\0';
	} else if (rx(x, RE_P_RDNS_IP, f)) {
		grp(x, 1, r->helo, F);
		grp(x, 2, r->rdns, F);
		grp(x, 3, r->ip, F);
		grp(x, 4, r->by, F);
		r->looked_up = true;
		if (strcmp(r->rdns, "softdnserr") == 0)
			r->rdns[0] = '\0';
		char *at = strrchr(r->rdns, '@'); /* IDENT:user@host */
		if (at) {
			char *u = r->rdns;
			if (str_caseprefix(u, "IDENT:"))
				u += 6;
			str_ncopy(r->ident, F, u, (size_t)(at - u));
			memmove(r->rdns, at + 1, strlen(at + 1) + 1);
		}
	} else if (rx(x, RE_P_BRACKET_IP, line)) {
		grp(x, 1, r->ip, F);
	}
	if (!r->ip[0] || !r->by[0])
		goto out;
	rc = 1;
	size_t rl = strlen(r->rdns);
	while (rl && r->rdns[rl - 1] == '.')
		r->rdns[--rl] = '\0';
	if (str_caseeq(r->rdns, "unknown") || r->rdns[0] == '[')
		r->rdns[0] = '\0';
	if (str_caseprefix(r->ip, "IPv6:"))
		memmove(r->ip, r->ip + 5, strlen(r->ip + 5) + 1);
	if (str_caseprefix(r->ip, "::ffff:") && strchr(r->ip, '.'))
		memmove(r->ip, r->ip + 7, strlen(r->ip + 7) + 1);
	size_t bl = strlen(r->by);
	if (bl && r->by[bl - 1] == ';')
		r->by[bl - 1] = '\0';
	strip_chars(r->ip);
	strip_chars(r->rdns);
	strip_chars(r->helo);
	strip_chars(r->by);
	strip_chars(r->ident);
	r->priv = rx(x, RE_PRIVATE, r->ip);
out:
	xfree(line);
	return rc;
}

static void relay_str(struct buf *b, const struct relay *r)
{
	if (b->len)
		buf_putc(b, ' ');
	buf_printf(b, "[ ip=%s rdns=%s helo=%s by=%s ident=%s envfrom=%s intl=0 id=%s auth=%s msa=0 ]", r->ip,
		   r->rdns, r->helo, r->by, r->ident, r->envfrom, r->id, r->auth);
}

static const char *const orig_ip_headers[] = { "X-Yahoo-Post-IP", "X-Originating-IP", "X-Apparently-From",
					       "X-SenderIP" };

void rules_relays_init(void)
{
	pthread_once(&res_once, compile_res);
}

void rules_relays_parse(const struct scan_msg *m, struct rules_relays *out)
{
	rules_relays_init();
	memset(out, 0, sizeof *out);
	struct rx x = { .md = pcre2_match_data_create(16, NULL) };
	struct buf t, u;
	buf_init(&t);
	buf_init(&u);
	bool trusted = true, allow_fetch_marker = true;
	struct relay *r = xmalloc(sizeof *r);
	for (size_t pass = 0; pass < 1 + sizeof orig_ip_headers / sizeof orig_ip_headers[0]; pass++)
		for (size_t i = 0; i < m->nhdrs; i++) {
			const struct scan_hdr *h = &m->hdrs[i];
			int rc;
			if (pass == 0) {
				if (!str_caseeq(h->name, "Received"))
					continue;
				rc = parse_line(&x, h->value, r);
			} else {
				if (!str_caseeq(h->name, orig_ip_headers[pass - 1]))
					continue;
				/* "from X-Originating-IP: ip": an IP only */
				memset(r, 0, sizeof *r);
				const char *v = h->value + strspn(h->value, " [");
				size_t l = strspn(v, "0123456789.abcdefABCDEF:");
				if (l < 7 || l >= F)
					continue;
				str_ncopy(r->ip, F, v, l);
				r->priv = rx(&x, RE_PRIVATE, r->ip);
				rc = 1;
				i = m->nhdrs; /* the first such field only */
			}
			if (rc < 0)
				out->nunparseable++;
			if (rc == 2 && allow_fetch_marker) {
				/* a fetcher's marker within the trusted relays: what the
				 * local delivery added above it is forgotten */
				buf_reset(&t);
				out->ntrusted = 0;
			}
			if (rc <= 0 || rc == 2)
				continue;
			if (trusted && !r->priv && !r->auth[0])
				trusted = false;
			relay_str(trusted ? &t : &u, r);
			allow_fetch_marker = trusted;
			if (!trusted) {
				out->u = xrealloc(out->u, (out->nuntrusted + 1) * sizeof *out->u);
				out->u[out->nuntrusted] = (struct rules_relay){ xstrdup(r->ip), xstrdup(r->rdns),
										xstrdup(r->helo), xstrdup(r->by), r->priv,
										!r->rdns[0] && r->looked_up };
			}
			if (trusted)
				out->ntrusted++;
			else
				out->nuntrusted++;
		}
	xfree(r);
	pcre2_match_data_free(x.md);
	out->trusted = t.data ? buf_steal(&t, NULL) : xstrdup("");
	out->untrusted = u.data ? buf_steal(&u, NULL) : xstrdup("");
}

void rules_relays_free(struct rules_relays *r)
{
	for (size_t i = 0; r->u && i < r->nuntrusted; i++) {
		xfree(r->u[i].ip);
		xfree(r->u[i].rdns);
		xfree(r->u[i].helo);
		xfree(r->u[i].by);
	}
	xfree(r->u);
	xfree(r->trusted);
	xfree(r->untrusted);
	memset(r, 0, sizeof *r);
}
