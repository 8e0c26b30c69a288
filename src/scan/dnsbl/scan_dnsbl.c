/*
 * scan_dnsbl.c - DNSBL lookups on the event loop: cache, collapsing,
 * timeouts, TXT reasons, zone self-tests (see scan_dnsbl.h for the rules).
 *
 * One struct entry per client address holds one struct zres per zone: the
 * listing answers and TXT of that zone and when they expire. A lookup
 * queries the zones whose result is missing or expired and waits, with
 * every other waiter of the address, until no query of the entry is
 * pending; a per-entry timer ends the round after timeout_s (pending zones
 * then count as failed: not cached, result incomplete). Waiters are always
 * answered from a zero-time event or a DNS callback, never inline.
 * The cache holds at most SCAN_DNSBL_CACHE_MAX addresses: expired entries
 * are swept every ttl_min_s; beyond the limit new entries are not kept
 * after their round.
 */
#include <event2/event.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "base/ids.h"
#include "base/log.h"
#include "base/map.h"
#include "base/xalloc.h"
#include "dns/dns.h"
#include "scan/dnsbl/scan_dnsbl.h"
#include "scan/dnsbl/scan_dnsbl_int.h"

enum zr_state { ZR_EMPTY, ZR_PENDING, ZR_DONE };

struct entry;

struct zres {
	struct entry *e;
	size_t zi;
	enum zr_state st;
	bool txt_phase;
	uint64_t qid; /* DNS query in flight */
	uint8_t ans[DNS_A_MAX][4]; /* listing answers only */
	size_t nans;
	char txt[SCAN_DNSBL_TXT_MAX + 1];
	int64_t expires_us; /* monotonic */
};

struct waiter {
	uint64_t id;
	struct entry *e;
	scan_dnsbl_fn fn;
	void *arg;
	struct waiter *next;
};

struct entry {
	struct scan_dnsbl *d;
	char key[NET_ADDR_STRLEN];
	struct net_addr addr;
	struct zres *z;
	size_t pending;
	bool incomplete; /* of the current round */
	bool transient;	 /* cache full: freed after the round */
	bool delivering; /* inside entry_deliver: not to be freed */
	struct waiter *head, *tail;
	struct event *timer;   /* round timeout */
	struct event *deliver; /* zero-time delivery */
};

/* A self-test query: 127.0.0.2 (must be listed) or 127.0.0.1 (must not). */
struct probe {
	struct zone *z;
	int octet; /* 2 or 1 */
	uint64_t id;
	bool pending;
};

struct zone {
	struct scan_dnsbl *d;
	const char *name;
	bool disabled;
	uint64_t hits, queries;
	struct probe probe[2];
	bool test_fail, test_unsure;
	char test_why[160];
	bool tested; /* a self-test finished with a verdict */
};

struct scan_dnsbl {
	struct event_base *base;
	struct dns *dns;
	struct scan_dnsbl_conf conf;
	struct scan_dnsbl_sites *sites;
	struct zone *zones;
	size_t nzones;
	struct map *cache;   /* ip string -> struct entry */
	struct map *waiters; /* id -> struct waiter */
	struct event *sweep, *retest;
	int64_t full_sweep_us; /* last sweep because the cache was full */
	struct scan_dnsbl_stats st;
};

