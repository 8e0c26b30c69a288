/*
 * test_scan_bayes.c - the Bayes classifier (src/scan/bayes/): tokens as
 * SpamAssassin's Bayes plugin makes them, its probability and chi-square
 * combining, the store (learn, relearn, forget, persist, expire, damage,
 * lock), and the rules engine's side (check_bayes, the score set with
 * Bayes, auto-learning points).
 */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "scan/bayes/scan_bayes.h"
#include "scan/mime/scan_msg.h"
#include "scan/rules/scan_rules.h"
#include "scan/scan.h"
#include "unit.h"

static void collect(void *ctx, const char *t, size_t n)
{
	struct buf *b = ctx;
	buf_putc(b, '|');
	buf_append(b, t, n);
}

/* The token texts of raw ("\n" lines, turned into CRLF), '|'-separated
 * with a '|' at both ends. */
static char *tokens_of(const struct scan_bayes_tok *t, const char *raw, const struct scan_bayes_meta *meta)
{
	struct buf msg, out;
	buf_init(&msg);
	buf_init(&out);
	for (const char *p = raw; *p; p++) {
		if (*p == '\n')
			buf_putc(&msg, '\r');
		buf_putc(&msg, *p);
	}
	struct scan_msg *m = scan_msg_parse(msg.data, msg.len, NULL);
	uint64_t *keys;
	scan_bayes_tokenize(t, m, meta, &keys, collect, &out);
	buf_putc(&out, '|');
	xfree(keys);
	scan_msg_free(&m);
	buf_fini(&msg);
	return buf_steal(&out, NULL);
}

struct tok_case {
	const char *name;
	const char *msg;
	const char *has[12];  /* tokens present */
	const char *hasnt[8]; /* tokens absent */
};

#define HDRS "From: a@b.example\nTo: c@d.example\nSubject: s\n\n"
#define HDRS_X "From: a@b.example\nSubject: s\nX-Custom: secret\nX-Kept: kept\n\n"

static const struct tok_case tok_cases[] = {
	{ "a capital starting the text is lowered; later capitals kept", HDRS "Hello there Friend\n",
	  { "hello", "there", "Friend", "friend" }, { "Hello" } },
	{ "a sentence's capital after '. ' is lowered", HDRS "it works. Then again\n", { "then", "works", "again" },
	  { "Then" } },
	{ "words under 3 octets and English stop words are dropped", HDRS "ab because xyz\n", { "xyz" },
	  { "ab", "because" } },
	{ "trimmed of - ' \" . , at both ends", HDRS "call \"'now'\", ...ok...\n", { "call", "now" }, { "'now'" } },
	{ "a run of 3 to 6 dots between words splits them", HDRS "wait...what\n", { "wait", "what" },
	  { "wait...what" } },
	{ "2 to 6 dashes split too", HDRS "left--right\n", { "left", "right" }, { "left--right" } },
	{ "a long token becomes sk: and its first 7 characters", HDRS "xx supercalifragilistic\n",
	  { "sk:superca" }, { "supercalifragilistic" } },
	{ "an address in the body: U*, D* and parent domains, and the word itself", HDRS "mail john@mx.example.com\n",
	  { "U*john", "D*mx.example.com", "D*example.com", "D*com", "sk:john@mx", "sk:johnmx" },
	  { "john@mx.example.com" } },
	{ "a domain in the body: UD: and its parents", HDRS "see www.example.org today\n",
	  { "UD:www.example.org", "UD:example.org", "UD:org", "www.example.org"  }, { NULL } },
	{ "a word with capitals and punctuation: four variants", HDRS "get it Free! now\n",
	  { "Free!", "Free", "free!", "free"  }, { NULL } },
	{ "address fields: display-name words N*, U*, D* under H*F: and H*Ad:",
	  "From: John Doe <john@mail.example.com>\nTo: x@y.example\nSubject: s\n\nbody text\n",
	  { "H*F:N*John", "H*F:N*Doe", "H*F:U*john", "H*F:D*mail.example.com", "H*F:D*example.com",
	    "H*Ad:U*john", "H*Ad:D*y.example"  }, { NULL } },
	{ "Subject, Date and X-Spam-Status are not tokenised as fields",
	  "From: a@b.example\nSubject: Unique subject\nDate: Mon, 1 Jan 2024 00:00:00 +0000\nX-Spam-Status: "
	  "Yes\n\nbody words\n",
	  { "subject" /* the Subject is body text */ }, { "HSubject:Unique", "HDate:Mon", "HX-Spam-Status:Yes" } },
	{ "the rule files' bayes_ignore_header", HDRS_X "body\n", { "HX-Kept:kept" }, { "HX-Custom:secret" } },
	{ "Message-ID: non-word characters become spaces; *M and *MI",
	  "Message-ID: <1234.abcd@mail.example.com>\nSubject: s\n\nbody\n",
	  { "H*M:1234", "H*M:abcd", "H*M:mail", "H*M:example", "H*MI:abcd"  }, { NULL } },
	{ "Received: only the last two; an address gives its /24 and ip*",
	  "Received: from a by top.example with SMTP id 1\nReceived: from b by mid.example\nReceived: from c "
	  "(c.example [192.0.2.7]) by low.example\nSubject: s\n\nbody\n",
	  { "H*r:mid.example", "H*r:192.0.2", "H*r:ip*192.0.2.7", "H*r:low.example" }, { "H*r:top.example" } },
	{ "a long UTF-8 word becomes its 3-octet characters",
	  HDRS "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88\n",
	  { "u8:\xe6\x97\xa5", "u8:\xe3\x83\x88"  }, { NULL } },
};
#undef HDRS
#undef HDRS_X

