/*
 * route.h - where a recipient goes, decided by sendmail's map files.
 *
 * A struct route_maps is an immutable snapshot of local-host-names,
 * aliases (with their :include: files), the mailertable and the relay
 * domains, loaded in one go; reload builds a new snapshot and the caller
 * swaps pointers, so a reader never sees half a map and a file that fails
 * to parse leaves the old snapshot in force (the error names file:line).
 *
 * Everything after loading is pure (no I/O, no DNS):
 *  - route_expand(): what happens to one RCPT address: refused with a
 *    reply, or a list of final targets (alias expansion done), each with
 *    the mailer value that delivers it and the envelope sender to use
 *    (owner-NAME). Used at RCPT time (the reply) and when a message is
 *    processed (the targets are written into the queue).
 *  - route_final(): the mailer for an address that is already final (a
 *    recipient in the output queue without a recorded route).
 *  - route_mailer_parse(): a mailer value ("smtp:[glass.example]",
 *    "lmtp:unix:/run/lmtp", "error:5.1.1:550 gone", ...) as fields.
 * A "mailer value" is the right-hand side of a mailertable line, always
 * with its mailer: MX delivery to a domain is "smtp:domain".
 */
#ifndef ROUTE_ROUTE_H
#define ROUTE_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "mail/mail_reply.h"

struct buf;
struct route_maps;

#define ROUTE_ALIAS_DEPTH 10	     /* alias levels before 554 5.4.6 */
#define ROUTE_TARGETS_MAX 10000	     /* final addresses of one recipient */
#define ROUTE_HOPS_MAX 16	     /* hosts in one mailer value */
#define ROUTE_VALUE_MAX 1024	     /* octets of a mailer value */
#define ROUTE_FILE_MAX (64u << 20)   /* largest map file read */

struct route_conf {
	const char *local_host_names;	  /* file or "" */
	const char *alias_maps;		  /* files (space/comma separated) or "" */
	const char *mailertable;	  /* file or "" */
	const char *relay_domains;	  /* domains and /files */
	const char *local_recipient_maps; /* files and/or "passwd", or "" */
	const char *local_transport;	  /* mailer value for local users */
	const char *relayhost;		  /* "", "[host]:port", "host:port" */
	const char *mydomain;		  /* appended to "user@host" alias targets */
	bool append_dot_mydomain;
	const char *const *self; /* names and [literals] that are implicitly local */
	size_t nself;
};

/* Load every file named in c. Returns NULL with "file:line: reason" in err. */
struct route_maps *route_maps_load(const struct route_conf *c, char *err, size_t errlen);
/* The same from texts (tests, fuzzing): NULL text = no such map. */
struct route_maps *route_maps_from_text(const struct route_conf *c, const char *lhn, const char *aliases,
					 const char *mailertable, char *err, size_t errlen);
void route_maps_free(struct route_maps **m);
/* A problem that did not stop the load but makes local recipients
 * tempfail (451 4.3.0): an alias file that could not be read. NULL if none. */
const char *route_maps_error(const struct route_maps *m);
/* Counts for the start-up log line. */
void route_maps_stats(const struct route_maps *m, size_t *local, size_t *aliases, size_t *mailertable);

bool route_is_local(const struct route_maps *m, const char *domain);
/* A domain the gateway relays for (relay_domains, with ".parent" entries). */
bool route_is_relay_domain(const struct route_maps *m, const char *domain);

enum route_kind { ROUTE_SMTP, ROUTE_LMTP, ROUTE_MAILDIR, ROUTE_ERROR, ROUTE_LOCAL };

struct route_hop {
	char host[256]; /* name or address (no brackets, no "IPv6:") */
	int port;	/* 0 = the default */
	bool mx;	/* MX lookup on host ("[host]" = no) */
};

struct route_mailer {
	enum route_kind kind;
	struct route_hop hop[ROUTE_HOPS_MAX];
	size_t nhops;
	bool equal;		  /* "h1,h2": same preference; "h1:h2": in order */
	char path[512];		  /* lmtp unix socket, maildir */
	char user[256];		  /* local:user ("" = the recipient's own local part) */
	struct mail_reply reply;  /* error: */
};

/* Parse a mailer value (after %1 substitution). 0, or -1 with err. */
int route_mailer_parse(const char *v, struct route_mailer *out, char *err, size_t errlen);

struct route_target {
	char *addr;   /* final address */
	char *mailer; /* mailer value */
	char *sender; /* NULL: the message's sender; else owner-NAME@domain */
};

struct route_result {
	bool ok;		 /* accept the RCPT */
	struct mail_reply reply; /* the RCPT reply (250 or the refusal) */
	struct route_target *t;
	size_t n, cap;
	struct arena *arena;
	struct buf *trace; /* if set by the caller: one line per step */
};

void route_result_init(struct route_result *r, struct buf *trace);
void route_result_fini(struct route_result *r);

/* trusted: the client may relay anywhere (mynetworks). addr: "local@domain"
 * as received. */
void route_expand(const struct route_maps *m, const char *addr, bool trusted, struct route_result *out);
/* Mailer value for a final address; writes at most size octets. */
void route_final(const struct route_maps *m, const char *addr, char *out, size_t size);

#endif
