/*
 * test_mail_body.c - streaming line checks on message content
 * (mail/mail_body.c): Received: hop count (header section only), longest
 * line against the limit at N-1, N, N+1, bare CR / bare LF, 8bit and NUL
 * flags, and invariance under any chunking of the input.
 *
 * Decided from the code: a header field counts as Received only when the
 * line starts with "Received:" (any case); "Received :" (space before the
 * colon, RFC 5322 obs-syntax) is not counted, nor are continuation lines
 * or body lines.
 */
#include "unit.h"

#include <stdbool.h>

#include "mail/mail_body.h"

#define BLF MAIL_BODY_F_BARE_LF
#define BCR MAIL_BODY_F_BARE_CR
#define LONG MAIL_BODY_F_LONG_LINE
#define B8 MAIL_BODY_F_8BIT
#define BNUL MAIL_BODY_F_NUL

struct body_case {
	const char *name;
	const char *in;
	size_t in_len;
	size_t max_line;
	unsigned want_received;
	unsigned want_flags;
	size_t want_longest; /* (size_t)-1: don't check */
	bool want_in_header;
	uint64_t want_header_octets; /* checked when nonzero */
};

#define ANY ((size_t)-1)

static const struct body_case body_cases[] = {
	/* hop count */
	{ "two received", "Received: from a\r\nReceived: from b\r\nSubject: x\r\n\r\nbody\r\n", 0, 1000, 2, 0, ANY,
	  false, 0 },
	{ "case-insensitive", "received: a\r\nRECEIVED: b\r\nReCeIvEd: c\r\n\r\n", 0, 1000, 3, 0, ANY, false, 0 },
	{ "no space after colon", "Received:a\r\n\r\n", 0, 1000, 1, 0, ANY, false, 0 },
	{ "empty value", "Received:\r\n\r\n", 0, 1000, 1, 0, ANY, false, 0 },
	{ "space before colon not counted", "Received : a\r\n\r\n", 0, 1000, 0, 0, ANY, false, 0 },
	{ "X-Received", "X-Received: a\r\n\r\n", 0, 1000, 0, 0, ANY, false, 0 },
	{ "Received-SPF", "Received-SPF: pass\r\n\r\n", 0, 1000, 0, 0, ANY, false, 0 },
	{ "Receive", "Receive: a\r\n\r\n", 0, 1000, 0, 0, ANY, false, 0 },
	{ "continuation lines", "Subject: a\r\n Received: b\r\n\tReceived: c\r\n\r\n", 0, 1000, 0, 0, ANY, false, 0 },
	{ "received in body", "Subject: a\r\n\r\nReceived: b\r\nReceived: c\r\n", 0, 1000, 0, 0, ANY, false, 0 },
	{ "empty header section", "\r\nReceived: x\r\n", 0, 1000, 0, 0, ANY, false, 0 },
	{ "header only", "Received: x\r\n", 0, 1000, 1, 0, ANY, true, 0 },
	{ "unterminated line", "Received: x", 0, 1000, 0, 0, ANY, true, 0 },
	{ "bare LF lines", "Received: x\nReceived: y\n\nReceived: z\n", 0, 1000, 2, BLF, ANY, false, 0 },
	{ "100 received", "{{100:Received: x\r\n}}\r\n", 0, 1000, 100, 0, ANY, false, 0 },
	{ "101 received", "{{101:Received: x\r\n}}\r\n", 0, 1000, 101, 0, ANY, false, 0 },
	/* line limit 1000 incl. CRLF (RFC 5321 4.5.3.1.6) */
	{ "997+CRLF", "{{997:a}}\r\n", 0, 1000, 0, 0, 999, true, 0 },
	{ "998+CRLF = 1000 ok", "{{998:a}}\r\n", 0, 1000, 0, 0, 1000, true, 0 },
	{ "999+CRLF = 1001 flagged", "{{999:a}}\r\n", 0, 1000, 0, LONG, 1001, true, 0 },
	{ "long line in body", "A: b\r\n\r\nx\r\n{{999:a}}\r\ny\r\n", 0, 1000, 0, LONG, 1001, false, 0 },
	{ "1000 no eol ok", "{{1000:a}}", 0, 1000, 0, 0, 0, true, 0 },
	{ "1001 no eol flagged", "{{1001:a}}", 0, 1000, 0, LONG, 0, true, 0 },
	{ "999+LF = 1000", "{{999:a}}\n", 0, 1000, 0, BLF, 1000, true, 0 },
	{ "1000+LF = 1001", "{{1000:a}}\n", 0, 1000, 0, BLF | LONG, 1001, true, 0 },
	{ "no limit", "{{5000:a}}\r\n", 0, 0, 0, 0, 5002, true, 0 },
	{ "limit 2 empty line", "\r\n", 0, 2, 0, 0, 2, false, 0 },
	{ "limit 1 empty line", "\r\n", 0, 1, 0, LONG, 2, false, 0 },
	{ "longest of several", "a\r\n{{10:b}}\r\nc\r\n", 0, 1000, 0, 0, 12, true, 0 },
	/* bare CR / LF */
	{ "bare CR", "a\rb\r\n", 0, 1000, 0, BCR, ANY, true, 0 },
	{ "CR CR LF", "a\r\r\n", 0, 1000, 0, BCR, ANY, true, 0 },
	{ "trailing CR pending", "a\r", 0, 1000, 0, 0, ANY, true, 0 },
	{ "bare LF", "a\nb\r\n", 0, 1000, 0, BLF, ANY, true, 0 },
	{ "LF CR", "\n\r", 0, 1000, 0, BLF, ANY, false, 0 },
	{ "clean", "Subject: x\r\n\r\nhello\r\n", 0, 1000, 0, 0, 12, false, 0 },
	/* octets */
	{ "8bit", "\xc3\xa9\r\n", 0, 1000, 0, B8, ANY, true, 0 },
	{ "0x80", "\x80", 0, 1000, 0, B8, ANY, true, 0 },
	{ "0x7f is not 8bit", "\x7f\r\n", 0, 1000, 0, 0, ANY, true, 0 },
	{ "NUL", UNIT_S("a\0b\r\n"), 1000, 0, BNUL, ANY, true, 0 },
	{ "NUL and 8bit", UNIT_S("\0\xff"), 1000, 0, BNUL | B8, ANY, true, 0 },
	/* the same in the body (after the header section: a line at a time, eight octets per test) */
	{ "body bare CR", "A: b\r\n\r\n{{20:a}}\rb\r\n", 0, 1000, 0, BCR, ANY, false, 0 },
	{ "body CR CR LF", "A: b\r\n\r\n{{9:a}}\r\r\n", 0, 1000, 0, BCR, ANY, false, 0 },
	{ "body CR first", "A: b\r\n\r\n\rab\r\n", 0, 1000, 0, BCR, ANY, false, 0 },
	{ "body trailing CR pending", "A: b\r\n\r\nabc\r", 0, 1000, 0, 0, ANY, false, 0 },
	{ "body bare LF", "A: b\r\n\r\n{{17:a}}\nb\r\n", 0, 1000, 0, BLF, ANY, false, 0 },
	{ "body empty bare LF", "A: b\r\n\r\n\n", 0, 1000, 0, BLF, ANY, false, 0 },
	{ "body 8bit after a word", "A: b\r\n\r\n{{11:a}}\xc3\xa9\r\n", 0, 1000, 0, B8, ANY, false, 0 },
	{ "body 8bit in a word", "A: b\r\n\r\n{{3:a}}\xff{{12:a}}\r\n", 0, 1000, 0, B8, ANY, false, 0 },
	{ "body 0x7f", "A: b\r\n\r\n{{20:\x7f}}\r\n", 0, 1000, 0, 0, ANY, false, 0 },
	{ "body NUL in a word", UNIT_S("A: b\r\n\r\nabcdefghi\0jklmnopq\r\n"), 1000, 0, BNUL, ANY, false, 0 },
	{ "body NUL at the end", UNIT_S("A: b\r\n\r\nabcdefghijklmnop\0\r\n"), 1000, 0, BNUL, ANY, false, 0 },
	{ "body 0x01 is not NUL", "A: b\r\n\r\n{{16:\x01}}\r\n", 0, 1000, 0, 0, ANY, false, 0 },
	{ "body 998+CRLF ok", "A: b\r\n\r\n{{998:a}}\r\n", 0, 1000, 0, 0, 1000, false, 0 },
	{ "body 999+CRLF flagged", "A: b\r\n\r\n{{999:a}}\r\n", 0, 1000, 0, LONG, 1001, false, 0 },
	{ "body 1001 no eol flagged", "A: b\r\n\r\n{{1001:a}}", 0, 1000, 0, LONG, 6, false, 0 },
	/* header octets */
	{ "header octets", "A: b\r\n\r\nbody", 0, 1000, 0, 0, ANY, false, 8 },
	{ "header octets all", "A: b\r\nC: d\r\n", 0, 1000, 0, 0, ANY, true, 12 },
};

