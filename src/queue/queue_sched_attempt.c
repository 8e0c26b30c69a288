/*
 * queue_sched_attempt.c - delivery attempts: one starts for a message in
 * the ready FIFO, gets a result per recipient (queue_sched_rcpt_result),
 * and ends with queue_sched_attempt_done, which decides what they mean.
 *
 * Owns the message's envelope while it is ACTIVE or NOTIFYING. At the end
 * of an attempt: recipients past maximal_queue_lifetime expire; bounces,
 * "relayed" DSNs and the one "delayed" notice are committed before the
 * message is removed or its status recorded, and a bounce that could not
 * be queued keeps its recipients pending; what is left waits in deferred/
 * for a backoff that grows with its age (with jitter). Does not deliver:
 * the application does, through ops->deliver.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/map.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "mail/mail_env.h"
#include "queue/queue_bounce.h"
#include "queue/queue_commit.h"
#include "queue/queue_store.h"

#include "queue/queue_sched_int.h"

/* delivered, bounced (some failed, a notice queued), failed (some failed,
 * no notice: null sender or our own notification) or expired, with counts. */
static void log_removed_env(const struct qmsg *m, bool noticed)
{
	size_t nd = 0, nf = 0;
	for (size_t i = 0; i < m->env->nrcpt; i++) {
		if (m->env->rcpt[i].state == MAIL_RCPT_DELIVERED)
			nd++;
		else if (m->env->rcpt[i].state == MAIL_RCPT_FAILED)
			nf++;
	}
	char extra[80];
	snprintf(extra, sizeof extra, "delivered=%zu failed=%zu attempts=%d", nd, nf, m->attempts);
	sched_log_removed(m->qid, nf == 0 ? "delivered" : m->expired ? "expired" : noticed ? "bounced" : "failed", extra);
}

void queue_sched_attempt_start(struct queue_sched *q, struct qmsg *m)
{
	if (!sched_load(q, m))
		return;
	struct mail_env *env = m->env;
	m->chg = xcalloc(env->nrcpt, 1);
	m->pend = xcalloc(env->nrcpt, sizeof *m->pend);
	m->npend = 0;
	for (size_t i = 0; i < env->nrcpt; i++) {
		if (env->rcpt[i].state == MAIL_RCPT_PENDING)
			m->pend[m->npend++] = i;
	}
	if (m->npend == 0) {
		/* every recipient was final before a crash: only cleanup is left */
		queue_store_remove(q->qs, m->dir, m->qid);
		log_removed_env(m, false);
		sched_forget(q, m);
		return;
	}
	m->st = QM_ACTIVE;
	m->attempts++;
	m->notify_failed = m->expired = m->warned = m->noticed = false;
	q->n_active++;
	struct queue_attempt a = {
		.qid = m->qid,
		.env = m->env,
		.rcpt = m->pend,
		.nrcpt = m->npend,
		.body_len = m->hdr.body_len,
		.attempt = m->attempts,
	};
	q->ops.deliver(q->ops.ctx, &a); /* m may be gone when this returns */
}

void queue_sched_rcpt_result(struct queue_sched *q, const char *qid, size_t idx, const struct mail_reply *r,
			     unsigned flags)
{
	struct qmsg *m = map_gets(q->msgs, qid);
	if (!m || m->st != QM_ACTIVE || idx >= m->env->nrcpt) {
		log_warn("queue=%s event=stray_result rcpt_index=%zu", qid, idx);
		return;
	}
	struct mail_rcpt *rc = &m->env->rcpt[idx];
	if (rc->state != MAIL_RCPT_PENDING)
		return;
	rc->reply = *r;
	rc->has_reply = true;
	rc->when_us = clock_now_us();
	m->chg[idx] = CHG_YES;
	const char *ev;
	switch (mail_reply_status(r)) {
	case MAIL_OK:
		rc->state = MAIL_RCPT_DELIVERED;
		q->n_delivered++;
		metric_inc(&q->m.sent);
		metric_hist_observe_us(&q->m.delivery_delay, rc->when_us - m->env->arrival_us);
		ev = "delivered";
		if ((flags & QUEUE_RESULT_F_NO_DSN) && (rc->notify & MAIL_NOTIFY_SUCCESS))
			m->chg[idx] = CHG_RELAYED;
		break;
	case MAIL_PERMFAIL:
		rc->state = MAIL_RCPT_FAILED;
		metric_inc(&q->m.failed);
		ev = "failed";
		break;
	default:
		metric_inc(&q->m.deferred);
		ev = "deferred";
		break;
	}
	char t[MAIL_REPLY_TEXT_MAX + 32];
	mail_reply_str(r, t, sizeof t);
	log_info("queue=%s event=%s rcpt=%s attempt=%d delay=%.2f reply=%s", qid, ev, LOG_QA(rc->addr), m->attempts,
		 (double)(rc->when_us - m->env->arrival_us) / 1e6, LOG_Q(t));
}

