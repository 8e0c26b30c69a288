/*
 * test_base.c - base/ helpers (buf, str, map, arena, ids, crc32) and
 * net/net_addr.c (address parse/format, CIDR lists and matching, including
 * IPv4-mapped IPv6 and the /0, /32, /128 edges).
 */
#include "unit.h"

#include <arpa/inet.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/crc32.h"
#include "base/ids.h"
#include "base/map.h"
#include "base/str.h"
#include "net/net_addr.h"

/* ---- buf ---- */

static void test_buf(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b);
	unit_case("buf append and NUL", NULL, 0);
	buf_append(&b, "ab", 2);
	buf_putc(&b, '\0');
	buf_puts(&b, "cd");
	U_EQ_MEM(b.data, b.len, "ab\0cd", 5);
	U_EQ_INT(b.data[b.len], '\0');
	unit_case("buf printf longer than the first reserve", NULL, 0);
	buf_reset(&b);
	U_EQ_INT(b.len, 0);
	U_EQ_STR(b.data, "");
	buf_printf(&b, "%0300d|%s", 7, "end");
	U_EQ_INT(b.len, 304);
	U_CHECK(strcmp(b.data + 300, "|end") == 0);
	unit_case("buf consume", NULL, 0);
	buf_consume(&b, 299);
	U_EQ_STR(b.data, "7|end");
	buf_consume(&b, 100);
	U_EQ_INT(b.len, 0);
	U_EQ_STR(b.data, "");
	unit_case("buf growth", NULL, 0);
	for (int i = 0; i < 100000; i++)
		buf_putc(&b, (char)('a' + i % 26));
	U_EQ_INT(b.len, 100000);
	U_CHECK(b.cap > b.len);
	U_EQ_INT(b.data[99999], 'a' + 99999 % 26);
	unit_case("buf steal", NULL, 0);
	size_t len = 0;
	char *p = buf_steal(&b, &len);
	U_EQ_INT(len, 100000);
	U_CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
	U_EQ_INT(p[len], '\0');
	free(p);
	unit_case("buf steal empty", NULL, 0);
	p = buf_steal(&b, &len);
	U_CHECK(p != NULL);
	U_EQ_STR(p, "");
	U_EQ_INT(len, 0);
	free(p);
	buf_fini(&b);
	UNIT_FINISH();
}

/* ---- str ---- */

struct copy_case {
	const char *name;
	const char *src;
	size_t size;
	int want_rc;
	const char *want;
};

static const struct copy_case copy_cases[] = {
	{ "fits with room", "abc", 5, 0, "abc" },
	{ "fits exactly (N)", "abcd", 5, 0, "abcd" },
	{ "one too long (N+1)", "abcde", 5, -1, "abcd" },
	{ "much too long", "abcdefghij", 5, -1, "abcd" },
	{ "empty", "", 1, 0, "" },
	{ "size 1", "a", 1, -1, "" },
};

static void check_copy(const struct copy_case *c)
{
	unit_case(c->name, c->src, strlen(c->src));
	char dst[16];
	memset(dst, 'X', sizeof dst);
	U_EQ_INT(str_copy(dst, c->size, c->src), c->want_rc);
	U_EQ_STR(dst, c->want);
	U_EQ_INT(dst[c->size], 'X'); /* nothing written past size */
	memset(dst, 'X', sizeof dst);
	U_EQ_INT(str_ncopy(dst, c->size, c->src, strlen(c->src)), c->want_rc);
	U_EQ_STR(dst, c->want);
}

static void test_str_copy_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(copy_cases, check_copy);
	unit_case("size 0", NULL, 0);
	char d[1] = { 'X' };
	U_EQ_INT(str_copy(d, 0, "a"), -1);
	U_EQ_INT(d[0], 'X');
	UNIT_FINISH();
}

struct u64_case {
	const char *name;
	const char *in;
	int want_rc;
	uint64_t want;
};

