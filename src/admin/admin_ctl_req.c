/*
 * admin_ctl_req.c - the control socket's request parser (protocol:
 * admin_ctl.h).
 *
 * Pure: bytes in, a checked struct admin_ctl_req or a reason out; no I/O,
 * no daemon state, so fuzz/fuzz_ctl.c drives it alone. Every field has a
 * type, a length limit and a set of commands it belongs to; anything else
 * (other JSON types, unknown fields, NULs, control characters, a second
 * object) is refused with a reason the client can print. The queue
 * operations' names are the queue's (queue_op_find): a request carries
 * enum queue_op as it is to queue_sched_op().
 */
#include "admin/admin_ctl.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/str.h"
#include "queue/queue_store.h"

/* The commands that are not queue operations, by enum admin_ctl_cmd. */
static const char *const cmd_names[] = {
	[ADMIN_CTL_LIST] = "list",
	[ADMIN_CTL_SHOW] = "show",
	[ADMIN_CTL_RELOAD] = "reload",
	[ADMIN_CTL_STATUS] = "status",
};

const char *admin_ctl_req_name(const struct admin_ctl_req *r)
{
	if (r->cmd == ADMIN_CTL_QUEUE_OP)
		return queue_op_name(r->op);
	return (size_t)r->cmd < sizeof cmd_names / sizeof cmd_names[0] && cmd_names[r->cmd] ? cmd_names[r->cmd] : "?";
}

int admin_ctl_cmd_find(const char *name, enum admin_ctl_cmd *cmd, enum queue_op *op)
{
	int o = queue_op_find(name);
	if (o >= 0) {
		if (cmd)
			*cmd = ADMIN_CTL_QUEUE_OP;
		if (op)
			*op = (enum queue_op)o;
		return 0;
	}
	for (size_t c = 0; c < sizeof cmd_names / sizeof cmd_names[0]; c++) {
		if (cmd_names[c] && strcmp(name, cmd_names[c]) == 0) {
			if (cmd)
				*cmd = (enum admin_ctl_cmd)c;
			return 0;
		}
	}
	return -1;
}

int admin_ctl_state(const char *name)
{
	/* the names queue_dir_name() gives (spelled here: the parser links alone) */
	static const struct {
		const char *name;
		enum queue_dir dir;
	} ok[] = { { "input", QDIR_INPUT }, { "output", QDIR_OUTPUT }, { "deferred", QDIR_DEFERRED },
		   { "hold", QDIR_HOLD },   { "quarantine", QDIR_QUARANTINE }, { "corrupt", QDIR_CORRUPT } };
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		if (strcmp(name, ok[i].name) == 0)
			return (int)ok[i].dir;
	return -1;
}

/* A string field: at most max octets, no control characters. */
static int get_str(json_t *o, const char *key, char *out, size_t max, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_string(v)) {
		snprintf(err, errlen, "\"%s\" must be a string", key);
		return -1;
	}
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	if (n > max) {
		snprintf(err, errlen, "\"%s\" is longer than %zu octets", key, max);
		return -1;
	}
	if (str_has_ctl(s, n) || memchr(s, '\0', n)) {
		snprintf(err, errlen, "\"%s\" contains control characters", key);
		return -1;
	}
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

/* Which fields each command takes. */
enum { F_ID = 1, F_STATE = 2, F_DOMAIN = 4, F_SENDER = 8 };

static unsigned allowed(const struct admin_ctl_req *r)
{
	switch (r->cmd) {
	case ADMIN_CTL_LIST:
		return F_STATE | F_DOMAIN | F_SENDER;
	case ADMIN_CTL_SHOW:
		return F_ID;
	case ADMIN_CTL_QUEUE_OP:
		return r->op == QUEUE_OP_FLUSH ? F_ID | F_DOMAIN : r->op == QUEUE_OP_DELETE ? F_ID | F_STATE | F_DOMAIN : F_ID;
	default:
		return 0;
	}
}

