/*
 * queue_bounce.c - RFC 3464 multipart/report generation.
 */
#include "queue/queue_bounce.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/fsutil.h"
#include "base/xalloc.h"
#include "mail/mail_date.h"
#include "mail/mail_env.h"
#include "mail/mail_xtext.h"

#define HEADER_READ_MAX (1024 * 1024)

/* The original's header section (up to and including the blank line), or
 * the first HEADER_READ_MAX octets if it has none. */
static int read_part(const struct queue_notify *n, bool whole, struct buf *out)
{
	uint64_t want = n->body_len;
	if (!whole && want > HEADER_READ_MAX)
		want = HEADER_READ_MAX;
	buf_reserve(out, (size_t)want);
	if (want && fs_pread_all(n->fd, out->data + out->len, (size_t)want, (off_t)n->body_off) < 0)
		return -1;
	out->len += (size_t)want;
	out->data[out->len] = '\0';
	if (!whole) {
		char *end = memmem(out->data, out->len, "\r\n\r\n", 4);
		if (end)
			out->len = (size_t)(end - out->data) + 2;
		else if (out->len >= 2 && memcmp(out->data + out->len - 2, "\r\n", 2) != 0)
			buf_append(out, "\r\n", 2);
		out->data[out->len] = '\0';
	}
	return 0;
}

static void one_line(const char *s, struct buf *out)
{
	for (; *s; s++)
		buf_putc(out, (*s == '\r' || *s == '\n') ? ' ' : *s);
}

static void status_of(const struct mail_rcpt *r, enum queue_notify_kind kind, char *out, size_t size)
{
	if (kind == QUEUE_NOTIFY_RELAYED)
		snprintf(out, size, "2.0.0");
	else if (kind == QUEUE_NOTIFY_DELAYED)
		snprintf(out, size, "%s", r->has_reply && r->reply.enh[0] == '4' ? r->reply.enh : "4.0.0");
	else if (r->has_reply && r->reply.enh[0])
		snprintf(out, size, "%s", r->reply.enh);
	else if (r->has_reply && r->reply.code >= 400 && r->reply.code < 500)
		snprintf(out, size, "4.0.0");
	else
		snprintf(out, size, "5.0.0");
}

static void xtext_field(const char *name, const char *val, struct buf *out)
{
	/* ENVID and ORCPT arrive as xtext; the report carries them decoded */
	struct buf dec;
	buf_init(&dec);
	const char *semi = strchr(val, ';');
	if (semi && strcmp(name, "Original-Recipient") == 0) {
		buf_printf(out, "%s: %.*s; ", name, (int)(semi - val), val);
		if (mail_xtext_decode(semi + 1, strlen(semi + 1), &dec) == 0)
			one_line(dec.data ? dec.data : "", out);
		else
			one_line(semi + 1, out);
	} else {
		buf_printf(out, "%s: ", name);
		if (mail_xtext_decode(val, strlen(val), &dec) == 0)
			one_line(dec.data ? dec.data : "", out);
		else
			one_line(val, out);
	}
	buf_puts(out, "\r\n");
	buf_fini(&dec);
}

int queue_bounce_write(struct queue_store *qs, const struct queue_notify *n, struct queue_draft *d,
		       struct mail_env **env_out)
{
	const struct mail_env *o = n->orig;
	bool failed = n->kind == QUEUE_NOTIFY_FAILED, delayed = n->kind == QUEUE_NOTIFY_DELAYED;
	/* failures and delays both tell the last reply of each recipient */
	bool problem = failed || delayed;
	/* RET=FULL applies to failure reports only (RFC 3461 4.3) */
	bool full = failed && o->ret == MAIL_RET_FULL && n->body_len <= n->size_limit;
	struct buf orig, m;
	buf_init(&orig);
	buf_init(&m);
	if (read_part(n, full, &orig) < 0)
		goto fail;
	if (queue_store_draft_new(qs, d) < 0)
		goto fail;

	char date[64], arrival[64], until[64];
	int64_t now = clock_now_us();
	mail_date_format(now, date, sizeof date);
	mail_date_format(o->arrival_us, arrival, sizeof arrival);
	mail_date_format(n->retry_until_us, until, sizeof until);
	char boundary[96];
	snprintf(boundary, sizeof boundary, "%s.%lld/%s", d->qid, (long long)(now % 1000000007), n->hostname);

	buf_printf(&m, "Date: %s\r\n", date);
	buf_printf(&m, "From: MAILER-DAEMON@%s (Mail Delivery System)\r\n", n->hostname);
	buf_printf(&m, "Subject: %s\r\n",
		   failed    ? "Undelivered Mail Returned to Sender"
		   : delayed ? "Delayed Mail (still being retried)"
			     : "Successful Mail Delivery Report");
	buf_printf(&m, "To: <%s>\r\n", o->sender);
	buf_printf(&m, "Auto-Submitted: auto-replied\r\n");
	buf_printf(&m, "Message-Id: <%s@%s>\r\n", d->qid, n->hostname);
	buf_printf(&m, "MIME-Version: 1.0\r\n");
	buf_printf(&m, "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n", boundary);
	buf_printf(&m, "\r\nThis is a MIME-encapsulated message.\r\n\r\n");

