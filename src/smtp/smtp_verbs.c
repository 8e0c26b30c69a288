/*
 * smtp_verbs.c - the verb table and one handler per SMTP command.
 *
 * Each handler checks the command's place in the dialogue (RFC 5321 4.1.4
 * ordering), parses its argument with mail/mail_cmd.c and either answers
 * or asks the policy. Handlers set the session state before sending a reply
 * because a reply may close the session (error limit).
 */
#include <event2/buffer.h>
#include <string.h>

#include "base/arena.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "smtp/smtp_int.h"

typedef void (*verb_fn)(struct smtp_session *s, const char *arg, size_t len);

static struct mail_ext session_ext(const struct smtp_session *s)
{
	struct mail_ext e = { 0 };
	if (s->info.esmtp) {
		e.size = e.eightbit = e.smtputf8 = e.dsn = e.chunking = true;
		e.size_limit = s->conf->size_limit;
	}
	return e;
}

static bool helo_arg_ok(const char *arg, size_t len)
{
	if (len == 0 || len > 255)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)arg[i];
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

static bool do_helo_common(struct smtp_session *s, const char *arg, size_t len, bool esmtp)
{
	while (len && arg[len - 1] == ' ')
		len--;
	if (!helo_arg_ok(arg, len)) {
		smtp_session_reply(s, 501, "5.5.4", "Syntax: %s hostname", esmtp ? "EHLO" : "HELO");
		return false;
	}
	smtp_session_tx_reset(s); /* RFC 5321 4.1.4: EHLO resets like RSET */
	str_ncopy(s->info.helo, sizeof s->info.helo, arg, len);
	/* keep the name usable in headers and logs */
	for (char *p = s->info.helo; *p; p++) {
		if (*p == '(' || *p == ')' || *p == ' ' || *p == '\t')
			*p = '?';
	}
	s->info.esmtp = esmtp;
	s->helo_seen = true;
	metric_inc(&s->srv->m.helo);
	log_info("session=%llu event=helo client=%s verb=%s name=%s", (unsigned long long)s->id, s->info.ip,
		 esmtp ? "EHLO" : "HELO", LOG_Q(s->info.helo));
	return true;
}

void smtp_verbs_refused(struct smtp_session *s, enum smtp_stage st, const struct mail_reply *r, const char *what)
{
	static const char *events[SMTP_STAGE_N] = { "reject_mail", "reject_rcpt", "reject_data" };
	int subject = 0;
	if (r->enh[0] && r->enh[1] == '.' && r->enh[2] >= '1' && r->enh[2] <= '7' && r->enh[3] == '.')
		subject = r->enh[2] - '0';
	metric_inc(&s->srv->m.refused[st][subject][r->code >= 500]);
	char t[MAIL_REPLY_TEXT_MAX + 32];
	mail_reply_str(r, t, sizeof t);
	const char *key = st == SMTP_STAGE_MAIL ? "from" : st == SMTP_STAGE_RCPT ? "rcpt" : "queue";
	if (what)
		log_info("session=%llu event=%s client=%s %s=%s reply=%s", (unsigned long long)s->id, events[st],
			 s->info.ip, key, st == SMTP_STAGE_DATA ? LOG_Q(what) : LOG_QA(what), LOG_Q(t));
	else
		log_info("session=%llu event=%s client=%s reply=%s", (unsigned long long)s->id, events[st], s->info.ip,
			 LOG_Q(t));
}

/* Send a refusal of stage st's command (counted and logged). */
static void refuse(struct smtp_session *s, enum smtp_stage st, const char *what, int code, const char *enh,
		   const char *text)
{
	struct mail_reply r;
	mail_reply_set(&r, code, enh, "%s", text);
	smtp_verbs_refused(s, st, &r, what);
	smtp_session_send(s, &r);
}

static void v_helo(struct smtp_session *s, const char *arg, size_t len)
{
	if (do_helo_common(s, arg, len, false))
		smtp_session_reply(s, 250, "", "%s", s->conf->hostname);
}

