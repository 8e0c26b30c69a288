/*
 * queue_sched.c - the queue manager (see queue_sched.h and docs/QUEUE.md).
 *
 * Per message a struct qmsg sits in one of: the input FIFO (to process),
 * the ready FIFO (to deliver), the deferred heap (by due time), or it is
 * PROCESSING / ACTIVE / NOTIFYING (waiting for the application or for a
 * notification commit). All work is started from pump(), which runs from a
 * zero-time event, so no callback ever re-enters the scheduler.
 */
#include "queue/queue_sched.h"

#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/ids.h"
#include "base/log.h"
#include "base/map.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "mail/mail_env.h"
#include "queue/queue_bounce.h"
#include "queue/queue_commit.h"
#include "queue/queue_store.h"

#include "queue/queue_sched_int.h"

static void fifo_push(struct fifo *f, struct qmsg *m)
{
	m->next = NULL;
	if (f->tail)
		f->tail->next = m;
	else
		f->head = m;
	f->tail = m;
	f->n++;
}

static struct qmsg *fifo_pop(struct fifo *f)
{
	struct qmsg *m = f->head;
	if (!m)
		return NULL;
	f->head = m->next;
	if (!f->head)
		f->tail = NULL;
	f->n--;
	m->next = NULL;
	return m;
}

/* --- deferred heap, ordered by due time --- */

static void heap_swap(struct queue_sched *q, size_t a, size_t b)
{
	struct qmsg *t = q->heap[a];
	q->heap[a] = q->heap[b];
	q->heap[b] = t;
	q->heap[a]->heap_idx = a;
	q->heap[b]->heap_idx = b;
}

void sched_heap_up(struct queue_sched *q, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (q->heap[p]->due_s <= q->heap[i]->due_s)
			break;
		heap_swap(q, p, i);
		i = p;
	}
}

void sched_heap_down(struct queue_sched *q, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < q->nheap && q->heap[l]->due_s < q->heap[m]->due_s)
			m = l;
		if (r < q->nheap && q->heap[r]->due_s < q->heap[m]->due_s)
			m = r;
		if (m == i)
			break;
		heap_swap(q, i, m);
		i = m;
	}
}

static void heap_push(struct queue_sched *q, struct qmsg *m)
{
	q->heap = xgrow(q->heap, &q->heap_cap, q->nheap + 1, sizeof *q->heap);
	m->heap_idx = q->nheap;
	q->heap[q->nheap++] = m;
	sched_heap_up(q, m->heap_idx);
}

static struct qmsg *heap_pop(struct queue_sched *q)
{
	if (!q->nheap)
		return NULL;
	struct qmsg *m = q->heap[0];
	q->nheap--;
	if (q->nheap) {
		q->heap[0] = q->heap[q->nheap];
		q->heap[0]->heap_idx = 0;
		sched_heap_down(q, 0);
	}
	return m;
}

/* --- scheduling --- */

void sched_schedule_pump(struct queue_sched *q)
{
	if (q->pump_armed)
		return;
	q->pump_armed = true;
	event_active(q->pump_ev, EV_TIMEOUT, 0);
}

void sched_arm_timer(struct queue_sched *q)
{
	if (!q->nheap) {
		evtimer_del(q->timer_ev);
		return;
	}
	int64_t wait = q->heap[0]->due_s - clock_now_s();
	if (wait < 0)
		wait = 0;
	struct timeval tv = { (time_t)wait, wait ? 0 : 1000 };
	evtimer_add(q->timer_ev, &tv);
}

struct qmsg *sched_qmsg_new(struct queue_sched *q, const char *qid, enum queue_dir dir)
{
	struct qmsg *m = map_gets(q->msgs, qid);
	if (m)
		return NULL; /* already known */
	m = xcalloc(1, sizeof *m);
	snprintf(m->qid, sizeof m->qid, "%s", qid);
	m->dir = dir;
	map_puts(q->msgs, m->qid, m);
	return m;
}

