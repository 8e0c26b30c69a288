/*
 * route.c - resolving a recipient: local domain -> aliases; otherwise the
 * mailertable, then relayhost, then MX. Sendmail's rules:
 *
 *  - A domain in local-host-names (or localhost, or one of our own names
 *    and address literals) is local: its local part is looked up in the
 *    aliases (case-insensitive) and never in the mailertable.
 *  - Alias targets: "name" (another alias, or a local user), "\name" (a
 *    local user, never expanded), "user@host" (routed again; a host without
 *    a dot gets ".$mydomain"), ":include:/file" (its targets), "|cmd" and
 *    "/file" (refused: a gateway runs no programs and writes no files).
 *    Expansion stops at ROUTE_ALIAS_DEPTH levels (554 5.4.6); an alias that
 *    names itself delivers to the local user of that name, as in sendmail.
 *    "owner-NAME" makes owner-NAME@domain the sender for NAME's expansion.
 *    Duplicates (case-insensitive) are delivered once.
 *  - mailertable keys: the exact domain, then ".parent" one label at a
 *    time (".b.c" matches a.b.c, not b.c), then "."; %1 in the value is
 *    the part of the domain in front of the matched key.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/map.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "mail/mail_addr.h"
#include "mail/mail_env.h"
#include "route/route_int.h"

struct xp {
	const struct route_maps *m;
	struct route_result *r;
	struct map *seen; /* lower-case final address -> (void *)1 */
	const char *chain[ROUTE_ALIAS_DEPTH + 2];
	int nchain;
	size_t refused;
	bool failed;
};

void route_result_init(struct route_result *r, struct buf *trace)
{
	memset(r, 0, sizeof *r);
	r->arena = arena_new(4096);
	r->trace = trace;
}

void route_result_fini(struct route_result *r)
{
	arena_free(&r->arena);
	xfree(r->t);
	r->n = r->cap = 0;
}

__attribute__((format(printf, 2, 3))) static void trace(struct xp *x, const char *fmt, ...)
{
	if (!x->r->trace)
		return;
	for (int i = 0; i < x->nchain; i++)
		buf_puts(x->r->trace, "  ");
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(x->r->trace, fmt, ap);
	va_end(ap);
	buf_putc(x->r->trace, '\n');
}

static void fail(struct xp *x, const struct mail_reply *rp)
{
	if (x->failed)
		return;
	x->failed = true;
	x->r->ok = false;
	x->r->reply = *rp;
	char t[MAIL_REPLY_TEXT_MAX + 32];
	mail_reply_str(rp, t, sizeof t);
	trace(x, "refused: %s", t);
}

__attribute__((format(printf, 4, 5))) static void failf(struct xp *x, int code, const char *enh, const char *fmt,
							 ...)
{
	struct mail_reply rp = { .code = code };
	str_copy(rp.enh, sizeof rp.enh, enh);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rp.text, sizeof rp.text, fmt, ap);
	va_end(ap);
	fail(x, &rp);
}

static void add_target(struct xp *x, const char *addr, const char *mailer, const char *sender)
{
	char *k = arena_strdup(x->r->arena, addr);
	str_lower(k);
	if (map_gets(x->seen, k)) {
		trace(x, "duplicate %s: delivered once", addr);
		return;
	}
	if (x->r->n == ROUTE_TARGETS_MAX) {
		failf(x, 550, "5.5.3", "<%.300s>: more than %d addresses after alias expansion", x->r->t[0].addr,
		      ROUTE_TARGETS_MAX);
		return;
	}
	map_puts(x->seen, k, (void *)1);
	/* an alias target with a malformed address, or a domain no mailer can
	 * take (8-bit without IDNA), bounces after acceptance like an unknown user */
	struct mail_addr pa;
	struct route_mailer rm;
	char why[300], ev[MAIL_PATH_MAX * 2 + 400];
	if (mail_addr_parse_str(addr, MAIL_ADDR_F_UTF8, &pa) != MAIL_ADDR_OK) {
		snprintf(ev, sizeof ev, "error:5.1.3:550 <%.300s>: bad address syntax after alias expansion", addr);
		mailer = ev;
	} else if (route_mailer_parse(mailer, &rm, why, sizeof why) < 0) {
		snprintf(ev, sizeof ev, "error:5.1.2:550 <%.300s>: cannot be routed: %.200s", addr, why);
		mailer = ev;
	}
	x->r->t = xgrow(x->r->t, &x->r->cap, x->r->n + 1, sizeof *x->r->t);
	struct route_target *t = &x->r->t[x->r->n++];
	t->addr = arena_strdup(x->r->arena, addr);
	t->mailer = arena_strdup(x->r->arena, mailer);
	t->sender = sender ? arena_strdup(x->r->arena, sender) : NULL;
	trace(x, "deliver %s via %s%s%s", addr, mailer, sender ? " sender " : "", sender ? sender : "");
}

