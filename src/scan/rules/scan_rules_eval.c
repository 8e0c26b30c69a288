/*
 * scan_rules_eval.c - "eval:" rules: the SpamAssassin eval functions
 * implemented natively, chosen by the score they carry in Debian's rule
 * set (see docs in the report: DNSBL, date shift, header counts, illegal
 * characters, all-caps subject, missing To, upper case ratio, body length).
 *
 * Native functions and their meaning (as SpamAssassin 4.0.1):
 *   check_rbl(set, zone[, sub])    an answer for the client from zone
 *   check_rbl_sub(set, sub)        an answer from the zone of set
 *   check_rbl_txt(set, zone[, re]) a TXT answer from zone (ctx txt)
 *     sub: a number (bitmask on an answer within 127/8), an IPv4 address
 *     (equality), else a regex; A answers outside 127/8 never count
 *   check_header_count_range(h, min, max)  distinct fields of name h
 *   check_for_shifted_date(min, max)       Date minus the Received date
 *     closest to it, in hours, in [min, max) ('undef': open end)
 *   check_illegal_chars(h, ratio, count)   control / 8-bit octets in the
 *     raw header h (ALL: every field), not valid UTF-8
 *   subject_is_all_caps()  check_for_missing_to_header()
 *   check_for_uppercase(min, max)  upper-case share of body letters, in
 *     (min, max] percent, bodies of 200 octets or more
 *   check_body_length(n)   raw body of at most n octets
 *   check_no_relays()  check_all_trusted()  check_relays_unparseable()
 *     the relays of scan_rules_relay.c: none at all (nothing parsed or
 *     unparseable); all trusted and none unparseable; any unparseable
 *   check_for_mime(test)  MIMEEval's counters over every MIME entity
 *     (scan_msg entities): mime_attachment (a Content-Disposition holding
 *     "attachment"), mime_base64_count, mime_qp_count (by
 *     Content-Transfer-Encoding), mime_body_html_count, mime_body_text_count,
 *     mime_multipart_alternative; other tests are unsupported
 *   check_for_mime_html()  check_for_mime_html_only()  a top-level
 *     Content-Type text/html, or text/html entities (and no other text type)
 *   html_test('html')  a leaf rendered as HTML (HTML_MESSAGE); other
 *     tests are unsupported
 *   html_tag_exists(tag)   "<tag" or "</tag" in a leaf rendered as HTML
 *   html_image_only(min, max)  such a leaf with <img> whose source (as
 *     decoded: characters for UTF-8) is in (min, max] long
 *   multipart_alternative_difference(min, max) and _count(ratio, minhtml)
 *     per multipart/alternative entity, the share of its HTML leaves'
 *     distinct words its text leaves lack (or have fewer times)
 *   check_freemail_from([re])  check_freemail_header(h[, re])  FreeMail:
 *     an address (From and the other sender fields; h's first address) in
 *     freemail_domains (names, or patterns: '*' no dot, '?' one
 *     character), not in freemail_welcomelist nor FreeMail's own address
 *     welcomelist, matching re when given; never without freemail_domains
 *   check_equal_from_domains()  From and EnvelopeFrom (the session's
 *     sender, else X-Envelope-From / Envelope-Sender / Return-Path above
 *     the Received fields) differ in their last two domain labels
 *   check_for_matching_env_and_hdr_from()  EnvelopeFrom and From's
 *     address are equal (both empty included)
 *   check_for_forged_gmail_received_headers()  a gmail.com From without
 *     Google's X-Received / Received traces or long X-Gm-Message-State and
 *     X-Google-Smtp-Source fields
 * Every other function is accepted, never hits, and is counted (stats and
 * scan_rules_unsupported_eval()).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <strings.h>
#include <time.h>

#include "base/buf.h"
#include "base/map.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "mail/mail_addr.h"
#include "scan/mime/scan_msg.h"
#include "scan/rules/scan_rules_int.h"

#define EVAL_ARGS 8

enum ev_fn {
	EV_UNSUPPORTED,
	EV_RBL,
	EV_RBL_SUB,
	EV_RBL_TXT,
	EV_HDR_COUNT,
	EV_SHIFTED_DATE,
	EV_ILLEGAL,
	EV_ALLCAPS,
	EV_MISSING_TO,
	EV_UPPERCASE,
	EV_BODY_LEN,
	EV_NO_RELAYS,
	EV_ALL_TRUSTED,
	EV_RELAYS_UNPARSEABLE,
	EV_MIME,
	EV_MIME_HTML,
	EV_MIME_HTML_ONLY,
	EV_HTML_TEST,
	EV_HTML_TAG,
	EV_MADIFF,
	EV_MADIFF_COUNT,
	EV_FM_FROM,
	EV_FM_HEADER,
	EV_EQUAL_FROM_DOMAINS,
	EV_FORGED_GMAIL,
	EV_HTML_IMAGE_ONLY,
	EV_ENV_HDR_FROM_MATCH,
};

static const struct {
	const char *name;
	enum ev_fn fn;
	size_t min_args, max_args;
} functions[] = {
	{ "check_rbl", EV_RBL, 2, 3 },
	{ "check_rbl_sub", EV_RBL_SUB, 2, 2 },
	{ "check_rbl_txt", EV_RBL_TXT, 2, 3 },
	{ "check_header_count_range", EV_HDR_COUNT, 3, 3 },
	{ "check_for_shifted_date", EV_SHIFTED_DATE, 2, 2 },
	{ "check_illegal_chars", EV_ILLEGAL, 3, 3 },
	{ "subject_is_all_caps", EV_ALLCAPS, 0, 0 },
	{ "check_for_missing_to_header", EV_MISSING_TO, 0, 0 },
	{ "check_for_uppercase", EV_UPPERCASE, 2, 2 },
	{ "check_body_length", EV_BODY_LEN, 1, 1 },
	{ "check_no_relays", EV_NO_RELAYS, 0, 0 },
	{ "check_all_trusted", EV_ALL_TRUSTED, 0, 0 },
	{ "check_relays_unparseable", EV_RELAYS_UNPARSEABLE, 0, 0 },
	{ "check_for_mime", EV_MIME, 1, 1 },
	{ "check_for_mime_html", EV_MIME_HTML, 0, 0 },
	{ "check_for_mime_html_only", EV_MIME_HTML_ONLY, 0, 0 },
	{ "html_test", EV_HTML_TEST, 1, 1 },
	{ "html_tag_exists", EV_HTML_TAG, 1, 1 },
	{ "multipart_alternative_difference", EV_MADIFF, 2, 2 },
	{ "multipart_alternative_difference_count", EV_MADIFF_COUNT, 2, 2 },
	{ "check_freemail_from", EV_FM_FROM, 0, 1 },
	{ "check_freemail_header", EV_FM_HEADER, 1, 2 },
	{ "check_equal_from_domains", EV_EQUAL_FROM_DOMAINS, 0, 0 },
	{ "check_for_forged_gmail_received_headers", EV_FORGED_GMAIL, 0, 0 },
	{ "html_image_only", EV_HTML_IMAGE_ONLY, 2, 2 },
	{ "check_for_matching_env_and_hdr_from", EV_ENV_HDR_FROM_MATCH, 0, 0 },
};

/* check_for_mime() tests computed here (others are unsupported). */
enum mime_test { MT_ATTACHMENT, MT_BASE64_COUNT, MT_QP_COUNT, MT_HTML_COUNT, MT_TEXT_COUNT, MT_ALTERNATIVE };
static const char *const mime_tests[] = { "mime_attachment",	   "mime_base64_count",	   "mime_qp_count",
					  "mime_body_html_count", "mime_body_text_count", "mime_multipart_alternative" };

