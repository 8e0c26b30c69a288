/*
 * mail_dot.h - the DATA codec: end-of-data detection and dot-stuffing
 * (RFC 5321 4.1.1.4 and 4.5.2), hardened against SMTP smuggling.
 *
 * Decoder: DATA ends only on <CRLF>.<CRLF>, where the first CRLF is a real
 * CR LF pair (or the start of DATA). A bare LF or bare CR never starts a
 * line for this purpose, so "<LF>.<LF>", "<LF>.<CRLF>" and "<CRLF>.<LF>"
 * are ordinary content; they are flagged so that the message is rejected
 * (as Postfix's smtpd_forbid_bare_newline) and a second message can never
 * be smuggled through. The decoded output keeps every CR and LF byte; only
 * the stuffed leading dots and the final ".CRLF" are removed.
 *
 * Encoder: the reverse for sending; input must be the spool's CRLF text.
 */
#ifndef MAIL_MAIL_DOT_H
#define MAIL_MAIL_DOT_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

#define MAIL_DOT_F_BARE_LF 0x1
#define MAIL_DOT_F_BARE_CR 0x2

struct mail_dot_dec {
	int state;
	unsigned flags; /* MAIL_DOT_F_* seen so far */
	bool done;
};

void mail_dot_dec_init(struct mail_dot_dec *d);
/* Decode in[0..len) appending to out. Stops right after the terminating
 * CRLF.CRLF (sets d->done); returns the number of input bytes consumed
 * (the rest belongs to the next command). */
size_t mail_dot_decode(struct mail_dot_dec *d, const char *in, size_t len, struct buf *out);

struct mail_dot_enc {
	bool bol; /* at the beginning of a line */
};
void mail_dot_enc_init(struct mail_dot_enc *e);
/* Dot-stuff in[0..len) into out. */
void mail_dot_encode(struct mail_dot_enc *e, const char *in, size_t len, struct buf *out);
/* Finish: a CRLF if the text did not end with one, then ".\r\n". */
void mail_dot_encode_end(struct mail_dot_enc *e, struct buf *out);

#endif
