/*
 * ctl_quarantine.c - "mxgate quarantine list|show ID|release ID|delete ID|
 * delete-spam ID".
 *
 * Quarantined originals are queue files under <queue_directory>/quarantine/
 * (docs/QUEUE.md, transition 3q): the message as received, its envelope
 * and the scan report that put it there. Release copies the original into
 * input/ under a new id, marked released (routed, never scanned again),
 * and removes the quarantined copy (queue_store_release). With a running
 * gateway, release and delete are its operations (control socket,
 * ctl_queue.c); without one they work on the spool directly, as the
 * spool's owner (root switches to it), and the next start takes it on.
 * Release learns the message as ham and delete-spam as spam into the Bayes
 * store (use_bayes), from the tokens its envelope keeps: the daemon's
 * learner, or here, directly, when no daemon runs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "admin/admin_ctl.h"
#include "base/buf.h"
#include "base/ids.h"
#include "base/str.h"
#include "conf/conf.h"
#include "ctl/ctl.h"
#include "ctl/ctl_int.h"
#include "mail/mail_date.h"
#include "mail/mail_env.h"
#include "queue/queue_store.h"
#include "scan/bayes/scan_bayes.h"
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
		admin_queue_verdict(&r, &b);
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
		admin_queue_verdict(&r, &b);
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

/* release or delete through the running daemon (its control socket): 1
 * answered (*rc set), 0 no daemon runs. */
static int via_daemon(const struct conf *c, const char *what, const char *qid, int *rc)
{
	json_t *req = json_object(), *ans = NULL;
	json_object_set_new(req, "cmd", json_string(what));
	json_object_set_new(req, "id", json_string(qid));
	char err[600];
	int r = ctl_queue_request(c, req, &ans, err, sizeof err);
	json_decref(req);
	if (r == -1)
		return 0;
	if (r < 0) {
		fprintf(stderr, "mxgate: quarantine %s %s: %s\n", what, qid, err);
		*rc = 1;
		return 1;
	}
	bool ok = json_is_true(json_object_get(ans, "ok"));
	const char *msg = json_string_value(json_object_get(ans, "msg"));
	fprintf(ok ? stdout : stderr, "mxgate: %s\n", msg ? msg : "");
	json_decref(ans);
	*rc = ok ? 0 : 1;
	return 1;
}

/* No daemon: quarantine/qid's Bayes tokens (its L record): true with *l. */
static bool tokens_offline(const struct conf *c, struct queue_store *qs, const char *qid, struct scan_learn *l)
{
	memset(l, 0, sizeof *l);
	struct mail_env *env;
	struct queue_hdr hdr;
	char err[300];
	if (!c->use_bayes || !queue_store_exists(qs, QDIR_QUARANTINE, qid) ||
	    queue_store_load(qs, QDIR_QUARANTINE, qid, &env, &hdr, err, sizeof err) < 0)
		return false;
	bool ok = env->bayes && scan_learn_decode(env->bayes, l) == 0;
	if (!ok)
		printf("mxgate: %s: not learned: no Bayes tokens with it (scanned without use_bayes)\n", qid);
	mail_env_free(&env);
	return ok;
}

/* ... learned into the Bayes store (a release: ham; delete-spam: spam);
 * prints what happened; l is released. */
static void learn_offline(const struct conf *c, const char *qid, struct scan_learn *l_, bool spam)
{
	struct scan_learn l = *l_;
	char err[300];
	struct scan_bayes_item it = { .msg_key = l.msg_key, .keys = l.keys, .nkeys = l.nkeys, .cls = spam ? 1 : 0 };
	int res = 0;
	if (scan_bayes_learn_batch(c->bayes_path, &it, 1, l.expiry_max, (uint32_t)time(NULL), 30000, &res, NULL, err,
				   sizeof err) < 0)
		fprintf(stderr, "mxgate: %s: not learned: %s\n", qid, err);
	else
		printf("mxgate: %s %s as %s (Bayes, %s)\n", qid, res ? "learned" : "already learned", spam ? "spam" : "ham",
		       c->bayes_path);
	scan_learn_fini(l_);
}

/* No daemon: the release on the spool (queue_store_release); the next start takes it on. */
static int release(struct queue_store *qs, const char *qid)
{
	char err[300], nq[IDS_QUEUE_SIZE];
	size_t n;
	if (queue_store_release(qs, qid, nq, &n, err, sizeof err) < 0) {
		fprintf(stderr, "mxgate: release %s: %s\n", qid, err);
		return 1;
	}
	printf("mxgate: %s released as %s (%zu recipient%s)\n", qid, nq, n, n == 1 ? "" : "s");
	printf("mxgate: mxgate is not running: the message waits in input/ for its next start\n");
	return 0;
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
	} else if ((strcmp(what, "release") == 0 || strcmp(what, "delete") == 0 || strcmp(what, "delete-spam") == 0) &&
		   via_daemon(c, what, qid, &rc)) {
		/* done by the daemon */
	} else if (strcmp(what, "release") == 0) {
		struct scan_learn l;
		bool have = tokens_offline(c, qs, qid, &l);
		rc = release(qs, qid);
		if (have && rc == 0)
			learn_offline(c, qid, &l, false);
		scan_learn_fini(&l);
	} else if (strcmp(what, "delete") == 0 || strcmp(what, "delete-spam") == 0) {
		struct scan_learn l;
		bool have = strcmp(what, "delete-spam") == 0 && tokens_offline(c, qs, qid, &l);
		if (have && queue_store_exists(qs, QDIR_QUARANTINE, qid))
			learn_offline(c, qid, &l, true);
		if (have)
			scan_learn_fini(&l);
		if (queue_store_remove(qs, QDIR_QUARANTINE, qid) < 0) {
			fprintf(stderr, "mxgate: quarantine delete %s: %s\n", qid, strerror(errno));
			rc = 1;
		} else {
			printf("mxgate: %s deleted from quarantine\n", qid);
			rc = 0;
		}
	} else {
		fprintf(stderr, "mxgate: quarantine list|show ID|release ID|delete ID|delete-spam ID\n");
	}
	queue_store_close(&qs);
	return rc;
}
