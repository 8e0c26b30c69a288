/*
 * test_mail_cmd.c - SMTP command lines and ESMTP parameters
 * (mail/mail_cmd.c): verbs, parameter lists, MAIL FROM / RCPT TO with
 * SIZE, BODY, SMTPUTF8, DSN (RET, ENVID, NOTIFY, ORCPT) and BDAT, each with
 * valid, invalid and limit cases.
 */
#include "unit.h"

#include <stdbool.h>

#include "mail/mail_cmd.h"

/* ---- mail_cmd_parse ---- */

struct verb_case {
	const char *name;
	const char *in;
	enum mail_verb want_verb;
	const char *want_arg; /* NULL: don't check */
};

static const struct verb_case verb_cases[] = {
	{ "HELO", "HELO mx.example", MAIL_V_HELO, "mx.example" },
	{ "helo lower", "helo mx.example", MAIL_V_HELO, "mx.example" },
	{ "EhLo mixed", "EhLo mx.example", MAIL_V_EHLO, "mx.example" },
	{ "EHLO no arg", "EHLO", MAIL_V_EHLO, "" },
	{ "MAIL FROM", "MAIL FROM:<a@b.example>", MAIL_V_MAIL, "<a@b.example>" },
	{ "mail from lower", "mail from:<a@b.example>", MAIL_V_MAIL, "<a@b.example>" },
	{ "MAIL FROM space after colon", "MAIL FROM: <a@b.example>", MAIL_V_MAIL, " <a@b.example>" },
	{ "MAIL FROM empty", "MAIL FROM:", MAIL_V_MAIL, "" },
	{ "MAIL without FROM", "MAIL <a@b.example>", MAIL_V_UNKNOWN, NULL },
	{ "MAIL FROM no colon", "MAIL FROM <a@b.example>", MAIL_V_UNKNOWN, NULL },
	{ "MAIL TO", "MAIL TO:<a@b.example>", MAIL_V_UNKNOWN, NULL },
	{ "MAIL alone", "MAIL", MAIL_V_UNKNOWN, NULL },
	{ "MAIL FRO truncated", "MAIL FRO", MAIL_V_UNKNOWN, NULL },
	{ "MAIL two spaces", "MAIL  FROM:<a@b>", MAIL_V_UNKNOWN, NULL },
	{ "RCPT TO", "RCPT TO:<a@b.example> NOTIFY=NEVER", MAIL_V_RCPT, "<a@b.example> NOTIFY=NEVER" },
	{ "rcpt to lower", "rcpt to:<a@b.example>", MAIL_V_RCPT, "<a@b.example>" },
	{ "RCPT FROM", "RCPT FROM:<a@b.example>", MAIL_V_UNKNOWN, NULL },
	{ "RCPT alone", "RCPT", MAIL_V_UNKNOWN, NULL },
	{ "DATA", "DATA", MAIL_V_DATA, "" },
	{ "DATA with arg", "DATA x", MAIL_V_DATA, "x" },
	{ "BDAT", "BDAT 100 LAST", MAIL_V_BDAT, "100 LAST" },
	{ "RSET", "RSET", MAIL_V_RSET, "" },
	{ "NOOP arg", "NOOP hello", MAIL_V_NOOP, "hello" },
	{ "QUIT", "QUIT", MAIL_V_QUIT, "" },
	{ "quit lower", "quit", MAIL_V_QUIT, "" },
	{ "VRFY", "VRFY user", MAIL_V_VRFY, "user" },
	{ "EXPN", "EXPN list", MAIL_V_EXPN, "list" },
	{ "HELP", "HELP", MAIL_V_HELP, "" },
	{ "STARTTLS", "STARTTLS", MAIL_V_STARTTLS, "" },
	{ "starttls lower", "starttls", MAIL_V_STARTTLS, "" },
	{ "AUTH", "AUTH PLAIN AGFAYgBj", MAIL_V_AUTH, "PLAIN AGFAYgBj" },
	{ "ETRN", "ETRN example.com", MAIL_V_ETRN, "example.com" },
	{ "TURN", "TURN", MAIL_V_TURN, "" },
	{ "HTTP GET", "GET / HTTP/1.1", MAIL_V_HTTP, "/ HTTP/1.1" },
	{ "HTTP get lower", "get /", MAIL_V_HTTP, "/" },
	{ "HTTP POST", "POST /form HTTP/1.0", MAIL_V_HTTP, NULL },
	{ "HTTP CONNECT", "CONNECT mx.example:25 HTTP/1.1", MAIL_V_HTTP, NULL },
	{ "HTTP PUT", "PUT /x", MAIL_V_HTTP, NULL },
	{ "HTTP HEAD", "HEAD /", MAIL_V_HTTP, NULL },
	{ "USER (proxy probe)", "USER anonymous", MAIL_V_HTTP, NULL },
	{ "unknown verb", "XYZZY", MAIL_V_UNKNOWN, NULL },
	{ "verb prefix", "HELOX mx", MAIL_V_UNKNOWN, NULL },
	{ "verb truncated", "HEL", MAIL_V_UNKNOWN, NULL },
	{ "leading space", " HELO mx", MAIL_V_UNKNOWN, NULL },
	{ "tab separator", "HELO\tmx", MAIL_V_UNKNOWN, NULL },
	{ "empty line", "", MAIL_V_UNKNOWN, NULL },
	{ "space only", " ", MAIL_V_UNKNOWN, NULL },
};

