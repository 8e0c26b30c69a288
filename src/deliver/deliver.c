/*
 * deliver.c - requests, next hops (destinations), connection scheduling and
 * results.
 *
 * A request is split into jobs (one SMTP transaction each) queued on its
 * destination. An idle connection takes the next job; more connections are
 * opened while jobs wait, up to the destination's window. The window is
 * Postfix's slow start: it starts at initial_destination_concurrency, grows
 * by one after a window's worth of completed transactions and shrinks by
 * one after a window's worth of failed connections (never below one, never
 * above smtp_destination_concurrency_limit), so a new destination is not
 * hit with many connections before it has shown it takes them.
 *
 * A connection that never gets ready (DNS, connect, greeting, EHLO, TLS) is
 * dropped, and when it was the destination's last one, every job waiting
 * there fails with its reason at once. With a temporary reason the
 * destination is then dead for smtp_destination_dead_time: new requests
 * fail at once with the same reason, without a connection, so a dead
 * destination costs one failed connection per dead time instead of one
 * timeout per message. After that one probe connection is allowed (window
 * 1); when it gets ready the destination lives again. Destinations are
 * independent: a dead or slow one holds only its own jobs. They are freed by
 * a periodic sweep (never while dead), never inside a callback chain that
 * may still use them.
 *
 * A destination is identified by protocol, host list and path, so two
 * routes never share a connection. Maildir requests have no destination:
 * they go to deliver_maildir.c.
 */
#include "deliver/deliver_int.h"

#include <string.h>
#include <sys/un.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/map.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "dns/dns.h"
#include "ev/ev_pool.h"
#include "mail/mail_env.h"

#define SWEEP_S 60
#define MAILDIR_THREADS 2

struct deliver {
	struct event_base *base;
	struct dns *dns;
	struct deliver_conf conf;
	deliver_done_fn done;
	void *ctx;
	struct map *dests;
	size_t inflight;
	struct event *sweep_ev;
	struct net_addr *self; /* owned: conf.self_addrs expanded */
	struct ev_pool *pool;  /* Maildir writes; made on first use */
};

const struct deliver_conf *deliver_conf_of(const struct deliver *dl)
{
	return &dl->conf;
}

struct event_base *deliver_base(const struct deliver *dl)
{
	return dl->base;
}

struct dns *deliver_dns(const struct deliver *dl)
{
	return dl->dns;
}

struct ev_pool *deliver_pool(struct deliver *dl)
{
	if (!dl->pool)
		dl->pool = ev_pool_new(dl->base, MAILDIR_THREADS, "maildir");
	return dl->pool;
}

static void dest_free(struct ddest *d)
{
	xfree(d->addrs);
	xfree(d->hops);
	xfree(d->key);
	xfree(d);
}

/* An idle destination resolved long ago: freed. A dead destination is kept:
 * forgetting it would forget its dead time. */
static bool sweep_dest(void *val, void *ctx)
{
	struct ddest *d = val;
	int64_t now = *(const int64_t *)ctx;
	bool idle = d->nconn == 0 && d->nq == 0 && !d->resolving && now - d->resolved_at > SWEEP_S &&
		    now >= d->dead_until;
	if (idle)
		dest_free(d);
	return idle;
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct deliver *dl = arg;
	int64_t now = clock_now_s();
	map_sweep(dl->dests, sweep_dest, &now);
	struct timeval tv = { SWEEP_S, 0 };
	evtimer_add(dl->sweep_ev, &tv);
}

struct deliver *deliver_new(struct event_base *base, struct dns *dns, const struct deliver_conf *conf,
			    deliver_done_fn done, void *ctx)
{
	struct deliver *dl = xcalloc(1, sizeof *dl);
	dl->base = base;
	dl->dns = dns;
	dl->conf = *conf;
	dl->self = deliver_self_local(conf->self_addrs, conf->nself, &dl->conf.nself);
	dl->conf.self_addrs = dl->self;
	dl->done = done;
	dl->ctx = ctx;
	dl->dests = map_new();
	dl->sweep_ev = evtimer_new(base, on_sweep, dl);
	struct timeval tv = { SWEEP_S, 0 };
	evtimer_add(dl->sweep_ev, &tv);
	return dl;
}

/* The TLS policy is looked up by the first host (the mailertable's or the
 * recipient domain for MX delivery). */
static void dest_set_tls(const struct deliver *dl, struct ddest *d)
{
	if (d->nhops == 0 || deliver_tls_policy_lookup(dl->conf.tls_policy, d->hops[0].host, &d->tls) < 0)
		d->tls = dl->conf.tls;
}