enum sub_kind { SUB_NONE, SUB_MASK, SUB_EQUAL, SUB_REGEX, SUB_NEVER };

struct rule_eval {
	enum ev_fn fn;
	char *name;
	char *args[EVAL_ARGS];
	size_t nargs;
	enum sub_kind sub;
	unsigned long mask;
	pcre2_code *re;
	double a, b;
	bool a_open, b_open;
	const char *zone; /* check_rbl_sub: resolved after load */
	int test;	  /* check_for_mime: enum mime_test */
	pcre2_code *res[4]; /* fixed patterns of a function */
};

/* ------------------------------------------------------------------ parsing */

/* One argument: 'quoted', "quoted" or a bare word/number. */
static const char *parse_arg(const char *p, char **out)
{
	p += strspn(p, " \t");
	char q = *p;
	if (q == '\'' || q == '"') {
		const char *s = ++p;
		while (*p && *p != q)
			p += (*p == '\\' && p[1]) ? 2 : 1;
		if (!*p)
			return NULL;
		char *v = xstrndup(s, (size_t)(p - s));
		/* only \' \" and \\ are escapes here; regex escapes stay */
		char *w = v;
		for (char *r = v; *r; r++) {
			if (*r == '\\' && (r[1] == q || r[1] == '\\'))
				r++;
			*w++ = *r;
		}
		*w = '\0';
		*out = v;
		return p + 1;
	}
	const char *s = p;
	p += strcspn(p, ",) \t");
	if (p == s)
		return NULL;
	*out = xstrndup(s, (size_t)(p - s));
	return p;
}

static int parse_call(struct rule_eval *ev, const char *call, char *why, size_t whylen)
{
	const char *p = call;
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_')
		p++;
	if (p == call) {
		snprintf(why, whylen, "eval: needs a function name");
		return -1;
	}
	ev->name = xstrndup(call, (size_t)(p - call));
	p += strspn(p, " \t");
	if (*p != '(') {
		snprintf(why, whylen, "eval:%s needs an argument list in parentheses", ev->name);
		return -1;
	}
	p++;
	p += strspn(p, " \t");
	while (*p && *p != ')') {
		if (ev->nargs == EVAL_ARGS) {
			snprintf(why, whylen, "eval:%s has more than %d arguments", ev->name, EVAL_ARGS);
			return -1;
		}
		p = parse_arg(p, &ev->args[ev->nargs]);
		if (!p) {
			snprintf(why, whylen, "eval:%s: bad argument list", ev->name);
			return -1;
		}
		ev->nargs++;
		p += strspn(p, " \t");
		if (*p == ',')
			p++;
		else if (*p != ')')
			break;
	}
	if (*p != ')' || p[1 + strspn(p + 1, " \t")] != '\0') {
		snprintf(why, whylen, "eval:%s: expected ')' at the end", ev->name);
		return -1;
	}
	return 0;
}

