/*
 * scan.h - the scanning pipeline: what a message is (clean, spam, virus,
 * ...) and what is done about it.
 *
 *   scan_run():   access map -> MIME parse -> anti-virus on the whole
 *                 message and every decoded part -> spam scoring (built-in
 *                 rules, spamd or rspamd) -> categories. Blocking and
 *                 thread-safe: called on worker threads, never on the loop.
 *                 The DNSBL result comes in with the input (it is looked up
 *                 on the loop, scan_dnsbl.h).
 *   scan_apply(): the categories' action lists -> a new message (Subject
 *                 tags, result headers, infected parts replaced), whether to
 *                 deliver, quarantine, redirect, drop or reject. Pure.
 *
 * A report can be written into the queue (scan_report_encode) and read
 * back, so a message scanned before the 250 (scan_stage = before-queue) is
 * not scanned again, and "mxgate quarantine show" can say why.
 */
#ifndef SCAN_SCAN_H
#define SCAN_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mail/mail_edit.h"

struct buf;
struct scan_engine;
struct scan_access;

/* In order of precedence: the highest category found decides the actions. */
enum scan_cat { SCAN_CLEAN, SCAN_BLOCKLISTED, SCAN_SPAM, SCAN_HIGH_SPAM, SCAN_UNSCANNABLE, SCAN_VIRUS, SCAN_NCAT };
const char *scan_cat_name(enum scan_cat c); /* "clean", "blocklisted", "spam", "high-spam", ... */
int scan_cat_parse(const char *s);	    /* -1 if unknown */

/* ------------------------------------------------------------ engine */

struct scan_conf {
	const char *virus_scanner;  /* clamd:unix:/p | clamd:inet:h:p | libclamav:/dir | none */
	const char *virus_tmpdir;   /* libclamav temporary files; NULL or "": its default */
	const char *spam_scanner;   /* builtin | spamd:h:p | spamd:unix:/p | rspamd:h:p | none */
	const char *spam_rules;	    /* builtin engine: files/directories, space separated ("builtin" = embedded,
				       "spamassassin" = SpamAssassin's installed rules) */
	const char *access_map;	    /* file or "" */
	double spam_threshold;	    /* default 5.0 (builtin; spamd/rspamd answer themselves) */
	bool use_bayes;		    /* builtin: Bayes (scan/bayes/) from bayes_path */
	const char *bayes_path;
	double spam_high_threshold; /* default 10.0 */
	int dnsbl_threshold;	    /* weight from which a client is "blocklisted" */
	int timeout_ms;		    /* per scanner call */
	uint64_t spam_max_size;	    /* larger messages are not spam-scanned (512 KiB) */
	uint64_t virus_max_size;    /* larger messages/parts: unscannable (size) */
};

/* Loads rules, opens the anti-virus engine. NULL with err on failure.
 * Scanners that are daemons are not contacted here (see scan_engine_ping). */
struct scan_engine *scan_engine_new(const struct scan_conf *c, char *err, size_t errlen);
/* The same for a reload: the anti-virus engine of prev is shared rather
 * than loaded again when it is unchanged (scan_av_reuse: same
 * virus_scanner, scan_timeout, virus_max_size, database files); rules and
 * the access map are always read again. prev may be NULL. *av_kept says
 * whether it was shared. */
struct scan_engine *scan_engine_new_reuse(const struct scan_conf *c, const struct scan_engine *prev, bool *av_kept,
					  char *err, size_t errlen);
void scan_engine_free(struct scan_engine **e);
/* One line per scanner for the start-up log ("rules: 35 loaded, 2 eval
 * unsupported" ...), appended to out. */
void scan_engine_describe(const struct scan_engine *e, struct buf *out);
bool scan_engine_enabled(const struct scan_engine *e); /* anything to do at all */
bool scan_engine_has_av(const struct scan_engine *e);  /* an anti-virus engine (e may be NULL) */

/* ------------------------------------------------------------ report */

struct scan_report_dnsbl {
	char *zone, *addr, *txt; /* answer address and TXT reason ("" if none) */
	int weight;
};

