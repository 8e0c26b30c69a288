/*
 * queue_store.c - the spool: directories, drafts, commit, load, moves.
 *
 * Group commit: the file fsyncs of concurrent commits run in parallel on
 * the commit threads (the file system joins them into one journal commit);
 * the directory fsync after the renames is shared through a generation
 * counter: a committer whose rename happened before a directory fsync
 * started is covered by it and does not issue its own.
 *
 * Recycled files: a removed message's file is renamed to tmp/r.<n> (up to
 * SPARE_MAX of them) and the next draft reuses it instead of creating a file.
 * ext4 skips inodes deleted in the last 60-300 s when it allocates one, so a
 * relay that creates and deletes thousands of files a second made every
 * create walk past thousands of recently deleted inodes (28% of the relay's
 * CPU with 100 KiB messages: bench/results/2026-11-24-relay-profile.md).
 * A reused file is truncated to its new length at commit, before the fsync.
 * tmp/ is emptied at start-up, spares included.
 */
#include "queue/queue_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/crc32.h"
#include "base/fsutil.h"
#include "base/ids.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "mail/mail_env.h"

static const char *dir_names[QDIR_N] = { "tmp", "input", "output", "deferred", "hold", "corrupt", "quarantine" };

#define SPARE_MAX 256
#define SPARE_PREFIX "r." /* never a queue id (Crockford base32, upper case) */

struct dirsync {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t req_gen;  /* renames registered */
	uint64_t done_gen; /* renames covered by a finished fsync */
	bool busy;
	uint64_t fail_lo, fail_hi; /* generations whose fsync failed */
	int fail_errno;
};

struct fault {
	int after, count, err;
};

struct queue_store {
	char *path;
	int dfd[QDIR_N];
	struct dirsync ds[QDIR_N];
	pthread_mutex_t fault_lock;
	struct fault faults[QFAULT_N];
	uint64_t n_commits, n_dirsyncs, n_filesyncs; /* atomics */
	pthread_mutex_t spare_lock;
	char spare[SPARE_MAX][IDS_QUEUE_SIZE]; /* names in tmp/ of recycled files */
	int nspare;
	unsigned spare_seq;
	bool recycle; /* queue_store_recycle(): only the gateway, which empties tmp/ at start */
	struct dircount { /* queue_store_count() */
		struct timespec mtime;
		long n;
		bool valid;
	} counts[QDIR_N];
};

#define COUNT_RACY_NS 1000000000LL

const char *queue_dir_name(enum queue_dir d)
{
	return dir_names[d];
}

static bool fault_hit(struct queue_store *qs, enum queue_fault f)
{
	bool hit = false;
	pthread_mutex_lock(&qs->fault_lock);
	struct fault *x = &qs->faults[f];
	if (x->count > 0) {
		if (x->after > 0) {
			x->after--;
		} else {
			x->count--;
			errno = x->err;
			hit = true;
		}
	}
	pthread_mutex_unlock(&qs->fault_lock);
	return hit;
}

void queue_store_fault(struct queue_store *qs, enum queue_fault f, int after, int count, int err)
{
	pthread_mutex_lock(&qs->fault_lock);
	qs->faults[f] = (struct fault){ after, count, err };
	pthread_mutex_unlock(&qs->fault_lock);
}

/* A spool directory: created, 0700, and owned by uid:gid when uid is not
 * -1 (the gateway started as root); an existing one with another mode or
 * owner is fixed and the fix logged. With uid -1 (an unprivileged gateway,
 * the CLI) ownership is left alone and the mode fixed where we may. */
