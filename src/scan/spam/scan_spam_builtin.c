/*
 * scan_spam_builtin.c - the built-in rules engine (rules/) as a spam back
 * end: open() loads the spam_rules files once (the compiled set is then
 * shared read-only by every thread), check() scores the parsed message
 * with the client's DNSBL answers and the envelope sender, and calls it
 * spam from spam_threshold on (the set's own required_score is not used).
 * The hits come back in rule order, unsorted and not capped. Reads no
 * socket and has no size limit (the engine's spam_max_size is applied
 * before any back end is called).
 *
 * Bayes (use_bayes): the message's tokens (scan/bayes/) looked up in the
 * store at bayes_path, mapped read-only and mapped again when a commit
 * replaced the file (checked at most once a second); with enough messages
 * learned (bayes_min_spam_num, bayes_min_ham_num) the score set with Bayes
 * is used and check_bayes sees the probability. A store that cannot be
 * read is logged (once a minute) and the message scored without Bayes.
 * The result says what SpamAssassin's auto-learning would learn (its
 * AutoLearnThreshold discriminator).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "scan/bayes/scan_bayes.h"
#include "scan/rules/scan_rules.h"
#include "scan/spam/scan_spam_int.h"

#define RULE_PATHS_MAX 64

struct builtin {
	struct scan_rules *rules;
	double threshold;
	/* Bayes: the tokeniser and the store's current version (per process:
	 * each scanner maps its own after the fork) */
	struct scan_bayes_tok *tok;
	char *bayes_path;
	pthread_mutex_t mu;
	struct scan_bayes_view *view;
	int64_t view_checked_us, err_logged_us;
};

#define VIEW_CHECK_US 1000000  /* a new store version is seen within a second */
#define ERR_LOG_US 60000000    /* a store that cannot be read: logged once a minute */

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

struct scan_rules *scan_spam_builtin_rules(const char *spam_rules, bool bayes, char *err, size_t errlen)
{
	char *paths[RULE_PATHS_MAX];
	size_t n = rule_paths(spam_rules, paths);
	struct scan_rules_opts ro = { .score_set = 0, .bayes = bayes };
	struct scan_rules *rules = scan_rules_load((const char *const *)paths, n, &ro, err, errlen);
	for (size_t i = 0; i < n; i++)
		xfree(paths[i]);
	return rules;
}

static void *builtin_open(const char *spec, const struct scan_spam_opts *o, char *err, size_t errlen)
{
	(void)spec;
	struct scan_rules *rules = scan_spam_builtin_rules(o->rules, o->use_bayes, err, errlen);
	if (!rules)
		return NULL;
	struct builtin *b = xcalloc(1, sizeof *b);
	b->rules = rules;
	b->threshold = o->threshold;
	pthread_mutex_init(&b->mu, NULL);
	if (o->use_bayes) {
		b->tok = scan_bayes_tok_for(rules, err, errlen);
		if (!b->tok) {
			scan_rules_free(&b->rules);
			pthread_mutex_destroy(&b->mu);
			xfree(b);
			return NULL;
		}
		b->bayes_path = xstrdup(o->bayes_path && o->bayes_path[0] ? o->bayes_path : "/var/lib/mxgate/bayes");
	}
	return b;
}

/* The store's current version, mapped again after a commit; NULL (logged
 * now and then) when it cannot be read. Called with b->mu held. */
static struct scan_bayes_view *current_view(struct builtin *b)
{
	int64_t now = clock_mono_us();
	if (b->view && now - b->view_checked_us < VIEW_CHECK_US)
		return b->view;
	b->view_checked_us = now;
	if (b->view && !scan_bayes_view_stale(b->view, b->bayes_path))
		return b->view;
	char err[300];
	struct scan_bayes_view *v;
	if (scan_bayes_view_open(b->bayes_path, &v, err, sizeof err) < 0) {
		if (!b->err_logged_us || now - b->err_logged_us >= ERR_LOG_US) {
			log_warn("event=bayes_unavailable reason=\"%s\" effect=\"scored without Bayes\"", err);
			b->err_logged_us = now;
		}
		return b->view; /* the last good version, if any */
	}
	scan_bayes_view_close(&b->view);
	b->view = v;
	return v;
}

