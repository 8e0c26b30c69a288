/*
 * gw_accept_dnsbl.c - DNS blocklist checks of SMTP clients at connect and
 * RCPT (scan/scan_dnsbl.h), and the gateway's DNSBL object.
 *
 * At connect, clients outside mynetworks (and, unless dnsbl_check_private,
 * outside private/loopback ranges) are looked up in every dnsbl_sites zone;
 * the session goes on meanwhile. The result is logged once per session
 * ("event=dnsbl"). With dnsbl_reject_threshold > 0, every RCPT waits for
 * that result (at most dnsbl_timeout: a zone that is late is left out) and
 * is refused with 554 5.7.1 when the weight reaches the threshold; else it
 * goes on through the caller's continuation (relay control, in
 * gw_accept.c: this file names no other stage). A session that ends
 * cancels its lookup. A reload that changes the DNSBL settings puts a new
 * object in force; the old one answers what it was asked and is freed once
 * nothing waits on it (polled every RETIRE_POLL_S).
 */
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/map.h"
#include "base/xalloc.h"
#include "conf/conf.h"
#include "gw/gw_conf.h"
#include "gw/gw_int.h"
#include "mail/mail_addr.h"
#include "scan/dnsbl/scan_dnsbl.h"
#include "smtp/smtp_server.h"

#define RETIRE_POLL_S 1

struct dsess {
	struct gw *g;
	struct scan_dnsbl *bl; /* the object asked (a reload may have replaced it since) */
	uint64_t session;
	uint64_t lookup; /* scan_dnsbl id while pending */
	bool done;
	int weight;
	char ip[NET_ADDR_STRLEN];
	char zone[256]; /* the hit with the largest weight */
	char txt[SCAN_DNSBL_TXT_MAX + 1];
	bool rcpt_waiting; /* a RCPT waits for the result */
	bool trusted;
	char rcpt[MAIL_PATH_MAX + 8];
	gw_accept_dnsbl_then_fn then; /* what the waiting RCPT does with the verdict */
	void *then_arg;
};

static void on_retire_poll(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct gw *g = arg;
	size_t k = 0;
	for (size_t i = 0; i < g->ndnsbl_old; i++) {
		if (scan_dnsbl_pending(g->dnsbl_old[i]) == 0)
			scan_dnsbl_free(&g->dnsbl_old[i]);
		else
			g->dnsbl_old[k++] = g->dnsbl_old[i];
	}
	g->ndnsbl_old = k;
	if (k) {
		struct timeval tv = { RETIRE_POLL_S, 0 };
		evtimer_add(g->retire_timer, &tv);
	}
}

struct scan_dnsbl *gw_accept_dnsbl_new(struct gw *g, const struct conf *c, char *err, size_t errlen)
{
	struct scan_dnsbl_conf dc;
	gw_conf_dnsbl(c, &dc);
	return scan_dnsbl_new(g->base, g->dns, &dc, err, errlen);
}

int gw_accept_dnsbl_start(struct gw *g, char *err, size_t errlen)
{
	g->dnsbl_sess = map_new();
	g->retire_timer = evtimer_new(g->base, on_retire_poll, g);
	if (!g->conf->dnsbl_sites[0])
		return 0;
	g->dnsbl = gw_accept_dnsbl_new(g, g->conf, err, errlen);
	return g->dnsbl ? 0 : -1;
}

void gw_accept_dnsbl_replace(struct gw *g, struct scan_dnsbl *d)
{
	if (g->dnsbl) {
		g->dnsbl_old = xrealloc(g->dnsbl_old, (g->ndnsbl_old + 1) * sizeof *g->dnsbl_old);
		g->dnsbl_old[g->ndnsbl_old++] = g->dnsbl;
		on_retire_poll(-1, 0, g);
	}
	g->dnsbl = d;
}

static void dnsbl_free_all(struct gw *g)
{
	size_t pos = 0;
	void *v;
	while (g->dnsbl_sess && map_next(g->dnsbl_sess, &pos, NULL, NULL, &v))
		xfree(v);
	map_free(&g->dnsbl_sess);
	scan_dnsbl_free(&g->dnsbl);
	for (size_t i = 0; i < g->ndnsbl_old; i++)
		scan_dnsbl_free(&g->dnsbl_old[i]);
	xfree(g->dnsbl_old);
	g->dnsbl_old = NULL;
	g->ndnsbl_old = 0;
	if (g->retire_timer)
		event_free(g->retire_timer);
	g->retire_timer = NULL;
}

