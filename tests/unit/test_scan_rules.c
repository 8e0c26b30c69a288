/*
 * test_scan_rules.c - the rules engine (src/scan/rules/scan_rules*.c), from
 * tables: each case loads a rule text, scores a message built by hand (as
 * scan_mime.c would fill struct scan_msg) and compares the scored hits,
 * the score and the load statistics.
 */
#include <math.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/str.h"
#include "scan/mime/scan_msg.h"
#include "scan/rules/scan_rules.h"
#include "scan/rules/scan_rules_eval_int.h" /* rules_eval_date_parse */
#include "unit.h"

/* ---------------------------------------------------------------- messages */

#define T_MAX 64

struct tmsg {
	struct scan_msg m;
	struct scan_hdr h[T_MAX];
	struct scan_text body[T_MAX], rawbody[T_MAX];
	const char *uris[T_MAX];
	char names[T_MAX][64], raws[T_MAX][6000], vals[T_MAX][6000];
	char bodies[T_MAX][512], rawlines[T_MAX][512];
};

/* raw: "Name: value\n" lines (continuations start with a space), a blank
 * line, the body (paragraphs split on blank lines). uris: '|'-separated. */
static void tmsg_build(struct tmsg *t, const char *raw, const char *uris)
{
	memset(t, 0, sizeof *t);
	t->m.raw = raw;
	t->m.raw_len = strlen(raw);
	const char *p = raw;
	while (*p && *p != '\n') {
		const char *e = strchr(p, '\n');
		while (e && (e[1] == ' ' || e[1] == '\t'))
			e = strchr(e + 1, '\n');
		if (!e)
			e = p + strlen(p);
		size_t i = t->m.nhdrs++;
		const char *colon = memchr(p, ':', (size_t)(e - p));
		str_ncopy(t->names[i], sizeof t->names[i], p, (size_t)(colon - p));
		str_ncopy(t->raws[i], sizeof t->raws[i], colon + 1, (size_t)(e - colon - 1));
		/* value: unfolded, leading space removed */
		const char *v = colon + 1;
		v += strspn(v, " \t");
		size_t o = 0;
		for (; v < e && o + 1 < sizeof t->vals[i]; v++)
			if (*v != '\n')
				t->vals[i][o++] = *v;
		t->h[i] = (struct scan_hdr){ t->names[i], t->raws[i], t->vals[i] };
		p = *e ? e + 1 : e;
	}
	t->m.hdrs = t->h;
	if (*p == '\n')
		p++;
	t->m.body_off = (size_t)(p - raw);
	/* body[0]: the subject */
	const char *subj = "";
	for (size_t i = 0; i < t->m.nhdrs; i++)
		if (str_caseeq(t->names[i], "Subject"))
			subj = t->vals[i];
	str_copy(t->bodies[0], sizeof t->bodies[0], subj);
	t->m.nbody = 1;
	const char *q = p;
	while (*q) {
		const char *e = strstr(q, "\n\n");
		size_t n = e ? (size_t)(e - q) : strlen(q);
		char *b = t->bodies[t->m.nbody++];
		str_ncopy(b, 512, q, n);
		for (char *c = b; *c; c++)
			if (*c == '\n')
				*c = ' ';
		q += n;
		q += strspn(q, "\n");
	}
	for (size_t i = 0; i < t->m.nbody; i++)
		t->body[i] = (struct scan_text){ t->bodies[i], strlen(t->bodies[i]) };
	t->m.body = t->body;
	for (q = p; *q;) {
		size_t n = strcspn(q, "\n");
		if (q[n] == '\n')
			n++;
		char *r = t->rawlines[t->m.nrawbody];
		str_ncopy(r, 512, q, n);
		t->rawbody[t->m.nrawbody] = (struct scan_text){ r, strlen(r) };
		t->m.nrawbody++;
		q += n;
	}
	t->m.rawbody = t->rawbody;
	static char ubuf[T_MAX][256];
	if (uris)
		for (const char *u = uris; *u;) {
			size_t n = strcspn(u, "|");
			str_ncopy(ubuf[t->m.nuris], 256, u, n);
			t->uris[t->m.nuris] = ubuf[t->m.nuris];
			t->m.nuris++;
			u += n + (u[n] == '|');
		}
	t->m.uris = t->uris;
}

static const char *MSG = "From: \"Alice Example\" <alice@example.org>\n"
			 "To: bob@example.net\n"
			 "Cc: carol@example.com\n"
			 "Subject: Hello there friend\n"
			 "Received: from a by b; Tue, 12 Mar 2024 10:00:00 +0000\n"
			 "Received: from c by d; Tue, 12 Mar 2024 09:59:00 +0000\n"
			 "Date: Tue, 12 Mar 2024 09:58:00 +0000\n"
			 "Message-Id: <1234@example.org>\n"
			 "X-Folded: first\n  second\n"
			 "\n"
			 "Dear friend, click here to win money money money.\n"
			 "\n"
			 "Second paragraph. XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\n";

/* ---------------------------------------------------------------- scoring cases */

struct check_case {
	const char *name;
	const char *rules;
	const char *msg; /* NULL: MSG */
	const char *uris;
	const char *hits; /* scored hits "A B" in rule order, "" none */
	double score;
	int score_set;
	const char *dnsbl; /* "zone=addr zone=addr" */
};

