/*
 * gw.h - the application: wires smtp -> queue -> (scan) -> route -> deliver.
 *
 * gw_serve() owns the event loop and every module instance for the life of
 * the process; the modules never call each other, only gw calls them.
 */
#ifndef GW_GW_H
#define GW_GW_H

#include <stdbool.h>
#include <stddef.h>

#ifndef MXGATE_VERSION
#define MXGATE_VERSION "0.1.0"
#endif

struct conf;

/* Run the gateway in the foreground until SIGTERM/SIGINT. Returns the
 * process exit status. */
int gw_serve(const struct conf *conf);

/* A next hop as written in relayhost: "[host]:port", "host:port", "host",
 * "[192.0.2.1]", "[2001:db8::1]:25" or "[ipv6:2001:db8::1]:25". */
struct gw_nexthop {
	char host[256]; /* without brackets */
	int port;	/* 0 = default */
	bool mx;	/* no brackets: look up MX records */
};
/* Returns 0 or -1 with a reason in err. */
int gw_nexthop_parse(const char *s, struct gw_nexthop *out, char *err, size_t errlen);

#endif
