/*
 * scan_av_clamd.c - clamd's zINSTREAM and zVERSION over a unix or TCP
 * socket, one connection per call (clamd's own model; no session reuse).
 *
 * zINSTREAM: "zINSTREAM\0", then chunks of at most SCAN_AV_CHUNK bytes,
 * each after its length as 4 bytes in network order, then a zero length;
 * the reply is one NUL-terminated line. clamd may stop reading and answer
 * early ("INSTREAM size limit exceeded. ERROR") and close: a send that
 * fails because the peer closed is followed by reading that reply.
 * Limits: replies over REPLY_MAX bytes are an error; one deadline of
 * opts.timeout_ms covers connect, send and reply.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/str.h"
#include "scan/av/scan_av_int.h"
#include "scan/scan_sock.h"

#define REPLY_MAX 4096

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
static enum scan_av_status fail(const struct scan_av *av, const char *what, char *name, size_t namelen)
{
	snprintf(name, namelen, "clamd %s: %s", av->addr, what);
	log_warn("event=av_error scanner=clamd addr=%s error=%s", av->addr, LOG_Q(what));
	return SCAN_AV_ERROR;
}

enum scan_av_status scan_av_clamd_scan(struct scan_av *av, const void *data, size_t len, char *name, size_t namelen)
{
	char err[256], r[REPLY_MAX];
	int64_t deadline = scan_sock_deadline(av->opts.timeout_ms);
	int fd = scan_sock_connect(av->addr, deadline, err, sizeof err);
	if (fd < 0)
		return fail(av, err, name, namelen);
	int sent = send_stream(fd, data, len, deadline, err, sizeof err);
	if (sent < 0 && errno != EPIPE && errno != ECONNRESET) {
		close(fd);
		return fail(av, err, name, namelen);
	}
	/* after EPIPE/ECONNRESET clamd may have said why it stopped reading */
	char rerr[256];
	ssize_t rl = read_reply(fd, r, deadline, rerr, sizeof rerr);
	close(fd);
	if (rl < 0 || (rl == 0 && sent < 0))
		return fail(av, sent < 0 ? err : rerr, name, namelen);
	enum scan_av_status st = scan_av_parse_clamd(r, (size_t)rl, name, namelen);
	if (st == SCAN_AV_ERROR)
		log_warn("event=av_error scanner=clamd addr=%s error=%s", av->addr, LOG_Q(name));
	return st;
}

int scan_av_clamd_ping(struct scan_av *av, char *out, size_t outlen)
{
	char err[256], r[REPLY_MAX];
	int64_t deadline = scan_sock_deadline(av->opts.timeout_ms);
	int fd = scan_sock_connect(av->addr, deadline, err, sizeof err);
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
	snprintf(out, outlen, "clamd %s: %s", av->addr, err);
	return -1;
}
