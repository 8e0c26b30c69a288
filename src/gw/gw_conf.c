/*
 * gw_conf.c - main.cf's values as each module's settings (gw_conf.h).
 *
 * Fills the modules' own settings structs from struct conf; strings are
 * borrowed from the configuration, which outlives them (a generation,
 * gw_reload.c). Parses what only gw knows how to read (the scan action
 * lists) and loads the maps with gw's implicit local names. Keeps no
 * state and opens nothing but the map files, so ctl/ builds with the same
 * code what the daemon builds.
 */
#include "gw/gw_conf.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "base/xalloc.h"
#include "conf/conf.h"
#include "deliver/deliver.h"
#include "net/net_addr.h"
#include "queue/queue_sched.h"
#include "route/route.h"
#include "scan/proc/scan_proc.h"
#include "scan/scan.h"
#include "scan/scan_policy.h"
#include "scan/dnsbl/scan_dnsbl.h"
#include "smtp/smtp_server.h"

void gw_conf_smtpd(const struct conf *c, struct ssl_ctx_st *tls_server, struct smtp_server_conf *sc)
{
	*sc = (struct smtp_server_conf){
		.hostname = c->myhostname,
		.banner = c->smtpd_banner,
		.size_limit = c->message_size_limit,
		.rcpt_limit = c->smtpd_recipient_limit,
		.timeout_s = c->smtpd_timeout,
		.session_time_limit_s = c->smtpd_session_time_limit,
		.per_ip_limit = c->smtpd_client_connection_count_limit,
		.per_ip_exceptions = &c->smtpd_client_event_limit_exceptions.list,
		.session_limit = c->smtpd_session_limit,
		.hard_error_limit = c->smtpd_hard_error_limit,
		.cmd_line_limit = c->smtpd_command_line_limit,
		.data_line_limit = c->smtpd_data_line_limit,
		.hop_limit = c->hopcount_limit,
		.forbid_bare_newline = c->smtpd_forbid_bare_newline,
		.strict_envelopes = c->strict_rfc821_envelopes,
		.tls_ctx = tls_server,
	};
}

void gw_conf_deliver(const struct conf *c, struct ssl_ctx_st *tls_client, const struct map *tls_policy,
		     struct net_addr *self, struct deliver_conf *dc)
{
	for (size_t i = 0; i < c->smtpd_listen_n; i++)
		self[i] = c->smtpd_listen[i].addr;
	*dc = (struct deliver_conf){
		.helo_name = c->smtp_helo_name,
		.myhostname = c->myhostname,
		.tls_ctx = tls_client,
		.tls_policy = tls_policy,
		.initial_concurrency = c->initial_destination_concurrency,
		.concurrency = c->smtp_destination_concurrency_limit,
		.dead_time_s = c->smtp_destination_dead_time,
		.rcpt_limit = c->smtp_destination_recipient_limit,
		.cache_time_s = c->smtp_connection_cache_time_limit,
		.reuse_limit = c->smtp_connection_reuse_count_limit,
		.mx_addr_limit = c->smtp_mx_address_limit,
		.default_port = c->smtp_tcp_port,
		.self_addrs = self,
		.nself = c->smtpd_listen_n,
		.t_connect = c->smtp_connect_timeout,
		.t_helo = c->smtp_helo_timeout,
		.t_mail = c->smtp_mail_timeout,
		.t_rcpt = c->smtp_rcpt_timeout,
		.t_data_init = c->smtp_data_init_timeout,
		.t_data_xfer = c->smtp_data_xfer_timeout,
		.t_data_done = c->smtp_data_done_timeout,
		.t_quit = c->smtp_quit_timeout,
	};
	deliver_tls_level_parse(c->smtp_tls_security_level, &dc->tls); /* conf checked the choice */
}

void gw_conf_queue(const struct conf *c, struct queue_sched_conf *qc)
{
	*qc = (struct queue_sched_conf){
		.hostname = c->myhostname,
		.max_lifetime_s = c->maximal_queue_lifetime,
		.bounce_lifetime_s = c->bounce_queue_lifetime,
		.min_backoff_s = c->minimal_backoff_time,
		.max_backoff_s = c->maximal_backoff_time,
		.active_limit = c->qmgr_message_active_limit,
		.delay_warning_s = c->delay_warning_time,
		.bounce_size_limit = c->bounce_size_limit,
	};
}

/* ------------------------------------------------------------ scanning */

void gw_conf_scan(const struct conf *c, struct scan_conf *sc)
{
	*sc = (struct scan_conf){
		.virus_scanner = c->virus_scanner,
		.virus_tmpdir = c->virus_tmpdir,
		.spam_scanner = c->spam_scanner,
		.spam_rules = c->spam_rules,
		.access_map = c->scan_access_map,
		.spam_threshold = c->spam_threshold,
		.use_bayes = c->use_bayes,
		.bayes_path = c->bayes_path,
		.spam_high_threshold = c->spam_high_threshold,
		.dnsbl_threshold = c->dnsbl_sites[0] ? c->dnsbl_threshold : 0,
		.timeout_ms = c->scan_timeout * 1000,
		.spam_max_size = c->spam_max_size,
		.virus_max_size = c->virus_max_size,
	};
}

