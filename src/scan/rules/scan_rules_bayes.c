/*
 * scan_rules_bayes.c - what the rule files say about Bayes, and the
 * auto-learning points of a check.
 *
 * Settings kept (SpamAssassin's names and defaults): bayes_ignore_header,
 * bayes_stopword_<lang> with bayes_stopword_languages (default en),
 * bayes_max_token_length, bayes_min_spam_num, bayes_min_ham_num,
 * bayes_auto_learn_threshold_spam / _nonspam, bayes_auto_learn_on_error,
 * bayes_expiry_max_db_size, bayes_auto_expire. Other bayes_* settings
 * (paths, SQL and Redis stores of SpamAssassin, use_bayes itself: mxgate's
 * main.cf decides) are tolerated and counted as ignored.
 *
 * Auto-learning points follow PerMsgStatus::_get_autolearn_points: every
 * hit except tflags noautolearn/userconf, learn rules counted apart, the
 * scores of the set without Bayes, header and body shares (a meta split in
 * proportion to the header and body rules among its dependencies, read
 * recursively), autolearn_force noted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/str.h"
#include "base/xalloc.h"
#include "scan/rules/scan_rules_int.h"

void rules_bayes_init(struct scan_rules *s)
{
	struct scan_rules_bayes *b = &s->bayes;
	b->max_token_length = 15;
	b->min_spam_num = 200;
	b->min_ham_num = 200;
	b->al_threshold_spam = 12.0;
	b->al_threshold_nonspam = 0.1;
	b->expiry_max_db_size = 150000;
	b->auto_expire = true;
}

static void push(char ***v, size_t *n, const char *s)
{
	*v = xrealloc(*v, (*n + 2) * sizeof **v);
	(*v)[(*n)++] = xstrdup(s);
	(*v)[*n] = NULL;
}

static int num(const char *key, const char *v, double *out, char *why, size_t whylen)
{
	char *end;
	double d = strtod(v, &end);
	if (end == v || *str_trim(end) || d != d) {
		snprintf(why, whylen, "%s: \"%s\" is not a number", key, v);
		return -1;
	}
	*out = d;
	return 0;
}

bool rules_bayes_directive(struct scan_rules *s, const char *key, char *rest, char *why, size_t whylen)
{
	struct scan_rules_bayes *b = &s->bayes;
	double d;
	if (strcmp(key, "bayes_ignore_header") == 0) {
		if (*rest)
			push(&b->ignore_headers, &b->nignore, rest);
		return true;
	}
	if (strncmp(key, "bayes_stopword_", 15) == 0 && strcmp(key, "bayes_stopword_languages") != 0) {
		const char *lang = key + 15;
		if (strlen(lang) != 2) {
			snprintf(why, whylen, "%s: a language is two letters", key);
			return true;
		}
		/* several patterns on the line: the last one counts, as there */
		char *w[64];
		size_t n = str_split(rest, " \t", w, 64);
		if (n) {
			push(&s->stop_lang, &s->nstop, lang);
			s->nstop--;
			push(&s->stop_re, &s->nstop, w[n - 1]);
		}
		return true;
	}
	if (strcmp(key, "bayes_stopword_languages") == 0) {
		for (size_t i = 0; i < s->nstop_use; i++)
			xfree(s->stop_use[i]);
		xfree(s->stop_use);
		s->stop_use = NULL;
		s->nstop_use = 0;
		if (strcmp(rest, "disable") == 0) {
			push(&s->stop_use, &s->nstop_use, "");
			return true;
		}
		char *w[32];
		size_t n = str_split(rest, " \t,", w, 32);
		for (size_t i = 0; i < n; i++)
			if (w[i][0])
				push(&s->stop_use, &s->nstop_use, w[i]);
		return true;
	}
	struct {
		const char *key;
		int kind; /* 0 unsigned, 1 double, 2 bool, 3 size */
		void *dst;
	} nums[] = {
		{ "bayes_max_token_length", 0, &b->max_token_length },
		{ "bayes_min_spam_num", 0, &b->min_spam_num },
		{ "bayes_min_ham_num", 0, &b->min_ham_num },
		{ "bayes_auto_learn_threshold_spam", 1, &b->al_threshold_spam },
		{ "bayes_auto_learn_threshold_nonspam", 1, &b->al_threshold_nonspam },
		{ "bayes_auto_learn_on_error", 2, &b->al_on_error },
		{ "bayes_expiry_max_db_size", 3, &b->expiry_max_db_size },
		{ "bayes_auto_expire", 2, &b->auto_expire },
	};
	for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
		if (strcmp(key, nums[i].key) != 0)
			continue;
		if (num(key, rest, &d, why, whylen) < 0)
			return true;
		if (nums[i].kind != 1 && (d < 0 || d > 1e9)) {
			snprintf(why, whylen, "%s: %s is out of range", key, rest);
			return true;
		}
		if (nums[i].kind == 0)
			*(unsigned *)nums[i].dst = (unsigned)d;
		else if (nums[i].kind == 1)
			*(double *)nums[i].dst = d;
		else if (nums[i].kind == 2)
			*(bool *)nums[i].dst = d != 0;
		else
			*(size_t *)nums[i].dst = (size_t)d;
		return true;
	}
	return false; /* not one of ours: counted as ignored */
}

