/*
 * queue_sched_ops.c - the administrator's operations on queued messages
 * (queue_sched_op: flush, hold, release, delete, requeue; flush by
 * domain; peek), docs/QUEUE.md "Queue operations". A message busy with a
 * scan, a delivery attempt or a commit is refused ("busy; try again");
 * otherwise each operation is one rename or one committed copy, logged
 * with the queue id.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/map.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "mail/mail_env.h"
#include "queue/queue_commit.h"
#include "queue/queue_sched_int.h"

static void fifo_remove(struct fifo *f, struct qmsg *m)
{
	struct qmsg *prev = NULL;
	for (struct qmsg *p = f->head; p; prev = p, p = p->next) {
		if (p != m)
			continue;
		if (prev)
			prev->next = p->next;
		else
			f->head = p->next;
		if (f->tail == p)
			f->tail = prev;
		f->n--;
		p->next = NULL;
		return;
	}
}

static void heap_remove(struct queue_sched *q, struct qmsg *m)
{
	size_t i = m->heap_idx;
	if (i >= q->nheap || q->heap[i] != m)
		return;
	q->nheap--;
	if (i != q->nheap) {
		struct qmsg *last = q->heap[q->nheap];
		q->heap[i] = last;
		last->heap_idx = i;
		sched_heap_up(q, i);
		sched_heap_down(q, last->heap_idx);
	}
	sched_arm_timer(q);
}

/* What m is busy with, or NULL when it waits in a FIFO or the heap. */
static const char *busy_with(const struct qmsg *m)
{
	switch (m->st) {
	case QM_PROCESSING:
		return "it is being processed (scan, routing)";
	case QM_ACTIVE:
	case QM_NOTIFYING:
		return "a delivery attempt is in flight";
	case QM_MOVING:
		return "a requeue is being committed";
	default:
		return NULL;
	}
}

/* Take an idle m out of its FIFO or the deferred heap. */
static void detach(struct queue_sched *q, struct qmsg *m)
{
	if (m->st == QM_INPUT)
		fifo_remove(&q->in, m);
	else if (m->st == QM_READY)
		fifo_remove(&q->ready, m);
	else if (m->st == QM_DEFERRED)
		heap_remove(q, m);
}

/* A requeue or a quarantine release being committed (q->moving). */
struct move_arg {
	struct queue_sched *q;
	char qid[IDS_QUEUE_SIZE];     /* the message operated on */
	char new_qid[IDS_QUEUE_SIZE]; /* the copy in input/ (the same id for a requeue) */
	enum queue_dir from;
	int64_t warned_us; /* its W record, carried over */
};

static void move_done(void *arg, uint64_t cookie, const char *qid, int err)
{
	(void)cookie;
	(void)qid;
	struct move_arg *ma = arg;
	struct queue_sched *q = ma->q;
	bool requeue = strcmp(ma->qid, ma->new_qid) == 0;
	map_dels(q->moving, ma->qid);
	struct qmsg *m = map_gets(q->msgs, ma->qid);
	if (m && m->st != QM_MOVING)
		m = NULL; /* not ours (cannot happen: adoption skips moving ids) */
	if (err) {
		log_err("queue=%s event=%s_error error=\"%s\" action=\"stays in %s/\"", ma->qid,
			requeue ? "requeue" : "release", strerror(err), queue_dir_name(ma->from));
		if (m)
			sched_enqueue(q, m); /* as it was, due now */
	} else {
		if (ma->warned_us) {
			struct mail_env *w = mail_env_new();
			w->delay_warned_us = ma->warned_us;
			queue_store_append_status(q->qs, QDIR_INPUT, ma->new_qid, w, NULL, 0, true);
			mail_env_free(&w);
		}
		if (queue_store_remove(q->qs, ma->from, ma->qid) < 0)
			log_err("queue=%s event=remove_error dir=%s error=\"%s\"", ma->qid, queue_dir_name(ma->from),
				strerror(errno));
		if (requeue) {
			log_info("queue=%s event=requeued from=%s", ma->qid, queue_dir_name(ma->from));
			if (!m)
				m = sched_qmsg_new(q, ma->qid, QDIR_INPUT);
			if (m) {
				m->dir = QDIR_INPUT;
				sched_enqueue(q, m);
			}
		} else {
			log_info("queue=%s event=released from=%s new=%s", ma->qid, queue_dir_name(ma->from), ma->new_qid);
			char extra[IDS_QUEUE_SIZE + 8];
			snprintf(extra, sizeof extra, "new=%s", ma->new_qid);
			sched_log_removed(ma->qid, "released", extra);
			log_info("queue=%s event=queued origin=released parent=%s", ma->new_qid, ma->qid);
			queue_sched_arrived(q, ma->new_qid);
		}
	}
	xfree(ma);
	sched_schedule_pump(q);
}