static bool all_digits(const char *s, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* A DNSBL subtest: number, IPv4 address or regex. */
static int parse_sub(struct rule_eval *ev, const char *sub, char *why, size_t whylen)
{
	unsigned a, b, c, d;
	char tail;
	if (strncmp(sub, "sb:", 3) == 0) {
		ev->sub = SUB_NEVER; /* Spamhaus return-code sets: not emulated */
	} else if (all_digits(sub, strlen(sub))) {
		ev->sub = SUB_MASK;
		ev->mask = strtoul(sub, NULL, 10);
	} else if (sscanf(sub, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4) {
		ev->sub = SUB_EQUAL;
	} else {
		ev->sub = SUB_REGEX;
		ev->re = rules_regex_raw(sub, strlen(sub), 0, why, whylen);
		if (!ev->re)
			return -1;
	}
	return 0;
}

static int parse_num(const char *s, double *out, bool *open)
{
	char *end;
	*open = strcmp(s, "undef") == 0;
	if (*open)
		return 0;
	*out = strtod(s, &end);
	return end == s || *end ? -1 : 0;
}

static int prepare(struct rule_eval *ev, char *why, size_t whylen)
{
	switch (ev->fn) {
	case EV_RBL:
	case EV_RBL_TXT:
		return ev->nargs == 3 ? parse_sub(ev, ev->args[2], why, whylen) : 0;
	case EV_RBL_SUB:
		return parse_sub(ev, ev->args[1], why, whylen);
	case EV_HDR_COUNT:
	case EV_ILLEGAL:
		if (parse_num(ev->args[1], &ev->a, &ev->a_open) < 0 || parse_num(ev->args[2], &ev->b, &ev->b_open) < 0)
			break;
		return 0;
	case EV_SHIFTED_DATE:
	case EV_UPPERCASE:
	case EV_HTML_IMAGE_ONLY:
		if (parse_num(ev->args[0], &ev->a, &ev->a_open) < 0 || parse_num(ev->args[1], &ev->b, &ev->b_open) < 0)
			break;
		return 0;
	case EV_BODY_LEN:
		if (parse_num(ev->args[0], &ev->a, &ev->a_open) < 0 || ev->a_open)
			break;
		return 0;
	case EV_MADIFF:
	case EV_MADIFF_COUNT:
		if (parse_num(ev->args[0], &ev->a, &ev->a_open) < 0 || ev->a_open ||
		    parse_num(ev->args[1], &ev->b, &ev->b_open) < 0 || (ev->b_open && ev->fn == EV_MADIFF_COUNT))
			break;
		return 0;
	case EV_MIME:
		ev->fn = EV_UNSUPPORTED;
		for (size_t i = 0; i < sizeof mime_tests / sizeof mime_tests[0]; i++)
			if (strcmp(ev->args[0], mime_tests[i]) == 0) {
				ev->fn = EV_MIME;
				ev->test = (int)i;
			}
		return 0;
	case EV_FM_FROM:
	case EV_FM_HEADER: {
		size_t ri = ev->fn == EV_FM_FROM ? 0 : 1;
		if (ev->nargs > ri) {
			ev->re = rules_regex_raw(ev->args[ri], strlen(ev->args[ri]), 0, why, whylen);
			if (!ev->re)
				return -1;
		}
		return 0;
	}
	case EV_FORGED_GMAIL: {
		static const char *const pats[4] = { "\\bgmail\\.com$", "by 10\\.\\S+ with SMTP id \\S+",
						     "by 2002:a\\d\\d:\\w+:\\S+ with SMTP id \\S+",
						     "by smtp\\.googlemail\\.com with ESMTPSA id \\S+" };
		for (size_t i = 0; i < 4; i++)
			if (!(ev->res[i] = rules_regex_raw(pats[i], strlen(pats[i]), i ? 0 : PCRE2_CASELESS, why, whylen)))
				return -1;
		return 0;
	}
	case EV_HTML_TEST:
		if (strcmp(ev->args[0], "html") != 0)
			ev->fn = EV_UNSUPPORTED; /* only HTML_MESSAGE's test */
		return 0;
	default:
		return 0;
	}
	snprintf(why, whylen, "eval:%s: arguments must be numbers", ev->name);
	return -1;
}

static void count_unsupported(struct scan_rules *s, const char *name)
{
	for (size_t i = 0; i < s->nunsup; i++)
		if (strcmp(s->unsup[i].name, name) == 0) {
			s->unsup[i].nrules++;
			return;
		}
	s->unsup = xrealloc(s->unsup, (s->nunsup + 1) * sizeof *s->unsup);
	s->unsup[s->nunsup].name = xstrdup(name);
	s->unsup[s->nunsup++].nrules = 1;
}

int rules_eval_parse(struct scan_rules *s, struct rule *r, const char *call, char *why, size_t whylen)
{
	struct rule_eval *ev = xcalloc(1, sizeof *ev);
	r->ev = ev;
	if (parse_call(ev, call, why, whylen) < 0)
		return -1;
	for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++) {
		if (strcmp(ev->name, functions[i].name) != 0)
			continue;
		if (ev->nargs < functions[i].min_args || ev->nargs > functions[i].max_args) {
			snprintf(why, whylen, "eval:%s takes %zu to %zu arguments, not %zu", ev->name,
				 functions[i].min_args, functions[i].max_args, ev->nargs);
			return -1;
		}
		ev->fn = functions[i].fn;
		if (prepare(ev, why, whylen) < 0)
			return -1;
		if (ev->fn != EV_UNSUPPORTED)
			return 0;
		break; /* an argument this engine does not compute */
	}
	/* header rules of unsupported evals never hit: not evaluated at all */
	r->enabled = false;
	s->st.eval_unsupported++;
	count_unsupported(s, ev->name);
	return 1;
}

bool rules_eval_native(const struct rule_eval *ev)
{
	return ev->fn != EV_UNSUPPORTED;
}

void rules_eval_free(struct rule_eval *ev)
{
	if (!ev)
		return;
	xfree(ev->name);
	for (size_t i = 0; i < ev->nargs; i++)
		xfree(ev->args[i]);
	pcre2_code_free(ev->re);
	for (size_t i = 0; i < 4; i++)
		pcre2_code_free(ev->res[i]);
	xfree(ev);
}

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

/* Sets are named by check_rbl; "-lastexternal" / "-firstexternal" name the
 * same lookup (we only know the connecting client). */
static size_t set_base_len(const char *set)
{
	const char *dash = strrchr(set, '-');
	if (dash && (strcmp(dash, "-lastexternal") == 0 || strcmp(dash, "-firstexternal") == 0))
		return (size_t)(dash - set);
	return strlen(set);
}

void rules_eval_finish(struct scan_rules *s)
{
	static const char email_wl[] =
		"^(?:abuse|support|sales|info|helpdesk|contact|kontakt|(?:post|host|domain)master|undisclosed.*"
		"|request-[a-f0-9]{16}|bounced?-|[a-f0-9]{8}(?:\\.[a-f0-9]{8}|-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-"
		"[a-f0-9]{12})|.+=.+=.+)@";
	char why[200];
	if ((s->fm_domains || s->nfm_wild) && !s->fm_email_wl)
		s->fm_email_wl = rules_regex_raw(email_wl, sizeof email_wl - 1, PCRE2_CASELESS, why, sizeof why);
	/* check_rbl_sub(set, ...) queries the zone of the check_rbl rule that
	 * defines the set: point at that rule's argument (it lives as long as
	 * the rule set) */
	for (size_t i = 0; i < s->nrules; i++) {
		struct rule_eval *ev = s->rules[i].ev;
		if (!ev || ev->fn != EV_RBL_SUB)
			continue;
		size_t bl = set_base_len(ev->args[0]);
		for (size_t k = 0; k < s->nrules && !ev->zone; k++) {
			const struct rule_eval *def = s->rules[k].ev;
			if (def && (def->fn == EV_RBL || def->fn == EV_RBL_TXT) && s->rules[k].defined &&
			    set_base_len(def->args[0]) == bl && strncmp(def->args[0], ev->args[0], bl) == 0)
				ev->zone = def->args[1];
		}
	}
}

/* ------------------------------------------------------------------ DNSBL */

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

static unsigned run_rbl(struct rules_run *run, const struct rule_eval *ev, const struct scan_rules_ctx *c,
			const char *zone, bool txt)
{
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

/* ------------------------------------------------------------------ dates */

static int month_index(const char *s)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	char m[4] = { str_lc(s[0]), str_lc(s[1]), str_lc(s[2]), 0 };
	const char *p = strstr(months, m);
	return p && (p - months) % 3 == 0 ? (int)((p - months) / 3) : -1;
}

/* Zone names of RFC 822 and a few common ones, in minutes east of UTC. */
static int zone_minutes(const char *z, bool *ok)
{
	static const struct {
		const char *n;
		int m;
	} zones[] = { { "UT", 0 },	  { "UTC", 0 },	   { "GMT", 0 },     { "Z", 0 },       { "EST", -300 },
		      { "EDT", -240 }, { "CST", -360 }, { "CDT", -300 }, { "MST", -420 }, { "MDT", -360 },
		      { "PST", -480 }, { "PDT", -420 }, { "CET", 60 },   { "CEST", 120 }, { "BST", 60 } };
	*ok = true;
	if ((z[0] == '+' || z[0] == '-') && all_digits(z + 1, 4)) {
		int v = ((z[1] - '0') * 10 + (z[2] - '0')) * 60 + (z[3] - '0') * 10 + (z[4] - '0');
		return z[0] == '-' ? -v : v;
	}
	for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++)
		if (str_caseeq(z, zones[i].n))
			return zones[i].m;
	*ok = false;
	return 0;
}