static void finalize(struct queue_sched *q, struct qmsg *m);

struct notify_arg {
	struct queue_sched *q;
	char qid[IDS_QUEUE_SIZE];
	enum queue_notify_kind kind;
};

static void on_notify_committed(void *arg, uint64_t cookie, const char *new_qid, int err)
{
	(void)cookie;
	struct notify_arg *na = arg;
	struct queue_sched *q = na->q;
	struct qmsg *m = map_gets(q->msgs, na->qid);
	if (err) {
		log_err("queue=%s event=notify_error error=\"%s\" action=retry_later", na->qid, strerror(err));
	} else {
		static const char *kinds[] = { "bounce", "relayed", "delay" };
		log_info("queue=%s event=notification_queued notification=%s", na->qid, new_qid);
		log_info("queue=%s event=queued origin=notification kind=%s parent=%s", new_qid, kinds[na->kind], na->qid);
		q->n_notifications++;
		sched_arrived(q, new_qid, QDIR_OUTPUT);
	}
	if (m && m->st == QM_NOTIFYING) {
		/* a lost delay notice is simply not recorded (tried again next
		 * attempt); a lost bounce keeps its recipients pending */
		if (err && na->kind == QUEUE_NOTIFY_DELAYED)
			m->warned = false;
		else if (err)
			m->notify_failed = true;
		if (--m->notify_waiting == 0)
			finalize(q, m);
	}
	xfree(na);
}

static bool wants_failure_notice(const struct mail_rcpt *r)
{
	return r->notify == 0 || (r->notify & MAIL_NOTIFY_FAILURE);
}

/* RFC 3461 4.1: without NOTIFY the sender gets delay notices too;
 * NOTIFY=NEVER, or a list without DELAY, asks for none. */
static bool wants_delay_notice(const struct mail_rcpt *r)
{
	return r->state == MAIL_RCPT_PENDING && (r->notify == 0 || (r->notify & MAIL_NOTIFY_DELAY));
}

static int send_notify(struct queue_sched *q, struct qmsg *m, enum queue_notify_kind kind, const size_t *idx,
		       size_t n, const char *note)
{
	int fd = queue_store_open_msg(q->qs, m->dir, m->qid);
	if (fd < 0)
		return -1;
	struct queue_notify qn = {
		.kind = kind,
		.orig = m->env,
		.rcpt = idx,
		.nrcpt = n,
		.fd = fd,
		.body_off = m->hdr.body_off,
		.body_len = m->hdr.body_len,
		.hostname = q->conf.hostname,
		.size_limit = q->conf.bounce_size_limit,
		.note = note,
		.retry_until_us = m->env->arrival_us + (int64_t)q->conf.max_lifetime_s * 1000000,
	};
	struct queue_draft d;
	struct mail_env *benv = NULL;
	int rc = queue_bounce_write(q->qs, &qn, &d, &benv);
	int e = errno;
	close(fd);
	if (rc < 0) {
		errno = e;
		return -1;
	}
	struct notify_arg *na = xcalloc(1, sizeof *na);
	na->q = q;
	na->kind = kind;
	snprintf(na->qid, sizeof na->qid, "%s", m->qid);
	m->notify_waiting++;
	queue_commit_submit(q->qc, &d, benv, QDIR_OUTPUT, on_notify_committed, na, 0);
	return 0;
}

/* Once per message (a W record remembers it), when it has waited
 * delay_warning_time: a "delayed" notice for the pending recipients that
 * want one. Never for the null sender (nor our own notifications), never
 * for an attempt cut short by our own shutdown. idx: room for nrcpt. */
static void maybe_warn_delay(struct queue_sched *q, struct qmsg *m, int64_t age_s, size_t *idx)
{
	const struct mail_env *env = m->env;
	if (!q->conf.delay_warning_s || age_s < q->conf.delay_warning_s || env->delay_warned_us || q->stopped)
		return;
	size_t n = 0;
	for (size_t i = 0; i < env->nrcpt; i++) {
		if (wants_delay_notice(&env->rcpt[i]))
			idx[n++] = i;
	}
	if (!n)
		return;
	if (send_notify(q, m, QUEUE_NOTIFY_DELAYED, idx, n, NULL) < 0) {
		log_err("queue=%s event=delay_warning_error error=\"%s\" action=retry_later", m->qid, strerror(errno));
		return;
	}
	m->env->delay_warned_us = clock_now_us();
	m->warned = true;
	log_info("queue=%s event=delay_warning rcpts=%zu age=%llds", m->qid, n, (long long)age_s);
}

