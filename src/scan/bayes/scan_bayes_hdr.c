/*
 * scan_bayes_hdr.c - the header side of the Bayes tokeniser, as
 * SpamAssassin's Bayes plugin does it: every field less the ignored ones
 * (a built-in list and the rule files' bayes_ignore_header), the relay
 * metadata (X-Spam-Relays-*) and only the last two Received fields; each
 * pre-chewed by kind (Message-Id forms, address lists as "N*", "U*", "D*"
 * words, Received ids, dates and addresses, Content-Type boundaries,
 * MIME-Version, presence-only fields), gathered under a compressed name
 * ("*F" for From ...; *MI, *Ad and *UA gather several fields), then each
 * gathered value tokenised as a header line ("H<name>:" prefix), up to
 * 10,000 tokens.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "mail/mail_addrlist.h"
#include "scan/bayes/scan_bayes_int.h"
#include "scan/mime/scan_msg.h"

#define HDR_TOKENS_MAX 10000
#define HDRS_MAX 256 /* distinct tokenised header names of one message */

/* Header fields not tokenised (besides the rule files' bayes_ignore_header):
 * noise, list and forwarding fields, other filters' verdicts, mail
 * readers' annotations; Received is taken apart (the last two only). */
static const char IGNORED_RE[] =
	"^(?:(?:x-)?sender|delivered-to|delivery-date|(?:x-)?envelope-to|x-mime-autoconverted"
	"|x-converted-to-plain-text|subject|date"
	"|x-list|(?:x-)?mailing-list|(?:x-)?list-(?:archive|help|id|owner|post|subscribe|unsubscribe|host"
	"|manager|admin|comment|name|url)"
	"|x-unsub(?:scribe)?|x-mailman-version|x-beenthere|x-loop|mail-followup-to|x-egroups-(?:return|from)"
	"|x-mdmailing-list|x-xemacs-list|x-sympa-to"
	"|(?:x-)?resent-(?:from|to|date)|(?:x-)?original-(?:from|to|date)"
	"|x-mailscanner(?:-spamcheck)?|x-spam(?:-(?:status|level|flag|report|hits|score|checker-version))?"
	"|x-antispam|x-rbl-warning|x-mdaemon-deliver-to|x-virus-scanned|x-mass-check-id|x-pyzor"
	"|x-dcc-\\S{2,25}-metrics|x-filtered-by|x-scanned-by|x-scanner|x-ap-spam-(?:score|status)"
	"|x-ripe-spam-status|x-spamcop-[^:]+|x-smtpd|(?:x-)?spam-apparently-to|spam|x-perlmx-spam|x-bogosity"
	"|content-class|thread-(?:index|topic)|x-originalarrivaltime"
	"|(?:x-)?status|x-flags|x-keywords|replied|forwarded|lines|content-length|x-uidl?|x-imapbase"
	"|x-bugzilla-[^:]+"
	"|x-vm-(?:bookmark|(?:pop|imap)-retrieved|labels|last-modified|summary-format|vheader|v\\d-data"
	"|message-order)"
	"|x-gnus-mail-source|xref)$";

/* Only their presence is a token ("1"): their values are all hapaxes. */
static const char PRESENCE_RE[] =
	"^(?:x-face|x-(?:gnu-?pg|pgp|gpg)(?:-key)?-fingerprint|d(?:kim|omainkey)-signature"
	"|x-google-dkim-signature|arc-(?:message-signature|seal)|autocrypt)$";

/* Pre-chewing: what SpamAssassin removes or rewrites before tokenising. */
static const char MSGID_OE_RE[] = "<([0-9a-f]{4})[0-9a-f]{4}[0-9a-f]{4}\\$([0-9a-f]{4})[0-9a-f]{4}\\$"
				  "([0-9a-f]{8})@(\\S+)>";
