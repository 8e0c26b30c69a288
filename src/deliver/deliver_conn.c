/*
 * deliver_conn.c - one outbound SMTP or LMTP connection: its life cycle
 * and I/O. Creates it, connects to its destination's addresses in turn,
 * owns its bufferevent, timer and reply reader, and ends it.
 *
 *   RESOLVE -> CONNECT -> GREET -> EHLO [-> STARTTLS -> TLS -> EHLO] -> READY
 *   READY -> TX (MAIL, RCPT..., DATA) -> BODY -> DOT -> READY ... -> QUIT
 * A failure before READY moves on to the next address; when none is left
 * the connection ends "failed" (deliver.c decides what that means for the
 * waiting jobs). A connection always ends from a zero-time event
 * (deliver_conn_end), never inside its own callbacks. What the replies
 * mean is deliver_conn_smtp.c's; STARTTLS is deliver_conn_tls.c's.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <event2/buffer.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/ids.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "deliver/deliver_int.h"
#include "net/net_listen.h"

#define REPLY_LINE_MAX 4096

static void on_read(struct bufferevent *bev, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);

/* What the connection was doing before it was ready (for error texts). */
static const char *setup_phase(const struct dconn *c)
{
	if (c->st == DC_GREET)
		return "receiving the initial server greeting";
	return deliver_conn_lmtp(c) ? "performing the LHLO handshake" : "performing the EHLO handshake";
}

void deliver_conn_arm(struct dconn *c, int secs)
{
	struct timeval tv = { secs, 0 };
	event_add(c->timer, &tv);
}

void deliver_conn_send_line(struct dconn *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buf_reset(&c->wbuf);
	buf_vprintf(&c->wbuf, fmt, ap);
	va_end(ap);
	buf_append(&c->wbuf, "\r\n", 2);
	bufferevent_write(c->bev, c->wbuf.data, c->wbuf.len);
}

static void free_bev(struct dconn *c)
{
	if (c->bev) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
}

