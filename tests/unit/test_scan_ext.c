/*
 * test_scan_ext.c - the external scanner clients (src/scan/av/scan_av*.c,
 * spam/scan_spamd.c, spam/scan_rspamd.c): reply parsers from tables, specs
 * and the spam back ends they select, and libclamav with the shipped test
 * DB (tests/data/clamav) on EICAR, the marker, clean text, a zip, an
 * encrypted zip and the max_size rule.
 * Run from the repository root (as tests/run.py does).
 */
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/xalloc.h"
#include "scan/av/scan_av.h"
#include "scan/spam/scan_spam.h"
#include "unit.h"

#define EICAR "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
#define MARKER "MXGATE-TEST-VIRUS-MARKER-7f3a"

/* ---------------------------------------------------------------- clamd replies */

struct clamd_case {
	const char *name, *in;
	size_t in_len;
	enum scan_av_status want;
	const char *want_name; /* exact, or a substring for errors */
};

static const struct clamd_case clamd_cases[] = {
	{ "ok", UNIT_S("stream: OK\0"), SCAN_AV_CLEAN, "" },
	{ "ok newline", "stream: OK\n", 0, SCAN_AV_CLEAN, "" },
	{ "found", UNIT_S("stream: Eicar-Signature FOUND\0"), SCAN_AV_INFECTED, "Eicar-Signature" },
	{ "found unofficial", "stream: Mxgate.Test.Marker.UNOFFICIAL FOUND", 0, SCAN_AV_INFECTED,
	  "Mxgate.Test.Marker.UNOFFICIAL" },
	{ "found extended info", "stream: Win.Test.EICAR_HDB-1(44d88612fea8a8f36de82e1278abb02f:68) FOUND", 0,
	  SCAN_AV_INFECTED, "Win.Test.EICAR_HDB-1" },
	{ "name with spaces kept", "stream: Odd Name FOUND", 0, SCAN_AV_INFECTED, "Odd Name" },
	{ "encrypted", "stream: Heuristics.Encrypted.Zip FOUND", 0, SCAN_AV_UNSCANNABLE, "Heuristics.Encrypted.Zip" },
	{ "encrypted pdf", "stream: Heuristics.Encrypted.PDF FOUND", 0, SCAN_AV_UNSCANNABLE,
	  "Heuristics.Encrypted.PDF" },
	{ "limits", "stream: Heuristics.Limits.Exceeded.MaxFileSize FOUND", 0, SCAN_AV_UNSCANNABLE,
	  "Heuristics.Limits.Exceeded.MaxFileSize" },
	{ "broken executable is a finding", "stream: Heuristics.Broken.Executable FOUND", 0, SCAN_AV_INFECTED,
	  "Heuristics.Broken.Executable" },
	{ "phishing is a finding", "stream: Heuristics.Phishing.Email.SpoofedDomain FOUND", 0, SCAN_AV_INFECTED,
	  "Heuristics.Phishing.Email.SpoofedDomain" },
	{ "size limit", UNIT_S("INSTREAM size limit exceeded. ERROR\0"), SCAN_AV_UNSCANNABLE,
	  "Heuristics.Limits.Exceeded.StreamMaxLength" },
	{ "other error", "stream: Can't allocate memory ERROR", 0, SCAN_AV_ERROR,
	  "clamd: stream: Can't allocate memory ERROR" },
	{ "unknown command", "UNKNOWN COMMAND", 0, SCAN_AV_ERROR, "unexpected clamd reply" },
	{ "empty", UNIT_S("\0"), SCAN_AV_ERROR, "without a reply" },
	{ "found without name", "stream:  FOUND", 0, SCAN_AV_ERROR, "unexpected" },
	{ "found without prefix", "Eicar FOUND", 0, SCAN_AV_ERROR, "unexpected" },
	{ "nul inside the name", UNIT_S("stream: \0\0\x92 FOUND\0"), SCAN_AV_ERROR, "unexpected" },
	{ "control char in name", "stream: a\x01b FOUND", 0, SCAN_AV_ERROR, "unexpected" },
	{ "reply ends at nul", UNIT_S("stream: OK\0garbage"), SCAN_AV_CLEAN, "" },
	{ "control chars hidden", "odd\x01reply", 0, SCAN_AV_ERROR, "odd?reply" },
};

