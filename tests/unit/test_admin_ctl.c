/*
 * test_admin_ctl.c - the control socket's request parser
 * (admin/admin_ctl_req.c): valid requests, refusals with their reasons, and
 * the limits (request length, domain and sender length: N-1, N, N+1), from
 * a table; a queue operation is parsed into the queue's own enum queue_op.
 */
#include "admin/admin_ctl.h"
#include "queue/queue_store.h"
#include "unit.h"

struct req_case {
	const char *name, *in;
	int ok;
	const char *cmd; /* the command's name: admin_ctl_req_name() */
	const char *id;
	int state;
	const char *domain, *err;
};

#define ID "1K0ZJCY9XVH1HW7K"

static const struct req_case cases[] = {
	{ "list", "{\"cmd\":\"list\"}", 1, "list", "", -1, "", NULL },
	{ "list filters", "{\"cmd\":\"list\",\"state\":\"deferred\",\"domain\":\"x.test\",\"sender\":\"a@b\"}", 1,
	  "list", "", QDIR_DEFERRED, "x.test", NULL },
	{ "list quarantine", "{\"cmd\":\"list\",\"state\":\"quarantine\"}", 1, "list", "", QDIR_QUARANTINE, "",
	  NULL },
	{ "show", "{\"cmd\":\"show\",\"id\":\"" ID "\"}", 1, "show", ID, -1, "", NULL },
	{ "flush all", "{\"cmd\":\"flush\"}", 1, "flush", "", -1, "", NULL },
	{ "flush domain", "{\"cmd\":\"flush\",\"domain\":\"x.test\"}", 1, "flush", "", -1, "x.test", NULL },
	{ "delete by state and domain", "{\"domain\":\"x.test\",\"cmd\":\"delete\",\"state\":\"hold\"}", 1,
	  "delete", "", QDIR_HOLD, "x.test", NULL },
	{ "reload", " {\"cmd\" : \"reload\"} ", 1, "reload", "", -1, "", NULL },
	{ "status", "{\"cmd\":\"status\"}", 1, "status", "", -1, "", NULL },
	{ "requeue", "{\"cmd\":\"requeue\",\"id\":\"" ID "\"}", 1, "requeue", ID, -1, "", NULL },
	/* refusals */
	{ "empty", "", 0, .err = "not JSON" },
	{ "not an object", "[\"list\"]", 0, .err = "must be a JSON object" },
	{ "two objects", "{\"cmd\":\"list\"}{\"cmd\":\"list\"}", 0, .err = "not JSON" },
	{ "no cmd", "{\"id\":\"" ID "\"}", 0, .err = "\"cmd\" must be a string" },
	{ "cmd not a string", "{\"cmd\":1}", 0, .err = "\"cmd\" must be a string" },
	{ "unknown cmd", "{\"cmd\":\"purge\"}", 0, .err = "unknown command \"purge\"" },
	{ "unknown field", "{\"cmd\":\"list\",\"limit\":3}", 0, .err = "unknown field \"limit\"" },
	{ "duplicate field", "{\"cmd\":\"list\",\"cmd\":\"status\"}", 0, .err = "not JSON" },
	{ "hold without id", "{\"cmd\":\"hold\"}", 0, .err = "hold needs \"id\"" },
	{ "bad id", "{\"cmd\":\"hold\",\"id\":\"../../etc/passwd\"}", 0, .err = "is not a queue id" },
	{ "id too long", "{\"cmd\":\"hold\",\"id\":\"" ID "0\"}", 0, .err = "longer than 16" },
	{ "id not base32", "{\"cmd\":\"hold\",\"id\":\"1K0ZJCY9XVH1HW7U\"}", 0, .err = "is not a queue id" },
	{ "unknown state", "{\"cmd\":\"list\",\"state\":\"tmp\"}", 0, .err = "unknown state \"tmp\"" },
	{ "status takes nothing", "{\"cmd\":\"status\",\"id\":\"" ID "\"}", 0, .err = "status takes no arguments" },
	{ "flush id and domain", "{\"cmd\":\"flush\",\"id\":\"" ID "\",\"domain\":\"x.test\"}", 0,
	  .err = "not both" },
	{ "delete domain only", "{\"cmd\":\"delete\",\"domain\":\"x.test\"}", 0, .err = "delete takes" },
	{ "delete id and state", "{\"cmd\":\"delete\",\"id\":\"" ID "\",\"state\":\"hold\"}", 0, .err = "delete takes" },
	{ "show with sender", "{\"cmd\":\"show\",\"id\":\"" ID "\",\"sender\":\"a@b\"}", 0, .err = "only \"id\"" },
	{ "domain with @", "{\"cmd\":\"list\",\"domain\":\"a@b\"}", 0, .err = "must be a domain name" },
	{ "empty domain", "{\"cmd\":\"list\",\"domain\":\"\"}", 0, .err = "must be a domain name" },
	{ "control character", "{\"cmd\":\"list\",\"sender\":\"a\\u0001b\"}", 0, .err = "control characters" },
	{ "nul", "{\"cmd\":\"list\",\"sender\":\"a\\u0000b\"}", 0, .err = "not JSON" },
	/* limits */
	{ "domain 255", "{\"cmd\":\"list\",\"domain\":\"{{255:d}}\"}", 1, "list", "", -1, NULL, NULL },
	{ "domain 256", "{\"cmd\":\"list\",\"domain\":\"{{256:d}}\"}", 0, .err = "longer than 255" },
	{ "sender 320", "{\"cmd\":\"list\",\"sender\":\"{{320:s}}\"}", 1, "list", "", -1, "", NULL },
	{ "sender 321", "{\"cmd\":\"list\",\"sender\":\"{{321:s}}\"}", 0, .err = "longer than 320" },
	{ "request 4096", "{\"cmd\":\"list\"}{{4082: }}", 1, "list", "", -1, "", NULL },
	{ "request 4097", "{\"cmd\":\"list\"}{{4083: }}", 0, .err = "request longer than 4096" },
};