static const struct check_case check_cases[] = {
	{ "header regex", "header A Subject =~ /hello/i\nheader B Subject =~ /nomatch/", NULL, NULL, "A", 1.0, 0, NULL },
	{ "header negated", "header A Subject !~ /nomatch/\nheader B Subject !~ /Hello/", NULL, NULL, "A", 1.0, 0, NULL },
	{ "absent header reads as empty", "header A X-None !~ /x/\nheader B X-None =~ /^$/\nheader C X-None =~ /./",
	  NULL, NULL, "A B", 2.0, 0, NULL },
	{ "if-unset", "header A X-None =~ /^dflt$/ [if-unset: dflt]\nheader B Subject =~ /dflt/ [if-unset: dflt]",
	  NULL, NULL, "A", 1.0, 0, NULL },
	{ "exists", "header A exists:Message-Id\nheader B exists:X-None\nheader C exists:message-id", NULL, NULL,
	  "A C", 2.0, 0, NULL },
	{ "header name case-insensitive", "header A SUBJECT =~ /Hello/", NULL, NULL, "A", 1.0, 0, NULL },
	{ "value ends with newline", "header A Subject =~ /friend\\n$/\nheader B Subject =~ /friend$/", NULL, NULL,
	  "A B", 2.0, 0, NULL },
	{ "same-name headers joined", "header A Received =~ /\\+0000\\nfrom c/\nheader B Received =~ /^from c/m",
	  NULL, NULL, "A B", 2.0, 0, NULL },
	{ "addr", "header A From:addr =~ /^alice\\@example\\.org$/\nheader B To:addr =~ /^bob\\@example\\.net$/",
	  NULL, NULL, "A B", 2.0, 0, NULL },
	{ "name", "header A From:name =~ /^Alice Example$/\nheader B To:name =~ /./", NULL, NULL, "A", 1.0, 0, NULL },
	{ "name of a bare <addr>", "header A From:name =~ /^$/\nheader B From:addr =~ /^a\\@b\\.example$/",
	  "From: <a@b.example>\n\nx\n", NULL, "A B", 2.0, 0, NULL },
	{ "raw keeps folding", "header A X-Folded:raw =~ /first\\n  second/\nheader B X-Folded =~ /first  second/",
	  NULL, NULL, "A B", 2.0, 0, NULL },
	{ "ALL", "header A ALL =~ /^Cc: carol/m\nheader B ALL:raw =~ /^X-Folded: first\\n  second$/m", NULL, NULL,
	  "A B", 2.0, 0, NULL },
	{ "ToCc", "header A ToCc =~ /bob.*\\n.*carol/", NULL, NULL, "A", 1.0, 0, NULL },
	{ "MESSAGEID", "header A MESSAGEID =~ /^<1234\\@example\\.org>$/m", NULL, NULL, "A", 1.0, 0, NULL },
	{ "EnvelopeFrom from ctx", "header A EnvelopeFrom =~ /^bounce\\@example\\.com$/\n"
				   "header B EnvelopeFrom:addr =~ /bounce/",
	  NULL, NULL, "A B", 2.0, 0, NULL },
	{ "regex flags and delimiters", "header A Subject =~ m{HELLO}i\nheader B Subject =~ m!there!\n"
					"header C Subject =~ /h e l l o/ix\nbody D m{click\\s+here}",
	  NULL, NULL, "A B C D", 4.0, 0, NULL },
	{ "escaped hash", "body A /money \\#?money/", NULL, NULL, "A", 1.0, 0, NULL },
	{ "body subject is body[0]", "body A /^Hello there/", NULL, NULL, "A", 1.0, 0, NULL },
	{ "body paragraphs", "body A /click here to win money money money\\. Second/\nbody B /win money/", NULL, NULL,
	  "B", 1.0, 0, NULL },
	{ "multiple", "body A /money/\ntflags A multiple\nbody B /money/", NULL, NULL, "A B", 4.0, 0, NULL },
	{ "maxhits", "body A /money/\ntflags A multiple maxhits=2", NULL, NULL, "A", 2.0, 0, NULL },
	{ "rawbody lines", "rawbody A /^Second paragraph/\nrawbody B /friend, click here to win money money money\\.\\n$/",
	  NULL, NULL, "A B", 2.0, 0, NULL },
	{ "full", "full A /^Subject: Hello.*\\n\\nDear/ms\nfull B /^Dear/", NULL, NULL, "A", 1.0, 0, NULL },
	{ "uri", "uri A /^https?:\\/\\/evil\\.example\\//\nuri B /good/", NULL, "http://a.example/|https://evil.example/x",
	  "A", 1.0, 0, NULL },
	{ "GTUBE builtin", "include builtin", NULL, NULL, "GTUBE MX_CLICK_HERE", 1000.3, 0, NULL },
	{ "score default T_ and __", "header A Subject =~ /Hello/\nheader T_B Subject =~ /Hello/\n"
				     "header __C Subject =~ /Hello/",
	  NULL, NULL, "A T_B", 1.01, 0, NULL },
	{ "score set 0 of 4", "header A Subject =~ /Hello/\nscore A 2 3 4 5", NULL, NULL, "A", 2.0, 0, NULL },
	{ "score set 1 of 4", "header A Subject =~ /Hello/\nscore A 2 3 4 5", NULL, NULL, "A", 3.0, 1, NULL },
	{ "score before rule, negative", "score A -1.5\nheader A Subject =~ /Hello/", NULL, NULL, "A", -1.5, 0, NULL },
	{ "nice default", "header A Subject =~ /Hello/\ntflags A nice", NULL, NULL, "A", -1.0, 0, NULL },
	{ "score 0 disables", "header A Subject =~ /Hello/\nscore A 0\nheader B Subject =~ /Hello/", NULL, NULL, "B", 1.0, 0, NULL },
	{ "score 0 rule still feeds a meta", "header A Subject =~ /Hello/\nscore A 0\nmeta M A", NULL, NULL, "M", 1.0, 0, NULL },
	{ "redefinition replaces", "header A Subject =~ /nomatch/\nheader A Subject =~ /Hello/", NULL, NULL, "A", 1.0, 0, NULL },
	{ "meta and or not", "header __A Subject =~ /Hello/\nheader __B Subject =~ /nomatch/\n"
			     "meta M1 __A && !__B\nmeta M2 __A && __B\nmeta M3 (__B || __A) && !(__B)",
	  NULL, NULL, "M1 M3", 2.0, 0, NULL },
	{ "meta arithmetic", "body __A /money/\ntflags __A multiple\nheader __B Subject =~ /Hello/\n"
			     "meta M1 (__A + __B) > 3\nmeta M2 __A * 2 == 6\nmeta M3 __A - __B >= 3\nmeta M4 __A / 0",
	  NULL, NULL, "M1 M2", 2.0, 0, NULL },
	{ "meta precedence", "header __A Subject =~ /Hello/\nmeta M1 __A || 0 && 0\nmeta M2 1 + 2 * 3 == 7\n"
			     "meta M3 -1 + 2 == 1\nmeta M4 !0 + 1 == 2",
	  NULL, NULL, "M1 M2 M3 M4", 4.0, 0, NULL },
	{ "meta of metas in any order", "meta M2 __M1 && __A\nmeta __M1 __A\nheader __A Subject =~ /Hello/", NULL,
	  NULL, "M2", 1.0, 0, NULL },
	{ "meta cycle disabled", "meta M1 M2 || __A\nmeta M2 M1\nmeta M3 __A\nheader __A Subject =~ /Hello/", NULL,
	  NULL, "M3", 1.0, 0, NULL },
	{ "meta unknown rule is 0", "meta M1 !NOSUCH\nmeta M2 NOSUCH", NULL, NULL, "M1", 1.0, 0, NULL },
	{ "ifplugin absent", "ifplugin Mail::SpamAssassin::Plugin::DNSEval\nheader A Subject =~ /Hello/\nendif", NULL,
	  NULL, "", 0, 0, NULL },
	{ "ifplugin loaded", "loadplugin Mail::SpamAssassin::Plugin::DNSEval\n"
			     "ifplugin Mail::SpamAssassin::Plugin::DNSEval\nheader A Subject =~ /Hello/\nendif",
	  NULL, NULL, "A", 1.0, 0, NULL },
	{ "ifplugin not emulated", "loadplugin Mail::SpamAssassin::Plugin::Pyzor\n"
				   "ifplugin Mail::SpamAssassin::Plugin::Pyzor\nheader A Subject =~ /Hello/\nelse\n"
				   "header B Subject =~ /Hello/\nendif",
	  NULL, NULL, "B", 1.0, 0, NULL },
	{ "if version and nesting", "if (version >= 3.004000)\n if !(version < 4)\n  header A Subject =~ /Hello/\n"
				    " else\n  header B Subject =~ /Hello/\n endif\nelse\nheader C Subject =~ /Hello/\nendif\n"
				    "if version > 5\nheader D Subject =~ /Hello/\nendif",
	  NULL, NULL, "A", 1.0, 0, NULL },
	{ "if can and plugin", "if can(Mail::SpamAssassin::Conf::feature_bug6558_free) && !plugin(X::Y)\n"
			       "header A Subject =~ /Hello/\nendif\nif can(Mail::SpamAssassin::Conf::nosuch)\n"
			       "header B Subject =~ /Hello/\nendif",
	  NULL, NULL, "A", 1.0, 0, NULL },
	{ "ignored directives", "lang de body A /Hello/\nrequire_version 4.000001\npriority A -100\n"
				"report_safe 0\ntest A ok Hello\nheader A Subject =~ /Hello/",
	  NULL, NULL, "A", 1.0, 0, NULL },
	{ "bad regex disables its rule only", "body A /(?<!a+)b/\nbody B /\\x{0456}/\nheader C Subject =~ /Hello/",
	  NULL, NULL, "C", 1.0, 0, NULL },
	{ "check_rbl", "header A eval:check_rbl('zen', 'zen.spamhaus.org.')\n"
		       "header B eval:check_rbl('zen-lastexternal', 'zen.spamhaus.org.', '^127\\.0\\.0\\.[4567]$')\n"
		       "header C eval:check_rbl_sub('zen', '127.0.0.2')\nheader D eval:check_rbl_sub('zen', '127.0.0.3')\n"
		       "header E eval:check_rbl('other', 'bl.example.')",
	  NULL, NULL, "A B C", 3.0, 0, "zen.spamhaus.org=127.0.0.2 zen.spamhaus.org=127.0.0.4 bl.example=10.0.0.1" },
	{ "check_rbl bitmask", "header A eval:check_rbl('rp', 'r.example.', '2')\nheader B eval:check_rbl_sub('rp', '4')\n"
			       "header C eval:check_rbl_sub('rp', '8')",
	  NULL, NULL, "A B", 2.0, 0, "r.example=127.0.0.6" },
	{ "check_rbl no ctx", "header A eval:check_rbl('zen', 'zen.spamhaus.org.')", NULL, NULL, "", 0, 0, NULL },
	{ "check_rbl_txt without a TXT answer (\"\", as the gateway passes it)",
	  "header A eval:check_rbl_txt('zen', 'zen.spamhaus.org.')\nheader B eval:check_rbl('zen', 'zen.spamhaus.org.')",
	  NULL, NULL, "B", 1.0, 0, "zen.spamhaus.org=127.0.0.2" },
	{ "header count range", "header A eval:check_header_count_range('Received', '2', '3')\n"
				"header B eval:check_header_count_range('Subject', '2', '999')",
	  NULL, NULL, "A", 1.0, 0, NULL },
	{ "shifted date", "header A eval:check_for_shifted_date('-6', '-3')\nheader B eval:check_for_shifted_date('-3', '3')\n"
			  "header C eval:check_for_shifted_date('undef', '-6')",
	  NULL, NULL, "B", 1.0, 0, NULL },
	{ "shifted date future", "header A eval:check_for_shifted_date('24', 'undef')",
	  "Received: x; Tue, 12 Mar 2024 10:00:00 +0000\nDate: Fri, 15 Mar 2024 10:00:00 +0200\n\nx\n", NULL, "A", 1.0, 0, NULL },
	{ "missing To and all caps", "header A eval:check_for_missing_to_header()\nheader B eval:subject_is_all_caps()",
	  "Subject: BUY CHEAP STUFF NOW\n\nx\n", NULL, "A B", 2.0, 0, NULL },
	{ "illegal chars", "header A eval:check_illegal_chars('Subject', '0.00', '2')\n"
			   "header B eval:check_illegal_chars('From', '0.20', '2')",
	  "Subject: caf\xe9 na\xefve\nFrom: \xc3\xa9t\xc3\xa9 <a@b>\n\nx\n", NULL, "A", 1.0, 0, NULL },
	{ "body length", "body A eval:check_body_length('10')\nbody B eval:check_body_length('5')", "Subject: x\n\nshort\n",
	  NULL, "A", 1.0, 0, NULL },
	{ "unsupported eval never hits", "header A eval:check_bayes('0.99', '1.00')\nmeta M !A", NULL, NULL, "M", 1.0, 0, NULL },
	{ "relays: none parsed", "header A eval:check_no_relays()\nheader B eval:check_all_trusted()\n"
				 "header C eval:check_relays_unparseable()\nheader D exists:X-Spam-Relays-Untrusted",
	  NULL, NULL, "A D", 2.0, 0, NULL },
	{ "relays: postfix and sendmail, trust stops at a public address",
	  "header A X-Spam-Relays-Untrusted =~ /^\\[ ip=192\\.0\\.2\\.1 rdns=mail\\.example\\.org helo=box by=mx\\.example\\.net "
	  "ident= envfrom= intl=0 id=ABC123 auth= msa=0 \\] \\[ ip=10\\.1\\.1\\.1 rdns= helo=inner /\n"
	  "header B X-Spam-Relays-Trusted =~ /^\\[ ip=127\\.0\\.0\\.1 rdns=localhost /\n"
	  "header C X-Spam-Relays-External =~ /^[^\\]]+ rdns= /\nheader D X-Spam-Relays-Internal =~ /ip=127/\n"
	  "header E eval:check_no_relays()\nheader F eval:check_all_trusted()",
	  "Received: from localhost (localhost [127.0.0.1])\n by mx.example.net (Postfix) with ESMTP id LOC1;"
	  " Tue, 12 Mar 2024 10:00:01 +0000\n"
	  "Received: from box (mail.example.org. [192.0.2.1])\n by mx.example.net (Postfix) with ESMTP id ABC123;"
	  " Tue, 12 Mar 2024 10:00:00 +0000\n"
	  "Received: from inner ([10.1.1.1]) by box (8.14/8.14) with ESMTP id x1; Tue, 12 Mar 2024 09:59:00 +0000\n"
	  "\nx\n",
	  NULL, "A B D", 3.0, 0, NULL },
	{ "relays: exim and qmail, rdns none", "header A X-Spam-Relays-Untrusted =~ /^\\[ ip=198\\.51\\.100\\.7 rdns= "
					      "helo=spammer\\.example by=mx /\nheader B X-Spam-Relays-Untrusted =~ "
					      "/ \\[ ip=203\\.0\\.113\\.9 rdns= helo=q\\.example by=relay /",
	  "Received: from [198.51.100.7] (helo=spammer.example) by mx with esmtp (Exim 4.96) id 1abc-00;"
	  " Tue, 12 Mar 2024 10:00:00 +0000\n"
	  "Received: from unknown (HELO q.example) (203.0.113.9) by relay with SMTP; 12 Mar 2024 09:00:00 -0000\n\nx\n",
	  NULL, "A B", 2.0, 0, NULL },
	{ "relays: all trusted, unparseable", "header A eval:check_all_trusted()\nheader B eval:check_relays_unparseable()",
	  "Received: from a (b [192.168.1.2]) by c (Postfix) with ESMTP id Q1; Tue, 12 Mar 2024 10:00:00 +0000\n\nx\n",
	  NULL, "A", 1.0, 0, NULL },
	{ "relays: unparseable", "header A eval:check_all_trusted()\nheader B eval:check_relays_unparseable()\n"
				 "header C eval:check_no_relays()",
	  "Received: from a (b [192.168.1.2]) by c (Postfix) with ESMTP id Q1; Tue, 12 Mar 2024 10:00:00 +0000\n"
	  "Received: from somewhere (no address) by d with SMTP id Q2; Tue, 12 Mar 2024 09:00:00 +0000\n\nx\n",
	  NULL, "B", 1.0, 0, NULL },
	{ "relays: authenticated public relay is trusted", "header A eval:check_all_trusted()",
	  "Received: from pc (dsl.example [198.51.100.1]) by smtp.example (Postfix) with ESMTPSA id Q3;"
	  " Tue, 12 Mar 2024 10:00:00 +0000\n\nx\n",
	  NULL, "A", 1.0, 0, NULL },
	{ "uppercase", "body A eval:check_for_uppercase('50', '100')",
	  "Subject: x\n\n{{30:WIN BIG NOW }}\n", NULL, "A", 1.0, 0, NULL },
	{ "FreeMail", "loadplugin Mail::SpamAssassin::Plugin::FreeMail\nifplugin Mail::SpamAssassin::Plugin::FreeMail\n"
	  "freemail_domains gmail.com yahoo.* *.free.hr bad_dom.com\nfreemail_welcomelist friend@gmail.com\n"
	  "header FF eval:check_freemail_from()\nheader FFD eval:check_freemail_from('\\d@')\n"
	  "header FR eval:check_freemail_header('Reply-To')\nheader FRD eval:check_freemail_header('Reply-To:addr', '\\d@')\n"
	  "header FE eval:check_freemail_header('EnvelopeFrom')\nheader HD eval:check_equal_from_domains()\nendif",
	  "From: Bob <Bob.Smith@GMail.com>\nReply-To: a7@yahoo.de\nSubject: x\n\nx\n", NULL, "FF FR FRD HD", 4.0, 0, NULL },
	{ "FreeMail welcomelists", "freemail_domains gmail.com yahoo.* *.free.hr\n"
	  "freemail_welcomelist friend@gmail.com\nheader FF eval:check_freemail_from()\n"
	  "header FR eval:check_freemail_header('Reply-To')\nheader FW eval:check_freemail_header('Cc')\n"
	  "header HD eval:check_equal_from_domains()",
	  "From: friend@gmail.com\nReply-To: info@yahoo.de\nCc: x@mail.free.hr\nSender: a@b.mail.example.com\n\nx\n", NULL,
	  "FW HD", 2.0, 0, NULL },
	{ "FreeMail wildcards; no list, no hit", "freemail_domains *.free.hr\nheader FF eval:check_freemail_from()\n"
	  "header FR eval:check_freemail_header('Reply-To')\nheader HD eval:check_equal_from_domains()",
	  "From: x@sub.mail.free.hr\nReply-To: x@free.hr\n\nx\n", NULL, "HD", 1.0, 0, NULL },
	{ "FreeMail: no freemail_domains", "header FF eval:check_freemail_from()\nheader HD eval:check_equal_from_domains()",
	  "From: x@gmail.com\n\nx\n", NULL, "HD", 1.0, 0, NULL },
	{ "forged gmail", "header G eval:check_for_forged_gmail_received_headers()",
	  "From: x@GMail.com\nReceived: from a by mx.example with ESMTP id 1\n\nx\n", NULL, "G", 1.0, 0, NULL },
	{ "gmail with Google traces", "header G eval:check_for_forged_gmail_received_headers()\n"
	  "header G2 eval:check_for_forged_gmail_received_headers()",
	  "From: x@gmail.com\nX-Received: by 10.1.2.3 with SMTP id abc; Tue, 12 Mar 2024 10:00:00 +0000\n\nx\n", NULL, "",
	  0.0, 0, NULL },
	{ "gmail: long state fields, ESMTPSA", "header G eval:check_for_forged_gmail_received_headers()",
	  "From: x@gmail.com\nX-Gm-Message-State: {{60:a}}\nX-Google-Smtp-Source: {{60:b}}\n\nx\n", NULL, "", 0.0, 0,
	  NULL },
	{ "not gmail", "header G eval:check_for_forged_gmail_received_headers()",
	  "From: x@notgmail.com.example\n\nx\n", NULL, "", 0.0, 0, NULL },
	{ "env and header from match", "header M eval:check_for_matching_env_and_hdr_from()",
	  "From: Bounce <BOUNCE@example.com>\n\nx\n", NULL, "M", 1.0, 0, NULL },
	{ "env and header from differ", "header M eval:check_for_matching_env_and_hdr_from()",
	  "From: other@example.com\n\nx\n", NULL, "", 0.0, 0, NULL },
	{ "equal from domains: second level", "header HD eval:check_equal_from_domains()",
	  "From: x@mail.Example.COM\n\nx\n", NULL, "", 0.0, 0, NULL },
};

