/*
 * gw_event.h - what the mail flow publishes: one event per step a message
 * (or a client) takes, for observers that count, list or show it (the
 * administrator's surfaces, admin/).
 *
 * The flow emits and knows no one who listens: it never names an
 * observer, and an observer cannot change the flow (everything it gets is
 * const and borrowed for the call). Observers run synchronously on the
 * loop thread, in the order they were registered, and must not block.
 */
#ifndef GW_GW_EVENT_H
#define GW_GW_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gw;
struct conf;
struct mail_env;
struct mail_reply;
struct scan_outcome;
struct scan_report;

enum gw_event_type {
	GW_EV_RECEIVED,	    /* a message is committed to input/ (its 250 is being sent): qid, session */
	GW_EV_SCANNED,	    /* a scan gave a verdict (logged as event=scanned): u.scanned */
	GW_EV_SCAN_FAILED,  /* a scan ended without a verdict (scanner error or timeout): u.scan_failed */
	GW_EV_QUARANTINED,  /* a copy of the message went to quarantine/: u.quarantined */
	GW_EV_DELIVERED,    /* deliver/'s outcome for one recipient (2xx, 4xx or 5xx): u.rcpt */
	GW_EV_BOUNCED,	    /* a recipient failed (5xx) by its mailer value, without a delivery attempt: u.rcpt */
	GW_EV_REMOVED,	    /* a message left the queue without delivery (dropped by its verdict, deleted): u.removed */
	GW_EV_DNSBL_LISTED, /* a client's DNSBL weight reached dnsbl_threshold (once per session): u.dnsbl */
	GW_EV_RELOADED,	    /* a new configuration is in force: u.reloaded */
	GW_EV_N
};

/* One event; every pointer is borrowed for the observer's call only. */
struct gw_event {
	enum gw_event_type type;
	const char *qid;  /* message events; NULL for DNSBL_LISTED and RELOADED */
	uint64_t session; /* the SMTP session: RECEIVED, DNSBL_LISTED, before-queue scans; else 0 */
	union {
		struct {
			const struct mail_env *env;	    /* the envelope scanned */
			const struct scan_report *report;   /* verdict, findings, timings */
			const struct scan_outcome *outcome; /* the actions taken */
			size_t size;			    /* octets of content scanned */
			bool before_queue;		    /* scan_stage = before-queue: no 250 yet */
		} scanned;
		struct {
			const struct scan_report *report; /* error (names the scanner first), tempfail_timeout */
			bool before_queue;
		} scan_failed;
		struct {
			const struct scan_report *report;
		} quarantined;
		struct {
			const char *rcpt;	       /* the recipient's address */
			const struct mail_reply *reply; /* its reply (code 0 never) */
		} rcpt;
		struct {
			const char *reason; /* "dropped" (its verdict's actions) or "deleted" (a queue operation) */
		} removed;
		struct {
			const char *client; /* the client's IP address */
			int weight;
		} dnsbl;
		struct {
			unsigned generation; /* 1 for the first reload */
			const struct conf *conf;
		} reloaded;
	} u;
};

typedef void (*gw_observer_fn)(void *ctx, const struct gw_event *ev);

/* At most GW_OBSERVERS_MAX observers (registering more is a bug: abort). */
#define GW_OBSERVERS_MAX 4
/* Call fn(ctx, ev) for every event from now on (loop thread). */
void gw_observe(struct gw *g, gw_observer_fn fn, void *ctx);
/* Stop calling fn with ctx (before ctx is freed); no-op when not registered. */
void gw_unobserve(struct gw *g, gw_observer_fn fn, void *ctx);

#endif
