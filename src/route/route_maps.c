/*
 * route_maps.c - loading sendmail's map files into one immutable snapshot.
 *
 * Formats, as sendmail (and Postfix for the same files) read them:
 *  local-host-names  the first word of each line; '#' lines are comments.
 *  aliases           "name: target, target", a line starting with
 *                    whitespace continues the previous one; '#' lines and
 *                    blank lines are skipped; names are case-insensitive.
 *                    ":include:/path" files hold targets (same RHS syntax,
 *                    one or more per line) and are read with the map.
 *  mailertable       "key value" (makemap's text input); keys are
 *                    case-insensitive; the value is the rest of the line.
 * Files may end lines with CRLF and contain 8-bit octets (kept as they
 * are). The first entry of a duplicated key wins (makemap, postalias) and
 * the duplicate is logged.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>

#include "base/arena.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "base/map.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "mail/mail_addr.h"
#include "route/route_int.h"

#define INCLUDE_DEPTH 10 /* nested :include: files */

/* A text being split into lines, with the number of the last one. */
struct lines {
	char *p;
	int lineno;
};

static char *next_line(struct lines *ls)
{
	char *s = str_next_line(&ls->p);
	ls->lineno += s != NULL;
	return s;
}

static bool blank_or_comment(const char *s)
{
	s += strspn(s, " \t\f\v");
	return *s == '\0' || *s == '#';
}

static char *lower_dup(struct arena *a, const char *s, size_t n)
{
	char *k = arena_strndup(a, s, n);
	str_lower(k);
	return k;
}

/* First word of each line into set (local-host-names, relay domain and
 * user lists). */
static size_t load_words(struct arena *a, struct map *set, char *text)
{
	struct lines ls = { text, 0 };
	size_t n = 0;
	for (char *s; (s = next_line(&ls));) {
		if (blank_or_comment(s))
			continue;
		s += strspn(s, " \t\f\v");
		size_t wl = strcspn(s, " \t\f\v");
		char *k = lower_dup(a, s, wl);
		if (!map_gets(set, k)) {
			map_puts(set, k, (void *)1);
			n++;
		}
	}
	return n;
}