/* Messages through scan_msg_parse() (MIME parts and entities). */
static const struct check_case parsed_cases[] = {
#define HTML_RULES                                                                                    \
	"body LOWC eval:html_test('font_low_contrast')\nbody FACE eval:html_test('font_face_bad')\n"      \
	"body INVAL eval:html_test('font_invalid_color')\nbody CENTER eval:html_tag_balance('center', '!= 0')\n" \
	"body BODYB eval:html_tag_balance('body', '!= 0')\nbody R02 eval:html_image_ratio('0.000','0.002')\n" \
	"body R04 eval:html_image_ratio('0.002','0.004')\nbody LINKIMG eval:html_text_match('anchor', '<img>')\n" \
	"body LARGE eval:html_range('max_size', '5', '6')\nbody HUGE eval:html_range('max_size', '6', 'inf')\n" \
	"body LEN1K eval:html_range('length', '0', '1024')\n"
#define HTML_MSG(body) "Subject: x\nContent-Type: text/html\n\n" body "\n"
	/* HTMLEval's results, from SpamAssassin 4.0.1's HTML.pm behaviour */
	{ "html: white on white, a face that is no font name, an open center", HTML_RULES,
	  HTML_MSG("<html><body><font color=\"#FFFFFF\" face=\"@@##\">hidden words</font><center>visible</body></html>"),
	  NULL, "LOWC FACE CENTER LEN1K", 4.0, 0, NULL },
	{ "html: near-white in a style, fonts named properly, balanced", HTML_RULES,
	  HTML_MSG("<p style=\"color: #fefefe; background-color: white\">faint</p>"
		   "<font face=\"Arial, Helvetica, sans-serif\" color=red>red</font><center>c</center>"),
	  NULL, "LOWC LEN1K", 2.0, 0, NULL },
	{ "html: readable colours, text only in a script is not text", HTML_RULES,
	  HTML_MSG("<body bgcolor=black><font color=\"#000080\">navy on white: bgcolor is not applied</font>"
		   "<script>document.write('<font color=white>x</font>')</script></body>"),
	  NULL, "LEN1K", 1.0, 0, NULL },
	{ "html: an invalid colour, an end tag too many", HTML_RULES,
	  HTML_MSG("<font color=\"ffffff\">no hash: invalid</font></body></body>"), NULL, "INVAL LEN1K", 2.0, 0,
	  NULL },
	{ "html: an image in a link, mostly image: the text/area ratio", HTML_RULES,
	  HTML_MSG("<a href=\"http://x.example/\"><img src=\"a.gif\" width=\"100\" height=\"100\"></a> abc"), NULL,
	  "R02 LINKIMG LEN1K", 3.0, 0, NULL },
	{ "html: 50% wide is 400 octets, 0 high is 200", HTML_RULES,
	  HTML_MSG("<img src=a.gif width=\"50%\" height=0>"
		   "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
		   "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
		   "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"),
	  NULL, "R04 LEN1K", 2.0, 0, NULL }, /* 300 visible characters / 80000 = 0.00375 */
	{ "html: font sizes from basefont and +N", HTML_RULES,
	  HTML_MSG("<basefont size=4><font size=\"+2\">big</font><small>s</small>"), NULL, "LARGE LEN1K", 2.0, 0,
	  NULL },
	{ "html: size 7 is huge", HTML_RULES, HTML_MSG("<font size=7>huge</font>"), NULL, "HUGE LEN1K", 2.0, 0, NULL },
#undef HTML_MSG
#undef HTML_RULES
	/* FreeMail's check_freemail_replyto */
#define FM_RULES                                                                                      \
	"freemail_domains gmail.com yahoo.example *.freemail.example\n"                                  \
	"header FMRT eval:check_freemail_replyto('replyto')\nheader FMR eval:check_freemail_replyto('reply')\n"
	{ "freemail: a freemail From and another freemail Reply-To", FM_RULES,
	  "From: a@gmail.com\nReply-To: b@yahoo.example\nSubject: x\n\nhello\n", NULL, "FMRT FMR", 2.0, 0, NULL },
	{ "freemail: the same address in both: no", FM_RULES,
	  "From: A@gmail.com\nReply-To: a@gmail.com\nSubject: x\n\nhello\n", NULL, "", 0.0, 0, NULL },
	{ "freemail: a freemail Reply-To, another freemail address in the body", FM_RULES,
	  "From: boss@company.example\nReply-To: b@yahoo.example\nSubject: x\n\nwrite to c@mail.freemail.example now\n",
	  NULL, "FMRT", 1.0, 0, NULL },
	{ "freemail: reply: a freemail From, no Reply-To, another freemail address in the body", FM_RULES,
	  "From: a@gmail.com\nSubject: x\n\nwrite to c@yahoo.example today\n", NULL, "FMR", 1.0, 0, NULL },
	{ "freemail: an address followed by a label (not fax, tel, phone, mail), or in a URL, is not counted",
	  FM_RULES, "From: a@gmail.com\nSubject: x\n\nc@yahoo.example name: Joe http://x.example/?m=d@yahoo.example\n",
	  NULL, "", 0.0, 0, NULL },
	{ "freemail: ... followed by phone: it is", FM_RULES,
	  "From: a@gmail.com\nSubject: x\n\nc@yahoo.example phone: 1234\n", NULL, "FMR", 1.0, 0, NULL },
	{ "freemail: five addresses in the body: the body is skipped", FM_RULES,
	  "From: a@gmail.com\nSubject: x\n\nc@yahoo.example d@o.example e@o.example f@o.example g@o.example\n", NULL,
	  "", 0.0, 0, NULL },
#undef FM_RULES
	{ "ascii text illegal: 8-bit octets in a charset-less text/plain",
	  "body PP eval:check_for_ascii_text_illegal()", "Subject: x\nContent-Type: text/plain\n\ncaf\xe9 au lait\n",
	  NULL, "PP", 1.0, 0, NULL },
	{ "ascii text illegal: not with a charset that allows them, nor base64",
	  "body PP eval:check_for_ascii_text_illegal()",
	  "Subject: x\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain; charset=iso-8859-1\n\n"
	  "caf\xe9\n--b\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\nY2Fm6Q==\n--b--\n",
	  NULL, "", 0.0, 0, NULL },
	{ "similar_recipients: five alike", "header SIM eval:similar_recipients('0.65','undef')",
	  "To: aa1@x.example, \"Bo\" <aa2@y.example>, aa3@z.example (c)\nCc: aa4@w.example, aa5@v.example\n"
	  "Subject: x\n\nhi\n", NULL, "SIM", 1.0, 0, NULL },
	{ "similar_recipients: four are too few, the same address twice counts once",
	  "header SIM eval:similar_recipients('0.65','undef')",
	  "To: aa1@x.example, aa2@y.example, AA2@y.example\nCc: aa4@w.example\nSubject: x\n\nhi\n", NULL, "", 0.0, 0,
	  NULL },
	{ "similar_recipients: five unlike", "header SIM eval:similar_recipients('0.65','undef')",
	  "To: ann@x.example, bob@y.example, cy@z.example, dan@w.example, eve@v.example\nSubject: x\n\nhi\n", NULL,
	  "", 0.0, 0, NULL },
	{ "mimeheader", "loadplugin Mail::SpamAssassin::Plugin::MIMEHeader\n"
	  "ifplugin Mail::SpamAssassin::Plugin::MIMEHeader\nmimeheader GIF Content-Type =~ /^image\\/gif\\b/i\nendif\n"
	  "mimeheader TXT Content-Type =~ /text\\/\\w+/i\nmimeheader NOPDF Content-Type !~ /pdf/\n"
	  "mimeheader NOZIP Content-Type !~ /zip/\nmimeheader CID Content-ID =~ /^<img1\\@x>$/\n"
	  "mimeheader RAW Content-Disposition:raw =~ /inline;\\n\\tfilename/\n"
	  "mimeheader UNSET X-None =~ /^none$/ [if-unset: none]\nmimeheader ALLX ALL =~ /x/\n"
	  "mimeheader MULTI Content-Type =~ /^(?:multipart|image)\\//\ntflags MULTI multiple\n"
	  "meta NOTEXT !TXT",
	  "Subject: x\nContent-Type: multipart/related; boundary=b\n\n--b\nContent-Type: application/pdf\n\nx\n--b\n"
	  "Content-Type: IMAGE/GIF; name=a.gif\nContent-ID: <img1@x>\nContent-Disposition: inline;\n\tfilename=a.gif\n"
	  "Content-Transfer-Encoding: base64\n\nR0lGODlh\n--b--\n",
	  NULL, "GIF NOZIP CID RAW UNSET MULTI NOTEXT", 7.0, 0, NULL }, /* MULTI: IMAGE/GIF is upper case */
	{ "mimeheader: single part, message/rfc822 inside", "mimeheader TXT Content-Type =~ /text\\/plain/\n"
	  "mimeheader N Content-Type =~ /message\\/rfc822/\nmimeheader H Content-Type =~ /text\\/html/\n"
	  "tflags TXT multiple",
	  "Subject: x\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nhi\n--b\n"
	  "Content-Type: message/rfc822\n\nSubject: in\nContent-Type: text/html\n\n<p>x</p>\n--b--\n",
	  NULL, "TXT N H", 3.0, 0, NULL },
	{ "multipart without its boundary: one text part", "body __NONEMPTY /\\S/\ntflags __NONEMPTY nosubject\n"
	  "meta EMPTY !__NONEMPTY\nbody T /message 1 --BOUNDARY Content/\nrawbody R /^message 2$/\n"
	  "mimeheader TXT Content-Type =~ /text\\/plain/\nbody HM eval:html_test('html')",
	  "Subject: x\nContent-Type: multipart/mixed; boundary=BOUNDARY_\n\n--BOUNDARY\nContent-Type: text/plain\n\n"
	  "message 1\n--BOUNDARY\nContent-Type: text/plain\n\nmessage 2\n--BOUNDARY--\n",
	  NULL, "T R", 2.0, 0, NULL },
	{ "relays: a fetchmail pick-up is no relay and forgets the trusted ones above it; a local submission is skipped",
	  "header T X-Spam-Relays-Trusted =~ /./\nheader U X-Spam-Relays-Untrusted =~ /^\\[ ip=192\\.0\\.2\\.7 rdns=x\\.example "
	  "helo=x\\.example by=mx\\.example [^]]*\\]$/\nheader UNP eval:check_relays_unparseable()",
	  "Received: from localhost (localhost [127.0.0.1])\n\tby h.example (Postfix) with ESMTP id A1; Thu, 22 Aug 2002 07:36:16 -0400\n"
	  "Received: from mx.example [127.0.0.1]\n\tby localhost with IMAP (fetchmail-5.9.0)\n\tfor u@localhost (single-drop); "
	  "Thu, 22 Aug 2002 12:36:16 +0100 (IST)\n"
	  "Received: from x.example (x.example [192.0.2.7]) by mx.example (8.11.6/8.11.6) with ESMTP id g7M; "
	  "Thu, 22 Aug 2002 12:34:53 +0100\n"
	  "Received: (from user@localhost) by x.example (8.12.11/8.12.11/Submit) id iBA; Thu, 22 Aug 2002 12:30:00 +0100\n"
	  "Subject: x\n\nbody\n", NULL, "U", 1.0, 0, NULL },
	{ "helo_ip_mismatch: a public IPv4 HELO in another /24", "header M eval:helo_ip_mismatch()",
	  "Received: from 203.0.113.9 (x.example [198.51.100.7]) by mx.example (Postfix) with ESMTP id A1; Thu, 22 Aug 2002 07:36:16 -0400\n" "Subject: x\n\nbody\n", NULL, "M", 1.0, 0, NULL },
	{ "helo_ip_mismatch: same /24", "header M eval:helo_ip_mismatch()",
	  "Received: from 198.51.100.9 (x.example [198.51.100.7]) by mx.example (Postfix) with ESMTP id A1; Thu, 22 Aug 2002 07:36:16 -0400\n" "Subject: x\n\nbody\n", NULL, "", 0.0, 0, NULL },
	{ "forged yahoo: a yahoo.com From through other relays only", "header Y eval:check_for_forged_yahoo_received_headers()",
	  "Received: from mail.example (x.example [198.51.100.7]) by mx.example (Postfix) with ESMTP id A1; Thu, 22 Aug 2002 07:36:16 -0400\n" "From: a@yahoo.com\nSubject: x\n\nbody\n", NULL, "Y", 1.0, 0, NULL },
	{ "forged yahoo: Yahoo's web mail relay", "header Y eval:check_for_forged_yahoo_received_headers()",
	  "Received: from [198.51.100.7] by web12.mail.yahoo.com via HTTP; Thu, 22 Aug 2002 07:36:16 -0400\n"
	  "Received: from mail.example (x.example [198.51.100.7]) by mx.example (Postfix) with ESMTP id A1; Thu, 22 Aug 2002 07:36:16 -0400\n" "From: a@yahoo.com\nSubject: x\n\nbody\n", NULL, "", 0.0, 0, NULL },
	{ "relays: \")by \" without its space (the first one fixed, as SpamAssassin)",
	  "header U X-Spam-Relays-Untrusted =~ /^\\[ ip=192\\.0\\.2\\.7 rdns=a\\.example helo=a\\.example by=mx\\.example /",
	  "Received: from a.example (a.example [192.0.2.7])by mx.example (Postfix) with ESMTP id X1 (x)by y;"
	  " Thu, 22 Aug 2002 12:34:53 +0100\nSubject: x\n\nbody\n", NULL, "U", 1.0, 0, NULL },
	{ "multipart without boundary, field lines first", "body T /^hello there/\nmimeheader H Content-Type =~ /html/\n"
	  "body HM eval:html_test('html')",
	  "Subject: x\nContent-Type: multipart/mixed; boundary=zz\n\nContent-Type: text/html\n\n<p>hello there</p>\n",
	  NULL, "T H", 2.0, 0, NULL },
	{ "html_image_only", "body I04 eval:html_image_only('0000','0040')\nbody I08 eval:html_image_only('0040','0080')\n"
	  "body U eval:html_image_only('0020','0040')",
	  "Subject: x\nContent-Type: text/html; charset=utf-8\n\n<IMG src=\"a.gif\"> \xc3\xa9t\xc3\xa9 caf\xc3\xa9 ok\n",
	  NULL, "I04 U", 2.0, 0, NULL },
	{ "html_image_only: no img, plain text", "body I eval:html_image_only('0','100')",
	  "Subject: x\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/html\n\n<p>imgs</p>\n--b\n"
	  "Content-Type: text/plain\n\n<img src=x>\n--b--\n", NULL, "", 0.0, 0, NULL },
	{ "nosubject", "body A /\\S/\ntflags A nosubject\nbody B /\\S/\nmeta EMPTY !A", "Subject: x\n\n \n", NULL,
	  "B EMPTY", 2.0, 0, NULL },
	{ "check_for_mime attachment and EMPTY_MESSAGE", "body __ATT eval:check_for_mime('mime_attachment')\n"
	  "body __NONEMPTY /\\S/\ntflags __NONEMPTY nosubject\nmeta EMPTY !__ATT && !__NONEMPTY\n"
	  "body B64 eval:check_for_mime('mime_base64_count')\nbody QP eval:check_for_mime('mime_qp_count')\n"
	  "body NOHTML eval:check_for_mime_html()\nbody UNSUP eval:check_for_mime('mime_base64_blanks')\n"
	  "meta NOTUNSUP !UNSUP",
	  "Subject: report\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n--b\n"
	  "Content-Type: text/plain\n\n\n--b\nContent-Type: application/pdf\nContent-Disposition: attachment; "
	  "filename=\"a.pdf\"\nContent-Transfer-Encoding: base64\n\nJVBERi0=\n--b--\n",
	  NULL, "B64 NOTUNSUP", 2.0, 0, NULL, },
	{ "empty single part is EMPTY_MESSAGE", "body __ATT eval:check_for_mime('mime_attachment')\n"
	  "body __NONEMPTY /\\S/\ntflags __NONEMPTY nosubject\nmeta EMPTY !__ATT && !__NONEMPTY",
	  "Subject: hello\nContent-Type: text/plain\n\n\n", NULL, "EMPTY", 1.0, 0, NULL, },
	{ "HTML only: html_test, tags, mime_html_only", "body HM eval:html_test('html')\n"
	  "body ONLY eval:check_for_mime_html_only()\nbody ANY eval:check_for_mime_html()\n"
	  "body TH eval:html_tag_exists('html')\nbody TB eval:html_tag_exists('body')\n"
	  "body TS eval:html_tag_exists('script')\nbody UNS eval:html_test('font_face_bad')\n"
	  "body QP eval:check_for_mime('mime_qp_count')",
	  "Subject: x\nContent-Type: text/html; charset=us-ascii\nContent-Transfer-Encoding: quoted-printable\n\n"
	  "<HTML><Body bgcolor=3D\"#fff\"><p>hi <b>there</b></p></BODY></html>\n",
	  NULL, "HM ONLY ANY TH TB QP", 6.0, 0, NULL, },
	{ "text only: no HTML rule", "body HM eval:html_test('html')\nbody ONLY eval:check_for_mime_html_only()\n"
	  "body ANY eval:check_for_mime_html()\nbody TH eval:html_tag_exists('html')",
	  "Subject: x\nContent-Type: text/plain\n\n<html> is not a tag here\n", NULL, "", 0.0, 0, NULL, },
	{ "HTML part without html tag, and beside text", "body HM eval:html_test('html')\n"
	  "body ONLY eval:check_for_mime_html_only()\nbody ANY eval:check_for_mime_html()\n"
	  "body TH eval:html_tag_exists('html')\nbody TP eval:html_tag_exists('p')",
	  "Subject: x\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nhi\n--b\n"
	  "Content-Type: text/html\n\n<p>hi</p><htmlx>\n--b--\n", NULL, "HM ANY TP", 3.0, 0, NULL, },
	{ "multipart_alternative_difference", "body D1 eval:multipart_alternative_difference('49', '50')\n"
	  "body D2 eval:multipart_alternative_difference('50', '100')\n"
	  "body D3 eval:multipart_alternative_difference('0', 'undef')\n"
	  "body C1 eval:multipart_alternative_difference_count('0.4', '3')\n"
	  "body C2 eval:multipart_alternative_difference_count('0.5', '3')\n"
	  "body ALT eval:check_for_mime('mime_multipart_alternative')\nbody ONLY eval:check_for_mime_html_only()",
	  "Subject: x\nContent-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain\n\n"
	  "hello world -- !!\n--b\nContent-Type: text/html\n\n<p>hello world</p><p>buy now -- hello</p>\n--b--\n",
	  NULL, "D2 D3 C1 ALT", 4.0, 0, NULL, },
	{ "madiff: text repeats cover HTML words, image-only HTML",
	  "body D0 eval:multipart_alternative_difference('0', '0')\n"
	  "body D99 eval:multipart_alternative_difference('99', '100')",
	  "Subject: x\nContent-Type: multipart/mixed; boundary=o\n\n--o\n"
	  "Content-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain\n\nsale sale\n--b\n"
	  "Content-Type: text/html\n\n<p>sale SALE sale</p>\n--b--\n--o\n"
	  "Content-Type: multipart/alternative; boundary=c\n\n--c\nContent-Type: text/plain\n\nsee the picture\n--c\n"
	  "Content-Type: text/html\n\n<img src=\"cid:x\">\n--c--\n--o--\n",
	  NULL, "D99", 1.0, 0, NULL, },
	{ "replace_rules: tags replaced, other rules keep theirs", "replace_rules A\nbody A /<W> <M>/\nbody B /<W> <M>/\n"
	  "replace_tag W win\nreplace_tag M money", NULL, NULL, "A", 1.0, 0, NULL },
	{ "replace_rules: inter (also before a leading tag), pre, post",
	  "body A /<inter S><W><M>/\nbody B /<pre P>click<T>/\nbody C /<post Q><T>to/\nbody D /^<inter S><W>/\n"
	  "replace_rules A B C D\nreplace_tag W win\nreplace_tag M money\nreplace_tag T here\n"
	  "replace_inter S \\s\nreplace_pre P \\s\nreplace_post Q \\s", NULL, NULL, "A B C", 3.0, 0, NULL },
	{ "replace_rules: a value holding a tag, an unknown tag", "body A /<X>/\nbody B /<NOPE>|<W>x/\n"
	  "replace_tag X <W> money\nreplace_tag W win\nreplace_rules A B", NULL, NULL, "A", 1.0, 0, NULL },
	{ "check_outlook_message_id: token matches Date", "header A eval:check_outlook_message_id()",
	  "Date: Tue, 20 Aug 2002 10:00:00 +0000\nMessage-Id: <000001c24830$0a0b0c0d$0100007f@pc>\n\nx\n", NULL, "",
	  0.0, 0, NULL },
	{ "check_outlook_message_id: token off by 1000 from Date and Received", "header A eval:check_outlook_message_id()",
	  "Received: from a by b; Tue, 20 Aug 2002 10:00:05 +0000\nDate: Tue, 20 Aug 2002 10:00:00 +0000\n"
	  "Message-Id: <000001c24c18$0a0b0c0d$0100007f@pc>\n\nx\n", NULL, "A", 1.0, 0, NULL },
	{ "check_outlook_message_id: matches the oldest Received only", "header A eval:check_outlook_message_id()",
	  "Received: from c by d; Tue, 27 Aug 2002 10:00:00 +0000\nReceived: from a by b; Tue, 20 Aug 2002 10:00:00 +0000\n"
	  "Date: Tue, 27 Aug 2002 10:00:00 +0000\nMessage-Id: <000001c24830$0a0b0c0d$0100007f@pc>\n\nx\n", NULL, "",
	  0.0, 0, NULL },
	{ "madiff: text/html + text/calendar only", "body D eval:multipart_alternative_difference('1', 'undef')",
	  "Subject: x\nContent-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/html\n\n<p>meet</p>\n"
	  "--b\nContent-Type: text/calendar\n\nBEGIN:VCALENDAR\n--b--\n", NULL, "", 0.0, 0, NULL, },
};

