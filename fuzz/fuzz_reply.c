/*
 * fuzz_reply.c - libFuzzer target for replies from SMTP servers
 * (mail/mail_reply.c: mail_reply_parser_line), the parser that reads what
 * a next hop says: as hostile as any client.
 *
 * Input: the bytes a server might send; split into lines at LF (a CR before
 * it removed, as the client does). Checks: a complete reply has a code in
 * 200..599 equal to its first line's, NUL-terminated text, an enhanced code
 * that is empty or valid and of the same class; a syntax error resets the
 * parser (the next reply parses from scratch); at most
 * MAIL_REPLY_MAX_LINES lines make one reply.
 */
#include <string.h>

#include "base/buf.h"
#include "fuzz.h"
#include "mail/mail_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mail_reply_parser p;
	mail_reply_parser_init(&p);
	const char *s = (const char *)data, *end = s + size;
	int lines = 0;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t len = nl ? (size_t)(nl - s) : (size_t)(end - s);
		size_t l = len && s[len - 1] == '\r' ? len - 1 : len;
		struct mail_reply r;
		memset(&r, 0xAA, sizeof r);
		int rc = mail_reply_parser_line(&p, s, l, &r);
		FUZZ_CHECK(rc >= -1 && rc <= 1);
		if (rc < 0) {
			/* the caller drops the connection; a fresh parser starts over */
			mail_reply_parser_init(&p);
			lines = 0;
		} else if (rc == 0) {
			lines++;
			FUZZ_CHECK(lines <= MAIL_REPLY_MAX_LINES);
		} else {
			FUZZ_CHECK(r.code >= 200 && r.code <= 599);
			FUZZ_CHECK(l >= 3 && r.code == (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0'));
			FUZZ_CHECK(memchr(r.text, '\0', sizeof r.text) != NULL);
			FUZZ_CHECK(memchr(r.enh, '\0', sizeof r.enh) != NULL);
			if (r.enh[0]) {
				FUZZ_CHECK(mail_reply_enh_valid(r.enh, strlen(r.enh)));
				FUZZ_CHECK(r.enh[0] == (char)('0' + r.code / 100));
			}
			/* what we would log or put in a bounce stays one line */
			char t[MAIL_REPLY_TEXT_MAX + 32];
			mail_reply_str(&r, t, sizeof t);
			FUZZ_CHECK(strchr(t, '\n') == NULL && strchr(t, '\r') == NULL);
			lines = 0;
		}
		s += nl ? len + 1 : len;
	}
	return 0;
}
