/*
 * scan_act.c - what is done with a scanned message: the action lists of
 * the categories, Subject tags and result headers, cleaned copies.
 *
 * Header edits work on the raw header section (CRLF lines) and touch only
 * the fields they change: result headers of our names that came from
 * outside are removed (they could be forged), ours are added at the end of
 * the header section, the Subject gets the tags of every category found
 * (in precedence order) when the deciding category's actions say "tag".
 * A tag already in the decoded Subject is not added again. Lines stay
 * under 998 octets (RFC 5322 2.1.1): a tag that would make the first line
 * longer is folded onto a line of its own.
 */
#include "scan/scan.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "scan/mime/scan_msg.h"

#define LINE_MAX_OCTETS 998

/* ------------------------------------------------------------ action lists */

static const struct {
	const char *name;
	unsigned flag;
} act_names[] = {
	{ "deliver", SCAN_ACT_DELIVER }, { "tag", SCAN_ACT_TAG },	   { "deliver-cleaned", SCAN_ACT_CLEAN },
	{ "quarantine", SCAN_ACT_QUARANTINE }, { "drop", SCAN_ACT_DROP }, { "reject", SCAN_ACT_REJECT },
};

int scan_actions_parse(const char *s, struct scan_actions *a, char *err, size_t errlen)
{
	memset(a, 0, sizeof *a);
	char *copy = xstrdup(s);
	char *save = NULL;
	int rc = 0;
	for (char *w = strtok_r(copy, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save)) {
		unsigned f = 0;
		for (size_t i = 0; i < sizeof act_names / sizeof act_names[0]; i++)
			if (strcasecmp(w, act_names[i].name) == 0)
				f = act_names[i].flag;
		if (!f && strncasecmp(w, "redirect:", 9) == 0) {
			if (!strchr(w + 9, '@') || a->redirect) {
				snprintf(err, errlen, "\"%s\": redirect needs one address (redirect:user@domain)", w);
				rc = -1;
				break;
			}
			a->redirect = xstrdup(w + 9);
			f = SCAN_ACT_REDIRECT;
		}
		if (!f) {
			snprintf(err, errlen,
				 "unknown action \"%s\" (deliver, tag, deliver-cleaned, quarantine, redirect:ADDRESS, "
				 "drop, reject)",
				 w);
			rc = -1;
			break;
		}
		a->flags |= f;
	}
	xfree(copy);
	unsigned out = SCAN_ACT_DELIVER | SCAN_ACT_CLEAN | SCAN_ACT_REDIRECT;
	if (rc == 0 && !(a->flags & (out | SCAN_ACT_QUARANTINE | SCAN_ACT_DROP | SCAN_ACT_REJECT))) {
		snprintf(err, errlen, "\"%s\": says neither deliver, deliver-cleaned, redirect, quarantine, drop nor reject",
			 s);
		rc = -1;
	}
	if (rc == 0 && (a->flags & SCAN_ACT_DROP) && (a->flags & (out | SCAN_ACT_REJECT))) {
		snprintf(err, errlen, "\"%s\": drop cannot be combined with delivering or rejecting", s);
		rc = -1;
	}
	if (rc == 0 && (a->flags & SCAN_ACT_REJECT) && (a->flags & out)) {
		snprintf(err, errlen, "\"%s\": reject cannot be combined with delivering", s);
		rc = -1;
	}
	if (rc < 0)
		scan_actions_fini(a);
	return rc;
}

void scan_actions_fini(struct scan_actions *a)
{
	xfree(a->redirect);
	memset(a, 0, sizeof *a);
}

void scan_actions_format(unsigned flags, const char *redirect, struct buf *out)
{
	bool first = true;
	for (size_t i = 0; i < sizeof act_names / sizeof act_names[0]; i++) {
		if (flags & act_names[i].flag) {
			buf_printf(out, "%s%s", first ? "" : ",", act_names[i].name);
			first = false;
		}
	}
	if (flags & SCAN_ACT_REDIRECT) {
		buf_printf(out, "%sredirect:%s", first ? "" : ",", redirect ? redirect : "");
		first = false;
	}
	if (first)
		buf_puts(out, "none");
}

/* ------------------------------------------------------------ header section */

