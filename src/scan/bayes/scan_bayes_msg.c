/*
 * scan_bayes_msg.c - the tokeniser of a rule set and a message's tokens
 * with SpamAssassin's relay metadata: where Bayes meets the rules engine
 * (which reads the settings and parses the Received fields).
 */
#include <stdlib.h>

#include "base/xalloc.h"
#include "scan/bayes/scan_bayes.h"
#include "scan/rules/scan_rules.h"

struct scan_bayes_tok *scan_bayes_tok_for(const struct scan_rules *r, char *err, size_t errlen)
{
	const struct scan_rules_bayes *b = scan_rules_bayes(r);
	return scan_bayes_tok_new((const char *const *)b->ignore_headers, b->nignore,
				  (const char *const *)b->stopwords, b->nstopwords, b->max_token_length, err, errlen);
}

size_t scan_bayes_message_tokens(const struct scan_bayes_tok *t, const struct scan_msg *m, uint64_t **keys)
{
	char *tr, *un;
	scan_rules_relays_text(m, &tr, &un);
	struct scan_bayes_meta meta = { .relays_trusted = tr, .relays_untrusted = un };
	size_t n = scan_bayes_tokenize(t, m, &meta, keys, NULL, NULL);
	xfree(tr);
	xfree(un);
	return n;
}