static int spool_dir(const char *p, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	struct stat st;
	if (fs_mkdir(p, 0700) < 0 || stat(p, &st) < 0) {
		snprintf(err, errlen, "cannot create %s: %s", p, strerror(errno));
		return -1;
	}
	if (uid != (uid_t)-1 && (st.st_uid != uid || st.st_gid != gid)) {
		if (chown(p, uid, gid) < 0) {
			snprintf(err, errlen, "cannot chown %s: %s", p, strerror(errno));
			return -1;
		}
		log_warn("event=spool_fixed path=%s owner=%u:%u was=%u:%u", p, (unsigned)uid, (unsigned)gid,
			 (unsigned)st.st_uid, (unsigned)st.st_gid);
	}
	if ((st.st_mode & 07777) != 0700) {
		if (chmod(p, 0700) < 0) {
			if (uid == (uid_t)-1 && st.st_uid != geteuid())
				return 0; /* not ours to fix: the gateway's owner will */
			snprintf(err, errlen, "cannot chmod 0700 %s: %s", p, strerror(errno));
			return -1;
		}
		log_warn("event=spool_fixed path=%s mode=0700 was=%04o", p, (unsigned)(st.st_mode & 07777));
	}
	return 0;
}

struct queue_store *queue_store_open(const char *path, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	struct queue_store *qs = xcalloc(1, sizeof *qs);
	qs->path = xstrdup(path);
	pthread_mutex_init(&qs->fault_lock, NULL);
	pthread_mutex_init(&qs->spare_lock, NULL);
	qs->spare_seq = (unsigned)getpid() << 16;
	for (int i = 0; i < QDIR_N; i++) {
		qs->dfd[i] = -1;
		pthread_mutex_init(&qs->ds[i].lock, NULL);
		pthread_cond_init(&qs->ds[i].cond, NULL);
	}
	if (spool_dir(path, uid, gid, err, errlen) < 0)
		goto fail;
	for (int i = 0; i < QDIR_N; i++) {
		char p[4096];
		snprintf(p, sizeof p, "%s/%s", path, dir_names[i]);
		if (spool_dir(p, uid, gid, err, errlen) < 0)
			goto fail;
		qs->dfd[i] = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (qs->dfd[i] < 0) {
			snprintf(err, errlen, "cannot open %s: %s", p, strerror(errno));
			goto fail;
		}
	}
	/* the subdirectories must survive a crash too */
	if (fs_fsync_dir(path) < 0) {
		snprintf(err, errlen, "cannot fsync %s: %s", path, strerror(errno));
		goto fail;
	}
	return qs;
fail:
	queue_store_close(&qs);
	return NULL;
}

void queue_store_close(struct queue_store **qsp)
{
	struct queue_store *qs = *qsp;
	if (!qs)
		return;
	for (int i = 0; i < QDIR_N; i++) {
		if (qs->dfd[i] >= 0)
			close(qs->dfd[i]);
		pthread_mutex_destroy(&qs->ds[i].lock);
		pthread_cond_destroy(&qs->ds[i].cond);
	}
	pthread_mutex_destroy(&qs->fault_lock);
	xfree(qs->path);
	xfree(qs);
	*qsp = NULL;
}

/* A draft just opened (fd < 0: the open failed) positioned at the content
 * offset; on failure nothing is left behind. */
static int draft_at_body(struct queue_store *qs, struct queue_draft *d)
{
	if (d->fd < 0)
		return -1;
	if (lseek(d->fd, QUEUE_BODY_OFF, SEEK_SET) < 0) {
		int e = errno;
		queue_store_draft_abort(qs, d);
		errno = e;
		return -1;
	}
	return 0;
}

/* A recycled file for a draft, opened; its name in tmp/ goes to d->tmp.
 * Returns the fd, or -1 when there is none. */
static int spare_take(struct queue_store *qs, struct queue_draft *d)
{
	for (;;) {
		pthread_mutex_lock(&qs->spare_lock);
		if (qs->nspare == 0) {
			pthread_mutex_unlock(&qs->spare_lock);
			return -1;
		}
		memcpy(d->tmp, qs->spare[--qs->nspare], sizeof d->tmp);
		pthread_mutex_unlock(&qs->spare_lock);
		int fd = openat(qs->dfd[QDIR_TMP], d->tmp, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			d->recycled = true;
			return fd;
		}
		/* gone (tmp/ cleaned under us): try the next one */
	}
}

