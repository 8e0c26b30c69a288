/*
 * scan_mime_walk.c - the MIME tree of a message, shared by the parse
 * (scan_mime.c) and the cleaner (scan_mime_clean.c), see scan_mime_int.h:
 * GMime 3 parses the caller's bytes from a memory stream without copying
 * them (messages it refuses are read from their first field line, or as
 * one text body), scan_mime_walk() visits every leaf with its part number
 * and its byte range in raw, and scan_mime_fields() splits a header block
 * into fields as SpamAssassin does. Limits (max_parts, max_depth, our hard
 * depth) cut the walk and set SCAN_MSG_F_TRUNCATED; GMime's repair
 * warnings set SCAN_MSG_F_MALFORMED. Builds no view and decodes nothing
 * but on request (scan_mime_part_decode).
 */
#include <stdint.h>
#include <string.h>

#include "base/buf.h"
#include "scan/mime/scan_mime_int.h"

void scan_mime_init(void)
{
	static GOnce once = G_ONCE_INIT;
	g_once(&once, (GThreadFunc)(void (*)(void))g_mime_init, NULL);
}

/* ---- the document and the walk ---- */

static void doc_warning(gint64 offset, GMimeParserWarning code, const gchar *item, gpointer user)
{
	struct scan_mime_doc *d = user;
	(void)offset;
	(void)item;
	switch (code) {
	case GMIME_WARN_MALFORMED_MULTIPART:
	case GMIME_WARN_TRUNCATED_MESSAGE:
	case GMIME_WARN_MALFORMED_MESSAGE:
	case GMIME_WARN_INVALID_CONTENT_TYPE:
	case GMIME_CRIT_INVALID_HEADER_NAME:
	case GMIME_CRIT_CONFLICTING_HEADER:
	case GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY:
	case GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT:
	case GMIME_WARN_PART_WITHOUT_CONTENT:
		d->flags |= SCAN_MSG_F_MALFORMED;
		break;
	case GMIME_CRIT_NESTING_OVERFLOW:
		d->flags |= SCAN_MSG_F_MALFORMED | SCAN_MSG_F_TRUNCATED;
		break;
	default:
		break;
	}
}

static GMimeMessage *doc_parse_at(struct scan_mime_doc *d, size_t off)
{
	g_mime_stream_seek(d->stream, (gint64)off, GMIME_STREAM_SEEK_SET);
	GMimeParser *p = g_mime_parser_new_with_stream(d->stream);
	g_mime_parser_set_persist_stream(p, TRUE);
	GMimeMessage *m = g_mime_parser_construct_message(p, d->opts);
	g_object_unref(p);
	return m;
}

/* Offset of the first line that starts like a header field ("Name:"), or 0. */
static size_t first_field_line(const char *raw, size_t len)
{
	for (size_t pos = 0; pos < len;) {
		size_t i = pos;
		while (i < len && raw[i] > ' ' && raw[i] < 0x7f && raw[i] != ':')
			i++;
		if (i > pos && i < len && raw[i] == ':')
			return pos;
		const char *nl = memchr(raw + pos, '\n', len - pos);
		if (!nl)
			break;
		pos = (size_t)(nl - raw) + 1;
	}
	return 0;
}

void scan_mime_doc_open(struct scan_mime_doc *d, const char *raw, size_t len)
{
	memset(d, 0, sizeof *d);
	scan_mime_init();
	d->opts = g_mime_parser_options_new();
	g_mime_parser_options_set_warning_callback(d->opts, doc_warning, d);
	/* the stream only reads: the cast lends raw to GLib without a copy,
	 * and scan_mime_doc_close() takes it back before GLib could free it */
	d->ba = g_byte_array_new_take((guint8 *)(uintptr_t)raw, len);
	d->stream = g_mime_stream_mem_new_with_byte_array(d->ba);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(d->stream), FALSE);
	d->msg = doc_parse_at(d, 0);
	if (d->msg)
		return;
	/* GMime gives up on a message whose first line is not a field (a line
	 * of blanks, a folded first field): start at the first field... */
	if (len > 0)
		d->flags |= SCAN_MSG_F_MALFORMED;
	size_t off = first_field_line(raw, len);
	if (off > 0 && off < len)
		d->msg = doc_parse_at(d, off);
	if (d->msg)
		return;
	/* ...or, without any, take it all as one text body so the scanners
	 * still see every byte */
	GMimeStream *sub = g_mime_stream_substream(d->stream, 0, (gint64)len);
	GMimeDataWrapper *w = g_mime_data_wrapper_new_with_stream(sub, GMIME_CONTENT_ENCODING_DEFAULT);
	GMimeTextPart *part = g_mime_text_part_new();
	g_mime_part_set_content(GMIME_PART(part), w);
	d->msg = g_mime_message_new(FALSE);
	g_mime_message_set_mime_part(d->msg, GMIME_OBJECT(part));
	g_object_unref(part);
	g_object_unref(w);
	g_object_unref(sub);
}

