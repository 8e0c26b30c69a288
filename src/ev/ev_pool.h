/*
 * ev_pool.h - worker threads with job queues and a completion pipe.
 *
 * The loop thread submits jobs; a worker runs work(job) off the loop; then
 * done(job) runs back on the loop thread (woken through an eventfd). Jobs
 * run in submission order per pool but may complete in any order when the
 * pool has several threads. The pool never frees a job: done() owns it.
 * ev_pool_submit() and ev_pool_free() are for the loop thread only.
 */
#ifndef EV_EV_POOL_H
#define EV_EV_POOL_H

#include <stddef.h>

struct event_base;
struct ev_pool;

typedef void (*ev_pool_fn)(void *job);

struct ev_pool *ev_pool_new(struct event_base *base, int nthreads, const char *name);
/* Runs work(job) on a worker, then done(job) on the loop thread. */
void ev_pool_submit(struct ev_pool *p, void *job, ev_pool_fn work, ev_pool_fn done);
/* Jobs submitted and not yet done. */
size_t ev_pool_pending(const struct ev_pool *p);
/* Waits for queued jobs to finish (their done() callbacks are run), then
 * stops the threads. */
void ev_pool_free(struct ev_pool **p);

#endif
