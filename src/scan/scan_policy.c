/*
 * scan_policy.c - struct scan_policy from its configured values.
 *
 * Checks what scan_actions_parse() cannot see alone: reject only when the
 * scan runs before the queue (after the 250 a refusal would be a bounce to
 * a forged sender: backscatter). Pure; the strings of the conf are
 * borrowed by the policy, the parsed action lists are owned.
 */
#include "scan/scan_policy.h"

#include <stdio.h>
#include <string.h>

static const char *const keys[SCAN_NCAT] = { "clean_actions",	  "blocklisted_actions", "spam_actions",
					     "high_spam_actions", "unscannable_actions", "virus_actions" };

const char *scan_policy_key(enum scan_cat c)
{
	return (unsigned)c < SCAN_NCAT ? keys[c] : "?";
}

int scan_policy_build(const struct scan_policy_conf *pc, struct scan_policy *p, char *err, size_t errlen)
{
	memset(p, 0, sizeof *p);
	for (int i = 0; i < SCAN_NCAT; i++) {
		char why[300];
		if (scan_actions_parse(pc->actions[i] ? pc->actions[i] : "", &p->act[i], why, sizeof why) < 0) {
			snprintf(err, errlen, "%s: %s", keys[i], why);
			return -1;
		}
		if ((p->act[i].flags & SCAN_ACT_REJECT) && !pc->before_queue) {
			snprintf(err, errlen,
				 "%s: reject needs scan_stage = before-queue (after the 250 a refusal is a bounce to a "
				 "forged sender: backscatter)",
				 keys[i]);
			return -1;
		}
	}
	p->tag[SCAN_CLEAN] = "";
	for (int i = SCAN_CLEAN + 1; i < SCAN_NCAT; i++)
		p->tag[i] = pc->tag[i] ? pc->tag[i] : "";
	p->tag_subject = pc->tag_subject;
	p->tag_at_end = pc->tag_at_end;
	p->header_prefix = pc->header_prefix ? pc->header_prefix : "X-mxgate";
	p->spam_prefix = pc->spam_prefix ? pc->spam_prefix : "X-Spam";
	p->headers_on_clean = pc->headers_on_clean;
	p->hostname = pc->hostname ? pc->hostname : "localhost";
	return 0;
}

void scan_policy_fini(struct scan_policy *p)
{
	for (int i = 0; i < SCAN_NCAT; i++)
		scan_actions_fini(&p->act[i]);
}