static void check_clamd(const struct clamd_case *c)
{
	size_t len = unit_len(c->in, c->in_len);
	unit_case(c->name, c->in, len);
	char name[200];
	enum scan_av_status st = scan_av_parse_clamd(c->in, len, name, sizeof name);
	U_EQ_INT(st, c->want);
	if (c->want == SCAN_AV_ERROR)
		U_CONTAINS(name, c->want_name);
	else
		U_EQ_STR(name, c->want_name);
}

static void test_clamd_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(clamd_cases, check_clamd);
}

/* ---------------------------------------------------------------- spamd replies */

struct spam_case {
	const char *name, *in;
	int rc;
	bool is_spam;
	double score, required;
	const char *action;  /* rspamd */
	const char *symbols; /* "A,B" sorted, or the error substring when rc < 0 */
};

static const struct spam_case spamd_cases[] = {
	{ "gtube", "SPAMD/1.1 0 EX_OK\r\nContent-length: 23\r\nSpam: True ; 1000.0 / 5.0\r\n\r\nGTUBE,NO_RECEIVED,NO_RELAYS\r\n",
	  0, true, 1000.0, 5.0, "", "GTUBE,NO_RECEIVED,NO_RELAYS" },
	{ "ham", "SPAMD/1.1 0 EX_OK\r\nSpam: False ; 1.2 / 5.0\r\n\r\nMISSING_DATE\r\n", 0, false, 1.2, 5.0, "",
	  "MISSING_DATE" },
	{ "negative score", "SPAMD/1.1 0 EX_OK\r\nSpam: False ; -2.5 / 5.0\r\n\r\n", 0, false, -2.5, 5.0, "", "" },
	{ "judged by True not score", "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 2.0 / 5.0\r\n\r\n", 0, true, 2.0, 5.0, "", "" },
	{ "bare LF and case", "SPAMD/1.5 0 EX_OK\nspam: yes ; 6 / 5\n\nB, A ,C\n", 0, true, 6, 5, "", "A,B,C" },
	{ "no symbols body", "SPAMD/1.1 0 EX_OK\r\nSpam: False ; 0.0 / 5.0\r\n", 0, false, 0, 5, "", "" },
	{ "odd symbols dropped", "SPAMD/1.1 0 EX_OK\r\nSpam: False ; 0 / 5\r\n\r\nA,,\x01X,B\r\n", 0, false, 0, 5, "",
	  "A,B" },
	{ "ex_protocol", "SPAMD/1.0 76 Bad header line: xyz\r\n", -1, .symbols = "error \"SPAMD/1.0 76 Bad header" },
	{ "ex_usage", "SPAMD/1.0 64 EX_USAGE\r\n", -1, .symbols = "64 EX_USAGE" },
	{ "not spamd", "HTTP/1.1 200 OK\r\n\r\n", -1, .symbols = "not a SPAMD reply" },
	{ "empty", "", -1, .symbols = "empty reply" },
	{ "no spam header", "SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\n\r\n", -1, .symbols = "no Spam header" },
	{ "bad verdict word", "SPAMD/1.1 0 EX_OK\r\nSpam: Maybe ; 1 / 5\r\n\r\n", -1, .symbols = "bad Spam header" },
	{ "no slash", "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1 5\r\n\r\n", -1, .symbols = "bad Spam header" },
	{ "no semicolon", "SPAMD/1.1 0 EX_OK\r\nSpam: True\r\n\r\n", -1, .symbols = "bad Spam header" },
	{ "junk after required", "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1 / 5x\r\n\r\n", -1, .symbols = "bad Spam header" },
	{ "bad status code", "SPAMD/1.1 x EX_OK\r\n", -1, .symbols = "bad status line" },
};