/* Tokens (into res, for learning), store, probability into ctx
 * (bayes_ready, bayes_known, bayes_prob). */
static void bayes_step(struct builtin *b, const struct scan_msg *m, struct scan_rules_ctx *ctx,
		       struct scan_spam_res *res)
{
	const struct scan_rules_bayes *cf = scan_rules_bayes(b->rules);
	res->nlearn = scan_bayes_message_tokens(b->tok, m, &res->learn_keys);
	res->learn_key = scan_bayes_msg_key(m);
	res->learn_expiry = cf->auto_expire && cf->expiry_max_db_size <= UINT32_MAX ? (uint32_t)cf->expiry_max_db_size : 0;
	pthread_mutex_lock(&b->mu);
	struct scan_bayes_view *v = current_view(b);
	struct scan_bayes_counts c;
	scan_bayes_view_counts(v, &c);
	if (v && c.nspam >= cf->min_spam_num && c.nham >= cf->min_ham_num && c.nspam && c.nham) {
		ctx->bayes_ready = true;
		struct scan_bayes_score sc;
		scan_bayes_classify(v, res->learn_keys, res->nlearn, &sc);
		if (sc.prob >= 0) {
			ctx->bayes_known = true;
			ctx->bayes_prob = sc.prob;
		}
		scan_bayes_score_fini(&sc);
	}
	pthread_mutex_unlock(&b->mu);
}

/* SpamAssassin's AutoLearnThreshold: 1 spam, -1 ham, 0 neither. */
static int autolearn(const struct builtin *b, const struct scan_rules_result *rr, bool is_spam)
{
	const struct scan_rules_bayes *cf = scan_rules_bayes(b->rules);
	double pts = (double)(long long)(rr->al_points * 1000.0 + (rr->al_points >= 0 ? 0.5 : -0.5)) / 1000.0;
	bool hit99 = false, hit00 = false;
	for (size_t i = 0; i < rr->nhits; i++) {
		hit99 |= strcmp(rr->hits[i].name, "BAYES_99") == 0;
		hit00 |= strcmp(rr->hits[i].name, "BAYES_00") == 0;
	}
	if (pts < cf->al_threshold_nonspam) {
		if (rr->al_learned > 1.0 || is_spam || (cf->al_on_error && hit00))
			return 0;
		return -1;
	}
	if (pts < cf->al_threshold_spam)
		return 0;
	double need = rr->al_force ? -99 : 3;
	if (rr->al_body < need || rr->al_head < need || rr->al_learned < -1.0 || !is_spam ||
	    (cf->al_on_error && hit99))
		return 0;
	return 1;
}

static int builtin_check(void *state, const struct scan_spam_req *q, struct scan_spam_res *res)
{
	struct builtin *b = state; /* only the Bayes view changes, under b->mu */
	memset(res, 0, sizeof *res);
	struct scan_rules_ctx ctx = { .dnsbl = q->dnsbl, .ndnsbl = q->ndnsbl, .env_from = q->env_from };
	if (b->tok)
		bayes_step(b, q->msg, &ctx, res);
	struct scan_rules_result rr;
	if (scan_rules_check(b->rules, q->msg, &ctx, &rr) < 0) {
		snprintf(res->err, sizeof res->err, "rules: check failed");
		scan_spam_res_fini(res);
		return -1;
	}
	res->score = rr.score;
	res->required = b->threshold;
	res->is_spam = rr.score >= b->threshold;
	res->bayes_known = ctx.bayes_known;
	res->bayes_prob = ctx.bayes_prob;
	if (b->tok)
		res->autolearn = autolearn(b, &rr, res->is_spam);
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
	if (b->tok)
		buf_printf(out, " bayes=%s", b->bayes_path);
	else
		buf_puts(out, " bayes=off");
}

static void builtin_close(void *state)
{
	struct builtin *b = state;
	scan_rules_free(&b->rules);
	scan_bayes_tok_free(&b->tok);
	scan_bayes_view_close(&b->view);
	xfree(b->bayes_path);
	pthread_mutex_destroy(&b->mu);
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
