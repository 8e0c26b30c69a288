/*
 * scan_proc_super.c - the scanner supervisor: loads scan engines, forks
 * and replaces the scanners, reports their ends.
 *
 * Forked by the gateway before it reads any secret; its own process group
 * (a terminal's ^C reaches the gateway, which decides). Generation 1 is
 * loaded as the starting user (rule files and signatures readable only by
 * root load as at start), then it becomes scan_user for good; reloads
 * load as scan_user. Only the gateway talks to it (a SOCK_SEQPACKET pair):
 * LOAD -> LOADED (and scan_processes new scanners; those of the older
 * generation end when the gateway lets them go), KILL, and EOF, which
 * ends it and its scanners. Every scanner that ends is reported (EXITED,
 * with its wait status and peak memory); one of the current generation
 * is replaced unless it ended because the gateway let it go (exit 0).
 * It parses nothing from the network and never sees a message.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "scan/proc/scan_proc_int.h"

#define RESPAWN_WINDOW_US 1000000 /* spawns are counted per second ... */
#define RESPAWN_PER_WINDOW 4	   /* ... beyond scan_processes times this, wait a second */

struct sv_scanner {
	unsigned id, gen;
	pid_t pid;
};

struct sv {
	int sock;
	int sig[2]; /* SIGCHLD self-pipe */
	struct scan_engine *engine;
	struct scan_policy policy;
	struct spm_settings cur; /* the current generation's settings (owned strings) */
	const struct scan_proc_settings *s;
	unsigned gen, next_id;
	struct sv_scanner *w;
	size_t nw, cap;
	size_t want; /* scanners of the current generation to keep */
	int64_t window_us;
	unsigned spawned_in_window;
	bool throttled;
};

static int sigchld_fd = -1;

static void on_sigchld(int sig)
{
	(void)sig;
	int e = errno;
	ssize_t w = write(sigchld_fd, "c", 1);
	(void)w;
	errno = e;
}

static void send_packet(struct sv *v, const struct buf *b, int fd)
{
	if (spm_send_fd(v->sock, b->data, b->len, fd) < 0 && errno != EPIPE)
		log_err("event=scan_supervisor_error error=\"cannot write to the gateway: %s\"", strerror(errno));
}

/* ------------------------------------------------------------ generations */

/* Scanned once by each new engine before any scanner is forked: what the
 * libraries set up on first use (GMime and its charset converters,
 * libclamav's per-scan state; the rules engine compiles its own patterns
 * when it loads) is then in the memory the scanners inherit, and never
 * asked of their filter. */
static const char warm_up_msg[] =
	"Received: from mail.example.org (mail.example.org [192.0.2.10])\r\n"
	"\tby mx.example.net (Postfix) with ESMTPS id 4F1A2B3C4D\r\n"
	"\tfor <user@example.net>; Mon, 7 Dec 2026 10:00:00 +0000 (UTC)\r\n"
	"Received: from [198.51.100.7] (helo=client.example.org)\r\n"
	"\tby mail.example.org with esmtpa (Exim 4.96) id 1abcde-000001-AB; Mon, 7 Dec 2026 09:59:59 +0000\r\n"
	"From: =?iso-8859-1?q?J=F6rg?= <joerg@example.org>\r\n"
	"To: user@example.net\r\nReply-To: other@example.com\r\n"
	"Subject: =?utf-8?b?d2FybS11cA==?=\r\n"
	"Date: Mon, 7 Dec 2026 10:00:00 +0000\r\nMessage-ID: <warm-up@example.org>\r\n"
	"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"w1\"\r\n\r\n"
	"--w1\r\nContent-Type: multipart/alternative; boundary=\"w2\"\r\n\r\n"
	"--w2\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
	"Gr=FC=DFe, see http://www.example.org/ and www.example.com\r\n"
	"--w2\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
	"<html><body><p style=\"color:#fff\">Hello <a href=\"http://example.org/x\">here</a></p></body></html>\r\n"
	"--w2--\r\n"
	"--w1\r\nContent-Type: application/octet-stream; name=\"a.bin\"\r\n"
	"Content-Disposition: attachment; filename=\"a.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	"AAECAwQFBgcICQoLDA0ODw==\r\n"
	"--w1\r\nContent-Type: message/rfc822\r\n\r\n"
	"From: inner@example.org\r\nSubject: inner\r\n\r\nbegin 644 b.txt\r\n#86)C\r\n`\r\nend\r\n"
	"--w1--\r\n";

static void warm_up(struct scan_engine *e)
{
	if (!scan_engine_enabled(e))
		return;
	const char *rcpt[] = { "user@example.net" };
	struct scan_input in = { .data = warm_up_msg, .len = sizeof warm_up_msg - 1, .qid = "warm-up",
				 .client_ip = "192.0.2.10", .helo = "mail.example.org", .sender = "joerg@example.org",
				 .rcpt = rcpt, .nrcpt = 1 };
	scan_engine_warm_up(e, &in);
}