static void symbols_str(const struct scan_spam_res *r, char *out, size_t size)
{
	struct buf b;
	buf_init(&b);
	for (size_t i = 0; i < r->nsymbols; i++)
		buf_printf(&b, "%s%s", i ? "," : "", r->symbols[i]);
	snprintf(out, size, "%s", b.data ? b.data : "");
	buf_fini(&b);
}

static void check_spam_res(const struct spam_case *c, int rc, struct scan_spam_res *r)
{
	U_EQ_INT(rc, c->rc);
	if (c->rc < 0) {
		U_CONTAINS(r->err, c->symbols);
		U_CHECK(r->err[0] != '\0');
		return;
	}
	char syms[2000];
	symbols_str(r, syms, sizeof syms);
	U_EQ_INT(r->is_spam, c->is_spam);
	U_CHECK(r->score == c->score);
	U_CHECK(r->required == c->required);
	U_EQ_STR(r->action, c->action);
	U_EQ_STR(syms, c->symbols);
}

static void check_spamd(const struct spam_case *c)
{
	unit_case(c->name, c->in, strlen(c->in));
	struct scan_spam_res r = { 0 };
	int rc = scan_spamd_parse(c->in, strlen(c->in), &r);
	check_spam_res(c, rc, &r);
	scan_spam_res_fini(&r);
}

static void test_spamd_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(spamd_cases, check_spamd);
}

/* ---------------------------------------------------------------- rspamd replies */

#define H200 "HTTP/1.1 200 OK\r\nConnection: close\r\n"
#define GTUBE_JSON                                                                                          \
	"{\"is_skipped\":false,\"score\":0.0,\"required_score\":15.0,\"action\":\"reject\",\"symbols\":{\"GTUBE\":" \
	"{\"name\":\"GTUBE\",\"score\":0.0}},\"messages\":{\"smtp_message\":\"Gtube pattern\"}}"

static const struct spam_case rspamd_cases[] = {
	{ "gtube reject", H200 "Content-Length: 165\r\n\r\n" GTUBE_JSON, 0, true, 0.0, 15.0, "reject", "GTUBE" },
	{ "no action", H200 "\r\n{\"score\":1.5,\"required_score\":15,\"action\":\"no action\",\"symbols\":{\"B\":{},\"A\":{}}}",
	  0, false, 1.5, 15, "no action", "A,B" },
	{ "add header", H200 "\r\n{\"score\":7,\"required_score\":15,\"action\":\"add header\"}", 0, true, 7, 15,
	  "add header", "" },
	{ "rewrite subject", H200 "\r\n{\"score\":7,\"required_score\":15,\"action\":\"rewrite subject\"}", 0, true, 7,
	  15, "rewrite subject", "" },
	{ "soft reject", H200 "\r\n{\"score\":7,\"required_score\":15,\"action\":\"soft reject\"}", 0, true, 7, 15,
	  "soft reject", "" },
	{ "greylist is not spam", H200 "\r\n{\"score\":5,\"required_score\":15,\"action\":\"greylist\"}", 0, false, 5,
	  15, "greylist", "" },
	{ "unknown action by score", H200 "\r\n{\"score\":16,\"required_score\":15,\"action\":\"quarantine\"}", 0,
	  true, 16, 15, "quarantine", "" },
	{ "unknown action low score", H200 "\r\n{\"score\":1,\"required_score\":15,\"action\":\"quarantine\"}", 0,
	  false, 1, 15, "quarantine", "" },
	{ "chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		     "18\r\n{\"score\":2,\"action\":\"no \r\n"
		     "1C;ext=1\r\naction\",\"required_score\":15}\r\n0\r\n\r\n",
	  0, false, 2, 15, "no action", "" },
	{ "content-length cuts trailing bytes",
	  H200 "Content-Length: 52\r\n\r\n{\"score\":1,\"required_score\":15,\"action\":\"no action\"}junk", 0, false, 1, 15,
	  "no action", "" },
	{ "bare LF headers", "HTTP/1.0 200 OK\n\n{\"score\":1,\"required_score\":15,\"action\":\"no action\"}", 0, false, 1,
	  15, "no action", "" },
	{ "http error with json", "HTTP/1.1 400 Bad Request\r\nContent-Length: 34\r\n\r\n{\"error\":\"message has no headers\"}",
	  -1, .symbols = "HTTP 400: message has no headers" },
	{ "http error plain", "HTTP/1.1 500 Internal\r\nContent-Length: 2\r\n\r\nno", -1,
	  .symbols = "HTTP error \"HTTP/1.1 500 Internal?\"" },
	{ "bad json", H200 "\r\n{\"score\":1,", -1, .symbols = "bad JSON reply" },
	{ "json array", H200 "\r\n[1,2]", -1, .symbols = "not a JSON object" },
	{ "score as string", H200 "\r\n{\"score\":\"1\",\"required_score\":15,\"action\":\"no action\"}", -1,
	  .symbols = "lacks score" },
	{ "no action field", H200 "\r\n{\"score\":1,\"required_score\":15}", -1, .symbols = "lacks score" },
	{ "action too long", H200 "\r\n{\"score\":1,\"required_score\":15,\"action\":\"{{40:x}}\"}", -1,
	  .symbols = "action too long" },
	{ "short content-length", H200 "Content-Length: 100\r\n\r\n{}", -1,
	  .symbols = "shorter than its Content-Length" },
	{ "headers never end", "HTTP/1.1 200 OK\r\nX: y", -1, .symbols = "incomplete HTTP reply" },
	{ "not http", "SPAMD/1.1 0 EX_OK\r\n\r\n", -1, .symbols = "not an HTTP reply" },
	{ "bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", -1, .symbols = "bad chunk size" },
	{ "chunk size with space", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n 2\r\n{}\r\n0\r\n\r\n", -1,
	  .symbols = "bad chunk size" },
	{ "chunk size too big", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n", -1,
	  .symbols = "bad chunk size" },
	{ "chunk cut short", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc", -1,
	  .symbols = "chunked reply cut short" },
	{ "chunk without crlf", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}xx0\r\n\r\n", -1,
	  .symbols = "chunk not followed by CRLF" },
};

