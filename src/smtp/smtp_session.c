/*
 * smtp_session.c - one SMTP connection: I/O, timers, TLS, replies, close.
 *
 * Reads are processed strictly in order: while a hook is pending (state
 * WAIT) nothing more is read from the input buffer, so replies to a
 * pipelined group always come back in order (RFC 2920). Replies are
 * appended to the output buffer and leave in one write per loop turn.
 * When replies pile up (a client that pipelines but does not read), reading
 * pauses. A session is never freed inside its own callbacks: close marks
 * it and a zero-time event frees it later (Redis's freeClientAsync).
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/arena.h"
#include "base/ids.h"
#include "base/log.h"
#include "base/map.h"
#include "base/xalloc.h"
#include "net/net_listen.h"
#include "net/net_tls.h"
#include "smtp/smtp_int.h"

#define OUT_HIGH (256 * 1024) /* pause reading above this much pending output */
#define IN_HIGH (512 * 1024)  /* libevent stops reading when input holds this */
#define CLOSE_GRACE_S 10      /* a closing session that cannot flush is dropped */

static void on_read(struct bufferevent *bev, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);

static uintptr_t ip_count(struct smtp_server *srv, const char *ip)
{
	return (uintptr_t)map_gets(srv->per_ip, ip);
}

static void ip_adjust(struct smtp_server *srv, const char *ip, int delta)
{
	uintptr_t n = ip_count(srv, ip);
	n = delta > 0 ? n + 1 : (n ? n - 1 : 0);
	if (n)
		map_puts(srv->per_ip, ip, (void *)n);
	else
		map_dels(srv->per_ip, ip);
}

/* Refuse a connection before any session exists: one line, then close. */
static void reject_conn(struct smtp_server *srv, int fd, const char *ip, const char *line,
			enum smtp_conn_outcome why)
{
	ssize_t w = send(fd, line, strlen(line), MSG_DONTWAIT | MSG_NOSIGNAL);
	(void)w;
	close(fd);
	metric_inc(&srv->m.conn[why]);
	/* the refused connection gets a session id of its own, for the log */
	/* limit=: the key an administrator would change */
	static const char *const limit[] = { [SMTP_CONN_SESSION_LIMIT] = "smtpd_session_limit",
					     [SMTP_CONN_PER_IP_LIMIT] = "smtpd_client_connection_count_limit" };
	const char *key = (size_t)why < sizeof limit / sizeof limit[0] && limit[why] ? limit[why] : NULL;
	log_info("session=%llu event=reject_connect client=%s reason=%s%s%s", (unsigned long long)ids_next(), ip,
		 smtp_conn_outcome_name(why), key ? " limit=" : "", key ? key : "");
}

static void arm(struct event *ev, int secs)
{
	struct timeval tv = { secs, 0 };
	evtimer_add(ev, &tv);
}

static void on_idle(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct smtp_session *s = arg;
	if (s->state == SMTP_S_CLOSING) {
		/* could not flush within the grace period: drop it */
		s->free_forced = true;
		event_active(s->free_ev, EV_TIMEOUT, 0);
		return;
	}
	if (s->state == SMTP_S_WAIT) {
		/* waiting on us, not on the client */
		arm(s->idle_ev, s->conf->timeout_s);
		return;
	}
	log_info("session=%llu event=timeout client=%s state=%d", (unsigned long long)s->id, s->info.ip, s->state);
	smtp_session_reply(s, 421, "4.4.2", "%s Error: timeout exceeded", s->conf->hostname);
	smtp_session_close(s);
}

static void on_life(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct smtp_session *s = arg;
	if (s->state == SMTP_S_CLOSING)
		return;
	log_info("session=%llu event=session_time_limit client=%s", (unsigned long long)s->id, s->info.ip);
	if (s->state == SMTP_S_WAIT) {
		s->quit_after_wait = true;
		return;
	}
	smtp_session_reply(s, 421, "4.4.2", "%s Error: session time limit exceeded", s->conf->hostname);
	smtp_session_close(s);
}

