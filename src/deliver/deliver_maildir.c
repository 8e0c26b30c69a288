/*
 * deliver_maildir.c - local delivery into Maildirs (the "maildir:" mailer).
 *
 * The path may name one Maildir per recipient (%u local part, %d domain);
 * recipients whose path expands alike share one file. A file is written
 * the Maildir way: tmp/<unique>, fsync, rename into new/, fsync new/; only
 * then is its recipients' result 250, so a crash never loses an
 * acknowledged message and never leaves a partial file in new/. Content:
 * Return-Path and Delivered-To lines, then the message with CRLF turned
 * into LF (Maildir convention). All file I/O runs on the deliver worker
 * pool, never on the loop; any failure is 4xx (452 4.3.1 for a full disk
 * or quota) and the queue retries.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "deliver/deliver_int.h"
#include "ev/ev_pool.h"
#include "mail/mail_env.h"

#define CHUNK (64 * 1024)

/* One file: the recipients whose Maildir path is dir. */
struct mdcopy {
	char dir[PATH_MAX];
	const char *rcpt; /* the first of them (Delivered-To), in job->env */
	struct mail_reply reply;
};

struct mdjob {
	struct deliver *dl;
	struct djob *j;
	const struct mail_env *env; /* borrowed until the result; read-only here */
	char host[256];		    /* for unique file names */
	int fd;
	uint64_t off, len;
	struct mdcopy *copies;
	size_t ncopies;
	size_t *copy_of; /* per recipient: index in copies, or SIZE_MAX (res already set) */
};

static atomic_ulong seq;

/* Append s[0..n) to out[*o], made safe as (part of) one path component
 * when safe: lower-cased, '/' and a leading '.' replaced by '_'. */
static int put(const char *s, size_t n, bool safe, char *out, size_t size, size_t *o)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (safe) {
			c = str_lc(c);
			if (c == '/' || (i == 0 && c == '.'))
				c = '_';
		}
		if (*o + 1 >= size)
			return -1;
		out[(*o)++] = c;
	}
	return 0;
}

int deliver_maildir_path(const char *tmpl, const char *addr, char *out, size_t size)
{
	const char *dom = mail_env_domain(addr);
	size_t llen = *dom ? (size_t)(dom - 1 - addr) : strlen(addr);
	size_t o = 0;
	if (size == 0)
		return -1;
	for (const char *p = tmpl; *p; p++) {
		int rc;
		if (*p != '%')
			rc = put(p, 1, false, out, size, &o); /* the template's own text, as written */
		else if (*++p == 'u')
			rc = put(addr, llen, true, out, size, &o);
		else if (*p == 'd')
			rc = put(dom, strlen(dom), true, out, size, &o);
		else if (*p == '%')
			rc = put("%", 1, false, out, size, &o);
		else
			rc = -1;
		if (rc < 0) {
			out[0] = '\0';
			return -1;
		}
	}
	out[o] = '\0';
	return 0;
}

/* out = a + b + c; -1 (ENAMETOOLONG) when it does not fit. */
static int join(char *out, size_t size, const char *a, const char *b, const char *c)
{
	if ((size_t)snprintf(out, size, "%s%s%s", a, b, c) < size)
		return 0;
	errno = ENAMETOOLONG;
	return -1;
}

/* path and its parents, then tmp/ new/ cur/ (0700). A Maildir made here is
 * made durable before the first file goes into it. */
static int maildir_make(const char *dir)
{
	char p[PATH_MAX];
	struct stat st;
	if (join(p, sizeof p, dir, "/new", "") < 0)
		return -1;
	if (stat(p, &st) == 0)
		return 0;
	if (str_copy(p, sizeof p, dir) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		int rc = fs_mkdir(p, 0700);
		*s = '/';
		if (rc < 0)
			return -1;
	}
	static const char *const sub[] = { "", "/tmp", "/new", "/cur" };
	for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++) {
		if (join(p, sizeof p, dir, sub[i], "") < 0 || fs_mkdir(p, 0700) < 0)
			return -1;
	}
	if (join(p, sizeof p, dir, "/..", "") < 0)
		return -1;
	return fs_fsync_dir(dir) < 0 || fs_fsync_dir(p) < 0 ? -1 : 0;
}

/* "<sec>.M<usec>P<pid>Q<qid>_<seq>.<host>": unique per Maildir(5); '/' and
 * ':' in the host name are written as octal escapes. */
static void unique_name(const struct mdjob *m, char *out, size_t size)
{
	int64_t us = clock_now_us();
	char host[sizeof m->host * 4];
	size_t o = 0;
	for (const char *h = m->host; *h; h++) {
		const char *esc = *h == '/' ? "\\057" : *h == ':' ? "\\072" : NULL;
		if (esc) {
			memcpy(host + o, esc, 4);
			o += 4;
		} else {
			host[o++] = *h;
		}
	}
	host[o] = '\0';
	snprintf(out, size, "%lld.M%06lldP%dQ%s_%lu.%s", (long long)(us / 1000000), (long long)(us % 1000000),
		 (int)getpid(), m->j->req->qid, (unsigned long)atomic_fetch_add(&seq, 1), host);
}

