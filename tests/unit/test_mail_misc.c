/*
 * test_mail_misc.c - xtext (mail/mail_xtext.c) and SMTP replies
 * (mail/mail_reply.c): formatting with continuation lines and control
 * characters, the incremental reply parser (multi-line, enhanced codes,
 * mismatched codes, the MAIL_REPLY_MAX_LINES limit at N-1, N, N+1) and
 * enhanced status code syntax.
 */
#include "unit.h"

#include <stdbool.h>

#include "base/buf.h"
#include "mail/mail_addrlist.h"
#include "mail/mail_reply.h"
#include "mail/mail_xtext.h"

/* ---- xtext ---- */

struct xtext_case {
	const char *name;
	const char *in;
	size_t in_len;
	bool want_valid;
	const char *want_dec; /* decoded, when valid */
	size_t want_dec_len;  /* 0 = strlen */
};

static const struct xtext_case xtext_cases[] = {
	{ "empty", "", 0, true, "", 0 },
	{ "plain", "abc", 0, true, "abc", 0 },
	{ "printable specials", "!\"#$%&'()*,-./:;<>?@[\\]^_`{|}~", 0, true, "!\"#$%&'()*,-./:;<>?@[\\]^_`{|}~", 0 },
	{ "escaped plus", "a+2Bb", 0, true, "a+b", 0 },
	{ "escaped equals", "+3D", 0, true, "=", 0 },
	{ "escaped space", "a+20b", 0, true, "a b", 0 },
	{ "escaped NUL", "+00", 0, true, "\0", 1 },
	{ "escaped FF", "+FF", 0, true, "\xff", 0 },
	{ "lower hex", "+2b", 0, false, NULL, 0 },
	{ "one hex digit", "+2", 0, false, NULL, 0 },
	{ "plus at end", "a+", 0, false, NULL, 0 },
	{ "non hex", "+G0", 0, false, NULL, 0 },
	{ "raw equals", "a=b", 0, false, NULL, 0 },
	{ "raw space", "a b", 0, false, NULL, 0 },
	{ "raw DEL", "\x7f", 0, false, NULL, 0 },
	{ "raw control", "\x01", 0, false, NULL, 0 },
	{ "raw 8bit", "\xc3\xbc", 0, false, NULL, 0 },
	{ "raw NUL", UNIT_S("a\0"), false, NULL, 0 },
};

static void check_xtext(const struct xtext_case *c)
{
	size_t len = unit_len(c->in, c->in_len);
	unit_case(c->name, c->in, len);
	U_EQ_INT(mail_xtext_valid(c->in, len), c->want_valid);
	struct buf out;
	buf_init(&out);
	int rc = mail_xtext_decode(c->in, len, &out);
	U_EQ_INT(rc, c->want_valid ? 0 : -1);
	if (rc == 0) {
		size_t wl = c->want_dec_len ? c->want_dec_len : strlen(c->want_dec);
		U_EQ_MEM(out.data, out.len, c->want_dec, wl);
		U_CHECK(out.data && out.data[out.len] == '\0');
	}
	buf_fini(&out);
}

static void test_xtext_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(xtext_cases, check_xtext);
}

struct xenc_case {
	const char *name;
	const char *in;
	size_t in_len;
	const char *want;
};

static const struct xenc_case xenc_cases[] = {
	{ "empty", "", 0, "" },
	{ "plain", "user@example.com", 0, "user@example.com" },
	{ "plus", "a+b", 0, "a+2Bb" },
	{ "equals", "a=b", 0, "a+3Db" },
	{ "space", "a b", 0, "a+20b" },
	{ "8bit", "\xc3\xbc", 0, "+C3+BC" },
	{ "control and DEL", "\x01\x7f", 0, "+01+7F" },
	{ "NUL", UNIT_S("\0"), "+00" },
	{ "tilde and bang kept", "~!", 0, "~!" },
};

static void check_xenc(const struct xenc_case *c)
{
	size_t len = unit_len(c->in, c->in_len);
	unit_case(c->name, c->in, len);
	struct buf out;
	buf_init(&out);
	mail_xtext_encode(c->in, len, &out);
	U_EQ_MEM(out.data ? out.data : "", out.len, c->want, strlen(c->want));
	buf_fini(&out);
}

static void test_xtext_encode_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(xenc_cases, check_xenc);
}