static const char MSGID_EXIM_RE[] = "<[A-Za-z0-9]{7}-[A-Za-z0-9]{6}-0[A-Za-z0-9]@";
static const char MSGID_DATE_RE[] = "<20\\d\\d[01]\\d[0123]\\d[012]\\d[012345]\\d[012345]\\d\\.[A-F0-9]{10,12}@";
static const char *const RCVD_RE[] = {
	"\\swith\\sSMTP\\sid\\sg[\\dA-Z]{10,12}\\s",
	"\\swith\\sESMTP\\sid\\s[\\dA-F]{10,12}\\s",
	"\\bid\\s[a-zA-Z0-9]{7,20}\\b",
	"\\bid\\s[A-Za-z0-9]{7}-[A-Za-z0-9]{6}-0[A-Za-z0-9]",
	"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),\\s)?[0-3\\s]?[0-9]\\s(?:Jan|Feb|Ma[ry]|Apr|Ju[nl]|Aug|Sep|Oct|Nov|Dec)\\s"
	"(?:19|20)?[0-9]{2}\\s[0-2][0-9](?::[0-5][0-9]){1,2}\\s(?:\\s*\\(|\\)|\\s*(?:[+-][0-9]{4})|\\s*(?:UT|[A-Z]{2,3}T))*",
	/* every dotted quad gets an ip* token besides its /24 (SpamAssassin meant to keep
	 * private addresses whole, but compares "10." with "10": never true; so do we) */
	"\\b(\\d{1,3}\\.)(\\d{1,3}\\.)(\\d{1,3})(\\.\\d{1,3})\\b",
	"\\b(?:with|from|for|SMTP|ESMTP)\\b",
};
static const char *const RCVD_REPL[] = { " ", " ", " ", " ", "", "$1$2$3 ip*$1$2$3$4 ", " " };
_Static_assert(sizeof RCVD_RE / sizeof RCVD_RE[0] == BAYES_NRCVD, "BAYES_NRCVD");
#define NRCVD BAYES_NRCVD
static const char CT_BOUNDARY_RE[] = "boundary=[\"'](.*?)[\"']";
static const char CT_WORDS_RE[] = "\\b(?:text|charset)\\b";


static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

bool bayes_hdr_compile(struct scan_bayes_tok *t)
{
	t->ignored = bayes_compile(IGNORED_RE, PCRE2_CASELESS);
	t->presence = bayes_compile(PRESENCE_RE, PCRE2_CASELESS);
	t->oe = bayes_compile(MSGID_OE_RE, 0);
	t->exim = bayes_compile(MSGID_EXIM_RE, 0);
	t->mdate = bayes_compile(MSGID_DATE_RE, 0);
	for (size_t i = 0; i < NRCVD; i++)
		t->rcvd[i] = bayes_compile(RCVD_RE[i], 0);
	t->ct_b = bayes_compile(CT_BOUNDARY_RE, PCRE2_CASELESS | PCRE2_DOTALL);
	t->ct_w = bayes_compile(CT_WORDS_RE, 0);
	bool ok = t->ignored && t->presence && t->oe && t->exim && t->mdate && t->ct_b && t->ct_w;
	for (size_t i = 0; i < NRCVD; i++)
		ok = ok && t->rcvd[i];
	return ok;
}

void bayes_hdr_free(struct scan_bayes_tok *t)
{
	pcre2_code *all[] = { t->ignored, t->presence, t->oe, t->exim, t->mdate, t->ct_b, t->ct_w };
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		pcre2_code_free(all[i]);
	for (size_t i = 0; i < NRCVD; i++)
		pcre2_code_free(t->rcvd[i]);
}


/* pcre2_substitute, global, into a new string. */
static char *subst(struct run *R, const pcre2_code *re, const char *in, size_t len, const char *repl, bool global)
{
	PCRE2_SIZE outlen = len * 2 + 64;
	for (int attempt = 0; attempt < 2; attempt++) {
		char *out = xmalloc(outlen + 1);
		int rc = pcre2_substitute(re, (PCRE2_SPTR)in, len, 0,
					  (global ? PCRE2_SUBSTITUTE_GLOBAL : 0) | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH,
					  R->md, NULL, (PCRE2_SPTR)repl, PCRE2_ZERO_TERMINATED, (PCRE2_UCHAR *)out,
					  &outlen);
		if (rc >= 0) {
			out[outlen] = '\0';
			return out;
		}
		xfree(out);
		if (rc != PCRE2_ERROR_NOMEMORY)
			break;
	}
	return xstrndup(in, len); /* a match limit: left as it was */
}

static char *chew_msgid(struct run *R, const char *v)
{
	char *a = subst(R, R->t->oe, v, strlen(v), " OEA$1 OEB$2 OEC$3 $4 ", true);
	char *b = subst(R, R->t->exim, a, strlen(a), "", false);
	char *c = subst(R, R->t->mdate, b, strlen(b), "", true);
	xfree(a);
	xfree(b);
	for (char *p = c; *p; p++)
		if (!bayes_is_word((unsigned char)*p))
			*p = ' ';
	return c;
}

static char *chew_received(struct run *R, const char *v)
{
	char *cur = xstrdup(v);
	for (size_t i = 0; i < NRCVD; i++) {
		char *next = subst(R, R->t->rcvd[i], cur, strlen(cur), RCVD_REPL[i], true);
		xfree(cur);
		cur = next;
	}
	return cur;
}

