/*
 * scan_bayes.h - SpamAssassin's Bayes classifier: its tokeniser, its
 * probability per token (Robinson's f(w) with s = 0.030, x = 0.538) and
 * its chi-square combining of the 150 strongest tokens, over a token store
 * of our own (a file; see below).
 *
 * Tokens (scan_bayes_tokenize) follow Mail::SpamAssassin::Plugin::Bayes
 * of SpamAssassin 4: the rendered body lines (region "body"), the URIs
 * ("uri"), the header fields less the ignored ones (built-in list plus
 * the rule files' bayes_ignore_header) with its pre-chewing of Message-Id,
 * address fields, Received (the last two), Content-Type and MIME-Version,
 * the relay metadata (X-Spam-Relays-*), "H<name>:" prefixes and its header
 * name compression; the English stop list (bayes_stopword_en of the rule
 * files); long tokens as "sk:" skips or "u8:" characters; "UD:", "U*",
 * "D*", "N*" address and domain tokens; lower-cased and stripped variants
 * of body tokens. Each token is kept as the first 8 octets of its SHA-1.
 * Not tokenised (yet): invisible HTML text ("I*:" tokens: the MIME layer
 * does not keep it apart) and MIME part digests (off by default in
 * SpamAssassin too).
 *
 * The store (scan_bayes_db_*): one file, written whole and renamed into
 * place, so a reader maps a consistent version read-only (the scanners
 * map it; a reader sees a new version when it reopens). Layout, native
 * byte order: a 64-octet header (magic "MXBAYES1", counts), an open
 * addressing table of tokens {key, spam count, ham count, last seen}
 * and one of learned messages {key, spam|ham}, each a power of two at
 * most half full. Writers (mxgate learn, the gateway's learner) take an
 * exclusive lock on PATH.lock, load the file, change it in memory and
 * commit: a temporary file, fsync, rename, directory fsync.
 */
#ifndef SCAN_BAYES_SCAN_BAYES_H
#define SCAN_BAYES_SCAN_BAYES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct scan_msg;

#define SCAN_BAYES_N_SIGNIFICANT 150	  /* strongest tokens combined */
#define SCAN_BAYES_MIN_PROB_STRENGTH 0.346 /* |p - 0.5| below this: ignored */
#define SCAN_BAYES_MAX_TOKENS 70000	  /* tokens of one message (50000 body, 10000 uri, 10000 header) */
#define SCAN_BAYES_DB_MAX_TOKENS (16u << 20) /* a store file refuses more (about 400 MiB) */
#define SCAN_BAYES_EXPIRY_MIN_AGE 43200u     /* seconds: tokens this close to the newest never expire */

/* ------------------------------------------------------------ tokeniser */

struct scan_bayes_tok; /* immutable after creation, shared by threads */

/* ignore: header names not tokenised (bayes_ignore_header values, any
 * case); stopwords: the bayes_stopword_en pattern(s) (NULL: none);
 * max_len: bayes_max_token_length (15). Compiles every pattern now (with
 * JIT): create it before a sandbox forbids executable memory. NULL with
 * err when a stop-word pattern does not compile. */
struct scan_bayes_tok *scan_bayes_tok_new(const char *const *ignore, size_t nignore, const char *const *stopwords,
					  size_t nstop, unsigned max_len, char *err, size_t errlen);
void scan_bayes_tok_free(struct scan_bayes_tok **t);

/* The relay metadata SpamAssassin tokenises with the headers: the
 * X-Spam-Relays-Trusted and -Untrusted texts (NULL: none). */
struct scan_bayes_meta {
	const char *relays_trusted, *relays_untrusted;
};

/* The tokens of m: sorted, distinct keys (allocated into *keys, free()
 * with xfree), their number returned. each, when not NULL, is called with
 * every token's text before hashing (duplicates included): for tests and
 * "mxgate learn --tokens". */
size_t scan_bayes_tokenize(const struct scan_bayes_tok *t, const struct scan_msg *m,
			   const struct scan_bayes_meta *meta, uint64_t **keys,
			   void (*each)(void *ctx, const char *tok, size_t len), void *ctx);
/* The key of one token text. */
uint64_t scan_bayes_key(const char *tok, size_t len);
/* The key under which a message is remembered as learned: the Message-ID
 * field's value, else the body's digest. */
uint64_t scan_bayes_msg_key(const struct scan_msg *m);

/* The tokeniser a rule set asks for (its bayes_ignore_header,
 * bayes_stopword_* and bayes_max_token_length). */
struct scan_rules;
struct scan_bayes_tok *scan_bayes_tok_for(const struct scan_rules *r, char *err, size_t errlen);
/* The tokens of m with its relay metadata (the rules engine's Received
 * parser), as scan_bayes_tokenize(). */
size_t scan_bayes_message_tokens(const struct scan_bayes_tok *t, const struct scan_msg *m, uint64_t **keys);

/* ------------------------------------------------------------ store */

