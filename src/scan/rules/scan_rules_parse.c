/*
 * scan_rules_parse.c - SpamAssassin rule files into a struct scan_rules.
 *
 * Lines: '#' starts a comment unless written "\#"; leading and trailing
 * white space is dropped; the first word is the directive. Definitions
 * that come later replace earlier ones (a local.cf overriding a rule), and
 * score/describe/tflags may come before or after the rule they name.
 * Conditionals: "ifplugin NAME", "if EXPR" (version, plugin(), can(), !,
 * &&, ||, parentheses, numbers), "else", "endif"; blocks must close in the
 * file that opens them. "include FILE" is relative to the including file.
 * scan_rules_load() reads the *.pre files of every directory given first,
 * then each path in order (directories: their *.cf files, sorted), so
 * ("/usr/share/spamassassin", "/etc/spamassassin") reads like SpamAssassin.
 * Plugins and the expressions of "if": scan_rules_if.c; regexes:
 * scan_rules_regex.c. "mimeheader" rules (MIMEHeader) read each MIME
 * entity's own fields; freemail_domains and freemail_welcomelist feed
 * FreeMail's evals (check_freemail_replyto and _body stay unsupported).
 *
 * Errors that stop a load (NULL + "file:line: what"): unreadable files,
 * if/else/endif mismatches, include depth, malformed rule definitions.
 * Regexes PCRE2 refuses only disable their rule (logged and counted).
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/fsutil.h"
#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "scan/rules/scan_rules_int.h"

extern const char scan_rules_default_cf[]; /* generated from rules/mxgate-default.cf */

struct loader {
	struct scan_rules *s;
	char *err;
	size_t errlen;
	bool plugin[RULES_NPLUGINS]; /* loaded (loadplugin/tryplugin) and emulated */
	int include_depth;
	const char *file; /* current file, for messages */
	int line;
};

static int fail(struct loader *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct loader *L, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (L->line)
		snprintf(L->err, L->errlen, "%s:%d: %s", L->file, L->line, msg);
	else
		snprintf(L->err, L->errlen, "%s: %s", L->file, msg);
	return -1;
}

/* ------------------------------------------------------------------ rules */

size_t rules_lookup(struct scan_rules *s, const char *name)
{
	void *v = map_gets(s->byname, name);
	if (v)
		return (size_t)(uintptr_t)v - 1;
	s->rules = xgrow(s->rules, &s->cap, s->nrules + 1, sizeof *s->rules);
	struct rule *r = &s->rules[s->nrules];
	memset(r, 0, sizeof *r);
	r->name = xstrdup(name);
	map_puts(s->byname, name, (void *)(uintptr_t)(s->nrules + 1));
	return s->nrules++;
}

/* Forget the definition of r (kept: name, score, describe, tflags). */
static void rule_clear_def(struct rule *r)
{
	pcre2_code_free(r->re);
	r->re = NULL;
	pcre2_code_free_32(r->re32);
	r->re32 = NULL;
	xfree(r->re_src);
	r->re_src = NULL;
	xfree(r->hname);
	xfree(r->hkey);
	xfree(r->if_unset);
	xfree(r->meta);
	xfree(r->file);
	r->hname = r->hkey = r->if_unset = r->file = NULL;
	r->meta = NULL;
	r->nmeta = 0;
	rules_eval_free(r->ev);
	r->ev = NULL;
	r->negate = r->exists = false;
	r->hmods = 0;
	r->hkind = HK_NAME;
	r->enabled = true;
}

static bool valid_name(const char *n)
{
	if (!((*n >= 'A' && *n <= 'Z') || (*n >= 'a' && *n <= 'z') || *n == '_'))
		return false;
	for (; *n; n++)
		if (!((*n >= 'A' && *n <= 'Z') || (*n >= 'a' && *n <= 'z') || (*n >= '0' && *n <= '9') || *n == '_'))
			return false;
	return true;
}

/* Split "NAME rest": returns rest (NULL if missing) and sets *name. */
static char *split_word(char *s, char **word)
{
	s += strspn(s, " \t");
	*word = s;
	s += strcspn(s, " \t");
	if (*s) {
		*s++ = '\0';
		s += strspn(s, " \t");
	}
	return s;
}