/* Our own notification failed for good: Postfix's double bounce is
 * dropped, with a log line, never bounced again. */
static void log_dropped_bounce(const struct qmsg *m, size_t i)
{
	const struct mail_rcpt *r = &m->env->rcpt[i];
	char t[MAIL_REPLY_TEXT_MAX + 32];
	mail_reply_str(&r->reply, t, sizeof t);
	log_info("queue=%s event=bounce_dropped rcpt=%s reason=%s reply=%s", m->qid, LOG_QA(r->addr),
		 m->expired ? "expired" : "failed", LOG_Q(t));
}

/* Past its lifetime (age_s >= lifetime): every pending recipient fails,
 * with its last reply or 451 4.4.7, and note says why for the bounce. */
static void expire_pending(struct queue_sched *q, struct qmsg *m, int64_t now, int64_t age_s, int lifetime,
			   char *note, size_t notelen)
{
	struct mail_env *env = m->env;
	for (size_t i = 0; i < env->nrcpt; i++) {
		struct mail_rcpt *r = &env->rcpt[i];
		if (r->state != MAIL_RCPT_PENDING)
			continue;
		r->state = MAIL_RCPT_FAILED;
		if (!r->has_reply) {
			mail_reply_set(&r->reply, 451, "4.4.7", "message expired in the queue");
			r->has_reply = true;
		}
		r->when_us = now;
		m->chg[i] = CHG_YES;
		m->expired = true;
		q->n_expired++;
		metric_inc(&q->m.expired);
		log_info("queue=%s event=expired rcpt=%s age=%llds lifetime=%ds", m->qid, LOG_QA(r->addr),
			 (long long)age_s, lifetime);
	}
	if (m->expired)
		snprintf(note, notelen,
			 "The message could not be delivered for %lld seconds (the limit is %d) and was returned.",
			 (long long)age_s, lifetime);
}

/* The notices this attempt owes the sender: a bounce for the recipients
 * that failed now and want one (our own notifications' failures are only
 * logged), a "relayed" DSN, and the delay notice; none to the null sender.
 * Each one queued counts in m->notify_waiting. */
static void send_notices(struct queue_sched *q, struct qmsg *m, bool null_sender, int64_t age_s, const char *note)
{
	struct mail_env *env = m->env;
	size_t *failed = xcalloc(env->nrcpt, sizeof *failed), *relayed = xcalloc(env->nrcpt, sizeof *relayed);
	size_t nf = 0, nr = 0;
	for (size_t i = 0; i < env->nrcpt; i++) {
		struct mail_rcpt *r = &env->rcpt[i];
		bool now_failed = m->chg[i] == CHG_YES && r->state == MAIL_RCPT_FAILED;
		if (now_failed && (env->flags & MAIL_ENV_F_BOUNCE))
			log_dropped_bounce(m, i);
		else if (now_failed && wants_failure_notice(r))
			failed[nf++] = i;
		else if (m->chg[i] == CHG_RELAYED)
			relayed[nr++] = i;
	}
	if (null_sender && (nf || nr)) {
		log_info("queue=%s event=notification_suppressed reason=\"null sender\" rcpts=%zu", m->qid, nf + nr);
		nf = nr = 0;
	}
	if (nf) {
		if (send_notify(q, m, QUEUE_NOTIFY_FAILED, failed, nf, note[0] ? note : NULL) < 0) {
			log_err("queue=%s event=bounce_error error=\"%s\" action=retry_later", m->qid, strerror(errno));
			m->notify_failed = true;
		} else {
			q->n_bounced += nf;
			m->noticed = true;
		}
	}
	if (nr && send_notify(q, m, QUEUE_NOTIFY_RELAYED, relayed, nr, NULL) < 0)
		log_err("queue=%s event=dsn_error error=\"%s\"", m->qid, strerror(errno));
	if (!null_sender)
		maybe_warn_delay(q, m, age_s, failed);
	xfree(failed);
	xfree(relayed);
}

void queue_sched_attempt_done(struct queue_sched *q, const char *qid)
{
	struct qmsg *m = map_gets(q->msgs, qid);
	if (!m || m->st != QM_ACTIVE) {
		log_warn("queue=%s event=stray_attempt_done", qid);
		return;
	}
	struct mail_env *env = m->env;
	bool null_sender = env->sender[0] == '\0' || (env->flags & MAIL_ENV_F_BOUNCE);
	int64_t now = clock_now_us();
	int lifetime = null_sender ? q->conf.bounce_lifetime_s : q->conf.max_lifetime_s;
	int64_t age_s = (now - env->arrival_us) / 1000000;
	char note[160] = "";
	if (age_s >= lifetime)
		expire_pending(q, m, now, age_s, lifetime, note, sizeof note);
	m->st = QM_NOTIFYING;
	m->notify_waiting = 0;
	send_notices(q, m, null_sender, age_s, note);
	if (m->notify_waiting == 0)
		finalize(q, m);
}

