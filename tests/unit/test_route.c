/*
 * test_route.c - the map parsers and the resolver (src/route/), from tables.
 */
#include <stdlib.h>
#include <unistd.h>

#include "base/buf.h"
#include "route/route.h"
#include "unit.h"

/* ---------------------------------------------------------------- mailer values */

struct mailer_case {
	const char *name, *in;
	int ok;
	enum route_kind kind;
	const char *hops; /* "host/port/mx|..." */
	int equal;
	const char *path, *user, *reply, *err;
};

static const struct mailer_case mailer_cases[] = {
	{ "smtp bracket", "smtp:[glass.example]", 1, ROUTE_SMTP, "glass.example/0/0", 0, NULL, NULL, NULL, NULL },
	{ "smtp mx", "smtp:glass.example", 1, ROUTE_SMTP, "glass.example/0/1", 0, NULL, NULL, NULL, NULL },
	{ "esmtp same as smtp", "esmtp:[a.example]", 1, ROUTE_SMTP, "a.example/0/0", 0, NULL, NULL, NULL, NULL },
	{ "relay mx", "relay:relay.example", 1, ROUTE_SMTP, "relay.example/0/1", 0, NULL, NULL, NULL, NULL },
	{ "mailer name case", "SMTP:[a.example]", 1, ROUTE_SMTP, "a.example/0/0", 0, NULL, NULL, NULL, NULL },
	{ "port on bracket", "smtp:[a.example]:2525", 1, ROUTE_SMTP, "a.example/2525/0", 0, NULL, NULL, NULL, NULL },
	{ "port on mx host", "smtp:a.example:2525", 1, ROUTE_SMTP, "a.example/2525/1", 0, NULL, NULL, NULL, NULL },
	{ "ipv4 literal", "smtp:[192.0.2.1]", 1, ROUTE_SMTP, "192.0.2.1/0/0", 0, NULL, NULL, NULL, NULL },
	{ "ipv6 literal", "smtp:[IPv6:2001:db8::1]:26", 1, ROUTE_SMTP, "2001:db8::1/26/0", 0, NULL, NULL, NULL, NULL },
	{ "ordered list", "smtp:h1.example:h2.example", 1, ROUTE_SMTP, "h1.example/0/1|h2.example/0/1", 0, NULL, NULL, NULL, NULL },
	{ "ordered list with ports", "smtp:[127.0.0.1]:2501:[127.0.0.1]:2502", 1, ROUTE_SMTP,
	  "127.0.0.1/2501/0|127.0.0.1/2502/0", 0, NULL, NULL, NULL, NULL },
	{ "equal list", "smtp:[a.example],[b.example]:26", 1, ROUTE_SMTP, "a.example/0/0|b.example/26/0", 1, NULL, NULL, NULL, NULL },
	{ "mixed separators", "smtp:a.example:b.example,c.example", 0, .err = "not both" },
	{ "no host", "smtp:", 0, .err = "no host" },
	{ "bad host char", "smtp:a!b", 0, .err = "unexpected" },
	{ "bad bracket", "smtp:[a.example", 0, .err = "missing ']'" },
	{ "port zero", "smtp:[a.example]:0", 0, .err = "bad port" },
	{ "port too big", "smtp:[a.example]:65536", 0, .err = "bad port" },
	{ "lmtp inet", "lmtp:[127.0.0.1]:2424", 1, ROUTE_LMTP, "127.0.0.1/2424/0", 0, NULL, NULL, NULL, NULL },
	{ "lmtp name never mx", "lmtp:mailstore.example:24", 1, ROUTE_LMTP, "mailstore.example/24/0", 0, NULL, NULL, NULL, NULL },
	{ "lmtp unix", "lmtp:unix:/run/lmtp.sock", 1, ROUTE_LMTP, "", .path = "/run/lmtp.sock" },
	{ "lmtp unix relative", "lmtp:unix:run/x", 0, .err = "absolute" },
	{ "maildir", "maildir:/var/mail/archive/%u", 1, ROUTE_MAILDIR, "", .path = "/var/mail/archive/%u" },
	{ "maildir relative", "maildir:archive", 0, .err = "absolute" },
	{ "local", "local:", 1, ROUTE_LOCAL, "", .user = "" },
	{ "local user", "local:carol", 1, ROUTE_LOCAL, "", .user = "carol" },
	{ "local address", "local:carol@x", 0, .err = "user name" },
	{ "error dsn", "error:5.7.1:550 Mail refused", 1, ROUTE_ERROR, "", .reply = "550 5.7.1 Mail refused" },
	{ "error temp", "error:4.4.1:451 try later", 1, ROUTE_ERROR, "", .reply = "451 4.4.1 try later" },
	{ "error no dsn", "error:550 go away", 1, ROUTE_ERROR, "", .reply = "550 5.0.0 go away" },
	{ "error dsn in text", "error:553 5.1.2 no such domain", 1, ROUTE_ERROR, "",
	  .reply = "553 5.1.2 no such domain" },
	{ "error code only", "error:550", 1, ROUTE_ERROR, "", .reply = "550 5.0.0 Mail refused by the mailertable" },
	{ "error 2xx", "error:250 fine", 0, .err = "4xx or 5xx" },
	{ "error class mismatch", "error:4.1.1:550 x", 0, .err = "does not match" },
	{ "error no code", "error:nouser", 0, .err = "reply code" },
	{ "unknown mailer", "uucp:host", 0, .err = "unknown mailer" },
	{ "no colon", "glass.example", 0, .err = "mailer:value" },
};

