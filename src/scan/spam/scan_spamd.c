/*
 * scan_spamd.c - the spamd back end: SpamAssassin's spamd, protocol
 * SPAMC/1.5, command SYMBOLS, and the parser of its replies. The client
 * part (address, size skip, connection, error logs) is scan_spam_daemon.c.
 *
 * Request:  "SYMBOLS SPAMC/1.5\r\nContent-length: N\r\n\r\n" + message,
 *           then our write side is shut down.
 * Reply:    "SPAMD/1.1 0 EX_OK\r\n" headers ("Spam: True ; 7.2 / 5.0",
 *           "Content-length: N") "\r\n" then the matched rule names,
 *           comma-separated. A code other than 0 (EX_USAGE 64, EX_DATAERR
 *           65, EX_PROTOCOL 76, ...) is an error; so is a reply with no
 *           Spam: header. Replies are read to the close, at most
 *           SCAN_SPAM_REPLY_MAX bytes. No User: header (spamd -x / global
 *           configuration).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/buf.h"
#include "base/str.h"
#include "scan/scan_sock.h"
#include "scan/spam/scan_spam_int.h"

#define LINE_MAX_SHOWN 120

/* One line of r[*pos..len), without its CRLF/LF; *ll its length; NULL at the end. */
static const char *next_line(const char *r, size_t len, size_t *pos, size_t *ll)
{
	if (*pos >= len)
		return NULL;
	const char *s = r + *pos;
	const char *nl = memchr(s, '\n', len - *pos);
	size_t n = nl ? (size_t)(nl - s) : len - *pos;
	*pos += n + (nl != NULL);
	*ll = n > 0 && s[n - 1] == '\r' ? n - 1 : n;
	return s;
}

static int bad(struct scan_spam_res *res, const char *what, const char *l, size_t ll)
{
	int n = ll > LINE_MAX_SHOWN ? LINE_MAX_SHOWN : (int)ll;
	snprintf(res->err, sizeof res->err, "spamd: %s \"%.*s\"", what, n, l);
	str_sanitize(res->err);
	return -1;
}

/* "SPAMD/1.1 0 EX_OK" */
static int parse_status(const char *l, size_t ll, struct scan_spam_res *res)
{
	char tmp[200];
	str_ncopy(tmp, sizeof tmp, l, ll);
	char *sp = strchr(tmp, ' ');
	if (strncmp(tmp, "SPAMD/1.", 8) != 0 || !sp)
		return bad(res, "not a SPAMD reply:", l, ll);
	char *end;
	long code = strtol(sp + 1, &end, 10);
	if (end == sp + 1 || (*end != ' ' && *end != '\0'))
		return bad(res, "bad status line", l, ll);
	if (code != 0)
		return bad(res, "error", l, ll);
	return 0;
}

/* The value of "Spam: True ; 7.2 / 5.0". */
static int parse_spam_value(const char *l, size_t ll, struct scan_spam_res *res)
{
	char tmp[200];
	str_ncopy(tmp, sizeof tmp, l, ll);
	char *v = tmp + 5, *semi = strchr(v, ';');
	if (!semi)
		return bad(res, "bad Spam header", l, ll);
	*semi = '\0';
	str_trim(v);
	if (str_caseeq(v, "True") || str_caseeq(v, "Yes"))
		res->is_spam = true;
	else if (str_caseeq(v, "False") || str_caseeq(v, "No"))
		res->is_spam = false;
	else
		return bad(res, "bad Spam header", l, ll);
	char *end;
	res->score = strtod(semi + 1, &end);
	while (*end == ' ')
		end++;
	if (end == semi + 1 || *end != '/')
		return bad(res, "bad Spam header", l, ll);
	char *num = end + 1;
	res->required = strtod(num, &end);
	if (end == num || *str_trim(end) != '\0')
		return bad(res, "bad Spam header", l, ll);
	return 0;
}

static void parse_symbols(const char *s, size_t n, struct scan_spam_res *res)
{
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && s[j] != ',' && s[j] != '\r' && s[j] != '\n')
			j++;
		size_t a = i, b = j;
		while (a < b && s[a] == ' ')
			a++;
		while (b > a && s[b - 1] == ' ')
			b--;
		scan_spam_res_add_symbol(res, s + a, b - a);
		i = j + 1;
	}
	scan_spam_res_sort(res);
}

int scan_spamd_parse(const char *reply, size_t len, struct scan_spam_res *res)
{
	size_t pos = 0, ll;
	const char *l = next_line(reply, len, &pos, &ll);
	if (!l)
		return bad(res, "empty reply", "", 0);
	if (parse_status(l, ll, res) < 0)
		return -1;
	bool have_spam = false;
	while ((l = next_line(reply, len, &pos, &ll)) && ll > 0) {
		if (ll >= 5 && str_ncaseeq(l, 5, "Spam:")) {
			if (parse_spam_value(l, ll, res) < 0)
				return -1;
			have_spam = true;
		}
	}
	if (!have_spam)
		return bad(res, "no Spam header in reply", reply, len);
	if (pos < len)
		parse_symbols(reply + pos, len - pos, res);
	return 0;
}

static int spamd_exchange(int fd, const char *addr, const struct scan_spam_req *q, int64_t deadline,
			  struct scan_spam_res *res)
{
	char err[200], hdr[128];
	int hl = snprintf(hdr, sizeof hdr, "SYMBOLS SPAMC/1.5\r\nContent-length: %zu\r\n\r\n", q->len);
	struct buf r;
	buf_init(&r);
	int rc = -1;
	if (scan_sock_send(fd, hdr, (size_t)hl, deadline, err, sizeof err) == 0 &&
	    scan_sock_send(fd, q->data, q->len, deadline, err, sizeof err) == 0) {
		shutdown(fd, SHUT_WR);
		rc = scan_sock_recv_all(fd, &r, SCAN_SPAM_REPLY_MAX, deadline, err, sizeof err);
	}
	if (rc < 0)
		snprintf(res->err, sizeof res->err, "spamd %s: %s", addr, err);
	else
		rc = scan_spamd_parse(r.data ? r.data : "", r.len, res);
	buf_fini(&r);
	return rc;
}

static void *spamd_open(const char *spec, const struct scan_spam_opts *o, char *err, size_t errlen)
{
	return scan_spam_daemon_open("spamd", spamd_exchange, spec, o, err, errlen);
}

const struct scan_spam_backend scan_spamd_backend = {
	.name = "spamd",
	.spec = "spamd:",
	.open = spamd_open,
	.check = scan_spam_daemon_check,
	.describe = scan_spam_daemon_describe,
	.close = scan_spam_daemon_close,
};
