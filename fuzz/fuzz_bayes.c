/*
 * fuzz_bayes.c - libFuzzer target for the Bayes tokeniser
 * (scan/bayes/scan_bayes_tok.c) on hostile messages, with the relay
 * metadata of the rules engine's Received parser.
 *
 * Input: byte 0 picks bayes_max_token_length (3..18) and whether the
 * relay metadata is passed; the rest is the message. Invariants: every
 * token text is non-empty and its key is among the keys returned; the
 * keys are sorted, distinct and non-zero, at most SCAN_BAYES_MAX_TOKENS;
 * a body token of a non-header region never holds a space; the classifier
 * over an empty store gives no probability.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "fuzz.h"
#include "scan/bayes/scan_bayes.h"
#include "scan/mime/scan_msg.h"
#include "scan/rules/scan_rules.h"

struct seen {
	uint64_t *k;
	size_t n, cap;
};

static void each(void *ctx, const char *tok, size_t len)
{
	struct seen *s = ctx;
	FUZZ_CHECK(len > 0);
	FUZZ_CHECK(!memchr(tok, ' ', len));
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		s->k = xrealloc(s->k, s->cap * sizeof *s->k);
	}
	s->k[s->n++] = scan_bayes_key(tok, len);
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct scan_bayes_tok *tok[16];
	static struct scan_bayes_view *empty;
	if (!tok[0]) {
		scan_mime_init();
		char err[200];
		const char *ignore[] = { "X-Ignored", "list-id" };
		const char *stop[] = { "(?:a(?:nd|re)|the|th(?:is|at)|because)" };
		for (unsigned i = 0; i < 16; i++) {
			tok[i] = scan_bayes_tok_new(ignore, 2, stop, 1, 3 + i, err, sizeof err);
			FUZZ_CHECK(tok[i]);
		}
		FUZZ_CHECK(scan_bayes_view_open("/nonexistent/mxgate-fuzz-bayes", &empty, err, sizeof err) == 0);
	}
	if (size < 1)
		return 0;
	struct scan_msg *m = scan_msg_parse((const char *)data + 1, size - 1, NULL);
	char *tr = NULL, *un = NULL;
	struct scan_bayes_meta meta = { 0 };
	if (data[0] & 0x10) {
		scan_rules_relays_text(m, &tr, &un);
		meta.relays_trusted = tr;
		meta.relays_untrusted = un;
	}
	struct seen s = { 0 };
	uint64_t *keys;
	size_t n = scan_bayes_tokenize(tok[data[0] & 0xf], m, (data[0] & 0x10) ? &meta : NULL, &keys, each, &s);
	FUZZ_CHECK(n <= SCAN_BAYES_MAX_TOKENS);
	for (size_t i = 0; i < n; i++) {
		FUZZ_CHECK(keys[i] != 0);
		FUZZ_CHECK(i == 0 || keys[i - 1] < keys[i]);
	}
	for (size_t i = 0; i < s.n; i++)
		FUZZ_CHECK(bsearch(&s.k[i], keys, n, sizeof *keys, cmp));
	struct scan_bayes_score sc;
	scan_bayes_classify(empty, keys, n, &sc);
	FUZZ_CHECK(sc.prob < 0 && sc.nused == 0);
	scan_bayes_score_fini(&sc);
	xfree(s.k);
	xfree(keys);
	xfree(tr);
	xfree(un);
	scan_msg_free(&m);
	return 0;
}