static void check_verb(const struct verb_case *c)
{
	size_t len = strlen(c->in);
	char *heap = malloc(len ? len : 1); /* exact size: no NUL after the line */
	memcpy(heap, c->in, len);
	unit_case(c->name, c->in, len);
	struct mail_cmd cmd;
	mail_cmd_parse(heap, len, &cmd);
	U_EQ_INT(cmd.verb, c->want_verb);
	U_CHECK(cmd.arg >= heap && cmd.arg + cmd.arg_len == heap + len);
	if (c->want_arg)
		U_EQ_MEM(cmd.arg, cmd.arg_len, c->want_arg, strlen(c->want_arg));
	free(heap);
}

static void test_verb_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(verb_cases, check_verb);
}

static void test_verb_names(void **state)
{
	(void)state;
	unit_case("verb names", NULL, 0);
	U_EQ_STR(mail_verb_name(MAIL_V_EHLO), "EHLO");
	U_EQ_STR(mail_verb_name(MAIL_V_STARTTLS), "STARTTLS");
	U_EQ_STR(mail_verb_name(MAIL_V_UNKNOWN), "UNKNOWN");
	/* every verb (except UNKNOWN) has a name that parses back to it */
	for (int v = MAIL_V_HELO; v < MAIL_V_COUNT; v++) {
		const char *n = mail_verb_name((enum mail_verb)v);
		struct mail_cmd cmd;
		char line[32];
		snprintf(line, sizeof line, "%s%s", n,
			 v == MAIL_V_MAIL ? " FROM:<>" : v == MAIL_V_RCPT ? " TO:<a@b>" : "");
		mail_cmd_parse(line, strlen(line), &cmd);
		U_EQ_INT(cmd.verb, v);
	}
	UNIT_FINISH();
}

/* ---- mail_params_parse ---- */

struct params_case {
	const char *name;
	const char *in;
	int max;
	int want_n;
	const char *want; /* "K=V|K|..." when want_n > 0 */
};

#define P16 "A=1 B=2 C=3 D=4 E=5 F=6 G=7 H=8 I=9 J=10 K=11 L=12 M=13 N=14 O=15 P=16"
#define P16_WANT "A=1|B=2|C=3|D=4|E=5|F=6|G=7|H=8|I=9|J=10|K=11|L=12|M=13|N=14|O=15|P=16"

static const struct params_case params_cases[] = {
	{ "empty", "", 16, 0, "" },
	{ "spaces only", "   ", 16, 0, "" },
	{ "one keyword", "SMTPUTF8", 16, 1, "SMTPUTF8" },
	{ "one key value", "SIZE=100", 16, 1, "SIZE=100" },
	{ "three", "SIZE=100 BODY=8BITMIME SMTPUTF8", 16, 3, "SIZE=100|BODY=8BITMIME|SMTPUTF8" },
	{ "extra spaces", "  SIZE=1   RET=HDRS  ", 16, 2, "SIZE=1|RET=HDRS" },
	{ "hyphen in key", "X-FOO=bar", 16, 1, "X-FOO=bar" },
	{ "digit first key", "1X=y", 16, 1, "1X=y" },
	{ "utf8 value", "ORCPT=utf-8;\xc3\xbc@x", 16, 1, "ORCPT=utf-8;\xc3\xbc@x" },
	{ "value with specials", "ENVID=a+2Bb!~", 16, 1, "ENVID=a+2Bb!~" },
	{ "empty value", "SIZE=", 16, -1, NULL },
	{ "no key", "=100", 16, -1, NULL },
	{ "leading hyphen key", "-X=1", 16, -1, NULL },
	{ "underscore key", "SI_ZE=1", 16, -1, NULL },
	{ "equals in value", "A=B=C", 16, -1, NULL },
	{ "control in value", "A=\x01", 16, -1, NULL },
	{ "DEL in value", "A=\x7f", 16, -1, NULL },
	{ "tab separator", "A=1\tB=2", 16, -1, NULL },
	{ "tab in key", "A\tB", 16, -1, NULL },
	{ "bad char after key", "SIZE:100", 16, -1, NULL },
	{ "15 of max 16", "A=1 B=2 C=3 D=4 E=5 F=6 G=7 H=8 I=9 J=10 K=11 L=12 M=13 N=14 O=15", 16, 15, NULL },
	{ "16 of max 16", P16, 16, 16, P16_WANT },
	{ "17 of max 16", P16 " Q=17", 16, -2, NULL },
	{ "16 with trailing spaces", P16 "   ", 16, 16, P16_WANT },
	{ "max 0 empty", "", 0, 0, "" },
	{ "max 0 one", "A", 0, -2, NULL },
	{ "syntax error before limit", "A=1 B= C=3", 2, -1, NULL },
};

