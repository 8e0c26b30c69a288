/*
 * scan_rspamd.c - the rspamd back end: rspamd's HTTP protocol, POST
 * /checkv2 with a JSON reply, and the parsers of its replies. The client
 * part (address, size skip, connection, error logs) is scan_spam_daemon.c.
 *
 * Request: HTTP/1.1 with "Connection: close", the message as the body
 * (Content-Length) and the envelope as headers: IP, Helo, From, one Rcpt
 * per recipient, Queue-Id. A value with control characters or longer than
 * HDR_VALUE_MAX is left out (never lets a peer's text inject a header).
 *
 * Reply: status 200, body by Content-Length, chunked, or up to the close;
 * at most SCAN_SPAM_REPLY_MAX bytes. The JSON object must hold "score" and
 * "required_score" (numbers) and "action" (string); "symbols" (object, its
 * keys are the names) is optional. A non-200 status is an error carrying
 * rspamd's "error" text when there is one. The reply is parsed as it
 * arrives: a complete one ends the exchange even if rspamd keeps the
 * connection open.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "scan/scan_sock.h"
#include "scan/spam/scan_spam_int.h"

#define HDR_VALUE_MAX 1000
#define CHUNK_LINE_MAX 64

enum { HTTP_ERR = -1, HTTP_MORE = 0, HTTP_DONE = 1 };

struct http_reply {
	int status;
	const char *body; /* into the reply, or into dechunked */
	size_t blen;
	struct buf dechunked;
};

/* res->err = "rspamd: WHAT \"S\"" (S cut, control characters shown as '?'). */
static int fail(struct scan_spam_res *res, const char *what, const char *s, size_t n)
{
	int k = n > 120 ? 120 : (int)n;
	snprintf(res->err, sizeof res->err, "rspamd: %s \"%.*s\"", what, k, s);
	str_sanitize(res->err);
	return HTTP_ERR;
}

/* Decode a chunked body from p[0..n): HTTP_DONE, HTTP_MORE or HTTP_ERR. */
static int dechunk(const char *p, size_t n, struct buf *out, struct scan_spam_res *res)
{
	size_t i = 0;
	buf_reset(out);
	for (;;) {
		const char *nl = memchr(p + i, '\n', n - i);
		if (!nl)
			return n - i > CHUNK_LINE_MAX ? fail(res, "bad chunk line", p + i, n - i)
						      : HTTP_MORE;
		size_t sz = 0, digits = 0;
		for (const char *d = p + i; d < nl && str_hexval(*d) >= 0 && sz <= SCAN_SPAM_REPLY_MAX; d++, digits++)
			sz = sz * 16 + (size_t)str_hexval(*d);
		char after = p[i + digits];
		if (digits == 0 || (after != '\r' && after != ';' && after != '\n') || sz > SCAN_SPAM_REPLY_MAX)
			return fail(res, "bad chunk size", p + i, (size_t)(nl - (p + i)));
		i = (size_t)(nl - p) + 1;
		if (sz == 0)
			return HTTP_DONE; /* trailers, if any, are not needed */
		if (n - i < sz + 2)
			return HTTP_MORE;
		buf_append(out, p + i, sz);
		i += sz;
		if (p[i] == '\r')
			i++;
		if (p[i] != '\n')
			return fail(res, "chunk not followed by CRLF", p + i, n - i);
		i++;
	}
}

/* Split the reply r[0..n): HTTP_DONE with h filled, HTTP_MORE (eof false),
 * or HTTP_ERR. At eof an unterminated body without length is complete. */
