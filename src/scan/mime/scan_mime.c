/*
 * scan_mime.c - parse a message once into the views the scanners read
 * (scan_msg.h): header fields, leaf parts with decoded content, rendered
 * body paragraphs, raw body lines, URIs, MIME entities.
 *
 * The tree comes from the walk (scan_mime_walk.c: GMime 3 over a memory
 * stream that wraps the caller's bytes, no copy; parts stay substreams of
 * it), so memory is the decoded parts plus at most max_text of text per
 * view; text helpers are scan_mime_text.c. Every limit cuts the walk
 * and sets SCAN_MSG_F_TRUNCATED; GMime's repair warnings set
 * SCAN_MSG_F_MALFORMED. The struct owns all its memory (an arena for
 * strings, decoded parts as separate blocks) until scan_msg_free().
 * Does not scan, score or modify anything (the cleaner is scan_mime_clean.c).
 */
#include "scan/mime/scan_mime_int.h"

#include <stdint.h>
#include <string.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/str.h"
#include "base/xalloc.h"

#define MIME_DEFAULT_PARTS 1000
#define MIME_DEFAULT_DEPTH 30
#define MIME_DEFAULT_TEXT (2u << 20)
#define MIME_BODY_LINE_MAX 2048 /* SpamAssassin's MAX_BODY_LINE_LENGTH */
#define MIME_MAX_URIS 10000
#define MIME_MAX_URI_LEN 8192

static const char *bstr(const struct buf *b)
{
	return b->data ? b->data : "";
}

/* ---- building the views ---- */

struct mime_priv {
	struct arena *arena;
	void **blobs; /* g_malloc'd decoded parts */
	size_t nblobs, cap_blobs;
	size_t cap_hdrs, cap_parts, cap_rawbody, cap_uris;
	GHashTable *seen; /* URIs already listed (parse only) */
	struct buf text;  /* rendered text of all parts (parse only) */
	const struct scan_mime_limits *lim;
	size_t raw_text; /* bytes put in rawbody */
	struct scan_msg *m;
	GMimeParserOptions *opts;
	int *leaf_part; /* per leaf of the walk: its index in parts, or -1 */
	size_t nleaves, cap_leaves, cap_ent;
};

static void add_hdr(void *ctx, const char *name, size_t nlen, const char *line, size_t line_len, const char *value,
		    size_t vlen)
{
	struct mime_priv *p = ctx;
	struct scan_msg *m = p->m;
	(void)line;
	(void)line_len;
	if (!name) {
		/* an mbox "From " line is expected; anything else is broken */
		if (!(m->nhdrs == 0 && line_len >= 5 && memcmp(line, "From ", 5) == 0))
			m->flags |= SCAN_MSG_F_MALFORMED;
		return;
	}
	m->hdrs = xgrow(m->hdrs, &p->cap_hdrs, m->nhdrs + 1, sizeof *m->hdrs);
	struct scan_hdr *h = &m->hdrs[m->nhdrs++];
	h->name = arena_strndup(p->arena, name, nlen);
	h->raw = arena_strndup(p->arena, value, vlen);
	/* unfold as SpamAssassin does: a line break and the white space after
	 * it are one space; no white space at either end */
	struct buf u;
	buf_init(&u);
	size_t i = 0;
	while (i < vlen && (value[i] == ' ' || value[i] == '\t'))
		i++;
	for (; i < vlen; i++) {
		if (value[i] != '\n') {
			buf_putc(&u, value[i]);
			continue;
		}
		while (i + 1 < vlen && (value[i + 1] == ' ' || value[i + 1] == '\t'))
			i++;
		buf_putc(&u, ' ');
	}
	while (u.len > 0 && (u.data[u.len - 1] == ' ' || u.data[u.len - 1] == '\t' || u.data[u.len - 1] == '\r'))
		u.data[--u.len] = '\0';
	struct buf dec;
	buf_init(&dec);
	scan_mime_text_hdr_decode(bstr(&u), u.len, &dec);
	h->value = arena_strndup(p->arena, bstr(&dec), dec.len);
	buf_fini(&dec);
	buf_fini(&u);
}

static char *lower_dup(struct arena *a, const char *s);

