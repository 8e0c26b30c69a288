/*
 * fuzz_scan_ext.c - libFuzzer target for the replies of the external
 * scanners (scan_av_parse_clamd, scan_spamd_parse, scan_rspamd_parse_http):
 * the daemons are ours, but a wrong port, a proxy or a broken daemon can
 * send anything, so no reply may crash, loop or read past its length.
 *
 * Input: the first byte picks the parser (0 clamd, 1 spamd, 2 rspamd), the
 * rest is the reply, handed over in a buffer of exactly its size.
 * Invariants: an error always carries a message; a verdict's symbols are
 * non-empty, sorted and at most SCAN_SPAM_MAX_SYMBOLS; an infected or
 * unscannable clamd verdict has a name; a clean one has none.
 */
#include <string.h>

#include "base/log.h"
#include "fuzz.h"
#include "scan/av/scan_av.h"
#include "scan/spam/scan_spam.h"

static int quiet;

static void check_spam(int rc, const struct scan_spam_res *r)
{
	if (rc < 0) {
		FUZZ_CHECK(r->err[0] != '\0');
		return;
	}
	FUZZ_CHECK(rc == 0);
	FUZZ_CHECK(r->nsymbols <= SCAN_SPAM_MAX_SYMBOLS);
	for (size_t i = 0; i < r->nsymbols; i++) {
		FUZZ_CHECK(r->symbols[i][0] != '\0');
		FUZZ_CHECK(i == 0 || strcmp(r->symbols[i - 1], r->symbols[i]) <= 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!quiet) {
		log_init("fuzz", -1, LOG_L_ERR);
		quiet = 1;
	}
	if (size < 1)
		return 0;
	size_t n = size - 1;
	char *s = malloc(n ? n : 1);
	memcpy(s, data + 1, n);
	if (data[0] % 3 == 0) {
		char name[256];
		enum scan_av_status st = scan_av_parse_clamd(s, n, name, sizeof name);
		FUZZ_CHECK(st == SCAN_AV_CLEAN ? name[0] == '\0' : name[0] != '\0');
	} else {
		struct scan_spam_res r = { 0 };
		int rc = data[0] % 3 == 1 ? scan_spamd_parse(s, n, &r) : scan_rspamd_parse_http(s, n, &r);
		check_spam(rc, &r);
		scan_spam_res_fini(&r);
	}
	free(s);
	return 0;
}