/* Commit env (a copy of from/qid's content) into input/ as env->qid. */
static void move_start(struct queue_sched *q, const char *qid, enum queue_dir from, struct mail_env *env,
		       int64_t warned_us)
{
	struct move_arg *ma = xcalloc(1, sizeof *ma);
	ma->q = q;
	snprintf(ma->qid, sizeof ma->qid, "%s", qid);
	str_copy(ma->new_qid, sizeof ma->new_qid, env->qid);
	ma->from = from;
	ma->warned_us = warned_us;
	map_puts(q->moving, ma->qid, ma);
	queue_commit_submit_copy(q->qc, from, qid, ma->new_qid, env, QDIR_INPUT, move_done, ma, 0);
}

/* Requeue (m: the scheduler's entry, NULL for hold/): the pending
 * recipients, their routes forgotten, go back to input/ under the same id
 * (like transition 3r, the other way); processing routes them with the
 * maps in force and never scans them again (flag REQUEUED). */
static int requeue(struct queue_sched *q, struct qmsg *m, const char *qid, enum queue_dir from, char *msg,
		   size_t msglen)
{
	struct mail_env *env = NULL;
	char err[256];
	if (queue_store_load(q->qs, from, qid, &env, NULL, err, sizeof err) < 0) {
		snprintf(msg, msglen, "%s: cannot read %s/%s: %s", qid, queue_dir_name(from), qid, err);
		return -1;
	}
	struct mail_env *ne = mail_env_new_like(env);
	ne->flags |= MAIL_ENV_F_REQUEUED;
	snprintf(ne->qid, sizeof ne->qid, "%s", qid);
	for (size_t i = 0; i < env->nrcpt; i++) {
		const struct mail_rcpt *r = &env->rcpt[i];
		if (r->state == MAIL_RCPT_PENDING)
			mail_env_add_rcpt(ne, r->addr, r->orcpt, r->notify);
	}
	int64_t warned = env->delay_warned_us;
	mail_env_free(&env);
	if (ne->nrcpt == 0) {
		mail_env_free(&ne);
		snprintf(msg, msglen, "%s: no recipient is pending", qid);
		return -1;
	}
	size_t n = ne->nrcpt;
	if (m) {
		detach(q, m);
		m->st = QM_MOVING;
	}
	move_start(q, qid, from, ne, warned);
	snprintf(msg, msglen, "%s: requeued from %s/ (%zu recipient%s to route again)", qid, queue_dir_name(from), n,
		 n == 1 ? "" : "s");
	return 0;
}