struct scan_virus {
	char *path;	/* MIME part number, "" for the whole message */
	char *filename; /* or "" */
	char *name;	/* "Eicar-Signature", "Heuristics.Encrypted.Zip" */
	bool unscannable;
};

/* What learning a message into Bayes takes: its tokens and the key it is
 * remembered under (scan/bayes/), and the store's expiry setting. Filled
 * by the builtin engine with use_bayes; carried on the scanner's wire and,
 * for a quarantined message, in its envelope (release learns it as ham,
 * "delete as spam" as spam), in the text form of scan_learn_encode();
 * never in the report's own text form. */
#define SCAN_LEARN_MAX_KEYS 70000
struct scan_learn {
	uint64_t msg_key;
	uint32_t expiry_max;	/* bayes_expiry_max_db_size (0: no automatic expiry) */
	uint64_t *keys;		/* owned, sorted */
	size_t nkeys;		/* 0: nothing to learn */
};
/* "1 KEY EXPIRY HEX...": the message key and each token key as 16 hex digits. */
void scan_learn_encode(const struct scan_learn *l, struct buf *out);
/* 0, or -1 (malformed, over SCAN_LEARN_MAX_KEYS: l left empty). */
int scan_learn_decode(const char *s, struct scan_learn *l);
void scan_learn_fini(struct scan_learn *l);

struct scan_report {
	unsigned cats;	   /* 1 << enum scan_cat for each category found */
	enum scan_cat cat; /* the deciding one */
	/* the access map */
	int access; /* 0 none, 1 OK (spam checks skipped), 2 SPAM (forced) */
	char *access_entry;
	/* DNSBL */
	int dnsbl_weight;
	bool dnsbl_incomplete;
	struct scan_report_dnsbl *dnsbl;
	size_t ndnsbl;
	/* anti-virus */
	struct scan_virus *virus;
	size_t nvirus;
	/* spam */
	bool spam_scanned;
	bool spam_yes;	    /* the scanner's verdict (spamd "Spam: True", rspamd's action, score >= threshold) */
	char *spam_skipped; /* why not scanned ("access OK", "size 600000 > 524288") or NULL */
	double score, required;
	char **rules;
	size_t nrules;
	/* Bayes (builtin engine, use_bayes): the probability when there is one,
	 * what SpamAssassin's auto-learning says (1 spam, -1 ham, 0 nothing),
	 * and the learning payload (not in the text form) */
	bool bayes_known;
	double bayes_prob;
	int autolearn;
	struct scan_learn learn;
	/* failure: no verdict (a scanner down or timing out); the message waits */
	bool tempfail;
	bool tempfail_timeout; /* a timeout (counts for the poison guard) rather than unavailable */
	char *error;
	/* timings, milliseconds */
	double ms_dnsbl, ms_parse, ms_virus, ms_spam, ms_total;
	char *subject; /* the decoded Subject ("" if none) */
};

void scan_report_init(struct scan_report *r);
void scan_report_fini(struct scan_report *r);
/* One line (no newline) for the queue's envelope record. */
void scan_report_encode(const struct scan_report *r, struct buf *out);
/* 0, or -1 if the text is damaged (r then holds what could be read). */
int scan_report_decode(const char *s, struct scan_report *r);
/* Derive cats and cat from the findings (thresholds from the engine). */
void scan_report_classify(struct scan_report *r, double high_threshold, int dnsbl_threshold);
void scan_report_add_virus(struct scan_report *r, const char *path, const char *filename, const char *name,
			   bool unscannable);
void scan_report_add_dnsbl(struct scan_report *r, const char *zone, const char *addr, const char *txt, int weight);
void scan_report_add_rule(struct scan_report *r, const char *name);
struct scan_dnsbl_result;
/* The client's DNSBL answer (scan_dnsbl.h) into the report: weight, hits, incomplete. */
void scan_report_set_dnsbl(struct scan_report *r, const struct scan_dnsbl_result *res);

/* ------------------------------------------------------------ running */