static void fmt_ip4(const uint8_t *b, char *out, size_t size)
{
	snprintf(out, size, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
}

/* ---------------------------------------------------------------- zones */

static void zone_disable(struct zone *z, const char *why)
{
	if (z->disabled)
		return;
	z->disabled = true;
	log_warn("event=dnsbl_zone_disabled zone=%s reason=\"%s\" retest=%ds", z->name, why, z->d->conf.retest_s);
}

static void probe_verdict(struct zone *z)
{
	if (z->probe[0].pending || z->probe[1].pending)
		return;
	if (z->test_fail) {
		z->tested = true;
		zone_disable(z, z->test_why);
		return;
	}
	if (z->test_unsure) {
		log_warn("event=dnsbl_zone_untested zone=%s reason=\"%s\" retest=%ds", z->name, z->test_why,
			 z->d->conf.retest_s);
		return;
	}
	z->tested = true;
	if (z->disabled)
		log_warn("event=dnsbl_zone_enabled zone=%s reason=\"self-test passed\"", z->name);
	else
		log_info("event=dnsbl_zone_ok zone=%s", z->name);
	z->disabled = false;
}

static void probe_fail(struct zone *z, const char *why)
{
	z->test_fail = true;
	snprintf(z->test_why, sizeof z->test_why, "%s", why);
}

static void on_probe(void *arg, enum dns_status st, const struct dns_a *a, size_t n, const char *why)
{
	struct probe *p = arg;
	struct zone *z = p->z;
	p->pending = false;
	char ip[16] = "";
	for (size_t i = 0; st == DNS_OK && i < n; i++) {
		if (scan_dnsbl_classify(a[i].ip) != SCAN_DNSBL_LISTED) {
			char msg[128];
			fmt_ip4(a[i].ip, ip, sizeof ip);
			snprintf(msg, sizeof msg, "answered %s to the self-test: not a listing (error code or outside "
				 "127.0.0.0/8)", ip);
			probe_fail(z, msg);
		}
	}
	if (st == DNS_TEMPFAIL) {
		z->test_unsure = true;
		snprintf(z->test_why, sizeof z->test_why, "self-test query failed: %s", why);
	} else if (!ip[0] && p->octet == 2 && st != DNS_OK) {
		probe_fail(z, "the RFC 5782 test entry 127.0.0.2 is not listed");
	} else if (!ip[0] && p->octet == 1 && st == DNS_OK) {
		probe_fail(z, "127.0.0.1 is listed (RFC 5782: it must not be): the zone lists everything");
	}
	probe_verdict(z);
}

static void zone_selftest(struct zone *z)
{
	if (z->probe[0].pending || z->probe[1].pending)
		return;
	z->test_fail = z->test_unsure = false;
	z->test_why[0] = '\0';
	for (int i = 0; i < 2; i++) {
		struct probe *p = &z->probe[i];
		char q[DNS_NAME_MAX + 1];
		snprintf(q, sizeof q, "%d.0.0.127.%s", p->octet, z->name);
		p->pending = true;
		z->d->st.queries++;
		p->id = dns_lookup_a_ttl(z->d->dns, q, on_probe, p);
	}
}

static void on_retest(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct scan_dnsbl *d = arg;
	for (size_t i = 0; i < d->nzones; i++)
		if (d->zones[i].disabled || !d->zones[i].tested)
			zone_selftest(&d->zones[i]);
}

/* ---------------------------------------------------------------- results */

/* Hits of e's finished zones into hits[SCAN_DNSBL_PATTERNS_MAX]. */
static void result_build(struct entry *e, struct scan_dnsbl_hit *hits, struct scan_dnsbl_result *r)
{
	struct scan_dnsbl *d = e->d;
	memset(r, 0, sizeof *r);
	snprintf(r->ip, sizeof r->ip, "%s", e->key);
	r->hits = hits;
	r->incomplete = e->incomplete;
	for (size_t zi = 0; zi < d->nzones; zi++) {
		struct zres *zr = &e->z[zi];
		if (d->zones[zi].disabled || zr->st != ZR_DONE || zr->nans == 0)
			continue;
		bool listed = false;
		for (size_t i = 0; i < d->sites->npat; i++) {
			const struct dnsbl_pattern *p = &d->sites->pat[i];
			int k = p->zone == zi ? dnsbl_pattern_match(p, (const uint8_t(*)[4])zr->ans, zr->nans) : -1;
			if (k < 0)
				continue;
			struct scan_dnsbl_hit *h = &hits[r->nhits++];
			h->zone = d->zones[zi].name;
			fmt_ip4(zr->ans[k], h->answer, sizeof h->answer);
			snprintf(h->txt, sizeof h->txt, "%s", zr->txt);
			h->weight = p->weight;
			r->weight += p->weight;
			listed = true;
		}
		d->zones[zi].hits += listed;
	}
}

static void entry_free(struct entry *e)
{
	struct scan_dnsbl *d = e->d;
	for (size_t i = 0; i < d->nzones; i++)
		if (e->z[i].st == ZR_PENDING)
			dns_cancel(d->dns, e->z[i].qid);
	while (e->head) {
		struct waiter *w = e->head;
		e->head = w->next;
		map_delu(d->waiters, w->id);
		xfree(w);
	}
	event_free(e->timer);
	event_free(e->deliver);
	xfree(e->z);
	xfree(e);
}

/* Answer the waiters (no query pending). Callbacks may look up
 * or cancel; a lookup that starts queries stops the loop. */
static void entry_deliver(struct entry *e)
{
	struct scan_dnsbl_hit hits[SCAN_DNSBL_PATTERNS_MAX];
	struct scan_dnsbl_result r;
	if (e->pending)
		return;
	if (e->delivering)
		return; /* a callback's lookup: the outer loop answers it */
	if (e->head)
		result_build(e, hits, &r);
	e->delivering = true;
	while (e->head && !e->pending) {
		struct waiter *w = e->head;
		e->head = w->next;
		if (!e->head)
			e->tail = NULL;
		map_delu(e->d->waiters, w->id);
		w->fn(w->arg, &r);
		xfree(w);
	}
	e->delivering = false;
	if (e->transient && !e->pending && !e->head) {
		map_dels(e->d->cache, e->key);
		entry_free(e);
	}
}

static void on_deliver(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	entry_deliver(arg);
}

static void zres_done(struct zres *zr, enum zr_state st)
{
	struct entry *e = zr->e;
	zr->st = st;
	zr->qid = 0;
	zr->txt_phase = false;
	if (st == ZR_EMPTY)
		e->incomplete = true;
	if (--e->pending == 0) {
		evtimer_del(e->timer);
		entry_deliver(e);
	}
}

static int64_t expiry(const struct scan_dnsbl *d, uint32_t ttl)
{
	int64_t t = ttl;
	if (t < d->conf.ttl_min_s)
		t = d->conf.ttl_min_s;
	if (t > d->conf.ttl_max_s)
		t = d->conf.ttl_max_s;
	return clock_mono_us() + t * 1000000;
}

static void on_txt(void *arg, enum dns_status st, const char *txt, const char *why)
{
	(void)why;
	struct zres *zr = arg;
	if (st == DNS_OK)
		scan_dnsbl_sanitize(txt, zr->txt, sizeof zr->txt);
	zres_done(zr, ZR_DONE);
}

static void on_a(void *arg, enum dns_status st, const struct dns_a *a, size_t n, const char *why)
{
	struct zres *zr = arg;
	struct entry *e = zr->e;
	struct scan_dnsbl *d = e->d;
	struct zone *z = &d->zones[zr->zi];
	zr->nans = 0;
	zr->txt[0] = '\0';
	if (st == DNS_TEMPFAIL) {
		d->st.timeouts++;
		log_info("event=dnsbl_query_failed zone=%s client=%s error=%s", z->name, e->key, LOG_Q(why));
		zres_done(zr, ZR_EMPTY);
		return;
	}
	uint32_t ttl = UINT32_MAX;
	for (size_t i = 0; st == DNS_OK && i < n; i++) {
		char ip[16];
		fmt_ip4(a[i].ip, ip, sizeof ip);
		if (scan_dnsbl_classify(a[i].ip) != SCAN_DNSBL_LISTED) {
			char why2[128];
			snprintf(why2, sizeof why2, "answered %s for %s: not a listing", ip, e->key);
			zone_disable(z, why2);
			zr->nans = 0;
			ttl = 0;
			break;
		}
		memcpy(zr->ans[zr->nans++], a[i].ip, 4);
		ttl = a[i].ttl < ttl ? a[i].ttl : ttl;
	}
	zr->expires_us = expiry(d, zr->nans ? ttl : 0);
	bool matched = false;
	scan_dnsbl_sites_score(d->sites, zr->zi, (const uint8_t(*)[4])zr->ans, zr->nans, &matched);
	if (matched) {
		char q[DNS_NAME_MAX + 1];
		scan_dnsbl_query_name(&e->addr, z->name, q, sizeof q);
		zr->txt_phase = true;
		zr->qid = dns_lookup_txt(d->dns, q, on_txt, zr);
		return;
	}
	zres_done(zr, ZR_DONE);
}

static void on_round_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct entry *e = arg;
	struct scan_dnsbl *d = e->d;
	for (size_t i = 0; i < d->nzones; i++) {
		struct zres *zr = &e->z[i];
		if (zr->st != ZR_PENDING)
			continue;
		dns_cancel(d->dns, zr->qid);
		zr->st = zr->txt_phase ? ZR_DONE : ZR_EMPTY; /* a TXT that is late: no reason, still listed */
		zr->qid = 0;
		if (!zr->txt_phase) {
			e->incomplete = true;
			d->st.timeouts++;
			log_info("event=dnsbl_timeout zone=%s client=%s timeout=%ds", d->zones[i].name, e->key,
				 d->conf.timeout_s);
		}
		zr->txt_phase = false;
	}
	e->pending = 0;
	entry_deliver(e);
}

