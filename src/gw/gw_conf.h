/*
 * gw_conf.h - the configuration turned into each module's settings: the
 * one place that knows both main.cf's keys (conf/) and what smtp/,
 * deliver/, queue/, scan/ and route/ take.
 *
 * Translation only: no daemon state, nothing kept. The daemon (start-up
 * and reloads) and the command-line tools (ctl/: "mxgate check", "route",
 * "scan") call the same functions, so a tool builds exactly what the
 * gateway would. This header names only conf and the modules' settings
 * structs (declared, not included); it is the one gw header ctl/ may use.
 */
#ifndef GW_GW_CONF_H
#define GW_GW_CONF_H

#include <stddef.h>

struct conf;
struct deliver_conf;
struct map;
struct net_addr;
struct queue_sched_conf;
struct route_maps;
struct scan_conf;
struct scan_dnsbl_conf;
struct scan_policy;
struct smtp_server_conf;
struct ssl_ctx_st;

/* The SMTP server's settings; tls_server (borrowed, NULL: no STARTTLS) is
 * the context built from smtpd_tls_cert_file. The caller sets the
 * snapshot's release callback. */
void gw_conf_smtpd(const struct conf *c, struct ssl_ctx_st *tls_server, struct smtp_server_conf *sc);
/* Delivery's settings. self: the caller's array of at least smtpd_listen_n
 * entries, filled with our listen addresses (an MX pointing at them is a
 * mail loop); tls_client and tls_policy are borrowed (either may be NULL). */
void gw_conf_deliver(const struct conf *c, struct ssl_ctx_st *tls_client, const struct map *tls_policy,
		     struct net_addr *self, struct deliver_conf *dc);
/* The queue manager's lifetimes, back-off, limits and host name. */
void gw_conf_queue(const struct conf *c, struct queue_sched_conf *qc);

/* The scanning engine's settings (scanners, thresholds, limits). */
void gw_conf_scan(const struct conf *c, struct scan_conf *sc);
struct scan_policy_conf;
struct scan_proc_settings;
/* The policy's configured values (action lists, tags, header prefixes). */
void gw_conf_scan_policy_conf(const struct conf *c, struct scan_policy_conf *pc);
/* Everything a generation of scanner processes is built from: the engine's
 * settings, the policy's values and the processes' own (scan_processes,
 * scan_user, limits, scan_sandbox). Strings borrowed from c. */
void gw_conf_scan_proc(const struct conf *c, struct scan_proc_settings *s);
/* The scanning policy: action lists per category, Subject tags, result
 * headers. -1 with "key: reason" in err for a bad action list, or for
 * reject with scan_stage = after-queue (a refusal after the 250 is
 * backscatter); the caller frees p with gw_conf_scan_policy_fini() either way. */
int gw_conf_scan_policy(const struct conf *c, struct scan_policy *p, char *err, size_t errlen);
void gw_conf_scan_policy_fini(struct scan_policy *p);
/* gw_conf_scan_policy() for its verdict only. */
int gw_conf_scan_check(const struct conf *c, char *err, size_t errlen);
/* The DNSBL settings, with the RFC 5782 self-test on. */
void gw_conf_dnsbl(const struct conf *c, struct scan_dnsbl_conf *dc);

/* Load the map files named in the configuration (route/route.h), with
 * myhostname and the listen addresses as implicitly local names. NULL with
 * "file:line: reason" in err. */
struct route_maps *gw_conf_maps_load(const struct conf *c, char *err, size_t errlen);

#endif
