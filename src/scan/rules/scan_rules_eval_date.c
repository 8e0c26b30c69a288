/*
 * scan_rules_eval_date.c - the date evals, with SpamAssassin's reading of
 * dates (Util::parse_rfc822_date, 4.0.1) and of Received headers
 * (HeaderEval's date difference):
 *
 *   check_for_shifted_date(min, max)  Date (Resent-Date first) minus the
 *       Received date nearest to it, in hours, within [min, max); the
 *       Received headers a fetchmail-style local hop added on top are not
 *       counted; a last Received exactly equal to Date is passed over.
 *   check_outlook_message_id()  an Outlook Express Message-ID whose time
 *       token is off by 250 units or more from both the Date and the
 *       oldest Received date.
 *
 * A date is found anywhere in the text, as SpamAssassin does: the day,
 * month and year first ("12 Aug 2002", else ctime's "Aug 12 hh:mm:ss
 * 2002", whose time SpamAssassin then loses (kept so: verdicts must
 * match), else a 2- or 3-digit year), then the first time, then a numeric
 * zone or the first upper-case zone name it knows (else -0000). Out of range
 * fields are clamped as there (second, minute, hour; a day past the month's
 * end is the 1st of the next month; years to 1970..2037).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "scan/rules/scan_rules_eval_int.h"

/* ------------------------------------------------------------------ tokens */

#define DATE_TOKENS 48

struct toks {
	char buf[400];
	char *t[DATE_TOKENS];
	bool gone[DATE_TOKENS]; /* removed by an earlier step */
	size_t n;
};

/* " date " with commas (and the blanks after them) and white space runs
 * made single spaces: then SpamAssassin's space-delimited patterns match
 * whole tokens. */
static void tokenize(struct toks *k, const char *s)
{
	size_t o = 0;
	for (const char *p = s; *p && o + 1 < sizeof k->buf; p++) {
		char c = *p == ',' ? ' ' : *p;
		if (c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v')
			c = ' ';
		k->buf[o++] = c;
	}
	k->buf[o] = '\0';
	memset(k->gone, 0, sizeof k->gone);
	k->n = 0;
	char *save = NULL;
	for (char *w = strtok_r(k->buf, " ", &save); w && k->n < DATE_TOKENS; w = strtok_r(NULL, " ", &save))
		k->t[k->n++] = w;
}

static bool digits(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);
	return n >= min && n <= max && rules_eval_all_digits(s, n);
}

static bool digits_n(const char *s, size_t n)
{
	return strlen(s) >= n && rules_eval_all_digits(s, n);
}

/* An all-digit token's value, at most 1,000,000 (\d+ has no length limit). */
static int num(const char *s)
{
	long v = 0;
	for (; *s >= '0' && *s <= '9' && v < 1000000; s++)
		v = v * 10 + (*s - '0');
	return v > 1000000 ? 1000000 : (int)v;
}

/* \d+:\d+:\d+ as a whole token. */
static bool three_numbers(const char *s)
{
	for (int part = 0; part < 3; part++) {
		size_t n = strspn(s, "0123456789");
		if (n == 0)
			return false;
		s += n;
		if (part < 2 && *s++ != ':')
			return false;
	}
	return *s == '\0';
}

static int month_of(const char *s)
{
	static const char *const m[] = { "jan", "feb", "mar", "apr", "may", "jun",
					 "jul", "aug", "sep", "oct", "nov", "dec" };
	if (strlen(s) != 3)
		return 0;
	for (int i = 0; i < 12; i++)
		if (str_caseeq(s, m[i]))
			return i + 1;
	return 0;
}

/* The next n tokens from i that are still there, as indexes; false if fewer. */
static bool run_of(const struct toks *k, size_t i, size_t n, size_t *idx)
{
	size_t got = 0;
	for (size_t j = i; j < k->n && got < n; j++)
		if (!k->gone[j])
			idx[got++] = j;
	return got == n;
}

/* "hh:mm" or "hh:mm:ss" (one or two hour digits, two for the others). */
static bool clock_token(const char *s, int *hh, int *mm, int *ss)
{
	size_t hl = strspn(s, "0123456789");
	if (hl < 1 || hl > 2 || s[hl] != ':' || !digits_n(s + hl + 1, 2))
		return false;
	const char *r = s + hl + 3;
	if (*r && !(r[0] == ':' && digits_n(r + 1, 2) && !r[3]))
		return false;
	*hh = atoi(s);
	*mm = atoi(s + hl + 1);
	*ss = *r ? atoi(r + 1) : 0;
	return true;
}