static void test_xtext_roundtrip(void **state)
{
	(void)state;
	uint64_t seed = 0x7e47ULL;
	unsigned char in[64];
	for (int iter = 0; iter < 5000 && unit_ctx_.fails == 0; iter++) {
		size_t n = (size_t)(unit_rand(&seed) % sizeof in);
		for (size_t i = 0; i < n; i++)
			in[i] = (unsigned char)unit_rand(&seed);
		unit_input("random bytes", in, n);
		struct buf enc, dec;
		buf_init(&enc);
		buf_init(&dec);
		mail_xtext_encode((const char *)in, n, &enc);
		U_CHECK(mail_xtext_valid(enc.data ? enc.data : "", enc.len));
		U_EQ_INT(mail_xtext_decode(enc.data ? enc.data : "", enc.len, &dec), 0);
		U_EQ_MEM(dec.data ? dec.data : "", dec.len, in, n);
		buf_fini(&enc);
		buf_fini(&dec);
	}
	UNIT_FINISH();
}

/* ---- reply formatting ---- */

struct fmt_case {
	const char *name;
	int code;
	const char *enh;
	const char *text;
	bool enhanced;
	const char *want;
};

static const struct fmt_case fmt_cases[] = {
	{ "simple enhanced", 250, "2.1.0", "Ok", true, "250 2.1.0 Ok\r\n" },
	{ "enhanced off", 250, "2.1.0", "Ok", false, "250 Ok\r\n" },
	{ "no enh set", 250, "", "Ok", true, "250 Ok\r\n" },
	{ "empty text", 354, "", "", true, "354 \r\n" },
	{ "multi-line", 250, "", "mx.example\nPIPELINING\nSIZE 100", true,
	  "250-mx.example\r\n250-PIPELINING\r\n250 SIZE 100\r\n" },
	{ "multi-line enhanced", 550, "5.7.1", "Rejected\nSee policy", true,
	  "550-5.7.1 Rejected\r\n550 5.7.1 See policy\r\n" },
	{ "trailing newline", 250, "", "a\n", false, "250-a\r\n250 \r\n" },
	{ "CR replaced", 554, "", "a\rb", false, "554 a?b\r\n" },
	{ "CRLF injection", 250, "", "ok\r\n250 fake", false, "250-ok?\r\n250 250 fake\r\n" },
	{ "controls replaced", 451, "4.3.0", "x\x01y\x7fz\tw", true, "451 4.3.0 x?y?z?w\r\n" },
	{ "8bit kept", 250, "", "\xc3\xbc", false, "250 \xc3\xbc\r\n" },
};

static void check_fmt(const struct fmt_case *c)
{
	unit_case(c->name, c->text, strlen(c->text));
	struct mail_reply r;
	mail_reply_set(&r, c->code, c->enh, "%s", c->text);
	struct buf out;
	buf_init(&out);
	mail_reply_format(&r, c->enhanced, &out);
	U_EQ_MEM(out.data, out.len, c->want, strlen(c->want));
	buf_fini(&out);
}

static void test_reply_format_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(fmt_cases, check_fmt);
}

static void test_reply_misc(void **state)
{
	(void)state;
	struct mail_reply r;
	char s[64];
	unit_case("reply_str", NULL, 0);
	mail_reply_set(&r, 550, "5.1.1", "No such\nuser");
	mail_reply_str(&r, s, sizeof s);
	U_EQ_STR(s, "550 5.1.1 No such user");
	unit_case("reply_str no enh", NULL, 0);
	mail_reply_set(&r, 421, NULL, "Bye");
	mail_reply_str(&r, s, sizeof s);
	U_EQ_STR(s, "421 Bye");
	unit_case("reply_set truncates", NULL, 0);
	mail_reply_set(&r, 250, "2.0.0", "%0*d", 2000, 1);
	U_EQ_INT(strlen(r.text), MAIL_REPLY_TEXT_MAX - 1);
	unit_case("status", NULL, 0);
	r.code = 250;
	U_EQ_INT(mail_reply_status(&r), MAIL_OK);
	r.code = 354;
	U_EQ_INT(mail_reply_status(&r), MAIL_OK);
	r.code = 421;
	U_EQ_INT(mail_reply_status(&r), MAIL_TEMPFAIL);
	r.code = 499;
	U_EQ_INT(mail_reply_status(&r), MAIL_TEMPFAIL);
	r.code = 500;
	U_EQ_INT(mail_reply_status(&r), MAIL_PERMFAIL);
	r.code = 0;
	U_EQ_INT(mail_reply_status(&r), MAIL_PERMFAIL);
	unit_case("default enh", NULL, 0);
	U_EQ_STR(mail_reply_default_enh(250), "2.0.0");
	U_EQ_STR(mail_reply_default_enh(451), "4.0.0");
	U_EQ_STR(mail_reply_default_enh(554), "5.0.0");
	UNIT_FINISH();
}

