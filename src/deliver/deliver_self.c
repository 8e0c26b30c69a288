/*
 * deliver_self.c - the gateway's own endpoints, for MX self-loop avoidance
 * (RFC 5321 5.1: a sender that finds itself in the MX list drops itself and
 * every less preferred MX).
 *
 * "Us" is an address and a port: another service on this machine (a
 * different port) is a legitimate next hop. A wildcard listener stands for
 * every interface address of its family (listeners on :: are IPv6-only,
 * net_listen.c). Everything here is pure except deliver_self_local(),
 * which reads the interface list once, at deliver_new().
 */
#include <ifaddrs.h>
#include <netinet/in.h>
#include <string.h>

#include "base/xalloc.h"
#include "deliver/deliver_int.h"

static bool same_ip(const struct net_addr *a, const struct net_addr *b)
{
	char x[NET_ADDR_STRLEN], y[NET_ADDR_STRLEN];
	net_addr_ip(a, x, sizeof x);
	net_addr_ip(b, y, sizeof y);
	return strcmp(x, y) == 0;
}

bool deliver_self_match(const struct net_addr *a, const struct net_addr *self, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (net_addr_port(a) == net_addr_port(&self[i]) && same_ip(a, &self[i]))
			return true;
	}
	return false;
}

static bool is_wildcard(const struct net_addr *a)
{
	char ip[NET_ADDR_STRLEN];
	net_addr_ip(a, ip, sizeof ip);
	return strcmp(ip, "0.0.0.0") == 0 || strcmp(ip, "::") == 0;
}

size_t deliver_self_expand(const struct net_addr *listen, size_t nlisten, const struct net_addr *ifs, size_t nif,
			   struct net_addr *out)
{
	size_t k = 0;
	for (size_t i = 0; i < nlisten; i++) {
		if (!is_wildcard(&listen[i])) {
			out[k++] = listen[i];
			continue;
		}
		for (size_t j = 0; j < nif; j++) {
			if (net_addr_family(&ifs[j]) != net_addr_family(&listen[i]))
				continue;
			out[k] = ifs[j];
			net_addr_set_port(&out[k], net_addr_port(&listen[i]));
			k++;
		}
	}
	return k;
}

struct net_addr *deliver_self_local(const struct net_addr *listen, size_t nlisten, size_t *n_out)
{
	struct ifaddrs *ifa = NULL;
	size_t nif = 0;
	struct net_addr *ifs = NULL;
	if (getifaddrs(&ifa) == 0) {
		for (struct ifaddrs *p = ifa; p; p = p->ifa_next)
			nif++;
		ifs = xcalloc(nif ? nif : 1, sizeof *ifs);
		nif = 0;
		for (struct ifaddrs *p = ifa; p; p = p->ifa_next) {
			if (!p->ifa_addr || (p->ifa_addr->sa_family != AF_INET && p->ifa_addr->sa_family != AF_INET6))
				continue;
			socklen_t len = p->ifa_addr->sa_family == AF_INET ? sizeof(struct sockaddr_in)
									 : sizeof(struct sockaddr_in6);
			net_addr_from_sa(&ifs[nif++], p->ifa_addr, len);
		}
		freeifaddrs(ifa);
	}
	struct net_addr *out = xcalloc(nlisten * (nif + 1) + 1, sizeof *out);
	*n_out = deliver_self_expand(listen, nlisten, ifs, nif, out);
	xfree(ifs);
	return out;
}
