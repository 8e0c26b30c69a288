/*
 * gw_control.c - what the administrator's surfaces (admin/: the control
 * socket, the status page, the metrics) may see of the flow and ask of it
 * (gw.h): read-only views of the modules gw owns, and the actions that
 * change the queue (flush, the queue operations; the reload is
 * gw_reload.c).
 *
 * Views hand out the modules' objects as const (the queue store, whose
 * API is not const, is documented read-only); every change goes through
 * an action here, on the loop thread, so the flow sees it between two
 * events. Actions that remove a message publish it (GW_EV_REMOVED).
 */
#include <stdio.h>
#include <string.h>

#include "base/ids.h"
#include "deliver/deliver.h"
#include "gw/gw_int.h"
#include "conf/conf.h"
#include "mail/mail_env.h"
#include "queue/queue_sched.h"
#include "queue/queue_store.h"
#include "scan/scan.h"
#include "scan/proc/scan_proc.h"

struct event_base *gw_base(const struct gw *g)
{
	return g->base;
}

const struct conf *gw_conf(const struct gw *g)
{
	return g->conf;
}

struct queue_store *gw_queue_store(const struct gw *g)
{
	return g->qs;
}

const struct queue_sched *gw_queue_sched(const struct gw *g)
{
	return g->q;
}

const struct smtp_server *gw_smtp_server(const struct gw *g)
{
	return g->smtpd;
}

const struct scan_dnsbl *gw_dnsbl(const struct gw *g)
{
	return g->dnsbl;
}

void gw_scan_stats(const struct gw *g, struct scan_proc_stats *out)
{
	memset(out, 0, sizeof *out);
	if (g->sp)
		scan_proc_stats(g->sp, out);
}

bool gw_scanning(const struct gw *g)
{
	return g->scanset && g->scanset->enabled;
}

void gw_counters(const struct gw *g, struct gw_counters *out)
{
	*out = (struct gw_counters){ .accepted = g->accepted, .rejected = g->rejected, .bayes_failed = g->bayes_failed };
	memcpy(out->bayes_learned, g->bayes_learned, sizeof out->bayes_learned);
}

bool gw_stopping(const struct gw *g)
{
	return g->stopping;
}

void gw_flush(struct gw *g, const char *domain, char *msg, size_t msglen)
{
	deliver_flush_dead(g->dl); /* a flush is a real attempt, not the recorded dead-host reply */
	if (domain) {
		size_t n = queue_sched_flush_domain(g->q, domain);
		snprintf(msg, msglen, "%zu deferred message%s for %s flushed", n, n == 1 ? "" : "s", domain);
		return;
	}
	struct queue_sched_stats st;
	queue_sched_stats(g->q, &st);
	queue_sched_flush(g->q);
	snprintf(msg, msglen, "%zu deferred message%s flushed", st.deferred, st.deferred == 1 ? "" : "s");
}

/* The Bayes tokens of quarantine/qid (its L record): 1 with *l, 0 none, -1
 * not in quarantine/. */
static int quarantined_tokens(struct gw *g, const char *qid, struct scan_learn *l)
{
	memset(l, 0, sizeof *l);
	if (!ids_queue_valid(qid) || !queue_store_exists(g->qs, QDIR_QUARANTINE, qid))
		return -1;
	struct mail_env *env;
	struct queue_hdr hdr;
	char err[256];
	if (queue_store_load(g->qs, QDIR_QUARANTINE, qid, &env, &hdr, err, sizeof err) < 0)
		return 0; /* the operation itself says what is wrong */
	int rc = env->bayes && scan_learn_decode(env->bayes, l) == 0 ? 1 : 0;
	mail_env_free(&env);
	return rc;
}

int gw_queue_op(struct gw *g, enum queue_op op, const char *qid, char *msg, size_t msglen)
{
	if ((unsigned)op > QUEUE_OP_DELETE_SPAM) {
		snprintf(msg, msglen, "unknown operation");
		return -1;
	}
	if (op == QUEUE_OP_FLUSH)
		deliver_flush_dead(g->dl); /* a flush is a real attempt, not the recorded dead-host reply */
	char id[IDS_QUEUE_SIZE]; /* for the event: a deletion may free what qid points into */
	snprintf(id, sizeof id, "%s", qid);
	/* a quarantined message released is learned as ham, one deleted as spam as spam */
	struct scan_learn l;
	int tok = op == QUEUE_OP_RELEASE || op == QUEUE_OP_DELETE_SPAM ? quarantined_tokens(g, id, &l) : 0;
	if (op == QUEUE_OP_DELETE_SPAM && tok < 0) {
		snprintf(msg, msglen, "%s: not in quarantine/: only a quarantined message is deleted as spam", id);
		return -1;
	}
	int rc = queue_sched_op(g->q, op, qid, msg, msglen);
	if (rc == 0 && (op == QUEUE_OP_DELETE || op == QUEUE_OP_DELETE_SPAM))
		gw_emit(g, &(struct gw_event){ .type = GW_EV_REMOVED, .qid = id, .u.removed.reason = "deleted" });
	if (rc == 0 && tok >= 0 && (op == QUEUE_OP_DELETE_SPAM || op == QUEUE_OP_RELEASE)) {
		bool spam = op == QUEUE_OP_DELETE_SPAM;
		size_t n = strlen(msg);
		if (tok > 0 && gw_learn_submit(g, &l, spam, spam ? GW_LEARN_DELETE_SPAM : GW_LEARN_RELEASE, id))
			snprintf(msg + n, msglen - n, "; learned as %s (Bayes)", spam ? "spam" : "ham");
		else if (g->conf->use_bayes)
			snprintf(msg + n, msglen - n, "; not learned: no Bayes tokens with it (scanned without use_bayes)");
	}
	if (tok > 0)
		scan_learn_fini(&l);
	return rc;
}