static void check_rspamd(const struct spam_case *c)
{
	char in[UNIT_BUF];
	size_t len = unit_expand(c->in, strlen(c->in), in, sizeof in);
	unit_case(c->name, in, len);
	/* a copy without the NUL: the parser must not read past len */
	char *copy = xmalloc(len ? len : 1);
	memcpy(copy, in, len);
	struct scan_spam_res r = { 0 };
	int rc = scan_rspamd_parse_http(copy, len, &r);
	check_spam_res(c, rc, &r);
	scan_spam_res_fini(&r);
	xfree(copy);
}

static void test_rspamd_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(rspamd_cases, check_rspamd);
}

/* ---------------------------------------------------------------- specs */

struct spec_case {
	const char *name, *spec;
	int ok;
	const char *err;
};

static const struct spec_case av_specs[] = {
	{ "clamd unix", "clamd:unix:/run/clamav/clamd.ctl", 1, NULL },
	{ "clamd inet", "clamd:inet:127.0.0.1:3310", 1, NULL },
	{ "clamd inet v6", "clamd:inet:[::1]:3310", 1, NULL },
	{ "clamd localhost", "clamd:inet:localhost:3310", 1, NULL },
	{ "clamd no kind", "clamd:127.0.0.1:3310", 0, "want unix:/path or inet:host:port" },
	{ "clamd host name", "clamd:inet:clamd.example:3310", 0, "numeric host:port" },
	{ "clamd no port", "clamd:inet:127.0.0.1", 0, "numeric host:port" },
	{ "clamd relative path", "clamd:unix:run/clamd", 0, "absolute" },
	{ "clamd path too long", "clamd:unix:/{{200:x}}", 0, "too long" },
	{ "libclamav relative", "libclamav:db", 0, "absolute path" },
	{ "libclamav missing dir", "libclamav:/nonexistent/mxgate-db", 0, "libclamav: loading /nonexistent/mxgate-db" },
	{ "unknown", "sophos:/x", 0, "want clamd:unix:/path" },
};

