/*
 * test_mail_dot.c - the DATA codec (mail/mail_dot.c).
 *
 * End of data only on <CRLF>.<CRLF> with a real CRLF; the smuggling
 * variants ("\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r", "\r\n.\rX") must not end
 * DATA and must be flagged. Every case is decoded one-shot, byte at a time
 * and split at every position, with the same result. A property test
 * compares the streaming decoder with a simple whole-input reference over
 * random inputs (fixed seed), and the encoder is checked by round trip.
 */
#include "unit.h"

#include <stdbool.h>

#include "base/buf.h"
#include "mail/mail_dot.h"

#define BLF MAIL_DOT_F_BARE_LF
#define BCR MAIL_DOT_F_BARE_CR

struct dec_case {
	const char *name;
	const char *in;
	size_t in_len;
	const char *want_out;
	size_t want_out_len; /* 0 = strlen */
	bool want_done;
	unsigned want_flags;
	const char *want_rest; /* unconsumed input after the end ("" = none) */
};

static const struct dec_case dec_cases[] = {
	{ "simple end", "hello\r\n.\r\n", 0, "hello\r\n", 0, true, 0, "" },
	{ "pipelined after end", "hello\r\n.\r\nQUIT\r\n", 0, "hello\r\n", 0, true, 0, "QUIT\r\n" },
	{ "end at start", ".\r\n", 0, "", 0, true, 0, "" },
	{ "end at start then RSET", ".\r\nRSET\r\n", 0, "", 0, true, 0, "RSET\r\n" },
	{ "empty line then end", "a\r\n\r\n.\r\n", 0, "a\r\n\r\n", 0, true, 0, "" },
	{ "crlf then end", "\r\n.\r\n", 0, "\r\n", 0, true, 0, "" },
	{ "two ends", "a\r\n.\r\nb\r\n.\r\n", 0, "a\r\n", 0, true, 0, "b\r\n.\r\n" },
	{ "unstuff ..x", "..x\r\n.\r\n", 0, ".x\r\n", 0, true, 0, "" },
	{ "unstuff lone ..", "a\r\n..\r\n.\r\n", 0, "a\r\n.\r\n", 0, true, 0, "" },
	{ "unstuff ...", "a\r\n...\r\n.\r\n", 0, "a\r\n..\r\n", 0, true, 0, "" },
	{ "single dot dropped", ".x\r\n.\r\n", 0, "x\r\n", 0, true, 0, "" },
	{ "dot inside line kept", "a.b\r\n.\r\n", 0, "a.b\r\n", 0, true, 0, "" },
	{ "dot at end of line kept", "a.\r\n.\r\n", 0, "a.\r\n", 0, true, 0, "" },
	{ "not ended", "hello\r\n", 0, "hello\r\n", 0, false, 0, "" },
	{ "empty input", "", 0, "", 0, false, 0, "" },
	{ "dot pending", "a\r\n.", 0, "a\r\n", 0, false, 0, "" },
	{ "dot cr pending", "a\r\n.\r", 0, "a\r\n", 0, false, 0, "" },
	{ "cr pending", "a\r", 0, "a", 0, false, 0, "" },
	{ ".\\r.\\r\\n is no end", ".\r.\r\n", 0, "\r.\r\n", 0, false, BCR, "" },
	/* SMTP smuggling variants: never an end, always flagged */
	{ "LF.LF", "a\n.\nMAIL FROM:<x@y>\r\n", 0, "a\n.\nMAIL FROM:<x@y>\r\n", 0, false, BLF, "" },
	{ "LF.CRLF", "a\n.\r\nMAIL FROM:<x@y>\r\n", 0, "a\n.\r\nMAIL FROM:<x@y>\r\n", 0, false, BLF, "" },
	{ "CRLF.LF", "a\r\n.\nMAIL FROM:<x@y>\r\n", 0, "a\r\n\nMAIL FROM:<x@y>\r\n", 0, false, BLF, "" },
	{ "CR.CR", "a\r.\rMAIL FROM:<x@y>\r\n", 0, "a\r.\rMAIL FROM:<x@y>\r\n", 0, false, BCR, "" },
	{ "CR.CRLF", "a\r.\r\nMAIL FROM:<x@y>\r\n", 0, "a\r.\r\nMAIL FROM:<x@y>\r\n", 0, false, BCR, "" },
	{ "CRLF.CR X", "a\r\n.\rX\r\n", 0, "a\r\n\rX\r\n", 0, false, BCR, "" },
	{ "CRLF.CR X then real end", "a\r\n.\rX\r\n.\r\nQUIT\r\n", 0, "a\r\n\rX\r\n", 0, true, BCR, "QUIT\r\n" },
	{ "LF.LF at start", "\n.\n", 0, "\n.\n", 0, false, BLF, "" },
	{ "LF.CRLF at start", "\n.\r\n", 0, "\n.\r\n", 0, false, BLF, "" },
	{ "CR.CR at start", "\r.\r", 0, "\r.", 0, false, BCR, "" },
	{ "LF CRLF . CRLF ends", "a\n\r\n.\r\n", 0, "a\n\r\n", 0, true, BLF, "" },
	{ "CR CRLF . CRLF ends", "a\r\r\n.\r\n", 0, "a\r\r\n", 0, true, BCR, "" },
	{ "CR CR LF", "\r\r\n", 0, "\r\r\n", 0, false, BCR, "" },
	{ "both flags", "a\rb\nc\r\n.\r\n", 0, "a\rb\nc\r\n", 0, true, BCR | BLF, "" },
	{ "NUL kept", UNIT_S("a\0b\r\n.\r\n"), "a\0b\r\n", 5, true, 0, "" },
	{ "8bit kept", "\xc3\xbc\xff\r\n.\r\n", 0, "\xc3\xbc\xff\r\n", 0, true, 0, "" },
};

