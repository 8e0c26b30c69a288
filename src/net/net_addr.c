/*
 * net_addr.c - address parsing/formatting and CIDR matching.
 *
 * IPv4-mapped IPv6 client addresses (::ffff:a.b.c.d) match IPv4 CIDRs.
 */
#include "net/net_addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/str.h"
#include "base/xalloc.h"

static int parse_port(const char *s, int *out)
{
	uint64_t v;
	if (str_to_u64(s, &v) < 0 || v == 0 || v > 65535)
		return -1;
	*out = (int)v;
	return 0;
}

int net_addr_parse(const char *s, int default_port, struct net_addr *out)
{
	char host[INET6_ADDRSTRLEN + 8];
	int port = default_port;
	const char *p;
	memset(out, 0, sizeof *out);
	if (s[0] == '[') {
		p = strchr(s, ']');
		if (!p || str_ncopy(host, sizeof host, s + 1, (size_t)(p - s - 1)) < 0)
			return -1;
		if (p[1] == ':') {
			if (parse_port(p + 2, &port) < 0)
				return -1;
		} else if (p[1] != '\0') {
			return -1;
		}
	} else if ((p = strrchr(s, ':')) != NULL && strchr(s, ':') == p) {
		/* exactly one colon: IPv4 with port */
		if (str_ncopy(host, sizeof host, s, (size_t)(p - s)) < 0 || parse_port(p + 1, &port) < 0)
			return -1;
	} else {
		if (str_copy(host, sizeof host, s) < 0)
			return -1;
	}
	if (port < 0)
		return -1;
	struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		out->len = sizeof *sin;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		out->len = sizeof *sin6;
		return 0;
	}
	return -1;
}

void net_addr_ip(const struct net_addr *a, char *out, size_t size)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&a->ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&a->ss;
	if (a->ss.ss_family == AF_INET) {
		inet_ntop(AF_INET, &sin->sin_addr, out, (socklen_t)size);
	} else if (a->ss.ss_family == AF_INET6) {
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], out, (socklen_t)size);
		else
			inet_ntop(AF_INET6, &sin6->sin6_addr, out, (socklen_t)size);
	} else {
		snprintf(out, size, "unknown");
	}
}

void net_addr_str(const struct net_addr *a, char *out, size_t size)
{
	char ip[INET6_ADDRSTRLEN];
	net_addr_ip(a, ip, sizeof ip);
	if (strchr(ip, ':'))
		snprintf(out, size, "[%s]:%d", ip, net_addr_port(a));
	else
		snprintf(out, size, "%s:%d", ip, net_addr_port(a));
}

int net_addr_port(const struct net_addr *a)
{
	if (a->ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
	if (a->ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
	return 0;
}

void net_addr_set_port(struct net_addr *a, int port)
{
	if (a->ss.ss_family == AF_INET)
		((struct sockaddr_in *)&a->ss)->sin_port = htons((uint16_t)port);
	else if (a->ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&a->ss)->sin6_port = htons((uint16_t)port);
}

int net_addr_family(const struct net_addr *a)
{
	return a->ss.ss_family;
}

void net_addr_from_sa(struct net_addr *a, const struct sockaddr *sa, socklen_t len)
{
	memset(a, 0, sizeof *a);
	if (len > sizeof a->ss)
		len = sizeof a->ss;
	memcpy(&a->ss, sa, len);
	a->len = len;
}

int net_addr_bytes(const struct net_addr *a, uint8_t out[16])
{
	if (a->ss.ss_family == AF_INET) {
		memcpy(out, &((const struct sockaddr_in *)&a->ss)->sin_addr, 4);
		return AF_INET;
	}
	if (a->ss.ss_family == AF_INET6) {
		const struct in6_addr *in6 = &((const struct sockaddr_in6 *)&a->ss)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(in6)) {
			memcpy(out, &in6->s6_addr[12], 4);
			return AF_INET;
		}
		memcpy(out, in6->s6_addr, 16);
		return AF_INET6;
	}
	return -1;
}

bool net_addr_is_loopback(const struct net_addr *a)
{
	uint8_t b[16];
	int f = net_addr_bytes(a, b);
	if (f == AF_INET)
		return b[0] == 127;
	if (f == AF_INET6) {
		static const uint8_t lo[16] = { [15] = 1 };
		return memcmp(b, lo, 16) == 0;
	}
	return false;
}

int net_cidr_parse(const char *s, struct net_cidr *out)
{
	char tmp[INET6_ADDRSTRLEN + 8];
	if (str_copy(tmp, sizeof tmp, s) < 0)
		return -1;
	char *slash = strchr(tmp, '/');
	int prefix = -1;
	if (slash) {
		*slash = '\0';
		uint64_t v;
		if (str_to_u64(slash + 1, &v) < 0 || v > 128)
			return -1;
		prefix = (int)v;
	}
	char *h = tmp;
	size_t hl = strlen(h);
	if (h[0] == '[') {
		if (hl < 2 || h[hl - 1] != ']')
			return -1;
		h[hl - 1] = '\0';
		h++;
	}
	memset(out, 0, sizeof *out);
	if (inet_pton(AF_INET, h, out->addr) == 1) {
		out->family = AF_INET;
		if (prefix < 0)
			prefix = 32;
		if (prefix > 32)
			return -1;
	} else if (inet_pton(AF_INET6, h, out->addr) == 1) {
		out->family = AF_INET6;
		if (prefix < 0)
			prefix = 128;
		static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
		if (memcmp(out->addr, mapped, 12) == 0 && prefix >= 96) {
			/* ::ffff:a.b.c.d/n is the IPv4 network a.b.c.d/(n-96): client
			 * addresses in that form are matched as IPv4 */
			memmove(out->addr, out->addr + 12, 4);
			memset(out->addr + 4, 0, 12);
			out->family = AF_INET;
			prefix -= 96;
		}
	} else {
		return -1;
	}
	out->prefix = prefix;
	return 0;
}

int net_cidr_list_parse(const char *s, struct net_cidr_list *out, char **bad_out)
{
	char *copy = xstrdup(s);
	size_t max = strlen(s) / 2 + 2;
	char **fields = xcalloc(max, sizeof *fields);
	size_t n = str_split(copy, " \t,\n", fields, max);
	out->v = xcalloc(n ? n : 1, sizeof *out->v);
	out->n = 0;
	for (size_t i = 0; i < n; i++) {
		if (net_cidr_parse(fields[i], &out->v[out->n]) < 0) {
			if (bad_out)
				*bad_out = xstrdup(fields[i]);
			xfree(copy);
			xfree(fields);
			net_cidr_list_fini(out);
			return -1;
		}
		out->n++;
	}
	xfree(copy);
	xfree(fields);
	return 0;
}

void net_cidr_list_fini(struct net_cidr_list *l)
{
	xfree(l->v);
	l->v = NULL;
	l->n = 0;
}

static bool prefix_match(const uint8_t *a, const uint8_t *b, int bits)
{
	int full = bits / 8, rem = bits % 8;
	if (memcmp(a, b, (size_t)full) != 0)
		return false;
	if (!rem)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rem));
	return (a[full] & mask) == (b[full] & mask);
}

bool net_cidr_list_match(const struct net_cidr_list *l, const struct net_addr *a)
{
	uint8_t b[16];
	int f = net_addr_bytes(a, b);
	for (size_t i = 0; i < l->n; i++) {
		if (l->v[i].family == f && prefix_match(l->v[i].addr, b, l->v[i].prefix))
			return true;
	}
	return false;
}