static void check_av_spec(const struct spec_case *c)
{
	char spec[600], err[300] = "x";
	unit_expand(c->spec, strlen(c->spec), spec, sizeof spec);
	unit_case(c->name, spec, strlen(spec));
	struct scan_av *av = scan_av_new(spec, NULL, err, sizeof err);
	U_EQ_INT(av != NULL, c->ok);
	if (c->ok)
		U_CONTAINS(scan_av_describe(av), "clamd ");
	else
		U_CONTAINS(err, c->err);
	scan_av_free(&av);
	U_CHECK(av == NULL);
}

static const struct spec_case spam_specs[] = {
	{ "spamd inet", "spamd:127.0.0.1:783", 1, NULL },
	{ "spamd unix", "spamd:unix:/run/spamd.sock", 1, NULL },
	{ "rspamd inet", "rspamd:127.0.0.1:11333", 1, NULL },
	{ "rspamd v6", "rspamd:[::1]:11333", 1, NULL },
	{ "spamd name", "spamd:spam.example:783", 0, "numeric host:port" },
	{ "rspamd no port", "rspamd:127.0.0.1", 0, "numeric host:port" },
	{ "unknown", "spamc:127.0.0.1:783", 0, "want spamd:host:port" },
	{ "daemon without address", "spamd", 0, "want spamd:host:port" },
	{ "builtin", "builtin", 1, NULL },
	{ "builtin takes no address", "builtin:127.0.0.1:783", 0, "want spamd:host:port" },
};

/* The back end spec names, opened: its state, or NULL with err set. */
static void *spam_open(const char *spec, size_t max_size, const struct scan_spam_backend **be, char *err,
		       size_t errlen)
{
	struct scan_spam_opts o = { .timeout_ms = 1000, .max_size = max_size };
	*be = scan_spam_find(spec, err, errlen);
	return *be ? (*be)->open(spec, &o, err, errlen) : NULL;
}

static void check_spam_spec(const struct spec_case *c)
{
	unit_case(c->name, c->spec, strlen(c->spec));
	char err[300] = "";
	const struct scan_spam_backend *be;
	void *st = spam_open(c->spec, 0, &be, err, sizeof err);
	U_EQ_INT(st != NULL, c->ok);
	if (c->ok)
		U_CHECK(strncmp(c->spec, be->name, strlen(be->name)) == 0); /* the back end the spec names */
	else
		U_CONTAINS(err, c->err);
	if (st)
		be->close(st);
}

static void test_specs(void **state)
{
	(void)state;
	for (size_t i = 0; i < UNIT_NCASES(av_specs); i++)
		check_av_spec(&av_specs[i]);
	for (size_t i = 0; i < UNIT_NCASES(spam_specs); i++)
		check_spam_spec(&spam_specs[i]);
	unit_case("none is no scanner", "none", 4);
	char err[100] = "x";
	U_CHECK(scan_av_new("none", NULL, err, sizeof err) == NULL);
	U_EQ_STR(err, "");
	strcpy(err, "x");
	U_CHECK(scan_spam_find("none", err, sizeof err) == NULL);
	U_EQ_STR(err, "");
	unit_case("spam size skip sends nothing", NULL, 0);
	struct scan_spam_req q = { .data = "0123456789", .len = 10 };
	struct scan_spam_res r;
	const struct scan_spam_backend *be;
	/* nothing listens on port 9 of 127.0.0.1; a skip must not even connect */
	void *st = spam_open("spamd:127.0.0.1:9", 9, &be, err, sizeof err);
	U_EQ_INT(be->check(st, &q, &r), 0);
	U_CHECK(r.skipped_size);
	U_CHECK(!r.is_spam);
	scan_spam_res_fini(&r);
	be->close(st);
	unit_case("spam dead port is an error", NULL, 0);
	st = spam_open("rspamd:127.0.0.1:9", 0, &be, err, sizeof err);
	U_EQ_INT(be->check(st, &q, &r), -1);
	U_CONTAINS(r.err, "rspamd connect 127.0.0.1:9");
	scan_spam_res_fini(&r);
	be->close(st);
	UNIT_FINISH();
}