int queue_store_draft_new(struct queue_store *qs, struct queue_draft *d)
{
	memset(d, 0, sizeof *d);
	d->fd = spare_take(qs, d);
	if (d->fd >= 0) {
		ids_queue_new(d->qid);
		return draft_at_body(qs, d);
	}
	for (int tries = 0; tries < 5; tries++) {
		ids_queue_new(d->qid);
		d->fd = openat(qs->dfd[QDIR_TMP], d->qid, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (d->fd >= 0)
			break;
		if (errno != EEXIST)
			return -1;
	}
	memcpy(d->tmp, d->qid, sizeof d->tmp);
	return draft_at_body(qs, d);
}

/* Open a draft for d->qid (a recycled file, or tmp/<d->qid> replacing a
 * leftover under that id), positioned at the content offset, for a draft
 * filled by this process. */
static int draft_open(struct queue_store *qs, struct queue_draft *d)
{
	d->body_len = 0;
	d->err = 0;
	d->recycled = false;
	d->fd = spare_take(qs, d);
	if (d->fd < 0) {
		memcpy(d->tmp, d->qid, sizeof d->tmp);
		d->fd = openat(qs->dfd[QDIR_TMP], d->tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	}
	return draft_at_body(qs, d);
}

/* A draft write that failed: nothing left behind. */
static int draft_fail(struct queue_store *qs, struct queue_draft *d)
{
	int e = d->err ? d->err : errno ? errno : EIO;
	queue_store_draft_abort(qs, d);
	errno = e;
	return -1;
}

int queue_store_draft_copy(struct queue_store *qs, enum queue_dir dir, const char *src_qid, struct queue_draft *d)
{
	d->fd = -1;
	int src = openat(qs->dfd[dir], src_qid, O_RDONLY | O_CLOEXEC);
	if (src < 0)
		return -1;
	char hb[QUEUE_HDR_SIZE];
	struct queue_hdr h;
	int rc = -1;
	if (fs_pread_all(src, hb, sizeof hb, 0) < 0 || queue_file_hdr_decode(hb, sizeof hb, &h) < 0) {
		int e = errno ? errno : EIO;
		close(src);
		errno = e;
		return -1;
	}
	if (draft_open(qs, d) == 0) {
		char buf[65536];
		rc = 0;
		for (uint64_t off = 0; rc == 0 && off < h.body_len;) {
			size_t n = h.body_len - off < sizeof buf ? (size_t)(h.body_len - off) : sizeof buf;
			if (fs_pread_all(src, buf, n, (off_t)(h.body_off + off)) < 0 ||
			    queue_store_draft_write(qs, d, buf, n) < 0)
				rc = draft_fail(qs, d);
			off += n;
		}
	}
	int e = errno;
	close(src);
	errno = e;
	return rc;
}

int queue_store_draft_bytes(struct queue_store *qs, const void *content, size_t len, struct queue_draft *d)
{
	if (draft_open(qs, d) < 0)
		return -1;
	if (queue_store_draft_write(qs, d, content, len) < 0)
		return draft_fail(qs, d);
	return 0;
}

int queue_store_draft_write(struct queue_store *qs, struct queue_draft *d, const void *p, size_t n)
{
	if (d->err) {
		errno = d->err;
		return -1;
	}
	if (fault_hit(qs, QFAULT_WRITE) || fs_write_all(d->fd, p, n) < 0) {
		d->err = errno ? errno : EIO;
		return -1;
	}
	d->body_len += n;
	return 0;
}

void queue_store_draft_abort(struct queue_store *qs, struct queue_draft *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	if (d->tmp[0])
		unlinkat(qs->dfd[QDIR_TMP], d->tmp, 0);
	d->tmp[0] = '\0';
	d->qid[0] = '\0';
}

/* Wait until a directory fsync that started after our rename finished. */
static int dirsync_wait(struct queue_store *qs, enum queue_dir dir)
{
	struct dirsync *ds = &qs->ds[dir];
	int rc = 0;
	pthread_mutex_lock(&ds->lock);
	uint64_t mine = ++ds->req_gen;
	while (ds->done_gen < mine) {
		if (!ds->busy) {
			ds->busy = true;
			uint64_t lo = ds->done_gen + 1, target = ds->req_gen;
			pthread_mutex_unlock(&ds->lock);
			int r = fault_hit(qs, QFAULT_FSYNC) ? -1 : fsync(qs->dfd[dir]);
			int e = errno;
			__atomic_add_fetch(&qs->n_dirsyncs, 1, __ATOMIC_RELAXED);
			pthread_mutex_lock(&ds->lock);
			ds->busy = false;
			ds->done_gen = target;
			if (r < 0) {
				ds->fail_lo = lo;
				ds->fail_hi = target;
				ds->fail_errno = e;
			}
			pthread_cond_broadcast(&ds->cond);
		} else {
			pthread_cond_wait(&ds->cond, &ds->lock);
		}
	}
	if (mine >= ds->fail_lo && mine <= ds->fail_hi && ds->fail_hi) {
		errno = ds->fail_errno;
		rc = -1;
	}
	pthread_mutex_unlock(&ds->lock);
	return rc;
}

int queue_store_commit(struct queue_store *qs, struct queue_draft *d, const struct mail_env *env, enum queue_dir to)
{
	struct buf eb;
	buf_init(&eb);
	int e = 0;
	bool renamed = false;
	if (d->err) {
		e = d->err;
		goto fail;
	}
	queue_file_env_encode(env, &eb);
	struct queue_hdr h = {
		.body_off = QUEUE_BODY_OFF,
		.body_len = d->body_len,
		.env_off = QUEUE_BODY_OFF + d->body_len,
		.env_len = eb.len,
		.env_crc = crc32_update(0, eb.data, eb.len),
	};
	char hdr[QUEUE_HDR_SIZE];
	queue_file_hdr_encode(&h, hdr);
	/* envelope first, then the header: the commit marker is written last */
	if (fault_hit(qs, QFAULT_WRITE) || fs_pwrite_all(d->fd, eb.data, eb.len, (off_t)h.env_off) < 0 ||
	    fs_pwrite_all(d->fd, hdr, sizeof hdr, 0) < 0) {
		e = errno;
		goto fail;
	}
	/* a recycled file may be longer than this message */
	if (d->recycled && ftruncate(d->fd, (off_t)(h.env_off + h.env_len)) < 0) {
		e = errno;
		goto fail;
	}
	__atomic_add_fetch(&qs->n_filesyncs, 1, __ATOMIC_RELAXED);
	if (fault_hit(qs, QFAULT_FSYNC) || fsync(d->fd) < 0) {
		e = errno;
		goto fail;
	}
	close(d->fd);
	d->fd = -1;
	if (fault_hit(qs, QFAULT_RENAME) || renameat(qs->dfd[QDIR_TMP], d->tmp, qs->dfd[to], d->qid) < 0) {
		e = errno;
		goto fail;
	}
	renamed = true;
	if (dirsync_wait(qs, to) < 0) {
		e = errno;
		goto fail;
	}
	__atomic_add_fetch(&qs->n_commits, 1, __ATOMIC_RELAXED);
	buf_fini(&eb);
	return 0;
fail:
	buf_fini(&eb);
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	/* nothing half-written remains: the client is told 4xx and retries */
	unlinkat(renamed ? qs->dfd[to] : qs->dfd[QDIR_TMP], renamed ? d->qid : d->tmp, 0);
	errno = e ? e : EIO;
	return -1;
}

int queue_store_open_msg(struct queue_store *qs, enum queue_dir dir, const char *qid)
{
	return openat(qs->dfd[dir], qid, O_RDONLY | O_CLOEXEC);
}

/* The header (commit marker) of an open queue file of size octets, checked
 * against that size. 0, or -1 (corrupt; err says why). */
static int load_hdr(int fd, uint64_t size, struct queue_hdr *h, char *err, size_t errlen)
{
	char hb[QUEUE_HDR_SIZE];
	if (size < QUEUE_HDR_SIZE || fs_pread_all(fd, hb, sizeof hb, 0) < 0 ||
	    queue_file_hdr_decode(hb, sizeof hb, h) < 0) {
		snprintf(err, errlen, "no valid header (commit marker)");
		return -1;
	}
	if (h->env_off + h->env_len > size) {
		snprintf(err, errlen, "file shorter than its header says (%lld < %llu)", (long long)size,
			 (unsigned long long)(h->env_off + h->env_len));
		return -1;
	}
	return 0;
}

/* The envelope h points to, CRC-checked, decoded into a new *env_out.
 * 0, -1 (corrupt) or -3 (read error); err says why. */
static int load_env(int fd, const struct queue_hdr *h, struct mail_env **env_out, char *err, size_t errlen)
{
	int rc = -1;
	char *env_text = xmalloc(h->env_len);
	if (fs_pread_all(fd, env_text, h->env_len, (off_t)h->env_off) < 0) {
		snprintf(err, errlen, "read envelope: %s", strerror(errno));
		rc = -3;
		goto out;
	}
	if (crc32_update(0, env_text, h->env_len) != h->env_crc) {
		snprintf(err, errlen, "envelope CRC mismatch");
		goto out;
	}
	*env_out = mail_env_new();
	if (queue_file_env_decode(env_text, h->env_len, *env_out, err, errlen) < 0)
		goto out;
	rc = 0;
out:
	xfree(env_text);
	return rc;
}

/* The status log after the envelope (tail_len octets at tail_off: what
 * became of each recipient), applied to env. 0, -1 or -3 as load_env. */
static int load_status(int fd, uint64_t tail_off, uint64_t tail_len, struct mail_env *env, char *err, size_t errlen)
{
	if (tail_len > QUEUE_ENV_MAX) {
		snprintf(err, errlen, "status log too large");
		return -1;
	}
	if (!tail_len)
		return 0;
	char *tail = xmalloc(tail_len);
	int rc = 0;
	if (fs_pread_all(fd, tail, tail_len, (off_t)tail_off) < 0) {
		snprintf(err, errlen, "read status: %s", strerror(errno));
		rc = -3;
	} else {
		queue_file_status_apply(tail, tail_len, env);
	}
	xfree(tail);
	return rc;
}

int queue_store_load(struct queue_store *qs, enum queue_dir dir, const char *qid, struct mail_env **env_out,
		     struct queue_hdr *hdr_out, char *err, size_t errlen)
{
	int fd = queue_store_open_msg(qs, dir, qid);
	if (fd < 0) {
		snprintf(err, errlen, "open: %s", strerror(errno));
		return errno == ENOENT ? -2 : -3;
	}
	int rc = -1;
	struct mail_env *env = NULL;
	struct stat st;
	struct queue_hdr h;
	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "fstat: %s", strerror(errno));
		rc = -3;
		goto out;
	}
	if (load_hdr(fd, (uint64_t)st.st_size, &h, err, errlen) < 0)
		goto out;
	rc = load_env(fd, &h, &env, err, errlen);
	if (rc < 0)
		goto out;
	uint64_t tail_off = h.env_off + h.env_len;
	rc = load_status(fd, tail_off, (uint64_t)st.st_size - tail_off, env, err, errlen);
	if (rc < 0)
		goto out;
	*env_out = env;
	env = NULL;
	if (hdr_out)
		*hdr_out = h;
out:
	mail_env_free(&env);
	close(fd);
	return rc;
}

