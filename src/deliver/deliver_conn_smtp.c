/*
 * deliver_conn_smtp.c - the SMTP/LMTP client dialogue on a connection
 * (RFC 5321 client side, RFC 2033 LMTP, RFC 2920 PIPELINING, RFC 3461 DSN
 * parameters): greeting, EHLO/LHLO or HELO, then per job MAIL, RCPT...,
 * DATA (pipelined when offered), the body, and the replies per recipient.
 *
 * Owns the current transaction (c->job, c->acc, the body's fd). Every
 * recipient of a job has a result when the job is reported; prechecks
 * (SIZE, SMTPUTF8) fail a job before anything is sent. LMTP: LHLO instead
 * of EHLO (no HELO fallback; no loop check by greeting name on a unix
 * socket) and one reply per accepted recipient after the final dot.
 * Does not connect, time out or end connections: deliver_conn.c does.
 */
#include <errno.h>
#include <stdio.h>
#include <event2/buffer.h>
#include <string.h>

#include "base/fsutil.h"
#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "deliver/deliver_int.h"
#include "mail/mail_env.h"
#include "mail/mail_xtext.h"

#define BODY_CHUNK (64 * 1024)
#define OUT_HIGH (256 * 1024)

/* "host X said: 550 5.1.1 text (in reply to RCPT TO command)" */
void deliver_conn_smtp_remote_reply(const struct dconn *c, const struct mail_reply *r, const char *cmd,
				    struct mail_reply *out)
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
	return str_caseeq(first, deliver_conn_conf(c)->myhostname);
}

/* EHLO, or LHLO for LMTP (RFC 2033 4.1). */
void deliver_conn_smtp_hello(struct dconn *c)
{
	c->st = DC_EHLO;
	c->phase = deliver_conn_lmtp(c) ? "LHLO" : "EHLO";
	deliver_conn_send_line(c, "%s %s", c->phase, deliver_conn_conf(c)->helo_name);
	deliver_conn_arm(c, deliver_conn_conf(c)->t_helo);
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
		deliver_conn_send_line(c, "DATA");
		c->tx_sent = j->n + 2;
	}
	deliver_conn_arm(c, deliver_conn_conf(c)->t_mail);
}

/* The transaction is over (results are set). rset: the server holds a
 * half transaction; clear it before reuse. */
static void finish_tx(struct dconn *c, bool rset)
{
	struct djob *j = c->job;
	c->job = NULL;
	deliver_conn_close_body(c);
	xfree(c->acc);
	c->acc = NULL;
	c->reuse++;
	deliver_tx_done(c);
	deliver_job_done(c->dl, j);
	if (c->ending)
		return;
	if (rset) {
		c->st = DC_RSET;
		deliver_conn_send_line(c, "RSET");
		deliver_conn_arm(c, deliver_conn_conf(c)->t_helo);
	} else {
		deliver_conn_go_ready(c);
	}
}

