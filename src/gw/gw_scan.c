/*
 * gw_scan.c - the scan hand-off: between the input queue and routing, and
 * before the final 250 when scan_stage = before-queue. The scanning
 * itself runs in the sandboxed scanner processes (scan/proc); gw never
 * parses a message: it sends one, gets a verdict and an edit list back,
 * and turns them into queue transitions.
 *
 * After-queue, for each message the queue hands to processing:
 *   1. a message held back by the poison guard (scan_max_attempts scans
 *      that never finished) goes to hold/;
 *   2. a scan-attempt record is appended (survives a crash);
 *   3. the client's DNSBL result is fetched on the loop (usually cached
 *      since the client connected), then a scanner gets the message;
 *   4. its answer: no verdict -> the message stays in input/ and is retried
 *      (a scanner daemon down: the attempt is taken back, or with
 *      scan_on_failure = deliver-unscanned it passes with a header saying
 *      so; a scanner process that died, broke a limit or timed out: the
 *      attempt stays, never delivered unscanned); a verdict -> one queue
 *      transition writes the quarantine copy, the message to deliver (its
 *      edits applied by the edit thread) routed like any other, or nothing.
 * A message scanned before the queue (its envelope carries the report)
 * has only its actions applied (an APPLY job: the edits still need the
 * content parsed); a released or requeued one is only routed.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "conf/conf.h"
#include "ev/ev_pool.h"
#include "gw/gw_conf.h"
#include "gw/gw_int.h"
#include "mail/mail_env.h"
#include "net/net_addr.h"
#include "queue/queue_commit.h"
#include "queue/queue_sched.h"
#include "queue/queue_store.h"
#include "scan/dnsbl/scan_dnsbl.h"
#include "scan/proc/scan_proc.h"
#include "scan/scan.h"
#include "smtp/smtp_server.h"

#define SCAN_LOAD_TIMEOUT_S 600 /* loading rules and signatures (a full ClamAV database takes tens of seconds) */
#define EDIT_THREADS 2		/* threads that read a larger message and apply its edits */
#define EDIT_INLINE_MAX 65536	/* up to this size the loop applies the edits itself */

struct scan_job {
	struct gw *g;
	struct gw_scanset *set; /* a reference: the policy this scan's actions follow */
	char qid[IDS_QUEUE_SIZE];
	const struct mail_env *env; /* borrowed (after-queue: until processed) */
	struct mail_env *own_env;   /* before-queue: ours until committed */
	bool before_queue, prescanned;
	uint64_t session;
	struct queue_draft draft; /* before-queue */
	int64_t t_dnsbl;
	int fd;			/* the message's file (after-queue: ours; before-queue: the draft's) */
	uint64_t off, body_len; /* where the message is in it */
	enum scan_proc_status status;
	struct scan_report rep; /* the DNSBL findings, then the scanner's report */
	struct scan_outcome out;
	struct buf content; /* the delivered message: edits applied (edit thread) */
	int read_err;
};

/* ------------------------------------------------------------ generations */

static struct gw_scanset *scanset_new(struct gw_gen *gen, const struct scan_proc_gen_info *info, char *err,
				      size_t errlen)
{
	struct gw_scanset *s = xcalloc(1, sizeof *s);
	if (gw_conf_scan_policy(gen->conf, &s->policy, err, errlen) < 0) {
		gw_conf_scan_policy_fini(&s->policy);
		xfree(s);
		return NULL;
	}
	s->gen = gw_gen_ref(gen);
	s->refs = 1;
	s->enabled = info->enabled;
	s->has_av = info->has_av;
	s->av_kept = info->av_kept;
	s->load_ms = info->load_ms;
	s->describe = xstrdup(info->describe);
	return s;
}

static struct gw_scanset *scanset_ref(struct gw_scanset *s)
{
	s->refs++;
	return s;
}

void gw_scanset_unref(struct gw_scanset *s)
{
	if (!s || --s->refs > 0)
		return;
	gw_conf_scan_policy_fini(&s->policy);
	gw_gen_unref(s->gen);
	xfree(s->describe);
	xfree(s);
}

