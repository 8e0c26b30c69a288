/*
 * scan_mime_text.c - the text work of the MIME walk: charset conversion to
 * UTF-8, HTML rendered as text, URIs found in text, uuencoded blocks.
 *
 * Pure functions over bounded input (the caller caps it with max_text):
 * one pass each, output appended to a struct buf, no recursion. The HTML
 * renderer is a tolerant tokenizer, not a DOM: it follows what
 * SpamAssassin's renderer keeps (visible text, one space for each run of
 * white space, paragraph breaks at block elements) closely enough for body
 * rules, and never fails on broken markup.
 */
#include "scan/mime/scan_mime_int.h"

#include <errno.h>
#include <iconv.h>
#include <string.h>

#include "base/buf.h"
#include "base/str.h"

static void put_utf8(struct buf *out, unsigned long cp)
{
	char t[4];
	if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		cp = 0xfffd;
	if (cp < 0x80) {
		buf_putc(out, (char)cp);
		return;
	}
	if (cp < 0x800) {
		t[0] = (char)(0xc0 | (cp >> 6));
		t[1] = (char)(0x80 | (cp & 0x3f));
		buf_append(out, t, 2);
	} else if (cp < 0x10000) {
		t[0] = (char)(0xe0 | (cp >> 12));
		t[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		t[2] = (char)(0x80 | (cp & 0x3f));
		buf_append(out, t, 3);
	} else {
		t[0] = (char)(0xf0 | (cp >> 18));
		t[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		t[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		t[3] = (char)(0x80 | (cp & 0x3f));
		buf_append(out, t, 4);
	}
}

/* Valid UTF-8 sequences are copied, every other byte is read as Latin-1. */
static void utf8_repair(const char *s, size_t n, struct buf *out)
{
	size_t i = 0;
	while (i < n) {
		const char *end;
		if (g_utf8_validate(s + i, (gssize)(n - i), &end)) {
			buf_append(out, s + i, n - i);
			return;
		}
		size_t good = (size_t)(end - (s + i));
		buf_append(out, s + i, good);
		i += good;
		if (i < n && s[i] == '\0') { /* g_utf8_validate stops at NUL */
			buf_putc(out, '\0');
			i++;
			continue;
		}
		if (i < n)
			put_utf8(out, (unsigned char)s[i++]);
	}
}

static bool charset_is_utf8(const char *cs)
{
	return !cs || str_caseeq(cs, "utf-8") || str_caseeq(cs, "utf8") || str_caseeq(cs, "us-ascii") ||
	       str_caseeq(cs, "ascii");
}

void scan_mime_text_to_utf8(const char *charset, const char *s, size_t n, struct buf *out)
{
	if (charset_is_utf8(charset)) {
		utf8_repair(s, n, out);
		return;
	}
	iconv_t cd = g_mime_iconv_open("UTF-8", charset);
	if (cd == (iconv_t)-1) {
		utf8_repair(s, n, out);
		return;
	}
	char *in = (char *)s;
	size_t left = n;
	while (left > 0) {
		buf_reserve(out, left * 2 + 16);
		char *o = out->data + out->len;
		size_t room = out->cap - out->len - 1;
		size_t r = iconv(cd, &in, &left, &o, &room);
		out->len = (size_t)(o - out->data);
		out->data[out->len] = '\0';
		if (r != (size_t)-1)
			break;
		if (errno == E2BIG)
			continue;
		/* EILSEQ or EINVAL (cut sequence): one replacement char, skip a byte */
		put_utf8(out, 0xfffd);
		in++;
		left--;
		iconv(cd, NULL, NULL, NULL, NULL);
	}
	g_mime_iconv_close(cd);
}

/* ---- HTML ---- */

static const struct {
	const char *name;
	unsigned cp;
} entities[] = {
	{ "amp", '&' },	   { "lt", '<' },	{ "gt", '>' },	      { "quot", '"' },	    { "apos", '\'' },
	{ "nbsp", ' ' },   { "copy", 0xa9 },	{ "reg", 0xae },      { "trade", 0x2122 },  { "hellip", 0x2026 },
	{ "mdash", 0x2014 }, { "ndash", 0x2013 }, { "lsquo", 0x2018 }, { "rsquo", 0x2019 }, { "ldquo", 0x201c },
	{ "rdquo", 0x201d }, { "bull", 0x2022 }, { "middot", 0xb7 },  { "euro", 0x20ac },   { "pound", 0xa3 },
	{ "yen", 0xa5 },   { "cent", 0xa2 },	{ "laquo", 0xab },    { "raquo", 0xbb },    { "times", 0xd7 },
	{ "divide", 0xf7 }, { "deg", 0xb0 },	{ "plusmn", 0xb1 },   { "para", 0xb6 },	    { "sect", 0xa7 },
	{ "iexcl", 0xa1 }, { "iquest", 0xbf },	{ "shy", 0 },	      { "zwnj", 0 },	    { "zwj", 0 },
};

/* An entity at s[0] == '&': appends its text and returns the bytes used,
 * or 0 when it is not one (the '&' is then text). */
static size_t html_entity(const char *s, size_t n, struct buf *out)
{
	size_t i = 1;
	if (i < n && s[i] == '#') {
		unsigned long cp = 0;
		bool hex = i + 1 < n && (s[i + 1] == 'x' || s[i + 1] == 'X');
		i += hex ? 2 : 1;
		size_t start = i;
		while (i < n && i - start < 8 && (hex ? g_ascii_isxdigit(s[i]) : g_ascii_isdigit(s[i]))) {
			cp = cp * (hex ? 16 : 10) + (unsigned long)(hex ? g_ascii_xdigit_value(s[i]) : s[i] - '0');
			i++;
		}
		if (i == start)
			return 0;
		if (i < n && s[i] == ';')
			i++;
		put_utf8(out, cp);
		return i;
	}
	size_t start = i;
	while (i < n && i - start < 8 && g_ascii_isalnum(s[i]))
		i++;
	size_t len = i - start;
	for (size_t k = 0; k < G_N_ELEMENTS(entities); k++) {
		if (strlen(entities[k].name) == len && memcmp(entities[k].name, s + start, len) == 0) {
			if (entities[k].cp)
				put_utf8(out, entities[k].cp);
			return (i < n && s[i] == ';') ? i + 1 : i;
		}
	}
	return 0;
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Case-insensitive search for needle in s[from..n); n when absent. */
static size_t find_ci(const char *s, size_t n, size_t from, const char *needle)
{
	size_t nl = strlen(needle);
	for (size_t i = from; i + nl <= n; i++)
		if (g_ascii_strncasecmp(s + i, needle, nl) == 0)
			return i;
	return n;
}

static bool tag_in(const char *name, const char *const *list)
{
	for (; *list; list++)
		if (g_ascii_strcasecmp(name, *list) == 0)
			return true;
	return false;
}

static const char *const block_tags[] = { "p",	"div", "tr",	   "li",  "table", "h1",	 "h2",
					  "h3", "h4",  "h5",	   "h6",  "ul",	   "ol",	 "dl",
					  "dd", "dt",  "blockquote", "pre", "hr",	   "title", "center",
					  "form", "address", "section", "article", "header", "footer", NULL };
static const char *const link_attrs[] = { "href", "src", "action", "background", NULL };

/* Attributes of a tag s[0..n) (after the name): link targets go to fn. */
static void html_attrs(const char *s, size_t n, scan_mime_uri_fn fn, void *ctx)
{
	size_t i = 0;
	while (i < n) {
		while (i < n && (is_ws(s[i]) || s[i] == '/'))
			i++;
		size_t ns = i;
		while (i < n && !is_ws(s[i]) && s[i] != '=' && s[i] != '/')
			i++;
		char name[16];
		size_t nl = i - ns;
		if (nl == 0) {
			i++;
			continue;
		}
		while (i < n && is_ws(s[i]))
			i++;
		if (i >= n || s[i] != '=')
			continue;
		i++;
		while (i < n && is_ws(s[i]))
			i++;
		size_t vs, ve;
		if (i < n && (s[i] == '"' || s[i] == '\'')) {
			char q = s[i++];
			vs = i;
			while (i < n && s[i] != q)
				i++;
			ve = i;
			if (i < n)
				i++;
		} else {
			vs = i;
			while (i < n && !is_ws(s[i]))
				i++;
			ve = i;
		}
		if (nl >= sizeof name || !fn)
			continue;
		memcpy(name, s + ns, nl);
		name[nl] = '\0';
		if (!tag_in(name, link_attrs))
			continue;
		while (vs < ve && is_ws(s[vs]))
			vs++;
		while (ve > vs && is_ws(s[ve - 1]))
			ve--;
		if (ve == vs)
			continue;
		struct buf v;
		buf_init(&v);
		for (size_t k = vs; k < ve;) {
			size_t used = s[k] == '&' ? html_entity(s + k, ve - k, &v) : 0;
			if (used) {
				k += used;
			} else {
				buf_putc(&v, s[k]);
				k++;
			}
		}
		fn(ctx, v.data, v.len);
		buf_fini(&v);
	}
}

/* Append a break ("\n" or "\n\n") unless the output already ends in one
 * at least as strong. White space around it stays: SpamAssassin's body
 * collapsing keeps one space on each side of a paragraph break. */
static void html_break(struct buf *out, bool para)
{
	size_t nl = 0;
	while (nl < out->len && nl < 2 && out->data[out->len - 1 - nl] == '\n')
		nl++;
	size_t want = para ? 2 : 1;
	while (nl < want) {
		buf_putc(out, '\n');
		nl++;
	}
}

/* A tag at s[0] == '<': handles it and returns the bytes used (0: the '<'
 * is text). */
static size_t html_tag(const char *s, size_t n, struct buf *out, scan_mime_uri_fn fn, void *ctx)
{
	if (n >= 4 && memcmp(s, "<!--", 4) == 0) {
		size_t e = find_ci(s, n, 4, "-->");
		return e == n ? n : e + 3;
	}
	size_t i = 1;
	bool closing = i < n && s[i] == '/';
	if (closing)
		i++;
	if (i < n && (s[i] == '!' || s[i] == '?')) {
		const char *gt = memchr(s + i, '>', n - i);
		return gt ? (size_t)(gt - s) + 1 : n;
	}
	size_t ns = i;
	while (i < n && g_ascii_isalnum(s[i]))
		i++;
	if (i == ns)
		return 0;
	char name[16];
	size_t nl = i - ns < sizeof name - 1 ? i - ns : sizeof name - 1;
	memcpy(name, s + ns, nl);
	name[nl] = '\0';
	/* end of the tag: a quote matters only where a value starts (after
	 * "=" and white space), as in the HTML5 tokenizer */
	size_t as = i;
	while (i < n && s[i] != '>') {
		if (s[i++] != '=')
			continue;
		while (i < n && is_ws(s[i]))
			i++;
		if (i < n && (s[i] == '"' || s[i] == '\'')) {
			const char *qe = memchr(s + i + 1, s[i], n - i - 1);
			i = qe ? (size_t)(qe - s) + 1 : n;
		}
	}
	size_t end = i < n ? i + 1 : n;
	if (!closing)
		html_attrs(s + as, i - as, fn, ctx);
	if (!closing && (g_ascii_strcasecmp(name, "script") == 0 || g_ascii_strcasecmp(name, "style") == 0)) {
		char close[24];
		snprintf(close, sizeof close, "</%s", name);
		size_t c = find_ci(s, n, end, close);
		if (c == n)
			return n;
		const char *gt = memchr(s + c, '>', n - c);
		return gt ? (size_t)(gt - s) + 1 : n;
	}
	if (!closing && g_ascii_strcasecmp(name, "br") == 0)
		html_break(out, false);
	else if (tag_in(name, block_tags))
		html_break(out, true); /* opening or closing */
	else if (g_ascii_strcasecmp(name, "td") == 0 || g_ascii_strcasecmp(name, "th") == 0)
		buf_putc(out, ' ');
	return end;
}

void scan_mime_text_html(const char *s, size_t n, struct buf *out, scan_mime_uri_fn fn, void *ctx)
{
	size_t i = 0;
	while (i < n) {
		char c = s[i];
		if (c == '<') {
			size_t used = html_tag(s + i, n - i, out, fn, ctx);
			if (used) {
				i += used;
				continue;
			}
		} else if (c == '&') {
			size_t used = html_entity(s + i, n - i, out);
			if (used) {
				i += used;
				continue;
			}
		} else if (is_ws(c)) {
			/* a run of white space in text is one space */
			while (i < n && is_ws(s[i]))
				i++;
			if (out->len == 0 || out->data[out->len - 1] != ' ')
				buf_putc(out, ' ');
			continue;
		}
		buf_putc(out, c);
		i++;
	}
}

/* ---- URIs in plain text ---- */

static bool uri_char(unsigned char c)
{
	if (c >= 0x80)
		return true;
	return g_ascii_isalnum(c) || (c && strchr("-._~:/?#[]@!$&'()*+,;=%", c) != NULL);
}

static void text_uri_emit(const char *s, size_t n, const char *scheme_add, scan_mime_uri_fn fn, void *ctx)
{
	/* trailing punctuation belongs to the sentence, not the URI */
	while (n > 0 && s[n - 1] && strchr(".,;:!?'\"", s[n - 1]))
		n--;
	if (n > 0 && s[n - 1] == ')' && !memchr(s, '(', n))
		n--;
	struct buf u;
	buf_init(&u);
	if (scheme_add)
		buf_puts(&u, scheme_add);
	buf_append(&u, s, n);
	fn(ctx, u.data, u.len);
	buf_fini(&u);
}

void scan_mime_text_uris(const char *s, size_t n, scan_mime_uri_fn fn, void *ctx)
{
	static const struct {
		const char *prefix;
		const char *add;
		size_t min_after;
	} kinds[] = {
		{ "http://", NULL, 1 }, { "https://", NULL, 1 }, { "ftp://", NULL, 1 },
		{ "mailto:", NULL, 3 }, { "www.", "http://", 3 }, { "ftp.", "ftp://", 3 },
	};
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c != 'h' && c != 'H' && c != 'f' && c != 'F' && c != 'm' && c != 'M' && c != 'w' && c != 'W')
			continue;
		if (i > 0 && (g_ascii_isalnum(s[i - 1]) || s[i - 1] == '.' || s[i - 1] == '-' || s[i - 1] == '/' ||
			      s[i - 1] == '@'))
			continue;
		for (size_t k = 0; k < G_N_ELEMENTS(kinds); k++) {
			size_t pl = strlen(kinds[k].prefix);
			if (i + pl > n || g_ascii_strncasecmp(s + i, kinds[k].prefix, pl) != 0)
				continue;
			size_t e = i + pl;
			while (e < n && uri_char((unsigned char)s[e]) &&
			       !((unsigned char)s[e] == 0xc2 && e + 1 < n && (unsigned char)s[e + 1] == 0xa0))
				e++;
			if (e - (i + pl) < kinds[k].min_after)
				break;
			text_uri_emit(s + i, e - i, kinds[k].add, fn, ctx);
			i = e - 1;
			break;
		}
	}
}

/* ---- uuencode ---- */

/* Is s[0..n) a "begin NNN name" line? name_off set to the name. */
static bool uu_begin(const char *s, size_t n, size_t *name_off)
{
	if (n < 10 || memcmp(s, "begin ", 6) != 0)
		return false;
	size_t i = 6, d = 0;
	while (i < n && s[i] >= '0' && s[i] <= '7') {
		i++;
		d++;
	}
	if (d < 3 || d > 4 || i >= n || s[i] != ' ')
		return false;
	i++;
	if (i >= n || is_ws(s[i]))
		return false;
	*name_off = i;
	return true;
}

static size_t line_end(const char *s, size_t n, size_t pos, size_t *next)
{
	const char *nl = memchr(s + pos, '\n', n - pos);
	size_t e = nl ? (size_t)(nl - s) : n;
	*next = nl ? e + 1 : n;
	if (e > pos && s[e - 1] == '\r')
		e--;
	return e;
}

static void uu_line(const char *s, size_t n, struct buf *data)
{
	size_t want = (size_t)((s[0] - ' ') & 0x3f);
	size_t i = 1;
	while (want > 0) {
		unsigned char q[4];
		for (int k = 0; k < 4; k++, i++)
			q[k] = i < n ? (unsigned char)((s[i] - ' ') & 0x3f) : 0;
		unsigned char b[3] = { (unsigned char)(q[0] << 2 | q[1] >> 4), (unsigned char)(q[1] << 4 | q[2] >> 2),
				       (unsigned char)(q[2] << 6 | q[3]) };
		size_t take = want < 3 ? want : 3;
		buf_append(data, b, take);
		want -= take;
	}
}

bool scan_mime_text_uu_next(const char *s, size_t n, size_t *pos, struct buf *name, struct buf *data,
			    bool *malformed)
{
	size_t p = *pos, next;
	while (p < n) {
		size_t e = line_end(s, n, p, &next), name_off;
		if (uu_begin(s + p, e - p, &name_off)) {
			buf_reset(name);
			buf_append(name, s + p + name_off, e - p - name_off);
			buf_reset(data);
			*malformed = true;
			p = next;
			while (p < n) {
				e = line_end(s, n, p, &next);
				if (e - p == 3 && memcmp(s + p, "end", 3) == 0) {
					*malformed = false;
					p = next;
					break;
				}
				if (e > p)
					uu_line(s + p, e - p, data);
				p = next;
			}
			*pos = p;
			return true;
		}
		p = next;
	}
	*pos = n;
	return false;
}

/* ---- RFC 2047 encoded words ---- */

static void ew_b64(const char *s, size_t n, struct buf *out)
{
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n && s[i] != '='; i++) {
		const char *p = strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", s[i]);
		if (!p || !s[i])
			continue;
		acc = (acc << 6) | (unsigned)(p - "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf_putc(out, (char)((acc >> bits) & 0xff));
		}
	}
}

static void ew_q(const char *s, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '_') {
			buf_putc(out, ' ');
		} else if (s[i] == '=' && i + 2 < n && g_ascii_isxdigit(s[i + 1]) && g_ascii_isxdigit(s[i + 2])) {
			buf_putc(out, (char)(g_ascii_xdigit_value(s[i + 1]) * 16 + g_ascii_xdigit_value(s[i + 2])));
			i += 2;
		} else {
			buf_putc(out, s[i]);
		}
	}
}

