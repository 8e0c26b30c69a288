/*
 * smtp_data.c - message content: DATA and BDAT, the Received: header, and
 * the checks made at the end of content.
 *
 * Content is never held whole in memory: decoded octets collect in a small
 * buffer (WRITE_CHUNK) and go to the policy's sink. The checks of
 * mail_body.c run on the decoded stream; a message that fails one (bare
 * CR/LF, size, line length, hop count) is discarded and answered with a
 * 5xx after its end, so nothing of it, and nothing after a false end, is
 * ever accepted (SMTP smuggling). A BDAT chunk is always read completely,
 * even when refused, so the dialogue stays in step (RFC 3030 2).
 */
#include <event2/buffer.h>
#include <string.h>

#include "base/arena.h"
#include "base/clock.h"
#include "base/log.h"
#include "mail/mail_date.h"
#include "smtp/smtp_int.h"

#define WRITE_CHUNK (64 * 1024)

static void set_protocol(struct smtp_session *s)
{
	bool utf8 = s->from.smtputf8;
	const char *p;
	if (s->info.tls)
		p = utf8 ? "UTF8SMTPS" : "ESMTPS";
	else if (s->info.esmtp)
		p = utf8 ? "UTF8SMTP" : "ESMTP";
	else
		p = "SMTP";
	snprintf(s->protocol, sizeof s->protocol, "%s", p);
}

/* RFC 5321 4.4 trace field; lines folded with TAB, each well under 998. */
static void write_received(struct smtp_session *s, struct buf *b)
{
	char date[64];
	mail_date_format(clock_now_us(), date, sizeof date);
	buf_printf(b, "Received: from %s (%s [%s])\r\n", s->info.helo[0] ? s->info.helo : "unknown", s->info.name,
		   s->info.ip);
	buf_printf(b, "\tby %s (mxgate) with %s id %s", s->conf->hostname, s->protocol, s->msg_id);
	if (s->info.tls && s->info.tls_desc[0])
		buf_printf(b, "\r\n\t(using %s)", s->info.tls_desc);
	if (s->nrcpt == 1) {
		char a[MAIL_PATH_MAX + 8];
		mail_addr_format(&s->rcpt[0].addr, a, sizeof a);
		buf_printf(b, "\r\n\tfor <%s>", a);
	}
	buf_printf(b, ";\r\n\t%s\r\n", date);
}

/* Open the sink and write our Received: line. false: answered already. */
static bool open_sink(struct smtp_session *s)
{
	struct mail_reply r;
	memset(&r, 0, sizeof r);
	s->sink = s->srv->policy.data_open(s->srv->policy.ctx, &s->info, s->msg_id, &r);
	if (!s->sink) {
		if (!r.code)
			mail_reply_set(&r, 451, "4.3.0", "Error: queue file write error");
		smtp_session_send(s, &r);
		return false;
	}
	set_protocol(s);
	struct buf b;
	buf_init(&b);
	write_received(s, &b);
	if (s->srv->policy.data_write(s->srv->policy.ctx, s->sink, b.data, b.len) < 0)
		s->sink_failed = true;
	s->check_base = b.len;
	buf_fini(&b);
	mail_body_check_init(&s->check, (size_t)s->conf->data_line_limit);
	s->nl_prev_cr = false;
	return true;
}

/* With smtpd_forbid_bare_newline = no: turn bare LF and bare CR in
 * dbuf[from..] into CRLF so the spool only ever holds CRLF lines (Postfix's
 * "normalize"). */
