/*
 * deliver_conn.c - one outbound SMTP or LMTP connection (RFC 5321 client
 * side, RFC 2033 LMTP, RFC 2920 PIPELINING, RFC 3207 STARTTLS, RFC 3461 DSN
 * parameters).
 *
 *   RESOLVE -> CONNECT -> GREET -> EHLO [-> STARTTLS -> TLS -> EHLO] -> READY
 *   READY -> TX (MAIL, RCPT..., DATA; pipelined when offered) -> BODY -> DOT
 *         -> READY (next job, or idle until the cache time, then QUIT)
 * LMTP: LHLO instead of EHLO (no HELO fallback), TCP or a unix socket
 * (no STARTTLS there, no loop check by greeting name), and one reply per
 * accepted recipient after the final dot.
 * A failure before READY moves on to the next address; when none is left
 * the connection ends "failed" (deliver.c decides what that means for the
 * waiting jobs). A connection always ends from a zero-time event
 * (conn_end), never inside its own callbacks.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/fsutil.h"
#include "base/ids.h"
#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "deliver/deliver_int.h"
#include "mail/mail_env.h"
#include "mail/mail_xtext.h"
#include "net/net_listen.h"
#include "net/net_tls.h"

#define BODY_CHUNK (64 * 1024)
#define OUT_HIGH (256 * 1024)
#define REPLY_LINE_MAX 4096
#define NO_TLS_RETRY_S 600

static void on_read(struct bufferevent *bev, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);
static void try_next(struct dconn *c, const struct mail_reply *why);
static void go_ready(struct dconn *c);

static bool lmtp(const struct dconn *c)
{
	return c->d && c->d->proto == DELIVER_LMTP;
}

/* What the connection was doing before it was ready (for error texts). */
static const char *setup_phase(const struct dconn *c)
{
	if (c->st == DC_GREET)
		return "receiving the initial server greeting";
	return lmtp(c) ? "performing the LHLO handshake" : "performing the EHLO handshake";
}

static const struct deliver_conf *CF(const struct dconn *c)
{
	return deliver_conf_of(c->dl);
}

/* This next hop's TLS level (smtp_tls_security_level or its policy
 * entry). LMTP takes STARTTLS when offered but never requires it, and never
 * on a unix socket (RFC 2033 keeps LMTP to local or trusted links). */
static enum deliver_tls tls_level(const struct dconn *c)
{
	if (c->d->unix_sock)
		return DELIVER_TLS_NONE;
	if (lmtp(c) && c->d->tls >= DELIVER_TLS_ENCRYPT)
		return DELIVER_TLS_MAY;
	return c->d->tls;
}

/* May a failed TLS attempt be retried in plaintext? Only below encrypt. */
static bool tls_optional(const struct dconn *c)
{
	return tls_level(c) < DELIVER_TLS_ENCRYPT;
}

static void arm(struct dconn *c, int secs)
{
	struct timeval tv = { secs, 0 };
	event_add(c->timer, &tv);
}

static void send_line(struct dconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void send_line(struct dconn *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buf_reset(&c->wbuf);
	buf_vprintf(&c->wbuf, fmt, ap);
	va_end(ap);
	buf_append(&c->wbuf, "\r\n", 2);
	bufferevent_write(c->bev, c->wbuf.data, c->wbuf.len);
}

/* "host X said: 550 5.1.1 text (in reply to RCPT TO command)" */
static void remote_reply(const struct dconn *c, const struct mail_reply *r, const char *cmd, struct mail_reply *out)
{
	out->code = r->code;
	snprintf(out->enh, sizeof out->enh, "%s", r->enh[0] ? r->enh : mail_reply_default_enh(r->code));
	char text[MAIL_REPLY_TEXT_MAX];
	snprintf(text, sizeof text, "%s", r->text);
	for (char *p = text; *p; p++) {
		if (*p == '\n')
			*p = ' ';
	}
	snprintf(out->text, sizeof out->text, "host %.120s said: %d %.320s (in reply to %.20s command)", c->peer, r->code, text,
		 cmd);
}

static void free_bev(struct dconn *c)
{
	if (c->bev) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
}

static void close_body(struct dconn *c)
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
	close_body(c);
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
	close_body(c);
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
static void conn_end(struct dconn *c, bool failed, const struct mail_reply *why)
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
	conn_end(c, true, why);
}

