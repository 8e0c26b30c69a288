/*
 * scan_av_clamd.c - the clamd back end: zINSTREAM and zVERSION over a unix
 * or TCP socket, one connection per call (clamd's own model; no session
 * reuse), and the parser of clamd's replies (scan_av_parse_clamd).
 *
 * zINSTREAM: "zINSTREAM\0", then chunks of at most SCAN_AV_CHUNK bytes,
 * each after its length as 4 bytes in network order, then a zero length;
 * the reply is one NUL-terminated line. clamd may stop reading and answer
 * early ("INSTREAM size limit exceeded. ERROR") and close: a send that
 * fails because the peer closed is followed by reading that reply.
 * Limits: replies over REPLY_MAX bytes are an error; one deadline of
 * opts.timeout_ms covers connect, send and reply. Its state is the
 * address and the timeout: read-only, so every thread may scan at once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "scan/av/scan_av_int.h"
#include "scan/scan_sock.h"

#define REPLY_MAX 4096
#define ADDR_MAX 160 /* "unix:/path" or "host:port" */
#define NAME_STREAMMAX "Heuristics.Limits.Exceeded.StreamMaxLength"

struct clamd {
	char addr[ADDR_MAX];
	int timeout_ms;
	char desc[SCAN_AV_DESC_MAX];
};

/* ------------------------------------------------------------ replies */

/* name = the finding of "stream: NAME FOUND" (NAME may carry clamd's
 * ExtendedDetectionInfo "(hash:size)", dropped here). */
static enum scan_av_status parse_found(const char *r, size_t len, char *name, size_t namelen)
{
	const char *pre = "stream: ";
	size_t pl = strlen(pre), fl = strlen(" FOUND");
	if (len <= pl + fl || memcmp(r, pre, pl) != 0)
		return SCAN_AV_ERROR;
	const char *v = r + pl;
	size_t vl = len - pl - fl;
	const char *paren = memchr(v, '(', vl);
	if (paren && v[vl - 1] == ')')
		vl = (size_t)(paren - v);
	if (vl == 0)
		return SCAN_AV_ERROR;
	if (str_has_ctl(v, vl))
		return SCAN_AV_ERROR;
	str_ncopy(name, namelen, v, vl);
	return scan_av_classify(name);
}

enum scan_av_status scan_av_parse_clamd(const char *reply, size_t len, char *name, size_t namelen)
{
	const char *nul = memchr(reply, '\0', len); /* the z-protocol's end of reply */
	if (nul)
		len = (size_t)(nul - reply);
	while (len > 0 && (reply[len - 1] == '\0' || reply[len - 1] == '\n' || reply[len - 1] == '\r'))
		len--;
	name[0] = '\0';
	if (len == 0) {
		snprintf(name, namelen, "clamd closed the connection without a reply");
		return SCAN_AV_ERROR;
	}
	if (str_ncaseeq(reply, len, "stream: OK"))
		return SCAN_AV_CLEAN;
	const char *lim = "INSTREAM size limit exceeded";
	if (len >= strlen(lim) && memcmp(reply, lim, strlen(lim)) == 0) {
		str_copy(name, namelen, NAME_STREAMMAX);
		return SCAN_AV_UNSCANNABLE;
	}
	if (len > 6 && memcmp(reply + len - 6, " FOUND", 6) == 0) {
		enum scan_av_status st = parse_found(reply, len, name, namelen);
		if (st != SCAN_AV_ERROR)
			return st;
	}
	int shown = len > 200 ? 200 : (int)len;
	if (len > 6 && memcmp(reply + len - 6, " ERROR", 6) == 0)
		snprintf(name, namelen, "clamd: %.*s", shown, reply);
	else
		snprintf(name, namelen, "unexpected clamd reply \"%.*s\"", shown, reply);
	str_sanitize(name);
	return SCAN_AV_ERROR;
}
/* ------------------------------------------------------------ the exchange */

/* Read one NUL-terminated reply (or up to EOF) into r[REPLY_MAX]; its
 * length, or -1 (err set). */
static ssize_t read_reply(int fd, char *r, int64_t deadline, char *err, size_t errlen)
{
	size_t n = 0;
	while (n < REPLY_MAX - 1) {
		ssize_t k = scan_sock_recv(fd, r + n, REPLY_MAX - 1 - n, deadline, err, errlen);
		if (k < 0)
			return -1;
		if (k == 0)
			break;
		n += (size_t)k;
		if (memchr(r + n - (size_t)k, '\0', (size_t)k))
			break;
	}
	r[n] = '\0';
	if (n == REPLY_MAX - 1 && strlen(r) == n) {
		snprintf(err, errlen, "clamd reply over %d bytes", REPLY_MAX - 1);
		return -1;
	}
	return (ssize_t)strlen(r);
}

