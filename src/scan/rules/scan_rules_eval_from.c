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
#include <strings.h>

#include "base/buf.h"
#include "base/map.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "mail/mail_addrlist.h"
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
	pcre2_code_free(s->fm_bulk);
	pcre2_code_free(s->fm_email);
	pcre2_code_free(s->fm_url_at);
	pcre2_code_free(s->fm_email_label);
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

/* ------------------------------------------------------------ check_freemail_replyto */

/* FreeMail's address pattern (a valid TLD approximated by 2-63 letters), its
 * bulk-sender pattern (freemail_skip_bulk_envfrom), and what it removes from
 * the body before looking for addresses: URLs holding an @, and an address
 * closing a <...> or followed by a label ("jo@x.example phone:"). */
#define FM_LOCAL "[a-z0-9!#$%&'*+/=?^_`{|}~-]"
#define FM_EMAIL                                                                                     \
	"(?=.{0,64}@)(?<!" FM_LOCAL ")(" FM_LOCAL "+(?:\\." FM_LOCAL "+)*@(?:[a-z0-9](?:[a-z0-9-]{0,59}[a-z0-9])?\\.){1,4}" \
	"[a-z]{2,63})"

void rules_eval_from_finish(struct scan_rules *s)
{
	if (!s->fm_email)
		s->fm_email = rules_regex_fixed(FM_EMAIL, PCRE2_CASELESS);
	if (!s->fm_bulk)
		s->fm_bulk = rules_regex_fixed("(?:^(?:post|host|domain)master|^double-bounce|^(?:sentto|owner|return|(?:gr)?"
					       "bounced?)-.+|-(?:request|bounces?|admin|owner)|\\b(?:do[._-t]?)?no[._-t]?"
					       "repl(?:y|ies)|.+=.+)@",
					       PCRE2_CASELESS);
	if (!s->fm_url_at)
		s->fm_url_at = rules_regex_fixed("<?https?://\\S{0,255}(?:@|%40)\\S{0,255}", PCRE2_CASELESS);
	if (!s->fm_email_label)
		s->fm_email_label = rules_regex_fixed("<?(?<!mailto:)" FM_EMAIL "(?:>|\\s{1,10}(?!(?:fa(?:x|csi)|tel|phone|e?-?"
						      "mail))[a-z]{2,11}:)",
						      PCRE2_CASELESS);
}

/* s with every match of re replaced by one space. */
static char *blank_matches(struct rules_run *run, const pcre2_code *re, const char *s, size_t n)
{
	struct buf b;
	buf_init(&b);
	size_t pos = 0;
	while (pos <= n && rules_run_match_at(run, re, s, n, pos)) {
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(run->md);
		buf_append(&b, s + pos, ov[0] - pos);
		buf_putc(&b, ' ');
		pos = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
		if (ov[1] == ov[0] && ov[0] < n)
			buf_putc(&b, s[ov[0]]);
	}
	if (pos < n)
		buf_append(&b, s + pos, n - pos);
	return b.data ? buf_steal(&b, NULL) : xstrdup("");
}

static void fm_add(struct rules_run *run, const char *e, size_t n)
{
	char *a = xstrndup(e, n);
	str_lower(a);
	for (size_t i = 0; i < run->nfm_emails; i++)
		if (strcmp(run->fm_emails[i], a) == 0) {
			xfree(a);
			return;
		}
	run->fm_emails = xrealloc(run->fm_emails, (run->nfm_emails + 1) * sizeof *run->fm_emails);
	run->fm_emails[run->nfm_emails++] = a;
}

/* FreeMail's _parse_body: the addresses of mailto: links and of the body
 * text, at most 20 + 40; the freemail ones among them kept, unless the
 * fifth address or the third freemail one says the body is skipped
 * (freemail_max_body_emails 5, _max_body_freemails 3, _skip_when_over_max). */
static void fm_parse_body(struct rules_run *run)
{
	const struct scan_rules *s = run->s;
	run->fm_body = 1;
	const char *const *mt;
	size_t nmt = rules_eval_html_mailtos(run, &mt);
	for (size_t i = 0; i < nmt && run->nfm_emails < 20; i++)
		if (rules_run_match_at(run, s->fm_email, mt[i], strlen(mt[i]), 0)) {
			PCRE2_SIZE *ov = pcre2_get_ovector_pointer(run->md);
			if (ov[2] == 0)
				fm_add(run, mt[i] + ov[2], ov[3] - ov[2]);
		}
	for (size_t i = 0; i < run->m->nbody && run->nfm_emails < 40; i++) {
		char *a = blank_matches(run, s->fm_url_at, run->m->body[i].s, run->m->body[i].len);
		char *b = blank_matches(run, s->fm_email_label, a, strlen(a));
		size_t n = strlen(b), pos = 0;
		while (pos < n && run->nfm_emails < 40 && rules_run_match_at(run, s->fm_email, b, n, pos)) {
			PCRE2_SIZE *ov = pcre2_get_ovector_pointer(run->md);
			fm_add(run, b + ov[2], ov[3] - ov[2]);
			pos = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
		}
		xfree(a);
		xfree(b);
	}
	size_t all = 0, fm = 0, k = 0;
	for (size_t i = 0; i < run->nfm_emails && run->fm_body > 0; i++) {
		if (++all == 5)
			run->fm_body = -1;
		else if (is_freemail(run, run->fm_emails[i]) && ++fm == 3)
			run->fm_body = -1;
		else if (is_freemail(run, run->fm_emails[i])) { /* kept: moved down, nothing lost */
			char *t = run->fm_emails[k];
			run->fm_emails[k++] = run->fm_emails[i];
			run->fm_emails[i] = t;
		}
	}
	/* what is not kept is freed with the rest of the check (rules_eval_from_run_free) */
	if (run->fm_body > 0)
		for (size_t i = k; i < run->nfm_emails; i++)
			run->fm_emails[i][0] = '\0'; /* not a body address: never equal, never compared */
	run->nfm_kept = run->fm_body > 0 ? k : 0;
}

