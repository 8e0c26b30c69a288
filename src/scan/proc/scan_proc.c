/*
 * scan_proc.c - the gateway's side of the scanner processes: starting the
 * supervisor, its socket (new scanners, their ends), generations, stop.
 *
 * Loop thread only (scan_proc_start and scan_proc_ready before the loop
 * exists). A load waits for the supervisor's answer with poll(); packets
 * that come meanwhile are kept and handled from the loop. Jobs and the
 * scanners' sockets are scan_proc_pool.c's. Done callbacks always run from
 * the loop, never inside scan_proc_submit().
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "scan/proc/scan_proc_int.h"

#define STOP_WAIT_MS 2000	     /* the supervisor's exit, at stop */
#define UNAVAILABLE_LOG_S 60	     /* "scanning unavailable": once a minute */

/* ------------------------------------------------------------ the supervisor */

static void log_exit(const struct spm_exited *e)
{
	char how[64];
	if (WIFEXITED(e->status))
		snprintf(how, sizeof how, "exit:%d", WEXITSTATUS(e->status));
	else if (WIFSIGNALED(e->status))
		snprintf(how, sizeof how, "signal:%s", sigabbrev_np(WTERMSIG(e->status)) ? sigabbrev_np(WTERMSIG(e->status))
											  : "?");
	else
		snprintf(how, sizeof how, "status:%d", e->status);
	/* exit 0: let go by the gateway; 3: replaced after scan_process_max_scans */
	bool normal = WIFEXITED(e->status) && (WEXITSTATUS(e->status) == 0 || WEXITSTATUS(e->status) == 3);
	log_msg(normal ? LOG_L_DEBUG : LOG_L_WARN, "event=scanner_exited scanner=%u pid=%ld generation=%u status=%s maxrss_kb=%ld",
		e->id, (long)e->pid, e->gen, how, e->maxrss_kb);
}

static void on_packet(struct scan_proc *p, const uint8_t *pkt, size_t n, int fd)
{
	unsigned id, gen;
	pid_t pid;
	struct spm_exited e;
	if (n >= 1 && pkt[0] == SPM_SCANNER && fd >= 0 && spm_scanner_decode(pkt, n, &id, &pid, &gen) == 0) {
		sp_pool_add_scanner(p, id, pid, gen, fd);
		sp_pool_retire_old(p);
		sp_pool_dispatch(p);
		return;
	}
	if (fd >= 0)
		close(fd);
	if (n >= 1 && pkt[0] == SPM_EXITED && spm_exited_decode(pkt, n, &e) == 0) {
		p->st.exited++;
		log_exit(&e);
		return;
	}
	log_err("event=scan_supervisor_error error=\"an unexpected packet (type %d)\"", n ? pkt[0] : -1);
}

static void supervisor_gone(struct scan_proc *p)
{
	if (p->sv_dead)
		return;
	p->sv_dead = true;
	log_err("event=scan_supervisor_died action=\"the scanners left finish; scanning stops when they are gone: "
		"restart mxgate\"");
	if (p->sv_ev)
		event_del(p->sv_ev);
	sp_pool_dispatch(p);
}

static void on_supervisor(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct scan_proc *p = arg;
	uint8_t *pkt = xmalloc(SPM_SEQPACKET_MAX);
	for (int i = 0; i < 64; i++) {
		int got_fd;
		ssize_t k = spm_recv_fd(fd, pkt, SPM_SEQPACKET_MAX, &got_fd);
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (k <= 0) {
			supervisor_gone(p);
			break;
		}
		on_packet(p, pkt, (size_t)k, got_fd);
	}
	xfree(pkt);
}

void sp_pool_on_later(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct scan_proc *p = arg;
	while (p->stash) {
		struct sp_stash *x = p->stash;
		p->stash = x->next;
		on_packet(p, (const uint8_t *)x->pkt.data, x->pkt.len, x->fd);
		buf_fini(&x->pkt);
		xfree(x);
	}
	p->stash_tail = NULL;
	while (p->failed) {
		struct sp_job *j = p->failed;
		p->failed = j->next;
		int64_t now = clock_mono_us();
		if (now - p->unavailable_logged > UNAVAILABLE_LOG_S * 1000000LL) {
			p->unavailable_logged = now;
			log_err("event=scanning_unavailable reason=\"no scanner process can be had\"");
		}
		sp_pool_job_fail(j, SCAN_PROC_ABORTED, "no scanner process can be had");
	}
}

/* Block for the LOADED answer to a LOAD; other packets are kept for the loop. */
static int wait_loaded(struct scan_proc *p, int timeout_s, struct spm_loaded *l, char *err, size_t errlen)
{
	int64_t end = clock_mono_us() + (int64_t)timeout_s * 1000000;
	uint8_t *pkt = xmalloc(SPM_SEQPACKET_MAX);
	int rc = -1;
	for (;;) {
		int64_t left = end - clock_mono_us();
		struct pollfd pf = { p->sv_fd, POLLIN, 0 };
		if (left <= 0 || poll(&pf, 1, (int)(left / 1000) + 1) == 0) {
			snprintf(err, errlen, "the scanner supervisor did not load the scan engine within %d s", timeout_s);
			break;
		}
		int fd;
		ssize_t k = spm_recv_fd(p->sv_fd, pkt, SPM_SEQPACKET_MAX, &fd);
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k <= 0) {
			snprintf(err, errlen, "the scanner supervisor ended while loading");
			break;
		}
		if (pkt[0] == SPM_LOADED) {
			if (fd >= 0)
				close(fd);
			if (spm_loaded_decode(pkt, (size_t)k, l) < 0)
				snprintf(err, errlen, "the scanner supervisor's answer is malformed");
			else if (!l->ok)
				snprintf(err, errlen, "%s", l->err);
			else
				rc = 0;
			break;
		}
		struct sp_stash *x = xcalloc(1, sizeof *x);
		buf_init(&x->pkt);
		buf_append(&x->pkt, pkt, (size_t)k);
		x->fd = fd;
		if (p->stash_tail)
			p->stash_tail->next = x;
		else
			p->stash = x;
		p->stash_tail = x;
	}
	xfree(pkt);
	if (p->stash)
		sp_pool_later(p);
	return rc;
}

