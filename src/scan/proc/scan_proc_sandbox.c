/*
 * scan_proc_sandbox.c - what a scanner process may do.
 *
 * In order, before a scanner reads its first request:
 *   limits       RLIMIT_AS: the address space it inherited plus
 *                scan_memory_limit; RLIMIT_CPU: scan_cpu_limit seconds
 *                from the start of each scan; no core files; 64 files;
 *   privileges   PR_SET_NO_NEW_PRIVS, not dumpable (no ptrace by its user);
 *   death notes  SIGSYS (the filter), SIGXCPU and an allocation failure
 *                write one frame on the gateway's socket before exiting, so
 *                the log can say why;
 *   seccomp      (scan_sandbox = yes) an allow list; anything else traps
 *                (SIGSYS) and the scanner ends. Files: opened read-only, or
 *                created (libclamav's temporary files, O_CREAT): opening an
 *                existing file for writing or truncation is refused, as are
 *                exec, fork and threads, signals to others, ptrace, chown,
 *                link/rename, mount, and sockets unless a back end is a
 *                daemon. Executable memory only from a file (a library
 *                loaded on demand): no anonymous PROT_EXEC mapping, no
 *                mprotect to PROT_EXEC. The user
 *                (scan_user, spm_sandbox_user) keeps it out of the spool:
 *                the filter cannot see paths.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/xalloc.h"
#include "scan/proc/scan_proc_int.h"

#define SCANNER_NOFILE 64

static int death_sock = -1; /* the scanner's socket, for the notes (one per process) */

void spm_sandbox_note(uint32_t reason, int32_t sysno)
{
	uint8_t f[4 + SPM_DEATH_LEN];
	spm_death_build(f, reason, sysno);
	if (death_sock >= 0) {
		ssize_t w = write(death_sock, f, sizeof f); /* write(2): allowed by the filter, async-signal-safe */
		(void)w;
	}
}

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	spm_sandbox_note(SPM_DEATH_SYSCALL, si->si_syscall);
	_exit(128 + sig);
}

static void on_sigxcpu(int sig)
{
	spm_sandbox_note(SPM_DEATH_CPU, 0);
	_exit(128 + sig);
}

static void on_oom(size_t n)
{
	(void)n;
	spm_sandbox_note(SPM_DEATH_MEMORY, 0);
}

int spm_sandbox_user(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
		snprintf(err, errlen, "cannot switch to the scanners' user (uid %ld): %s", (long)uid, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0 || getuid() != uid || geteuid() != uid || getegid() != gid) {
		snprintf(err, errlen, "the scanners' privileges could be regained");
		return -1;
	}
	return 0;
}

/* VmSize of this process in bytes (0 if unknown). */
static uint64_t vm_size(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return 0;
	char line[256];
	unsigned long long kb = 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmSize: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return (uint64_t)kb * 1024;
}

static int limits(const struct scan_proc_conf *c, char *err, size_t errlen)
{
	struct rlimit zero = { 0, 0 }, files = { SCANNER_NOFILE, SCANNER_NOFILE };
	setrlimit(RLIMIT_CORE, &zero);
	if (setrlimit(RLIMIT_NOFILE, &files) < 0) {
		snprintf(err, errlen, "RLIMIT_NOFILE: %s", strerror(errno));
		return -1;
	}
	if (c->memory_limit > 0) {
		uint64_t base = vm_size();
		struct rlimit as = { (rlim_t)(base + c->memory_limit), (rlim_t)(base + c->memory_limit) };
		if (base == 0 || setrlimit(RLIMIT_AS, &as) < 0) {
			snprintf(err, errlen, "RLIMIT_AS: %s", base ? strerror(errno) : "no /proc/self/status");
			return -1;
		}
	}
	return 0;
}

void spm_sandbox_scan_begin(const struct scan_proc_conf *c)
{
	if (c->cpu_limit_s <= 0)
		return;
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	rlim_t used = (rlim_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1);
	struct rlimit cpu = { used + (rlim_t)c->cpu_limit_s, RLIM_INFINITY };
	setrlimit(RLIMIT_CPU, &cpu);
}

static int handlers(int sock)
{
	death_sock = sock;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return -1;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigxcpu;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGXCPU, &sa, NULL) < 0)
		return -1;
	xalloc_set_oom_hook(on_oom);
	return 0;
}

/* ------------------------------------------------------------ the filter */

