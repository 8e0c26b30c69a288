/*
 * admin_status_req.h - which resource of the HTTP listener (admin_http.c) a
 * request target names: the status page and its assets, the JSON API, the
 * metrics, and the quarantine actions with their queue id.
 *
 * Pure: no I/O, no libevent, no allocation, so the libFuzzer target
 * fuzz/fuzz_status_req.c drives it directly.
 */
#ifndef ADMIN_ADMIN_STATUS_REQ_H
#define ADMIN_ADMIN_STATUS_REQ_H

#include <stdbool.h>
#include <stddef.h>

#include "base/ids.h"

/* Longer request targets are not looked at (404); evhttp's header limit
 * (admin_http.c) bounds them anyway. */
#define ADMIN_STATUS_REQ_MAX_URI 2048

enum admin_status_res {
	ADMIN_RES_NOTFOUND,
	ADMIN_RES_PAGE,	   /* GET / or /index.html */
	ADMIN_RES_JS,	   /* GET /status.js */
	ADMIN_RES_CSS,	   /* GET /status.css */
	ADMIN_RES_API,	   /* GET /api/status */
	ADMIN_RES_METRICS, /* GET /metrics */
	ADMIN_RES_RELEASE, /* POST /api/quarantine/<id>/release */
	ADMIN_RES_DELETE,  /* POST /api/quarantine/<id>/delete */
	ADMIN_RES_DELETE_SPAM, /* POST /api/quarantine/<id>/delete-spam: learned as spam (Bayes), deleted */
	ADMIN_RES_BAD_ID,  /* an action whose id is not a queue id */
	ADMIN_RES_N
};

struct admin_status_target {
	enum admin_status_res res;
	char id[IDS_QUEUE_SIZE]; /* RELEASE/DELETE: a valid queue id; else "" */
};

/* Parse uri[0..len) (origin form: "/path" with an optional "?query",
 * which is ignored). Nothing is percent-decoded: a path that is not
 * exactly one of the names above is ADMIN_RES_NOTFOUND, and an action path
 * whose id segment is not exactly a queue id (ids_queue_valid) is
 * ADMIN_RES_BAD_ID. Returns out->res. */
enum admin_status_res admin_status_req_parse(const char *uri, size_t len, struct admin_status_target *out);

/* Longer Host header values are refused. */
#define ADMIN_STATUS_MAX_HOST 300

/* Whether a request whose Host header is host[0..len) (NULL: none, as in
 * HTTP/1.0) may be served: an IP literal (a dotted quad, or [IPv6]),
 * "localhost" or name (myhostname), each with an optional :port. Any other
 * name is refused, so a web page whose own name an attacker's DNS points at
 * 127.0.0.1 (DNS rebinding) cannot read the status page from the browser of
 * an administrator. */
bool admin_status_host_ok(const char *host, size_t len, const char *name);

#endif
