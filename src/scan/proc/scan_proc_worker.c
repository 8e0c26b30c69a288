/*
 * scan_proc_worker.c - a scanner process: one request at a time from the
 * gateway, answered with a report and an edit list.
 *
 * Runs inside the sandbox (scan_proc_sandbox.c), single-threaded, on the
 * engine and policy its supervisor loaded before forking it. It reads the
 * message from the descriptor that came with the request (read-only: the
 * gateway reopens it so), never from a path. EOF on its socket is the
 * gateway letting it go: it exits 0; after scan_process_max_scans it
 * answers and exits 3 (the supervisor replaces it); a request it cannot
 * read is a broken gateway: exit 2. Faults for the tests
 * (MXGATE_TEST_SCAN_FAULT, scan_proc.h) are acted out here.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fsutil.h"
#include "base/xalloc.h"
#include "scan/proc/scan_proc_int.h"

#define REQ_FRAME_MAX (64u << 20) /* a request: envelope and report, never the message */
#define FAULTS_MAX 8

enum fault { F_CRASH, F_HANG, F_SPIN, F_MEMORY, F_SYSCALL };

struct faults {
	char *marker[FAULTS_MAX];
	enum fault what[FAULTS_MAX];
	size_t n;
};

static void faults_add(struct faults *f, const char *marker, size_t n, const char *what)
{
	static const char *names[] = { "crash", "hang", "spin", "memory", "syscall" };
	if (f->n >= FAULTS_MAX || n == 0)
		return;
	for (int i = 0; i < 5; i++) {
		if (strcmp(what, names[i]) == 0) {
			f->marker[f->n] = xstrndup(marker, n);
			f->what[f->n++] = (enum fault)i;
			return;
		}
	}
}

/* MXGATE_TEST_SCAN_CRASH=MARKER and MXGATE_TEST_SCAN_FAULT=MARKER=what,... */
static void faults_read(struct faults *f)
{
	memset(f, 0, sizeof *f);
	const char *crash = getenv("MXGATE_TEST_SCAN_CRASH");
	if (crash && crash[0])
		faults_add(f, crash, strlen(crash), "crash");
	const char *spec = getenv("MXGATE_TEST_SCAN_FAULT");
	for (const char *p = spec; p && *p;) {
		size_t n = strcspn(p, ",");
		const char *eq = memchr(p, '=', n);
		if (eq) {
			char what[16];
			snprintf(what, sizeof what, "%.*s", (int)(n - (size_t)(eq - p) - 1), eq + 1);
			faults_add(f, p, (size_t)(eq - p), what);
		}
		p += n + (p[n] == ',');
	}
}

static void act_out(enum fault what, int fd)
{
	switch (what) {
	case F_CRASH:
		abort(); /* the poison message a real parser bug would be */
	case F_HANG:
		for (;;) {
			struct timespec ts = { 3600, 0 };
			nanosleep(&ts, NULL);
		}
	case F_SPIN:
		for (volatile unsigned long i = 0;; i++)
			;
	case F_MEMORY:
		for (;;) { /* until the address-space limit: xmalloc's hook writes the note */
			char *p = xmalloc(1u << 20);
			memset(p, 0xa5, 1u << 20);
		}
	case F_SYSCALL: {
		/* open its own message for writing: refused by the filter (or the user) */
		char path[64];
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		int w = open(path, O_RDWR);
		if (w >= 0)
			close(w);
		return;
	}
	}
}

