/*
 * scan_rules_eval_int.h - private to rules/: a parsed eval: rule (struct
 * rule_eval) and the native functions, shared by the parser and dispatch
 * (scan_rules_eval.c) and the three files that implement the functions:
 * scan_rules_eval_hdr.c (DNSBL, dates, header fields), scan_rules_eval_body.c
 * (body text, MIME structure, HTML) and scan_rules_eval_from.c (FreeMail and
 * the sender checks). Each function reads the message of a check in
 * progress (struct rules_run) and returns its hits (0 or 1).
 */
#ifndef SCAN_RULES_SCAN_RULES_EVAL_INT_H
#define SCAN_RULES_SCAN_RULES_EVAL_INT_H

#include <stdbool.h>
#include <stddef.h>

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
	EV_OUTLOOK_MSGID,
	EV_HELO_IP_MISMATCH,
	EV_NO_RDNS_DOTCOM_HELO,
	EV_FORGED_YAHOO,
	EV_BAYES,
	EV_HTML_IMAGE_RATIO,
	EV_HTML_RANGE,
	EV_HTML_TEXT_MATCH,
	EV_HTML_TEST_NAMED,
	EV_HTML_TAG_BALANCE,
	EV_FM_REPLYTO,
	EV_SIMILAR_RECIPS,
	EV_ASCII_TEXT_ILLEGAL,
};

/* html_test() names, html_range() values and html_tag_balance() operators (in rule_eval.test). */
enum { HT_FONT_LOW_CONTRAST, HT_FONT_FACE_BAD, HT_FONT_INVALID_COLOR };
enum { HR_LENGTH, HR_MAX_SIZE, HR_MIN_SIZE };
enum { TB_EQ, TB_NE, TB_LT, TB_GT, TB_LE, TB_GE };

/* check_for_mime() tests computed here (others are unsupported). */
enum mime_test { MT_ATTACHMENT, MT_BASE64_COUNT, MT_QP_COUNT, MT_HTML_COUNT, MT_TEXT_COUNT, MT_ALTERNATIVE };

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
	int test;	  /* check_for_mime: enum mime_test; the html functions: HT_, HR_, TB_ */
	pcre2_code *res[4]; /* fixed patterns of a function */
};

/* scan_rules_eval.c: s[0..n) is one or more ASCII digits. */
bool rules_eval_all_digits(const char *s, size_t n);

/* scan_rules_eval_hdr.c */
/* check_rbl / _txt / _sub: an answer (TXT: txt) of zone for the client. */
unsigned rules_eval_hdr_rbl(struct rules_run *run, const struct rule_eval *ev, const char *zone, bool txt);
unsigned rules_eval_hdr_count(struct rules_run *run, const struct rule_eval *ev);
/* scan_rules_eval_from.c: SpamAssassin's EnvelopeFrom:addr: the session's
 * sender, else (no envelope_sender_header here; the relays' envelope-from
 * not yet) nothing when an X-Sender address sits beside a fetchmail hop,
 * else X-Envelope-From, Envelope-Sender or Return-Path written above every
 * Received field. "" when unknown. */
const char *rules_eval_envelope_from(struct rules_run *run);

/* scan_rules_eval_relay.c: on the untrusted relays and the Received text */
unsigned rules_eval_relay_helo_ip_mismatch(struct rules_run *run);
unsigned rules_eval_relay_no_rdns_dotcom_helo(struct rules_run *run);
unsigned rules_eval_relay_forged_yahoo(struct rules_run *run);

/* scan_rules_eval_date.c: SpamAssassin's date parser (Unix time or -1) and the date evals */
long long rules_eval_date_parse(const char *s);
/* The fixed patterns of the date and relay evals compiled now (at load, not in each scanner). */
void rules_eval_date_init(void);
void rules_eval_relay_init(void);
unsigned rules_eval_hdr_shifted_date(struct rules_run *run, const struct rule_eval *ev);
unsigned rules_eval_hdr_outlook_msgid(struct rules_run *run);
unsigned rules_eval_hdr_illegal(struct rules_run *run, const struct rule_eval *ev);
unsigned rules_eval_hdr_allcaps(struct rules_run *run);
unsigned rules_eval_hdr_missing_to(struct rules_run *run);

/* scan_rules_eval_body.c */
unsigned rules_eval_body_uppercase(struct rules_run *run, const struct rule_eval *ev);
unsigned rules_eval_body_mime(struct rules_run *run, const struct rule_eval *ev);
unsigned rules_eval_body_ascii_text_illegal(struct rules_run *run);
unsigned rules_eval_body_mime_html(struct rules_run *run, bool only);
unsigned rules_eval_body_html_test(struct rules_run *run);
unsigned rules_eval_body_html_tag(struct rules_run *run, const struct rule_eval *ev);
unsigned rules_eval_body_html_image_only(struct rules_run *run, const struct rule_eval *ev);
/* html_image_ratio(min, max), html_range('length', min, max),
 * html_text_match('anchor', re): scan_rules_eval_html.c */
unsigned rules_eval_html_image_ratio(struct rules_run *run, const struct rule_eval *ev);
unsigned rules_eval_html_range(struct rules_run *run, const struct rule_eval *ev);
unsigned rules_eval_html_anchor_match(struct rules_run *run, const struct rule_eval *ev);
unsigned rules_eval_html_test_named(struct rules_run *run, const struct rule_eval *ev);
unsigned rules_eval_html_tag_balance(struct rules_run *run, const struct rule_eval *ev);
/* The mailto: addresses of the HTML parts' <a href>s (lower case), once per check. */
size_t rules_eval_html_mailtos(struct rules_run *run, const char *const **out);
/* scan_rules_eval_from.c: check_freemail_replyto; its patterns compiled at load. */
unsigned rules_eval_from_freemail_replyto(struct rules_run *run, const struct rule_eval *ev);
unsigned rules_eval_from_similar_recipients(struct rules_run *run, const struct rule_eval *ev);
/* scan_rules_eval_color.c: an HTML colour as "#rrggbb" or "invalid" into out. */
void rules_html_color(const char *in, char out[16]);
/* Its fixed pattern compiled at load; the analyses of a check freed. */
void rules_eval_html_init(void);
void rules_eval_html_free(struct rules_run *run);
/* scan_rules_eval_body.c: the length of an HTML part as SpamAssassin's parser counts it. */
struct scan_part;
size_t rules_eval_html_length(const struct scan_part *p);
/* multipart_alternative_difference: fills run->madiff* once per check. */
void rules_eval_body_madiff(struct rules_run *run);

/* scan_rules_eval_from.c (the FreeMail settings: scan_rules_int.h) */
unsigned rules_eval_from_freemail(struct rules_run *run, const struct rule_eval *ev);
unsigned rules_eval_from_freemail_header(struct rules_run *run, const struct rule_eval *ev);
unsigned rules_eval_from_equal_domains(struct rules_run *run);
unsigned rules_eval_from_forged_gmail(struct rules_run *run, const struct rule_eval *ev);
unsigned rules_eval_from_env_match(struct rules_run *run);

#endif