static const struct u64_case u64_cases[] = {
	{ "zero", "0", 0, 0 },
	{ "small", "42", 0, 42 },
	{ "leading zeros", "007", 0, 7 },
	{ "max-1", "18446744073709551614", 0, UINT64_MAX - 1 },
	{ "max", "18446744073709551615", 0, UINT64_MAX },
	{ "max+1", "18446744073709551616", -1, 0 },
	{ "way over", "99999999999999999999", -1, 0 },
	{ "empty", "", -1, 0 },
	{ "minus", "-1", -1, 0 },
	{ "plus", "+1", -1, 0 },
	{ "leading space", " 1", -1, 0 },
	{ "trailing space", "1 ", -1, 0 },
	{ "hex", "0x10", -1, 0 },
};

static void check_u64(const struct u64_case *c)
{
	unit_case(c->name, c->in, strlen(c->in));
	uint64_t v = 12345;
	U_EQ_INT(str_to_u64(c->in, &v), c->want_rc);
	if (c->want_rc == 0)
		U_EQ_HEX(v, c->want);
	else
		U_EQ_INT(v, 12345); /* untouched on error */
}

static void test_str_u64_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(u64_cases, check_u64);
}

struct case_case {
	const char *name;
	const char *a;
	const char *b;
	bool want_eq;
	bool want_prefix; /* str_caseprefix(a, b) */
};

static const struct case_case case_cases[] = {
	{ "equal", "abc", "abc", true, true },
	{ "case differs", "HeLo", "helo", true, true },
	{ "prefix", "helo there", "HELO", false, true },
	{ "shorter", "hel", "helo", false, false },
	{ "empty both", "", "", true, true },
	{ "empty prefix", "x", "", false, true },
	{ "non-ascii not folded", "\xc3\x84", "\xc3\xa4", false, false },
	{ "at vs backquote", "@", "`", false, false },
};

static void check_case(const struct case_case *c)
{
	unit_case(c->name, c->a, strlen(c->a));
	U_EQ_INT(str_caseeq(c->a, c->b), c->want_eq);
	U_EQ_INT(str_casecmp(c->a, c->b) == 0, c->want_eq);
	U_EQ_INT(str_ncaseeq(c->a, strlen(c->a), c->b), c->want_eq);
	U_EQ_INT(str_caseprefix(c->a, c->b), c->want_prefix);
}

static void test_str_case_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(case_cases, check_case);
	unit_case("ncaseeq length", NULL, 0);
	U_CHECK(str_ncaseeq("MAILX", 4, "mail"));
	U_CHECK(!str_ncaseeq("MAIL", 3, "mail"));
	U_CHECK(str_casecmp("a", "B") < 0 && str_casecmp("b", "A") > 0);
	char lower[] = "MiXeD 123";
	str_lower(lower);
	U_EQ_STR(lower, "mixed 123");
	UNIT_FINISH();
}

struct trim_case {
	const char *name;
	const char *in;
	const char *want;
};

static const struct trim_case trim_cases[] = {
	{ "none", "abc", "abc" },
	{ "both", " \t abc \t ", "abc" },
	{ "inner kept", "  a b  ", "a b" },
	{ "all space", " \t ", "" },
	{ "empty", "", "" },
	{ "newline kept", "\na\n", "\na\n" },
};

static void check_trim(const struct trim_case *c)
{
	unit_case(c->name, c->in, strlen(c->in));
	char tmp[64];
	snprintf(tmp, sizeof tmp, "%s", c->in);
	U_CHECK(str_trim(tmp) == tmp);
	U_EQ_STR(tmp, c->want);
}

static void test_str_trim_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(trim_cases, check_trim);
}

struct split_case {
	const char *name;
	const char *in;
	const char *seps;
	size_t max;
	const char *want; /* fields joined with '|' */
};

static const struct split_case split_cases[] = {
	{ "simple", "a b c", " ", 8, "a|b|c" },
	{ "runs of separators", "  a,, b ,c  ", " ,", 8, "a|b|c" },
	{ "empty", "", " ", 8, "" },
	{ "only separators", " , ", " ,", 8, "" },
	{ "max-1 fields", "a b c", " ", 2, "a|b" },
	{ "max fields", "a b c", " ", 3, "a|b|c" },
	{ "max+1 fields", "a b c d", " ", 3, "a|b|c" },
	{ "max 0", "a", " ", 0, "" },
};

