/*
 * ctl_queue.c - the queue tools: "mxgate queue list|show|flush|hold|release|
 * delete|requeue|status", "mxgate reload", and the mailq-style listing when
 * called as "mailq" (a symlink to mxgate).
 *
 * They speak to the running daemon through its control socket (protocol:
 * admin/admin_ctl.h), which applies every change on its loop thread. When no
 * daemon runs (no socket, or nobody listening on it) list and show read the
 * spool themselves through the same code (admin_queue_list, admin_queue_show);
 * changing commands refuse, since only the daemon may move its files while
 * it could be using them. Exit statuses: ctl.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin/admin_ctl.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/fsutil.h"
#include "base/ids.h"
#include "base/xalloc.h"
#include "conf/conf.h"
#include "ctl/ctl.h"
#include "ctl/ctl_int.h"
#include "queue/queue_store.h"

#define ANSWER_MAX (256u * 1024 * 1024) /* octets of one answer (a list of ADMIN_CTL_LIST_MAX messages fits) */
#define ANSWER_TIMEOUT_MS 60000

int ctl_queue_request(const struct conf *c, json_t *req, json_t **ans, char *err, size_t errlen)
{
	*ans = NULL;
	if (!c->control_socket[0]) {
		snprintf(err, errlen, "mxgate is not reachable: control_socket is empty");
		return -1;
	}
	int fd = admin_ctl_connect(c->control_socket);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT || e == ECONNREFUSED) {
			snprintf(err, errlen, "mxgate is not running (no control socket at %s)", c->control_socket);
			return -1;
		}
		snprintf(err, errlen, "cannot connect to the control socket %s: %s", c->control_socket, strerror(e));
		return -2;
	}
	char *line = json_dumps(req, JSON_COMPACT);
	struct buf in;
	buf_init(&in);
	int rc = -2;
	if (!line || fs_write_all(fd, line, strlen(line)) < 0 || fs_write_all(fd, "\n", 1) < 0) {
		snprintf(err, errlen, "control socket %s: %s", c->control_socket, strerror(errno));
		goto out;
	}
	int64_t end = clock_mono_us() + (int64_t)ANSWER_TIMEOUT_MS * 1000;
	while (!memchr(in.data ? in.data : "", '\n', in.len)) {
		int left = (int)((end - clock_mono_us()) / 1000);
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (left <= 0 || poll(&p, 1, left) <= 0) {
			snprintf(err, errlen, "control socket %s: no answer within %d s", c->control_socket,
				 ANSWER_TIMEOUT_MS / 1000);
			goto out;
		}
		char b[65536];
		ssize_t n = read(fd, b, sizeof b);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || in.len + (size_t)n > ANSWER_MAX) {
			snprintf(err, errlen, "control socket %s: %s", c->control_socket,
				 n < 0 ? strerror(errno) : n == 0 ? "closed without an answer" : "answer too large");
			goto out;
		}
		buf_append(&in, b, (size_t)n);
	}
	json_error_t je;
	*ans = json_loadb(in.data, in.len, JSON_DISABLE_EOF_CHECK, &je);
	if (!json_is_object(*ans)) {
		json_decref(*ans);
		*ans = NULL;
		snprintf(err, errlen, "control socket %s: bad answer: %s", c->control_socket, je.text);
		goto out;
	}
	rc = 0;
out:
	free(line);
	buf_fini(&in);
	close(fd);
	return rc;
}

/* --- text output --- */

static const char *sget(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static long long iget(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static void fmt_age(long long s, char *out, size_t n)
{
	if (s < 0)
		s = 0;
	if (s < 120)
		snprintf(out, n, "%llds", s);
	else if (s < 7200)
		snprintf(out, n, "%lldm", s / 60);
	else if (s < 172800)
		snprintf(out, n, "%lldh", s / 3600);
	else
		snprintf(out, n, "%lldd", s / 86400);
}

static void fmt_time(long long t, char *out, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;
	localtime_r(&tt, &tm);
	strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm);
}

/* One line per message: id state age size <sender> -> recipients; next attempt; last error. */
static void print_list_line(json_t *m)
{
	char age[32];
	if (json_object_get(m, "error")) {
		printf("%s %-10s %8lld (unreadable: %s)\n", sget(m, "id"), sget(m, "state"), iget(m, "size"),
		       sget(m, "error"));
		return;
	}
	fmt_age(iget(m, "age"), age, sizeof age);
	printf("%s%s %-10s %5s %8lld <%s> ->", sget(m, "id"), json_is_true(json_object_get(m, "active")) ? "*" : "",
	       sget(m, "state"), age, iget(m, "size"), sget(m, "sender"));
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(m, "recipients"), i, r)
		printf("%s <%s> %s", i ? "," : "", sget(r, "address"), sget(r, "status"));
	json_t *next = json_object_get(m, "next_attempt");
	if (json_is_integer(next)) {
		long long in = json_integer_value(next) - clock_now_s();
		char t[64];
		fmt_time(json_integer_value(next), t, sizeof t);
		if (in > 0)
			printf("; next attempt %s (in %llds)", t, in);
		else
			printf("; next attempt now");
	}
	if (json_is_string(json_object_get(m, "verdict")))
		printf("; verdict %s", sget(m, "verdict"));
	if (json_is_string(json_object_get(m, "last_error")))
		printf("; last error \"%s\"", sget(m, "last_error"));
	printf("\n");
}