/* Reference decoder: whole input at once, written for clarity. */
static size_t ref_decode(const char *in, size_t n, struct buf *out, bool *done, unsigned *flags)
{
	bool bol = true;
	size_t i = 0;
	*done = false;
	*flags = 0;
	while (i < n) {
		if (bol && n - i >= 3 && memcmp(in + i, ".\r\n", 3) == 0) {
			*done = true;
			return i + 3;
		}
		if (bol && in[i] == '.') {
			i++; /* a leading dot is always removed */
			bol = false;
			continue;
		}
		bol = false;
		if (in[i] == '\r') {
			if (i + 1 == n)
				return n; /* pending CR: not yet output */
			if (in[i + 1] == '\n') {
				buf_append(out, "\r\n", 2);
				i += 2;
				bol = true;
				continue;
			}
			*flags |= MAIL_DOT_F_BARE_CR;
		} else if (in[i] == '\n') {
			*flags |= MAIL_DOT_F_BARE_LF;
		}
		buf_putc(out, in[i++]);
	}
	return n;
}

struct dec_result {
	struct buf out;
	size_t consumed;
	bool done;
	unsigned flags;
};

/* Decode in[0..n) in chunks whose sizes come from next_chunk (0 = all). */
static void decode_chunked(const char *in, size_t n, uint64_t *seed, size_t fixed, struct dec_result *r)
{
	struct mail_dot_dec d;
	mail_dot_dec_init(&d);
	buf_init(&r->out);
	r->consumed = 0;
	size_t off = 0;
	while (off < n && !d.done) {
		size_t k = n - off;
		if (fixed)
			k = fixed < k ? fixed : k;
		else if (seed)
			k = 1 + (size_t)(unit_rand(seed) % (k < 17 ? k : 17));
		/* exact-size heap copy of the chunk: ASan catches overreads */
		char *chunk = malloc(k);
		memcpy(chunk, in + off, k);
		size_t used = mail_dot_decode(&d, chunk, k, &r->out);
		free(chunk);
		if (used > k)
			abort();
		r->consumed += used;
		if (used < k && !d.done)
			abort(); /* may stop early only at the end */
		off += k;
	}
	r->done = d.done;
	r->flags = d.flags;
	/* a decoder that is done consumes nothing more */
	if (d.done && mail_dot_decode(&d, "x", 1, &r->out) != 0)
		r->consumed = (size_t)-1;
}

