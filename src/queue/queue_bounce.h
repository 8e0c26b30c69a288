/*
 * queue_bounce.h - delivery status notifications (RFC 3464, RFC 3461).
 *
 * Builds a multipart/report message about some recipients of a queued
 * message: "failed" (a bounce: permanent failure or expiry), "delayed" (a
 * warning: still pending after delay_warning_time) or "relayed"
 * (NOTIFY=SUCCESS passed to a next hop that does not speak DSN). The report
 * honours the original's DSN parameters: ENVID and ORCPT are reported,
 * RET=FULL returns the whole message when it fits bounce_size_limit,
 * otherwise (and by default) only its header. The notification is written
 * into a fresh draft; the caller commits it. Never called for a message
 * whose sender is the null sender.
 */
#ifndef QUEUE_QUEUE_BOUNCE_H
#define QUEUE_QUEUE_BOUNCE_H

#include <stddef.h>
#include <stdint.h>

#include "queue/queue_store.h"

struct mail_env;

enum queue_notify_kind { QUEUE_NOTIFY_FAILED, QUEUE_NOTIFY_RELAYED, QUEUE_NOTIFY_DELAYED };

struct queue_notify {
	enum queue_notify_kind kind;
	const struct mail_env *orig;
	const size_t *rcpt; /* indices into orig->rcpt */
	size_t nrcpt;
	int fd; /* the original message file */
	uint64_t body_off, body_len;
	const char *hostname;
	uint64_t size_limit;
	const char *note; /* extra sentence (e.g. expiry) or NULL */
	int64_t retry_until_us; /* DELAYED: when the message expires (Will-Retry-Until) */
};

/* Create a draft holding the report and its envelope (*env_out, owned by
 * the caller). Returns 0, or -1 with errno (no draft left behind). */
int queue_bounce_write(struct queue_store *qs, const struct queue_notify *n, struct queue_draft *d,
		       struct mail_env **env_out);

#endif
