/*
 * fuzz_cmd.c - libFuzzer target for SMTP command lines (mail/mail_cmd.c).
 *
 * Input: byte 0 selects the offered extensions and strict mode, the rest
 * is one command line (without CRLF). Runs mail_cmd_parse,
 * mail_params_parse, mail_cmd_mail_from, mail_cmd_rcpt_to and
 * mail_cmd_bdat and checks their contracts: pointers stay inside the
 * line, accepted values respect the offered extensions and the limits,
 * every rejection carries a well-formed 5xx reply.
 */
#include <stdbool.h>
#include <string.h>

#include "base/buf.h"
#include "base/str.h"
#include "fuzz.h"
#include "mail/mail_cmd.h"
#include "mail/mail_xtext.h"

static void check_reply(const struct mail_reply *r)
{
	FUZZ_CHECK(r->code >= 500 && r->code <= 555);
	FUZZ_CHECK(mail_reply_enh_valid(r->enh, strlen(r->enh)));
	FUZZ_CHECK(r->enh[0] == '5');
	FUZZ_CHECK(r->text[0] != '\0');
	FUZZ_CHECK(memchr(r->text, '\0', sizeof r->text) != NULL);
	/* the wire form is one line ending in CRLF, whatever the text holds */
	struct buf out;
	buf_init(&out);
	mail_reply_format(r, true, &out);
	FUZZ_CHECK(out.len >= 6 && memcmp(out.data + out.len - 2, "\r\n", 2) == 0);
	for (size_t i = 0; i + 2 < out.len; i++)
		FUZZ_CHECK(out.data[i] != '\r' && out.data[i] != '\n');
	buf_fini(&out);
}

static void check_addr(const struct mail_addr *a)
{
	FUZZ_CHECK(memchr(a->local, '\0', sizeof a->local) != NULL);
	FUZZ_CHECK(memchr(a->domain, '\0', sizeof a->domain) != NULL);
	FUZZ_CHECK(strlen(a->local) <= MAIL_LOCAL_MAX);
	FUZZ_CHECK(strlen(a->domain) <= MAIL_DOMAIN_MAX);
	if (a->null) {
		FUZZ_CHECK(!a->local[0] && !a->domain[0]);
		return;
	}
	FUZZ_CHECK(a->local[0] != '\0');
	if (a->domain[0]) {
		FUZZ_CHECK(mail_domain_valid(a->domain, strlen(a->domain), a->utf8));
		FUZZ_CHECK(a->literal == (a->domain[0] == '['));
	} else {
		FUZZ_CHECK(str_caseeq(a->local, "postmaster"));
	}
}

