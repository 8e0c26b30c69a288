/*
 * test_deliver_tls.c - outbound TLS levels and the smtp_tls_policy_maps
 * file parser (deliver/deliver_tls.c): names, comments, blank lines, case,
 * and every kind of bad line reported with its file:line.
 */
#include "unit.h"

#include <stdbool.h>

#include "base/map.h"
#include "deliver/deliver.h"

struct policy_case {
	const char *name;
	const char *text;
	const char *want_err; /* NULL: parses */
	const char *host;     /* looked up after a successful parse */
	int want_level;	      /* -1: no entry */
};

static const struct policy_case policy_cases[] = {
	{ "empty file", "", NULL, "example.org", -1 },
	{ "one entry", "example.org verify\n", NULL, "example.org", DELIVER_TLS_VERIFY },
	{ "no final newline", "example.org encrypt", NULL, "example.org", DELIVER_TLS_ENCRYPT },
	{ "key folded to lower case", "Example.ORG none\n", NULL, "example.org", DELIVER_TLS_NONE },
	{ "level in capitals", "example.org MAY\n", NULL, "example.org", DELIVER_TLS_MAY },
	{ "comments and blank lines", "# policy\n\n  \t\nexample.org verify # strict\n", NULL, "example.org",
	  DELIVER_TLS_VERIFY },
	{ "tabs and CRLF", "example.org\tencrypt\r\n", NULL, "example.org", DELIVER_TLS_ENCRYPT },
	{ "last entry wins", "a.test may\na.test verify\n", NULL, "a.test", DELIVER_TLS_VERIFY },
	{ "other host has none", "a.test verify\n", NULL, "b.test", -1 },
	{ "no subdomain match", "a.test verify\n", NULL, "mx.a.test", -1 },
	{ "unknown level", "a.test may\nb.test sometimes\n", "f:2: expected", NULL, 0 },
	{ "bad level on line 3", "a.test may\n# c\nb.test dane\n", "f:3: expected", NULL, 0 },
	{ "three words", "a.test may verify\n", "f:1: expected", NULL, 0 },
	{ "host only", "a.test\n", "f:1: expected", NULL, 0 },
};

static void check_policy(const struct policy_case *c)
{
	unit_case(c->name, c->text, strlen(c->text));
	char *text = strdup(c->text);
	char err[256] = "";
	struct map *m = map_new();
	int rc = deliver_tls_policy_parse(text, "f", m, err, sizeof err);
	U_EQ_INT(rc, c->want_err ? -1 : 0);
	if (c->want_err) {
		U_CONTAINS(err, c->want_err);
	} else {
		enum deliver_tls lvl = DELIVER_TLS_NONE;
		int found = deliver_tls_policy_lookup(m, c->host, &lvl);
		U_EQ_INT(found == 0 ? (int)lvl : -1, c->want_level);
	}
	map_free(&m);
	free(text);
}

static void test_policy_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(policy_cases, check_policy);
}

static void test_level_names(void **state)
{
	(void)state;
	const char *names[] = { "none", "may", "encrypt", "verify" };
	for (int i = 0; i < 4; i++) {
		unit_case(names[i], names[i], strlen(names[i]));
		enum deliver_tls t;
		U_EQ_INT(deliver_tls_level_parse(names[i], &t), 0);
		U_EQ_INT(t, i);
		U_EQ_STR(deliver_tls_level_name(t), names[i]);
	}
	enum deliver_tls t;
	unit_case("unknown", "dane", 4);
	U_EQ_INT(deliver_tls_level_parse("dane", &t), -1);
	unit_case("no map", "", 0);
	U_EQ_INT(deliver_tls_policy_lookup(NULL, "a.test", &t), -1);
	UNIT_FINISH();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_table),
		cmocka_unit_test(test_level_names),
	};
	UNIT_MAIN(tests);
}
