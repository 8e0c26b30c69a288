/*
 * scan_bayes_tok.c - SpamAssassin's Bayes tokeniser (scan_bayes.h says
 * what it covers), written from the behaviour of its Bayes plugin:
 *
 *   a line    octets outside [A-Za-z0-9,@*!_'"$. -], a valid UTF-8
 *             sequence or a single octet >= 0xA1 become spaces; "a...b" and
 *             "a--b" are split around the run of 3-6 dots or 2-6 dashes; in
 *             body and URI text, a capital starting the line or a sentence
 *             is lowered; then each word, trimmed of [-'".,] at both ends,
 *             of 3 octets or more and not a stop word, gives its tokens
 *             (tok_word).
 *   regions   0 header (prefix "H<name>:", scan_bayes_hdr.c), 1 body, 2 URI.
 * Limits as SpamAssassin's: 50,000 body tokens, 10,000 URI tokens, 10,000
 * header tokens, counted after each line.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "scan/bayes/scan_bayes_int.h"
#include "scan/mime/scan_msg.h"

#define BODY_TOKENS_MAX 50000
#define URI_TOKENS_MAX 10000

pcre2_code *bayes_compile(const char *pat, uint32_t opts)
{
	int ec;
	PCRE2_SIZE off;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, opts, &ec, &off, NULL);
	if (re)
		pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
	return re;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct scan_bayes_tok *scan_bayes_tok_new(const char *const *ignore, size_t nignore, const char *const *stopwords,
					  size_t nstop, unsigned max_len, char *err, size_t errlen)
{
	struct scan_bayes_tok *t = xcalloc(1, sizeof *t);
	t->max_len = max_len ? max_len : 15;
	t->ignore = xcalloc(nignore + 1, sizeof *t->ignore);
	for (size_t i = 0; i < nignore; i++) {
		char *s = xstrdup(ignore[i]);
		for (char *p = s; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		t->ignore[t->nignore++] = s;
	}
	qsort(t->ignore, t->nignore, sizeof *t->ignore, cmp_str);
	if (nstop) {
		struct buf b = { 0 };
		buf_puts(&b, "^(?:");
		for (size_t i = 0; i < nstop; i++)
			buf_printf(&b, "%s(?:%s)", i ? "|" : "", stopwords[i]);
		buf_puts(&b, ")$");
		t->stop = bayes_compile(b.data, PCRE2_CASELESS);
		buf_fini(&b);
		if (!t->stop) {
			snprintf(err, errlen, "bayes_stopword: the pattern does not compile");
			scan_bayes_tok_free(&t);
			return NULL;
		}
	}
	if (!bayes_hdr_compile(t)) { /* our own patterns: a build problem */
		snprintf(err, errlen, "bayes: a built-in pattern does not compile");
		scan_bayes_tok_free(&t);
		return NULL;
	}
	return t;
}

void scan_bayes_tok_free(struct scan_bayes_tok **tp)
{
	struct scan_bayes_tok *t = *tp;
	if (!t)
		return;
	for (size_t i = 0; i < t->nignore; i++)
		xfree(t->ignore[i]);
	xfree(t->ignore);
	pcre2_code_free(t->stop);
	bayes_hdr_free(t);
	xfree(t);
	*tp = NULL;
}

/* ------------------------------------------------------------ output */


static void emit2(struct run *R, const char *pre, size_t plen, const char *s, size_t len)
{
	if (plen + len == 0 || R->n >= SCAN_BAYES_MAX_TOKENS)
		return;
	R->tok.len = 0;
	buf_append(&R->tok, pre, plen);
	buf_append(&R->tok, s, len);
	if (R->each)
		R->each(R->ctx, R->tok.data, R->tok.len);
	if (R->n == R->cap) {
		R->cap = R->cap ? R->cap * 2 : 1024;
		R->keys = xrealloc(R->keys, R->cap * sizeof *R->keys);
	}
	R->keys[R->n++] = scan_bayes_key(R->tok.data, R->tok.len);
	R->region_count++;
}

