/*
 * scan_rules.c - scoring a message with a loaded rule set.
 *
 * One pass per rule type: header rules read the header texts SpamAssassin
 * would build (built once per message and name, cached for the check),
 * body rules each element of body[], rawbody rules each of rawbody[], full
 * rules the raw message, uri rules each URI; then native evals; then metas
 * in dependency order. A rule stops at its first hit unless it has tflags
 * multiple (then every match counts, up to maxhits or
 * SCAN_RULES_MAXHITS_MAX). Each hit of a scored rule adds its score.
 *
 * Header texts, as SpamAssassin's get(): every field of that name, each
 * value followed by "\n"; absent fields read as "" (or the [if-unset:]
 * text). :addr and :name take the first address or display name, without
 * the newline. ALL is "Name: value\n" for each field (ALL:raw with the
 * original folding).
 *
 * Body rules read at most SCAN_RULES_BODY_SCAN_MAX octets of each body[]
 * element, rawbody rules SCAN_RULES_RAWBODY_SCAN_MAX of each rawbody[] one
 * (SpamAssassin's body_part_scan_size and rawbody_part_scan_size).
 *
 * Match limits: a regex stopped by the match or depth limit counts as no
 * match (result.limited says how often).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/map.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "scan/rules/scan_rules_eval_int.h"
#include "scan/rules/scan_rules_int.h"

struct hval {
	char *s; /* NULL: absent */
};

/* ------------------------------------------------------------------ matching */

/* One match of re (8-bit) or re32 (32-bit units, on run->wide) from off:
 * PCRE2's result, and the match's start and end in *start, *end. */
static int match_once(struct rules_run *run, const pcre2_code *re, const pcre2_code_32 *re32, const char *s,
		      size_t len, PCRE2_SIZE off, PCRE2_SIZE *start, PCRE2_SIZE *end)
{
	int rc;
	PCRE2_SIZE *ov;
	if (re32) {
		rc = pcre2_match_32(re32, run->wide, len, off, 0, run->md32, run->s->mctx32);
		ov = pcre2_get_ovector_pointer_32(run->md32);
	} else {
		rc = pcre2_match(re, (PCRE2_SPTR)s, len, off, 0, run->md, run->s->mctx);
		ov = pcre2_get_ovector_pointer(run->md);
	}
	*start = ov[0];
	*end = ov[1];
	return rc;
}

/* Number of matches in s[0..len) (at most max) of re, or of re32 when set:
 * a pattern compiled for 32-bit units (too large for 8-bit PCRE2) matches
 * the subject widened octet by octet. */
static unsigned count_matches(struct rules_run *run, const pcre2_code *re, const pcre2_code_32 *re32, const char *s,
			      size_t len, unsigned max)
{
	if (re32) {
		if (!run->md32)
			run->md32 = pcre2_match_data_create_32(16, NULL);
		if (run->wide_cap < len + 1) {
			run->wide_cap = len + 1;
			run->wide = xrealloc(run->wide, run->wide_cap * sizeof *run->wide);
		}
		for (size_t i = 0; i < len; i++)
			run->wide[i] = (unsigned char)s[i];
	}
	unsigned n = 0;
	PCRE2_SIZE off = 0, start, end;
	while (n < max && off <= len) {
		int rc = match_once(run, re, re32, s, len, off, &start, &end);
		if (rc < 0) {
			if (rc != PCRE2_ERROR_NOMATCH)
				run->limited++;
			break;
		}
		n++;
		off = end > start ? end : end + 1; /* an empty match moves on one octet */
	}
	return n;
}

/* A regex rule's matches in s. */
static unsigned rule_matches(struct rules_run *run, const struct rule *r, const char *s, size_t len, unsigned max)
{
	return count_matches(run, r->re, r->re32, s, len, max);
}

bool rules_run_match(struct rules_run *run, const pcre2_code *re, const char *s, size_t len)
{
	return count_matches(run, re, NULL, s, len, 1) > 0;
}

bool rules_run_match_at(struct rules_run *run, const pcre2_code *re, const char *s, size_t len, size_t start)
{
	PCRE2_SIZE b, e;
	if (start > len)
		return false;
	int rc = match_once(run, re, NULL, s, len, start, &b, &e);
	if (rc < 0 && rc != PCRE2_ERROR_NOMATCH)
		run->limited++;
	return rc >= 0;
}

static unsigned rule_max(const struct rule *r)
{
	if (!(r->tflags & TF_MULTIPLE))
		return 1;
	return r->maxhits ? r->maxhits : SCAN_RULES_MAXHITS_MAX;
}

/* ------------------------------------------------------------------ header texts */

/* First address of a header value: <...>, else the first word with an '@'
 * (comments removed). Appends it to b. */