/* An encoded word "=?charset?B|Q?payload?=" at s[0]: its length (0 if it
 * is not one), the charset (RFC 2231 language dropped) in cs and the
 * decoded bytes appended to bytes. */
static size_t ew_parse(const char *s, size_t n, char *cs, size_t cs_size, struct buf *bytes)
{
	if (n < 8 || s[0] != '=' || s[1] != '?')
		return 0;
	size_t i = 2;
	while (i < n && s[i] != '?' && !is_ws(s[i]))
		i++;
	size_t csl = i - 2;
	if (i + 3 >= n || s[i] != '?' || csl == 0 || csl >= cs_size || s[i + 2] != '?')
		return 0;
	char enc = (char)g_ascii_tolower(s[i + 1]);
	if (enc != 'b' && enc != 'q')
		return 0;
	size_t ps = i + 3, pe = ps;
	while (pe + 1 < n && !(s[pe] == '?' && s[pe + 1] == '=')) {
		if (is_ws(s[pe]))
			return 0;
		pe++;
	}
	if (pe + 1 >= n)
		return 0;
	memcpy(cs, s + 2, csl);
	cs[csl] = '\0';
	char *star = strchr(cs, '*');
	if (star)
		*star = '\0';
	if (enc == 'b')
		ew_b64(s + ps, pe - ps, bytes);
	else
		ew_q(s + ps, pe - ps, bytes);
	return pe + 2;
}

