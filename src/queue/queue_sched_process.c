/*
 * queue_sched_process.c - the answers of processing (scanning, alias
 * expansion) for a message in input/: a verdict (queue_sched_processed)
 * or a rewrite into new envelopes and contents (queue_sched_processed_out).
 *
 * Owns the rewrite in flight (struct rewrite) and its splits' ids in
 * q->splitting until they are durable. A verdict is one rename (or the
 * removal of a discarded message); a rewrite removes input/<qid> only
 * once what replaces it is durable (docs/QUEUE.md 3r, 3s, 3q). A failed
 * rewrite, a failed move to output/ and RETRY leave the message in input/,
 * processed again after minimal_backoff_time. Does not scan or route.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/ids.h"
#include "base/log.h"
#include "base/map.h"
#include "base/xalloc.h"
#include "mail/mail_env.h"
#include "queue/queue_commit.h"
#include "queue/queue_store.h"

#include "queue/queue_sched_int.h"

void queue_sched_processed(struct queue_sched *q, const char *qid, enum queue_verdict v)
{
	struct qmsg *m = map_gets(q->msgs, qid);
	if (!m || m->st != QM_PROCESSING) {
		log_warn("queue=%s event=stray_processed", qid);
		return;
	}
	q->n_processing--;
	sched_unload(m);
	switch (v) {
	case QUEUE_PASS:
		if (queue_store_move(q->qs, qid, QDIR_INPUT, QDIR_OUTPUT) < 0) {
			log_err("queue=%s event=move_error from=input to=output error=\"%s\"", qid, strerror(errno));
			sched_defer_unloaded(q, m, q->conf.min_backoff_s); /* stays in input/; retried */
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
		sched_defer_unloaded(q, m, q->conf.min_backoff_s);
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
	sched_defer_unloaded(q, m, q->conf.min_backoff_s); /* stays in input/; processed again */
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
	sched_unload(m); /* the rewrite works from the file */
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