static void check_params(const struct params_case *c)
{
	size_t len = strlen(c->in);
	char *heap = malloc(len ? len : 1);
	memcpy(heap, c->in, len);
	unit_case(c->name, c->in, len);
	struct mail_param p[MAIL_PARAMS_MAX + 4];
	int n = mail_params_parse(heap, len, p, c->max);
	U_EQ_INT(n, c->want_n);
	if (n > 0 && n <= c->max) {
		char got[UNIT_BUF];
		size_t o = 0;
		for (int i = 0; i < n; i++) {
			/* every key and value points into the input */
			U_CHECK(p[i].key >= heap && p[i].key + p[i].klen <= heap + len);
			U_CHECK(!p[i].val || (p[i].val >= heap && p[i].val + p[i].vlen <= heap + len));
			o += (size_t)snprintf(got + o, sizeof got - o, "%s%.*s%s%.*s", i ? "|" : "", (int)p[i].klen,
					      p[i].key, p[i].val ? "=" : "", (int)p[i].vlen, p[i].val ? p[i].val : "");
		}
		if (c->want)
			U_EQ_STR(got, c->want);
	}
	free(heap);
}

static void test_params_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(params_cases, check_params);
}

/* ---- MAIL FROM ---- */

#define LIMIT 10000000
static const struct mail_ext ext_all = { true, true, true, true, true, true, LIMIT };
static const struct mail_ext ext_nolimit = { true, true, true, true, true, true, 0 };
static const struct mail_ext ext_none = { 0 };
static const struct mail_ext ext_no_binary = { true, true, true, true, true, false, LIMIT };

struct from_case {
	const char *name;
	const char *in;
	const struct mail_ext *ext;
	bool strict;
	int want_code; /* 0 = accepted */
	const char *want_enh;
	const char *want_addr; /* formatted; checked when accepted */
	uint64_t want_size;
	enum mail_body_type want_body;
	bool want_smtputf8;
	enum mail_ret want_ret;
	const char *want_envid; /* NULL = none */
};