/* Remember where a deferred message is waiting to go (metrics). */
static void set_dest(struct qmsg *m)
{
	xfree(m->dest);
	m->dest = NULL;
	for (size_t i = 0; i < m->env->nrcpt; i++) {
		if (m->env->rcpt[i].state != MAIL_RCPT_PENDING)
			continue;
		const char *at = strrchr(m->env->rcpt[i].addr, '@');
		m->dest = xstrdup(at ? at + 1 : m->env->rcpt[i].addr);
		str_lower(m->dest);
		break;
	}
}

static int backoff(const struct queue_sched *q, const struct mail_env *env)
{
	int64_t age = (clock_now_us() - env->arrival_us) / 1000000;
	if (age < q->conf.min_backoff_s)
		age = q->conf.min_backoff_s;
	if (age > q->conf.max_backoff_s)
		age = q->conf.max_backoff_s;
	/* +-10% jitter, so retries of a burst do not stay in lock-step */
	uint32_t r = 0;
	if (getrandom(&r, sizeof r, 0) != sizeof r)
		r = (uint32_t)clock_mono_us();
	int64_t span = age / 5;
	int64_t d = age - age / 10 + (span ? (int64_t)(r % (uint64_t)(span + 1)) : 0);
	return d < 1 ? 1 : (int)d;
}

/* Some recipients are still pending after an attempt: record what changed
 * (and a delay notice) in the file, which waits in deferred/ for its next
 * try after the backoff. */
static void defer_pending(struct queue_sched *q, struct qmsg *m, size_t pending)
{
	struct mail_env *env = m->env;
	size_t *chg = xcalloc(env->nrcpt, sizeof *chg), n = 0;
	for (size_t i = 0; i < env->nrcpt; i++) {
		if (m->chg[i])
			chg[n++] = i;
	}
	if ((n || m->warned) && queue_store_append_status(q->qs, m->dir, m->qid, env, chg, n, m->warned) < 0)
		log_warn("queue=%s event=status_write_error error=\"%s\" effect=\"delivered recipients may be tried again\"",
			 m->qid, strerror(errno));
	xfree(chg);
	/* an attempt cut short by our own shutdown is not a real attempt: due
	 * at once, so the next start retries it without waiting a backoff */
	int delay = q->stopped ? 0 : backoff(q, env);
	int64_t due = clock_now_s() + delay;
	if (queue_store_set_due(q->qs, m->dir, m->qid, due) < 0)
		log_warn("queue=%s event=set_due_error error=\"%s\"", m->qid, strerror(errno));
	if (m->dir != QDIR_DEFERRED) {
		if (queue_store_move(q->qs, m->qid, m->dir, QDIR_DEFERRED) == 0)
			m->dir = QDIR_DEFERRED;
		else
			log_err("queue=%s event=move_error to=deferred error=\"%s\"", m->qid, strerror(errno));
	}
	log_info("queue=%s event=deferred_message pending=%zu next_attempt_in=%ds attempt=%d", m->qid, pending, delay,
		 m->attempts);
	set_dest(m);
	sched_unload(m);
	m->st = QM_DEFERRED;
	m->due_s = due;
	sched_heap_push(q, m);
	sched_arm_timer(q);
	sched_schedule_pump(q);
}

static void finalize(struct queue_sched *q, struct qmsg *m)
{
	struct mail_env *env = m->env;
	if (m->notify_failed) {
		/* the bounce could not be queued: keep those recipients pending
		 * so they are tried (and bounced) again; nothing is lost */
		for (size_t i = 0; i < env->nrcpt; i++) {
			if (m->chg[i] == CHG_YES && env->rcpt[i].state == MAIL_RCPT_FAILED)
				env->rcpt[i].state = MAIL_RCPT_PENDING;
		}
	}
	q->n_active--;
	size_t pending = mail_env_pending(env);
	if (pending == 0) {
		if (queue_store_remove(q->qs, m->dir, m->qid) < 0)
			log_err("queue=%s event=remove_error error=\"%s\"", m->qid, strerror(errno));
		else
			log_removed_env(m, m->noticed);
		sched_forget(q, m);
		sched_schedule_pump(q);
		return;
	}
	defer_pending(q, m, pending);
}
