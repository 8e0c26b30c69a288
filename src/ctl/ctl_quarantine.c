/*
 * ctl_quarantine.c - "mxgate quarantine list|show ID|release ID|delete ID".
 *
 * Quarantined originals are queue files under <queue_directory>/quarantine/
 * (docs/QUEUE.md, transition 3q): the message as received, its envelope
 * and the scan report that put it there. Release copies the original into
 * input/ under a new id, marked released (routed, never scanned again),
 * removes the quarantined copy and asks a running gateway (pid_file) to
 * pick it up; without a running gateway it waits for the next start.
 * Works on the spool directly, as the spool's owner (root switches to it).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/ids.h"
#include "base/str.h"
#include "conf/conf.h"
#include "ctl/ctl.h"
#include "mail/mail_date.h"
#include "mail/mail_env.h"
#include "queue/queue_store.h"
#include "scan/scan.h"

/* Root acts as the owner of the spool, so the files it writes stay the gateway's. */
static int become_spool_owner(const char *dir)
{
	struct stat st;
	if (geteuid() != 0 || stat(dir, &st) < 0 || st.st_uid == 0)
		return 0;
	if (setgid(st.st_gid) < 0 || setuid(st.st_uid) < 0) {
		fprintf(stderr, "mxgate: cannot switch to the spool owner (uid %u): %s\n", (unsigned)st.st_uid,
			strerror(errno));
		return -1;
	}
	return 0;
}

static void why(const struct scan_report *r, struct buf *out)
{
	buf_puts(out, scan_cat_name(r->cat));
	for (size_t i = 0; i < r->nvirus; i++)
		buf_printf(out, "%s%s", i ? ", " : ": ", r->virus[i].name);
	if (r->spam_scanned)
		buf_printf(out, " score=%.2f/%.2f", r->score, r->required);
	if (r->ndnsbl)
		buf_printf(out, " dnsbl_weight=%d", r->dnsbl_weight);
}

struct list_ctx {
	struct queue_store *qs;
	long n;
};

static void list_one(void *arg, const char *qid, int64_t mtime, uint64_t size)
{
	(void)mtime;
	struct list_ctx *l = arg;
	struct mail_env *env = NULL;
	char err[256];
	l->n++;
	if (queue_store_load(l->qs, QDIR_QUARANTINE, qid, &env, NULL, err, sizeof err) < 0) {
		printf("%s %10llu (unreadable: %s)\n", qid, (unsigned long long)size, err);
		return;
	}
	char date[64];
	mail_date_format(env->arrival_us, date, sizeof date);
	struct scan_report r;
	scan_report_init(&r);
	struct buf b;
	buf_init(&b);
	if (env->scan && scan_report_decode(env->scan, &r) == 0)
		why(&r, &b);
	else
		buf_puts(&b, "(no scan report)");
	printf("%s %10llu %s <%s> %s\n", qid, (unsigned long long)size, date, env->sender, b.data);
	for (size_t i = 0; i < env->nrcpt; i++)
		printf("    <%s>\n", env->rcpt[i].addr);
	buf_fini(&b);
	scan_report_fini(&r);
	mail_env_free(&env);
}

static int show(struct queue_store *qs, const char *qid)
{
	struct mail_env *env = NULL;
	struct queue_hdr h;
	char err[256];
	if (queue_store_load(qs, QDIR_QUARANTINE, qid, &env, &h, err, sizeof err) < 0) {
		fprintf(stderr, "mxgate: quarantine %s: %s\n", qid, err);
		return 1;
	}
	char date[64];
	mail_date_format(env->arrival_us, date, sizeof date);
	printf("id: %s\narrival: %s\nsender: <%s>\nclient: %s [%s] helo=%s\n", qid, date, env->sender,
	       env->client_name, env->client_addr, env->helo);
	for (size_t i = 0; i < env->nrcpt; i++)
		printf("recipient: <%s>\n", env->rcpt[i].addr);
	printf("scan: %s\n", env->scan ? env->scan : "(none)");
	struct scan_report r;
	scan_report_init(&r);
	if (env->scan && scan_report_decode(env->scan, &r) == 0) {
		struct buf b;
		buf_init(&b);
		why(&r, &b);
		printf("verdict: %s\n", b.data);
		buf_fini(&b);
	}
	scan_report_fini(&r);
	/* the header section of the original */
	int fd = queue_store_open_msg(qs, QDIR_QUARANTINE, qid);
	if (fd >= 0) {
		size_t n = h.body_len < 65536 ? (size_t)h.body_len : 65536;
		char *p = malloc(n + 1);
		ssize_t got = p ? pread(fd, p, n, (off_t)h.body_off) : -1;
		if (got > 0) {
			const char *e = memmem(p, (size_t)got, "\r\n\r\n", 4);
			printf("headers:\n");
			fwrite(p, 1, e ? (size_t)(e - p) + 2 : (size_t)got, stdout);
		}
		free(p);
		close(fd);
	}
	mail_env_free(&env);
	return 0;
}

