/*
 * scan_bayes_db.c - the token store file (layout in scan_bayes.h): a
 * read-only mapped view for the scanners, a locked writable copy for
 * learning, written whole and renamed into place.
 *
 * A file is checked before use: magic, version, header size, table sizes
 * powers of two that add up to the file's size, counts below the table
 * sizes. Probing stops after a full turn of a table, so even a damaged
 * table cannot loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "base/xalloc.h"
#include "scan/bayes/scan_bayes.h"

#define MAGIC "MXBAYES1"
#define VERSION 1u
#define HDR_SIZE 64u
#define MIN_CAP 1024u

struct hdr {
	char magic[8];
	uint32_t version, hdr_size;
	uint64_t nspam, nham;
	uint32_t tok_cap, tok_used, seen_cap, seen_used;
	uint32_t newest, last_expire;
	uint8_t pad[HDR_SIZE - 56];
};
_Static_assert(sizeof(struct hdr) == HDR_SIZE, "store header is 64 octets");

struct tok {
	uint64_t key; /* 0: empty */
	uint32_t spam, ham, atime, pad;
};
_Static_assert(sizeof(struct tok) == 24, "token entry is 24 octets");

struct seen {
	uint64_t key;
	uint32_t cls; /* 1 spam, 2 ham, 0 forgotten */
	uint32_t pad;
};
_Static_assert(sizeof(struct seen) == 16, "seen entry is 16 octets");

#define CLS_SPAM 1u
#define CLS_HAM 2u

static bool pow2(uint32_t v)
{
	return v && (v & (v - 1)) == 0;
}

/* The header at p (len octets) describes a whole, sane file. */
static bool hdr_ok(const void *p, size_t len)
{
	if (len < HDR_SIZE)
		return false;
	const struct hdr *h = p;
	if (memcmp(h->magic, MAGIC, 8) != 0 || h->version != VERSION || h->hdr_size != HDR_SIZE)
		return false;
	if (!pow2(h->tok_cap) || !pow2(h->seen_cap) || h->tok_cap > 2 * SCAN_BAYES_DB_MAX_TOKENS ||
	    h->seen_cap > 2 * SCAN_BAYES_DB_MAX_TOKENS || h->tok_used >= h->tok_cap || h->seen_used >= h->seen_cap)
		return false;
	uint64_t want = HDR_SIZE + (uint64_t)h->tok_cap * sizeof(struct tok) + (uint64_t)h->seen_cap * sizeof(struct seen);
	return want == len;
}

static size_t slot_of(uint64_t key, uint32_t cap)
{
	return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 17) & (cap - 1);
}

static const struct tok *tok_find(const struct tok *t, uint32_t cap, uint64_t key)
{
	size_t i = slot_of(key, cap);
	for (uint32_t n = 0; n < cap; n++, i = (i + 1) & (cap - 1)) {
		if (t[i].key == key)
			return &t[i];
		if (t[i].key == 0)
			return NULL;
	}
	return NULL;
}

/* ------------------------------------------------------------ view */

struct scan_bayes_view {
	void *map;
	size_t len;
	dev_t dev;
	ino_t ino;
	bool exists;
	const struct hdr *h;
	const struct tok *toks;
};

int scan_bayes_view_open(const char *path, struct scan_bayes_view **out, char *err, size_t errlen)
{
	*out = NULL;
	struct scan_bayes_view *v = xcalloc(1, sizeof *v);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT) {
			*out = v; /* nothing learned yet */
			return 0;
		}
		snprintf(err, errlen, "bayes store %s: %s", path, strerror(errno));
		xfree(v);
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < (off_t)HDR_SIZE) {
		snprintf(err, errlen, "bayes store %s: not a store file", path);
		close(fd);
		xfree(v);
		return -1;
	}
	void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		snprintf(err, errlen, "bayes store %s: mmap: %s", path, strerror(errno));
		xfree(v);
		return -1;
	}
	if (!hdr_ok(map, (size_t)st.st_size)) {
		munmap(map, (size_t)st.st_size);
		snprintf(err, errlen, "bayes store %s: damaged or of another version", path);
		xfree(v);
		return -1;
	}
	v->map = map;
	v->len = (size_t)st.st_size;
	v->dev = st.st_dev;
	v->ino = st.st_ino;
	v->exists = true;
	v->h = map;
	v->toks = (const struct tok *)((const char *)map + HDR_SIZE);
	*out = v;
	return 0;
}

