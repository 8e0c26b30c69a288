/*
 * net_listen.h - listening sockets, created before privileges are dropped;
 * the TCP options of connected sockets.
 */
#ifndef NET_NET_LISTEN_H
#define NET_NET_LISTEN_H

#include "net/net_addr.h"

/* Create a non-blocking, close-on-exec listening TCP socket bound to a
 * (IPv6 sockets are v6-only so "0.0.0.0:25" and "[::]:25" can coexist).
 * Returns the fd, or -1 with errno set. */
int net_listen_tcp(const struct net_addr *a, int backlog);

/* Turn off Nagle's algorithm on a socket of the given address family
 * (AF_INET, AF_INET6; a no-op for others). SMTP
 * writes are already whole command batches or body chunks; with Nagle on,
 * the last short segment of a body waits for the peer's delayed ACK (up to
 * 40 ms on Linux) before it leaves. */
void net_tcp_nodelay(int fd, int family);

#endif
