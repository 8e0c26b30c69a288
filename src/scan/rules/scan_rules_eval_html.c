/*
 * scan_rules_eval_html.c - HTMLEval's functions, from one analysis of each
 * HTML part (made on first use in a check, kept in the run) that follows
 * what SpamAssassin's HTML.pm records while HTML::Parser walks the part:
 *
 *   tags       "<name attr=value ...>" and "</name>" (names and attribute
 *              names lower-cased, values unquoted), comments and "<!...>",
 *              "<?...>" skipped; <script> and <style> contents are text to
 *              their end tag; "<name/>" is a start tag; a tolerant scanner,
 *              never failing on broken markup, each part read once
 *   inside     per tag name, start tags minus end tags (an end tag too
 *              many counts as closed_extra and leaves 0)
 *   text style a stack from {fg #000000, bg #ffffff, size 3}: body, font,
 *              table, tr, td (th), big, small, basefont, marquee, span, p,
 *              div and a push a copy changed by their attributes (color,
 *              text, size: N or +-N from basefont, style: color,
 *              background-color, background); an end tag pops back to its
 *              start tag; a new td or tr closes the open font/td(/tr)
 *   each text  outside script and style, with a visible character: the
 *              foreground as the background (same last 6 characters, or a
 *              weighted RGB distance under 12) is font_low_contrast, an
 *              invalid colour font_invalid_color; inside <a> it is anchor
 *              text ("<img>\n" for an image there)
 *   tests      font_face_bad: a <font face> not a list of font names;
 *              image_area: each <img> with width and height ("N%" counts
 *              8 wide, 6 high; 0 or not a number 200); max_size/min_size
 * Where SpamAssassin does something odd, the same happens here: a bgcolor
 * attribute does not change the background (HTML.pm converts it and never
 * stores it), a colour written without '#' is invalid.
 *
 * Functions: html_test(font_low_contrast | font_face_bad |
 * font_invalid_color), html_range(length | max_size | min_size, min, max),
 * html_image_ratio(min, max), html_tag_balance(tag, "OP N"),
 * html_text_match('anchor', re). Limits: 1,000 anchors and a style stack
 * 256 deep per part (deeper pushes are dropped).
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/map.h"
#include "base/xalloc.h"
#include "mail/mail_addr.h"
#include "scan/rules/scan_rules_eval_int.h"

#define ANCHORS_MAX 1000
#define STYLE_DEPTH 256
#define ATTR_MAX 512 /* octets of one attribute value kept */

struct style {
	char tag[32]; /* as struct tag's name */
	char fg[16], bg[16]; /* "#rrggbb", "invalid", "transparent" */
	double size;
	bool hidden; /* display: none / visibility: hidden (not used for the tests here) */
};

struct rules_html {
	bool font_low_contrast, font_face_bad, font_invalid_color;
	double max_size, min_size, image_area, non_space_len, length;
	struct map *inside; /* tag -> count + 1 */
	struct buf *anchors;
	size_t nanchors;
	char **mailto; /* <a href="mailto:..."> values after "mailto:" */
	size_t nmailto;
};

/* ------------------------------------------------------------ tags */

struct tag {
	char name[32];
	bool end;
	const char *attrs;
	size_t alen;
};

static bool ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f';
}

/* The next tag at or after *pos: true with *t, the text before it ending
 * at *text_to, *pos past its '>' (or at the end). */
