/*
 * ev_pool.c - worker pool with completions delivered on the event loop.
 *
 * Two lists under one mutex: todo (submitted, waiting for a worker) and done
 * (worked, waiting for the loop). A worker that moves a job to an empty done
 * list writes the eventfd once; the loop drains the whole done list per
 * wake-up, so many completions cost one wake-up (this is what lets the queue
 * committer group its replies).
 */
#include "ev/ev_pool.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/log.h"
#include "base/xalloc.h"

struct pool_job {
	struct pool_job *next;
	void *job;
	ev_pool_fn work;
	ev_pool_fn done;
};

struct ev_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct pool_job *todo_head, *todo_tail;
	struct pool_job *done_head, *done_tail;
	int stopping;
	int nthreads;
	pthread_t *threads;
	int efd;
	struct event *ev;
	size_t pending; /* loop thread only */
	char name[16];
};

static void *pool_thread(void *arg)
{
	struct ev_pool *p = arg;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->todo_head && !p->stopping)
			pthread_cond_wait(&p->cond, &p->lock);
		if (!p->todo_head && p->stopping)
			break;
		struct pool_job *j = p->todo_head;
		p->todo_head = j->next;
		if (!p->todo_head)
			p->todo_tail = NULL;
		pthread_mutex_unlock(&p->lock);

		j->work(j->job);

		pthread_mutex_lock(&p->lock);
		j->next = NULL;
		int wake = p->done_head == NULL;
		if (p->done_tail)
			p->done_tail->next = j;
		else
			p->done_head = j;
		p->done_tail = j;
		if (wake) {
			uint64_t one = 1;
			ssize_t w = write(p->efd, &one, sizeof one);
			(void)w;
		}
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void pool_drain_done(struct ev_pool *p)
{
	pthread_mutex_lock(&p->lock);
	struct pool_job *j = p->done_head;
	p->done_head = p->done_tail = NULL;
	pthread_mutex_unlock(&p->lock);
	while (j) {
		struct pool_job *n = j->next;
		p->pending--;
		j->done(j->job);
		xfree(j);
		j = n;
	}
}

static void pool_on_event(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	uint64_t v;
	ssize_t r = read(fd, &v, sizeof v);
	(void)r;
	pool_drain_done(arg);
}

struct ev_pool *ev_pool_new(struct event_base *base, int nthreads, const char *name)
{
	struct ev_pool *p = xcalloc(1, sizeof *p);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	snprintf(p->name, sizeof p->name, "%s", name);
	p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->efd < 0)
		log_fatal("event=pool_create pool=%s error=\"eventfd: %s\"", name, strerror(errno));
	p->ev = event_new(base, p->efd, EV_READ | EV_PERSIST, pool_on_event, p);
	event_add(p->ev, NULL);
	p->nthreads = nthreads < 1 ? 1 : nthreads;
	p->threads = xcalloc((size_t)p->nthreads, sizeof *p->threads);
	for (int i = 0; i < p->nthreads; i++) {
		int rc = pthread_create(&p->threads[i], NULL, pool_thread, p);
		if (rc)
			log_fatal("event=pool_create pool=%s error=\"pthread_create: %s\"", name, strerror(rc));
		char tn[32];
		snprintf(tn, sizeof tn, "%.10s-%d", name, i);
		tn[15] = '\0'; /* the kernel's limit for thread names */
		pthread_setname_np(p->threads[i], tn);
	}
	return p;
}

void ev_pool_submit(struct ev_pool *p, void *job, ev_pool_fn work, ev_pool_fn done)
{
	struct pool_job *j = xmalloc(sizeof *j);
	j->next = NULL;
	j->job = job;
	j->work = work;
	j->done = done;
	p->pending++;
	pthread_mutex_lock(&p->lock);
	if (p->todo_tail)
		p->todo_tail->next = j;
	else
		p->todo_head = j;
	p->todo_tail = j;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

size_t ev_pool_pending(const struct ev_pool *p)
{
	return p->pending;
}

void ev_pool_free(struct ev_pool **pp)
{
	struct ev_pool *p = *pp;
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = 1;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pool_drain_done(p);
	event_free(p->ev);
	close(p->efd);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	xfree(p->threads);
	xfree(p);
	*pp = NULL;
}
