/*
 * queue_sched.h - the queue manager: what happens to a message after it
 * is committed, and what delivery outcomes mean.
 *
 * Knows every queued message by id (a few dozen bytes each); loads an
 * envelope only while a message is being processed or delivered, at most
 * qmgr_message_active_limit at once. Moves files between states (one
 * rename each, docs/QUEUE.md), retries deferred mail with exponential
 * backoff and jitter, expires it after maximal_queue_lifetime, and writes
 * bounces and "relayed" DSNs. It does not scan, route or speak SMTP: it
 * asks the application through struct queue_sched_ops, and the answers
 * come back by queue id. Loop thread only.
 */
#ifndef QUEUE_QUEUE_SCHED_H
#define QUEUE_QUEUE_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/metric.h"
#include "mail/mail_reply.h"

struct event_base;
struct mail_env;
struct queue_store;
struct queue_commit;
struct queue_sched;

struct queue_sched_conf {
	const char *hostname;
	int max_lifetime_s;
	int bounce_lifetime_s;
	int min_backoff_s;
	int max_backoff_s;
	int active_limit;
	int delay_warning_s; /* 0: no "delayed" notices */
	uint64_t bounce_size_limit;
};

/* One delivery attempt of a message's pending recipients. Everything is
 * borrowed until queue_sched_attempt_done() for this qid. */
struct queue_attempt {
	const char *qid;
	const struct mail_env *env;
	const size_t *rcpt; /* indices of the recipients to try */
	size_t nrcpt;
	uint64_t body_len;
	int attempt; /* 1 for the first */
};

struct queue_sched_ops {
	void *ctx;
	/* A message in input/ awaits processing (scanning, alias expansion);
	 * env is borrowed until the answer: queue_sched_processed() or
	 * queue_sched_processed_envs(). */
	void (*process)(void *ctx, const char *qid, const struct mail_env *env);
	/* Try delivery; report each recipient with queue_sched_rcpt_result()
	 * and finish with queue_sched_attempt_done(). */
	void (*deliver)(void *ctx, const struct queue_attempt *a);
};

/* PASS: to output/; HOLD: to hold/; DISCARD: removed; RETRY: stays in
 * input/ and is processed again after minimal_backoff_time. */
enum queue_verdict { QUEUE_PASS, QUEUE_HOLD, QUEUE_DISCARD, QUEUE_RETRY };

#define QUEUE_RESULT_F_NO_DSN 0x1 /* next hop took it without DSN support */

struct queue_sched *queue_sched_new(struct event_base *base, struct queue_store *qs, struct queue_commit *qc,
				    const struct queue_sched_conf *conf, const struct queue_sched_ops *ops);
/* New lifetimes, back-off, limits and host name (a reload): conf's hostname
 * is borrowed from now on; messages already waiting keep their next try. */
void queue_sched_reconfigure(struct queue_sched *q, const struct queue_sched_conf *conf);
void queue_sched_free(struct queue_sched **q);
/* Start-up recovery: clean tmp/, resume input/, output/, deferred/. */
void queue_sched_recover(struct queue_sched *q);
/* A message was committed into input/. */
void queue_sched_arrived(struct queue_sched *q, const char *qid);
void queue_sched_processed(struct queue_sched *q, const char *qid, enum queue_verdict v);
/* Processing rewrote the envelope (alias expansion): envs[0] replaces the
 * message's envelope, envs[1..n) become new messages with the same
 * content (a different sender: owner-NAME). Takes the envelopes. */
void queue_sched_processed_envs(struct queue_sched *q, const char *qid, struct mail_env **envs, size_t n);
/* The general form: outs[0] replaces the message (its envelope, and its
 * content unless content is NULL; env NULL: the message is consumed and
 * removed once the others are durable); outs[1..n) become new messages
 * in their directory (output/ or quarantine/), with the message's content
 * unless content is given. Takes the envelopes and contents. */