static void session_free(struct smtp_session *s)
{
	struct smtp_server *srv = s->srv;
	if (s->sink) {
		srv->policy.data_abort(srv->policy.ctx, s->sink);
		s->sink = NULL;
	}
	if (srv->policy.on_disconnect)
		srv->policy.on_disconnect(srv->policy.ctx, &s->info);
	map_delu(srv->sessions, s->id);
	ip_adjust(srv, s->info.ip, -1);
	srv->nsessions--;
	if (s->bev) {
		/* read what the client still sent, so close() does not answer
		 * with a reset that could destroy our last reply in flight */
		evutil_socket_t fd = bufferevent_getfd(s->bev);
		if (fd >= 0 && !s->info.tls) {
			char junk[4096];
			for (int i = 0; i < 16 && recv(fd, junk, sizeof junk, MSG_DONTWAIT) > 0; i++)
				;
		}
		bufferevent_free(s->bev);
	}
	event_free(s->idle_ev);
	event_free(s->life_ev);
	event_free(s->free_ev);
	arena_free(&s->tx);
	buf_fini(&s->dbuf);
	buf_fini(&s->out);
	xfree(s->rcpt);
	log_info("session=%llu event=disconnect client=%s errors=%d", (unsigned long long)s->id, s->info.ip,
		 s->errors);
	smtp_server_conf_unref(s->cref);
	xfree(s);
	if (srv->shutting_down && srv->nsessions == 0 && srv->shutdown_done) {
		void (*done)(void *) = srv->shutdown_done;
		srv->shutdown_done = NULL;
		done(srv->shutdown_arg);
	}
}

static void on_free(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct smtp_session *s = arg;
	/* a TLS filter may still hold bytes for the socket: give it time */
	struct bufferevent *under = s->bev ? bufferevent_get_underlying(s->bev) : NULL;
	if (under && evbuffer_get_length(bufferevent_get_output(under)) > 0 && !s->free_forced) {
		struct timeval tv = { 0, 20000 };
		event_add(s->free_ev, &tv);
		return;
	}
	session_free(s);
}

void smtp_session_accept(struct smtp_server *srv, evutil_socket_t fd, const struct sockaddr *sa, int salen)
{
	struct net_addr a;
	char ip[NET_ADDR_STRLEN];
	net_addr_from_sa(&a, sa, (socklen_t)salen);
	net_addr_ip(&a, ip, sizeof ip);
	char line[512];
	if (srv->shutting_down) {
		snprintf(line, sizeof line, "421 4.3.2 %s Service shutting down\r\n", srv->cur->c.hostname);
		reject_conn(srv, fd, ip, line, SMTP_CONN_SHUTDOWN);
		return;
	}
	if ((int)srv->nsessions >= srv->cur->c.session_limit) {
		snprintf(line, sizeof line, "421 4.3.2 %s Service busy: too many sessions, try again later\r\n",
			 srv->cur->c.hostname);
		reject_conn(srv, fd, ip, line, SMTP_CONN_SESSION_LIMIT);
		return;
	}
	if ((int)ip_count(srv, ip) >= srv->cur->c.per_ip_limit &&
	    !(srv->cur->c.per_ip_exceptions && net_cidr_list_match(srv->cur->c.per_ip_exceptions, &a))) {
		snprintf(line, sizeof line, "421 4.7.0 %s Error: too many connections from %s\r\n", srv->cur->c.hostname,
			 ip);
		reject_conn(srv, fd, ip, line, SMTP_CONN_PER_IP_LIMIT);
		return;
	}
	struct smtp_session *s = xcalloc(1, sizeof *s);
	s->id = ids_next();
	s->srv = srv;
	s->cref = srv->cur;
	s->cref->refs++;
	s->conf = &s->cref->c;
	s->info.session_id = s->id;
	s->info.addr = a;
	snprintf(s->info.ip, sizeof s->info.ip, "%s", ip);
	snprintf(s->info.name, sizeof s->info.name, "unknown");
	s->tx = arena_new(4096);
	buf_init(&s->dbuf);
	buf_init(&s->out);
	net_tcp_nodelay(fd, sa->sa_family);
	s->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!s->bev) {
		uint64_t id = s->id;
		close(fd);
		arena_free(&s->tx);
		smtp_server_conf_unref(s->cref);
		xfree(s);
		log_warn("session=%llu event=accept_error client=%s error=\"bufferevent_socket_new failed\"",
			 (unsigned long long)id, ip);
		return;
	}
	bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, IN_HIGH);
	s->direct = true; /* EV_WRITE stays off until a reply would block (flush_out) */
	bufferevent_enable(s->bev, EV_READ);
	s->idle_ev = evtimer_new(srv->base, on_idle, s);
	s->life_ev = evtimer_new(srv->base, on_life, s);
	s->free_ev = evtimer_new(srv->base, on_free, s);
	arm(s->idle_ev, s->conf->timeout_s);
	arm(s->life_ev, s->conf->session_time_limit_s);
	map_putu(srv->sessions, s->id, s);
	srv->nsessions++;
	ip_adjust(srv, ip, +1);
	metric_inc(&srv->m.conn[SMTP_CONN_ACCEPTED]);
	log_info("session=%llu event=connect client=%s", (unsigned long long)s->id, ip);

	s->state = SMTP_S_WAIT;
	s->wait = SMTP_W_CONNECT;
	struct mail_reply r = { 0 };
	if (srv->policy.on_connect(srv->policy.ctx, &s->info, &r) == SMTP_HOOK_DONE)
		smtp_session_resume(s, &r);
}

