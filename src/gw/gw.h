/*
 * gw.h - the mail flow: smtp -> queue -> scan -> route -> deliver, and what
 * the administrator's surfaces (admin/) may see of it and ask of it.
 *
 * One struct gw owns the event loop and every module instance for the
 * life of the process; the modules never call each other, only gw does.
 * Lifecycle, in this order (main.c): gw_open as root, gw_drop_privileges,
 * gw_start, gw_run, gw_close. The flow's steps are published as events
 * (gw_event.h); the views and actions below are the rest of what other
 * modules may use. Everything after gw_start: loop thread only.
 */
#ifndef GW_GW_H
#define GW_GW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "queue/queue_sched.h" /* enum queue_op */

#ifndef MXGATE_VERSION
#define MXGATE_VERSION "0.1.0"
#endif

struct gw;
struct conf;
struct event_base;
struct queue_store;
struct scan_dnsbl;
struct smtp_server;

/* --- lifecycle --- */

/* As root (or as the user the tests run as): logging, mail_owner's ids,
 * TLS contexts, TLS policy and route maps, the SMTP listening sockets, the
 * spool. conf, path and ov[0..nov) are borrowed until gw_close: a reload
 * (SIGHUP) loads path with the same overrides again. NULL with the reason
 * in err (for event=startup_error). */
struct gw *gw_open(const struct conf *conf, const char *path, const char *const *ov, size_t nov, char *err,
		   size_t errlen);
/* mail_owner's ids ((uid_t)-1 and (gid_t)-1 when not started as root):
 * what sockets and files made before the drop are given to. */
void gw_owner(const struct gw *g, uid_t *uid, gid_t *gid);
/* Write the pid file, then (as root) become mail_owner for good, keeping
 * only CAP_NET_BIND_SERVICE. -1 with err: the process must exit. */
int gw_drop_privileges(struct gw *g, char *err, size_t errlen);
/* Unprivileged: the event loop, DNS, the DNSBL, queue manager, scanning,
 * delivery and the SMTP server on the sockets gw_open bound, signals, and
 * the queue's start-up recovery. -1 with err. */
int gw_start(struct gw *g, char *err, size_t errlen);
/* Log event=started and run the loop until SIGTERM/SIGINT has drained
 * sessions, commits and deliveries (or shutdown_timeout). Returns the
 * process exit status (0). */
int gw_run(struct gw *g);
/* Stop and free everything (deliveries in flight end with 4xx, scans in
 * flight finish into the queue); logs event=stopped when gw_start
 * succeeded; removes the pid file after a clean gw_run. *g becomes NULL. */
void gw_close(struct gw **g);

/* --- read-only views for observers (admin/): gw_conf and gw_queue_store
 * from gw_open, the others from gw_start, all until gw_close --- */

struct event_base *gw_base(const struct gw *g);
/* The configuration in force (a reload replaces it: do not keep it). */
const struct conf *gw_conf(const struct gw *g);
/* The spool, to read (listings, counts): changes go through gw_queue_op(). */
struct queue_store *gw_queue_store(const struct gw *g);
const struct queue_sched *gw_queue_sched(const struct gw *g);
const struct smtp_server *gw_smtp_server(const struct gw *g);
/* The DNSBL object in force; NULL: no dnsbl_sites. */
const struct scan_dnsbl *gw_dnsbl(const struct gw *g);
/* Whether a scan engine is in force (a scanner, the DNSBL or an access map). */
bool gw_scanning(const struct gw *g);
struct scan_proc_stats;
/* The scanner processes: how many, busy, jobs waiting, started, lost. */
void gw_scan_stats(const struct gw *g, struct scan_proc_stats *out);
/* Messages accepted (the 250 after DATA) and refused after their content
 * (452: not committed; a before-queue scan's 451 or 554). */
/* Where a message learned into Bayes came from. */
enum gw_learn_source { GW_LEARN_AUTO, GW_LEARN_RELEASE, GW_LEARN_DELETE_SPAM, GW_LEARN_NSRC };
struct gw_counters {
	uint64_t accepted, rejected;
	uint64_t bayes_learned[GW_LEARN_NSRC][2]; /* [source][0 ham, 1 spam] */
	uint64_t bayes_failed;
};
void gw_counters(const struct gw *g, struct gw_counters *out);
/* True once SIGTERM/SIGINT began the shutdown. */
bool gw_stopping(const struct gw *g);

/* --- actions --- */

/* Re-read main.cf (same path and -o overrides) and every file it names,
 * validate it whole and only then put it in force; open sessions keep
 * their settings. 0: the new configuration is in force; -1: the old one is
 * kept, err says why (each error is logged as event=reload_error). */
int gw_reload(struct gw *g, char *err, size_t errlen);
/* Retry deferred mail now: every message (domain NULL), or those with a
 * pending recipient in domain; dead destinations are forgotten first (a
 * flush is a real attempt). msg says how many. */
void gw_flush(struct gw *g, const char *domain, char *msg, size_t msglen);
/* Apply op to message qid (queue_sched_op: release takes it from hold/ or
 * quarantine/). 0 done, msg says what happened (for a quarantine release,
 * the new queue id); -1 refused, msg says why (no such message, wrong
 * state, busy). */
int gw_queue_op(struct gw *g, enum queue_op op, const char *qid, char *msg, size_t msglen);

#endif
