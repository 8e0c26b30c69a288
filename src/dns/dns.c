/*
 * dns.c - c-ares on libevent.
 *
 * c-ares tells us which sockets to watch (ARES_OPT_SOCK_STATE_CB); each
 * gets a persistent libevent event; one timer follows ares_timeout().
 * Each lookup is a struct dns_req in an id map. The c-ares callback only
 * stores the result; a zero-time event then hands it to the caller, so
 * callers are never re-entered. A per-request timer enforces dns_timeout.
 * A-with-TTL and TXT lookups use ares_query() on the exact name.
 */
#include "dns/dns.h"

#include <ares.h>
#include <arpa/inet.h>
#include <event2/event.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/ids.h"
#include "base/log.h"
#include "base/map.h"
#include "base/str.h"
#include "base/xalloc.h"

#define DNS_MAX_RESULTS 64

enum req_kind { REQ_MX, REQ_ADDR, REQ_PTR, REQ_A, REQ_TXT };

struct dns_req {
	uint64_t id;
	struct dns *d;
	enum req_kind kind;
	void *fn;
	void *arg;
	int port;
	bool done;	/* result stored, delivery scheduled */
	bool cancelled;
	bool ares_busy; /* c-ares still holds a pointer to us */
	struct event *ev; /* timeout, then delivery */
	enum dns_status st;
	char why[128];
	size_t n;
	struct dns_mx *mx;
	struct net_addr *addrs;
	struct dns_a *a;
	char *txt;
	char name[DNS_NAME_MAX + 1];
};

struct dns {
	struct event_base *base;
	ares_channel ch;
	struct event *timer;
	struct map *socks; /* fd -> struct event */
	struct map *reqs;  /* id -> struct dns_req */
	int timeout_s;
	bool destroying;
};

const char *dns_status_str(enum dns_status s)
{
	switch (s) {
	case DNS_OK: return "ok";
	case DNS_NOTFOUND: return "no data";
	case DNS_NXDOMAIN: return "host not found";
	case DNS_TEMPFAIL: return "temporary failure";
	}
	return "?";
}

static void resched(struct dns *d)
{
	struct timeval tv, *t = ares_timeout(d->ch, NULL, &tv);
	if (t)
		evtimer_add(d->timer, t);
	else
		evtimer_del(d->timer);
}

static void on_sock(evutil_socket_t fd, short what, void *arg)
{
	struct dns *d = arg;
	ares_process_fd(d->ch, (what & EV_READ) ? fd : ARES_SOCKET_BAD, (what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	resched(d);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct dns *d = arg;
	ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	resched(d);
}

static void sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns *d = data;
	struct event *ev = map_get(d->socks, &fd, sizeof fd);
	if (ev) {
		event_free(ev);
		map_del(d->socks, &fd, sizeof fd);
	}
	if (!readable && !writable)
		return;
	ev = event_new(d->base, fd, (short)((readable ? EV_READ : 0) | (writable ? EV_WRITE : 0) | EV_PERSIST), on_sock, d);
	event_add(ev, NULL);
	map_put(d->socks, &fd, sizeof fd, ev);
}

static void req_free(struct dns_req *r)
{
	map_delu(r->d->reqs, r->id);
	if (r->ev)
		event_free(r->ev);
	xfree(r->mx);
	xfree(r->addrs);
	xfree(r->a);
	xfree(r->txt);
	xfree(r);
}

/* Zero-time event: hand the stored result to the caller. */
static void on_deliver(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct dns_req *r = arg;
	if (!r->cancelled) {
		const char *why = r->why[0] ? r->why : dns_status_str(r->st);
		switch (r->kind) {
		case REQ_MX:
			((dns_mx_fn)r->fn)(r->arg, r->st, r->mx, r->n, why);
			break;
		case REQ_ADDR:
			((dns_addr_fn)r->fn)(r->arg, r->st, r->addrs, r->n, why);
			break;
		case REQ_PTR:
			((dns_name_fn)r->fn)(r->arg, r->st, r->name, why);
			break;
		case REQ_A:
			((dns_a_fn)r->fn)(r->arg, r->st, r->a, r->n, why);
			break;
		case REQ_TXT:
			((dns_txt_fn)r->fn)(r->arg, r->st, r->txt ? r->txt : "", why);
			break;
		}
	}
	if (r->ares_busy) {
		/* c-ares still owns a pointer (timeout fired first): it frees
		 * the request when its callback finally comes */
		r->cancelled = true;
		event_free(r->ev);
		r->ev = NULL;
		return;
	}
	req_free(r);
}

static void finish(struct dns_req *r, enum dns_status st, const char *why)
{
	if (r->done)
		return;
	r->done = true;
	r->st = st;
	if (why)
		snprintf(r->why, sizeof r->why, "%s", why);
	event_del(r->ev);
	event_assign(r->ev, r->d->base, -1, 0, on_deliver, r);
	struct timeval zero = { 0, 0 };
	event_add(r->ev, &zero);
}

static void on_req_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct dns_req *r = arg;
	char why[64];
	snprintf(why, sizeof why, "timeout after %ds", r->d->timeout_s);
	finish(r, DNS_TEMPFAIL, why);
}