static int send_stream(int fd, const unsigned char *p, size_t len, int64_t deadline, char *err, size_t errlen)
{
	if (scan_sock_send(fd, "zINSTREAM", 10, deadline, err, errlen) < 0)
		return -1;
	for (size_t off = 0;;) {
		size_t n = len - off < SCAN_AV_CHUNK ? len - off : SCAN_AV_CHUNK;
		uint32_t be = htonl((uint32_t)n);
		if (scan_sock_send(fd, &be, 4, deadline, err, errlen) < 0)
			return -1;
		if (n == 0)
			return 0;
		if (scan_sock_send(fd, p + off, n, deadline, err, errlen) < 0)
			return -1;
		off += n;
	}
}

/* Name the error: "clamd unix:/x: connect ...: No such file". */
static enum scan_av_status fail(const struct clamd *c, const char *what, char *name, size_t namelen)
{
	snprintf(name, namelen, "clamd %s: %s", c->addr, what);
	log_warn("event=av_error scanner=clamd addr=%s error=%s", c->addr, LOG_Q(what));
	return SCAN_AV_ERROR;
}

static enum scan_av_status clamd_scan(void *state, const void *data, size_t len, char *name, size_t namelen)
{
	const struct clamd *c = state;
	char err[256], r[REPLY_MAX];
	int64_t deadline = scan_sock_deadline(c->timeout_ms);
	int fd = scan_sock_connect(c->addr, deadline, err, sizeof err);
	if (fd < 0)
		return fail(c, err, name, namelen);
	int sent = send_stream(fd, data, len, deadline, err, sizeof err);
	if (sent < 0 && errno != EPIPE && errno != ECONNRESET) {
		close(fd);
		return fail(c, err, name, namelen);
	}
	/* after EPIPE/ECONNRESET clamd may have said why it stopped reading */
	char rerr[256];
	ssize_t rl = read_reply(fd, r, deadline, rerr, sizeof rerr);
	close(fd);
	if (rl < 0 || (rl == 0 && sent < 0))
		return fail(c, sent < 0 ? err : rerr, name, namelen);
	enum scan_av_status st = scan_av_parse_clamd(r, (size_t)rl, name, namelen);
	if (st == SCAN_AV_ERROR)
		log_warn("event=av_error scanner=clamd addr=%s error=%s", c->addr, LOG_Q(name));
	return st;
}

static int clamd_ping(void *state, char *out, size_t outlen)
{
	const struct clamd *c = state;
	char err[256], r[REPLY_MAX];
	int64_t deadline = scan_sock_deadline(c->timeout_ms);
	int fd = scan_sock_connect(c->addr, deadline, err, sizeof err);
	ssize_t rl = -1;
	if (fd >= 0) {
		if (scan_sock_send(fd, "zVERSION", 9, deadline, err, sizeof err) == 0)
			rl = read_reply(fd, r, deadline, err, sizeof err);
		close(fd);
	}
	if (rl > 0 && strncmp(r, "ClamAV ", 7) == 0) {
		str_copy(out, outlen, r);
		return 0;
	}
	if (rl >= 0)
		snprintf(err, sizeof err, "unexpected VERSION reply \"%.100s\"", r);
	snprintf(out, outlen, "clamd %s: %s", c->addr, err);
	return -1;
}

/* ------------------------------------------------------------ the back end */

/* arg: "unix:/path" or "inet:host:port" */
static void *clamd_open(const char *arg, const struct scan_av_opts *o, char *err, size_t errlen)
{
	const char *addr = strncmp(arg, "unix:", 5) == 0 ? arg : strncmp(arg, "inet:", 5) == 0 ? arg + 5 : NULL;
	if (!addr) {
		snprintf(err, errlen, "clamd address \"%s\": want unix:/path or inet:host:port", arg);
		return NULL;
	}
	struct clamd *c = xcalloc(1, sizeof *c);
	if (str_copy(c->addr, sizeof c->addr, addr) < 0) {
		snprintf(err, errlen, "clamd address too long (at most %zu bytes)", sizeof c->addr - 1);
		goto fail;
	}
	if (scan_sock_addr_ok(c->addr, err, errlen) < 0)
		goto fail;
	c->timeout_ms = o->timeout_ms;
	snprintf(c->desc, sizeof c->desc, "clamd %s", c->addr);
	return c;
fail:
	xfree(c);
	return NULL;
}

static const char *clamd_describe(const void *state)
{
	const struct clamd *c = state;
	return c->desc;
}

static bool clamd_reusable(const void *state)
{
	(void)state;
	return true; /* nothing loaded: clamd reloads its own database */
}

static void clamd_close(void *state)
{
	xfree(state);
}

const struct scan_av_backend scan_av_clamd_backend = {
	.name = "clamd",
	.open = clamd_open,
	.scan = clamd_scan,
	.ping = clamd_ping,
	.describe = clamd_describe,
	.reusable = clamd_reusable,
	.close = clamd_close,
};
