/*
 * scan_dnsbl.h - DNS blocklists (RFC 5782) for client addresses, with
 * Postfix postscreen's site syntax and weights.
 *
 * Sites: "zone[=filter][*weight]" items separated by commas or white space,
 * e.g. "zen.example=127.0.0.[2..11]*3, bl.example, allow.example*-2". A
 * filter has four octets, each a number, a range "[a..b]" or a list
 * "[a;b;c]" whose elements may be ranges ("[1;3..5]"); no filter matches any
 * listing answer; the weight defaults to 1 and may be negative (allow
 * lists). A pattern adds its weight once per client however many of the
 * zone's answers match it; several patterns of one zone share one query.
 *
 * Answers: only 127.0.0.0/8 answers are listings, except 127.255.255.252,
 * .254 and .255 (Spamhaus' error codes: typing error, public resolver,
 * excessive queries). A zone that answers anything else is disabled with
 * "event=dnsbl_zone_disabled" and re-tested every retest interval with the
 * RFC 5782 test entries (127.0.0.2 listed, 127.0.0.1 not), as at start-up.
 * A zone that times out or fails is left out of that lookup only (the
 * result says incomplete) and is not disabled.
 *
 * Lookups: all enabled zones in parallel, each bounded by timeout_s; the
 * answers are cached per (address, zone) for their TTL clamped to
 * [ttl_min_s, ttl_max_s] (negative answers for ttl_min_s); lookups of an
 * address that is already being looked up wait for the same queries. The
 * TXT record of a zone that lists the client is fetched and kept as the
 * reason (printable ASCII, at most SCAN_DNSBL_TXT_MAX octets). Callbacks
 * always come from the event loop, never inside scan_dnsbl_lookup(); after
 * scan_dnsbl_cancel() a callback never runs. Loop thread only.
 */
#ifndef SCAN_DNSBL_SCAN_DNSBL_H
#define SCAN_DNSBL_SCAN_DNSBL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/net_addr.h"

struct event_base;
struct dns;
struct scan_dnsbl;
struct scan_dnsbl_sites;

#define SCAN_DNSBL_ZONES_MAX 32	   /* distinct zones in dnsbl_sites */
#define SCAN_DNSBL_PATTERNS_MAX 64 /* patterns (items) in dnsbl_sites */
#define SCAN_DNSBL_TXT_MAX 200	   /* reason kept from a TXT record */
#define SCAN_DNSBL_CACHE_MAX 65536 /* cached client addresses */
#define SCAN_DNSBL_WEIGHT_MAX 1000 /* |weight| of one pattern */

struct scan_dnsbl_conf {
	const char *sites; /* dnsbl_sites */
	int ttl_min_s, ttl_max_s;
	int timeout_s;
	int retest_s;	/* re-test of disabled zones */
	bool self_test; /* RFC 5782 test of every zone at start-up */
};

/* One matching pattern. */
struct scan_dnsbl_hit {
	const char *zone; /* valid while the scan_dnsbl lives */
	char answer[16];  /* the first answer that matched, "127.0.0.2" */
	char txt[SCAN_DNSBL_TXT_MAX + 1]; /* "" when the zone has no TXT */
	int weight;
};

struct scan_dnsbl_result {
	char ip[NET_ADDR_STRLEN];
	int weight;		     /* sum of the hits' weights */
	const struct scan_dnsbl_hit *hits; /* borrowed for the callback */
	size_t nhits;
	bool incomplete; /* a zone timed out or failed */
};

typedef void (*scan_dnsbl_fn)(void *arg, const struct scan_dnsbl_result *r);

/* NULL with a message in err when the sites do not parse. dns is borrowed
 * and must outlive the object. */
struct scan_dnsbl *scan_dnsbl_new(struct event_base *base, struct dns *dns, const struct scan_dnsbl_conf *conf,
				  char *err, size_t errlen);
/* Cancels everything pending (no callbacks). Not from inside a callback. */
void scan_dnsbl_free(struct scan_dnsbl **d);
/* Look addr up; fn(arg, result) runs later from the loop. Returns an id for
 * scan_dnsbl_cancel(). */
uint64_t scan_dnsbl_lookup(struct scan_dnsbl *d, const struct net_addr *addr, scan_dnsbl_fn fn, void *arg);
void scan_dnsbl_cancel(struct scan_dnsbl *d, uint64_t id);
/* Lookups whose callback has not run yet (a replaced object is freed once
 * this is 0, so nobody waits forever). */
size_t scan_dnsbl_pending(const struct scan_dnsbl *d);

struct scan_dnsbl_stats {
	uint64_t lookups;    /* scan_dnsbl_lookup calls */
	uint64_t cache_hits; /* lookups that needed no query */
	uint64_t queries;    /* A queries sent (self-tests included) */
	uint64_t timeouts;   /* zone queries that timed out or failed */
	size_t cached;	     /* addresses in the cache */
};
struct scan_dnsbl_zone_stats {
	const char *zone;
	uint64_t hits; /* lookups that found the client listed */
	uint64_t queries;
	bool disabled;
};
void scan_dnsbl_stats(const struct scan_dnsbl *d, struct scan_dnsbl_stats *out);
/* Fills out[0..max) and returns the number of zones (logged at shutdown). */
size_t scan_dnsbl_zone_stats(const struct scan_dnsbl *d, struct scan_dnsbl_zone_stats *out, size_t max);

/* ---- pure helpers (exposed for the tests) ---- */

/* Parse dnsbl_sites; NULL with "dnsbl_sites item '...': reason" in err. */
struct scan_dnsbl_sites *scan_dnsbl_sites_parse(const char *text, char *err, size_t errlen);
void scan_dnsbl_sites_free(struct scan_dnsbl_sites **s);
size_t scan_dnsbl_sites_nzones(const struct scan_dnsbl_sites *s);
const char *scan_dnsbl_sites_zone(const struct scan_dnsbl_sites *s, size_t zone);
/* The weight the answers a[0..n) of zone earn (each pattern counted once);
 * *matched: some pattern matched. Error-code answers never match. */
int scan_dnsbl_sites_score(const struct scan_dnsbl_sites *s, size_t zone, const uint8_t (*a)[4], size_t n,
			   bool *matched);

enum scan_dnsbl_answer {
	SCAN_DNSBL_LISTED,  /* 127.0.0.0/8 and not an error code */
	SCAN_DNSBL_ERRCODE, /* 127.255.255.252, .254, .255 */
	SCAN_DNSBL_BOGUS,   /* outside 127.0.0.0/8 */
};
enum scan_dnsbl_answer scan_dnsbl_classify(const uint8_t ip[4]);

/* "4.3.2.1.zone" / 32 reversed nibbles + ".zone"; -1 when it does not fit
 * or the address is neither IPv4 nor IPv6. IPv4-mapped IPv6 counts as v4. */
int scan_dnsbl_query_name(const struct net_addr *a, const char *zone, char *out, size_t size);
/* Copy in to out[size] keeping printable ASCII, other octets as '?'. */
void scan_dnsbl_sanitize(const char *in, char *out, size_t size);
/* Loopback, RFC 1918, link-local, CGNAT, ULA and unspecified addresses:
 * DNSBLs never list them, so the gateway skips them by default. */
bool scan_dnsbl_private(const struct net_addr *a);

#endif
