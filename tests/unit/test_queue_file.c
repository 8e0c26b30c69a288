/*
 * test_queue_file.c - the queue file format (queue/queue_file.c).
 *
 * Envelope records round-trip hostile values exactly (spaces, '%',
 * controls, UTF-8, empty strings, many recipients, ORCPT present/absent);
 * damaged envelopes and headers are rejected; status records apply in
 * order and stop at the first torn or damaged one; value escaping rejects
 * %00 and bad hex.
 */
#include "unit.h"

#include <stdbool.h>

#include "base/buf.h"
#include "base/crc32.h"
#include "mail/mail_env.h"
#include "queue/queue_file.h"

/* ---- envelope round trip ---- */

struct rcpt_spec {
	const char *addr;
	const char *orcpt;
	unsigned notify;
};

struct env_case {
	const char *name;
	const char *qid;
	int64_t arrival;
	const char *sender, *helo, *client_addr, *client_name, *protocol;
	const char *envid;
	enum mail_ret ret;
	enum mail_body_type body;
	bool smtputf8;
	unsigned flags;
	struct rcpt_spec rcpt[4];
};

static const struct env_case env_cases[] = {
	{ "plain", "0123456789ABCDEF", 1700000000000000, "a@b.example", "mx.example", "192.0.2.1", "mx.example",
	  "ESMTP", NULL, MAIL_RET_NONE, MAIL_BODY_NONE, false, 0, { { "c@d.example", NULL, 0 } } },
	{ "null sender bounce", "0123456789ABCDEG", 1, "", "", "", "unknown", "ESMTP", NULL, MAIL_RET_NONE,
	  MAIL_BODY_NONE, false, MAIL_ENV_F_BOUNCE, { { "c@d.example", NULL, 0 } } },
	{ "hostile strings", "Q", 0, "\"a b\"@x", "helo with spaces %41 %", "::1", "name\twith\ttabs\r\n",
	  "UTF8SMTPS", "env+2Bid", MAIL_RET_HDRS, MAIL_BODY_8BITMIME, true, 1,
	  { { "\"x y\"@z", "rfc822;x+20y@z", MAIL_NOTIFY_SUCCESS | MAIL_NOTIFY_FAILURE } } },
	{ "percent everywhere", "%", 42, "%", "%%", "%00", "%zz", "%", "%", MAIL_RET_FULL, MAIL_BODY_7BIT, false, 0,
	  { { "%@%", "%", 0 } } },
	{ "controls and DEL", "Q\x01", 7, "\x01\x02\x7f", "\x1f", "\x7f", " ", "\n", "\x01", MAIL_RET_NONE,
	  MAIL_BODY_BINARYMIME, false, 0, { { "a\nb@c", "\x7f", MAIL_NOTIFY_DELAY } } },
	{ "utf8", "Q", 9, "j\xc3\xbcrgen@b\xc3\xbc" "cher.example", "h\xc3\xa9lo", "192.0.2.1", "\xe2\x82\xac",
	  "UTF8SMTP", NULL, MAIL_RET_NONE, MAIL_BODY_8BITMIME, true, 0,
	  { { "\xf0\x9f\x98\x80@example.com", "utf-8;\xc3\xbc@x", 0 } } },
	{ "empty strings", "", 0, "", "", "", "", "", "", MAIL_RET_NONE, MAIL_BODY_NONE, false, 0,
	  { { "x", "", 0 } } },
	{ "orcpt dash", "Q", 1, "a@b", "h", "", "unknown", "ESMTP", NULL, MAIL_RET_NONE, MAIL_BODY_NONE, false, 0,
	  { { "a@b", "-", 0 }, { "c@d", NULL, 0 }, { "-", "--", 0 } } },
	{ "several recipients", "Q", 2, "a@b", "h", "", "unknown", "ESMTP", NULL, MAIL_RET_NONE, MAIL_BODY_NONE, false,
	  0,
	  { { "r1@x", NULL, MAIL_NOTIFY_NEVER },
	    { "r2@x", "rfc822;r2@x", MAIL_NOTIFY_SUCCESS | MAIL_NOTIFY_FAILURE | MAIL_NOTIFY_DELAY },
	    { "r1@x", NULL, 0 },
	    { "r4 with space@x", "rfc822;r4", 15 } } },
	{ "max notify and flags", "Q", INT64_MAX, "a@b", "h", "", "unknown", "ESMTP", NULL, MAIL_RET_NONE,
	  MAIL_BODY_NONE, false, 0xffff, { { "a@b", NULL, 15 } } },
};

