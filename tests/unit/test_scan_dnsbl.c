/*
 * test_scan_dnsbl.c - dnsbl_sites syntax, filters and weights, query names,
 * answer classification, TXT sanitizing, private ranges (scan_dnsbl.h).
 * The lookups themselves are tested end to end in tests/system/test_dnsbl.py.
 */
#include <arpa/inet.h>

#include "net/net_addr.h"
#include "scan/dnsbl/scan_dnsbl.h"
#include "unit.h"

/* ---------------------------------------------------------------- syntax */

struct sites_case {
	const char *name, *in;
	int ok;
	size_t nzones;
	const char *zones; /* "a|b" */
	const char *err;
};

static const struct sites_case sites_cases[] = {
	{ "empty", "", 1, 0, "", NULL },
	{ "one zone", "bl.example", 1, 1, "bl.example", NULL },
	{ "weights and filters", "zen.example=127.0.0.[2..11]*3, bl.example*1, allow.example=127.0.[0..255].[1..3]*-2",
	  1, 3, "zen.example|bl.example|allow.example", NULL },
	{ "space separated", "a.example b.example\tc.example", 1, 3, "a.example|b.example|c.example", NULL },
	{ "same zone twice shares the zone", "z.example=127.0.0.2*2 z.example=127.0.0.3", 1, 1, "z.example", NULL },
	{ "case folded, trailing dot", "BL.Example.", 1, 1, "bl.example", NULL },
	{ "list filter", "z.example=127.0.0.[2;4;9]", 1, 1, "z.example", NULL },
	{ "list with ranges", "z.example=127.0.[0;2..3].[1;5..6]", 1, 1, "z.example", NULL },
	{ "bad weight", "z.example*x", 0, .err = "dnsbl_sites item 'z.example*x': the weight after '*' must be a whole number" },
	{ "empty weight", "z.example*", 0, .err = "whole number" },
	{ "huge weight", "z.example*100000", 0, .err = "out of range" },
	{ "no zone", "=127.0.0.2", 0, .err = "no zone name" },
	{ "bad zone char", "bl!.example", 0, .err = "item 'bl!.example': the zone is not a valid domain name" },
	{ "double dot zone", "bl..example", 0, .err = "not a valid domain" },
	{ "three octets", "z.example=127.0.0", 0, .err = "four octets" },
	{ "five octets", "z.example=127.0.0.2.1", 0, .err = "after the filter's fourth octet" },
	{ "octet too big", "z.example=127.0.0.256", 0, .err = "0..255" },
	{ "backwards range", "z.example=127.0.0.[9..2]", 0, .err = "backwards" },
	{ "unclosed range", "z.example=127.0.0.[2..9", 0, .err = "expected ';', '..' or ']'" },
	{ "empty list", "z.example=127.0.0.[]", 0, .err = "needs numbers" },
	{ "second item bad", "ok.example, bad.example=1.2", 0, .err = "item 'bad.example=1.2'" },
	{ "too long zone", "{{200:a}}.example", 0, .err = "too long" },
};

static void check_sites(const struct sites_case *c)
{
	char in[UNIT_BUF], err[300] = "";
	unit_expand(c->in, strlen(c->in), in, sizeof in);
	unit_case(c->name, in, strlen(in));
	struct scan_dnsbl_sites *s = scan_dnsbl_sites_parse(in, err, sizeof err);
	U_EQ_INT(s != NULL, c->ok);
	if (!s) {
		U_CONTAINS(err, c->err);
		return;
	}
	U_EQ_INT(scan_dnsbl_sites_nzones(s), c->nzones);
	char got[512] = "";
	for (size_t i = 0; i < scan_dnsbl_sites_nzones(s); i++)
		snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", i ? "|" : "", scan_dnsbl_sites_zone(s, i));
	U_EQ_STR(got, c->zones);
	scan_dnsbl_sites_free(&s);
	U_CHECK(s == NULL);
}

static void test_sites(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(sites_cases, check_sites);
}

/* ---------------------------------------------------------------- scoring */

struct score_case {
	const char *name, *sites;
	size_t zone;
	const char *answers; /* space separated */
	int weight, matched;
};

