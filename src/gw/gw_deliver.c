/*
 * gw_deliver.c - the delivery hand-off: one attempt of a message's pending
 * recipients (from the queue manager) -> deliver/ requests, and their
 * per-recipient outcomes -> the queue.
 *
 * Recipients are grouped by mailer value (recorded at processing, else
 * route_final() now); one deliver request per group, all under one
 * attempt id. "error:" values fail (or defer) their recipients without
 * any connection (GW_EV_BOUNCED for a permanent one). Each outcome from
 * deliver/ is published (GW_EV_DELIVERED) and handed to the queue, which
 * decides what it means (retry, bounce, done); the attempt ends when every
 * group has reported. Loop thread only.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/ids.h"
#include "base/log.h"
#include "base/map.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "deliver/deliver.h"
#include "gw/gw_int.h"
#include "mail/mail_env.h"
#include "queue/queue_sched.h"
#include "route/route.h"

struct gw_attempt {
	uint64_t id;
	char qid[IDS_QUEUE_SIZE];
	const struct mail_env *env; /* the queue's, borrowed until queue_sched_attempt_done() */
	int groups_left;
};

static int open_body(void *ctx, const char *qid, uint64_t *off)
{
	struct gw *g = ctx;
	return queue_sched_open_body(g->q, qid, off, NULL);
}

/* Recipients refused by their mailer value: "error:" (or a value that no
 * longer parses: deferred, so a fixed map can still deliver them). */
static void fail_group(struct gw *g, const struct queue_attempt *a, const size_t *idx, size_t k,
		       const struct mail_reply *why)
{
	for (size_t i = 0; i < k; i++) {
		if (why->code >= 500) {
			struct gw_event ev = { .type = GW_EV_BOUNCED, .qid = a->qid };
			ev.u.rcpt.rcpt = a->env->rcpt[idx[i]].addr;
			ev.u.rcpt.reply = why;
			gw_emit(g, &ev);
		}
		queue_sched_rcpt_result(g->q, a->qid, idx[i], why, 0);
	}
}

static void submit_group(struct gw *g, struct gw_attempt *at, const struct queue_attempt *a, const char *mailer,
			 const size_t *idx, size_t k)
{
	struct route_mailer rm;
	char why[300];
	struct mail_reply r;
	if (route_mailer_parse(mailer, &rm, why, sizeof why) < 0) {
		mail_reply_set(&r, 451, "4.3.5", "mailer \"%.200s\": %.200s", mailer, why);
		fail_group(g, a, idx, k, &r);
		return;
	}
	if (rm.kind == ROUTE_ERROR || rm.kind == ROUTE_LOCAL) {
		if (rm.kind == ROUTE_LOCAL)
			mail_reply_set(&rm.reply, 451, "4.3.5", "local: is not a final mailer");
		fail_group(g, a, idx, k, &rm.reply);
		return;
	}
	struct deliver_req rq = {
		.id = at->id,
		.qid = a->qid,
		.env = a->env,
		.body_len = a->body_len,
		.open_body = open_body,
		.open_ctx = g,
		.rcpt = idx,
		.nrcpt = k,
	};
	struct deliver_hop hops[ROUTE_HOPS_MAX];
	for (size_t i = 0; i < rm.nhops; i++)
		hops[i] = (struct deliver_hop){ .host = rm.hop[i].host, .port = rm.hop[i].port, .mx = rm.hop[i].mx };
	rq.proto = rm.kind == ROUTE_LMTP ? DELIVER_LMTP : rm.kind == ROUTE_MAILDIR ? DELIVER_MAILDIR : DELIVER_SMTP;
	rq.hops = hops;
	rq.nhops = rm.nhops;
	rq.hops_equal = rm.equal;
	rq.path = rm.path[0] ? rm.path : NULL;
	at->groups_left++;
	deliver_submit(g->dl, &rq);
}

static void attempt_release(struct gw *g, struct gw_attempt *at);

void gw_deliver_attempt(void *ctx, const struct queue_attempt *a)
{
	struct gw *g = ctx;
	struct gw_attempt *at = xcalloc(1, sizeof *at);
	at->id = ids_next();
	snprintf(at->qid, sizeof at->qid, "%s", a->qid);
	at->env = a->env;
	map_putu(g->attempts, at->id, at);
	/* group by mailer value: grp[i] is the group of recipient i */
	size_t n = a->nrcpt, ng = 0;
	char **val = xcalloc(n, sizeof *val);
	size_t *grp = xcalloc(n, sizeof *grp), *first = xcalloc(n, sizeof *first), *idx = xcalloc(n, sizeof *idx);
	struct map *seen = map_new();
	for (size_t i = 0; i < n; i++) {
		const struct mail_rcpt *r = &a->env->rcpt[a->rcpt[i]];
		char v[ROUTE_VALUE_MAX];
		if (r->route)
			str_copy(v, sizeof v, r->route);
		else
			route_final(g->maps, r->addr, v, sizeof v);
		size_t gi = (size_t)(uintptr_t)map_gets(seen, v);
		if (gi == 0) {
			first[ng] = i;
			gi = ++ng;
			map_puts(seen, v, (void *)(uintptr_t)gi);
		}
		grp[i] = gi - 1;
		val[i] = xstrdup(v);
	}
	/* the attempt ends when every submitted group has reported: count
	 * them all before the first can answer (results never come inline) */
	at->groups_left = 1;
	for (size_t gi = 0; gi < ng; gi++) {
		size_t k = 0;
		for (size_t i = first[gi]; i < n; i++) {
			if (grp[i] == gi)
				idx[k++] = a->rcpt[i];
		}
		submit_group(g, at, a, val[first[gi]], idx, k);
	}
	for (size_t i = 0; i < n; i++)
		xfree(val[i]);
	xfree(val);
	xfree(grp);
	xfree(first);
	xfree(idx);
	map_free(&seen);
	attempt_release(g, at);
}

static void attempt_release(struct gw *g, struct gw_attempt *at)
{
	if (--at->groups_left > 0)
		return;
	map_delu(g->attempts, at->id);
	char qid[IDS_QUEUE_SIZE];
	snprintf(qid, sizeof qid, "%s", at->qid);
	xfree(at);
	queue_sched_attempt_done(g->q, qid);
}

void gw_deliver_result(void *ctx, const struct deliver_result *res)
{
	struct gw *g = ctx;
	struct gw_attempt *at = map_getu(g->attempts, res->id);
	if (!at) {
		log_warn("queue=%s event=stray_delivery_result", res->qid);
		return;
	}
	for (size_t i = 0; i < res->n; i++) {
		struct gw_event ev = { .type = GW_EV_DELIVERED, .qid = at->qid };
		ev.u.rcpt.rcpt = res->r[i].idx < at->env->nrcpt ? at->env->rcpt[res->r[i].idx].addr : "";
		ev.u.rcpt.reply = &res->r[i].reply;
		gw_emit(g, &ev);
		queue_sched_rcpt_result(g->q, at->qid, res->r[i].idx, &res->r[i].reply,
					res->r[i].no_dsn ? QUEUE_RESULT_F_NO_DSN : 0);
	}
	attempt_release(g, at);
}

void gw_deliver_fini(struct gw *g)
{
	size_t pos = 0;
	void *v;
	while (g->attempts && map_next(g->attempts, &pos, NULL, NULL, &v))
		xfree(v);
	map_free(&g->attempts);
}
