/*
 * ctl_json.c - JSON strings for the commands' --json output (jansson):
 * whatever the bytes (8-bit header fields, alias files in another charset),
 * the output is valid JSON.
 */
#include "ctl/ctl_int.h"

#include <string.h>

#include "base/buf.h"
#include "mail/mail_addr.h"

/* A JSON string of s[0..n): invalid UTF-8 octets (8-bit headers in another charset) and NULs
 * become U+FFFD, as JSON needs valid Unicode. */
json_t *ctl_json_str(const char *s, size_t n)
{
	struct buf b;
	buf_init(&b);
	for (size_t i = 0; i < n;) {
		size_t k = s[i] ? mail_utf8_seq(s + i, n - i) : 0;
		if (k) {
			buf_append(&b, s + i, k);
			i += k;
		} else {
			buf_puts(&b, "\xef\xbf\xbd");
			i++;
		}
	}
	json_t *j = json_stringn(b.data ? b.data : "", b.len);
	buf_fini(&b);
	return j ? j : json_string("");
}

json_t *ctl_json_z(const char *s)
{
	return ctl_json_str(s ? s : "", s ? strlen(s) : 0);
}