/* ---------------------------------------------------------------- libclamav */

static struct scan_av *open_lib(size_t max_size)
{
	char dir[PATH_MAX], spec[PATH_MAX + 16], err[300];
	if (!realpath("tests/data/clamav", dir)) {
		unit_failf(__FILE__, __LINE__, "tests/data/clamav not found (run from the repository root)");
		return NULL;
	}
	snprintf(spec, sizeof spec, "libclamav:%s", dir);
	struct scan_av_opts o = { .timeout_ms = 20000, .max_size = max_size };
	struct scan_av *av = scan_av_new(spec, &o, err, sizeof err);
	if (!av)
		unit_failf(__FILE__, __LINE__, "scan_av_new: %s", err);
	return av;
}

struct lib_case {
	const char *name, *in;  /* in: literal, or "@file" under tests/data/av */
	enum scan_av_status want;
	const char *want_name;  /* prefix */
};

static const struct lib_case lib_cases[] = {
	{ "eicar alone", EICAR, SCAN_AV_INFECTED, "Mxgate.Test.EICAR" },
	{ "marker in text", "Subject: hi\r\n\r\nhello " MARKER " bye\r\n", SCAN_AV_INFECTED, "Mxgate.Test.Marker" },
	{ "clean text", "Subject: hi\r\n\r\nnothing to see\r\n", SCAN_AV_CLEAN, "" },
	{ "marker cut in two is clean", "MXGATE-TEST-VIRUS-\r\nMARKER-7f3a", SCAN_AV_CLEAN, "" },
	{ "eicar in a zip", "@eicar.zip", SCAN_AV_INFECTED, "Mxgate.Test.EICAR" },
	{ "encrypted zip", "@encrypted.zip", SCAN_AV_UNSCANNABLE, "Heuristics.Encrypted.Zip" },
	{ "eicar zip as base64 mail attachment", "@mail:eicar.zip", SCAN_AV_INFECTED, "Mxgate.Test.EICAR" },
};

static void b64(struct buf *out, const unsigned char *p, size_t n)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
		buf_putc(out, t[v >> 18 & 63]);
		buf_putc(out, t[v >> 12 & 63]);
		buf_putc(out, i + 1 < n ? t[v >> 6 & 63] : '=');
		buf_putc(out, i + 2 < n ? t[v & 63] : '=');
		if (i % 57 == 54)
			buf_puts(out, "\r\n");
	}
	buf_puts(out, "\r\n");
}

/* The case's bytes into b. */
static void lib_input(const char *in, struct buf *b)
{
	if (in[0] != '@') {
		buf_puts(b, in);
		return;
	}
	bool mail = strncmp(in, "@mail:", 6) == 0;
	char path[300];
	snprintf(path, sizeof path, "tests/data/av/%s", in + (mail ? 6 : 1));
	char *data = NULL;
	size_t len = 0, cap = 0;
	FILE *f = fopen(path, "rb");
	for (int c; f && (c = getc(f)) != EOF;) {
		data = xgrow(data, &cap, len + 1, 1);
		data[len++] = (char)c;
	}
	if (f)
		fclose(f);
	else
		unit_failf(__FILE__, __LINE__, "cannot open %s", path);
	if (mail) {
		buf_puts(b, "From: a@example.org\r\nSubject: zip\r\nMIME-Version: 1.0\r\n"
			    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\n"
			    "see attachment\r\n--b1\r\nContent-Type: application/zip; name=\"x.zip\"\r\n"
			    "Content-Transfer-Encoding: base64\r\n\r\n");
		b64(b, (const unsigned char *)data, len);
		buf_puts(b, "--b1--\r\n");
	} else {
		buf_append(b, data, len);
	}
	xfree(data);
}

static struct scan_av *lib_av;

static void check_lib(const struct lib_case *c)
{
	struct buf b;
	buf_init(&b);
	lib_input(c->in, &b);
	unit_case(c->name, b.data, b.len);
	char name[200];
	enum scan_av_status st = scan_av_scan(lib_av, b.data, b.len, name, sizeof name);
	U_EQ_INT(st, c->want);
	U_CHECK(strncmp(name, c->want_name, strlen(c->want_name)) == 0);
	if (c->want == SCAN_AV_CLEAN)
		U_EQ_STR(name, "");
	buf_fini(&b);
}