static void unload(struct qmsg *m)
{
	mail_env_free(&m->env);
	xfree(m->pend);
	xfree(m->chg);
	m->pend = NULL;
	m->chg = NULL;
	m->npend = 0;
}

void sched_forget(struct queue_sched *q, struct qmsg *m)
{
	map_dels(q->msgs, m->qid);
	unload(m);
	xfree(m->dest);
	xfree(m);
}

/* The one final line of a message's life (docs/LOGGING.md): every queue id
 * that was queued ends with exactly one event=removed. */
void sched_log_removed(const char *qid, const char *disposition, const char *extra)
{
	log_info("queue=%s event=removed disposition=%s%s%s", qid, disposition, extra && extra[0] ? " " : "",
		 extra ? extra : "");
}

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

static void defer_unloaded(struct queue_sched *q, struct qmsg *m, int delay_s)
{
	m->st = QM_DEFERRED;
	m->due_s = clock_now_s() + delay_s;
	heap_push(q, m);
	sched_arm_timer(q);
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

/* Load m's envelope into m->env. A file that vanished is forgotten, a
 * corrupt one moved to corrupt/, an unreadable one retried later; each
 * returns false (m may be gone). */
static bool load(struct queue_sched *q, struct qmsg *m)
{
	char err[256];
	int rc = queue_store_load(q->qs, m->dir, m->qid, &m->env, &m->hdr, err, sizeof err);
	if (rc == -2) {
		log_warn("queue=%s event=vanished dir=%s", m->qid, queue_dir_name(m->dir));
		sched_forget(q, m);
		return false;
	}
	if (rc == -1) {
		log_err("queue=%s event=corrupt dir=%s reason=\"%s\" action=moved_to_corrupt", m->qid,
			queue_dir_name(m->dir), err);
		queue_store_move(q->qs, m->qid, m->dir, QDIR_CORRUPT);
		sched_forget(q, m);
		return false;
	}
	if (rc < 0) {
		log_warn("queue=%s event=load_error reason=\"%s\" retry_in=%ds", m->qid, err, q->conf.min_backoff_s);
		defer_unloaded(q, m, q->conf.min_backoff_s);
		return false;
	}
	return true;
}

static void activate(struct queue_sched *q, struct qmsg *m)
{
	if (!load(q, m))
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

static void on_pump(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct queue_sched *q = arg;
	q->pump_armed = false;
	int budget = PUMP_BUDGET;
	struct qmsg *m;
	while (budget-- > 0 && (m = fifo_pop(&q->in)) != NULL) {
		if (!load(q, m))
			continue;
		m->st = QM_PROCESSING;
		q->n_processing++;
		q->ops.process(q->ops.ctx, m->qid, m->env);
	}
	while (!q->stopped && budget-- > 0 && q->n_active < (size_t)q->conf.active_limit &&
	       (m = fifo_pop(&q->ready)) != NULL)
		activate(q, m);
	if (q->in.head || (!q->stopped && q->ready.head && q->n_active < (size_t)q->conf.active_limit))
		sched_schedule_pump(q);
}

/* Queue m for its next step by its directory: processing from input/,
 * delivery otherwise (a deferred message whose time has come is processed
 * again when processing was put off: never delivered unprocessed). */
void sched_enqueue(struct queue_sched *q, struct qmsg *m)
{
	if (m->dir == QDIR_INPUT) {
		m->st = QM_INPUT;
		fifo_push(&q->in, m);
	} else {
		m->st = QM_READY;
		fifo_push(&q->ready, m);
	}
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct queue_sched *q = arg;
	int64_t now = clock_now_s();
	while (q->nheap && q->heap[0]->due_s <= now)
		sched_enqueue(q, heap_pop(q));
	sched_arm_timer(q);
	sched_schedule_pump(q);
}

struct queue_sched *queue_sched_new(struct event_base *base, struct queue_store *qs, struct queue_commit *qc,
				    const struct queue_sched_conf *conf, const struct queue_sched_ops *ops)
{
	struct queue_sched *q = xcalloc(1, sizeof *q);
	metric_hist_init(&q->m.delivery_delay, metric_le_slow, metric_le_slow_n);
	q->base = base;
	q->qs = qs;
	q->qc = qc;
	q->conf = *conf;
	q->ops = *ops;
	q->msgs = map_new();
	q->splitting = map_new();
	q->moving = map_new();
	q->pump_ev = event_new(base, -1, 0, on_pump, q);
	q->timer_ev = evtimer_new(base, on_timer, q);
	return q;
}

void queue_sched_reconfigure(struct queue_sched *q, const struct queue_sched_conf *conf)
{
	q->conf = *conf;
	sched_schedule_pump(q); /* a larger active limit may let more in now */
}

void queue_sched_free(struct queue_sched **qp)
{
	struct queue_sched *q = *qp;
	if (!q)
		return;
	size_t n = map_count(q->msgs), k = 0, pos = 0;
	struct qmsg **all = xcalloc(n ? n : 1, sizeof *all);
	void *v;
	while (k < n && map_next(q->msgs, &pos, NULL, NULL, &v))
		all[k++] = v;
	for (size_t i = 0; i < k; i++) {
		unload(all[i]);
		xfree(all[i]->dest);
		xfree(all[i]);
	}
	xfree(all);
	map_free(&q->msgs);
	map_free(&q->splitting);
	map_free(&q->moving);
	xfree(q->heap);
	event_free(q->pump_ev);
	event_free(q->timer_ev);
	xfree(q);
	*qp = NULL;
}

struct recover_ctx {
	struct queue_sched *q;
	enum queue_dir dir;
	long n, stale;
};

static void recover_one(void *arg, const char *qid, int64_t mtime_s, uint64_t size)
{
	(void)size;
	struct recover_ctx *c = arg;
	struct queue_sched *q = c->q;
	if (c->dir == QDIR_INPUT &&
	    (queue_store_exists(q->qs, QDIR_OUTPUT, qid) || queue_store_exists(q->qs, QDIR_DEFERRED, qid) ||
	     queue_store_exists(q->qs, QDIR_HOLD, qid))) {
		/* processed already (or a requeue cut short): the copy in input/ is the stale one */
		queue_store_remove(q->qs, QDIR_INPUT, qid);
		c->stale++;
		return;
	}
	if (c->dir == QDIR_OUTPUT && queue_store_exists(q->qs, QDIR_DEFERRED, qid)) {
		queue_store_remove(q->qs, QDIR_OUTPUT, qid);
		c->stale++;
		return;
	}
	struct qmsg *m = sched_qmsg_new(q, qid, c->dir);
	if (!m)
		return;
	c->n++;
	if (c->dir == QDIR_DEFERRED) {
		m->st = QM_DEFERRED;
		m->due_s = mtime_s;
		heap_push(q, m);
	} else {
		sched_enqueue(q, m);
	}
}

void queue_sched_recover(struct queue_sched *q)
{
	long tmp = queue_store_clean_tmp(q->qs);
	queue_store_recycle(q->qs);
	struct recover_ctx c[3] = { { q, QDIR_INPUT, 0, 0 }, { q, QDIR_OUTPUT, 0, 0 }, { q, QDIR_DEFERRED, 0, 0 } };
	for (int i = 0; i < 3; i++)
		queue_store_list(q->qs, c[i].dir, recover_one, &c[i]);
	long held = queue_store_count(q->qs, QDIR_HOLD), corrupt = queue_store_count(q->qs, QDIR_CORRUPT);
	log_info("event=queue_recovered incomplete_removed=%ld input=%ld output=%ld deferred=%ld stale_removed=%ld "
		 "hold=%ld corrupt=%ld",
		 tmp, c[0].n, c[1].n, c[2].n, c[0].stale + c[1].stale, held, corrupt);
	sched_arm_timer(q);
	sched_schedule_pump(q);
}

void sched_arrived(struct queue_sched *q, const char *qid, enum queue_dir dir)
{
	struct qmsg *m = sched_qmsg_new(q, qid, dir);
	if (!m)
		return;
	sched_enqueue(q, m);
	sched_schedule_pump(q);
}

void queue_sched_arrived(struct queue_sched *q, const char *qid)
{
	sched_arrived(q, qid, QDIR_INPUT);
}

void queue_sched_processed(struct queue_sched *q, const char *qid, enum queue_verdict v)
{
	struct qmsg *m = map_gets(q->msgs, qid);
	if (!m || m->st != QM_PROCESSING) {
		log_warn("queue=%s event=stray_processed", qid);
		return;
	}
	q->n_processing--;
	unload(m);
	switch (v) {
	case QUEUE_PASS:
		if (queue_store_move(q->qs, qid, QDIR_INPUT, QDIR_OUTPUT) < 0) {
			log_err("queue=%s event=move_error from=input to=output error=\"%s\"", qid, strerror(errno));
			defer_unloaded(q, m, q->conf.min_backoff_s); /* stays in input/; retried */
			m->st = QM_DEFERRED;
			return;
		}
		m->dir = QDIR_OUTPUT;
		sched_enqueue(q, m);
		break;
	case QUEUE_HOLD:
		if (queue_store_move(q->qs, qid, QDIR_INPUT, QDIR_HOLD) == 0)
			log_info("queue=%s event=hold", qid);
		sched_forget(q, m);
		break;
	case QUEUE_RETRY:
		defer_unloaded(q, m, q->conf.min_backoff_s);
		m->st = QM_DEFERRED;
		return;
	case QUEUE_DISCARD:
		queue_store_remove(q->qs, QDIR_INPUT, qid);
		log_info("queue=%s event=discarded", qid);
		sched_log_removed(qid, "discarded", NULL);
		sched_forget(q, m);
		break;
	}
	sched_schedule_pump(q);
}

/* A message that processing rewrote (alias expansion, scanning: docs/QUEUE.md
 * transitions 3r, 3s, 3q). New messages (owner- splits, quarantine copies)
 * are committed first; then the copy under the message's own id, whose
 * commit is the point of no return: from then on input/<qid> is stale
 * (start-up recovery removes it too). Any failure before that removes the
 * copies made and retries the message. Without an own copy (dropped,
 * quarantined only) input/<qid> is removed once the others are durable. */
struct rewrite {
	struct queue_sched *q;
	char qid[IDS_QUEUE_SIZE];
	struct queue_out own; /* committed last, as qid (env NULL: none) */
	char (*split)[IDS_QUEUE_SIZE];
	enum queue_dir *split_to;
	size_t nsplit, waiting;
	bool failed;
};

static void rewrite_free(struct rewrite *w)
{
	mail_env_free(&w->own.env);
	xfree(w->own.content);
	xfree(w->split);
	xfree(w->split_to);
	xfree(w);
}

/* The rewrite is over: its splits may be adopted by a flush from now on. */
static void splits_settled(struct rewrite *w)
{
	for (size_t i = 0; i < w->nsplit; i++)
		if (w->split[i][0])
			map_dels(w->q->splitting, w->split[i]);
}

static void rewrite_abort(struct rewrite *w, struct qmsg *m)
{
	struct queue_sched *q = w->q;
	splits_settled(w);
	for (size_t i = 0; i < w->nsplit; i++)
		if (w->split[i][0] && queue_store_remove(q->qs, w->split_to[i], w->split[i]) == 0)
			sched_log_removed(w->split[i], "aborted", "reason=\"the rewrite of its parent failed\"");
	q->n_processing--;
	defer_unloaded(q, m, q->conf.min_backoff_s); /* stays in input/; processed again */
	m->st = QM_DEFERRED;
}

/* The splits are durable and (own) the message's own copy too. */
static void rewrite_finish(struct rewrite *w, bool own)
{
	struct queue_sched *q = w->q;
	struct qmsg *m = map_gets(q->msgs, w->qid);
	splits_settled(w);
	queue_store_remove(q->qs, QDIR_INPUT, w->qid);
	q->n_processing--;
	if (own) {
		m->dir = QDIR_OUTPUT;
		sched_enqueue(q, m);
	} else {
		/* what replaced it: quarantine copies, owner- splits, or nothing */
		struct buf kids;
		buf_init(&kids);
		bool quarantined = false;
		for (size_t i = 0; i < w->nsplit; i++) {
			buf_printf(&kids, "%s%s", kids.len ? "," : "children=", w->split[i]);
			quarantined = quarantined || w->split_to[i] == QDIR_QUARANTINE;
		}
		sched_log_removed(w->qid, quarantined ? "quarantined" : w->nsplit ? "replaced" : "dropped", kids.data);
		buf_fini(&kids);
		sched_forget(q, m);
	}
	for (size_t i = 0; i < w->nsplit; i++)
		if (w->split_to[i] == QDIR_OUTPUT)
			sched_arrived(q, w->split[i], QDIR_OUTPUT);
	sched_schedule_pump(q);
}

static void rewrite_own_done(void *arg, uint64_t cookie, const char *qid, int err)
{
	(void)cookie;
	struct rewrite *w = arg;
	if (err) {
		log_err("queue=%s event=rewrite_error error=\"%s\"", qid, strerror(err));
		rewrite_abort(w, map_gets(w->q->msgs, w->qid));
	} else {
		rewrite_finish(w, true);
	}
	rewrite_free(w);
}

/* Every split is durable: commit the message's own new envelope. */
static void rewrite_own(struct rewrite *w)
{
	if (!w->own.env) {
		rewrite_finish(w, false);
		rewrite_free(w);
		return;
	}
	struct mail_env *own = w->own.env;
	w->own.env = NULL;
	if (w->own.content) {
		char *c = w->own.content;
		w->own.content = NULL;
		queue_commit_submit_bytes(w->q->qc, c, w->own.len, w->qid, own, QDIR_OUTPUT, rewrite_own_done, w, 0);
	} else {
		queue_commit_submit_copy(w->q->qc, QDIR_INPUT, w->qid, w->qid, own, QDIR_OUTPUT, rewrite_own_done, w,
					 0);
	}
}

static void rewrite_split_done(void *arg, uint64_t cookie, const char *qid, int err)
{
	struct rewrite *w = arg;
	if (err) {
		log_err("queue=%s event=split_error from=%s error=\"%s\"", qid, w->qid, strerror(err));
		map_dels(w->q->splitting, w->split[cookie]);
		w->split[cookie][0] = '\0';
		w->failed = true;
	} else {
		log_info("queue=%s event=%s from=%s", qid, w->split_to[cookie] == QDIR_QUARANTINE ? "quarantined" : "split",
			 w->qid);
	}
	if (--w->waiting > 0)
		return;
	if (w->failed) {
		rewrite_abort(w, map_gets(w->q->msgs, w->qid));
		rewrite_free(w);
		return;
	}
	rewrite_own(w);
}

static void outs_free(struct queue_out *outs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		mail_env_free(&outs[i].env);
		xfree(outs[i].content);
		outs[i].content = NULL;
	}
}

void queue_sched_processed_out(struct queue_sched *q, const char *qid, struct queue_out *outs, size_t n)
{
	struct qmsg *m = map_gets(q->msgs, qid);
	if (!m || m->st != QM_PROCESSING || n == 0) {
		log_warn("queue=%s event=stray_processed", qid);
		outs_free(outs, n);
		return;
	}
	unload(m); /* the rewrite works from the file */
	struct rewrite *w = xcalloc(1, sizeof *w);
	w->q = q;
	snprintf(w->qid, sizeof w->qid, "%s", qid);
	w->own = outs[0];
	if (w->own.env)
		snprintf(w->own.env->qid, sizeof w->own.env->qid, "%s", qid);
	w->nsplit = w->waiting = n - 1;
	w->split = xcalloc(n, sizeof *w->split);
	w->split_to = xcalloc(n, sizeof *w->split_to);
	if (n == 1) {
		rewrite_own(w);
		return;
	}
	for (size_t i = 1; i < n; i++) {
		struct queue_out *o = &outs[i];
		ids_queue_new(w->split[i - 1]);
		map_puts(q->splitting, w->split[i - 1], w);
		w->split_to[i - 1] = o->to == QDIR_QUARANTINE ? QDIR_QUARANTINE : QDIR_OUTPUT;
		snprintf(o->env->qid, sizeof o->env->qid, "%s", w->split[i - 1]);
		if (o->content)
			queue_commit_submit_bytes(q->qc, o->content, o->len, w->split[i - 1], o->env, w->split_to[i - 1],
						  rewrite_split_done, w, i - 1);
		else
			queue_commit_submit_copy(q->qc, QDIR_INPUT, qid, w->split[i - 1], o->env, w->split_to[i - 1],
						 rewrite_split_done, w, i - 1);
		o->env = NULL;
		o->content = NULL;
	}
}

void queue_sched_processed_envs(struct queue_sched *q, const char *qid, struct mail_env **envs, size_t n)
{
	struct queue_out *outs = xcalloc(n ? n : 1, sizeof *outs);
	for (size_t i = 0; i < n; i++)
		outs[i] = (struct queue_out){ .env = envs[i], .to = QDIR_OUTPUT };
	queue_sched_processed_out(q, qid, outs, n);
	xfree(outs);
}

int queue_sched_append_scan_attempt(struct queue_sched *q, const char *qid, int delta)
{
	return queue_store_append_scan_attempt(q->qs, QDIR_INPUT, qid, delta);
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
	if (age_s >= lifetime) {
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
			log_info("queue=%s event=expired rcpt=%s age=%llds lifetime=%ds", qid, LOG_QA(r->addr),
				 (long long)age_s, lifetime);
		}
		if (m->expired)
			snprintf(note, sizeof note,
				 "The message could not be delivered for %lld seconds (the limit is %d) and was returned.",
				 (long long)age_s, lifetime);
	}
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
	m->st = QM_NOTIFYING;
	m->notify_waiting = 0;
	if (null_sender && (nf || nr)) {
		log_info("queue=%s event=notification_suppressed reason=\"null sender\" rcpts=%zu", qid, nf + nr);
		nf = nr = 0;
	}
	if (nf) {
		if (send_notify(q, m, QUEUE_NOTIFY_FAILED, failed, nf, note[0] ? note : NULL) < 0) {
			log_err("queue=%s event=bounce_error error=\"%s\" action=retry_later", qid, strerror(errno));
			m->notify_failed = true;
		} else {
			q->n_bounced += nf;
			m->noticed = true;
		}
	}
	if (nr && send_notify(q, m, QUEUE_NOTIFY_RELAYED, relayed, nr, NULL) < 0)
		log_err("queue=%s event=dsn_error error=\"%s\"", qid, strerror(errno));
	if (!null_sender)
		maybe_warn_delay(q, m, age_s, failed);
	xfree(failed);
	xfree(relayed);
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
	unload(m);
	m->st = QM_DEFERRED;
	m->due_s = due;
	heap_push(q, m);
	sched_arm_timer(q);
	sched_schedule_pump(q);
}

