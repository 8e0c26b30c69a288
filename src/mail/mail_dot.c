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

#include <stdint.h>
#include <string.h>

#include "base/buf.h"

enum { S_BOL, S_TEXT, S_CR_TEXT, S_DOT, S_DOT_CR, S_END };

void mail_dot_dec_init(struct mail_dot_dec *d)
{
	d->state = S_BOL;
	d->flags = 0;
	d->done = false;
}

#define CR_UNKNOWN SIZE_MAX

/* Fast path for TEXT: copy complete "text CRLF" lines in one append, as long
 * as the next line does not start with a dot. Stops before anything the state
 * machine must see (bare CR or LF, a CR at the end of the input, a line
 * starting with '.'); *cr caches the next CR's offset (len: none; CR_UNKNOWN
 * before the first search) so a bare-LF flood costs O(len), not
 * O(len * lines). Returns the new offset and state. */
static size_t text_run(const char *in, size_t i, size_t len, size_t *cr, int *state, struct buf *out)
{
	size_t start = i;
	for (;;) {
		if (*cr == CR_UNKNOWN || *cr < i) {
			const char *p = memchr(in + i, '\r', len - i);
			*cr = p ? (size_t)(p - in) : len;
		}
		const char *lf = memchr(in + i, '\n', *cr - i);
		if (lf) { /* a bare LF first: the state machine takes it */
			i = (size_t)(lf - in);
			break;
		}
		if (*cr >= len - 1 || in[*cr + 1] != '\n') { /* no CR, a CR at the end, or a bare CR */
			i = *cr;
			break;
		}
		i = *cr + 2; /* a whole line */
		if (i == len || in[i] == '.') {
			buf_append(out, in + start, i - start);
			*state = S_BOL;
			return i;
		}
	}
	buf_append(out, in + start, i - start);
	return i;
}

size_t mail_dot_decode(struct mail_dot_dec *d, const char *in, size_t len, struct buf *out)
{
	size_t i = 0, cr = CR_UNKNOWN;
	buf_reserve(out, len);
	while (i < len && d->state != S_END) {
		char c = in[i];
		switch (d->state) {
		case S_TEXT: {
			int st = S_TEXT;
			size_t j = text_run(in, i, len, &cr, &st, out);
			if (j > i || st != S_TEXT) {
				i = j;
				d->state = st;
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
		/* one append up to the next line that starts with a dot (or the end) */
		size_t j = i;
		for (;;) {
			const char *nl = memchr(in + j, '\n', len - j);
			e->bol = nl != NULL;
			j = nl ? (size_t)(nl - in) + 1 : len;
			if (j == len || in[j] == '.')
				break;
		}
		buf_append(out, in + i, j - i);
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