static int load(struct sv *v, const struct scan_proc_settings *s, unsigned gen, struct spm_loaded *out)
{
	int64_t t0 = clock_mono_us();
	memset(out, 0, sizeof *out);
	bool kept = false;
	struct scan_engine *e = scan_engine_new_reuse(&s->scan, v->engine, &kept, out->err, sizeof out->err);
	if (!e)
		return -1;
	warm_up(e);
	struct scan_policy p;
	if (scan_policy_build(&s->policy, &p, out->err, sizeof out->err) < 0) {
		scan_policy_fini(&p);
		scan_engine_free(&e);
		return -1;
	}
	scan_engine_free(&v->engine);
	if (v->gen)
		scan_policy_fini(&v->policy);
	v->engine = e;
	v->policy = p;
	v->gen = gen;
	v->want = scan_engine_enabled(e) ? (size_t)(s->proc.processes > 0 ? s->proc.processes : 0) : 0;
	out->ok = true;
	out->info.gen = gen;
	out->info.enabled = scan_engine_enabled(e);
	out->info.has_av = scan_engine_has_av(e);
	out->info.av_kept = kept;
	out->info.load_ms = (clock_mono_us() - t0) / 1000;
	struct buf d;
	buf_init(&d);
	scan_engine_describe(e, &d);
	snprintf(out->info.describe, sizeof out->info.describe, "%s", d.data ? d.data : "");
	buf_fini(&d);
	return 0;
}

/* ------------------------------------------------------------ scanners */

/* In the new scanner: nothing of the supervisor's but the engine. */
static _Noreturn void scanner_child(struct sv *v, int fd)
{
	/* nothing open but stdio and its socket (the others' sockets went to the gateway) */
	if (fd > 3)
		close_range(3, (unsigned)fd - 1, 0);
	close_range((unsigned)fd + 1, ~0u, 0);
	signal(SIGCHLD, SIG_DFL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_NAME, "mxgate-scanner");
	log_forked();
	char err[300];
	if (spm_sandbox_enter(&v->cur.s.proc, fd, err, sizeof err) < 0) {
		log_err("event=scanner_error error=\"%s\"", err);
		_exit(5);
	}
	spm_worker_main(fd, v->engine, &v->policy, &v->cur.s.proc);
}

static void spawn(struct sv *v)
{
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		log_err("event=scan_supervisor_error error=\"socketpair: %s\"", strerror(errno));
		return;
	}
	unsigned id = ++v->next_id;
	pid_t pid = fork();
	if (pid < 0) {
		log_err("event=scan_supervisor_error error=\"fork: %s\"", strerror(errno));
		close(sp[0]);
		close(sp[1]);
		return;
	}
	if (pid == 0)
		scanner_child(v, sp[1]);
	close(sp[1]);
	v->w = xgrow(v->w, &v->cap, v->nw + 1, sizeof *v->w);
	v->w[v->nw++] = (struct sv_scanner){ .id = id, .gen = v->gen, .pid = pid };
	struct buf b;
	buf_init(&b);
	spm_scanner_encode(id, pid, v->gen, &b);
	send_packet(v, &b, sp[0]);
	buf_fini(&b);
	close(sp[0]);
	v->spawned_in_window++;
}

static size_t current_count(const struct sv *v)
{
	size_t n = 0;
	for (size_t i = 0; i < v->nw; i++)
		n += v->w[i].gen == v->gen;
	return n;
}

/* Bring the current generation up to want, at most RESPAWN_PER_WINDOW x want a second. */
static void fill(struct sv *v)
{
	int64_t now = clock_mono_us();
	if (now - v->window_us >= RESPAWN_WINDOW_US) {
		v->window_us = now;
		v->spawned_in_window = 0;
		v->throttled = false;
	}
	while (current_count(v) < v->want) {
		if (v->spawned_in_window >= RESPAWN_PER_WINDOW * v->want + 1) {
			if (!v->throttled)
				log_err("event=scanner_respawn_throttled spawned=%u window_ms=%d reason=\"scanners end as "
					"soon as they start\"",
					v->spawned_in_window, RESPAWN_WINDOW_US / 1000);
			v->throttled = true;
			return;
		}
		spawn(v);
	}
}

