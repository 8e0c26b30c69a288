/*
 * test_log.c - base/log.c's value quoting (LOG_Q/LOG_QA: bare or quoted,
 * escapes, UTF-8 kept, cuts at LOG_Q_IN_MAX), base/log_json.c's key=value
 * to JSON conversion (numbers, escapes, surrogateescape, duplicate and
 * reserved keys, words, broken input) and base/metric.c's histograms and
 * text writers.
 */
#include "unit.h"

#include "base/buf.h"
#include "base/log.h"
#include "base/metric.h"

struct quote_case {
	const char *name, *pre, *in, *post, *want;
};

static const struct quote_case quote_cases[] = {
	{ "plain stays bare", "", "a@b.test", "", "a@b.test" },
	{ "address in brackets", "<", "a@b.test", ">", "<a@b.test>" },
	{ "null sender", "<", "", ">", "<>" },
	{ "empty is quoted", "", "", "", "\"\"" },
	{ "space quotes", "", "250 2.0.0 Ok", "", "\"250 2.0.0 Ok\"" },
	{ "quote and backslash escaped", "", "a\"b\\c", "", "\"a\\\"b\\\\c\"" },
	{ "control octets as \\xNN", "", "a\r\nb\x1b\x7f", "", "\"a\\x0d\\x0ab\\x1b\\x7f\"" },
	{ "UTF-8 kept", "<", "j\xc3\xb6rg@b.test", ">", "\"<j\xc3\xb6rg@b.test>\"" },
	{ "broken UTF-8 escaped", "", "a\xc3(\xff", "", "\"a\\xc3(\\xff\"" },
	{ "overlong escaped", "", "\xc0\xaf", "", "\"\\xc0\\xaf\"" },
	{ "equals sign stays bare", "", "a=b", "", "a=b" },
};

static void check_quote(const struct quote_case *c)
{
	unit_case(c->name, c->in, strlen(c->in));
	char b[LOG_Q_SIZE];
	U_EQ_STR(log_quote(b, sizeof b, c->pre, c->in, c->post), c->want);
}

static void test_quote_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(quote_cases, check_quote);
	char in[LOG_Q_IN_MAX + 2], b[LOG_Q_SIZE];
	unit_case("N-1 octets: bare, whole", NULL, 0);
	memset(in, 'a', LOG_Q_IN_MAX - 1);
	in[LOG_Q_IN_MAX - 1] = '\0';
	U_EQ_INT(strlen(log_quote(b, sizeof b, "", in, "")), LOG_Q_IN_MAX - 1);
	unit_case("N octets: whole", NULL, 0);
	in[LOG_Q_IN_MAX - 1] = 'a';
	in[LOG_Q_IN_MAX] = '\0';
	U_EQ_INT(strlen(log_quote(b, sizeof b, "", in, "")), LOG_Q_IN_MAX);
	unit_case("N+1 octets: cut, marked \\.", NULL, 0);
	in[LOG_Q_IN_MAX] = 'a';
	in[LOG_Q_IN_MAX + 1] = '\0';
	log_quote(b, sizeof b, "", in, "");
	U_EQ_INT(strlen(b), LOG_Q_IN_MAX + 4);
	U_CHECK(b[0] == '"' && strcmp(b + strlen(b) - 3, "\\.\"") == 0);
	unit_case("N control octets fit the buffer", NULL, 0);
	memset(in, '\x01', LOG_Q_IN_MAX);
	in[LOG_Q_IN_MAX] = '\0';
	log_quote(b, sizeof b, "", in, "");
	U_EQ_INT(strlen(b), 4 * LOG_Q_IN_MAX + 2);
	unit_case("NULL is empty", NULL, 0);
	U_EQ_STR(log_quote(b, sizeof b, "", NULL, ""), "\"\"");
	UNIT_FINISH();
}

struct json_case {
	const char *name, *in, *want;
};