/* One of our result header fields (name[0..n)), which must not come from outside. */
static bool ours(const struct scan_policy *p, const char *name, size_t n)
{
	static const char *spam_suffix[] = { "-Status", "-Flag", "-Score", "-Level", "-Report" };
	size_t hp = strlen(p->header_prefix);
	if (hp && n > hp && strncasecmp(name, p->header_prefix, hp) == 0 && name[hp] == '-')
		return true;
	size_t sp = strlen(p->spam_prefix);
	if (sp && n > sp && strncasecmp(name, p->spam_prefix, sp) == 0) {
		for (size_t i = 0; i < sizeof spam_suffix / sizeof spam_suffix[0]; i++) {
			size_t sl = strlen(spam_suffix[i]);
			if (n - sp == sl && strncasecmp(name + sp, spam_suffix[i], sl) == 0)
				return true;
		}
	}
	return false;
}

/* ------------------------------------------------------------ Subject tags */

static bool has_tag(const char *decoded, const char *tag)
{
	return decoded && tag[0] && strstr(decoded, tag) != NULL;
}

void scan_tag_subject(const char *field, size_t flen, const char *decoded, const char *tag, bool at_end,
		      struct buf *out)
{
	if (!field || flen == 0) {
		buf_printf(out, "Subject: %s\r\n", tag);
		return;
	}
	if (has_tag(decoded, tag) || !tag[0]) {
		buf_append(out, field, flen);
		return;
	}
	const char *colon = memchr(field, ':', flen);
	const char *nl = memchr(field, '\n', flen);
	size_t first_nl = nl ? (size_t)(nl - field) : flen;
	size_t tl = strlen(tag);
	if (!at_end) {
		size_t v = (size_t)(colon - field) + 1;
		buf_append(out, field, v);
		/* "Subject:" + " " + tag + " " + old value (one leading space dropped) */
		size_t rest = v < flen && (field[v] == ' ' || field[v] == '\t') ? v + 1 : v;
		buf_putc(out, ' ');
		buf_puts(out, tag);
		if (first_nl + tl + 2 > LINE_MAX_OCTETS)
			buf_puts(out, "\r\n ");
		else if (rest < flen && field[rest] != '\r' && field[rest] != '\n')
			buf_putc(out, ' ');
		buf_append(out, field + rest, flen - rest);
		return;
	}
	/* at the end: before the final line end */
	size_t end = flen;
	if (end && field[end - 1] == '\n')
		end--;
	if (end && field[end - 1] == '\r')
		end--;
	size_t line_start = end;
	while (line_start > 0 && field[line_start - 1] != '\n')
		line_start--;
	buf_append(out, field, end);
	if (end - line_start + tl + 1 > LINE_MAX_OCTETS)
		buf_puts(out, "\r\n");
	buf_putc(out, ' ');
	buf_puts(out, tag);
	buf_puts(out, "\r\n");
}

/* ------------------------------------------------------------ result headers */

/* "Name: value" with the value folded at spaces into lines under 78 octets where possible. */
static void add_field(struct buf *out, const char *name, const char *value)
{
	size_t before = out->len;
	buf_printf(out, "%s:", name);
	size_t col = out->len - before;
	const char *p = value;
	while (*p) {
		size_t w = strcspn(p, " ");
		if (col + 1 + w > 78 && col > strlen(name) + 1) {
			buf_puts(out, "\r\n\t");
			col = 8;
		} else {
			buf_putc(out, ' ');
			col++;
		}
		buf_append(out, p, w);
		col += w;
		p += w;
		while (*p == ' ')
			p++;
	}
	buf_puts(out, "\r\n");
}