bool scan_bayes_view_stale(const struct scan_bayes_view *v, const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return v->exists; /* removed since */
	return !v->exists || st.st_dev != v->dev || st.st_ino != v->ino;
}

void scan_bayes_view_close(struct scan_bayes_view **vp)
{
	struct scan_bayes_view *v = *vp;
	if (!v)
		return;
	if (v->map)
		munmap(v->map, v->len);
	xfree(v);
	*vp = NULL;
}

void scan_bayes_view_counts(const struct scan_bayes_view *v, struct scan_bayes_counts *c)
{
	memset(c, 0, sizeof *c);
	if (!v || !v->exists)
		return;
	c->nspam = v->h->nspam;
	c->nham = v->h->nham;
	c->ntokens = v->h->tok_used;
	c->nseen = v->h->seen_used;
	c->newest = v->h->newest;
	c->last_expire = v->h->last_expire;
}

bool scan_bayes_view_get(const struct scan_bayes_view *v, uint64_t key, uint32_t *spam, uint32_t *ham)
{
	if (!v || !v->exists)
		return false;
	const struct tok *t = tok_find(v->toks, v->h->tok_cap, key);
	if (!t || (t->spam == 0 && t->ham == 0))
		return false;
	*spam = t->spam;
	*ham = t->ham;
	return true;
}

/* ------------------------------------------------------------ store */

struct scan_bayes_store {
	char *path, *lock_path;
	int lock_fd;
	struct hdr h;
	struct tok *toks;
	struct seen *seen;
};

static void tok_grow(struct scan_bayes_store *st);
static void seen_grow(struct scan_bayes_store *st);

static struct tok *tok_slot(struct scan_bayes_store *st, uint64_t key, bool create)
{
	if (create && (st->h.tok_used + 1) * 2 > st->h.tok_cap)
		tok_grow(st);
	uint32_t cap = st->h.tok_cap;
	size_t i = slot_of(key, cap);
	for (uint32_t n = 0; n < cap; n++, i = (i + 1) & (cap - 1)) {
		if (st->toks[i].key == key)
			return &st->toks[i];
		if (st->toks[i].key == 0) {
			if (!create)
				return NULL;
			st->toks[i].key = key;
			st->h.tok_used++;
			return &st->toks[i];
		}
	}
	return NULL; /* not reached: the table is at most half full */
}

static struct seen *seen_slot(struct scan_bayes_store *st, uint64_t key, bool create)
{
	if (create && (st->h.seen_used + 1) * 2 > st->h.seen_cap)
		seen_grow(st);
	uint32_t cap = st->h.seen_cap;
	size_t i = slot_of(key, cap);
	for (uint32_t n = 0; n < cap; n++, i = (i + 1) & (cap - 1)) {
		if (st->seen[i].key == key)
			return &st->seen[i];
		if (st->seen[i].key == 0) {
			if (!create)
				return NULL;
			st->seen[i].key = key;
			st->h.seen_used++;
			return &st->seen[i];
		}
	}
	return NULL;
}

/* Rebuild the token table at cap entries, dropping tokens with no counts. */
static void tok_rehash(struct scan_bayes_store *st, uint32_t cap)
{
	struct tok *old = st->toks;
	uint32_t ocap = st->h.tok_cap;
	st->toks = xcalloc(cap, sizeof *st->toks);
	st->h.tok_cap = cap;
	st->h.tok_used = 0;
	for (uint32_t i = 0; i < ocap; i++) {
		if (old[i].key == 0 || (old[i].spam == 0 && old[i].ham == 0))
			continue;
		struct tok *t = tok_slot(st, old[i].key, true);
		*t = old[i];
	}
	xfree(old);
}

static void tok_grow(struct scan_bayes_store *st)
{
	tok_rehash(st, st->h.tok_cap * 2);
}