static char *chew_content_type(struct run *R, const char *v)
{
	size_t len = strlen(v);
	struct buf out = { 0 }, bnd = { 0 };
	size_t pos = 0;
	bool any = false;
	while (pos <= len && pcre2_match(R->t->ct_b, (PCRE2_SPTR)v, len, pos, 0, R->md, NULL) >= 0) {
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(R->md);
		buf_append(&out, v + pos, ov[0] - pos);
		buf_putc(&out, ' ');
		bnd.len = 0;
		buf_append(&bnd, v + ov[2], ov[3] - ov[2]);
		any = true;
		pos = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
	}
	if (pos < len)
		buf_append(&out, v + pos, len - pos);
	if (any) {
		for (size_t i = 0; i < bnd.len;) { /* hex digits to H, separators spaced */
			char c = bnd.data[i];
			if (strchr("-_.=", c)) {
				buf_putc(&out, ' ');
				while (i < bnd.len && strchr("-_.=", bnd.data[i]))
					buf_putc(&out, bnd.data[i++]);
				buf_putc(&out, ' ');
				continue;
			}
			buf_putc(&out, isxdigit((unsigned char)c) ? 'H' : c);
			i++;
		}
	}
	buf_fini(&bnd);
	char *r = subst(R, R->t->ct_w, out.data ? out.data : "", out.len, " ", true);
	buf_fini(&out);
	return r;
}

/* An address list as SpamAssassin's parse_header_addresses gives it:
 * N*word for each word of a display name, then U* and D* of the address. */
/* One element of an address list: N*word for each word of the display
 * name, then U* and D* of the address (with its parent domains). */
static void chew_addr(void *ctx, const char *name, const char *addr)
{
	struct buf *out = ctx;
	char *ph = xstrdup(name), *w[64];
	size_t nw = str_split(ph, " \t\n", w, 64);
	for (size_t k = 0; k < nw; k++)
		if (w[k][0])
			buf_printf(out, "%sN*%s", out->len ? " " : "", w[k]);
	xfree(ph);
	const char *at = strrchr(addr, '@');
	size_t an = strlen(addr);
	if (!at || at == addr || at[1] == '\0')
		return;
	/* U*local D*domain D*parent...: as tokens of a line they are words */
	buf_printf(out, "%sU*%.*s D*%s", out->len ? " " : "", (int)(at - addr), addr, at + 1);
	const char *d = at + 1;
	size_t dl = an - (size_t)(d - addr);
	while (bayes_parent_domain(&d, &dl))
		buf_printf(out, " D*%.*s", (int)dl, d);
}

/* An address list as SpamAssassin's parse_header_addresses gives it. */
static char *chew_addrs(const char *v)
{
	struct buf out = { 0 };
	mail_addrlist(v, SIZE_MAX, chew_addr, &out);
	char *r = out.data ? xstrndup(out.data, out.len) : xstrdup("");
	buf_fini(&out);
	return r;
}

struct parsed {
	char *name[HDRS_MAX];
	struct buf val[HDRS_MAX];
	size_t n;
};

static void parsed_add(struct parsed *P, const char *name, const char *val)
{
	for (size_t i = 0; i < P->n; i++)
		if (strcmp(P->name[i], name) == 0) {
			buf_putc(&P->val[i], ' ');
			buf_puts(&P->val[i], val);
			return;
		}
	if (P->n == HDRS_MAX)
		return;
	P->name[P->n] = xstrdup(name);
	P->val[P->n] = (struct buf){ 0 };
	buf_puts(&P->val[P->n], val);
	P->n++;
}

static bool user_ignored(const struct scan_bayes_tok *t, const char *name)
{
	char low[256];
	size_t n = strlen(name);
	if (n >= sizeof low)
		return false;
	for (size_t i = 0; i <= n; i++)
		low[i] = (char)tolower((unsigned char)name[i]);
	const char *key = low;
	return bsearch(&key, t->ignore, t->nignore, sizeof *t->ignore, cmp_str) != NULL;
}

static bool name_is(const char *name, const char *const *list)
{
	for (; *list; list++)
		if (str_caseeq(name, *list))
			return true;
	return false;
}

static const char *compressed(const char *name)
{
	static const char *const map[][2] = {
		{ "Message-Id", "*m" },	     { "Message-ID", "*M" },	    { "Received", "*r" },
		{ "User-Agent", "*u" },	     { "References", "*f" },	    { "In-Reply-To", "*i" },
		{ "From", "*F" },	     { "Reply-To", "*R" },	    { "Return-Path", "*p" },
		{ "Return-path", "*rp" },    { "X-Mailer", "*x" },	    { "X-Authentication-Warning", "*a" },
		{ "Organization", "*o" },    { "Organisation", "*o" },	    { "Content-Type", "*ct" },
		{ "Content-Disposition", "*cd" }, { "Content-Transfer-Encoding", "*ce" },
		{ "x-spam-relays-trusted", "*RT" }, { "x-spam-relays-untrusted", "*RU" },
	};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(name, map[i][0]) == 0) /* case matters, as there */
			return map[i][1];
	return name;
}

