/*
 * fuzz_ctl.c - libFuzzer target for the control socket's request parser
 * (gw/gw_ctl_req.c): any local client of the socket may send any bytes.
 *
 * Input: one request line (without its newline). Invariants: a refusal
 * always has a reason; an accepted request names a known command, its id
 * (if any) is a valid queue id, its strings are within their limits and
 * hold no control characters, and the fields match the command (show/hold/
 * release/requeue have an id; delete has an id, or a state and a domain).
 */
#include <string.h>

#include "base/ids.h"
#include "base/str.h"
#include "fuzz.h"
#include "gw/gw_ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_ctl_req r;
	char err[300] = "";
	if (gw_ctl_req_parse((const char *)data, size, &r, err, sizeof err) < 0) {
		FUZZ_CHECK(err[0] != '\0');
		return 0;
	}
	FUZZ_CHECK(strcmp(gw_ctl_cmd_name(r.cmd), "?") != 0);
	FUZZ_CHECK(!r.id[0] || ids_queue_valid(r.id));
	FUZZ_CHECK(strlen(r.domain) <= GW_CTL_DOMAIN_MAX && strlen(r.sender) <= GW_CTL_SENDER_MAX);
	FUZZ_CHECK(!str_has_ctl(r.domain, strlen(r.domain)) && !str_has_ctl(r.sender, strlen(r.sender)));
	if (r.cmd == GW_CTL_SHOW || r.cmd == GW_CTL_HOLD || r.cmd == GW_CTL_RELEASE || r.cmd == GW_CTL_REQUEUE)
		FUZZ_CHECK(r.id[0] != '\0');
	if (r.cmd == GW_CTL_DELETE)
		FUZZ_CHECK(r.id[0] ? r.state < 0 && !r.domain[0] : r.state >= 0 && r.domain[0]);
	if (r.cmd == GW_CTL_FLUSH)
		FUZZ_CHECK(!(r.id[0] && r.domain[0]));
	return 0;
}