/* The part's lower-case "type/subtype" ("text/plain" when it has none), in the arena. */
static char *ctype_dup(struct arena *a, GMimeObject *o)
{
	GMimeContentType *ct = g_mime_object_get_content_type(o);
	char *mt = ct ? g_mime_content_type_get_mime_type(ct) : NULL;
	char *r = lower_dup(a, mt ? mt : "text/plain");
	g_free(mt);
	return r;
}

/* s[0..n) with every CRLF as "\n" (bare CRs kept), appended to out. */
static void crlf_to_lf(const char *s, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++)
		if (!(s[i] == '\r' && i + 1 < n && s[i + 1] == '\n'))
			buf_putc(out, s[i]);
}

static char *lower_dup(struct arena *a, const char *s)
{
	char *d = arena_strdup(a, s);
	str_lower(d);
	return d;
}

static struct scan_part *add_part(struct mime_priv *p, const char *path, int depth)
{
	struct scan_msg *m = p->m;
	m->parts = xgrow(m->parts, &p->cap_parts, m->nparts + 1, sizeof *m->parts);
	struct scan_part *sp = &m->parts[m->nparts++];
	memset(sp, 0, sizeof *sp);
	sp->path = arena_strdup(p->arena, path);
	sp->depth = depth;
	return sp;
}

static void keep_blob(struct mime_priv *p, void *b)
{
	p->blobs = xgrow(p->blobs, &p->cap_blobs, p->nblobs + 1, sizeof *p->blobs);
	p->blobs[p->nblobs++] = b;
}

static void add_uri(void *ctx, const char *uri, size_t len)
{
	struct mime_priv *p = ctx;
	struct scan_msg *m = p->m;
	if (len == 0 || len > MIME_MAX_URI_LEN || memchr(uri, '\0', len))
		return;
	if (m->nuris >= MIME_MAX_URIS) {
		m->flags |= SCAN_MSG_F_TRUNCATED;
		return;
	}
	char *u = arena_strndup(p->arena, uri, len);
	if (g_hash_table_contains(p->seen, u))
		return;
	g_hash_table_add(p->seen, u);
	m->uris = xgrow(m->uris, &p->cap_uris, m->nuris + 1, sizeof *m->uris);
	m->uris[m->nuris++] = u;
}

/* rawbody: the decoded text, one element per line, newline kept. */
static void add_rawbody(struct mime_priv *p, const char *s, size_t n)
{
	struct scan_msg *m = p->m;
	size_t room = p->lim->max_text - p->raw_text;
	if (n > room) {
		n = room;
		m->flags |= SCAN_MSG_F_TRUNCATED;
	}
	p->raw_text += n;
	for (size_t pos = 0; pos < n;) {
		const char *nl = memchr(s + pos, '\n', n - pos);
		size_t e = nl ? (size_t)(nl - s) + 1 : n;
		m->rawbody = xgrow(m->rawbody, &p->cap_rawbody, m->nrawbody + 1, sizeof *m->rawbody);
			m->rawbody[m->nrawbody].s = arena_strndup(p->arena, s + pos, e - pos);
		m->rawbody[m->nrawbody].len = e - pos;
		m->nrawbody++;
		pos = e;
	}
}

/* The rendered text of one text part goes to p->text (parts separated by
 * a newline, as SpamAssassin joins them). */
static void add_rendered(struct mime_priv *p, const char *ctype, const char *charset, const char *s, size_t n)
{
	if (strcmp(ctype, "text/plain") != 0 && strcmp(ctype, "text/html") != 0)
		return; /* SpamAssassin renders no other type */
	size_t room = p->lim->max_text > p->text.len ? p->lim->max_text - p->text.len : 0;
	if (n > room) {
		n = room;
		p->m->flags |= SCAN_MSG_F_TRUNCATED;
	}
	struct buf u;
	buf_init(&u);
	scan_mime_text_to_utf8(charset, s, n, &u);
	if (strcmp(ctype, "text/html") == 0) {
		scan_mime_text_html(u.data, u.len, &p->text, add_uri, p);
	} else {
		scan_mime_text_uris(u.data, u.len, add_uri, p);
		buf_append(&p->text, u.data, u.len);
	}
	buf_fini(&u);
}

