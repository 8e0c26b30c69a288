/*
 * scan_spamc.h - spam scoring by an external daemon: SpamAssassin's spamd
 * (SPAMC/1.5 SYMBOLS) or rspamd (HTTP POST /checkv2).
 *
 * Blocking, thread-safe (no shared state), one connection per message; one
 * deadline of timeout_ms covers connect, send and reply. For worker
 * threads, never the event loop.
 *
 * Verdicts:
 *   spamd   is_spam is the daemon's "Spam: True|False"; score/required are
 *           its numbers; action is "" ; symbols are its rule names.
 *   rspamd  is_spam is true for the actions "reject", "soft reject",
 *           "rewrite subject" and "add header", false for "no action" and
 *           "greylist" (a delay, not a spam verdict); an unknown action
 *           falls back to score >= required_score. action holds rspamd's
 *           word; symbols its symbol names.
 * symbols are sorted (byte order), at most SCAN_SPAM_MAX_SYMBOLS.
 *
 * Size: a message over max_size (0: SCAN_SPAM_MAX_SIZE, spamc's default)
 * is not sent: skipped_size = true, is_spam = false, the call returns 0.
 *
 * spamd sees only the message: the envelope (client IP, HELO, sender) must
 * already be in it as the gateway's Received: header. rspamd gets the
 * envelope as request headers (IP, Helo, From, Rcpt, Queue-Id); values
 * with control characters are left out of the request.
 */
#ifndef SCAN_SCAN_SPAMC_H
#define SCAN_SCAN_SPAMC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCAN_SPAM_MAX_SIZE (512u * 1024)
#define SCAN_SPAM_MAX_SYMBOLS 1000
#define SCAN_SPAM_REPLY_MAX (1024u * 1024) /* bytes of reply read at most */

struct scan_spam_req {
	const char *data; /* the message */
	size_t len;
	const char *client_ip, *helo, *env_from; /* each may be NULL */
	const char *const *rcpt;
	size_t nrcpt;
	const char *qid; /* may be NULL */
};

struct scan_spam_res {
	bool is_spam;
	double score, required;
	char action[32]; /* rspamd's action ("no action", "add header", ...); "" for spamd */
	char **symbols;  /* owned */
	size_t nsymbols;
	bool skipped_size; /* over max_size: not sent */
	char err[256];
};

/* spec: "spamd:host:port" | "spamd:unix:/path" | "rspamd:host:port" |
 * "rspamd:unix:/path". res is initialised here. 0 (a verdict or a size
 * skip), or -1 with res->err set. */
int scan_spamc_check(const char *spec, const struct scan_spam_req *q, int timeout_ms, size_t max_size,
		     struct scan_spam_res *res);
/* 0 when spec is well formed, else -1 with err set (for configuration). */
int scan_spamc_spec_ok(const char *spec, char *err, size_t errlen);
void scan_spam_res_fini(struct scan_spam_res *res);

/* The two protocols (scan_spamd.c, scan_rspamd.c) on the connected fd
 * (closed by the caller), addr naming it in errors, until the deadline
 * (clock_mono_us). Same contract as scan_spamc_check, size checked. */
int scan_spamd_check(int fd, const char *addr, const struct scan_spam_req *q, int64_t deadline,
		     struct scan_spam_res *res);
int scan_rspamd_check(int fd, const char *addr, const struct scan_spam_req *q, int64_t deadline,
		      struct scan_spam_res *res);

/* Pure parsers, for tests: 0 or -1 with res->err set. */
/* A whole spamd reply: "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 7.2 / 5.0\r\n...\r\n\r\nSYM1,SYM2\r\n". */
int scan_spamd_parse(const char *reply, size_t len, struct scan_spam_res *res);
/* A whole HTTP reply of rspamd (status, headers, Content-Length or chunked
 * or read-to-close body), the body parsed by scan_rspamd_parse_json. */
int scan_rspamd_parse_http(const char *reply, size_t len, struct scan_spam_res *res);
int scan_rspamd_parse_json(const char *body, size_t len, struct scan_spam_res *res);

/* Shared by the two: add a symbol (copied; an empty one, one with control
 * characters, or one past SCAN_SPAM_MAX_SYMBOLS is dropped), sort them at
 * the end. */
void scan_spam_res_add_symbol(struct scan_spam_res *res, const char *s, size_t n);
void scan_spam_res_sort(struct scan_spam_res *res);

#endif
