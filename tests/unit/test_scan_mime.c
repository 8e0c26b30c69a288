/*
 * test_scan_mime.c - the MIME walk (scan/mime/scan_mime*.c): header fields,
 * the leaf parts with their decoded content and IMAP numbers, the
 * SpamAssassin views (body paragraphs, rawbody lines, URIs; the body
 * expectations of the HTML, multipart and message/rfc822 cases are what
 * Mail::SpamAssassin 4.0's get_rendered_body_text_array gives for the same
 * input, but the ".html name" case, which ends in one more " "), the limits at
 * N-1, N, N+1, and scan_msg_clean() on single-part and multipart messages
 * (every byte outside the replaced part kept, CRLF output, the result
 * parses again).
 *
 * Part lists are compared as one signature string: for each part
 * "path ctype", then " f=NAME" (filename), " A" (attachment), " U"
 * (uuencoded), " d=N" (depth > 0), parts joined by "; ". Body lines are
 * joined with "|" (each keeps its own newline).
 */
#include "unit.h"

#include <stdbool.h>

#include "base/buf.h"
#include "scan/mime/scan_msg.h"

#define EICAR "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
#define EICAR_B64                                                                      \
	"WDVPIVAlQEFQWzRcUFpYNTQoUF4pN0NDKTd9JEVJQ0FSLVNUQU5EQVJELUFOVElWSVJVUy1URVNU\n" \
	"LUZJTEUhJEgrSCo=\n"
#define NOCHECK ((size_t)-1)
#define F_T SCAN_MSG_F_TRUNCATED
#define F_M SCAN_MSG_F_MALFORMED

struct mime_case {
	const char *name;
	const char *in;
	size_t in_len;
	struct scan_mime_limits lim; /* all zero: defaults */
	unsigned want_flags;
	const char *want_parts; /* signature; NULL: not checked */
	const char *want_data;	/* "PATH=substring" of that part's decoded data */
	const char *want_body;	/* body lines joined with "|"; NULL: not checked */
	const char *want_hdr;	/* "Name=value" of scan_msg_header() */
	const char *want_raw;	/* "Name=raw" */
	const char *want_uris;	/* joined with " "; NULL: not checked */
	size_t want_nrawbody;
};

