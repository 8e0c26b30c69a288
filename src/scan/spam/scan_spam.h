/*
 * scan_spam.h - spam scoring, one interface for three back ends: the
 * built-in rules engine (rules/), SpamAssassin's spamd (SPAMC/1.5 SYMBOLS)
 * and rspamd (HTTP POST /checkv2).
 *
 * A back end is chosen once from the spam_scanner spec (scan_spam_find)
 * and opened once; its check() is then blocking and thread-safe (the state
 * is read-only), for worker threads, never the event loop. The daemons
 * open one connection per message; one deadline of timeout_ms covers
 * connect, send and reply.
 *
 * Verdicts:
 *   builtin is_spam is score >= threshold; required is the threshold;
 *           symbols are the scored rules that hit, in rule order.
 *   spamd   is_spam is the daemon's "Spam: True|False"; score/required are
 *           its numbers; action is ""; symbols are its rule names.
 *   rspamd  is_spam is true for the actions "reject", "soft reject",
 *           "rewrite subject" and "add header", false for "no action" and
 *           "greylist" (a delay, not a spam verdict); an unknown action
 *           falls back to score >= required_score. action holds rspamd's
 *           word; symbols its symbol names.
 * The daemons' symbols are sorted (byte order), at most SCAN_SPAM_MAX_SYMBOLS.
 *
 * Size (daemons): a message over max_size (0: SCAN_SPAM_MAX_SIZE, spamc's
 * default) is not sent: skipped_size = true, is_spam = false, check()
 * returns 0. The builtin engine has no size limit of its own.
 *
 * spamd sees only the message: the envelope (client IP, HELO, sender) must
 * already be in it as the gateway's Received: header. rspamd gets the
 * envelope as request headers (IP, Helo, From, Rcpt, Queue-Id); values
 * with control characters are left out of the request. The builtin engine
 * reads the parsed message, the client's DNSBL answers (check_rbl) and the
 * envelope sender.
 */
#ifndef SCAN_SPAM_SCAN_SPAM_H
#define SCAN_SPAM_SCAN_SPAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct scan_msg;	  /* mime/scan_msg.h */
struct scan_rules_dnsbl; /* rules/scan_rules.h */

#define SCAN_SPAM_MAX_SIZE (512u * 1024)
#define SCAN_SPAM_MAX_SYMBOLS 1000
#define SCAN_SPAM_REPLY_MAX (1024u * 1024) /* bytes of reply read at most */

/* What any back end may need of one message; every pointer is borrowed
 * for the call and may be NULL (0 for counts) unless said otherwise. */
struct scan_spam_req {
	const char *data; /* the message (CRLF lines); not NULL */
	size_t len;
	const struct scan_msg *msg; /* the parsed message: builtin (not NULL there) */
	const char *client_ip, *helo, *env_from;
	const char *const *rcpt;
	size_t nrcpt;
	const char *qid;			    /* logs, rspamd's Queue-Id */
	const struct scan_rules_dnsbl *dnsbl; /* the client's DNSBL answers: builtin */
	size_t ndnsbl;
};

struct scan_spam_res {
	bool is_spam;
	double score, required;
	char action[32]; /* rspamd's action ("no action", "add header", ...); "" otherwise */
	char **symbols;	 /* owned */
	size_t nsymbols;
	bool skipped_size; /* over max_size: not sent (daemons) */
	/* builtin with Bayes: the probability (when known) and what SpamAssassin's
	 * auto-learning would do with the message (1 spam, -1 ham, 0 nothing) */
	bool bayes_known;
	double bayes_prob;
	int autolearn;
	/* ... and the message's tokens for learning (owned; nlearn 0: none) */
	uint64_t learn_key, *learn_keys;
	size_t nlearn;
	uint32_t learn_expiry;
	char err[256];
};

struct scan_spam_opts {
	const char *rules; /* builtin: spam_rules, files/directories separated by white space or
			      commas ("builtin" = the embedded set, "spamassassin" = SpamAssassin's
			      installed rules, scan_rules_sa_find(); NULL or "": "builtin") */
	double threshold;  /* builtin: spam_threshold */
	bool use_bayes;	   /* builtin: Bayes from bayes_path */
	const char *bayes_path;
	int timeout_ms;	   /* daemons: the whole exchange */
	size_t max_size;   /* daemons: larger messages are not sent (0: SCAN_SPAM_MAX_SIZE) */
};

struct scan_spam_backend {
	const char *name; /* "builtin", "spamd", "rspamd" */
	const char *spec; /* what selects it: "builtin" (the whole spec) or "spamd:" (a prefix) */
	/* The setting open() reads besides the spec, which its errors are
	 * about ("spam_rules"); NULL: the spec itself. */
	const char *conf_key;
	/* spec: the whole spam_scanner value. Returns the back end's state
	 * (read-only from then on), or NULL with err set. */
	void *(*open)(const char *spec, const struct scan_spam_opts *o, char *err, size_t errlen);
	/* Initialises res. 0: a verdict (or a size skip); -1: no verdict,
	 * res->err says why ("timeout" or "timed out" in it for a timeout).
	 * Any thread, any number at once. */
	int (*check)(void *state, const struct scan_spam_req *q, struct scan_spam_res *res);
	/* The value of "spam_scanner=" in the start-up line: "builtin rules=35
	 * enabled=..." or "\"spamd:127.0.0.1:783\"". */
	void (*describe)(const void *state, struct buf *out);
	void (*close)(void *state);
};

/* The back end spec names: "builtin" | "spamd:host:port" |
 * "spamd:unix:/path" | "rspamd:host:port" | "rspamd:unix:/path". "none"
 * and "": NULL with err empty (no spam scanning); anything else NULL with
 * err set. The spec's address is checked by open(). */
const struct scan_spam_backend *scan_spam_find(const char *spec, char *err, size_t errlen);

void scan_spam_res_fini(struct scan_spam_res *res);

/* The builtin back end's rule set for a spam_rules value ("spamassassin"
 * resolved as open() resolves it), for "mxgate learn": NULL with err. */
struct scan_rules;
struct scan_rules *scan_spam_builtin_rules(const char *spam_rules, bool bayes, char *err, size_t errlen);
/* For the parsers: add a symbol (copied; an empty one, one with control
 * characters, or one past SCAN_SPAM_MAX_SYMBOLS is dropped), sort them at
 * the end. */
void scan_spam_res_add_symbol(struct scan_spam_res *res, const char *s, size_t n);
void scan_spam_res_sort(struct scan_spam_res *res);

/* Pure parsers, for tests: 0 or -1 with res->err set. */
/* A whole spamd reply: "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 7.2 / 5.0\r\n...\r\n\r\nSYM1,SYM2\r\n". */
int scan_spamd_parse(const char *reply, size_t len, struct scan_spam_res *res);
/* A whole HTTP reply of rspamd (status, headers, Content-Length or chunked
 * or read-to-close body), the body parsed by scan_rspamd_parse_json. */
int scan_rspamd_parse_http(const char *reply, size_t len, struct scan_spam_res *res);
int scan_rspamd_parse_json(const char *body, size_t len, struct scan_spam_res *res);

#endif
