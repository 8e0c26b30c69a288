/*
 * gw_reload.c - configuration generations and the reload (SIGHUP).
 *
 * gw_reload() reads main.cf again (the same path and -o overrides as at
 * start) and builds everything the new settings need -- the maps, the
 * STARTTLS and client TLS contexts, the TLS policy map, the scan engine
 * and action lists, the DNSBL object, sockets for new listeners -- before
 * touching anything in force. Only when all of it succeeded is it swapped
 * in, on the loop thread, in one step; any error keeps the old
 * configuration whole and is logged (event=reload_error, one line each,
 * file:line where there is one).
 * Lifetimes: a struct gw_gen (one loaded conf and its STARTTLS context) is
 * refcounted. The gateway holds the current one; each smtp settings
 * snapshot holds its own (a session keeps the settings it started with)
 * and so does each scan set (scans in flight finish on their engine).
 * Keys that cannot change in a running process (conf_restart_keys) keep
 * their old values and are named in event=reload_restart_needed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/map.h"
#include "base/xalloc.h"
#include "conf/conf.h"
#include "deliver/deliver.h"
#include "gw/gw_conf.h"
#include "gw/gw_int.h"
#include "net/net_listen.h"
#include "net/net_tls.h"
#include "queue/queue_sched.h"
#include "route/route.h"
#include "scan/dnsbl/scan_dnsbl.h"
#include "smtp/smtp_server.h"
#include <openssl/ssl.h>

#define RELOAD_LISTEN_BACKLOG 1024

/* ------------------------------------------------------------ generations */

struct gw_gen *gw_gen_new(const struct conf *c, struct conf *owned)
{
	struct gw_gen *gen = xcalloc(1, sizeof *gen);
	gen->conf = c;
	gen->owned = owned;
	gen->refs = 1;
	return gen;
}

struct gw_gen *gw_gen_ref(struct gw_gen *gen)
{
	gen->refs++;
	return gen;
}

void gw_gen_unref(struct gw_gen *gen)
{
	if (!gen || --gen->refs > 0)
		return;
	if (gen->tls_server)
		SSL_CTX_free(gen->tls_server);
	conf_free(&gen->owned);
	xfree(gen);
}

static void release_gen(void *arg)
{
	gw_gen_unref(arg);
}

void gw_gen_smtpd(struct gw_gen *gen, struct smtp_server_conf *sc)
{
	gw_conf_smtpd(gen->conf, gen->tls_server, sc);
	sc->release = release_gen;
	sc->release_arg = gw_gen_ref(gen);
}

/* ------------------------------------------------------------ the reload */

/* Everything built from the new configuration before it is put in force. */
struct reload_new {
	struct gw_gen *gen;
	struct route_maps *maps;
	struct map *tls_policy;
	SSL_CTX *tls_client;
	struct gw_scanset *scan;
	bool dnsbl_changed;
	struct scan_dnsbl *dnsbl;
	int *add_fd; /* per new smtpd_listen entry: a fresh socket, or -1 (kept or failed) */
	bool *keep;  /* per old smtpd_listen entry: still configured */
	struct buf errors; /* one error per line */
	size_t nerrors;
	struct buf changed, restart, listeners;
};

static void add_error(struct reload_new *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_error(struct reload_new *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&n->errors, fmt, ap);
	va_end(ap);
	buf_putc(&n->errors, '\n');
	n->nerrors++;
}

static bool listen_has(const struct conf *c, const char *text)
{
	for (size_t i = 0; i < c->smtpd_listen_n; i++)
		if (strcmp(c->smtpd_listen[i].text, text) == 0)
			return true;
	return false;
}

static const char *const dnsbl_keys[] = { "dnsbl_sites", "dnsbl_ttl_min", "dnsbl_ttl_max", "dnsbl_timeout",
					  "dnsbl_retest_interval", NULL };

/* Compare old and new key by key: restart-only keys get their old value
 * back (and are named), the others are listed as changed. */