static void ew_flush(const char *cs, struct buf *bytes, struct buf *out)
{
	if (bytes->len)
		scan_mime_text_to_utf8(cs, bytes->data, bytes->len, out);
	buf_reset(bytes);
}

static void put_buf(struct buf *out, struct buf *b)
{
	if (b->len)
		buf_append(out, b->data, b->len);
	buf_reset(b);
}

void scan_mime_text_hdr_decode(const char *s, size_t n, struct buf *out)
{
	char cs[64] = "", next_cs[64];
	struct buf bytes, word, ws;
	buf_init(&bytes);
	buf_init(&word);
	buf_init(&ws);
	bool after_ew = false;
	for (size_t i = 0; i < n;) {
		size_t used = s[i] == '=' ? ew_parse(s + i, n - i, next_cs, sizeof next_cs, &word) : 0;
		if (used) {
			/* white space between two encoded words is dropped (RFC 2047
			 * 6.2); words of one charset are one byte run, so a
			 * character split over two words comes out whole */
			if (!after_ew)
				put_buf(out, &ws);
			buf_reset(&ws);
			if (after_ew && g_ascii_strcasecmp(cs, next_cs) != 0)
				ew_flush(cs, &bytes, out);
			put_buf(&bytes, &word);
			snprintf(cs, sizeof cs, "%s", next_cs);
			after_ew = true;
			i += used;
			continue;
		}
		buf_reset(&word);
		if (is_ws(s[i])) {
			buf_putc(&ws, s[i++]);
			continue;
		}
		ew_flush(cs, &bytes, out);
		after_ew = false;
		put_buf(out, &ws);
		buf_putc(out, s[i++]);
	}
	ew_flush(cs, &bytes, out);
	put_buf(out, &ws);
	buf_fini(&bytes);
	buf_fini(&word);
	buf_fini(&ws);
}
