/*
 * scan_rules_replace.c - SpamAssassin's ReplaceTags plugin: the regexes of
 * the rules named by replace_rules have their <TAG>s replaced by the values
 * of replace_tag, once the whole set is read (so the order of the
 * directives does not matter). A pattern may name modifiers, removed from
 * it: <pre NAME> puts replace_pre NAME before every tag, <post NAME> after
 * every tag, <inter NAME> between two adjacent tags (and, as in
 * SpamAssassin, before a tag that opens the pattern). A value holding a tag
 * is expanded again, up to six passes in all. An unknown tag stays as
 * written; a result PCRE2 refuses leaves the rule with its original regex
 * (logged), as SpamAssassin does. Only while loading: no state at check time.
 */
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "scan/rules/scan_rules_int.h"

#define REPLACE_PASSES 6
/* A tag whose value names tags again can grow a pattern exponentially (a
 * value holding itself twice doubles it each pass): an expansion past this
 * is refused and its rule turned off (SpamAssassin's largest, 72_active.cf's
 * __MY_MALWARE, is about 230 KiB). */
#define REPLACE_MAX (1u << 20)

struct rules_replace {
	struct map *tag, *pre, *post, *inter; /* name -> value (allocated) */
	struct map *rules;		      /* rule name -> (void *)1 */
	char start[16], end[16];	      /* replace_start, replace_end */
};

static struct rules_replace *replace_state(struct scan_rules *s)
{
	if (!s->replace) {
		struct rules_replace *x = xcalloc(1, sizeof *x);
		x->tag = map_new();
		x->pre = map_new();
		x->post = map_new();
		x->inter = map_new();
		x->rules = map_new();
		strcpy(x->start, "<");
		strcpy(x->end, ">");
		s->replace = x;
	}
	return s->replace;
}

static void free_values(struct map **m)
{
	size_t pos = 0;
	const void *k;
	size_t kl;
	void *v;
	while (map_next(*m, &pos, &k, &kl, &v))
		xfree(v);
	map_free(m);
}

void rules_replace_free(struct scan_rules *s)
{
	struct rules_replace *x = s->replace;
	if (!x)
		return;
	free_values(&x->tag);
	free_values(&x->pre);
	free_values(&x->post);
	free_values(&x->inter);
	map_free(&x->rules); /* values: (void *)1 */
	xfree(x);
	s->replace = NULL;
}

