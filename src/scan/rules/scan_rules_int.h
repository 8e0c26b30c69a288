/*
 * scan_rules_int.h - the rule set's internals, shared by the loader
 * (scan_rules_parse.c with scan_rules_if.c, scan_rules_regex.c,
 * scan_rules_meta.c), the evaluator (scan_rules.c, scan_rules_relay.c) and
 * the native evals (scan_rules_eval*.c, whose own header is
 * scan_rules_eval_int.h). Private to rules/: not part of the API.
 */
#ifndef SCAN_RULES_SCAN_RULES_INT_H
#define SCAN_RULES_SCAN_RULES_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "base/map.h"
#include "scan/rules/scan_rules.h"

enum rule_type { RT_HEADER, RT_BODY, RT_RAWBODY, RT_FULL, RT_URI, RT_MIMEHEADER, RT_META, RT_NTYPES };

/* What a header rule reads. */
#define RULES_HKEY_MAX 300 /* header cache keys: kind, modifiers, name */

enum hdr_kind {
	HK_NAME,     /* one header field (all of that name) */
	HK_ALL,	     /* every field, "Name: value\n" */
	HK_TOCC,     /* To and Cc */
	HK_MSGID,    /* X-Message-Id, Resent-Message-Id, X-Original-Message-ID, Message-Id */
	HK_ENVFROM,  /* the envelope sender (ctx) */
};

#define HM_RAW 0x1  /* :raw */
#define HM_ADDR 0x2 /* :addr */
#define HM_NAME 0x4 /* :name */

#define TF_MULTIPLE 0x1
#define TF_NICE 0x2
#define TF_NET 0x4
#define TF_LEARN 0x8
#define TF_NOSUBJECT 0x10 /* body rules: not the Subject line (body[0]) */
#define TF_NOAUTOLEARN 0x20
#define TF_USERCONF 0x40
#define TF_AUTOLEARN_FORCE 0x80
#define TF_AUTOLEARN_BODY 0x100
#define TF_AUTOLEARN_HEADER 0x200

/* A meta expression in reverse Polish notation. */
enum meta_op {
	MO_RULE, /* push the hit count of rule arg */
	MO_NUM,	 /* push num */
	MO_NOT,
	MO_NEG,
	MO_MUL,
	MO_DIV,
	MO_ADD,
	MO_SUB,
	MO_LT,
	MO_GT,
	MO_LE,
	MO_GE,
	MO_EQ,
	MO_NE,
	MO_AND,
	MO_OR,
};

struct meta_tok {
	enum meta_op op;
	size_t arg;	/* MO_RULE: rule index */
	double num;	/* MO_NUM */
};

struct rule_eval; /* scan_rules_eval_int.h */

struct rule {
	char *name;
	enum rule_type type;
	char *describe;
	char *file;	  /* where defined: "file:line" */
	double scores[4];
	bool has_score;
	unsigned tflags;
	unsigned maxhits; /* 0: no limit (bounded by SCAN_RULES_MAXHITS_MAX) */
	bool defined;	  /* a definition was seen (score/describe alone do not define) */
	bool enabled;	  /* evaluated at check time */
	bool scored;	  /* reported and added to the score (not "__", score != 0) */
	double score;	  /* the score of the chosen set */
	double score_b;	  /* ... and of the set with Bayes (= score when Bayes is not in use) */
	double score_al;  /* the score auto-learning counts: the set without Bayes */
	/* regex rules */
	pcre2_code *re;
	pcre2_code_32 *re32; /* instead of re: a pattern too large for 8-bit PCRE2 (rules_regex_pattern) */
	char *re_src;	  /* its pattern (no delimiters, no flags) and options: replace_rules recompiles it */
	uint32_t re_opts;
	bool negate;	  /* !~ */
	/* header rules */
	enum hdr_kind hkind;
	char *hname;
	char *hkey; /* the per-message header cache key of the target (rules_header_key) */
	unsigned hmods;
	bool exists;	  /* exists:Name */
	char *if_unset;
	/* eval rules */
	struct rule_eval *ev;
	/* meta rules */
	struct meta_tok *meta;
	size_t nmeta;
};

struct eval_unsup {
	char *name;
	size_t nrules;
};