/* Time zone names SpamAssassin knows, in minutes east of UTC. */
static const struct {
	const char *n;
	int m;
} tz_names[] = {
	{ "UT", 0 },	  { "UTC", 0 },	    { "NDT", -150 },  { "AST", -240 },  { "ADT", -180 },  { "NST", -210 },
	{ "EST", -300 },  { "EDT", -240 },  { "CST", -360 },  { "CDT", -300 },  { "MST", -420 },  { "MDT", -360 },
	{ "PST", -480 },  { "PDT", -420 },  { "HST", -600 },  { "AKST", -540 }, { "AKDT", -480 }, { "HADT", -540 },
	{ "HAST", -600 }, { "GMT", 0 },	    { "BST", 60 },    { "IST", 60 },    { "WET", 0 },     { "WEST", 60 },
	{ "CET", 60 },	  { "CEST", 120 },  { "EET", 120 },   { "EEST", 180 },  { "MSK", 180 },   { "MSD", 240 },
	{ "MET", 60 },	  { "MEZ", 60 },    { "MEST", 120 },  { "MESZ", 120 },  { "BRST", -120 }, { "BRT", -180 },
	{ "AEST", 600 },  { "AEDT", 660 },  { "ACST", 570 },  { "ACDT", 630 },  { "AWST", 480 },  { "NZST", 720 },
	{ "NZDT", 780 },  { "JST", 540 },   { "KST", 540 },   { "HKT", 480 },   { "SGT", 480 },   { "PHT", 480 },
	{ "IDT", 180 },
};

static bool word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* The first \b[A-Z]{2,4}(-DST)?\b of the remaining tokens: its offset if a
 * known zone (*ok), else none. */
static int zone_name(const struct toks *k, bool *ok)
{
	*ok = false;
	for (size_t i = 0; i < k->n; i++) {
		if (k->gone[i])
			continue;
		const char *w = k->t[i];
		for (size_t j = 0; w[j]; j++) {
			if (j > 0 && word_char(w[j - 1]))
				continue;
			size_t l = 0;
			while (l < 4 && w[j + l] >= 'A' && w[j + l] <= 'Z')
				l++;
			/* the longest run that ends on a boundary (Perl backtracks 4, 3, 2) */
			for (; l >= 2; l--) {
				const char *e = w + j + l;
				if (strncmp(e, "-DST", 4) == 0 && !word_char(e[4]))
					return 0; /* a "-DST" name: not in the table */
				if (!word_char(*e)) {
					for (size_t z = 0; z < sizeof tz_names / sizeof tz_names[0]; z++)
						if (strlen(tz_names[z].n) == l && strncmp(tz_names[z].n, w + j, l) == 0) {
							*ok = true;
							return tz_names[z].m;
						}
					return 0; /* the first such word decides */
				}
			}
		}
	}
	return 0;
}