static bool parse_msg;

static void run_check(const struct check_case *c)
{
	char rules[8192], raw[8192];
	unit_expand(c->rules, strlen(c->rules), rules, sizeof rules);
	const char *mt = c->msg ? c->msg : MSG;
	unit_expand(mt, strlen(mt), raw, sizeof raw);
	unit_case(c->name, rules, strlen(rules));
	char err[512] = "";
	struct scan_rules_opts o = { .score_set = c->score_set };
	struct scan_rules *r = scan_rules_load_text("t.cf", rules, &o, err, sizeof err);
	U_CHECK(r != NULL);
	if (!r) {
		print_error("     load error: %s\n", err);
		return;
	}
	static struct tmsg t;
	tmsg_build(&t, raw, c->uris);
	struct scan_msg *pm = parse_msg ? scan_msg_parse(raw, strlen(raw), NULL) : NULL;
	struct scan_rules_dnsbl dl[8];
	char dbuf[512];
	size_t nd = 0;
	if (c->dnsbl) {
		str_copy(dbuf, sizeof dbuf, c->dnsbl);
		char *f[8];
		size_t n = str_split(dbuf, " ", f, 8);
		for (size_t i = 0; i < n; i++) {
			char *eq = strchr(f[i], '=');
			*eq = '\0';
			dl[nd++] = (struct scan_rules_dnsbl){ f[i], eq + 1, "" }; /* no TXT: "" as scan.c passes */
		}
	}
	struct scan_rules_ctx ctx = { .dnsbl = dl, .ndnsbl = nd, .env_from = "bounce@example.com" };
	struct scan_rules_result res;
	U_EQ_INT(scan_rules_check(r, pm ? pm : &t.m, &ctx, &res), 0);
	char got[1024] = "";
	size_t o2 = 0;
	for (size_t i = 0; i < res.nhits; i++)
		o2 += (size_t)snprintf(got + o2, sizeof got - o2, "%s%s", i ? " " : "", res.hits[i].name);
	U_EQ_STR(got, c->hits);
	if (fabs(res.score - c->score) > 1e-9)
		unit_failf(__FILE__, __LINE__, "score %.3f, want %.3f", res.score, c->score);
	scan_rules_result_fini(&res);
	scan_rules_free(&r);
	scan_msg_free(&pm);
}