static const struct mime_case mime_cases[] = {
	/* header fields */
	{ "folded encoded subject",
	  "Subject: =?iso-8859-1?q?caf=E9?=\r\n =?utf-8?b?w6k=?= x\r\nFrom: a@b\r\n\r\nhi\r\n", 0, { 0 }, 0,
	  "1 text/plain", NULL, "caf\xc3\xa9\xc3\xa9 x\n|hi ", "Subject=caf\xc3\xa9\xc3\xa9 x",
	  "Subject= =?iso-8859-1?q?caf=E9?=\n =?utf-8?b?w6k=?= x", "", 1 },
	{ "character split over two encoded words", "Subject: =?UTF-8?Q?caf=C3?=\n =?UTF-8?Q?=A9?=!\n\n", 0, { 0 }, 0,
	  NULL, NULL, NULL, "Subject=caf\xc3\xa9!", NULL, NULL, NOCHECK },
	{ "padded base64 words run on", "Subject: =?UTF-8?B?YQ==?= =?UTF-8?B?Yg==?=\n\n", 0, { 0 }, 0, NULL, NULL, NULL,
	  "Subject=ab", NULL, NULL, NOCHECK },
	{ "white space before and between words", "Subject: Re:  =?utf-8?q?x?= y =?utf-8?q?z?=\t=?us-ascii?q?w?=\n\n", 0,
	  { 0 }, 0, NULL, NULL, NULL, "Subject=Re:  x y zw", NULL, NULL, NOCHECK },
	{ "encoded word in an unknown charset", "Subject: =?x-bogus?q?caf=E9?=\n\n", 0, { 0 }, 0, NULL, NULL, NULL,
	  "Subject=caf\xc3\xa9", NULL, NULL, NOCHECK },
	{ "invalid encoded word kept", "Subject: =?bogus?x?abc?= y\n\nb\n", 0, { 0 }, 0, NULL, NULL, NULL,
	  "Subject==?bogus?x?abc?= y", NULL, NULL, NOCHECK },
	{ "8-bit header kept as bytes", "X-Latin: caf\xe9\nX-Utf8: caf\xc3\xa9\n\nb\n", 0, { 0 }, 0, NULL, NULL, NULL,
	  "X-Latin=caf\xe9", "X-Utf8= caf\xc3\xa9", NULL, NOCHECK },
	{ "folding is one space, raw keeps it", "Subject: a\n\t b \n\nx\n", 0, { 0 }, 0, NULL, NULL, "a b\n|x ", "Subject=a b",
	  "Subject= a\n\t b ", NULL, NOCHECK },
	{ "header lookup is case-insensitive", "SUBJECT: up\n\n", 0, { 0 }, 0, NULL, NULL, NULL, "subject=up", NULL,
	  NULL, NOCHECK },
	{ "mbox From line skipped", "From a@b Mon Jan 1 00:00:00 2024\nSubject: s\n\nx\n", 0, { 0 }, 0, NULL, NULL,
	  NULL, "Subject=s", NULL, NULL, NOCHECK },
	/* structure and part numbers */
	{ "single part is 1", "Subject: s\n\nhello\n", 0, { 0 }, 0, "1 text/plain", "1=hello", "s\n|hello ", NULL,
	  NULL, "", 1 },
	{ "nested multipart",
	  "Content-Type: multipart/mixed; boundary=A\n\n--A\nContent-Type: multipart/alternative; boundary=B\n\n"
	  "--B\nContent-Type: text/plain\n\nplain\n--B\nContent-Type: text/html\n\n<p>html</p>\n--B--\n"
	  "--A\nContent-Type: application/pdf; name=a.pdf\nContent-Transfer-Encoding: base64\n\n" EICAR_B64
	  "--A--\n",
	  0, { 0 }, 0, "1.1 text/plain; 1.2 text/html; 2 application/pdf f=a.pdf A", "2=EICAR-STANDARD",
	  "\n|plain\n|html\n", NULL, NULL, "", 2 },
	{ "message/rfc822 inside",
	  "Content-Type: multipart/mixed; boundary=A\n\n--A\n\nouter\n--A\nContent-Type: message/rfc822\n\n"
	  "Subject: inner\nContent-Type: multipart/mixed; boundary=C\n\n--C\n\ninner text\n--C\n"
	  "Content-Type: application/octet-stream\nContent-Disposition: attachment; filename=\"v.com\"\n\n" EICAR
	  "\n--C--\n--A--\n",
	  0, { 0 }, 0, "1 text/plain; 2.1 text/plain d=1; 2.2 application/octet-stream f=v.com A d=1",
	  "2.2=" EICAR, NULL, NULL, NULL, NULL, NOCHECK },
	{ "message/rfc822 as the body",
	  "Subject: fwd\nContent-Type: message/rfc822\n\nSubject: in\nContent-Type: text/html\n\n<b>x</b>\n", 0,
	  { 0 }, 0, "1.1 text/html d=1", NULL, "fwd\n|x ", NULL, NULL, "", NOCHECK },
	{ "single-part inner message is N.1",
	  "Content-Type: multipart/mixed; boundary=A\n\n--A\nContent-Type: message/rfc822\n\nSubject: i\n\nbody\n"
	  "--A--\n",
	  0, { 0 }, 0, "1.1 text/plain d=1", "1.1=body", NULL, NULL, NULL, NULL, NOCHECK },
	/* transfer encodings and charsets */
	{ "base64 root part", "Content-Transfer-Encoding: base64\nContent-Type: application/x-msdownload\n\n" EICAR_B64,
	  0, { 0 }, 0, "1 application/x-msdownload A", "1=" EICAR, "\n", NULL, NULL, "", 0 },
	{ "quoted-printable latin-1",
	  "Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n"
	  "caf=E9 soft=\n break\n",
	  0, { 0 }, 0, "1 text/plain", "1=caf\xe9 soft break", "\n|caf\xc3\xa9 soft break ", NULL, NULL, "", 1 },
	{ "windows-1252 quotes", "Content-Type: text/plain; charset=windows-1252\n\n\x93q\x94\n", 0, { 0 }, 0, NULL,
	  NULL, "\n|\xe2\x80\x9cq\xe2\x80\x9d ", NULL, NULL, NULL, NOCHECK },
	{ "unknown charset read as latin-1", "Content-Type: text/plain; charset=x-nonsense\n\nna\xefve\n", 0, { 0 },
	  0, NULL, NULL, "\n|na\xc3\xafve ", NULL, NULL, NULL, NOCHECK },
	{ "8-bit body without charset", "Subject: s\n\nvalid \xc3\xa9 invalid \xe9\n", 0, { 0 }, 0, NULL,
	  "1=invalid \xe9", "s\n|valid \xc3\xa9 invalid \xc3\xa9 ", NULL, NULL, NULL, 1 },
	{ "x-uuencode transfer encoding",
	  "Content-Type: application/octet-stream; name=h.txt\nContent-Transfer-Encoding: x-uuencode\n\n"
	  "begin 644 h.txt\n+:&5L;&\\@=V]R;&0`\n`\nend\n",
	  0, { 0 }, 0, "1 application/octet-stream f=h.txt A", "1=hello world", NULL, NULL, NULL, NULL, NOCHECK },
	{ "uuencoded block in text",
	  "Subject: uu\n\nsee below\n\nbegin 644 hello.txt\n+:&5L;&\\@=V]R;&0`\n`\nend\nafter\n", 0, { 0 }, 0,
	  "1 text/plain; 1.u1 application/octet-stream f=hello.txt A U", "1.u1=hello world", NULL, NULL, NULL, NULL,
	  NOCHECK },
	{ "uuencoded block without end", "Subject: uu\n\nbegin 600 a.bin\n#86)C\n", 0, { 0 }, F_M,
	  "1 text/plain; 1.u1 application/octet-stream f=a.bin A U", "1.u1=abc", NULL, NULL, NULL, NULL, NOCHECK },
	{ "not a uuencode begin line", "Subject: uu\n\nbegin 6x4 a.bin\n#86)C\nend\n", 0, { 0 }, 0, "1 text/plain",
	  NULL, NULL, NULL, NULL, NULL, NOCHECK },
	{ "embedded MIME in a text body",
	  "Subject: e\n\nContent-Type: multipart/mixed; boundary=Z\n\n--Z\n\nt\n--Z\nContent-Transfer-Encoding: base64\n"
	  "\n" EICAR_B64 "--Z--\n",
	  0, { 0 }, F_M, "1 text/plain; 1.e1 text/plain A; 1.e2 text/plain A", "1.e2=" EICAR, NULL, NULL, NULL, NULL,
	  NOCHECK },
	/* rendering */
	{ "html rendered",
	  "Content-Type: text/html\n\n<html><head><title>T</title><style>p{color:red}</style>"
	  "<script>var a='<p>';</script></head><body><p>Hello&nbsp;<b>World</b> &amp; you</p>"
	  "<p>Second<br>line &#233;&#xe9; &bogus;</p><!-- <p>hidden</p> --><a href=\"http://ex.example/a?x=1&amp;y=2\">"
	  "link</a><img src='cid:part1'></body></html>\n",
	  0, { 0 }, 0, NULL, NULL, "\n|\n|T\n|Hello World & you\n|Second line \xc3\xa9\xc3\xa9 &bogus;\n|link ", NULL,
	  NULL, "http://ex.example/a?x=1&y=2 cid:part1", 1 },
	{ "text/plain that starts like html is not rendered", "Subject: s\n\n<html><body>a<br>b</body></html>\n", 0,
	  { 0 }, 0, NULL, NULL, "s\n|<html><body>a<br>b</body></html> ", NULL, NULL, NULL, NOCHECK },
	{ "paragraphs as SpamAssassin splits them", "Subject: p\n\na  b\n\n\n c\nd\n \n \ne\t\tf\n", 0, { 0 }, 0,
	  NULL, NULL, "p\n|a b\n| c d\n|e f ", NULL, NULL, NULL, 8 },
	{ "no subject", "From: a\n\nx\n", 0, { 0 }, 0, NULL, NULL, "\n|x ", NULL, NULL, NULL, NOCHECK },
	{ "non-text parts are not in body",
	  "Content-Type: multipart/mixed; boundary=A\n\n--A\n\nt1\n--A\nContent-Type: image/png\n\nPNGDATA\n"
	  "--A\nContent-Type: text/calendar\n\nBEGIN:VCALENDAR\n--A\nContent-Type: text/plain\n\nt2\n--A--\n",
	  0, { 0 }, 0, "1 text/plain; 2 image/png A; 3 text/calendar; 4 text/plain", NULL, "\n|t1\n|t2 ", NULL, NULL,
	  NULL, 3 },
	{ "a part named .html is rendered as HTML",
	  "Content-Type: multipart/mixed; boundary=A\n\n--A\nContent-Type: application/octet-stream; name=\"x.HTML\"\n\n"
	  "<p>hi<a href=\"http://h.example/\">there</a></p>\n--A--\n",
	  0, { 0 }, 0, "1 application/octet-stream f=x.HTML A", NULL, "\n|\n|hithere\n| ", NULL, NULL, "http://h.example/",
	  1 },
	{ "invalid content type is text for the body", "Subject: b\nContent-Type: text plain\n\ntotally <br> natural\n", 0,
	  { 0 }, F_M, NULL, NULL, "b\n|totally <br> natural ", NULL, NULL, NULL, 1 },
	{ "rawbody lines end in LF", "Subject: r\r\n\r\na\r\nb\r\n", 0, { 0 }, 0, NULL, NULL, "r\n|a b ", NULL, NULL,
	  NULL, 2 },
	{ "uris from text",
	  "Subject: u\n\nsee http://a.example/x, www.b.example. and (mailto:c@d.example) or ftp.e.example/f.\n"
	  "again http://a.example/x and HTTPS://Up.example/P?q=(1) x.www.no.example\n",
	  0, { 0 }, 0, NULL, NULL, NULL, NULL, NULL,
	  "http://a.example/x http://www.b.example mailto:c@d.example ftp://ftp.e.example/f "
	  "HTTPS://Up.example/P?q=(1)",
	  NOCHECK },
	/* broken structure */
	{ "multipart without boundary", "Content-Type: multipart/mixed\n\n--A\n\nx\n--A--\n", 0, { 0 }, F_M, NULL,
	  NULL, NULL, NULL, NULL, NULL, NOCHECK },
	{ "missing closing boundary",
	  "Content-Type: multipart/mixed; boundary=A\n\n--A\n\none\n--A\nContent-Type: text/plain\n\ntwo\n", 0, { 0 },
	  F_M, "1 text/plain; 2 text/plain", "2=two", NULL, NULL, NULL, NULL, NOCHECK },
	{ "empty message", "", 0, { 0 }, 0, NULL, NULL, "\n", NULL, NULL, NULL, NOCHECK },
	{ "headers only, no blank line", "Subject: only\r\nX-A: b", 0, { 0 }, F_M, NULL, NULL, "only\n", "X-A=b", NULL,
	  NULL, NOCHECK },
	{ "garbage header line flagged", "Subject: s\nthis is not a header\n\nx\n", 0, { 0 }, F_M, NULL, NULL, NULL,
	  "Subject=s", NULL, NULL, NOCHECK },
	{ "NUL bytes in body", UNIT_S("Subject: n\n\na\0b\n"), { 0 }, 0, "1 text/plain", NULL, NULL, NULL, NULL, NULL,
	  1 },
	/* limits: depth (3 nested multiparts allowed at max_depth 3), parts, text */
	{ "depth N-1",
	  "Content-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: multipart/mixed; boundary=b\n\n"
	  "--b\n\nx\n--b--\n--a--\n",
	  0, { 10, 3, 4096 }, 0, "1.1 text/plain", NULL, NULL, NULL, NULL, NULL, NOCHECK },
	{ "depth N",
	  "Content-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: multipart/mixed; boundary=b\n\n"
	  "--b\nContent-Type: multipart/mixed; boundary=c\n\n--c\n\nx\n--c--\n--b--\n--a--\n",
	  0, { 10, 3, 4096 }, 0, "1.1.1 text/plain", NULL, NULL, NULL, NULL, NULL, NOCHECK },
	{ "depth N+1",
	  "Content-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: multipart/mixed; boundary=b\n\n"
	  "--b\nContent-Type: multipart/mixed; boundary=c\n\n--c\nContent-Type: multipart/mixed; boundary=d\n\n"
	  "--d\n\nx\n--d--\n--c--\n--b--\n--a--\n",
	  0, { 10, 3, 4096 }, F_T, "", NULL, NULL, NULL, NULL, NULL, NOCHECK },
	{ "depth counts message/rfc822",
	  "Content-Type: message/rfc822\n\nContent-Type: message/rfc822\n\nContent-Type: message/rfc822\n\n"
	  "Content-Type: message/rfc822\n\nx\n",
	  0, { 10, 3, 4096 }, F_T | F_M, "", NULL, NULL, NULL, NULL, NULL, NOCHECK },
	{ "depth bomb",
	  "{{200:Content-Type: multipart/mixed; boundary=q\n\n--q\n}}\nx\n", 0, { 0 }, F_T | F_M, "", NULL, NULL, NULL,
	  NULL, NULL, NOCHECK },
	{ "parts N-1", "Content-Type: multipart/mixed; boundary=a\n\n{{2:--a\n\nx\n}}--a--\n", 0, { 3, 5, 4096 }, 0,
	  "1 text/plain; 2 text/plain", NULL, NULL, NULL, NULL, NULL, NOCHECK },
	{ "parts N", "Content-Type: multipart/mixed; boundary=a\n\n{{3:--a\n\nx\n}}--a--\n", 0, { 3, 5, 4096 }, 0,
	  "1 text/plain; 2 text/plain; 3 text/plain", NULL, NULL, NULL, NULL, NULL, NOCHECK },
	{ "parts N+1", "Content-Type: multipart/mixed; boundary=a\n\n{{4:--a\n\nx\n}}--a--\n", 0, { 3, 5, 4096 },
	  F_T, "1 text/plain; 2 text/plain; 3 text/plain", NULL, NULL, NULL, NULL, NULL, NOCHECK },
	{ "many parts at the default limit", "Content-Type: multipart/mixed; boundary=a\n\n{{1001:--a\n\nx\n}}--a--\n",
	  0, { 0 }, F_T, NULL, NULL, NULL, NULL, NULL, NULL, 1000 },
	{ "uuencoded blocks count as parts",
	  "Subject: uu\n\n{{3:begin 644 a\n#86)C\nend\n}}", 0, { 3, 5, 4096 }, F_T,
	  "1 text/plain; 1.u1 application/octet-stream f=a A U; 1.u2 application/octet-stream f=a A U", NULL, NULL,
	  NULL, NULL, NULL, NOCHECK },
	{ "text N", "Subject: t\n\n{{9:abc\n}}", 0, { 10, 5, 36 }, 0, NULL, NULL, NULL, NULL, NULL, NULL, 9 },
	{ "text N+1", "Subject: t\n\n{{9:abc\n}}x", 0, { 10, 5, 36 }, F_T, NULL, NULL, NULL, NULL, NULL, NULL, 9 },
};