void deliver_conn_quit(struct dconn *c)
{
	if (c->ending)
		return;
	if (!c->bev) {
		conn_end(c, false, NULL);
		return;
	}
	c->st = DC_QUIT;
	send_line(c, "QUIT");
	arm(c, CF(c)->t_quit < 10 ? CF(c)->t_quit : 10);
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
		try_next(c, &r);
		return;
	case DC_GREET:
	case DC_EHLO:
	case DC_HELO:
	case DC_STARTTLS:
	case DC_TLS:
		mail_reply_set(&r, 451, "4.4.2", "conversation with %s timed out while %s", c->peer, setup_phase(c));
		try_next(c, &r);
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
		conn_end(c, false, &r);
		return;
	case DC_RSET:
	case DC_QUIT:
		conn_end(c, false, NULL);
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
		c->norder = deliver_mx_order(d, (size_t)CF(c)->mx_addr_limit, c->order);
	}
	/* (a new lookup may have shortened d's list since the order was made) */
	if (c->addr_i >= c->norder || c->order[c->addr_i] >= d->naddrs) {
		struct mail_reply r;
		if (c->have_err)
			r = c->last_err;
		else
			mail_reply_set(&r, 451, "4.4.1", "no usable address for %s", d->name);
		conn_end(c, true, &r);
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
	c->bev = bufferevent_socket_new(deliver_base(c->dl), -1, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->st = DC_CONNECT;
	arm(c, CF(c)->t_connect);
	if (bufferevent_socket_connect(c->bev, (const struct sockaddr *)&a->ss, (int)a->len) < 0) {
		struct mail_reply r;
		mail_reply_set(&r, 451, "4.4.1", "connect to %s: %s", c->peer, strerror(errno));
		try_next(c, &r);
		return;
	}
	net_tcp_nodelay(bufferevent_getfd(c->bev), a->ss.ss_family);
}

static void try_next(struct dconn *c, const struct mail_reply *why)
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

static void parse_ehlo(struct dconn *c, const char *text)
{
	c->esmtp = true;
	const char *p = strchr(text, '\n');
	while (p) {
		p++;
		const char *e = strchr(p, '\n');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		char kw[64];
		str_ncopy(kw, sizeof kw, p, l);
		char *sp = strchr(kw, ' ');
		if (sp)
			*sp = '\0';
		if (str_caseeq(kw, "PIPELINING"))
			c->pipelining = true;
		else if (str_caseeq(kw, "8BITMIME"))
			c->eightbit = true;
		else if (str_caseeq(kw, "SMTPUTF8"))
			c->smtputf8 = true;
		else if (str_caseeq(kw, "DSN"))
			c->dsn = true;
		else if (str_caseeq(kw, "STARTTLS"))
			c->starttls = true;
		else if (str_caseeq(kw, "SIZE")) {
			c->size = true;
			uint64_t v;
			char num[24];
			if (sp && str_copy(num, sizeof num, sp + 1) == 0 && str_to_u64(num, &v) == 0)
				c->size_limit = v;
		}
		p = e;
	}
}

/* A unix socket is a local delivery agent, named after the machine. */
static bool greeting_is_me(const struct dconn *c, const char *text)
{
	if (c->d->unix_sock)
		return false;
	char first[256];
	size_t l = strcspn(text, " \n");
	str_ncopy(first, sizeof first, text, l);
	return str_caseeq(first, CF(c)->myhostname);
}

/* The certificate must name the MX host (or the next hop itself without
 * MX lookup: addr_names holds that name). The chain is always verified
 * (the context does not stop the handshake on failure), so every level
 * can log the outcome; only "verify" acts on it, after the handshake. */
static void set_peer_name(SSL *ssl, const char *name)
{
	struct net_addr tmp;
	if (net_addr_parse(name, 25, &tmp) == 0) {
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name);
		return;
	}
	SSL_set_tlsext_host_name(ssl, name);
	SSL_set1_host(ssl, name);
}