static void bad_regex(struct loader *L, struct rule *r, const char *why)
{
	/* info: SpamAssassin's own set has such rules (Perl-only syntax); the count is in rules_loaded */
	log_info("event=rules_bad_regex rule=%s at=%s:%d why=\"%s\"", r->name, L->file, L->line, why);
	L->s->st.bad_regex++;
	r->enabled = false;
}

/* The rule's regex at *q: 0 compiled, 1 refused by PCRE2 (rule disabled),
 * -1 malformed (load error). */
static int rule_regex(struct loader *L, struct rule *r, const char **q)
{
	char why[300];
	xfree(r->re_src);
	r->re_src = NULL;
	if (rules_regex(q, &r->re_src, &r->re_opts, &r->re, &r->re32, why, sizeof why) == 0)
		return 0;
	if (strncmp(why, "regex refused", 13) != 0)
		return fail(L, "rule %s: %s", r->name, why);
	bad_regex(L, r, why);
	return 1;
}

/* "[if-unset: STRING]" after a header regex. */
static int header_tail(struct loader *L, struct rule *r, const char *p)
{
	p += strspn(p, " \t");
	if (!*p)
		return 0;
	if (strncmp(p, "[if-unset:", 10) != 0)
		return fail(L, "rule %s: unexpected text after the regex: \"%.40s\"", r->name, p);
	p += 10;
	p += strspn(p, " \t");
	const char *e = strrchr(p, ']');
	if (!e)
		return fail(L, "rule %s: [if-unset: without ']'", r->name);
	while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	r->if_unset = xstrndup(p, (size_t)(e - p));
	return 0;
}

static int header_target(struct rule *r, char *spec)
{
	char *mods = strchr(spec, ':');
	if (mods)
		*mods++ = '\0';
	while (mods && *mods) {
		char *m = mods;
		mods = strchr(m, ':');
		if (mods)
			*mods++ = '\0';
		if (strcmp(m, "raw") == 0)
			r->hmods |= HM_RAW;
		else if (strcmp(m, "addr") == 0)
			r->hmods |= HM_ADDR;
		else if (strcmp(m, "name") == 0)
			r->hmods |= HM_NAME;
		else if (strcmp(m, "first") && strcmp(m, "last"))
			return -1; /* :host :domain :ip ... */
	}
	r->hkind = rules_header_kind(spec);
	if (r->hkind == HK_NAME && strncmp(spec, "ALL-", 4) == 0)
		return -1; /* the fields of trusted / untrusted relays: not split */
	/* X-Spam-Relays-*: the relays of scan_rules_relay.c */
	r->hname = xstrdup(spec);
	char key[RULES_HKEY_MAX];
	rules_header_key(r->hkind, r->hmods, r->hname, key, sizeof key);
	r->hkey = xstrdup(key);
	return 0;
}

static int define_eval(struct loader *L, struct rule *r, const char *call)
{
	char why[300];
	int rc = rules_eval_parse(L->s, r, call, why, sizeof why);
	if (rc < 0)
		return fail(L, "rule %s: %s", r->name, why);
	return 0;
}

static int define_header(struct loader *L, struct rule *r, char *def)
{
	if (strncmp(def, "eval:", 5) == 0)
		return define_eval(L, r, def + 5);
	if (strncmp(def, "exists:", 7) == 0) {
		char *n = str_trim(def + 7);
		if (!*n || strchr(n, ' '))
			return fail(L, "rule %s: exists: needs one header name", r->name);
		r->exists = true;
		if (header_target(r, n) < 0) {
			r->enabled = false;
			L->s->st.eval_unsupported++;
		}
		return 0;
	}
	char *spec;
	char *p = split_word(def, &spec);
	if (!*spec || !*p)
		return fail(L, "rule %s: expected \"Header =~ /regex/\"", r->name);
	if (strncmp(p, "=~", 2) == 0)
		r->negate = false;
	else if (strncmp(p, "!~", 2) == 0)
		r->negate = true;
	else
		return fail(L, "rule %s: expected =~ or !~ after %s", r->name, spec);
	p += 2;
	p += strspn(p, " \t");
	if (header_target(r, spec) < 0) {
		log_info("event=rules_unsupported_header rule=%s header=%s", r->name, spec);
		L->s->st.eval_unsupported++;
		r->enabled = false;
		return 0;
	}
	const char *q = p;
	int rc = rule_regex(L, r, &q);
	return rc ? (rc < 0 ? -1 : 0) : header_tail(L, r, q);
}