int queue_sched_open_body(struct queue_sched *q, const char *qid, uint64_t *off_out, uint64_t *len_out)
{
	struct qmsg *m = map_gets(q->msgs, qid);
	if (!m || !m->env)
		return -1;
	*off_out = m->hdr.body_off;
	if (len_out)
		*len_out = m->hdr.body_len;
	return queue_store_open_msg(q->qs, m->dir, qid);
}

/* A file that appeared in input/ or output/ while we run (a message released
 * from quarantine by "mxgate quarantine release"): take it on. A split of a
 * rewrite still in flight is not ours yet: the rewrite reports it, or
 * removes it when it fails; a requeue or release being committed likewise. */
static void adopt_one(void *arg, const char *qid, int64_t mtime_s, uint64_t size)
{
	(void)mtime_s;
	(void)size;
	struct recover_ctx *c = arg;
	if (map_gets(c->q->splitting, qid) || map_gets(c->q->moving, qid))
		return;
	struct qmsg *m = sched_qmsg_new(c->q, qid, c->dir);
	if (!m)
		return; /* known */
	c->n++;
	log_info("queue=%s event=queued origin=adopted dir=%s", qid, queue_dir_name(c->dir));
	sched_enqueue(c->q, m);
}

void queue_sched_flush(struct queue_sched *q)
{
	size_t n = 0;
	struct qmsg *m;
	struct recover_ctx adopt[2] = { { q, QDIR_INPUT, 0, 0 }, { q, QDIR_OUTPUT, 0, 0 } };
	for (int i = 0; i < 2; i++)
		queue_store_list(q->qs, adopt[i].dir, adopt_one, &adopt[i]);
	if (adopt[0].n + adopt[1].n)
		log_info("event=adopted input=%ld output=%ld", adopt[0].n, adopt[1].n);
	while ((m = heap_pop(q)) != NULL) {
		sched_enqueue(q, m);
		n++;
	}
	log_info("event=flush deferred_messages=%zu", n);
	sched_arm_timer(q);
	sched_schedule_pump(q);
}