static void first_addr(const char *v, struct buf *b, bool want_name)
{
	const char *lt = NULL;
	bool q = false;
	int paren = 0;
	for (const char *p = v; *p; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			continue;
		}
		if (*p == '"' && !paren)
			q = !q;
		else if (!q && *p == '(')
			paren++;
		else if (!q && *p == ')' && paren)
			paren--;
		else if (!q && !paren && *p == '<') {
			lt = p;
			break;
		} else if (!q && !paren && *p == ',')
			break;
	}
	if (lt && !want_name) {
		const char *gt = strchr(lt, '>');
		size_t n = gt ? (size_t)(gt - lt - 1) : strlen(lt + 1);
		buf_append(b, lt + 1, n);
		return;
	}
	if (lt) { /* display name: the text before '<', unquoted */
		struct buf t;
		buf_init(&t);
		buf_puts(&t, ""); /* data is never NULL, even for "<addr>" alone */
		for (const char *p = v; p < lt; p++)
			if (*p != '"')
				buf_putc(&t, *p);
		char *n = str_trim(t.data);
		size_t nl = strlen(n);
		if (nl >= 2 && n[0] == '\'' && n[nl - 1] == '\'') {
			n++;
			nl -= 2;
		}
		buf_append(b, n, nl);
		buf_fini(&t);
		return;
	}
	/* bare address, maybe "addr (Name)"; "group: addr, addr;" */
	const char *p = v;
	const char *colon = strchr(v, ':');
	if (colon && (!strchr(v, '@') || colon < strchr(v, '@')))
		p = colon + 1;
	p += strspn(p, " \t\n");
	size_t n = strcspn(p, " \t\n,;(");
	if (!want_name) {
		buf_append(b, p, n);
		return;
	}
	const char *c = strchr(p + n, '(');
	if (c) {
		const char *e = strchr(c, ')');
		buf_append(b, c + 1, e ? (size_t)(e - c - 1) : strlen(c + 1));
	}
}

static void append_named(const struct scan_msg *m, const char *name, bool raw, struct buf *b, bool *present)
{
	for (size_t i = 0; i < m->nhdrs; i++) {
		const struct scan_hdr *h = &m->hdrs[i];
		if (!str_caseeq(h->name, name))
			continue;
		const char *v = raw ? h->raw : h->value;
		if (raw)
			v += strspn(v, " \t");
		buf_puts(b, v ? v : "");
		buf_putc(b, '\n');
		*present = true;
	}
}

/* The first field a :addr or :name rule reads (folding turned into spaces;
 * display names are read from the decoded value). */
static char *first_field(struct rules_run *run, enum hdr_kind kind, const char *name, unsigned mods)
{
	const struct scan_msg *m = run->m;
	if (kind == HK_ENVFROM)
		return xstrdup(rules_eval_envelope_from(run));
	for (size_t i = 0; i < m->nhdrs; i++) {
		const struct scan_hdr *h = &m->hdrs[i];
		bool match = kind == HK_NAME ? str_caseeq(h->name, name)
					     : (str_caseeq(h->name, "To") || str_caseeq(h->name, "Cc"));
		if (!match)
			continue;
		char *v = xstrdup((mods & HM_NAME) ? h->value : h->raw);
		for (char *p = v; *p; p++)
			if (*p == '\n' || *p == '\r')
				*p = ' ';
		return v;
	}
	return xstrdup("");
}

static char *build_header(struct rules_run *run, enum hdr_kind kind, const char *name, unsigned mods)
{
	const struct scan_msg *m = run->m;
	struct buf b;
	buf_init(&b);
	bool raw = mods & HM_RAW, present = false;
	static const char *const msgids[] = { "X-Message-Id", "Resent-Message-Id", "X-Original-Message-ID",
					      "Message-Id" };
	switch (kind) {
	case HK_ALL:
		for (size_t i = 0; i < m->nhdrs; i++) {
			const struct scan_hdr *h = &m->hdrs[i];
			buf_printf(&b, raw ? "%s:%s\n" : "%s: %s\n", h->name, raw ? h->raw : h->value);
		}
		present = true;
		break;
	case HK_TOCC:
		append_named(m, "To", raw, &b, &present);
		append_named(m, "Cc", raw, &b, &present);
		break;
	case HK_MSGID:
		for (size_t i = 0; i < 4; i++)
			append_named(m, msgids[i], raw, &b, &present);
		break;
	case HK_ENVFROM: {
		const char *ef = rules_eval_envelope_from(run); /* the session's, else the header fields' */
		if (*ef) {
			buf_puts(&b, ef);
			buf_putc(&b, '\n');
			present = true;
		}
		break;
	}
	default:
		if (str_caseprefix(name, "X-Spam-Relays-")) {
			/* SpamAssassin's metadata, replacing any such field */
			const struct rules_relays *rl = rules_run_relays(run);
			const char *w = name + 14;
			if (str_caseeq(w, "Trusted") || str_caseeq(w, "Internal"))
				buf_puts(&b, rl->trusted);
			else if (str_caseeq(w, "Untrusted") || str_caseeq(w, "External"))
				buf_puts(&b, rl->untrusted);
			present = str_caseeq(w, "Trusted") || str_caseeq(w, "Internal") || str_caseeq(w, "Untrusted") ||
				  str_caseeq(w, "External");
			if (present)
				break;
		}
		append_named(m, name, raw || (mods & HM_ADDR), &b, &present);
		break;
	}
	if (present && (mods & (HM_ADDR | HM_NAME))) {
		struct buf a;
		buf_init(&a);
		char *line = first_field(run, kind, name, mods);
		first_addr(line, &a, mods & HM_NAME);
		xfree(line);
		buf_fini(&b);
		b = a;
	}
	if (!present) {
		buf_fini(&b);
		return NULL;
	}
	if (!b.data)
		buf_puts(&b, "");
	return buf_steal(&b, NULL);
}

