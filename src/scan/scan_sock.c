/*
 * scan_sock.c - connect/send/recv with poll() deadlines for the scanner
 * clients (see scan_sock.h). Limits: unix socket paths up to
 * sizeof(sun_path) - 1 bytes; numeric addresses only.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/str.h"
#include "net/net_addr.h"
#include "scan/scan_sock.h"

#define RECV_CHUNK 16384

int64_t scan_sock_deadline(int timeout_ms)
{
	return clock_mono_us() + (int64_t)(timeout_ms > 0 ? timeout_ms : 1) * 1000;
}

/* Wait for events on fd until the deadline: 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline_us)
{
	for (;;) {
		int64_t left = deadline_us - clock_mono_us();
		if (left <= 0)
			return 0;
		struct pollfd p = { .fd = fd, .events = events };
		int ms = (int)((left + 999) / 1000);
		int rc = poll(&p, 1, ms);
		if (rc > 0)
			return 1;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

/* Fill ss from addr; returns the address length or 0 (err set). */
static socklen_t parse_addr(const char *addr, struct sockaddr_storage *ss, char *err, size_t errlen)
{
	memset(ss, 0, sizeof *ss);
	if (strncmp(addr, "unix:", 5) == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;
		const char *path = addr + 5;
		if (path[0] != '/' || strlen(path) >= sizeof un->sun_path) {
			snprintf(err, errlen, "bad unix socket path \"%s\" (absolute, at most %zu bytes)", path,
				 sizeof un->sun_path - 1);
			return 0;
		}
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, path, strlen(path) + 1);
		return (socklen_t)sizeof *un;
	}
	char tmp[NET_ADDR_STRLEN + 16];
	if (str_caseprefix(addr, "localhost:")) {
		snprintf(tmp, sizeof tmp, "127.0.0.1:%s", addr + 10);
		addr = tmp;
	}
	struct net_addr na;
	if (net_addr_parse(addr, -1, &na) < 0) {
		snprintf(err, errlen, "bad address \"%s\" (want unix:/path or a numeric host:port)", addr);
		return 0;
	}
	memcpy(ss, &na.ss, na.len);
	return na.len;
}

int scan_sock_addr_ok(const char *addr, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	return parse_addr(addr, &ss, err, errlen) ? 0 : -1;
}

int scan_sock_connect(const char *addr, int64_t deadline_us, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = parse_addr(addr, &ss, err, errlen);
	if (!sl)
		return -1;
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket for %s: %s", addr, strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&ss, sl) == 0)
		return fd;
	int e = errno;
	if (e == EINPROGRESS || e == EAGAIN) {
		int w = wait_fd(fd, POLLOUT, deadline_us);
		socklen_t el = sizeof e;
		if (w == 0)
			e = ETIMEDOUT;
		else if (w < 0)
			e = errno;
		else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
			e = errno;
		if (e == 0)
			return fd;
	}
	snprintf(err, errlen, "connect %s: %s", addr, e == ETIMEDOUT ? "timed out" : strerror(e));
	close(fd);
	errno = e;
	return -1;
}

/* After a send/recv that returned -1: 1 to try again (interrupted, or
 * ready before the deadline), else 0 with err = "WHAT: reason" and errno
 * kept (ETIMEDOUT at the deadline). */
static int retry(int fd, short events, int64_t deadline_us, const char *what, char *err, size_t errlen)
{
	if (errno == EINTR)
		return 1;
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		int w = wait_fd(fd, events, deadline_us);
		if (w > 0)
			return 1;
		if (w == 0)
			errno = ETIMEDOUT;
	}
	int e = errno;
	snprintf(err, errlen, "%s: %s", what, e == ETIMEDOUT ? "timed out" : strerror(e));
	errno = e;
	return 0;
}

int scan_sock_send(int fd, const void *p, size_t n, int64_t deadline_us, char *err, size_t errlen)
{
	const char *s = p;
	while (n > 0) {
		ssize_t k = send(fd, s, n, MSG_NOSIGNAL);
		if (k >= 0) {
			s += k;
			n -= (size_t)k;
		} else if (!retry(fd, POLLOUT, deadline_us, "send", err, errlen)) {
			return -1;
		}
	}
	return 0;
}

ssize_t scan_sock_recv(int fd, void *p, size_t n, int64_t deadline_us, char *err, size_t errlen)
{
	for (;;) {
		ssize_t k = recv(fd, p, n, 0);
		if (k >= 0)
			return k;
		if (!retry(fd, POLLIN, deadline_us, "reply", err, errlen))
			return -1;
	}
}

int scan_sock_recv_all(int fd, struct buf *out, size_t max, int64_t deadline_us, char *err, size_t errlen)
{
	size_t start = out->len;
	for (;;) {
		buf_reserve(out, RECV_CHUNK);
		ssize_t k = scan_sock_recv(fd, out->data + out->len, RECV_CHUNK, deadline_us, err, errlen);
		if (k < 0)
			return -1;
		if (k == 0)
			return 0;
		out->len += (size_t)k;
		out->data[out->len] = '\0';
		if (out->len - start > max) {
			snprintf(err, errlen, "reply over %zu bytes", max);
			return -1;
		}
	}
}