void scan_mime_doc_close(struct scan_mime_doc *d)
{
	if (d->msg)
		g_object_unref(d->msg);
	if (d->stream)
		g_object_unref(d->stream);
	if (d->ba)
		g_byte_array_free(d->ba, FALSE); /* the wrapper only: raw is the caller's */
	if (d->opts)
		g_mime_parser_options_free(d->opts);
	memset(d, 0, sizeof *d);
}

struct walk {
	struct scan_mime_doc *d;
	const struct scan_mime_limits *lim;
	scan_mime_leaf_fn fn;
	void *ctx;
	size_t leaves;
	bool stop;
};

/* Smallest header offset of o's fields (-1 when it has none). */
static gint64 first_header(GMimeObject *o)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(o);
	gint64 best = -1;
	int n = hl ? g_mime_header_list_get_count(hl) : 0;
	for (int i = 0; i < n; i++) {
		gint64 off = g_mime_header_get_offset(g_mime_header_list_get_header_at(hl, i));
		if (off >= 0 && (best < 0 || off < best))
			best = off;
	}
	return best;
}

/* Where the leaf lies in raw; spliceable only if its content is a
 * substream of our own stream. */
static void leaf_bounds(struct walk *w, struct scan_mime_leaf *lf, GMimeObject *msg)
{
	GMimeDataWrapper *wr = g_mime_part_get_content(GMIME_PART(lf->obj));
	GMimeStream *s = wr ? g_mime_data_wrapper_get_stream(wr) : NULL;
	size_t len = w->d->ba->len;
	if (!s || !GMIME_IS_STREAM_MEM(s) || g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(s)) != w->d->ba ||
	    s->bound_start < 0 || s->bound_end < s->bound_start || (guint64)s->bound_end > len)
		return;
	lf->body_begin = (size_t)s->bound_start;
	lf->body_end = (size_t)s->bound_end;
	gint64 h = first_header(lf->obj);
	if (msg) {
		gint64 mh = first_header(msg);
		if (mh >= 0 && (h < 0 || mh < h))
			h = mh;
	}
	if (lf->top)
		h = 0;
	if (h < 0) {
		/* no header: the part starts with the blank line before its body */
		size_t b = lf->body_begin;
		if (b >= 1 && w->d->ba->data[b - 1] == '\n')
			b--;
		if (b >= 1 && w->d->ba->data[b - 1] == '\r')
			b--;
		h = (gint64)b;
	}
	if ((size_t)h > lf->body_begin)
		return;
	lf->hdr_begin = (size_t)h;
	lf->spliceable = true;
}

static void walk_leaf(struct walk *w, GMimeObject *o, GMimeObject *msg, bool top, const char *path, int depth)
{
	if (!GMIME_IS_PART(o))
		return; /* a message/rfc822 GMime could not open: nothing inside */
	if (w->leaves >= w->lim->max_parts) {
		w->d->flags |= SCAN_MSG_F_TRUNCATED;
		w->stop = true;
		return;
	}
	w->leaves++;
	struct scan_mime_leaf lf = { .obj = o, .path = path, .depth = depth, .top = top };
	leaf_bounds(w, &lf, msg);
	w->fn(w->ctx, &lf);
}

static void walk_object(struct walk *w, GMimeObject *o, GMimeObject *msg, bool top, const char *path, int depth,
			int nest);

static void walk_message(struct walk *w, GMimeMessage *m, bool top, const char *prefix, int depth, int nest)
{
	GMimeObject *body = g_mime_message_get_mime_part(m);
	if (!body)
		return;
	char path[SCAN_MIME_PATH_MAX];
	if (GMIME_IS_MULTIPART(body)) {
		walk_object(w, body, NULL, false, prefix, depth, nest);
		return;
	}
	if (prefix)
		snprintf(path, sizeof path, "%s.1", prefix);
	else
		snprintf(path, sizeof path, "1");
	walk_object(w, body, GMIME_OBJECT(m), top, path, depth, nest);
}

/* o is a multipart (path: its own number, NULL at the top), a message part
 * or a leaf (path: its number). msg: the message whose body o is. */