struct queue_out {
	struct mail_env *env;
	char *content; /* xmalloc'ed, or NULL */
	size_t len;
	int to; /* enum queue_dir: QDIR_OUTPUT or QDIR_QUARANTINE */
};
void queue_sched_processed_out(struct queue_sched *q, const char *qid, struct queue_out *outs, size_t n);
/* The poison guard's record for a message being processed (input/). */
int queue_sched_append_scan_attempt(struct queue_sched *q, const char *qid, int delta);
void queue_sched_rcpt_result(struct queue_sched *q, const char *qid, size_t idx, const struct mail_reply *r,
			     unsigned flags);
void queue_sched_attempt_done(struct queue_sched *q, const char *qid);
/* Open the content of a message being processed or delivered (fd
 * positioned nowhere; read with pread from *off_out, *len_out octets; len_out
 * may be NULL). The caller closes it. -1 on error. */
int queue_sched_open_body(struct queue_sched *q, const char *qid, uint64_t *off_out, uint64_t *len_out);
/* Retry every deferred message now (SIGUSR1, "mxgate flush"). */
void queue_sched_flush(struct queue_sched *q);

/* The administrator's operations on one message, in whatever state it is
 * (docs/QUEUE.md "Queue operations"): FLUSH a deferred one now, HOLD
 * (output/ or deferred/ -> hold/), RELEASE (hold/ -> output/, due now; a
 * quarantined one is copied into input/ under a new id, marked released),
 * DELETE (from any state, no bounce), REQUEUE (output/, deferred/ or hold/
 * -> input/, marked to be routed again but never scanned again). A message
 * with a scan, a delivery attempt or a requeue in flight is refused as
 * busy. Returns 0 (msg says what happened; for a quarantine release it
 * names the new id) or -1 (msg says why not). Logs event=flushed, held,
 * released, deleted or requeued with the queue id. */
enum queue_op { QUEUE_OP_FLUSH, QUEUE_OP_HOLD, QUEUE_OP_RELEASE, QUEUE_OP_DELETE, QUEUE_OP_REQUEUE,
		QUEUE_OP_DELETE_SPAM /* a delete to the queue; the gateway learns the message as spam first */ };
/* An operation's name ("flush", "hold", "release", "delete", "requeue";
 * "?" for none), and the operation called name, or -1 (queue_op.c). */
const char *queue_op_name(enum queue_op op);
int queue_op_find(const char *name);
int queue_sched_op(struct queue_sched *q, enum queue_op op, const char *qid, char *msg, size_t msglen);
/* Retry now the deferred messages with a pending recipient in domain
 * (case-insensitive). Returns how many. */
size_t queue_sched_flush_domain(struct queue_sched *q, const char *domain);
/* What the scheduler knows of qid: true when a scan, delivery attempt or
 * requeue is in flight (*busy), and its due time (0: due now or not
 * deferred). false: not known (hold/, quarantine/, or no such message). */
bool queue_sched_peek(const struct queue_sched *q, const char *qid, bool *busy, int64_t *due_s);

/* Stop starting deliveries (shutdown); in-flight ones may still finish. */
void queue_sched_stop(struct queue_sched *q);

struct queue_sched_stats {
	size_t known, input, ready, deferred, active, processing;
	uint64_t delivered, bounced, expired, notifications;
};
void queue_sched_stats(const struct queue_sched *q, struct queue_sched_stats *out);

/* For the metrics (admin/admin_metrics.c; loop thread). Per recipient: sent
 * (2xx), deferred (4xx), failed (5xx or expired, bounced when the sender
 * gets a notice); delivery_delay: arrival to the 2xx. */
struct queue_sched_metrics {
	struct metric_counter sent, deferred, failed, expired;
	struct metric_hist delivery_delay;
};
const struct queue_sched_metrics *queue_sched_metrics(const struct queue_sched *q);
/* Messages known by spool directory (input, output, deferred; active ones
 * count in the directory their file is in), and the oldest one's queue id
 * time (0 when none). */
struct queue_sched_census {
	size_t input, output, deferred;
	int64_t oldest_us;
};
void queue_sched_census(const struct queue_sched *q, struct queue_sched_census *out);
/* Deferred messages (in deferred/) per destination: the domain of the
 * first recipient left pending by the last attempt ("unknown" for one not
 * tried since start-up). Calls fn once per destination. */
void queue_sched_deferred_dests(const struct queue_sched *q, void (*fn)(void *arg, const char *dest, size_t n),
				void *arg);

#endif
