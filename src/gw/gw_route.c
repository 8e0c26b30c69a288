/*
 * gw_route.c - the processing stage's routing: input/ -> output/ (route/
 * decides, gw applies; the delivery hand-off is gw_deliver.c).
 *
 * Every recipient is expanded with route_expand() against the maps in
 * force (gw_conf_maps_load(), swapped whole by a reload). When that changes nothing (each recipient is its own
 * final address and would be routed the same way at delivery), the file
 * is only renamed. Otherwise the envelope is rewritten: the final
 * addresses, each with its mailer value recorded, the original recipient
 * kept as ORCPT; targets with another sender (owner-NAME) become messages
 * of their own with the same content. A map that cannot be read defers
 * the whole message (it stays in input/); nothing is bounced for it.
 */
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/map.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "gw/gw_int.h"
#include "mail/mail_env.h"
#include "mail/mail_xtext.h"
#include "queue/queue_sched.h"
#include "route/route.h"

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

/* One message's expansion in progress. */
struct expansion {
	struct gw *g;
	const char *qid;
	const struct mail_env *env;
	struct mail_env **envs; /* per sender: [0] the message's own (if any recipient stays) */
	size_t nenv, cap;
	bool same;	  /* so far every recipient is its own final address, routed the same */
	struct map *seen; /* "sender address" (lower case): duplicates are delivered once per sender */
	struct buf orcpt, key;
};

/* The envelope for sender (NULL: the message's own), created on first use. */
static struct mail_env *env_for(struct expansion *x, const char *sender)
{
	const char *want = sender ? sender : x->env->sender;
	for (size_t i = 0; i < x->nenv; i++) {
		if (strcmp(x->envs[i]->sender, want) == 0)
			return x->envs[i];
	}
	x->envs = xgrow(x->envs, &x->cap, x->nenv + 1, sizeof *x->envs);
	struct mail_env *e = mail_env_new_like(x->env);
	if (sender)
		e->sender = mail_env_strdup(e, sender);
	x->envs[x->nenv++] = e;
	return e;
}

static bool is_identity(const struct gw *g, const struct mail_rcpt *r, const struct route_result *res)
{
	if (res->n != 1 || res->t[0].sender || strcmp(res->t[0].addr, r->addr) != 0)
		return false;
	char v[ROUTE_VALUE_MAX];
	route_final(g->maps, r->addr, v, sizeof v);
	return strcmp(v, res->t[0].mailer) == 0;
}

/* Refused now (the maps changed since RCPT): the recipient stays, to be
 * failed or deferred at delivery by an "error:" mailer value. */
static void add_refused(struct expansion *x, const struct mail_rcpt *r, const struct route_result *res)
{
	char v[ROUTE_VALUE_MAX];
	snprintf(v, sizeof v, "error:%s:%d %s", res->reply.enh, res->reply.code, res->reply.text);
	struct mail_env *e = env_for(x, NULL);
	struct mail_rcpt *nr = mail_env_add_rcpt(e, r->addr, x->orcpt.data, r->notify);
	nr->route = mail_env_strdup(e, v);
	char t[MAIL_REPLY_TEXT_MAX + 32];
	mail_reply_str(&res->reply, t, sizeof t);
	log_info("queue=%s event=route_refused rcpt=%s reply=%s", x->qid, LOG_QA(r->addr), LOG_Q(t));
}

/* The final addresses of r, each with its mailer value and r's ORCPT. */
static void add_targets(struct expansion *x, const struct mail_rcpt *r, const struct route_result *res, bool ident)
{
	for (size_t k = 0; k < res->n; k++) {
		const struct route_target *t = &res->t[k];
		buf_reset(&x->key);
		buf_printf(&x->key, "%s %s", t->sender ? t->sender : "", t->addr);
		str_lower(x->key.data);
		if (map_gets(x->seen, x->key.data)) {
			x->same = false;
			log_info("queue=%s event=duplicate_suppressed rcpt=%s to=%s", x->qid, LOG_QA(r->addr),
				 LOG_QA(t->addr));
			continue;
		}
		map_puts(x->seen, x->key.data, (void *)1);
		struct mail_env *e = env_for(x, t->sender);
		struct mail_rcpt *nr = mail_env_add_rcpt(e, t->addr, x->orcpt.data, r->notify);
		nr->route = mail_env_strdup(e, t->mailer);
		if (!ident)
			log_info("queue=%s event=expanded rcpt=%s to=%s mailer=%s%s%s", x->qid, LOG_QA(r->addr),
				 LOG_QA(t->addr), LOG_Q(t->mailer), t->sender ? " sender=" : "",
				 t->sender ? LOG_QA(t->sender) : "");
	}
}

/* One pending recipient; -1: a temporary refusal (an alias map or include
 * file that cannot be read): the whole message waits in input/, nothing
 * is bounced. */
static int expand_rcpt(struct expansion *x, const struct mail_rcpt *r)
{
	struct route_result res;
	route_result_init(&res, NULL);
	/* the client was allowed to relay at RCPT time: trusted now */
	route_expand(x->g->maps, r->addr, true, &res);
	if (!res.ok && res.reply.code < 500) {
		char t[MAIL_REPLY_TEXT_MAX + 32];
		mail_reply_str(&res.reply, t, sizeof t);
		log_warn("queue=%s event=process_deferred rcpt=%s reply=%s", x->qid, LOG_QA(r->addr), LOG_Q(t));
		route_result_fini(&res);
		return -1;
	}
	bool ident = res.ok && is_identity(x->g, r, &res);
	x->same = x->same && ident;
	buf_reset(&x->orcpt);
	orcpt_of(r, &x->orcpt);
	if (!res.ok)
		add_refused(x, r, &res);
	add_targets(x, r, &res, ident);
	route_result_fini(&res);
	return 0;
}

int gw_route_envs(struct gw *g, const char *qid, const struct mail_env *env, struct mail_env ***envs_out,
		  size_t *n_out)
{
	struct expansion x = { .g = g, .qid = qid, .env = env, .same = true, .seen = map_new() };
	buf_init(&x.orcpt);
	buf_init(&x.key);
	bool retry = false;
	for (size_t i = 0; i < env->nrcpt && !retry; i++)
		if (env->rcpt[i].state == MAIL_RCPT_PENDING)
			retry = expand_rcpt(&x, &env->rcpt[i]) < 0;
	buf_fini(&x.orcpt);
	buf_fini(&x.key);
	map_free(&x.seen);
	*envs_out = NULL;
	*n_out = 0;
	if (retry || x.same || x.nenv == 0) {
		for (size_t i = 0; i < x.nenv; i++)
			mail_env_free(&x.envs[i]);
		xfree(x.envs);
		return retry ? -1 : 0;
	}
	*envs_out = x.envs;
	*n_out = x.nenv;
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
