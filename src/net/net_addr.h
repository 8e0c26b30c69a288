/*
 * net_addr.h - socket addresses, "addr:port" parsing and CIDR lists.
 *
 * Pure functions, no I/O, no DNS: host names are not resolved here.
 */
#ifndef NET_NET_ADDR_H
#define NET_NET_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct net_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

#define NET_ADDR_STRLEN 64 /* "[ffff:...:ffff]:65535" fits */

/* Parse "1.2.3.4:25", "[::1]:25", "::1" (no port), "1.2.3.4" (port =
 * default_port). A port is required when default_port < 0. Only numeric
 * addresses. Returns 0 or -1. */
int net_addr_parse(const char *s, int default_port, struct net_addr *out);
/* Numeric address without port ("192.0.2.1", "2001:db8::1"). */
void net_addr_ip(const struct net_addr *a, char *out, size_t size);
/* "192.0.2.1:25" or "[2001:db8::1]:25". */
void net_addr_str(const struct net_addr *a, char *out, size_t size);
int net_addr_port(const struct net_addr *a);
void net_addr_set_port(struct net_addr *a, int port);
int net_addr_family(const struct net_addr *a);
bool net_addr_is_loopback(const struct net_addr *a);
/* The raw address: 4 bytes for IPv4 (IPv4-mapped IPv6 included), 16 for
 * IPv6. Returns AF_INET, AF_INET6, or -1 for other families. */
int net_addr_bytes(const struct net_addr *a, uint8_t out[16]);
/* Build from raw sockaddr (e.g. accept()). */
void net_addr_from_sa(struct net_addr *a, const struct sockaddr *sa, socklen_t len);

/* CIDR list: "127.0.0.0/8 [::1]/128 192.0.2.7" (brackets optional). */
struct net_cidr {
	int family;
	uint8_t addr[16];
	int prefix;
};
struct net_cidr_list {
	struct net_cidr *v; /* owned */
	size_t n;
};
/* Parse one CIDR entry; returns 0 or -1. */
int net_cidr_parse(const char *s, struct net_cidr *out);
/* Parse a list separated by spaces/commas; on error returns -1 and, when
 * bad_out is not NULL, stores a malloc'ed copy of the offending token. */
int net_cidr_list_parse(const char *s, struct net_cidr_list *out, char **bad_out);
void net_cidr_list_fini(struct net_cidr_list *l);
bool net_cidr_list_match(const struct net_cidr_list *l, const struct net_addr *a);

#endif
