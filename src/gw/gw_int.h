/*
 * gw_int.h - private to gw/: the application state shared by its files.
 */
#ifndef GW_GW_INT_H
#define GW_GW_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "gw/gw.h"
#include "scan/scan.h"

struct conf;
struct event_base;
struct event;
struct dns;
struct map;
struct smtp_server;
struct queue_store;
struct queue_commit;
struct queue_sched;
struct deliver;
struct smtp_policy;
struct queue_attempt;
struct deliver_result;
struct route_maps;
struct mail_env;
struct gw_attempt;
struct ev_pool;
struct scan_dnsbl;
struct queue_draft;
struct net_addr;
typedef struct ssl_ctx_st SSL_CTX;

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
	struct route_maps *maps; /* swapped whole on SIGHUP */
	/* scanning (gw_scan.c): NULL engine = off */
	struct scan_engine *scan;
	struct scan_policy policy;
	struct ev_pool *scan_pool;
	bool before_queue;
	const char *crash_marker; /* MXGATE_TEST_SCAN_CRASH: fault injection for the poison-message test */
	struct scan_dnsbl *dnsbl; /* NULL: no dnsbl_sites */
	bool stopping;
	struct event *sig_term, *sig_int, *sig_usr1, *sig_hup, *stop_timer, *drain_timer;
	uint64_t accepted, rejected;
};

/* gw_smtpd.c */
void gw_smtpd_policy(struct gw *g, struct smtp_policy *p);

/* gw_scan.c */
int gw_scan_init(struct gw *g, char *err, size_t errlen);
void gw_scan_free(struct gw *g);
void gw_scan_process(void *ctx, const char *qid, const struct mail_env *env);
/* before-queue: scan the draft, then commit or refuse; false when not scanning before the queue */
bool gw_scan_before_queue(struct gw *g, uint64_t session, struct queue_draft *d, struct mail_env *env);
bool gw_dnsbl_wanted(const struct gw *g, const struct net_addr *a);

/* gw_route.c */
/* Expand env's recipients: -1 retry later, 0 nothing changes (no envs), 1 envs[0..n) replace it. */
int gw_route_envs(struct gw *g, const char *qid, const struct mail_env *env, struct mail_env ***envs, size_t *n);
void gw_route_deliver(void *ctx, const struct queue_attempt *a);
void gw_route_process(void *ctx, const char *qid, const struct mail_env *env);
void gw_route_result(void *ctx, const struct deliver_result *res);
void gw_attempt_release(struct gw *g, struct gw_attempt *at);
void gw_maps_reload(struct gw *g);

#endif