enum hdr_kind rules_header_kind(const char *name)
{
	if (strcmp(name, "ALL") == 0)
		return HK_ALL;
	if (str_caseeq(name, "ToCc"))
		return HK_TOCC;
	if (strcmp(name, "MESSAGEID") == 0)
		return HK_MSGID;
	if (str_caseeq(name, "EnvelopeFrom"))
		return HK_ENVFROM;
	return HK_NAME;
}

void rules_header_key(enum hdr_kind kind, unsigned mods, const char *name, char *key, size_t size)
{
	snprintf(key, size, "%d:%u:%s", (int)kind, mods, name ? name : "");
	str_lower(key);
}

/* The text of a header target, built once per message (key: rules_header_key). */
static const char *header_text(struct rules_run *run, const char *key, enum hdr_kind kind, const char *name,
			       unsigned mods, bool *present)
{
	struct hval *hv = map_gets(run->hcache, key);
	if (!hv) {
		hv = xmalloc(sizeof *hv);
		hv->s = build_header(run, kind, name, mods);
		map_puts(run->hcache, key, hv);
	}
	*present = hv->s != NULL;
	return hv->s ? hv->s : "";
}

const struct rules_relays *rules_run_relays(struct rules_run *run)
{
	if (!run->relays_done) {
		rules_relays_parse(run->m, &run->relays);
		run->relays_done = true;
	}
	return &run->relays;
}

const char *rules_run_header(struct rules_run *run, const char *name, unsigned mods, bool *present)
{
	enum hdr_kind kind = rules_header_kind(name); /* as in header rules */
	char key[RULES_HKEY_MAX];
	rules_header_key(kind, mods, name, key, sizeof key);
	return header_text(run, key, kind, name, mods, present);
}

/* ------------------------------------------------------------------ rule types */

static unsigned run_header(struct rules_run *run, const struct rule *r)
{
	bool present;
	const char *v = header_text(run, r->hkey, r->hkind, r->hname, r->hmods, &present);
	if (r->exists)
		return present;
	if (!present && r->if_unset)
		v = r->if_unset;
	unsigned n = rule_matches(run, r, v, strlen(v), r->negate ? 1 : rule_max(r));
	if (r->negate)
		return n == 0;
	return n;
}

static unsigned run_texts(struct rules_run *run, const struct rule *r, const struct scan_text *t, size_t nt,
			  size_t scan_max)
{
	unsigned max = rule_max(r), n = 0;
	for (size_t i = 0; i < nt && n < max; i++)
		n += rule_matches(run, r, t[i].s, t[i].len < scan_max ? t[i].len : scan_max, max - n);
	return n;
}

static unsigned run_uris(struct rules_run *run, const struct rule *r)
{
	unsigned max = rule_max(r), n = 0;
	for (size_t i = 0; i < run->m->nuris && n < max; i++)
		n += rule_matches(run, r, run->m->uris[i], strlen(run->m->uris[i]), max - n);
	return n;
}

/* MIMEHeader: the first field of the name in each entity (if-unset when
 * none); a negated rule hits when no entity matches. */