/* Plain sockets: write the replies queued so far now, and watch for
 * writability only when the socket would block (a client not reading).
 * Letting the bufferevent do it costs an epoll_ctl to add the write event
 * and another to remove it for every reply. Called after each reply outside
 * command processing, and once after a batch of pipelined commands (their
 * replies go out in one write). */
static void flush_out(struct smtp_session *s)
{
	if (!s->direct || !s->bev)
		return;
	struct evbuffer *out = bufferevent_get_output(s->bev);
	if (evbuffer_get_length(out) == 0)
		return;
	/* as libevent's own socket write callback does: the front of a
	 * bufferevent's output is frozen except while it writes */
	evbuffer_unfreeze(out, 1);
	int n = evbuffer_write(out, bufferevent_getfd(s->bev));
	evbuffer_freeze(out, 1);
	if (evbuffer_get_length(out) > 0 || n < 0) {
		/* would block, or an error the bufferevent then reports (on_event) */
		bufferevent_enable(s->bev, EV_WRITE);
		return;
	}
	if (s->state == SMTP_S_CLOSING)
		event_active(s->free_ev, EV_TIMEOUT, 0);
}

void smtp_session_send(struct smtp_session *s, const struct mail_reply *r)
{
	if (s->state == SMTP_S_CLOSING || !s->bev)
		return;
	buf_reset(&s->out);
	mail_reply_format(r, true, &s->out);
	bufferevent_write(s->bev, s->out.data, s->out.len);
	if (!s->in_process)
		flush_out(s);
	if (r->code >= 400 && r->code != 421) {
		s->errors++;
		if (s->errors >= s->conf->hard_error_limit) {
			log_info("session=%llu event=error_limit client=%s errors=%d", (unsigned long long)s->id,
				 s->info.ip, s->errors);
			struct mail_reply q;
			mail_reply_set(&q, 421, "4.7.0", "%s Error: too many errors", s->conf->hostname);
			smtp_session_send(s, &q);
			smtp_session_close(s);
		}
	}
}

void smtp_session_reply(struct smtp_session *s, int code, const char *enh, const char *fmt, ...)
{
	struct mail_reply r;
	r.code = code;
	snprintf(r.enh, sizeof r.enh, "%s", enh);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r.text, sizeof r.text, fmt, ap);
	va_end(ap);
	smtp_session_send(s, &r);
}

void smtp_session_close(struct smtp_session *s)
{
	if (s->state == SMTP_S_CLOSING)
		return;
	if (s->sink) {
		s->srv->policy.data_abort(s->srv->policy.ctx, s->sink);
		s->sink = NULL;
	}
	s->state = SMTP_S_CLOSING;
	bufferevent_disable(s->bev, EV_READ);
	evbuffer_drain(bufferevent_get_input(s->bev), evbuffer_get_length(bufferevent_get_input(s->bev)));
	event_del(s->life_ev);
	arm(s->idle_ev, CLOSE_GRACE_S);
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
		event_active(s->free_ev, EV_TIMEOUT, 0);
}