static void emit(struct run *R, const char *pre, const char *s, size_t len)
{
	emit2(R, pre, strlen(pre), s, len);
}

/* ------------------------------------------------------------ words */

bool bayes_is_word(unsigned char c)
{
	return isalnum(c) || c == '_';
}

static bool is_cont(unsigned char c)
{
	return c >= 0x80 && c <= 0xbf;
}

/* A valid UTF-8 sequence of 2, 3 or 4 octets at s (as SpamAssassin's
 * pattern defines one), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	if (n >= 2 && s[0] >= 0xc0 && s[0] <= 0xdf && is_cont(s[1]))
		return 2;
	if (n >= 3 && s[0] >= 0xe0 && s[0] <= 0xef && is_cont(s[1]) && is_cont(s[2]))
		return 3;
	if (n >= 4 && s[0] >= 0xf0 && s[0] <= 0xf4 && is_cont(s[1]) && is_cont(s[2]) && is_cont(s[3]))
		return 4;
	return 0;
}

/* The parent of the domain *d: its first label dropped, when a label comes
 * before a dot and something follows it ("a.b.com" -> "b.com"). */
bool bayes_parent_domain(const char **d, size_t *dl)
{
	const char *dot = memchr(*d, '.', *dl);
	if (!dot || dot == *d || (size_t)(dot - *d) + 1 >= *dl)
		return false;
	*dl -= (size_t)(dot - *d) + 1;
	*d = dot + 1;
	return true;
}

/* pre+d and pre+ each parent of d ("a.b.com" -> a.b.com b.com com). */
static void with_parents(struct run *R, const char *pre, const char *d, size_t dl)
{
	emit(R, pre, d, dl);
	while (bayes_parent_domain(&d, &dl))
		emit(R, pre, d, dl);
}

/* "foo@bar.example.com" -> U*foo D*bar.example.com D*example.com D*com (the
 * last @ with something on both sides splits). */
static void mail_addr_tokens(struct run *R, const char *s, size_t n)
{
	size_t at = n;
	for (size_t i = n; i-- > 1;)
		if (s[i] == '@' && i + 1 < n) {
			at = i;
			break;
		}
	if (at == n)
		return;
	emit(R, "U*", s, at);
	with_parents(R, "D*", s + at + 1, n - at - 1);
}

/* Octets of the first 7 characters of s (a valid UTF-8 sequence is one
 * character, any other octet too), or 0 when s is shorter. */
static size_t seven_chars(const unsigned char *s, size_t n)
{
	size_t p = 0;
	for (int k = 0; k < 7; k++) {
		if (p >= n)
			return 0;
		size_t l = (s[p] < 0x80 || s[p] >= 0xf5) ? 1 : utf8_seq(s + p, n - p);
		p += l ? l : 1;
	}
	return p;
}

