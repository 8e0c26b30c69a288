/*
 * scan_mime_int.h - shared by scan_mime.c, scan_mime_walk.c,
 * scan_mime_text.c and scan_mime_clean.c; not for other folders (they use
 * scan_msg.h).
 *
 * The walk (scan_mime_walk.c): GMime parses the message from memory
 * without copying it (persistent stream), then scan_mime_walk() visits
 * every leaf part depth-first with its IMAP part number and the byte range
 * it occupies in raw, so the parse (views for the scanners) and the cleaner
 * (splicing replacements into raw) see the same tree.
 */
#ifndef SCAN_MIME_SCAN_MIME_INT_H
#define SCAN_MIME_SCAN_MIME_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <gmime/gmime.h>

#include "scan/mime/scan_msg.h"

struct buf;

/* Hard caps whatever the configured limits say: GMime itself stops at 512
 * nested messages / 1024 boundaries; our own recursion never goes deeper
 * than this. */
#define SCAN_MIME_HARD_DEPTH 256
#define SCAN_MIME_PATH_MAX 1024 /* bytes of a part number ("1.2.3...") */

/* One leaf as the walk found it. Offsets are into raw; hdr_begin..body_begin
 * is the header block to rewrite when the part is replaced (for the body of
 * a message, the message's own header block: its Content-* fields are the
 * part's), body_begin..body_end the encoded content. spliceable is false
 * when GMime could not tie the part to raw bytes (no content stream). */
struct scan_mime_leaf {
	GMimeObject *obj; /* a GMimePart */
	const char *path;
	int depth;
	bool top;      /* the body of the top-level message */
	bool spliceable;
	size_t hdr_begin, body_begin, body_end;
};

typedef void (*scan_mime_leaf_fn)(void *ctx, const struct scan_mime_leaf *leaf);

struct scan_mime_doc {
	GMimeParserOptions *opts;
	GMimeStream *stream;
	GByteArray *ba; /* wraps raw without copying; never freed by GLib */
	GMimeMessage *msg;
	unsigned flags; /* SCAN_MSG_F_* from parser warnings and the walk */
};

/* Parse raw[0..len) (borrowed: must outlive the doc). Never fails: msg may
 * still be NULL for input GMime rejects (then there are no leaves). */
void scan_mime_doc_open(struct scan_mime_doc *d, const char *raw, size_t len);
void scan_mime_doc_close(struct scan_mime_doc *d);
/* Visit every leaf depth-first; stops after max_parts leaves (flag
 * TRUNCATED) and skips containers nested deeper than max_depth (TRUNCATED). */
void scan_mime_walk(struct scan_mime_doc *d, const struct scan_mime_limits *lim, scan_mime_leaf_fn fn, void *ctx);

/* scan_mime_fields() (public, scan_msg.h: scan_act.c edits headers with
 * it) as SpamAssassin parses a message's header: max_bad lines that are
 * neither fields nor continuations are passed over (an mbox "From " first
 * line not counted); the next one, or a "--" boundary line, starts the
 * body. scan_mime_fields() is this with no limit. */
size_t scan_mime_fields_upto(const char *raw, size_t len, scan_mime_field_fn fn, void *ctx, size_t max_bad);

/* A leaf's content with its transfer encoding removed, NUL-terminated
 * (g_free it). */
unsigned char *scan_mime_part_decode(GMimePart *part, size_t *len_out);

/* Text helpers (scan_mime_text.c). */
typedef void (*scan_mime_uri_fn)(void *ctx, const char *uri, size_t len);
/* s[0..n) in charset (NULL: unknown) appended to out as UTF-8; invalid
 * bytes become U+FFFD, text without a usable charset that is not UTF-8 is
 * read as Latin-1. */
void scan_mime_text_to_utf8(const char *charset, const char *s, size_t n, struct buf *out);
/* HTML (UTF-8) rendered as text into out: tags removed, script/style/
 * comments dropped, entities decoded, white space of text runs collapsed,
 * <br> a line break, block elements a paragraph break. Link targets (href,
 * src, action, background) go to fn. */
void scan_mime_text_html(const char *s, size_t n, struct buf *out, scan_mime_uri_fn fn, void *ctx);
/* An unstructured header value s[0..n) with its RFC 2047 encoded words
 * decoded to UTF-8, appended to out. Adjacent words of one charset are
 * decoded as one byte run (a character may be split between them); other
 * bytes, 8-bit ones included, and malformed words are kept as they are. */
void scan_mime_text_hdr_decode(const char *s, size_t n, struct buf *out);
/* URIs written in plain text: scheme://..., mailto:, www.x and ftp.x
 * (given http:// and ftp://). */
void scan_mime_text_uris(const char *s, size_t n, scan_mime_uri_fn fn, void *ctx);
/* The next uuencoded block ("begin NNN name" ... "end") at or after *pos in
 * s[0..n): true with the name (NUL-terminated, in name) and the decoded
 * bytes (in data), *pos moved past the block; *malformed set when the
 * block has no "end" line. */
bool scan_mime_text_uu_next(const char *s, size_t n, size_t *pos, struct buf *name, struct buf *data,
			    bool *malformed);

#endif