static bool reconf_dest(void *val, void *ctx)
{
	struct ddest *d = val;
	struct deliver *dl = ctx;
	dest_set_tls(dl, d);
	if (d->window > dl->conf.concurrency)
		d->window = dl->conf.concurrency;
	return false;
}

void deliver_reconfigure(struct deliver *dl, const struct deliver_conf *conf)
{
	xfree(dl->self);
	dl->conf = *conf;
	dl->self = deliver_self_local(conf->self_addrs, conf->nself, &dl->conf.nself);
	dl->conf.self_addrs = dl->self;
	map_sweep(dl->dests, reconf_dest, dl);
}

static int initial_window(const struct deliver *dl)
{
	return dl->conf.initial_concurrency < dl->conf.concurrency ? dl->conf.initial_concurrency : dl->conf.concurrency;
}

/* Slow-start feedback: delta +1 for a completed transaction, -1 for a
 * failed connection; the window moves by one per window's worth. */
static void window_feedback(struct deliver *dl, struct ddest *d, int delta)
{
	d->credit += delta;
	if (d->credit >= d->window) {
		d->credit = 0;
		if (d->window < dl->conf.concurrency) {
			d->window++;
			log_debug("event=concurrency_window nexthop=%s window=%d change=up", d->name, d->window);
		}
	} else if (d->credit <= -d->window) {
		d->credit = 0;
		if (d->window > 1) {
			d->window--;
			log_info("event=concurrency_window nexthop=%s window=%d change=down", d->name, d->window);
		}
	}
}

static void dest_push(struct ddest *d, struct djob *j)
{
	j->next = NULL;
	if (d->q_tail)
		d->q_tail->next = j;
	else
		d->q_head = j;
	d->q_tail = j;
	d->nq++;
}

static struct djob *dest_pop(struct ddest *d)
{
	struct djob *j = d->q_head;
	if (!j)
		return NULL;
	d->q_head = j->next;
	if (!d->q_head)
		d->q_tail = NULL;
	d->nq--;
	j->next = NULL;
	return j;
}

static void dest_kick(struct deliver *dl, struct ddest *d)
{
	for (struct dconn *c = d->conns; c && d->q_head; c = c->next) {
		if (c->st == DC_READY && !c->job && c->idle) {
			d->nidle--;
			c->idle = false;
			event_del(c->timer);
			deliver_conn_run_job(c, dest_pop(d));
		}
	}
	int limit = d->dead_until ? 1 : d->window; /* past its dead time: one probe */
	while (d->nq > (size_t)d->nstarting && d->nconn < limit) {
		struct dconn *c = deliver_conn_new(dl, d);
		c->next = d->conns;
		d->conns = c;
		d->nconn++;
		d->nstarting++;
	}
}

static const char *proto_name(enum deliver_proto p)
{
	return p == DELIVER_LMTP ? "lmtp" : p == DELIVER_MAILDIR ? "maildir" : "smtp";
}

/* An LMTP server on a unix socket: the one address, no DNS. A path that
 * does not fit leaves no address (the connection reports that). */
static void dest_set_unix(struct ddest *d, const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	d->unix_sock = true;
	snprintf(d->name, sizeof d->name, "%s", path);
	if (str_copy(sun.sun_path, sizeof sun.sun_path, path) < 0)
		return;
	d->addrs = xcalloc(1, sizeof *d->addrs);
	net_addr_from_sa(&d->addrs[0].addr, (const struct sockaddr *)&sun, sizeof sun);
	snprintf(d->addrs[0].name, sizeof d->addrs[0].name, "%s", path);
	d->naddrs = 1;
}

/* The request's hops with defaults applied and names lower-cased; a hop
 * without host (LMTP on a unix socket) is not a network hop. */
static struct dhop *req_hops(const struct deliver *dl, const struct deliver_req *rq, size_t *n_out)
{
	struct dhop *h = xcalloc(rq->nhops ? rq->nhops : 1, sizeof *h);
	for (size_t i = 0; i < rq->nhops; i++) {
		str_copy(h[i].host, sizeof h[i].host, rq->hops[i].host);
		str_lower(h[i].host);
		h[i].port = deliver_hop_port(rq->proto, rq->hops[i].port, dl->conf.default_port);
		h[i].mx = rq->hops[i].mx;
	}
	*n_out = rq->nhops;
	return h;
}

/* The destination of a request: the existing one with the same protocol,
 * hops and path, or a new one. */
