/*
 * deliver_mx.c - destination -> addresses (RFC 5321 5.1).
 *
 * A destination is a list of hops (a mailertable host list, or the single
 * relayhost / recipient-domain hop) walked in order; their addresses make
 * one list. With MX lookup: MX records by preference (equal ones shuffled
 * by dns.c), each host's A/AAAA in turn. No MX record: the domain itself is
 * the implicit MX. A null MX (RFC 7505) means the domain accepts no mail
 * (556 5.1.10). NXDOMAIN is permanent (5.4.4); anything temporary is 4.4.3.
 * Without MX lookup ([host]): the host's own A/AAAA. For SMTP, an MX host
 * that is us (named myhostname, or at one of our listening address+port)
 * is dropped with every MX of equal or lower preference; if nothing is left
 * (and no better MX failed only temporarily) the mail loops (554 5.4.6). A hop that yields no address is passed over;
 * when none yields any, the reply is the first hop's, or the first
 * temporary one (a later attempt may succeed). At most smtp_mx_address_limit
 * addresses, per hop when the hops have equal preference (each connection
 * then takes the hops in its own random order). The list is kept on the
 * destination for a minute so new connections do not look it up again.
 */
#include <string.h>
#include <sys/random.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "deliver/deliver_int.h"
#include "dns/dns.h"

struct mxwalk {
	struct deliver *dl;
	struct ddest *d;
	size_t hop;	  /* the hop being walked */
	size_t hop_start; /* its first entry in v */
	struct dns_mx *mx; /* its MX hosts (NULL: A/AAAA only) */
	size_t nmx, i;
	bool looped; /* an MX host of this hop is us */
	enum dns_status worst;
	char why[400];
	struct daddr *v;
	size_t n, cap;
	struct mail_reply err; /* why the hops walked so far gave nothing */
};

static void start_hop(struct mxwalk *w);

static const struct dhop *HOP(const struct mxwalk *w)
{
	return &w->d->hops[w->hop];
}

static void walk_finish(struct mxwalk *w, const struct mail_reply *err)
{
	struct ddest *d = w->d;
	d->resolving = false;
	d->dns_id = 0;
	if (!err) {
		xfree(d->addrs);
		d->addrs = w->v;
		d->naddrs = w->n;
		d->resolved_at = clock_now_s();
		w->v = NULL;
	} else {
		d->naddrs = 0;
		/* the next hop cannot be resolved: that is true for every job
		 * waiting for it, not only for the connections asking */
		deliver_dest_fail_all(w->dl, d, err);
	}
	struct dconn *c = d->waiting_dns;
	d->waiting_dns = NULL;
	while (c) {
		struct dconn *next = c->next_wait;
		c->next_wait = NULL;
		if (err)
			deliver_conn_fail_later(c, err);
		else
			deliver_conn_start(c);
		c = next;
	}
	xfree(w->mx);
	xfree(w->v);
	xfree(w);
}

/* Addresses this hop may still add. */
static size_t room(const struct mxwalk *w)
{
	size_t limit = (size_t)deliver_conf_of(w->dl)->mx_addr_limit;
	size_t used = w->d->hops_equal ? w->n - w->hop_start : w->n;
	return used < limit ? limit - used : 0;
}

static void add_addrs(struct mxwalk *w, const char *name, int pref, const struct net_addr *a, size_t n)
{
	for (size_t i = 0; i < n && room(w) > 0; i++) {
		if (w->n == w->cap) {
			w->cap = w->cap ? w->cap * 2 : 8;
			w->v = xrealloc(w->v, w->cap * sizeof *w->v);
		}
		struct daddr *e = &w->v[w->n++];
		e->addr = a[i];
		snprintf(e->name, sizeof e->name, "%s", name);
		e->pref = pref;
		e->hop = w->hop;
	}
}

size_t deliver_mx_drop_from(struct daddr *v, size_t from, size_t n, int pref)
{
	size_t k = from;
	for (size_t i = from; i < n; i++) {
		if (v[i].pref < pref)
			v[k++] = v[i];
	}
	return k;
}

/* Self-loop checks apply to SMTP MX walks only: LMTP and [host] hops are
 * explicit choices of the configuration. */
static bool check_self(const struct mxwalk *w)
{
	return w->mx && w->d->proto == DELIVER_SMTP;
}

static bool host_is_self(const struct mxwalk *w, const struct net_addr *a, size_t n)
{
	const struct deliver_conf *cf = deliver_conf_of(w->dl);
	for (size_t i = 0; i < n; i++) {
		if (deliver_self_match(&a[i], cf->self_addrs, cf->nself))
			return true;
	}
	return false;
}

/* MX host i is us: it and every MX from its preference on are dropped. */
static void self_cut(struct mxwalk *w)
{
	int pref = w->mx[w->i].pref;
	size_t dropped = 0;
	for (size_t k = 0; k < w->nmx; k++)
		dropped += w->mx[k].pref >= pref;
	w->n = deliver_mx_drop_from(w->v, w->hop_start, w->n, pref);
	w->looped = true;
	log_info("event=mx_self_loop domain=%s mx=%s pref=%d dropped_mx=%zu kept_addrs=%zu", HOP(w)->host,
		 w->mx[w->i].host, pref, dropped, w->n - w->hop_start);
	w->i = w->nmx;
}

/* The hop gave nothing: remember why (the first reason, or the first
 * temporary one) and go on with the next hop. */
static void hop_fail(struct mxwalk *w, const struct mail_reply *r)
{
	if (w->err.code == 0 || (w->err.code >= 500 && r->code < 500))
		w->err = *r;
	w->hop++;
	start_hop(w);
}

