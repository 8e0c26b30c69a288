/*
 * fuzz_route.c - libFuzzer target for the map parsers and the resolver
 * (route/). Map files are the administrator's, but they arrive from other
 * systems (a sendmail site's files copied over) and mailer values are read
 * back from queue files, so no input may crash or loop.
 *
 * Input: "aliases text \0 mailertable text \0 address \0 address ...".
 * Invariants: a load either succeeds or names file:line; every accepted
 * recipient has at least one and at most ROUTE_TARGETS_MAX targets, each
 * with an '@' and a mailer value that route_mailer_parse() accepts (what
 * cannot be routed is an error: value); a refusal carries a 4xx/5xx reply.
 */
#include <string.h>

#include "base/log.h"
#include "fuzz.h"
#include "route/route.h"

static int quiet;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!quiet) {
		log_init("fuzz", -1, LOG_L_ERR);
		quiet = 1;
	}
	char *s = malloc(size + 3);
	memcpy(s, data, size);
	s[size] = s[size + 1] = s[size + 2] = '\0';
	const char *aliases = s;
	const char *mt = aliases + strlen(aliases) + 1;
	const char *addrs = mt + (mt < s + size + 1 ? strlen(mt) + 1 : 0);
	static const char *const self[] = { "gw.example", "[127.0.0.1]" };
	struct route_conf c = { .local_transport = "maildir:/var/mail/%u", .relay_domains = "example.net .example.com",
				.mydomain = "example.org", .append_dot_mydomain = true, .self = self, .nself = 2 };
	char err[600] = "";
	struct route_maps *m = route_maps_from_text(&c, "example.org\nlocal.example\n", aliases, mt, err, sizeof err);
	if (!m) {
		FUZZ_CHECK(err[0] != '\0');
		free(s);
		return 0;
	}
	for (const char *a = addrs; a < s + size + 1 && *a; a += strlen(a) + 1) {
		for (int trusted = 0; trusted < 2; trusted++) {
			struct route_result r;
			route_result_init(&r, NULL);
			route_expand(m, a, trusted, &r);
			if (r.ok) {
				FUZZ_CHECK(r.reply.code == 250 && r.n > 0 && r.n <= ROUTE_TARGETS_MAX);
				for (size_t i = 0; i < r.n; i++) {
					struct route_mailer rm;
					char why[300];
					FUZZ_CHECK(strchr(r.t[i].addr, '@') != NULL);
					FUZZ_CHECK(route_mailer_parse(r.t[i].mailer, &rm, why, sizeof why) == 0);
				}
			} else {
				FUZZ_CHECK(r.reply.code >= 400 && r.reply.code < 600);
			}
			route_result_fini(&r);
			char v[ROUTE_VALUE_MAX];
			route_final(m, a, v, sizeof v);
		}
	}
	route_maps_free(&m);
	free(s);
	return 0;
}