static void test_tokens(void **state)
{
	(void)state;
	char err[200];
	const char *ignore[] = { "X-Custom" };
	const char *stop[] = { "(?:because|about)" };
	struct scan_bayes_tok *t = scan_bayes_tok_new(ignore, 1, stop, 1, 15, err, sizeof err);
	assert_non_null(t);
	for (size_t i = 0; i < UNIT_NCASES(tok_cases); i++) {
		const struct tok_case *c = &tok_cases[i];
		unit_case(c->name, c->msg, 0);
		char *got = tokens_of(t, c->msg, NULL);
		char want[300];
		for (size_t k = 0; k < 12 && c->has[k]; k++) {
			snprintf(want, sizeof want, "|%s|", c->has[k]);
			U_CONTAINS(got, want);
		}
		for (size_t k = 0; k < 8 && c->hasnt[k]; k++) {
			snprintf(want, sizeof want, "|%s|", c->hasnt[k]);
			if (strstr(got, want))
				unit_failf(__FILE__, __LINE__, "token \"%s\" should not be there", c->hasnt[k]);
		}
		xfree(got);
	}
	/* the relay metadata: keys dropped, values under H*RU: and Hx-spam-relays-external: */
	unit_case("relay metadata", NULL, 0);
	struct scan_bayes_meta meta = { "", "[ ip=203.0.113.9 rdns=mx.sender.example helo=sender.example by=us ]" };
	char *got = tokens_of(t, "Subject: s\n\nbody\n", &meta);
	U_CONTAINS(got, "|H*RU:203.0.113.9|");
	U_CONTAINS(got, "|H*RU:sk:mx.send|"); /* over 15 octets */
	U_CONTAINS(got, "|Hx-spam-relays-external:sender.example|");
	if (strstr(got, "rdns="))
		unit_failf(__FILE__, __LINE__, "relay keys should be dropped: %s", got);
	xfree(got);
	/* keys: sorted and distinct */
	unit_case("keys sorted and distinct", NULL, 0);
	const char *kr = "Subject: s\r\n\r\nword word word other\r\n";
	struct scan_msg *m = scan_msg_parse(kr, strlen(kr), NULL);
	uint64_t *keys;
	size_t n = scan_bayes_tokenize(t, m, NULL, &keys, NULL, NULL);
	for (size_t i = 1; i < n; i++)
		U_CHECK(keys[i - 1] < keys[i]);
	U_CHECK(n >= 2);
	xfree(keys);
	scan_msg_free(&m);
	scan_bayes_tok_free(&t);
	UNIT_FINISH();
}

