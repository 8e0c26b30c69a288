/*
 * scan_rules_regex.c - the regexes of rule files compiled with PCRE2:
 * Perl's /re/flags and m{re}flags written forms (any delimiter, bracket
 * pairs nesting) and the flags i, m, s, x and n; others are ignored. Every
 * pattern is JIT-compiled when PCRE2 can (else interpreted); one too large
 * for 8-bit PCRE2 is compiled for 32-bit code units. A pattern PCRE2
 * refuses gives the reason, never an error of the load: the caller
 * disables its rule. No state.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/xalloc.h"
#include "scan/rules/scan_rules_int.h"

/* 8-bit PCRE2, JIT-compiled when it can be (else interpreted); *ec: PCRE2's error. */
static pcre2_code *compile8(const char *pat, size_t len, uint32_t opts, int *ec, char *why, size_t whylen)
{
	PCRE2_SIZE eo;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, len, opts, ec, &eo, NULL);
	if (!re) {
		PCRE2_UCHAR m[200];
		pcre2_get_error_message(*ec, m, sizeof m);
		snprintf(why, whylen, "regex refused at offset %zu: %s", (size_t)eo, (const char *)m);
		return NULL;
	}
	pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter */
	return re;
}

pcre2_code *rules_regex_raw(const char *pat, size_t len, uint32_t opts, char *why, size_t whylen)
{
	int ec;
	return compile8(pat, len, opts, &ec, why, whylen);
}

/* 32-bit code units, whose links are wider than 8-bit PCRE2's (a compiled
 * pattern there is limited to 64 KiB): each octet of pattern and subject is
 * one unit, so it matches the same octets. */
static pcre2_code_32 *compile32(const char *pat, size_t len, uint32_t opts, char *why, size_t whylen)
{
	PCRE2_UCHAR32 *w = xcalloc(len + 1, sizeof *w);
	for (size_t i = 0; i < len; i++)
		w[i] = (unsigned char)pat[i];
	int ec;
	PCRE2_SIZE eo;
	pcre2_code_32 *re = pcre2_compile_32(w, len, opts, &ec, &eo, NULL);
	xfree(w);
	if (!re) {
		PCRE2_UCHAR8 m[200];
		pcre2_get_error_message_8(ec, m, sizeof m);
		snprintf(why, whylen, "regex refused at offset %zu (32-bit units): %s", (size_t)eo, (const char *)m);
		return NULL;
	}
	pcre2_jit_compile_32(re, PCRE2_JIT_COMPLETE); /* at load, before any sandbox */
	return re;
}

int rules_regex_pattern(const char *pat, size_t len, uint32_t opts, pcre2_code **re, pcre2_code_32 **re32, char *why,
			size_t whylen)
{
	int ec;
	*re32 = NULL;
	*re = compile8(pat, len, opts, &ec, why, whylen);
	if (!*re && ec == PCRE2_ERROR_PATTERN_TOO_LARGE) /* SpamAssassin's ReplaceTags expansions */
		*re32 = compile32(pat, len, opts, why, whylen);
	return *re || *re32 ? 0 : -1;
}

pcre2_code *rules_regex_fixed(const char *pat, uint32_t opts)
{
	char why[200];
	pcre2_code *re = rules_regex_raw(pat, strlen(pat), opts, why, sizeof why);
	if (!re)
		log_err("event=rules_internal_regex pattern=\"%.60s\" why=\"%s\"", pat, why);
	return re;
}

static char closing_delim(char open)
{
	switch (open) {
	case '{':
		return '}';
	case '(':
		return ')';
	case '[':
		return ']';
	case '<':
		return '>';
	default:
		return open;
	}
}

int rules_regex(const char **pp, char **src, uint32_t *opts_out, pcre2_code **re, pcre2_code_32 **re32, char *why,
		size_t whylen)
{
	*re = NULL;
	*re32 = NULL;
	const char *p = *pp;
	if (*p == 'm' && p[1] && !(p[1] == '_' || (p[1] >= 'a' && p[1] <= 'z') || (p[1] >= 'A' && p[1] <= 'Z') ||
				   (p[1] >= '0' && p[1] <= '9') || p[1] == ' ' || p[1] == '\t'))
		p++;
	else if (*p != '/') {
		snprintf(why, whylen, "expected /regex/ or m{regex}");
		return -1;
	}
	char open = *p++, close = closing_delim(open);
	const char *start = p;
	int nest = 0;
	for (; *p; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			continue;
		}
		if (open != close && *p == open)
			nest++;
		else if (*p == close && nest-- == 0)
			break;
	}
	if (!*p) {
		snprintf(why, whylen, "unterminated regex (no closing '%c')", close);
		return -1;
	}
	size_t len = (size_t)(p - start);
	uint32_t opts = 0;
	for (p++; (*p >= 'a' && *p <= 'z'); p++) {
		if (*p == 'i')
			opts |= PCRE2_CASELESS;
		else if (*p == 'm')
			opts |= PCRE2_MULTILINE;
		else if (*p == 's')
			opts |= PCRE2_DOTALL;
		else if (*p == 'x')
			opts |= PCRE2_EXTENDED;
		else if (*p == 'n')
			opts |= PCRE2_NO_AUTO_CAPTURE;
		/* g o a u l p: meaningless here */
	}
	*pp = p;
	*src = xstrndup(start, len);
	*opts_out = opts;
	return rules_regex_pattern(start, len, opts, re, re32, why, whylen);
}
