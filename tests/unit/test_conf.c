/*
 * test_conf.c - main.cf-style configuration (conf/conf.c).
 *
 * Each case writes its file to a fresh temporary path, loads it with the
 * case's overrides and checks either effective values (through conf_dump,
 * "key = value") or the diagnostics ("file:LINE: error: ..."), including
 * that several errors are all reported. Typed values are checked at their
 * edges (min-1, min, max, max+1).
 */
#include "unit.h"

#include <stdbool.h>
#include <unistd.h>

#include "base/buf.h"
#include "conf/conf.h"

struct conf_case {
	const char *name;
	const char *file; /* NULL: conf_load(NULL, ...) */
	const char *ov[3];
	bool want_ok;
	const char *want[4];	  /* ok: "key = value" dump lines; else diag substrings */
	int want_errors;	  /* number of "error:" lines (checked when !want_ok and > 0) */
	const char *want_warn; /* diag substring on success */
};

static const struct conf_case conf_cases[] = {
	/* defaults */
	{ "defaults", NULL, { NULL }, true,
	  { "smtpd_recipient_limit = 1000", "smtpd_listen = 127.0.0.1:2525", "smtpd_timeout = 300s",
	    "mynetworks = 127.0.0.0/8 [::1]/128" }, 0, NULL },
	{ "empty file", "", { NULL }, true, { "message_size_limit = 10240000", "strict_rfc821_envelopes = no" }, 0, NULL },
	/* syntax */
	{ "comments and blanks", "# comment\n   # indented comment\n\nsmtpd_recipient_limit = 50\n\n", { NULL }, true,
	  { "smtpd_recipient_limit = 50" }, 0, NULL },
	{ "no spaces around =", "smtpd_recipient_limit=51\n", { NULL }, true, { "smtpd_recipient_limit = 51" }, 0, NULL },
	{ "CRLF lines", "smtpd_banner = hello\r\nsmtpd_recipient_limit = 52\r\n", { NULL }, true,
	  { "smtpd_banner = hello", "smtpd_recipient_limit = 52" }, 0, NULL },
	{ "no final newline", "smtpd_recipient_limit = 53", { NULL }, true, { "smtpd_recipient_limit = 53" }, 0, NULL },
	{ "value trimmed", "smtpd_banner =   a b  \t\n", { NULL }, true, { "smtpd_banner = a b" }, 0, NULL },
	{ "continuation", "mynetworks = 10.0.0.0/8\n  192.168.0.0/16\n\t172.16.0.0/12\n", { NULL }, true,
	  { "mynetworks = 10.0.0.0/8 192.168.0.0/16 172.16.0.0/12" }, 0, NULL },
	{ "continuation across comment", "smtpd_banner = a\n# note\n  b\n", { NULL }, true,
	  { "smtpd_banner = a b" }, 0, NULL },
	{ "continuation without key", "  smtpd_banner = x\n", { NULL }, false,
	  { ":1: error: continuation line without" }, 1, NULL },
	{ "missing equals", "smtpd_banner\n", { NULL }, false, { ":1: error: missing '='" }, 1, NULL },
	{ "bad key name", "smtpd-banner = x\n", { NULL }, false, { ":1: error: bad key name \"smtpd-banner\"" }, 1, NULL },
	{ "unknown key", "\n\nno_such_key = 1\n", { NULL }, false, { ":3: error: unknown key \"no_such_key\"" }, 1, NULL },
	{ "NUL byte", "smtpd_banner = a\0b\n", { NULL }, false, { "NUL byte" }, 0, NULL },
	{ "duplicate warns, last wins", "smtpd_banner = a\nsmtpd_banner = b\n", { NULL }, true,
	  { "smtpd_banner = b" }, 0, ":2: warning: smtpd_banner set again (line 1)" },
	{ "several errors all reported",
	  "bogus1 = 1\nsmtpd_recipient_limit = 0\n# ok\nbogus2 = 2\nsmtpd_timeout = 5x\nsmtpd_banner = ok\n", { NULL },
	  false, { ":1: error: unknown key \"bogus1\"", ":2: error: smtpd_recipient_limit", ":4: error: unknown key",
		   ":5: error: smtpd_timeout" },
	  4, NULL },
	/* $references */
	{ "$var", "myhostname = mx.example\nsmtpd_banner = $myhostname says hi\n", { NULL }, true,
	  { "smtpd_banner = mx.example says hi" }, 0, NULL },
	{ "${var}", "myhostname = mx.example\nsmtpd_banner = ${myhostname}x\n", { NULL }, true,
	  { "smtpd_banner = mx.examplex" }, 0, NULL },
	{ "$var used before set", "smtpd_banner = $myhostname\nmyhostname = late.example\n", { NULL }, true,
	  { "smtpd_banner = late.example" }, 0, NULL },
	{ "$$ literal", "smtpd_banner = cost $$5\n", { NULL }, true, { "smtpd_banner = cost $5" }, 0, NULL },
	{ "default $ref follows", "smtpd_tls_cert_file = /etc/c.pem\n", { NULL }, true,
	  { "smtpd_tls_key_file = /etc/c.pem" }, 0, NULL },
	{ "nested $refs", "myhostname = h.example\nsmtp_helo_name = $myhostname\nsmtpd_banner = [$smtp_helo_name]\n",
	  { NULL }, true, { "smtpd_banner = [h.example]" }, 0, NULL },
	{ "unknown $ref", "smtpd_banner = $nosuch\n", { NULL }, false, { ":1: error: smtpd_banner: unknown $nosuch" },
	  1, NULL },
	{ "unterminated ${", "smtpd_banner = ${myhostname\n", { NULL }, false, { ":1: error: smtpd_banner: unterminated" },
	  1, NULL },
	{ "$ref loop", "smtpd_banner = $mail_owner\nmail_owner = $smtpd_banner\n", { NULL }, false,
	  { "nested too deeply" }, 0, NULL },
	/* integers: smtpd_recipient_limit 1..100000 */
	{ "int min-1", "smtpd_recipient_limit = 0\n", { NULL }, false,
	  { ":1: error: smtpd_recipient_limit: 0 is out of range 1..100000" }, 1, NULL },
	{ "int min", "smtpd_recipient_limit = 1\n", { NULL }, true, { "smtpd_recipient_limit = 1" }, 0, NULL },
	{ "int min+1", "smtpd_recipient_limit = 2\n", { NULL }, true, { "smtpd_recipient_limit = 2" }, 0, NULL },
	{ "int max-1", "smtpd_recipient_limit = 99999\n", { NULL }, true, { "smtpd_recipient_limit = 99999" }, 0, NULL },
	{ "int max", "smtpd_recipient_limit = 100000\n", { NULL }, true, { "smtpd_recipient_limit = 100000" }, 0, NULL },
	{ "int max+1", "smtpd_recipient_limit = 100001\n", { NULL }, false, { "100001 is out of range 1..100000" }, 1, NULL },
	{ "int negative", "smtpd_recipient_limit = -1\n", { NULL }, false, { "is not a number" }, 1, NULL },
	{ "int fraction", "smtpd_recipient_limit = 1.5\n", { NULL }, false, { "is not a number" }, 1, NULL },
	{ "int empty", "smtpd_recipient_limit =\n", { NULL }, false, { "is not a number" }, 1, NULL },
	{ "int huge", "smtpd_recipient_limit = 99999999999999999999999\n", { NULL }, false, { "is not a number" }, 1, NULL },
	{ "int 2^40 range", "smtpd_recipient_limit = 1099511627776\n", { NULL }, false, { "is not a number" }, 1, NULL },
	{ "port min-1", "smtp_tcp_port = 0\n", { NULL }, false, { "out of range 1..65535" }, 1, NULL },
	{ "port max", "smtp_tcp_port = 65535\n", { NULL }, true, { "smtp_tcp_port = 65535" }, 0, NULL },
	{ "port max+1", "smtp_tcp_port = 65536\n", { NULL }, false, { "out of range 1..65535" }, 1, NULL },
	/* times: smtpd_timeout 1..86400 */
	{ "time min-1", "smtpd_timeout = 0\n", { NULL }, false, { "0 is out of range 1..86400 seconds" }, 1, NULL },
	{ "time min", "smtpd_timeout = 1\n", { NULL }, true, { "smtpd_timeout = 1s" }, 0, NULL },
	{ "time max", "smtpd_timeout = 86400\n", { NULL }, true, { "smtpd_timeout = 86400s" }, 0, NULL },
	{ "time max as 1d", "smtpd_timeout = 1d\n", { NULL }, true, { "smtpd_timeout = 86400s" }, 0, NULL },
	{ "time max+1", "smtpd_timeout = 86401\n", { NULL }, false, { "out of range 1..86400" }, 1, NULL },
	{ "time max+1 in m", "smtpd_timeout = 1441m\n", { NULL }, false, { "out of range 1..86400" }, 1, NULL },
	{ "time units", "smtpd_timeout = 5m\nsmtp_helo_timeout = 1h\nmaximal_queue_lifetime = 2w\n", { NULL }, true,
	  { "smtpd_timeout = 300s", "smtp_helo_timeout = 3600s", "maximal_queue_lifetime = 1209600s" }, 0, NULL },
	{ "time seconds suffix", "smtpd_timeout = 30s\n", { NULL }, true, { "smtpd_timeout = 30s" }, 0, NULL },
	{ "time bad unit", "smtpd_timeout = 5x\n", { NULL }, false, { "is not a time" }, 1, NULL },
	{ "time two units", "smtpd_timeout = 5ms\n", { NULL }, false, { "is not a time" }, 1, NULL },
	{ "time empty", "smtpd_timeout =\n", { NULL }, false, { "is not a time" }, 1, NULL },
	{ "time negative", "smtpd_timeout = -5\n", { NULL }, false, { "is not a time" }, 1, NULL },
	{ "time zero allowed", "maximal_queue_lifetime = 0\n", { NULL }, true, { "maximal_queue_lifetime = 0s" }, 0, NULL },
	/* sizes */
	{ "size zero", "message_size_limit = 0\n", { NULL }, true, { "message_size_limit = 0" }, 0, NULL },
	{ "size u64 max", "message_size_limit = 18446744073709551615\n", { NULL }, true,
	  { "message_size_limit = 18446744073709551615" }, 0, NULL },
	{ "size u64 max+1", "message_size_limit = 18446744073709551616\n", { NULL }, false, { "is not a size" }, 1, NULL },
	{ "size suffix", "message_size_limit = 10M\n", { NULL }, false, { "is not a size" }, 1, NULL },
	{ "size negative", "message_size_limit = -1\n", { NULL }, false, { "is not a size" }, 1, NULL },
	/* booleans, enums, hosts */
	{ "bool yes/no", "strict_rfc821_envelopes = yes\nsmtpd_peername_lookup = no\n", { NULL }, true,
	  { "strict_rfc821_envelopes = yes", "smtpd_peername_lookup = no" }, 0, NULL },
	{ "bool true/false/1/0", "strict_rfc821_envelopes = TRUE\nsmtpd_peername_lookup = 0\n", { NULL }, true,
	  { "strict_rfc821_envelopes = yes", "smtpd_peername_lookup = no" }, 0, NULL },
	{ "bool bad", "strict_rfc821_envelopes = maybe\n", { NULL }, false, { "is not yes or no" }, 1, NULL },
	{ "enum ok", "smtp_tls_security_level = encrypt\n", { NULL }, true, { "smtp_tls_security_level = encrypt" }, 0, NULL },
	{ "enum bad", "smtp_tls_security_level = dane\n", { NULL }, false, { "is not one of: none may encrypt" }, 1, NULL },
	{ "enum case", "log_level = DEBUG\n", { NULL }, false, { "is not one of" }, 1, NULL },
	{ "host ok", "myhostname = mx-1.example.com\n", { NULL }, true, { "myhostname = mx-1.example.com" }, 0, NULL },
	/* the bad value also reaches smtp_helo_name through its default
	 * $myhostname, but is reported once, where it is written */
	{ "host bad", "myhostname = mx example\n", { NULL }, false,
	  { ":1: error: myhostname: \"mx example\" is not a valid host name" }, 1, NULL },
	/* listen addresses */
	{ "listen v4 and v6", "smtpd_listen = 0.0.0.0:25 [::1]:25\n", { NULL }, true,
	  { "smtpd_listen = 0.0.0.0:25 [::1]:25" }, 0, NULL },
	{ "listen commas", "smtpd_listen = 127.0.0.1:25,[::1]:587\n", { NULL }, true,
	  { "smtpd_listen = 127.0.0.1:25 [::1]:587" }, 0, NULL },
	{ "listen port max", "smtpd_listen = 127.0.0.1:65535\n", { NULL }, true, { "smtpd_listen = 127.0.0.1:65535" }, 0, NULL },
	{ "listen port 0", "smtpd_listen = 127.0.0.1:0\n", { NULL }, false, { "\"127.0.0.1:0\" is not addr:port" }, 1, NULL },
	{ "listen port 65536", "smtpd_listen = 127.0.0.1:65536\n", { NULL }, false, { "is not addr:port" }, 1, NULL },
	{ "listen no port", "smtpd_listen = 127.0.0.1\n", { NULL }, false, { "is not addr:port" }, 1, NULL },
	{ "listen v6 no brackets", "smtpd_listen = ::1:25\n", { NULL }, false, { "is not addr:port" }, 1, NULL },
	{ "listen v6 no port", "smtpd_listen = [::1]\n", { NULL }, false, { "is not addr:port" }, 1, NULL },
	{ "listen host name", "smtpd_listen = localhost:25\n", { NULL }, false, { "is not addr:port" }, 1, NULL },
	{ "listen empty", "smtpd_listen =\n", { NULL }, false, { "no address given" }, 1, NULL },
	{ "listen one bad of two", "smtpd_listen = 127.0.0.1:25 bad:25\n", { NULL }, false, { "\"bad:25\"" }, 1, NULL },
	/* mynetworks (error counts not pinned: other keys default to $mynetworks
	 * and report the same value again) */
	{ "cidrs ok", "mynetworks = 10.0.0.0/8, 192.168.1.7 [2001:db8::]/32 ::/0 0.0.0.0/0\n", { NULL }, true,
	  { "mynetworks = 10.0.0.0/8, 192.168.1.7 [2001:db8::]/32 ::/0 0.0.0.0/0" }, 0, NULL },
	{ "cidr v4 /32", "mynetworks = 10.0.0.1/32\n", { NULL }, true, { "mynetworks = 10.0.0.1/32" }, 0, NULL },
	{ "cidr v4 /33", "mynetworks = 10.0.0.0/33\n", { NULL }, false, { ":1: error: mynetworks: \"10.0.0.0/33\" is not a network" }, 0, NULL },
	{ "cidr v6 /128", "mynetworks = [::1]/128\n", { NULL }, true, { "mynetworks = [::1]/128" }, 0, NULL },
	{ "cidr v6 /129", "mynetworks = [::1]/129\n", { NULL }, false, { ":1: error: mynetworks: \"[::1]/129\"" }, 0, NULL },
	{ "cidr empty prefix", "mynetworks = 10.0.0.0/\n", { NULL }, false, { ":1: error: mynetworks: \"10.0.0.0/\"" }, 0, NULL },
	{ "cidr negative prefix", "mynetworks = 10.0.0.0/-1\n", { NULL }, false, { ":1: error: mynetworks: \"10.0.0.0/-1\"" }, 0, NULL },
	{ "cidr garbage", "mynetworks = 127.0.0.0/8 bogus\n", { NULL }, false, { ":1: error: mynetworks: \"bogus\"" }, 0, NULL },
	{ "cidr unclosed bracket", "mynetworks = [::1/128\n", { NULL }, false, { ":1: error: mynetworks: \"[::1/128\"" }, 0, NULL },
	{ "cidr host name", "mynetworks = localhost\n", { NULL }, false, { ":1: error: mynetworks: \"localhost\"" }, 0, NULL },
	/* overrides (-o key=value) */
	{ "override wins over file", "smtpd_recipient_limit = 50\n", { "smtpd_recipient_limit=60" }, true,
	  { "smtpd_recipient_limit = 60" }, 0, NULL },
	{ "override with defaults", NULL, { "smtpd_banner = over ride", "strict_rfc821_envelopes=yes" }, true,
	  { "smtpd_banner = over ride", "strict_rfc821_envelopes = yes" }, 0, NULL },
	{ "override last wins", NULL, { "smtpd_recipient_limit=5", "smtpd_recipient_limit=6" }, true,
	  { "smtpd_recipient_limit = 6" }, 0, NULL },
	{ "override $ref to file value", "myhostname = f.example\n", { "smtpd_banner=$myhostname!" }, true,
	  { "smtpd_banner = f.example!" }, 0, NULL },
	{ "override bad value", NULL, { "smtpd_recipient_limit=0" }, false, { "-o: error: smtpd_recipient_limit" },
	  1, NULL },
	{ "override unknown key", NULL, { "nosuch=1" }, false, { "-o: error: unknown key \"nosuch\"" }, 1, NULL },
	{ "override missing =", NULL, { "smtpd_banner" }, false, { "-o: error: missing '='" }, 1, NULL },
	/* cross checks */
	{ "backoff min > max", "minimal_backoff_time = 2h\nmaximal_backoff_time = 1h\n", { NULL }, false,
	  { "minimal_backoff_time (7200s) is larger than maximal_backoff_time (3600s)" }, 1, NULL },
	{ "backoff min = max", "minimal_backoff_time = 1h\nmaximal_backoff_time = 1h\n", { NULL }, true,
	  { "minimal_backoff_time = 3600s" }, 0, NULL },
	{ "relative queue dir", "queue_directory = spool\n", { NULL }, false, { "must be an absolute path" }, 1, NULL },
	{ "bad syslog facility", "syslog_facility = nosuch\n", { NULL }, false, { "unknown facility \"nosuch\"" }, 1, NULL },
	{ "good syslog facility", "syslog_facility = local3\n", { NULL }, true, { "syslog_facility = local3" }, 0, NULL },
	{ "cert without key", "smtpd_tls_cert_file = /c.pem\nsmtpd_tls_key_file =\n", { NULL }, false,
	  { "smtpd_tls_key_file is empty" }, 1, NULL },
};

