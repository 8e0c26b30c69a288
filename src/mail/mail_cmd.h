/*
 * mail_cmd.h - SMTP command lines and ESMTP parameters (RFC 5321 4.1,
 * RFC 1870 SIZE, RFC 6152 8BITMIME, RFC 6531 SMTPUTF8, RFC 3461 DSN,
 * RFC 3030 BDAT).
 *
 * Pure parsing: the caller gives one command line without its CRLF and
 * gets the verb, the argument and, for MAIL/RCPT, the address and the
 * decoded parameters. Every rejection carries the reply to send, so the
 * SMTP engine does not invent texts.
 */
#ifndef MAIL_MAIL_CMD_H
#define MAIL_MAIL_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mail/mail_addr.h"
#include "mail/mail_reply.h"

enum mail_verb {
	MAIL_V_UNKNOWN = 0,
	MAIL_V_HELO,
	MAIL_V_EHLO,
	MAIL_V_MAIL,
	MAIL_V_RCPT,
	MAIL_V_DATA,
	MAIL_V_BDAT,
	MAIL_V_RSET,
	MAIL_V_NOOP,
	MAIL_V_QUIT,
	MAIL_V_VRFY,
	MAIL_V_EXPN,
	MAIL_V_HELP,
	MAIL_V_STARTTLS,
	MAIL_V_AUTH,
	MAIL_V_ETRN,
	MAIL_V_TURN,
	MAIL_V_HTTP, /* "GET", "POST", ...: a web client, disconnect at once */
	MAIL_V_COUNT
};

struct mail_cmd {
	enum mail_verb verb;
	const char *arg; /* points into the line: after the verb and one space */
	size_t arg_len;
};

/* Identify the verb (case-insensitive). Never fails: unknown verbs give
 * MAIL_V_UNKNOWN. For MAIL and RCPT, arg starts after "FROM:" / "TO:"
 * (verb is MAIL_V_UNKNOWN if that keyword is missing). */
void mail_cmd_parse(const char *line, size_t len, struct mail_cmd *out);
const char *mail_verb_name(enum mail_verb v);

/* ESMTP parameter list "KEY=VALUE KEY ...". */
#define MAIL_PARAMS_MAX 16
struct mail_param {
	const char *key;
	size_t klen;
	const char *val; /* NULL when no "=" */
	size_t vlen;
};
/* Returns the number of parameters, or -1 on syntax error, -2 when more
 * than max are given. */
int mail_params_parse(const char *s, size_t len, struct mail_param *out, int max);

enum mail_body_type { MAIL_BODY_NONE = 0, MAIL_BODY_7BIT, MAIL_BODY_8BITMIME, MAIL_BODY_BINARYMIME };
enum mail_ret { MAIL_RET_NONE = 0, MAIL_RET_FULL, MAIL_RET_HDRS };
#define MAIL_NOTIFY_NEVER 0x1
#define MAIL_NOTIFY_SUCCESS 0x2
#define MAIL_NOTIFY_FAILURE 0x4
#define MAIL_NOTIFY_DELAY 0x8

#define MAIL_ENVID_MAX 100   /* RFC 3461 4.4 */
#define MAIL_ORCPT_MAX 500   /* RFC 3461 4.2 */

/* What the server offers; decides which parameters are accepted. */
struct mail_ext {
	bool size, eightbit, smtputf8, dsn, chunking, binarymime;
	uint64_t size_limit; /* 0 = none */
};

struct mail_from {
	struct mail_addr addr;
	uint64_t size;	/* SIZE=, 0 if not given */
	enum mail_body_type body;
	bool smtputf8;
	enum mail_ret ret;
	char envid[MAIL_ENVID_MAX + 1]; /* xtext as received (still encoded) */
	bool has_envid;
};

struct mail_rcpt_to {
	struct mail_addr addr;
	unsigned notify; /* MAIL_NOTIFY_*, 0 = not given */
	char orcpt[MAIL_ORCPT_MAX + 1]; /* "rfc822;xtext" as received */
	bool has_orcpt;
};

/* Parse "FROM:" argument (after the colon). On failure returns false with
 * the reply (501/552/553/555) in *err. */
bool mail_cmd_mail_from(const char *arg, size_t len, const struct mail_ext *ext, bool strict,
			struct mail_from *out, struct mail_reply *err);
/* Parse "TO:" argument. utf8: SMTPUTF8 was given on MAIL. */
bool mail_cmd_rcpt_to(const char *arg, size_t len, const struct mail_ext *ext, bool utf8, bool strict,
		      struct mail_rcpt_to *out, struct mail_reply *err);
/* Parse the BDAT argument "SIZE [LAST]". */
bool mail_cmd_bdat(const char *arg, size_t len, uint64_t *size_out, bool *last_out, struct mail_reply *err);
/* Reply for an address parse error (is_sender picks 5.1.7 vs 5.1.3). */
void mail_cmd_addr_error(enum mail_addr_err e, bool is_sender, struct mail_reply *err);

#endif