void rules_eval_from_run_free(struct rules_run *run)
{
	for (size_t i = 0; i < run->nfm_emails; i++)
		xfree(run->fm_emails[i]);
	xfree(run->fm_emails);
	run->fm_emails = NULL;
	run->nfm_emails = 0;
}

unsigned rules_eval_from_freemail_replyto(struct rules_run *run, const struct rule_eval *ev)
{
	const struct scan_rules *s = run->s;
	if (!s->fm_email || !s->fm_bulk || !s->fm_url_at || !s->fm_email_label)
		return 0;
	bool reply = ev->test == 1;
	const char *ef = rules_eval_envelope_from(run);
	if (ef && *ef && rules_run_match(run, s->fm_bulk, ef, strlen(ef)))
		return 0; /* a bulk sender's envelope: freemail_skip_bulk_envfrom */
	const char *f = first_addr_of(run, "From"), *r = first_addr_of(run, "Reply-To");
	char *from = f && *f ? addr_norm(f, false) : NULL, *rt = r && *r ? addr_norm(r, false) : NULL;
	bool from_fm = from && is_freemail(run, from), rt_fm = rt && is_freemail(run, rt);
	bool from_not_in_rt = !from || !rt || strcmp(from, rt) != 0;
	unsigned hit = 0;
	if (from_fm && rt_fm && from_not_in_rt) {
		hit = 1;
		goto out;
	}
	/* 'replyto': a freemail Reply-To; 'reply': a freemail From and no other kind of Reply-To */
	if (!reply ? !rt_fm : ((rt && !rt_fm) || !from_fm))
		goto out;
	if (run->fm_body == 0)
		fm_parse_body(run);
	if (run->fm_body < 0)
		goto out;
	const char *addr = !reply || rt_fm ? rt : from;
	for (size_t i = 0; addr && i < run->nfm_kept && !hit; i++)
		hit = strcmp(run->fm_emails[i], addr) != 0;
out:
	xfree(from);
	xfree(rt);
	return hit;
}

/* ------------------------------------------------------------ similar_recipients */

#define TOCC_SIMILAR_COUNT 5
#define TOCC_SIMILAR_LENGTH 2
#define TOCC_MAX 256

struct addrs {
	char **v;
	size_t n;
};

/* An address of a To/Cc/Bcc list (an element without an '@' is not one). */
static void add_addr(void *ctx, const char *name, const char *addr)
{
	(void)name;
	struct addrs *a = ctx;
	if (a->n >= TOCC_MAX || !strchr(addr, '@'))
		return;
	a->v = xrealloc(a->v, (a->n + 1) * sizeof *a->v);
	a->v[a->n++] = xstrdup(addr);
}

/* similar_recipients(min, max): HeaderEval's share of To/Cc address pairs
 * (Bcc too when they are fewer than 5) with the same first two characters
 * of the user part, or of the host part where the hosts differ; from 5
 * distinct consecutive addresses on (else 0); in [min, max). */
unsigned rules_eval_from_similar_recipients(struct rules_run *run, const struct rule_eval *ev)
{
	const struct scan_msg *m = run->m;
	struct addrs a = { NULL, 0 };
	static const char *const names[][2] = { { "To", "Cc" }, { "Bcc", NULL } };
	for (size_t g = 0; g < 2 && a.n < TOCC_SIMILAR_COUNT; g++)
		for (size_t k = 0; k < 2 && names[g][k]; k++)
			for (size_t i = 0; i < m->nhdrs; i++)
				if (str_caseeq(m->hdrs[i].name, names[g][k]))
					mail_addrlist(m->hdrs[i].value, TOCC_MAX, add_addr, &a);
	char **in = a.v;
	size_t nin = a.n;
	/* consecutive duplicates (any case) dropped, as HeaderEval's loop does */
	char **ad = xcalloc(nin + 1, sizeof *ad);
	size_t na = 0;
	for (size_t i = 0; i < nin && na < TOCC_MAX; i++)
		if (!na || strcasecmp(in[i], ad[na - 1]) != 0)
			ad[na++] = in[i];
	double sim = 0;
	if (na >= TOCC_SIMILAR_COUNT) {
		size_t hits = 0, comb = 0;
		for (size_t i = 0; i < na; i++) {
			const char *hi = strchr(ad[i], '@') + 1;
			for (size_t j = i + 1; j < na; j++) {
				const char *hj = strchr(ad[j], '@') + 1;
				hits += strncmp(ad[i], ad[j], TOCC_SIMILAR_LENGTH) == 0;
				hits += strncmp(hi, hj, TOCC_SIMILAR_LENGTH) == 0 && strcmp(hi, hj) != 0;
				comb++;
			}
		}
		sim = (double)hits / (double)comb;
	}
	for (size_t i = 0; i < nin; i++)
		xfree(in[i]);
	xfree(in);
	xfree(ad);
	return (ev->a_open || sim >= ev->a) && (ev->b_open || sim < ev->b);
}
