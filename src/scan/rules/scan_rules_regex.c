/*
 * scan_rules_regex.c - the regexes of rule files compiled with PCRE2:
 * Perl's /re/flags and m{re}flags written forms (any delimiter, bracket
 * pairs nesting) and the flags i, m, s, x and n; others are ignored. Every
 * pattern is JIT-compiled when PCRE2 can (else interpreted). A pattern
 * PCRE2 refuses gives NULL and the reason, never an error of the load:
 * the caller disables its rule. No state.
 */
#include <stdint.h>
#include <stdio.h>

#include "base/log.h"
#include "base/xalloc.h"
#include "scan/rules/scan_rules_int.h"

pcre2_code *rules_regex_raw(const char *pat, size_t len, uint32_t opts, char *why, size_t whylen)
{
	int ec;
	PCRE2_SIZE eo;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, len, opts, &ec, &eo, NULL);
	if (!re) {
		PCRE2_UCHAR m[200];
		pcre2_get_error_message(ec, m, sizeof m);
		snprintf(why, whylen, "regex refused at offset %zu: %s", (size_t)eo, (const char *)m);
		return NULL;
	}
	pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter */
	return re;
}

pcre2_code_32 *rules_regex_wide(const char *pat, size_t len, uint32_t opts, char *why, size_t whylen)
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

pcre2_code *rules_regex_fixed(const char *pat, uint32_t opts)
{
	int ec;
	PCRE2_SIZE eo;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, opts, &ec, &eo, NULL);
	if (!re)
		log_err("event=rules_internal_regex offset=%zu pattern=\"%.60s\"", (size_t)eo, pat);
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

pcre2_code *rules_regex(const char **pp, char *why, size_t whylen, char **src, uint32_t *opts_out)
{
	const char *p = *pp;
	if (*p == 'm' && p[1] && !(p[1] == '_' || (p[1] >= 'a' && p[1] <= 'z') || (p[1] >= 'A' && p[1] <= 'Z') ||
				   (p[1] >= '0' && p[1] <= '9') || p[1] == ' ' || p[1] == '\t'))
		p++;
	else if (*p != '/') {
		snprintf(why, whylen, "expected /regex/ or m{regex}");
		return NULL;
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
		return NULL;
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
	if (src)
		*src = xstrndup(start, len);
	if (opts_out)
		*opts_out = opts;
	return rules_regex_raw(start, len, opts, why, whylen);
}