/* The content with CRLF turned into LF, after the two trace lines. */
static int write_content(const struct mdjob *m, const struct mdcopy *cp, int fd)
{
	struct buf b;
	buf_init(&b);
	buf_printf(&b, "Return-Path: <%s>\nDelivered-To: %s\n", m->env->sender, cp->rcpt);
	char *in = xmalloc(CHUNK);
	bool cr = false; /* the previous byte was a CR, not written yet */
	int rc = 0;
	for (uint64_t done = 0; rc == 0 && done < m->len;) {
		size_t n = m->len - done < CHUNK ? (size_t)(m->len - done) : CHUNK;
		rc = fs_pread_all(m->fd, in, n, (off_t)(m->off + done));
		for (size_t i = 0; rc == 0 && i < n; i++) {
			if (cr && in[i] != '\n')
				buf_putc(&b, '\r');
			cr = in[i] == '\r';
			if (!cr)
				buf_putc(&b, in[i]);
		}
		done += n;
		if (rc == 0)
			rc = fs_write_all(fd, b.data, b.len);
		buf_reset(&b);
	}
	if (rc == 0 && cr)
		rc = fs_write_all(fd, "\r", 1);
	xfree(in);
	buf_fini(&b);
	return rc;
}

/* One copy into its Maildir; the reply says how it went. */
static void write_copy(const struct mdjob *m, struct mdcopy *cp)
{
	char name[1400], tmp[PATH_MAX], dst[PATH_MAX];
	const char *what = "create the maildir";
	int fd = -1;
	bool created = false, in_new = false;
	if (maildir_make(cp->dir) < 0)
		goto fail;
	unique_name(m, name, sizeof name);
	what = "create a file in tmp/";
	if (join(tmp, sizeof tmp, cp->dir, "/tmp/", name) < 0 || join(dst, sizeof dst, cp->dir, "/new/", name) < 0)
		goto fail;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		goto fail;
	created = true;
	what = "write the message";
	if (write_content(m, cp, fd) < 0)
		goto fail;
	what = "fsync the message";
	if (fsync(fd) < 0)
		goto fail;
	what = "close the message";
	int rc = close(fd);
	fd = -1;
	if (rc < 0)
		goto fail;
	what = "rename into new/";
	if (rename(tmp, dst) < 0)
		goto fail;
	in_new = true;
	what = "fsync new/";
	if (join(tmp, sizeof tmp, cp->dir, "/new", "") < 0 || fs_fsync_dir(tmp) < 0)
		goto fail;
	mail_reply_set(&cp->reply, 250, "2.0.0", "delivered to maildir");
	return;
fail:;
	int e = errno ? errno : EIO;
	if (fd >= 0)
		close(fd);
	/* nothing half-done stays: not in tmp/, and not in new/ when it is
	 * not known to be durable there (the retry delivers it again) */
	if (created)
		unlink(in_new ? dst : tmp);
	if (e == ENOSPC || e == EDQUOT)
		mail_reply_set(&cp->reply, 452, "4.3.1", "%s: %s", what, strerror(e));
	else
		mail_reply_set(&cp->reply, 451, "4.3.0", "%s: %s", what, strerror(e));
}

static void md_work(void *arg)
{
	struct mdjob *m = arg;
	for (size_t i = 0; i < m->ncopies; i++) {
		if (m->fd >= 0)
			write_copy(m, &m->copies[i]);
		else
			mail_reply_set(&m->copies[i].reply, 451, "4.3.0", "cannot read the queue file");
	}
}

static void md_done(void *arg)
{
	struct mdjob *m = arg;
	struct dreq *r = m->j->req;
	for (size_t i = 0; i < r->nres; i++) {
		if (m->copy_of[i] != SIZE_MAX)
			r->res[i].reply = m->copies[m->copy_of[i]].reply;
	}
	for (size_t k = 0; k < m->ncopies; k++) {
		char t[MAIL_REPLY_TEXT_MAX + 32];
		mail_reply_str(&m->copies[k].reply, t, sizeof t);
		log_info("queue=%s event=%s maildir=%s rcpt=%s reply=%s", r->qid,
			 m->copies[k].reply.code == 250 ? "maildir_delivered" : "maildir_failed", LOG_Q(m->copies[k].dir),
			 LOG_QA(m->copies[k].rcpt), LOG_Q(t));
	}
	if (m->fd >= 0)
		close(m->fd);
	deliver_job_done(m->dl, m->j);
	xfree(m->copies);
	xfree(m->copy_of);
	xfree(m);
}

/* The copy for dir: an existing one, or a new one for rcpt. */
static size_t copy_for(struct mdjob *m, const char *dir, const char *rcpt)
{
	for (size_t k = 0; k < m->ncopies; k++) {
		if (strcmp(m->copies[k].dir, dir) == 0)
			return k;
	}
	struct mdcopy *cp = &m->copies[m->ncopies];
	str_copy(cp->dir, sizeof cp->dir, dir);
	cp->rcpt = rcpt;
	return m->ncopies++;
}

void deliver_maildir_submit(struct deliver *dl, struct dreq *r, const char *path_tmpl)
{
	struct mdjob *m = xcalloc(1, sizeof *m);
	m->dl = dl;
	m->j = xcalloc(1, sizeof *m->j);
	m->j->req = r;
	m->j->n = r->nres;
	r->jobs_left = 1;
	m->env = r->env;
	str_copy(m->host, sizeof m->host, deliver_conf_of(dl)->myhostname);
	m->copies = xcalloc(r->nres, sizeof *m->copies);
	m->copy_of = xcalloc(r->nres, sizeof *m->copy_of);
	for (size_t i = 0; i < r->nres; i++) {
		const char *addr = r->env->rcpt[r->res[i].idx].addr;
		char dir[PATH_MAX];
		if (deliver_maildir_path(path_tmpl, addr, dir, sizeof dir) < 0 || dir[0] == '\0') {
			mail_reply_set(&r->res[i].reply, 451, "4.3.5", "bad maildir path \"%s\" for <%s>", path_tmpl, addr);
			m->copy_of[i] = SIZE_MAX;
			continue;
		}
		m->copy_of[i] = copy_for(m, dir, addr);
	}
	m->fd = r->open_body(r->open_ctx, r->qid, &m->off);
	m->len = r->body_len;
	ev_pool_submit(deliver_pool(dl), m, md_work, md_done);
}