static int check_fields(const struct admin_ctl_req *r, unsigned have, char *err, size_t errlen)
{
	const char *cmd = admin_ctl_req_name(r);
	unsigned ok = allowed(r);
	bool op = r->cmd == ADMIN_CTL_QUEUE_OP;
	if (have & ~ok) {
		snprintf(err, errlen, "%s takes %s", cmd,
			 ok == 0			       ? "no arguments"
			 : ok == F_ID			       ? "only \"id\""
			 : op && r->op == QUEUE_OP_FLUSH  ? "\"id\" or \"domain\""
			 : op && r->op == QUEUE_OP_DELETE ? "\"id\", or \"state\" and \"domain\""
							       : "\"state\", \"domain\" and \"sender\"");
		return -1;
	}
	if (ok == F_ID && !(have & F_ID)) { /* show, hold, release, requeue */
		snprintf(err, errlen, "%s needs \"id\"", cmd);
		return -1;
	}
	if (op && r->op == QUEUE_OP_FLUSH && (have & F_ID) && (have & F_DOMAIN)) {
		snprintf(err, errlen, "flush takes \"id\" or \"domain\", not both");
		return -1;
	}
	if (op && r->op == QUEUE_OP_DELETE &&
	    ((have & F_ID) ? (have & (F_STATE | F_DOMAIN)) != 0 : (have & (F_STATE | F_DOMAIN)) != (F_STATE | F_DOMAIN))) {
		snprintf(err, errlen, "delete takes \"id\", or \"state\" and \"domain\"");
		return -1;
	}
	return 0;
}

/* One field other than "cmd" into r (have gets its bit). */
static int get_field(json_t *o, const char *key, struct admin_ctl_req *r, unsigned *have, char *err, size_t errlen)
{
	char buf[IDS_QUEUE_SIZE + 16];
	if (strcmp(key, "id") == 0) {
		if (get_str(o, key, buf, IDS_QUEUE_SIZE - 1, err, errlen) < 0)
			return -1;
		if (!ids_queue_valid(buf)) {
			snprintf(err, errlen, "\"%s\" is not a queue id", buf);
			return -1;
		}
		memcpy(r->id, buf, IDS_QUEUE_SIZE);
		*have |= F_ID;
	} else if (strcmp(key, "state") == 0) {
		if (get_str(o, key, buf, 16, err, errlen) < 0)
			return -1;
		r->state = admin_ctl_state(buf);
		if (r->state < 0) {
			snprintf(err, errlen, "unknown state \"%s\" (input, output, deferred, hold, quarantine, corrupt)", buf);
			return -1;
		}
		*have |= F_STATE;
	} else if (strcmp(key, "domain") == 0) {
		if (get_str(o, key, r->domain, ADMIN_CTL_DOMAIN_MAX, err, errlen) < 0)
			return -1;
		if (!r->domain[0] || strchr(r->domain, '@') || strchr(r->domain, ' ')) {
			snprintf(err, errlen, "\"domain\" must be a domain name");
			return -1;
		}
		*have |= F_DOMAIN;
	} else if (strcmp(key, "sender") == 0) {
		if (get_str(o, key, r->sender, ADMIN_CTL_SENDER_MAX, err, errlen) < 0)
			return -1;
		r->has_sender = true;
		*have |= F_SENDER;
	} else {
		snprintf(err, errlen, "unknown field \"%.40s\"", key);
		return -1;
	}
	return 0;
}

int admin_ctl_req_parse(const char *p, size_t len, struct admin_ctl_req *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof *r);
	r->state = -1;
	if (len > ADMIN_CTL_REQ_MAX) {
		snprintf(err, errlen, "request longer than %d octets", ADMIN_CTL_REQ_MAX);
		return -1;
	}
	json_error_t je;
	json_t *o = json_loadb(p, len, JSON_REJECT_DUPLICATES, &je);
	if (!o) {
		snprintf(err, errlen, "not JSON: %s", je.text);
		return -1;
	}
	int rc = -1;
	char cmd[17];
	unsigned have = 0;
	if (!json_is_object(o)) {
		snprintf(err, errlen, "the request must be a JSON object");
		goto out;
	}
	if (get_str(o, "cmd", cmd, 16, err, errlen) < 0)
		goto out;
	if (admin_ctl_cmd_find(cmd, &r->cmd, &r->op) < 0) {
		snprintf(err, errlen, "unknown command \"%s\"", cmd);
		goto out;
	}
	const char *key;
	json_t *v;
	json_object_foreach(o, key, v)
	{
		(void)v;
		if (strcmp(key, "cmd") != 0 && get_field(o, key, r, &have, err, errlen) < 0)
			goto out;
	}
	rc = check_fields(r, have, err, errlen);
out:
	json_decref(o);
	return rc;
}
