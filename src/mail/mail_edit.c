/*
 * mail_edit.c - edit lists (mail_edit.h): building, checking, applying.
 *
 * Pure, no I/O. mail_edits_check() is what makes a list from a scanner
 * process safe to apply: after it, every range lies inside the message
 * and the output length is bounded, so mail_edits_apply() cannot read or
 * write out of bounds whatever the list said.
 */
#include "mail/mail_edit.h"

#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/xalloc.h"

void mail_edits_init(struct mail_edits *e)
{
	memset(e, 0, sizeof *e);
}

void mail_edits_fini(struct mail_edits *e)
{
	for (size_t i = 0; i < e->n; i++)
		xfree(e->v[i].text);
	xfree(e->v);
	memset(e, 0, sizeof *e);
}

void mail_edits_add(struct mail_edits *e, uint64_t off, uint64_t len, const char *text, size_t tlen)
{
	if (e->n && len == 0) {
		struct mail_edit *last = &e->v[e->n - 1];
		if (last->off + last->len == off) {
			/* at the end of the previous edit: one edit, the texts in order */
			last->text = xrealloc(last->text, last->tlen + tlen + 1);
			memcpy(last->text + last->tlen, text, tlen);
			last->tlen += tlen;
			last->text[last->tlen] = '\0';
			return;
		}
	}
	e->v = xgrow(e->v, &e->cap, e->n + 1, sizeof *e->v);
	struct mail_edit *x = &e->v[e->n++];
	x->off = off;
	x->len = len;
	x->text = xmalloc(tlen + 1);
	if (tlen)
		memcpy(x->text, text, tlen);
	x->text[tlen] = '\0';
	x->tlen = tlen;
}

void mail_edits_move(struct mail_edits *dst, struct mail_edits *src)
{
	for (size_t i = 0; i < src->n; i++) {
		dst->v = xgrow(dst->v, &dst->cap, dst->n + 1, sizeof *dst->v);
		dst->v[dst->n++] = src->v[i];
	}
	xfree(src->v);
	memset(src, 0, sizeof *src);
}

int mail_edits_check(const struct mail_edits *e, uint64_t msg_len, uint64_t max_out, char *err, size_t errlen)
{
	if (e->n > MAIL_EDITS_MAX) {
		snprintf(err, errlen, "%zu edits (at most %d)", e->n, MAIL_EDITS_MAX);
		return -1;
	}
	uint64_t pos = 0, out = 0;
	for (size_t i = 0; i < e->n; i++) {
		const struct mail_edit *x = &e->v[i];
		if (x->off < pos || x->off > msg_len || x->len > msg_len - x->off) {
			snprintf(err, errlen, "edit %zu (offset %llu, length %llu) is out of order or outside the %llu octets", i,
				 (unsigned long long)x->off, (unsigned long long)x->len, (unsigned long long)msg_len);
			return -1;
		}
		out += (x->off - pos) + x->tlen;
		if (out > max_out) {
			snprintf(err, errlen, "the edited message would exceed %llu octets", (unsigned long long)max_out);
			return -1;
		}
		pos = x->off + x->len;
	}
	if (out + (msg_len - pos) > max_out) {
		snprintf(err, errlen, "the edited message would exceed %llu octets", (unsigned long long)max_out);
		return -1;
	}
	return 0;
}

uint64_t mail_edits_result_len(const struct mail_edits *e, uint64_t msg_len)
{
	uint64_t n = msg_len;
	for (size_t i = 0; i < e->n; i++)
		n = n - e->v[i].len + e->v[i].tlen;
	return n;
}

void mail_edits_apply(const struct mail_edits *e, const char *raw, size_t len, struct buf *out)
{
	buf_reserve(out, (size_t)mail_edits_result_len(e, len));
	size_t pos = 0;
	for (size_t i = 0; i < e->n; i++) {
		const struct mail_edit *x = &e->v[i];
		buf_append(out, raw + pos, (size_t)x->off - pos);
		buf_append(out, x->text, x->tlen);
		pos = (size_t)(x->off + x->len);
	}
	buf_append(out, raw + pos, len - pos);
}
