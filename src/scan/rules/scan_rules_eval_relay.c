/*
 * scan_rules_eval_relay.c - evals on the untrusted relays and the Received
 * text, with SpamAssassin's meaning (RelayEval and HeaderEval, 4.0.1):
 *
 *   helo_ip_mismatch()  an untrusted relay with a public IPv4 HELO that is
 *       not its public IPv4 address nor in the same /24
 *   check_for_no_rdns_dotcom_helo()  a big mailbox provider's name as HELO
 *       (hotmail.com, aol.com, yahoo.com, ...) from a host whose MTA found
 *       no reverse DNS. As in SpamAssassin, only the last public untrusted
 *       relay counts (its loop resets the flag for each relay; kept so:
 *       verdicts must match)
 *   check_for_forged_yahoo_received_headers()  a yahoo.com From without
 *       any of Yahoo's own relay traces
 *
 * The patterns are compiled when a rule set loads (rules_eval_finish),
 * before any scanner is forked.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/str.h"
#include "base/xalloc.h"
#include "scan/rules/scan_rules_eval_int.h"

enum {
	RX_DOTCOM_HELO,
	RX_YAHOO_FROM,
	RX_YAHOO_RDNS_T,
	RX_YAHOO_RDNS_U,
	RX_YAHOO_WEB,
	RX_YAHOO_SONIC,
	RX_YAHOO_SMTP,
	RX_YAHOO_NNFMP,
	RX_YAHOO_BULK,
	RX_YAHOO_REPLY,
	RX_YAHOO_FRIEND,
	RX_EZMLM,
	RX_EZMLM_DLTO,
	RX_EZMLM_QMAIL,
	RX_MSN_GROUPS,
	RX_N
};

#define IPV4 "(?:(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)"

static const struct {
	const char *p;
	uint32_t opts;
} pats[RX_N] = {
	[RX_DOTCOM_HELO] = { "(?:\\.|^)(?:lycos\\.com|lycos\\.co\\.uk|hotmail\\.com|localhost\\.com|excite\\.com|"
			     "caramail\\.com|cs\\.com|aol\\.com|msn\\.com|yahoo\\.com|drizzle\\.com)$",
			     PCRE2_CASELESS },
	[RX_YAHOO_FROM] = { "\\byahoo\\.com$", PCRE2_CASELESS },
	[RX_YAHOO_RDNS_T] = { " rdns=\\S+\\.yahoo\\.com ", 0 },
	[RX_YAHOO_RDNS_U] = { "^[^\\]]+ rdns=\\S+\\.yahoo\\.com ", 0 },
	[RX_YAHOO_WEB] = { "by web\\S+\\.mail\\S*\\.yahoo\\.com via HTTP", 0 },
	[RX_YAHOO_SONIC] = { "by sonic\\S+\\.consmr\\.mail\\S*\\.yahoo\\.com with HTTP", 0 },
	[RX_YAHOO_SMTP] = { "by smtp\\S+\\.yahoo\\.com with SMTP", 0 },
	[RX_YAHOO_NNFMP] = { "from \\[(?:" IPV4 "|[0-9a-fA-F:]+)\\] by \\S+\\.(?:groups|scd|dcn)\\.yahoo\\.com with NNFMP", 0 },
	[RX_YAHOO_BULK] = { "\\bmailer\\d+\\.bulk\\.scd\\.yahoo\\.com\\b", 0 },
	[RX_YAHOO_REPLY] = { "@reply\\.yahoo\\.com$", PCRE2_CASELESS },
	[RX_YAHOO_FRIEND] = { "by \\w+\\.\\w+\\.yahoo\\.com \\(\\d+\\.\\d+\\.\\d+/\\d+\\.\\d+\\.\\d+\\)(?: with ESMTP)? id \\w+", 0 },
	[RX_EZMLM] = { "^contact \\S+@\\S+; run by ezmlm$", PCRE2_MULTILINE },
	[RX_EZMLM_DLTO] = { "^mailing list \\S+@\\S+", PCRE2_MULTILINE },
	[RX_EZMLM_QMAIL] = { "qmail \\d+ invoked (?:from network|by .{3,20})\\); \\d+ ... \\d+", 0 },
	[RX_MSN_GROUPS] = { "from groups\\.msn\\.com \\(\\S+\\.msn\\.com ", 0 },
};
static pcre2_code *res[RX_N];
static pthread_once_t res_once = PTHREAD_ONCE_INIT;

static void compile_res(void)
{
	for (int i = 0; i < RX_N; i++)
		res[i] = rules_regex_fixed(pats[i].p, pats[i].opts);
}

void rules_eval_relay_init(void)
{
	pthread_once(&res_once, compile_res);
}

static bool m(struct rules_run *run, int i, const char *s)
{
	rules_eval_relay_init();
	return res[i] && pcre2_match(res[i], (PCRE2_SPTR)s, strlen(s), 0, 0, run->md, run->s->mctx) >= 0;
}

static bool ipv4(const char *s, unsigned char q[4])
{
	unsigned v[4];
	char tail;
	if (sscanf(s, "%3u.%3u.%3u.%3u%c", &v[0], &v[1], &v[2], &v[3], &tail) != 4)
		return false;
	for (int i = 0; i < 4; i++) {
		if (v[i] > 255)
			return false;
		q[i] = (unsigned char)v[i];
	}
	return strspn(s, "0123456789.") == strlen(s);
}

/* IS_IP_PRIVATE for IPv4: 10/8, 127/8, 169.254/16, 172.16/12, 192.168/16, 100.64/10 and 0/8. */
static bool private4(const unsigned char q[4])
{
	return q[0] == 10 || q[0] == 127 || q[0] == 0 || (q[0] == 169 && q[1] == 254) ||
	       (q[0] == 172 && q[1] >= 16 && q[1] <= 31) || (q[0] == 192 && q[1] == 168) ||
	       (q[0] == 100 && q[1] >= 64 && q[1] <= 127);
}

