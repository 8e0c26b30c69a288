/*
 * mail_addr.h - RFC 5321 envelope addresses (Path, Mailbox), RFC 6531 UTF-8.
 *
 * The parser is strict about structure and lengths and lenient only where
 * Postfix is by default (strict_rfc821_envelopes = no): a space after the
 * colon, and a bare address without angle brackets. Source routes
 * (<@a,@b:u@c>) are accepted and discarded (RFC 5321 4.1.1.3, C.): the
 * mailbox u@c is what counts, so a route can never be used to relay.
 * The local part is kept exactly as received (quotes included) so it is
 * forwarded unchanged; it is never reinterpreted (no % hack, no ! paths).
 */
#ifndef MAIL_MAIL_ADDR_H
#define MAIL_MAIL_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#define MAIL_LOCAL_MAX 64    /* octets, RFC 5321 4.5.3.1.1 */
#define MAIL_DOMAIN_MAX 255  /* octets, 4.5.3.1.2 */
#define MAIL_PATH_MAX 256    /* octets incl. "<" ">", 4.5.3.1.3 */

struct mail_addr {
	bool null;	/* "<>" */
	bool route;	/* a source route was present (and dropped) */
	bool utf8;	/* contains non-ASCII octets */
	bool literal;	/* domain is an address literal [..] */
	char local[MAIL_LOCAL_MAX + 1];
	char domain[MAIL_DOMAIN_MAX + 1]; /* "" for <> and <postmaster> */
};

enum mail_addr_err {
	MAIL_ADDR_OK = 0,
	MAIL_ADDR_SYNTAX,	/* 501 5.1.3 (RCPT) / 5.1.7 (MAIL) */
	MAIL_ADDR_TOO_LONG,	/* 501 5.1.3 */
	MAIL_ADDR_NEED_UTF8,	/* 553 5.6.7: non-ASCII without SMTPUTF8 */
	MAIL_ADDR_NO_DOMAIN,	/* 501 5.1.3: local part only */
	MAIL_ADDR_NULL_NOT_OK,	/* 501 5.1.3: <> where not allowed */
};

#define MAIL_ADDR_F_NULL_OK 0x1	   /* "<>" allowed (MAIL FROM) */
#define MAIL_ADDR_F_UTF8 0x2	   /* SMTPUTF8 in effect */
#define MAIL_ADDR_F_POSTMASTER 0x4 /* "<postmaster>" without domain ok (RCPT) */
#define MAIL_ADDR_F_STRICT 0x8	   /* angle brackets required, no extra space */

/*
 * Parse the address at s[0..len): "<...>" (or a bare address unless
 * STRICT). *consumed is set to the number of bytes used (the caller parses
 * ESMTP parameters after it, separated by a space).
 */
enum mail_addr_err mail_addr_parse(const char *s, size_t len, unsigned flags, struct mail_addr *out,
				   size_t *consumed);
/* Parse a whole string that must be one address (no parameters), e.g. from a
 * map file or ORCPT; brackets optional. */
enum mail_addr_err mail_addr_parse_str(const char *s, unsigned flags, struct mail_addr *out);
/* "local@domain", "local" (postmaster) or "" for <>. Needs size >=
 * MAIL_PATH_MAX. */
void mail_addr_format(const struct mail_addr *a, char *out, size_t size);
/* Text for an error (for replies and logs). */
const char *mail_addr_strerror(enum mail_addr_err e);
/* Validate a domain (hostname labels or an address literal). utf8 allows
 * U-labels (well-formed UTF-8). Returns true if valid. */
bool mail_domain_valid(const char *d, size_t len, bool utf8);
/* Well-formed UTF-8 (no overlongs, no surrogates)? */
bool mail_utf8_valid(const char *s, size_t len);
/* Length (1..4) of the well-formed UTF-8 sequence at s[0..len): no overlong
 * forms, surrogates or code points above U+10FFFF; 0 if there is none. */
size_t mail_utf8_seq(const char *s, size_t len);

#endif