static void compare_keys(struct gw *g, struct conf *nc, struct reload_new *n)
{
	for (size_t k = 0; k < conf_key_count(); k++) {
		if (conf_key_equal(g->conf, nc, k))
			continue;
		const char *name = conf_key_name(k);
		if (conf_key_restart(k) && conf_key_copy(nc, g->conf, k)) {
			buf_printf(&n->restart, "%s%s", n->restart.len ? "," : "", name);
			continue;
		}
		buf_printf(&n->changed, "%s%s", n->changed.len ? "," : "", name);
		for (size_t i = 0; dnsbl_keys[i]; i++)
			if (strcmp(dnsbl_keys[i], name) == 0)
				n->dnsbl_changed = true;
	}
}

static void build_tls(struct gw *g, const struct conf *c, struct reload_new *n)
{
	char err[512];
	const struct conf *oc = g->conf;
	if (c->smtpd_tls_cert_file[0]) {
		/* After the privilege drop a key readable only by root cannot be read
		 * again: with the same files the context loaded at start stays. */
		bool same = strcmp(c->smtpd_tls_cert_file, oc->smtpd_tls_cert_file) == 0 &&
			    strcmp(c->smtpd_tls_key_file, oc->smtpd_tls_key_file) == 0;
		bool unreadable = access(c->smtpd_tls_key_file, R_OK) < 0 && errno == EACCES;
		if (same && unreadable && g->tls_server) {
			log_warn("event=reload_warning warning=\"%s is not readable by this user (%s): the certificate "
				 "loaded at start stays in force; a restart reads it again\"",
				 c->smtpd_tls_key_file, strerror(EACCES));
			SSL_CTX_up_ref(g->tls_server);
			n->gen->tls_server = g->tls_server;
		} else {
			n->gen->tls_server =
				net_tls_server_ctx(c->smtpd_tls_cert_file, c->smtpd_tls_key_file, err, sizeof err);
			if (!n->gen->tls_server)
				add_error(n, "TLS certificate %s / key %s: %s", c->smtpd_tls_cert_file,
					  c->smtpd_tls_key_file, err);
		}
	}
	if (c->smtp_tls_policy_maps[0]) {
		n->tls_policy = deliver_tls_policy_load(c->smtp_tls_policy_maps, err, sizeof err);
		if (!n->tls_policy)
			add_error(n, "%s", err);
	}
	if (strcmp(c->smtp_tls_security_level, "none") != 0 || c->smtp_tls_policy_maps[0]) {
		n->tls_client = net_tls_client_ctx(c->smtp_tls_CAfile, err, sizeof err);
		if (!n->tls_client)
			add_error(n, "TLS client: %s", err);
	}
}

/* Sockets for the listeners that are new; the kept ones stay as they are. */
static void build_listeners(struct gw *g, const struct conf *c, struct reload_new *n)
{
	const struct conf *oc = g->conf;
	n->add_fd = xcalloc(c->smtpd_listen_n ? c->smtpd_listen_n : 1, sizeof *n->add_fd);
	n->keep = xcalloc(oc->smtpd_listen_n ? oc->smtpd_listen_n : 1, sizeof *n->keep);
	for (size_t i = 0; i < oc->smtpd_listen_n; i++)
		n->keep[i] = listen_has(c, oc->smtpd_listen[i].text);
	for (size_t i = 0; i < c->smtpd_listen_n; i++) {
		n->add_fd[i] = -1;
		if (listen_has(oc, c->smtpd_listen[i].text) || n->nerrors)
			continue;
		n->add_fd[i] = net_listen_tcp(&c->smtpd_listen[i].addr, RELOAD_LISTEN_BACKLOG);
		if (n->add_fd[i] >= 0)
			continue;
		int e = errno;
		int port = net_addr_port(&c->smtpd_listen[i].addr);
		add_error(n, "cannot listen on %s: %s%s", c->smtpd_listen[i].text, strerror(e),
			  e == EACCES && port < 1024
				  ? " (a port below 1024 needs CAP_NET_BIND_SERVICE: mxgate keeps it across the "
				    "privilege drop only when started as root; else restart mxgate)"
				  : "");
	}
}