static void hops_str(const struct route_mailer *m, char *out, size_t size)
{
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < m->nhops && o < size; i++)
		o += (size_t)snprintf(out + o, size - o, "%s%s/%d/%d", i ? "|" : "", m->hop[i].host, m->hop[i].port,
				      m->hop[i].mx);
}

static void check_mailer(const struct mailer_case *c)
{
	unit_case(c->name, c->in, strlen(c->in));
	struct route_mailer m;
	char err[300] = "";
	int rc = route_mailer_parse(c->in, &m, err, sizeof err);
	U_EQ_INT(rc == 0, c->ok);
	if (!c->ok) {
		U_CONTAINS(err, c->err);
		return;
	}
	U_EQ_INT(m.kind, c->kind);
	char h[1024];
	hops_str(&m, h, sizeof h);
	U_EQ_STR(h, c->hops);
	U_EQ_INT(m.equal, c->equal);
	if (c->path)
		U_EQ_STR(m.path, c->path);
	if (c->user)
		U_EQ_STR(m.user, c->user);
	if (c->reply) {
		char r[600];
		mail_reply_str(&m.reply, r, sizeof r);
		U_EQ_STR(r, c->reply);
	}
}

static void test_mailer_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(mailer_cases, check_mailer);
}

/* ---------------------------------------------------------------- the seed's maps */

static const char LHN[] = "# local domains\n"
			  "example.org\n"
			  "  Mail.Example.ORG   trailing words are ignored\r\n"
			  "\n";

static const char ALIASES[] = "# sendmail aliases\n"
			      "postmaster: root\n"
			      "root: \\root, admin@forth\n"
			      "sysadm: sysadm@forth\n"
			      "staff: alice, bob,\n"
			      "  carol\n"
			      "\t# a comment inside a continuation\n"
			      "alice: alice@students.example\n"
			      "bob: Alice, bob@other.example\n"
			      "carol: \\carol\n"
			      "UPPER:\tcarol\r\n"
			      "loop1: loop2\n"
			      "loop2: loop1\n"
			      "self: self, alice\n"
			      "prog: \"|/usr/bin/vacation carol\", alice\n"
			      "onlyprog: |/bin/true\n"
			      "file: /var/log/mail.log\n"
			      "ghost: nobody\n"
			      "d0: d1\nd1: d2\nd2: d3\nd3: d4\nd4: d5\nd5: d6\nd6: d7\nd7: d8\nd8: d9\nd9: d10\nd10: d11\n"
			      "d11: carol\n"
			      "e0: e1\ne1: e2\ne2: e3\ne3: e4\ne4: e5\ne5: e6\ne6: e7\ne7: e8\ne8: e9\ne9: \\carol\n"
			      "list: :include:@INC@\n"
			      "owner-list: listadmin\n"
			      "badinc: :include:/nonexistent/mxgate-test.inc\n"
			      "angle: <carol@example.org>, <Carol@Example.Org>\n"
			      "remote: x@legacy.example\n"
			      "caf\xc3\xa9: carol\n"
			      /* a backslash target whose local part no address can hold (fuzz_route) */
			      "longlocal: \\x"
			      "0123456789012345678901234567890123456789012345678901234567890123456789"
			      "0123456789012345678901234567890123456789012345678901234567890123456789"
			      "0123456789012345678901234567890123456789012345678901234567890123456789"
			      "0123456789012345678901234567890123456789012345678901234567890123456789"
			      "0123456789012345678901234567890123456789012345678901234567890123456789"
			      "0123456789012345678901234567890123456789012345678901234567890123456789"
			      "0123456789012345678901234567890123456789012345678901234567890123456789"
			      "0123456789012345678901234567890123456789012345678901234567890123456789\n"
			      "postmaster: duplicate, first kept\n";

