/*
 * scan_msg.h - a message as the scanners see it: parsed once (GMime), then
 * read by the anti-virus walk and the rules engine. Built by scan_mime.c
 * over the walk of scan_mime_walk.c.
 *
 * Everything points into memory owned by the struct (or into raw, which the
 * caller keeps alive until scan_msg_free()). Parsing never fails on hostile
 * input: what cannot be parsed is kept as text, limits cut the walk and set
 * SCAN_MSG_F_TRUNCATED. Thread-safe: each thread parses its own messages
 * (scan_mime_init() once, before any thread starts).
 *
 * The texts follow SpamAssassin's views of a message, so its rule files
 * mean the same here:
 *   hdrs     "header" rules: every top-level field in order; value is
 *            unfolded and RFC 2047-decoded to UTF-8, raw keeps the folding
 *            (CRLF turned into "\n") for ":raw"
 *   body     "body" rules: [0] is the Subject (decoded) and "\n" ("\n"
 *            alone without one), then the rendered text of every
 *            text/plain and text/html leaf (HTML, and parts named *.htm(l),
 *            turned into text; converted to UTF-8 from the charset), a
 *            "\n" between any two leaves, as paragraphs: a white-space run
 *            holding two newlines ends a line ("\n" kept), any other run is
 *            one space; lines over 2048 bytes are cut at a space. This is
 *            SpamAssassin 4's get_rendered_body_text_array: identical
 *            arrays for 176 of the 205 messages of its own t/data
 *   rawbody  "rawbody" rules: the decoded leaves of type text or message,
 *            not rendered (HTML tags kept, bytes in the part's own charset
 *            as SpamAssassin's decode() gives them, CRLF as "\n"), one
 *            element per line (newline kept)
 *   raw      "full" rules: the whole message as received
 *   uris     "uri" rules: the URIs written in the rendered text parts
 *            (http, https, ftp, mailto; www.x and ftp.x get http:// and
 *            ftp://) and the href/src/action/background values of HTML
 *            tags (entities decoded, otherwise as written), each once
 *   parts    the anti-virus walk: every leaf part of the MIME tree, those of
 *            attached messages (message/rfc822) included, and each uuencoded
 *            block found in a text part, with its content decoded; a text
 *            body that is itself a MIME entity ("Content-Type: multipart/"
 *            as its first line, e.g. headers cut by a stray blank line) has
 *            its leaves listed too, as "N.e1", "N.e2"...
 *
 * Messages GMime refuses (first line not a field, no header at all) are
 * read from their first field line, or as one text/plain body, and flagged
 * MALFORMED: every byte still reaches the scanners.
 */
#ifndef SCAN_MIME_SCAN_MSG_H
#define SCAN_MIME_SCAN_MSG_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

struct scan_hdr {
	const char *name;  /* as written ("Subject") */
	const char *raw;   /* after the colon, folding kept as "\n", no final newline */
	const char *value; /* unfolded, RFC 2047-decoded (UTF-8), leading white space removed */
};

struct scan_text {
	const char *s; /* NUL-terminated too */
	size_t len;
};

struct scan_part {
	const char *path;     /* IMAP part number: "1", "2.1", "2.1.u1" (uuencoded block 1 of part 2.1),
				 "1.e2" (leaf 2 of the MIME entity embedded in text part 1) */
	const char *ctype;    /* lower case "type/subtype" ("text/plain" when absent) */
	const char *charset;  /* or NULL */
	const char *filename; /* Content-Disposition filename, Content-Type name or uuencode name; or NULL */
	int depth;            /* 0 top-level message, +1 inside each attached message/rfc822 */
	bool attachment;      /* disposition attachment, a filename, or a non-text type */
	bool uuencoded;       /* found as a "begin NNN name" block in a text part */
	const unsigned char *data; /* decoded content (transfer encoding removed) */
	size_t len;
	/* SpamAssassin's rendered() of the leaf: parts whose effective type is
	 * text/plain or text/html (named *.htm(l): html), as put in body */
	const char *text; /* UTF-8 rendered text, or NULL (other types, uuencoded, embedded) */
	size_t text_len;
	bool html;	  /* rendered as HTML, from non-empty content (HTML_MESSAGE) */
};

