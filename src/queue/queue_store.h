/*
 * queue_store.h - crash-safe spool files for messages and envelopes.
 *
 * Owns everything under <queue_directory>/; no other module opens those
 * paths. A message enters through a draft (tmp/<qid>, content streamed into
 * it) and queue_store_commit(), which reports success only after content,
 * envelope and the directory entry are on stable storage; then it is in
 * input/. Every later state change is one rename(2) (docs/QUEUE.md has the
 * state table). Does not schedule, retry or know about SMTP.
 *
 * Threads: queue_store_commit() blocks (fsync) and is meant for the commit
 * worker threads; it may run on several threads at once. Everything else
 * is for the loop thread and does no fsync.
 */
#ifndef QUEUE_QUEUE_STORE_H
#define QUEUE_QUEUE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/ids.h"
#include "queue/queue_file.h"

struct mail_env;
struct queue_store;

enum queue_dir { QDIR_TMP, QDIR_INPUT, QDIR_OUTPUT, QDIR_DEFERRED, QDIR_HOLD, QDIR_CORRUPT, QDIR_QUARANTINE, QDIR_N };
const char *queue_dir_name(enum queue_dir d);

/* Open (creating missing directories) the spool at path. uid/gid: owner
 * to give new directories (-1 = leave). Returns NULL with a message in err. */
struct queue_store *queue_store_open(const char *path, uid_t uid, gid_t gid, char *err, size_t errlen);
void queue_store_close(struct queue_store **qs);

/* A message being written. */
struct queue_draft {
	char qid[IDS_QUEUE_SIZE];
	char tmp[IDS_QUEUE_SIZE]; /* its name in tmp/: the qid, or a recycled file's */
	bool recycled;		  /* tmp/ holds a reused file: truncated at commit */
	int fd;		   /* tmp/<tmp>, positioned at the content offset */
	uint64_t body_len; /* octets written so far */
	int err;	   /* first write errno, 0 = none */
};

/* Create tmp/<qid> with a fresh queue id. Returns 0 or -1 (errno). */
int queue_store_draft_new(struct queue_store *qs, struct queue_draft *d);
/* Append content. On failure records the errno in d->err and keeps
 * returning -1 (the transaction is then answered 452 4.3.1). */
int queue_store_draft_write(struct queue_store *qs, struct queue_draft *d, const void *p, size_t n);
/* Remove tmp/<qid> and close (nothing half-written remains). */
void queue_store_draft_abort(struct queue_store *qs, struct queue_draft *d);

/* A draft holding a copy of the content of dir/src_qid, under the id the
 * caller put in d->qid (src_qid itself when a message's envelope is
 * rewritten: docs/QUEUE.md, transition 3r). Blocking: for worker threads.
 * Returns 0 or -1 (errno) with nothing left behind. */
int queue_store_draft_copy(struct queue_store *qs, enum queue_dir dir, const char *src_qid, struct queue_draft *d);
/* A draft holding content[0..len) under the id in d->qid. Blocking: for
 * worker threads. Returns 0 or -1 (errno) with nothing left behind. */
int queue_store_draft_bytes(struct queue_store *qs, const void *content, size_t len, struct queue_draft *d);
/* Commit a draft with its envelope: write envelope and header (commit
 * marker), fsync the file, rename tmp/<qid> -> <to>/<qid>, fsync <to>/
 * (shared with concurrent commits: group commit). Closes d->fd in every
 * case. Returns 0, or -1 with errno and nothing left behind. Thread-safe. */
int queue_store_commit(struct queue_store *qs, struct queue_draft *d, const struct mail_env *env, enum queue_dir to);

/* Parse a queued message: header, envelope (CRC-checked) and status
 * records. Returns 0 (env allocated), -1 corrupt (reason in err), -2 the
 * file does not exist, -3 I/O error. */
int queue_store_load(struct queue_store *qs, enum queue_dir dir, const char *qid, struct mail_env **env_out,
		     struct queue_hdr *hdr_out, char *err, size_t errlen);