static void v_ehlo(struct smtp_session *s, const char *arg, size_t len)
{
	if (!do_helo_common(s, arg, len, true))
		return;
	struct mail_reply r;
	r.code = 250;
	r.enh[0] = '\0';
	char size[40];
	if (s->conf->size_limit)
		snprintf(size, sizeof size, "SIZE %llu", (unsigned long long)s->conf->size_limit);
	else
		snprintf(size, sizeof size, "SIZE");
	snprintf(r.text, sizeof r.text, "%s\nPIPELINING\n%s\n8BITMIME\nENHANCEDSTATUSCODES\nSMTPUTF8\n%sCHUNKING\nDSN",
		 s->conf->hostname, size, (s->conf->tls_ctx && !s->info.tls) ? "STARTTLS\n" : "");
	smtp_session_send(s, &r);
}

static void v_mail(struct smtp_session *s, const char *arg, size_t len)
{
	if (!s->helo_seen) {
		refuse(s, SMTP_STAGE_MAIL, NULL, 503, "5.5.1", "Error: send HELO/EHLO first");
		return;
	}
	if (s->have_mail) {
		refuse(s, SMTP_STAGE_MAIL, NULL, 503, "5.5.1", "Error: nested MAIL command");
		return;
	}
	struct mail_ext ext = session_ext(s);
	struct mail_reply err;
	if (!mail_cmd_mail_from(arg, len, &ext, s->conf->strict_envelopes, &s->pend_from, &err)) {
		smtp_verbs_refused(s, SMTP_STAGE_MAIL, &err, NULL);
		smtp_session_send(s, &err);
		return;
	}
	struct mail_reply r = { 0 };
	s->state = SMTP_S_WAIT;
	s->wait = SMTP_W_MAIL;
	if (s->srv->policy.on_mail(s->srv->policy.ctx, &s->info, &s->pend_from, &r) == SMTP_HOOK_DONE)
		smtp_session_resume(s, &r);
}

static bool rcpt_dup(const struct smtp_session *s, const struct mail_rcpt_to *r)
{
	for (size_t i = 0; i < s->nrcpt; i++) {
		const struct mail_addr *a = &s->rcpt[i].addr;
		if (strcmp(a->local, r->addr.local) == 0 && str_caseeq(a->domain, r->addr.domain))
			return true;
	}
	return false;
}

static void v_rcpt(struct smtp_session *s, const char *arg, size_t len)
{
	if (!s->have_mail) {
		refuse(s, SMTP_STAGE_RCPT, NULL, 503, "5.5.1", "Error: need MAIL command");
		return;
	}
	if (s->nrcpt >= (size_t)s->conf->rcpt_limit) {
		refuse(s, SMTP_STAGE_RCPT, NULL, 452, "4.5.3", "Error: too many recipients");
		return;
	}
	struct mail_ext ext = session_ext(s);
	struct mail_reply err;
	if (!mail_cmd_rcpt_to(arg, len, &ext, s->from.smtputf8, s->conf->strict_envelopes, &s->pend_rcpt, &err)) {
		smtp_verbs_refused(s, SMTP_STAGE_RCPT, &err, NULL);
		smtp_session_send(s, &err);
		return;
	}
	struct mail_reply r = { 0 };
	s->state = SMTP_S_WAIT;
	s->wait = SMTP_W_RCPT;
	if (s->srv->policy.on_rcpt(s->srv->policy.ctx, &s->info, &s->from, &s->pend_rcpt, &r) == SMTP_HOOK_DONE)
		smtp_session_resume(s, &r);
}

static void v_data(struct smtp_session *s, const char *arg, size_t len)
{
	(void)arg;
	if (len) {
		refuse(s, SMTP_STAGE_DATA, NULL, 501, "5.5.4", "Syntax: DATA");
		return;
	}
	if (!s->have_mail) {
		refuse(s, SMTP_STAGE_DATA, NULL, 503, "5.5.1", "Error: need MAIL command");
		return;
	}
	if (s->chunking) {
		refuse(s, SMTP_STAGE_DATA, NULL, 503, "5.5.1", "Error: DATA after BDAT");
		return;
	}
	if (s->nrcpt == 0) {
		refuse(s, SMTP_STAGE_DATA, NULL, 554, "5.5.1", "Error: no valid recipients");
		return;
	}
	smtp_data_begin(s);
}