/* ---- reply parser ---- */

struct parse_case {
	const char *name;
	const char *lines[6]; /* NULL-terminated */
	int want_rc;	      /* result of the last line; earlier ones must give 0 */
	int want_code;
	const char *want_enh;
	const char *want_text;
};

static const struct parse_case parse_cases[] = {
	{ "one line", { "250 Ok" }, 1, 250, "", "Ok" },
	{ "enhanced", { "250 2.1.0 Sender ok" }, 1, 250, "2.1.0", "Sender ok" },
	{ "code only", { "250" }, 1, 250, "", "" },
	{ "code and space", { "250 " }, 1, 250, "", "" },
	{ "multi-line", { "250-mx.example", "250-SIZE 10", "250 HELP" }, 1, 250, "", "mx.example\nSIZE 10\nHELP" },
	{ "multi-line enhanced", { "550-5.7.1 Blocked", "550 5.7.1 see url" }, 1, 550, "5.7.1", "Blocked\nsee url" },
	{ "enh only on later line", { "250-a", "250 2.0.0 b" }, 1, 250, "2.0.0", "a\nb" },
	{ "enh class mismatch kept as text", { "550 4.1.1 x" }, 1, 550, "", "4.1.1 x" },
	{ "enh invalid kept as text", { "550 5.1 x" }, 1, 550, "", "5.1 x" },
	{ "enh alone", { "250 2.0.0" }, 1, 250, "2.0.0", "" },
	{ "hyphen no text", { "250-", "250 x" }, 1, 250, "", "\nx" },
	{ "4xx", { "451 4.3.0 Try later" }, 1, 451, "4.3.0", "Try later" },
	{ "mismatched codes", { "250-a", "251 b" }, -1, 0, NULL, NULL },
	{ "garbage continuation", { "250-a", "garbage" }, -1, 0, NULL, NULL },
	{ "two digits", { "25" }, -1, 0, NULL, NULL },
	{ "letters", { "abc def" }, -1, 0, NULL, NULL },
	{ "empty", { "" }, -1, 0, NULL, NULL },
	{ "1xx", { "150 x" }, -1, 0, NULL, NULL },
	{ "6xx", { "650 x" }, -1, 0, NULL, NULL },
	{ "bad separator", { "250x" }, -1, 0, NULL, NULL },
	{ "tab separator", { "250\tOk" }, -1, 0, NULL, NULL },
	{ "digit letter", { "2a0 Ok" }, -1, 0, NULL, NULL },
};

static void check_parse(const struct parse_case *c)
{
	unit_case(c->name, c->lines[0], strlen(c->lines[0]));
	struct mail_reply_parser p;
	struct mail_reply out;
	memset(&out, 0, sizeof out);
	mail_reply_parser_init(&p);
	int rc = 0;
	for (int i = 0; c->lines[i]; i++) {
		size_t len = strlen(c->lines[i]);
		char *heap = malloc(len ? len : 1);
		memcpy(heap, c->lines[i], len);
		rc = mail_reply_parser_line(&p, heap, len, &out);
		free(heap);
		if (c->lines[i + 1])
			U_EQ_INT(rc, 0);
	}
	U_EQ_INT(rc, c->want_rc);
	if (rc == 1 && c->want_rc == 1) {
		U_EQ_INT(out.code, c->want_code);
		U_EQ_STR(out.enh, c->want_enh);
		U_EQ_STR(out.text, c->want_text);
	}
}

static void test_reply_parser_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(parse_cases, check_parse);
}

/* Lines limit: n-1 continuation lines plus the final one. */
static int parse_n_lines(int n, struct mail_reply *out)
{
	struct mail_reply_parser p;
	mail_reply_parser_init(&p);
	int rc = 0;
	for (int i = 0; i < n; i++) {
		char line[32];
		int len = snprintf(line, sizeof line, "250%cline%d", i == n - 1 ? ' ' : '-', i);
		rc = mail_reply_parser_line(&p, line, (size_t)len, out);
		if (rc != 0)
			return i == n - 1 ? rc : -100 - i;
	}
	return rc;
}