/* The start-up (and reload) line: what scans, or that nothing does. */
static void log_scanning(const struct gw *g)
{
	const struct conf *c = g->conf;
	if (!g->scanset->enabled) {
		log_info("event=scanning_off reason=\"no scanner, DNSBL or access map configured\"");
		return;
	}
	log_info("event=scanning_on stage=%s processes=%d user=%s sandbox=%s load_ms=%lld %s", c->scan_stage,
		 c->scan_processes, g->scan_uid != (uid_t)-1 ? c->scan_user : "(the gateway's)",
		 c->scan_sandbox ? "seccomp" : "off", (long long)g->scanset->load_ms, g->scanset->describe);
}

int gw_scan_open(struct gw *g, char *err, size_t errlen)
{
	const struct conf *c = g->conf;
	g->scan_uid = (uid_t)-1;
	g->scan_gid = (gid_t)-1;
	if (g->root && c->scan_user[0]) {
		struct passwd *pw = getpwnam(c->scan_user);
		if (!pw) {
			snprintf(err, errlen,
				 "scan_user '%s' does not exist (create it: useradd --system --user-group --no-create-home "
				 "%s)",
				 c->scan_user, c->scan_user);
			return -1;
		}
		if (pw->pw_uid == 0 || pw->pw_uid == g->uid) {
			snprintf(err, errlen, "scan_user '%s' must be neither root nor mail_owner", c->scan_user);
			return -1;
		}
		g->scan_uid = pw->pw_uid;
		g->scan_gid = pw->pw_gid;
	}
	struct scan_proc_settings s;
	gw_conf_scan_proc(c, &s);
	g->sp = scan_proc_start(&s, g->scan_uid, g->scan_gid, err, errlen);
	return g->sp ? 0 : -1;
}

int gw_scan_ready(struct gw *g, char *err, size_t errlen)
{
	struct scan_proc_gen_info info;
	char why[1100];
	if (scan_proc_ready(g->sp, SCAN_LOAD_TIMEOUT_S, &info, why, sizeof why) < 0) {
		snprintf(err, errlen, "scanning: %s", why);
		return -1;
	}
	g->scanset = scanset_new(g->gen, &info, why, sizeof why);
	if (!g->scanset) {
		snprintf(err, errlen, "scanning: %s", why);
		return -1;
	}
	g->before_queue = strcmp(g->conf->scan_stage, "before-queue") == 0;
	log_scanning(g);
	if (g->scan_uid == (uid_t)-1)
		log_warn("event=scan_sandbox_warning reason=\"%s\" effect=\"the scanner processes run as the gateway's own "
			 "user: the spool is open to them\"",
			 g->root ? "scan_user is empty" : "not started as root");
	const char *f = getenv("MXGATE_TEST_SCAN_FAULT"), *crash = getenv("MXGATE_TEST_SCAN_CRASH");
	if ((f && f[0]) || (crash && crash[0]))
		log_warn("event=fault_injection what=\"scanner processes act out MXGATE_TEST_SCAN_FAULT=%s "
			 "MXGATE_TEST_SCAN_CRASH=%s\"",
			 f ? f : "", crash ? crash : "");
	return 0;
}

void gw_scan_init(struct gw *g)
{
	scan_proc_attach(g->sp, g->base);
	g->edit_pool = ev_pool_new(g->base, EDIT_THREADS, "edit");
	gw_learn_init(g);
}

struct gw_scanset *gw_scan_reload(struct gw *g, struct gw_gen *gen, char *err, size_t errlen)
{
	struct scan_proc_settings s;
	gw_conf_scan_proc(gen->conf, &s);
	struct scan_policy p; /* checked before the supervisor loads anything */
	int rc = gw_conf_scan_policy(gen->conf, &p, err, errlen);
	gw_conf_scan_policy_fini(&p);
	struct scan_proc_gen_info info;
	if (rc < 0 || scan_proc_load(g->sp, &s, SCAN_LOAD_TIMEOUT_S, &info, err, errlen) < 0)
		return NULL;
	return scanset_new(gen, &info, err, errlen);
}

void gw_scan_swap(struct gw *g, struct gw_scanset *s)
{
	gw_scanset_unref(g->scanset);
	g->scanset = s;
	g->before_queue = strcmp(g->conf->scan_stage, "before-queue") == 0;
	log_scanning(g);
}

void gw_scan_free(struct gw *g)
{
	scan_proc_stop(&g->sp);	     /* jobs in flight end (retried at the next start) */
	ev_pool_free(&g->edit_pool); /* edits being applied go to the queue first */
	gw_learn_free(g);	     /* what was learned meanwhile is written */
	gw_scanset_unref(g->scanset);
	g->scanset = NULL;
}