static void one_header(struct run *R, struct parsed *P, const char *name, const char *value)
{
	if (user_ignored(R->t, name))
		return;
	static const char *const msgid[] = { "Message-Id", "X-Message-Id", "Resent-Message-Id", NULL };
	static const char *const addrs[] = { "Return-Path", "From", "To", "Cc", "Reply-To", "Errors-To",
					     "Mail-Followup-To", "Sender", "X-Return-Path", "X-From", "X-To",
					     "X-Cc", "X-Reply-To", "X-Errors-To", "X-Mail-Followup-To", "X-Sender",
					     "Resent-Return-Path", "Resent-From", "Resent-To", "Resent-Cc",
					     "Resent-Reply-To", "Resent-Errors-To", "Resent-Mail-Followup-To",
					     "Resent-Sender", NULL };
	static const char *const mid[] = { "In-Reply-To", "References", "Message-ID", NULL };
	static const char *const ad[] = { "From", "To", "Cc", NULL };
	static const char *const ua[] = { "X-Mailer", "User-Agent", NULL };
	char *val;
	size_t nl = strlen(name);
	if (name_is(name, msgid))
		val = chew_msgid(R, value);
	else if (name_is(name, addrs))
		val = chew_addrs(value);
	else if (strcmp(name, "Received") == 0)
		val = chew_received(R, value);
	else if (strcmp(name, "Content-Type") == 0)
		val = chew_content_type(R, value);
	else if (strcmp(name, "MIME-Version") == 0) {
		val = xstrdup(value);
		char *p = strstr(val, "1.0");
		if (p)
			memmove(p, p + 3, strlen(p + 3) + 1);
	} else if (pcre2_match(R->t->presence, (PCRE2_SPTR)name, nl, 0, 0, R->md, NULL) >= 0)
		val = xstrdup("1");
	else if (strncmp(name, "x-spam-relays-", 14) == 0) {
		/* " ip=" " rdns=" ...: the keys go, the values stay */
		struct buf b = { 0 };
		for (const char *p = value; *p;) {
			if (*p == ' ') {
				const char *q = p + 1;
				while (*q >= 'a' && *q <= 'z')
					q++;
				if (q > p + 1 && *q == '=') {
					buf_putc(&b, ' ');
					p = q + 1;
					continue;
				}
			}
			buf_putc(&b, *p++);
		}
		val = b.data ? xstrndup(b.data, b.len) : xstrdup("");
		buf_fini(&b);
	} else
		val = xstrdup(value);
	if (name_is(name, mid))
		parsed_add(P, "*MI", val);
	if (name_is(name, ad))
		parsed_add(P, "*Ad", val);
	if (name_is(name, ua))
		parsed_add(P, "*UA", val);
	parsed_add(P, compressed(name), val);
	xfree(val);
}

void bayes_tok_headers(struct run *R, const struct scan_msg *m, const struct scan_bayes_meta *meta)
{
	struct parsed P = { .n = 0 };
	const struct scan_hdr *rcvd[2] = { NULL, NULL }; /* the last two Received fields */
	for (size_t i = 0; i < m->nhdrs; i++) {
		const struct scan_hdr *h = &m->hdrs[i];
		if (str_caseeq(h->name, "Received")) {
			rcvd[0] = rcvd[1];
			rcvd[1] = h;
			continue;
		}
		if (pcre2_match(R->t->ignored, (PCRE2_SPTR)h->name, strlen(h->name), 0, 0, R->md, NULL) >= 0)
			continue;
		one_header(R, &P, h->name, h->value ? h->value : "");
	}
	if (meta) { /* the metadata, in the order of its sorted (lower-case) names */
		const char *tr = meta->relays_trusted ? meta->relays_trusted : "";
		const char *un = meta->relays_untrusted ? meta->relays_untrusted : "";
		one_header(R, &P, "x-spam-relays-external", un);
		one_header(R, &P, "x-spam-relays-internal", tr);
		one_header(R, &P, "x-spam-relays-trusted", tr);
		one_header(R, &P, "x-spam-relays-untrusted", un);
	}
	for (int k = 1; k >= 0; k--)
		if (rcvd[k])
			one_header(R, &P, rcvd[k]->name, rcvd[k]->value ? rcvd[k]->value : "");
	R->region_count = 0;
	for (size_t i = 0; i < P.n; i++) {
		if (R->region_count < HDR_TOKENS_MAX) {
			size_t pl = strlen(P.name[i]) + 3;
			char *pre = xmalloc(pl);
			snprintf(pre, pl, "H%s:", P.name[i]);
			bayes_tok_line(R, P.val[i].data ? P.val[i].data : "", P.val[i].len, pre, BAYES_R_HDR);
			xfree(pre);
		}
		xfree(P.name[i]);
		buf_fini(&P.val[i]);
	}
}