/* Every MIME entity of the tree, SpamAssassin's find_parts(qr/./) order:
 * the message's body (multipart or leaf) first, containers before their
 * children, an attached message/rfc822 part followed by its message's body.
 * Attributes come from the entity's own fields (lower case). */
struct scan_entity {
	const char *ctype; /* "type/subtype" ("text/plain" when absent) */
	const char *cte;   /* Content-Transfer-Encoding or "" */
	const char *cd;	   /* Content-Disposition (whole value) or "" */
	int parent;	   /* index in entities, -1 for the first */
	int part;	   /* a leaf: its index in parts (-1: not listed, or a container) */
	bool leaf;
	/* its own fields in order, as in hdrs (the body of a message: the
	 * Content-* fields GMime gives that part) */
	const struct scan_hdr *hdrs;
	size_t nhdrs;
};

#define SCAN_MSG_F_TRUNCATED 0x1 /* a limit stopped the walk: parts or text missing */
#define SCAN_MSG_F_MALFORMED 0x2 /* structure errors were repaired (missing boundary, bad encoding) */

struct scan_msg {
	const char *raw; /* the message (CRLF lines), borrowed */
	size_t raw_len;
	size_t body_off; /* offset of the body in raw (after the blank line) */
	struct scan_hdr *hdrs;
	size_t nhdrs;
	struct scan_part *parts;
	size_t nparts;
	struct scan_text *body;
	size_t nbody;
	struct scan_text *rawbody;
	size_t nrawbody;
	const char **uris;
	size_t nuris;
	struct scan_entity *entities; /* empty when GMime could not read the message */
	size_t nentities;
	unsigned flags; /* SCAN_MSG_F_* */
	void *priv;	/* owned memory */
};

struct scan_mime_limits {
	size_t max_parts;     /* leaf parts walked (default 1000) */
	int max_depth;        /* multipart / message nesting (default 30) */
	size_t max_text;      /* bytes of text kept, for body and for rawbody each (default 2 MiB) */
};
/* Memory: raw is not copied; a parse holds every part decoded (about the
 * size of the message) plus max_text twice. A 100 MiB message with one
 * base64 attachment peaks at +73 MiB, with 100 MiB of text at +111 MiB. */

/* Once per process, before threads. */
void scan_mime_init(void);
/* lim may be NULL (defaults). Always returns a message (never NULL). */
struct scan_msg *scan_msg_parse(const char *raw, size_t len, const struct scan_mime_limits *lim);
void scan_msg_free(struct scan_msg **m);
/* The first header named name (case-insensitive), or NULL. */
const struct scan_hdr *scan_msg_header(const struct scan_msg *m, const char *name);

/* The header block raw[0..len) of a message or a part: call fn for each
 * field (name, raw value after the colon with CR removed and folding as
 * "\n") and for each line that is not a field (name NULL). Returns the offset just past the blank
 * line ending the block (len when there is none). */
typedef void (*scan_mime_field_fn)(void *ctx, const char *name, size_t nlen, const char *line, size_t line_len,
				   const char *value, size_t vlen);
size_t scan_mime_fields(const char *raw, size_t len, scan_mime_field_fn fn, void *ctx);

/* The message raw[0..len) with each leaf part whose path is listed replaced
 * by a text/plain part saying why[i] (e.g. "Eicar-Signature"), the rest of
 * the message kept as it was, byte for byte, but with CRLF line ends. A
 * ".uK" or ".eK" path replaces its containing text part (several findings
 * in one part are listed in one notice). The body of a message (a
 * single-part message, or an attached one) keeps that message's fields
 * except Content-*. Parts are found by the same walk as scan_msg_parse()
 * but without its limits. Appends to out. Returns the number of parts
 * replaced (0: out holds raw unchanged, not even line ends converted). */
size_t scan_msg_clean(const char *raw, size_t len, const char *const *paths, const char *const *why, size_t n,
		      struct buf *out);
struct mail_edits;
/* The same replacements as an edit list on raw (mail/mail_edit.h), added
 * to out in ascending order: each replaced range and its notice (CRLF line
 * ends); the bytes between are not touched, bare LFs included. Returns the
 * number of parts replaced. */
size_t scan_msg_clean_edits(const char *raw, size_t len, const char *const *paths, const char *const *why, size_t n,
			    struct mail_edits *out);

#endif
