/*
 * mail_edit.h - an edit list: how a message changes, as splices on its
 * original bytes.
 *
 * An edit replaces raw[off, off + len) by text (len 0: an insertion; an
 * empty text: a deletion). A well-formed list is sorted by off, its edits
 * do not overlap (an insertion may sit at the end of the previous range)
 * and none reaches past the message. The scanner processes describe what
 * they change (a Subject tag, result headers, a part replaced) this way;
 * the gateway checks the list (the scanner is not trusted) and applies it
 * to the queued message without parsing the message itself.
 */
#ifndef MAIL_MAIL_EDIT_H
#define MAIL_MAIL_EDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

struct mail_edit {
	uint64_t off, len; /* the range of the original replaced */
	char *text;	   /* owned; its bytes (may hold NULs) */
	size_t tlen;
};

struct mail_edits {
	struct mail_edit *v; /* owned */
	size_t n, cap;
};

#define MAIL_EDITS_MAX 10000 /* edits in one list (mail_edits_check) */

void mail_edits_init(struct mail_edits *e);
void mail_edits_fini(struct mail_edits *e);
/* Append an edit (the text is copied). Adding at the offset where the
 * previous edit ends, with that edit an insertion there too, merges them
 * (the texts in order); callers add in ascending order. */
void mail_edits_add(struct mail_edits *e, uint64_t off, uint64_t len, const char *text, size_t tlen);
/* Move every edit of src to the end of dst (src is left empty). */
void mail_edits_move(struct mail_edits *dst, struct mail_edits *src);
/* 0 when e is well formed for a message of msg_len octets and yields at
 * most max_out octets; else -1 with the reason in err. */
int mail_edits_check(const struct mail_edits *e, uint64_t msg_len, uint64_t max_out, char *err, size_t errlen);
/* The length of the edited message (e checked). */
uint64_t mail_edits_result_len(const struct mail_edits *e, uint64_t msg_len);
/* Append raw[0..len) with the edits applied to out (e checked for len). */
void mail_edits_apply(const struct mail_edits *e, const char *raw, size_t len, struct buf *out);

#endif