/* ------------------------------------------------------------ the job */

static void job_free(struct scan_job *j)
{
	if (!j->before_queue && j->fd >= 0)
		close(j->fd);
	scan_report_fini(&j->rep);
	buf_fini(&j->content);
	scan_outcome_fini(&j->out);
	mail_env_free(&j->own_env);
	gw_scanset_unref(j->set);
	xfree(j);
}

static const struct mail_env *job_env(const struct scan_job *j)
{
	return j->own_env ? j->own_env : j->env;
}

static void log_verdict(const struct scan_job *j)
{
	const struct scan_report *r = &j->rep;
	struct buf b;
	buf_init(&b);
	buf_printf(&b, "queue=%s event=scanned verdict=%s", j->qid, scan_cat_name(r->cat));
	if (r->spam_scanned)
		buf_printf(&b, " score=%.2f required=%.2f", r->score, r->required);
	if (r->spam_skipped)
		buf_printf(&b, " spam_skipped=%s", LOG_Q(r->spam_skipped));
	struct buf l;
	buf_init(&l);
	if (r->nrules) {
		for (size_t i = 0; i < r->nrules && i < 50; i++)
			buf_printf(&l, "%s%s", i ? "," : "", r->rules[i]);
		buf_printf(&b, " rules=%s", LOG_Q(l.data));
	}
	/* viruses and the parts they were found in, as two parallel lists */
	if (r->nvirus) {
		buf_reset(&l);
		for (size_t i = 0; i < r->nvirus; i++)
			buf_printf(&l, "%s%s%s", i ? "," : "", r->virus[i].unscannable ? "unscannable:" : "",
				   r->virus[i].name);
		buf_printf(&b, " viruses=%s", LOG_Q(l.data));
		buf_reset(&l);
		for (size_t i = 0; i < r->nvirus; i++)
			buf_printf(&l, "%s%s", i ? "," : "", r->virus[i].path[0] ? r->virus[i].path : "message");
		buf_printf(&b, " parts=%s", LOG_Q(l.data));
	}
	buf_fini(&l);
	if (r->ndnsbl) {
		buf_printf(&b, " dnsbl_weight=%d dnsbl=", r->dnsbl_weight);
		for (size_t i = 0; i < r->ndnsbl; i++)
			buf_printf(&b, "%s%s", i ? "," : "", r->dnsbl[i].zone);
	}
	if (r->access)
		buf_printf(&b, " access=%s", r->access == 1 ? "ok" : "spam");
	buf_puts(&b, " actions=");
	scan_actions_format(j->out.flags, j->out.redirect, &b);
	if (j->out.cleaned)
		buf_printf(&b, " cleaned_parts=%zu", j->out.cleaned);
	buf_printf(&b, " ms_dnsbl=%.1f ms_parse=%.1f ms_virus=%.1f ms_spam=%.1f ms_total=%.1f%s", r->ms_dnsbl,
		   r->ms_parse, r->ms_virus, r->ms_spam, r->ms_total, j->prescanned ? " stage=before-queue" : "");
	log_info("%s", b.data);
	buf_fini(&b);
	if (j->prescanned) /* a before-queue verdict was published when it was made */
		return;
	struct gw_event ev = { .type = GW_EV_SCANNED, .qid = j->qid, .session = j->session };
	ev.u.scanned.env = job_env(j);
	ev.u.scanned.report = r;
	ev.u.scanned.outcome = &j->out;
	ev.u.scanned.size = (size_t)j->body_len;
	ev.u.scanned.before_queue = j->before_queue;
	gw_emit(j->g, &ev);
}

/* A copy of src with every recipient (routes included). */
static struct mail_env *env_clone(const struct mail_env *src, bool keep_routes)
{
	struct mail_env *e = mail_env_new_like(src);
	for (size_t i = 0; i < src->nrcpt; i++) {
		const struct mail_rcpt *r = &src->rcpt[i];
		if (r->state != MAIL_RCPT_PENDING)
			continue;
		struct mail_rcpt *n = mail_env_add_rcpt(e, r->addr, r->orcpt, r->notify);
		if (keep_routes && r->route)
			n->route = mail_env_strdup(e, r->route);
	}
	return e;
}

