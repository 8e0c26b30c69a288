/*
 * scan_mime_clean.c - remove infected parts from a message by splicing.
 *
 * The message is parsed with the same walk as scan_msg_parse() (so part
 * numbers agree); each listed leaf's bytes, from the start of its header
 * block to the end of its content, are replaced by a text/plain part that
 * says what was found. Every other byte is copied from raw as it was:
 * headers, boundaries, preambles and untouched parts are never re-encoded.
 * The output has CRLF line ends (a bare LF becomes CRLF), as the queue
 * stores messages. A uuencoded block ("2.u1") replaces its text part.
 * When the body of a message (top-level or attached) is replaced, that
 * message's own fields are kept, except Content-*.
 */
#include "scan/mime/scan_mime_int.h"

#include <string.h>

#include "base/buf.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "mail/mail_edit.h"

struct clean_repl {
	size_t begin, end; /* raw range replaced */
	struct buf text;   /* the new bytes (LF line ends; made CRLF on output) */
};

struct clean_ctx {
	const char *raw;
	size_t len;
	const char *const *paths;
	const char *const *why;
	size_t n;
	struct clean_repl *r;
	size_t nr, cap;
};

/* Does wanted name the leaf at path, or a uuencoded block (".uK") or an
 * embedded MIME part (".eK") found inside it?
 * *uu_out: the uuencoded block number (0: the leaf itself or embedded). */
static bool path_hits(const char *wanted, const char *path, int *uu_out)
{
	size_t pl = strlen(path);
	*uu_out = 0;
	if (strcmp(wanted, path) == 0)
		return true;
	if (strncmp(wanted, path, pl) != 0 || (strncmp(wanted + pl, ".u", 2) != 0 && strncmp(wanted + pl, ".e", 2) != 0))
		return false;
	bool uu = wanted[pl + 1] == 'u';
	const char *d = wanted + pl + 2;
	if (!*d)
		return false;
	int k = 0;
	for (; *d; d++) {
		if (*d < '0' || *d > '9' || k > 100000)
			return false;
		k = k * 10 + (*d - '0');
	}
	*uu_out = uu ? k : 0;
	return k > 0;
}