static void normalize(struct smtp_session *s, size_t from)
{
	struct buf *d = &s->dbuf;
	bool need = false, prev_cr = s->nl_prev_cr;
	for (size_t i = from; i < d->len && !need; i++) {
		char c = d->data[i];
		if ((c == '\n' && !prev_cr) || (prev_cr && c != '\n'))
			need = true;
		prev_cr = c == '\r';
	}
	if (!need) {
		s->nl_prev_cr = prev_cr;
		return;
	}
	struct buf o;
	buf_init(&o);
	buf_reserve(&o, d->len + (d->len - from) / 8 + 2);
	buf_append(&o, d->data, from);
	prev_cr = s->nl_prev_cr;
	for (size_t i = from; i < d->len; i++) {
		char c = d->data[i];
		if (prev_cr && c != '\n')
			buf_putc(&o, '\n'); /* bare CR becomes CRLF */
		if (c == '\n' && !prev_cr)
			buf_putc(&o, '\r');
		buf_putc(&o, c);
		prev_cr = c == '\r';
	}
	s->nl_prev_cr = prev_cr;
	buf_fini(d);
	*d = o;
}

/* Check the octets decoded since the last call, then write s->dbuf to the
 * sink when enough has collected (or at the end), unless refused. */
static void flush_decoded(struct smtp_session *s, bool final)
{
	size_t from = s->dbuf_checked;
	if (s->dbuf.len > from) {
		if (!s->conf->forbid_bare_newline)
			normalize(s, from);
		mail_body_check_feed(&s->check, s->dbuf.data + from, s->dbuf.len - from);
		s->dbuf_checked = s->dbuf.len;
	}
	uint64_t limit = s->conf->size_limit;
	if (limit && s->check.octets > limit)
		s->too_big = true;
	bool refused = s->too_big || (s->check.flags & (MAIL_BODY_F_BARE_LF | MAIL_BODY_F_BARE_CR));
	if (refused || s->sink_failed || !s->sink) {
		buf_reset(&s->dbuf);
		s->dbuf_checked = 0;
		return;
	}
	if (s->dbuf.len && (s->dbuf.len >= WRITE_CHUNK || final)) {
		if (s->srv->policy.data_write(s->srv->policy.ctx, s->sink, s->dbuf.data, s->dbuf.len) < 0)
			s->sink_failed = true;
		buf_reset(&s->dbuf);
		s->dbuf_checked = 0;
	}
}

/* Content is complete: refuse it, or hand it to the policy. */
static void finish(struct smtp_session *s)
{
	flush_decoded(s, true);
	/* a trailing bare CR at the very end of a chunk sequence */
	if (s->check.prev_cr && s->chunking && s->conf->forbid_bare_newline)
		s->check.flags |= MAIL_BODY_F_BARE_CR;
	struct mail_reply r;
	bool reject = true;
	if (s->check.flags & (MAIL_BODY_F_BARE_LF | MAIL_BODY_F_BARE_CR))
		mail_reply_set(&r, 554, "5.5.2", "Error: bare <LF> or bare <CR> in message content (RFC 5321 2.3.8)");
	else if (s->too_big)
		mail_reply_set(&r, 552, "5.3.4", "Error: message size exceeds fixed limit of %llu octets",
			       (unsigned long long)s->conf->size_limit);
	else if (s->check.flags & MAIL_BODY_F_LONG_LINE)
		mail_reply_set(&r, 554, "5.6.0", "Error: message line longer than %d octets (RFC 5321 4.5.3.1.6)",
			       s->conf->data_line_limit);
	else if ((int)s->check.received > s->conf->hop_limit)
		mail_reply_set(&r, 554, "5.4.6", "Error: too many hops (%u Received: header fields; mail loop?)",
			       s->check.received);
	else
		reject = false;
	if (reject) {
		smtp_verbs_refused(s, SMTP_STAGE_DATA, &r, s->msg_id[0] ? s->msg_id : NULL);
		s->state = SMTP_S_CMD;
		smtp_session_tx_reset(s); /* aborts the sink */
		smtp_session_send(s, &r);
		return;
	}
	struct smtp_tx tx = {
		.from = &s->from,
		.rcpt = s->rcpt,
		.nrcpt = s->nrcpt,
		.octets = s->check.octets + s->check_base,
		.received = s->check.received,
		.eightbit = (s->check.flags & MAIL_BODY_F_8BIT) != 0,
		.protocol = s->protocol,
		.chunking = s->chunking,
	};
	void *sink = s->sink;
	s->sink = NULL;
	s->state = SMTP_S_WAIT;
	s->wait = SMTP_W_DATA;
	s->content_end_us = clock_mono_us();
	s->srv->policy.data_close(s->srv->policy.ctx, &s->info, &tx, sink);
}