/* Postfix's mailq: Queue ID (* active, ! held), size, arrival, sender; each pending recipient below
 * its last reply; a total. Quarantined originals are not part of the mail queue. */
static void print_mailq(json_t *msgs)
{
	size_t i, n = 0;
	long long bytes = 0;
	json_t *m;
	json_array_foreach(msgs, i, m)
	{
		if (json_object_get(m, "error"))
			continue;
		if (n++ == 0)
			printf("-Queue ID-        --Size-- ----Arrival Time---- -Sender/Recipient-------\n");
		bytes += iget(m, "size");
		char id[32], when[64];
		const char *st = sget(m, "state");
		snprintf(id, sizeof id, "%s%s", sget(m, "id"),
			 json_is_true(json_object_get(m, "active")) ? "*" : strcmp(st, "hold") == 0 ? "!" : "");
		time_t t = (time_t)iget(m, "arrival");
		struct tm tm;
		localtime_r(&t, &tm);
		strftime(when, sizeof when, "%a %b %e %H:%M:%S", &tm);
		const char *sender = sget(m, "sender");
		printf("%-17s %8lld %-20.20s %s\n", id, iget(m, "size"), when, sender[0] ? sender : "MAILER-DAEMON");
		size_t k;
		json_t *r;
		const char *shown = NULL;
		json_array_foreach(json_object_get(m, "recipients"), k, r)
		{
			if (strcmp(sget(r, "status"), "pending") != 0)
				continue;
			const char *reply = json_string_value(json_object_get(r, "reply"));
			if (reply && (!shown || strcmp(shown, reply) != 0)) {
				printf("(%s)\n", reply);
				shown = reply;
			}
			printf("%48s%s\n", "", sget(r, "address"));
		}
		printf("\n");
	}
	if (n == 0)
		printf("Mail queue is empty\n");
	else
		printf("-- %lld Kbytes in %zu Request%s.\n", (bytes + 1023) / 1024, n, n == 1 ? "" : "s");
}