static void check_split(const struct split_case *c)
{
	unit_case(c->name, c->in, strlen(c->in));
	char tmp[64], got[64] = "";
	char *f[8];
	snprintf(tmp, sizeof tmp, "%s", c->in);
	size_t n = str_split(tmp, c->seps, f, c->max);
	U_CHECK(n <= c->max);
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(got, "|");
		strcat(got, f[i]);
	}
	U_EQ_STR(got, c->want);
}

static void test_str_split_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(split_cases, check_split);
}

struct lines_case {
	const char *name;
	const char *in;
	const char *want; /* lines joined with '|' */
};

static const struct lines_case lines_cases[] = {
	{ "empty", "", "" },
	{ "one without LF", "a", "a" },
	{ "one with LF", "a\n", "a" },
	{ "CRLF", "a\r\nb\r\n", "a|b" },
	{ "blank lines kept", "a\n\n\nb", "a|||b" },
	{ "lone CR inside kept", "a\rb\n", "a\rb" },
	{ "only CR at the end", "a\r", "a" },
	{ "only LF", "\n", "" },
};

static void check_lines(const struct lines_case *c)
{
	unit_case(c->name, c->in, strlen(c->in));
	char tmp[64], got[64] = "", *p = tmp;
	snprintf(tmp, sizeof tmp, "%s", c->in);
	int n = 0;
	for (char *l; (l = str_next_line(&p)) != NULL; n++) {
		if (n)
			strcat(got, "|");
		strcat(got, l);
	}
	U_EQ_STR(got, c->want);
	U_CHECK(str_next_line(&p) == NULL);
}

static void test_str_lines_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(lines_cases, check_lines);
}

/* ---- map ---- */

static bool drop_div3(void *val, void *ctx)
{
	(void)ctx;
	return *(int *)val % 3 == 0;
}

/* str_hexval, str_sanitize, str_has_ctl: peers' text made safe. */
static void test_str_peer_text(void **state)
{
	(void)state;
	static const struct {
		const char *name, *in, *sanitized;
		bool ctl;
	} cases[] = {
		{ "plain", "stream: OK", "stream: OK", false },
		{ "CR LF", "a\r\nb", "a??b", true },
		{ "NUL-free controls", "\x01x\x1f", "?x?", true },
		{ "DEL", "a\x7f", "a?", true },
		{ "8-bit kept", "gr\xc3\xbc\xc3\x9f", "gr\xc3\xbc\xc3\x9f", false },
		{ "empty", "", "", false },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		unit_case(cases[i].name, cases[i].in, strlen(cases[i].in));
		char b[64];
		str_copy(b, sizeof b, cases[i].in);
		U_EQ_INT(str_has_ctl(b, strlen(b)), cases[i].ctl);
		str_sanitize(b);
		U_EQ_STR(b, cases[i].sanitized);
		U_EQ_INT(str_has_ctl(b, strlen(b)), false);
	}
	unit_case("hex digits", "0aF", 3);
	U_EQ_INT(str_hexval('0'), 0);
	U_EQ_INT(str_hexval('9'), 9);
	U_EQ_INT(str_hexval('a'), 10);
	U_EQ_INT(str_hexval('F'), 15);
	U_EQ_INT(str_hexval('g'), -1);
	U_EQ_INT(str_hexval('%'), -1);
	UNIT_FINISH();
}