static int op_known(struct queue_sched *q, struct qmsg *m, enum queue_op op, const char *qid, char *msg,
		    size_t msglen)
{
	const char *busy = busy_with(m);
	const char *dir = queue_dir_name(m->dir);
	if (busy) {
		snprintf(msg, msglen, "%s: busy: %s; try again", qid, busy);
		return -1;
	}
	switch (op) {
	case QUEUE_OP_FLUSH:
		if (m->st != QM_DEFERRED) {
			snprintf(msg, msglen, "%s: already due (%s/)", qid, dir);
			return 0;
		}
		heap_remove(q, m);
		sched_enqueue(q, m);
		sched_schedule_pump(q);
		log_info("queue=%s event=flushed", qid);
		snprintf(msg, msglen, "%s: flushed (%s/)", qid, dir);
		return 0;
	case QUEUE_OP_HOLD:
		if (m->dir == QDIR_INPUT) {
			snprintf(msg, msglen,
				 "%s: not processed yet (input/): it is not delivered before it is scanned and routed; "
				 "hold it afterwards, or delete it",
				 qid);
			return -1;
		}
		if (queue_store_move(q->qs, qid, m->dir, QDIR_HOLD) < 0) {
			snprintf(msg, msglen, "%s: cannot move %s/ to hold/: %s", qid, dir, strerror(errno));
			return -1;
		}
		log_info("queue=%s event=held from=%s", qid, dir);
		snprintf(msg, msglen, "%s: held (from %s/)", qid, dir);
		detach(q, m);
		sched_forget(q, m);
		return 0;
	case QUEUE_OP_RELEASE:
		snprintf(msg, msglen, "%s: not held (it is in %s/)", qid, dir);
		return -1;
	case QUEUE_OP_DELETE:
	case QUEUE_OP_DELETE_SPAM: /* mapped to DELETE by queue_sched_op */
		if (queue_store_remove(q->qs, m->dir, qid) < 0 && errno != ENOENT) {
			snprintf(msg, msglen, "%s: cannot remove %s/%s: %s", qid, dir, qid, strerror(errno));
			return -1;
		}
		log_info("queue=%s event=deleted from=%s", qid, dir);
		sched_log_removed(qid, "deleted", NULL);
		snprintf(msg, msglen, "%s: deleted (from %s/)", qid, dir);
		detach(q, m);
		sched_forget(q, m);
		return 0;
	case QUEUE_OP_REQUEUE:
		if (m->dir == QDIR_INPUT) {
			snprintf(msg, msglen, "%s: not processed yet (input/): it is routed when it is processed", qid);
			return -1;
		}
		return requeue(q, m, qid, m->dir, msg, msglen);
	}
	return -1;
}

/* A message the scheduler does not track: hold/, quarantine/, corrupt/. */
static int op_file(struct queue_sched *q, enum queue_op op, const char *qid, char *msg, size_t msglen)
{
	static const enum queue_dir where[] = { QDIR_HOLD, QDIR_QUARANTINE, QDIR_CORRUPT };
	enum queue_dir d = QDIR_N;
	for (size_t i = 0; i < sizeof where / sizeof where[0] && d == QDIR_N; i++)
		if (queue_store_exists(q->qs, where[i], qid))
			d = where[i];
	if (d == QDIR_N) {
		snprintf(msg, msglen, "%s: no such message", qid);
		return -1;
	}
	const char *dir = queue_dir_name(d);
	if (op == QUEUE_OP_DELETE) {
		if (queue_store_remove(q->qs, d, qid) < 0) {
			snprintf(msg, msglen, "%s: cannot remove %s/%s: %s", qid, dir, qid, strerror(errno));
			return -1;
		}
		log_info("queue=%s event=deleted from=%s", qid, dir);
		sched_log_removed(qid, "deleted", NULL);
		snprintf(msg, msglen, "%s: deleted (from %s/)", qid, dir);
		return 0;
	}
	if (op == QUEUE_OP_HOLD && d == QDIR_HOLD) {
		snprintf(msg, msglen, "%s: already held", qid);
		return 0;
	}
	if (op == QUEUE_OP_RELEASE && d == QDIR_HOLD) {
		if (queue_store_move(q->qs, qid, QDIR_HOLD, QDIR_OUTPUT) < 0) {
			snprintf(msg, msglen, "%s: cannot move hold/ to output/: %s", qid, strerror(errno));
			return -1;
		}
		log_info("queue=%s event=released from=hold", qid);
		snprintf(msg, msglen, "%s: released (hold/ -> output/, due now)", qid);
		sched_arrived(q, qid, QDIR_OUTPUT);
		return 0;
	}
	if (op == QUEUE_OP_RELEASE && d == QDIR_QUARANTINE) {
		struct mail_env *env;
		char err[256], nq[IDS_QUEUE_SIZE];
		if (queue_store_release_env(q->qs, qid, nq, &env, err, sizeof err) < 0) {
			snprintf(msg, msglen, "%s: %s", qid, err);
			return -1;
		}
		size_t n = env->nrcpt;
		move_start(q, qid, QDIR_QUARANTINE, env, 0);
		snprintf(msg, msglen, "%s: released as %s (%zu recipient%s)", qid, nq, n, n == 1 ? "" : "s");
		return 0;
	}
	if (op == QUEUE_OP_REQUEUE && d == QDIR_HOLD)
		return requeue(q, NULL, qid, QDIR_HOLD, msg, msglen);
	snprintf(msg, msglen, "%s: in %s/: %s", qid, dir,
		 d == QDIR_HOLD	      ? "release it first"
		 : d == QDIR_CORRUPT ? "a damaged file: it can only be deleted"
				     : "release or delete it");
	return -1;
}