static void set_scan(struct mail_env *e, const struct scan_report *r)
{
	struct buf b;
	buf_init(&b);
	scan_report_encode(r, &b);
	e->scan = mail_env_strdup(e, b.data);
	buf_fini(&b);
}

/* The Bayes tokens a quarantined copy keeps (release learns it as ham,
 * delete-spam as spam): from this scan, or from the envelope of a message
 * scanned before the queue. */
static void set_bayes(struct mail_env *e, const struct scan_job *j)
{
	if (j->rep.learn.nkeys) {
		struct buf b;
		buf_init(&b);
		scan_learn_encode(&j->rep.learn, &b);
		e->bayes = mail_env_strdup(e, b.data);
		buf_fini(&b);
	} else if (j->env && j->env->bayes) {
		e->bayes = mail_env_strdup(e, j->env->bayes);
	}
}

/* What becomes of a message that is not delivered as it is: logged when
 * it is not delivered at all, and published. */
static void log_disposition(const struct scan_job *j, bool deliver, bool quarantine)
{
	if (!deliver)
		log_info("queue=%s event=%s verdict=%s", j->qid, quarantine ? "quarantined_only" : "dropped",
			 scan_cat_name(j->rep.cat));
	if (quarantine) {
		struct gw_event ev = { .type = GW_EV_QUARANTINED, .qid = j->qid };
		ev.u.quarantined.report = &j->rep;
		gw_emit(j->g, &ev);
	} else if (!deliver) {
		gw_emit(j->g, &(struct gw_event){ .type = GW_EV_REMOVED, .qid = j->qid, .u.removed.reason = "dropped" });
	}
}

/* The envelopes the message is delivered with: redirected or the
 * original's, each with the report, routed (alias expansion). 0 with
 * routed[0..n) (n 0: nothing delivered), -1: routing must be retried. */
static int delivered_envs(struct scan_job *j, bool deliver, struct mail_env ***routed, size_t *n)
{
	const struct mail_env *env = j->env;
	*routed = NULL;
	*n = 0;
	if (!deliver)
		return 0;
	struct mail_env *dl;
	if (j->out.flags & SCAN_ACT_REDIRECT) {
		dl = mail_env_new_like(env);
		mail_env_add_rcpt(dl, j->out.redirect, NULL, 0);
	} else {
		dl = env_clone(env, true);
	}
	set_scan(dl, &j->rep);
	int rr = gw_route_envs(j->g, j->qid, dl, routed, n);
	if (rr < 0) {
		mail_env_free(&dl);
		return -1;
	}
	if (*n == 0) { /* identity: the envelope as it is */
		*routed = xcalloc(1, sizeof **routed);
		(*routed)[0] = dl;
		*n = 1;
		return 0;
	}
	mail_env_free(&dl);
	return 0;
}

/* After-queue: turn the outcome into queue transitions: outs[0] the message
 * itself, then its owner- splits (copies of the new content), then the
 * quarantine copy. */
static void finish_after_queue(struct scan_job *j)
{
	struct gw *g = j->g;
	const struct scan_outcome *o = &j->out;
	bool deliver = (o->flags & (SCAN_ACT_DELIVER | SCAN_ACT_CLEAN | SCAN_ACT_REDIRECT)) != 0;
	bool quarantine = (o->flags & SCAN_ACT_QUARANTINE) != 0;
	if (deliver && !quarantine && !o->changed && !(o->flags & SCAN_ACT_REDIRECT)) {
		/* delivered as received: routing only (a rename when nothing changes) */
		gw_route_process(g, j->qid, j->env);
		return;
	}
	struct mail_env **routed;
	size_t nrouted;
	if (delivered_envs(j, deliver, &routed, &nrouted) < 0) {
		queue_sched_processed(g->q, j->qid, QUEUE_RETRY);
		return;
	}
	size_t n = 1 + (quarantine ? 1 : 0) + (nrouted ? nrouted - 1 : 0);
	struct queue_out *outs = xcalloc(n, sizeof *outs);
	size_t clen = 0;
	char *content = o->changed ? buf_steal(&j->content, &clen) : NULL;
	for (size_t i = 0; i < nrouted; i++) {
		struct queue_out *q = &outs[i]; /* [0] the message itself, then the splits */
		q->env = routed[i];
		q->to = QDIR_OUTPUT;
		q->len = content ? clen : 0;
		if (content && i > 0) { /* owner- splits get copies */
			q->content = xmalloc(clen ? clen : 1);
			memcpy(q->content, content, clen);
		}
	}
	if (content && nrouted)
		outs[0].content = content; /* the message itself takes the buffer */
	else
		xfree(content);
	xfree(routed);
	if (quarantine) {
		struct mail_env *qe = env_clone(j->env, false);
		set_scan(qe, &j->rep);
		set_bayes(qe, j);
		outs[n - 1] = (struct queue_out){ .env = qe, .to = QDIR_QUARANTINE };
	}
	log_disposition(j, deliver, quarantine);
	queue_sched_processed_out(g->q, j->qid, outs, n);
	xfree(outs);
}