static bool next_tag(const char *d, size_t n, size_t *pos, struct tag *t, size_t *text_to)
{
	size_t i = *pos;
	while (i < n) {
		const char *lt = memchr(d + i, '<', n - i);
		if (!lt)
			break;
		size_t k = (size_t)(lt - d);
		*text_to = k;
		if (k + 1 < n && (d[k + 1] == '!' || d[k + 1] == '?')) { /* comment, declaration, processing */
			const char *e = NULL;
			if (k + 3 < n && memcmp(d + k, "<!--", 4) == 0) {
				for (size_t j = k + 4; j + 2 < n && !e; j++)
					if (d[j] == '-' && d[j + 1] == '-' && d[j + 2] == '>')
						e = d + j + 2;
			} else {
				e = memchr(d + k, '>', n - k);
			}
			if (!e)
				break;
			/* text before it is text; it ends no text run here: go on after it */
			*pos = (size_t)(e - d) + 1;
			t->name[0] = '\0';
			return true;
		}
		size_t j = k + 1;
		bool end = j < n && d[j] == '/';
		j += end;
		size_t ns = j;
		while (j < n && (((d[j] | 0x20) >= 'a' && (d[j] | 0x20) <= 'z') || (d[j] >= '0' && d[j] <= '9') ||
				 d[j] == ':' || d[j] == '-' || d[j] == '_'))
			j++;
		if (j == ns || !(((d[ns] | 0x20) >= 'a' && (d[ns] | 0x20) <= 'z'))) {
			i = k + 1; /* "<" not starting a tag: text */
			continue;
		}
		size_t nl = j - ns < sizeof t->name - 1 ? j - ns : sizeof t->name - 1;
		for (size_t q = 0; q < nl; q++)
			t->name[q] = (char)(d[ns + q] >= 'A' && d[ns + q] <= 'Z' ? d[ns + q] + 32 : d[ns + q]);
		t->name[nl] = '\0';
		/* the end: '>' outside quotes */
		size_t e = j;
		char q = 0;
		for (; e < n; e++) {
			if (q) {
				if (d[e] == q)
					q = 0;
			} else if (d[e] == '"' || d[e] == '\'') {
				if (e > j && (d[e - 1] == '=' || ws(d[e - 1])))
					q = d[e];
			} else if (d[e] == '>') {
				break;
			}
		}
		t->end = end;
		t->attrs = d + j;
		t->alen = e - j;
		*pos = e < n ? e + 1 : n;
		return true;
	}
	*text_to = n;
	*pos = n;
	return false;
}

/* Attribute name's value (unquoted, cut at ATTR_MAX) into val; false when absent. */
static bool attr(const struct tag *t, const char *name, char *val)
{
	const char *p = t->attrs, *e = t->attrs + t->alen;
	size_t nl = strlen(name);
	while (p < e) {
		while (p < e && (ws(*p) || *p == '/'))
			p++;
		const char *an = p;
		while (p < e && *p != '=' && !ws(*p) && *p != '/')
			p++;
		size_t al = (size_t)(p - an);
		while (p < e && ws(*p))
			p++;
		const char *v = "", *ve = v;
		if (p < e && *p == '=') {
			p++;
			while (p < e && ws(*p))
				p++;
			if (p < e && (*p == '"' || *p == '\'')) {
				char q = *p++;
				v = p;
				while (p < e && *p != q)
					p++;
				ve = p;
				p += p < e;
			} else {
				v = p;
				while (p < e && !ws(*p))
					p++;
				ve = p;
			}
		}
		if (al == 0) {
			p += p < e;
			continue;
		}
		if (al == nl && strncasecmp(an, name, nl) == 0) {
			size_t vl = (size_t)(ve - v) < ATTR_MAX ? (size_t)(ve - v) : ATTR_MAX;
			memcpy(val, v, vl);
			val[vl] = '\0';
			return true;
		}
	}
	return false;
}

static bool in_list(const char *name, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(name, *list) == 0)
			return true;
	return false;
}

static const char *const elements[] = {
	"a", "abbr", "acronym", "address", "area", "b", "base", "bdo", "big", "blockquote", "body", "br", "button",
	"caption", "cite", "code", "col", "colgroup", "dd", "del", "dfn", "div", "dl", "dt", "em", "fieldset", "form",
	"h1", "h2", "h3", "h4", "h5", "h6", "head", "hr", "html", "i", "img", "input", "ins", "kbd", "label",
	"legend", "li", "link", "map", "meta", "noscript", "object", "ol", "optgroup", "option", "p", "param", "pre",
	"q", "samp", "script", "select", "small", "span", "strong", "style", "sub", "sup", "table", "tbody", "td",
	"textarea", "tfoot", "th", "thead", "title", "tr", "tt", "ul", "var", "applet", "basefont", "center", "dir",
	"font", "frame", "frameset", "iframe", "isindex", "menu", "noframes", "s", "strike", "u", "nobr", "x-sigsep",
	"x-tab", "bgsound", "embed", "listing", "plaintext", "xmp", NULL
};
static const char *const text_style_tags[] = { "body", "font", "table", "tr", "th", "td", "big", "small",
					       "basefont", "marquee", "span", "p", "div", "a", NULL };