static void test_check(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(check_cases, run_check);
}

static void run_parsed(const struct check_case *c)
{
	parse_msg = true;
	run_check(c);
	parse_msg = false;
}

static void test_check_parsed(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(parsed_cases, run_parsed);
}

/* ---------------------------------------------------------------- load errors */

struct load_case {
	const char *name, *rules;
	const char *err; /* NULL: loads */
};

static const struct load_case load_cases[] = {
	{ "endif without if", "endif", "t.cf:1: endif without if" },
	{ "else without if", "header A Subject =~ /x/\nelse", "t.cf:2: else without if" },
	{ "if not closed", "ifplugin X\nheader A Subject =~ /x/", "not closed by endif" },
	{ "double else", "if 1\nelse\nelse\nendif", "t.cf:3: else without if" },
	{ "bad if", "if version >=\nendif", "t.cf:1: cannot evaluate" },
	{ "if unknown function", "if frobnicate(x)\nendif", "cannot evaluate" },
	{ "missing regex", "header A Subject =~", "t.cf:1: rule A" },
	{ "no operator", "header A Subject /x/", "expected =~ or !~" },
	{ "unterminated", "body A /abc", "unterminated regex" },
	{ "text after regex", "body A /abc/ junk", "unexpected text after the regex" },
	{ "bad name", "body 9A /abc/", "bad rule name" },
	{ "no definition", "body A", "has no definition" },
	{ "bad score", "score A x", "is not a number" },
	{ "score 2 values", "score A 1 2", "1 or 4 numbers" },
	{ "bad meta", "meta M A &&", "malformed expression" },
	{ "meta paren", "meta M (A", "unbalanced '('" },
	{ "meta junk", "meta M A $ B", "unexpected" },
	{ "bad maxhits", "tflags A multiple maxhits=x", "bad maxhits" },
	{ "bad eval", "header A eval:check_rbl(", "expected ')' at the end" },
	{ "eval args", "header A eval:check_rbl('x')", "takes 2 to 3 arguments" },
	{ "eval number", "header A eval:check_for_shifted_date('a', 'b')", "must be numbers" },
	{ "missing include", "include /nonexistent/x.cf", "t.cf:1: cannot read /nonexistent/x.cf" },
	{ "bad required_score", "required_score lots", "is not a number" },
	{ "unknown directives tolerated", "frobnicate 1 2\nbayes_auto_learn 0\nadd_header all X y", NULL },
	{ "comments and blank lines", "# c\n\n   \n  header A Subject =~ /x/ # trailing\n", NULL },
	{ "CRLF lines", "header A Subject =~ /x/\r\nscore A 2\r\n", NULL },
};