static void feed_chunked(struct mail_body_check *c, const char *in, size_t n, size_t max_line, size_t step,
			 size_t split)
{
	mail_body_check_init(c, max_line);
	if (split) {
		mail_body_check_feed(c, in, split);
		mail_body_check_feed(c, in + split, n - split);
		return;
	}
	if (!step)
		step = n ? n : 1;
	for (size_t off = 0; off < n; off += step) {
		size_t k = step < n - off ? step : n - off;
		char *chunk = malloc(k);
		memcpy(chunk, in + off, k);
		mail_body_check_feed(c, chunk, k);
		free(chunk);
	}
}

static void same_state(const struct mail_body_check *a, const struct mail_body_check *b)
{
	U_EQ_INT(a->octets, b->octets);
	U_EQ_INT(a->longest, b->longest);
	U_EQ_HEX(a->flags, b->flags);
	U_EQ_INT(a->received, b->received);
	U_EQ_INT(a->header_octets, b->header_octets);
	U_EQ_INT(a->in_header, b->in_header);
	U_EQ_INT(a->line_len, b->line_len);
}

static void check_body(const struct body_case *c)
{
	char in[UNIT_BUF];
	size_t len = unit_expand(c->in, unit_len(c->in, c->in_len), in, sizeof in);
	unit_case(c->name, in, len);
	struct mail_body_check one, other;
	feed_chunked(&one, in, len, c->max_line, 0, 0);
	U_EQ_INT(one.received, c->want_received);
	U_EQ_HEX(one.flags, c->want_flags);
	if (c->want_longest != ANY)
		U_EQ_INT(one.longest, c->want_longest);
	U_EQ_INT(one.in_header, c->want_in_header);
	U_EQ_INT(one.octets, len);
	if (c->want_header_octets)
		U_EQ_INT(one.header_octets, c->want_header_octets);
	/* byte at a time and every single split give the same state */
	feed_chunked(&other, in, len, c->max_line, 1, 0);
	same_state(&other, &one);
	int before = unit_ctx_.fails;
	for (size_t s = 1; s < len && unit_ctx_.fails == before; s++) {
		feed_chunked(&other, in, len, c->max_line, 0, s);
		same_state(&other, &one);
	}
}

