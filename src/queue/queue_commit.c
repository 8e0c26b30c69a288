/*
 * queue_commit.c - commit jobs on the worker pool (ev/ev_pool.c).
 */
#include "queue/queue_commit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "ev/ev_pool.h"
#include "mail/mail_env.h"

struct queue_commit {
	struct queue_store *qs;
	struct ev_pool *pool;
};

struct commit_job {
	struct queue_store *qs;
	struct queue_draft d;
	struct mail_env *env;
	enum queue_dir to;
	enum queue_dir copy_from; /* QDIR_N: the draft is written already */
	char copy_qid[IDS_QUEUE_SIZE];
	char *content; /* copy_from == QDIR_TMP: the content to write (owned) */
	size_t content_len;
	queue_commit_fn fn;
	void *arg;
	uint64_t cookie;
	int err;
	int64_t t0;
};

static void commit_work(void *p)
{
	struct commit_job *j = p;
	char qid[IDS_QUEUE_SIZE];
	memcpy(qid, j->d.qid, sizeof qid);
	int rc = 0;
	if (j->copy_from == QDIR_TMP)
		rc = queue_store_draft_bytes(j->qs, j->content, j->content_len, &j->d);
	else if (j->copy_from != QDIR_N)
		rc = queue_store_draft_copy(j->qs, j->copy_from, j->copy_qid, &j->d);
	if (rc < 0) {
		j->err = errno ? errno : EIO;
		memcpy(j->d.qid, qid, sizeof qid); /* for the callback */
		return;
	}
	j->err = queue_store_commit(j->qs, &j->d, j->env, j->to) < 0 ? (errno ? errno : EIO) : 0;
}

static void commit_done(void *p)
{
	struct commit_job *j = p;
	log_debug("queue=%s event=commit_done err=%d latency_us=%lld", j->d.qid, j->err,
		  (long long)(clock_mono_us() - j->t0));
	j->fn(j->arg, j->cookie, j->d.qid, j->err);
	mail_env_free(&j->env);
	xfree(j->content);
	xfree(j);
}

struct queue_commit *queue_commit_new(struct event_base *base, struct queue_store *qs, int threads)
{
	struct queue_commit *qc = xcalloc(1, sizeof *qc);
	qc->qs = qs;
	qc->pool = ev_pool_new(base, threads, "commit");
	return qc;
}

static struct commit_job *job_new(struct queue_commit *qc, struct mail_env *env, enum queue_dir to,
				  queue_commit_fn fn, void *arg, uint64_t cookie)
{
	struct commit_job *j = xcalloc(1, sizeof *j);
	j->qs = qc->qs;
	j->env = env;
	j->to = to;
	j->copy_from = QDIR_N;
	j->fn = fn;
	j->arg = arg;
	j->cookie = cookie;
	j->t0 = clock_mono_us();
	return j;
}

void queue_commit_submit(struct queue_commit *qc, const struct queue_draft *d, struct mail_env *env,
			 enum queue_dir to, queue_commit_fn fn, void *arg, uint64_t cookie)
{
	struct commit_job *j = job_new(qc, env, to, fn, arg, cookie);
	j->d = *d;
	ev_pool_submit(qc->pool, j, commit_work, commit_done);
}

void queue_commit_submit_copy(struct queue_commit *qc, enum queue_dir from, const char *src_qid,
			      const char *new_qid, struct mail_env *env, enum queue_dir to, queue_commit_fn fn,
			      void *arg, uint64_t cookie)
{
	struct commit_job *j = job_new(qc, env, to, fn, arg, cookie);
	j->copy_from = from;
	snprintf(j->copy_qid, sizeof j->copy_qid, "%s", src_qid);
	snprintf(j->d.qid, sizeof j->d.qid, "%s", new_qid);
	j->d.fd = -1;
	ev_pool_submit(qc->pool, j, commit_work, commit_done);
}

void queue_commit_submit_bytes(struct queue_commit *qc, char *content, size_t len, const char *new_qid,
			       struct mail_env *env, enum queue_dir to, queue_commit_fn fn, void *arg, uint64_t cookie)
{
	struct commit_job *j = job_new(qc, env, to, fn, arg, cookie);
	j->copy_from = QDIR_TMP;
	j->content = content;
	j->content_len = len;
	snprintf(j->d.qid, sizeof j->d.qid, "%s", new_qid);
	j->d.fd = -1;
	ev_pool_submit(qc->pool, j, commit_work, commit_done);
}

size_t queue_commit_pending(const struct queue_commit *qc)
{
	return ev_pool_pending(qc->pool);
}

void queue_commit_free(struct queue_commit **qcp)
{
	struct queue_commit *qc = *qcp;
	if (!qc)
		return;
	ev_pool_free(&qc->pool);
	xfree(qc);
	*qcp = NULL;
}