unsigned rules_eval_relay_helo_ip_mismatch(struct rules_run *run)
{
	const struct rules_relays *rl = rules_run_relays(run);
	for (size_t i = 0; i < rl->nuntrusted; i++) {
		const struct rules_relay *r = &rl->u[i];
		unsigned char h[4], a[4];
		if (!ipv4(r->helo, h) || private4(h))
			continue;
		if (ipv4(r->ip, a) && !private4(a) && strcmp(r->helo, r->ip) != 0 && memcmp(h, a, 3) != 0)
			return 1;
	}
	return 0;
}

unsigned rules_eval_relay_no_rdns_dotcom_helo(struct rules_run *run)
{
	const struct rules_relays *rl = rules_run_relays(run);
	bool hit = false;
	for (size_t i = 0; i < rl->nuntrusted; i++) {
		const struct rules_relay *r = &rl->u[i];
		if (r->priv)
			continue;
		hit = m(run, RX_DOTCOM_HELO, r->helo) && r->no_rdns;
	}
	return hit;
}

/* HeaderEval's gated_through_received_hdr_remover: ezmlm lists and MSN groups drop Received fields. */
static bool received_removed(struct rules_run *run)
{
	bool present;
	const char *ml = rules_run_header(run, "Mailing-List", 0, &present);
	if (present && m(run, RX_EZMLM, ml)) {
		const char *dl = rules_run_header(run, "Delivered-To", 0, &present);
		const char *rc = rules_run_header(run, "Received", 0, &present);
		if (m(run, RX_EZMLM_DLTO, dl) && m(run, RX_EZMLM_QMAIL, rc))
			return true;
	}
	const char *rc = rules_run_header(run, "Received", 0, &present);
	return !present || m(run, RX_MSN_GROUPS, rc);
}

unsigned rules_eval_relay_forged_yahoo(struct rules_run *run)
{
	bool present;
	const char *from = rules_run_header(run, "From", HM_ADDR, &present);
	if (!m(run, RX_YAHOO_FROM, from))
		return 0;
	const char *rc = rules_run_header(run, "Received", 0, &present);
	bool rf, rt;
	rules_run_header(run, "Resent-From", 0, &rf);
	rules_run_header(run, "Resent-To", 0, &rt);
	if (rf && rt) {
		const char *xr = rules_run_header(run, "X-Received", 0, &present);
		if (present && *xr)
			rc = xr;
	}
	/* white space runs as single spaces */
	char *flat = xstrdup(rc);
	size_t o = 0;
	for (size_t i = 0; flat[i]; i++) {
		char c = flat[i] == '\n' || flat[i] == '\t' || flat[i] == '\r' ? ' ' : flat[i];
		if (c == ' ' && o && flat[o - 1] == ' ')
			continue;
		flat[o++] = c;
	}
	flat[o] = '\0';
	unsigned hit = 1;
	const struct rules_relays *rl = rules_run_relays(run);
	if (received_removed(run) || m(run, RX_YAHOO_RDNS_T, rl->trusted) || m(run, RX_YAHOO_RDNS_U, rl->untrusted) ||
	    m(run, RX_YAHOO_WEB, flat) || m(run, RX_YAHOO_SONIC, flat) || m(run, RX_YAHOO_SMTP, flat) ||
	    m(run, RX_YAHOO_NNFMP, flat) || (m(run, RX_YAHOO_BULK, flat) && m(run, RX_YAHOO_REPLY, from)) ||
	    m(run, RX_YAHOO_FRIEND, flat))
		hit = 0;
	xfree(flat);
	return hit;
}
