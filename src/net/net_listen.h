/*
 * net_listen.h - listening sockets, created before privileges are dropped.
 */
#ifndef NET_NET_LISTEN_H
#define NET_NET_LISTEN_H

#include "net/net_addr.h"

/* Create a non-blocking, close-on-exec listening TCP socket bound to a
 * (IPv6 sockets are v6-only so "0.0.0.0:25" and "[::]:25" can coexist).
 * Returns the fd, or -1 with errno set. */
int net_listen_tcp(const struct net_addr *a, int backlog);

#endif