static const char MAILERTABLE[] = "# mailertable\n"
				  "students.example\tsmtp:[glass.example]\n"
				  ".students.example smtp:[glass.example]:2525\n"
				  "forth.example.org smtp:[forth.example.org]\n"
				  "legacy.example local:\n"
				  "oldnames.example local:carol\n"
				  ".example.net relay:%1.relay.example.net\n"
				  "lmtp.example lmtp:[127.0.0.1]:2424\n"
				  "arch.example maildir:/var/mail/archive/%u\n"
				  "bad.example error:5.7.1:550 Mail for bad.example refused\n"
				  "temp.example error:4.4.1:451 try later\n"
				  "STUDENTS.example smtp:[duplicate.example]\n";

static char inc_path[64], users_path[64];

static void write_tmp(char *path, const char *text)
{
	strcpy(path, "/tmp/mxgate-test-route-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static struct route_maps *seed_maps(const char *relayhost, const char *mt)
{
	static const char *const self[] = { "gw.example.org", "[127.0.0.1]" };
	struct route_conf c = {
		.relay_domains = "students.example .example.net",
		.local_recipient_maps = users_path,
		.local_transport = "maildir:/var/mail/%u",
		.relayhost = relayhost,
		.mydomain = "example.org",
		.append_dot_mydomain = true,
		.self = self,
		.nself = 2,
	};
	char aliases[sizeof ALIASES + 64], err[600] = "";
	/* @INC@ -> the include file */
	const char *p = strstr(ALIASES, "@INC@");
	snprintf(aliases, sizeof aliases, "%.*s%s%s", (int)(p - ALIASES), ALIASES, inc_path, p + 5);
	struct route_maps *m = route_maps_from_text(&c, LHN, aliases, mt, err, sizeof err);
	if (!m)
		fail_msg("maps: %s", err);
	return m;
}

struct expand_case {
	const char *name, *addr;
	int trusted;
	const char *reply;   /* "250 2.1.5 Ok" or the refusal */
	const char *targets; /* "addr=mailer[/sender]; ..." */
};

static const struct expand_case expand_cases[] = {
	{ "seed: sysadm to forth", "sysadm@example.org", 0, "250 2.1.5 Ok",
	  "sysadm@forth.example.org=smtp:[forth.example.org]" },
	{ "domain and name case-insensitive", "SysAdm@EXAMPLE.org", 0, "250 2.1.5 Ok",
	  "sysadm@forth.example.org=smtp:[forth.example.org]" },
	{ "second local domain", "sysadm@mail.example.org", 0, "250 2.1.5 Ok",
	  "sysadm@forth.example.org=smtp:[forth.example.org]" },
	{ "backslash not expanded", "root@example.org", 0, "250 2.1.5 Ok",
	  "root@example.org=maildir:/var/mail/%u; admin@forth.example.org=smtp:[forth.example.org]" },
	{ "postmaster via root", "postmaster@example.org", 0, "250 2.1.5 Ok",
	  "root@example.org=maildir:/var/mail/%u; admin@forth.example.org=smtp:[forth.example.org]" },
	{ "continuation, nesting, duplicate suppressed", "staff@example.org", 0, "250 2.1.5 Ok",
	  "alice@students.example=smtp:[glass.example]; bob@other.example=smtp:other.example; "
	  "carol@example.org=maildir:/var/mail/%u" },
	{ "tab after colon, CRLF", "upper@example.org", 0, "250 2.1.5 Ok", "carol@example.org=maildir:/var/mail/%u" },
	{ "two-alias loop", "loop1@example.org", 0, "554 5.4.6", "" },
	{ "alias naming itself", "self@example.org", 0, "250 2.1.5 Ok",
	  "self@example.org=maildir:/var/mail/%u; alice@students.example=smtp:[glass.example]" },
	{ "depth 11 is a loop", "d0@example.org", 0, "554 5.4.6", "" },
	{ "depth 10 is fine", "e0@example.org", 0, "250 2.1.5 Ok", "carol@example.org=maildir:/var/mail/%u" },
	{ "program target refused", "prog@example.org", 0, "250 2.1.5 Ok",
	  "alice@students.example=smtp:[glass.example]" },
	{ "only a program", "onlyprog@example.org", 0, "550 5.1.1", "" },
	{ "only a file", "file@example.org", 0, "550 5.1.1", "" },
	{ "unknown user in an alias bounces later", "ghost@example.org", 0, "250 2.1.5 Ok",
	  "nobody@example.org=error:5.1.1:550 <nobody@example.org>: unknown user in alias expansion" },
	{ "unknown local recipient", "nosuch@example.org", 0, "550 5.1.1", "" },
	{ "alias target too long for an address", "longlocal@example.org", 0, "550 5.1.3", "" },
	{ "known user", "carol@example.org", 0, "250 2.1.5 Ok", "carol@example.org=maildir:/var/mail/%u" },
	{ "known user via its alias, any case", "CAROL@example.org", 0, "250 2.1.5 Ok", "carol@example.org=maildir:/var/mail/%u" },
	{ "include file with owner", "list@example.org", 0, "250 2.1.5 Ok",
	  "alice@students.example=smtp:[glass.example]/owner-list@example.org; "
	  "m1@other.example=smtp:other.example/owner-list@example.org; "
	  "m2@forth.example.org=smtp:[forth.example.org]/owner-list@example.org" },
	{ "unreadable include tempfails", "badinc@example.org", 0, "451 4.3.0", "" },
	{ "angle brackets, case duplicates", "angle@example.org", 0, "250 2.1.5 Ok",
	  "carol@example.org=maildir:/var/mail/%u" },
	{ "8-bit alias name", "caf\xc3\xa9@example.org", 0, "250 2.1.5 Ok", "carol@example.org=maildir:/var/mail/%u" },
	{ "duplicate alias: first kept", "postmaster@example.org", 0, "250 2.1.5 Ok",
	  "root@example.org=maildir:/var/mail/%u; admin@forth.example.org=smtp:[forth.example.org]" },
	{ "implicit localhost", "carol@localhost", 0, "250 2.1.5 Ok", "carol@localhost=maildir:/var/mail/%u" },
	{ "implicit own name", "carol@GW.example.org", 0, "250 2.1.5 Ok", "carol@GW.example.org=maildir:/var/mail/%u" },
	{ "implicit own literal", "nosuch@[127.0.0.1]", 0, "550 5.1.1", "" },
	{ "subdomain of local is not local", "carol@sub.example.org", 0, "554 5.7.1", "" },
	{ "mailertable exact", "x@students.example", 0, "250 2.1.5 Ok", "x@students.example=smtp:[glass.example]" },
	{ "mailertable parent needs relay permission", "x@a.students.example", 0, "554 5.7.1", "" },
	{ "mailertable parent from mynetworks", "x@a.students.example", 1, "250 2.1.5 Ok",
	  "x@a.students.example=smtp:[glass.example]:2525" },
	{ "mailertable %1", "x@a.b.example.net", 0, "250 2.1.5 Ok", "x@a.b.example.net=relay:a.b.relay.example.net" },
	{ ".parent does not match the bare parent", "x@example.net", 0, "554 5.7.1", "" },
	{ "bare parent from mynetworks goes by MX", "x@example.net", 1, "250 2.1.5 Ok", "x@example.net=smtp:example.net" },
	{ "mailertable local:", "sysadm@legacy.example", 1, "250 2.1.5 Ok",
	  "sysadm@forth.example.org=smtp:[forth.example.org]" },
	{ "mailertable local: unknown", "nosuch@legacy.example", 1, "550 5.1.1", "" },
	{ "mailertable local:user", "anyone@oldnames.example", 1, "250 2.1.5 Ok",
	  "carol@oldnames.example=maildir:/var/mail/%u" },
	{ "alias to a local: domain", "remote@example.org", 0, "250 2.1.5 Ok",
	  "x@legacy.example=error:5.1.1:550 <x@legacy.example>: unknown user in alias expansion" },
	{ "mailertable lmtp", "u@lmtp.example", 1, "250 2.1.5 Ok", "u@lmtp.example=lmtp:[127.0.0.1]:2424" },
	{ "mailertable maildir", "u@arch.example", 1, "250 2.1.5 Ok", "u@arch.example=maildir:/var/mail/archive/%u" },
	{ "mailertable error", "u@bad.example", 1, "550 5.7.1", "" },
	{ "mailertable error 4xx", "u@temp.example", 1, "451 4.4.1", "" },
	{ "address literal", "u@[192.0.2.1]", 1, "250 2.1.5 Ok", "u@[192.0.2.1]=smtp:[192.0.2.1]" },
	{ "MX by default", "u@other.example", 1, "250 2.1.5 Ok", "u@other.example=smtp:other.example" },
	{ "open relay refused", "u@other.example", 0, "554 5.7.1", "" },
	{ "percent hack via relay domain", "u%other.example@students.example", 0, "554 5.7.1", "" },
	{ "percent hack via local domain", "u%other.example@example.org", 0, "550 5.1.1", "" },
	{ "bang path via relay domain", "other.example!u@students.example", 0, "554 5.7.1", "" },
	{ "quoted at via relay domain", "\"u@other.example\"@students.example", 0, "554 5.7.1", "" },
	{ "quoted at via local domain", "\"u@other.example\"@example.org", 0, "550 5.1.1", "" },
	{ "no domain", "carol", 0, "501 5.1.3", "" },
};

static void targets_str(const struct route_result *r, char *out, size_t size)
{
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < r->n && o < size; i++)
		o += (size_t)snprintf(out + o, size - o, "%s%s=%s%s%s", i ? "; " : "", r->t[i].addr, r->t[i].mailer,
				      r->t[i].sender ? "/" : "", r->t[i].sender ? r->t[i].sender : "");
}

static struct route_maps *the_maps;

static void check_expand(const struct expand_case *c)
{
	unit_case(c->name, c->addr, strlen(c->addr));
	struct buf tr;
	buf_init(&tr);
	struct route_result r;
	route_result_init(&r, &tr);
	route_expand(the_maps, c->addr, c->trusted, &r);
	char rep[700], t[4096];
	mail_reply_str(&r.reply, rep, sizeof rep);
	U_CHECK(strncmp(rep, c->reply, strlen(c->reply)) == 0);
	if (strncmp(rep, c->reply, strlen(c->reply)) != 0)
		fprintf(stderr, "  reply: %s\n  trace:\n%.*s", rep, (int)tr.len, tr.data);
	U_EQ_INT(r.ok, c->reply[0] == '2');
	targets_str(&r, t, sizeof t);
	if (r.ok)
		U_EQ_STR(t, c->targets);
	route_result_fini(&r);
	buf_fini(&tr);
}

static void test_expand_table(void **state)
{
	(void)state;
	write_tmp(inc_path, "# list members\nalice, m1@other.example\n  m2@forth  \n\n");
	write_tmp(users_path, "carol\nlistadmin\n");
	the_maps = seed_maps("", MAILERTABLE);
	UNIT_RUN_TABLE(expand_cases, check_expand);
	route_maps_free(&the_maps);
	unlink(inc_path);
	unlink(users_path);
}

/* ---------------------------------------------------------------- route_final */

struct final_case {
	const char *name, *addr, *relayhost, *mt, *want;
};

static const struct final_case final_cases[] = {
	{ "local user", "carol@example.org", "", MAILERTABLE, "maildir:/var/mail/%u" },
	{ "mailertable exact", "x@students.example", "", MAILERTABLE, "smtp:[glass.example]" },
	{ "mailertable parent", "x@y.students.example", "", MAILERTABLE, "smtp:[glass.example]:2525" },
	{ "mailertable local: is final", "x@legacy.example", "", MAILERTABLE, "maildir:/var/mail/%u" },
	{ "mailertable error", "x@bad.example", "", MAILERTABLE, "error:5.7.1:550 Mail for bad.example refused" },
	{ "MX", "x@other.example", "", MAILERTABLE, "smtp:other.example" },
	{ "trailing dot", "x@students.example.", "", MAILERTABLE, "smtp:[glass.example]" },
	{ "relayhost", "x@other.example", "[relay.example]:2526", MAILERTABLE, "smtp:[relay.example]:2526" },
	{ "mailertable before relayhost", "x@students.example", "[relay.example]", MAILERTABLE, "smtp:[glass.example]" },
	{ "dot default", "x@other.example", "", "students.example smtp:[glass.example]\n. smtp:[smarthost.example]\n",
	  "smtp:[smarthost.example]" },
	{ "dot default %1 is the domain", "x@other.example", "", ". relay:%1.gw.example\n",
	  "relay:other.example.gw.example" },
	{ "exact before dot", "x@students.example", "", "students.example smtp:[glass.example]\n. smtp:[s.example]\n",
	  "smtp:[glass.example]" },
};

static void check_final(const struct final_case *c)
{
	unit_case(c->name, c->addr, strlen(c->addr));
	struct route_maps *m = seed_maps(c->relayhost, c->mt);
	char out[ROUTE_VALUE_MAX];
	route_final(m, c->addr, out, sizeof out);
	U_EQ_STR(out, c->want);
	route_maps_free(&m);
}

static void test_final_table(void **state)
{
	(void)state;
	write_tmp(inc_path, "alice\n");
	write_tmp(users_path, "carol\n");
	UNIT_RUN_TABLE(final_cases, check_final);
	unlink(inc_path);
	unlink(users_path);
}

/* ---------------------------------------------------------------- load errors */

struct load_case {
	const char *name, *aliases, *mt, *err;
};

static const struct load_case load_cases[] = {
	{ "alias without colon", "root admin\n", NULL, "aliases:1: expected \"name: target, ...\"" },
	{ "alias name with space", "a b: c\n", NULL, "aliases:1:" },
	{ "empty name", ": c\n", NULL, "aliases:1:" },
	{ "continuation first", "# c\n  alice\n", NULL, "aliases:2: continuation line without an alias" },
	{ "error on line 3", "a: b\nc: d\nbad\n", NULL, "aliases:3:" },
	{ "mailertable no value", NULL, "students.example\n", "mailertable:1: \"students.example\" has no value" },
	{ "mailertable bad mailer", NULL, "# x\na.example uucp:x\n", "mailertable:2: unknown mailer" },
	{ "mailertable bad host", NULL, "a.example smtp:[x\n", "mailertable:1: missing ']'" },
	{ "mailertable bad error", NULL, "a.example error:250 ok\n", "mailertable:1: error: needs a 4xx or 5xx" },
};

static void check_load(const struct load_case *c)
{
	unit_case(c->name, c->aliases ? c->aliases : c->mt, strlen(c->aliases ? c->aliases : c->mt));
	struct route_conf conf = { .local_transport = "maildir:/x" };
	char err[600] = "";
	struct route_maps *m = route_maps_from_text(&conf, NULL, c->aliases, c->mt, err, sizeof err);
	U_CHECK(m == NULL);
	U_CONTAINS(err, c->err);
	route_maps_free(&m);
}

static void test_load_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(load_cases, check_load);
}

