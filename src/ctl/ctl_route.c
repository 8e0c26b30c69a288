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
#include <string.h>

#include "base/buf.h"
#include "conf/conf.h"
#include "ctl/ctl.h"
#include "deliver/deliver.h"
#include "gw/gw.h"
#include "mail/mail_addr.h"
#include "net/net_addr.h"
#include "route/route.h"

static void json_str(struct buf *b, const char *s)
{
	buf_putc(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			buf_printf(b, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			buf_printf(b, "\\u%04x", *p);
		else
			buf_putc(b, (char)*p); /* 8-bit octets pass as they are (UTF-8 addresses) */
	}
	buf_putc(b, '"');
}

static const char *kind_name(enum route_kind k)
{
	static const char *const names[] = { "smtp", "lmtp", "maildir", "error", "local" };
	return names[k];
}

/* The port deliver/ tries a hop on. */
static int hop_port(const struct route_mailer *m, size_t i, int default_port)
{
	return m->hop[i].port ? m->hop[i].port : m->kind == ROUTE_LMTP ? DELIVER_LMTP_PORT : default_port;
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

static void target_json(struct buf *b, const struct route_target *t, int default_port)
{
	struct route_mailer m;
	char err[300];
	buf_puts(b, "{\"address\":");
	json_str(b, t->addr);
	buf_puts(b, ",\"mailer\":");
	json_str(b, t->mailer);
	buf_puts(b, ",\"sender\":");
	if (t->sender)
		json_str(b, t->sender);
	else
		buf_puts(b, "null");
	if (route_mailer_parse(t->mailer, &m, err, sizeof err) < 0) {
		buf_puts(b, ",\"error\":");
		json_str(b, err);
		buf_putc(b, '}');
		return;
	}
	buf_printf(b, ",\"kind\":\"%s\",\"equal_preference\":%s,\"hops\":[", kind_name(m.kind), m.equal ? "true" : "false");
	for (size_t i = 0; i < m.nhops; i++) {
		buf_printf(b, "%s{\"host\":", i ? "," : "");
		json_str(b, m.hop[i].host);
		buf_printf(b, ",\"port\":%d,\"mx\":%s}", hop_port(&m, i, default_port), m.hop[i].mx ? "true" : "false");
	}
	buf_puts(b, "],\"path\":");
	if (m.path[0])
		json_str(b, m.path);
	else
		buf_puts(b, "null");
	if (m.kind == ROUTE_ERROR) {
		buf_printf(b, ",\"reply\":{\"code\":%d,\"enh\":\"%s\",\"text\":", m.reply.code, m.reply.enh);
		json_str(b, m.reply.text);
		buf_putc(b, '}');
	}
	buf_putc(b, '}');
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
	struct route_maps *m = gw_maps_load(c, err, sizeof err);
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
		buf_puts(&out, "{\"address\":");
		json_str(&out, a[0] ? a : addr);
		buf_printf(&out, ",\"client_trusted\":%s,\"local\":%s,\"accepted\":%s,\"reply\":{\"code\":%d,\"enh\":\"%s\",\"text\":",
			   trusted ? "true" : "false", local ? "true" : "false", r.ok ? "true" : "false", r.reply.code,
			   r.reply.enh);
		json_str(&out, r.reply.text);
		buf_puts(&out, "},\"targets\":[");
		for (size_t i = 0; i < r.n; i++) {
			if (i)
				buf_putc(&out, ',');
			target_json(&out, &r.t[i], c->smtp_tcp_port);
		}
		buf_puts(&out, "],\"trace\":[");
		char *save = NULL, *t = tr.data ? tr.data : (char *)"";
		bool firstline = true;
		for (char *line = strtok_r(t, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			if (!firstline)
				buf_putc(&out, ',');
			firstline = false;
			json_str(&out, line);
		}
		buf_puts(&out, "]}\n");
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
