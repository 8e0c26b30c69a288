/*
 * gw_int.h - private to gw/: the application state shared by its files.
 */
#ifndef GW_GW_INT_H
#define GW_GW_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/metric.h"
#include "gw/gw.h"
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
struct ev_pool;
struct scan_dnsbl;
struct queue_draft;
struct net_addr;
struct evhttp;
struct evhttp_request;
struct buf;
typedef struct ssl_ctx_st SSL_CTX;

/* What gw itself counts (gw_metrics.c renders it with the modules' own). */
enum gw_scanner { GW_SCANNER_VIRUS, GW_SCANNER_SPAM, GW_SCANNER_N };
enum gw_scan_stage { GW_STAGE_PARSE, GW_STAGE_VIRUS, GW_STAGE_SPAM, GW_STAGE_TOTAL, GW_STAGE_N };
struct gw_metrics {
	struct metric_counter verdict[SCAN_NCAT];
	struct metric_counter scan_errors[GW_SCANNER_N][2]; /* [..][0 error, 1 timeout] */
	struct metric_hist scan_time[GW_STAGE_N];
	struct metric_counter dnsbl_listed; /* sessions whose client reached dnsbl_threshold */
	/* hold/, quarantine/, corrupt/ counted by listing, cached GW_METRICS_DIR_CACHE_S */
	int64_t dirs_at;
	long hold, quarantine, corrupt;
};

struct gw {
	const struct conf *conf;
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
	struct map *dnsbl_sess;	   /* session id -> gw_dnsbl.c's state */
	struct route_maps *maps; /* swapped whole on SIGHUP */
	/* scanning (gw_scan.c): NULL engine = off */
	struct scan_engine *scan;
	struct scan_policy policy;
	struct ev_pool *scan_pool;
	bool before_queue;
	const char *crash_marker; /* MXGATE_TEST_SCAN_CRASH: fault injection for the poison-message test */
	int http_fd;	    /* bound before the privilege drop, then evhttp's */
	struct evhttp *http; /* NULL: no http_listen */
	bool stopping;
	struct event *sig_term, *sig_int, *sig_usr1, *sig_hup, *stop_timer, *drain_timer;
	uint64_t accepted, rejected;
	struct gw_metrics m;
};

/* gw_smtpd.c */
void gw_smtpd_policy(struct gw *g, struct smtp_policy *p);
/* The commit callback of an accepted message: 250 (or 452) to the waiting session. */
void gw_smtpd_committed(void *arg, uint64_t session, const char *qid, int err);
/* The RCPT reply for the formatted address a: a DNSBL refusal already in
 * reply (code != 0) stands, else relay control and recipient validation
 * decide; the smtp engine logs a refusal (event=reject_rcpt). */
void gw_smtpd_route_rcpt(struct gw *g, uint64_t session, const char *ip, const char *a, bool trusted,
			 struct mail_reply *reply);

/* gw_dnsbl.c */
int gw_dnsbl_start(struct gw *g, char *err, size_t errlen);
void gw_dnsbl_stop(struct gw *g);
void gw_dnsbl_connect(struct gw *g, const struct smtp_client_info *ci);
/* SMTP_HOOK_DONE with reply->code 0: go on with gw_smtpd_route_rcpt();
 * with 554: refused; SMTP_HOOK_ASYNC: the answer comes by resume. */
enum smtp_hook gw_dnsbl_rcpt(struct gw *g, const struct smtp_client_info *ci, const char *rcpt, bool trusted,
			     struct mail_reply *reply);
void gw_dnsbl_disconnect(struct gw *g, const struct smtp_client_info *ci);

/* gw_scan.c */
int gw_scan_init(struct gw *g, char *err, size_t errlen);
void gw_scan_free(struct gw *g);
void gw_scan_process(void *ctx, const char *qid, const struct mail_env *env);
/* before-queue: scan the draft, then commit or refuse; false when not scanning before the queue */
bool gw_scan_before_queue(struct gw *g, uint64_t session, struct queue_draft *d, struct mail_env *env);
bool gw_dnsbl_wanted(const struct gw *g, const struct net_addr *a);

/* gw_http.c: the HTTP listener (metrics, status page) */
int gw_http_bind(struct gw *g, char *err, size_t errlen); /* as root, before the drop */
int gw_http_start(struct gw *g, char *err, size_t errlen); /* on the loop */
void gw_http_free(struct gw *g);
void gw_http_reply(struct evhttp_request *req, int code, const char *reason, const char *ctype, const void *body,
		   size_t len);
/* gw_metrics.c: the Prometheus text of the gateway's counters and gauges */
void gw_metrics_render(struct gw *g, struct buf *out);
void gw_metrics_init(struct gw *g);
/* A scan ended (loop thread): verdict (ok) or a scanner failure, and its timings. */
void gw_metrics_scanned(struct gw *g, const struct scan_report *r, bool ok);

/* gw_route.c */
/* Expand env's recipients: -1 retry later, 0 nothing changes (no envs), 1 envs[0..n) replace it. */
int gw_route_envs(struct gw *g, const char *qid, const struct mail_env *env, struct mail_env ***envs, size_t *n);
void gw_route_deliver(void *ctx, const struct queue_attempt *a);
void gw_route_process(void *ctx, const char *qid, const struct mail_env *env);
void gw_route_result(void *ctx, const struct deliver_result *res);
void gw_attempt_release(struct gw *g, struct gw_attempt *at);
void gw_maps_reload(struct gw *g);

#endif