static void check_result(const struct dec_result *r, const struct dec_case *c, size_t in_len, const char *how)
{
	size_t want_len = c->want_out_len ? c->want_out_len : strlen(c->want_out);
	U_EQ_MEM(r->out.data ? r->out.data : "", r->out.len, c->want_out, want_len);
	U_EQ_INT(r->done, c->want_done);
	U_EQ_HEX(r->flags, c->want_flags);
	U_EQ_INT(r->consumed, in_len - strlen(c->want_rest));
	if (unit_ctx_.fails)
		print_error("     (feeding: %s)\n", how);
}

static void check_dec(const struct dec_case *c)
{
	size_t len = unit_len(c->in, c->in_len);
	unit_case(c->name, c->in, len);
	struct dec_result r;
	int before = unit_ctx_.fails;
	decode_chunked(c->in, len, NULL, 0, &r);
	check_result(&r, c, len, "one shot");
	buf_fini(&r.out);
	decode_chunked(c->in, len, NULL, 1, &r);
	check_result(&r, c, len, "byte at a time");
	buf_fini(&r.out);
	/* split once at every position */
	for (size_t s = 1; s < len && unit_ctx_.fails == before; s++) {
		struct mail_dot_dec d;
		mail_dot_dec_init(&d);
		buf_init(&r.out);
		size_t u1 = mail_dot_decode(&d, c->in, s, &r.out);
		size_t u2 = d.done ? 0 : mail_dot_decode(&d, c->in + s, len - s, &r.out);
		r.consumed = u1 + u2;
		r.done = d.done;
		r.flags = d.flags;
		char how[64];
		snprintf(how, sizeof how, "split at %zu", s);
		check_result(&r, c, len, how);
		buf_fini(&r.out);
	}
	/* and the reference agrees with the table */
	struct buf ref;
	buf_init(&ref);
	bool done;
	unsigned flags;
	r.consumed = ref_decode(c->in, len, &ref, &done, &flags);
	r.out = ref;
	r.done = done;
	r.flags = flags;
	check_result(&r, c, len, "reference decoder");
	buf_fini(&ref);
}

static void test_decode_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(dec_cases, check_dec);
}

/* Property: for random inputs, one-shot == byte-at-a-time == random chunks
 * == reference. The alphabet is biased towards the interesting bytes. */
static void test_decode_property(void **state)
{
	(void)state;
	static const char alpha[] = "\r\n.\r\n.aX\r\n";
	uint64_t seed = 0x5eed5eed12345678ULL;
	char in[96];
	for (int iter = 0; iter < 20000 && unit_ctx_.fails == 0; iter++) {
		size_t n = (size_t)(unit_rand(&seed) % sizeof in);
		for (size_t i = 0; i < n; i++)
			in[i] = alpha[unit_rand(&seed) % (sizeof alpha - 1)];
		unit_input("random input", in, n);
		struct dec_result a, b, c;
		decode_chunked(in, n, NULL, 0, &a);
		decode_chunked(in, n, NULL, 1, &b);
		decode_chunked(in, n, &seed, 0, &c);
		struct buf ref;
		buf_init(&ref);
		bool done;
		unsigned flags;
		size_t used = ref_decode(in, n, &ref, &done, &flags);
		U_EQ_MEM(b.out.data ? b.out.data : "", b.out.len, a.out.data ? a.out.data : "", a.out.len);
		U_EQ_MEM(c.out.data ? c.out.data : "", c.out.len, a.out.data ? a.out.data : "", a.out.len);
		U_EQ_MEM(ref.data ? ref.data : "", ref.len, a.out.data ? a.out.data : "", a.out.len);
		U_EQ_INT(b.consumed, a.consumed);
		U_EQ_INT(c.consumed, a.consumed);
		U_EQ_INT(used, a.consumed);
		U_EQ_INT(b.done, a.done);
		U_EQ_INT(c.done, a.done);
		U_EQ_INT(done, a.done);
		U_EQ_HEX(b.flags, a.flags);
		U_EQ_HEX(c.flags, a.flags);
		U_EQ_HEX(flags, a.flags);
		buf_fini(&a.out);
		buf_fini(&b.out);
		buf_fini(&c.out);
		buf_fini(&ref);
	}
	UNIT_FINISH();
}