static void test_map(void **state)
{
	(void)state;
	enum { N = 10000 };
	struct map *m = map_new();
	static int vals[N];
	char key[32];
	unit_case("map insert 10k", NULL, 0);
	for (int i = 0; i < N; i++) {
		vals[i] = i;
		snprintf(key, sizeof key, "key-%d", i);
		U_CHECK(map_puts(m, key, &vals[i]) == NULL);
	}
	U_EQ_INT(map_count(m), N);
	unit_case("map get 10k", NULL, 0);
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof key, "key-%d", i);
		int *v = map_gets(m, key);
		U_CHECK(v == &vals[i]);
	}
	U_CHECK(map_gets(m, "key-10000") == NULL);
	U_CHECK(map_gets(m, "") == NULL);
	unit_case("map replace returns old", NULL, 0);
	static int other;
	U_CHECK(map_puts(m, "key-5", &other) == &vals[5]);
	U_CHECK(map_gets(m, "key-5") == &other);
	U_EQ_INT(map_count(m), N);
	U_CHECK(map_puts(m, "key-5", &vals[5]) == &other);
	unit_case("map delete even", NULL, 0);
	for (int i = 0; i < N; i += 2) {
		snprintf(key, sizeof key, "key-%d", i);
		U_CHECK(map_dels(m, key) == &vals[i]);
	}
	U_CHECK(map_dels(m, "key-0") == NULL);
	U_EQ_INT(map_count(m), N / 2);
	unit_case("map iterate", NULL, 0);
	static unsigned char seen[N];
	memset(seen, 0, sizeof seen);
	size_t pos = 0, n = 0;
	const void *k;
	size_t kl;
	void *v;
	while (map_next(m, &pos, &k, &kl, &v)) {
		int idx = *(int *)v;
		U_CHECK(idx % 2 == 1);
		snprintf(key, sizeof key, "key-%d", idx);
		U_EQ_MEM(k, kl, key, strlen(key));
		if (idx >= 0 && idx < N)
			seen[idx]++;
		n++;
	}
	U_EQ_INT(n, N / 2);
	for (int i = 1; i < N; i += 2)
		U_EQ_INT(seen[i], 1);
	unit_case("map sweep: every value divisible by 3 goes, in one pass", NULL, 0);
	size_t want_gone = 0;
	for (int i = 1; i < N; i += 2)
		want_gone += i % 3 == 0;
	U_EQ_INT(map_sweep(m, drop_div3, NULL), want_gone);
	U_EQ_INT(map_count(m), N / 2 - want_gone);
	for (int i = 1; i < N; i += 2) {
		snprintf(key, sizeof key, "key-%d", i);
		U_CHECK((map_gets(m, key) != NULL) == (i % 3 != 0));
	}
	U_EQ_INT(map_sweep(m, drop_div3, NULL), 0);
	unit_case("map binary and empty keys", NULL, 0);
	U_CHECK(map_put(m, "a\0b", 3, &vals[1]) == NULL);
	U_CHECK(map_put(m, "a\0c", 3, &vals[2]) == NULL);
	U_CHECK(map_put(m, "", 0, &vals[3]) == NULL);
	U_CHECK(map_get(m, "a\0b", 3) == &vals[1]);
	U_CHECK(map_get(m, "a\0c", 3) == &vals[2]);
	U_CHECK(map_get(m, "a", 1) == NULL);
	U_CHECK(map_gets(m, "") == &vals[3]);
	unit_case("map u64 keys", NULL, 0);
	for (uint64_t i = 0; i < 1000; i++)
		map_putu(m, i * 0x100000001ULL, &vals[i]);
	for (uint64_t i = 0; i < 1000; i++)
		U_CHECK(map_getu(m, i * 0x100000001ULL) == &vals[i]);
	U_CHECK(map_delu(m, 0) == &vals[0]);
	U_CHECK(map_getu(m, 0) == NULL);
	map_free(&m);
	U_CHECK(m == NULL);
	map_free(&m); /* NULL is fine */
	UNIT_FINISH();
}

/* ---- arena ---- */