static struct mail_env *env_from_case(const struct env_case *c)
{
	struct mail_env *e = mail_env_new();
	snprintf(e->qid, sizeof e->qid, "%s", c->qid);
	e->arrival_us = c->arrival;
	e->sender = mail_env_strdup(e, c->sender);
	e->helo = mail_env_strdup(e, c->helo);
	e->client_addr = mail_env_strdup(e, c->client_addr);
	e->client_name = mail_env_strdup(e, c->client_name);
	e->protocol = mail_env_strdup(e, c->protocol);
	e->envid = c->envid ? mail_env_strdup(e, c->envid) : NULL;
	e->ret = c->ret;
	e->body = c->body;
	e->smtputf8 = c->smtputf8;
	e->flags = c->flags;
	for (int i = 0; i < 4 && c->rcpt[i].addr; i++)
		mail_env_add_rcpt(e, c->rcpt[i].addr, c->rcpt[i].orcpt, c->rcpt[i].notify);
	return e;
}

static void same_opt_str(const char *got, const char *want)
{
	U_EQ_INT(got == NULL, want == NULL);
	if (got && want)
		U_EQ_STR(got, want);
}

static void same_env(const struct mail_env *a, const struct mail_env *b)
{
	U_EQ_STR(a->qid, b->qid);
	U_EQ_INT(a->arrival_us, b->arrival_us);
	U_EQ_STR(a->sender, b->sender);
	U_EQ_STR(a->helo, b->helo);
	U_EQ_STR(a->client_addr, b->client_addr);
	U_EQ_STR(a->client_name, b->client_name);
	U_EQ_STR(a->protocol, b->protocol);
	same_opt_str(a->envid, b->envid);
	U_EQ_INT(a->ret, b->ret);
	U_EQ_INT(a->body, b->body);
	U_EQ_INT(a->smtputf8, b->smtputf8);
	U_EQ_INT(a->flags, b->flags);
	U_EQ_INT(a->nrcpt, b->nrcpt);
	for (size_t i = 0; i < a->nrcpt && i < b->nrcpt; i++) {
		U_EQ_STR(a->rcpt[i].addr, b->rcpt[i].addr);
		same_opt_str(a->rcpt[i].orcpt, b->rcpt[i].orcpt);
		U_EQ_INT(a->rcpt[i].notify, b->rcpt[i].notify);
		U_EQ_INT(a->rcpt[i].state, MAIL_RCPT_PENDING);
	}
}

static void check_env(const struct env_case *c)
{
	struct mail_env *e = env_from_case(c), *d = mail_env_new();
	struct buf enc;
	buf_init(&enc);
	queue_file_env_encode(e, &enc);
	unit_case(c->name, enc.data, enc.len);
	/* one record per line, nothing unescaped that could split one */
	size_t lines = 0;
	for (size_t i = 0; i < enc.len; i++) {
		unsigned char ch = (unsigned char)enc.data[i];
		lines += ch == '\n';
		U_CHECK(ch == '\n' || ch == ' ' || (ch > 0x20 && ch != 0x7f));
	}
	size_t want_lines = 9 + (e->envid != NULL) + (e->ret != 0) + (e->body != 0) + e->smtputf8 + (e->flags != 0) +
			    e->nrcpt;
	U_EQ_INT(lines, want_lines);
	char err[128] = "";
	U_EQ_INT(queue_file_env_decode(enc.data, enc.len, d, err, sizeof err), 0);
	if (err[0])
		print_error("     decode error: %s\n", err);
	same_env(d, e);
	/* the encoding is canonical: re-encoding gives the same bytes */
	struct buf enc2;
	buf_init(&enc2);
	queue_file_env_encode(d, &enc2);
	U_EQ_MEM(enc2.data, enc2.len, enc.data, enc.len);
	buf_fini(&enc2);
	buf_fini(&enc);
	mail_env_free(&e);
	mail_env_free(&d);
	U_CHECK(e == NULL && d == NULL);
}

static void test_env_roundtrip_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(env_cases, check_env);
}

static void test_env_many_rcpts(void **state)
{
	(void)state;
	struct mail_env *e = mail_env_new(), *d = mail_env_new();
	snprintf(e->qid, sizeof e->qid, "0123456789ABCDEF");
	e->arrival_us = 123;
	for (int i = 0; i < 5000; i++) {
		char a[64], o[64];
		snprintf(a, sizeof a, "user%d %%@host%d.example", i, i % 7);
		snprintf(o, sizeof o, "rfc822;user%d", i);
		mail_env_add_rcpt(e, a, i % 3 ? o : NULL, (unsigned)(i % 16));
	}
	struct buf enc;
	buf_init(&enc);
	queue_file_env_encode(e, &enc);
	unit_case("5000 recipients", NULL, 0);
	char err[128] = "";
	U_EQ_INT(queue_file_env_decode(enc.data, enc.len, d, err, sizeof err), 0);
	same_env(d, e);
	buf_fini(&enc);
	mail_env_free(&e);
	mail_env_free(&d);
	UNIT_FINISH();
}