/* MIMEHeader: "Name[:raw] =~ /re/ [if-unset: x]" over each MIME entity;
 * ALL, eval: and exists: are not emulated. */
static int define_mimeheader(struct loader *L, struct rule *r, char *def)
{
	if (strncmp(def, "eval:", 5) == 0 || strncmp(def, "exists:", 7) == 0 || strncmp(def, "ALL", 3) == 0) {
		L->s->st.eval_unsupported++;
		r->enabled = false;
		return 0;
	}
	int rc = define_header(L, r, def);
	if (rc == 0 && r->enabled && (r->hkind != HK_NAME || (r->hmods & ~HM_RAW))) {
		L->s->st.eval_unsupported++;
		r->enabled = false;
	}
	return rc;
}

static int define_pattern(struct loader *L, struct rule *r, char *def)
{
	if (strncmp(def, "eval:", 5) == 0)
		return define_eval(L, r, def + 5);
	const char *q = def;
	int rc = rule_regex(L, r, &q);
	if (rc)
		return rc < 0 ? -1 : 0;
	q += strspn(q, " \t");
	if (*q)
		return fail(L, "rule %s: unexpected text after the regex: \"%.40s\"", r->name, q);
	return 0;
}

static int define_rule(struct loader *L, enum rule_type type, char *rest)
{
	char *name;
	char *def = split_word(rest, &name);
	if (!valid_name(name))
		return fail(L, "bad rule name \"%.60s\" (letters, digits and '_')", name);
	if (!*def)
		return fail(L, "rule %s has no definition", name);
	size_t idx = rules_lookup(L->s, name);
	struct rule *r = &L->s->rules[idx];
	rule_clear_def(r);
	r->defined = true;
	r->type = type;
	r->file = xasprintf("%s:%d", L->file, L->line);
	if (type == RT_META) {
		char why[300];
		if (rules_meta_parse(L->s, idx, def, why, sizeof why) < 0)
			return fail(L, "meta %s: %s", name, why);
		return 0;
	}
	if (type == RT_HEADER)
		return define_header(L, r, def);
	if (type == RT_MIMEHEADER)
		return define_mimeheader(L, r, def);
	return define_pattern(L, r, def);
}

static int parse_number(const char *s, double *out)
{
	char *end;
	errno = 0;
	double d = strtod(s, &end);
	if (end == s || *end || errno)
		return -1;
	*out = d;
	return 0;
}

static int directive_score(struct loader *L, char *rest)
{
	char *name, *f[5];
	char *vals = split_word(rest, &name);
	size_t n = str_split(vals, " \t", f, 5);
	if (!valid_name(name) || (n != 1 && n != 4))
		return fail(L, "score needs a rule name and 1 or 4 numbers");
	size_t idx = rules_lookup(L->s, name); /* may move rules[] */
	struct rule *r = &L->s->rules[idx];
	for (size_t i = 0; i < 4; i++) {
		char *v = f[n == 1 ? 0 : i];
		if (parse_number(v, &r->scores[i]) < 0)
			return fail(L, "score %s: \"%s\" is not a number", name, v);
	}
	r->has_score = true;
	return 0;
}

static int directive_describe(struct loader *L, char *rest)
{
	char *name;
	char *text = split_word(rest, &name);
	if (!valid_name(name))
		return fail(L, "describe needs a rule name");
	size_t idx = rules_lookup(L->s, name); /* may move rules[] */
	struct rule *r = &L->s->rules[idx];
	xfree(r->describe);
	r->describe = xstrdup(text);
	return 0;
}