static void test_reply_parser_limits(void **state)
{
	(void)state;
	struct mail_reply out;
	const int max = MAIL_REPLY_MAX_LINES;
	unit_case("max lines - 1", NULL, 0);
	U_EQ_INT(parse_n_lines(max - 1, &out), 1);
	unit_case("max lines", NULL, 0);
	U_EQ_INT(parse_n_lines(max, &out), 1);
	U_EQ_INT(out.code, 250);
	U_CHECK(strncmp(out.text, "line0\nline1\n", 12) == 0);
	U_CHECK(strlen(out.text) < MAIL_REPLY_TEXT_MAX);
	unit_case("max lines + 1", NULL, 0);
	U_EQ_INT(parse_n_lines(max + 1, &out), -1);

	/* text longer than the struct holds is truncated, NUL-terminated */
	unit_case("long text truncated", NULL, 0);
	struct mail_reply_parser p;
	mail_reply_parser_init(&p);
	char line[1100];
	memset(line, 'x', sizeof line);
	memcpy(line, "250-", 4);
	U_EQ_INT(mail_reply_parser_line(&p, line, 600, &out), 0);
	line[3] = ' ';
	U_EQ_INT(mail_reply_parser_line(&p, line, sizeof line, &out), 1);
	U_EQ_INT(strlen(out.text), MAIL_REPLY_TEXT_MAX - 1);

	/* the parser is reusable after a complete reply */
	unit_case("reuse after reply", NULL, 0);
	U_EQ_INT(mail_reply_parser_line(&p, "354 go", 6, &out), 1);
	U_EQ_INT(out.code, 354);
	U_EQ_STR(out.text, "go");
	UNIT_FINISH();
}

/* ---- enhanced status codes ---- */

struct enh_case {
	const char *name;
	const char *in;
	bool want;
};

static const struct enh_case enh_cases[] = {
	{ "2.1.0", "2.1.0", true },
	{ "5.7.1", "5.7.1", true },
	{ "4.4.2", "4.4.2", true },
	{ "3 digit subject and detail", "2.999.999", true },
	{ "5.1.10", "5.1.10", true },
	{ "subject 4 digits", "2.1000.0", false },
	{ "detail 4 digits", "2.0.1000", false },
	{ "class 3", "3.1.0", false },
	{ "class 1", "1.0.0", false },
	{ "two parts", "2.1", false },
	{ "empty subject", "2..0", false },
	{ "empty detail", "2.1.", false },
	{ "letter", "2.a.0", false },
	{ "two digit class", "20.1.0", false },
	{ "trailing space", "2.1.0 ", false },
	{ "four parts", "2.1.0.0", false },
	{ "empty", "", false },
	{ "no dots", "210", false },
};

static void check_enh(const struct enh_case *c)
{
	size_t len = strlen(c->in);
	unit_case(c->name, c->in, len);
	char *heap = malloc(len ? len : 1);
	memcpy(heap, c->in, len);
	U_EQ_INT(mail_reply_enh_valid(heap, len), c->want);
	free(heap);
}

static void test_enh_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(enh_cases, check_enh);
}

/* ------------------------------------------------------------ address lists */

static void addrlist_collect(void *ctx, const char *name, const char *addr)
{
	struct buf *b = ctx;
	buf_printf(b, "[%s|%s]", name, addr);
}

static const struct {
	const char *in, *want;
	size_t max;
} addrlist_cases[] = {
	{ "a@b.example", "[|a@b.example]", 10 },
	{ "\"Doe, John\" <j@d.example>, x@y.example (X, Y)", "[Doe, John |j@d.example][|x@y.example]", 10 },
	{ "Team: a@b.example, c@d.example;, e@f.example", "[|a@b.example][|c@d.example][|][|e@f.example]", 10 },
	{ "<  spaced@x.example >", "[|spaced@x.example]", 10 },
	{ "a@b, c@d, e@f", "[|a@b][|c@d]", 2 },
	{ "Unclosed <a@b", "[|Unclosed<a@b]", 10 },
	{ "", "", 10 },
};

static void test_addrlist(void **state)
{
	(void)state;
	for (size_t i = 0; i < UNIT_NCASES(addrlist_cases); i++) {
		unit_case("address list", addrlist_cases[i].in, 0);
		struct buf b;
		buf_init(&b);
		buf_puts(&b, "");
		mail_addrlist(addrlist_cases[i].in, addrlist_cases[i].max, addrlist_collect, &b);
		U_EQ_STR(b.data, addrlist_cases[i].want);
		buf_fini(&b);
	}
	UNIT_FINISH();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xtext_table),	   cmocka_unit_test(test_xtext_encode_table),
		cmocka_unit_test(test_xtext_roundtrip),	   cmocka_unit_test(test_reply_format_table),
		cmocka_unit_test(test_reply_misc),	   cmocka_unit_test(test_reply_parser_table),
		cmocka_unit_test(test_reply_parser_limits), cmocka_unit_test(test_enh_table),
		cmocka_unit_test(test_addrlist),
	};
	UNIT_MAIN(tests);
}
