/*
 * test_mail_addr.c - envelope address parser (mail/mail_addr.c).
 *
 * Tables of Path/Mailbox inputs with the expected result, covering null
 * path, postmaster, quoted local parts, source routes, % and ! kept
 * literally, address literals, SMTPUTF8, and every length limit at N-1, N,
 * N+1 (local part 64, domain 255, label 63, path 256).
 */
#include "unit.h"

#include <stdbool.h>

#include "mail/mail_addr.h"

#define NUL MAIL_ADDR_F_NULL_OK
#define U8 MAIL_ADDR_F_UTF8
#define PM MAIL_ADDR_F_POSTMASTER
#define ST MAIL_ADDR_F_STRICT

struct addr_case {
	const char *name;
	const char *in;
	size_t in_len;
	unsigned flags;
	bool str; /* use mail_addr_parse_str (whole string) */
	enum mail_addr_err want_err;
	const char *want_local; /* checked on OK (NULL = "") */
	const char *want_domain;
	bool want_null, want_route, want_utf8, want_literal;
	size_t want_consumed; /* checked on OK; 0 = the whole input */
};

static const struct addr_case addr_cases[] = {
	/* null path */
	{ "null path", "<>", 0, NUL, .want_null = true },
	{ "null path not allowed", "<>", 0, 0, .want_err = MAIL_ADDR_NULL_NOT_OK },
	{ "null path strict", "<>", 0, NUL | ST, .want_null = true },
	{ "null path with params", "<> SIZE=10", 0, NUL, .want_null = true, .want_consumed = 2 },
	{ "null path as str", "<>", 0, NUL, true, .want_null = true },
	/* plain */
	{ "simple", "<user@example.com>", 0, 0, .want_local = "user", .want_domain = "example.com" },
	{ "simple strict", "<user@example.com>", 0, ST, .want_local = "user", .want_domain = "example.com" },
	{ "params follow", "<a@b.example> SIZE=1", 0, 0, .want_local = "a", .want_domain = "b.example",
	  .want_consumed = 13 },
	{ "trailing garbage left to caller", "<a@b.example>xyz", 0, 0, .want_local = "a", .want_domain = "b.example",
	  .want_consumed = 13 },
	{ "trailing garbage str", "<a@b.example>xyz", 0, 0, true, .want_err = MAIL_ADDR_SYNTAX },
	{ "double close", "<a@b.example>>", 0, 0, .want_local = "a", .want_domain = "b.example", .want_consumed = 13 },
	{ "atext specials", "<!#$&'*+-/=?^_`{|}~@example.com>", 0, 0, .want_local = "!#$&'*+-/=?^_`{|}~",
	  .want_domain = "example.com" },
	{ "dotted local", "<first.last@example.com>", 0, 0, .want_local = "first.last", .want_domain = "example.com" },
	{ "case kept", "<User@Example.COM>", 0, 0, .want_local = "User", .want_domain = "Example.COM" },
	{ "numeric domain labels", "<u@192.0.2.1>", 0, 0, .want_local = "u", .want_domain = "192.0.2.1" },
	{ "single label domain", "<u@localhost>", 0, 0, .want_local = "u", .want_domain = "localhost" },
	/* postmaster */
	{ "postmaster with flag", "<postmaster>", 0, PM, .want_local = "postmaster" },
	{ "Postmaster mixed case", "<PostMaster>", 0, PM, .want_local = "PostMaster" },
	{ "postmaster without flag", "<postmaster>", 0, 0, .want_err = MAIL_ADDR_NO_DOMAIN },
	{ "postmasterx", "<postmasterx>", 0, PM, .want_err = MAIL_ADDR_NO_DOMAIN },
	{ "abuse without domain", "<abuse>", 0, PM, .want_err = MAIL_ADDR_NO_DOMAIN },
	{ "postmaster bare", "postmaster", 0, PM, .want_local = "postmaster" },
	{ "postmaster with domain", "<postmaster@example.com>", 0, PM, .want_local = "postmaster",
	  .want_domain = "example.com" },
	/* quoted local parts */
	{ "quoted with space", "<\"john doe\"@example.com>", 0, 0, .want_local = "\"john doe\"",
	  .want_domain = "example.com" },
	{ "quoted at sign", "<\"a@b\"@c.example>", 0, 0, .want_local = "\"a@b\"", .want_domain = "c.example" },
	{ "quoted escaped quote", "<\"a\\\"b\"@c.example>", 0, 0, .want_local = "\"a\\\"b\"",
	  .want_domain = "c.example" },
	{ "quoted escaped backslash", "<\"a\\\\\"@c.example>", 0, 0, .want_local = "\"a\\\\\"",
	  .want_domain = "c.example" },
	{ "quoted gt inside", "<\"a>b\"@c.example>", 0, 0, .want_local = "\"a>b\"", .want_domain = "c.example" },
	{ "quoted empty", "<\"\"@c.example>", 0, 0, .want_local = "\"\"", .want_domain = "c.example" },
	{ "quoted unterminated", "<\"abc@c.example>", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	{ "quoted then text", "<\"a\"b@c.example>", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	{ "quote inside atom", "<a\"b\"@c.example>", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	{ "quoted escaped control", "<\"a\\\x01\"@c.example>", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	{ "quoted raw control", "<\"a\x01\"@c.example>", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	{ "quoted backslash at end", "<\"a\\\"@c.example>", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	{ "quoted bare with space", "\"a b\"@c.example SIZE=1", 0, 0, .want_local = "\"a b\"",
	  .want_domain = "c.example", .want_consumed = 15 },
	/* source routes */
	{ "route two hops", "<@a.example,@b.example:u@c.example>", 0, 0, .want_local = "u",
	  .want_domain = "c.example", .want_route = true },
	{ "route one hop", "<@a.example:u@c.example>", 0, 0, .want_local = "u", .want_domain = "c.example",
	  .want_route = true },
	{ "route no colon", "<@a.example,u@c.example>", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	{ "route empty domain", "<@:u@c.example>", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	{ "route bad domain", "<@bad_host:u@c.example>", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	{ "route trailing comma", "<@a.example,:u@c.example>", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	{ "route only", "<@a.example:>", 0, 0, .want_err = MAIL_ADDR_NO_DOMAIN },
	{ "at only", "<@example.com>", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	/* relay hacks stay literal in the local part */
	{ "percent hack", "<user%victim.example@relay.example>", 0, 0, .want_local = "user%victim.example",
	  .want_domain = "relay.example" },
	{ "bang path", "<victim.example!user@relay.example>", 0, 0, .want_local = "victim.example!user",
	  .want_domain = "relay.example" },
	{ "bang and percent", "<a!b%c@relay.example>", 0, 0, .want_local = "a!b%c", .want_domain = "relay.example" },
	/* address literals */
	{ "ipv4 literal", "<u@[192.0.2.1]>", 0, 0, .want_local = "u", .want_domain = "[192.0.2.1]",
	  .want_literal = true },
	{ "ipv6 literal", "<u@[IPv6:2001:db8::1]>", 0, 0, .want_local = "u", .want_domain = "[IPv6:2001:db8::1]",
	  .want_literal = true },
	{ "ipv6 tag lowercase", "<u@[ipv6:::1]>", 0, 0, .want_local = "u", .want_domain = "[ipv6:::1]",
	  .want_literal = true },
	{ "ipv4 octet 256", "<u@[192.0.2.256]>", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	{ "ipv4 three octets", "<u@[192.0.2]>", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	{ "ipv4 leading zero", "<u@[192.0.2.01]>", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	{ "ipv6 without tag", "<u@[2001:db8::1]>", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	{ "ipv6 tag with ipv4", "<u@[IPv6:192.0.2.1]>", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	{ "empty literal", "<u@[]>", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	{ "unclosed literal", "<u@[192.0.2.1>", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	{ "general literal tag", "<u@[x400:abc]>", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	{ "literal with NUL", UNIT_S("<u@[192.0.2.1\0junk]>"), 0, false, .want_err = MAIL_ADDR_SYNTAX },
	{ "literal with space", "<u@[192.0.2.1 ]>", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	/* UTF-8 (RFC 6531) */
	{ "utf8 local with flag", "<j\xc3\xbcrgen@example.com>", 0, U8, .want_local = "j\xc3\xbcrgen",
	  .want_domain = "example.com", .want_utf8 = true },
	{ "utf8 local without flag", "<j\xc3\xbcrgen@example.com>", 0, 0, .want_err = MAIL_ADDR_NEED_UTF8 },
	{ "utf8 domain with flag", "<u@b\xc3\xbc" "cher.example>", 0, U8, .want_local = "u",
	  .want_domain = "b\xc3\xbc" "cher.example", .want_utf8 = true },
	{ "utf8 domain without flag", "<u@b\xc3\xbc" "cher.example>", 0, 0, .want_err = MAIL_ADDR_NEED_UTF8 },
	{ "utf8 quoted local", "<\"j\xc3\xbc r\"@example.com>", 0, U8, .want_local = "\"j\xc3\xbc r\"",
	  .want_domain = "example.com", .want_utf8 = true },
	{ "ascii with utf8 flag", "<u@example.com>", 0, U8, .want_local = "u", .want_domain = "example.com" },
	{ "overlong slash local", "<\xc0\xaf@example.com>", 0, U8, .want_err = MAIL_ADDR_SYNTAX },
	{ "overlong without flag", "<\xc0\xaf@example.com>", 0, 0, .want_err = MAIL_ADDR_NEED_UTF8 },
	{ "overlong 3 byte", "<a\xe0\x80\xaf@example.com>", 0, U8, .want_err = MAIL_ADDR_SYNTAX },
	{ "surrogate", "<a\xed\xa0\x80@example.com>", 0, U8, .want_err = MAIL_ADDR_SYNTAX },
	{ "truncated seq in domain", "<u@b\xc3.example>", 0, U8, .want_err = MAIL_ADDR_SYNTAX },
	{ "lone continuation", "<a\x80@example.com>", 0, U8, .want_err = MAIL_ADDR_SYNTAX },
	{ "byte ff", "<a\xff@example.com>", 0, U8, .want_err = MAIL_ADDR_SYNTAX },
	{ "4 byte emoji", "<\xf0\x9f\x98\x80@example.com>", 0, U8, .want_local = "\xf0\x9f\x98\x80",
	  .want_domain = "example.com", .want_utf8 = true },
	/* local part limit 64 */
	{ "local 63", "<{{63:a}}@example.com>", 0, 0, .want_local = "{{63:a}}", .want_domain = "example.com" },
	{ "local 64", "<{{64:a}}@example.com>", 0, 0, .want_local = "{{64:a}}", .want_domain = "example.com" },
	{ "local 65", "<{{65:a}}@example.com>", 0, 0, .want_err = MAIL_ADDR_TOO_LONG },
	{ "quoted local 64", "<\"{{62:a}}\"@example.com>", 0, 0, .want_local = "\"{{62:a}}\"",
	  .want_domain = "example.com" },
	{ "quoted local 65", "<\"{{63:a}}\"@example.com>", 0, 0, .want_err = MAIL_ADDR_TOO_LONG },
	{ "utf8 local 64 octets", "<{{32:\xc3\xbc}}@example.com>", 0, U8, .want_local = "{{32:\xc3\xbc}}",
	  .want_domain = "example.com", .want_utf8 = true },
	{ "utf8 local 66 octets", "<{{33:\xc3\xbc}}@example.com>", 0, U8, .want_err = MAIL_ADDR_TOO_LONG },
	/* label limit 63 */
	{ "label 62", "<u@{{62:a}}.example>", 0, 0, .want_local = "u", .want_domain = "{{62:a}}.example" },
	{ "label 63", "<u@{{63:a}}.example>", 0, 0, .want_local = "u", .want_domain = "{{63:a}}.example" },
	{ "label 64", "<u@{{64:a}}.example>", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	/* path limit 256 incl. brackets: "<" + 64 + "@" + D + ">" */
	{ "path 255", "<{{64:a}}@{{93:a.}}bc>", 0, 0, .want_local = "{{64:a}}", .want_domain = "{{93:a.}}bc" },
	{ "path 256", "<{{64:a}}@{{93:a.}}bcd>", 0, 0, .want_local = "{{64:a}}", .want_domain = "{{93:a.}}bcd" },
	{ "path 257", "<{{64:a}}@{{93:a.}}bcde>", 0, 0, .want_err = MAIL_ADDR_TOO_LONG },
	{ "bare path 256 (254 inner)", "{{64:a}}@{{93:a.}}bcd", 0, 0, .want_local = "{{64:a}}",
	  .want_domain = "{{93:a.}}bcd" },
	{ "bare path 257", "{{64:a}}@{{93:a.}}bcde", 0, 0, .want_err = MAIL_ADDR_TOO_LONG },
	{ "route makes path 257", "<@a.example:{{54:a}}@{{93:a.}}bcd>", 0, 0, .want_err = MAIL_ADDR_TOO_LONG },
	/* brackets and spaces */
	{ "bare address", "user@example.com", 0, 0, .want_local = "user", .want_domain = "example.com" },
	{ "bare address strict", "user@example.com", 0, ST, .want_err = MAIL_ADDR_SYNTAX },
	{ "bare with params", "user@example.com SIZE=1", 0, 0, .want_local = "user", .want_domain = "example.com",
	  .want_consumed = 16 },
	{ "leading space", " <u@example.com>", 0, 0, .want_local = "u", .want_domain = "example.com" },
	{ "leading spaces bare", "   u@example.com", 0, 0, .want_local = "u", .want_domain = "example.com" },
	{ "leading space strict", " <u@example.com>", 0, ST, .want_err = MAIL_ADDR_SYNTAX },
	{ "missing close", "<u@example.com", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	{ "missing open", "u@example.com>", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	{ "empty", "", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	{ "spaces only", "   ", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	{ "space inside brackets", "<u v@example.com>", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	{ "space before close", "<u@example.com >", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	{ "no domain", "<user>", 0, 0, .want_err = MAIL_ADDR_NO_DOMAIN },
	{ "empty domain", "<u@>", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	{ "empty local", "<@example.com>", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	{ "two at signs", "<a@b@example.com>", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	{ "leading hyphen label", "<u@-a.example>", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	{ "trailing hyphen label", "<u@a-.example>", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	{ "empty label", "<u@a..example>", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	{ "trailing dot domain", "<u@example.com.>", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	{ "underscore domain", "<u@a_b.example>", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	{ "leading dot local", "<.u@example.com>", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	{ "trailing dot local", "<u.@example.com>", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	{ "double dot local", "<u..v@example.com>", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	{ "comma local", "<a,b@example.com>", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	{ "NUL in local", UNIT_S("<a\0b@example.com>"), 0, false, .want_err = MAIL_ADDR_SYNTAX },
	{ "CR in local", "<a\rb@example.com>", 0, 0, .want_err = MAIL_ADDR_SYNTAX },
	/* whole-string parsing */
	{ "str bare", "user@example.com", 0, 0, true, .want_local = "user", .want_domain = "example.com" },
	{ "str brackets", "<user@example.com>", 0, 0, true, .want_local = "user", .want_domain = "example.com" },
	{ "str surrounding spaces", " <user@example.com>  ", 0, 0, true, .want_local = "user",
	  .want_domain = "example.com" },
	{ "str strict flag ignored", "user@example.com", 0, ST, true, .want_local = "user",
	  .want_domain = "example.com" },
	{ "str second word", "user@example.com x", 0, 0, true, .want_err = MAIL_ADDR_SYNTAX },
	{ "str params", "<user@example.com> SIZE=1", 0, 0, true, .want_err = MAIL_ADDR_SYNTAX },
};

static void check_addr(const struct addr_case *c)
{
	char in[UNIT_BUF], local[UNIT_BUF], domain[UNIT_BUF];
	size_t len = unit_expand(c->in, unit_len(c->in, c->in_len), in, sizeof in);
	unit_expand(c->want_local ? c->want_local : "", strlen(c->want_local ? c->want_local : ""), local,
		    sizeof local);
	unit_expand(c->want_domain ? c->want_domain : "", strlen(c->want_domain ? c->want_domain : ""), domain,
		    sizeof domain);
	unit_case(c->name, in, len);

	struct mail_addr a;
	size_t used = (size_t)-1;
	enum mail_addr_err e;
	if (c->str)
		e = mail_addr_parse_str(in, c->flags, &a);
	else
		e = mail_addr_parse(in, len, c->flags, &a, &used);
	U_EQ_INT(e, c->want_err);
	if (e != MAIL_ADDR_OK || c->want_err != MAIL_ADDR_OK)
		return;
	if (!c->str)
		U_EQ_INT(used, c->want_consumed ? c->want_consumed : len);
	U_EQ_STR(a.local, local);
	U_EQ_STR(a.domain, domain);
	U_EQ_INT(a.null, c->want_null);
	U_EQ_INT(a.route, c->want_route);
	U_EQ_INT(a.utf8, c->want_utf8);
	U_EQ_INT(a.literal, c->want_literal);
	/* the result always fits its fields */
	U_CHECK(strlen(a.local) <= MAIL_LOCAL_MAX);
	U_CHECK(strlen(a.domain) <= MAIL_DOMAIN_MAX);
}

static void test_addr_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(addr_cases, check_addr);
}

/* A parse never reads past len: the same bytes followed by junk beyond len
 * give the same result. */
static void test_addr_respects_len(void **state)
{
	(void)state;
	for (size_t i = 0; i < UNIT_NCASES(addr_cases); i++) {
		const struct addr_case *c = &addr_cases[i];
		if (c->str)
			continue;
		char in[UNIT_BUF];
		size_t len = unit_expand(c->in, unit_len(c->in, c->in_len), in, sizeof in);
		char *heap = malloc(len ? len : 1); /* exact size: ASan catches overreads */
		memcpy(heap, in, len);
		unit_input(c->name, in, len);
		struct mail_addr a, b;
		size_t u1 = 0, u2 = 0;
		enum mail_addr_err e1 = mail_addr_parse(heap, len, c->flags, &a, &u1);
		enum mail_addr_err e2 = mail_addr_parse(in, len, c->flags, &b, &u2);
		U_EQ_INT(e1, e2);
		if (e1 == MAIL_ADDR_OK) {
			U_EQ_INT(u1, u2);
			U_EQ_STR(a.local, b.local);
		}
		free(heap);
	}
	UNIT_FINISH();
}

struct domain_case {
	const char *name;
	const char *in;
	size_t in_len;
	bool utf8;
	bool want;
};

static const struct domain_case domain_cases[] = {
	{ "simple", "example.com", 0, false, true },
	{ "single char", "a", 0, false, true },
	{ "hyphen inside", "a-b.c-d", 0, false, true },
	{ "digits", "123.example", 0, false, true },
	{ "empty", "", 0, false, false },
	{ "leading hyphen", "-a.example", 0, false, false },
	{ "trailing hyphen", "a-.example", 0, false, false },
	{ "double dot", "a..b", 0, false, false },
	{ "leading dot", ".a", 0, false, false },
	{ "trailing dot", "a.", 0, false, false },
	{ "underscore", "a_b", 0, false, false },
	{ "space", "a b", 0, false, false },
	{ "NUL", UNIT_S("a\0b"), false, false },
	{ "label 62", "{{62:a}}.b", 0, false, true },
	{ "label 63", "{{63:a}}.b", 0, false, true },
	{ "label 64", "{{64:a}}.b", 0, false, false },
	{ "last label 64", "b.{{64:a}}", 0, false, false },
	{ "domain 254", "{{126:a.}}ab", 0, false, true },
	{ "domain 255", "{{127:a.}}a", 0, false, true },
	{ "domain 256", "{{127:a.}}ab", 0, false, false },
	{ "ipv4 literal", "[192.0.2.1]", 0, false, true },
	{ "ipv6 literal", "[IPv6:2001:db8::1]", 0, false, true },
	{ "ipv6 mapped literal", "[IPv6:::ffff:192.0.2.1]", 0, false, true },
	{ "bad literal", "[1.2.3]", 0, false, false },
	{ "literal no close", "[192.0.2.1", 0, false, false },
	{ "literal brackets only", "[]", 0, false, false },
	{ "u-label utf8", "b\xc3\xbc" "cher.example", 0, true, true },
	{ "u-label ascii mode", "b\xc3\xbc" "cher.example", 0, false, false },
	{ "bad utf8 label", "b\xff.example", 0, true, false },
	{ "overlong utf8 label", "b\xc1\xbf.example", 0, true, false },
};

static void check_domain(const struct domain_case *c)
{
	char in[UNIT_BUF];
	size_t len = unit_expand(c->in, unit_len(c->in, c->in_len), in, sizeof in);
	unit_case(c->name, in, len);
	U_EQ_INT(mail_domain_valid(in, len, c->utf8), c->want);
}

static void test_domain_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(domain_cases, check_domain);
}

struct utf8_case {
	const char *name;
	const char *in;
	size_t in_len;
	bool want;
};

static const struct utf8_case utf8_cases[] = {
	{ "empty", "", 0, true },
	{ "ascii", "abc", 0, true },
	{ "ascii NUL", UNIT_S("a\0b"), true },
	{ "2 byte", "\xc3\xa9", 0, true },
	{ "2 byte min U+0080", "\xc2\x80", 0, true },
	{ "3 byte euro", "\xe2\x82\xac", 0, true },
	{ "3 byte min U+0800", "\xe0\xa0\x80", 0, true },
	{ "last before surrogates U+D7FF", "\xed\x9f\xbf", 0, true },
	{ "first after surrogates U+E000", "\xee\x80\x80", 0, true },
	{ "4 byte emoji", "\xf0\x9f\x98\x80", 0, true },
	{ "max U+10FFFF", "\xf4\x8f\xbf\xbf", 0, true },
	{ "overlong 2 byte c0", "\xc0\xaf", 0, false },
	{ "overlong 2 byte c1", "\xc1\xbf", 0, false },
	{ "overlong 3 byte", "\xe0\x80\xaf", 0, false },
	{ "overlong 3 byte U+07FF", "\xe0\x9f\xbf", 0, false },
	{ "overlong 4 byte", "\xf0\x82\x82\xac", 0, false },
	{ "overlong 4 byte U+FFFF", "\xf0\x8f\xbf\xbf", 0, false },
	{ "surrogate D800", "\xed\xa0\x80", 0, false },
	{ "surrogate DFFF", "\xed\xbf\xbf", 0, false },
	{ "over max U+110000", "\xf4\x90\x80\x80", 0, false },
	{ "f5 lead", "\xf5\x80\x80\x80", 0, false },
	{ "ff", "\xff", 0, false },
	{ "lone continuation", "\x80", 0, false },
	{ "truncated 2 byte", "\xc3", 0, false },
	{ "truncated 3 byte", "\xe2\x82", 0, false },
	{ "truncated 4 byte", "\xf0\x9f\x98", 0, false },
	{ "bad continuation", "\xc3\x28", 0, false },
	{ "valid then invalid", "a\xc3\xa9\xc3", 0, false },
};

static void check_utf8(const struct utf8_case *c)
{
	size_t len = unit_len(c->in, c->in_len);
	unit_case(c->name, c->in, len);
	U_EQ_INT(mail_utf8_valid(c->in, len), c->want);
}

static void test_utf8_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(utf8_cases, check_utf8);
}

struct format_case {
	const char *name;
	const char *in;
	unsigned flags;
	const char *want;
};

static const struct format_case format_cases[] = {
	{ "null", "<>", NUL, "" },
	{ "plain", "<a@b.example>", 0, "a@b.example" },
	{ "route dropped", "<@x.example:a@b.example>", 0, "a@b.example" },
	{ "postmaster", "<Postmaster>", PM, "Postmaster" },
	{ "quoted kept", "<\"a b\"@c.example>", 0, "\"a b\"@c.example" },
	{ "literal", "<a@[IPv6:::1]>", 0, "a@[IPv6:::1]" },
};

static void check_format(const struct format_case *c)
{
	unit_case(c->name, c->in, strlen(c->in));
	struct mail_addr a, b;
	size_t used;
	U_EQ_INT(mail_addr_parse(c->in, strlen(c->in), c->flags, &a, &used), MAIL_ADDR_OK);
	char out[MAIL_PATH_MAX];
	mail_addr_format(&a, out, sizeof out);
	U_EQ_STR(out, c->want);
	if (a.null)
		return;
	/* the formatted address parses back to the same mailbox */
	U_EQ_INT(mail_addr_parse_str(out, c->flags, &b), MAIL_ADDR_OK);
	U_EQ_STR(b.local, a.local);
	U_EQ_STR(b.domain, a.domain);
}

static void test_format_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(format_cases, check_format);
}

static void test_strerror(void **state)
{
	(void)state;
	unit_case("strerror texts", NULL, 0);
	U_EQ_STR(mail_addr_strerror(MAIL_ADDR_OK), "ok");
	U_CONTAINS(mail_addr_strerror(MAIL_ADDR_NEED_UTF8), "SMTPUTF8");
	U_CONTAINS(mail_addr_strerror(MAIL_ADDR_TOO_LONG), "too long");
	U_CHECK(strcmp(mail_addr_strerror(MAIL_ADDR_SYNTAX), mail_addr_strerror(MAIL_ADDR_NO_DOMAIN)) != 0);
	UNIT_FINISH();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_table),   cmocka_unit_test(test_addr_respects_len),
		cmocka_unit_test(test_domain_table), cmocka_unit_test(test_utf8_table),
		cmocka_unit_test(test_format_table), cmocka_unit_test(test_strerror),
	};
	UNIT_MAIN(tests);
}
