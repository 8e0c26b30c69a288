/*
 * mail_xtext.h - RFC 3461 section 4 "xtext" (ENVID, ORCPT) encode/decode.
 */
#ifndef MAIL_MAIL_XTEXT_H
#define MAIL_MAIL_XTEXT_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

/* Is s[0..len) valid xtext (printable ASCII except '+' and '=', or "+XX"
 * with uppercase hex)? */
bool mail_xtext_valid(const char *s, size_t len);
/* Decode valid xtext; returns -1 if invalid. Output is NUL-terminated. */
int mail_xtext_decode(const char *s, size_t len, struct buf *out);
/* Encode arbitrary bytes as xtext. */
void mail_xtext_encode(const char *s, size_t len, struct buf *out);

#endif
