/*
 * test_scan_access.c - the access map (scan_access.h): load errors with
 * file:line, and the lookup order, from tables.
 */
#include <stdio.h>
#include <unistd.h>

#include "net/net_addr.h"
#include "scan/scan_access.h"
#include "unit.h"

/* ---------------------------------------------------------------- load */

struct load_case {
	const char *name, *in;
	int ok;
	size_t count;
	const char *err;
};

static const struct load_case load_cases[] = {
	{ "empty", "", 1, 0, NULL },
	{ "comments and blanks", "# a map\n\n   \n\t# indented\n", 1, 0, NULL },
	{ "all forms", "Connect:192.0.2.0/24 OK\nConnect:198.51.100 SPAM\nConnect:[IPv6:2001:db8::1] OK\n"
		       "Connect:IPv6:2001:db8:1::/48 SPAM\nFrom:partner.example OK\nFrom:user@partner.example OK\n"
		       "From:spammer.example SPAM\nTo:abuse@local.example OK\nTo:local.example OK\nFrom:<> OK\n",
	  1, 10, NULL },
	{ "case-insensitive tags and values", "connect:192.0.2.1 ok\nFROM:x.example spam\n", 1, 2, NULL },
	{ "crlf and trailing comment", "To:a@b.example OK # the boss\r\n", 1, 1, NULL },
	{ "unknown value", "From:x.example OK\nFrom:y.example REJECT\n", 0, .err = "map:2: unknown value (OK or SPAM) \"REJECT\"" },
	{ "no value", "From:x.example\n", 0, .err = "map:1: no value (OK or SPAM) after \"From:x.example\"" },
	{ "extra text", "From:x.example OK please\n", 0, .err = "map:1: unexpected text" },
	{ "no tag", "\n\nx.example OK\n", 0, .err = "map:3: no tag" },
	{ "unknown tag", "Helo:x.example OK\n", 0, .err = "map:1: unknown tag" },
	{ "empty key", "From: OK\n", 0, .err = "map:1: empty key" },
	{ "host name client", "Connect:mail.example OK\n", 0, .err = "host names are not supported" },
	{ "bad octet", "Connect:192.0.256 OK\n", 0, .err = "map:1: not an IP address" },
	{ "cidr on prefix", "Connect:192.0/16 OK\n", 0, .err = "a CIDR needs a full IPv4 address" },
	{ "cidr too long", "Connect:192.0.2.0/33 OK\n", 0, .err = "prefix of 0..32" },
	{ "bad ipv6", "Connect:[IPv6:2001:db8::zz] OK\n", 0, .err = "not an IPv6 address" },
	{ "null sender as To", "To:<> OK\n", 0, .err = "From: only" },
	{ "duplicate: first wins", "From:x.example OK\nFrom:X.example SPAM\n", 1, 2, NULL },
};

static void check_load(const struct load_case *c)
{
	unit_case(c->name, c->in, strlen(c->in));
	char err[300] = "";
	struct scan_access *a = scan_access_parse("map", c->in, err, sizeof err);
	U_EQ_INT(a != NULL, c->ok);
	if (!a) {
		U_CONTAINS(err, c->err);
		return;
	}
	U_EQ_INT(scan_access_count(a), c->count);
	scan_access_free(&a);
	U_CHECK(a == NULL);
}

static void test_load(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(load_cases, check_load);
}

/* ---------------------------------------------------------------- lookup */

static const char MAP[] = "# the site's access map\n"
			  "Connect:192.0.2.0/24 OK\n"
			  "Connect:192.0.2.66 SPAM\n"
			  "Connect:198.51 SPAM\n"
			  "Connect:198.51.100 OK\n"
			  "Connect:203.0.113.0/25 SPAM\n"
			  "Connect:[IPv6:2001:db8::25] OK\n"
			  "Connect:IPv6:2001:db8::/32 SPAM\n"
			  "From:partner.example OK\n"
			  "From:bad@partner.example SPAM\n"
			  "From:news@ SPAM\n"
			  "From:spammer.example SPAM\n"
			  "From:<> SPAM\n"
			  "From:X.example OK\n"
			  "From:x.example SPAM\n"
			  "To:abuse@local.example OK\n"
			  "To:trap@local.example SPAM\n"
			  "To:postmaster@ OK\n"
			  "To:open.example OK\n"
			  "Connect:IPv6:::ffff:203.0.113.200 OK\n";

struct lookup_case {
	const char *name, *client, *sender, *rcpts; /* rcpts comma separated */
	enum scan_access_verdict want;
	const char *entry;
	int line;
};