static int directive_tflags(struct loader *L, char *rest)
{
	char *name, *f[16];
	char *flags = split_word(rest, &name);
	if (!valid_name(name))
		return fail(L, "tflags needs a rule name");
	size_t idx = rules_lookup(L->s, name); /* may move rules[] */
	struct rule *r = &L->s->rules[idx];
	size_t n = str_split(flags, " \t", f, 16);
	r->tflags = 0;
	r->maxhits = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t v;
		if (strcmp(f[i], "multiple") == 0)
			r->tflags |= TF_MULTIPLE;
		else if (strcmp(f[i], "nice") == 0)
			r->tflags |= TF_NICE;
		else if (strcmp(f[i], "net") == 0)
			r->tflags |= TF_NET;
		else if (strcmp(f[i], "learn") == 0)
			r->tflags |= TF_LEARN;
		else if (strcmp(f[i], "nosubject") == 0)
			r->tflags |= TF_NOSUBJECT;
		else if (strcmp(f[i], "noautolearn") == 0)
			r->tflags |= TF_NOAUTOLEARN;
		else if (strcmp(f[i], "userconf") == 0)
			r->tflags |= TF_USERCONF;
		else if (strcmp(f[i], "autolearn_force") == 0)
			r->tflags |= TF_AUTOLEARN_FORCE;
		else if (strcmp(f[i], "autolearn_body") == 0)
			r->tflags |= TF_AUTOLEARN_BODY;
		else if (strcmp(f[i], "autolearn_header") == 0)
			r->tflags |= TF_AUTOLEARN_HEADER;
		else if (strncmp(f[i], "maxhits=", 8) == 0) {
			if (str_to_u64(f[i] + 8, &v) < 0 || v == 0)
				return fail(L, "tflags %s: bad %s", name, f[i]);
			r->maxhits = v > SCAN_RULES_MAXHITS_MAX ? SCAN_RULES_MAXHITS_MAX : (unsigned)v;
		}
		/* publish a domains_only ips_only ...: no effect here */
	}
	return 0;
}

static bool plugin_present(struct loader *L, const char *name)
{
	int i = rules_if_plugin(name);
	return i >= 0 && L->plugin[i];
}

static int eval_if(struct loader *L, const char *expr, bool *out)
{
	if (rules_if_eval(expr, L->plugin, out) < 0)
		return fail(L, "cannot evaluate \"if %.80s\"", expr);
	return 0;
}

/* ------------------------------------------------------------------ files */

static int load_path(struct loader *L, const char *path);

/* One logical line: comment removed ('#' not after '\'), "\#" turned into
 * '#', trimmed. */
static char *clean_line(char *s)
{
	char *w = s;
	for (char *p = s; *p; p++) {
		if (*p == '#' && !(p > s && p[-1] == '\\'))
			break;
		if (*p == '#' && w > s && w[-1] == '\\')
			w--;
		*w++ = *p;
	}
	*w = '\0';
	return str_trim(s);
}

static const char *const ignored_rule_types[] = { "uri_detail", "askdns", "full_eval", "urirhsbl",
						  "urirhssub", "urinsrhsbl", "urinsrhssub", "urifullnsrhsbl",
						  "urifullnsrhssub", "uridnsbl", "uridnssub", "hashbl_acl_freemail" };

