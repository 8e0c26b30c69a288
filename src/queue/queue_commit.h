/*
 * queue_commit.h - asynchronous, grouped commits into the queue.
 *
 * queue_commit_submit() is the one way into the queue: a draft (content
 * already written) plus its envelope. K worker threads run
 * queue_store_commit() (fsync file, rename, shared directory fsync); the
 * callback then runs on the loop thread with err = 0 (durable) or an errno
 * (nothing left behind). Loop thread only.
 */
#ifndef QUEUE_QUEUE_COMMIT_H
#define QUEUE_QUEUE_COMMIT_H

#include <stddef.h>
#include <stdint.h>

#include "queue/queue_store.h"

struct event_base;
struct mail_env;
struct queue_commit;

typedef void (*queue_commit_fn)(void *arg, uint64_t cookie, const char *qid, int err);

struct queue_commit *queue_commit_new(struct event_base *base, struct queue_store *qs, int threads);
/* Takes over the draft (its fd) and env (freed after the callback). */
void queue_commit_submit(struct queue_commit *qc, const struct queue_draft *d, struct mail_env *env,
			 enum queue_dir to, queue_commit_fn fn, void *arg, uint64_t cookie);
/* The same for a copy of a queued message's content (from/src_qid) with a
 * new envelope, committed as new_qid (src_qid itself to rewrite it). */
void queue_commit_submit_copy(struct queue_commit *qc, enum queue_dir from, const char *src_qid,
			      const char *new_qid, struct mail_env *env, enum queue_dir to, queue_commit_fn fn,
			      void *arg, uint64_t cookie);
/* The same for new content (taken: xmalloc'ed, freed after the callback). */
void queue_commit_submit_bytes(struct queue_commit *qc, char *content, size_t len, const char *new_qid,
			       struct mail_env *env, enum queue_dir to, queue_commit_fn fn, void *arg, uint64_t cookie);
size_t queue_commit_pending(const struct queue_commit *qc);
/* Waits for every submitted commit (callbacks run), then stops. */
void queue_commit_free(struct queue_commit **qc);

#endif