/* ---- envelope decode errors ---- */

#define GOOD "V 1\nQ 0123456789ABCDEF\nT 5\nS a@b\nR 0 - c@d\nE\n"

struct dec_case {
	const char *name;
	const char *in;
	int want_rc;
	const char *want_err; /* substring */
};

static const struct dec_case dec_cases[] = {
	{ "good", GOOD, 0, "" },
	{ "minimal", "V 1\nQ x\nT 0\nR 0 - a\nE\n", 0, "" },
	{ "trailing bytes after E ignored", GOOD "garbage", 0, "" },
	{ "empty", "", -1, "incomplete" },
	{ "no version", "Q x\nT 0\nR 0 - a\nE\n", -1, "incomplete" },
	{ "no qid", "V 1\nT 0\nR 0 - a\nE\n", -1, "incomplete" },
	{ "no time", "V 1\nQ x\nR 0 - a\nE\n", -1, "incomplete" },
	{ "no recipient", "V 1\nQ x\nT 0\nE\n", -1, "incomplete" },
	{ "no end", "V 1\nQ x\nT 0\nR 0 - a\n", -1, "incomplete" },
	{ "unterminated", "V 1\nQ x\nT 0\nR 0 - a\nE", -1, "unterminated" },
	{ "version 2", "V 2\nQ x\nT 0\nR 0 - a\nE\n", -1, "version" },
	{ "version empty", "V\nQ x\nT 0\nR 0 - a\nE\n", -1, "version" },
	{ "version 10", "V 10\nQ x\nT 0\nR 0 - a\nE\n", -1, "version" },
	{ "empty line", "V 1\n\nQ x\nT 0\nR 0 - a\nE\n", -1, "malformed record" },
	{ "no space after key", "V 1\nQx\nT 0\nR 0 - a\nE\n", -1, "malformed record" },
	{ "unknown record", "V 1\nZ x\nQ x\nT 0\nR 0 - a\nE\n", -1, "unknown record" },
	{ "time not a number", "V 1\nQ x\nT abc\nR 0 - a\nE\n", -1, "arrival" },
	{ "time negative", "V 1\nQ x\nT -1\nR 0 - a\nE\n", -1, "arrival" },
	{ "time overflow", "V 1\nQ x\nT 99999999999999999999\nR 0 - a\nE\n", -1, "arrival" },
	{ "time int64 max", "V 1\nQ x\nT 9223372036854775807\nR 0 - a\nE\n", 0, "" },
	{ "time int64 max+1", "V 1\nQ x\nT 9223372036854775808\nR 0 - a\nE\n", -1, "arrival" },
	{ "bad escape", "V 1\nQ x\nT 0\nS %4\nR 0 - a\nE\n", -1, "'S'" },
	{ "NUL escape", "V 1\nQ x\nT 0\nH a%00b\nR 0 - a\nE\n", -1, "'H'" },
	{ "lower hex escape", "V 1\nQ x\nT 0\nN %2a\nR 0 - a\nE\n", -1, "'N'" },
	{ "bad RET", "V 1\nQ x\nT 0\nX MAYBE\nR 0 - a\nE\n", -1, "'X'" },
	{ "bad BODY", "V 1\nQ x\nT 0\nB 9BIT\nR 0 - a\nE\n", -1, "'B'" },
	{ "flags 65535", "V 1\nQ x\nT 0\nF 65535\nR 0 - a\nE\n", 0, "" },
	{ "flags 65536", "V 1\nQ x\nT 0\nF 65536\nR 0 - a\nE\n", -1, "'F'" },
	{ "flags not a number", "V 1\nQ x\nT 0\nF x\nR 0 - a\nE\n", -1, "'F'" },
	{ "notify 15", "V 1\nQ x\nT 0\nR 15 - a\nE\n", 0, "" },
	{ "notify 16", "V 1\nQ x\nT 0\nR 16 - a\nE\n", -1, "recipient" },
	{ "notify missing", "V 1\nQ x\nT 0\nR  - a\nE\n", -1, "recipient" },
	{ "recipient two fields", "V 1\nQ x\nT 0\nR 0 a\nE\n", -1, "recipient" },
	{ "recipient one field", "V 1\nQ x\nT 0\nR 0\nE\n", -1, "recipient" },
	{ "recipient empty addr", "V 1\nQ x\nT 0\nR 0 - %\nE\n", -1, "'R'" },
	{ "recipient bad orcpt escape", "V 1\nQ x\nT 0\nR 0 %zz a\nE\n", -1, "'R'" },
	{ "raw control in value", "V 1\nQ x\nT 0\nH a\x01b\nR 0 - a\nE\n", -1, "'H'" },
	{ "route after recipient", "V 1\nQ x\nT 0\nR 0 - a\nM smtp:[h]\nR 0 - b\nE\n", 0, "" },
	{ "route before any recipient", "V 1\nQ x\nT 0\nM smtp:[h]\nR 0 - a\nE\n", -1, "'M'" },
	{ "two routes for one recipient", "V 1\nQ x\nT 0\nR 0 - a\nM smtp:x\nM smtp:y\nE\n", -1, "'M'" },
	{ "route escaped", "V 1\nQ x\nT 0\nR 0 - a\nM error:5.1.1:550%20no\nE\n", 0, "" },
};

