/*
 * gw_queue_tmp.c - TEMPORARY stand-in for the queue-tools helper's
 * gw_queue_op() (branch h-qtools, gw_ctl.c), so that the status page's
 * quarantine actions work before that branch is merged. THE LEAD DELETES
 * THIS FILE AT MERGE; the enum and prototype in gw_int.h are the agreed
 * ones.
 *
 * Only quarantine release and delete, as ctl/ctl_quarantine.c does them:
 * release copies the original into input/ under a new id, marked released
 * (routed, never scanned again), removes the quarantined copy and asks the
 * queue manager to pick it up. It commits on the loop thread (one fsync):
 * acceptable for an administrator's click, not for bulk operations.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/ids.h"
#include "gw/gw_int.h"
#include "mail/mail_env.h"
#include "queue/queue_sched.h"
#include "queue/queue_store.h"

static int release(struct gw *g, const char *qid, char *msg, size_t msglen)
{
	struct mail_env *env = NULL;
	char err[256];
	if (queue_store_load(g->qs, QDIR_QUARANTINE, qid, &env, NULL, err, sizeof err) < 0) {
		snprintf(msg, msglen, "%s is not in the quarantine (%s)", qid, err);
		return -1;
	}
	struct queue_draft d;
	memset(&d, 0, sizeof d);
	ids_queue_new(d.qid);
	snprintf(env->qid, sizeof env->qid, "%s", d.qid);
	env->flags |= MAIL_ENV_F_RELEASED;
	int rc = -1;
	if (queue_store_draft_copy(g->qs, QDIR_QUARANTINE, qid, &d) < 0 ||
	    queue_store_commit(g->qs, &d, env, QDIR_INPUT) < 0) {
		snprintf(msg, msglen, "release %s: %s", qid, strerror(errno));
	} else {
		queue_store_remove(g->qs, QDIR_QUARANTINE, qid);
		snprintf(msg, msglen, "%s released as %s", qid, d.qid);
		queue_sched_flush(g->q);
		rc = 0;
	}
	mail_env_free(&env);
	return rc;
}

int gw_queue_op(struct gw *g, enum gw_qop op, const char *qid, char *msg, size_t msglen)
{
	if (!qid || !ids_queue_valid(qid)) {
		snprintf(msg, msglen, "not a queue id");
		return -1;
	}
	if (op == GW_QOP_RELEASE)
		return release(g, qid, msg, msglen);
	if (op == GW_QOP_DELETE) {
		if (queue_store_remove(g->qs, QDIR_QUARANTINE, qid) < 0) {
			snprintf(msg, msglen, "delete %s: %s", qid, strerror(errno));
			return -1;
		}
		snprintf(msg, msglen, "%s deleted from the quarantine", qid);
		return 0;
	}
	snprintf(msg, msglen, "not available in this build (queue tools not merged)");
	return -1;
}