static void test_arena(void **state)
{
	(void)state;
	struct arena *a = arena_new(100); /* rounded up to the minimum */
	unit_case("arena small allocs aligned", NULL, 0);
	for (int i = 0; i < 1000; i++) {
		size_t n = (size_t)(i % 37);
		unsigned char *p = arena_alloc(a, n);
		U_EQ_INT((uintptr_t)p % 16, 0);
		memset(p, 0xAB, n); /* ASan: the whole block is usable */
	}
	U_CHECK(arena_used(a) >= 1000 * 16);
	unit_case("arena large alloc", NULL, 0);
	size_t big = 1 << 20;
	unsigned char *p = arena_alloc(a, big);
	U_EQ_INT((uintptr_t)p % 16, 0);
	memset(p, 1, big);
	unsigned char *z = arena_zalloc(a, 5000);
	size_t nz = 0;
	for (size_t i = 0; i < 5000; i++)
		nz += z[i] != 0;
	U_EQ_INT(nz, 0);
	unit_case("arena strdup", NULL, 0);
	char *s = arena_strdup(a, "hello");
	U_EQ_STR(s, "hello");
	char *t = arena_strndup(a, "hello world", 5);
	U_EQ_STR(t, "hello");
	char *e = arena_strndup(a, "", 0);
	U_EQ_STR(e, "");
	unit_case("arena reset", NULL, 0);
	arena_reset(a);
	U_EQ_INT(arena_used(a), 0);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 100; i++) {
			char *q = arena_alloc(a, 300);
			memset(q, 'x', 300);
		}
		U_EQ_INT(arena_used(a), 100 * 304);
		arena_reset(a);
		U_EQ_INT(arena_used(a), 0);
	}
	arena_free(&a);
	U_CHECK(a == NULL);
	arena_free(&a);
	UNIT_FINISH();
}

/* A request that cannot be met aborts (STYLE "Errors"), it never returns a
 * short block: n + 15 must not wrap around. */
static void test_arena_huge_aborts(void **state)
{
	(void)state;
	static const size_t sizes[] = { (size_t)-1, (size_t)-1 - 14, (size_t)-1 / 2 + 1 };
	for (size_t i = 0; i < UNIT_NCASES(sizes); i++) {
		unit_case("arena huge alloc aborts", NULL, 0);
		fflush(NULL);
		pid_t pid = fork();
		if (pid == 0) {
			struct arena *a = arena_new(256);
			unsigned char *p = arena_alloc(a, sizes[i]);
			p[0] = 1;
			_exit(0); /* returned: the bug */
		}
		int st = 0;
		U_CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
		if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT))
			unit_failf(__FILE__, __LINE__, "arena_alloc(%zu) returned instead of aborting", sizes[i]);
	}
	UNIT_FINISH();
}

/* ---- ids ---- */

struct idv_case {
	const char *name;
	const char *in;
	bool want;
};

static const struct idv_case idv_cases[] = {
	{ "valid", "0123456789ABCDEF", true },
	{ "valid high", "ZZZZZZZZZZZZZZZZ", true },
	{ "15 chars", "0123456789ABCDE", false },
	{ "17 chars", "0123456789ABCDEFG", false },
	{ "contains I", "0123456789ABCDEI", false },
	{ "contains L", "0123456789ABCDEL", false },
	{ "contains O", "0123456789ABCDEO", false },
	{ "contains U", "0123456789ABCDEU", false },
	{ "lower case", "0123456789abcdef", false },
	{ "dot", "0123456789ABCDE.", false },
	{ "slash", "01234567/9ABCDEF", false },
	{ "empty", "", false },
};

static void check_idv(const struct idv_case *c)
{
	unit_case(c->name, c->in, strlen(c->in));
	U_EQ_INT(ids_queue_valid(c->in), c->want);
}

static void test_ids(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(idv_cases, check_idv);
	enum { N = 100000 };
	struct map *m = map_new();
	char prev[IDS_QUEUE_SIZE] = "";
	unit_case("100k generated ids", NULL, 0);
	int bad = 0, dup = 0, unsorted = 0;
	for (int i = 0; i < N; i++) {
		char id[IDS_QUEUE_SIZE];
		ids_queue_new(id);
		bad += !ids_queue_valid(id);
		dup += map_puts(m, id, (void *)1) != NULL;
		unsorted += strcmp(prev, id) >= 0;
		memcpy(prev, id, sizeof prev);
	}
	U_EQ_INT(bad, 0);
	U_EQ_INT(dup, 0);
	U_EQ_INT(unsorted, 0);
	U_EQ_INT(map_count(m), N);
	map_free(&m);
	unit_case("ids_next", NULL, 0);
	uint64_t a = ids_next(), b = ids_next();
	U_CHECK(a != 0 && b > a);
	UNIT_FINISH();
}

/* ---- crc32 ---- */

