/*
 * gw_int.h - private to gw/: the flow's state shared by its files, and the
 * functions one stage offers another.
 *
 * struct gw is created by gw_open() and lives until gw_close(); after
 * gw_start() it is used on the loop thread only (scan workers get copies
 * and references, never the struct). Other modules see gw.h and
 * gw_event.h only.
 */
#ifndef GW_GW_INT_H
#define GW_GW_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "gw/gw.h"
#include "gw/gw_event.h"
#include "scan/scan.h"
#include "smtp/smtp_server.h"

struct conf;
struct event_base;
struct event;
struct dns;
struct map;
struct queue_store;
struct queue_commit;
struct queue_sched;
struct deliver;
struct queue_attempt;
struct gw_learner;
struct deliver_result;
struct route_maps;
struct mail_env;
struct ev_pool;
struct scan_dnsbl;
struct scan_proc;
struct queue_draft;
struct net_addr;
typedef struct ssl_ctx_st SSL_CTX;

/* One loaded configuration and what is built from it that sessions borrow
 * (gw_reload.c). Refcounted on the loop thread: the gateway holds the
 * current one, each smtp settings snapshot and each scan set hold theirs;
 * the last reference frees it. */
struct gw_gen {
	const struct conf *conf;
	struct conf *owned;  /* conf when ours to free (reloads); NULL for main's */
	SSL_CTX *tls_server; /* STARTTLS (owned); NULL: not offered */
	size_t refs;
};

/* A generation of the scanner processes as gw sees it (gw_scan.c): the
 * policy (redirect addresses, the headers of an unscanned message) and
 * what the supervisor said of its engine. Each scan job holds a reference. */
struct gw_scanset {
	struct scan_policy policy;
	struct gw_gen *gen; /* the policy's strings (a reference) */
	bool enabled;	    /* anything to scan with */
	bool has_av, av_kept;
	int64_t load_ms;
	char *describe; /* the engine, for event=scanning_on */
	size_t refs;
};

struct gw_observer {
	gw_observer_fn fn;
	void *ctx;
};

struct gw {
	const struct conf *conf; /* gen->conf: the settings in force */
	struct gw_gen *gen;
	/* main.cf as given at start, for reloads (borrowed from main) */
	const char *conf_path;
	const char *const *conf_ov;
	size_t conf_nov;
	/* start-up (gw.c) */
	bool root;	     /* started as root: the ids below are mail_owner's */
	uid_t uid;	     /* (uid_t)-1: not root */
	gid_t gid;
	int *lfd;	     /* the SMTP listening sockets until the server takes them (-1: none) */
	bool started;	     /* gw_start succeeded: gw_close logs event=stopped */
	bool ran;	     /* gw_run returned: gw_close removes the pid file */
	struct map *tls_policy; /* smtp_tls_policy_maps (owned) */
	struct gw_scanset *scanset;
	struct scan_dnsbl **dnsbl_old; /* replaced by a reload, freed once no lookup waits */
	size_t ndnsbl_old;
	struct event *retire_timer;
	unsigned reloads;
	struct event_base *base;
	SSL_CTX *tls_server, *tls_client;
	struct dns *dns;
	struct queue_store *qs;
	struct queue_commit *qc;
	struct queue_sched *q;
	struct deliver *dl;
	struct smtp_server *smtpd;
	struct map *attempts;	  /* id -> gw_deliver.c's attempt */
	struct scan_dnsbl *dnsbl; /* NULL: no dnsbl_sites */
	struct map *dnsbl_sess;	  /* session id -> gw_accept_dnsbl.c's state */
	struct route_maps *maps;  /* swapped whole on SIGHUP */
	/* scanning (gw_scan.c): the scanner processes and the edit threads */
	struct scan_proc *sp;
	uid_t scan_uid; /* scan_user's ids; (uid_t)-1: not switched */
	gid_t scan_gid;
	struct ev_pool *edit_pool;
	bool before_queue;
	bool stopping;
	struct event *sig_term, *sig_int, *sig_usr1, *sig_hup, *stop_timer, *drain_timer;
	uint64_t accepted, rejected;
	/* Bayes learning (gw_learn.c) */
	struct gw_learner *learner;
	uint64_t bayes_learned[GW_LEARN_NSRC][2]; /* [source][0 ham, 1 spam]: messages newly learned */
	uint64_t bayes_failed;			  /* messages a store write lost */
	struct gw_observer obs[GW_OBSERVERS_MAX]; /* gw_event.c */
	size_t nobs;
};

/* gw_learn.c: learning into the Bayes store (a worker thread writes it in
 * batches). _submit copies l; false when nothing is queued (use_bayes off,
 * no tokens, too much waiting). */
void gw_learn_init(struct gw *g);
void gw_learn_free(struct gw *g);
struct scan_learn;
bool gw_learn_submit(struct gw *g, const struct scan_learn *l, bool spam, enum gw_learn_source src, const char *qid);