static void reload_new_free(struct reload_new *n, const struct conf *c)
{
	route_maps_free(&n->maps);
	if (n->tls_policy)
		map_free(&n->tls_policy);
	if (n->tls_client)
		SSL_CTX_free(n->tls_client);
	gw_scanset_unref(n->scan);
	if (n->dnsbl)
		scan_dnsbl_free(&n->dnsbl);
	for (size_t i = 0; n->add_fd && c && i < c->smtpd_listen_n; i++)
		if (n->add_fd[i] >= 0)
			close(n->add_fd[i]);
	xfree(n->add_fd);
	xfree(n->keep);
	gw_gen_unref(n->gen);
	buf_fini(&n->errors);
	buf_fini(&n->changed);
	buf_fini(&n->restart);
	buf_fini(&n->listeners);
}

/* Build everything; errors are collected in n->errors. */
static void build(struct gw *g, struct reload_new *n)
{
	const struct conf *c = n->gen->conf;
	char err[600];
	n->maps = gw_conf_maps_load(c, err, sizeof err);
	if (!n->maps || route_maps_error(n->maps))
		add_error(n, "%s", n->maps ? route_maps_error(n->maps) : err);
	build_tls(g, c, n);
	if (gw_conf_scan_check(c, err, sizeof err) < 0)
		add_error(n, "scanning: %s", err);
	/* DNS queries (self-tests) and sockets only when all else is good */
	if (!n->nerrors && n->dnsbl_changed && c->dnsbl_sites[0]) {
		n->dnsbl = gw_accept_dnsbl_new(g, c, err, sizeof err);
		if (!n->dnsbl)
			add_error(n, "dnsbl_sites: %s", err);
	}
	build_listeners(g, c, n);
	/* last: a generation the supervisor loads is in force at once (rules and
	 * signatures load there; the loop waits for it, as it waited for an
	 * engine loaded in-process) */
	if (!n->nerrors) {
		n->scan = gw_scan_reload(g, n->gen, err, sizeof err);
		if (!n->scan)
			add_error(n, "scanning: %s", err);
	}
}

/* Put n in force: nothing here can fail. */
static void commit(struct gw *g, struct reload_new *n)
{
	const struct conf *oc = g->conf;
	const struct conf *c = n->gen->conf;
	struct gw_gen *old_gen = g->gen;
	g->gen = n->gen;
	n->gen = NULL;
	g->conf = c;
	route_maps_free(&g->maps);
	g->maps = n->maps;
	n->maps = NULL;

	struct smtp_server_conf sc;
	gw_gen_smtpd(g->gen, &sc);
	smtp_server_reconfigure(g->smtpd, &sc);
	for (size_t i = 0; i < oc->smtpd_listen_n; i++) {
		if (n->keep[i])
			continue;
		smtp_server_remove_listener(g->smtpd, oc->smtpd_listen[i].text);
		buf_printf(&n->listeners, "%s-%s", n->listeners.len ? "," : "", oc->smtpd_listen[i].text);
	}
	for (size_t i = 0; i < c->smtpd_listen_n; i++) {
		if (n->add_fd[i] < 0)
			continue;
		smtp_server_add_listener(g->smtpd, n->add_fd[i], c->smtpd_listen[i].text);
		n->add_fd[i] = -1;
		buf_printf(&n->listeners, "%s+%s", n->listeners.len ? "," : "", c->smtpd_listen[i].text);
	}

	/* delivery: the old TLS objects go once deliver has the new ones */
	SSL_CTX *old_client = g->tls_client;
	struct map *old_policy = g->tls_policy;
	g->tls_client = n->tls_client;
	g->tls_policy = n->tls_policy;
	n->tls_client = NULL;
	n->tls_policy = NULL;
	struct net_addr *self = xcalloc(c->smtpd_listen_n + 1, sizeof *self);
	struct deliver_conf dc;
	gw_conf_deliver(c, g->tls_client, g->tls_policy, self, &dc);
	deliver_reconfigure(g->dl, &dc);
	xfree(self);
	if (old_client)
		SSL_CTX_free(old_client);
	if (old_policy)
		map_free(&old_policy);
	g->tls_server = g->gen->tls_server;

	struct queue_sched_conf qc;
	gw_conf_queue(c, &qc);
	queue_sched_reconfigure(g->q, &qc);

	gw_scan_swap(g, n->scan);
	n->scan = NULL;
	if (n->dnsbl_changed) {
		gw_accept_dnsbl_replace(g, n->dnsbl);
		n->dnsbl = NULL;
	}
	/* sessions and scans still using the old settings keep their own references */
	gw_gen_unref(old_gen);
}