/* ------------------------------------------------------------ the delivered content */

/* Edit thread: the message read from its file with its edits applied. */
static void content_work(void *arg)
{
	struct scan_job *j = arg;
	size_t len = (size_t)j->body_len;
	char *raw = xmalloc(len + 1);
	if (len && fs_pread_all(j->fd, raw, len, (off_t)j->off) < 0)
		j->read_err = errno ? errno : EIO;
	else
		mail_edits_apply(&j->out.edits, raw, len, &j->content);
	xfree(raw);
}

static void content_done(void *arg)
{
	struct scan_job *j = arg;
	if (j->read_err) {
		log_err("queue=%s event=scan_read_error error=\"%s\"", j->qid, strerror(j->read_err));
		queue_sched_append_scan_attempt(j->g->q, j->qid, -1);
		queue_sched_processed(j->g->q, j->qid, QUEUE_RETRY);
	} else {
		finish_after_queue(j);
	}
	job_free(j);
}

/* After-queue with a verdict: the queue transition, once the changed
 * content is built: on the loop for a message up to EDIT_INLINE_MAX (one
 * read of a file the scanner has just read: in the page cache), else by
 * an edit thread. */
static void deliver_outcome(struct scan_job *j)
{
	if (!j->out.changed) {
		finish_after_queue(j);
		job_free(j);
		return;
	}
	if (j->body_len <= EDIT_INLINE_MAX) {
		content_work(j);
		content_done(j);
		return;
	}
	ev_pool_submit(j->g->edit_pool, j, content_work, content_done);
}

/* ------------------------------------------------------------ failures */

/* No verdict, after the queue. A scanner daemon down or slow may pass the
 * message unscanned (scan_on_failure); a scanner process lost on this
 * message never does: that is how a message that kills scanners would
 * slip through. */
static void failed_after_queue(struct scan_job *j)
{
	struct gw *g = j->g;
	if (!j->rep.tempfail_timeout)
		queue_sched_append_scan_attempt(g->q, j->qid, -1); /* not the message's fault */
	if (j->status == SCAN_PROC_TEMPFAIL && strcmp(g->conf->scan_on_failure, "deliver-unscanned") == 0) {
		log_warn("queue=%s event=scan_failed error=%s action=deliver-unscanned", j->qid, LOG_Q(j->rep.error));
		/* a report saying so, and its headers at the top (nothing of the message is parsed here) */
		scan_report_fini(&j->rep);
		scan_report_init(&j->rep);
		j->rep.spam_skipped = xstrdup("not scanned: scanner failure");
		scan_report_classify(&j->rep, 1e9, 0);
		scan_outcome_fini(&j->out);
		scan_outcome_init(&j->out);
		struct buf h;
		buf_init(&h);
		scan_result_headers(&j->set->policy, &j->rep, &h);
		mail_edits_add(&j->out.edits, 0, 0, h.data ? h.data : "", h.len);
		buf_fini(&h);
		j->out.flags = SCAN_ACT_DELIVER;
		j->out.changed = true;
		deliver_outcome(j);
		return;
	}
	log_warn("queue=%s event=scan_deferred error=%s timeout=%s retry_in=%ds", j->qid, LOG_Q(j->rep.error),
		 j->rep.tempfail_timeout ? "yes" : "no", g->conf->minimal_backoff_time);
	queue_sched_processed(g->q, j->qid, QUEUE_RETRY);
	job_free(j);
}

/* ------------------------------------------------------------ before-queue */

