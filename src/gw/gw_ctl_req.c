/*
 * gw_ctl_req.c - the control socket's request parser (protocol: gw_ctl.h).
 *
 * Pure: bytes in, a checked struct gw_ctl_req or a reason out; no I/O, no
 * daemon state, so fuzz/fuzz_ctl.c drives it alone. Every field has a type,
 * a length limit and a set of commands it belongs to; anything else (other
 * JSON types, unknown fields, NULs, control characters, a second object)
 * is refused with a reason the client can print.
 */
#include "gw/gw_ctl.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/str.h"
#include "queue/queue_store.h"

static const char *const cmd_names[] = { "list", "show", "flush", "hold", "release", "delete", "requeue", "reload",
					 "status" };

const char *gw_ctl_cmd_name(enum gw_ctl_cmd c)
{
	return (size_t)c < sizeof cmd_names / sizeof cmd_names[0] ? cmd_names[c] : "?";
}

int gw_ctl_cmd_find(const char *name)
{
	for (size_t c = 0; c < sizeof cmd_names / sizeof cmd_names[0]; c++)
		if (strcmp(name, cmd_names[c]) == 0)
			return (int)c;
	return -1;
}

int gw_ctl_state(const char *name)
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

/* Which fields each command takes (bit 1: id, 2: state, 4: domain, 8: sender). */
enum { F_ID = 1, F_STATE = 2, F_DOMAIN = 4, F_SENDER = 8 };
static const unsigned allowed[] = {
	[GW_CTL_LIST] = F_STATE | F_DOMAIN | F_SENDER,
	[GW_CTL_SHOW] = F_ID,
	[GW_CTL_FLUSH] = F_ID | F_DOMAIN,
	[GW_CTL_HOLD] = F_ID,
	[GW_CTL_RELEASE] = F_ID,
	[GW_CTL_DELETE] = F_ID | F_STATE | F_DOMAIN,
	[GW_CTL_REQUEUE] = F_ID,
	[GW_CTL_RELOAD] = 0,
	[GW_CTL_STATUS] = 0,
};

static int check_fields(const struct gw_ctl_req *r, unsigned have, char *err, size_t errlen)
{
	const char *cmd = gw_ctl_cmd_name(r->cmd);
	if ((size_t)r->cmd >= sizeof allowed / sizeof allowed[0])
		return -1;
	if (have & ~allowed[r->cmd]) {
		snprintf(err, errlen, "%s takes %s", cmd,
			 allowed[r->cmd] == 0				 ? "no arguments"
			 : allowed[r->cmd] == F_ID			 ? "only \"id\""
			 : r->cmd == GW_CTL_FLUSH			 ? "\"id\" or \"domain\""
			 : r->cmd == GW_CTL_DELETE			 ? "\"id\", or \"state\" and \"domain\""
									 : "\"state\", \"domain\" and \"sender\"");
		return -1;
	}
	switch (r->cmd) {
	case GW_CTL_SHOW:
	case GW_CTL_HOLD:
	case GW_CTL_RELEASE:
	case GW_CTL_REQUEUE:
		if (!(have & F_ID)) {
			snprintf(err, errlen, "%s needs \"id\"", cmd);
			return -1;
		}
		break;
	case GW_CTL_FLUSH:
		if ((have & F_ID) && (have & F_DOMAIN)) {
			snprintf(err, errlen, "flush takes \"id\" or \"domain\", not both");
			return -1;
		}
		break;
	case GW_CTL_DELETE:
		if ((have & F_ID) ? (have & (F_STATE | F_DOMAIN)) != 0 : (have & (F_STATE | F_DOMAIN)) != (F_STATE | F_DOMAIN)) {
			snprintf(err, errlen, "delete takes \"id\", or \"state\" and \"domain\"");
			return -1;
		}
		break;
	default:
		break;
	}
	return 0;
}

int gw_ctl_req_parse(const char *p, size_t len, struct gw_ctl_req *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof *r);
	r->state = -1;
	if (len > GW_CTL_REQ_MAX) {
		snprintf(err, errlen, "request longer than %d octets", GW_CTL_REQ_MAX);
		return -1;
	}
	json_error_t je;
	json_t *o = json_loadb(p, len, JSON_REJECT_DUPLICATES, &je);
	if (!o) {
		snprintf(err, errlen, "not JSON: %s", je.text);
		return -1;
	}
	int rc = -1;
	char buf[GW_CTL_SENDER_MAX + 1];
	unsigned have = 0;
	if (!json_is_object(o)) {
		snprintf(err, errlen, "the request must be a JSON object");
		goto out;
	}
	if (get_str(o, "cmd", buf, 16, err, errlen) < 0)
		goto out;
	int c = gw_ctl_cmd_find(buf);
	if (c < 0) {
		snprintf(err, errlen, "unknown command \"%s\"", buf);
		goto out;
	}
	r->cmd = (enum gw_ctl_cmd)c;
	const char *key;
	json_t *v;
	json_object_foreach(o, key, v)
	{
		if (strcmp(key, "cmd") == 0)
			continue;
		if (strcmp(key, "id") == 0) {
			if (get_str(o, key, buf, IDS_QUEUE_SIZE - 1, err, errlen) < 0)
				goto out;
			if (!ids_queue_valid(buf)) {
				snprintf(err, errlen, "\"%s\" is not a queue id", buf);
				goto out;
			}
			memcpy(r->id, buf, IDS_QUEUE_SIZE);
			have |= F_ID;
		} else if (strcmp(key, "state") == 0) {
			if (get_str(o, key, buf, 16, err, errlen) < 0)
				goto out;
			r->state = gw_ctl_state(buf);
			if (r->state < 0) {
				snprintf(err, errlen, "unknown state \"%s\" (input, output, deferred, hold, quarantine, corrupt)",
					 buf);
				goto out;
			}
			have |= F_STATE;
		} else if (strcmp(key, "domain") == 0) {
			if (get_str(o, key, r->domain, GW_CTL_DOMAIN_MAX, err, errlen) < 0)
				goto out;
			if (!r->domain[0] || strchr(r->domain, '@') || strchr(r->domain, ' ')) {
				snprintf(err, errlen, "\"domain\" must be a domain name");
				goto out;
			}
			have |= F_DOMAIN;
		} else if (strcmp(key, "sender") == 0) {
			if (get_str(o, key, r->sender, GW_CTL_SENDER_MAX, err, errlen) < 0)
				goto out;
			r->has_sender = true;
			have |= F_SENDER;
		} else {
			snprintf(err, errlen, "unknown field \"%.40s\"", key);
			goto out;
		}
	}
	rc = check_fields(r, have, err, errlen);
out:
	json_decref(o);
	return rc;
}
