/*
 * gw.c - start-up, the event loop, signals, privilege drop and shutdown.
 *
 * Start-up order matters (main.c calls it in this order): gw_open reads
 * TLS keys and maps and binds the listening sockets as root and opens the
 * spool (created and given to mail_owner); gw_drop_privileges writes the
 * pid file and drops to mail_owner for good before any byte from the
 * network is read; gw_start builds the flow on the loop. Shutdown
 * (SIGTERM/SIGINT): stop accepting, let sessions finish their pending
 * commit (others get 421), stop starting deliveries, wait for commits and
 * deliveries in flight up to shutdown_timeout; gw_close frees everything.
 * A second signal exits at once (nothing acknowledged is lost: only work in
 * flight is repeated after the restart). SIGHUP: gw_reload() (gw_reload.c).
 * Privileges: started as root, the process becomes mail_owner (no
 * supplementary groups) keeping only CAP_NET_BIND_SERVICE, so a reload can
 * bind a new port below 1024; umask 077 for every file.
 */
#include "gw/gw.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <openssl/ssl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "base/log.h"
#include "base/map.h"
#include "base/xalloc.h"
#include "conf/conf.h"
#include "deliver/deliver.h"
#include "dns/dns.h"
#include "gw/gw_conf.h"
#include "gw/gw_int.h"
#include "net/net_listen.h"
#include "net/net_tls.h"
#include "queue/queue_commit.h"
#include "queue/queue_sched.h"
#include "queue/queue_store.h"
#include "route/route.h"
#include "smtp/smtp_server.h"

#define DRAIN_POLL_MS 50
#define LISTEN_BACKLOG 1024

/* ------------------------------------------------------------ signals and shutdown */

static void check_drained(struct gw *g)
{
	if (!g->stopping)
		return;
	if (smtp_server_session_count(g->smtpd) == 0 && queue_commit_pending(g->qc) == 0 &&
	    deliver_inflight(g->dl) == 0) {
		log_info("event=shutdown_drained");
		event_base_loopbreak(g->base);
	}
}

static void on_drain_poll(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct gw *g = arg;
	check_drained(g);
	struct timeval tv = { 0, DRAIN_POLL_MS * 1000 };
	evtimer_add(g->drain_timer, &tv);
}

static void on_stop_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct gw *g = arg;
	log_warn("event=shutdown_timeout sessions=%zu commits=%zu deliveries=%zu action=exit",
		 smtp_server_session_count(g->smtpd), queue_commit_pending(g->qc), deliver_inflight(g->dl));
	event_base_loopbreak(g->base);
}

static void on_smtp_done(void *arg)
{
	check_drained(arg);
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	struct gw *g = arg;
	if (g->stopping) {
		log_warn("event=shutdown_forced signal=%d", (int)sig);
		event_base_loopbreak(g->base);
		return;
	}
	g->stopping = true;
	log_info("event=shutdown_begin signal=%d sessions=%zu", (int)sig, smtp_server_session_count(g->smtpd));
	queue_sched_stop(g->q);
	deliver_close_idle(g->dl);
	smtp_server_shutdown(g->smtpd, on_smtp_done, g);
	struct timeval tv = { g->conf->shutdown_timeout, 0 };
	evtimer_add(g->stop_timer, &tv);
	struct timeval p = { 0, DRAIN_POLL_MS * 1000 };
	evtimer_add(g->drain_timer, &p);
}

static void on_usr1(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	char msg[200];
	gw_flush(arg, NULL, msg, sizeof msg);
}

/* SIGHUP: main.cf and the maps are read again and swapped in whole; any
 * error keeps everything in force (gw_reload.c logs what and why). */
static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	char err[512];
	log_info("event=reload_begin signal=%d", (int)sig);
	gw_reload(arg, err, sizeof err);
}