static int directive(struct loader *L, char *key, char *rest)
{
	static const char *const types[] = { "header", "body", "rawbody", "full", "uri", "mimeheader", "meta" };
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		if (strcmp(key, types[i]) == 0)
			return define_rule(L, (enum rule_type)i, rest);
	if (strcmp(key, "score") == 0)
		return directive_score(L, rest);
	if (strcmp(key, "describe") == 0)
		return directive_describe(L, rest);
	if (strcmp(key, "tflags") == 0)
		return directive_tflags(L, rest);
	if (strcmp(key, "required_score") == 0 || strcmp(key, "required_hits") == 0) {
		if (parse_number(rest, &L->s->required) < 0)
			return fail(L, "%s: \"%s\" is not a number", key, rest);
		return 0;
	}
	if (strcmp(key, "include") == 0) {
		if (!*rest)
			return fail(L, "include needs a file");
		char *path;
		if (rest[0] == '/' || !strchr(L->file, '/'))
			path = xstrdup(rest);
		else
			path = xasprintf("%.*s/%s", (int)(strrchr(L->file, '/') - L->file), L->file, rest);
		int rc = load_path(L, path);
		xfree(path);
		return rc;
	}
	if (strcmp(key, "loadplugin") == 0 || strcmp(key, "tryplugin") == 0) {
		char *name;
		split_word(rest, &name);
		int i = rules_if_plugin(name);
		if (i >= 0) {
			L->plugin[i] = true;
			return 0;
		}
		L->s->st.plugins_unknown++;
		return 0;
	}
	char why[200] = "";
	if (rules_replace_directive(L->s, key, rest, why, sizeof why))
		return why[0] ? fail(L, "%s", why) : 0;
	if (strncmp(key, "bayes_", 6) == 0 || strcmp(key, "use_bayes") == 0) {
		if (rules_bayes_directive(L->s, key, rest, why, sizeof why))
			return why[0] ? fail(L, "%s", why) : 0;
	}
	if (strcmp(key, "freemail_domains") == 0 || strcmp(key, "freemail_welcomelist") == 0 ||
	    strcmp(key, "freemail_whitelist") == 0) {
		rules_eval_from_directive(L->s, key, rest);
		return 0;
	}
	/* priority, lang, require_version, test, every other SpamAssassin setting */
	for (size_t i = 0; i < sizeof ignored_rule_types / sizeof ignored_rule_types[0]; i++)
		if (strcmp(key, ignored_rule_types[i]) == 0)
			L->s->st.eval_unsupported++;
	L->s->st.ignored++;
	return 0;
}

static bool rule_directive(const char *key)
{
	return !strcmp(key, "header") || !strcmp(key, "body") || !strcmp(key, "rawbody") || !strcmp(key, "full") ||
	       !strcmp(key, "uri") || !strcmp(key, "mimeheader") || !strcmp(key, "meta");
}

static int load_text(struct loader *L, const char *name, char *text)
{
	const char *saved_file = L->file;
	int saved_line = L->line;
	L->file = name;
	L->line = 0;
	bool active[SCAN_RULES_IF_DEPTH + 1], seen_else[SCAN_RULES_IF_DEPTH + 1];
	int depth = 0, rc = 0;
	active[0] = true;
	char *pos = text, *s;
	L->s->st.files++;
	while (rc == 0 && (s = str_next_line(&pos)) != NULL) {
		L->line++;
		s = clean_line(s);
		if (!*s)
			continue;
		char *key;
		char *rest = split_word(s, &key);
		if (strcmp(key, "if") == 0 || strcmp(key, "ifplugin") == 0) {
			if (depth == SCAN_RULES_IF_DEPTH) {
				rc = fail(L, "if blocks nested deeper than %d", SCAN_RULES_IF_DEPTH);
				break;
			}
			bool cond = false;
			if (key[2] == 'p')
				cond = plugin_present(L, rest);
			else if (active[depth] && eval_if(L, rest, &cond) < 0) {
				rc = -1;
				break;
			}
			depth++;
			active[depth] = active[depth - 1] && cond;
			seen_else[depth] = false;
		} else if (strcmp(key, "else") == 0) {
			if (depth == 0 || seen_else[depth]) {
				rc = fail(L, "else without if");
				break;
			}
			seen_else[depth] = true;
			active[depth] = active[depth - 1] && !active[depth];
		} else if (strcmp(key, "endif") == 0) {
			if (depth == 0) {
				rc = fail(L, "endif without if");
				break;
			}
			depth--;
		} else if (!active[depth]) {
			if (rule_directive(key))
				L->s->st.skipped_plugin++;
		} else {
			rc = directive(L, key, rest);
		}
	}
	if (rc == 0 && depth != 0)
		rc = fail(L, "%d if block(s) not closed by endif", depth);
	L->file = saved_file;
	L->line = saved_line;
	return rc;
}

