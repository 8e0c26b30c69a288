/*
 * mail_body.h - line checks on message content as it streams in.
 *
 * Shared by DATA (after the dot decoder) and BDAT: counts octets, finds the
 * longest line, bare CR / bare LF, the end of the header section and the
 * number of Received: header fields (the hop count, RFC 5321 6.3).
 * Never buffers the message: constant memory.
 */
#ifndef MAIL_MAIL_BODY_H
#define MAIL_MAIL_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAIL_BODY_F_BARE_LF 0x1
#define MAIL_BODY_F_BARE_CR 0x2
#define MAIL_BODY_F_LONG_LINE 0x4 /* a line over max_line octets incl. CRLF */
#define MAIL_BODY_F_8BIT 0x8	  /* an octet >= 0x80 */
#define MAIL_BODY_F_NUL 0x10

struct mail_body_check {
	size_t max_line;   /* limit incl. CRLF; 0 = none */
	uint64_t octets;
	size_t line_len;   /* current line, octets so far */
	size_t longest;
	unsigned flags;
	bool in_header;
	bool bol;
	bool prev_cr;
	unsigned received; /* Received: fields in the header section */
	uint64_t header_octets;
	char name[10];	   /* start of the current header line, to match "Received:" */
	size_t name_len;
	bool name_done;
};

void mail_body_check_init(struct mail_body_check *c, size_t max_line);
void mail_body_check_feed(struct mail_body_check *c, const char *p, size_t n);

#endif