static void keep_conf(struct scan_proc *p, const struct scan_proc_conf *c)
{
	p->conf = *c;
	p->conf.user = "";
	if (p->conf.timeout_ms <= 0)
		p->conf.timeout_ms = 120000;
}

struct scan_proc *scan_proc_start(const struct scan_proc_settings *s, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return NULL;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(sp[0]);
		close(sp[1]);
		return NULL;
	}
	if (pid == 0) {
		close(sp[0]);
		spm_super_main(sp[1], s, uid, gid);
	}
	close(sp[1]);
	struct scan_proc *p = xcalloc(1, sizeof *p);
	p->sv_pid = pid;
	p->sv_fd = sp[0];
	keep_conf(p, &s->proc);
	p->want_current = s->proc.processes > 0;
	return p;
}

int scan_proc_ready(struct scan_proc *p, int load_timeout_s, struct scan_proc_gen_info *info, char *err,
		    size_t errlen)
{
	struct spm_loaded l;
	if (wait_loaded(p, load_timeout_s, &l, err, errlen) < 0)
		return -1;
	p->gen = l.info.gen;
	p->want_current = p->want_current && l.info.enabled;
	*info = l.info;
	return 0;
}

void scan_proc_attach(struct scan_proc *p, struct event_base *base)
{
	p->base = base;
	fcntl(p->sv_fd, F_SETFL, fcntl(p->sv_fd, F_GETFL) | O_NONBLOCK);
	p->sv_ev = event_new(base, p->sv_fd, EV_READ | EV_PERSIST, on_supervisor, p);
	event_add(p->sv_ev, NULL);
	p->later_ev = event_new(base, -1, 0, sp_pool_on_later, p);
	if (p->stash || p->failed)
		sp_pool_later(p);
}

int scan_proc_load(struct scan_proc *p, const struct scan_proc_settings *s, int load_timeout_s,
		   struct scan_proc_gen_info *info, char *err, size_t errlen)
{
	if (p->sv_dead) {
		snprintf(err, errlen, "the scanner supervisor has ended: restart mxgate");
		return -1;
	}
	struct buf b;
	buf_init(&b);
	spm_load_encode(s, p->gen + 1, &b);
	int sent = b.len <= SPM_SEQPACKET_MAX ? (int)send(p->sv_fd, b.data, b.len, MSG_NOSIGNAL) : -1;
	buf_fini(&b);
	if (sent < 0) {
		snprintf(err, errlen, "cannot reach the scanner supervisor: %s", strerror(errno));
		return -1;
	}
	/* the socket is non-blocking on the loop: wait_loaded polls */
	struct spm_loaded l;
	if (wait_loaded(p, load_timeout_s, &l, err, errlen) < 0)
		return -1;
	p->gen = l.info.gen;
	p->want_current = l.info.enabled && s->proc.processes > 0;
	keep_conf(p, &s->proc);
	*info = l.info;
	sp_pool_retire_old(p);
	return 0;
}

void scan_proc_stop(struct scan_proc **pp)
{
	struct scan_proc *p = *pp;
	if (!p)
		return;
	*pp = NULL;
	while (p->qhead) {
		struct sp_job *j = p->qhead;
		p->qhead = j->next;
		sp_pool_job_fail(j, SCAN_PROC_ABORTED, "shutting down");
	}
	while (p->scanners) {
		struct sp_scanner *s = p->scanners;
		if (s->job) {
			struct sp_job *j = s->job;
			s->job = NULL;
			sp_pool_job_fail(j, SCAN_PROC_ABORTED, "shutting down");
		}
		sp_pool_scanner_free(s);
	}
	while (p->failed) {
		struct sp_job *j = p->failed;
		p->failed = j->next;
		sp_pool_job_fail(j, SCAN_PROC_ABORTED, "shutting down");
	}
	while (p->stash) {
		struct sp_stash *x = p->stash;
		p->stash = x->next;
		if (x->fd >= 0)
			close(x->fd);
		buf_fini(&x->pkt);
		xfree(x);
	}
	if (p->sv_ev)
		event_free(p->sv_ev);
	if (p->later_ev)
		event_free(p->later_ev);
	close(p->sv_fd); /* EOF: the supervisor kills its scanners and exits */
	for (int waited = 0; waited < STOP_WAIT_MS; waited += 10) {
		pid_t r = waitpid(p->sv_pid, NULL, WNOHANG);
		if (r == p->sv_pid || (r < 0 && errno == ECHILD))
			break;
		poll(NULL, 0, 10);
	}
	xfree(p);
}

void scan_proc_stats(const struct scan_proc *p, struct scan_proc_stats *out)
{
	*out = p->st;
	out->gen = p->gen;
	out->queued = p->nqueued;
	out->scanners = out->busy = 0;
	for (const struct sp_scanner *s = p->scanners; s; s = s->next) {
		out->scanners++;
		out->busy += s->job != NULL;
	}
}