static int load_file(struct loader *L, const char *path)
{
	char *data;
	size_t len;
	if (fs_read_file(path, SCAN_RULES_FILE_MAX, &data, &len) < 0)
		return fail(L, "cannot read %s: %s", path, strerror(errno));
	if (memchr(data, '\0', len))
		log_warn("event=rules_nul_byte file=%s action=rest_ignored", LOG_Q(path));
	int rc = load_text(L, path, data);
	xfree(data);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.pre (pre) or *.cf files of a directory, in sorted order. */
static int load_dir(struct loader *L, const char *path, bool pre)
{
	DIR *d = opendir(path);
	if (!d)
		return fail(L, "cannot open %s: %s", path, strerror(errno));
	const char *ext = pre ? ".pre" : ".cf";
	size_t el = strlen(ext);
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (l > el && strcmp(e->d_name + l - el, ext) == 0) {
			names = xgrow(names, &cap, n + 1, sizeof *names);
			names[n++] = xasprintf("%s/%s", path, e->d_name);
		}
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof *names, cmp_str);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = load_file(L, names[i]);
	for (size_t i = 0; i < n; i++)
		xfree(names[i]);
	xfree(names);
	return rc;
}

static int load_path(struct loader *L, const char *path)
{
	if (L->include_depth >= SCAN_RULES_INCLUDE_DEPTH)
		return fail(L, "includes nested deeper than %d at %s", SCAN_RULES_INCLUDE_DEPTH, path);
	L->include_depth++;
	int rc;
	struct stat st;
	if (strcmp(path, "builtin") == 0) {
		char *t = xstrdup(scan_rules_default_cf);
		rc = load_text(L, "builtin:mxgate-default.cf", t);
		xfree(t);
	} else if (stat(path, &st) < 0) {
		rc = fail(L, "cannot read %s: %s", path, strerror(errno));
	} else if (S_ISDIR(st.st_mode)) {
		rc = load_dir(L, path, false);
	} else {
		rc = load_file(L, path);
	}
	L->include_depth--;
	return rc;
}

/* ------------------------------------------------------------------ finishing */

/* Scores, enabled flags, per-type lists, statistics. */
static void finish(struct scan_rules *s)
{
	for (size_t i = 0; i < s->nrules; i++) {
		struct rule *r = &s->rules[i];
		if (!r->defined) {
			r->enabled = false;
			continue;
		}
		s->st.rules++;
		if (r->has_score) {
			r->score = r->scores[s->score_set];
			r->score_b = r->scores[s->bayes_on ? s->score_set | 2 : s->score_set];
			r->score_al = r->scores[s->score_set & ~2];
		} else {
			r->score = (strncmp(r->name, "T_", 2) == 0 ? 0.01 : 1.0) * ((r->tflags & TF_NICE) ? -1 : 1);
			r->score_b = r->score_al = r->score;
		}
		r->scored = strncmp(r->name, "__", 2) != 0 && (r->score != 0 || r->score_b != 0);
	}
	rules_replace_finish(s); /* before anything reads a regex */
	rules_bayes_finish(s);
	rules_relays_init(); /* its patterns compiled here (before scanners fork), not on first use */
	/* metas decide which score-0 rules still run (as their dependencies) */
	rules_meta_finish(s);
	rules_eval_finish(s);
	for (size_t i = 0; i < s->nrules; i++) {
		struct rule *r = &s->rules[i];
		if (!r->enabled)
			continue;
		s->st.enabled++;
		size_t *cnt[] = { &s->st.header, &s->st.body, &s->st.rawbody, &s->st.full,
				  &s->st.uri,	 &s->st.header, &s->st.meta }; /* mimeheader: in header */
		(*cnt[r->type])++;
		if (r->ev && rules_eval_native(r->ev))
			s->st.eval_native++;
		if (r->type != RT_META)
			s->nby_type[r->type]++;
	}
	for (int t = 0; t < RT_META; t++) {
		s->by_type[t] = xcalloc(s->nby_type[t] + 1, sizeof(size_t));
		s->nby_type[t] = 0;
	}
	for (size_t i = 0; i < s->nrules; i++)
		if (s->rules[i].enabled && s->rules[i].type != RT_META)
			s->by_type[s->rules[i].type][s->nby_type[s->rules[i].type]++] = i;
	s->st.required = s->required;
	s->mctx = pcre2_match_context_create(NULL);
	pcre2_set_match_limit(s->mctx, SCAN_RULES_MATCH_LIMIT);
	pcre2_set_depth_limit(s->mctx, SCAN_RULES_DEPTH_LIMIT);
	s->mctx32 = pcre2_match_context_create_32(NULL);
	pcre2_set_match_limit_32(s->mctx32, SCAN_RULES_MATCH_LIMIT);
	pcre2_set_depth_limit_32(s->mctx32, SCAN_RULES_DEPTH_LIMIT);
}

