/*
 * scan_dnsbl_sites.c - the pure half of scan_dnsbl.h: the dnsbl_sites
 * parser (postscreen syntax), answer filters and weights, answer
 * classification, query names, TXT sanitizing, private address ranges.
 *
 * A filter is kept as four 256-bit sets (one per answer octet), so ranges
 * and lists cost the same to match. Limits: SCAN_DNSBL_ZONES_MAX zones,
 * SCAN_DNSBL_PATTERNS_MAX items, |weight| <= SCAN_DNSBL_WEIGHT_MAX, zone
 * names short enough for an IPv6 query name (DNS_NAME_MAX).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/str.h"
#include "base/xalloc.h"
#include "scan/dnsbl/scan_dnsbl.h"
#include "scan/dnsbl/scan_dnsbl_int.h"

#define V6_QNAME_LEN 64 /* 32 nibbles and dots */

/* ---------------------------------------------------------------- parser */

struct perr {
	char *err;
	size_t errlen;
	const char *item;
};

static int fail(struct perr *pe, const char *why)
{
	snprintf(pe->err, pe->errlen, "dnsbl_sites item '%s': %s", pe->item, why);
	return -1;
}

/* A decimal octet at *p (advanced). */
static int parse_octet(const char **p, unsigned *out)
{
	const char *s = *p;
	unsigned v = 0;
	size_t n = 0;
	while (s[n] >= '0' && s[n] <= '9' && n < 4)
		v = v * 10 + (unsigned)(s[n++] - '0');
	if (n == 0 || n > 3 || v > 255)
		return -1;
	*p = s + n;
	*out = v;
	return 0;
}

static void set_range(uint8_t *set, unsigned a, unsigned b)
{
	for (unsigned v = a; v <= b; v++)
		set[v / 8] |= (uint8_t)(1u << (v % 8));
}

/* One octet of a filter: "n", "[a..b]" or "[a;b..c;d]". */
static int parse_filter_octet(struct perr *pe, const char **p, uint8_t *set)
{
	unsigned a, b;
	if (**p != '[') {
		if (parse_octet(p, &a) < 0)
			return fail(pe, "filter octets must be 0..255, [a..b] or [a;b;c]");
		set_range(set, a, a);
		return 0;
	}
	(*p)++;
	for (;;) {
		if (parse_octet(p, &a) < 0)
			return fail(pe, "a filter list or range needs numbers 0..255");
		b = a;
		if ((*p)[0] == '.' && (*p)[1] == '.') {
			*p += 2;
			if (parse_octet(p, &b) < 0)
				return fail(pe, "a filter range needs numbers 0..255");
			if (b < a)
				return fail(pe, "a filter range must not run backwards");
		}
		set_range(set, a, b);
		if (**p == ']') {
			(*p)++;
			return 0;
		}
		if (**p != ';')
			return fail(pe, "expected ';', '..' or ']' in a filter octet");
		(*p)++;
	}
}

static int parse_filter(struct perr *pe, const char *f, struct dnsbl_pattern *pat)
{
	memset(pat->oct, 0, sizeof pat->oct);
	for (int i = 0; i < 4; i++) {
		if (i > 0 && *f++ != '.')
			return fail(pe, "a filter has four octets separated by '.'");
		if (parse_filter_octet(pe, &f, pat->oct[i]) < 0)
			return -1;
	}
	if (*f)
		return fail(pe, "unexpected text after the filter's fourth octet");
	pat->any = false;
	return 0;
}

static int parse_weight(struct perr *pe, const char *w, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(w, &end, 10);
	if (!*w || *end || errno || w[0] == '+' || w[0] == ' ')
		return fail(pe, "the weight after '*' must be a whole number");
	if (v > SCAN_DNSBL_WEIGHT_MAX || v < -SCAN_DNSBL_WEIGHT_MAX)
		return fail(pe, "the weight is out of range (-1000..1000)");
	*out = (int)v;
	return 0;
}

