/*
 * gw_http.c - the HTTP listener (libevent's evhttp) on http_listen:
 * GET /metrics (Prometheus text, gw_metrics.c) and the status page.
 *
 * The socket is bound as root before the privilege drop (gw_http_bind),
 * served from the loop afterwards (gw_http_start). Limits: request header
 * section HTTP_MAX_HEADERS octets, body HTTP_MAX_BODY octets, HTTP_TIMEOUT_S
 * seconds per request, methods GET, HEAD and POST only; anything else is
 * answered 4xx by evhttp itself. Reading needs no secret (bind to loopback);
 * changing actions need http_secret_file's secret.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "conf/conf.h"
#include "gw/gw_int.h"
#include "net/net_addr.h"
#include "net/net_listen.h"

#define HTTP_MAX_HEADERS 8192
#define HTTP_MAX_BODY 65536
#define HTTP_TIMEOUT_S 10

int gw_http_bind(struct gw *g, char *err, size_t errlen)
{
	g->http_fd = -1;
	if (!g->conf->http_listen[0])
		return 0;
	struct net_addr a;
	if (net_addr_parse(g->conf->http_listen, -1, &a) < 0) {
		snprintf(err, errlen, "http_listen: \"%s\" is not addr:port ([addr]:port for IPv6)", g->conf->http_listen);
		return -1;
	}
	g->http_fd = net_listen_tcp(&a, 64);
	if (g->http_fd < 0) {
		snprintf(err, errlen, "http_listen: cannot listen on %s: %s", g->conf->http_listen, strerror(errno));
		return -1;
	}
	return 0;
}

void gw_http_reply(struct evhttp_request *req, int code, const char *reason, const char *ctype, const void *body,
		   size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	struct evbuffer *out = evbuffer_new();
	if (out && len)
		evbuffer_add(out, body, len);
	evhttp_send_reply(req, code, reason, out);
	if (out)
		evbuffer_free(out);
}

static void on_metrics(struct evhttp_request *req, void *arg)
{
	struct gw *g = arg;
	struct buf b;
	buf_init(&b);
	gw_metrics_render(g, &b);
	gw_http_reply(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
	buf_fini(&b);
}

static void on_other(struct evhttp_request *req, void *arg)
{
	(void)arg;
	static const char nf[] = "not found\n";
	gw_http_reply(req, 404, "Not Found", "text/plain; charset=utf-8", nf, sizeof nf - 1);
}

int gw_http_start(struct gw *g, char *err, size_t errlen)
{
	if (g->http_fd < 0)
		return 0;
	g->http = evhttp_new(g->base);
	if (!g->http || !evhttp_accept_socket_with_handle(g->http, g->http_fd)) {
		snprintf(err, errlen, "http_listen: cannot serve %s", g->conf->http_listen);
		return -1;
	}
	g->http_fd = -1; /* evhttp owns it */
	evhttp_set_max_headers_size(g->http, HTTP_MAX_HEADERS);
	evhttp_set_max_body_size(g->http, HTTP_MAX_BODY);
	evhttp_set_timeout(g->http, HTTP_TIMEOUT_S);
	evhttp_set_allowed_methods(g->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST);
	evhttp_set_cb(g->http, "/metrics", on_metrics, g);
	evhttp_set_gencb(g->http, on_other, g);
	log_info("event=http_listening listen=%s", g->conf->http_listen);
	return 0;
}

void gw_http_free(struct gw *g)
{
	if (g->http) {
		evhttp_free(g->http);
		g->http = NULL;
	}
	if (g->http_fd >= 0) {
		close(g->http_fd);
		g->http_fd = -1;
	}
}
