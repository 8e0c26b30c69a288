/*
 * scan_bayes.c - the classifier: a token's probability (Robinson's f(w)
 * on Graham's estimate) and the chi-square combining of the strongest
 * tokens, as SpamAssassin's Bayes plugin and its CombineChi compute them;
 * the token and message keys.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "base/xalloc.h"
#include "scan/bayes/scan_bayes.h"
#include "scan/mime/scan_msg.h"

#define FW_S 0.030 /* Robinson's s: the strength of the prior */
#define FW_X 0.538 /* Robinson's x: a new token's probability */

uint64_t scan_bayes_key(const char *tok, size_t len)
{
	unsigned char md[SHA_DIGEST_LENGTH];
	SHA1((const unsigned char *)tok, len, md);
	uint64_t k = 0;
	for (int i = 0; i < 8; i++)
		k = k << 8 | md[i];
	return k ? k : 1; /* 0 marks an empty slot in the store */
}

uint64_t scan_bayes_msg_key(const struct scan_msg *m)
{
	const struct scan_hdr *h = scan_msg_header(m, "Message-ID");
	const char *v = h ? h->raw : NULL;
	while (v && (*v == ' ' || *v == '\t' || *v == '\n'))
		v++;
	if (v && *v) {
		size_t n = strlen(v);
		while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\n'))
			n--;
		return scan_bayes_key(v, n) ^ 0x4d49444d49444d49ull; /* apart from token keys */
	}
	size_t off = m->body_off <= m->raw_len ? m->body_off : m->raw_len;
	return scan_bayes_key(m->raw + off, m->raw_len - off) ^ 0x424f4459424f4459ull;
}

double scan_bayes_token_prob(uint64_t nspam, uint64_t nham, uint32_t s, uint32_t h)
{
	if (!nspam || !nham || (uint64_t)s + h < 1)
		return -1;
	double ds = s, dh = h, ns = (double)nspam, nn = (double)nham;
	double p = (ds * nn) / (dh * ns + ds * nn);
	double robn = ds + dh;
	return (FW_S * FW_X + robn * p) / (FW_S + robn);
}

/* Probability that chi-square with 2 * halfv degrees of freedom exceeds x2. */
static double chi2q(double x2, size_t halfv)
{
	double m = x2 / 2.0, term = exp(-m), sum = term;
	for (size_t i = 1; i < halfv; i++) {
		term *= m / (double)i;
		sum += term;
	}
	return sum < 1.0 ? sum : 1.0;
}

double scan_bayes_combine(uint64_t nspam, uint64_t nham, const double *probs, size_t n)
{
	if (n == 0 || nspam + nham == 0)
		return -1;
	double tot = (double)(nspam + nham);
	double S = (double)nspam / tot, H = (double)nham / tot;
	int sexp = 0, hexp = 0;
	for (size_t i = 0; i < n; i++) {
		S *= 1.0 - probs[i];
		H *= probs[i];
		if (S < 1e-200) { /* keep the exponents apart: no underflow */
			int e;
			S = frexp(S, &e);
			sexp += e;
		}
		if (H < 1e-200) {
			int e;
			H = frexp(H, &e);
			hexp += e;
		}
	}
	/* a product of 0 (a probability of exactly 0 or 1 cannot occur after f(w)) */
	if (S <= 0 || H <= 0)
		return S <= 0 ? (H <= 0 ? 0.5 : 1.0) : 0.0;
	double ls = log(S) + sexp * M_LN2, lh = log(H) + hexp * M_LN2;
	double s = 1.0 - chi2q(-2.0 * ls, n), h = 1.0 - chi2q(-2.0 * lh, n);
	return ((s - h) + 1.0) / 2.0;
}

struct cand {
	uint64_t key;
	double prob, strength;
};

static int by_strength(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	if (x->strength != y->strength)
		return x->strength > y->strength ? -1 : 1;
	return x->key < y->key ? -1 : x->key > y->key; /* a stable order for equal strengths */
}

void scan_bayes_classify(const struct scan_bayes_view *v, const uint64_t *keys, size_t n,
			 struct scan_bayes_score *out)
{
	memset(out, 0, sizeof *out);
	out->prob = -1;
	out->ntokens = n;
	struct scan_bayes_counts c;
	scan_bayes_view_counts(v, &c);
	if (!c.nspam || !c.nham || n == 0)
		return;
	struct cand *cs = xmalloc(n * sizeof *cs);
	size_t nc = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t s, h;
		if (!scan_bayes_view_get(v, keys[i], &s, &h))
			continue;
		double p = scan_bayes_token_prob(c.nspam, c.nham, s, h);
		if (p < 0)
			continue;
		cs[nc].key = keys[i];
		cs[nc].prob = p;
		cs[nc].strength = fabs(p - 0.5);
		nc++;
	}
	out->nlearned = nc;
	qsort(cs, nc, sizeof *cs, by_strength);
	if (nc > SCAN_BAYES_N_SIGNIFICANT)
		nc = SCAN_BAYES_N_SIGNIFICANT;
	double probs[SCAN_BAYES_N_SIGNIFICANT];
	out->used = xmalloc((nc + 1) * sizeof *out->used);
	for (size_t i = 0; i < nc && cs[i].strength >= SCAN_BAYES_MIN_PROB_STRENGTH; i++) {
		probs[out->nused] = cs[i].prob;
		out->used[out->nused++] = cs[i].key;
	}
	xfree(cs);
	if (out->nused)
		out->prob = scan_bayes_combine(c.nspam, c.nham, probs, out->nused);
}

void scan_bayes_score_fini(struct scan_bayes_score *s)
{
	xfree(s->used);
	s->used = NULL;
	s->nused = 0;
}
