/*
 * unit.h - helpers shared by the cmocka unit tests (tests/unit/test_*.c).
 *
 * Tests are tables of named cases (STYLE "Tests"). A case is announced with
 * unit_case(name, input, len); the U_* check macros then record a failure
 * with the case name, the file:line and the input escaped as a C string,
 * and go on, so one run shows every failing case of a table. UNIT_FINISH()
 * (done by UNIT_RUN_TABLE) turns recorded failures into a cmocka failure,
 * so a binary exits nonzero when any check failed.
 *
 * Inputs may use the template "{{N:text}}" (expanded by unit_expand): text
 * repeated N times, for limit cases (a 64-octet local part is
 * "{{64:a}}@example.com").
 */
#ifndef TESTS_UNIT_UNIT_H
#define TESTS_UNIT_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define UNIT_NCASES(a) (sizeof(a) / sizeof((a)[0]))
#define UNIT_BUF 8192

struct unit_ctx {
	const char *name;
	const char *in;
	size_t in_len;
	int fails;
	unsigned long cases;
};
static struct unit_ctx unit_ctx_;

/* C-style escape of p[0..n) into out (always NUL-terminated; "..." when
 * cut). */
static inline void unit_escape(char *out, size_t size, const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t o = 0;
	if (size < 8)
		return;
	for (size_t i = 0; i < n; i++) {
		char t[8];
		int k;
		unsigned char c = s[i];
		if (c == '\r')
			k = snprintf(t, sizeof t, "\\r");
		else if (c == '\n')
			k = snprintf(t, sizeof t, "\\n");
		else if (c == '\t')
			k = snprintf(t, sizeof t, "\\t");
		else if (c == '"' || c == '\\')
			k = snprintf(t, sizeof t, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			k = snprintf(t, sizeof t, "\\x%02x", c);
		else
			k = snprintf(t, sizeof t, "%c", c);
		if (o + (size_t)k + 4 >= size) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(out + o, t, (size_t)k);
		o += (size_t)k;
	}
	out[o] = '\0';
}

/* Expand "{{N:text}}" templates of t[0..tlen) into out[size]; returns the
 * length (out is NUL-terminated). Aborts when out is too small: a bug in a
 * test table. */
static inline size_t unit_expand(const char *t, size_t tlen, char *out, size_t size)
{
	size_t o = 0;
	for (size_t i = 0; i < tlen;) {
		if (i + 2 < tlen && t[i] == '{' && t[i + 1] == '{') {
			char *colon;
			unsigned long n = strtoul(t + i + 2, &colon, 10);
			const char *end = strstr(colon, "}}");
			if (*colon != ':' || !end)
				abort();
			size_t rl = (size_t)(end - colon - 1);
			for (unsigned long k = 0; k < n; k++) {
				if (o + rl >= size)
					abort();
				memcpy(out + o, colon + 1, rl);
				o += rl;
			}
			i = (size_t)(end + 2 - t);
			continue;
		}
		if (o + 1 >= size)
			abort();
		out[o++] = t[i++];
	}
	out[o] = '\0';
	return o;
}

/* Announce the case being checked (input may be NULL). */
static inline void unit_case(const char *name, const void *in, size_t len)
{
	unit_ctx_.name = name;
	unit_ctx_.in = in;
	unit_ctx_.in_len = len;
	unit_ctx_.cases++;
}

/* Same for a generated input of a property test (not counted as a case). */
static inline void unit_input(const char *name, const void *in, size_t len)
{
	unit_ctx_.name = name;
	unit_ctx_.in = in;
	unit_ctx_.in_len = len;
}

static inline void unit_failf(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline void unit_failf(const char *file, int line, const char *fmt, ...)
{
	char msg[1024], esc[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	print_error("FAIL case \"%s\" at %s:%d: %s\n", unit_ctx_.name ? unit_ctx_.name : "?", file, line, msg);
	if (unit_ctx_.in) {
		unit_escape(esc, sizeof esc, unit_ctx_.in, unit_ctx_.in_len);
		print_error("     input (%zu octets): \"%s\"\n", unit_ctx_.in_len, esc);
	}
	unit_ctx_.fails++;
}

#define U_CHECK(cond)                                                   \
	do {                                                            \
		if (!(cond))                                            \
			unit_failf(__FILE__, __LINE__, "%s", #cond);    \
	} while (0)

#define U_EQ_INT(got, want)                                                                        \
	do {                                                                                       \
		long long g_ = (long long)(got), w_ = (long long)(want);                           \
		if (g_ != w_)                                                                      \
			unit_failf(__FILE__, __LINE__, "%s = %lld, want %lld", #got, g_, w_);      \
	} while (0)

#define U_EQ_HEX(got, want)                                                                         \
	do {                                                                                        \
		unsigned long long g_ = (unsigned long long)(got), w_ = (unsigned long long)(want); \
		if (g_ != w_)                                                                       \
			unit_failf(__FILE__, __LINE__, "%s = 0x%llx, want 0x%llx", #got, g_, w_);   \
	} while (0)

#define U_EQ_MEM(got, glen, want, wlen)                                                                  \
	do {                                                                                             \
		const char *g_ = (const char *)(got), *w_ = (const char *)(want);                        \
		size_t gl_ = (size_t)(glen), wl_ = (size_t)(wlen);                                       \
		if (gl_ != wl_ || (gl_ && memcmp(g_, w_, gl_) != 0)) {                                   \
			char ge_[400], we_[400];                                                         \
			unit_escape(ge_, sizeof ge_, g_, gl_);                                           \
			unit_escape(we_, sizeof we_, w_, wl_);                                           \
			unit_failf(__FILE__, __LINE__, "%s = \"%s\" (%zu), want \"%s\" (%zu)", #got, ge_, \
				   gl_, we_, wl_);                                                       \
		}                                                                                        \
	} while (0)

#define U_EQ_STR(got, want)                                                                      \
	do {                                                                                     \
		const char *gs_ = (got), *ws_ = (want);                                          \
		U_EQ_MEM(gs_ ? gs_ : "(null)", strlen(gs_ ? gs_ : "(null)"), ws_ ? ws_ : "(null)", \
			 strlen(ws_ ? ws_ : "(null)"));                                          \
	} while (0)

/* s contains sub (both NUL-terminated). */
#define U_CONTAINS(s, sub)                                                                           \
	do {                                                                                         \
		const char *s_ = (s), *sub_ = (sub);                                                 \
		if (!s_ || !strstr(s_, sub_)) {                                                      \
			char se_[600];                                                               \
			unit_escape(se_, sizeof se_, s_ ? s_ : "(null)", strlen(s_ ? s_ : "(null)")); \
			unit_failf(__FILE__, __LINE__, "\"%s\" does not contain \"%s\"", se_, sub_); \
		}                                                                                    \
	} while (0)

/* Turn the failures recorded so far into a cmocka test failure. */
#define UNIT_FINISH()                                                      \
	do {                                                               \
		int f_ = unit_ctx_.fails;                                  \
		unit_ctx_.fails = 0;                                       \
		unit_ctx_.name = NULL;                                     \
		unit_ctx_.in = NULL;                                       \
		if (f_)                                                    \
			fail_msg("%d check(s) failed (see above)", f_);    \
	} while (0)

/* Run fn(&table[i]) for every case, then fail the test if any check did. */
#define UNIT_RUN_TABLE(table, fn)                                   \
	do {                                                        \
		for (size_t i_ = 0; i_ < UNIT_NCASES(table); i_++)  \
			fn(&(table)[i_]);                           \
		UNIT_FINISH();                                      \
	} while (0)

/* Input of a case: in_len 0 means strlen(in). Literals with NUL bytes set
 * both with UNIT_S("a\0b"). */
#define UNIT_S(lit) .in = (lit), .in_len = sizeof(lit) - 1
static inline size_t unit_len(const char *in, size_t in_len)
{
	return in_len ? in_len : (in ? strlen(in) : 0);
}

/* Deterministic PRNG for property tests (xorshift64*, fixed seed). */
static inline uint64_t unit_rand(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* Run the group and print how many table cases were checked. */
#define UNIT_MAIN(group)                                                                      \
	do {                                                                                  \
		int rc_ = cmocka_run_group_tests(group, NULL, NULL);                          \
		printf("[ CASES    ] %lu table cases checked\n", unit_ctx_.cases);            \
		return rc_;                                                                   \
	} while (0)

#endif