void rules_bayes_finish(struct scan_rules *s)
{
	struct scan_rules_bayes *b = &s->bayes;
	const char *dflt[] = { "en" };
	const char *const *use = s->stop_use ? (const char *const *)s->stop_use : dflt;
	size_t nuse = s->stop_use ? s->nstop_use : 1;
	for (size_t i = 0; i < nuse; i++) {
		const char *re = NULL;
		for (size_t k = 0; k < s->nstop; k++)
			if (str_caseeq(s->stop_lang[k], use[i]))
				re = s->stop_re[k]; /* the last definition */
		if (re)
			push(&b->stopwords, &b->nstopwords, re);
	}
}

void rules_bayes_free(struct scan_rules *s)
{
	char ***lists[] = { &s->bayes.ignore_headers, &s->bayes.stopwords, &s->stop_lang, &s->stop_re, &s->stop_use };
	size_t ns[] = { s->bayes.nignore, s->bayes.nstopwords, s->nstop, s->nstop, s->nstop_use };
	for (size_t l = 0; l < 5; l++) {
		for (size_t i = 0; i < ns[l]; i++)
			xfree((*lists[l])[i]);
		xfree(*lists[l]);
		*lists[l] = NULL;
	}
}

const struct scan_rules_bayes *scan_rules_bayes(const struct scan_rules *r)
{
	return &r->bayes;
}

void scan_rules_relays_text(const struct scan_msg *m, char **trusted, char **untrusted)
{
	struct rules_relays rl;
	rules_relays_parse(m, &rl);
	*trusted = xstrdup(rl.trusted ? rl.trusted : "");
	*untrusted = xstrdup(rl.untrusted ? rl.untrusted : "");
	rules_relays_free(&rl);
}

enum al_type { AL_NONE, AL_HEAD, AL_BODY, AL_META };

static enum al_type al_type(const struct rule *r)
{
	switch (r->type) {
	case RT_HEADER:
	case RT_MIMEHEADER:
		return AL_HEAD;
	case RT_BODY:
	case RT_RAWBODY:
	case RT_URI:
		return AL_BODY;
	case RT_META:
		return AL_META;
	default:
		return AL_NONE; /* full rules count in neither */
	}
}

/* Header and body rules among the dependencies of meta i, read recursively. */
static void meta_deps(const struct scan_rules *s, size_t i, bool *seen, size_t *head, size_t *body)
{
	const struct rule *r = &s->rules[i];
	for (size_t k = 0; k < r->nmeta; k++) {
		if (r->meta[k].op != MO_RULE)
			continue;
		size_t d = r->meta[k].arg;
		if (seen[d])
			continue;
		seen[d] = true;
		enum al_type t = al_type(&s->rules[d]);
		if (t == AL_HEAD)
			(*head)++;
		else if (t == AL_BODY)
			(*body)++;
		else if (t == AL_META)
			meta_deps(s, d, seen, head, body);
	}
}

void rules_autolearn(const struct scan_rules *s, const unsigned *hits, bool bayes_ready,
		     struct scan_rules_result *out)
{
	bool *seen = NULL;
	for (size_t i = 0; i < s->nrules; i++) {
		const struct rule *r = &s->rules[i];
		if (!hits[i] || !r->enabled || strncmp(r->name, "__", 2) == 0)
			continue;
		if (r->tflags & (TF_NOAUTOLEARN | TF_USERCONF))
			continue;
		if (r->tflags & TF_LEARN) {
			out->al_learned += bayes_ready ? r->score_b : r->score;
			continue;
		}
		if (r->tflags & TF_AUTOLEARN_FORCE)
			out->al_force = true;
		double sc = r->score_al;
		if (sc == 0)
			continue;
		enum al_type t = al_type(r);
		if (r->tflags & TF_AUTOLEARN_HEADER)
			t = AL_HEAD;
		else if (r->tflags & TF_AUTOLEARN_BODY)
			t = AL_BODY;
		if (t == AL_HEAD)
			out->al_head += sc;
		else if (t == AL_BODY)
			out->al_body += sc;
		else if (t == AL_META) {
			if (!seen)
				seen = xcalloc(s->nrules + 1, sizeof *seen);
			else
				memset(seen, 0, (s->nrules + 1) * sizeof *seen);
			size_t h = 0, b = 0;
			meta_deps(s, i, seen, &h, &b);
			if (h + b) { /* SpamAssassin rounds each share to 3 decimals */
				out->al_head += (double)(long long)(sc * (double)h / (double)(h + b) * 1000.0 +
								     (sc >= 0 ? 0.5 : -0.5)) / 1000.0;
				out->al_body += (double)(long long)(sc * (double)b / (double)(h + b) * 1000.0 +
								     (sc >= 0 ? 0.5 : -0.5)) / 1000.0;
			}
		}
		out->al_points += sc;
	}
	xfree(seen);
}