static void add_uu_parts(struct mime_priv *p, const struct scan_part *tp)
{
	struct buf name, data;
	buf_init(&name);
	buf_init(&data);
	size_t pos = 0;
	char *tpath = arena_strdup(p->arena, tp->path);
	int depth = tp->depth;
	const char *s = (const char *)tp->data;
	size_t n = tp->len;
	for (int k = 1;; k++) {
		bool bad = false;
		if (!scan_mime_text_uu_next(s, n, &pos, &name, &data, &bad))
			break;
		if (p->m->nparts >= p->lim->max_parts) {
			p->m->flags |= SCAN_MSG_F_TRUNCATED;
			break;
		}
		if (bad)
			p->m->flags |= SCAN_MSG_F_MALFORMED;
		char path[SCAN_MIME_PATH_MAX + 16];
		snprintf(path, sizeof path, "%s.u%d", tpath, k);
		struct scan_part *sp = add_part(p, path, depth);
		sp->ctype = "application/octet-stream";
		sp->filename = arena_strndup(p->arena, bstr(&name), name.len);
		sp->attachment = true;
		sp->uuencoded = true;
		sp->len = data.len;
		sp->data = (const unsigned char *)buf_steal(&data, NULL);
		keep_blob(p, (void *)(uintptr_t)sp->data);
	}
	buf_fini(&name);
	buf_fini(&data);
}

/* A text body that is itself a MIME entity ("Content-Type: multipart/..."
 * as its first line: a message whose header block was cut by a stray
 * blank line). Mail readers and ClamAV decode it, so the anti-virus walk
 * must see its parts too: they are listed as "N.e1", "N.e2"... */
static bool looks_embedded(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && (s[i] == '\r' || s[i] == '\n'))
		i++;
	static const char ct[] = "content-type:";
	if (n - i < sizeof ct - 1 || g_ascii_strncasecmp(s + i, ct, sizeof ct - 1) != 0)
		return false;
	i += sizeof ct - 1;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return n - i >= 10 && g_ascii_strncasecmp(s + i, "multipart/", 10) == 0;
}

struct embed {
	struct mime_priv *p;
	const char *prefix;
	int depth;
	int k;
};

static void embed_leaves(struct embed *e, GMimeObject *o, int nest)
{
	struct mime_priv *p = e->p;
	if (GMIME_IS_MULTIPART(o)) {
		if (nest >= p->lim->max_depth || nest >= SCAN_MIME_HARD_DEPTH) {
			p->m->flags |= SCAN_MSG_F_TRUNCATED;
			return;
		}
		int n = g_mime_multipart_get_count(GMIME_MULTIPART(o));
		for (int i = 0; i < n; i++)
			embed_leaves(e, g_mime_multipart_get_part(GMIME_MULTIPART(o), i), nest + 1);
		return;
	}
	if (!GMIME_IS_PART(o))
		return;
	if (p->m->nparts >= p->lim->max_parts) {
		p->m->flags |= SCAN_MSG_F_TRUNCATED;
		return;
	}
	char path[SCAN_MIME_PATH_MAX + 16];
	snprintf(path, sizeof path, "%s.e%d", e->prefix, ++e->k);
	struct scan_part *sp = add_part(p, path, e->depth);
	sp->ctype = ctype_dup(p->arena, o);
	const char *fn = g_mime_part_get_filename(GMIME_PART(o));
	sp->filename = fn ? arena_strdup(p->arena, fn) : NULL;
	sp->attachment = true;
	size_t len;
	unsigned char *data = scan_mime_part_decode(GMIME_PART(o), &len);
	keep_blob(p, data);
	sp->data = data;
	sp->len = len;
}

static void add_embedded(struct mime_priv *p, const struct scan_part *tp)
{
	if (!looks_embedded((const char *)tp->data, tp->len))
		return;
	p->m->flags |= SCAN_MSG_F_MALFORMED;
	GByteArray *ba = g_byte_array_new_take((guint8 *)(uintptr_t)tp->data, tp->len);
	GMimeStream *st = g_mime_stream_mem_new_with_byte_array(ba);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(st), FALSE);
	GMimeParser *parser = g_mime_parser_new_with_stream(st);
	GMimeObject *o = g_mime_parser_construct_part(parser, p->opts);
	struct embed e = { p, arena_strdup(p->arena, tp->path), tp->depth, 0 };
	if (o) {
		embed_leaves(&e, o, 0);
		g_object_unref(o);
	}
	g_object_unref(parser);
	g_object_unref(st);
	g_byte_array_free(ba, FALSE);
}

