/*
 * admin_queue.c - the queue as the administrator sees it: the JSON listing
 * and detail of queued messages (admin_ctl.h), built from the spool files
 * whether the daemon answers (with what its scheduler knows: due times,
 * work in flight) or the queue tools read the spool themselves, and the
 * text of a scan verdict.
 *
 * Reads files only; every change goes through gw_queue_op() (gw.h, over
 * queue_sched_op()) on the loop thread (docs/QUEUE.md "Queue operations").
 */
#include "admin/admin_ctl.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/fsutil.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "mail/mail_addr.h"
#include "mail/mail_env.h"
#include "mail/mail_reply.h"
#include "queue/queue_file.h"
#include "queue/queue_sched.h"
#include "queue/queue_store.h"
#include "scan/scan.h"

#define STATUS_REGION_MAX (4 * 1024 * 1024) /* status records read for the history */

void admin_queue_verdict(const struct scan_report *r, struct buf *out)
{
	buf_puts(out, scan_cat_name(r->cat));
	for (size_t i = 0; i < r->nvirus; i++)
		buf_printf(out, "%s%s", i ? ", " : ": ", r->virus[i].name);
	if (r->spam_scanned)
		buf_printf(out, " score=%.2f/%.2f", r->score, r->required);
	if (r->ndnsbl)
		buf_printf(out, " dnsbl_weight=%d", r->dnsbl_weight);
}

static json_t *jstr(const char *s)
{
	return json_string(s); /* our own ASCII names */
}

/* Strings from the spool may carry any octet (8-bit headers in another
 * charset, alias files): invalid UTF-8 and NULs become U+FFFD, so the
 * answer is always valid JSON. */
json_t *admin_json_str(const char *s, size_t n)
{
	struct buf b;
	buf_init(&b);
	for (size_t i = 0; i < n;) {
		size_t k = s[i] ? mail_utf8_seq(s + i, n - i) : 0;
		if (k) {
			buf_append(&b, s + i, k);
			i += k;
		} else {
			buf_puts(&b, "\xef\xbf\xbd");
			i++;
		}
	}
	json_t *j = json_stringn(b.data ? b.data : "", b.len);
	buf_fini(&b);
	return j ? j : json_string("");
}

static json_t *jtext(const char *s, size_t n)
{
	return admin_json_str(s, n);
}

static json_t *jz(const char *s)
{
	return s ? jtext(s, strlen(s)) : json_null();
}

static const char *rcpt_status(enum mail_rcpt_state st)
{
	return st == MAIL_RCPT_DELIVERED ? "delivered" : st == MAIL_RCPT_FAILED ? "failed" : "pending";
}

static json_t *reply_json(const struct mail_rcpt *r)
{
	if (!r->has_reply)
		return json_null();
	char t[MAIL_REPLY_TEXT_MAX + 32];
	mail_reply_str(&r->reply, t, sizeof t);
	return jz(t);
}

/* The recipients, with their status and last reply (detail: ORCPT, NOTIFY,
 * mailer, time); *last: the latest temporary failure of a pending one. */
static json_t *rcpts_json(const struct mail_env *env, bool detail, const struct mail_rcpt **last)
{
	json_t *rs = json_array();
	*last = NULL;
	for (size_t i = 0; i < env->nrcpt; i++) {
		const struct mail_rcpt *r = &env->rcpt[i];
		json_t *ro = json_object();
		json_object_set_new(ro, "address", jz(r->addr));
		json_object_set_new(ro, "status", jstr(rcpt_status(r->state)));
		json_object_set_new(ro, "reply", reply_json(r));
		if (detail) {
			json_object_set_new(ro, "orcpt", jz(r->orcpt));
			json_object_set_new(ro, "notify", json_integer(r->notify));
			json_object_set_new(ro, "route", jz(r->route));
			json_object_set_new(ro, "when", r->when_us ? json_integer(r->when_us / 1000000) : json_null());
		}
		json_array_append_new(rs, ro);
		if (r->state == MAIL_RCPT_PENDING && r->has_reply && r->reply.code >= 400 &&
		    (!*last || r->when_us > (*last)->when_us))
			*last = r;
	}
	return rs;
}

/* The recorded scan verdict as text, or null. */
static json_t *verdict_json(const struct mail_env *env)
{
	json_t *verdict = json_null();
	if (!env->scan)
		return verdict;
	struct scan_report rep;
	scan_report_init(&rep);
	if (scan_report_decode(env->scan, &rep) == 0) {
		struct buf b;
		buf_init(&b);
		admin_queue_verdict(&rep, &b);
		verdict = jz(b.data);
		buf_fini(&b);
	}
	scan_report_fini(&rep);
	return verdict;
}

static json_t *flags_json(const struct mail_env *env)
{
	json_t *fl = json_array();
	if (env->flags & MAIL_ENV_F_BOUNCE)
		json_array_append_new(fl, jstr("notification"));
	if (env->flags & MAIL_ENV_F_RELEASED)
		json_array_append_new(fl, jstr("released"));
	if (env->flags & MAIL_ENV_F_REQUEUED)
		json_array_append_new(fl, jstr("requeued"));
	return fl;
}