static void seen_rehash(struct scan_bayes_store *st, uint32_t cap)
{
	struct seen *old = st->seen;
	uint32_t ocap = st->h.seen_cap;
	st->seen = xcalloc(cap, sizeof *st->seen);
	st->h.seen_cap = cap;
	st->h.seen_used = 0;
	for (uint32_t i = 0; i < ocap; i++) {
		if (old[i].key == 0 || old[i].cls == 0)
			continue;
		struct seen *s = seen_slot(st, old[i].key, true);
		*s = old[i];
	}
	xfree(old);
}

static void seen_grow(struct scan_bayes_store *st)
{
	seen_rehash(st, st->h.seen_cap * 2);
}

static int load(struct scan_bayes_store *st, char *err, size_t errlen)
{
	int fd = open(st->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT) {
			snprintf(err, errlen, "bayes store %s: %s", st->path, strerror(errno));
			return -1;
		}
		memcpy(st->h.magic, MAGIC, 8);
		st->h.version = VERSION;
		st->h.hdr_size = HDR_SIZE;
		st->h.tok_cap = MIN_CAP;
		st->h.seen_cap = MIN_CAP;
		st->toks = xcalloc(MIN_CAP, sizeof *st->toks);
		st->seen = xcalloc(MIN_CAP, sizeof *st->seen);
		return 0;
	}
	struct stat sb;
	void *map = MAP_FAILED;
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size >= (off_t)HDR_SIZE)
		map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED || !hdr_ok(map, (size_t)sb.st_size)) {
		if (map != MAP_FAILED)
			munmap(map, (size_t)sb.st_size);
		snprintf(err, errlen, "bayes store %s: not a store file, damaged or of another version", st->path);
		return -1;
	}
	memcpy(&st->h, map, HDR_SIZE);
	size_t tb = (size_t)st->h.tok_cap * sizeof(struct tok), sb2 = (size_t)st->h.seen_cap * sizeof(struct seen);
	st->toks = xmalloc(tb);
	st->seen = xmalloc(sb2);
	memcpy(st->toks, (const char *)map + HDR_SIZE, tb);
	memcpy(st->seen, (const char *)map + HDR_SIZE + tb, sb2);
	munmap(map, (size_t)sb.st_size);
	return 0;
}