static int http_split(const char *r, size_t n, bool eof, struct http_reply *h, struct scan_spam_res *res)
{
	const char *he = NULL;
	for (size_t i = 0; i + 1 < n && !he; i++)
		if (r[i] == '\n' && (r[i + 1] == '\n' || (r[i + 1] == '\r' && i + 2 < n && r[i + 2] == '\n')))
			he = r + i + (r[i + 1] == '\n' ? 2 : 3);
	if (!he)
		return eof ? fail(res, "incomplete HTTP reply", r, n) : HTTP_MORE;
	size_t hl = (size_t)(he - r);
	char *hdr = xstrndup(r, hl); /* NUL-terminated copy: r need not be */
	int minor, status;
	if (sscanf(hdr, "HTTP/1.%d %d", &minor, &status) != 2) {
		xfree(hdr);
		return fail(res, "not an HTTP reply", r, n);
	}
	h->status = status;
	long long clen = -1;
	bool chunked = false;
	for (char *pos = hdr, *l; (l = str_next_line(&pos));) {
		if (str_caseprefix(l, "Content-Length:"))
			clen = strtoll(l + 15, NULL, 10);
		else if (str_caseprefix(l, "Transfer-Encoding:") && strstr(l, "chunked"))
			chunked = true;
	}
	xfree(hdr);
	if (chunked) {
		int rc = dechunk(he, n - hl, &h->dechunked, res);
		if (rc == HTTP_MORE && eof)
			return fail(res, "chunked reply cut short", r, n);
		h->body = h->dechunked.data ? h->dechunked.data : "";
		h->blen = h->dechunked.len;
		return rc;
	}
	h->body = he;
	h->blen = n - hl;
	if (clen >= 0) {
		if ((size_t)clen > h->blen)
			return eof ? fail(res, "reply shorter than its Content-Length", r, n)
				   : HTTP_MORE;
		h->blen = (size_t)clen;
		return HTTP_DONE;
	}
	return eof ? HTTP_DONE : HTTP_MORE;
}

static bool action_is_spam(const char *a, double score, double required)
{
	static const char *const spam[] = { "reject", "soft reject", "rewrite subject", "add header" };
	static const char *const ham[] = { "no action", "greylist" };
	for (size_t i = 0; i < sizeof spam / sizeof spam[0]; i++)
		if (strcmp(a, spam[i]) == 0)
			return true;
	for (size_t i = 0; i < sizeof ham / sizeof ham[0]; i++)
		if (strcmp(a, ham[i]) == 0)
			return false;
	return score >= required;
}

int scan_rspamd_parse_json(const char *body, size_t len, struct scan_spam_res *res)
{
	json_error_t je;
	json_t *j = json_loadb(body, len, 0, &je);
	if (!j) {
		snprintf(res->err, sizeof res->err, "rspamd: bad JSON reply: %s (line %d)", je.text, je.line);
		return -1;
	}
	json_t *score = json_object_get(j, "score"), *req = json_object_get(j, "required_score");
	json_t *action = json_object_get(j, "action"), *syms = json_object_get(j, "symbols");
	int rc = -1;
	if (!json_is_object(j))
		snprintf(res->err, sizeof res->err, "rspamd: reply is not a JSON object");
	else if (!json_is_number(score) || !json_is_number(req) || !json_is_string(action))
		snprintf(res->err, sizeof res->err, "rspamd: reply lacks score, required_score or action");
	else if (str_copy(res->action, sizeof res->action, json_string_value(action)) < 0)
		snprintf(res->err, sizeof res->err, "rspamd: action too long");
	else
		rc = 0;
	if (rc == 0) {
		res->score = json_number_value(score);
		res->required = json_number_value(req);
		res->is_spam = action_is_spam(res->action, res->score, res->required);
		const char *k;
		json_t *v;
		if (json_is_object(syms))
			json_object_foreach(syms, k, v)
				scan_spam_res_add_symbol(res, k, strlen(k));
		scan_spam_res_sort(res);
	}
	json_decref(j);
	return rc;
}

/* rspamd's {"error": "..."} text of a failed request, or the status line. */
static int http_error(const char *r, size_t n, const struct http_reply *h, struct scan_spam_res *res)
{
	json_t *j = json_loadb(h->body, h->blen, 0, NULL);
	const char *e = json_string_value(json_object_get(j, "error"));
	if (e)
		snprintf(res->err, sizeof res->err, "rspamd: HTTP %d: %s", h->status, e);
	else {
		const char *nl = memchr(r, '\n', n);
		fail(res, "HTTP error", r, nl ? (size_t)(nl - r) : n);
	}
	json_decref(j);
	return -1;
}

