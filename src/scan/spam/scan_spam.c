/*
 * scan_spamc.c - the spam-daemon front: the spec, the size skip, the result
 * (see scan_spamc.h). The protocols are scan_spamd.c and scan_rspamd.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "scan/scan_sock.h"
#include "scan/spam/scan_spam.h"

enum spam_kind { SPAM_NONE, SPAM_SPAMD, SPAM_RSPAMD };

/* The daemon kind of spec, *addr pointing after "kind:". */
static enum spam_kind parse_spec(const char *spec, const char **addr, char *err, size_t errlen)
{
	enum spam_kind k = SPAM_NONE;
	if (strncmp(spec, "spamd:", 6) == 0) {
		k = SPAM_SPAMD;
		*addr = spec + 6;
	} else if (strncmp(spec, "rspamd:", 7) == 0) {
		k = SPAM_RSPAMD;
		*addr = spec + 7;
	} else {
		snprintf(err, errlen, "spam scanner \"%s\": want spamd:host:port, spamd:unix:/path, "
				      "rspamd:host:port or rspamd:unix:/path", spec);
		return SPAM_NONE;
	}
	if (scan_sock_addr_ok(*addr, err, errlen) < 0)
		return SPAM_NONE;
	return k;
}

int scan_spamc_spec_ok(const char *spec, char *err, size_t errlen)
{
	const char *addr;
	return parse_spec(spec, &addr, err, errlen) == SPAM_NONE ? -1 : 0;
}

int scan_spamc_check(const char *spec, const struct scan_spam_req *q, int timeout_ms, size_t max_size,
		     struct scan_spam_res *res)
{
	memset(res, 0, sizeof *res);
	const char *addr = NULL;
	enum spam_kind k = parse_spec(spec, &addr, res->err, sizeof res->err);
	if (k == SPAM_NONE)
		return -1;
	if (max_size == 0)
		max_size = SCAN_SPAM_MAX_SIZE;
	if (q->len > max_size) {
		res->skipped_size = true;
		log_info("queue=%s event=spam_skipped_size scanner=%s size=%zu max_size=%zu", q->qid ? q->qid : "-", spec,
			 q->len, max_size);
		return 0;
	}
	char err[200];
	int64_t deadline = scan_sock_deadline(timeout_ms);
	int fd = scan_sock_connect(addr, deadline, err, sizeof err);
	if (fd < 0) {
		snprintf(res->err, sizeof res->err, "%s %s", k == SPAM_SPAMD ? "spamd" : "rspamd", err);
		log_warn("queue=%s event=spam_error scanner=%s error=%s", q->qid ? q->qid : "-", spec, LOG_Q(res->err));
		return -1;
	}
	int rc = k == SPAM_SPAMD ? scan_spamd_check(fd, addr, q, deadline, res)
				 : scan_rspamd_check(fd, addr, q, deadline, res);
	close(fd);
	if (rc < 0)
		log_warn("queue=%s event=spam_error scanner=%s error=%s", q->qid ? q->qid : "-", spec, LOG_Q(res->err));
	return rc;
}

void scan_spam_res_add_symbol(struct scan_spam_res *res, const char *s, size_t n)
{
	if (res->nsymbols >= SCAN_SPAM_MAX_SYMBOLS || n == 0)
		return;
	if (str_has_ctl(s, n))
		return; /* not a rule name: a broken reply */
	if ((res->nsymbols & (res->nsymbols - 1)) == 0) /* 0, 1, 2, 4...: grow to the next power of two */
		res->symbols = xrealloc(res->symbols, (res->nsymbols ? res->nsymbols * 2 : 1) * sizeof *res->symbols);
	res->symbols[res->nsymbols++] = xstrndup(s, n);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void scan_spam_res_sort(struct scan_spam_res *res)
{
	if (res->nsymbols > 1)
		qsort(res->symbols, res->nsymbols, sizeof *res->symbols, cmp_str);
}

void scan_spam_res_fini(struct scan_spam_res *res)
{
	for (size_t i = 0; i < res->nsymbols; i++)
		xfree(res->symbols[i]);
	xfree(res->symbols);
	res->symbols = NULL;
	res->nsymbols = 0;
}
