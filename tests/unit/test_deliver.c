/*
 * test_deliver.c - the pure parts of deliver/: Maildir path expansion
 * (%u, %d, %%, lower-casing, '/' and leading '.' made safe, the size limit
 * at N-1, N, N+1), our own endpoints (wildcard listeners expanded per
 * family, address + port matching) and the RFC 5321 5.1 cut of an MX list
 * at the preference of an MX that is us.
 */
#include "unit.h"

#include <stdbool.h>

#include "deliver/deliver_int.h"

/* ---- Maildir paths ---- */

struct mdpath_case {
	const char *name;
	const char *tmpl;
	const char *addr;
	size_t size; /* 0 = a large buffer */
	int want_rc;
	const char *want;
};

static const struct mdpath_case mdpath_cases[] = {
	{ "no placeholder", "/var/mail/all", "a@b.test", 0, 0, "/var/mail/all" },
	{ "local part", "/m/%u", "John.Doe@Example.TEST", 0, 0, "/m/john.doe" },
	{ "domain and local", "/m/%d/%u/", "Bob@Sub.Example.test", 0, 0, "/m/sub.example.test/bob/" },
	{ "template case kept", "/M/Box-%u", "X@y", 0, 0, "/M/Box-x" },
	{ "slash in local part", "/m/%u", "\"a/b\"@x.test", 0, 0, "/m/\"a_b\"" },
	{ "leading dot", "/m/%u", ".hidden@x.test", 0, 0, "/m/_hidden" },
	{ "dot dot", "/m/%u", "..@x.test", 0, 0, "/m/_." },
	{ "inner dots kept", "/m/%u", "a..b@x.test", 0, 0, "/m/a..b" },
	{ "quoted at sign", "/m/%u/%d", "\"a@b\"@x.test", 0, 0, "/m/\"a@b\"/x.test" },
	{ "address literal", "/m/%d", "u@[127.0.0.1]", 0, 0, "/m/[127.0.0.1]" },
	{ "no domain", "/m/%u/%d", "postmaster", 0, 0, "/m/postmaster/" },
	{ "percent", "/m/100%%/%u", "a@x", 0, 0, "/m/100%/a" },
	{ "unknown placeholder", "/m/%x", "a@x", 0, -1, "" },
	{ "trailing percent", "/m/%", "a@x", 0, -1, "" },
	{ "path of size-1 octets fits", "/m/%u", "abcd@x", 8, 0, "/m/abcd" },
	{ "path of size octets does not", "/m/%u", "abcde@x", 8, -1, "" },
	{ "path of size-2 octets fits", "/m/%u", "abc@x", 8, 0, "/m/abc" },
};

static void check_mdpath(const struct mdpath_case *c)
{
	char out[512];
	unit_case(c->name, c->addr, strlen(c->addr));
	int rc = deliver_maildir_path(c->tmpl, c->addr, out, c->size ? c->size : sizeof out);
	U_EQ_INT(rc, c->want_rc);
	U_EQ_STR(out, c->want);
}

static void test_maildir_path(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(mdpath_cases, check_mdpath);
}

/* ---- our own endpoints ---- */

static struct net_addr A(const char *s)
{
	struct net_addr a;
	if (net_addr_parse(s, 25, &a) < 0)
		abort();
	return a;
}

static bool is_self(const char *s, const struct net_addr *self, size_t n)
{
	struct net_addr a = A(s);
	return deliver_self_match(&a, self, n);
}

static void test_self_expand_and_match(void **state)
{
	(void)state;
	struct net_addr listen[] = { A("0.0.0.0:2525"), A("[::1]:26"), A("[::]:587") };
	struct net_addr ifs[] = { A("127.0.0.1"), A("192.0.2.7"), A("::1"), A("2001:db8::5") };
	struct net_addr out[3 * 5];
	unit_case("wildcards per family", NULL, 0);
	size_t n = deliver_self_expand(listen, 3, ifs, 4, out);
	U_EQ_INT(n, 5);
	U_CHECK(is_self("127.0.0.1:2525", out, n));
	U_CHECK(is_self("192.0.2.7:2525", out, n));
	U_CHECK(is_self("[::1]:26", out, n));
	U_CHECK(is_self("[::1]:587", out, n));
	U_CHECK(is_self("[2001:db8::5]:587", out, n));
	unit_case("other port is not us", NULL, 0);
	U_CHECK(!is_self("127.0.0.1:25", out, n));
	U_CHECK(!is_self("[::1]:2525", out, n));
	unit_case("other address is not us", NULL, 0);
	U_CHECK(!is_self("127.0.0.2:2525", out, n));
	U_CHECK(!is_self("[2001:db8::6]:587", out, n));
	unit_case("v4 wildcard is not v6", NULL, 0);
	U_CHECK(!is_self("[::1]:2525", out, n));
	unit_case("no listeners", NULL, 0);
	U_EQ_INT(deliver_self_expand(listen, 0, ifs, 4, out), 0);
	U_CHECK(!is_self("127.0.0.1:2525", out, 0));
	unit_case("specific listener kept as is", NULL, 0);
	struct net_addr one[] = { A("127.0.0.3:25") };
	U_EQ_INT(deliver_self_expand(one, 1, NULL, 0, out), 1);
	U_CHECK(is_self("127.0.0.3:25", out, 1));
	UNIT_FINISH();
}

/* ---- the MX cut ---- */

struct cut_case {
	const char *name;
	int prefs[6];
	size_t n, from;
	int cut;
	size_t want_n;
	int want[6];
};

static const struct cut_case cut_cases[] = {
	{ "best MX is us", { 10, 20, 30 }, 3, 0, 10, 0, { 0 } },
	{ "backup MX is us", { 10, 20, 30 }, 3, 0, 20, 1, { 10 } },
	{ "equal preference dropped too", { 10, 20, 20, 30 }, 4, 0, 20, 1, { 10 } },
	{ "last MX is us", { 10, 20, 30 }, 3, 0, 30, 2, { 10, 20 } },
	{ "earlier hops untouched", { 30, 40, 10, 20 }, 4, 2, 20, 3, { 30, 40, 10 } },
	{ "nothing after from", { 10 }, 1, 1, 10, 1, { 10 } },
};

static void check_cut(const struct cut_case *c)
{
	struct daddr v[6];
	memset(v, 0, sizeof v);
	for (size_t i = 0; i < c->n; i++)
		v[i].pref = c->prefs[i];
	unit_case(c->name, NULL, 0);
	size_t n = deliver_mx_drop_from(v, c->from, c->n, c->cut);
	U_EQ_INT(n, c->want_n);
	for (size_t i = 0; i < n && i < c->want_n; i++)
		U_EQ_INT(v[i].pref, c->want[i]);
}

static void test_mx_cut(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(cut_cases, check_cut);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maildir_path),
		cmocka_unit_test(test_self_expand_and_match),
		cmocka_unit_test(test_mx_cut),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