static void test_route_record(void **state)
{
	(void)state;
	unit_case("route records round trip", NULL, 0);
	struct mail_env *e = mail_env_new(), *d = mail_env_new();
	snprintf(e->qid, sizeof e->qid, "Q");
	mail_env_add_rcpt(e, "a@x", NULL, 0)->route = mail_env_strdup(e, "error:5.1.1:550 no such user");
	mail_env_add_rcpt(e, "b@x", NULL, 0);
	mail_env_add_rcpt(e, "c@x", "rfc822;a@x", 0)->route = mail_env_strdup(e, "lmtp:unix:/run/l mtp");
	struct buf b;
	buf_init(&b);
	queue_file_env_encode(e, &b);
	char err[128] = "";
	U_EQ_INT(queue_file_env_decode(b.data, b.len, d, err, sizeof err), 0);
	U_EQ_INT(d->nrcpt, 3);
	if (d->nrcpt == 3) {
		U_EQ_STR(d->rcpt[0].route, "error:5.1.1:550 no such user");
		U_CHECK(d->rcpt[1].route == NULL);
		U_EQ_STR(d->rcpt[2].route, "lmtp:unix:/run/l mtp");
	}
	buf_fini(&b);
	mail_env_free(&e);
	mail_env_free(&d);
	UNIT_FINISH();
}

/* The scan report (C) rides in the envelope; scan attempts (A +1/-1) are
 * status records: the poison guard's count survives a crash. */
static void test_scan_records(void **state)
{
	(void)state;
	unit_case("scan report round trip", NULL, 0);
	struct mail_env *e = mail_env_new(), *d = mail_env_new();
	snprintf(e->qid, sizeof e->qid, "Q");
	mail_env_add_rcpt(e, "a@x", NULL, 0);
	e->scan = mail_env_strdup(e, "v=1 cat=virus subj=a%20b virus=2;x;Eicar;0");
	struct buf b;
	buf_init(&b);
	queue_file_env_encode(e, &b);
	char err[128] = "";
	U_EQ_INT(queue_file_env_decode(b.data, b.len, d, err, sizeof err), 0);
	U_EQ_STR(d->scan, e->scan);
	U_EQ_INT(d->scan_attempts, 0);
	buf_reset(&b);
	unit_case("scan attempts: +1 +1 -1 +1 counts 2; torn last record ignored", NULL, 0);
	queue_file_scan_attempt_encode(+1, &b);
	queue_file_scan_attempt_encode(+1, &b);
	queue_file_scan_attempt_encode(-1, &b);
	queue_file_scan_attempt_encode(+5, &b); /* any positive delta is one attempt */
	U_EQ_INT(queue_file_status_apply(b.data, b.len, d), 4);
	U_EQ_INT(d->scan_attempts, 2);
	d->scan_attempts = 0;
	U_EQ_INT(queue_file_status_apply(b.data, b.len - 1, d), 3);
	U_EQ_INT(d->scan_attempts, 1);
	unit_case("never below zero", NULL, 0);
	buf_reset(&b);
	queue_file_scan_attempt_encode(-1, &b);
	d->scan_attempts = 0;
	U_EQ_INT(queue_file_status_apply(b.data, b.len, d), 1);
	U_EQ_INT(d->scan_attempts, 0);
	unit_case("a damaged A record stops the reading", "A +2 00000000\n", 14);
	d->scan_attempts = 0;
	U_EQ_INT(queue_file_status_apply("A +2 00000000\n", 14, d), 0);
	U_EQ_INT(d->scan_attempts, 0);
	buf_fini(&b);
	mail_env_free(&e);
	mail_env_free(&d);
	UNIT_FINISH();
}

static void check_dec(const struct dec_case *c)
{
	size_t len = strlen(c->in);
	unit_case(c->name, c->in, len);
	char *heap = malloc(len ? len : 1);
	memcpy(heap, c->in, len);
	struct mail_env *e = mail_env_new();
	char err[128] = "";
	int rc = queue_file_env_decode(heap, len, e, err, sizeof err);
	U_EQ_INT(rc, c->want_rc);
	if (rc < 0)
		U_CONTAINS(err, c->want_err);
	mail_env_free(&e);
	free(heap);
}