static void signature(const struct scan_msg *m, struct buf *b)
{
	for (size_t i = 0; i < m->nparts; i++) {
		const struct scan_part *p = &m->parts[i];
		buf_printf(b, "%s%s %s", i ? "; " : "", p->path, p->ctype);
		if (p->filename)
			buf_printf(b, " f=%s", p->filename);
		if (p->attachment)
			buf_puts(b, " A");
		if (p->uuencoded)
			buf_puts(b, " U");
		if (p->depth)
			buf_printf(b, " d=%d", p->depth);
	}
}

/* Invariants of every parse: texts NUL-terminated with consistent lengths. */
static void check_invariants(const struct scan_msg *m)
{
	for (size_t i = 0; i < m->nbody; i++)
		U_CHECK(m->body[i].s[m->body[i].len] == '\0');
	for (size_t i = 0; i < m->nrawbody; i++)
		U_CHECK(m->rawbody[i].s[m->rawbody[i].len] == '\0' && m->rawbody[i].len > 0);
	for (size_t i = 0; i < m->nparts; i++)
		U_CHECK(m->parts[i].data && m->parts[i].data[m->parts[i].len] == '\0');
	U_CHECK(m->nbody >= 1); /* the subject line at least */
	U_CHECK(m->body_off <= m->raw_len);
}

