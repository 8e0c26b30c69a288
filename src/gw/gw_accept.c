/*
 * gw_accept.c - the accept stage: the SMTP policy (client name lookup,
 * DNSBL checks through gw_accept_dnsbl.c, relay control and recipient
 * validation) and the hand-off of accepted content to the queue.
 *
 * Relay control and recipient validation are route_expand() (route/route.c;
 * the rule is written down in docs/CONFIG.md): local domains must name an
 * alias or a known user (else 550 5.1.1), other domains need mynetworks or
 * relay_domains (else 554 5.7.1). mail/mail_addr.c drops source routes;
 * route/ refuses % ! and quoted @ in relayed local parts.
 *
 * 250 after DATA is sent only from the commit callback, i.e. after
 * queue_store_commit() made content, envelope and directory entry durable.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/map.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "conf/conf.h"
#include "dns/dns.h"
#include "gw/gw_int.h"
#include "mail/mail_env.h"
#include "queue/queue_commit.h"
#include "queue/queue_sched.h"
#include "queue/queue_store.h"
#include "route/route.h"
#include "smtp/smtp_server.h"

struct sink {
	struct queue_draft d;
};

/* --- client name: PTR, then A/AAAA must contain the client address --- */

struct ptr_lookup {
	struct gw *g;
	uint64_t session;
	struct net_addr addr;
	char name[DNS_NAME_MAX + 1];
};

static void name_done(struct ptr_lookup *p, const char *name)
{
	if (name)
		smtp_server_set_client_name(p->g->smtpd, p->session, name);
	struct mail_reply ok = { 0 };
	smtp_server_resume(p->g->smtpd, p->session, &ok);
	xfree(p);
}

static void on_fwd(void *arg, enum dns_status st, const struct net_addr *a, size_t n, const char *why)
{
	(void)why;
	struct ptr_lookup *p = arg;
	char want[NET_ADDR_STRLEN], got[NET_ADDR_STRLEN];
	net_addr_ip(&p->addr, want, sizeof want);
	bool match = false;
	for (size_t i = 0; st == DNS_OK && i < n && !match; i++) {
		net_addr_ip(&a[i], got, sizeof got);
		match = strcmp(want, got) == 0;
	}
	name_done(p, match ? p->name : NULL);
}

static void on_ptr(void *arg, enum dns_status st, const char *name, const char *why)
{
	(void)why;
	struct ptr_lookup *p = arg;
	if (st != DNS_OK || !name[0]) {
		name_done(p, NULL);
		return;
	}
	str_copy(p->name, sizeof p->name, name);
	dns_lookup_addr(p->g->dns, p->name, 0, on_fwd, p);
}

static enum smtp_hook on_connect(void *ctx, const struct smtp_client_info *ci, struct mail_reply *reply)
{
	struct gw *g = ctx;
	(void)reply;
	gw_accept_dnsbl_connect(g, ci);
	if (!g->conf->smtpd_peername_lookup)
		return SMTP_HOOK_DONE;
	struct ptr_lookup *p = xcalloc(1, sizeof *p);
	p->g = g;
	p->session = ci->session_id;
	p->addr = ci->addr;
	dns_lookup_ptr(g->dns, &ci->addr, on_ptr, p);
	return SMTP_HOOK_ASYNC;
}

static void on_disconnect(void *ctx, const struct smtp_client_info *ci)
{
	gw_accept_dnsbl_disconnect(ctx, ci);
}

static enum smtp_hook on_mail(void *ctx, const struct smtp_client_info *ci, const struct mail_from *from,
			      struct mail_reply *reply)
{
	(void)ctx;
	(void)ci;
	(void)from;
	mail_reply_set(reply, 250, "2.1.0", "Ok");
	return SMTP_HOOK_DONE;
}

/* The recipient as an address: <postmaster> (RFC 5321 4.5.1) is ours. */
static void rcpt_addr(const struct gw *g, const struct mail_rcpt_to *r, char *a, size_t size)
{
	if (r->addr.domain[0])
		mail_addr_format(&r->addr, a, size);
	else
		snprintf(a, size, "%s@%s", r->addr.local, g->conf->myhostname);
}

/* The RCPT reply for the formatted address a: a DNSBL refusal already in
 * reply (code != 0) stands, else relay control and recipient validation
 * decide; the smtp engine logs a refusal (event=reject_rcpt). */
static void route_rcpt(struct gw *g, const char *a, bool trusted, struct mail_reply *reply)
{
	if (reply->code)
		return;
	struct route_result res;
	route_result_init(&res, NULL);
	route_expand(g->maps, a, trusted, &res);
	*reply = res.reply;
	route_result_fini(&res);
}

/* The DNSBL verdict a RCPT waited for (gw_accept_dnsbl.c's continuation). */
static void rcpt_resume(void *arg, uint64_t session, const char *rcpt, bool trusted, struct mail_reply *reply)
{
	struct gw *g = arg;
	route_rcpt(g, rcpt, trusted, reply);
	smtp_server_resume(g->smtpd, session, reply);
}

