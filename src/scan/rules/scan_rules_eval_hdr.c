/*
 * scan_rules_eval_hdr.c - the native eval: functions that read the header
 * and the session (scan_rules_eval_int.h): check_rbl, check_rbl_txt and
 * check_rbl_sub on the client's DNSBL answers (dates: scan_rules_eval_date.c),
 * check_header_count_range, check_illegal_chars, subject_is_all_caps and
 * check_for_missing_to_header. Their meaning is listed at the top of
 * scan_rules_eval.c (the parser and dispatch). Pure functions of the check
 * in progress.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/str.h"
#include "base/xalloc.h"
#include "mail/mail_addr.h"
#include "scan/mime/scan_msg.h"
#include "scan/rules/scan_rules_eval_int.h"

/* ------------------------------------------------------------------ DNSBL */

/* "zen.spamhaus.org." == "ZEN.spamhaus.org" */
static bool zone_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la && a[la - 1] == '.')
		la--;
	if (lb && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}


static bool sub_match(struct rules_run *run, const struct rule_eval *ev, const char *ans)
{
	unsigned a, b, c, d;
	switch (ev->sub) {
	case SUB_NONE:
		return true;
	case SUB_MASK:
		if (sscanf(ans, "%u.%u.%u.%u", &a, &b, &c, &d) != 4 || a != 127)
			return false;
		return (((unsigned long)a << 24 | b << 16 | c << 8 | d) & ev->mask) != 0;
	case SUB_EQUAL:
		return strcmp(ans, ev->nargs == 2 ? ev->args[1] : ev->args[2]) == 0;
	case SUB_REGEX:
		return rules_run_match(run, ev->re, ans, strlen(ans));
	default:
		return false;
	}
}

unsigned rules_eval_hdr_rbl(struct rules_run *run, const struct rule_eval *ev, const char *zone, bool txt)
{
	const struct scan_rules_ctx *c = run->c;
	if (!c || !zone)
		return 0;
	for (size_t i = 0; i < c->ndnsbl; i++) {
		const struct scan_rules_dnsbl *d = &c->dnsbl[i];
		if (!d->zone || !zone_eq(d->zone, zone))
			continue;
		const char *ans = txt ? d->txt : d->addr;
		if (!ans || !ans[0] || (!txt && strncmp(ans, "127.", 4) != 0))
			continue;
		if (sub_match(run, ev, ans))
			return 1;
	}
	return 0;
}

unsigned rules_eval_hdr_illegal(struct rules_run *run, const struct rule_eval *ev)
{
	const char *h = ev->args[0];
	bool present;
	const char *v = rules_run_header(run, h, HM_RAW, &present); /* "ALL": the raw header section */
	size_t n = strlen(v), ill = 0, hi = 0, ctl = 0, exempt = 0;
	bool nonspace = false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		bool control = c <= 0x08 || c == 0x0b || c == 0x0c || (c >= 0x0e && c <= 0x1f);
		nonspace |= c != ' ' && c != '\t' && c != '\n' && c != '\r';
		hi += c >= 0x80;
		ctl += control;
		ill += control || c >= 0x7f;
		exempt += c == 0xa2 || c == 0xa3 || c == 0xae;
	}
	unsigned hit = 0;
	if (!nonspace || (hi && !ctl && mail_utf8_valid(v, n)))
		hit = 0;
	else {
		if (ill && str_caseeq(h, "Subject") && exempt == 1)
			ill--;
		hit = (double)ill / (double)n >= ev->a && (double)ill >= ev->b;
	}
	return hit;
}

static size_t distinct_fields(const struct scan_msg *m, const char *name)
{
	size_t n = 0;
	for (size_t i = 0; i < m->nhdrs; i++) {
		if (!str_caseeq(m->hdrs[i].name, name))
			continue;
		bool dup = false;
		for (size_t k = 0; k < i && !dup; k++)
			dup = str_caseeq(m->hdrs[k].name, name) && strcmp(m->hdrs[k].value, m->hdrs[i].value) == 0;
		n += !dup;
	}
	return n;
}

/* check_header_count_range(h, min, max) */
unsigned rules_eval_hdr_count(struct rules_run *run, const struct rule_eval *ev)
{
	size_t n = distinct_fields(run->m, ev->args[0]);
	return (double)n >= ev->a && (double)n <= ev->b;
}

/* Subjects in charsets whose capitals are not shouting (as SpamAssassin's
 * CHARSETS_LIKELY_TO_FP_AS_CAPS). */
static bool caps_charset(const char *raw)
{
	static const char *const cs[] = { "=?iso-2022-jp", "=?euc-jp", "=?shift_jis", "=?sjis", "=?ks_c_5601",
					  "=?euc-kr",	   "=?big5",   "=?gb2312",    "=?gbk",	 "=?koi8-r",
					  "=?windows-1251" };
	char low[512];
	str_copy(low, sizeof low, raw);
	str_lower(low);
	for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++)
		if (strstr(low, cs[i]))
			return true;
	return false;
}

unsigned rules_eval_hdr_allcaps(struct rules_run *run)
{
	bool present;
	char *s = xstrdup(rules_run_header(run, "Subject", 0, &present));
	char *p = str_trim(s);
	size_t l = strlen(p);
	while (l && (p[l - 1] == '\n' || p[l - 1] == ' '))
		p[--l] = '\0';
	/* Re: Fwd: ... prefixes */
	static const char *const pre[] = { "re", "fwd", "fw", "aw", "antwort", "wg", "sv", "vb", "vs", "vl" };
	for (bool again = true; again;) {
		again = false;
		for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++) {
			size_t pl = strlen(pre[i]);
			if (str_caseprefix(p, pre[i]) && p[pl] == ':') {
				p += pl + 1;
				p += strspn(p, " \t");
				again = true;
			}
		}
	}
	unsigned hit = 0;
	if (strpbrk(p, " \t") && strlen(p) >= 10 && !caps_charset(rules_run_header(run, "Subject", HM_RAW, &present))) {
		size_t letters = 0, upper = 0;
		for (; *p; p++) {
			letters += (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z');
			upper += *p >= 'A' && *p <= 'Z';
		}
		hit = letters && letters == upper;
	}
	xfree(s);
	return hit;
}

unsigned rules_eval_hdr_missing_to(struct rules_run *run)
{
	bool present;
	const char *to = rules_run_header(run, "To", 0, &present);
	if (!*to)
		to = rules_run_header(run, "Apparently-To", 0, &present);
	return *to == '\0';
}
