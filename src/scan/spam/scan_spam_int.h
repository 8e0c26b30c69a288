/*
 * scan_spam_int.h - private to spam/: the back ends the table of
 * scan_spam.c lists, and the client part spamd and rspamd share
 * (scan_spam_daemon.c): the address, the size skip, the connection with
 * its deadline and the error logs. Each daemon back end adds only its
 * protocol, run on the connected socket. Not for other folders.
 */
#ifndef SCAN_SPAM_SCAN_SPAM_INT_H
#define SCAN_SPAM_SCAN_SPAM_INT_H

#include <stdint.h>

#include "scan/spam/scan_spam.h"

extern const struct scan_spam_backend scan_spam_builtin_backend; /* scan_spam_builtin.c */
extern const struct scan_spam_backend scan_spamd_backend;	 /* scan_spamd.c */
extern const struct scan_spam_backend scan_rspamd_backend;	 /* scan_rspamd.c */

/* One exchange on the connected fd (closed by the caller), addr naming
 * the daemon in errors, until the deadline (clock_mono_us): 0 with a
 * verdict, or -1 with res->err set. */
typedef int (*scan_spam_proto_fn)(int fd, const char *addr, const struct scan_spam_req *q, int64_t deadline,
				  struct scan_spam_res *res);

/* open() of a daemon back end called name ("spamd"): spec is "name:ADDR"
 * with ADDR as scan_sock.h has it. */
void *scan_spam_daemon_open(const char *name, scan_spam_proto_fn proto, const char *spec,
			    const struct scan_spam_opts *o, char *err, size_t errlen);
/* check(), describe() and close() of both daemon back ends. */
int scan_spam_daemon_check(void *state, const struct scan_spam_req *q, struct scan_spam_res *res);
void scan_spam_daemon_describe(const void *state, struct buf *out);
void scan_spam_daemon_close(void *state);

#endif
