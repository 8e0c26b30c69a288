/*
 * queue_sched_int.h - private to queue_sched*.c: the queue manager's
 * state (struct queue_sched, one struct qmsg per known message) and the
 * scheduling steps its files share: the core (queue_sched.c), recovery
 * (queue_sched_recover.c), processing (queue_sched_process.c), delivery
 * attempts (queue_sched_attempt.c) and the administrator's operations
 * (queue_sched_ops.c).
 */
#ifndef QUEUE_QUEUE_SCHED_INT_H
#define QUEUE_QUEUE_SCHED_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/ids.h"
#include "queue/queue_file.h"
#include "queue/queue_sched.h"
#include "queue/queue_store.h"

struct event;
struct map;

#define PUMP_BUDGET 512

/* QM_MOVING: an administrator's requeue is being committed (queue_sched_op) */
enum qm_state { QM_INPUT, QM_PROCESSING, QM_READY, QM_DEFERRED, QM_ACTIVE, QM_NOTIFYING, QM_MOVING };

enum { CHG_NONE = 0, CHG_YES = 1, CHG_RELAYED = 2 };

struct qmsg {
	char qid[IDS_QUEUE_SIZE];
	enum queue_dir dir;
	enum qm_state st;
	int64_t due_s;
	size_t heap_idx;
	struct qmsg *next;
	int attempts;
	/* while ACTIVE / NOTIFYING */
	struct mail_env *env;
	struct queue_hdr hdr;
	size_t *pend;
	size_t npend;
	unsigned char *chg;
	int notify_waiting;
	bool notify_failed;
	bool expired;
	bool warned; /* a "delayed" notice was queued: record it in finalize() */
	bool noticed; /* this attempt queued a failure notice (bounce) */
	char *dest;  /* in deferred/: the first pending recipient's domain (metrics) */
};

struct fifo {
	struct qmsg *head, *tail;
	size_t n;
};

struct queue_sched {
	struct event_base *base;
	struct queue_store *qs;
	struct queue_commit *qc;
	struct queue_sched_conf conf;
	struct queue_sched_ops ops;
	struct map *msgs;
	struct map *splitting; /* ids of rewrite splits not yet reported (never adopted) */
	struct map *moving;    /* ids of requeues and quarantine releases being committed */
	struct fifo in, ready;
	struct qmsg **heap;
	size_t nheap, heap_cap;
	size_t n_active, n_processing;
	struct event *pump_ev, *timer_ev;
	bool pump_armed, stopped;
	uint64_t n_delivered, n_bounced, n_expired, n_notifications;
	struct queue_sched_metrics m;
};

/* queue_sched.c: the steps the other files reuse */
void sched_heap_up(struct queue_sched *q, size_t i);
void sched_heap_down(struct queue_sched *q, size_t i);
/* File m (its due_s set) in the deferred heap; the caller arms the timer. */
void sched_heap_push(struct queue_sched *q, struct qmsg *m);
void sched_schedule_pump(struct queue_sched *q);
void sched_arm_timer(struct queue_sched *q);
struct qmsg *sched_qmsg_new(struct queue_sched *q, const char *qid, enum queue_dir dir);
/* Free m's envelope and attempt state (m stays known). */
void sched_unload(struct qmsg *m);
/* Load m's envelope (m->env, m->hdr); false when m is gone, moved to
 * corrupt/ or deferred after a read error. */
bool sched_load(struct queue_sched *q, struct qmsg *m);
/* m (unloaded) waits delay_s in the deferred heap, in the directory it is in. */
void sched_defer_unloaded(struct queue_sched *q, struct qmsg *m, int delay_s);
/* Drop m from the known messages (it is in no FIFO or heap). */
void sched_forget(struct queue_sched *q, struct qmsg *m);
/* The final line of a queue id (docs/LOGGING.md): event=removed disposition=... */
void sched_log_removed(const char *qid, const char *disposition, const char *extra);
/* File m where its state says (input FIFO, ready FIFO or deferred heap). */
void sched_enqueue(struct queue_sched *q, struct qmsg *m);
/* A committed file in dir (input/ or output/) becomes known and scheduled. */
void sched_arrived(struct queue_sched *q, const char *qid, enum queue_dir dir);

/* queue_sched_recover.c: take on the files in input/ and output/ that are
 * not known yet (a flush; never a split or requeue being committed). */
void queue_sched_recover_adopt(struct queue_sched *q);

/* queue_sched_attempt.c: a delivery attempt of m (from the ready FIFO):
 * loads it and asks the application; m may be gone when this returns. */
void queue_sched_attempt_start(struct queue_sched *q, struct qmsg *m);

#endif