static void result_headers(const struct scan_policy *p, const struct scan_report *r, struct buf *out)
{
	struct buf v, name;
	buf_init(&v);
	buf_init(&name);
	bool first = true;
	for (int c = SCAN_NCAT - 1; c >= 0; c--) {
		if (!(r->cats & (1u << c)) || (c == SCAN_CLEAN && r->cat != SCAN_CLEAN))
			continue;
		buf_printf(&v, "%s%s", first ? "" : ", ", scan_cat_name((enum scan_cat)c));
		first = false;
	}
	if (r->spam_scanned)
		buf_printf(&v, " (score=%.2f required=%.2f)", r->score, r->required);
	if (r->spam_skipped)
		buf_printf(&v, " (spam check skipped: %s)", r->spam_skipped);
	buf_printf(&v, " by mxgate on %s", p->hostname);
	buf_printf(&name, "%s-Scan", p->header_prefix);
	add_field(out, name.data, v.data);
	if (r->nvirus) {
		buf_reset(&v);
		for (size_t i = 0; i < r->nvirus; i++) {
			const struct scan_virus *x = &r->virus[i];
			buf_printf(&v, "%s%s%s in %s%s%s%s", i ? "; " : "", x->name, x->unscannable ? " (unscannable)" : "",
				   x->path[0] ? "part " : "the message", x->path, x->filename[0] ? " " : "",
				   x->filename);
		}
		buf_reset(&name);
		buf_printf(&name, "%s-Virus", p->header_prefix);
		add_field(out, name.data, v.data);
	}
	if (r->ndnsbl) {
		buf_reset(&v);
		for (size_t i = 0; i < r->ndnsbl; i++)
			buf_printf(&v, "%s%s=%s (weight %d)", i ? "; " : "", r->dnsbl[i].zone, r->dnsbl[i].addr,
				   r->dnsbl[i].weight);
		buf_printf(&v, "; total %d", r->dnsbl_weight);
		buf_reset(&name);
		buf_printf(&name, "%s-DNSBL", p->header_prefix);
		add_field(out, name.data, v.data);
	}
	if (r->spam_scanned) {
		bool spam = (r->cats & (1u << SCAN_SPAM)) != 0;
		buf_reset(&v);
		buf_printf(&v, "%s, score=%.1f required=%.1f tests=", spam ? "Yes" : "No", r->score, r->required);
		if (!r->nrules)
			buf_puts(&v, "none");
		for (size_t i = 0; i < r->nrules; i++)
			buf_printf(&v, "%s%s", i ? ", " : "", r->rules[i]);
		/* SpamAssassin's form has no spaces after the commas: fold at them instead */
		buf_reset(&name);
		buf_printf(&name, "%s-Status", p->spam_prefix);
		add_field(out, name.data, v.data);
		buf_reset(&name);
		buf_printf(&name, "%s-Score", p->spam_prefix);
		buf_reset(&v);
		buf_printf(&v, "%.1f", r->score);
		add_field(out, name.data, v.data);
		if (spam) {
			buf_reset(&name);
			buf_printf(&name, "%s-Flag", p->spam_prefix);
			add_field(out, name.data, "YES");
		}
	}
	buf_fini(&v);
	buf_fini(&name);
}

/* The tags of every category found, highest first ("{Virus?} {Spam?}"). */
static void tags_for(const struct scan_policy *p, const struct scan_report *r, struct buf *out)
{
	for (int c = SCAN_NCAT - 1; c > SCAN_CLEAN; c--) {
		if (!(r->cats & (1u << c)) || !p->tag[c] || !p->tag[c][0])
			continue;
		/* high-spam implies spam: one tag when both say the same */
		if (c == SCAN_SPAM && (r->cats & (1u << SCAN_HIGH_SPAM)) && p->tag[SCAN_HIGH_SPAM] &&
		    strcmp(p->tag[SCAN_HIGH_SPAM], p->tag[SCAN_SPAM]) == 0)
			continue;
		if (has_tag(r->subject, p->tag[c]))
			continue;
		buf_printf(out, "%s%s", out->len ? " " : "", p->tag[c]);
	}
}

void scan_result_headers(const struct scan_policy *p, const struct scan_report *r, struct buf *out)
{
	result_headers(p, r, out);
}

void scan_outcome_init(struct scan_outcome *o)
{
	memset(o, 0, sizeof *o);
	mail_edits_init(&o->edits);
}

void scan_outcome_fini(struct scan_outcome *o)
{
	mail_edits_fini(&o->edits);
	memset(o, 0, sizeof *o);
}

struct edit_ctx {
	const struct scan_policy *p;
	const struct scan_report *r;
	const char *raw;
	const char *tags; /* "" for none */
	bool subject_seen;
	size_t covered; /* end of the last line walked */
	struct mail_edits *out;
	struct buf t;
};

/* One line of the header section (scan_mime_fields): kept, removed (ours,
 * from outside) or, for the first Subject, tagged; a last field without
 * its line end gets one. */
static void edit_field(void *vctx, const char *name, size_t nlen, const char *line, size_t llen, const char *value,
		       size_t vlen)
{
	(void)value;
	(void)vlen;
	struct edit_ctx *c = vctx;
	size_t off = (size_t)(line - c->raw);
	c->covered = off + llen;
	bool unended = llen == 0 || line[llen - 1] != '\n';
	if (name && ours(c->p, name, nlen)) {
		mail_edits_add(c->out, off, llen, unended ? "\r\n" : "", unended ? 2 : 0);
		return;
	}
	if (name && c->tags[0] && !c->subject_seen && nlen == 7 && strncasecmp(name, "Subject", 7) == 0) {
		c->subject_seen = true;
		buf_reset(&c->t);
		scan_tag_subject(line, llen, c->r->subject, c->tags, c->p->tag_at_end, &c->t);
		if (!c->t.len || c->t.data[c->t.len - 1] != '\n')
			buf_puts(&c->t, "\r\n");
		if (c->t.len != llen || memcmp(c->t.data, line, llen) != 0)
			mail_edits_add(c->out, off, llen, c->t.data, c->t.len);
		return;
	}
	if (unended)
		mail_edits_add(c->out, off + llen, 0, "\r\n", 2);
}

