/*
 * test_scan_act.c - scan/scan_act.c and scan_report.c: action lists,
 * Subject tags (encoded, folded, missing, long, already tagged), result
 * headers (forged ones removed), what each action list does, and the
 * report's queue encoding.
 */
#include "unit.h"

#include "base/buf.h"
#include "scan/scan.h"

/* ---------------------------------------------------------------- action lists */

struct act_case {
	const char *name, *in;
	int ok;
	unsigned flags;
	const char *err;
};

static const struct act_case act_cases[] = {
	{ "deliver tag", "deliver tag", 1, SCAN_ACT_DELIVER | SCAN_ACT_TAG, NULL },
	{ "virus default", "quarantine deliver-cleaned tag", 1, SCAN_ACT_QUARANTINE | SCAN_ACT_CLEAN | SCAN_ACT_TAG,
	  NULL },
	{ "commas and case", "Quarantine,DROP", 1, SCAN_ACT_QUARANTINE | SCAN_ACT_DROP, NULL },
	{ "redirect", "redirect:spam@example.org tag", 1, SCAN_ACT_REDIRECT | SCAN_ACT_TAG, NULL },
	{ "reject alone", "reject", 1, SCAN_ACT_REJECT, NULL },
	{ "unknown", "deliver bounce", 0, 0, "unknown action \"bounce\"" },
	{ "tag only", "tag", 0, 0, "neither deliver" },
	{ "empty", "", 0, 0, "neither deliver" },
	{ "drop with deliver", "drop deliver", 0, 0, "drop cannot be combined" },
	{ "reject with deliver", "reject deliver", 0, 0, "reject cannot be combined" },
	{ "redirect without address", "redirect:nobody", 0, 0, "redirect needs one address" },
	{ "two redirects", "redirect:a@b.example redirect:c@d.example", 0, 0, "redirect needs one address" },
};

static void check_act(const struct act_case *c)
{
	unit_case(c->name, c->in, strlen(c->in));
	struct scan_actions a;
	char err[300] = "";
	int rc = scan_actions_parse(c->in, &a, err, sizeof err);
	U_EQ_INT(rc == 0, c->ok);
	if (c->ok) {
		U_EQ_HEX(a.flags, c->flags);
		scan_actions_fini(&a);
	} else {
		U_CONTAINS(err, c->err);
	}
}

static void test_actions(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(act_cases, check_act);
}

/* ---------------------------------------------------------------- Subject tags */

struct tag_case {
	const char *name;
	const char *field; /* NULL: no Subject */
	const char *decoded;
	bool at_end;
	const char *want;
};

static const struct tag_case tag_cases[] = {
	{ "start", "Subject: hello\r\n", "hello", false, "Subject: {Spam?} hello\r\n" },
	{ "end", "Subject: hello\r\n", "hello", true, "Subject: hello {Spam?}\r\n" },
	{ "already tagged", "Subject: {Spam?} hello\r\n", "{Spam?} hello", false, "Subject: {Spam?} hello\r\n" },
	{ "already tagged at end", "Subject: hello {Spam?}\r\n", "hello {Spam?}", false, "Subject: hello {Spam?}\r\n" },
	{ "tag inside an encoded word is seen", "Subject: =?UTF-8?Q?=7BSpam=3F=7D_x?=\r\n", "{Spam?} x", false,
	  "Subject: =?UTF-8?Q?=7BSpam=3F=7D_x?=\r\n" },
	{ "encoded subject", "Subject: =?UTF-8?B?w6TDtsO8?=\r\n", "\xc3\xa4\xc3\xb6\xc3\xbc", false,
	  "Subject: {Spam?} =?UTF-8?B?w6TDtsO8?=\r\n" },
	{ "encoded subject, end", "Subject: =?UTF-8?B?w6TDtsO8?=\r\n", "\xc3\xa4\xc3\xb6\xc3\xbc", true,
	  "Subject: =?UTF-8?B?w6TDtsO8?= {Spam?}\r\n" },
	{ "folded", "Subject: a very\r\n long subject\r\n", "a very long subject", false,
	  "Subject: {Spam?} a very\r\n long subject\r\n" },
	{ "folded, end", "Subject: a very\r\n\tlong subject\r\n", "a very long subject", true,
	  "Subject: a very\r\n\tlong subject {Spam?}\r\n" },
	{ "missing", NULL, NULL, false, "Subject: {Spam?}\r\n" },
	{ "empty", "Subject:\r\n", "", false, "Subject: {Spam?}\r\n" },
	{ "empty with space", "Subject: \r\n", "", false, "Subject: {Spam?}\r\n" },
	{ "no space after colon", "Subject:hello\r\n", "hello", false, "Subject: {Spam?} hello\r\n" },
	{ "case of the name kept", "SUBJECT: hi\r\n", "hi", false, "SUBJECT: {Spam?} hi\r\n" },
	{ "long first line folds", "Subject: {{985:x}}\r\n", "{{985:x}}", false, "Subject: {Spam?}\r\n {{985:x}}\r\n" },
	{ "long line folds at end", "Subject: {{985:x}}\r\n", "{{985:x}}", true, "Subject: {{985:x}}\r\n {Spam?}\r\n" },
	{ "8-bit subject", "Subject: gr\xc3\xbc\xc3\x9f\r\n", "gr\xc3\xbc\xc3\x9f", false,
	  "Subject: {Spam?} gr\xc3\xbc\xc3\x9f\r\n" },
};