static void test_env_decode_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(dec_cases, check_dec);
}

/* ---- header ---- */

struct hdr_rt_case {
	const char *name;
	struct queue_hdr h;
};

static const struct hdr_rt_case hdr_rt_cases[] = {
	{ "empty body", { 128, 0, 128, 1, 0 } },
	{ "typical", { 128, 12345, 12473, 999, 0xdeadbeef } },
	{ "env max", { 128, 10, 138, QUEUE_ENV_MAX, 0xffffffff } },
	{ "huge body", { 128, UINT64_MAX - 128, UINT64_MAX, 1, 1 } },
};

static void check_hdr_rt(const struct hdr_rt_case *c)
{
	unit_case(c->name, NULL, 0);
	char raw[QUEUE_HDR_SIZE];
	queue_file_hdr_encode(&c->h, raw);
	U_EQ_INT(raw[QUEUE_HDR_SIZE - 1], '\n');
	U_CHECK(memcmp(raw, "MXQ1 ", 5) == 0);
	struct queue_hdr h;
	memset(&h, 0, sizeof h);
	U_EQ_INT(queue_file_hdr_decode(raw, sizeof raw, &h), 0);
	U_EQ_HEX(h.body_off, c->h.body_off);
	U_EQ_HEX(h.body_len, c->h.body_len);
	U_EQ_HEX(h.env_off, c->h.env_off);
	U_EQ_HEX(h.env_len, c->h.env_len);
	U_EQ_HEX(h.env_crc, c->h.env_crc);
	/* fewer than 128 bytes is never a header */
	U_EQ_INT(queue_file_hdr_decode(raw, sizeof raw - 1, &h), -1);
}

static void test_hdr_roundtrip_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(hdr_rt_cases, check_hdr_rt);
}

struct hdr_case {
	const char *name;
	const char *text; /* padded with spaces to 127 bytes + '\n' */
	int want_rc;
};

static const struct hdr_case hdr_cases[] = {
	{ "good", "MXQ1 b=128:10 e=138:5 c=0000abcd", 0 },
	{ "env len max", "MXQ1 b=128:10 e=138:67108864 c=0000abcd", 0 },
	{ "env len max+1", "MXQ1 b=128:10 e=138:67108865 c=0000abcd", -1 },
	{ "wrong magic", "MXQ2 b=128:10 e=138:5 c=0000abcd", -1 },
	{ "lower magic", "mxq1 b=128:10 e=138:5 c=0000abcd", -1 },
	{ "body_off 127", "MXQ1 b=127:10 e=137:5 c=0000abcd", -1 },
	{ "body_off 129", "MXQ1 b=129:10 e=139:5 c=0000abcd", -1 },
	{ "env_off mismatch", "MXQ1 b=128:10 e=139:5 c=0000abcd", -1 },
	{ "env_len 0", "MXQ1 b=128:10 e=138:0 c=0000abcd", -1 },
	{ "missing crc", "MXQ1 b=128:10 e=138:5", -1 },
	{ "short crc", "MXQ1 b=128:10 e=138:5 c=abcd", -1 },
	{ "crc 9 digits", "MXQ1 b=128:10 e=138:5 c=0000abcd1", -1 },
	{ "trailing garbage", "MXQ1 b=128:10 e=138:5 c=0000abcd x", -1 },
	{ "not a number", "MXQ1 b=128:ten e=138:5 c=0000abcd", -1 },
	{ "negative body_len wraps", "MXQ1 b=128:-1 e=127:5 c=0000abcd", -1 },
	{ "body_len overflow", "MXQ1 b=128:18446744073709551615 e=127:5 c=0000abcd", -1 },
	{ "plus sign", "MXQ1 b=128:+10 e=138:5 c=0000abcd", -1 },
	{ "leading zero", "MXQ1 b=0128:10 e=138:5 c=0000abcd", -1 },
	{ "double space", "MXQ1 b=128:10  e=138:5 c=0000abcd", -1 },
	{ "hex prefix crc", "MXQ1 b=128:10 e=138:5 c=0x00abcd", -1 },
	{ "upper hex crc", "MXQ1 b=128:10 e=138:5 c=0000ABCD", -1 },
	{ "space in number", "MXQ1 b= 128:10 e=138:5 c=0000abcd", -1 },
};

static void make_hdr(const char *text, char out[QUEUE_HDR_SIZE])
{
	memset(out, ' ', QUEUE_HDR_SIZE);
	memcpy(out, text, strlen(text));
	out[QUEUE_HDR_SIZE - 1] = '\n';
}