static struct dns_req *req_new(struct dns *d, enum req_kind kind, void *fn, void *arg)
{
	struct dns_req *r = xcalloc(1, sizeof *r);
	r->id = ids_next();
	r->d = d;
	r->kind = kind;
	r->fn = fn;
	r->arg = arg;
	r->ev = event_new(d->base, -1, 0, on_req_timeout, r);
	struct timeval tv = { d->timeout_s, 0 };
	event_add(r->ev, &tv);
	map_putu(d->reqs, r->id, r);
	return r;
}

/* c-ares is done with r. Returns true if the caller should store the
 * result; false if r was already answered (timeout) or cancelled, in which
 * case r is freed here or by its pending delivery event. */
static bool ares_release(struct dns_req *r)
{
	r->ares_busy = false;
	if (r->done) {
		if (!r->ev)
			req_free(r); /* the delivery already ran */
		return false;	     /* else the pending delivery frees it */
	}
	if (r->cancelled) {
		req_free(r);
		return false;
	}
	return true;
}

static enum dns_status map_status(int status)
{
	switch (status) {
	case ARES_SUCCESS: return DNS_OK;
	case ARES_ENODATA: return DNS_NOTFOUND;
	case ARES_ENOTFOUND: return DNS_NXDOMAIN;
	default: return DNS_TEMPFAIL;
	}
}

/* The start of an ares_query() callback: false when r was answered
 * already (timeout), cancelled, or the query failed (r then finished). */
static bool query_ok(struct dns_req *r, int status)
{
	if (!ares_release(r))
		return false;
	if (status != ARES_SUCCESS) {
		finish(r, map_status(status), ares_strerror(status));
		return false;
	}
	return true;
}

/* rc of an ares_parse_*_reply(): false (r finished) when it failed. */
static bool parse_ok(struct dns_req *r, int rc)
{
	if (rc == ARES_SUCCESS)
		return true;
	finish(r, rc == ARES_ENODATA ? DNS_NOTFOUND : DNS_TEMPFAIL, ares_strerror(rc));
	return false;
}

static int mx_cmp(const void *a, const void *b)
{
	const struct dns_mx *x = a, *y = b;
	return x->pref - y->pref;
}

static void on_mx(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	(void)timeouts;
	struct dns_req *r = arg;
	if (!query_ok(r, status))
		return;
	struct ares_mx_reply *mx = NULL;
	if (!parse_ok(r, ares_parse_mx_reply(abuf, alen, &mx)))
		return;
	size_t n = 0;
	for (struct ares_mx_reply *m = mx; m && n < DNS_MAX_RESULTS; m = m->next)
		n++;
	r->mx = xcalloc(n ? n : 1, sizeof *r->mx);
	size_t k = 0;
	for (struct ares_mx_reply *m = mx; m && k < n; m = m->next) {
		const char *h = m->host ? m->host : "";
		if (strcmp(h, ".") == 0)
			h = "";
		if (str_copy(r->mx[k].host, sizeof r->mx[k].host, h) < 0)
			continue; /* over-long name: skip the record */
		size_t hl = strlen(r->mx[k].host);
		if (hl && r->mx[k].host[hl - 1] == '.')
			r->mx[k].host[hl - 1] = '\0';
		r->mx[k].pref = m->priority;
		k++;
	}
	ares_free_data(mx);
	/* shuffle, then a stable sort by preference: equal ones stay shuffled */
	for (size_t i = k; i > 1; i--) {
		uint32_t rnd = 0;
		if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
			rnd = (uint32_t)i;
		size_t j = rnd % i;
		struct dns_mx t = r->mx[i - 1];
		r->mx[i - 1] = r->mx[j];
		r->mx[j] = t;
	}
	/* insertion sort: stable */
	for (size_t i = 1; i < k; i++) {
		struct dns_mx t = r->mx[i];
		size_t j = i;
		while (j > 0 && mx_cmp(&r->mx[j - 1], &t) > 0) {
			r->mx[j] = r->mx[j - 1];
			j--;
		}
		r->mx[j] = t;
	}
	r->n = k;
	finish(r, k ? DNS_OK : DNS_NOTFOUND, NULL);
}

