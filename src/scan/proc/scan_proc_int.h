/*
 * scan_proc_int.h - private to scan/proc/: the wire format between the
 * gateway, the supervisor and the scanners, and what their files share.
 *
 * Frames on the gateway<->scanner stream sockets: a 32-bit little-endian
 * payload length, then the payload: one type octet and TLV fields (16-bit
 * tag, 32-bit length, value). A request carries the message as a file
 * descriptor (SCM_RIGHTS) with its first octet. The supervisor socket is
 * SOCK_SEQPACKET: one payload per packet, no length prefix. Every decoder
 * takes hostile bytes (a compromised scanner) and bounds every length.
 */
#ifndef SCAN_PROC_SCAN_PROC_INT_H
#define SCAN_PROC_SCAN_PROC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/buf.h"
#include "scan/proc/scan_proc.h"

struct buf;
struct scan_engine;

enum spm_type {
	SPM_SCAN = 1,	  /* gateway -> scanner, message fd attached */
	SPM_APPLY = 2,	  /* gateway -> scanner, message fd attached */
	SPM_ANSWER = 3,	  /* scanner -> gateway */
	SPM_DEATH = 4,	  /* scanner -> gateway from a signal handler: why it is dying */
	SPM_LOAD = 16,	  /* gateway -> supervisor: settings of a new generation */
	SPM_LOADED = 17,  /* supervisor -> gateway: the generation, or why it failed */
	SPM_SCANNER = 18, /* supervisor -> gateway: a new scanner, its socket attached */
	SPM_EXITED = 19,  /* supervisor -> gateway: a scanner ended */
	SPM_KILL = 20,	  /* gateway -> supervisor: kill this scanner */
};

#define SPM_STR_MAX 4096	       /* qid, addresses, HELO, one recipient */
#define SPM_RCPT_MAX 100000	       /* recipients in a request */
#define SPM_REPORT_MAX (16u << 20)     /* an encoded report */
#define SPM_LEARN_MAX (32u + 16u * SCAN_LEARN_MAX_KEYS) /* an encoded scan_learn */
#define SPM_FRAME_MAX (1024u << 20)    /* any frame, whatever the job */
#define SPM_SEQPACKET_MAX 65536	       /* one packet on the supervisor socket */
#define SPM_DEATH_LEN 9		       /* type + reason + system call number */

enum spm_death { SPM_DEATH_SYSCALL = 1, SPM_DEATH_MEMORY = 2, SPM_DEATH_CPU = 3, SPM_DEATH_ABORT = 4 };

/* A request (decoded: strings owned). */
struct spm_req {
	int type; /* SPM_SCAN or SPM_APPLY */
	uint64_t id, off, len;
	char *qid, *client_ip, *helo, *sender;
	char **rcpt;
	size_t nrcpt;
	char *report; /* encoded scan_report: DNSBL hits, or the recorded report */
};

/* An answer (decoded: owned). */
struct spm_ans {
	uint64_t id;
	bool tempfail, timeout;
	char *error;  /* tempfail: why */
	char *report; /* encoded scan_report */
	char *learn;  /* encoded scan_learn (scan_learn_encode) or NULL */
	unsigned flags;
	bool changed;
	uint32_t cleaned;
	struct mail_edits edits;
};

struct spm_loaded {
	bool ok;
	struct scan_proc_gen_info info; /* ok */
	char err[1024];			/* !ok */
};

struct spm_exited {
	unsigned id, gen;
	pid_t pid;
	int status;	  /* wait status */
	long maxrss_kb;	  /* its peak resident memory */
	unsigned scans;	  /* jobs it had taken */
};

/* ---- scan_proc_wire.c ---- */
/* Frames for the stream sockets: the 4-octet length is written first. */
void spm_req_encode(const struct scan_proc_job *job, int type, uint64_t id, struct buf *out);
void spm_ans_encode(const struct spm_ans *a, struct buf *out);
/* Payload (after the length) -> struct; 0 or -1 with err. */
int spm_req_decode(const uint8_t *p, size_t n, struct spm_req *r, char *err, size_t errlen);
void spm_req_fini(struct spm_req *r);
int spm_ans_decode(const uint8_t *p, size_t n, struct spm_ans *a, char *err, size_t errlen);
void spm_ans_fini(struct spm_ans *a);
/* The death note's payload: built in a signal handler (no allocation). */
void spm_death_build(uint8_t out[4 + SPM_DEATH_LEN], uint32_t reason, int32_t sysno);
int spm_death_decode(const uint8_t *p, size_t n, uint32_t *reason, int32_t *sysno);

/* Supervisor packets (no length prefix). */
void spm_load_encode(const struct scan_proc_settings *s, unsigned gen, struct buf *out);
/* Settings decoded: strings owned by the struct (spm_settings_fini). */
struct spm_settings {
	struct scan_proc_settings s;
	unsigned gen;
	char *owned[64];
	size_t nowned;
};
int spm_load_decode(const uint8_t *p, size_t n, struct spm_settings *st, char *err, size_t errlen);
void spm_settings_fini(struct spm_settings *st);
void spm_loaded_encode(const struct spm_loaded *l, struct buf *out);
int spm_loaded_decode(const uint8_t *p, size_t n, struct spm_loaded *l);
void spm_scanner_encode(unsigned id, pid_t pid, unsigned gen, struct buf *out);
int spm_scanner_decode(const uint8_t *p, size_t n, unsigned *id, pid_t *pid, unsigned *gen);
void spm_exited_encode(const struct spm_exited *e, struct buf *out);
int spm_exited_decode(const uint8_t *p, size_t n, struct spm_exited *e);
void spm_kill_encode(unsigned id, struct buf *out);
int spm_kill_decode(const uint8_t *p, size_t n, unsigned *id);

