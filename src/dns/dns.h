/*
 * dns.h - the c-ares facade: MX, A/AAAA, PTR, and (for DNS blocklists)
 * A-with-TTL and TXT lookups on the event loop.
 *
 * Results are tri-state as Postfix's (DNS_OK / DNS_NOTFOUND / DNS_TEMPFAIL)
 * with NXDOMAIN kept apart from "no records of that type" because MX logic
 * needs the difference (RFC 5321 5.1). Callbacks never run inside the call
 * that started the lookup: they always come from the event loop, so callers
 * need no re-entrancy care. A lookup can be cancelled by its id; after
 * dns_cancel() its callback never runs. Every lookup ends within
 * dns_timeout seconds (DNS_TEMPFAIL "timeout"). Loop thread only.
 */
#ifndef DNS_DNS_H
#define DNS_DNS_H

#include <stddef.h>
#include <stdint.h>

#include "net/net_addr.h"

struct event_base;
struct dns;

enum dns_status {
	DNS_OK,
	DNS_NOTFOUND, /* the name exists, no records of this type (NODATA) */
	DNS_NXDOMAIN, /* the name does not exist */
	DNS_TEMPFAIL, /* timeout, SERVFAIL, refused, network error */
};
const char *dns_status_str(enum dns_status s);

#define DNS_NAME_MAX 255

struct dns_mx {
	char host[DNS_NAME_MAX + 1]; /* "" for a null MX (RFC 7505) */
	int pref;
};

/* servers: "addr[:port]" list separated by spaces/commas (IPv6 as
 * [addr]:port); NULL or "" = the system resolver. Returns NULL with err. */
struct dns *dns_new(struct event_base *base, const char *servers, int timeout_s, char *err, size_t errlen);
/* Cancels every pending lookup (no callbacks). */
void dns_free(struct dns **d);

/* MX records sorted by preference, equal preferences shuffled. */
typedef void (*dns_mx_fn)(void *arg, enum dns_status st, const struct dns_mx *mx, size_t n, const char *why);
uint64_t dns_lookup_mx(struct dns *d, const char *name, dns_mx_fn fn, void *arg);

/* A and AAAA of name (or the literal address itself), each with port. */
typedef void (*dns_addr_fn)(void *arg, enum dns_status st, const struct net_addr *a, size_t n, const char *why);
uint64_t dns_lookup_addr(struct dns *d, const char *name, int port, dns_addr_fn fn, void *arg);

/* PTR of an address (first name only). */
typedef void (*dns_name_fn)(void *arg, enum dns_status st, const char *name, const char *why);
uint64_t dns_lookup_ptr(struct dns *d, const struct net_addr *a, dns_name_fn fn, void *arg);

/* A records of name exactly as given (no literal shortcut, no search list,
 * no AAAA), each with its answer TTL in seconds: what DNS blocklists need
 * (RFC 5782). At most DNS_A_MAX records are returned. */
#define DNS_A_MAX 16
struct dns_a {
	uint8_t ip[4];
	uint32_t ttl;
};
typedef void (*dns_a_fn)(void *arg, enum dns_status st, const struct dns_a *a, size_t n, const char *why);
uint64_t dns_lookup_a_ttl(struct dns *d, const char *name, dns_a_fn fn, void *arg);

/* TXT of name: the character-strings of the first TXT record joined
 * (RFC 7208 3.3 style, no separator), cut at DNS_TXT_MAX octets, as raw
 * octets (callers sanitize). */
#define DNS_TXT_MAX 512
typedef void (*dns_txt_fn)(void *arg, enum dns_status st, const char *txt, const char *why);
uint64_t dns_lookup_txt(struct dns *d, const char *name, dns_txt_fn fn, void *arg);

void dns_cancel(struct dns *d, uint64_t id);

#endif