static void start_tls(struct dconn *c)
{
	SSL *ssl = SSL_new(CF(c)->tls_ctx);
	if (ssl)
		set_peer_name(ssl, c->host);
	struct bufferevent *f = ssl ? bufferevent_openssl_filter_new(deliver_base(c->dl), c->bev, ssl,
								      BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE)
				    : NULL;
	if (!f) {
		if (ssl)
			SSL_free(ssl);
		struct mail_reply r;
		mail_reply_set(&r, 451, "4.7.5", "cannot start TLS with %s", c->peer);
		c->d->no_tls_until = clock_now_s() + NO_TLS_RETRY_S;
		c->plain_retry = tls_optional(c);
		try_next(c, &r);
		return;
	}
	c->bev = f;
	bufferevent_setcb(f, on_read, on_write, on_event, c);
	bufferevent_enable(f, EV_READ | EV_WRITE);
	c->st = DC_TLS;
	arm(c, CF(c)->t_helo);
}

/* EHLO, or LHLO for LMTP (RFC 2033 4.1). */
static void send_hello(struct dconn *c)
{
	c->st = DC_EHLO;
	c->phase = lmtp(c) ? "LHLO" : "EHLO";
	send_line(c, "%s %s", c->phase, CF(c)->helo_name);
	arm(c, CF(c)->t_helo);
}

/* The handshake is done: note what it gave; at the verify level a
 * certificate that is not valid for the peer's name ends this attempt
 * before anything is sent (never a plaintext retry). */
static bool tls_established(struct dconn *c)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	long vr = SSL_get_verify_result(ssl);
	const SSL_CIPHER *ciph = SSL_get_current_cipher(ssl);
	bool verified = vr == X509_V_OK && SSL_get0_peer_certificate(ssl) != NULL;
	snprintf(c->tls_desc, sizeof c->tls_desc, "%s cipher=%s verified=%s", SSL_get_version(ssl),
		 ciph ? SSL_CIPHER_get_name(ciph) : "none", verified ? "yes" : "no");
	if (verified || tls_level(c) != DELIVER_TLS_VERIFY)
		return true;
	const char *why = vr == X509_V_OK ? "no certificate" : X509_verify_cert_error_string(vr);
	char e[300];
	snprintf(e, sizeof e, "certificate not verified: %s", why);
	log_info("event=smtp_tls_failed peer=%s error=%s action=defer", c->peer, LOG_Q(e));
	struct mail_reply r;
	mail_reply_set(&r, 451, "4.7.5", "Server certificate not verified for host %s: %s", c->peer, why);
	try_next(c, &r);
	return false;
}

static void after_ehlo(struct dconn *c)
{
	const struct deliver_conf *cf = CF(c);
	/* a recent TLS failure means plaintext for a while, unless TLS is required */
	bool want = tls_level(c) != DELIVER_TLS_NONE && (!tls_optional(c) || clock_now_s() >= c->d->no_tls_until);
	if (!c->tls && c->starttls && want && cf->tls_ctx) {
		c->st = DC_STARTTLS;
		send_line(c, "STARTTLS");
		arm(c, cf->t_helo);
		return;
	}
	if (!c->tls && !tls_optional(c)) {
		struct mail_reply r;
		mail_reply_set(&r, 451, "4.7.4", "TLS is required, but was not offered by host %s", c->peer);
		try_next(c, &r);
		return;
	}
	go_ready(c);
}

static void go_ready(struct dconn *c)
{
	if (!c->was_ready) {
		c->was_ready = true;
		c->d->nstarting--;
		log_info("event=smtp_connected peer=%s tls=%s level=%s pipelining=%d dsn=%d", c->peer,
			 c->tls ? c->tls_desc : "none", deliver_tls_level_name(tls_level(c)), c->pipelining, c->dsn);
	}
	c->st = DC_READY;
	event_del(c->timer);
	deliver_conn_ready(c);
}

/* Defer looking for work to the next loop turn (avoids deep recursion
 * when many jobs fail before sending anything). */
static void ready_later(struct dconn *c)
{
	c->st = DC_READY;
	c->kick = true;
	struct timeval zero = { 0, 0 };
	event_add(c->timer, &zero);
}

static bool ascii(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s >= 0x80)
			return false;
	}
	return true;
}

static void precheck_fail(struct dconn *c, int code, const char *enh, const char *text)
{
	struct mail_reply r;
	mail_reply_set(&r, code, enh, "%s", text);
	for (size_t i = 0; i < c->job->n; i++)
		c->job->req->res[c->job->first + i].reply = r;
	struct djob *j = c->job;
	c->job = NULL;
	deliver_job_done(c->dl, j);
	ready_later(c);
}