struct scan_input {
	const char *data; /* the message, CRLF lines */
	size_t len;
	const char *qid, *client_ip, *helo, *sender;
	const char *const *rcpt;
	size_t nrcpt;
	bool trusted; /* the client is in mynetworks: no DNSBL */
};

/* Fills r (DNSBL hits already added by the caller are kept). Returns 0
 * with a verdict, or -1 with r->tempfail and r->error set. */
int scan_run(struct scan_engine *e, const struct scan_input *in, struct scan_report *r);
/* scan_run() without the daemons (clamd, spamd, rspamd are not asked):
 * what the engine sets up on first use (regular expressions compiled and
 * JIT-compiled, charset converters, the MIME library) is set up now, e.g.
 * in a process that forks sandboxed scanners afterwards. */
void scan_engine_warm_up(struct scan_engine *e, const struct scan_input *in);

/* ------------------------------------------------------------ actions */

#define SCAN_ACT_DELIVER 0x01
#define SCAN_ACT_TAG 0x02
#define SCAN_ACT_CLEAN 0x04 /* deliver-cleaned */
#define SCAN_ACT_QUARANTINE 0x08
#define SCAN_ACT_REDIRECT 0x10
#define SCAN_ACT_DROP 0x20
#define SCAN_ACT_REJECT 0x40

struct scan_actions {
	unsigned flags;
	char *redirect; /* address for SCAN_ACT_REDIRECT */
};
/* "deliver tag", "quarantine deliver-cleaned", "redirect:spam@example.org".
 * 0, or -1 with a message (unknown action, drop with deliver, ...). */
int scan_actions_parse(const char *s, struct scan_actions *a, char *err, size_t errlen);
void scan_actions_fini(struct scan_actions *a);
void scan_actions_format(unsigned flags, const char *redirect, struct buf *out);

struct scan_policy {
	struct scan_actions act[SCAN_NCAT];
	const char *tag[SCAN_NCAT];  /* Subject tag per category ("{Spam?}"), "" for none */
	bool tag_subject;	     /* no: headers only (DKIM signatures stay valid) */
	bool tag_at_end;	     /* the tag goes after the Subject instead of before */
	const char *header_prefix;   /* "X-mxgate": X-mxgate-Scan, -Virus, -DNSBL */
	const char *spam_prefix;     /* "X-Spam": X-Spam-Status, -Flag, -Score */
	bool headers_on_clean;	     /* add the result headers to clean messages too */
	const char *hostname;	     /* in the result headers */
};

struct scan_outcome {
	unsigned flags;	      /* what is done: SCAN_ACT_* */
	const char *redirect; /* borrowed from the policy */
	bool changed;	      /* the delivered message differs from the original: edits says how */
	struct mail_edits edits; /* on the original's bytes (mail/mail_edit.h); owned */
	size_t cleaned;	      /* infected parts replaced */
};
void scan_outcome_init(struct scan_outcome *o);
void scan_outcome_fini(struct scan_outcome *o);

/* Apply the deciding category's actions to raw[0..len): out (initialised)
 * gets the flags and, when the delivered message differs, the edits that
 * make it: our result headers from outside removed, the Subject tagged,
 * ours added at the end of the header section, infected parts replaced.
 * When a replaced part reaches into the top-level header section (a
 * single-part message that is itself infected), the edit list is one
 * edit replacing the whole message. */
void scan_apply(const struct scan_policy *p, const struct scan_report *r, const char *raw, size_t len,
		struct scan_outcome *out);
/* The result headers (PREFIX-Scan, -Virus, -DNSBL, the spam headers) of r,
 * CRLF lines, appended to out: what scan_apply adds, for a message the
 * gateway passes on without a scan (scan_on_failure = deliver-unscanned). */
void scan_result_headers(const struct scan_policy *p, const struct scan_report *r, struct buf *out);

/* Header editing, exported for tests: the Subject with tag added (at the
 * start or end; not added twice; folded and encoded subjects kept valid). */
void scan_tag_subject(const char *hdrs, size_t hlen, const char *decoded_subject, const char *tag, bool at_end,
		      struct buf *out);

#endif