void smtp_session_tx_reset(struct smtp_session *s)
{
	if (s->sink) {
		s->srv->policy.data_abort(s->srv->policy.ctx, s->sink);
		s->sink = NULL;
	}
	arena_reset(s->tx);
	s->have_mail = false;
	memset(&s->from, 0, sizeof s->from);
	s->nrcpt = 0;
	s->sink_failed = s->too_big = s->chunking = s->bdat_failed = s->bdat_last = false;
	s->bdat_left = 0;
	s->msg_id[0] = '\0';
	buf_reset(&s->dbuf);
	s->dbuf_checked = 0;
}

/* One command line from the input buffer; false when none is complete. */
static bool read_command(struct smtp_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	size_t avail = evbuffer_get_length(in);
	if (avail == 0)
		return false;
	size_t limit = (size_t)s->conf->cmd_line_limit;
	size_t eol_len = 0;
	struct evbuffer_ptr p = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
	if (p.pos < 0) {
		if (avail > limit) {
			if (!s->discard_line)
				smtp_session_reply(s, 500, "5.5.2", "Error: line too long (limit %zu octets)", limit);
			s->discard_line = true;
			evbuffer_drain(in, avail);
		}
		return false;
	}
	size_t total = (size_t)p.pos + 1;
	if (s->discard_line) {
		evbuffer_drain(in, total);
		s->discard_line = false;
		return true;
	}
	if (total > limit) {
		evbuffer_drain(in, total);
		smtp_session_reply(s, 500, "5.5.2", "Error: line too long (limit %zu octets)", limit);
		return true;
	}
	char line[65536 + 2];
	evbuffer_remove(in, line, total);
	size_t len = total - 1;
	bool cr = len > 0 && line[len - 1] == '\r';
	if (cr)
		len--;
	line[len] = '\0';
	if (!cr && s->conf->forbid_bare_newline) {
		smtp_session_reply(s, 500, "5.5.2", "Error: bare <LF> received");
		return true;
	}
	if (memchr(line, '\0', len) || memchr(line, '\r', len)) {
		smtp_session_reply(s, 500, "5.5.2", "Error: NUL or bare <CR> in command");
		return true;
	}
	smtp_verbs_dispatch(s, line, len);
	return true;
}

