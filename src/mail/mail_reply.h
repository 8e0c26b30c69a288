/*
 * mail_reply.h - SMTP replies: the one type every outcome is expressed in.
 *
 * The SMTP answer to a client and the text of a bounce come from the same
 * struct mail_reply (STYLE "Errors"). Multi-line texts use '\n' between
 * lines; the formatter turns them into "250-..." continuation lines.
 */
#ifndef MAIL_MAIL_REPLY_H
#define MAIL_MAIL_REPLY_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

enum mail_status { MAIL_OK, MAIL_TEMPFAIL, MAIL_PERMFAIL };

#define MAIL_REPLY_TEXT_MAX 512
#define MAIL_REPLY_MAX_LINES 256 /* a longer reply from a server is an error */

struct mail_reply {
	int code;      /* 211..554 */
	char enh[16];  /* "2.1.0" or "" */
	char text[MAIL_REPLY_TEXT_MAX];
};

void mail_reply_set(struct mail_reply *r, int code, const char *enh, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
enum mail_status mail_reply_status(const struct mail_reply *r);
/* Append the wire form ("250 2.1.0 Ok\r\n", or "250-..." lines). The
 * enhanced code is written only when enhanced is true and enh is set. */
void mail_reply_format(const struct mail_reply *r, bool enhanced, struct buf *out);
/* One-line summary for logs and bounces: "550 5.1.1 No such user". */
void mail_reply_str(const struct mail_reply *r, char *out, size_t size);
/* Default enhanced code for a basic code's class ("2.0.0", "4.0.0", "5.0.0"). */
const char *mail_reply_default_enh(int code);
/* Valid enhanced status code "c.sss.ddd" (RFC 3463 syntax)? */
bool mail_reply_enh_valid(const char *s, size_t len);

/*
 * Incremental parser for replies received from a server (deliver side).
 * Feed one line at a time, without CRLF. Returns 1 when the reply is
 * complete (out is filled: code, enh from the first line if present, and
 * the text of all lines joined with '\n', truncated to fit), 0 when more
 * lines are needed, -1 on a syntax error (not a reply).
 */
struct mail_reply_parser {
	int code;
	int lines;
	size_t tlen;
	bool got_enh;
	struct mail_reply cur;
};
void mail_reply_parser_init(struct mail_reply_parser *p);
int mail_reply_parser_line(struct mail_reply_parser *p, const char *line, size_t len, struct mail_reply *out);

#endif
