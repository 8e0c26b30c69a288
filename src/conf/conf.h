/*
 * conf.h - the main configuration: Postfix main.cf syntax -> struct conf.
 *
 * Syntax: "key = value" lines; a line starting with '#' (after optional
 * space) is a comment; a line starting with white space continues the
 * previous logical line; $key and ${key} expand to other keys' values.
 * Every key has a type and a default (conf_keys.c is the single table; the
 * defaults are parsed by the same code, so they are validated too). An
 * unknown key, a bad value or a bad $reference is an error reported as
 * "file:line: message"; all errors are collected, not only the first.
 *
 * The struct is immutable after conf_load(): a reload builds a new one.
 */
#ifndef CONF_CONF_H
#define CONF_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/net_addr.h"

struct buf;

struct conf_listen {
	struct net_addr addr;
	char text[NET_ADDR_STRLEN];
};

struct conf_cidrs {
	struct net_cidr_list list;
	char *text; /* as configured, for conf_dump() */
};

#define CONF_KEYS_MAX 192

struct conf {
	char *source; /* file name or "(built-in defaults)" */
	bool set[CONF_KEYS_MAX]; /* per key (conf_keys.c order): set in the file or by -o */
	/* identity */
	char *myhostname;
	char *mail_owner;
	char *pid_file;
	char *syslog_facility;
	char *syslog_name;
	char *log_level;
	char *log_format;
	char *http_listen, *http_secret_file;
	/* scanning (scan/, docs/CONFIG.md "Scanning") */
	char *scan_stage;
	int scan_processes, scan_workers, scan_timeout, scan_max_attempts;
	char *scan_user;
	int scan_process_timeout, scan_cpu_limit, scan_process_max_scans;
	uint64_t scan_memory_limit;
	bool scan_sandbox;
	char *scan_on_failure;
	char *virus_scanner, *virus_tmpdir, *spam_scanner, *spam_rules, *scan_access_map;
	uint64_t virus_max_size, spam_max_size;
	double spam_threshold, spam_high_threshold;
	bool use_bayes, bayes_auto_learn;
	char *bayes_path;
	char *clean_actions, *blocklisted_actions, *spam_actions, *high_spam_actions, *unscannable_actions,
		*virus_actions;
	char *blocklisted_subject_tag, *spam_subject_tag, *high_spam_subject_tag, *unscannable_subject_tag,
		*virus_subject_tag;
	bool scan_tag_subject, scan_headers_on_clean;
	char *subject_tag_position, *scan_header_prefix, *spam_header_prefix;
	/* inbound SMTP */
	struct conf_listen *smtpd_listen;
	size_t smtpd_listen_n;
	char *smtpd_banner;
	struct conf_cidrs mynetworks;
	struct conf_cidrs smtpd_client_event_limit_exceptions;
	char *relay_domains; /* list of domains and /file names (raw) */
	char *local_host_names, *alias_maps, *mailertable, *local_recipient_maps, *local_transport, *mydomain;
	bool append_dot_mydomain;
	uint64_t message_size_limit;
	int smtpd_recipient_limit;
	int smtpd_timeout;
	int smtpd_session_time_limit;
	int smtpd_client_connection_count_limit;
	int smtpd_session_limit;
	int smtpd_hard_error_limit;
	int smtpd_command_line_limit;
	int smtpd_data_line_limit;
	bool smtpd_forbid_bare_newline;
	bool smtpd_peername_lookup;
	bool strict_rfc821_envelopes;
	int hopcount_limit;
	char *smtpd_tls_cert_file;
	char *smtpd_tls_key_file;
	/* queue */
	char *queue_directory;
	char *control_socket;
	int queue_commit_threads;
	int maximal_queue_lifetime;
	int bounce_queue_lifetime;
	int minimal_backoff_time;
	int maximal_backoff_time;
	int qmgr_message_active_limit;
	int delay_warning_time;
	uint64_t bounce_size_limit;
	/* delivery */
	char *relayhost;
	int smtp_tcp_port;
	char *smtp_helo_name;
	char *smtp_tls_security_level; /* none | may | encrypt | verify */
	char *smtp_tls_CAfile;
	char *smtp_tls_policy_maps;
	int initial_destination_concurrency;
	int smtp_destination_concurrency_limit;
	int smtp_destination_dead_time;
	int smtp_destination_recipient_limit;
	int smtp_connection_cache_time_limit;
	int smtp_connection_reuse_count_limit;
	int smtp_mx_address_limit;
	int smtp_connect_timeout;
	int smtp_helo_timeout;
	int smtp_mail_timeout;
	int smtp_rcpt_timeout;
	int smtp_data_init_timeout;
	int smtp_data_xfer_timeout;
	int smtp_data_done_timeout;
	int smtp_quit_timeout;
	/* DNS */
	char *dns_servers; /* "addr:port,..." for c-ares; "" = system resolver */
	int dns_timeout;
	/* DNS blocklists */
	char *dnsbl_sites;
	int dnsbl_threshold;
	int dnsbl_reject_threshold;
	bool dnsbl_check_private;
	int dnsbl_ttl_min;
	int dnsbl_ttl_max;
	int dnsbl_timeout;
	int dnsbl_retest_interval;
	/* process */
	int shutdown_timeout;
};

/* Load path (NULL: built-in defaults only), then apply overrides
 * ("key=value" strings, as from -o). Returns NULL when there were errors;
 * every error and warning line is appended to diag ("file:line: ..."). */
struct conf *conf_load(const char *path, const char *const *overrides, size_t n_overrides, struct buf *diag);
void conf_free(struct conf **c);
/* Print every key with its effective value ("key = value"); only_set:
 * just the keys set in the file or by -o (as postconf -n). */
void conf_dump(const struct conf *c, struct buf *out, bool only_set);
/* Markdown table of every key, type, default and description (keys a
 * reload cannot change say so). */
void conf_doc(struct buf *out);

/* Keys by index (conf_keys.c order), for a reload's comparison. */
size_t conf_key_count(void);
const char *conf_key_name(size_t k);
/* True for keys a running gateway cannot change (a reload keeps the old value). */
bool conf_key_restart(size_t k);
/* True when key k has the same effective value in a and b. */
bool conf_key_equal(const struct conf *a, const struct conf *b, size_t k);
/* Give key k of dst src's value (text, number, time, size, yes/no and
 * choice keys; the others are left alone and false is returned). */
bool conf_key_copy(struct conf *dst, const struct conf *src, size_t k);

#endif