static void check_params(const char *s, size_t len)
{
	struct mail_param p[MAIL_PARAMS_MAX];
	int n = mail_params_parse(s, len, p, MAIL_PARAMS_MAX);
	FUZZ_CHECK(n >= -2 && n <= MAIL_PARAMS_MAX);
	for (int i = 0; i < n; i++) {
		FUZZ_CHECK(p[i].klen > 0);
		FUZZ_CHECK(p[i].key >= s && p[i].key + p[i].klen <= s + len);
		FUZZ_CHECK(p[i].key[0] != '-');
		for (size_t k = 0; k < p[i].klen; k++)
			FUZZ_CHECK(p[i].key[k] != ' ' && p[i].key[k] != '=');
		if (p[i].val) {
			FUZZ_CHECK(p[i].vlen > 0);
			FUZZ_CHECK(p[i].val == p[i].key + p[i].klen + 1);
			FUZZ_CHECK(p[i].val + p[i].vlen <= s + len);
			for (size_t k = 0; k < p[i].vlen; k++) {
				unsigned char c = (unsigned char)p[i].val[k];
				FUZZ_CHECK(c > 32 && c != '=' && c != 127);
			}
		}
		if (i > 0)
			FUZZ_CHECK(p[i].key > p[i - 1].key);
	}
	/* a smaller limit never accepts more */
	struct mail_param q[4];
	int m = mail_params_parse(s, len, q, 4);
	if (n >= 0 && n <= 4)
		FUZZ_CHECK(m == n);
	if (n > 4)
		FUZZ_CHECK(m == -2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const unsigned ctl = data[0];
	const char *line = (const char *)data + 1;
	const size_t len = size - 1;
	const struct mail_ext ext = {
		.size = ctl & 0x01,
		.eightbit = ctl & 0x02,
		.smtputf8 = ctl & 0x04,
		.dsn = ctl & 0x08,
		.chunking = ctl & 0x10,
		.binarymime = ctl & 0x20,
		.size_limit = (ctl & 0x40) ? 1000 : 0,
	};
	const bool strict = ctl & 0x80;

	struct mail_cmd cmd;
	mail_cmd_parse(line, len, &cmd);
	FUZZ_CHECK(cmd.verb >= MAIL_V_UNKNOWN && cmd.verb < MAIL_V_COUNT);
	FUZZ_CHECK(cmd.arg >= line && cmd.arg + cmd.arg_len == line + len);
	if (cmd.verb != MAIL_V_UNKNOWN) {
		/* the line starts with the verb's name (any case) */
		const char *name = mail_verb_name(cmd.verb);
		if (cmd.verb != MAIL_V_HTTP)
			FUZZ_CHECK(len >= strlen(name) && str_caseprefix(line, name));
	}

	check_params(line, len);
	check_params(cmd.arg, cmd.arg_len);

	const char *a = line;
	size_t al = len;
	if (cmd.verb == MAIL_V_MAIL || cmd.verb == MAIL_V_RCPT) {
		a = cmd.arg;
		al = cmd.arg_len;
	}
	struct mail_reply err;
	struct mail_from f;
	memset(&err, 0, sizeof err);
	if (mail_cmd_mail_from(a, al, &ext, strict, &f, &err)) {
		check_addr(&f.addr);
		if (ext.size_limit)
			FUZZ_CHECK(f.size <= ext.size_limit);
		if (f.size)
			FUZZ_CHECK(ext.size);
		if (f.body)
			FUZZ_CHECK(ext.eightbit);
		if (f.body == MAIL_BODY_BINARYMIME)
			FUZZ_CHECK(ext.binarymime);
		if (f.smtputf8)
			FUZZ_CHECK(ext.smtputf8);
		if (f.addr.utf8)
			FUZZ_CHECK(f.smtputf8);
		if (f.ret || f.has_envid)
			FUZZ_CHECK(ext.dsn);
		if (f.has_envid) {
			FUZZ_CHECK(strlen(f.envid) <= MAIL_ENVID_MAX);
			FUZZ_CHECK(mail_xtext_valid(f.envid, strlen(f.envid)));
		}
		if (strict)
			FUZZ_CHECK(al > 0 && a[0] == '<');
	} else {
		check_reply(&err);
	}

	struct mail_rcpt_to r;
	memset(&err, 0, sizeof err);
	const bool utf8 = ctl & 0x04;
	if (mail_cmd_rcpt_to(a, al, &ext, utf8, strict, &r, &err)) {
		check_addr(&r.addr);
		FUZZ_CHECK(!r.addr.null);
		if (r.addr.utf8)
			FUZZ_CHECK(utf8);
		if (r.notify || r.has_orcpt)
			FUZZ_CHECK(ext.dsn);
		FUZZ_CHECK((r.notify & ~0xfu) == 0);
		if (r.notify & MAIL_NOTIFY_NEVER)
			FUZZ_CHECK(r.notify == MAIL_NOTIFY_NEVER);
		if (r.has_orcpt) {
			FUZZ_CHECK(strlen(r.orcpt) <= MAIL_ORCPT_MAX);
			FUZZ_CHECK(strchr(r.orcpt, ';') != NULL);
			FUZZ_CHECK(mail_utf8_valid(r.orcpt, strlen(r.orcpt)));
		}
	} else {
		check_reply(&err);
	}

	uint64_t bsize = 0;
	bool last = false;
	memset(&err, 0, sizeof err);
	if (mail_cmd_bdat(cmd.verb == MAIL_V_BDAT ? cmd.arg : line, cmd.verb == MAIL_V_BDAT ? cmd.arg_len : len,
			  &bsize, &last, &err)) {
		const char *b = cmd.verb == MAIL_V_BDAT ? cmd.arg : line;
		FUZZ_CHECK(b[0] >= '0' && b[0] <= '9');
	} else {
		check_reply(&err);
	}
	return 0;
}