static const struct from_case from_cases[] = {
	{ "plain", "<a@b.example>", &ext_all, .want_addr = "a@b.example" },
	{ "null sender", "<>", &ext_all, .want_addr = "" },
	{ "null sender strict", "<>", &ext_all, true, .want_addr = "" },
	{ "bare non-strict", "a@b.example", &ext_all, .want_addr = "a@b.example" },
	{ "bare strict", "a@b.example", &ext_all, true, .want_code = 501, .want_enh = "5.1.7" },
	{ "space non-strict", " <a@b.example>", &ext_all, .want_addr = "a@b.example" },
	{ "space strict", " <a@b.example>", &ext_all, true, .want_code = 501, .want_enh = "5.1.7" },
	{ "empty", "", &ext_all, .want_code = 501, .want_enh = "5.5.4" },
	{ "bad address", "<a b@c.example>", &ext_all, .want_code = 501, .want_enh = "5.1.7" },
	{ "no domain", "<user>", &ext_all, .want_code = 501, .want_enh = "5.1.7" },
	{ "garbage after address", "<a@b.example>x", &ext_all, .want_code = 501, .want_enh = "5.1.7" },
	{ "path 257", "<{{64:a}}@{{93:a.}}bcde>", &ext_all, .want_code = 501, .want_enh = "5.1.7" },
	{ "trailing spaces", "<a@b.example>   ", &ext_all, .want_addr = "a@b.example" },
	/* SIZE (RFC 1870) */
	{ "SIZE", "<a@b.example> SIZE=1000", &ext_all, .want_addr = "a@b.example", .want_size = 1000 },
	{ "SIZE limit-1", "<a@b.example> SIZE=9999999", &ext_all, .want_addr = "a@b.example",
	  .want_size = 9999999 },
	{ "SIZE limit", "<a@b.example> SIZE=10000000", &ext_all, .want_addr = "a@b.example",
	  .want_size = 10000000 },
	{ "SIZE limit+1", "<a@b.example> SIZE=10000001", &ext_all, .want_code = 552, .want_enh = "5.3.4" },
	{ "SIZE u64 max over limit", "<a@b.example> SIZE=18446744073709551615", &ext_all, .want_code = 552,
	  .want_enh = "5.3.4" },
	{ "SIZE u64 max no limit", "<a@b.example> SIZE=18446744073709551615", &ext_nolimit,
	  .want_addr = "a@b.example", .want_size = UINT64_MAX },
	{ "SIZE u64 overflow", "<a@b.example> SIZE=18446744073709551616", &ext_nolimit, .want_code = 501,
	  .want_enh = "5.5.4" },
	{ "SIZE zero", "<a@b.example> SIZE=0", &ext_all, .want_addr = "a@b.example" },
	{ "SIZE not a number", "<a@b.example> SIZE=12k", &ext_all, .want_code = 501, .want_enh = "5.5.4" },
	{ "SIZE negative", "<a@b.example> SIZE=-1", &ext_all, .want_code = 501, .want_enh = "5.5.4" },
	{ "SIZE no value", "<a@b.example> SIZE", &ext_all, .want_code = 501, .want_enh = "5.5.4" },
	{ "SIZE twice", "<a@b.example> SIZE=1 SIZE=2", &ext_all, .want_code = 501, .want_enh = "5.5.4" },
	{ "SIZE lower case key", "<a@b.example> size=5", &ext_all, .want_addr = "a@b.example", .want_size = 5 },
	{ "SIZE extension off", "<a@b.example> SIZE=5", &ext_none, .want_code = 555, .want_enh = "5.5.4" },
	{ "null sender SIZE", "<> SIZE=5", &ext_all, .want_addr = "", .want_size = 5 },
	/* BODY (RFC 6152, RFC 3030) */
	{ "BODY 7BIT", "<a@b.example> BODY=7BIT", &ext_all, .want_addr = "a@b.example", .want_body = MAIL_BODY_7BIT },
	{ "BODY 8BITMIME", "<a@b.example> BODY=8BITMIME", &ext_all, .want_addr = "a@b.example",
	  .want_body = MAIL_BODY_8BITMIME },
	{ "BODY lower case", "<a@b.example> body=8bitmime", &ext_all, .want_addr = "a@b.example",
	  .want_body = MAIL_BODY_8BITMIME },
	{ "BODY BINARYMIME", "<a@b.example> BODY=BINARYMIME", &ext_all, .want_addr = "a@b.example",
	  .want_body = MAIL_BODY_BINARYMIME },
	{ "BODY BINARYMIME not offered", "<a@b.example> BODY=BINARYMIME", &ext_no_binary, .want_code = 501,
	  .want_enh = "5.5.4" },
	{ "BODY unknown", "<a@b.example> BODY=9BIT", &ext_all, .want_code = 501, .want_enh = "5.5.4" },
	{ "BODY no value", "<a@b.example> BODY", &ext_all, .want_code = 501, .want_enh = "5.5.4" },
	{ "BODY twice", "<a@b.example> BODY=7BIT BODY=8BITMIME", &ext_all, .want_code = 501, .want_enh = "5.5.4" },
	{ "BODY extension off", "<a@b.example> BODY=8BITMIME", &ext_none, .want_code = 555, .want_enh = "5.5.4" },
	/* SMTPUTF8 (RFC 6531) */
	{ "SMTPUTF8", "<a@b.example> SMTPUTF8", &ext_all, .want_addr = "a@b.example", .want_smtputf8 = true },
	{ "SMTPUTF8 utf8 address", "<j\xc3\xbcrgen@b\xc3\xbc" "cher.example> SMTPUTF8", &ext_all,
	  .want_addr = "j\xc3\xbcrgen@b\xc3\xbc" "cher.example", .want_smtputf8 = true },
	{ "utf8 address without SMTPUTF8", "<j\xc3\xbcrgen@b.example>", &ext_all, .want_code = 553,
	  .want_enh = "5.6.7" },
	{ "utf8 address SMTPUTF8 off", "<j\xc3\xbcrgen@b.example> SMTPUTF8", &ext_none, .want_code = 555,
	  .want_enh = "5.5.4" },
	{ "SMTPUTF8 with value", "<a@b.example> SMTPUTF8=yes", &ext_all, .want_code = 501, .want_enh = "5.5.4" },
	{ "SMTPUTF8 twice", "<a@b.example> SMTPUTF8 SMTPUTF8", &ext_all, .want_code = 501, .want_enh = "5.5.4" },
	{ "SMTPUTF8 bad utf8 address", "<\xc0\xaf@b.example> SMTPUTF8", &ext_all, .want_code = 501,
	  .want_enh = "5.1.7" },
	{ "SMTPUTF8 extension off", "<a@b.example> SMTPUTF8", &ext_none, .want_code = 555, .want_enh = "5.5.4" },
	/* RET and ENVID (RFC 3461) */
	{ "RET FULL", "<a@b.example> RET=FULL", &ext_all, .want_addr = "a@b.example", .want_ret = MAIL_RET_FULL },
	{ "RET HDRS", "<a@b.example> RET=HDRS", &ext_all, .want_addr = "a@b.example", .want_ret = MAIL_RET_HDRS },
	{ "RET lower", "<a@b.example> ret=hdrs", &ext_all, .want_addr = "a@b.example", .want_ret = MAIL_RET_HDRS },
	{ "RET bad", "<a@b.example> RET=BODY", &ext_all, .want_code = 501, .want_enh = "5.5.4" },
	{ "RET no value", "<a@b.example> RET", &ext_all, .want_code = 501, .want_enh = "5.5.4" },
	{ "RET twice", "<a@b.example> RET=FULL RET=HDRS", &ext_all, .want_code = 501, .want_enh = "5.5.4" },
	{ "RET DSN off", "<a@b.example> RET=FULL", &ext_none, .want_code = 555, .want_enh = "5.5.4" },
	{ "ENVID", "<a@b.example> ENVID=QQ314159", &ext_all, .want_addr = "a@b.example", .want_envid = "QQ314159" },
	{ "ENVID xtext escape", "<a@b.example> ENVID=a+2Bb+3D", &ext_all, .want_addr = "a@b.example",
	  .want_envid = "a+2Bb+3D" },
	{ "ENVID lower hex", "<a@b.example> ENVID=a+2b", &ext_all, .want_code = 501, .want_enh = "5.5.4" },
	{ "ENVID short escape", "<a@b.example> ENVID=a+2", &ext_all, .want_code = 501, .want_enh = "5.5.4" },
	{ "ENVID plus at end", "<a@b.example> ENVID=a+", &ext_all, .want_code = 501, .want_enh = "5.5.4" },
	{ "ENVID non-ascii", "<a@b.example> ENVID=\xc3\xbc", &ext_all, .want_code = 501, .want_enh = "5.5.4" },
	{ "ENVID 99", "<a@b.example> ENVID={{99:x}}", &ext_all, .want_addr = "a@b.example",
	  .want_envid = "{{99:x}}" },
	{ "ENVID 100", "<a@b.example> ENVID={{100:x}}", &ext_all, .want_addr = "a@b.example",
	  .want_envid = "{{100:x}}" },
	{ "ENVID 101", "<a@b.example> ENVID={{101:x}}", &ext_all, .want_code = 501, .want_enh = "5.5.4" },
	{ "ENVID twice", "<a@b.example> ENVID=a ENVID=b", &ext_all, .want_code = 501, .want_enh = "5.5.4" },
	{ "ENVID no value", "<a@b.example> ENVID", &ext_all, .want_code = 501, .want_enh = "5.5.4" },
	{ "ENVID DSN off", "<a@b.example> ENVID=a", &ext_none, .want_code = 555, .want_enh = "5.5.4" },
	/* combinations and unknowns */
	{ "all params", "<a@b.example> SIZE=42 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=id1", &ext_all,
	  .want_addr = "a@b.example", .want_size = 42, .want_body = MAIL_BODY_8BITMIME, .want_smtputf8 = true,
	  .want_ret = MAIL_RET_HDRS, .want_envid = "id1" },
	{ "unknown param", "<a@b.example> FOO=1", &ext_all, .want_code = 555, .want_enh = "5.5.4" },
	{ "unknown keyword after good", "<a@b.example> SIZE=1 FOO", &ext_all, .want_code = 555, .want_enh = "5.5.4" },
	{ "AUTH param not offered", "<a@b.example> AUTH=<>", &ext_all, .want_code = 555, .want_enh = "5.5.4" },
	{ "param syntax error", "<a@b.example> =1", &ext_all, .want_code = 501, .want_enh = "5.5.4" },
	{ "16 unknown params", "<a@b.example> " P16, &ext_all, .want_code = 555, .want_enh = "5.5.4" },
	{ "17 params", "<a@b.example> " P16 " Q=17", &ext_all, .want_code = 501, .want_enh = "5.5.4" },
};