void queue_sched_stop(struct queue_sched *q)
{
	q->stopped = true;
}

void queue_sched_stats(const struct queue_sched *q, struct queue_sched_stats *s)
{
	s->known = map_count(q->msgs);
	s->input = q->in.n;
	s->ready = q->ready.n;
	s->deferred = q->nheap;
	s->active = q->n_active;
	s->processing = q->n_processing;
	s->delivered = q->n_delivered;
	s->bounced = q->n_bounced;
	s->expired = q->n_expired;
	s->notifications = q->n_notifications;
}

const struct queue_sched_metrics *queue_sched_metrics(const struct queue_sched *q)
{
	return &q->m;
}

void queue_sched_census(const struct queue_sched *q, struct queue_sched_census *out)
{
	memset(out, 0, sizeof *out);
	size_t pos = 0;
	const void *k;
	size_t kl;
	void *v;
	while (map_next(q->msgs, &pos, &k, &kl, &v)) {
		const struct qmsg *m = v;
		if (m->dir == QDIR_INPUT)
			out->input++;
		else if (m->dir == QDIR_OUTPUT)
			out->output++;
		else if (m->dir == QDIR_DEFERRED)
			out->deferred++;
		int64_t t = ids_queue_time_us(m->qid);
		if (!out->oldest_us || t < out->oldest_us)
			out->oldest_us = t;
	}
}

void queue_sched_deferred_dests(const struct queue_sched *q, void (*fn)(void *arg, const char *dest, size_t n),
				void *arg)
{
	struct map *count = map_new();
	size_t pos = 0;
	const void *k;
	size_t kl;
	void *v;
	while (map_next(q->msgs, &pos, &k, &kl, &v)) {
		const struct qmsg *m = v;
		if (m->dir != QDIR_DEFERRED)
			continue;
		const char *d = m->dest ? m->dest : "unknown";
		map_puts(count, d, (void *)((uintptr_t)map_gets(count, d) + 1));
	}
	pos = 0;
	while (map_next(count, &pos, &k, &kl, &v)) {
		char d[256];
		snprintf(d, sizeof d, "%.*s", (int)kl, (const char *)k);
		fn(arg, d, (size_t)(uintptr_t)v);
	}
	map_free(&count);
}