/* ---- encoder ---- */

struct enc_case {
	const char *name;
	const char *in;
	const char *want;
};

static const struct enc_case enc_cases[] = {
	{ "empty", "", ".\r\n" },
	{ "one line", "a\r\n", "a\r\n.\r\n" },
	{ "no final crlf", "abc", "abc\r\n.\r\n" },
	{ "leading dot", ".a\r\n", "..a\r\n.\r\n" },
	{ "dot line", "a\r\n.\r\nb\r\n", "a\r\n..\r\nb\r\n.\r\n" },
	{ "dot at end no crlf", "a\r\n.", "a\r\n..\r\n.\r\n" },
	{ "dot inside", "a.b\r\n", "a.b\r\n.\r\n" },
	{ "double dot", "..\r\n", "...\r\n.\r\n" },
	{ "bare LF then dot stuffed", "a\n.\r\n", "a\n..\r\n.\r\n" },
};

static void check_enc(const struct enc_case *c)
{
	size_t len = strlen(c->in);
	unit_case(c->name, c->in, len);
	for (size_t step = 1; step <= len + 1; step++) {
		struct mail_dot_enc e;
		struct buf out;
		buf_init(&out);
		mail_dot_enc_init(&e);
		for (size_t off = 0; off < len; off += step)
			mail_dot_encode(&e, c->in + off, step < len - off ? step : len - off, &out);
		mail_dot_encode_end(&e, &out);
		U_EQ_MEM(out.data, out.len, c->want, strlen(c->want));
		buf_fini(&out);
	}
}

static void test_encode_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(enc_cases, check_enc);
}

/* Round trip: random CRLF texts (no bare CR/LF) encoded in random chunks
 * decode back to the text, plus CRLF when it did not end with one. */
static void test_roundtrip(void **state)
{
	(void)state;
	static const char alpha[] = "..a b";
	uint64_t seed = 0xfeedface01ULL;
	char in[256];
	for (int iter = 0; iter < 5000 && unit_ctx_.fails == 0; iter++) {
		size_t n = 0, target = (size_t)(unit_rand(&seed) % 200);
		while (n < target) {
			if (unit_rand(&seed) % 4 == 0) {
				in[n++] = '\r';
				in[n++] = '\n';
			} else {
				in[n++] = alpha[unit_rand(&seed) % (sizeof alpha - 1)];
			}
		}
		unit_input("random CRLF text", in, n);
		struct mail_dot_enc e;
		struct buf enc, dec;
		buf_init(&enc);
		buf_init(&dec);
		mail_dot_enc_init(&e);
		for (size_t off = 0; off < n;) {
			size_t k = 1 + (size_t)(unit_rand(&seed) % 9);
			if (k > n - off)
				k = n - off;
			mail_dot_encode(&e, in + off, k, &enc);
			off += k;
		}
		mail_dot_encode_end(&e, &enc);
		struct mail_dot_dec d;
		mail_dot_dec_init(&d);
		size_t used = mail_dot_decode(&d, enc.data, enc.len, &dec);
		U_CHECK(d.done);
		U_EQ_INT(used, enc.len);
		U_EQ_HEX(d.flags, 0);
		bool crlf_end = n == 0 || (n >= 2 && in[n - 2] == '\r' && in[n - 1] == '\n');
		char want[260];
		memcpy(want, in, n);
		size_t wl = n;
		if (!crlf_end) {
			want[wl++] = '\r';
			want[wl++] = '\n';
		}
		U_EQ_MEM(dec.data ? dec.data : "", dec.len, want, wl);
		buf_fini(&enc);
		buf_fini(&dec);
	}
	UNIT_FINISH();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_table), cmocka_unit_test(test_decode_property),
		cmocka_unit_test(test_encode_table), cmocka_unit_test(test_roundtrip),
	};
	UNIT_MAIN(tests);
}
