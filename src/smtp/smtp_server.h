/*
 * smtp_server.h - the inbound SMTP engine (RFC 5321 + PIPELINING, SIZE,
 * 8BITMIME, ENHANCEDSTATUSCODES, SMTPUTF8, STARTTLS, CHUNKING, DSN).
 *
 * The engine owns sockets, sessions, the protocol state machine, limits and
 * the DATA/BDAT codecs. It knows nothing of the queue, routing or scanning:
 * every decision is a callback into struct smtp_policy (Dovecot lib-smtp's
 * pattern), and message content is streamed into an opaque sink the policy
 * opens. Callbacks that cannot answer at once return SMTP_HOOK_ASYNC and
 * the answer comes later through smtp_server_resume(session_id, reply):
 * by id, never by pointer, so an answer for a session that has gone is
 * dropped. Loop thread only.
 */
#ifndef SMTP_SMTP_SERVER_H
#define SMTP_SMTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/metric.h"
#include "mail/mail_cmd.h"
#include "mail/mail_reply.h"
#include "net/net_addr.h"

struct event_base;
struct smtp_server;
typedef struct ssl_ctx_st SSL_CTX;

struct smtp_server_conf {
	const char *hostname; /* EHLO reply, Received: "by" */
	const char *banner;   /* after "220 " */
	uint64_t size_limit;  /* content octets; 0 = none */
	int rcpt_limit;
	int timeout_s;		  /* idle */
	int session_time_limit_s; /* total */
	int per_ip_limit;
	const struct net_cidr_list *per_ip_exceptions; /* exempt from per_ip_limit (borrowed) */
	int session_limit;
	int hard_error_limit;
	int cmd_line_limit;  /* incl. CRLF */
	int data_line_limit; /* incl. CRLF; 0 = none */
	int hop_limit;
	bool forbid_bare_newline;
	bool strict_envelopes;
	SSL_CTX *tls_ctx; /* NULL: STARTTLS not offered (borrowed) */
	/* The strings, lists and tls_ctx above are borrowed until release(arg)
	 * is called: when no session started with these settings is left and
	 * newer ones are in force (or the server is freed). NULL: nothing. */
	void (*release)(void *arg);
	void *release_arg;
};

struct smtp_client_info {
	uint64_t session_id;
	struct net_addr addr;
	char ip[NET_ADDR_STRLEN];
	char name[256]; /* verified client name, "unknown" until known */
	char helo[256];
	bool esmtp;
	bool tls;
	char tls_desc[96];
};

/* The transaction as handed to data_close. Arrays are borrowed for the
 * duration of the call. */
struct smtp_tx {
	const struct mail_from *from;
	const struct mail_rcpt_to *rcpt;
	size_t nrcpt;
	uint64_t octets;    /* content octets, Received: included */
	unsigned received;  /* hop count found in the header */
	bool eightbit;      /* content has octets >= 0x80 */
	const char *protocol; /* "ESMTPS", ... as written in Received: */
	bool chunking;      /* arrived by BDAT */
};

enum smtp_hook { SMTP_HOOK_DONE, SMTP_HOOK_ASYNC };

struct smtp_policy {
	void *ctx;
	/* New connection (limits already checked). reply->code 0 or 2xx:
	 * accept; anything else is sent and the connection closed. */
	enum smtp_hook (*on_connect)(void *ctx, const struct smtp_client_info *ci, struct mail_reply *reply);
	/* MAIL FROM after syntax checks. reply 2xx to accept. */
	enum smtp_hook (*on_mail)(void *ctx, const struct smtp_client_info *ci, const struct mail_from *from,
				  struct mail_reply *reply);
	/* RCPT TO after syntax and limit checks. */
	enum smtp_hook (*on_rcpt)(void *ctx, const struct smtp_client_info *ci, const struct mail_from *from,
				  const struct mail_rcpt_to *rcpt, struct mail_reply *reply);
	/* Start of content: open a sink; id_out (<= 31 chars) names the message
	 * in the Received: header and the log. Returns the sink, or NULL with
	 * a reply (e.g. 452 4.3.1). */
	void *(*data_open)(void *ctx, const struct smtp_client_info *ci, char id_out[32], struct mail_reply *reply);
	/* Append content. -1 = failed (the engine stops writing; data_close is
	 * still called and must answer 4xx). */
	int (*data_write)(void *ctx, void *sink, const void *p, size_t n);
	/* The engine rejects the content itself (size, smuggling, hops...) or
	 * the session ends mid-transfer: discard the sink. */
	void (*data_abort)(void *ctx, void *sink);
	/* Content complete and acceptable: commit it and answer (always async,
	 * by smtp_server_resume). The sink is handed over. */
	void (*data_close)(void *ctx, const struct smtp_client_info *ci, const struct smtp_tx *tx, void *sink);
	void (*on_disconnect)(void *ctx, const struct smtp_client_info *ci);
};