/* ------------------------------------------------------------ gw_open: as root */

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max > 1048576 ? 1048576 : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Logging as configured; signals and umask for the life of the process. */
static void process_setup(const struct conf *c)
{
	enum log_level lvl = strcmp(c->log_level, "debug") == 0	    ? LOG_L_DEBUG
			     : strcmp(c->log_level, "warning") == 0 ? LOG_L_WARN
			     : strcmp(c->log_level, "error") == 0   ? LOG_L_ERR
								    : LOG_L_INFO;
	log_init(c->syslog_name, c->syslog_facility[0] ? log_facility_from_name(c->syslog_facility) : -1, lvl);
	log_set_json(strcmp(c->log_format, "json") == 0);
	signal(SIGPIPE, SIG_IGN);
	/* until the loop handles them: a SIGHUP or SIGUSR1 during start-up (a
	 * reload right after systemctl start) must not kill the process */
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	umask(077); /* spool files, copies, the pid file (made 0644 on purpose) */
	raise_nofile();
}

/* mail_owner's ids, when started as root. */
static int lookup_owner(struct gw *g, char *err, size_t errlen)
{
	const struct conf *c = g->conf;
	g->uid = (uid_t)-1;
	g->gid = (gid_t)-1;
	g->root = geteuid() == 0;
	if (!g->root)
		return 0;
	struct passwd *pw = getpwnam(c->mail_owner);
	if (!pw) {
		snprintf(err, errlen,
			 "mail_owner user '%s' does not exist (create it: useradd --system --no-create-home %s)",
			 c->mail_owner, c->mail_owner);
		return -1;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, errlen, "mail_owner must not be root");
		return -1;
	}
	g->uid = pw->pw_uid;
	g->gid = pw->pw_gid;
	return 0;
}

/* The STARTTLS context, the TLS policy map and the client context. */
static int open_tls(struct gw *g, char *err, size_t errlen)
{
	const struct conf *c = g->conf;
	char why[512];
	if (c->smtpd_tls_cert_file[0]) {
		g->gen->tls_server = net_tls_server_ctx(c->smtpd_tls_cert_file, c->smtpd_tls_key_file, why, sizeof why);
		g->tls_server = g->gen->tls_server;
		if (!g->tls_server) {
			snprintf(err, errlen, "TLS certificate %s / key %s: %s", c->smtpd_tls_cert_file,
				 c->smtpd_tls_key_file, why);
			return -1;
		}
	}
	if (c->smtp_tls_policy_maps[0]) {
		g->tls_policy = deliver_tls_policy_load(c->smtp_tls_policy_maps, err, errlen);
		if (!g->tls_policy)
			return -1;
	}
	/* a policy entry may ask for TLS even when the default level is none */
	if (strcmp(c->smtp_tls_security_level, "none") != 0 || g->tls_policy) {
		g->tls_client = net_tls_client_ctx(c->smtp_tls_CAfile, why, sizeof why);
		if (!g->tls_client) {
			snprintf(err, errlen, "TLS client: %s", why);
			return -1;
		}
	}
	return 0;
}

/* The maps, read as root: a map may be readable only by root (reloads
 * read as mail_owner); one that cannot be read only refuses its recipients. */
static int open_maps(struct gw *g, char *err, size_t errlen)
{
	g->maps = gw_conf_maps_load(g->conf, err, errlen);
	if (!g->maps)
		return -1;
	if (route_maps_error(g->maps))
		log_err("event=maps_error error=\"%s\" action=\"local recipients get 451 until a reload (SIGHUP) can "
			"read it\"",
			route_maps_error(g->maps));
	return 0;
}