static void check_hdr(const struct hdr_case *c)
{
	char raw[QUEUE_HDR_SIZE + 1];
	make_hdr(c->text, raw);
	unit_case(c->name, raw, QUEUE_HDR_SIZE);
	struct queue_hdr h;
	U_EQ_INT(queue_file_hdr_decode(raw, QUEUE_HDR_SIZE, &h), c->want_rc);
	/* the same with bytes after the header (the body follows it) */
	raw[QUEUE_HDR_SIZE] = 'X';
	U_EQ_INT(queue_file_hdr_decode(raw, QUEUE_HDR_SIZE + 1, &h), c->want_rc);
}

static void test_hdr_decode_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(hdr_cases, check_hdr);
}

static void test_hdr_damage(void **state)
{
	(void)state;
	char raw[QUEUE_HDR_SIZE];
	struct queue_hdr h;
	make_hdr("MXQ1 b=128:10 e=138:5 c=0000abcd", raw);
	unit_case("no newline at 127", raw, sizeof raw);
	raw[QUEUE_HDR_SIZE - 1] = ' ';
	U_EQ_INT(queue_file_hdr_decode(raw, sizeof raw, &h), -1);
	make_hdr("MXQ1 b=128:10 e=138:5 c=0000abcd", raw);
	unit_case("NUL in padding", raw, sizeof raw);
	raw[100] = '\0';
	U_EQ_INT(queue_file_hdr_decode(raw, sizeof raw, &h), -1);
	make_hdr("MXQ1 b=128:10 e=138:5 c=0000abcd", raw);
	unit_case("newline in padding", raw, sizeof raw);
	raw[100] = '\n';
	U_EQ_INT(queue_file_hdr_decode(raw, sizeof raw, &h), -1);
	unit_case("all zero", NULL, 0);
	memset(raw, 0, sizeof raw);
	U_EQ_INT(queue_file_hdr_decode(raw, sizeof raw, &h), -1);
	UNIT_FINISH();
}

/* ---- status records ---- */

static struct mail_env *three_rcpts(void)
{
	struct mail_env *e = mail_env_new();
	mail_env_add_rcpt(e, "a@x", NULL, 0);
	mail_env_add_rcpt(e, "b@x", NULL, 0);
	mail_env_add_rcpt(e, "c@x", NULL, 0);
	return e;
}

static void encode_status(struct buf *out, size_t idx, enum mail_rcpt_state st, int code, const char *enh,
			  const char *text, int64_t when)
{
	struct mail_rcpt r;
	memset(&r, 0, sizeof r);
	r.state = st;
	r.when_us = when;
	if (code) {
		r.has_reply = true;
		mail_reply_set(&r.reply, code, enh, "%s", text);
	}
	queue_file_status_encode(idx, &r, out);
}

static void test_status_apply(void **state)
{
	(void)state;
	struct buf recs;
	buf_init(&recs);
	encode_status(&recs, 1, MAIL_RCPT_DELIVERED, 250, "2.0.0", "Ok: queued as 7F3A", 1000);
	size_t end1 = recs.len;
	encode_status(&recs, 2, MAIL_RCPT_FAILED, 550, "5.1.1", "No such user\n100% sure\x01", 2000);
	size_t end2 = recs.len;
	encode_status(&recs, 0, MAIL_RCPT_PENDING, 451, "4.4.1", "Connection refused", 3000);
	size_t end3 = recs.len;
	encode_status(&recs, 0, MAIL_RCPT_PENDING, 0, "", "", 4000);
	unit_case("four records", recs.data, recs.len);

	struct mail_env *e = three_rcpts();
	U_EQ_INT(queue_file_status_apply(recs.data, recs.len, e), 4);
	U_EQ_INT(e->rcpt[1].state, MAIL_RCPT_DELIVERED);
	U_EQ_INT(e->rcpt[1].reply.code, 250);
	U_EQ_STR(e->rcpt[1].reply.enh, "2.0.0");
	U_EQ_STR(e->rcpt[1].reply.text, "Ok: queued as 7F3A");
	U_EQ_INT(e->rcpt[1].when_us, 1000);
	U_EQ_INT(e->rcpt[2].state, MAIL_RCPT_FAILED);
	U_EQ_STR(e->rcpt[2].reply.text, "No such user\n100% sure\x01");
	U_EQ_INT(e->rcpt[0].state, MAIL_RCPT_PENDING);
	U_EQ_INT(e->rcpt[0].has_reply, false); /* the last record for 0 had no reply */
	U_EQ_INT(e->rcpt[0].when_us, 4000);
	U_EQ_INT(mail_env_pending(e), 1);
	mail_env_free(&e);

	/* a torn last record (any prefix of it) is ignored; the rest apply */
	for (size_t cut = end3 + 1; cut < recs.len; cut++) {
		unit_input("torn last record", recs.data, cut);
		e = three_rcpts();
		U_EQ_INT(queue_file_status_apply(recs.data, cut, e), 3);
		U_EQ_INT(e->rcpt[0].when_us, 3000);
		mail_env_free(&e);
	}
	/* a torn second record stops there */
	for (size_t cut = end1 + 1; cut < end2; cut++) {
		unit_input("torn second record", recs.data, cut);
		e = three_rcpts();
		U_EQ_INT(queue_file_status_apply(recs.data, cut, e), 1);
		U_EQ_INT(e->rcpt[2].state, MAIL_RCPT_PENDING);
		mail_env_free(&e);
	}
	/* any changed byte in the second record stops the apply there */
	for (size_t pos = end1; pos < end2 - 1; pos++) {
		char *copy = malloc(recs.len);
		memcpy(copy, recs.data, recs.len);
		copy[pos] = copy[pos] == 'Z' ? 'Y' : 'Z';
		unit_input("damaged second record", copy, recs.len);
		e = three_rcpts();
		U_EQ_INT(queue_file_status_apply(copy, recs.len, e), 1);
		U_EQ_INT(e->rcpt[2].state, MAIL_RCPT_PENDING);
		U_EQ_INT(e->rcpt[0].when_us, 0);
		mail_env_free(&e);
		free(copy);
	}
	buf_fini(&recs);
	UNIT_FINISH();
}