static void check_tag(const struct tag_case *c)
{
	static char field[4096], dec[4096], want[4096];
	size_t fl = c->field ? unit_expand(c->field, strlen(c->field), field, sizeof field) : 0;
	if (c->decoded)
		unit_expand(c->decoded, strlen(c->decoded), dec, sizeof dec);
	size_t wl = unit_expand(c->want, strlen(c->want), want, sizeof want);
	unit_case(c->name, c->field ? field : "", fl);
	struct buf out;
	buf_init(&out);
	scan_tag_subject(c->field ? field : NULL, fl, c->decoded ? dec : NULL, "{Spam?}", c->at_end, &out);
	U_EQ_MEM(out.data, out.len, want, wl);
	/* no line longer than 998 octets */
	size_t run = 0;
	for (size_t i = 0; i < out.len; i++) {
		run = out.data[i] == '\n' ? 0 : run + 1;
		U_CHECK(run <= 999);
	}
	buf_fini(&out);
}

static void test_tags(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(tag_cases, check_tag);
}

/* ---------------------------------------------------------------- apply */

static struct scan_policy policy(const char *spam_actions)
{
	static struct scan_policy p;
	static const char *lists[SCAN_NCAT] = { "deliver", "deliver tag", NULL, "deliver tag", "deliver tag",
						"quarantine deliver-cleaned tag" };
	char err[200];
	for (int i = 0; i < SCAN_NCAT; i++) {
		scan_actions_fini(&p.act[i]);
		if (scan_actions_parse(i == SCAN_SPAM ? spam_actions : lists[i], &p.act[i], err, sizeof err) < 0)
			abort();
	}
	p.tag[SCAN_CLEAN] = "";
	p.tag[SCAN_BLOCKLISTED] = "{Blocklisted?}";
	p.tag[SCAN_SPAM] = "{Spam?}";
	p.tag[SCAN_HIGH_SPAM] = "{Spam?}";
	p.tag[SCAN_UNSCANNABLE] = "{Unscannable?}";
	p.tag[SCAN_VIRUS] = "{Virus?}";
	p.tag_subject = true;
	p.header_prefix = "X-mxgate";
	p.spam_prefix = "X-Spam";
	p.headers_on_clean = true;
	p.hostname = "gw.example";
	return p;
}

static const char MSG[] = "Received: from x\r\n"
			  "X-Spam-Status: No, forged\r\n"
			  "Subject: offer\r\n"
			  "X-mxgate-Scan: clean (forged)\r\n"
			  "  continued forged\r\n"
			  "X-Spam-Flag: NO\r\n"
			  "From: a@b.example\r\n"
			  "\r\n"
			  "body X-Spam-Flag: stays\r\n";

static void spam_report(struct scan_report *r, double score)
{
	scan_report_init(r);
	r->spam_scanned = true;
	r->spam_yes = score >= 5.0;
	r->score = score;
	r->required = 5.0;
	scan_report_add_rule(r, "GTUBE");
	scan_report_add_rule(r, "MISSING_DATE");
	r->subject = strdup("offer");
	scan_report_classify(r, 10.0, 0);
}

/* scan_apply, and the delivered message built from its edit list into out
 * (the original when nothing changed). */