static void tok_word(struct run *R, char *w, size_t n, const char *pre, int region)
{
	while (n && strchr("-'\".,", w[0])) {
		w++;
		n--;
	}
	while (n && strchr("-'\".,", w[n - 1]))
		n--;
	if (n < 3)
		return;
	if (R->t->stop && pcre2_match(R->t->stop, (PCRE2_SPTR)w, n, 0, 0, R->md, NULL) >= 0)
		return;
	const unsigned char *u = (const unsigned char *)w;
	if (region != BAYES_R_HDR) {
		bool addr = false, dom = false;
		for (size_t i = 1; i + 1 < n && !addr; i++)
			addr = w[i] == '@' && !isspace(u[i - 1]) && !isspace(u[i + 1]);
		for (size_t i = 1; i + 1 < n && !addr && !dom; i++)
			dom = w[i] == '.' && !isspace(u[i - 1]) && isalpha(u[i + 1]);
		if (addr)
			mail_addr_tokens(R, w, n);
		else if (dom)
			with_parents(R, "UD:", w, n);
	}
	char shortened[3 + 28];
	if (n > R->t->max_len && !memchr(w, '*', n)) {
		bool two_cont = false;
		for (size_t i = 0; i + 1 < n && !two_cont; i++)
			two_cont = is_cont(u[i]) && is_cont(u[i + 1]);
		if (two_cont) {
			bool any = false;
			for (size_t i = 0; i < n;) {
				size_t l = 0;
				if (u[i] >= 0xe0 && u[i] <= 0xef && i + 2 < n && is_cont(u[i + 1]) && is_cont(u[i + 2]))
					l = 3;
				else if (u[i] >= 0xf0 && u[i] <= 0xf4 && i + 3 < n && is_cont(u[i + 1]) &&
					 is_cont(u[i + 2]) && is_cont(u[i + 3]))
					l = 4;
				if (!l) {
					i++;
					continue;
				}
				struct buf p2 = { 0 };
				buf_printf(&p2, "%su8:", pre);
				emit2(R, p2.data, p2.len, w + i, l);
				buf_fini(&p2);
				any = true;
				i += l;
			}
			if (any)
				return;
		}
		if (region != BAYES_R_URI) {
			size_t p = seven_chars(u, n);
			if (p && n - p >= 2) {
				memcpy(shortened, "sk:", 3);
				memcpy(shortened + 3, w, p);
				w = shortened;
				n = 3 + p;
			}
		}
	}
	if (region != BAYES_R_HDR) {
		bool nonword = false, upper = false;
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)w[i];
			nonword |= !(bayes_is_word(c) || c == ':' || c == '*');
			upper |= c >= 'A' && c <= 'Z';
		}
		char *v = xmalloc(n + 1);
		if (nonword) {
			size_t k = 0;
			for (size_t i = 0; i < n; i++)
				if (bayes_is_word((unsigned char)w[i]) || w[i] == ':' || w[i] == '*')
					v[k++] = w[i];
			emit(R, pre, v, k);
		}
		if (upper) {
			for (size_t i = 0; i < n; i++)
				v[i] = (char)tolower((unsigned char)w[i]);
			emit(R, pre, v, n);
			if (nonword) {
				size_t k = 0;
				for (size_t i = 0; i < n; i++)
					if (bayes_is_word((unsigned char)v[i]) || v[i] == ':' || v[i] == '*')
						v[k++] = v[i];
				emit(R, pre, v, k);
			}
		}
		xfree(v);
	}
	emit(R, pre, w, n);
}

/* "a...b" -> "a ... b" for runs of lo..hi c between word characters (the
 * word after the run is taken by the match: "a...b...c" splits once). */
static size_t split_runs(const char *in, size_t n, char *out, char c, size_t lo, size_t hi)
{
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		if (bayes_is_word((unsigned char)in[i])) {
			size_t r = 0;
			while (i + 1 + r < n && in[i + 1 + r] == c)
				r++;
			if (r >= lo && r <= hi && i + 1 + r < n && bayes_is_word((unsigned char)in[i + 1 + r])) {
				out[o++] = in[i];
				out[o++] = ' ';
				memset(out + o, c, r);
				o += r;
				out[o++] = ' ';
				out[o++] = in[i + 1 + r];
				i += 2 + r;
				continue;
			}
		}
		out[o++] = in[i++];
	}
	return o;
}

/* A capital starting the text or a sentence (". " before it), followed by
 * non-capitals up to a space or the end, lowered: SpamAssassin's
 * s/(?:^|\.\s+)([A-Z])([^A-Z]+)(?:\s|$)/' '.lc($1).$2.' '/ge. */