int queue_store_move(struct queue_store *qs, const char *qid, enum queue_dir from, enum queue_dir to)
{
	if (fault_hit(qs, QFAULT_RENAME))
		return -1;
	return renameat(qs->dfd[from], qid, qs->dfd[to], qid);
}

void queue_store_recycle(struct queue_store *qs)
{
	qs->recycle = true;
}

int queue_store_remove(struct queue_store *qs, enum queue_dir dir, const char *qid)
{
	pthread_mutex_lock(&qs->spare_lock);
	bool room = qs->recycle && qs->nspare < SPARE_MAX;
	unsigned seq = qs->spare_seq++;
	pthread_mutex_unlock(&qs->spare_lock);
	if (room && dir != QDIR_TMP) {
		char name[IDS_QUEUE_SIZE];
		snprintf(name, sizeof name, SPARE_PREFIX "%x", seq);
		if (renameat(qs->dfd[dir], qid, qs->dfd[QDIR_TMP], name) == 0) {
			pthread_mutex_lock(&qs->spare_lock);
			bool kept = qs->nspare < SPARE_MAX;
			if (kept)
				memcpy(qs->spare[qs->nspare++], name, IDS_QUEUE_SIZE);
			pthread_mutex_unlock(&qs->spare_lock);
			if (!kept)
				unlinkat(qs->dfd[QDIR_TMP], name, 0);
			return 0;
		}
		if (errno == ENOENT)
			return -1;
	}
	return unlinkat(qs->dfd[dir], qid, 0);
}