/* "[Day,] DD Mon YYYY HH:MM[:SS] [zone]": Unix time, or -1. */
static long long parse_date(const char *s)
{
	char buf[200];
	str_copy(buf, sizeof buf, s);
	char *f[12];
	size_t n = str_split(buf, " \t,\n", f, 12);
	size_t i = 0;
	if (i < n && !(f[i][0] >= '0' && f[i][0] <= '9'))
		i++; /* day name */
	if (i + 3 >= n)
		return -1;
	int day = atoi(f[i]), mon = month_index(f[i + 1]), year = atoi(f[i + 2]);
	int hh = 0, mm = 0, ss = 0;
	if (mon < 0 || day < 1 || day > 31 || sscanf(f[i + 3], "%d:%d:%d", &hh, &mm, &ss) < 2)
		return -1;
	if (year < 50)
		year += 2000;
	else if (year < 1000)
		year += 1900;
	bool ok = true;
	int zm = i + 4 < n ? zone_minutes(f[i + 4], &ok) : 0;
	struct tm tm = { .tm_year = year - 1900, .tm_mon = mon, .tm_mday = day, .tm_hour = hh, .tm_min = mm, .tm_sec = ss };
	return (long long)timegm(&tm) - zm * 60;
}

/* The date of a Received value: after its last ';'. */
static long long received_time(const char *v)
{
	const char *semi = strrchr(v, ';');
	return semi ? parse_date(semi + 1) : -1;
}

/* Date (or Resent-Date) minus the Received date closest to it, in seconds;
 * 0 when either is missing (computed once per check). */
