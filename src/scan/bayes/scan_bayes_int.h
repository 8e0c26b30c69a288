/*
 * scan_bayes_int.h - private to bayes/: the tokeniser's state shared by
 * scan_bayes_tok.c (lines, words, the message) and scan_bayes_hdr.c (the
 * header fields and their pre-chewing). Not for other folders.
 */
#ifndef SCAN_BAYES_SCAN_BAYES_INT_H
#define SCAN_BAYES_SCAN_BAYES_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "base/buf.h"
#include "scan/bayes/scan_bayes.h"

#define BAYES_NRCVD 7 /* Received pre-chewing substitutions (scan_bayes_hdr.c) */

struct scan_bayes_tok {
	char **ignore; /* lower case, sorted */
	size_t nignore;
	pcre2_code *stop; /* ^(?:stop words)$ caseless, or NULL */
	pcre2_code *ignored, *presence, *oe, *exim, *mdate, *rcvd[BAYES_NRCVD], *ct_b, *ct_w;
	unsigned max_len;
};

/* One tokenisation in progress. */
struct run {
	const struct scan_bayes_tok *t;
	pcre2_match_data *md;
	uint64_t *keys;
	size_t n, cap;
	size_t region_count; /* tokens of the current region */
	struct buf tok;	     /* scratch: prefix + token */
	void (*each)(void *, const char *, size_t);
	void *ctx;
};

enum { BAYES_R_HDR, BAYES_R_BODY, BAYES_R_URI };

/* scan_bayes_tok.c */
/* A pattern of ours, compiled with JIT now; NULL if PCRE2 refuses it. */
pcre2_code *bayes_compile(const char *pat, uint32_t opts);
/* One line of text of a region, its tokens prefixed with pre. */
void bayes_tok_line(struct run *R, const char *in, size_t len, const char *pre, int region);
bool bayes_is_word(unsigned char c);
/* The parent of the domain *d (its first label dropped): false when none. */
bool bayes_parent_domain(const char **d, size_t *dl);

/* scan_bayes_hdr.c */
/* The header patterns into t: false (logged by the caller) when one does not compile. */
bool bayes_hdr_compile(struct scan_bayes_tok *t);
void bayes_hdr_free(struct scan_bayes_tok *t);
/* The header fields, the relay metadata and the last two Received fields of m. */
void bayes_tok_headers(struct run *R, const struct scan_msg *m, const struct scan_bayes_meta *meta);

#endif