static void run_load(const struct load_case *c)
{
	unit_case(c->name, c->rules, strlen(c->rules));
	char err[512] = "";
	struct scan_rules *r = scan_rules_load_text("t.cf", c->rules, NULL, err, sizeof err);
	if (c->err) {
		U_CHECK(r == NULL);
		U_CONTAINS(err, c->err);
	} else {
		U_CHECK(r != NULL);
		if (!r)
			print_error("     load error: %s\n", err);
	}
	scan_rules_free(&r);
}

static void test_load_errors(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(load_cases, run_load);
}

/* ---------------------------------------------------------------- statistics, files, limits */

static void test_stats(void **state)
{
	(void)state;
	unit_case("stats", NULL, 0);
	const char *text = "loadplugin Mail::SpamAssassin::Plugin::Pyzor\n"
			   "ifplugin Mail::SpamAssassin::Plugin::Pyzor\nbody X /x/\nendif\n"
			   "header A Subject =~ /x/\nbody B /x/\nrawbody C /x/\nfull D /x/\nuri E /x/\n"
			   "meta F A\nmeta G H\nmeta H G\nbody I /(?<!a+)b/\nheader J eval:check_pyzor()\n"
			   "header K eval:check_rbl('a', 'b.')\nheader L Subject =~ /x/\nscore L 0\n"
			   "meta U NOSUCH\nrequired_score 6.5\nreport_safe 0\n";
	char err[300];
	struct scan_rules *r = scan_rules_load_text("s.cf", text, NULL, err, sizeof err);
	U_CHECK(r != NULL);
	if (!r)
		return;
	struct scan_rules_stats s;
	scan_rules_stats(r, &s);
	U_EQ_INT(s.rules, 13);
	U_EQ_INT(s.header, 2); /* A K */
	U_EQ_INT(s.body, 1);
	U_EQ_INT(s.rawbody, 1);
	U_EQ_INT(s.full, 1);
	U_EQ_INT(s.uri, 1);
	U_EQ_INT(s.meta, 2); /* F U */
	U_EQ_INT(s.enabled, 8);
	U_EQ_INT(s.eval_native, 1);
	U_EQ_INT(s.eval_unsupported, 1);
	U_EQ_INT(s.bad_regex, 1);
	U_EQ_INT(s.meta_cycle, 2);
	U_EQ_INT(s.meta_unknown, 1);
	U_EQ_INT(s.zero_score, 1);
	U_EQ_INT(s.skipped_plugin, 1);
	U_EQ_INT(s.plugins_unknown, 1);
	U_EQ_INT(s.ignored, 1);
	U_CHECK(s.required == 6.5);
	size_t n = 0;
	U_EQ_STR(scan_rules_unsupported_eval(r, 0, &n), "check_pyzor");
	U_EQ_INT(n, 1);
	U_CHECK(scan_rules_unsupported_eval(r, 1, NULL) == NULL);
	scan_rules_free(&r);
	UNIT_FINISH();
}