int queue_store_release_env(struct queue_store *qs, const char *qid, char new_qid[IDS_QUEUE_SIZE],
			    struct mail_env **env_out, char *err, size_t errlen)
{
	*env_out = NULL;
	struct mail_env *env = NULL;
	int rc = queue_store_load(qs, QDIR_QUARANTINE, qid, &env, NULL, err, errlen);
	if (rc == -2)
		snprintf(err, errlen, "no such message in quarantine");
	if (rc < 0)
		return -1;
	ids_queue_new(new_qid);
	snprintf(env->qid, sizeof env->qid, "%s", new_qid);
	env->flags |= MAIL_ENV_F_RELEASED;
	env->bayes = NULL; /* the Bayes tokens stay with the quarantined copy (arena memory) */
	*env_out = env;
	return 0;
}

int queue_store_release(struct queue_store *qs, const char *qid, char new_qid[IDS_QUEUE_SIZE], size_t *nrcpt_out,
			char *err, size_t errlen)
{
	struct mail_env *env;
	if (queue_store_release_env(qs, qid, new_qid, &env, err, errlen) < 0)
		return -1;
	struct queue_draft d;
	memset(&d, 0, sizeof d);
	snprintf(d.qid, sizeof d.qid, "%s", new_qid);
	*nrcpt_out = env->nrcpt;
	int rc = 0;
	if (queue_store_draft_copy(qs, QDIR_QUARANTINE, qid, &d) < 0 || queue_store_commit(qs, &d, env, QDIR_INPUT) < 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		rc = -1;
	} else if (queue_store_remove(qs, QDIR_QUARANTINE, qid) < 0) {
		snprintf(err, errlen, "released as %s, but quarantine/%s stays: %s", new_qid, qid, strerror(errno));
		rc = -1;
	}
	mail_env_free(&env);
	return rc;
}