struct smtp_server *smtp_server_new(struct event_base *base, const struct smtp_server_conf *conf,
				    const struct smtp_policy *policy);
/* Serve on an already bound, listening socket (taken over). */
void smtp_server_add_listener(struct smtp_server *srv, int fd, const char *label);
/* Serve a socket that is already connected (accepted elsewhere, or one end
 * of a socketpair in tests and the session fuzzer). Limits apply as for
 * accepted connections; the fd is taken over. */
void smtp_server_adopt(struct smtp_server *srv, int fd, const struct net_addr *peer);
/* New settings for sessions accepted from now on; open sessions keep the
 * ones they started with (each snapshot is released after its last user). */
void smtp_server_reconfigure(struct smtp_server *srv, const struct smtp_server_conf *conf);
/* Stop serving the listener added with this label (its socket is closed;
 * sessions accepted on it go on). false: no such listener. */
bool smtp_server_remove_listener(struct smtp_server *srv, const char *label);
/* Answer a pending SMTP_HOOK_ASYNC of session_id. Unknown ids are ignored. */
void smtp_server_resume(struct smtp_server *srv, uint64_t session_id, const struct mail_reply *reply);
/* Set the verified client name (before resuming on_connect). */
void smtp_server_set_client_name(struct smtp_server *srv, uint64_t session_id, const char *name);
/* Stop accepting; sessions finish their pending commit, then get 421 and
 * are closed; sessions receiving content are answered 421 at once. Calls
 * done(arg) when no session is left. */
void smtp_server_shutdown(struct smtp_server *srv, void (*done)(void *arg), void *arg);
size_t smtp_server_session_count(const struct smtp_server *srv);

/* What the engine counts for the metrics (admin/admin_metrics.c reads them on the
 * loop; bumped on the loop). Refusals are by stage and by the subject of
 * the reply's enhanced status code (RFC 3463: X.1 addressing ... X.7
 * policy; 0 none or other), temporary (4xx) or permanent (5xx). */
enum smtp_conn_outcome { SMTP_CONN_ACCEPTED, SMTP_CONN_SHUTDOWN, SMTP_CONN_SESSION_LIMIT, SMTP_CONN_PER_IP_LIMIT,
			 SMTP_CONN_N };
enum smtp_stage { SMTP_STAGE_MAIL, SMTP_STAGE_RCPT, SMTP_STAGE_DATA, SMTP_STAGE_N };
#define SMTP_SUBJECTS 8
struct smtp_server_metrics {
	struct metric_counter conn[SMTP_CONN_N];
	struct metric_counter refused[SMTP_STAGE_N][SMTP_SUBJECTS][2]; /* [..][..][0 temporary, 1 permanent] */
	struct metric_counter helo;
	struct metric_hist accept_latency; /* end of the content to a 2xx reply */
};
const struct smtp_server_metrics *smtp_server_metrics(const struct smtp_server *srv);
const char *smtp_conn_outcome_name(enum smtp_conn_outcome o);
const char *smtp_stage_name(enum smtp_stage st);
/* RFC 3463's subject names: "other", "addressing", "mailbox", "system", "network", "protocol", "content", "policy". */
const char *smtp_subject_name(int subject);
void smtp_server_free(struct smtp_server **srv);

#endif