static void on_addr(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
	(void)timeouts;
	struct dns_req *r = arg;
	if (!ares_release(r)) {
		if (res)
			ares_freeaddrinfo(res);
		return;
	}
	if (status != ARES_SUCCESS || !res) {
		if (res)
			ares_freeaddrinfo(res);
		finish(r, map_status(status == ARES_SUCCESS ? ARES_ENODATA : status), ares_strerror(status));
		return;
	}
	size_t n = 0;
	for (struct ares_addrinfo_node *x = res->nodes; x; x = x->ai_next)
		n++;
	if (n > DNS_MAX_RESULTS)
		n = DNS_MAX_RESULTS;
	r->addrs = xcalloc(n ? n : 1, sizeof *r->addrs);
	size_t k = 0;
	for (struct ares_addrinfo_node *x = res->nodes; x && k < n; x = x->ai_next) {
		if (x->ai_family != AF_INET && x->ai_family != AF_INET6)
			continue;
		net_addr_from_sa(&r->addrs[k], x->ai_addr, (socklen_t)x->ai_addrlen);
		net_addr_set_port(&r->addrs[k], r->port);
		k++;
	}
	ares_freeaddrinfo(res);
	r->n = k;
	finish(r, k ? DNS_OK : DNS_NOTFOUND, NULL);
}

static void on_ptr(void *arg, int status, int timeouts, struct hostent *he)
{
	(void)timeouts;
	struct dns_req *r = arg;
	if (!ares_release(r))
		return;
	if (status != ARES_SUCCESS || !he || !he->h_name) {
		finish(r, map_status(status == ARES_SUCCESS ? ARES_ENODATA : status), ares_strerror(status));
		return;
	}
	str_copy(r->name, sizeof r->name, he->h_name);
	finish(r, DNS_OK, NULL);
}

static void on_a(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	(void)timeouts;
	struct dns_req *r = arg;
	if (!query_ok(r, status))
		return;
	struct ares_addrttl at[DNS_A_MAX];
	int n = DNS_A_MAX;
	if (!parse_ok(r, ares_parse_a_reply(abuf, alen, NULL, at, &n)))
		return;
	r->a = xcalloc(n > 0 ? (size_t)n : 1, sizeof *r->a);
	for (int i = 0; i < n; i++) {
		memcpy(r->a[i].ip, &at[i].ipaddr, 4);
		r->a[i].ttl = at[i].ttl > 0 ? (uint32_t)at[i].ttl : 0;
	}
	r->n = (size_t)n;
	finish(r, n > 0 ? DNS_OK : DNS_NOTFOUND, NULL);
}

static void on_txt(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	(void)timeouts;
	struct dns_req *r = arg;
	if (!query_ok(r, status))
		return;
	struct ares_txt_ext *txt = NULL;
	if (!parse_ok(r, ares_parse_txt_reply_ext(abuf, alen, &txt)))
		return;
	size_t len = 0;
	r->txt = xmalloc(DNS_TXT_MAX + 1);
	for (struct ares_txt_ext *t = txt; t; t = t->next) {
		if (t->record_start && t != txt)
			break; /* the first record only */
		size_t k = t->length < DNS_TXT_MAX - len ? t->length : DNS_TXT_MAX - len;
		memcpy(r->txt + len, t->txt, k);
		len += k;
	}
	r->txt[len] = '\0';
	ares_free_data(txt);
	finish(r, DNS_OK, NULL);
}

struct dns *dns_new(struct event_base *base, const char *servers, int timeout_s, char *err, size_t errlen)
{
	static int lib_init;
	if (!lib_init) {
		int rc = ares_library_init(ARES_LIB_INIT_ALL);
		if (rc != ARES_SUCCESS) {
			snprintf(err, errlen, "ares_library_init: %s", ares_strerror(rc));
			return NULL;
		}
		lib_init = 1;
	}
	struct dns *d = xcalloc(1, sizeof *d);
	d->base = base;
	d->timeout_s = timeout_s > 0 ? timeout_s : 10;
	d->socks = map_new();
	d->reqs = map_new();
	struct ares_options o;
	memset(&o, 0, sizeof o);
	o.sock_state_cb = sock_state;
	o.sock_state_cb_data = d;
	o.flags = ARES_FLAG_NOSEARCH;
	o.lookups = (char *)"b"; /* DNS only: MX hosts are not looked up in /etc/hosts */
	o.tries = 2;
	o.timeout = d->timeout_s * 1000 / 4 > 0 ? d->timeout_s * 1000 / 4 : 500;
	int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_FLAGS | ARES_OPT_LOOKUPS | ARES_OPT_TRIES | ARES_OPT_TIMEOUTMS;
	int rc = ares_init_options(&d->ch, &o, mask);
	if (rc != ARES_SUCCESS) {
		snprintf(err, errlen, "ares_init_options: %s", ares_strerror(rc));
		map_free(&d->socks);
		map_free(&d->reqs);
		xfree(d);
		return NULL;
	}
	if (servers && *servers) {
		/* "a:p b:p" -> "a:p,b:p" as c-ares wants */
		char *csv = xstrdup(servers);
		for (char *p = csv; *p; p++) {
			if (*p == ' ' || *p == '\t')
				*p = ',';
		}
		rc = ares_set_servers_ports_csv(d->ch, csv);
		xfree(csv);
		if (rc != ARES_SUCCESS) {
			snprintf(err, errlen, "dns_servers \"%s\": %s", servers, ares_strerror(rc));
			ares_destroy(d->ch);
			map_free(&d->socks);
			map_free(&d->reqs);
			xfree(d);
			return NULL;
		}
	}
	d->timer = evtimer_new(base, on_timer, d);
	return d;
}