bool queue_store_exists(struct queue_store *qs, enum queue_dir dir, const char *qid)
{
	return faccessat(qs->dfd[dir], qid, F_OK, 0) == 0;
}

/* Append encoded records to dir/qid (no fsync). */
static int append_records(struct queue_store *qs, enum queue_dir dir, const char *qid, const struct buf *b)
{
	int fd = openat(qs->dfd[dir], qid, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fs_write_all(fd, b->data, b->len);
	int e = errno;
	close(fd);
	errno = e;
	return rc;
}

int queue_store_append_status(struct queue_store *qs, enum queue_dir dir, const char *qid,
			      const struct mail_env *env, const size_t *idx, size_t n, bool warned)
{
	struct buf b;
	buf_init(&b);
	for (size_t i = 0; i < n; i++)
		queue_file_status_encode(idx[i], &env->rcpt[idx[i]], &b);
	if (warned)
		queue_file_warned_encode(env, &b);
	int rc = append_records(qs, dir, qid, &b);
	buf_fini(&b);
	return rc;
}

int queue_store_append_scan_attempt(struct queue_store *qs, enum queue_dir dir, const char *qid, int delta)
{
	struct buf b;
	buf_init(&b);
	queue_file_scan_attempt_encode(delta, &b);
	int rc = append_records(qs, dir, qid, &b);
	buf_fini(&b);
	return rc;
}

int queue_store_set_due(struct queue_store *qs, enum queue_dir dir, const char *qid, int64_t due_s)
{
	struct timespec ts[2];
	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_NOW;
	ts[1].tv_sec = (time_t)due_s;
	ts[1].tv_nsec = 0;
	return utimensat(qs->dfd[dir], qid, ts, 0);
}

/* Open a spool directory for reading its entries (our own copy of the fd,
 * rewound). NULL on error. */
static DIR *open_dir(struct queue_store *qs, enum queue_dir dir)
{
	int fd = dup(qs->dfd[dir]);
	if (fd < 0)
		return NULL;
	DIR *dp = fdopendir(fd);
	if (!dp) {
		close(fd);
		return NULL;
	}
	rewinddir(dp);
	return dp;
}

long queue_store_list(struct queue_store *qs, enum queue_dir dir, queue_store_list_fn fn, void *arg)
{
	DIR *dp = open_dir(qs, dir);
	if (!dp)
		return -1;
	long n = 0;
	struct dirent *de;
	while ((de = readdir(dp)) != NULL) {
		if (!ids_queue_valid(de->d_name))
			continue;
		struct stat st;
		if (fstatat(qs->dfd[dir], de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		fn(arg, de->d_name, (int64_t)st.st_mtime, (uint64_t)st.st_size);
		n++;
	}
	closedir(dp);
	return n;
}

static void count_one(void *arg, const char *qid, int64_t mtime_s, uint64_t size)
{
	(void)arg;
	(void)qid;
	(void)mtime_s;
	(void)size;
}

long queue_store_count(struct queue_store *qs, enum queue_dir dir)
{
	struct stat st;
	if (fstat(qs->dfd[dir], &st) < 0)
		return -1;
	struct dircount *c = &qs->counts[dir];
	if (c->valid && c->mtime.tv_sec == st.st_mtim.tv_sec && c->mtime.tv_nsec == st.st_mtim.tv_nsec)
		return c->n;
	long n = queue_store_list(qs, dir, count_one, NULL);
	if (n < 0)
		return -1;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	int64_t age_ns = (int64_t)(now.tv_sec - st.st_mtim.tv_sec) * 1000000000LL + (now.tv_nsec - st.st_mtim.tv_nsec);
	*c = (struct dircount){ .mtime = st.st_mtim, .n = n, .valid = age_ns >= COUNT_RACY_NS };
	return n;
}

long queue_store_clean_tmp(struct queue_store *qs)
{
	DIR *dp = open_dir(qs, QDIR_TMP);
	if (!dp)
		return -1;
	long n = 0;
	struct dirent *de;
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		/* recycled files are not incomplete messages */
		if (unlinkat(qs->dfd[QDIR_TMP], de->d_name, 0) == 0 &&
		    strncmp(de->d_name, SPARE_PREFIX, sizeof SPARE_PREFIX - 1) != 0)
			n++;
	}
	closedir(dp);
	return n;
}

void queue_store_stats(struct queue_store *qs, uint64_t *commits, uint64_t *dir_syncs, uint64_t *file_syncs)
{
	*commits = __atomic_load_n(&qs->n_commits, __ATOMIC_RELAXED);
	*dir_syncs = __atomic_load_n(&qs->n_dirsyncs, __ATOMIC_RELAXED);
	*file_syncs = __atomic_load_n(&qs->n_filesyncs, __ATOMIC_RELAXED);
}