/* SpamAssassin's /\.s?html?$/i on the part's name. */
static bool html_name(const char *fn)
{
	size_t n = strlen(fn);
	static const char *const ext[] = { ".htm", ".html", ".shtm", ".shtml" };
	for (size_t i = 0; i < G_N_ELEMENTS(ext); i++) {
		size_t el = strlen(ext[i]);
		if (n >= el && g_ascii_strcasecmp(fn + n - el, ext[i]) == 0)
			return true;
	}
	return false;
}

static void on_leaf(void *ctx, const struct scan_mime_leaf *lf)
{
	struct mime_priv *p = ctx;
	GMimeObject *o = lf->obj;
	p->leaf_part = xgrow(p->leaf_part, &p->cap_leaves, p->nleaves + 1, sizeof *p->leaf_part);
	p->leaf_part[p->nleaves++] = -1;
	if (p->m->nparts >= p->lim->max_parts) { /* uuencoded blocks took the room */
		p->m->flags |= SCAN_MSG_F_TRUNCATED;
		return;
	}
	p->leaf_part[p->nleaves - 1] = (int)p->m->nparts;
	struct scan_part *sp = add_part(p, lf->path, lf->depth);
	sp->ctype = ctype_dup(p->arena, o);
	const char *cs = g_mime_object_get_content_type_parameter(o, "charset");
	sp->charset = cs ? arena_strdup(p->arena, cs) : NULL;
	const char *fn = g_mime_part_get_filename(GMIME_PART(o));
	sp->filename = fn ? arena_strdup(p->arena, fn) : NULL;
	bool text = strncmp(sp->ctype, "text/", 5) == 0;
	sp->attachment = g_mime_part_is_attachment(GMIME_PART(o)) || fn != NULL || !text;
	size_t len;
	unsigned char *data = scan_mime_part_decode(GMIME_PART(o), &len);
	keep_blob(p, data);
	sp->data = data;
	sp->len = len;
	/* SpamAssassin: every leaf puts a line break between the parts' texts;
	 * a part named *.htm(l) is HTML whatever its type says */
	if (p->text.len)
		buf_putc(&p->text, '\n');
	const char *eff = sp->ctype;
	const char *ct_raw = g_mime_object_get_header(o, "Content-Type");
	if (ct_raw && !strchr(ct_raw, '/'))
		eff = "text/plain"; /* "text plain": GMime says octet-stream, RFC 2045 5.2 text/plain */
	if (fn && html_name(fn))
		eff = "text/html";
	if (strncmp(eff, "text/", 5) != 0 && strncmp(eff, "message/", 8) != 0)
		return;
	/* SpamAssassin's text of a part keeps the line break that GMime gives
	 * to the boundary after it (the text views only, not data) */
	struct buf tv;
	buf_init(&tv);
	size_t tl = len > p->lim->max_text ? p->lim->max_text + 1 : len; /* +1: the cut still shows */
	crlf_to_lf((const char *)data, tl, &tv); /* CRLF is "\n", as SpamAssassin decodes text */
	if (tl == len && len > 0 && data[len - 1] != '\n' && !lf->top &&
	    g_mime_part_get_content_encoding(GMIME_PART(o)) != GMIME_CONTENT_ENCODING_BASE64)
		buf_putc(&tv, '\n');
	add_rawbody(p, bstr(&tv), tv.len);
	size_t t0 = p->text.len;
	add_rendered(p, eff, sp->charset, bstr(&tv), tv.len);
	if (strcmp(eff, "text/plain") == 0 || strcmp(eff, "text/html") == 0) {
		sp->text = arena_strndup(p->arena, bstr(&p->text) + t0, p->text.len - t0);
		sp->text_len = p->text.len - t0;
		sp->html = strcmp(eff, "text/html") == 0 && tv.len > 0;
	}
	buf_fini(&tv);
	if (text) {
		struct scan_part copy = *sp; /* add_*_parts may move parts[] */
		add_uu_parts(p, &copy);
		add_embedded(p, &copy);
	}
}