	/* part 1: for humans */
	buf_printf(&m, "--%s\r\nContent-Description: Notification\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
		   boundary);
	buf_printf(&m, "This is the mail system at host %s.\r\n\r\n", n->hostname);
	if (failed)
		buf_printf(&m, "I'm sorry to have to inform you that your message could not\r\n"
			       "be delivered to one or more recipients. %s\r\n\r\n",
			   full ? "It is attached below." : "Its header is attached below.");
	else if (delayed)
		buf_printf(&m, "This is a warning only: you do not need to resend your message.\r\n\r\n"
			       "Your message could not be delivered to one or more recipients yet.\r\n"
			       "It will be retried until %s.\r\n\r\n",
			   until);
	else
		buf_printf(&m, "Your message was successfully relayed to the recipients below.\r\n"
			       "The next mail system does not send delivery notifications,\r\n"
			       "so this is the last notification you will get for them.\r\n\r\n");
	if (n->note)
		buf_printf(&m, "%s\r\n\r\n", n->note);
	for (size_t i = 0; i < n->nrcpt; i++) {
		const struct mail_rcpt *r = &o->rcpt[n->rcpt[i]];
		buf_printf(&m, "<%s>: ", r->addr);
		if (!problem) {
			buf_puts(&m, "delivery via a mail system without DSN support");
		} else if (r->has_reply) {
			char t[MAIL_REPLY_TEXT_MAX + 32];
			mail_reply_str(&r->reply, t, sizeof t);
			buf_puts(&m, t);
		} else {
			buf_puts(&m, "delivery failed");
		}
		buf_puts(&m, "\r\n");
	}
	buf_puts(&m, "\r\n");

	/* part 2: for machines (RFC 3464) */
	buf_printf(&m, "--%s\r\nContent-Description: Delivery report\r\nContent-Type: message/delivery-status\r\n\r\n",
		   boundary);
	buf_printf(&m, "Reporting-MTA: dns; %s\r\nX-Mxgate-Queue-ID: %s\r\n", n->hostname, o->qid);
	if (o->envid)
		xtext_field("Original-Envelope-Id", o->envid, &m);
	buf_printf(&m, "Arrival-Date: %s\r\n", arrival);
	for (size_t i = 0; i < n->nrcpt; i++) {
		const struct mail_rcpt *r = &o->rcpt[n->rcpt[i]];
		char st[16];
		status_of(r, n->kind, st, sizeof st);
		bool utf8 = false;
		for (const char *p = r->addr; *p; p++)
			utf8 |= (unsigned char)*p >= 0x80;
		buf_printf(&m, "\r\nFinal-Recipient: %s; %s\r\n", utf8 ? "utf-8" : "rfc822", r->addr);
		if (r->orcpt)
			xtext_field("Original-Recipient", r->orcpt, &m);
		buf_printf(&m, "Action: %s\r\nStatus: %s\r\n", failed ? "failed" : delayed ? "delayed" : "relayed", st);
		if (problem && r->has_reply) {
			buf_printf(&m, "Diagnostic-Code: smtp; %d %s", r->reply.code, r->reply.enh);
			if (r->reply.enh[0])
				buf_putc(&m, ' ');
			one_line(r->reply.text, &m);
			buf_puts(&m, "\r\n");
		}
		char last[64];
		mail_date_format(r->when_us ? r->when_us : now, last, sizeof last);
		buf_printf(&m, "Last-Attempt-Date: %s\r\n", last);
		if (delayed)
			buf_printf(&m, "Will-Retry-Until: %s\r\n", until);
	}
	buf_puts(&m, "\r\n");

	/* part 3: the original (header only unless RET=FULL, a failure, and
	 * small enough) */
	buf_printf(&m, "--%s\r\nContent-Description: %s\r\nContent-Type: %s\r\n\r\n", boundary,
		   full ? "Undelivered Message" : problem ? "Undelivered Message Headers" : "Message Headers",
		   full ? "message/rfc822" : "text/rfc822-headers");
	buf_append(&m, orig.data, orig.len);
	if (orig.len >= 2 && memcmp(orig.data + orig.len - 2, "\r\n", 2) != 0)
		buf_puts(&m, "\r\n");
	buf_puts(&m, "\r\n");
	buf_printf(&m, "--%s--\r\n", boundary);

	if (queue_store_draft_write(qs, d, m.data, m.len) < 0) {
		int e = errno;
		queue_store_draft_abort(qs, d);
		errno = e;
		goto fail;
	}
	struct mail_env *e = mail_env_new();
	snprintf(e->qid, sizeof e->qid, "%s", d->qid);
	e->arrival_us = now;
	e->sender = "";
	e->helo = "";
	e->client_addr = "";
	e->client_name = "localhost";
	e->protocol = "local";
	e->flags = MAIL_ENV_F_BOUNCE;
	e->smtputf8 = o->smtputf8;
	bool eight = false;
	for (size_t i = 0; i < m.len && !eight; i++)
		eight = (unsigned char)m.data[i] >= 0x80;
	e->body = eight ? MAIL_BODY_8BITMIME : MAIL_BODY_7BIT;
	mail_env_add_rcpt(e, o->sender, NULL, MAIL_NOTIFY_NEVER);
	*env_out = e;
	buf_fini(&orig);
	buf_fini(&m);
	return 0;
fail:;
	int err = errno ? errno : EIO;
	buf_fini(&orig);
	buf_fini(&m);
	errno = err;
	return -1;
}