static enum smtp_hook on_rcpt(void *ctx, const struct smtp_client_info *ci, const struct mail_from *from,
			      const struct mail_rcpt_to *rcpt, struct mail_reply *reply)
{
	struct gw *g = ctx;
	(void)from;
	char a[MAIL_PATH_MAX + 8];
	rcpt_addr(g, rcpt, a, sizeof a);
	bool trusted = net_cidr_list_match(&g->conf->mynetworks.list, &ci->addr);
	enum smtp_hook h = gw_accept_dnsbl_rcpt(g, ci, a, trusted, reply, rcpt_resume, g);
	if (h == SMTP_HOOK_ASYNC)
		return h;
	route_rcpt(g, a, trusted, reply);
	return SMTP_HOOK_DONE;
}

static void *data_open(void *ctx, const struct smtp_client_info *ci, char id_out[32], struct mail_reply *reply)
{
	struct gw *g = ctx;
	struct sink *s = xcalloc(1, sizeof *s);
	if (queue_store_draft_new(g->qs, &s->d) < 0) {
		log_err("session=%llu event=queue_create_error error=\"%s\"", (unsigned long long)ci->session_id,
			strerror(errno));
		mail_reply_set(reply, 452, "4.3.1", "Error: insufficient system storage");
		xfree(s);
		return NULL;
	}
	snprintf(id_out, 32, "%s", s->d.qid);
	return s;
}

static int data_write(void *ctx, void *sink, const void *p, size_t n)
{
	struct gw *g = ctx;
	struct sink *s = sink;
	return queue_store_draft_write(g->qs, &s->d, p, n);
}

static void data_abort(void *ctx, void *sink)
{
	struct gw *g = ctx;
	struct sink *s = sink;
	queue_store_draft_abort(g->qs, &s->d);
	xfree(s);
}

void gw_accept_committed(void *arg, uint64_t session, const char *qid, int err)
{
	struct gw *g = arg;
	struct mail_reply r;
	if (err) {
		log_err("queue=%s event=commit_error error=\"%s\" reply=452", qid, strerror(err));
		mail_reply_set(&r, 452, "4.3.1", "Error: insufficient system storage");
		g->rejected++;
	} else {
		mail_reply_set(&r, 250, "2.0.0", "Ok: queued as %s", qid);
		g->accepted++;
		log_info("session=%llu queue=%s event=queued origin=smtp", (unsigned long long)session, qid);
		gw_emit(g, &(struct gw_event){ .type = GW_EV_RECEIVED, .qid = qid, .session = session });
		queue_sched_arrived(g->q, qid);
	}
	smtp_server_resume(g->smtpd, session, &r);
}

static void data_close(void *ctx, const struct smtp_client_info *ci, const struct smtp_tx *tx, void *sink)
{
	struct gw *g = ctx;
	struct sink *s = sink;
	if (s->d.err) {
		log_err("session=%llu queue=%s event=write_error error=\"%s\" reply=452", (unsigned long long)ci->session_id,
			s->d.qid, strerror(s->d.err));
		queue_store_draft_abort(g->qs, &s->d);
		xfree(s);
		struct mail_reply r;
		mail_reply_set(&r, 452, "4.3.1", "Error: insufficient system storage");
		g->rejected++;
		smtp_server_resume(g->smtpd, ci->session_id, &r);
		return;
	}
	struct mail_env *env = mail_env_new();
	snprintf(env->qid, sizeof env->qid, "%s", s->d.qid);
	env->arrival_us = clock_now_us();
	char a[MAIL_PATH_MAX + 8];
	mail_addr_format(&tx->from->addr, a, sizeof a);
	env->sender = mail_env_strdup(env, a);
	env->helo = mail_env_strdup(env, ci->helo);
	env->client_addr = mail_env_strdup(env, ci->ip);
	env->client_name = mail_env_strdup(env, ci->name);
	env->protocol = mail_env_strdup(env, tx->protocol);
	if (tx->from->has_envid)
		env->envid = mail_env_strdup(env, tx->from->envid);
	env->ret = tx->from->ret;
	env->body = tx->from->body ? tx->from->body : (tx->eightbit ? MAIL_BODY_8BITMIME : MAIL_BODY_NONE);
	env->smtputf8 = tx->from->smtputf8;
	for (size_t i = 0; i < tx->nrcpt; i++) {
		const struct mail_rcpt_to *r = &tx->rcpt[i];
		rcpt_addr(g, r, a, sizeof a);
		mail_env_add_rcpt(env, a, r->has_orcpt ? r->orcpt : NULL, r->notify);
	}
	log_info("session=%llu queue=%s event=received host=%s client=%s from=%s nrcpt=%zu size=%llu proto=%s",
		 (unsigned long long)ci->session_id, s->d.qid, g->conf->myhostname, ci->ip, LOG_QA(env->sender),
		 tx->nrcpt, (unsigned long long)tx->octets, tx->protocol);
	if (!gw_scan_before_queue(g, ci->session_id, &s->d, env))
		queue_commit_submit(g->qc, &s->d, env, QDIR_INPUT, gw_accept_committed, g, ci->session_id);
	xfree(s);
}

void gw_accept_policy(struct gw *g, struct smtp_policy *p)
{
	memset(p, 0, sizeof *p);
	p->ctx = g;
	p->on_connect = on_connect;
	p->on_mail = on_mail;
	p->on_rcpt = on_rcpt;
	p->data_open = data_open;
	p->data_write = data_write;
	p->data_abort = data_abort;
	p->data_close = data_close;
	p->on_disconnect = on_disconnect;
}
