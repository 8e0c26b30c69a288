/*
 * scan_spam_daemon.c - what the spamd and rspamd back ends share (see
 * scan_spam_int.h): the address checked once at open, the size skip
 * (logged, nothing sent), one connection per message under one deadline,
 * and the spam_error log line. The protocol on the socket is the back
 * end's (scan_spamd.c, scan_rspamd.c). The state is read-only after open:
 * any number of threads may check at once.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "scan/scan_sock.h"
#include "scan/spam/scan_spam_int.h"

struct daemon {
	const char *name; /* "spamd", "rspamd" */
	scan_spam_proto_fn proto;
	char *spec;	  /* owned: "spamd:127.0.0.1:783" (logs, describe) */
	const char *addr; /* into spec, after "name:" */
	int timeout_ms;
	size_t max_size;
};

void *scan_spam_daemon_open(const char *name, scan_spam_proto_fn proto, const char *spec,
			    const struct scan_spam_opts *o, char *err, size_t errlen)
{
	const char *addr = spec + strlen(name) + 1;
	if (scan_sock_addr_ok(addr, err, errlen) < 0)
		return NULL;
	struct daemon *d = xcalloc(1, sizeof *d);
	d->name = name;
	d->proto = proto;
	d->spec = xstrdup(spec);
	d->addr = d->spec + (addr - spec);
	d->timeout_ms = o->timeout_ms;
	d->max_size = o->max_size ? o->max_size : SCAN_SPAM_MAX_SIZE;
	return d;
}

int scan_spam_daemon_check(void *state, const struct scan_spam_req *q, struct scan_spam_res *res)
{
	const struct daemon *d = state;
	memset(res, 0, sizeof *res);
	if (q->len > d->max_size) {
		res->skipped_size = true;
		log_info("queue=%s event=spam_skipped_size scanner=%s size=%zu max_size=%zu", q->qid ? q->qid : "-",
			 d->spec, q->len, d->max_size);
		return 0;
	}
	char err[200];
	int64_t deadline = scan_sock_deadline(d->timeout_ms);
	int fd = scan_sock_connect(d->addr, deadline, err, sizeof err);
	if (fd < 0) {
		snprintf(res->err, sizeof res->err, "%s %s", d->name, err);
		log_warn("queue=%s event=spam_error scanner=%s error=%s", q->qid ? q->qid : "-", d->spec,
			 LOG_Q(res->err));
		return -1;
	}
	int rc = d->proto(fd, d->addr, q, deadline, res);
	close(fd);
	if (rc < 0)
		log_warn("queue=%s event=spam_error scanner=%s error=%s", q->qid ? q->qid : "-", d->spec,
			 LOG_Q(res->err));
	return rc;
}

void scan_spam_daemon_describe(const void *state, struct buf *out)
{
	const struct daemon *d = state;
	buf_printf(out, "\"%s\"", d->spec);
}

void scan_spam_daemon_close(void *state)
{
	struct daemon *d = state;
	xfree(d->spec);
	xfree(d);
}