static void hop_end(struct mxwalk *w)
{
	if (w->n > w->hop_start) {
		w->hop++;
		start_hop(w);
		return;
	}
	struct mail_reply r;
	if (w->looped && w->worst != DNS_TEMPFAIL)
		mail_reply_set(&r, 554, "5.4.6", "mail for %s loops back to myself", HOP(w)->host);
	else if (!w->mx && w->worst == DNS_NXDOMAIN)
		mail_reply_set(&r, 550, "5.4.4", "Host or domain name not found. %s", w->why);
	else if (!w->mx && w->worst == DNS_NOTFOUND)
		mail_reply_set(&r, 550, "5.4.4", "Host or domain name has no address. %s", w->why);
	else
		mail_reply_set(&r, 451, "4.4.3", "%s", w->why[0] ? w->why : "no address for the next hop");
	hop_fail(w, &r);
}

static void next_host(struct mxwalk *w);

static void on_host_addr(void *arg, enum dns_status st, const struct net_addr *a, size_t n, const char *why)
{
	struct mxwalk *w = arg;
	const char *name = w->mx ? w->mx[w->i].host : HOP(w)->host;
	if (st == DNS_OK && check_self(w) && host_is_self(w, a, n)) {
		self_cut(w);
	} else if (st == DNS_OK) {
		add_addrs(w, name, w->mx ? w->mx[w->i].pref : 0, a, n);
	} else {
		if (st == DNS_TEMPFAIL || w->worst != DNS_TEMPFAIL)
			w->worst = st;
		snprintf(w->why, sizeof w->why, "Name service error for name=%s type=A/AAAA: %s", name, why);
	}
	w->i++;
	next_host(w);
}

static void next_host(struct mxwalk *w)
{
	if (w->mx && w->i < w->nmx && room(w) > 0) {
		if (check_self(w) && str_caseeq(w->mx[w->i].host, deliver_conf_of(w->dl)->myhostname)) {
			self_cut(w);
			hop_end(w);
			return;
		}
		w->d->dns_id = dns_lookup_addr(deliver_dns(w->dl), w->mx[w->i].host, HOP(w)->port, on_host_addr, w);
		return;
	}
	hop_end(w);
}

static void on_mx(void *arg, enum dns_status st, const struct dns_mx *mx, size_t n, const char *why)
{
	struct mxwalk *w = arg;
	const char *host = HOP(w)->host;
	struct mail_reply r;
	switch (st) {
	case DNS_OK:
		if (n >= 1 && mx[0].host[0] == '\0') {
			mail_reply_set(&r, 556, "5.1.10", "Domain %s does not accept mail (null MX)", host);
			hop_fail(w, &r);
			return;
		}
		w->mx = xcalloc(n, sizeof *w->mx);
		for (size_t i = 0; i < n; i++) {
			if (mx[i].host[0])
				w->mx[w->nmx++] = mx[i];
		}
		w->i = 0;
		next_host(w);
		return;
	case DNS_NOTFOUND:
		/* no MX: the domain is its own mail host (implicit MX) */
		w->d->dns_id = dns_lookup_addr(deliver_dns(w->dl), host, HOP(w)->port, on_host_addr, w);
		return;
	case DNS_NXDOMAIN:
		mail_reply_set(&r, 550, "5.4.4",
			       "Host or domain name not found. Name service error for name=%s type=MX: %s", host, why);
		hop_fail(w, &r);
		return;
	case DNS_TEMPFAIL:
	default:
		mail_reply_set(&r, 451, "4.4.3", "Name service error for name=%s type=MX: %s", host, why);
		hop_fail(w, &r);
		return;
	}
}

static void start_hop(struct mxwalk *w)
{
	if (w->hop >= w->d->nhops || room(w) == 0) {
		if (w->n == 0 && w->err.code == 0) /* no hop at all (a unix socket path that does not fit) */
			mail_reply_set(&w->err, 451, "4.4.3", "no address for %s", w->d->name);
		walk_finish(w, w->n > 0 ? NULL : &w->err);
		return;
	}
	xfree(w->mx);
	w->mx = NULL;
	w->nmx = w->i = 0;
	w->looped = false;
	w->worst = DNS_OK;
	w->why[0] = '\0';
	w->hop_start = w->n;
	const struct dhop *h = HOP(w);
	if (h->mx)
		w->d->dns_id = dns_lookup_mx(deliver_dns(w->dl), h->host, on_mx, w);
	else
		w->d->dns_id = dns_lookup_addr(deliver_dns(w->dl), h->host, h->port, on_host_addr, w);
}

void deliver_mx_resolve(struct deliver *dl, struct ddest *d)
{
	struct mxwalk *w = xcalloc(1, sizeof *w);
	w->dl = dl;
	w->d = d;
	d->resolving = true;
	start_hop(w);
}

size_t deliver_mx_order(const struct ddest *d, size_t limit, size_t *order_out)
{
	size_t k = 0;
	if (!d->hops_equal || d->nhops < 2) {
		for (size_t i = 0; i < d->naddrs && k < limit; i++)
			order_out[k++] = i;
		return k;
	}
	size_t *perm = xcalloc(d->nhops, sizeof *perm);
	for (size_t i = 0; i < d->nhops; i++)
		perm[i] = i;
	for (size_t i = d->nhops; i > 1; i--) {
		uint32_t rnd = (uint32_t)i;
		if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
			rnd = (uint32_t)i;
		size_t j = rnd % i, t = perm[i - 1];
		perm[i - 1] = perm[j];
		perm[j] = t;
	}
	for (size_t h = 0; h < d->nhops; h++) {
		for (size_t i = 0; i < d->naddrs && k < limit; i++) {
			if (d->addrs[i].hop == perm[h])
				order_out[k++] = i;
		}
	}
	xfree(perm);
	return k;
}