static void send_mail_cmd(struct dconn *c)
{
	const struct mail_env *env = c->job->req->env;
	struct buf *b = &c->wbuf;
	buf_reset(b);
	buf_printf(b, "MAIL FROM:<%s>", env->sender);
	if (c->size)
		buf_printf(b, " SIZE=%llu", (unsigned long long)c->job->req->body_len);
	if (env->body == MAIL_BODY_8BITMIME && c->eightbit)
		buf_puts(b, " BODY=8BITMIME");
	if (env->smtputf8 && c->smtputf8)
		buf_puts(b, " SMTPUTF8");
	if (c->dsn) {
		if (env->ret)
			buf_puts(b, env->ret == MAIL_RET_FULL ? " RET=FULL" : " RET=HDRS");
		if (env->envid)
			buf_printf(b, " ENVID=%s", env->envid);
	}
	buf_append(b, "\r\n", 2);
	bufferevent_write(c->bev, b->data, b->len);
}

static void send_rcpt_cmd(struct dconn *c, size_t i)
{
	struct djob *j = c->job;
	const struct mail_rcpt *r = &j->req->env->rcpt[j->req->res[j->first + i].idx];
	struct buf *b = &c->wbuf;
	buf_reset(b);
	buf_printf(b, "RCPT TO:<%s>", r->addr);
	if (c->dsn) {
		if (r->notify) {
			if (r->notify & MAIL_NOTIFY_NEVER)
				buf_puts(b, " NOTIFY=NEVER");
			else
				buf_printf(b, " NOTIFY=%s%s%s%s%s", (r->notify & MAIL_NOTIFY_SUCCESS) ? "SUCCESS" : "",
					   (r->notify & MAIL_NOTIFY_SUCCESS) && (r->notify & (MAIL_NOTIFY_FAILURE | MAIL_NOTIFY_DELAY)) ? "," : "",
					   (r->notify & MAIL_NOTIFY_FAILURE) ? "FAILURE" : "",
					   (r->notify & MAIL_NOTIFY_FAILURE) && (r->notify & MAIL_NOTIFY_DELAY) ? "," : "",
					   (r->notify & MAIL_NOTIFY_DELAY) ? "DELAY" : "");
		}
		if (r->orcpt) {
			buf_printf(b, " ORCPT=%s", r->orcpt);
		} else if (ascii(r->addr)) {
			/* RFC 3461 4.2: pass the original recipient on */
			buf_puts(b, " ORCPT=rfc822;");
			mail_xtext_encode(r->addr, strlen(r->addr), b);
		}
	}
	buf_append(b, "\r\n", 2);
	bufferevent_write(c->bev, b->data, b->len);
}

void deliver_conn_run_job(struct dconn *c, struct djob *j)
{
	c->job = j;
	c->st = DC_TX;
	c->tx_pos = 0;
	c->tx_sent = 0;
	c->mail_ok = false;
	c->accepted = 0;
	c->acc = xcalloc(j->n ? j->n : 1, sizeof *c->acc);
	c->kick = false;
	const struct mail_env *env = j->req->env;
	for (size_t i = 0; i < j->n; i++)
		mail_reply_set(&j->req->res[j->first + i].reply, 451, "4.4.2",
			       "delivery to %s was not completed", c->peer);
	if (c->size && c->size_limit && j->req->body_len > c->size_limit) {
		char t[400];
		snprintf(t, sizeof t, "message size %llu exceeds size limit %llu of server %.300s",
			 (unsigned long long)j->req->body_len, (unsigned long long)c->size_limit, c->peer);
		precheck_fail(c, 552, "5.3.4", t);
		return;
	}
	if (env->smtputf8 && !c->smtputf8) {
		bool need = !ascii(env->sender);
		for (size_t i = 0; i < j->n && !need; i++)
			need = !ascii(env->rcpt[j->req->res[j->first + i].idx].addr);
		if (need) {
			char t[400];
			snprintf(t, sizeof t, "SMTPUTF8 is required, but was not offered by host %.300s", c->peer);
			precheck_fail(c, 553, "5.6.7", t);
			return;
		}
	}
	uint64_t off = 0;
	c->fd = j->req->open_body(j->req->open_ctx, j->req->qid, &off);
	if (c->fd < 0) {
		precheck_fail(c, 451, "4.3.0", "cannot read the queue file");
		return;
	}
	c->body_off = off;
	c->body_left = j->req->body_len;
	c->phase = "MAIL FROM";
	send_mail_cmd(c);
	c->tx_sent = 1;
	if (c->pipelining) {
		for (size_t i = 0; i < j->n; i++)
			send_rcpt_cmd(c, i);
		send_line(c, "DATA");
		c->tx_sent = j->n + 2;
	}
	arm(c, CF(c)->t_mail);
}