static void test_crc32(void **state)
{
	(void)state;
	unit_case("crc32 check value", NULL, 0);
	U_EQ_HEX(crc32_update(0, "123456789", 9), 0xCBF43926u);
	U_EQ_HEX(crc32_update(0, "", 0), 0);
	U_EQ_HEX(crc32_update(0, "a", 1), 0xE8B7BE43u);
	U_EQ_HEX(crc32_update(0, "The quick brown fox jumps over the lazy dog", 43), 0x414FA339u);
	unit_case("crc32 incremental", NULL, 0);
	uint32_t c = 0;
	const char *s = "123456789";
	for (int i = 0; i < 9; i++)
		c = crc32_update(c, s + i, 1);
	U_EQ_HEX(c, 0xCBF43926u);
	UNIT_FINISH();
}

/* ---- net_addr ---- */

struct naddr_case {
	const char *name;
	const char *in;
	int default_port;
	int want_rc;
	const char *want_str; /* net_addr_str */
	int want_family;
};

static const struct naddr_case naddr_cases[] = {
	{ "v4 with port", "192.0.2.1:25", -1, 0, "192.0.2.1:25", AF_INET },
	{ "v6 with port", "[2001:db8::1]:587", -1, 0, "[2001:db8::1]:587", AF_INET6 },
	{ "v6 loopback", "[::1]:25", -1, 0, "[::1]:25", AF_INET6 },
	{ "v4 default port", "192.0.2.1", 25, 0, "192.0.2.1:25", AF_INET },
	{ "v6 bare default port", "::1", 25, 0, "[::1]:25", AF_INET6 },
	{ "v6 brackets default port", "[::1]", 2525, 0, "[::1]:2525", AF_INET6 },
	{ "v4 no port required", "192.0.2.1", -1, -1, NULL, 0 },
	{ "v6 no port required", "[::1]", -1, -1, NULL, 0 },
	{ "v4 in brackets", "[192.0.2.1]:25", -1, 0, "192.0.2.1:25", AF_INET },
	{ "v4-mapped shown as v4", "[::ffff:192.0.2.1]:25", -1, 0, "192.0.2.1:25", AF_INET6 },
	{ "port 1", "192.0.2.1:1", -1, 0, "192.0.2.1:1", AF_INET },
	{ "port 65535", "192.0.2.1:65535", -1, 0, "192.0.2.1:65535", AF_INET },
	{ "port 0", "192.0.2.1:0", -1, -1, NULL, 0 },
	{ "port 65536", "192.0.2.1:65536", -1, -1, NULL, 0 },
	{ "port empty", "192.0.2.1:", -1, -1, NULL, 0 },
	{ "port negative", "192.0.2.1:-1", -1, -1, NULL, 0 },
	{ "host name", "localhost:25", -1, -1, NULL, 0 },
	{ "v4 short", "192.0.2:25", -1, -1, NULL, 0 },
	{ "v4 octet 256", "192.0.2.256:25", -1, -1, NULL, 0 },
	{ "junk after bracket", "[::1]x", 25, -1, NULL, 0 },
	{ "unclosed bracket", "[::1:25", -1, -1, NULL, 0 },
	{ "empty", "", 25, -1, NULL, 0 },
	{ "too long", "[0000:0000:0000:0000:0000:0000:0000:0000:0000:0000]:25", -1, -1, NULL, 0 },
};

static void check_naddr(const struct naddr_case *c)
{
	unit_case(c->name, c->in, strlen(c->in));
	struct net_addr a;
	int rc = net_addr_parse(c->in, c->default_port, &a);
	U_EQ_INT(rc, c->want_rc);
	if (rc == 0 && c->want_rc == 0) {
		char s[NET_ADDR_STRLEN];
		net_addr_str(&a, s, sizeof s);
		U_EQ_STR(s, c->want_str);
		U_EQ_INT(net_addr_family(&a), c->want_family);
		/* the formatted form parses back to the same address */
		struct net_addr b;
		U_EQ_INT(net_addr_parse(s, -1, &b), 0);
		char s2[NET_ADDR_STRLEN];
		net_addr_str(&b, s2, sizeof s2);
		U_EQ_STR(s2, s);
	}
}

