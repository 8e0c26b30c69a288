/*
 * conf_keys.c - every configuration key: name, type, default, limits, doc.
 *
 * This table is the single source of truth: conf.c parses with it,
 * "mxgate config --doc" prints docs/CONFIG.md's key table from it.
 */
#include "conf/conf_keys.h"

#include <stddef.h>

#include "conf/conf.h"

#define O(f) offsetof(struct conf, f)
#define DAY 86400LL

const struct conf_key conf_keys[] = {
	/* identity and process */
	{ "myhostname", CONF_T_HOST, O(myhostname), "", 0, 0, NULL,
	  "This gateway's fully qualified host name (banner, EHLO, Received:, bounces). Default: the system host name." },
	{ "mail_owner", CONF_T_STR, O(mail_owner), "mxgate", 0, 0, NULL,
	  "Unprivileged user mxgate switches to after binding its ports when started as root; owns the queue." },
	{ "pid_file", CONF_T_STR, O(pid_file), "", 0, 0, NULL, "Write the process id here (empty: no pid file)." },
	{ "syslog_facility", CONF_T_STR, O(syslog_facility), "", 0, 0, NULL,
	  "Also log to syslog with this facility (mail, daemon, local0..local7); empty: stderr only." },
	{ "syslog_name", CONF_T_STR, O(syslog_name), "mxgate", 0, 0, NULL, "Program name in log lines." },
	{ "log_level", CONF_T_ENUM, O(log_level), "info", 0, 0, "error warning info debug", "Most verbose level logged." },
	{ "log_format", CONF_T_ENUM, O(log_format), "text", 0, 0, "text json",
	  "Log lines as key=value text, or one JSON object per line with the same keys." },
	/* HTTP: metrics and status page (admin/admin_http.c) */
	{ "http_listen", CONF_T_STR, O(http_listen), "127.0.0.1:8025", 0, 0, NULL,
	  "addr:port of the HTTP listener for /metrics (Prometheus) and the status page; empty: none. Keep it on loopback "
	  "or behind a proxy: reading needs no secret." },
	{ "http_secret_file", CONF_T_STR, O(http_secret_file), "", 0, 0, NULL,
	  "File whose first line is the secret the status page's changing actions (quarantine release/delete) need; "
	  "empty: those actions are refused (403)." },
	{ "shutdown_timeout", CONF_T_TIME, O(shutdown_timeout), "10s", 1, 3600, NULL,
	  "On SIGTERM: how long open SMTP transactions and deliveries may take to finish before the process exits." },
	/* inbound SMTP */
	{ "smtpd_listen", CONF_T_LISTEN, O(smtpd_listen), "127.0.0.1:2525", 0, 0, NULL,
	  "Addresses to accept SMTP on: addr:port, IPv6 as [addr]:port, separated by spaces or commas." },
	{ "smtpd_banner", CONF_T_STR, O(smtpd_banner), "$myhostname ESMTP mxgate", 0, 0, NULL,
	  "Text after 220 in the greeting." },
	{ "mynetworks", CONF_T_CIDRS, O(mynetworks), "127.0.0.0/8 [::1]/128", 0, 0, NULL,
	  "Clients in these networks may relay to any domain (the organisation's own servers)." },
	{ "smtpd_client_event_limit_exceptions", CONF_T_CIDRS, O(smtpd_client_event_limit_exceptions), "$mynetworks", 0,
	  0, NULL, "Clients exempt from smtpd_client_connection_count_limit (as Postfix)." 
	},
	{ "relay_domains", CONF_T_STR, O(relay_domains), "", 0, 0, NULL,
	  "Domains any client may send to (mail the gateway accepts for the organisation): domain names and /file/names "
	  "(one domain per line, # comments), separated by spaces or commas." },
	/* routing: sendmail's map files (docs/CONFIG.md "Routing") */
	{ "local_host_names", CONF_T_STR, O(local_host_names), "", 0, 0, NULL,
	  "sendmail's local-host-names file: domains whose mail is resolved through the aliases (first word per line, "
	  "# comments, exact match). localhost, myhostname and the listen addresses as [literals] are always local." },
	{ "alias_maps", CONF_T_STR, O(alias_maps), "", 0, 0, NULL,
	  "sendmail aliases files (name: target, ...); several files: the first that has a name wins. Targets |program "
	  "and /file are refused with a log line." },
	{ "mailertable", CONF_T_STR, O(mailertable), "", 0, 0, NULL,
	  "sendmail mailertable file (domain mailer:host); routing only: relaying to its domains needs relay_domains "
	  "(relay_domains = $mailertable allows every key)." },
	{ "local_recipient_maps", CONF_T_STR, O(local_recipient_maps), "", 0, 0, NULL,
	  "Local users that exist besides the aliases: names, /files (one name per line) and/or the word passwd "
	  "(system accounts). A local recipient that is neither gets 550 5.1.1 at RCPT." },
	{ "local_transport", CONF_T_STR, O(local_transport), "error:5.1.1:550 no local mailboxes on this gateway", 0,
	  0, NULL, "Mailer value (as in the mailertable) that delivers to local users, e.g. lmtp:unix:/run/dovecot/lmtp "
	  "or maildir:/var/mail/%u." },
	{ "mydomain", CONF_T_STR, O(mydomain), "", 0, 0, NULL,
	  "Domain appended to alias targets user@host whose host has no dot. Empty: myhostname without its first "
	  "label." },
	{ "append_dot_mydomain", CONF_T_BOOL, O(append_dot_mydomain), "yes", 0, 0, NULL,
	  "Complete user@host alias targets (host without a dot) with .$mydomain (sysadm@forth -> "
	  "sysadm@forth.$mydomain)." },
	{ "message_size_limit", CONF_T_SIZE, O(message_size_limit), "10240000", 0, 0, NULL,
	  "Largest message accepted, in octets of content as received (SIZE= and DATA/BDAT); 0 = no limit." },
	{ "smtpd_recipient_limit", CONF_T_INT, O(smtpd_recipient_limit), "1000", 1, 100000, NULL,
	  "Recipients per message; one more gets 452 4.5.3." },
	{ "smtpd_timeout", CONF_T_TIME, O(smtpd_timeout), "300s", 1, DAY, NULL,
	  "Idle time allowed while waiting for a client command or DATA octets; then 421 4.4.2 and close." },
	{ "smtpd_session_time_limit", CONF_T_TIME, O(smtpd_session_time_limit), "3600s", 1, 7 * DAY, NULL,
	  "Longest an SMTP session may last in total; then 421 4.4.2 and close (slow-drip defence)." },
	{ "smtpd_client_connection_count_limit", CONF_T_INT, O(smtpd_client_connection_count_limit), "50", 1, 100000,
	  NULL, "Concurrent sessions from one client IP address; one more gets 421 4.7.0 at connect." },
	{ "smtpd_session_limit", CONF_T_INT, O(smtpd_session_limit), "1000", 1, 1000000, NULL,
	  "Concurrent SMTP sessions in total; one more gets 421 4.3.2 at connect." },
	{ "smtpd_hard_error_limit", CONF_T_INT, O(smtpd_hard_error_limit), "20", 1, 1000, NULL,
	  "Errors (4xx/5xx replies) in one session before 421 4.7.0 and close." },
	{ "smtpd_command_line_limit", CONF_T_INT, O(smtpd_command_line_limit), "512", 64, 65536, NULL,
	  "Longest command line in octets including CRLF (RFC 5321 4.5.3.1.4); longer: 500 5.5.2." },
	{ "smtpd_data_line_limit", CONF_T_INT, O(smtpd_data_line_limit), "1000", 0, 1048576, NULL,
	  "Longest message line in octets including CRLF (RFC 5321 4.5.3.1.6); a message with a longer line is "
	  "rejected with 554 5.6.0 at end of data; 0 = no limit." },
	{ "smtpd_forbid_bare_newline", CONF_T_BOOL, O(smtpd_forbid_bare_newline), "yes", 0, 0, NULL,
	  "Reject a message containing a bare LF or bare CR (554 5.5.2), and bare-LF command lines (500 5.5.2): the "
	  "SMTP smuggling defence. DATA ends only on CRLF.CRLF in either case." },
	{ "smtpd_peername_lookup", CONF_T_BOOL, O(smtpd_peername_lookup), "yes", 0, 0, NULL,
	  "Look up the client's name (PTR, confirmed by A/AAAA) for Received: and logs." },
	{ "strict_rfc821_envelopes", CONF_T_BOOL, O(strict_rfc821_envelopes), "no", 0, 0, NULL,
	  "Require <> around MAIL FROM/RCPT TO addresses and no space after the colon." },
	{ "hopcount_limit", CONF_T_INT, O(hopcount_limit), "100", 1, 1000, NULL,
	  "More Received: header fields than this: 554 5.4.6 mail loop." },
	{ "smtpd_tls_cert_file", CONF_T_STR, O(smtpd_tls_cert_file), "", 0, 0, NULL,
	  "PEM certificate chain for STARTTLS; empty: STARTTLS not offered." },
	{ "smtpd_tls_key_file", CONF_T_STR, O(smtpd_tls_key_file), "$smtpd_tls_cert_file", 0, 0, NULL,
	  "PEM private key for STARTTLS." },
	/* queue */
	{ "queue_directory", CONF_T_STR, O(queue_directory), "/var/spool/mxgate", 0, 0, NULL,
	  "Spool directory (docs/QUEUE.md). Created if missing." },
	{ "control_socket", CONF_T_STR, O(control_socket), "$queue_directory/control", 0, 0, NULL,
	  "Unix socket of the queue tools (mxgate queue, mxgate reload): mode 0600, owned by mail_owner, so only that "
	  "user and root can use it. Empty: no control socket." },
	{ "queue_commit_threads", CONF_T_INT, O(queue_commit_threads), "4", 1, 64, NULL,
	  "Threads that fsync accepted messages; concurrent fsyncs share journal commits (group commit)." },
	{ "maximal_queue_lifetime", CONF_T_TIME, O(maximal_queue_lifetime), "5d", 0, 365 * DAY, NULL,
	  "A message still undeliverable this long after arrival is bounced." },
	{ "bounce_queue_lifetime", CONF_T_TIME, O(bounce_queue_lifetime), "5d", 0, 365 * DAY, NULL,
	  "The same for notifications we generated (null sender); they are then dropped." },
	{ "minimal_backoff_time", CONF_T_TIME, O(minimal_backoff_time), "300s", 1, 365 * DAY, NULL,
	  "Shortest wait before retrying a deferred message." },
	{ "maximal_backoff_time", CONF_T_TIME, O(maximal_backoff_time), "4000s", 1, 365 * DAY, NULL,
	  "Longest wait between retries (the wait doubles from the minimum, with +-10% jitter)." },
	{ "qmgr_message_active_limit", CONF_T_INT, O(qmgr_message_active_limit), "20000", 1, 10000000, NULL,
	  "Messages whose envelopes are held in memory for delivery at once; the rest wait on disk." },
	{ "delay_warning_time", CONF_T_TIME, O(delay_warning_time), "0", 0, 365 * DAY, NULL,
	  "Send the sender one \"delayed\" notice (RFC 3464) when a message is still queued this long after arrival; "
	  "0 = never (as Postfix)." },
	{ "bounce_size_limit", CONF_T_SIZE, O(bounce_size_limit), "50000", 0, 0, NULL,
	  "With RET=FULL, at most this many octets of the original are returned (else headers only)." },
	/* delivery */
	{ "relayhost", CONF_T_STR, O(relayhost), "[127.0.0.1]:2526", 0, 0, NULL,
	  "Next hop for all mail: [host]:port or [addr]:port (no MX lookup) or host[:port] (MX lookup). Empty: "
	  "deliver to each recipient domain's MX hosts. The default is the demo sink that `make run` starts." },
	{ "smtp_tcp_port", CONF_T_INT, O(smtp_tcp_port), "25", 1, 65535, NULL,
	  "Port for onward delivery when a next hop names none." },
	{ "smtp_helo_name", CONF_T_HOST, O(smtp_helo_name), "$myhostname", 0, 0, NULL, "Name sent in EHLO/HELO." },
	{ "smtp_tls_security_level", CONF_T_ENUM, O(smtp_tls_security_level), "may", 0, 0, "none may encrypt verify",
	  "Outbound TLS: none; may = STARTTLS when offered (unverified); encrypt = required (else defer); verify = "
	  "required with a certificate valid for the MX host name (else defer)." },
	{ "smtp_tls_CAfile", CONF_T_STR, O(smtp_tls_CAfile), "", 0, 0, NULL,
	  "PEM file of CA certificates trusted for the verify level; empty: the system's default store." },
	{ "smtp_tls_policy_maps", CONF_T_STR, O(smtp_tls_policy_maps), "", 0, 0, NULL,
	  "File of \"next-hop level\" lines overriding smtp_tls_security_level per next-hop domain or host (# "
	  "comments); read at start." },
	{ "initial_destination_concurrency", CONF_T_INT, O(initial_destination_concurrency), "5", 1, 1000, NULL,
	  "Parallel connections a next hop starts with; one more after each window of successful transactions, one "
	  "less after a window of failed connections (slow start)." },
	{ "smtp_destination_concurrency_limit", CONF_T_INT, O(smtp_destination_concurrency_limit), "20", 1, 1000, NULL,
	  "Most parallel connections per next hop (the slow-start window never grows beyond it)." },
	{ "smtp_destination_dead_time", CONF_T_TIME, O(smtp_destination_dead_time), "$minimal_backoff_time", 1,
	  365 * DAY, NULL,
	  "A next hop whose last connection failed is dead this long: its mail is deferred without connecting, then "
	  "one probe connection decides (Postfix throttles for minimal_backoff_time)." },
	{ "smtp_destination_recipient_limit", CONF_T_INT, O(smtp_destination_recipient_limit), "50", 1, 100000, NULL,
	  "Recipients per delivery transaction." },
	{ "smtp_connection_cache_time_limit", CONF_T_TIME, O(smtp_connection_cache_time_limit), "2s", 0, 300, NULL,
	  "How long an idle outbound connection is kept for the next message to the same next hop." },
	{ "smtp_connection_reuse_count_limit", CONF_T_INT, O(smtp_connection_reuse_count_limit), "100", 1, 1000000, NULL,
	  "Messages sent over one outbound connection before it is closed." },
	{ "smtp_mx_address_limit", CONF_T_INT, O(smtp_mx_address_limit), "5", 1, 100, NULL,
	  "Addresses tried per delivery attempt (over all MX hosts)." },
	{ "smtp_connect_timeout", CONF_T_TIME, O(smtp_connect_timeout), "30s", 1, 3600, NULL, "TCP connect timeout." },
	{ "smtp_helo_timeout", CONF_T_TIME, O(smtp_helo_timeout), "300s", 1, 3600, NULL,
	  "Wait for the greeting and the EHLO/STARTTLS replies." },
	{ "smtp_mail_timeout", CONF_T_TIME, O(smtp_mail_timeout), "300s", 1, 3600, NULL, "Wait for the MAIL reply." },
	{ "smtp_rcpt_timeout", CONF_T_TIME, O(smtp_rcpt_timeout), "300s", 1, 3600, NULL, "Wait for each RCPT reply." },
	{ "smtp_data_init_timeout", CONF_T_TIME, O(smtp_data_init_timeout), "120s", 1, 3600, NULL,
	  "Wait for the 354 reply to DATA." },
	{ "smtp_data_xfer_timeout", CONF_T_TIME, O(smtp_data_xfer_timeout), "180s", 1, 3600, NULL,
	  "Longest stall while sending message content." },
	{ "smtp_data_done_timeout", CONF_T_TIME, O(smtp_data_done_timeout), "600s", 1, 3600, NULL,
	  "Wait for the reply after the final dot." },
	{ "smtp_quit_timeout", CONF_T_TIME, O(smtp_quit_timeout), "300s", 1, 3600, NULL, "Wait for the QUIT reply." },
	/* scanning */
	{ "scan_stage", CONF_T_ENUM, O(scan_stage), "after-queue", 0, 0, "after-queue before-queue",
	  "after-queue: accept, then scan between input/ and output/ (tag and deliver); before-queue: scan before "
	  "the final 250, so the reject action can refuse and a scanner failure gives 451." },
	{ "scan_processes", CONF_T_INT, O(scan_processes), "2", 1, 256, NULL,
	  "Scanner processes: each parses and scans one message at a time, sandboxed (seccomp, limits, scan_user); "
	  "forked from the scanner supervisor, replaced when they crash, hang or break a limit." },
	{ "scan_workers", CONF_T_INT, O(scan_workers), "2", 1, 256, NULL,
	  "Former name of scan_processes: read as it when scan_processes is not set (with a warning)." },
	{ "scan_user", CONF_T_STR, O(scan_user), "mxgate-scan", 0, 0, NULL,
	  "The scanner processes' user (started as root): not mail_owner, not root, so a scanner cannot open the "
	  "spool; its files (rules, signatures) must be readable by it for a reload. Empty: the gateway's own "
	  "user (not recommended)." },
	{ "scan_process_timeout", CONF_T_TIME, O(scan_process_timeout), "120s", 1, 3600, NULL,
	  "Longest one scan may take in a scanner process (anti-virus, rules and daemons together); past it the "
	  "process is killed and replaced, and the scan counts for the poison-message guard." },
	{ "scan_memory_limit", CONF_T_SIZE, O(scan_memory_limit), "1073741824", 0, 0, NULL,
	  "Address space a scanner process may add to what it inherits (the loaded rules and signatures); a scan "
	  "that needs more ends its process (counted like a crash). 0: no limit." },
	{ "scan_cpu_limit", CONF_T_TIME, O(scan_cpu_limit), "60s", 1, 3600, NULL,
	  "CPU time one scan may use in a scanner process before the process is ended (counted like a crash)." },
	{ "scan_process_max_scans", CONF_T_INT, O(scan_process_max_scans), "10000", 0, 100000000, NULL,
	  "A scanner process is replaced after this many scans (bounds what a leak can hold); 0: never." },
	{ "scan_sandbox", CONF_T_BOOL, O(scan_sandbox), "yes", 0, 0, NULL,
	  "The scanner processes' seccomp system-call filter (no: limits and scan_user only, for debugging)." },
	{ "scan_timeout", CONF_T_TIME, O(scan_timeout), "60s", 1, 3600, NULL,
	  "Longest wait for one scanner daemon (connect, send, answer)." },
	{ "scan_max_attempts", CONF_T_INT, O(scan_max_attempts), "6", 1, 1000, NULL,
	  "Scans of one message that crashed or timed out before it is moved to hold/ (poison-message guard)." },
	{ "scan_on_failure", CONF_T_ENUM, O(scan_on_failure), "defer", 0, 0, "defer deliver-unscanned",
	  "A scanner down or timing out: defer keeps the message in input/ and retries; deliver-unscanned passes "
	  "it on with a header saying it was not scanned." },
	{ "virus_scanner", CONF_T_STR, O(virus_scanner), "none", 0, 0, NULL,
	  "clamd:unix:/path, clamd:inet:host:port, libclamav:/dbdir or none." },
	{ "virus_tmpdir", CONF_T_STR, O(virus_tmpdir), "", 0, 0, NULL,
	  "libclamav: directory for the temporary files it makes while scanning (a directory and the parts "
	  "its mail parser extracts, per message); empty: $TMPDIR or /tmp. On a tmpfs such as /dev/shm "
	  "they cost no disk I/O (14% less CPU per scanned message measured, bench/results)." },
	{ "virus_max_size", CONF_T_SIZE, O(virus_max_size), "26214400", 0, 0, NULL,
	  "Larger messages are not sent to the anti-virus scanner and count as unscannable." },
	{ "spam_scanner", CONF_T_STR, O(spam_scanner), "builtin", 0, 0, NULL,
	  "builtin (rules engine, spam_rules), spamd:host:port, spamd:unix:/path, rspamd:host:port or none." },
	{ "spam_rules", CONF_T_STR, O(spam_rules), "spamassassin", 0, 0, NULL,
	  "Rule files and directories (SpamAssassin syntax) for the builtin scanner, loaded in order (the *.pre "
	  "files of every directory first). spamassassin = SpamAssassin's installed rules as SpamAssassin finds "
	  "them: the newest /var/lib/spamassassin/<version>/ that sa-update filled, else /usr/share/spamassassin, "
	  "then /etc/spamassassin (*.pre, local.cf); with none installed, the shipped set and a warning. "
	  "builtin = the shipped 24-rule set. Both can be combined with files, e.g. \"spamassassin "
	  "/etc/mxgate/local-rules.cf\"." },
	{ "use_bayes", CONF_T_BOOL, O(use_bayes), "yes", 0, 0, NULL,
	  "builtin: SpamAssassin's Bayes classifier (its BAYES_* rules and the score set with Bayes) once "
	  "bayes_path holds at least bayes_min_spam_num spam and bayes_min_ham_num ham messages (200 each, "
	  "from the rule files); before that the score set without Bayes. Train it with mxgate learn." },
	{ "bayes_path", CONF_T_STR, O(bayes_path), "/var/lib/mxgate/bayes", 0, 0, NULL,
	  "The Bayes token store (one file; PATH.lock beside it). Written by mxgate learn; scanners read it, "
	  "so scan_user needs read access to it and its directory." },
	{ "bayes_auto_learn", CONF_T_BOOL, O(bayes_auto_learn), "yes", 0, 0, NULL,
	  "With use_bayes: learn what SpamAssassin's auto-learning would (a score below "
	  "bayes_auto_learn_threshold_nonspam, 0.1: ham; from bayes_auto_learn_threshold_spam, 12.0, with 3 "
	  "header and 3 body points: spam; thresholds in the rule files). The gateway writes the store every "
	  "few seconds. A quarantine release always learns ham, delete-spam spam." },
	{ "spam_threshold", CONF_T_NUM, O(spam_threshold), "5.0", -1000, 1000, NULL,
	  "Score from which a message is spam (builtin; spamd and rspamd use their own required score)." },
	{ "spam_high_threshold", CONF_T_NUM, O(spam_high_threshold), "10.0", -1000, 1000, NULL,
	  "Score from which spam is high-spam." },
	{ "spam_max_size", CONF_T_SIZE, O(spam_max_size), "524288", 0, 0, NULL,
	  "Larger messages are not spam-scanned (as spamc); the result headers say so." },
	{ "scan_access_map", CONF_T_STR, O(scan_access_map), "", 0, 0, NULL,
	  "Allow and deny list: Connect:IP/CIDR, From:addr/domain, To:addr/domain with OK (no spam checks) or "
	  "SPAM." },
	{ "clean_actions", CONF_T_STR, O(clean_actions), "deliver", 0, 0, NULL, "Actions for clean messages." },
	{ "blocklisted_actions", CONF_T_STR, O(blocklisted_actions), "deliver tag", 0, 0, NULL,
	  "Actions when the client's DNSBL weight reaches dnsbl_threshold." },
	{ "spam_actions", CONF_T_STR, O(spam_actions), "deliver tag", 0, 0, NULL,
	  "Actions for spam: deliver, tag, deliver-cleaned, quarantine, redirect:ADDRESS, drop, reject." },
	{ "high_spam_actions", CONF_T_STR, O(high_spam_actions), "deliver tag", 0, 0, NULL,
	  "Actions for spam scoring spam_high_threshold or more." },
	{ "unscannable_actions", CONF_T_STR, O(unscannable_actions), "deliver tag", 0, 0, NULL,
	  "Actions when the anti-virus scanner could not look inside (encrypted, limits)." },
	{ "virus_actions", CONF_T_STR, O(virus_actions), "quarantine deliver-cleaned tag", 0, 0, NULL,
	  "Actions for infected messages (the original is quarantined; a copy without the infected parts is "
	  "delivered)." },
	{ "blocklisted_subject_tag", CONF_T_STR, O(blocklisted_subject_tag), "{Blocklisted?}", 0, 0, NULL,
	  "Subject tag for blocklisted clients (empty: none)." },
	{ "spam_subject_tag", CONF_T_STR, O(spam_subject_tag), "{Spam?}", 0, 0, NULL, "Subject tag for spam." },
	{ "high_spam_subject_tag", CONF_T_STR, O(high_spam_subject_tag), "{Spam?}", 0, 0, NULL,
	  "Subject tag for high-spam." },
	{ "unscannable_subject_tag", CONF_T_STR, O(unscannable_subject_tag), "{Unscannable?}", 0, 0, NULL,
	  "Subject tag for unscannable messages." },
	{ "virus_subject_tag", CONF_T_STR, O(virus_subject_tag), "{Virus?}", 0, 0, NULL,
	  "Subject tag for infected messages." },
	{ "scan_tag_subject", CONF_T_BOOL, O(scan_tag_subject), "yes", 0, 0, NULL,
	  "no: the tag action adds headers only and leaves the Subject alone (keeps DKIM signatures valid)." },
	{ "subject_tag_position", CONF_T_ENUM, O(subject_tag_position), "start", 0, 0, "start end",
	  "Where the tag goes in the Subject." },
	{ "scan_header_prefix", CONF_T_STR, O(scan_header_prefix), "X-mxgate", 0, 0, NULL,
	  "Result headers PREFIX-Scan, PREFIX-Virus, PREFIX-DNSBL (MailScanner's X-%org-name%-MailScanner "
	  "style); any from outside are removed." },
	{ "spam_header_prefix", CONF_T_STR, O(spam_header_prefix), "X-Spam", 0, 0, NULL,
	  "SpamAssassin-style headers PREFIX-Status, PREFIX-Flag, PREFIX-Score; any from outside are removed." },
	{ "scan_headers_on_clean", CONF_T_BOOL, O(scan_headers_on_clean), "yes", 0, 0, NULL,
	  "Add the result headers to clean messages too (no: clean mail passes byte for byte, and faster)." },
	/* DNS */
	{ "dns_servers", CONF_T_STR, O(dns_servers), "", 0, 0, NULL,
	  "DNS servers for c-ares: addr[:port] list (IPv6 as [addr]:port); empty: the system resolver "
	  "(/etc/resolv.conf)." },
	{ "dns_timeout", CONF_T_TIME, O(dns_timeout), "10s", 1, 300, NULL, "Total time for one DNS lookup." },
	/* DNS blocklists (scan/dnsbl/scan_dnsbl.h) */
	{ "dnsbl_sites", CONF_T_STR, O(dnsbl_sites), "", 0, 0, NULL,
	  "DNS blocklists for client addresses, as Postfix's postscreen_dnsbl_sites: zone[=filter][*weight] separated "
	  "by commas or spaces, e.g. zen.example=127.0.0.[2..11]*3, allow.example*-2; empty: no DNSBL lookups." },
	{ "dnsbl_threshold", CONF_T_INT, O(dnsbl_threshold), "1", 1, 100000, NULL,
	  "Total DNSBL weight at which a client counts as listed (logged as listed=yes)." },
	{ "dnsbl_reject_threshold", CONF_T_INT, O(dnsbl_reject_threshold), "0", 0, 100000, NULL,
	  "Total DNSBL weight at which RCPT is refused with 554 5.7.1 (the session waits for the lookups); 0: never." },
	{ "dnsbl_check_private", CONF_T_BOOL, O(dnsbl_check_private), "no", 0, 0, NULL,
	  "Look up private, loopback and link-local clients too (DNSBLs never list them; for tests)." },
	{ "dnsbl_ttl_min", CONF_T_TIME, O(dnsbl_ttl_min), "60s", 1, 86400, NULL,
	  "Shortest time a DNSBL answer is cached (negative answers are cached this long)." },
	{ "dnsbl_ttl_max", CONF_T_TIME, O(dnsbl_ttl_max), "1h", 1, 86400, NULL,
	  "Longest time a DNSBL answer is cached, whatever its TTL." },
	{ "dnsbl_timeout", CONF_T_TIME, O(dnsbl_timeout), "5s", 1, 300, NULL,
	  "How long a session waits for the DNSBL zones; a zone that has not answered is left out (not listed)." },
	{ "dnsbl_retest_interval", CONF_T_TIME, O(dnsbl_retest_interval), "10m", 1, 86400, NULL,
	  "How often a DNSBL zone disabled for bad answers (or a failed RFC 5782 self-test) is tested again." },
};

const size_t conf_keys_n = sizeof conf_keys / sizeof conf_keys[0];

/* Read once at start: the process, its threads and sockets are built from
 * them (a reload logs event=reload_restart_needed and keeps the old value). */
const char *const conf_restart_keys[] = {
	"mail_owner", "pid_file", "syslog_facility", "syslog_name", "log_level", "queue_directory",
	"queue_commit_threads", "scan_user", "dns_servers", "dns_timeout", "log_format", "http_listen",
	"http_secret_file", "control_socket", NULL,
};