static const int allowed[] = {
	/* I/O on descriptors it has or creates */
	SCMP_SYS(read), SCMP_SYS(readv), SCMP_SYS(pread64), SCMP_SYS(preadv), SCMP_SYS(write), SCMP_SYS(writev),
	SCMP_SYS(pwrite64), SCMP_SYS(lseek), SCMP_SYS(close), SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(statx),
	SCMP_SYS(stat), SCMP_SYS(lstat), SCMP_SYS(access), SCMP_SYS(faccessat), SCMP_SYS(faccessat2),
	SCMP_SYS(readlink), SCMP_SYS(readlinkat), SCMP_SYS(getdents64), SCMP_SYS(fcntl), SCMP_SYS(ftruncate),
	SCMP_SYS(fsync), SCMP_SYS(fdatasync), SCMP_SYS(dup), SCMP_SYS(dup2), SCMP_SYS(dup3), SCMP_SYS(statfs),
	SCMP_SYS(fstatfs),
	/* libclamav's temporary directories and files (uid and mode keep them its own) */
	SCMP_SYS(mkdir), SCMP_SYS(mkdirat), SCMP_SYS(rmdir), SCMP_SYS(unlink), SCMP_SYS(unlinkat), SCMP_SYS(chmod),
	SCMP_SYS(fchmod), SCMP_SYS(fchmodat), SCMP_SYS(umask), SCMP_SYS(getcwd),
	/* memory */
	SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise), SCMP_SYS(brk),
	/* time, identity, randomness, its own limits */
	SCMP_SYS(futex), SCMP_SYS(sched_yield), SCMP_SYS(sched_getaffinity), SCMP_SYS(nanosleep),
	SCMP_SYS(clock_nanosleep), SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres), SCMP_SYS(gettimeofday),
	SCMP_SYS(time), SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getppid), SCMP_SYS(getuid), SCMP_SYS(geteuid),
	SCMP_SYS(getgid), SCMP_SYS(getegid), SCMP_SYS(getrandom), SCMP_SYS(getrusage), SCMP_SYS(uname),
	SCMP_SYS(sysinfo),
	/* signals to itself, and leaving */
	SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask), SCMP_SYS(sigaltstack), SCMP_SYS(restart_syscall),
	SCMP_SYS(exit), SCMP_SYS(exit_group),
};

/* The daemons' clients (clamd, spamd, rspamd): stream sockets only. */
static const int net_allowed[] = {
	SCMP_SYS(connect),     SCMP_SYS(setsockopt), SCMP_SYS(getsockopt), SCMP_SYS(getsockname),
	SCMP_SYS(getpeername), SCMP_SYS(shutdown),   SCMP_SYS(sendto),	   SCMP_SYS(recvfrom),
	SCMP_SYS(poll),	       SCMP_SYS(ppoll),
};

static int add_rules(scmp_filter_ctx f, const struct scan_proc_conf *c, int sock)
{
	int rc = 0;
	for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
		rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, allowed[i], 0);
	/* its socket to the gateway */
	rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(recvmsg), 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)sock));
	rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(sendmsg), 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)sock));
	/* files: read-only, or created (never an existing file opened for writing or truncated) */
	const scmp_datum_t wr = O_ACCMODE | O_TRUNC;
	rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, wr, 0));
	rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, O_CREAT, O_CREAT));
	rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(open), 1, SCMP_A1(SCMP_CMP_MASKED_EQ, wr, 0));
	rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(open), 1, SCMP_A1(SCMP_CMP_MASKED_EQ, O_CREAT, O_CREAT));
	/* memory, never executable unless it maps a file: a library loaded on demand (glibc's
	 * iconv modules for a charset GMime meets, libclamav's unrar) is mapped executable from its
	 * file; anonymous memory (where injected code would go) never is, nor made so by mprotect */
	rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 2, SCMP_A3(SCMP_CMP_MASKED_EQ, MAP_ANONYMOUS, 0),
			       SCMP_A4_32(SCMP_CMP_NE, (uint32_t)-1));
	rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	/* its own limits (the per-scan CPU limit), signals to itself (abort) */
	rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 1, SCMP_A0(SCMP_CMP_EQ, 0));
	rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(setrlimit), 0);
	rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
			       SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
	/* signal handlers (libraries set some), but never SIGSYS's: the filter's note is ours */
	rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(rt_sigaction), 1, SCMP_A0(SCMP_CMP_NE, SIGSYS));
	/* terminal queries (isatty): answered "not a terminal" */
	rc |= seccomp_rule_add(f, SCMP_ACT_ERRNO(ENOTTY), SCMP_SYS(ioctl), 0);
	if (c->net) {
		for (size_t i = 0; i < sizeof net_allowed / sizeof net_allowed[0]; i++)
			rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, net_allowed[i], 0);
		static const int families[] = { AF_UNIX, AF_INET, AF_INET6 };
		for (size_t i = 0; i < 3; i++)
			rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2,
					       SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)families[i]),
					       SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_STREAM));
	}
	return rc;
}

static int filter(const struct scan_proc_conf *c, int sock, char *err, size_t errlen)
{
	scmp_filter_ctx f = seccomp_init(SCMP_ACT_TRAP);
	if (!f) {
		snprintf(err, errlen, "seccomp_init failed");
		return -1;
	}
	int rc = add_rules(f, c, sock);
	if (rc == 0)
		rc = seccomp_load(f);
	seccomp_release(f);
	if (rc != 0) {
		snprintf(err, errlen, "seccomp filter: %s", strerror(rc < 0 ? -rc : rc));
		return -1;
	}
	return 0;
}

int spm_sandbox_enter(const struct scan_proc_conf *c, int sock, char *err, size_t errlen)
{
	if (limits(c, err, errlen) < 0)
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) < 0 || prctl(PR_SET_DUMPABLE, 0L, 0L, 0L, 0L) < 0) {
		snprintf(err, errlen, "prctl: %s", strerror(errno));
		return -1;
	}
	if (handlers(sock) < 0) {
		snprintf(err, errlen, "sigaction: %s", strerror(errno));
		return -1;
	}
	if (c->sandbox && filter(c, sock, err, errlen) < 0)
		return -1;
	return 0;
}

const char *spm_sandbox_syscall_name(int sysno, char *buf, size_t size)
{
	char *n = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, sysno);
	snprintf(buf, size, "%s", n ? n : "unknown");
	free(n);
	return buf;
}
