/*
 * scan_access.h - an access map in sendmail's access db text form.
 *
 * Lines "Tag:key value"; '#' comments and blank lines are skipped; tags
 * and keys are case-insensitive. Tags and keys:
 *   Connect:192.0.2.7          one IPv4 address
 *   Connect:192.0.2            sendmail's octet prefix (1 to 3 octets)
 *   Connect:192.0.2.0/24       CIDR (IPv6 too: Connect:2001:db8::/32)
 *   Connect:[IPv6:2001:db8::1] Connect:IPv6:2001:db8::1  one IPv6 address
 *   From:user@example.org  From:user@  From:example.org  From:<>
 *   To:user@example.org    To:user@    To:example.org
 * A domain matches itself and its subdomains. Values: OK or SPAM; any
 * other value is a load error "file:line: ...". The first of duplicated
 * keys wins (the others are logged).
 *
 * Lookup order, as sendmail's: an address is tried whole, then "user@",
 * then its domain and each parent domain; a client address from the most
 * specific entry (exact, then the longest prefix) to the least. Between
 * the checks, the first match wins in this order: the recipients (in
 * order, so "To:abuse@... OK" always reaches abuse and spam traps always
 * count), then the client, then the sender.
 * Limits: SCAN_ACCESS_FILE_MAX octets per file, keys of MAIL_PATH_MAX.
 */
#ifndef SCAN_SCAN_ACCESS_H
#define SCAN_SCAN_ACCESS_H

#include <stddef.h>

#include "net/net_addr.h"

#define SCAN_ACCESS_FILE_MAX (64 * 1024 * 1024)

struct scan_access;

enum scan_access_verdict { SCAN_ACCESS_NONE, SCAN_ACCESS_OK, SCAN_ACCESS_SPAM };

struct scan_access_match {
	enum scan_access_verdict verdict;
	const char *entry; /* the key as written ("Connect:192.0.2"), valid while the map lives */
	int line;	   /* in the file, 0 when none matched */
};

/* NULL with "file:line: reason" (or "file: reason") in err. */
struct scan_access *scan_access_load(const char *path, char *err, size_t errlen);
/* The same from text in memory (name is used in messages). */
struct scan_access *scan_access_parse(const char *name, const char *text, char *err, size_t errlen);
void scan_access_free(struct scan_access **a);
size_t scan_access_count(const struct scan_access *a);

/* client may be NULL; sender "" is the null sender <>; rcpts[0..n). */
enum scan_access_verdict scan_access_check(const struct scan_access *a, const struct net_addr *client,
					   const char *sender, const char *const *rcpts, size_t n,
					   struct scan_access_match *out);

const char *scan_access_verdict_str(enum scan_access_verdict v);

#endif
