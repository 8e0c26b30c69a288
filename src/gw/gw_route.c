/*
 * gw_route.c - routing between the queue and delivery (route/ decides,
 * gw applies).
 *
 * Processing (input/ -> output/): every recipient is expanded with
 * route_expand(). When that changes nothing (each recipient is its own
 * final address and would be routed the same way at delivery), the file
 * is only renamed. Otherwise the envelope is rewritten: the final
 * addresses, each with its mailer value recorded, the original recipient
 * kept as ORCPT; targets with another sender (owner-NAME) become messages
 * of their own with the same content.
 *
 * Delivery: recipients are grouped by mailer value (recorded, else
 * route_final() now); one deliver request per group. "error:" values fail
 * (or defer) their recipients without any connection.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/ids.h"
#include "base/log.h"
#include "base/map.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "conf/conf.h"
#include "deliver/deliver.h"
#include "gw/gw_int.h"
#include "mail/mail_env.h"
#include "mail/mail_xtext.h"
#include "net/net_addr.h"
#include "queue/queue_sched.h"
#include "route/route.h"

struct gw_attempt {
	uint64_t id;
	char qid[IDS_QUEUE_SIZE];
	int groups_left;
};

/* ------------------------------------------------------------ processing */

/* The recipient's ORCPT as recorded: as received, or its address. */
static void orcpt_of(const struct mail_rcpt *r, struct buf *out)
{
	if (r->orcpt) {
		buf_puts(out, r->orcpt);
		return;
	}
	buf_puts(out, "rfc822;");
	mail_xtext_encode(r->addr, strlen(r->addr), out);
}

/* The envelope for sender (NULL: the message's own), created on first use. */
static struct mail_env *env_for(struct mail_env ***envs, size_t *n, size_t *cap, const struct mail_env *src,
				const char *sender)
{
	const char *want = sender ? sender : src->sender;
	for (size_t i = 0; i < *n; i++) {
		if (strcmp((*envs)[i]->sender, want) == 0)
			return (*envs)[i];
	}
	*envs = xgrow(*envs, cap, *n + 1, sizeof **envs);
	(*envs)[*n] = mail_env_new_like(src);
	if (sender)
		(*envs)[*n]->sender = mail_env_strdup((*envs)[*n], sender);
	return (*envs)[(*n)++];
}

static bool is_identity(const struct gw *g, const struct mail_rcpt *r, const struct route_result *res)
{
	if (res->n != 1 || res->t[0].sender || strcmp(res->t[0].addr, r->addr) != 0)
		return false;
	char v[ROUTE_VALUE_MAX];
	route_final(g->maps, r->addr, v, sizeof v);
	return strcmp(v, res->t[0].mailer) == 0;
}