static const struct lookup_case lookup_cases[] = {
	{ "nothing matches", "192.0.9.1", "a@b.example", "u@local.example", SCAN_ACCESS_NONE, NULL, 0 },
	{ "cidr", "192.0.2.7", NULL, "", SCAN_ACCESS_OK, "Connect:192.0.2.0/24", 2 },
	{ "exact beats cidr", "192.0.2.66", NULL, "", SCAN_ACCESS_SPAM, "Connect:192.0.2.66", 3 },
	{ "octet prefix", "198.51.7.1", NULL, "", SCAN_ACCESS_SPAM, "Connect:198.51", 4 },
	{ "longer octet prefix first", "198.51.100.9", NULL, "", SCAN_ACCESS_OK, "Connect:198.51.100", 5 },
	{ "cidr /25 inside", "203.0.113.127", NULL, "", SCAN_ACCESS_SPAM, "Connect:203.0.113.0/25", 6 },
	{ "cidr /25 outside", "203.0.113.128", NULL, "", SCAN_ACCESS_NONE, NULL, 0 },
	{ "ipv6 exact", "2001:db8::25", NULL, "", SCAN_ACCESS_OK, "Connect:[IPv6:2001:db8::25]", 7 },
	{ "ipv6 prefix", "2001:db8:5::1", NULL, "", SCAN_ACCESS_SPAM, "Connect:IPv6:2001:db8::/32", 8 },
	{ "ipv4-mapped client", "::ffff:192.0.2.66", NULL, "", SCAN_ACCESS_SPAM, "Connect:192.0.2.66", 3 },
	{ "ipv4-mapped entry, plain client", "203.0.113.200", NULL, "", SCAN_ACCESS_OK,
	  "Connect:IPv6:::ffff:203.0.113.200", 20 },
	{ "sender domain", NULL, "joe@partner.example", "", SCAN_ACCESS_OK, "From:partner.example", 9 },
	{ "sender full address first", NULL, "bad@partner.example", "", SCAN_ACCESS_SPAM, "From:bad@partner.example", 10 },
	{ "sender address case", NULL, "BAD@Partner.Example", "", SCAN_ACCESS_SPAM, "From:bad@partner.example", 10 },
	{ "sender parent domain", NULL, "x@mx.eu.spammer.example", "", SCAN_ACCESS_SPAM, "From:spammer.example", 12 },
	{ "not a suffix match", NULL, "x@notspammer.example", "", SCAN_ACCESS_NONE, NULL, 0 },
	{ "user@ before the domain", NULL, "news@partner.example", "", SCAN_ACCESS_SPAM, "From:news@", 11 },
	{ "null sender", NULL, "", "", SCAN_ACCESS_SPAM, "From:<>", 13 },
	{ "duplicate: the first", NULL, "a@x.example", "", SCAN_ACCESS_OK, "From:X.example", 14 },
	{ "recipient abuse beats a SPAM client", "192.0.2.66", "x@spammer.example", "abuse@local.example",
	  SCAN_ACCESS_OK, "To:abuse@local.example", 16 },
	{ "spam trap", "192.0.2.7", "joe@partner.example", "u@local.example,trap@local.example", SCAN_ACCESS_SPAM,
	  "To:trap@local.example", 17 },
	{ "client before sender", "192.0.2.66", "joe@partner.example", "u@local.example", SCAN_ACCESS_SPAM,
	  "Connect:192.0.2.66", 3 },
	{ "bare postmaster", NULL, "x@y.example", "postmaster", SCAN_ACCESS_OK, "To:postmaster@", 18 },
	{ "recipient domain", NULL, NULL, "a@sub.open.example", SCAN_ACCESS_OK, "To:open.example", 19 },
};

static struct scan_access *lookup_map;

static void check_lookup(const struct lookup_case *c)
{
	unit_case(c->name, c->sender ? c->sender : "", c->sender ? strlen(c->sender) : 0);
	struct net_addr ca;
	if (c->client)
		U_CHECK(net_addr_parse(c->client, 25, &ca) == 0);
	char buf[256];
	const char *rcpts[8];
	size_t n = 0;
	snprintf(buf, sizeof buf, "%s", c->rcpts);
	for (char *t = strtok(buf, ","); t && n < 8; t = strtok(NULL, ","))
		rcpts[n++] = t;
	struct scan_access_match m;
	enum scan_access_verdict v = scan_access_check(lookup_map, c->client ? &ca : NULL, c->sender, rcpts, n, &m);
	U_EQ_INT(v, c->want);
	U_EQ_INT(m.verdict, c->want);
	U_EQ_STR(m.entry, c->entry);
	U_EQ_INT(m.line, c->line);
}

static void test_lookup(void **state)
{
	(void)state;
	char err[300] = "";
	lookup_map = scan_access_parse("access", MAP, err, sizeof err);
	assert_non_null(lookup_map);
	UNIT_RUN_TABLE(lookup_cases, check_lookup);
	scan_access_free(&lookup_map);
}

static void test_load_file(void **state)
{
	(void)state;
	char path[] = "/tmp/test_scan_access_XXXXXX", err[300] = "";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char text[] = "Connect:192.0.2 OK\nFrom:a.example MAYBE\n";
	assert_true(write(fd, text, sizeof text - 1) == (ssize_t)(sizeof text - 1));
	close(fd);
	unit_case("file error names file:line", text, sizeof text - 1);
	struct scan_access *a = scan_access_load(path, err, sizeof err);
	U_CHECK(a == NULL);
	char want[128];
	snprintf(want, sizeof want, "%s:2: unknown value", path);
	U_CONTAINS(err, want);
	unlink(path);
	unit_case("missing file", NULL, 0);
	a = scan_access_load(path, err, sizeof err);
	U_CHECK(a == NULL);
	U_CONTAINS(err, "No such file");
	UNIT_FINISH();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_load_file),
	};
	UNIT_MAIN(tests);
}
