/*
 * fuzz_addr.c - libFuzzer target for envelope addresses (mail/mail_addr.c).
 *
 * The input is parsed with every combination of the four MAIL_ADDR_F_*
 * flags. Invariants: consumed <= len; an accepted address has
 * NUL-terminated local part and domain within the RFC 5321 limits that
 * agree with the flags; formatting an accepted non-null address and
 * parsing it again (mail_addr_parse_str) gives the same mailbox.
 * mail_utf8_valid is compared with an independent table-driven check
 * (Unicode 3.0 Table 3-7).
 */
#include <stdbool.h>
#include <string.h>

#include "base/str.h"
#include "fuzz.h"
#include "mail/mail_addr.h"

/* Well-formed UTF-8 byte sequences, Unicode Standard Table 3-7. */
static bool ref_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = s[i];
		unsigned char lo = 0x80, hi = 0xbf;
		size_t k;
		if (c <= 0x7f) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			k = 1;
		} else if (c == 0xe0) {
			k = 2, lo = 0xa0;
		} else if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) {
			k = 2;
		} else if (c == 0xed) {
			k = 2, hi = 0x9f;
		} else if (c == 0xf0) {
			k = 3, lo = 0x90;
		} else if (c >= 0xf1 && c <= 0xf3) {
			k = 3;
		} else if (c == 0xf4) {
			k = 3, hi = 0x8f;
		} else {
			return false;
		}
		if (n - i <= k)
			return false;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t j = 2; j <= k; j++) {
			if (s[i + j] < 0x80 || s[i + j] > 0xbf)
				return false;
		}
		i += k + 1;
	}
	return true;
}

static bool ascii(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s >= 0x80)
			return false;
	}
	return true;
}

static void check_one(const char *s, size_t len, unsigned flags)
{
	struct mail_addr a;
	size_t used = (size_t)-1;
	enum mail_addr_err e = mail_addr_parse(s, len, flags, &a, &used);
	FUZZ_CHECK(e >= MAIL_ADDR_OK && e <= MAIL_ADDR_NULL_NOT_OK);
	FUZZ_CHECK(mail_addr_strerror(e)[0] != '\0');
	if (e != MAIL_ADDR_OK)
		return;
	FUZZ_CHECK(used <= len && used > 0);
	FUZZ_CHECK(memchr(a.local, '\0', sizeof a.local) != NULL);
	FUZZ_CHECK(memchr(a.domain, '\0', sizeof a.domain) != NULL);
	size_t ll = strlen(a.local), dl = strlen(a.domain);
	FUZZ_CHECK(ll <= MAIL_LOCAL_MAX && dl <= MAIL_DOMAIN_MAX);
	if (flags & MAIL_ADDR_F_STRICT)
		FUZZ_CHECK(s[0] == '<' && s[used - 1] == '>');
	if (a.null) {
		FUZZ_CHECK(flags & MAIL_ADDR_F_NULL_OK);
		FUZZ_CHECK(ll == 0 && dl == 0 && !a.route && !a.utf8 && !a.literal);
		return;
	}
	FUZZ_CHECK(ll > 0);
	if (dl == 0) {
		FUZZ_CHECK(flags & MAIL_ADDR_F_POSTMASTER);
		FUZZ_CHECK(str_caseeq(a.local, "postmaster"));
	} else {
		FUZZ_CHECK(mail_domain_valid(a.domain, dl, flags & MAIL_ADDR_F_UTF8));
		FUZZ_CHECK(a.literal == (a.domain[0] == '['));
	}
	FUZZ_CHECK(a.utf8 == !(ascii(a.local) && ascii(a.domain)));
	if (a.utf8) {
		FUZZ_CHECK(flags & MAIL_ADDR_F_UTF8);
		FUZZ_CHECK(mail_utf8_valid(a.local, ll) && mail_utf8_valid(a.domain, dl));
	}
	/* the stored address fits in a path and re-parses to the same mailbox */
	char out[MAIL_PATH_MAX];
	mail_addr_format(&a, out, sizeof out);
	FUZZ_CHECK(strlen(out) == ll + (dl ? dl + 1 : 0));
	struct mail_addr b;
	enum mail_addr_err e2 = mail_addr_parse_str(out, flags, &b);
	if (e2 != MAIL_ADDR_OK)
		fprintf(stderr, "re-parse of \"%s\" failed: %s\n", out, mail_addr_strerror(e2));
	FUZZ_CHECK(e2 == MAIL_ADDR_OK);
	FUZZ_CHECK(strcmp(a.local, b.local) == 0 && strcmp(a.domain, b.domain) == 0);
	FUZZ_CHECK(a.utf8 == b.utf8 && a.literal == b.literal && !b.null && !b.route);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	for (unsigned flags = 0; flags < 16; flags++)
		check_one(s, size, flags);

	FUZZ_CHECK(mail_utf8_valid(s, size) == ref_utf8(data, size));
	bool d8 = mail_domain_valid(s, size, true), d7 = mail_domain_valid(s, size, false);
	if (d7)
		FUZZ_CHECK(d8); /* allowing U-labels never rejects more */
	if (d8 || d7)
		FUZZ_CHECK(size > 0 && size <= MAIL_DOMAIN_MAX && memchr(s, '\0', size) == NULL);

	/* whole-string form: the input up to its first NUL */
	if (size < 1024) {
		char tmp[1024];
		memcpy(tmp, data, size);
		tmp[size] = '\0';
		struct mail_addr a;
		for (unsigned flags = 0; flags < 16; flags++) {
			if (mail_addr_parse_str(tmp, flags, &a) == MAIL_ADDR_OK)
				FUZZ_CHECK(strlen(a.local) <= MAIL_LOCAL_MAX);
		}
	}
	return 0;
}
