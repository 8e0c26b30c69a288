/*
 * gw_route.c - processing and next-hop choice (minimal, until the scan and
 * routing issues replace them).
 *
 * Processing is a pass-through: input/ -> output/ unchanged. Routing: with
 * relayhost every recipient goes there; without it each recipient domain
 * is its own next hop (MX lookup; an address literal is used as is). One
 * delivery attempt of a message becomes one deliver request per next hop;
 * the attempt ends when all of them have reported.
 */
#include <stdio.h>
#include <string.h>

#include "base/ids.h"
#include "base/log.h"
#include "base/map.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "conf/conf.h"
#include "deliver/deliver.h"
#include "gw/gw_int.h"
#include "mail/mail_env.h"
#include "queue/queue_sched.h"

struct gw_attempt {
	uint64_t id;
	char qid[IDS_QUEUE_SIZE];
	int groups_left;
};

int gw_nexthop_parse(const char *s, struct gw_nexthop *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	const char *host = s, *port = NULL;
	size_t hl;
	if (s[0] == '[') {
		const char *e = strchr(s, ']');
		if (!e) {
			snprintf(err, errlen, "\"%s\": missing ']'", s);
			return -1;
		}
		host = s + 1;
		hl = (size_t)(e - host);
		if (e[1] == ':')
			port = e + 2;
		else if (e[1]) {
			snprintf(err, errlen, "\"%s\": unexpected text after ']'", s);
			return -1;
		}
		if (hl > 5 && str_caseprefix(host, "ipv6:")) {
			host += 5;
			hl -= 5;
		}
		out->mx = false;
	} else {
		const char *c = strrchr(s, ':');
		if (c && strchr(s, ':') != c) {
			snprintf(err, errlen, "\"%s\": write IPv6 addresses as [addr]:port", s);
			return -1;
		}
		hl = c ? (size_t)(c - s) : strlen(s);
		port = c ? c + 1 : NULL;
		out->mx = true;
	}
	if (hl == 0 || str_ncopy(out->host, sizeof out->host, host, hl) < 0) {
		snprintf(err, errlen, "\"%s\": bad host", s);
		return -1;
	}
	for (const char *p = out->host; *p; p++) {
		char ch = *p;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		      ch == '.' || ch == ':' || ch == '_')) {
			snprintf(err, errlen, "\"%s\": bad character in host", s);
			return -1;
		}
	}
	if (port) {
		uint64_t v;
		if (str_to_u64(port, &v) < 0 || v == 0 || v > 65535) {
			snprintf(err, errlen, "\"%s\": bad port", s);
			return -1;
		}
		out->port = (int)v;
	}
	return 0;
}

void gw_route_process(void *ctx, const char *qid)
{
	struct gw *g = ctx;
	queue_sched_processed(g->q, qid, QUEUE_PASS);
}

static int open_body(void *ctx, const char *qid, uint64_t *off)
{
	struct gw *g = ctx;
	return queue_sched_open_body(g->q, qid, off);
}

void gw_route_deliver(void *ctx, const struct queue_attempt *a)
{
	struct gw *g = ctx;
	struct gw_attempt *at = xcalloc(1, sizeof *at);
	at->id = ids_next();
	snprintf(at->qid, sizeof at->qid, "%s", a->qid);
	map_putu(g->attempts, at->id, at);

	struct deliver_req rq = {
		.id = at->id,
		.qid = a->qid,
		.env = a->env,
		.body_len = a->body_len,
		.open_body = open_body,
		.open_ctx = g,
	};
	if (g->have_relayhost) {
		rq.host = g->relayhost.host;
		rq.port = g->relayhost.port;
		rq.mx = g->relayhost.mx;
		rq.rcpt = a->rcpt;
		rq.nrcpt = a->nrcpt;
		at->groups_left = 1;
		deliver_submit(g->dl, &rq);
		return;
	}
	/* group by recipient domain (case-insensitive): grp[i] is the group of
	 * recipient i, first[gi] the first recipient of group gi */
	size_t n = a->nrcpt, ng = 0;
	size_t *grp = xcalloc(n, sizeof *grp), *first = xcalloc(n, sizeof *first), *idx = xcalloc(n, sizeof *idx);
	for (size_t i = 0; i < n; i++) {
		const char *dom = mail_env_domain(a->env->rcpt[a->rcpt[i]].addr);
		size_t gi = 0;
		while (gi < ng && !str_caseeq(dom, mail_env_domain(a->env->rcpt[a->rcpt[first[gi]]].addr)))
			gi++;
		if (gi == ng)
			first[ng++] = i;
		grp[i] = gi;
	}
	/* every group is counted before the first request goes out */
	at->groups_left = (int)ng;
	for (size_t gi = 0; gi < ng; gi++) {
		size_t k = 0;
		for (size_t i = first[gi]; i < n; i++) {
			if (grp[i] == gi)
				idx[k++] = a->rcpt[i];
		}
		const char *dom = mail_env_domain(a->env->rcpt[a->rcpt[first[gi]]].addr);
		char host[256];
		size_t dl = strlen(dom);
		rq.mx = true;
		if (dl > 2 && dom[0] == '[') {
			/* address literal: no MX, connect there */
			const char *h = dom + 1;
			size_t hl = dl - 2;
			if (hl > 5 && str_caseprefix(h, "ipv6:")) {
				h += 5;
				hl -= 5;
			}
			str_ncopy(host, sizeof host, h, hl);
			rq.mx = false;
		} else {
			str_copy(host, sizeof host, dom);
		}
		rq.host = host;
		rq.port = 0;
		rq.rcpt = idx;
		rq.nrcpt = k;
		deliver_submit(g->dl, &rq);
	}
	xfree(grp);
	xfree(first);
	xfree(idx);
}

void gw_route_result(void *ctx, const struct deliver_result *res)
{
	struct gw *g = ctx;
	struct gw_attempt *at = map_getu(g->attempts, res->id);
	if (!at) {
		log_warn("queue=%s event=stray_delivery_result", res->qid);
		return;
	}
	for (size_t i = 0; i < res->n; i++)
		queue_sched_rcpt_result(g->q, at->qid, res->r[i].idx, &res->r[i].reply,
					res->r[i].no_dsn ? QUEUE_RESULT_F_NO_DSN : 0);
	if (--at->groups_left == 0) {
		map_delu(g->attempts, at->id);
		char qid[IDS_QUEUE_SIZE];
		snprintf(qid, sizeof qid, "%s", at->qid);
		xfree(at);
		queue_sched_attempt_done(g->q, qid);
	}
}