static const struct json_case json_cases[] = {
	{ "numbers and strings", "session=12 event=connect client=127.0.0.1",
	  ",\"session\":12,\"event\":\"connect\",\"client\":\"127.0.0.1\"" },
	{ "decimal fraction", "delay=0.42", ",\"delay\":0.42" },
	{ "negative", "x=-3", ",\"x\":-3" },
	{ "leading zero stays a string", "x=007", ",\"x\":\"007\"" },
	{ "15 digits a number, 16 a string", "a=123456789012345 b=1234567890123456",
	  ",\"a\":123456789012345,\"b\":\"1234567890123456\"" },
	{ "quoted digits stay a string", "x=\"42\"", ",\"x\":\"42\"" },
	{ "unit suffix is a string", "retry_in=5s", ",\"retry_in\":\"5s\"" },
	{ "escapes decoded", "reply=\"a \\\"b\\\" \\\\ \\x0d\"", ",\"reply\":\"a \\\"b\\\" \\\\ \\u000d\"" },
	{ "non-UTF-8 as surrogateescape", "x=\"\\xff\"", ",\"x\":\"\\udcff\"" },
	{ "UTF-8 kept", "x=\"j\xc3\xb6rg\"", ",\"x\":\"j\xc3\xb6rg\"" },
	{ "cut mark", "x=\"abc\\.\"", ",\"x\":\"abc...\"" },
	{ "unknown escape keeps backslash", "x=\"a\\qb\"", ",\"x\":\"a\\\\qb\"" },
	{ "unterminated runs to the end", "x=\"abc def", ",\"x\":\"abc def\"" },
	{ "duplicate key suffixed", "a=1 a=2 a=3", ",\"a\":1,\"a_2\":2,\"a_3\":3" },
	{ "reserved key suffixed", "level=may pid=3", ",\"level_2\":\"may\",\"pid_2\":3" },
	{ "words into text", "event=x (first kept) y=1", ",\"event\":\"x\",\"y\":1,\"text\":\"(first kept)\"" },
	{ "empty bare value", "a= b=1", ",\"a\":\"\",\"b\":1" },
	{ "lone equals is a word", "=x", ",\"text\":\"=x\"" },
	{ "empty input", "", "" },
};

static void check_json(const struct json_case *c)
{
	unit_case(c->name, c->in, strlen(c->in));
	struct buf b;
	buf_init(&b);
	log_kv_to_json(c->in, strlen(c->in), &b);
	U_EQ_STR(b.data ? b.data : "", c->want);
	buf_fini(&b);
}

static void test_json_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(json_cases, check_json);
	UNIT_FINISH();
}

static void test_metric_hist(void **state)
{
	(void)state;
	static const double le[] = { 0.01, 0.1, 1 };
	struct metric_hist h;
	metric_hist_init(&h, le, 3);
	unit_case("bucket edges: le is inclusive", NULL, 0);
	metric_hist_observe_us(&h, 10000);  /* 0.01: first bucket */
	metric_hist_observe_us(&h, 10001);  /* second */
	metric_hist_observe_us(&h, 2000000); /* +Inf */
	metric_hist_observe_us(&h, -5);	    /* counts as 0 */
	U_EQ_INT(metric_hist_count(&h), 4);
	struct buf b;
	buf_init(&b);
	metric_hist_render(&b, "x_seconds", "a=\"b\"", &h);
	U_EQ_STR(b.data, "x_seconds_bucket{a=\"b\",le=\"0.01\"} 2\n"
			 "x_seconds_bucket{a=\"b\",le=\"0.1\"} 3\n"
			 "x_seconds_bucket{a=\"b\",le=\"1\"} 3\n"
			 "x_seconds_bucket{a=\"b\",le=\"+Inf\"} 4\n"
			 "x_seconds_sum{a=\"b\"} 2.020001\n"
			 "x_seconds_count{a=\"b\"} 4\n");
	unit_case("no labels", NULL, 0);
	buf_reset(&b);
	struct metric_hist e;
	metric_hist_init(&e, le, 1);
	metric_hist_render(&b, "y", NULL, &e);
	U_EQ_STR(b.data, "y_bucket{le=\"0.01\"} 0\ny_bucket{le=\"+Inf\"} 0\ny_sum 0.000000\ny_count 0\n");
	unit_case("label values and help escaped", NULL, 0);
	buf_reset(&b);
	metric_label(&b, "zone", "a\"b\\c\nd");
	metric_label(&b, "k", "v");
	U_EQ_STR(b.data, "zone=\"a\\\"b\\\\c\\nd\",k=\"v\"");
	buf_reset(&b);
	metric_head(&b, "m", "counter", "line\\one\ntwo");
	U_EQ_STR(b.data, "# HELP m line\\\\one\\ntwo\n# TYPE m counter\n");
	unit_case("counter", NULL, 0);
	struct metric_counter c = { 0 };
	metric_inc(&c);
	metric_add(&c, 41);
	U_EQ_INT(metric_get(&c), 42);
	buf_fini(&b);
	UNIT_FINISH();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quote_table),
		cmocka_unit_test(test_json_table),
		cmocka_unit_test(test_metric_hist),
	};
	UNIT_MAIN(tests);
}
