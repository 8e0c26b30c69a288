/*
 * scan_policy.h - the scanning settings as plain values, and the policy
 * (struct scan_policy, scan.h) built from them.
 *
 * The gateway turns its configuration into these (gw's configuration
 * translator); the scanner supervisor receives the same values over its
 * socket (scan/proc) and builds the same engine and policy from them, so
 * both processes agree on what a verdict leads to.
 */
#ifndef SCAN_SCAN_POLICY_H
#define SCAN_SCAN_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "scan/scan.h"

/* The policy's inputs: the category action lists and tags as configured. */
struct scan_policy_conf {
	const char *actions[SCAN_NCAT]; /* "deliver tag", ... (clean_actions ... virus_actions) */
	const char *tag[SCAN_NCAT];	/* Subject tags; [SCAN_CLEAN] unused */
	bool tag_subject, tag_at_end, headers_on_clean;
	bool before_queue;	    /* scan_stage = before-queue: reject is allowed */
	const char *header_prefix;  /* scan_header_prefix */
	const char *spam_prefix;    /* spam_header_prefix */
	const char *hostname;	    /* myhostname */
};

/* The configuration key of each category's action list ("virus_actions"). */
const char *scan_policy_key(enum scan_cat c);
/* Build p from pc (strings borrowed from pc, action lists parsed and
 * owned). 0, or -1 with "key: reason" in err (an unknown action, reject
 * without before_queue). p is initialised either way: scan_policy_fini. */
int scan_policy_build(const struct scan_policy_conf *pc, struct scan_policy *p, char *err, size_t errlen);
void scan_policy_fini(struct scan_policy *p);

#endif