static const struct score_case score_cases[] = {
	{ "no filter, any listing", "bl.example*3", 0, "127.0.0.2", 3, 1 },
	{ "default weight 1", "bl.example", 0, "127.0.0.4", 1, 1 },
	{ "no answers", "bl.example*3", 0, "", 0, 0 },
	{ "range hit", "zen.example=127.0.0.[2..11]*3", 0, "127.0.0.11", 3, 1 },
	{ "range miss above", "zen.example=127.0.0.[2..11]*3", 0, "127.0.0.12", 0, 0 },
	{ "range miss below", "zen.example=127.0.0.[2..11]*3", 0, "127.0.0.1", 0, 0 },
	{ "list hit", "z.example=127.0.0.[2;4;9]*2", 0, "127.0.0.4", 2, 1 },
	{ "list miss", "z.example=127.0.0.[2;4;9]*2", 0, "127.0.0.3", 0, 0 },
	{ "list with range", "z.example=127.0.[0;2..3].[1;5..6]", 0, "127.0.3.6", 1, 1 },
	{ "several records, one pattern, counted once", "zen.example=127.0.0.[2..11]*3", 0,
	  "127.0.0.2 127.0.0.4 127.0.0.10", 3, 1 },
	{ "two patterns of a zone add up", "z.example=127.0.0.2*2 z.example=127.0.0.[3..4]*5", 0, "127.0.0.2 127.0.0.4",
	  7, 1 },
	{ "only the matching pattern", "z.example=127.0.0.2*2 z.example=127.0.0.[3..4]*5", 0, "127.0.0.3", 5, 1 },
	{ "negative weight (allow list)", "allow.example=127.0.[0..255].[1..3]*-2", 0, "127.0.9.2", -2, 1 },
	{ "other zone's patterns ignored", "a.example*4 b.example*2", 1, "127.0.0.2", 2, 1 },
	{ "error code never a listing", "bl.example*3", 0, "127.255.255.254", 0, 0 },
	{ "error code 252", "bl.example", 0, "127.255.255.252", 0, 0 },
	{ "error code 255", "bl.example", 0, "127.255.255.255", 0, 0 },
	{ "253 is a listing", "bl.example", 0, "127.255.255.253", 1, 1 },
	{ "outside 127/8 never a listing", "bl.example", 0, "10.0.0.2", 0, 0 },
	{ "filter cannot admit an error code", "bl.example=127.255.255.[250..255]", 0, "127.255.255.254", 0, 0 },
	{ "error code next to a listing", "bl.example*2", 0, "127.255.255.254 127.0.0.2", 2, 1 },
};

static void check_score(const struct score_case *c)
{
	unit_case(c->name, c->answers, strlen(c->answers));
	char err[300];
	struct scan_dnsbl_sites *s = scan_dnsbl_sites_parse(c->sites, err, sizeof err);
	U_CHECK(s != NULL);
	if (!s)
		return;
	uint8_t a[16][4];
	size_t n = 0;
	char buf[256];
	snprintf(buf, sizeof buf, "%s", c->answers);
	for (char *tok = strtok(buf, " "); tok && n < 16; tok = strtok(NULL, " "))
		U_CHECK(inet_pton(AF_INET, tok, a[n++]) == 1);
	bool matched = true;
	U_EQ_INT(scan_dnsbl_sites_score(s, c->zone, (const uint8_t(*)[4])a, n, &matched), c->weight);
	U_EQ_INT(matched, c->matched);
	scan_dnsbl_sites_free(&s);
}

static void test_score(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(score_cases, check_score);
}

/* ---------------------------------------------------------------- classify */

struct class_case {
	const char *name, *ip;
	enum scan_dnsbl_answer want;
};

static const struct class_case class_cases[] = {
	{ "127.0.0.2", "127.0.0.2", SCAN_DNSBL_LISTED },
	{ "127.0.0.1 is in 127/8", "127.0.0.1", SCAN_DNSBL_LISTED },
	{ "127.1.2.3", "127.1.2.3", SCAN_DNSBL_LISTED },
	{ "252 typing error", "127.255.255.252", SCAN_DNSBL_ERRCODE },
	{ "254 public resolver", "127.255.255.254", SCAN_DNSBL_ERRCODE },
	{ "255 excessive queries", "127.255.255.255", SCAN_DNSBL_ERRCODE },
	{ "253 not an error code", "127.255.255.253", SCAN_DNSBL_LISTED },
	{ "outside", "192.0.2.1", SCAN_DNSBL_BOGUS },
	{ "128.0.0.2", "128.0.0.2", SCAN_DNSBL_BOGUS },
	{ "0.0.0.0", "0.0.0.0", SCAN_DNSBL_BOGUS },
};