static int open_listeners(struct gw *g, char *err, size_t errlen)
{
	const struct conf *c = g->conf;
	g->lfd = xcalloc(c->smtpd_listen_n ? c->smtpd_listen_n : 1, sizeof *g->lfd);
	for (size_t i = 0; i < c->smtpd_listen_n; i++)
		g->lfd[i] = -1;
	for (size_t i = 0; i < c->smtpd_listen_n; i++) {
		g->lfd[i] = net_listen_tcp(&c->smtpd_listen[i].addr, LISTEN_BACKLOG);
		if (g->lfd[i] < 0) {
			snprintf(err, errlen, "cannot listen on %s: %s", c->smtpd_listen[i].text, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* The Bayes store's directory (use_bayes): created (0755: the scanners read
 * the store) and given to mail_owner when missing, as the spool is; one
 * warning when mail_owner cannot write there (learning would fail). */
static void bayes_dir(struct gw *g)
{
	const struct conf *c = g->conf;
	if (!c->use_bayes || !c->bayes_path[0])
		return;
	char *dir = xstrdup(c->bayes_path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir) {
		xfree(dir);
		return;
	}
	*slash = '\0';
	struct stat st;
	if (fs_mkdir_for(c->bayes_path, 0755) == 1 && g->uid != (uid_t)-1 && chown(dir, g->uid, g->gid) < 0)
		log_warn("event=bayes_dir_chown path=%s error=\"%s\"", dir, strerror(errno));
	if (stat(dir, &st) < 0)
		log_warn("event=bayes_dir_missing path=%s error=\"%s\" effect=\"Bayes learning fails\"", dir,
			 strerror(errno));
	else if (g->uid != (uid_t)-1 && st.st_uid != g->uid && (st.st_mode & 0002) == 0 &&
		 !(st.st_gid == g->gid && (st.st_mode & 0020)))
		log_warn("event=bayes_dir_not_writable path=%s owner_uid=%u mail_owner_uid=%u effect=\"auto-learning and "
			 "quarantine learning fail: give the directory to mail_owner\"",
			 dir, (unsigned)st.st_uid, (unsigned)g->uid);
	xfree(dir);
}

struct gw *gw_open(const struct conf *c, const char *path, const char *const *ov, size_t nov, char *err,
		   size_t errlen)
{
	struct gw *g = xcalloc(1, sizeof *g);
	g->conf = c;
	g->gen = gw_gen_new(c, NULL);
	g->conf_path = path;
	g->conf_ov = ov;
	g->conf_nov = nov;
	process_setup(c);
	/* the scanner supervisor first: forked before any key or socket exists here */
	if (lookup_owner(g, err, errlen) < 0 || gw_scan_open(g, err, errlen) < 0 || open_tls(g, err, errlen) < 0 ||
	    open_maps(g, err, errlen) < 0 || open_listeners(g, err, errlen) < 0)
		goto fail;
	g->qs = queue_store_open(c->queue_directory, g->uid, g->gid, err, errlen);
	if (!g->qs || gw_scan_ready(g, err, errlen) < 0)
		goto fail;
	bayes_dir(g);
	return g;
fail:
	gw_close(&g);
	return NULL;
}

void gw_owner(const struct gw *g, uid_t *uid, gid_t *gid)
{
	*uid = g->uid;
	*gid = g->gid;
}

/* ------------------------------------------------------------ the privilege drop */

/* Keep CAP_NET_BIND_SERVICE (only) after setuid: a reload may add a
 * listener on a port below 1024. Without it the gateway still runs; such a
 * reload then says a restart is needed. */
static void keep_bind_capability(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	memset(data, 0, sizeof data);
	data[CAP_TO_INDEX(CAP_NET_BIND_SERVICE)].permitted = CAP_TO_MASK(CAP_NET_BIND_SERVICE);
	data[CAP_TO_INDEX(CAP_NET_BIND_SERVICE)].effective = CAP_TO_MASK(CAP_NET_BIND_SERVICE);
	if (syscall(SYS_capset, &hdr, data) < 0)
		log_warn("event=capability_warning error=\"cannot keep CAP_NET_BIND_SERVICE: %s\" effect=\"a reload "
			 "cannot add a listener on a port below 1024\"",
			 strerror(errno));
}

/* Written as root before the drop: no symlink followed, 0644, owned by
 * mail_owner so that the gateway can remove it at exit where the directory
 * lets it (e.g. systemd's RuntimeDirectory=). */
static int write_pid_file(const char *path, uid_t uid, gid_t gid)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	char line[32];
	int n = snprintf(line, sizeof line, "%ld\n", (long)getpid());
	int rc = write(fd, line, (size_t)n) == n && fchmod(fd, 0644) == 0 ? 0 : -1;
	if (rc == 0 && uid != (uid_t)-1 && fchown(fd, uid, gid) < 0)
		rc = -1;
	int e = errno;
	close(fd);
	errno = e;
	return rc;
}

/* The pid file comes here, after every socket (admin's control socket
 * too) is bound: a second gateway refused at start-up leaves the running
 * one's pid file alone. */
int gw_drop_privileges(struct gw *g, char *err, size_t errlen)
{
	const struct conf *c = g->conf;
	if (c->pid_file[0] && write_pid_file(c->pid_file, g->uid, g->gid) < 0)
		log_warn("event=pid_file_error file=%s error=\"%s\"", c->pid_file, strerror(errno));
	if (!g->root)
		return 0;
	bool keep = prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) == 0;
	if (setgroups(1, &g->gid) < 0 || setgid(g->gid) < 0 || setuid(g->uid) < 0) {
		snprintf(err, errlen, "cannot switch to user %s: %s", c->mail_owner, strerror(errno));
		return -1;
	}
	prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L);
	if (keep)
		keep_bind_capability();
	if (setuid(0) == 0 || setgid(0) == 0 || getuid() != g->uid || geteuid() != g->uid || getegid() != g->gid) {
		snprintf(err, errlen, "privileges could be regained after dropping them");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ gw_start: unprivileged */

/* The queue manager, delivery and the SMTP server on the sockets bound as root. */
static void start_modules(struct gw *g)
{
	const struct conf *c = g->conf;
	struct queue_sched_conf qconf;
	gw_conf_queue(c, &qconf);
	struct queue_sched_ops qops = { .ctx = g, .process = gw_scan_process, .deliver = gw_deliver_attempt };
	g->q = queue_sched_new(g->base, g->qs, g->qc, &qconf, &qops);
	struct net_addr *self = xcalloc(c->smtpd_listen_n + 1, sizeof *self);
	struct deliver_conf dconf;
	gw_conf_deliver(c, g->tls_client, g->tls_policy, self, &dconf);
	g->dl = deliver_new(g->base, g->dns, &dconf, gw_deliver_result, g);
	xfree(self);
	struct smtp_server_conf sconf;
	gw_gen_smtpd(g->gen, &sconf);
	struct smtp_policy pol;
	gw_accept_policy(g, &pol);
	g->smtpd = smtp_server_new(g->base, &sconf, &pol);
	for (size_t i = 0; i < c->smtpd_listen_n; i++)
		smtp_server_add_listener(g->smtpd, g->lfd[i], c->smtpd_listen[i].text);
	xfree(g->lfd); /* the server owns the sockets now */
	g->lfd = NULL;
}

static void start_signals(struct gw *g)
{
	g->sig_term = evsignal_new(g->base, SIGTERM, on_stop_signal, g);
	g->sig_int = evsignal_new(g->base, SIGINT, on_stop_signal, g);
	g->sig_usr1 = evsignal_new(g->base, SIGUSR1, on_usr1, g);
	g->sig_hup = evsignal_new(g->base, SIGHUP, on_hup, g);
	event_add(g->sig_term, NULL);
	event_add(g->sig_int, NULL);
	event_add(g->sig_usr1, NULL);
	event_add(g->sig_hup, NULL);
	g->stop_timer = evtimer_new(g->base, on_stop_timeout, g);
	g->drain_timer = evtimer_new(g->base, on_drain_poll, g);
}

int gw_start(struct gw *g, char *err, size_t errlen)
{
	const struct conf *c = g->conf;
	char why[512];
	g->base = event_base_new();
	g->dns = dns_new(g->base, c->dns_servers, c->dns_timeout, why, sizeof why);
	if (!g->dns) {
		snprintf(err, errlen, "DNS: %s", why);
		return -1;
	}
	if (gw_accept_dnsbl_start(g, err, errlen) < 0)
		return -1;
	g->attempts = map_new();
	g->qc = queue_commit_new(g->base, g->qs, c->queue_commit_threads);
	gw_scan_init(g);
	start_modules(g);
	start_signals(g);
	g->started = true;
	queue_sched_recover(g->q);
	return 0;
}

/* ------------------------------------------------------------ gw_run */

static void log_started(const struct gw *g)
{
	const struct conf *c = g->conf;
	char listen[512] = "";
	for (size_t i = 0; i < c->smtpd_listen_n; i++)
		snprintf(listen + strlen(listen), sizeof listen - strlen(listen), "%s%s", i ? "," : "",
			 c->smtpd_listen[i].text);
	size_t nl, na, nm;
	route_maps_stats(g->maps, &nl, &na, &nm);
	log_info("event=started version=%s host=%s listen=%s queue=%s relayhost=%s user=%s tls=%s local_domains=%zu "
		 "aliases=%zu mailertable=%zu",
		 MXGATE_VERSION, c->myhostname, listen, c->queue_directory, c->relayhost[0] ? c->relayhost : "(MX)",
		 g->root ? c->mail_owner : "(unchanged)", g->tls_server ? "yes" : "no", nl, na, nm);
}

int gw_run(struct gw *g)
{
	log_started(g);
	event_base_dispatch(g->base);
	g->ran = true;
	return 0;
}

/* ------------------------------------------------------------ gw_close */

/* The flow's modules, in the order that lets work in flight end well:
 * deliveries in flight end with 4xx and are retried later; scans in flight
 * finish first, their results go to the queue. */
static void stop_flow(struct gw *g)
{
	deliver_free(&g->dl);
	gw_scan_free(g);
	queue_commit_free(&g->qc);
	smtp_server_free(&g->smtpd);
	struct queue_sched_stats st;
	memset(&st, 0, sizeof st);
	if (g->q)
		queue_sched_stats(g->q, &st);
	queue_sched_free(&g->q);
	if (!g->started)
		return;
	uint64_t commits, dsyncs, fsyncs;
	queue_store_stats(g->qs, &commits, &dsyncs, &fsyncs);
	log_info("event=stopped accepted=%llu delivered=%llu bounced=%llu queued=%zu commits=%llu file_fsyncs=%llu "
		 "dir_fsyncs=%llu",
		 (unsigned long long)g->accepted, (unsigned long long)st.delivered, (unsigned long long)st.bounced, st.known,
		 (unsigned long long)commits, (unsigned long long)fsyncs, (unsigned long long)dsyncs);
}

static void free_signals(struct gw *g)
{
	struct event **evs[] = { &g->sig_term, &g->sig_int, &g->sig_usr1, &g->sig_hup, &g->stop_timer, &g->drain_timer };
	for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++) {
		if (*evs[i])
			event_free(*evs[i]);
		*evs[i] = NULL;
	}
}

void gw_close(struct gw **gp)
{
	struct gw *g = *gp;
	if (!g)
		return;
	const struct conf *c = g->conf;
	g->nobs = 0; /* no observer is called any more */
	stop_flow(g);
	for (size_t i = 0; g->lfd && i < c->smtpd_listen_n; i++) /* start-up failed before the server took them */
		if (g->lfd[i] >= 0)
			close(g->lfd[i]);
	xfree(g->lfd);
	free_signals(g);
	gw_deliver_fini(g);
	gw_accept_dnsbl_stop(g);
	route_maps_free(&g->maps);
	dns_free(&g->dns);
	queue_store_close(&g->qs);
	if (g->tls_client)
		SSL_CTX_free(g->tls_client);
	if (g->base)
		event_base_free(g->base);
	if (c->pid_file[0] && g->ran)
		unlink(c->pid_file); /* may fail after the privilege drop: harmless */
	gw_reload_fini(g);   /* the configuration in force and its STARTTLS context */
	xfree(g);
	*gp = NULL;
}