static void run_mime_case(const struct mime_case *c)
{
	static char in[1 << 16];
	size_t n = unit_expand(c->in, unit_len(c->in, c->in_len), in, sizeof in);
	unit_case(c->name, in, n);
	struct scan_msg *m = scan_msg_parse(in, n, c->lim.max_parts ? &c->lim : NULL);
	check_invariants(m);
	U_EQ_HEX(m->flags, c->want_flags);
	struct buf b;
	buf_init(&b);
	if (c->want_parts) {
		signature(m, &b);
		U_EQ_STR(b.data ? b.data : "", c->want_parts);
	}
	if (c->want_data) {
		const char *eq = strchr(c->want_data, '=');
		bool found = false;
		for (size_t i = 0; i < m->nparts; i++)
			if (strlen(m->parts[i].path) == (size_t)(eq - c->want_data) &&
			    strncmp(m->parts[i].path, c->want_data, (size_t)(eq - c->want_data)) == 0) {
				found = true;
				U_CONTAINS((const char *)m->parts[i].data, eq + 1);
			}
		U_CHECK(found);
	}
	if (c->want_body) {
		buf_reset(&b);
		for (size_t i = 0; i < m->nbody; i++) {
			if (i)
				buf_putc(&b, '|');
			buf_append(&b, m->body[i].s, m->body[i].len);
		}
		U_EQ_STR(b.data ? b.data : "", c->want_body);
	}
	if (c->want_hdr || c->want_raw) {
		const char *w = c->want_hdr ? c->want_hdr : c->want_raw;
		const char *eq = strchr(w, '=');
		char name[64];
		snprintf(name, sizeof name, "%.*s", (int)(eq - w), w);
		const struct scan_hdr *h = scan_msg_header(m, name);
		U_CHECK(h != NULL);
		if (h && c->want_hdr)
			U_EQ_STR(h->value, eq + 1);
		if (c->want_raw) {
			eq = strchr(c->want_raw, '=');
			snprintf(name, sizeof name, "%.*s", (int)(eq - c->want_raw), c->want_raw);
			h = scan_msg_header(m, name);
			U_CHECK(h != NULL);
			if (h)
				U_EQ_STR(h->raw, eq + 1);
		}
	}
	if (c->want_uris) {
		buf_reset(&b);
		for (size_t i = 0; i < m->nuris; i++)
			buf_printf(&b, "%s%s", i ? " " : "", m->uris[i]);
		U_EQ_STR(b.data ? b.data : "", c->want_uris);
	}
	if (c->want_nrawbody != NOCHECK)
		U_EQ_INT(m->nrawbody, c->want_nrawbody);
	buf_fini(&b);
	scan_msg_free(&m);
	U_CHECK(m == NULL);
}