static char *write_temp(const char *text, size_t len)
{
	const char *dir = getenv("TMPDIR");
	char *path = NULL;
	if (asprintf(&path, "%s/mxgate-test-conf-XXXXXX", dir && *dir ? dir : "/tmp") < 0)
		abort();
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len)
		abort();
	close(fd);
	return path;
}

static int count(const char *s, const char *sub)
{
	int n = 0;
	for (const char *p = s; (p = strstr(p, sub)) != NULL; p += strlen(sub))
		n++;
	return n;
}

static void check_conf(const struct conf_case *c)
{
	size_t flen = c->file ? strlen(c->file) : 0;
	if (c->file && strcmp(c->name, "NUL byte") == 0)
		flen = sizeof "smtpd_banner = a\0b\n" - 1;
	unit_case(c->name, c->file, flen);
	int fails_before = unit_ctx_.fails;
	char *path = c->file ? write_temp(c->file, flen) : NULL;
	size_t nov = 0;
	while (nov < UNIT_NCASES(c->ov) && c->ov[nov])
		nov++;
	struct buf diag, dump;
	buf_init(&diag);
	buf_init(&dump);
	struct conf *conf = conf_load(path, c->ov, nov, &diag);
	const char *d = diag.data ? diag.data : "";
	U_EQ_INT(conf != NULL, c->want_ok);
	if (conf) {
		buf_putc(&dump, '\n');
		conf_dump(conf, &dump, false);
		for (size_t i = 0; i < UNIT_NCASES(c->want) && c->want[i]; i++) {
			char line[512];
			snprintf(line, sizeof line, "\n%s\n", c->want[i]);
			U_CONTAINS(dump.data, line);
		}
		U_EQ_INT(count(d, "error:"), 0);
		if (c->want_warn)
			U_CONTAINS(d, c->want_warn);
		U_CHECK(conf->source && strcmp(conf->source, path ? path : "(built-in defaults)") == 0);
	} else {
		for (size_t i = 0; i < UNIT_NCASES(c->want) && c->want[i]; i++)
			U_CONTAINS(d, c->want[i]);
		if (c->want_errors)
			U_EQ_INT(count(d, "error:"), c->want_errors);
		/* errors found in the file name the file */
		if (path && !c->ov[0])
			U_CONTAINS(d, path);
	}
	if (unit_ctx_.fails != fails_before)
		print_error("     diag: %s\n", d);
	conf_free(&conf);
	U_CHECK(conf == NULL);
	buf_fini(&diag);
	buf_fini(&dump);
	if (path) {
		unlink(path);
		free(path);
	}
}

