/*
 * scan_sock.h - blocking client connections to scanner daemons (clamd,
 * spamd, rspamd), every wait bounded by one deadline.
 *
 * Addresses: "unix:/path" or a numeric "host:port" ("127.0.0.1:3310",
 * "[::1]:783"); "localhost:PORT" means 127.0.0.1. Names are never resolved:
 * a DNS lookup is a wait we could not bound.
 *
 * Sockets are non-blocking and every connect/send/recv waits with poll()
 * until the absolute deadline (clock_mono_us() microseconds) given by the
 * caller, so one deadline covers a whole exchange. Sends never raise
 * SIGPIPE (MSG_NOSIGNAL). For worker threads only, never the event loop.
 * Errors are one line of text in err ("connect unix:/x: No such file ...").
 */
#ifndef SCAN_SCAN_SOCK_H
#define SCAN_SCAN_SOCK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct buf;

/* The absolute deadline timeout_ms from now (timeout_ms <= 0: 1 ms). */
int64_t scan_sock_deadline(int timeout_ms);
/* 0 when addr has one of the forms above, else -1 (err set). */
int scan_sock_addr_ok(const char *addr, char *err, size_t errlen);
/* Connect to addr before the deadline; returns the fd or -1 (err set). */
int scan_sock_connect(const char *addr, int64_t deadline_us, char *err, size_t errlen);
/* Send all n bytes; 0, or -1 (err set; errno kept: EPIPE/ECONNRESET when
 * the peer closed, ETIMEDOUT at the deadline). */
int scan_sock_send(int fd, const void *p, size_t n, int64_t deadline_us, char *err, size_t errlen);
/* Receive up to n bytes: >0 bytes read, 0 at end of stream, -1 (err set). */
ssize_t scan_sock_recv(int fd, void *p, size_t n, int64_t deadline_us, char *err, size_t errlen);
/* Append what the peer sends until it closes, at most max bytes (more is
 * an error: "reply over N bytes"). 0 or -1. */
int scan_sock_recv_all(int fd, struct buf *out, size_t max, int64_t deadline_us, char *err, size_t errlen);

#endif