/* The transaction is over (results are set). rset: the server holds a
 * half transaction; clear it before reuse. */
static void finish_tx(struct dconn *c, bool rset)
{
	struct djob *j = c->job;
	c->job = NULL;
	close_body(c);
	xfree(c->acc);
	c->acc = NULL;
	c->reuse++;
	deliver_tx_done(c);
	deliver_job_done(c->dl, j);
	if (c->ending)
		return;
	if (rset) {
		c->st = DC_RSET;
		send_line(c, "RSET");
		arm(c, CF(c)->t_helo);
	} else {
		go_ready(c);
	}
}

static void pump_body(struct dconn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	while (c->body_left > 0 && evbuffer_get_length(out) < OUT_HIGH) {
		size_t n = c->body_left < BODY_CHUNK ? (size_t)c->body_left : BODY_CHUNK;
		buf_reserve(&c->rbuf, n);
		if (fs_pread_all(c->fd, c->rbuf.data, n, (off_t)c->body_off) < 0) {
			struct mail_reply r;
			mail_reply_set(&r, 451, "4.3.0", "error reading the queue file: %s", strerror(errno));
			conn_end(c, false, &r);
			return;
		}
		buf_reset(&c->wbuf);
		mail_dot_encode(&c->enc, c->rbuf.data, n, &c->wbuf);
		bufferevent_write(c->bev, c->wbuf.data, c->wbuf.len);
		c->body_off += n;
		c->body_left -= n;
	}
	if (c->body_left == 0) {
		buf_reset(&c->wbuf);
		mail_dot_encode_end(&c->enc, &c->wbuf);
		bufferevent_write(c->bev, c->wbuf.data, c->wbuf.len);
		bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
		c->st = DC_DOT;
		c->phase = "end of DATA";
		arm(c, CF(c)->t_data_done);
	}
}

static void tx_reply(struct dconn *c, const struct mail_reply *r)
{
	struct djob *j = c->job;
	size_t n = j->n;
	bool ok = r->code >= 200 && r->code < 300;
	size_t pos = c->tx_pos++;
	if (pos == 0) { /* MAIL */
		c->mail_ok = ok;
		if (!ok) {
			struct mail_reply x;
			remote_reply(c, r, "MAIL FROM", &x);
			for (size_t i = 0; i < n; i++)
				j->req->res[j->first + i].reply = x;
		}
		if (!c->pipelining) {
			if (!ok) {
				finish_tx(c, true);
				return;
			}
			c->phase = "RCPT TO";
			send_rcpt_cmd(c, 0);
			arm(c, CF(c)->t_rcpt);
		}
		return;
	}
	if (pos <= n) { /* RCPT */
		size_t i = pos - 1;
		if (c->mail_ok) {
			if (ok) {
				c->acc[i] = true;
				c->accepted++;
			} else {
				remote_reply(c, r, "RCPT TO", &j->req->res[j->first + i].reply);
			}
		}
		if (!c->pipelining) {
			if (i + 1 < n) {
				send_rcpt_cmd(c, i + 1);
				arm(c, CF(c)->t_rcpt);
			} else if (c->accepted) {
				c->phase = "DATA";
				send_line(c, "DATA");
				arm(c, CF(c)->t_data_init);
			} else {
				finish_tx(c, true);
			}
		}
		return;
	}
	/* DATA */
	if (!c->mail_ok || c->accepted == 0) {
		if (r->code == 354) {
			/* a server that says "go ahead" with no recipient: we
			 * cannot send an empty message, so drop the connection */
			finish_tx(c, false);
			if (!c->ending)
				conn_end(c, false, NULL);
			return;
		}
		finish_tx(c, true);
		return;
	}
	if (r->code != 354) {
		struct mail_reply x;
		remote_reply(c, r, "DATA", &x);
		for (size_t i = 0; i < n; i++) {
			if (c->acc[i])
				j->req->res[j->first + i].reply = x;
		}
		finish_tx(c, true);
		return;
	}
	c->st = DC_BODY;
	c->phase = "message content";
	mail_dot_enc_init(&c->enc);
	bufferevent_setwatermark(c->bev, EV_WRITE, OUT_HIGH / 4, 0);
	arm(c, CF(c)->t_data_xfer);
	pump_body(c);
}