struct scan_bayes_counts {
	uint64_t nspam, nham; /* messages learned */
	uint64_t ntokens;     /* tokens stored */
	uint64_t nseen;	      /* messages remembered */
	uint32_t newest;      /* newest token time (seconds since the epoch) */
	uint32_t last_expire; /* 0: never */
};

/* A read-only mapped version (scanners). */
struct scan_bayes_view;
/* 0 with *out (an empty view when the file does not exist: counts 0), or
 * -1 with err (unreadable, not a store, damaged). */
int scan_bayes_view_open(const char *path, struct scan_bayes_view **out, char *err, size_t errlen);
/* Whether path now names another file than the one mapped (a commit
 * since): the caller reopens. */
bool scan_bayes_view_stale(const struct scan_bayes_view *v, const char *path);
void scan_bayes_view_close(struct scan_bayes_view **v);
void scan_bayes_view_counts(const struct scan_bayes_view *v, struct scan_bayes_counts *c);
/* Spam and ham counts of a token: false when unknown. */
bool scan_bayes_view_get(const struct scan_bayes_view *v, uint64_t key, uint32_t *spam, uint32_t *ham);

/* A writable copy under the lock. */
struct scan_bayes_store;
/* Lock PATH.lock (waits at most wait_ms; -1 with "locked" in err after
 * that) and load PATH (a new store when it does not exist; its directory
 * is created, 0755, when missing). */
int scan_bayes_store_open(const char *path, int wait_ms, struct scan_bayes_store **out, char *err, size_t errlen);
/* Learn one message: 1 learned, 0 already learned as that class (nothing
 * done), 2 learned after forgetting it as the other class. now: seconds. */
int scan_bayes_store_learn(struct scan_bayes_store *st, uint64_t msg_key, bool spam, const uint64_t *keys, size_t n,
			   uint32_t now);
/* Forget a learned message: 1 forgotten, 0 it was not learned. */
int scan_bayes_store_forget(struct scan_bayes_store *st, uint64_t msg_key, const uint64_t *keys, size_t n);
/* Mark tokens as seen at now (the atime SpamAssassin touches on a scan). */
void scan_bayes_store_touch(struct scan_bayes_store *st, const uint64_t *keys, size_t n, uint32_t now);
/* Token expiry as bayes_expiry_max_db_size asks: when more than max
 * tokens are stored, keep the max * 3/4 most recently seen (ties at the
 * cut kept), and every token seen within SCAN_BAYES_EXPIRY_MIN_AGE (12 h)
 * of the newest one. Returns the number removed. */
size_t scan_bayes_store_expire(struct scan_bayes_store *st, size_t max, uint32_t now);
void scan_bayes_store_counts(const struct scan_bayes_store *st, struct scan_bayes_counts *c);
/* Write the store (only what changed is not tracked: the whole file) and
 * keep it open. 0, or -1 with err (the old file stays). */
int scan_bayes_store_commit(struct scan_bayes_store *st, char *err, size_t errlen);
/* Release the lock (uncommitted changes are lost). */
void scan_bayes_store_close(struct scan_bayes_store **st);

/* One message to learn or forget (scan_bayes_learn_batch). */
struct scan_bayes_item {
	uint64_t msg_key;
	const uint64_t *keys;
	size_t nkeys;
	int cls; /* 1 spam, 0 ham, -1 forget */
};
/* The whole write in one call (blocking: a worker thread, or a command):
 * open under the lock (waiting at most wait_ms), learn or forget each item (results[i]: what
 * scan_bayes_store_learn/_forget returned; results may be NULL), expire
 * over expiry_max tokens (0: never), commit. 0 with *after (may be NULL),
 * or -1 with err and nothing written. */
int scan_bayes_learn_batch(const char *path, const struct scan_bayes_item *items, size_t n, size_t expiry_max,
			   uint32_t now, int wait_ms, int *results, struct scan_bayes_counts *after, char *err,
			   size_t errlen);

/* ------------------------------------------------------------ classifier */

struct scan_bayes_score {
	double prob;	  /* spam probability, or -1: none (too few learned, no known token) */
	size_t ntokens;	  /* the message's tokens */
	size_t nlearned;  /* of them known to the store */
	size_t nused;	  /* combined (strong enough, at most SCAN_BAYES_N_SIGNIFICANT) */
	uint64_t *used;	  /* their keys (allocated; the tokens a scan "touches") */
};

/* SpamAssassin's scan(): probability of each known token from the store's
 * message counts, the strongest 150 of at least MIN_PROB_STRENGTH,
 * chi-square combined. prob -1 when nspam or nham is 0 or no token is
 * strong. The caller checks bayes_min_spam_num / _ham_num first. */
void scan_bayes_classify(const struct scan_bayes_view *v, const uint64_t *keys, size_t n,
			 struct scan_bayes_score *out);
void scan_bayes_score_fini(struct scan_bayes_score *s);
/* The pieces, for tests: a token's probability (-1: unknown) and the
 * combiner over probabilities. */
double scan_bayes_token_prob(uint64_t nspam, uint64_t nham, uint32_t s, uint32_t h);
double scan_bayes_combine(uint64_t nspam, uint64_t nham, const double *probs, size_t n);

#endif