/* The fields list and show share (in this order). */
static json_t *msg_json(const char *qid, enum queue_dir dir, int64_t mtime, uint64_t size, const struct mail_env *env,
			const struct queue_sched *q, bool detail)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", jstr(qid));
	json_object_set_new(o, "state", jstr(queue_dir_name(dir)));
	json_object_set_new(o, "size", json_integer((json_int_t)size));
	int64_t now = clock_now_s();
	json_object_set_new(o, "arrival", json_integer(env->arrival_us / 1000000));
	json_object_set_new(o, "age", json_integer(now - env->arrival_us / 1000000));
	json_object_set_new(o, "sender", jz(env->sender));
	bool busy = false;
	int64_t due = 0;
	bool known = q && queue_sched_peek(q, qid, &busy, &due);
	if (q)
		json_object_set_new(o, "active", json_boolean(busy));
	if (dir == QDIR_DEFERRED || (dir == QDIR_INPUT && due))
		json_object_set_new(o, "next_attempt", json_integer(known && due ? due : mtime));
	else if (dir == QDIR_INPUT || dir == QDIR_OUTPUT)
		json_object_set_new(o, "next_attempt", json_integer(now));
	else
		json_object_set_new(o, "next_attempt", json_null());
	const struct mail_rcpt *last;
	json_object_set_new(o, "recipients", rcpts_json(env, detail, &last));
	json_object_set_new(o, "last_error", last ? reply_json(last) : json_null());
	json_object_set_new(o, "verdict", verdict_json(env));
	json_object_set_new(o, "flags", flags_json(env));
	return o;
}

static bool match(const struct admin_queue_filter *f, const struct mail_env *env)
{
	if (f->sender) {
		const char *s = strcmp(f->sender, "<>") == 0 ? "" : f->sender;
		if (!str_caseeq(env->sender, s))
			return false;
	}
	if (!f->domain)
		return true;
	for (size_t i = 0; i < env->nrcpt; i++)
		if (str_caseeq(mail_env_domain(env->rcpt[i].addr), f->domain))
			return true;
	return false;
}

struct list_ctx {
	struct queue_store *qs;
	const struct queue_sched *q;
	const struct admin_queue_filter *f;
	enum queue_dir dir;
	json_t *arr;
	size_t limit;
	bool truncated;
};

static void list_one(void *arg, const char *qid, int64_t mtime, uint64_t size)
{
	struct list_ctx *l = arg;
	if (json_array_size(l->arr) >= l->limit) {
		l->truncated = true;
		return;
	}
	struct mail_env *env = NULL;
	char err[256];
	if (queue_store_load(l->qs, l->dir, qid, &env, NULL, err, sizeof err) < 0) {
		if (l->f->domain || l->f->sender)
			return; /* cannot tell whether it matches */
		json_t *o = json_object();
		json_object_set_new(o, "id", jstr(qid));
		json_object_set_new(o, "state", jstr(queue_dir_name(l->dir)));
		json_object_set_new(o, "size", json_integer((json_int_t)size));
		json_object_set_new(o, "error", jz(err));
		json_array_append_new(l->arr, o);
		return;
	}
	if (match(l->f, env))
		json_array_append_new(l->arr, msg_json(qid, l->dir, mtime, size, env, l->q, false));
	mail_env_free(&env);
}

static int by_arrival(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	json_int_t ax = json_integer_value(json_object_get(x, "arrival")), ay = json_integer_value(json_object_get(y, "arrival"));
	if (ax != ay)
		return ax < ay ? -1 : 1;
	return strcmp(json_string_value(json_object_get(x, "id")), json_string_value(json_object_get(y, "id")));
}

json_t *admin_queue_list(struct queue_store *qs, const struct queue_sched *q, const struct admin_queue_filter *f,
		      size_t limit, bool *truncated)
{
	static const enum queue_dir all[] = { QDIR_INPUT, QDIR_OUTPUT, QDIR_DEFERRED, QDIR_HOLD, QDIR_CORRUPT };
	struct list_ctx l = { .qs = qs, .q = q, .f = f, .arr = json_array(), .limit = limit };
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		l.dir = f->state >= 0 ? (enum queue_dir)f->state : all[i];
		queue_store_list(qs, l.dir, list_one, &l);
		if (f->state >= 0)
			break;
	}
	/* oldest first, as they arrived (ids sort by arrival too) */
	size_t n = json_array_size(l.arr);
	json_t **v = xcalloc(n ? n : 1, sizeof *v);
	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(l.arr, i));
	qsort(v, n, sizeof *v, by_arrival);
	json_t *out = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(out, v[i]);
	xfree(v);
	json_decref(l.arr);
	*truncated = l.truncated;
	return out;
}

/* Every status record in file order, as history entries: a fresh copy of
 * the envelope takes the records one by one, and what each one changed is
 * the entry (queue_file.c stays the only decoder of the format). */