static void check_from(const struct from_case *c)
{
	char in[UNIT_BUF], want_addr[UNIT_BUF], want_envid[UNIT_BUF];
	size_t len = unit_expand(c->in, strlen(c->in), in, sizeof in);
	unit_case(c->name, in, len);
	struct mail_from f;
	struct mail_reply err;
	memset(&err, 0, sizeof err);
	bool ok = mail_cmd_mail_from(in, len, c->ext, c->strict, &f, &err);
	U_EQ_INT(ok, c->want_code == 0);
	if (!ok) {
		U_EQ_INT(err.code, c->want_code);
		if (c->want_enh)
			U_EQ_STR(err.enh, c->want_enh);
		U_CHECK(err.text[0] != '\0');
		return;
	}
	if (c->want_code)
		return;
	char got[MAIL_PATH_MAX];
	mail_addr_format(&f.addr, got, sizeof got);
	unit_expand(c->want_addr, strlen(c->want_addr), want_addr, sizeof want_addr);
	U_EQ_STR(got, want_addr);
	U_EQ_INT(f.addr.null, want_addr[0] == '\0');
	U_EQ_HEX(f.size, c->want_size);
	U_EQ_INT(f.body, c->want_body);
	U_EQ_INT(f.smtputf8, c->want_smtputf8);
	U_EQ_INT(f.ret, c->want_ret);
	U_EQ_INT(f.has_envid, c->want_envid != NULL);
	if (c->want_envid) {
		unit_expand(c->want_envid, strlen(c->want_envid), want_envid, sizeof want_envid);
		U_EQ_STR(f.envid, want_envid);
	}
}