static void test_prob_combine(void **state)
{
	(void)state;
	unit_case("token probability: Robinson's f(w)", NULL, 0);
	/* 10 spam, 0 ham of 100/100: p(w) = 1, f(w) = (0.030 * 0.538 + 10) / 10.030 */
	U_CHECK(fabs(scan_bayes_token_prob(100, 100, 10, 0) - (0.030 * 0.538 + 10.0) / 10.030) < 1e-12);
	/* Graham's estimate weighs the counts by the class sizes: 1 of 10 spam against 1 of 100 ham */
	double p = scan_bayes_token_prob(10, 100, 1, 1); /* p = (1*100)/(1*10 + 1*100) = 0.909 */
	U_CHECK(fabs(p - (0.030 * 0.538 + 2 * (100.0 / 110.0)) / 2.030) < 1e-12);
	U_CHECK(scan_bayes_token_prob(0, 100, 1, 1) < 0);  /* nothing learned as spam */
	U_CHECK(scan_bayes_token_prob(100, 100, 0, 0) < 0); /* unknown */
	unit_case("chi-square combining", NULL, 0);
	double spammy[20], hammy[20], mixed[40];
	for (int i = 0; i < 20; i++) {
		spammy[i] = mixed[i] = 0.99;
		hammy[i] = mixed[20 + i] = 0.01;
	}
	U_CHECK(scan_bayes_combine(100, 100, spammy, 20) > 0.999);
	U_CHECK(scan_bayes_combine(100, 100, hammy, 20) < 0.001);
	U_CHECK(fabs(scan_bayes_combine(100, 100, mixed, 40) - 0.5) < 0.01); /* strong evidence both ways */
	U_CHECK(scan_bayes_combine(100, 100, spammy, 0) < 0);
	/* 2000 extreme tokens: no underflow (frexp keeps the exponents) */
	static double many[2000];
	for (int i = 0; i < 2000; i++)
		many[i] = 0.9999;
	double r = scan_bayes_combine(1000, 1000, many, 2000);
	U_CHECK(r > 0.999 && r <= 1.0);
	UNIT_FINISH();
}

static char *tmp_store(const char *name)
{
	char *p = xasprintf("/tmp/mxgate-unit-bayes-%d-%s", (int)getpid(), name);
	unlink(p);
	char *l = xasprintf("%s.lock", p);
	unlink(l);
	xfree(l);
	return p;
}