void gw_conf_scan_policy_conf(const struct conf *c, struct scan_policy_conf *pc)
{
	*pc = (struct scan_policy_conf){
		.actions = { c->clean_actions, c->blocklisted_actions, c->spam_actions, c->high_spam_actions,
			     c->unscannable_actions, c->virus_actions },
		.tag = { "", c->blocklisted_subject_tag, c->spam_subject_tag, c->high_spam_subject_tag,
			 c->unscannable_subject_tag, c->virus_subject_tag },
		.tag_subject = c->scan_tag_subject,
		.tag_at_end = strcmp(c->subject_tag_position, "end") == 0,
		.headers_on_clean = c->scan_headers_on_clean,
		.before_queue = strcmp(c->scan_stage, "before-queue") == 0,
		.header_prefix = c->scan_header_prefix,
		.spam_prefix = c->spam_header_prefix,
		.hostname = c->myhostname,
	};
}

int gw_conf_scan_policy(const struct conf *c, struct scan_policy *p, char *err, size_t errlen)
{
	struct scan_policy_conf pc;
	gw_conf_scan_policy_conf(c, &pc);
	return scan_policy_build(&pc, p, err, errlen);
}

void gw_conf_scan_policy_fini(struct scan_policy *p)
{
	scan_policy_fini(p);
}

/* A back end that is a daemon: the scanners need sockets. */
static bool daemon_spec(const char *spec)
{
	return strncmp(spec, "clamd:", 6) == 0 || strncmp(spec, "spamd:", 6) == 0 || strncmp(spec, "rspamd:", 7) == 0;
}

void gw_conf_scan_proc(const struct conf *c, struct scan_proc_settings *s)
{
	memset(s, 0, sizeof *s);
	gw_conf_scan(c, &s->scan);
	gw_conf_scan_policy_conf(c, &s->policy);
	s->proc = (struct scan_proc_conf){
		.processes = c->scan_processes,
		.user = c->scan_user,
		.timeout_ms = c->scan_process_timeout * 1000,
		.memory_limit = c->scan_memory_limit,
		.cpu_limit_s = c->scan_cpu_limit,
		.max_scans = (unsigned)c->scan_process_max_scans,
		.sandbox = c->scan_sandbox,
		.net = daemon_spec(c->virus_scanner) || daemon_spec(c->spam_scanner),
	};
}

int gw_conf_scan_check(const struct conf *c, char *err, size_t errlen)
{
	struct scan_policy p;
	int rc = gw_conf_scan_policy(c, &p, err, errlen);
	gw_conf_scan_policy_fini(&p);
	return rc;
}

void gw_conf_dnsbl(const struct conf *c, struct scan_dnsbl_conf *dc)
{
	*dc = (struct scan_dnsbl_conf){
		.sites = c->dnsbl_sites,
		.ttl_min_s = c->dnsbl_ttl_min,
		.ttl_max_s = c->dnsbl_ttl_max,
		.timeout_s = c->dnsbl_timeout,
		.retest_s = c->dnsbl_retest_interval,
		.self_test = true,
	};
}

/* ------------------------------------------------------------ maps */

struct route_maps *gw_conf_maps_load(const struct conf *c, char *err, size_t errlen)
{
	/* implicitly local: localhost (route/), our name, our listen addresses */
	size_t n = c->smtpd_listen_n + 1;
	char **self = xcalloc(n, sizeof *self);
	self[0] = xstrdup(c->myhostname);
	for (size_t i = 0; i < c->smtpd_listen_n; i++) {
		char ip[NET_ADDR_STRLEN], lit[NET_ADDR_STRLEN + 8];
		net_addr_ip(&c->smtpd_listen[i].addr, ip, sizeof ip);
		snprintf(lit, sizeof lit, net_addr_family(&c->smtpd_listen[i].addr) == AF_INET6 ? "[IPv6:%s]" : "[%s]",
			 ip);
		self[i + 1] = xstrdup(lit);
	}
	const char *dot = strchr(c->myhostname, '.');
	struct route_conf rc = {
		.local_host_names = c->local_host_names,
		.alias_maps = c->alias_maps,
		.mailertable = c->mailertable,
		.relay_domains = c->relay_domains,
		.local_recipient_maps = c->local_recipient_maps,
		.local_transport = c->local_transport,
		.relayhost = c->relayhost,
		.mydomain = c->mydomain[0] ? c->mydomain : dot ? dot + 1 : "",
		.append_dot_mydomain = c->append_dot_mydomain,
		.self = (const char *const *)self,
		.nself = n,
	};
	struct route_maps *m = route_maps_load(&rc, err, errlen);
	for (size_t i = 0; i < n; i++)
		xfree(self[i]);
	xfree(self);
	return m;
}