static void apply(const struct scan_policy *p, const struct scan_report *r, const char *raw, size_t len,
		  struct scan_outcome *o, struct buf *out)
{
	scan_outcome_init(o);
	scan_apply(p, r, raw, len, o);
	char err[200];
	U_EQ_INT(mail_edits_check(&o->edits, len, len + 65536, err, sizeof err), 0);
	if (o->changed)
		mail_edits_apply(&o->edits, raw, len, out);
	else
		buf_append(out, raw, len);
}

static void test_apply(void **state)
{
	(void)state;
	struct scan_policy p = policy("deliver tag");
	struct scan_report r;
	struct buf out;
	struct scan_outcome o;

	unit_case("spam: tagged, forged headers replaced", MSG, strlen(MSG));
	spam_report(&r, 7.2);
	U_EQ_INT(r.cat, SCAN_SPAM);
	buf_init(&out);
	apply(&p, &r, MSG, strlen(MSG), &o, &out);
	U_CHECK(o.changed);
	U_EQ_HEX(o.flags, SCAN_ACT_DELIVER | SCAN_ACT_TAG);
	buf_putc(&out, '\0');
	U_CONTAINS(out.data, "Subject: {Spam?} offer\r\n");
	U_CHECK(!strstr(out.data, "forged"));
	U_CHECK(!strstr(out.data, "X-Spam-Flag: NO"));
	U_CONTAINS(out.data, "X-Spam-Status: Yes, score=7.2 required=5.0 tests=GTUBE, MISSING_DATE\r\n");
	U_CONTAINS(out.data, "X-Spam-Flag: YES\r\n");
	U_CONTAINS(out.data, "X-mxgate-Scan: spam (score=7.20 required=5.00) by mxgate on gw.example\r\n");
	U_CONTAINS(out.data, "\r\n\r\nbody X-Spam-Flag: stays\r\n");
	buf_fini(&out);
	scan_outcome_fini(&o);
	scan_report_fini(&r);

	unit_case("high spam and blocklisted: one spam tag, blocklisted tag too", MSG, strlen(MSG));
	spam_report(&r, 12);
	r.dnsbl_weight = 3;
	scan_report_add_dnsbl(&r, "bl.test", "127.0.0.2", "listed", 3);
	scan_report_classify(&r, 10.0, 1);
	U_EQ_INT(r.cat, SCAN_HIGH_SPAM);
	buf_init(&out);
	apply(&p, &r, MSG, strlen(MSG), &o, &out);
	buf_putc(&out, '\0');
	U_CONTAINS(out.data, "Subject: {Spam?} {Blocklisted?} offer\r\n");
	U_CONTAINS(out.data, "X-mxgate-DNSBL: bl.test=127.0.0.2 (weight 3); total 3\r\n");
	buf_fini(&out);
	scan_outcome_fini(&o);
	scan_report_fini(&r);

	unit_case("tag_subject no: headers only", MSG, strlen(MSG));
	p.tag_subject = false;
	spam_report(&r, 7.2);
	buf_init(&out);
	apply(&p, &r, MSG, strlen(MSG), &o, &out);
	buf_putc(&out, '\0');
	U_CONTAINS(out.data, "Subject: offer\r\n");
	U_CONTAINS(out.data, "X-Spam-Flag: YES\r\n");
	buf_fini(&out);
	scan_outcome_fini(&o);
	scan_report_fini(&r);
	p.tag_subject = true;

	unit_case("clean without headers: unchanged", MSG, strlen(MSG));
	p.headers_on_clean = false;
	spam_report(&r, 1.0);
	U_EQ_INT(r.cat, SCAN_CLEAN);
	buf_init(&out);
	apply(&p, &r, MSG, strlen(MSG), &o, &out);
	U_CHECK(!o.changed);
	U_EQ_HEX(o.flags, SCAN_ACT_DELIVER);
	buf_fini(&out);
	scan_outcome_fini(&o);
	scan_report_fini(&r);
	p.headers_on_clean = true;

	unit_case("quarantine only: nothing delivered", MSG, strlen(MSG));
	p = policy("quarantine");
	spam_report(&r, 7.2);
	buf_init(&out);
	apply(&p, &r, MSG, strlen(MSG), &o, &out);
	U_EQ_HEX(o.flags, SCAN_ACT_QUARANTINE);
	U_CHECK(!o.changed);
	buf_fini(&out);
	scan_outcome_fini(&o);
	scan_report_fini(&r);

	unit_case("virus found in the whole message only: no cleaned copy", MSG, strlen(MSG));
	scan_report_init(&r);
	scan_report_add_virus(&r, "", "", "Eicar-Signature", false);
	r.subject = strdup("offer");
	scan_report_classify(&r, 10.0, 0);
	U_EQ_INT(r.cat, SCAN_VIRUS);
	buf_init(&out);
	apply(&p, &r, MSG, strlen(MSG), &o, &out);
	U_EQ_HEX(o.flags, SCAN_ACT_QUARANTINE | SCAN_ACT_TAG);
	buf_fini(&out);
	scan_outcome_fini(&o);
	scan_report_fini(&r);

	unit_case("no header section at all", "\r\nbody\r\n", 8);
	p = policy("deliver tag");
	spam_report(&r, 7.2);
	buf_init(&out);
	apply(&p, &r, "\r\nbody\r\n", 8, &o, &out);
	buf_putc(&out, '\0');
	U_CHECK(strncmp(out.data, "Subject: {Spam?}\r\n", 18) == 0);
	U_CONTAINS(out.data, "\r\n\r\nbody\r\n");
	buf_fini(&out);
	scan_outcome_fini(&o);
	scan_report_fini(&r);
	for (int i = 0; i < SCAN_NCAT; i++)
		scan_actions_fini(&p.act[i]);
	UNIT_FINISH();
}

