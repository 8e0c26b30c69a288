/*
 * fuzz_ctl.c - libFuzzer target for the control socket's request parser
 * (admin/admin_ctl_req.c): any local client of the socket may send any bytes.
 *
 * Input: one request line (without its newline). Invariants: a refusal
 * always has a reason; an accepted request names a known command, its id
 * (if any) is a valid queue id, its strings are within their limits and
 * hold no control characters, and the fields match the command (show/hold/
 * release/requeue have an id; delete has an id, or a state and a domain).
 */
#include <string.h>

#include "admin/admin_ctl.h"
#include "base/ids.h"
#include "base/str.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct admin_ctl_req r;
	char err[300] = "";
	if (admin_ctl_req_parse((const char *)data, size, &r, err, sizeof err) < 0) {
		FUZZ_CHECK(err[0] != '\0');
		return 0;
	}
	const char *name = admin_ctl_req_name(&r);
	FUZZ_CHECK(strcmp(name, "?") != 0);
	/* a queue operation carries the queue's own enum, whose name it was asked by */
	bool op = r.cmd == ADMIN_CTL_QUEUE_OP;
	FUZZ_CHECK(op == (queue_op_find(name) >= 0));
	FUZZ_CHECK(!op || queue_op_find(name) == (int)r.op);
	FUZZ_CHECK(!r.id[0] || ids_queue_valid(r.id));
	FUZZ_CHECK(strlen(r.domain) <= ADMIN_CTL_DOMAIN_MAX && strlen(r.sender) <= ADMIN_CTL_SENDER_MAX);
	FUZZ_CHECK(!str_has_ctl(r.domain, strlen(r.domain)) && !str_has_ctl(r.sender, strlen(r.sender)));
	if (r.cmd == ADMIN_CTL_SHOW ||
	    (op && (r.op == QUEUE_OP_HOLD || r.op == QUEUE_OP_RELEASE || r.op == QUEUE_OP_REQUEUE)))
		FUZZ_CHECK(r.id[0] != '\0');
	if (op && r.op == QUEUE_OP_DELETE)
		FUZZ_CHECK(r.id[0] ? r.state < 0 && !r.domain[0] : r.state >= 0 && r.domain[0]);
	if (op && r.op == QUEUE_OP_FLUSH)
		FUZZ_CHECK(!(r.id[0] && r.domain[0]));
	return 0;
}
