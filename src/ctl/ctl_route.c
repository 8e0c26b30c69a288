/*
 * ctl_route.c - "mxgate route ADDRESS": sendmail -bt for mxgate.
 *
 * Loads the maps exactly as the daemon does and prints, for one
 * recipient: the RCPT reply a client would get, whether the domain is
 * local, every step of the alias expansion, and for each final address
 * its mailer, next hops and whether MX lookup applies. No DNS, no
 * connection: what the MX records say is the daemon's business.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/str.h"
#include "conf/conf.h"
#include "ctl/ctl.h"
#include "ctl/ctl_int.h"
#include "deliver/deliver.h"
#include "gw/gw_conf.h"
#include "mail/mail_addr.h"
#include "net/net_addr.h"
#include "route/route.h"

static const char *kind_name(enum route_kind k)
{
	static const char *const names[] = { "smtp", "lmtp", "maildir", "error", "local" };
	return names[k];
}

/* The port deliver/ tries a hop on. */
static int hop_port(const struct route_mailer *m, size_t i, int default_port)
{
	return deliver_hop_port(m->kind == ROUTE_LMTP ? DELIVER_LMTP : DELIVER_SMTP, m->hop[i].port, default_port);
}

static void target_text(struct buf *b, const struct route_target *t, int default_port)
{
	struct route_mailer m;
	char err[300];
	buf_printf(b, "  %s\n    mailer: %s\n", t->addr, t->mailer);
	if (t->sender)
		buf_printf(b, "    sender: %s (owner- alias)\n", t->sender);
	if (route_mailer_parse(t->mailer, &m, err, sizeof err) < 0) {
		buf_printf(b, "    error: %s\n", err);
		return;
	}
	switch (m.kind) {
	case ROUTE_SMTP:
	case ROUTE_LMTP:
		if (m.path[0])
			buf_printf(b, "    next hop: unix socket %s\n", m.path);
		for (size_t i = 0; i < m.nhops; i++)
			buf_printf(b, "    next hop%s: %s port %d, %s\n", m.nhops > 1 ? (m.equal ? " (equal preference)" : " (in order)") : "",
				   m.hop[i].host, hop_port(&m, i, default_port),
				   m.hop[i].mx ? "MX lookup" : "no MX lookup (A/AAAA only)");
		break;
	case ROUTE_MAILDIR:
		buf_printf(b, "    maildir: %s\n", m.path);
		break;
	case ROUTE_ERROR: {
		char r[600];
		mail_reply_str(&m.reply, r, sizeof r);
		buf_printf(b, "    bounced after acceptance: %s\n", r);
		break;
	}
	case ROUTE_LOCAL:
		break;
	}
}

static json_t *target_json(const struct route_target *t, int default_port)
{
	struct route_mailer m;
	char err[300];
	json_t *j = json_pack("{s:o,s:o,s:o}", "address", ctl_json_z(t->addr), "mailer", ctl_json_z(t->mailer), "sender",
			      t->sender ? ctl_json_z(t->sender) : json_null());
	if (route_mailer_parse(t->mailer, &m, err, sizeof err) < 0) {
		json_object_set_new(j, "error", ctl_json_z(err));
		return j;
	}
	json_object_set_new(j, "kind", json_string(kind_name(m.kind)));
	json_object_set_new(j, "equal_preference", json_boolean(m.equal));
	json_t *hops = json_array();
	for (size_t i = 0; i < m.nhops; i++)
		json_array_append_new(hops, json_pack("{s:o,s:i,s:b}", "host", ctl_json_z(m.hop[i].host), "port",
						      hop_port(&m, i, default_port), "mx", m.hop[i].mx));
	json_object_set_new(j, "hops", hops);
	json_object_set_new(j, "path", m.path[0] ? ctl_json_z(m.path) : json_null());
	if (m.kind == ROUTE_ERROR)
		json_object_set_new(j, "reply", json_pack("{s:i,s:o,s:o}", "code", m.reply.code, "enh",
							  ctl_json_z(m.reply.enh), "text", ctl_json_z(m.reply.text)));
	return j;
}

int ctl_route(const struct conf *c, const char *addr, const char *client, bool json)
{
	char err[600];
	bool trusted = true;
	if (client) {
		struct net_addr ca;
		if (net_addr_parse(client, 0, &ca) < 0) {
			fprintf(stderr, "mxgate: --client %s: not an IP address\n", client);
			return 2;
		}
		trusted = net_cidr_list_match(&c->mynetworks.list, &ca);
	}
	struct route_maps *m = gw_conf_maps_load(c, err, sizeof err);
	if (!m) {
		fprintf(stderr, "mxgate: %s\n", err);
		return 2;
	}
	struct mail_addr pa;
	char a[MAIL_PATH_MAX + 8];
	enum mail_addr_err ae = mail_addr_parse_str(addr, MAIL_ADDR_F_UTF8 | MAIL_ADDR_F_POSTMASTER, &pa);
	struct buf tr, out;
	buf_init(&tr);
	buf_init(&out);
	struct route_result r;
	route_result_init(&r, &tr);
	if (ae != MAIL_ADDR_OK) {
		mail_reply_set(&r.reply, 501, "5.1.3", "<%.300s>: %s", addr, mail_addr_strerror(ae));
		a[0] = '\0';
	} else {
		if (pa.domain[0])
			mail_addr_format(&pa, a, sizeof a);
		else
			snprintf(a, sizeof a, "%s@%s", pa.local, c->myhostname);
		route_expand(m, a, trusted, &r);
	}
	const char *dom = strrchr(a, '@');
	bool local = dom && route_is_local(m, dom + 1);
	if (json) {
		json_t *targets = json_array(), *trace = json_array();
		for (size_t i = 0; i < r.n; i++)
			json_array_append_new(targets, target_json(&r.t[i], c->smtp_tcp_port));
		char *pos = tr.data;
		for (char *line; pos && (line = str_next_line(&pos));)
			if (line[0])
				json_array_append_new(trace, ctl_json_z(line));
		json_t *j = json_pack("{s:o,s:b,s:b,s:b,s:{s:i,s:o,s:o},s:o,s:o}", "address", ctl_json_z(a[0] ? a : addr),
				      "client_trusted", trusted, "local", local, "accepted", r.ok, "reply", "code",
				      r.reply.code, "enh", ctl_json_z(r.reply.enh), "text", ctl_json_z(r.reply.text),
				      "targets", targets, "trace", trace);
		char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
		buf_printf(&out, "%s\n", text ? text : "{}");
		free(text);
		json_decref(j);
	} else {
		char rep[700];
		mail_reply_str(&r.reply, rep, sizeof rep);
		buf_printf(&out, "address: %s\nclient: %s\ndomain: %s\nRCPT reply: %s\n", a[0] ? a : addr,
			   client ? (trusted ? "in mynetworks" : "outside mynetworks") : "in mynetworks (--client IP for another)",
			   local ? "local (aliases)" : "not local", rep);
		if (tr.len)
			buf_printf(&out, "steps:\n%.*s", (int)tr.len, tr.data);
		if (r.ok) {
			buf_printf(&out, "final addresses: %zu\n", r.n);
			for (size_t i = 0; i < r.n; i++)
				target_text(&out, &r.t[i], c->smtp_tcp_port);
		}
	}
	fputs(out.data ? out.data : "", stdout);
	int rc = r.ok ? 0 : 1;
	route_result_fini(&r);
	buf_fini(&tr);
	buf_fini(&out);
	route_maps_free(&m);
	return rc;
}
