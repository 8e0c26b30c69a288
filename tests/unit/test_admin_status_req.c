/*
 * test_admin_status_req.c - the HTTP listener's request targets
 * (admin/admin_status_req.c): every resource, queries ignored, action ids valid,
 * invalid (case, alphabet, length N-1/N+1, percent-encoding, traversal) and
 * the URI length limit (N, N+1).
 */
#include "unit.h"

#include "admin/admin_status_req.h"

struct req_case {
	const char *name;
	const char *uri; /* may use {{N:x}} templates */
	enum admin_status_res want;
	const char *want_id;
};

static const struct req_case cases[] = {
	{ "root", "/", ADMIN_RES_PAGE, "" },
	{ "index", "/index.html", ADMIN_RES_PAGE, "" },
	{ "root with query", "/?refresh=1", ADMIN_RES_PAGE, "" },
	{ "script", "/status.js", ADMIN_RES_JS, "" },
	{ "style", "/status.css", ADMIN_RES_CSS, "" },
	{ "api", "/api/status", ADMIN_RES_API, "" },
	{ "api with fragment", "/api/status#x", ADMIN_RES_API, "" },
	{ "metrics", "/metrics", ADMIN_RES_METRICS, "" },
	{ "metrics with query", "/metrics?name[]=x", ADMIN_RES_METRICS, "" },
	{ "release", "/api/quarantine/0123456789ABCDEF/release", ADMIN_RES_RELEASE, "0123456789ABCDEF" },
	{ "delete", "/api/quarantine/1K0ZJC1HFDA9J58V/delete?x", ADMIN_RES_DELETE, "1K0ZJC1HFDA9J58V" },
	{ "id lower case", "/api/quarantine/0123456789abcdef/release", ADMIN_RES_BAD_ID, "" },
	{ "id with I", "/api/quarantine/0123456789ABCDEI/release", ADMIN_RES_BAD_ID, "" },
	{ "id N-1", "/api/quarantine/{{15:A}}/release", ADMIN_RES_BAD_ID, "" },
	{ "id N", "/api/quarantine/{{16:A}}/release", ADMIN_RES_RELEASE, "AAAAAAAAAAAAAAAA" },
	{ "id N+1", "/api/quarantine/{{17:A}}/release", ADMIN_RES_BAD_ID, "" },
	{ "id empty", "/api/quarantine//release", ADMIN_RES_BAD_ID, "" },
	{ "id percent-encoded", "/api/quarantine/%30123456789ABCDE/release", ADMIN_RES_BAD_ID, "" },
	{ "traversal", "/api/quarantine/../../release", ADMIN_RES_NOTFOUND, "" },
	{ "unknown verb", "/api/quarantine/0123456789ABCDEF/explode", ADMIN_RES_NOTFOUND, "" },
	{ "verb prefix", "/api/quarantine/0123456789ABCDEF/releasex", ADMIN_RES_NOTFOUND, "" },
	{ "no verb", "/api/quarantine/0123456789ABCDEF", ADMIN_RES_NOTFOUND, "" },
	{ "trailing slash", "/api/quarantine/0123456789ABCDEF/release/", ADMIN_RES_NOTFOUND, "" },
	{ "prefix only", "/api/quarantine/", ADMIN_RES_NOTFOUND, "" },
	{ "encoded page", "/%69ndex.html", ADMIN_RES_NOTFOUND, "" },
	{ "path prefix", "/api/statusx", ADMIN_RES_NOTFOUND, "" },
	{ "double slash", "//", ADMIN_RES_NOTFOUND, "" },
	{ "absolute form", "http://127.0.0.1/api/status", ADMIN_RES_NOTFOUND, "" },
	{ "empty", "", ADMIN_RES_NOTFOUND, "" },
	{ "uri at the limit", "/?{{2046:q}}", ADMIN_RES_PAGE, "" },
	{ "uri over the limit", "/?{{2047:q}}", ADMIN_RES_NOTFOUND, "" },
};

