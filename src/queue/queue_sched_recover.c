/*
 * queue_sched_recover.c - what the queue manager finds in the spool:
 * the start-up recovery scan (queue_sched_recover) and the adoption of
 * files that appear in input/ or output/ while it runs (a flush).
 *
 * Owns nothing beyond the scan: each file found becomes a struct qmsg
 * filed by queue_sched.c (input FIFO, ready FIFO or deferred heap by its
 * due time). Recovery removes the stale copy a crash between two steps of
 * a transition leaves (docs/QUEUE.md), so each message is known once;
 * adoption never takes a file a rewrite or a requeue is still committing.
 * Does not load envelopes or start work: the pump in queue_sched.c does.
 */
#include <stdint.h>

#include "base/log.h"
#include "base/map.h"
#include "queue/queue_store.h"

#include "queue/queue_sched_int.h"

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
		sched_heap_push(q, m);
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

void queue_sched_recover_adopt(struct queue_sched *q)
{
	struct recover_ctx adopt[2] = { { q, QDIR_INPUT, 0, 0 }, { q, QDIR_OUTPUT, 0, 0 } };
	for (int i = 0; i < 2; i++)
		queue_store_list(q->qs, adopt[i].dir, adopt_one, &adopt[i]);
	if (adopt[0].n + adopt[1].n)
		log_info("event=adopted input=%ld output=%ld", adopt[0].n, adopt[1].n);
}