static void test_files(void **state)
{
	(void)state;
	unit_case("files, directories, include", NULL, 0);
	char dir[] = "/tmp/test_scan_rules.XXXXXX";
	U_CHECK(mkdtemp(dir) != NULL);
	char p[300];
	FILE *f;
	snprintf(p, sizeof p, "%s/b.cf", dir);
	f = fopen(p, "w");
	fputs("header B Subject =~ /Hello/\nscore A 3\ninclude sub/inc.txt\n", f);
	fclose(f);
	snprintf(p, sizeof p, "%s/a.cf", dir);
	f = fopen(p, "w");
	fputs("ifplugin Mail::SpamAssassin::Plugin::HeaderEval\nheader A Subject =~ /Hello/\nendif\n", f);
	fclose(f);
	snprintf(p, sizeof p, "%s/z.pre", dir);
	f = fopen(p, "w");
	fputs("loadplugin Mail::SpamAssassin::Plugin::HeaderEval\n", f);
	fclose(f);
	snprintf(p, sizeof p, "%s/sub", dir);
	mkdir(p, 0700);
	snprintf(p, sizeof p, "%s/sub/inc.txt", dir);
	f = fopen(p, "w");
	fputs("header C Subject =~ /Hello/\nscore C 0.5\n", f);
	fclose(f);
	const char *paths[] = { dir, "builtin" };
	char err[300];
	struct scan_rules *r = scan_rules_load(paths, 2, NULL, err, sizeof err);
	U_CHECK(r != NULL);
	if (r) {
		struct tmsg *t = calloc(1, sizeof *t);
		tmsg_build(t, MSG, NULL);
		struct scan_rules_result res;
		scan_rules_check(r, &t->m, NULL, &res);
		U_CHECK(fabs(res.score - (3 + 1 + 0.5 + 1000 + 0.3)) < 1e-9);
		U_CHECK(res.spam);
		U_EQ_INT(res.nhits, 5);
		scan_rules_result_fini(&res);
		free(t);
		struct scan_rules_stats s;
		scan_rules_stats(r, &s);
		U_EQ_INT(s.files, 5);
	} else {
		print_error("     load error: %s\n", err);
	}
	scan_rules_free(&r);
	/* a directory without the .pre: the ifplugin block is skipped */
	snprintf(p, sizeof p, "%s/z.pre", dir);
	unlink(p);
	const char *paths2[] = { dir };
	r = scan_rules_load(paths2, 1, NULL, err, sizeof err);
	U_CHECK(r != NULL);
	if (r) {
		struct scan_rules_stats s;
		scan_rules_stats(r, &s);
		U_EQ_INT(s.skipped_plugin, 1);
	}
	scan_rules_free(&r);
	const char *missing[] = { "/nonexistent/rules" };
	r = scan_rules_load(missing, 1, NULL, err, sizeof err);
	U_CHECK(r == NULL);
	U_CONTAINS(err, "cannot read /nonexistent/rules");
	U_CHECK(scan_rules_load(NULL, 0, NULL, err, sizeof err) == NULL);
	U_CONTAINS(err, "no rule files");
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	U_EQ_INT(system(cmd), 0);
	UNIT_FINISH();
}

static void test_include_loop(void **state)
{
	(void)state;
	unit_case("include loop", NULL, 0);
	char p[] = "/tmp/test_scan_rules_loop.XXXXXX";
	int fd = mkstemp(p);
	U_CHECK(fd >= 0);
	char line[100];
	int n = snprintf(line, sizeof line, "include %s\n", p);
	U_EQ_INT(write(fd, line, (size_t)n), n);
	close(fd);
	const char *paths[] = { p };
	char err[300];
	struct scan_rules *r = scan_rules_load(paths, 1, NULL, err, sizeof err);
	U_CHECK(r == NULL);
	U_CONTAINS(err, "includes nested deeper than");
	unlink(p);
	UNIT_FINISH();
}

/* A backtracking regex on a hostile header stops at the match limit. */
static void test_match_limit(void **state)
{
	(void)state;
	unit_case("match limit", NULL, 0);
	static char raw[12000];
	strcpy(raw, "Subject: ");
	size_t o = strlen(raw);
	for (int i = 0; i < 5000; i++)
		raw[o++] = 'a';
	strcpy(raw + o, "!\n\nbody\n");
	char err[300];
	struct scan_rules *r = scan_rules_load_text("l.cf", "header A Subject =~ /^(a|aa)+$/\nheader B Subject =~ /a!/",
						    NULL, err, sizeof err);
	U_CHECK(r != NULL);
	if (!r)
		return;
	struct tmsg *t = calloc(1, sizeof *t);
	tmsg_build(t, raw, NULL);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	struct scan_rules_result res;
	scan_rules_check(r, &t->m, NULL, &res);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	U_EQ_INT(res.nhits, 1);
	U_EQ_STR(res.hits[0].name, "B");
	U_CHECK(res.limited >= 1);
	U_CHECK(ms < 2000);
	scan_rules_result_fini(&res);
	scan_rules_free(&r);
	/* body rules read SCAN_RULES_BODY_SCAN_MAX octets of each element */
	r = scan_rules_load_text("l.cf", "body A /^x+$/\nbody B /END/\nbody C /^x{100}/", NULL, err, sizeof err);
	static char big[SCAN_RULES_BODY_SCAN_MAX + 10];
	memset(big, 'x', sizeof big - 4);
	memcpy(big + sizeof big - 4, "END", 4);
	t->body[1] = (struct scan_text){ big, sizeof big - 1 };
	t->m.nbody = 2;
	scan_rules_check(r, &t->m, NULL, &res);
	U_EQ_INT(res.nhits, 2);
	U_EQ_STR(res.nhits ? res.hits[0].name : "", "A");
	scan_rules_result_fini(&res);
	free(t);
	scan_rules_free(&r);
	UNIT_FINISH();
}

/* SpamAssassin's own rule files load (skipped when not installed). */
/* A pattern whose compiled form is over 8-bit PCRE2's 64 KiB (ReplaceTags expansions of
 * SpamAssassin's character-class tags are): compiled for 32-bit units, it matches the same octets,
 * high ones included, as a rule of its own and after a replacement. */