int gw_route_envs(struct gw *g, const char *qid, const struct mail_env *env, struct mail_env ***envs_out,
		  size_t *n_out)
{
	struct mail_env **envs = NULL;
	size_t nenv = 0, cap = 0;
	bool same = true, retry = false;
	struct buf o, key;
	buf_init(&o);
	buf_init(&key);
	/* duplicates across recipients are delivered once (per sender) */
	struct map *seen = map_new();
	for (size_t i = 0; i < env->nrcpt; i++) {
		const struct mail_rcpt *r = &env->rcpt[i];
		if (r->state != MAIL_RCPT_PENDING)
			continue;
		struct route_result res;
		route_result_init(&res, NULL);
		/* the client was allowed to relay at RCPT time: trusted now */
		route_expand(g->maps, r->addr, true, &res);
		if (!res.ok && res.reply.code < 500) {
			/* a temporary refusal (an alias map or include file that cannot be
			 * read): the whole message waits in input/, nothing is bounced */
			char t[MAIL_REPLY_TEXT_MAX + 32];
			mail_reply_str(&res.reply, t, sizeof t);
			log_warn("queue=%s event=process_deferred rcpt=%s reply=%s", qid, LOG_QA(r->addr), LOG_Q(t));
			route_result_fini(&res);
			retry = true;
			break;
		}
		bool ident = res.ok && is_identity(g, r, &res);
		same = same && ident;
		buf_reset(&o);
		orcpt_of(r, &o);
		if (!res.ok) {
			/* refused now (maps changed since RCPT): fail or defer it at delivery */
			char v[ROUTE_VALUE_MAX];
			snprintf(v, sizeof v, "error:%s:%d %s", res.reply.enh, res.reply.code, res.reply.text);
			struct mail_env *e = env_for(&envs, &nenv, &cap, env, NULL);
			struct mail_rcpt *nr = mail_env_add_rcpt(e, r->addr, o.data, r->notify);
			nr->route = mail_env_strdup(e, v);
			char t[MAIL_REPLY_TEXT_MAX + 32];
			mail_reply_str(&res.reply, t, sizeof t);
			log_info("queue=%s event=route_refused rcpt=%s reply=%s", qid, LOG_QA(r->addr), LOG_Q(t));
		}
		for (size_t k = 0; k < res.n; k++) {
			buf_reset(&key);
			buf_printf(&key, "%s %s", res.t[k].sender ? res.t[k].sender : "", res.t[k].addr);
			str_lower(key.data);
			if (map_gets(seen, key.data)) {
				same = false;
				log_info("queue=%s event=duplicate_suppressed rcpt=%s to=%s", qid, LOG_QA(r->addr),
					 LOG_QA(res.t[k].addr));
				continue;
			}
			map_puts(seen, key.data, (void *)1);
			struct mail_env *e = env_for(&envs, &nenv, &cap, env, res.t[k].sender);
			struct mail_rcpt *nr = mail_env_add_rcpt(e, res.t[k].addr, o.data, r->notify);
			nr->route = mail_env_strdup(e, res.t[k].mailer);
			if (!ident)
				log_info("queue=%s event=expanded rcpt=%s to=%s mailer=%s%s%s", qid, LOG_QA(r->addr),
					 LOG_QA(res.t[k].addr), LOG_Q(res.t[k].mailer), res.t[k].sender ? " sender=" : "",
					 res.t[k].sender ? LOG_QA(res.t[k].sender) : "");
		}
		route_result_fini(&res);
	}
	buf_fini(&o);
	buf_fini(&key);
	map_free(&seen);
	*envs_out = NULL;
	*n_out = 0;
	if (retry || same || nenv == 0) {
		for (size_t i = 0; i < nenv; i++)
			mail_env_free(&envs[i]);
		xfree(envs);
		return retry ? -1 : 0;
	}
	*envs_out = envs;
	*n_out = nenv;
	return 1;
}

void gw_route_process(void *ctx, const char *qid, const struct mail_env *env)
{
	struct gw *g = ctx;
	struct mail_env **envs;
	size_t n;
	int rc = gw_route_envs(g, qid, env, &envs, &n);
	if (rc <= 0) {
		queue_sched_processed(g->q, qid, rc < 0 ? QUEUE_RETRY : QUEUE_PASS);
		return;
	}
	queue_sched_processed_envs(g->q, qid, envs, n);
	xfree(envs);
}

/* -------------------------------------------------------------- delivery */

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
	for (size_t i = 0; i < k; i++)
		queue_sched_rcpt_result(g->q, a->qid, idx[i], why, 0);
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

void gw_route_deliver(void *ctx, const struct queue_attempt *a)
{
	struct gw *g = ctx;
	struct gw_attempt *at = xcalloc(1, sizeof *at);
	at->id = ids_next();
	snprintf(at->qid, sizeof at->qid, "%s", a->qid);
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
	gw_attempt_release(g, at);
}

void gw_attempt_release(struct gw *g, struct gw_attempt *at)
{
	if (--at->groups_left > 0)
		return;
	map_delu(g->attempts, at->id);
	char qid[IDS_QUEUE_SIZE];
	snprintf(qid, sizeof qid, "%s", at->qid);
	xfree(at);
	queue_sched_attempt_done(g->q, qid);
}

void gw_route_result(void *ctx, const struct deliver_result *res)
{
	struct gw *g = ctx;
	struct gw_attempt *at = map_getu(g->attempts, res->id);
	if (!at) {
		log_warn("queue=%s event=stray_delivery_result", res->qid);
		return;
	}
	for (size_t i = 0; i < res->n; i++) {
		gw_status_delivery(g, at->qid, res->r[i].reply.code);
		queue_sched_rcpt_result(g->q, at->qid, res->r[i].idx, &res->r[i].reply,
					res->r[i].no_dsn ? QUEUE_RESULT_F_NO_DSN : 0);
	}
	gw_attempt_release(g, at);
}