static void test_parse(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(mime_cases, run_mime_case);
}

/* ---- clean ---- */

#define MP_CRLF                                                                                          \
	"From: a@example.com\r\nSubject: =?utf-8?q?f=C3=BCr?= you\r\n  folded\r\nMIME-Version: 1.0\r\n"    \
	"Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\npreamble\r\n--B\r\nContent-Type: text/plain; " \
	"charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=E9 =\r\n\r\n"        \
	"--B\r\nContent-Type: application/zip; name=\"e.zip\"\r\nContent-Transfer-Encoding: base64\r\n"      \
	"X-Keep: me\r\n\r\nUEsDBA==\r\n--B\r\nContent-Type: text/html\r\n\r\n<p>tail\t</p>\r\n--B--\r\n"     \
	"epilogue\r\n"

struct clean_case {
	const char *name;
	const char *in;
	const char *paths[3];
	const char *why[3];
	size_t n;
	size_t want_replaced;
	const char *want_prefix; /* output starts with this */
	const char *want_suffix; /* output ends with this */
	const char *want_in;	 /* output contains this */
	const char *want_out;	 /* output does not contain this */
	const char *want_parts;	 /* signature of the output parsed again */
};

static const struct clean_case clean_cases[] = {
	{ "multipart: middle part replaced, the rest byte for byte",
	  MP_CRLF,
	  { "2" },
	  { "Eicar-Signature" },
	  1,
	  1,
	  "From: a@example.com\r\nSubject: =?utf-8?q?f=C3=BCr?= you\r\n  folded\r\nMIME-Version: 1.0\r\n"
	  "Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\npreamble\r\n--B\r\nContent-Type: text/plain; "
	  "charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=E9 =\r\n\r\n--B\r\n",
	  "\r\n--B\r\nContent-Type: text/html\r\n\r\n<p>tail\t</p>\r\n--B--\r\nepilogue\r\n",
	  "X-Keep: me\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
	  "Content-Disposition: inline\r\n\r\nThis attachment (e.zip) contained the virus Eicar-Signature and was "
	  "removed by mxgate.\r\n--B",
	  "UEsDBA", "1 text/plain; 2 text/plain; 3 text/html" },
	{ "single part: top-level headers kept except Content-*",
	  "Received: x\nSubject: s\nContent-Type: application/octet-stream; name=v.exe\nContent-Transfer-Encoding: "
	  "base64\nX-After: y\n\n" EICAR_B64,
	  { "1" },
	  { "Win.Test.EICAR_HDB-1" },
	  1,
	  1,
	  "Received: x\r\nSubject: s\r\nX-After: y\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; "
	  "charset=utf-8\r\n",
	  "This attachment (v.exe) contained the virus Win.Test.EICAR_HDB-1 and was removed by mxgate.\r\n",
	  NULL,
	  "base64",
	  "1 text/plain" },
	{ "inner message body replaced, its other fields kept",
	  "Content-Type: multipart/mixed; boundary=A\n\n--A\n\nouter\n--A\nContent-Type: message/rfc822\n\n"
	  "Subject: inner\nContent-Type: application/octet-stream\n\n" EICAR "\n--A--\n",
	  { "2.1" },
	  { "Eicar" },
	  1,
	  1,
	  "Content-Type: multipart/mixed; boundary=A\r\n\r\n--A\r\n\r\nouter\r\n--A\r\n",
	  "\r\n--A--\r\n",
	  "Subject: inner\r\nContent-Type: text/plain; charset=utf-8\r\n",
	  "EICAR",
	  "1 text/plain; 2.1 text/plain d=1" },
	{ "uuencoded block replaces its text part",
	  "Subject: uu\n\nhi\nbegin 644 v.com\n#86)C\nend\n",
	  { "1.u1" },
	  { "Bad" },
	  1,
	  1,
	  "Subject: uu\r\nMIME-Version: 1.0\r\n",
	  NULL,
	  "This attachment (v.com) contained the virus Bad",
	  "begin 644",
	  "1 text/plain" },
	{ "two findings in one part are one replacement",
	  "Subject: uu\n\nbegin 644 a.com\n#86)C\nend\nbegin 644 b.com\n#86)C\nend\n",
	  { "1.u1", "1.u2" },
	  { "A", "B" },
	  2,
	  1,
	  NULL,
	  NULL,
	  "(a.com) contained the virus A and was removed by mxgate.\r\nThis attachment (b.com) contained the virus B",
	  NULL,
	  "1 text/plain" },
	{ "part without headers",
	  "Content-Type: multipart/mixed; boundary=A\n\n--A\n\nbad\n--A\n\nok\n--A--\n",
	  { "1" },
	  { "V" },
	  1,
	  1,
	  "Content-Type: multipart/mixed; boundary=A\r\n\r\n--A\r\nContent-Type: text/plain",
	  "\r\n--A\r\n\r\nok\r\n--A--\r\n",
	  "(part 1) contained the virus V",
	  "bad",
	  "1 text/plain; 2 text/plain" },
	{ "name with CR LF cannot inject lines",
	  "Content-Type: multipart/mixed; boundary=A\n\n--A\nContent-Type: application/x; name=\"a=0D=0Ab\"\n\nz\n"
	  "--A--\n",
	  { "1" },
	  { "V\r\nX-Evil: 1" },
	  1,
	  1,
	  NULL,
	  NULL,
	  "contained the virus V??X-Evil: 1 and",
	  "\nX-Evil",
	  "1 text/plain" },
	{ "unknown path: unchanged", MP_CRLF, { "9" }, { "V" }, 1, 0, MP_CRLF, NULL, NULL, NULL, NULL },
	{ "a container is not a leaf", MP_CRLF, { "2.1" }, { "V" }, 1, 0, MP_CRLF, NULL, NULL, NULL, NULL },
	{ "nothing listed: unchanged", "Subject: s\n\nx\n", { NULL }, { NULL }, 0, 0, "Subject: s\n\nx\n", NULL, NULL,
	  NULL, NULL },
};