static int read_text(const char *path, char **text, char *err, size_t errlen)
{
	size_t len;
	if (fs_read_file(path, ROUTE_FILE_MAX, text, &len) < 0) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Split a right-hand side at commas outside double quotes; trims blanks;
 * appends to al. */
static void split_targets(struct arena *a, struct route_alias *al, size_t *cap, const char *s)
{
	for (;;) {
		s += strspn(s, " \t\f\v");
		if (!*s)
			return;
		const char *e = s;
		bool q = false;
		for (; *e && (q || *e != ','); e++) {
			if (*e == '"')
				q = !q;
			else if (*e == '\\' && e[1])
				e++;
		}
		const char *t = e;
		while (t > s && strchr(" \t\f\v", t[-1]))
			t--;
		if (t > s) {
			al->t = xgrow(al->t, cap, al->n + 1, sizeof *al->t);
			al->t[al->n++] = arena_strndup(a, s, (size_t)(t - s));
		}
		s = *e ? e + 1 : e;
	}
}

static struct route_alias *load_include(struct route_maps *m, const char *path, int depth);

/* Targets are collected on the heap (xgrow) and kept in the arena. */
static void freeze_targets(struct route_maps *m, struct route_alias *al)
{
	char **t = al->n ? arena_alloc(m->arena, al->n * sizeof *t) : NULL;
	if (al->n)
		memcpy(t, al->t, al->n * sizeof *t);
	xfree(al->t);
	al->t = t;
}

/* :include: targets of al, loaded now so expansion needs no I/O. */
static void load_nested_includes(struct route_maps *m, const struct route_alias *al, int depth)
{
	for (size_t i = 0; i < al->n; i++) {
		if (str_caseprefix(al->t[i], ":include:"))
			load_include(m, al->t[i] + 9 + strspn(al->t[i] + 9, " \t"), depth + 1);
	}
}

static struct route_alias *load_include(struct route_maps *m, const char *path, int depth)
{
	struct route_alias *al = map_gets(m->includes, path);
	if (al)
		return al;
	al = arena_zalloc(m->arena, sizeof *al);
	al->file = arena_strdup(m->arena, path);
	map_puts(m->includes, path, al);
	char *text = NULL, why[600];
	if (path[0] != '/') {
		al->error = "an :include: path must be absolute";
	} else if (depth > INCLUDE_DEPTH) {
		al->error = "too many nested :include: files";
	} else if (read_text(path, &text, why, sizeof why) < 0) {
		al->error = arena_strdup(m->arena, why);
	}
	if (al->error) {
		log_warn("event=alias_include_error file=\"%s\" error=\"%s\"", path, al->error);
		return al;
	}
	size_t cap = 0;
	struct lines ls = { text, 0 };
	for (char *s; (s = next_line(&ls));) {
		if (!blank_or_comment(s))
			split_targets(m->arena, al, &cap, s);
	}
	xfree(text);
	freeze_targets(m, al);
	load_nested_includes(m, al, depth);
	return al;
}

static void alias_put(struct route_maps *m, struct route_alias *al, const char *name, const char *file)
{
	struct route_alias *old = map_gets(m->aliases, name);
	if (old) {
		log_warn("event=map_duplicate file=%s line=%d key=%s first=%d action=first_entry_kept", LOG_Q(file),
			 al->line, LOG_Q(name), old->line);
		xfree(al->t);
		return;
	}
	struct route_alias *keep = arena_zalloc(m->arena, sizeof *keep);
	*keep = *al;
	freeze_targets(m, keep);
	map_puts(m->aliases, name, keep);
	m->nalias++;
	load_nested_includes(m, keep, 0);
}

static int parse_aliases(struct route_maps *m, char *text, const char *file, char *err, size_t errlen)
{
	struct lines ls = { text, 0 };
	struct route_alias cur = { 0 };
	char *name = NULL;
	size_t cap = 0;
	const char *fn = arena_strdup(m->arena, file);
	for (char *s; (s = next_line(&ls));) {
		if (blank_or_comment(s))
			continue;
		if (s[0] == ' ' || s[0] == '\t') {
			if (!name) {
				snprintf(err, errlen, "%s:%d: continuation line without an alias before it", file, ls.lineno);
				goto fail;
			}
			split_targets(m->arena, &cur, &cap, s);
			continue;
		}
		if (name) {
			alias_put(m, &cur, name, fn);
			memset(&cur, 0, sizeof cur);
			cap = 0;
		}
		char *colon = strchr(s, ':');
		size_t nl = colon ? (size_t)(colon - s) : 0;
		while (nl && (s[nl - 1] == ' ' || s[nl - 1] == '\t'))
			nl--;
		if (!colon || nl == 0 || strcspn(s, " \t") < nl) {
			snprintf(err, errlen, "%s:%d: expected \"name: target, ...\"", file, ls.lineno);
			name = NULL;
			goto fail;
		}
		name = lower_dup(m->arena, s, nl);
		cur.file = fn;
		cur.line = ls.lineno;
		split_targets(m->arena, &cur, &cap, colon + 1);
	}
	if (name)
		alias_put(m, &cur, name, fn);
	return 0;
fail:
	xfree(cur.t);
	return -1;
}

static int parse_mailertable(struct route_maps *m, char *text, const char *file, char *err, size_t errlen)
{
	struct lines ls = { text, 0 };
	for (char *s; (s = next_line(&ls));) {
		if (blank_or_comment(s))
			continue;
		s += strspn(s, " \t\f\v");
		size_t kl = strcspn(s, " \t\f\v");
		char *v = str_trim(s + kl);
		if (!*v) {
			snprintf(err, errlen, "%s:%d: \"%.*s\" has no value", file, ls.lineno, (int)kl, s);
			return -1;
		}
		/* check the value now, with %1 standing for a plausible label */
		char test[ROUTE_VALUE_MAX], why[300];
		struct route_mailer rm;
		size_t o = 0;
		for (const char *p = v; *p && o + 2 < sizeof test; p++) {
			if (p[0] == '%' && p[1] == '1') {
				test[o++] = 'x';
				p++;
			} else {
				test[o++] = *p;
			}
		}
		test[o] = '\0';
		if (route_mailer_parse(test, &rm, why, sizeof why) < 0) {
			snprintf(err, errlen, "%s:%d: %s", file, ls.lineno, why);
			return -1;
		}
		char *k = lower_dup(m->arena, s, kl);
		if (map_gets(m->mt, k)) {
			log_warn("event=map_duplicate file=%s line=%d key=%s action=first_entry_kept", LOG_Q(file), ls.lineno,
				 LOG_Q(k));
			continue;
		}
		map_puts(m->mt, k, arena_strdup(m->arena, v));
		m->nmt++;
	}
	return 0;
}

/* A list of names into set: words, and /files of one name per line, space
 * or comma separated (relay_domains, local_recipient_maps). passwd (may be
 * NULL) is set by the word "passwd" instead. */
static int load_list(struct route_maps *m, struct map *set, const char *spec, bool *passwd, char *err,
		     size_t errlen)
{
	char *copy = xstrdup(spec), *save = NULL;
	int rc = 0;
	for (char *t = strtok_r(copy, " ,\t", &save); t && rc == 0; t = strtok_r(NULL, " ,\t", &save)) {
		if (passwd && strcmp(t, "passwd") == 0) {
			*passwd = true;
		} else if (t[0] != '/') {
			map_puts(set, lower_dup(m->arena, t, strlen(t)), (void *)1);
		} else {
			char *text;
			rc = read_text(t, &text, err, errlen);
			if (rc == 0) {
				load_words(m->arena, set, text);
				xfree(text);
			}
		}
	}
	xfree(copy);
	return rc;
}

static struct route_maps *maps_new(const struct route_conf *c, char *err, size_t errlen)
{
	struct route_maps *m = xcalloc(1, sizeof *m);
	m->arena = arena_new(16384);
	m->local = map_new();
	m->aliases = map_new();
	m->includes = map_new();
	m->mt = map_new();
	m->relay = map_new();
	m->users = map_new();
	m->mydomain = lower_dup(m->arena, c->mydomain ? c->mydomain : "", strlen(c->mydomain ? c->mydomain : ""));
	m->append_dot_mydomain = c->append_dot_mydomain && m->mydomain[0];
	map_puts(m->local, "localhost", (void *)1);
	for (size_t i = 0; i < c->nself; i++)
		map_puts(m->local, lower_dup(m->arena, c->self[i], strlen(c->self[i])), (void *)1);
	char why[300];
	struct route_mailer rm;
	const char *lt = c->local_transport && c->local_transport[0] ? c->local_transport
								    : "error:5.1.1:550 no local mailboxes on this gateway";
	if (route_mailer_parse(lt, &rm, why, sizeof why) < 0 || rm.kind == ROUTE_LOCAL) {
		snprintf(err, errlen, "local_transport: %s", rm.kind == ROUTE_LOCAL ? "cannot be local:" : why);
		route_maps_free(&m);
		return NULL;
	}
	m->local_transport = arena_strdup(m->arena, lt);
	if (c->relayhost && c->relayhost[0]) {
		char v[ROUTE_VALUE_MAX];
		snprintf(v, sizeof v, "smtp:%s", c->relayhost);
		if (route_mailer_parse(v, &rm, why, sizeof why) < 0 || rm.nhops != 1) {
			snprintf(err, errlen, "relayhost: %s", rm.nhops != 1 ? "one host expected" : why);
			route_maps_free(&m);
			return NULL;
		}
		m->relayhost_mailer = arena_strdup(m->arena, v);
	}
	if (load_list(m, m->relay, c->relay_domains ? c->relay_domains : "", NULL, err, errlen) < 0 ||
	    load_list(m, m->users, c->local_recipient_maps ? c->local_recipient_maps : "", &m->users_passwd, err,
		      errlen) < 0) {
		route_maps_free(&m);
		return NULL;
	}
	return m;
}

/* The texts are split in place (NULL: no such map). */
static int load_texts(struct route_maps *m, char *lhn, char *aliases, const char *alias_name, char *mt,
		      const char *mt_name, char *err, size_t errlen)
{
	if (lhn)
		m->nlocal = load_words(m->arena, m->local, lhn);
	if (aliases && parse_aliases(m, aliases, alias_name, err, errlen) < 0)
		return -1;
	if (mt && parse_mailertable(m, mt, mt_name, err, errlen) < 0)
		return -1;
	return 0;
}

struct route_maps *route_maps_from_text(const struct route_conf *c, const char *lhn, const char *aliases,
					 const char *mailertable, char *err, size_t errlen)
{
	struct route_maps *m = maps_new(c, err, errlen);
	char *l = lhn ? xstrdup(lhn) : NULL, *a = aliases ? xstrdup(aliases) : NULL;
	char *t = mailertable ? xstrdup(mailertable) : NULL;
	if (m && load_texts(m, l, a, "aliases", t, "mailertable", err, errlen) < 0)
		route_maps_free(&m);
	xfree(l);
	xfree(a);
	xfree(t);
	return m;
}

struct route_maps *route_maps_load(const struct route_conf *c, char *err, size_t errlen)
{
	struct route_maps *m = maps_new(c, err, errlen);
	if (!m)
		return NULL;
	char *lhn = NULL, *mt = NULL;
	int rc = 0;
	if (c->local_host_names && c->local_host_names[0])
		rc = read_text(c->local_host_names, &lhn, err, errlen);
	if (rc == 0 && c->mailertable && c->mailertable[0])
		rc = read_text(c->mailertable, &mt, err, errlen);
	if (rc == 0)
		rc = load_texts(m, lhn, NULL, NULL, mt, c->mailertable, err, errlen);
	xfree(lhn);
	xfree(mt);
	/* alias_maps: several files, the first that has a name wins */
	char *copy = xstrdup(c->alias_maps ? c->alias_maps : ""), *save = NULL;
	for (char *t = strtok_r(copy, " ,\t", &save); t && rc == 0; t = strtok_r(NULL, " ,\t", &save)) {
		char *text, why[600];
		if (read_text(t, &text, why, sizeof why) < 0) {
			/* unreadable is not a syntax error: local recipients tempfail
			 * (451) until a reload can read it; nothing bounces */
			if (!m->alias_error)
				m->alias_error = arena_strdup(m->arena, why);
			continue;
		}
		rc = parse_aliases(m, text, t, err, errlen);
		xfree(text);
	}
	xfree(copy);
	if (rc < 0)
		route_maps_free(&m);
	return m;
}

void route_maps_free(struct route_maps **mp)
{
	struct route_maps *m = *mp;
	if (!m)
		return;
	/* strings and target arrays live in the arena */
	map_free(&m->local);
	map_free(&m->aliases);
	map_free(&m->includes);
	map_free(&m->mt);
	map_free(&m->relay);
	map_free(&m->users);
	arena_free(&m->arena);
	xfree(m);
	*mp = NULL;
}

void route_maps_stats(const struct route_maps *m, size_t *local, size_t *aliases, size_t *mailertable)
{
	*local = m->nlocal;
	*aliases = m->nalias;
	*mailertable = m->nmt;
}

const char *route_maps_error(const struct route_maps *m)
{
	return m->alias_error;
}

bool route_is_local(const struct route_maps *m, const char *domain)
{
	char d[MAIL_DOMAIN_MAX + 2];
	if (str_copy(d, sizeof d, domain) < 0)
		return false;
	str_lower(d);
	return map_gets(m->local, d) != NULL;
}

bool route_is_relay_domain(const struct route_maps *m, const char *domain)
{
	char d[MAIL_DOMAIN_MAX + 2];
	if (str_copy(d, sizeof d, domain) < 0)
		return false;
	str_lower(d);
	if (map_gets(m->relay, d))
		return true;
	/* ".example.com" entries match every subdomain (Postfix's style); the
	 * mailertable's "." default is never one of them */
	for (const char *p = strchr(d, '.'); p && p[1]; p = strchr(p + 1, '.')) {
		if (map_gets(m->relay, p))
			return true;
	}
	return false;
}

bool route_user_known(const struct route_maps *m, const char *user)
{
	char u[MAIL_DOMAIN_MAX + 2];
	if (str_copy(u, sizeof u, user) < 0)
		return false;
	str_lower(u);
	if (map_gets(m->users, u))
		return true;
	return m->users_passwd && getpwnam(u) != NULL;
}