/* The entity list (scan_msg.h): the same tree as scan_mime_walk, whose
 * k-th leaf is the k-th leaf here. */
static void add_entities(struct mime_priv *p, GMimeObject *o, int parent, int nest, size_t *leaves)
{
	struct scan_msg *m = p->m;
	if (!o || m->nentities >= 4 * p->lim->max_parts + 16)
		return;
	bool container = GMIME_IS_MULTIPART(o) || GMIME_IS_MESSAGE_PART(o);
	if (!container && GMIME_IS_PART(o) && *leaves >= p->nleaves)
		return; /* the walk stopped before this leaf */
	m->entities = xgrow(m->entities, &p->cap_ent, m->nentities + 1, sizeof *m->entities);
	int idx = (int)m->nentities++;
	struct scan_entity *e = &m->entities[idx];
	e->ctype = ctype_dup(p->arena, o);
	const char *cte = g_mime_object_get_header(o, "Content-Transfer-Encoding");
	const char *cd = g_mime_object_get_header(o, "Content-Disposition");
	e->cte = lower_dup(p->arena, cte ? cte : "");
	e->cd = lower_dup(p->arena, cd ? cd : "");
	e->parent = parent;
	e->part = -1;
	e->leaf = false;
	e->hdrs = NULL;
	e->nhdrs = 0;
	GMimeHeaderList *hl = g_mime_object_get_header_list(o);
	int nh = hl ? g_mime_header_list_get_count(hl) : 0;
	if (nh > 0) {
		struct scan_hdr *hs = arena_alloc(p->arena, (size_t)nh * sizeof *hs);
		for (int i = 0; i < nh; i++) {
			GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
			const char *n = g_mime_header_get_name(h), *v = g_mime_header_get_value(h);
			const char *rv = g_mime_header_get_raw_value(h);
			struct buf r;
			buf_init(&r);
			for (const char *c = rv ? rv : ""; *c; c++)
				if (*c != '\r')
					buf_putc(&r, *c);
			while (r.len && r.data[r.len - 1] == '\n')
				r.data[--r.len] = '\0';
			v = v ? v : "";
			v += strspn(v, " \t");
			hs[i].name = arena_strdup(p->arena, n ? n : "");
			hs[i].raw = arena_strndup(p->arena, bstr(&r), r.len);
			hs[i].value = arena_strdup(p->arena, v);
			buf_fini(&r);
		}
		e->hdrs = hs;
		e->nhdrs = (size_t)nh;
	}
	if (container && (nest >= p->lim->max_depth || nest >= SCAN_MIME_HARD_DEPTH))
		return; /* the walk skips what is inside */
	if (GMIME_IS_MULTIPART(o)) {
		GMimeMultipart *mp = GMIME_MULTIPART(o);
		int n = g_mime_multipart_get_count(mp);
		for (int i = 0; i < n; i++)
			add_entities(p, g_mime_multipart_get_part(mp, i), idx, nest + 1, leaves);
		return;
	}
	if (GMIME_IS_MESSAGE_PART(o)) {
		GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
		if (inner)
			add_entities(p, g_mime_message_get_mime_part(inner), idx, nest + 1, leaves);
		return;
	}
	if (!GMIME_IS_PART(o))
		return;
	e->leaf = true;
	e->part = p->leaf_part[(*leaves)++];
}

/* A top-level multipart whose opening boundary never comes (GMime: no
 * subpart): SpamAssassin reads the whole body as one part, its leading
 * field lines as that part's header. Its text joins the text views and the
 * entities (not parts: the anti-virus walk and the cleaner see GMime's
 * tree). */
