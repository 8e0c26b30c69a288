/*
 * admin_ctl.h - the control socket's protocol and the queue listing shared
 * by the daemon (admin_ctl.c serves it) and the queue tools
 * (ctl/ctl_queue.c), the one admin header ctl/ includes.
 *
 * One request per connection: a JSON object on one line, answered by one
 * JSON object on one line, then the server closes the connection.
 *   {"cmd":"list","state":"deferred","domain":"example.org","sender":"a@b"}
 *   {"cmd":"show"|"hold"|"release"|"requeue","id":"<queue id>"}
 *   {"cmd":"flush"} {"cmd":"flush","id":ID} {"cmd":"flush","domain":D}
 *   {"cmd":"delete","id":ID} {"cmd":"delete","state":"deferred","domain":D}
 *   {"cmd":"reload"} {"cmd":"status"}
 * Answers: {"ok":true|false,"msg":"...", "messages":[...] (list),
 * "message":{...} (show), status fields}. The message objects are the ones
 * admin_queue_list()/admin_queue_show() build, whether the daemon answers
 * or the tool reads the spool itself because no daemon runs. flush, hold,
 * release, delete and requeue are the queue's own operations (enum
 * queue_op, named by queue_op_name()), carried as they are to the queue.
 */
#ifndef ADMIN_ADMIN_CTL_H
#define ADMIN_ADMIN_CTL_H

#include <stdbool.h>
#include <stddef.h>

#include "base/ids.h"
#include "queue/queue_sched.h" /* enum queue_op */

#define ADMIN_CTL_REQ_MAX 4096	     /* octets in a request line */
#define ADMIN_CTL_CLIENTS_MAX 16     /* connections at once; more are refused */
#define ADMIN_CTL_TIMEOUT_S 30	     /* a client must send its request and read the answer within this */
#define ADMIN_CTL_LIST_MAX 10000     /* messages in one list answer ("truncated": true beyond) */
#define ADMIN_CTL_DOMAIN_MAX 255     /* RFC 1035 */
#define ADMIN_CTL_SENDER_MAX 320     /* local part 64 + @ + domain 255 */
#define ADMIN_CTL_HEADERS_MAX 65536 /* octets of the header section that show returns */

/* What a request asks: the queue operations are one command carrying enum queue_op. */
enum admin_ctl_cmd {
	ADMIN_CTL_LIST,
	ADMIN_CTL_SHOW,
	ADMIN_CTL_QUEUE_OP, /* flush, hold, release, delete, requeue: op */
	ADMIN_CTL_RELOAD,
	ADMIN_CTL_STATUS,
};

struct admin_ctl_req {
	enum admin_ctl_cmd cmd;
	enum queue_op op;		       /* ADMIN_CTL_QUEUE_OP */
	char id[IDS_QUEUE_SIZE];	       /* "" = none */
	int state;			       /* enum queue_dir, -1 = none */
	char domain[ADMIN_CTL_DOMAIN_MAX + 1]; /* "" = none */
	char sender[ADMIN_CTL_SENDER_MAX + 1]; /* "" = none; "<>" = the null sender */
	bool has_sender;
};

/* Parse one request (hostile bytes: any local user who can reach the
 * socket, and whatever a broken client sends). Checks types, lengths,
 * queue ids, states and which fields each command needs; unknown fields
 * are refused. Returns 0, or -1 with a reason in err. (admin_ctl_req.c) */
int admin_ctl_req_parse(const char *p, size_t len, struct admin_ctl_req *r, char *err, size_t errlen);
/* The request's command name as the protocol spells it ("list", "flush", ...). */
const char *admin_ctl_req_name(const struct admin_ctl_req *r);
/* The command called name: 0 with *cmd and, for a queue operation, *op
 * (either pointer may be NULL), or -1 when there is no such command. */
int admin_ctl_cmd_find(const char *name, enum admin_ctl_cmd *cmd, enum queue_op *op);
/* The queue state names accepted by "state": input output deferred hold
 * quarantine corrupt -> enum queue_dir, or -1. */
int admin_ctl_state(const char *name);

/* Connect to the control socket at path (any length: long paths go through
 * /proc/self/fd). Returns a connected fd, or -1 with errno (ENOENT or
 * ECONNREFUSED: no daemon is running there). (admin_ctl.c) */
int admin_ctl_connect(const char *path);

/* --- the queue as JSON (admin_queue.c) --- */
struct json_t;
struct queue_store;
struct queue_sched;

struct admin_queue_filter {
	int state;	    /* enum queue_dir, -1: input output deferred hold corrupt */
	const char *domain; /* a recipient in this domain (case-insensitive), or NULL */
	const char *sender; /* this envelope sender ("<>": the null sender), or NULL */
};
/* The messages in the spool that match, as a JSON array of objects (id,
 * state, size, arrival, age, sender, recipients with status and last
 * reply, next_attempt, last_error, verdict, flags; "active" when q is
 * given, the running scheduler, which also knows due times). At most limit
 * (then *truncated). */
struct json_t *admin_queue_list(struct queue_store *qs, const struct queue_sched *q, const struct admin_queue_filter *f,
				size_t limit, bool *truncated);
/* One message in detail (the list fields plus envelope, per-recipient
 * ORCPT/NOTIFY/route/time, the scan report, the delivery history that the
 * file records, and the header section). NULL with a reason in err. */
struct json_t *admin_queue_show(struct queue_store *qs, const struct queue_sched *q, const char *qid, char *err,
				size_t errlen);
struct scan_report;
struct buf;
/* A JSON string of s[0..n): invalid UTF-8 octets and NULs become U+FFFD. */
struct json_t *admin_json_str(const char *s, size_t n);
/* "virus: Name, score=x/y dnsbl_weight=n": what a scan report found. */
void admin_queue_verdict(const struct scan_report *r, struct buf *out);

#endif
