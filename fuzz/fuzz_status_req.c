/*
 * fuzz_status_req.c - libFuzzer target for the HTTP listener's request
 * targets (admin/admin_status_req.c): the status page, its API and the
 * quarantine actions.
 *
 * Invariants: the result is a known resource; an action carries a valid
 * queue id that occurs in the input's path and nothing else does; the
 * canonical form of an action parses back to the same action and id; a
 * fixed resource's path is a prefix of the input followed by the end, a
 * '?' or a '#'. The input as a Host header (admin_status_host_ok): accepted
 * only when it names localhost, myhostname or an IP literal.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/ids.h"
#include "fuzz.h"
#include "admin/admin_status_req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *uri = (const char *)data;
	struct admin_status_target t;
	enum admin_status_res r = admin_status_req_parse(uri, size, &t);
	FUZZ_CHECK(r == t.res);
	FUZZ_CHECK(r >= ADMIN_RES_NOTFOUND && r < ADMIN_RES_N);
	if (r == ADMIN_RES_RELEASE || r == ADMIN_RES_DELETE) {
		FUZZ_CHECK(ids_queue_valid(t.id));
		FUZZ_CHECK(size > 16 + IDS_QUEUE_LEN && memcmp(uri + 16, t.id, IDS_QUEUE_LEN) == 0);
		char canon[64];
		int n = snprintf(canon, sizeof canon, "/api/quarantine/%s/%s?x", t.id,
				 r == ADMIN_RES_RELEASE ? "release" : "delete");
		struct admin_status_target t2;
		FUZZ_CHECK(admin_status_req_parse(canon, (size_t)n, &t2) == r && strcmp(t2.id, t.id) == 0);
	} else {
		FUZZ_CHECK(t.id[0] == '\0');
	}
	if (r != ADMIN_RES_NOTFOUND && r != ADMIN_RES_BAD_ID)
		FUZZ_CHECK(size > 0 && uri[0] == '/');
	/* the same bytes as a Host header: accepted only if they name localhost,
	 * myhostname or an IP literal (then no letters outside [] but in those names) */
	if (admin_status_host_ok(uri, size, "gw.example.test")) {
		FUZZ_CHECK(size > 0 && size <= ADMIN_STATUS_MAX_HOST && memchr(uri, '\0', size) == NULL);
		if (uri[0] != '[') {
			const char *colon = memchr(uri, ':', size);
			size_t h = colon ? (size_t)(colon - uri) : size;
			bool named = (h == 9 && strncasecmp(uri, "localhost", 9) == 0) ||
				     (h == 15 && strncasecmp(uri, "gw.example.test", 15) == 0);
			for (size_t i = 0; !named && i < h; i++)
				FUZZ_CHECK((uri[i] >= '0' && uri[i] <= '9') || uri[i] == '.');
		}
	}
	return 0;
}