/* ---------------------------------------------------------------- report encoding */

static void test_report_roundtrip(void **state)
{
	(void)state;
	unit_case("roundtrip", NULL, 0);
	struct scan_report r, d;
	scan_report_init(&r);
	scan_report_add_virus(&r, "2.1", "eicar com;=,%.txt", "Eicar-Signature", false);
	scan_report_add_virus(&r, "3", "", "Heuristics.Encrypted.Zip", true);
	scan_report_add_dnsbl(&r, "bl.test", "127.0.0.2", "listed, see http://x/?a=b", 3);
	r.dnsbl_weight = 3;
	r.spam_scanned = true;
	r.spam_yes = true;
	r.score = 7.25;
	r.required = 5;
	scan_report_add_rule(&r, "GTUBE");
	scan_report_add_rule(&r, "__SUB");
	r.subject = strdup("Gr\xc3\xbc\xc3\x9f\x65 %41 = ;");
	r.access = 2;
	r.access_entry = strdup("From:spammer.example SPAM");
	scan_report_classify(&r, 10, 1);
	struct buf b;
	buf_init(&b);
	scan_report_encode(&r, &b);
	U_CHECK(!strchr(b.data, '\n'));
	scan_report_init(&d);
	U_EQ_INT(scan_report_decode(b.data, &d), 0);
	U_EQ_INT(d.cat, r.cat);
	U_EQ_INT(d.cats, r.cats);
	U_EQ_INT(d.nvirus, 2);
	if (d.nvirus == 2) {
		U_EQ_STR(d.virus[0].filename, "eicar com;=,%.txt");
		U_EQ_INT(d.virus[1].unscannable, 1);
	}
	U_EQ_INT(d.ndnsbl, 1);
	if (d.ndnsbl == 1)
		U_EQ_STR(d.dnsbl[0].txt, "listed, see http://x/?a=b");
	U_EQ_INT(d.nrules, 2);
	U_EQ_STR(d.subject, r.subject);
	U_EQ_INT(d.access, 2);
	U_EQ_INT(d.spam_yes, 1);
	U_CHECK(d.score > 7.24 && d.score < 7.26);
	scan_report_fini(&d);
	unit_case("damaged", NULL, 0);
	scan_report_init(&d);
	U_EQ_INT(scan_report_decode("v=1 cat=nonsense", &d), -1);
	scan_report_fini(&d);
	scan_report_init(&d);
	U_EQ_INT(scan_report_decode("v=1 subj=%4", &d), -1);
	scan_report_fini(&d);
	scan_report_init(&d);
	U_EQ_INT(scan_report_decode("v=1 cat=spam newkey=1", &d), 0);
	scan_report_fini(&d);
	buf_fini(&b);
	scan_report_fini(&r);
	UNIT_FINISH();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_actions),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_apply),
		cmocka_unit_test(test_report_roundtrip),
	};
	UNIT_MAIN(tests);
}