struct status_case {
	const char *name;
	const char *rec; /* without the CRC; one is appended */
	bool bad_crc;
	size_t want_applied;
};

static const struct status_case status_cases[] = {
	{ "delivered", "D 0 D 5 250 2.0.0 ok", false, 1 },
	{ "failed", "D 0 F 5 550 5.1.1 no", false, 1 },
	{ "pending", "D 0 P 5 451 % %", false, 1 },
	{ "no reply", "D 0 P 0 0 % %", false, 1 },
	{ "last index", "D 2 D 5 250 % %", false, 1 },
	{ "index out of range", "D 3 D 5 250 % %", false, 0 },
	{ "huge index", "D 18446744073709551615 D 5 250 % %", false, 0 },
	{ "bad state", "D 0 X 5 250 % %", false, 0 },
	{ "long state", "D 0 DX 5 250 % %", false, 0 },
	{ "code 599", "D 0 F 5 599 % %", false, 1 },
	{ "code 600", "D 0 F 5 600 % %", false, 0 },
	{ "negative time", "D 0 D -5 250 % %", false, 0 },
	{ "time int64 max", "D 0 D 9223372036854775807 250 % %", false, 1 },
	{ "time int64 max+1", "D 0 D 9223372036854775808 250 % %", false, 0 },
	{ "bad escape", "D 0 D 5 250 %zz %", false, 0 },
	{ "NUL escape", "D 0 D 5 250 % a%00", false, 0 },
	{ "wrong tag", "E 0 D 5 250 % %", false, 0 },
	{ "six fields", "D 0 D 5 250 %", false, 0 },
	{ "eight fields", "D 0 D 5 250 % % extra", false, 0 },
	{ "bad crc", "D 0 D 5 250 % %", true, 0 },
	{ "delay notice", "W 5", false, 1 },
	{ "delay notice int64 max", "W 9223372036854775807", false, 1 },
	{ "delay notice int64 max+1", "W 9223372036854775808", false, 0 },
	{ "delay notice time 0", "W 0", false, 0 },
	{ "delay notice negative time", "W -5", false, 0 },
	{ "delay notice extra field", "W 5 6", false, 0 },
	{ "delay notice bad time", "W 5x", false, 0 },
	{ "delay notice bad crc", "W 5", true, 0 },
};

static void check_status(const struct status_case *c)
{
	char line[256];
	uint32_t crc = crc32_update(0, c->rec, strlen(c->rec));
	if (c->bad_crc)
		crc ^= 1;
	int n = snprintf(line, sizeof line, "%s %08x\n", c->rec, crc);
	unit_case(c->name, line, (size_t)n);
	struct mail_env *e = three_rcpts();
	U_EQ_INT(queue_file_status_apply(line, (size_t)n, e), c->want_applied);
	if (!c->want_applied)
		U_EQ_INT(mail_env_pending(e), 3);
	mail_env_free(&e);
}

static void test_status_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(status_cases, check_status);
}

/* The W record (a delay notice was sent) mixes with status records in
 * append order and survives a reload; without it there is no notice. */