static void test_store(void **state)
{
	(void)state;
	char err[300];
	char *path = tmp_store("store");
	uint64_t a[] = { 11, 12, 13 }, b[] = { 12, 14 };
	struct scan_bayes_store *st;
	unit_case("a missing store reads as empty", NULL, 0);
	struct scan_bayes_view *v;
	U_EQ_INT(scan_bayes_view_open(path, &v, err, sizeof err), 0);
	struct scan_bayes_counts c;
	scan_bayes_view_counts(v, &c);
	U_EQ_INT(c.nspam + c.nham + c.ntokens, 0);
	uint32_t s, h;
	U_CHECK(!scan_bayes_view_get(v, 11, &s, &h));
	U_CHECK(scan_bayes_view_stale(v, path) == false);
	scan_bayes_view_close(&v);

	unit_case("learn, learn again, relearn as the other class, forget", NULL, 0);
	U_EQ_INT(scan_bayes_store_open(path, 1000, &st, err, sizeof err), 0);
	U_EQ_INT(scan_bayes_store_learn(st, 1001, true, a, 3, 100), 1);
	U_EQ_INT(scan_bayes_store_learn(st, 1001, true, a, 3, 100), 0); /* the same message again */
	U_EQ_INT(scan_bayes_store_learn(st, 1002, false, b, 2, 200), 1);
	U_EQ_INT(scan_bayes_store_learn(st, 1002, true, b, 2, 300), 2); /* it was spam after all */
	scan_bayes_store_counts(st, &c);
	U_EQ_INT(c.nspam, 2);
	U_EQ_INT(c.nham, 0);
	U_EQ_INT(c.ntokens, 4);
	U_EQ_INT(scan_bayes_store_forget(st, 1001, a, 3), 1);
	U_EQ_INT(scan_bayes_store_forget(st, 1001, a, 3), 0);
	scan_bayes_store_counts(st, &c);
	U_EQ_INT(c.nspam, 1);
	U_EQ_INT(c.ntokens, 2); /* 12 and 14 remain (from message 1002) */
	U_EQ_INT(scan_bayes_store_learn(st, 1003, false, a, 3, 400), 1);

	unit_case("another writer waits for the lock, then gives up", NULL, 0);
	struct scan_bayes_store *st2;
	U_EQ_INT(scan_bayes_store_open(path, 50, &st2, err, sizeof err), -1);
	U_CONTAINS(err, "locked");

	unit_case("commit: a reader maps the new version", NULL, 0);
	U_EQ_INT(scan_bayes_store_open(path, 0, &st2, err, sizeof err), -1);
	U_EQ_INT(scan_bayes_store_commit(st, err, sizeof err), 0);
	scan_bayes_store_close(&st);
	U_EQ_INT(scan_bayes_view_open(path, &v, err, sizeof err), 0);
	scan_bayes_view_counts(v, &c);
	U_EQ_INT(c.nspam, 1);
	U_EQ_INT(c.nham, 1);
	U_EQ_INT(c.ntokens, 4);
	U_EQ_INT(c.nseen, 2);
	U_CHECK(scan_bayes_view_get(v, 12, &s, &h));
	U_EQ_INT(s, 1);
	U_EQ_INT(h, 1);
	U_CHECK(scan_bayes_view_get(v, 14, &s, &h) && s == 1 && h == 0);
	U_CHECK(!scan_bayes_view_get(v, 99, &s, &h));
	U_CHECK(!scan_bayes_view_stale(v, path));

	unit_case("persisted: a new writer sees what was learned; a later commit makes the view stale", NULL, 0);
	U_EQ_INT(scan_bayes_store_open(path, 1000, &st, err, sizeof err), 0);
	U_EQ_INT(scan_bayes_store_learn(st, 1003, false, a, 3, 400), 0); /* remembered across the commit */
	uint64_t many[1000];
	for (int i = 0; i < 1000; i++)
		many[i] = 5000 + (uint64_t)i;
	/* an hour apart: all within the 12 hours expiry never touches */
	U_EQ_INT(scan_bayes_store_learn(st, 1004, true, many, 500, 100000), 1);
	U_EQ_INT(scan_bayes_store_learn(st, 1005, true, many + 500, 500, 103600), 1);
	scan_bayes_store_touch(st, many + 400, 100, 107200); /* seen by a scan: kept like the newer ones */
	unit_case("expiry: nothing learned within 12 hours of the newest token", NULL, 0);
	/* 1004 tokens over 800: only the 4 of the first session (time 300, 400) are old enough */
	U_EQ_INT(scan_bayes_store_expire(st, 800, 107200), 4);
	unit_case("expiry keeps the 3/4 most recently seen", NULL, 0);
	scan_bayes_store_touch(st, many + 999, 1, 200000); /* a day later: the cut by count applies */
	size_t removed = scan_bayes_store_expire(st, 800, 200000);
	scan_bayes_store_counts(st, &c);
	U_EQ_INT(c.ntokens, 600); /* the 100 touched and the 500 of the newer message stay */
	U_EQ_INT(removed, 400);
	U_EQ_INT(c.last_expire, 200000);
	U_EQ_INT(scan_bayes_store_commit(st, err, sizeof err), 0);
	scan_bayes_store_close(&st);
	U_CHECK(scan_bayes_view_stale(v, path));
	scan_bayes_view_close(&v);
	U_EQ_INT(scan_bayes_view_open(path, &v, err, sizeof err), 0);
	U_CHECK(scan_bayes_view_get(v, 5450, &s, &h) && s == 1);
	U_CHECK(!scan_bayes_view_get(v, 5100, &s, &h));
	U_CHECK(scan_bayes_view_get(v, 5999, &s, &h));
	scan_bayes_view_close(&v);

	unit_case("a damaged store is refused, by readers and writers", NULL, 0);
	int fd = open(path, O_WRONLY);
	U_CHECK(fd >= 0);
	U_EQ_INT(ftruncate(fd, 100), 0);
	close(fd);
	U_EQ_INT(scan_bayes_view_open(path, &v, err, sizeof err), -1);
	U_CONTAINS(err, "damaged");
	U_EQ_INT(scan_bayes_store_open(path, 1000, &st, err, sizeof err), -1);
	U_CONTAINS(err, "damaged");
	unlink(path);
	char *lock = xasprintf("%s.lock", path);
	unlink(lock);
	xfree(lock);
	xfree(path);
	UNIT_FINISH();
}