static json_t *history(int fd, const struct queue_hdr *h, uint64_t fsize)
{
	json_t *arr = json_array();
	uint64_t from = h->env_off + h->env_len;
	if (fsize <= from || h->env_len > QUEUE_ENV_MAX)
		return arr;
	size_t n = (size_t)(fsize - from < STATUS_REGION_MAX ? fsize - from : STATUS_REGION_MAX);
	char *envp = xmalloc(h->env_len + 1), *st = xmalloc(n + 1);
	struct mail_env *e = mail_env_new();
	char err[128];
	if (fs_pread_all(fd, envp, h->env_len, (off_t)h->env_off) < 0 || fs_pread_all(fd, st, n, (off_t)from) < 0 ||
	    queue_file_env_decode(envp, h->env_len, e, err, sizeof err) < 0)
		goto out;
	for (const char *p = st, *end = st + n; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			break;
		size_t len = (size_t)(nl + 1 - p);
		int64_t *before = xcalloc(e->nrcpt ? e->nrcpt : 1, sizeof *before);
		for (size_t i = 0; i < e->nrcpt; i++)
			before[i] = e->rcpt[i].when_us;
		int64_t warned = e->delay_warned_us;
		int attempts = e->scan_attempts;
		bool ok = queue_file_status_apply(p, len, e) == 1;
		json_t *o = NULL;
		if (ok && p[0] == 'A') {
			o = json_object();
			json_object_set_new(o, "event", jstr(e->scan_attempts > attempts ? "scan started" : "scan ended without verdict"));
		} else if (ok && p[0] == 'W') {
			o = json_object();
			json_object_set_new(o, "when", json_integer(e->delay_warned_us / 1000000));
			json_object_set_new(o, "event", jstr("delay notice queued"));
			(void)warned;
		} else if (ok) {
			for (size_t i = 0; i < e->nrcpt && !o; i++) {
				if (e->rcpt[i].when_us == before[i])
					continue;
				const struct mail_rcpt *r = &e->rcpt[i];
				o = json_object();
				json_object_set_new(o, "when", json_integer(r->when_us / 1000000));
				json_object_set_new(o, "event", jstr(rcpt_status(r->state)));
				json_object_set_new(o, "recipient", jz(r->addr));
				json_object_set_new(o, "reply", reply_json(r));
			}
		}
		xfree(before);
		if (!ok)
			break;
		if (o)
			json_array_append_new(arr, o);
		p = nl + 1;
	}
out:
	mail_env_free(&e);
	xfree(envp);
	xfree(st);
	return arr;
}

/* The header section of the content, up to ADMIN_CTL_HEADERS_MAX octets. */
static json_t *headers(int fd, const struct queue_hdr *h)
{
	size_t n = h->body_len < ADMIN_CTL_HEADERS_MAX ? (size_t)h->body_len : ADMIN_CTL_HEADERS_MAX;
	char *p = xmalloc(n + 1);
	json_t *j = json_null();
	if (fs_pread_all(fd, p, n, (off_t)h->body_off) == 0) {
		const char *e = memmem(p, n, "\r\n\r\n", 4);
		j = jtext(p, e ? (size_t)(e - p) + 2 : n);
	}
	xfree(p);
	return j;
}

json_t *admin_queue_show(struct queue_store *qs, const struct queue_sched *q, const char *qid, char *err, size_t errlen)
{
	static const enum queue_dir dirs[] = { QDIR_INPUT,  QDIR_OUTPUT,     QDIR_DEFERRED,
					       QDIR_HOLD,   QDIR_QUARANTINE, QDIR_CORRUPT };
	if (!ids_queue_valid(qid)) {
		snprintf(err, errlen, "not a queue id: \"%.40s\"", qid);
		return NULL;
	}
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		struct mail_env *env = NULL;
		struct queue_hdr h;
		int rc = queue_store_load(qs, dirs[i], qid, &env, &h, err, errlen);
		if (rc == -2)
			continue;
		if (rc < 0)
			return NULL;
		int fd = queue_store_open_msg(qs, dirs[i], qid);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) < 0) {
			snprintf(err, errlen, "%s: %s", qid, strerror(errno));
			if (fd >= 0)
				close(fd);
			mail_env_free(&env);
			return NULL;
		}
		json_t *o = msg_json(qid, dirs[i], (int64_t)st.st_mtime, (uint64_t)st.st_size, env, q, true);
		json_object_set_new(o, "helo", jz(env->helo));
		json_object_set_new(o, "client_addr", jz(env->client_addr));
		json_object_set_new(o, "client_name", jz(env->client_name));
		json_object_set_new(o, "protocol", jz(env->protocol));
		json_object_set_new(o, "envid", jz(env->envid));
		json_object_set_new(o, "body_size", json_integer((json_int_t)h.body_len));
		json_object_set_new(o, "scan", jz(env->scan));
		json_object_set_new(o, "scan_attempts", json_integer(env->scan_attempts));
		json_object_set_new(o, "delay_notice",
				    env->delay_warned_us ? json_integer(env->delay_warned_us / 1000000) : json_null());
		json_object_set_new(o, "history", history(fd, &h, (uint64_t)st.st_size));
		json_object_set_new(o, "headers", headers(fd, &h));
		close(fd);
		mail_env_free(&env);
		return o;
	}
	snprintf(err, errlen, "%s: no such message", qid);
	return NULL;
}
