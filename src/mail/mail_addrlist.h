/*
 * mail_addrlist.h - the elements of an address-list header field (From,
 * To, Cc, Reply-To ...) as the content scanners read them: tolerant, for
 * hostile text, not a validator (mail_addr.h parses envelope addresses).
 */
#ifndef MAIL_MAIL_ADDRLIST_H
#define MAIL_MAIL_ADDRLIST_H

#include <stddef.h>

/* For each element of v (separated by ',' or ';' outside quotes, comments
 * and <...>), at most max of them, fn gets its display name (the text
 * before a '<', quotes and backslashes removed; "" when none) and its
 * address (the text inside <...>, trimmed; else the element without comments,
 * quoted strings, white space and a "group:" prefix; may be ""). Returns
 * the number of elements. */
typedef void (*mail_addrlist_fn)(void *ctx, const char *name, const char *addr);
size_t mail_addrlist(const char *v, size_t max, mail_addrlist_fn fn, void *ctx);

#endif
