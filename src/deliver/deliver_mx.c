/*
 * deliver_mx.c - next hop -> addresses (RFC 5321 5.1).
 *
 * With MX lookup: MX records by preference (equal ones shuffled by dns.c),
 * each host's A/AAAA in turn, at most smtp_mx_address_limit addresses. No
 * MX record: the domain itself is the implicit MX. A null MX (RFC 7505)
 * means the domain accepts no mail (556 5.1.10). NXDOMAIN is permanent
 * (5.4.4); anything temporary is 4.4.3. Without MX lookup ([host] in
 * relayhost): the host's own A/AAAA. The list is kept on the destination
 * for a minute so new connections do not look it up again.
 */
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "deliver/deliver_int.h"
#include "dns/dns.h"

#define NAME_SZ 256

struct mxwalk {
	struct deliver *dl;
	struct ddest *d;
	struct dns_mx *mx;
	size_t nmx, i;
	struct net_addr *addrs;
	char *names;
	size_t n, cap;
	enum dns_status worst;
	char why[400];
};

static void walk_finish(struct mxwalk *w, const struct mail_reply *err)
{
	struct ddest *d = w->d;
	d->resolving = false;
	d->dns_id = 0;
	if (!err) {
		xfree(d->addrs);
		xfree(d->addr_names);
		d->addrs = w->addrs;
		d->addr_names = w->names;
		d->naddrs = w->n;
		d->resolved_at = clock_now_s();
		w->addrs = NULL;
		w->names = NULL;
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
	xfree(w->addrs);
	xfree(w->names);
	xfree(w);
}

static void add_addrs(struct mxwalk *w, const char *name, const struct net_addr *a, size_t n)
{
	size_t limit = (size_t)deliver_conf_of(w->dl)->mx_addr_limit;
	for (size_t i = 0; i < n && w->n < limit; i++) {
		if (w->n == w->cap) {
			w->cap = w->cap ? w->cap * 2 : 8;
			w->addrs = xrealloc(w->addrs, w->cap * sizeof *w->addrs);
			w->names = xrealloc(w->names, w->cap * NAME_SZ);
		}
		w->addrs[w->n] = a[i];
		snprintf(w->names + w->n * NAME_SZ, NAME_SZ, "%s", name);
		w->n++;
	}
}

static void next_host(struct mxwalk *w);

static void on_host_addr(void *arg, enum dns_status st, const struct net_addr *a, size_t n, const char *why)
{
	struct mxwalk *w = arg;
	const char *name = w->mx ? w->mx[w->i].host : w->d->host;
	if (st == DNS_OK) {
		add_addrs(w, name, a, n);
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
	size_t limit = (size_t)deliver_conf_of(w->dl)->mx_addr_limit;
	if (w->mx && w->i < w->nmx && w->n < limit) {
		w->d->dns_id = dns_lookup_addr(deliver_dns(w->dl), w->mx[w->i].host, w->d->port, on_host_addr, w);
		return;
	}
	if (w->n > 0) {
		walk_finish(w, NULL);
		return;
	}
	struct mail_reply r;
	if (!w->mx && w->worst == DNS_NXDOMAIN)
		mail_reply_set(&r, 550, "5.4.4", "Host or domain name not found. %s", w->why);
	else if (!w->mx && w->worst == DNS_NOTFOUND)
		mail_reply_set(&r, 550, "5.4.4", "Host or domain name has no address. %s", w->why);
	else
		mail_reply_set(&r, 451, "4.4.3", "%s", w->why[0] ? w->why : "no address for the next hop");
	walk_finish(w, &r);
}

static void on_mx(void *arg, enum dns_status st, const struct dns_mx *mx, size_t n, const char *why)
{
	struct mxwalk *w = arg;
	struct mail_reply r;
	switch (st) {
	case DNS_OK:
		if (n >= 1 && mx[0].host[0] == '\0') {
			mail_reply_set(&r, 556, "5.1.10", "Domain %s does not accept mail (null MX)", w->d->host);
			walk_finish(w, &r);
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
		w->d->dns_id = dns_lookup_addr(deliver_dns(w->dl), w->d->host, w->d->port, on_host_addr, w);
		return;
	case DNS_NXDOMAIN:
		mail_reply_set(&r, 550, "5.4.4",
			       "Host or domain name not found. Name service error for name=%s type=MX: %s", w->d->host,
			       why);
		walk_finish(w, &r);
		return;
	case DNS_TEMPFAIL:
	default:
		mail_reply_set(&r, 451, "4.4.3", "Name service error for name=%s type=MX: %s", w->d->host, why);
		walk_finish(w, &r);
		return;
	}
}

void deliver_mx_resolve(struct deliver *dl, struct ddest *d)
{
	struct mxwalk *w = xcalloc(1, sizeof *w);
	w->dl = dl;
	w->d = d;
	w->worst = DNS_OK;
	d->resolving = true;
	if (d->mx)
		d->dns_id = dns_lookup_mx(deliver_dns(dl), d->host, on_mx, w);
	else
		d->dns_id = dns_lookup_addr(deliver_dns(dl), d->host, d->port, on_host_addr, w);
}