static void run_clean_case(const struct clean_case *c)
{
	unit_case(c->name, c->in, strlen(c->in));
	struct buf out;
	buf_init(&out);
	buf_puts(&out, "KEEP"); /* clean appends */
	size_t k = scan_msg_clean(c->in, strlen(c->in), c->paths, c->why, c->n, &out);
	U_EQ_INT(k, c->want_replaced);
	U_CHECK(out.len >= 4 && memcmp(out.data, "KEEP", 4) == 0);
	const char *o = out.data + 4;
	size_t olen = out.len - 4;
	if (c->want_prefix)
		U_CHECK(olen >= strlen(c->want_prefix) && memcmp(o, c->want_prefix, strlen(c->want_prefix)) == 0);
	if (c->want_suffix)
		U_CHECK(olen >= strlen(c->want_suffix) &&
			memcmp(o + olen - strlen(c->want_suffix), c->want_suffix, strlen(c->want_suffix)) == 0);
	if (c->want_in)
		U_CONTAINS(o, c->want_in);
	if (c->want_out && strstr(o, c->want_out))
		unit_failf(__FILE__, __LINE__, "output still contains \"%s\"", c->want_out);
	if (k > 0) {
		for (size_t i = 0; i < olen; i++) /* CRLF only */
			if (o[i] == '\n' && (i == 0 || o[i - 1] != '\r')) {
				unit_failf(__FILE__, __LINE__, "bare LF at %zu", i);
				break;
			}
	}
	if (c->want_parts) {
		struct scan_msg *m = scan_msg_parse(o, olen, NULL);
		struct buf b;
		buf_init(&b);
		signature(m, &b);
		U_EQ_STR(b.data ? b.data : "", c->want_parts);
		buf_fini(&b);
		scan_msg_free(&m);
	}
	buf_fini(&out);
}

