/*
 * scan_proc.h - content scanning in sandboxed scanner processes.
 *
 * Processes (docs/ARCHITECTURE.md):
 *   gateway     the caller of this API, on its event loop;
 *   supervisor  forked by scan_proc_start() before the gateway reads any
 *               key or opens the spool; it loads the scan engine (rules,
 *               anti-virus signatures) as the starting user, becomes
 *               scan_user, and forks the scanners from the loaded engine
 *               (its memory is shared copy-on-write); it reaps them,
 *               replaces the ones that end and reports every exit; a
 *               reload loads a new generation there;
 *   scanner     scan_processes of them: rlimits, no new privileges and a
 *               seccomp filter, then one scan at a time: a request and the
 *               message as a read-only file descriptor in, the report and
 *               an edit list (mail/mail_edit.h) out.
 * Nothing from a scanner is trusted: answers are parsed with bounds,
 * edit lists checked. A scanner that crashes, breaks its filter or limits,
 * or does not answer within scan_process_timeout is replaced; its job
 * ends SCAN_PROC_LOST (the message's fault as far as the poison guard is
 * concerned) and every other job goes on.
 */
#ifndef SCAN_PROC_SCAN_PROC_H
#define SCAN_PROC_SCAN_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mail/mail_edit.h"
#include "scan/scan.h"
#include "scan/scan_policy.h"

struct event_base;
struct buf;

/* The scanner processes' own settings. */
struct scan_proc_conf {
	int processes;		/* scan_processes: scanners per generation (0: no scanning) */
	const char *user;	/* scan_user ("": stay the starting user) */
	int timeout_ms;		/* scan_process_timeout: one scan, wall clock */
	uint64_t memory_limit;	/* scan_memory_limit: address space a scanner may add to what it inherited */
	int cpu_limit_s;	/* scan_cpu_limit: CPU seconds of one scan */
	unsigned max_scans;	/* scan_process_max_scans: a scanner is replaced after this many */
	bool sandbox;		/* scan_sandbox: the seccomp filter */
	bool net;		/* a back end is a daemon (clamd, spamd, rspamd): sockets allowed */
};

/* Everything one generation is built from (strings borrowed). */
struct scan_proc_settings {
	struct scan_conf scan;
	struct scan_policy_conf policy;
	struct scan_proc_conf proc;
};

/* What the supervisor says about a loaded generation. */
struct scan_proc_gen_info {
	unsigned gen;
	bool enabled;	/* anything to scan with (scan_engine_enabled) */
	bool has_av;	/* an anti-virus engine */
	bool av_kept;	/* a reload shared the previous anti-virus engine */
	int64_t load_ms;
	char describe[2048]; /* scan_engine_describe() of the generation */
};

struct scan_proc;

/* Fork the supervisor: it loads generation 1 from s (strings borrowed: it
 * has a copy of this process's memory). Call as the starting user, before
 * any secret is read and before threads. uid/gid: scan_user's ((uid_t)-1:
 * stay this user). NULL with err (socketpair, fork). */
struct scan_proc *scan_proc_start(const struct scan_proc_settings *s, uid_t uid, gid_t gid, char *err,
				  size_t errlen);
/* Wait for generation 1 (at most load_timeout_s): 0 with info, or -1 with
 * err (the engine could not be loaded: a bad rule file, signatures). */
int scan_proc_ready(struct scan_proc *p, int load_timeout_s, struct scan_proc_gen_info *info, char *err,
		    size_t errlen);
/* On the loop (after the privilege drop): start taking scanners and jobs. */
void scan_proc_attach(struct scan_proc *p, struct event_base *base);
/* A reload: the supervisor loads a new generation from s (the loop waits
 * for it, at most load_timeout_s). 0: it is in force, new jobs go to its
 * scanners, the old ones finish what they hold and end; -1 with err: the
 * old generation stays. */
int scan_proc_load(struct scan_proc *p, const struct scan_proc_settings *s, int load_timeout_s,
		   struct scan_proc_gen_info *info, char *err, size_t errlen);
/* Jobs in flight end SCAN_PROC_ABORTED (callbacks run), the supervisor
 * and its scanners are stopped and waited for. */
void scan_proc_stop(struct scan_proc **p);

/* ---- jobs ---- */

enum scan_proc_kind {
	SCAN_PROC_SCAN,	 /* scan_run() then scan_apply() */
	SCAN_PROC_APPLY, /* scan_apply() of a recorded report (scanned before the queue) */
};

struct scan_proc_job {
	enum scan_proc_kind kind;
	int fd;		   /* the message (borrowed; the scanner gets a read-only descriptor of it) */
	uint64_t off, len; /* where the message is in the file */
	const char *qid, *client_ip, *helo, *sender;
	const char *const *rcpt;
	size_t nrcpt;
	const struct scan_report *report; /* SCAN: the DNSBL findings so far; APPLY: the recorded report */
};

enum scan_proc_status {
	SCAN_PROC_OK,	    /* a verdict: report and outcome filled */
	SCAN_PROC_TEMPFAIL, /* no verdict: a scanner daemon down or slow (report.error says) */
	SCAN_PROC_LOST,	    /* the scanner process died, broke a limit or timed out (report.error says) */
	SCAN_PROC_ABORTED,  /* shutting down, or no scanner can be had */
};

struct scan_proc_result {
	enum scan_proc_status status;
	struct scan_report report;
	unsigned flags;	 /* outcome: SCAN_ACT_* */
	bool changed;	 /* edits is the new content */
	size_t cleaned;	 /* infected parts replaced */
	struct mail_edits edits;
	double ms_wait;	 /* queued for a free scanner */
};

/* Called on the loop; res is the callback's to read, freed after it returns. */
typedef void (*scan_proc_done_fn)(void *arg, struct scan_proc_result *res);

/* Queue a job; done is called exactly once, never from inside this call. */
void scan_proc_submit(struct scan_proc *p, const struct scan_proc_job *job, scan_proc_done_fn done, void *arg);

struct scan_proc_stats {
	size_t scanners, busy, queued;
	uint64_t started, exited, lost, timeouts, killed_filter;
	unsigned gen;
};
void scan_proc_stats(const struct scan_proc *p, struct scan_proc_stats *out);

/* ---- test hooks ---- */
/* MXGATE_TEST_SCAN_FAULT = "MARKER=crash|hang|memory|syscall[,...]" (and the
 * older MXGATE_TEST_SCAN_CRASH = "MARKER", a crash): a scanner whose
 * message contains MARKER aborts, loops, allocates without end, or opens
 * its own message for writing (a system call its filter forbids). */

#endif