static struct scan_rules *rules_new(const struct scan_rules_opts *opts)
{
	struct scan_rules *s = xcalloc(1, sizeof *s);
	s->byname = map_new();
	s->required = 5.0;
	s->score_set = opts && opts->score_set >= 0 && opts->score_set <= 3 ? opts->score_set : 0;
	s->bayes_on = opts && opts->bayes;
	rules_bayes_init(s);
	return s;
}

static struct scan_rules *load_done(struct scan_rules *s, int rc)
{
	if (rc < 0) {
		scan_rules_free(&s);
		return NULL;
	}
	finish(s);
	log_info("event=rules_loaded rules=%zu enabled=%zu bad_regex=%zu eval_unsupported=%zu replaced=%zu files=%zu",
		 s->st.rules, s->st.enabled, s->st.bad_regex, s->st.eval_unsupported, s->st.replaced, s->st.files);
	return s;
}

struct scan_rules *scan_rules_load(const char *const *paths, size_t n, const struct scan_rules_opts *opts,
				   char *err, size_t errlen)
{
	struct scan_rules *s = rules_new(opts);
	struct loader L = { .s = s, .err = err, .errlen = errlen, .file = "rules" };
	int rc = 0;
	if (n == 0)
		rc = fail(&L, "no rule files given");
	/* as SpamAssassin: the *.pre files of every directory first (they load
	 * plugins), then the paths in order */
	struct stat st;
	for (size_t i = 0; i < n && rc == 0; i++)
		if (stat(paths[i], &st) == 0 && S_ISDIR(st.st_mode))
			rc = load_dir(&L, paths[i], true);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = load_path(&L, paths[i]);
	return load_done(s, rc);
}

struct scan_rules *scan_rules_load_text(const char *name, const char *text, const struct scan_rules_opts *opts,
					char *err, size_t errlen)
{
	struct scan_rules *s = rules_new(opts);
	struct loader L = { .s = s, .err = err, .errlen = errlen, .file = name };
	char *t = xstrdup(text);
	int rc = load_text(&L, name, t);
	xfree(t);
	return load_done(s, rc);
}

void scan_rules_free(struct scan_rules **sp)
{
	struct scan_rules *s = *sp;
	if (!s)
		return;
	for (size_t i = 0; i < s->nrules; i++) {
		struct rule *r = &s->rules[i];
		rule_clear_def(r);
		xfree(r->name);
		xfree(r->describe);
	}
	xfree(s->rules);
	map_free(&s->byname);
	xfree(s->meta_order);
	for (int t = 0; t < RT_NTYPES; t++)
		xfree(s->by_type[t]);
	pcre2_match_context_free(s->mctx);
	pcre2_match_context_free_32(s->mctx32);
	for (size_t i = 0; i < s->nunsup; i++)
		xfree(s->unsup[i].name);
	xfree(s->unsup);
	rules_eval_from_free(s);
	rules_replace_free(s);
	rules_bayes_free(s);
	xfree(s);
	*sp = NULL;
}

void scan_rules_stats(const struct scan_rules *s, struct scan_rules_stats *out)
{
	*out = s->st;
}

const char *scan_rules_unsupported_eval(const struct scan_rules *s, size_t i, size_t *nrules)
{
	if (i >= s->nunsup)
		return NULL;
	if (nrules)
		*nrules = s->unsup[i].nrules;
	return s->unsup[i].name;
}
