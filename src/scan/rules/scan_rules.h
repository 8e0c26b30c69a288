/*
 * scan_rules.h - the built-in spam rules engine: SpamAssassin's rule-file
 * syntax, evaluated natively with PCRE2 (JIT) against a struct scan_msg.
 *
 * A rule set is loaded once (files, directories of *.cf and *.pre read in
 * sorted order, or "builtin" for the embedded rules/mxgate-default.cf) and
 * is immutable afterwards: any number of threads may call
 * scan_rules_check() on it at the same time, each with its own result.
 *
 * Supported: header (plain, :raw, :addr, :name, exists:, ALL, ALL:raw,
 * ToCc, MESSAGEID, EnvelopeFrom, [if-unset: ...]), body, rawbody, full, uri,
 * meta (boolean and arithmetic), score (1 or 4 values: the configured score
 * set is used), describe, tflags (multiple, maxhits=N, nice, net, ...),
 * priority (parsed, ignored), if/ifplugin/else/endif, include, loadplugin
 * (present only if emulated), required_score, ReplaceTags (replace_tag,
 * replace_pre/_post/_inter, replace_rules, replace_start/_end:
 * scan_rules_replace.c). Native evals are listed in scan_rules_eval.c; any
 * other eval: rule is loaded but never hits, counted as eval_unsupported.
 * Unknown directives are counted, never errors. A pattern too large for
 * 8-bit PCRE2 is compiled for 32-bit units (same octets matched); regexes
 * PCRE2 cannot compile at all disable their rule (counted, logged at info);
 * the load does not fail because of them.
 *
 * Limits: a regex match is bounded by SCAN_RULES_MATCH_LIMIT and
 * SCAN_RULES_DEPTH_LIMIT (a rule that hits them counts as not matching
 * and is counted in result.limited); rule files up to SCAN_RULES_FILE_MAX
 * octets, SCAN_RULES_INCLUDE_DEPTH nested includes, SCAN_RULES_IF_DEPTH
 * nested if blocks.
 */
#ifndef SCAN_RULES_SCAN_RULES_H
#define SCAN_RULES_SCAN_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "scan/mime/scan_msg.h"

#define SCAN_RULES_MATCH_LIMIT 200000u	 /* pcre2_set_match_limit per match */
#define SCAN_RULES_DEPTH_LIMIT 10000u	 /* pcre2_set_depth_limit per match */
#define SCAN_RULES_FILE_MAX (16u << 20) /* one rule file */
#define SCAN_RULES_INCLUDE_DEPTH 10
#define SCAN_RULES_IF_DEPTH 64
#define SCAN_RULES_BODY_SCAN_MAX 50000u     /* octets of each body[] text body rules read */
#define SCAN_RULES_RAWBODY_SCAN_MAX 500000u /* octets of each rawbody[] text */
#define SCAN_RULES_MAXHITS_MAX 1000 /* a "multiple" rule counts at most this many hits */

struct scan_rules; /* immutable after load, shared by threads */

/* One DNSBL answer of the connecting client: zone as queried ("zen.spamhaus.org"),
 * addr the A record ("127.0.0.2"), txt the TXT record (NULL or "" when none). */
struct scan_rules_dnsbl {
	const char *zone;
	const char *addr;
	const char *txt;
};

/* What the SMTP session knows; every field may be NULL / 0. */
struct scan_rules_ctx {
	const struct scan_rules_dnsbl *dnsbl;
	size_t ndnsbl;
	const char *env_from; /* MAIL FROM address, without <> */
	/* Bayes (scan/bayes/): bayes_ready selects the score set with Bayes
	 * (enough messages learned, as SpamAssassin's is_scan_available);
	 * bayes_prob is the message's probability for check_bayes when
	 * bayes_known (none when no token was strong enough). */
	bool bayes_ready, bayes_known;
	double bayes_prob;
};

struct scan_rules_hit {
	const char *name;     /* points into the rule set */
	double score;	      /* what the rule added: its score times count */
	const char *describe; /* or "" */
	unsigned count;	      /* hits (more than 1 only with tflags multiple) */
};

struct scan_rules_result {
	double score;		    /* sum of the hits' scores */
	double required;	    /* required_score of the set (default 5.0) */
	bool spam;		    /* score >= required */
	struct scan_rules_hit *hits; /* owned; scored rules only, in rule order */
	size_t nhits;
	size_t limited; /* regex matches stopped by the match/depth limit */
	/* SpamAssassin's auto-learning points (PerMsgStatus): the hits' scores
	 * in the score set without Bayes, rules with tflags learn, noautolearn
	 * or userconf left out; head and body the header and body rules' shares
	 * (a meta's score split by its dependencies' types); learned: the
	 * tflags-learn rules' scores (BAYES_*) in the set used; force: a hit
	 * with tflags autolearn_force. */
	double al_points, al_head, al_body, al_learned;
	bool al_force;
};