int scan_bayes_store_open(const char *path, int wait_ms, struct scan_bayes_store **out, char *err, size_t errlen)
{
	*out = NULL;
	struct scan_bayes_store *st = xcalloc(1, sizeof *st);
	st->lock_fd = -1;
	st->path = xstrdup(path);
	fs_mkdir_for(path, 0755); /* the scanners read the store: 0755; a failure shows at the lock file */
	size_t n = strlen(path) + 6;
	st->lock_path = xmalloc(n);
	snprintf(st->lock_path, n, "%s.lock", path);
	/* read-only is enough for flock: a lock file root created stays usable by mail_owner */
	st->lock_fd = open(st->lock_path, O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
	if (st->lock_fd < 0) {
		snprintf(err, errlen, "bayes store lock %s: %s", st->lock_path, strerror(errno));
		goto fail;
	}
	for (int waited = 0;; waited += 10) {
		if (flock(st->lock_fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			snprintf(err, errlen, "bayes store lock %s: %s", st->lock_path, strerror(errno));
			goto fail;
		}
		if (waited >= wait_ms) {
			snprintf(err, errlen, "bayes store %s: locked by another writer for %d ms", path, wait_ms);
			goto fail;
		}
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (load(st, err, errlen) < 0)
		goto fail;
	*out = st;
	return 0;
fail:
	scan_bayes_store_close(&st);
	return -1;
}

static uint32_t add_sat(uint32_t a, int d)
{
	if (d < 0)
		return a ? a - 1 : 0;
	return a == UINT32_MAX ? a : a + 1;
}

static void apply(struct scan_bayes_store *st, bool spam, int d, const uint64_t *keys, size_t n, uint32_t now)
{
	for (size_t i = 0; i < n; i++) {
		struct tok *t = tok_slot(st, keys[i], d > 0);
		if (!t)
			continue;
		if (spam)
			t->spam = add_sat(t->spam, d);
		else
			t->ham = add_sat(t->ham, d);
		if (d > 0 && now > t->atime)
			t->atime = now;
	}
	uint64_t *cnt = spam ? &st->h.nspam : &st->h.nham;
	if (d > 0)
		(*cnt)++;
	else if (*cnt)
		(*cnt)--;
	if (d > 0 && now > st->h.newest)
		st->h.newest = now;
}

int scan_bayes_store_learn(struct scan_bayes_store *st, uint64_t msg_key, bool spam, const uint64_t *keys, size_t n,
			   uint32_t now)
{
	struct seen *s = seen_slot(st, msg_key, true);
	int rc = 1;
	if (s->cls == (spam ? CLS_SPAM : CLS_HAM))
		return 0;
	if (s->cls) { /* learned as the other class: undo that first */
		apply(st, s->cls == CLS_SPAM, -1, keys, n, now);
		rc = 2;
	}
	apply(st, spam, +1, keys, n, now);
	s->cls = spam ? CLS_SPAM : CLS_HAM;
	return rc;
}

int scan_bayes_store_forget(struct scan_bayes_store *st, uint64_t msg_key, const uint64_t *keys, size_t n)
{
	struct seen *s = seen_slot(st, msg_key, false);
	if (!s || !s->cls)
		return 0;
	apply(st, s->cls == CLS_SPAM, -1, keys, n, 0);
	s->cls = 0; /* dropped at the next rehash */
	return 1;
}

void scan_bayes_store_touch(struct scan_bayes_store *st, const uint64_t *keys, size_t n, uint32_t now)
{
	for (size_t i = 0; i < n; i++) {
		struct tok *t = tok_slot(st, keys[i], false);
		if (t && now > t->atime)
			t->atime = now;
	}
}

static int by_u32_desc(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

size_t scan_bayes_store_expire(struct scan_bayes_store *st, size_t max, uint32_t now)
{
	uint32_t live = 0;
	for (uint32_t i = 0; i < st->h.tok_cap; i++)
		live += st->toks[i].key && (st->toks[i].spam || st->toks[i].ham);
	if (max == 0 || live <= max)
		return 0;
	uint32_t *at = xmalloc((size_t)live * sizeof *at);
	uint32_t k = 0;
	for (uint32_t i = 0; i < st->h.tok_cap; i++)
		if (st->toks[i].key && (st->toks[i].spam || st->toks[i].ham))
			at[k++] = st->toks[i].atime;
	qsort(at, k, sizeof *at, by_u32_desc);
	size_t keep = max * 3 / 4;
	uint32_t cut = at[keep ? keep - 1 : 0];
	/* never what was learned within SCAN_BAYES_EXPIRY_MIN_AGE of the newest token
	 * (SpamAssassin's bayes_expiry_period: a corpus learned in one go stays whole) */
	uint32_t newest = at[0];
	if (newest > SCAN_BAYES_EXPIRY_MIN_AGE && cut > newest - SCAN_BAYES_EXPIRY_MIN_AGE)
		cut = newest - SCAN_BAYES_EXPIRY_MIN_AGE;
	else if (newest <= SCAN_BAYES_EXPIRY_MIN_AGE)
		cut = 0;
	xfree(at);
	size_t removed = 0;
	for (uint32_t i = 0; i < st->h.tok_cap; i++) {
		struct tok *t = &st->toks[i];
		if (t->key && (t->spam || t->ham) && t->atime < cut) {
			t->spam = t->ham = 0;
			removed++;
		}
	}
	st->h.last_expire = now;
	uint32_t cap = MIN_CAP;
	while ((uint64_t)(live - removed) * 2 >= cap)
		cap *= 2;
	tok_rehash(st, cap);
	return removed;
}

void scan_bayes_store_counts(const struct scan_bayes_store *st, struct scan_bayes_counts *c)
{
	memset(c, 0, sizeof *c);
	c->nspam = st->h.nspam;
	c->nham = st->h.nham;
	for (uint32_t i = 0; i < st->h.tok_cap; i++)
		c->ntokens += st->toks[i].key && (st->toks[i].spam || st->toks[i].ham);
	for (uint32_t i = 0; i < st->h.seen_cap; i++)
		c->nseen += st->seen[i].key && st->seen[i].cls;
	c->newest = st->h.newest;
	c->last_expire = st->h.last_expire;
}

int scan_bayes_store_commit(struct scan_bayes_store *st, char *err, size_t errlen)
{
	/* drop emptied entries; the tables stay powers of two at most half full */
	uint32_t live = 0, slive = 0;
	for (uint32_t i = 0; i < st->h.tok_cap; i++)
		live += st->toks[i].key && (st->toks[i].spam || st->toks[i].ham);
	for (uint32_t i = 0; i < st->h.seen_cap; i++)
		slive += st->seen[i].key && st->seen[i].cls;
	if (live > SCAN_BAYES_DB_MAX_TOKENS || slive > SCAN_BAYES_DB_MAX_TOKENS) {
		snprintf(err, errlen, "bayes store %s: %u tokens, %u messages: over the limit of %u (expire it)",
			 st->path, live, slive, SCAN_BAYES_DB_MAX_TOKENS);
		return -1;
	}
	uint32_t cap = MIN_CAP, scap = MIN_CAP;
	while ((uint64_t)live * 2 >= cap)
		cap *= 2;
	while ((uint64_t)slive * 2 >= scap)
		scap *= 2;
	tok_rehash(st, cap);
	seen_rehash(st, scap);
	size_t n = strlen(st->path) + 8;
	char *tmp = xmalloc(n);
	snprintf(tmp, n, "%s.tmp", st->path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int rc = -1;
	if (fd < 0) {
		snprintf(err, errlen, "bayes store %s: %s", tmp, strerror(errno));
		goto out;
	}
	/* 0644 whatever the umask (the gateway's is 077): the scanners, another user, read it */
	if (fchmod(fd, 0644) < 0 || fs_write_all(fd, &st->h, HDR_SIZE) < 0 ||
	    fs_write_all(fd, st->toks, (size_t)st->h.tok_cap * sizeof *st->toks) < 0 ||
	    fs_write_all(fd, st->seen, (size_t)st->h.seen_cap * sizeof *st->seen) < 0 || fsync(fd) < 0) {
		snprintf(err, errlen, "bayes store %s: write: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, st->path) < 0) {
		snprintf(err, errlen, "bayes store %s: rename: %s", st->path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	char *dir = xstrdup(st->path);
	char *slash = strrchr(dir, '/');
	if (slash)
		slash[slash == dir ? 1 : 0] = '\0';
	int drc = fs_fsync_dir(slash ? dir : ".");
	xfree(dir);
	if (drc < 0) {
		snprintf(err, errlen, "bayes store %s: directory fsync: %s", st->path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	xfree(tmp);
	return rc;
}

void scan_bayes_store_close(struct scan_bayes_store **stp)
{
	struct scan_bayes_store *st = *stp;
	if (!st)
		return;
	if (st->lock_fd >= 0)
		close(st->lock_fd); /* releases the lock */
	xfree(st->toks);
	xfree(st->seen);
	xfree(st->path);
	xfree(st->lock_path);
	xfree(st);
	*stp = NULL;
}

int scan_bayes_learn_batch(const char *path, const struct scan_bayes_item *items, size_t n, size_t expiry_max,
			   uint32_t now, int wait_ms, int *results, struct scan_bayes_counts *after, char *err,
			   size_t errlen)
{
	struct scan_bayes_store *st;
	if (scan_bayes_store_open(path, wait_ms, &st, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct scan_bayes_item *it = &items[i];
		int rc = it->cls < 0 ? scan_bayes_store_forget(st, it->msg_key, it->keys, it->nkeys)
				     : scan_bayes_store_learn(st, it->msg_key, it->cls == 1, it->keys, it->nkeys, now);
		if (results)
			results[i] = rc;
	}
	if (expiry_max) {
		struct scan_bayes_counts c;
		scan_bayes_store_counts(st, &c);
		if (c.ntokens > expiry_max)
			scan_bayes_store_expire(st, expiry_max, now);
	}
	int rc = scan_bayes_store_commit(st, err, errlen);
	if (rc == 0 && after)
		scan_bayes_store_counts(st, after);
	scan_bayes_store_close(&st);
	return rc;
}