int queue_sched_op(struct queue_sched *q, enum queue_op op, const char *id, char *msg, size_t msglen)
{
	if (!ids_queue_valid(id)) {
		snprintf(msg, msglen, "not a queue id: \"%.40s\"", id);
		return -1;
	}
	if (op == QUEUE_OP_DELETE_SPAM) /* what it learns is the gateway's business */
		op = QUEUE_OP_DELETE;
	char qid[IDS_QUEUE_SIZE];
	snprintf(qid, sizeof qid, "%s", id); /* id may be the entry's own, which sched_forget() frees */
	if (map_gets(q->splitting, qid) || map_gets(q->moving, qid)) {
		snprintf(msg, msglen, "%s: busy: it is being committed; try again", qid);
		return -1;
	}
	struct qmsg *m = map_gets(q->msgs, qid);
	return m ? op_known(q, m, op, qid, msg, msglen) : op_file(q, op, qid, msg, msglen);
}

size_t queue_sched_flush_domain(struct queue_sched *q, const char *domain)
{
	struct qmsg **hit = xcalloc(q->nheap ? q->nheap : 1, sizeof *hit);
	size_t n = 0;
	for (size_t i = 0; i < q->nheap; i++) {
		struct qmsg *m = q->heap[i];
		struct mail_env *env = NULL;
		char err[256];
		if (m->dir == QDIR_INPUT || queue_store_load(q->qs, m->dir, m->qid, &env, NULL, err, sizeof err) < 0)
			continue;
		for (size_t k = 0; k < env->nrcpt; k++) {
			if (env->rcpt[k].state == MAIL_RCPT_PENDING && str_caseeq(mail_env_domain(env->rcpt[k].addr), domain)) {
				hit[n++] = m;
				break;
			}
		}
		mail_env_free(&env);
	}
	for (size_t i = 0; i < n; i++) {
		heap_remove(q, hit[i]);
		sched_enqueue(q, hit[i]);
		log_info("queue=%s event=flushed domain=%s", hit[i]->qid, domain);
	}
	xfree(hit);
	log_info("event=flush domain=%s deferred_messages=%zu", domain, n);
	sched_arm_timer(q);
	sched_schedule_pump(q);
	return n;
}

bool queue_sched_peek(const struct queue_sched *q, const char *qid, bool *busy, int64_t *due_s)
{
	*busy = false;
	*due_s = 0;
	if (map_gets(q->splitting, qid) || map_gets(q->moving, qid)) {
		*busy = true;
		return true;
	}
	const struct qmsg *m = map_gets(q->msgs, qid);
	if (!m)
		return false;
	*busy = busy_with(m) != NULL;
	if (m->st == QM_DEFERRED)
		*due_s = m->due_s;
	return true;
}