static void poke_gateway(const struct conf *c)
{
	char err[300];
	long pid;
	if (ctl_signal_gateway(c, &pid, err, sizeof err) == 0)
		printf("mxgate: gateway (pid %ld) asked to pick it up\n", pid);
	else
		printf("mxgate: %s: the message waits in input/ for the gateway's next start or flush\n", err);
}

static int release(const struct conf *c, struct queue_store *qs, const char *qid)
{
	struct mail_env *env = NULL;
	char err[256];
	if (queue_store_load(qs, QDIR_QUARANTINE, qid, &env, NULL, err, sizeof err) < 0) {
		fprintf(stderr, "mxgate: quarantine %s: %s\n", qid, err);
		return 1;
	}
	struct queue_draft d;
	memset(&d, 0, sizeof d);
	ids_queue_new(d.qid);
	snprintf(env->qid, sizeof env->qid, "%s", d.qid);
	env->flags |= MAIL_ENV_F_RELEASED;
	int rc = 1;
	if (queue_store_draft_copy(qs, QDIR_QUARANTINE, qid, &d) < 0 || queue_store_commit(qs, &d, env, QDIR_INPUT) < 0) {
		fprintf(stderr, "mxgate: release %s: %s\n", qid, strerror(errno));
	} else {
		queue_store_remove(qs, QDIR_QUARANTINE, qid);
		printf("mxgate: %s released as %s (%zu recipient%s)\n", qid, d.qid, env->nrcpt, env->nrcpt == 1 ? "" : "s");
		poke_gateway(c);
		rc = 0;
	}
	mail_env_free(&env);
	return rc;
}

int ctl_quarantine(const struct conf *c, const char *what, const char *qid)
{
	if (become_spool_owner(c->queue_directory) < 0)
		return 1;
	char err[512];
	struct queue_store *qs = queue_store_open(c->queue_directory, (uid_t)-1, (gid_t)-1, err, sizeof err);
	if (!qs) {
		fprintf(stderr, "mxgate: %s\n", err);
		return 1;
	}
	int rc = 2;
	bool need_id = strcmp(what, "list") != 0;
	if (need_id && (!qid || !ids_queue_valid(qid))) {
		fprintf(stderr, "mxgate: quarantine %s needs a message id\n", what);
	} else if (strcmp(what, "list") == 0) {
		struct list_ctx l = { qs, 0 };
		queue_store_list(qs, QDIR_QUARANTINE, list_one, &l);
		printf("-- %ld message%s in quarantine\n", l.n, l.n == 1 ? "" : "s");
		rc = 0;
	} else if (strcmp(what, "show") == 0) {
		rc = show(qs, qid);
	} else if (strcmp(what, "release") == 0) {
		rc = release(c, qs, qid);
	} else if (strcmp(what, "delete") == 0) {
		if (queue_store_remove(qs, QDIR_QUARANTINE, qid) < 0) {
			fprintf(stderr, "mxgate: quarantine delete %s: %s\n", qid, strerror(errno));
			rc = 1;
		} else {
			printf("mxgate: %s deleted from quarantine\n", qid);
			rc = 0;
		}
	} else {
		fprintf(stderr, "mxgate: quarantine list|show ID|release ID|delete ID\n");
	}
	queue_store_close(&qs);
	return rc;
}
