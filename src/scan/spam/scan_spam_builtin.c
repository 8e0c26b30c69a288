/*
 * scan_spam_builtin.c - the built-in rules engine (rules/) as a spam back
 * end: open() loads the spam_rules files once (the compiled set is then
 * shared read-only by every thread), check() scores the parsed message
 * with the client's DNSBL answers and the envelope sender, and calls it
 * spam from spam_threshold on (the set's own required_score is not used).
 * The hits come back in rule order, unsorted and not capped. Reads no
 * socket and has no size limit (the engine's spam_max_size is applied
 * before any back end is called).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "scan/rules/scan_rules.h"
#include "scan/spam/scan_spam_int.h"

#define RULE_PATHS_MAX 64

struct builtin {
	struct scan_rules *rules;
	double threshold;
};

/* The spam_rules list with each "spamassassin" replaced by SpamAssassin's
 * installed rules (scan_rules_sa_find), or by "builtin" with a warning when
 * there are none. paths[] takes allocated strings; returns their number. */
static size_t rule_paths(const char *spec, char *paths[RULE_PATHS_MAX])
{
	char *copy = xstrdup(spec && spec[0] ? spec : "builtin");
	char *tok[RULE_PATHS_MAX];
	size_t ntok = str_split(copy, " \t,", tok, RULE_PATHS_MAX), n = 0;
	for (size_t i = 0; i < ntok && n < RULE_PATHS_MAX; i++) {
		if (strcmp(tok[i], "spamassassin") != 0) {
			paths[n++] = xstrdup(tok[i]);
			continue;
		}
		/* tests point this at a tree of their own (no rules installed, an sa-update layout) */
		const char *root = getenv("MXGATE_TEST_SA_ROOT");
		char *sa[SCAN_RULES_SA_PATHS];
		size_t k = scan_rules_sa_find(root, sa);
		if (k == 0) {
			log_warn("event=spam_rules_fallback rules=builtin reason=\"no SpamAssassin rules installed "
				 "(%s/<version>, %s): the shipped 24-rule set is used; install Debian's spamassassin "
				 "package or set spam_rules\"",
				 SCAN_RULES_SA_STATE_DIR, SCAN_RULES_SA_DEF_DIR);
			paths[n++] = xstrdup("builtin");
			continue;
		}
		log_info("event=spam_rules_found rules=%s site=%s", sa[0], k > 1 ? sa[1] : "none");
		for (size_t j = 0; j < k; j++) {
			if (n < RULE_PATHS_MAX)
				paths[n++] = sa[j];
			else
				xfree(sa[j]);
		}
	}
	xfree(copy);
	return n;
}

static void *builtin_open(const char *spec, const struct scan_spam_opts *o, char *err, size_t errlen)
{
	(void)spec;
	char *paths[RULE_PATHS_MAX];
	size_t n = rule_paths(o->rules, paths);
	struct scan_rules_opts ro = { .score_set = 0 };
	struct scan_rules *rules = scan_rules_load((const char *const *)paths, n, &ro, err, errlen);
	for (size_t i = 0; i < n; i++)
		xfree(paths[i]);
	if (!rules)
		return NULL;
	struct builtin *b = xcalloc(1, sizeof *b);
	b->rules = rules;
	b->threshold = o->threshold;
	return b;
}

static int builtin_check(void *state, const struct scan_spam_req *q, struct scan_spam_res *res)
{
	const struct builtin *b = state;
	memset(res, 0, sizeof *res);
	struct scan_rules_ctx ctx = { .dnsbl = q->dnsbl, .ndnsbl = q->ndnsbl, .env_from = q->env_from };
	struct scan_rules_result rr;
	if (scan_rules_check(b->rules, q->msg, &ctx, &rr) < 0) {
		snprintf(res->err, sizeof res->err, "rules: check failed");
		return -1;
	}
	res->score = rr.score;
	res->required = b->threshold;
	res->is_spam = rr.score >= b->threshold;
	res->symbols = xcalloc(rr.nhits ? rr.nhits : 1, sizeof *res->symbols);
	for (size_t i = 0; i < rr.nhits; i++)
		res->symbols[res->nsymbols++] = xstrdup(rr.hits[i].name);
	scan_rules_result_fini(&rr);
	return 0;
}

static void builtin_describe(const void *state, struct buf *out)
{
	const struct builtin *b = state;
	struct scan_rules_stats s;
	scan_rules_stats(b->rules, &s);
	buf_printf(out,
		   "builtin rules=%zu enabled=%zu header=%zu body=%zu rawbody=%zu full=%zu uri=%zu meta=%zu "
		   "eval_native=%zu eval_unsupported=%zu bad_regex=%zu files=%zu",
		   s.rules, s.enabled, s.header, s.body, s.rawbody, s.full, s.uri, s.meta, s.eval_native,
		   s.eval_unsupported, s.bad_regex, s.files);
}

static void builtin_close(void *state)
{
	struct builtin *b = state;
	scan_rules_free(&b->rules);
	xfree(b);
}

const struct scan_spam_backend scan_spam_builtin_backend = {
	.name = "builtin",
	.spec = "builtin",
	.conf_key = "spam_rules",
	.open = builtin_open,
	.check = builtin_check,
	.describe = builtin_describe,
	.close = builtin_close,
};
