/*
 * scan_proc_pool.c - the gateway's job queue and its scanners' sockets:
 * dispatch, deadlines, answers.
 *
 * Loop thread only. A job waits in FIFO order for an idle scanner of the
 * generation in force and goes out with a read-only descriptor of its
 * message; its deadline (scan_process_timeout) has the supervisor kill the
 * scanner. Whatever a scanner sends is checked (frame size, fields, the
 * edit list against the message) before the job's callback sees it; a
 * scanner that breaks the protocol is killed and its job ends LOST, like
 * one that dies. Does not talk to the supervisor but to ask for a kill.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "scan/proc/scan_proc_int.h"

#define IDLE_FRAME_MAX 4096	     /* a scanner with no job may only send its death note */
#define ANSWER_SLACK (32u << 20)     /* an answer: twice the message, plus this */

/* ------------------------------------------------------------ jobs */

static void job_free(struct sp_job *j)
{
	if (j->fd >= 0)
		close(j->fd);
	buf_fini(&j->frame);
	xfree(j);
}

static void job_end(struct sp_job *j, struct scan_proc_result *r)
{
	r->ms_wait = r->ms_wait > 0 ? r->ms_wait : 0;
	j->done(j->arg, r);
	scan_report_fini(&r->report);
	mail_edits_fini(&r->edits);
	job_free(j);
}

/* End j without a verdict: LOST (counts for the poison guard) or ABORTED. */
void sp_pool_job_fail(struct sp_job *j, enum scan_proc_status st, const char *why)
{
	struct scan_proc_result r;
	memset(&r, 0, sizeof r);
	scan_report_init(&r.report);
	r.status = st;
	r.report.tempfail = true;
	r.report.tempfail_timeout = st == SCAN_PROC_LOST;
	r.report.error = xstrdup(why);
	mail_edits_init(&r.edits);
	job_end(j, &r);
}


void sp_pool_later(struct scan_proc *p)
{
	if (p->later_ev)
		event_active(p->later_ev, EV_TIMEOUT, 0);
}

/* A read-only descriptor of the file fd refers to. */
static int read_only(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0 && (fl & O_ACCMODE) == O_RDONLY)
		return fcntl(fd, F_DUPFD_CLOEXEC, 0);
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	return open(path, O_RDONLY | O_CLOEXEC);
}

void scan_proc_submit(struct scan_proc *p, const struct scan_proc_job *job, scan_proc_done_fn done, void *arg)
{
	struct sp_job *j = xcalloc(1, sizeof *j);
	j->id = ++p->next_job;
	j->done = done;
	j->arg = arg;
	j->len = job->len;
	j->t_submit = clock_mono_us();
	snprintf(j->qid, sizeof j->qid, "%s", job->qid ? job->qid : "");
	buf_init(&j->frame);
	spm_req_encode(job, job->kind == SCAN_PROC_APPLY ? SPM_APPLY : SPM_SCAN, j->id, &j->frame);
	j->fd = read_only(job->fd);
	if (j->fd < 0 || (p->sv_dead && !p->scanners)) {
		log_err("queue=%s event=scan_unavailable error=\"%s\"", j->qid,
			j->fd < 0 ? strerror(errno) : "no scanner process (the supervisor ended)");
		j->next = p->failed;
		p->failed = j;
		sp_pool_later(p);
		return;
	}
	if (p->qtail)
		p->qtail->next = j;
	else
		p->qhead = j;
	p->qtail = j;
	p->nqueued++;
	sp_pool_dispatch(p);
}

/* ------------------------------------------------------------ scanners */