/* Open a queued message read-only (for its content). Returns fd or -1. */
int queue_store_open_msg(struct queue_store *qs, enum queue_dir dir, const char *qid);
/* Move between states: one rename(2). Returns 0 or -1 (errno). */
int queue_store_move(struct queue_store *qs, const char *qid, enum queue_dir from, enum queue_dir to);
/* Remove dir/<qid> (not fsynced: at-least-once). With recycling on, the
 * file is kept in tmp/ for a later draft (a bounded number of them).
 * Returns 0 or -1 (errno; ENOENT when it was gone). */
int queue_store_remove(struct queue_store *qs, enum queue_dir dir, const char *qid);
/* Keep removed files for reuse by drafts: for the gateway only, which
 * empties tmp/ at start-up (queue_store_clean_tmp). */
void queue_store_recycle(struct queue_store *qs);
/* Append status records for recipients idx[0..n) and, when warned, the
 * record of env->delay_warned_us (no fsync). */
int queue_store_append_status(struct queue_store *qs, enum queue_dir dir, const char *qid,
			      const struct mail_env *env, const size_t *idx, size_t n, bool warned);
/* Append a scan-attempt record (queue_file_scan_attempt_encode; no fsync:
 * it must survive a crash of the process, not of the machine). */
int queue_store_append_scan_attempt(struct queue_store *qs, enum queue_dir dir, const char *qid, int delta);
/* Record the next attempt time as the file's mtime (seconds). */
int queue_store_set_due(struct queue_store *qs, enum queue_dir dir, const char *qid, int64_t due_s);
bool queue_store_exists(struct queue_store *qs, enum queue_dir dir, const char *qid);

/* Release from quarantine (docs/QUEUE.md, transition 8q), first half: the
 * envelope of quarantine/qid, marked released (routed, never scanned
 * again), under a fresh id (in new_qid and env->qid). Returns 0 with *env_out
 * allocated, or -1 with a reason in err. The daemon commits it with
 * queue_commit_submit_copy(); queue_store_release() does it all at once. */
int queue_store_release_env(struct queue_store *qs, const char *qid, char new_qid[IDS_QUEUE_SIZE],
			    struct mail_env **env_out, char *err, size_t errlen);
/* The whole release, blocking (the offline tool): copy into input/ under a
 * new id, commit (fsync), then remove quarantine/qid. Returns 0 (new id in
 * new_qid, recipients in *nrcpt_out) or -1 with a reason in err. */
int queue_store_release(struct queue_store *qs, const char *qid, char new_qid[IDS_QUEUE_SIZE], size_t *nrcpt_out,
			char *err, size_t errlen);

/* Call fn for every valid queue id in dir (with the file's mtime). Other
 * names are ignored. Returns the number listed or -1. */
typedef void (*queue_store_list_fn)(void *arg, const char *qid, int64_t mtime_s, uint64_t size);
long queue_store_list(struct queue_store *qs, enum queue_dir dir, queue_store_list_fn fn, void *arg);
/* The number of messages in dir (hold/, quarantine/, ... for metrics and the
 * status page). The directory is read again only when its mtime changed since
 * the last count; a count taken within a second of a change is not trusted
 * (another change in the same timestamp tick would not show). -1 on error.
 * One thread only (the loop): the cache is not locked. */
long queue_store_count(struct queue_store *qs, enum queue_dir dir);
/* Remove every file in tmp/ (start-up recovery). Returns how many. */
long queue_store_clean_tmp(struct queue_store *qs);

/* Test seam: make the next matching operations fail with err. after = how
 * many calls succeed first; count = how many then fail. */
enum queue_fault { QFAULT_WRITE, QFAULT_FSYNC, QFAULT_RENAME, QFAULT_N };
void queue_store_fault(struct queue_store *qs, enum queue_fault f, int after, int count, int err);

/* Counters for benchmarks: commits and directory fsyncs done. */
void queue_store_stats(struct queue_store *qs, uint64_t *commits, uint64_t *dir_syncs, uint64_t *file_syncs);

#endif
