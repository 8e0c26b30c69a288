/*
 * admin_http.c - the HTTP listener (libevent's evhttp) on http_listen:
 * GET /metrics (Prometheus text, admin_metrics.c) and the status page
 * (admin_status.c): routing (admin_status_req.c parses the target), methods
 * (405 with Allow), and the security headers every reply carries (a strict
 * Content-Security-Policy: the page runs only its own script, no inline
 * code, nothing from elsewhere; no framing; no referrer).
 *
 * The socket is bound as root before the privilege drop (admin_http_bind),
 * served from the loop afterwards (admin_http_start). Limits: request header
 * section HTTP_MAX_HEADERS octets, body HTTP_MAX_BODY octets, HTTP_TIMEOUT_S
 * seconds per request, methods GET, HEAD and POST only; anything else is
 * answered 4xx by evhttp itself. A Host header naming anything but an IP
 * literal, localhost or myhostname is refused with 421 (DNS rebinding: a
 * hostile web page must not read the page through the administrator's
 * browser). Reading needs no secret (bind to loopback);
 * changing actions need http_secret_file's secret.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "admin/admin_int.h"
#include "admin/admin_status_req.h"
#include "base/buf.h"
#include "base/log.h"
#include "conf/conf.h"
#include "gw/gw.h"
#include "net/net_addr.h"
#include "net/net_listen.h"

#define HTTP_MAX_HEADERS 8192
#define HTTP_MAX_BODY 65536
#define HTTP_TIMEOUT_S 10
#define HTTP_CSP                                                                                            \
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " \
	"object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

int admin_http_bind(struct admin *a, char *err, size_t errlen)
{
	const struct conf *c = gw_conf(a->g);
	a->http_fd = -1;
	if (!c->http_listen[0])
		return 0;
	struct net_addr addr;
	if (net_addr_parse(c->http_listen, -1, &addr) < 0) { /* conf_load checked it */
		snprintf(err, errlen, "http_listen: \"%s\" is not addr:port", c->http_listen);
		return -1;
	}
	a->http_fd = net_listen_tcp(&addr, 64);
	if (a->http_fd < 0) {
		snprintf(err, errlen, "http_listen: cannot listen on %s: %s", c->http_listen, strerror(errno));
		return -1;
	}
	return admin_status_new(a, err, errlen); /* as root: reads http_secret_file */
}

void admin_http_reply(struct evhttp_request *req, int code, const char *reason, const char *ctype, const void *body,
		   size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Content-Security-Policy", HTTP_CSP);
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	struct evbuffer *out = evbuffer_new();
	if (out && len)
		evbuffer_add(out, body, len);
	evhttp_send_reply(req, code, reason, out);
	if (out)
		evbuffer_free(out);
}

void admin_http_client(struct evhttp_request *req, char *out, size_t outlen)
{
	char *addr = NULL;
	ev_uint16_t port = 0;
	struct evhttp_connection *c = evhttp_request_get_connection(req);
	if (c)
		evhttp_connection_get_peer(c, &addr, &port);
	snprintf(out, outlen, "%s:%u", addr ? addr : "?", (unsigned)port);
}

static void on_metrics(struct evhttp_request *req, struct admin *a)
{
	struct buf b;
	buf_init(&b);
	admin_metrics_render(a, &b);
	admin_http_reply(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
	buf_fini(&b);
}

static void method_not_allowed(struct evhttp_request *req, const char *allow)
{
	static const char body[] = "{\"error\":\"method not allowed\"}";
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
	admin_http_reply(req, 405, "Method Not Allowed", "application/json", body, sizeof body - 1);
}

/* Every request: /metrics, the status page, its API and actions. */
static void on_other(struct evhttp_request *req, void *arg)
{
	struct admin *a = arg;
	const char *host = evhttp_find_header(evhttp_request_get_input_headers(req), "Host");
	if (!admin_status_host_ok(host, host ? strlen(host) : 0, gw_conf(a->g)->myhostname)) {
		static const char mis[] = "{\"error\":\"this listener answers to its IP address, localhost or "
					  "myhostname only (Host header)\"}";
		char client[NET_ADDR_STRLEN + 8];
		admin_http_client(req, client, sizeof client);
		log_info("event=http_refused reason=host client=%s host=%s", client, LOG_Q(host));
		admin_http_reply(req, 421, "Misdirected Request", "application/json", mis, sizeof mis - 1);
		return;
	}
	const char *uri = evhttp_request_get_uri(req);
	struct admin_status_target t;
	admin_status_req_parse(uri, uri ? strlen(uri) : 0, &t);
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	bool post = m == EVHTTP_REQ_POST;
	switch (t.res) {
	case ADMIN_RES_NOTFOUND:
		break;
	case ADMIN_RES_BAD_ID: {
		static const char bad[] = "{\"error\":\"not a queue id (16 characters: 0-9 and A-Z without I, L, O, U)\"}";
		admin_http_reply(req, 400, "Bad Request", "application/json", bad, sizeof bad - 1);
		return;
	}
	case ADMIN_RES_RELEASE:
	case ADMIN_RES_DELETE:
	case ADMIN_RES_DELETE_SPAM:
		if (!post) {
			method_not_allowed(req, "POST");
			return;
		}
		break;
	default:
		if (post) {
			method_not_allowed(req, "GET, HEAD");
			return;
		}
		break;
	}
	if (t.res == ADMIN_RES_METRICS)
		on_metrics(req, a);
	else
		admin_status_serve(a, req, &t);
}

int admin_http_start(struct admin *a, char *err, size_t errlen)
{
	if (a->http_fd < 0)
		return 0;
	const char *listen = gw_conf(a->g)->http_listen;
	a->http = evhttp_new(gw_base(a->g));
	if (!a->http || !evhttp_accept_socket_with_handle(a->http, a->http_fd)) {
		snprintf(err, errlen, "http_listen: cannot serve %s", listen);
		return -1;
	}
	a->http_fd = -1; /* evhttp owns it */
	evhttp_set_max_headers_size(a->http, HTTP_MAX_HEADERS);
	evhttp_set_max_body_size(a->http, HTTP_MAX_BODY);
	evhttp_set_timeout(a->http, HTTP_TIMEOUT_S);
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST);
	evhttp_set_gencb(a->http, on_other, a);
	admin_status_start(a);
	log_info("event=http_listening listen=%s", listen);
	return 0;
}

void admin_http_free(struct admin *a)
{
	if (a->http) {
		evhttp_free(a->http);
		a->http = NULL;
	}
	admin_status_free(a);
	if (a->http_fd >= 0) {
		close(a->http_fd);
		a->http_fd = -1;
	}
}