static void test_conf_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(conf_cases, check_conf);
}

static void test_conf_missing_file(void **state)
{
	(void)state;
	unit_case("missing file", NULL, 0);
	struct buf diag;
	buf_init(&diag);
	struct conf *c = conf_load("/nonexistent/mxgate/main.cf", NULL, 0, &diag);
	U_CHECK(c == NULL);
	U_CONTAINS(diag.data, "/nonexistent/mxgate/main.cf: error: cannot read");
	buf_fini(&diag);
	UNIT_FINISH();
}

static void test_conf_values(void **state)
{
	(void)state;
	unit_case("typed fields", NULL, 0);
	const char *text = "mynetworks = 10.0.0.0/8 [2001:db8::]/32\nsmtpd_listen = [::1]:2525 192.0.2.1:25\n"
			   "message_size_limit = 12345\nsmtpd_timeout = 2m\n";
	char *path = write_temp(text, strlen(text));
	struct buf diag;
	buf_init(&diag);
	struct conf *c = conf_load(path, NULL, 0, &diag);
	U_CHECK(c != NULL);
	if (c) {
		U_EQ_INT(c->message_size_limit, 12345);
		U_EQ_INT(c->smtpd_timeout, 120);
		U_EQ_INT(c->smtpd_listen_n, 2);
		U_EQ_STR(c->smtpd_listen[0].text, "[::1]:2525");
		U_EQ_INT(net_addr_port(&c->smtpd_listen[1].addr), 25);
		U_EQ_INT(c->mynetworks.list.n, 2);
		struct net_addr a;
		U_EQ_INT(net_addr_parse("10.1.2.3", 25, &a), 0);
		U_CHECK(net_cidr_list_match(&c->mynetworks.list, &a));
		U_EQ_INT(net_addr_parse("11.1.2.3", 25, &a), 0);
		U_CHECK(!net_cidr_list_match(&c->mynetworks.list, &a));
		U_EQ_INT(net_addr_parse("[2001:db8:1::5]:25", 25, &a), 0);
		U_CHECK(net_cidr_list_match(&c->mynetworks.list, &a));
		/* only_changed lists the keys that differ from the defaults, and no others */
		struct buf out;
		buf_init(&out);
		conf_dump(c, &out, true);
		U_CONTAINS(out.data, "smtpd_timeout = 120s\n");
		U_CONTAINS(out.data, "message_size_limit = 12345\n");
		U_CONTAINS(out.data, "smtpd_listen = [::1]:2525 192.0.2.1:25\n");
		U_CONTAINS(out.data, "mynetworks = 10.0.0.0/8 [2001:db8::]/32\n");
		U_CHECK(strstr(out.data, "smtpd_recipient_limit") == NULL);
		U_CHECK(strstr(out.data, "queue_directory") == NULL);
		buf_fini(&out);
		buf_init(&out);
		conf_doc(&out);
		U_CONTAINS(out.data, "| `smtpd_recipient_limit` | number (1..100000) | `1000` |");
		buf_fini(&out);
	}
	conf_free(&c);
	buf_fini(&diag);
	unlink(path);
	free(path);
	UNIT_FINISH();
}