static void test_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < UNIT_NCASES(cases); i++) {
		const struct req_case *c = &cases[i];
		char in[UNIT_BUF];
		size_t n = unit_expand(c->uri, strlen(c->uri), in, sizeof in);
		unit_case(c->name, in, n);
		struct admin_status_target t;
		U_EQ_INT(admin_status_req_parse(in, n, &t), c->want);
		U_EQ_INT(t.res, c->want);
		U_EQ_STR(t.id, c->want_id);
	}
	unit_case("NUL inside the path", "/api/st\0tus", 11);
	struct admin_status_target t;
	U_EQ_INT(admin_status_req_parse("/api/st\0tus", 11, &t), ADMIN_RES_NOTFOUND);
	unit_case("NULL", NULL, 0);
	U_EQ_INT(admin_status_req_parse(NULL, 0, &t), ADMIN_RES_NOTFOUND);
	UNIT_FINISH();
}

static const struct host_case {
	const char *name, *host;
	bool ok;
} hosts[] = {
	{ "IPv4", "127.0.0.1", true },
	{ "IPv4 and port", "127.0.0.1:8025", true },
	{ "IPv6", "[::1]:8025", true },
	{ "IPv6 no port", "[::1]", true },
	{ "localhost", "localhost:8025", true },
	{ "localhost, any case", "LocalHost", true },
	{ "myhostname", "gw.example.test:8025", true },
	{ "myhostname, any case", "GW.Example.TEST", true },
	{ "rebinding name", "attacker.example:8025", false },
	{ "myhostname as a prefix", "gw.example.test.attacker.example", false },
	{ "localhost as a prefix", "localhost.attacker.example", false },
	{ "numeric-looking name", "127.0.0.1.nip.io", false },
	{ "three numbers", "127.0.1", false },
	{ "empty dot", "127..0.1", false },
	{ "empty", "", false },
	{ "port only", ":8025", false },
	{ "bad port", "127.0.0.1:80x5", false },
	{ "empty port", "127.0.0.1:", false },
	{ "long port", "127.0.0.1:123456", false },
	{ "unclosed IPv6", "[::1", false },
	{ "empty IPv6", "[]:80", false },
	{ "name in brackets", "[attacker.example]", false },
	{ "junk after IPv6", "[::1]x", false },
	{ "IPv6, bad last port digit", "[::1]:80x", false },
	{ "IPv6, 5-digit port", "[::1]:65535", true },
	{ "IPv6, 6-digit port", "[::1]:123456", false },
	{ "over the limit", "{{301:a}}", false },
};

static void test_host(void **state)
{
	(void)state;
	for (size_t i = 0; i < UNIT_NCASES(hosts); i++) {
		const struct host_case *c = &hosts[i];
		char in[UNIT_BUF];
		size_t n = unit_expand(c->host, strlen(c->host), in, sizeof in);
		unit_case(c->name, in, n);
		U_EQ_INT(admin_status_host_ok(in, n, "gw.example.test"), c->ok);
	}
	unit_case("no Host header (HTTP/1.0)", NULL, 0);
	U_EQ_INT(admin_status_host_ok(NULL, 0, "gw.example.test"), true);
	/* fuzz_status_req found it: the IPv6 form's port check left its last octet out */
	static const char nul_port[] = "[630300.63000.00]:802"; /* and the NUL that ends it */
	unit_case("NUL after an IPv6 port", nul_port, sizeof nul_port);
	U_EQ_INT(admin_status_host_ok(nul_port, sizeof nul_port, "gw.example.test"), false);
	unit_case("no myhostname", "gw.example.test", 15);
	U_EQ_INT(admin_status_host_ok("gw.example.test", 15, ""), false);
	UNIT_FINISH();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_host),
	};
	UNIT_MAIN(tests);
}