static void test_conf_values(void **state)
{
	(void)state;
	char err[600];
	unit_case("local_transport local: refused", NULL, 0);
	struct route_conf c = { .local_transport = "local:" };
	struct route_maps *m = route_maps_from_text(&c, NULL, NULL, NULL, err, sizeof err);
	U_CHECK(m == NULL);
	U_CONTAINS(err, "local_transport");
	unit_case("relayhost list refused", NULL, 0);
	struct route_conf c2 = { .relayhost = "a.example:b.example" };
	m = route_maps_from_text(&c2, NULL, NULL, NULL, err, sizeof err);
	U_CHECK(m == NULL);
	U_CONTAINS(err, "relayhost: one host expected");
	unit_case("default local_transport refuses", NULL, 0);
	struct route_conf c3 = { .local_recipient_maps = "" };
	m = route_maps_from_text(&c3, NULL, "a: \\a\n", NULL, err, sizeof err);
	U_CHECK(m != NULL);
	char out[ROUTE_VALUE_MAX];
	route_final(m, "a@localhost", out, sizeof out);
	U_CONTAINS(out, "error:5.1.1:550");
	route_maps_free(&m);
	UNIT_FINISH();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mailer_table), cmocka_unit_test(test_expand_table),
		cmocka_unit_test(test_final_table),  cmocka_unit_test(test_load_table),
		cmocka_unit_test(test_conf_values),
	};
	UNIT_MAIN(tests);
}