static const char BAYES_RULES[] =
	"body BAYES_00 eval:check_bayes('0.00', '0.01')\n"
	"body BAYES_50 eval:check_bayes('0.40', '0.60')\n"
	"body BAYES_99 eval:check_bayes('0.99', '1.00')\n"
	"tflags BAYES_00 nice learn\n"
	"tflags BAYES_50 learn\n"
	"tflags BAYES_99 learn\n"
	"score BAYES_00 0 0 -1.5 -1.9\n"
	"score BAYES_50 0 0 0.8 0.8\n"
	"score BAYES_99 0 0 3.5 3.5\n"
	"header SUBJ_FREE Subject =~ /free/i\n"
	"score SUBJ_FREE 2.0 2.0 1.0 1.0\n"
	"body BODY_CASH /cash/\n"
	"score BODY_CASH 4.0 4.0 3.0 3.0\n"
	"header __H1 Subject =~ /free/i\n"
	"body __B1 /cash/\n"
	"meta BOTH (__H1 && __B1)\n"
	"score BOTH 2.0\n"
	"header NOLEARN Subject =~ /free/i\n"
	"tflags NOLEARN noautolearn\n"
	"score NOLEARN 5.0\n"
	"bayes_ignore_header X-Foo\n"
	"bayes_min_spam_num 10\n"
	"bayes_auto_learn_threshold_spam 6.5\n";

static void test_rules_side(void **state)
{
	(void)state;
	char err[300];
	struct scan_rules_opts ro = { .score_set = 0, .bayes = true };
	struct scan_rules *r = scan_rules_load_text("bayes.cf", BAYES_RULES, &ro, err, sizeof err);
	assert_non_null(r);
	unit_case("the rule files' Bayes settings", NULL, 0);
	const struct scan_rules_bayes *b = scan_rules_bayes(r);
	U_EQ_INT(b->nignore, 1);
	U_EQ_STR(b->ignore_headers[0], "X-Foo");
	U_EQ_INT(b->min_spam_num, 10);
	U_EQ_INT(b->min_ham_num, 200);
	U_CHECK(b->al_threshold_spam == 6.5 && b->al_threshold_nonspam == 0.1);

	const char *raw = "Subject: free offer\r\n\r\ncash now\r\n";
	struct scan_msg *m = scan_msg_parse(raw, strlen(raw), NULL);
	struct scan_rules_result res;
	unit_case("Bayes not ready: the set without Bayes, no BAYES_ rule", NULL, 0);
	struct scan_rules_ctx ctx = { .bayes_ready = false, .bayes_known = true, .bayes_prob = 0.995 };
	scan_rules_check(r, m, &ctx, &res);
	U_CHECK(fabs(res.score - (2.0 + 4.0 + 2.0 + 5.0)) < 1e-9);
	unit_case("auto-learning points: noautolearn left out, a meta split between header and body", NULL, 0);
	U_CHECK(fabs(res.al_points - 8.0) < 1e-9);
	U_CHECK(fabs(res.al_head - 3.0) < 1e-9);
	U_CHECK(fabs(res.al_body - 5.0) < 1e-9);
	scan_rules_result_fini(&res);
	unit_case("Bayes ready: the set with Bayes and check_bayes's (min, max]", NULL, 0);
	ctx.bayes_ready = true;
	scan_rules_check(r, m, &ctx, &res);
	U_CHECK(fabs(res.score - (1.0 + 3.0 + 2.0 + 5.0 + 3.5)) < 1e-9);
	U_CHECK(fabs(res.al_learned - 3.5) < 1e-9);
	U_CHECK(fabs(res.al_points - 8.0) < 1e-9); /* still the set without Bayes */
	scan_rules_result_fini(&res);
	struct {
		double p;
		const char *hit;
	} probs[] = { { 0.0, "BAYES_00" }, { 0.01, "BAYES_00" }, { 0.4, NULL }, { 0.41, "BAYES_50" },
		      { 0.6, "BAYES_50" }, { 0.99, NULL }, { 0.991, "BAYES_99" }, { 1.0, "BAYES_99" } };
	for (size_t i = 0; i < UNIT_NCASES(probs); i++) {
		char name[64];
		snprintf(name, sizeof name, "probability %.3f", probs[i].p);
		unit_case(name, NULL, 0);
		ctx.bayes_prob = probs[i].p;
		scan_rules_check(r, m, &ctx, &res);
		const char *got = NULL;
		for (size_t k = 0; k < res.nhits; k++)
			if (strncmp(res.hits[k].name, "BAYES_", 6) == 0)
				got = res.hits[k].name;
		U_EQ_STR(got ? got : "none", probs[i].hit ? probs[i].hit : "none");
		scan_rules_result_fini(&res);
	}
	unit_case("no probability: no BAYES_ rule", NULL, 0);
	ctx.bayes_known = false;
	scan_rules_check(r, m, &ctx, &res);
	for (size_t k = 0; k < res.nhits; k++)
		U_CHECK(strncmp(res.hits[k].name, "BAYES_", 6) != 0);
	scan_rules_result_fini(&res);
	scan_msg_free(&m);
	scan_rules_free(&r);
	UNIT_FINISH();
}

