/*
 * scan_rules_eval_from.c - the native eval: functions about the sender
 * (scan_rules_eval_int.h): FreeMail's check_freemail_from and
 * check_freemail_header with its settings (freemail_domains,
 * freemail_welcomelist), check_equal_from_domains,
 * check_for_forged_gmail_received_headers and
 * check_for_matching_env_and_hdr_from, which share the address helpers
 * below (EnvelopeFrom as SpamAssassin finds it). Their meaning is listed at
 * the top of scan_rules_eval.c. The settings are read at load; the checks
 * are pure functions of the check in progress.
 */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "base/map.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "scan/mime/scan_msg.h"
#include "scan/rules/scan_rules_eval_int.h"

/* ------------------------------------------------------------------ FreeMail, check_equal_from_domains */

void rules_eval_from_directive(struct scan_rules *s, const char *key, const char *value)
{
	bool domains = strcmp(key, "freemail_domains") == 0;
	char *v = xstrdup(value);
	str_lower(v);
	for (char *w = strtok(v, " \t"); w; w = strtok(NULL, " \t")) {
		if (domains) {
			if (w[strspn(w, "abcdefghijklmnopqrstuvwxyz0123456789.*?-")])
				continue; /* FreeMail refuses it */
			if (strpbrk(w, "*?")) {
				s->fm_wild = xrealloc(s->fm_wild, (s->nfm_wild + 1) * sizeof *s->fm_wild);
				s->fm_wild[s->nfm_wild++] = xstrdup(w);
			} else {
				if (!s->fm_domains)
					s->fm_domains = map_new();
				map_puts(s->fm_domains, w, (void *)1);
			}
		} else {
			/* an address or a domain: \w[.@]\w somewhere */
			bool ok = false;
			for (const char *c = w; c[0] && c[1] && c[2] && !ok; c++)
				ok = (c[1] == '.' || c[1] == '@') && (isalnum((unsigned char)c[0]) || c[0] == '_') &&
				     (isalnum((unsigned char)c[2]) || c[2] == '_');
			if (!ok)
				continue;
			if (!s->fm_welcome)
				s->fm_welcome = map_new();
			map_puts(s->fm_welcome, w, (void *)1);
		}
	}
	xfree(v);
}

void rules_eval_from_free(struct scan_rules *s)
{
	map_free(&s->fm_domains);
	map_free(&s->fm_welcome);
	for (size_t i = 0; i < s->nfm_wild; i++)
		xfree(s->fm_wild[i]);
	xfree(s->fm_wild);
	pcre2_code_free(s->fm_email_wl);
}

/* FreeMail's wildcards: '*' any run without a dot, '?' any one character. */
static bool wild_match(const char *p, const char *s)
{
	for (; *p; p++, s++) {
		if (*p == '*') {
			for (const char *t = s;; t++) {
				if (wild_match(p + 1, t))
					return true;
				if (!*t || *t == '.')
					return false;
			}
		}
		if (!*s || (*p != '?' && *p != *s))
			return false;
	}
	return *s == '\0';
}

/* email: lower case. */
static bool is_freemail(struct rules_run *run, const char *email)
{
	const struct scan_rules *s = run->s;
	if (!*email)
		return false;
	const char *at = strrchr(email, '@');
	const char *dom = at ? at + 1 : email;
	if (s->fm_welcome && (map_gets(s->fm_welcome, email) || map_gets(s->fm_welcome, dom)))
		return false;
	if (s->fm_email_wl && rules_run_match(run, s->fm_email_wl, email, strlen(email)))
		return false;
	if (!at)
		return false;
	if (s->fm_domains && map_gets(s->fm_domains, dom))
		return true;
	for (size_t i = 0; i < s->nfm_wild; i++)
		if (wild_match(s->fm_wild[i], dom))
			return true;
	return false;
}

/* The first address of the first field name (NULL: no such field). */
static const char *first_addr_of(struct rules_run *run, const char *name)
{
	bool present;
	const char *v = rules_run_header(run, name, HM_ADDR, &present);
	return present ? v : NULL;
}

/* Field name before the Received fields (SpamAssassin ignores a relay's
 * own X-Envelope-From / Envelope-Sender / Return-Path). */
static bool before_received(const struct scan_msg *m, const char *name, bool *present)
{
	*present = false;
	for (size_t i = 0; i < m->nhdrs; i++) {
		if (str_caseeq(m->hdrs[i].name, "Received"))
			return false;
		if (str_caseeq(m->hdrs[i].name, name)) {
			*present = true;
			return true;
		}
	}
	*present = scan_msg_header(m, name) != NULL;
	return false;
}