static void add_boundaryless(struct mime_priv *p, GMimeMessage *msg)
{
	struct scan_msg *m = p->m;
	GMimeObject *body = g_mime_message_get_mime_part(msg);
	if (!body || !GMIME_IS_MULTIPART(body) || g_mime_multipart_get_count(GMIME_MULTIPART(body)) > 0 || p->nleaves ||
	    m->nentities != 1 || m->body_off >= m->raw_len)
		return;
	struct buf t;
	buf_init(&t);
	crlf_to_lf(m->raw + m->body_off, m->raw_len - m->body_off, &t);
	const char *s = bstr(&t), *end = s + t.len;
	struct scan_hdr *hs = NULL;
	size_t nh = 0, cap = 0;
	const char *ct = NULL;
	size_t ctlen = 0;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *le = nl ? nl : end;
		size_t k = 0;
		while (s + k < le && s[k] >= 0x21 && s[k] <= 0x7e && s[k] != ':')
			k++;
		size_t c = k;
		while (s + c < le && (s[c] == ' ' || s[c] == '\t'))
			c++;
		bool field = k > 0 && s + c < le && s[c] == ':';
		bool cont = !field && nh > 0 && s < le && (*s == ' ' || *s == '\t');
		if (!field && !cont) {
			if (le == s)
				s = nl ? nl + 1 : end; /* the blank line ending the fields */
			break;
		}
		if (field) {
			const char *v = s + c + 1;
			v += strspn(v, " \t");
			if (v > le)
				v = le;
			hs = xgrow(hs, &cap, nh + 1, sizeof *hs);
			hs[nh].name = arena_strndup(p->arena, s, k);
			hs[nh].raw = hs[nh].value = arena_strndup(p->arena, v, (size_t)(le - v));
			if (g_ascii_strcasecmp(hs[nh].name, "Content-Type") == 0) {
				ct = hs[nh].value;
				ctlen = strcspn(ct, "; \t");
			}
			nh++;
		}
		s = nl ? nl + 1 : end;
	}
	char type[128] = "text/plain";
	if (ct && ctlen > 0 && ctlen < sizeof type && memchr(ct, '/', ctlen)) {
		memcpy(type, ct, ctlen);
		type[ctlen] = '\0';
		str_lower(type);
	}
	m->entities = xgrow(m->entities, &p->cap_ent, m->nentities + 1, sizeof *m->entities);
	struct scan_entity *e = &m->entities[m->nentities++];
	memset(e, 0, sizeof *e);
	e->ctype = arena_strdup(p->arena, type);
	e->cte = e->cd = "";
	e->parent = 0;
	e->part = -1;
	e->leaf = true;
	if (nh) {
		struct scan_hdr *keep = arena_alloc(p->arena, nh * sizeof *keep);
		memcpy(keep, hs, nh * sizeof *keep);
		e->hdrs = keep;
		e->nhdrs = nh;
	}
	xfree(hs);
	if (strcmp(type, "text/plain") == 0 || strcmp(type, "text/html") == 0) {
		add_rawbody(p, s, (size_t)(end - s));
		add_rendered(p, type, NULL, s, (size_t)(end - s));
	}
	buf_fini(&t);
}

static bool is_space_at(const char *s, size_t n, size_t i, size_t *w)
{
	unsigned char c = (unsigned char)s[i];
	*w = 1;
	if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v')
		return true;
	if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] == 0xa0) { /* NBSP */
		*w = 2;
		return true;
	}
	return false;
}

/* SpamAssassin's white space handling (s/\n+\s*\n+/\0/; s/\s+/ /;
 * tr/\0/\n/): in a run of white space holding two or more newlines, the
 * stretch from the first to the last newline is a paragraph break and the
 * white space before and after it one space each; any other run is one
 * space. */
static void collapse_ws(const char *s, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n;) {
		size_t w;
		if (!is_space_at(s, n, i, &w)) {
			buf_putc(out, s[i++]);
			continue;
		}
		size_t start = i, first = (size_t)-1, last = 0;
		int newlines = 0;
		while (i < n && is_space_at(s, n, i, &w)) {
			if (s[i] == '\n') {
				newlines++;
				if (first == (size_t)-1)
					first = i;
				last = i;
			}
			i += w;
		}
		if (newlines < 2) {
			buf_putc(out, ' ');
			continue;
		}
		if (first > start)
			buf_putc(out, ' ');
		buf_putc(out, '\n');
		if (last + 1 < i)
			buf_putc(out, ' ');
	}
}