static void test_mail_from_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(from_cases, check_from);
}

/* ---- RCPT TO ---- */

struct rcpt_case {
	const char *name;
	const char *in;
	const struct mail_ext *ext;
	bool utf8;
	bool strict;
	int want_code;
	const char *want_enh;
	const char *want_addr;
	unsigned want_notify;
	const char *want_orcpt;
};

#define NV MAIL_NOTIFY_NEVER
#define SU MAIL_NOTIFY_SUCCESS
#define FA MAIL_NOTIFY_FAILURE
#define DE MAIL_NOTIFY_DELAY

static const struct rcpt_case rcpt_cases[] = {
	{ "plain", "<a@b.example>", &ext_all, .want_addr = "a@b.example" },
	{ "null not allowed", "<>", &ext_all, .want_code = 501, .want_enh = "5.1.3" },
	{ "postmaster", "<postmaster>", &ext_all, .want_addr = "postmaster" },
	{ "Postmaster case", "<Postmaster>", &ext_all, .want_addr = "Postmaster" },
	{ "other local only", "<abuse>", &ext_all, .want_code = 501, .want_enh = "5.1.3" },
	{ "empty", "", &ext_all, .want_code = 501, .want_enh = "5.5.4" },
	{ "bare non-strict", "a@b.example", &ext_all, .want_addr = "a@b.example" },
	{ "bare strict", "a@b.example", &ext_all, false, true, .want_code = 501, .want_enh = "5.1.3" },
	{ "route dropped", "<@relay.example:a@b.example>", &ext_all, .want_addr = "a@b.example" },
	{ "utf8 without SMTPUTF8", "<j\xc3\xbcrgen@b.example>", &ext_all, .want_code = 553, .want_enh = "5.6.7" },
	{ "utf8 with SMTPUTF8", "<j\xc3\xbcrgen@b.example>", &ext_all, true, .want_addr = "j\xc3\xbcrgen@b.example" },
	{ "garbage after", "<a@b.example>junk", &ext_all, .want_code = 501, .want_enh = "5.1.3" },
	/* NOTIFY */
	{ "NOTIFY NEVER", "<a@b.example> NOTIFY=NEVER", &ext_all, .want_addr = "a@b.example", .want_notify = NV },
	{ "NOTIFY SUCCESS", "<a@b.example> NOTIFY=SUCCESS", &ext_all, .want_addr = "a@b.example", .want_notify = SU },
	{ "NOTIFY S,F", "<a@b.example> NOTIFY=SUCCESS,FAILURE", &ext_all, .want_addr = "a@b.example",
	  .want_notify = SU | FA },
	{ "NOTIFY S,F,D", "<a@b.example> NOTIFY=SUCCESS,FAILURE,DELAY", &ext_all, .want_addr = "a@b.example",
	  .want_notify = SU | FA | DE },
	{ "NOTIFY lower", "<a@b.example> notify=failure,delay", &ext_all, .want_addr = "a@b.example",
	  .want_notify = FA | DE },
	{ "NOTIFY D,F order", "<a@b.example> NOTIFY=DELAY,FAILURE", &ext_all, .want_addr = "a@b.example",
	  .want_notify = FA | DE },
	{ "NOTIFY NEVER,SUCCESS", "<a@b.example> NOTIFY=NEVER,SUCCESS", &ext_all, .want_code = 501,
	  .want_enh = "5.5.4" },
	{ "NOTIFY SUCCESS,NEVER", "<a@b.example> NOTIFY=SUCCESS,NEVER", &ext_all, .want_code = 501,
	  .want_enh = "5.5.4" },
	{ "NOTIFY repeated", "<a@b.example> NOTIFY=SUCCESS,SUCCESS", &ext_all, .want_code = 501, .want_enh = "5.5.4" },
	{ "NOTIFY trailing comma", "<a@b.example> NOTIFY=SUCCESS,", &ext_all, .want_code = 501, .want_enh = "5.5.4" },
	{ "NOTIFY leading comma", "<a@b.example> NOTIFY=,SUCCESS", &ext_all, .want_code = 501, .want_enh = "5.5.4" },
	{ "NOTIFY empty item", "<a@b.example> NOTIFY=SUCCESS,,DELAY", &ext_all, .want_code = 501, .want_enh = "5.5.4" },
	{ "NOTIFY unknown", "<a@b.example> NOTIFY=ALWAYS", &ext_all, .want_code = 501, .want_enh = "5.5.4" },
	{ "NOTIFY no value", "<a@b.example> NOTIFY", &ext_all, .want_code = 501, .want_enh = "5.5.4" },
	{ "NOTIFY twice", "<a@b.example> NOTIFY=SUCCESS NOTIFY=DELAY", &ext_all, .want_code = 501,
	  .want_enh = "5.5.4" },
	{ "NOTIFY DSN off", "<a@b.example> NOTIFY=NEVER", &ext_none, .want_code = 555, .want_enh = "5.5.4" },
	/* ORCPT */
	{ "ORCPT rfc822", "<a@b.example> ORCPT=rfc822;a@b.example", &ext_all, .want_addr = "a@b.example",
	  .want_orcpt = "rfc822;a@b.example" },
	{ "ORCPT xtext", "<a@b.example> ORCPT=rfc822;a+2Bb@c.example", &ext_all, .want_addr = "a@b.example",
	  .want_orcpt = "rfc822;a+2Bb@c.example" },
	{ "ORCPT RFC822 upper", "<a@b.example> ORCPT=RFC822;x@y", &ext_all, .want_addr = "a@b.example",
	  .want_orcpt = "RFC822;x@y" },
	{ "ORCPT bad xtext", "<a@b.example> ORCPT=rfc822;a+2b@c", &ext_all, .want_code = 501, .want_enh = "5.5.4" },
	{ "ORCPT empty address", "<a@b.example> ORCPT=rfc822;", &ext_all, .want_code = 501, .want_enh = "5.5.4" },
	{ "ORCPT empty type", "<a@b.example> ORCPT=;a@b", &ext_all, .want_code = 501, .want_enh = "5.5.4" },
	{ "ORCPT no semicolon", "<a@b.example> ORCPT=a@b", &ext_all, .want_code = 501, .want_enh = "5.5.4" },
	{ "ORCPT bad type char", "<a@b.example> ORCPT=rfc_822;a@b", &ext_all, .want_code = 501, .want_enh = "5.5.4" },
	{ "ORCPT utf-8", "<a@b.example> ORCPT=utf-8;j\xc3\xbcrgen@b.example", &ext_all, .want_addr = "a@b.example",
	  .want_orcpt = "utf-8;j\xc3\xbcrgen@b.example" },
	{ "ORCPT UTF-8 upper", "<a@b.example> ORCPT=UTF-8;x@y", &ext_all, .want_addr = "a@b.example",
	  .want_orcpt = "UTF-8;x@y" },
	{ "ORCPT utf-8 invalid utf8", "<a@b.example> ORCPT=utf-8;\xc0\xaf@b", &ext_all, .want_code = 501,
	  .want_enh = "5.5.4" },
	{ "ORCPT rfc822 raw utf8", "<a@b.example> ORCPT=rfc822;\xc3\xbc@b", &ext_all, .want_code = 501,
	  .want_enh = "5.5.4" },
	{ "ORCPT 499", "<a@b.example> ORCPT=rfc822;{{492:x}}", &ext_all, .want_addr = "a@b.example",
	  .want_orcpt = "rfc822;{{492:x}}" },
	{ "ORCPT 500", "<a@b.example> ORCPT=rfc822;{{493:x}}", &ext_all, .want_addr = "a@b.example",
	  .want_orcpt = "rfc822;{{493:x}}" },
	{ "ORCPT 501", "<a@b.example> ORCPT=rfc822;{{494:x}}", &ext_all, .want_code = 501, .want_enh = "5.5.4" },
	{ "ORCPT twice", "<a@b.example> ORCPT=rfc822;a ORCPT=rfc822;b", &ext_all, .want_code = 501,
	  .want_enh = "5.5.4" },
	{ "ORCPT no value", "<a@b.example> ORCPT", &ext_all, .want_code = 501, .want_enh = "5.5.4" },
	{ "ORCPT DSN off", "<a@b.example> ORCPT=rfc822;a@b", &ext_none, .want_code = 555, .want_enh = "5.5.4" },
	{ "NOTIFY and ORCPT", "<a@b.example> NOTIFY=FAILURE ORCPT=rfc822;x@y", &ext_all, .want_addr = "a@b.example",
	  .want_notify = FA, .want_orcpt = "rfc822;x@y" },
	/* others */
	{ "unknown param", "<a@b.example> FOO=1", &ext_all, .want_code = 555, .want_enh = "5.5.4" },
	{ "SIZE on RCPT", "<a@b.example> SIZE=1", &ext_all, .want_code = 555, .want_enh = "5.5.4" },
	{ "param syntax", "<a@b.example> NOTIFY=", &ext_all, .want_code = 501, .want_enh = "5.5.4" },
	{ "17 params", "<a@b.example> " P16 " Q=17", &ext_all, .want_code = 501, .want_enh = "5.5.4" },
};