/* The edits of the header section of raw; returns where it ends (the
 * blank line, or len). */
static size_t header_edits(const struct scan_policy *p, const struct scan_report *r, bool tag, const char *raw,
			   size_t len, struct mail_edits *out)
{
	struct buf tags;
	buf_init(&tags);
	if (tag && p->tag_subject)
		tags_for(p, r, &tags);
	struct edit_ctx c = { .p = p, .r = r, .raw = raw, .tags = tags.data ? tags.data : "", .out = out };
	buf_init(&c.t);
	size_t body = scan_mime_fields(raw, len, edit_field, &c);
	struct buf add;
	buf_init(&add);
	if (!c.subject_seen && tags.len)
		scan_tag_subject(NULL, 0, NULL, tags.data, false, &add);
	if (r->cat != SCAN_CLEAN || p->headers_on_clean)
		result_headers(p, r, &add);
	if (body <= c.covered)
		buf_puts(&add, "\r\n"); /* no blank line after the fields: one ends the header section */
	if (add.len)
		mail_edits_add(out, c.covered, 0, add.data, add.len);
	buf_fini(&add);
	buf_fini(&c.t);
	buf_fini(&tags);
	return c.covered;
}

/* The infected parts' edits (out->cleaned set); false when the finding is
 * only in the message as a whole: no part can be cut out. */
static bool clean_edits(const struct scan_report *r, const char *raw, size_t len, struct scan_outcome *out,
			struct mail_edits *clean)
{
	const char **paths = xcalloc(r->nvirus, sizeof *paths);
	const char **why = xcalloc(r->nvirus, sizeof *why);
	size_t n = 0;
	bool whole = false;
	for (size_t i = 0; i < r->nvirus; i++) {
		if (r->virus[i].unscannable)
			continue;
		if (!r->virus[i].path[0]) {
			whole = true; /* found only in the message as a whole: no part to replace */
			continue;
		}
		paths[n] = r->virus[i].path;
		why[n++] = r->virus[i].name;
	}
	if (n)
		out->cleaned = scan_msg_clean_edits(raw, len, paths, why, n, clean);
	xfree(paths);
	xfree(why);
	return !(whole && !n);
}

void scan_apply(const struct scan_policy *p, const struct scan_report *r, const char *raw, size_t len,
		struct scan_outcome *out)
{
	const struct scan_actions *a = &p->act[r->cat];
	out->flags = a->flags;
	out->redirect = a->redirect;
	out->changed = false;
	out->cleaned = 0;
	struct mail_edits clean;
	mail_edits_init(&clean);
	if ((a->flags & SCAN_ACT_CLEAN) && r->nvirus && !clean_edits(r, raw, len, out, &clean))
		out->flags &= ~(unsigned)SCAN_ACT_CLEAN; /* nothing can be cut out: no cleaned copy */
	bool tag = (a->flags & SCAN_ACT_TAG) != 0;
	if (!(out->flags & (SCAN_ACT_DELIVER | SCAN_ACT_CLEAN | SCAN_ACT_REDIRECT)) ||
	    (r->cat == SCAN_CLEAN && !p->headers_on_clean && !out->cleaned)) {
		mail_edits_fini(&clean);
		return; /* nothing delivered, or delivered exactly as received */
	}
	struct mail_edits hdr;
	mail_edits_init(&hdr);
	size_t hend = header_edits(p, r, tag, raw, len, &hdr);
	if (clean.n && clean.v[0].off < hend) {
		/* the message itself was replaced, its fields with it: edit the cleaned copy's
		 * header section and send the whole result as one edit */
		struct buf cleaned, full;
		buf_init(&cleaned);
		buf_init(&full);
		mail_edits_apply(&clean, raw, len, &cleaned);
		mail_edits_fini(&hdr);
		header_edits(p, r, tag, cleaned.data ? cleaned.data : "", cleaned.len, &hdr);
		mail_edits_apply(&hdr, cleaned.data ? cleaned.data : "", cleaned.len, &full);
		mail_edits_add(&out->edits, 0, len, full.data ? full.data : "", full.len);
		buf_fini(&cleaned);
		buf_fini(&full);
	} else {
		mail_edits_move(&out->edits, &hdr);
		mail_edits_move(&out->edits, &clean);
	}
	mail_edits_fini(&hdr);
	mail_edits_fini(&clean);
	out->changed = true;
}