struct scan_rules {
	struct rule *rules; /* in definition order */
	size_t nrules, cap;
	struct map *byname; /* name -> index + 1 (as uintptr_t) */
	size_t *meta_order; /* enabled metas, dependencies first */
	size_t nmeta_order;
	size_t *by_type[RT_NTYPES]; /* enabled non-meta rules of each type */
	size_t nby_type[RT_NTYPES];
	pcre2_match_context *mctx;
	pcre2_match_context_32 *mctx32; /* the same limits, for re32 */
	double required;
	int score_set;
	bool bayes_on;
	struct scan_rules_bayes bayes;
	char **stop_lang, **stop_re; /* bayes_stopword_<lang> as read */
	size_t nstop;
	char **stop_use; /* bayes_stopword_languages (NULL: en) */
	size_t nstop_use;
	struct scan_rules_stats st;
	struct eval_unsup *unsup;
	size_t nunsup;
	/* DNSBL sets: check_rbl('set', 'zone') */
	/* FreeMail: freemail_domains (names; patterns with * and ?) and
	 * freemail_welcomelist (addresses or domains), lower case */
	struct map *fm_domains, *fm_welcome; /* name -> (void *)1 */
	char **fm_wild;
	size_t nfm_wild;
	pcre2_code *fm_email_wl; /* FreeMail's built-in address welcomelist */
	pcre2_code *fm_bulk, *fm_email, *fm_url_at, *fm_email_label; /* check_freemail_replyto's */
	struct rules_replace *replace; /* ReplaceTags' directives while loading (scan_rules_replace.c) */
};

/* scan_rules_regex.c */
/* Compile a Perl-style /re/flags or m{re}flags at *p (advanced past it)
 * with rules_regex_pattern(). *src: the pattern between the delimiters
 * (allocated, also when refused) and *opts its PCRE2 options. 0, or -1
 * with why ("regex refused ..." when PCRE2 refused it, else malformed). */
int rules_regex(const char **p, char **src, uint32_t *opts, pcre2_code **re, pcre2_code_32 **re32, char *why,
		size_t whylen);
/* A bare pattern into *re (8-bit, JIT) or, when 8-bit PCRE2 finds it too
 * large (a compiled form over 64 KiB: SpamAssassin's ReplaceTags
 * expansions), into *re32 (32-bit code units: each octet of pattern and
 * subject one unit, so the same octets match). 0, or -1 with why. */
int rules_regex_pattern(const char *pat, size_t len, uint32_t opts, pcre2_code **re, pcre2_code_32 **re32, char *why,
			size_t whylen);
/* One of the engine's own fixed patterns (compiled at load, see
 * rules_eval_finish); NULL (logged) if PCRE2 refuses it. */
pcre2_code *rules_regex_fixed(const char *pat, uint32_t opts);
/* Compile a bare pattern (no delimiters) with PCRE2 options. */
pcre2_code *rules_regex_raw(const char *pat, size_t len, uint32_t opts, char *why, size_t whylen);

/* scan_rules_replace.c: ReplaceTags. _directive: true when key is one of
 * its settings (why set on a malformed one); _finish: the replacements,
 * once the set is read, then the settings freed; _free: the settings. */
struct rules_replace;
bool rules_replace_directive(struct scan_rules *s, const char *key, char *rest, char *why, size_t whylen);
void rules_replace_finish(struct scan_rules *s);
void rules_replace_free(struct scan_rules *s);

/* scan_rules_bayes.c: the rule files' Bayes settings (defaults set by
 * _init; _directive true when key is one of them, why set when malformed;
 * _finish picks the stop-word patterns of the languages in use) and the
 * auto-learning points of a check into out. */
void rules_bayes_init(struct scan_rules *s);
bool rules_bayes_directive(struct scan_rules *s, const char *key, char *rest, char *why, size_t whylen);
void rules_bayes_finish(struct scan_rules *s);
void rules_bayes_free(struct scan_rules *s);
struct scan_rules_result;
void rules_autolearn(const struct scan_rules *s, const unsigned *hits, bool bayes_ready,
		     struct scan_rules_result *out);

/* scan_rules_if.c */
#define RULES_NPLUGINS 15 /* SpamAssassin plugins emulated (in part) */
/* The index of the emulated plugin named name ("Mail::SpamAssassin::Plugin::Check"), or -1. */
int rules_if_plugin(const char *name);
/* The value of "if expr", plugin[RULES_NPLUGINS] saying which emulated
 * plugins were loaded: 0 with *out set, or -1 when expr does not parse. */
int rules_if_eval(const char *expr, const bool *plugin, bool *out);

/* scan_rules_meta.c */
/* Parse expr into the meta rule idx (names become rule entries, defined
 * or not). Returns -1 with why. */
int rules_meta_parse(struct scan_rules *s, size_t idx, const char *expr, char *why, size_t whylen);
/* The index of the rule named name, created (undefined) when new: may move
 * s->rules. */