static void refuse(struct scan_job *j, struct mail_reply *r)
{
	struct gw *g = j->g;
	queue_store_draft_abort(g->qs, &j->draft);
	g->rejected++;
	smtp_server_resume(g->smtpd, j->session, r);
}

static void finish_before_queue(struct scan_job *j)
{
	struct gw *g = j->g;
	struct mail_reply r;
	if (j->status != SCAN_PROC_OK) {
		log_warn("session=%llu queue=%s event=scan_failed stage=before-queue error=%s reply=451",
			 (unsigned long long)j->session, j->qid, LOG_Q(j->rep.error));
		mail_reply_set(&r, 451, "4.7.1", "Try again later: the message could not be scanned");
		refuse(j, &r);
		return;
	}
	log_verdict(j);
	const struct scan_report *rep = &j->rep;
	if (j->out.flags & SCAN_ACT_REJECT) {
		if (rep->cat == SCAN_VIRUS || rep->cat == SCAN_UNSCANNABLE)
			mail_reply_set(&r, 554, "5.7.1", "Message refused: %s %.200s", scan_cat_name(rep->cat),
				       rep->nvirus ? rep->virus[0].name : "");
		else if (rep->cat == SCAN_BLOCKLISTED)
			mail_reply_set(&r, 554, "5.7.1", "Message refused: client blocklisted (%.200s)",
				       rep->ndnsbl ? rep->dnsbl[0].zone : "");
		else
			mail_reply_set(&r, 554, "5.7.1", "Message refused as %s (score %.1f)", scan_cat_name(rep->cat),
				       rep->score);
		log_info("session=%llu queue=%s event=rejected_content verdict=%s", (unsigned long long)j->session, j->qid,
			 scan_cat_name(rep->cat));
		refuse(j, &r);
		return;
	}
	/* committed with its report: processing applies the actions (an APPLY job) */
	struct mail_env *env = j->own_env;
	j->own_env = NULL;
	set_scan(env, &j->rep);
	if (j->out.flags & SCAN_ACT_QUARANTINE)
		set_bayes(env, j); /* for the quarantined copy made when the message is processed */
	queue_commit_submit(g->qc, &j->draft, env, QDIR_INPUT, gw_accept_committed, g, j->session);
}

/* ------------------------------------------------------------ dispatch */

/* The scanner's answer (loop thread). */
static void on_scanned(void *arg, struct scan_proc_result *res)
{
	struct scan_job *j = arg;
	j->status = res->status;
	scan_report_fini(&j->rep);
	j->rep = res->report; /* taken over: the result is emptied */
	scan_report_init(&res->report);
	scan_outcome_init(&j->out);
	j->out.flags = res->flags;
	j->out.changed = res->changed;
	j->out.cleaned = res->cleaned;
	mail_edits_move(&j->out.edits, &res->edits);
	if (res->flags & SCAN_ACT_REDIRECT) {
		j->out.redirect = j->set->policy.act[j->rep.cat].redirect;
		if (!j->out.redirect) { /* a reload changed the policy meanwhile */
			j->out.flags &= ~(unsigned)SCAN_ACT_REDIRECT;
			j->out.flags |= SCAN_ACT_DELIVER;
		}
	}
	if (j->status == SCAN_PROC_OK && !j->prescanned && j->rep.autolearn && j->g->conf->bayes_auto_learn)
		gw_learn_submit(j->g, &j->rep.learn, j->rep.autolearn > 0, GW_LEARN_AUTO, j->qid);
	if (j->status != SCAN_PROC_OK && !j->prescanned) {
		struct gw_event ev = { .type = GW_EV_SCAN_FAILED, .qid = j->qid, .session = j->session };
		ev.u.scan_failed.report = &j->rep;
		ev.u.scan_failed.before_queue = j->before_queue;
		gw_emit(j->g, &ev);
	}
	if (j->before_queue) {
		finish_before_queue(j);
		job_free(j);
	} else if (j->status != SCAN_PROC_OK) {
		failed_after_queue(j);
	} else {
		log_verdict(j);
		deliver_outcome(j);
	}
}