static void test_wide_regex(void **state)
{
	(void)state;
	unit_case("wide regex", NULL, 0);
	struct buf b;
	buf_init(&b);
	/* wide alternations, as the tags' are: 20,000 alternatives of 6 octets */
	buf_puts(&b, "body A /h(?:[e\\xe9]");
	for (int i = 0; i < 20000; i++)
		buf_printf(&b, "|x%05d", i);
	buf_puts(&b, ")llo w/\nbody B /<H><O>/\nreplace_tag H h(?:[e\\xe9]");
	for (int i = 0; i < 20000; i++)
		buf_printf(&b, "|y%05d", i);
	buf_puts(&b, ")llo\nreplace_tag O \\sw\nreplace_rules B\nbody C /nomatch(?:a");
	for (int i = 0; i < 20000; i++)
		buf_printf(&b, "|z%05d", i);
	buf_puts(&b, ")/\n");
	char err[300] = "";
	struct scan_rules *r = scan_rules_load_text("w.cf", b.data, NULL, err, sizeof err);
	buf_fini(&b);
	U_CHECK(r != NULL);
	if (!r) {
		print_error("     load error: %s\n", err);
		UNIT_FINISH();
		return;
	}
	struct scan_rules_stats st;
	scan_rules_stats(r, &st);
	U_EQ_INT(st.bad_regex, 0);
	U_EQ_INT(st.replaced, 1);
	struct tmsg *t = calloc(1, sizeof *t);
	tmsg_build(t, "Subject: x\n\nsay h\xe9llo world\n", NULL);
	struct scan_rules_result res;
	U_EQ_INT(scan_rules_check(r, &t->m, NULL, &res), 0);
	char got[64] = "";
	for (size_t i = 0; i < res.nhits; i++)
		snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", i ? " " : "", res.hits[i].name);
	U_EQ_STR(got, "A B");
	U_EQ_INT(res.limited, 0);
	scan_rules_result_fini(&res);
	free(t);
	scan_rules_free(&r);
	/* a tag naming itself eight times: 8^5 copies after six passes, over 1 MiB: the rule is off */
	buf_init(&b);
	buf_puts(&b, "body A /<X>/\nbody B /win/\nreplace_rules A\nreplace_tag X <X><X><X><X><X><X><X><X>");
	for (int i = 0; i < 250; i++)
		buf_putc(&b, 'a');
	buf_putc(&b, '\n');
	r = scan_rules_load_text("x.cf", b.data, NULL, err, sizeof err);
	buf_fini(&b);
	U_CHECK(r != NULL);
	if (r) {
		scan_rules_stats(r, &st);
		U_EQ_INT(st.bad_regex, 1);
		U_EQ_INT(st.replaced, 0);
		scan_rules_free(&r);
	}
	UNIT_FINISH();
}

/* EnvelopeFrom without a session (mxgate scan): header fields above the Received ones, and none
 * at all when an X-Sender address sits beside a fetchmail hop (SpamAssassin's get_envelope_from). */
static void test_envelope_from(void **state)
{
	(void)state;
	static const struct {
		const char *name, *msg, *hits;
	} cases[] = {
		{ "Return-Path above Received", "Return-Path: <r@x.example>\nReceived: from a by b; Tue, 20 Aug 2002 10:00:00 +0000\n"
		  "From: f@y.example\nSubject: s\n\nbody\n", "E D" },
		{ "Return-Path below Received", "Received: from a by b; Tue, 20 Aug 2002 10:00:00 +0000\nReturn-Path: <r@x.example>\n"
		  "From: f@y.example\nSubject: s\n\nbody\n", "" },
		{ "X-Sender beside fetchmail", "Return-Path: <r@x.example>\nX-Sender: s@z.example\n"
		  "Received: from m [127.0.0.1] by localhost with POP3 (fetchmail-5.9.0) for u@localhost (single-drop); "
		  "Tue, 20 Aug 2002 10:00:00 +0000\nFrom: f@y.example\nSubject: s\n\nbody\n", "" },
	};
	char err[300];
	struct scan_rules *r = scan_rules_load_text(
		"e.cf", "header E EnvelopeFrom =~ /^r\\@x\\.example$/\nheader D eval:check_equal_from_domains()\n", NULL, err,
		sizeof err);
	U_CHECK(r != NULL);
	for (size_t i = 0; r && i < sizeof cases / sizeof cases[0]; i++) {
		unit_case(cases[i].name, cases[i].msg, 0);
		struct scan_msg *m = scan_msg_parse(cases[i].msg, strlen(cases[i].msg), NULL);
		struct scan_rules_result res;
		U_EQ_INT(scan_rules_check(r, m, NULL, &res), 0);
		char got[64] = "";
		for (size_t k = 0; k < res.nhits; k++)
			snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", k ? " " : "", res.hits[k].name);
		U_EQ_STR(got, cases[i].hits);
		scan_rules_result_fini(&res);
		scan_msg_free(&m);
	}
	scan_rules_free(&r);
	UNIT_FINISH();
}

/* SpamAssassin's parse_rfc822_date, case by case (Unix times from Python's calendar.timegm). */
static void test_date_parse(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		long long want;
	} cases[] = {
		{ "Tue, 20 Aug 2002 10:00:00 +0200", 1029830400 },
		{ "20 Aug 2002 10:00 PDT", 1029862800 },	       /* no seconds, a zone name */
		{ "Tue Aug 20 10:00:00 2002", 1029801600 },	       /* ctime: SpamAssassin loses the time */
		{ "Mon,5 Aug 02 10:00:00 GMT", 1028541600 },	       /* comma without space, 2-digit year */
		{ "31 Feb 2002 12:00:00 +0000", 1014984000 },	       /* past the month's end: 1 Mar */
		{ "Tue, 20 Aug 2002 25:61:61 (XYZ)", 1029887999 },    /* clamped; unknown zone: -0000 */
		{ "Tue, 20 Aug 2002 10:00:00 -0700 (PDT)", 1029862800 }, /* the numeric zone wins */
		{ "20 Aug 1969 00:00:00 +0000", 19958400 },	       /* before 1970: 1970 */
		{ "1 Jan 1970 00:30:00 +0100", 0 },		       /* east of UTC near 0 */
		{ "0 Aug 2002 10:00:00 +0000", -1 },		       /* day 0: no date */
		{ "yesterday", -1 },
		{ "", -1 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		long long got = rules_eval_date_parse(cases[i].in);
		if (got != cases[i].want)
			unit_failf(__FILE__, __LINE__, "date \"%s\": %lld, want %lld", cases[i].in, got, cases[i].want);
	}
	UNIT_FINISH();
}

static void test_debian_rules(void **state)
{
	(void)state;
	struct stat st;
	if (stat("/usr/share/spamassassin/50_scores.cf", &st) < 0) {
		printf("[ SKIPPED  ] /usr/share/spamassassin not installed\n");
		return;
	}
	unit_case("debian rules", NULL, 0);
	const char *paths[] = { "/usr/share/spamassassin", "/etc/spamassassin" };
	char err[512];
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	struct scan_rules *r = scan_rules_load(paths, stat("/etc/spamassassin", &st) == 0 ? 2 : 1, NULL, err, sizeof err);
	clock_gettime(CLOCK_MONOTONIC, &b);
	U_CHECK(r != NULL);
	if (!r) {
		print_error("     load error: %s\n", err);
		UNIT_FINISH();
		return;
	}
	struct scan_rules_stats s;
	scan_rules_stats(r, &s);
	printf("[ RULES    ] load %.0f ms: %zu rules, %zu enabled (header %zu body %zu rawbody %zu full %zu uri %zu "
	       "meta %zu), eval native %zu unsupported %zu, bad regex %zu, meta cycles %zu, score 0 %zu, "
	       "skipped in if blocks %zu, plugins not emulated %zu, other directives %zu, files %zu\n",
	       (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6, s.rules, s.enabled,
	       s.header, s.body, s.rawbody, s.full, s.uri, s.meta, s.eval_native, s.eval_unsupported, s.bad_regex,
	       s.meta_cycle, s.zero_score, s.skipped_plugin, s.plugins_unknown, s.ignored, s.files);
	U_CHECK(s.rules > 1000);
	U_CHECK(s.bad_regex < 10);
	U_CHECK(s.meta > 100);
	U_CHECK(s.eval_native > 10);
	/* a GTUBE message is spam with SpamAssassin's own rules too */
	struct tmsg *t = calloc(1, sizeof *t);
	tmsg_build(t, MSG, NULL);
	struct scan_rules_result res;
	scan_rules_check(r, &t->m, NULL, &res);
	bool gtube = false;
	for (size_t i = 0; i < res.nhits; i++)
		gtube |= strcmp(res.hits[i].name, "GTUBE") == 0;
	U_CHECK(gtube);
	U_CHECK(res.spam);
	scan_rules_result_fini(&res);
	free(t);
	scan_rules_free(&r);
	UNIT_FINISH();
}

int main(void)
{
	log_init("test", -1, LOG_L_ERR);
	scan_mime_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check),	       cmocka_unit_test(test_check_parsed),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_stats),	       cmocka_unit_test(test_files),
		cmocka_unit_test(test_include_loop),   cmocka_unit_test(test_match_limit),
		cmocka_unit_test(test_debian_rules),   cmocka_unit_test(test_date_parse),
		cmocka_unit_test(test_wide_regex),     cmocka_unit_test(test_envelope_from),
	};
	UNIT_MAIN(tests);
}