static long long date_diff(struct rules_run *run, const struct scan_msg *m)
{
	if (run->date_diff_done)
		return run->date_diff;
	run->date_diff_done = true;
	run->date_diff = 0;
	long long date = -1;
	const char *const names[] = { "Resent-Date", "Date" };
	for (size_t k = 0; k < 2 && date < 0; k++)
		for (size_t i = 0; i < m->nhdrs && date < 0; i++)
			if (str_caseeq(m->hdrs[i].name, names[k]))
				date = parse_date(m->hdrs[i].value);
	if (date < 0)
		return 0;
	long long diffs[64];
	size_t nd = 0;
	for (size_t i = 0; i < m->nhdrs && nd < 64; i++) {
		if (!str_caseeq(m->hdrs[i].name, "Received"))
			continue;
		long long t = received_time(m->hdrs[i].value);
		if (t >= 0)
			diffs[nd++] = date - t;
	}
	if (nd > 1 && diffs[nd - 1] == 0)
		nd--;
	for (size_t i = 0; i < nd; i++)
		if (i == 0 || llabs(diffs[i]) < llabs(run->date_diff))
			run->date_diff = diffs[i];
	return run->date_diff;
}

static unsigned run_shifted_date(struct rules_run *run, const struct rule_eval *ev, const struct scan_msg *m)
{
	long long diff = date_diff(run, m);
	return (ev->a_open || (double)diff >= 3600 * ev->a) && (ev->b_open || (double)diff < 3600 * ev->b);
}

/* ------------------------------------------------------------------ header checks */


static unsigned run_illegal(struct rules_run *run, const struct rule_eval *ev)
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

static unsigned run_allcaps(struct rules_run *run)
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

static unsigned run_missing_to(struct rules_run *run)
{
	bool present;
	const char *to = rules_run_header(run, "To", 0, &present);
	if (!*to)
		to = rules_run_header(run, "Apparently-To", 0, &present);
	return *to == '\0';
}

/* ------------------------------------------------------------------ body checks */

static unsigned run_uppercase(const struct rule_eval *ev, const struct scan_msg *m)
{
	size_t len = 0, lower = 0, upper = 0;
	for (size_t i = 0; i < m->nbody; i++) {
		const char *s = m->body[i].s;
		size_t n = m->body[i].len;
		bool words = false;
		for (size_t k = 1; k + 1 < n && !words; k++)
			words = (s[k] == ' ' || s[k] == '\t') && s[k - 1] != ' ' && s[k - 1] != '\t';
		if (!words)
			continue;
		len += n;
		for (size_t k = 0; k < n; k++) {
			lower += (s[k] >= 'a' && s[k] <= 'z') || (s[k] >= '0' && s[k] <= '9');
			upper += s[k] >= 'A' && s[k] <= 'Z';
		}
	}
	if (len < 200 || lower + upper == 0)
		return 0;
	double pct = 100.0 * (double)upper / (double)(lower + upper);
	return pct > ev->a && pct <= ev->b;
}


/* ------------------------------------------------------------------ MIME and HTML (MIMEEval, HTMLEval, BodyEval) */

/* MIMEEval's counters over every entity (containers included). */
static unsigned run_mime(const struct rule_eval *ev, const struct scan_msg *m)
{
	size_t n = 0;
	for (size_t i = 0; i < m->nentities; i++) {
		const struct scan_entity *e = &m->entities[i];
		switch ((enum mime_test)ev->test) {
		case MT_ATTACHMENT:
			n += strstr(e->cd, "attachment") != NULL;
			break;
		case MT_BASE64_COUNT:
			n += strstr(e->cte, "base64") != NULL;
			break;
		case MT_QP_COUNT:
			n += !strstr(e->cte, "base64") && strstr(e->cte, "quoted-printable");
			break;
		case MT_HTML_COUNT:
			n += strcmp(e->ctype, "text/html") == 0;
			break;
		case MT_TEXT_COUNT:
			n += strcmp(e->ctype, "text/html") != 0 && strncmp(e->ctype, "text", 4) == 0;
			break;
		case MT_ALTERNATIVE:
			n += strcmp(e->ctype, "multipart/alternative") == 0;
			break;
		}
	}
	return n > 0;
}

/* check_for_mime_html(_only): a top-level Content-Type of text/html, or
 * text/html entities (and, for _only, no other text entity). */
static unsigned run_mime_html(struct rules_run *run, const struct scan_msg *m, bool only)
{
	bool present;
	const char *ct = rules_run_header(run, "Content-Type", 0, &present);
	if (strncasecmp(ct, "text/html", 9) == 0)
		return 1;
	size_t html = 0, text = 0;
	for (size_t i = 0; i < m->nentities; i++) {
		if (strcmp(m->entities[i].ctype, "text/html") == 0)
			html++;
		else if (strncmp(m->entities[i].ctype, "text", 4) == 0)
			text++;
	}
	return html > 0 && (!only || text == 0);
}

/* HTML_MESSAGE: any leaf rendered as HTML. */
static unsigned run_html_test(const struct scan_msg *m)
{
	for (size_t i = 0; i < m->nparts; i++)
		if (m->parts[i].html)
			return 1;
	return 0;
}

static bool tag_end(unsigned char c)
{
	return c == '>' || c == '/' || c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f';
}

/* "<tag" or "</tag" (any case) followed by white space, '>' or '/'. */
static bool has_tag(const unsigned char *d, size_t n, const char *tag)
{
	size_t tl = strlen(tag);
	for (size_t i = 0; i + 1 < n; i++) {
		if (d[i] != '<')
			continue;
		size_t k = i + 1 + (d[i + 1] == '/');
		if (k + tl < n && strncasecmp((const char *)d + k, tag, tl) == 0 && tag_end(d[k + tl]))
			return true;
	}
	return false;
}

