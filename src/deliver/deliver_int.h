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

/* One hop of a destination (the request's, or its host/port/mx shorthand). */
struct dhop {
	char host[256];
	int port; /* the default applied */
	bool mx;
};

/* A resolved address of a destination, in the order of the walk. */
struct daddr {
	struct net_addr addr; /* with the port to connect to */
	char name[256];	      /* the host it belongs to (MX host or hop host) */
	int pref;	      /* MX preference (0 for an A/AAAA hop) */
	size_t hop;	      /* index in ddest.hops */
};

/* A destination: protocol + host list (or unix socket path). */
struct ddest {
	char *key;	/* owned: proto, hops, order, path */
	char name[300]; /* for logs and replies: the host, "h1:h2", or the socket path */
	enum deliver_proto proto;
	struct dhop *hops; /* owned */
	size_t nhops;
	bool hops_equal;
	bool unix_sock; /* LMTP over a unix socket: addrs is that socket, no DNS */
	struct djob *q_head, *q_tail;
	size_t nq;
	struct dconn *conns; /* all connections (list) */
	int nconn, nstarting, nidle;
	/* resolved addresses, reused for a short while */
	struct daddr *addrs;
	size_t naddrs;
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
	size_t addr_i;	    /* attempt number: the address is addrs[order[addr_i]] */
	size_t *order;	    /* this connection's order of d->addrs */
	size_t norder;
	char host[256];	    /* the current address's host name (TLS SNI) */
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
	bool restart;	    /* deliver_conn_try_next() scheduled a new connect */
	bool ending;	    /* deliver_conn_end() called: freed from the next loop turn */
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
struct ev_pool *deliver_pool(struct deliver *dl); /* the Maildir workers */

/* deliver_conn.c: a connection's life cycle and I/O */
struct dconn *deliver_conn_new(struct deliver *dl, struct ddest *d);
void deliver_conn_start(struct dconn *c); /* addresses known: connect */
void deliver_conn_quit(struct dconn *c);
/* Fail the current job's open recipients with why (4xx) and free c now
 * (c must already be unlinked from its destination, c->d == NULL). */
void deliver_conn_abort(struct dconn *c, const char *why);
/* End a connection that never got ready (from the loop, deferred). */
void deliver_conn_fail_later(struct dconn *c, const struct mail_reply *why);
/* The following are for deliver_conn_smtp.c and deliver_conn_tls.c. */
/* (Re)start c's timer: secs from now. */
void deliver_conn_arm(struct dconn *c, int secs);
/* Send one command line (CRLF added). */
void deliver_conn_send_line(struct dconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* c reads, writes and gets its events through bev (a socket, or the TLS
 * filter over it); c owns it. */
void deliver_conn_attach(struct dconn *c, struct bufferevent *bev);
/* Close the current job's body file, if open. */
void deliver_conn_close_body(struct dconn *c);
/* End c from the next loop turn (never inside its own callbacks); why, when
 * given, fails the current job's open recipients. failed: c never got
 * ready (deliver.c fails or retries the destination's waiting jobs). */
void deliver_conn_end(struct dconn *c, bool failed, const struct mail_reply *why);
/* Setup failed with why: the next address (or the same one in plaintext
 * after a failed TLS handshake), from the loop. */
void deliver_conn_try_next(struct dconn *c, const struct mail_reply *why);
/* The handshake is over: READY (logged once), and asks deliver.c for work. */
void deliver_conn_go_ready(struct dconn *c);
static inline const struct deliver_conf *deliver_conn_conf(const struct dconn *c)
{
	return deliver_conf_of(c->dl);
}
static inline bool deliver_conn_lmtp(const struct dconn *c)
{
	return c->d && c->d->proto == DELIVER_LMTP;
}

/* deliver_conn_smtp.c: the SMTP/LMTP dialogue */
/* Run one transaction (MAIL, RCPT..., DATA) for j on the READY c. */
void deliver_conn_run_job(struct dconn *c, struct djob *j);
/* What a complete (multi-line) reply r means in c's state. */
void deliver_conn_smtp_reply(struct dconn *c, const struct mail_reply *r);
/* Send EHLO (LHLO for LMTP): at the start, and again after STARTTLS. */
void deliver_conn_smtp_hello(struct dconn *c);
/* Send more of the body while the output buffer has room; after the last
 * octet the final dot, and wait for its reply (DC_DOT). */
void deliver_conn_smtp_body(struct dconn *c);
/* out = r as "host X said: 550 5.1.1 text (in reply to cmd command)". */
void deliver_conn_smtp_remote_reply(const struct dconn *c, const struct mail_reply *r, const char *cmd,
				    struct mail_reply *out);

/* deliver_conn_tls.c: STARTTLS */
/* The next hop's TLS level for c (none for LMTP on a unix socket, at most
 * "may" for LMTP). */
enum deliver_tls deliver_conn_tls_level(const struct dconn *c);
void deliver_conn_tls_after_ehlo(struct dconn *c);
void deliver_conn_tls_reply(struct dconn *c, const struct mail_reply *r);
/* The handshake completed: true to go on (EHLO again); false when the
 * certificate does not satisfy "verify" (the next address is tried). */
bool deliver_conn_tls_established(struct dconn *c);
void deliver_conn_tls_failed(struct dconn *c);

/* deliver_maildir.c */
/* Deliver every recipient of r into the Maildir(s) at path_tmpl; the
 * results come back through deliver_job_done(). */
void deliver_maildir_submit(struct deliver *dl, struct dreq *r, const char *path_tmpl);
/* Expand %u (local part) and %d (domain) of tmpl for the address addr,
 * each lower-cased with '/' and a leading '.' replaced by '_'; "%%" is
 * '%'. Returns 0, or -1 when out is too small or tmpl has another %. */
int deliver_maildir_path(const char *tmpl, const char *addr, char *out, size_t size);

/* deliver_mx.c */
void deliver_mx_resolve(struct deliver *dl, struct ddest *d);
/* The order in which one connection tries d's addresses: the walk's order,
 * with the hops shuffled when they have equal preference; at most limit
 * entries. Returns the count (order_out has room for d->naddrs). */
size_t deliver_mx_order(const struct ddest *d, size_t limit, size_t *order_out);
/* RFC 5321 5.1: remove from v[from..n) every entry whose preference is >=
 * pref (the preference of an MX that is us); returns the new n. */
size_t deliver_mx_drop_from(struct daddr *v, size_t from, size_t n, int pref);

/* deliver_self.c: our own endpoints (pure, except the getifaddrs wrapper) */
/* a's address and port is one of self[0..n). */
bool deliver_self_match(const struct net_addr *a, const struct net_addr *self, size_t n);
/* Listeners -> concrete endpoints: a wildcard (0.0.0.0, ::) becomes every
 * interface address of its family, with the listener's port. out has room
 * for nlisten * (nif + 1). Returns the count. */
size_t deliver_self_expand(const struct net_addr *listen, size_t nlisten, const struct net_addr *ifs, size_t nif,
			   struct net_addr *out);
/* deliver_self_expand with this machine's interface addresses; *n_out
 * entries, owned by the caller. */
struct net_addr *deliver_self_local(const struct net_addr *listen, size_t nlisten, size_t *n_out);

#endif
