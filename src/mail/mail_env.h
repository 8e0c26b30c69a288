/*
 * mail_env.h - the envelope: everything about a message except its content.
 *
 * One struct for all stages: the SMTP transaction fills it, the queue stores
 * it (queue_file.c is its only serialisation), delivery reads it. Strings
 * live in the envelope's own arena and die with mail_env_free(). The
 * per-recipient delivery state is part of the vocabulary because bounces,
 * DSNs and logs all speak of it; only the queue changes it.
 */
#ifndef MAIL_MAIL_ENV_H
#define MAIL_MAIL_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mail/mail_cmd.h"
#include "mail/mail_reply.h"

struct arena;

enum mail_rcpt_state {
	MAIL_RCPT_PENDING = 0, /* not yet delivered (maybe deferred) */
	MAIL_RCPT_DELIVERED,   /* 2xx from the next hop */
	MAIL_RCPT_FAILED,      /* permanent failure or expiry: bounced (or NOTIFY=NEVER) */
};

struct mail_rcpt {
	char *addr;	 /* "local@domain" as received (arena) */
	char *orcpt;	 /* "rfc822;xtext" or NULL (arena) */
	char *route;	 /* mailer value decided when processing, or NULL: route when delivering (arena) */
	unsigned notify; /* MAIL_NOTIFY_*, 0 = not given */
	enum mail_rcpt_state state;
	bool has_reply;
	struct mail_reply reply; /* last outcome (for bounces and logs) */
	int64_t when_us;	 /* time of the last outcome */
};

#define MAIL_ENV_F_BOUNCE 0x1   /* a notification we generated (never bounced) */
#define MAIL_ENV_F_RELEASED 0x2 /* released from quarantine: routed, never scanned again */
#define MAIL_ENV_F_REQUEUED 0x4 /* requeued by the administrator: routed again, never scanned again */

struct mail_env {
	struct arena *arena; /* owned */
	char qid[24];
	int64_t arrival_us;
	char *sender;	   /* "" for the null sender */
	char *helo;	   /* may be "" */
	char *client_addr; /* "192.0.2.1" or "" for local */
	char *client_name; /* verified name or "unknown" */
	char *protocol;	   /* "ESMTP", "ESMTPS", "SMTP", "UTF8SMTPS", ... */
	char *envid;	   /* DSN ENVID as received (xtext) or NULL */
	enum mail_ret ret;
	enum mail_body_type body;
	bool smtputf8;
	unsigned flags; /* MAIL_ENV_F_* */
	int64_t delay_warned_us; /* a "delayed" notice was queued then (0: none yet) */
	char *scan;		 /* the scan verdict (scan/scan_report encoding) once scanned, or NULL */
	int scan_attempts;	 /* scans started and never finished (crash, timeout): the poison guard */
	char *bayes;		 /* a quarantined message's Bayes tokens (scan_learn_encode) or NULL; never
				    copied by mail_env_new_like */
	struct mail_rcpt *rcpt; /* owned array */
	size_t nrcpt;
	size_t rcpt_cap;
};

struct mail_env *mail_env_new(void);
/* A new envelope with src's message data (sender, client, DSN options,
 * arrival time, scan verdict) and no recipients and no queue id. */
struct mail_env *mail_env_new_like(const struct mail_env *src);
void mail_env_free(struct mail_env **env);
char *mail_env_strdup(struct mail_env *env, const char *s);
/* Adds a recipient (strings copied into the arena); returns it. */
struct mail_rcpt *mail_env_add_rcpt(struct mail_env *env, const char *addr, const char *orcpt, unsigned notify);
/* Recipients still PENDING. */
size_t mail_env_pending(const struct mail_env *env);
/* Domain part of an address ("" if none). */
const char *mail_env_domain(const char *addr);

#endif