static void print_show(json_t *m)
{
	char t[64], age[32];
	fmt_time(iget(m, "arrival"), t, sizeof t);
	fmt_age(iget(m, "age"), age, sizeof age);
	printf("id: %s\nstate: %s%s\narrival: %s (%s ago)\nsize: %lld (content %lld)\nsender: <%s>\n", sget(m, "id"),
	       sget(m, "state"), json_is_true(json_object_get(m, "active")) ? " (work in flight)" : "", t, age,
	       iget(m, "size"), iget(m, "body_size"), sget(m, "sender"));
	printf("client: %s [%s] helo=%s protocol=%s\n", sget(m, "client_name"), sget(m, "client_addr"), sget(m, "helo"),
	       sget(m, "protocol"));
	if (json_is_string(json_object_get(m, "envid")))
		printf("envid: %s\n", sget(m, "envid"));
	size_t i;
	json_t *v;
	if (json_array_size(json_object_get(m, "flags"))) {
		printf("flags:");
		json_array_foreach(json_object_get(m, "flags"), i, v)
			printf(" %s", json_string_value(v));
		printf("\n");
	}
	json_t *next = json_object_get(m, "next_attempt");
	if (json_is_integer(next)) {
		fmt_time(json_integer_value(next), t, sizeof t);
		printf("next attempt: %s\n", t);
	}
	printf("verdict: %s\n", json_is_string(json_object_get(m, "verdict")) ? sget(m, "verdict") : "(not scanned)");
	if (json_is_string(json_object_get(m, "scan")))
		printf("scan: %s\n", sget(m, "scan"));
	printf("scan attempts without a verdict: %lld\n", iget(m, "scan_attempts"));
	if (json_is_integer(json_object_get(m, "delay_notice"))) {
		fmt_time(iget(m, "delay_notice"), t, sizeof t);
		printf("delay notice sent: %s\n", t);
	}
	printf("recipients:\n");
	json_array_foreach(json_object_get(m, "recipients"), i, v)
	{
		printf("  <%s> %s", sget(v, "address"), sget(v, "status"));
		if (json_is_string(json_object_get(v, "reply")))
			printf(" (%s)", sget(v, "reply"));
		if (json_is_string(json_object_get(v, "orcpt")))
			printf(" orcpt=%s", sget(v, "orcpt"));
		if (json_is_string(json_object_get(v, "route")))
			printf(" mailer=%s", sget(v, "route"));
		printf("\n");
	}
	printf("history (the queue file's status records; the log has every attempt):\n");
	json_array_foreach(json_object_get(m, "history"), i, v)
	{
		if (json_is_integer(json_object_get(v, "when"))) {
			fmt_time(iget(v, "when"), t, sizeof t);
			printf("  %s ", t);
		} else {
			printf("  %19s ", "");
		}
		printf("%s", sget(v, "event"));
		if (json_is_string(json_object_get(v, "recipient")))
			printf(" <%s>", sget(v, "recipient"));
		if (json_is_string(json_object_get(v, "reply")))
			printf(" (%s)", sget(v, "reply"));
		printf("\n");
	}
	printf("headers:\n%s", sget(m, "headers"));
}

static void print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2));
	if (s)
		printf("%s\n", s);
	free(s);
}

/* --- commands --- */

enum { OUT_TEXT, OUT_JSON, OUT_MAILQ };

/* list and show: through the daemon when it runs, else from the spool. */
static int read_only(const struct conf *c, json_t *req, int out)
{
	json_t *ans = NULL;
	char err[600];
	int rc = ctl_queue_request(c, req, &ans, err, sizeof err);
	if (rc == -2) {
		fprintf(stderr, "mxgate: %s\n", err);
		return CTL_EXIT_NOT_RUNNING;
	}
	bool show = strcmp(sget(req, "cmd"), "show") == 0;
	if (rc == -1) {
		/* no daemon: the same listing from the spool */
		struct queue_store *qs = queue_store_open(c->queue_directory, (uid_t)-1, (gid_t)-1, err, sizeof err);
		if (!qs) {
			fprintf(stderr, "mxgate: %s\n", err);
			return CTL_EXIT_REFUSED;
		}
		ans = json_object();
		if (show) {
			json_t *m = admin_queue_show(qs, NULL, sget(req, "id"), err, sizeof err);
			json_object_set_new(ans, "ok", json_boolean(m != NULL));
			json_object_set_new(ans, m ? "message" : "msg", m ? m : json_string(err));
		} else {
			json_t *st = json_object_get(req, "state");
			struct admin_queue_filter f = {
				.state = st ? admin_ctl_state(json_string_value(st)) : -1,
				.domain = json_string_value(json_object_get(req, "domain")),
				.sender = json_string_value(json_object_get(req, "sender")),
			};
			bool trunc;
			json_object_set_new(ans, "ok", json_true());
			json_object_set_new(ans, "messages", admin_queue_list(qs, NULL, &f, ADMIN_CTL_LIST_MAX, &trunc));
			json_object_set_new(ans, "truncated", json_boolean(trunc));
		}
		queue_store_close(&qs);
	}
	if (!json_is_true(json_object_get(ans, "ok"))) {
		fprintf(stderr, "mxgate: %s\n", sget(ans, "msg"));
		json_decref(ans);
		return CTL_EXIT_REFUSED;
	}
	json_t *data = json_object_get(ans, show ? "message" : "messages");
	if (out == OUT_JSON) {
		print_json(data);
	} else if (show) {
		print_show(data);
	} else if (out == OUT_MAILQ) {
		print_mailq(data);
	} else {
		size_t i;
		json_t *m;
		json_array_foreach(data, i, m)
			print_list_line(m);
		size_t n = json_array_size(data);
		printf("-- %zu message%s%s\n", n, n == 1 ? "" : "s",
		       json_is_true(json_object_get(ans, "truncated")) ? " (truncated)" : "");
	}
	json_decref(ans);
	return CTL_EXIT_OK;
}