void gw_accept_dnsbl_stop(struct gw *g)
{
	if (!g->dnsbl) {
		dnsbl_free_all(g);
		return;
	}
	struct scan_dnsbl_stats st;
	scan_dnsbl_stats(g->dnsbl, &st);
	log_info("event=dnsbl_stats lookups=%llu cache_hits=%llu queries=%llu timeouts=%llu cached=%zu",
		 (unsigned long long)st.lookups, (unsigned long long)st.cache_hits, (unsigned long long)st.queries,
		 (unsigned long long)st.timeouts, st.cached);
	struct scan_dnsbl_zone_stats zs[SCAN_DNSBL_ZONES_MAX];
	size_t nz = scan_dnsbl_zone_stats(g->dnsbl, zs, SCAN_DNSBL_ZONES_MAX);
	for (size_t i = 0; i < nz && i < SCAN_DNSBL_ZONES_MAX; i++)
		log_info("event=dnsbl_zone_stats zone=%s hits=%llu queries=%llu disabled=%s", zs[i].zone,
			 (unsigned long long)zs[i].hits, (unsigned long long)zs[i].queries, zs[i].disabled ? "yes" : "no");
	dnsbl_free_all(g);
}

/* 554 when s is listed at or above dnsbl_reject_threshold; else code 0. */
static void verdict(const struct dsess *s, struct mail_reply *reply)
{
	int t = s->g->conf->dnsbl_reject_threshold;
	memset(reply, 0, sizeof *reply);
	if (t > 0 && s->weight >= t)
		mail_reply_set(reply, 554, "5.7.1", "Service unavailable; client [%s] blocked using %s%s%s", s->ip, s->zone,
			       s->txt[0] ? "; " : "", s->txt);
}

static void on_result(void *arg, const struct scan_dnsbl_result *r)
{
	struct dsess *s = arg;
	struct gw *g = s->g;
	s->lookup = 0;
	s->done = true;
	s->weight = r->weight;
	struct buf zones;
	buf_init(&zones);
	int best = 0;
	for (size_t i = 0; i < r->nhits; i++) {
		const struct scan_dnsbl_hit *h = &r->hits[i];
		if (i == 0 || strcmp(r->hits[i - 1].zone, h->zone) != 0) /* hits come grouped by zone */
			buf_printf(&zones, "%s%s", zones.len ? "," : "", h->zone);
		if (h->weight > best) {
			best = h->weight;
			snprintf(s->zone, sizeof s->zone, "%s", h->zone);
			snprintf(s->txt, sizeof s->txt, "%s", h->txt);
		}
	}
	log_info("session=%llu event=dnsbl client=%s weight=%d hits=%s listed=%s%s", (unsigned long long)s->session,
		 s->ip, s->weight, zones.len ? zones.data : "-", s->weight >= g->conf->dnsbl_threshold ? "yes" : "no",
		 r->incomplete ? " incomplete=yes" : "");
	buf_fini(&zones);
	if (s->weight >= g->conf->dnsbl_threshold) {
		struct gw_event ev = { .type = GW_EV_DNSBL_LISTED, .session = s->session };
		ev.u.dnsbl.client = s->ip;
		ev.u.dnsbl.weight = s->weight;
		gw_emit(g, &ev);
	}
	if (!s->rcpt_waiting)
		return;
	s->rcpt_waiting = false;
	struct mail_reply reply;
	verdict(s, &reply);
	s->then(s->then_arg, s->session, s->rcpt, s->trusted, &reply);
}

bool gw_accept_dnsbl_wanted(const struct gw *g, const struct net_addr *a)
{
	if (!g->dnsbl || net_cidr_list_match(&g->conf->mynetworks.list, a))
		return false;
	return g->conf->dnsbl_check_private || !scan_dnsbl_private(a);
}

void gw_accept_dnsbl_connect(struct gw *g, const struct smtp_client_info *ci)
{
	if (!gw_accept_dnsbl_wanted(g, &ci->addr))
		return;
	struct dsess *s = xcalloc(1, sizeof *s);
	s->g = g;
	s->bl = g->dnsbl;
	s->session = ci->session_id;
	snprintf(s->ip, sizeof s->ip, "%s", ci->ip);
	map_putu(g->dnsbl_sess, s->session, s);
	s->lookup = scan_dnsbl_lookup(g->dnsbl, &ci->addr, on_result, s);
}

enum smtp_hook gw_accept_dnsbl_rcpt(struct gw *g, const struct smtp_client_info *ci, const char *rcpt, bool trusted,
				    struct mail_reply *reply, gw_accept_dnsbl_then_fn then, void *then_arg)
{
	struct dsess *s = g->dnsbl_sess ? map_getu(g->dnsbl_sess, ci->session_id) : NULL;
	memset(reply, 0, sizeof *reply);
	if (!s || g->conf->dnsbl_reject_threshold <= 0)
		return SMTP_HOOK_DONE;
	if (s->done) {
		verdict(s, reply);
		return SMTP_HOOK_DONE;
	}
	s->rcpt_waiting = true;
	s->trusted = trusted;
	snprintf(s->rcpt, sizeof s->rcpt, "%s", rcpt);
	s->then = then;
	s->then_arg = then_arg;
	return SMTP_HOOK_ASYNC;
}

void gw_accept_dnsbl_disconnect(struct gw *g, const struct smtp_client_info *ci)
{
	struct dsess *s = g->dnsbl_sess ? map_delu(g->dnsbl_sess, ci->session_id) : NULL;
	if (!s)
		return;
	if (s->lookup)
		scan_dnsbl_cancel(s->bl, s->lookup);
	xfree(s);
}
