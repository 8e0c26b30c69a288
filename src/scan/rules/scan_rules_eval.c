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
 *     closest to it, in hours, in [min, max) ('undef': open end); dates
 *     read as SpamAssassin reads them (scan_rules_eval_date.c)
 *   check_outlook_message_id()  an Outlook Express Message-ID whose time
 *     token matches neither Date nor the oldest Received date
 *   helo_ip_mismatch()  check_for_no_rdns_dotcom_helo()
 *   check_for_forged_yahoo_received_headers()  scan_rules_eval_relay.c
 *   check_bayes(min, max)  the message's Bayes probability (ctx) in
 *     (min, max], min 0 included
 *   html_test(font_low_contrast | font_face_bad | font_invalid_color),
 *   html_range(length | max_size | min_size, min, max),
 *   html_image_ratio(min, max), html_tag_balance(tag, 'OP N'),
 *   html_text_match('anchor', re)  scan_rules_eval_html.c
 *   check_freemail_replyto(['replyto'|'reply']), similar_recipients(min, max)
 *     scan_rules_eval_from.c
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
 *   check_for_ascii_text_illegal()  a us-ascii (or charset-less) text/plain
 *     leaf, not base64 or quoted-printable, with a NUL, bare CR or 8-bit octet
 *   check_for_mime_html()  check_for_mime_html_only()  a top-level
 *     Content-Type text/html, or text/html entities (and no other text type)
 *   html_test('html')  a leaf rendered as HTML (HTML_MESSAGE); its other
 *     tests below
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
 *
 * This file parses the calls and dispatches them; the functions are in
 * scan_rules_eval_hdr.c, scan_rules_eval_date.c, scan_rules_eval_relay.c,
 * scan_rules_eval_body.c and scan_rules_eval_from.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/str.h"
#include "base/xalloc.h"
#include "scan/mime/scan_msg.h"
#include "scan/rules/scan_rules_eval_int.h"

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
	{ "check_outlook_message_id", EV_OUTLOOK_MSGID, 0, 0 },
	{ "helo_ip_mismatch", EV_HELO_IP_MISMATCH, 0, 0 },
	{ "check_for_no_rdns_dotcom_helo", EV_NO_RDNS_DOTCOM_HELO, 0, 0 },
	{ "check_for_forged_yahoo_received_headers", EV_FORGED_YAHOO, 0, 0 },
	{ "check_bayes", EV_BAYES, 2, 2 },
	{ "html_image_ratio", EV_HTML_IMAGE_RATIO, 2, 2 },
	{ "html_range", EV_HTML_RANGE, 3, 3 },
	{ "html_text_match", EV_HTML_TEXT_MATCH, 2, 2 },
	{ "html_tag_balance", EV_HTML_TAG_BALANCE, 2, 2 },
	{ "check_freemail_replyto", EV_FM_REPLYTO, 0, 1 },
	{ "similar_recipients", EV_SIMILAR_RECIPS, 2, 2 },
	{ "check_for_ascii_text_illegal", EV_ASCII_TEXT_ILLEGAL, 0, 0 },
};

static const char *const mime_tests[] = { "mime_attachment",	   "mime_base64_count",	   "mime_qp_count",
					  "mime_body_html_count", "mime_body_text_count", "mime_multipart_alternative" };

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