/* Printable copy of s: control characters could break the header or line. */
static void put_safe(struct buf *b, const char *s)
{
	for (; s && *s; s++)
		buf_putc(b, (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

/* Name of uuencoded block k of the leaf, into name (empty if absent). */
static void uu_name(GMimeObject *o, int k, struct buf *name)
{
	size_t len;
	unsigned char *text = scan_mime_part_decode(GMIME_PART(o), &len);
	struct buf data;
	buf_init(&data);
	size_t pos = 0;
	bool bad;
	for (int i = 1; i <= k; i++)
		if (!scan_mime_text_uu_next((const char *)text, len, &pos, name, &data, &bad)) {
			buf_reset(name);
			break;
		}
	buf_fini(&data);
	g_free(text);
}

static void one_finding(struct buf *t, GMimeObject *o, const char *path, int uu, const char *why)
{
	struct buf name;
	buf_init(&name);
	if (uu)
		uu_name(o, uu, &name);
	const char *fn = uu ? (name.len ? name.data : NULL) : g_mime_part_get_filename(GMIME_PART(o));
	buf_puts(t, "This attachment (");
	if (fn)
		put_safe(t, fn);
	else
		buf_printf(t, "part %s", path);
	buf_puts(t, ") contained the virus ");
	put_safe(t, why && *why ? why : "(unnamed)");
	buf_puts(t, " and was removed by mxgate.\n");
	buf_fini(&name);
}

struct keep_ctx {
	struct buf *out;
	bool mime_version;
};

static void keep_field(void *ctx, const char *name, size_t nlen, const char *line, size_t line_len,
		       const char *value, size_t vlen)
{
	struct keep_ctx *k = ctx;
	(void)value;
	(void)vlen;
	if (name && nlen >= 8 && g_ascii_strncasecmp(name, "Content-", 8) == 0)
		return;
	if (name && nlen == 12 && g_ascii_strncasecmp(name, "MIME-Version", 12) == 0)
		k->mime_version = true;
	buf_append(k->out, line, line_len);
	if (line_len && line[line_len - 1] != '\n')
		buf_putc(k->out, '\n');
}

static void on_leaf(void *vctx, const struct scan_mime_leaf *lf)
{
	struct clean_ctx *c = vctx;
	struct buf findings;
	buf_init(&findings);
	for (size_t i = 0; i < c->n; i++) {
		int uu;
		if (c->paths[i] && path_hits(c->paths[i], lf->path, &uu))
			one_finding(&findings, lf->obj, lf->path, uu, c->why ? c->why[i] : NULL);
	}
	if (!findings.len || !lf->spliceable) {
		buf_fini(&findings);
		return;
	}
	c->r = xgrow(c->r, &c->cap, c->nr + 1, sizeof *c->r);
	struct clean_repl *r = &c->r[c->nr++];
	r->begin = lf->hdr_begin;
	r->end = lf->body_end;
	buf_init(&r->text);
	struct keep_ctx k = { &r->text, false };
	scan_mime_fields(c->raw + lf->hdr_begin, lf->body_begin - lf->hdr_begin, keep_field, &k);
	if (lf->top && !k.mime_version)
		buf_puts(&r->text, "MIME-Version: 1.0\n");
	buf_puts(&r->text, "Content-Type: text/plain; charset=utf-8\n"
			   "Content-Transfer-Encoding: 8bit\n"
			   "Content-Disposition: inline\n\n");
	buf_append(&r->text, findings.data, findings.len);
	if (lf->body_end < c->len)
		r->text.len--; /* the newline before the next boundary is raw's */
	buf_fini(&findings);
}

/* Append s[0..n) with every bare LF made CRLF; *prev is the last byte
 * written (a CR then an LF at the start of the next piece is one CRLF). */
static void put_crlf(struct buf *out, const char *s, size_t n, char *prev)
{
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\n')
			continue;
		char before = i > 0 ? s[i - 1] : *prev;
		if (before == '\r')
			continue;
		buf_append(out, s + run, i - run);
		buf_append(out, "\r\n", 2);
		run = i + 1;
	}
	buf_append(out, s + run, n - run);
	if (n)
		*prev = s[n - 1];
}

static int repl_cmp(const void *a, const void *b)
{
	const struct clean_repl *x = a, *y = b;
	return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* The replacements for the listed paths, sorted (c.r, c.nr). */
static void collect(struct clean_ctx *c)
{
	/* no limits here: cleaning must reach every part the scan listed */
	struct scan_mime_limits lim = { (size_t)-1, SCAN_MIME_HARD_DEPTH, 0 };
	struct scan_mime_doc d;
	if (c->n > 0) {
		scan_mime_doc_open(&d, c->raw, c->len);
		scan_mime_walk(&d, &lim, on_leaf, c);
		scan_mime_doc_close(&d);
	}
	if (c->nr)
		qsort(c->r, c->nr, sizeof *c->r, repl_cmp);
}

size_t scan_msg_clean(const char *raw, size_t len, const char *const *paths, const char *const *why, size_t n,
		      struct buf *out)
{
	struct clean_ctx c = { .raw = raw, .len = len, .paths = paths, .why = why, .n = n };
	collect(&c);
	if (c.nr == 0) {
		buf_append(out, raw, len);
		xfree(c.r);
		return 0;
	}
	size_t pos = 0, done = 0;
	char prev = 0;
	for (size_t i = 0; i < c.nr; i++) {
		struct clean_repl *r = &c.r[i];
		if (r->begin >= pos && r->end >= r->begin) { /* leaves never overlap; be sure */
			put_crlf(out, raw + pos, r->begin - pos, &prev);
			put_crlf(out, r->text.data, r->text.len, &prev);
			pos = r->end;
			done++;
		}
		buf_fini(&r->text);
	}
	put_crlf(out, raw + pos, len - pos, &prev);
	xfree(c.r);
	return done;
}

size_t scan_msg_clean_edits(const char *raw, size_t len, const char *const *paths, const char *const *why, size_t n,
			    struct mail_edits *out)
{
	struct clean_ctx c = { .raw = raw, .len = len, .paths = paths, .why = why, .n = n };
	collect(&c);
	size_t pos = 0, done = 0;
	struct buf t;
	buf_init(&t);
	for (size_t i = 0; i < c.nr; i++) {
		struct clean_repl *r = &c.r[i];
		if (r->begin >= pos && r->end >= r->begin) {
			buf_reset(&t);
			char prev = r->begin ? raw[r->begin - 1] : 0;
			put_crlf(&t, r->text.data, r->text.len, &prev);
			mail_edits_add(out, r->begin, r->end - r->begin, t.data ? t.data : "", t.len);
			pos = r->end;
			done++;
		}
		buf_fini(&r->text);
	}
	buf_fini(&t);
	xfree(c.r);
	return done;
}
