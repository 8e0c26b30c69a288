/*
 * fuzz_rules.c - libFuzzer target for the rules engine's loader
 * (scan_rules_parse.c, _if.c, _regex.c, _meta.c, _eval.c) and one check
 * with the loaded set. Rule files come from third parties (rule
 * updates, an administrator's local.cf), so no input may crash, loop or
 * leak.
 *
 * Input: "rule text \0 message header value" (the value of Subject, two
 * Received fields, Date, Resent-Date and Message-Id: the date and relay
 * evals parse it; and the source of an HTML part: the html evals parse it). Invariants: a load either
 * succeeds or names "name:line: what"; the statistics add up (enabled
 * rules by type sum to enabled; no more enabled than defined); a check
 * reports only scored hits whose scores sum to the result.
 */
#include <math.h>
#include <string.h>

#include "base/log.h"
#include "fuzz.h"
#include "scan/rules/scan_rules.h"

static int quiet;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!quiet) {
		log_init("fuzz", -1, LOG_L_ERR);
		quiet = 1;
	}
	char *s = malloc(size + 2);
	memcpy(s, data, size);
	s[size] = s[size + 1] = '\0';
	const char *subject = s + strlen(s) + 1;
	if (subject > s + size)
		subject = "";
	char err[600] = "";
	struct scan_rules *r = scan_rules_load_text("f.cf", s, NULL, err, sizeof err);
	if (!r) {
		FUZZ_CHECK(strncmp(err, "f.cf", 4) == 0);
		free(s);
		return 0;
	}
	struct scan_rules_stats st;
	scan_rules_stats(r, &st);
	FUZZ_CHECK(st.header + st.body + st.rawbody + st.full + st.uri + st.meta == st.enabled);
	FUZZ_CHECK(st.enabled <= st.rules);
	/* the header value also stands in for every field the date and relay evals parse */
	struct scan_hdr h[7] = { { "Subject", subject, subject },     { "From", " a <b@c>", "a <b@c>" },
				 { "Received", subject, subject },    { "Received", subject, subject },
				 { "Date", subject, subject },	      { "Message-Id", subject, subject },
				 { "Resent-Date", subject, subject } };
	struct scan_text body[2] = { { subject, strlen(subject) }, { "text", 4 } };
	const char *uris[] = { "http://example.com/" };
	struct scan_part part = { .path = "1", .ctype = "text/html", .data = (const unsigned char *)subject,
				  .len = strlen(subject), .text = subject, .text_len = strlen(subject), .html = true };
	struct scan_msg m = { .raw = subject, .raw_len = strlen(subject), .hdrs = h, .nhdrs = 7, .body = body,
			      .nbody = 2, .rawbody = body, .nrawbody = 2, .uris = uris, .nuris = 1, .parts = &part,
			      .nparts = 1 };
	struct scan_rules_dnsbl d = { "zen.spamhaus.org", "127.0.0.2", "listed" };
	struct scan_rules_ctx c = { .dnsbl = &d, .ndnsbl = 1, .env_from = "x@y" };
	struct scan_rules_result res;
	FUZZ_CHECK(scan_rules_check(r, &m, &c, &res) == 0);
	double sum = 0;
	for (size_t i = 0; i < res.nhits; i++) {
		FUZZ_CHECK(strncmp(res.hits[i].name, "__", 2) != 0);
		FUZZ_CHECK(res.hits[i].score != 0);
		sum += res.hits[i].score;
	}
	FUZZ_CHECK(isnan(sum) || fabs(sum - res.score) <= 1e-6 * (1 + fabs(sum)));
	scan_rules_result_fini(&res);
	scan_rules_free(&r);
	free(s);
	return 0;
}
