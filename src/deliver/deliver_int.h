/*
 * deliver_int.h - private to deliver/.
 */
#ifndef DELIVER_DELIVER_INT_H
#define DELIVER_DELIVER_INT_H

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "base/buf.h"
#include "deliver/deliver.h"
#include "mail/mail_dot.h"
#include "net/net_addr.h"

struct map;
struct mail_env;

/* A request: one message, one next hop, possibly several transactions. */
struct dreq {
	uint64_t id;
	char qid[24];
	const struct mail_env *env;
	uint64_t body_len;
	deliver_open_fn open_body;
	void *open_ctx;
	struct deliver_rcpt_result *res; /* one per recipient */
	size_t nres;
	int jobs_left;
};

/* One SMTP transaction. */
struct djob {
	struct dreq *req;
	size_t first, n; /* res[first .. first+n) */
	struct djob *next;
};

struct dconn;

/* A next hop. */
struct ddest {
	char key[300];
	char host[256];
	int port;
	bool mx;
	struct djob *q_head, *q_tail;
	size_t nq;
	struct dconn *conns; /* all connections (list) */
	int nconn, nstarting, nidle;
	/* resolved addresses, reused for a short while */
	struct net_addr *addrs;
	size_t naddrs;
	char *addr_names; /* per address: the MX host name, 256 bytes each */
	int64_t resolved_at;
	bool resolving;
	uint64_t dns_id;
	struct dconn *waiting_dns; /* connections waiting for the lookup */
	int64_t no_tls_until; /* STARTTLS failed recently: plaintext for a while */
	enum deliver_tls tls; /* smtp_tls_security_level, or its smtp_tls_policy_maps entry */
	/* slow start: at most window connections; credit counts successful
	 * transactions (+1) and failed connections (-1) since the last change */
	int window, credit;
	/* dead: until dead_until new requests fail at once with dead_why;
	 * after it (still set) one probe connection, whose success revives */
	int64_t dead_until;
	struct mail_reply dead_why;
};

enum dcstate {
	DC_RESOLVE,
	DC_CONNECT,
	DC_GREET,
	DC_EHLO,
	DC_HELO,
	DC_STARTTLS,
	DC_TLS,
	DC_READY,
	DC_TX,
	DC_BODY,
	DC_DOT,
	DC_RSET,
	DC_QUIT,
};

struct dconn {
	uint64_t id;
	struct deliver *dl;
	struct ddest *d;
	struct dconn *next; /* in d->conns */
	struct dconn *next_wait;
	enum dcstate st;
	struct bufferevent *bev;
	struct event *timer;
	size_t addr_i;
	char peer[320]; /* "host[ip]:port" */
	struct mail_reply last_err;
	bool have_err;
	/* server capabilities */
	bool esmtp, pipelining, eightbit, smtputf8, dsn, starttls, size;
	uint64_t size_limit;
	bool tls;
	char tls_desc[128]; /* "TLSv1.3 cipher=... verified=yes" for the log */
	int reuse;
	bool begun;	    /* the start event has run */
	bool was_ready;	    /* reached READY once (no longer "starting") */
	bool idle;	    /* READY without a job, counted in d->nidle */
	bool kick;	    /* READY: look for work on the next timer tick */
	bool plain_retry;   /* TLS handshake failed: retry this address in plaintext */
	bool restart;	    /* try_next() scheduled a new connect */
	bool ending;	    /* conn_end() called: freed from the next loop turn */
	bool end_failed;    /* ends without ever getting ready */
	struct mail_reply end_why;
	struct event *free_ev;
	/* reply parsing */
	struct mail_reply_parser rp;
	/* current transaction */
	struct djob *job;
	size_t tx_pos;	    /* 0 = MAIL, 1..n = RCPT, n+1 = DATA */
	size_t tx_sent;	    /* commands sent so far (non-pipelined mode) */
	bool mail_ok;
	size_t accepted;
	bool *acc;	    /* per recipient of the job: RCPT accepted */
	int fd;
	uint64_t body_off, body_left;
	struct mail_dot_enc enc;
	struct buf rbuf, wbuf;
	const char *phase;  /* "MAIL FROM", "RCPT TO", ... for error texts */
};

/* deliver.c */
void deliver_conn_ready(struct dconn *c);		/* idle: give it work or keep it */
void deliver_conn_gone(struct dconn *c);		/* unlink and free */
void deliver_conn_failed(struct dconn *c, const struct mail_reply *why); /* never got ready */
void deliver_tx_done(struct dconn *c);		/* a transaction completed (slow-start feedback) */
void deliver_job_done(struct deliver *dl, struct djob *j);
void deliver_dest_fail_all(struct deliver *dl, struct ddest *d, const struct mail_reply *why);
const struct deliver_conf *deliver_conf_of(const struct deliver *dl);
struct event_base *deliver_base(const struct deliver *dl);
struct dns *deliver_dns(const struct deliver *dl);

/* deliver_conn.c */
struct dconn *deliver_conn_new(struct deliver *dl, struct ddest *d);
void deliver_conn_start(struct dconn *c); /* addresses known: connect */
void deliver_conn_run_job(struct dconn *c, struct djob *j);
void deliver_conn_quit(struct dconn *c);
/* Fail the current job's open recipients with why (4xx) and free c now
 * (c must already be unlinked from its destination, c->d == NULL). */
void deliver_conn_abort(struct dconn *c, const char *why);
/* End a connection that never got ready (from the loop, deferred). */
void deliver_conn_fail_later(struct dconn *c, const struct mail_reply *why);

/* deliver_mx.c */
void deliver_mx_resolve(struct deliver *dl, struct ddest *d);

#endif