void smtp_session_process(struct smtp_session *s)
{
	if (s->in_process)
		return;
	s->in_process = true;
	for (;;) {
		bool more;
		if (s->state == SMTP_S_CMD)
			more = read_command(s);
		else if (s->state == SMTP_S_DATA || s->state == SMTP_S_BDAT)
			more = smtp_data_read(s);
		else
			more = false;
		if (!more)
			break;
	}
	s->in_process = false;
	flush_out(s);
	if (s->state != SMTP_S_CLOSING && evbuffer_get_length(bufferevent_get_output(s->bev)) > OUT_HIGH) {
		s->throttled = true;
		bufferevent_disable(s->bev, EV_READ);
	}
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct smtp_session *s = arg;
	if (s->state == SMTP_S_CLOSING) {
		struct evbuffer *in = bufferevent_get_input(bev);
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	arm(s->idle_ev, s->conf->timeout_s);
	smtp_session_process(s);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	(void)bev;
	struct smtp_session *s = arg;
	if (s->direct)
		bufferevent_disable(s->bev, EV_WRITE); /* drained: flush_out writes the next replies */
	if (s->state == SMTP_S_CLOSING) {
		event_active(s->free_ev, EV_TIMEOUT, 0);
		return;
	}
	if (s->throttled) {
		s->throttled = false;
		bufferevent_enable(s->bev, EV_READ);
		smtp_session_process(s);
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_session *s = arg;
	if (what & BEV_EVENT_CONNECTED) {
		SSL *ssl = bufferevent_openssl_get_ssl(bev);
		if (ssl) {
			net_tls_describe(ssl, s->info.tls_desc, sizeof s->info.tls_desc);
			log_info("session=%llu event=tls client=%s tls=%s", (unsigned long long)s->id, s->info.ip,
				 LOG_Q(s->info.tls_desc));
		}
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		if (what & BEV_EVENT_ERROR) {
			unsigned long e = bufferevent_get_openssl_error(bev);
			if (e) {
				char t[256];
				ERR_error_string_n(e, t, sizeof t);
				log_info("session=%llu event=tls_error client=%s error=\"%s\"", (unsigned long long)s->id,
					 s->info.ip, t);
			}
		}
		if (s->state != SMTP_S_CLOSING && s->state != SMTP_S_CMD && s->state != SMTP_S_WAIT)
			log_info("session=%llu event=lost_connection client=%s state=%d", (unsigned long long)s->id,
				 s->info.ip, s->state);
		if (s->state != SMTP_S_CLOSING) {
			if (s->sink) {
				s->srv->policy.data_abort(s->srv->policy.ctx, s->sink);
				s->sink = NULL;
			}
			s->state = SMTP_S_CLOSING;
		}
		s->free_forced = true;
		event_active(s->free_ev, EV_TIMEOUT, 0);
	}
}

void smtp_session_start_tls(struct smtp_session *s)
{
	/* the TLS filter writes through the socket's bufferevent: that one
	 * goes back to ordinary writes (anything queued still goes out first) */
	s->direct = false;
	bufferevent_enable(s->bev, EV_WRITE);
	SSL *ssl = SSL_new(s->conf->tls_ctx);
	struct bufferevent *tls =
		ssl ? bufferevent_openssl_filter_new(s->srv->base, s->bev, ssl, BUFFEREVENT_SSL_ACCEPTING,
						     BEV_OPT_CLOSE_ON_FREE)
		    : NULL;
	if (!tls) {
		if (ssl)
			SSL_free(ssl);
		log_warn("session=%llu event=tls_error client=%s error=\"cannot start TLS\"", (unsigned long long)s->id,
			 s->info.ip);
		smtp_session_close(s);
		return;
	}
	s->bev = tls;
	bufferevent_setcb(tls, on_read, on_write, on_event, s);
	bufferevent_setwatermark(tls, EV_READ, 0, IN_HIGH);
	bufferevent_enable(tls, EV_READ | EV_WRITE);
	/* RFC 3207 4.2: forget everything learned before TLS */
	s->info.tls = true;
	s->info.esmtp = false;
	s->info.helo[0] = '\0';
	s->helo_seen = false;
	smtp_session_tx_reset(s);
}

void smtp_session_resume(struct smtp_session *s, const struct mail_reply *r)
{
	if (s->state != SMTP_S_WAIT)
		return; /* closing, or a stray answer */
	enum smtp_wait w = s->wait;
	s->wait = SMTP_W_NONE;
	s->state = SMTP_S_CMD;
	if (w == SMTP_W_CONNECT) {
		if (r->code == 0 || (r->code >= 200 && r->code < 300)) {
			smtp_session_reply(s, 220, "", "%s", s->conf->banner);
		} else {
			smtp_session_send(s, r);
			smtp_session_close(s);
			return;
		}
	} else {
		smtp_verbs_resume(s, r, w);
	}
	if (s->state == SMTP_S_CLOSING)
		return;
	if (s->quit_after_wait || s->srv->shutting_down) {
		smtp_session_reply(s, 421, "4.3.2", "%s Service shutting down, closing transmission channel",
				   s->conf->hostname);
		smtp_session_close(s);
		return;
	}
	if (s->state == SMTP_S_CMD && !s->in_process)
		smtp_session_process(s);
}

void smtp_session_shutdown(struct smtp_session *s)
{
	switch (s->state) {
	case SMTP_S_CLOSING:
		return;
	case SMTP_S_WAIT:
		if (s->wait == SMTP_W_DATA || s->wait == SMTP_W_MAIL || s->wait == SMTP_W_RCPT) {
			s->quit_after_wait = true; /* let the pending answer out first */
			return;
		}
		break;
	default:
		break;
	}
	smtp_session_reply(s, 421, "4.3.2", "%s Service shutting down, closing transmission channel",
			   s->conf->hostname);
	smtp_session_close(s);
}