void sp_pool_scanner_free(struct sp_scanner *s)
{
	struct scan_proc *p = s->p;
	for (struct sp_scanner **pp = &p->scanners; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	if (s->rev)
		event_free(s->rev);
	if (s->wev)
		event_free(s->wev);
	if (s->deadline)
		event_free(s->deadline);
	if (s->in)
		evbuffer_free(s->in);
	buf_fini(&s->out);
	if (s->fd >= 0)
		close(s->fd);
	xfree(s);
}

static void ask_kill(struct scan_proc *p, unsigned id)
{
	struct buf b;
	buf_init(&b);
	spm_kill_encode(id, &b);
	if (!p->sv_dead && send(p->sv_fd, b.data, b.len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_err("event=scan_supervisor_error error=\"cannot ask for a kill: %s\"", strerror(errno));
	buf_fini(&b);
}

/* Write what is left of the request; 0 done, 1 more to write, -1 broken. */
static int flush_out(struct sp_scanner *s)
{
	while (s->out_off < s->out.len) {
		ssize_t w = spm_send_fd(s->fd, s->out.data + s->out_off, s->out.len - s->out_off, s->out_fd);
		if (w < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : -1;
		if (s->out_fd >= 0) { /* it went with the first octet */
			close(s->out_fd);
			s->out_fd = -1;
			if (s->job)
				s->job->fd = -1;
		}
		s->out_off += (size_t)w;
	}
	buf_reset(&s->out);
	s->out_off = 0;
	return 0;
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct sp_scanner *s = arg;
	int rc = flush_out(s);
	if (rc < 0)
		sp_pool_scanner_lost(s, "its socket broke");
	else if (rc > 0)
		event_add(s->wev, NULL);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct sp_scanner *s = arg;
	struct scan_proc *p = s->p;
	char why[200];
	snprintf(why, sizeof why, "scan timed out after %d ms (scan_process_timeout): the scanner process was killed",
		 p->conf.timeout_ms);
	log_warn("queue=%s event=scan_process_timeout scanner=%u pid=%ld timeout_ms=%d action=kill",
		 s->job ? s->job->qid : "-", s->id, (long)s->pid, p->conf.timeout_ms);
	p->st.timeouts++;
	ask_kill(p, s->id);
	sp_pool_scanner_lost(s, why);
}

static void send_job(struct sp_scanner *s, struct sp_job *j)
{
	struct scan_proc *p = s->p;
	s->job = j;
	s->scans++;
	buf_reset(&s->out);
	buf_append(&s->out, j->frame.data, j->frame.len);
	s->out_off = 0;
	s->out_fd = j->fd;
	int rc = flush_out(s);
	if (rc < 0) {
		sp_pool_scanner_lost(s, "cannot send it the message");
		return;
	}
	if (rc > 0)
		event_add(s->wev, NULL);
	struct timeval tv = { p->conf.timeout_ms / 1000, (p->conf.timeout_ms % 1000) * 1000 };
	evtimer_add(s->deadline, &tv);
}

/* An idle scanner: of the current generation when it has (or will have)
 * scanners, else of any (a reload that turned scanning off lets the
 * older ones finish what waits). */
static struct sp_scanner *idle_scanner(struct scan_proc *p)
{
	for (struct sp_scanner *s = p->scanners; s; s = s->next)
		if (!s->job && !s->retiring && (!p->want_current || s->gen == p->gen))
			return s;
	return NULL;
}

/* Older generations go: at once when idle, else after their answer; when
 * the current one has no scanners, once nothing waits. */
void sp_pool_retire_old(struct scan_proc *p)
{
	struct sp_scanner *next;
	for (struct sp_scanner *s = p->scanners; s; s = next) {
		next = s->next;
		if (s->gen == p->gen || (!p->want_current && p->nqueued))
			continue;
		s->retiring = true;
		if (!s->job)
			sp_pool_scanner_free(s); /* EOF: it exits 0 and is not replaced */
	}
}

void sp_pool_dispatch(struct scan_proc *p)
{
	struct sp_scanner *s;
	while (p->qhead && (s = idle_scanner(p))) {
		struct sp_job *j = p->qhead;
		p->qhead = j->next;
		if (!p->qhead)
			p->qtail = NULL;
		p->nqueued--;
		j->next = NULL;
		send_job(s, j);
	}
	if (p->qhead && p->sv_dead && !p->scanners) {
		while (p->qhead) {
			struct sp_job *j = p->qhead;
			p->qhead = j->next;
			p->nqueued--;
			j->next = p->failed;
			p->failed = j;
		}
		p->qtail = NULL;
		sp_pool_later(p);
	}
}

static const char *death_text(const struct sp_scanner *s, char *buf, size_t size)
{
	char name[64];
	switch (s->death) {
	case SPM_DEATH_SYSCALL:
		snprintf(buf, size, "the scanner process was killed by its system-call filter (%s)",
			 spm_sandbox_syscall_name(s->death_sysno, name, sizeof name));
		break;
	case SPM_DEATH_MEMORY:
		snprintf(buf, size, "the scan exceeded scan_memory_limit (%llu octets): scanner process ended",
			 (unsigned long long)s->p->conf.memory_limit);
		break;
	case SPM_DEATH_CPU:
		snprintf(buf, size, "the scan exceeded scan_cpu_limit (%d s): scanner process ended", s->p->conf.cpu_limit_s);
		break;
	default:
		return NULL;
	}
	return buf;
}

/* s is gone (EOF, broken, killed): its job ends LOST; s is freed. */
void sp_pool_scanner_lost(struct sp_scanner *s, const char *why)
{
	struct scan_proc *p = s->p;
	char dt[200];
	const char *d = death_text(s, dt, sizeof dt);
	if (s->death == SPM_DEATH_SYSCALL)
		p->st.killed_filter++;
	if (s->job) {
		struct sp_job *j = s->job;
		s->job = NULL;
		char msg[400];
		snprintf(msg, sizeof msg, "%s", d ? d : why);
		log_warn("queue=%s event=scanner_lost scanner=%u pid=%ld error=%s", j->qid, s->id, (long)s->pid,
			 LOG_Q(msg));
		p->st.lost++;
		sp_pool_job_fail(j, SCAN_PROC_LOST, msg);
	} else if (!s->retiring) {
		log_warn("event=scanner_lost scanner=%u pid=%ld error=%s", s->id, (long)s->pid, LOG_Q(d ? d : why));
	}
	sp_pool_scanner_free(s);
	sp_pool_dispatch(p);
}

/* ------------------------------------------------------------ answers */

/* The answer a for s's job, checked; false when it breaks the protocol (why set). */
static bool take_answer(struct sp_scanner *s, struct spm_ans *a, char *why, size_t whylen)
{
	struct sp_job *j = s->job;
	if (a->id != j->id) {
		snprintf(why, whylen, "an answer to job %llu, not %llu", (unsigned long long)a->id,
			 (unsigned long long)j->id);
		return false;
	}
	struct scan_proc_result r;
	memset(&r, 0, sizeof r);
	scan_report_init(&r.report);
	mail_edits_init(&r.edits);
	unsigned known = SCAN_ACT_DELIVER | SCAN_ACT_TAG | SCAN_ACT_CLEAN | SCAN_ACT_QUARANTINE | SCAN_ACT_REDIRECT |
			 SCAN_ACT_DROP | SCAN_ACT_REJECT;
	char err[200];
	bool ok = (a->flags & ~known) == 0 && (!a->report || scan_report_decode(a->report, &r.report) == 0) &&
		  (!a->learn || scan_learn_decode(a->learn, &r.report.learn) == 0) &&
		  (unsigned)r.report.cat < SCAN_NCAT &&
		  mail_edits_check(&a->edits, j->len, j->len + ANSWER_SLACK, err, sizeof err) == 0;
	if (!ok) {
		snprintf(why, whylen, "a malformed answer");
		scan_report_fini(&r.report);
		return false;
	}
	s->job = NULL;
	evtimer_del(s->deadline);
	r.status = a->tempfail ? SCAN_PROC_TEMPFAIL : SCAN_PROC_OK;
	if (a->tempfail) {
		r.report.tempfail = true;
		r.report.tempfail_timeout = a->timeout;
		xfree(r.report.error);
		r.report.error = xstrdup(a->error ? a->error : "scan failed");
	}
	r.flags = a->flags;
	r.changed = a->changed && a->edits.n > 0;
	r.cleaned = a->cleaned;
	r.edits = a->edits;
	mail_edits_init(&a->edits);
	r.ms_wait = (double)(clock_mono_us() - j->t_submit) / 1000.0 - r.report.ms_total;
	job_end(j, &r);
	return true;
}

/* One frame; false when s must go (why set). */
static bool on_frame(struct sp_scanner *s, const uint8_t *p, size_t n, char *why, size_t whylen)
{
	if (n >= 1 && p[0] == SPM_DEATH) {
		uint32_t reason;
		int32_t sysno;
		if (spm_death_decode(p, n, &reason, &sysno) == 0) {
			s->death = reason;
			s->death_sysno = sysno;
		}
		return true; /* EOF follows */
	}
	if (!s->job) {
		snprintf(why, whylen, "an answer without a request");
		return false;
	}
	struct spm_ans a;
	char err[200];
	if (spm_ans_decode(p, n, &a, err, sizeof err) < 0) {
		snprintf(why, whylen, "a malformed answer: %s", err);
		spm_ans_fini(&a);
		return false;
	}
	bool ok = take_answer(s, &a, why, whylen);
	spm_ans_fini(&a);
	return ok;
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct sp_scanner *s = arg;
	struct scan_proc *p = s->p;
	int r = evbuffer_read(s->in, fd, 1 << 20);
	char why[300] = "";
	while (!why[0]) {
		size_t have = evbuffer_get_length(s->in);
		uint8_t hdr[4];
		if (have < 4 || evbuffer_copyout(s->in, hdr, 4) != 4)
			break;
		uint32_t n = (uint32_t)hdr[0] | (uint32_t)hdr[1] << 8 | (uint32_t)hdr[2] << 16 | (uint32_t)hdr[3] << 24;
		uint64_t max = s->job ? s->job->len * 2 + ANSWER_SLACK : IDLE_FRAME_MAX;
		if (n == 0 || n > max || n > SPM_FRAME_MAX) {
			snprintf(why, sizeof why, "a frame of %u octets", n);
			break;
		}
		if (have < 4 + (size_t)n)
			break;
		const uint8_t *f = evbuffer_pullup(s->in, 4 + (ssize_t)n);
		bool ok = on_frame(s, f + 4, n, why, sizeof why);
		evbuffer_drain(s->in, 4 + (size_t)n);
		if (!ok)
			break;
		if (!s->job && s->retiring) {
			sp_pool_scanner_free(s); /* its last job is answered */
			sp_pool_dispatch(p);
			return;
		}
	}
	if (why[0]) {
		log_err("event=scanner_protocol_error scanner=%u pid=%ld error=%s action=kill", s->id, (long)s->pid,
			LOG_Q(why));
		ask_kill(p, s->id);
		sp_pool_scanner_lost(s, why);
		return;
	}
	if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
		sp_pool_scanner_lost(s, "the scanner process ended unexpectedly");
		return;
	}
	sp_pool_dispatch(p);
}


void sp_pool_add_scanner(struct scan_proc *p, unsigned id, pid_t pid, unsigned gen, int fd)
{
	struct sp_scanner *s = xcalloc(1, sizeof *s);
	s->p = p;
	s->id = id;
	s->pid = pid;
	s->gen = gen;
	s->fd = fd;
	s->out_fd = -1;
	buf_init(&s->out);
	s->in = evbuffer_new();
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	s->rev = event_new(p->base, fd, EV_READ | EV_PERSIST, on_readable, s);
	s->wev = event_new(p->base, fd, EV_WRITE, on_writable, s);
	s->deadline = evtimer_new(p->base, on_deadline, s);
	event_add(s->rev, NULL);
	s->next = p->scanners;
	p->scanners = s;
	p->st.started++;
	log_debug("event=scanner_started scanner=%u pid=%ld generation=%u", id, (long)pid, gen);
}