static void test_clean(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(clean_cases, run_clean_case);
}

/* Cleaning twice (each time the same path) changes only that part: the
 * bytes around it are the same in both outputs. */
static void test_clean_twice(void **state)
{
	(void)state;
	unit_case("clean of a cleaned message", MP_CRLF, strlen(MP_CRLF));
	const char *paths[] = { "2" }, *why[] = { "V" };
	struct buf a, b;
	buf_init(&a);
	buf_init(&b);
	U_EQ_INT(scan_msg_clean(MP_CRLF, strlen(MP_CRLF), paths, why, 1, &a), 1);
	U_EQ_INT(scan_msg_clean(a.data, a.len, paths, why, 1, &b), 1);
	const char *s = strstr(a.data, "X-Keep: me\r\n");
	U_CHECK(s != NULL);
	size_t pre = s ? (size_t)(s - a.data) : 0;
	U_CHECK(b.len >= pre && memcmp(a.data, b.data, pre) == 0);
	const char *tail = "\r\n--B\r\nContent-Type: text/html";
	U_CHECK(strstr(a.data, tail) && strstr(b.data, tail) && strcmp(strstr(a.data, tail), strstr(b.data, tail)) == 0);
	U_CONTAINS(b.data, "(part 2) contained the virus V");
	buf_fini(&a);
	buf_fini(&b);
	UNIT_FINISH();
}

