/*
 * scan_rules_eval_body.c - the native eval: functions that read the body
 * and the MIME structure (scan_rules_eval_int.h): check_for_uppercase,
 * check_for_mime, check_for_mime_html(_only), html_test('html'),
 * html_tag_exists, html_image_only and multipart_alternative_difference
 * (_count). Their meaning is listed at the top of scan_rules_eval.c (the
 * parser and dispatch). Pure functions of the check in progress; the
 * multipart/alternative difference is computed once per check.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "base/map.h"
#include "mail/mail_addr.h"
#include "scan/mime/scan_msg.h"
#include "scan/rules/scan_rules_eval_int.h"

/* ------------------------------------------------------------------ body checks */

unsigned rules_eval_body_uppercase(struct rules_run *run, const struct rule_eval *ev)
{
	const struct scan_msg *m = run->m;
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
unsigned rules_eval_body_mime(struct rules_run *run, const struct rule_eval *ev)
{
	const struct scan_msg *m = run->m;
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

/* check_for_ascii_text_illegal(): a text/plain leaf without a charset, or
 * us-ascii, whose undecoded lines hold a NUL, a bare CR or an octet over
 * 0x7F (MIMEEval's mime_ascii_text_illegal; a base64 or quoted-printable
 * body is ASCII as sent, so only 7bit/8bit/binary ones can). */
unsigned rules_eval_body_ascii_text_illegal(struct rules_run *run)
{
	const struct scan_msg *m = run->m;
	for (size_t i = 0; i < m->nentities; i++) {
		const struct scan_entity *e = &m->entities[i];
		if (!e->leaf || e->part < 0 || strcmp(e->ctype, "text/plain") != 0 || strstr(e->cte, "base64") ||
		    strstr(e->cte, "quoted-printable"))
			continue;
		const struct scan_part *p = &m->parts[e->part];
		if (p->charset && strcasecmp(p->charset, "us-ascii") != 0)
			continue;
		for (size_t k = 0; k < p->len; k++) {
			unsigned char c = p->data[k];
			if (c == 0 || c >= 0x80 || (c == '\r' && (k + 1 >= p->len || p->data[k + 1] != '\n')))
				return 1;
		}
	}
	return 0;
}

/* check_for_mime_html(_only): a top-level Content-Type of text/html, or
 * text/html entities (and, for _only, no other text entity). */
unsigned rules_eval_body_mime_html(struct rules_run *run, bool only)
{
	const struct scan_msg *m = run->m;
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
unsigned rules_eval_body_html_test(struct rules_run *run)
{
	const struct scan_msg *m = run->m;
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
unsigned rules_eval_body_html_tag(struct rules_run *run, const struct rule_eval *ev)
{
	const struct scan_msg *m = run->m;
	for (size_t i = 0; i < m->nparts; i++)
		if (m->parts[i].html && has_tag(m->parts[i].data, m->parts[i].len, ev->args[0]))
			return 1;
	return 0;
}

/* The length of HTML source as SpamAssassin's parser counts it: characters
 * when it decodes the part (UTF-8 or US-ASCII declared, or none, and valid
 * UTF-8), else octets. */
size_t rules_eval_html_length(const struct scan_part *p)
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
unsigned rules_eval_body_html_image_only(struct rules_run *run, const struct rule_eval *ev)
{
	const struct scan_msg *m = run->m;
	for (size_t i = 0; i < m->nparts; i++) {
		const struct scan_part *p = &m->parts[i];
		if (!p->html || !has_tag(p->data, p->len, "img"))
			continue;
		double len = (double)rules_eval_html_length(p);
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
void rules_eval_body_madiff(struct rules_run *run)
{
	const struct scan_msg *m = run->m;
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