void dns_free(struct dns **dp)
{
	struct dns *d = *dp;
	if (!d)
		return;
	/* cancel everything: no callbacks to the users from here on */
	size_t pos = 0;
	void *v;
	while (map_next(d->reqs, &pos, NULL, NULL, &v))
		((struct dns_req *)v)->cancelled = true;
	d->destroying = true;
	ares_destroy(d->ch); /* runs the c-ares callbacks with ARES_EDESTRUCTION */
	/* whatever is left had its delivery scheduled: free it now */
	size_t n = map_count(d->reqs), k = 0;
	struct dns_req **left = xcalloc(n ? n : 1, sizeof *left);
	pos = 0;
	while (k < n && map_next(d->reqs, &pos, NULL, NULL, &v))
		left[k++] = v;
	for (size_t i = 0; i < k; i++)
		req_free(left[i]);
	xfree(left);
	pos = 0;
	while (map_next(d->socks, &pos, NULL, NULL, &v))
		event_free(v);
	map_free(&d->socks);
	map_free(&d->reqs);
	event_free(d->timer);
	xfree(d);
	*dp = NULL;
}

/* ares_query() of the exact name with one of our callbacks. */
static uint64_t query(struct dns *d, enum req_kind kind, const char *name, int type, ares_callback cb, void *fn,
		      void *arg)
{
	struct dns_req *r = req_new(d, kind, fn, arg);
	r->ares_busy = true;
	ares_query(d->ch, name, 1 /* C_IN */, type, cb, r);
	resched(d);
	return r->id;
}

uint64_t dns_lookup_mx(struct dns *d, const char *name, dns_mx_fn fn, void *arg)
{
	return query(d, REQ_MX, name, 15 /* T_MX */, on_mx, (void *)fn, arg);
}

uint64_t dns_lookup_addr(struct dns *d, const char *name, int port, dns_addr_fn fn, void *arg)
{
	struct dns_req *r = req_new(d, REQ_ADDR, (void *)fn, arg);
	r->port = port;
	struct net_addr lit;
	if (net_addr_parse(name, port, &lit) == 0) {
		r->addrs = xmalloc(sizeof *r->addrs);
		r->addrs[0] = lit;
		r->n = 1;
		finish(r, DNS_OK, NULL);
		return r->id;
	}
	struct ares_addrinfo_hints h;
	memset(&h, 0, sizeof h);
	h.ai_family = AF_UNSPEC;
	h.ai_socktype = SOCK_STREAM;
	r->ares_busy = true;
	ares_getaddrinfo(d->ch, name, NULL, &h, on_addr, r);
	resched(d);
	return r->id;
}

uint64_t dns_lookup_ptr(struct dns *d, const struct net_addr *a, dns_name_fn fn, void *arg)
{
	struct dns_req *r = req_new(d, REQ_PTR, (void *)fn, arg);
	char ip[NET_ADDR_STRLEN];
	unsigned char bin[16];
	net_addr_ip(a, ip, sizeof ip);
	int fam = strchr(ip, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(fam, ip, bin) != 1) {
		finish(r, DNS_TEMPFAIL, "bad address");
		return r->id;
	}
	r->ares_busy = true;
	ares_gethostbyaddr(d->ch, bin, fam == AF_INET ? 4 : 16, fam, on_ptr, r);
	resched(d);
	return r->id;
}

uint64_t dns_lookup_a_ttl(struct dns *d, const char *name, dns_a_fn fn, void *arg)
{
	return query(d, REQ_A, name, 1 /* T_A */, on_a, (void *)fn, arg);
}

uint64_t dns_lookup_txt(struct dns *d, const char *name, dns_txt_fn fn, void *arg)
{
	return query(d, REQ_TXT, name, 16 /* T_TXT */, on_txt, (void *)fn, arg);
}

void dns_cancel(struct dns *d, uint64_t id)
{
	struct dns_req *r = map_getu(d->reqs, id);
	if (r)
		r->cancelled = true;
}