/* The learning payload a scanner sends and a quarantined envelope keeps. */
static void test_learn_payload(void **state)
{
	(void)state;
	unit_case("round trip", NULL, 0);
	uint64_t keys[] = { 1, 0xabcd, 0xffffffffffffffffull };
	struct scan_learn l = { .msg_key = 0xdeadbeef, .expiry_max = 150000, .keys = keys, .nkeys = 3 }, d;
	struct buf b;
	buf_init(&b);
	scan_learn_encode(&l, &b);
	U_EQ_STR(b.data, "1 00000000deadbeef 150000 0000000000000001000000000000abcdffffffffffffffff");
	U_EQ_INT(scan_learn_decode(b.data, &d), 0);
	U_EQ_HEX(d.msg_key, 0xdeadbeef);
	U_EQ_INT(d.expiry_max, 150000);
	U_EQ_INT(d.nkeys, 3);
	U_CHECK(d.nkeys == 3 && memcmp(d.keys, keys, sizeof keys) == 0);
	scan_learn_fini(&d);
	buf_fini(&b);
	static const char *const bad[] = {
		"",
		"2 00000000deadbeef 1 0000000000000001",			   /* another version */
		"1 00000000deadbeef 1 000000000000001",			   /* not a multiple of 16 digits */
		"1 00000000deadbeef 1 00000000000000020000000000000001",   /* not sorted */
		"1 00000000deadbeef 1 00000000000000010000000000000001",   /* not distinct */
		"1 00000000deadbeef 1 0000000000000000",		   /* a zero key */
		"1 00000000deadbeeg 1 0000000000000001",		   /* not hex */
		"1 00000000deadbeef x 0000000000000001",		   /* the expiry not a number */
		"1 00000000deadbeef 99999999999 0000000000000001",	   /* over 32 bits */
		"1 00000000deadbeef 1 000000000000000g",		   /* not hex in a key */
	};
	for (size_t i = 0; i < UNIT_NCASES(bad); i++) {
		unit_case("malformed", bad[i], 0);
		U_EQ_INT(scan_learn_decode(bad[i], &d), -1);
		U_EQ_INT(d.nkeys, 0);
	}
	unit_case("an empty list is a payload", NULL, 0);
	U_EQ_INT(scan_learn_decode("1 0000000000000001 0 ", &d), 0);
	U_EQ_INT(d.nkeys, 0);
	scan_learn_fini(&d);
	UNIT_FINISH();
}

int main(void)
{
	log_init("test", -1, LOG_L_ERR);
	scan_mime_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_prob_combine),
		cmocka_unit_test(test_store),
		cmocka_unit_test(test_rules_side),
		cmocka_unit_test(test_learn_payload),
	};
	UNIT_MAIN(tests);
}