static void test_net_addr_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(naddr_cases, check_naddr);
	struct net_addr a;
	char s[NET_ADDR_STRLEN];
	unit_case("set port and ip", NULL, 0);
	U_EQ_INT(net_addr_parse("[2001:db8::5]:25", -1, &a), 0);
	net_addr_set_port(&a, 2525);
	U_EQ_INT(net_addr_port(&a), 2525);
	net_addr_ip(&a, s, sizeof s);
	U_EQ_STR(s, "2001:db8::5");
	unit_case("loopback", NULL, 0);
	U_EQ_INT(net_addr_parse("127.9.9.9:1", -1, &a), 0);
	U_CHECK(net_addr_is_loopback(&a));
	U_EQ_INT(net_addr_parse("[::1]:1", -1, &a), 0);
	U_CHECK(net_addr_is_loopback(&a));
	U_EQ_INT(net_addr_parse("[::ffff:127.0.0.1]:1", -1, &a), 0);
	U_CHECK(net_addr_is_loopback(&a));
	U_EQ_INT(net_addr_parse("[::2]:1", -1, &a), 0);
	U_CHECK(!net_addr_is_loopback(&a));
	U_EQ_INT(net_addr_parse("128.0.0.1:1", -1, &a), 0);
	U_CHECK(!net_addr_is_loopback(&a));
	UNIT_FINISH();
}

struct cidr_case {
	const char *name;
	const char *list;
	int want_rc;
	const char *want_bad; /* offending token on error */
	const char *match[4];	/* client addresses that must match */
	const char *nomatch[4]; /* and that must not */
};

static const struct cidr_case cidr_cases[] = {
	{ "v4 /8", "10.0.0.0/8", 0, NULL, { "10.0.0.0", "10.255.255.255", "10.1.2.3" },
	  { "11.0.0.0", "9.255.255.255", "::1" } },
	{ "v4 /0 matches all v4", "0.0.0.0/0", 0, NULL, { "0.0.0.0", "255.255.255.255", "::ffff:1.2.3.4" },
	  { "::1", "2001:db8::1" } },
	{ "v4 /32", "192.0.2.7/32", 0, NULL, { "192.0.2.7" }, { "192.0.2.6", "192.0.2.8" } },
	{ "v4 implied /32", "192.0.2.7", 0, NULL, { "192.0.2.7" }, { "192.0.2.6", "192.0.2.8" } },
	{ "v4 /31", "192.0.2.6/31", 0, NULL, { "192.0.2.6", "192.0.2.7" }, { "192.0.2.5", "192.0.2.8" } },
	{ "v4 /25 edge", "192.0.2.0/25", 0, NULL, { "192.0.2.0", "192.0.2.127" }, { "192.0.2.128", "192.0.3.0" } },
	{ "v4 host bits set", "10.1.2.3/8", 0, NULL, { "10.200.0.1" }, { "11.1.2.3" } },
	{ "v4-mapped client vs v4 cidr", "192.0.2.0/24", 0, NULL, { "::ffff:192.0.2.9" }, { "::ffff:192.0.3.9" } },
	{ "v4-mapped cidr is a v4 network", "[::ffff:192.0.2.0]/120", 0, NULL, { "192.0.2.9", "::ffff:192.0.2.255" },
	  { "192.0.3.0", "2001:db8::1" } },
	{ "v4-mapped /128 = one v4 host", "[::ffff:192.0.2.7]", 0, NULL, { "192.0.2.7" }, { "192.0.2.8" } },
	{ "v6 /128", "[2001:db8::1]/128", 0, NULL, { "2001:db8::1" }, { "2001:db8::2", "2001:db8::" } },
	{ "v6 implied /128", "2001:db8::1", 0, NULL, { "2001:db8::1" }, { "2001:db8::2" } },
	{ "v6 /32", "2001:db8::/32", 0, NULL, { "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff" },
	  { "2001:db9::", "2001:db7:ffff::1", "32.1.13.184" } },
	{ "v6 /0 matches all v6", "::/0", 0, NULL, { "::", "ffff::1", "::1" }, { "192.0.2.1", "::ffff:192.0.2.1" } },
	{ "v6 /127 edge", "[::]/127", 0, NULL, { "::", "::1" }, { "::2" } },
	{ "list mixed", "127.0.0.0/8, [::1]/128 192.168.0.0/16", 0, NULL, { "127.0.0.1", "::1", "192.168.3.4" },
	  { "192.169.0.1", "::2" } },
	{ "empty list", "", 0, NULL, { NULL }, { "127.0.0.1", "::1" } },
	{ "v4 /33", "10.0.0.0/33", -1, "10.0.0.0/33", { NULL }, { NULL } },
	{ "v6 /129", "::/129", -1, "::/129", { NULL }, { NULL } },
	{ "second token bad", "10.0.0.0/8 10.0.0.0/x", -1, "10.0.0.0/x", { NULL }, { NULL } },
	{ "empty prefix", "10.0.0.0/", -1, "10.0.0.0/", { NULL }, { NULL } },
	{ "prefix sign", "10.0.0.0/+8", -1, "10.0.0.0/+8", { NULL }, { NULL } },
	{ "host name", "localhost", -1, "localhost", { NULL }, { NULL } },
	{ "unclosed bracket", "[::1/128", -1, "[::1/128", { NULL }, { NULL } },
	{ "v4 in v6 brackets ok", "[10.0.0.0]/8", 0, NULL, { "10.9.9.9" }, { "11.0.0.0" } },
};