static void check_rcpt(const struct rcpt_case *c)
{
	char in[UNIT_BUF], want[UNIT_BUF];
	size_t len = unit_expand(c->in, strlen(c->in), in, sizeof in);
	unit_case(c->name, in, len);
	struct mail_rcpt_to r;
	struct mail_reply err;
	memset(&err, 0, sizeof err);
	bool ok = mail_cmd_rcpt_to(in, len, c->ext, c->utf8, c->strict, &r, &err);
	U_EQ_INT(ok, c->want_code == 0);
	if (!ok) {
		U_EQ_INT(err.code, c->want_code);
		if (c->want_enh)
			U_EQ_STR(err.enh, c->want_enh);
		return;
	}
	if (c->want_code)
		return;
	char got[MAIL_PATH_MAX];
	mail_addr_format(&r.addr, got, sizeof got);
	U_EQ_STR(got, c->want_addr);
	U_EQ_HEX(r.notify, c->want_notify);
	U_EQ_INT(r.has_orcpt, c->want_orcpt != NULL);
	if (c->want_orcpt) {
		unit_expand(c->want_orcpt, strlen(c->want_orcpt), want, sizeof want);
		U_EQ_STR(r.orcpt, want);
	}
}

static void test_rcpt_to_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(rcpt_cases, check_rcpt);
}