/* ---------------------------------------------------------------- cache */

/* An entry nobody waits for whose answers have all expired: freed. */
static bool sweep_one(void *val, void *ctx)
{
	struct entry *e = val;
	const int64_t *now = ctx;
	bool live = e->pending || e->head;
	for (size_t i = 0; i < e->d->nzones && !live; i++)
		live = e->z[i].st == ZR_DONE && e->z[i].expires_us > *now;
	if (!live)
		entry_free(e);
	return !live;
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct scan_dnsbl *d = arg;
	int64_t now = clock_mono_us();
	map_sweep(d->cache, sweep_one, &now);
}

static struct entry *entry_get(struct scan_dnsbl *d, const struct net_addr *addr)
{
	char key[NET_ADDR_STRLEN];
	net_addr_ip(addr, key, sizeof key);
	struct entry *e = map_gets(d->cache, key);
	if (e)
		return e;
	/* a full cache is swept at most once a second: under a flood of new
	 * clients the extra ones are looked up without being kept (transient) */
	int64_t now = clock_mono_us();
	if (map_count(d->cache) >= SCAN_DNSBL_CACHE_MAX && now - d->full_sweep_us >= 1000000) {
		d->full_sweep_us = now;
		map_sweep(d->cache, sweep_one, &now);
	}
	e = xcalloc(1, sizeof *e);
	e->d = d;
	snprintf(e->key, sizeof e->key, "%s", key);
	e->addr = *addr;
	e->z = xcalloc(d->nzones ? d->nzones : 1, sizeof *e->z);
	for (size_t i = 0; i < d->nzones; i++) {
		e->z[i].e = e;
		e->z[i].zi = i;
	}
	e->timer = evtimer_new(d->base, on_round_timeout, e);
	e->deliver = evtimer_new(d->base, on_deliver, e);
	e->transient = map_count(d->cache) >= SCAN_DNSBL_CACHE_MAX;
	map_puts(d->cache, key, e);
	return e;
}

