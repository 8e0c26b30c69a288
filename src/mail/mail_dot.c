/*
 * mail_dot.c - DATA decoder / encoder.
 *
 * Decoder states (BOL = just after a real CRLF, or the start of DATA):
 *   TEXT    inside a line            CR -> CR_TEXT, LF -> bare LF (TEXT)
 *   CR_TEXT CR seen inside a line    LF -> emit CRLF, BOL; else bare CR
 *   BOL     line start               '.' -> DOT; else as TEXT
 *   DOT     BOL + '.'                CR -> DOT_CR; else drop the dot, TEXT
 *   DOT_CR  BOL + '.' + CR           LF -> END; else drop dot, bare CR
 * A bare LF moves to TEXT, never to BOL: that is the smuggling defence.
 */
#include "mail/mail_dot.h"

#include <string.h>

#include "base/buf.h"

enum { S_BOL, S_TEXT, S_CR_TEXT, S_DOT, S_DOT_CR, S_END };

void mail_dot_dec_init(struct mail_dot_dec *d)
{
	d->state = S_BOL;
	d->flags = 0;
	d->done = false;
}

size_t mail_dot_decode(struct mail_dot_dec *d, const char *in, size_t len, struct buf *out)
{
	size_t i = 0;
	buf_reserve(out, len);
	while (i < len && d->state != S_END) {
		char c = in[i];
		switch (d->state) {
		case S_TEXT: {
			/* fast path: copy the run up to the next CR or LF */
			size_t j = i;
			while (j < len && in[j] != '\r' && in[j] != '\n')
				j++;
			if (j > i) {
				buf_append(out, in + i, j - i);
				i = j;
				continue;
			}
			if (c == '\r') {
				d->state = S_CR_TEXT;
			} else { /* bare LF */
				d->flags |= MAIL_DOT_F_BARE_LF;
				buf_putc(out, '\n');
			}
			i++;
			break;
		}
		case S_CR_TEXT:
			if (c == '\n') {
				buf_append(out, "\r\n", 2);
				d->state = S_BOL;
				i++;
			} else {
				/* bare CR; reprocess c as text (it may be CR again) */
				d->flags |= MAIL_DOT_F_BARE_CR;
				buf_putc(out, '\r');
				d->state = S_TEXT;
			}
			break;
		case S_BOL:
			if (c == '.') {
				d->state = S_DOT;
				i++;
			} else {
				d->state = S_TEXT;
			}
			break;
		case S_DOT:
			if (c == '\r') {
				d->state = S_DOT_CR;
				i++;
			} else {
				/* stuffed dot: drop it, the rest of the line is text */
				d->state = S_TEXT;
			}
			break;
		case S_DOT_CR:
			if (c == '\n') {
				d->state = S_END;
				d->done = true;
				i++;
			} else {
				/* "." CR x: the dot is dropped, the CR is bare */
				d->flags |= MAIL_DOT_F_BARE_CR;
				buf_putc(out, '\r');
				d->state = S_TEXT;
			}
			break;
		}
	}
	return i;
}

void mail_dot_enc_init(struct mail_dot_enc *e)
{
	e->bol = true;
}

void mail_dot_encode(struct mail_dot_enc *e, const char *in, size_t len, struct buf *out)
{
	size_t i = 0;
	buf_reserve(out, len + len / 64 + 8);
	while (i < len) {
		if (e->bol && in[i] == '.')
			buf_putc(out, '.');
		const char *nl = memchr(in + i, '\n', len - i);
		size_t j = nl ? (size_t)(nl - in) + 1 : len;
		buf_append(out, in + i, j - i);
		e->bol = nl != NULL;
		i = j;
	}
}

void mail_dot_encode_end(struct mail_dot_enc *e, struct buf *out)
{
	if (!e->bol)
		buf_append(out, "\r\n", 2);
	buf_append(out, ".\r\n", 3);
	e->bol = true;
}
