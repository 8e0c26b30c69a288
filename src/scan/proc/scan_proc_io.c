/*
 * scan_proc_io.c - file descriptors over unix sockets (SCM_RIGHTS) and
 * blocking writes, for the gateway, the supervisor and the scanners.
 *
 * A received message may carry more descriptors than expected (a hostile
 * peer): every one beyond the first is closed at once, and descriptors
 * arrive close-on-exec (MSG_CMSG_CLOEXEC).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "scan/proc/scan_proc_int.h"

#define FDS_MAX 8

ssize_t spm_send_fd(int sock, const void *p, size_t n, int fd)
{
	struct iovec iov = { .iov_base = (void *)p, .iov_len = n };
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(int))];
	} c;
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (fd >= 0) {
		memset(&c, 0, sizeof c);
		m.msg_control = c.space;
		m.msg_controllen = sizeof c.space;
		struct cmsghdr *h = CMSG_FIRSTHDR(&m);
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_RIGHTS;
		h->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(h), &fd, sizeof fd);
	}
	ssize_t w;
	do
		w = sendmsg(sock, &m, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	return w;
}

ssize_t spm_recv_fd(int sock, void *p, size_t n, int *fd)
{
	struct iovec iov = { .iov_base = p, .iov_len = n };
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(FDS_MAX * sizeof(int))];
	} c;
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.space, .msg_controllen = sizeof c.space };
	*fd = -1;
	ssize_t r;
	do
		r = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return r;
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int x;
			memcpy(&x, CMSG_DATA(h) + i * sizeof(int), sizeof x);
			if (*fd < 0)
				*fd = x;
			else
				close(x);
		}
	}
	if (m.msg_flags & MSG_CTRUNC) {
		/* descriptors were dropped by the kernel: refuse the message */
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		errno = EPROTO;
		return -1;
	}
	return r;
}

int spm_write_all(int sock, const void *p, size_t n)
{
	const char *s = p;
	while (n > 0) {
		ssize_t w = write(sock, s, n); /* write(2): the scanners' filter allows it (SIGPIPE is ignored) */
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}