static void submit(struct scan_job *j)
{
	struct gw *g = j->g;
	const struct mail_env *env = job_env(j);
	if (!j->before_queue) {
		j->fd = queue_sched_open_body(g->q, j->qid, &j->off, &j->body_len);
		if (j->fd < 0) {
			log_err("queue=%s event=scan_read_error error=\"%s\"", j->qid, strerror(errno));
			queue_sched_append_scan_attempt(g->q, j->qid, -1);
			queue_sched_processed(g->q, j->qid, QUEUE_RETRY);
			job_free(j);
			return;
		}
	}
	const char **rcpt = xcalloc(env->nrcpt ? env->nrcpt : 1, sizeof *rcpt);
	for (size_t i = 0; i < env->nrcpt; i++)
		rcpt[i] = env->rcpt[i].addr;
	struct scan_proc_job job = {
		.kind = j->prescanned ? SCAN_PROC_APPLY : SCAN_PROC_SCAN,
		.fd = j->fd,
		.off = j->off,
		.len = j->body_len,
		.qid = j->qid,
		.client_ip = env->client_addr,
		.helo = env->helo,
		.sender = env->sender,
		.rcpt = rcpt,
		.nrcpt = env->nrcpt,
		.report = &j->rep,
	};
	scan_proc_submit(g->sp, &job, on_scanned, j); /* encoded now: env may go after the answer only */
	xfree(rcpt);
}

static void on_dnsbl(void *arg, const struct scan_dnsbl_result *res)
{
	struct scan_job *j = arg;
	j->rep.ms_dnsbl = (double)(clock_mono_us() - j->t_dnsbl) / 1000.0;
	scan_report_set_dnsbl(&j->rep, res);
	submit(j);
}

/* DNSBL first (on the loop), unless the client is ours or local. */
static void start(struct scan_job *j)
{
	struct gw *g = j->g;
	const struct mail_env *env = job_env(j);
	struct net_addr a;
	if (!j->prescanned && g->dnsbl && env->client_addr[0] && net_addr_parse(env->client_addr, 0, &a) == 0 &&
	    gw_accept_dnsbl_wanted(g, &a)) {
		j->t_dnsbl = clock_mono_us();
		scan_dnsbl_lookup(g->dnsbl, &a, on_dnsbl, j);
		return;
	}
	submit(j);
}

static struct scan_job *job_new(struct gw *g, const char *qid)
{
	struct scan_job *j = xcalloc(1, sizeof *j);
	j->g = g;
	j->set = scanset_ref(g->scanset);
	j->fd = -1;
	snprintf(j->qid, sizeof j->qid, "%s", qid);
	scan_report_init(&j->rep);
	buf_init(&j->content);
	scan_outcome_init(&j->out);
	return j;
}

void gw_scan_process(void *ctx, const char *qid, const struct mail_env *env)
{
	struct gw *g = ctx;
	if (!g->scanset->enabled || (env->flags & (MAIL_ENV_F_RELEASED | MAIL_ENV_F_REQUEUED))) {
		gw_route_process(g, qid, env);
		return;
	}
	struct scan_job *j = job_new(g, qid);
	j->env = env;
	if (env->scan) {
		/* scanned before the 250: apply the recorded verdict */
		if (scan_report_decode(env->scan, &j->rep) < 0) {
			log_warn("queue=%s event=scan_record_damaged action=rescan", qid);
			scan_report_fini(&j->rep);
			scan_report_init(&j->rep);
		} else {
			j->prescanned = true;
		}
	}
	if (!j->prescanned) {
		if (env->scan_attempts >= g->conf->scan_max_attempts) {
			log_err("queue=%s event=poison_hold attempts=%d reason=\"scans crashed or timed out %d times\"", qid,
				env->scan_attempts, env->scan_attempts);
			job_free(j);
			queue_sched_processed(g->q, qid, QUEUE_HOLD);
			return;
		}
		if (queue_sched_append_scan_attempt(g->q, qid, +1) < 0)
			log_warn("queue=%s event=scan_attempt_record_error error=\"%s\"", qid, strerror(errno));
	}
	start(j);
}

bool gw_scan_before_queue(struct gw *g, uint64_t session, struct queue_draft *d, struct mail_env *env)
{
	if (!g->scanset->enabled || !g->before_queue)
		return false;
	struct scan_job *j = job_new(g, d->qid);
	j->before_queue = true;
	j->session = session;
	j->draft = *d;
	j->fd = d->fd;
	j->off = QUEUE_BODY_OFF;
	j->body_len = d->body_len;
	j->own_env = env;
	start(j);
	return true;
}