/* What a reload compares: per-key equality, copying a restart-only key back, the restart list. */
static void test_conf_reload_keys(void **state)
{
	(void)state;
	unit_case("reload comparison", NULL, 0);
	const char *ov_a[] = { "smtpd_banner=one", "queue_directory=/var/a", "spam_threshold=5", "mynetworks=10.0.0.0/8" };
	const char *ov_b[] = { "smtpd_banner=two", "queue_directory=/var/b", "spam_threshold=5.0", "mynetworks=10.0.0.0/8" };
	struct buf diag;
	buf_init(&diag);
	struct conf *a = conf_load(NULL, ov_a, 4, &diag), *b = conf_load(NULL, ov_b, 4, &diag);
	U_CHECK(a && b);
	if (a && b) {
		size_t changed = 0, restart = 0, qd = (size_t)-1;
		for (size_t k = 0; k < conf_key_count(); k++) {
			if (strcmp(conf_key_name(k), "queue_directory") == 0)
				qd = k;
			if (!conf_key_equal(a, b, k)) {
				changed++;
				U_CHECK(strcmp(conf_key_name(k), "smtpd_banner") == 0 ||
					strcmp(conf_key_name(k), "queue_directory") == 0 ||
					strcmp(conf_key_name(k), "control_socket") == 0); /* $queue_directory/control */
			}
			restart += conf_key_restart(k);
		}
		U_EQ_INT(changed, 3); /* 5 and 5.0 are the same threshold; the same networks are equal */
		U_CHECK(restart >= 10);
		U_CHECK(qd != (size_t)-1 && conf_key_restart(qd));
		U_CHECK(conf_key_copy(b, a, qd));
		U_EQ_STR(b->queue_directory, "/var/a");
		U_CHECK(conf_key_equal(a, b, qd));
		U_CHECK(conf_key_name(conf_key_count()) == NULL);
		U_CHECK(!conf_key_restart(conf_key_count()));
	}
	conf_free(&a);
	conf_free(&b);
	buf_fini(&diag);
	UNIT_FINISH();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conf_table),
		cmocka_unit_test(test_conf_missing_file),
		cmocka_unit_test(test_conf_values),
		cmocka_unit_test(test_conf_reload_keys),
	};
	UNIT_MAIN(tests);
}