/* Query every enabled zone whose answer is missing or expired; returns
 * how many queries started. */
static size_t entry_refresh(struct entry *e)
{
	struct scan_dnsbl *d = e->d;
	int64_t now = clock_mono_us();
	size_t started = 0;
	for (size_t i = 0; i < d->nzones; i++) {
		struct zres *zr = &e->z[i];
		struct zone *z = &d->zones[i];
		if (z->disabled || zr->st == ZR_PENDING || (zr->st == ZR_DONE && zr->expires_us > now))
			continue;
		char q[DNS_NAME_MAX + 1];
		if (scan_dnsbl_query_name(&e->addr, z->name, q, sizeof q) < 0)
			continue;
		if (e->pending == 0) {
			e->incomplete = false;
			struct timeval tv = { d->conf.timeout_s, 0 };
			evtimer_add(e->timer, &tv);
		}
		zr->st = ZR_PENDING;
		zr->txt_phase = false;
		e->pending++;
		z->queries++;
		d->st.queries++;
		started++;
		zr->qid = dns_lookup_a_ttl(d->dns, q, on_a, zr);
	}
	return started;
}

static struct entry *start(struct scan_dnsbl *d, const struct net_addr *addr)
{
	struct entry *e = entry_get(d, addr);
	d->st.lookups++;
	size_t was_pending = e->pending;
	if (entry_refresh(e) == 0 && was_pending == 0)
		d->st.cache_hits++;
	return e;
}

uint64_t scan_dnsbl_lookup(struct scan_dnsbl *d, const struct net_addr *addr, scan_dnsbl_fn fn, void *arg)
{
	struct entry *e = start(d, addr);
	struct waiter *w = xcalloc(1, sizeof *w);
	w->id = ids_next();
	w->e = e;
	w->fn = fn;
	w->arg = arg;
	if (e->tail)
		e->tail->next = w;
	else
		e->head = w;
	e->tail = w;
	map_putu(d->waiters, w->id, w);
	if (!e->pending) {
		struct timeval zero = { 0, 0 };
		evtimer_add(e->deliver, &zero);
	}
	return w->id;
}