/* html_tag_exists(tag): a part rendered as HTML holds the tag. */
static unsigned run_html_tag(const struct rule_eval *ev, const struct scan_msg *m)
{
	for (size_t i = 0; i < m->nparts; i++)
		if (m->parts[i].html && has_tag(m->parts[i].data, m->parts[i].len, ev->args[0]))
			return 1;
	return 0;
}

/* The length of HTML source as SpamAssassin's parser counts it: characters
 * when it decodes the part (UTF-8 or US-ASCII declared, or none, and valid
 * UTF-8), else octets. */
static size_t html_length(const struct scan_part *p)
{
	bool chars = !p->charset || strcasecmp(p->charset, "utf-8") == 0 || strcasecmp(p->charset, "us-ascii") == 0;
	if (!chars || !mail_utf8_valid((const char *)p->data, p->len))
		return p->len;
	size_t n = 0;
	for (size_t i = 0; i < p->len; i++)
		n += (p->data[i] & 0xc0) != 0x80;
	return n;
}

/* html_image_only(min, max): an HTML part with an <img> tag whose source
 * is longer than min and at most max. */
static unsigned run_html_image_only(const struct rule_eval *ev, const struct scan_msg *m)
{
	for (size_t i = 0; i < m->nparts; i++) {
		const struct scan_part *p = &m->parts[i];
		if (!p->html || !has_tag(p->data, p->len, "img"))
			continue;
		double len = (double)html_length(p);
		if (len > ev->a && len <= ev->b)
			return 1;
	}
	return 0;
}

static bool ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Count the white-space separated words of s holding a word character
 * (ASCII alnum, '_', or any non-ASCII byte) into words (word -> count). */
static void count_words(struct map *words, const char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		while (i < n && ws((unsigned char)s[i]))
			i++;
		size_t b = i;
		bool w = false;
		for (; i < n && !ws((unsigned char)s[i]); i++) {
			unsigned char c = (unsigned char)s[i];
			w = w || c >= 0x80 || c == '_' || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
		}
		if (!w)
			continue;
		uintptr_t v = (uintptr_t)map_get(words, s + b, i - b);
		map_put(words, s + b, i - b, (void *)(v + 1));
	}
}

static bool is_text_ctype(const char *ct)
{
	return strncmp(ct, "text", 4) == 0 && !((ct[4] >= 'a' && ct[4] <= 'z') || (ct[4] >= '0' && ct[4] <= '9') || ct[4] == '_');
}

/* BodyEval's madiff: for each multipart/alternative entity, the share of
 * its HTML parts' distinct words that its text parts do not have as often;
 * the largest share (percent) and the word counts of the last such entity. */
static void madiff(struct rules_run *run, const struct scan_msg *m)
{
	if (run->madiff_done)
		return;
	run->madiff_done = true;
	const struct scan_entity *E = m->entities;
	size_t ne = m->nentities;
	/* multipart/alternative with exactly text/html and text/calendar: none */
	if (ne == 3 && strcmp(E[0].ctype, "multipart/alternative") == 0 && strcmp(E[1].ctype, "text/html") == 0 &&
	    strcmp(E[2].ctype, "text/calendar") == 0)
		return;
	for (size_t a = 0; a < ne; a++) {
		if (strcmp(E[a].ctype, "multipart/alternative") != 0)
			continue;
		struct map *html = map_new(), *text = map_new();
		bool img = false;
		for (size_t i = a + 1; i < ne; i++) {
			/* descendants of a: entities whose parent chain reaches a */
			int up = E[i].parent;
			while (up > (int)a)
				up = E[up].parent;
			if (up != (int)a)
				continue;
			if (!E[i].leaf || E[i].part < 0 || !is_text_ctype(E[i].ctype))
				continue;
			const struct scan_part *p = &m->parts[E[i].part];
			if (!p->text)
				continue;
			if (p->html) {
				count_words(html, p->text, p->text_len);
				img = img || has_tag(p->data, p->len, "img");
				if (!map_count(html) && img)
					map_put(html, "\n", 1, (void *)(uintptr_t)1);
			} else {
				count_words(text, p->text, p->text_len);
			}
		}
		size_t orig = map_count(html);
		if (orig) {
			run->madiff_html = orig;
			run->madiff_text = map_count(text);
			size_t left = 0, pos = 0;
			const void *k;
			size_t kl;
			void *v;
			while (map_next(html, &pos, &k, &kl, &v)) {
				uintptr_t t = (uintptr_t)map_get(text, k, kl);
				if (!t || (uintptr_t)v > t)
					left++;
			}
			double d = 100.0 * (double)left / (double)orig;
			if (d > run->madiff)
				run->madiff = d;
		}
		map_free(&html);
		map_free(&text);
	}
}


/* ------------------------------------------------------------------ FreeMail, check_equal_from_domains */