static void test_libclamav(void **state)
{
	(void)state;
	unit_case("load the shipped DB", NULL, 0);
	lib_av = open_lib(0);
	if (lib_av) {
		U_CONTAINS(scan_av_describe(lib_av), "signatures from");
		char out[300];
		U_EQ_INT(scan_av_ping(lib_av, out, sizeof out), 0);
		U_CONTAINS(out, "libclamav ");
		for (size_t i = 0; i < UNIT_NCASES(lib_cases); i++)
			check_lib(&lib_cases[i]);
		scan_av_free(&lib_av);
	}
	UNIT_FINISH();
}

/* Over max_size: the prefix is scanned, a clean prefix is never "clean". */
static void test_libclamav_max_size(void **state)
{
	(void)state;
	struct scan_av *av = open_lib(1000);
	if (!av) {
		UNIT_FINISH();
		return;
	}
	struct buf b;
	buf_init(&b);
	for (int i = 0; i < 40; i++)
		buf_puts(&b, "just some harmless text, line after line\r\n"); /* 1720 bytes */
	char name[200];
	unit_case("under max_size clean", b.data, 900);
	U_EQ_INT(scan_av_scan(av, b.data, 900, name, sizeof name), SCAN_AV_CLEAN);
	unit_case("over max_size, clean prefix: unscannable", NULL, 0);
	buf_puts(&b, MARKER); /* the marker lies past the first 1000 bytes */
	U_EQ_INT(scan_av_scan(av, b.data, b.len, name, sizeof name), SCAN_AV_UNSCANNABLE);
	U_EQ_STR(name, "Heuristics.Limits.Exceeded.MaxSize");
	unit_case("over max_size, finding in the prefix", NULL, 0);
	buf_reset(&b);
	buf_puts(&b, MARKER);
	for (int i = 0; i < 40; i++)
		buf_puts(&b, "just some harmless text, line after line\r\n");
	U_EQ_INT(scan_av_scan(av, b.data, b.len, name, sizeof name), SCAN_AV_INFECTED);
	U_CHECK(strncmp(name, "Mxgate.Test.Marker", 18) == 0);
	buf_fini(&b);
	scan_av_free(&av);
	UNIT_FINISH();
}

/* One engine shared by threads: every thread gets its own verdicts right. */
#define THREADS 4
#define ROUNDS 50

static int thread_errors;

static void *scan_thread(void *arg)
{
	struct scan_av *av = arg;
	static const char *const in[] = { EICAR, "clean text", "x " MARKER " y" };
	static const enum scan_av_status want[] = { SCAN_AV_INFECTED, SCAN_AV_CLEAN, SCAN_AV_INFECTED };
	for (int r = 0; r < ROUNDS; r++) {
		char name[200];
		size_t k = (size_t)r % 3;
		if (scan_av_scan(av, in[k], strlen(in[k]), name, sizeof name) != want[k])
			__atomic_add_fetch(&thread_errors, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void test_libclamav_threads(void **state)
{
	(void)state;
	unit_case("4 threads share one engine", NULL, 0);
	struct scan_av *av = open_lib(0);
	if (av) {
		pthread_t t[THREADS];
		for (int i = 0; i < THREADS; i++)
			pthread_create(&t[i], NULL, scan_thread, av);
		for (int i = 0; i < THREADS; i++)
			pthread_join(t[i], NULL);
		U_EQ_INT(thread_errors, 0);
		scan_av_free(&av);
	}
	UNIT_FINISH();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clamd_table),  cmocka_unit_test(test_spamd_table),
		cmocka_unit_test(test_rspamd_table), cmocka_unit_test(test_specs),
		cmocka_unit_test(test_libclamav),    cmocka_unit_test(test_libclamav_max_size),
		cmocka_unit_test(test_libclamav_threads),
	};
	UNIT_MAIN(tests);
}