/* Each error line as one event=reload_error; err gets the first. */
static void log_errors(const char *text, char *err, size_t errlen)
{
	char *copy = xstrdup(text ? text : "");
	bool first = true;
	for (char *line = strtok(copy, "\n"); line; line = strtok(NULL, "\n")) {
		if (!strstr(line, ": error: ") && strstr(line, ": warning: ")) {
			log_warn("event=reload_warning warning=\"%s\"", line);
			continue;
		}
		log_err("event=reload_error error=\"%s\"", line);
		if (first)
			snprintf(err, errlen, "%s", line);
		first = false;
	}
	xfree(copy);
}

int gw_reload(struct gw *g, char *err, size_t errlen)
{
	struct reload_new n;
	memset(&n, 0, sizeof n);
	buf_init(&n.errors);
	buf_init(&n.changed);
	buf_init(&n.restart);
	buf_init(&n.listeners);
	snprintf(err, errlen, "unknown error");
	if (g->stopping) {
		snprintf(err, errlen, "shutting down: no reload");
		log_warn("event=reload_failed error=\"%s\"", err);
		reload_new_free(&n, NULL);
		return -1;
	}
	struct buf diag;
	buf_init(&diag);
	struct conf *nc = conf_load(g->conf_path, g->conf_ov, g->conf_nov, &diag);
	log_errors(diag.data, err, errlen);
	buf_fini(&diag);
	if (!nc) {
		log_err("event=reload_failed file=%s action=\"the configuration in force is kept\"",
			g->conf_path ? g->conf_path : "(built-in defaults)");
		reload_new_free(&n, NULL);
		return -1;
	}
	compare_keys(g, nc, &n);
	n.gen = gw_gen_new(nc, nc);
	build(g, &n);
	if (n.nerrors) {
		log_errors(n.errors.data, err, errlen);
		log_err("event=reload_failed file=%s errors=%zu action=\"the configuration in force is kept\"",
			g->conf_path ? g->conf_path : "(built-in defaults)", n.nerrors);
		reload_new_free(&n, nc);
		return -1;
	}
	commit(g, &n);
	g->reloads++;
	if (n.restart.len)
		log_warn("event=reload_restart_needed keys=%s action=\"old values stay in force until a restart\"",
			 n.restart.data);
	size_t nl, na, nm;
	route_maps_stats(g->maps, &nl, &na, &nm);
	log_info("event=reloaded generation=%u keys=%s listeners=%s local_domains=%zu aliases=%zu mailertable=%zu "
		 "scanning=%s virus_engine=%s scan_load_ms=%lld",
		 g->reloads, n.changed.len ? n.changed.data : "-", n.listeners.len ? n.listeners.data : "-", nl, na, nm,
		 g->scanset->enabled ? "on" : "off",
		 g->scanset->av_kept ? "kept" : g->scanset->has_av ? "loaded" : "none",
		 (long long)g->scanset->load_ms);
	reload_new_free(&n, nc);
	struct gw_event ev = { .type = GW_EV_RELOADED };
	ev.u.reloaded.generation = g->reloads;
	ev.u.reloaded.conf = g->conf;
	gw_emit(g, &ev);
	return 0;
}

void gw_reload_fini(struct gw *g)
{
	if (g->tls_policy)
		map_free(&g->tls_policy);
	gw_gen_unref(g->gen);
	g->gen = NULL;
}