static size_t title_case(const char *in, size_t n, char *out)
{
	size_t o = 0, j = 0;
	while (j < n) {
		size_t L = n; /* the capital's position when a match starts at j */
		if (j == 0 && in[0] >= 'A' && in[0] <= 'Z')
			L = 0;
		else if (in[j] == '.') {
			size_t k = j + 1;
			while (k < n && in[k] == ' ')
				k++;
			if (k > j + 1 && k < n && in[k] >= 'A' && in[k] <= 'Z')
				L = k;
		}
		size_t end = 0; /* the match's end */
		size_t kend = 0; /* end of the [^A-Z]+ run kept */
		if (L < n) {
			size_t e = L + 1;
			while (e < n && !(in[e] >= 'A' && in[e] <= 'Z'))
				e++;
			if (e == n && e >= L + 2) {
				kend = n;
				end = n;
			} else {
				for (size_t k = e; k-- > L + 2;)
					if (in[k] == ' ') {
						kend = k;
						end = k + 1;
						break;
					}
			}
		}
		if (!end) {
			out[o++] = in[j++];
			continue;
		}
		out[o++] = ' ';
		out[o++] = (char)tolower((unsigned char)in[L]);
		memcpy(out + o, in + L + 1, kend - L - 1);
		o += kend - L - 1;
		out[o++] = ' ';
		j = end;
	}
	return o;
}

void bayes_tok_line(struct run *R, const char *in, size_t len, const char *pre, int region)
{
	const unsigned char *u = (const unsigned char *)in;
	char *a = xmalloc(len * 5 + 16), *b = xmalloc(len * 5 + 16); /* room for the spaces the passes add */
	size_t n = 0;
	for (size_t i = 0; i < len;) {
		unsigned char c = u[i];
		if (isalnum(c) || (c && strchr(",@*!_'\"$. -", c))) {
			a[n++] = (char)c;
			i++;
			continue;
		}
		size_t l = utf8_seq(u + i, len - i);
		if (l) {
			memcpy(a + n, in + i, l);
			n += l;
			i += l;
			continue;
		}
		a[n++] = c >= 0xa1 ? (char)c : ' ';
		i++;
	}
	n = split_runs(a, n, b, '.', 3, 6);
	n = split_runs(b, n, a, '-', 2, 6);
	char *s = a;
	if (region != BAYES_R_HDR) {
		n = title_case(a, n, b);
		s = b;
	}
	for (size_t i = 0; i < n;) {
		while (i < n && s[i] == ' ')
			i++;
		size_t st = i;
		while (i < n && s[i] != ' ')
			i++;
		if (i > st)
			tok_word(R, s + st, i - st, pre, region);
	}
	xfree(a);
	xfree(b);
}

/* ------------------------------------------------------------ message */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

size_t scan_bayes_tokenize(const struct scan_bayes_tok *t, const struct scan_msg *m,
			   const struct scan_bayes_meta *meta, uint64_t **keys,
			   void (*each)(void *ctx, const char *tok, size_t len), void *ctx)
{
	struct run R = { .t = t, .each = each, .ctx = ctx, .tok = { 0 } };
	R.md = pcre2_match_data_create(16, NULL);
	for (size_t i = 0; i < m->nbody && R.region_count < BODY_TOKENS_MAX; i++)
		bayes_tok_line(&R, m->body[i].s, m->body[i].len, "", BAYES_R_BODY);
	R.region_count = 0;
	for (size_t i = 0; i < m->nuris && R.region_count < URI_TOKENS_MAX; i++)
		bayes_tok_line(&R, m->uris[i], strlen(m->uris[i]), "", BAYES_R_URI);
	bayes_tok_headers(&R, m, meta);
	pcre2_match_data_free(R.md);
	buf_fini(&R.tok);
	if (R.n)
		qsort(R.keys, R.n, sizeof *R.keys, cmp_u64);
	size_t k = 0;
	for (size_t i = 0; i < R.n; i++)
		if (k == 0 || R.keys[k - 1] != R.keys[i])
			R.keys[k++] = R.keys[i];
	*keys = R.keys ? R.keys : xmalloc(sizeof **keys);
	return k;
}