static unsigned run_mimeheader(struct rules_run *run, const struct rule *r)
{
	const struct scan_msg *m = run->m;
	unsigned max = rule_max(r), n = 0;
	for (size_t i = 0; i < m->nentities && n < max; i++) {
		const struct scan_entity *e = &m->entities[i];
		const char *v = NULL;
		for (size_t k = 0; k < e->nhdrs && !v; k++)
			if (str_caseeq(e->hdrs[k].name, r->hname))
				v = (r->hmods & HM_RAW) ? e->hdrs[k].raw : e->hdrs[k].value;
		if (!v)
			v = r->if_unset;
		if (!v)
			continue;
		unsigned c = rule_matches(run, r, v, strlen(v), max - n);
		if (c && r->negate)
			return 0;
		n += c;
	}
	return r->negate ? 1 : n;
}

static unsigned run_rule(struct rules_run *run, const struct rule *r)
{
	if (r->ev)
		return rules_eval_run(r, run);
	switch (r->type) {
	case RT_HEADER:
		return run_header(run, r);
	case RT_BODY:
		if ((r->tflags & TF_NOSUBJECT) && run->m->nbody > 0)
			return run_texts(run, r, run->m->body + 1, run->m->nbody - 1, SCAN_RULES_BODY_SCAN_MAX);
		return run_texts(run, r, run->m->body, run->m->nbody, SCAN_RULES_BODY_SCAN_MAX);
	case RT_RAWBODY:
		return run_texts(run, r, run->m->rawbody, run->m->nrawbody, SCAN_RULES_RAWBODY_SCAN_MAX);
	case RT_FULL:
		return rule_matches(run, r, run->m->raw ? run->m->raw : "", run->m->raw_len, rule_max(r));
	case RT_URI:
		return run_uris(run, r);
	case RT_MIMEHEADER:
		return run_mimeheader(run, r);
	default:
		return 0;
	}
}

static void free_hcache(struct map **mp)
{
	size_t pos = 0;
	const void *k;
	size_t kl;
	void *v;
	while (map_next(*mp, &pos, &k, &kl, &v)) {
		struct hval *hv = v;
		xfree(hv->s);
		xfree(hv);
	}
	map_free(mp);
}

/* The hits of the score set in use: with Bayes (ctx bayes_ready) or not.
 * A rule whose score is 0 in that set is not reported (SpamAssassin does
 * not run it). */
static void collect(const struct scan_rules *s, const unsigned *hits, bool bayes, struct scan_rules_result *out)
{
	size_t n = 0;
	for (size_t i = 0; i < s->nrules; i++)
		n += hits[i] && s->rules[i].scored && s->rules[i].enabled;
	out->hits = xcalloc(n + 1, sizeof *out->hits);
	for (size_t i = 0; i < s->nrules; i++) {
		const struct rule *r = &s->rules[i];
		double sc = bayes ? r->score_b : r->score;
		if (!hits[i] || !r->scored || !r->enabled || sc == 0)
			continue;
		unsigned cnt = (r->tflags & TF_MULTIPLE) ? hits[i] : 1;
		struct scan_rules_hit *h = &out->hits[out->nhits++];
		h->name = r->name;
		h->describe = r->describe ? r->describe : "";
		h->count = cnt;
		h->score = sc * cnt;
		out->score += h->score;
	}
	out->required = s->required;
	out->spam = out->score >= s->required;
	rules_autolearn(s, hits, bayes, out);
}

int scan_rules_check(const struct scan_rules *s, const struct scan_msg *m, const struct scan_rules_ctx *c,
		     struct scan_rules_result *out)
{
	memset(out, 0, sizeof *out);
	struct rules_run run = { .s = s, .m = m, .c = c };
	run.md = pcre2_match_data_create(2, NULL);
	run.hits = xcalloc(s->nrules + 1, sizeof *run.hits);
	run.hcache = map_new();
	for (int t = 0; t < RT_META; t++)
		for (size_t k = 0; k < s->nby_type[t]; k++) {
			size_t i = s->by_type[t][k];
			run.hits[i] = run_rule(&run, &s->rules[i]);
		}
	for (size_t k = 0; k < s->nmeta_order; k++) {
		size_t i = s->meta_order[k];
		double v = rules_meta_eval(&s->rules[i], run.hits);
		run.hits[i] = v == 0 ? 0 : (v >= 1 && v < 1e6 ? (unsigned)v : 1);
	}
	collect(s, run.hits, s->bayes_on && c && c->bayes_ready, out);
	out->limited = run.limited;
	if (run.limited)
		log_info("event=rules_match_limited count=%zu", run.limited);
	free_hcache(&run.hcache);
	rules_eval_html_free(&run);
	rules_eval_from_run_free(&run);
	if (run.relays_done)
		rules_relays_free(&run.relays);
	xfree(run.hits);
	pcre2_match_data_free(run.md);
	pcre2_match_data_free_32(run.md32);
	xfree(run.wide);
	return 0;
}

void scan_rules_result_fini(struct scan_rules_result *out)
{
	xfree(out->hits);
	memset(out, 0, sizeof *out);
}