static int check_zone(struct perr *pe, char *z)
{
	size_t n = strlen(z);
	if (n && z[n - 1] == '.')
		z[--n] = '\0';
	if (n == 0)
		return fail(pe, "no zone name");
	if (n > DNSBL_ZONE_LEN_MAX)
		return fail(pe, "the zone name is too long");
	for (size_t i = 0; i < n; i++) {
		char c = z[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
			  c == '_' || (c == '.' && i > 0 && z[i - 1] != '.');
		if (!ok)
			return fail(pe, "the zone is not a valid domain name");
	}
	str_lower(z);
	return 0;
}

static size_t zone_index(struct scan_dnsbl_sites *s, const char *z)
{
	for (size_t i = 0; i < s->nzones; i++)
		if (strcmp(s->zones[i], z) == 0)
			return i;
	return s->nzones;
}

static int parse_item(struct scan_dnsbl_sites *s, struct perr *pe, char *item)
{
	struct dnsbl_pattern *pat = &s->pat[s->npat];
	pat->weight = 1;
	pat->any = true;
	char *star = strchr(item, '*');
	if (star) {
		*star = '\0';
		if (parse_weight(pe, star + 1, &pat->weight) < 0)
			return -1;
	}
	char *eq = strchr(item, '=');
	if (eq) {
		*eq = '\0';
		if (parse_filter(pe, eq + 1, pat) < 0)
			return -1;
	}
	if (check_zone(pe, item) < 0)
		return -1;
	pat->zone = zone_index(s, item);
	if (pat->zone == s->nzones) {
		if (s->nzones == SCAN_DNSBL_ZONES_MAX)
			return fail(pe, "too many zones (at most 32)");
		s->zones[s->nzones++] = xstrdup(item);
	}
	s->npat++;
	return 0;
}

struct scan_dnsbl_sites *scan_dnsbl_sites_parse(const char *text, char *err, size_t errlen)
{
	struct scan_dnsbl_sites *s = xcalloc(1, sizeof *s);
	char *copy = xstrdup(text ? text : "");
	char *items[SCAN_DNSBL_PATTERNS_MAX + 1];
	size_t n = str_split(copy, ", \t\r\n", items, SCAN_DNSBL_PATTERNS_MAX + 1);
	int rc = 0;
	if (n > SCAN_DNSBL_PATTERNS_MAX) {
		snprintf(err, errlen, "dnsbl_sites: too many items (at most %d)", SCAN_DNSBL_PATTERNS_MAX);
		rc = -1;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		char orig[DNSBL_ZONE_LEN_MAX + 64];
		snprintf(orig, sizeof orig, "%s", items[i]);
		struct perr pe = { err, errlen, orig };
		rc = parse_item(s, &pe, items[i]);
	}
	xfree(copy);
	if (rc < 0)
		scan_dnsbl_sites_free(&s);
	return s;
}

void scan_dnsbl_sites_free(struct scan_dnsbl_sites **sp)
{
	struct scan_dnsbl_sites *s = *sp;
	if (!s)
		return;
	for (size_t i = 0; i < s->nzones; i++)
		xfree(s->zones[i]);
	xfree(s);
	*sp = NULL;
}

size_t scan_dnsbl_sites_nzones(const struct scan_dnsbl_sites *s)
{
	return s->nzones;
}

const char *scan_dnsbl_sites_zone(const struct scan_dnsbl_sites *s, size_t zone)
{
	return zone < s->nzones ? s->zones[zone] : NULL;
}

/* ---------------------------------------------------------------- matching */

enum scan_dnsbl_answer scan_dnsbl_classify(const uint8_t ip[4])
{
	if (ip[0] != 127)
		return SCAN_DNSBL_BOGUS;
	if (ip[1] == 255 && ip[2] == 255 && (ip[3] == 252 || ip[3] == 254 || ip[3] == 255))
		return SCAN_DNSBL_ERRCODE;
	return SCAN_DNSBL_LISTED;
}

static bool in_set(const uint8_t *set, uint8_t v)
{
	return set[v / 8] & (1u << (v % 8));
}

int dnsbl_pattern_match(const struct dnsbl_pattern *p, const uint8_t (*a)[4], size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (scan_dnsbl_classify(a[i]) != SCAN_DNSBL_LISTED)
			continue;
		if (p->any || (in_set(p->oct[0], a[i][0]) && in_set(p->oct[1], a[i][1]) && in_set(p->oct[2], a[i][2]) &&
			       in_set(p->oct[3], a[i][3])))
			return (int)i;
	}
	return -1;
}

int scan_dnsbl_sites_score(const struct scan_dnsbl_sites *s, size_t zone, const uint8_t (*a)[4], size_t n,
			   bool *matched)
{
	int w = 0;
	*matched = false;
	for (size_t i = 0; i < s->npat; i++) {
		if (s->pat[i].zone == zone && dnsbl_pattern_match(&s->pat[i], a, n) >= 0) {
			w += s->pat[i].weight;
			*matched = true;
		}
	}
	return w;
}

/* ---------------------------------------------------------------- addresses */

int scan_dnsbl_query_name(const struct net_addr *a, const char *zone, char *out, size_t size)
{
	uint8_t b[16];
	int f = net_addr_bytes(a, b), k;
	if (f == AF_INET) {
		k = snprintf(out, size, "%u.%u.%u.%u.%s", b[3], b[2], b[1], b[0], zone);
	} else if (f == AF_INET6) {
		static const char hex[] = "0123456789abcdef";
		char v6[V6_QNAME_LEN + 1];
		for (int i = 0; i < 16; i++) {
			uint8_t x = b[15 - i];
			v6[i * 4] = hex[x & 15];
			v6[i * 4 + 1] = '.';
			v6[i * 4 + 2] = hex[x >> 4];
			v6[i * 4 + 3] = '.';
		}
		v6[V6_QNAME_LEN] = '\0';
		k = snprintf(out, size, "%s%s", v6, zone);
	} else {
		return -1;
	}
	return k > 0 && (size_t)k < size ? 0 : -1;
}

void scan_dnsbl_sanitize(const char *in, char *out, size_t size)
{
	size_t o = 0;
	for (; *in && o + 1 < size; in++)
		out[o++] = (*in >= 0x20 && *in < 0x7f) ? *in : '?';
	if (size)
		out[o] = '\0';
}

/* Networks DNSBLs never list (RFC 1918, loopback, link-local, CGNAT, ULA,
 * unspecified): parsed once. */
static struct net_cidr_list private_nets;
static pthread_once_t private_once = PTHREAD_ONCE_INIT;

static void private_init(void)
{
	if (net_cidr_list_parse("0.0.0.0/8 10.0.0.0/8 127.0.0.0/8 100.64.0.0/10 169.254.0.0/16 172.16.0.0/12 "
				"192.168.0.0/16 ::/128 ::1/128 fc00::/7 fe80::/10",
				&private_nets, NULL) < 0)
		abort(); /* a constant */
}

bool scan_dnsbl_private(const struct net_addr *a)
{
	uint8_t b[16];
	if (net_addr_bytes(a, b) < 0)
		return true; /* not an IP client */
	pthread_once(&private_once, private_init);
	return net_cidr_list_match(&private_nets, a);
}
