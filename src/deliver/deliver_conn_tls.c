/*
 * deliver_conn_tls.c - STARTTLS on an outbound connection (RFC 3207):
 * whether to ask for it (the next hop's level, a recent failure), the
 * handshake through an OpenSSL filter, the peer name and certificate
 * verification, and what a failure means.
 *
 * Below "encrypt" a failed handshake retries the same address in
 * plaintext, and the destination stays plaintext for NO_TLS_RETRY_S; at
 * "encrypt" and "verify" it defers, and at "verify" a certificate not
 * valid for the peer ends the attempt before anything is sent. LMTP never
 * requires TLS, nor uses it on a unix socket. Does not read the policy
 * map (deliver_tls.c) or build the TLS context (net_tls.c).
 */
#include <stdio.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "base/clock.h"
#include "base/log.h"
#include "deliver/deliver_int.h"

#define NO_TLS_RETRY_S 600

/* This next hop's TLS level (smtp_tls_security_level or its policy
 * entry). LMTP takes STARTTLS when offered but never requires it, and never
 * on a unix socket (RFC 2033 keeps LMTP to local or trusted links). */
enum deliver_tls deliver_conn_tls_level(const struct dconn *c)
{
	if (c->d->unix_sock)
		return DELIVER_TLS_NONE;
	if (deliver_conn_lmtp(c) && c->d->tls >= DELIVER_TLS_ENCRYPT)
		return DELIVER_TLS_MAY;
	return c->d->tls;
}

/* May a failed TLS attempt be retried in plaintext? Only below encrypt. */
static bool tls_optional(const struct dconn *c)
{
	return deliver_conn_tls_level(c) < DELIVER_TLS_ENCRYPT;
}

/* After EHLO: STARTTLS when offered and wanted, else ready (plaintext),
 * unless this hop requires TLS. */
void deliver_conn_tls_after_ehlo(struct dconn *c)
{
	const struct deliver_conf *cf = deliver_conn_conf(c);
	/* a recent TLS failure means plaintext for a while, unless TLS is required */
	bool want = deliver_conn_tls_level(c) != DELIVER_TLS_NONE &&
		    (!tls_optional(c) || clock_now_s() >= c->d->no_tls_until);
	if (!c->tls && c->starttls && want && cf->tls_ctx) {
		c->st = DC_STARTTLS;
		deliver_conn_send_line(c, "STARTTLS");
		deliver_conn_arm(c, cf->t_helo);
		return;
	}
	if (!c->tls && !tls_optional(c)) {
		struct mail_reply r;
		mail_reply_set(&r, 451, "4.7.4", "TLS is required, but was not offered by host %s", c->peer);
		deliver_conn_try_next(c, &r);
		return;
	}
	deliver_conn_go_ready(c);
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
	SSL *ssl = SSL_new(deliver_conn_conf(c)->tls_ctx);
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
		deliver_conn_try_next(c, &r);
		return;
	}
	deliver_conn_attach(c, f);
	c->st = DC_TLS;
	deliver_conn_arm(c, deliver_conn_conf(c)->t_helo);
}

/* The reply to STARTTLS: 220 starts the handshake; a refusal continues in
 * plaintext where TLS is optional, else tries the next address. */
void deliver_conn_tls_reply(struct dconn *c, const struct mail_reply *r)
{
	struct mail_reply x;
	if (r->code == 220) {
		start_tls(c);
		return;
	}
	if (!tls_optional(c)) {
		deliver_conn_smtp_remote_reply(c, r, "STARTTLS", &x);
		x.code = 451;
		deliver_conn_try_next(c, &x);
		return;
	}
	deliver_conn_go_ready(c);
}

/* The handshake is done: note what it gave; at the verify level a
 * certificate that is not valid for the peer's name ends this attempt
 * before anything is sent (never a plaintext retry). */
bool deliver_conn_tls_established(struct dconn *c)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	long vr = SSL_get_verify_result(ssl);
	const SSL_CIPHER *ciph = SSL_get_current_cipher(ssl);
	bool verified = vr == X509_V_OK && SSL_get0_peer_certificate(ssl) != NULL;
	snprintf(c->tls_desc, sizeof c->tls_desc, "%s cipher=%s verified=%s", SSL_get_version(ssl),
		 ciph ? SSL_CIPHER_get_name(ciph) : "none", verified ? "yes" : "no");
	if (verified || deliver_conn_tls_level(c) != DELIVER_TLS_VERIFY)
		return true;
	const char *why = vr == X509_V_OK ? "no certificate" : X509_verify_cert_error_string(vr);
	char e[300];
	snprintf(e, sizeof e, "certificate not verified: %s", why);
	log_info("event=smtp_tls_failed peer=%s error=%s action=defer", c->peer, LOG_Q(e));
	struct mail_reply r;
	mail_reply_set(&r, 451, "4.7.5", "Server certificate not verified for host %s: %s", c->peer, why);
	deliver_conn_try_next(c, &r);
	return false;
}

/* The handshake failed (or the peer closed during it). */
void deliver_conn_tls_failed(struct dconn *c)
{
	struct mail_reply r;
	unsigned long e = bufferevent_get_openssl_error(c->bev);
	char t[200] = "handshake failed";
	if (e)
		ERR_error_string_n(e, t, sizeof t);
	log_info("event=smtp_tls_failed peer=%s error=%s action=%s", c->peer, LOG_Q(t),
		 tls_optional(c) ? "retry_plaintext" : "defer");
	mail_reply_set(&r, 451, "4.7.5", "TLS handshake with %s failed: %s", c->peer, t);
	c->d->no_tls_until = clock_now_s() + NO_TLS_RETRY_S;
	c->plain_retry = tls_optional(c);
	deliver_conn_try_next(c, &r);
}