/* ------------------------------------------------------------ the walk */

struct walk {
	struct rules_run *run;
	struct rules_html *h;
	struct style st[STYLE_DEPTH];
	size_t depth;
	double basefont;
	int in_a;
};

static void style_push(struct walk *w, const struct style *s)
{
	if (w->depth < STYLE_DEPTH)
		w->st[w->depth++] = *s;
}

static bool style_has(const struct walk *w, const char *tag)
{
	for (size_t i = 0; i < w->depth; i++)
		if (strcmp(w->st[i].tag, tag) == 0)
			return true;
	return false;
}

/* An end tag: back to (and past) its start, when one is open. */
static void close_tag(struct walk *w, const char *tag)
{
	if (!style_has(w, tag))
		return;
	while (w->depth > 1) { /* the default style stays */
		bool last = strcmp(w->st[--w->depth].tag, tag) == 0;
		if (last)
			break;
	}
}

/* A new td closes an open font or td; a new tr an open font, td or tr. */
static void close_table_tag(struct walk *w, const char *tag)
{
	if (!style_has(w, tag))
		return;
	while (w->depth > 1) {
		const char *top = w->st[w->depth - 1].tag;
		bool pop = strcmp(top, "font") == 0 || strcmp(top, "td") == 0 ||
			   (strcmp(tag, "tr") == 0 && strcmp(top, "tr") == 0);
		if (!pop)
			break;
		w->depth--;
	}
}

static void note_size(struct walk *w, double size)
{
	if (size > w->h->max_size)
		w->h->max_size = size;
	else if (size < w->h->min_size)
		w->h->min_size = size;
}