size_t rules_lookup(struct scan_rules *s, const char *name);
/* Resolve meta names, drop cycles, compute the evaluation order. */
void rules_meta_finish(struct scan_rules *s);
double rules_meta_eval(const struct rule *r, const unsigned *hits);

/* scan_rules_eval.c */
/* Parse "name(args)" for rule r: returns 0 (native), 1 (unsupported, r->ev
 * names it) or -1 on a syntax error (why set). */
int rules_eval_parse(struct scan_rules *s, struct rule *r, const char *call, char *why, size_t whylen);
bool rules_eval_native(const struct rule_eval *ev);
void rules_eval_free(struct rule_eval *ev);
/* After load: resolve DNSBL sets. */
void rules_eval_finish(struct scan_rules *s);
/* scan_rules_eval_from.c: freemail_domains / freemail_welcomelist
 * (freemail_whitelist) values. */
void rules_eval_from_directive(struct scan_rules *s, const char *key, const char *value);
void rules_eval_from_free(struct scan_rules *s);
void rules_eval_from_finish(struct scan_rules *s);

/* scan_rules_relay.c: the relays of the Received headers, split as
 * SpamAssassin does without trusted_networks (internal = trusted). */
struct rules_relay {
	char *ip, *rdns, *helo, *by;
	bool priv;    /* a private, loopback or link-local address */
	bool no_rdns; /* the MTA's format shows it looked the name up and found none */
};
struct rules_relays {
	size_t ntrusted, nuntrusted, nunparseable;
	char *trusted, *untrusted; /* X-Spam-Relays-Trusted / -Untrusted text */
	struct rules_relay *u;	   /* the untrusted relays, nuntrusted of them (for the relay evals) */
};
void rules_relays_parse(const struct scan_msg *m, struct rules_relays *out);
/* The parser's patterns compiled (JIT) now, at load: never first in a sandboxed scanner. */
void rules_relays_init(void);
void rules_relays_free(struct rules_relays *r);

/* One check in progress (scan_rules.c). */
struct rules_run {
	const struct scan_rules *s;
	const struct scan_msg *m;
	const struct scan_rules_ctx *c;
	pcre2_match_data *md;
	pcre2_match_data_32 *md32; /* made on first use of a re32 rule */
	uint32_t *wide;		   /* its subject, widened */
	size_t wide_cap;
	unsigned *hits;
	struct map *hcache; /* "kind:mods:name" -> header text */
	size_t limited;
	bool date_diff_done; /* check_for_shifted_date's cache */
	long long date_diff;
	bool relays_done;
	struct rules_relays relays;
	struct rules_html **html; /* scan_rules_eval_html.c's analyses, by part (made on first use) */
	size_t nhtml;
	char **mailtos; /* the HTML parts' mailto: addresses (rules_eval_html_mailtos) */
	size_t nmailtos;
	bool mailtos_done;
	int fm_body; /* check_freemail_replyto's body addresses: 0 not yet, 1 parsed, -1 skipped (too many) */
	char **fm_emails; /* the body's addresses; the first nfm_kept are the freemail ones FreeMail uses */
	size_t nfm_emails, nfm_kept;
	bool madiff_done; /* multipart_alternative_difference's cache */
	double madiff;
	size_t madiff_html, madiff_text;
};
/* The relays, parsed on first use. */
const struct rules_relays *rules_run_relays(struct rules_run *run);
/* Hits of an eval rule (0 or more). */
unsigned rules_eval_run(const struct rule *r, struct rules_run *run);
/* What a header name reads: ALL, ToCc, MESSAGEID, EnvelopeFrom, else the field itself. */
enum hdr_kind rules_header_kind(const char *name);
/* The per-message cache key of a header target ("kind:mods:name", lower case). */
void rules_header_key(enum hdr_kind kind, unsigned mods, const char *name, char *key, size_t size);
/* Helpers of scan_rules.c the evals use. */
/* A header's text for this message (cached); name "ALL" is the whole header section. */
const char *rules_run_header(struct rules_run *run, const char *name, unsigned mods, bool *present);
bool rules_run_match(struct rules_run *run, const pcre2_code *re, const char *s, size_t len);
/* The same from offset start, leaving the match in run->md. */
bool rules_run_match_at(struct rules_run *run, const pcre2_code *re, const char *s, size_t len, size_t start);
/* scan_rules_eval_from.c: check_freemail_replyto's per-check body addresses freed. */
void rules_eval_from_run_free(struct rules_run *run);

#endif