static struct ddest *dest_get(struct deliver *dl, const struct deliver_req *rq)
{
	size_t nhops;
	struct dhop *hops = req_hops(dl, rq, &nhops);
	bool equal = rq->hops_equal && nhops > 1;
	struct buf key;
	buf_init(&key);
	buf_printf(&key, "%s%s", proto_name(rq->proto), equal ? " equal" : "");
	for (size_t i = 0; i < nhops; i++)
		buf_printf(&key, " %s:%s:%d", hops[i].mx ? "mx" : "a", hops[i].host, hops[i].port);
	if (nhops == 0)
		buf_printf(&key, " unix:%s", rq->path ? rq->path : "");
	struct ddest *d = map_gets(dl->dests, key.data);
	if (d) {
		buf_fini(&key);
		xfree(hops);
		return d;
	}
	d = xcalloc(1, sizeof *d);
	d->key = buf_steal(&key, NULL);
	d->proto = rq->proto;
	d->hops = hops;
	d->nhops = nhops;
	d->hops_equal = equal;
	dest_set_tls(dl, d);
	d->window = initial_window(dl);
	if (nhops == 0) {
		dest_set_unix(d, rq->path ? rq->path : "");
	} else {
		size_t o = 0;
		for (size_t i = 0; i < nhops && o < sizeof d->name; i++)
			o += (size_t)snprintf(d->name + o, sizeof d->name - o, "%s%s", i ? (equal ? "," : ":") : "",
					      hops[i].host);
	}
	map_puts(dl->dests, d->key, d);
	return d;
}

void deliver_submit(struct deliver *dl, const struct deliver_req *rq)
{
	struct dreq *r = xcalloc(1, sizeof *r);
	r->id = rq->id;
	snprintf(r->qid, sizeof r->qid, "%s", rq->qid);
	r->env = rq->env;
	r->body_len = rq->body_len;
	r->open_body = rq->open_body;
	r->open_ctx = rq->open_ctx;
	r->nres = rq->nrcpt;
	r->res = xcalloc(rq->nrcpt ? rq->nrcpt : 1, sizeof *r->res);
	for (size_t i = 0; i < rq->nrcpt; i++)
		r->res[i].idx = rq->rcpt[i];
	dl->inflight++;

	if (rq->nrcpt == 0) {
		/* nothing to do: answer at once */
		r->jobs_left = 1;
		struct djob *j = xcalloc(1, sizeof *j);
		j->req = r;
		deliver_job_done(dl, j);
		return;
	}
	if (rq->proto == DELIVER_MAILDIR) {
		deliver_maildir_submit(dl, r, rq->path ? rq->path : "");
		return;
	}
	struct ddest *d = dest_get(dl, rq);
	size_t lim = (size_t)(dl->conf.rcpt_limit > 0 ? dl->conf.rcpt_limit : 50);
	for (size_t f = 0; f < rq->nrcpt; f += lim) {
		struct djob *j = xcalloc(1, sizeof *j);
		j->req = r;
		j->first = f;
		j->n = rq->nrcpt - f < lim ? rq->nrcpt - f : lim;
		r->jobs_left++;
		dest_push(d, j);
	}
	if (d->dead_until > clock_now_s()) {
		log_debug("queue=%s event=destination_dead_skip nexthop=%s rcpts=%zu", r->qid, d->name, rq->nrcpt);
		deliver_dest_fail_all(dl, d, &d->dead_why);
		return;
	}
	dest_kick(dl, d);
}

void deliver_job_done(struct deliver *dl, struct djob *j)
{
	struct dreq *r = j->req;
	xfree(j);
	if (--r->jobs_left > 0)
		return;
	struct deliver_result res = { .id = r->id, .qid = r->qid, .n = r->nres, .r = r->res };
	dl->inflight--;
	dl->done(dl->ctx, &res);
	xfree(r->res);
	xfree(r);
}

static void fail_job(struct deliver *dl, struct djob *j, const struct mail_reply *why)
{
	for (size_t i = 0; i < j->n; i++) {
		j->req->res[j->first + i].reply = *why;
		j->req->res[j->first + i].no_dsn = false;
	}
	deliver_job_done(dl, j);
}