long long rules_eval_date_parse(const char *s)
{
	struct toks k;
	tokenize(&k, s);
	int dd = 0, mon = 0, year = 0;
	const char *ys = NULL;
	size_t ix[4];
	bool found = false;
	/* " DD Mon YYYY " */
	for (size_t i = 0; i < k.n && !found; i++)
		if (!k.gone[i] && run_of(&k, i, 3, ix) && ix[0] == i && digits(k.t[ix[0]], 1, 4000) &&
		    month_of(k.t[ix[1]]) && digits(k.t[ix[2]], 4, 4)) {
			dd = num(k.t[ix[0]]), mon = month_of(k.t[ix[1]]), ys = k.t[ix[2]];
			k.gone[ix[0]] = k.gone[ix[1]] = k.gone[ix[2]] = found = true;
		}
	/* " Mon DD hh:mm:ss YYYY " (ctime: the time goes with it) */
	for (size_t i = 0; i < k.n && !found; i++) {
		if (!k.gone[i] && run_of(&k, i, 4, ix) && ix[0] == i && month_of(k.t[ix[0]]) &&
		    digits(k.t[ix[1]], 1, 4000) && three_numbers(k.t[ix[2]]) && digits(k.t[ix[3]], 4, 4)) {
			mon = month_of(k.t[ix[0]]), dd = num(k.t[ix[1]]), ys = k.t[ix[3]];
			k.gone[ix[0]] = k.gone[ix[1]] = k.gone[ix[2]] = k.gone[ix[3]] = found = true;
		}
	}
	/* " DD Mon YY " or "YYY" */
	for (size_t i = 0; i < k.n && !found; i++)
		if (!k.gone[i] && run_of(&k, i, 3, ix) && ix[0] == i && digits(k.t[ix[0]], 1, 4000) &&
		    month_of(k.t[ix[1]]) && digits(k.t[ix[2]], 2, 3)) {
			dd = num(k.t[ix[0]]), mon = month_of(k.t[ix[1]]), ys = k.t[ix[2]];
			k.gone[ix[0]] = k.gone[ix[1]] = k.gone[ix[2]] = found = true;
		}
	if (!found)
		return -1;
	year = atoi(ys);
	if (strlen(ys) == 2 && year < 50)
		year += 2000;
	else if (strlen(ys) != 4)
		year += 1900;
	if (dd < 1)
		return -1; /* Time::Local refuses day 0: SpamAssassin has no date */
	int hh = 0, mm = 0, ss = 0;
	for (size_t i = 0; i < k.n; i++)
		if (!k.gone[i] && clock_token(k.t[i], &hh, &mm, &ss)) {
			k.gone[i] = true;
			break;
		}
	int zone = 0;
	bool numeric = false;
	for (size_t i = 0; i < k.n && !numeric; i++) {
		const char *w = k.t[i];
		if (!k.gone[i] && (w[0] == '+' || w[0] == '-') && digits(w + 1, 4, 4)) {
			int v = ((w[1] - '0') * 10 + (w[2] - '0')) * 60 + (w[3] - '0') * 10 + (w[4] - '0');
			zone = w[0] == '-' ? -v : v;
			k.gone[i] = numeric = true;
		}
	}
	if (!numeric) {
		bool ok;
		zone = zone_name(&k, &ok);
	}
	if (ss > 59)
		ss = 59;
	if (mm > 59)
		mm = 59;
	if (hh > 23)
		hh = 23;
	int max_dd = 31;
	if (mon == 4 || mon == 6 || mon == 9 || mon == 11)
		max_dd = 30;
	else if (mon == 2)
		max_dd = (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28;
	if (dd > max_dd) {
		dd = 1;
		if (++mon > 12) {
			mon = 1;
			year++;
		}
	}
	if (year > 2037)
		year = 2037;
	else if (year < 1970)
		year = 1970;
	struct tm tm = { .tm_year = year - 1900, .tm_mon = mon - 1, .tm_mday = dd, .tm_hour = hh, .tm_min = mm, .tm_sec = ss };
	long long t = (long long)timegm(&tm);
	long long off = (long long)zone * 60;
	if (off > 0 && t < off)
		return 0; /* SpamAssassin: careful with 1970 and east zones */
	return t - off;
}

/* ------------------------------------------------------------------ Received dates */

enum { RX_RCVD_DATE, RX_LOCAL_FROM, RX_QMAIL_UID, RX_FETCHMAIL, RX_OUTLOOK_ID, RX_N };

static const char *const date_patterns[RX_N] = {
	[RX_RCVD_DATE] = "(\\s.?\\d+ \\S\\S\\S \\d+ \\d+:\\d+:\\d+ \\S+)",
	[RX_LOCAL_FROM] = "\\bfrom (?:localhost\\s|(?:\\S+ ){1,2}\\S*\\b127\\.0\\.0\\.1\\b)",
	[RX_QMAIL_UID] = "qmail \\d+ invoked by uid \\d+",
	[RX_FETCHMAIL] = "\\bby localhost with \\w+ \\(fetchmail-[\\d.]+",
	[RX_OUTLOOK_ID] = "^<[0-9a-f]{4}([0-9a-f]{8})\\$[0-9a-f]{8}\\$[0-9a-f]{8}@",
};
static pcre2_code *date_res[RX_N];
static pthread_once_t date_once = PTHREAD_ONCE_INIT;

static void compile_date_res(void)
{
	for (int i = 0; i < RX_N; i++)
		date_res[i] = rules_regex_fixed(date_patterns[i], 0);
}

void rules_eval_date_init(void)
{
	pthread_once(&date_once, compile_date_res);
}

/* Group 1 of pattern i in s, as [*a, *a + *n). */
static bool match1(struct rules_run *run, int i, const char *s, const char **a, size_t *n)
{
	rules_eval_date_init();
	if (!date_res[i] || pcre2_match(date_res[i], (PCRE2_SPTR)s, strlen(s), 0, 0, run->md, run->s->mctx) < 0)
		return false;
	if (a) {
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(run->md);
		*a = s + ov[2];
		*n = ov[3] - ov[2];
	}
	return true;
}

/* The first date of a Received value, or -1. */
static long long received_date(struct rules_run *run, const char *v)
{
	const char *a;
	size_t n;
	if (!match1(run, RX_RCVD_DATE, v, &a, &n))
		return -1;
	char d[200];
	snprintf(d, sizeof d, "%.*s", (int)n, a);
	return rules_eval_date_parse(d);
}

/* Date (Resent-Date first): the first that parses, or -1. */
static long long header_date(const struct scan_msg *m)
{
	static const char *const names[] = { "Resent-Date", "Date" };
	for (size_t k = 0; k < 2; k++)
		for (size_t i = 0; i < m->nhdrs; i++)
			if (str_caseeq(m->hdrs[i].name, names[k]) && m->hdrs[i].value[0]) {
				long long t = rules_eval_date_parse(m->hdrs[i].value);
				if (t >= 0)
					return t;
			}
	return -1;
}

#define RCVD_MAX 64

static long long date_diff(struct rules_run *run)
{
	const struct scan_msg *m = run->m;
	long long date = header_date(m);
	if (date < 0)
		return 0;
	const char *rcvd[RCVD_MAX];
	size_t n = 0;
	for (size_t i = 0; i < m->nhdrs && n < RCVD_MAX; i++)
		if (str_caseeq(m->hdrs[i].name, "Received") && m->hdrs[i].value[strspn(m->hdrs[i].value, " \t")])
			rcvd[n++] = m->hdrs[i].value;
	if (n == 0)
		return 0; /* archived mail? */
	/* a local hop on top (fetchmail, a local delivery): not a transit date */
	size_t first = 0;
	if (match1(run, RX_LOCAL_FROM, rcvd[0], NULL, NULL) || match1(run, RX_QMAIL_UID, rcvd[0], NULL, NULL)) {
		if (n > 1 && match1(run, RX_FETCHMAIL, rcvd[1], NULL, NULL))
			first = 2;
		else
			first = 0; /* put back */
	} else if (match1(run, RX_FETCHMAIL, rcvd[0], NULL, NULL)) {
		first = 1;
	}
	long long diffs[RCVD_MAX];
	size_t nd = 0;
	for (size_t i = first; i < n; i++) {
		long long t = received_date(run, rcvd[i]);
		if (t >= 0)
			diffs[nd++] = date - t;
	}
	if (nd == 0)
		return 0;
	if (nd > 1 && diffs[nd - 1] == 0)
		nd--;
	long long best = diffs[0];
	for (size_t i = 1; i < nd; i++)
		if (llabs(diffs[i]) < llabs(best))
			best = diffs[i];
	return best;
}

unsigned rules_eval_hdr_shifted_date(struct rules_run *run, const struct rule_eval *ev)
{
	if (!run->date_diff_done) {
		run->date_diff = date_diff(run);
		run->date_diff_done = true;
	}
	long long diff = run->date_diff;
	return (ev->a_open || (double)diff >= 3600 * ev->a) && (ev->b_open || (double)diff < 3600 * ev->b);
}

/* Outlook Express's Message-ID carries its time as 8 hex digits, a linear
 * function of the Unix time; a mismatch with both dates means it was made up. */
unsigned rules_eval_hdr_outlook_msgid(struct rules_run *run)
{
	bool present;
	const char *id = rules_run_header(run, "MESSAGEID", 0, &present);
	const char *a;
	size_t n;
	if (!present || !match1(run, RX_OUTLOOK_ID, id, &a, &n))
		return 0;
	char hex[9];
	snprintf(hex, sizeof hex, "%.*s", (int)n, a);
	long long token = strtoll(hex, NULL, 16);
	const double x = 0.0023283064365387, y = 27111902.8329849;
	const long long fudge = 250;
	/* Date (every Date field, as SpamAssassin reads them: one text) */
	struct buf d;
	buf_init(&d);
	const struct scan_msg *m = run->m;
	const char *last_rcvd = NULL;
	size_t nrcvd = 0;
	for (size_t i = 0; i < m->nhdrs; i++) {
		if (str_caseeq(m->hdrs[i].name, "Date")) {
			buf_puts(&d, m->hdrs[i].value);
			buf_putc(&d, '\n');
		} else if (str_caseeq(m->hdrs[i].name, "Received")) {
			last_rcvd = m->hdrs[i].value;
			nrcvd++;
		}
	}
	long long t = d.data ? rules_eval_date_parse(d.data) : -1;
	buf_fini(&d);
	long long expected = (long long)((double)(t > 0 ? t : 0) * x + y);
	if (llabs(token - expected) < fudge)
		return 0;
	/* the date of the last Received field (the oldest hop: SpamAssassin's
	 * pattern ends at the end of all Received text, so only its last line can match) */
	t = -1;
	if (last_rcvd) {
		char *v = xasprintf("%s%s", nrcvd > 1 ? "\n" : "", last_rcvd);
		t = received_date(run, v);
		xfree(v);
	}
	expected = (long long)((double)(t > 0 ? t : 0) * x + y);
	return llabs(token - expected) >= fudge;
}