/* gw_event.c: publish ev to every observer (loop thread). */
void gw_emit(struct gw *g, const struct gw_event *ev);

/* gw_accept.c: the SMTP policy and the hand-off to the queue */
void gw_accept_policy(struct gw *g, struct smtp_policy *p);
/* The commit callback of an accepted message: 250 (or 452) to the waiting session. */
void gw_accept_committed(void *arg, uint64_t session, const char *qid, int err);

/* gw_accept_dnsbl.c: the DNSBL object and the checks at connect and RCPT */
int gw_accept_dnsbl_start(struct gw *g, char *err, size_t errlen);
void gw_accept_dnsbl_stop(struct gw *g);
/* A DNSBL object for c's settings; NULL with err (bad dnsbl_sites). */
struct scan_dnsbl *gw_accept_dnsbl_new(struct gw *g, const struct conf *c, char *err, size_t errlen);
/* Put d in force (NULL: no DNSBL); the old one is freed once nothing waits on it. */
void gw_accept_dnsbl_replace(struct gw *g, struct scan_dnsbl *d);
/* Whether the client at a is looked up (outside mynetworks, and unless
 * dnsbl_check_private, outside private ranges). */
bool gw_accept_dnsbl_wanted(const struct gw *g, const struct net_addr *a);
void gw_accept_dnsbl_connect(struct gw *g, const struct smtp_client_info *ci);
/* What a RCPT that waited does with the verdict: reply->code 554 (refused)
 * or 0 (go on); the continuation answers the session (smtp_server_resume). */
typedef void (*gw_accept_dnsbl_then_fn)(void *arg, uint64_t session, const char *rcpt, bool trusted,
					struct mail_reply *reply);
/* SMTP_HOOK_DONE with reply->code 0: go on (relay control); with 554:
 * refused; SMTP_HOOK_ASYNC: the verdict comes later, through then(then_arg, ...). */
enum smtp_hook gw_accept_dnsbl_rcpt(struct gw *g, const struct smtp_client_info *ci, const char *rcpt, bool trusted,
				    struct mail_reply *reply, gw_accept_dnsbl_then_fn then, void *then_arg);
void gw_accept_dnsbl_disconnect(struct gw *g, const struct smtp_client_info *ci);

/* gw_scan.c: the scan hand-off */
/* In gw_open, as root and first: fork the scanner supervisor (scan_user's
 * ids looked up). -1 with err. */
int gw_scan_open(struct gw *g, char *err, size_t errlen);
/* At the end of gw_open: wait for the supervisor's first generation. */
int gw_scan_ready(struct gw *g, char *err, size_t errlen);
/* In gw_start, on the loop: take scanners and jobs; the edit threads. */
void gw_scan_init(struct gw *g);
/* A reload: the supervisor loads gen's scanning settings as a new
 * generation (in force at once when it succeeds: call it last). NULL with
 * err: the old generation stays. */
struct gw_scanset *gw_scan_reload(struct gw *g, struct gw_gen *gen, char *err, size_t errlen);
void gw_scanset_unref(struct gw_scanset *s);
/* Put s in force (takes the reference); jobs in flight keep theirs. */
void gw_scan_swap(struct gw *g, struct gw_scanset *s);
void gw_scan_free(struct gw *g);
void gw_scan_process(void *ctx, const char *qid, const struct mail_env *env);
/* before-queue: scan the draft, then commit or refuse; false when not scanning before the queue */
bool gw_scan_before_queue(struct gw *g, uint64_t session, struct queue_draft *d, struct mail_env *env);

/* gw_route.c: processing (input/ -> output/) */
/* Expand env's recipients: -1 retry later, 0 nothing changes (no envs), 1 envs[0..n) replace it. */
int gw_route_envs(struct gw *g, const char *qid, const struct mail_env *env, struct mail_env ***envs, size_t *n);
void gw_route_process(void *ctx, const char *qid, const struct mail_env *env);

/* gw_deliver.c: the delivery hand-off (queue_sched_ops.deliver, deliver_new's result callback) */
void gw_deliver_attempt(void *ctx, const struct queue_attempt *a);
void gw_deliver_result(void *ctx, const struct deliver_result *res);
/* Free the attempts still waiting for results (at the end). */
void gw_deliver_fini(struct gw *g);

/* gw_reload.c: configuration generations */
struct gw_gen *gw_gen_new(const struct conf *c, struct conf *owned);
struct gw_gen *gw_gen_ref(struct gw_gen *gen);
void gw_gen_unref(struct gw_gen *gen);
/* The SMTP server's settings of gen (gw_conf_smtpd), holding a reference
 * on gen that the snapshot releases. */
void gw_gen_smtpd(struct gw_gen *gen, struct smtp_server_conf *sc);
/* The configuration and the TLS policy map (at the end). */
void gw_reload_fini(struct gw *g);

#endif