static void walk_object(struct walk *w, GMimeObject *o, GMimeObject *msg, bool top, const char *path, int depth,
			int nest)
{
	if (w->stop)
		return;
	bool container = GMIME_IS_MULTIPART(o) || GMIME_IS_MESSAGE_PART(o);
	if (container && (nest >= w->lim->max_depth || nest >= SCAN_MIME_HARD_DEPTH)) {
		w->d->flags |= SCAN_MSG_F_TRUNCATED;
		return;
	}
	if (GMIME_IS_MULTIPART(o)) {
		GMimeMultipart *mp = GMIME_MULTIPART(o);
		int n = g_mime_multipart_get_count(mp);
		for (int i = 0; i < n && !w->stop; i++) {
			char child[SCAN_MIME_PATH_MAX];
			int k = path ? snprintf(child, sizeof child, "%s.%d", path, i + 1)
				     : snprintf(child, sizeof child, "%d", i + 1);
			if (k < 0 || (size_t)k >= sizeof child) {
				w->d->flags |= SCAN_MSG_F_TRUNCATED;
				return;
			}
			walk_object(w, g_mime_multipart_get_part(mp, i), NULL, false, child, depth, nest + 1);
		}
		return;
	}
	if (GMIME_IS_MESSAGE_PART(o)) {
		GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
		if (inner)
			walk_message(w, inner, false, path, depth + 1, nest + 1);
		return;
	}
	walk_leaf(w, o, msg, top, path, depth);
}

void scan_mime_walk(struct scan_mime_doc *d, const struct scan_mime_limits *lim, scan_mime_leaf_fn fn, void *ctx)
{
	if (!d->msg)
		return;
	struct walk w = { .d = d, .lim = lim, .fn = fn, .ctx = ctx };
	walk_message(&w, d->msg, true, NULL, 0, 0);
}

/* ---- header fields ---- */

static bool field_name_ok(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

size_t scan_mime_fields_upto(const char *raw, size_t len, scan_mime_field_fn fn, void *ctx, size_t max_bad)
{
	size_t bad = 0;
	struct buf val;
	buf_init(&val);
	const char *name = NULL, *fstart = NULL;
	size_t nlen = 0, pos = 0;
	for (;;) {
		const char *nl = pos < len ? memchr(raw + pos, '\n', len - pos) : NULL;
		size_t next = nl ? (size_t)(nl - raw) + 1 : len;
		size_t e = nl ? (size_t)(nl - raw) : len;
		if (e > pos && raw[e - 1] == '\r')
			e--;
		bool end = pos >= len || e == pos;
		bool cont = !end && (raw[pos] == ' ' || raw[pos] == '\t');
		if (cont && name) {
			buf_putc(&val, '\n');
			buf_append(&val, raw + pos, e - pos);
			pos = next;
			continue;
		}
		if (name)
			fn(ctx, name, nlen, fstart, (size_t)(raw + pos - fstart), val.data ? val.data : "", val.len);
		name = NULL;
		if (end) {
			pos = pos >= len ? len : next;
			break;
		}
		const char *colon = memchr(raw + pos, ':', e - pos);
		size_t nl_len = colon ? (size_t)(colon - (raw + pos)) : 0;
		while (nl_len > 0 && (raw[pos + nl_len - 1] == ' ' || raw[pos + nl_len - 1] == '\t'))
			nl_len--; /* obsolete "Name :" syntax */
		if (colon && field_name_ok(raw + pos, nl_len)) {
			name = raw + pos;
			nlen = nl_len;
			fstart = raw + pos;
			buf_reset(&val);
			buf_append(&val, colon + 1, (size_t)(raw + e - (colon + 1)));
		} else {
			bool mbox = pos == 0 && e - pos >= 5 && memcmp(raw, "From ", 5) == 0;
			if ((!mbox && ++bad > max_bad) || (e - pos >= 2 && raw[pos] == '-' && raw[pos + 1] == '-' &&
							   max_bad != SIZE_MAX))
				break;
			fn(ctx, NULL, 0, raw + pos, next - pos, NULL, 0);
		}
		pos = next;
	}
	buf_fini(&val);
	return pos;
}

size_t scan_mime_fields(const char *raw, size_t len, scan_mime_field_fn fn, void *ctx)
{
	return scan_mime_fields_upto(raw, len, fn, ctx, SIZE_MAX);
}

/* ---- part content ---- */

unsigned char *scan_mime_part_decode(GMimePart *part, size_t *len_out)
{
	GMimeDataWrapper *w = g_mime_part_get_content(part);
	GMimeStream *src = w ? g_mime_data_wrapper_get_stream(w) : NULL;
	gint64 est = src ? g_mime_stream_length(src) : 0;
	GByteArray *arr = g_byte_array_sized_new(est > 0 ? (guint)est + 1 : 16);
	if (w) {
		GMimeStream *dst = g_mime_stream_mem_new_with_byte_array(arr);
		g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(dst), FALSE);
		g_mime_data_wrapper_write_to_stream(w, dst);
		g_object_unref(dst);
	}
	*len_out = arr->len;
	g_byte_array_append(arr, (const guint8 *)"", 1); /* NUL after the data */
	return g_byte_array_free(arr, FALSE);
}