void rules_freemail_directive(struct scan_rules *s, const char *key, const char *value)
{
	bool domains = strcmp(key, "freemail_domains") == 0;
	char *v = xstrdup(value);
	str_lower(v);
	for (char *w = strtok(v, " \t"); w; w = strtok(NULL, " \t")) {
		if (domains) {
			if (w[strspn(w, "abcdefghijklmnopqrstuvwxyz0123456789.*?-")])
				continue; /* FreeMail refuses it */
			if (strpbrk(w, "*?")) {
				s->fm_wild = xrealloc(s->fm_wild, (s->nfm_wild + 1) * sizeof *s->fm_wild);
				s->fm_wild[s->nfm_wild++] = xstrdup(w);
			} else {
				if (!s->fm_domains)
					s->fm_domains = map_new();
				map_puts(s->fm_domains, w, (void *)1);
			}
		} else {
			/* an address or a domain: \w[.@]\w somewhere */
			bool ok = false;
			for (const char *c = w; c[0] && c[1] && c[2] && !ok; c++)
				ok = (c[1] == '.' || c[1] == '@') && (isalnum((unsigned char)c[0]) || c[0] == '_') &&
				     (isalnum((unsigned char)c[2]) || c[2] == '_');
			if (!ok)
				continue;
			if (!s->fm_welcome)
				s->fm_welcome = map_new();
			map_puts(s->fm_welcome, w, (void *)1);
		}
	}
	xfree(v);
}

void rules_freemail_free(struct scan_rules *s)
{
	map_free(&s->fm_domains);
	map_free(&s->fm_welcome);
	for (size_t i = 0; i < s->nfm_wild; i++)
		xfree(s->fm_wild[i]);
	xfree(s->fm_wild);
	pcre2_code_free(s->fm_email_wl);
}

/* FreeMail's wildcards: '*' any run without a dot, '?' any one character. */
static bool wild_match(const char *p, const char *s)
{
	for (; *p; p++, s++) {
		if (*p == '*') {
			for (const char *t = s;; t++) {
				if (wild_match(p + 1, t))
					return true;
				if (!*t || *t == '.')
					return false;
			}
		}
		if (!*s || (*p != '?' && *p != *s))
			return false;
	}
	return *s == '\0';
}

/* email: lower case. */
static bool is_freemail(struct rules_run *run, const char *email)
{
	const struct scan_rules *s = run->s;
	if (!*email)
		return false;
	const char *at = strrchr(email, '@');
	const char *dom = at ? at + 1 : email;
	if (s->fm_welcome && (map_gets(s->fm_welcome, email) || map_gets(s->fm_welcome, dom)))
		return false;
	if (s->fm_email_wl && rules_run_match(run, s->fm_email_wl, email, strlen(email)))
		return false;
	if (!at)
		return false;
	if (s->fm_domains && map_gets(s->fm_domains, dom))
		return true;
	for (size_t i = 0; i < s->nfm_wild; i++)
		if (wild_match(s->fm_wild[i], dom))
			return true;
	return false;
}

/* The first address of the first field name (NULL: no such field). */
static const char *first_addr_of(struct rules_run *run, const char *name)
{
	bool present;
	const char *v = rules_run_header(run, name, HM_ADDR, &present);
	return present ? v : NULL;
}

/* Field name before the Received fields (SpamAssassin ignores a relay's
 * own X-Envelope-From / Envelope-Sender / Return-Path). */
static bool before_received(const struct scan_msg *m, const char *name, bool *present)
{
	*present = false;
	for (size_t i = 0; i < m->nhdrs; i++) {
		if (str_caseeq(m->hdrs[i].name, "Received"))
			return false;
		if (str_caseeq(m->hdrs[i].name, name)) {
			*present = true;
			return true;
		}
	}
	*present = scan_msg_header(m, name) != NULL;
	return false;
}

/* SpamAssassin's EnvelopeFrom:addr: the session's sender, else (no
 * envelope_sender_header here) X-Envelope-From, Envelope-Sender or
 * Return-Path written above every Received field. "" when unknown. */
static const char *envelope_from(struct rules_run *run)
{
	if (run->c && run->c->env_from && *run->c->env_from)
		return run->c->env_from;
	static const char *const names[] = { "X-Envelope-From", "Envelope-Sender", "Return-Path" };
	for (size_t i = 0; i < 3; i++) {
		bool present;
		bool ok = before_received(run->m, names[i], &present);
		if (!present)
			continue;
		if (!ok && i == 0)
			return ""; /* SpamAssassin gives up */
		if (ok)
			return first_addr_of(run, names[i]);
	}
	return "";
}

/* lower-cased copy with runs of dots squeezed (all_from_addrs) */
static char *addr_norm(const char *a, bool squeeze)
{
	char *d = xstrdup(a), *w = d;
	for (const char *c = a; *c; c++) {
		if (squeeze && *c == '.' && w > d && w[-1] == '.')
			continue;
		*w++ = (char)tolower((unsigned char)*c);
	}
	*w = '\0';
	return d;
}

static bool fm_check(struct rules_run *run, const struct rule_eval *ev, const char *addr, bool squeeze)
{
	if (!addr || !*addr)
		return false;
	char *e = addr_norm(addr, squeeze);
	bool hit = is_freemail(run, e) && (!ev->re || rules_run_match(run, ev->re, e, strlen(e)));
	xfree(e);
	return hit;
}

static unsigned run_fm_from(struct rules_run *run, const struct rule_eval *ev)
{
	const char *resent = first_addr_of(run, "Resent-From");
	if (resent && *resent)
		return fm_check(run, ev, resent, true);
	static const char *const names[] = { "From", "Envelope-Sender", "Resent-Sender", "X-Envelope-From" };
	for (size_t i = 0; i < 4; i++)
		if (fm_check(run, ev, first_addr_of(run, names[i]), true))
			return 1;
	return fm_check(run, ev, envelope_from(run), true);
}