/* Changing commands and status: only through the daemon. */
static int changing(const struct conf *c, json_t *req, bool json)
{
	json_t *ans = NULL;
	char err[600];
	if (ctl_queue_request(c, req, &ans, err, sizeof err) < 0) {
		fprintf(stderr, "mxgate: %s: %s\n", sget(req, "cmd"), err);
		return CTL_EXIT_NOT_RUNNING;
	}
	bool ok = json_is_true(json_object_get(ans, "ok"));
	if (json) {
		print_json(ans);
	} else {
		const char *msg = sget(ans, "msg");
		fprintf(ok ? stdout : stderr, "mxgate: %s\n", msg);
		size_t i;
		json_t *v;
		json_array_foreach(json_object_get(ans, "refused"), i, v)
			fprintf(stderr, "mxgate: %s\n", json_string_value(v));
		if (strcmp(sget(req, "cmd"), "status") == 0 && ok) {
			printf("pid %lld, up %llds, version %s\nqueue:", iget(ans, "pid"), iget(ans, "uptime"),
			       sget(ans, "version"));
			const char *k;
			json_object_foreach(json_object_get(ans, "queue"), k, v)
				printf(" %s=%lld", k, (long long)json_integer_value(v));
			printf("\nactive=%lld processing=%lld\n", iget(ans, "active"), iget(ans, "processing"));
		}
	}
	json_decref(ans);
	return ok ? CTL_EXIT_OK : CTL_EXIT_REFUSED;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: mxgate queue [-c FILE] list [--state input|output|deferred|hold|quarantine|corrupt] [--domain D]\n"
		"                                  [--sender S] [--json]\n"
		"       mxgate queue [-c FILE] show ID [--json]\n"
		"       mxgate queue [-c FILE] flush [ID | --domain D]\n"
		"       mxgate queue [-c FILE] hold ID | release ID | requeue ID\n"
		"       mxgate queue [-c FILE] delete ID | --state STATE --domain D\n"
		"       mxgate queue [-c FILE] status [--json]\n"
		"       mxgate reload [-c FILE]\n"
		"       mailq [-c FILE]      (mxgate called as mailq: a Postfix-style listing)\n");
	return CTL_EXIT_USAGE;
}

int ctl_queue(const struct conf *c, const char *const *args, size_t nargs, bool as_mailq)
{
	const char *sub = as_mailq ? "list" : nargs ? args[0] : NULL;
	if (!sub)
		return usage();
	if (admin_ctl_cmd_find(sub, NULL, NULL) < 0) {
		fprintf(stderr, "mxgate: queue: unknown command \"%s\"\n", sub);
		return usage();
	}
	json_t *req = json_object();
	json_object_set_new(req, "cmd", json_string(sub));
	bool json = false;
	int rc = CTL_EXIT_USAGE;
	for (size_t i = as_mailq ? 0 : 1; i < nargs; i++) {
		const char *a = args[i];
		const char *key = strcmp(a, "--state") == 0 ? "state" : strcmp(a, "--domain") == 0 ? "domain"
								   : strcmp(a, "--sender") == 0 ? "sender" : NULL;
		if (key && i + 1 < nargs && !json_object_get(req, key)) {
			json_object_set_new(req, key, ctl_json_z(args[++i]));
		} else if (strcmp(a, "--json") == 0 && !as_mailq) {
			json = true;
		} else if (a[0] != '-' && !json_object_get(req, "id")) {
			if (!ids_queue_valid(a)) {
				fprintf(stderr, "mxgate: \"%s\" is not a queue id\n", a);
				goto out;
			}
			json_object_set_new(req, "id", json_string(a));
		} else {
			fprintf(stderr, "mxgate: queue %s: unexpected argument \"%s\"\n", sub, a);
			goto out;
		}
	}
	/* the daemon checks the request too; checking here gives the same message without one */
	char *line = json_dumps(req, JSON_COMPACT);
	struct admin_ctl_req r;
	char err[300];
	int bad = admin_ctl_req_parse(line, strlen(line), &r, err, sizeof err);
	free(line);
	if (bad < 0) {
		fprintf(stderr, "mxgate: queue %s: %s\n", sub, err);
		goto out;
	}
	if (r.cmd == ADMIN_CTL_LIST || r.cmd == ADMIN_CTL_SHOW)
		rc = read_only(c, req, json ? OUT_JSON : as_mailq ? OUT_MAILQ : OUT_TEXT);
	else
		rc = changing(c, req, json);
out:
	json_decref(req);
	return rc;
}