static void test_warned_record(void **state)
{
	(void)state;
	struct mail_env *e = three_rcpts();
	e->delay_warned_us = 1700000000123456;
	struct buf recs;
	buf_init(&recs);
	encode_status(&recs, 0, MAIL_RCPT_PENDING, 451, "4.2.0", "later", 1000);
	queue_file_warned_encode(e, &recs);
	encode_status(&recs, 1, MAIL_RCPT_DELIVERED, 250, "2.0.0", "ok", 2000);
	unit_case("status, W, status", recs.data, recs.len);
	struct mail_env *d = three_rcpts();
	U_EQ_INT(queue_file_status_apply(recs.data, recs.len, d), 3);
	U_EQ_INT(d->delay_warned_us, 1700000000123456);
	U_EQ_INT(d->rcpt[1].state, MAIL_RCPT_DELIVERED);
	mail_env_free(&d);
	d = three_rcpts();
	U_EQ_INT(queue_file_status_apply(recs.data, recs.len - 1, d), 2); /* torn last record */
	U_EQ_INT(d->delay_warned_us, 1700000000123456);
	mail_env_free(&d);
	d = three_rcpts();
	U_EQ_INT(queue_file_status_apply(recs.data, 20, d), 0); /* only a torn first record */
	U_EQ_INT(d->delay_warned_us, 0);
	mail_env_free(&d);
	mail_env_free(&e);
	buf_fini(&recs);
	UNIT_FINISH();
}

/* ---- escaping ---- */

struct esc_case {
	const char *name;
	const char *in;
	const char *want;
};

static const struct esc_case esc_cases[] = {
	{ "empty", "", "%" },
	{ "plain", "abc", "abc" },
	{ "space", "a b", "a%20b" },
	{ "percent", "100%", "100%25" },
	{ "lone percent", "%", "%25" },
	{ "controls", "\x01\x1f\x7f", "%01%1F%7F" },
	{ "newline", "a\nb", "a%0Ab" },
	{ "utf8 kept", "\xc3\xbc", "\xc3\xbc" },
	{ "dash kept", "-", "-" },
};

static void check_esc(const struct esc_case *c)
{
	unit_case(c->name, c->in, strlen(c->in));
	struct buf out, back;
	buf_init(&out);
	buf_init(&back);
	queue_file_escape(c->in, &out);
	U_EQ_MEM(out.data, out.len, c->want, strlen(c->want));
	U_EQ_INT(queue_file_unescape(out.data, out.len, &back), 0);
	U_EQ_STR(back.data, c->in);
	buf_fini(&out);
	buf_fini(&back);
}

static void test_escape_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(esc_cases, check_esc);
}

struct unesc_case {
	const char *name;
	const char *in;
	int want_rc;
	const char *want;
};

static const struct unesc_case unesc_cases[] = {
	{ "lone percent is empty", "%", 0, "" },
	{ "plain", "abc", 0, "abc" },
	{ "hex", "%41%42", 0, "AB" },
	{ "percent escaped", "%25", 0, "%" },
	{ "high byte", "%FF", 0, "\xff" },
	{ "NUL rejected", "%00", -1, NULL },
	{ "NUL inside rejected", "a%00b", -1, NULL },
	{ "short", "%4", -1, NULL },
	{ "trailing percent", "a%", -1, NULL },
	{ "double percent", "%%", -1, NULL },
	{ "bad hex", "%zz", -1, NULL },
	{ "lower hex", "%4a", -1, NULL },
	{ "empty", "", 0, "" },
	{ "raw NUL rejected", "a\0b", -1, NULL },
	{ "raw space rejected", "a b", -1, NULL },
	{ "raw control rejected", "a\x01", -1, NULL },
	{ "raw DEL rejected", "\x7f", -1, NULL },
	{ "raw 8bit kept", "\xc3\xbc", 0, "\xc3\xbc" },
};

static void check_unesc(const struct unesc_case *c)
{
	size_t len = strcmp(c->name, "raw NUL rejected") == 0 ? 3 : strlen(c->in);
	unit_case(c->name, c->in, len);
	char *heap = malloc(len ? len : 1);
	memcpy(heap, c->in, len);
	struct buf out;
	buf_init(&out);
	int rc = queue_file_unescape(heap, len, &out);
	U_EQ_INT(rc, c->want_rc);
	if (rc == 0 && c->want)
		U_EQ_STR(out.data ? out.data : "", c->want);
	buf_fini(&out);
	free(heap);
}

static void test_unescape_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(unesc_cases, check_unesc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_env_roundtrip_table), cmocka_unit_test(test_env_many_rcpts),
		cmocka_unit_test(test_env_decode_table),
		cmocka_unit_test(test_route_record),    cmocka_unit_test(test_hdr_roundtrip_table),
		cmocka_unit_test(test_hdr_decode_table),    cmocka_unit_test(test_hdr_damage),
		cmocka_unit_test(test_status_apply),	    cmocka_unit_test(test_status_table),
		cmocka_unit_test(test_warned_record),
		cmocka_unit_test(test_scan_records),
		cmocka_unit_test(test_escape_table),	    cmocka_unit_test(test_unescape_table),
	};
	UNIT_MAIN(tests);
}