static unsigned run_fm_header(struct rules_run *run, const struct rule_eval *ev)
{
	char name[128];
	str_copy(name, sizeof name, ev->args[0]);
	char *colon = strchr(name, ':');
	if (colon)
		*colon = '\0'; /* "Reply-To:addr" is Reply-To:addr */
	if (str_caseeq(name, "EnvelopeFrom"))
		return fm_check(run, ev, envelope_from(run), false);
	return fm_check(run, ev, first_addr_of(run, name), false);
}

/* The domain of addr, cut to its last two labels. */
static bool second_level(const char *addr, char *out, size_t outlen)
{
	const char *at = addr ? strrchr(addr, '@') : NULL;
	if (!at || !at[1])
		return false;
	const char *d = at + 1, *last = strrchr(d, '.');
	if (last && last > d) {
		const char *p = last - 1;
		while (p > d && *p != '.')
			p--;
		if (*p == '.' && p > d && p[1] != '.')
			d = p + 1;
	}
	str_copy(out, outlen, d);
	return true;
}

/* HeaderEval: a gmail.com From without Google's own relay traces. */
static unsigned run_forged_gmail(struct rules_run *run, const struct rule_eval *ev)
{
	bool present;
	const char *from = rules_run_header(run, "From", HM_ADDR, &present);
	if (!rules_run_match(run, ev->res[0], from, strlen(from)))
		return 0;
	const char *xr = rules_run_header(run, "X-Received", 0, &present);
	if (rules_run_match(run, ev->res[1], xr, strlen(xr)) || rules_run_match(run, ev->res[2], xr, strlen(xr)))
		return 0;
	const char *rc = rules_run_header(run, "Received", 0, &present);
	if (rules_run_match(run, ev->res[3], rc, strlen(rc)))
		return 0;
	size_t gms = strlen(rules_run_header(run, "X-Gm-Message-State", 0, &present));
	size_t gss = strlen(rules_run_header(run, "X-Google-Smtp-Source", 0, &present));
	return !(gms >= 60 && gss >= 60);
}

static unsigned run_equal_from_domains(struct rules_run *run)
{
	char a[256], b[256];
	if (!second_level(first_addr_of(run, "From"), a, sizeof a) || !second_level(envelope_from(run), b, sizeof b))
		return 0;
	return !str_caseeq(a, b);
}

/* ------------------------------------------------------------------ dispatch */

unsigned rules_eval_run(const struct rule *r, struct rules_run *run)
{
	const struct rule_eval *ev = r->ev;
	const struct scan_msg *m = run->m;
	const struct scan_rules_ctx *c = run->c;
	switch (ev->fn) {
	case EV_RBL:
		return run_rbl(run, ev, c, ev->args[1], false);
	case EV_RBL_TXT:
		return run_rbl(run, ev, c, ev->args[1], true);
	case EV_RBL_SUB:
		return run_rbl(run, ev, c, ev->zone, false);
	case EV_HDR_COUNT: {
		size_t n = distinct_fields(m, ev->args[0]);
		return (double)n >= ev->a && (double)n <= ev->b;
	}
	case EV_SHIFTED_DATE:
		return run_shifted_date(run, ev, m);
	case EV_ILLEGAL:
		return run_illegal(run, ev);
	case EV_ALLCAPS:
		return run_allcaps(run);
	case EV_MISSING_TO:
		return run_missing_to(run);
	case EV_UPPERCASE:
		return run_uppercase(ev, m);
	case EV_BODY_LEN:
		return m->raw_len >= m->body_off && (double)(m->raw_len - m->body_off) <= ev->a;
	case EV_NO_RELAYS: {
		const struct rules_relays *rl = rules_run_relays(run);
		return !rl->ntrusted && !rl->nuntrusted && !rl->nunparseable;
	}
	case EV_ALL_TRUSTED: {
		const struct rules_relays *rl = rules_run_relays(run);
		return rl->ntrusted && !rl->nuntrusted && !rl->nunparseable;
	}
	case EV_RELAYS_UNPARSEABLE:
		return rules_run_relays(run)->nunparseable != 0;
	case EV_MIME:
		return run_mime(ev, m);
	case EV_MIME_HTML:
		return run_mime_html(run, m, false);
	case EV_MIME_HTML_ONLY:
		return run_mime_html(run, m, true);
	case EV_HTML_TEST:
		return run_html_test(m);
	case EV_HTML_TAG:
		return run_html_tag(ev, m);
	case EV_MADIFF:
		madiff(run, m);
		return (ev->a == 0 || run->madiff > ev->a) && (ev->b_open || run->madiff <= ev->b);
	case EV_FM_FROM:
		return run->s->fm_domains || run->s->nfm_wild ? run_fm_from(run, ev) : 0;
	case EV_FM_HEADER:
		return run->s->fm_domains || run->s->nfm_wild ? run_fm_header(run, ev) : 0;
	case EV_EQUAL_FROM_DOMAINS:
		return run_equal_from_domains(run);
	case EV_FORGED_GMAIL:
		return run_forged_gmail(run, ev);
	case EV_ENV_HDR_FROM_MATCH: {
		const char *from = first_addr_of(run, "From");
		return str_caseeq(envelope_from(run), from ? from : "");
	}
	case EV_HTML_IMAGE_ONLY:
		return run_html_image_only(ev, m);
	case EV_MADIFF_COUNT:
		madiff(run, m);
		return run->madiff_html > ev->b && (double)run->madiff_text / (double)run->madiff_html > ev->a;
	default:
		return 0;
	}
}