static void unlink_conn(struct dconn *c)
{
	struct ddest *d = c->d;
	for (struct dconn **pp = &d->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	d->nconn--;
}

void deliver_conn_failed(struct dconn *c, const struct mail_reply *why)
{
	struct deliver *dl = c->dl;
	struct ddest *d = c->d;
	d->nstarting--;
	unlink_conn(c);
	c->d = NULL;
	char t[MAIL_REPLY_TEXT_MAX + 32];
	mail_reply_str(why, t, sizeof t);
	log_info("event=smtp_connect_failed nexthop=%s reply=%s queued=%zu", d->name, LOG_Q(t), d->nq);
	window_feedback(dl, d, -1);
	/* no replacement connection: when the last way to this next hop has
	 * failed, everything waiting for it fails now with the same reason
	 * (the queue tries again later); otherwise the live ones go on */
	if (d->nconn > 0)
		return;
	if (mail_reply_status(why) == MAIL_TEMPFAIL) {
		d->dead_until = clock_now_s() + dl->conf.dead_time_s;
		d->dead_why = *why;
		log_info("event=destination_dead nexthop=%s for=%ds reply=%s", d->name, dl->conf.dead_time_s, LOG_Q(t));
	}
	deliver_dest_fail_all(dl, d, why);
}

void deliver_tx_done(struct dconn *c)
{
	if (!c->d)
		return;
	int window = c->d->window;
	window_feedback(c->dl, c->d, +1);
	if (c->d->window > window)
		dest_kick(c->dl, c->d); /* waiting jobs may use the wider window now */
}

void deliver_dest_fail_all(struct deliver *dl, struct ddest *d, const struct mail_reply *why)
{
	struct djob *j;
	while ((j = dest_pop(d)) != NULL)
		fail_job(dl, j, why);
}

void deliver_conn_ready(struct dconn *c)
{
	struct deliver *dl = c->dl;
	struct ddest *d = c->d;
	bool revived = d->dead_until != 0;
	if (revived) {
		/* the probe got through: the destination lives, slow start anew */
		log_info("event=destination_alive nexthop=%s peer=%s", d->name, c->peer);
		d->dead_until = 0;
		d->window = initial_window(dl);
		d->credit = 0;
	}
	if (c->reuse >= dl->conf.reuse_limit) {
		deliver_conn_quit(c);
		return;
	}
	struct djob *j = dest_pop(d);
	if (j) {
		deliver_conn_run_job(c, j);
		if (revived)
			dest_kick(dl, d); /* the rest no longer waits for the probe */
		return;
	}
	if (dl->conf.cache_time_s <= 0) {
		deliver_conn_quit(c);
		return;
	}
	d->nidle++;
	c->idle = true;
	struct timeval tv = { dl->conf.cache_time_s, 0 };
	event_add(c->timer, &tv);
}

void deliver_conn_gone(struct dconn *c)
{
	struct deliver *dl = c->dl;
	struct ddest *d = c->d;
	if (c->st == DC_READY && !c->job && c->idle)
		d->nidle--;
	if (!c->was_ready)
		d->nstarting--;
	unlink_conn(c);
	c->d = NULL;
	/* waiting jobs need a connection */
	dest_kick(dl, d);
}

void deliver_flush_dead(struct deliver *dl)
{
	int64_t now = clock_now_s();
	size_t pos = 0;
	void *v;
	while (map_next(dl->dests, &pos, NULL, NULL, &v)) {
		struct ddest *d = v;
		if (d->dead_until > now)
			d->dead_until = now;
	}
}

void deliver_close_idle(struct deliver *dl)
{
	size_t pos = 0;
	void *v;
	while (map_next(dl->dests, &pos, NULL, NULL, &v)) {
		struct ddest *d = v;
		struct dconn *next;
		for (struct dconn *c = d->conns; c; c = next) {
			next = c->next;
			if (c->st == DC_READY && !c->job && c->idle) {
				c->idle = false;
				d->nidle--;
				deliver_conn_quit(c);
			}
		}
	}
}

size_t deliver_inflight(const struct deliver *dl)
{
	return dl->inflight;
}

void deliver_free(struct deliver **dlp)
{
	struct deliver *dl = *dlp;
	if (!dl)
		return;
	/* Maildir writes in flight finish (their results are real) */
	ev_pool_free(&dl->pool);
	size_t n = map_count(dl->dests), k = 0, pos = 0;
	struct ddest **all = xcalloc(n ? n : 1, sizeof *all);
	void *v;
	while (k < n && map_next(dl->dests, &pos, NULL, NULL, &v))
		all[k++] = v;
	struct mail_reply why;
	mail_reply_set(&why, 421, "4.3.2", "mail system shutting down");
	for (size_t i = 0; i < k; i++) {
		struct ddest *d = all[i];
		struct djob *j;
		while ((j = dest_pop(d)) != NULL)
			fail_job(dl, j, &why);
		while (d->conns) {
			struct dconn *c = d->conns;
			d->conns = c->next;
			c->d = NULL;
			deliver_conn_abort(c, "mail system shutting down");
		}
		if (d->resolving)
			dns_cancel(dl->dns, d->dns_id);
		dest_free(d);
	}
	xfree(all);
	map_free(&dl->dests);
	event_free(dl->sweep_ev);
	xfree(dl->self);
	xfree(dl);
	*dlp = NULL;
}