/* Where the top-level header ends, as SpamAssassin parses it: three lines that are not
 * fields are passed over (raw SMTP transcripts before the header), the fourth, or a "--"
 * line, starts the body. */
static void test_header_end(void **state)
{
	(void)state;
	static const struct {
		const char *name, *in, *present, *absent;
	} cases[] = {
		{ "three junk lines passed over", "EHLO x\r\nMAIL FROM:<a@b>\r\nDATA\r\nFrom: a@b\r\nSubject: s\r\n\r\nbody\r\n",
		  "Subject", NULL },
		{ "the fourth ends the header", "l1\r\nl2\r\nl3\r\nl4\r\nSubject: late\r\n\r\nbody\r\n", NULL, "Subject" },
		{ "a -- line ends the header", "Subject: x\r\n--b1\r\nFrom: y@z\r\n\r\nbody\r\n", "Subject", "From" },
		{ "mbox From_ line not counted", "From a@b Mon Jan 1 00:00:00 2024\r\nx1\r\nx2\r\nx3\r\nSubject: s\r\n\r\n",
		  "Subject", NULL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		unit_case(cases[i].name, cases[i].in, strlen(cases[i].in));
		struct scan_msg *m = scan_msg_parse(cases[i].in, strlen(cases[i].in), NULL);
		if (cases[i].present)
			U_CHECK(scan_msg_header(m, cases[i].present) != NULL);
		if (cases[i].absent)
			U_CHECK(scan_msg_header(m, cases[i].absent) == NULL);
		scan_msg_free(&m);
	}
	UNIT_FINISH();
}

int main(void)
{
	scan_mime_init();
	scan_mime_init(); /* twice is fine */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_clean),
		cmocka_unit_test(test_clean_twice),
		cmocka_unit_test(test_header_end),
	};
	UNIT_MAIN(tests);
}