/* mailertable lookup (exact, .parent ..., .); the value with %1 replaced. */
static bool mt_lookup(const struct route_maps *m, const char *domain, char *out, size_t size, char *key, size_t ksize)
{
	char d[MAIL_DOMAIN_MAX + 2];
	if (str_copy(d, sizeof d, domain) < 0)
		return false;
	str_lower(d);
	size_t dl = strlen(d);
	if (dl && d[dl - 1] == '.')
		d[--dl] = '\0';
	const char *v = map_gets(m->mt, d), *k = d;
	size_t pre = 0; /* octets of the domain in front of the key (for %1) */
	for (const char *p = strchr(d, '.'); !v && p; p = strchr(p + 1, '.')) {
		if ((v = map_gets(m->mt, p))) {
			k = p;
			pre = (size_t)(p - d);
		}
	}
	if (!v && (v = map_gets(m->mt, "."))) {
		k = ".";
		pre = dl;
	}
	if (!v)
		return false;
	str_copy(key, ksize, k);
	size_t o = 0;
	for (const char *p = v; *p && o + 1 < size; p++) {
		if (p[0] == '%' && p[1] == '1') {
			for (size_t i = 0; i < pre && o + 1 < size; i++)
				out[o++] = d[i];
			p++;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
	return true;
}

static void expand_addr(struct xp *x, const char *local, const char *domain, int depth, const char *sender,
			bool top);

/* A domain that is neither local nor in the mailertable: an address
 * literal is its own host, else relayhost, else the domain's MX hosts.
 * Lower case: one mailer value, one destination, whatever the case. */
static void default_mailer(const struct route_maps *m, const char *domain, char *out, size_t size)
{
	if (domain[0] != '[' && m->relayhost_mailer) {
		str_copy(out, size, m->relayhost_mailer);
		return;
	}
	snprintf(out, size, "smtp:%s", domain);
	str_lower(out);
}

/* An alias that names itself ("self: self, other") means the local user
 * of that name (sendmail's self-reference); a longer cycle is a loop. */
static bool names_parent(const struct xp *x, const char *key)
{
	return x->nchain > 0 && strcmp(x->chain[x->nchain - 1], key) == 0;
}

static void expand_target(struct xp *x, const char *t, const char *domain, int depth, const char *sender);

static void expand_local(struct xp *x, const char *name, const char *domain, int depth, const char *sender,
			 bool backslash, bool top)
{
	char key[MAIL_LOCAL_MAX * 4 + 1], addr[MAIL_PATH_MAX * 2];
	/* a local part no address can hold (an alias target with an unclosed
	 * quote runs to the end of its line): refused, never cut to a name
	 * without its domain (fuzz_route found one) */
	if (str_copy(key, sizeof key, name) < 0 ||
	    snprintf(addr, sizeof addr, "%s@%s", name, domain) >= (int)sizeof addr) {
		failf(x, 550, "5.1.3", "<%.60s...@%.200s>: local part too long (%zu octets) after alias expansion", name,
		      domain, strlen(name));
		return;
	}
	str_lower(key);
	const struct route_alias *al = backslash || names_parent(x, key) ? NULL : map_gets(x->m->aliases, key);
	if (al && depth >= ROUTE_ALIAS_DEPTH) {
		failf(x, 554, "5.4.6", "<%.100s@%.200s>: alias expansion loop (more than %d levels)", name, domain,
		      ROUTE_ALIAS_DEPTH);
		return;
	}
	if (al) {
		char owner[sizeof key + 8], osender[MAIL_PATH_MAX * 2];
		snprintf(owner, sizeof owner, "owner-%s", key);
		if (strncmp(key, "owner-", 6) != 0 && map_gets(x->m->aliases, owner)) {
			snprintf(osender, sizeof osender, "%s@%s", owner, domain);
			sender = osender;
		}
		trace(x, "alias %s (%s:%d): %zu target%s%s%s", key, al->file, al->line, al->n, al->n == 1 ? "" : "s",
		      sender ? ", sender " : "", sender ? sender : "");
		x->chain[x->nchain++] = key;
		for (size_t i = 0; i < al->n && !x->failed; i++)
			expand_target(x, al->t[i], domain, depth + 1, sender);
		x->nchain--;
		return;
	}
	bool self = !backslash && names_parent(x, key);
	/* postmaster always exists (RFC 5321 4.5.1), aliased or not */
	if (!backslash && !self && strcmp(key, "postmaster") != 0 && !route_user_known(x->m, key)) {
		if (top) {
			failf(x, 550, "5.1.1", "<%.300s>: Recipient address rejected: User unknown", addr);
			return;
		}
		/* a target of an accepted alias: bounced after acceptance, as sendmail does */
		char v[MAIL_PATH_MAX * 2 + 64];
		snprintf(v, sizeof v, "error:5.1.1:550 <%.300s>: unknown user in alias expansion", addr);
		add_target(x, addr, v, sender);
		return;
	}
	trace(x, "local user %s%s", key, backslash ? " (\\: not expanded)" : self ? " (alias names itself)" : "");
	add_target(x, addr, x->m->local_transport, sender);
}

static void expand_target(struct xp *x, const char *t, const char *domain, int depth, const char *sender)
{
	const char *u = t[0] == '"' ? t + 1 : t;
	if (u[0] == '|' || u[0] == '/') {
		x->refused++;
		trace(x, "refused %s: a gateway runs no programs and writes no files", t);
		log_warn("event=alias_target_refused target=\"%s\" reason=\"program and file targets are not supported\"",
			 t);
		return;
	}
	if (str_caseprefix(t, ":include:")) {
		const char *path = t + 9 + strspn(t + 9, " \t");
		const struct route_alias *inc = map_gets(x->m->includes, path);
		if (!inc || inc->error) {
			failf(x, 451, "4.3.0", "<%.200s@%.200s>: temporary failure: :include:%.200s: %.200s",
			      x->nchain ? x->chain[x->nchain - 1] : "", domain, path, inc ? inc->error : "not loaded");
			return;
		}
		if (depth >= ROUTE_ALIAS_DEPTH) {
			failf(x, 554, "5.4.6", ":include:%.300s: alias expansion loop (more than %d levels)", path,
			      ROUTE_ALIAS_DEPTH);
			return;
		}
		trace(x, ":include:%s: %zu target%s", path, inc->n, inc->n == 1 ? "" : "s");
		for (size_t i = 0; i < inc->n && !x->failed; i++)
			expand_target(x, inc->t[i], domain, depth + 1, sender);
		return;
	}
	if (t[0] == '\\') {
		expand_local(x, t + 1, domain, depth, sender, true, false);
		return;
	}
	char a[MAIL_PATH_MAX * 2];
	size_t tl = strlen(t);
	if (t[0] == '<' && tl > 1 && t[tl - 1] == '>')
		str_ncopy(a, sizeof a, t + 1, tl - 2);
	else
		str_copy(a, sizeof a, t);
	char *at = strrchr(a, '@');
	if (!at) {
		expand_local(x, a, domain, depth, sender, false, false);
		return;
	}
	*at = '\0';
	char host[MAIL_DOMAIN_MAX + 2];
	str_copy(host, sizeof host, at + 1);
	if (host[0] != '[' && !strchr(host, '.') && x->m->append_dot_mydomain) {
		char q[2 * sizeof host];
		snprintf(q, sizeof q, "%s.%s", host, x->m->mydomain);
		trace(x, "%s@%s: qualified as %s@%s", a, host, a, q);
		if (str_copy(host, sizeof host, q) < 0) {
			failf(x, 550, "5.1.2", "<%.100s@%.300s>: domain too long", a, q);
			return;
		}
	}
	expand_addr(x, a, host, depth, sender, false);
}

static void route_remote(struct xp *x, const char *local, const char *domain, int depth, const char *sender,
			 bool top)
{
	char addr[MAIL_PATH_MAX * 2], v[ROUTE_VALUE_MAX], key[MAIL_DOMAIN_MAX + 2];
	snprintf(addr, sizeof addr, "%s@%s", local, domain);
	if (domain[0] != '[' && mt_lookup(x->m, domain, v, sizeof v, key, sizeof key)) {
		trace(x, "mailertable %s: %s", key, v);
		struct route_mailer rm;
		char why[300];
		if (route_mailer_parse(v, &rm, why, sizeof why) < 0) {
			/* only %1 can make a checked value bad */
			failf(x, 451, "4.3.5", "<%.300s>: mailertable value unusable: %.100s", addr, why);
			return;
		}
		if (rm.kind == ROUTE_ERROR && top) {
			fail(x, &rm.reply);
			return;
		}
		if (rm.kind == ROUTE_LOCAL) {
			expand_local(x, rm.user[0] ? rm.user : local, domain, depth + 1, sender, false, top);
			return;
		}
	} else {
		default_mailer(x->m, domain, v, sizeof v);
	}
	add_target(x, addr, v, sender);
}

static void expand_addr(struct xp *x, const char *local, const char *domain, int depth, const char *sender,
			bool top)
{
	if (route_is_local(x->m, domain)) {
		trace(x, "%s@%s: local domain", local, domain);
		if (x->m->alias_error) {
			failf(x, 451, "4.3.0", "<%.100s@%.200s>: temporary failure: alias map unavailable", local,
			      domain);
			return;
		}
		expand_local(x, local, domain, depth, sender, false, top);
		return;
	}
	route_remote(x, local, domain, depth, sender, top);
}

void route_expand(const struct route_maps *m, const char *addr, bool trusted, struct route_result *r)
{
	struct xp x = { .m = m, .r = r, .seen = map_new() };
	r->ok = true;
	const char *at = strrchr(addr, '@');
	char local[MAIL_LOCAL_MAX * 4 + 1];
	const char *domain = at ? at + 1 : "";
	if (!at || str_ncopy(local, sizeof local, addr, (size_t)(at - addr)) < 0 || !domain[0]) {
		failf(&x, 501, "5.1.3", "<%.300s>: bad recipient address syntax", addr);
		map_free(&x.seen);
		return;
	}
	bool local_dom = route_is_local(m, domain);
	if (!local_dom && !trusted) {
		if (!route_is_relay_domain(m, domain)) {
			trace(&x, "%s: not local, not in relay_domains, client not in mynetworks", domain);
			failf(&x, 554, "5.7.1", "<%.300s>: Relay access denied", addr);
		} else if (strpbrk(local, "%!@")) {
			/* user%host@relay, host!user@relay, "user@host"@relay: routing
			 * through us by address form is relaying too */
			trace(&x, "%s: '%%', '!' or '@' in the local part of a relayed address", local);
			failf(&x, 554, "5.7.1", "<%.300s>: Relay access denied (address form)", addr);
		}
	}
	if (!x.failed)
		expand_addr(&x, local, domain, 0, NULL, true);
	if (!x.failed && r->n == 0)
		failf(&x, 550, "5.1.1", "<%.300s>: no deliverable address after alias expansion%s", addr,
		      x.refused ? " (program and file targets are refused)" : "");
	if (!x.failed)
		mail_reply_set(&r->reply, 250, "2.1.5", "Ok");
	map_free(&x.seen);
}

void route_final(const struct route_maps *m, const char *addr, char *out, size_t size)
{
	const char *domain = mail_env_domain(addr);
	char key[MAIL_DOMAIN_MAX + 2];
	if (route_is_local(m, domain)) {
		str_copy(out, size, m->local_transport);
	} else if (domain[0] != '[' && mt_lookup(m, domain, out, size, key, sizeof key)) {
		if (str_caseprefix(out, "local:"))
			str_copy(out, size, m->local_transport);
	} else {
		default_mailer(m, domain, out, size);
	}
}