static void push_body(struct mime_priv *p, const char *s, size_t n, size_t *cap)
{
	struct scan_msg *m = p->m;
	m->body = xgrow(m->body, cap, m->nbody + 1, sizeof *m->body);
	m->body[m->nbody].s = arena_strndup(p->arena, s, n);
	m->body[m->nbody].len = n;
	m->nbody++;
}

/* body[]: the subject line, then the collapsed text split into lines
 * (newline kept), lines over 2048 bytes cut at the last space before. */
static void build_body(struct mime_priv *p)
{
	struct scan_msg *m = p->m;
	size_t cap = 0;
	const struct scan_hdr *subj = scan_msg_header(m, "Subject");
	struct buf line;
	buf_init(&line);
	buf_puts(&line, subj ? subj->value : "");
	buf_putc(&line, '\n');
	push_body(p, line.data, line.len, &cap);
	buf_reset(&line);
	collapse_ws(bstr(&p->text), p->text.len, &line);
	for (size_t pos = 0; pos < line.len;) {
		const char *nl = memchr(line.data + pos, '\n', line.len - pos);
		size_t e = nl ? (size_t)(nl - line.data) + 1 : line.len;
		while (e - pos > MIME_BODY_LINE_MAX) {
			size_t cut = pos + MIME_BODY_LINE_MAX;
			while (cut > pos && line.data[cut - 1] != ' ')
				cut--;
			if (cut == pos)
				cut = pos + MIME_BODY_LINE_MAX;
			push_body(p, line.data + pos, cut - pos, &cap);
			pos = cut;
		}
		push_body(p, line.data + pos, e - pos, &cap);
		pos = e;
	}
	buf_fini(&line);
}

struct scan_msg *scan_msg_parse(const char *raw, size_t len, const struct scan_mime_limits *lim)
{
	struct scan_mime_limits l = { MIME_DEFAULT_PARTS, MIME_DEFAULT_DEPTH, MIME_DEFAULT_TEXT };
	if (lim) {
		l = *lim;
		if (l.max_depth < 0)
			l.max_depth = 0;
	}
	struct scan_msg *m = xcalloc(1, sizeof *m);
	struct mime_priv *p = xcalloc(1, sizeof *p);
	m->priv = p;
	m->raw = raw;
	m->raw_len = len;
	p->m = m;
	p->lim = &l;
	p->arena = arena_new(16384);
	buf_init(&p->text);
	p->seen = g_hash_table_new(g_str_hash, g_str_equal);

	struct scan_mime_doc d;
	scan_mime_doc_open(&d, raw, len);
	p->opts = d.opts;
	m->body_off = scan_mime_fields_upto(raw, len, add_hdr, p, 3);
	scan_mime_walk(&d, &l, on_leaf, p);
	if (d.msg) {
		size_t leaves = 0;
		add_entities(p, g_mime_message_get_mime_part(d.msg), -1, 0, &leaves);
		add_boundaryless(p, d.msg);
	}
	xfree(p->leaf_part);
	p->leaf_part = NULL;
	m->flags |= d.flags;
	build_body(p);
	p->opts = NULL;
	p->lim = NULL;
	scan_mime_doc_close(&d);
	g_hash_table_destroy(p->seen);
	p->seen = NULL;
	buf_fini(&p->text);
	return m;
}

void scan_msg_free(struct scan_msg **mp)
{
	struct scan_msg *m = *mp;
	if (!m)
		return;
	struct mime_priv *p = m->priv;
	for (size_t i = 0; i < p->nblobs; i++)
		g_free(p->blobs[i]);
	xfree(p->blobs);
	arena_free(&p->arena);
	xfree(p);
	xfree(m->hdrs);
	xfree(m->parts);
	xfree(m->body);
	xfree(m->rawbody);
	xfree(m->uris);
	xfree(m->entities);
	xfree(m);
	*mp = NULL;
}

const struct scan_hdr *scan_msg_header(const struct scan_msg *m, const char *name)
{
	for (size_t i = 0; i < m->nhdrs; i++)
		if (str_caseeq(m->hdrs[i].name, name))
			return &m->hdrs[i];
	return NULL;
}