const char *rules_eval_envelope_from(struct rules_run *run)
{
	if (run->c && run->c->env_from && *run->c->env_from)
		return run->c->env_from;
	/* an X-Sender address beside a fetchmail hop: SpamAssassin trusts no header for it */
	const char *xs = first_addr_of(run, "X-Sender");
	if (xs && strchr(xs, '@')) {
		bool present;
		const char *rc = rules_run_header(run, "Received", 0, &present);
		if (present && strstr(rc, "(fetchmail"))
			return "";
	}
	static const char *const names[] = { "X-Envelope-From", "Envelope-Sender", "Return-Path" };
	for (size_t i = 0; i < 3; i++) {
		bool present;
		bool ok = before_received(run->m, names[i], &present);
		if (!present)
			continue;
		if (!ok && i == 0)
			return ""; /* SpamAssassin gives up */
		if (ok)
			return first_addr_of(run, names[i]);
	}
	return "";
}

/* lower-cased copy with runs of dots squeezed (all_from_addrs) */
static char *addr_norm(const char *a, bool squeeze)
{
	char *d = xstrdup(a), *w = d;
	for (const char *c = a; *c; c++) {
		if (squeeze && *c == '.' && w > d && w[-1] == '.')
			continue;
		*w++ = (char)tolower((unsigned char)*c);
	}
	*w = '\0';
	return d;
}

static bool fm_check(struct rules_run *run, const struct rule_eval *ev, const char *addr, bool squeeze)
{
	if (!addr || !*addr)
		return false;
	char *e = addr_norm(addr, squeeze);
	bool hit = is_freemail(run, e) && (!ev->re || rules_run_match(run, ev->re, e, strlen(e)));
	xfree(e);
	return hit;
}

unsigned rules_eval_from_freemail(struct rules_run *run, const struct rule_eval *ev)
{
	const char *resent = first_addr_of(run, "Resent-From");
	if (resent && *resent)
		return fm_check(run, ev, resent, true);
	static const char *const names[] = { "From", "Envelope-Sender", "Resent-Sender", "X-Envelope-From" };
	for (size_t i = 0; i < 4; i++)
		if (fm_check(run, ev, first_addr_of(run, names[i]), true))
			return 1;
	return fm_check(run, ev, rules_eval_envelope_from(run), true);
}

unsigned rules_eval_from_freemail_header(struct rules_run *run, const struct rule_eval *ev)
{
	char name[128];
	str_copy(name, sizeof name, ev->args[0]);
	char *colon = strchr(name, ':');
	if (colon)
		*colon = '\0'; /* "Reply-To:addr" is Reply-To:addr */
	if (str_caseeq(name, "EnvelopeFrom"))
		return fm_check(run, ev, rules_eval_envelope_from(run), false);
	return fm_check(run, ev, first_addr_of(run, name), false);
}

/* The domain of addr, cut to its last two labels. */
static bool second_level(const char *addr, char *out, size_t outlen)
{
	const char *at = addr ? strrchr(addr, '@') : NULL;
	if (!at || !at[1])
		return false;
	const char *d = at + 1, *last = strrchr(d, '.');
	if (last && last > d) {
		const char *p = last - 1;
		while (p > d && *p != '.')
			p--;
		if (*p == '.' && p > d && p[1] != '.')
			d = p + 1;
	}
	str_copy(out, outlen, d);
	return true;
}

/* HeaderEval: a gmail.com From without Google's own relay traces. */
unsigned rules_eval_from_forged_gmail(struct rules_run *run, const struct rule_eval *ev)
{
	bool present;
	const char *from = rules_run_header(run, "From", HM_ADDR, &present);
	if (!rules_run_match(run, ev->res[0], from, strlen(from)))
		return 0;
	const char *xr = rules_run_header(run, "X-Received", 0, &present);
	if (rules_run_match(run, ev->res[1], xr, strlen(xr)) || rules_run_match(run, ev->res[2], xr, strlen(xr)))
		return 0;
	const char *rc = rules_run_header(run, "Received", 0, &present);
	if (rules_run_match(run, ev->res[3], rc, strlen(rc)))
		return 0;
	size_t gms = strlen(rules_run_header(run, "X-Gm-Message-State", 0, &present));
	size_t gss = strlen(rules_run_header(run, "X-Google-Smtp-Source", 0, &present));
	return !(gms >= 60 && gss >= 60);
}

unsigned rules_eval_from_equal_domains(struct rules_run *run)
{
	char a[256], b[256];
	if (!second_level(first_addr_of(run, "From"), a, sizeof a) ||
	    !second_level(rules_eval_envelope_from(run), b, sizeof b))
		return 0;
	return !str_caseeq(a, b);
}

/* check_for_matching_env_and_hdr_from */
unsigned rules_eval_from_env_match(struct rules_run *run)
{
	const char *from = first_addr_of(run, "From");
	return str_caseeq(rules_eval_envelope_from(run), from ? from : "");
}