struct scan_rules_opts {
	int score_set; /* 0..3: 0 no Bayes no network, 1 network, 2 Bayes, 3 both */
	bool bayes;    /* Bayes in use: the set with Bayes (score_set | 2) is kept too, and
			  used for a check whose ctx says bayes_ready */
};

/* The Bayes settings of the rule files (SpamAssassin's names and defaults). */
struct scan_rules_bayes {
	char **ignore_headers; /* bayes_ignore_header */
	size_t nignore;
	char **stopwords; /* bayes_stopword_<lang> patterns of the languages in
			     bayes_stopword_languages (default: en) */
	size_t nstopwords;
	unsigned max_token_length;	/* bayes_max_token_length: 15 */
	unsigned min_spam_num, min_ham_num; /* bayes_min_spam_num / _ham_num: 200 */
	double al_threshold_spam;	/* bayes_auto_learn_threshold_spam: 12.0 */
	double al_threshold_nonspam;	/* bayes_auto_learn_threshold_nonspam: 0.1 */
	bool al_on_error;		/* bayes_auto_learn_on_error: 0 */
	size_t expiry_max_db_size;	/* bayes_expiry_max_db_size: 150000 */
	bool auto_expire;		/* bayes_auto_expire: 1 */
};
struct scan_rules;
const struct scan_rules_bayes *scan_rules_bayes(const struct scan_rules *r);

/* The relay metadata of m as SpamAssassin puts it (X-Spam-Relays-Trusted,
 * -Untrusted), allocated; for the Bayes tokeniser. */
void scan_rules_relays_text(const struct scan_msg *m, char **trusted, char **untrusted);

/* SpamAssassin's installed rules as SpamAssassin finds them (scan_rules_sa.c):
 * the newest SCAN_RULES_SA_STATE_DIR/<version>/ holding a *.cf file (sa-update's),
 * else SCAN_RULES_SA_DEF_DIR if it holds one; then SCAN_RULES_SA_SITE_DIR if it
 * exists. root prefixes the three (NULL or "" normally; tests use a tree of
 * their own). Fills paths[] with allocated strings in load order (rules, site)
 * and returns how many: 0 when no rules are installed. */
#define SCAN_RULES_SA_STATE_DIR "/var/lib/spamassassin"
#define SCAN_RULES_SA_DEF_DIR "/usr/share/spamassassin"
#define SCAN_RULES_SA_SITE_DIR "/etc/spamassassin"
#define SCAN_RULES_SA_PATHS 2
size_t scan_rules_sa_find(const char *root, char *paths[SCAN_RULES_SA_PATHS]);

/* paths: rule files or directories; "builtin" is the embedded default set.
 * opts may be NULL (score set 0). Errors: NULL and err = "file:line: what". */
struct scan_rules *scan_rules_load(const char *const *paths, size_t n, const struct scan_rules_opts *opts,
				   char *err, size_t errlen);
/* Same from text (name is used in messages), for tests and the fuzzer. */
struct scan_rules *scan_rules_load_text(const char *name, const char *text, const struct scan_rules_opts *opts,
					char *err, size_t errlen);
void scan_rules_free(struct scan_rules **r);

struct scan_rules_stats {
	size_t rules;	       /* defined rules, enabled or not */
	size_t enabled;	       /* rules evaluated at check time */
	size_t header, body, rawbody, full, uri, meta; /* enabled, by type (eval counted in its type) */
	size_t eval_native;    /* enabled eval rules implemented here */
	size_t eval_unsupported; /* eval rules that never hit: not implemented */
	size_t bad_regex;      /* rules disabled: regex refused by PCRE2 */
	size_t meta_cycle;     /* metas disabled: part of a dependency cycle */
	size_t meta_unknown;   /* meta references to undefined rules (read as 0) */
	size_t zero_score;     /* rules disabled by a score of 0 */
	size_t skipped_plugin; /* rule lines skipped in false if/ifplugin blocks */
	size_t replaced;       /* regexes rewritten by replace_rules (ReplaceTags) */
	size_t plugins_unknown; /* loadplugin lines of plugins not emulated */
	size_t ignored;	       /* other directives, tolerated */
	size_t files;	       /* files read */
	double required;       /* required_score */
};
void scan_rules_stats(const struct scan_rules *r, struct scan_rules_stats *out);
/* The name of the first unsupported eval function (for reports), or NULL;
 * i-th distinct one in load order. */
const char *scan_rules_unsupported_eval(const struct scan_rules *r, size_t i, size_t *nrules);

/* Score m. c may be NULL. Returns 0; out must be released with
 * scan_rules_result_fini(). */
int scan_rules_check(const struct scan_rules *r, const struct scan_msg *m, const struct scan_rules_ctx *c,
		     struct scan_rules_result *out);
void scan_rules_result_fini(struct scan_rules_result *out);

#endif