static void dot_reply(struct dconn *c, const struct mail_reply *r)
{
	struct djob *j = c->job;
	struct mail_reply x;
	remote_reply(c, r, "end of DATA", &x);
	size_t ok = 0;
	for (size_t i = 0; i < j->n; i++) {
		if (c->acc[i]) {
			j->req->res[j->first + i].reply = x;
			j->req->res[j->first + i].no_dsn = !c->dsn;
			ok++;
		}
	}
	char t[MAIL_REPLY_TEXT_MAX + 32];
	mail_reply_str(r, t, sizeof t);
	log_info("queue=%s event=%s relay=%s tls=%s rcpts=%zu reply=%s", j->req->qid,
		 r->code >= 200 && r->code < 300 ? "smtp_sent" : "smtp_refused", c->peer, c->tls ? "yes" : "no", ok,
		 LOG_Q(t));
	finish_tx(c, false);
	if (r->code == 421 && !c->ending)
		conn_end(c, false, NULL);
}

/* LMTP (RFC 2033 4.2): after the final dot, one reply per accepted
 * recipient in RCPT order. Each sets its recipient's result at once and
 * closes it (a lost connection then fails only those still waiting); the
 * transaction ends with the last one. */
static void lmtp_dot_reply(struct dconn *c, const struct mail_reply *r)
{
	struct djob *j = c->job;
	size_t i = 0;
	while (!c->acc[i])
		i++; /* one is open: we stay in DOT only while some are */
	struct deliver_rcpt_result *res = &j->req->res[j->first + i];
	remote_reply(c, r, "end of DATA", &res->reply);
	res->no_dsn = !c->dsn;
	c->acc[i] = false;
	c->accepted--;
	char t[MAIL_REPLY_TEXT_MAX + 32];
	mail_reply_str(r, t, sizeof t);
	log_info("queue=%s event=%s relay=%s tls=%s rcpt=%s reply=%s", j->req->qid,
		 r->code >= 200 && r->code < 300 ? "lmtp_sent" : "lmtp_refused", c->peer, c->tls ? "yes" : "no",
		 LOG_QA(j->req->env->rcpt[res->idx].addr), LOG_Q(t));
	if (c->accepted > 0) {
		arm(c, CF(c)->t_data_done);
		return;
	}
	finish_tx(c, false);
	if (r->code == 421 && !c->ending)
		conn_end(c, false, NULL);
}