static int parse_reply(const char *r, size_t n, bool eof, struct scan_spam_res *res)
{
	struct http_reply h = { 0 };
	buf_init(&h.dechunked);
	int rc = http_split(r, n, eof, &h, res);
	if (rc == HTTP_DONE)
		rc = h.status == 200 ? scan_rspamd_parse_json(h.body, h.blen, res) : http_error(r, n, &h, res);
	else if (rc == HTTP_MORE)
		rc = -2;
	buf_fini(&h.dechunked);
	return rc;
}

int scan_rspamd_parse_http(const char *reply, size_t len, struct scan_spam_res *res)
{
	return parse_reply(reply, len, true, res);
}

/* "Name: value\r\n" when value is safe to send. */
static void put_header(struct buf *b, const char *name, const char *v)
{
	if (!v || !*v || strlen(v) > HDR_VALUE_MAX)
		return;
	if (str_has_ctl(v, strlen(v)))
		return;
	buf_printf(b, "%s: %s\r\n", name, v);
}

static void build_request(struct buf *b, const struct scan_spam_req *q)
{
	buf_printf(b, "POST /checkv2 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: %zu\r\n",
		   q->len);
	put_header(b, "IP", q->client_ip);
	put_header(b, "Helo", q->helo);
	put_header(b, "From", q->env_from);
	for (size_t i = 0; i < q->nrcpt; i++)
		put_header(b, "Rcpt", q->rcpt[i]);
	put_header(b, "Queue-Id", q->qid);
	buf_puts(b, "\r\n");
}

/* Read until the reply is complete, closed, or too big. */
static int read_reply(int fd, struct buf *r, int64_t deadline, struct scan_spam_res *res)
{
	char err[200];
	for (;;) {
		buf_reserve(r, 16384);
		ssize_t k = scan_sock_recv(fd, r->data + r->len, 16384, deadline, err, sizeof err);
		if (k < 0) {
			snprintf(res->err, sizeof res->err, "rspamd: %s", err);
			return -1;
		}
		r->len += (size_t)k;
		r->data[r->len] = '\0';
		if (r->len > SCAN_SPAM_REPLY_MAX) {
			snprintf(res->err, sizeof res->err, "rspamd: reply over %u bytes", SCAN_SPAM_REPLY_MAX);
			return -1;
		}
		int rc = parse_reply(r->data, r->len, k == 0, res);
		if (rc != -2)
			return rc;
	}
}

static int rspamd_exchange(int fd, const char *addr, const struct scan_spam_req *q, int64_t deadline,
			   struct scan_spam_res *res)
{
	char err[200];
	struct buf b;
	buf_init(&b);
	build_request(&b, q);
	int rc = -1;
	if (scan_sock_send(fd, b.data, b.len, deadline, err, sizeof err) < 0 ||
	    scan_sock_send(fd, q->data, q->len, deadline, err, sizeof err) < 0) {
		snprintf(res->err, sizeof res->err, "rspamd %s: %s", addr, err);
	} else {
		buf_reset(&b);
		rc = read_reply(fd, &b, deadline, res);
	}
	buf_fini(&b);
	return rc;
}

static void *rspamd_open(const char *spec, const struct scan_spam_opts *o, char *err, size_t errlen)
{
	return scan_spam_daemon_open("rspamd", rspamd_exchange, spec, o, err, errlen);
}

const struct scan_spam_backend scan_rspamd_backend = {
	.name = "rspamd",
	.spec = "rspamd:",
	.open = rspamd_open,
	.check = scan_spam_daemon_check,
	.describe = scan_spam_daemon_describe,
	.close = scan_spam_daemon_close,
};