static void check_class(const struct class_case *c)
{
	unit_case(c->name, c->ip, strlen(c->ip));
	uint8_t b[4];
	U_CHECK(inet_pton(AF_INET, c->ip, b) == 1);
	U_EQ_INT(scan_dnsbl_classify(b), c->want);
}

static void test_classify(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(class_cases, check_class);
}

/* ---------------------------------------------------------------- names */

struct qname_case {
	const char *name, *addr, *zone, *want;
	int size;
};

static const struct qname_case qname_cases[] = {
	{ "ipv4", "192.0.2.99", "bl.example", "99.2.0.192.bl.example", 0 },
	{ "ipv4 test entry", "127.0.0.2", "zen.example", "2.0.0.127.zen.example", 0 },
	{ "ipv6 nibbles", "2001:db8:1:2::ab",
	  "bl.example", "b.a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.bl.example", 0 },
	{ "ipv6 loopback", "::1", "z.example",
	  "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.z.example", 0 },
	{ "ipv4-mapped is v4", "::ffff:198.51.100.7", "bl.example", "7.100.51.198.bl.example", 0 },
	{ "does not fit", "192.0.2.99", "bl.example", NULL, 10 },
};

static void check_qname(const struct qname_case *c)
{
	unit_case(c->name, c->addr, strlen(c->addr));
	struct net_addr a;
	U_CHECK(net_addr_parse(c->addr, 25, &a) == 0);
	char out[300];
	int rc = scan_dnsbl_query_name(&a, c->zone, out, c->size ? (size_t)c->size : sizeof out);
	U_EQ_INT(rc, c->want ? 0 : -1);
	if (c->want)
		U_EQ_STR(out, c->want);
}

static void test_qname(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(qname_cases, check_qname);
}

/* ---------------------------------------------------------------- misc */

struct private_case {
	const char *name, *addr;
	int priv;
};

static const struct private_case private_cases[] = {
	{ "loopback", "127.0.0.9", 1 },	   { "rfc1918 10", "10.1.2.3", 1 },	{ "rfc1918 172.16", "172.31.0.1", 1 },
	{ "172.32 public", "172.32.0.1", 0 }, { "rfc1918 192.168", "192.168.1.1", 1 }, { "link local", "169.254.9.9", 1 },
	{ "cgnat", "100.64.0.1", 1 },	   { "100.128 public", "100.128.0.1", 0 }, { "public v4", "192.0.2.1", 0 },
	{ "v6 loopback", "::1", 1 },	   { "v6 ula", "fd00::1", 1 },		{ "v6 link local", "fe80::1", 1 },
	{ "v6 public", "2001:db8::1", 0 }, { "mapped private", "::ffff:10.0.0.1", 1 },
	{ "mapped public", "::ffff:192.0.2.1", 0 },
};

static void check_private(const struct private_case *c)
{
	unit_case(c->name, c->addr, strlen(c->addr));
	struct net_addr a;
	U_CHECK(net_addr_parse(c->addr, 25, &a) == 0);
	U_EQ_INT(scan_dnsbl_private(&a), c->priv);
}

static void test_private(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(private_cases, check_private);
}

static void test_sanitize(void **state)
{
	(void)state;
	char out[16];
	unit_case("control and 8-bit octets", NULL, 0);
	scan_dnsbl_sanitize("a\r\nb\x01\xc3\xa9z", out, sizeof out);
	U_EQ_STR(out, "a??b???z");
	unit_case("bounded", NULL, 0);
	scan_dnsbl_sanitize("0123456789abcdefghij", out, 8);
	U_EQ_STR(out, "0123456");
	unit_case("printable kept", NULL, 0);
	scan_dnsbl_sanitize("See https://x.example/q?ip=1", out, sizeof out);
	U_EQ_STR(out, "See https://x.e");
	UNIT_FINISH();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sites),	 cmocka_unit_test(test_score),	 cmocka_unit_test(test_classify),
		cmocka_unit_test(test_qname),	 cmocka_unit_test(test_private), cmocka_unit_test(test_sanitize),
	};
	UNIT_MAIN(tests);
}