static void handle_reply(struct dconn *c, const struct mail_reply *r)
{
	struct mail_reply x;
	bool ok = r->code >= 200 && r->code < 300;
	if (r->code == 421 && c->st != DC_QUIT && c->st != DC_DOT) {
		/* the server is closing the channel */
		remote_reply(c, r, c->phase ? c->phase : "greeting", &x);
		x.code = 451; /* 421 is for the channel; the recipients may be retried */
		if (c->st == DC_GREET || c->st == DC_EHLO || c->st == DC_HELO || c->st == DC_STARTTLS) {
			try_next(c, &x);
			return;
		}
		conn_end(c, false, &x);
		return;
	}
	switch (c->st) {
	case DC_GREET:
		if (!ok) {
			mail_reply_set(&x, r->code >= 500 ? r->code : 451, r->enh[0] ? r->enh : mail_reply_default_enh(r->code),
				       "host %s refused to talk to me: %d %s", c->peer, r->code, r->text);
			try_next(c, &x);
			return;
		}
		if (greeting_is_me(c, r->text)) {
			mail_reply_set(&x, 554, "5.4.6", "mail for %s loops back to myself", c->d->name);
			conn_end(c, true, &x);
			return;
		}
		send_hello(c);
		return;
	case DC_EHLO:
		if (ok) {
			if (greeting_is_me(c, r->text)) {
				mail_reply_set(&x, 554, "5.4.6", "mail for %s loops back to myself", c->d->name);
				conn_end(c, true, &x);
				return;
			}
			parse_ehlo(c, r->text);
			after_ehlo(c);
		} else if (r->code >= 500 && !lmtp(c)) {
			c->st = DC_HELO;
			send_line(c, "HELO %s", CF(c)->helo_name);
			arm(c, CF(c)->t_helo);
		} else {
			remote_reply(c, r, c->phase, &x);
			if (x.code >= 500)
				x.code = 451; /* LHLO refused: try elsewhere, later (as HELO) */
			try_next(c, &x);
		}
		return;
	case DC_HELO:
		if (!ok) {
			remote_reply(c, r, "HELO", &x);
			if (x.code >= 500)
				x.code = 451; /* a refused HELO is a reason to try elsewhere, later */
			try_next(c, &x);
			return;
		}
		c->esmtp = false;
		after_ehlo(c);
		return;
	case DC_STARTTLS:
		if (r->code == 220) {
			start_tls(c);
			return;
		}
		if (!tls_optional(c)) {
			remote_reply(c, r, "STARTTLS", &x);
			x.code = 451;
			try_next(c, &x);
			return;
		}
		go_ready(c);
		return;
	case DC_TX:
		tx_reply(c, r);
		return;
	case DC_DOT:
		if (lmtp(c))
			lmtp_dot_reply(c, r);
		else
			dot_reply(c, r);
		return;
	case DC_RSET:
		if (ok)
			go_ready(c);
		else
			conn_end(c, false, NULL);
		return;
	case DC_QUIT:
		conn_end(c, false, NULL);
		return;
	default:
		/* unexpected reply (idle, in BODY): the server is confused */
		mail_reply_set(&x, 451, "4.4.2", "unexpected reply from %s: %d %s", c->peer, r->code, r->text);
		conn_end(c, false, &x);
		return;
	}
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
					try_next(c, &r);
				else
					conn_end(c, false, &r);
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
				try_next(c, &e);
			else
				conn_end(c, false, &e);
			return;
		}
		if (rc == 1)
			handle_reply(c, &r);
	}
}

static void on_write(struct bufferevent *bev, void *arg)
{
	(void)bev;
	struct dconn *c = arg;
	if (c->st == DC_BODY && !c->ending) {
		arm(c, CF(c)->t_data_xfer);
		pump_body(c);
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
			arm(c, CF(c)->t_helo);
		} else if (c->st == DC_TLS) {
			if (!tls_established(c))
				return;
			c->tls = true;
			c->pipelining = c->dsn = c->eightbit = c->smtputf8 = c->size = c->starttls = false;
			send_hello(c);
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
		try_next(c, &r);
		return;
	case DC_TLS: {
		unsigned long e = bufferevent_get_openssl_error(c->bev);
		char t[200] = "handshake failed";
		if (e)
			ERR_error_string_n(e, t, sizeof t);
		log_info("event=smtp_tls_failed peer=%s error=%s action=%s", c->peer, LOG_Q(t),
			 tls_optional(c) ? "retry_plaintext" : "defer");
		mail_reply_set(&r, 451, "4.7.5", "TLS handshake with %s failed: %s", c->peer, t);
		c->d->no_tls_until = clock_now_s() + NO_TLS_RETRY_S;
		c->plain_retry = tls_optional(c);
		try_next(c, &r);
		return;
	}
	case DC_GREET:
	case DC_EHLO:
	case DC_HELO:
	case DC_STARTTLS:
		mail_reply_set(&r, 451, "4.4.2", "lost connection with %s while %s", c->peer, setup_phase(c));
		try_next(c, &r);
		return;
	case DC_READY:
	case DC_RSET:
	case DC_QUIT:
	case DC_RESOLVE:
		if (c->idle) {
			c->idle = false;
			c->d->nidle--;
		}
		conn_end(c, false, NULL);
		return;
	case DC_TX:
	case DC_BODY:
	case DC_DOT:
		mail_reply_set(&r, 451, "4.4.2", "lost connection with %s while sending %s", c->peer, c->phase);
		conn_end(c, false, &r);
		return;
	}
}