/* ---- BDAT ---- */

struct bdat_case {
	const char *name;
	const char *in;
	bool want_ok;
	uint64_t want_size;
	bool want_last;
};

static const struct bdat_case bdat_cases[] = {
	{ "zero", "0", true, 0, false },
	{ "size", "100", true, 100, false },
	{ "size LAST", "100 LAST", true, 100, true },
	{ "size last lower", "100 last", true, 100, true },
	{ "zero LAST", "0 LAST", true, 0, true },
	{ "two spaces", "100  LAST", true, 100, true },
	{ "leading zeros", "00012", true, 12, false },
	{ "u64 max", "18446744073709551615", true, UINT64_MAX, false },
	{ "u64 overflow", "18446744073709551616", false, 0, false },
	{ "21 digits", "000000000000000000001", false, 0, false },
	{ "empty", "", false, 0, false },
	{ "LAST only", "LAST", false, 0, false },
	{ "negative", "-1", false, 0, false },
	{ "trailing letter", "1x", false, 0, false },
	{ "leading space", " 100", false, 0, false },
	{ "trailing space", "100 ", false, 0, false },
	{ "LAST trailing space", "100 LAST ", false, 0, false },
	{ "LASTX", "100 LASTX", false, 0, false },
	{ "LAS", "100 LAS", false, 0, false },
	{ "tab", "100\tLAST", false, 0, false },
	{ "two sizes", "100 200", false, 0, false },
};

static void check_bdat(const struct bdat_case *c)
{
	size_t len = strlen(c->in);
	char *heap = malloc(len ? len : 1);
	memcpy(heap, c->in, len);
	unit_case(c->name, c->in, len);
	uint64_t size = 12345;
	bool last = false;
	struct mail_reply err;
	memset(&err, 0, sizeof err);
	bool ok = mail_cmd_bdat(heap, len, &size, &last, &err);
	U_EQ_INT(ok, c->want_ok);
	if (ok) {
		U_EQ_HEX(size, c->want_size);
		U_EQ_INT(last, c->want_last);
	} else {
		U_EQ_INT(err.code, 501);
		U_EQ_STR(err.enh, "5.5.4");
	}
	free(heap);
}

static void test_bdat_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(bdat_cases, check_bdat);
}

static void test_addr_error(void **state)
{
	(void)state;
	struct mail_reply r;
	unit_case("addr_error sender syntax", NULL, 0);
	mail_cmd_addr_error(MAIL_ADDR_SYNTAX, true, &r);
	U_EQ_INT(r.code, 501);
	U_EQ_STR(r.enh, "5.1.7");
	unit_case("addr_error rcpt syntax", NULL, 0);
	mail_cmd_addr_error(MAIL_ADDR_SYNTAX, false, &r);
	U_EQ_INT(r.code, 501);
	U_EQ_STR(r.enh, "5.1.3");
	unit_case("addr_error need utf8", NULL, 0);
	mail_cmd_addr_error(MAIL_ADDR_NEED_UTF8, false, &r);
	U_EQ_INT(r.code, 553);
	U_EQ_STR(r.enh, "5.6.7");
	UNIT_FINISH();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verb_table),	cmocka_unit_test(test_verb_names),
		cmocka_unit_test(test_params_table),	cmocka_unit_test(test_mail_from_table),
		cmocka_unit_test(test_rcpt_to_table), cmocka_unit_test(test_bdat_table),
		cmocka_unit_test(test_addr_error),
	};
	UNIT_MAIN(tests);
}