/* One "prop: value" of a style attribute. */
static void style_decl(struct style *nw, const struct style *parent, char *decl)
{
	char *colon = strchr(decl, ':');
	if (!colon)
		return;
	*colon = '\0';
	char *k = decl, *v = colon + 1;
	while (ws(*k))
		k++;
	size_t kl = strlen(k);
	while (kl && ws(k[kl - 1]))
		k[--kl] = '\0';
	while (ws(*v))
		v++;
	size_t vl = strlen(v);
	while (vl && ws(v[vl - 1]))
		v[--vl] = '\0';
	for (char *p = v; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	if (strcasecmp(k, "color") == 0 || strcasecmp(k, "background-color") == 0) {
		char *fgbg = strcasecmp(k, "color") == 0 ? nw->fg : nw->bg;
		char *imp = strstr(v, "!");
		if (imp && strcmp(imp + strspn(imp + 1, " ") + 1, "important") == 0) {
			*imp = '\0';
			vl = strlen(v);
			while (vl && ws(v[vl - 1]))
				v[--vl] = '\0';
		}
		if (strstr(v, "rgb")) {
			unsigned c[3] = { 0, 0, 0 };
			size_t ci = 0;
			bool any = false;
			for (char *p = v; *p && ci < 3; p++) { /* the digits and commas only */
				if (*p >= '0' && *p <= '9') {
					c[ci] = c[ci] * 10 + (unsigned)(*p - '0');
					if (c[ci] > 100000)
						c[ci] = 100000;
					any = true;
				} else if (*p == ',') {
					ci++;
				}
			}
			(void)any;
			snprintf(fgbg, 16, "#%02x%02x%02x", c[0] > 255 ? 255 : c[0], c[1] > 255 ? 255 : c[1],
				 c[2] > 255 ? 255 : c[2]);
		} else if (strcmp(v, "inherit") == 0) {
		} else if (strcmp(v, "transparent") == 0) {
			snprintf(fgbg, 16, "transparent");
		} else {
			rules_html_color(v, fgbg);
		}
	} else if (strcmp(k, "background") == 0) {
		/* the last layer's first value that is a colour */
		char *layer = strrchr(v, ',');
		layer = layer ? layer + 1 : v;
		for (char *tok = layer; tok && *tok;) {
			char *sp = strchr(tok, ' ');
			if (sp)
				*sp = '\0';
			char c[16];
			rules_html_color(tok, c);
			if (tok[0] && strcmp(c, "invalid") != 0) {
				snprintf(nw->bg, 16, "%s", c);
				break;
			}
			tok = sp ? sp + 1 : NULL;
		}
	} else if (strcasecmp(k, "display") == 0 && strcmp(v, "none") == 0) {
		nw->hidden = true;
	} else if (strcasecmp(k, "visibility") == 0 && strcmp(v, "hidden") == 0) {
		nw->hidden = true;
	}
	(void)parent;
}

static bool ok_attr(const char *tag, const char *name)
{
	static const struct {
		const char *tag, *const names[7];
	} ok[] = {
		{ "basefont", { "color", "face", "size", NULL } },
		{ "body", { "text", "bgcolor", "link", "alink", "vlink", "background", NULL } },
		{ "font", { "color", "face", "size", NULL } },
		{ "marquee", { "bgcolor", "background", NULL } },
		{ "table", { "bgcolor", "style", NULL } },
		{ "td", { "bgcolor", "style", NULL } },
		{ "tr", { "bgcolor", "style", NULL } },
		{ "span", { "style", NULL } },
		{ "p", { "style", NULL } },
		{ "div", { "style", NULL } },
		{ "a", { "style", NULL } },
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		if (strcmp(ok[i].tag, tag) == 0)
			return in_list(name, ok[i].names);
	return false;
}

static void text_style(struct walk *w, const struct tag *t)
{
	const char *tag = strcmp(t->name, "th") == 0 ? "td" : t->name;
	if (t->end) {
		if (strcmp(tag, "body") != 0)
			close_tag(w, tag);
		return;
	}
	char v[ATTR_MAX + 1];
	if (strcmp(tag, "basefont") == 0 && attr(t, "size", v)) {
		char *p = v;
		while (ws(*p))
			p++;
		if (*p >= '0' && *p <= '9') {
			w->basefont = strtod(p, NULL);
			return;
		}
	}
	if (strcmp(tag, "td") == 0 || strcmp(tag, "tr") == 0)
		close_table_tag(w, tag);
	struct style nw = w->st[w->depth - 1];
	snprintf(nw.tag, sizeof nw.tag, "%s", tag);
	if (strcmp(tag, "big") == 0 || strcmp(tag, "small") == 0) {
		nw.size += strcmp(tag, "big") == 0 ? 1 : -1;
		style_push(w, &nw);
		return;
	}
	static const char *const names[] = { "text", "color", "size", "style", NULL };
	for (size_t i = 0; names[i]; i++) {
		if (!ok_attr(tag, names[i]) || !attr(t, names[i], v))
			continue;
		if (i < 2) {
			rules_html_color(v, nw.fg);
		} else if (i == 2) {
			char *p = v;
			while (ws(*p))
				p++;
			if ((*p == '+' || *p == '-') && p[1] >= '0' && p[1] <= '9')
				nw.size = w->basefont + strtod(p, NULL);
			else if (*p >= '0' && *p <= '9')
				nw.size = strtod(p, NULL);
		} else {
			const struct style parent = w->st[w->depth - 1];
			for (char *d = v; d;) {
				char *semi = strchr(d, ';');
				if (semi)
					*semi = '\0';
				style_decl(&nw, &parent, d);
				d = semi ? semi + 1 : NULL;
			}
			if (strcmp(nw.bg, "transparent") == 0)
				snprintf(nw.bg, sizeof nw.bg, "%s", parent.bg);
			if (strcmp(nw.fg, "transparent") == 0)
				snprintf(nw.fg, sizeof nw.fg, "%s", nw.bg);
		}
		note_size(w, nw.size);
	}
	style_push(w, &nw);
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool rgb_of(const char *c, int rgb[3])
{
	const char *p = c[0] == '#' ? c + 1 : c;
	if (strlen(p) != 6)
		return false;
	for (int i = 0; i < 6; i++)
		if (!is_hex(p[i]))
			return false;
	for (int i = 0; i < 3; i++) {
		char h[3] = { p[2 * i], p[2 * i + 1], 0 };
		rgb[i] = (int)strtol(h, NULL, 16);
	}
	return true;
}

/* HTML.pm's html_font_invisible, for the results it records. */
static void text_seen(struct walk *w)
{
	const struct style *s = &w->st[w->depth - 1];
	size_t fl = strlen(s->fg), bl = strlen(s->bg);
	const char *f6 = s->fg + (fl > 6 ? fl - 6 : 0), *b6 = s->bg + (bl > 6 ? bl - 6 : 0);
	if (strcmp(f6, b6) == 0) {
		w->h->font_low_contrast = true;
		return;
	}
	int a[3], b[3];
	if (rgb_of(s->fg, a) && rgb_of(s->bg, b)) {
		double r = 0.2126 * (a[0] - b[0]), g = 0.7152 * (a[1] - b[1]), bb = 0.0722 * (a[2] - b[2]);
		if (sqrt(r * r + g * g + bb * bb) < 12) {
			w->h->font_low_contrast = true;
			return;
		}
	}
	if (strcmp(s->fg, "invalid") == 0 || strcmp(s->bg, "invalid") == 0)
		w->h->font_invalid_color = true;
}

/* A <font face> that is not a comma-separated list of font names (HTML.pm's pattern). */
static pcre2_code *face_re;
static pthread_once_t face_once = PTHREAD_ONCE_INIT;

static void face_compile(void)
{
	face_re = rules_regex_fixed("^\\s*[\"'.]?[a-z ][a-z -]*[a-z]\\d?[\"']?(?:,\\s*[\"']?[a-z][a-z -]*[a-z]\\d?[\"']?)*;?$",
				    PCRE2_CASELESS);
}

void rules_eval_html_init(void)
{
	pthread_once(&face_once, face_compile);
}

static bool face_bad(struct walk *w, const char *f)
{
	return face_re && !rules_run_match(w->run, face_re, f, strlen(f));
}

static void html_tests(struct walk *w, const struct tag *t)
{
	char v[ATTR_MAX + 1], hgt[ATTR_MAX + 1];
	struct rules_html *h = w->h;
	if (strcmp(t->name, "font") == 0 && attr(t, "face", v) && face_bad(w, v))
		h->font_face_bad = true;
	if (strcmp(t->name, "img") == 0 && w->in_a > 0 && h->nanchors)
		buf_puts(&h->anchors[h->nanchors - 1], "<img>\n");
	if (strcmp(t->name, "img") == 0 && attr(t, "width", v) && attr(t, "height", hgt)) {
		double wd = 0, ht = 0;
		char *e;
		if (v[0] >= '0' && v[0] <= '9') {
			wd = strtod(v, &e);
			wd = *e == '%' && !e[1] ? wd * 8 : *e ? 0 : wd;
		}
		if (hgt[0] >= '0' && hgt[0] <= '9') {
			ht = strtod(hgt, &e);
			ht = *e == '%' && !e[1] ? ht * 6 : *e ? 0 : ht;
		}
		h->image_area += (wd > 0 ? wd : 200) * (ht > 0 ? ht : 200);
	}
	if (strcmp(t->name, "a") == 0 && attr(t, "href", v) && strncasecmp(v, "mailto:", 7) == 0 && h->nmailto < 20) {
		h->mailto = xrealloc(h->mailto, (h->nmailto + 1) * sizeof *h->mailto);
		h->mailto[h->nmailto++] = xstrdup(v + 7);
	}
	if (strcmp(t->name, "a") == 0 && h->nanchors < ANCHORS_MAX) {
		h->anchors = xrealloc(h->anchors, (h->nanchors + 1) * sizeof *h->anchors);
		buf_init(&h->anchors[h->nanchors++]);
	}
}

static void tag_seen(struct walk *w, const struct tag *t)
{
	struct rules_html *h = w->h;
	size_t nl = strlen(t->name);
	uintptr_t in = (uintptr_t)map_get(h->inside, t->name, nl);
	long cur = in ? (long)in - 1 : 0;
	cur += t->end ? -1 : 1;
	if (cur < 0)
		cur = 0; /* an end tag too many (closed_extra) */
	map_put(h->inside, t->name, nl, (void *)(uintptr_t)(cur + 1));
	if (strcmp(t->name, "a") == 0)
		w->in_a = (int)cur;
	if (strchr(t->name, ':'))
		return; /* o:p, st1:...: namespaced, counted only */
	if (!in_list(t->name, elements))
		return;
	if (in_list(t->name, text_style_tags))
		text_style(w, t);
	if (!t->end)
		html_tests(w, t);
}

static bool visible(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] == 0xa0) {
			i++;
			continue;
		}
		if (!(c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'))
			return true;
	}
	return false;
}

static void text_run(struct walk *w, const char *s, size_t n)
{
	if (n == 0)
		return;
	struct rules_html *h = w->h;
	uintptr_t sc = (uintptr_t)map_get(h->inside, "script", 6), sy = (uintptr_t)map_get(h->inside, "style", 5);
	if ((sc && sc > 1) || (sy && sy > 1))
		return;
	if (w->in_a > 0 && h->nanchors)
		buf_append(&h->anchors[h->nanchors - 1], s, n);
	if (visible(s, n))
		text_seen(w);
}

static void analyse(struct rules_run *run, const struct scan_part *p, struct rules_html *h)
{
	memset(h, 0, sizeof *h);
	h->inside = map_new();
	h->max_size = h->min_size = 3;
	h->length = (double)rules_eval_html_length(p);
	struct walk *w = xcalloc(1, sizeof *w);
	w->h = h;
	w->run = run;
	w->basefont = 3;
	w->st[0] = (struct style){ .tag = "default", .fg = "#000000", .bg = "#ffffff", .size = 3 };
	w->depth = 1;
	const char *d = (const char *)p->data;
	size_t n = p->len, pos = 0, prev = 0, text_to;
	struct tag t;
	for (;;) {
		bool more = next_tag(d, n, &pos, &t, &text_to);
		if (text_to > prev)
			text_run(w, d + prev, text_to - prev);
		if (!more)
			break;
		prev = pos;
		if (!t.name[0])
			continue;
		tag_seen(w, &t);
		/* script and style hold text up to their end tag */
		if (!t.end && (strcmp(t.name, "script") == 0 || strcmp(t.name, "style") == 0)) {
			size_t tl = strlen(t.name), e = pos;
			while (e + 2 + tl <= n && !(d[e] == '<' && d[e + 1] == '/' && strncasecmp(d + e + 2, t.name, tl) == 0))
				e++;
			pos = prev = e + 2 + tl <= n ? e : n;
		}
	}
	/* non_space_len from the rendered text (SpamAssassin's renderer's, near enough) */
	if (p->text) {
		bool chars = mail_utf8_valid(p->text, p->text_len);
		for (size_t i = 0; i < p->text_len; i++) {
			unsigned char c = (unsigned char)p->text[i];
			if (!(c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || (chars && (c & 0xc0) == 0x80)))
				h->non_space_len++;
		}
	}
	xfree(w);
}

/* The analyses of the message's HTML parts (NULL entries for other parts), made once per check. */
static struct rules_html *html_of(struct rules_run *run, size_t i)
{
	const struct scan_msg *m = run->m;
	if (!run->html) {
		run->html = xcalloc(m->nparts + 1, sizeof *run->html);
		run->nhtml = m->nparts;
	}
	if (i >= run->nhtml || !m->parts[i].html)
		return NULL;
	if (!run->html[i]) {
		run->html[i] = xmalloc(sizeof *run->html[i]);
		analyse(run, &m->parts[i], run->html[i]);
	}
	return run->html[i];
}

void rules_eval_html_free(struct rules_run *run)
{
	for (size_t i = 0; i < run->nhtml; i++) {
		struct rules_html *h = run->html[i];
		if (!h)
			continue;
		map_free(&h->inside);
		for (size_t k = 0; k < h->nanchors; k++)
			buf_fini(&h->anchors[k]);
		xfree(h->anchors);
		for (size_t k = 0; k < h->nmailto; k++)
			xfree(h->mailto[k]);
		xfree(h->mailto);
		xfree(h);
	}
	xfree(run->html);
	run->html = NULL;
	run->nhtml = 0;
	xfree(run->mailtos); /* pointers into the analyses */
	run->mailtos = NULL;
	run->nmailtos = 0;
}

size_t rules_eval_html_mailtos(struct rules_run *run, const char *const **out)
{
	if (!run->mailtos_done) {
		run->mailtos_done = true;
		for (size_t i = 0; i < run->m->nparts; i++) {
			const struct rules_html *h = html_of(run, i);
			for (size_t k = 0; h && k < h->nmailto; k++) {
				run->mailtos = xrealloc(run->mailtos, (run->nmailtos + 1) * sizeof *run->mailtos);
				run->mailtos[run->nmailtos++] = h->mailto[k];
			}
		}
	}
	*out = (const char *const *)run->mailtos;
	return run->nmailtos;
}

/* ------------------------------------------------------------ the functions */

unsigned rules_eval_html_test_named(struct rules_run *run, const struct rule_eval *ev)
{
	for (size_t i = 0; i < run->m->nparts; i++) {
		const struct rules_html *h = html_of(run, i);
		if (!h)
			continue;
		if ((ev->test == HT_FONT_LOW_CONTRAST && h->font_low_contrast) ||
		    (ev->test == HT_FONT_FACE_BAD && h->font_face_bad) ||
		    (ev->test == HT_FONT_INVALID_COLOR && h->font_invalid_color))
			return 1;
	}
	return 0;
}

unsigned rules_eval_html_image_ratio(struct rules_run *run, const struct rule_eval *ev)
{
	for (size_t i = 0; i < run->m->nparts; i++) {
		const struct rules_html *h = html_of(run, i);
		if (!h || h->image_area <= 0)
			continue;
		double ratio = h->non_space_len / h->image_area;
		if (ratio > ev->a && ratio <= ev->b)
			return 1;
	}
	return 0;
}

unsigned rules_eval_html_range(struct rules_run *run, const struct rule_eval *ev)
{
	for (size_t i = 0; i < run->m->nparts; i++) {
		const struct rules_html *h = html_of(run, i);
		if (!h)
			continue;
		double v = ev->test == HR_MAX_SIZE ? h->max_size : ev->test == HR_MIN_SIZE ? h->min_size : h->length;
		if (v > ev->a && (ev->b_open || v <= ev->b))
			return 1;
	}
	return 0;
}

unsigned rules_eval_html_tag_balance(struct rules_run *run, const struct rule_eval *ev)
{
	for (size_t i = 0; i < run->m->nparts; i++) {
		const struct rules_html *h = html_of(run, i);
		if (!h)
			continue;
		uintptr_t in = (uintptr_t)map_get(h->inside, ev->args[0], strlen(ev->args[0]));
		if (!in)
			continue;
		double v = (double)(in - 1), n = ev->a;
		bool hit = ev->test == TB_EQ ? v == n : ev->test == TB_NE ? v != n : ev->test == TB_LT ? v < n
			 : ev->test == TB_GT ? v > n : ev->test == TB_LE ? v <= n : v >= n;
		if (hit)
			return 1;
	}
	return 0;
}

unsigned rules_eval_html_anchor_match(struct rules_run *run, const struct rule_eval *ev)
{
	for (size_t i = 0; i < run->m->nparts; i++) {
		const struct rules_html *h = html_of(run, i);
		if (!h)
			continue;
		for (size_t k = 0; k < h->nanchors; k++)
			if (rules_run_match(run, ev->re, h->anchors[k].data ? h->anchors[k].data : "", h->anchors[k].len))
				return 1;
	}
	return 0;
}