void deliver_conn_smtp_body(struct dconn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	while (c->body_left > 0 && evbuffer_get_length(out) < OUT_HIGH) {
		size_t n = c->body_left < BODY_CHUNK ? (size_t)c->body_left : BODY_CHUNK;
		buf_reserve(&c->rbuf, n);
		if (fs_pread_all(c->fd, c->rbuf.data, n, (off_t)c->body_off) < 0) {
			struct mail_reply r;
			mail_reply_set(&r, 451, "4.3.0", "error reading the queue file: %s", strerror(errno));
			deliver_conn_end(c, false, &r);
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
		deliver_conn_arm(c, deliver_conn_conf(c)->t_data_done);
	}
}

/* MAIL FROM: a refusal is every recipient's result; without pipelining
 * the first RCPT follows (or the transaction ends). */
static void tx_mail_reply(struct dconn *c, const struct mail_reply *r)
{
	struct djob *j = c->job;
	size_t n = j->n;
	bool ok = r->code >= 200 && r->code < 300;
	c->mail_ok = ok;
	if (!ok) {
		struct mail_reply x;
		deliver_conn_smtp_remote_reply(c, r, "MAIL FROM", &x);
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
		deliver_conn_arm(c, deliver_conn_conf(c)->t_rcpt);
	}
}

/* RCPT TO for the job's recipient i: accepted, or its result; without
 * pipelining the next RCPT or DATA follows. */
static void tx_rcpt_reply(struct dconn *c, const struct mail_reply *r, size_t i)
{
	struct djob *j = c->job;
	size_t n = j->n;
	bool ok = r->code >= 200 && r->code < 300;
	if (c->mail_ok) {
		if (ok) {
			c->acc[i] = true;
			c->accepted++;
		} else {
			deliver_conn_smtp_remote_reply(c, r, "RCPT TO", &j->req->res[j->first + i].reply);
		}
	}
	if (!c->pipelining) {
		if (i + 1 < n) {
			send_rcpt_cmd(c, i + 1);
			deliver_conn_arm(c, deliver_conn_conf(c)->t_rcpt);
		} else if (c->accepted) {
			c->phase = "DATA";
			deliver_conn_send_line(c, "DATA");
			deliver_conn_arm(c, deliver_conn_conf(c)->t_data_init);
		} else {
			finish_tx(c, true);
		}
	}
}

/* DATA: 354 starts the body when some recipient was accepted. */
static void tx_data_reply(struct dconn *c, const struct mail_reply *r)
{
	struct djob *j = c->job;
	size_t n = j->n;
	if (!c->mail_ok || c->accepted == 0) {
		if (r->code == 354) {
			/* a server that says "go ahead" with no recipient: we
			 * cannot send an empty message, so drop the connection */
			finish_tx(c, false);
			if (!c->ending)
				deliver_conn_end(c, false, NULL);
			return;
		}
		finish_tx(c, true);
		return;
	}
	if (r->code != 354) {
		struct mail_reply x;
		deliver_conn_smtp_remote_reply(c, r, "DATA", &x);
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
	deliver_conn_arm(c, deliver_conn_conf(c)->t_data_xfer);
	deliver_conn_smtp_body(c);
}

/* A reply in the transaction, in the order of the commands: MAIL, one per
 * RCPT, DATA (with PIPELINING they may all be in flight at once). */
static void tx_reply(struct dconn *c, const struct mail_reply *r)
{
	size_t pos = c->tx_pos++;
	if (pos == 0)
		tx_mail_reply(c, r);
	else if (pos <= c->job->n)
		tx_rcpt_reply(c, r, pos - 1);
	else
		tx_data_reply(c, r);
}

static void dot_reply(struct dconn *c, const struct mail_reply *r)
{
	struct djob *j = c->job;
	struct mail_reply x;
	deliver_conn_smtp_remote_reply(c, r, "end of DATA", &x);
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
		deliver_conn_end(c, false, NULL);
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
	deliver_conn_smtp_remote_reply(c, r, "end of DATA", &res->reply);
	res->no_dsn = !c->dsn;
	c->acc[i] = false;
	c->accepted--;
	char t[MAIL_REPLY_TEXT_MAX + 32];
	mail_reply_str(r, t, sizeof t);
	log_info("queue=%s event=%s relay=%s tls=%s rcpt=%s reply=%s", j->req->qid,
		 r->code >= 200 && r->code < 300 ? "lmtp_sent" : "lmtp_refused", c->peer, c->tls ? "yes" : "no",
		 LOG_QA(j->req->env->rcpt[res->idx].addr), LOG_Q(t));
	if (c->accepted > 0) {
		deliver_conn_arm(c, deliver_conn_conf(c)->t_data_done);
		return;
	}
	finish_tx(c, false);
	if (r->code == 421 && !c->ending)
		deliver_conn_end(c, false, NULL);
}

/* The greeting: 2xx goes on to EHLO (LHLO), unless it names us. */
static void greet_reply(struct dconn *c, const struct mail_reply *r)
{
	struct mail_reply x;
	bool ok = r->code >= 200 && r->code < 300;
	if (!ok) {
		mail_reply_set(&x, r->code >= 500 ? r->code : 451, r->enh[0] ? r->enh : mail_reply_default_enh(r->code),
			       "host %s refused to talk to me: %d %s", c->peer, r->code, r->text);
		deliver_conn_try_next(c, &x);
		return;
	}
	if (greeting_is_me(c, r->text)) {
		mail_reply_set(&x, 554, "5.4.6", "mail for %s loops back to myself", c->d->name);
		deliver_conn_end(c, true, &x);
		return;
	}
	deliver_conn_smtp_hello(c);
}

/* EHLO (LHLO): the extensions, then STARTTLS or ready; a 5xx to EHLO falls
 * back to HELO (never for LHLO). */
static void ehlo_reply(struct dconn *c, const struct mail_reply *r)
{
	struct mail_reply x;
	bool ok = r->code >= 200 && r->code < 300;
	if (ok) {
		if (greeting_is_me(c, r->text)) {
			mail_reply_set(&x, 554, "5.4.6", "mail for %s loops back to myself", c->d->name);
			deliver_conn_end(c, true, &x);
			return;
		}
		parse_ehlo(c, r->text);
		deliver_conn_tls_after_ehlo(c);
	} else if (r->code >= 500 && !deliver_conn_lmtp(c)) {
		c->st = DC_HELO;
		deliver_conn_send_line(c, "HELO %s", deliver_conn_conf(c)->helo_name);
		deliver_conn_arm(c, deliver_conn_conf(c)->t_helo);
	} else {
		deliver_conn_smtp_remote_reply(c, r, c->phase, &x);
		if (x.code >= 500)
			x.code = 451; /* LHLO refused: try elsewhere, later (as HELO) */
		deliver_conn_try_next(c, &x);
	}
}

static void helo_reply(struct dconn *c, const struct mail_reply *r)
{
	struct mail_reply x;
	bool ok = r->code >= 200 && r->code < 300;
	if (!ok) {
		deliver_conn_smtp_remote_reply(c, r, "HELO", &x);
		if (x.code >= 500)
			x.code = 451; /* a refused HELO is a reason to try elsewhere, later */
		deliver_conn_try_next(c, &x);
		return;
	}
	c->esmtp = false;
	deliver_conn_tls_after_ehlo(c);
}

void deliver_conn_smtp_reply(struct dconn *c, const struct mail_reply *r)
{
	struct mail_reply x;
	bool ok = r->code >= 200 && r->code < 300;
	if (r->code == 421 && c->st != DC_QUIT && c->st != DC_DOT) {
		/* the server is closing the channel */
		deliver_conn_smtp_remote_reply(c, r, c->phase ? c->phase : "greeting", &x);
		x.code = 451; /* 421 is for the channel; the recipients may be retried */
		if (c->st == DC_GREET || c->st == DC_EHLO || c->st == DC_HELO || c->st == DC_STARTTLS) {
			deliver_conn_try_next(c, &x);
			return;
		}
		deliver_conn_end(c, false, &x);
		return;
	}
	switch (c->st) {
	case DC_GREET:
		greet_reply(c, r);
		return;
	case DC_EHLO:
		ehlo_reply(c, r);
		return;
	case DC_HELO:
		helo_reply(c, r);
		return;
	case DC_STARTTLS:
		deliver_conn_tls_reply(c, r);
		return;
	case DC_TX:
		tx_reply(c, r);
		return;
	case DC_DOT:
		if (deliver_conn_lmtp(c))
			lmtp_dot_reply(c, r);
		else
			dot_reply(c, r);
		return;
	case DC_RSET:
		if (ok)
			deliver_conn_go_ready(c);
		else
			deliver_conn_end(c, false, NULL);
		return;
	case DC_QUIT:
		deliver_conn_end(c, false, NULL);
		return;
	default:
		/* unexpected reply (idle, in BODY): the server is confused */
		mail_reply_set(&x, 451, "4.4.2", "unexpected reply from %s: %d %s", c->peer, r->code, r->text);
		deliver_conn_end(c, false, &x);
		return;
	}
}
