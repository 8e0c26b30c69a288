/*
 * gw_int.h - private to gw/: the application state shared by its files.
 */
#ifndef GW_GW_INT_H
#define GW_GW_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/metric.h"
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
struct deliver_result;
struct route_maps;
struct mail_env;
struct gw_attempt;
struct gw_ctl;
struct ev_pool;
struct scan_dnsbl;
struct queue_draft;
struct net_addr;
struct evhttp;
struct evhttp_request;
struct buf;
struct gw_status;
struct gw_status_target;
struct scan_outcome;
typedef struct ssl_ctx_st SSL_CTX;

/* What gw itself counts (gw_metrics.c renders it with the modules' own). */
enum gw_scanner { GW_SCANNER_VIRUS, GW_SCANNER_SPAM, GW_SCANNER_N };
enum gw_scan_stage { GW_STAGE_PARSE, GW_STAGE_VIRUS, GW_STAGE_SPAM, GW_STAGE_TOTAL, GW_STAGE_N };
struct gw_metrics {
	struct metric_counter verdict[SCAN_NCAT];
	struct metric_counter scan_errors[GW_SCANNER_N][2]; /* [..][0 error, 1 timeout] */
	struct metric_hist scan_time[GW_STAGE_N];
	struct metric_counter dnsbl_listed; /* sessions whose client reached dnsbl_threshold */
};

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

/* The scanning engine and policy in force (gw_scan.c): each scan job holds
 * a reference, so scans in flight finish on the set they started with. */
struct gw_scanset {
	struct scan_engine *engine; /* NULL: scanning off */
	struct scan_policy policy;
	struct gw_gen *gen;	    /* the policy's strings (a reference) */
	int64_t load_ms;	    /* time to build it (rules, virus database) */
	bool av_kept;		    /* a reload shared the previous anti-virus engine */
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
	struct map *attempts; /* id -> struct gw_attempt */
	struct scan_dnsbl *dnsbl;  /* NULL: no dnsbl_sites */
	struct map *dnsbl_sess;	   /* session id -> gw_accept_dnsbl.c's state */
	struct route_maps *maps; /* swapped whole on SIGHUP */
	/* scanning (gw_scan.c): NULL engine = off; scanset->engine */
	struct scan_engine *scan;
	struct ev_pool *scan_pool;
	bool before_queue;
	const char *crash_marker; /* MXGATE_TEST_SCAN_CRASH: fault injection for the poison-message test */
	int http_fd;	    /* bound before the privilege drop, then evhttp's */
	struct evhttp *http; /* NULL: no http_listen */
	struct gw_status *status; /* the status page's state (gw_status.c); NULL: no http_listen */
	bool stopping;
	struct gw_ctl *ctl; /* gw_ctl.c: the control socket, NULL = none */
	struct event *sig_term, *sig_int, *sig_usr1, *sig_hup, *stop_timer, *drain_timer;
	uint64_t accepted, rejected;
	struct gw_metrics m;
	struct gw_observer obs[GW_OBSERVERS_MAX]; /* gw_event.c */
	size_t nobs;
};

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

/* gw_scan.c */
/* The scan set of gen's settings (rules compiled, virus engine loaded, action
 * lists parsed); NULL with err. */
/* prev: the scanset in force (a reload), whose anti-virus engine is shared
 * when unchanged (scan_engine_new_reuse); NULL at start. */
struct gw_scanset *gw_scanset_new(struct gw_gen *gen, const struct gw_scanset *prev, char *err, size_t errlen);
void gw_scanset_unref(struct gw_scanset *s);
/* Put s in force (takes the reference); scans in flight keep the old one. */
void gw_scan_swap(struct gw *g, struct gw_scanset *s);
int gw_scan_init(struct gw *g, char *err, size_t errlen);
void gw_scan_free(struct gw *g);
void gw_scan_process(void *ctx, const char *qid, const struct mail_env *env);
/* before-queue: scan the draft, then commit or refuse; false when not scanning before the queue */
bool gw_scan_before_queue(struct gw *g, uint64_t session, struct queue_draft *d, struct mail_env *env);

