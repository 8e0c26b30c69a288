/*
 * queue_sched.c - the queue manager's core (see queue_sched.h and
 * docs/QUEUE.md): the known messages, the input and ready FIFOs, the
 * deferred heap by due time with its timer, and the pump.
 *
 * Per message a struct qmsg sits in one of: the input FIFO (to process),
 * the ready FIFO (to deliver), the deferred heap (by due time), or it is
 * PROCESSING / ACTIVE / NOTIFYING (waiting for the application or for a
 * notification commit). All work is started from pump(), which runs from a
 * zero-time event, so no callback ever re-enters the scheduler. What the
 * answers mean is decided elsewhere: queue_sched_process.c (processing),
 * queue_sched_attempt.c (delivery), queue_sched_recover.c (the spool scan).
 */
#include "queue/queue_sched.h"

#include <event2/event.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "base/ids.h"
#include "base/log.h"
#include "base/map.h"
#include "base/xalloc.h"
#include "mail/mail_env.h"
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

void sched_heap_push(struct queue_sched *q, struct qmsg *m)
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

void sched_unload(struct qmsg *m)
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
	sched_unload(m);
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

void sched_defer_unloaded(struct queue_sched *q, struct qmsg *m, int delay_s)
{
	m->st = QM_DEFERRED;
	m->due_s = clock_now_s() + delay_s;
	sched_heap_push(q, m);
	sched_arm_timer(q);
}

/* Load m's envelope into m->env. A file that vanished is forgotten, a
 * corrupt one moved to corrupt/, an unreadable one retried later; each
 * returns false (m may be gone). */
bool sched_load(struct queue_sched *q, struct qmsg *m)
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
		sched_defer_unloaded(q, m, q->conf.min_backoff_s);
		return false;
	}
	return true;
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
		if (!sched_load(q, m))
			continue;
		m->st = QM_PROCESSING;
		q->n_processing++;
		q->ops.process(q->ops.ctx, m->qid, m->env);
	}
	while (!q->stopped && budget-- > 0 && q->n_active < (size_t)q->conf.active_limit &&
	       (m = fifo_pop(&q->ready)) != NULL)
		queue_sched_attempt_start(q, m);
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
		sched_unload(all[i]);
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

void queue_sched_flush(struct queue_sched *q)
{
	size_t n = 0;
	struct qmsg *m;
	queue_sched_recover_adopt(q);
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