static void check_cidr(const struct cidr_case *c)
{
	unit_case(c->name, c->list, strlen(c->list));
	struct net_cidr_list l = { NULL, 0 };
	char *bad = NULL;
	int rc = net_cidr_list_parse(c->list, &l, &bad);
	U_EQ_INT(rc, c->want_rc);
	if (rc < 0) {
		U_EQ_STR(bad, c->want_bad);
		U_CHECK(l.n == 0);
	}
	free(bad);
	for (size_t i = 0; i < 4 && c->match[i]; i++) {
		struct net_addr a;
		U_EQ_INT(net_addr_parse(c->match[i], 25, &a), 0);
		if (!net_cidr_list_match(&l, &a))
			unit_failf(__FILE__, __LINE__, "%s should match", c->match[i]);
	}
	for (size_t i = 0; i < 4 && c->nomatch[i]; i++) {
		struct net_addr a;
		U_EQ_INT(net_addr_parse(c->nomatch[i], 25, &a), 0);
		if (net_cidr_list_match(&l, &a))
			unit_failf(__FILE__, __LINE__, "%s should not match", c->nomatch[i]);
	}
	net_cidr_list_fini(&l);
}

static void test_cidr_table(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(cidr_cases, check_cidr);
	unit_case("single cidr parse", NULL, 0);
	struct net_cidr one;
	U_EQ_INT(net_cidr_parse("192.0.2.0/24", &one), 0);
	U_EQ_INT(one.family, AF_INET);
	U_EQ_INT(one.prefix, 24);
	U_EQ_INT(net_cidr_parse("[2001:db8::]/48", &one), 0);
	U_EQ_INT(one.family, AF_INET6);
	U_EQ_INT(one.prefix, 48);
	U_EQ_INT(net_cidr_parse("[::1]", &one), 0);
	U_EQ_INT(one.prefix, 128);
	U_EQ_INT(net_cidr_parse("[]", &one), -1);
	U_EQ_INT(net_cidr_parse("[", &one), -1);
	UNIT_FINISH();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf),	      cmocka_unit_test(test_str_copy_table),
		cmocka_unit_test(test_str_u64_table), cmocka_unit_test(test_str_case_table),
		cmocka_unit_test(test_str_trim_table), cmocka_unit_test(test_str_split_table),
		cmocka_unit_test(test_str_lines_table), cmocka_unit_test(test_str_peer_text),
		cmocka_unit_test(test_map),	      cmocka_unit_test(test_arena), cmocka_unit_test(test_arena_huge_aborts),
		cmocka_unit_test(test_ids),	      cmocka_unit_test(test_crc32),
		cmocka_unit_test(test_net_addr_table), cmocka_unit_test(test_cidr_table),
	};
	UNIT_MAIN(tests);
}