/* gw_http.c: the HTTP listener (metrics, status page) */
int gw_http_bind(struct gw *g, char *err, size_t errlen); /* as root, before the drop */
int gw_http_start(struct gw *g, char *err, size_t errlen); /* on the loop */
void gw_http_free(struct gw *g);
/* "addr:port" of the request's client, for log lines */
void gw_http_client(struct evhttp_request *req, char *out, size_t outlen);
void gw_http_reply(struct evhttp_request *req, int code, const char *reason, const char *ctype, const void *body,
		   size_t len);
/* gw_status.c: the status page (its data, JSON API and quarantine actions).
 * gw_status_new as root (reads http_secret_file): 0, or -1 with err. */
int gw_status_new(struct gw *g, char *err, size_t errlen);
void gw_status_start(struct gw *g); /* on the loop: the history timer */
void gw_status_free(struct gw *g);
/* Answer a request gw_http.c has routed (method already checked). */
void gw_status_serve(struct gw *g, struct evhttp_request *req, const struct gw_status_target *t);
/* gw_metrics.c: the Prometheus text of the gateway's counters and gauges */
void gw_metrics_render(struct gw *g, struct buf *out);
/* The counters gw keeps, fed by its own events (scanned, scan failed, DNSBL listed). */
void gw_metrics_init(struct gw *g);

/* gw_queue.c: the administrator's operations (control socket, status page) */
enum gw_qop { GW_QOP_FLUSH, GW_QOP_HOLD, GW_QOP_RELEASE, GW_QOP_DELETE, GW_QOP_REQUEUE };
/* Apply op to message qid (release: from hold/ or quarantine/). 0 done; -1 refused, msg says
 * why (no such message, wrong state, busy). On success msg says what happened (for a
 * quarantine release, the new queue id). Loop thread only. */
int gw_queue_op(struct gw *g, enum gw_qop op, const char *qid, char *msg, size_t msglen);

/* gw_ctl.c: the control socket. open: as root, before the privilege drop
 * (bound, 0600, owned by uid/gid); start: once the loop exists; close:
 * at the end (the socket file is removed). */
int gw_ctl_open(struct gw *g, uid_t uid, gid_t gid, char *err, size_t errlen);
void gw_ctl_start(struct gw *g);
void gw_ctl_close(struct gw *g);

/* gw_reload.c: re-read main.cf and the maps and swap them in; 0 = new
 * config in force, -1 = the old one kept, err says why (SIGHUP and the
 * control socket's "reload"). */
int gw_reload(struct gw *g, char *err, size_t errlen);

/* gw_route.c: processing (input/ -> output/) */
/* Expand env's recipients: -1 retry later, 0 nothing changes (no envs), 1 envs[0..n) replace it. */
int gw_route_envs(struct gw *g, const char *qid, const struct mail_env *env, struct mail_env ***envs, size_t *n);
void gw_route_process(void *ctx, const char *qid, const struct mail_env *env);

/* gw_deliver.c: the delivery hand-off (queue_sched_ops.deliver, deliver_new's result callback) */
void gw_deliver_attempt(void *ctx, const struct queue_attempt *a);
void gw_deliver_result(void *ctx, const struct deliver_result *res);

/* gw_reload.c */
struct gw_gen *gw_gen_new(const struct conf *c, struct conf *owned);
struct gw_gen *gw_gen_ref(struct gw_gen *gen);
void gw_gen_unref(struct gw_gen *gen);
/* The SMTP server's settings of gen (gw_conf_smtpd), holding a reference
 * on gen that the snapshot releases. */
void gw_gen_smtpd(struct gw_gen *gen, struct smtp_server_conf *sc);
/* Re-read main.cf (same path and -o overrides), validate it whole (maps,
 * TLS files, scan rules and actions, access map, DNSBL sites, new
 * listeners) and only then put it in force; open sessions keep their
 * settings. 0: the new configuration is in force; -1: the old one is kept,
 * err says why (each error is logged as event=reload_error). Loop thread. */
int gw_reload(struct gw *g, char *err, size_t errlen);
void gw_reload_fini(struct gw *g);

#endif