bool rules_replace_directive(struct scan_rules *s, const char *key, char *rest, char *why, size_t whylen)
{
	static const char *const kinds[] = { "replace_tag", "replace_pre", "replace_post", "replace_inter" };
	struct rules_replace *x;
	for (size_t i = 0; i < 4; i++) {
		if (strcmp(key, kinds[i]) != 0)
			continue;
		x = replace_state(s);
		struct map *m[] = { x->tag, x->pre, x->post, x->inter };
		char *name = rest, *val = rest + strcspn(rest, " \t");
		if (*val)
			*val++ = '\0';
		val = str_trim(val);
		if (!*name || !*val) {
			snprintf(why, whylen, "%s needs a name and a value", key);
			return true;
		}
		xfree(map_puts(m[i], name, xstrdup(val)));
		return true;
	}
	if (strcmp(key, "replace_rules") == 0) {
		x = replace_state(s);
		char *save = NULL;
		for (char *w = strtok_r(rest, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
			map_puts(x->rules, w, (void *)1);
		return true;
	}
	if (strcmp(key, "replace_start") == 0 || strcmp(key, "replace_end") == 0) {
		x = replace_state(s);
		char *dst = key[8] == 's' ? x->start : x->end;
		if (!*rest || strlen(rest) >= sizeof x->start) {
			snprintf(why, whylen, "%s needs a string of 1 to %zu characters", key, sizeof x->start - 1);
			return true;
		}
		strcpy(dst, rest);
		return true;
	}
	return false;
}

/* The first "START<kind> NAME END" in b (kind "pre ", ...): removed, its NAME returned. */
static char *take_modifier(const struct rules_replace *x, struct buf *b, const char *kind)
{
	size_t sl = strlen(x->start), kl = strlen(kind), el = strlen(x->end);
	for (size_t i = 0; i + sl + kl < b->len; i++) {
		if (memcmp(b->data + i, x->start, sl) != 0 || memcmp(b->data + i + sl, kind, kl) != 0)
			continue;
		const char *nm = b->data + i + sl + kl;
		const char *e = memmem(nm + 1, b->len - (size_t)(nm + 1 - b->data), x->end, el); /* .+? */
		if (!e)
			return NULL;
		char *name = xstrndup(nm, (size_t)(e - nm));
		size_t cut = (size_t)(e + el - (b->data + i));
		memmove(b->data + i, b->data + i + cut, b->len - i - cut);
		b->len -= cut;
		b->data[b->len] = '\0';
		return name;
	}
	return NULL;
}

/* The pattern split as Perl's split(/(<[^<>]+>)/): text and tags alternate
 * (an empty text between adjacent tags and before a leading tag; none after
 * a trailing tag). pieces[] and is_tag[] get at most cap entries. */
static size_t split_tags(const char *p, char **pieces, bool *is_tag, size_t cap)
{
	size_t n = 0;
	const char *text = p;
	while (*p && n + 2 < cap) {
		if (*p == '<') {
			size_t l = strcspn(p + 1, "<>");
			if (l > 0 && p[1 + l] == '>') {
				is_tag[n] = false;
				pieces[n++] = xstrndup(text, (size_t)(p - text));
				is_tag[n] = true;
				pieces[n++] = xstrndup(p, l + 2);
				p += l + 2;
				text = p;
				continue;
			}
		}
		p++;
	}
	if (*text || n == 0 || n + 2 >= cap) {
		is_tag[n] = false;
		pieces[n++] = xstrdup(text);
	}
	return n;
}

/* In piece: the first START NAME END (NAME non-empty, shortest), replaced
 * everywhere in the piece by the tag's value. *again when the value holds a tag. */
static char *replace_in_piece(const struct rules_replace *x, char *piece, bool *again)
{
	size_t sl = strlen(x->start);
	char *a = strstr(piece, x->start);
	if (!a || !a[sl])
		return piece;
	char *e = strstr(a + sl + 1, x->end);
	if (!e)
		return piece;
	char *name = xstrndup(a + sl, (size_t)(e - a - sl));
	const char *val = map_gets(x->tag, name);
	if (val && *val) {
		char *needle = xasprintf("%s%s%s", x->start, name, x->end);
		struct buf out;
		buf_init(&out);
		const char *p = piece, *hit;
		while ((hit = strstr(p, needle)) != NULL) {
			buf_append(&out, p, (size_t)(hit - p));
			buf_puts(&out, val);
			p = hit + strlen(needle);
		}
		buf_puts(&out, p);
		xfree(needle);
		xfree(piece);
		piece = buf_steal(&out, NULL);
		for (const char *lt = strchr(val, '<'); lt && !*again; lt = strchr(lt + 1, '<'))
			if (lt[1] && lt[1] != '>' && strchr(lt + 2, '>'))
				*again = true; /* the value holds <[^>]+> */
	}
	xfree(name);
	return piece;
}

/* Tags in p (pieces of split_tags: two per tag and one more). */
static size_t count_tags(const char *p)
{
	size_t n = 0;
	for (; *p; p++)
		if (*p == '<') {
			size_t l = strcspn(p + 1, "<>");
			if (l > 0 && p[1 + l] == '>')
				n++, p += l + 1;
		}
	return n;
}

/* One pass over pat (in b): modifiers, then every tag. Returns whether
 * another pass is due; *big when the result grew past REPLACE_MAX. */
static bool replace_pass(const struct rules_replace *x, struct buf *b, bool *big)
{
	char *pre = take_modifier(x, b, "pre "), *post = take_modifier(x, b, "post "),
	     *inter = take_modifier(x, b, "inter ");
	const char *pre_v = pre ? map_gets(x->pre, pre) : NULL, *post_v = post ? map_gets(x->post, post) : NULL,
		   *inter_v = inter ? map_gets(x->inter, inter) : NULL;
	size_t cap = count_tags(b->data) * 2 + 4;
	char **pieces = xcalloc(cap, sizeof *pieces);
	bool *is_tag = xcalloc(cap, sizeof *is_tag);
	size_t n = split_tags(b->data, pieces, is_tag, cap), total = 0;
	bool again = false;
	for (size_t i = 0; i < n && !*big; i++) {
		if (is_tag[i] && (pre_v || post_v)) {
			char *t = xasprintf("%s%s%s", pre_v ? pre_v : "", pieces[i], post_v ? post_v : "");
			xfree(pieces[i]);
			pieces[i] = t;
		} else if (!is_tag[i] && !pieces[i][0] && inter_v) {
			xfree(pieces[i]);
			pieces[i] = xstrdup(inter_v);
		}
		pieces[i] = replace_in_piece(x, pieces[i], &again);
		total += strlen(pieces[i]);
		*big = total > REPLACE_MAX;
	}
	buf_reset(b);
	for (size_t i = 0; i < n; i++) {
		if (!*big)
			buf_puts(b, pieces[i]);
		xfree(pieces[i]);
	}
	xfree(pieces);
	xfree(is_tag);
	xfree(pre);
	xfree(post);
	xfree(inter);
	return again && !*big;
}

/* pat with its tags replaced (allocated), or NULL when the expansion grows past REPLACE_MAX. */
static char *replace_pattern(const struct rules_replace *x, const char *pat)
{
	struct buf b;
	buf_init(&b);
	buf_puts(&b, pat);
	bool big = false;
	for (int pass = 0; pass < REPLACE_PASSES && replace_pass(x, &b, &big); pass++)
		;
	if (big) {
		buf_fini(&b);
		return NULL;
	}
	return buf_steal(&b, NULL);
}

void rules_replace_finish(struct scan_rules *s)
{
	struct rules_replace *x = s->replace;
	if (!x)
		return;
	size_t pos = 0;
	const void *k;
	size_t kl;
	void *v;
	while (map_next(x->rules, &pos, &k, &kl, &v)) {
		char *name = xstrndup(k, kl);
		uintptr_t idx = (uintptr_t)map_gets(s->byname, name);
		xfree(name);
		if (!idx)
			continue;
		struct rule *r = &s->rules[idx - 1];
		if (!r->defined || (!r->re && !r->re32) || !r->re_src)
			continue; /* not a regex rule (SpamAssassin: "non-existing or incompatible") */
		char *pat = replace_pattern(x, r->re_src);
		if (!pat) {
			log_info("event=rules_bad_regex rule=%s at=%s why=\"replace_rules: expansion over %u octets\"",
				 r->name, r->file ? r->file : "?", REPLACE_MAX);
			r->enabled = false;
			s->st.bad_regex++;
			continue;
		}
		if (strcmp(pat, r->re_src) != 0) {
			char why[300];
			pcre2_code *re;
			pcre2_code_32 *re32;
			if (rules_regex_pattern(pat, strlen(pat), r->re_opts, &re, &re32, why, sizeof why) == 0) {
				pcre2_code_free(r->re);
				pcre2_code_free_32(r->re32);
				r->re = re;
				r->re32 = re32;
				s->st.replaced++;
			} else {
				/* SpamAssassin keeps the regex with its tags, which cannot match: off here */
				log_info("event=rules_bad_regex rule=%s at=%s why=\"replace_rules: %s\"", r->name,
					 r->file ? r->file : "?", why);
				r->enabled = false;
				s->st.bad_regex++;
			}
		}
		xfree(pat);
	}
	rules_replace_free(s);
}
