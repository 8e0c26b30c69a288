/*
 * deliver.h - outbound delivery: SMTP and LMTP (RFC 2033) clients with
 * next-hop resolution (MX walk, mailertable host lists), a connection cache
 * per destination, pipelined transactions, opportunistic STARTTLS, MX
 * self-loop avoidance (RFC 5321 5.1), local Maildir delivery, and
 * per-recipient outcomes.
 *
 * The caller (gw) asks for one message's recipients to go to one
 * destination: a protocol, a host list (or the host/port/mx shorthand for
 * one hop) and, for LMTP over a unix socket or Maildir, a path. Different
 * destinations never share connections. For SMTP/LMTP, deliver splits the
 * recipients into transactions of at most
 * smtp_destination_recipient_limit recipients, runs them over that
 * destination's connections, reusing idle ones, and reports one result
 * with a reply per recipient. Per destination: a slow-start window of
 * connections (initial_destination_concurrency, growing while transactions
 * succeed up to smtp_destination_concurrency_limit), a dead state after its
 * last connection failed (requests fail at once with that reason until
 * smtp_destination_dead_time has passed, then one probe connection), and
 * a TLS level (smtp_tls_security_level or smtp_tls_policy_maps).
 * It never decides what a reply means for the message: 2xx/4xx/5xx go back
 * as they are and the queue decides (STYLE: peers never call each other).
 * Maildir delivery runs its file I/O on worker threads and reports 250
 * only after the file and new/ are fsync'ed.
 * Loop thread only.
 */
#ifndef DELIVER_DELIVER_H
#define DELIVER_DELIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mail/mail_reply.h"

struct event_base;
struct dns;
struct mail_env;
struct deliver;
struct map;
struct net_addr;
typedef struct ssl_ctx_st SSL_CTX;

/* Ordered: each level asks for more than the one before. */
enum deliver_tls { DELIVER_TLS_NONE, DELIVER_TLS_MAY, DELIVER_TLS_ENCRYPT, DELIVER_TLS_VERIFY };
enum deliver_proto { DELIVER_SMTP, DELIVER_LMTP, DELIVER_MAILDIR };
#define DELIVER_LMTP_PORT 24 /* an LMTP hop without a port (RFC 2033 has none; 24 is the usual) */
/* The port of a hop: its own, else LMTP's 24 or default_port (smtp_tcp_port). */
static inline int deliver_hop_port(enum deliver_proto proto, int port, int default_port)
{
	return port ? port : proto == DELIVER_LMTP ? DELIVER_LMTP_PORT : default_port;
}


struct deliver_conf {
	const char *helo_name;
	const char *myhostname; /* a next hop greeting with this name is us: mail loop */
	enum deliver_tls tls;
	SSL_CTX *tls_ctx;	   /* borrowed; trusts the CAs for the verify level */
	const struct map *tls_policy; /* borrowed, may be NULL: from deliver_tls_policy_load() */
	int initial_concurrency;
	int concurrency; /* the window's limit */
	int dead_time_s;
	int rcpt_limit;
	int cache_time_s;
	int reuse_limit;
	int mx_addr_limit;
	int default_port;
	/* Our own listeners (borrowed until deliver_new returns; copied): an
	 * MX host at one of these addresses and ports is us. 0.0.0.0 and ::
	 * stand for every local interface address (getifaddrs at deliver_new). */
	const struct net_addr *self_addrs;
	size_t nself;
	int t_connect, t_helo, t_mail, t_rcpt, t_data_init, t_data_xfer, t_data_done, t_quit;
};

/* Reads the message content: returns an fd (the caller of the callback
 * closes it) and the content offset, or -1. */
typedef int (*deliver_open_fn)(void *ctx, const char *qid, uint64_t *off_out);

/* One entry of a mailertable host list. */
struct deliver_hop {
	const char *host; /* name or address literal, no brackets; NULL for LMTP over a unix socket */
	int port;	  /* 0 = default: smtp_tcp_port for SMTP, 24 for LMTP */
	bool mx;	  /* look up MX records of host (else A/AAAA only) */
};

struct deliver_req {
	uint64_t id;	     /* the caller's; echoed in the result */
	const char *qid;     /* copied */
	enum deliver_proto proto; /* default (0) SMTP */
	/* The next hops, tried in order like an MX list: each hop expands to
	 * its addresses (an MX hop through its MX records). nhops == 0 only
	 * for a unix socket (LMTP) or a Maildir: path says where. */
	const struct deliver_hop *hops; /* copied */
	size_t nhops;
	bool hops_equal;     /* "h1,h2": equal preference, random order per connection; else "h1:h2" in order */
	const char *path;    /* LMTP unix socket path, or the Maildir root (%u, %d expanded); else NULL (copied) */
	const struct mail_env *env; /* borrowed until the result */
	const size_t *rcpt;  /* indices into env->rcpt (copied) */
	size_t nrcpt;
	uint64_t body_len;
	deliver_open_fn open_body;
	void *open_ctx;
};

struct deliver_rcpt_result {
	size_t idx;
	struct mail_reply reply;
	bool no_dsn; /* accepted by a next hop that does not offer DSN */
};

struct deliver_result {
	uint64_t id;
	const char *qid;
	size_t n;
	const struct deliver_rcpt_result *r;
};

typedef void (*deliver_done_fn)(void *ctx, const struct deliver_result *res);

struct deliver *deliver_new(struct event_base *base, struct dns *dns, const struct deliver_conf *conf,
			    deliver_done_fn done, void *ctx);
void deliver_submit(struct deliver *dl, const struct deliver_req *req);
/* New settings (a reload): the borrowed pointers of conf replace the old
 * ones at once (the caller frees the old ones after this returns);
 * connections in flight go on, each destination's TLS level and window
 * limit are recomputed, its dead time and cached connections are kept. */
void deliver_reconfigure(struct deliver *dl, const struct deliver_conf *conf);
/* End every destination's dead time now (a flush: the operator wants a
 * retry); each then gets its probe connection. */
void deliver_flush_dead(struct deliver *dl);
/* Close idle connections; in-flight transactions go on. */
void deliver_close_idle(struct deliver *dl);
/* Abort everything (results with 4xx for what was in flight). */
void deliver_free(struct deliver **dl);
size_t deliver_inflight(const struct deliver *dl);

/* deliver_tls.c: "none" "may" "encrypt" "verify" (case-insensitive). */
const char *deliver_tls_level_name(enum deliver_tls t);
int deliver_tls_level_parse(const char *s, enum deliver_tls *out);
/* Read an smtp_tls_policy_maps file; NULL with "file:line: ..." in err. */
struct map *deliver_tls_policy_load(const char *path, char *err, size_t errlen);
/* Parse the file's text (changed in place) into policy. -1 with err. */
int deliver_tls_policy_parse(char *text, const char *fname, struct map *policy, char *err, size_t errlen);
/* The level the map gives a lower-case next hop, or -1 when none. */
int deliver_tls_policy_lookup(const struct map *policy, const char *host, enum deliver_tls *out);

#endif
