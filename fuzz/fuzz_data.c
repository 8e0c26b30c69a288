/*
 * fuzz_data.c - libFuzzer target for DATA content: the dot codec
 * (mail/mail_dot.c) and the line checks (mail/mail_body.c).
 *
 * Input: byte 0 = k (number of split bytes, 0..7), bytes 1..k give chunk
 * sizes (1..256 each, cycled), the rest is the payload. Invariants:
 * decoding in those chunks equals one-shot decoding (output, flags, done,
 * consumed) and an independent whole-input reference decoder; the body
 * checks give the same state for both chunkings; for a payload without
 * bare CR or LF, encode + decode returns the payload (plus CRLF when it did
 * not end with one).
 */
#include <stdbool.h>
#include <string.h>

#include "base/buf.h"
#include "fuzz.h"
#include "mail/mail_body.h"
#include "mail/mail_dot.h"

struct chunks {
	const uint8_t *sizes;
	size_t n;
};

static size_t chunk_len(const struct chunks *c, size_t i)
{
	return c->n ? (size_t)c->sizes[i % c->n] + 1 : (size_t)-1;
}

struct dec {
	struct buf out;
	size_t consumed;
	bool done;
	unsigned flags;
};

static void decode(const char *in, size_t n, const struct chunks *c, struct dec *r)
{
	struct mail_dot_dec d;
	mail_dot_dec_init(&d);
	buf_init(&r->out);
	r->consumed = 0;
	size_t off = 0;
	for (size_t i = 0; off < n && !d.done; i++) {
		size_t k = chunk_len(c, i);
		if (k > n - off)
			k = n - off;
		size_t used = mail_dot_decode(&d, in + off, k, &r->out);
		FUZZ_CHECK(used <= k);
		FUZZ_CHECK(used == k || d.done);
		r->consumed += used;
		off += k;
	}
	r->done = d.done;
	r->flags = d.flags;
	if (d.done)
		FUZZ_CHECK(mail_dot_decode(&d, "\r\n", 2, &r->out) == 0);
}

/* Reference: whole input, one line rule at a time. */
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
			i++;
			bol = false;
			continue;
		}
		bol = false;
		if (in[i] == '\r') {
			if (i + 1 == n)
				return n;
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

static void body_check(const char *p, size_t n, const struct chunks *c, size_t max_line,
		       struct mail_body_check *bc)
{
	mail_body_check_init(bc, max_line);
	size_t off = 0;
	for (size_t i = 0; off < n; i++) {
		size_t k = chunk_len(c, i);
		if (k > n - off)
			k = n - off;
		mail_body_check_feed(bc, p + off, k);
		off += k;
	}
}

static bool only_crlf_pairs(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\r' && (i + 1 == n || p[i + 1] != '\n'))
			return false;
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t k = data[0] % 8;
	if (size < 1 + k)
		return 0;
	const struct chunks split = { data + 1, k }, whole = { NULL, 0 };
	const char *in = (const char *)data + 1 + k;
	size_t n = size - 1 - k;

	struct dec a, b;
	decode(in, n, &whole, &a);
	decode(in, n, &split, &b);
	FUZZ_CHECK(a.out.len == b.out.len && (a.out.len == 0 || memcmp(a.out.data, b.out.data, a.out.len) == 0));
	FUZZ_CHECK(a.flags == b.flags && a.done == b.done && a.consumed == b.consumed);
	FUZZ_CHECK(a.consumed <= n && a.out.len <= a.consumed);
	if (a.done)
		FUZZ_CHECK(a.consumed >= 3 && memcmp(in + a.consumed - 3, ".\r\n", 3) == 0);
	else
		FUZZ_CHECK(a.consumed == n);

	struct buf ref;
	buf_init(&ref);
	bool done;
	unsigned flags;
	size_t used = ref_decode(in, n, &ref, &done, &flags);
	FUZZ_CHECK(used == a.consumed && done == a.done && flags == a.flags);
	FUZZ_CHECK(ref.len == a.out.len && (ref.len == 0 || memcmp(ref.data, a.out.data, ref.len) == 0));
	buf_fini(&ref);

	/* line checks over the decoded content, in both chunkings */
	size_t max_line = k ? (size_t)data[1] * 8 : 1000;
	struct mail_body_check c1, c2;
	body_check(a.out.data ? a.out.data : "", a.out.len, &whole, max_line, &c1);
	body_check(a.out.data ? a.out.data : "", a.out.len, &split, max_line, &c2);
	FUZZ_CHECK(c1.octets == c2.octets && c1.octets == a.out.len);
	FUZZ_CHECK(c1.longest == c2.longest && c1.flags == c2.flags && c1.received == c2.received);
	FUZZ_CHECK(c1.header_octets == c2.header_octets && c1.in_header == c2.in_header);
	FUZZ_CHECK(c1.header_octets <= c1.octets);
	if (!(a.flags & MAIL_DOT_F_BARE_LF))
		FUZZ_CHECK(!(c1.flags & MAIL_BODY_F_BARE_LF));
	if (c1.flags & MAIL_BODY_F_LONG_LINE)
		FUZZ_CHECK(max_line != 0);

	/* encoder round trip for CRLF text */
	if (only_crlf_pairs(in, n)) {
		struct mail_dot_enc e;
		struct buf enc;
		buf_init(&enc);
		mail_dot_enc_init(&e);
		size_t off = 0;
		for (size_t i = 0; off < n; i++) {
			size_t m = chunk_len(&split, i);
			if (m > n - off)
				m = n - off;
			mail_dot_encode(&e, in + off, m, &enc);
			off += m;
		}
		mail_dot_encode_end(&e, &enc);
		struct dec r;
		decode(enc.data, enc.len, &split, &r);
		FUZZ_CHECK(r.done && r.consumed == enc.len && r.flags == 0);
		bool crlf_end = n == 0 || (n >= 2 && in[n - 2] == '\r' && in[n - 1] == '\n');
		FUZZ_CHECK(r.out.len == n + (crlf_end ? 0 : 2));
		FUZZ_CHECK(n == 0 || memcmp(r.out.data, in, n) == 0);
		if (!crlf_end)
			FUZZ_CHECK(memcmp(r.out.data + n, "\r\n", 2) == 0);
		buf_fini(&r.out);
		buf_fini(&enc);
	}
	buf_fini(&a.out);
	buf_fini(&b.out);
	return 0;
}