static void v_bdat(struct smtp_session *s, const char *arg, size_t len)
{
	uint64_t n;
	bool last;
	struct mail_reply err;
	if (!s->info.esmtp) {
		/* without EHLO there is no CHUNKING: we cannot know where the
		 * chunk ends, so the session cannot continue safely */
		smtp_session_reply(s, 503, "5.5.1", "Error: BDAT requires EHLO; closing");
		smtp_session_close(s);
		return;
	}
	if (!mail_cmd_bdat(arg, len, &n, &last, &err)) {
		/* unknown chunk size: the octets that follow cannot be skipped */
		smtp_session_send(s, &err);
		smtp_session_reply(s, 421, "4.5.0", "%s Error: cannot continue after a bad BDAT", s->conf->hostname);
		smtp_session_close(s);
		return;
	}
	smtp_data_bdat(s, n, last);
}

static void v_rset(struct smtp_session *s, const char *arg, size_t len)
{
	(void)arg;
	if (len) {
		smtp_session_reply(s, 501, "5.5.4", "Syntax: RSET");
		return;
	}
	smtp_session_tx_reset(s);
	smtp_session_reply(s, 250, "2.0.0", "Ok");
}

static void v_noop(struct smtp_session *s, const char *arg, size_t len)
{
	(void)arg;
	(void)len;
	smtp_session_reply(s, 250, "2.0.0", "Ok");
}

static void v_quit(struct smtp_session *s, const char *arg, size_t len)
{
	(void)arg;
	(void)len;
	smtp_session_reply(s, 221, "2.0.0", "Bye");
	smtp_session_close(s);
}

static void v_vrfy(struct smtp_session *s, const char *arg, size_t len)
{
	(void)arg;
	if (!len) {
		smtp_session_reply(s, 501, "5.5.4", "Syntax: VRFY address");
		return;
	}
	/* RFC 5321 3.5.3: a relay cannot verify; say so without lying */
	smtp_session_reply(s, 252, "2.0.0", "Cannot VRFY user, but will accept message and attempt delivery");
}

static void v_expn(struct smtp_session *s, const char *arg, size_t len)
{
	(void)arg;
	(void)len;
	smtp_session_reply(s, 502, "5.5.1", "Error: EXPN not supported");
}

static void v_help(struct smtp_session *s, const char *arg, size_t len)
{
	(void)arg;
	(void)len;
	smtp_session_reply(s, 214, "2.0.0",
			   "Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS\n"
			   "See RFC 5321 and https://www.rfc-editor.org/rfc/rfc5321");
}

static void v_starttls(struct smtp_session *s, const char *arg, size_t len)
{
	(void)arg;
	if (!s->conf->tls_ctx || s->info.tls || !s->info.esmtp) {
		smtp_session_reply(s, 502, "5.5.1", "Error: command not implemented");
		return;
	}
	if (len) {
		smtp_session_reply(s, 501, "5.5.4", "Syntax: STARTTLS");
		return;
	}
	if (s->have_mail) {
		smtp_session_reply(s, 503, "5.5.1", "Error: MAIL transaction in progress");
		return;
	}
	/* RFC 3207 / CVE-2011-0411: anything pipelined after STARTTLS arrived
	 * in plaintext and must never be taken as if it came over TLS */
	struct evbuffer *in = bufferevent_get_input(s->bev);
	size_t left = evbuffer_get_length(in);
	if (left) {
		log_info("session=%llu event=starttls_discard client=%s octets=%zu", (unsigned long long)s->id,
			 s->info.ip, left);
		evbuffer_drain(in, left);
	}
	smtp_session_reply(s, 220, "2.0.0", "Ready to start TLS");
	smtp_session_start_tls(s);
}

static void v_auth(struct smtp_session *s, const char *arg, size_t len)
{
	(void)arg;
	(void)len;
	smtp_session_reply(s, 503, "5.5.1", "Error: authentication not enabled");
}

static void v_notimpl(struct smtp_session *s, const char *arg, size_t len)
{
	(void)arg;
	(void)len;
	smtp_session_reply(s, 502, "5.5.1", "Error: command not implemented");
}