void smtp_data_begin(struct smtp_session *s)
{
	if (!open_sink(s))
		return;
	mail_dot_dec_init(&s->dot);
	s->state = SMTP_S_DATA;
	smtp_session_reply(s, 354, "", "End data with <CR><LF>.<CR><LF>");
}

void smtp_data_bdat(struct smtp_session *s, uint64_t n, bool last)
{
	s->bdat_left = n;
	s->bdat_last = last;
	s->bdat_discard = false;
	if (!s->have_mail) {
		mail_reply_set(&s->bdat_err, 503, "5.5.1", "Error: need MAIL command");
		s->bdat_discard = true;
	} else if (s->nrcpt == 0) {
		mail_reply_set(&s->bdat_err, 554, "5.5.1", "Error: no valid recipients");
		s->bdat_discard = true;
	} else if (s->bdat_failed) {
		mail_reply_set(&s->bdat_err, 503, "5.5.1", "Error: previous BDAT failed; send RSET");
		s->bdat_discard = true;
	} else if (!s->chunking) {
		if (!open_sink(s)) {
			/* answered already (e.g. 452); still skip the chunk */
			s->bdat_failed = true;
			s->bdat_discard = true;
			s->bdat_err.code = 0;
		} else {
			s->chunking = true;
		}
	}
	s->state = SMTP_S_BDAT;
}

static bool read_data(struct smtp_session *s, struct evbuffer *in)
{
	struct evbuffer_iovec v[16];
	int n = evbuffer_peek(in, -1, NULL, v, 16);
	size_t used = 0;
	for (int i = 0; i < n && !s->dot.done; i++)
		used += mail_dot_decode(&s->dot, v[i].iov_base, v[i].iov_len, &s->dbuf);
	evbuffer_drain(in, used);
	flush_decoded(s, false);
	if (!s->dot.done)
		return evbuffer_get_length(in) > 0 && used > 0;
	finish(s);
	return true;
}

static bool read_bdat(struct smtp_session *s, struct evbuffer *in)
{
	size_t avail = evbuffer_get_length(in);
	size_t take = avail < s->bdat_left ? avail : (size_t)s->bdat_left;
	if (take) {
		if (s->bdat_discard || s->bdat_failed) {
			evbuffer_drain(in, take);
		} else {
			buf_reserve(&s->dbuf, take);
			evbuffer_remove(in, s->dbuf.data + s->dbuf.len, take);
			s->dbuf.len += take;
			s->dbuf.data[s->dbuf.len] = '\0';
			flush_decoded(s, false);
		}
		s->bdat_left -= take;
	}
	if (s->bdat_left > 0)
		return false;
	/* chunk complete */
	if (s->bdat_discard) {
		bool last = s->bdat_last;
		s->state = SMTP_S_CMD;
		if (last)
			smtp_session_tx_reset(s);
		else
			s->bdat_failed = s->have_mail; /* keep refusing until LAST or RSET */
		if (s->bdat_err.code) {
			smtp_verbs_refused(s, SMTP_STAGE_DATA, &s->bdat_err, NULL);
			smtp_session_send(s, &s->bdat_err);
		}
		return true;
	}
	if (s->bdat_last) {
		finish(s);
		return true;
	}
	s->state = SMTP_S_CMD;
	smtp_session_reply(s, 250, "2.0.0", "%llu octets received", (unsigned long long)s->check.octets);
	return true;
}

bool smtp_data_read(struct smtp_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	if (s->state == SMTP_S_BDAT)
		return read_bdat(s, in);
	if (evbuffer_get_length(in) == 0)
		return false;
	return read_data(s, in);
}

void smtp_data_abort(struct smtp_session *s)
{
	smtp_session_tx_reset(s);
}
