/*
 * gw_status_req.h - which resource of the HTTP listener (gw_http.c) a
 * request target names: the status page and its assets, the JSON API, the
 * metrics, and the quarantine actions with their queue id.
 *
 * Pure: no I/O, no libevent, no allocation, so the libFuzzer target
 * fuzz/fuzz_status_req.c drives it directly.
 */
#ifndef GW_GW_STATUS_REQ_H
#define GW_GW_STATUS_REQ_H

#include <stdbool.h>
#include <stddef.h>

#include "base/ids.h"

/* Longer request targets are not looked at (404); evhttp's header limit
 * (gw_http.c) bounds them anyway. */
#define GW_STATUS_REQ_MAX_URI 2048

enum gw_status_res {
	GW_RES_NOTFOUND,
	GW_RES_PAGE,	  /* GET / or /index.html */
	GW_RES_JS,	  /* GET /status.js */
	GW_RES_CSS,	  /* GET /status.css */
	GW_RES_API,	  /* GET /api/status */
	GW_RES_METRICS,	  /* GET /metrics */
	GW_RES_RELEASE,	  /* POST /api/quarantine/<id>/release */
	GW_RES_DELETE,	  /* POST /api/quarantine/<id>/delete */
	GW_RES_BAD_ID,	  /* an action whose id is not a queue id */
	GW_RES_N
};

struct gw_status_target {
	enum gw_status_res res;
	char id[IDS_QUEUE_SIZE]; /* RELEASE/DELETE: a valid queue id; else "" */
};

/* Parse uri[0..len) (origin form: "/path" with an optional "?query",
 * which is ignored). Nothing is percent-decoded: a path that is not
 * exactly one of the names above is GW_RES_NOTFOUND, and an action path
 * whose id segment is not exactly a queue id (ids_queue_valid) is
 * GW_RES_BAD_ID. Returns out->res. */
enum gw_status_res gw_status_req_parse(const char *uri, size_t len, struct gw_status_target *out);

/* Longer Host header values are refused. */
#define GW_STATUS_MAX_HOST 300

/* Whether a request whose Host header is host[0..len) (NULL: none, as in
 * HTTP/1.0) may be served: an IP literal (a dotted quad, or [IPv6]),
 * "localhost" or name (myhostname), each with an optional :port. Any other
 * name is refused, so a web page whose own name an attacker's DNS points at
 * 127.0.0.1 (DNS rebinding) cannot read the status page from the browser of
 * an administrator. */
bool gw_status_host_ok(const char *host, size_t len, const char *name);

#endif