static void v_http(struct smtp_session *s, const char *arg, size_t len)
{
	(void)arg;
	(void)len;
	log_info("session=%llu event=forbidden_command client=%s", (unsigned long long)s->id, s->info.ip);
	smtp_session_reply(s, 421, "4.7.0", "%s Error: this is an SMTP server; closing", s->conf->hostname);
	smtp_session_close(s);
}

static void v_unknown(struct smtp_session *s, const char *arg, size_t len)
{
	(void)arg;
	(void)len;
	smtp_session_reply(s, 500, "5.5.2", "Error: command not recognized");
}

static const verb_fn handlers[MAIL_V_COUNT] = {
	[MAIL_V_UNKNOWN] = v_unknown, [MAIL_V_HELO] = v_helo,	    [MAIL_V_EHLO] = v_ehlo,
	[MAIL_V_MAIL] = v_mail,	      [MAIL_V_RCPT] = v_rcpt,	    [MAIL_V_DATA] = v_data,
	[MAIL_V_BDAT] = v_bdat,	      [MAIL_V_RSET] = v_rset,	    [MAIL_V_NOOP] = v_noop,
	[MAIL_V_QUIT] = v_quit,	      [MAIL_V_VRFY] = v_vrfy,	    [MAIL_V_EXPN] = v_expn,
	[MAIL_V_HELP] = v_help,	      [MAIL_V_STARTTLS] = v_starttls, [MAIL_V_AUTH] = v_auth,
	[MAIL_V_ETRN] = v_notimpl,    [MAIL_V_TURN] = v_notimpl,    [MAIL_V_HTTP] = v_http,
};

void smtp_verbs_dispatch(struct smtp_session *s, const char *line, size_t len)
{
	struct mail_cmd c;
	mail_cmd_parse(line, len, &c);
	if (c.verb == MAIL_V_UNKNOWN && (str_caseprefix(line, "MAIL ") || str_caseprefix(line, "RCPT "))) {
		smtp_session_reply(s, 501, "5.5.4", "Syntax: %s", str_caseprefix(line, "MAIL") ? "MAIL FROM:<address>"
											  : "RCPT TO:<address>");
		return;
	}
	log_debug("session=%llu event=command verb=%s", (unsigned long long)s->id, mail_verb_name(c.verb));
	handlers[c.verb](s, c.arg, c.arg_len);
}

void smtp_verbs_resume(struct smtp_session *s, const struct mail_reply *r, enum smtp_wait w)
{
	bool ok = r->code >= 200 && r->code < 300;
	switch (w) {
	case SMTP_W_MAIL:
		if (ok) {
			s->from = s->pend_from;
			s->have_mail = true;
		} else {
			char a[MAIL_PATH_MAX + 8];
			mail_addr_format(&s->pend_from.addr, a, sizeof a);
			smtp_verbs_refused(s, SMTP_STAGE_MAIL, r, a);
		}
		smtp_session_send(s, r);
		break;
	case SMTP_W_RCPT:
		if (ok && !rcpt_dup(s, &s->pend_rcpt)) {
			s->rcpt = xgrow(s->rcpt, &s->rcpt_cap, s->nrcpt + 1, sizeof *s->rcpt);
			s->rcpt[s->nrcpt++] = s->pend_rcpt;
		} else if (!ok) {
			char a[MAIL_PATH_MAX + 8];
			mail_addr_format(&s->pend_rcpt.addr, a, sizeof a);
			smtp_verbs_refused(s, SMTP_STAGE_RCPT, r, a);
		}
		smtp_session_send(s, r);
		break;
	case SMTP_W_DATA:
		/* the transaction is over whatever the answer */
		if (ok)
			metric_hist_observe_us(&s->srv->m.accept_latency, clock_mono_us() - s->content_end_us);
		else
			smtp_verbs_refused(s, SMTP_STAGE_DATA, r, s->msg_id[0] ? s->msg_id : NULL);
		smtp_session_tx_reset(s);
		smtp_session_send(s, r);
		break;
	default:
		smtp_session_send(s, r);
		break;
	}
}