bool rules_eval_all_digits(const char *s, size_t n)
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
	} else if (rules_eval_all_digits(sub, strlen(sub))) {
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
	case EV_HTML_RANGE: /* length (the HTML source's), max_size, min_size; 'inf' as max: no bound */
		if (strcmp(ev->args[0], "length") == 0)
			ev->test = HR_LENGTH;
		else if (strcmp(ev->args[0], "max_size") == 0)
			ev->test = HR_MAX_SIZE;
		else if (strcmp(ev->args[0], "min_size") == 0)
			ev->test = HR_MIN_SIZE;
		else {
			ev->fn = EV_UNSUPPORTED;
			return 0;
		}
		if (parse_num(ev->args[1], &ev->a, &ev->a_open) < 0 || ev->a_open)
			break;
		if (strcmp(ev->args[2], "inf") == 0)
			ev->b_open = true;
		else if (parse_num(ev->args[2], &ev->b, &ev->b_open) < 0)
			break;
		return 0;
	case EV_HTML_TEXT_MATCH: /* only the anchors' text ('anchor'), SpamAssassin's other kinds unsupported */
		if (strcmp(ev->args[0], "anchor") != 0) {
			ev->fn = EV_UNSUPPORTED;
			return 0;
		}
		if (!(ev->re = rules_regex_raw(ev->args[1], strlen(ev->args[1]), 0, why, whylen)))
			return -1;
		return 0;
	case EV_SHIFTED_DATE:
	case EV_UPPERCASE:
	case EV_HTML_IMAGE_ONLY:
	case EV_BAYES:
	case EV_HTML_IMAGE_RATIO:
	case EV_SIMILAR_RECIPS:
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
		if (strcmp(ev->args[0], "html") == 0)
			return 0; /* HTML_MESSAGE's */
		ev->fn = EV_HTML_TEST_NAMED;
		if (strcmp(ev->args[0], "font_low_contrast") == 0)
			ev->test = HT_FONT_LOW_CONTRAST;
		else if (strcmp(ev->args[0], "font_face_bad") == 0)
			ev->test = HT_FONT_FACE_BAD;
		else if (strcmp(ev->args[0], "font_invalid_color") == 0)
			ev->test = HT_FONT_INVALID_COLOR;
		else
			ev->fn = EV_UNSUPPORTED;
		return 0;
	case EV_FM_REPLYTO: /* 'replyto' (the default) or 'reply' */
		if (ev->nargs && strcmp(ev->args[0], "replyto") != 0 && strcmp(ev->args[0], "reply") != 0) {
			snprintf(why, whylen, "eval:%s: 'replyto' or 'reply'", ev->name);
			return -1;
		}
		ev->test = ev->nargs && strcmp(ev->args[0], "reply") == 0;
		return 0;
	case EV_HTML_TAG_BALANCE: { /* a tag name and "OP N" */
		static const char *const ops[] = { "==", "!=", "<=", ">=", "<", ">" };
		static const int codes[] = { TB_EQ, TB_NE, TB_LE, TB_GE, TB_LT, TB_GT };
		const char *x = ev->args[1];
		while (*x == ' ')
			x++;
		size_t k = 0;
		for (; k < 6 && strncmp(x, ops[k], strlen(ops[k])) != 0; k++)
			;
		if (k == 6 || !ev->args[0][0] || strspn(ev->args[0], "abcdefghijklmnopqrstuvwxyz0123456789") != strlen(ev->args[0]))
			break;
		ev->test = codes[k];
		x += strlen(ops[k]);
		while (*x == ' ')
			x++;
		if (parse_num(x, &ev->a, &ev->a_open) < 0 || ev->a_open)
			break;
		return 0;
	}
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
	rules_eval_date_init(); /* the evals' own patterns: once, before scanners fork */
	rules_eval_relay_init();
	rules_eval_html_init();
	if ((s->fm_domains || s->nfm_wild) && !s->fm_email_wl)
		s->fm_email_wl = rules_regex_raw(email_wl, sizeof email_wl - 1, PCRE2_CASELESS, why, sizeof why);
	if (s->fm_domains || s->nfm_wild)
		rules_eval_from_finish(s);
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

/* ------------------------------------------------------------------ dispatch */

unsigned rules_eval_run(const struct rule *r, struct rules_run *run)
{
	const struct rule_eval *ev = r->ev;
	const struct scan_msg *m = run->m;
	switch (ev->fn) {
	case EV_RBL:
		return rules_eval_hdr_rbl(run, ev, ev->args[1], false);
	case EV_RBL_TXT:
		return rules_eval_hdr_rbl(run, ev, ev->args[1], true);
	case EV_RBL_SUB:
		return rules_eval_hdr_rbl(run, ev, ev->zone, false);
	case EV_HDR_COUNT:
		return rules_eval_hdr_count(run, ev);
	case EV_SHIFTED_DATE:
		return rules_eval_hdr_shifted_date(run, ev);
	case EV_ILLEGAL:
		return rules_eval_hdr_illegal(run, ev);
	case EV_ALLCAPS:
		return rules_eval_hdr_allcaps(run);
	case EV_MISSING_TO:
		return rules_eval_hdr_missing_to(run);
	case EV_UPPERCASE:
		return rules_eval_body_uppercase(run, ev);
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
		return rules_eval_body_mime(run, ev);
	case EV_MIME_HTML:
		return rules_eval_body_mime_html(run, false);
	case EV_MIME_HTML_ONLY:
		return rules_eval_body_mime_html(run, true);
	case EV_HTML_TEST:
		return rules_eval_body_html_test(run);
	case EV_HTML_TAG:
		return rules_eval_body_html_tag(run, ev);
	case EV_MADIFF:
		rules_eval_body_madiff(run);
		return (ev->a == 0 || run->madiff > ev->a) && (ev->b_open || run->madiff <= ev->b);
	case EV_FM_FROM:
		return run->s->fm_domains || run->s->nfm_wild ? rules_eval_from_freemail(run, ev) : 0;
	case EV_FM_HEADER:
		return run->s->fm_domains || run->s->nfm_wild ? rules_eval_from_freemail_header(run, ev) : 0;
	case EV_EQUAL_FROM_DOMAINS:
		return rules_eval_from_equal_domains(run);
	case EV_FORGED_GMAIL:
		return rules_eval_from_forged_gmail(run, ev);
	case EV_OUTLOOK_MSGID:
		return rules_eval_hdr_outlook_msgid(run);
	case EV_HELO_IP_MISMATCH:
		return rules_eval_relay_helo_ip_mismatch(run);
	case EV_NO_RDNS_DOTCOM_HELO:
		return rules_eval_relay_no_rdns_dotcom_helo(run);
	case EV_FORGED_YAHOO:
		return rules_eval_relay_forged_yahoo(run);
	case EV_ENV_HDR_FROM_MATCH:
		return rules_eval_from_env_match(run);
	case EV_HTML_IMAGE_ONLY:
		return rules_eval_body_html_image_only(run, ev);
	case EV_HTML_IMAGE_RATIO:
		return rules_eval_html_image_ratio(run, ev);
	case EV_HTML_RANGE:
		return rules_eval_html_range(run, ev);
	case EV_HTML_TEXT_MATCH:
		return rules_eval_html_anchor_match(run, ev);
	case EV_HTML_TEST_NAMED:
		return rules_eval_html_test_named(run, ev);
	case EV_SIMILAR_RECIPS:
		return rules_eval_from_similar_recipients(run, ev);
	case EV_ASCII_TEXT_ILLEGAL:
		return rules_eval_body_ascii_text_illegal(run);
	case EV_FM_REPLYTO:
		return run->s->fm_domains || run->s->nfm_wild ? rules_eval_from_freemail_replyto(run, ev) : 0;
	case EV_HTML_TAG_BALANCE:
		return rules_eval_html_tag_balance(run, ev);
	case EV_BAYES: /* SpamAssassin's check_bayes: (min, max], min 0 closed */
		if (!run->c || !run->c->bayes_known)
			return 0;
		return (ev->a == 0 || run->c->bayes_prob > ev->a) && (ev->b_open || run->c->bayes_prob <= ev->b);
	case EV_MADIFF_COUNT:
		rules_eval_body_madiff(run);
		return run->madiff_html > ev->b && (double)run->madiff_text / (double)run->madiff_html > ev->a;
	default:
		return 0;
	}
}