static void test_body_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(body_cases, check_body);
}

/* Property: random token soups give the same result however chunked. */
static void test_body_chunk_property(void **state)
{
	(void)state;
	static const char *tok[] = { "Received:", "received: x", "\r\n", "\n", "\r", " ", "a",
				     "\t",	   "X-Received: y", "\x80", ":", "{{3:Received: z\r\n}}", "\r\n\r\n",
				     "{{17:b}}", "\xff" };
	uint64_t seed = 0xb0d1e5ULL;
	char in[2048];
	for (int iter = 0; iter < 3000 && unit_ctx_.fails == 0; iter++) {
		size_t n = 0, ntok = (size_t)(unit_rand(&seed) % 40);
		for (size_t t = 0; t < ntok; t++) {
			const char *s = tok[unit_rand(&seed) % UNIT_NCASES(tok)];
			n += unit_expand(s, strlen(s), in + n, sizeof in - n);
		}
		unit_input("random token soup", in, n);
		size_t max_line = (size_t)(unit_rand(&seed) % 20);
		struct mail_body_check one, other;
		feed_chunked(&one, in, n, max_line, 0, 0);
		feed_chunked(&other, in, n, max_line, 1 + (size_t)(unit_rand(&seed) % 7), 0);
		same_state(&other, &one);
		U_CHECK(one.octets == n);
		U_CHECK(one.header_octets <= one.octets);
		U_CHECK(!(one.flags & MAIL_BODY_F_LONG_LINE) || max_line);
	}
	UNIT_FINISH();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_body_table),
		cmocka_unit_test(test_body_chunk_property),
	};
	UNIT_MAIN(tests);
}