void scan_dnsbl_cancel(struct scan_dnsbl *d, uint64_t id)
{
	struct waiter *w = map_delu(d->waiters, id);
	if (!w)
		return;
	struct entry *e = w->e;
	struct waiter **pp = &e->head, *prev = NULL;
	while (*pp && *pp != w) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (*pp)
		*pp = w->next;
	if (e->tail == w)
		e->tail = prev;
	xfree(w);
}

size_t scan_dnsbl_pending(const struct scan_dnsbl *d)
{
	return map_count(d->waiters);
}

/* ---------------------------------------------------------------- life */

struct scan_dnsbl *scan_dnsbl_new(struct event_base *base, struct dns *dns, const struct scan_dnsbl_conf *conf,
				  char *err, size_t errlen)
{
	struct scan_dnsbl_sites *sites = scan_dnsbl_sites_parse(conf->sites, err, errlen);
	if (!sites)
		return NULL;
	struct scan_dnsbl *d = xcalloc(1, sizeof *d);
	d->base = base;
	d->dns = dns;
	d->conf = *conf;
	d->conf.sites = NULL;
	d->conf.timeout_s = conf->timeout_s > 0 ? conf->timeout_s : 5;
	d->conf.ttl_min_s = conf->ttl_min_s > 0 ? conf->ttl_min_s : 1;
	d->conf.ttl_max_s = conf->ttl_max_s >= d->conf.ttl_min_s ? conf->ttl_max_s : d->conf.ttl_min_s;
	d->conf.retest_s = conf->retest_s > 0 ? conf->retest_s : 600;
	d->sites = sites;
	d->nzones = sites->nzones;
	d->zones = xcalloc(d->nzones ? d->nzones : 1, sizeof *d->zones);
	for (size_t i = 0; i < d->nzones; i++) {
		struct zone *z = &d->zones[i];
		z->d = d;
		z->name = sites->zones[i];
		z->tested = !conf->self_test;
		for (int k = 0; k < 2; k++) {
			z->probe[k].z = z;
			z->probe[k].octet = 2 - k;
		}
	}
	d->cache = map_new();
	d->waiters = map_new();
	d->sweep = event_new(base, -1, EV_PERSIST, on_sweep, d);
	struct timeval sw = { d->conf.ttl_min_s, 0 };
	event_add(d->sweep, &sw);
	d->retest = event_new(base, -1, EV_PERSIST, on_retest, d);
	struct timeval rt = { d->conf.retest_s, 0 };
	event_add(d->retest, &rt);
	for (size_t i = 0; conf->self_test && i < d->nzones; i++)
		zone_selftest(&d->zones[i]);
	return d;
}

void scan_dnsbl_free(struct scan_dnsbl **dp)
{
	struct scan_dnsbl *d = *dp;
	if (!d)
		return;
	size_t pos = 0;
	void *v;
	while (map_next(d->cache, &pos, NULL, NULL, &v))
		entry_free(v); /* the map is freed right after: no deletes needed */
	for (size_t i = 0; i < d->nzones; i++)
		for (int k = 0; k < 2; k++)
			if (d->zones[i].probe[k].pending)
				dns_cancel(d->dns, d->zones[i].probe[k].id);
	map_free(&d->cache);
	map_free(&d->waiters);
	event_free(d->sweep);
	event_free(d->retest);
	xfree(d->zones);
	scan_dnsbl_sites_free(&d->sites);
	xfree(d);
	*dp = NULL;
}

/* ---------------------------------------------------------------- stats */

void scan_dnsbl_stats(const struct scan_dnsbl *d, struct scan_dnsbl_stats *out)
{
	*out = d->st;
	out->cached = map_count(d->cache);
}

size_t scan_dnsbl_zone_stats(const struct scan_dnsbl *d, struct scan_dnsbl_zone_stats *out, size_t max)
{
	for (size_t i = 0; i < d->nzones && i < max; i++) {
		out[i].zone = d->zones[i].name;
		out[i].hits = d->zones[i].hits;
		out[i].queries = d->zones[i].queries;
		out[i].disabled = d->zones[i].disabled;
	}
	return d->nzones;
}
