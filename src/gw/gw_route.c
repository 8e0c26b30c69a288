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