/* ---- scan_proc_io.c: descriptors over unix sockets ---- */
/* sendmsg of p[0..n) with fd (-1: none) attached; a short write returns
 * the count sent (the descriptor went with the first octet). -1: errno. */
ssize_t spm_send_fd(int sock, const void *p, size_t n, int fd);
/* recvmsg into p[0..n); a received descriptor goes to *fd (else -1;
 * extra descriptors are closed). 0 at EOF, -1: errno. */
ssize_t spm_recv_fd(int sock, void *p, size_t n, int *fd);
/* Blocking: write all of p[0..n) (EINTR retried). */
int spm_write_all(int sock, const void *p, size_t n);

/* ---- scan_proc_sandbox.c ---- */
/* Become uid/gid for good (supervisor, as root). 0 or -1 with err. */
int spm_sandbox_user(uid_t uid, gid_t gid, char *err, size_t errlen);
/* In a new scanner, before its first request: limits, no new privileges,
 * the death-note signal handlers on sock, the seccomp filter (when
 * c->sandbox). 0 or -1 with err (the scanner then exits). */
int spm_sandbox_enter(const struct scan_proc_conf *c, int sock, char *err, size_t errlen);
/* The death note: one frame on the scanner's socket (async-signal-safe). */
void spm_sandbox_note(uint32_t reason, int32_t sysno);
/* Per scan: the CPU limit counts from now. */
void spm_sandbox_scan_begin(const struct scan_proc_conf *c);
/* Name of a system call number ("openat"), for the log. */
const char *spm_sandbox_syscall_name(int sysno, char *buf, size_t size);

/* ---- scan_proc_worker.c ---- */
/* The scanner's loop on sock until EOF; never returns. */
_Noreturn void spm_worker_main(int sock, struct scan_engine *engine, const struct scan_policy *policy,
			       const struct scan_proc_conf *c);

/* ---- scan_proc_super.c ---- */
/* The supervisor's loop on sock (SEQPACKET to the gateway); never returns. */
_Noreturn void spm_super_main(int sock, const struct scan_proc_settings *s, uid_t uid, gid_t gid);

/* ---- the gateway's side: scan_proc.c (supervisor, generations) and
 * scan_proc_pool.c (jobs, scanners' sockets) share these ---- */
struct event;
struct evbuffer;

struct sp_job {
	struct sp_job *next;
	uint64_t id;
	int fd;	      /* read-only descriptor of the message, ours until it is sent */
	uint64_t len; /* the message's length: bounds the answer */
	struct buf frame;
	scan_proc_done_fn done;
	void *arg;
	char qid[64];
	int64_t t_submit;
};

struct sp_scanner {
	struct scan_proc *p;
	struct sp_scanner *next;
	unsigned id, gen;
	pid_t pid;
	int fd;
	struct event *rev, *wev, *deadline;
	struct evbuffer *in;
	struct buf out; /* what is left of the request being written */
	size_t out_off;
	int out_fd;	/* the descriptor, until the first octet is sent */
	struct sp_job *job;
	bool retiring;
	uint32_t death;
	int32_t death_sysno;
	unsigned scans;
};

/* A packet from the supervisor kept for later (it came during a blocking wait). */
struct sp_stash {
	struct sp_stash *next;
	struct buf pkt;
	int fd;
};

struct scan_proc {
	pid_t sv_pid;
	int sv_fd;
	struct event_base *base;
	struct event *sv_ev, *later_ev;
	struct scan_proc_conf conf; /* the generation in force (user not kept) */
	unsigned gen;
	bool want_current; /* the current generation has scanners (scan_processes > 0, something to scan) */
	struct sp_scanner *scanners;
	struct sp_job *qhead, *qtail;
	size_t nqueued;
	struct sp_job *failed; /* jobs to end from the loop (ABORTED) */
	struct sp_stash *stash, *stash_tail;
	uint64_t next_job;
	bool sv_dead;
	int64_t unavailable_logged;
	struct scan_proc_stats st;
};

void sp_pool_dispatch(struct scan_proc *p);
/* s is gone (EOF, broken, killed): its job ends LOST; s is freed. */
void sp_pool_scanner_lost(struct sp_scanner *s, const char *why);
void sp_pool_scanner_free(struct sp_scanner *s);
/* End j without a verdict: LOST (counts for the poison guard) or ABORTED. */
void sp_pool_job_fail(struct sp_job *j, enum scan_proc_status st, const char *why);
/* Run sp_pool_on_later from the loop (failed jobs, kept packets). */
void sp_pool_later(struct scan_proc *p);
void sp_pool_on_later(int fd, short what, void *arg);
/* Older generations go: at once when idle, else after their answer. */
void sp_pool_retire_old(struct scan_proc *p);
/* A new scanner (its socket fd) from the supervisor. */
void sp_pool_add_scanner(struct scan_proc *p, unsigned id, pid_t pid, unsigned gen, int fd);

#endif
