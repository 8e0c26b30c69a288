/*
 * admin_int.h - private to admin/: the state its files share and the
 * functions one offers another.
 *
 * struct admin lives from admin_open to admin_close and borrows the
 * gateway (struct gw) for that time; after admin_start everything runs on
 * the loop thread. The counters here are fed by the flow's events
 * (admin.c dispatches them), never by the flow calling admin/.
 */
#ifndef ADMIN_ADMIN_INT_H
#define ADMIN_ADMIN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "admin/admin.h"
#include "base/metric.h"
#include "scan/scan.h"

struct admin_ctl;
struct admin_status;
struct admin_status_target;
struct buf;
struct evhttp;
struct evhttp_request;
struct gw_event;

/* What the events count (admin_metrics.c renders it with the modules' own). */
/* which scanner failed: the anti-virus or spam back end, or the scanner process itself */
enum admin_scanner { ADMIN_SCANNER_VIRUS, ADMIN_SCANNER_SPAM, ADMIN_SCANNER_PROCESS, ADMIN_SCANNER_N };
enum admin_scan_stage { ADMIN_STAGE_PARSE, ADMIN_STAGE_VIRUS, ADMIN_STAGE_SPAM, ADMIN_STAGE_TOTAL, ADMIN_STAGE_N };
struct admin_metrics {
	struct metric_counter verdict[SCAN_NCAT];
	struct metric_counter scan_errors[ADMIN_SCANNER_N][2]; /* [..][0 error, 1 timeout] */
	struct metric_hist scan_time[ADMIN_STAGE_N];
	struct metric_counter dnsbl_listed; /* sessions whose client reached dnsbl_threshold */
};

struct admin {
	struct gw *g; /* borrowed: the gateway outlives us */
	struct admin_metrics m;
	struct admin_ctl *ctl;	     /* admin_ctl.c: the control socket; NULL = none */
	int http_fd;		     /* bound before the privilege drop, then evhttp's */
	struct evhttp *http;	     /* NULL: no http_listen */
	struct admin_status *status; /* admin_status.c; NULL: no http_listen */
	bool observing;		     /* registered with gw_observe() */
};

/* admin_metrics.c */
void admin_metrics_init(struct admin *a);
/* Count what an event says (scan verdicts, failures and times; DNSBL-listed sessions). */
void admin_metrics_event(struct admin *a, const struct gw_event *ev);
/* The Prometheus text of the gateway's counters and gauges. */
void admin_metrics_render(struct admin *a, struct buf *out);

/* admin_http.c: the HTTP listener (metrics, status page) */
int admin_http_bind(struct admin *a, char *err, size_t errlen);  /* as root, before the drop */
int admin_http_start(struct admin *a, char *err, size_t errlen); /* on the loop */
void admin_http_free(struct admin *a);
/* "addr:port" of the request's client, for log lines */
void admin_http_client(struct evhttp_request *req, char *out, size_t outlen);
/* A reply with the security headers every answer carries. */
void admin_http_reply(struct evhttp_request *req, int code, const char *reason, const char *ctype, const void *body,
		      size_t len);

/* admin_status.c: the status page (its data, JSON API and quarantine
 * actions). new: as root (reads http_secret_file), 0 or -1 with err. */
int admin_status_new(struct admin *a, char *err, size_t errlen);
void admin_status_start(struct admin *a); /* on the loop: the history timer */
void admin_status_free(struct admin *a);
/* The recent-messages ring: GW_EV_SCANNED adds, GW_EV_DELIVERED counts (no-op without the page). */
void admin_status_event(struct admin *a, const struct gw_event *ev);
/* Answer a request admin_http.c has routed (method already checked). */
void admin_status_serve(struct admin *a, struct evhttp_request *req, const struct admin_status_target *t);

/* admin_ctl.c: the control socket. open: as root, before the privilege
 * drop (bound, 0600, owned by uid/gid); start: once the loop exists;
 * close: at the end (the socket file is removed). */
int admin_ctl_open(struct admin *a, uid_t uid, gid_t gid, char *err, size_t errlen);
void admin_ctl_start(struct admin *a);
void admin_ctl_close(struct admin *a);

#endif
