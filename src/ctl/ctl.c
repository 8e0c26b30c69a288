/*
 * ctl.c - check, config, mailq.
 */
#include "ctl/ctl.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/fsutil.h"
#include "base/map.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "conf/conf.h"
#include "deliver/deliver.h"
#include "gw/gw_conf.h"
#include "scan/scan.h"
#include "mail/mail_date.h"
#include "mail/mail_env.h"
#include "net/net_tls.h"
#include "queue/queue_store.h"
#include "route/route.h"

int ctl_check(const char *path, const char *const *ov, size_t nov)
{
	struct buf diag;
	buf_init(&diag);
	struct conf *c = conf_load(path, ov, nov, &diag);
	int errors = 0;
	const char *where = path ? path : "(built-in defaults)";
	if (c) {
		char err[512];
		struct route_maps *m = gw_conf_maps_load(c, err, sizeof err);
		if (!m || route_maps_error(m)) {
			buf_printf(&diag, "%s: error: %s\n", where, m ? route_maps_error(m) : err);
			errors++;
		}
		route_maps_free(&m);
		if (c->smtpd_tls_cert_file[0]) {
			SSL_CTX *ctx = net_tls_server_ctx(c->smtpd_tls_cert_file, c->smtpd_tls_key_file, err, sizeof err);
			if (!ctx) {
				buf_printf(&diag, "%s: error: smtpd_tls_cert_file/smtpd_tls_key_file: %s\n", where, err);
				errors++;
			} else {
				SSL_CTX_free(ctx);
			}
		}
		struct map *tls_policy = c->smtp_tls_policy_maps[0]
						 ? deliver_tls_policy_load(c->smtp_tls_policy_maps, err, sizeof err)
						 : NULL;
		if (c->smtp_tls_policy_maps[0] && !tls_policy) {
			buf_printf(&diag, "%s: error: %s\n", where, err);
			errors++;
		}
		if (tls_policy)
			map_free(&tls_policy);
		/* scanning: action lists, then the scanners themselves (rules parse, virus DB loads) */
		if (gw_conf_scan_check(c, err, sizeof err) < 0) {
			buf_printf(&diag, "%s: error: %s\n", where, err);
			errors++;
		} else {
			struct scan_conf sc;
			gw_conf_scan(c, &sc);
			struct scan_engine *e = scan_engine_new(&sc, err, sizeof err);
			if (!e) {
				buf_printf(&diag, "%s: error: %s\n", where, err);
				errors++;
			}
			scan_engine_free(&e);
		}
	}
	fputs(diag.data ? diag.data : "", stderr);
	buf_fini(&diag);
	if (!c || errors) {
		fprintf(stderr, "%s: configuration has errors\n", where);
		conf_free(&c);
		return 1;
	}
	printf("%s: configuration ok\n", where);
	conf_free(&c);
	return 0;
}

int ctl_config(const char *path, const char *const *ov, size_t nov, bool only_changed, bool doc)
{
	struct buf out;
	buf_init(&out);
	if (doc) {
		conf_doc(&out);
		fputs(out.data, stdout);
		buf_fini(&out);
		return 0;
	}
	struct conf *c = conf_load(path, ov, nov, &out);
	if (!c) {
		fputs(out.data ? out.data : "", stderr);
		buf_fini(&out);
		return 1;
	}
	buf_reset(&out);
	conf_dump(c, &out, only_changed);
	fputs(out.data ? out.data : "", stdout);
	buf_fini(&out);
	conf_free(&c);
	return 0;
}

struct mailq_ctx {
	struct queue_store *qs;
	enum queue_dir dir;
	long n;
};

static void mailq_one(void *arg, const char *qid, int64_t mtime, uint64_t size)
{
	struct mailq_ctx *m = arg;
	struct mail_env *env = NULL;
	char err[256];
	m->n++;
	int rc = queue_store_load(m->qs, m->dir, qid, &env, NULL, err, sizeof err);
	if (rc < 0) {
		printf("%s %-8s %10" PRIu64 " (unreadable: %s)\n\n", qid, queue_dir_name(m->dir), size, err);
		return;
	}
	char date[64];
	mail_date_format(env->arrival_us, date, sizeof date);
	printf("%s %-8s %10" PRIu64 " %s <%s>\n", qid, queue_dir_name(m->dir), size, date, env->sender);
	if (m->dir == QDIR_DEFERRED) {
		time_t t = (time_t)mtime;
		char due[64];
		strftime(due, sizeof due, "%Y-%m-%d %H:%M:%S", localtime(&t));
		printf("    next attempt: %s\n", due);
	}
	for (size_t i = 0; i < env->nrcpt; i++) {
		const struct mail_rcpt *r = &env->rcpt[i];
		const char *st = r->state == MAIL_RCPT_DELIVERED ? "delivered" : r->state == MAIL_RCPT_FAILED ? "failed" : "pending";
		printf("    <%s> %s", r->addr, st);
		if (r->has_reply) {
			char t[MAIL_REPLY_TEXT_MAX + 32];
			mail_reply_str(&r->reply, t, sizeof t);
			printf(" (%s)", t);
		}
		printf("\n");
	}
	printf("\n");
	mail_env_free(&env);
}

int ctl_mailq(const struct conf *c)
{
	char err[512];
	struct queue_store *qs = queue_store_open(c->queue_directory, (uid_t)-1, (gid_t)-1, err, sizeof err);
	if (!qs) {
		fprintf(stderr, "mxgate: %s\n", err);
		return 1;
	}
	long total = 0;
	enum queue_dir dirs[] = { QDIR_INPUT, QDIR_OUTPUT, QDIR_DEFERRED, QDIR_HOLD, QDIR_CORRUPT };
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		struct mailq_ctx m = { qs, dirs[i], 0 };
		queue_store_list(qs, dirs[i], mailq_one, &m);
		total += m.n;
	}
	printf("-- %ld message%s in the queue\n", total, total == 1 ? "" : "s");
	queue_store_close(&qs);
	return 0;
}