/* One request frame (length prefix, payload) with its descriptor. 1, 0 at EOF, -1 broken. */
static int read_request(int sock, struct buf *payload, int *fd)
{
	uint8_t hdr[4];
	*fd = -1;
	ssize_t r = spm_recv_fd(sock, hdr, sizeof hdr, fd);
	if (r == 0)
		return 0;
	size_t got = r > 0 ? (size_t)r : 0;
	while (r > 0 && got < sizeof hdr) {
		r = read(sock, hdr + got, sizeof hdr - got);
		got += r > 0 ? (size_t)r : 0;
	}
	if (r <= 0)
		return -1;
	uint32_t n = (uint32_t)hdr[0] | (uint32_t)hdr[1] << 8 | (uint32_t)hdr[2] << 16 | (uint32_t)hdr[3] << 24;
	if (n == 0 || n > REQ_FRAME_MAX)
		return -1;
	buf_reset(payload);
	buf_reserve(payload, n);
	while (payload->len < n) {
		r = read(sock, payload->data + payload->len, n - payload->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		payload->len += (size_t)r;
	}
	return 1;
}

static void run_scan(struct scan_engine *engine, const struct spm_req *q, const char *data, size_t len,
		     struct scan_report *rep, struct spm_ans *a)
{
	if (q->report)
		scan_report_decode(q->report, rep); /* the DNSBL findings */
	struct scan_input in = {
		.data = data,
		.len = len,
		.qid = q->qid,
		.client_ip = q->client_ip,
		.helo = q->helo,
		.sender = q->sender,
		.rcpt = (const char *const *)q->rcpt,
		.nrcpt = q->nrcpt,
	};
	if (scan_run(engine, &in, rep) < 0) {
		a->tempfail = true;
		a->timeout = rep->tempfail_timeout;
		a->error = xstrdup(rep->error ? rep->error : "scan failed");
		/* a back end out of memory (libclamav's CL_EMEM under RLIMIT_AS): the
		 * message broke the limit; this process may be in a bad state too */
		if (strcasestr(a->error, "memory")) {
			spm_sandbox_note(SPM_DEATH_MEMORY, 0);
			_exit(4);
		}
	}
}

static void answer(int sock, const struct scan_policy *policy, struct scan_report *rep, const char *data, size_t len,
		   struct spm_ans *a)
{
	if (!a->tempfail) {
		struct scan_outcome out;
		scan_outcome_init(&out);
		scan_apply(policy, rep, data, len, &out);
		a->flags = out.flags;
		a->changed = out.changed;
		a->cleaned = (uint32_t)out.cleaned;
		mail_edits_move(&a->edits, &out.edits);
		scan_outcome_fini(&out);
	}
	struct buf r;
	buf_init(&r);
	scan_report_encode(rep, &r);
	a->report = buf_steal(&r, NULL);
	if (rep->learn.nkeys) {
		buf_init(&r);
		scan_learn_encode(&rep->learn, &r);
		a->learn = buf_steal(&r, NULL);
	}
	struct buf frame;
	buf_init(&frame);
	spm_ans_encode(a, &frame);
	if (spm_write_all(sock, frame.data, frame.len) < 0)
		_exit(2);
	buf_fini(&frame);
}

_Noreturn void spm_worker_main(int sock, struct scan_engine *engine, const struct scan_policy *policy,
			       const struct scan_proc_conf *c)
{
	struct faults faults;
	faults_read(&faults);
	/* Forked siblings share the supervisor's rand() state: libclamav names its
	 * temporary directories from it (and the second), so two scanners starting a
	 * scan in the same second collided on one name ("Can't create temporary
	 * directory"). Each scanner its own sequence. */
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	srand((unsigned)getpid() * 2654435761u ^ (unsigned)now.tv_nsec);
	struct buf payload;
	buf_init(&payload);
	for (unsigned scans = 0;; scans++) {
		int fd;
		int rc = read_request(sock, &payload, &fd);
		if (rc == 0)
			_exit(0);
		char err[200];
		struct spm_req q;
		if (rc < 0 || fd < 0 || spm_req_decode((const uint8_t *)payload.data, payload.len, &q, err, sizeof err) < 0)
			_exit(2);
		spm_sandbox_scan_begin(c);
		char *data = xmalloc(q.len + 1);
		if (q.len && fs_pread_all(fd, data, q.len, (off_t)q.off) < 0)
			_exit(2);
		data[q.len] = '\0';
		for (size_t i = 0; i < faults.n; i++)
			if (memmem(data, q.len, faults.marker[i], strlen(faults.marker[i])))
				act_out(faults.what[i], fd);
		struct scan_report rep;
		scan_report_init(&rep);
		struct spm_ans a;
		memset(&a, 0, sizeof a);
		a.id = q.id;
		if (q.type == SPM_SCAN)
			run_scan(engine, &q, data, q.len, &rep, &a);
		else if (!q.report || scan_report_decode(q.report, &rep) < 0)
			_exit(2); /* the gateway sends a report it decoded itself */
		answer(sock, policy, &rep, data, q.len, &a);
		spm_ans_fini(&a);
		scan_report_fini(&rep);
		spm_req_fini(&q);
		xfree(data);
		close(fd);
		if (c->max_scans && scans + 1 >= c->max_scans)
			_exit(3);
	}
}