void deliver_conn_close_body(struct dconn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* Every open recipient of the current job gets why; the job is reported. */
static void fail_job(struct dconn *c, const struct mail_reply *why)
{
	struct djob *j = c->job;
	if (!j)
		return;
	for (size_t i = 0; i < j->n; i++) {
		struct deliver_rcpt_result *r = &j->req->res[j->first + i];
		if (r->reply.code == 0 || (c->acc && c->acc[i]))
			r->reply = *why;
	}
	c->job = NULL;
	deliver_conn_close_body(c);
	xfree(c->acc);
	c->acc = NULL;
	deliver_job_done(c->dl, j);
}

void deliver_conn_abort(struct dconn *c, const char *why)
{
	if (c->job) {
		struct mail_reply r;
		mail_reply_set(&r, 451, "4.4.2", "%s%s%s", c->peer[0] ? c->peer : "", c->peer[0] ? ": " : "",
			       why ? why : "connection aborted");
		fail_job(c, &r);
	}
	free_bev(c);
	deliver_conn_close_body(c);
	event_free(c->timer);
	event_free(c->free_ev);
	buf_fini(&c->rbuf);
	buf_fini(&c->wbuf);
	xfree(c->acc);
	xfree(c->order);
	xfree(c);
}

static void on_free(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct dconn *c = arg;
	if (c->job) {
		struct mail_reply r = c->end_why;
		if (!r.code)
			mail_reply_set(&r, 451, "4.4.2", "lost connection with %s", c->peer);
		fail_job(c, &r);
	}
	if (c->d) {
		if (c->end_failed)
			deliver_conn_failed(c, &c->end_why);
		else
			deliver_conn_gone(c);
	}
	deliver_conn_abort(c, NULL);
}

/* End the connection from the next loop turn. failed: never got ready. */
void deliver_conn_end(struct dconn *c, bool failed, const struct mail_reply *why)
{
	if (c->ending)
		return;
	c->ending = true;
	c->end_failed = failed && !c->was_ready;
	if (why)
		c->end_why = *why;
	if (c->bev)
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	event_del(c->timer);
	event_active(c->free_ev, EV_TIMEOUT, 0);
}

void deliver_conn_fail_later(struct dconn *c, const struct mail_reply *why)
{
	deliver_conn_end(c, true, why);
}

void deliver_conn_quit(struct dconn *c)
{
	if (c->ending)
		return;
	if (!c->bev) {
		deliver_conn_end(c, false, NULL);
		return;
	}
	c->st = DC_QUIT;
	deliver_conn_send_line(c, "QUIT");
	deliver_conn_arm(c, deliver_conn_conf(c)->t_quit < 10 ? deliver_conn_conf(c)->t_quit : 10);
}

static void on_begin(struct dconn *c)
{
	struct ddest *d = c->d;
	c->begun = true;
	if (d->naddrs > 0 && (d->unix_sock || clock_now_s() - d->resolved_at < 60)) {
		deliver_conn_start(c);
		return;
	}
	c->next_wait = d->waiting_dns;
	d->waiting_dns = c;
	if (!d->resolving)
		deliver_mx_resolve(c->dl, d);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct dconn *c = arg;
	struct mail_reply r;
	if (c->ending)
		return;
	if (!c->begun) {
		on_begin(c);
		return;
	}
	switch (c->st) {
	case DC_RESOLVE:
		if (c->restart) {
			c->restart = false;
			deliver_conn_start(c);
		}
		return;
	case DC_CONNECT:
		mail_reply_set(&r, 451, "4.4.1", "connect to %s: Connection timed out", c->peer);
		deliver_conn_try_next(c, &r);
		return;
	case DC_GREET:
	case DC_EHLO:
	case DC_HELO:
	case DC_STARTTLS:
	case DC_TLS:
		mail_reply_set(&r, 451, "4.4.2", "conversation with %s timed out while %s", c->peer, setup_phase(c));
		deliver_conn_try_next(c, &r);
		return;
	case DC_READY:
		if (c->kick) {
			c->kick = false;
			deliver_conn_ready(c);
		} else {
			/* idle for smtp_connection_cache_time_limit */
			if (c->idle) {
				c->idle = false;
				c->d->nidle--;
			}
			deliver_conn_quit(c);
		}
		return;
	case DC_TX:
	case DC_BODY:
	case DC_DOT:
		mail_reply_set(&r, 451, "4.4.2", "conversation with %s timed out while sending %s", c->peer, c->phase);
		deliver_conn_end(c, false, &r);
		return;
	case DC_RSET:
	case DC_QUIT:
		deliver_conn_end(c, false, NULL);
		return;
	}
}

struct dconn *deliver_conn_new(struct deliver *dl, struct ddest *d)
{
	struct dconn *c = xcalloc(1, sizeof *c);
	c->id = ids_next();
	c->dl = dl;
	c->d = d;
	c->st = DC_RESOLVE;
	c->fd = -1;
	buf_init(&c->rbuf);
	buf_init(&c->wbuf);
	c->timer = evtimer_new(deliver_base(dl), on_timer, c);
	c->free_ev = event_new(deliver_base(dl), -1, 0, on_free, c);
	snprintf(c->peer, sizeof c->peer, "%s", d->name);
	/* start from the loop, never inside deliver_submit() */
	struct timeval zero = { 0, 0 };
	event_add(c->timer, &zero);
	return c;
}

void deliver_conn_start(struct dconn *c)
{
	struct ddest *d = c->d;
	if (!c->order) {
		c->order = xcalloc(d->naddrs ? d->naddrs : 1, sizeof *c->order);
		c->norder = deliver_mx_order(d, (size_t)deliver_conn_conf(c)->mx_addr_limit, c->order);
	}
	/* (a new lookup may have shortened d's list since the order was made) */
	if (c->addr_i >= c->norder || c->order[c->addr_i] >= d->naddrs) {
		struct mail_reply r;
		if (c->have_err)
			r = c->last_err;
		else
			mail_reply_set(&r, 451, "4.4.1", "no usable address for %s", d->name);
		deliver_conn_end(c, true, &r);
		return;
	}
	const struct net_addr *a = &d->addrs[c->order[c->addr_i]].addr;
	snprintf(c->host, sizeof c->host, "%s", d->addrs[c->order[c->addr_i]].name);
	char ip[NET_ADDR_STRLEN];
	net_addr_ip(a, ip, sizeof ip);
	if (d->unix_sock)
		snprintf(c->peer, sizeof c->peer, "%s", c->host);
	else
		snprintf(c->peer, sizeof c->peer, "%.240s[%s]:%d", c->host, ip, net_addr_port(a));
	c->esmtp = c->pipelining = c->eightbit = c->smtputf8 = c->dsn = c->starttls = c->size = c->tls = false;
	c->size_limit = 0;
	mail_reply_parser_init(&c->rp);
	deliver_conn_attach(c, bufferevent_socket_new(deliver_base(c->dl), -1, BEV_OPT_CLOSE_ON_FREE));
	c->st = DC_CONNECT;
	deliver_conn_arm(c, deliver_conn_conf(c)->t_connect);
	if (bufferevent_socket_connect(c->bev, (const struct sockaddr *)&a->ss, (int)a->len) < 0) {
		struct mail_reply r;
		mail_reply_set(&r, 451, "4.4.1", "connect to %s: %s", c->peer, strerror(errno));
		deliver_conn_try_next(c, &r);
		return;
	}
	net_tcp_nodelay(bufferevent_getfd(c->bev), a->ss.ss_family);
}

void deliver_conn_try_next(struct dconn *c, const struct mail_reply *why)
{
	c->last_err = *why;
	c->have_err = true;
	free_bev(c);
	event_del(c->timer);
	if (c->plain_retry) {
		c->plain_retry = false; /* same address again, without STARTTLS */
	} else {
		c->addr_i++;
	}
	char t[MAIL_REPLY_TEXT_MAX + 32];
	mail_reply_str(why, t, sizeof t);
	log_debug("event=smtp_try_next reply=%s", LOG_Q(t));
	/* from the loop: try_next may be reached from a bufferevent callback */
	c->st = DC_RESOLVE;
	c->begun = true;
	struct timeval zero = { 0, 0 };
	event_assign(c->timer, deliver_base(c->dl), -1, 0, on_timer, c);
	event_add(c->timer, &zero);
	c->restart = true;
}

void deliver_conn_attach(struct dconn *c, struct bufferevent *bev)
{
	c->bev = bev;
	bufferevent_setcb(bev, on_read, on_write, on_event, c);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

void deliver_conn_go_ready(struct dconn *c)
{
	if (!c->was_ready) {
		c->was_ready = true;
		c->d->nstarting--;
		log_info("event=smtp_connected peer=%s tls=%s level=%s pipelining=%d dsn=%d", c->peer,
			 c->tls ? c->tls_desc : "none", deliver_tls_level_name(deliver_conn_tls_level(c)), c->pipelining,
			 c->dsn);
	}
	c->st = DC_READY;
	event_del(c->timer);
	deliver_conn_ready(c);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct dconn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	while (!c->ending && !c->restart) {
		size_t n = 0;
		char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
		if (!line) {
			if (evbuffer_get_length(in) > REPLY_LINE_MAX) {
				struct mail_reply r;
				mail_reply_set(&r, 451, "4.4.2", "reply line too long from %s", c->peer);
				if (!c->was_ready)
					deliver_conn_try_next(c, &r);
				else
					deliver_conn_end(c, false, &r);
			}
			return;
		}
		struct mail_reply r;
		int rc = n > REPLY_LINE_MAX ? -1 : mail_reply_parser_line(&c->rp, line, n, &r);
		free(line);
		if (rc < 0) {
			struct mail_reply e;
			mail_reply_set(&e, 451, "4.4.2", "malformed reply from %s", c->peer);
			if (!c->was_ready)
				deliver_conn_try_next(c, &e);
			else
				deliver_conn_end(c, false, &e);
			return;
		}
		if (rc == 1)
			deliver_conn_smtp_reply(c, &r);
	}
}

static void on_write(struct bufferevent *bev, void *arg)
{
	(void)bev;
	struct dconn *c = arg;
	if (c->st == DC_BODY && !c->ending) {
		deliver_conn_arm(c, deliver_conn_conf(c)->t_data_xfer);
		deliver_conn_smtp_body(c);
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	struct dconn *c = arg;
	struct mail_reply r;
	if (c->ending)
		return;
	if (what & BEV_EVENT_CONNECTED) {
		if (c->st == DC_CONNECT) {
			c->st = DC_GREET;
			c->phase = "greeting";
			deliver_conn_arm(c, deliver_conn_conf(c)->t_helo);
		} else if (c->st == DC_TLS) {
			if (!deliver_conn_tls_established(c))
				return;
			c->tls = true;
			c->pipelining = c->dsn = c->eightbit = c->smtputf8 = c->size = c->starttls = false;
			deliver_conn_smtp_hello(c);
		}
		return;
	}
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	int err = EVUTIL_SOCKET_ERROR();
	switch (c->st) {
	case DC_CONNECT:
		mail_reply_set(&r, 451, "4.4.1", "connect to %s: %s", c->peer,
			       err ? evutil_socket_error_to_string(err) : "connection failed");
		deliver_conn_try_next(c, &r);
		return;
	case DC_TLS:
		deliver_conn_tls_failed(c);
		return;
	case DC_GREET:
	case DC_EHLO:
	case DC_HELO:
	case DC_STARTTLS:
		mail_reply_set(&r, 451, "4.4.2", "lost connection with %s while %s", c->peer, setup_phase(c));
		deliver_conn_try_next(c, &r);
		return;
	case DC_READY:
	case DC_RSET:
	case DC_QUIT:
	case DC_RESOLVE:
		if (c->idle) {
			c->idle = false;
			c->d->nidle--;
		}
		deliver_conn_end(c, false, NULL);
		return;
	case DC_TX:
	case DC_BODY:
	case DC_DOT:
		mail_reply_set(&r, 451, "4.4.2", "lost connection with %s while sending %s", c->peer, c->phase);
		deliver_conn_end(c, false, &r);
		return;
	}
}