static void reap(struct sv *v)
{
	for (;;) {
		int st;
		struct rusage ru;
		pid_t pid = wait4(-1, &st, WNOHANG, &ru);
		if (pid <= 0)
			return;
		size_t i = 0;
		while (i < v->nw && v->w[i].pid != pid)
			i++;
		if (i == v->nw)
			continue;
		struct spm_exited e = { .id = v->w[i].id, .gen = v->w[i].gen, .pid = pid, .status = st,
					.maxrss_kb = ru.ru_maxrss };
		v->w[i] = v->w[--v->nw];
		struct buf b;
		buf_init(&b);
		spm_exited_encode(&e, &b);
		send_packet(v, &b, -1);
		buf_fini(&b);
	}
}

static void kill_one(struct sv *v, unsigned id)
{
	for (size_t i = 0; i < v->nw; i++)
		if (v->w[i].id == id)
			kill(v->w[i].pid, SIGKILL);
}

static _Noreturn void stop(struct sv *v)
{
	for (size_t i = 0; i < v->nw; i++)
		kill(v->w[i].pid, SIGKILL);
	while (v->nw) {
		pid_t pid = waitpid(-1, NULL, 0);
		if (pid < 0 && errno != EINTR)
			break;
		for (size_t i = 0; i < v->nw; i++)
			if (v->w[i].pid == pid)
				v->w[i] = v->w[--v->nw];
	}
	_exit(0);
}

/* ------------------------------------------------------------ the loop */

static void on_packet(struct sv *v, const uint8_t *p, size_t n)
{
	if (n == 0)
		return;
	if (p[0] == SPM_KILL) {
		unsigned id;
		if (spm_kill_decode(p, n, &id) == 0)
			kill_one(v, id);
		return;
	}
	if (p[0] != SPM_LOAD)
		return;
	struct spm_settings st;
	struct spm_loaded l;
	memset(&l, 0, sizeof l);
	if (spm_load_decode(p, n, &st, l.err, sizeof l.err) == 0 && load(v, &st.s, st.gen, &l) == 0) {
		spm_settings_fini(&v->cur);
		v->cur = st;
	} else {
		l.ok = false;
		spm_settings_fini(&st);
	}
	struct buf b;
	buf_init(&b);
	spm_loaded_encode(&l, &b);
	send_packet(v, &b, -1);
	buf_fini(&b);
}

static _Noreturn void run(struct sv *v)
{
	uint8_t *pkt = xmalloc(SPM_SEQPACKET_MAX);
	for (;;) {
		fill(v);
		struct pollfd pf[2] = { { v->sock, POLLIN, 0 }, { v->sig[0], POLLIN, 0 } };
		int rc = poll(pf, 2, v->throttled ? 1000 : -1);
		if (rc < 0 && errno != EINTR)
			stop(v);
		if (pf[1].revents & POLLIN) {
			char drain[64];
			while (read(v->sig[0], drain, sizeof drain) > 0)
				;
			reap(v);
		}
		if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t k = recv(v->sock, pkt, SPM_SEQPACKET_MAX, 0);
			if (k == 0 || (k < 0 && errno != EINTR && errno != EAGAIN))
				stop(v); /* the gateway is gone, or stopping */
			if (k > 0)
				on_packet(v, pkt, (size_t)k);
		}
	}
}

static void setup_signals(struct sv *v)
{
	static const int ignored[] = { SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGPIPE };
	for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
		signal(ignored[i], SIG_IGN);
	if (pipe2(v->sig, O_CLOEXEC | O_NONBLOCK) < 0)
		_exit(1);
	sigchld_fd = v->sig[1];
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigchld;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
}

_Noreturn void spm_super_main(int sock, const struct scan_proc_settings *s, uid_t uid, gid_t gid)
{
	struct sv V, *v = &V;
	memset(v, 0, sizeof V);
	v->sock = sock;
	v->s = s;
	pid_t parent = getppid();
	log_forked();
	prctl(PR_SET_NAME, "mxgate-scan-sv");
	setpgid(0, 0);
	/* nothing of the gateway's but stdio and this socket */
	if (sock > 3)
		close_range(3, (unsigned)sock - 1, 0);
	close_range((unsigned)sock + 1, ~0u, 0);
	setup_signals(v);
	struct spm_loaded l;
	struct buf b;
	buf_init(&b);
	int rc = load(v, s, 1, &l);
	if (rc == 0 && uid != (uid_t)-1 && spm_sandbox_user(uid, gid, l.err, sizeof l.err) < 0) {
		rc = -1;
		l.ok = false;
	}
	/* after the change of user (which clears it): die with the gateway */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	spm_loaded_encode(&l, &b);
	send_packet(v, &b, -1);
	buf_fini(&b);
	if (rc < 0)
		_exit(1);
	/* the settings of generation 1 are the gateway's memory: keep a copy that reloads can replace */
	spm_load_encode(s, 1, &b);
	char err[200];
	if (spm_load_decode((const uint8_t *)b.data, b.len, &v->cur, err, sizeof err) < 0)
		_exit(1);
	buf_fini(&b);
	run(v);
}