static void check(const struct req_case *c)
{
	static char in[8192];
	size_t n = unit_expand(c->in, strlen(c->in), in, sizeof in);
	unit_case(c->name, in, n);
	struct admin_ctl_req r;
	char err[300] = "";
	int rc = admin_ctl_req_parse(in, n, &r, err, sizeof err);
	U_EQ_INT(rc == 0, c->ok);
	if (rc < 0) {
		U_CONTAINS(err, c->err);
		return;
	}
	U_EQ_STR(admin_ctl_req_name(&r), c->cmd);
	int op = queue_op_find(c->cmd);
	U_EQ_INT(r.cmd == ADMIN_CTL_QUEUE_OP, op >= 0);
	if (op >= 0)
		U_EQ_INT(r.op, op);
	U_EQ_STR(r.id, c->id);
	U_EQ_INT(r.state, c->state);
	if (c->domain)
		U_EQ_STR(r.domain, c->domain);
}

static void test_parse(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(cases, check);
}

static void test_names(void **state)
{
	(void)state;
	unit_case("states", NULL, 0);
	U_EQ_INT(admin_ctl_state("deferred"), QDIR_DEFERRED);
	U_EQ_INT(admin_ctl_state("corrupt"), QDIR_CORRUPT);
	U_EQ_INT(admin_ctl_state("tmp"), -1);
	U_EQ_INT(admin_ctl_state("Deferred"), -1);
	unit_case("commands", NULL, 0);
	enum admin_ctl_cmd cmd;
	enum queue_op op;
	U_EQ_INT(admin_ctl_cmd_find("requeue", &cmd, &op), 0);
	U_EQ_INT(cmd, ADMIN_CTL_QUEUE_OP);
	U_EQ_INT(op, QUEUE_OP_REQUEUE);
	U_EQ_INT(admin_ctl_cmd_find("status", &cmd, NULL), 0);
	U_EQ_INT(cmd, ADMIN_CTL_STATUS);
	U_EQ_INT(admin_ctl_cmd_find("purge", NULL, NULL), -1);
	U_EQ_STR(queue_op_name(QUEUE_OP_REQUEUE), "requeue");
	U_EQ_STR(queue_op_name((enum queue_op)99), "?");
	for (int o = QUEUE_OP_FLUSH; o <= QUEUE_OP_REQUEUE; o++)
		U_EQ_INT(queue_op_find(queue_op_name((enum queue_op)o)), o);
	UNIT_FINISH();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_names),
	};
	UNIT_MAIN(tests);
}
